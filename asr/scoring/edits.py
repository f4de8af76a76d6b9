"""Kaldi's counts and alignment of one pair of token sequences, tokens coded as ints.

Exactness: counts come from Kaldi's own edit-distance code (the
``kaldialign`` package wraps ``LevenshteinEditDistance``, which
``compute-wer`` calls), so S, D and I equal Kaldi's also where several
alignments have the minimum cost: there Kaldi prefers an insertion or a
deletion to a substitution of equal cost.  Per-token alignments for reports
come from Kaldi's ``LevenshteinAlignment`` (what ``align-text`` uses; long
pairs in linear memory, see :mod:`asr.scoring.lowmem`).  Shortcuts that skip
or shrink Kaldi's dynamic program are used only where they provably give
Kaldi's result (see :class:`_Coder`).

Memory: Kaldi's counting program keeps two rows, so counts of pairs of any
length (long-form transcripts) take memory linear in their lengths.
"""

from __future__ import annotations

from itertools import chain
from typing import Any, Callable, Iterable, Sequence

import _kaldialign  # kaldialign's compiled Kaldi code; why not its Python functions: see _Coder
from rapidfuzz.distance import Levenshtein, Prefix

from asr.scoring.counts import ErrorCounts
from asr.scoring.lowmem import _EPS, _kaldi_alignment

# (op, ref token, hyp token) with op C(orrect), S(ubstitution), D(eletion), I(nsertion).
Op = tuple[str, str | None, str | None]


def edit_ops(ref: Sequence[str], hyp: Sequence[str]) -> tuple[Op, ...]:
    """Minimum-edit alignment of two token sequences, as Kaldi's ``align-text`` gives it.

    >>> edit_ops("a b c".split(), "a x c d".split())
    (('C', 'a', 'a'), ('S', 'b', 'x'), ('C', 'c', 'c'), ('I', None, 'd'))
    """
    return _Coder().score_pair(ref, hyp, align=True)[1]  # type: ignore[return-value]


class _Codes(dict):
    """Token -> int code, an unseen token getting the next code; ``tokens[code]`` decodes.

    A dict subclass so that ``map(codes.__getitem__, sentence)`` codes a
    sentence in C: only the first occurrence of a token reaches Python.
    """

    __slots__ = ("tokens",)

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []

    def __missing__(self, token: str) -> int:
        code = self[token] = len(self.tokens)
        self.tokens.append(token)
        return code


class _Memo(dict):
    """A dict that makes a missing value with ``make(key)`` and keeps it.

    ``map(memo.__getitem__, keys)`` then runs in C for every key seen before,
    and equal values are one object: fewer allocations, less for the garbage
    collector to visit.
    """

    __slots__ = ("make",)

    def __init__(self, make: Callable[[Any], Any]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self.make(key)
        return value


def _utt_counts(key: tuple[int, int, int, int]) -> ErrorCounts:
    """One utterance's counts from ``(reference length, sub, del, ins)``; a coder shares equal ones."""
    n, sub, dele, ins = key
    return ErrorCounts(1, n, n - sub - dele, sub, dele, ins, int(sub + dele + ins > 0))


def _single_edit(a: Sequence, b: Sequence) -> str | None:
    """``S``, ``D`` or ``I`` when that one edit of the first token turns ``a`` into ``b``.

    For remainders after the common prefix (first tokens differ): an edit
    anywhere else would have to match their first tokens.
    """
    if len(a) == len(b):
        return "S" if a[1:] == b[1:] else None
    if len(a) == len(b) + 1:
        return "D" if a[1:] == b else None
    if len(b) == len(a) + 1:
        return "I" if a == b[1:] else None
    return None



class _Coder:
    """Kaldi's counts and alignments for the pairs of one corpus, tokens coded as ints once.

    Kaldi's dynamic programs (``_kaldialign``, the compiled half of
    kaldialign) compare ints.  kaldialign's Python functions re-code every
    pair (a sorted set, two dicts), which on sentences costs several times
    the dynamic program itself, so a coder keeps one code per distinct token.

    Shortcuts, each giving Kaldi's result, not only a result of the same cost:

    - A common prefix is cut before the dynamic programs.  Beyond it the
      costs are those of the remainders, and on its border (one remainder
      empty) the only least-cost path is all insertions or all deletions, so
      every choice Kaldi makes after the prefix, ties included, is the one it
      makes on the remainders; its trace-back then matches the prefix.
    - Where one edit at the start of the remainders explains the pair, that
      is the only least-cost alignment (:func:`_single_edit`): no program.
    - Counts skip the program where the split is forced.  The least cost
      ``d`` (rapidfuzz, bit-parallel) fixes ``sub + del + ins`` and the lengths
      fix ``ins - del``, so ``d - |len(ref) - len(hyp)| = sub + 2 min(ins, del)``;
      at 0 or 1 that leaves a single split.  rapidfuzz compares characters
      exactly but list items by hash, which two words may share; small ints
      hash to themselves, so it gets words as codes.
    - A common suffix is not cut: Kaldi breaks ties towards insertions, which
      can move errors into it.
    """

    def __init__(self) -> None:
        self._codes = _Codes()
        self._correct = _Memo(lambda token: ("C", token, token))
        self._ops = _Memo(self._op)  # (ref code, hyp code) -> Op
        self._counts = _Memo(_utt_counts)

    def _op(self, pair: tuple[int, int]) -> Op:
        """The :data:`Op` of a pair of Kaldi's alignment."""
        ref, hyp = pair
        tokens = self._codes.tokens
        if ref == _EPS:
            return ("I", None, tokens[hyp])
        if hyp == _EPS:
            return ("D", tokens[ref], None)
        return self._correct[tokens[ref]] if ref == hyp else ("S", tokens[ref], tokens[hyp])

    def score_pair(
        self, ref: Sequence[str], hyp: Sequence[str], align: bool
    ) -> tuple[ErrorCounts, tuple[Op, ...] | None]:
        """Kaldi compute-wer's counts for one utterance, and with ``align`` Kaldi align-text's alignment."""
        correct = self._correct.__getitem__
        n = len(ref)
        if ref == hyp:  # most sentences of a usable system: nothing to align
            return self._counts[n, 0, 0, 0], tuple(map(correct, ref)) if align else None
        code = self._codes.__getitem__
        chars = isinstance(ref, str)  # rapidfuzz compares characters exactly, words only as codes
        a, b = (ref, hyp) if chars else (list(map(code, ref)), list(map(code, hyp)))
        m, start = len(b), Prefix.similarity(a, b)
        a, b = a[start:], b[start:]
        edit = _single_edit(a, b)
        surplus = (1 if edit else Levenshtein.distance(a, b)) - abs(n - m)  # sub + 2 min(ins, del)
        if chars and (surplus > 1 or (align and not edit)):  # Kaldi's programs to run, on ints
            a, b = list(map(code, a)), list(map(code, b))
        if surplus <= 1:
            counts = self._counts[n, surplus, max(n - m, 0), max(m - n, 0)]
        else:
            found = _kaldialign.edit_distance(a, b, False)
            counts = self._counts[n, found["sub"], found["del"], found["ins"]]
        if not align:
            return counts, None
        if edit:
            op = (edit, None if edit == "I" else ref[start], None if edit == "D" else hyp[start])
            rest: Iterable[Op] = chain((op,), map(correct, ref[start + (edit != "I") :]))
        else:
            rest = map(self._ops.__getitem__, _kaldi_alignment(a, b))
        return counts, tuple(chain(map(correct, ref[:start]), rest))
