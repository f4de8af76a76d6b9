"""CTC decoding: greedy best path or beam search, and decoding a data dir.

:func:`data_dir_log_probs` runs a model on a data dir once; decoding,
tuning (:mod:`asr.tuning`) and alignment (:mod:`asr.alignment`) start from it.

Greedy and beam search return the same :class:`asr.beam_search.Hypothesis`,
so everything downstream (N-best lists, word timings, CTM) serves both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from asr.alignment import WordTiming, word_timings, write_ctm
from asr.beam_search import BeamSearchDecoder, BeamSearchOptions, Hypothesis, check_paths
from asr.config import load_config, save_config
from asr.datadir import DataDir, load_feats, validate_data_dir, write_table
from asr.frontend import KINDS, load_feature_config
from asr.images import ImageConfig
from asr.text import Tokenizer

if TYPE_CHECKING:
    from asr.transcribe import Recognizer


def greedy_path(log_probs: torch.Tensor) -> tuple[list[int], list[int]]:
    """Best-path token ids of one (T, V) utterance (repeats merged, blanks removed) and their start frames."""
    ids, counts = torch.unique_consecutive(log_probs.argmax(dim=-1), return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    kept = [(int(t), int(s)) for t, s in zip(ids, starts) if t != 0]
    return [t for t, _ in kept], [s for _, s in kept]


def ctc_greedy(log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Best-path token ids for each utterance of a padded (B, T, V) batch."""
    return [greedy_path(log_probs[b, : int(lengths[b])])[0] for b in range(log_probs.shape[0])]


@dataclass
class DecodeConfig:
    """How to search: ``greedy``, or ``beam`` with an optional lexicon and LM.

    A word LM needs a lexicon (the EESEN TLG analogue); a character LM is
    used without one.  Recipes write the tuned values to a YAML file.
    """

    mode: str = "greedy"
    lexicon: str | None = None
    lm: str | None = None
    beam: BeamSearchOptions = field(default_factory=BeamSearchOptions)

    def __post_init__(self) -> None:
        check_paths(lexicon=self.lexicon, lm=self.lm)
        if self.mode not in ("greedy", "beam"):
            raise ValueError(f"mode must be 'greedy' or 'beam', got {self.mode!r}")
        if self.mode == "greedy" and (self.lexicon or self.lm):
            raise ValueError("a lexicon or LM needs mode 'beam'")


Decoder = Callable[[torch.Tensor], list[Hypothesis]]


def make_decoder(tokenizer: Tokenizer, config: DecodeConfig) -> Decoder:
    """A function from one utterance's (T, V) log-probs to its N-best hypotheses."""
    if config.mode == "greedy":
        def greedy(log_probs: torch.Tensor) -> list[Hypothesis]:
            ids, starts = greedy_path(log_probs)
            score = float(log_probs.max(dim=-1).values.sum())
            return [Hypothesis(tokenizer.decode(ids), score, tuple(ids), tuple(starts))]

        return greedy
    search = BeamSearchDecoder(tokenizer.tokens, config.lexicon, config.lm, config.beam)
    return lambda log_probs: search.decode(log_probs)[0]


def read_features(data_dir: str | Path, recognizer: Recognizer) -> tuple[list[str], list[torch.Tensor]]:
    """Utterance ids and raw features of a data dir, checked against the model's feature settings.

    A mismatch (another bin count, frame shift or image height) would decode
    silently into nonsense.  Features brought from elsewhere, without a
    ``fbank.yaml``/``image.yaml``, are taken on trust.
    """
    _, keys, feats = _read_data_dir(data_dir, recognizer, need_text=False)
    return keys, feats


def _read_data_dir(
    data_dir: str | Path, recognizer: Recognizer, need_text: bool
) -> tuple[DataDir, list[str], list[torch.Tensor]]:
    data = validate_data_dir(data_dir, need_feats=True, need_text=need_text)
    if any((Path(data_dir) / f"{kind}.yaml").exists() for kind in KINDS):
        features = load_feature_config(data_dir)
        if features != recognizer.spec.features:
            raise ValueError(f"{data_dir}: features {features} differ from the model's ({recognizer.spec.features})")
    keys = sorted(data.feats)
    return data, keys, [torch.tensor(load_feats(data.feats[k], k), dtype=torch.float32) for k in keys]


@dataclass
class DataDirLogProbs:
    """A data dir run through the acoustic model: what decoding, tuning and alignment start from."""

    recognizer: Recognizer
    keys: list[str]  # utterance ids, sorted
    log_probs: list[torch.Tensor]  # (T, V) of each utterance, in the order of ``keys``
    text: dict[str, str]  # the data dir's transcripts ({} when it has none)
    audio_seconds: float  # of the features (0 for line images: no audio)
    seconds: float  # taken by the acoustic model


