"""The layout's rules, checked on the source: dependencies run one way, services know
nothing of HTTP, modules stay small enough to read in one sitting."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("annotation", "training", "judges", "platform/rankwise")
MAX_LINES = 500
# What annotation exposes to the apps built on it, on purpose.
ANNOTATION_API = (
    "annotation.models", "annotation.permissions", "annotation.services",
    "annotation.selectors", "annotation.project_settings", "annotation.quality",
    "annotation.imports.formats", "annotation.prompts",
)


def modules(*packages: str):
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def imported(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, inside a function) for each import in the file, made absolute."""
    tree = ast.parse(path.read_text(), filename=str(path))
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts[1:] if relative.parts[0] == "platform" else relative.parts)
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package[:len(package) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.append((base, child.lineno, in_function))
                found.extend((f"{base}.{alias.name}", child.lineno, in_function)
                             for alias in child.names)
            visit(child, nested)

    visit(tree, False)
    return found


def where(path: Path, line: int) -> str:
    return f"{path.relative_to(ROOT)}:{line}"


def test_annotation_imports_nothing_from_training():
    bad = [f"{where(p, line)} imports {name}" for p in modules("annotation")
           for name, line, _ in imported(p) if name.split(".")[0] == "training"]
    assert bad == []


def test_training_uses_only_what_annotation_exposes():
    bad = [f"{where(p, line)} imports {name}" for p in modules("training")
           for name, line, _ in imported(p)
           if name.startswith("annotation.") and not name.startswith(ANNOTATION_API)
           and name not in {"annotation.imports"}]
    assert bad == []


# --- judges (Constitutional AI): built on annotation like training; training only through
# its public scoring and loading functions, the prompt rule (and the torch-only reward
# package, lazily).
JUDGES_TRAINING_API = ("training.scoring", "training.loader", "training.reward", "training.prompts")


def test_judges_use_only_what_annotation_and_training_expose():
    bad = [f"{where(p, line)} imports {name}" for p in modules("judges")
           for name, line, _ in imported(p)
           if (name.startswith("annotation.") and not name.startswith(ANNOTATION_API))
           or (name.split(".")[0] == "training" and not name.startswith(JUDGES_TRAINING_API))]
    assert bad == []


def test_nothing_imports_judges():
    bad = [f"{where(p, line)} imports {name}" for p in modules("annotation", "training")
           for name, line, _ in imported(p) if name.split(".")[0] == "judges"]
    assert bad == []


def test_services_selectors_and_tasks_know_nothing_of_http():
    names = {"services.py", "selectors.py", "celery_tasks.py", "project_settings.py",
             "errors.py", "consensus.py"}
    bad = [f"{where(p, line)} imports {name}" for p in modules(*PACKAGES) if p.name in names
           for name, line, _ in imported(p) if name.split(".")[0] == "rest_framework"]
    assert bad == []


def test_services_never_import_their_tasks():
    """Services enqueue by name (``rankwise.celery.enqueue_on_commit``); only tasks import
    services, so there is no cycle to dodge with a function-level import."""
    bad = [f"{where(p, line)} imports {name}" for p in modules(*PACKAGES)
           if p.name != "celery_tasks.py"
           for name, line, _ in imported(p) if name.endswith("celery_tasks")
           or ".celery_tasks." in name]
    bad = [b for b in bad if not b.startswith("annotation/celery_tasks.py")]
    assert bad == []


@pytest.mark.parametrize("path", list(modules(*PACKAGES)), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES
