"""Decode a data dir with features: OUT/text (hypotheses), optional N-best and CTM.

Greedy by default; --mode beam uses flashlight's beam search, with a lexicon
and word LM, a character LM (no lexicon), or no LM.  --config reads the same
settings from a YAML file (e.g. the one 'asr tune' writes); flags override it.
"""

from __future__ import annotations

import argparse

from asr.commands.options import add_decode_arguments, config_from_args
from asr.device import add_device_arguments
from asr.parallel import add_arguments as add_parallel_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file from 'asr average'")
    parser.add_argument("--data", required=True, help="data dir with feats.scp")
    parser.add_argument("--out", required=True, help="output dir: text, decode.yaml, decode.log, nbest.txt, ctm")
    add_decode_arguments(parser)
    parser.add_argument("--ctm", action="store_true", help="also write word timings and confidences (OUT/ctm)")
    add_device_arguments(parser)
    add_parallel_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from asr.device import set_threads
    from asr.inference import decode_data_dir

    config = config_from_args(args)
    set_threads(args.threads)
    if args.nj > 1:  # the same command on each part of the data dir, merged (asr.parallel)
        from functools import partial

        from asr.inference import merge_decodes
        from asr.parallel import run_parallel

        count = run_parallel("decode", add_arguments, args, "data", "out", partial(merge_decodes, data_dir=args.data))
    else:
        count = decode_data_dir(args.model, args.data, args.out, config, ctm=args.ctm, device=args.device)
    print(f"{args.out}/text: {count} hypotheses")
    return 0
