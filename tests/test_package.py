"""Model files and checkpoints: saves that fail leave nothing behind, and files asr cannot use are
refused in one line naming the file and the fault (built here from the shipped model's contents)."""

import errno
import lzma
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

import asr
from asr.cli import main as cli
from asr.config import to_dict
from asr.inference import model_file
from asr.inference.model_file import CarriedDecoding, ModelFile, atomic_save, read_checkpoint
from asr.inference.recognizer import load_recognizer
from asr.train.checkpoint import average_checkpoints
from asr.train.loop import TrainConfig

SHIPPED = Path(asr.__file__).parent / "models" / "an4.pt"


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    return read_checkpoint(SHIPPED)


def _copy(shipped: dict[str, Any]) -> dict[str, Any]:
    """The shipped model file's contents, with a state_dict of its own to cut."""
    return {**shipped, "state_dict": dict(shipped["state_dict"])}


@pytest.mark.parametrize("failure", [
    RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"),  # torch on a full disk
    OSError(errno.ENOSPC, "No space left on device"),
])
def test_a_failed_save_removes_its_temp_file_and_names_the_file(tmp_path, monkeypatch, failure):
    path = tmp_path / "last.pt"
    path.write_bytes(b"the previous checkpoint")

    def full_disk(obj: Any, f: Path) -> None:  # part of the file written, then the error
        Path(f).write_bytes(b"part")
        raise failure

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match=f"^{re.escape(str(path))}: cannot save \\(.+\\)$"):
        atomic_save({"epoch": 1}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    assert path.read_bytes() == b"the previous checkpoint"


def test_a_save_onto_a_directory_fails_without_leaving_a_temp_file(tmp_path):
    (tmp_path / "epoch-3.pt").mkdir()
    with pytest.raises(OSError, match=f"^{re.escape(str(tmp_path / 'epoch-3.pt'))}: cannot save"):
        atomic_save({"w": torch.zeros(2)}, tmp_path / "epoch-3.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["epoch-3.pt"]


def _drop(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda values: values.pop(key)


@pytest.mark.parametrize("change, message", [
    (_drop("tokens"), "no 'tokens' in the file"),
    (lambda values: values["state_dict"].pop("output.weight"),
     "weights do not fit the model config: missing output.weight"),
    (lambda values: values["state_dict"].update({"lm_head.weight": torch.zeros(2)}),
     "weights do not fit the model config: unexpected lm_head.weight"),
    (lambda values: values["state_dict"].update({"output.bias": torch.zeros(5)}),
     "weights do not fit the model config: misshapen output.bias (5,) (the model config wants (28,))"),
    (lambda values: values.update(tokens=values["tokens"][:-1]), "27 tokens, but the model has 28 outputs"),
    (lambda values: values.update(format="asr-model-3"),
     "made by a newer version of asr (format asr-model-3; this version reads asr-model-1 and asr-model-2)"),
])
def test_damaged_and_newer_model_files_are_refused_in_one_line(shipped, tmp_path, capsys, change, message):
    values = _copy(shipped)
    change(values)
    path = tmp_path / "model.pt"
    torch.save(values, path)
    with pytest.raises(ValueError, match=f"^{re.escape(f'{path}: {message}')}") as error:
        load_recognizer(path)
    assert "\n" not in str(error.value)
    assert cli(["export", "--model", str(path), "--out", str(tmp_path / "out.pt")]) == 1
    assert capsys.readouterr().err == f"asr export: error: {error.value}\n"
    assert not (tmp_path / "out.pt").exists()


@pytest.mark.parametrize("content", [torch.zeros(3), {"output.weight": torch.zeros(2)}],
                         ids=["a tensor", "bare weights"])
def test_foreign_files_are_not_asr_model_files(tmp_path, content):
    path = tmp_path / "model.pt"
    torch.save(content, path)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: not an asr model file"):
        load_recognizer(path)


def test_average_refuses_epoch_weights_that_do_not_fit_the_model(shipped, tmp_path, capsys):
    """An exp dir made from the shipped model: its spec in last.pt, its weights less one as epoch-1.pt."""
    exp = tmp_path / "exp"
    exp.mkdir()
    spec = {key: value for key, value in shipped.items() if key != "state_dict"}
    torch.save({"config": to_dict(TrainConfig()), "spec": spec, "model": {}, "optimizer": {}, "scheduler": {},
                "epoch": 1, "history": [{"epoch": 1, "dev_cer": 0.1, "dev_loss": 1.0}]}, exp / "last.pt")
    weights = dict(shipped["state_dict"])
    del weights["output.weight"]
    torch.save(weights, exp / "epoch-1.pt")
    message = f"{exp / 'epoch-1.pt'}: weights do not fit the model config: missing output.weight"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        average_checkpoints(exp, 1, tmp_path / "model.pt")
    assert cli(["average", "--exp", str(exp), "--best", "1", "--out", str(tmp_path / "model.pt")]) == 1
    assert capsys.readouterr().err == f"asr average: error: {message}\n"
    assert not (tmp_path / "model.pt").exists()


def test_average_refuses_a_model_file_in_place_of_its_checkpoint(shipped, tmp_path):
    exp = tmp_path / "exp"
    exp.mkdir()
    torch.save(shipped, exp / "last.pt")
    message = f"{exp / 'last.pt'}: not a training checkpoint (no 'config')"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        average_checkpoints(exp, 1, tmp_path / "model.pt")


def test_model_file_round_trip_keeps_the_carried_decoding_and_the_weights(shipped, tmp_path):
    """A format-1 file (lexicon and LM as text, as an4.pt was shipped until 2026-12) read and written again
    (format 2: compressed) holds the same; its lexicon and LM unpack where they are used."""
    contents = ModelFile.read(SHIPPED)
    carried = contents.decoding
    assert isinstance(carried, CarriedDecoding) and carried.config.mode == "beam"
    assert carried.config.lexicon is None and carried.config.lm is None and carried.lexicon and carried.lm
    assert shipped["format"] == "asr-model-2"
    old = {**shipped, "format": "asr-model-1",
           "decoding": {**shipped["decoding"], "lexicon": carried.lexicon, "lm": carried.lm}}
    torch.save(old, tmp_path / "old.pt")
    again = ModelFile.read(tmp_path / "old.pt")
    assert (again.decoding.lexicon, again.decoding.lm) == (carried.lexicon, carried.lm)
    again.write(tmp_path / "copy.pt")
    stored = read_checkpoint(tmp_path / "copy.pt")
    assert stored["format"] == "asr-model-2"
    assert stored["decoding"]["lm"].dtype == torch.uint8 and len(stored["decoding"]["lm"]) < len(carried.lm) / 3
    assert all(torch.equal(stored["state_dict"][k], v) for k, v in shipped["state_dict"].items())
    # The compressed LM is stored as it is (a tensor's raw bytes), not inflated by pickling.
    lm_bytes = len(stored["decoding"]["lm"]) + len(stored["decoding"]["lexicon"])
    assert (tmp_path / "copy.pt").stat().st_size < (tmp_path / "old.pt").stat().st_size - len(carried.lm) \
        - len(carried.lexicon) + lm_bytes + 2**16


def _xz(data: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(lzma.compress(data)), dtype=torch.uint8)


@pytest.mark.parametrize("version, decoding, message", [
    (1, {"lm": "\\data\\"}, "no 'config' in the file"),
    (1, {"config": {"mode": "bem"}}, "mode must be 'greedy' or 'beam', got 'bem'"),
    (1, {"config": {}, "lexicon": b"bytes"}, "the lexicon must be text, got bytes"),
    (2, {"config": {}, "lexicon": "A A"}, "the lexicon must be compressed text (a 1-D uint8 tensor), got str"),
    (2, {"config": {}, "lm": torch.zeros(3)}, "the LM must be compressed text (a 1-D uint8 tensor), got a "
                                              "torch.float32 tensor of shape (3,)"),
    (2, {"config": {}, "lexicon": torch.arange(64, dtype=torch.uint8)},
     "the lexicon is damaged (Input format not supported by decoder)"),
    (2, {"config": {}, "lm": _xz(b"\\data\\")[:-8]}, "the LM is cut short or unpacks to over 2048 MiB"),
    (2, {"config": {}, "lm": _xz(b"\xff\xfe")}, "the LM is damaged ('utf-8' codec can't decode"),
])
def test_a_damaged_carried_decoding_is_refused_in_one_line(shipped, tmp_path, version, decoding, message):
    """Format 1 carries text, format 2 compressed bytes (a uint8 tensor): anything else is refused, naming it."""
    path = tmp_path / "model.pt"
    torch.save({**shipped, "format": f"asr-model-{version}", "decoding": decoding}, path)
    with pytest.raises(ValueError, match=f"^{re.escape(f'{path}:decoding: {message}')}"):
        load_recognizer(path)


def test_unpacking_a_carried_lm_stops_at_its_limit(shipped, tmp_path, monkeypatch):
    """A small file that unpacks to a huge LM (damaged, or made to) is refused before it fills the memory."""
    monkeypatch.setattr(model_file, "MAX_UNPACKED", 2**20)
    path = tmp_path / "model.pt"
    torch.save({**shipped, "format": "asr-model-2", "decoding": {"config": {}, "lm": _xz(bytes(2**20 + 1))}}, path)
    with pytest.raises(ValueError, match="the LM is cut short or unpacks to over 1 MiB"):
        load_recognizer(path)


class NotTensors:
    """An object torch.save pickles but weights_only loading refuses (as another toolkit's whole model)."""


@pytest.mark.parametrize("make, reason", [
    (lambda path: path.write_bytes(bytes(range(256)) * 20), "not a file that PyTorch wrote"),
    (lambda path: path.write_text("u1 HELLO WORLD\n"), "a text file, not a model"),
    (lambda path: path.write_bytes(b""), "an empty file"),
    (lambda path: path.write_bytes(SHIPPED.read_bytes()[:100000]), "damaged or cut short"),
    (lambda path: torch.save({"model": NotTensors()}, path), "it holds Python objects besides tensors"),
], ids=["random bytes", "text", "empty", "cut short", "pickled objects"])
def test_a_file_torch_cannot_read_is_named_in_one_line(tmp_path, capfd, make, reason):
    """Not torch's paragraphs of weights_only advice, nor its warnings: the file, and what it seems to be."""
    path = tmp_path / "model.pt"
    make(path)
    assert cli(["export", "--model", str(path), "--out", str(tmp_path / "out.pt")]) == 1
    out, err = capfd.readouterr()
    assert out == "" and err.startswith(f"asr export: error: {path}: unreadable model file ({reason}")
    assert err.count("\n") == 1 and "weights_only" not in err and "\x1b" not in err


def test_bare_weights_are_named_as_such(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"output.weight": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: not an asr model file \\(bare weights, a "
                                         "state_dict, .*\\); asr model files are written by 'asr average' and 'asr "
                                         "export'$"):
        load_recognizer(path)
