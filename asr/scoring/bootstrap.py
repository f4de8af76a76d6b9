"""Bootstrap confidence interval of an error rate, as Kaldi's ``compute-wer-bootci``."""

from __future__ import annotations

from dataclasses import dataclass

from asr.scoring.scorer import ScoreResult

_BOOTSTRAP_BLOCK = 4_000_000  # resampled indices held in memory at once


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
