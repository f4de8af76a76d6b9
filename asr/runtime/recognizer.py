"""An exported model loaded with onnxruntime, ready to transcribe, without torch.

:class:`OnnxRecognizer` is a :class:`asr.inference.transcriber.Transcriber`,
as the torch :class:`asr.inference.Recognizer` is: the same inputs, pieces,
decoding (greedy, or flashlight's beam search with the carried lexicon and
LM), word timings and transcripts.  Only the features (kaldi-native-fbank,
or the numpy line-image frames) and the network (onnxruntime) differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import onnxruntime as ort

from asr.data.kaldi_fbank import native_fbank
from asr.data.kinds import normalization_arrays
from asr.data.line_images import image_frames
from asr.decode.search import DecodeConfig
from asr.inference.transcriber import Transcriber
from asr.runtime.bundle import INPUTS, OUTPUTS, OnnxBundle, read_bundle

# How long recordings are cut by default: Silero VAD runs on torch, so the runtime cuts at quiet pauses.
RUNTIME_VAD = "energy"
# onnxruntime's graph optimization levels, by the names `load_onnx_model` takes.
OPTIMIZATIONS = {
    "none": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


class OnnxRecognizer(Transcriber):
    """An exported model (:class:`asr.runtime.bundle.OnnxBundle`) on onnxruntime's CPU provider.

    ``threads``: onnxruntime's intra-op threads (0: its default, one per
    core); ``optimization``: its graph optimization level (see
    :data:`OPTIMIZATIONS`).  The other settings are :class:`Transcriber`'s.
    """

    def __init__(self, bundle: OnnxBundle, config: DecodeConfig | None = None, max_segment: float = 20.0,
                 word_timings: bool = True, vad: str = RUNTIME_VAD, threads: int = 0,
                 optimization: str = "all") -> None:
        super().__init__(bundle.tokens, bundle.features, bundle.subsampling, config, max_segment, word_timings, vad)
        if optimization not in OPTIMIZATIONS:
            raise ValueError(f"optimization must be one of {', '.join(OPTIMIZATIONS)}, got {optimization!r}")
        if threads < 0:
            raise ValueError(f"threads must be 0 (onnxruntime's default) or more, got {threads}")
        self.bundle = bundle
        self.mean, self.inv_std = normalization_arrays(bundle.features, bundle.cmvn)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1  # one graph, run op after op: more threads there only contend
        options.graph_optimization_level = OPTIMIZATIONS[optimization]
        try:
            self.session = ort.InferenceSession(str(bundle.onnx_path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types, with pages for some
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ValueError(f"{bundle.onnx_path}: onnxruntime cannot load it ({reason})") from None

    def features_of(self, source: np.ndarray) -> np.ndarray:
        """(T, D) float32 features: kaldi-native-fbank of samples, or the frames of a line image's grey levels."""
        if self.reads_images:
            return image_frames(source, self.features)
        return native_fbank(source, self.features)

    def carried_config(self) -> DecodeConfig:
        return self.bundle.decoding or DecodeConfig()

    def forward(self, feats: Sequence[np.ndarray], lengths: Sequence[int]) -> list[np.ndarray]:
        batch = np.zeros((len(feats), max(lengths), feats[0].shape[1]), dtype=np.float32)
        for row, f in enumerate(feats):
            batch[row, : len(f)] = (np.asarray(f, dtype=np.float32) - self.mean) * self.inv_std
        out, out_lengths = self.session.run(list(OUTPUTS), dict(zip(INPUTS, (batch, np.array(lengths, np.int64)))))
        return [out[row, :length] for row, length in enumerate(out_lengths)]


def load_onnx_model(path: str | Path, config: DecodeConfig | None = None, max_segment: float = 20.0,
                    word_timings: bool = True, vad: str = RUNTIME_VAD, threads: int = 0,
                    optimization: str = "all") -> OnnxRecognizer:
    """Load an exported model (``NAME.onnx``, with ``NAME.json`` beside it) once for many transcriptions.

    ``config``: the decoding (default: what the model carries, else greedy);
    ``threads``: onnxruntime's CPU threads (0: one per core).
    """
    return OnnxRecognizer(read_bundle(path), config, max_segment, word_timings, vad, threads, optimization)
