"""Where a long recording is cut into utterance-like pieces before recognition.

The model was trained on single utterances of 0.5-20 s, so a recording
longer than ``max_segment`` seconds is cut into pieces no longer than that;
one that fits is left whole (cutting an utterance at its internal pauses
costs accuracy).  :func:`segment` is the one entry point, with two voice
activity detectors behind it:

- ``energy``: :func:`split_on_silence`, cuts in the middle of quiet pauses
  and covers every sample: fast, no dependency, but it takes loud noise
  between utterances for speech, and cuts inside speech when no pause is
  quiet enough.
- ``silero``: the Silero VAD network (the ``silero-vad`` package, imported
  only when a recording needs cutting) keeps only its speech regions, so
  noise between utterances never reaches the recognizer; a region longer
  than ``max_segment`` is cut further by :func:`split_on_silence`.

Both return (start, end) sample ranges, ordered and non-overlapping, in the
recording's time base: callers shift word times by each piece's start.
Silence that holds nothing is cut from the ends of each piece
(:func:`without_empty_ends`): digital silence (25 ms or more of samples a
16-bit file stores as 0: zeros, and a resampler's ringing into them)
entirely, near-digital silence (frames below -80 dBFS, as a noise gate or
suppressor leaves) down to ``PAD`` s.  A model that subtracts each input's
mean frame reads a second of either on each side of an AN4 test utterance at
27% WER instead of 5%.

``silero`` is the default: on AN4 test utterances joined into 10-minute
recordings with noise in the pauses (tools/bench_vad.py), it makes fewer
errors wherever the noise is audible (word LM: 14.2% WER instead of 18.5%
with white noise 20 dB below the speech, 30.1% instead of 47.7% with
babble), at a real-time factor of about 0.02 instead of 0.008 on one core;
with quiet pauses (40 dB) the energy splitter does slightly better (3.6%
against 4.1%).
"""

from __future__ import annotations

import importlib.util
import warnings
from functools import cache
from typing import TYPE_CHECKING, Callable

import numpy as np

from asr.data.audio import frame_power_db, resample
from asr.data.kaldi_fbank import digital_silence

if TYPE_CHECKING:  # torch is imported where Silero runs: the energy VAD, and the torch-free runtime
    import torch  # (asr.runtime), need none

VADS = ("energy", "silero")
DEFAULT_VAD = "silero"  # tools/bench_vad.py: fewer errors wherever noise fills the pauses
# Shortest --max-segment: pieces must stay utterance-like (the model was
# trained on 0.5-20 s utterances); a smaller limit only shreds words.
MIN_SEGMENT = 1.0
# Silero's settings: a region ends after a pause of MIN_PAUSE s (the energy
# splitter's shortest pause: shorter ones are inside utterances) and keeps
# PAD s of context each side.  Chosen on AN4 dev (tools/bench_vad.py --part
# dev, greedy and word LM) among pads of 0.05-0.3 s and pauses of 0.1 or 0.3 s:
# a wider pad lets in noise the model reads as letters (X, S), a narrower one
# clips onsets and final stops (ONE as N, EIGHT as A).
MIN_PAUSE = 0.3
PAD = 0.15
SILERO_RATES = (8000, 16000)  # what the network reads; other rates are resampled to 16 kHz for it
DIGITAL_SILENCE = 0.025  # a run of 16-bit zeros this long (one fbank frame) is digital silence, not a zero crossing
# A 25 ms frame below this level is near-digital silence: white noise of about three 16-bit steps.  AN4's
# quietest frame is -79.6 dBFS and a recorded room is louder, so only a gate, a suppressor or padding goes below.
NEAR_DIGITAL_DBFS = -80.0


def check_max_segment(seconds: float, name: str = "max_segment") -> float:
    """``seconds`` if it is a usable piece length, else a one-line ValueError naming the setting ``name``.

    A tiny limit would cut speech into slivers no model can read; NaN is refused too.
    """
    if not seconds >= MIN_SEGMENT:
        raise ValueError(f"{name} must be at least {MIN_SEGMENT:g} s, got {seconds:g}")
    return seconds


