"""LibriSpeech (OpenSLR 12): one data dir per official subset, optional unions.

The official layout is ``LibriSpeech/<subset>/<speaker>/<chapter>/`` holding
``<speaker>-<chapter>.trans.txt`` (lines ``<speaker>-<chapter>-<nnnn> WORDS``)
and one ``<speaker>-<chapter>-<nnnn>.flac`` per line.  Data dirs are named as
Kaldi's (``train_clean_100``), and, as in Kaldi's ``local/data_prep.sh``, the
speaker of an utterance is ``<speaker>-<chapter>``: a chapter is one recording
session, and every id starts with its speaker, so Kaldi's sort orders agree.
A transcript line without its audio or audio without its line is an error,
as in the AN4 preparer: it means a broken download or extraction, which
should stop the recipe rather than silently shrink the data.
"""

from __future__ import annotations

import re
from pathlib import Path

from asr.data.corpora.download import fetch_and_unpack
from asr.data.datadir import write_data_dir
from asr.data.text import normalize_text

SUBSETS = (
    "train-clean-100", "train-clean-360", "train-other-500",
    "dev-clean", "dev-other", "test-clean", "test-other",
)
TRAIN_960 = ("train-clean-100", "train-clean-360", "train-other-500")
URL = "https://www.openslr.org/resources/12/{subset}.tar.gz"
UTT = re.compile(r"^(?P<spk>\d+-\d+)-\d+$")
TRANS_SUFFIX = ".trans.txt"


def subset_name(name: str) -> str:
    """The official name of a subset given as ``train-clean-100`` or ``train_clean_100``."""
    official = name.replace("_", "-")
    if official not in SUBSETS:
        raise ValueError(f"unknown LibriSpeech subset '{name}' (known: {', '.join(SUBSETS)})")
    return official


def data_dir_name(subset: str) -> str:
    return subset.replace("-", "_")


def find_corpus(root: str | Path) -> Path:
    """The ``LibriSpeech`` folder, given it or its parent (where the tarballs unpack)."""
    root = Path(root)
    corpus = root / "LibriSpeech" if (root / "LibriSpeech").is_dir() else root
    if not corpus.is_dir():
        raise FileNotFoundError(f"{root}: no such LibriSpeech folder")
    return corpus.resolve()


def read_chapter_transcript(path: Path) -> dict[str, tuple[str, int]]:
    """Utterance id -> (normalized text, line number) of one ``.trans.txt`` file."""
    chapter = path.name.removesuffix(TRANS_SUFFIX)
    if not path.name.endswith(TRANS_SUFFIX) or chapter != f"{path.parent.parent.name}-{path.parent.name}":
        raise ValueError(f"{path}: expected the name <speaker>-<chapter>{TRANS_SUFFIX} in <speaker>/<chapter>/")
    texts: dict[str, tuple[str, int]] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split(maxsplit=1)
        match = UTT.match(fields[0]) if fields else None
        if len(fields) < 2 or not match:
            raise ValueError(f"{path}:{lineno}: expected '<speaker>-<chapter>-<number> WORDS', got {line!r}")
        utt = fields[0]
        if match["spk"] != chapter:
            raise ValueError(f"{path}:{lineno}: utterance '{utt}' is not of chapter '{chapter}'")
        if utt in texts:
            raise ValueError(f"{path}:{lineno}: duplicated utterance '{utt}'")
        texts[utt] = (normalize_text(fields[1]), lineno)
    return texts


def find_flacs(subset_dir: Path) -> dict[str, Path]:
    """Utterance id -> flac path of a subset, checking each name against its folders."""
    audio = {}
    for path in subset_dir.glob("*/*/*.flac"):
        match = UTT.match(path.stem)
        if not match or match["spk"] != f"{path.parent.parent.name}-{path.parent.name}":
            raise ValueError(f"{path}: expected the name <speaker>-<chapter>-<number>.flac in <speaker>/<chapter>/")
        audio[path.stem] = path
    return audio


def read_subset(corpus: Path, subset: str) -> tuple[dict[str, str], dict[str, str]]:
    """(utterance -> flac path, utterance -> text) of one subset, audio and text matched."""
    subset_dir = corpus / subset
    transcripts = sorted(subset_dir.glob(f"*/*/*{TRANS_SUFFIX}"))
    if not transcripts:
        raise FileNotFoundError(f"{subset_dir}: no */*/*{TRANS_SUFFIX} (subset not downloaded or unpacked?)")
    audio = find_flacs(subset_dir)
    texts = {}
    for trans in transcripts:
        for utt, (text, lineno) in read_chapter_transcript(trans).items():
            if utt not in audio:
                raise FileNotFoundError(f"{trans}:{lineno}: no audio {trans.parent / utt}.flac")
            texts[utt] = text
    extra = sorted(set(audio) - set(texts))
    if extra:
        raise ValueError(f"{audio[extra[0]]}: no transcript line for '{extra[0]}' ({len(extra)} such files)")
    return {utt: str(path) for utt, path in audio.items()}, texts


def prepare_librispeech(
    root: str | Path,
    out: str | Path,
    subsets: tuple[str, ...] = SUBSETS,
    combine: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, int]:
    """Write ``out/<subset>`` (``train_clean_100``, ...) and each union of ``combine``.

    ``combine`` maps a data dir name (e.g. ``train_960``) to the subsets it
    joins, all of which must be among ``subsets``.  Returns the utterance
    count of each dir written.
    """
    corpus, out = find_corpus(root), Path(out)
    subsets = tuple(subset_name(s) for s in subsets)
    combine = {name: tuple(subset_name(s) for s in parts) for name, parts in (combine or {}).items()}
    for name, parts in combine.items():
        absent = [p for p in parts if p not in subsets]
        if absent:
            raise ValueError(f"combined data dir '{name}' needs subset '{absent[0]}', which is not prepared")
        if name in map(data_dir_name, subsets):
            raise ValueError(f"combined data dir '{name}' has the name of a subset's data dir")
    tables = {subset: read_subset(corpus, subset) for subset in subsets}
    dirs = {data_dir_name(s): tables[s] for s in subsets}
    for name, parts in combine.items():
        # Speakers, so ids, are disjoint across the official subsets: the union is a plain merge.
        audio, texts = {}, {}
        for part in parts:
            audio.update(tables[part][0])
            texts.update(tables[part][1])
        dirs[name] = (audio, texts)
    counts = {}
    for name, (audio, texts) in dirs.items():
        write_data_dir(out / name, audio, texts, {u: UTT.match(u)["spk"] for u in audio})
        counts[name] = len(audio)
    return counts


def download_librispeech(dest: str | Path, subsets: tuple[str, ...] = SUBSETS) -> Path:
    """Fetch and unpack the subsets from OpenSLR (needs internet), each once; returns the corpus root."""
    dest = Path(dest)
    for subset in map(subset_name, subsets):
        fetch_and_unpack(URL.format(subset=subset), dest, subset)
    return dest / "LibriSpeech"
