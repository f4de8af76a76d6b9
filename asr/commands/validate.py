"""Check a data dir: files sorted, ids consistent, every line well formed."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", nargs="+", help="data dirs to check")
    parser.add_argument("--need-feats", action="store_true",
                        help="require feats.scp, each entry pointing inside an existing ark")


def run(args: argparse.Namespace) -> int:
    from asr.data import validate_data_dir

    for path in args.data_dir:
        data = validate_data_dir(path, need_feats=args.need_feats)
        recordings = f", {len(data.source)} recordings" if data.segments else ""
        # In place, utterances whose input could not be read stay in the tables without features.
        feats = f", {len(data.feats)} with features" if data.feats else ""
        print(f"{path}: OK, {len(data.utts)} utterances{recordings}{feats}, "
              f"{len(set(data.utt2spk.values()))} speakers")
    return 0
