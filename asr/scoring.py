"""Error rates, alignments and reports: Kaldi ``compute-wer`` and sclite in one module.

Recipes, tests and notebooks must get the same numbers as ``asr score``, so
everything here is a pure function of transcripts (in the style of
``torchaudio.functional``); the command only parses options and writes files.

Counting follows Kaldi's ``compute-wer``: minimum edit distance with unit
costs, ``%WER = 100 * (S + D + I) / N`` over reference tokens, a sentence is
wrong when its token sequences differ, and references without a hypothesis
are skipped (``present``), scored as empty (``all``) or refused (``strict``).

Exactness: counts come from Kaldi's own edit-distance code (the
``kaldialign`` package wraps ``LevenshteinEditDistance``, which
``compute-wer`` calls), so S, D and I equal Kaldi's also where several
alignments have the minimum cost: there Kaldi prefers an insertion or a
deletion to a substitution of equal cost.  Per-token alignments for reports
come from Kaldi's ``LevenshteinAlignment`` (what ``align-text`` uses).
Shortcuts that skip or shrink Kaldi's dynamic program are used only where
they provably give Kaldi's result (see :class:`_Coder`).

Memory: Kaldi's counting program keeps two rows, so counts of pairs of any
length (long-form transcripts) take memory linear in their lengths.  Kaldi's
alignment program keeps its whole cost matrix; beyond 64 MiB of it (a pair
of about 4,000 x 4,000 tokens) the same alignment is found piecewise in
linear memory (see :class:`_LowMemoryAlignment`).

Token units: ``word`` splits on white space, so phones, BPE pieces or any
space-separated units get a token error rate as well; ``char`` scores every
character of the normalized text, spaces included (as ``jiwer.cer`` does).
"""

from __future__ import annotations

import math
import re
import struct
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import _kaldialign  # kaldialign's compiled Kaldi code; why not its Python functions: see _Coder
from rapidfuzz.distance import Levenshtein, Prefix

from asr.text import normalize_text

FORMATS = ("auto", "kaldi", "trn", "plain")
MODES = ("strict", "present", "all")
UNITS = ("word", "char")
METRIC_UNITS = {"wer": "word", "cer": "char"}

# (op, ref token, hyp token) with op C(orrect), S(ubstitution), D(eletion), I(nsertion).
Op = tuple[str, str | None, str | None]
# Kaldi's epsilon in alignments: no token's code (codes count from 0).
_EPS = -1

_TRN_LINE = re.compile(r"^(?P<text>.*?)\s*\((?P<id>[^()\s]+)\)\s*$")
_SPACE_SHOWN_AS = "<space>"  # a bare space would be invisible in char alignments
_BOOTSTRAP_BLOCK = 4_000_000  # resampled indices held in memory at once
_UTF16_32_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


# ---------------------------------------------------------------------------
# Counts


@dataclass(frozen=True, slots=True)
class ErrorCounts:
    """Kaldi / sclite counts over one or more utterances.

    ``dele`` is spelled so because ``del`` is a Python keyword.  ``ref_tokens``
    always equals ``corr + sub + dele``.
    """

    snt: int = 0
    ref_tokens: int = 0
    corr: int = 0
    sub: int = 0
    dele: int = 0
    ins: int = 0
    sent_err: int = 0

    @property
    def err(self) -> int:
        return self.sub + self.dele + self.ins

    @property
    def rate(self) -> float:
        """Error rate as a fraction (0.0595 for 5.95 %WER); errors on no reference are infinite."""
        return _ratio(self.err, self.ref_tokens)

    @property
    def sent_rate(self) -> float:
        """Sentence error rate as a fraction."""
        return _ratio(self.sent_err, self.snt)

    @classmethod
    def total(cls, counts: Iterable["ErrorCounts"]) -> "ErrorCounts":
        """Field-wise sum; the empty sum is all zeros."""
        return cls(*map(sum, zip(*map(_COUNT_VALUES, counts))))

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        return ErrorCounts.total((self, other))

    def as_dict(self) -> dict[str, int | float | None]:
        """JSON-ready counts; an infinite rate becomes ``None`` because JSON has no infinity."""
        return {
            "snt": self.snt,
            "ref_tokens": self.ref_tokens,
            "corr": self.corr,
            "sub": self.sub,
            "del": self.dele,
            "ins": self.ins,
            "err": self.err,
            "sent_err": self.sent_err,
            "rate": _finite_or_none(self.rate),
            "sent_rate": _finite_or_none(self.sent_rate),
        }


_COUNT_VALUES = attrgetter(*(f.name for f in fields(ErrorCounts)))


def _ratio(num: float, den: float) -> float:
    """``num / den`` where nothing out of nothing is 0 and something out of nothing infinite."""
    if den:
        return num / den
    return math.inf if num else 0.0


