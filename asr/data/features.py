"""Kaldi-compatible filterbank features, CMVN, utterance mean, frame stacking, SpecAugment.

Pure functions on tensors (in the style of ``torchaudio.functional``); the
feature stage that writes ark/scp files lives in :mod:`asr.data.extract`.
The settings and the CMVN arithmetic are numpy code shared with the
torch-free runtime (:mod:`asr.data.kaldi_fbank`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchaudio

from asr.data.kaldi_fbank import SAMPLE_SCALE, FbankConfig, check_length, cmvn_arrays, dither_digital_silence


def fbank(samples: np.ndarray | torch.Tensor, config: FbankConfig) -> torch.Tensor:
    """(T, num_mel_bins) log mel energies of mono samples in [-1, 1].

    Samples are scaled to the 16-bit range first, because Kaldi computes on
    integer sample values and its energy floor assumes that scale.  Digital
    silence gets Kaldi's dither first (:func:`dither_digital_silence`).
    """
    if isinstance(samples, torch.Tensor):
        samples = samples.detach().cpu().numpy()
    samples = dither_digital_silence(np.asarray(samples, dtype=np.float32).reshape(-1), config)
    wave = torch.as_tensor(samples, dtype=torch.float32).reshape(1, -1) * SAMPLE_SCALE
    check_length(wave.shape[1], config)
    return torchaudio.compliance.kaldi.fbank(
        wave,
        sample_frequency=config.sample_rate,
        num_mel_bins=config.num_mel_bins,
        frame_length=config.frame_length_ms,
        frame_shift=config.frame_shift_ms,
        dither=config.dither,
        energy_floor=0.0,
    )


def cmvn_from_stats(stats: np.ndarray | torch.Tensor, floor: float = 1e-10) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and inverse standard deviation from Kaldi CMVN stats (:func:`asr.data.kaldi_fbank.cmvn_arrays`)."""
    mean, inv_std = cmvn_arrays(stats.numpy() if isinstance(stats, torch.Tensor) else stats, floor)
    return torch.from_numpy(mean), torch.from_numpy(inv_std)


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


def subtract_utterance_mean(feats: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Subtract from each (B, T, D) sequence its mean frame over its own length; padding stays zero.

    A recording's level, and a fixed channel's colouring (a microphone, a
    telephone line), add a constant to each log mel bin: this removes it, so
    a model need not learn it from data.
    """
    x = feats.float()  # sums of hundreds of frames: not in half precision
    valid = (torch.arange(x.shape[1], device=x.device) < lengths.to(x.device).unsqueeze(1)).unsqueeze(2).float()
    mean = (x * valid).sum(dim=1, keepdim=True) / valid.sum(dim=1, keepdim=True).clamp(min=1)
    return ((x - mean) * valid).to(feats.dtype)


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
