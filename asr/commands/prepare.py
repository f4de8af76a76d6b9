"""Prepare a corpus into Kaldi-style data dirs.

--root takes a local copy (also $<CORPUS>_ROOT: $AN4_ROOT, $LIBRISPEECH_ROOT);
without one, the corpus is downloaded into --download-dir (needs internet):
AN4 from CMU (train, dev, test), LibriSpeech from OpenSLR (a data dir per
subset, e.g. train_clean_100, and one per --combine union).
"""

from __future__ import annotations

import argparse
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("corpus", choices=sorted(PREPARERS), help="corpus to prepare")
    parser.add_argument("--root", default=None, help="local corpus copy (default: $<CORPUS>_ROOT, else download)")
    parser.add_argument("--download-dir", default="downloads", help="where a download goes")
    parser.add_argument("--out", default="data", help="output folder for the data dirs")
    parser.add_argument("--dev-speakers", type=int, default=5, help="AN4: training speakers held out as dev")
    parser.add_argument("--subsets", nargs="+", metavar="SUBSET",
                        help="LibriSpeech: subsets to fetch and prepare, e.g. train-clean-100 (default: all 7)")
    parser.add_argument("--combine", type=combine_spec, action="append", default=[], metavar="NAME=SUBSET,...",
                        help="LibriSpeech: also write the union of subsets as data dir NAME, e.g. "
                             "train_960=train-clean-100,train-clean-360,train-other-500")
    parser.add_argument("--split", type=split_spec, action="append", default=[], metavar="NAME=LIST",
                        help="IAM: a data dir NAME from a list of line or form ids, e.g. train=trainset.txt")


def split_spec(value: str) -> tuple[str, str]:
    name, _, path = value.partition("=")
    if not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=LIST_FILE, got '{value}'")
    return name, path


def combine_spec(value: str) -> tuple[str, tuple[str, ...]]:
    name, _, parts = value.partition("=")
    if not name or not parts:
        raise argparse.ArgumentTypeError(f"expected NAME=SUBSET,SUBSET..., got '{value}'")
    return name, tuple(parts.split(","))


def run_an4(args: argparse.Namespace, root: str | None) -> dict[str, int]:
    from asr.data.corpora.an4 import download_an4, prepare_an4

    return prepare_an4(root or download_an4(args.download_dir), args.out, args.dev_speakers)


def run_librispeech(args: argparse.Namespace, root: str | None) -> dict[str, int]:
    from asr.data.corpora.librispeech import SUBSETS, download_librispeech, prepare_librispeech

    subsets = tuple(args.subsets or SUBSETS)
    root = root or download_librispeech(args.download_dir, subsets)
    return prepare_librispeech(root, args.out, subsets, dict(args.combine))


def run_copiste(args: argparse.Namespace, root: str | None) -> dict[str, int]:
    from asr.data.corpora.copiste import prepare_copiste

    if root is None:
        raise ValueError("copiste: give --root (or COPISTE_ROOT): the line images have no download")
    return prepare_copiste(root, args.out)


def run_iam(args: argparse.Namespace, root: str | None) -> dict[str, int]:
    from asr.data.corpora.iam import prepare_iam

    if root is None:
        raise ValueError("iam: give --root (or IAM_ROOT): IAM needs a registration to download")
    if not args.split:
        raise ValueError("iam: give the split lists, e.g. --split train=trainset.txt --split test=testset.txt")
    return prepare_iam(root, args.out, dict(args.split))


# Corpus name -> preparer(args, local root or None: download); its root variable is $<NAME>_ROOT.
PREPARERS = {"an4": run_an4, "librispeech": run_librispeech, "copiste": run_copiste, "iam": run_iam}


def run(args: argparse.Namespace) -> int:
    root = args.root or os.environ.get(f"{args.corpus.upper().replace('-', '_')}_ROOT")
    counts = PREPARERS[args.corpus](args, root)
    print(" ".join(f"{name}: {n} utterances" for name, n in counts.items()))
    return 0
