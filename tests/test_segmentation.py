"""Cutting long recordings on real AN4 audio: the energy splitter and Silero VAD behind one interface, in the
library (`Recognizer.vad`), the CLI (`asr transcribe --vad`) and tools/bench_vad.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

import asr
from asr.cli import main
from asr.data.audio import read_audio, resample
from asr.decode import DecodeConfig
from asr.inference import VADS, check_vad, segment
from asr.inference import segmentation
from asr.inference.segmentation import speech_regions, split_on_silence
from asr.scoring import score

RATE = 16000
REPO = Path(__file__).resolve().parents[1]


def joined(wavs: list[Path], pause: float = 1.0, noise_dbfs: float = -70.0) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Real utterances each after ``pause`` s of quiet noise (seeded), and where each one is (sample ranges)."""
    rng = np.random.default_rng(0)
    parts, spans, offset = [], [], 0
    for wav in wavs:
        gap = rng.normal(0.0, 10 ** (noise_dbfs / 20), int(pause * RATE)).astype(np.float32)
        speech = read_audio(wav)
        spans.append((offset + len(gap), offset + len(gap) + len(speech)))
        parts += [gap, speech]
        offset += len(gap) + len(speech)
    return np.concatenate(parts), spans


def test_split_on_silence_cuts_long_audio_in_pauses(an4_wavs):
    speech = [read_audio(p) for p in an4_wavs]
    pause = np.zeros(8000, dtype=np.float32)
    samples = np.concatenate([x for s in speech for x in (s, pause)])
    limit = max(len(s) for s in speech) / 16000 + 1.0  # every piece can end in a pause
    pieces = split_on_silence(samples, 16000, max_segment=limit)
    assert len(pieces) > 1 and pieces[0][0] == 0 and pieces[-1][1] == len(samples)
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))
    assert all(end - start <= limit * 16000 for start, end in pieces)
    boundaries = np.cumsum([len(x) for s in speech for x in (s, pause)])
    for start, _ in pieces[1:]:  # every cut falls inside a pause
        assert any(b - 8000 <= start <= b for b in boundaries[1::2])
    assert split_on_silence(samples[:16000], 16000, 20.0) == [(0, 16000)]


@pytest.mark.parametrize("max_segment", [0.0, -1.0, 0.005, 0.02, 0.3])
@pytest.mark.parametrize("length", [1, 30, 159, 640, 16000])
def test_split_on_silence_ends_for_any_limit(an4_wavs, monkeypatch, max_segment, length):
    """Every split makes progress, so even a limit of 0 or below ends, with pieces covering all samples."""
    samples = read_audio(an4_wavs[0])[:length]
    splits = []
    real_argmin = np.argmin

    def counted_argmin(*args, **kwargs):  # a guard instead of a hang: a split that makes progress
        splits.append(1)                  # can happen at most once per sample
        assert len(splits) <= length, "split_on_silence is not making progress"
        return real_argmin(*args, **kwargs)

    monkeypatch.setattr(np, "argmin", counted_argmin)
    pieces = split_on_silence(samples, 16000, max_segment)
    assert pieces[0][0] == 0 and pieces[-1][1] == length
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:])) and all(end > start for start, end in pieces)
    assert all(end - start <= max(max_segment * 16000, 640) for start, end in pieces)


@pytest.mark.parametrize("vad", VADS)
@pytest.mark.parametrize("max_segment", [1.0, 4.0, 20.0])
def test_both_vads_give_ordered_pieces_within_the_recording_and_the_limit(an4_wavs, vad, max_segment):
    """Real utterances with pauses and, once, none: a Silero region too long is cut by the energy splitter."""
    samples, _ = joined(an4_wavs)
    back_to_back = np.concatenate([read_audio(p) for p in an4_wavs])  # few pauses: long speech regions
    for audio in (samples, back_to_back):
        pieces = segment(audio, RATE, max_segment, vad)
        assert pieces and all(0 <= start < end <= len(audio) for start, end in pieces)
        assert all(a[1] <= b[0] for a, b in zip(pieces, pieces[1:]))
        assert all(end - start <= max_segment * RATE for start, end in pieces)
    assert segment(samples[: 3 * RATE], RATE, 4.0, vad) == [(0, 3 * RATE)]  # one that fits is left whole


def test_silero_finds_speech_in_a_padded_utterance_and_none_in_quiet_noise(an4_wavs):
    samples, [(start, end)] = joined(an4_wavs[:1], pause=2.0)
    samples = np.concatenate([samples, np.zeros(2 * RATE, np.float32)])
    regions = speech_regions(samples, RATE)
    pad = segmentation.PAD * RATE
    assert regions and start - pad <= regions[0][0] and regions[-1][1] <= end + pad
    noise = np.random.default_rng(0).normal(0.0, 10 ** (-60 / 20), 30 * RATE).astype(np.float32)
    assert speech_regions(noise, RATE) == []
    assert segment(noise, RATE, 20.0, "silero") == []  # nothing to transcribe, where energy gives all of it
    assert segment(noise, RATE, 20.0, "energy")[-1][1] == len(noise)


def test_silero_at_another_rate_gives_ranges_at_that_rate(an4_wavs):
    """Silero reads 8 or 16 kHz: other rates are resampled for it, and its ranges scaled back."""
    samples, _ = joined(an4_wavs[:2])
    at_16k = speech_regions(samples, RATE)
    at_22k = speech_regions(resample(samples, RATE, 22050), 22050)
    assert len(at_22k) == len(at_16k)
    assert np.allclose(np.array(at_22k) / 22050, np.array(at_16k) / RATE, atol=0.05)


def test_loading_silero_keeps_the_thread_count(an4_wavs, monkeypatch):
    """silero_vad sets torch to one thread when imported: --threads must still hold afterwards."""
    for name in [name for name in sys.modules if name.split(".")[0] == "silero_vad"]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh, and put back after the test
    segmentation._silero.cache_clear()
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        speech_regions(read_audio(an4_wavs[0]), RATE)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
        segmentation._silero.cache_clear()


def test_unknown_or_missing_vad_is_one_line(monkeypatch, tmp_path, capsys):
    with pytest.raises(ValueError, match="^vad must be one of energy, silero, got 'webrtc'$"):
        check_vad("webrtc")
    monkeypatch.setitem(sys.modules, "silero_vad", None)  # as if it were not installed
    message = "silero needs the silero-vad package, which is not installed: pip install silero-vad"
    with pytest.raises(ValueError, match=f"^vad {message}$"):
        asr.load_model(vad="silero")
    assert main(["transcribe", "--vad", "silero", str(tmp_path / "a.wav")]) == 1
    assert capsys.readouterr().err.splitlines() == [f"asr transcribe: error: --vad {message}"]


@pytest.fixture(scope="module")
def greedy_model():
    """The shipped AN4 model, searching greedily (fast, and the same text for the same samples)."""
    return asr.load_model(config=DecodeConfig(), device="cpu")


@pytest.mark.parametrize("vad", VADS)
def test_word_times_are_in_the_recordings_time_base(greedy_model, an4_root, vad):
    """Every word of a cut recording lies in the utterance it was said in (piece offsets added)."""
    wavs = sorted((an4_root / "wav" / "an4test_clstk").glob("*/*.wav"))[:6]
    samples, spans = joined(wavs, pause=1.5)
    greedy_model.max_segment, greedy_model.vad = 6.0, vad
    try:
        result = greedy_model.transcribe(samples)
    finally:
        greedy_model.max_segment, greedy_model.vad = 20.0, segmentation.DEFAULT_VAD
    assert len(result.words) >= 12
    for word in result.words:
        assert any(a / RATE - 0.1 <= word.start < word.end <= b / RATE + 0.1 for a, b in spans), word
    assert {next(i for i, (a, b) in enumerate(spans) if word.start < b / RATE + 0.1) for word in result.words} \
        == set(range(len(spans)))  # and every utterance has words


def test_cli_vad_silero_transcribes_two_joined_utterances(greedy_model, an4_root, tmp_path, capsys):
    wavs = sorted((an4_root / "wav" / "an4test_clstk").glob("*/*.wav"))[:2]
    samples, spans = joined(wavs)
    soundfile.write(tmp_path / "two.wav", samples, RATE)
    alone = [greedy_model.transcribe(wav).text for wav in wavs]
    limit = max(b - a for a, b in spans) / RATE + 0.5  # each utterance fits, the two do not
    status = main(["transcribe", "--mode", "greedy", "--vad", "silero", "--max-segment", f"{limit:.2f}",
                   "--format", "json", str(tmp_path / "two.wav")])
    out = capsys.readouterr().out
    assert status == 0
    record = json.loads(out)
    # The same words as each utterance alone, but for at most one: the model subtracts each input's mean
    # frame, which depends on how much of the silence around the speech the VAD keeps.
    assert score({"two": " ".join(alone)}, {"two": record["text"]}).totals.err <= 1, (record["text"], alone)
    starts = [w["start"] for segment in record["segments"] for w in segment["words"]]
    assert starts == sorted(starts) and starts[-1] > spans[1][0] / RATE - 0.1


