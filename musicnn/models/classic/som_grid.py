"""The map's geometry and its queries, in numpy: unit positions, grid distances, best-matching units.

What a fitted :class:`~musicnn.models.classic.som.SOM` needs to answer queries (winners,
errors, U-matrix, predictions) without torch, which only its training uses
(:mod:`.som_kernels`): ``musicnn classify`` with a SOM then starts in a fraction of a second.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from musicnn.checks import check_choice

__all__ = ["DECAY_NAMES", "GRID_EPS", "INIT_NAMES", "NEIGHBORHOOD_NAMES", "TOPOLOGIES", "best_units",
           "grid_distances", "grid_positions"]

#: Tolerance on grid distances: hexagonal neighbours sit at 1 up to rounding.
GRID_EPS = 1e-6
#: The choices of the training pieces (:mod:`.som_kernels` holds their torch code).
NEIGHBORHOOD_NAMES = ("gaussian", "bubble", "mexican_hat")
DECAY_NAMES = ("exponential", "linear", "inverse")
INIT_NAMES = ("pca", "random", "sample")
#: Rows of X per chunk when a whole data set is matched against the map (bounds memory).
_CHUNK = 8192


def grid_positions(n_rows: int, n_cols: int, topology: str = "rectangular") -> np.ndarray:
    """Positions of the units in the plane, shape (n_rows, n_cols, 2) as (row axis, column axis).

    Rectangular: unit ``(r, c)`` sits at ``(r, c)``; its 4 nearest units are at distance 1.
    Hexagonal (offset rows): odd rows are shifted half a unit along the columns and rows are
    ``sqrt(3)/2`` apart, so unit ``(r, c)`` sits at ``(r sqrt(3)/2, c + (r mod 2)/2)`` and
    its 6 nearest units are at distance 1.
    """
    check_choice("topology", topology, TOPOLOGIES)
    r, c = np.meshgrid(np.arange(n_rows, dtype=np.float64), np.arange(n_cols, dtype=np.float64), indexing="ij")
    return np.stack(TOPOLOGIES[topology](r, c), axis=-1)


def _rectangular(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return r, c


def _hexagonal(r: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return r * (math.sqrt(3.0) / 2.0), c + 0.5 * (r % 2)


#: topology name -> ``(rows, cols) -> (row-axis, column-axis)`` positions
TOPOLOGIES: dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "rectangular": _rectangular,
    "hexagonal": _hexagonal,
}


def grid_distances(positions: np.ndarray) -> np.ndarray:
    """Euclidean distances between all units on the grid, shape (U, U)."""
    p = positions.reshape(-1, 2)
    return np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))


def best_units(X: np.ndarray, W: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Squared distances and indices of the ``k`` best-matching units of each row of ``X``, each (n, k).

    ``||x - w||^2 = ||x||^2 - 2 x.w + ||w||^2`` in float64, by chunks of rows; ties go to
    the lower unit index.
    """
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    w2 = (W * W).sum(1)
    dists, units = [], []
    for start in range(0, len(X), _CHUNK):
        xb = X[start:start + _CHUNK]
        d2 = np.maximum((xb * xb).sum(1, keepdims=True) - 2.0 * (xb @ W.T) + w2, 0.0)
        idx = np.argsort(d2, axis=1, kind="stable")[:, :k] if k > 1 else d2.argmin(1)[:, None]
        units.append(idx)
        dists.append(np.take_along_axis(d2, idx, axis=1))
    if not dists:
        return np.zeros((0, k)), np.zeros((0, k), dtype=np.int64)
    return np.concatenate(dists), np.concatenate(units).astype(np.int64)
