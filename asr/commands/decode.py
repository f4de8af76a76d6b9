"""Decode a data dir with features: OUT/text (hypotheses), optional N-best and CTM.

Greedy by default; --mode beam uses flashlight's beam search, with a lexicon
and word LM, a character LM (no lexicon), or no LM.  --config reads the same
settings from a YAML file (e.g. the one 'asr tune' writes); flags override it.
"""

from __future__ import annotations

import argparse
import dataclasses

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


def add_decode_arguments(parser: argparse.ArgumentParser) -> None:
    """Search flags shared by 'asr decode' and 'asr transcribe'."""
    parser.add_argument("--config", help="decode YAML (DecodeConfig: mode, lexicon, lm, beam: {...})")
    parser.add_argument("--mode", choices=["greedy", "beam"])
    parser.add_argument("--lexicon", help="flashlight lexicon (word, then its tokens ending in |)")
    parser.add_argument("--lm", help="ARPA (or KenLM binary) LM: word LM with --lexicon, character LM without")
    for name, kind in (("beam-size", int), ("beam-threshold", float), ("lm-weight", float),
                       ("word-score", float), ("unk-score", float), ("sil-score", float), ("nbest", int)):
        parser.add_argument(f"--{name}", type=kind, help="beam search option (see BeamSearchOptions)")


def config_from_args(args: argparse.Namespace, base=None):
    """The decode config of --config (else ``base``, else greedy), with the flags given on top."""
    from asr.decoding import DecodeConfig, load_decode_config

    config = load_decode_config(args.config) if args.config else base or DecodeConfig()
    beam = {f.name: getattr(args, f.name) for f in dataclasses.fields(config.beam) if getattr(args, f.name, None) is not None}
    top = {k: getattr(args, k) for k in ("mode", "lexicon", "lm") if getattr(args, k) is not None}
    if (beam or top.get("lexicon") or top.get("lm")) and "mode" not in top:
        top["mode"] = "beam"
    if top.get("mode") == "greedy":  # drop a lexicon or LM that the base config carries
        top.setdefault("lexicon", None)
        top.setdefault("lm", None)
    return dataclasses.replace(config, beam=dataclasses.replace(config.beam, **beam), **top)


def run(args: argparse.Namespace) -> int:
    from asr.decoding import decode_data_dir
    from asr.device import set_threads

    config = config_from_args(args)
    set_threads(args.threads)
    if args.nj > 1:  # the same command on each part of the data dir, merged (asr.parallel)
        from functools import partial

        from asr.parallel import run_parallel
        from asr.split import merge_decodes

        count = run_parallel("decode", add_arguments, args, "data", "out", partial(merge_decodes, data_dir=args.data))
    else:
        count = decode_data_dir(args.model, args.data, args.out, config, ctm=args.ctm, device=args.device)
    print(f"{args.out}/text: {count} hypotheses")
    return 0
