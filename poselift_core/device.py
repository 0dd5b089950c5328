"""Which device a run uses, and how the CPU allocator is told to keep memory between training steps."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import torch

__all__ = ["resolve_device", "keep_freed_cpu_memory"]


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def resolve_device(name: "str | torch.device" = "auto") -> torch.device:
    """``"auto"`` → CUDA if available, else Apple MPS, else CPU; ``"gpu"`` means ``"cuda"``; anything else is
    passed to ``torch.device``. A device this machine does not have raises ``ValueError`` naming it."""
    asked = str(name)
    name = asked.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "gpu" or name.startswith("gpu:"):
        name = "cuda" + name[3:]
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N, gpu or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {asked!r} requested but torch sees no CUDA GPU (torch.cuda.is_available() is "
                             "False); use auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA GPU(s) exist")
    elif device.type == "mps" and not _mps_available():
        raise ValueError(f"device {name!r} requested but Apple MPS is not available; use auto or cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r} is not supported; use auto, cpu, cuda, cuda:N, gpu or mps")
    return device


_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameter numbers in glibc's malloc.h


def keep_freed_cpu_memory() -> bool:
    """Make glibc's ``malloc`` keep freed memory for reuse instead of handing it back to the kernel.

    PyTorch allocates every CPU activation and gradient with plain ``malloc``. glibc serves large blocks
    (from 128 kB, and always from 32 MB) with ``mmap`` and unmaps them on ``free``, and trims the heap top, so
    every training step faults in fresh zeroed pages: measured 3,985 page faults per step for the vanilla GCN
    (batch 256; about 11% of its step time) and 843k for 27-frame GLA-GCN (the step was 1.35x slower). With
    ``mmap`` off and the trim threshold at its maximum, freed blocks stay in the heap and the next step reuses
    them: after the first step the process keeps its peak memory, as the CUDA caching allocator does on a GPU.

    Called by :class:`Trainer` on CPU runs and by the benchmarks; ``POSELIFT_KEEP_CPU_MEMORY=0`` turns it off.
    Returns whether the setting was applied (``False`` off Linux/glibc or when turned off).
    """
    if os.environ.get("POSELIFT_KEEP_CPU_MEMORY", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1)) and bool(mallopt(_M_MMAP_MAX, 0))
