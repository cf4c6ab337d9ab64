"""Write a file so that readers see the old file or the whole new one, never a part.

Every writer of musicnn (model files, checkpoints, cache entries, manifests, timelines)
goes through :func:`atomic_path`: it writes a temporary file in the target's folder,
then renames it into place.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path"]


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
    tmp = target.with_name(f".tmp-{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
