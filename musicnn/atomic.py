"""Write a file so that readers see the old file or the whole new one, never a part.

Every writer of a whole file in musicnn (model files, checkpoints, cache entries,
manifests, timelines, embeddings, ``.npz`` features, reports, training curves, plots)
goes through :func:`atomic_path` or :func:`atomic_open`: it writes a temporary file in
the target's folder, then renames it into place.  The one exception is the results file
of :func:`musicnn.inference.engine.classify_batch`, an append-only log flushed row by row
so that a crash keeps the rows written; reopening it drops a last row cut short.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator

from musicnn.errors import ConfigError

__all__ = ["atomic_open", "atomic_path"]


@contextmanager
def atomic_path(target: str | os.PathLike, *, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target``.

    The temporary file (``.tmp-<name>.<pid>.<random>.part`` beside ``target``, never
    created here, so it gets the usual permissions) is removed when the block raises.

    Parameters
    ----------
    target : path
        The file to write; its folder is created if needed.
    fsync : bool
        Flush the file to disk before the rename (model files, checkpoints).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tail = f".{os.getpid()}.{uuid.uuid4().hex[:8]}.part"
    name = os.fsencode(target.name)[: 255 - len(".tmp-") - len(tail)]  # a long name still fits the file system
    tmp = target.with_name(f".tmp-{os.fsdecode(name)}{tail}")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_open(target: str | os.PathLike, mode: str = "w", *, fsync: bool = False, **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file to write; once it is closed without error it replaces ``target``.

    Parameters
    ----------
    target : path
        The file to write; its folder is created if needed.
    mode : str
        ``"w"`` (text) or ``"wb"`` (bytes: ``np.savez``, ``savefig(..., format="png")``).
    fsync : bool
        As for :func:`atomic_path`.
    **kwargs
        Passed to :func:`open` (``newline=""``, ``encoding``...).
    """
    if mode not in ("w", "wb"):
        raise ConfigError(f"mode={mode!r}: atomic_open writes a new file ('w' or 'wb')")
    if mode == "w":
        kwargs.setdefault("encoding", "utf-8")
    with atomic_path(target, fsync=fsync) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh
