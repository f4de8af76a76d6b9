"""Running a model over a Kaldi data dir: decoding, and forced alignment of its transcripts.

:func:`data_dir_log_probs` reads a data dir's features, checks them against
the model's feature settings and runs the model once; decoding
(:func:`decode_data_dir`), tuning (:mod:`asr.inference.tuning`) and
alignment (:func:`align_data_dir`) all start from it.  Each shows its
progress (:func:`progress_bar`) on a terminal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

import torch

from asr.config import save_config
from asr.data.datadir import DataDir, load_feats, read_table, validate_data_dir, write_table
from asr.data.kinds import KINDS, load_feature_config
from asr.data.line_images import ImageConfig
from asr.data.split import copy_settings, is_utterance_table, job_files, merge_tables
from asr.decode.alignment import char_timings, word_timings, write_ctm
from asr.decode.beam_search import Hypothesis
from asr.decode.search import DecodeConfig, make_decoder
from asr.inference.recognizer import Recognizer, load_recognizer
from asr.inference.transcriber import hypothesis_timings
from asr.progress import progress_bar


def read_features(data_dir: str | Path, recognizer: Recognizer) -> tuple[list[str], list[torch.Tensor]]:
    """Utterance ids and raw features of a data dir, checked against the model's feature settings.

    A mismatch (another bin count, frame shift or image height) would decode
    silently into nonsense.  Features brought from elsewhere, without a
    ``fbank.yaml``/``image.yaml``, are taken on trust.
    """
    return _load_features(data_dir, validate_data_dir(data_dir, need_feats=True, need_text=False), recognizer)


def _load_features(data_dir: str | Path, data: DataDir, recognizer: Recognizer) -> tuple[list[str], list[torch.Tensor]]:
    if any((Path(data_dir) / f"{kind}.yaml").exists() for kind in KINDS):
        features = load_feature_config(data_dir)
        if features != recognizer.spec.features:
            raise ValueError(f"{data_dir}: features {features} differ from the model's ({recognizer.spec.features})")
    keys = sorted(data.feats)
    return keys, [torch.tensor(load_feats(data.feats[k], k), dtype=torch.float32) for k in keys]


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
    need_text: bool = False, progress: bool = True,
) -> DataDirLogProbs:
    """Load the model and run it on the features of a data dir.

    ``need_time_axis``: the caller times words (CTM, alignment), which a
    model without a time axis cannot do; ``need_text``: the data dir must
    have transcripts (references to score or align).  Both are checked
    before the model runs.  ``progress``: a bar on a terminal (:func:`progress_bar`).
    """
    data = validate_data_dir(data_dir, need_feats=True, need_text=need_text)  # first: a wrong dir costs no model load
    recognizer = load_recognizer(model_path, device)
    if need_time_axis:
        recognizer.require_time_axis(str(model_path))
    keys, feats = _load_features(data_dir, data, recognizer)
    started = time.time()
    log_probs = _log_probs(recognizer, feats, progress)
    seconds = time.time() - started
    features = recognizer.spec.features
    audio = 0.0 if isinstance(features, ImageConfig) else sum(f.shape[0] for f in feats) * features.frame_shift_ms / 1000
    return DataDirLogProbs(recognizer, keys, log_probs, data.text, audio, seconds)


def _log_probs(recognizer: Recognizer, feats: list[torch.Tensor], progress: bool) -> list[torch.Tensor]:
    """:meth:`Recognizer.log_probs` of all ``feats``, batch by batch under a progress bar."""
    with progress_bar("acoustic model", len(feats), progress) as bar:
        return recognizer.log_probs(feats, on_batch=bar.update)


def best_text(nbest: list[Hypothesis]) -> str:
    """The text of the best of a decoder's hypotheses ("" when the search found none)."""
    return nbest[0].text if nbest else ""


def check_decode_dir(data_dir: str | Path, out_dir: str | Path) -> None:
    """Refuse to decode into the data dir itself: its ``text`` is the reference the hypotheses would replace."""
    if Path(out_dir).resolve() == Path(data_dir).resolve():
        raise ValueError(f"{out_dir}: is the data dir being decoded; its reference text would be overwritten "
                         "(give another output dir)")


