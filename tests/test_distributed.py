"""Data-parallel training on 2 CPU processes, and training that survives kill -9 and a corrupt checkpoint."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import yaml

from asr.cli import main as cli
from asr.config import from_dict
from asr.data.batching import shard_batches
from asr.inference.model_file import read_checkpoint
from asr.train import loop as training
from asr.train.loop import TrainConfig, train
from test_training import TINY, crash_after_epoch

# Dropout and SpecAugment off: with them on, 2 ranks and 1 process draw different
# random masks, and the runs could not be compared step for step.  max_frames 1500
# cuts the 24 training utterances into 6 batches of 1 to 8 utterances: 3 steps of
# 2 unequal batches per epoch.
DDP = {**TINY, "model": {**TINY["model"], "dropout": 0.0}, "use_spec_augment": False, "epochs": 2,
       "max_frames": 1500}


def test_shards_keep_the_bucketed_batches_and_weigh_each_step_as_a_whole():
    batches = [[0, 1, 2], [3], [4, 5], [6, 7, 8, 9], [10]]
    shards = [shard_batches(batches, rank, 2) for rank in range(2)]
    assert [b for b, _ in shards[0]] == [[0, 1, 2], [4, 5]]
    assert [b for b, _ in shards[1]] == [[3], [6, 7, 8, 9]]  # the fifth batch is cut: 2 steps on each rank
    assert [w for _, w in shards[0]] == [2 * 3 / 4, 2 * 2 / 6]
    assert [w for _, w in shards[1]] == [2 * 1 / 4, 2 * 4 / 6]
    assert shard_batches(batches, 0, 1) == [(b, 1.0) for b in batches]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, port: int, data: Path, exp: Path) -> None:
    """One of 2 training processes, set up as torchrun would; saves the weights its rank ends with."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    models = []

    class Recorded(training.AcousticModel):  # the model object each rank trains
        def __init__(self, config):
            super().__init__(config)
            models.append(self)

    training.AcousticModel = Recorded  # this spawned process only
    train(from_dict(TrainConfig, DDP), data / "train", data / "dev", exp, resume=False)
    torch.save(models[0].state_dict(), exp / f"rank{rank}.weights")


def test_two_processes_match_one_process_on_the_union_of_their_batches(mini_data, tmp_path, monkeypatch):
    """2 gloo ranks end with identical weights, equal to one process trained on each step's union batch.

    DDP averages the 2 ranks' gradients; with each rank's loss weighted by its
    share of the step's utterances (shard_batches), that is the gradient of the
    per-utterance mean loss over both batches: what one process computes on
    their union.  So the single-process run below, given the unions as its
    batches, must follow the same trajectory up to float rounding (summation
    order, padding to a longer batch).  Measured gaps after 6 AdamW steps:
    losses 5e-8 relative, weights 1.6e-6; with each rank's batch weighted
    equally instead, 3e-5 and 5e-3.  The tolerances, 1e-6 and 1e-4, sit
    between the two.
    """
    mp.spawn(_ddp_worker, args=(_free_port(), mini_data, tmp_path / "ddp"), nprocs=2)
    ranks = [torch.load(tmp_path / "ddp" / f"rank{r}.weights") for r in range(2)]
    for name, tensor in ranks[0].items():
        torch.testing.assert_close(tensor, ranks[1][name], rtol=0, atol=0)
    ddp = read_checkpoint(tmp_path / "ddp" / "last.pt")
    assert ddp["world_size"] == 2 and [h["epoch"] for h in ddp["history"]] == [1, 2]

    def unions(batches, rank, world_size):  # one process, batches = what both ranks trained on per step
        shards = [shard_batches(batches, r, 2) for r in range(2)]
        return [(a + b, 1.0) for (a, _), (b, _) in zip(*shards)]

    monkeypatch.setattr(training, "shard_batches", unions)
    single = read_checkpoint(train(from_dict(TrainConfig, DDP), mini_data / "train", mini_data / "dev",
                                   tmp_path / "single", resume=False))
    for ours, theirs in zip(ddp["history"], single["history"]):
        for key in ("train_loss", "dev_loss", "lr"):
            assert ours[key] == pytest.approx(theirs[key], rel=1e-6), key
    for name, tensor in single["model"].items():
        torch.testing.assert_close(ddp["model"][name], tensor, rtol=0, atol=1e-4)
        torch.testing.assert_close(ranks[0][name], tensor, rtol=0, atol=1e-4)


@pytest.fixture(scope="module")
def straight(mini_data, tmp_path_factory):
    """The weights of an uninterrupted 3-epoch run."""
    exp = tmp_path_factory.mktemp("straight")
    return read_checkpoint(train(from_dict(TrainConfig, TINY), mini_data / "train", mini_data / "dev", exp,
                                 resume=False))["model"]


def _assert_same_weights(exp: Path, expected: dict[str, torch.Tensor]) -> None:
    state = read_checkpoint(exp / "last.pt")
    assert [h["epoch"] for h in state["history"]] == [1, 2, 3]
    for name, tensor in expected.items():
        torch.testing.assert_close(state["model"][name], tensor, rtol=0, atol=0)


def test_kill_9_then_resume_ends_with_the_same_weights(mini_data, tmp_path, straight):
    config, exp = tmp_path / "train.yaml", tmp_path / "exp"
    config.write_text(yaml.safe_dump(TINY))
    args = ["train", "--config", str(config), "--train", str(mini_data / "train"), "--dev", str(mini_data / "dev"),
            "--exp", str(exp)]
    process = subprocess.Popen([sys.executable, "-m", "asr", *args], env={**os.environ, "OMP_NUM_THREADS": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not (exp / "history.json").exists():  # written right after epoch 1's last.pt
        assert process.poll() is None and time.time() < deadline, "training ended before its first checkpoint"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert read_checkpoint(exp / "last.pt")["epoch"] < 3  # killed mid-run, not after it
    assert cli([*args, "--resume"]) == 0
    _assert_same_weights(exp, straight)


def test_truncated_checkpoint_falls_back_to_the_previous_one(mini_data, tmp_path, straight, caplog):
    exp = tmp_path / "exp"
    with pytest.raises(KeyboardInterrupt):
        train(from_dict(TrainConfig, TINY), mini_data / "train", mini_data / "dev", exp, resume=False,
              on_epoch_end=crash_after_epoch(2))
    assert read_checkpoint(exp / "last.prev.pt")["epoch"] == 1
    data = (exp / "last.pt").read_bytes()
    (exp / "last.pt").write_bytes(data[: len(data) // 2])
    with caplog.at_level(logging.WARNING, logger="asr"):
        train(from_dict(TrainConfig, TINY), mini_data / "train", mini_data / "dev", exp, resume=True)
    assert f"{exp / 'last.pt'}: unreadable model file" in caplog.text
    assert f"resuming from the previous checkpoint {exp / 'last.prev.pt'}" in caplog.text
    assert (exp / "last.pt.bad").stat().st_size == len(data) // 2
    _assert_same_weights(exp, straight)
    assert read_checkpoint(exp / "last.prev.pt")["epoch"] == 2  # the bad file was not rotated in
