"""poselift_core.distributed on its own: the gloo-capable synchronised BatchNorm against torch's BatchNorm over
the union of the ranks' batches, its conversion, and process-group setup outside ``torchrun``.

Whole training runs under ``torchrun`` are compared in tests/test_ddp.py.
"""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

from poselift_core.distributed import DistInfo, GlooSyncBatchNorm, barrier, convert_sync_batchnorm, init_from_env


def batch(seed: int, shape=(8, 3, 5)) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 + 1


def test_single_process_is_plain_batchnorm_in_training_and_evaluation():
    ours, ref = GlooSyncBatchNorm(3).double(), nn.BatchNorm1d(3).double()
    for seed in range(3):
        x = batch(seed)
        torch.testing.assert_close(ours(x), ref(x))
    torch.testing.assert_close(ours.running_mean, ref.running_mean)
    torch.testing.assert_close(ours.running_var, ref.running_var)
    ours.eval(), ref.eval()
    torch.testing.assert_close(ours(batch(9)), ref(batch(9)))
    with pytest.raises(ValueError, match="at least 2D"):
        ours(torch.zeros(3))


def test_conversion_replaces_every_batchnorm_and_keeps_its_state():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(),
                          nn.Sequential(nn.Linear(6, 6), nn.BatchNorm1d(6, momentum=None)))
    model(torch.randn(10, 4))                                   # updates the running statistics once
    model.eval()
    converted = convert_sync_batchnorm(model, "cpu")
    norms = [m for m in converted.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(norms) == 2 and all(type(m) is GlooSyncBatchNorm for m in norms)
    assert norms[1].momentum is None and not converted.training
    x = torch.randn(7, 4)
    torch.testing.assert_close(converted(x), model(x))
    assert convert_sync_batchnorm(converted, "cpu") is converted             # already converted: unchanged


def test_without_torchrun_nothing_is_set_up(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    assert init_from_env("cpu") == DistInfo(rank=0, world_size=1, local_rank=0)
    assert not DistInfo().enabled and DistInfo().is_main and DistInfo(rank=1, world_size=2).enabled
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")                                     # torchrun with one process
    assert init_from_env("cpu") == DistInfo() and not dist.is_initialized()
    barrier()                                                                 # no process group: a no-op


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="no gloo backend")
def test_two_ranks_normalise_with_the_statistics_of_both_batches():
    """Two ranks with uneven batches (5 and 3) give what one BatchNorm gives on the 8 samples together."""
    x = batch(1, shape=(8, 3, 4))
    parts = [x[:5], x[5:]]                                                    # each rank sees only its own rows
    out = mp.Manager().dict()
    mp.spawn(_spawned, args=(_free_port(), parts, out), nprocs=2, join=True)
    ref = nn.BatchNorm1d(3).double()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor([1.0, 2.0, -0.5]))
        ref.bias.copy_(torch.tensor([0.1, 0.0, 0.3]))
    xr = x.clone().requires_grad_(True)
    y = ref(xr)
    # the same per-rank weighting of the output as the workers use
    w = torch.cat([torch.arange(60, dtype=y.dtype).reshape(5, 3, 4),
                   torch.arange(36, dtype=y.dtype).reshape(3, 3, 4)])
    (y * w).sum().backward()
    torch.testing.assert_close(torch.cat([out[0][0], out[1][0]]), y.detach())
    torch.testing.assert_close(torch.cat([out[0][1], out[1][1]]), xr.grad)
    torch.testing.assert_close(out[0][2] + out[1][2], ref.weight.grad)       # DDP sums the ranks' parameter grads
    for r in (0, 1):
        torch.testing.assert_close(out[r][3], ref.running_mean)
        torch.testing.assert_close(out[r][4], ref.running_var)


def _spawned(rank: int, port: int, parts: list, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        bn = GlooSyncBatchNorm(3).double()
        with torch.no_grad():
            bn.weight.copy_(torch.tensor([1.0, 2.0, -0.5]))
            bn.bias.copy_(torch.tensor([0.1, 0.0, 0.3]))
        x = parts[rank].clone().requires_grad_(True)
        y = bn(x)
        (y * torch.arange(y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
        out[rank] = (y.detach(), x.grad, bn.weight.grad, bn.running_mean, bn.running_var)
    finally:
        dist.destroy_process_group()
