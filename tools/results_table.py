#!/usr/bin/env python
"""Collect the scores of several decoding dirs into RESULTS.md tables.

    python tools/results_table.py [--scoring NAME] exp/train/decode_*

Reads each DIR/scoring/results.json (written by `asr score --out-dir`; with
``--scoring NAME``, DIR/NAME/results.json, e.g. a case-folded scoring) and
prints one WER and one CER table, `| dataset | Snt | Wrd | Corr | Sub | Del |
Ins | Err | S.Err |`, a row per dir, labelled from the dir name
(decode_word_lm_test -> `test, word_lm`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from asr.scoring import ErrorCounts, markdown_header, markdown_row


def label(decode_dir: Path) -> str:
    system, _, part = decode_dir.name.removeprefix("decode_").rpartition("_")
    return f"{part}, {system}" if system else part


def counts(totals: dict) -> ErrorCounts:
    return ErrorCounts(totals["snt"], totals["ref_tokens"], totals["corr"], totals["sub"], totals["del"],
                       totals["ins"], totals["sent_err"])


def main(args: list[str]) -> int:
    scoring = "scoring"
    if args[:1] == ["--scoring"] and len(args) > 1:
        scoring, args = args[1], args[2:]
    found = [(Path(d), json.loads((Path(d) / scoring / "results.json").read_text())) for d in args
             if (Path(d) / scoring / "results.json").exists()]
    if not found:
        print(f"results_table: no DIR/{scoring}/results.json among the arguments", file=sys.stderr)
        return 1
    found.sort(key=lambda item: label(item[0]))
    for metric, unit in (("wer", "word"), ("cer", "char")):
        print(f"### {metric.upper()}\n\n{markdown_header(unit)}")
        for path, summary in found:
            print(markdown_row(label(path), counts(summary[metric]["totals"])))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
