"""The engine's parallel paths: worker processes that compute the next files' windows, and torchrun.

:class:`WindowSource` gives :func:`~musicnn.inference.engine.classify_files` the windows of
each file with their features, streamed in this process or computed ahead by worker
processes (``jobs > 1``); :func:`classify_distributed` runs
:func:`~musicnn.inference.engine.classify_batch` in the processes of a ``torchrun`` run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

from musicnn.errors import ConfigError
from musicnn.features import FeatureSpec, compute
from musicnn.inference.windows import iter_windows
from musicnn.inference.writers import BatchReport, ResultsFile

__all__ = ["PARALLEL_MAX_SECONDS", "WindowSource", "classify_distributed"]

#: Longest file (seconds) whose windows a worker process computes whole (``jobs > 1``);
#: longer ones are streamed in the main process, in bounded memory.
PARALLEL_MAX_SECONDS = 600.0


class WindowSource:
    """The windows of each file with their features, in input order.

    With one job they are streamed and computed here, window after window (a file of an
    hour needs no more memory than a minute).  With ``jobs > 1`` worker processes
    (:func:`musicnn.store.worker_pool`) compute the windows of the next ``2 * jobs`` files
    ahead (:func:`~musicnn.inference.windows.file_windows`, the same windows and features),
    while the model runs on the current ones; a file longer than
    :data:`PARALLEL_MAX_SECONDS`, or whose header cannot be read, is still streamed here.
    """

    def __init__(self, spec: FeatureSpec, win: int | None, step: int | None, block_seconds: float,
                 paths: Sequence[str | os.PathLike], jobs: int):
        self.spec, self.win, self.step, self.block_seconds = spec, win, step, block_seconds
        self.paths = list(paths)
        self.pool = None
        self.ahead: dict[int, Any] = {}
        self.submitted = 0
        self.depth = 2 * jobs
        if jobs > 1 and len(self.paths) > 1:
            from musicnn.store import worker_pool

            self.pool = worker_pool(min(jobs, len(self.paths)))

    def _in_parallel(self, path: str | os.PathLike) -> bool:
        from musicnn.audio.io import duration
        from musicnn.errors import MusicnnError

        try:
            return duration(path) <= PARALLEL_MAX_SECONDS
        except MusicnnError:
            return False  # streamed here, where the error is reported as usual

    def windows(self, i: int):
        """Yield ``(start, end, features)`` of every window of file ``i``."""
        if self.pool is not None:
            from musicnn.inference.windows import file_windows

            while self.submitted < len(self.paths) and self.submitted <= i + self.depth:
                j, self.submitted = self.submitted, self.submitted + 1
                if self._in_parallel(self.paths[j]):
                    self.ahead[j] = self.pool.apply_async(
                        file_windows, (str(self.paths[j]), self.spec, self.win, self.step, self.block_seconds))
        job = self.ahead.pop(i, None)
        if job is None:
            from musicnn.audio.io import stream

            blocks = stream(self.paths[i], sr=self.spec.sr, block_seconds=self.block_seconds, allow_silent=False)
            for start, end, w in iter_windows(blocks, self.win, self.step):
                yield start, end, compute(w, self.spec)
            return
        import warnings

        windows, caught = job.get()
        for message, category in caught:
            warnings.warn(message, category, stacklevel=2)
        yield from windows

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None


def _part_path(out: Path, rank: int, world: int) -> Path:
    return out.with_name(f"{out.stem}.part{rank}of{world}{out.suffix}")


def classify_distributed(run_here: Callable[..., BatchReport], model, spec: FeatureSpec, paths: list[str], dist: Any, *,
                         out: Any, segments: Any, force: bool, **kwargs: Any) -> BatchReport:
    """:func:`~.engine.classify_batch` in a process of a ``torchrun`` run: each process classifies
    every ``WORLD_SIZE``-th file not yet in ``out`` into a results file of its own
    (``<out stem>.part<rank>of<world><suffix>``, resumable as ``out`` is), then rank 0
    appends every part's rows to ``out`` in input order and removes the parts.  Every
    process returns the whole run's failures and its own predictions.  ``run_here`` is the
    single-process classification (``run_here(model, spec, paths, out=, segments=, force=, **kwargs)``)."""
    from musicnn.training.distributed import all_gather, barrier, share

    if out is None:
        raise ConfigError(f"under torchrun (WORLD_SIZE={dist.world_size}) give out=... (a .csv or .jsonl results "
                          "file): each process writes its share of the rows, merged there at the end")
    out = Path(out)
    classes = [str(c) for c in model.classes_]
    aggregate = kwargs.get("aggregate", "mean")
    foreign = ResultsFile.problem(out, classes, aggregate=aggregate)
    if foreign is not None and not force:
        raise ConfigError(foreign)
    done = set()
    if foreign is None and out.is_file() and out.stat().st_size > 0:  # read only: rank 0 alone writes out
        done = {ResultsFile._key(p) for p in ResultsFile.reader(out, classes, aggregate=aggregate).rows()}
    todo = [p for p in paths if ResultsFile._key(p) not in done]
    mine = share(todo, dist)
    part = _part_path(out, dist.rank, dist.world_size)
    report = run_here(model, spec, mine, out=part, segments=segments, force=force, **kwargs)
    failures = [f for part_failures in all_gather(report.failures) for f in part_failures]
    barrier()  # every part is complete
    if dist.is_main:
        parts = [_part_path(out, r, dist.world_size) for r in range(dist.world_size)]
        with ResultsFile(out, classes, aggregate=aggregate, force=foreign is not None) as results:
            results.merge(parts, paths)
        for p in parts:
            p.unlink(missing_ok=True)
    barrier()
    order = {p: i for i, p in enumerate(paths)}
    failures.sort(key=lambda f: order.get(f[0], len(order)))
    skipped = [p for p in paths if ResultsFile._key(p) in done]
    return BatchReport(report.predictions, failures, skipped, out)
