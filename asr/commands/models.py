"""List the models shipped with the package, which --model NAME selects, with their input, vocabulary and test figures.

Example: asr models; asr transcribe --model an4 take1.wav
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object per model instead of text")


def run(args: argparse.Namespace) -> int:
    from asr.inference import bundled_models, describe_model

    for model in bundled_models().values():
        facts = describe_model(model)
        if args.json:
            print(json.dumps({**facts, "path": str(model.path)}, ensure_ascii=False))
            continue
        print(facts.pop("name"))
        for key, value in facts.items():
            print(f"  {key + ':':<12} {', '.join(map(str, value)) if isinstance(value, list) else value}")
        print(f"  {'path:':<12} {model.path}")
    return 0
