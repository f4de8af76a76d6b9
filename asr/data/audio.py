"""Audio input: any format soundfile reads, mixed to mono, resampled.

torchaudio 2.11's ``load`` needs FFmpeg through torchcodec, so audio is read
with ``soundfile`` (libsndfile: wav, flac, ogg, mp3) and resampled with
``soxr``.  A Kaldi ``wav.scp`` value ending in ``|`` is a command whose
standard output is the audio, as in Kaldi's extended filenames; only a
caller reading a ``wav.scp`` value may ask for that (``allow_pipe``): a
path from the command line, stdin or a directory listing is always a file,
so that a file named ``x; rm -rf ~ |`` is never run.
"""

from __future__ import annotations

import io
import logging
import subprocess
from pathlib import Path

import numpy as np
import soundfile
import soxr

log = logging.getLogger(__name__)

# Float files a little over full scale are common (mixing, resampling
# overshoot); a peak beyond this means the samples are not in the [-1, 1]
# convention and features will be off, which is worth a warning.
MAX_PEAK = 2.0
# Recording checks (recording_problems): a sample this close to full scale, next
# to another, is clipping; more than this share of such samples is worth saying.
CLIP_LEVEL = 0.999
CLIPPED_SHARE = 0.001
# A recording whose loudest 25 ms frame is below QUIET_DBFS is very quiet (AN4's
# quietest file peaks at -37 dBFS); one with fewer than ACTIVE_SHARE of its frames
# within 30 dB of its loudest is mostly silence (AN4's utterances: 27% or more).
QUIET_DBFS = -45.0
ACTIVE_SHARE = 0.15
FRAME_MS = 25.0  # the analysis frame of levels and speech activity, as fbank's window


class AudioError(ValueError):
    """An audio file that cannot be read or holds no samples."""


def read_audio(source: str | Path, sample_rate: int = 16000, *, allow_pipe: bool = False) -> np.ndarray:
    """Return mono float32 samples at ``sample_rate``, nominally in [-1, 1] (see :func:`read_native`)."""
    samples, rate = read_native(source, allow_pipe=allow_pipe)
    return resample(samples, rate, sample_rate)


def read_native(source: str | Path, *, allow_pipe: bool = False) -> tuple[np.ndarray, int]:
    """Mono float32 samples at the file's own sample rate, and that rate.

    ``source`` is a path; with ``allow_pipe`` (a ``wav.scp`` value, and
    nothing else) it may also be a Kaldi pipe (``cmd args |``).  Errors name
    the source and say what is wrong, so callers can report and skip.
    Non-finite samples are an error (they would silently give an empty
    transcript); a peak far beyond full scale is only a warning.
    """
    text = str(source).strip() if allow_pipe else str(source)
    try:
        if allow_pipe and text.endswith("|"):
            samples, rate = soundfile.read(io.BytesIO(_run_pipe(text)), dtype="float32", always_2d=True)
        else:
            with open(text, "rb") as file:
                samples, rate = soundfile.read(file, dtype="float32", always_2d=True)
    except FileNotFoundError:
        raise AudioError(f"{text}: no such file") from None
    except PermissionError:
        raise AudioError(f"{text}: permission denied") from None
    except IsADirectoryError:
        raise AudioError(f"{text}: is a directory, not an audio file") from None
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{text}: unreadable audio ({error})") from None
    except OSError as error:
        raise AudioError(f"{text}: cannot read ({error.strerror or error})") from None
    check_samples(samples, text)
    return (samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]), int(rate)


def check_samples(samples: np.ndarray, name: str) -> None:
    """One-line AudioError for no samples or NaN/inf ones; a warning for a peak far beyond full scale.

    Files and arrays given to the Python API go through the same checks.
    """
    if samples.size == 0:
        raise AudioError(f"{name}: no samples")
    if not np.isfinite(samples).all():
        raise AudioError(f"{name}: non-finite samples (NaN or inf)")
    peak = float(np.abs(samples).max())
    if peak > MAX_PEAK:
        log.warning("%s: out-of-range amplitude (peak %.3g, expected within +-1); transcribing it as it is", name, peak)