def decode_data_dir(
    model_path: str | Path, data_dir: str | Path, out_dir: str | Path, config: DecodeConfig = DecodeConfig(),
    ctm: bool = False, device: str = "auto", progress: bool = True,
) -> int:
    """Decode a data dir; returns the utterance count.

    Writes ``text`` (best hypotheses), ``decode.yaml`` (the config used),
    ``decode.log`` (timing), ``nbest.txt`` when ``config.beam.nbest > 1``
    (``<utt>-<rank> <score> <text>``) and, with ``ctm``, word timings with
    confidences by forced alignment of the best hypothesis (``ctm``).
    ``progress``: bars on a terminal (:func:`progress_bar`).
    """
    check_decode_dir(data_dir, out_dir)
    data = data_dir_log_probs(model_path, data_dir, device, need_time_axis=ctm, progress=progress)
    keys, log_probs = data.keys, data.log_probs
    started = time.time()
    decode = make_decoder(data.recognizer.tokenizer, config)
    results = [decode(lp) for lp in progress_bar(f"{config.mode} search", len(keys), progress, log_probs)]
    seconds = data.seconds + time.time() - started
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "text", {k: best_text(r) for k, r in zip(keys, results)})
    save_config(config, out / "decode.yaml")
    if config.mode == "beam" and config.beam.nbest > 1:
        lines = [f"{k}-{rank} {h.score:.3f} {h.text}\n" for k, r in zip(keys, results) for rank, h in enumerate(r, 1)]
        (out / "nbest.txt").write_text("".join(lines), encoding="utf-8")
    if ctm:
        hypotheses = progress_bar("word timings", len(keys), progress, zip(keys, log_probs, results))
        write_ctm(((k, hypothesis_timings(data.recognizer, lp, r[0] if r else None, k)) for k, lp, r in hypotheses),
                  out / "ctm")
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


def align_data_dir(
    model_path: str | Path, data_dir: str | Path, out: str | Path | TextIO, unit: str = "word", device: str = "auto",
    progress: bool = True,
) -> tuple[int, dict[str, str]]:
    """Force-align the transcripts of a data dir to its features; writes their timings as CTM to ``out``.

    ``unit`` is ``word`` or ``char``.  An utterance whose transcript cannot be
    aligned (a character outside the tokens, too few frames) is skipped and
    the others still aligned.  Returns the count aligned and, for each
    utterance skipped, why.  ``progress``: bars on a terminal (:func:`progress_bar`).
    """
    from asr.inference.datadirs import data_dir_log_probs  # asr.decode.search imports this module

    if unit not in ("word", "char"):
        raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")
    timings = word_timings if unit == "word" else char_timings
    data = data_dir_log_probs(model_path, data_dir, device, need_time_axis=True, need_text=True, progress=progress)
    tokenizer = data.recognizer.tokenizer
    aligned, skipped = [], {}
    for key, log_probs in progress_bar("alignment", len(data.keys), progress, zip(data.keys, data.log_probs)):
        try:
            ids = tokenizer.encode(data.text[key])
            aligned.append((key, timings(log_probs, ids, tokenizer.tokens, data.recognizer.frame_shift, key)))
        except ValueError as error:
            skipped[key] = str(error)
    write_ctm(aligned, out)
    return len(aligned), skipped


def merge_decodes(job_dirs: list[Path], out: Path, data_dir: str | Path) -> int:
    """Merge the outputs of ``asr decode`` jobs on the parts of ``data_dir`` into ``out``; returns the utterance count.

    ``text`` is merged as a table; ``nbest.txt`` (``<utt>-<rank>`` lines) and
    ``ctm`` keep each utterance's lines together, in utterance order; the
    decode log sums utterances, audio and decoding seconds over the jobs.
    """
    names = job_files(job_dirs, {"decode.log", "nbest.txt", "ctm"})
    merge_tables(job_dirs, [n for n in names if is_utterance_table(n)], out)
    if "nbest.txt" in names:
        _merge_lines(job_dirs, "nbest.txt", out, lambda line: line.split(maxsplit=1)[0].rpartition("-")[0])
    if "ctm" in names:
        _merge_lines(job_dirs, "ctm", out, lambda line: line.split(maxsplit=1)[0])
    copy_settings(job_dirs, names, out)
    logs = [read_table(job_dir / "decode.log") for job_dir in job_dirs]
    total = {key: sum(float(log[key]) for log in logs) for key in ("utterances", "audio_seconds", "decode_seconds")}
    write_decode_log(out, logs[0]["model"], data_dir, logs[0]["mode"], int(total["utterances"]),
                     total["audio_seconds"], total["decode_seconds"])
    return int(total["utterances"])


def _merge_lines(job_dirs: list[Path], name: str, out: Path, utterance_of: Callable[[str], str]) -> None:
    """Concatenate the jobs' ``name`` files with each utterance's lines kept in order, utterances sorted."""
    lines = [line for job_dir in job_dirs for line in (job_dir / name).read_text(encoding="utf-8").splitlines(True)]
    lines.sort(key=utterance_of)  # stable: an utterance's lines keep their order
    (out / name).write_text("".join(lines), encoding="utf-8")
