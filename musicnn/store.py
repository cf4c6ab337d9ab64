"""The feature store: an on-disk cache of computed features, and parallel extraction.

An entry is keyed by the audio file's identity (resolved path, size, modification time)
and the :attr:`FeatureSpec.hash <musicnn.features.FeatureSpec.hash>`, and lives at
``<root>/<spec hash>/<key[:2]>/<key>.npy``; the features of an augmented copy
(:class:`musicnn.audio.augment.AudioAugment`) live under ``<root>/<spec hash>/<its tag>/``.  Entries are written to a temporary file in
the same folder and renamed into place, so a run killed at any moment leaves either a
whole entry or none; an unreadable entry counts as a miss and is recomputed.

The root is, in order of precedence: the ``root`` argument (``--cache-dir``), the
``MUSICNN_CACHE_DIR`` environment variable, ``<user cache dir>/musicnn/features``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from musicnn.atomic import atomic_open
from musicnn.checks import describe_error
from musicnn.errors import ConfigError, FeatureError
from musicnn.features import FeatureSpec
from musicnn.progress import progress_bar
from musicnn.runtime import single_thread

__all__ = ["FeatureStore", "ExtractResult", "default_cache_dir", "worker_pool", "CACHE_ENV"]

CACHE_ENV = "MUSICNN_CACHE_DIR"


def default_cache_dir() -> Path:
    """The feature cache's default root (``$MUSICNN_CACHE_DIR`` or the user's cache folder)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("musicnn")) / "features"


@dataclass
class ExtractResult:
    """What :meth:`FeatureStore.extract` returns.

    Attributes
    ----------
    features : list of np.ndarray or None
        One entry per input path, in input order; ``None`` where the file failed.
    failures : list of (str, str)
        ``(path, reason)`` for each file that failed.
    n_cached, n_computed : int
        Files read from the cache, files computed now.
    """

    features: list[np.ndarray | None]
    failures: list[tuple[str, str]] = field(default_factory=list)
    n_cached: int = 0
    n_computed: int = 0

    @property
    def ok(self) -> np.ndarray:
        """Boolean mask of the paths that gave features."""
        return np.array([f is not None for f in self.features], dtype=bool)

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        """The distinct shapes of the features, sorted."""
        return sorted({f.shape for f in self.features if f is not None})

    def stacked(self, source: str = "the files") -> np.ndarray:
        """The features of the paths that gave some, stacked: ``(n_ok, ...)``; ``(0,)`` when none.

        Raises
        ------
        FeatureError
            When the features differ in shape (files of different lengths and no clip
            duration); ``source`` names the files in the message.
        """
        feats = [f for f in self.features if f is not None]
        if not feats:
            return np.zeros((0,), dtype=np.float32)
        shapes = self.shapes
        if len(shapes) > 1:
            raise FeatureError(
                f"features of {source} have different shapes {shapes[:3]}: set a clip duration "
                "(duration=SECONDS) so that every clip gives the same number of frames, or pool the "
                "frames (pooling=STATS) into one vector per file"
            )
        return np.stack(feats)


def _file_key(path: Path) -> str:
    st = path.stat()
    ident = os.fsencode(path.resolve()) + f"|{st.st_size}|{st.st_mtime_ns}".encode()  # any file name, UTF-8 or not
    return hashlib.sha1(ident).hexdigest()


