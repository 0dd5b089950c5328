"""poselift_core: a small PyTorch library for 3D human pose lifting.

Modules, one concept each: ``skeleton``, ``camera``, ``metrics``, ``batching``, ``data`` (file formats and
readers), ``models`` (GCN family, GLA-GCN, GridConv), ``train`` (trainer, recipes), ``plotting``.
"""
__version__ = "0.1.0"
