"""Average epochs of a training run into one model file: the best N by dev CER, the last N, or as its config says."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exp", required=True, help="experiment dir written by 'asr train'")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--best", type=int, metavar="N", help="average the N epochs with the best dev CER")
    which.add_argument("--last", type=int, metavar="N",
                       help="average the N latest epochs (kept when the training config's keep_last is at least N)")
    parser.add_argument("--out", required=True, help="output model file")


def run(args: argparse.Namespace) -> int:
    from asr.train import average_checkpoints

    last = args.last is not None
    n = args.last if last else args.best  # neither: as the run's config says (average_checkpoints)
    if n is not None and n < 1:
        raise ValueError(f"--{'last' if last else 'best'} must be at least 1, got {n}")
    epochs = average_checkpoints(args.exp, n, args.out, last=last)
    print(f"{args.out}: average of epochs {' '.join(map(str, epochs))}")
    return 0
