"""GTZAN: 1,000 excerpts of 30 s in ten genres (Tzanetakis and Cook, 2002).

Published layout (``genres.tar.gz``)::

    genres/<genre>/<genre>.<5 digits>.au      (the original archive; copies converted to
                                               .wav, e.g. genres_original/, read the same)

The label is the genre folder.  GTZAN has no official split and no artist labels: each
file is its own group, which makes a random split optimistic (artists and even excerpts
repeat across the set; Sturm 2013).  ``split_file`` takes the published artist-filtered
("fault-filtered") split of Kereliuk, Sturm and Larsen (2015): three lists of file names,
``train_filtered.txt``, ``valid_filtered.txt`` and ``test_filtered.txt``, one
``<genre>/<genre>.<n>.wav`` a line.  With it every listed file carries its split, and the
files the lists leave out (the repeated and distorted ones) are left out of the collection.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from musicnn.data.collection import Collection, Item
from musicnn.data.readers._common import Remote, as_root, listing
from musicnn.errors import DataError

__all__ = ["GENRES", "REMOTES", "SPLIT_FILES", "read_gtzan", "read_split_file"]

NAME = "gtzan"

#: The ten genres, as the archive's folders name them.
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")

#: The published split lists, by the split they give.
SPLIT_FILES = {"train": "train_filtered.txt", "validation": "valid_filtered.txt", "test": "test_filtered.txt"}

_SPLIT_URL = "https://raw.githubusercontent.com/coreyker/dnn-mgr/master/gtzan/{}"

#: The download.  The authors publish no checksum.  The original host
#: (http://opihi.cs.uvic.ca/sound/genres.tar.gz) is gone; the archive is served by the
#: Marsyas organisation on the Hugging Face hub.  mirdata lists md5
#: 5b3d6dddb579ab49814ab86dba69e7c7 for the original archive; whether the mirror is
#: byte-identical is not stated anywhere, so the download is not verified against it.
REMOTES = (
    Remote("audio", "https://huggingface.co/datasets/marsyas/gtzan/resolve/main/data/genres.tar.gz",
           "genres.tar.gz", None, unpacks_to="genres"),
    *(Remote("splits", _SPLIT_URL.format(fname), fname, None) for fname in SPLIT_FILES.values()),
)

_FILE_RE = re.compile(r"^(?P<genre>[a-z]+)\.(?P<number>\d{5})\.(?P<ext>au|wav)$", re.IGNORECASE)


def read_gtzan(root: str | os.PathLike, *, split_file: str | os.PathLike | None = None) -> Collection:
    """Read a copy of GTZAN.

    Parameters
    ----------
    root : path
        The folder holding ``genres/`` (or ``genres_original/``), or that folder itself:
        the one with the ten genre folders.
    split_file : path, optional
        The artist-filtered split: a folder holding ``train_filtered.txt``,
        ``valid_filtered.txt`` and ``test_filtered.txt``, or one of these three files (the
        other two are read beside it).

    Returns
    -------
    Collection
        label = genre; group = the file (GTZAN names no artist); split = the list's split
        where ``split_file`` is given, else None.  ``meta``: ``number`` (the excerpt's
        number in its genre).

    Raises
    ------
    DataError
        A genre folder missing, a file whose name is not ``<genre>.<5 digits>.au|wav`` or
        whose genre is not its folder's, or (with ``split_file``) a list that names a file
        the copy lacks.
    """
    base = as_root(root, NAME)
    genres_dir = _genres_folder(base)
    items = []
    for genre in GENRES:
        folder = genres_dir / genre
        names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
        bad = [folder / n for n in names if (folder / n).is_file() and n.lower().endswith((".au", ".wav"))
               and not _matches(n, genre)]
        if bad:
            raise DataError(f"{listing(bad)}: not named {genre}.<5 digits>.au|wav as GTZAN names the files "
                            f"of {folder} (renamed files, or a file of another genre?)")
        files = [folder / n for n in names if _matches(n, genre)]
        if not files:
            raise DataError(f"{folder}: no audio ({genre}.00000.au ... {genre}.00099.au expected)")
        for f in files:
            number = _FILE_RE.match(f.name).group("number")
            items.append(Item(path=str(f), label=genre, group=f"{genre}.{number}", meta={"number": number}))
    if split_file is not None:
        splits = read_split_file(split_file)
        by_key = {it.group: it for it in items}
        unknown = sorted(k for k in splits if k not in by_key)
        if unknown:
            raise DataError(f"split_file={str(split_file)!r} names {len(unknown)} file(s) that {genres_dir} lacks: "
                            f"{listing(unknown)} (an incomplete copy? a file removed for being unreadable goes out "
                            "of the lists too)")
        items = [Item(path=it.path, label=it.label, group=it.group, split=splits[it.group], meta=it.meta)
                 for it in items if it.group in splits]
    return Collection(items, source=str(genres_dir))


def _matches(name: str, genre: str) -> bool:
    m = _FILE_RE.match(name)
    return bool(m) and m.group("genre").lower() == genre


def _genres_folder(base: Path) -> Path:
    """The folder that holds the ten genre folders: ``base`` or one of its usual sub-folders."""
    candidates = [base, base / "genres", base / "genres_original", base / "Data" / "genres_original",
                  base / "gtzan" / "genres", base / "genres" / "genres"]
    for c in candidates:
        if c.is_dir() and all((c / g).is_dir() for g in GENRES):
            return c
    for c in candidates:
        present = [g for g in GENRES if (c / g).is_dir()]
        if present:
            missing = [g for g in GENRES if g not in present]
            raise DataError(f"{c}: genre folder(s) {', '.join(missing)} missing (GTZAN has {', '.join(GENRES)}); "
                            "an incomplete copy or extraction?")
    raise DataError(f"{base}: no GTZAN genre folders here (expected {base}/genres/<genre>/<genre>.00000.au, "
                    f"genres being {', '.join(GENRES)})")


def read_split_file(split_file: str | os.PathLike) -> dict[str, str]:
    """The artist-filtered split: ``{"<genre>.<n>": split}`` from the three published lists.

    Parameters
    ----------
    split_file : path
        A folder holding ``train_filtered.txt``, ``valid_filtered.txt`` and
        ``test_filtered.txt``, or one of them (the others are read beside it).

    Raises
    ------
    DataError
        A list missing, a line that is not ``<genre>/<genre>.<n>.<ext>`` of a GTZAN genre,
        or a file named in two lists.
    """
    path = Path(split_file).expanduser()
    if not path.exists():
        raise DataError(f"split_file={str(split_file)!r}: no such file or folder (the folder of "
                        f"{', '.join(SPLIT_FILES.values())})")
    folder = path if path.is_dir() else path.parent
    if path.is_file() and path.name not in SPLIT_FILES.values():
        raise DataError(f"split_file={str(split_file)!r}: expected one of {', '.join(SPLIT_FILES.values())} "
                        "or the folder holding them")
    out: dict[str, str] = {}
    for split, fname in SPLIT_FILES.items():
        list_path = folder / fname
        if not list_path.is_file():
            raise DataError(f"{list_path}: missing; split_file needs {', '.join(SPLIT_FILES.values())} side by side")
        try:
            lines = list_path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{list_path}: cannot read the split list ({exc})") from exc
        for n, line in enumerate(lines, start=1):
            entry = line.strip()
            if not entry:
                continue
            m = _FILE_RE.match(entry.replace("\\", "/").rsplit("/", 1)[-1])
            if not m or m.group("genre").lower() not in GENRES:
                raise DataError(f"{list_path}, line {n}: {entry!r} is not a GTZAN file name "
                                "(<genre>/<genre>.<5 digits>.wav)")
            key = f"{m.group('genre').lower()}.{m.group('number')}"
            if key in out and out[key] != split:
                raise DataError(f"{list_path}, line {n}: {entry!r} is already in the {out[key]} list")
            out[key] = split
    if not out:
        raise DataError(f"{folder}: the split lists name no files")
    return out
