"""CTC training: bucketed batches, AdamW with warmup and cosine decay,
validation CER every epoch, atomic checkpoints, exact resume.

Training comes in pieces (as icefall's ``train.py``): :func:`compute_loss`
of one batch, :func:`train_one_epoch`, :func:`~asr.train.objective.compute_validation_loss`,
:func:`check_resume` and :func:`load_checkpoint_if_available`, chained by
:func:`train`.  The exp dir's files (checkpoints, the best and last epochs'
weights, their average) are :mod:`asr.train.checkpoint`'s.

Every epoch reseeds the global RNG and draws its batch order from numbers
that depend only on the config's seed, the epoch and the process rank, so an
interrupted run resumed from its last checkpoint ends with the same weights
as one that was never stopped.
Under ``torchrun`` each process trains on its share of every step's batches
and DistributedDataParallel averages the gradients (see asr.train.distributed).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import kaldiio
import numpy as np
import torch
from tqdm import tqdm

from asr.config import from_dict, save_config, to_dict
from asr.data.augment import WaveAugmentConfig, WaveAugmenter
from asr.data.batching import Batch, FeatureReader, Utterance, load_utterances, shard_batches
from asr.data.buckets import bucket_batches
from asr.data.datadir import DataDir, validate_data_dir
from asr.data.features import SpecAugmentConfig, spec_augment, subtract_utterance_mean
from asr.data.frontend import normalization
from asr.data.images import ImageAugmentConfig, augment_images
from asr.data.kaldi_fbank import FbankConfig
from asr.data.kinds import FeatureConfig, load_feature_config
from asr.data.text import Tokenizer
from asr.device import resolve_device, set_threads
from asr.inference.model_file import ModelFile
from asr.model import AcousticModel, ModelConfig
from asr.precision import AMP_DTYPES, amp_dtype, autocast
from asr.train import distributed
from asr.train.checkpoint import keep_weights, load_checkpoint, open_exp_dir, plot_history, save_checkpoint
from asr.train.distributed import World
from asr.train.objective import compute_validation_loss, ctc_loss

log = logging.getLogger(__name__)

History = list[dict[str, float]]  # one entry per epoch: epoch, train_loss, dev_loss, dev_cer, lr, seconds, ...
EpochHook = Callable[[int, History], None]
BOOKKEEPING = ("keep_best", "keep_last", "cache_features")  # TrainConfig fields a resumed run may change


@dataclass
class TrainConfig:
    """Everything that decides a training run; recipes keep it in conf/train.yaml."""

    model: ModelConfig = field(default_factory=ModelConfig)
    spec_augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    use_spec_augment: bool = True
    image_augment: ImageAugmentConfig = field(default_factory=ImageAugmentConfig)
    use_image_augment: bool = False  # distortions for line images (handwriting)
    wave_augment: WaveAugmentConfig = field(default_factory=WaveAugmentConfig)  # recording conditions (audio)
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
    keep_last: int = 0  # the latest epochs kept as well, for averaging them instead (asr average --last)
    cache_features: bool = True  # keep features in memory after the first epoch; off when they exceed RAM
    threads: int = 0  # torch threads per process, 0: torch's default
    device: str = "auto"  # auto (CUDA when there is a GPU, else CPU), cpu or cuda
    amp: str = "none"  # mixed precision: none, bf16 or fp16 on CUDA; bf16 also on CPUs with native bf16

    def __post_init__(self) -> None:
        for name, least in (("epochs", 1), ("max_frames", 1), ("keep_best", 1), ("keep_last", 0)):
            if getattr(self, name) < least:
                raise ValueError(f"{name} must be at least {least}, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0 <= self.inter_ctc_weight < 1:
            raise ValueError(f"inter_ctc_weight must be in [0, 1), got {self.inter_ctc_weight}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        if self.amp not in AMP_DTYPES:
            raise ValueError(f"amp must be one of {', '.join(AMP_DTYPES)}, got {self.amp!r}")


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warmup to 1, then cosine decay to ``min_ratio`` at ``total`` steps."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass
class Learner:
    """The model being trained and what updates it."""

    model: AcousticModel
    net: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    device: torch.device
    amp: torch.dtype | None  # autocast dtype; None: float32


@dataclass
class TrainingData:
    """The utterances a run trains and validates on, and the reader of their normalized features."""

    train: list[Utterance]
    dev: list[Utterance]
    reader: FeatureReader
    augmenter: WaveAugmenter | None = None  # degraded audio, as config.wave_augment says

    @property
    def lengths(self) -> list[int]:
        return [u.num_frames for u in self.train]


def compute_loss(net: torch.nn.Module, batch: Batch, config: TrainConfig, device: torch.device,
                 amp: torch.dtype | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The loss to minimize on one batch (augmented as ``config`` says), and its last layer's CTC loss.

    With intermediate CTC layers the loss mixes in their mean CTC loss; the
    second value, the final layer's alone, is what is logged: comparable
    with the dev loss.
    """
    feats = batch.feats
    if config.use_image_augment:
        feats = augment_images(feats, batch.lengths, config.image_augment)
    if config.use_spec_augment:
        if config.model.utterance_mean:  # the masks' zeros then stand for the utterance's own mean, as they should
            feats = subtract_utterance_mean(feats, batch.lengths)
        feats = spec_augment(feats, batch.lengths, config.spec_augment)
    with autocast(device, amp):
        log_probs, lengths, inter = net(feats.to(device), batch.lengths, intermediate=True)
        final = ctc_loss(log_probs, lengths, batch)
        loss = final
        if inter:
            inter_loss = sum(ctc_loss(p, lengths, batch) for p in inter) / len(inter)
            loss = (1 - config.inter_ctc_weight) * final + config.inter_ctc_weight * inter_loss
    return loss, final


