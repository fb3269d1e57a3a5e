"""The engine is walked one way: no import circle among its modules (imports for type hints
included: runs name the engine through ``prepared.Runner``, never ``generate``), runs never
import each other, and nothing in it imports Django or the apps (read from the source, not
run)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

ENGINE = REPO_ROOT / "gpu_worker" / "engine"
PACKAGE = "gpu_worker.engine"
SHARED_RUN_STEPS = {"steps", "edit_pass"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path, *, type_hints: bool = False) -> set[str]:
    """Modules ``path`` imports when it runs (``if TYPE_CHECKING:`` blocks left out unless
    ``type_hints``)."""
    tree = ast.parse(path.read_text())
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If)
        and ast.unparse(block.test).endswith("TYPE_CHECKING")
        and not type_hints
        for statement in block.body
        for node in ast.walk(statement)
    }
    imports = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            imports.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            imports.add(target)
            imports.update(f"{target}.{alias.name}" for alias in node.names)
    return imports


def _engine_graph(*, type_hints: bool = False) -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in ENGINE.rglob("*.py")}
    return {
        name: {
            target
            for target in _runtime_imports(path, type_hints=type_hints)
            if target in modules and target != name
        }
        for name, path in modules.items()
    }


def test_no_import_circle_in_the_engine():
    graph = _engine_graph(type_hints=True)
    visiting, done = [], set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, " -> ".join([*visiting[visiting.index(module) :], module])
        visiting.append(module)
        for target in sorted(graph[module]):
            # A package's __init__ is imported on the way to its modules: not an edge back.
            if not module.startswith(target + "."):
                visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_runs_never_import_each_other_and_the_engine_imports_no_django():
    graph = _engine_graph()
    runs = {name for name in graph if name.startswith(f"{PACKAGE}.runs.")}
    for run in runs:
        others = {target for target in graph[run] if target in runs}
        assert others <= {f"{PACKAGE}.runs.{step}" for step in SHARED_RUN_STEPS}, run
    for path in ENGINE.rglob("*.py"):
        roots = {target.split(".")[0] for target in _runtime_imports(path)}
        forbidden = {"django", "rest_framework", "generation", "characters", "accounts", "core"}
        assert not roots & forbidden, path