def test_bench_vad_prints_a_table_on_a_tiny_subset(an4_root):
    """tools/bench_vad.py end to end on 6 utterances: one row per VAD and noise, numbers in every cell."""
    result = subprocess.run([sys.executable, str(REPO / "tools" / "bench_vad.py"), "--an4-root", str(an4_root),
                             "--utterances", "6", "--minutes", "0.4", "--snr", "10"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.strip("|").split("|") for line in result.stdout.splitlines() if line.startswith("|")]
    assert [cell.strip() for cell in rows[0]][:4] == ["vad", "noise", "WER greedy", "WER word LM"]
    assert len(rows) == 2 + len(VADS) * 2 and all(len(row) == 6 for row in rows)
    body = [[cell.strip() for cell in row] for row in rows[2:]]
    assert [(row[0], row[1]) for row in body] == [(vad, f"{noise} 10 dB") for vad in VADS
                                                  for noise in ("white", "babble")]
    assert all(float(cell) >= 0 for row in body for cell in row[2:])


def test_digital_silence_at_the_ends_of_a_piece_is_left_out(an4_root):
    """A real utterance between a second of exact zeros each side is recognized as the utterance alone; zero
    runs shorter than a frame, and recorded audio, are kept as they are; a piece of zeros only is dropped."""
    wav = sorted((an4_root / "wav" / "an4test_clstk").glob("*/*.wav"))[0]
    speech = read_audio(wav, RATE)
    silence = np.zeros(RATE, np.float32)
    assert segment(speech, RATE) == [(0, len(speech))]
    assert segment(np.concatenate([silence, speech, silence]), RATE) == [(RATE, RATE + len(speech))]
    short = np.zeros(int(0.02 * RATE), np.float32)
    assert segment(np.concatenate([short, speech]), RATE) == [(0, len(short) + len(speech))]
    # 8 kHz audio padded with zeros, resampled to 16 kHz: the resampler's ringing into the zeros goes too.
    narrow = np.concatenate([np.zeros(3200, np.float32), resample(speech, RATE, 8000), np.zeros(3200, np.float32)])
    wide = resample(narrow, 8000, RATE)
    [(start, end)] = segment(wide, RATE)
    assert abs(start - 6400) <= 16 and abs(end - (len(wide) - 6400)) <= 16
    # A long recording cut by the energy VAD: the stretch of zeros between the utterances is no piece.
    joined = np.concatenate([speech, np.zeros(30 * RATE, np.float32), speech])
    pieces = segment(joined, RATE, max_segment=20.0, vad="energy")
    assert pieces[0][0] == 0 and pieces[-1][1] == len(joined)
    assert sum(b - a for a, b in pieces) == 2 * len(speech)


def test_near_digital_silence_at_the_ends_of_a_piece_is_cut_to_the_pad(an4_root):
    """A second of -90 dBFS noise (as a noise gate leaves) each side of a real utterance is cut to PAD s each side;
    exact zeros beyond it still go entirely; a recording that quiet throughout is kept whole, not dropped."""
    wav = sorted((an4_root / "wav" / "an4test_clstk").glob("*/*.wav"))[0]
    speech = read_audio(wav, RATE)
    rng = np.random.default_rng(0)
    hiss = rng.normal(0.0, 10 ** (-90 / 20), (2, RATE)).astype(np.float32)
    [(start, end)] = segment(np.concatenate([hiss[0], speech, hiss[1]]), RATE)
    pad, frame = round(segmentation.PAD * RATE), round(0.025 * RATE)
    assert abs(start - (RATE - pad)) <= frame and abs(end - (RATE + len(speech) + pad)) <= frame
    zeros = np.zeros(RATE, np.float32)
    [(start, end)] = segment(np.concatenate([zeros, hiss[0], speech, hiss[1], zeros]), RATE)
    assert abs(start - (2 * RATE - pad)) <= frame and abs(end - (2 * RATE + len(speech) + pad)) <= frame
    # A piece inside a longer recording, its last frame one sample long: frames are counted from each end.
    tail = rng.normal(0.0, 10 ** (-85 / 20), RATE + 1).astype(np.float32)
    tail[-1] = 3 * 10 ** (-85 / 20)  # a 3-sigma sample: alone in a frame it reads -75 dBFS, above the threshold
    recording = np.concatenate([speech, hiss[0], speech, tail])
    start, end = segmentation.without_empty_ends(recording, len(speech), len(recording), RATE)
    assert abs(start - (len(speech) + RATE - pad)) <= frame and abs(end - (len(recording) - RATE - 1 + pad)) <= frame
    faint = speech * np.float32(10 ** (-75 / 20)) + rng.normal(0.0, 10 ** (-90 / 20), len(speech)).astype(np.float32)
    assert segment(faint, RATE) == [(0, len(faint))]
    assert segment(hiss[0], RATE) == [(0, RATE)]


def test_a_clip_between_near_digital_silences_reads_as_the_clip(greedy_model, an4_root):
    wav = sorted((an4_root / "wav" / "an4test_clstk").glob("*/*.wav"))[1]
    speech = read_audio(wav, RATE)
    hiss = np.random.default_rng(1).normal(0.0, 10 ** (-90 / 20), (2, RATE)).astype(np.float32)
    assert greedy_model.transcribe(np.concatenate([hiss[0], speech, hiss[1]])).text == \
        greedy_model.transcribe(speech).text


def test_a_clip_padded_with_digital_silence_reads_as_the_clip_with_word_times_in_its_time_base(
        greedy_model, an4_root):
    wav = sorted((an4_root / "wav" / "an4test_clstk").glob("*/*.wav"))[1]
    speech = read_audio(wav, RATE)
    alone = greedy_model.transcribe(speech)
    padded = greedy_model.transcribe(np.concatenate([np.zeros(RATE, np.float32), speech,
                                                     np.zeros(RATE, np.float32)]))
    assert padded.text == alone.text
    assert [w.start for w in padded.words] == pytest.approx([w.start + 1.0 for w in alone.words], abs=1e-3)
