"""Multi-process training helpers: process-group setup under ``torchrun`` and synchronised BatchNorm.

With DistributedDataParallel each rank sees a slice of the global batch, so a plain BatchNorm normalises
with per-rank statistics and the run no longer equals the single-process one. ``torch.nn.SyncBatchNorm``
fixes that on CUDA, but (torch 2.13) raises on CPU tensors; :class:`GlooSyncBatchNorm` is the same
computation written with the differentiable ``all_reduce`` of ``torch.distributed.nn``, so CPU/gloo runs
(tests, laptops) match too. Explained on the book's page "Using the library from the command line"
(section "Training", which shows the ``torchrun`` command).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn


_OWNED = False   # True while a process group created by init_from_env is alive


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device_type: str) -> DistInfo:
    """Join the process group when launched by ``torchrun`` (``RANK``/``WORLD_SIZE`` set), else no-op.

    Backend: NCCL on CUDA, gloo otherwise.
    """
    if "RANK" not in os.environ or int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return DistInfo()
    global _OWNED
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
        _OWNED = True
    info = DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    if device_type == "cuda":
        torch.cuda.set_device(info.local_rank)
    return info


def shutdown() -> None:
    """Destroy the process group if :func:`init_from_env` created it (not one the caller set up)."""
    global _OWNED
    if _OWNED and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _OWNED = False


class GlooSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm over the union of all ranks' batches (any input rank ``(B, C, ...)``), CPU-capable.

    Training: ``μ = Σx / N``, ``σ² = Σx² / N − μ²`` with the sums all-reduced over ranks (``N`` = all elements
    per channel on all ranks); ``y = γ (x − μ) / √(σ² + ε) + β``. Running statistics use the unbiased
    ``σ² N / (N − 1)`` as ``nn.BatchNorm`` does. Evaluation and single-process runs use ``F.batch_norm``.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (B, C, ...), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce  # differentiable all_reduce

        dims = [0] + list(range(2, x.dim()))
        n_local = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        stats = torch.cat([x.sum(dims), (x * x).sum(dims), n_local])        # (2C + 1,)
        stats = all_reduce(stats)
        C = x.shape[1]
        n = stats[-1]
        mean = stats[:C] / n
        var = stats[C:2 * C] / n - mean * mean
        shape = [1, C] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = (1.0 / float(self.num_batches_tracked)) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1), alpha=m)
        return y


def convert_sync_batchnorm(module: nn.Module, device_type: str) -> nn.Module:
    """Replace every BatchNorm by a synchronised one: ``torch.nn.SyncBatchNorm`` on CUDA, else ours."""
    if device_type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    out = module
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlooSyncBatchNorm):
        out = GlooSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats)
        out.load_state_dict(module.state_dict())
        out.train(module.training)
    for name, child in module.named_children():
        out.add_module(name, convert_sync_batchnorm(child, device_type))
    return out


def barrier() -> None:
    """Wait until every rank gets here (no-op when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
