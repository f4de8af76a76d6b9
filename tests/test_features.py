import numpy as np
import pytest
import torch

from asr.data.audio import read_audio, resample
from asr.data.features import (
    SpecAugmentConfig,
    cmvn_from_stats,
    fbank,
    spec_augment,
    stack_frames,
    subtract_utterance_mean,
)
from asr.data.kaldi_fbank import FbankConfig, accumulate_cmvn, digital_silence, dither_digital_silence, native_fbank


def kaldi_fbank_reference(samples: np.ndarray, bins: int = 80) -> np.ndarray:
    """Kaldi's compute-fbank-feats defaults, written out from its feature-window.cc and mel-computations.cc.

    25 ms Povey windows every 10 ms (snip edges), DC removed, pre-emphasis
    0.97, 512-point power spectrum, triangular bins on 1127 ln(1 + f/700)
    from 20 Hz to Nyquist, log floored at float epsilon; on 16-bit sample values.
    """
    wave = samples.astype(np.float64) * 32768
    frames = np.stack([wave[i * 160 : i * 160 + 400] for i in range(1 + (len(wave) - 400) // 160)])
    frames -= frames.mean(axis=1, keepdims=True)
    frames[:, 1:] -= 0.97 * frames[:, :-1].copy()
    frames[:, 0] *= 1 - 0.97
    frames *= (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399)) ** 0.85
    power = np.abs(np.fft.rfft(frames, 512)) ** 2
    mel = lambda f: 1127 * np.log(1 + f / 700)  # noqa: E731
    low, high = mel(20.0), mel(8000.0)
    delta = (high - low) / (bins + 1)
    fft_mel = mel(np.arange(256) * 16000 / 512)
    weights = np.zeros((bins, 257))
    for b in range(bins):
        left, center, right = low + b * delta, low + (b + 1) * delta, low + (b + 2) * delta
        rising, falling = (fft_mel - left) / (center - left), (right - fft_mel) / (right - center)
        weights[b, :256] = np.where((fft_mel > left) & (fft_mel < right), np.minimum(rising, falling), 0)
    return np.log(np.maximum(power @ weights.T, np.finfo(np.float32).eps))


def test_fbank_matches_kaldi_on_real_audio(an4_wavs):
    samples = read_audio(an4_wavs[0])
    feats = fbank(samples, FbankConfig())
    assert feats.shape == (1 + (len(samples) - 400) // 160, 80)
    np.testing.assert_allclose(feats.numpy(), kaldi_fbank_reference(samples), atol=1e-3)


def test_cmvn_stats_match_numpy(an4_wavs):
    utts = [fbank(read_audio(p), FbankConfig()).numpy() for p in an4_wavs[:3]]
    stats = None
    for feats in utts:
        stats = accumulate_cmvn(stats, feats)
    everything = np.concatenate(utts).astype(np.float64)
    assert stats[0, -1] == len(everything)
    mean, inv_std = cmvn_from_stats(stats)
    np.testing.assert_allclose(mean, everything.mean(0), rtol=1e-5)
    np.testing.assert_allclose(inv_std, 1 / everything.std(0), rtol=1e-4)


def test_utterance_mean_makes_real_audio_level_free_and_keeps_padding_zero(an4_wavs):
    """A recording 25 dB quieter is the same features after the utterance mean, within the padded batch too."""
    samples = read_audio(an4_wavs[0])
    loud, quiet = fbank(samples, FbankConfig()), fbank(samples * 10 ** (-25 / 20), FbankConfig())
    assert (loud - quiet).mean() > 5.0  # ln(10 ** 2.5) = 5.76 in every bin, less where the log floor is hit
    other = fbank(read_audio(an4_wavs[1]), FbankConfig())
    frames = max(len(loud), len(other))
    batch = torch.zeros(3, frames, 80)
    for row, feats in enumerate((loud, quiet, other)):
        batch[row, : len(feats)] = feats
    lengths = torch.tensor([len(loud), len(quiet), len(other)])
    out = subtract_utterance_mean(batch, lengths)
    torch.testing.assert_close(out[0], out[1], atol=1e-3, rtol=0)
    for row, length in enumerate(lengths.tolist()):
        torch.testing.assert_close(out[row, :length].mean(0), torch.zeros(80), atol=1e-4, rtol=0)
        assert not out[row, length:].any()
    torch.testing.assert_close(out[2, : len(other)], other - other.mean(0), atol=1e-4, rtol=0)


def test_stack_frames():
    feats = torch.arange(2 * 7 * 2, dtype=torch.float32).reshape(2, 7, 2)
    stacked, lengths = stack_frames(feats, torch.tensor([7, 5]), 3)
    assert stacked.shape == (2, 2, 6)
    assert lengths.tolist() == [2, 1]
    assert stacked[0, 1].tolist() == feats[0, 3:6].reshape(-1).tolist()


def test_spec_augment_masks_stay_within_each_length_and_are_reproducible():
    feats = torch.ones(2, 100, 80)
    lengths = torch.tensor([100, 40])
    config = SpecAugmentConfig(freq_masks=2, freq_width=10, time_masks=2, time_width=0.2)
    out = spec_augment(feats, lengths, config, torch.Generator().manual_seed(0))
    again = spec_augment(feats, lengths, config, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert (out == 0).any() and feats.eq(1).all()  # input untouched
    masked_frames = (out[1] == 0).all(dim=1).nonzero().flatten()
    assert masked_frames.numel() == 0 or masked_frames.max() < 40
    assert (out[0] == 0).all(dim=0).sum() <= 20  # at most two bands of 10 bins


def test_resampler_ringing_in_digital_silence_is_digital_silence(an4_wavs):
    """8 kHz audio padded with zeros and resampled to 16 kHz rings for tens of ms into the zeros at below
    half a 16-bit step: that is digital silence too, and gets the dither; a one-step signal does not."""
    config = FbankConfig()
    narrow = resample(read_audio(an4_wavs[0], 16000), 16000, 8000)
    padded = resample(np.concatenate([np.zeros(3200, np.float32), narrow]), 8000, 16000)
    assert digital_silence(padded[:6000]).all() and (padded[:6000] != 0).sum() >= 400
    out = dither_digital_silence(padded, config)
    assert np.std(out[:6000]) * 32768 == pytest.approx(1.0, rel=0.1)
    step = np.full(800, 1 / 32768, np.float32)
    assert dither_digital_silence(step, config) is step


def test_digital_silence_gets_kaldi_dither_and_recorded_audio_does_not(an4_wavs):
    """A frame-long run of exact zeros (padding, recordings joined with zeros) becomes noise of one 16-bit
    step, the same each time; real AN4 audio, and shorter runs of zeros, are left as they are."""
    config = FbankConfig()
    speech = read_audio(an4_wavs[0], 16000)
    assert dither_digital_silence(speech, config) is speech
    short = np.concatenate([speech, np.zeros(399, np.float32), speech])
    assert dither_digital_silence(short, config) is short
    padded = np.concatenate([np.zeros(4000, np.float32), speech, np.zeros(400, np.float32)])
    out = dither_digital_silence(padded, config)
    assert np.array_equal(out[4000:-400], speech) and np.array_equal(out, dither_digital_silence(padded, config))
    assert np.all(out[:4000] != 0) and np.all(out[-400:] != 0)
    assert np.std(out[:4000]) * 32768 == pytest.approx(1.0, rel=0.1)
    # The padding's features are those of a very quiet recording: above the float floor (log of float
    # epsilon, -15.9, as every bin of digital silence was) by 10 or more, and well below the speech.
    feats = fbank(padded, config)
    assert np.abs(native_fbank(padded, config) - feats.numpy()).max() < 1e-3  # the runtime's fbank does the same
    assert feats[:20].min() > np.log(np.finfo(np.float32).eps) + 10 and feats[:20].max() < feats.max() - 5
