"""Readers of the public data sets, each following the set's published layout and split protocol.

``read_dataset(name, root, **options)`` reads a local copy into a
:class:`~musicnn.data.Collection` (label, group, and the official split where the set has
one); ``download(name, to)`` fetches the published files.  Each reader checks the tree it
is given and names the file or folder that is missing or malformed.

======================  ==========================  ====================  ==========================
name                    label                       group                 split
======================  ==========================  ====================  ==========================
``gtzan``               genre                       file                  none, or ``split_file``
``nsynth``              instrument family           instrument            train / valid / test
``tinysol``             instrument                  file                  ``test_fold`` (0-4)
``medley-solos-db``     instrument                  song                  training / validation / test
``irmas``               predominant instrument      source recording      none
======================  ==========================  ====================  ==========================

The cards (``musicnn datasets card NAME``) give each set's source, licence, layout and
protocol.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any

from musicnn.data.collection import Collection
from musicnn.data.readers import gtzan, irmas, medley_solos_db, nsynth, tinysol
from musicnn.data.readers._common import Remote
from musicnn.errors import ConfigError

__all__ = ["READERS", "REMOTES", "Remote", "download", "get_reader", "read_dataset", "reader_options"]

#: Readers by data set name: ``reader(root, **options) -> Collection``.
READERS: dict[str, Callable[..., Collection]] = {
    "gtzan": gtzan.read_gtzan,
    "nsynth": nsynth.read_nsynth,
    "tinysol": tinysol.read_tinysol,
    "medley-solos-db": medley_solos_db.read_medley_solos_db,
    "irmas": irmas.read_irmas,
}

#: The published files of each data set, for :func:`download`.
REMOTES: dict[str, tuple[Remote, ...]] = {
    "gtzan": gtzan.REMOTES,
    "nsynth": nsynth.REMOTES,
    "tinysol": tinysol.REMOTES,
    "medley-solos-db": medley_solos_db.REMOTES,
    "irmas": irmas.REMOTES,
}


def _canonical(name: str) -> str:
    if not isinstance(name, str):
        raise ConfigError(f"name={name!r} must be a data set name: {', '.join(READERS)}")
    key = name.strip().lower().replace("_", "-")
    if key not in READERS:
        raise ConfigError(f"name={name!r} is not a data set with a reader; choose one of {', '.join(READERS)}")
    return key


def get_reader(name: str) -> Callable[..., Collection]:
    """The reader of data set ``name`` (``medley_solos_db`` and ``Medley-solos-DB`` name ``medley-solos-db``)."""
    return READERS[_canonical(name)]


def reader_options(name: str) -> dict[str, Any]:
    """The options of a reader and their defaults."""
    params = inspect.signature(get_reader(name)).parameters
    return {p.name: p.default for p in params.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}


def read_dataset(name: str, root: str | os.PathLike, **options: Any) -> Collection:
    """Read a local copy of data set ``name`` at ``root``.

    Parameters
    ----------
    name : str
        One of :data:`READERS`.
    root : path
        The copy's root folder (each card says which folder that is).
    **options
        The reader's options (:func:`reader_options`), e.g. ``split_file=`` for gtzan,
        ``test_fold=`` for tinysol, ``subsets=`` for nsynth.

    Returns
    -------
    Collection

    Raises
    ------
    ConfigError
        An unknown data set or option.
    DataError
        The tree is not the data set's published layout: the message names what is
        missing or malformed.
    """
    key = _canonical(name)
    known = reader_options(key)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"the {key} reader has no option {unknown[0]!r}; its options: "
                          f"{', '.join(known) or 'none'}")
    return READERS[key](root, **options)


def download(name: str, to: str | os.PathLike, *, parts: Sequence[str] | None = None, force: bool = False,
             keep_archives: bool = False, progress: bool = True, log: Callable[[str], None] | None = None) -> Any:
    """Download data set ``name``'s published files into ``to`` (see :func:`.downloads.fetch`).

    Returns
    -------
    DownloadReport
        ``root`` (the folder to give :func:`read_dataset`) and one line per file.
    """
    from musicnn.data.readers.downloads import fetch

    key = _canonical(name)
    return fetch(key, REMOTES[key], to, parts=parts, force=force, keep_archives=keep_archives,
                 progress=progress, log=log)
