"""Degradations of speech that a recognizer meets outside its corpus: channels, levels, noise, rooms.

Pure functions on mono float32 waveforms nominally in [-1, 1], in the style
of ``torchaudio.functional``: no hidden state, and randomness only through
an explicit :class:`numpy.random.Generator`, so that a benchmark (fixed,
seeded parameters) and on-the-fly training augmentation (drawn parameters)
make the very same audio from the very same draws.  Every function returns a
new array and leaves its input alone.

Levels are measured over 25 ms frames (:func:`frame_levels`) relative to the
loudest one, so leading silence, which differs from corpus to corpus, changes
neither an SNR nor a trim.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from asr.data.audio import check_samples, frame_power_db, resample

TELEPHONE_RATE = 8000  # G.711's sampling rate
# The voice band of an analogue telephone line (ITU-T G.712).
TELEPHONE_BAND = (300.0, 3400.0)
# Room draws (metres): living rooms to classrooms, a talker's mouth and a mic
# on a table or a wall, at least MARGIN from any surface.
ROOM_RANGE = ((3.0, 3.0, 2.5), (10.0, 8.0, 4.0))
MIC_HEIGHT = (0.7, 1.8)
MOUTH_HEIGHT = (1.0, 1.9)
SOURCE_DISTANCE = (1.0, 3.0)
MARGIN = 0.5


def _mono(samples: np.ndarray, name: str = "samples") -> np.ndarray:
    """``samples`` as 1-D float32, or a one-line ValueError (AudioError) for a wrong shape, no samples or NaN/inf."""
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"{name}: expected 1-D mono samples, got shape {samples.shape}")
    check_samples(samples, name)
    return samples.astype(np.float32, copy=False)


def _fit(samples: np.ndarray, length: int) -> np.ndarray:
    """``samples`` cropped or tiled (repeated end to end) to ``length``: noise longer or shorter than speech."""
    return np.resize(samples, length).astype(np.float32, copy=False)


def _power(samples: np.ndarray) -> float:
    return float(np.mean(np.square(samples, dtype=np.float64))) if samples.size else 0.0


def frame_levels(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """Power in dB of each 25 ms frame relative to the loudest frame (0 dB), and the frame length in samples.

    Frames as :func:`asr.data.audio.frame_power_db`'s.  An all-silent input
    has all frames at -inf, which callers must treat as "no speech" (a level
    relative to nothing is meaningless).
    """
    levels, frame = frame_power_db(samples, sample_rate)
    if not len(levels) or levels.max() == -np.inf:
        return np.full(len(levels), -np.inf), frame
    return levels - levels.max(), frame


def band_limit(samples: np.ndarray, sample_rate: int, narrow_rate: int = 8000) -> np.ndarray:
    """Remove everything above ``narrow_rate / 2`` by resampling down and back up, at the input's length.

    This is what a recording made at ``narrow_rate`` (an 8 kHz phone or
    radio codec) becomes once the reading path upsamples it for a 16 kHz
    model, so it uses that path's resampler (:func:`asr.data.audio.resample`).
    The round trip may add or lose a sample or two; the result is padded or
    cropped back so that it stays aligned with the input.
    """
    samples = _mono(samples)
    if not 0 < narrow_rate <= sample_rate:
        raise ValueError(f"narrow_rate must be in (0, sample_rate={sample_rate}], got {narrow_rate}")
    narrow = resample(samples, sample_rate, narrow_rate)
    restored = resample(narrow, narrow_rate, sample_rate)
    return np.pad(restored, (0, max(0, len(samples) - len(restored))))[: len(samples)]


def mu_law(samples: np.ndarray, mu: int = 255) -> np.ndarray:
    """8-bit mu-law encoding and decoding (G.711-like): the quantization noise of a digital phone line.

    Sign and 7-bit magnitude, as G.711's codes, rather than 256 levels
    spread over [-1, 1]: zero is then a code, so silence stays silent instead
    of buzzing at +-1 step (about -80 dBFS).  Input beyond full scale clips.
    """
    clipped = np.clip(samples, -1.0, 1.0)
    compressed = np.log1p(mu * np.abs(clipped)) / np.log1p(mu)
    quantized = np.round(compressed * 127) / 127
    return (np.sign(clipped) * np.expm1(quantized * np.log1p(mu)) / mu).astype(np.float32)


def telephone(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """A narrowband phone call: resampled to 8 kHz, band-passed to 300-3400 Hz, mu-law coded. Returns 8 kHz audio.

    The band-pass (4th-order Butterworth, second-order sections) is causal
    (``sosfilt``), not zero-phase: a real line is a causal filter whose
    phase distortion is part of what a recognizer must survive, and its
    group delay (about a millisecond) is irrelevant to a transcript, while
    ``sosfiltfilt`` would square the magnitude response (twice the intended
    slope) and need the whole signal at once.
    """
    narrow = resample(_mono(samples), sample_rate, TELEPHONE_RATE)
    import scipy.signal  # the 'torch' extra's, like everything training needs

    sos = scipy.signal.butter(4, TELEPHONE_BAND, btype="bandpass", fs=TELEPHONE_RATE, output="sos")
    return mu_law(scipy.signal.sosfilt(sos, narrow))


def gain(samples: np.ndarray, db: float) -> np.ndarray:
    """Scale by ``db`` decibels and hard-clip to [-1, 1], as a sound card's converter saturates when set too hot."""
    if not np.isfinite(db):
        raise ValueError(f"gain must be a finite number of dB, got {db}")
    return np.clip(_mono(samples) * np.float32(10 ** (db / 20)), -1.0, 1.0)


