"""CTC decoding: greedy best path or beam search, and decoding a data dir.

Greedy and beam search return the same :class:`asr.beam_search.Hypothesis`,
so everything downstream (N-best lists, word timings, CTM) serves both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from asr.alignment import WordTiming, word_timings, write_ctm
from asr.beam_search import BeamSearchDecoder, BeamSearchOptions, Hypothesis, check_paths
from asr.config import load_config, save_config
from asr.datadir import load_feats, validate_data_dir, write_table
from asr.frontend import KINDS, load_feature_config
from asr.images import ImageConfig
from asr.package import Recognizer, load_recognizer
from asr.text import Tokenizer


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
    data = validate_data_dir(data_dir, need_feats=True, need_text=False)
    if any((Path(data_dir) / f"{kind}.yaml").exists() for kind in KINDS):
        features = load_feature_config(data_dir)
        if features != recognizer.spec.features:
            raise ValueError(f"{data_dir}: features {features} differ from the model's ({recognizer.spec.features})")
    keys = sorted(data.feats)
    return keys, [torch.tensor(load_feats(data.feats[k], k), dtype=torch.float32) for k in keys]


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
    recognizer = load_recognizer(model_path, device)
    if ctm:
        recognizer.require_time_axis(str(model_path))
    keys, feats = read_features(data_dir, recognizer)
    started = time.time()
    log_probs = recognizer.log_probs(feats)
    decode = make_decoder(recognizer.tokenizer, config)
    results = [decode(lp) for lp in log_probs]
    seconds = time.time() - started
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "text", {k: r[0].text if r else "" for k, r in zip(keys, results)})
    save_config(config, out / "decode.yaml")
    if config.mode == "beam" and config.beam.nbest > 1:
        lines = [f"{k}-{rank} {h.score:.3f} {h.text}\n" for k, r in zip(keys, results) for rank, h in enumerate(r, 1)]
        (out / "nbest.txt").write_text("".join(lines), encoding="utf-8")
    if ctm:
        write_ctm(((k, hypothesis_timings(recognizer, lp, r[0] if r else None, k))
                   for k, lp, r in zip(keys, log_probs, results)), out / "ctm")
    features = recognizer.spec.features
    audio = 0.0 if isinstance(features, ImageConfig) else sum(f.shape[0] for f in feats) * features.frame_shift_ms / 1000
    write_decode_log(out, model_path, data_dir, config.mode, len(keys), audio, seconds)
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
