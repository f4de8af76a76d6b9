#!/usr/bin/env python
"""Real-time factor of decoding on one core: model forward pass included.

    python tools/bench_decode.py --model recipes/an4/exp/train/model.pt \
        --data recipes/an4/data/test --config recipes/an4/exp/train/tune_word_lm/decode.yaml

Prints one line per decoding mode: greedy always, plus each --config given
(e.g. the tuned lexicon + word LM and character LM configs).  The RTF is
processing seconds / audio seconds, measured after loading the model and LM;
--from-audio also counts reading the audio and computing fbank (what
`asr transcribe` does per file).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from asr.data.datadir import validate_data_dir
from asr.data.frontend import compute_features
from asr.decode.search import DecodeConfig, load_decode_config, make_decoder
from asr.inference.datadirs import read_features
from asr.inference.recognizer import load_recognizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="data dir with feats.scp (and wav.scp for --from-audio)")
    parser.add_argument("--config", nargs="*", default=[], help="decode YAML files to time besides greedy")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--from-audio", action="store_true", help="time audio reading and fbank too")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    recognizer = load_recognizer(args.model)
    keys, feats = read_features(args.data, recognizer)
    data = validate_data_dir(args.data)
    audio_seconds = sum(f.shape[0] for f in feats) * recognizer.spec.features.frame_shift_ms / 1000
    configs = [("greedy", DecodeConfig())] + [(Path(c).parent.name or c, load_decode_config(c)) for c in args.config]
    print(f"{len(keys)} utterances, {audio_seconds:.1f} s of audio, {args.threads} thread(s)")
    for name, config in configs:
        decode = make_decoder(recognizer.tokenizer, config)  # LM loading is not timed
        started = time.perf_counter()
        inputs = feats
        if args.from_audio:
            inputs = []
            for key in keys:
                source, segment = data.source_of(key)
                inputs.append(compute_features(source, recognizer.spec.features, segment=segment))
        for log_probs in recognizer.log_probs(inputs):
            decode(log_probs)
        seconds = time.perf_counter() - started
        print(f"{name:20s} {seconds:7.2f} s  RTF {seconds / audio_seconds:.4f}")


if __name__ == "__main__":
    main()