def _percent(num: int, den: int) -> float:
    """``100 * num / den`` in Kaldi's order of operations, so rounding matches it."""
    return _ratio(100.0 * num, den)


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------
# Alignment


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


# Kaldi's LevenshteinAlignment keeps its whole cost matrix, (len(ref) + 1) * (len(hyp) + 1) C ints:
# up to this many cells (64 MiB) it runs as it is, beyond them _LowMemoryAlignment finds its path.
_KALDI_ALIGN_CELLS = 1 << 24
_LEAF_CELLS = 1 << 22  # trace-back moves (a byte each) a low-memory alignment keeps to trace back directly
_SEGMENTS = 16  # parts a low-memory pass cuts its rectangle into: fewer passes, a few more rows kept
_FAR = 1 << 30  # above any cost on a least-cost path; int32 sums stay below 2**31
_DIAG, _UP, _LEFT = 0, 1, 2  # trace-back moves: correct or substitution, deletion, insertion


def _kaldi_alignment(ref: list[int], hyp: list[int]) -> list[tuple[int, int]]:
    """Kaldi ``LevenshteinAlignment``'s pairs of codes (``_EPS`` for none); linear memory for long pairs."""
    if (len(ref) + 1) * (len(hyp) + 1) <= _KALDI_ALIGN_CELLS:
        return _kaldialign.align(ref, hyp, _EPS, False)
    return _LowMemoryAlignment(ref, hyp).pairs()


