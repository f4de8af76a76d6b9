"""Force-align the transcripts of a data dir to its features; writes word (or character) timings as CTM.

CTM lines: '<utt> 1 <start> <duration> <word> <confidence>'.  Utterances whose
transcript cannot be aligned (a character outside the tokens, too few frames)
are reported and counted, and the others still aligned.
"""

from __future__ import annotations

import argparse
import sys

from asr.commands.options import MODEL_HELP, add_progress_argument
from asr.device import add_device_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help=MODEL_HELP)
    parser.add_argument("--data", required=True, help="data dir with feats.scp (from 'asr features') and text")
    parser.add_argument("--out", required=True, help="output CTM file")
    parser.add_argument("--unit", choices=["word", "char"], default="word", help="time words or characters")
    add_device_arguments(parser)
    add_progress_argument(parser)


def run(args: argparse.Namespace) -> int:
    from asr.device import set_threads
    from asr.inference import align_data_dir

    set_threads(args.threads)
    aligned, skipped = align_data_dir(args.model, args.data, args.out, args.unit, args.device, progress=not args.quiet)
    for key, error in skipped.items():
        print(f"asr align: skipping {key}: {error}", file=sys.stderr)
    print(f"{args.out}: {aligned} utterances aligned, {len(skipped)} skipped")
    return 1 if skipped else 0
