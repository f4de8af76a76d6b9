import math
import re
from typing import Callable

import pytest
import torch
import yaml

from asr.cli import main as cli
from asr.config import from_dict, load_config, to_dict
from asr.inference.model_file import read_checkpoint
from asr.inference.recognizer import load_recognizer
from asr import precision
from asr.precision import amp_dtype
from asr.train import loop
from asr.train.checkpoint import average_checkpoints, best_epochs, keep_weights, last_epochs
from asr.train.loop import TrainConfig, lr_factor, train

TINY = {"model": {"hidden": 16, "layers": 2, "dropout": 0.1}, "epochs": 3, "warmup_steps": 2, "max_frames": 3000,
        "keep_best": 2, "threads": 1}


def test_lr_schedule_warms_up_then_decays():
    factors = [lr_factor(s, 10, 100, 0.1) for s in range(100)]
    assert factors[0] == 0.1 and factors[9] == 1.0
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert abs(factors[-1] - 0.1) < 0.01


def test_best_epochs_by_dev_cer_then_loss():
    history = [{"epoch": 1, "dev_cer": 0.5, "dev_loss": 3}, {"epoch": 2, "dev_cer": 0.2, "dev_loss": 2},
               {"epoch": 3, "dev_cer": 0.2, "dev_loss": 1}, {"epoch": 4, "dev_cer": 0.3, "dev_loss": 1}]
    assert best_epochs(history, 2) == [2, 3]
    assert last_epochs(history, 2) == [3, 4] and last_epochs(history, 0) == []


def test_weights_kept_are_the_best_and_the_last(tmp_path):
    """Each epoch's weights stay while the epoch is among the best by dev CER or the latest, and no longer."""
    model = torch.nn.Linear(2, 2)
    cers = [0.1, 0.5, 0.4, 0.3, 0.6]
    history = []
    for epoch, cer in enumerate(cers, 1):
        history.append({"epoch": epoch, "dev_cer": cer, "dev_loss": 1.0})
        keep_weights(tmp_path, epoch, model, history, best=1, last=2)
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["epoch-1.pt", "epoch-4.pt", "epoch-5.pt"]
    with pytest.raises(ValueError, match="keep_last must be at least 0, got -1"):
        from_dict(TrainConfig, {"keep_last": -1})


def test_average_the_last_epochs(mini_data, tmp_path, capsys):
    """`asr average --last N` averages the N latest epochs, whose weights keep_last kept beside the best one."""
    exp = tmp_path / "exp"
    last = read_checkpoint(train(from_dict(TrainConfig, {**TINY, "keep_best": 1, "keep_last": 2}),
                                 mini_data / "train", mini_data / "dev", exp, resume=False))
    kept = {1, 2, 3} & ({2, 3} | set(best_epochs(last["history"], 1)))
    assert {int(p.stem.split("-")[1]) for p in exp.glob("epoch-*.pt")} == kept
    for flags in (["--last", "2"], []):  # without --best or --last: as the config says, which keeps the last 2
        assert cli(["average", "--exp", str(exp), *flags, "--out", str(tmp_path / "model.pt")]) == 0
        assert "average of epochs 2 3" in capsys.readouterr().out
    weights = [read_checkpoint(exp / f"epoch-{e}.pt") for e in (2, 3)]
    averaged = load_recognizer(tmp_path / "model.pt").network.state_dict()["output.weight"]
    torch.testing.assert_close(averaged, (weights[0]["output.weight"] + weights[1]["output.weight"]) / 2)
    (exp / "epoch-1.pt").unlink(missing_ok=True)  # kept only if it was the best
    with pytest.raises(FileNotFoundError, match=r"no weights kept for epoch\(s\) \[1\] of the last 3 \(keep_last is 2; "
                       "it must be at least 3\\)"):
        average_checkpoints(exp, 3, tmp_path / "model3.pt", last=True)
    assert cli(["average", "--exp", str(exp), "--best", "0", "--out", str(tmp_path / "m.pt")]) == 1
    assert "--best must be at least 1, got 0" in capsys.readouterr().err
    for name in ("last.pt", "epoch-3.pt"):  # the run's own files are never replaced by a model
        before = (exp / name).read_bytes()
        assert cli(["average", "--exp", str(exp), "--out", str(exp / name)]) == 1
        assert f"{exp / name}: is a file of the training run in {exp}" in capsys.readouterr().err
        assert (exp / name).read_bytes() == before


def crash_after_epoch(last: int):
    """An ``on_epoch_end`` hook that interrupts training (as Ctrl-C would) after epoch ``last``'s files are written."""
    def hook(epoch, history):
        if epoch == last:
            raise KeyboardInterrupt

    return hook


