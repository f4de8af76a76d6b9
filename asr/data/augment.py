"""On-the-fly waveform augmentation for training: the recording conditions users have.

Each epoch, each training utterance may be trimmed to its speech, put in a
simulated room, mixed with noise, gated (its silence made near-digital and
more of it added, as a noise suppressor leaves it), changed in level and
narrowed to a telephone or 8 kHz band: each with its own probability, in the
order a recording goes through them (room, noise, suppressor, level,
channel).  The gate is drawn per batch, not per utterance
(:meth:`WaveAugmenter.draw_gate`): the silence it adds lengthens a padded
batch to its longest utterance, so one gated utterance would cost as much as
gating them all.  The result is
turned into Kaldi fbank with the data dir's own settings and normalized with
its CMVN, so data dirs, CMVN and the model's front end stay as they are;
unaugmented draws keep the stored features.  The degradations themselves are
:mod:`asr.data.degrade`'s, shared with the robustness benchmark.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from asr.data import degrade
from asr.data.audio import AudioError, resample
from asr.data.batching import Utterance
from asr.data.datadir import DataDir
from asr.data.features import fbank
from asr.data.frontend import utterance_samples
from asr.data.kaldi_fbank import FbankConfig
from asr.data.text import ctc_min_frames

log = logging.getLogger(__name__)

_INT16 = 32767.0


@dataclass
class WaveAugmentConfig:
    """Probabilities (per utterance, per epoch) and ranges of each degradation; all off by default."""

    trim: float = 0.0  # leading and trailing silence cut to trim_keep_ms (tight clips)
    trim_keep_ms: tuple[float, float] = (20.0, 100.0)
    reverb: float = 0.0  # a simulated room
    rt60: tuple[float, float] = (0.2, 0.9)  # seconds
    rooms: int = 32  # room impulse responses drawn once per run: the image method is slow at long RT60
    noise: float = 0.0
    snr_db: tuple[float, float] = (5.0, 25.0)
    babble: float = 0.5  # share of the noise that is babble of other training utterances, the rest white
    # Per batch: every utterance's silence beyond gate_keep_ms of its speech made near-digital (gate_level_db),
    # and gate_pad seconds more of it added before and after (one draw per side for the whole batch).
    gate: float = 0.0
    gate_keep_ms: tuple[float, float] = (50.0, 300.0)  # a suppressor's hangover, drawn per utterance
    gate_pad: tuple[float, float] = (0.0, 1.0)
    gate_level_db: tuple[float, float] = (-100.0, -80.0)  # dBFS, drawn per utterance: one 16-bit step is -90
    gain: float = 0.0  # recording level, clipped above full scale
    gain_db: tuple[float, float] = (-25.0, 15.0)
    narrowband: float = 0.0  # an 8 kHz channel (phone, voice recorder)
    telephone: float = 0.5  # share of the narrowband draws that are telephone band (300-3400 Hz, mu-law)
    # The first augmented epoch: before it, CTC learns to align on clean audio (augmented from the first
    # epoch, the AN4 model left CTC's all-blank plateau about 5 epochs later than without augmentation).
    start_epoch: int = 1
    # The last augmented epoch (None: every epoch to the end). Epochs after it, at the schedule's low learning
    # rates, let the network settle on the clean audio it also has to recognize.
    end_epoch: int | None = None

    def __post_init__(self) -> None:
        ranges = ("trim_keep_ms", "rt60", "snr_db", "gate_keep_ms", "gate_pad", "gate_level_db", "gain_db")
        for name in ranges:  # lists from the Python API, as YAML gives tuples
            setattr(self, name, tuple(getattr(self, name)))
        for name in ("trim", "reverb", "noise", "babble", "gate", "gain", "narrowband", "telephone"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        for name in ranges:
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name} must be [low, high], got {[low, high]}")
        if min(self.trim_keep_ms[0], self.gate_keep_ms[0], self.gate_pad[0]) < 0 or self.rt60[0] <= 0:
            raise ValueError("trim_keep_ms, gate_keep_ms and gate_pad must be >= 0 and rt60 > 0")
        if self.rooms < 1 or self.start_epoch < 1:
            raise ValueError(f"rooms and start_epoch must be at least 1, got {self.rooms} and {self.start_epoch}")
        if self.end_epoch is not None and self.end_epoch < self.start_epoch:
            raise ValueError(f"end_epoch ({self.end_epoch}) must not come before start_epoch ({self.start_epoch})")

    def applies_to(self, epoch: int) -> bool:
        """Whether training epoch ``epoch`` (1-based) hears degraded audio."""
        return self.start_epoch <= epoch and (self.end_epoch is None or epoch <= self.end_epoch)

    @property
    def active(self) -> bool:
        return any((self.trim, self.reverb, self.noise, self.gate, self.gain, self.narrowband))


BabbleSources = Callable[[np.random.Generator], list[np.ndarray]]


def degrade_waveform(samples: np.ndarray, rate: int, config: WaveAugmentConfig, rng: np.random.Generator,
                     rirs: list[np.ndarray], babble_sources: BabbleSources,
                     gate_pad: tuple[float, float] | None = None) -> np.ndarray:
    """One random draw of the configured degradations of ``samples`` (at ``rate``), in recording order.

    Returns ``samples`` itself when the draw applies none.  ``rirs`` are the
    run's room impulse responses; ``babble_sources(rng)`` gives other
    utterances to make babble from (white noise when it gives none), asked
    only when babble is drawn.  ``gate_pad``, the batch's draw
    (:meth:`WaveAugmenter.draw_gate`), gates the utterance with that much
    silence added (seconds before and after); None leaves it ungated.
    """
    if rng.random() < config.trim:
        samples = degrade.trim_silence(samples, rate, keep_ms=rng.uniform(*config.trim_keep_ms))
    if rng.random() < config.reverb:
        samples = degrade.reverberate(samples, rirs[rng.integers(len(rirs))])
    if rng.random() < config.noise:
        sources = babble_sources(rng) if rng.random() < config.babble else []
        if sources:
            noise = degrade.babble(sources, len(samples), rng)
        else:
            noise = degrade.white_noise(len(samples), rng)
        samples = degrade.add_noise(samples, noise, rng.uniform(*config.snr_db), rate)
    if gate_pad is not None:
        samples = degrade.gate(samples, rate, rng, level_db=rng.uniform(*config.gate_level_db),
                               keep_ms=rng.uniform(*config.gate_keep_ms), pad=gate_pad)
    if rng.random() < config.gain:
        samples = degrade.gain(samples, rng.uniform(*config.gain_db))
    if rng.random() < config.narrowband:
        if rng.random() < config.telephone:
            samples = resample(degrade.telephone(samples, rate), degrade.TELEPHONE_RATE, rate)[: len(samples)]
        else:
            samples = degrade.band_limit(samples, rate)
    return samples.astype(np.float32, copy=False)


class WaveAugmenter:
    """Normalized fbank of randomly degraded copies of a data dir's training utterances.

    With ``cache`` the waveforms are read once, at the start (as 16-bit
    integers: AN4's hour takes 110 MB), which also finds unreadable audio
    before training rather than hours into it; those utterances keep their
    stored features and are counted in one warning.
    """

    def __init__(self, config: WaveAugmentConfig, data: DataDir, utts: list[Utterance], features: FbankConfig,
                 mean: torch.Tensor, inv_std: torch.Tensor, subsampling: int, seed: int, cache: bool = True) -> None:
        if not isinstance(features, FbankConfig):
            raise ValueError(f"{data.path}: waveform augmentation applies to audio (fbank), not to images")
        self.config, self.data, self.features = config, data, features
        self.mean, self.inv_std, self.subsampling = mean, inv_std, subsampling
        rng = np.random.default_rng([seed, 7919])
        self.rirs = [degrade.room_impulse_response(rng.uniform(*config.rt60), features.sample_rate, rng)
                     for _ in range(config.rooms)] if config.reverb else []
        self.cache: dict[str, np.ndarray] | None = None
        self.unreadable: set[str] = set()
        if cache:
            self.cache = {}
            for utt in utts:
                samples = self._read(utt.key)
                if samples is not None:
                    self.cache[utt.key] = np.round(np.clip(samples, -1, 1) * _INT16).astype(np.int16)
            if self.unreadable:
                log.warning("%s: %d of %d utterances unreadable as audio: they train on their stored features only",
                            data.path, len(self.unreadable), len(utts))
        self.keys = [u.key for u in utts if u.key not in self.unreadable]

    def _read(self, key: str) -> np.ndarray | None:
        if self.cache is not None and key in self.cache:
            return self.cache[key].astype(np.float32) / _INT16
        if key in self.unreadable:
            return None
        try:
            return utterance_samples(*self._source(key))
        except (AudioError, OSError) as error:
            if self.cache is None:  # found now, mid-training: say it once
                log.warning("%s: utterance %s: %s: it trains on its stored features only", self.data.path, key, error)
            self.unreadable.add(key)
            return None

    def _source(self, key: str) -> tuple[str, int, object]:
        source, segment = self.data.source_of(key)
        return source, self.features.sample_rate, segment

    def _babble_sources(self, rng: np.random.Generator, talkers: int = 5) -> list[np.ndarray]:
        """Other training utterances, drawn at random and cut to their speech (so that tiling them leaves no
        gaps), to talk in the background."""
        picked = (self._read(self.keys[i]) for i in rng.integers(len(self.keys), size=talkers))
        return [degrade.trim_silence(samples, self.features.sample_rate, keep_ms=0.0)
                for samples in picked if samples is not None]

    def draw_gate(self, rng: np.random.Generator) -> tuple[float, float] | None:
        """Whether a batch is gated, and if so the seconds of silence it adds before and after.

        Drawn only when the config gates: a config without the gate draws
        exactly what it drew before the gate existed, so its runs reproduce.
        """
        if not (self.config.gate and rng.random() < self.config.gate):
            return None
        return rng.uniform(*self.config.gate_pad), rng.uniform(*self.config.gate_pad)

    def features_of(self, utt: Utterance, rng: np.random.Generator,
                    gate_pad: tuple[float, float] | None = None) -> torch.Tensor | None:
        """Normalized features of one random draw for ``utt`` (gated with ``gate_pad`` s added, if given);
        None where the draw leaves it clean (the stored features serve), its audio is unreadable, or
        trimming left CTC too few frames."""
        config = self.config
        if not config.active:
            return None
        samples = self._read(utt.key)
        if samples is None:
            return None
        try:
            degraded = degrade_waveform(samples, self.features.sample_rate, config, rng, self.rirs,
                                        self._babble_sources, gate_pad)
            if degraded is samples:
                return None
            feats = fbank(degraded, self.features)
        except ValueError:  # a silent recording (no SNR to set), or trimmed below one frame
            return None
        if feats.shape[0] // self.subsampling < ctc_min_frames(utt.labels):
            return None
        return (feats - self.mean) * self.inv_std