class _LowMemoryAlignment:
    """Kaldi's ``LevenshteinAlignment`` of two coded sequences, in memory linear in their lengths.

    Kaldi fills the whole cost matrix (row ``i``: ``i`` reference tokens,
    column ``j``: ``j`` hypothesis tokens), then traces back from the last
    cell taking an insertion (left) if it reaches the cell at least cost,
    else a deletion (up) if it does, else the diagonal step.  A 56k-character
    pair needs 12 GiB that way.  Its choices depend only on the costs of a
    cell's three neighbours, and costs flow only rightwards and downwards, so
    the same path is found piecewise, as Hirschberg's algorithm finds some
    least-cost path:

    - One pass over a rectangle's rows keeps two rows of costs and, for each
      cell, the column at which Kaldi's trace-back from that cell first reaches
      the last cut row above it (cuts split the rectangle into ``segments``
      parts).  From the corner, these give where the path crosses every cut.
    - Between two crossings the path stays in the rectangle they span.  The
      costs there follow from its top row (a cut row, kept by the pass) and its
      left column (recomputed from the cut row, columns left of it only), so
      each rectangle is solved alone, down to rectangles small enough to keep
      every choice and trace back directly.
    - Only the diagonals that a least-cost path can use are computed: reaching
      a cell on diagonal ``k = j - i`` costs at least ``|k|`` and leaving it at
      least ``|len(hyp) - len(ref) - k|``, so diagonals whose sum exceeds the
      edit distance are left at ``_FAR``.  That changes no choice on the path:
      a neighbour that is on no least-cost path is never the one chosen,
      whatever cost above its own it is given, and cells on such paths keep
      their costs.

    Memory: ``2 * segments`` rows, the rows and columns of the rectangles
    waiting their turn (each cut's share of the pair), and ``leaf_cells``
    bytes; none of it grows with the product of the lengths.  Time: a few
    passes over the band of diagonals, where Kaldi makes one over the whole
    matrix (about 10 s for a 56k-character pair at 10 % CER).
    """

    def __init__(
        self, ref: list[int], hyp: list[int], leaf_cells: int = _LEAF_CELLS, segments: int = _SEGMENTS
    ) -> None:
        import numpy as np

        self._np = np
        self._ref, self._hyp = ref, hyp
        self._ref_codes, self._hyp_codes = np.asarray(ref, dtype=np.int32), np.asarray(hyp, dtype=np.int32)
        distance, surplus = Levenshtein.distance(ref, hyp), len(hyp) - len(ref)
        self._first_diagonal, self._last_diagonal = -((distance - surplus) // 2), (distance + surplus) // 2
        self._ramp = np.arange(max(len(ref), len(hyp)) + 1, dtype=np.int32)
        self._leaf_cells, self._segments = leaf_cells, max(2, segments)

    def pairs(self) -> list[tuple[int, int]]:
        """What ``_kaldialign.align(ref, hyp, _EPS)`` returns."""
        top = self._ramp[: len(self._hyp) + 1].copy()
        top[self._last_diagonal + 1 :] = _FAR
        left = self._ramp[: len(self._ref) + 1].copy()
        left[1 - self._first_diagonal :] = _FAR
        backwards: list[tuple[int, int]] = []
        self._solve(0, 0, top, left, backwards)
        backwards.reverse()
        return backwards

    def _window(self, row: int, col: int, i: int, last: int) -> tuple[int, int]:
        """The columns of row ``i`` (of the rectangle at ``row, col``) within the band and ``0..last``."""
        diagonal = row + i - col
        return max(0, diagonal + self._first_diagonal), min(last, diagonal + self._last_diagonal)

    def _costs(self, prev: Any, cur: Any, code: int, hyp: Any, first: int, lo: int, hi: int) -> None:
        """Fill ``cur[lo:hi + 1]`` from the row above, ``first`` being column 0's cost, and fence it with ``_FAR``.

        The next row reads one column beyond either end (the band moves by at most one), so
        those two are set to ``_FAR``, not left to hold a cost from an earlier row.
        """
        np = self._np
        start = max(lo, 1)
        costs = np.minimum(prev[start - 1 : hi] + (hyp[start - 1 : hi] != code), prev[start : hi + 1] + 1)
        if lo == 0:
            costs = np.concatenate((np.array([first], dtype=np.int32), costs))
        ramp = self._ramp[: hi - lo + 1]  # an insertion costs one: cur[j] = min(costs[j], cur[j - 1] + 1)
        cur[lo : hi + 1] = np.minimum.accumulate(costs - ramp) + ramp
        if lo:
            cur[lo - 1] = _FAR
        if hi + 1 < len(cur):
            cur[hi + 1] = _FAR

    def _moves(self, prev: Any, cur: Any, lo: int, hi: int) -> Any:
        """Kaldi's trace-back move out of each cell of ``cur[lo:hi + 1]`` (column 0: up), as int8."""
        np = self._np
        start = max(lo, 1)
        here = cur[start : hi + 1]
        moves = np.where(
            cur[start - 1 : hi] + 1 == here, _LEFT, np.where(prev[start : hi + 1] + 1 == here, _UP, _DIAG)
        ).astype(np.int8)
        return np.concatenate((np.array([_UP], dtype=np.int8), moves)) if lo == 0 else moves

    def _follow(self, prev: Any, cur: Any, moves: Any, lo: int, hi: int) -> None:
        """``cur[lo:hi + 1]``: each cell's crossing column, taken from the cell its move leads to."""
        np = self._np
        start = max(lo, 1)
        cur[start : hi + 1] = np.where(moves[start - lo :] == _UP, prev[start : hi + 1], prev[start - 1 : hi])
        if lo == 0:
            cur[0] = prev[0]
        # An insertion leads left, to a cell of this row: carry crossings rightwards over runs of them.
        source = np.maximum.accumulate(np.where(moves == _LEFT, 0, self._ramp[: hi - lo + 1]))
        cur[lo : hi + 1] = cur[lo : hi + 1][source]

    def _solve(self, row: int, col: int, top: Any, left: Any, backwards: list[tuple[int, int]]) -> None:
        """Append Kaldi's path through the rectangle at ``row, col`` with these top row and left column costs.

        The path runs from the bottom right corner to the top left one, last move first.
        """
        np = self._np
        rows, last = len(left) - 1, len(top) - 1
        if rows <= 1 or rows * min(last + 1, self._last_diagonal - self._first_diagonal + 1) <= self._leaf_cells:
            self._trace_back(row, col, top, left, backwards)
            return
        ref, hyp = self._ref_codes[row : row + rows], self._hyp_codes[col : col + last]
        parts = min(self._segments, rows)
        cuts = [rows * k // parts for k in range(parts + 1)]
        kept_costs, kept_crossings = {0: top}, {}
        prev, cur = top.copy(), np.empty_like(top)
        prev_crossing, crossing = self._ramp[: last + 1].copy(), np.empty_like(top)
        for i in range(1, rows + 1):
            lo, hi = self._window(row, col, i, last)
            self._costs(prev, cur, ref[i - 1], hyp, left[i], lo, hi)
            self._follow(prev_crossing, crossing, self._moves(prev, cur, lo, hi), lo, hi)
            if i == cuts[len(kept_costs)]:
                kept_costs[i], kept_crossings[i] = cur.copy(), crossing.copy()
                crossing[lo : hi + 1] = self._ramp[lo : hi + 1]  # the next part's crossings are on this row
            prev, cur, prev_crossing, crossing = cur, prev, crossing, prev_crossing
        ends = [last]
        for cut in reversed(cuts[1:]):
            ends.append(int(kept_crossings[cut][ends[-1]]))
        ends.reverse()  # ends[k]: the path's first column on row cuts[k]
        parts_left = [
            (
                kept_costs[cuts[k]][ends[k] : ends[k + 1] + 1].copy(),
                self._left_column(row, col, kept_costs[cuts[k]], left, cuts[k], cuts[k + 1], ends[k]),
            )
            for k in range(parts)
        ]
        del kept_costs, kept_crossings, prev, cur, prev_crossing, crossing
        for k in reversed(range(parts)):
            part_top, part_left = parts_left.pop()
            self._solve(row + cuts[k], col + ends[k], part_top, part_left, backwards)
        # The first crossing of the top row can lie right of the corner only for the whole matrix: insertions.
        backwards.extend((_EPS, token) for token in reversed(self._hyp[col : col + ends[0]]))

    def _left_column(self, row: int, col: int, costs: Any, left: Any, start: int, stop: int, at: int) -> Any:
        """Costs of column ``at`` on rows ``start..stop``, from row ``start``'s ``costs`` and the ``left`` column."""
        np = self._np
        if at == 0:
            return left[start : stop + 1]
        column = np.full(stop - start + 1, _FAR, dtype=np.int32)
        column[0] = costs[at]
        prev, cur = costs[: at + 1].copy(), np.empty(at + 1, dtype=np.int32)
        hyp = self._hyp_codes[col : col + at]
        for i in range(start + 1, stop + 1):
            lo, hi = self._window(row, col, i, at)
            if lo > at:  # the band has moved right of the column: it stays _FAR
                break
            self._costs(prev, cur, self._ref_codes[row + i - 1], hyp, left[i], lo, hi)
            if hi == at:
                column[i - start] = cur[at]
            prev, cur = cur, prev
        return column

    def _trace_back(self, row: int, col: int, top: Any, left: Any, backwards: list[tuple[int, int]]) -> None:
        """Kaldi's trace-back through a rectangle small enough to keep every move (bytes per row)."""
        np = self._np
        rows, last = len(left) - 1, len(top) - 1
        ref, hyp = self._ref_codes[row : row + rows], self._hyp_codes[col : col + last]
        prev, cur = top.copy(), np.empty_like(top)
        moves: list[tuple[int, bytes]] = [(0, b"")]  # row 0: insertions only
        for i in range(1, rows + 1):
            lo, hi = self._window(row, col, i, last)
            self._costs(prev, cur, ref[i - 1], hyp, left[i], lo, hi)
            moves.append((lo, self._moves(prev, cur, lo, hi).tobytes()))
            prev, cur = cur, prev
        i, j = rows, last
        while i or j:
            lo, choices = moves[i]
            move = choices[j - lo] if i else _LEFT
            if move != _LEFT:
                i -= 1
            if move != _UP:
                j -= 1
            backwards.append(
                (_EPS if move == _LEFT else self._ref[row + i], _EPS if move == _UP else self._hyp[col + j])
            )


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


class UttScore(NamedTuple):
    """One scored utterance: normalized tokens (a ``str`` for characters) and counts.

    A named tuple, built several times faster than a frozen dataclass: scoring makes one per utterance.
    """

    utt_id: str
    ref: Sequence[str]
    hyp: Sequence[str]
    counts: ErrorCounts


@dataclass(frozen=True)
class ScoreResult:
    """Scored utterances (in reference order), their alignments, and the ids that could not be paired."""

    unit: str
    utts: tuple[UttScore, ...]
    missing_hyp: tuple[str, ...] = ()  # references without hypothesis
    missing_ref: tuple[str, ...] = ()  # hypotheses without reference, always ignored
    _alignments: tuple[tuple[Op, ...], ...] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def totals(self) -> ErrorCounts:
        return ErrorCounts.total(utt.counts for utt in self.utts)

    @cached_property
    def alignments(self) -> tuple[tuple[Op, ...], ...]:
        """Every utterance's :func:`edit_ops`, in ``utts`` order.

        ``score(..., align=True)`` makes them with the counts, which costs less;
        otherwise they are made here on first use.
        """
        if self._alignments is not None:
            return self._alignments
        coder = _Coder()
        return tuple(coder.score_pair(utt.ref, utt.hyp, align=True)[1] for utt in self.utts)  # type: ignore[misc]

    @property
    def metric(self) -> str:
        """``WER`` or ``CER``: the name Kaldi-style lines give the rate."""
        return "WER" if self.unit == "word" else "CER"

    @property
    def partial(self) -> bool:
        """Kaldi marks a rate ``[PARTIAL]`` when some reference had no hypothesis."""
        return bool(self.missing_hyp)


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def pair_utterances(
    refs: Mapping[str, str], hyps: Mapping[str, str], mode: str = "strict"
) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """``(id, ref, hyp)`` triples to score, ids of refs without hyp, ids of hyps without ref.

    Kaldi's modes: ``strict`` refuses any unpaired id (on either side, stricter
    than Kaldi, which ignores extra hypotheses), ``present`` skips references
    without hypothesis, ``all`` scores them against an empty hypothesis.
    """
    _check_choice("mode", mode, MODES)
    missing_hyp = [utt for utt in refs if utt not in hyps]
    missing_ref = [utt for utt in hyps if utt not in refs]
    if mode == "strict" and (missing_hyp or missing_ref):
        raise ValueError(f"mode strict: {_unpaired_summary(missing_hyp, missing_ref)}; use mode present or all")
    pairs = [(utt, text, hyps.get(utt, "")) for utt, text in refs.items() if mode == "all" or utt in hyps]
    return pairs, missing_hyp, missing_ref


def _unpaired_summary(missing_hyp: Sequence[str], missing_ref: Sequence[str]) -> str:
    """One line such as ``2 references without hypothesis (a, b), 0 hypotheses without reference``."""

    def ids(utts: Sequence[str]) -> str:
        shown = ", ".join(utts[:3]) + (", ..." if len(utts) > 3 else "")
        return f" ({shown})" if utts else ""

    return (
        f"{len(missing_hyp)} references without hypothesis{ids(missing_hyp)}, "
        f"{len(missing_ref)} hypotheses without reference{ids(missing_ref)}"
    )


def score(
    refs: Mapping[str, str],
    hyps: Mapping[str, str],
    unit: str = "word",
    mode: str = "strict",
    *,
    align: bool = False,
    lowercase: bool = False,
    remove_punct: bool = False,
    ignore_words: Iterable[str] = (),
) -> ScoreResult:
    """Score hypotheses against references matched by utterance id.

    Both sides always go through :func:`asr.text.normalize_text` (NFC, white
    space collapsed), so a decomposed ``é`` never counts as an error; the
    keyword options add case folding, punctuation removal and filler words.
    ``align`` makes every utterance's alignment too (``alignments``), in the
    same pass, for reports that show them.
    """
    _check_choice("unit", unit, UNITS)
    pairs, missing_hyp, missing_ref = pair_utterances(refs, hyps, mode)
    ignore = tuple(ignore_words)
    tokenize = str.split if unit == "word" else str  # a string is its own character sequence
    score_pair = _Coder().score_pair
    utts, alignments = [], []
    for utt_id, ref_text, hyp_text in pairs:
        ref = tokenize(normalize_text(ref_text, lowercase, remove_punct, ignore))
        # The same text normalizes the same: a correct sentence is normalized once.
        hyp = ref if hyp_text == ref_text else tokenize(normalize_text(hyp_text, lowercase, remove_punct, ignore))
        counts, ops = score_pair(ref, hyp, align)
        utts.append(UttScore(utt_id, ref, hyp, counts))
        alignments.append(ops)
    return ScoreResult(
        unit, tuple(utts), tuple(missing_hyp), tuple(missing_ref), tuple(alignments) if align else None
    )


# ---------------------------------------------------------------------------
# Reading transcripts


def _read_lines(path: str | Path) -> list[str]:
    """Lines of a UTF-8 file; a wrong encoding is reported with its line and byte.

    Splits on ``\\n`` only: ``str.splitlines`` would also split on U+2028 or
    form feeds inside a transcript and shift every following utterance.
    """
    data = Path(path).read_bytes()
    for bom, name in _UTF16_32_BOMS.items():
        if data.startswith(bom):
            raise ValueError(f"{path}:1: file is {name} (byte order mark), expected UTF-8; convert it with iconv")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        lineno = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{path}:{lineno}: not UTF-8: byte 0x{data[error.start]:02X} at byte {error.start - line_start + 1} "
            f"of the line ({error.reason}); convert the file, e.g. iconv -f latin1 -t utf-8"
        ) from None
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n") if text else []


def detect_format(lines: Sequence[str]) -> str:
    """``trn`` when the first non-blank line ends with ``(utt-id)``, else ``kaldi``.

    Judging by one line keeps errors precise: a trn file with a later line
    lacking its id fails on that line instead of being read as Kaldi text.
    """
    first = next((line for line in lines if line.strip()), "")
    return "trn" if _TRN_LINE.match(first) else "kaldi"


def _parse_kaldi(lines: Sequence[str], path: str | Path) -> Iterator[tuple[int, str, str]]:
    for lineno, line in enumerate(lines, 1):
        fields = line.split(maxsplit=1)
        if fields:
            yield lineno, fields[0], fields[1] if len(fields) > 1 else ""


def _parse_trn(lines: Sequence[str], path: str | Path) -> Iterator[tuple[int, str, str]]:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _TRN_LINE.match(line)
        if match is None:
            raise ValueError(f"{path}:{lineno}: no utterance id: a trn line must end with '(utt-id)', got {line!r}")
        yield lineno, match["id"], match["text"]


def _parse_plain(lines: Sequence[str], path: str | Path) -> Iterator[tuple[int, str, str]]:
    """Line-aligned files: the id is the line number, a blank line an empty transcript."""
    for lineno, line in enumerate(lines, 1):
        yield lineno, str(lineno), line


_PARSERS = {"kaldi": _parse_kaldi, "trn": _parse_trn, "plain": _parse_plain}


def read_transcripts(path: str | Path, format: str = "auto") -> dict[str, str]:
    """Utterance id -> raw text from a Kaldi ``text``, sclite ``trn`` or plain file.

    A line with an id and no words is an empty transcript.  Blank lines are
    skipped except in plain files, where they are empty transcripts.
    """
    _check_choice("format", format, FORMATS)
    lines = _read_lines(path)
    if format == "auto":
        format = detect_format(lines)
    table: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for lineno, utt, text in _PARSERS[format](lines, path):
        if utt in first_line:
            raise ValueError(f"{path}:{lineno}: duplicate utterance id {utt!r} (first on line {first_line[utt]})")
        first_line[utt] = lineno
        table[utt] = text
    return table


def read_utt2spk(path: str | Path) -> dict[str, str]:
    """Utterance id -> speaker id from a Kaldi ``utt2spk`` file."""
    table = read_transcripts(path, "kaldi")
    for utt, speaker in table.items():
        if len(speaker.split()) != 1:
            raise ValueError(f"{path}: utterance {utt!r} needs exactly one speaker id, got {speaker!r}")
    return {utt: speaker.strip() for utt, speaker in table.items()}


# ---------------------------------------------------------------------------
# Speakers


SpeakerOf = Callable[[str], str]


def speaker_from_pattern(pattern: str) -> SpeakerOf:
    """Speaker = first group of ``pattern`` searched in the id (AN4: ``^\\w+-(\\w+)``)."""
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise ValueError(f"speaker pattern {pattern!r} is not a regular expression: {error}") from None
    if regex.groups < 1:
        raise ValueError(f"speaker pattern {pattern!r} needs a group around the speaker, e.g. '^\\w+-(\\w+)'")

    def speaker_of(utt: str) -> str:
        match = regex.search(utt)
        if match is None or match.group(1) is None:
            raise ValueError(f"speaker pattern {pattern!r} finds no speaker in utterance id {utt!r}")
        return match.group(1)

    return speaker_of


def speaker_from_map(utt2spk: Mapping[str, str]) -> SpeakerOf:
    """Speaker lookup that names the utterance a ``utt2spk`` table lacks."""

    def speaker_of(utt: str) -> str:
        if utt not in utt2spk:
            raise ValueError(f"utt2spk has no speaker for utterance {utt!r}")
        return utt2spk[utt]

    return speaker_of


def speaker_counts(result: ScoreResult, speaker_of: SpeakerOf) -> dict[str, ErrorCounts]:
    """Counts per speaker, sorted by speaker id as sclite lists them."""
    groups: dict[str, list[ErrorCounts]] = defaultdict(list)
    for utt in result.utts:
        groups[speaker_of(utt.utt_id)].append(utt.counts)
    return {speaker: ErrorCounts.total(groups[speaker]) for speaker in sorted(groups)}


# ---------------------------------------------------------------------------
# Kaldi lines


def _kaldi_percent(num: int, den: int) -> str:
    """Two decimals of a rate first narrowed to float32, as Kaldi's ``BaseFloat`` does.

    The narrowing can move a value across a rounding boundary, so skipping it
    would now and then change the last printed digit.
    """
    (value,) = struct.unpack("f", struct.pack("f", _percent(num, den)))
    return f"{value:.2f}"


def kaldi_line(counts: ErrorCounts, metric: str = "WER", partial: bool = False) -> str:
    """``%WER 5.95 [ 46 / 773, 3 ins, 3 del, 40 sub ]``, Kaldi compute-wer's line, byte for byte."""
    line = (
        f"%{metric} {_kaldi_percent(counts.err, counts.ref_tokens)} "
        f"[ {counts.err} / {counts.ref_tokens}, {counts.ins} ins, {counts.dele} del, {counts.sub} sub ]"
    )
    return line + (" [PARTIAL]" if partial else "")


def ser_line(counts: ErrorCounts) -> str:
    """``%SER 12.31 [ 16 / 130 ]``."""
    return f"%SER {_kaldi_percent(counts.sent_err, counts.snt)} [ {counts.sent_err} / {counts.snt} ]"


def scored_line(result: ScoreResult) -> str:
    """Kaldi's closing line, plus the hypotheses it would ignore silently."""
    line = f"Scored {result.totals.snt} sentences, {len(result.missing_hyp)} not present in hyp."
    if result.missing_ref:
        line += f" Ignored {len(result.missing_ref)} hypotheses without reference."
    return line


# ---------------------------------------------------------------------------
# sclite tables and RESULTS.md rows

_TOKEN_LABEL = {"word": "Wrd", "char": "Chr"}
_PERCENT_HEADERS = ("Corr", "Sub", "Del", "Ins", "Err", "S.Err")


def _percent_cells(counts: ErrorCounts) -> list[str]:
    """sclite's six percentages with one decimal; all but S.Err are per reference token."""
    per_token = (counts.corr, counts.sub, counts.dele, counts.ins, counts.err)
    values = [_percent(n, counts.ref_tokens) for n in per_token] + [_percent(counts.sent_err, counts.snt)]
    return [f"{value:.1f}" for value in values]


def sclite_table(result: ScoreResult, speaker_of: SpeakerOf | None = None, title: str = "") -> str:
    """sclite's ``SYSTEM SUMMARY PERCENTAGES by SPEAKER`` box (ESPnet's ``result.txt``).

    One row per speaker when ``speaker_of`` is given, then the ``Sum/Avg`` row
    that ESPnet's scripts grep for.
    """
    rows = list(speaker_counts(result, speaker_of).items()) if speaker_of else []
    rows.append(("Sum/Avg", result.totals))
    cells = [(name, str(c.snt), str(c.ref_tokens), _percent_cells(c)) for name, c in rows]
    header = ("SPKR", "# Snt", f"# {_TOKEN_LABEL[result.unit]}", list(_PERCENT_HEADERS))
    widths = [max(len(row[i]) for row in [*cells, header]) for i in range(3)]
    percent_width = max(len(text) for row in [*cells, header] for text in row[3])

    def line(name: str, snt: str, tokens: str, percents: list[str]) -> str:
        numbers = " ".join(text.rjust(percent_width) for text in percents)
        return f"| {name:<{widths[0]}} | {snt:>{widths[1]}} {tokens:>{widths[2]}} | {numbers} |"

    header_line = line(*header)
    rule = "|" + "".join("+" if c == "|" else "-" for c in header_line[1:-1]) + "|"
    inner = len(header_line) - 2
    out = [
        "SYSTEM SUMMARY PERCENTAGES by SPEAKER",
        "",
        "," + "-" * inner + ".",
        "|" + title.center(inner) + "|",
        "|" + "-" * inner + "|",
        header_line,
        rule,
    ]
    for row in cells[:-1]:
        out += [line(*row), rule]
    out += ["|" + "=" * inner + "|", line(*cells[-1]), "`" + "-" * inner + "'"]
    return "\n".join(out) + "\n"


def markdown_header(unit: str = "word") -> str:
    """Header and alignment rows of the RESULTS.md table that :func:`markdown_row` fills."""
    columns = ["dataset", "Snt", _TOKEN_LABEL[unit], *_PERCENT_HEADERS]
    return _markdown_cells(columns) + "\n" + "|" + "|".join(["---"] + ["---:"] * (len(columns) - 1)) + "|"


def markdown_row(dataset: str, counts: ErrorCounts) -> str:
    """``| test | 130 | 773 | 93.4 | 5.2 | 1.4 | 0.6 | 7.1 | 36.2 |``."""
    return _markdown_cells([dataset, str(counts.snt), str(counts.ref_tokens), *_percent_cells(counts)])


def _markdown_cells(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


# ---------------------------------------------------------------------------
# Alignments and confusions


def _shown(token: str | None) -> str:
    """A token as printed: a space as ``<space>``, a missing token as nothing."""
    if token is None:
        return ""
    return _SPACE_SHOWN_AS if token == " " else token


def _column(op: str, ref: str | None, hyp: str | None) -> tuple[str, str, str]:
    """One aligned position padded to a common width; a missing side is ``***`` (or longer)."""
    width = max(len(_shown(ref)), len(_shown(hyp)), 3 if op in ("D", "I") else 0)
    ref_text, hyp_text = ("*" * width if token is None else _shown(token) for token in (ref, hyp))
    return ref_text.ljust(width), hyp_text.ljust(width), ("" if op == "C" else op).ljust(width)


def alignment_rows(ops: Sequence[Op]) -> tuple[str, str, str]:
    """sclite ``pra`` rows (REF, HYP, Eval), one padded column per aligned position."""
    if not ops:
        return "", "", ""
    ref_row, hyp_row, eval_row = (" ".join(row).rstrip() for row in zip(*(_column(*op) for op in ops)))
    return ref_row, hyp_row, eval_row


def pra_text(result: ScoreResult) -> str:
    """Every utterance's alignment in sclite's ``pra`` layout."""
    blocks = []
    for utt, ops in zip(result.utts, result.alignments):
        c = utt.counts
        ref_row, hyp_row, eval_row = alignment_rows(ops)
        lines = [
            f"id: ({utt.utt_id})",
            f"Scores: (#C #S #D #I) {c.corr} {c.sub} {c.dele} {c.ins}",
            f"REF:  {ref_row}",
            f"HYP:  {hyp_row}",
            f"Eval: {eval_row}",
        ]
        blocks.append("".join(line.rstrip() + "\n" for line in lines))
    return "\n".join(blocks)


@dataclass(frozen=True)
class Confusions:
    """Substitution pairs, insertions and deletions with counts, most frequent first."""

    substitutions: list[tuple[tuple[str, str], int]]
    insertions: list[tuple[str, int]]
    deletions: list[tuple[str, int]]


def _ranked(counter: Counter) -> list:
    """Most frequent first, ties by token so that reports are reproducible."""
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def confusions(result: ScoreResult) -> Confusions:
    """What the errors are: which token replaced which, which were inserted or dropped."""
    tallies: dict[str, Counter] = {"S": Counter(), "I": Counter(), "D": Counter()}
    for ops in result.alignments:
        for op, ref, hyp in ops:
            if op == "S":
                tallies["S"][ref, hyp] += 1
            elif op == "I":
                tallies["I"][hyp] += 1
            elif op == "D":
                tallies["D"][ref] += 1
    return Confusions(_ranked(tallies["S"]), _ranked(tallies["I"]), _ranked(tallies["D"]))


def confusion_report(found: Confusions, top: int = 20) -> str:
    """The ``top`` entries of each kind, laid out like sclite's ``dtl`` sections."""
    sections = [
        ("CONFUSION PAIRS", [(f"{_shown(r)} ==> {_shown(h)}", n) for (r, h), n in found.substitutions]),
        ("INSERTIONS", [(_shown(token), n) for token, n in found.insertions]),
        ("DELETIONS", [(_shown(token), n) for token, n in found.deletions]),
    ]
    out = []
    for title, entries in sections:
        out.append(f"{title:<32} Total {sum(n for _, n in entries)}, distinct {len(entries)}, top {top}")
        out += [f"{rank:4d}: {n:5d}  ->  {text}" for rank, (text, n) in enumerate(entries[:top], 1)]
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# Bootstrap confidence interval


@dataclass(frozen=True)
class BootstrapInterval:
    """Mean error rate over bootstrap draws and its 95 % interval, as fractions."""

    mean: float
    low: float
    high: float
    draws: int


def bootstrap_interval(result: ScoreResult, draws: int = 1000, seed: int = 0) -> BootstrapInterval | None:
    """Kaldi ``compute-wer-bootci``'s interval (Bisani & Ney 2004): resample utterances.

    Each draw picks as many utterances as were scored, with replacement, and
    takes its pooled error rate; the interval is mean +- 1.96 standard
    deviations of those rates, exactly Kaldi's normal approximation.  Seeded,
    so a report is reproducible.  ``None`` when there is nothing to resample.
    """
    import numpy as np

    errors = np.array([utt.counts.err for utt in result.utts], dtype=np.int64)
    tokens = np.array([utt.counts.ref_tokens for utt in result.utts], dtype=np.int64)
    if draws <= 0 or tokens.sum() == 0:
        return None
    rng = np.random.default_rng(seed)
    rates = np.empty(draws)
    block = max(1, _BOOTSTRAP_BLOCK // len(errors))
    for start in range(0, draws, block):
        picks = rng.integers(0, len(errors), size=(min(block, draws - start), len(errors)))
        # A draw of empty references only would divide by zero; it counts its errors per one token.
        rates[start : start + len(picks)] = errors[picks].sum(1) / np.maximum(tokens[picks].sum(1), 1)
    mean, half = float(rates.mean()), 1.96 * float(rates.std())
    return BootstrapInterval(mean, mean - half, mean + half, draws)


def bootstrap_line(interval: BootstrapInterval, metric: str = "WER") -> str:
    """``%WER 5.95 95% Conf Interval [ 4.52, 7.38 ]``, compute-wer-bootci's line."""
    return (
        f"%{metric} {100 * interval.mean:.2f} 95% Conf Interval "
        f"[ {100 * interval.low:.2f}, {100 * interval.high:.2f} ]"
    )


# ---------------------------------------------------------------------------
# JSON


def summary(
    result: ScoreResult,
    speaker_of: SpeakerOf | None = None,
    interval: BootstrapInterval | None = None,
    top: int = 20,
) -> dict:
    """Machine-readable report of one metric: totals, speakers, ids, confusions, utterances."""
    found = confusions(result)
    return {
        "metric": result.metric,
        "unit": result.unit,
        "totals": result.totals.as_dict(),
        "partial": result.partial,
        "missing_hyp": list(result.missing_hyp),
        "missing_ref": list(result.missing_ref),
        "bootstrap": None if interval is None else asdict(interval),
        "speakers": {spk: c.as_dict() for spk, c in speaker_counts(result, speaker_of).items()} if speaker_of else {},
        "confusions": {
            "substitutions": [{"ref": r, "hyp": h, "count": n} for (r, h), n in found.substitutions[:top]],
            "insertions": [{"hyp": token, "count": n} for token, n in found.insertions[:top]],
            "deletions": [{"ref": token, "count": n} for token, n in found.deletions[:top]],
        },
        "utterances": [{"id": utt.utt_id, **utt.counts.as_dict()} for utt in result.utts],
    }
