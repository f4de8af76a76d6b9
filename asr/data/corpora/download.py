"""Fetching a corpus tarball once: for recipes run where there is internet."""

from __future__ import annotations

import tarfile
import urllib.request
from pathlib import Path


def fetch_and_unpack(url: str, dest: Path, name: str) -> None:
    """Download ``url`` to ``dest/<name>.tar.gz`` and unpack it into ``dest``, unless done before.

    The download goes to a ``.part`` file first and the unpacking counts as
    done once the stamp ``dest/<name>.unpacked`` is written after it, so an
    interrupted run fetches or unpacks again rather than using half a corpus.
    The archive is deleted once unpacked (LibriSpeech's take about 60 GB).
    """
    stamp = dest / f"{name}.unpacked"
    if stamp.exists():
        return
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / f"{name}.tar.gz"
    if not archive.exists():
        tmp = archive.with_suffix(".part")
        urllib.request.urlretrieve(url, tmp)
        tmp.replace(archive)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    stamp.touch()
    archive.unlink()
