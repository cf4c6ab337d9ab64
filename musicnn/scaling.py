"""Per-feature standardisation, written once for every family.

A feature whose standard deviation is at most :data:`CONSTANT_TOL` times its typical
size (``max(1, |mean|)``) is constant: its scale is set to 1, so it is centred but not
blown up from float noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CONSTANT_TOL", "fit_standardiser", "standardise"]

#: Relative tolerance under which a feature counts as constant (scale 1).
CONSTANT_TOL = 1e-8


def fit_standardiser(X: Any, axis: int | tuple[int, ...] = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of ``X`` over ``axis`` (float64), constant features scaled by 1.

    Parameters
    ----------
    X : array-like
        Training data; ``axis`` runs over the examples (and, for spectrograms, the frames).
    axis : int or tuple of int
        Axes reduced.

    Returns
    -------
    mean, scale : np.ndarray
        Shaped as ``X`` reduced over ``axis``; ``(X - mean) / scale`` is standardised.
    """
    X = np.asarray(X)
    mean = X.mean(axis=axis, dtype=np.float64)
    scale = X.std(axis=axis, dtype=np.float64)
    scale = np.where(scale <= CONSTANT_TOL * np.maximum(1.0, np.abs(mean)), 1.0, scale)
    return mean, scale


def standardise(X: Any, mean: np.ndarray, scale: np.ndarray, dtype: Any = None) -> np.ndarray:
    """``(X - mean) / scale``, in ``dtype`` when given (else numpy's promotion)."""
    out = (np.asarray(X) - mean) / scale
    return out if dtype is None else out.astype(dtype, copy=False)
