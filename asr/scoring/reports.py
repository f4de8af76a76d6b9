"""Reports in the forms people already grep for, from scored utterances.

Kaldi ``compute-wer``'s lines byte for byte (``%WER 5.95 [ 46 / 773, 3 ins,
3 del, 40 sub ]``), sclite's per-speaker table (ESPnet's ``result.txt``),
RESULTS.md rows, sclite ``pra`` alignments, confusion pairs in the manner of
sclite's ``dtl``, and the JSON summary; :func:`report_files` gathers them as
``asr score --out-dir`` writes them.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

from asr.scoring.bootstrap import BootstrapInterval, bootstrap_interval, bootstrap_line
from asr.scoring.counts import ErrorCounts, _percent
from asr.scoring.edits import Op
from asr.scoring.scorer import ScoreResult
from asr.scoring.speakers import SpeakerOf, speaker_counts

_SPACE_SHOWN_AS = "<space>"  # a bare space would be invisible in char alignments


# ---------------------------------------------------------------------------
# Kaldi lines


def _kaldi_percent(num: int, den: int) -> str:
    """Two decimals of a rate first narrowed to float32, as Kaldi's ``BaseFloat`` does.

    The narrowing can move a value across a rounding boundary, so skipping it
    would now and then change the last printed digit.
    """
    (value,) = struct.unpack("f", struct.pack("f", _percent(num, den)))
    return f"{value:.2f}"


def kaldi_line(counts: ErrorCounts, metric: str = "WER", partial: bool = False) -> str:
    """``%WER 5.95 [ 46 / 773, 3 ins, 3 del, 40 sub ]``, Kaldi compute-wer's line, byte for byte."""
    line = (
        f"%{metric} {_kaldi_percent(counts.err, counts.ref_tokens)} "
        f"[ {counts.err} / {counts.ref_tokens}, {counts.ins} ins, {counts.dele} del, {counts.sub} sub ]"
    )
    return line + (" [PARTIAL]" if partial else "")


def ser_line(counts: ErrorCounts) -> str:
    """``%SER 12.31 [ 16 / 130 ]``."""
    return f"%SER {_kaldi_percent(counts.sent_err, counts.snt)} [ {counts.sent_err} / {counts.snt} ]"


def scored_line(result: ScoreResult) -> str:
    """Kaldi's closing line, plus the hypotheses it would ignore silently."""
    line = f"Scored {result.totals.snt} sentences, {len(result.missing_hyp)} not present in hyp."
    if result.missing_ref:
        line += f" Ignored {len(result.missing_ref)} hypotheses without reference."
    return line


def kaldi_lines(result: ScoreResult) -> list[str]:
    """What Kaldi's compute-wer prints for one metric: rate, sentence error rate, tally."""
    return [
        kaldi_line(result.totals, result.metric, result.partial),
        ser_line(result.totals),
        scored_line(result),
    ]


def normalization_line(
    lowercase: bool = False, remove_punct: bool = False, ignore_words: Sequence[str] = ()
) -> str | None:
    """Says which normalization produced the numbers, since it changes them; ``None`` for none."""
    options = [name for name, on in (("lowercase", lowercase), ("remove-punct", remove_punct)) if on]
    if ignore_words:
        options.append("ignore-words " + " ".join(ignore_words))
    return "Normalization: " + ", ".join(options) if options else None


def console_lines(
    results: Mapping[str, ScoreResult],
    lowercase: bool = False,
    remove_punct: bool = False,
    ignore_words: Sequence[str] = (),
) -> list[str]:
    """What ``asr score`` prints for metrics scored with this normalization.

    One rate line per metric; sentence errors and the tally do not depend on the unit.
    """
    lines = [kaldi_lines(result)[0] for result in results.values()] + kaldi_lines(next(iter(results.values())))[1:]
    normalization = normalization_line(lowercase, remove_punct, ignore_words)
    if normalization:
        lines.append(normalization)
    return lines


# ---------------------------------------------------------------------------
# sclite tables and RESULTS.md rows

_TOKEN_LABEL = {"word": "Wrd", "char": "Chr"}
_PERCENT_HEADERS = ("Corr", "Sub", "Del", "Ins", "Err", "S.Err")


def _percent_cells(counts: ErrorCounts) -> list[str]:
    """sclite's six percentages with one decimal; all but S.Err are per reference token."""
    per_token = (counts.corr, counts.sub, counts.dele, counts.ins, counts.err)
    values = [_percent(n, counts.ref_tokens) for n in per_token] + [_percent(counts.sent_err, counts.snt)]
    return [f"{value:.1f}" for value in values]


