"""An exported model on disk: ``NAME.onnx`` and what it needs beside it; :func:`read_bundle` and
:func:`write_bundle` alone know the layout.

``asr export --onnx`` writes, in one folder::

    NAME.onnx          the acoustic model (asr.runtime.graph): inputs INPUTS,
                       outputs OUTPUTS (below)
    NAME.json          format "asr-onnx-1", tokens, feature kind and settings,
                       Kaldi CMVN stats (2 x (D+1)), subsampling, the carried
                       decoding (null: greedy; else {"config": DecodeConfig
                       fields, "lexicon": true if NAME.lexicon goes with it,
                       "lm": true if NAME.arpa does}), info
    NAME.lexicon       the carried lexicon, if any
    NAME.arpa          the carried LM (ARPA text), if any

The lexicon and LM stay files rather than JSON strings: flashlight reads
them from disk, and an LM can be large.  They are named after the ONNX file,
as the JSON is, so that the four files can be renamed together.  JSON holds ``unk_score``'s
``-inf`` as ``-Infinity``, which Python's json module reads and writes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from asr.config import from_dict, to_dict
from asr.data.datadir import write_text_atomically
from asr.data.kinds import FeatureConfig, feature_config_from_dict, kind_of
from asr.decode.search import DecodeConfig

VERSION = 1
FORMAT = f"asr-onnx-{VERSION}"
# The ONNX graph's interface: normalized features (B, T, D) float32 and their lengths (B,) int64 in;
# log-probs (B, T', V) float32 and their lengths (B,) int64 out.
INPUTS = ("features", "lengths")
OUTPUTS = ("log_probs", "output_lengths")
# The files beside NAME.onnx, by part: NAME + suffix.
SUFFIXES = {"json": ".json", "lexicon": ".lexicon", "lm": ".arpa"}


@dataclass
class OnnxBundle:
    """An exported model: the ONNX file and what reading it needs (see the module's docstring)."""

    onnx_path: Path
    tokens: tuple[str, ...]
    features: FeatureConfig
    cmvn: np.ndarray  # Kaldi CMVN stats, 2 x (D+1) float64; unused by image models
    subsampling: int  # input frames per output frame
    decoding: DecodeConfig | None = None  # with the paths of the lexicon and LM beside the ONNX file; None: greedy
    info: dict[str, Any] = field(default_factory=dict)


def beside(onnx_path: str | Path, part: str) -> Path:
    """The file of ``part`` (json, lexicon, lm) that goes with ``onnx_path``."""
    return Path(onnx_path).with_suffix(SUFFIXES[part])


def check_replaceable(onnx_path: str | Path) -> None:
    """Refuse (one line) to write an export at ``onnx_path`` where that would replace or delete files that an
    earlier ``asr export --onnx`` did not write: NAME.onnx, .json, .lexicon or .arpa of the user's own.

    Files of an earlier export are recognized by their JSON record (this format), and only they are replaced.
    """
    paths = [Path(onnx_path), *(beside(onnx_path, part) for part in SUFFIXES)]
    present = [path for path in paths if path.exists()]
    if not present:
        return
    json_path = beside(onnx_path, "json")
    try:
        ours = json.loads(json_path.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        ours = False
    if not ours:
        raise ValueError(f"{present[0]}: exists and is not part of an earlier 'asr export --onnx' (no {json_path.name} "
                         "of ours beside it): choose another --out, or move the file")


def write_bundle(onnx_path: str | Path, tokens: Sequence[str], features: FeatureConfig, cmvn: np.ndarray,
                 subsampling: int, decoding: DecodeConfig | None = None, lexicon: str | None = None,
                 lm: str | None = None, info: dict[str, Any] | None = None) -> list[Path]:
    """Write the files beside ``onnx_path`` (which the caller writes); returns their paths.

    ``decoding`` is the carried search's settings, ``lexicon`` and ``lm``
    its lexicon and ARPA texts (None: none); stale lexicon or LM files of an
    earlier export under the same name are removed.
    """
    texts = {"lexicon": lexicon, "lm": lm}
    written = []
    for part, text in texts.items():
        path = beside(onnx_path, part)
        if text:
            write_text_atomically(path, text)
            written.append(path)
        else:
            path.unlink(missing_ok=True)
    record = {
        "format": FORMAT,
        "tokens": list(tokens),
        "feature_kind": kind_of(features),
        "features": to_dict(features),
        "cmvn": np.asarray(cmvn, dtype=np.float64).tolist(),
        "subsampling": subsampling,
        "decoding": None if decoding is None else {"config": to_dict(replace(decoding, lexicon=None, lm=None)),
                                                   **{part: bool(text) for part, text in texts.items()}},
        "info": info or {},
    }
    json_path = beside(onnx_path, "json")
    write_text_atomically(json_path, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    return [json_path, *written]


def read_bundle(onnx_path: str | Path) -> OnnxBundle:
    """The exported model at ``onnx_path`` (a .onnx file), checked; one-line errors name the file at fault."""
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise FileNotFoundError(f"{onnx_path}: no such model file")
    json_path = beside(onnx_path, "json")
    if not json_path.is_file():
        raise FileNotFoundError(f"{onnx_path}: no {json_path.name} beside it (the tokens, features and decoding "
                                "that 'asr export --onnx' writes with it)")
    try:
        record = json.loads(json_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{json_path}: not JSON ({error})") from None
    _check_format(record, json_path)
    where = str(json_path)
    tokens = tuple(_part(record, "tokens", where))
    cmvn = np.asarray(_part(record, "cmvn", where), dtype=np.float64)
    features = feature_config_from_dict(_part(record, "feature_kind", where), _part(record, "features", where),
                                        f"{where}:features")
    if cmvn.ndim != 2 or cmvn.shape != (2, features.dim + 1):
        raise ValueError(f"{where}: cmvn must be 2 x {features.dim + 1} Kaldi stats, got shape {cmvn.shape}")
    subsampling = _part(record, "subsampling", where)
    if not isinstance(subsampling, int) or subsampling < 1:
        raise ValueError(f"{where}: subsampling must be a positive integer, got {subsampling!r}")
    return OnnxBundle(onnx_path, tokens, features, cmvn, subsampling,
                      _decoding(record.get("decoding"), onnx_path), record.get("info") or {})


def _check_format(record: Any, where: Path) -> None:
    found = record.get("format") if isinstance(record, dict) else None
    if found == FORMAT:
        return
    newer = re.fullmatch(r"asr-onnx-(\d+)", str(found))
    if newer and int(newer[1]) > VERSION:
        raise ValueError(f"{where}: made by a newer version of asr (format {found}; this version reads {FORMAT})")
    raise ValueError(f"{where}: not the JSON of an exported asr model (format {found!r}, expected {FORMAT!r})")


def _part(record: dict[str, Any], key: str, where: str) -> Any:
    if key not in record:
        raise ValueError(f"{where}: no '{key}' in the file (damaged, or not written by asr)")
    return record[key]


def _decoding(values: Any, onnx_path: Path) -> DecodeConfig | None:
    """The carried decoding, with the paths of its lexicon and LM beside ``onnx_path`` (checked to exist)."""
    where = beside(onnx_path, "json")
    if values is None:
        return None
    if not isinstance(values, dict) or not isinstance(values.get("config"), dict):
        raise ValueError(f"{where}:decoding: expected a mapping with a 'config' mapping")
    paths = {}
    for part in ("lexicon", "lm"):
        if values.get(part):
            path = beside(onnx_path, part)
            if not path.is_file():
                raise FileNotFoundError(f"{where}: its {part} {path.name} is missing beside it")
            paths[part] = str(path)
    return from_dict(DecodeConfig, {**values["config"], **paths}, f"{where}:decoding")
