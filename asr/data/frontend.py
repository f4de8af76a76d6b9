"""Which kind of features a data dir or a model uses: fbank for audio, pixel columns for images.

The kind follows from the data dir's source list (``wav.scp`` or
``images.scp``); its config is stored beside the features as
``<kind>.yaml`` and inside model files, so every stage after feature
extraction can tell the two apart without being told.
"""

from __future__ import annotations

from functools import lru_cache, partial
from pathlib import Path
from typing import Union

import numpy as np
import torch

from asr.config import from_dict, load_config
from asr.data.audio import AudioError, cut_segment, read_audio, speed_perturb
from asr.data.datadir import Segment
from asr.data.features import FbankConfig, cmvn_from_stats, fbank
from asr.data.images import ImageConfig, image_features, read_image

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


def normalization(config: FeatureConfig, cmvn: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, 1/std) applied to features before the model.

    Fbank gets global CMVN.  Image features are already in [0, 1] with paper
    at 0, which zero padding and the image distortions rely on: identity.
    """
    if isinstance(config, ImageConfig):
        return torch.zeros(config.dim), torch.ones(config.dim)
    return cmvn_from_stats(cmvn)


# Segments of one recording come one after another (utterance ids start with the
# recording's, as in Kaldi), so keeping the last recording reads each once.
# ``source`` is always a wav.scp value here, so a Kaldi pipe (``cmd |``) is allowed.
_read_recording = lru_cache(maxsize=1)(partial(read_audio, allow_pipe=True))


def utterance_samples(source: str, sample_rate: int, segment: Segment | None = None) -> np.ndarray:
    """The samples of one ``wav.scp`` entry, or of a segment of it, at ``sample_rate``.

    The feature stage and training's waveform augmentation both read
    utterances through here, so they see the same audio.
    """
    if segment is None:
        return read_audio(source, sample_rate, allow_pipe=True)
    recording = _read_recording(source, sample_rate)
    try:
        return cut_segment(recording, sample_rate, segment.start, segment.end)
    except AudioError as error:
        raise AudioError(f"{source}: {error}") from None


def compute_features(source: str, config: FeatureConfig, speed: float = 1.0, segment: Segment | None = None
                     ) -> torch.Tensor:
    """(T, D) features of one ``images.scp`` entry, or of one ``wav.scp`` entry or a segment of it, at a speed."""
    if isinstance(config, ImageConfig):
        return image_features(read_image(source), config)
    return fbank(speed_perturb(utterance_samples(source, config.sample_rate, segment), speed), config)
