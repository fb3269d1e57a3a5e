"""The shape stays: imports between top-level apps run one way, down the layers; only gpu_worker
imports the engine, and the engine imports no app and no Django. A new upward import fails
here, naming file and line."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

# Bottom first. An app may import the apps below it, never one above; the project package
# (settings, urls, asgi/wsgi, logging) sits on top and no app imports it. The catalog (styles,
# LoRAs, the registry) is below characters; work (the one lifecycle of background work) below
# every kind of work; usage (roll-ups over jobs and books) above them; books and compat are
# checked as soon as they exist.
LAYERS = (
    "core", "accounts", "catalog", "characters", "work", "generation", "training", "books",
    "exports", "usage", "compat", "gpu_worker", "ops", "illuplatform",
)  # fmt: skip
ENGINE = "gpu_worker.engine"
# The one package that bridges Django and the engine.
ENGINE_USER = "gpu_worker"
ENGINE_FORBIDDEN = ("django", "rest_framework", *(name for name in LAYERS if name != ENGINE_USER))


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
                elif module == ENGINE or module.startswith(ENGINE + "."):
                    if package != ENGINE_USER:
                        problems.append(f"{where} (only {ENGINE_USER} imports the engine)")
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
    (tmp_path / "core" / "faces.py").write_text("from gpu_worker.engine.identity import x\n")
    (tmp_path / "ops" / "checks.py").write_text("from gpu_worker.engine import weights\n")
    (tmp_path / "gpu_worker" / "bridge.py").write_text("from gpu_worker.engine import weights\n")
    engine = tmp_path / "gpu_worker" / "engine"
    engine.mkdir()
    (engine / "bad.py").write_text("def f():\n    from django.conf import settings\n")
    problems = layer_violations(tmp_path)
    assert len(problems) == 4
    assert problems[0].startswith("core/faces.py:1 imports gpu_worker.engine.identity")
    assert problems[1].startswith("core/helpers.py:1 imports generation.models")
    assert problems[2].startswith("gpu_worker/engine/bad.py:2 imports django.conf")
    assert problems[3].startswith("ops/checks.py:1 imports gpu_worker.engine")
