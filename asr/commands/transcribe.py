"""Transcribe audio files: text, JSON (words with times and confidences), CTM or SRT;
or, with a handwriting model, images of text lines (png, jpg, ...): text or JSON.

Inputs are audio files (wav, flac, ogg, mp3; any sample rate, any channels)
or line images, directories (searched for audio, or for images with a
handwriting model), '-' (paths read from stdin) or Kaldi wav.scp / images.scp
files (*.scp).  Without --model, the pretrained AN4 model that ships
with the toolkit is used (AN4's vocabulary only: letters, digits, a few
command words).  A file that cannot be transcribed is reported on stderr in
one line and the others still are; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterator

from asr.commands.decode import add_decode_arguments, config_from_args

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".sph", ".aiff", ".aif", ".au")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="audio file (or line image), directory, wav.scp/images.scp, or - for stdin")
    parser.add_argument("--model", help="model file (default: the pretrained AN4 model)")
    parser.add_argument("--format", choices=["txt", "json", "ctm", "srt"], default="txt", help="output format")
    parser.add_argument("--output-dir", help="write one file per input here (NAME.FORMAT) instead of stdout")
    parser.add_argument("--max-segment", type=float, default=20.0,
                        help="longer recordings are cut at pauses into pieces of at most this many seconds")
    add_decode_arguments(parser)


def expand_inputs(inputs: list[str], suffixes: tuple[str, ...] = AUDIO_SUFFIXES) -> Iterator[str]:
    """Paths (or Kaldi pipes) named by the inputs, in order; directories give their files with ``suffixes``."""
    from asr.datadir import read_table

    for item in inputs:
        path = Path(item)
        if item == "-":
            yield from (line.strip() for line in sys.stdin if line.strip())
        elif path.is_dir():
            yield from (str(p) for p in sorted(path.rglob("*")) if p.suffix.lower() in suffixes)
        elif path.suffix == ".scp" and path.is_file():
            yield from read_table(path).values()
        else:
            yield item


def run(args: argparse.Namespace) -> int:
    from asr.images import IMAGE_SUFFIXES
    from asr.output import render
    from asr.package import load_recognizer
    from asr.transcribe import DEFAULT_MODEL, Model

    model = Model(load_recognizer(args.model or DEFAULT_MODEL), max_segment=args.max_segment)
    if args.format in ("ctm", "srt"):
        model.recognizer.require_time_axis(args.model)
    # Decoding flags go on top of what the model file carries (its LM, tuned weights).
    model.configure(config_from_args(args, base=model.config))
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    suffixes = IMAGE_SUFFIXES if model.reads_images else AUDIO_SUFFIXES
    for result in model.transcribe_files(expand_inputs(args.inputs, suffixes)):
        if result.error:
            failed += 1
            print(f"asr transcribe: error: {result.error}", file=sys.stderr)
            continue
        text = render(args.format, result)
        if out_dir:
            (out_dir / f"{Path(result.source).stem}.{args.format}").write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    if failed:
        print(f"asr transcribe: {failed} input(s) failed", file=sys.stderr)
    return 1 if failed else 0
