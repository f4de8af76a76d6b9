"""On-the-fly waveform augmentation: config checks, draws on real AN4 audio, and training with it."""

import kaldiio
import numpy as np
import pytest
import torch

from asr.config import from_dict
from asr.data.audio import read_audio
from asr.data.augment import WaveAugmentConfig, WaveAugmenter, degrade_waveform
from asr.data.batching import load_utterances
from asr.data.datadir import validate_data_dir
from asr.data.features import fbank
from asr.data.frontend import normalization
from asr.data.kaldi_fbank import FbankConfig
from asr.data.kinds import load_feature_config
from asr.data.text import Tokenizer
from asr.inference.model_file import read_checkpoint
from asr.train.loop import TrainConfig, train

ALL_ON = dict(trim=1.0, reverb=1.0, noise=1.0, gain=1.0, narrowband=1.0, rooms=2, rt60=(0.3, 0.4))


@pytest.mark.parametrize("values, message", [
    ({"noise": 1.5}, "noise must be a probability"),
    ({"snr_db": (20.0, 5.0)}, "snr_db must be \\[low, high\\]"),
    ({"rooms": 0}, "rooms and start_epoch must be at least 1"),
    ({"start_epoch": 0}, "rooms and start_epoch must be at least 1"),
    ({"rt60": (0.0, 0.5)}, "rt60 > 0"),
    ({"gate": 2.0}, "gate must be a probability"),
    ({"gate_pad": (-1.0, 1.0)}, "gate_pad must be >= 0"),
    ({"gate_level_db": (-80.0, -100.0)}, "gate_level_db must be \\[low, high\\]"),
    ({"start_epoch": 5, "end_epoch": 4}, "end_epoch \\(4\\) must not come before start_epoch \\(5\\)"),
])
def test_bad_settings_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        WaveAugmentConfig(**values)


def test_the_config_reads_from_yaml_values_and_is_off_by_default():
    assert not WaveAugmentConfig().active
    assert WaveAugmentConfig(snr_db=[5, 20]).snr_db == (5, 20)  # a list from Python compares as YAML's tuple
    config = from_dict(TrainConfig, {"wave_augment": {"noise": 0.5, "snr_db": [5, 20]}})
    assert config.wave_augment.active and config.wave_augment.snr_db == (5.0, 20.0)


def test_no_draw_returns_the_samples_themselves(an4_wavs):
    samples = read_audio(an4_wavs[0])
    out = degrade_waveform(samples, 16000, WaveAugmentConfig(), np.random.default_rng(0), [], lambda rng: [])
    assert out is samples


def test_every_degradation_at_once_on_real_audio(an4_wavs):
    from asr.data import degrade

    samples = read_audio(an4_wavs[0])
    others = [read_audio(path) for path in an4_wavs[1:4]]
    config = WaveAugmentConfig(**{**ALL_ON, "trim": 0.0})  # trimming changes the length: see the training test
    loud = degrade_waveform(samples * 100, 16000, WaveAugmentConfig(gain=1.0, gain_db=(15.0, 15.0)),
                            np.random.default_rng(0), [], lambda rng: [])
    assert np.abs(loud).max() == 1.0  # the gain stage clips
    rirs = [degrade.room_impulse_response(0.3, 16000, np.random.default_rng(0))]

    def draw(seed):
        return degrade_waveform(samples, 16000, config, np.random.default_rng(seed), rirs, lambda rng: others)

    out = draw(1)
    assert out.dtype == np.float32 and len(out) == len(samples) and np.isfinite(out).all()
    assert not np.array_equal(out, samples)
    np.testing.assert_array_equal(draw(1), out)  # the draw is the generator's alone
    assert not np.array_equal(draw(2), out)


@pytest.fixture(scope="module")
def train_set(mini_data):
    data = validate_data_dir(mini_data / "train", need_feats=True)
    features = load_feature_config(mini_data / "train")
    cmvn = torch.tensor(kaldiio.load_mat(str(mini_data / "train" / "cmvn.ark")))
    tokenizer = Tokenizer.from_texts(data.text.values())
    utts, _ = load_utterances(data, tokenizer, 1, for_training=True)
    return data, features, cmvn, utts


