"""Transcription of real AN4 audio: batching, long recordings, bad files, arrays in memory, output formats."""

import json
import re

import numpy as np
import pytest
import soundfile
import torch

import asr
from asr.config import from_dict
from asr.data.audio import read_audio, resample
from asr.data.line_images import ImageConfig
from asr.data.text import BLANK, WORD_BOUNDARY
from asr.decode import DecodeConfig
from asr.decode.alignment import WordTiming
from asr.inference import InputNotFoundError, ModelFile, Recognizer
from asr.inference.output import render, to_srt
from asr.inference.transcriber import Transcript
from asr.model import AcousticModel, ModelConfig
from asr.train.checkpoint import average_checkpoints
from asr.train.loop import TrainConfig, train
from conftest import an4_test_utterances

TINY = {"model": {"hidden": 16, "layers": 1}, "epochs": 1, "warmup_steps": 1, "keep_best": 1, "threads": 1}


@pytest.fixture(scope="module")
def tiny_model(mini_data, tmp_path_factory):
    exp = tmp_path_factory.mktemp("exp")
    train(from_dict(TrainConfig, TINY), mini_data / "train", mini_data / "dev", exp, resume=False)
    average_checkpoints(exp, 1, exp / "model.pt")
    return exp / "model.pt"


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
    assert render("txt", result, "utt1") == "utt1 HELLO WORLD AGAIN\n"  # a wav.scp entry: its id
    record = json.loads(render("json", result))
    # Whisper's shape: text, segments with timed words (probability); our source and duration beside them.
    assert record == {
        "source": "dir/a.wav", "duration": 5.0, "text": "HELLO WORLD AGAIN",
        "segments": [
            {"id": 0, "start": 0.5, "end": 1.4, "text": "HELLO WORLD",
             "words": [{"word": "HELLO", "start": 0.5, "end": 0.9, "probability": 0.91},
                       {"word": "WORLD", "start": 1.0, "end": 1.4, "probability": 0.5}]},
            {"id": 1, "start": 4.0, "end": 4.2, "text": "AGAIN",  # a new segment after the long pause
             "words": [{"word": "AGAIN", "start": 4.0, "end": 4.2, "probability": 1.0}]}]}
    assert json.loads(render("json", result, "utt1"))["utterance_id"] == "utt1"
    assert render("ctm", result).splitlines()[0] == "a 1 0.500 0.400 HELLO 0.910"
    assert render("ctm", result, "utt1").splitlines()[0] == "utt1 1 0.500 0.400 HELLO 0.910"
    spaced = Transcript("my dir/take 2\n.wav", "HELLO", words[:1], 1.0)  # names split at whitespace as tables are
    assert render("txt", spaced) == "my_dir/take_2_.wav HELLO\n" and render("ctm", spaced).startswith("take_2_ 1 ")
    assert json.loads(render("json", spaced))["source"] == "my dir/take 2\n.wav"
    srt = to_srt(words)
    assert srt == ("1\n00:00:00,500 --> 00:00:01,400\nHELLO WORLD\n\n"
                   "2\n00:00:04,000 --> 00:00:04,200\nAGAIN\n")  # the segments of the JSON, as cues
    assert render("vtt", result) == ("WEBVTT\n\n00:00:00.500 --> 00:00:01.400\nHELLO WORLD\n\n"
                                     "00:00:04.000 --> 00:00:04.200\nAGAIN\n")
    assert render("tsv", result) == "start\tend\ttext\n500\t1400\tHELLO WORLD\n4000\t4200\tAGAIN\n"
    empty = Transcript("b.wav", "", [], 1.0)
    assert json.loads(render("json", empty))["segments"] == [] and render("srt", empty) == ""
    assert render("vtt", empty) == "WEBVTT\n" and render("tsv", empty) == "start\tend\ttext\n"
    with pytest.raises(ValueError, match="unknown output format"):
        render("doc", result)