def test_resume_after_interruption_gives_the_same_weights(mini_data, tmp_path, caplog):
    """Train 3 epochs straight; crash after epoch 1, resume to 3: identical weights."""
    train_dir, dev_dir = mini_data / "train", mini_data / "dev"
    straight = train(from_dict(TrainConfig, TINY), train_dir, dev_dir, tmp_path / "a", resume=False)
    with pytest.raises(KeyboardInterrupt):
        train(from_dict(TrainConfig, TINY), train_dir, dev_dir, tmp_path / "b", resume=False,
              on_epoch_end=crash_after_epoch(1))
    assert read_checkpoint(tmp_path / "b" / "last.pt")["epoch"] == 1
    with pytest.raises(ValueError, match="different config \\(lr changed\\)"):
        train(from_dict(TrainConfig, {**TINY, "lr": 0.1}), train_dir, dev_dir, tmp_path / "b", resume=True)
    # Which weights are kept and whether features are cached may change; the run stays the same.
    resumed = train(from_dict(TrainConfig, {**TINY, "keep_last": 1, "cache_features": False}), train_dir, dev_dir,
                    tmp_path / "b", resume=True)
    a, b = read_checkpoint(straight), read_checkpoint(resumed)
    assert [h["epoch"] for h in b["history"]] == [1, 2, 3]
    for name, tensor in a["model"].items():
        torch.testing.assert_close(tensor, b["model"][name], rtol=0, atol=0)
    for name in ("train.log", "history.json", "train.png", "tokens.txt", "train.yaml"):
        assert (tmp_path / "a" / name).exists()
    assert len(list((tmp_path / "a").glob("epoch-*.pt"))) == 2

    epochs = average_checkpoints(tmp_path / "a", 2, tmp_path / "model.pt")
    assert epochs == best_epochs(a["history"], 2)
    recognizer = load_recognizer(tmp_path / "model.pt")
    weights = [read_checkpoint(tmp_path / "a" / f"epoch-{e}.pt") for e in epochs]
    name = "output.weight"
    torch.testing.assert_close(recognizer.network.state_dict()[name], (weights[0][name] + weights[1][name]) / 2)
    assert recognizer.tokenizer.tokens == tuple(a["spec"]["tokens"])
    with caplog.at_level("WARNING"):  # keep_best 2: a third best epoch has no weights to average
        assert average_checkpoints(tmp_path / "a", 3, tmp_path / "model3.pt") == epochs
    assert "averaging 2 of the 3 best epochs" in caplog.text


def test_train_yaml_is_the_config_the_model_was_built_from(mini_data, tmp_path):
    """train.yaml records the input dimension and token count filled in by training, as last.pt's config does,
    so that resuming with it is resuming with the same config; the caller's config is left as it was."""
    train_dir, dev_dir, exp = mini_data / "train", mini_data / "dev", tmp_path / "exp"
    config = from_dict(TrainConfig, {**TINY, "epochs": 2})
    with pytest.raises(KeyboardInterrupt):
        train(config, train_dir, dev_dir, exp, resume=False, on_epoch_end=crash_after_epoch(1))
    assert config.model.num_tokens == 0
    recorded = load_config(TrainConfig, exp / "train.yaml")
    state = read_checkpoint(exp / "last.pt")
    assert recorded.model.input_dim == 80 and recorded.model.num_tokens == len(state["spec"]["tokens"]) > 2
    assert to_dict(recorded) == to_dict(from_dict(TrainConfig, state["config"]))
    resumed = read_checkpoint(train(recorded, train_dir, dev_dir, exp, resume=True))
    assert [h["epoch"] for h in resumed["history"]] == [1, 2]


