#!/usr/bin/env python
"""Speed and memory of transcription on one core, stage by stage, with torch and with the ONNX runtime.

    python tools/bench_transcribe.py [--model FILE] [--onnx FILE ...] [--threads 1] [--minutes 10]

Each engine runs the same inputs, one after the other, and its lines follow
the torch lines: ``torch`` (the model file, in the precision the library
picks, logged at the start), then each ONNX export (``--onnx``; by default
the model exported to a temporary folder as float32 and as int8 with
``asr export --onnx [--quantize]``), named by its file, on onnxruntime
with ``--optimization``.

0. Start-up: importing the library, and loading the model file (with the
   lexicon and LM it carries); for the ONNX runtime, both in a fresh
   process that cannot import torch, as a deployment without it runs.
1. The AN4 test files, 64 at a time as `asr transcribe` batches them: the
   real-time factor (processing seconds / audio seconds) of each stage
   (read: decoding and resampling the file; features: fbank; network: the
   acoustic model; search: greedy or beam; timings: word times by forced
   alignment, which only JSON/CTM/SRT output needs), then of the whole
   `transcribe_files` call, with WER.
2. One long recording made of the test utterances end to end with short
   pauses (``--minutes`` long): RTF, WER of the stitched transcript against
   the concatenated references, and the process's peak resident memory.
Greedy decoding, and the carried lexicon + LM when the model file has them.
"""

from __future__ import annotations

