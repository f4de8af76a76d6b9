"""The trained model as one self-contained file, and loading it back.

A model file holds everything needed to go from audio to text: weights,
model config, token list, feature config and CMVN statistics, so that
``asr transcribe --model FILE a.wav`` needs nothing else.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from asr.batching import bucket_batches
from asr.config import from_dict, to_dict
from asr.device import resolve_device
from asr.frontend import FeatureConfig, feature_config_from_dict, kind_of, normalization
from asr.images import ImageConfig
from asr.model import AcousticModel, ModelConfig
from asr.precision import amp_dtype, autocast
from asr.text import Tokenizer

VERSION = 1  # of the model file format; a newer asr may write newer ones
FORMAT = f"asr-model-{VERSION}"


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save through a temp file and rename: a kill never leaves half a file.

    A save that fails (a full disk) removes its temp file, so that failed
    saves do not pile up hidden files as large as the checkpoint, and is
    reported as one line naming the file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException as error:
        tmp.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.strerror:
            raise OSError(f"{path}: cannot save ({error.strerror})") from error
        if isinstance(error, (OSError, RuntimeError)):  # torch reports a failed write as a RuntimeError
            raise OSError(f"{path}: cannot save ({str(error).splitlines()[0]})") from error
        raise


@dataclass
class RecognizerSpec:
    """What a model file describes apart from its weights."""

    model: ModelConfig
    tokens: tuple[str, ...]
    features: FeatureConfig  # FbankConfig for speech, ImageConfig for handwriting
    cmvn: torch.Tensor  # Kaldi CMVN stats, 2 x (D+1); unused by image models
    info: dict[str, Any] = field(default_factory=dict)  # training provenance, free form
    # Decoding the file carries (see `asr export`): {"config": DecodeConfig fields,
    # "lexicon": text or None, "lm": ARPA text or None}; None means greedy.
    decoding: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": to_dict(self.model),
            "tokens": list(self.tokens),
            "feature_kind": kind_of(self.features),
            "features": to_dict(self.features),
            "cmvn": self.cmvn,
            "info": self.info,
            "decoding": self.decoding,
        }

    @classmethod
    def from_dict(cls, values: Any, where: str) -> "RecognizerSpec":
        """The spec a model file (or training checkpoint) holds, with one-line errors naming ``where``."""
        found = values.get("format") if isinstance(values, dict) else None
        if found != FORMAT:
            newer = re.fullmatch(r"asr-model-(\d+)", str(found))
            if newer and int(newer[1]) > VERSION:
                raise ValueError(f"{where}: made by a newer version of asr "
                                 f"(format {found}; this version reads {FORMAT})")
            raise ValueError(f"{where}: not an asr model file (format {found!r}, expected {FORMAT!r})")
        model = from_dict(ModelConfig, _part(values, "model", where), f"{where}:model")
        tokens = tuple(_part(values, "tokens", where))
        if len(tokens) != model.num_tokens:
            raise ValueError(f"{where}: {len(tokens)} tokens, but the model has {model.num_tokens} outputs")
        return cls(
            model=model,
            tokens=tokens,
            # Files from before image support hold fbank features without a kind.
            features=feature_config_from_dict(values.get("feature_kind", "fbank"), _part(values, "features", where),
                                              f"{where}:features"),
            cmvn=_part(values, "cmvn", where),
            info=values.get("info", {}),
            decoding=values.get("decoding"),
        )


def _part(values: dict[str, Any], key: str, where: str) -> Any:
    """``values[key]``, or a one-line error: a file cut down by hand or by other software must not end in a KeyError."""
    if key not in values:
        raise ValueError(f"{where}: no '{key}' in the file (damaged, or not written by asr)")
    return values[key]


def check_weights(config: ModelConfig, weights: Any, where: str) -> None:
    """Fail in one line, naming ``where``, unless ``weights`` are exactly the tensors a model of ``config`` has.

    torch's own complaint is a multi-line RuntimeError about a state_dict;
    this one names the weights that are missing, unexpected or misshapen.
    The model is built on the meta device: shapes only, no memory, no time.
    """
    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in AcousticModel(config).state_dict().items()}
    if not isinstance(weights, dict) or not all(isinstance(t, torch.Tensor) for t in weights.values()):
        raise ValueError(f"{where}: the weights are not a mapping of names to tensors")
    problems = {
        "missing": [name for name in expected if name not in weights],
        "unexpected": [name for name in weights if name not in expected],
        "misshapen": [f"{name} {tuple(weights[name].shape)} (the model config wants {shape})"
                      for name, shape in expected.items() if name in weights and tuple(weights[name].shape) != shape],
    }
    found = [f"{kind} {', '.join(names[:3])}{f' and {len(names) - 3} more' if len(names) > 3 else ''}"
             for kind, names in problems.items() if names]
    if found:
        raise ValueError(f"{where}: weights do not fit the model config: {'; '.join(found)}")


def save_model(path: str | Path, spec: RecognizerSpec, state_dict: dict[str, torch.Tensor]) -> None:
    atomic_save({**spec.to_dict(), "state_dict": state_dict}, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """torch.load with a one-line error for a missing, truncated or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a corrupt file, some with pages of advice
        reason = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        raise ValueError(f"{path}: unreadable model file ({reason})") from None


