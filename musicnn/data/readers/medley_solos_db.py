"""Medley-solos-DB: 21,571 three-second excerpts of solos in eight instruments (Lostanlen and Cella, 2016).

Published layout (Zenodo record 3464194)::

    Medley-solos-DB_metadata.csv
    Medley-solos-DB_<subset>-<instrument_id>_<uuid4>.wav      (Medley-solos-DB.tar.gz, extracted)

The metadata CSV has one row per excerpt, with the columns ``subset`` (``training``,
``validation`` or ``test``), ``instrument``, ``instrument_id`` (0-7), ``song_id`` and
``uuid4``; the WAV's name is made of the subset, the instrument id and the uuid.  The
training and validation excerpts come from MedleyDB, the test excerpts from solosDB.

The label is ``instrument``; the group is the song (``song_id``), so that excerpts of one
song never straddle two splits; the split is the subset's (``training`` gives ``train``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from musicnn.data.collection import Collection, Item
from musicnn.data.readers._common import (Remote, as_root, audio_index, find_child, missing_files,
                                          read_csv_rows)
from musicnn.errors import ConfigError, DataError

__all__ = ["METADATA", "REMOTES", "SUBSETS", "audio_name", "read_medley_solos_db"]

NAME = "medley-solos-db"
METADATA = "Medley-solos-DB_metadata.csv"
COLUMNS = ("subset", "instrument", "instrument_id", "song_id", "uuid4")

#: The published subsets and the split each gives.
SUBSETS = {"training": "train", "validation": "validation", "test": "test"}

_RECORD = "https://zenodo.org/records/3464194/files/{}?download=1"

#: The download, with the md5 checksums the Zenodo record lists.
REMOTES = (
    Remote("audio", _RECORD.format("Medley-solos-DB.tar.gz"), "Medley-solos-DB.tar.gz",
           "md5:f5facf398793ef5c1f80c013afdf3e5f", unpacks_to="Medley-solos-DB"),
    Remote("metadata", _RECORD.format(METADATA), METADATA, "md5:fda6a589c56785f2195c9227809c521a"),
)


def audio_name(subset: str, instrument_id: int | str, uuid4: str) -> str:
    """The published name of an excerpt's WAV: ``Medley-solos-DB_<subset>-<instrument_id>_<uuid4>.wav``."""
    return f"Medley-solos-DB_{subset}-{instrument_id}_{uuid4}.wav"


def read_medley_solos_db(root: str | os.PathLike, *, subsets: Sequence[str] | None = None,
                         metadata: str | os.PathLike | None = None) -> Collection:
    """Read a copy of Medley-solos-DB.

    Parameters
    ----------
    root : path
        The folder holding the metadata CSV and the WAV files (in it or in any folder below).
    subsets : sequence of str, optional
        Which of ``training``, ``validation``, ``test`` to read (default: all).
    metadata : path, optional
        The metadata CSV, where it is not under ``root``.

    Returns
    -------
    Collection
        label = ``instrument``; group = ``song<song_id>``; split = the subset's.
        ``meta``: ``instrument_id``, ``song_id``, ``uuid4``, ``subset``.

    Raises
    ------
    DataError
        The CSV missing or lacking a column, a row with an unknown subset, a non-integer
        id or no uuid, or an excerpt whose WAV the copy lacks.
    ConfigError
        An unknown subset.
    """
    base = as_root(root, NAME)
    if subsets is not None:
        subsets = [subsets] if isinstance(subsets, str) else list(subsets)
        if not subsets or any(s not in SUBSETS for s in subsets):
            raise ConfigError(f"subsets={subsets!r}: choose among {', '.join(repr(s) for s in SUBSETS)}")
    meta_path = Path(metadata).expanduser() if metadata is not None else find_child(base, [METADATA], depth=2)
    if meta_path is None or not meta_path.is_file():
        where = meta_path if meta_path is not None else base / METADATA
        raise DataError(f"{where}: missing; Medley-solos-DB's metadata CSV is published beside "
                        "Medley-solos-DB.tar.gz (give metadata=PATH where it lies elsewhere)")
    rows = read_csv_rows(meta_path, COLUMNS, f"Medley-solos-DB's {METADATA}")
    audio = audio_index(base)
    items, missing = [], []
    for line, row in rows:
        subset = row["subset"]
        if subset not in SUBSETS:
            raise DataError(f"{meta_path}, line {line}: subset={subset!r} must be one of "
                            f"{', '.join(SUBSETS)}")
        try:
            instrument_id, song_id = int(row["instrument_id"]), int(row["song_id"])
        except ValueError:
            raise DataError(f"{meta_path}, line {line}: instrument_id={row['instrument_id']!r} and "
                            f"song_id={row['song_id']!r} must be integers") from None
        if not row["uuid4"] or not row["instrument"]:
            raise DataError(f"{meta_path}, line {line}: empty 'uuid4' or 'instrument'")
        if subsets is not None and subset not in subsets:
            continue
        name = audio_name(subset, instrument_id, row["uuid4"])
        if name not in audio:
            missing.append(name)
            continue
        items.append(Item(path=str(audio[name]), label=row["instrument"], group=f"song{song_id}",
                          split=SUBSETS[subset],
                          meta={"instrument_id": str(instrument_id), "song_id": str(song_id), "uuid4": row["uuid4"],
                                "subset": subset}))
    if missing:
        raise missing_files(missing, meta_path, base, len(rows))
    if not items:
        raise DataError(f"{meta_path}: no excerpt of subsets={subsets!r}")
    return Collection(items, source=str(meta_path))
