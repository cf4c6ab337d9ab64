"""What inference writes: results files, window timelines (segments) and embeddings.

:class:`ResultsFile` appends one row per classified file as each file completes and
knows the files a results file already holds, so that a rerun resumes;
:func:`write_segments` writes a file's window timeline; :func:`write_embeddings` one
vector per file.  Whole files are written through :mod:`musicnn.atomic`.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from musicnn.atomic import atomic_open
from musicnn.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from musicnn.inference.engine import Prediction

__all__ = [
    "EMBEDDING_SUFFIXES",
    "RESULTS_SUFFIXES",
    "SEGMENT_SUFFIXES",
    "BatchReport",
    "ResultsFile",
    "check_suffix",
    "segment_paths",
    "write_embeddings",
    "write_segments",
]

#: File types of a results file, a timeline and an embeddings file.
RESULTS_SUFFIXES = (".csv", ".jsonl")
SEGMENT_SUFFIXES = (".csv", ".json")
EMBEDDING_SUFFIXES = (".npz", ".csv", ".json")

_FIXED_COLUMNS = ("path", "label", "score", "aggregate", "n_windows", "seconds")


def check_suffix(path: str | os.PathLike, suffixes: Sequence[str], what: str) -> str:
    """The lower-case suffix of ``path``; :class:`ConfigError` unless it is one of ``suffixes``.

    ``what`` names the file in the message, e.g. ``"a results file"``.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in suffixes:
        listed = ", ".join(suffixes[:-1]) + f" or {suffixes[-1]}" if len(suffixes) > 1 else suffixes[0]
        raise ConfigError(f"{path}: {what} must end in {listed}")
    return suffix


def _class_columns(classes: Sequence[str], fixed: Sequence[str]) -> list[str]:
    """One column per class, prefixed ``class:`` only if a class name clashes with a fixed column."""
    prefix = "class:" if set(classes) & set(fixed) else ""
    return [prefix + c for c in classes]


