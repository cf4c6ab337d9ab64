"""TinySOL: 2,913 notes of 14 orchestral instruments, ordinary playing (Cella et al., 2020).

Published layout (Zenodo record 3685367)::

    TinySOL_metadata.csv
    TinySOL/<Family>/<Instrument>/ordinario/<file>.wav     (TinySOL.tar.gz, extracted)

The metadata CSV has one row per note, with the columns ``Path`` (the WAV, relative to
``TinySOL/``), ``Fold`` (0-4: the official five-fold split, balanced in instrument, pitch
range and dynamics), ``Family``, ``Instrument (abbr.)``, ``Instrument (in full)``,
``Technique (abbr.)``, ``Technique (in full)``, ``Pitch``, ``Pitch ID``, ``Dynamics``,
``Dynamics ID``, ``Instance ID``, ``String ID (if applicable)`` and
``Needed digital retuning``.

The label is ``Instrument (in full)``.  Each instrument was recorded by one player in one
session, so no group finer than the label can be held out: each note's recording is its
own group, and the folds are the protocol.  ``test_fold`` (and ``val_fold``) give the
folds their split; the other folds train.
"""

from __future__ import annotations

import os
from pathlib import Path

from musicnn.data.collection import Collection, Item
from musicnn.data.readers._common import Remote, as_root, find_child, missing_files, read_csv_rows
from musicnn.errors import ConfigError, DataError

__all__ = ["COLUMNS", "METADATA", "REMOTES", "read_tinysol"]

NAME = "tinysol"
METADATA = "TinySOL_metadata.csv"

#: The columns of the published metadata CSV.
COLUMNS = ("Path", "Fold", "Family", "Instrument (abbr.)", "Instrument (in full)", "Technique (abbr.)",
           "Technique (in full)", "Pitch", "Pitch ID", "Dynamics", "Dynamics ID", "Instance ID",
           "String ID (if applicable)", "Needed digital retuning")
FOLDS = 5

_RECORD = "https://zenodo.org/records/3685367/files/{}?download=1"

#: The download, with the md5 checksums the Zenodo record lists.
REMOTES = (
    Remote("audio", _RECORD.format("TinySOL.tar.gz"), "TinySOL.tar.gz", "md5:36030a7fe389da86c3419e5ee48e3b7f",
           unpacks_to="TinySOL"),
    Remote("metadata", _RECORD.format(METADATA), METADATA, "md5:a86c9bb115f69e61f2f25872e397fc4a"),
)


def read_tinysol(root: str | os.PathLike, *, test_fold: int | None = 0, val_fold: int | None = None,
                 label: str = "Instrument (in full)", metadata: str | os.PathLike | None = None) -> Collection:
    """Read a copy of TinySOL.

    Parameters
    ----------
    root : path
        The folder holding ``TinySOL_metadata.csv`` and ``TinySOL/`` (the extracted archive).
    test_fold : int or None
        The fold (0-4) that is the test split; None: no split (every note has
        ``split=None`` and its fold in ``meta``, for a cross-validation of your own).
    val_fold : int or None
        A fold for validation; None: the four other folds all train.
    label : str
        The column that is the label: ``Instrument (in full)``, or another one of the CSV
        (``Family``, ``Instrument (abbr.)``, ``Pitch ID``, ``Dynamics``...).
    metadata : path, optional
        The metadata CSV, where it is not in ``root``.

    Returns
    -------
    Collection
        label = ``Instrument (in full)`` (or ``label``); group = the note's file;
        split from the folds.  ``meta``: ``fold``, ``family``, ``pitch_id``, ``dynamics``,
        ``instance``.

    Raises
    ------
    DataError
        The CSV missing or lacking a column, a row with no path or a fold outside 0-4, or
        a WAV it lists that the copy lacks.
    ConfigError
        A fold outside 0-4, the same fold for test and validation, or an unknown label column.
    """
    base = as_root(root, NAME)
    for name, fold in (("test_fold", test_fold), ("val_fold", val_fold)):
        if fold is not None and (isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < FOLDS):
            raise ConfigError(f"{name}={fold!r} must be a TinySOL fold, 0 to {FOLDS - 1}, or None")
    if val_fold is not None and (test_fold is None or val_fold == test_fold):
        raise ConfigError(f"val_fold={val_fold!r} needs a different test_fold (test_fold={test_fold!r})")
    if label not in COLUMNS:
        raise ConfigError(f"label={label!r} is not a column of {METADATA}; choose one of "
                          f"{', '.join(repr(c) for c in COLUMNS)}")
    meta_path = Path(metadata).expanduser() if metadata is not None else find_child(base, [METADATA], depth=2)
    if meta_path is None or not meta_path.is_file():
        where = meta_path if meta_path is not None else base / METADATA
        raise DataError(f"{where}: missing; TinySOL's metadata CSV is published beside TinySOL.tar.gz "
                        f"(give metadata=PATH where it lies elsewhere)")
    rows = read_csv_rows(meta_path, ("Path", "Fold", label), f"TinySOL's {METADATA}")
    audio_dir = _audio_folder(base, meta_path, rows[0][1]["Path"])
    items, missing = [], []
    for line, row in rows:
        rel = row["Path"].replace("\\", "/")
        if not rel or not row[label]:
            raise DataError(f"{meta_path}, line {line}: empty 'Path' or {label!r}")
        try:
            fold = int(row["Fold"])
        except ValueError:
            fold = -1
        if not 0 <= fold < FOLDS:
            raise DataError(f"{meta_path}, line {line}: Fold={row['Fold']!r} must be 0 to {FOLDS - 1}")
        path = audio_dir / rel
        if not path.is_file():
            missing.append(path)
            continue
        split = None
        if test_fold is not None:
            split = "test" if fold == test_fold else "validation" if fold == val_fold else "train"
        items.append(Item(path=str(path), label=row[label], group=rel, split=split,
                          meta={"fold": str(fold), "family": row.get("Family", ""),
                                "pitch_id": row.get("Pitch ID", ""), "dynamics": row.get("Dynamics", ""),
                                "instance": row.get("Instance ID", "")}))
    if missing:
        raise missing_files(missing, meta_path, audio_dir, len(rows))
    return Collection(items, source=str(meta_path))


def _audio_folder(base: Path, meta_path: Path, first: str) -> Path:
    """The folder the CSV's paths are relative to: the one where its first path exists."""
    first = first.replace("\\", "/")
    candidates = [base / "TinySOL", base, meta_path.parent / "TinySOL", meta_path.parent,
                  base / "audio" / "TinySOL", base / "audio"]
    for c in candidates:
        if first and (c / first).is_file():
            return c
    top = first.split("/", 1)[0]
    for c in candidates:
        if top and (c / top).is_dir():
            return c  # the tree is there; the missing files are named next
    raise DataError(f"{base / 'TinySOL'}: no TinySOL audio (the metadata's first file, {first!r}, is in none of "
                    f"{', '.join(str(c) for c in candidates[:2])}); extract TinySOL.tar.gz into {base}")
