"""tools/bench_digits.py: FSDD-named folders, the four conditions on real AN4 audio, and its table."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile
from conftest import REPO

from asr.data.audio import read_audio

TOOL = REPO / "tools" / "bench_digits.py"


@pytest.fixture(scope="module")
def tool():
    sys.path.insert(0, str(TOOL.parent))  # as when run: it imports bench_robustness from its own folder
    spec = importlib.util.spec_from_file_location("bench_digits", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fsdd(an4_wavs, tmp_path):
    """A folder laid out as FSDD's recordings/: 8 kHz 16-bit files DIGIT_SPEAKER_INDEX.wav (real AN4 audio)."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    for name, wav in (("7_an4_0.wav", an4_wavs[0]), ("3_an4_1.wav", an4_wavs[1])):
        soundfile.write(folder / name, read_audio(wav, 8000), 8000, subtype="PCM_16")
    (folder / "notes.wav").write_bytes(b"not FSDD")  # not an FSDD name: never read
    return folder


def test_fsdd_files_are_read_by_name_at_8_khz(tool, fsdd, an4_wavs, tmp_path):
    clips = tool.fsdd_clips(fsdd)
    assert [word for word, _ in clips] == ["THREE", "SEVEN"]
    assert len(clips[1][1]) == len(read_audio(an4_wavs[0], 8000))
    with pytest.raises(SystemExit, match=re.escape(str(tmp_path))):
        tool.fsdd_clips(tmp_path)


def test_conditions_on_real_audio(tool, an4_wavs):
    samples = read_audio(an4_wavs[0], 8000)
    rng = np.random.default_rng(0)
    assert tool.condition("as-is", samples, rng) is samples
    tight = tool.condition("tight", samples, rng)
    assert 0 < len(tight) < len(samples)
    zeros = tool.condition("tight+zeros", samples, rng)
    assert np.array_equal(zeros[3200:-3200], tight) and not zeros[:3200].any() and not zeros[-3200:].any()
    room = tool.condition("tight+room", samples, rng)
    assert len(room) == len(zeros) and np.std(room - zeros) == pytest.approx(10 ** (-60 / 20), rel=0.1)


def test_table_of_an_fsdd_folder(fsdd, tmp_path):
    out = tmp_path / "table.md"
    result = subprocess.run([sys.executable, str(TOOL), "--fsdd", str(fsdd), "--out", str(out)],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "| condition | right, greedy | right, word LM |"
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    assert [row[0] for row in cells] == ["as-is", "tight", "tight+zeros", "tight+room"]
    for row in cells:
        for cell in row[1:]:
            right, total = cell.split(" / ")
            assert total == "2" and 0 <= int(right) <= 2
    assert out.read_text() == result.stdout
