"""Where the model runs: the device and the CPU thread count, one rule for every command.

Training reads them from its config (``device``, ``threads``); the commands
that run a trained model (``decode``, ``tune``, ``align``, ``transcribe``)
take ``--device`` and ``--threads``, and the Python API ``device=``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: `asr transcribe` with an ONNX model runs without torch
    import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str | torch.device) -> torch.device:
    """``auto``: CUDA when torch sees a GPU, else the CPU; ``cuda`` without a GPU is a one-line error."""
    import torch

    if isinstance(name, torch.device):
        return name
    if name not in DEVICES and not name.startswith("cuda:"):
        raise ValueError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {name}: torch sees no CUDA device")
    return torch.device(name)


def set_threads(threads: int) -> None:
    """Use ``threads`` CPU threads for torch's kernels (0: torch's default, one per core)."""
    if threads < 0:
        raise ValueError(f"threads must be 0 (torch's default) or more, got {threads}")
    if threads:
        import torch

        torch.set_num_threads(threads)


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """``--device`` and ``--threads``, for the commands that run a trained model."""
    group = parser.add_argument_group("where the model runs")
    group.add_argument("--device", default="auto",
                       help="auto (a CUDA GPU when torch sees one, else the CPU), cpu, cuda or cuda:N (default: auto)")
    group.add_argument("--threads", type=int, default=0,
                       help="CPU threads for the network (default 0: torch's default, one per core)")