@dataclass
class EpochTotals:
    """One epoch's training figures, summed over all processes: the steps whose gradients were not
    finite were skipped, and their batches count in neither the loss nor the utterances and frames."""

    loss_sum: float  # the final CTC loss, summed over the utterances
    utts: int
    frames: int
    steps: int
    skipped: int
    first_skipped: list[str]  # the first utterances of this process's first skipped batch, "..." if it has more


def train_one_epoch(config: TrainConfig, learner: Learner, data: TrainingData, epoch: int,
                    world: World = World()) -> EpochTotals:
    """One pass over this process's share of the training batches.

    The RNG is reseeded and the batches drawn from the seed, the epoch and
    the rank alone, so that a resumed run repeats the epoch it would have had.
    A step whose gradient norm is not finite (an overflow, a corrupt
    feature) is skipped: applied, it would make every weight NaN for the
    rest of the run.  All ranks see the same all-reduced norm, so they skip
    together.
    """
    # Ranks draw different dropout and augmentation; one process keeps the seed it always had.
    torch.manual_seed((config.seed * 100003 + epoch) * world.size + world.rank)
    rng = np.random.default_rng([config.seed, epoch, world.rank])  # the waveform degradations'
    augmenter = data.augmenter if data.augmenter is not None and config.wave_augment.applies_to(epoch) else None
    learner.net.train()
    loss_sum, utts, frames, steps, skipped, first_skipped = 0.0, 0, 0, 0, 0, []
    shard = shard_batches(bucket_batches(data.lengths, config.max_frames, config.max_batch, True, config.seed + epoch),
                          world.rank, world.size)
    # On rank 0's terminal only (disable=None): a recipe's log file gets the epoch lines, not redraws.
    progress = tqdm(shard, desc=f"epoch {epoch}", unit="batch", mininterval=5, leave=False,
                    disable=None if world.is_main else True)
    for indices, weight in progress:
        gate_pad = augmenter.draw_gate(rng) if augmenter is not None else None  # per batch: see asr.data.augment
        augmented = None if augmenter is None else lambda utt: augmenter.features_of(utt, rng, gate_pad)  # noqa: E731
        batch = data.reader.batch([data.train[i] for i in indices], augmented)
        loss, final = compute_loss(learner.net, batch, config, learner.device, learner.amp)
        learner.optimizer.zero_grad()
        learner.scaler.scale(loss * weight).backward()  # DDP averages the ranks' gradients here
        learner.scaler.unscale_(learner.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(learner.model.parameters(), config.grad_clip)
        steps += 1
        if torch.isfinite(norm):
            learner.scaler.step(learner.optimizer)
            learner.scheduler.step()  # the schedule counts the steps taken
            loss_sum += final.item() * len(batch.keys)
            utts += len(batch.keys)
            frames += int(batch.lengths.sum())
        else:
            skipped += 1
            first_skipped = first_skipped or batch.keys[:3] + ["..."] * (len(batch.keys) > 3)
        learner.scaler.update()  # a loss scale (float16 on CUDA) shrinks after a non-finite step
        progress.set_postfix(loss=f"{final.item():.1f}", refresh=False)
    loss_sum, utts, frames, steps, skipped = distributed.all_sum(world, [loss_sum, utts, frames, steps, skipped])
    return EpochTotals(loss_sum, int(utts), int(frames), int(steps), int(skipped), first_skipped)


def check_resume(config: TrainConfig, resumed_from: Path, state: dict[str, Any], world: World = World()) -> None:
    """Refuse to resume from a checkpoint written with another config (both with the model's dimensions filled in).

    The schedule, batches and seeds all follow from the config: a resumed
    run is only the same run if the config is the same, but for
    :data:`BOOKKEEPING` (which weights are kept, whether features are cached).
    """
    saved = to_dict(from_dict(TrainConfig, state["config"], f"{resumed_from}:config"))
    changed = [key for key, value in to_dict(config).items() if saved[key] != value and key not in BOOKKEEPING]
    if changed:
        raise ValueError(f"{resumed_from}: cannot resume with a different config ({', '.join(changed)} changed)")
    log.info("resuming from %s after epoch %d", resumed_from, state["epoch"])
    if state.get("world_size", 1) != world.size:
        log.warning("%s was written by %d processes, now %d: the batches and schedule differ from an "
                    "uninterrupted run", resumed_from, state.get("world_size", 1), world.size)


def load_checkpoint_if_available(state: dict[str, Any] | None, learner: Learner) -> tuple[int, History]:
    """The epoch to start at and the history so far: from the checkpoint ``state``, restored into ``learner``, if any."""
    if state is None:
        return 1, []
    return load_checkpoint(state, learner.model, learner.optimizer, learner.scheduler, learner.scaler)


def load_training_data(config: TrainConfig, train: DataDir, dev: DataDir, tokenizer: Tokenizer,
                       features: FeatureConfig, cmvn: torch.Tensor) -> TrainingData:
    """The usable utterances of the training and dev sets (with a warning for those left out), their
    normalized features' reader and, where the config asks for it, the training audio's augmenter."""
    train_utts, skipped = load_utterances(train, tokenizer, config.model.subsampling, for_training=True)
    dev_utts, dev_skipped = load_utterances(dev, tokenizer, config.model.subsampling, for_training=True)
    for name, counts, total in (("train", skipped, len(train.feats)), ("dev", dev_skipped, len(dev.feats))):
        if counts:
            log.warning("%s: skipped %d of %d utterances: %s", name, sum(counts.values()), total,
                        ", ".join(f"{n} {reason}" for reason, n in counts.items()))
    if not train_utts or not dev_utts:
        raise ValueError(f"no usable utterances in {train.path if not train_utts else dev.path}")
    log.info("train %d utts, dev %d utts, %d tokens", len(train_utts), len(dev_utts), len(tokenizer))
    mean, inv_std = normalization(features, cmvn)
    augmenter = None
    if config.wave_augment.active:
        started = time.time()
        augmenter = WaveAugmenter(config.wave_augment, train, train_utts, features, mean, inv_std,
                                  config.model.subsampling, config.seed, cache=config.cache_features)
        log.info("waveform augmentation: %s (set up in %.0f s)", config.wave_augment, time.time() - started)
    return TrainingData(train_utts, dev_utts, FeatureReader(mean, inv_std, cache=config.cache_features), augmenter)


def train(config: TrainConfig, train_dir: str | Path, dev_dir: str | Path, exp_dir: str | Path, resume: bool,
          overwrite: bool = False, on_epoch_end: EpochHook | None = None) -> Path:
    """Train a model; returns the path of the last checkpoint.

    ``exp_dir`` receives ``train.yaml`` (``config`` with the model's input
    dimension and token count filled in: the config the model is built
    from), ``tokens.txt``, ``train.log``, ``history.json``, ``train.png``,
    ``last.pt`` (full state, for ``resume``; ``last.prev.pt`` is the one
    before) and ``epoch-N.pt`` weights of the best epochs by dev CER
    (``keep_best``) and of the latest (``keep_last``).  If it
    holds a run already, one of ``resume`` and ``overwrite`` must say whether
    to continue or replace it.  Under ``torchrun`` (WORLD_SIZE > 1) every
    process calls this, and rank 0 alone writes these files.

    ``on_epoch_end(epoch, history)`` is called by every process at the end
    of each epoch, once rank 0 has written that epoch's files; an exception
    it raises ends training there, and the run can be resumed.
    """
    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other: continue the run, or replace it")
    device_type = resolve_device(config.device).type
    world = distributed.init(device_type)
    device = torch.device("cuda", world.local_rank) if device_type == "cuda" else torch.device("cpu")
    try:
        return _train(config, Path(train_dir), Path(dev_dir), Path(exp_dir), resume, overwrite, world, device,
                      on_epoch_end)
    finally:
        distributed.finish(world)


def _train(config: TrainConfig, train_dir: Path, dev_dir: Path, exp: Path, resume: bool, overwrite: bool,
           world: World, device: torch.device, on_epoch_end: EpochHook | None) -> Path:
    if not world.is_main:
        logging.getLogger("asr").setLevel(logging.WARNING)  # one copy of the progress log, from rank 0
    set_threads(config.threads)
    train_data = validate_data_dir(train_dir, need_feats=True)
    dev_data = validate_data_dir(dev_dir, need_feats=True)
    features = load_feature_config(train_dir)
    cmvn = torch.tensor(kaldiio.load_mat(str(train_dir / "cmvn.ark")))
    tokenizer = Tokenizer.from_texts(train_data.text[k] for k in train_data.feats)
    audio_only = [name for name, used in (("wave_augment", config.wave_augment.active),
                                          ("model.utterance_mean", config.model.utterance_mean)) if used]
    if audio_only and not isinstance(features, FbankConfig):
        raise ValueError(f"{train_dir}: {' and '.join(audio_only)} apply to audio (fbank features), not to images")
    # After the data checks: --overwrite must not remove a run for a training that cannot start.
    found = distributed.on_main(world, lambda: open_exp_dir(exp, resume, overwrite))
    if world.is_main:
        _add_file_log(exp / "train.log")
    if found is not None:  # the resumed model's outputs are the tokens it was trained with
        tokenizer = Tokenizer(ModelFile.from_dict(found[1]["spec"], str(found[0]), weights=False).tokens)
    # The config the model is built from: what train.yaml records and resuming compares.
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, input_dim=features.dim,
                                                                   num_tokens=len(tokenizer)))
    if found is not None:
        check_resume(config, *found, world)
    if world.is_main:
        tokenizer.write(exp / "tokens.txt")
        save_config(config, exp / "train.yaml")
    data = load_training_data(config, train_data, dev_data, tokenizer, features, cmvn)

    torch.manual_seed(config.seed)
    model = AcousticModel(config.model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    amp = amp_dtype(config.amp, device)
    # Loss scaling for bf16 too: autocast runs cuDNN's LSTM in float16 whatever its dtype.
    scaler = torch.amp.GradScaler(device.type, enabled=amp is not None and device.type == "cuda")
    steps_per_epoch = len(shard_batches(bucket_batches(data.lengths, config.max_frames, config.max_batch, True),
                                        world.rank, world.size))
    if not steps_per_epoch:
        raise ValueError(f"{train_dir}: fewer batches than the {world.size} training processes")
    total = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, config.warmup_steps, total, config.min_lr_ratio)
    )
    learner = Learner(model, model, optimizer, scheduler, scaler, device, amp)
    start_epoch, history = load_checkpoint_if_available(found[1] if found else None, learner)
    log.info("model: %d parameters, %d steps per epoch, %d process(es) on %s, computing in %s (amp %s)",
             sum(p.numel() for p in model.parameters()), steps_per_epoch, world.size, device,
             str(amp or torch.float32).removeprefix("torch."), config.amp)
    if world.size > 1:  # wrapped after the checkpoint is restored
        learner.net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    spec = ModelFile(config.model, tokenizer.tokens, features, cmvn)

    for epoch in range(start_epoch, config.epochs + 1):
        started = time.time()
        totals = train_one_epoch(config, learner, data, epoch, world)
        if totals.skipped:  # float16 loss scaling (CUDA) overflows now and then by design: no warning for it
            log.log(logging.INFO if scaler.is_enabled() else logging.WARNING, "epoch %d: skipped %d of %d steps "
                    "whose gradients were not finite (the first such batch holds %s)", epoch, totals.skipped,
                    totals.steps, ", ".join(totals.first_skipped))
        if totals.skipped == totals.steps:  # the weights are still the last epoch's: nothing is lost
            raise ValueError(f"{exp}: training diverged: no step of epoch {epoch} had finite gradients; "
                             f"last.pt holds epoch {epoch - 1} (try a lower lr, or amp: none)")
        dev_loss, dev_cer = compute_validation_loss(model, data.reader, data.dev, tokenizer, config.max_frames,
                                                    world, device, amp)
        elapsed = time.time() - started
        history.append({"epoch": epoch, "train_loss": totals.loss_sum / totals.utts, "dev_loss": dev_loss,
                        "dev_cer": dev_cer, "lr": scheduler.get_last_lr()[0], "seconds": elapsed,
                        "frames_per_second": totals.frames / elapsed, "skipped_steps": totals.skipped})
        log.info("epoch %d: train loss %.3f, dev loss %.3f, dev CER %.2f%%, %.0f s",
                 epoch, history[-1]["train_loss"], dev_loss, 100 * dev_cer, elapsed)
        if world.is_main:
            keep_weights(exp, epoch, model, history, config.keep_best, config.keep_last)
            save_checkpoint(exp, config=to_dict(config), spec=spec, model=model, optimizer=optimizer,
                            scheduler=scheduler, scaler=scaler, epoch=epoch, history=history, world_size=world.size)
            (exp / "history.json").write_text(json.dumps(history, indent=1))
            plot_history(history, exp / "train.png")
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)
    distributed.barrier(world)  # every rank returns once rank 0 has written the last checkpoint
    return exp / "last.pt"


def _add_file_log(path: Path) -> None:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("asr").addHandler(handler)
