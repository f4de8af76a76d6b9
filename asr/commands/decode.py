"""Decode a data dir with features into a Kaldi-style hypothesis file (OUT/text)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file from 'asr average'")
    parser.add_argument("--data", required=True, help="data dir with feats.scp")
    parser.add_argument("--out", required=True, help="output dir: text (hypotheses), decode.log")


def run(args: argparse.Namespace) -> int:
    from asr.decoding import decode_data_dir

    count = decode_data_dir(args.model, args.data, args.out)
    print(f"{args.out}/text: {count} hypotheses")
    return 0
