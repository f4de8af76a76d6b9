#!/usr/bin/env python
"""End-to-end speed and memory of transcription on one core (model loading excluded).

    python tools/bench_transcribe.py [--model FILE] [--minutes 10]

1. The AN4 test files one by one, as `asr transcribe` reads them: real-time
   factor (processing seconds / audio seconds) and WER.
2. One long recording made of the test utterances end to end with short
   pauses (``--minutes`` long): RTF, WER of the stitched transcript against
   the concatenated references, and the process's peak resident memory.
Greedy decoding unless the model file carries a lexicon and LM (then both).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

from asr.audio import read_audio
from asr.corpora.an4 import find_audio, read_transcription
from asr.decoding import DecodeConfig
from asr.scoring import kaldi_line, score
from asr.transcribe import DEFAULT_MODEL, load_model

AN4 = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "an4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--an4-root", default=str(AN4))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    root = Path(args.an4_root)
    refs = read_transcription(root / "etc" / "an4_test.transcription")
    audio = find_audio(root, root / "etc" / "an4_test.fileids")
    keys = sorted(refs)
    model = load_model(args.model)
    configs = {"carried": model.config} if model.config.mode == "beam" else {}
    configs["greedy"] = DecodeConfig()
    for name, config in configs.items():
        model.configure(config)
        started = time.perf_counter()
        results = list(model.transcribe_files(audio[k] for k in keys))
        seconds = time.perf_counter() - started
        total = sum(r.duration for r in results)
        wer = score(refs, {k: r.text or "" for k, r in zip(keys, results)}).totals
        print(f"{name:8s} {len(keys)} files, {total:.1f} s audio: {seconds:.2f} s, RTF {seconds / total:.4f}, {kaldi_line(wer)}")

    pause = np.zeros(4800, dtype=np.float32)  # 0.3 s
    pieces, words, length = [], [], 0
    while length < args.minutes * 60 * 16000:
        for k in keys:
            samples = read_audio(audio[k])
            pieces += [samples, pause]
            words.append(refs[k])
            length += len(samples) + len(pause)
            if length >= args.minutes * 60 * 16000:
                break
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.flac"
        soundfile.write(path, np.concatenate(pieces), 16000)
        del pieces
        for name, config in configs.items():
            model.configure(config)
            started = time.perf_counter()
            result = model.transcribe(path)
            seconds = time.perf_counter() - started
            wer = score({"long": " ".join(words)}, {"long": result.text or ""}).totals
            print(f"{name:8s} {result.duration / 60:.1f}-minute recording: {seconds:.2f} s, "
                  f"RTF {seconds / result.duration:.4f}, {len(result.words)} words timed, {kaldi_line(wer)}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
