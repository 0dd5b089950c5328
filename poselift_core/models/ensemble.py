"""Averaging the predictions of independently trained lifters.

Two runs of one recipe that differ only in their seed (initial weights, batch order, augmentation draws) land
within a few millimetres of each other on their own test split, but can differ by more on data unlike it: on
the real detections of chapter 7 ("Lifting your own video") two such runs of the shipped single-frame
lifter were 6 mm apart in one view. Averaging ``K`` runs' outputs keeps what they agree on and shrinks what
each got by chance; it costs ``K`` forward passes and no training beyond the runs themselves.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

__all__ = ["MeanEnsemble"]


class MeanEnsemble(nn.Module):
    r"""The mean of ``K`` lifters of one architecture: :math:`\hat{Y} = \frac{1}{K}\sum_{k=1}^{K} f_k(X)`.

    Args:
        members: the ``K >= 1`` trained models; they must share their configuration (``model.config``), so the
            ensemble rebuilds from one configuration and ``K`` (:func:`poselift_core.checkpoint.model_from_checkpoint`).

    Shapes: whatever the members take and return, e.g. ``(B, J, 2) -> (B, J, 3)``. ``config`` and
    ``receptive_field`` are the members'. The state dict holds ``members.<k>.<member key>``.
    """

    def __init__(self, members: Sequence[nn.Module]):
        super().__init__()
        members = list(members)
        if not members:
            raise ValueError("MeanEnsemble needs at least one member")
        configs = {repr(getattr(m, "config", None)) for m in members}
        if len(configs) != 1:
            raise ValueError(f"MeanEnsemble members must share one configuration; got {len(configs)} different ones")
        self.members = nn.ModuleList(members)
        self.config = getattr(members[0], "config", None)
        self.receptive_field = int(getattr(members[0], "receptive_field", 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members]).mean(0)
