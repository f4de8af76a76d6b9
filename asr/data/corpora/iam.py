"""IAM handwriting database, text lines: the layout IAM distributes.

``<root>/ascii/lines.txt`` (or ``<root>/lines.txt``) holds one line a row::

    a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from

(id, segmentation ok/err, grey level, components, bounding box, words
joined by ``|``), and the images are ``<root>/lines/a01/a01-000u/a01-000u-00.png``.
The writer of each form comes from ``ascii/forms.txt`` when present (else
the form id stands in).  IAM defines no split of its own: pass the list files
of the task you follow (e.g. the Aachen or the "large writer independent"
lists), one line or form id a row, as ``{"train": path, "dev": ..., "test": ...}``.
IAM needs a registration to download, so a local copy is required.
"""

from __future__ import annotations

from pathlib import Path

from asr.data.datadir import write_data_dir
from asr.data.text import normalize_text


def _find(root: Path, name: str) -> Path | None:
    return next((p for p in (root / "ascii" / name, root / name) if p.exists()), None)


def read_lines(path: Path) -> dict[str, str]:
    """Line id -> transcription (words joined by spaces) of IAM's lines.txt."""
    lines = {}
    for lineno, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not row.strip() or row.startswith("#"):
            continue
        fields = row.split(" ", 8)
        if len(fields) != 9 or fields[1] not in ("ok", "err") or fields[0].count("-") != 2:
            raise ValueError(f"{path}:{lineno}: expected 'id ok|err grey components x y w h words', got {row!r}")
        if fields[0] in lines:
            raise ValueError(f"{path}:{lineno}: duplicated line id '{fields[0]}'")
        lines[fields[0]] = normalize_text(fields[8].replace("|", " "))
    return lines


def read_writers(path: Path | None) -> dict[str, str]:
    """Form id -> writer id of IAM's forms.txt."""
    if path is None:
        return {}
    writers = {}
    for lineno, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not row.strip() or row.startswith("#"):
            continue
        fields = row.split()
        if len(fields) < 2:
            raise ValueError(f"{path}:{lineno}: expected 'form-id writer-id ...', got {row!r}")
        writers[fields[0]] = fields[1]
    return writers


def prepare_iam(root: str | Path, out: str | Path, splits: dict[str, str | Path]) -> dict[str, int]:
    """Write one image data dir per split list under ``out``; returns the line count of each."""
    root, out = Path(root), Path(out)
    lines_txt = _find(root, "lines.txt")
    if lines_txt is None:
        raise FileNotFoundError(f"{root}: not an IAM copy (no ascii/lines.txt)")
    if not splits:
        raise ValueError("IAM has no split of its own: give list files, e.g. train=trainset.txt")
    lines = read_lines(lines_txt)
    writers = read_writers(_find(root, "forms.txt"))
    counts = {}
    for name, list_file in splits.items():
        wanted = [row.strip() for row in Path(list_file).read_text(encoding="utf-8").splitlines() if row.strip()]
        images, texts, utt2writer = {}, {}, {}
        for lineno, item in enumerate(wanted, 1):
            # A list names lines (a01-000u-00) or whole forms (a01-000u).
            ids = [item] if item.count("-") == 2 else [i for i in lines if i.rsplit("-", 1)[0] == item]
            if not ids or ids[0] not in lines:
                raise ValueError(f"{list_file}:{lineno}: '{item}' is not in {lines_txt}")
            for line_id in ids:
                form = line_id.rsplit("-", 1)[0]
                path = root / "lines" / form.split("-")[0] / form / f"{line_id}.png"
                if not path.is_file():
                    raise FileNotFoundError(f"{list_file}:{lineno}: no image {path}")
                writer = writers.get(form, form)
                utt = f"{writer}-{line_id}"
                images[utt], texts[utt], utt2writer[utt] = str(path.resolve()), lines[line_id], writer
        write_data_dir(out / name, images, texts, utt2writer, source_file="images.scp")
        counts[name] = len(images)
    return counts
