"""Utterance lists, length-bucketed batches and padding.

Padded batches of similar lengths keep CPU training fast (little padding,
no packing).  Utterances that cannot be trained on (empty transcript, a
character outside the token list, too few frames for the label under CTC)
are reported and counted here, once, before training starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch

from asr.data.buckets import bucket_batches
from asr.data.datadir import DataDir, load_feats
from asr.data.text import Tokenizer, UnknownCharacterError, ctc_min_frames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Utterance:
    key: str
    feats: str  # kaldiio rxspecifier, e.g. /path/feats.ark:1234
    num_frames: int
    text: str
    labels: tuple[int, ...]


def load_utterances(
    data: DataDir, tokenizer: Tokenizer, subsampling: int, for_training: bool
) -> tuple[list[Utterance], dict[str, int]]:
    """The usable utterances of a data dir with features, and the skip counts by reason.

    Scoring sets (``for_training=False``) keep utterances with empty or
    unencodable transcripts: their hypotheses must still be produced.
    """
    utterances, skipped = [], {"empty transcript": 0, "unknown character": 0, "too short for its label": 0}
    for key in sorted(data.feats):
        text = data.text.get(key, "")
        frames = data.num_frames.get(key)
        if frames is None:
            frames = load_feats(data.feats[key], key).shape[0]
        labels: list[int] = []
        reason = None
        try:
            labels = tokenizer.encode(text)
        except UnknownCharacterError as error:
            reason, detail = "unknown character", str(error)
        if reason is None and not labels:
            reason, detail = "empty transcript", "the transcript is empty"
        if reason is None and frames // subsampling < ctc_min_frames(labels):
            reason = "too short for its label"
            detail = f"{frames // subsampling} output frames < {ctc_min_frames(labels)} needed by CTC"
        if reason is not None and for_training:
            skipped[reason] += 1
            log.warning("%s: skipping utterance %s: %s", data.path, key, detail)
            continue
        utterances.append(Utterance(key, data.feats[key], frames, text, tuple(labels)))
    return utterances, {k: v for k, v in skipped.items() if v}


def shard_batches(batches: Sequence[list[int]], rank: int, world_size: int) -> list[tuple[list[int], float]]:
    """One rank's share of a batch list for data-parallel training, with each batch's weight.

    Every rank computes the same ``batches`` (same lengths, same seed) and
    takes every ``world_size``-th one, so length bucketing survives sharding.
    Step ``s`` trains on ``batches[s*W:(s+1)*W]``, one per rank; the list is
    cut to a multiple of W so every rank takes the same number of steps (which
    few batches are cut changes with each epoch's shuffle).  The weight
    ``W * len(own) / len(step)`` scales the rank's per-utterance mean loss so
    that the mean of the ranks' gradients, which DDP computes, is the gradient
    of the per-utterance mean over the whole step, as on one process.
    """
    shard = []
    for step in range(len(batches) // world_size):
        group = batches[step * world_size : (step + 1) * world_size]
        own = group[rank]
        shard.append((own, world_size * len(own) / sum(len(b) for b in group)))
    return shard


@dataclass
class Batch:
    keys: list[str]
    feats: torch.Tensor  # (B, T, D), CMVN applied, zero-padded
    lengths: torch.Tensor  # (B,)
    labels: torch.Tensor  # (sum of label lengths,)
    label_lengths: torch.Tensor  # (B,)


class FeatureReader:
    """Reads features of utterances, normalized (global CMVN for fbank), into padded batches.

    With ``cache`` they stay in memory after the first epoch, which saves
    re-reading ark files every epoch when the training set fits in RAM
    (``cache_features`` in the training config).
    """

    def __init__(self, mean: torch.Tensor, inv_std: torch.Tensor, cache: bool = False) -> None:
        self.mean, self.inv_std = mean, inv_std
        self.cache: dict[str, torch.Tensor] | None = {} if cache else None

    def read(self, utt: Utterance) -> torch.Tensor:
        if self.cache is not None and utt.key in self.cache:
            return self.cache[utt.key]
        feats = (torch.tensor(load_feats(utt.feats, utt.key), dtype=torch.float32) - self.mean) * self.inv_std
        if self.cache is not None:
            self.cache[utt.key] = feats
        return feats

    def batch(self, utts: Sequence[Utterance],
              augmented: Callable[[Utterance], torch.Tensor | None] | None = None) -> Batch:
        """A padded batch; ``augmented(utt)``, where it returns features, replaces the stored ones."""
        feats = [self.read(u) for u in utts] if augmented is None else [
            f if (f := augmented(u)) is not None else self.read(u) for u in utts]
        lengths = torch.tensor([f.shape[0] for f in feats])
        padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True)
        labels = torch.tensor([label for u in utts for label in u.labels], dtype=torch.long)
        label_lengths = torch.tensor([len(u.labels) for u in utts])
        return Batch([u.key for u in utts], padded, lengths, labels, label_lengths)

    def batches(
        self, utts: Sequence[Utterance], max_frames: int, max_batch: int, shuffle: bool, seed: int = 0
    ) -> Iterator[Batch]:
        for indices in bucket_batches([u.num_frames for u in utts], max_frames, max_batch, shuffle, seed):
            yield self.batch([utts[i] for i in indices])
