"""Score hypotheses against references: WER and CER like Kaldi compute-wer, reports like sclite.

Reads Kaldi ``text`` (id then words), sclite ``trn`` (words then ``(id)``) or
line-aligned plain files, matches utterances by id and prints Kaldi's lines.
With ``--out-dir`` it also writes, per metric (``wer``, ``cer``): the Kaldi
lines with a bootstrap interval (``wer``), the sclite table (``wer.sclite``),
alignments (``wer.pra``), confusion pairs (``wer.confusions``), plus
``results.json`` and RESULTS.md rows (``results.md``).

Example: asr score --ref data/test/text --hyp exp/decode_test/text --out-dir exp/decode_test/scoring
"""

# The docstring's first line is this subcommand's help, which argparse %-formats: no percent sign there.

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asr.scoring import ScoreResult, SpeakerOf


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--ref", type=Path, required=True, help="reference transcripts")
    parser.add_argument("--hyp", type=Path, required=True, help="hypothesis transcripts")
    parser.add_argument(
        "--format",
        choices=("auto", "kaldi", "trn", "plain"),
        default="auto",
        help="file format of both files; auto picks trn when a file's first line ends with '(utt-id)', "
        "else kaldi; plain pairs line N with line N (default: %(default)s)",
    )
    parser.add_argument(
        "--mode",
        choices=("strict", "present", "all"),
        default="strict",
        help="unpaired ids: strict refuses them, present skips references without hypothesis, "
        "all scores them as empty hypotheses (default: %(default)s)",
    )
    speakers = parser.add_mutually_exclusive_group()
    speakers.add_argument("--utt2spk", type=Path, metavar="FILE", help="Kaldi utt2spk for per-speaker tables")
    speakers.add_argument(
        "--spk-pattern",
        metavar="REGEX",
        help=r"speaker = first group the regex finds in the id, e.g. '^\w+-(\w+)' gives fcaw for an406-fcaw-b",
    )
    parser.add_argument(
        "--metric", nargs="+", choices=("wer", "cer"), default=["wer", "cer"], help="default: wer cer"
    )
    parser.add_argument("--lowercase", action="store_true", help="case-fold both sides")
    parser.add_argument("--remove-punct", action="store_true", help="drop Unicode punctuation on both sides")
    parser.add_argument("--ignore-words", nargs="+", default=[], metavar="W", help="words to drop, e.g. '<sil>'")
    parser.add_argument("--out-dir", type=Path, metavar="DIR", help="write the detailed reports here")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the JSON summary here too")
    parser.add_argument(
        "--bootstrap", type=int, default=1000, metavar="N", help="bootstrap draws for the 95%% interval, 0: none"
    )
    parser.add_argument("--top", type=int, default=20, metavar="N", help="confusions listed per kind")


def _speaker_of(args: argparse.Namespace) -> SpeakerOf | None:
    """The speaker lookup the options ask for, or None; built before scoring so a bad regex fails fast."""
    from asr import scoring

    if args.utt2spk:
        return scoring.speaker_from_map(scoring.read_utt2spk(args.utt2spk))
    if args.spk_pattern:
        return scoring.speaker_from_pattern(args.spk_pattern)
    return None


def _normalization(args: argparse.Namespace) -> dict:
    return {"lowercase": args.lowercase, "remove_punct": args.remove_punct, "ignore_words": args.ignore_words}


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse report paths that cannot be written before scoring, which can take long on long-form transcripts."""
    if args.out_dir and args.out_dir.exists() and not args.out_dir.is_dir():
        raise ValueError(f"--out-dir {args.out_dir}: exists and is not a directory")
    if args.json and args.json.is_dir():
        raise ValueError(f"--json {args.json}: is a directory, expected a file name")


def run(args: argparse.Namespace) -> int:
    from asr import scoring

    _check_outputs(args)
    refs = scoring.read_transcripts(args.ref, args.format)
    hyps = scoring.read_transcripts(args.hyp, args.format)
    speaker_of = _speaker_of(args)
    align = bool(args.out_dir or args.json)  # the reports show alignments; made with the counts, they cost less
    results = scoring.score_metrics(refs, hyps, args.metric, args.mode, align=align, **_normalization(args))
    lines = scoring.console_lines(results, **_normalization(args))
    if args.out_dir or args.json:
        _write_reports(args, results, speaker_of)
    print("\n".join(lines))
    return 0


def _write_reports(
    args: argparse.Namespace, results: dict[str, ScoreResult], speaker_of: SpeakerOf | None
) -> None:
    """Build every report first (in the library), so that a bad speaker map leaves no half-written directory."""
    from asr import scoring

    files = scoring.report_files(
        results, speaker_of, ref=args.ref, hyp=args.hyp, mode=args.mode, normalization=_normalization(args),
        bootstrap=args.bootstrap, top=args.top,
    )
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (args.out_dir / name).write_text(text, encoding="utf-8")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(files["results.json"], encoding="utf-8")
