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
    tqdm.tqdm or a silent stand-in
        Use ``update``, ``set_postfix`` and ``close`` (or ``with``); a silent stand-in
        with the same methods when disabled.
    """
    on_terminal = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    if not (enabled and on_terminal):
        return _Silent()  # tqdm is not even imported
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False)


class _Silent:
    """The do-nothing bar of logs, pipes and tests."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass
