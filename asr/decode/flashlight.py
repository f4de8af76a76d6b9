"""flashlight-text's CTC beam search, called directly on numpy arrays.

torchaudio's ``ctc_decoder`` is a thin wrapper of this library that needs
torch.  :func:`build_search` builds the decoder as it does (the same token
and word dictionaries, trie with maximum smearing, options and LM), so the
search gives the same hypotheses without torch, and the torch-free runtime
(:mod:`asr.runtime`) and the recognizer decode alike.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from flashlight.lib.text.decoder import (
    CriterionType,
    LexiconDecoder,
    LexiconDecoderOptions,
    LexiconFreeDecoder,
    LexiconFreeDecoderOptions,
    SmearingMode,
    Trie,
    ZeroLM,
)
from flashlight.lib.text.decoder.kenlm import KenLM
from flashlight.lib.text.dictionary import Dictionary, create_word_dict, load_words


@dataclass(frozen=True)
class SearchResult:
    """One hypothesis as flashlight gives it.

    ``tokens`` are the non-blank tokens of the search path with repeats
    merged, and ``steps`` the path position where each starts: the path has
    a start state before frame 0, so position ``p`` is frame ``p - 1``.
    """

    tokens: tuple[int, ...]
    steps: tuple[int, ...]
    words: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class SearchSettings:
    """flashlight's decoder options (see :class:`asr.decode.beam_search.BeamSearchOptions`)."""

    beam_size: int
    beam_size_token: int | None
    beam_threshold: float
    lm_weight: float
    word_score: float
    unk_score: float
    sil_score: float


class FlashlightSearch:
    """A lexicon or lexicon-free CTC decoder over ``(T, V)`` float32 arrays; ``tokens[0]`` is the blank.

    ``lm`` is an ARPA or KenLM binary file, or None for acoustic scores
    only; ``lm_dict`` lists the LM's units one a line (needed without a
    lexicon, where they are the tokens).
    """

    def __init__(self, tokens: Sequence[str], lexicon: str | Path | None, lm: str | Path | None,
                 lm_dict: str | Path | None, settings: SearchSettings, silence: str, unk_word: str) -> None:
        self.tokens = Dictionary(list(tokens))
        self.blank = 0
        silence_index = self.tokens.get_index(silence)
        common = {
            "beam_size": settings.beam_size,
            "beam_size_token": settings.beam_size_token or self.tokens.index_size(),
            "beam_threshold": settings.beam_threshold,
            "lm_weight": settings.lm_weight,
            "sil_score": settings.sil_score,
            "log_add": False,
            "criterion_type": CriterionType.CTC,
        }
        spellings = load_words(str(lexicon)) if lexicon is not None else None
        if lm_dict is not None:
            self.words = Dictionary(str(lm_dict))
        elif spellings:
            self.words = create_word_dict(spellings)
        else:
            self.words = None
        self.lm = KenLM(str(lm), self.words) if lm is not None else ZeroLM()
        if spellings:
            options = LexiconDecoderOptions(word_score=settings.word_score, unk_score=settings.unk_score, **common)
            trie = self._trie(spellings, silence_index)
            self.decoder = LexiconDecoder(options, trie, self.lm, silence_index, self.blank,
                                          self.words.get_index(unk_word), [], False)
        else:
            self.decoder = LexiconFreeDecoder(LexiconFreeDecoderOptions(**common), self.lm, silence_index,
                                              self.blank, [])

    def _trie(self, spellings: dict[str, list[list[str]]], silence_index: int) -> Trie:
        """The lexicon's spellings as a token trie, each word scored by its unigram LM score, smeared by maximum."""
        trie = Trie(self.tokens.index_size(), silence_index)
        start = self.lm.start(False)
        for word, word_spellings in spellings.items():
            index = self.words.get_index(word)
            _, score = self.lm.score(start, index)
            for spelling in word_spellings:
                trie.insert([self.tokens.get_index(token) for token in spelling], index, score)
        trie.smear(SmearingMode.MAX)
        return trie

    def search(self, emissions: np.ndarray) -> list[SearchResult]:
        """All final hypotheses of one utterance's ``(T, V)`` C-contiguous float32 emissions, best first."""
        emissions = np.ascontiguousarray(emissions, dtype=np.float32)  # flashlight reads the raw memory
        frames, vocab = emissions.shape
        return [self._result(result) for result in self.decoder.decode(emissions.ctypes.data, frames, vocab)]

    def _result(self, result) -> SearchResult:
        path = list(result.tokens)
        steps = [i for i, token in enumerate(path) if token != self.blank and (i == 0 or token != path[i - 1])]
        tokens = [token for token, _ in itertools.groupby(path) if token != self.blank]
        words = tuple(self.words.get_entry(w) for w in result.words if w >= 0) if self.words is not None else ()
        return SearchResult(tuple(tokens), tuple(steps), words, float(result.score))
