"""poselift_core: a small PyTorch library for 3D human pose lifting.

Modules, one concept each (the README lists them with what each holds): ``skeleton``, ``graph``, ``camera``,
``batching``, ``data`` (file formats and datasets; ``conversion`` builds the shipped files and is never imported by
training), ``models`` (GCN family, GLA-GCN, GridConv), ``augmentation``, ``metrics``, ``recipes``, ``train``,
``evaluate``, ``plotting``; ``keypoints``, ``lift`` and ``multiview`` for your own videos.
"""
__version__ = "0.1.0"
