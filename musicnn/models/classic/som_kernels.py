"""The pieces of Kohonen's map: grids, neighbourhoods, schedules, initialisations, update rules.

:class:`~musicnn.models.classic.som.SOM` trains with these, in torch:

* grids: where each unit sits in the plane (:func:`grid_positions`, :data:`TOPOLOGIES`)
  and the grid distances between units (numpy, from :mod:`.som_grid`);
* neighbourhoods ``h(d, sigma)`` of the grid distance to the winner (:data:`NEIGHBORHOODS`);
* schedules taking ``eta`` and ``sigma`` from their initial to their final values (:data:`DECAYS`);
* initial prototypes (:data:`INITS`);
* Kohonen's rule for a sequence of presentations in closed form (:func:`kohonen_updates`)
  and the search for the best-matching units of many samples at once.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from musicnn.models.classic.som_grid import GRID_EPS, TOPOLOGIES, grid_positions  # noqa: F401 (re-exported)
from musicnn.runtime import single_thread

__all__ = [
    "DECAYS",
    "INITS",
    "NEIGHBORHOODS",
    "TOPOLOGIES",
    "bubble",
    "gaussian",
    "grid_positions",
    "kohonen_updates",
    "mexican_hat",
]

#: Rows of X per chunk when a whole data set is matched against the map (bounds memory).
_CHUNK = 8192
#: Steps smaller than this (samples x units x features multiply-adds, about 0.1 s on one
#: core) run on one CPU thread.  Measured on a shared 2-core machine (load 6): a batch epoch
#: of 10,000 x 400 units x 40 features took 0.02 s on one thread and 0.3 s on two, each
#: parallel operation waiting for the second core to be scheduled.
SMALL_WORK = 1 << 30


# --------------------------------------------------------------------------- neighbourhoods
# Each neighbourhood is a profile of q = d^2 / sigma^2 (d: grid distance to the winner);
# training evaluates the profiles directly on q, the public h(d, sigma) functions wrap them.
def _gaussian_profile(q: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.5 * q)


def _bubble_profile(q: torch.Tensor) -> torch.Tensor:
    return (q <= 1.0 + GRID_EPS).to(q.dtype)


def _mexican_hat_profile(q: torch.Tensor) -> torch.Tensor:
    return (1.0 - q) * torch.exp(-0.5 * q)


def _q(d: Any, sigma: Any) -> torch.Tensor:
    d = torch.as_tensor(d, dtype=torch.float32) if not torch.is_tensor(d) else d
    return (d * d) / (torch.as_tensor(sigma, dtype=d.dtype) ** 2)


def gaussian(d: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """Gaussian neighbourhood ``h(d) = exp(-d^2 / (2 sigma^2))``.

    Parameters
    ----------
    d : torch.Tensor or array-like
        Grid distances to the winner (any shape).
    sigma : float or torch.Tensor
        Radius, broadcastable against ``d``.

    Returns
    -------
    torch.Tensor
        Weights in (0, 1], 1 at the winner.
    """
    return _gaussian_profile(_q(d, sigma))


def bubble(d: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """Bubble neighbourhood: 1 for units within ``sigma`` of the winner on the grid, else 0."""
    return _bubble_profile(_q(d, sigma))


def mexican_hat(d: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """Mexican hat (Ricker): ``h(d) = (1 - d^2/sigma^2) exp(-d^2 / (2 sigma^2))``.

    1 at the winner, positive within ``sigma``, negative in the ring beyond (lateral
    inhibition: those units are pushed away from the sample), tending to 0 far away.
    """
    return _mexican_hat_profile(_q(d, sigma))


#: neighbourhood name -> ``h(grid_distance, sigma)``
NEIGHBORHOODS: dict[str, Callable[[torch.Tensor, Any], torch.Tensor]] = {
    "gaussian": gaussian,
    "bubble": bubble,
    "mexican_hat": mexican_hat,
}
PROFILES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gaussian": _gaussian_profile,
    "bubble": _bubble_profile,
    "mexican_hat": _mexican_hat_profile,
}


# --------------------------------------------------------------------------- schedules
def _exponential(start: float, end: float, s: torch.Tensor) -> torch.Tensor:
    return start * (end / start) ** s


def _linear(start: float, end: float, s: torch.Tensor) -> torch.Tensor:
    return start + (end - start) * s


def _inverse(start: float, end: float, s: torch.Tensor) -> torch.Tensor:
    return start / (1.0 + (start / end - 1.0) * s)


#: decay name -> ``value(start, end, s)`` with ``s = t / (T - 1)`` the progress in [0, 1]:
#: ``exponential``: ``start (end/start)^s``; ``linear``: ``start + (end - start) s``;
#: ``inverse``: ``start / (1 + (start/end - 1) s)``.  Each gives ``start`` at the first
#: step and ``end`` at the last.  ``inverse`` with ``end = start / 3`` is MiniSom's default
#: "asymptotic" decay ``start / (1 + 2t/T)``.
DECAYS: dict[str, Callable[[float, float, torch.Tensor], torch.Tensor]] = {
    "exponential": _exponential,
    "linear": _linear,
    "inverse": _inverse,
}


# --------------------------------------------------------------------------- initialisations
def _init_random(X: torch.Tensor, positions: np.ndarray, generator: torch.Generator) -> torch.Tensor:
    """Prototypes drawn from a Gaussian with the data's per-feature mean and spread."""
    n_units = positions.shape[0] * positions.shape[1]
    mean, std = X.mean(0), X.std(0, correction=0)
    return mean + std * torch.randn(n_units, X.shape[1], generator=generator, dtype=X.dtype)


