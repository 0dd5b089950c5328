"""Checkpoints: atomic writes, safe loading, RNG capture, and rebuilding a model from the file alone.

A checkpoint is a plain dict (``torch.save``) holding the model name and ``asdict(model.config)`` so
:func:`load_model` needs no flags (avoiding VideoPose3D#196), the weights, the optimiser state, the epoch and
step counters, every RNG state (torch, CUDA, NumPy, Python, the batch-order generator), the run config, the
library version and :data:`FORMAT_VERSION`. It holds only tensors and plain containers (dict, list, tuple, str,
int, float, bool, ``None``): the NumPy and Python RNG states are stored as a tensor and lists, so every file is
read with ``torch.load(path, weights_only=True)``, whose unpickler refuses any other object — a crafted file
cannot run code when it is loaded (Python's pickle calls whatever a ``__reduce__`` names). It is written to a
temporary file in the same folder, fsync'ed and moved over the old one with ``os.replace`` — a crash mid-write
leaves the previous checkpoint intact.

:func:`read_checkpoint` also reads *weights-only model files* (published weights): ``format_version``,
``model_name``, ``model_config``, ``model`` (tensors may be float16), and optionally ``ensemble_size`` (the
weights are then those of a :class:`~poselift_core.models.ensemble.MeanEnsemble`), ``recipe``, ``run_config``,
``provenance`` and ``mean_pose``; they can be evaluated but not resumed (:func:`is_resumable`).
Explained on the book's page "Using the library from the command line"
(section "Resuming an interrupted run").
"""
from __future__ import annotations

import collections
import dataclasses
import errno
import os
import pickle
import random
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

FORMAT_VERSION = 1

#: Entries a training checkpoint adds to a weights-only model file; all are needed to resume.
TRAINING_KEYS = ("optimizer", "epoch", "step", "batch_in_epoch", "epoch_loss", "rng", "history")

#: Files a run or an evaluation writes into its folder that must not be replaced silently.
RESULT_FILES = ("checkpoint.pt", "results.json", "results.md", "history.json", "baseline.json", "predictions.npz")


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, unsafe, of another format version or of another model."""


class OutputExistsError(FileExistsError):
    """A run or evaluation would replace results already in its output folder (pass ``overwrite=True``)."""

    def __str__(self) -> str:      # FileExistsError's default text is "[Errno None] ..."
        return str(self.args[0]) if self.args else ""


class OutputWriteError(OSError):
    """Writing an output file failed (disk full, no permission); the message names the file."""

    def __str__(self) -> str:
        return str(self.args[1]) if len(self.args) > 1 else str(self.args[0])


def write_failed(path: "str | os.PathLike", e: OSError) -> OutputWriteError:
    """An :class:`OutputWriteError` naming ``path`` for the ``OSError`` ``e`` (keeps its errno)."""
    why = "no space left on the device" if e.errno == errno.ENOSPC else (e.strerror or str(e))
    err = OutputWriteError(e.errno, f"cannot write {path}: {why}")
    err.filename = str(path)
    return err


def existing_outputs(folder: "str | os.PathLike", names: Iterable[str] = RESULT_FILES) -> list[Path]:
    """The files among ``names`` that already exist in ``folder`` (a folder that does not exist has none)."""
    folder = Path(folder)
    return [folder / n for n in names if (folder / n).exists()]


def refuse_overwrite(folder: "str | os.PathLike", names: Iterable[str] = RESULT_FILES, overwrite: bool = False,
                     flag: str = "--overwrite (library: overwrite=True)") -> None:
    """Raise :class:`OutputExistsError` naming the first existing file of ``names`` in ``folder``, unless
    ``overwrite``. Also refuses a ``folder`` that is a file."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputExistsError(f"output folder {folder} is a file")
    found = existing_outputs(folder, names)
    if found and not overwrite:
        more = f" (and {len(found) - 1} more result file(s))" if len(found) > 1 else ""
        raise OutputExistsError(f"{found[0]} already exists{more}; choose another output folder or pass {flag} "
                                "to replace it")