def _run_pipe(command: str) -> bytes:
    """Standard output of a Kaldi pipe ``cmd args |`` (a trusted ``wav.scp`` value)."""
    result = subprocess.run(command[:-1], shell=True, capture_output=True, check=False)
    if result.returncode != 0:
        raise AudioError(f"{command}: command failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


def cut_segment(
    samples: np.ndarray, sample_rate: int, start: float, end: float, max_overshoot: float = 0.5
) -> np.ndarray:
    """Seconds ``start`` to ``end`` (-1: the end) of a recording, as Kaldi's ``extract-segments``.

    An end up to ``max_overshoot`` seconds past the recording (rounding in
    someone's segmentation) is cut to it; a segment further out is an error.
    """
    duration = len(samples) / sample_rate
    if end < 0:
        end = duration
    if end > duration + max_overshoot or start >= duration:
        raise AudioError(f"segment {start:g}-{end:g} s lies outside the recording ({duration:.2f} s)")
    return samples[round(start * sample_rate) : round(min(end, duration) * sample_rate)].copy()


def resample(samples: np.ndarray, orig_rate: float, new_rate: float) -> np.ndarray:
    if orig_rate == new_rate:
        return np.ascontiguousarray(samples, dtype=np.float32)
    return soxr.resample(samples, orig_rate, new_rate).astype(np.float32, copy=False)


def frame_power_db(samples: np.ndarray, sample_rate: float) -> tuple[np.ndarray, int]:
    """Mean power in dB relative to full scale (dBFS) of each 25 ms frame, and the frame length in samples.

    Frames do not overlap and the last one may be short, so that every
    sample counts; silent frames are -inf dB.  One measure serves the
    recording checks (:func:`recording_problems`) and the levels of
    :mod:`asr.data.degrade` (SNR, trimming), so both agree on what is quiet.
    """
    frame = max(1, round(FRAME_MS / 1000 * sample_rate))
    if not len(samples):
        return np.empty(0), frame
    starts = np.arange(0, len(samples), frame)
    energy = np.add.reduceat(np.square(samples, dtype=np.float64), starts)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(energy / np.diff(np.append(starts, len(samples)))), frame


def speed_perturb(samples: np.ndarray, factor: float) -> np.ndarray:
    """Play ``samples`` ``factor`` times faster, as ``sox speed``: tempo and pitch change.

    Resampling to ``rate / factor`` and reading the result at ``rate`` is
    exactly what Kaldi's speed perturbation does.
    """
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    return resample(samples, 1.0, 1.0 / factor) if factor != 1.0 else samples


def recording_problems(samples: np.ndarray, rate: float, model_rate: int) -> dict[str, str]:
    """What in a recording (mono, at its own ``rate``) will cost accuracy, by kind: ``narrowband``,
    ``clipped``, ``quiet``, ``silent``; empty when nothing stands out.

    The model hears nothing above half the file's rate, so a file sampled
    below the model's rate loses that band whatever resampling does; a run
    of full-scale samples is clipping; a recording whose 25 ms frames are
    almost all far below its loudest has little speech in it.
    """
    problems = {}
    if rate < model_rate:
        problems["narrowband"] = (f"sampled at {rate:g} Hz, below the model's {model_rate} Hz: it holds nothing "
                                  f"above {rate / 2000:g} kHz, which costs accuracy")
    at_full_scale = np.abs(samples) >= CLIP_LEVEL
    clipped = float((at_full_scale[1:] & at_full_scale[:-1]).mean()) if len(samples) > 1 else 0.0
    if clipped > CLIPPED_SHARE:
        problems["clipped"] = f"clipped ({100 * clipped:.1f}% of samples in runs at full scale)"
    level, _ = frame_power_db(samples, rate)
    if len(level):
        if level.max() < QUIET_DBFS:
            problems["quiet"] = f"very quiet (its loudest 25 ms at {level.max():.0f} dBFS)"
        active = float((level > level.max() - 30.0).mean())
        if active < ACTIVE_SHARE:
            problems["silent"] = f"mostly silence (speech-level sound in {100 * active:.0f}% of it)"
    return problems


class RecordingWarnings:
    """One stderr line per kind of problem per run (the first file that shows it), not one per file."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def check(self, name: str, samples: np.ndarray, rate: float, model_rate: int) -> None:
        for kind, problem in recording_problems(samples, rate, model_rate).items():
            if kind not in self.seen:
                log.warning("%s: %s (said once per run)", name, problem)
            self.seen[kind] = self.seen.get(kind, 0) + 1
