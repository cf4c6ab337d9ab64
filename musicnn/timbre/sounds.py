"""The sounds of a timbre map: a labelled tree, a manifest, a data-set reader or a plain folder.

A timbre map needs no labels: a folder of unlabelled sounds is mapped as well as a
folder-per-label tree, and labels, where they exist, only colour the map.  What
:func:`collect_sounds` accepts:

* a **folder-per-label tree** (``SOUNDS/<label>/**/<file>``, read by
  :meth:`musicnn.data.Collection.from_folder`); audio files lying directly in ``SOUNDS``
  beside the label folders are mapped too, without a label;
* a **folder of sounds** with no sub-folder holding audio: every audio file in it,
  unlabelled;
* a **CSV manifest** (or a folder holding ``manifest.csv``) with a ``path`` column and,
  optionally, ``label`` (:meth:`musicnn.data.Collection.from_csv` when it has one);
* a **data set** in its published layout, through a reader of :mod:`musicnn.data.readers`
  (``reader="gtzan"``...).

Unlabelled sounds carry the label ``""``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from musicnn.audio.io import AUDIO_EXTENSIONS
from musicnn.data import MANIFEST_NAME, Collection, Item
from musicnn.data.collection import csv_errors, header_hint
from musicnn.errors import DataError

__all__ = ["UNLABELLED", "collect_sounds", "display_names"]

#: The label of a sound that has none.
UNLABELLED = ""


def _is_audio(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def _holds_audio(folder: Path) -> bool:
    return any(_is_audio(p) for p in folder.rglob("*"))


def _unlabelled(paths: list[Path], root: Path) -> list[Item]:
    return [Item(path=str(p), label=UNLABELLED, group=p.relative_to(root).as_posix()) for p in paths]


def _from_folder(root: Path) -> Collection:
    loose = sorted(p for p in root.iterdir() if _is_audio(p))
    labelled = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".") and _holds_audio(p)]
    if labelled:
        tree = Collection.from_folder(root)
        return Collection(_unlabelled(loose, root) + list(tree), source=str(root))
    if not loose:
        raise DataError(
            f"{root}: no audio files found (expected {root}/<file> or {root}/<label>/<file> with one of the "
            f"extensions {', '.join(AUDIO_EXTENSIONS)}, or a {MANIFEST_NAME})"
        )
    return Collection(_unlabelled(loose, root), source=str(root))


def _from_manifest(manifest: Path) -> Collection:
    """A manifest with a ``label`` column is a collection; one with ``path`` only, unlabelled sounds."""
    with csv_errors(manifest):
        with open(manifest, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = reader.fieldnames or []
            if "label" in columns:
                labelled = True
                rows: list[dict[str, Any]] = []
            else:
                labelled = False
                rows = list(reader)
    if labelled:
        return Collection.from_csv(manifest)
    if "path" not in columns:
        raise DataError(f"{manifest}: a manifest of sounds needs a 'path' column (and, optionally, 'label'); "
                        f"{header_hint(columns)}")
    items = []
    for n, row in enumerate(rows, start=2):
        path = (row.get("path") or "").strip()
        if not path:
            raise DataError(f"{manifest}, line {n}: empty 'path'")
        full = Path(path) if Path(path).is_absolute() else manifest.parent / path
        items.append(Item(path=str(full), label=UNLABELLED, group=path))
    if not items:
        raise DataError(f"{manifest}: the manifest lists no files")
    return Collection(items, source=str(manifest))


def collect_sounds(sounds: str | os.PathLike, *, reader: str | None = None, **reader_options: Any) -> Collection:
    """The sounds to map, labelled where their layout says so.

    Parameters
    ----------
    sounds : path
        A folder-per-label tree, a folder of sounds, a CSV manifest (``path`` and,
        optionally, ``label`` columns), a folder holding ``manifest.csv``, or the root of a
        data set read by ``reader``.  One audio file is accepted too (and makes a map of
        one sound, which :func:`musicnn.timbre.build.build_map` refuses with a clear message).
    reader : str or None
        A data-set reader of :mod:`musicnn.data.readers` (``"gtzan"``, ``"nsynth"``...).
    **reader_options
        Passed to the reader.

    Returns
    -------
    Collection
        Unlabelled sounds have the label ``""`` (:data:`UNLABELLED`).

    Raises
    ------
    DataError
        When nothing can be read, naming the path and the layouts expected.
    """
    root = Path(sounds)
    if reader is not None:
        try:
            from musicnn.data.readers import read_dataset
        except ImportError as exc:
            raise DataError(f"reader={reader!r}: this installation has no data-set readers ({exc})") from None
        return read_dataset(reader, root, **reader_options)
    if reader_options:
        raise DataError(f"options {', '.join(sorted(reader_options))} are for a data-set reader; give reader=NAME")
    if not root.exists():
        raise DataError(f"{root}: no such file or folder")
    if root.is_file():
        if root.suffix.lower() in AUDIO_EXTENSIONS:
            return Collection(_unlabelled([root], root.parent), source=str(root))
        return _from_manifest(root)
    if (root / MANIFEST_NAME).is_file():
        return _from_manifest(root / MANIFEST_NAME)
    return _from_folder(root)


def display_names(paths: list[str], source: str) -> list[str]:
    """Short names of the sounds for the page and tables: the path under the collection's folder.

    ``source`` is the collection's origin (a folder, or a manifest whose folder is used); a
    path outside it keeps its file name only.
    """
    base = Path(source)
    base = Path(os.path.abspath(base.parent if base.is_file() else base))
    out = []
    for p in paths:
        path = Path(os.path.abspath(p))  # links are named where they lie, not where they point
        try:
            out.append(path.relative_to(base).as_posix())
        except ValueError:
            out.append(path.name)
    return out