class FeatureStore:
    """A disk cache of features keyed by (file identity, spec hash).

    Parameters
    ----------
    root : str, PathLike or None
        Cache folder; ``None`` uses :func:`default_cache_dir`.
    enabled : bool
        When False nothing is read from or written to disk.
    """

    def __init__(self, root: str | os.PathLike | None = None, *, enabled: bool = True) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()
        self.enabled = enabled

    def check_writable(self) -> None:
        """Create the cache folder; :class:`ConfigError` naming it when that cannot be done (a
        file in the way, no permission, a read-only disk), rather than one failure per file."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if not os.access(self.root, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "Permission denied", str(self.root))
        except OSError as exc:
            raise ConfigError(f"cache_dir={str(self.root)!r}: the feature cache cannot be made there "
                              f"({exc.strerror}); choose another folder, or disable the cache") from None

    def entry_path(self, path: str | os.PathLike, spec: FeatureSpec, variant: Any = None) -> Path:
        """Where the entry of ``path`` under ``spec`` (and ``variant``) lives (the file must exist)."""
        key = _file_key(Path(path))
        folder = self.root / spec.hash if variant is None else self.root / spec.hash / variant.tag
        return folder / key[:2] / f"{key}.npy"

    def get(self, path: str | os.PathLike, spec: FeatureSpec, variant: Any = None) -> np.ndarray | None:
        """The cached features of ``path``, or None (missing or unreadable entry)."""
        if not self.enabled:
            return None
        try:
            entry = self.entry_path(path, spec, variant)
            return np.load(entry, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None

    def put(self, path: str | os.PathLike, spec: FeatureSpec, features: np.ndarray, variant: Any = None) -> None:
        """Store features atomically (temporary file, then rename)."""
        if not self.enabled:
            return
        entry = self.entry_path(path, spec, variant)
        entry.parent.mkdir(parents=True, exist_ok=True)
        spec_file = self.root / spec.hash / "spec.json"
        if not spec_file.exists():
            with atomic_open(spec_file) as f:
                f.write(spec.to_json())
        with atomic_open(entry, "wb") as f:
            np.save(f, np.ascontiguousarray(features), allow_pickle=False)

    def compute(self, path: str | os.PathLike, spec: FeatureSpec, variant: Any = None) -> tuple[np.ndarray, bool]:
        """Features of one file (or of its augmented copy ``variant``) from the cache, or
        computed and cached.

        Returns
        -------
        features : np.ndarray
        cached : bool
            True when read from the cache.
        """
        from musicnn.features import extract

        hit = self.get(path, spec, variant)
        if hit is not None:
            return hit, True
        feats = extract(path, spec, variant)
        self.put(path, spec, feats, variant)
        return feats, False

    def extract(
        self,
        paths: Sequence[str | os.PathLike],
        spec: FeatureSpec,
        *,
        jobs: int = 1,
        progress: bool = True,
        desc: str = "features",
        variant: Any = None,
    ) -> ExtractResult:
        """Features of many files, in parallel, skipping (and reporting) the ones that fail.

        Parameters
        ----------
        paths : sequence of path
        spec : FeatureSpec
        jobs : int
            Worker processes; ``1`` runs in this process, ``0`` or negative uses every core.
        progress : bool
            Show a progress bar (only on a terminal).
        desc : str
            Progress bar label.
        variant : AudioAugment, optional
            Extract the features of this augmented copy of each file instead.

        Returns
        -------
        ExtractResult
        """
        paths = [str(p) for p in paths]
        if self.enabled and paths:
            self.check_writable()
        result = ExtractResult(features=[None] * len(paths))
        bar = progress_bar(len(paths), desc, "file", progress)
        try:
            # cache hits are read here: only misses go to the workers
            misses = []
            for i, path in enumerate(paths):
                hit = self.get(path, spec, variant) if self.enabled and os.path.isfile(path) else None
                if hit is None:
                    misses.append(i)
                else:
                    result.features[i] = hit
                    result.n_cached += 1
                    bar.update(1)
            jobs = _resolve_jobs(jobs, len(misses))
            for i, feats, cached, error in self._run([(i, paths[i]) for i in misses], spec, jobs, variant):
                if error is None:
                    result.features[i] = feats
                    if cached:
                        result.n_cached += 1
                    else:
                        result.n_computed += 1
                else:
                    result.failures.append((paths[i], error))
                bar.update(1)
        finally:
            bar.close()
        result.failures.sort()
        return result

    def _run(self, indexed: list[tuple[int, str]], spec: FeatureSpec, jobs: int, variant: Any = None) -> Iterable[tuple]:
        if not indexed:
            return
        tasks = [(i, p, spec, str(self.root), self.enabled, variant) for i, p in indexed]
        # One BLAS thread, serial or parallel: workers do not compete for the cores with
        # BLAS threads, and every run sums in the same order (bit-identical features).
        if jobs == 1:
            with single_thread(torch_too=False):
                yield from map(_work, tasks)
            return
        chunk = max(1, min(16, len(tasks) // (jobs * 8)))
        with worker_pool(jobs) as pool:
            yield from pool.imap_unordered(_work, tasks, chunksize=chunk)


def worker_pool(jobs: int) -> Any:
    """A pool of ``jobs`` feature workers: forked where the platform allows (else spawned),
    one BLAS thread each, ignoring Ctrl-C (the parent stops them) and ending with the parent.

    Returns
    -------
    multiprocessing.pool.Pool
        Use it as a context manager.
    """
    import multiprocessing as mp

    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    return mp.get_context(method).Pool(jobs, initializer=_init_worker, initargs=(os.getpid(),))


def _init_worker(parent: int | None = None) -> None:
    from threadpoolctl import threadpool_limits

    global _WORKER_LIMIT
    _exit_with_parent(parent)
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the pool, no traceback per worker
    _WORKER_LIMIT = threadpool_limits(limits=1, user_api="blas")  # for the worker's lifetime


def _exit_with_parent(parent: int | None) -> None:
    """End this worker when the process that started it dies (killed with SIGKILL, say).

    Without it, the orphaned workers of a killed extraction go on computing, then print
    ``BrokenPipeError`` tracebacks when they hand back their results.  Linux's
    ``PR_SET_PDEATHSIG`` ends them at once, silently; elsewhere nothing changes.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


_WORKER_LIMIT = None


def _resolve_jobs(jobs: int, n: int) -> int:
    if jobs is None or jobs <= 0:
        jobs = os.cpu_count() or 1
    return max(1, min(int(jobs), max(n, 1)))


def _work(task: tuple) -> tuple[int, np.ndarray | None, bool, str | None]:
    i, path, spec, root, enabled, variant = task
    store = FeatureStore(root, enabled=enabled)
    try:
        feats, cached = store.compute(path, spec, variant)
        return i, feats, cached, None
    except Exception as exc:  # a batch never dies on one bad file
        return i, None, False, describe_error(exc)
