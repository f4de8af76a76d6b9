"""Word and character timings and confidences by CTC forced alignment.

The beam search gives each token only the frame where it starts; forcing
the chosen hypothesis through ``torchaudio.functional.forced_align`` gives
each token the span of frames it holds on the best CTC path, and so word
start and end times.

Confidence of a token is its peak posterior: the largest ``exp(log_prob)``
of that token over its aligned frames.  A CTC model emits each token as a
spike of one or two frames among blanks, so averaging over the span would
measure the spike's width rather than the model's certainty.  A word's
confidence is the mean of its characters' confidences; the ``|`` between
words belongs to no word and is left out.

Times are ``frame * frame_shift`` seconds; a span ends at the end of its
last frame.  Because of the spikes, CTC word times are tight around the
characters, not the acoustic word boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence, TextIO

import torch
from torchaudio.functional import TokenSpan, forced_align, merge_tokens

from asr.data.batching import ctc_min_frames

BLANK_ID = 0
WORD_BOUNDARY_ID = 1


@dataclass(frozen=True)
class WordTiming:
    """A word, or for character timings one character, with its time span (s)."""

    word: str
    start: float
    end: float
    confidence: float


def align_tokens(
    log_probs: torch.Tensor, token_ids: Sequence[int], utterance_id: str | None = None
) -> list[TokenSpan]:
    """Frame spans of ``token_ids`` on the best CTC path through ``(T, V)`` log_probs.

    Blanks are dropped from ``token_ids`` (a decoder's output may hold none,
    but a caller's may).  Errors name ``utterance_id`` when given.
    """
    where = f"utterance {utterance_id}: " if utterance_id is not None else ""
    ids = [i for i in token_ids if i != BLANK_ID]
    if log_probs.ndim != 2:
        raise ValueError(f"{where}log_probs must be (T, V), got {tuple(log_probs.shape)}")
    if not ids:
        return []
    if max(ids) >= log_probs.shape[1] or min(ids) < 0:
        raise ValueError(f"{where}token ids must be in [0, {log_probs.shape[1]}), got {ids}")
    needed = ctc_min_frames(ids)
    if needed > log_probs.shape[0]:
        raise ValueError(
            f"{where}{len(ids)} tokens need at least {needed} frames, log_probs has {log_probs.shape[0]}"
        )
    emissions = log_probs.detach().float().unsqueeze(0)
    targets = torch.tensor([ids], dtype=torch.int32, device=log_probs.device)
    path, scores = forced_align(emissions, targets, blank=BLANK_ID)
    return merge_tokens(path[0], scores[0], blank=BLANK_ID)


def token_confidence(log_probs: torch.Tensor, span: TokenSpan) -> float:
    """Peak posterior of ``span.token`` over its aligned frames."""
    return log_probs[span.start : span.end, span.token].max().exp().item()


def split_words(spans: Sequence[TokenSpan]) -> list[list[TokenSpan]]:
    """Group character spans into words at the ``|`` tokens (dropped)."""
    words: list[list[TokenSpan]] = [[]]
    for span in spans:
        if span.token == WORD_BOUNDARY_ID:
            words.append([])
        else:
            words[-1].append(span)
    return [w for w in words if w]


def _timing(
    log_probs: torch.Tensor, spans: Sequence[TokenSpan], tokens: Sequence[str], frame_shift: float
) -> WordTiming:
    confidences = [token_confidence(log_probs, s) for s in spans]
    return WordTiming(
        word="".join(tokens[s.token] for s in spans),
        start=spans[0].start * frame_shift,
        end=spans[-1].end * frame_shift,
        confidence=sum(confidences) / len(confidences),
    )


def word_timings(
    log_probs: torch.Tensor,
    token_ids: Sequence[int],
    tokens: Sequence[str],
    frame_shift: float,
    utterance_id: str | None = None,
) -> list[WordTiming]:
    """Words of a hypothesis with start, end (s) and confidence.

    ``token_ids`` are a hypothesis's tokens (``|`` between words; leading,
    trailing or repeated ``|`` are harmless), ``tokens`` the token list.
    An empty hypothesis gives no words.
    """
    spans = align_tokens(log_probs, token_ids, utterance_id)
    return [_timing(log_probs, word, tokens, frame_shift) for word in split_words(spans)]


def char_timings(
    log_probs: torch.Tensor,
    token_ids: Sequence[int],
    tokens: Sequence[str],
    frame_shift: float,
    utterance_id: str | None = None,
) -> list[WordTiming]:
    """Characters of a hypothesis (not ``|``) with start, end (s) and confidence."""
    spans = align_tokens(log_probs, token_ids, utterance_id)
    return [
        _timing(log_probs, [span], tokens, frame_shift) for word in split_words(spans) for span in word
    ]


def ctm_lines(utterance_id: str, timings: Iterable[WordTiming], channel: int = 1) -> list[str]:
    """NIST CTM lines ``utt channel start duration word confidence``."""
    return [
        f"{utterance_id} {channel} {t.start:.3f} {t.end - t.start:.3f} {t.word} {t.confidence:.3f}"
        for t in timings
    ]


def write_ctm(utterances: Iterable[tuple[str, Sequence[WordTiming]]], out: str | Path | TextIO) -> None:
    """Write the CTM lines of ``(utterance_id, timings)`` pairs to a path or open file."""
    text = "".join(line + "\n" for utt, timings in utterances for line in ctm_lines(utt, timings))
    if isinstance(out, (str, Path)):
        Path(out).write_text(text, encoding="utf-8")
    else:
        out.write(text)
