"""A training run's files in its exp dir: checkpoints, the best and last epochs' weights, averaging them, the plot.

``exp/last.pt`` holds the full training state (``--resume`` continues from
it; ``last.prev.pt`` is the one it replaced, the fallback when ``last.pt``
is unreadable), ``exp/epoch-N.pt`` the weights of the best epochs by dev
CER and of the last ones, which :func:`average_checkpoints` turns into a
model file.  Every file is written atomically (temp file and rename).  This
module is the only code that knows a checkpoint's keys; the model file's are :class:`asr.inference.model_file.ModelFile`'s.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import torch

from asr.inference.model_file import ModelFile, atomic_save, check_weights, read_checkpoint

log = logging.getLogger(__name__)

LAST = "last.pt"
PREVIOUS = "last.prev.pt"  # the checkpoint last.pt replaced: the fallback if last.pt is unreadable
RUN_FILES = (LAST, PREVIOUS, "history.json")  # with epoch-N.pt: an exp dir holding these holds a run
OWN_FILES = (*RUN_FILES, "last.pt.bad", "train.log", "train.png")  # what --overwrite removes, with epoch-N.pt
WEIGHTS_NAME = r"epoch-([1-9][0-9]*)\.pt"  # an epoch's kept weights
CHECKPOINT_KEYS = ("config", "spec", "model", "optimizer", "scheduler", "epoch", "history")


def open_exp_dir(exp: Path, resume: bool, overwrite: bool) -> tuple[Path, dict[str, Any]] | None:
    """Create ``exp``; return the checkpoint to resume from (its path and contents), if any.

    An exp dir that already holds a run is refused unless ``resume`` (carry
    on) or ``overwrite`` (remove that run's files, only the ones training
    writes, and start afresh) says what to do with it: a forgotten flag must
    not silently replace days of training.
    """
    exp.mkdir(parents=True, exist_ok=True)
    if resume:
        return latest_checkpoint(exp)
    if overwrite:
        for path in [*(exp / name for name in OWN_FILES), *epoch_weights(exp).values()]:
            path.unlink(missing_ok=True)
        return None
    found = [exp / name for name in RUN_FILES if (exp / name).exists()] + list(epoch_weights(exp).values())
    if found:
        raise ValueError(f"{exp}: holds a training run already ({found[0].name}): "
                         "--resume continues it, --overwrite starts afresh in its place")
    return None


def latest_checkpoint(exp: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable checkpoint: ``last.pt``, else the one it replaced; None if there is neither.

    Checkpoints are written atomically, yet a full disk, a crash of the file
    system or a careless copy can still leave ``last.pt`` cut short; it is
    then set aside as ``last.pt.bad`` (so that the next save cannot rotate it
    into ``last.prev.pt``) and training resumes one epoch earlier.
    """
    last, previous = exp / LAST, exp / PREVIOUS
    if last.exists():
        try:
            return last, read_training_checkpoint(last)
        except ValueError as error:
            if not previous.exists():
                raise
            os.replace(last, last.with_name("last.pt.bad"))
            log.warning("%s; moved to last.pt.bad, resuming from the previous checkpoint %s", error, previous)
    elif previous.exists():  # killed between rotating last.pt and writing the new one
        log.warning("%s is missing; resuming from the previous checkpoint %s", last, previous)
    return (previous, read_training_checkpoint(previous)) if previous.exists() else None


def read_training_checkpoint(path: Path) -> dict[str, Any]:
    """A ``last.pt``, refused in one line if it lacks a part (a model file copied over it, say)."""
    state = read_checkpoint(path)
    missing = [key for key in CHECKPOINT_KEYS if key not in state] if isinstance(state, dict) else CHECKPOINT_KEYS
    if missing:
        raise ValueError(f"{path}: not a training checkpoint (no '{missing[0]}')")
    return state


def save_checkpoint(
    exp: Path, *, config: dict[str, Any], spec: ModelFile, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler, epoch: int,
    history: list[dict[str, float]], world_size: int,
) -> Path:
    """Write ``exp/last.pt`` atomically, keeping the checkpoint it replaces as ``last.prev.pt``.

    It holds the training config (as a dict), the model file's spec (all
    but the weights), and the state of the model, optimizer, scheduler and
    loss scaler (when enabled) after ``epoch``, with the history so far.
    """
    path = exp / LAST
    state = {"config": config, "spec": spec.to_dict(weights=False), "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch,
             "history": history, "world_size": world_size,
             **({"scaler": scaler.state_dict()} if scaler.is_enabled() else {})}
    if path.exists():
        os.replace(path, exp / PREVIOUS)
    atomic_save(state, path)
    return path


