"""tools/bench_robustness.py: its table's shape on a few real AN4 utterances, and per-utterance seeding."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO

TOOL = REPO / "tools" / "bench_robustness.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("bench_robustness", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_of_a_few_utterances_and_conditions(mini_an4, tmp_path):
    """The mini AN4 tree: real test utterances, and real training ones to make babble of."""
    conditions = ["clean", "telephone", "babble-5"]
    out, hyp_dir = tmp_path / "table.md", tmp_path / "hyp"
    result = subprocess.run(
        [sys.executable, str(TOOL), "--an4-root", str(mini_an4), "--limit", "2", "--conditions", *conditions,
         "--out", str(out), "--hyp-dir", str(hyp_dir)],
        capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "| condition | WER greedy | WER word LM | CER greedy |"
    assert [line.split("|")[1].strip() for line in lines[2:]] == conditions
    assert all(len(line.split("|")) == 6 for line in lines)
    clean = lines[2].split("|")
    assert all(float(cell) >= 0 for cell in clean[2:5])
    assert out.read_text() == result.stdout
    for name in conditions:
        assert len((hyp_dir / f"{name}.greedy.txt").read_text().splitlines()) == 2


def test_each_utterance_gets_its_own_draws_whatever_else_runs():
    tool = load_tool()
    samples = np.asarray(np.random.default_rng(0).standard_normal(8000) * 0.1, np.float32)

    def noisy(utt: str, seed: int = 0) -> np.ndarray:
        return tool.degraded("white", 5.0, samples, 16000, tool.utterance_rng(seed, utt, "white"), list)[0]

    assert np.array_equal(noisy("an391-mjwl-b"), noisy("an391-mjwl-b"))
    assert not np.array_equal(noisy("an391-mjwl-b"), noisy("an392-mjwl-b"))
    assert not np.array_equal(noisy("an391-mjwl-b"), noisy("an391-mjwl-b", seed=1))
    padded = tool.degraded("padded", 1.0, samples, 16000, tool.utterance_rng(0, "u", "padded"), list)[0]
    assert len(padded) == 8000 + 2 * 16000 and not padded[:16000].any() and not padded[-16000:].any()
    assert np.array_equal(padded[16000:-16000], samples)
    quiet = tool.degraded("quiet", 1.0, samples, 16000, tool.utterance_rng(0, "u", "quiet"), list)[0]
    assert np.array_equal(quiet[16000:-16000], samples) and quiet[:16000].all()
    assert np.std(quiet[:16000]) == pytest.approx(10 ** (-90 / 20), rel=0.1)  # -90 dBFS
    speech = np.concatenate([np.zeros(4000, np.float32), samples, np.zeros(4000, np.float32)])
    gated = tool.degraded("gated", -90.0, speech, 16000, tool.utterance_rng(0, "u", "gated"), list)[0]
    assert len(gated) == len(speech) and gated[:2000].all()  # the zeros beyond 100 ms of the speech are filled
    narrow, narrow_rate = tool.degraded("8k-padded", 1.0, samples, 16000, tool.utterance_rng(0, "u", "8k"), list)
    assert narrow_rate == 8000 and not narrow[:8000].any() and not narrow[-8000:].any()
    assert len(narrow) == 16000 + len(tool.degraded("rate", 8000, samples, 16000, None, list)[0])
    wide, wide_rate = tool.degraded(*tool.CONDITIONS["44k"], samples, 16000, None, list)
    assert wide_rate == 44100 and abs(len(wide) - len(samples) * 44100 / 16000) <= 1
    assert set(tool.CONDITIONS) == {
        "clean", "8k", "telephone", "trimmed", "gain-25", "gain+15", "white-20", "white-10", "white-5",
        "babble-20", "babble-10", "babble-5", "reverb-0.3", "reverb-0.5", "reverb-0.8", "padded-0.3", "padded-1",
        "quiet-1", "gated", "8k-padded-1", "11k", "44k"}


def test_dev_speakers_are_benchmarked_apart_from_test(mini_an4, tmp_path):
    result = subprocess.run(
        [sys.executable, str(TOOL), "--an4-root", str(mini_an4), "--set", "dev", "--limit", "1",
         "--conditions", "clean", "--hyp-dir", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "1 AN4 dev utterances" in result.stderr
    (utt,) = [line.split()[0] for line in (tmp_path / "clean.greedy.txt").read_text().splitlines()]
    test_ids = (mini_an4 / "etc" / "an4_test.fileids").read_text()
    assert utt.split("-")[1] not in test_ids  # a training speaker, not a test one
