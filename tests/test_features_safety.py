"""The feature stage keeps data safe: quoted pipes, staged outputs, source tables untouched in place."""

from __future__ import annotations

import errno
import os
import shlex
import shutil
from pathlib import Path

import kaldiio
import numpy as np
import pytest

from asr.cli import main
from asr.data.datadir import load_feats, read_table, validate_data_dir, write_data_dir
from asr.data.extract import extract_features
from asr.data.frontend import compute_features
from asr.data.kaldi_fbank import FbankConfig

# Stands in for sox (not installed everywhere): records its arguments, one a line, and writes its
# input unchanged, so that the speed stays 1 and the audio decodes as the original.
FAKE_SOX = """#!/bin/sh
printf '%s\\n' "$@" >>"$FAKE_SOX_ARGS"
if [ "$1" = -t ]; then exec cat; else exec cat -- "$1"; fi
"""


def audio_dir(an4_wavs: list[Path], path: Path, corrupt: bool = False) -> Path:
    """A data dir of copies of three AN4 wavs (which a test may damage), and a corrupt one when asked."""
    (path / "wav").mkdir(parents=True)
    source = {}
    for i, wav in enumerate(an4_wavs[:3]):
        source[f"u{i}"] = str(shutil.copy(wav, path / "wav" / wav.name))
    if corrupt:
        (path / "wav" / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage")
        source["u9"] = str(path / "wav" / "corrupt.wav")
    write_data_dir(path / "data", source, dict.fromkeys(source, "A B"), dict.fromkeys(source, "spk"))
    return path / "data"


def files_of(path: Path) -> dict[str, bytes]:
    """Every entry of a dir: files with their bytes, dirs (e.g. a staging dir left behind) as empty."""
    return {p.name: p.read_bytes() if p.is_file() else b"" for p in path.iterdir()}


def test_speed_perturbed_wav_scp_quotes_paths_and_chains_pipes(an4_wavs, tmp_path, monkeypatch):
    """A wav.scp value is run by a shell when read: a file name must stay one word and never run."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "sox").write_text(FAKE_SOX)
    (tmp_path / "bin" / "sox").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SOX_ARGS", str(tmp_path / "sox_args"))
    monkeypatch.chdir(tmp_path)  # where `touch X` would leave X
    odd = Path(shutil.copy(an4_wavs[0], tmp_path / "a b $(touch X).wav"))
    source = {"u1": str(odd), "u2": f"cat {shlex.quote(str(odd))} |"}
    write_data_dir(tmp_path / "src", source, dict.fromkeys(source, "A"), dict.fromkeys(source, "s"))
    assert extract_features(tmp_path / "src", tmp_path / "dst", FbankConfig(), speeds=(0.9, 1.0)) == 0
    data = validate_data_dir(tmp_path / "dst", need_feats=True)
    for utt in source:
        feats = compute_features(data.source[f"sp0.9-{utt}"], FbankConfig()).numpy()
        np.testing.assert_array_equal(feats, load_feats(data.feats[utt], utt))
    assert (tmp_path / "sox_args").read_text().splitlines() == [
        str(odd), "-t", "wav", "-", "speed", "0.9",  # the file, one argument
        "-t", "wav", "-", "-t", "wav", "-", "speed", "0.9",  # the command's output, on standard input
    ]
    assert not (tmp_path / "X").exists()


def test_failed_rerun_keeps_the_previous_features(an4_wavs, tmp_path):
    data_dir = audio_dir(an4_wavs, tmp_path)
    extract_features(data_dir, data_dir, FbankConfig())
    before = files_of(data_dir)
    for wav in (tmp_path / "wav").iterdir():
        wav.write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage")
    with pytest.raises(ValueError, match="no utterance could be read"):
        extract_features(data_dir, data_dir, FbankConfig())
    assert files_of(data_dir) == before
    data = validate_data_dir(data_dir, need_feats=True)
    assert load_feats(data.feats["u0"], "u0").shape == (data.num_frames["u0"], 80)


def test_full_disk_names_the_file_and_keeps_the_previous_features(an4_wavs, tmp_path, monkeypatch):
    data_dir = audio_dir(an4_wavs, tmp_path)
    extract_features(data_dir, data_dir, FbankConfig())
    before = files_of(data_dir)

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(kaldiio, "save_mat", disk_full)
    with pytest.raises(OSError, match=r"^\[Errno 28\] No space left on device: '.*/feats\.ark'$"):
        extract_features(data_dir, data_dir, FbankConfig())
    assert files_of(data_dir) == before


@pytest.mark.parametrize("nj", [1, 2])
def test_in_place_run_keeps_the_tables_and_lists_dropped_utterances(an4_wavs, tmp_path, capsys, nj):
    data_dir = audio_dir(an4_wavs, tmp_path, corrupt=True)
    tables = ("wav.scp", "text", "utt2spk", "spk2utt")
    before = {name: (data_dir / name).read_bytes() for name in tables}
    assert main(["features", str(data_dir), str(data_dir), "--nj", str(nj)]) == 0
    assert {name: (data_dir / name).read_bytes() for name in tables} == before
    dropped = read_table(data_dir / "dropped")
    assert list(dropped) == ["u9"] and "corrupt.wav" in dropped["u9"]
    assert "1 utterances dropped" in capsys.readouterr().out
    data = validate_data_dir(data_dir, need_feats=True)
    assert data.utts == ["u0", "u1", "u2", "u9"] and list(data.feats) == ["u0", "u1", "u2"]


def test_speed_perturbation_needs_another_output_dir(an4_wavs, tmp_path):
    data_dir = audio_dir(an4_wavs, tmp_path)
    before = files_of(data_dir)
    with pytest.raises(ValueError, match="speed perturbation adds utterances.*give another output dir"):
        extract_features(data_dir, data_dir, FbankConfig(), speeds=(0.9, 1.0))
    assert files_of(data_dir) == before
