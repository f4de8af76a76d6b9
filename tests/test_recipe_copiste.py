"""End to end: every stage of recipes/copiste/run.sh on a few real handwritten lines with a tiny model."""

import re
import subprocess
import sys
from pathlib import Path

from conftest import copy_recipe, make_mini_copiste, make_mini_iam, run_recipe

TINY_CONFIG = """\
model: {stack: 1, conv_channels: [4, 8], conv_pool: [[2, 1], [2, 3]], hidden: 16, layers: 1}
use_spec_augment: false
use_image_augment: true
epochs: 2
warmup_steps: 2
max_frames: 6000
keep_best: 2
threads: 1
"""


def test_copiste_recipe_end_to_end(copiste_root, tmp_path):
    recipe = copy_recipe("copiste", tmp_path)
    (recipe / "conf" / "tiny.yaml").write_text(TINY_CONFIG)
    corpus = make_mini_copiste(copiste_root, tmp_path / "corpus")
    result = run_recipe(recipe, "--copiste-root", str(corpus), "--config", "conf/tiny.yaml",
                        "--char-lm-order", "4", "--lm-weights", "0.2,0.5", "--sil-scores", "0")
    for stage in range(10):
        assert f"stage {stage}:" in result.stdout
    exp = recipe / "exp" / "train"
    for system in ("greedy", "char_lm"):
        for part in ("dev", "test"):
            hyps = (exp / f"decode_{system}_{part}" / "text").read_text().splitlines()
            assert len(hyps) == 6
            for scoring in ("scoring", "scoring_nocase"):
                cer = (exp / f"decode_{system}_{part}" / scoring / "cer").read_text()
                assert re.search(r"%CER \d+\.\d\d \[", cer)
    results = (exp / "results.md").read_text()
    assert "## Case-insensitive" in results and "| test, char_lm |" in results

    # png and jpg lines are transcribed; an unreadable and a blank image are reported, counted, and fail the run.
    from PIL import Image

    line = next((corpus / "lines").glob("wikitexte_0014_2_000.png"))
    jpg = tmp_path / "line.jpg"
    Image.open(line).convert("L").save(jpg, quality=90)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    Image.new("L", (300, 64), 255).save(tmp_path / "blank.png")
    asr = str(Path(sys.executable).parent / "asr")
    out = subprocess.run([asr, "transcribe", "--model", str(exp / "model.pt"), str(line), str(jpg),
                          str(tmp_path / "broken.png"), str(tmp_path / "blank.png")], capture_output=True, text=True)
    assert out.returncode == 1
    assert [row.split(" ", 1)[0] for row in out.stdout.splitlines()] == [str(line), str(jpg)]
    assert "broken.png: unreadable image" in out.stderr and "blank.png" in out.stderr and "blank image" in out.stderr
    assert "asr transcribe: 2 input(s) failed" in out.stderr


def test_copiste_recipe_prepares_iam(copiste_root, tmp_path):
    """The same recipe on IAM's line layout, through its first stages."""
    recipe = copy_recipe("copiste", tmp_path)
    iam = make_mini_iam(copiste_root, tmp_path / "iam")
    result = run_recipe(recipe, "--corpus", "iam", "--iam-root", str(iam), "--stop-stage", "1",
                        "--iam-splits", f"train={iam}/train.lst dev={iam}/train.lst test={iam}/test.lst")
    assert "train: 2 utterances dev: 2 utterances test: 1 utterances" in result.stdout
    assert len((recipe / "data" / "test" / "feats.scp").read_text().splitlines()) == 1