class ResultsFile:
    """One row per classified file, appended and flushed as each file completes.

    ``.csv``: columns ``path, label, score, aggregate, n_windows, seconds`` then one column
    per class with its score (prefixed ``class:`` only if a class name clashes with a
    fixed column).  ``.jsonl``: one JSON object per line with the same fields and
    ``scores`` (class -> score).

    Opening an existing file reads the paths it already holds (:meth:`has`) and drops a
    last line cut short by a crash; a CSV written for other classes is refused.

    Parameters
    ----------
    path : str or PathLike
    classes : sequence of str
        The model's classes.
    """

    SUFFIXES = RESULTS_SUFFIXES

    def __init__(self, path: str | os.PathLike, classes: Sequence[str]):
        self.path = Path(path)
        self.format = check_suffix(self.path, self.SUFFIXES, "a results file")
        self.classes = tuple(str(c) for c in classes)
        self.header = [*_FIXED_COLUMNS, *_class_columns(self.classes, _FIXED_COLUMNS)]
        self._done: set[str] = set()
        self.n_existing = 0
        self._fh = None
        if self.path.exists() and self.path.stat().st_size > 0:
            self._read_existing()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "w", newline="", encoding="utf-8")
            if self.format == ".csv":
                csv.writer(self._fh).writerow(self.header)
                self._fh.flush()

    @staticmethod
    def _key(path: str) -> str:
        return os.path.normpath(os.path.abspath(path))

    def _read_existing(self) -> None:
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1  # a last line without its newline was cut short by a crash
        text = data[:end].decode("utf-8", errors="replace")
        if self.format == ".csv":
            rows = list(csv.reader(io.StringIO(text, newline="")))
            if not rows:
                raise ConfigError(f"{self.path}: not a results file (no header line); "
                                  "write to another results file or delete it")
            if rows[0] != self.header:
                raise ConfigError(f"{self.path}: written with other columns (another model?); "
                                  "write to another results file or delete it")
            paths = [r[0] for r in rows[1:] if len(r) == len(self.header)]
        else:
            paths = []
            for line in text.splitlines():
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(obj, dict) and isinstance(obj.get("path"), str):
                    paths.append(obj["path"])
        self._done = {p for p in paths} | {self._key(p) for p in paths}
        self.n_existing = len(paths)
        self._fh = open(self.path, "r+", newline="", encoding="utf-8")
        self._fh.truncate(end)
        self._fh.seek(end)

    def has(self, path: str | os.PathLike) -> bool:
        """True if a row for ``path`` is already in the file."""
        return str(path) in self._done or self._key(str(path)) in self._done

    def write(self, pred: Prediction) -> None:
        """Append (and flush) the row of one classified file."""
        scores = pred.scores if pred.scores is not None else np.full(len(self.classes), np.nan)
        if self.format == ".csv":
            csv.writer(self._fh).writerow([pred.path, pred.label, f"{pred.score:.6f}", pred.aggregate, pred.n_windows,
                                           f"{pred.seconds:.3f}", *(f"{v:.6f}" for v in scores)])
        else:
            self._fh.write(json.dumps({
                "path": pred.path, "label": pred.label, "score": round(pred.score, 6), "aggregate": pred.aggregate,
                "n_windows": pred.n_windows, "seconds": round(pred.seconds, 3),
                "scores": {c: round(float(v), 6) for c, v in zip(self.classes, scores)},
            }) + "\n")
        self._fh.flush()
        self._done.add(pred.path)
        self._done.add(self._key(pred.path))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> ResultsFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def segment_paths(template: str | os.PathLike, paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Where the timeline of each file goes.

    ``template`` ends in ``.csv`` or ``.json``.  With one file it may be a plain path; with
    several it must hold ``{stem}`` (the file name without extension), ``{name}`` (with
    it) or ``{parent}`` (its folder's name), e.g. ``segments/{stem}.csv``, so that each
    file gets its own timeline.  Two files that would share one timeline are refused.

    Raises
    ------
    ConfigError
    """
    template = str(template)
    check_suffix(template, SEGMENT_SUFFIXES, "a segments file")
    has_field = any(f"{{{k}}}" in template for k in ("stem", "name", "parent"))
    if len(paths) > 1 and not has_field:
        raise ConfigError(f"{template}: with several files, the segments path needs a {{stem}} "
                          "(or {name}, {parent}) field, e.g. segments/{stem}.csv")
    out = []
    for p in paths:
        p = Path(p)
        try:
            out.append(Path(template.format(stem=p.stem, name=p.name, parent=p.parent.name)))
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"{template}: fields are {{stem}}, {{name}} and {{parent}} ({exc})") from None
    seen: dict[Path, str] = {}
    for src, dst in zip(paths, out):
        if dst in seen and seen[dst] != str(src):
            raise ConfigError(f"{seen[dst]} and {src} would both write their segments to {dst}; "
                              "add {parent} to the segments path or classify them in two calls")
        seen[dst] = str(src)
    return out


def write_segments(pred: Prediction, path: str | os.PathLike) -> Path:
    """Write a file's window timeline as CSV or JSON (by extension).

    CSV columns: ``start, end`` (seconds), ``label`` (the window's most probable class),
    ``probability`` (its probability), then every class's probability.  JSON: the
    file-level ``path``, ``label``, ``score``, ``aggregate`` and ``top``, and ``windows``, a
    list of ``{start, end, label, probability, probabilities: {class: p}}``.
    """
    if pred.windows is None or pred.starts is None or pred.ends is None:
        raise ConfigError(f"{pred.path}: the prediction holds no windows (keep_windows=False)")
    path = Path(path)
    best = pred.windows.argmax(axis=1)
    with atomic_open(path, "w", newline="") as fh:
        if path.suffix.lower() == ".json":
            json.dump({
                **pred.to_dict(),
                "score": round(pred.score, 6),
                "classes": list(pred.classes),
                "windows": [
                    {"start": round(float(s), 6), "end": round(float(e), 6), "label": pred.classes[b],
                     "probability": round(float(row[b]), 6),
                     "probabilities": {c: round(float(v), 6) for c, v in zip(pred.classes, row)}}
                    for s, e, b, row in zip(pred.starts, pred.ends, best, pred.windows)
                ],
            }, fh, indent=1)
        else:
            writer = csv.writer(fh)
            fixed = ("start", "end", "label", "probability")
            writer.writerow([*fixed, *_class_columns(pred.classes, fixed)])
            for s, e, b, row in zip(pred.starts, pred.ends, best, pred.windows):
                writer.writerow([f"{s:.3f}", f"{e:.3f}", pred.classes[b], f"{row[b]:.6f}", *(f"{v:.6f}" for v in row)])
    return path


def write_embeddings(path: str | os.PathLike, paths: Sequence[str], embeddings: np.ndarray) -> Path:
    """Write one embedding per file, by extension.

    ``.npz``: arrays ``paths`` (str) and ``embeddings`` ``(n_files, dim)``; ``.csv``:
    columns ``path, e0, e1, ...``; ``.json``: a list of ``{path, embedding}``.

    Raises
    ------
    ConfigError
        Another extension, or as many paths as embedding rows not given.
    """
    path = Path(path)
    suffix = check_suffix(path, EMBEDDING_SUFFIXES, "an embeddings file")
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2 or len(embeddings) != len(paths):
        raise ConfigError(f"embeddings of shape {embeddings.shape} do not give one row for each of {len(paths)} paths")
    if suffix == ".npz":
        with atomic_open(path, "wb") as fh:
            np.savez(fh, paths=np.array(list(paths), dtype=str), embeddings=embeddings)
    elif suffix == ".csv":
        with atomic_open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", *[f"e{i}" for i in range(embeddings.shape[1])]])
            for p, row in zip(paths, embeddings):
                writer.writerow([p, *[f"{v:.6g}" for v in row]])
    else:
        with atomic_open(path, "w") as fh:
            json.dump([{"path": p, "embedding": [float(v) for v in row]} for p, row in zip(paths, embeddings)], fh)
    return path


@dataclass
class BatchReport:
    """What :func:`musicnn.inference.engine.classify_batch` did.

    Attributes
    ----------
    predictions : list of Prediction
        The files classified by this call (not those skipped), in input order.
    failures : list of (str, str)
        ``(path, reason)`` of the files that could not be classified.
    skipped : list of str
        Files not classified because the results file already held them.
    out : Path or None
        The results file.
    """

    predictions: list[Prediction]
    failures: list[tuple[str, str]]
    skipped: list[str] = field(default_factory=list)
    out: Path | None = None
