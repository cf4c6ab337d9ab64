"""Files that ship with musicnn: the data set cards (``datasets/``) and the recipes (``recipes/``).

In a source checkout they are the top-level folders; in an installed wheel, the packages
``musicnn._cards`` and ``musicnn._recipes`` (see ``pyproject.toml``).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = ["cards", "recipes"]

_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _folder(package: str, source: str) -> Any:
    try:
        from importlib import resources

        return resources.files(import_module(package))
    except ModuleNotFoundError:  # a source checkout on sys.path, not installed
        return _SOURCE_ROOT / source


def _listing(package: str, source: str, suffix: str = ".md") -> dict[str, Any]:
    folder = _folder(package, source)
    if not folder.is_dir():
        return {}
    return {p.name.rsplit(".", 1)[0]: p for p in folder.iterdir()
            if p.name.endswith(suffix) and p.name.lower() != "readme.md"}


def cards() -> dict[str, Any]:
    """Data set cards by name (``instruments`` -> its file)."""
    return _listing("musicnn._cards", "datasets")



def recipes() -> dict[str, Any]:
    """Shipped recipes by name (``instruments`` -> its ``.toml`` file)."""
    return _listing("musicnn._recipes", "recipes", ".toml")
