"""Inference: classify (or embed) audio files of any length with a trained model.

Windows
-------
Each file is streamed (:func:`musicnn.audio.io.stream`) and cut into the analysis windows
of :mod:`.windows`: the model's clip length every ``hop`` seconds, the last window
aligned to the end of the file.

Batches
-------
Each window's features go into a batch of ``batch_size`` windows (64 by default) that
may hold windows of several files; the model's ``predict_proba`` (any fitted estimator
with ``predict_proba`` and ``classes_``: numpy or torch families alike) runs once per
batch.  Only the window probabilities are kept, ``(n_windows, n_classes)`` per file.

Aggregation
-----------
The window probabilities of a file give its label (:func:`aggregate_windows`):

``mean``  (default) the mean probability of each class over the windows; sums to 1.
``max``   the largest probability each class reaches in any window, *not* renormalised:
          "how sure is the model that this class occurs somewhere"; the scores need not
          sum to 1.
``vote``  each window votes for its most probable class; a class scores its share of the
          votes (sums to 1); ties are broken by the mean probability.

Results
-------
:func:`classify_batch` writes one row per file to a results file (``.csv`` or
``.jsonl``) as each file completes, skips the files a results file already holds (a rerun
after a crash resumes where it stopped), and writes each file's window timeline
(``segments``); the writers are in :mod:`.writers`.  A file that cannot be read or
classified is reported and skipped; it never stops the batch.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from musicnn.checks import check_choice, check_int, describe_error
from musicnn.choices import AGGREGATES, BATCH_SIZE
from musicnn.errors import ConfigError
from musicnn.features import FeatureSpec
from musicnn.inference.parallel import WindowSource, classify_distributed
from musicnn.inference.windows import window_features, window_geometry
from musicnn.inference.writers import BatchReport, ResultsFile, segment_paths, write_segments

__all__ = [
    "AGGREGATES",
    "BATCH_SIZE",
    "BLOCK_SECONDS",
    "Prediction",
    "aggregate_windows",
    "classify_batch",
    "classify_files",
    "classify_signal",
    "embed_files",
    "embedding_function",
]

#: Seconds of a file decoded per block when streaming, by default.
BLOCK_SECONDS = 10.0


@dataclass
class Prediction:
    """The classification of one file.

    Attributes
    ----------
    path : str
    label : str
        The best class under ``aggregate``.
    top : list of (str, float)
        The ``top_k`` best classes with their scores, best first.  The score is the mean
        probability (``mean``), the largest window probability (``max``) or the share of
        window votes (``vote``).
    n_windows : int
    seconds : float
        Duration of the audio analysed (at the model's sample rate).
    aggregate : str
        How the windows were combined: ``mean``, ``max`` or ``vote``.
    classes : tuple of str
        The model's classes, in the order of ``scores`` and of the columns of ``windows``.
    scores : np.ndarray [shape=(n_classes,)] or None
        Every class's score under ``aggregate``.
    windows : np.ndarray [shape=(n_windows, n_classes)] or None
        The probabilities of each window (None when not kept).
    starts, ends : np.ndarray [shape=(n_windows,)] or None
        Start and end of each window in seconds; the end of a window that runs past the
        end of the file (zero-padded) is the end of the file.
    """

    path: str
    label: str
    top: list[tuple[str, float]] = field(default_factory=list)
    n_windows: int = 0
    seconds: float = 0.0
    aggregate: str = "mean"
    classes: tuple[str, ...] = ()
    scores: np.ndarray | None = None
    windows: np.ndarray | None = None
    starts: np.ndarray | None = None
    ends: np.ndarray | None = None

    @property
    def score(self) -> float:
        """The score of the best class."""
        return self.top[0][1] if self.top else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """The file-level result (no windows) as JSON-able values.

        ``top`` entries keep the key ``probability`` for the score under every aggregate
        (the mean probability, the peak window probability or the vote share).
        """
        return {
            "path": self.path,
            "label": self.label,
            "top": [{"label": lab, "probability": round(p, 6)} for lab, p in self.top],
            "n_windows": self.n_windows,
            "seconds": round(self.seconds, 3),
            "aggregate": self.aggregate,
        }


# -- aggregation --------------------------------------------------------------------------

def aggregate_windows(proba: np.ndarray, method: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """A file's class scores from its window probabilities.

    Parameters
    ----------
    proba : np.ndarray [shape=(n_windows, n_classes)]
    method : str
        ``mean`` (mean probability), ``max`` (each class's largest window probability, not
        renormalised) or ``vote`` (share of the windows whose most probable class it is;
        ties broken by the mean probability, then by class order).

    Returns
    -------
    scores : np.ndarray [shape=(n_classes,)], float64
    order : np.ndarray [shape=(n_classes,)], int
        Class indices, best first.
    """
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] == 0 or proba.shape[1] == 0:
        raise ConfigError(f"window probabilities must be (n_windows, n_classes) with n_windows >= 1, got {proba.shape}")
    check_choice("aggregate", method, AGGREGATES)
    if method in ("mean", "max"):
        scores = proba.mean(axis=0) if method == "mean" else proba.max(axis=0)
        return scores, np.argsort(-scores, kind="stable")
    votes = np.bincount(proba.argmax(axis=1), minlength=proba.shape[1])
    scores = votes / proba.shape[0]
    mean = proba.mean(axis=0)
    order = np.lexsort((np.arange(len(scores)), -mean, -votes))  # last key first: votes, then mean
    return scores, order


def classify_signal(model, spec: FeatureSpec, y: np.ndarray, *, overlap: float = 0.5, hop: float | None = None,
                    method: str = "mean") -> tuple[np.ndarray, int]:
    """Class scores of a whole mono signal at ``spec.sr`` over its windows (no streaming).

    Returns
    -------
    scores : np.ndarray [shape=(n_classes,)]
        Mean probabilities by default (see :func:`aggregate_windows`).
    n_windows : int
    """
    feats = window_features(spec, y, overlap=overlap, hop=hop)
    proba = np.asarray(model.predict_proba(feats), dtype=np.float64)
    return aggregate_windows(proba, method)[0], len(feats)


# -- the streaming, batching engine ---------------------------------------------------------

class _File:
    """One file going through the engine."""

    __slots__ = ("path", "starts", "ends", "rows", "n_added", "n_done", "n_samples", "closed", "error")

    def __init__(self, path: str):
        self.path = path
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.rows: list[np.ndarray] = []
        self.n_added = 0
        self.n_done = 0
        self.n_samples = 0
        self.closed = False  # every window is in a batch
        self.error: str | None = None

    @property
    def complete(self) -> bool:
        return self.error is not None or (self.closed and self.n_done == self.n_added)


class _CallbackError(Exception):
    """Wraps an error of a result callback so that no file takes the blame for it."""




def _run_windows(
    fn: Callable[[np.ndarray], Any],
    spec: FeatureSpec,
    paths: Sequence[str | os.PathLike],
    *,
    overlap: float,
    hop: float | None,
    batch_size: int,
    block_seconds: float,
    on_done: Callable[[_File, np.ndarray], None],
    on_fail: Callable[[str, str], None],
    progress_desc: str,
    progress: bool,
    jobs: int = 1,
) -> None:
    """Stream every file, batch its windows' features across files, run ``fn`` per batch.

    ``on_done(file, rows)`` is called with a file's ``(n_windows, ...)`` outputs as soon as
    its last window has been through ``fn``; ``on_fail(path, reason)`` for a file that
    failed; both in input order.  With ``jobs > 1`` the windows' features of the next files
    are computed ahead by worker processes while ``fn`` runs here (:class:`~.parallel.WindowSource`).
    """
    from musicnn.progress import progress_bar

    check_int("batch_size", batch_size, minimum=1)
    check_int("jobs", jobs, minimum=1)
    win, step = window_geometry(spec, overlap=overlap, hop=hop)
    feats: list[np.ndarray] = []
    owners: list[_File] = []
    pending: deque[_File] = deque()
    bar = progress_bar(len(paths), progress_desc, "file", progress)

    def fail(f: _File, reason: str) -> None:
        if f.error is None:
            f.error = reason
            f.rows = []

    def outputs(X: np.ndarray) -> np.ndarray:
        out = np.asarray(fn(X))
        if out.ndim == 0 or out.shape[0] != len(X):
            raise ConfigError(f"the model returned {out.shape[0] if out.ndim else 'a scalar'} rows for {len(X)} windows")
        return out

    def flush() -> None:
        if not feats:
            return
        X = np.stack(feats)
        batch_owners = list(owners)
        feats.clear()
        owners.clear()
        try:
            out = outputs(X)
        except Exception as exc:  # isolate the file(s) at fault: run each file's windows alone
            out = None
            first_reason = describe_error(exc)
        if out is not None:
            start = 0
            for i in range(1, len(batch_owners) + 1):  # one slice per run of windows of one file
                if i == len(batch_owners) or batch_owners[i] is not batch_owners[start]:
                    f = batch_owners[start]
                    if f.error is None:
                        f.rows.append(out[start:i])
                    f.n_done += i - start
                    start = i
            finish_ready()
            return
        idx: dict[int, list[int]] = {}
        files: dict[int, _File] = {}
        for i, f in enumerate(batch_owners):
            idx.setdefault(id(f), []).append(i)
            files[id(f)] = f
        for key, rows in idx.items():
            f = files[key]
            f.n_done += len(rows)
            if f.error is not None:
                continue
            if len(files) == 1:
                fail(f, first_reason)
                break
            try:
                f.rows.append(outputs(X[rows]))
            except Exception as exc:
                fail(f, describe_error(exc))
        finish_ready()

    def finish_ready() -> None:
        while pending and pending[0].complete:
            f = pending.popleft()
            if f.error is not None:
                on_fail(f.path, f.error)
            else:
                rows = np.concatenate(f.rows, axis=0)
                f.rows = []
                try:
                    on_done(f, rows)
                except Exception as exc:  # e.g. the results file cannot be written: stop, not one file's fault
                    raise _CallbackError() from exc
            bar.update(1)

    source = WindowSource(spec, win, step, block_seconds, paths, jobs)
    threads = contextlib.ExitStack()
    if source.pool is not None:  # the workers have the other cores: the model runs on one thread
        from musicnn.runtime import single_thread

        threads.enter_context(single_thread())
    try:
        for i, path in enumerate(paths):
            f = _File(str(path))
            pending.append(f)
            try:
                for start, end, x in source.windows(i):
                    if feats and x.shape != feats[0].shape:  # files of their own length (no duration)
                        flush()
                    if f.error is not None:  # the model failed on this file's windows
                        break
                    feats.append(x)
                    owners.append(f)
                    f.starts.append(start)
                    f.ends.append(end)
                    f.n_added += 1
                    f.n_samples = end
                    if len(feats) >= batch_size:
                        flush()
                f.closed = True
            except _CallbackError:
                raise
            except Exception as exc:  # a batch never dies on one bad file
                fail(f, describe_error(exc))
            if f.error is not None and owners:
                keep = [i for i, o in enumerate(owners) if o is not f]
                feats[:] = [feats[i] for i in keep]
                owners[:] = [owners[i] for i in keep]
            finish_ready()
        flush()
        finish_ready()
    except _CallbackError as exc:
        raise exc.__cause__ from None
    finally:
        threads.close()
        source.close()
        bar.close()


def classify_files(
    model,
    spec: FeatureSpec,
    paths: Sequence[str | os.PathLike],
    *,
    top_k: int = 3,
    overlap: float = 0.5,
    hop: float | None = None,
    aggregate: str = "mean",
    batch_size: int = BATCH_SIZE,
    block_seconds: float = BLOCK_SECONDS,
    keep_windows: bool = True,
    on_result: Callable[[Prediction], None] | None = None,
    progress: bool = True,
    jobs: int = 1,
) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Classify files of any length, streamed, their windows batched across files.

    A file that fails (missing, corrupt, empty, silent, or the model fails on it) is
    reported and skipped.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba`` and ``classes_``
    spec : FeatureSpec
        The spec the model was trained with; windows are ``spec.duration`` long (a spec
        without duration: one window per file, read whole).
    paths : sequence of path
    top_k : int
        Labels reported per file.
    overlap : float
        Window overlap in [0, 1) (when ``hop`` is None).
    hop : float or None
        Seconds between window starts; overrides ``overlap``.
    aggregate : str
        ``mean``, ``max`` or ``vote`` (see :func:`aggregate_windows`).
    batch_size : int
        Windows per ``predict_proba`` call; a batch holds windows of several files.
    block_seconds : float
        Seconds of audio decoded per block.
    keep_windows : bool
        Keep each file's window probabilities and times in the returned predictions
        (``on_result`` always gets them).
    on_result : callable or None
        Called with each :class:`Prediction` as soon as its file is done, in input order.
    progress : bool
    jobs : int
        Worker processes computing the windows' features of the next files while the model
        runs on the current ones (1: all in this process).  The results are the same.

    Returns
    -------
    predictions : list of Prediction
        In input order.
    failures : list of (str, str)
        ``(path, reason)`` for each file that could not be classified.
    """
    check_int("top_k", top_k, minimum=1)
    check_choice("aggregate", aggregate, AGGREGATES)
    classes = tuple(str(c) for c in model.classes_)
    k = min(int(top_k), len(classes))
    method = aggregate
    predictions: list[Prediction] = []
    failures: list[tuple[str, str]] = []

    def proba(X: np.ndarray) -> np.ndarray:
        p = np.asarray(model.predict_proba(X), dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != len(classes):
            raise ConfigError(f"predict_proba returned shape {p.shape}, expected (n, {len(classes)})")
        return p

    def done(f: _File, rows: np.ndarray) -> None:
        scores, order = aggregate_windows(rows, method)
        top = [(classes[i], float(scores[i])) for i in order[:k]]
        pred = Prediction(
            path=f.path, label=top[0][0], top=top, n_windows=len(rows), seconds=f.n_samples / spec.sr,
            aggregate=method, classes=classes, scores=scores, windows=rows.astype(np.float32),
            starts=np.asarray(f.starts, dtype=np.float64) / spec.sr, ends=np.asarray(f.ends, dtype=np.float64) / spec.sr,
        )
        if on_result is not None:
            on_result(pred)
        if not keep_windows:
            pred.windows = pred.starts = pred.ends = None
        predictions.append(pred)

    _run_windows(proba, spec, paths, overlap=overlap, hop=hop, batch_size=batch_size, block_seconds=block_seconds,
                 on_done=done, on_fail=lambda p, r: failures.append((p, r)), progress_desc="classify",
                 progress=progress, jobs=jobs)
    return predictions, failures


def classify_batch(
    model,
    spec: FeatureSpec,
    paths: Sequence[str | os.PathLike],
    *,
    out: str | os.PathLike | None = None,
    segments: str | os.PathLike | None = None,
    force: bool = False,
    **kwargs: Any,
) -> BatchReport:
    """Classify many files, writing results as they complete; resume an interrupted run.

    Parameters
    ----------
    model, spec, paths
        As for :func:`classify_files`.
    out : path or None
        Results file (``.csv`` or ``.jsonl``, see :class:`ResultsFile`): one row per file,
        flushed as each file completes.  Files it already holds are skipped, so rerunning
        the same command after a crash finishes the job.
    segments : path or None
        Where each file's window timeline goes (see :func:`segment_paths`,
        :func:`write_segments`).
    force : bool
        Replace an existing results file that is not this model's (instead of refusing
        it) and existing timelines.  Without it, a results file of this model is resumed,
        and the timelines of the files still to classify may be there only as leftovers
        of the run it resumes.
    **kwargs
        Passed to :func:`classify_files` (``top_k``, ``overlap``, ``hop``, ``aggregate``,
        ``batch_size``, ``block_seconds``, ``progress``, ``jobs``).

    Returns
    -------
    BatchReport

    Notes
    -----
    Started by ``torchrun`` (``WORLD_SIZE > 1``), every process classifies its share of
    the files (every ``WORLD_SIZE``-th one not yet in ``out``, which is then required) into
    a results file of its own, and rank 0 merges them into ``out`` in input order
    (:func:`~.parallel.classify_distributed`).
    """
    from musicnn.training.distributed import context

    paths = [str(p) for p in paths]
    dist = context("cpu")
    if dist.enabled:
        return classify_distributed(_classify_here, model, spec, paths, dist, out=out, segments=segments, force=force,
                                    **kwargs)
    return _classify_here(model, spec, paths, out=out, segments=segments, force=force, **kwargs)


def _classify_here(model, spec: FeatureSpec, paths: list[str], *, out: Any, segments: Any, force: bool,
                   **kwargs: Any) -> BatchReport:
    """:func:`classify_batch` in this process."""
    seg_for = dict(zip(paths, segment_paths(segments, paths))) if segments is not None else {}
    classes = [str(c) for c in model.classes_]
    aggregate = kwargs.get("aggregate", "mean")
    foreign = ResultsFile.problem(out, classes, aggregate=aggregate) if out is not None else None
    if foreign is not None and not force:  # refused before any work, and left as it is
        raise ConfigError(foreign)
    resuming = out is not None and foreign is None and Path(out).is_file() and Path(out).stat().st_size > 0
    if seg_for and not force and not resuming:  # a resumed run may have left the timelines of its last files
        there = [target for target in seg_for.values() if target.exists()]
        if there:
            raise ConfigError(f"{there[0]} already exists" + (f" ({len(there)} timelines in all)" if len(there) > 1 else "")
                              + "; pass force=True to replace it, or choose another segments path")
    results = ResultsFile(out, classes, aggregate=aggregate, force=foreign is not None) if out is not None else None
    try:
        skipped = [p for p in paths if results is not None and results.has(p)]
        todo = [p for p in paths if results is None or not results.has(p)]

        def on_result(pred: Prediction) -> None:
            if pred.path in seg_for:
                write_segments(pred, seg_for[pred.path])
            if results is not None:
                results.write(pred)

        kwargs.setdefault("keep_windows", False)
        preds, failures = classify_files(model, spec, todo, on_result=on_result, **kwargs)
    finally:
        if results is not None:
            results.close()
    return BatchReport(preds, failures, skipped, Path(out) if out is not None else None)


# -- embeddings ----------------------------------------------------------------------------------

def embedding_function(model):
    """The method that maps features to a model's embedding: ``embed`` (the penultimate
    layer of the networks, the Gaussian activations of the RBF network), else
    ``transform`` (the learned features of the feature learners).

    Raises
    ------
    ConfigError
        For a model with neither.
    """
    for name in ("embed", "transform"):
        fn = getattr(model, name, None)
        if callable(fn):
            return fn
    raise ConfigError(f"{type(model).__name__} has no embedding (neither embed nor transform)")


def embed_files(
    model,
    spec: FeatureSpec,
    paths: Sequence[str | os.PathLike],
    *,
    overlap: float = 0.5,
    hop: float | None = None,
    batch_size: int = BATCH_SIZE,
    block_seconds: float = BLOCK_SECONDS,
    progress: bool = True,
    jobs: int = 1,
) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
    """One embedding per file: the mean over its windows of the model's embedding.

    Files are streamed and their windows batched across files, as in :func:`classify_files`
    (``jobs`` as there).

    Returns
    -------
    paths : list of str
        The files embedded, in input order.
    embeddings : np.ndarray [shape=(n_files, dim)], float32
    failures : list of (str, str)
        ``(path, reason)`` for each file skipped.
    """
    fn = embedding_function(model)
    done: list[str] = []
    rows: list[np.ndarray] = []
    failures: list[tuple[str, str]] = []

    def emb(X: np.ndarray) -> np.ndarray:
        e = np.asarray(fn(X), dtype=np.float32)
        return e.reshape(len(e), -1)

    def on_done(f: _File, out: np.ndarray) -> None:
        rows.append(out.mean(axis=0))
        done.append(f.path)

    _run_windows(emb, spec, paths, overlap=overlap, hop=hop, batch_size=batch_size, block_seconds=block_seconds,
                 on_done=on_done, on_fail=lambda p, r: failures.append((p, r)), progress_desc="embed",
                 progress=progress, jobs=jobs)
    dim = rows[0].shape[0] if rows else 0
    return done, (np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)), failures
