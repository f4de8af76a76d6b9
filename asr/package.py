"""The trained model as one self-contained file, and loading it back.

A model file holds everything needed to go from audio to text: weights,
model config, token list, feature config and CMVN statistics, so that
``asr transcribe --model FILE a.wav`` needs nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from asr.batching import bucket_batches
from asr.config import from_dict, to_dict
from asr.frontend import FeatureConfig, feature_config_from_dict, kind_of, normalization
from asr.images import ImageConfig
from asr.model import AcousticModel, ModelConfig
from asr.precision import amp_dtype, autocast
from asr.text import Tokenizer

FORMAT = "asr-model-1"


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save through a temp file and rename: a kill never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


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
    def from_dict(cls, values: dict[str, Any], where: str) -> "RecognizerSpec":
        if values.get("format") != FORMAT:
            raise ValueError(f"{where}: not an asr model file (format {values.get('format')!r}, expected {FORMAT!r})")
        return cls(
            model=from_dict(ModelConfig, values["model"], f"{where}:model"),
            tokens=tuple(values["tokens"]),
            # Files from before image support hold fbank features without a kind.
            features=feature_config_from_dict(values.get("feature_kind", "fbank"), values["features"],
                                              f"{where}:features"),
            cmvn=values["cmvn"],
            info=values.get("info", {}),
            decoding=values.get("decoding"),
        )


def save_model(path: str | Path, spec: RecognizerSpec, state_dict: dict[str, torch.Tensor]) -> None:
    atomic_save({**spec.to_dict(), "state_dict": state_dict}, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """torch.load with a one-line error for a missing, truncated or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a corrupt file
        raise ValueError(f"{path}: unreadable model file ({type(error).__name__}: {error})") from None


@dataclass
class Recognizer:
    """A loaded model with everything needed to turn features into text."""

    spec: RecognizerSpec
    model: AcousticModel
    tokenizer: Tokenizer
    mean: torch.Tensor
    inv_std: torch.Tensor
    dtype: torch.dtype | None = None  # autocast dtype of the forward pass; None: float32

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
            batch = [normalized[i] for i in indices]
            lengths = torch.tensor([f.shape[0] for f in batch])
            with autocast(torch.device("cpu"), self.dtype):
                out, out_lengths = self.model(torch.nn.utils.rnn.pad_sequence(batch, batch_first=True), lengths)
            for row, i in enumerate(indices):
                # Renormalized in float32: bfloat16 log-probs sum to 1 only within about 1%.
                results[i] = out[row, : out_lengths[row]].float().log_softmax(dim=-1)
        return results


def load_recognizer(path: str | Path) -> Recognizer:
    """Load a model file for decoding on CPU, in the precision it was trained in where the CPU has it natively."""
    values = read_checkpoint(path)
    spec = RecognizerSpec.from_dict(values, str(path))
    model = AcousticModel(spec.model)
    # Exported files may store float16 weights to halve their size; compute in float32.
    model.load_state_dict({name: tensor.float() for name, tensor in values["state_dict"].items()})
    model.eval()
    mean, inv_std = normalization(spec.features, spec.cmvn)
    trained_in = spec.info.get("config", {}).get("amp", "none")
    return Recognizer(spec, model, Tokenizer(spec.tokens), mean, inv_std, amp_dtype(trained_in, torch.device("cpu")))
