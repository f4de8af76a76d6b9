"""Data: Kaldi data dirs and what they point to, up to batches of features.

Kaldi tables (:mod:`.datadir`), audio (:mod:`.audio`) and line images
(:mod:`.line_images`; their augmentation :mod:`.images`), fbank and CMVN
(:mod:`.kaldi_fbank`, and with torchaudio :mod:`.features`), the two kinds
of features (:mod:`.kinds`; as tensors :mod:`.frontend`), the feature stage
(:mod:`.extract`), splitting and merging data dirs for parallel jobs
(:mod:`.split`), tokens and text normalization (:mod:`.text`),
length-bucketed batches (:mod:`.buckets`; padded, :mod:`.batching`),
recording conditions (:mod:`.degrade`) drawn in training (:mod:`.augment`)
and one preparer per corpus (:mod:`.corpora`).  Imports nothing of asr but :mod:`asr.config`.

The names below are looked up on first use, so that the torch-free modules
(text, audio, line images, kaldi_fbank, kinds) load without torch, for the
runtime (:mod:`asr.runtime`).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Public name -> the module that defines it.
_HOMES = {
    "AudioError": "audio", "read_audio": "audio",
    "bucket_batches": "buckets",
    "read_table": "datadir", "validate_data_dir": "datadir", "write_table": "datadir",
    "write_text_atomically": "datadir",
    "extract_features": "extract", "in_place": "extract",
    "fbank": "features",
    "FbankConfig": "kaldi_fbank",
    "KINDS": "kinds", "SOURCE_KIND": "kinds",
    "IMAGE_SUFFIXES": "line_images", "ImageConfig": "line_images",
    "merge_features": "split", "split_data_dir": "split",
    "Tokenizer": "text", "normalize_text": "text",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'asr.data' has no attribute {name!r}")
    return getattr(import_module(f"asr.data.{_HOMES[name]}"), name)
