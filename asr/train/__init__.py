"""Training: the loop, its checkpoints, and several processes.

The training loop in pieces (:mod:`.loop`: compute_loss, train_one_epoch,
train), the CTC loss and the dev figures that choose epochs
(:mod:`.objective`), the exp dir's checkpoints, keeping the best
epochs and averaging them (:mod:`.checkpoint`), and DistributedDataParallel
(:mod:`.distributed`).  Imports :mod:`asr.data`, :mod:`asr.model`,
:mod:`asr.decode` (greedy CER on dev), :mod:`asr.scoring` and the model file
of :mod:`asr.inference` (training writes through its owner).
"""

from asr.train.checkpoint import average_checkpoints
from asr.train.loop import TrainConfig, train

__all__ = ["TrainConfig", "average_checkpoints", "train"]
