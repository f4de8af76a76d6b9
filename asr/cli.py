"""The ``asr`` command line: parses arguments and hands them to the library."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys

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
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asr", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"asr.commands.{name}")
        doc = (module.__doc__ or "").strip()
        sub_parser = sub.add_parser(name, help=doc.splitlines()[0] if doc else None, description=doc)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


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
