"""The command line reports bad input in one line and a non-zero status, never a traceback."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from asr import cli
from asr.commands.options import add_decode_arguments, config_from_args
from asr.parallel import command_actions


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
        (["score", "--ref", "{tmp}/bad", "--hyp", "{tmp}/bad/text"], "asr score: error: {tmp}/bad: Is a directory"),
        (["score", "--ref", "{tmp}/bad/wav.scp", "--hyp", "{tmp}/bad/wav.scp", "--out-dir", "{tmp}/empty.txt"],
         "asr score: error: --out-dir {tmp}/empty.txt: exists and is not a directory"),
        (["decode", "--model", "{tmp}/none.pt", "--data", "{tmp}/bad", "--out", "{tmp}/out", "--lexicon", ""],
         "asr decode: error: lexicon: empty path"),
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


@pytest.mark.parametrize(
    "make_error, method, message",
    [
        (lambda tmp: PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp / "ref")), "read_bytes",
         "{tmp}/ref: Permission denied"),
        (lambda tmp: OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), "write_text",  # a write names no file
         "No space left on device"),
    ],
)
def test_operating_system_errors_get_one_line(tmp_path, monkeypatch, capsys, make_error, method, message):
    """Any OSError a command meets (not only a missing file) is reported as 'PATH: reason'."""
    ref = tmp_path / "ref"
    ref.write_text("u1 A B\n")

    def fail(*args, **kwargs):
        raise make_error(tmp_path)

    monkeypatch.setattr(Path, method, fail)
    assert cli.main(["score", "--ref", str(ref), "--hyp", str(ref), "--out-dir", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == f"asr score: error: {message.format(tmp=tmp_path)}\n"


@pytest.mark.parametrize("option", ["--lexicon", "--lm"])
@pytest.mark.parametrize(
    "argv",
    [
        ["decode", "--model", "m", "--data", "d", "--out", "o"],
        ["tune", "--model", "m", "--data", "d", "--out", "o", "--grid", "lm_weight=1"],
        ["transcribe", "x.wav"],
    ],
)
def test_an_empty_lexicon_or_lm_path_is_refused(argv, option):
    """'--lexicon "$LEXICON"' with the variable unset must not decode greedily or read the current directory."""
    args = cli.build_parser().parse_args([*argv, option, ""])
    with pytest.raises(ValueError, match=f"^{option[2:]}: empty path"):
        config_from_args(args)


def test_every_decoding_option_explains_itself_and_its_default():
    actions = command_actions(add_decode_arguments)
    assert [a.option_strings[0] for a in actions] == [
        "--config", "--mode", "--lexicon", "--lm", "--beam-size", "--beam-threshold", "--lm-weight", "--word-score",
        "--unk-score", "--sil-score", "--nbest"]
    for action in actions:
        assert action.help and "(default: " in action.help and "see BeamSearchOptions" not in action.help, action
    assert {a.option_strings[0]: a.help.rpartition("(default: ")[2] for a in actions[4:]} == {
        "--beam-size": "50)", "--beam-threshold": "50)", "--lm-weight": "2)", "--word-score": "0)",
        "--unk-score": "-inf)", "--sil-score": "0)", "--nbest": "1)"}
