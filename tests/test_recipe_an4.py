"""End to end: every stage of recipes/an4/run.sh on a mini AN4 with a tiny model; the real config's model."""

import itertools
import json
import re
import subprocess
import sys

import torch
from conftest import REPO, copy_recipe, make_mini_an4, run_recipe

from asr.config import load_config
from asr.data.audio import read_audio
from asr.data.features import fbank
from asr.data.kaldi_fbank import FbankConfig
from asr.model import AcousticModel
from asr.train.loop import TrainConfig

TINY_CONFIG = """\
model: {hidden: 24, layers: 2, dropout: 0.1}
epochs: 2
warmup_steps: 2
max_frames: 4000
keep_best: 2
threads: 1
"""


def test_an4_recipe_end_to_end(an4_root, tmp_path):
    recipe = copy_recipe("an4", tmp_path)
    (recipe / "conf" / "tiny.yaml").write_text(TINY_CONFIG)
    corpus = make_mini_an4(an4_root, tmp_path / "corpus")
    options = ["--an4-root", str(corpus), "--config", "conf/tiny.yaml", "--dev-speakers", "2", "--average", "2",
               "--speed-perturb", "0.9 1.0", "--lm-weights", "0.5,1", "--word-scores", "0,1,2", "--sil-scores", "0"]
    result = run_recipe(recipe, *options)
    for stage in range(9):
        assert f"stage {stage}:" in result.stdout
    assert (recipe / "data" / "train_sp" / "feats.scp").read_text().startswith("an")
    assert "sp0.9-" in (recipe / "data" / "train_sp" / "utt2spk").read_text()
    model = recipe / "exp" / "train" / "model.pt"
    assert model.exists() and (recipe / "exp" / "train" / "train.png").exists()
    exp = recipe / "exp" / "train"
    for system, part in itertools.product(("greedy", "lexicon", "word_lm", "char_lm"), ("dev", "test")):
        hyps = (exp / f"decode_{system}_{part}" / "text").read_text().splitlines()
        refs = (recipe / "data" / part / "text").read_text().splitlines()
        assert [h.split()[0] for h in hyps] == [r.split()[0] for r in refs]
        scoring = exp / f"decode_{system}_{part}" / "scoring"
        assert re.search(r"%WER \d+\.\d\d \[ \d+ / \d+, \d+ ins, \d+ del, \d+ sub \]", (scoring / "wer").read_text())
        assert re.search(r"%CER \d+\.\d\d \[", (scoring / "cer").read_text())
    assert "\\data\\" in (exp / "lm" / "word.arpa").read_text()
    tuned = (exp / "tune_word_lm" / "tune.tsv").read_text().splitlines()
    assert tuned[0] == "lm_weight\tword_score\twer" and len(tuned) == 1 + 2 * 3
    assert "lm_weight" in (exp / "tune_word_lm" / "decode.yaml").read_text()
    assert (exp / "decode_word_lm_test" / "ctm").exists()  # empty when the tiny model outputs nothing

    # A re-run skips the finished steps; --force true redoes them, here with 2 parallel jobs each.
    greedy = (exp / "decode_greedy_test" / "text").read_text()
    model_time = model.stat().st_mtime_ns
    rerun = run_recipe(recipe, *options, "--stage", "0", "--stop-stage", "4")
    assert rerun.stdout.count("done before, skipped") == 8 and model.stat().st_mtime_ns == model_time
    forced = run_recipe(recipe, *options, "--stage", "4", "--stop-stage", "4", "--force", "true", "--nj", "2")
    assert "skipped" not in forced.stdout and (exp / "decode_greedy_test" / "log" / "decode.2.log").exists()
    assert (exp / "decode_greedy_test" / "text").read_text() == greedy

    # The model file alone transcribes audio; a missing file fails alone.
    wav = sorted(corpus.glob("wav/*/*/*.wav"))[0]
    out = asr_cli("transcribe", "--model", model, wav, tmp_path / "missing.wav")
    assert out.returncode == 1
    assert out.stdout.startswith(f"{wav} ") and len(out.stdout.splitlines()) == 1
    assert "missing.wav: no such file" in out.stderr and len(out.stderr.splitlines()) == 2  # the error, the count

    # An exported model carries the tuned lexicon and LM: transcription uses them by default.
    exported = tmp_path / "exported.pt"
    assert asr_cli("export", "--model", model, "--out", exported, "--half",
                   "--decode-config", exp / "tune_word_lm" / "decode.yaml").returncode == 0
    out = asr_cli("transcribe", "--model", exported, "--format", "json", wav)
    record = json.loads(out.stdout)
    lexicon = {line.split()[0] for line in (exp / "lm" / "lexicon.txt").read_text().splitlines()}
    assert out.returncode == 0 and record["source"] == str(wav)
    words = [w for segment in record["segments"] for w in segment["words"]]
    assert all(w["word"] in lexicon for w in words)
    assert " ".join(w["word"] for w in words) == record["text"]

    # N-best lists and forced alignment of the references.
    nbest = tmp_path / "nbest"
    assert asr_cli("decode", "--model", model, "--data", recipe / "data" / "test", "--out", nbest,
                   "--mode", "beam", "--nbest", "3").returncode == 0
    lines = (nbest / "nbest.txt").read_text().splitlines()
    assert lines[0].split()[0].endswith("-1") and len(lines) > len(refs)
    out = asr_cli("align", "--model", model, "--data", recipe / "data" / "test", "--out", tmp_path / "ref.ctm")
    ctm = (tmp_path / "ref.ctm").read_text().splitlines()
    assert out.returncode == 0 and ctm and all(len(line.split()) == 6 for line in ctm)


def asr_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "asr.cli", *map(str, args)], capture_output=True, text=True)


def test_an4_recipe_config_builds_its_model(an4_root):
    """conf/train.yaml loads (unknown keys are errors) and its model maps real fbank to 30 ms CTC frames."""
    config = load_config(TrainConfig, REPO / "recipes" / "an4" / "conf" / "train.yaml")
    config.model.input_dim, config.model.num_tokens = 80, 28
    assert config.model.subsampling == 3
    model = AcousticModel(config.model).eval()
    wav = next((an4_root / "wav" / "an4test_clstk").rglob("*.wav"))
    feats = fbank(read_audio(wav, 16000), FbankConfig())
    with torch.no_grad():
        log_probs, lengths = model(feats.unsqueeze(0), torch.tensor([feats.shape[0]]))
    assert int(lengths[0]) == feats.shape[0] // 3 and log_probs.shape[-1] == 28
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(1, log_probs.shape[1]))
