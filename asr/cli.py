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
    except (ValueError, FileNotFoundError, JobError) as error:
        # Bad input, or a failed parallel job (named with its log), is reported in one line, never as a traceback.
        print(f"asr {args.command}: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into `head`: stop quietly with the status of a SIGPIPE death, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit-time flush must not fail again
        return 128 + signal.SIGPIPE
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
