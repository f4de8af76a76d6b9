"""Export a model file for distribution, optionally with float16 weights and the decoding to use.

With --decode-config, the lexicon, LM and tuned settings travel inside the
file, so that 'asr transcribe --model FILE' and 'asr decode --model FILE'
decode as the recipe's best system does.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file from 'asr average'")
    parser.add_argument("--out", required=True, help="exported model file")
    parser.add_argument("--decode-config", help="decode YAML to carry (e.g. from 'asr tune'), with its lexicon and LM "
                                                "(default: none, the exported model decodes greedily)")
    parser.add_argument("--half", action="store_true", help="store weights as float16 (half the size)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from asr.decode import load_decode_config
    from asr.inference import CarriedDecoding, ModelFile

    contents = ModelFile.read(args.model)
    if args.decode_config:
        contents.decoding = CarriedDecoding.from_config(load_decode_config(args.decode_config))
    if args.half:
        contents.weights = {name: tensor.half() if tensor.is_floating_point() else tensor
                            for name, tensor in contents.weights.items()}
    contents.write(args.out)
    size = Path(args.out).stat().st_size / 2**20
    print(f"{args.out}: {size:.1f} MiB, decoding: {contents.decoding.config.mode if contents.decoding else 'greedy'}")
    return 0
