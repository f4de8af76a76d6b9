#!/usr/bin/env python
"""Data-parallel training throughput: 1 process against N processes on CPU, launched by torchrun.

    python tools/bench_ddp.py --train recipes/an4/data/train_sp --dev recipes/an4/data/dev \
        --config recipes/an4/conf/train.yaml --procs 1 2 --threads 1

Each run is `torchrun --standalone --nproc-per-node P -m asr train` for
--epochs epochs on the first --utts training utterances (all by default) and
the first --dev-utts dev utterances, with --threads torch threads per process.
Throughput is input frames trained per wall second of the epochs, taken from
each run's history.json (an epoch's time includes its dev pass, sharded over
the processes too); process start and data loading are not counted.  Prints
one line per process count, the speed-up over the first, and the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from asr.config import from_dict
from asr.data.buckets import bucket_batches
from asr.data.datadir import read_table, spk2utt, validate_data_dir, write_table
from asr.data.split import is_utterance_table
from asr.train.loop import TrainConfig


def subset(src: Path, dst: Path, count: int) -> Path:
    """A copy of data dir ``src`` with its first ``count`` utterances (all when 0); features stay where they are."""
    utts = sorted(validate_data_dir(src, need_feats=True).feats)
    keep = set(utts[:count] if count else utts)
    dst.mkdir(parents=True)
    for path in sorted(src.iterdir()):
        if path.is_file() and is_utterance_table(path.name):
            write_table(dst / path.name, {k: v for k, v in read_table(path, True).items() if k in keep})
        elif path.is_file() and (path.suffix == ".yaml" or path.name == "cmvn.ark"):
            shutil.copyfile(path, dst / path.name)
    write_table(dst / "spk2utt", spk2utt(read_table(dst / "utt2spk")))
    return dst


def run(procs: int, config: Path, train: Path, dev: Path, exp: Path, threads: int) -> dict[str, float]:
    """Train under torchrun with ``procs`` processes; frames, seconds and steps summed over the epochs."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={procs}",
               "-m", "asr", "train", "--config", str(config), "--train", str(train), "--dev", str(dev),
               "--exp", str(exp), "--overwrite"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    history = json.loads((exp / "history.json").read_text())
    seconds = sum(h["seconds"] for h in history)
    frames = sum(h["frames_per_second"] * h["seconds"] for h in history)
    return {"frames": frames, "seconds": seconds, "frames_per_second": frames / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=Path("recipes/an4/data/train_sp"))
    parser.add_argument("--dev", type=Path, default=Path("recipes/an4/data/dev"))
    parser.add_argument("--config", type=Path, default=Path("recipes/an4/conf/train.yaml"),
                        help="training YAML; its epochs and threads are replaced by --epochs and --threads")
    parser.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="process counts to time")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--utts", type=int, default=0, help="training utterances used (0: all)")
    parser.add_argument("--dev-utts", type=int, default=50, help="dev utterances decoded after each epoch")
    parser.add_argument("--keep", type=Path, help="keep the runs' data and exp dirs here (default: a temp dir)")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_ddp."))
    try:
        train = subset(args.train.resolve(), work / "train", args.utts)
        dev = subset(args.dev.resolve(), work / "dev", args.dev_utts)
        config = yaml.safe_load(args.config.read_text()) or {}
        config.update(epochs=args.epochs, threads=args.threads, device="cpu")
        (work / "train.yaml").write_text(yaml.safe_dump(config))
        settings = from_dict(TrainConfig, config, str(args.config))
        lengths = [int(n) for n in read_table(train / "utt2num_frames").values()]
        batches = len(bucket_batches(lengths, settings.max_frames, settings.max_batch, True))
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        print(f"{len(lengths)} training utterances in {batches} batches, {args.epochs} epoch(s), "
              f"{args.threads} thread(s) per process; os.cpu_count() {os.cpu_count()}, {cores} usable cores")
        first = None
        for procs in args.procs:
            figures = run(procs, work / "train.yaml", train, dev, work / f"exp-{procs}", args.threads)
            first = first or figures["frames_per_second"]
            print(f"{procs} process(es) x {args.threads} thread(s): {figures['frames']:.0f} frames in "
                  f"{figures['seconds']:.1f} s, {figures['frames_per_second']:.0f} frames/s, "
                  f"speed-up {figures['frames_per_second'] / first:.2f}x")
    finally:
        if not args.keep:
            shutil.rmtree(work)


if __name__ == "__main__":
    main()
