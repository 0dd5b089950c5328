"""Checkpoints: atomic writes, RNG capture, and rebuilding a model from the file alone.

A checkpoint is a plain dict (``torch.save``) holding the model name and ``asdict(model.config)`` so
:func:`load_model` needs no flags (avoiding VideoPose3D#196), the weights, the optimiser state, the epoch and
step counters, every RNG state (torch, CUDA, NumPy, Python, the batch-order generator), the run config, the
library version and :data:`FORMAT_VERSION`. It is written to a temporary file in the same folder, fsync'ed
and moved over the old one with ``os.replace`` — a crash mid-write leaves the previous checkpoint intact.
Explained in the book, chapter 6 ("Checkpoints and resuming").
"""
from __future__ import annotations

import dataclasses
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, of another format version or of another model."""


def save_checkpoint(state: dict[str, Any], path: "str | os.PathLike") -> Path:
    """Write ``state`` to ``path`` atomically (temp file in the same folder, fsync, ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_checkpoint(path: "str | os.PathLike", map_location: "str | torch.device" = "cpu") -> dict[str, Any]:
    """Load and validate a checkpoint dict; raises :class:`CheckpointError` with the path in the message."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        # weights_only=False: the file holds RNG states (NumPy arrays, Python tuples) written by this library.
        ckpt = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a usable checkpoint"
        raise CheckpointError(f"checkpoint {path} could not be read: {e}") from None
    if not isinstance(ckpt, dict) or "format_version" not in ckpt:
        raise CheckpointError(f"{path} is not a poselift checkpoint (no 'format_version' key)")
    if ckpt["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {ckpt['format_version']}, this poselift "
                              f"reads version {FORMAT_VERSION}")
    for key in ("model_name", "model_config", "model"):
        if key not in ckpt:
            raise CheckpointError(f"checkpoint {path} lacks the {key!r} entry")
    return ckpt


def model_from_checkpoint(ckpt: dict[str, Any], path: "str | os.PathLike" = "<checkpoint>") -> torch.nn.Module:
    """Rebuild the model named in ``ckpt`` from its stored config and load the weights."""
    from .models import build_model

    try:
        model = build_model(ckpt["model_name"], **ckpt["model_config"])
    except ValueError as e:
        raise CheckpointError(f"checkpoint {path}: cannot rebuild model {ckpt['model_name']!r}: {e}") from None
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as e:
        raise CheckpointError(f"checkpoint {path}: weights do not fit model {ckpt['model_name']!r}: {e}") from None
    return model


def load_model(path: "str | os.PathLike", map_location: "str | torch.device" = "cpu") -> torch.nn.Module:
    """Model (in eval mode) rebuilt from a checkpoint file alone."""
    model = model_from_checkpoint(read_checkpoint(path, map_location), path)
    return model.eval()


def model_config_dict(model: torch.nn.Module) -> dict[str, Any]:
    """``asdict(model.config)`` with the skeleton stored by name (the registry rebuilds it from the name)."""
    cfg = dataclasses.asdict(model.config)
    skel = cfg.get("skeleton")
    if skel is not None and not isinstance(skel, (str, int)):
        cfg["skeleton"] = getattr(model.config.skeleton, "name", skel)
    return cfg


# ------------------------------------------------------------------------------------------ RNG state
def capture_rng() -> dict[str, Any]:
    """Every global RNG state that training touches (dropout, NumPy, Python; CUDA if present)."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), NumPy and Python's ``random``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
