"""CMU AN4 (census) speech: train / dev / test data dirs.

The transcription lists look like ``<s> YES </s> (an251-fash-b)`` (train)
and ``GO (an409-fcaw-b)`` (test); the speaker is the middle field of the
id.  Dev holds out a few whole training speakers, never test speakers, so
model choices are made on voices the model has not heard.  Audio may be
RIFF wav (the cmusphinx/an4 repository) or NIST SPHERE (CMU's tarball);
soundfile reads both.
"""

from __future__ import annotations

import re
from pathlib import Path

from asr.data.corpora.download import fetch_and_unpack
from asr.data.datadir import write_data_dir
from asr.data.text import normalize_text

URL = "http://www.speech.cs.cmu.edu/databases/an4/an4_sphere.tar.gz"
LINE = re.compile(r"^(?P<text>.*)\((?P<utt>[^()\s]+)\)\s*$")


def speaker_of(utt: str) -> str:
    parts = utt.split("-")
    if len(parts) != 3:
        raise ValueError(f"AN4 id '{utt}' is not of the form anNNN-speaker-x")
    return parts[1]


def read_transcription(path: Path) -> dict[str, str]:
    """Utterance id -> normalized text of an AN4 transcription list."""
    texts = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = LINE.match(line)
        if not match:
            raise ValueError(f"{path}:{lineno}: expected 'WORDS (utterance-id)', got {line!r}")
        words = [w for w in match["text"].split() if w not in ("<s>", "</s>")]
        utt = match["utt"]
        if utt in texts:
            raise ValueError(f"{path}:{lineno}: duplicated utterance '{utt}'")
        texts[utt] = normalize_text(" ".join(words))
    return texts


def find_audio(root: Path, fileids: Path) -> dict[str, str]:
    """Utterance id -> audio path for the ids of a fileids list (wav or sph)."""
    audio = {}
    for lineno, line in enumerate(fileids.read_text(encoding="utf-8").splitlines(), 1):
        stem = line.strip()
        candidates = [root / "wav" / f"{stem}.{ext}" for ext in ("wav", "sph")]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise FileNotFoundError(f"{fileids}:{lineno}: no audio {candidates[0]} (or .sph)")
        audio[Path(stem).name] = str(path.resolve())
    return audio


def prepare_an4(root: str | Path, out: str | Path, dev_speakers: int = 5) -> dict[str, int]:
    """Write ``out/{train,dev,test}``; returns the utterance count of each."""
    root, out = Path(root), Path(out)
    etc = root / "etc"
    if not (etc / "an4_train.transcription").exists():
        raise FileNotFoundError(f"{root}: not an AN4 copy (no etc/an4_train.transcription)")
    splits = {}
    for part in ("train", "test"):
        texts = read_transcription(etc / f"an4_{part}.transcription")
        audio = find_audio(root, etc / f"an4_{part}.fileids")
        missing = sorted(set(audio) ^ set(texts))
        if missing:
            raise ValueError(f"{etc}: utterance '{missing[0]}' is in only one of the {part} fileids and transcription")
        splits[part] = (audio, texts)
    audio, texts = splits.pop("train")
    speakers = sorted({speaker_of(u) for u in audio})
    # Every k-th speaker, so dev mixes voices across the (alphabetic, so roughly gender-sorted) list.
    step = max(1, len(speakers) // dev_speakers)
    held_out = set(speakers[step // 2 :: step][:dev_speakers])
    for name, keep in (("train", lambda s: s not in held_out), ("dev", lambda s: s in held_out)):
        utts = [u for u in audio if keep(speaker_of(u))]
        splits[name] = ({u: audio[u] for u in utts}, {u: texts[u] for u in utts})
    counts = {}
    for name, (audio, texts) in splits.items():
        write_data_dir(out / name, audio, texts, {u: speaker_of(u) for u in audio})
        counts[name] = len(audio)
    return counts


def download_an4(dest: str | Path) -> Path:
    """Fetch and unpack CMU's AN4 tarball (needs internet), once; returns the corpus root."""
    fetch_and_unpack(URL, Path(dest), "an4_sphere")
    return Path(dest) / "an4"
