"""Kaldi / sclite error counts of utterances and corpora, and their rates.

Counting follows Kaldi's ``compute-wer``: minimum edit distance with unit
costs, ``%WER = 100 * (S + D + I) / N`` over reference tokens, a sentence is
wrong when its token sequences differ.  This module holds the record of those
counts and the arithmetic on them (sums, rates in Kaldi's order of
operations, JSON form), which every other part of the package shares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Iterable


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
