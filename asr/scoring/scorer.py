"""Score a corpus: pair utterances by id, normalize and tokenize them, count errors.

Recipes, tests and notebooks must get the same numbers as ``asr score``, so
everything in this package is a pure function of transcripts (in the style of
``torchaudio.functional``); the command only parses options and writes files.

References without a hypothesis are skipped (``present``), scored as empty
(``all``) or refused (``strict``), as Kaldi's ``compute-wer`` modes do.

Token units: ``word`` splits on white space, so phones, BPE pieces or any
space-separated units get a token error rate as well; ``char`` scores every
character of the normalized text, spaces included (as ``jiwer.cer`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable, Mapping, NamedTuple, Sequence

from asr.data.text import normalize_text
from asr.scoring.counts import ErrorCounts
from asr.scoring.edits import Op, _Coder

MODES = ("strict", "present", "all")
UNITS = ("word", "char")
METRIC_UNITS = {"wer": "word", "cer": "char"}


class UttScore(NamedTuple):
    """One scored utterance: normalized tokens (a ``str`` for characters) and counts.

    A named tuple, built several times faster than a frozen dataclass: scoring makes one per utterance.
    """

    utt_id: str
    ref: Sequence[str]
    hyp: Sequence[str]
    counts: ErrorCounts


@dataclass(frozen=True)
class ScoreResult:
    """Scored utterances (in reference order), their alignments, and the ids that could not be paired."""

    unit: str
    utts: tuple[UttScore, ...]
    missing_hyp: tuple[str, ...] = ()  # references without hypothesis
    missing_ref: tuple[str, ...] = ()  # hypotheses without reference, always ignored
    _alignments: tuple[tuple[Op, ...], ...] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def totals(self) -> ErrorCounts:
        return ErrorCounts.total(utt.counts for utt in self.utts)

    @cached_property
    def alignments(self) -> tuple[tuple[Op, ...], ...]:
        """Every utterance's :func:`edit_ops`, in ``utts`` order.

        ``score(..., align=True)`` makes them with the counts, which costs less;
        otherwise they are made here on first use.
        """
        if self._alignments is not None:
            return self._alignments
        coder = _Coder()
        return tuple(coder.score_pair(utt.ref, utt.hyp, align=True)[1] for utt in self.utts)  # type: ignore[misc]

    @property
    def metric(self) -> str:
        """``WER`` or ``CER``: the name Kaldi-style lines give the rate."""
        return "WER" if self.unit == "word" else "CER"

    @property
    def partial(self) -> bool:
        """Kaldi marks a rate ``[PARTIAL]`` when some reference had no hypothesis."""
        return bool(self.missing_hyp)


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def pair_utterances(
    refs: Mapping[str, str], hyps: Mapping[str, str], mode: str = "strict"
) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """``(id, ref, hyp)`` triples to score, ids of refs without hyp, ids of hyps without ref.

    Kaldi's modes: ``strict`` refuses any unpaired id (on either side, stricter
    than Kaldi, which ignores extra hypotheses), ``present`` skips references
    without hypothesis, ``all`` scores them against an empty hypothesis.
    """
    _check_choice("mode", mode, MODES)
    missing_hyp = [utt for utt in refs if utt not in hyps]
    missing_ref = [utt for utt in hyps if utt not in refs]
    if mode == "strict" and (missing_hyp or missing_ref):
        raise ValueError(f"mode strict: {_unpaired_summary(missing_hyp, missing_ref)}; use mode present or all")
    pairs = [(utt, text, hyps.get(utt, "")) for utt, text in refs.items() if mode == "all" or utt in hyps]
    return pairs, missing_hyp, missing_ref


def _unpaired_summary(missing_hyp: Sequence[str], missing_ref: Sequence[str]) -> str:
    """One line such as ``2 references without hypothesis (a, b), 0 hypotheses without reference``."""

    def ids(utts: Sequence[str]) -> str:
        shown = ", ".join(utts[:3]) + (", ..." if len(utts) > 3 else "")
        return f" ({shown})" if utts else ""

    return (
        f"{len(missing_hyp)} references without hypothesis{ids(missing_hyp)}, "
        f"{len(missing_ref)} hypotheses without reference{ids(missing_ref)}"
    )


def score(
    refs: Mapping[str, str],
    hyps: Mapping[str, str],
    unit: str = "word",
    mode: str = "strict",
    *,
    align: bool = False,
    lowercase: bool = False,
    remove_punct: bool = False,
    ignore_words: Iterable[str] = (),
) -> ScoreResult:
    """Score hypotheses against references matched by utterance id.

    Both sides always go through :func:`asr.data.text.normalize_text` (NFC, white
    space collapsed), so a decomposed ``é`` never counts as an error; the
    keyword options add case folding, punctuation removal and filler words.
    ``align`` makes every utterance's alignment too (``alignments``), in the
    same pass, for reports that show them.
    """
    _check_choice("unit", unit, UNITS)
    pairs, missing_hyp, missing_ref = pair_utterances(refs, hyps, mode)
    ignore = tuple(ignore_words)
    tokenize = str.split if unit == "word" else str  # a string is its own character sequence
    score_pair = _Coder().score_pair
    utts, alignments = [], []
    for utt_id, ref_text, hyp_text in pairs:
        ref = tokenize(normalize_text(ref_text, lowercase, remove_punct, ignore))
        # The same text normalizes the same: a correct sentence is normalized once.
        hyp = ref if hyp_text == ref_text else tokenize(normalize_text(hyp_text, lowercase, remove_punct, ignore))
        counts, ops = score_pair(ref, hyp, align)
        utts.append(UttScore(utt_id, ref, hyp, counts))
        alignments.append(ops)
    return ScoreResult(
        unit, tuple(utts), tuple(missing_hyp), tuple(missing_ref), tuple(alignments) if align else None
    )


def score_metrics(
    refs: Mapping[str, str],
    hyps: Mapping[str, str],
    metrics: Iterable[str] = ("wer", "cer"),
    mode: str = "strict",
    *,
    align: bool = False,
    lowercase: bool = False,
    remove_punct: bool = False,
    ignore_words: Iterable[str] = (),
) -> dict[str, ScoreResult]:
    """:func:`score` for each metric of :data:`METRIC_UNITS` (``wer``, ``cer``), once each, in the order given."""
    metrics, ignore = tuple(dict.fromkeys(metrics)), tuple(ignore_words)
    for metric in metrics:
        _check_choice("metric", metric, tuple(METRIC_UNITS))
    normalization = {"lowercase": lowercase, "remove_punct": remove_punct, "ignore_words": ignore}
    return {metric: score(refs, hyps, METRIC_UNITS[metric], mode, align=align, **normalization) for metric in metrics}
