"""Transcription of real AN4 audio: batching, long recordings, bad files, output formats."""

import json

import numpy as np
import pytest
import soundfile

import asr
from asr.config import from_dict
from asr.data.audio import read_audio
from asr.decode.alignment import WordTiming
from asr.inference.output import render, to_srt
from asr.inference.recognizer import Transcript, split_on_silence
from asr.train.checkpoint import average_checkpoints
from asr.train.loop import TrainConfig, train

TINY = {"model": {"hidden": 16, "layers": 1}, "epochs": 1, "warmup_steps": 1, "keep_best": 1, "threads": 1}


@pytest.fixture(scope="module")
def tiny_model(mini_data, tmp_path_factory):
    exp = tmp_path_factory.mktemp("exp")
    train(from_dict(TrainConfig, TINY), mini_data / "train", mini_data / "dev", exp, resume=False)
    average_checkpoints(exp, 1, exp / "model.pt")
    return exp / "model.pt"


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


def test_model_transcribes_files_and_reports_bad_ones(tiny_model, an4_wavs, tmp_path):
    soundfile.write(tmp_path / "silent.wav", np.zeros(16000, dtype=np.float32), 16000)
    (tmp_path / "empty.wav").write_bytes(b"")
    long = np.concatenate([read_audio(p) for p in an4_wavs[:3]])
    soundfile.write(tmp_path / "long.flac", np.stack([long, long], 1), 44100 // 2)  # stereo, 22.05 kHz label
    model = asr.load_model(tiny_model)
    model.max_segment = 3.0
    inputs = [an4_wavs[0], tmp_path / "silent.wav", tmp_path / "missing.wav", tmp_path / "empty.wav",
              tmp_path / "long.flac"]
    results = list(model.transcribe_files(inputs))
    assert [r.source for r in results] == [str(p) for p in inputs]
    assert results[0].error is None and isinstance(results[0].text, str)
    assert "silent audio" in results[1].error
    assert "no such file" in results[2].error
    assert "empty.wav" in results[3].error
    assert results[4].error is None and results[4].duration == pytest.approx(len(long) / 22050, abs=0.01)
    for word in results[4].words:
        assert 0 <= word.start <= word.end <= results[4].duration + 0.05 and 0 <= word.confidence <= 1
    with pytest.raises(ValueError, match="no such file"):
        model.transcribe(tmp_path / "missing.wav")


def test_output_formats():
    words = [WordTiming("HELLO", 0.5, 0.9, 0.91), WordTiming("WORLD", 1.0, 1.4, 0.5), WordTiming("AGAIN", 4.0, 4.2, 1.0)]
    result = Transcript("dir/a.wav", "HELLO WORLD AGAIN", words, 5.0)
    assert render("txt", result) == "dir/a.wav HELLO WORLD AGAIN\n"
    record = json.loads(render("json", result))
    assert record["words"][1] == {"word": "WORLD", "start": 1.0, "end": 1.4, "confidence": 0.5}
    assert render("ctm", result).splitlines()[0] == "a 1 0.500 0.400 HELLO 0.910"
    srt = to_srt(words)
    assert srt.startswith("1\n00:00:00,500 --> 00:00:01,400\nHELLO WORLD\n")
    assert "2\n00:00:04,000 --> 00:00:04,200\nAGAIN" in srt  # a new cue after the long pause
    with pytest.raises(ValueError, match="unknown output format"):
        render("doc", result)




def test_pretrained_model_transcribes_an4_test_audio_with_its_lexicon_and_lm(an4_root):
    """The shipped model decodes with the lexicon and word LM it carries; ten real test utterances."""
    from asr.scoring import score

    model = asr.load_model()
    assert model.config.mode == "beam" and model.config.lexicon and model.config.lm
    lexicon = {line.split()[0] for line in open(model.config.lexicon, encoding="utf-8")}
    refs = {}
    for line in (an4_root / "etc" / "an4_test.transcription").read_text().splitlines()[:10]:
        text, _, utt = line.rpartition(" (")
        refs[utt.rstrip(")")] = text.strip()
    wavs = {utt: next((an4_root / "wav").glob(f"an4test_clstk/*/{utt}.wav")) for utt in refs}
    results = {utt: r for utt, r in zip(wavs, model.transcribe_files(list(wavs.values())))}
    assert all(r.error is None and r.words for r in results.values())
    for r in results.values():
        assert all(w.word in lexicon for w in r.words) and " ".join(w.word for w in r.words) == r.text
    wer = score(refs, {utt: r.text for utt, r in results.items()}).totals
    assert wer.err / wer.ref_tokens < 0.2  # 4.0% on the whole test set
