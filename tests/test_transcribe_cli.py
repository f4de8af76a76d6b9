"""`asr transcribe` with hostile file names, bad options, bad audio and output that cannot be written.

The pretrained AN4 model decodes real AN4 recordings (greedy, to keep each
run to a couple of seconds); the CLI runs in this process except where the
real standard output matters.
"""

from __future__ import annotations

import errno
import io
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

import asr
from asr.cli import main
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
    assert out.splitlines()[1:] == [f"{hostile}{reference}", f"{folder / 'take1.wav'}{reference}",
                                    f"cat {an4_wavs[0]} |{reference}"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{hostile}\n"))
    status, out, err = transcribe(capsys, "-")
    assert status == 0 and out == f"{hostile}{reference}\n", err
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
