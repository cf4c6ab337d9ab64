"""k-means and squared Euclidean distances, in numpy, for the prototype families.

The RBF network places its centres with :func:`kmeans`; LVQ starts its prototypes
there; competitive learning, LVQ and the RBF network measure their inputs against
prototypes with :func:`squared_distances`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["kmeans", "squared_distances"]


def squared_distances(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``X`` (n, d) and ``C`` (k, d); (n, k)."""
    d2 = (X * X).sum(axis=1)[:, None] - 2.0 * (X @ C.T) + (C * C).sum(axis=1)[None, :]
    return np.maximum(d2, 0.0)


def kmeans(
    X: np.ndarray, k: int, *, max_iter: int = 100, tol: float = 1e-4, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int]:
    """k-means clustering: k-means++ seeding, then Lloyd iterations, vectorised in numpy.

    Seeding picks the first centre at random, then each next one among a few candidates
    drawn with probability proportional to their squared distance to the nearest centre
    so far (the candidate that most lowers the total squared distance wins).  Each Lloyd
    iteration assigns every vector to its nearest centre and moves each centre to the
    mean of its vectors; an emptied cluster is re-seeded at the vector farthest from its
    centre.  Iterations stop when the centres move (in total squared distance) by less
    than ``tol`` times the mean per-feature variance of ``X``.

    Parameters
    ----------
    X : np.ndarray, shape (n_samples, n_features)
    k : int
        Clusters, at most the number of distinct rows of ``X``.
    max_iter : int
        Most Lloyd iterations.
    tol : float
        Relative tolerance on the centres' movement.
    rng : np.random.Generator
        Source of the seeding's random draws.

    Returns
    -------
    centers : np.ndarray, shape (k, n_features)
    assign : np.ndarray of int, shape (n_samples,)
        Index of each vector's nearest centre.
    n_iter : int
        Lloyd iterations run.
    """
    n = len(X)
    centers = np.empty((k, X.shape[1]))
    centers[0] = X[rng.integers(n)]
    closest = squared_distances(X, centers[:1])[:, 0]
    n_trials = 2 + int(np.log(k))
    for i in range(1, k):
        total = closest.sum()
        p = closest / total if total > 0 else np.full(n, 1.0 / n)
        candidates = rng.choice(n, size=n_trials, p=p)
        trial = np.minimum(closest[None, :], squared_distances(X[candidates], X))
        best = int(trial.sum(axis=1).argmin())
        centers[i], closest = X[candidates[best]], trial[best]
    threshold = tol * float(X.var(axis=0).mean())
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        d2 = squared_distances(X, centers)
        assign = d2.argmin(axis=1)
        counts = np.bincount(assign, minlength=k)
        order = np.argsort(assign, kind="stable")
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        new = centers.copy()
        full = counts > 0
        new[full] = np.add.reduceat(X[order], starts[full], axis=0) / counts[full, None]
        if not full.all():  # re-seed empty clusters at the worst-served vectors
            worst = np.argsort(-d2[np.arange(n), assign], kind="stable")[: int((~full).sum())]
            new[~full] = X[worst]
        shift = float(np.square(new - centers).sum())
        centers = new
        if shift <= threshold:
            break
    assign = squared_distances(X, centers).argmin(axis=1)
    return centers, assign, n_iter
