"""The bundled models by name: resolution, cards, and `asr models`."""

import json
import shutil

import pytest
import soundfile

import asr
from asr.cli import main
from asr.data import read_audio
from asr.data.degrade import telephone
from asr.inference import bundled_models, describe_model, resolve_model
from asr.inference.catalog import MODELS_DIR
from asr.inference.model_file import ModelFile
from asr.scoring import score
from conftest import an4_test_utterances


def test_the_an4_model_is_bundled_with_its_card():
    models = bundled_models()
    assert "an4" in models and models["an4"].path == MODELS_DIR / "an4.pt"
    facts = describe_model(models["an4"])
    assert facts["kind"] == "speech" and "16000 Hz" in facts["input"]
    assert facts["characters"] == 27  # a-z, the apostrophe and the word separator
    assert "lexicon of" in facts["decoding"] and "LM" in facts["decoding"]
    assert facts["language"] == "en" and "WER" in facts["test"]


def test_the_copiste_model_is_bundled_and_reads_real_test_lines(copiste_root, capsys):
    """`asr transcribe --model copiste line.png`: the handwriting model by name, with its character LM, on
    lines of writers it never saw (the corpus's test split), within its card's figures."""
    models = bundled_models()
    assert list(models) == ["an4", "copiste"]
    assert models["copiste"].path.stat().st_size <= 10 * 10**6  # the bound: 10 MB
    facts = describe_model(models["copiste"])
    assert facts["kind"] == "handwriting" and "64 pixels" in facts["input"]
    assert facts["decoding"] == "beam, with its LM" and facts["language"] == "fr" and "CER" in facts["test"]
    rows = [row.split("\t") for row in (copiste_root / "lines.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    test = [(copiste_root / image, text) for image, _, split, text in rows if split == "test"][:8]
    assert main(["transcribe", "--model", "copiste", *(str(path) for path, _ in test)]) == 0
    hyps = dict(line.split(" ", 1) for line in capsys.readouterr().out.splitlines())
    result = score({str(path): text for path, text in test}, hyps, unit="char")
    # The model's test CER is 8.6% with its LM; 8 lines (about 350 characters) vary, but not to 20%.
    assert len(hyps) == 8 and result.totals.rate < 0.20


def test_the_an4_model_hears_telephone_calls(an4_root, tmp_path):
    """Real AN4 test utterances sent through a telephone line (8 kHz files, 300-3400 Hz, mu-law): the shipped
    model, trained by the robust recipe, transcribes them near its card's figure with the word LM it carries.
    Its former name ``an4-robust`` still selects it."""
    models = bundled_models()
    assert models["an4"].path.stat().st_size <= 20 * 10**6  # the bound for the shipped model
    assert resolve_model("an4-robust") == models["an4"].path
    facts = describe_model(models["an4"])
    assert "telephone" in facts["test"] and "LM" in facts["decoding"]
    refs, calls = {}, []
    for utt, (text, wav) in an4_test_utterances(an4_root, 12).items():
        refs[utt] = text
        calls.append(tmp_path / f"{utt}.wav")
        soundfile.write(calls[-1], telephone(read_audio(wav, 16000), 16000), 8000)
    assert soundfile.info(calls[0]).samplerate == 8000
    results = list(asr.load_model("an4").transcribe_files(calls))
    assert all(r.error is None for r in results)
    # On the whole test set: 6.6% with the word LM (a model of the clean recipe: about 170%).
    assert score(refs, {path.stem: r.text for path, r in zip(calls, results)}).totals.rate < 0.25


def test_names_resolve_to_bundled_files_and_paths_stay_paths(tmp_path, monkeypatch):
    assert resolve_model("an4") == MODELS_DIR / "an4.pt"
    assert ModelFile.read("copiste").tokens == ModelFile.read(MODELS_DIR / "copiste.pt").tokens  # decode, export...
    assert resolve_model(None) == MODELS_DIR / "an4.pt"
    own = tmp_path / "mine.pt"
    own.write_bytes(b"x")
    assert resolve_model(own) == own
    # A user's own file named like a bundled model is theirs, not the bundled one.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "an4").write_bytes(b"x")
    assert resolve_model("an4").resolve() == (tmp_path / "an4").resolve()


def test_a_cards_aliases_select_its_model_but_never_shadow_a_file(tmp_path, monkeypatch):
    """A former name (a model merged into another) keeps selecting it; it is not listed as a model of its own."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(MODELS_DIR / "copiste.pt", folder / "main.pt")
    (folder / "main.yaml").write_text("aliases: [old-name]\n", encoding="utf-8")
    assert list(bundled_models(folder)) == ["main"] and bundled_models(folder)["main"].aliases == ["old-name"]
    assert resolve_model("old-name", folder) == folder / "main.pt"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old-name").write_bytes(b"x")
    assert resolve_model("old-name", folder).resolve() == (tmp_path / "old-name").resolve()
    with pytest.raises(FileNotFoundError, match=r"\(bundled: main;"):
        resolve_model("other", folder)


def test_an_unknown_name_lists_the_bundled_models(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^nosuch: no such model file, and not a bundled model \(bundled: an4"):
        resolve_model("nosuch")


def test_a_model_without_a_card_is_listed_from_its_file(tmp_path):
    shutil.copy(MODELS_DIR / "an4.pt", tmp_path / "plain.pt")
    models = bundled_models(tmp_path)
    assert list(models) == ["plain"] and models["plain"].card == {}
    assert describe_model(models["plain"])["kind"] == "speech"


def test_asr_models_lists_text_and_json(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("an4\n") and "decoding:" in out and "path:" in out
    assert "\n  aliases:     an4-robust\n" in out  # a list field as text, not a Python list
    assert main(["models", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["name"] == "an4" and rows[0]["path"].endswith("an4.pt")
    assert [row["name"] for row in rows] == ["an4", "copiste"] and rows[1]["kind"] == "handwriting"


def test_a_command_that_needs_torch_says_so_in_one_line_without_it(tmp_path):
    """The core install has no torch: `asr models` (which reads .pt files) and a .pt transcription say what to
    install, in one line, not a traceback."""
    import subprocess
    import sys

    block = "import sys; sys.modules['torch'] = None; from asr.cli import main; sys.exit(main(sys.argv[1:]))"
    for argv in (["models"], ["transcribe", "--vad", "energy", str(tmp_path / "a.wav")]):
        result = subprocess.run([sys.executable, "-c", block, *argv], capture_output=True, text=True)
        assert result.returncode == 1
        assert result.stderr.strip().splitlines() == [
            f"asr {argv[0]}: error: this needs PyTorch, which is not installed: pip install 'asr[torch]' "
            "(an ONNX model from `asr export --onnx` transcribes without it)"]