def test_augmented_features_are_normalized_fbank_of_the_degraded_audio(train_set):
    data, features, cmvn, utts = train_set
    mean, inv_std = normalization(features, cmvn)
    augmenter = WaveAugmenter(WaveAugmentConfig(gain=1.0, gain_db=(-10.0, -10.0)), data, utts, features,
                              mean, inv_std, subsampling=3, seed=1)
    utt = utts[0]
    feats = augmenter.features_of(utt, np.random.default_rng(0))
    samples = read_audio(data.source[utt.key], allow_pipe=True)
    # 16-bit caching, then -10 dB: the same as fbank of the quieter audio, to rounding.
    expected = (fbank(np.round(samples * 32767) / 32767 * 10 ** (-10 / 20), FbankConfig()) - mean) * inv_std
    torch.testing.assert_close(feats, expected, atol=2e-3, rtol=0)
    assert feats.shape[0] == utt.num_frames
    clean = WaveAugmenter(WaveAugmentConfig(gain=0.0), data, utts, features, mean, inv_std, 3, 1)
    assert clean.features_of(utt, np.random.default_rng(0)) is None


def test_the_gate_draws_per_batch_and_nothing_when_off(train_set):
    """A config without the gate leaves the generator as it found it, so runs from before it reproduce."""
    data, features, cmvn, utts = train_set
    norm = normalization(features, cmvn)
    off = WaveAugmenter(WaveAugmentConfig(gain=1.0), data, utts, features, *norm, subsampling=3, seed=1)
    rng = np.random.default_rng(0)
    assert off.draw_gate(rng) is None and rng.random() == np.random.default_rng(0).random()
    on = WaveAugmenter(WaveAugmentConfig(gate=1.0, gate_pad=(0.2, 0.4)), data, utts, features, *norm, 3, 1)
    pad = on.draw_gate(np.random.default_rng(0))
    assert pad is not None and all(0.2 <= seconds <= 0.4 for seconds in pad)
    gated = on.features_of(utts[0], np.random.default_rng(0), pad)
    stored = on.features_of(utts[0], np.random.default_rng(0))  # no gate drawn for the batch: clean, stored
    assert stored is None and gated.shape[0] == pytest.approx(utts[0].num_frames + sum(pad) * 100, abs=2)


def test_training_gates_whole_batches(mini_data, tmp_path, monkeypatch):
    """One gate draw per batch, given to each of the batch's utterances."""
    draws: list[tuple[float, float] | None] = []
    given: list[tuple[float, float] | None] = []
    draw_gate, features_of = WaveAugmenter.draw_gate, WaveAugmenter.features_of
    monkeypatch.setattr(WaveAugmenter, "draw_gate", lambda self, rng: draws.append(draw_gate(self, rng)) or draws[-1])
    monkeypatch.setattr(WaveAugmenter, "features_of", lambda self, utt, rng, gate_pad=None:
                        given.append(gate_pad) or features_of(self, utt, rng, gate_pad))
    tiny = {"model": {"hidden": 16, "layers": 1, "dropout": 0.1}, "epochs": 1, "warmup_steps": 2,
            "max_frames": 3000, "keep_best": 1, "threads": 1, "wave_augment": {"gate": 1.0}}
    train(from_dict(TrainConfig, tiny), mini_data / "train", mini_data / "dev", tmp_path / "a", resume=False)
    assert len(draws) > 1 and None not in draws and len(set(draws)) == len(draws)
    assert len(given) > len(draws) and set(given) == set(draws)
    assert given == sorted(given, key=draws.index)  # each batch's utterances get its own draw, in order


def test_unreadable_audio_keeps_its_stored_features_with_one_warning(train_set, tmp_path, caplog):
    data, features, cmvn, utts = train_set
    gone = utts[0].key
    data = type(data)(**{**data.__dict__, "source": {**data.source, gone: str(tmp_path / "moved.wav")}})
    augmenter = WaveAugmenter(WaveAugmentConfig(gain=1.0), data, utts, features, *normalization(features, cmvn),
                              subsampling=3, seed=1)
    assert augmenter.features_of(utts[0], np.random.default_rng(0)) is None
    assert augmenter.features_of(utts[1], np.random.default_rng(0)) is not None
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and f"1 of {len(utts)} utterances unreadable" in warnings[0]


