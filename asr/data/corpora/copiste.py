"""Copiste d'un jour: handwritten French text lines (BAnQ, CC BY 4.0).

``lines.tsv`` lists ``image page split text``; the split is by text, so no
test writer is seen in training.  One volunteer copied each text, on one or
two pages named ``wikitexte_N[_k]`` and ``imp_wikitexte_N[_k]``: the writer
(the ``utt2spk`` of the data dirs) is the page name without ``imp_``.
Utterance ids are ``<writer>-<image stem>``, so sorting groups writers as
Kaldi expects.  Labels are kept as written (case, punctuation, the ``>word<``
crossing-out marks); white space is collapsed and Unicode put in NFC.
"""

from __future__ import annotations

import csv
from pathlib import Path

from asr.data.datadir import write_data_dir
from asr.data.text import normalize_text

SPLITS = ("train", "dev", "test")
COLUMNS = ("image", "page", "split", "text")


def writer_of(page: str) -> str:
    return page.removeprefix("imp_")


def prepare_copiste(root: str | Path, out: str | Path) -> dict[str, int]:
    """Write ``out/{train,dev,test}`` image data dirs; returns the line count of each."""
    root, out = Path(root), Path(out)
    table = root / "lines.tsv"
    if not table.exists():
        raise FileNotFoundError(f"{root}: not a copiste-lines copy (no lines.tsv)")
    parts: dict[str, tuple[dict[str, str], dict[str, str], dict[str, str]]] = {s: ({}, {}, {}) for s in SPLITS}
    with open(table, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None or tuple(header) != COLUMNS:
            raise ValueError(f"{table}:1: expected the header {' '.join(COLUMNS)}, got {header}")
        for lineno, row in enumerate(reader, 2):
            if len(row) != len(COLUMNS):
                raise ValueError(f"{table}:{lineno}: expected {len(COLUMNS)} tab-separated fields, got {len(row)}")
            image, page, split, text = row
            if split not in parts:
                raise ValueError(f"{table}:{lineno}: unknown split '{split}' (expected {', '.join(SPLITS)})")
            path = root / image
            if not path.is_file():
                raise FileNotFoundError(f"{table}:{lineno}: no image {path}")
            writer = writer_of(page)
            utt = f"{writer}-{Path(image).stem}"
            images, texts, writers = parts[split]
            if utt in images:
                raise ValueError(f"{table}:{lineno}: duplicated image '{image}'")
            images[utt], texts[utt], writers[utt] = str(path.resolve()), normalize_text(text), writer
    for name, (images, texts, writers) in parts.items():
        write_data_dir(out / name, images, texts, writers, source_file="images.scp")
    return {name: len(images) for name, (images, _, _) in parts.items()}
