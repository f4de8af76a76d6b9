"""`asr transcribe` with hostile file names, bad options, bad audio and output that cannot be written;
utterance ids from wav.scp, the formats that hold one input, --format all, progress bars, help text.

The pretrained AN4 model decodes real AN4 recordings (greedy, to keep each
run to a couple of seconds); the CLI runs in this process except where the
real standard output matters.
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

import asr
from asr.cli import build_parser, main
from conftest import an4_test_utterances
from asr.data.audio import read_audio


def transcribe(capsys, *args) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``asr transcribe --mode greedy ARGS``."""
    status = main(["transcribe", "--mode", "greedy", *map(str, args)])
    out = capsys.readouterr()
    return status, out.out, out.err


def errors(stderr: str) -> list[str]:
    """The CLI's own lines on stderr (the LM loader prints progress there too)."""
    return [line for line in stderr.splitlines() if line.startswith("asr transcribe:")]


def test_file_names_ending_in_a_pipe_are_transcribed_not_run(an4_wavs, tmp_path, monkeypatch, capsys):
    """From the command line, stdin or a directory a name is a file; only a wav.scp value may be a pipe."""
    monkeypatch.chdir(tmp_path)  # where `touch PWNED` would create its file
    hostile = "x.wav; touch PWNED |"
    shutil.copy(an4_wavs[0], hostile)
    folder = Path("takes; touch PWNED |")
    folder.mkdir()
    shutil.copy(an4_wavs[0], folder / "take1.wav")
    Path("wav.scp").write_text(f"utt1 cat {an4_wavs[0]} |\n")
    status, out, err = transcribe(capsys, an4_wavs[0], hostile, folder, "wav.scp")
    assert status == 0, err
    reference = out.splitlines()[0].removeprefix(str(an4_wavs[0]))
    assert reference.strip()
    # txt lines are a table: the names' spaces as _ (asr.inference.output.table_key); a wav.scp entry by its id
    assert out.splitlines()[1:] == ["x.wav;_touch_PWNED_|" + reference, "takes;_touch_PWNED_|/take1.wav" + reference,
                                    f"utt1{reference}"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{hostile}\n"))
    status, out, err = transcribe(capsys, "-")
    assert status == 0 and out == f"x.wav;_touch_PWNED_|{reference}\n", err
    assert not Path("PWNED").exists()


@pytest.mark.parametrize("value", ["0", "-1", "0.005", "nan"])
def test_max_segment_below_a_second_is_refused(tmp_path, capsys, value):
    status, _, err = transcribe(capsys, "--max-segment", value, tmp_path / "missing.wav")
    assert status == 1
    assert errors(err) == [f"asr transcribe: error: --max-segment must be at least 1 s, got {float(value):g}"]


def test_library_refuses_a_max_segment_below_a_second():
    model = asr.load_model()
    with pytest.raises(ValueError, match="max_segment must be at least 1 s, got 0"):
        model.max_segment = 0
    model.max_segment = 1.0


def test_non_finite_audio_fails_alone_and_loud_audio_is_transcribed_with_a_warning(an4_wavs, tmp_path, capsys,
                                                                                   caplog):
    samples = read_audio(an4_wavs[0])
    soundfile.write(tmp_path / "loud.wav", samples / np.abs(samples).max() * 50, 16000, subtype="FLOAT")
    samples[100] = np.nan
    soundfile.write(tmp_path / "nan.wav", samples, 16000, subtype="FLOAT")
    status, out, err = transcribe(capsys, tmp_path / "nan.wav", tmp_path / "loud.wav")
    assert status == 1
    assert errors(err) == [f"asr transcribe: error: {tmp_path / 'nan.wav'}: non-finite samples (NaN or inf)",
                           "asr transcribe: 1 input(s) failed"]
    assert out.startswith(f"{tmp_path / 'loud.wav'}") and len(out.splitlines()) == 1
    assert f"{tmp_path / 'loud.wav'}: out-of-range amplitude (peak 50" in caplog.text


def test_output_dir_keeps_one_file_per_input_and_never_replaces_an_input(an4_wavs, tmp_path, capsys):
    """Same names in two folders, one name in two formats, and an input where an output would go."""
    inputs = [tmp_path / "spk1" / "take1.wav", tmp_path / "spk2" / "take1.wav", tmp_path / "x.ogg",
              tmp_path / "x.mp3", tmp_path / "x.txt"]
    for path, wav in zip(inputs[:2], an4_wavs):
        path.parent.mkdir()
        shutil.copy(wav, path)
    soundfile.write(inputs[2], read_audio(an4_wavs[2]), 16000)
    soundfile.write(inputs[3], read_audio(an4_wavs[3]), 16000)
    inputs[4].write_text("not audio, and not to be overwritten\n")
    status, out, err = transcribe(capsys, "--output-dir", tmp_path, "--format", "txt", *inputs)
    assert status == 1 and out == ""
    assert errors(err)[-1] == "asr transcribe: 1 input(s) failed"  # x.txt is no audio
    assert inputs[4].read_text() == "not audio, and not to be overwritten\n"
    written = {name: (tmp_path / name).read_text() for name in ("take1.txt", "take1-2.txt", "x-2.txt", "x-3.txt")}
    assert [text.split()[0] for text in written.values()] == [str(p) for p in inputs[:4]]
    assert sorted(p.name for p in tmp_path.glob(".*")) == []  # no temp file left


def test_an_output_that_cannot_be_written_fails_that_input_only(an4_wavs, tmp_path, monkeypatch, capsys):
    real_write_text = Path.write_text

    def disk_full_for_a(self, *args, **kwargs):
        if self.name.startswith(("a.", ".a.")):  # a.txt, or a temp file for it
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write_text(self, *args, **kwargs)

    shutil.copy(an4_wavs[0], tmp_path / "a.wav")
    shutil.copy(an4_wavs[1], tmp_path / "b.wav")
    monkeypatch.setattr(Path, "write_text", disk_full_for_a)
    out_dir = tmp_path / "out"
    status, _, err = transcribe(capsys, "--output-dir", out_dir, tmp_path / "a.wav", tmp_path / "b.wav")
    assert status == 1
    assert errors(err) == [f"asr transcribe: error: {out_dir / 'a.txt'}: cannot write the transcript of "
                           f"{tmp_path / 'a.wav'} (No space left on device)", "asr transcribe: 1 input(s) failed"]
    assert [p.name for p in out_dir.iterdir()] == ["b.txt"]


def test_output_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "out").write_text("")
    status, _, err = transcribe(capsys, "--output-dir", tmp_path / "out", tmp_path / "a.wav")
    assert status == 1
    assert errors(err) == [f"asr transcribe: error: --output-dir {tmp_path / 'out'}: exists and is not a directory"]


