"""CTC training: bucketed batches, AdamW with warmup and cosine decay,
validation CER every epoch, atomic checkpoints, exact resume, averaging.

Every epoch reseeds the global RNG and draws its batch order from numbers
that depend only on the config's seed, the epoch and the process rank, so an
interrupted run resumed from its last
checkpoint ends with the same weights as one that was never stopped.
Under ``torchrun`` each process trains on its share of every step's batches
and DistributedDataParallel averages the gradients (see asr.distributed).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kaldiio
import torch
from tqdm import tqdm

from asr import distributed
from asr.batching import Batch, FeatureReader, Utterance, bucket_batches, load_utterances, shard_batches
from asr.config import from_dict, save_config, to_dict
from asr.datadir import validate_data_dir
from asr.decoding import ctc_greedy
from asr.device import resolve_device, set_threads
from asr.distributed import World
from asr.features import SpecAugmentConfig, spec_augment
from asr.frontend import load_feature_config, normalization
from asr.images import ImageAugmentConfig, augment_images
from asr.model import AcousticModel, ModelConfig
from asr.scoring import score
from asr.package import RecognizerSpec, atomic_save, check_weights, read_checkpoint, save_model
from asr.precision import AMP_DTYPES, amp_dtype, autocast
from asr.text import Tokenizer

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Everything that decides a training run; recipes keep it in conf/train.yaml."""

    model: ModelConfig = field(default_factory=ModelConfig)
    spec_augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    use_spec_augment: bool = True
    image_augment: ImageAugmentConfig = field(default_factory=ImageAugmentConfig)
    use_image_augment: bool = False  # distortions for line images (handwriting)
    epochs: int = 30
    lr: float = 1e-3  # peak learning rate, reached after warmup
    min_lr_ratio: float = 0.02  # cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 300
    weight_decay: float = 1e-2
    grad_clip: float = 5.0  # max global gradient norm
    inter_ctc_weight: float = 0.3  # share of the intermediate CTC losses (model.inter_ctc_layers) in the loss
    max_frames: int = 10000  # padded input frames per batch
    max_batch: int = 64  # utterances per batch
    seed: int = 1
    keep_best: int = 5  # epochs kept (by dev CER) for checkpoint averaging
    cache_features: bool = True  # keep features in memory after the first epoch; off when they exceed RAM
    threads: int = 0  # torch threads per process, 0: torch's default
    device: str = "auto"  # auto (CUDA when there is a GPU, else CPU), cpu or cuda
    amp: str = "none"  # mixed precision: none, bf16 or fp16 on CUDA; bf16 also on CPUs with native bf16

    def __post_init__(self) -> None:
        for name in ("epochs", "max_frames", "keep_best"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0 <= self.inter_ctc_weight < 1:
            raise ValueError(f"inter_ctc_weight must be in [0, 1), got {self.inter_ctc_weight}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.amp not in AMP_DTYPES:
            raise ValueError(f"amp must be one of {', '.join(AMP_DTYPES)}, got {self.amp!r}")


PREVIOUS = "last.prev.pt"  # the checkpoint last.pt replaced: the fallback if last.pt is unreadable
RUN_FILES = ("last.pt", PREVIOUS, "history.json")  # with epoch-N.pt: an exp dir holding these holds a run
OWN_FILES = (*RUN_FILES, "last.pt.bad", "train.log", "train.png")  # what --overwrite removes, with epoch-N.pt
CHECKPOINT_KEYS = ("config", "spec", "model", "optimizer", "scheduler", "epoch", "history")


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warmup to 1, then cosine decay to ``min_ratio`` at ``total`` steps."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def char_error_rate(refs: list[str], hyps: list[str]) -> float:
    """CER as ``asr score`` computes it, so dev figures and final scores agree."""
    ids = [str(i) for i in range(len(refs))]
    return score(dict(zip(ids, refs)), dict(zip(ids, hyps)), unit="char").totals.rate


@torch.no_grad()
def evaluate(
    model: AcousticModel, reader: FeatureReader, utts: list[Utterance], tokenizer: Tokenizer, max_frames: int,
    world: World = World(), device: torch.device = torch.device("cpu"), amp: torch.dtype | None = None,
) -> tuple[float, float]:
    """Mean CTC loss per utterance and greedy CER on a held-out set.

    With several processes each decodes every W-th batch and the results are
    gathered, so all ranks get the same figures in a W-th of the time.
    """
    model.eval()
    texts = {u.key: u.text for u in utts}
    loss_sum, refs, hyps = 0.0, [], []
    batches = bucket_batches([u.num_frames for u in utts], max_frames, 256, shuffle=False)
    for indices in batches[world.rank :: world.size]:
        batch = reader.batch([utts[i] for i in indices])
        with autocast(device, amp):
            log_probs, lengths = model(batch.feats.to(device), batch.lengths)
        loss_sum += float(ctc_loss(log_probs, lengths, batch)) * len(batch.keys)
        hyps += [tokenizer.decode(ids) for ids in ctc_greedy(log_probs.cpu(), lengths)]
        refs += [texts[key] for key in batch.keys]
    loss_sum = distributed.all_sum(world, [loss_sum])[0]
    gathered = distributed.all_gather(world, (refs, hyps))
    refs, hyps = [r for part, _ in gathered for r in part], [h for _, part in gathered for h in part]
    return loss_sum / max(1, len(utts)), char_error_rate(refs, hyps)


def ctc_loss(log_probs: torch.Tensor, lengths: torch.Tensor, batch: Batch) -> torch.Tensor:
    """CTC loss summed over each utterance, averaged over the batch (in float32, also under autocast)."""
    return torch.nn.functional.ctc_loss(
        log_probs.float().transpose(0, 1), batch.labels, lengths, batch.label_lengths,
        blank=0, reduction="sum", zero_infinity=True,
    ) / len(batch.keys)


def _plot(history: list[dict[str, float]], path: Path) -> None:
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


def _add_file_log(path: Path) -> None:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("asr").addHandler(handler)


def _latest_checkpoint(exp: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable checkpoint: ``last.pt``, else the one it replaced.

    Checkpoints are written atomically, yet a full disk, a crash of the file
    system or a careless copy can still leave ``last.pt`` cut short; it is
    then set aside as ``last.pt.bad`` (so that the next save cannot rotate it
    into ``last.prev.pt``) and training resumes one epoch earlier.
    """
    last, previous = exp / "last.pt", exp / PREVIOUS
    if last.exists():
        try:
            return last, _read_training_checkpoint(last)
        except ValueError as error:
            if not previous.exists():
                raise
            os.replace(last, last.with_name("last.pt.bad"))
            log.warning("%s; moved to last.pt.bad, resuming from the previous checkpoint %s", error, previous)
    elif previous.exists():  # killed between rotating last.pt and writing the new one
        log.warning("%s is missing; resuming from the previous checkpoint %s", last, previous)
    return (previous, _read_training_checkpoint(previous)) if previous.exists() else None


def _read_training_checkpoint(path: Path) -> dict[str, Any]:
    """A ``last.pt``, refused in one line if it lacks a part (a model file copied over it, say)."""
    state = read_checkpoint(path)
    missing = [key for key in CHECKPOINT_KEYS if key not in state] if isinstance(state, dict) else CHECKPOINT_KEYS
    if missing:
        raise ValueError(f"{path}: not a training checkpoint (no '{missing[0]}')")
    return state


def _epoch_weights(exp: Path) -> dict[int, Path]:
    """The ``epoch-N.pt`` files in ``exp`` by epoch.

    Only the names training writes count: a user's ``epoch-1.backup.pt`` or
    ``epoch-best.pt`` is neither parsed nor ever deleted.
    """
    return {int(match[1]): path for path in exp.glob("epoch-*.pt")
            if (match := re.fullmatch(r"epoch-([1-9][0-9]*)\.pt", path.name))}


def _open_exp(exp: Path, resume: bool, overwrite: bool) -> tuple[Path, dict[str, Any]] | None:
    """Create ``exp``; return the checkpoint to resume from, if any.

    An exp dir that already holds a run is refused unless ``resume`` (carry
    on) or ``overwrite`` (remove that run's files, only the ones training
    writes, and start afresh) says what to do with it: a forgotten flag must
    not silently replace days of training.
    """
    exp.mkdir(parents=True, exist_ok=True)
    if resume:
        return _latest_checkpoint(exp)
    if overwrite:
        for path in [*(exp / name for name in OWN_FILES), *_epoch_weights(exp).values()]:
            path.unlink(missing_ok=True)
        return None
    found = [exp / name for name in RUN_FILES if (exp / name).exists()] + list(_epoch_weights(exp).values())
    if found:
        raise ValueError(f"{exp}: holds a training run already ({found[0].name}): "
                         "--resume continues it, --overwrite starts afresh in its place")
    return None


def _save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Write ``last.pt`` atomically, keeping the checkpoint it replaces as ``last.prev.pt``."""
    if path.exists():
        os.replace(path, path.with_name(PREVIOUS))
    atomic_save(state, path)


def train(config: TrainConfig, train_dir: str | Path, dev_dir: str | Path, exp_dir: str | Path, resume: bool,
          overwrite: bool = False) -> Path:
    """Train a model; returns the path of the last checkpoint.

    ``exp_dir`` receives ``train.yaml``, ``tokens.txt``, ``train.log``,
    ``history.json``, ``train.png``, ``last.pt`` (full state, for
    ``--resume``; ``last.prev.pt`` is the one before) and ``epoch-N.pt``
    weights of the best epochs by dev CER.  If it holds a run already, one of
    ``resume`` and ``overwrite`` must say whether to continue or replace it.
    Under ``torchrun`` (WORLD_SIZE > 1) every process calls this, and rank 0
    alone writes these files.
    """
    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other: continue the run, or replace it")
    device_type = resolve_device(config.device).type
    world = distributed.init(device_type)
    device = torch.device("cuda", world.local_rank) if device_type == "cuda" else torch.device("cpu")
    try:
        return _train(config, train_dir, dev_dir, Path(exp_dir), resume, overwrite, world, device)
    finally:
        distributed.finish(world)


def _train(config: TrainConfig, train_dir: str | Path, dev_dir: str | Path, exp: Path, resume: bool,
           overwrite: bool, world: World, device: torch.device) -> Path:
    if not world.is_main:
        logging.getLogger("asr").setLevel(logging.WARNING)  # one copy of the progress log, from rank 0
    set_threads(config.threads)
    train_data = validate_data_dir(train_dir, need_feats=True)
    dev_data = validate_data_dir(dev_dir, need_feats=True)
    features = load_feature_config(train_dir)
    cmvn = torch.tensor(kaldiio.load_mat(str(Path(train_dir) / "cmvn.ark")))
    tokenizer = Tokenizer.from_texts(train_data.text[k] for k in train_data.feats)
    last_path = exp / "last.pt"
    state: dict[str, Any] | None = None
    # After the data checks: --overwrite must not remove a run for a training that cannot start.
    found = distributed.on_main(world, lambda: _open_exp(exp, resume, overwrite))
    if world.is_main:
        _add_file_log(exp / "train.log")
    if found is not None:
        resumed_from, state = found
        tokenizer = Tokenizer(tuple(state["spec"]["tokens"]))
        saved = from_dict(TrainConfig, state["config"], f"{resumed_from}:config")
        saved.model.input_dim, saved.model.num_tokens = config.model.input_dim, config.model.num_tokens
        changed = [k for k, v in to_dict(config).items() if to_dict(saved)[k] != v]
        if changed:
            # The schedule, batches and seeds all follow from the config: a resumed
            # run is only the same run if the config is the same.
            raise ValueError(f"{resumed_from}: cannot resume with a different config ({', '.join(changed)} changed)")
        log.info("resuming from %s after epoch %d", resumed_from, state["epoch"])
        if state.get("world_size", 1) != world.size:
            log.warning("%s was written by %d processes, now %d: the batches and schedule differ from an "
                        "uninterrupted run", resumed_from, state.get("world_size", 1), world.size)
    if world.is_main:
        tokenizer.write(exp / "tokens.txt")
        save_config(config, exp / "train.yaml")

    config.model.input_dim = features.dim
    config.model.num_tokens = len(tokenizer)
    mean, inv_std = normalization(features, cmvn)
    train_utts, skipped = load_utterances(train_data, tokenizer, config.model.subsampling, for_training=True)
    dev_utts, dev_skipped = load_utterances(dev_data, tokenizer, config.model.subsampling, for_training=True)
    for name, counts, total in (("train", skipped, len(train_data.feats)), ("dev", dev_skipped, len(dev_data.feats))):
        if counts:
            log.warning("%s: skipped %d of %d utterances: %s", name, sum(counts.values()), total,
                        ", ".join(f"{n} {reason}" for reason, n in counts.items()))
    if not train_utts or not dev_utts:
        raise ValueError(f"no usable utterances in {train_dir if not train_utts else dev_dir}")
    log.info("train %d utts, dev %d utts, %d tokens", len(train_utts), len(dev_utts), len(tokenizer))

    torch.manual_seed(config.seed)
    model = AcousticModel(config.model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    amp = amp_dtype(config.amp, device)
    # Loss scaling for bf16 too: autocast runs cuDNN's LSTM in float16 whatever its dtype.
    scaler = torch.amp.GradScaler(device.type, enabled=amp is not None and device.type == "cuda")
    reader = FeatureReader(mean, inv_std, cache=config.cache_features)
    lengths_all = [u.num_frames for u in train_utts]
    steps_per_epoch = len(shard_batches(bucket_batches(lengths_all, config.max_frames, config.max_batch, True),
                                        world.rank, world.size))
    if not steps_per_epoch:
        raise ValueError(f"{train_dir}: fewer batches than the {world.size} training processes")
    total = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, config.warmup_steps, total, config.min_lr_ratio)
    )
    spec = RecognizerSpec(config.model, tokenizer.tokens, features, cmvn)
    history: list[dict[str, float]] = []
    start_epoch = 1
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        history = state["history"]
        start_epoch = state["epoch"] + 1
    log.info("model: %d parameters, %d steps per epoch, %d process(es) on %s, amp %s",
             sum(p.numel() for p in model.parameters()), steps_per_epoch, world.size, device, config.amp)
    net = model if world.size == 1 else torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None)

    for epoch in range(start_epoch, config.epochs + 1):
        # Ranks draw different dropout and augmentation; one process keeps the seed it always had.
        torch.manual_seed((config.seed * 100003 + epoch) * world.size + world.rank)
        net.train()
        started, loss_sum, utts, frames = time.time(), 0.0, 0, 0
        shard = shard_batches(bucket_batches(lengths_all, config.max_frames, config.max_batch, True, config.seed + epoch),
                              world.rank, world.size)
        progress = tqdm(shard, desc=f"epoch {epoch}", unit="batch", mininterval=5, leave=False,
                        disable=not world.is_main)
        for indices, weight in progress:
            batch = reader.batch([train_utts[i] for i in indices])
            feats = batch.feats
            if config.use_image_augment:
                feats = augment_images(feats, batch.lengths, config.image_augment)
            if config.use_spec_augment:
                feats = spec_augment(feats, batch.lengths, config.spec_augment)
            with autocast(device, amp):
                log_probs, lengths, inter = net(feats.to(device), batch.lengths, intermediate=True)
                final = ctc_loss(log_probs, lengths, batch)
                loss = final
                if inter:  # the logged loss stays the last layer's, comparable with dev loss
                    inter_loss = sum(ctc_loss(p, lengths, batch) for p in inter) / len(inter)
                    loss = (1 - config.inter_ctc_weight) * final + config.inter_ctc_weight * inter_loss
            optimizer.zero_grad()
            scaler.scale(loss * weight).backward()  # DDP averages the ranks' gradients here
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            loss_sum += final.item() * len(batch.keys)
            utts += len(batch.keys)
            frames += int(batch.lengths.sum())
            progress.set_postfix(loss=f"{final.item():.1f}", refresh=False)
        loss_sum, utts, frames = distributed.all_sum(world, [loss_sum, utts, frames])
        dev_loss, dev_cer = evaluate(model, reader, dev_utts, tokenizer, config.max_frames, world, device, amp)
        elapsed = time.time() - started
        history.append({"epoch": epoch, "train_loss": loss_sum / utts, "dev_loss": dev_loss,
                        "dev_cer": dev_cer, "lr": scheduler.get_last_lr()[0], "seconds": elapsed,
                        "frames_per_second": frames / elapsed})
        log.info("epoch %d: train loss %.3f, dev loss %.3f, dev CER %.2f%%, %.0f s",
                 epoch, history[-1]["train_loss"], dev_loss, 100 * dev_cer, elapsed)
        if not world.is_main:
            continue
        _keep_best_weights(exp, epoch, model, history, config.keep_best)
        _save_checkpoint({"config": to_dict(config), "spec": spec.to_dict(), "model": model.state_dict(),
                          "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                          "epoch": epoch, "history": history, "world_size": world.size,
                          **({"scaler": scaler.state_dict()} if scaler.is_enabled() else {})}, last_path)
        (exp / "history.json").write_text(json.dumps(history, indent=1))
        _plot(history, exp / "train.png")
    distributed.barrier(world)  # every rank returns once rank 0 has written the last checkpoint
    return last_path


def best_epochs(history: list[dict[str, float]], n: int) -> list[int]:
    """The ``n`` epochs with the lowest dev CER (dev loss breaks ties)."""
    ranked = sorted(history, key=lambda h: (h["dev_cer"], h["dev_loss"]))
    return sorted(int(h["epoch"]) for h in ranked[:n])


def _keep_best_weights(exp: Path, epoch: int, model: AcousticModel, history: list[dict[str, float]], n: int) -> None:
    keep = best_epochs(history, n)
    if epoch in keep:
        atomic_save(model.state_dict(), exp / f"epoch-{epoch}.pt")
    for kept, path in _epoch_weights(exp).items():
        if kept not in keep:
            path.unlink()


def average_checkpoints(exp_dir: str | Path, n: int, out: str | Path) -> list[int]:
    """Average the weights of the ``n`` best epochs (by dev CER) into a model file.

    Averaging the last good epochs smooths the noise of the final updates;
    choosing them by dev, never test, keeps the test set honest.
    """
    exp = Path(exp_dir)
    found = _latest_checkpoint(exp)
    if found is None:
        raise FileNotFoundError(f"{exp}: no last.pt (has training run?)")
    checkpoint, state = found
    spec = RecognizerSpec.from_dict(state["spec"], str(checkpoint))
    wanted = best_epochs(state["history"], n)
    kept = _epoch_weights(exp)
    epochs = [e for e in wanted if e in kept]
    if not epochs:
        raise FileNotFoundError(f"{exp}: no epoch-N.pt weights to average")
    if len(epochs) < len(wanted):
        log.warning("%s: averaging %d of the %d best epochs: no weights kept for epoch(s) %s (keep_best is %s)",
                    exp, len(epochs), len(wanted), sorted(set(wanted) - set(epochs)), state["config"].get("keep_best"))
    averaged: dict[str, torch.Tensor] = {}
    for e in epochs:
        weights = read_checkpoint(kept[e])
        check_weights(spec.model, weights, str(kept[e]))
        for name, tensor in weights.items():
            averaged[name] = averaged.get(name, 0) + tensor.double() / len(epochs)
    spec.info = {"averaged_epochs": epochs, "history": state["history"], "config": state["config"]}
    save_model(out, spec, {name: t.float() for name, t in averaged.items()})
    return epochs
