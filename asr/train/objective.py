"""The CTC objective: the loss of a batch that training minimizes, and the dev loss and CER that choose epochs."""

from __future__ import annotations

import torch

from asr.data.batching import Batch, FeatureReader, Utterance
from asr.data.buckets import bucket_batches
from asr.data.text import Tokenizer
from asr.decode.search import ctc_greedy
from asr.model import AcousticModel
from asr.precision import autocast
from asr.scoring import score
from asr.train import distributed
from asr.train.distributed import World


def ctc_loss(log_probs: torch.Tensor, lengths: torch.Tensor, batch: Batch) -> torch.Tensor:
    """CTC loss summed over each utterance, averaged over the batch (in float32, also under autocast)."""
    return torch.nn.functional.ctc_loss(
        log_probs.float().transpose(0, 1), batch.labels, lengths, batch.label_lengths,
        blank=0, reduction="sum", zero_infinity=True,
    ) / len(batch.keys)


def char_error_rate(refs: list[str], hyps: list[str]) -> float:
    """CER as ``asr score`` computes it, so dev figures and final scores agree."""
    ids = [str(i) for i in range(len(refs))]
    return score(dict(zip(ids, refs)), dict(zip(ids, hyps)), unit="char").totals.rate


@torch.no_grad()
def compute_validation_loss(
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
