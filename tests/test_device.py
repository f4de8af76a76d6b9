"""Devices and threads for the commands that run a model, and the transcriber's habits that cost time."""

from __future__ import annotations

import pytest
import torch

import asr
from asr.cli import main
from asr.device import resolve_device, set_threads
from asr.inference import transcriber as transcribe


def test_auto_is_the_gpu_when_there_is_one() -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_line() -> None:
    with pytest.raises(ValueError, match="device cuda: torch sees no CUDA device"):
        resolve_device("cuda")


def test_unknown_device_and_negative_threads_are_refused() -> None:
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda"):
        resolve_device("gpu")
    with pytest.raises(ValueError, match="threads must be 0"):
        set_threads(-1)


def test_cli_runs_on_the_device_and_threads_asked(an4_wavs, capsys) -> None:
    before = torch.get_num_threads()
    try:
        status = main(["transcribe", "--mode", "greedy", "--device", "cpu", "--threads", "1", str(an4_wavs[0])])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert status == 0 and capsys.readouterr().out.startswith(str(an4_wavs[0]))
    assert main(["transcribe", "--device", "tpu", str(an4_wavs[0])]) == 1
    assert "device must be one of" in capsys.readouterr().err


def test_model_on_cpu_gives_float32_log_probs_on_the_cpu(an4_wavs) -> None:
    model = asr.load_model(device="cpu")
    assert model.device == torch.device("cpu")
    assert next(model.network.parameters()).device == torch.device("cpu")


def test_carried_lm_is_loaded_once_and_timings_only_when_asked(an4_wavs, monkeypatch) -> None:
    """Configuring twice (carried decoding, then options on top) builds one decoder, on first use."""
    built = []
    real = transcribe.make_decoder
    monkeypatch.setattr(transcribe, "make_decoder", lambda *a: built.append(a) or real(*a))
    aligned = []
    real_timings = transcribe.hypothesis_timings
    monkeypatch.setattr(transcribe, "hypothesis_timings", lambda *a: aligned.append(a) or real_timings(*a))
    model = asr.load_model(device="cpu")
    model.configure(model.config)
    assert built == []
    model.word_timings = False
    plain = model.transcribe(an4_wavs[0])
    assert len(built) == 1 and aligned == [] and plain.words == [] and plain.text
    model.word_timings = True
    timed = model.transcribe(an4_wavs[0])
    assert len(built) == 1 and aligned and timed.text == plain.text
    assert " ".join(w.word for w in timed.words) == timed.text
