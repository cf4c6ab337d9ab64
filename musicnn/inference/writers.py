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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

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
    "check_new_output",
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


def check_new_output(path: str | os.PathLike, *, force: bool = False) -> Path:
    """``path`` as a :class:`~pathlib.Path`, refused if a file is already there, unless ``force``.

    Every command that writes a file checks it before any work: no output is replaced by
    accident (a model, a report, a PNG, results, embeddings, features, segments).

    Raises
    ------
    ConfigError
        When ``path`` is a folder, or an existing file and ``force`` is False.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder; give the name of a file to write")
    if not force and (path.exists() or path.is_symlink()):
        raise ConfigError(f"{path} already exists; pass force=True to replace it, or choose another file")
    return path


#: How text files written here store a file name that is not valid UTF-8: its own bytes,
#: read back unchanged (Python's ``surrogateescape``).
_TEXT = {"encoding": "utf-8", "errors": "surrogateescape"}


@contextmanager
def _writing(path: Path, what: str) -> Iterator[None]:
    """Turn a failure to write ``path`` (no room, no permission, a name too long) into one clear error."""
    try:
        yield
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write {what} ({exc.strerror or exc})") from None


def _csv_records(text: str) -> Iterator[tuple[list[str], int, bool]]:
    """``(row, end, terminated)`` for each CSV record of ``text``: ``end`` is the offset just
    after it, ``terminated`` whether a line break ends it (a record cut short by a crash
    has none).  Quoted line breaks inside a field (a file name holding one) stay in the field."""
    consumed = [0]

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            consumed[0] += len(line)
            yield line

    try:
        for row in csv.reader(lines()):
            end = consumed[0]
            yield row, end, end > 0 and text[end - 1] in "\r\n"
    except csv.Error:
        return


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
    last line cut short by a crash: a rerun resumes.  A file that is not a results file of
    these classes (another model's, one of another ``aggregate``, any other file) is
    refused, and nothing in it is changed, unless ``force`` (then it is replaced).

    Parameters
    ----------
    path : str or PathLike
    classes : sequence of str
        The model's classes.
    aggregate : str or None
        The rows' aggregation; an existing file with rows of another one is refused.
    force : bool
        Replace an existing file instead of resuming it.
    """

    SUFFIXES = RESULTS_SUFFIXES

    def __init__(self, path: str | os.PathLike, classes: Sequence[str], *, aggregate: str | None = None,
                 force: bool = False):
        self.path = Path(path)
        self.format = check_suffix(self.path, self.SUFFIXES, "a results file")
        if self.path.is_dir():
            raise ConfigError(f"{self.path} is a folder; give the name of a results file (.csv or .jsonl)")
        self.classes = tuple(str(c) for c in classes)
        self.aggregate = aggregate
        self.header = [*_FIXED_COLUMNS, *_class_columns(self.classes, _FIXED_COLUMNS)]
        self._done: set[str] = set()
        self.n_existing = 0
        self.resumed = False
        self._fh = None
        with _writing(self.path, "the results file"):
            if not force and self.path.exists() and self.path.stat().st_size > 0:
                self._read_existing()
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "w", newline="", **_TEXT)
                if self.format == ".csv":
                    csv.writer(self._fh).writerow(self.header)
                    self._fh.flush()

    @staticmethod
    def _key(path: str) -> str:
        return os.path.normpath(os.path.abspath(path))

    def _refuse(self, why: str) -> None:
        raise ConfigError(f"{self.path}: not a results file of this model ({why}); pass force=True to replace it, "
                          "or write to another results file")

    @classmethod
    def reader(cls, path: str | os.PathLike, classes: Sequence[str], *, aggregate: str | None = None) -> ResultsFile:
        """A read-only view of ``path`` (:meth:`rows`); nothing is opened for writing."""
        probe = cls.__new__(cls)
        probe.path = Path(path)
        probe.format = check_suffix(probe.path, cls.SUFFIXES, "a results file")
        probe.classes = tuple(str(c) for c in classes)
        probe.aggregate = aggregate
        probe.header = [*_FIXED_COLUMNS, *_class_columns(probe.classes, _FIXED_COLUMNS)]
        probe._done = set()
        return probe

    @classmethod
    def problem(cls, path: str | os.PathLike, classes: Sequence[str], *, aggregate: str | None = None) -> str | None:
        """Why an existing ``path`` cannot be resumed by these classes and ``aggregate``
        (the message a :class:`ResultsFile` would raise), or None: absent, empty or resumable.
        Reads the file and changes nothing."""
        probe = cls.reader(path, classes, aggregate=aggregate)
        if probe.path.is_dir():
            return f"{probe.path} is a folder; give the name of a results file (.csv or .jsonl)"
        if not probe.path.exists() or probe.path.stat().st_size == 0:
            return None
        try:
            probe._scan()
        except ConfigError as exc:
            return str(exc)
        return None

    def _scan(self) -> tuple[str, list[str], int]:
        """The file's text, the paths of its complete rows and where they end (refusing a foreign file)."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read the results file ({exc.strerror or exc})") from None
        text = data.decode("utf-8", errors="surrogateescape")
        paths, end = self._read_csv(text) if self.format == ".csv" else self._read_jsonl(text)
        return text, paths, end

    def _read_existing(self) -> None:
        text, paths, end = self._scan()
        self._done = {p for p in paths} | {self._key(p) for p in paths}
        self.n_existing = len(paths)
        self.resumed = True
        end_bytes = len(text[:end].encode("utf-8", errors="surrogateescape"))
        self._fh = open(self.path, "r+", newline="", **_TEXT)
        self._fh.truncate(end_bytes)  # a last row cut short by a crash is redone
        self._fh.seek(end_bytes)

    def _read_csv(self, text: str) -> tuple[list[str], int]:
        records = list(_csv_records(text))
        if not records or not records[0][2]:
            self._refuse("no header line")
        if records[0][0] != self.header:
            self._refuse("other columns: another model's classes?")
        paths, end = [], records[0][1]
        for n, (row, stop, terminated) in enumerate(records[1:], start=2):
            if not terminated:  # the last row, cut short by a crash
                break
            if len(row) != len(self.header):
                self._refuse(f"record {n} has {len(row)} fields, not {len(self.header)}")
            if self.aggregate is not None and row[3] != self.aggregate:
                self._refuse(f"its rows were written with aggregate={row[3]!r}; this run asks for {self.aggregate!r}")
            paths.append(row[0])
            end = stop
        return paths, end

    def _read_jsonl(self, text: str) -> tuple[list[str], int]:
        paths, end, offset = [], 0, 0
        pieces = text.split("\n")
        lines = [piece + "\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])
        for n, line in enumerate(lines, start=1):
            offset += len(line)
            if not line.endswith("\n"):  # the last line, cut short by a crash
                break
            if not line.strip():
                end = offset
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                self._refuse(f"line {n} is not JSON")
            if (not isinstance(obj, dict) or not isinstance(obj.get("path"), str)
                    or not isinstance(obj.get("scores"), dict)):
                self._refuse(f"line {n} is not a row of classify")
            if list(obj["scores"]) != list(self.classes):
                self._refuse(f"line {n} scores other classes: another model's?")
            if self.aggregate is not None and obj.get("aggregate") != self.aggregate:
                self._refuse(f"its rows were written with aggregate={obj.get('aggregate')!r}; "
                             f"this run asks for {self.aggregate!r}")
            paths.append(obj["path"])
            end = offset
        return paths, end

    def has(self, path: str | os.PathLike) -> bool:
        """True if a row for ``path`` is already in the file."""
        return str(path) in self._done or self._key(str(path)) in self._done

    def write(self, pred: Prediction) -> None:
        """Append (and flush) the row of one classified file."""
        with _writing(self.path, "the results file"):
            self._write(pred)

    def _write(self, pred: Prediction) -> None:
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

    def rows(self) -> dict[str, str]:
        """The complete rows of the file, as written, by path (in the file's order)."""
        text, _, end = self._scan()
        text = text[:end]
        if self.format == ".csv":
            out, start = {}, None
            for row, stop, _ in _csv_records(text):
                if start is not None:  # the first record is the header
                    out[row[0]] = text[start:stop]
                start = stop
            return out
        return {json.loads(line)["path"]: line for line in text.splitlines(keepends=True) if line.strip()}

    def merge(self, parts: Sequence[str | os.PathLike], order: Sequence[str]) -> int:
        """Append the rows of the results files ``parts`` (of the same classes), in the
        input order ``order``, skipping files this one already holds; return the rows added."""
        found: dict[str, str] = {}
        for part in parts:
            if Path(part).is_file() and Path(part).stat().st_size > 0:
                found.update(ResultsFile.reader(part, self.classes, aggregate=self.aggregate).rows())
        added = 0
        with _writing(self.path, "the results file"):
            for path in order:
                line = found.get(str(path))
                if line is not None and not self.has(path):
                    self._fh.write(line if line.endswith("\n") else line + "\n")
                    self._done.update((str(path), self._key(str(path))))
                    added += 1
            self._fh.flush()
        return added

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
    with _writing(path, "the timeline"), atomic_open(path, "w", newline="", **_TEXT) as fh:
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


def write_embeddings(path: str | os.PathLike, paths: Sequence[str], embeddings: np.ndarray, *,
                     force: bool = False) -> Path:
    """Write one embedding per file, by extension.

    ``.npz``: arrays ``paths`` (str) and ``embeddings`` ``(n_files, dim)``; ``.csv``:
    columns ``path, e0, e1, ...``; ``.json``: a list of ``{path, embedding}``.  An existing
    file is replaced only with ``force``.

    Raises
    ------
    ConfigError
        Another extension, an existing file without ``force``, or as many paths as
        embedding rows not given.
    """
    path = Path(path)
    suffix = check_suffix(path, EMBEDDING_SUFFIXES, "an embeddings file")
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2 or len(embeddings) != len(paths):
        raise ConfigError(f"embeddings of shape {embeddings.shape} do not give one row for each of {len(paths)} paths")
    check_new_output(path, force=force)
    with _writing(path, "the embeddings"):
        _write_embeddings(path, suffix, paths, embeddings)
    return path


def _write_embeddings(path: Path, suffix: str, paths: Sequence[str], embeddings: np.ndarray) -> None:
    if suffix == ".npz":
        with atomic_open(path, "wb") as fh:
            np.savez(fh, paths=np.array(list(paths), dtype=str), embeddings=embeddings)
    elif suffix == ".csv":
        with atomic_open(path, "w", newline="", **_TEXT) as fh:
            writer = csv.writer(fh)
            writer.writerow(["path", *[f"e{i}" for i in range(embeddings.shape[1])]])
            for p, row in zip(paths, embeddings):
                writer.writerow([p, *[f"{v:.6g}" for v in row]])
    else:
        with atomic_open(path, "w") as fh:
            json.dump([{"path": p, "embedding": [float(v) for v in row]} for p, row in zip(paths, embeddings)], fh)


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
