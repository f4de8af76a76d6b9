import numpy as np
import torch
import torchaudio

from asr.audio import read_audio
from asr.features import (
    FbankConfig, SpecAugmentConfig, accumulate_cmvn, cmvn_from_stats, fbank, spec_augment, stack_frames,
)


def test_fbank_matches_kaldi_on_real_audio(an4_wavs):
    samples = read_audio(an4_wavs[0])
    feats = fbank(samples, FbankConfig())
    assert feats.shape == (1 + (len(samples) - 400) // 160, 80)
    # Kaldi computes on 16-bit integer values: same as torchaudio's kaldi fbank on the int16 samples.
    ints = torch.from_numpy(samples * 32768).reshape(1, -1)
    expected = torchaudio.compliance.kaldi.fbank(ints, num_mel_bins=80, dither=0.0, energy_floor=0.0)
    torch.testing.assert_close(feats, expected)
    assert torch.isfinite(feats).all()


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
