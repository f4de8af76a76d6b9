"""Decode a data dir with features into OUT/text, with optional N-best lists and word timings (CTM).

By default it decodes as 'asr transcribe' does with the same model file:
with the lexicon, LM and settings the file carries ('asr export
--decode-config'), else greedily.  --mode greedy asks for the greedy best
path; --mode beam for flashlight's beam search, with a lexicon and word LM,
a character LM (no lexicon), or no LM.  --config reads these settings from
a YAML file (e.g. the one 'asr tune' writes); flags override it.
"""

from __future__ import annotations

import argparse

from asr.commands.options import MODEL_HELP, add_decode_arguments, add_progress_argument, model_decode_config
from asr.device import add_device_arguments
from asr.parallel import add_arguments as add_parallel_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help=MODEL_HELP)
    parser.add_argument("--data", required=True, help="data dir with feats.scp (from 'asr features')")
    parser.add_argument("--out", required=True, help="output dir: text, decode.yaml, decode.log, nbest.txt, ctm")
    add_decode_arguments(parser)
    parser.add_argument("--ctm", action="store_true", help="also write word timings and confidences (OUT/ctm)")
    add_device_arguments(parser)
    add_parallel_arguments(parser)
    add_progress_argument(parser)


def run(args: argparse.Namespace) -> int:
    from asr.device import set_threads
    from asr.inference import check_decode_dir, decode_data_dir

    check_decode_dir(args.data, args.out)  # before the config is written into OUT
    config = model_decode_config(args, args.out)
    set_threads(args.threads)
    if args.nj > 1:  # the same command on each part of the data dir, merged (asr.parallel)
        from functools import partial
        from pathlib import Path

        from asr.config import save_config
        from asr.inference import merge_decodes
        from asr.parallel import run_parallel

        # The jobs decode with the config resolved here (the model file's decoding unpacked once), which the
        # merge writes back to OUT/decode.yaml.
        Path(args.out).mkdir(parents=True, exist_ok=True)
        save_config(config, Path(args.out) / "decode.yaml")
        args.config = str(Path(args.out) / "decode.yaml")
        count = run_parallel("decode", add_arguments, args, "data", "out", partial(merge_decodes, data_dir=args.data))
    else:
        count = decode_data_dir(args.model, args.data, args.out, config, ctm=args.ctm, device=args.device,
                                progress=not args.quiet)
    print(f"{args.out}/text: {count} hypotheses")
    return 0
