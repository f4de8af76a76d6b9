"""Which kind of features a data dir or a model uses: fbank for audio, pixel columns for images.

The kind follows from the data dir's source list (``wav.scp`` or
``images.scp``); its config is stored beside the features as
``<kind>.yaml`` and inside model files, so every stage after feature
extraction can tell the two apart without being told.  Numpy only: the
torch-free runtime (:mod:`asr.runtime`) reads kinds and normalizes features
with the same code as the torch stages (:mod:`asr.data.frontend`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np

from asr.config import from_dict, load_config
from asr.data.kaldi_fbank import FbankConfig, cmvn_arrays
from asr.data.line_images import ImageConfig

FeatureConfig = Union[FbankConfig, ImageConfig]
KINDS: dict[str, type] = {"fbank": FbankConfig, "image": ImageConfig}
SOURCE_KIND = {"wav.scp": "fbank", "images.scp": "image"}


def kind_of(config: FeatureConfig) -> str:
    return next(kind for kind, cls in KINDS.items() if isinstance(config, cls))


def feature_config_from_dict(kind: str, values: dict, where: str) -> FeatureConfig:
    if kind not in KINDS:
        raise ValueError(f"{where}: unknown feature kind {kind!r} (known: {', '.join(KINDS)})")
    return from_dict(KINDS[kind], values, where)


def load_feature_config(data_dir: str | Path) -> FeatureConfig:
    """The config the features of ``data_dir`` were computed with (fbank.yaml or image.yaml)."""
    found = [kind for kind in KINDS if (Path(data_dir) / f"{kind}.yaml").exists()]
    if len(found) != 1:
        raise FileNotFoundError(f"{data_dir}: expected one of {', '.join(k + '.yaml' for k in KINDS)} "
                                f"(written by `asr features`), found {len(found)}")
    return load_config(KINDS[found[0]], Path(data_dir) / f"{found[0]}.yaml")


def normalization_arrays(config: FeatureConfig, cmvn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float32 (mean, 1/std) applied to features before the model.

    Fbank gets global CMVN.  Image features are already in [0, 1] with paper
    at 0, which zero padding and the image distortions rely on: identity.
    """
    if isinstance(config, ImageConfig):
        return np.zeros(config.dim, dtype=np.float32), np.ones(config.dim, dtype=np.float32)
    return cmvn_arrays(cmvn)
