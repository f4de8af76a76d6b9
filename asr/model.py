"""Stacked bidirectional LSTM (or GRU) with a linear CTC output layer.

The backward direction must start at each sequence's own last frame, not at
the padding: running it over padding corrupts the shorter sequences in a
batch.  Packed sequences fix that but are 4-5x slower on CPU, so each layer
runs two unidirectional RNNs over padded batches, the backward one on input
reversed within each sequence's length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from asr.features import stack_frames


@dataclass
class ModelConfig:
    """Acoustic model shape; ``input_dim`` and ``num_tokens`` are filled in by training."""

    input_dim: int = 80  # feature dimension before frame stacking
    num_tokens: int = 0  # CTC output size, blank included
    stack: int = 3  # frames stacked and skipped before the RNN (3: 30 ms frame rate)
    hidden: int = 320  # cells per direction
    layers: int = 4
    projection: int = 0  # LSTM projection size per direction (0: none)
    dropout: float = 0.2  # between layers
    rnn: str = "lstm"  # lstm or gru

    def __post_init__(self) -> None:
        if self.rnn not in ("lstm", "gru"):
            raise ValueError(f"rnn must be 'lstm' or 'gru', got {self.rnn!r}")
        if self.projection and (self.rnn != "lstm" or self.projection >= self.hidden):
            raise ValueError("projection needs rnn 'lstm' and must be smaller than hidden")
        if min(self.stack, self.hidden, self.layers) < 1 or not 0 <= self.dropout < 1:
            raise ValueError(f"invalid model config: {self}")


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each (B, T, D) sequence within its own length; padding stays put."""
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
    lengths = lengths.to(x.device).unsqueeze(1)
    index = torch.where(steps < lengths, lengths - 1 - steps, steps)
    return x.gather(1, index.unsqueeze(2).expand_as(x))


class BiRNNLayer(nn.Module):
    """One exact bidirectional layer over a padded batch."""

    def __init__(self, input_size: int, config: ModelConfig) -> None:
        super().__init__()
        kwargs = {"input_size": input_size, "hidden_size": config.hidden, "batch_first": True}
        if config.rnn == "lstm":
            kwargs["proj_size"] = config.projection
            self.forward_rnn, self.backward_rnn = nn.LSTM(**kwargs), nn.LSTM(**kwargs)
        else:
            self.forward_rnn, self.backward_rnn = nn.GRU(**kwargs), nn.GRU(**kwargs)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        forward_out, _ = self.forward_rnn(x)
        backward_out, _ = self.backward_rnn(reverse_padded(x, lengths))
        return torch.cat([forward_out, reverse_padded(backward_out, lengths)], dim=2)


class AcousticModel(nn.Module):
    """Frame stacking -> N bidirectional layers -> linear -> log-softmax."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.num_tokens < 2:
            raise ValueError("model needs num_tokens >= 2")
        self.config = config
        out_size = 2 * (config.projection or config.hidden)
        sizes = [config.input_dim * config.stack] + [out_size] * (config.layers - 1)
        self.layers = nn.ModuleList(BiRNNLayer(size, config) for size in sizes)
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(out_size, config.num_tokens)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, D) features -> ((B, T', V) log-probs, (B,) output lengths)."""
        x, lengths = stack_frames(feats, lengths, self.config.stack)
        for i, layer in enumerate(self.layers):
            x = layer(self.dropout(x) if i else x, lengths)
        return self.output(self.dropout(x)).log_softmax(dim=-1), lengths
