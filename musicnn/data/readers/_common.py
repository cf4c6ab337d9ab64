"""What the data set readers share: finding the root, reading metadata, naming what is wrong.

Every check raises :class:`~musicnn.errors.DataError` with the path at fault and what the
published layout expects there, so that a user whose copy is incomplete or rearranged
knows which file to fetch or which folder to point at.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from musicnn.errors import DataError

__all__ = [
    "MAX_LISTED",
    "Remote",
    "as_root",
    "audio_index",
    "find_child",
    "listing",
    "missing_files",
    "read_csv_rows",
    "read_json",
]

#: At most this many offending paths are named in one message (then a count of the rest).
MAX_LISTED = 5


@dataclass(frozen=True)
class Remote:
    """One file of a data set's published download.

    Parameters
    ----------
    part : str
        What it holds (``"audio"``, ``"metadata"``, ``"train"``...); the download chooses by part.
    url : str
        Where the publisher serves it.
    fname : str
        The file name it is saved under.
    known_hash : str or None
        ``"md5:..."`` or ``"sha256:..."`` as the publisher lists it; None where no checksum is
        published (the file is then not verified and its SHA-256 is shown).
    unpacks_to : str or None
        For an archive, the file or folder (beside it) that extracting it gives; None for a
        file used as it is.
    """

    part: str
    url: str
    fname: str
    known_hash: str | None
    unpacks_to: str | None = None


def as_root(root: str | os.PathLike, name: str) -> Path:
    """``root`` as an existing folder, or a DataError naming it and data set ``name``."""
    path = Path(root).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such folder (the root of a copy of {name}; "
                        f"`musicnn datasets card {name}` shows its layout)")
    if not path.is_dir():
        raise DataError(f"{path}: not a folder; give the root folder of a copy of {name}")
    return path


def find_child(root: Path, names: Sequence[str], *, depth: int = 2, want_dir: bool | None = None) -> Path | None:
    """The first of ``names`` found in ``root`` or up to ``depth`` folders below it (breadth first)."""
    level = [root]
    for _ in range(depth + 1):
        for folder in level:
            for name in names:
                candidate = folder / name
                if candidate.exists() and (want_dir is None or candidate.is_dir() == want_dir):
                    return candidate
        level = [p for folder in level for p in _subfolders(folder)]
    return None


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not _hidden(p.name))
    except OSError:
        return []


def _hidden(name: str) -> bool:
    return name.startswith((".", "__MACOSX"))


def read_csv_rows(path: Path, required: Sequence[str], what: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV file with their line numbers, checking that its header has ``required``.

    Parameters
    ----------
    path : Path
    required : sequence of str
        Columns that must be in the header.
    what : str
        What the file is (``"TinySOL's metadata"``), for the messages.

    Returns
    -------
    list of (int, dict)
        ``(line number, row)``, the header being line 1; cells stripped of spaces.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise DataError(
                    f"{path}: {what} lacks the column(s) {', '.join(repr(c) for c in missing)}; its header has "
                    f"{', '.join(repr(c) for c in header) or 'nothing'} (is this the published file?)")
            reader.fieldnames = header
            rows = []
            for row in reader:
                if None in row:  # more cells than the header names
                    raise DataError(f"{path}, line {reader.line_num}: {len(header) + len(row[None])} cells "
                                    f"where the header names {len(header)}")
                rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: {what} is not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise DataError(f"{path}: {what} is not a readable CSV file ({exc})") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what} ({exc.strerror})") from exc
    if not rows:
        raise DataError(f"{path}: {what} has a header but no rows")
    return rows


def read_json(path: Path, what: str) -> Any:
    """The parsed content of a JSON file, or a DataError naming the file and the line at fault."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}, line {exc.lineno}: {what} is not valid JSON ({exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: {what} is not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what} ({exc.strerror})") from exc


def audio_index(folder: Path, suffixes: Iterable[str] = (".wav",), *, recursive: bool = True) -> dict[str, Path]:
    """Audio files under ``folder`` by file name (the first found where a name repeats)."""
    suffixes = tuple(s.lower() for s in suffixes)
    found: dict[str, Path] = {}
    walker = os.walk(folder) if recursive else [(str(folder), [], os.listdir(folder))]
    for dirpath, dirnames, filenames in walker:
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
        for name in sorted(filenames):
            if name.lower().endswith(suffixes) and not name.startswith("."):
                found.setdefault(name, Path(dirpath) / name)
    return found


def listing(paths: Sequence[Any]) -> str:
    """The first :data:`MAX_LISTED` of ``paths``, then how many more."""
    shown = ", ".join(str(p) for p in paths[:MAX_LISTED])
    more = len(paths) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def missing_files(missing: Sequence[Any], source: Path, where: Path, total: int) -> DataError:
    """The error for audio files that ``source`` lists but ``where`` does not hold."""
    return DataError(f"{source} lists {len(missing)} of its {total} audio files that are not under {where}: "
                     f"{listing(missing)} (an incomplete download or extraction? fetch the audio again)")
