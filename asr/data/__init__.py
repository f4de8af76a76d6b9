"""Data: Kaldi data dirs and what they point to, up to batches of features.

Kaldi tables (:mod:`.datadir`), audio (:mod:`.audio`) and line images
(:mod:`.images`), fbank and CMVN (:mod:`.features`), the choice between the
two kinds (:mod:`.frontend`), the feature stage (:mod:`.extract`), splitting
and merging data dirs for parallel jobs (:mod:`.split`), tokens and text
normalization (:mod:`.text`), length-bucketed batches (:mod:`.batching`) and
one preparer per corpus (:mod:`.corpora`).  Imports nothing of asr but
:mod:`asr.config`.
"""

from asr.data.audio import AudioError, read_audio
from asr.data.batching import bucket_batches
from asr.data.datadir import read_table, validate_data_dir, write_table
from asr.data.extract import extract_features, in_place
from asr.data.features import FbankConfig, fbank
from asr.data.frontend import KINDS, SOURCE_KIND
from asr.data.images import IMAGE_SUFFIXES, ImageConfig
from asr.data.split import merge_features, split_data_dir
from asr.data.text import Tokenizer, normalize_text

__all__ = [
    "AudioError", "FbankConfig", "IMAGE_SUFFIXES", "ImageConfig", "KINDS", "SOURCE_KIND", "Tokenizer",
    "bucket_batches", "extract_features", "fbank", "in_place", "merge_features", "normalize_text",
    "read_audio", "read_table", "split_data_dir", "validate_data_dir", "write_table",
]