import argparse
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AN4 = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "an4"
# A deployment without torch: the runtime's start-up, timed in a process where `import torch` fails.
TORCH_FREE_STARTUP = """
import sys, time
sys.modules["torch"] = None
started = time.perf_counter()
from asr.runtime import load_onnx_model
imported = time.perf_counter() - started
started = time.perf_counter()
load_onnx_model(sys.argv[1], threads=1).decode
print(f"imports {imported:.2f} s, model files {time.perf_counter() - started:.2f} s")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model file (default: the pretrained AN4 model)")
    parser.add_argument("--onnx", action="append",
                        help="an exported NAME.onnx to run too (repeatable; default: --model exported as float32 "
                             "and as int8 to a temporary folder; 'none': torch only)")
    parser.add_argument("--optimization", default="all", help="onnxruntime's graph optimization level")
    parser.add_argument("--vad", default="energy",
                        help="how every engine cuts the long recording (default: energy, the runtime's: Silero runs "
                             "on torch)")
    parser.add_argument("--an4-root", default=str(AN4))
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the long recording (0: skip it)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")

    started = time.perf_counter()
    import numpy as np
    import soundfile
    import torch

    from asr.data.audio import read_audio
    from asr.data.corpora.an4 import find_audio, read_transcription
    from asr.data.features import fbank
    from asr.decode.search import DecodeConfig, make_decoder
    from asr.inference import ModelFile
    from asr.inference.recognizer import DEFAULT_MODEL, load_model
    from asr.inference.segmentation import split_on_silence
    from asr.inference.transcriber import hypothesis_timings
    from asr.runtime import export_onnx, load_onnx_model
    from asr.scoring import kaldi_line, score

    imported = time.perf_counter() - started
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = load_model(args.model or DEFAULT_MODEL, vad=args.vad)
    loaded = time.perf_counter() - started
    print(f"torch start-up: imports {imported:.2f} s, model file {loaded:.2f} s ({args.threads} thread(s))")
    exports = tempfile.TemporaryDirectory()
    onnx_paths = [Path(p) for p in args.onnx or [] if p != "none"]
    if not args.onnx:
        contents = ModelFile.read(args.model or DEFAULT_MODEL)
        for name, quantized in (("float32.onnx", False), ("int8.onnx", True)):
            onnx_paths.append(export_onnx(contents, Path(exports.name) / name, quantized).files[0])
    engines = {"torch": (model, lambda samples: fbank(samples, model.spec.features))}
    for path in onnx_paths:
        startup = subprocess.run([sys.executable, "-c", TORCH_FREE_STARTUP, str(path)], capture_output=True,
                                 text=True, check=True).stdout.strip()
        print(f"{path.name} start-up without torch: {startup}")
        runtime = load_onnx_model(path, threads=args.threads, optimization=args.optimization, vad=args.vad)
        engines[path.name] = (runtime, runtime.features_of)

    root = Path(args.an4_root)
    refs = read_transcription(root / "etc" / "an4_test.transcription")
    audio = find_audio(root, root / "etc" / "an4_test.fileids")
    keys = sorted(refs)
    rate = model.spec.features.sample_rate
    configs = {"carried": model.config} if model.config.mode == "beam" else {}
    configs["greedy"] = DecodeConfig()
    for name, config in configs.items():
        decode = make_decoder(model.tokenizer, config)
        for engine, (recognizer, features) in engines.items():
            spent = dict.fromkeys(("read", "features", "network", "search", "timings"), 0.0)
            total = 0.0
            for first in range(0, len(keys), 64):
                clock = time.perf_counter()
                samples = [read_audio(audio[k], rate) for k in keys[first : first + 64]]
                spent["read"] += time.perf_counter() - clock
                total += sum(len(s) for s in samples) / rate
                clock = time.perf_counter()
                feats = [features(s[a:b]) for s in samples for a, b in split_on_silence(s, rate)]
                spent["features"] += time.perf_counter() - clock
                clock = time.perf_counter()
                log_probs = recognizer.log_probs(feats)
                spent["network"] += time.perf_counter() - clock
                clock = time.perf_counter()
                best = [(decode(lp) or [None])[0] for lp in log_probs]
                spent["search"] += time.perf_counter() - clock
                clock = time.perf_counter()
                for lp, hypothesis in zip(log_probs, best):
                    hypothesis_timings(recognizer, lp, hypothesis, "bench")
                spent["timings"] += time.perf_counter() - clock
            print(f"{name:8s} {engine:14s} stages, {len(keys)} files, {total:.1f} s audio: "
                  + ", ".join(f"{stage} {seconds / total:.4f}" for stage, seconds in spent.items()))
        for engine, (recognizer, _) in engines.items():
            recognizer.configure(config)
            for timed in (False, True):  # text output (`asr transcribe`'s default), then word times (JSON, CTM, SRT)
                recognizer.word_timings = timed
                clock = time.perf_counter()
                results = list(recognizer.transcribe_files(audio[k] for k in keys))
                seconds = time.perf_counter() - clock
                wer = score(refs, {k: r.text or "" for k, r in zip(keys, results)}).totals
                print(f"{name:8s} {engine:14s} transcribe_files ({'words timed' if timed else 'text only'}): "
                      f"{seconds:.2f} s, RTF {seconds / total:.4f}, {kaldi_line(wer)}")

    if args.minutes <= 0:
        return
    pause = np.zeros(int(0.3 * rate), dtype=np.float32)
    pieces, words, length = [], [], 0
    while length < args.minutes * 60 * rate:
        for k in keys:
            samples = read_audio(audio[k], rate)
            pieces += [samples, pause]
            words.append(refs[k])
            length += len(samples) + len(pause)
            if length >= args.minutes * 60 * rate:
                break
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.flac"
        soundfile.write(path, np.concatenate(pieces), rate)
        del pieces
        for name, config in configs.items():
            for engine, (recognizer, _) in engines.items():
                recognizer.configure(config)
                clock = time.perf_counter()
                result = recognizer.transcribe(path)
                seconds = time.perf_counter() - clock
                wer = score({"long": " ".join(words)}, {"long": result.text or ""}).totals
                print(f"{name:8s} {engine:14s} {result.duration / 60:.1f}-minute recording: {seconds:.2f} s, "
                      f"RTF {seconds / result.duration:.4f}, {len(result.words)} words timed, {kaldi_line(wer)}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process (all engines): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
