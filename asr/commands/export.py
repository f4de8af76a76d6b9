"""Export a model file for distribution, optionally with float16 weights and the decoding to use.

With --decode-config, the lexicon, LM and tuned settings travel inside the
file, so that 'asr transcribe --model FILE' and 'asr decode --model FILE'
decode as the recipe's best system does.  With --onnx, the export is for
deployment without PyTorch: --out NAME.onnx, with NAME.json (tokens,
features, CMVN, decoding) and the lexicon and LM beside it, read by
asr.runtime.load_onnx_model.
"""

from __future__ import annotations

import argparse

from asr.commands.options import MODEL_HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help=MODEL_HELP)
    parser.add_argument("--out", required=True, help="exported model file")
    parser.add_argument("--decode-config", help="decode YAML to carry (e.g. from 'asr tune'), with its lexicon and LM "
                                                "(default: none, the exported model decodes greedily)")
    parser.add_argument("--half", action="store_true", help="store weights as float16 (half the size)")
    parser.add_argument("--onnx", action="store_true",
                        help="write --out NAME.onnx for onnxruntime (no PyTorch needed to run it), with NAME.json "
                             "and the carried lexicon (NAME.lexicon) and LM (NAME.arpa) beside it")
    parser.add_argument("--quantize", action="store_true",
                        help="with --onnx: int8 weights for the LSTM and output layers (dynamic quantization): for "
                             "the AN4 model 4x smaller and a 2.7x faster network on one core, with the same "
                             "transcripts of the 130 AN4 test files as float32")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from asr.decode import load_decode_config
    from asr.inference import CarriedDecoding, ModelFile

    if args.quantize and not args.onnx:
        raise ValueError("--quantize is for --onnx exports")
    if args.half and args.onnx:
        raise ValueError("--half is for model files; an --onnx export keeps float32 weights, or int8 with --quantize")
    contents = ModelFile.read(args.model)
    if args.decode_config:
        contents.decoding = CarriedDecoding.from_config(load_decode_config(args.decode_config))
    if args.onnx:
        from asr.runtime import export_onnx

        exported = export_onnx(contents, args.out, quantized=args.quantize, source=Path(args.model).name)
        sizes = ", ".join(f"{path.name} {_size(path.stat().st_size)}" for path in exported.files)
        print(f"{args.out}: {sizes}; decoding: {exported.decoding}; onnxruntime's log-probs within "
              f"{exported.max_difference:.1e} of torch's on a random batch")
        return 0
    if args.half:
        contents.weights = {name: tensor.half() if tensor.is_floating_point() else tensor
                            for name, tensor in contents.weights.items()}
    contents.write(args.out)
    size = Path(args.out).stat().st_size / 2**20
    print(f"{args.out}: {size:.1f} MiB, decoding: {contents.decoding.config.mode if contents.decoding else 'greedy'}")
    return 0



def _size(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"
