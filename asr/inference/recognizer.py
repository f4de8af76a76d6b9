"""The loaded model: a model file's network on a torch device, transcribing as every Transcriber does.

:class:`Recognizer` is the one object a loaded model file becomes (as
ESPnet's Speech2Text): the network, its tokens and feature normalization,
and the decoding settings; :func:`load_model` gives one, loaded once for
many files, which it processes in batches.  Transcription itself (inputs,
pieces of long recordings, search, word times: :class:`.transcriber.Transcriber`)
is shared with the torch-free runtime (:mod:`asr.runtime`); this module
adds torchaudio's fbank and the torch network.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from asr.data.features import fbank
from asr.data.frontend import normalization
from asr.data.images import image_features
from asr.decode.search import DecodeConfig
from asr.device import resolve_device
from asr.inference.catalog import DEFAULT_NAME, MODELS_DIR
from asr.inference.model_file import ModelFile
from asr.inference.segmentation import DEFAULT_VAD
from asr.inference.transcriber import Transcriber
from asr.model import AcousticModel
from asr.precision import amp_dtype, autocast

# Where `pip install` puts the pretrained AN4 model (see recipes/an4/RESULTS.md).
DEFAULT_MODEL = MODELS_DIR / f"{DEFAULT_NAME}.pt"


class Recognizer(Transcriber):
    """A loaded model file, ready to turn audio (or line images) into text: ``asr.load_model().transcribe("a.wav")``.

    It holds the network (:class:`asr.model.AcousticModel`) on ``device``,
    the tokens, the feature normalization and the decoding settings
    (``config``: the decoding the file carries unless :meth:`configure`
    says otherwise), and gives CTC log-probs of features (:meth:`log_probs`)
    as well as whole transcripts (:meth:`transcribe_files`).
    """

    def __init__(self, contents: ModelFile, device: str | torch.device = "auto", config: DecodeConfig | None = None,
                 max_segment: float = 20.0, word_timings: bool = True, vad: str = DEFAULT_VAD) -> None:
        """Load ``contents`` on ``device`` (auto: a CUDA GPU when torch sees one, else the CPU).

        The forward pass runs in the precision the model was trained in where
        the device has it natively (:func:`asr.precision.amp_dtype`), else in float32.
        """
        # First: a bad max_segment or vad costs no model load.
        super().__init__(contents.tokens, contents.features, contents.model.subsampling, config, max_segment,
                         word_timings, vad)
        self.device = resolve_device(device)
        self.network = AcousticModel(contents.model)
        # Exported files may store float16 weights to halve their size; compute in float32.
        self.network.load_state_dict({name: tensor.float() for name, tensor in contents.weights.items()})
        self.network.eval().to(self.device)
        self.spec = replace(contents, weights={})  # what the file describes; the weights are in the network
        self.mean, self.inv_std = normalization(contents.features, contents.cmvn)
        # autocast dtype of the forward pass; None: float32
        self.dtype = amp_dtype(contents.info.get("config", {}).get("amp", "none"), self.device)
        self._assets: tempfile.TemporaryDirectory | None = None  # the carried lexicon and LM, written out

    def features_of(self, source: np.ndarray) -> torch.Tensor:
        """torchaudio's Kaldi fbank of samples, or the frames of a line image's grey levels, as a tensor."""
        return image_features(source, self.features) if self.reads_images else fbank(source, self.features)

    def carried_config(self) -> DecodeConfig:
        """The file's decoding, its lexicon and LM written out to a temporary folder; greedy if it carries none."""
        if self.spec.decoding is None:
            return DecodeConfig()
        self._assets = tempfile.TemporaryDirectory(prefix="asr-model-")
        return self.spec.decoding.unpack(self._assets.name)

    @torch.no_grad()
    def forward(self, feats: Sequence[torch.Tensor], lengths: Sequence[int]) -> list[torch.Tensor]:
        batch = torch.zeros(len(feats), max(lengths), feats[0].shape[1])
        for row, f in enumerate(feats):
            batch[row, : len(f)] = (f - self.mean) * self.inv_std
        with autocast(self.device, self.dtype):
            out, out_lengths = self.network(batch.to(self.device), torch.tensor(lengths))
        # Renormalized in float32: bfloat16 log-probs sum to 1 only within about 1%.  Decoders run on the CPU.
        out = out.float().log_softmax(dim=-1).cpu()
        return [out[row, :length] for row, length in enumerate(out_lengths)]


def load_model(path: str | Path | None = None, config: DecodeConfig | None = None, device: str = "auto",
               max_segment: float = 20.0, word_timings: bool = True, vad: str = DEFAULT_VAD) -> Recognizer:
    """Load a model file (a path, or a bundled model's name: ``an4``; default the AN4 model) for many transcriptions.

    ``config``: the decoding (default: what the file carries, else greedy);
    ``device``: auto (a CUDA GPU when torch sees one, else the CPU), cpu or cuda;
    ``max_segment`` and ``vad``: how long recordings are cut (:func:`.segmentation.segment`).
    """
    contents = ModelFile.read(DEFAULT_MODEL if path is None else path)
    return Recognizer(contents, device, config, max_segment, word_timings, vad)


def load_recognizer(path: str | Path, device: str | torch.device = "auto") -> Recognizer:
    """Load the model file at ``path`` (or a bundled model's name) on ``device``: :func:`load_model` for the
    decoding commands."""
    return Recognizer(ModelFile.read(path), device, vad="energy")  # utterances are never cut
