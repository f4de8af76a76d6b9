"""Audio input: any format soundfile reads, mixed to mono, resampled.

torchaudio 2.11's ``load`` needs FFmpeg through torchcodec, so audio is read
with ``soundfile`` (libsndfile: wav, flac, ogg, mp3) and resampled with
``soxr``.  A Kaldi ``wav.scp`` value ending in ``|`` is a command whose
standard output is the audio, as in Kaldi's extended filenames.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import soundfile
import soxr


class AudioError(ValueError):
    """An audio file that cannot be read or holds no samples."""


def read_audio(source: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Return mono float32 samples in [-1, 1] at ``sample_rate``.

    ``source`` is a path or a Kaldi pipe (``cmd args |``).  Errors name the
    source and say what is wrong, so callers can report and skip.
    """
    text = str(source).strip()
    try:
        if text.endswith("|"):
            result = subprocess.run(text[:-1], shell=True, capture_output=True, check=False)
            if result.returncode != 0:
                raise AudioError(f"{text}: command failed: {result.stderr.decode(errors='replace').strip()}")
            samples, rate = soundfile.read(io.BytesIO(result.stdout), dtype="float32", always_2d=True)
        else:
            if not Path(text).exists():
                raise AudioError(f"{text}: no such file")
            samples, rate = soundfile.read(text, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"{text}: unreadable audio ({error})") from None
    if samples.shape[0] == 0:
        raise AudioError(f"{text}: no samples")
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    return resample(mono, rate, sample_rate)


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


def speed_perturb(samples: np.ndarray, factor: float) -> np.ndarray:
    """Play ``samples`` ``factor`` times faster, as ``sox speed``: tempo and pitch change.

    Resampling to ``rate / factor`` and reading the result at ``rate`` is
    exactly what Kaldi's speed perturbation does.
    """
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, got {factor}")
    return resample(samples, 1.0, 1.0 / factor) if factor != 1.0 else samples