def white_noise(num_samples: int, rng: np.random.Generator, rms_db: float = -20.0) -> np.ndarray:
    """Gaussian white noise at ``rms_db`` dBFS RMS.

    -20 dBFS (standard deviation 0.1) keeps it within [-1, 1] (a sample
    beyond 10 standard deviations never happens); :func:`add_noise` sets the
    level relative to the speech anyway.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be at least 1, got {num_samples}")
    return (rng.standard_normal(num_samples) * 10 ** (rms_db / 20)).astype(np.float32)


def babble(sources: Sequence[np.ndarray], num_samples: int, rng: np.random.Generator, talkers: int = 5,
           rms_db: float = -20.0) -> np.ndarray:
    """A crowd: ``talkers`` randomly chosen recordings, each from a random offset, tiled or cropped, summed.

    Talkers are drawn without replacement while there are enough sources.
    Each is scaled by its whole recording's power, so all talk equally loud
    on average while a pause stays a pause; the sum is about ``rms_db`` dBFS
    (talkers are uncorrelated, so their powers add).  Pass sources with
    their leading and trailing silence trimmed (:func:`trim_silence`), or the
    tiling leaves gaps that real babble does not have.
    """
    if not sources:
        raise ValueError("babble needs at least one source recording")
    if talkers < 1 or num_samples < 1:
        raise ValueError(f"talkers and num_samples must be at least 1, got {talkers} and {num_samples}")
    each = 10 ** (rms_db / 20) / np.sqrt(talkers)
    mix = np.zeros(num_samples, dtype=np.float64)
    for index in rng.choice(len(sources), size=talkers, replace=talkers > len(sources)):
        source = _mono(sources[index], f"sources[{index}]")
        power = _power(source)
        if power == 0:
            raise ValueError(f"sources[{index}]: silent recording, it cannot talk in a babble")
        offset = int(rng.integers(len(source)))
        mix += _fit(np.roll(source, -offset), num_samples) * (each / np.sqrt(power))
    return mix.astype(np.float32)


def active_power(samples: np.ndarray, sample_rate: int, threshold_db: float = -30.0) -> float:
    """Mean power over the frames within ``-threshold_db`` dB of the loudest: the power of the speech itself.

    Measured so, the SNR of :func:`add_noise` means the same for an utterance
    with or without leading silence.  30 dB below the loudest frame keeps
    weak consonants and drops the pauses.  0.0 for all-silent input.
    """
    levels, frame = frame_levels(samples, sample_rate)
    active = np.repeat(levels >= threshold_db, frame)[: len(samples)]
    return _power(samples[active])


def add_noise(samples: np.ndarray, noise: np.ndarray, snr_db: float, sample_rate: int = 16000,
              threshold_db: float = -30.0) -> np.ndarray:
    """``samples`` plus ``noise`` (cropped or tiled to their length) at ``snr_db`` dB speech-to-noise power.

    Speech power is :func:`active_power` (``sample_rate`` sets the 25 ms
    frames, ``threshold_db`` what counts as speech); noise power is over the
    whole cropped noise, which is stationary enough for white noise and
    babble.  Nothing is clipped: a loud noise may push peaks past full
    scale, which float features take as they are; clip with :func:`gain`
    (0 dB) to model a saturating recorder.
    """
    samples = _mono(samples)
    noise = _fit(_mono(noise, "noise"), len(samples))
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be a finite number, got {snr_db}")
    speech_power = active_power(samples, sample_rate, threshold_db)
    noise_power = _power(noise)
    if speech_power == 0 or noise_power == 0:
        raise ValueError(f"{'samples' if speech_power == 0 else 'noise'}: silent, no SNR can be set")
    scale = np.sqrt(speech_power / (noise_power * 10 ** (snr_db / 10)))
    return (samples + noise * np.float32(scale)).astype(np.float32)


def room_impulse_response(rt60: float, sample_rate: int, rng: np.random.Generator, attempts: int = 50
                          ) -> np.ndarray:
    """The impulse response from a talker to a microphone 1-3 m away in a random shoebox room of the given RT60.

    Room size, microphone and mouth positions are drawn from ``rng`` within
    :data:`ROOM_RANGE` and the heights and distances above; the wall
    absorption and image-source order come from Sabine's formula inverted
    (``pyroomacoustics.inverse_sabine``), so the decay matches ``rt60``
    within the accuracy of Sabine's formula for an image-source room: a
    Schroeder (T20) estimate lands within about 25%, on average 0-20% long,
    the more so the longer the RT60.  A draw is redrawn, up
    to ``attempts`` times, when the RT60 is infeasible for the room (too
    short for a large room needs absorption above 1), when the source falls
    outside it, or when a reflection outpeaks the direct path (reflections
    arriving together can): so the direct path is always the peak, which
    :func:`reverberate` aligns on.  The response is scaled so that peak is
    1.0, and keeps the propagation delay before it.

    Cost grows with the cube of ``rt60`` (the image-source order grows
    linearly with it): about 0.05 s at 0.3 s, 0.3 s at 0.5 s, 1-3 s at 0.8 s
    on one core, most of it in small rooms that need many reflections.
    """
    import pyroomacoustics  # the image method: the 'torch' extra's, asked for only when rooms are drawn

    if not 0 < rt60 < np.inf:
        raise ValueError(f"rt60 must be a positive number of seconds, got {rt60}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    for _ in range(attempts):
        room = rng.uniform(*ROOM_RANGE)
        mic = rng.uniform((MARGIN, MARGIN, MIC_HEIGHT[0]), (room[0] - MARGIN, room[1] - MARGIN, MIC_HEIGHT[1]))
        distance, azimuth = rng.uniform(*SOURCE_DISTANCE), rng.uniform(0, 2 * np.pi)
        rise = rng.uniform(*MOUTH_HEIGHT) - mic[2]
        across = np.sqrt(max(distance**2 - rise**2, 0.0))
        source = mic + (across * np.cos(azimuth), across * np.sin(azimuth), rise)
        if np.any(source < MARGIN) or np.any(source > room - MARGIN):
            continue
        try:
            absorption, max_order = pyroomacoustics.inverse_sabine(rt60, room)
        except ValueError:  # the room is too large for so short an RT60
            continue
        shoebox = pyroomacoustics.ShoeBox(room, fs=sample_rate, materials=pyroomacoustics.Material(absorption),
                                          max_order=max_order)
        shoebox.add_source(source)
        shoebox.add_microphone(mic)
        shoebox.compute_rir()
        rir = np.asarray(shoebox.rir[0][0])
        # Where the direct path lands: its delay plus half the fractional-delay filter pyroomacoustics centres it in.
        direct = np.linalg.norm(source - mic) / shoebox.c * sample_rate
        direct += pyroomacoustics.constants.get("frac_delay_length") // 2
        peak = int(np.argmax(np.abs(rir)))
        if abs(peak - direct) <= 1 and rir[peak] > 0:
            return (rir / rir[peak]).astype(np.float32)
    raise ValueError(f"rt60 {rt60} s: no drawn room reaches it in {attempts} draws (too short for rooms this size?)")


def reverberate(samples: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """``samples`` as heard through a room: convolved with ``rir``, aligned with the input, at its length and RMS.

    The output is shifted by the direct path's delay (the peak of ``|rir|``)
    so that word times and any alignment stay valid; the tail ringing past
    the input's end is cut, as a recorder stopped at the same moment would.
    The level is restored to the input's RMS because a room's gain (which
    depends on the draw, not on the RT60) is not what a benchmark or
    augmentation is about; peaks may then pass full scale slightly.
    """
    samples = _mono(samples)
    rir = _mono(rir, "rir")
    delay = int(np.argmax(np.abs(rir)))
    import scipy.signal

    wet = scipy.signal.fftconvolve(samples, rir)[delay : delay + len(samples)]
    wet_power = _power(wet)
    if wet_power == 0:
        return np.zeros_like(samples)
    return (wet * np.sqrt(_power(samples) / wet_power)).astype(np.float32)


def speech_span(samples: np.ndarray, sample_rate: int, keep_ms: float = 50.0, threshold_db: float = -35.0
                ) -> tuple[int, int]:
    """The (start, end) sample range of the speech in ``samples`` with ``keep_ms`` of context each side.

    Speech is the 25 ms frames within ``-threshold_db`` dB of the loudest
    frame, so each edge lands within a frame of ``keep_ms`` from the first
    and the last of them.  It holds at least the loudest frame; an
    all-silent input has no speech to find, and its span is all of it.
    """
    samples = _mono(samples)
    if keep_ms < 0:
        raise ValueError(f"keep_ms must not be negative, got {keep_ms}")
    levels, frame = frame_levels(samples, sample_rate)
    speech = np.flatnonzero(levels >= threshold_db)
    if speech.size == 0:
        return 0, len(samples)
    keep = round(keep_ms / 1000 * sample_rate)
    return max(0, speech[0] * frame - keep), min(len(samples), (speech[-1] + 1) * frame + keep)


def trim_silence(samples: np.ndarray, sample_rate: int, keep_ms: float = 50.0, threshold_db: float = -35.0
                 ) -> np.ndarray:
    """Cut leading and trailing silence down to ``keep_ms`` (:func:`speech_span`), as a push-to-talk or VAD-cut
    recording has; an all-silent input is returned unchanged."""
    start, end = speech_span(samples, sample_rate, keep_ms, threshold_db)
    return _mono(samples)[start:end].copy()


def gate(samples: np.ndarray, sample_rate: int, rng: np.random.Generator, level_db: float = -90.0,
         keep_ms: float = 100.0, pad: tuple[float, float] = (0.0, 0.0), threshold_db: float = -35.0) -> np.ndarray:
    """The silence beyond ``keep_ms`` of the speech (:func:`speech_span`) replaced with white noise at
    ``level_db`` dBFS, and ``pad`` seconds more of it before and after, as a noise gate or suppressor (a
    conferencing app, a phone) leaves a recording that began before the talker spoke.

    Near-digital silence (-90 dBFS is one 16-bit step) lies 10-20 dB below
    any recorded room, so a model that subtracts each input's mean frame
    must learn that it is silence too, however much of the input it fills.
    """
    samples = _mono(samples)
    if min(pad) < 0:
        raise ValueError(f"pad must not be negative, got {pad}")
    start, end = speech_span(samples, sample_rate, keep_ms, threshold_db)
    head = round(pad[0] * sample_rate) + start
    quiet = head + len(samples) - end + round(pad[1] * sample_rate)
    if quiet == 0:
        return samples.copy()
    noise = white_noise(quiet, rng, rms_db=level_db)
    return np.concatenate([noise[:head], samples[start:end], noise[head:]])
