"""Multi-process data-parallel training, as started by ``torchrun``.

``torchrun --nproc_per_node N -m musicnn train ...`` starts N copies of the command with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set.
:func:`context` reads them and joins the process group (gloo on CPU, NCCL on GPUs).
Every process holds the whole data set; each global mini-batch is cut into one slice
per process and DistributedDataParallel averages the gradients, so that a step equals
the single-process step on the whole batch (see :func:`musicnn.training.loop.train_classifier`).
Only the main process (rank 0) writes files and shows progress.

Without those variables (a plain run) :func:`context` says ``world_size == 1`` and
nothing is initialised.
"""

from __future__ import annotations

import atexit

import os
from dataclasses import dataclass

from musicnn.errors import ConfigError

__all__ = ["DistContext", "all_gather", "barrier", "context", "share"]


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in a distributed run.

    Attributes
    ----------
    rank : int
        Index of this process, 0 to ``world_size - 1``.
    world_size : int
        Number of processes (1 when not distributed).
    local_rank : int
        Index on this machine (selects the GPU).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        """True in a run of more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True in the process that writes files and reports (rank 0)."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} must be an integer (set by torchrun)") from None


def context(device_type: str = "cpu") -> DistContext:
    """The distributed context of this process, joining the process group on first use.

    Parameters
    ----------
    device_type : str
        ``"cpu"`` (gloo backend) or ``"cuda"`` (NCCL).

    Returns
    -------
    DistContext
    """
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return DistContext()
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    import torch.distributed as dist

    if not dist.is_available():  # pragma: no cover - all official wheels have it
        raise ConfigError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        atexit.register(_leave_process_group)
    return DistContext(rank=rank, world_size=world, local_rank=local)


def _leave_process_group() -> None:
    """Destroy the process group this process joined, before the interpreter exits.

    Left to interpreter shutdown, gloo's threads can be torn down while still joinable,
    and the process then aborts ("terminate called without an active exception") after
    its work is done.
    """
    import torch.distributed as dist

    if dist.is_initialized():
        try:  # a rank that leaves while another still talks to it can abort gloo's threads
            dist.barrier()
        except Exception:  # noqa: BLE001 - another rank is gone; torchrun ends the run anyway
            pass
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every process of a distributed run (nothing in a plain run)."""
    if _env_int("WORLD_SIZE", 1) > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()


def all_gather(value: object) -> list:
    """Every process's ``value`` (picklable), in rank order: ``[value]`` in a plain run."""
    if _env_int("WORLD_SIZE", 1) > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            out: list = [None] * dist.get_world_size()
            dist.all_gather_object(out, value)
            return out
    return [value]


def share(items: list, ctx: DistContext) -> list:
    """This process's share of ``items``: every ``world_size``-th one from its rank on (all in a plain run)."""
    return list(items[ctx.rank::ctx.world_size])
