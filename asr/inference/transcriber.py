"""Transcription whatever computes the log-probs: inputs in, text with word times and confidences out.

:class:`Transcriber` is what the torch recognizer (:class:`.recognizer.Recognizer`)
and the torch-free ONNX runtime (:class:`asr.runtime.OnnxRecognizer`) share:
reading inputs (files, or samples in memory), cutting recordings longer
than ``max_segment`` seconds into utterance-like pieces (``vad``:
:mod:`.segmentation`), the decoding settings and search, and word times
shifted back to the recording's clock, rounded to the millisecond.  A
handwriting model reads each image as one text line and gives text only (an
image has no time axis).  A subclass says how features are computed and how
they become log-probs (:meth:`Transcriber.features_of`,
:meth:`Transcriber.forward`).  Numpy only: torch tensors given as inputs
are recognized by their ``detach`` method.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from asr.data.audio import AudioError, RecordingWarnings, check_samples, read_native, resample
from asr.data.buckets import bucket_batches
from asr.data.kinds import FeatureConfig
from asr.data.line_images import IMAGE_SUFFIXES, ImageConfig, ImageError, read_image
from asr.data.text import Tokenizer
from asr.decode.alignment import WordTiming, word_timings
from asr.decode.beam_search import Hypothesis
from asr.decode.search import DecodeConfig, Decoder, make_decoder
from asr.inference.segmentation import check_max_segment, check_vad, segment

# What a speech model reads (soundfile's formats); a handwriting model reads asr.data.IMAGE_SUFFIXES.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".sph", ".aiff", ".aif", ".au")
MAX_CHANNELS = 8  # of a 2-D array, on its shorter axis
# One thing to transcribe: a path, or samples in memory (a numpy array or a torch tensor).
Audio = Any
# Peak amplitude below which a recording is taken as silent (-60 dBFS).
SILENCE_PEAK = 1e-3


@dataclass
class Transcript:
    """One input's result; ``error`` is set (and ``text`` None) when it failed.

    ``source``: the path, or ``array`` (``array[i]``: the i-th of a list) for samples in memory.  Word times,
    confidences and ``duration`` are rounded to 3 decimals (milliseconds), as every output format writes them.
    """

    source: str
    text: str | None = None
    words: list[WordTiming] = field(default_factory=list)
    duration: float = 0.0
    error: str | None = None


class InputNotFoundError(FileNotFoundError, ValueError):
    """A file to transcribe that does not exist: a FileNotFoundError, and a ValueError as every failed input."""


def in_memory(item: Audio) -> bool:
    """Whether ``item`` holds samples (a numpy array or a torch tensor) rather than naming a file."""
    return isinstance(item, np.ndarray) or hasattr(item, "detach")


def array_samples(audio: Audio, rate: float, target: int, name: str = "array") -> np.ndarray:
    """Mono float32 samples at ``target`` Hz of float samples (nominally in [-1, 1]) at ``rate`` Hz.

    1-D, or 2-D with channels on the shorter axis (soundfile's (samples, channels) and torchaudio's
    (channels, samples) alike), mixed to mono.  Checked as files are, in one AudioError line naming ``name``:
    no samples, non-finite ones, a peak far beyond full scale (a warning only); then resampled.
    """
    if hasattr(audio, "detach"):  # a torch tensor: off the graph and the GPU, bfloat16 widened (numpy has none)
        audio = audio.detach().cpu()
        audio = (audio.float() if audio.is_floating_point() else audio).numpy()
    audio = np.asarray(audio)
    if not np.issubdtype(audio.dtype, np.floating):
        raise AudioError(f"{name}: expected float samples in [-1, 1], got {audio.dtype} (int16: divide by 32768)")
    if audio.ndim == 2 and audio.size:
        axis = int(np.argmin(audio.shape))
        if audio.shape[axis] > MAX_CHANNELS:
            raise AudioError(f"{name}: a 2-D array must hold at most {MAX_CHANNELS} channels on its shorter axis, "
                             f"got shape {audio.shape}")
        audio = audio.mean(axis=axis)
    elif audio.ndim != 1:
        raise AudioError(f"{name}: expected 1-D samples (or 2-D with channels), got shape {audio.shape}")
    if not rate > 0:
        raise AudioError(f"{name}: sample_rate must be positive, got {rate}")
    check_samples(audio, name)
    return resample(audio.astype(np.float32, copy=False), rate, target)


class Transcriber:
    """Inputs to transcripts, given how features are computed (:meth:`features_of`) and scored (:meth:`log_probs`).

    ``tokens``, ``features`` and ``subsampling`` (input frames per output
    frame) describe the model; ``config`` the decoding (None: what the
    model carries, :meth:`carried_config`); ``max_segment`` and ``vad`` how
    long recordings are cut; ``word_timings`` whether words get times and
    confidences (a forced alignment per piece: plain-text output has no use
    for them).
    """

    def __init__(self, tokens: Sequence[str], features: FeatureConfig, subsampling: int,
                 config: DecodeConfig | None = None, max_segment: float = 20.0, word_timings: bool = True,
                 vad: str = "energy") -> None:
        self.max_segment = max_segment
        self.vad = vad
        self.tokenizer = Tokenizer(tuple(tokens))
        self.features = features
        self.subsampling = subsampling
        self.word_timings = word_timings
        self._config = config  # None until first asked for: the carried decoding then
        self._decoder: Decoder | None = None
        self.recording_warnings = RecordingWarnings()  # narrowband, clipped, quiet, silent: once each per run

    # What a subclass provides.

    def features_of(self, source: np.ndarray) -> Any:
        """(T, D) features of audio samples at the model's rate, or of a line image's grey levels."""
        raise NotImplementedError

    def forward(self, feats: Sequence[Any], lengths: Sequence[int]) -> list[Any]:
        """CTC log-probs (T', V), an array or a tensor, of one batch of raw feature matrices.

        Each is normalized and zero-padded (after normalization: the mean, or
        paper) to ``lengths`` (its own length, or the model's subsampling where
        it is shorter) and to the batch's longest.
        """
        raise NotImplementedError

    def carried_config(self) -> DecodeConfig:
        """The decoding the model carries (its lexicon, LM and tuned weights); greedy unless overridden."""
        return DecodeConfig()

    def log_probs(self, feats: Sequence[Any], max_frames: int = 20000,
                  on_batch: Callable[[int], Any] | None = None) -> list[Any]:
        """CTC log-probs (T', V) of each raw feature matrix of :meth:`features_of`, in batches of similar length.

        Batches hold at most ``max_frames`` padded frames and 64 inputs.  An
        input shorter than the model's subsampling (a sliver of an image) is
        padded to one output frame instead of failing the whole batch.
        ``on_batch`` is told the number of inputs of each batch done (a progress bar's ``update``).
        """
        lengths = [max(len(f), self.subsampling) for f in feats]
        results: list[Any] = [None] * len(feats)
        for indices in bucket_batches(lengths, max_frames, 64, shuffle=False):
            for i, out in zip(indices, self.forward([feats[i] for i in indices], [lengths[i] for i in indices])):
                results[i] = out
            if on_batch is not None:
                on_batch(len(indices))
        return results

    # The model's side.

    @property
    def reads_images(self) -> bool:
        """Whether this is a handwriting model (inputs are line images, not audio)."""
        return isinstance(self.features, ImageConfig)

    def require_time_axis(self, where: str) -> None:
        """Fail early, naming ``where`` (the model file), when asked for times from an image model."""
        if self.reads_images:
            raise ValueError(f"{where}: a handwriting (image) model has no time axis: "
                             "timings (CTM, SRT, alignments) are for speech models")

    @property
    def frame_shift(self) -> float:
        """Seconds per output frame."""
        self.require_time_axis("model")
        return self.features.frame_shift_ms / 1000 * self.subsampling

    # The decoding settings.

    @property
    def config(self) -> DecodeConfig:
        """How log-probs are searched (greedy, beam, lexicon, LM): by default what the model carries, else greedy."""
        if self._config is None:
            self._config = self.carried_config()
        return self._config

    def configure(self, config: DecodeConfig) -> None:
        """Decode from now on with ``config`` (greedy, beam, lexicon, LM).

        The decoder is built when first needed, so configuring twice (the
        carried decoding, then the user's options on top) loads an LM once.
        """
        self._config = config
        self._decoder = None

    @property
    def decode(self) -> Decoder:
        """The search for the current config: one utterance's log-probs to its N-best hypotheses."""
        if self._decoder is None:
            self._decoder = make_decoder(self.tokenizer, self.config)
        return self._decoder

    @property
    def max_segment(self) -> float:
        """Seconds above which a recording is cut (at least :data:`.segmentation.MIN_SEGMENT`)."""
        return self._max_segment

    @max_segment.setter
    def max_segment(self, seconds: float) -> None:
        self._max_segment = check_max_segment(seconds)

    @property
    def vad(self) -> str:
        """How a recording longer than :attr:`max_segment` is cut: ``energy`` or ``silero`` (:mod:`.segmentation`)."""
        return self._vad

    @vad.setter
    def vad(self, name: str) -> None:
        self._vad = check_vad(name)

    # Files (and samples in memory) to transcripts.

    def transcribe(self, audio: Audio | Sequence[Audio], sample_rate: float | None = None
                   ) -> Transcript | list[Transcript]:
        """Transcribe a path or samples in memory at ``sample_rate`` Hz (default: the model's), or a list of them.

        A list gives a list.  A failure raises, naming the input (after all are done, for a list):
        :class:`InputNotFoundError` (a FileNotFoundError) for a missing file, else ValueError.
        :meth:`transcribe_files` reports failures in ``Transcript.error`` instead.
        """
        single = isinstance(audio, (str, Path)) or in_memory(audio)
        inputs = [audio] if single else list(audio)
        names = ["array" if in_memory(audio) else str(audio)] if single else None
        results = list(self.transcribe_files(inputs, sample_rate=sample_rate, names=names))
        for item, result in ((item, result) for item, result in zip(inputs, results) if result.error):
            missing = isinstance(item, (str, Path)) and not os.path.exists(item)
            raise (InputNotFoundError if missing else ValueError)(result.error)
        return results[0] if single else results

    def transcribe_files(self, paths: Iterable[Audio], batch_files: int = 64, allow_pipe: bool = False,
                         sample_rate: float | None = None, names: Sequence[str] | None = None
                         ) -> Iterator[Transcript]:
        """One transcript per input, in input order; failures carry ``error`` and do not stop the rest.

        Inputs are paths or samples in memory (at ``sample_rate``, default the model's; named
        ``array[i]`` by their place, or by ``names``), ``batch_files`` at a time: on one core, 64 AN4
        files a batch decode 1.1x faster than 16 (larger matrix products), in little memory.
        ``allow_pipe`` is for ``wav.scp`` values only, which may be Kaldi
        pipes (``cmd |``, run by the shell); otherwise every input is a file.
        """
        chunk: list[tuple[str, Audio]] = []
        for i, item in enumerate(paths):
            name = names[i] if names is not None else f"array[{i}]" if in_memory(item) else str(item)
            chunk.append((name, item if in_memory(item) else str(item)))
            if len(chunk) == batch_files:
                yield from self._transcribe_chunk(chunk, allow_pipe, sample_rate)
                chunk = []
        if chunk:
            yield from self._transcribe_chunk(chunk, allow_pipe, sample_rate)

    def _pieces(self, result: Transcript, item: Audio, allow_pipe: bool, sample_rate: float | None
                ) -> list[tuple[float, Any]]:
        """(offset in seconds, features) of the utterance-like pieces of one input."""
        if self.reads_images:
            if not isinstance(item, str) or Path(item).suffix.lower() in AUDIO_SUFFIXES:  # an array is audio too
                raise ImageError(f"{result.source}: this is a handwriting model; audio needs a speech model")
            return [(0.0, self.features_of(read_image(item)))]
        rate = self.features.sample_rate
        if in_memory(item):
            native_rate = rate if sample_rate is None else sample_rate
            samples = array_samples(item, native_rate, native_rate, result.source)
        elif Path(item).suffix.lower() in IMAGE_SUFFIXES:
            raise AudioError(f"{result.source}: this is a speech model; images need a handwriting model")
        else:
            samples, native_rate = read_native(item, allow_pipe=allow_pipe)
        if np.abs(samples).max() < SILENCE_PEAK:  # an error, so before the warnings
            raise AudioError(f"{result.source}: silent audio (peak below -60 dBFS), nothing to transcribe")
        self.recording_warnings.check(result.source, samples, native_rate, rate)
        samples = resample(samples, native_rate, rate)
        result.duration = round(len(samples) / rate, 3)
        return [(start / rate, self.features_of(samples[start:end]))
                for start, end in segment(samples, rate, self.max_segment, self.vad)]

    def _transcribe_chunk(self, chunk: list[tuple[str, Audio]], allow_pipe: bool, sample_rate: float | None
                          ) -> Iterator[Transcript]:
        results = [Transcript(name) for name, _ in chunk]
        pieces: list[tuple[int, float, Any]] = []  # (result index, offset in s, features)
        for i, (result, (_, item)) in enumerate(zip(results, chunk)):
            try:
                pieces += [(i, offset, feats) for offset, feats in self._pieces(result, item, allow_pipe, sample_rate)]
            except (AudioError, ImageError, ValueError) as error:
                result.error = str(error) if result.source in str(error) else f"{result.source}: {error}"
        log_probs = self.log_probs([feats for _, _, feats in pieces])
        texts: dict[int, list[str]] = {}
        for (i, offset, _), lp in zip(pieces, log_probs):
            if results[i].error:
                continue
            hypotheses = self.decode(lp)
            best = hypotheses[0] if hypotheses else None
            texts.setdefault(i, []).append(best.text if best else "")
            if self.reads_images or not self.word_timings:
                continue
            words = hypothesis_timings(self, lp, best, results[i].source)
            # Milliseconds: 44 frames of 30 ms are 1.32 s, not 1.3199999999999998, in every output alike.
            results[i].words += [replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3),
                                         confidence=round(w.confidence, 3)) for w in words]
        for i, result in enumerate(results):
            if not result.error:
                result.text = " ".join(t for t in texts.get(i, []) if t)
        return iter(results)


def hypothesis_timings(transcriber: Transcriber, log_probs: Any, hypothesis: Hypothesis | None, utterance_id: str
                       ) -> list[WordTiming]:
    """Word start/end times and confidences of a hypothesis, by CTC forced alignment."""
    if hypothesis is None or not hypothesis.tokens:
        return []
    return word_timings(log_probs, hypothesis.tokens, transcriber.tokenizer.tokens, transcriber.frame_shift,
                        utterance_id)
