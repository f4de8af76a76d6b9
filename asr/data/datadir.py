"""Kaldi-style data directories: read, write and validate.

A data dir is a folder of small text files keyed by utterance id, sorted by
id: ``wav.scp`` (id -> audio path; handwriting uses ``images.scp``),
``text``, ``utt2spk``, ``spk2utt``, and later ``feats.scp`` and
``utt2num_frames``.  With an optional ``segments`` file (``utt recording
start end``, seconds), ``wav.scp`` is keyed by recording and each utterance
is a stretch of one, as in Kaldi.  Every stage calls :func:`validate_data_dir`
first, so a fault is reported once, in one line naming the file, the line and
the fault.

Feature extraction adds ``feats.scp`` (``id ark:offset``), ``utt2num_frames``
and ``dropped`` (``id reason``: the utterances whose input could not be
read) beside the tables in :data:`SOURCE_TABLES`, which say what the
utterances are and which it never rewrites in place: ``feats.scp`` may
therefore hold fewer utterances than ``wav.scp``, and the stages after it
work on the ``feats.scp`` ids.
"""

from __future__ import annotations

import os
import re
import shlex
import struct
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import kaldiio
import numpy as np

SOURCE_FILES = ("wav.scp", "images.scp")
SOURCE_TABLES = (*SOURCE_FILES, "segments", "text", "utt2spk", "spk2utt")
# ``ark:offset``, optionally with Kaldi's ``[rows]`` or ``[rows,cols]`` range after it.
_ARK_OFFSET = re.compile(r"(?P<ark>.+):(?P<offset>\d+)(\[[0-9:, ]*\])?")


@contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Re-raise an OSError of the block naming ``path``, the file it writes.

    A full disk fails a write with only "No space left on device", which
    does not say which disk.
    """
    try:
        yield
    except OSError as error:
        raise OSError(error.errno, error.strerror or str(error), str(path)) from None


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write ``text`` through a temp file in the same dir and a rename: a kill or a full disk never leaves half
    a file (the temp name holds the process id, so two writers never share one)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


_UTF16_32_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}


def read_lines(path: str | Path) -> list[str]:
    """Lines of a UTF-8 table, data dir file or transcript; a wrong encoding is reported with its line and byte.

    The one line reader of Kaldi tables here, so that a file reads the same
    in a data dir and in the scorer.  Splits on ``\\n`` only, as Kaldi's
    ``getline`` does: ``str.splitlines`` would also split on U+2028, U+0085
    or form feeds inside a transcript and shift every following utterance.
    A ``\\r`` before the ``\\n`` stays on the line, where Kaldi, and the
    parsers of the lines here, take it for white space.  A UTF-8 byte order
    mark is dropped.
    """
    data = Path(path).read_bytes()
    for bom, name in _UTF16_32_BOMS.items():
        if data.startswith(bom):
            raise ValueError(f"{path}:1: file is {name} (byte order mark), expected UTF-8; convert it with iconv")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        lineno = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{path}:{lineno}: not UTF-8: byte 0x{data[error.start]:02X} at byte {error.start - line_start + 1} "
            f"of the line ({error.reason}); convert the file, e.g. iconv -f latin1 -t utf-8"
        ) from None
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n") if text else []


def read_table(path: str | Path, allow_empty_value: bool = False) -> dict[str, str]:
    """Read ``id value...`` lines into a dict, with one-line errors.

    The value is the rest of the line after the first run of white space,
    so transcripts and paths with spaces survive.  Lines come from
    :func:`read_lines`.
    """
    path = Path(path)
    table: dict[str, str] = {}
    lines = read_lines(path)
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            raise ValueError(f"{path}:{lineno}: empty line")
        fields = line.strip().split(maxsplit=1)
        key = fields[0]
        value = fields[1] if len(fields) > 1 else ""
        if not value and not allow_empty_value:
            raise ValueError(f"{path}:{lineno}: '{key}' has no value")
        if key in table:
            raise ValueError(f"{path}:{lineno}: duplicated id '{key}'")
        table[key] = value
    return table


def write_table(path: str | Path, table: dict[str, str]) -> None:
    """Write ``id value`` lines sorted by id (Kaldi's ``LC_ALL=C sort``).

    An id with whitespace (made from a file name, say) is refused here, in
    one line, rather than read back later as a different id.
    """
    bad = next((key for key in table if not key or any(c.isspace() for c in key)), None)
    if bad is not None:
        raise ValueError(f"{path}: id {bad!r} is empty or holds whitespace (a table's ids are single words)")
    with writing(path):  # two commands may write the same split at once: each through its own temp file
        write_text_atomically(path, "".join(f"{key} {table[key]}\n" for key in sorted(table)))


@dataclass(frozen=True)
class Segment:
    """One ``segments`` line: seconds ``start`` to ``end`` of ``recording`` (``end`` -1: to its end)."""

    recording: str
    start: float
    end: float

    def __str__(self) -> str:
        """The ``segments`` value: ``recording start end``."""
        end = f"{self.end:.3f}" if self.end >= 0 else "-1"
        return f"{self.recording} {self.start:.3f} {end}"


@dataclass
class DataDir:
    """The tables of one data dir; absent optional files are empty dicts.

    ``source`` is keyed by utterance, or by recording when there are ``segments``.
    """

    path: Path
    source: dict[str, str]
    text: dict[str, str]
    utt2spk: dict[str, str]
    feats: dict[str, str] = field(default_factory=dict)
    num_frames: dict[str, int] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)

    @property
    def utts(self) -> list[str]:
        return sorted(self.segments or self.source)

    def source_of(self, utt: str) -> tuple[str, Segment | None]:
        """The ``wav.scp``/``images.scp`` entry holding ``utt``, and its segment if it is a stretch of it."""
        segment = self.segments.get(utt)
        return (self.source[segment.recording], segment) if segment else (self.source[utt], None)

    @property
    def source_file(self) -> str:
        return next(name for name in SOURCE_FILES if (self.path / name).exists())


def spk2utt(utt2spk: dict[str, str]) -> dict[str, str]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for utt in sorted(utt2spk):
        grouped[utt2spk[utt]].append(utt)
    return {spk: " ".join(utts) for spk, utts in grouped.items()}


def write_data_dir(
    path: str | Path, source: dict[str, str], text: dict[str, str], utt2spk: dict[str, str],
    source_file: str = "wav.scp",
) -> None:
    """Write a new data dir (source list, text, utt2spk, spk2utt) and validate it."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    write_table(path / source_file, source)
    write_table(path / "text", text)
    write_table(path / "utt2spk", utt2spk)
    write_table(path / "spk2utt", spk2utt(utt2spk))
    validate_data_dir(path)


def _check_sorted(path: Path, table: dict[str, str]) -> None:
    """``table`` as read_table returned it: in file order, one entry a line."""
    keys = list(table)
    for lineno, (a, b) in enumerate(zip(keys, keys[1:]), 2):
        if b < a:
            raise ValueError(f"{path}:{lineno}: not sorted by id ('{b}' after '{a}')")


def _read_segments(path: Path, recordings: dict[str, str]) -> dict[str, Segment]:
    """``segments`` lines (``utt recording start end``), each checked against ``wav.scp``."""
    segments = {}
    for lineno, (utt, value) in enumerate(read_table(path).items(), 1):
        fields = value.split()
        try:
            if len(fields) != 3:
                raise ValueError
            recording, start, end = fields[0], float(fields[1]), float(fields[2])
        except ValueError:
            raise ValueError(f"{path}:{lineno}: expected 'utterance recording start end', got '{utt} {value}'"
                             ) from None
        if start < 0 or not (end > start or end == -1):
            raise ValueError(f"{path}:{lineno}: '{utt}' has bad times '{value}' (0 <= start < end, or end -1)")
        if recording not in recordings:
            raise ValueError(f"{path}:{lineno}: recording '{recording}' of '{utt}' is not in wav.scp")
        segments[utt] = Segment(recording, start, end)
    return segments


def _check_spk2utt(path: Path, utt2spk: dict[str, str]) -> None:
    """``spk2utt`` must list the same speakers and utterances as ``utt2spk`` (in any order within a line)."""
    expected = {spk: set(utts.split()) for spk, utts in spk2utt(utt2spk).items()}
    table = read_table(path)
    _check_sorted(path, table)
    for lineno, (spk, utts) in enumerate(table.items(), 1):
        if set(utts.split()) != expected.pop(spk, None):
            raise ValueError(f"{path}:{lineno}: speaker '{spk}' does not match utt2spk (remake it from utt2spk)")
    if expected:
        raise ValueError(f"{path}: no line for speaker '{min(expected)}' of utt2spk ({len(expected)} missing)")


def _check_feats_offsets(path: Path, feats: dict[str, str]) -> None:
    """Every ``ark:offset`` of ``feats.scp`` must lie inside an existing ark: one ``stat`` per ark.

    A feature run cut short, or arks moved or deleted, would otherwise
    surface as a bare kaldiio error when training reaches the utterance.
    Commands (``... |``) are not run here.
    """
    sizes: dict[str, int | None] = {}
    for lineno, (utt, value) in enumerate(feats.items(), 1):
        if value.endswith("|"):
            continue
        match = _ARK_OFFSET.fullmatch(value)
        ark, offset = (match["ark"], int(match["offset"])) if match else (value, 0)
        if ark not in sizes:
            try:
                sizes[ark] = os.stat(ark).st_size
            except OSError:
                sizes[ark] = None
        size = sizes[ark]
        if size is None:
            raise ValueError(f"{path}:{lineno}: '{utt}' points into {ark}, which does not exist")
        if offset >= size:
            raise ValueError(f"{path}:{lineno}: '{utt}' points to byte {offset} of {ark}, which has {size} bytes")


def load_feats(value: str, utt: str) -> np.ndarray:
    """The feature matrix of one ``feats.scp`` entry (``ark:offset``), with a one-line error.

    kaldiio reports a wrong offset as a bare AssertionError or a decoding
    error of random bytes; this names the utterance, the entry and the fault.
    """
    try:
        return kaldiio.load_mat(value)
    except OSError as error:
        fault = error.strerror or str(error)
    except (AssertionError, EOFError, RuntimeError, ValueError, struct.error) as error:
        fault = f"no Kaldi matrix there, a wrong offset or a damaged ark (kaldiio: {type(error).__name__})"
    raise ValueError(f"utterance '{utt}': cannot read features '{value}': {fault}")


def validate_data_dir(path: str | Path, need_text: bool = True, need_feats: bool = False) -> DataDir:
    """Load and check a data dir: every file sorted, every id in every table.

    An empty transcript is allowed in ``text`` here (a test set may hold
    one); training skips such utterances with a count.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: data dir does not exist")
    found = [name for name in SOURCE_FILES if (path / name).exists()]
    if not found:
        raise FileNotFoundError(f"{path}: no {' or '.join(SOURCE_FILES)}")
    if len(found) > 1:
        raise ValueError(f"{path}: both {' and '.join(found)}: a data dir holds audio or images, not both")
    source_name = found[0]
    tables = {source_name: read_table(path / source_name)}
    optional = {"text": True, "utt2spk": False, "feats.scp": False, "utt2num_frames": False}
    for name, allow_empty in optional.items():
        if (path / name).exists():
            tables[name] = read_table(path / name, allow_empty_value=allow_empty)
        elif name == "text" and need_text or name == "feats.scp" and need_feats or name == "utt2spk":
            if name == "feats.scp":  # what to do next: the step that makes it
                where = shlex.quote(str(path))
                raise FileNotFoundError(f"{path}/feats.scp: missing: no features yet; make them first with: "
                                        f"asr features {where} {where}")
            raise FileNotFoundError(f"{path}/{name}: missing")
    for name, table in tables.items():
        _check_sorted(path / name, table)
    segments = {}
    if (path / "segments").exists():
        if source_name != "wav.scp":
            raise ValueError(f"{path}/segments: segments cut recordings of wav.scp, not {source_name}")
        segments = _read_segments(path / "segments", tables[source_name])
        _check_sorted(path / "segments", dict.fromkeys(segments, ""))
    utts = set(segments or tables[source_name])
    for name, table in tables.items():
        if name == "utt2num_frames" and "feats.scp" not in tables or name == source_name and segments:
            continue
        missing = sorted(utts - set(table)) if name in ("text", "utt2spk") else []
        extra = sorted(set(table) - utts)
        if missing:
            raise ValueError(f"{path}/{name}: no entry for '{missing[0]}' ({len(missing)} missing)")
        if extra:
            raise ValueError(f"{path}/{name}: '{extra[0]}' is not in {'segments' if segments else source_name} "
                             f"({len(extra)} extra)")
    for lineno, (utt, spk) in enumerate(tables["utt2spk"].items(), 1):
        if len(spk.split()) != 1:
            raise ValueError(f"{path}/utt2spk:{lineno}: expected 'utterance speaker', got '{utt} {spk}'")
    if (path / "spk2utt").exists():
        _check_spk2utt(path / "spk2utt", tables["utt2spk"])
    num_frames = {}
    for lineno, (utt, value) in enumerate(tables.get("utt2num_frames", {}).items(), 1):
        if not value.isdigit():
            raise ValueError(f"{path}/utt2num_frames:{lineno}: '{utt}' has a non-integer frame count '{value}'")
        num_frames[utt] = int(value)
    if need_feats:
        _check_feats_offsets(path / "feats.scp", tables["feats.scp"])
    return DataDir(
        path=path,
        source=tables[source_name],
        text=tables.get("text", {}),
        utt2spk=tables["utt2spk"],
        feats=tables.get("feats.scp", {}),
        num_frames=num_frames,
        segments=segments,
    )
