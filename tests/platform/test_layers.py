"""The shape stays: imports between top-level apps run one way, down the layers, and the
engine imports no app and no Django. A new upward import fails here, naming file and line."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

# Bottom first. An app may import the apps below it, never one above; the project package
# (settings, urls, asgi/wsgi, logging) sits on top and no app imports it.
LAYERS = (
    "core", "accounts", "characters", "generation", "training", "compat", "gpu_worker", "ops",
    "illuplatform",
)  # fmt: skip
ENGINE = "gpu_worker.engine"
ENGINE_FORBIDDEN = (
    "django",
    "rest_framework",
    "core",
    "accounts",
    "characters",
    "generation",
    "training",
    "compat",
    "ops",
    "illuplatform",
)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every absolute module a file imports, lazy imports inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _source_files(root: Path, package: str):
    for path in sorted((root / package).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def layer_violations(root: Path) -> list[str]:
    rank = {name: index for index, name in enumerate(LAYERS)}
    problems = []
    for package in LAYERS:
        for path in _source_files(root, package):
            module_path = ".".join(path.relative_to(root).with_suffix("").parts)
            in_engine = module_path.startswith(ENGINE)
            for line, module in imported_modules(path):
                top = module.split(".")[0]
                where = f"{path.relative_to(root)}:{line} imports {module}"
                if in_engine:
                    if top in ENGINE_FORBIDDEN or (
                        top == "gpu_worker" and not module.startswith(ENGINE)
                    ):
                        problems.append(f"{where} (the engine imports no app and no Django)")
                elif module.startswith(ENGINE):
                    continue  # a plain library every layer may use
                elif top in rank and rank[top] > rank[package]:
                    problems.append(f"{where} (from {package}, a lower layer, up to {top})")
    return problems


def test_imports_between_apps_run_down_the_layers():
    assert layer_violations(REPO_ROOT) == []


def test_an_upward_import_is_reported(tmp_path):
    for package in LAYERS:
        (tmp_path / package).mkdir()
    (tmp_path / "core" / "helpers.py").write_text("from generation.models import GenerationJob\n")
    (tmp_path / "accounts" / "ok.py").write_text("from core.errors import DomainError\n")
    engine = tmp_path / "gpu_worker" / "engine"
    engine.mkdir()
    (engine / "bad.py").write_text("def f():\n    from django.conf import settings\n")
    problems = layer_violations(tmp_path)
    assert len(problems) == 2
    assert problems[0].startswith("core/helpers.py:1 imports generation.models")
    assert problems[1].startswith("gpu_worker/engine/bad.py:2 imports django.conf")
