"""Compute features (ark/scp) and CMVN stats for a data dir: Kaldi-compatible
fbank for ``wav.scp`` audio, pixel columns for ``images.scp`` line images.

Unreadable audio or images are reported, counted and left out of the output dir.
"""

from __future__ import annotations

import argparse

from asr.parallel import add_arguments as add_parallel_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="input data dir (wav.scp or images.scp, text, utt2spk)")
    parser.add_argument("dst", help="output data dir (may equal src)")
    parser.add_argument("--config", help="YAML of FbankConfig (audio) or ImageConfig (images) fields; "
                        "default: 80-bin Kaldi fbank, or 32-pixel-high lines")
    parser.add_argument("--speed-perturb", type=float, nargs="+", default=[1.0], metavar="FACTOR",
                        help="speed factors, e.g. 0.9 1.0 1.1: copies named sp0.9-<id> (Kaldi convention)")
    add_parallel_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from asr.config import load_config
    from asr.datadir import validate_data_dir
    from asr.extract import extract_features
    from asr.frontend import KINDS, SOURCE_KIND

    config_class = KINDS[SOURCE_KIND[validate_data_dir(args.src).source_file]]
    config = load_config(config_class, args.config) if args.config else config_class()
    if args.nj > 1:  # the same command on each part of src, merged (asr.parallel)
        from asr.parallel import run_parallel
        from asr.split import merge_features

        wanted = len(validate_data_dir(args.src).utts) * len(args.speed_perturb)
        skipped = wanted - run_parallel("features", add_arguments, args, "src", "dst", merge_features)
    else:
        skipped = extract_features(args.src, args.dst, config, tuple(args.speed_perturb))
    print(f"{args.dst}: features written, {skipped} utterances skipped")
    return 0
