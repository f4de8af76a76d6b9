"""The command line reports bad input in one line and a non-zero status, never a traceback."""

import subprocess
import sys

import pytest


def asr_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "asr.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_help_lists_every_command():
    out = asr_cli("--help")
    for command in ("prepare", "features", "train", "average", "decode", "lm", "tune", "align", "score",
                    "export", "transcribe"):
        assert command in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["validate", "{tmp}/nope"], "asr validate: error: {tmp}/nope: data dir does not exist"),
        (["validate", "{tmp}/bad"], "asr validate: error: {tmp}/bad/text:2: duplicated id 'a'"),
        (["transcribe", "--model", "{tmp}/none.pt", "x.wav"], "asr transcribe: error: {tmp}/none.pt: no such model file"),
        (["transcribe", "--model", "{tmp}/bad/text", "x.wav"], "asr transcribe: error: {tmp}/bad/text: unreadable model file"),
        (["score", "--ref", "{tmp}/bad/text", "--hyp", "{tmp}/bad/wav.scp"], "asr score: error: {tmp}/bad/text:2: "),
        (["lm", "train", "--text", "{tmp}/empty.txt", "--plain", "--out", "{tmp}/lm.arpa"],
         "asr lm: error: no text to estimate a language model from"),
    ],
)
def test_bad_input_gets_one_line(tmp_path, args, message):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "wav.scp").write_text("a /x.wav\nb /y.wav\n")
    (tmp_path / "bad" / "text").write_text("a HI\na HO\n")
    (tmp_path / "bad" / "utt2spk").write_text("a s\nb s\n")
    (tmp_path / "empty.txt").write_text("\n")
    out = asr_cli(*(a.format(tmp=tmp_path) for a in args))
    assert out.returncode == 1
    assert out.stderr.startswith(message.format(tmp=tmp_path)), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_output_into_a_closed_pipe_stops_quietly(tmp_path):
    """`asr score ... | head -1`: when the reader has gone, no traceback, and the status of a SIGPIPE death."""
    (tmp_path / "ref").write_text("u1 A B C\n")
    (tmp_path / "hyp").write_text("u1 A B D\n")
    process = subprocess.Popen([sys.executable, "-m", "asr", "score", "--ref", str(tmp_path / "ref"),
                                "--hyp", str(tmp_path / "hyp")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # long before the interpreter has started and printed anything
    stderr = process.stderr.read().decode()
    assert process.wait() == 141 and "Traceback" not in stderr
