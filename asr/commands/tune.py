"""Tune beam-search weights on a dev set, writing the best settings to OUT/decode.yaml for 'asr decode --config'.

The search tuned is the one 'asr decode' would run with the same options:
by default the lexicon and LM the model file carries, if any.

Example: asr tune --model M --data data/dev --lexicon L --lm word.arpa
         --grid lm_weight=0.5,1,2 word_score=-1,0,1 --out exp/tune
"""

from __future__ import annotations

import argparse

from asr.commands.options import MODEL_HELP, add_decode_arguments, add_progress_argument, model_decode_config
from asr.device import add_device_arguments, set_threads


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help=MODEL_HELP)
    parser.add_argument("--data", required=True, help="dev data dir with feats.scp and text (never a test set)")
    parser.add_argument("--out", required=True, help="output dir: tune.tsv (every grid point), decode.yaml (the best)")
    parser.add_argument("--grid", nargs="+", required=True, metavar="NAME=V1,V2",
                        help="beam option values to try, e.g. lm_weight=0.5,1,2 word_score=-1,0,1")
    parser.add_argument("--metric", choices=["wer", "cer"], default="wer", help="error rate to minimize")
    add_decode_arguments(parser)
    add_device_arguments(parser)
    add_progress_argument(parser)


def run(args: argparse.Namespace) -> int:
    from asr.inference import parse_grid, tune

    grid = parse_grid(args.grid)  # a typo costs no model load
    config = model_decode_config(args, args.out)
    if config.mode != "beam":
        raise ValueError("tuning needs beam search: give --lm (and --lexicon for a word LM) or --mode beam")
    set_threads(args.threads)
    best, rate = tune(args.model, args.data, config, grid, args.out, args.metric, args.device, progress=not args.quiet)
    print(f"{args.out}/decode.yaml: best dev {args.metric.upper()} {100 * rate:.2f}% with lm_weight={best.beam.lm_weight:g} "
          f"word_score={best.beam.word_score:g} sil_score={best.beam.sil_score:g}")
    return 0
