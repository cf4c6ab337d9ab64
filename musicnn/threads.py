"""One thread for small, repeated array work.

Small matrix products repeated thousands of times (a mini-batch against a few hundred
weights) run faster on one thread than on a pool: the pool's start-up and hand-offs cost
more than they save, and on a busy machine a thread waiting for a descheduled sibling
makes each step many times slower (measured 10-50x on a loaded 2-core machine).  Parallel
feature extraction also runs each worker on one BLAS thread, so that processes do not
compete with their own threads for the cores.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["single_thread"]


@contextmanager
def single_thread(*, torch_too: bool = True) -> Iterator[None]:
    """Run the block on one BLAS thread and, if torch is loaded, one torch thread.

    The previous settings are restored on exit.
    """
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch") if torch_too else None
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None and before != 1:
        torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        if torch is not None and torch.get_num_threads() != before:
            torch.set_num_threads(before)