def sclite_table(result: ScoreResult, speaker_of: SpeakerOf | None = None, title: str = "") -> str:
    """sclite's ``SYSTEM SUMMARY PERCENTAGES by SPEAKER`` box (ESPnet's ``result.txt``).

    One row per speaker when ``speaker_of`` is given, then the ``Sum/Avg`` row
    that ESPnet's scripts grep for.
    """
    rows = list(speaker_counts(result, speaker_of).items()) if speaker_of else []
    rows.append(("Sum/Avg", result.totals))
    cells = [(name, str(c.snt), str(c.ref_tokens), _percent_cells(c)) for name, c in rows]
    header = ("SPKR", "# Snt", f"# {_TOKEN_LABEL[result.unit]}", list(_PERCENT_HEADERS))
    widths = [max(len(row[i]) for row in [*cells, header]) for i in range(3)]
    percent_width = max(len(text) for row in [*cells, header] for text in row[3])

    def line(name: str, snt: str, tokens: str, percents: list[str]) -> str:
        numbers = " ".join(text.rjust(percent_width) for text in percents)
        return f"| {name:<{widths[0]}} | {snt:>{widths[1]}} {tokens:>{widths[2]}} | {numbers} |"

    header_line = line(*header)
    rule = "|" + "".join("+" if c == "|" else "-" for c in header_line[1:-1]) + "|"
    inner = len(header_line) - 2
    out = [
        "SYSTEM SUMMARY PERCENTAGES by SPEAKER",
        "",
        "," + "-" * inner + ".",
        "|" + title.center(inner) + "|",
        "|" + "-" * inner + "|",
        header_line,
        rule,
    ]
    for row in cells[:-1]:
        out += [line(*row), rule]
    out += ["|" + "=" * inner + "|", line(*cells[-1]), "`" + "-" * inner + "'"]
    return "\n".join(out) + "\n"


def markdown_header(unit: str = "word") -> str:
    """Header and alignment rows of the RESULTS.md table that :func:`markdown_row` fills."""
    columns = ["dataset", "Snt", _TOKEN_LABEL[unit], *_PERCENT_HEADERS]
    return _markdown_cells(columns) + "\n" + "|" + "|".join(["---"] + ["---:"] * (len(columns) - 1)) + "|"


def markdown_row(dataset: str, counts: ErrorCounts) -> str:
    """``| test | 130 | 773 | 93.4 | 5.2 | 1.4 | 0.6 | 7.1 | 36.2 |``."""
    return _markdown_cells([dataset, str(counts.snt), str(counts.ref_tokens), *_percent_cells(counts)])