def test_intermediate_ctc_and_bf16_on_cpu(mini_data, tmp_path):
    """Self-conditioned intermediate CTC trains (in bf16 where the CPU has it) and the model decodes."""
    config = from_dict(TrainConfig, {**TINY, "epochs": 2, "amp": "bf16", "inter_ctc_weight": 0.5,
                                     "model": {**TINY["model"], "inter_ctc_layers": [1], "self_condition": True}})
    last = train(config, mini_data / "train", mini_data / "dev", tmp_path / "exp", resume=False)
    native = amp_dtype("bf16", torch.device("cpu")) is not None
    history = read_checkpoint(last)["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    average_checkpoints(tmp_path / "exp", 1, tmp_path / "model.pt")
    recognizer = load_recognizer(tmp_path / "model.pt")
    assert recognizer.network.condition is not None and recognizer.network.config.inter_ctc_layers == (1,)
    # Decoded in the precision it was trained in where the CPU has it; log-probs always float32.
    assert recognizer.dtype == (torch.bfloat16 if native else None)
    log_probs = recognizer.log_probs([torch.randn(90, 80)])[0]
    assert log_probs.dtype == torch.float32 and torch.allclose(log_probs.exp().sum(-1), torch.ones(30), atol=1e-3)
    with pytest.raises(ValueError, match="inter_ctc_weight"):
        from_dict(TrainConfig, {"inter_ctc_weight": 1.0})


def test_a_run_is_replaced_only_with_overwrite(mini_data, tmp_path, capsys):
    """Without --resume or --overwrite an exp dir holding a run is refused; --overwrite removes only our files."""
    train_dir, dev_dir, exp = mini_data / "train", mini_data / "dev", tmp_path / "exp"
    train(from_dict(TrainConfig, {**TINY, "epochs": 2}), train_dir, dev_dir, exp, resume=False)
    (exp / "notes.txt").write_text("mine")
    last = (exp / "last.pt").read_bytes()
    with pytest.raises(ValueError, match=f"^{exp}: holds a training run already \\(last.pt\\): --resume .*--overwrite"):
        train(from_dict(TrainConfig, TINY), train_dir, dev_dir, exp, resume=False)
    with pytest.raises(ValueError, match="--resume and --overwrite contradict each other"):
        train(from_dict(TrainConfig, TINY), train_dir, dev_dir, exp, resume=True, overwrite=True)
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(TINY))
    args = ["train", "--config", str(config), "--train", str(train_dir), "--dev", str(dev_dir), "--exp", str(exp)]
    assert cli(args) == 1
    assert "--resume continues it, --overwrite starts afresh" in capsys.readouterr().err
    assert (exp / "last.pt").read_bytes() == last  # nothing was touched
    assert cli([*args, "--overwrite", "--epochs", "1"]) == 0
    assert [h["epoch"] for h in read_checkpoint(exp / "last.pt")["history"]] == [1]
    assert sorted(p.name for p in exp.glob("*.pt")) == ["epoch-1.pt", "last.pt"]  # last.prev.pt, epoch-2.pt gone
    assert (exp / "notes.txt").read_text() == "mine"
    assert "epoch 2:" not in (exp / "train.log").read_text()  # the log is the new run's


def test_files_of_the_user_named_like_weights_are_left_alone(mini_data, tmp_path):
    exp = tmp_path / "exp"
    exp.mkdir()
    mine = ["epoch-1.backup.pt", "epoch-best.pt", "epoch-01.pt"]
    for name in mine:
        (exp / name).write_text("mine")
    train(from_dict(TrainConfig, {**TINY, "epochs": 2, "keep_best": 1}), mini_data / "train", mini_data / "dev", exp,
          resume=False)
    assert all((exp / name).read_text() == "mine" for name in mine)
    assert len(list(exp.glob("epoch-[12].pt"))) == 1
    history = read_checkpoint(exp / "last.pt")["history"]
    assert average_checkpoints(exp, 1, tmp_path / "model.pt") == best_epochs(history, 1)
    assert average_checkpoints(exp, None, tmp_path / "model.pt") == best_epochs(history, 1)  # the config's keep_best


@pytest.mark.parametrize("epochs", ["0", "-1"])
def test_epochs_below_one_are_refused(mini_data, tmp_path, capsys, epochs):
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(TINY))
    assert cli(["train", "--config", str(config), "--train", str(mini_data / "train"), "--dev", str(mini_data / "dev"),
                "--exp", str(tmp_path / "exp"), "--epochs", epochs]) == 1
    assert capsys.readouterr().err == f"asr train: error: epochs must be at least 1, got {epochs}\n"
    assert not (tmp_path / "exp").exists()


def test_utterance_mean_training_loss_ignores_the_recording_level(an4_wavs):
    """With model.utterance_mean, real utterances 25 dB quieter (their log mel features shifted) give the same
    loss under the same SpecAugment masks: the masks stand for each utterance's own mean, not the corpus's."""
    from asr.data.audio import read_audio
    from asr.data.batching import Batch
    from asr.data.features import fbank
    from asr.data.kaldi_fbank import FbankConfig
    from asr.model import AcousticModel
    from asr.train.loop import compute_loss

    config = from_dict(TrainConfig, {"model": {"input_dim": 80, "num_tokens": 5, "hidden": 8, "layers": 1,
                                               "dropout": 0.0, "utterance_mean": True},
                                     "spec_augment": {"time_masks": 2, "time_width": 0.2}})
    net = AcousticModel(config.model)
    feats = [fbank(read_audio(w), FbankConfig()) for w in an4_wavs[:2]]
    lengths = torch.tensor([len(f) for f in feats])

    def loss_of(gain_db: float) -> torch.Tensor:
        batch = torch.zeros(2, int(lengths.max()), 80)
        for row, f in enumerate(feats):
            batch[row, : len(f)] = fbank(read_audio(an4_wavs[row]) * 10 ** (gain_db / 20), FbankConfig()) / 4
        torch.manual_seed(0)  # the same masks
        return compute_loss(net, Batch(["a", "b"], batch, lengths, torch.tensor([1, 2, 3, 4, 1]), torch.tensor([3, 2])),
                            config, torch.device("cpu"), None)[0]

    torch.testing.assert_close(loss_of(-25.0), loss_of(0.0), atol=1e-3, rtol=1e-3)


