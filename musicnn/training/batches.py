"""How a run cuts its data: validation split, mini-batches, per-epoch seeds, class weights.

Torch-free and shared by the torch loop (:mod:`musicnn.training.loop`) and the numpy
reference back-propagation (:mod:`musicnn.models.deep.backprop`), so that both see the
same split, the same batch boundaries and the same class weights.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from musicnn.errors import ConfigError
from musicnn.runtime import rng

__all__ = ["batch_bounds", "class_weights", "epoch_seed", "validation_split"]


def validation_split(
    y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into training and validation parts.

    Stratified by ``y`` when every class has at least two members and both parts can
    hold every class; otherwise a plain seeded random split.  At least two examples
    stay in the training part.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Class indices.
    fraction : float
        Share of examples held out, in [0, 1).  0 (or fewer than 3 examples) gives an
        empty validation part.
    seed : int
        Seed of the split.

    Returns
    -------
    train_idx, val_idx : np.ndarray of int64, sorted
    """
    n = len(y)
    if fraction <= 0 or n < 3:
        return np.arange(n, dtype=np.int64), np.empty(0, dtype=np.int64)
    # keep at least two training examples (batch norm cannot train on a single one)
    n_val = min(max(1, int(math.ceil(fraction * n))), n - 2)
    _, counts = np.unique(y, return_counts=True)
    n_classes = len(counts)
    if counts.min() >= 2 and n_val >= n_classes and n - n_val >= n_classes:
        from sklearn.model_selection import StratifiedShuffleSplit

        splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
        try:
            train_idx, val_idx = next(splitter.split(np.zeros(n), y))
        except ValueError:  # pragma: no cover - guarded by the checks above
            pass
        else:
            return np.sort(train_idx).astype(np.int64), np.sort(val_idx).astype(np.int64)
    order = rng(seed).permutation(n)
    return np.sort(order[n_val:]).astype(np.int64), np.sort(order[:n_val]).astype(np.int64)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's random draws (batch order, augmentation, dropout).

    Every epoch reseeds from ``(seed, epoch)``, so a run resumed at epoch ``e`` draws
    exactly what the uninterrupted run drew.
    """
    return (int(seed) * 1_000_003 + int(epoch) * 7_919) % (2**62)


def batch_bounds(n: int, batch_size: int) -> list[int]:
    """Start indices of the mini-batches of ``n`` examples, then ``n``; a trailing batch of
    one example joins the previous one (batch norm needs two)."""
    bounds = list(range(0, n, batch_size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]  # fold a trailing single example into the previous batch
    return bounds


def class_weights(y: np.ndarray, n_classes: int, class_weight: Any) -> np.ndarray | None:
    """Per-class loss weights.

    Parameters
    ----------
    y : np.ndarray of int, shape (n,)
        Training class indices.
    n_classes : int
    class_weight : None, "balanced" or sequence of float
        ``"balanced"``: ``n / (n_classes * n_c)`` (classes absent from ``y`` get 1);
        a sequence gives one weight per class index.

    Returns
    -------
    np.ndarray of float32, shape (n_classes,), or None for no weighting
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ConfigError(f"class_weight={class_weight!r} must be None, 'balanced' or one weight per class")
        counts = np.bincount(y, minlength=n_classes).astype(np.float64)
        w = np.ones(n_classes)
        present = counts > 0
        w[present] = len(y) / (present.sum() * counts[present])
        return w.astype(np.float32)
    w = np.asarray(class_weight, dtype=np.float64)
    if w.shape != (n_classes,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ConfigError(
            f"class_weight must hold {n_classes} finite non-negative weights, one per class; got {class_weight!r}"
        )
    return w.astype(np.float32)
