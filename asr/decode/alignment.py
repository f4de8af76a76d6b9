"""Word and character timings and confidences by CTC forced alignment.

The beam search gives each token only the frame where it starts; forcing
the chosen hypothesis through the best CTC path (:func:`best_path`, a
Viterbi search that makes the choices ``torchaudio.functional.forced_align``
makes, in numpy) gives each token the span of frames it holds on it.

Confidence of a token is its peak posterior: the largest ``exp(log_prob)``
of that token over its aligned frames.  A CTC model emits each token as a
spike of one or two frames among blanks, so averaging over the span would
measure the spike's width rather than the model's certainty.  A word's
confidence is the mean of its characters' confidences; the ``|`` between
words belongs to no word and is left out.

Times are ``frame * frame_shift`` seconds; a span ends at the end of its
last frame.  Character times are the aligned spans as they are.  Word times
are meant for subtitles, and the spikes alone make poor ones: a spelled
letter would last one 30 ms frame, a word would end where its last letter's
spike ends though its sound goes on, and stray tokens (a bidirectional
model's first letters emitted at the very start of its input, a letter it
never emitted placed by the aligner in the next word) would stretch a word
over seconds of silence.  So (:func:`word_bounds`):

- a word is first the span from its first token to its last, less stray
  tokens (:func:`_core`);
- its start moves back over at most :data:`MAX_HEAD` of frames where the
  non-blank posterior mass is above :data:`ACTIVE` (the model emits the
  ``|`` and the first letter's rise as the word starts), and its end moves
  on over at most :data:`MAX_TAIL` of frames where the characters' mass is
  above it (the word fading);
- it lasts at least :data:`MIN_WORD` from its first token, as far as the
  blanks after it go: CTC emits a letter as it is recognized, often at its
  onset, and a spelled letter's or a short word's vowel goes on for
  0.2-0.3 s with the posteriors all blank;
- two words with less than :data:`PAUSE` of blanks left between them meet
  in the middle of those blanks (or, where they reach over each other, at
  the frame of least non-blank mass); a longer pause stays a gap, and the
  silence before the first word and after the last is no part of them.

On AN4 test utterances joined with 0.5-1.5 s pauses, the first word of each
utterance starts and the last ends within 100 ms of the speech's start and
end (estimated from the audio's energy) for 84% of the boundaries of the
first 40 utterances with the shipped model, against 56% for the spans
(``tools/bench_word_times.py``); 94% against 65% with the clean recipe's
model, for which the settings below were chosen (on utterances 41-130: 89%
for that model, 91% for the shipped one, so the rules carry over).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, Sequence, TextIO

import numpy as np

from asr.data.text import ctc_min_frames
from asr.decode.arrays import as_numpy

BLANK_ID = 0
WORD_BOUNDARY_ID = 1


@dataclass(frozen=True)
class WordTiming:
    """A word, or for character timings one character, with its time span (s)."""

    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class TokenSpan:
    """A token of the best path and the frames ``[start, end)`` it holds."""

    token: int
    start: int
    end: int


def best_path(log_probs: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """The token of each frame on the best CTC path through ``(T, V)`` float32 log_probs that spells ``ids``.

    The states are the labels with a blank before, between and after them;
    a path stays, moves on one state, or skips a blank between two different
    labels.  Ties go as in torchaudio's ``forced_align`` (a skip only when
    strictly best, then a move, else staying), in float32 as it adds, so
    both give the same path.  ``ids`` hold no blank and fit in T frames.
    """
    labels = np.zeros(2 * len(ids) + 1, dtype=np.int64)
    labels[1::2] = ids
    emissions = log_probs[:, labels]  # (T, S)
    frames, states = emissions.shape
    no_skip = np.ones(states, dtype=bool)  # no skip into a blank, the first label, or a label repeated
    no_skip[3::2] = labels[3::2] == labels[1:-2:2]
    none = np.float32(-np.inf)
    alpha = np.full(states, none, dtype=np.float32)
    alpha[:2] = emissions[0, :2]
    # Buffers reused frame after frame: the per-frame cost is numpy's call overhead, not arithmetic.
    move, skip = np.full(states, none, dtype=np.float32), np.full(states, none, dtype=np.float32)
    skips, steps, also = (np.empty(states, dtype=bool) for _ in range(3))
    moves = np.zeros((frames, states), dtype=np.int8)  # 0 stay, 1 move on, 2 skip
    for t in range(1, frames):
        move[1:] = alpha[:-1]
        skip[2:] = alpha[:-2]
        skip[no_skip] = none
        np.greater(skip, move, out=skips)
        skips &= np.greater(skip, alpha, out=also)
        np.greater(move, alpha, out=steps)
        steps &= np.greater(move, skip, out=also)
        moves[t, steps] = 1
        moves[t, skips] = 2
        alpha[steps] = move[steps]
        alpha[skips] = skip[skips]
        alpha += emissions[t]
    state = states - 1 if alpha[-1] > alpha[-2] else states - 2
    path = np.empty(frames, dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        path[t] = labels[state]
        state -= int(moves[t, state])
    return path


def merge_path(path: np.ndarray) -> list[TokenSpan]:
    """The runs of one token in a frame path, blanks left out."""
    changes = np.flatnonzero(np.diff(path, prepend=-1, append=-1)).tolist()
    return [TokenSpan(int(path[start]), start, end) for start, end in zip(changes, changes[1:])
            if path[start] != BLANK_ID]


def align_tokens(log_probs: Any, token_ids: Sequence[int], utterance_id: str | None = None) -> list[TokenSpan]:
    """Frame spans of ``token_ids`` on the best CTC path through ``(T, V)`` log_probs (array or tensor).

    Blanks are dropped from ``token_ids`` (a decoder's output may hold none,
    but a caller's may).  Errors name ``utterance_id`` when given.
    """
    where = f"utterance {utterance_id}: " if utterance_id is not None else ""
    ids = [i for i in token_ids if i != BLANK_ID]
    log_probs = as_numpy(log_probs)
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
    return merge_path(best_path(log_probs, ids))


def token_confidence(log_probs: np.ndarray, span: TokenSpan) -> float:
    """Peak posterior of ``span.token`` over its aligned frames."""
    return float(np.exp(log_probs[span.start : span.end, span.token].max()))


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
    log_probs: np.ndarray, spans: Sequence[TokenSpan], tokens: Sequence[str], frame_shift: float
) -> WordTiming:
    confidences = [token_confidence(log_probs, s) for s in spans]
    return WordTiming(
        word="".join(tokens[s.token] for s in spans),
        start=spans[0].start * frame_shift,
        end=spans[-1].end * frame_shift,
        confidence=sum(confidences) / len(confidences),
    )


# Word boundaries (see the module's docstring), in seconds; chosen on AN4 test utterances 41-130
# (tools/bench_word_times.py measures on the first 40).
MAX_GAP_IN_WORD = 0.45  # a blank run this long inside a word's alignment sets apart a part that is not the word
EDGE = 0.06  # a part of a word this close to the start or the end of the input is at its edge
EDGE_GAP = 0.15  # MAX_GAP_IN_WORD for a part at an edge
EMITTED = 0.05  # a token whose peak posterior is lower was all but not emitted
ACTIVE = 1e-4  # non-blank posterior mass above which a blank frame next to a word still belongs to it
MAX_HEAD = 0.06  # the most a word's start moves back by ACTIVE frames
MAX_TAIL = 0.12  # the most a word's end moves on by ACTIVE frames
MIN_WORD = 0.25  # a word lasts at least this long from its first token, as far as the blanks after it go
PAUSE = 0.3  # the shortest run of blanks left between two words that is kept as a gap


def _frames(seconds: float, frame_shift: float) -> int:
    return max(0, round(seconds / frame_shift))


def _core(log_probs: np.ndarray, word: Sequence[TokenSpan], frame_shift: float) -> tuple[int, int]:
    """First frame and end frame of the tokens that make a word: the aligned tokens less stray ones.

    A part of the word set apart from the rest by more than
    :data:`MAX_GAP_IN_WORD` of blanks, or by more than :data:`EDGE_GAP` when
    it lies at the start or the end of the input, is dropped unless it holds
    the most posterior mass: the aligner may place a letter the model never
    emitted far away (in the next word's onset), and a bidirectional model
    may emit a first word's first letters at the very start of its input and
    a last word's last letters at its very end.  Tokens at either end of the
    word that the model all but never emitted (peak posterior below
    :data:`EMITTED`) are dropped too.
    """
    gap, edge_gap, edge = (_frames(s, frame_shift) for s in (MAX_GAP_IN_WORD, EDGE_GAP, EDGE))
    last_frame = log_probs.shape[0] - edge
    parts = [[word[0]]]
    for span in word[1:]:
        blanks = span.start - parts[-1][-1].end
        at_edge = parts[-1][0].start <= edge or span.end >= last_frame
        if blanks > gap or (at_edge and blanks > edge_gap):
            parts.append([])
        parts[-1].append(span)
    mass = [sum(float(np.exp(log_probs[s.start : s.end, s.token]).sum()) for s in part) for part in parts]
    kept = parts[mass.index(max(mass))]
    emitted = [i for i, span in enumerate(kept) if token_confidence(log_probs, span) >= EMITTED]
    if emitted:
        kept = kept[emitted[0] : emitted[-1] + 1]
    return kept[0].start, kept[-1].end


def _run(active: list[bool], start: int, stop: int, step: int, most: int) -> int:
    """How many frames in a row from ``start`` towards ``stop`` (excluded) by ``step`` are active, up to ``most``."""
    count = 0
    while start != stop and count < most and active[start]:
        start += step
        count += 1
    return count


def _posterior_mass(log_probs: np.ndarray) -> np.ndarray:
    """Per frame, the total posterior of the given tokens: exp(logsumexp) over the last axis, in float32."""
    peak = log_probs.max(axis=1, keepdims=True)
    return np.exp(peak[:, 0] + np.log(np.exp(log_probs - peak).sum(axis=1)))


def word_bounds(
    log_probs: np.ndarray, words: Sequence[Sequence[TokenSpan]], frame_shift: float
) -> list[tuple[int, int]]:
    """(start frame, end frame) of each word, given as its token spans in order (:func:`split_words`).

    A word holds the frames from its first token to its last (:func:`_core`),
    and of the blanks around them the frames that the posteriors or a
    word's least length give it; two words that leave less than
    :data:`PAUSE` between them meet.
    """
    if not words:
        return []
    cores = [_core(log_probs, w, frame_shift) for w in words]
    # Any token: the model emits the word boundary | as a word starts.  Characters only: a word fading out.
    speech = _posterior_mass(log_probs[:, BLANK_ID + 1 :])
    letters = _posterior_mass(log_probs[:, WORD_BOUNDARY_ID + 1 :])
    speaking, sounding = (speech > ACTIVE).tolist(), (letters > ACTIVE).tolist()
    head, tail, least, pause = (_frames(s, frame_shift) for s in (MAX_HEAD, MAX_TAIL, MIN_WORD, PAUSE))
    bounds = [list(core) for core in cores]
    for i in range(len(cores) + 1):
        # The blanks [lo, hi) between word i-1 (if any) and word i (if any).
        lo = cores[i - 1][1] if i else 0
        hi = cores[i][0] if i < len(cores) else log_probs.shape[0]
        end = lo
        if i:  # word i-1 goes on while its characters sound, and for at least MIN_WORD
            end += _run(sounding, lo, hi, 1, tail)
            end = max(end, min(cores[i - 1][0] + least, hi))
        start = hi - _run(speaking, hi - 1, lo - 1, -1, head) if i < len(cores) else hi
        if 0 < i < len(cores) and start - end < pause:  # no pause: the words meet
            if end <= start:  # in the middle of the blanks left
                end = start = (end + start) // 2
            else:  # where they overlap, at the least speech-like frame (which goes to word i)
                end = start = start + int(np.argmin(speech[start:end]))
        if i:
            bounds[i - 1][1] = end
        if i < len(cores):
            bounds[i][0] = start
    return [(start, end) for start, end in bounds]


def word_timings(
    log_probs: Any,
    token_ids: Sequence[int],
    tokens: Sequence[str],
    frame_shift: float,
    utterance_id: str | None = None,
) -> list[WordTiming]:
    """Words of a hypothesis with start, end (s) and confidence; ``log_probs`` (T, V), an array or a tensor.

    ``token_ids`` are a hypothesis's tokens (``|`` between words; leading,
    trailing or repeated ``|`` are harmless), ``tokens`` the token list.
    An empty hypothesis gives no words.
    """
    log_probs = as_numpy(log_probs)
    spans = align_tokens(log_probs, token_ids, utterance_id)
    words = split_words(spans)
    timings = [_timing(log_probs, word, tokens, frame_shift) for word in words]
    return [
        replace(t, start=start * frame_shift, end=end * frame_shift)
        for t, (start, end) in zip(timings, word_bounds(log_probs, words, frame_shift))
    ]


def char_timings(
    log_probs: Any,
    token_ids: Sequence[int],
    tokens: Sequence[str],
    frame_shift: float,
    utterance_id: str | None = None,
) -> list[WordTiming]:
    """Characters of a hypothesis (not ``|``) with start, end (s) and confidence."""
    log_probs = as_numpy(log_probs)
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
