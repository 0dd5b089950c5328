"""Where the bundled data lives: the repository's ``data/`` in a source checkout (editable install or a plain
``python -m`` from the repository), the copy shipped inside the package (``poselift_core/_bundled/``) otherwise.

One function, :func:`bundled_path`, so every module that reads the sample, the open benchmark, the pretrained
weights, the demo capture or the committed results table finds them the same way after ``pip install .``.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["REPO_ROOT", "INSTALLED_DIR", "is_source_checkout", "bundled_path"]

#: The folder above the package: the repository root in a checkout, ``site-packages`` after an install.
REPO_ROOT = Path(__file__).resolve().parents[1]
#: The copy a wheel installs (pyproject.toml maps the package ``poselift_core._bundled`` to ``data/``).
INSTALLED_DIR = Path(__file__).resolve().parent / "_bundled"


def is_source_checkout(root: "str | Path" = REPO_ROOT) -> bool:
    """True when ``root`` is the project's repository: a ``pyproject.toml`` and a ``data/`` folder beside the package.
    (``site-packages`` may hold another project's ``data/`` folder, never this pyproject next to ``poselift_core``.)"""
    root = Path(root)
    return (root / "pyproject.toml").is_file() and (root / "data").is_dir() and (root / "poselift_core").is_dir()


def bundled_path(*parts: str, repo_root: "str | Path | None" = None) -> Path:
    """Path of a bundled file or folder, e.g. ``bundled_path("open", "data_3d_open.npz")``.

    Args:
        parts: path components below ``data/`` (``"sample"``, ``"pretrained"``, ``"demo_capture"``, ...).
        repo_root: a repository root to read ``<repo_root>/data/<parts>`` from instead of this package's own
            (tests point modules at a temporary tree this way); ``None`` or the package's own root -> automatic.

    Returns:
        ``<repository>/data/<parts>`` in a source checkout, else ``poselift_core/_bundled/<parts>``. The path need
        not exist (writers such as ``pretrained.build`` create it; readers report it when missing).
    """
    if repo_root is not None and Path(repo_root).resolve() != REPO_ROOT:
        return Path(repo_root).joinpath("data", *parts)
    if is_source_checkout(REPO_ROOT):
        return REPO_ROOT.joinpath("data", *parts)
    return INSTALLED_DIR.joinpath(*parts)
