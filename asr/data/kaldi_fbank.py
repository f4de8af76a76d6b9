"""Kaldi fbank and CMVN without torch: the settings, kaldi-native-fbank's fbank, CMVN statistics in numpy.

Training computes fbank with torchaudio (:func:`asr.data.features.fbank`);
the torch-free runtime (:mod:`asr.runtime`) computes it here with
kaldi-native-fbank, set up as torchaudio's Kaldi compliance code is (no
dither, energy floor 0, Kaldi's defaults otherwise): on the 130 AN4 test
recordings the two agree within 1e-3 (``tests/test_onnx_runtime.py``).
CMVN statistics and the normalization they give are computed here for both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Kaldi computes on 16-bit sample values, and its energy floor assumes that scale.
SAMPLE_SCALE = 32768.0


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


def frame_samples(config: FbankConfig) -> int:
    """Samples in one analysis frame."""
    return int(config.sample_rate * config.frame_length_ms / 1000)


def check_length(num_samples: int, config: FbankConfig) -> None:
    """Refuse audio shorter than one frame (Kaldi gives it no frames, and the model nothing to read)."""
    least = frame_samples(config)
    if num_samples < least:
        raise ValueError(f"audio shorter than one frame ({num_samples} < {least} samples)")


def digital_silence(samples: np.ndarray) -> np.ndarray:
    """Where ``samples`` are digital silence: below half a 16-bit step, what a 16-bit file stores as 0.

    That is exact zeros, and the ringing a resampler spreads into them, which
    holds as little: 8 kHz audio padded with zeros and resampled to 16 kHz
    rings tens of milliseconds into the zeros, far below -100 dBFS.
    """
    return np.abs(samples) < 0.5 / SAMPLE_SCALE


def dither_digital_silence(samples: np.ndarray, config: FbankConfig) -> np.ndarray:
    """``samples`` with every run of digital silence a frame long or longer replaced by noise of one 16-bit step.

    Digital silence (padding, a muted stretch, recordings joined with zeros)
    holds no energy to speak of: its log mel frames sit far below, about 20
    below those of the quietest recorded room, and a model that subtracts
    each input's mean frame (``utterance_mean``) then sees its speech shifted
    far from anything it trained on (AN4 test joined with 0.3 s of zeros: 63
    word errors in 348 against 27 with quiet noise there).  The noise is
    Kaldi's dither (Gaussian, one 16-bit step: -90 dBFS), seeded, so the same
    input gives the same features; a 16-bit recording is never zero for a
    whole frame (no AN4 file is), so its features do not change.
    """
    zero = digital_silence(np.asarray(samples))
    if not zero.any():
        return samples
    edges = np.flatnonzero(np.diff(np.concatenate(([0], zero.astype(np.int8), [0]))))
    starts, ends = edges[::2], edges[1::2]
    long = ends - starts >= frame_samples(config)
    if not long.any():
        return samples
    out = np.array(samples, dtype=np.float32)
    rng = np.random.default_rng(0)
    for start, end in zip(starts[long], ends[long]):
        out[start:end] = rng.standard_normal(end - start) / SAMPLE_SCALE
    return out


def native_fbank(samples: np.ndarray, config: FbankConfig) -> np.ndarray:
    """(T, num_mel_bins) float32 log mel energies of mono samples in [-1, 1], by kaldi-native-fbank."""
    import kaldi_native_fbank as knf  # the runtime's dependency: training never loads it

    check_length(len(samples), config)
    options = knf.FbankOptions()
    options.frame_opts.samp_freq = config.sample_rate
    options.frame_opts.frame_length_ms = config.frame_length_ms
    options.frame_opts.frame_shift_ms = config.frame_shift_ms
    options.frame_opts.dither = config.dither
    options.mel_opts.num_bins = config.num_mel_bins
    options.energy_floor = 0.0
    computer = knf.OnlineFbank(options)
    samples = dither_digital_silence(np.asarray(samples, dtype=np.float32), config)
    computer.accept_waveform(config.sample_rate, samples * SAMPLE_SCALE)
    computer.input_finished()
    # Copied while the computer lives: its frames are views of its own buffer.
    return np.array([computer.get_frame(i) for i in range(computer.num_frames_ready)], dtype=np.float32)


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


def cmvn_arrays(stats: np.ndarray, floor: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Float32 mean and inverse standard deviation from Kaldi CMVN stats (computed in float64)."""
    stats = np.asarray(stats, dtype=np.float64)
    count = stats[0, -1]
    if count <= 0:
        raise ValueError("CMVN stats hold no frames")
    mean = stats[0, :-1] / count
    var = np.maximum(stats[1, :-1] / count - np.square(mean), floor)
    return mean.astype(np.float32), (1.0 / np.sqrt(var)).astype(np.float32)
