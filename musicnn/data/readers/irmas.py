"""IRMAS training data: 6,705 three-second excerpts labelled with their predominant instrument (Bosch et al., 2012).

Published layout (``IRMAS-TrainingData.zip``, Zenodo record 1290750)::

    IRMAS-TrainingData/<code>/[<code>][<genre>]<n>__<k>.wav
    IRMAS-TrainingData/<code>/[<code>][dru|nod][<genre>]<n>__<k>.wav
    IRMAS-TrainingData/<code>/<m>__[<code>][dru|nod][<genre>]<n>__<k>.wav

``<code>`` is one of the eleven instruments (cel, cla, flu, gac, gel, org, pia, sax, tru,
vio, voi), the folder's name and the first tag; ``[dru]`` / ``[nod]``, where present, say
whether drums play; ``<genre>`` is cou_fol, cla, pop_roc, lat_sou or jaz_blu.  The
excerpts were cut from more than 2,000 recordings, and ``__<k>`` numbers the excerpts cut
from one of them: the file name without ``__<k>`` names the source recording.

The label is the predominant instrument's code; the group is that source recording, so
that excerpts of one recording never straddle two splits.  The training data has no
official split (IRMAS's test data is multi-label, a separate download this reader does not
read).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from musicnn.data.collection import Collection, Item
from musicnn.data.readers._common import Remote, as_root, listing
from musicnn.errors import DataError

__all__ = ["GENRES", "INSTRUMENTS", "REMOTES", "read_irmas"]

NAME = "irmas"
FOLDER = "IRMAS-TrainingData"

#: Instrument codes and their names.
INSTRUMENTS = {"cel": "cello", "cla": "clarinet", "flu": "flute", "gac": "acoustic guitar",
               "gel": "electric guitar", "org": "organ", "pia": "piano", "sax": "saxophone",
               "tru": "trumpet", "vio": "violin", "voi": "voice"}
#: Genre codes and their names.
GENRES = {"cou_fol": "country-folk", "cla": "classical", "pop_roc": "pop-rock", "lat_sou": "latin-soul",
          "jaz_blu": "jazz-blues"}

_RECORD = "https://zenodo.org/records/1290750/files/{}?download=1"

#: The download (the training data only), with the md5 checksum the Zenodo record lists.
REMOTES = (
    Remote("training", _RECORD.format("IRMAS-TrainingData.zip"), "IRMAS-TrainingData.zip",
           "md5:4fd9f5ed5a18d8e2687e6360b5f60afe", unpacks_to=FOLDER),
)

_FILE_RE = re.compile(
    r"^(?:(?P<prefix>\d+)__)?\[(?P<code>[a-z]{3})\](?:\[(?P<drums>dru|nod)\])?\[(?P<genre>[a-z_]+)\]"
    r"(?P<number>\d+)__(?P<excerpt>\d+)\.wav$")


def read_irmas(root: str | os.PathLike) -> Collection:
    """Read the training data of a copy of IRMAS.

    Parameters
    ----------
    root : path
        The folder ``IRMAS-TrainingData`` (the one with the eleven instrument folders), or
        the folder holding it.

    Returns
    -------
    Collection
        label = the instrument code (``cel``...); group = the source recording (the file
        name without its ``__<k>``); split = None.  ``meta``: ``instrument`` (its name),
        ``genre``, ``drums`` (``yes``, ``no`` or empty where not annotated), ``excerpt``.

    Raises
    ------
    DataError
        An instrument folder missing, a folder that is not an instrument, or a file whose
        name does not follow the published pattern or whose first tag is not its folder's.
    """
    base = as_root(root, NAME)
    folder = _training_folder(base)
    unknown = sorted(p.name for p in folder.iterdir()
                     if p.is_dir() and p.name not in INSTRUMENTS and not p.name.startswith((".", "__")))
    if unknown:
        raise DataError(f"{folder}: folder(s) {', '.join(unknown)} are not IRMAS instruments "
                        f"({', '.join(INSTRUMENTS)})")
    items = []
    for code, instrument in INSTRUMENTS.items():
        sub = folder / code
        names = sorted(n for n in os.listdir(sub) if n.lower().endswith(".wav") and not n.startswith("."))
        if not names:
            raise DataError(f"{sub}: no WAV files (IRMAS has excerpts of {instrument} here)")
        bad = []
        for name in names:
            m = _FILE_RE.match(name)
            if not m or m.group("code") != code or m.group("genre") not in GENRES:
                bad.append(sub / name)
                continue
            stem = name[: -len(".wav")]
            source = stem[: stem.rindex("__")]
            drums = {"dru": "yes", "nod": "no"}.get(m.group("drums") or "", "")
            items.append(Item(path=str(sub / name), label=code, group=source,
                              meta={"instrument": instrument, "genre": GENRES[m.group("genre")], "drums": drums,
                                    "excerpt": m.group("excerpt")}))
        if bad:
            raise DataError(f"{listing(bad)}: not named [{code}][<genre>]<n>__<k>.wav as IRMAS names the excerpts "
                            f"of {sub} (genre one of {', '.join(GENRES)}, an optional [dru] or [nod] before it)")
    return Collection(items, source=str(folder))


def _training_folder(base: Path) -> Path:
    for c in (base, base / FOLDER, base / FOLDER / FOLDER):
        if c.is_dir() and any((c / code).is_dir() for code in INSTRUMENTS):
            missing = [code for code in INSTRUMENTS if not (c / code).is_dir()]
            if missing:
                raise DataError(f"{c}: instrument folder(s) {', '.join(missing)} missing (IRMAS has "
                                f"{', '.join(INSTRUMENTS)}); an incomplete copy or extraction?")
            return c
    raise DataError(f"{base}: no IRMAS training data here (expected {base}/{FOLDER}/<instrument>/*.wav, "
                    f"instruments {', '.join(INSTRUMENTS)})")
