"""The loaded model and transcription: audio (or line images) in, text with word times and confidences out.

:class:`Recognizer` is the one object a loaded model file becomes (as
ESPnet's Speech2Text): the network, its tokens and feature normalization,
and the decoding settings; :func:`load_model` gives one, loaded once for
many files, which it processes in batches.  Recordings are cut at their
pauses (and pieces longer than ``max_segment`` seconds at their quietest
points) into utterance-like pieces, each piece is decoded, and word times
are shifted back to the recording's clock, rounded to the millisecond.  A
handwriting model reads each image as one text line and gives text only (an
image has no time axis).  Inputs are paths or, for speech models, float samples
in memory (numpy or torch, see :func:`array_samples`), checked as files are.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch

from asr.data.audio import AudioError, check_samples, read_audio, resample
from asr.data.batching import bucket_batches
from asr.data.features import fbank
from asr.data.frontend import normalization
from asr.data.images import IMAGE_SUFFIXES, ImageConfig, ImageError, image_features, read_image
from asr.data.text import Tokenizer
from asr.decode.alignment import WordTiming, word_timings
from asr.decode.beam_search import Hypothesis
from asr.decode.search import DecodeConfig, Decoder, make_decoder
from asr.device import resolve_device
from asr.inference.model_file import ModelFile
from asr.model import AcousticModel
from asr.precision import amp_dtype, autocast


# What a speech model reads (soundfile's formats); a handwriting model reads asr.data.IMAGE_SUFFIXES.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".sph", ".aiff", ".aif", ".au")
MAX_CHANNELS = 8  # of a 2-D array, on its shorter axis
Audio = str | Path | np.ndarray | torch.Tensor  # one thing to transcribe: a path, or samples in memory

# Where `pip install` puts the pretrained AN4 model (see recipes/an4/RESULTS.md).
DEFAULT_MODEL = Path(__file__).parents[1] / "models" / "an4.pt"
# Peak amplitude below which a recording is taken as silent (-60 dBFS).
SILENCE_PEAK = 1e-3
# Shortest --max-segment: pieces must stay utterance-like (the model was
# trained on 0.5-20 s utterances); a smaller limit only shreds words.
MIN_SEGMENT = 1.0


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


def array_samples(audio: np.ndarray | torch.Tensor, rate: float, target: int, name: str = "array") -> np.ndarray:
    """Mono float32 samples at ``target`` Hz of float samples (nominally in [-1, 1]) at ``rate`` Hz.

    1-D, or 2-D with channels on the shorter axis (soundfile's (samples, channels) and torchaudio's
    (channels, samples) alike), mixed to mono.  Checked as files are, in one AudioError line naming ``name``:
    no samples, non-finite ones, a peak far beyond full scale (a warning only); then resampled.
    """
    if isinstance(audio, torch.Tensor):
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


def check_max_segment(seconds: float, name: str = "max_segment") -> float:
    """``seconds`` if it is a usable piece length, else a one-line ValueError naming the setting ``name``.

    A tiny limit would cut speech into slivers no model can read; NaN is refused too.
    """
    if not seconds >= MIN_SEGMENT:
        raise ValueError(f"{name} must be at least {MIN_SEGMENT:g} s, got {seconds:g}")
    return seconds


def split_on_silence(
    samples: np.ndarray, rate: int, max_segment: float = 20.0, min_pause: float = 0.3, window: float = 0.1
) -> list[tuple[int, int]]:
    """Cut a recording longer than ``max_segment`` seconds at its pauses.

    A recording that fits is left whole: cutting an utterance at its
    internal pauses costs accuracy.  A longer one is cut in the middle of
    every pause of at least ``min_pause`` seconds, since the model was
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


