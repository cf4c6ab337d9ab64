"""Labelled audio collections and group-aware splits.

A :class:`Collection` is a list of :class:`Item` (path, label, group, split).  It comes from

* a **folder-per-label tree**: ``DATA/<label>/**/<file>.wav``; every file is its own group;
* a **CSV manifest** with columns ``path`` and ``label`` (required), ``group`` and ``split``
  (optional), any others kept as ``meta``; paths are relative to the manifest's folder;
* a folder holding ``manifest.csv``: that manifest.

Splits are stratified by label and group-aware: all items of a group (an instrument, an
artist, a SoundFont) fall in the same split, so a test score measures generalisation to
groups never seen in training.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from musicnn.audio.io import AUDIO_EXTENSIONS
from musicnn.errors import ConfigError, DataError

__all__ = ["Item", "Collection", "DataWarning", "SPLITS", "MANIFEST_NAME", "check_output_folder", "csv_errors", "header_hint"]

SPLITS = ("train", "validation", "test")
MANIFEST_NAME = "manifest.csv"


@contextlib.contextmanager
def csv_errors(path: Path) -> Iterator[None]:
    """Turn what reading the CSV file ``path`` can raise into one DataError naming it."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 CSV file ({exc.reason})") from exc
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from exc


class DataWarning(UserWarning):
    """A data set is usable but something in it deserves a look (repeated rows, a label never tested)."""


@dataclass(frozen=True)
class Item:
    """One labelled audio file."""

    path: str
    label: str
    group: str
    split: str | None = None
    meta: dict = field(default_factory=dict, compare=False, hash=False)


