"""The shared recipe template (recipes/TEMPLATE/ctc.sh) and its option parsing (tools/parse_options.sh).

Option errors stop a recipe before any stage.  The stages themselves run here with a stub `asr` that
logs its command lines, so every recipe's full command sequence is checked in a second, LibriSpeech's
included (which cannot run here: no corpus, no GPU); tests/test_recipe_{an4,copiste}.py run the real thing.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest
from conftest import copy_recipe


STUB_ASR = r"""#!/usr/bin/env bash
# Logs its command line and makes what the recipe reads back: scores, decoding dirs.
{ printf '%q ' "$(basename "$0")" "$@"; echo; } >>"$STUB_LOG"
args=("$@"); out=""; outdir=""
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in --out) out=${args[i+1]} ;; --out-dir) outdir=${args[i+1]} ;; esac
done
case ${1:-} in
  score) mkdir -p "$outdir"; echo "%WER 1.00 [ 1 / 100, 0 ins, 0 del, 1 sub ]" >"$outdir/wer"
         echo "%CER 2.00 [ 2 / 100, 0 ins, 0 del, 2 sub ]" >"$outdir/cer" ;;
  decode) mkdir -p "$out" ;;
esac
"""


def run(recipe: Path, *options: str, stub: Path | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """bash run.sh OPTIONS; with stub, `asr`, `python`, `torchrun` and `lmplz` are the logging stub."""
    path = "/usr/bin:/bin"  # without a stub no `asr` at all: option errors must come before anything runs
    env = {"ASR_NO_SETUP": "1"}
    if stub is not None:
        bin_dir = stub / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        for tool in ("asr", "python", "torchrun", "lmplz"):
            (bin_dir / tool).write_text(STUB_ASR)
            (bin_dir / tool).chmod(0o755)
        path = f"{bin_dir}:{path}"
        env["STUB_LOG"] = str(stub / "commands")
    return subprocess.run(["bash", str(recipe / "run.sh"), *options], cwd=cwd or recipe, capture_output=True,
                          text=True, env={"PATH": path, **env})


@pytest.fixture(scope="module")
def recipes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("recipes")
    return {name: copy_recipe(name, tmp / name) for name in ("an4", "copiste", "librispeech")}


@pytest.mark.parametrize("name", ["an4", "copiste", "librispeech"])
@pytest.mark.parametrize("option", [["--force", "yes"], ["--force=1"], ["--ctm", "no"], ["--score-nocase", "True"]])
def test_a_boolean_option_takes_only_true_or_false(recipes, name, option):
    result = run(recipes[name], *option)
    flag, value = option if len(option) == 2 else option[0].split("=")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"{recipes[name] / 'run.sh'}: option {flag} takes true or false, not '{value}'"]
    assert result.stdout == ""


@pytest.mark.parametrize("name", ["an4", "copiste", "librispeech"])
def test_unknown_options_and_arguments_are_one_line_errors(recipes, name):
    script = recipes[name] / "run.sh"
    for args, error in ((["--no-such-option", "1"], "unknown option --no-such-option"),
                        (["--bogus=1"], "unknown option --bogus"),
                        (["--nj"], "option --nj needs a value"),
                        (["--nj", "2", "stray"], "unexpected argument 'stray' (options are --name value)")):
        result = run(recipes[name], *args)
        assert result.returncode == 1, args
        assert result.stderr.splitlines() == [f"{script}: {error}"], args


def test_corpus_option_errors(recipes):
    result = run(recipes["copiste"], "--corpus", "foo")
    assert result.returncode == 1 and result.stderr.endswith("--corpus must be copiste or iam, got 'foo'\n")
    result = run(recipes["copiste"], "--stage", "2")
    assert result.returncode == 1 and result.stderr.endswith("give --copiste-root (or COPISTE_ROOT)\n")
    result = run(recipes["librispeech"], "--eval-subsets", "test-clean")
    assert result.returncode == 1 and "--dev-set dev_clean is not among the evaluation sets (test_clean)" in result.stderr
    for option, error in ((["--metric", "ser"], "--metric must be wer or cer, got 'ser'"),
                          (["--average-by", "worst"], "--average-by must be best or last, got 'worst'"),
                          (["--average", "05"], "--average must be a whole number >= 1, got '05'"),
                          (["--beam-systems", "lexicon word"], "--beam-systems takes lexicon, word_lm, char_lm, got 'word'")):
        result = run(recipes["an4"], *option)
        assert result.returncode == 1 and result.stderr.splitlines()[-1].endswith(error)


def test_help_lists_recipe_and_template_options_once(recipes):
    result = run(recipes["copiste"], "--help")
    assert result.returncode == 0
    names = [line.split()[0] for line in result.stderr.splitlines()[1:]]
    assert len(names) == len(set(names))
    assert names.index("--copiste-root") < names.index("--stage")  # the recipe's first, then the template's
    assert {"--force", "--cmd", "--lm-weights", "--ngpu", "--score-nocase", "--iam-splits"} <= set(names)
    options = {line.split()[0]: line for line in result.stderr.splitlines()[1:]}
    assert options["--metric"].split()[1] == "cer"  # the recipe's default hides the template's


def stub_run(recipe: Path, tmp_path: Path, *options: str) -> list[str]:
    stub = tmp_path / "stub"
    result = run(recipe, *options, stub=stub, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for stage in range(10):
        assert f"stage {stage}:" in result.stdout
    return (stub / "commands").read_text().splitlines()


def test_librispeech_commands(tmp_path):
    """All stages of recipes/librispeech/run.sh: subset names, torchrun, the LM corpus, hyphenated decoding dirs."""
    recipe = copy_recipe("librispeech", tmp_path)
    (tmp_path / "lm.txt.gz").write_bytes(gzip.compress(b"a word\n"))  # relative to where run.sh is called from
    commands = stub_run(recipe, tmp_path, "--librispeech-root", "LS", "--ngpu", "2", "--lm-text", "lm.txt.gz",
                        "--eval-subsets", "dev-clean test-other", "--speed-perturb", "0.9 1.0 1.1")
    model = "exp/train/model.pt"
    assert commands == [
        f"asr prepare librispeech --root {tmp_path}/LS --download-dir ../../data/downloads --out data --subsets "
        "train-clean-100 train-clean-360 train-other-500 dev-clean test-other "
        "--combine train_960=train-clean-100\\,train-clean-360\\,train-other-500 ",
        "asr features data/train_960 data/train_960_sp --speed-perturb 0.9 1.0 1.1 --nj 8 --cmd local ",
        "asr features data/dev_clean data/dev_clean --nj 8 --cmd local ",
        "asr features data/test_other data/test_other --nj 8 --cmd local ",
        "torchrun --standalone --nproc-per-node 2 -m asr train --config conf/train_2gpu.yaml --train data/train_960_sp "
        "--dev data/dev_clean --exp exp/train --resume ",
        f"asr average --exp exp/train --out {model} ",  # the epochs the training config keeps for it
        f"asr decode --model {model} --data data/dev_clean --mode greedy --out exp/train/decode_greedy_dev-clean "
        "--nj 8 --cmd local ",
        f"asr decode --model {model} --data data/test_other --mode greedy --out exp/train/decode_greedy_test-other "
        "--nj 8 --cmd local ",
        "asr score --mode all --ref data/dev_clean/text --hyp exp/train/decode_greedy_dev-clean/text "
        "--out-dir exp/train/decode_greedy_dev-clean/scoring --utt2spk data/dev_clean/utt2spk ",
        "asr score --mode all --ref data/test_other/text --hyp exp/train/decode_greedy_test-other/text "
        "--out-dir exp/train/decode_greedy_test-other/scoring --utt2spk data/test_other/utt2spk ",
        f"asr lm lexicon --plain --text exp/train/lm/lm_text.txt --model {model} --out exp/train/lm/lexicon.txt ",
        "asr lm train --plain --text exp/train/lm/lm_text.txt --unit word --order 3 --out exp/train/lm/word.arpa ",
        f"asr tune --model {model} --data data/dev_clean --out exp/train/tune_word_lm --lexicon exp/train/lm/lexicon.txt "
        "--lm exp/train/lm/word.arpa --grid lm_weight=0.25\\,0.5\\,0.75\\,1\\,1.5 word_score=-1\\,0\\,1\\,2 ",
        f"asr decode --model {model} --data data/dev_clean --config exp/train/tune_word_lm/decode.yaml "
        "--out exp/train/decode_word_lm_dev-clean --ctm --nj 8 --cmd local ",
        "asr score --mode all --ref data/dev_clean/text --hyp exp/train/decode_word_lm_dev-clean/text "
        "--out-dir exp/train/decode_word_lm_dev-clean/scoring --utt2spk data/dev_clean/utt2spk ",
        f"asr decode --model {model} --data data/test_other --config exp/train/tune_word_lm/decode.yaml "
        "--out exp/train/decode_word_lm_test-other --ctm --nj 8 --cmd local ",
        "asr score --mode all --ref data/test_other/text --hyp exp/train/decode_word_lm_test-other/text "
        "--out-dir exp/train/decode_word_lm_test-other/scoring --utt2spk data/test_other/utt2spk ",
        "python ../../tools/results_table.py exp/train/decode_greedy_dev-clean exp/train/decode_greedy_test-other "
        "exp/train/decode_word_lm_dev-clean exp/train/decode_word_lm_test-other ",
    ]
    assert (recipe / "exp" / "train" / "lm" / "lm_text.txt").read_text() == "a word\n"  # unzipped from the .gz


def test_copiste_and_an4_systems(tmp_path):
    """The differences the template's options make: CER tuning, case-folded scoring, no CTM; AN4's three systems."""
    commands = stub_run(copy_recipe("copiste", tmp_path), tmp_path, "--copiste-root", "/corpus", "--nj", "2",
                        "--average", "3", "--average-by", "last")
    assert commands[0] == "asr prepare copiste --root /corpus --out data "
    assert "asr average --exp exp/train --last 3 --out exp/train/model.pt " in commands
    assert commands[1] == "asr features data/train data/train --config conf/image.yaml --nj 2 --cmd local "
    tune = [c for c in commands if c.startswith("asr tune")]
    assert len(tune) == 1 and "--out exp/train/tune_char_lm" in tune[0] and tune[0].endswith(" --metric cer ")
    lm_decodes = [c for c in commands if c.startswith("asr decode") and "--config" in c]
    assert len(lm_decodes) == 2 and not any("--ctm" in c for c in lm_decodes)
    assert sum("--lowercase" in c for c in commands) == 2 + 2  # greedy and char LM, dev and test
    assert commands[-1].startswith("python ../../tools/results_table.py --scoring scoring_nocase ")

    an4 = stub_run(copy_recipe("an4", tmp_path / "an4"), tmp_path / "an4")
    assert an4[0] == "asr prepare an4 --download-dir ../../data/downloads --out data --dev-speakers 5 "
    assert an4[1] == "asr features data/train data/train_sp --speed-perturb 1.0 --nj 1 --cmd local "
    decodes = [c.split("--out ")[1].split()[0] for c in an4 if c.startswith("asr decode")]
    assert decodes == [f"exp/train/decode_{s}_{p}" for s in ("greedy", "lexicon", "word_lm", "char_lm")
                       for p in ("dev", "test")]
    assert not any("--lowercase" in c or "--metric" in c for c in an4)
    # Greedy said aloud: asr decode's default is the decoding a model file carries, which may be a word LM.
    greedy = [c for c in an4 if c.startswith("asr decode") and "decode_greedy_" in c]
    assert len(greedy) == 2 and all(" --mode greedy " in c for c in greedy)
