"""Export a model file for distribution: optional float16 weights, and the
lexicon, LM and tuned decoding settings carried inside it, so that
'asr transcribe --model FILE' decodes as the recipe's best system does.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file from 'asr average'")
    parser.add_argument("--out", required=True, help="exported model file")
    parser.add_argument("--decode-config", help="decode YAML to carry (e.g. from 'asr tune'), with its lexicon and LM")
    parser.add_argument("--half", action="store_true", help="store weights as float16 (half the size)")


def run(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from asr.decoding import load_decode_config
    from asr.package import read_model, save_model

    spec, state = read_model(args.model)
    if args.decode_config:
        config = load_decode_config(args.decode_config)
        spec.decoding = {
            "config": dataclasses.asdict(config),
            "lexicon": Path(config.lexicon).read_text(encoding="utf-8") if config.lexicon else None,
            "lm": Path(config.lm).read_text(encoding="utf-8") if config.lm else None,
        }
    if args.half:
        state = {name: tensor.half() if tensor.is_floating_point() else tensor for name, tensor in state.items()}
    save_model(args.out, spec, state)
    size = Path(args.out).stat().st_size / 2**20
    print(f"{args.out}: {size:.1f} MiB, decoding: {spec.decoding['config']['mode'] if spec.decoding else 'greedy'}")
    return 0
