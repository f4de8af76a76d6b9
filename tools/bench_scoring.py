#!/usr/bin/env python3
"""Time ``asr.scoring`` against jiwer on 10,000 sentence pairs, alignments included.

The pairs are real AN4 and copiste sentences with seeded random word and
character edits, so lengths and vocabulary look like decoder output.  Both
scorers get the same strings; ``asr.scoring`` computes Kaldi's exact counts
(Kaldi's own dynamic programs, through kaldialign, skipped where the result
is forced), jiwer its counts and block alignments (``AlignmentChunk``, from
rapidfuzz) in one call.  The ``+alignments`` column adds Kaldi's per-token
``(op, ref, hyp)`` alignment of every utterance (``score(..., align=True)``),
the form the ``pra`` and confusion reports read: that is the figure to hold
against jiwer's.

Scoring is single threaded, so the figures are one core's, in CPU seconds,
best of the repeats.  The scorers take turns within each repeat, and each
``ratio`` is the median over repeats of our time over jiwer's in the same
repeat, which a concurrent job (training) disturbs less than the times.

Usage: .venv/bin/python tools/bench_scoring.py [--pairs 10000] [--seed 0] [--repeat 11]
"""

from __future__ import annotations

import argparse
import csv
import gc
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"


def load_sentences(corpora: Path = CORPORA) -> list[str]:
    """AN4 test prompts (trn lines) and copiste French text lines."""
    an4 = (corpora / "an4" / "etc" / "an4_test.transcription").read_text(encoding="utf-8")
    sentences = [line.rsplit("(", 1)[0].strip() for line in an4.splitlines() if line.strip()]
    with open(corpora / "copiste-lines" / "lines.tsv", encoding="utf-8", newline="") as table:
        sentences += [row["text"] for row in csv.DictReader(table, delimiter="\t")]
    return sentences


def _typo(word: str, rng: random.Random) -> str:
    """A one-character slip, the kind a character model makes."""
    at = rng.randrange(len(word))
    return word[:at] + rng.choice("aeiourstnlé") + word[at + 1 :]


def corrupt(sentence: str, vocab: list[str], rng: random.Random, rate: float = 0.15) -> str:
    """A hypothesis: each word is kept, dropped, replaced, misspelt or followed by an extra word."""
    words = []
    for word in sentence.split():
        roll = rng.random()
        if roll < rate / 4:
            continue
        if roll < rate / 2:
            word = rng.choice(vocab)
        elif roll < 3 * rate / 4:
            word = _typo(word, rng)
        words.append(word)
        if roll > 1 - rate / 4:
            words.append(rng.choice(vocab))
    return " ".join(words)


def make_pairs(sentences: list[str], count: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``count`` (reference, hypothesis) pairs drawn from ``sentences`` with seeded edits."""
    rng = random.Random(seed)
    vocab = sorted({word for sentence in sentences for word in sentence.split()})
    refs = [rng.choice(sentences) for _ in range(count)]
    return refs, [corrupt(ref, vocab, rng) for ref in refs]


def cpu_seconds(runs: list[Callable[[], object]], repeat: int) -> list[list[float]]:
    """CPU times of each run in each of ``repeat`` rounds, the runs taking turns.

    CPU time, because a concurrent job (training) inflates it less than wall
    time.  Each run starts after a full garbage collection, so that none pays
    for the objects another one left.
    """
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for run, spent in zip(runs, times):
            gc.collect()
            start = time.process_time()
            run()
            spent.append(time.process_time() - start)
    return times


def median_ratio(ours: list[float], theirs: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(ours, theirs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()
    if not CORPORA.is_dir():
        print(f"bench_scoring: no corpora at {CORPORA}", file=sys.stderr)
        return 1

    for threads in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(threads, "1")  # before numpy may load: one core's figures
    import jiwer

    from asr.data.text import normalize_text
    from asr.scoring import score

    refs, hyps = make_pairs(load_sentences(), args.pairs, args.seed)
    ref_ids = {f"utt{i:05d}": normalize_text(text) for i, text in enumerate(refs)}
    hyp_ids = {f"utt{i:05d}": normalize_text(text) for i, text in enumerate(hyps)}
    ref_list, hyp_list = list(ref_ids.values()), list(hyp_ids.values())
    jiwer_runs = {"word": jiwer.process_words, "char": jiwer.process_characters}

    print(f"{args.pairs} sentence pairs, CPU seconds on one core, best of {args.repeat}; ratio: to jiwer")
    print("metric  asr.scoring  ratio  +alignments  ratio  jiwer")
    for unit, metric in (("word", "WER"), ("char", "CER")):
        counts, aligned, theirs = cpu_seconds(
            [
                lambda: score(ref_ids, hyp_ids, unit).totals,
                lambda: score(ref_ids, hyp_ids, unit, align=True).alignments,
                lambda: jiwer_runs[unit](ref_list, hyp_list),
            ],
            args.repeat,
        )
        print(
            f"{metric:6}  {min(counts):11.3f}  {median_ratio(counts, theirs):5.2f}  "
            f"{min(aligned):11.3f}  {median_ratio(aligned, theirs):5.2f}  {min(theirs):5.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
