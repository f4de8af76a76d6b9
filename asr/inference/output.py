"""Transcript writers: plain text, JSON, CTM and SRT.

Pure functions from a :class:`asr.inference.recognizer.Transcript` to text, so the
CLI, the Python API and tests share them.
"""

from __future__ import annotations

import json
from pathlib import Path

from asr.decode.alignment import WordTiming, ctm_lines
from asr.inference.recognizer import Transcript

FORMATS = ("txt", "json", "ctm", "srt")


def to_txt(source: str, text: str) -> str:
    return f"{source} {text}\n" if text else f"{source}\n"


def to_json(source: str, text: str, words: list[WordTiming], duration: float) -> str:
    record = {
        "source": source,
        "duration": round(duration, 3),
        "text": text,
        "words": [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3),
                   "confidence": round(w.confidence, 3)} for w in words],
    }
    return json.dumps(record, ensure_ascii=False) + "\n"


def to_ctm(source: str, words: list[WordTiming]) -> str:
    """CTM lines keyed by the file's name without extension (the sclite convention)."""
    return "".join(f"{line}\n" for line in ctm_lines(Path(source).stem, words))


def _srt_time(seconds: float) -> str:
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def to_srt(words: list[WordTiming], max_words: int = 10, max_gap: float = 1.0) -> str:
    """Subtitles: words grouped into cues of at most ``max_words``, split at pauses over ``max_gap`` s."""
    cues: list[list[WordTiming]] = []
    for word in words:
        if not cues or len(cues[-1]) >= max_words or word.start - cues[-1][-1].end > max_gap:
            cues.append([])
        cues[-1].append(word)
    blocks = [f"{n}\n{_srt_time(cue[0].start)} --> {_srt_time(cue[-1].end)}\n{' '.join(w.word for w in cue)}\n"
              for n, cue in enumerate(cues, 1)]
    return "\n".join(blocks)


def render(fmt: str, result: Transcript) -> str:
    """One transcript in format ``fmt``."""
    text = result.text or ""
    if fmt == "txt":
        return to_txt(result.source, text)
    if fmt == "json":
        return to_json(result.source, text, result.words, result.duration)
    if fmt == "ctm":
        return to_ctm(result.source, result.words)
    if fmt == "srt":
        return to_srt(result.words)
    raise ValueError(f"unknown output format {fmt!r} (known: {', '.join(FORMATS)})")
