"""Length-bucketed batches of indices, without torch.

Training (:mod:`asr.data.batching`), the torch recognizer and the torch-free
runtime (:mod:`asr.runtime`) group utterances of similar length the same way.
"""

from __future__ import annotations

import random
from typing import Sequence


def bucket_batches(
    lengths: Sequence[int], max_frames: int, max_batch: int, shuffle: bool, seed: int = 0
) -> list[list[int]]:
    """Group indices into batches of similar length, each below ``max_frames`` padded frames.

    With ``shuffle``, lengths are jittered before sorting so that batch
    composition changes between epochs, and the batch order is shuffled;
    ``seed`` (e.g. base seed + epoch) makes both reproducible and resumable.
    """
    rng = random.Random(seed)
    jitter = [rng.uniform(0.9, 1.1) if shuffle else 1.0 for _ in lengths]
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i] * jitter[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        longest_if_added = max(longest, lengths[i])
        if current and (longest_if_added * (len(current) + 1) > max_frames or len(current) >= max_batch):
            batches.append(current)
            current, longest_if_added = [], lengths[i]
        current.append(i)
        longest = longest_if_added
    if current:
        batches.append(current)
    if shuffle:
        rng.shuffle(batches)
    return batches