def _markdown_cells(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


# ---------------------------------------------------------------------------
# Alignments and confusions


def _shown(token: str | None) -> str:
    """A token as printed: a space as ``<space>``, a missing token as nothing."""
    if token is None:
        return ""
    return _SPACE_SHOWN_AS if token == " " else token


def _column(op: str, ref: str | None, hyp: str | None) -> tuple[str, str, str]:
    """One aligned position padded to a common width; a missing side is ``***`` (or longer)."""
    width = max(len(_shown(ref)), len(_shown(hyp)), 3 if op in ("D", "I") else 0)
    ref_text, hyp_text = ("*" * width if token is None else _shown(token) for token in (ref, hyp))
    return ref_text.ljust(width), hyp_text.ljust(width), ("" if op == "C" else op).ljust(width)


def alignment_rows(ops: Sequence[Op]) -> tuple[str, str, str]:
    """sclite ``pra`` rows (REF, HYP, Eval), one padded column per aligned position."""
    if not ops:
        return "", "", ""
    ref_row, hyp_row, eval_row = (" ".join(row).rstrip() for row in zip(*(_column(*op) for op in ops)))
    return ref_row, hyp_row, eval_row


def pra_text(result: ScoreResult) -> str:
    """Every utterance's alignment in sclite's ``pra`` layout."""
    blocks = []
    for utt, ops in zip(result.utts, result.alignments):
        c = utt.counts
        ref_row, hyp_row, eval_row = alignment_rows(ops)
        lines = [
            f"id: ({utt.utt_id})",
            f"Scores: (#C #S #D #I) {c.corr} {c.sub} {c.dele} {c.ins}",
            f"REF:  {ref_row}",
            f"HYP:  {hyp_row}",
            f"Eval: {eval_row}",
        ]
        blocks.append("".join(line.rstrip() + "\n" for line in lines))
    return "\n".join(blocks)


@dataclass(frozen=True)
class Confusions:
    """Substitution pairs, insertions and deletions with counts, most frequent first."""

    substitutions: list[tuple[tuple[str, str], int]]
    insertions: list[tuple[str, int]]
    deletions: list[tuple[str, int]]


def _ranked(counter: Counter) -> list:
    """Most frequent first, ties by token so that reports are reproducible."""
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def confusions(result: ScoreResult) -> Confusions:
    """What the errors are: which token replaced which, which were inserted or dropped."""
    tallies: dict[str, Counter] = {"S": Counter(), "I": Counter(), "D": Counter()}
    for ops in result.alignments:
        for op, ref, hyp in ops:
            if op == "S":
                tallies["S"][ref, hyp] += 1
            elif op == "I":
                tallies["I"][hyp] += 1
            elif op == "D":
                tallies["D"][ref] += 1
    return Confusions(_ranked(tallies["S"]), _ranked(tallies["I"]), _ranked(tallies["D"]))


def confusion_report(found: Confusions, top: int = 20) -> str:
    """The ``top`` entries of each kind, laid out like sclite's ``dtl`` sections."""
    sections = [
        ("CONFUSION PAIRS", [(f"{_shown(r)} ==> {_shown(h)}", n) for (r, h), n in found.substitutions]),
        ("INSERTIONS", [(_shown(token), n) for token, n in found.insertions]),
        ("DELETIONS", [(_shown(token), n) for token, n in found.deletions]),
    ]
    out = []
    for title, entries in sections:
        out.append(f"{title:<32} Total {sum(n for _, n in entries)}, distinct {len(entries)}, top {top}")
        out += [f"{rank:4d}: {n:5d}  ->  {text}" for rank, (text, n) in enumerate(entries[:top], 1)]
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------
# JSON


def summary(
    result: ScoreResult,
    speaker_of: SpeakerOf | None = None,
    interval: BootstrapInterval | None = None,
    top: int = 20,
) -> dict:
    """Machine-readable report of one metric: totals, speakers, ids, confusions, utterances."""
    found = confusions(result)
    return {
        "metric": result.metric,
        "unit": result.unit,
        "totals": result.totals.as_dict(),
        "partial": result.partial,
        "missing_hyp": list(result.missing_hyp),
        "missing_ref": list(result.missing_ref),
        "bootstrap": None if interval is None else asdict(interval),
        "speakers": {spk: c.as_dict() for spk, c in speaker_counts(result, speaker_of).items()} if speaker_of else {},
        "confusions": {
            "substitutions": [{"ref": r, "hyp": h, "count": n} for (r, h), n in found.substitutions[:top]],
            "insertions": [{"hyp": token, "count": n} for token, n in found.insertions[:top]],
            "deletions": [{"ref": token, "count": n} for token, n in found.deletions[:top]],
        },
        "utterances": [{"id": utt.utt_id, **utt.counts.as_dict()} for utt in result.utts],
    }


# ---------------------------------------------------------------------------
# Report files


def dataset_name(ref: str | Path) -> str:
    """``data/test/text`` -> ``test``; any other file -> its stem."""
    ref = Path(ref)
    return ref.parent.name if ref.name == "text" and ref.parent.name else ref.stem


def report_files(
    results: Mapping[str, ScoreResult],
    speaker_of: SpeakerOf | None = None,
    *,
    ref: str | Path,
    hyp: str | Path,
    mode: str,
    normalization: Mapping[str, object],
    bootstrap: int = 1000,
    top: int = 20,
) -> dict[str, str]:
    """Every report of ``asr score --out-dir``, file name -> text, for results keyed by metric (``wer``).

    Per metric: Kaldi's lines with a bootstrap interval of ``bootstrap`` draws
    (``wer``), the sclite table (``wer.sclite``), alignments (``wer.pra``),
    confusions (``wer.confusions``); then ``results.md`` and ``results.json``,
    which also records ``ref``, ``hyp``, ``mode`` and ``normalization``.  All
    are built before any is written, so a bad speaker map leaves no
    half-written directory.
    """
    files: dict[str, str] = {}
    summary_json = {"ref": str(ref), "hyp": str(hyp), "mode": mode, "normalization": normalization}
    markdown = []
    for metric, result in results.items():
        interval = bootstrap_interval(result, bootstrap)
        bootstrap_lines = [bootstrap_line(interval, result.metric)] if interval else []
        files[metric] = "\n".join(kaldi_lines(result) + bootstrap_lines) + "\n"
        files[f"{metric}.sclite"] = sclite_table(result, speaker_of, title=str(hyp))
        files[f"{metric}.pra"] = pra_text(result)
        files[f"{metric}.confusions"] = confusion_report(confusions(result), top)
        summary_json[metric] = summary(result, speaker_of, interval, top)
        markdown += [
            f"### {result.metric}",
            "",
            markdown_header(result.unit),
            markdown_row(dataset_name(ref), result.totals),
            "",
        ]
    files["results.md"] = "\n".join(markdown)
    files["results.json"] = json.dumps(summary_json, ensure_ascii=False, indent=1) + "\n"
    return files
