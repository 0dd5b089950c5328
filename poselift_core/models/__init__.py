"""The model zoo behind one explicit registry.

:data:`MODEL_BUILDERS` maps every model name to its builder, ``builder(skeleton=None, **overrides) -> nn.Module``;
each entry is a family's builder with the model's preset (a ``functools.partial``), so a reader clicks from a
name to the code that builds it. Nothing is registered by decorators or found by name at run time.

Every model maps ``(B, [T,] J, 2)`` normalised 2D keypoints to ``(B, [T_out,] J, 3)`` root-relative
3D joints in metres and carries:

- ``model.config``: a dataclass with everything needed to rebuild it (``build_model(name, **asdict(cfg))``);
- ``model.receptive_field``: input frames per prediction (1 for single-frame models).

:class:`~poselift_core.models.ensemble.MeanEnsemble` averages trained runs of one such model; it is not in the
registry because it is built from trained members (a model file with ``ensemble_size`` rebuilds it).
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import torch.nn as nn

from .gcn import GCN_VARIANTS, build_gcn
from .glagcn import build_glagcn
from .gridconv import build_gridconv

MODEL_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    # the residual GCN of SemGCN / Liu et al. / Any-GCN, one model per graph-convolution layer
    # (graph_conv.GRAPH_CONVS); modulated: Zou & Tang's diag-1 adjacency preset (gcn.build_gcn)
    **{variant: partial(build_gcn, variant) for variant in GCN_VARIANTS},
    # GLA-GCN, the released Human3.6M model (243 frames): 1,348,856 parameters
    "glagcn": build_glagcn,
    # static two-branch layers, circular + zero padding, handcrafted SGT: 4,746,752 parameters
    "gridconv": partial(build_gridconv, dynamic=False, padding=("c", "z")),
    # D-GridConv, handcrafted SGT, pads (c, r): 4,790,406 parameters
    "dgridconv": build_gridconv,
    # D-GridConv + AutoGrids (learnable SGT), pads (c, z): 4,790,831 parameters
    "dgridconv_autogrids": partial(build_gridconv, sgt="learnable", padding=("c", "z")),
}


def available() -> list[str]:
    """Names accepted by :func:`build_model`, in registry order."""
    return list(MODEL_BUILDERS)


def build_model(name: str, **overrides: Any) -> nn.Module:
    """Build a model by name with its default (reference) configuration, changed by ``overrides``.

    ``skeleton`` may be a :class:`~poselift_core.skeleton.Skeleton`, a name (``"h36m17"``) or a joint count.
    Unknown names and unknown override keys raise ``ValueError`` naming the culprit.
    """
    if name not in MODEL_BUILDERS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(MODEL_BUILDERS)}")
    return MODEL_BUILDERS[name](**overrides)


def count_parameters(model: nn.Module) -> int:
    """Learnable parameters (BatchNorm running statistics excluded), as chapter 6 ("Model sizes") counts them."""
    return sum(p.numel() for p in model.parameters())
