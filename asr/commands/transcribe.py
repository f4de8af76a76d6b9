"""Transcribe audio files with a trained model: one line per file, 'PATH TEXT'.

A file that cannot be read is reported on stderr and the others are still
transcribed; the exit status is 1 if any file failed.
"""

from __future__ import annotations

import argparse
import sys

from asr.commands.decode import add_decode_arguments, config_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file from 'asr average'")
    parser.add_argument("audio", nargs="+", help="audio files (wav, flac, ogg, mp3; any rate, any channels)")
    add_decode_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from asr.package import load_recognizer
    from asr.transcribe import transcribe_files

    recognizer = load_recognizer(args.model)
    failed = 0
    for result in transcribe_files(recognizer, args.audio, config_from_args(args)):
        if result.error:
            failed += 1
            print(f"asr transcribe: error: {result.error}", file=sys.stderr)
        else:
            print(f"{result.source} {result.text}", flush=True)
    return 1 if failed else 0