def _write_atomic(path: "str | os.PathLike", write: Callable[[Any], None], mode: str) -> Path:
    """Call ``write(file)`` on a temporary file in ``path``'s folder, fsync it and move it over ``path``.

    A failure (full disk, no permission, an exception in ``write``) removes the temporary file and leaves the
    previous ``path`` as it was; ``OSError`` becomes :class:`OutputWriteError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise write_failed(path, e) from None
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, OutputWriteError):
            raise write_failed(path, e) from None
        raise
    return path


def write_text_atomic(path: "str | os.PathLike", text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``; errors name ``path``."""
    return _write_atomic(path, lambda f: f.write(text), "w")


def save_checkpoint(state: dict[str, Any], path: "str | os.PathLike") -> Path:
    """Write ``state`` to ``path`` atomically (temp file in the same folder, fsync, ``os.replace``).

    A write that fails (full disk, no permission) removes the temporary file, leaves the previous checkpoint
    as it was and raises :class:`OutputWriteError` naming ``path``. ``state`` must hold only tensors and plain
    containers (``TypeError`` naming the first other value), so ``weights_only=True`` loading always works.
    """
    problem = plain_state_problem(state)
    if problem:
        raise TypeError(f"refusing to save {path}: {problem} is neither a tensor nor a plain value, so the file "
                        "could not be loaded with weights_only=True")
    return _write_atomic(path, lambda f: torch.save(state, f), "wb")


_PLAIN = (str, int, float, bool, type(None))


def plain_state_problem(value: Any, where: str = "checkpoint") -> str | None:
    """``None`` when ``value`` holds only tensors, ``torch.Size`` and plain containers of str/int/float/bool/None
    (what ``torch.load(..., weights_only=True)`` reads), else the path of the first other value."""
    if torch.is_tensor(value) or type(value) in _PLAIN or isinstance(value, torch.Size):
        return None
    if type(value) in (dict, collections.OrderedDict):      # state dicts are OrderedDicts
        items = value.items()
    elif type(value) in (list, tuple):
        items = enumerate(value)                            # int indices: plain keys, printed as [i]
    else:
        return f"{where} ({type(value).__module__}.{type(value).__qualname__})"
    for k, v in items:
        if type(k) not in _PLAIN:
            return f"{where} key {k!r} ({type(k).__name__})"
        found = plain_state_problem(v, f"{where}[{k!r}]")
        if found:
            return found
    return None


def _unsafe_reason(e: BaseException) -> tuple[bool, str]:
    """``(asks_for_a_global, reason)`` from torch's weights-only refusal: the global the file asked for, else
    the unpickler's own one-line reason (e.g. ``Unsupported operand 149``) without torch's boilerplate."""
    text = str(e)
    match = re.search(r"GLOBAL ([\w.]+)", text)
    if match:
        return True, f"it asks for {match.group(1)}"
    tail = text.split("WeightsUnpickler error:", 1)[-1]
    lines = [ln.strip() for ln in tail.splitlines() if ln.strip() and not ln.startswith("Check the documentation")]
    return False, (lines or [type(e).__name__])[0]