def read_model(path: str | Path) -> tuple[RecognizerSpec, dict[str, torch.Tensor]]:
    """A model file's spec and weights, checked against each other, with one-line errors naming the file."""
    values = read_checkpoint(path)
    spec = RecognizerSpec.from_dict(values, str(path))
    weights = _part(values, "state_dict", str(path))
    check_weights(spec.model, weights, str(path))
    return spec, weights


@dataclass
class Recognizer:
    """A loaded model with everything needed to turn features into text."""

    spec: RecognizerSpec
    model: AcousticModel
    tokenizer: Tokenizer
    mean: torch.Tensor
    inv_std: torch.Tensor
    dtype: torch.dtype | None = None  # autocast dtype of the forward pass; None: float32
    device: torch.device = torch.device("cpu")  # where the model's weights are and the forward pass runs

    def require_time_axis(self, where: str) -> None:
        """Fail early, naming ``where`` (the model file), when asked for times from an image model."""
        if isinstance(self.spec.features, ImageConfig):
            raise ValueError(f"{where}: a handwriting (image) model has no time axis: "
                             "timings (CTM, SRT, alignments) are for speech models")

    @property
    def frame_shift(self) -> float:
        """Seconds per output frame."""
        self.require_time_axis("model")
        return self.spec.features.frame_shift_ms / 1000 * self.spec.model.subsampling

    @torch.no_grad()
    def log_probs(self, feats: Sequence[torch.Tensor], max_frames: int = 20000) -> list[torch.Tensor]:
        """CTC log-probs (T', V) of each raw feature matrix, in batches of similar length.

        An input shorter than the model's subsampling (a sliver of an image)
        is padded with zeros (after normalization: the mean, or paper) to one
        output frame instead of failing the whole batch.
        """
        least = self.spec.model.subsampling
        normalized = [torch.nn.functional.pad((f - self.mean) * self.inv_std, (0, 0, 0, max(0, least - len(f))))
                      for f in feats]
        results: list[torch.Tensor] = [torch.empty(0)] * len(feats)
        for indices in bucket_batches([f.shape[0] for f in normalized], max_frames, 64, shuffle=False):
            batch = torch.nn.utils.rnn.pad_sequence([normalized[i] for i in indices], batch_first=True)
            lengths = torch.tensor([normalized[i].shape[0] for i in indices])
            with autocast(self.device, self.dtype):
                out, out_lengths = self.model(batch.to(self.device), lengths)
            # Renormalized in float32: bfloat16 log-probs sum to 1 only within about 1%.  Decoders run on the CPU.
            out = out.float().log_softmax(dim=-1).cpu()
            for row, i in enumerate(indices):
                results[i] = out[row, : out_lengths[row]]
        return results


def load_recognizer(path: str | Path, device: str | torch.device = "auto") -> Recognizer:
    """Load a model file for decoding on ``device`` (auto: a CUDA GPU when torch sees one, else the CPU).

    The forward pass runs in the precision the model was trained in where
    the device has it natively (:func:`asr.precision.amp_dtype`), else in float32.
    """
    spec, weights = read_model(path)
    target = resolve_device(device)
    model = AcousticModel(spec.model)
    # Exported files may store float16 weights to halve their size; compute in float32.
    model.load_state_dict({name: tensor.float() for name, tensor in weights.items()})
    model.eval().to(target)
    mean, inv_std = normalization(spec.features, spec.cmvn)
    trained_in = spec.info.get("config", {}).get("amp", "none")
    return Recognizer(spec, model, Tokenizer(spec.tokens), mean, inv_std, amp_dtype(trained_in, target), target)
