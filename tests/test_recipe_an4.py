"""End to end: every stage of recipes/an4/run.sh on a mini AN4 with a tiny model."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, make_mini_an4

TINY_CONFIG = """\
model: {hidden: 24, layers: 2, dropout: 0.1}
epochs: 2
warmup_steps: 2
max_frames: 4000
keep_best: 2
threads: 1
"""


def test_an4_recipe_end_to_end(an4_root, tmp_path):
    recipe = tmp_path / "an4"
    shutil.copytree(REPO / "recipes" / "an4", recipe, ignore=shutil.ignore_patterns("data", "exp"))
    # run.sh finds the tools and the environment relative to itself.
    (tmp_path / "tools").symlink_to(REPO / "tools")
    (recipe / "conf" / "tiny.yaml").write_text(TINY_CONFIG)
    corpus = make_mini_an4(an4_root, tmp_path / "corpus")
    env_bin = str(Path(sys.executable).parent)
    result = subprocess.run(
        ["bash", "run.sh", "--an4-root", str(corpus), "--config", "conf/tiny.yaml", "--dev-speakers", "2",
         "--average", "2", "--speed-perturb", "0.9 1.0"],
        cwd=recipe, capture_output=True, text=True, env={"PATH": f"{env_bin}:/usr/bin:/bin", "ASR_NO_SETUP": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for stage in range(6):
        assert f"stage {stage}:" in result.stdout
    assert (recipe / "data" / "train_sp" / "feats.scp").read_text().startswith("an")
    assert "sp0.9-" in (recipe / "data" / "train_sp" / "utt2spk").read_text()
    model = recipe / "exp" / "train" / "model.pt"
    assert model.exists() and (recipe / "exp" / "train" / "train.png").exists()
    for part in ("dev", "test"):
        hyps = (recipe / "exp" / "train" / f"decode_greedy_{part}" / "text").read_text().splitlines()
        refs = (recipe / "data" / part / "text").read_text().splitlines()
        assert [h.split()[0] for h in hyps] == [r.split()[0] for r in refs]
        scoring = recipe / "exp" / "train" / f"decode_greedy_{part}" / "scoring"
        assert re.search(r"%WER \d+\.\d\d \[ \d+ / \d+, \d+ ins, \d+ del, \d+ sub \]", (scoring / "wer").read_text())
        assert re.search(r"%CER \d+\.\d\d \[", (scoring / "cer").read_text())

    # The model file alone transcribes audio; a missing file fails alone.
    wav = sorted(corpus.glob("wav/*/*/*.wav"))[0]
    out = subprocess.run([sys.executable, "-m", "asr.cli", "transcribe", "--model", str(model), str(wav),
                          str(tmp_path / "missing.wav")], capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stdout.startswith(f"{wav} ") and len(out.stdout.splitlines()) == 1
    assert "missing.wav: no such file" in out.stderr and len(out.stderr.splitlines()) == 1
