"""Forced-alignment timings on posteriors whose peaks are placed by hand."""

from __future__ import annotations

import io

import pytest
import torch

from asr.data.batching import ctc_min_frames
from asr.data.text import Tokenizer
from asr.decode.alignment import WordTiming, char_timings, ctm_lines, word_timings, write_ctm
from asr.decode.beam_search import BeamSearchDecoder
from test_beam_search import peaky_log_probs, spike_frames, spike_times

torch.set_num_threads(1)

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
    clear = [i for i in range(len(timings)) if i != unclear]
    assert [timings[i].start for i in clear] == pytest.approx([starts[first[i]] * FRAME_SHIFT for i in clear])
    assert [timings[i].end for i in clear] == pytest.approx([(starts[last[i]] + 2) * FRAME_SHIFT for i in clear])
    # Blank outweighs an unclear character, whose span shrinks to one of its frames.
    de = timings[unclear]
    assert starts[first[unclear]] * FRAME_SHIFT <= de.start < de.end <= (starts[last[unclear]] + 2) * FRAME_SHIFT
    assert de.confidence == pytest.approx(0.4, abs=0.1)
    assert [timings[i].confidence for i in clear] == pytest.approx([0.95] * len(clear), abs=0.05)


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
