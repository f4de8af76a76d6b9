"""Mixed precision: which autocast dtype a setting gives on a device.

One rule serves training and decoding.  A model trained in bfloat16 is also
decoded in bfloat16 where the CPU runs it natively: its checkpoints were
chosen by a dev CER computed that way, and the forward pass is 1.7-1.9x
faster than in float32 (AN4 model, one core).
"""

from __future__ import annotations

import torch

AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``amp`` on ``device``, or None where it would not pay.

    On CPUs only bf16 is offered, and only where oneDNN runs it natively
    (AVX-512 BF16 or AMX): there it trains LSTMs about 1.5x faster, elsewhere
    it would be emulated and slower than float32.
    """
    if amp not in AMP_DTYPES:
        raise ValueError(f"amp must be one of {', '.join(AMP_DTYPES)}, got {amp!r}")
    if device.type == "cuda":
        return AMP_DTYPES[amp]
    native = amp == "bf16" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return torch.bfloat16 if native else None


def autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    """Autocast to ``dtype`` on ``device``; a no-op for None (float32)."""
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
