"""Inference: classify audio files of any length with a trained model.

A file is cut into windows of the model's clip length (``FeatureSpec.duration``) that
overlap by ``overlap`` (default one half); the last window is aligned to the end of the
file so that no audio is left out, and a file shorter than one window gives one window,
zero-padded.  Each window's class probabilities come from one batched forward pass;
the file's probabilities are their mean, and the top-k labels are reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from musicnn.errors import ConfigError, MusicnnError
from musicnn.features import FeatureSpec, compute

__all__ = ["Prediction", "window_starts", "window_features", "classify_signal", "classify_files", "embed_files",
           "embedding_function"]


@dataclass
class Prediction:
    """The classification of one file.

    Attributes
    ----------
    path : str
    label : str
        The most probable class.
    top : list of (str, float)
        The ``top_k`` classes with their mean probabilities, most probable first.
    n_windows : int
    seconds : float
        Duration of the audio analysed.
    """

    path: str
    label: str
    top: list[tuple[str, float]] = field(default_factory=list)
    n_windows: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "label": self.label,
            "top": [{"label": lab, "probability": round(p, 6)} for lab, p in self.top],
            "n_windows": self.n_windows,
            "seconds": round(self.seconds, 3),
        }


def window_starts(n: int, win: int, hop: int) -> list[int]:
    """Start samples of the analysis windows over ``n`` samples.

    Windows of ``win`` samples every ``hop`` samples; a final window ends exactly at ``n``
    when the regular ones leave a tail; ``[0]`` when ``n <= win``.
    """
    if win <= 0 or hop <= 0:
        raise ConfigError(f"window ({win}) and hop ({hop}) must be > 0 samples")
    if n <= win:
        return [0]
    starts = list(range(0, n - win + 1, hop))
    if starts[-1] + win < n:
        starts.append(n - win)
    return starts


def window_features(spec: FeatureSpec, y: np.ndarray, *, overlap: float = 0.5) -> np.ndarray:
    """Features of each analysis window of a mono signal at ``spec.sr``, stacked.

    Returns
    -------
    np.ndarray [shape=(n_windows, ...)]
    """
    if not 0 <= overlap < 1:
        raise ConfigError(f"overlap={overlap!r} must be in [0, 1)")
    win = int(round((spec.duration or len(y) / spec.sr) * spec.sr))
    win = max(win, 1)
    hop = max(1, int(round(win * (1 - overlap))))
    return np.stack([compute(y[s : s + win], spec) for s in window_starts(len(y), win, hop)])


def classify_signal(model, spec: FeatureSpec, y: np.ndarray, *, overlap: float = 0.5) -> tuple[np.ndarray, int]:
    """Mean class probabilities of a mono signal at ``spec.sr`` over its windows.

    Returns
    -------
    proba : np.ndarray [shape=(n_classes,)]
    n_windows : int
    """
    feats = window_features(spec, y, overlap=overlap)
    proba = np.asarray(model.predict_proba(feats), dtype=np.float64)
    return proba.mean(axis=0), len(feats)


def classify_files(
    model,
    spec: FeatureSpec,
    paths: Sequence[str | os.PathLike],
    *,
    top_k: int = 3,
    overlap: float = 0.5,
    progress: bool = True,
) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Classify files; a file that fails is reported and skipped.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba`` and ``classes_``
    spec : FeatureSpec
        The spec the model was trained with.
    paths : sequence of path
    top_k : int
        Labels reported per file.
    overlap : float
        Window overlap in [0, 1).
    progress : bool

    Returns
    -------
    predictions : list of Prediction
    failures : list of (str, str)
        ``(path, reason)`` for each file that could not be classified.
    """
    from musicnn.audio import load
    from musicnn.progress import progress_bar

    if top_k < 1:
        raise ConfigError(f"top_k={top_k} must be >= 1")
    classes = [str(c) for c in model.classes_]
    k = min(top_k, len(classes))
    predictions, failures = [], []
    bar = progress_bar(len(paths), "classify", "file", progress)
    try:
        for path in paths:
            try:
                y, _ = load(path, sr=spec.sr, allow_silent=False)
                proba, n_windows = classify_signal(model, spec, y, overlap=overlap)
            except MusicnnError as exc:
                failures.append((str(path), str(exc)))
                continue
            except Exception as exc:  # a batch never dies on one bad file
                failures.append((str(path), f"{type(exc).__name__}: {exc}"))
                continue
            finally:
                bar.update(1)
            order = np.argsort(-proba, kind="stable")[:k]
            predictions.append(
                Prediction(
                    path=str(path),
                    label=classes[order[0]],
                    top=[(classes[i], float(proba[i])) for i in order],
                    n_windows=n_windows,
                    seconds=len(y) / spec.sr,
                )
            )
    finally:
        bar.close()
    return predictions, failures


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
    progress: bool = True,
) -> tuple[list[str], np.ndarray, list[tuple[str, str]]]:
    """One embedding per file: the mean over its windows of the model's embedding.

    Returns
    -------
    paths : list of str
        The files embedded, in input order.
    embeddings : np.ndarray [shape=(n_files, dim)], float32
    failures : list of (str, str)
        ``(path, reason)`` for each file skipped.
    """
    from musicnn.audio import load
    from musicnn.progress import progress_bar

    fn = embedding_function(model)
    done, rows, failures = [], [], []
    with progress_bar(len(paths), "embed", "file", progress) as bar:
        for path in paths:
            try:
                y, _ = load(path, sr=spec.sr, allow_silent=False)
                emb = np.asarray(fn(window_features(spec, y, overlap=overlap)), dtype=np.float32)
                rows.append(emb.reshape(len(emb), -1).mean(axis=0))
                done.append(str(path))
            except MusicnnError as exc:
                failures.append((str(path), str(exc)))
            except Exception as exc:  # a batch never dies on one bad file
                failures.append((str(path), f"{type(exc).__name__}: {exc}"))
            bar.update(1)
    dim = rows[0].shape[0] if rows else 0
    return done, (np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)), failures
