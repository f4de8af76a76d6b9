"""The precision rule: bfloat16 only where the CPU runs it natively, decided from its flags."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest
import torch

from asr import precision
from asr.precision import amp_dtype, cpu_bf16_support

XEON_AVX512 = frozenset({"avx2", "avx512f", "avx512bw", "avx512_vnni"})  # Cascade Lake: no BF16, no AMX
EPYC_BF16 = XEON_AVX512 | {"avx512_bf16"}  # Zen 4
SAPPHIRE = EPYC_BF16 | {"amx_bf16", "amx_tile", "amx_int8"}


@pytest.mark.parametrize(
    "flags, max_isa, native",
    [
        (XEON_AVX512, "", False),  # AVX-512 alone: oneDNN would emulate bfloat16
        (frozenset({"avx2", "fma"}), "", False),
        (EPYC_BF16, "", True),
        (EPYC_BF16, "ALL", True),
        (EPYC_BF16, "avx512_core_bf16", True),
        (EPYC_BF16, "AVX512_CORE", False),  # the simulation of a CPU without BF16
        (SAPPHIRE, "AVX512_CORE_BF16", True),  # AMX hidden, AVX512_BF16 still usable
        (SAPPHIRE, "AVX512_CORE_VNNI", False),
        (frozenset({"amx_bf16"}), "AVX512_CORE_BF16", False),  # AMX alone needs the AMX level
        (frozenset({"amx_bf16"}), "AVX10_1_512_AMX", True),  # the AVX10 alias of that level
    ],
)
def test_cpu_bf16_support_follows_flags_and_onednn_isa(flags: frozenset[str], max_isa: str, native: bool) -> None:
    found, reason = cpu_bf16_support(flags, max_isa)
    assert found is native
    assert reason  # every answer says why


def test_torch_probe_is_not_the_rule() -> None:
    """torch says True on any AVX-512 CPU; the rule must say False there."""
    assert cpu_bf16_support(XEON_AVX512, "")[0] is False


@pytest.mark.parametrize("native", [True, False])
def test_amp_dtype_on_cpu_follows_the_probe(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(precision, "cpu_bf16_support", lambda: (native, "test"))
    assert amp_dtype("bf16", torch.device("cpu")) is (torch.bfloat16 if native else None)
    assert amp_dtype("none", torch.device("cpu")) is None
    assert amp_dtype("fp16", torch.device("cpu")) is None  # no fast float16 kernels on CPUs


def test_amp_dtype_logs_its_reason_once(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(precision, "cpu_bf16_support", lambda: (False, "a reason only this test gives"))
    with caplog.at_level(logging.INFO, logger="asr.precision"):
        for _ in range(3):
            amp_dtype("bf16", torch.device("cpu"))
    lines = [r.getMessage() for r in caplog.records if "a reason only this test gives" in r.getMessage()]
    assert lines == ["amp bf16 on cpu: float32 (a reason only this test gives)"]


def test_unknown_amp_setting_is_one_line_error() -> None:
    with pytest.raises(ValueError, match="amp must be one of none, bf16, fp16, got 'fp8'"):
        amp_dtype("fp8", torch.device("cpu"))


def test_hidden_isa_reaches_a_fresh_process() -> None:
    """The simulation people run (ONEDNN_MAX_CPU_ISA=AVX512_CORE) makes a new process train in float32."""
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}
    code = "import torch; from asr.precision import amp_dtype; print(amp_dtype('bf16', torch.device('cpu')))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "None"
