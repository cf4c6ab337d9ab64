"""Progress bars: tqdm on a terminal, silent in logs, pipes and tests."""

from __future__ import annotations

import sys
from typing import Any


def progress_bar(total: int, desc: str, unit: str, enabled: bool = True) -> Any:
    """A tqdm bar, disabled when ``enabled`` is False or stderr is not a terminal.

    Parameters
    ----------
    total : int
        Steps expected.
    desc, unit : str
        Label and unit shown.
    enabled : bool

    Returns
    -------
    tqdm.tqdm
        Use ``update``, ``set_postfix`` and ``close`` (or ``with``); all are no-ops when disabled.
    """
    from tqdm.auto import tqdm

    on_terminal = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit=unit, disable=not (enabled and on_terminal), leave=False)
