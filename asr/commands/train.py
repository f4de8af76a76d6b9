"""Train a BiLSTM-CTC model on a data dir with features, choosing epochs on dev.

Several processes (GPUs, or CPU core groups) under torchrun:
  torchrun --nproc-per-node 2 -m asr train --train ... --dev ... --exp ...
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="training YAML (TrainConfig fields); default: built-in defaults")
    parser.add_argument("--train", required=True, help="training data dir with feats.scp, cmvn.ark, fbank.yaml or image.yaml")
    parser.add_argument("--dev", required=True, help="dev data dir with feats.scp")
    parser.add_argument("--exp", required=True, help="experiment dir for checkpoints, logs and plots")
    # An exp dir that holds a run already is refused without one of these: a forgotten flag must not replace it.
    previous_run = parser.add_mutually_exclusive_group()
    previous_run.add_argument("--resume", action="store_true", help="continue from EXP/last.pt if it exists "
                              "(from last.prev.pt if last.pt is unreadable)")
    previous_run.add_argument("--overwrite", action="store_true",
                              help="start afresh, removing the run EXP holds (only the files training writes)")
    parser.add_argument("--epochs", type=int, help="number of epochs (default: the config's)")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from asr.config import load_config
    from asr.train import TrainConfig, train

    config = load_config(TrainConfig, args.config) if args.config else TrainConfig()
    if args.epochs is not None:  # replace() runs the config's checks: --epochs 0 is refused, not ignored
        config = dataclasses.replace(config, epochs=args.epochs)
    train(config, args.train, args.dev, args.exp, args.resume, args.overwrite)
    return 0
