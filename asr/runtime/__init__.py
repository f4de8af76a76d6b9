"""Deployment without PyTorch: exported ONNX models, transcribing with onnxruntime.

``asr export --onnx`` writes a model file as ``NAME.onnx`` with
``NAME.json`` (tokens, features, CMVN, carried decoding) and the carried
lexicon and LM beside it (:mod:`.bundle`; the graph: :mod:`.graph`;
exporting: :mod:`.export`, the one module here that needs torch).
:func:`load_onnx_model` loads one as an :class:`OnnxRecognizer`, which
transcribes as :class:`asr.inference.Recognizer` does, with numpy,
kaldi-native-fbank, onnxruntime and flashlight-text only:
``import asr.runtime`` never imports torch.
"""

from __future__ import annotations

from typing import Any

from asr.runtime.bundle import OnnxBundle, read_bundle
from asr.runtime.recognizer import OPTIMIZATIONS, OnnxRecognizer, load_onnx_model

__all__ = ["OPTIMIZATIONS", "OnnxBundle", "OnnxRecognizer", "export_onnx", "load_onnx_model", "read_bundle"]


def __getattr__(name: str) -> Any:
    # Looked up on first use: exporting needs torch and onnx, the runtime neither.
    if name == "export_onnx":
        from asr.runtime.export import export_onnx

        return export_onnx
    raise AttributeError(f"module 'asr.runtime' has no attribute {name!r}")