class Collection(Sequence[Item]):
    """An ordered set of labelled audio files.

    Parameters
    ----------
    items : sequence of Item
    source : str
        Where the items came from (shown in messages).
    """

    def __init__(self, items: Sequence[Item], source: str = "") -> None:
        self.items = list(items)
        self.source = source

    # -- sequence protocol ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return Collection(self.items[i], self.source)
        return self.items[i]

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    def __repr__(self) -> str:
        return f"Collection({len(self)} items, {len(self.labels)} labels, {len(set(self.groups))} groups, source={self.source!r})"

    # -- views ------------------------------------------------------------------------
    @property
    def paths(self) -> list[str]:
        return [it.path for it in self.items]

    @property
    def y(self) -> np.ndarray:
        """Labels as an array of str."""
        return np.array([it.label for it in self.items], dtype=object)

    @property
    def groups(self) -> list[str]:
        return [it.group for it in self.items]

    @property
    def labels(self) -> list[str]:
        """Sorted distinct labels."""
        return sorted({it.label for it in self.items})

    def counts(self) -> dict[str, int]:
        """Items per label."""
        return dict(sorted(Counter(it.label for it in self.items).items()))

    def subset(self, mask_or_indices) -> Collection:
        """The items selected by a boolean mask or index list."""
        idx = np.asarray(mask_or_indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return Collection([self.items[i] for i in idx], self.source)

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def load(cls, data: str | os.PathLike) -> Collection:
        """A collection from a CSV manifest, a folder holding ``manifest.csv``, or a folder-per-label tree."""
        data = Path(data)
        if not data.exists():
            raise DataError(f"{data}: no such file or folder")
        if data.is_file():
            if data.suffix.lower() in AUDIO_EXTENSIONS:
                raise DataError(f"{data}: an audio file, not a data set; give a folder of label folders "
                                f"(<label>/<file>) or a CSV manifest")
            return cls.from_csv(data)
        if (data / MANIFEST_NAME).is_file():
            return cls.from_csv(data / MANIFEST_NAME)
        return cls.from_folder(data)

    @classmethod
    def from_folder(cls, root: str | os.PathLike) -> Collection:
        """A collection from ``root/<label>/**/<audio file>``; each file is its own group."""
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"{root}: not a folder")
        items = []
        for label_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for f in sorted(label_dir.rglob("*")):
                if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS and not f.name.startswith("."):
                    rel = f.relative_to(root).as_posix()
                    items.append(Item(path=str(f), label=label_dir.name, group=rel))
        if not items:
            raise DataError(
                f"{root}: no audio files found in label folders (expected {root}/<label>/<file> ending in "
                f"{', '.join(AUDIO_EXTENSIONS)}, or a {MANIFEST_NAME})"
            )
        return cls(items, source=str(root))

    @classmethod
    def from_csv(cls, manifest: str | os.PathLike) -> Collection:
        """A collection from a CSV manifest (columns ``path``, ``label``; optional ``group``, ``split``)."""
        manifest = Path(manifest)
        with csv_errors(manifest):
            with open(manifest, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's byte-order mark
                reader = csv.DictReader(f)
                columns = reader.fieldnames or []
                missing = [c for c in ("path", "label") if c not in columns]
                if missing:
                    raise DataError(
                        f"{manifest}: missing column(s) {', '.join(missing)}; a manifest is a CSV file whose first "
                        f"line names the columns 'path' and 'label' (optional 'group', 'split'); {header_hint(columns)}"
                    )
                rows = list(reader)
        base = manifest.parent
        items = []
        seen: dict[str, tuple[int, Item]] = {}
        repeats: list[tuple[int, int, str]] = []
        for n, row in enumerate(rows, start=2):
            path, label = (row.get("path") or "").strip(), (row.get("label") or "").strip()
            if not path or not label:
                raise DataError(f"{manifest}, line {n}: empty 'path' or 'label'")
            split = (row.get("split") or "").strip() or None
            if split is not None and split not in SPLITS:
                raise DataError(f"{manifest}, line {n}: split={split!r} must be one of {', '.join(SPLITS)}")
            full = Path(path) if Path(path).is_absolute() else base / path
            group = (row.get("group") or "").strip() or path
            meta = {k: v for k, v in row.items() if k not in ("path", "label", "group", "split") and k is not None}
            item = Item(path=str(full), label=label, group=group, split=split, meta=meta)
            key = os.path.normpath(os.path.abspath(full))
            if key in seen:
                first_line, first = seen[key]
                for what in ("label", "group", "split"):
                    if getattr(first, what) != getattr(item, what):
                        raise DataError(
                            f"{manifest}, line {n}: {path} is listed again with {what} {getattr(item, what)!r} "
                            f"(line {first_line}: {getattr(first, what)!r}); list each file once"
                        )
                repeats.append((n, first_line, path))
                continue
            seen[key] = (n, item)
            items.append(item)
        if not items:
            raise DataError(f"{manifest}: the manifest lists no files")
        if repeats:
            n, first_line, path = repeats[0]
            warnings.warn(f"{manifest}: {len(repeats)} row(s) repeat a file listed earlier (line {n} repeats "
                          f"line {first_line}, {path}); each file is counted once", DataWarning, stacklevel=2)
        return cls(items, source=str(manifest))

    # -- splits -----------------------------------------------------------------------
    @property
    def sources(self) -> list[str]:
        """Sorted distinct values of the manifest's ``source`` column (empty when absent)."""
        return sorted({it.meta["source"] for it in self.items if it.meta.get("source")})

    def split(self, *, test_size: float = 0.2, val_size: float = 0.1, seed: int = 0,
              by: str = "group", test_source: str | None = None) -> dict[str, Collection]:
        """Stratified, group-aware train/validation/test split, or a split by source.

        With ``by="source"`` the test split is the items of ``test_source`` (the
        manifest's ``source`` column: a SoundFont, a studio, a data set) whose group holds
        no item of another source, so no recording of the test is heard in training under
        another name; the test source's other items are left out.  The items of the other
        sources are split by groups into train and validation (``val_size``), as below with
        ``test_size=0``.

        Items that carry a ``split`` (from a manifest) keep it.  The others are split by
        groups: per label (a group counts for its most frequent label), groups are shuffled
        with ``seed`` and given to the test split while that brings it closer to ``test_size``
        of the label's items (at least one group), then likewise to validation; the rest train.  Every label keeps at
        least one group for training; a label with a single group is used only for training.

        Parameters
        ----------
        test_size, val_size : float
            Fractions in [0, 1), their sum below 1.
        seed : int

        Returns
        -------
        dict
            ``{"train": ..., "validation": ..., "test": ...}`` (possibly empty collections).
        """
        if by == "source":
            return self._split_by_source(test_source, val_size=val_size, seed=seed)
        if by != "group":
            raise DataError(f"by={by!r} must be 'group' or 'source'")
        if not (0 <= test_size < 1 and 0 <= val_size < 1 and test_size + val_size < 1):
            raise DataError(f"test_size={test_size} and val_size={val_size} must be in [0, 1) with a sum below 1")
        fixed = {s: [it for it in self.items if it.split == s] for s in SPLITS}
        free = [it for it in self.items if it.split is None]
        assign: dict[str, str] = {}
        by_group: dict[str, list[Item]] = defaultdict(list)
        for it in free:
            by_group[it.group].append(it)
        group_label = {g: Counter(it.label for it in its).most_common(1)[0][0] for g, its in sorted(by_group.items())}
        rng = np.random.default_rng(seed)
        for label in sorted(set(group_label.values())):
            groups = sorted(g for g, lab in group_label.items() if lab == label)
            groups = [groups[i] for i in rng.permutation(len(groups))]
            total = sum(len(by_group[g]) for g in groups)
            taken = {"test": 0, "validation": 0}
            remaining = len(groups)
            for g in groups:
                n = len(by_group[g])
                if remaining > 1 and test_size > 0 and _wants(taken["test"], n, test_size * total):
                    assign[g] = "test"
                    taken["test"] += n
                elif remaining > 1 and val_size > 0 and _wants(taken["validation"], n, val_size * total):
                    assign[g] = "validation"
                    taken["validation"] += n
                else:
                    assign[g] = "train"
                remaining -= 1
            # the groups left last were the train ones; make sure at least one trains
            if all(assign[g] != "train" for g in groups):
                assign[groups[-1]] = "train"
        out = {s: list(fixed[s]) for s in SPLITS}
        for it in free:
            out[assign[it.group]].append(it)
        return {s: Collection(v, self.source) for s, v in out.items()}

    def _split_by_source(self, test_source: str | None, *, val_size: float, seed: int) -> dict[str, Collection]:
        sources = self.sources
        if len(sources) < 2:
            raise DataError(
                f"{self.source}: by='source' needs a 'source' column naming at least 2 sources; "
                f"found {sources or 'none'} (build a set from several SoundFonts, or add the column)"
            )
        if test_source not in sources:
            raise DataError(f"test_source={test_source!r} is not a source of {self.source}; "
                            f"its sources: {', '.join(sources)}")
        missing = next((it for it in self.items if not _source_of(it)), None)
        if missing is not None:
            raise DataError(f"{self.source}: {missing.path} has no source; by='source' needs one for every item")
        heard = {it.group for it in self.items if _source_of(it) != test_source}
        test = [it for it in self.items if _source_of(it) == test_source and it.group not in heard]
        rest = Collection([it for it in self.items if _source_of(it) != test_source], self.source)
        if not test:
            raise DataError(f"{self.source}: every group of source {test_source!r} is also heard in another "
                            "source; nothing is left to test on")
        parts = rest.split(test_size=0.0, val_size=val_size, seed=seed)
        return {"train": parts["train"], "validation": parts["validation"],
                "test": Collection(test, self.source)}


def header_hint(columns: Sequence[str]) -> str:
    """What the first line of a file that is not a manifest held, without quoting its text
    (``--data /etc/passwd`` must not print the file's first line)."""
    if not columns:
        return "the file is empty"
    if len(columns) <= 20 and all(_COLUMN_NAME.fullmatch(c or "") for c in columns):
        return f"found: {', '.join(columns)}"
    return "its first line is not a row of column names (is it a manifest?)"


_COLUMN_NAME = re.compile(r"[A-Za-z_][\w .-]{0,39}")


def check_output_folder(out_dir: str | os.PathLike, *, force: bool, columns: Sequence[str]) -> Path:
    """Refuse to write a data set into a folder that holds other files, unless ``force``.

    An absent or empty folder is fine, and so is a previous build of the same set (a
    folder whose ``manifest.csv`` has exactly ``columns``): building again replaces its
    files by the same ones.

    Raises
    ------
    ConfigError
        When ``out_dir`` is a file, or a non-empty folder that is not such a build.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out_dir={str(out)!r} is a file, not a folder")
    if force or not out.is_dir() or not any(out.iterdir()):
        return out
    manifest = out / MANIFEST_NAME
    try:
        with open(manifest, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        header = []
    if tuple(header) != tuple(columns):
        raise ConfigError(f"out_dir={str(out)!r} already holds files that are not a build of this data set; "
                          "pass force=True to write into it anyway, or choose another folder")
    return out


def _source_of(it: Item) -> str:
    return it.meta.get("source") or ""


def _wants(taken: int, n: int, target: float) -> bool:
    """Whether a split that holds ``taken`` items should take a group of ``n`` more."""
    return taken == 0 or taken + n / 2 <= target
