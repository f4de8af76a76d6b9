"""Split a data dir into parts for parallel jobs, and merge the jobs' outputs.

Kaldi's convention (``utils/split_data.sh``): the N parts of ``data/x`` are
``data/x/splitN/1`` .. ``data/x/splitN/N``, each a complete data dir.  The
split is by speaker when there are at least N speakers (a speaker's
utterances stay in one job, the balance of utterances across jobs as even as
whole speakers allow), else by utterance.  Merging writes the files that one
job on the whole dir would have written: sorted tables, summed CMVN stats,
one decode log; features merged in place leave the source tables alone, as
one job does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import kaldiio
import numpy as np

from asr.data.datadir import SOURCE_TABLES, read_table, spk2utt, validate_data_dir, write_table, writing
from asr.data.extract import staged_outputs

SPLIT_TABLES = ("wav.scp", "images.scp", "segments", "text", "utt2spk", "feats.scp")  # by utterance, as is utt2*


def is_utterance_table(name: str) -> bool:
    return name in SPLIT_TABLES or name.startswith("utt2")


def assign_parts(utt2spk: dict[str, str], nj: int) -> list[list[str]]:
    """Utterances of each of ``min(nj, #utterances)`` parts (each list sorted).

    By speaker when there are at least ``nj`` speakers: the biggest speakers
    first, each to the part with the fewest utterances so far.  Else in
    contiguous runs of sorted utterances, their sizes differing by one at most.
    """
    utts = sorted(utt2spk)
    nj = min(nj, len(utts))
    speakers: dict[str, list[str]] = {}
    for utt in utts:
        speakers.setdefault(utt2spk[utt], []).append(utt)
    if len(speakers) < nj:
        return [utts[len(utts) * i // nj: len(utts) * (i + 1) // nj] for i in range(nj)]
    parts: list[list[str]] = [[] for _ in range(nj)]
    for speaker in sorted(speakers, key=lambda s: (-len(speakers[s]), s)):
        smallest = min(range(nj), key=lambda i: (len(parts[i]), i))
        parts[smallest] += speakers[speaker]
    return [sorted(part) for part in parts]


def split_data_dir(src: str | Path, nj: int) -> list[Path]:
    """Write ``src/splitN/1..N`` (N = ``nj``, or the utterance count when smaller); returns the parts.

    Each part holds the utterance tables of ``src`` restricted to its
    utterances (with ``segments``, ``wav.scp`` restricted to their
    recordings), its ``spk2utt`` and a copy of ``src``'s ``*.yaml`` settings
    (e.g. ``fbank.yaml``, which decoding checks).  Files are replaced
    atomically and a part's other files removed, so a command running on the
    same split at the same time reads whole, identical tables.
    """
    if nj < 1:
        raise ValueError(f"--nj must be at least 1, got {nj}")
    src = Path(src)
    data = validate_data_dir(src, need_text=False)
    if not data.utts:
        raise ValueError(f"{src}/{data.source_file}: no utterances to split")
    tables = {p.name: read_table(p, allow_empty_value=True) for p in sorted(src.iterdir())
              if p.is_file() and is_utterance_table(p.name)}
    settings = [p for p in sorted(src.glob("*.yaml")) if p.is_file()]
    utt_parts = assign_parts(data.utt2spk, nj)
    parts = [src / f"split{len(utt_parts)}" / str(job) for job in range(1, len(utt_parts) + 1)]
    written = {*tables, "spk2utt", *(p.name for p in settings)}
    for part, utts in zip(parts, utt_parts):
        part.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            keys = sorted({data.segments[u].recording for u in utts}) if name == "wav.scp" and data.segments else utts
            write_table(part / name, {key: table[key] for key in keys if key in table})
        write_table(part / "spk2utt", spk2utt({utt: data.utt2spk[utt] for utt in utts}))
        for setting in settings:
            shutil.copyfile(setting, part / setting.name)
        for stale in part.iterdir():
            if stale.name not in written and stale.is_file():
                stale.unlink()
    return parts


def merge_tables(job_dirs: list[Path], names: list[str], out: Path) -> None:
    """Write the union of each utterance table in ``names`` over the job dirs, sorted, to ``out``.

    Only ``wav.scp`` may repeat a line in two jobs: keyed by recording when
    there are ``segments``, it lists a recording in each job with one of its segments.
    """
    for name in names:
        merged: dict[str, str] = {}
        for job_dir in job_dirs:
            for key, value in read_table(job_dir / name, allow_empty_value=True).items():
                if key in merged and (name != "wav.scp" or merged[key] != value):
                    raise ValueError(f"{job_dir / name}: '{key}' is also in another job's {name}")
                merged[key] = value
        write_table(out / name, merged)


def job_files(job_dirs: list[Path], known: set[str]) -> list[str]:
    """The names of the first job's files, checked against the other jobs' and the merge rules.

    Utterance tables, ``*.yaml`` settings and the ``known`` files have a rule;
    any other file is an error rather than a silent loss.
    """
    names = sorted(p.name for p in job_dirs[0].iterdir() if p.is_file())
    for name in names:
        if not (name in known or is_utterance_table(name) or name.endswith(".yaml")):
            raise ValueError(f"{job_dirs[0] / name}: no rule to merge this file of parallel jobs")
        for job_dir in job_dirs[1:]:
            if not (job_dir / name).is_file():
                raise ValueError(f"{job_dir / name}: missing (the job {job_dirs[0]} wrote it)")
    return names


def copy_settings(job_dirs: list[Path], names: list[str], out: Path) -> None:
    """Copy the ``*.yaml`` settings that every job wrote alike (an error if they differ)."""
    for name in (n for n in names if n.endswith(".yaml")):
        first = (job_dirs[0] / name).read_bytes()
        for job_dir in job_dirs[1:]:
            if (job_dir / name).read_bytes() != first:
                raise ValueError(f"{job_dir / name}: differs from {job_dirs[0] / name}")
        with writing(out / name):
            (out / name).write_bytes(first)


def merge_features(job_dirs: list[Path], dst: Path, *, in_place: bool) -> int:
    """Merge the data dirs written by ``asr features`` jobs into ``dst``; returns how many utterances have features.

    Job N's ``feats.ark`` moves to ``dst/feats.N.ark`` (one ark per job, as
    Kaldi's ``make_fbank.sh`` keeps them) and ``feats.scp`` points there; the
    CMVN stats are summed and the ``dropped`` lists merged.  As one job would
    (:mod:`asr.data.extract`), the files are staged and moved in together, and
    with ``in_place`` (``dst`` is the dir the jobs' parts were split from)
    its ``SOURCE_TABLES`` stay as they are; otherwise they are merged, with
    ``spk2utt`` made anew from the merged ``utt2spk``.
    """
    names = job_files(job_dirs, {"feats.ark", "cmvn.ark", "spk2utt", "dropped"})
    tables = [n for n in names if (is_utterance_table(n) or n == "dropped") and n != "feats.scp"
              and not (in_place and n in SOURCE_TABLES)]
    stats = sum(np.asarray(kaldiio.load_mat(str(job_dir / "cmvn.ark")), dtype=np.float64) for job_dir in job_dirs)
    dst = dst.resolve()
    with staged_outputs(dst, () if in_place else SOURCE_TABLES) as staging:
        merge_tables(job_dirs, tables, staging)
        if not in_place:
            write_table(staging / "spk2utt", spk2utt(read_table(staging / "utt2spk")))
        with writing(staging / "cmvn.ark"):
            kaldiio.save_mat(str(staging / "cmvn.ark"), stats)
        copy_settings(job_dirs, names, staging)
        scp: dict[str, str] = {}
        for job, job_dir in enumerate(job_dirs, 1):
            ark = f"feats.{job}.ark"
            (job_dir / "feats.ark").replace(staging / ark)
            for utt, value in read_table(job_dir / "feats.scp").items():
                scp[utt] = f"{dst / ark}:{value.rpartition(':')[2]}"
        write_table(staging / "feats.scp", scp)
    return len(validate_data_dir(dst, need_feats=True).feats)
