"""The command line reports bad input in one line and a non-zero status, never a traceback; its help is for users."""

import argparse
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
        (["decode", "--model", "{tmp}/none.pt", "--data", "{tmp}/bad", "--out", "{tmp}/./bad/", "--nj", "2"],
         "asr decode: error: {tmp}/./bad/: is the data dir being decoded; its reference text would be overwritten"),
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


def test_version_is_the_package_version():
    import asr

    out = asr_cli("--version")
    assert out.returncode == 0 and out.stdout == f"asr {asr.__version__}\n"
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert f'\nversion = "{asr.__version__}"\n' in pyproject  # the one number, in both places


def subparsers(parser: argparse.ArgumentParser, prefix: str = "asr") -> dict[str, argparse.ArgumentParser]:
    """Every (sub)command's parser, by its command line: 'asr decode', 'asr lm train', ..."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found[f"{prefix} {name}"] = child
                found.update(subparsers(child, f"{prefix} {name}"))
    return found


def test_top_level_help_speaks_to_users():
    """Plain text (no reST of the developers' docstrings), where to start, and one sentence per command."""
    out = asr_cli("--help")
    assert out.returncode == 0
    for markup in ("``", ":func:", ":class:", ":mod:", ":meth:"):
        assert markup not in out.stdout
    assert "Where to start:" in out.stdout and "asr transcribe audio.wav" in out.stdout
    assert "Run 'asr COMMAND --help'" in out.stdout
    parser = cli.build_parser()
    commands = subparsers(parser)
    summaries = {action.dest: action.help for action in parser._subparsers._group_actions[0]._choices_actions}
    assert list(summaries) == list(cli.COMMANDS)
    for name, summary in summaries.items():
        assert summary[0].isupper() and summary.endswith(".") and "\n" not in summary, (name, summary)
    for name, command in commands.items():  # the commands' own help: their docstrings, without markup
        text = command.format_help()
        assert "``" not in text and ":func:" not in text, name


def test_every_option_of_every_command_has_help_that_shows_its_default():
    for name, command in subparsers(cli.build_parser()).items():
        for action in command._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help and action.help.strip(), f"{name} {action.dest}: no help"
            if action.option_strings and action.default not in (None, False, []):
                assert "default" in action.help, f"{name} {action.option_strings[0]}: default not shown"
        command.format_help()  # and every help string formats (a stray % would not)
    options = {a.option_strings[-1]: a.help for a in subparsers(cli.build_parser())["asr features"]._actions
               if a.option_strings}
    assert options["--speed-perturb"].endswith("(default: 1.0)")
    assert options["--nj"].endswith("(default: 1)")


MODEL = Path(__file__).parents[1] / "asr" / "models" / "an4.pt"


def test_decode_defaults_to_the_decoding_the_model_file_carries_as_transcribe_does(mini_data, tmp_path, capsys):
    """The shipped model carries a lexicon, word LM and tuned weights: asr transcribe uses them, so asr decode does."""
    from asr.decode import DecodeConfig, load_decode_config
    from asr.inference import load_model

    data = mini_data / "test"
    default, carried, greedy = (tmp_path / name for name in ("default", "carried", "greedy"))
    for out, options in ((default, []), (carried, ["--config", "carried"]), (greedy, ["--mode", "greedy"])):
        assert cli.main(["decode", "--model", str(MODEL), "--data", str(data), "--out", str(out), *options]) == 0
    recognizer = load_model(MODEL)  # what asr transcribe decodes with; kept alive: it owns the unpacked files
    transcribe = recognizer.config
    used = load_decode_config(default / "decode.yaml")
    assert used.mode == transcribe.mode == "beam" and used.beam == transcribe.beam
    for name in ("lexicon", "lm"):  # the carried files, unpacked where they outlive the command
        path = Path(getattr(used, name))
        assert path.parent == (default / "carried").resolve()
        assert path.read_text() == Path(getattr(transcribe, name)).read_text()
    assert (carried / "text").read_text() == (default / "text").read_text()
    assert load_decode_config(greedy / "decode.yaml") == DecodeConfig() and not (greedy / "carried").exists()


def test_a_model_without_carried_decoding_decodes_greedily_unless_asked_for_it(mini_data, tmp_path, capsys):
    from asr.decode import DecodeConfig, load_decode_config
    from asr.inference import ModelFile

    plain = ModelFile.read(MODEL)
    plain.decoding = None
    model = tmp_path / "plain.pt"
    plain.write(model)
    flags = ["decode", "--model", str(model), "--data", str(mini_data / "test")]
    assert cli.main([*flags, "--out", str(tmp_path / "default")]) == 0
    assert load_decode_config(tmp_path / "default" / "decode.yaml") == DecodeConfig()
    capsys.readouterr()
    assert cli.main([*flags, "--out", str(tmp_path / "carried"), "--config", "carried"]) == 1
    assert capsys.readouterr().err == (f"asr decode: error: {model}: carries no decoding for --config carried (a model "
                                       "file gets one from 'asr export --decode-config'); give --config with a YAML "
                                       "file, or decoding flags\n")


@pytest.mark.parametrize("argv, function", [
    (["decode", "--model", "m", "--data", "d", "--out", "o", "--mode", "greedy"], "decode_data_dir"),
    (["align", "--model", "m", "--data", "d", "--out", "o"], "align_data_dir"),
    (["tune", "--model", "m", "--data", "d", "--out", "o", "--grid", "lm_weight=1", "--config", "c.yaml"], "tune"),
])
def test_quiet_turns_the_progress_bars_off(monkeypatch, tmp_path, argv, function):
    """Without --quiet the library draws them, on a terminal only (tests/test_tuning.py checks that rule)."""
    import asr.inference
    from asr.decode import DecodeConfig

    calls = []

    def record(*args, progress, **kwargs):
        calls.append(progress)
        return (DecodeConfig(), 0.0) if function == "tune" else (0, {}) if function == "align_data_dir" else 0

    monkeypatch.setattr(asr.inference, function, record)
    (tmp_path / "c.yaml").write_text("mode: beam\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 0 and cli.main([*argv, "--quiet"]) == 0
    assert calls == [True, False]


def test_config_carried_is_the_model_files_decoding_in_transcribe_too():
    """asr transcribe passes the model file's decoding as the base: --config carried names it, flags go on top."""
    from asr.decode import BeamSearchOptions, DecodeConfig

    args = cli.build_parser().parse_args(["transcribe", "x.wav", "--config", "carried", "--lm-weight", "0.5"])
    carried = DecodeConfig(mode="beam", lexicon="lexicon.txt", lm="word.arpa")
    assert config_from_args(args, base=carried) == DecodeConfig(mode="beam", lexicon="lexicon.txt", lm="word.arpa",
                                                                beam=BeamSearchOptions(lm_weight=0.5))