class Recognizer:
    """A loaded model file, ready to turn audio (or line images) into text: ``asr.load_model().transcribe("a.wav")``.

    It holds the network (:class:`asr.model.AcousticModel`) on ``device``,
    the tokens, the feature normalization and the decoding settings
    (``config``: the decoding the file carries unless :meth:`configure`
    says otherwise), and gives CTC log-probs of features (:meth:`log_probs`)
    as well as whole transcripts (:meth:`transcribe_files`).
    """

    def __init__(self, contents: ModelFile, device: str | torch.device = "auto", config: DecodeConfig | None = None,
                 max_segment: float = 20.0, word_timings: bool = True) -> None:
        """Load ``contents`` on ``device`` (auto: a CUDA GPU when torch sees one, else the CPU).

        The forward pass runs in the precision the model was trained in where
        the device has it natively (:func:`asr.precision.amp_dtype`), else in float32.
        """
        self.max_segment = max_segment  # checked first: a bad value costs no model load
        self.device = resolve_device(device)
        self.network = AcousticModel(contents.model)
        # Exported files may store float16 weights to halve their size; compute in float32.
        self.network.load_state_dict({name: tensor.float() for name, tensor in contents.weights.items()})
        self.network.eval().to(self.device)
        self.spec = replace(contents, weights={})  # what the file describes; the weights are in the network
        self.tokenizer = Tokenizer(contents.tokens)
        self.mean, self.inv_std = normalization(contents.features, contents.cmvn)
        # autocast dtype of the forward pass; None: float32
        self.dtype = amp_dtype(contents.info.get("config", {}).get("amp", "none"), self.device)
        # Word times and confidences (a forced alignment per piece): plain-text output has no use for them.
        self.word_timings = word_timings
        self._assets: tempfile.TemporaryDirectory | None = None  # the carried lexicon and LM, written out
        self._config = config  # None until first asked for: the carried decoding, unpacked then
        self._decoder: Decoder | None = None

    # The network's side: features to CTC log-probs.

    @property
    def reads_images(self) -> bool:
        """Whether this is a handwriting model (inputs are line images, not audio)."""
        return isinstance(self.spec.features, ImageConfig)

    def require_time_axis(self, where: str) -> None:
        """Fail early, naming ``where`` (the model file), when asked for times from an image model."""
        if self.reads_images:
            raise ValueError(f"{where}: a handwriting (image) model has no time axis: "
                             "timings (CTM, SRT, alignments) are for speech models")

    @property
    def frame_shift(self) -> float:
        """Seconds per output frame."""
        self.require_time_axis("model")
        return self.spec.features.frame_shift_ms / 1000 * self.spec.model.subsampling

    @torch.no_grad()
    def log_probs(self, feats: Sequence[torch.Tensor], max_frames: int = 20000) -> list[torch.Tensor]:
        """CTC log-probs (T', V) of each raw feature matrix, in batches of similar length.

        An input shorter than the model's subsampling (a sliver of an image)
        is padded with zeros (after normalization: the mean, or paper) to one
        output frame instead of failing the whole batch.
        """
        least = self.spec.model.subsampling
        normalized = [torch.nn.functional.pad((f - self.mean) * self.inv_std, (0, 0, 0, max(0, least - len(f))))
                      for f in feats]
        results: list[torch.Tensor] = [torch.empty(0)] * len(feats)
        for indices in bucket_batches([f.shape[0] for f in normalized], max_frames, 64, shuffle=False):
            batch = torch.nn.utils.rnn.pad_sequence([normalized[i] for i in indices], batch_first=True)
            lengths = torch.tensor([normalized[i].shape[0] for i in indices])
            with autocast(self.device, self.dtype):
                out, out_lengths = self.network(batch.to(self.device), lengths)
            # Renormalized in float32: bfloat16 log-probs sum to 1 only within about 1%.  Decoders run on the CPU.
            out = out.float().log_softmax(dim=-1).cpu()
            for row, i in enumerate(indices):
                results[i] = out[row, : out_lengths[row]]
        return results

    # The decoding settings.

    @property
    def config(self) -> DecodeConfig:
        """How log-probs are searched (greedy, beam, lexicon, LM): by default what the file carries, else greedy."""
        if self._config is None:
            carried = self.spec.decoding
            if carried is None:
                self._config = DecodeConfig()
            else:
                self._assets = tempfile.TemporaryDirectory(prefix="asr-model-")
                self._config = carried.unpack(self._assets.name)
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
        """Seconds above which a recording is cut at its pauses (at least :data:`MIN_SEGMENT`)."""
        return self._max_segment

    @max_segment.setter
    def max_segment(self, seconds: float) -> None:
        self._max_segment = check_max_segment(seconds)

    # Files (and samples in memory) to transcripts.

    def transcribe(self, audio: Audio | Sequence[Audio], sample_rate: float | None = None
                   ) -> Transcript | list[Transcript]:
        """Transcribe a path or samples in memory at ``sample_rate`` Hz (default: the model's), or a list of them.

        A list gives a list.  A failure raises, naming the input (after all are done, for a list):
        :class:`InputNotFoundError` (a FileNotFoundError) for a missing file, else ValueError.
        :meth:`transcribe_files` reports failures in ``Transcript.error`` instead.
        """
        single = isinstance(audio, (str, Path, np.ndarray, torch.Tensor))
        inputs = [audio] if single else list(audio)
        names = ["array" if isinstance(audio, (np.ndarray, torch.Tensor)) else str(audio)] if single else None
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
            in_memory = isinstance(item, (np.ndarray, torch.Tensor))
            name = names[i] if names is not None else f"array[{i}]" if in_memory else str(item)
            chunk.append((name, item if in_memory else str(item)))
            if len(chunk) == batch_files:
                yield from self._transcribe_chunk(chunk, allow_pipe, sample_rate)
                chunk = []
        if chunk:
            yield from self._transcribe_chunk(chunk, allow_pipe, sample_rate)

    def _pieces(self, result: Transcript, item: Audio, allow_pipe: bool, sample_rate: float | None
                ) -> list[tuple[float, torch.Tensor]]:
        """(offset in seconds, features) of the utterance-like pieces of one input."""
        features = self.spec.features
        if isinstance(features, ImageConfig):
            if not isinstance(item, str) or Path(item).suffix.lower() in AUDIO_SUFFIXES:  # an array is audio too
                raise ImageError(f"{result.source}: this is a handwriting model; audio needs a speech model")
            return [(0.0, image_features(read_image(item), features))]
        rate = features.sample_rate
        if isinstance(item, (np.ndarray, torch.Tensor)):
            samples = array_samples(item, rate if sample_rate is None else sample_rate, rate, result.source)
        elif Path(item).suffix.lower() in IMAGE_SUFFIXES:
            raise AudioError(f"{result.source}: this is a speech model; images need a handwriting model")
        else:
            samples = read_audio(item, rate, allow_pipe=allow_pipe)
        result.duration = round(len(samples) / rate, 3)
        if np.abs(samples).max() < SILENCE_PEAK:
            raise AudioError(f"{result.source}: silent audio (peak below -60 dBFS), nothing to transcribe")
        return [(start / rate, fbank(samples[start:end], features))
                for start, end in split_on_silence(samples, rate, self.max_segment)]

    def _transcribe_chunk(self, chunk: list[tuple[str, Audio]], allow_pipe: bool, sample_rate: float | None
                          ) -> Iterator[Transcript]:
        results = [Transcript(name) for name, _ in chunk]
        pieces: list[tuple[int, float, torch.Tensor]] = []  # (result index, offset in s, features)
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


def load_model(path: str | Path | None = None, config: DecodeConfig | None = None, device: str = "auto",
               max_segment: float = 20.0, word_timings: bool = True) -> Recognizer:
    """Load a model file once (default: the pretrained AN4 model) for many transcriptions.

    ``config``: the decoding (default: what the file carries, else greedy);
    ``device``: auto (a CUDA GPU when torch sees one, else the CPU), cpu or cuda.
    """
    return Recognizer(ModelFile.read(path or DEFAULT_MODEL), device, config, max_segment, word_timings)


def load_recognizer(path: str | Path, device: str | torch.device = "auto") -> Recognizer:
    """Load the model file at ``path`` on ``device``: :func:`load_model` for the decoding commands."""
    return Recognizer(ModelFile.read(path), device)


def hypothesis_timings(
    recognizer: Recognizer, log_probs: torch.Tensor, hypothesis: Hypothesis | None, utterance_id: str
) -> list[WordTiming]:
    """Word start/end times and confidences of a hypothesis, by CTC forced alignment."""
    if hypothesis is None or not hypothesis.tokens:
        return []
    return word_timings(log_probs, hypothesis.tokens, recognizer.tokenizer.tokens, recognizer.frame_shift, utterance_id)
