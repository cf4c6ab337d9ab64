"""Threads and random state: how a computation runs, without changing the caller's world.

One thread for small, repeated array work
    Small matrix products repeated thousands of times (a mini-batch against a few hundred
    weights) run faster on one thread than on a pool: the pool's start-up and hand-offs cost
    more than they save, and on a busy machine a thread waiting for a descheduled sibling
    makes each step many times slower (measured 10-50x on a loaded 2-core machine).  Parallel
    feature extraction also runs each worker on one BLAS thread, so that processes do not
    compete with their own threads for the cores.
Local random state
    ``fit`` draws from its own generators, seeded from the estimator's ``seed``: a numpy
    :class:`~numpy.random.Generator` (:func:`rng`) and, for torch, the global generator
    forked for the duration of the fit (:func:`torch_seeded`), so that fitting a model
    neither depends on nor changes the caller's ``random``, ``np.random`` or torch streams.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["single_thread", "rng", "torch_seeded"]


@contextmanager
def single_thread(device: Any = "cpu", *, enabled: bool = True, torch_too: bool = True) -> Iterator[None]:
    """Run the block on one BLAS thread and, if torch is loaded, one torch thread.

    Parameters
    ----------
    device : str or torch.device
        Where the work runs; on anything but the CPU the block runs unchanged.
    enabled : bool
        False runs the block unchanged (for callers that limit threads only for small work).
    torch_too : bool
        Also limit torch's intra-op threads (when torch is already imported).

    The previous settings are restored on exit.
    """
    if not enabled or getattr(device, "type", str(device)) != "cpu":
        yield
        return
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


def rng(seed: int | None) -> np.random.Generator:
    """A numpy generator of its own for ``seed`` (None: fresh entropy); nothing global is touched."""
    return np.random.default_rng(None if seed is None else int(seed))


@contextmanager
def torch_seeded(seed: int, devices: Any = None) -> Iterator[None]:
    """Run the block on torch's global generators seeded with ``seed``, restored afterwards.

    Weight initialisation and dropout draw from torch's global generators; forking them
    here makes a fit reproducible from its ``seed`` while the caller's torch stream
    continues as if the fit had not run.

    Parameters
    ----------
    seed : int
        Seed of the CPU generator and of every CUDA generator forked.
    devices : list of int or None
        CUDA devices whose generators are forked too; None forks every visible one
        (none when CUDA is unavailable).
    """
    import torch

    if devices is None:
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        # not torch.manual_seed: it would also reseed (or queue a reseed of) the CUDA
        # generators left out of ``devices``, which the fork does not restore
        torch.default_generator.manual_seed(int(seed))
        for index in devices:
            torch.cuda.default_generators[index].manual_seed(int(seed))
        yield
