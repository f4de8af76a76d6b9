"""Tune beam-search weights on a dev set; writes OUT/decode.yaml for 'asr decode --config'.

Example: asr tune --model M --data data/dev --lexicon L --lm word.arpa
         --grid lm_weight=0.5,1,2 word_score=-1,0,1 --out exp/tune
"""

from __future__ import annotations

import argparse

from asr.commands.options import add_decode_arguments, config_from_args
from asr.device import add_device_arguments, set_threads


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file")
    parser.add_argument("--data", required=True, help="dev data dir with feats.scp and text")
    parser.add_argument("--out", required=True, help="output dir: tune.tsv, decode.yaml")
    parser.add_argument("--grid", nargs="+", required=True, metavar="NAME=V1,V2",
                        help="beam option values to try, e.g. lm_weight=0.5,1,2 word_score=-1,0,1")
    parser.add_argument("--metric", choices=["wer", "cer"], default="wer", help="error rate to minimize")
    add_decode_arguments(parser)
    add_device_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from asr.inference import parse_grid, tune

    config = config_from_args(args)
    if config.mode != "beam":
        raise ValueError("tuning needs beam search: give --lm (and --lexicon for a word LM) or --mode beam")
    set_threads(args.threads)
    best, rate = tune(args.model, args.data, config, parse_grid(args.grid), args.out, args.metric, args.device)
    print(f"{args.out}/decode.yaml: best dev {args.metric.upper()} {100 * rate:.2f}% with lm_weight={best.beam.lm_weight:g} "
          f"word_score={best.beam.word_score:g} sil_score={best.beam.sil_score:g}")
    return 0