def data_dir_log_probs(
    model_path: str | Path, data_dir: str | Path, device: str = "auto", *, need_time_axis: bool = False,
    need_text: bool = False,
) -> DataDirLogProbs:
    """Load the model and run it on the features of a data dir.

    ``need_time_axis``: the caller times words (CTM, alignment), which a
    model without a time axis cannot do; ``need_text``: the data dir must
    have transcripts (references to score or align).  Both are checked
    before the model runs.
    """
    from asr.transcribe import load_recognizer  # here, not above: the loaded model's module imports this one

    recognizer = load_recognizer(model_path, device)
    if need_time_axis:
        recognizer.require_time_axis(str(model_path))
    data, keys, feats = _read_data_dir(data_dir, recognizer, need_text)
    started = time.time()
    log_probs = recognizer.log_probs(feats)
    seconds = time.time() - started
    features = recognizer.spec.features
    audio = 0.0 if isinstance(features, ImageConfig) else sum(f.shape[0] for f in feats) * features.frame_shift_ms / 1000
    return DataDirLogProbs(recognizer, keys, log_probs, data.text, audio, seconds)


def best_text(nbest: list[Hypothesis]) -> str:
    """The text of the best of a decoder's hypotheses ("" when the search found none)."""
    return nbest[0].text if nbest else ""


def decode_data_dir(
    model_path: str | Path, data_dir: str | Path, out_dir: str | Path, config: DecodeConfig = DecodeConfig(),
    ctm: bool = False, device: str = "auto",
) -> int:
    """Decode a data dir; returns the utterance count.

    Writes ``text`` (best hypotheses), ``decode.yaml`` (the config used),
    ``decode.log`` (timing), ``nbest.txt`` when ``config.beam.nbest > 1``
    (``<utt>-<rank> <score> <text>``) and, with ``ctm``, word timings with
    confidences by forced alignment of the best hypothesis (``ctm``).
    """
    data = data_dir_log_probs(model_path, data_dir, device, need_time_axis=ctm)
    keys, log_probs = data.keys, data.log_probs
    started = time.time()
    decode = make_decoder(data.recognizer.tokenizer, config)
    results = [decode(lp) for lp in log_probs]
    seconds = data.seconds + time.time() - started
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "text", {k: best_text(r) for k, r in zip(keys, results)})
    save_config(config, out / "decode.yaml")
    if config.mode == "beam" and config.beam.nbest > 1:
        lines = [f"{k}-{rank} {h.score:.3f} {h.text}\n" for k, r in zip(keys, results) for rank, h in enumerate(r, 1)]
        (out / "nbest.txt").write_text("".join(lines), encoding="utf-8")
    if ctm:
        write_ctm(((k, hypothesis_timings(data.recognizer, lp, r[0] if r else None, k))
                   for k, lp, r in zip(keys, log_probs, results)), out / "ctm")
    write_decode_log(out, model_path, data_dir, config.mode, len(keys), data.audio_seconds, seconds)
    return len(keys)


def write_decode_log(
    out: Path, model_path: str | Path, data_dir: str | Path, mode: str, utterances: int, audio_seconds: float,
    decode_seconds: float,
) -> None:
    """``out/decode.log``: what was decoded and how fast (also the merge of parallel jobs' logs)."""
    (out / "decode.log").write_text(
        f"model {model_path}\ndata {data_dir}\nmode {mode}\nutterances {utterances}\n"
        f"audio_seconds {audio_seconds:.2f}\ndecode_seconds {decode_seconds:.2f}\n"
        # Image models decode no audio (audio_seconds 0): no real-time factor.
        + (f"rtf {decode_seconds / audio_seconds:.4f}\n" if audio_seconds > 0 else ""),
        encoding="utf-8")


def hypothesis_timings(
    recognizer: Recognizer, log_probs: torch.Tensor, hypothesis: Hypothesis | None, utterance_id: str
) -> list[WordTiming]:
    """Word start/end times and confidences of a hypothesis, by CTC forced alignment."""
    if hypothesis is None or not hypothesis.tokens:
        return []
    return word_timings(log_probs, hypothesis.tokens, recognizer.tokenizer.tokens, recognizer.frame_shift, utterance_id)


def load_decode_config(path: str | Path | None) -> DecodeConfig:
    return load_config(DecodeConfig, path) if path else DecodeConfig()
