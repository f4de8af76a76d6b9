"""Kaldi-compatible filterbank features, CMVN, frame stacking, SpecAugment.

Pure functions on tensors (in the style of ``torchaudio.functional``); the
feature stage that writes ark/scp files lives in :mod:`asr.data.extract`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchaudio


@dataclass
class FbankConfig:
    """Log mel filterbank settings; the defaults are Kaldi's, with 80 bins."""

    sample_rate: int = 16000  # audio is resampled to this rate first
    num_mel_bins: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    dither: float = 0.0  # 0 keeps features reproducible; Kaldi's default is 1.0

    def __post_init__(self) -> None:
        if self.num_mel_bins <= 0 or self.frame_shift_ms <= 0 or self.frame_length_ms < self.frame_shift_ms:
            raise ValueError(f"invalid fbank config: {self}")

    @property
    def dim(self) -> int:
        return self.num_mel_bins


def fbank(samples: np.ndarray | torch.Tensor, config: FbankConfig) -> torch.Tensor:
    """(T, num_mel_bins) log mel energies of mono samples in [-1, 1].

    Samples are scaled to the 16-bit range first, because Kaldi computes on
    integer sample values and its energy floor assumes that scale.
    """
    wave = torch.as_tensor(samples, dtype=torch.float32).reshape(1, -1) * 32768.0
    min_samples = int(config.sample_rate * config.frame_length_ms / 1000)
    if wave.shape[1] < min_samples:
        raise ValueError(f"audio shorter than one frame ({wave.shape[1]} < {min_samples} samples)")
    return torchaudio.compliance.kaldi.fbank(
        wave,
        sample_frequency=config.sample_rate,
        num_mel_bins=config.num_mel_bins,
        frame_length=config.frame_length_ms,
        frame_shift=config.frame_shift_ms,
        dither=config.dither,
        energy_floor=0.0,
    )


def accumulate_cmvn(stats: np.ndarray | None, feats: np.ndarray) -> np.ndarray:
    """Add one utterance to Kaldi CMVN stats: a 2 x (D+1) float64 matrix.

    Row 0 holds per-dimension sums and the frame count, row 1 the sums of
    squares: the layout Kaldi's ``compute-cmvn-stats`` writes.
    """
    if stats is None:
        stats = np.zeros((2, feats.shape[1] + 1), dtype=np.float64)
    stats[0, :-1] += feats.sum(axis=0)
    stats[1, :-1] += np.square(feats, dtype=np.float64).sum(axis=0)
    stats[0, -1] += feats.shape[0]
    return stats


def cmvn_from_stats(stats: np.ndarray | torch.Tensor, floor: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and inverse standard deviation from Kaldi CMVN stats."""
    stats = torch.as_tensor(stats, dtype=torch.float64)
    count = stats[0, -1]
    if count <= 0:
        raise ValueError("CMVN stats hold no frames")
    mean = stats[0, :-1] / count
    var = (stats[1, :-1] / count - mean.square()).clamp_min(floor)
    return mean.float(), var.rsqrt().float()


def stack_frames(feats: torch.Tensor, lengths: torch.Tensor, stack: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate ``stack`` consecutive frames and keep every ``stack``-th.

    (B, T, D) -> (B, T // stack, D * stack).  The LSTM then runs at a
    ``stack`` times lower frame rate, which cuts training cost about as much.
    """
    if stack == 1:
        return feats, lengths
    batch, frames, dim = feats.shape
    frames = frames // stack * stack
    out = feats[:, :frames].reshape(batch, frames // stack, dim * stack)
    return out, torch.div(lengths, stack, rounding_mode="floor")


@dataclass
class SpecAugmentConfig:
    """SpecAugment (Park et al. 2019) masks, applied to training batches only."""

    freq_masks: int = 2
    freq_width: int = 27  # maximum width of one frequency mask, in bins
    time_masks: int = 2
    time_width: float = 0.05  # maximum width of one time mask, as a fraction of the utterance

    def __post_init__(self) -> None:
        if min(self.freq_masks, self.freq_width, self.time_masks) < 0 or not 0 <= self.time_width < 1:
            raise ValueError(f"invalid SpecAugment config: {self}")


def spec_augment(
    feats: torch.Tensor, lengths: torch.Tensor, config: SpecAugmentConfig, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Zero random frequency bands and time spans of a (B, T, D) batch.

    Masks are drawn per utterance and within each utterance's own length.
    Features are CMVN-normalized before this, so zero is the mean.
    """
    feats = feats.clone()
    batch, frames, dim = feats.shape
    bins = torch.arange(dim)
    steps = torch.arange(frames)
    for b in range(batch):
        length = int(lengths[b])
        for _ in range(config.freq_masks):
            width = int(torch.randint(0, config.freq_width + 1, (1,), generator=generator))
            start = int(torch.randint(0, max(1, dim - width), (1,), generator=generator))
            feats[b, :, (bins >= start) & (bins < start + width)] = 0.0
        max_width = int(config.time_width * length)
        for _ in range(config.time_masks):
            width = int(torch.randint(0, max_width + 1, (1,), generator=generator))
            start = int(torch.randint(0, max(1, length - width), (1,), generator=generator))
            feats[b, (steps >= start) & (steps < start + width)] = 0.0
    return feats
