"""Score hypotheses against references: WER and CER as Kaldi's compute-wer counts them, reports as sclite's.

Reads Kaldi text (id, then words), sclite trn (words, then '(id)') or
line-aligned plain files (one sentence a line, no ids: --format plain),
matches utterances by id and prints Kaldi's lines.  With --out-dir it also
writes, per metric (wer, cer): the Kaldi lines with a bootstrap interval
(wer), the sclite table (wer.sclite), alignments (wer.pra), confusion pairs
(wer.confusions), plus results.json and RESULTS.md rows (results.md).

Example: asr score --ref data/test/text --hyp exp/decode_test/text --out-dir exp/decode_test/scoring
"""

# The docstring's first line is this subcommand's help, which argparse %-formats: no percent sign there.

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asr.scoring import ScoreResult, SpeakerOf


def add_arguments(parser: argparse.ArgumentParser) -> None:
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


def looks_plain(ref: Path, hyp: Path, refs: dict[str, str], hyps: dict[str, str], format: str) -> str | None:
    """Why REF and HYP seem to be plain text read as Kaldi text (a hint for the user), or None.

    The signal: as many entries on both sides, ids that do not pair, and
    "ids" that look like words: fewer than half of them hold a digit, where
    Kaldi ids number their utterances (an251-fash-b, 1089-134686-0000).
    Kaldi files of one test set pair one to one; two files of as many lines
    whose first words do not pair are line-aligned sentences without ids.
    (A repeated first word, the commoner mark, fails while reading them.)
    """
    from asr import scoring

    unpaired = sorted(set(refs) - set(hyps))
    if format not in ("auto", "kaldi") or len(refs) != len(hyps) or not unpaired:
        return None
    ids = [*refs, *hyps]
    if 2 * sum(any(c.isdigit() for c in utt) for utt in ids) >= len(ids):
        return None
    if format == "auto" and any(scoring.detect_format(path.read_text(encoding="utf-8", errors="replace").splitlines())
                                == "trn" for path in (ref, hyp)):
        return None
    return (f"{ref} and {hyp} look like plain text, one sentence a line (as many lines, and first words such as "
            f"{unpaired[0]!r} taken for ids do not pair): if they have no ids, give --format plain")


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
    plain = looks_plain(args.ref, args.hyp, refs, hyps, args.format)
    if plain and args.mode != "strict":  # (strict mode refuses them, with the hint)
        print(f"asr score: warning: {plain}", file=sys.stderr)
    speaker_of = _speaker_of(args)
    align = bool(args.out_dir or args.json)  # the reports show alignments; made with the counts, they cost less
    try:
        results = scoring.score_metrics(refs, hyps, args.metric, args.mode, align=align, **_normalization(args))
    except ValueError as error:
        if not plain:
            raise
        raise ValueError(f"{error}; {plain}") from None
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
