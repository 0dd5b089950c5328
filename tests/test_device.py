"""Device choice (names map to torch devices, a device the machine lacks is one clear error) and the CPU
allocator setting the trainer applies."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from poselift_core.device import resolve_device


def test_auto_and_aliases():
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available() else "cpu")
    assert resolve_device("auto").type == expected
    assert resolve_device(" CPU ") == torch.device("cpu")
    if torch.cuda.is_available():
        assert resolve_device("gpu:0") == torch.device("cuda:0")


@pytest.mark.parametrize("name, match", [("tpu", "not supported|unknown device"), ("banana", "unknown device")])
def test_unknown_devices_are_named(name, match):
    with pytest.raises(ValueError, match=match):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_missing_gpu_is_named():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("gpu")


_FAULTS_SCRIPT = r"""
import resource, sys, torch
from poselift_core.device import keep_freed_cpu_memory
applied = keep_freed_cpu_memory() if sys.argv[1] == "keep" else False
for _ in range(10):  # the heap settles over the first few cycles (measured: 0-5 of them still fault)
    torch.empty(12_000_000).fill_(1.0)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):  # what a training step does: allocate, write, free big activations
    torch.empty(12_000_000).fill_(1.0)
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_keep_freed_cpu_memory_stops_page_faults_on_reallocation():
    """48 MB allocated and freed twenty times: glibc's default maps and unmaps it every time (~12k faults each),
    with the setting the freed block is reused."""
    def run(mode: str) -> tuple[str, int]:
        out = subprocess.run([sys.executable, "-c", _FAULTS_SCRIPT, mode], capture_output=True, text=True,
                             check=True, env={**os.environ, "POSELIFT_KEEP_CPU_MEMORY": "1"}).stdout.split()
        return out[0], int(out[1])

    applied, kept_faults = run("keep")
    if applied != "True":
        pytest.skip("keep_freed_cpu_memory() has no effect here (not Linux/glibc)")
    _, default_faults = run("default")
    assert default_faults > 20 * 5_000, default_faults  # the default really faults in every block again
    assert kept_faults < default_faults / 5, (kept_faults, default_faults)  # measured 0 vs 234k
