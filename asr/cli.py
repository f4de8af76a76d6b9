"""The ``asr`` command line: parses arguments and hands them to the library."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import os
import signal
import sys
import textwrap

from asr.launch import JobError

# Subcommand name -> module under asr.commands.
COMMANDS = (
    "prepare",
    "validate",
    "features",
    "train",
    "average",
    "decode",
    "lm",
    "tune",
    "align",
    "score",
    "export",
    "transcribe",
    "models",
)


# The modules of the 'torch' extra (pyproject.toml): a command that needs one says so in one line when it is missing.
TORCH_MODULES = ("torch", "torchaudio", "onnx", "matplotlib", "scipy", "pyroomacoustics", "silero_vad")


# What `asr --help` says before the command list: for users, not the developers' docstring above.
DESCRIPTION = """\
Speech and handwriting recognition with BiLSTM-CTC models: transcribe
recordings (or images of text lines), train models on your own data, and
measure word and character error rates.

Where to start:
  asr transcribe audio.wav            transcribe with the pretrained AN4 model
  asr transcribe --model M.pt DIR     ... with your model, every audio file in DIR
  asr score --ref REF --hyp HYP       WER and CER of any system's output
  recipes/an4/run.sh                  train, decode and score a whole corpus

A recipe runs the commands in this order: prepare, features, train,
average, decode, score (with lm and tune for beam search with a language
model; export to ship the model)."""

EPILOG = "Run 'asr COMMAND --help' for what a command does and its options."


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, but a description keeps its paragraphs, and no line breaks inside an option name.

    Each paragraph is wrapped to the terminal, except examples and indented
    lists (a paragraph that starts with 'Example' or has indented lines),
    which stay as written.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.strip("\n").split("\n\n"):
            lines = paragraph.splitlines()
            if paragraph.startswith("Example") or any(line[:1].isspace() for line in lines):
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(textwrap.fill(" ".join(paragraph.split()), width, initial_indent=indent,
                                                subsequent_indent=indent, break_on_hyphens=False))
        return "\n\n".join(paragraphs)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def version() -> str:
    """The installed package's version (``asr.__version__``, which pyproject.toml sets)."""
    try:
        return importlib.metadata.version("asr")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def summary(doc: str) -> str:
    """A command's line in the command list: the first paragraph of its module docstring, which is one sentence."""
    return " ".join(doc.strip().split("\n\n")[0].split())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asr", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"asr.commands.{name}")
        doc = (module.__doc__ or "").strip()
        sub_parser = sub.add_parser(name, help=summary(doc), description=doc,
                                    formatter_class=HelpFormatter)
        module.add_arguments(sub_parser)
        show_defaults(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def show_defaults(parser: argparse.ArgumentParser) -> None:
    """End each option's help with its default, where the help does not give it already (nested subcommands too).

    Switches (off by default) and options without a default (None) are left as they are: their help says what
    leaving them out means.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                show_defaults(child)
            continue
        default = action.default
        if not action.option_strings or default in (None, False, argparse.SUPPRESS) or default == []:
            continue
        if action.help and "default" not in action.help:
            shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
            action.help += f" (default: {shown.replace('%', '%%')})"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    try:
        status = args._run(args)
    except BrokenPipeError:  # output piped into `head`: stop quietly with the status of a SIGPIPE death, as Unix tools do
        # First: it is an OSError, which the clause below would report.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit-time flush must not fail again
        return 128 + signal.SIGPIPE
    except ModuleNotFoundError as error:
        if error.name not in TORCH_MODULES:
            raise
        # The core install (no torch) runs ONNX models and scoring; training, .pt models and export need the extra.
        print(f"asr {args.command}: error: this needs PyTorch, which is not installed: pip install 'asr[torch]' "
              "(an ONNX model from `asr export --onnx` transcribes without it)", file=sys.stderr)
        return 1
    except (ValueError, OSError, JobError) as error:
        # Bad input, a file that cannot be read or written (a directory, no permission, a full disk), or a failed
        # parallel job (named with its log): one line, never a traceback.
        print(f"asr {args.command}: error: {_message(error)}", file=sys.stderr)
        return 1
    return int(status or 0)


def _message(error: Exception) -> str:
    """``PATH: strerror`` for an operating-system error, not Python's ``[Errno 13] Permission denied: 'PATH'``.

    The file is left out when the error has none (a write that found the disk
    full); errors raised with a message of ours (no ``strerror``) keep it.
    """
    if not isinstance(error, OSError) or not error.strerror:
        return str(error)
    files = [str(name) for name in (error.filename, error.filename2) if name is not None]  # two: a rename
    return f"{' -> '.join(files)}: {error.strerror}" if files else error.strerror


if __name__ == "__main__":
    sys.exit(main())
