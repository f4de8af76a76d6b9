"""CTC search: greedy best path or beam search, chosen by one config.

Greedy and beam search return the same :class:`asr.decode.beam_search.Hypothesis`,
so everything downstream (N-best lists, word timings, CTM) serves both.
Log-probs are numpy arrays or torch tensors (:func:`asr.decode.arrays.as_numpy`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from asr.config import load_config
from asr.data.text import Tokenizer
from asr.decode.arrays import as_numpy
from asr.decode.beam_search import BeamSearchDecoder, BeamSearchOptions, Hypothesis, check_paths


def greedy_path(log_probs: np.ndarray) -> tuple[list[int], list[int]]:
    """Best-path token ids of one (T, V) utterance (repeats merged, blanks removed) and their start frames."""
    best = log_probs.argmax(axis=-1)
    starts = np.flatnonzero(np.diff(best, prepend=-1))  # where each run of one token begins
    kept = [(int(best[s]), int(s)) for s in starts if best[s] != 0]
    return [t for t, _ in kept], [s for _, s in kept]


def ctc_greedy(log_probs: Any, lengths: Any) -> list[list[int]]:
    """Best-path token ids for each utterance of a padded (B, T, V) batch."""
    log_probs, lengths = as_numpy(log_probs), as_numpy(lengths, np.int64)
    return [greedy_path(log_probs[b, : lengths[b]])[0] for b in range(log_probs.shape[0])]


@dataclass
class DecodeConfig:
    """How to search: ``greedy``, or ``beam`` with an optional lexicon and LM.

    A word LM needs a lexicon (the EESEN TLG analogue); a character LM is
    used without one.  Recipes write the tuned values to a YAML file.
    """

    mode: str = "greedy"
    lexicon: str | None = None
    lm: str | None = None
    beam: BeamSearchOptions = field(default_factory=BeamSearchOptions)

    def __post_init__(self) -> None:
        check_paths(lexicon=self.lexicon, lm=self.lm)
        if self.mode not in ("greedy", "beam"):
            raise ValueError(f"mode must be 'greedy' or 'beam', got {self.mode!r}")
        if self.mode == "greedy" and (self.lexicon or self.lm):
            raise ValueError("a lexicon or LM needs mode 'beam'")


Decoder = Callable[[Any], list[Hypothesis]]


def make_decoder(tokenizer: Tokenizer, config: DecodeConfig) -> Decoder:
    """A function from one utterance's (T, V) log-probs (array or tensor) to its N-best hypotheses."""
    if config.mode == "greedy":
        def greedy(log_probs: Any) -> list[Hypothesis]:
            log_probs = as_numpy(log_probs)
            ids, starts = greedy_path(log_probs)
            score = float(log_probs.max(axis=-1).sum())
            return [Hypothesis(tokenizer.decode(ids), score, tuple(ids), tuple(starts))]

        return greedy
    search = BeamSearchDecoder(tokenizer.tokens, config.lexicon, config.lm, config.beam)
    return lambda log_probs: search.decode(log_probs)[0]


def load_decode_config(path: str | Path | None) -> DecodeConfig:
    return load_config(DecodeConfig, path) if path else DecodeConfig()
