"""Forced-alignment timings on posteriors whose peaks are placed by hand."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import asr

from asr.data.text import Tokenizer, ctc_min_frames
from asr.decode.alignment import (
    MIN_WORD,
    WordTiming,
    align_tokens,
    char_timings,
    ctm_lines,
    word_timings,
    write_ctm,
)
from asr.decode.beam_search import BeamSearchDecoder
from test_beam_search import peaky_log_probs, spike_frames, spike_times

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]

FRAME_SHIFT = 0.03
TEXT = "la fédération de football"
TOKENIZER = Tokenizer.from_texts([TEXT])
IDS = TOKENIZER.encode(TEXT)


def held_frames(ids, hold: int, peaks: list[float]):
    """Each token held for ``hold`` frames then a blank; returns frames and token start frames."""
    frames, starts = [{}], []
    for token, peak in zip(ids, peaks):
        starts.append(len(frames))
        frames += [{token: peak}] * hold + [{}]
    return frames, starts


def test_word_times_and_confidences_follow_the_peaks():
    # Every character held for 2 frames; the word "de" is said unclearly.
    unclear = TEXT.split().index("de")
    first = [0] + [i + 1 for i, c in enumerate(TEXT) if c == " "]  # token index of each word's first character
    last = [i - 1 for i, c in enumerate(TEXT) if c == " "] + [len(TEXT) - 1]
    peaks = [0.95] * len(IDS)
    peaks[first[unclear] : last[unclear] + 1] = [0.4, 0.4]
    frames, starts = held_frames(IDS, 2, peaks)
    log_probs = peaky_log_probs(frames, len(TOKENIZER), noise=0.1)

    timings = word_timings(log_probs, IDS, TOKENIZER.tokens, FRAME_SHIFT)

    assert [t.word for t in timings] == TEXT.split()
    # No pauses: each word holds its characters' frames and the blanks up to the next word (the
    # posteriors here put about 1% of non-blank mass on every frame, so every blank frame is "active").
    clear = [i for i in range(len(timings)) if i != unclear]
    for i in clear:
        assert timings[i].start <= starts[first[i]] * FRAME_SHIFT
        assert (starts[last[i]] + 2) * FRAME_SHIFT <= timings[i].end
    assert [t.end for t in timings[:-1]] == [t.start for t in timings[1:]]
    assert all(starts[last[i]] + 2 <= round(timings[i].end / FRAME_SHIFT) <= starts[first[i + 1]] for i in range(3))
    # Confidences are the characters' peak posteriors, whatever the word's times.
    assert timings[unclear].confidence == pytest.approx(0.4, abs=0.1)
    assert [timings[i].confidence for i in clear] == pytest.approx([0.95] * len(clear), abs=0.05)


def posteriors(*parts, floor: float = 1e-7) -> tuple[torch.Tensor, dict[str, list[int]]]:
    """(T, V) log-posteriors as a trained model's: nearly certain blanks between spikes.

    ``parts``: an int is that many blank frames, ``"|"`` a one-frame word
    boundary, a word one frame per character each followed by a blank, and
    a dict one frame of those token probabilities.  Also returns each
    word's character frames.
    """
    frames: list[dict[int, float]] = []
    where: dict[str, list[int]] = {}
    for part in parts:
        if isinstance(part, int):
            frames += [{}] * part
        elif isinstance(part, dict):
            frames.append({TOKENIZER.tokens.index(t): p for t, p in part.items()})
        elif part == "|":
            frames.append({1: 0.99})
        else:
            for c in part:
                where.setdefault(part, []).append(len(frames))
                frames += [{TOKENIZER.tokens.index(c): 0.99}, {}]
    probs = torch.full((len(frames), len(TOKENIZER)), floor)
    for t, peaks in enumerate(frames):
        for token, p in peaks.items():
            probs[t, token] = p
        probs[t, 0] = 1 - sum(peaks.values())
    return probs.log().log_softmax(-1), where


def times(log_probs: torch.Tensor, text: str) -> list[tuple[str, int, int]]:
    """(word, start frame, end frame) of word_timings."""
    timings = word_timings(log_probs, TOKENIZER.encode(text), TOKENIZER.tokens, FRAME_SHIFT)
    return [(t.word, round(t.start / FRAME_SHIFT), round(t.end / FRAME_SHIFT)) for t in timings]


def test_silence_is_no_part_of_a_word_and_a_long_pause_stays_a_gap():
    log_probs, where = posteriors(20, "la", 5, "|", "de", 40, "|", "football", 20)
    least = round(MIN_WORD / FRAME_SHIFT)

    (la, la_start, la_end), (de, de_start, de_end), (football, f_start, f_end) = times(log_probs, "la de football")

    assert la_start == where["la"][0] == 20  # not the 20 frames of silence before
    # 5 blanks and a boundary between la and de: they meet, and la lasts MIN_WORD.
    assert la_end == de_start == (where["la"][0] + least + where["de"][0] - 1) // 2
    # de, said before a 1.2 s pause, lasts MIN_WORD; football starts at the boundary the model emits before it.
    assert de_end == where["de"][0] + least
    assert f_start == where["football"][0] - 1
    assert f_end == where["football"][-1] + 1  # not the 20 frames of silence after


def test_stray_tokens_do_not_stretch_words():
    """A bidirectional model may emit a word's first letters at the start of its input and its last at the end;
    the aligner may place a letter the model never emitted anywhere."""
    # "fo" at the very start, 1.2 s before the rest of "football" is said; the last "l" at the very end.
    log_probs, where = posteriors("fo", 40, "otbal", 6, {"l": 0.99})
    ((word, start, end),) = times(log_probs, "football")
    assert (start, end) == (where["otbal"][0], where["otbal"][-1] + 1)

    # The "e" of "de" is never emitted: it has 1e-3 at one frame, 12 frames after the "d".
    log_probs, where = posteriors(10, "la", 2, "|", "d", 11, {"e": 1e-3}, 10)
    assert times(log_probs, "la de")[1] == ("de", where["d"][0] - 1, where["d"][0] + round(MIN_WORD / FRAME_SHIFT))


def test_word_times_keep_confidences_and_character_times_keep_the_spans():
    log_probs, where = posteriors(20, "la", 5, "|", "de", 40, "|", "football", 20)
    ids = TOKENIZER.encode("la de football")
    spans = align_tokens(log_probs, ids)
    chars = char_timings(log_probs, ids, TOKENIZER.tokens, FRAME_SHIFT)
    letters = [s for s in spans if s.token != 1]
    assert [(c.start, c.end) for c in chars] == [(s.start * FRAME_SHIFT, s.end * FRAME_SHIFT) for s in letters]
    words = word_timings(log_probs, ids, TOKENIZER.tokens, FRAME_SHIFT)
    by_word = [[c.confidence for c in chars[:2]], [c.confidence for c in chars[2:4]], [c.confidence for c in chars[4:]]]
    assert [w.confidence for w in words] == pytest.approx([sum(c) / len(c) for c in by_word])


def test_word_times_mark_where_an4_speech_starts_and_ends(an4_root, monkeypatch):
    """Acceptance test of issue #24, on the first 40 real AN4 test utterances joined with 0.5-1.5 s pauses.

    The first word of each starts, and the last word ends, within 100 ms of
    where its speech starts and ends (from the audio's energy) for 84% of
    the 80 boundaries with the shipped model (94% with the clean recipe's
    model it replaced; 91% and 89% on utterances 41-130, where the settings
    were chosen); the CTC spans (the word times before) manage 56%.  The
    bound leaves a few boundaries of room, not the spans' share.
    """
    spec = importlib.util.spec_from_file_location("bench_word_times", REPO / "tools" / "bench_word_times.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_word_times", bench)  # for its dataclass
    spec.loader.exec_module(bench)
    model = asr.load_model(device="cpu")

    errors = bench.measure(model, an4_root, utterances=40, per_recording=4, seed=0)

    share = {name: np.mean(np.abs(np.array(starts + ends)) <= 0.1) for name, (starts, ends) in errors.items()}
    assert share["words"] >= 0.8 and share["words"] > share["spikes"] + 0.2, share


def test_char_timings_and_decoder_output():
    """The decoder's hypothesis aligns back onto its own spikes, repeated letters included."""
    log_probs = peaky_log_probs(spike_frames(IDS), len(TOKENIZER))
    (best,) = BeamSearchDecoder(TOKENIZER.tokens).decode(log_probs)[0]

    chars = char_timings(log_probs, best.tokens, TOKENIZER.tokens, FRAME_SHIFT, "utt1")

    assert "".join(c.word for c in chars) == TEXT.replace(" ", "")
    spikes = [f for f, i in zip(spike_times(IDS), IDS) if i != 1]
    assert [c.start for c in chars] == pytest.approx([f * FRAME_SHIFT for f in spikes])
    assert [c.end for c in chars] == pytest.approx([(f + 1) * FRAME_SHIFT for f in spikes])
    assert [c.confidence for c in chars] == pytest.approx([0.9] * len(chars), abs=0.2)


def test_extra_word_boundaries_change_nothing():
    log_probs = peaky_log_probs(spike_frames(IDS), len(TOKENIZER))
    padded = [1, *IDS[:2], 1, 1, *IDS[2:], 1]
    assert word_timings(log_probs, padded, TOKENIZER.tokens, FRAME_SHIFT) == word_timings(
        log_probs, IDS, TOKENIZER.tokens, FRAME_SHIFT
    )


def test_empty_hypothesis_has_no_words():
    log_probs = peaky_log_probs([{}] * 5, len(TOKENIZER))
    assert word_timings(log_probs, [], TOKENIZER.tokens, FRAME_SHIFT) == []
    assert word_timings(log_probs, [1], TOKENIZER.tokens, FRAME_SHIFT) == []


def test_too_long_hypothesis_names_the_utterance():
    ids = TOKENIZER.encode("football")  # "oo" and "ll" each need a blank between
    assert ctc_min_frames(ids) == 10
    log_probs = peaky_log_probs([{}] * 9, len(TOKENIZER))
    with pytest.raises(ValueError, match="^utterance utt7: 8 tokens need at least 10 frames, log_probs has 9$"):
        word_timings(log_probs, ids, TOKENIZER.tokens, FRAME_SHIFT, utterance_id="utt7")


def test_ctm_lines(tmp_path):
    timings = [WordTiming("la", 0.03, 0.09, 0.9123), WordTiming("fédération", 0.12, 0.6, 0.5)]
    lines = ["utt1 1 0.030 0.060 la 0.912", "utt1 1 0.120 0.480 fédération 0.500"]
    assert ctm_lines("utt1", timings) == lines
    out = io.StringIO()
    write_ctm([("utt1", timings), ("utt2", [])], out)
    write_ctm([("utt1", timings)], tmp_path / "a.ctm")
    assert out.getvalue() == (tmp_path / "a.ctm").read_text(encoding="utf-8") == "\n".join(lines) + "\n"
