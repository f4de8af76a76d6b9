"""CTC beam search with flashlight's decoder (:mod:`.flashlight`), on numpy arrays.

Three modes, chosen by what is given:

* lexicon and word LM: only lexicon words are produced, scored by the LM;
* no lexicon, character LM: any token sequence, scored token by token by an
  LM of :func:`asr.decode.lm.build_lm` with ``unit="char"`` (whose units are the
  token strings, ``|`` included);
* no LM (with or without a lexicon): acoustic scores only.

The lexicon spells a word as its characters followed by ``|`` (the
wav2letter convention): without the ``|``, single-letter words such as
AN4's spelled letters would let any string pass as a run of words.  The
acoustic model, trained on :meth:`asr.data.text.Tokenizer.encode` targets, emits
``|`` between words but not after the last one, and flashlight drops a last
word left unfinished; so in lexicon mode one frame where ``|`` is certain is
appended to each utterance, and its token is not reported.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from asr.data.text import BLANK, WORD_BOUNDARY, Tokenizer
from asr.decode.arrays import as_numpy
from asr.decode.flashlight import FlashlightSearch, SearchResult, SearchSettings
from asr.decode.lm import BOS, EOS, UNK, arpa_vocabulary, read_arpa

logger = logging.getLogger(__name__)

_LM_SYMBOLS = frozenset({BOS, EOS, UNK})
# How many example words a log message shows.
_EXAMPLES = 10
_LIBC = ctypes.CDLL(None)
# Log-probability of every token but ``|`` in the frame that closes the last word.
_IMPOSSIBLE = -1e5


@dataclass(frozen=True)
class BeamSearchOptions:
    """Search and scoring settings (flashlight's names and meanings).

    Scores add the acoustic log-probabilities (natural log), ``lm_weight``
    times the LM log10 probabilities, and the bonuses below.

    ``word_score`` is added per word and ``unk_score`` per out-of-lexicon word
    (-inf forbids them); both need a lexicon.  ``sil_score`` is added per
    ``|`` that is silence rather than part of a spelling: with no lexicon,
    per ``|``, which makes it the word insertion bonus.
    ``beam_threshold`` prunes hypotheses scoring that far below the best.
    """

    beam_size: int = 50
    beam_size_token: int | None = None
    beam_threshold: float = 50.0
    lm_weight: float = 2.0
    word_score: float = 0.0
    unk_score: float = float("-inf")
    sil_score: float = 0.0
    nbest: int = 1


@dataclass(frozen=True)
class Hypothesis:
    """One decoding result.

    ``tokens`` are the non-blank token ids emitted, ``|`` included, and
    ``timesteps`` the output frame at which each one starts.
    """

    text: str
    score: float
    tokens: tuple[int, ...]
    timesteps: tuple[int, ...]


@dataclass(frozen=True)
class LexiconReport:
    """What :func:`write_lexicon` wrote, and what it could not spell."""

    written: int
    # word -> the characters of it that are not tokens
    unspellable: dict[str, str]


def spell(word: str) -> str:
    """A word's spelling in a lexicon line: its characters, then ``|``."""
    return " ".join((*word, WORD_BOUNDARY))


def write_lexicon(words: Iterable[str], tokens: Sequence[str], path: str | Path) -> LexiconReport:
    """Write a flashlight lexicon (``word<TAB>c h a r s |``) for ``words``.

    Words with a character that is not a token (``|`` included) cannot be
    produced by the acoustic model; they are left out, and reported rather
    than dropped silently, since a lexicon missing frequent words caps
    accuracy.  LM symbols (``<s>``, ``</s>``, ``<unk>``) and duplicates are
    skipped so that an LM vocabulary can be passed as is.
    """
    characters = set(tokens) - {BLANK, WORD_BOUNDARY}
    lines, unspellable = [], {}
    for word in dict.fromkeys(words):
        if not word or word in _LM_SYMBOLS:
            continue
        missing = "".join(sorted(set(word) - characters))
        if missing:
            unspellable[word] = missing
        else:
            lines.append(f"{word}\t{spell(word)}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")
    if unspellable:
        logger.warning(
            "%s: %d word(s) left out, with characters missing from the tokens: %s",
            path,
            len(unspellable),
            ", ".join(f"{w!r} ({m})" for w, m in list(unspellable.items())[:_EXAMPLES]),
        )
    return LexiconReport(len(lines), unspellable)


def read_lexicon(path: str | Path, tokens: Sequence[str] | None = None) -> dict[str, list[tuple[str, ...]]]:
    """Read a lexicon, word -> spellings; errors read ``path:lineno: what``.

    flashlight refuses blank or one-field lines with no line number, and a
    spelling token missing from ``tokens`` makes it fail deep in the trie
    construction; checking here names the line.
    """
    known = set(tokens) if tokens is not None else None
    lexicon: dict[str, list[tuple[str, ...]]] = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split()
        if len(fields) < 2:
            raise ValueError(f"{path}:{lineno}: expected 'word token...', got {line!r}")
        word, *spelling = fields
        unknown = [t for t in spelling if known is not None and t not in known]
        if unknown:
            raise ValueError(f"{path}:{lineno}: token(s) {unknown} of {word!r} are not in the token list")
        lexicon.setdefault(word, []).append(tuple(spelling))
    if not lexicon:  # flashlight would accept it and decode every utterance to nothing
        raise ValueError(f"{path}: empty lexicon, no 'word token...' line")
    return lexicon


def check_paths(**paths: str | Path | None) -> None:
    """Refuse a path given as an empty string, e.g. ``--lexicon "$LEXICON"`` with the variable unset.

    ``None`` means no file; an empty string would otherwise be read as the
    current directory, or pass as "no lexicon" and change the search silently.
    """
    for name, path in paths.items():
        if isinstance(path, str) and not path.strip():
            raise ValueError(f"{name}: empty path; give a file, or leave {name} out")


def vocabulary_mismatch(decoder_units: Iterable[str], lm_units: Iterable[str]) -> tuple[list[str], list[str]]:
    """Units only the LM knows, and units the LM scores as ``<unk>``.

    The first can never be output (LM words missing from the lexicon); the
    second are output with the ``<unk>`` probability, usually a poor one.
    LM symbols are left out of both; the lists are sorted.
    """
    decoder_set = set(decoder_units) - _LM_SYMBOLS
    lm_set = set(lm_units) - _LM_SYMBOLS
    return sorted(lm_set - decoder_set), sorted(decoder_set - lm_set)


def close_last_word(log_probs: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Append to each utterance of ``(B, T, V)`` log_probs one frame where ``|`` is certain.

    Lexicon spellings end in ``|`` and the model never emits one after the
    last word; the extra frame lets that word finish at no cost.
    """
    batch, _, vocab = log_probs.shape
    closing = np.full(vocab, _IMPOSSIBLE, dtype=log_probs.dtype)
    closing[1] = 0.0
    closed = np.concatenate([log_probs, np.broadcast_to(closing, (batch, 1, vocab))], axis=1)
    closed[np.arange(batch), lengths] = closing
    return np.ascontiguousarray(closed), lengths + 1


def _emitted(hypothesis: SearchResult, num_frames: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Tokens and frames the decoder emitted, without its start and end states.

    flashlight's token path has one entry per frame plus a silence state
    before frame 0 and after the last frame, so its steps are frame + 1, and
    a leading and a trailing ``|`` may be search states only.  Frames from
    ``num_frames`` on, such as :func:`close_last_word`'s, are not the
    model's and are dropped too.
    """
    pairs = [(token, step - 1) for token, step in zip(hypothesis.tokens, hypothesis.steps) if 1 <= step <= num_frames]
    return tuple(t for t, _ in pairs), tuple(f for _, f in pairs)


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """Send what C++ code prints while it runs to /dev/null: file descriptors 1 and 2, not just Python's streams.

    KenLM prints a banner as it loads an ARPA file ("Loading the LM will be
    faster if you build a binary file", a ``----5---10---...`` ruler and
    stars) on the process's stdout and stderr: it would corrupt the JSON, CTM
    or SRT that ``asr transcribe`` writes to stdout, and tells the user
    nothing.  Its errors are not lost: KenLM raises them, and
    :func:`_load_errors` reports them.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        _LIBC.fflush(None)  # C's stdio buffers may still hold the banner: out while fds 1 and 2 are /dev/null
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(null)


@contextlib.contextmanager
def _load_errors(lm: str | Path | None) -> Iterator[None]:
    """Turn KenLM's refusal of an LM (a RuntimeError naming a byte offset) into ``path:line: what``.

    The file is read again by :func:`asr.decode.lm.read_arpa`, which names the line
    for the faults it knows; for others KenLM's own last line is kept.
    """
    try:
        yield
    except RuntimeError as error:
        if lm is None:
            raise
        if arpa_vocabulary(lm) is not None:  # a text ARPA, not a KenLM binary
            read_arpa(lm)
        reason = str(error).strip().splitlines()[-1]
        raise ValueError(f"{lm}: KenLM could not load it: {reason}") from None


class BeamSearchDecoder:
    """Beam search over ``(T, V)`` log-probabilities, with optional lexicon and LM.

    ``tokens`` is the model's token list (``tokens[0]`` the blank,
    ``tokens[1]`` the word boundary ``|``).  ``lm`` is an ARPA or KenLM
    binary file; for ARPA files the vocabularies are compared at construction
    and mismatches logged and kept in :attr:`lm_only` (units the decoder can
    never output) and :attr:`unknown_to_lm` (units scored as ``<unk>``).
    """

    def __init__(
        self,
        tokens: Sequence[str],
        lexicon: str | Path | None = None,
        lm: str | Path | None = None,
        options: BeamSearchOptions = BeamSearchOptions(),
    ) -> None:
        check_paths(lexicon=lexicon, lm=lm)
        self.tokenizer = Tokenizer(tuple(tokens))
        self.uses_lexicon = lexicon is not None
        if not self.uses_lexicon and (options.word_score != 0 or options.unk_score != float("-inf")):
            raise ValueError("word_score and unk_score need a lexicon; without one, sil_score is the word bonus")
        if self.uses_lexicon:
            units = read_lexicon(lexicon, tokens).keys()  # type: ignore[arg-type]
        else:
            units = tokens[1:]
        self.lm_only, self.unknown_to_lm = self._check_lm(lm, units)
        self.nbest = options.nbest
        settings = SearchSettings(options.beam_size, options.beam_size_token, options.beam_threshold,
                                  options.lm_weight, options.word_score, options.unk_score, options.sil_score)
        with tempfile.TemporaryDirectory() as directory, _silenced(), _load_errors(lm):
            lm_dict = self._token_lm_dict(Path(directory)) if lm is not None and lexicon is None else None
            self._search = FlashlightSearch(tokens, lexicon, lm, lm_dict, settings, WORD_BOUNDARY, UNK)

    def _token_lm_dict(self, directory: Path) -> str:
        """The tokens, one a line in id order, as the LM dictionary.

        Without it the LM's indices would follow a dictionary built from a
        hash map, whose order is not the token order: a character LM would
        then score every token as some other character.
        """
        path = directory / "lm_dict.txt"
        path.write_text("".join(f"{t}\n" for t in self.tokenizer.tokens), encoding="utf-8")
        return str(path)

    def _check_lm(self, lm: str | Path | None, units: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Refuse an LM of the wrong unit; log and return the vocabulary mismatch."""
        vocabulary = arpa_vocabulary(lm) if lm is not None else None
        if vocabulary is None:
            return (), ()
        lm_only, unknown = vocabulary_mismatch(units, vocabulary)
        if self.uses_lexicon and WORD_BOUNDARY in vocabulary:
            raise ValueError(f"{lm}: has the unit {WORD_BOUNDARY!r}, a character LM: decode without a lexicon")
        if not self.uses_lexicon and any(len(unit) > 1 for unit in lm_only):
            raise ValueError(f"{lm}: has units longer than a character, a word LM: decode with a lexicon")
        kind = "lexicon word" if self.uses_lexicon else "token"
        if lm_only:
            logger.warning("%s: %d LM unit(s) not %ss, never output: %s", lm, len(lm_only), kind, lm_only[:_EXAMPLES])
        if unknown:
            logger.warning(
                "%s: %d %s(s) not in the LM, scored as <unk>: %s", lm, len(unknown), kind, unknown[:_EXAMPLES]
            )
        return tuple(lm_only), tuple(unknown)

    def _hypothesis(self, hypothesis: SearchResult, num_frames: int) -> Hypothesis:
        tokens, frames = _emitted(hypothesis, num_frames)
        text = " ".join(hypothesis.words) if self.uses_lexicon else self.tokenizer.decode(tokens)
        return Hypothesis(text, hypothesis.score, tokens, frames)

    def decode(self, log_probs: Any, lengths: Any = None) -> list[list[Hypothesis]]:
        """The ``nbest`` hypotheses, best first, for each utterance.

        ``log_probs`` (a numpy array or a torch tensor) is ``(T, V)`` for one
        utterance or ``(B, T, V)`` with ``lengths`` (default: all ``T``) for a
        padded batch; the result has one list per utterance either way.
        """
        log_probs = as_numpy(log_probs)
        if log_probs.ndim == 2:
            log_probs = log_probs[np.newaxis]
        if log_probs.ndim != 3 or log_probs.shape[-1] != len(self.tokenizer):
            raise ValueError(
                f"log_probs must be (T, {len(self.tokenizer)}) or (B, T, {len(self.tokenizer)}), "
                f"got {tuple(log_probs.shape)}"
            )
        batch, frames, _ = log_probs.shape
        lengths = as_numpy(lengths if lengths is not None else [frames] * batch, np.int64)
        if lengths.shape != (batch,) or bool((lengths < 0).any()) or bool((lengths > frames).any()):
            raise ValueError(f"lengths must be {batch} values in [0, {frames}], got {lengths.tolist()}")
        emissions, search_lengths = close_last_word(log_probs, lengths) if self.uses_lexicon else (log_probs, lengths)
        return [
            [self._hypothesis(h, int(length)) for h in self._search.search(emissions[b, :searched])[: self.nbest]]
            for b, (length, searched) in enumerate(zip(lengths.tolist(), search_lengths.tolist()))
        ]