def test_full_disk_on_stdout_is_one_line(an4_wavs):
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "asr.cli", "transcribe", "--mode", "greedy", str(an4_wavs[0])],
                                stdout=full, stderr=subprocess.PIPE, text=True)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert errors(result.stderr) == ["asr transcribe: error: cannot write to stdout (No space left on device)"]


def an4_test_dir(an4_root: Path, dest: Path, count: int = 6) -> Path:
    """A Kaldi data dir (wav.scp and text only) of the first real AN4 test utterances."""
    dest.mkdir(parents=True)
    refs = an4_test_utterances(an4_root, count)
    (dest / "wav.scp").write_text("".join(f"{utt} {wav}\n" for utt, (_, wav) in sorted(refs.items())))
    (dest / "text").write_text("".join(f"{utt} {text}\n" for utt, (text, _) in sorted(refs.items())))
    return dest


def test_wav_scp_transcripts_are_keyed_by_utterance_id_and_score(an4_root, tmp_path, capsys):
    """`asr transcribe data/test/wav.scp > hyp; asr score --ref data/test/text --hyp hyp` works as written."""
    data = an4_test_dir(an4_root, tmp_path / "data" / "test")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(["bash", "-c", "asr transcribe data/test/wav.scp > hyp && "
                                           "asr score --ref data/test/text --hyp hyp"],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    ids = [line.split()[0] for line in (data / "text").read_text().splitlines()]
    assert [line.split()[0] for line in (tmp_path / "hyp").read_text().splitlines()] == ids
    wer = next(line for line in result.stdout.splitlines() if line.startswith("%WER"))
    assert float(wer.split()[1]) < 20, result.stdout  # 4.0% on the whole test set
    status, out, err = transcribe(capsys, "--format", "ctm", data / "wav.scp")
    assert status == 0, err
    assert {line.split()[0] for line in out.splitlines()} == set(ids)


@pytest.mark.parametrize("fmt", ["srt", "vtt", "tsv"])
def test_formats_of_one_input_a_file_need_output_dir_for_several(an4_wavs, tmp_path, capsys, fmt):
    """Cues numbered from 1 again, or a header per input, would make one invalid stream: a one-line error instead."""
    status, out, err = transcribe(capsys, "--format", fmt, *an4_wavs[:2])
    assert status == 1 and out == ""
    assert errors(err) == [f"asr transcribe: error: --format {fmt} holds one input per file, and there are 2 inputs: "
                           "give --output-dir"]
    status, out, err = transcribe(capsys, "--format", fmt, an4_wavs[0])  # one input: stdout is fine
    start = {"srt": "1\n00:00:", "vtt": "WEBVTT\n\n00:00:", "tsv": "start\tend\ttext\n"}[fmt]
    assert status == 0 and out.startswith(start)


def test_format_all_writes_one_file_of_each_format(an4_wavs, tmp_path, capsys):
    status, _, err = transcribe(capsys, "--format", "all", an4_wavs[0])
    assert status == 1
    assert errors(err) == ["asr transcribe: error: --format all writes one file per format and input: "
                           "give --output-dir"]
    status, out, err = transcribe(capsys, "--format", "all", "--output-dir", tmp_path, *an4_wavs[:2])
    assert status == 0 and out == "", err
    stems = [Path(p).stem for p in an4_wavs[:2]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{stem}.{fmt}" for stem in stems
                                                                for fmt in ("txt", "json", "ctm", "srt", "vtt", "tsv"))
    record = json.loads((tmp_path / f"{stems[0]}.json").read_text())
    words = [w for segment in record["segments"] for w in segment["words"]]
    text = (tmp_path / f"{stems[0]}.txt").read_text().split(maxsplit=1)[1].strip()
    assert record["text"] == text == " ".join(w["word"] for w in words)
    ctm = (tmp_path / f"{stems[0]}.ctm").read_text().splitlines()
    assert [line.split()[4] for line in ctm] == [w["word"] for w in words]
    tsv = (tmp_path / f"{stems[0]}.tsv").read_text().splitlines()
    assert tsv[1:] == [f"{round(s['start'] * 1000)}\t{round(s['end'] * 1000)}\t{s['text']}" for s in record["segments"]]
    assert (tmp_path / f"{stems[0]}.srt").read_text().startswith("1\n")
    assert (tmp_path / f"{stems[0]}.vtt").read_text().startswith("WEBVTT\n")


def test_an_image_given_to_a_speech_model_is_one_line(copiste_root, tmp_path, capsys):
    png = sorted((copiste_root / "lines").glob("*.png"))[0]
    status, out, err = transcribe(capsys, png)
    assert status == 1 and out == ""
    assert errors(err) == [f"asr transcribe: error: {png}: this is a speech model; images need a handwriting model",
                           "asr transcribe: 1 input(s) failed"]
    (tmp_path / "lines").mkdir()
    shutil.copy(png, tmp_path / "lines")
    status, out, err = transcribe(capsys, tmp_path / "lines")  # a directory of them: not a silent success
    assert status == 1 and out == ""
    assert errors(err) == [f"asr transcribe: error: {tmp_path / 'lines'}: no audio files in this directory "
                           "(.wav .flac .ogg .mp3 .sph .aiff .aif .au); it holds images: this is a speech model; "
                           "images need a handwriting model"]


def test_progress_bar_on_a_terminal_only_and_not_with_quiet(an4_wavs, tmp_path, monkeypatch, capsys):
    """A bar for 4 or more inputs when stderr is a terminal; never in a log file (no \\r redraws), nor with --quiet."""
    inputs = an4_wavs[:4]
    status, out, err = transcribe(capsys, "--output-dir", tmp_path / "log", *inputs)  # stderr is not a terminal
    assert status == 0 and "\r" not in err and "4/4" not in err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    status, out, err = transcribe(capsys, "--output-dir", tmp_path / "tty", *inputs)
    assert status == 0 and "\r" in err and "4/4" in err
    status, out, err = transcribe(capsys, "--quiet", "--output-dir", tmp_path / "quiet", *inputs)
    assert status == 0 and "\r" not in err and "4/4" not in err
    status, out, err = transcribe(capsys, *inputs[:3])  # a few inputs: no bar
    assert status == 0 and "\r" not in err and len(out.splitlines()) == 3


def test_every_option_shows_its_default():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["transcribe"]
    options = [a for a in sub._actions if a.option_strings and a.dest != "help"]
    assert len(options) > 10
    missing = [a.option_strings[0] for a in options if "default" not in (a.help or "")]
    assert not missing
    assert "(default: txt)" in " ".join(sub.format_help().split())
