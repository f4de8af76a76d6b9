"""Stacked bidirectional LSTM (or GRU) with a linear CTC output layer,
optionally behind a small convolutional front end (for images of text lines).

The backward direction must start at each sequence's own last frame, not at
the padding: running it over padding corrupts the shorter sequences in a
batch.  Packed sequences fix that but are 4-5x slower on CPU, so each layer
runs two unidirectional RNNs over padded batches, the backward one on input
reversed within each sequence's length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from asr.data.features import stack_frames, subtract_utterance_mean


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
    # Convolutional front end, off when empty: output channels of each 3x3
    # conv block, and its max-pooling (height, width); width pooling subsamples.
    conv_channels: tuple[int, ...] = ()
    conv_pool: tuple[tuple[int, int], ...] = ()
    # Intermediate CTC (Lee & Watanabe 2021): layers (1-based) whose outputs also
    # go through the CTC output layer, for an auxiliary loss in training.  With
    # self_condition (Nozaki & Komatsu 2021) their predictions are projected
    # back and added to the layer's output, so later layers refine them.
    inter_ctc_layers: tuple[int, ...] = ()
    self_condition: bool = False
    # Audio only: subtract each utterance's mean frame from its (globally normalized) features, as the
    # network's first step so that every caller (training, decoding, the ONNX graph) does it.  A
    # recording's level and a fixed channel then change nothing, where global CMVN alone leaves them
    # as a shift the model must learn.  (Image features need their paper at 0, as they are.)
    utterance_mean: bool = False

    def __post_init__(self) -> None:
        self.conv_channels = tuple(self.conv_channels)
        self.conv_pool = tuple(tuple(pool) for pool in self.conv_pool)  # type: ignore[misc]
        self.inter_ctc_layers = tuple(sorted(set(self.inter_ctc_layers)))
        if any(not 1 <= layer < self.layers for layer in self.inter_ctc_layers):
            raise ValueError(f"inter_ctc_layers must lie in 1..{self.layers - 1} (layers: {self.layers})")
        if self.self_condition and not self.inter_ctc_layers:
            raise ValueError("self_condition needs inter_ctc_layers")
        if len(self.conv_pool) != len(self.conv_channels) or any(
            len(pool) != 2 or min(pool) < 1 for pool in self.conv_pool
        ) or any(c < 1 for c in self.conv_channels):
            raise ValueError("conv_pool needs one (height, width) pair >= 1 per entry of conv_channels")
        if self.rnn not in ("lstm", "gru"):
            raise ValueError(f"rnn must be 'lstm' or 'gru', got {self.rnn!r}")
        if self.projection and (self.rnn != "lstm" or self.projection >= self.hidden):
            raise ValueError("projection needs rnn 'lstm' and must be smaller than hidden")
        if min(self.stack, self.hidden, self.layers) < 1 or not 0 <= self.dropout < 1:
            raise ValueError(f"invalid model config: {self}")
        if self.conv_channels and self.stack != 1:
            raise ValueError("a conv front end subsamples by its width pooling: set stack to 1")

    @property
    def subsampling(self) -> int:
        """Input frames per output frame: frame stacking times the front end's width pooling."""
        return self.stack * math.prod(width for _, width in self.conv_pool)


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


class ConvFrontEnd(nn.Module):
    """Conv 3x3 -> batch norm -> leaky ReLU -> max pool blocks over (B, T, D) input seen as a D x T image.

    Positions past each sequence's length are zeroed after every block, so in
    eval mode a line's output does not depend on the padding of the batch it
    is in (in training, batch norm's statistics do include the padding).
    """

    def __init__(self, input_dim: int, channels: tuple[int, ...], pools: tuple[tuple[int, int], ...]) -> None:
        super().__init__()
        blocks, previous, height = [], 1, input_dim
        for out_channels, (pool_h, pool_w) in zip(channels, pools):
            block = [nn.Conv2d(previous, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels), nn.LeakyReLU(0.01)]
            if pool_h * pool_w > 1:
                block.append(nn.MaxPool2d((pool_h, pool_w)))
            blocks.append(nn.Sequential(*block))
            previous, height = out_channels, height // pool_h
        if height < 1:
            raise ValueError(f"conv_pool reduces the input height {input_dim} to nothing")
        self.blocks = nn.ModuleList(blocks)
        self.widths = [width for _, width in pools]
        self.output_dim = previous * height

    @staticmethod
    def _mask(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        steps = torch.arange(x.shape[3], device=x.device)
        return x * (steps < lengths.to(x.device).unsqueeze(1)).view(x.shape[0], 1, 1, -1)

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Channels-last: oneDNN's conv and pooling kernels for few channels are about 2x faster in it.
        x = self._mask(feats.transpose(1, 2).unsqueeze(1), lengths).contiguous(memory_format=torch.channels_last)
        for block, width in zip(self.blocks, self.widths):
            lengths = lengths // width
            x = self._mask(block(x), lengths)
        batch, channels, height, frames = x.shape
        return x.permute(0, 3, 1, 2).reshape(batch, frames, channels * height), lengths


class AcousticModel(nn.Module):
    """Optional utterance mean -> frame stacking -> optional conv front end -> N bidirectional layers -> linear
    -> log-softmax.

    The intermediate CTC layers share the output layer with the last one (and
    with self-conditioning one projection back), so they add almost no weights.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.num_tokens < 2:
            raise ValueError("model needs num_tokens >= 2")
        self.config = config
        out_size = 2 * (config.projection or config.hidden)
        self.frontend = (
            ConvFrontEnd(config.input_dim * config.stack, config.conv_channels, config.conv_pool)
            if config.conv_channels else None
        )
        first = self.frontend.output_dim if self.frontend else config.input_dim * config.stack
        sizes = [first] + [out_size] * (config.layers - 1)
        self.layers = nn.ModuleList(BiRNNLayer(size, config) for size in sizes)
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(out_size, config.num_tokens)
        self.condition = nn.Linear(config.num_tokens, out_size) if config.self_condition else None

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, intermediate: bool = False) -> tuple:
        """(B, T, D) features -> ((B, T', V) log-probs, (B,) output lengths).

        With ``intermediate``, a third item: the log-probs of the
        ``inter_ctc_layers``, for their auxiliary CTC losses.
        """
        if self.config.utterance_mean:
            feats = subtract_utterance_mean(feats, lengths)
        x, lengths = stack_frames(feats, lengths, self.config.stack)
        if self.frontend is not None:
            x, lengths = self.frontend(x, lengths)
        inter = []
        for i, layer in enumerate(self.layers, 1):
            x = layer(self.dropout(x) if i > 1 else x, lengths)
            if i in self.config.inter_ctc_layers and (intermediate or self.condition is not None):
                inter.append(self.output(x).log_softmax(dim=-1))
                if self.condition is not None:
                    x = x + self.condition(inter[-1].exp())
        log_probs = self.output(self.dropout(x)).log_softmax(dim=-1)
        return (log_probs, lengths, inter) if intermediate else (log_probs, lengths)
