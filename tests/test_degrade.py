"""asr.data.degrade: each degradation does what it claims, on real AN4 speech and on signals whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from asr.data import degrade
from asr.data.audio import read_audio

RATE = 16000


@pytest.fixture(scope="module")
def speech(an4_wavs) -> list[np.ndarray]:
    """Real AN4 utterances at 16 kHz."""
    return [read_audio(path, RATE) for path in an4_wavs[:3]]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def band_power(samples: np.ndarray, rate: int, low: float, high: float) -> float:
    """Mean power spectral density between ``low`` and ``high`` Hz (Welch)."""
    freqs, density = scipy.signal.welch(samples, rate, nperseg=1024)
    return float(density[(freqs >= low) & (freqs <= high)].mean())


def db(ratio: float) -> float:
    return 10 * np.log10(ratio)


def tone(seconds: float, freq: float = 440.0, amplitude: float = 0.5, rate: int = RATE) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(round(seconds * rate)) / rate)).astype(np.float32)


def schroeder_rt60(rir: np.ndarray, rate: int) -> float:
    """RT60 extrapolated from the -5 to -25 dB stretch (T20) of the backward-integrated energy decay."""
    decay = np.cumsum(np.square(rir.astype(np.float64))[::-1])[::-1]
    decay_db = 10 * np.log10(decay / decay[0])
    first, last = np.argmax(decay_db < -5), np.argmax(decay_db < -25)
    slope = np.polyfit(np.arange(first, last) / rate, decay_db[first:last], 1)[0]
    return -60 / slope


@pytest.mark.parametrize("length", [RATE, 12345, 3])
def test_band_limit_keeps_the_length(length):
    samples = degrade.white_noise(length, rng())
    out = degrade.band_limit(samples, RATE)
    assert out.shape == samples.shape and out.dtype == np.float32


def test_band_limit_removes_everything_above_half_the_narrow_rate():
    noise = degrade.white_noise(2 * RATE, rng())
    out = degrade.band_limit(noise, RATE, narrow_rate=8000)
    assert db(band_power(out, RATE, 4300, 8000) / band_power(noise, RATE, 4300, 8000)) < -40
    assert abs(db(band_power(out, RATE, 100, 3500) / band_power(noise, RATE, 100, 3500))) < 0.5


def test_telephone_is_8k_voice_band_and_mu_law(speech):
    out = degrade.telephone(speech[0], RATE)
    assert out.dtype == np.float32 and abs(len(out) - len(speech[0]) // 2) <= 1
    noise = degrade.telephone(degrade.white_noise(4 * RATE, rng()), RATE)
    assert db(band_power(noise, 8000, 20, 150) / band_power(noise, 8000, 500, 3000)) < -20
    assert len(np.unique(noise)) <= 255  # 8-bit codes
    assert not degrade.telephone(np.zeros(RATE, np.float32), RATE).any()  # silence stays silent


def test_mu_law_error_is_relative_to_the_level():
    samples = np.linspace(0.01, 1.0, 1000)
    assert np.max(np.abs(degrade.mu_law(samples) - samples) / samples) < 0.03
    assert np.array_equal(degrade.mu_law(np.array([2.0, -3.0])), [1.0, -1.0])


def test_gain_scales_and_clips():
    samples = tone(0.1, amplitude=0.5)
    quiet = degrade.gain(samples, -25)
    np.testing.assert_allclose(quiet, samples * 10 ** (-25 / 20), rtol=1e-6)
    loud = degrade.gain(samples, 15)
    assert loud.max() == 1.0 and loud.min() == -1.0 and np.mean(np.abs(loud) == 1.0) > 0.3


def test_white_noise_level_and_determinism():
    noise = degrade.white_noise(RATE, rng(3), rms_db=-30)
    assert noise.dtype == np.float32 and len(noise) == RATE
    assert abs(db(np.mean(np.square(noise))) + 30) < 0.2
    assert np.array_equal(noise, degrade.white_noise(RATE, rng(3), rms_db=-30))
    assert not np.array_equal(noise, degrade.white_noise(RATE, rng(4), rms_db=-30))


def test_babble_gives_each_talker_equal_power():
    period = 800  # whole periods of both sines, so their powers are exact
    quiet = 0.01 * np.sin(2 * np.pi * 5 * np.arange(period) / period)
    loud = 0.5 * np.sin(2 * np.pi * 40 * np.arange(period) / period)
    out = degrade.babble([quiet, loud], 2 * period, rng(), talkers=2, rms_db=-20)
    spectrum = np.abs(np.fft.rfft(out))
    assert spectrum[10] == pytest.approx(spectrum[80], rel=1e-3)
    assert db(np.mean(np.square(out))) == pytest.approx(-20, abs=0.01)


def test_babble_of_real_speech(speech):
    sources = [degrade.trim_silence(s, RATE) for s in speech]
    out = degrade.babble(sources, 3 * RATE, rng(1), talkers=5)  # more talkers than sources: drawn with replacement
    assert out.shape == (3 * RATE,) and out.dtype == np.float32 and np.isfinite(out).all()
    assert np.array_equal(out, degrade.babble(sources, 3 * RATE, rng(1), talkers=5))
    assert not np.array_equal(out, degrade.babble(sources, 3 * RATE, rng(2), talkers=5))
    with pytest.raises(ValueError, match=r"sources\[0\]: silent"):
        degrade.babble([np.zeros(100, np.float32)], 10, rng(), talkers=1)
    with pytest.raises(ValueError, match="at least one source"):
        degrade.babble([], 10, rng())


@pytest.mark.parametrize("snr", [-5.0, 5.0, 20.0])
def test_add_noise_sets_the_snr_over_speech_only(snr):
    burst = tone(0.5, amplitude=0.3)  # power 0.3**2 / 2
    samples = np.concatenate([np.zeros(RATE + 123, np.float32), burst, np.zeros(RATE, np.float32)])
    out = degrade.add_noise(samples, degrade.white_noise(RATE // 3, rng()), snr)  # shorter noise is tiled
    added = out - samples
    assert len(out) == len(samples)
    assert db(0.3**2 / 2 / np.mean(np.square(added.astype(np.float64)))) == pytest.approx(snr, abs=0.5)


def test_add_noise_ignores_leading_silence_of_real_speech(speech):
    samples = speech[1]
    padded = np.concatenate([1e-4 * degrade.white_noise(2 * RATE + 77, rng(5), rms_db=0), samples])
    noise = degrade.white_noise(len(padded), rng(6))
    plain_noise = degrade.add_noise(samples, noise[-len(samples):], 10) - samples
    padded_noise = (degrade.add_noise(padded, noise, 10) - padded)[-len(samples):]
    assert abs(db(np.mean(np.square(padded_noise)) / np.mean(np.square(plain_noise)))) < 0.5


def test_add_noise_refuses_silence():
    with pytest.raises(ValueError, match="noise: silent"):
        degrade.add_noise(tone(0.1), np.zeros(10, np.float32), 10)
    with pytest.raises(ValueError, match="samples: silent"):
        degrade.add_noise(np.zeros(10, np.float32), tone(0.1), 10)


@pytest.mark.parametrize("rt60", [0.3, 0.5])
def test_room_impulse_response_decays_at_its_rt60(rt60):
    rir = degrade.room_impulse_response(rt60, RATE, rng(7))
    assert rir.dtype == np.float32 and np.abs(rir).max() == rir.max() == 1.0
    assert schroeder_rt60(rir, RATE) == pytest.approx(rt60, rel=0.3)
    assert np.array_equal(rir, degrade.room_impulse_response(rt60, RATE, rng(7)))
    other = degrade.room_impulse_response(rt60, RATE, rng(8))
    assert len(other) != len(rir) or not np.array_equal(other, rir)


@pytest.mark.parametrize("rt60", [-0.5, 0.0, float("nan")])
def test_room_impulse_response_refuses_bad_rt60(rt60):
    with pytest.raises(ValueError, match="rt60 must be a positive number"):
        degrade.room_impulse_response(rt60, RATE, rng())


def test_room_impulse_response_redraws_then_gives_up_on_infeasible_rt60():
    with pytest.raises(ValueError, match="no drawn room reaches it in 5 draws"):
        degrade.room_impulse_response(0.02, RATE, rng(), attempts=5)


@pytest.fixture(scope="module")
def rir() -> np.ndarray:
    return degrade.room_impulse_response(0.5, RATE, rng(9))


def test_reverberate_stays_aligned(rir):
    """White noise in: the cross-correlation of output and input is the RIR shifted, so it peaks at lag 0.

    (Speech is no probe here: its pitch period correlates with early reflections and moves the peak.)
    """
    assert np.argmax(rir) > 10  # there is a propagation delay to undo
    noise = degrade.white_noise(RATE, rng())
    out = degrade.reverberate(noise, rir)
    lags = scipy.signal.correlation_lags(len(out), len(noise))
    assert lags[np.argmax(scipy.signal.correlate(out, noise))] == 0


def test_reverberate_keeps_the_length_and_level_of_real_speech(speech, rir):
    out = degrade.reverberate(speech[2], rir)
    assert out.shape == speech[2].shape and out.dtype == np.float32
    assert np.sqrt(np.mean(np.square(out))) == pytest.approx(np.sqrt(np.mean(np.square(speech[2]))), rel=1e-3)
    assert not np.allclose(out, speech[2], atol=1e-3)


def test_reverberate_with_a_delayed_impulse_is_the_identity(speech):
    rir = np.zeros(300, np.float32)
    rir[123] = 1.0
    np.testing.assert_allclose(degrade.reverberate(speech[0], rir), speech[0], atol=1e-5)


@pytest.mark.parametrize("keep_ms", [0.0, 50.0, 200.0])
def test_trim_silence_keeps_keep_ms_around_speech(keep_ms):
    frame, keep = 400, round(keep_ms / 1000 * RATE)
    hiss = degrade.white_noise(3 * RATE, rng(), rms_db=-80)
    samples = hiss.copy()
    start, end = 12345, 12345 + RATE // 2
    samples[start:end] += tone(0.5)
    out = degrade.trim_silence(samples, RATE, keep_ms=keep_ms)
    lead = np.flatnonzero(np.abs(out) > 0.01)[0]  # where the tone begins in the output
    trail = len(out) - 1 - np.flatnonzero(np.abs(out) > 0.01)[-1]
    assert abs(lead - keep) < frame and abs(trail - keep) < frame
    assert len(out) - lead - trail == pytest.approx(end - start, abs=100)  # the whole tone is kept


def test_trim_silence_of_real_speech_does_not_depend_on_leading_silence(speech):
    samples = speech[0]
    padded = np.concatenate([np.zeros(RATE, np.float32), samples, np.zeros(RATE, np.float32)])  # 40 whole frames
    trimmed = degrade.trim_silence(samples, RATE)
    assert len(trimmed) < len(padded) - 2 * RATE + 1 and np.array_equal(degrade.trim_silence(padded, RATE), trimmed)


def test_trim_silence_edge_cases():
    silent = np.zeros(RATE, np.float32)
    assert np.array_equal(degrade.trim_silence(silent, RATE), silent)
    click = silent.copy()
    click[5000] = 0.5
    assert len(degrade.trim_silence(click, RATE, keep_ms=0)) == 400  # never less than a frame
    short = tone(0.01)
    assert np.array_equal(degrade.trim_silence(short, RATE), short)
    with pytest.raises(ValueError, match="keep_ms must not be negative"):
        degrade.trim_silence(short, RATE, keep_ms=-1)


@pytest.mark.parametrize("call", [
    lambda x: degrade.band_limit(x, RATE),
    lambda x: degrade.telephone(x, RATE),
    lambda x: degrade.gain(x, 3),
    lambda x: degrade.add_noise(x, tone(0.1), 10),
    lambda x: degrade.reverberate(x, np.ones(3, np.float32)),
    lambda x: degrade.trim_silence(x, RATE),
])
def test_bad_input_is_one_clear_error(call):
    with pytest.raises(ValueError, match="samples: no samples"):
        call(np.zeros(0, np.float32))
    with pytest.raises(ValueError, match="expected 1-D mono samples"):
        call(np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError, match="non-finite"):
        call(np.array([0.1, np.nan], np.float32))


def test_bad_parameters_are_one_clear_error():
    with pytest.raises(ValueError, match="narrow_rate must be in"):
        degrade.band_limit(tone(0.1), RATE, narrow_rate=32000)
    with pytest.raises(ValueError, match="gain must be a finite"):
        degrade.gain(tone(0.1), float("inf"))
    with pytest.raises(ValueError, match="num_samples must be at least 1"):
        degrade.white_noise(0, rng())


def test_gate_makes_the_silence_near_digital_adds_the_pad_and_keeps_the_speech(speech):
    samples = speech[2]
    start, end = degrade.speech_span(samples, RATE, keep_ms=0.0)
    assert 0 < start < end < len(samples)  # this clip has room silence at both ends
    out = degrade.gate(samples, RATE, rng(), level_db=-90.0, keep_ms=0.0, pad=(0.5, 0.25))
    head = RATE // 2 + start
    assert out.dtype == np.float32 and len(out) == len(samples) + 3 * RATE // 4
    np.testing.assert_array_equal(out[head : head + end - start], samples[start:end])
    for quiet in (out[:head], out[head + end - start :]):
        assert db(np.mean(np.square(quiet, dtype=np.float64))) == pytest.approx(-90.0, abs=0.5)
    assert db(np.mean(np.square(samples[:start], dtype=np.float64))) > -80.0  # the room was louder than that


def test_gate_edge_cases(speech):
    silent = np.zeros(RATE, np.float32)
    np.testing.assert_array_equal(degrade.gate(silent, RATE, rng()), silent)  # no speech: nothing is silence
    whole = speech[0]
    assert np.array_equal(degrade.gate(whole, RATE, rng(), keep_ms=1e6), whole)  # the span reaches both ends
    with pytest.raises(ValueError, match="pad must not be negative"):
        degrade.gate(whole, RATE, rng(), pad=(-0.1, 0.0))
