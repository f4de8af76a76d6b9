#!/usr/bin/env python
"""Training throughput of the AN4 model against this machine's GEMM peak, in one run.

    python tools/bench_train.py [--config recipes/an4/conf/train.yaml] [--threads 2] [--amp bf16|none]

Real AN4 training utterances (fbank, global CMVN) are grouped into the
recipe's length-bucketed padded batches.  For each batch it times the
forward+backward of (a) the conv front end, (b) the BiLSTM layers and (c)
the whole model with its CTC loss, and counts their floating-point work:
an LSTM direction does 2 * 4H * (I + H) multiply-adds per frame forward and
about twice that backward, a 3x3 conv 2 * 9 * Cin * Cout per output pixel.
"Useful" counts each utterance's own frames, "padded" every frame the
batch computes; their ratio is the padding waste.  The peak is the best
GFLOP/s of a large float32 matmul (and bfloat16 where it runs natively) on
the same thread count, so the ratio is measured on one machine in one run.
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from pathlib import Path

import torch

from asr.config import load_config
from asr.data.audio import read_audio
from asr.data.buckets import bucket_batches
from asr.data.corpora.an4 import find_audio, read_transcription
from asr.data.features import cmvn_from_stats, fbank
from asr.data.kaldi_fbank import FbankConfig, accumulate_cmvn
from asr.model import AcousticModel
from asr.precision import amp_dtype, autocast, cpu_bf16_support
from asr.train.loop import TrainConfig

REPO = Path(__file__).resolve().parents[1]
AN4 = REPO.parent / "shared" / "corpora" / "an4"


def gemm_peak(threads: int, dtype: torch.dtype, size: int = 2048, repeat: int = 10) -> float:
    """Best GFLOP/s of a ``size`` x ``size`` matmul: what this CPU's BLAS reaches on ``threads`` threads."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up: thread pool, packing buffers
    best = math.inf
    for _ in range(repeat):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def lstm_flops(model: AcousticModel, frames: int) -> float:
    """Forward+backward FLOPs of the BiLSTM layers over ``frames`` output frames (backward = 2x forward)."""
    total = 0.0
    for layer in model.layers:
        for rnn in (layer.forward_rnn, layer.backward_rnn):
            gates = 4 * rnn.hidden_size if isinstance(rnn, torch.nn.LSTM) else 3 * rnn.hidden_size
            total += 2 * gates * (rnn.input_size + (rnn.proj_size or rnn.hidden_size)) * frames
    return 3 * total


def frontend_flops(model: AcousticModel, frames: int) -> float:
    """Forward+backward FLOPs of the conv blocks over ``frames`` input frames (3x3 kernels, 'same' padding)."""
    if model.frontend is None:
        return 0.0
    total, height, width, previous = 0.0, model.config.input_dim, float(frames), 1
    for block, (pool_h, pool_w) in zip(model.frontend.blocks, model.config.conv_pool):
        conv = block[0]
        total += 2 * 9 * previous * conv.out_channels * height * width
        previous, height, width = conv.out_channels, height // pool_h, width / pool_w
    return 3 * total