def check_vad(name: str, option: str = "vad") -> str:
    """``name`` if it is a usable VAD, else a one-line ValueError naming the setting ``option``.

    ``silero`` needs the optional silero-vad package: its absence is found
    here (without importing it), before a model loads or a file is read.
    """
    if name not in VADS:
        raise ValueError(f"{option} must be one of {', '.join(VADS)}, got {name!r}")
    if name == "silero" and importlib.util.find_spec("silero_vad") is None:
        raise ValueError(f"{option} silero needs the silero-vad package, which is not installed: "
                         "pip install silero-vad")
    return name


def split_on_silence(
    samples: np.ndarray, rate: int, max_segment: float = 20.0, min_pause: float = MIN_PAUSE, window: float = 0.1
) -> list[tuple[int, int]]:
    """Cut a recording longer than ``max_segment`` seconds at its pauses.

    A recording that fits is left whole.  A longer one is cut in the middle
    of every pause of at least ``min_pause`` seconds, since the model was
    trained on single utterances: frames
    whose energy (smoothed over ``window`` s) is within 10 dB of the
    recording's quiet floor (its 10th percentile).  A piece still longer
    than ``max_segment`` is split where the energy is lowest in its middle
    half.  Returns (start, end) sample indices covering all samples.

    Any ``max_segment`` terminates (callers validate it against
    :data:`MIN_SEGMENT`): a piece shorter than four 10 ms frames is never
    split, and a longer one always has a frame boundary strictly inside its
    middle half, so every split gives two non-empty, strictly shorter pieces.
    """
    hop = max(1, int(0.01 * rate))
    min_split = 4 * hop
    limit = max_segment * rate
    if len(samples) <= limit or len(samples) < min_split:
        return [(0, len(samples))]
    frames = len(samples) // hop
    energy = np.square(samples[: frames * hop].astype(np.float64)).reshape(frames, hop).mean(axis=1)
    width = max(1, int(window / 0.01))
    level = 10 * np.log10(np.convolve(energy, np.ones(width) / width, mode="same") + 1e-10)
    quiet = level < np.percentile(level, 10) + 10.0
    cuts = [0]
    run_start = None
    for i, is_quiet in enumerate([*quiet, False]):
        if is_quiet and run_start is None:
            run_start = i
        elif not is_quiet and run_start is not None:
            if i - run_start >= min_pause / 0.01 and 0 < run_start and i < frames:
                cuts.append((run_start + i) // 2 * hop)
            run_start = None
    cuts.append(len(samples))
    pieces, todo = [], [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]
    while todo:
        start, end = todo.pop()
        if end - start <= limit or end - start < min_split:
            pieces.append((start, end))
            continue
        # Frame boundaries in the middle half: at least one, as the half spans >= 2 frames.
        lo = -(-(start + (end - start) // 4) // hop)
        hi = (end - (end - start) // 4) // hop
        cut = (lo + int(np.argmin(level[lo : hi + 1]))) * hop
        todo += [(cut, end), (start, cut)]
    return sorted(pieces)


@cache
def _silero() -> tuple[torch.nn.Module, Callable]:
    """Silero's network (shipped inside its wheel: nothing is downloaded) and its region finder, loaded once."""
    import torch

    check_vad("silero")
    threads = torch.get_num_threads()
    try:
        import silero_vad
    finally:  # importing it sets torch to one thread for the whole process: --threads must still hold
        torch.set_num_threads(threads)
    with warnings.catch_warnings():  # deprecation notices about silero's own code (torch.jit.load, importlib)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return silero_vad.load_silero_vad(), silero_vad.get_speech_timestamps


def speech_regions(samples: np.ndarray, rate: int) -> list[tuple[int, int]]:
    """(start, end) sample ranges of the speech Silero VAD finds in ``samples``, ordered and non-overlapping.

    Each region keeps :data:`PAD` s of context each side (half the pause
    when two regions are closer); pauses shorter than :data:`MIN_PAUSE` s
    stay inside a region.
    """
    import torch

    model, speech_timestamps = _silero()
    vad_rate = rate if rate in SILERO_RATES else SILERO_RATES[-1]
    audio = torch.from_numpy(resample(samples, rate, vad_rate))
    with torch.no_grad():
        stamps = speech_timestamps(audio, model, sampling_rate=vad_rate, min_silence_duration_ms=MIN_PAUSE * 1000,
                                   speech_pad_ms=PAD * 1000)
    scale = rate / vad_rate
    return [(min(round(s["start"] * scale), len(samples)), min(round(s["end"] * scale), len(samples)))
            for s in stamps]


def segment(samples: np.ndarray, rate: int, max_segment: float = 20.0, vad: str = DEFAULT_VAD
            ) -> list[tuple[int, int]]:
    """The (start, end) sample ranges of ``samples`` to recognize, each at most ``max_segment`` s long.

    A recording that fits is one piece whatever ``vad`` says.  ``energy``
    covers every sample (:func:`split_on_silence`); ``silero`` gives its
    speech regions only (none in a recording without speech), each cut
    further by :func:`split_on_silence` if it is too long.  Either way each
    piece is cut free of the silence at its ends that holds nothing
    (:func:`without_empty_ends`), and one shorter than
    :data:`DIGITAL_SILENCE` after that is dropped.
    """
    check_vad(vad)
    if len(samples) <= max_segment * rate:
        pieces = [(0, len(samples))]
    elif vad == "energy":
        pieces = split_on_silence(samples, rate, max_segment)
    else:
        pieces = [(start + a, start + b) for start, end in speech_regions(samples, rate)
                  for a, b in split_on_silence(samples[start:end], rate, max_segment)]
    least = round(DIGITAL_SILENCE * rate)
    return [piece for start, end in pieces
            if (piece := without_empty_ends(samples, start, end, rate))[1] - piece[0] >= least]


def without_empty_ends(samples: np.ndarray, start: int, end: int, rate: int) -> tuple[int, int]:
    """``(start, end)`` less the silence at either end that holds nothing (empty if it is all digital silence).

    Near-digital silence (25 ms frames below :data:`NEAR_DIGITAL_DBFS`) longer
    than :data:`PAD` at an end is cut to ``PAD``, the context Silero's regions
    keep: the shipped model, which subtracts each input's mean frame, reads
    AN4 dev with a second of -90 dBFS noise each side of every utterance at
    28% WER, and at 7% once that is cut to 0.15 s (clean: 7.5%).  A piece
    that quiet throughout is a very quiet recording, not silence, and stays
    whole.  Then runs of digital silence
    (:func:`asr.data.kaldi_fbank.digital_silence`) of :data:`DIGITAL_SILENCE`
    or more at either end go entirely: 8 kHz clips padded with zeros read
    worse with the resampler's ringing into the zeros left on (AN4 dev with
    a second of zeros each side: 12.3% WER against 8.6%).
    """
    # Frames counted from each end, so that a short last frame never decides a cut.
    quiet_from_start = frame_power_db(samples[start:end], rate)[0] < NEAR_DIGITAL_DBFS
    if not quiet_from_start.all():
        level_from_end, frame = frame_power_db(samples[start:end][::-1], rate)
        keep = round(PAD * rate)
        lead = int(np.argmin(quiet_from_start)) * frame
        trail = int(np.argmin(level_from_end < NEAR_DIGITAL_DBFS)) * frame
        start, end = start + max(0, lead - keep), end - max(0, trail - keep)
    least = round(DIGITAL_SILENCE * rate)
    nonzero = np.flatnonzero(~digital_silence(samples[start:end]))
    if len(nonzero) == 0:
        return start, start
    lead, trail = int(nonzero[0]), end - start - int(nonzero[-1]) - 1
    return start + (lead if lead >= least else 0), end - (trail if trail >= least else 0)
