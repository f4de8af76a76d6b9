"""Read transcripts: Kaldi ``text`` (id then words), sclite ``trn`` (words then ``(id)``), plain lines.

Lines come from :func:`asr.data.datadir.read_lines`, the one reader of Kaldi
tables, so a transcript reads the same here as in a data dir (split on
``\\n`` only, UTF-8 faults named by file and line).  The format can be
detected from the first line; ids must be unique.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Sequence

from asr.scoring.scorer import _check_choice

FORMATS = ("auto", "kaldi", "trn", "plain")

_TRN_LINE = re.compile(r"^(?P<text>.*?)\s*\((?P<id>[^()\s]+)\)\s*$")


def detect_format(lines: Sequence[str]) -> str:
    """``trn`` when the first non-blank line ends with ``(utt-id)``, else ``kaldi``.

    Judging by one line keeps errors precise: a trn file with a later line
    lacking its id fails on that line instead of being read as Kaldi text.
    """
    first = next((line for line in lines if line.strip()), "")
    return "trn" if _TRN_LINE.match(first) else "kaldi"


def _parse_kaldi(lines: Sequence[str], path: str | Path) -> Iterator[tuple[int, str, str]]:
    for lineno, line in enumerate(lines, 1):
        fields = line.split(maxsplit=1)
        if fields:
            yield lineno, fields[0], fields[1] if len(fields) > 1 else ""


def _parse_trn(lines: Sequence[str], path: str | Path) -> Iterator[tuple[int, str, str]]:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _TRN_LINE.match(line)
        if match is None:
            raise ValueError(f"{path}:{lineno}: no utterance id: a trn line must end with '(utt-id)', got {line!r}")
        yield lineno, match["id"], match["text"]


def _parse_plain(lines: Sequence[str], path: str | Path) -> Iterator[tuple[int, str, str]]:
    """Line-aligned files: the id is the line number, a blank line an empty transcript."""
    for lineno, line in enumerate(lines, 1):
        yield lineno, str(lineno), line


_PARSERS = {"kaldi": _parse_kaldi, "trn": _parse_trn, "plain": _parse_plain}


def read_transcripts(path: str | Path, format: str = "auto") -> dict[str, str]:
    """Utterance id -> raw text from a Kaldi ``text``, sclite ``trn`` or plain file.

    A line with an id and no words is an empty transcript.  Blank lines are
    skipped except in plain files, where they are empty transcripts.
    """
    from asr.data.datadir import read_lines  # here: asr.data.datadir loads numpy and kaldiio, which scoring needs not

    _check_choice("format", format, FORMATS)
    lines = read_lines(path)
    guessed = format == "auto"
    if guessed:
        format = detect_format(lines)
    table: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for lineno, utt, text in _PARSERS[format](lines, path):
        if utt in first_line:
            # Kaldi ids are unique: a repeated first word is the mark of plain text (one sentence a line).
            hint = "; without ids, one sentence a line? read it as plain (asr score --format plain)" \
                if guessed and format == "kaldi" else ""
            raise ValueError(f"{path}:{lineno}: duplicate utterance id {utt!r} (first on line {first_line[utt]}){hint}")
        first_line[utt] = lineno
        table[utt] = text
    return table


def read_utt2spk(path: str | Path) -> dict[str, str]:
    """Utterance id -> speaker id from a Kaldi ``utt2spk`` file."""
    table = read_transcripts(path, "kaldi")
    for utt, speaker in table.items():
        if len(speaker.split()) != 1:
            raise ValueError(f"{path}: utterance {utt!r} needs exactly one speaker id, got {speaker!r}")
    return {utt: speaker.strip() for utt, speaker in table.items()}
