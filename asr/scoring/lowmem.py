"""Kaldi's per-token alignment (``align-text``), in linear memory for long pairs.

Kaldi's ``LevenshteinAlignment`` (the compiled code that the ``kaldialign``
package wraps, through ``_kaldialign.align``) keeps its whole cost matrix;
beyond 64 MiB of it (a pair of about 4,000 x 4,000 tokens) the same
alignment, ties included, is found piecewise in linear memory by
:class:`_LowMemoryAlignment`, so long-form transcripts get reports without
12 GiB of memory.  Kaldi's counting program keeps two rows only, so counts
need nothing of the kind (see :mod:`asr.scoring.edits`).
"""

from __future__ import annotations

from typing import Any

import _kaldialign  # kaldialign's compiled Kaldi code; why not its Python functions: see edits._Coder
from rapidfuzz.distance import Levenshtein

# Kaldi's epsilon in alignments: no token's code (codes count from 0).
_EPS = -1


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
