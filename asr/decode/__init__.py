"""Decoding: from CTC log-probs to hypotheses, and to word times.

Greedy and beam search behind one config (:mod:`.search`), flashlight's
lexicon and LM beam search (:mod:`.beam_search`, on flashlight-text itself:
:mod:`.flashlight`), n-gram LMs estimated and read in Python (:mod:`.lm`)
and CTC forced alignment (:mod:`.alignment`).  Pure functions of log-probs,
in numpy (torch tensors are taken too, :mod:`.arrays`), so that the torch
recognizer and the torch-free runtime share them: imports :mod:`asr.data`
(tokens) and :mod:`asr.config`, never a model, never torch.
"""

from asr.decode.alignment import WordTiming, write_ctm
from asr.decode.beam_search import BeamSearchOptions, Hypothesis, check_paths, write_lexicon
from asr.decode.lm import build_lm
from asr.decode.search import DecodeConfig, Decoder, ctc_greedy, load_decode_config, make_decoder

__all__ = [
    "BeamSearchOptions", "DecodeConfig", "Decoder", "Hypothesis", "WordTiming", "build_lm", "check_paths",
    "ctc_greedy", "load_decode_config", "make_decoder", "write_ctm", "write_lexicon",
]
