"""Fingerprint of every registered model: parameter count, state-dict layout and values, outputs.

A refactor of ``poselift_core.models`` that claims "same models" must leave every line this prints unchanged.
For each name in ``available()`` (plus a few non-default configurations that reach the other code paths: the
quick-profile widths, conditional adjacency, non-local blocks, dense no-sharing weights, the ModGCN-benchmark
network, GLA-GCN at 27 frames) it builds the model after ``torch.manual_seed(0)`` and prints

- ``params``: :func:`~poselift_core.models.count_parameters`;
- ``layout``: a hash of the state-dict key names, shapes and dtypes (what a checkpoint must match);
- ``init``: a hash of the float64 sum and absolute sum of every state-dict tensor (the initialisation);
- ``out``: the float64 sum and absolute sum of the eval-mode output on a fixed seeded input;
- ``out*``: the same after every floating parameter and buffer is moved by seeded noise, so that branches an
  initialisation keeps silent (GLA-GCN's graph BN starts at gamma = 1e-6, GCN BNs at identity) contribute too.

Only public API that predates the refactor is used (``available``, ``build_model``, ``count_parameters``,
``get_skeleton``), so the same file runs on an older tree::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/model_fingerprint.py > new.txt
    cd ../base && PYTHONPATH=. python ../main/benchmarks/model_fingerprint.py > old.txt && diff old.txt new.txt

``--save FILE`` also stores the outputs, ``--compare FILE`` prints the largest absolute output difference
against such a file (for a change that only reorders floating-point sums).
"""
from __future__ import annotations

import argparse
import hashlib
import sys

import torch

from poselift_core.models import available, build_model, count_parameters
from poselift_core.skeleton import get_skeleton

# Non-default configurations: (name, overrides). The quick profile's widths come first.
EXTRA: list[tuple[str, dict]] = [
    ("dgridconv", {"hidden": 128}), ("gridconv", {"hidden": 128}), ("dgridconv_autogrids", {"hidden": 128}),
    ("glagcn", {"receptive_field": 27, "channels": 48}), ("glagcn", {"receptive_field": 27}),
    ("glagcn", {"receptive_field": 27, "readout": "individual", "channels": 16}),
    ("nosharing", {"dense_weights": True, "hidden": 32}),
    ("modulated", {"skeleton": "h36m17", "hidden": 384, "dropout": 0.2, "modulation_init": "xavier",
                   "gaussian_non_local": True}),
    ("modulated", {"adjacency": "row"}),
    ("semgcn", {"non_local": True}),
    ("vanilla", {"non_local": True, "gaussian_non_local": True, "hidden": 16}),
]
GCN_WITH_EXPERTS = {"num_experts": 2, "hidden": 16, "num_blocks": 2}  # per-sample adjacency in every layer
BATCH = 4


def _digest(values: list) -> str:
    return hashlib.sha256(repr(values).encode()).hexdigest()[:16]


def _sums(t: torch.Tensor) -> tuple[float, float]:
    t = t.detach().double()
    return float(t.sum()), float(t.abs().sum())


def _input(model: torch.nn.Module) -> torch.Tensor:
    J = get_skeleton(model.config.skeleton).num_joints
    T = getattr(model, "receptive_field", 1)
    g = torch.Generator().manual_seed(1234)
    shape = (BATCH, J, 2) if T == 1 else (BATCH, T, J, 2)
    return torch.rand(shape, generator=g) * 2 - 1


@torch.no_grad()
def _perturb(model: torch.nn.Module) -> None:
    g = torch.Generator().manual_seed(99)
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        if not t.is_floating_point():
            continue
        noise = torch.rand(t.shape, generator=g, dtype=t.dtype)
        if "running_var" in name:
            t.copy_(noise + 0.5)  # variances stay positive
        elif name.endswith("temperature"):
            continue  # a schedule value, not a weight
        else:
            t.add_(0.2 * noise - 0.1)


def fingerprint(name: str, overrides: dict) -> tuple[str, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = build_model(name, **overrides).eval()
    sd = model.state_dict()
    layout = _digest([(k, tuple(v.shape), str(v.dtype)) for k, v in sd.items()])
    init = _digest([(k, _sums(v)) for k, v in sd.items() if v.is_floating_point()])
    x = _input(model)
    with torch.no_grad():
        out = model(x)
        _perturb(model)
        out2 = model(x)
    label = name + ("" if not overrides else " " + ",".join(f"{k}={v}" for k, v in sorted(overrides.items())))
    line = (f"{label}: params={count_parameters(model)} layout={layout} init={init} "
            f"out={_sums(out)} out*={_sums(out2)}")
    return line, out, out2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--save", help="also write the outputs to this .pt file")
    parser.add_argument("--compare", help="print the largest output difference against a --save file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one thread: reductions in a fixed order, identical runs
    gcn = [n for n in available() if "gridconv" not in n and n != "glagcn"]
    cases = [(n, {}) for n in available()] + EXTRA + [(n, GCN_WITH_EXPERTS) for n in gcn]
    saved = torch.load(args.compare) if args.compare else None
    outputs = {}
    for name, overrides in cases:
        line, out, out2 = fingerprint(name, overrides)
        label = line.split(":")[0]
        outputs[label] = (out, out2)
        if saved is not None:
            diff = max(float((a.double() - b.double()).abs().max()) for a, b in zip(saved[label], outputs[label]))
            line += f" max|diff|={diff:.2e}"
        print(line, flush=True)
    if args.save:
        torch.save(outputs, args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