def test_images_are_refused(train_set):
    from asr.data.line_images import ImageConfig

    data, _, cmvn, utts = train_set
    with pytest.raises(ValueError, match="applies to audio \\(fbank\\), not to images"):
        WaveAugmenter(WaveAugmentConfig(noise=1.0), data, utts, ImageConfig(), torch.zeros(32), torch.ones(32), 1, 1)


def test_training_with_every_degradation_runs_and_resumes_identically(mini_data, tmp_path, caplog):
    tiny = {"model": {"hidden": 16, "layers": 1, "dropout": 0.1}, "epochs": 2, "warmup_steps": 2,
            "max_frames": 3000, "keep_best": 1, "threads": 1, "wave_augment": {**ALL_ON, "trim": 0.5}}
    config = from_dict(TrainConfig, tiny)
    with caplog.at_level("INFO", logger="asr"):
        straight = train(config, mini_data / "train", mini_data / "dev", tmp_path / "a", resume=False)
    assert "waveform augmentation: WaveAugmentConfig(trim=0.5" in caplog.text

    def stop_after_first(epoch, history):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, mini_data / "train", mini_data / "dev", tmp_path / "b", resume=False,
              on_epoch_end=stop_after_first)
    resumed = train(config, mini_data / "train", mini_data / "dev", tmp_path / "b", resume=True)
    a, b = read_checkpoint(straight), read_checkpoint(resumed)
    for name, tensor in a["model"].items():
        torch.testing.assert_close(tensor, b["model"][name], rtol=0, atol=0)
    # And the augmentation did something: without it the same run ends elsewhere.
    plain = train(from_dict(TrainConfig, {**tiny, "wave_augment": {}}), mini_data / "train", mini_data / "dev",
                  tmp_path / "c", resume=False)
    assert not torch.equal(read_checkpoint(plain)["model"]["output.weight"], a["model"]["output.weight"])


@pytest.mark.parametrize("window, epochs", [({}, [1, 2, 3, 4]), ({"start_epoch": 2}, [2, 3, 4]),
                                           ({"end_epoch": 2}, [1, 2]), ({"start_epoch": 2, "end_epoch": 3}, [2, 3])])
def test_augmented_epochs_are_those_from_start_to_end_epoch(window, epochs):
    config = WaveAugmentConfig(noise=1.0, **window)
    assert [epoch for epoch in range(1, 5) if config.applies_to(epoch)] == epochs


def test_training_degrades_audio_only_in_its_epochs(mini_data, tmp_path, monkeypatch):
    """The loop asks the augmenter for audio in epoch 2 of 3 alone: the clean tail is clean."""
    calls: list[int] = []
    epoch_ends: list[int] = []
    features_of = WaveAugmenter.features_of
    monkeypatch.setattr(WaveAugmenter, "features_of", lambda self, utt, rng, gate_pad=None:
                        calls.append(len(epoch_ends)) or features_of(self, utt, rng, gate_pad))
    tiny = {"model": {"hidden": 16, "layers": 1, "dropout": 0.1}, "epochs": 3, "warmup_steps": 2,
            "max_frames": 3000, "keep_best": 1, "threads": 1,
            "wave_augment": {"noise": 1.0, "start_epoch": 2, "end_epoch": 2}}
    train(from_dict(TrainConfig, tiny), mini_data / "train", mini_data / "dev", tmp_path / "a", resume=False,
          on_epoch_end=lambda epoch, history: epoch_ends.append(epoch))
    assert epoch_ends == [1, 2, 3] and calls and set(calls) == {1}  # every call between the ends of epochs 1 and 2


def test_no_augmentation_before_start_epoch(mini_data, tmp_path):
    """Noise on every utterance, but only from epoch 3 on: two epochs train exactly as without it."""
    tiny = {"model": {"hidden": 16, "layers": 1, "dropout": 0.1}, "epochs": 2, "warmup_steps": 2,
            "max_frames": 3000, "keep_best": 1, "threads": 1}
    plain = train(from_dict(TrainConfig, tiny), mini_data / "train", mini_data / "dev", tmp_path / "a", resume=False)
    later = train(from_dict(TrainConfig, {**tiny, "wave_augment": {"noise": 1.0, "start_epoch": 3}}),
                  mini_data / "train", mini_data / "dev", tmp_path / "b", resume=False)
    a, b = read_checkpoint(plain), read_checkpoint(later)
    for name, tensor in a["model"].items():
        torch.testing.assert_close(tensor, b["model"][name], rtol=0, atol=0)
