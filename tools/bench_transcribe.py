#!/usr/bin/env python
"""Speed and memory of transcription on one core, stage by stage.

    python tools/bench_transcribe.py [--model FILE] [--threads 1] [--minutes 10]

0. Start-up: importing the library, and loading the model file (with the
   lexicon and LM it carries).
1. The AN4 test files, 64 at a time as `asr transcribe` batches them: the
   real-time factor (processing seconds / audio seconds) of each stage
   (read: decoding and resampling the file; features: fbank; network: the
   acoustic model; search: greedy or beam; timings: word times by forced
   alignment, which only JSON/CTM/SRT output needs), then of the whole
   `Recognizer.transcribe_files` call, with WER.
2. One long recording made of the test utterances end to end with short
   pauses (``--minutes`` long): RTF, WER of the stitched transcript against
   the concatenated references, and the process's peak resident memory.
Greedy decoding, and the carried lexicon + LM when the model file has them.
The precision (float32, or bfloat16 where the CPU has it natively) is the
library's own choice, logged at the start.
"""

from __future__ import annotations

import argparse
import logging
import resource
import tempfile
import time
from pathlib import Path

AN4 = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "an4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model file (default: the pretrained AN4 model)")
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
    from asr.inference.recognizer import hypothesis_timings
    from asr.inference.recognizer import DEFAULT_MODEL, load_model, split_on_silence
    from asr.scoring import kaldi_line, score

    imported = time.perf_counter() - started
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = load_model(args.model or DEFAULT_MODEL)
    loaded = time.perf_counter() - started
    print(f"start-up: imports {imported:.2f} s, model file {loaded:.2f} s ({args.threads} thread(s))")

    root = Path(args.an4_root)
    refs = read_transcription(root / "etc" / "an4_test.transcription")
    audio = find_audio(root, root / "etc" / "an4_test.fileids")
    keys = sorted(refs)
    rate = model.spec.features.sample_rate
    configs = {"carried": model.config} if model.config.mode == "beam" else {}
    configs["greedy"] = DecodeConfig()
    for name, config in configs.items():
        decode = make_decoder(model.tokenizer, config)
        spent = dict.fromkeys(("read", "features", "network", "search", "timings"), 0.0)
        total = 0.0
        for first in range(0, len(keys), 64):
            clock = time.perf_counter()
            samples = [read_audio(audio[k], rate) for k in keys[first : first + 64]]
            spent["read"] += time.perf_counter() - clock
            total += sum(len(s) for s in samples) / rate
            clock = time.perf_counter()
            feats = [fbank(s[a:b], model.spec.features) for s in samples for a, b in split_on_silence(s, rate)]
            spent["features"] += time.perf_counter() - clock
            clock = time.perf_counter()
            log_probs = model.log_probs(feats)
            spent["network"] += time.perf_counter() - clock
            clock = time.perf_counter()
            best = [(decode(lp) or [None])[0] for lp in log_probs]
            spent["search"] += time.perf_counter() - clock
            clock = time.perf_counter()
            for lp, hypothesis in zip(log_probs, best):
                hypothesis_timings(model, lp, hypothesis, "bench")
            spent["timings"] += time.perf_counter() - clock
        print(f"{name:8s} stages, {len(keys)} files, {total:.1f} s audio: "
              + ", ".join(f"{stage} {seconds / total:.4f}" for stage, seconds in spent.items()))
        model.configure(config)
        for timed in (False, True):  # text output (`asr transcribe`'s default), then with word times (JSON, CTM, SRT)
            model.word_timings = timed
            clock = time.perf_counter()
            results = list(model.transcribe_files(audio[k] for k in keys))
            seconds = time.perf_counter() - clock
            wer = score(refs, {k: r.text or "" for k, r in zip(keys, results)}).totals
            print(f"{name:8s} transcribe_files ({'words timed' if timed else 'text only'}): {seconds:.2f} s, "
                  f"RTF {seconds / total:.4f}, {kaldi_line(wer)}")

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
            model.configure(config)
            clock = time.perf_counter()
            result = model.transcribe(path)
            seconds = time.perf_counter() - clock
            wer = score({"long": " ".join(words)}, {"long": result.text or ""}).totals
            print(f"{name:8s} {result.duration / 60:.1f}-minute recording: {seconds:.2f} s, "
                  f"RTF {seconds / result.duration:.4f}, {len(result.words)} words timed, {kaldi_line(wer)}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of the process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
