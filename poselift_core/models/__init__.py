"""The model zoo behind one explicit registry.

Each family module (``gcn``, ``glagcn``, ``gridconv``) exposes ``MODEL_BUILDERS``: a plain dict from a
model name to a function ``builder(skeleton=None, **overrides) -> nn.Module``. Nothing is registered by
decorators, so a reader can click from a name to its class.

Every model maps ``(B, [T,] J, 2)`` normalised 2D keypoints to ``(B, [T_out,] J, 3)`` root-relative
3D joints in metres and carries:

- ``model.config``: a dataclass with everything needed to rebuild it (``build_model(name, **asdict(cfg))``);
- ``model.receptive_field``: input frames per prediction (1 for single-frame models).
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

import torch.nn as nn

_FAMILIES = ("gcn", "glagcn", "gridconv")


def _registry() -> dict[str, Callable[..., nn.Module]]:
    builders: dict[str, Callable[..., nn.Module]] = {}
    for family in _FAMILIES:
        module = importlib.import_module(f"{__name__}.{family}")
        builders.update(module.MODEL_BUILDERS)
    return builders


def available() -> list[str]:
    """Names accepted by :func:`build_model`, in registry order."""
    return list(_registry())


def build_model(name: str, **overrides: Any) -> nn.Module:
    """Build a model by name with its default (reference) configuration, changed by ``overrides``.

    ``skeleton`` may be a :class:`~poselift_core.skeleton.Skeleton`, a name (``"h36m17"``) or a joint count.
    Unknown names and unknown override keys raise ``ValueError`` naming the culprit.
    """
    registry = _registry()
    if name not in registry:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(registry)}")
    return registry[name](**overrides)


def count_parameters(model: nn.Module) -> int:
    """Learnable parameters (BatchNorm running statistics excluded), as chapter 6 ("Model sizes") counts them."""
    return sum(p.numel() for p in model.parameters())