def read_checkpoint(path: "str | os.PathLike", map_location: "str | torch.device" = "cpu") -> dict[str, Any]:
    """Load and validate a checkpoint dict; raises :class:`CheckpointError` with the path in the message.

    Loads with ``weights_only=True``: only tensors and plain containers are unpickled, so a file that asks
    for anything else (a class, a function such as ``os.system``) is refused before any of it runs.
    Accepts training checkpoints and weights-only model files (see the module docstring).
    """
    path = Path(path)
    if path.is_dir():
        hint = f" (did you mean {path / 'checkpoint.pt'}?)" if (path / "checkpoint.pt").is_file() else ""
        raise CheckpointError(f"checkpoint {path} is a folder, not a checkpoint file{hint}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        asks_global, reason = _unsafe_reason(e)
        if asks_global:
            raise CheckpointError(f"checkpoint {path} was refused: it holds objects other than tensors and plain "
                                  f"containers, which could run code when loaded ({reason})") from None
        raise CheckpointError(f"checkpoint {path} could not be read with weights_only=True ({reason}); it is not "
                              "a file torch.save wrote from tensors and plain containers") from None
    except Exception as e:  # noqa: BLE001 - truncated zip, not a torch file, ...: "not a usable checkpoint"
        reason = " ".join(str(e).split()) or type(e).__name__
        raise CheckpointError(f"checkpoint {path} could not be read: {reason}") from None
    if not isinstance(ckpt, dict) or "format_version" not in ckpt:
        raise CheckpointError(f"{path} is not a poselift checkpoint (no 'format_version' key)")
    if ckpt["format_version"] != FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {ckpt['format_version']}, this poselift "
                              f"reads version {FORMAT_VERSION}")
    for key in ("model_name", "model_config", "model"):
        if key not in ckpt:
            raise CheckpointError(f"checkpoint {path} lacks the {key!r} entry")
    if not isinstance(ckpt["model"], dict):
        raise CheckpointError(f"checkpoint {path}: 'model' should be a state dict, got {type(ckpt['model']).__name__}")
    for key in ("recipe", "run_config", "provenance"):
        if key in ckpt and not isinstance(ckpt[key], dict):
            raise CheckpointError(f"checkpoint {path}: {key!r} should be a dict, got {type(ckpt[key]).__name__}")
    return ckpt


def is_resumable(ckpt: dict[str, Any]) -> bool:
    """True for a training checkpoint (optimiser, counters, RNG states); False for a weights-only model file."""
    return all(k in ckpt for k in TRAINING_KEYS)


def model_from_checkpoint(ckpt: dict[str, Any], path: "str | os.PathLike" = "<checkpoint>") -> torch.nn.Module:
    """Rebuild the model named in ``ckpt`` from its stored config and load the weights.

    With ``ensemble_size = K`` in the file the model is a :class:`~poselift_core.models.ensemble.MeanEnsemble`
    of ``K`` copies of that model (the weights then hold ``members.<k>.<key>``).

    Weights stored in another floating dtype (float16 model files) are cast to the model's own dtype.
    """
    from .models import build_model
    from .models.ensemble import MeanEnsemble

    size = ckpt.get("ensemble_size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise CheckpointError(f"checkpoint {path}: 'ensemble_size' should be a positive integer, got {size!r}")
    try:
        if size is None:
            model = build_model(ckpt["model_name"], **ckpt["model_config"])
        else:
            model = MeanEnsemble([build_model(ckpt["model_name"], **ckpt["model_config"]) for _ in range(size)])
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path}: cannot rebuild model {ckpt['model_name']!r}: {e}") from None
    own = model.state_dict()
    weights = {k: v.to(own[k].dtype) if k in own and torch.is_tensor(v) and v.is_floating_point()
               and own[k].is_floating_point() else v for k, v in ckpt["model"].items()}
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        reason = " ".join(str(e).split())
        raise CheckpointError(f"checkpoint {path}: weights do not fit model {ckpt['model_name']!r}: {reason}") \
            from None
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
    """Every global RNG state that training touches (dropout, NumPy, Python; CUDA if present).

    As tensors and plain containers only, so the checkpoint loads with ``weights_only=True``: NumPy's
    ``("MT19937", uint32 keys, pos, has_gauss, cached_gaussian)`` keeps its keys as an int64 tensor, and
    Python's ``(version, 625 ints, gauss_next)`` becomes a list.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": [str(kind), torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss),
                       float(cached)],
             "python": [int(version), [int(v) for v in internal], gauss_next]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    keys = keys.numpy() if torch.is_tensor(keys) else np.asarray(keys)
    np.random.set_state((kind, keys.astype(np.uint32), int(pos), int(has_gauss), float(cached)))
    version, internal, gauss_next = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), NumPy and Python's ``random``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
