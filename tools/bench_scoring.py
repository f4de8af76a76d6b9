#!/usr/bin/env python3
"""Time ``asr.scoring`` against jiwer on 10,000 sentence pairs, alignments included.

The pairs are real AN4 and copiste sentences with seeded random word and
character edits, so lengths and vocabulary look like decoder output.  Both
scorers get the same strings; ``asr.scoring`` computes Kaldi's exact counts
(Kaldi's own dynamic program, through kaldialign), jiwer its counts and block
alignments (``AlignmentChunk``, from rapidfuzz).  The middle column adds
Kaldi's per-token ``(op, ref, hyp)`` alignment of every utterance, the form
the ``pra`` and confusion reports read.  Scoring is single threaded, so the
figures are one core's.

Usage: .venv/bin/python tools/bench_scoring.py [--pairs 10000] [--seed 0] [--repeat 5]
"""

from __future__ import annotations

import argparse
import csv
import random
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


def cpu_seconds(run: Callable[[], object], repeat: int) -> float:
    """Fastest of ``repeat`` runs in CPU time, which a concurrent job (training) inflates less than wall time."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not CORPORA.is_dir():
        print(f"bench_scoring: no corpora at {CORPORA}", file=sys.stderr)
        return 1

    import jiwer

    from asr.scoring import score
    from asr.text import normalize_text

    refs, hyps = make_pairs(load_sentences(), args.pairs, args.seed)
    ref_ids = {f"utt{i:05d}": normalize_text(text) for i, text in enumerate(refs)}
    hyp_ids = {f"utt{i:05d}": normalize_text(text) for i, text in enumerate(hyps)}
    ref_list, hyp_list = list(ref_ids.values()), list(hyp_ids.values())
    jiwer_runs = {"word": jiwer.process_words, "char": jiwer.process_characters}

    print(f"{args.pairs} sentence pairs, CPU seconds on one core, best of {args.repeat}")
    print("metric  asr.scoring  +per-token ops  jiwer")
    for unit, metric in (("word", "WER"), ("char", "CER")):
        counts = cpu_seconds(lambda: score(ref_ids, hyp_ids, unit).totals, args.repeat)
        per_token = cpu_seconds(lambda: [utt.ops for utt in score(ref_ids, hyp_ids, unit).utts], args.repeat)
        theirs = cpu_seconds(lambda: jiwer_runs[unit](ref_list, hyp_list), args.repeat)
        print(f"{metric:6}  {counts:11.3f}  {per_token:14.3f}  {theirs:5.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