def load_batches(config: TrainConfig, root: Path, utts: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``utts`` AN4 training utterances as normalized, padded, length-bucketed batches."""
    refs = read_transcription(root / "etc" / "an4_train.transcription")
    audio = find_audio(root, root / "etc" / "an4_train.fileids")
    fbank_config = FbankConfig()
    feats = [fbank(read_audio(audio[key]), fbank_config) for key in sorted(refs)[:utts]]
    stats = None
    for f in feats:
        stats = accumulate_cmvn(stats, f.numpy())
    mean, inv_std = cmvn_from_stats(stats)
    feats = [(f - mean) * inv_std for f in feats]
    batches = []
    for indices in bucket_batches([len(f) for f in feats], config.max_frames, config.max_batch, shuffle=True):
        chosen = [feats[i] for i in indices]
        batches.append((torch.nn.utils.rnn.pad_sequence(chosen, batch_first=True),
                        torch.tensor([len(f) for f in chosen])))
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "recipes" / "an4" / "conf" / "train.yaml"))
    parser.add_argument("--an4-root", default=str(AN4))
    parser.add_argument("--utts", type=int, default=240, help="AN4 training utterances to batch")
    parser.add_argument("--threads", type=int, help="default: the config's threads, or 2")
    parser.add_argument("--amp", help="override the config's amp (none, bf16)")
    args = parser.parse_args()
    config = load_config(TrainConfig, args.config)
    threads = args.threads or config.threads or 2
    amp_setting = args.amp or config.amp
    native, why = cpu_bf16_support()
    print(f"CPU: {platform.processor() or platform.machine()}, torch {torch.__version__} "
          f"(ATen {torch.backends.cpu.get_cpu_capability()}), {threads} threads; "
          f"native bfloat16: {native} ({why})")

    peaks = {"float32": gemm_peak(threads, torch.float32)}
    if native:
        peaks["bfloat16"] = gemm_peak(threads, torch.bfloat16)
    print("GEMM peak (2048^3 matmul): " + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in peaks.items()))

    torch.manual_seed(0)
    config.model.input_dim, config.model.num_tokens = 80, 28
    model = AcousticModel(config.model).train()
    dtype = amp_dtype(amp_setting, torch.device("cpu"))
    peak = peaks["bfloat16" if dtype == torch.bfloat16 else "float32"]
    batches = load_batches(config, Path(args.an4_root), args.utts)
    device = torch.device("cpu")
    seconds = {"front end": 0.0, "LSTM layers": 0.0, "whole model + CTC": 0.0}
    useful = {"front end": 0.0, "LSTM layers": 0.0}
    padded = {"front end": 0.0, "LSTM layers": 0.0}
    input_frames = padded_frames = 0
    # The first batch warms up oneDNN's primitive caches and is not counted.
    for n, (feats, lengths) in enumerate([batches[0]] + batches):
        with autocast(device, dtype):
            started = time.perf_counter()
            x, out_lengths = model.frontend(feats, lengths) if model.frontend else (feats, lengths)
            x.float().sum().backward() if model.frontend else None
            front = time.perf_counter() - started
            x = x.detach().requires_grad_()
            started = time.perf_counter()
            y = x
            for layer in model.layers:
                y = layer(y, out_lengths)
            y.float().sum().backward()
            lstm = time.perf_counter() - started
            started = time.perf_counter()
            log_probs, out_lengths = model(feats, lengths)
            targets = torch.randint(1, 28, (len(lengths), 8))
            loss = torch.nn.functional.ctc_loss(log_probs.float().transpose(0, 1), targets, out_lengths,
                                                torch.full((len(lengths),), 8), zero_infinity=True)
            loss.backward()
            whole = time.perf_counter() - started
        model.zero_grad(set_to_none=True)
        if n == 0:
            continue
        seconds["front end"] += front
        seconds["LSTM layers"] += lstm
        seconds["whole model + CTC"] += whole
        out_padded = x.shape[0] * x.shape[1]
        input_frames += int(lengths.sum())
        padded_frames += feats.shape[0] * feats.shape[1]
        useful["front end"] += frontend_flops(model, int(lengths.sum()))
        padded["front end"] += frontend_flops(model, feats.shape[0] * feats.shape[1])
        useful["LSTM layers"] += lstm_flops(model, int(out_lengths.sum()))
        padded["LSTM layers"] += lstm_flops(model, out_padded)

    sizes = [len(lengths) for _, lengths in batches]
    print(f"{len(batches)} batches of {min(sizes)}-{max(sizes)} utterances (max_frames {config.max_frames}, "
          f"max_batch {config.max_batch}), padding {100 * (1 - input_frames / padded_frames):.1f}% of input frames; "
          f"compute dtype {dtype or torch.float32}")
    print(f"| part | seconds | GFLOP/s useful | GFLOP/s padded | % of {peak:.0f} GFLOP/s peak (padded) |")
    print("|---|---:|---:|---:|---:|")
    for part, spent in seconds.items():
        if part in useful:
            print(f"| {part} | {spent:.2f} | {useful[part] / spent / 1e9:.1f} | {padded[part] / spent / 1e9:.1f} | "
                  f"{100 * padded[part] / spent / 1e9 / peak:.0f}% |")
        else:
            total = sum(padded.values())
            print(f"| {part} | {spent:.2f} | | {total / spent / 1e9:.1f} | {100 * total / spent / 1e9 / peak:.0f}% |")
    print(f"input frames/s (whole model, fwd+bwd): {input_frames / seconds['whole model + CTC']:.0f}")


if __name__ == "__main__":
    main()
