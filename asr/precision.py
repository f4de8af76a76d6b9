"""Mixed precision: which autocast dtype a setting gives on a device, and why.

One rule serves training and decoding: bfloat16 only where it runs natively,
float32 elsewhere.  On CPUs, native means the instruction set has bfloat16
arithmetic (AVX-512 BF16 or AMX) *and* oneDNN is allowed to use it
(``ONEDNN_MAX_CPU_ISA`` may hide it).  torch's own probe,
``torch.ops.mkldnn._is_mkldnn_bf16_supported()``, says True on any AVX-512
CPU, where oneDNN emulates bfloat16: the AN4 model's forward+backward is then
3.4x *slower* than in float32 (Intel Xeon without BF16, one thread), so it
cannot decide.  A model trained in bfloat16 is also decoded in bfloat16 where
it is native: its checkpoints were chosen by a dev CER computed that way.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

import torch

log = logging.getLogger(__name__)

AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}

# oneDNN's instruction-set levels, lowest first, as ONEDNN_MAX_CPU_ISA names them
# (oneDNN 3.x; the AVX10 names are aliases of the AVX512_CORE_* ones beside them).
ONEDNN_ISAS = (
    ("SSE41",), ("AVX",), ("AVX2",), ("AVX2_VNNI",), ("AVX2_VNNI_2",), ("AVX512_CORE",), ("AVX512_CORE_VNNI",),
    ("AVX512_CORE_BF16",), ("AVX512_CORE_FP16", "AVX10_1_512"), ("AVX512_CORE_AMX", "AVX10_1_512_AMX"),
    ("AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX_FP16"), ("AVX10_2_512",), ("AVX10_2_512_AMX_2",),
)
# CPU flag (as /proc/cpuinfo and lscpu name it) -> the oneDNN level that uses it for bfloat16.
BF16_FLAGS = {"avx512_bf16": "AVX512_CORE_BF16", "amx_bf16": "AVX512_CORE_AMX"}


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where there is none, e.g. macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def _isa_level(name: str) -> int | None:
    """Rank of a oneDNN ISA name in :data:`ONEDNN_ISAS`; None for ``ALL``/``DEFAULT``/unset/unknown."""
    name = name.strip().upper()
    return next((rank for rank, names in enumerate(ONEDNN_ISAS) if name in names), None)


def cpu_bf16_support(flags: frozenset[str] | None = None, max_isa: str | None = None) -> tuple[bool, str]:
    """Whether this CPU runs bfloat16 natively through oneDNN, and the reason in words.

    ``flags`` defaults to :func:`cpu_flags`, ``max_isa`` to the
    ``ONEDNN_MAX_CPU_ISA`` environment variable.
    """
    flags = cpu_flags() if flags is None else flags
    max_isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "") if max_isa is None else max_isa
    if not torch.backends.mkldnn.is_available():
        return False, "this torch build has no oneDNN"
    present = sorted(flag for flag in BF16_FLAGS if flag in flags)
    if not present:
        return False, "the CPU has no native bfloat16 (neither avx512_bf16 nor amx_bf16 in its flags)"
    cap = _isa_level(max_isa)
    usable = [flag for flag in present if cap is None or cap >= _isa_level(BF16_FLAGS[flag])]  # type: ignore[operator]
    if not usable:
        return False, f"ONEDNN_MAX_CPU_ISA={max_isa} hides the CPU's {'/'.join(present)} from oneDNN"
    return True, f"the CPU has {'/'.join(usable)}"


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of ``amp`` on ``device``, or None (float32) where it would not pay.

    CUDA: bf16 where the GPU supports it, fp16 always.  CPU: bf16 only where
    :func:`cpu_bf16_support` says it is native; fp16 never (no fast CPU
    kernels).  The choice and its reason are logged once per process.
    """
    if amp not in AMP_DTYPES:
        raise ValueError(f"amp must be one of {', '.join(AMP_DTYPES)}, got {amp!r}")
    if amp == "none":
        return None
    if device.type == "cuda":
        native = amp == "fp16" or torch.cuda.is_bf16_supported()
        reason = f"{torch.cuda.get_device_name(device)}" + ("" if native else " has no bfloat16")
    elif amp == "bf16":
        native, reason = cpu_bf16_support()
    else:
        native, reason = False, "float16 autocast is for CUDA only"
    _log_once(f"amp {amp} on {device.type}: {'using ' + amp if native else 'float32'} ({reason})")
    return AMP_DTYPES[amp] if native else None


@lru_cache(maxsize=None)
def _log_once(message: str) -> None:
    log.info("%s", message)


def autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    """Autocast to ``dtype`` on ``device``; a no-op for None (float32)."""
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
