"""Compute the features of a data dir (feats.scp, feats.ark) and its CMVN stats (cmvn.ark).

Audio (wav.scp) gets Kaldi-compatible fbank, line images (images.scp)
pixel columns.  Unreadable audio or images are reported, counted and
listed in DST/dropped ('utterance reason' lines).  In place (DST = SRC)
the tables of SRC are never rewritten: a dropped utterance keeps its lines
there, without features.
"""

from __future__ import annotations

import argparse

from asr.commands.options import add_progress_argument
from asr.parallel import add_arguments as add_parallel_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="input data dir (wav.scp or images.scp, text, utt2spk)")
    parser.add_argument("dst", help="output data dir (may equal src, without speed perturbation)")
    parser.add_argument("--config", help="YAML of FbankConfig (audio) or ImageConfig (images) fields; "
                        "default: 80-bin Kaldi fbank, or 32-pixel-high lines")
    parser.add_argument("--speed-perturb", type=float, nargs="+", default=[1.0], metavar="FACTOR",
                        help="speed factors, e.g. 0.9 1.0 1.1: copies named sp0.9-<id> (Kaldi convention)")
    add_progress_argument(parser)
    add_parallel_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from functools import partial
    from pathlib import Path

    from asr.config import load_config
    from asr.data import KINDS, SOURCE_KIND, extract_features, in_place, validate_data_dir

    config_class = KINDS[SOURCE_KIND[validate_data_dir(args.src).source_file]]
    config = load_config(config_class, args.config) if args.config else config_class()
    same = in_place(args.src, args.dst, args.speed_perturb)  # before any job starts
    if args.nj > 1:  # the same command on each part of src, merged (asr.parallel)
        from asr.data import merge_features
        from asr.parallel import run_parallel

        wanted = len(validate_data_dir(args.src).utts) * len(args.speed_perturb)
        merge = partial(merge_features, in_place=same)
        dropped = wanted - run_parallel("features", add_arguments, args, "src", "dst", merge)
    else:
        dropped = extract_features(args.src, args.dst, config, tuple(args.speed_perturb), progress=not args.quiet)
    listed = f", listed in {Path(args.dst) / 'dropped'}" if dropped else ""
    print(f"{args.dst}: features written, {dropped} utterances dropped (unreadable input){listed}")
    return 0