def load_checkpoint(state: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler
                    ) -> tuple[int, list[dict[str, float]]]:
    """Restore what :func:`save_checkpoint` saved into the objects; returns (the epoch to start at, the history)."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if "scaler" in state:
        scaler.load_state_dict(state["scaler"])
    return state["epoch"] + 1, state["history"]


def epoch_weights(exp: Path) -> dict[int, Path]:
    """The ``epoch-N.pt`` files in ``exp`` by epoch.

    Only the names training writes count: a user's ``epoch-1.backup.pt`` or
    ``epoch-best.pt`` is neither parsed nor ever deleted.
    """
    return {int(match[1]): path for path in exp.glob("epoch-*.pt")
            if (match := re.fullmatch(WEIGHTS_NAME, path.name))}


def best_epochs(history: list[dict[str, float]], n: int) -> list[int]:
    """The ``n`` epochs with the lowest dev CER (dev loss breaks ties)."""
    ranked = sorted(history, key=lambda h: (h["dev_cer"], h["dev_loss"]))
    return sorted(int(h["epoch"]) for h in ranked[:n])


def last_epochs(history: list[dict[str, float]], n: int) -> list[int]:
    """The ``n`` latest epochs."""
    return sorted(int(h["epoch"]) for h in history)[-n:] if n > 0 else []


def keep_weights(exp: Path, epoch: int, model: torch.nn.Module, history: list[dict[str, float]],
                 best: int, last: int = 0) -> None:
    """Save ``epoch``'s weights as ``epoch-N.pt`` if it is among the ``best`` best or the ``last`` latest so far;
    delete those that no longer are."""
    keep = set(best_epochs(history, best)) | set(last_epochs(history, last))
    if epoch in keep:
        atomic_save(model.state_dict(), exp / f"epoch-{epoch}.pt")
    for kept, path in epoch_weights(exp).items():
        if kept not in keep:
            path.unlink()


def average_checkpoints(exp_dir: str | Path, n: int | None, out: str | Path, last: bool = False) -> list[int]:
    """Average the weights of the ``n`` best epochs by dev CER (``last``: the ``n`` latest) into a model file;
    returns those epochs.  ``n`` None: as the run's config says, its ``keep_last`` latest epochs if it keeps
    any, else its ``keep_best`` best, so that a config that trains for a final phase also averages it.

    Averaging good epochs smooths the noise of the final updates; choosing
    them by dev, never test, keeps the test set honest.  The latest epochs
    are the choice when training ends on purpose in a phase that dev CER
    alone would not pick, such as the clean epochs after augmented ones:
    the dev set is small and its CER moves by single characters.
    """
    exp = Path(exp_dir)
    target = Path(out).resolve()
    if target.parent == exp.resolve() and (target.name in OWN_FILES or re.fullmatch(WEIGHTS_NAME, target.name)):
        raise ValueError(f"{out}: is a file of the training run in {exp}; write the model elsewhere")
    found = latest_checkpoint(exp)
    if found is None:
        raise FileNotFoundError(f"{exp}: no last.pt (has training run?)")
    checkpoint, state = found
    if n is None:
        last = state["config"].get("keep_last", 0) > 0
        n = state["config"].get("keep_last" if last else "keep_best", 5)
    contents = ModelFile.from_dict(state["spec"], str(checkpoint), weights=False)
    wanted = (last_epochs if last else best_epochs)(state["history"], n)
    kept = epoch_weights(exp)
    epochs = [e for e in wanted if e in kept]
    if not epochs:
        raise FileNotFoundError(f"{exp}: no epoch-N.pt weights to average")
    missing = sorted(set(wanted) - set(epochs))
    if missing and last:  # some of the last epochs would be no average of the last ones
        raise FileNotFoundError(f"{exp}: no weights kept for epoch(s) {missing} of the last {n} "
                                f"(keep_last is {state['config'].get('keep_last', 0)}; it must be at least {n})")
    if missing:
        log.warning("%s: averaging %d of the %d best epochs: no weights kept for epoch(s) %s (keep_best is %s)",
                    exp, len(epochs), len(wanted), missing, state["config"].get("keep_best"))
    averaged: dict[str, torch.Tensor] = {}
    for e in epochs:
        weights = read_checkpoint(kept[e])
        check_weights(contents.model, weights, str(kept[e]))
        for name, tensor in weights.items():
            averaged[name] = averaged.get(name, 0) + tensor.double() / len(epochs)
    contents.weights = {name: t.float() for name, t in averaged.items()}
    contents.info = {"averaged_epochs": epochs, "history": state["history"], "config": state["config"]}
    contents.write(out)
    return epochs


def plot_history(history: list[dict[str, float]], path: Path) -> None:
    """``train.png``: the losses and dev CER by epoch, to see a run's course at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_cer) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], label="train")
    ax_loss.plot(epochs, [h["dev_loss"] for h in history], label="dev")
    ax_loss.set(xlabel="epoch", ylabel="CTC loss per utterance", title="loss")
    ax_loss.legend()
    ax_cer.plot(epochs, [100 * h["dev_cer"] for h in history])
    ax_cer.set(xlabel="epoch", ylabel="CER %", title="dev CER (greedy)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