@pytest.fixture(scope="module")
def greedy_model():
    """The shipped AN4 model, searching greedily (fast, and the same text for the same samples)."""
    return asr.load_model(config=DecodeConfig(), device="cpu")


def test_transcribe_takes_arrays_tensors_and_lists_as_files(greedy_model, an4_wavs, tmp_path):
    """As whisper, ESPnet and sherpa do: samples in memory at any rate, one or many, checked as files are."""
    model = greedy_model
    paths = an4_wavs[:2]
    samples = read_audio(paths[0])
    from_file = model.transcribe(paths[0])
    assert from_file.text and from_file.source == str(paths[0])
    for audio in (samples, torch.from_numpy(samples), samples.astype(np.float64), np.stack([samples, samples], 1),
                  torch.from_numpy(np.stack([samples, samples]))):  # soundfile's and torchaudio's 2-D layouts
        result = model.transcribe(audio)
        assert (result.source, result.text, result.words) == ("array", from_file.text, from_file.words)
    at_44k = model.transcribe(resample(samples, 16000, 44100), sample_rate=44100)  # resampled to the model's rate
    assert at_44k.text == from_file.text and at_44k.duration == from_file.duration
    at_8k = resample(samples, 16000, 8000)  # narrowband: a different text, but the one its file gets
    soundfile.write(tmp_path / "8k.wav", at_8k, 8000, subtype="FLOAT")
    assert model.transcribe(at_8k, sample_rate=8000).words == model.transcribe(tmp_path / "8k.wav").words
    results = model.transcribe([paths[1], samples, str(paths[0])])  # a list gives a list, in order
    assert isinstance(results, list) and [r.source for r in results] == [str(paths[1]), "array[1]", str(paths[0])]
    assert results[1].text == results[2].text == from_file.text

    with pytest.raises(FileNotFoundError, match="missing.wav: no such file") as caught:
        model.transcribe(tmp_path / "missing.wav")
    assert isinstance(caught.value, InputNotFoundError) and isinstance(caught.value, ValueError)
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        model.transcribe([paths[0], tmp_path / "missing.wav"])
    nan = samples.copy()
    nan[100] = np.nan
    bad = {"non-finite samples": nan, "silent audio": np.zeros(16000, np.float32), "no samples": np.zeros(0),
           "expected float samples": (samples * 32767).astype(np.int16),
           "a 2-D array must hold at most 8 channels": np.zeros((16, 16)), "expected 1-D samples": np.zeros((2, 2, 2))}
    for message, audio in bad.items():
        with pytest.raises(ValueError, match=f"^array: {message}"):
            model.transcribe(audio)
    with pytest.raises(ValueError, match="sample_rate must be positive"):
        model.transcribe(samples, sample_rate=0)
    results = list(model.transcribe_files([samples, nan]))  # the batch API reports and goes on
    assert results[0].text == from_file.text and results[1].error == "array[1]: non-finite samples (NaN or inf)"


def test_word_times_are_rounded_to_the_millisecond_everywhere(greedy_model, an4_root):
    """Frame times such as 44 * 0.03 = 1.3199999999999998 come out as 1.32, the same in the API, JSON and CTM."""
    wavs = sorted((an4_root / "wav" / "an4test_clstk").glob("*/*.wav"))[:8]
    results = list(greedy_model.transcribe_files(wavs))
    words = [w for r in results for w in r.words]
    assert len(words) > 20
    for w in words:
        for value in (w.start, w.end, w.confidence):
            assert value == round(value, 3) and len(repr(value).partition(".")[2]) <= 3
    for r in results:
        assert r.duration == round(r.duration, 3)
        timed = [w for segment in json.loads(render("json", r))["segments"] for w in segment["words"]]
        assert [(w["start"], w["end"], w["probability"]) for w in timed] == [(w.start, w.end, w.confidence)
                                                                              for w in r.words]
        ctm = [line.split() for line in render("ctm", r).splitlines()]
        assert [(c[2], c[3]) for c in ctm] == [(f"{w.start:.3f}", f"{w.end - w.start:.3f}") for w in r.words]


