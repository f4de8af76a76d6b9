"""Inference: the model file, the loaded recognizer, and running it on files and data dirs.

:class:`.model_file.ModelFile` is the one reader and writer of a model file;
:class:`.recognizer.Recognizer` is what a loaded file becomes (network,
tokens, normalization, decoding) and transcribes files; :mod:`.output`
writes transcripts; :mod:`.datadirs` decodes and aligns data dirs;
:mod:`.tuning` chooses beam-search weights on dev.  Imports :mod:`asr.data`,
:mod:`asr.decode`, :mod:`asr.scoring`, :mod:`asr.model` and the runtime
modules (:mod:`asr.device`, :mod:`asr.precision`), never :mod:`asr.train`.
"""

from asr.inference.datadirs import align_data_dir, data_dir_log_probs, decode_data_dir, merge_decodes
from asr.inference.model_file import CarriedDecoding, ModelFile
from asr.inference.output import FORMATS, ONE_INPUT_FORMATS, TIMED_FORMATS, render
from asr.inference.recognizer import (
    AUDIO_SUFFIXES, DEFAULT_MODEL, MIN_SEGMENT, InputNotFoundError, Recognizer, Transcript, check_max_segment,
    load_model, load_recognizer,
)
from asr.inference.tuning import parse_grid, tune

__all__ = [
    "AUDIO_SUFFIXES", "CarriedDecoding", "DEFAULT_MODEL", "FORMATS", "InputNotFoundError", "MIN_SEGMENT",
    "ModelFile", "ONE_INPUT_FORMATS", "Recognizer", "TIMED_FORMATS", "Transcript",
    "align_data_dir", "check_max_segment", "data_dir_log_probs", "decode_data_dir", "load_model",
    "load_recognizer", "merge_decodes", "parse_grid", "render", "tune",
]
