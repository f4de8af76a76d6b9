"""Prepare a corpus into Kaldi-style data dirs (train, dev, test).

For AN4: --root takes a local copy (also $AN4_ROOT); without one, the corpus
is downloaded from CMU into --download-dir (needs internet).
"""

from __future__ import annotations

import argparse
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("corpus", choices=["an4"], help="corpus to prepare")
    parser.add_argument("--root", default=None, help="local corpus copy (default: $AN4_ROOT, else download)")
    parser.add_argument("--download-dir", default="downloads", help="where a download goes")
    parser.add_argument("--out", default="data", help="output folder for the data dirs")
    parser.add_argument("--dev-speakers", type=int, default=5, help="training speakers held out as dev")


def run(args: argparse.Namespace) -> int:
    from asr.corpora.an4 import download_an4, prepare_an4

    root = args.root or os.environ.get("AN4_ROOT") or download_an4(args.download_dir)
    counts = prepare_an4(root, args.out, args.dev_speakers)
    print(" ".join(f"{name}: {n} utterances" for name, n in counts.items()))
    return 0
