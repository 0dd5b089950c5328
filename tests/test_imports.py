"""How poselift_core's modules import each other: the training path never imports the conversion package, and no
module reaches itself again through its imports (the dependency graph has no cycle).

The first check imports the modules in a fresh interpreter and looks at ``sys.modules``; the second reads every
``import`` statement with :mod:`ast` (also those inside functions, which run later but are dependencies all the
same) and searches the resulting graph for cycles. Neither uses the package's own import machinery to decide.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "poselift_core"
TRAINING_PATH = ("poselift_core.train", "poselift_core.evaluate", "poselift_core.sources", "poselift_core.batching",
                 "poselift_core.data", "poselift_core.models", "poselift_core.lift")


def test_training_path_never_imports_the_conversion_package():
    code = ("import json, sys\n"
            f"for m in {list(TRAINING_PATH)!r}:\n"
            "    __import__(m)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('poselift_core'))))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       cwd=PACKAGE.parent, env={"OMP_WAIT_POLICY": "PASSIVE", "PATH": ""})
    assert r.returncode == 0, r.stderr
    loaded = json.loads(r.stdout.splitlines()[-1])
    assert set(TRAINING_PATH) <= set(loaded)                      # the check did import what it names
    assert [m for m in loaded if m.startswith("poselift_core.conversion")] == []


# ------------------------------------------------------------------ the static import graph
def module_names(root: Path) -> dict[str, tuple[Path, bool]]:
    """``dotted name -> (file, is_package)`` of every module under ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside ``if TYPE_CHECKING:`` blocks (imports for annotations only, never executed)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def import_graph(root: Path) -> dict[str, set[str]]:
    """``module -> modules it imports`` within the package, from every import statement of its source."""
    modules = module_names(root)
    graph = {m: set() for m in modules}
    for name, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text())
        skip = _type_checking_nodes(tree)
        package = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                # `from pkg import sub` imports the submodule; `from mod import name` the module
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
                targets = subs + ([target] if target in modules and len(subs) < len(node.names) else [])
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name in modules]
            graph[name].update(t for t in targets if t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or ``None`` (iterative depth-first search, three colours)."""
    colour = {v: 0 for v in graph}               # 0 unseen, 1 on the current path, 2 done
    for start in sorted(graph):
        if colour[start]:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        colour[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
            elif colour[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            elif colour[nxt] == 0:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_cycle_finder_on_known_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "d"}, "b": set(), "d": {"e"}, "e": {"d"}}) == ["d", "e", "d"]


def test_import_graph_reads_relative_and_deferred_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .leaf import x\n")
    (pkg / "sub" / "leaf.py").write_text("x = 1\n")
    (pkg / "top.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .other import y\n"
                                "def f():\n    from .sub import leaf\n    from . import other\n")
    (pkg / "other.py").write_text("from .sub.leaf import x\n")
    graph = import_graph(pkg)
    assert graph["pkg.top"] == {"pkg.sub.leaf", "pkg.other"}      # deferred imports count, TYPE_CHECKING does not
    assert graph["pkg.sub"] == {"pkg.sub.leaf"} and graph["pkg.other"] == {"pkg.sub.leaf"}


def test_poselift_core_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert {"poselift_core.data.videopose3d", "poselift_core.conversion.mocap"} <= set(graph)
    assert "poselift_core.data.videopose3d" in graph["poselift_core.data.h36m"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
