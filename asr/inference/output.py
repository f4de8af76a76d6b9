"""Transcript writers: plain text, JSON shaped as whisper's, CTM, SRT, WebVTT and TSV.

Pure functions from a :class:`asr.inference.transcriber.Transcript` to text, so the
CLI, the Python API and tests share them.  The timed formats cut the words
into the same segments (:func:`segments`: at most 10 words, a new one after a
pause of more than 1 s): JSON's ``segments``, the SRT and VTT cues and the TSV
rows are one list.  Times are in seconds with 3 decimals, as the transcript
holds them (TSV: integer milliseconds, as whisper writes it).  The JSON
record is documented in docs/transcript-json.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from asr.decode.alignment import WordTiming, ctm_lines
from asr.inference.transcriber import Transcript

FORMATS = ("txt", "json", "ctm", "srt", "vtt", "tsv")
TIMED_FORMATS = ("ctm", "srt", "vtt", "tsv")  # need word times: speech models only
# A file of these holds one input (cues numbered from 1, one header): several inputs need one file each.
ONE_INPUT_FORMATS = ("srt", "vtt", "tsv")


def segments(words: list[WordTiming], max_words: int = 10, max_gap: float = 1.0) -> list[list[WordTiming]]:
    """Words grouped into segments (subtitle cues) of at most ``max_words``, split at pauses over ``max_gap`` s."""
    groups: list[list[WordTiming]] = []
    for word in words:
        if not groups or len(groups[-1]) >= max_words or word.start - groups[-1][-1].end > max_gap:
            groups.append([])
        groups[-1].append(word)
    return groups


def to_txt(name: str, text: str) -> str:
    return f"{name} {text}\n" if text else f"{name}\n"


def to_dict(result: Transcript, utterance_id: str | None = None) -> dict[str, Any]:
    """The JSON record of one transcript: whisper's ``text`` and ``segments``, with ``source`` and ``duration``."""
    record: dict[str, Any] = {"source": result.source}
    if utterance_id is not None:
        record["utterance_id"] = utterance_id
    record["duration"] = round(result.duration, 3)
    record["text"] = result.text or ""
    record["segments"] = [
        {"id": n, "start": round(group[0].start, 3), "end": round(group[-1].end, 3),
         "text": " ".join(w.word for w in group),
         "words": [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3),
                    "probability": round(w.confidence, 3)} for w in group]}
        for n, group in enumerate(segments(result.words))]
    return record


def to_json(result: Transcript, utterance_id: str | None = None) -> str:
    """One line of JSON (several inputs on stdout make JSON Lines)."""
    return json.dumps(to_dict(result, utterance_id), ensure_ascii=False) + "\n"


def to_ctm(name: str, words: list[WordTiming]) -> str:
    """CTM lines keyed by ``name`` (for a file: its name without extension, the sclite convention)."""
    return "".join(f"{line}\n" for line in ctm_lines(name, words))


def _timestamp(seconds: float, decimal: str = ",") -> str:
    """``HH:MM:SS,mmm`` (SRT) or, with ``decimal='.'``, ``HH:MM:SS.mmm`` (WebVTT)."""
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def to_srt(words: list[WordTiming], max_words: int = 10, max_gap: float = 1.0) -> str:
    """SubRip subtitles: one numbered cue per segment."""
    return "\n".join(f"{n}\n{_timestamp(cue[0].start)} --> {_timestamp(cue[-1].end)}\n{' '.join(w.word for w in cue)}\n"
                     for n, cue in enumerate(segments(words, max_words, max_gap), 1))


def to_vtt(words: list[WordTiming], max_words: int = 10, max_gap: float = 1.0) -> str:
    """WebVTT subtitles: the header, then one cue per segment."""
    cues = [f"{_timestamp(cue[0].start, '.')} --> {_timestamp(cue[-1].end, '.')}\n{' '.join(w.word for w in cue)}\n"
            for cue in segments(words, max_words, max_gap)]
    return "\n".join(["WEBVTT\n", *cues])


def to_tsv(words: list[WordTiming], max_words: int = 10, max_gap: float = 1.0) -> str:
    """Whisper's TSV: a ``start end text`` header, then one row per segment, times in integer milliseconds."""
    rows = [f"{round(cue[0].start * 1000)}\t{round(cue[-1].end * 1000)}\t{' '.join(w.word for w in cue)}\n"
            for cue in segments(words, max_words, max_gap)]
    return "".join(["start\tend\ttext\n", *rows])


def table_key(name: str) -> str:
    """``name`` as the first field of a txt or CTM line: each whitespace character becomes ``_``.

    Those lines are tables split at whitespace (``asr score`` reads them so),
    and a file name may hold spaces, tabs or even newlines.
    """
    return re.sub(r"\s", "_", name)


def render(fmt: str, result: Transcript, name: str | None = None) -> str:
    """One transcript in format ``fmt``.

    ``name`` is the input's id (a wav.scp key): txt and CTM lines start with
    it and JSON gives it as ``utterance_id``.  Without it, txt lines start
    with the source and CTM lines with the file's name without extension
    (whitespace in them as ``_``: :func:`table_key`); JSON's ``source`` is
    the name as it is.
    """
    if fmt == "txt":
        return to_txt(table_key(result.source if name is None else name), result.text or "")
    if fmt == "json":
        return to_json(result, name)
    if fmt == "ctm":
        return to_ctm(table_key(Path(result.source).stem if name is None else name), result.words)
    writers = {"srt": to_srt, "vtt": to_vtt, "tsv": to_tsv}
    if fmt in writers:
        return writers[fmt](result.words)
    raise ValueError(f"unknown output format {fmt!r} (known: {', '.join(FORMATS)})")
