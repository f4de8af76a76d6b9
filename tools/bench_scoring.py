#!/usr/bin/env python3
"""Time ``asr.scoring`` against jiwer on 10,000 sentence pairs, alignments included.

The pairs are real AN4 and copiste sentences with seeded random word and
character edits, so lengths and vocabulary look like decoder output.  Both
scorers get the same normalized strings; ours also builds every per-token
alignment, which jiwer's block alignments stop short of.  Scoring is single
threaded (rapidfuzz and pure Python), so the figures are one core's.

Usage: .venv/bin/python tools/bench_scoring.py [--pairs 10000] [--seed 0] [--repeat 3]
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


def best_time(run: Callable[[], object], repeat: int) -> float:
    """Fastest of ``repeat`` runs: the least disturbed by other jobs on the machine."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
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

    def ours(unit: str) -> Callable[[], object]:
        return lambda: [utt.ops for utt in score(ref_ids, hyp_ids, unit).utts]

    print(f"{args.pairs} pairs, best of {args.repeat}, seconds:")
    for label, mine, theirs in (
        ("WER", ours("word"), lambda: jiwer.process_words(ref_list, hyp_list)),
        ("CER", ours("char"), lambda: jiwer.process_characters(ref_list, hyp_list)),
    ):
        print(f"  {label}  asr.scoring {best_time(mine, args.repeat):.3f}  jiwer {best_time(theirs, args.repeat):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
