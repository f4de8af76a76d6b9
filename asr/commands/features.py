"""Compute Kaldi-compatible fbank features (ark/scp) and CMVN stats for a data dir.

Unreadable audio is reported, counted and left out of the output dir.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="input data dir (wav.scp, text, utt2spk)")
    parser.add_argument("dst", help="output data dir (may equal src)")
    parser.add_argument("--config", help="fbank YAML (FbankConfig fields); default: 80-bin Kaldi fbank")
    parser.add_argument("--speed-perturb", type=float, nargs="+", default=[1.0], metavar="FACTOR",
                        help="speed factors, e.g. 0.9 1.0 1.1: copies named sp0.9-<id> (Kaldi convention)")


def run(args: argparse.Namespace) -> int:
    from asr.config import load_config
    from asr.extract import extract_features
    from asr.features import FbankConfig

    config = load_config(FbankConfig, args.config) if args.config else FbankConfig()
    skipped = extract_features(args.src, args.dst, config, tuple(args.speed_perturb))
    print(f"{args.dst}: features written, {skipped} utterances skipped")
    return 0
