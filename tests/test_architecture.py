"""The package's import rule and module sizes (ARCHITECTURE.md), read from the source.

Every ``import musicnn...`` of every module, at the top or inside a function, is read
with :mod:`ast`; nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "musicnn"

#: Floors of the package, lowest first.  A module imports from its own floor or below.
FLOORS = [
    ("ground", ("musicnn", "musicnn.errors", "musicnn.choices", "musicnn.checks", "musicnn.runtime", "musicnn.scaling",
                "musicnn.atomic", "musicnn.progress", "musicnn.resources", "musicnn.pretrained")),
    ("audio", ("musicnn.audio",)),
    ("features and data", ("musicnn.spectral", "musicnn.features", "musicnn.store", "musicnn.data")),
    ("models and training", ("musicnn.models", "musicnn.training")),
    ("model files, evaluation, inference", ("musicnn.modelfile", "musicnn.evaluation", "musicnn.inference")),
    ("pipeline and recipes", ("musicnn.pipeline", "musicnn.recipes", "musicnn.timbre")),
    ("command line", ("musicnn.cli", "musicnn.__main__")),
]

#: (importer prefix, forbidden prefix, why) on top of the floors.
FORBIDDEN = [
    ("musicnn.models.classic", "musicnn.training",
     "a numpy family takes its checks from musicnn.checks, never from the torch training loop"),
    ("musicnn.models.state", "musicnn.training", "model state is torch-free"),
    ("musicnn.training", "musicnn.models", "the loop trains any network; families build on it, not back"),
    ("musicnn.features", "musicnn.data", "features know nothing of data sets"),
    ("musicnn", "musicnn.cli", "only __main__ starts the command line"),
]

MAX_LINES = 650  # ARCHITECTURE.md: no module over ~600 lines


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """The musicnn modules that module ``name`` imports (``from a import b`` counts a.b when b is a module)."""
    found = set()
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "musicnn" or target.startswith("musicnn."):
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
                found.update(subs or [target])
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name == "musicnn" or a.name.startswith("musicnn."))
    found.discard(name)
    return found


def _floor(name: str) -> int:
    best, floor = -1, None
    for i, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, floor = len(prefix), i
    assert floor is not None, f"{name} sits on no floor: add it to FLOORS and ARCHITECTURE.md"
    return floor


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_every_module_sits_on_a_floor():
    for name in MODULES:
        _floor(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_flow_down_the_floors(name):
    here = _floor(name)
    for target in sorted(_imports(name)):
        if target == "musicnn":  # the package itself: its version only
            continue
        there = _floor(target)
        assert there <= here, (
            f"{name} ({FLOORS[here][0]}) imports {target} ({FLOORS[there][0]}), a floor above it")
        for importer, forbidden, why in FORBIDDEN:
            if _under(name, importer) and _under(target, forbidden) and not _under(name, forbidden):
                if importer == "musicnn" and name == "musicnn.__main__":
                    continue
                pytest.fail(f"{name} imports {target}: {why}")


def test_the_rule_reads_the_imports():
    """The reader sees function-level and relative imports (the check cannot pass vacuously)."""
    assert "musicnn.checks" in _imports("musicnn.models.classic.som")
    assert "musicnn.models" in _imports("musicnn.modelfile")
    assert _floor("musicnn.pipeline") > _floor("musicnn.models.deep.cnn") > _floor("musicnn.audio.io")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_too_long(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{MODULES[name]} has {lines} lines: split it by what it holds"


def test_every_package_ships_in_the_wheel():
    """pyproject.toml lists the packages explicitly: a new sub-package left out would be
    missing from an installed musicnn while an editable install hides it."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {_module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")}
    assert found - listed == set(), f"add {sorted(found - listed)} to [tool.setuptools] packages in pyproject.toml"
