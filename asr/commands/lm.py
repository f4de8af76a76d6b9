"""Build the language models and lexicons of beam search ('asr lm train', 'asr lm lexicon').

'train' estimates an n-gram LM (modified Kneser-Ney; KenLM's lmplz when it is
on PATH) from text and writes ARPA; --unit char gives the character LM for
lexicon-free decoding.  'lexicon' spells every word of a text with the
model's tokens, reporting words it cannot spell.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, title="actions", metavar="ACTION")
    summaries = {"train": "Estimate an n-gram LM from text and write it as ARPA.",
                 "lexicon": "Write a flashlight lexicon that spells the words of a text with the model's tokens."}
    train, lexicon = (sub.add_parser(name, help=text, description=text) for name, text in summaries.items())
    for p in (train, lexicon):
        p.add_argument("--text", required=True, nargs="+", help="Kaldi text files (id, then words)")
        p.add_argument("--plain", action="store_true", help="the text files have no ids: one sentence a line")
        p.add_argument("--out", required=True, help="output file")
    train.add_argument("--unit", choices=["word", "char"], default="word",
                       help="word LM (decoded with a lexicon) or character LM (decoded without one)")
    train.add_argument("--order", type=int, help="n-gram order, at most 6 (the decoder's KenLM) "
                                                 "(default: 3 for words, 6 for characters)")
    lexicon.add_argument("--model", required=True, help="model file whose tokens spell the words")


def read_sentences(paths: list[str], plain: bool) -> list[str]:
    """Normalized sentences of Kaldi text files (or plain ones), in file order."""
    from asr.data import normalize_text, read_table

    sentences = []
    for path in paths:
        if plain:
            with open(path, encoding="utf-8") as f:
                sentences += [normalize_text(line) for line in f]
        else:
            sentences += [normalize_text(t) for t in read_table(path, allow_empty_value=True).values()]
    return [s for s in sentences if s]


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    sentences = read_sentences(args.text, args.plain)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if args.action == "train":
        from asr.decode import build_lm

        arpa = build_lm(sentences, args.out, args.order, args.unit)
        print(f"{args.out}: {args.unit} {arpa.order}-gram LM, {len(arpa.vocabulary)} units, {len(sentences)} sentences")
    else:
        from asr.decode import write_lexicon
        from asr.inference import ModelFile

        tokens = ModelFile.read(args.model).tokens
        report = write_lexicon(sorted({w for s in sentences for w in s.split()}), tokens, args.out)
        print(f"{args.out}: {report.written} words, {len(report.unspellable)} left out (characters not in the tokens)")
    return 0