def tiny_handwriting_model() -> Recognizer:
    """An untrained handwriting model: enough to see what it accepts."""
    config = ModelConfig(input_dim=ImageConfig().dim, num_tokens=4, hidden=8, layers=1)
    weights = AcousticModel(config).state_dict()
    return Recognizer(ModelFile(config, (BLANK, WORD_BOUNDARY, "a", "b"), ImageConfig(), torch.zeros(2, 33), weights),
                      "cpu")


def test_images_to_a_speech_model_and_audio_to_a_handwriting_model_say_so(greedy_model, an4_wavs, copiste_root):
    png = sorted((copiste_root / "lines").glob("*.png"))[0]
    with pytest.raises(ValueError, match=f"^{re.escape(str(png))}: this is a speech model; images need a "
                                         "handwriting model$"):
        greedy_model.transcribe(png)
    handwriting = tiny_handwriting_model()
    assert handwriting.transcribe(png).error is None  # what it is for
    results = list(handwriting.transcribe_files([an4_wavs[0], read_audio(an4_wavs[0])]))
    assert results[0].error == f"{an4_wavs[0]}: this is a handwriting model; audio needs a speech model"
    assert results[1].error == "array[1]: this is a handwriting model; audio needs a speech model"




def test_pretrained_model_transcribes_an4_test_audio_with_its_lexicon_and_lm(an4_root):
    """The shipped model decodes with the lexicon and word LM it carries; ten real test utterances."""
    from asr.scoring import score

    model = asr.load_model()
    assert model.config.mode == "beam" and model.config.lexicon and model.config.lm
    lexicon = {line.split()[0] for line in open(model.config.lexicon, encoding="utf-8")}
    utterances = an4_test_utterances(an4_root, 10)
    refs = {utt: text for utt, (text, _) in utterances.items()}
    wavs = {utt: wav for utt, (_, wav) in utterances.items()}
    results = {utt: r for utt, r in zip(wavs, model.transcribe_files(list(wavs.values())))}
    assert all(r.error is None and r.words for r in results.values())
    for r in results.values():
        assert all(w.word in lexicon for w in r.words) and " ".join(w.word for w in r.words) == r.text
    wer = score(refs, {utt: r.text for utt, r in results.items()}).totals
    assert wer.err / wer.ref_tokens < 0.2  # 4.0% on the whole test set


def test_log_probs_batches_pads_short_inputs_and_reports_each_batch():
    """The one batching loop of every recognizer: inputs in order, a sliver shorter than the subsampling padded to
    it, batches within max_frames, and on_batch told each batch's size (data-dir decoding's progress bar)."""
    from asr.data.kaldi_fbank import FbankConfig
    from asr.inference.transcriber import Transcriber

    class Lengths(Transcriber):
        """Each input's 'log-probs' are the padded length forward was given, and the batch it came in."""

        def __init__(self) -> None:
            super().__init__([BLANK, WORD_BOUNDARY, "a"], FbankConfig(), subsampling=3)
            self.batches: list[list[int]] = []

        def forward(self, feats, lengths):
            self.batches.append(list(lengths))
            return [np.array([length, len(self.batches)]) for length in lengths]

    model, told = Lengths(), []
    feats = [np.zeros((n, 4), dtype=np.float32) for n in (50, 1, 40, 2, 45)]
    out = model.log_probs(feats, max_frames=100, on_batch=told.append)
    assert [int(o[0]) for o in out] == [50, 3, 40, 3, 45]  # in input order; 1 and 2 frames padded to 3
    assert all(len(b) * max(b) <= 100 for b in model.batches) and len(model.batches) > 1
    assert told == [len(b) for b in model.batches] and sum(told) == len(feats)
