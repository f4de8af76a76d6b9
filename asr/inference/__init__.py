"""Inference: the model file, the loaded recognizer, and running it on files and data dirs.

:class:`.model_file.ModelFile` is the one reader and writer of a model file;
:class:`.recognizer.Recognizer` is what a loaded file becomes (network,
tokens, normalization, decoding) and transcribes files, cut where long by
:mod:`.segmentation` (a voice activity detector); :mod:`.output` writes
transcripts; :mod:`.datadirs` decodes and aligns data dirs;
:mod:`.tuning` chooses beam-search weights on dev; :mod:`.catalog` names
the bundled models.  Imports :mod:`asr.data`,
:mod:`asr.decode`, :mod:`asr.scoring`, :mod:`asr.model` and the runtime
modules (:mod:`asr.device`, :mod:`asr.precision`), never :mod:`asr.train`.

The names below are looked up on first use, so that the torch-free modules
(:mod:`.transcriber`, :mod:`.segmentation`, :mod:`.output`) load without
torch, for the runtime (:mod:`asr.runtime`).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Public name -> (the module that defines it, its name there).
_HOMES = {
    **{name: ("catalog", name) for name in ("BundledModel", "bundled_models", "resolve_model")},
    "describe_model": ("catalog", "describe"),
    **{name: ("datadirs", name) for name in ("align_data_dir", "check_decode_dir", "data_dir_log_probs",
                                             "decode_data_dir", "merge_decodes")},
    **{name: ("model_file", name) for name in ("CarriedDecoding", "ModelFile")},
    **{name: ("output", name) for name in ("FORMATS", "ONE_INPUT_FORMATS", "TIMED_FORMATS", "render")},
    **{name: ("recognizer", name) for name in ("DEFAULT_MODEL", "Recognizer", "load_model", "load_recognizer")},
    **{name: ("transcriber", name) for name in ("AUDIO_SUFFIXES", "InputNotFoundError", "Transcript")},
    **{name: ("segmentation", name) for name in ("DEFAULT_VAD", "MIN_SEGMENT", "VADS", "check_max_segment",
                                                 "check_vad", "segment")},
    **{name: ("tuning", name) for name in ("parse_grid", "tune")},
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'asr.inference' has no attribute {name!r}")
    module, attribute = _HOMES[name]
    return getattr(import_module(f"asr.inference.{module}"), attribute)
