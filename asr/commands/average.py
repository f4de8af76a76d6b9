"""Average the best N epochs (by dev CER) of a training run into one model file."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exp", required=True, help="experiment dir written by 'asr train'")
    parser.add_argument("--best", type=int, default=5, help="number of epochs to average")
    parser.add_argument("--out", required=True, help="output model file")


def run(args: argparse.Namespace) -> int:
    from asr.train import average_checkpoints

    epochs = average_checkpoints(args.exp, args.best, args.out)
    print(f"{args.out}: average of epochs {' '.join(map(str, epochs))}")
    return 0