def test_audio_only_settings_are_refused_for_images(mini_data, tmp_path, monkeypatch):
    import asr.train.loop
    from asr.data.line_images import ImageConfig

    monkeypatch.setattr(asr.train.loop, "load_feature_config", lambda data_dir: ImageConfig())
    config = from_dict(TrainConfig, {**TINY, "model": {**TINY["model"], "utterance_mean": True}})
    with pytest.raises(ValueError, match="model.utterance_mean apply to audio"):
        train(config, mini_data / "train", mini_data / "dev", tmp_path / "exp", resume=False)
    assert not (tmp_path / "exp").exists()


def poison(monkeypatch, bad: Callable[[list[str]], bool]) -> None:
    """Make the loss NaN, and with it every gradient, for the batches where ``bad(keys)`` holds."""
    compute_loss = loop.compute_loss

    def poisoned(net, batch, *args):
        loss, final = compute_loss(net, batch, *args)
        return (loss * float("nan"), final) if bad(batch.keys) else (loss, final)

    monkeypatch.setattr(loop, "compute_loss", poisoned)


def test_steps_with_non_finite_gradients_are_skipped(mini_data, tmp_path, monkeypatch, caplog):
    """One batch with NaN gradients (an overflow, a corrupt feature) is skipped and reported, every epoch;
    applied, it would have made every weight NaN for the rest of the run."""
    first = (mini_data / "train" / "feats.scp").read_text().split()[0]
    poison(monkeypatch, lambda keys: first in keys)
    with caplog.at_level("WARNING"):
        last = read_checkpoint(train(from_dict(TrainConfig, TINY), mini_data / "train", mini_data / "dev",
                                     tmp_path / "exp", resume=False))
    assert [h["skipped_steps"] for h in last["history"]] == [1, 1, 1]
    assert all(torch.isfinite(tensor).all() for tensor in last["model"].values())
    assert all(math.isfinite(h["train_loss"]) and math.isfinite(h["dev_loss"]) for h in last["history"])
    assert re.search(r"epoch 1: skipped 1 of \d+ steps whose gradients were not finite", caplog.text)


def test_a_run_whose_every_step_is_non_finite_stops(mini_data, tmp_path, monkeypatch, capsys):
    """Divergence stops the run at the first epoch without one finite step, with the last good epoch kept."""
    config = from_dict(TrainConfig, {**TINY, "epochs": 3})
    with pytest.raises(KeyboardInterrupt):
        train(config, mini_data / "train", mini_data / "dev", tmp_path / "exp", resume=False,
              on_epoch_end=crash_after_epoch(1))
    poison(monkeypatch, lambda keys: True)
    with pytest.raises(ValueError, match="training diverged: no step of epoch 2 had finite gradients; "
                                         "last.pt holds epoch 1"):
        train(config, mini_data / "train", mini_data / "dev", tmp_path / "exp", resume=True)
    assert read_checkpoint(tmp_path / "exp" / "last.pt")["epoch"] == 1


def test_the_log_names_the_precision_training_computes_in(mini_data, tmp_path, monkeypatch, caplog):
    """`amp: bf16` on a CPU without native bfloat16 trains in float32: the model line says so, not only "amp bf16".
    (Forcing bfloat16 here instead would fail where oneDNN has no bfloat16 LSTM at all, as on AVX2-only CPUs.)"""
    monkeypatch.setattr(precision, "cpu_bf16_support", lambda: (False, "this test's CPU"))
    with caplog.at_level("INFO", logger="asr.train.loop"):
        train(from_dict(TrainConfig, {**TINY, "epochs": 1, "amp": "bf16"}), mini_data / "train", mini_data / "dev",
              tmp_path / "exp", resume=False)
    assert re.search(r"model: \d+ parameters, .* on cpu, computing in float32 \(amp bf16\)", caplog.text)
