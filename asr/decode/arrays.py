"""Log-probs (and lengths) as numpy arrays, whatever they arrive as.

The decoders and the aligner are numpy code, so that the torch-free runtime
(:mod:`asr.runtime`) and the torch recognizer share them.  The torch side
hands them tensors, which become arrays here without this package importing
torch: a tensor is recognized by its ``detach`` method.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_numpy(values: Any, dtype: type = np.float32) -> np.ndarray:
    """A C-contiguous ``dtype`` array of a numpy array, a torch tensor (any device or dtype) or a nested list."""
    if hasattr(values, "detach"):  # a torch tensor: off the graph and the GPU, bfloat16 widened (numpy has none)
        values = values.detach().cpu()
        values = values.float() if values.is_floating_point() else values
    return np.ascontiguousarray(values, dtype=dtype)
