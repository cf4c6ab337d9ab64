"""Window geometry: where the analysis windows of a signal start, and how a stream is cut.

A file is cut into windows of the model's clip length (``FeatureSpec.duration``) every
``hop`` seconds (by default half a window: ``overlap=0.5``); the last window is aligned
to the end of the file so that no audio is left out, and a signal shorter than one window
gives one window, zero-padded by :func:`musicnn.features.compute`.  :func:`iter_windows`
cuts a stream of blocks into the same windows holding one window plus one block, so a
file of an hour needs no more memory than a file of a minute.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from musicnn.checks import check_float
from musicnn.errors import ConfigError
from musicnn.features import FeatureSpec, compute

__all__ = ["file_windows", "iter_windows", "window_features", "window_geometry", "window_starts"]


def _check_samples(win: int, hop: int) -> None:
    if win <= 0 or hop <= 0:
        raise ConfigError(f"window ({win}) and hop ({hop}) must be > 0 samples")


def window_starts(n: int, win: int, hop: int) -> list[int]:
    """Start samples of the analysis windows over ``n`` samples.

    Windows of ``win`` samples every ``hop`` samples; a final window ends exactly at ``n``
    when the regular ones leave a tail; ``[0]`` when ``n <= win``.
    """
    _check_samples(win, hop)
    if n <= win:
        return [0]
    starts = list(range(0, n - win + 1, hop))
    if starts[-1] + win < n:
        starts.append(n - win)
    return starts


def window_geometry(spec: FeatureSpec, *, overlap: float = 0.5, hop: float | None = None,
                    n: int | None = None) -> tuple[int | None, int | None]:
    """Window and hop in samples at ``spec.sr``.

    Parameters
    ----------
    spec : FeatureSpec
        The window is ``spec.duration`` seconds.
    overlap : float
        Overlap of consecutive windows in [0, 1), used when ``hop`` is None.
    hop : float or None
        Seconds between window starts (> 0); overrides ``overlap``.  A hop longer than the
        window skips audio between windows.
    n : int or None
        Samples of the signal: the window of a spec without ``duration`` (one window per file).

    Returns
    -------
    win, hop : int or None
        Samples; both None for a spec without ``duration`` when ``n`` is not given.
    """
    if hop is None:
        check_float("overlap", overlap, low=0.0, high=1.0)
    else:
        check_float("hop", hop, low=0.0, low_inclusive=False)
    if spec.duration is None:
        if n is None:
            return None, None
        win = max(int(n), 1)
    else:
        win = max(int(round(spec.duration * spec.sr)), 1)
    step = int(round(hop * spec.sr)) if hop is not None else int(round(win * (1 - overlap)))
    return win, max(1, step)


def window_features(spec: FeatureSpec, y: np.ndarray, *, overlap: float = 0.5, hop: float | None = None) -> np.ndarray:
    """Features of each analysis window of a whole mono signal at ``spec.sr``, stacked.

    Returns
    -------
    np.ndarray [shape=(n_windows, ...)]
    """
    win, step = window_geometry(spec, overlap=overlap, hop=hop, n=len(y))
    return np.stack([compute(y[s : s + win], spec) for s in window_starts(len(y), win, step)])


def iter_windows(blocks: Iterable[np.ndarray], win: int | None, hop: int | None) -> Iterator[tuple[int, int, np.ndarray]]:
    """Cut a stream of sample blocks into the windows of :func:`window_starts`.

    Only one window plus one block is held at a time: the windows are emitted as soon as
    their samples have arrived, and the samples no later window needs are dropped.

    Parameters
    ----------
    blocks : iterable of np.ndarray [shape=(m,)]
        Consecutive blocks of a mono signal.
    win, hop : int or None
        Window and hop in samples; ``win=None``: one window of the whole signal (held whole).

    Yields
    ------
    start, end : int
        The window's first sample and the end of the audio it holds (``<= start + win``).
    window : np.ndarray [shape=(end - start,)]
        A view valid until the next window is asked for (copy it to keep it); shorter than
        ``win`` only for a signal shorter than one window.
    """
    if win is None:
        parts = [np.asarray(b, dtype=np.float32) for b in blocks]
        y = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        if len(y):
            yield 0, len(y), y
        return
    _check_samples(win, hop)
    buf = np.zeros(0, dtype=np.float32)
    origin = 0  # sample index of buf[0]
    total = 0  # samples received
    nxt = 0  # start of the next regular window
    last = None  # start of the last window emitted
    for block in blocks:
        block = np.asarray(block, dtype=np.float32)
        if not len(block):
            continue
        buf = np.concatenate([buf, block]) if len(buf) else block.copy()
        total += len(block)
        while nxt + win <= total:
            a = nxt - origin
            yield nxt, nxt + win, buf[a : a + win]
            last = nxt
            nxt += hop
        # keep what the next regular window and a final end-aligned window may need
        keep = max(0, min(nxt, total - win))
        if keep > origin:
            buf = buf[keep - origin :].copy() if keep - origin < len(buf) else np.zeros(0, dtype=np.float32)
            origin = keep
    if total == 0:
        return
    if last is None:  # shorter than one window: one window, zero-padded by compute()
        yield 0, total, buf[: total - origin]
    elif last + win < total:
        a = total - win - origin
        yield total - win, total, buf[a : a + win]


def file_windows(path: str, spec: FeatureSpec, win: int | None, hop: int | None,
                 block_seconds: float) -> tuple[list[tuple[int, int, np.ndarray]], list[tuple[str, type]]]:
    """Every window of one file with its features, read as :func:`iter_windows` cuts a stream.

    What a worker process computes for the inference engine (:mod:`.engine`): the same
    windows and features as the engine's own streaming loop, held whole.

    Returns
    -------
    windows : list of (start, end, features)
    warnings : list of (message, category)
        The warnings raised while reading (a truncated file), for the caller to raise again.

    Raises
    ------
    Exception
        Whatever reading or computing the features raises (an unreadable file, say).
    """
    import warnings

    from musicnn.audio.io import stream

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        blocks = stream(path, sr=spec.sr, block_seconds=block_seconds, allow_silent=False)
        windows = [(start, end, compute(w, spec)) for start, end, w in iter_windows(blocks, win, hop)]
    return windows, [(str(w.message), w.category) for w in caught]
