"""Progress bars: on a terminal only, so that log files never get carriage-return redraws."""

from __future__ import annotations

import sys
from typing import Iterable, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress_bar(desc: str, total: int, show: bool = True, items: Iterable[T] | None = None, unit: str = "utt",
                 *, delay: float = 1, leave: bool = False) -> tqdm:
    """A tqdm bar on stderr (over ``items``, or updated by hand), drawn only if ``show`` and stderr is a terminal.

    tqdm's ``disable=None`` is the terminal test: a log file (a recipe's, a
    parallel job's) never gets the carriage-return redraws.  By default a
    run quicker than ``delay`` seconds draws nothing, and a finished bar
    leaves no line (``leave``).
    """
    return tqdm(items, desc=desc, total=total, unit=unit, file=sys.stderr, disable=None if show else True, delay=delay,
                mininterval=1, leave=leave, dynamic_ncols=True)