def _init_sample(X: torch.Tensor, positions: np.ndarray, generator: torch.Generator) -> torch.Tensor:
    """Prototypes copied from training samples drawn at random (without replacement if possible)."""
    n_units, n = positions.shape[0] * positions.shape[1], X.shape[0]
    if n >= n_units:
        idx = torch.randperm(n, generator=generator)[:n_units]
    else:
        idx = torch.randint(n, (n_units,), generator=generator)
    return X[idx].clone()


def _init_pca(X: torch.Tensor, positions: np.ndarray, generator: torch.Generator) -> torch.Tensor:
    """Prototypes spread over the plane of the first two principal components.

    The grid's longer side follows the first component.  Along each component the units
    span ``±sqrt(3) std`` (a uniform spread with the data's variance along it); deterministic.
    """
    Xd = X.double()
    mean = Xd.mean(0)
    Xc = Xd - mean
    cov = Xc.T @ Xc / max(X.shape[0] - 1, 1)
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    k = min(2, X.shape[1])
    evals, evecs = evals.flip(0)[:k].clamp_min(0.0), evecs.flip(1)[:, :k]
    # canonical sign: each component's largest entry positive (same map everywhere)
    pivot = evecs.abs().argmax(0)
    evecs = evecs * torch.sign(evecs[pivot, torch.arange(k)])
    pos = positions.reshape(-1, 2)
    extent = np.ptp(positions.reshape(-1, 2), axis=0)
    order = (0, 1) if extent[0] >= extent[1] else (1, 0)  # longer grid axis -> first component
    coords = np.zeros((pos.shape[0], 2))
    for comp, axis in enumerate(order[:k]):
        span = extent[axis]
        if span > 0:
            coords[:, comp] = 2.0 * (pos[:, axis] - pos[:, axis].min()) / span - 1.0
    coords_t = torch.from_numpy(coords[:, :k])
    W = mean + (coords_t * (math.sqrt(3.0) * evals.sqrt())) @ evecs.T
    return W.to(X.dtype)


#: initialisation name -> ``init(X_standardised, positions, generator) -> (U, d) prototypes``
INITS: dict[str, Callable[[torch.Tensor, np.ndarray, torch.Generator], torch.Tensor]] = {
    "pca": _init_pca,
    "random": _init_random,
    "sample": _init_sample,
}



# --------------------------------------------------------------------------- the rules
def kohonen_updates(W: torch.Tensor, X: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
    """Apply Kohonen's rule for a sequence of presentations, in order, in closed form.

    Presentation ``k`` (sample ``x_k``) updates every unit ``j`` by
    ``w_j <- w_j + a_kj (x_k - w_j) = (1 - a_kj) w_j + a_kj x_k`` with
    ``a_kj = eta(t_k) h_{j,c_k}(t_k)``.  The ``b`` steps compose into
    ``w_j = P_0j w_j + sum_k a_kj P_kj x_k`` with ``P_kj = prod_{l>k} (1 - a_lj)``: the
    result of the sample-by-sample loop, computed with one cumulative product and one
    matrix product.

    Parameters
    ----------
    W : torch.Tensor, shape (U, d)
        Prototypes before the first presentation.
    X : torch.Tensor, shape (b, d)
        The presented samples, in order.
    coef : torch.Tensor, shape (b, U)
        ``a_kj = eta h``: learning rate times neighbourhood weight of each unit.

    Returns
    -------
    torch.Tensor, shape (U, d)
        Prototypes after the last presentation.
    """
    if coef.shape[0] == 1:  # one presentation: the rule as written
        return W + coef[0].unsqueeze(1) * (X[0] - W)
    keep = 1.0 - coef
    # suffix[k] = prod_{l >= k} (1 - a_l); after[k] = prod_{l > k} (1 - a_l)
    suffix = torch.cumprod(keep.flip(0), dim=0).flip(0)
    after = torch.cat([suffix[1:], torch.ones_like(suffix[:1])], dim=0)
    return suffix[0].unsqueeze(1) * W + (coef * after).T @ X


def squared_distances(X: torch.Tensor, W: torch.Tensor, w2: torch.Tensor | None = None) -> torch.Tensor:
    """``||x - w||^2`` for every pair, shape (n, U), from ``||x||^2 - 2 x.w + ||w||^2``."""
    if w2 is None:
        w2 = (W * W).sum(1)
    d2 = torch.addmm(w2.unsqueeze(0), X, W.T, beta=1.0, alpha=-2.0)
    d2 += (X * X).sum(1, keepdim=True)
    return d2.clamp_min_(0.0)


def best_units(X: torch.Tensor, W: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distances and indices of the ``k`` best-matching units, each (n, k), in chunks."""
    dists, units = [], []
    with single_thread(X.device, enabled=min(X.shape[0], _CHUNK) * W.shape[0] * W.shape[1] < SMALL_WORK):
        w2 = (W * W).sum(1)
        for start in range(0, X.shape[0], _CHUNK):
            d2 = squared_distances(X[start:start + _CHUNK], W, w2)
            if k == 1:
                val, idx = d2.min(1, keepdim=True)
            else:
                val, idx = torch.topk(d2, k, dim=1, largest=False, sorted=True)
            dists.append(val)
            units.append(idx)
    return torch.cat(dists), torch.cat(units)
