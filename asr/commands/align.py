"""Force-align the transcripts of a data dir to its features; writes word (or character) timings as CTM.

CTM lines: '<utt> 1 <start> <duration> <word> <confidence>'.  Utterances whose
transcript cannot be aligned (a character outside the tokens, too few frames)
are reported and counted, and the others still aligned.
"""

from __future__ import annotations

import argparse
import sys

from asr.device import add_device_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model file")
    parser.add_argument("--data", required=True, help="data dir with feats.scp and text")
    parser.add_argument("--out", required=True, help="output CTM file")
    parser.add_argument("--unit", choices=["word", "char"], default="word", help="time words or characters")
    add_device_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from asr.alignment import char_timings, word_timings, write_ctm
    from asr.datadir import validate_data_dir
    from asr.decoding import read_features
    from asr.device import set_threads
    from asr.package import load_recognizer

    set_threads(args.threads)
    recognizer = load_recognizer(args.model, args.device)
    recognizer.require_time_axis(args.model)
    text = validate_data_dir(args.data).text
    keys, feats = read_features(args.data, recognizer)
    timings = word_timings if args.unit == "word" else char_timings
    aligned, failed = [], 0
    for key, log_probs in zip(keys, recognizer.log_probs(feats)):
        try:
            ids = recognizer.tokenizer.encode(text[key])
            aligned.append((key, timings(log_probs, ids, recognizer.tokenizer.tokens, recognizer.frame_shift, key)))
        except ValueError as error:
            failed += 1
            print(f"asr align: skipping {key}: {error}", file=sys.stderr)
    write_ctm(aligned, args.out)
    print(f"{args.out}: {len(aligned)} utterances aligned, {failed} skipped")
    return 1 if failed else 0
