"""Kohonen's self-organising map (SOM), online and batch, on rectangular or hexagonal grids.

The course's map: every unit ``j`` of a 2-D grid holds a prototype ``w_j`` in input space
and is connected to every input; the units keep their places on the grid, and that place
decides how much a unit learns from a sample won by another unit.  For each presented
sample ``x``:

1. competition: the winner (best-matching unit) is ``c = argmin_j ||x - w_j||``;
2. cooperation: each unit gets the neighbourhood weight ``h_{j,c}(t) = h(d_grid(j, c), sigma(t))``,
   a decreasing function of its distance to the winner *on the grid*;
3. adaptation (Kohonen's rule): ``w_j <- w_j + eta(t) h_{j,c}(t) (x - w_j)`` for every unit.

``eta(t)`` and ``sigma(t)`` shrink during training, so the map first orders itself as a
whole, then fine-tunes locally: neighbouring units end up with neighbouring prototypes
(topology preservation).  The batch map replaces step 3 by a fixed-point iteration: once
per epoch every prototype becomes the neighbourhood-weighted mean of the data,
``w_j = sum_i h_{j,c(i)} x_i / sum_i h_{j,c(i)}``.

Everything runs in torch (CPU by default, ``device=`` for a GPU); squared distances come
from ``||x||^2 - 2 x.w + ||w||^2`` (one matrix product for a whole batch of samples).
Online, the winners of ``batch_size`` consecutive presentations are searched in one such
product, against the prototypes as they stand before the first of them; Kohonen's rule is
then applied to each presentation in turn, exactly, in closed form (:func:`kohonen_updates`).
``batch_size=1`` is the strictly sequential algorithm.
Fitted with labels, the map classifies: each unit takes the majority label of the training
samples it wins, and a new sample gets its winner's label.

Examples
--------
>>> som = SOM(12, 12).fit(X)                              # doctest: +SKIP
>>> som.winner(X[:3]), som.quantization_error(X)          # doctest: +SKIP
>>> clf = SOM(12, 12, topology="hexagonal").fit(X, y)     # doctest: +SKIP
>>> clf.predict(X_test), clf.distance_map()               # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Callable

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from musicnn.errors import ConfigError, DataError
from musicnn.progress import progress_bar
from musicnn.checks import check_float, check_int, resolve_device
from musicnn.checks import check_choice
from musicnn.models.state import ArrayStateMixin

__all__ = [
    "DECAYS",
    "INITS",
    "NEIGHBORHOODS",
    "SOM",
    "TOPOLOGIES",
    "bubble",
    "gaussian",
    "grid_positions",
    "kohonen_updates",
    "mexican_hat",
]

#: Rows of X per chunk when a whole data set is matched against the map (bounds memory).
_CHUNK = 8192
#: Tolerance on grid distances: hexagonal neighbours sit at 1 up to rounding.
_GRID_EPS = 1e-6
#: Steps smaller than this (samples x units x features multiply-adds, about 0.1 s on one
#: core) run on one CPU thread.  Measured on a shared 2-core machine (load 6): a batch epoch
#: of 10,000 x 400 units x 40 features took 0.02 s on one thread and 0.3 s on two, each
#: parallel operation waiting for the second core to be scheduled.
_SMALL_WORK = 1 << 30


# --------------------------------------------------------------------------- neighbourhoods
# Each neighbourhood is a profile of q = d^2 / sigma^2 (d: grid distance to the winner);
# training evaluates the profiles directly on q, the public h(d, sigma) functions wrap them.
def _gaussian_profile(q: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.5 * q)


def _bubble_profile(q: torch.Tensor) -> torch.Tensor:
    return (q <= 1.0 + _GRID_EPS).to(q.dtype)


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
_PROFILES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
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


# --------------------------------------------------------------------------- grids
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


def _grid_distances(positions: np.ndarray) -> np.ndarray:
    """Euclidean distances between all units on the grid, shape (U, U)."""
    p = positions.reshape(-1, 2)
    return np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))


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

MODES = ("online", "batch")
ITER_UNITS = ("epoch", "sample")


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


@contextmanager
def _cpu_threads(device: torch.device, work: int) -> Iterator[None]:
    """Run small CPU work (``work`` multiply-adds per step) on one torch thread; restored afterwards."""
    if device.type == "cpu" and work < _SMALL_WORK:
        from musicnn.runtime import single_thread

        with single_thread():
            yield
    else:
        yield


@contextmanager
def _closing(bar: Any) -> Iterator[Any]:
    try:
        yield bar
    finally:
        bar.close()


def _squared_distances(X: torch.Tensor, W: torch.Tensor, w2: torch.Tensor | None = None) -> torch.Tensor:
    """``||x - w||^2`` for every pair, shape (n, U), from ``||x||^2 - 2 x.w + ||w||^2``."""
    if w2 is None:
        w2 = (W * W).sum(1)
    d2 = torch.addmm(w2.unsqueeze(0), X, W.T, beta=1.0, alpha=-2.0)
    d2 += (X * X).sum(1, keepdim=True)
    return d2.clamp_min_(0.0)


def _best_units(X: torch.Tensor, W: torch.Tensor, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distances and indices of the ``k`` best-matching units, each (n, k), in chunks."""
    dists, units = [], []
    with _cpu_threads(X.device, min(X.shape[0], _CHUNK) * W.shape[0] * W.shape[1]):
        w2 = (W * W).sum(1)
        for start in range(0, X.shape[0], _CHUNK):
            d2 = _squared_distances(X[start:start + _CHUNK], W, w2)
            if k == 1:
                val, idx = d2.min(1, keepdim=True)
            else:
                val, idx = torch.topk(d2, k, dim=1, largest=False, sorted=True)
            dists.append(val)
            units.append(idx)
    return torch.cat(dists), torch.cat(units)


# --------------------------------------------------------------------------- estimator
class SOM(ArrayStateMixin, TransformerMixin, ClassifierMixin, BaseEstimator):
    """Kohonen self-organising map; a classifier when fitted with labels.

    For each presented sample ``x``, the winner is ``c = argmin_j ||x - w_j||`` and every
    unit moves towards the sample by Kohonen's rule

        ``w_j <- w_j + eta(t) h_{j,c}(t) (x - w_j)``

    where ``h_{j,c}(t)`` is the neighbourhood function of the grid distance between unit
    ``j`` and the winner, with radius ``sigma(t)``; ``eta(t)`` and ``sigma(t)`` decay from
    their initial to their final values (``decay``).  ``mode="batch"`` runs the batch map
    instead: once per epoch, ``w_j = sum_i h_{j,c(i)} x_i / sum_i h_{j,c(i)}`` (no learning
    rate).  Inputs are standardised inside (per-feature mean and standard deviation of the
    training data); all distances (winners, errors, U-matrix) are measured in that space.

    Parameters
    ----------
    n_rows, n_cols : int, default=15
        Grid size (at least 2 units in all).  A common rule of thumb is about
        ``5 sqrt(n_samples)`` units: 15 x 15 suits a couple of thousand sounds.
    topology : {"rectangular", "hexagonal"}, default="rectangular"
        Unit layout (:func:`grid_positions`): 4 grid neighbours at distance 1, or 6 on the
        hexagonal grid of offset rows.  Grid distances are Euclidean between unit positions.
    neighborhood : {"gaussian", "bubble", "mexican_hat"}, default="gaussian"
        ``h(d, sigma)`` (:data:`NEIGHBORHOODS`).  ``mexican_hat`` is negative beyond
        ``sigma`` and is only valid with ``mode="online"``.
    sigma : float or None, default=None
        Initial neighbourhood radius, in grid units; None: half the longer grid side.
    sigma_final : float, default=0.5
        Radius at the last step.
    learning_rate : float, default=0.5
        Initial ``eta``, in (0, 1] (online only).
    learning_rate_final : float, default=0.01
        ``eta`` at the last presentation (online only).
    decay : {"exponential", "linear", "inverse"}, default="exponential"
        How ``eta`` and ``sigma`` go from initial to final values (:data:`DECAYS`), as a
        function of the progress ``s = t / (T - 1)``: per presentation online, per epoch in
        batch mode.
    mode : {"online", "batch"}, default="online"
        ``"online"``: Kohonen's rule, sample after sample; ``"batch"``: the batch map.
    n_iter : int, default=20
        Length of training, in ``iter_unit``.
    iter_unit : {"epoch", "sample"}, default="epoch"
        ``"epoch"``: ``n_iter`` passes over the data (online: ``n_iter * n_samples``
        presentations); ``"sample"``: ``n_iter`` presentations (as MiniSom's
        ``num_iteration``), in batch mode rounded up to whole epochs.
    init : {"pca", "random", "sample"}, default="pca"
        Initial prototypes (:data:`INITS`): spread over the plane of the first two principal
        components; Gaussian draws with the data's mean and spread; random training samples.
    batch_size : int, default=32
        Online mode: presentations whose winners are searched together, against the
        prototypes as they stand before the first of them; Kohonen's rule is then applied
        to each presentation in turn, exactly (:func:`kohonen_updates`).  1 gives the
        strictly sequential algorithm; larger is faster, with winners up to
        ``batch_size - 1`` presentations old.  Unused in batch mode.
    shuffle : bool, default=True
        Online mode: present the samples in a new random order each epoch; False presents
        them in the order given.
    standardize : bool, default=True
        Standardise the features inside (False: use them as they are).
    seed : int, default=0
        Seeds the initialisation and the presentation order.
    device : str, default="cpu"
        Where training runs: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.  Queries
        (``predict``, ``winner``, ...) run on the CPU.
    progress : bool, default=True
        Progress bar during ``fit`` on a terminal.

    Attributes
    ----------
    weights_ : np.ndarray of float32, shape (n_rows, n_cols, n_features)
        Prototype of each unit, in input units.
    mean_, scale_ : np.ndarray of float32, shape (n_features,)
        Standardisation (zeros and ones when ``standardize=False``).
    n_features_in_ : int
    n_iter_ : int
        Training length done, in ``iter_unit`` (always ``n_iter``: there is no early stop).
    history_ : dict
        Per epoch (online with ``iter_unit="sample"``: per pass over the data, the last one
        possibly partial): ``"quantization_error"``, and the ``"sigma"`` and (online)
        ``"learning_rate"`` of the epoch's last step.  The quantization error is, online, the
        mean distance of each presented sample to its winner when it was presented (no extra
        pass over the data); in batch mode, that of the map at the end of the epoch.
    classes_ : np.ndarray, shape (n_classes,)
        Labels, sorted (only when fitted with ``y``).
    unit_counts_ : np.ndarray of float32, shape (n_rows, n_cols, n_classes)
        Training samples of each class won by each unit (only with ``y``).
    unit_proba_ : np.ndarray of float32, shape (n_rows, n_cols, n_classes)
        Class shares of each unit's wins; a unit that won nothing takes those of the
        nearest unit on the grid that won something (only with ``y``).
    unit_labels_ : np.ndarray, shape (n_rows, n_cols)
        Majority label of each unit, ties to the first class (only with ``y``).

    Notes
    -----
    On the CPU, steps under about 10^9 multiply-adds (samples x units x features: the
    online blocks, and batch epochs up to e.g. 100,000 samples on a 20 x 20 map of 40
    features) run on one torch thread, set for the step and restored after: on a busy
    machine, waiting for a second core to join each operation costs far more than it saves
    (measured 15x slower with two threads on a shared 2-core machine).  The online mode keeps a (U, U) table of grid distances,
    so maps of many thousands of units need memory for it.

    Examples
    --------
    >>> som = SOM(8, 8, topology="hexagonal", progress=False).fit(X)  # doctest: +SKIP
    >>> som.winner(X[0])                                             # doctest: +SKIP
    array([3, 5])
    >>> som.quantization_error(X), som.topographic_error(X)          # doctest: +SKIP
    """

    def __init__(
        self,
        n_rows: int = 15,
        n_cols: int = 15,
        *,
        topology: str = "rectangular",
        neighborhood: str = "gaussian",
        sigma: float | None = None,
        sigma_final: float = 0.5,
        learning_rate: float = 0.5,
        learning_rate_final: float = 0.01,
        decay: str = "exponential",
        mode: str = "online",
        n_iter: int = 20,
        iter_unit: str = "epoch",
        init: str = "pca",
        batch_size: int = 32,
        shuffle: bool = True,
        standardize: bool = True,
        seed: int = 0,
        device: str = "cpu",
        progress: bool = True,
    ) -> None:
        self.n_rows = n_rows
        self.n_cols = n_cols
        self.topology = topology
        self.neighborhood = neighborhood
        self.sigma = sigma
        self.sigma_final = sigma_final
        self.learning_rate = learning_rate
        self.learning_rate_final = learning_rate_final
        self.decay = decay
        self.mode = mode
        self.n_iter = n_iter
        self.iter_unit = iter_unit
        self.init = init
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.standardize = standardize
        self.seed = seed
        self.device = device
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_int("n_rows", self.n_rows, minimum=1)
        check_int("n_cols", self.n_cols, minimum=1)
        if self.n_rows * self.n_cols < 2:
            raise ConfigError(f"a {self.n_rows}x{self.n_cols} map has one unit; give it at least 2 units")
        check_choice("topology", self.topology, TOPOLOGIES)
        check_choice("neighborhood", self.neighborhood, NEIGHBORHOODS)
        check_choice("decay", self.decay, DECAYS)
        check_choice("mode", self.mode, MODES)
        check_choice("iter_unit", self.iter_unit, ITER_UNITS)
        check_choice("init", self.init, INITS)
        if self.sigma is not None:
            check_float("sigma", self.sigma, low=0.0, low_inclusive=False)
        check_float("sigma_final", self.sigma_final, low=0.0, low_inclusive=False)
        for name in ("learning_rate", "learning_rate_final"):
            value = getattr(self, name)
            check_float(name, value, low=0.0, low_inclusive=False)
            if value > 1:
                raise ConfigError(f"{name}={value!r} must be in (0, 1]: Kohonen's rule moves a unit "
                                  "at most all the way to the sample")
        check_int("n_iter", self.n_iter, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("seed", self.seed, minimum=0)
        for name in ("shuffle", "standardize", "progress"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ConfigError(f"{name}={getattr(self, name)!r} must be True or False")
        if self.mode == "batch" and self.neighborhood == "mexican_hat":
            raise ConfigError(
                "neighborhood='mexican_hat' cannot drive mode='batch': the batch map averages the data "
                "with the neighbourhood weights, which must not be negative; use mode='online' or "
                "neighborhood='gaussian'/'bubble'"
            )

    def _check_X(self, X: Any, *, reset: bool = False) -> np.ndarray:
        try:
            return validate_data(self, X, reset=reset, dtype=np.float32)
        except DataError:
            raise
        except ValueError as err:
            raise DataError(str(err)) from err

    def _sigma0(self) -> float:
        return float(self.sigma) if self.sigma is not None else max(self.n_rows, self.n_cols) / 2.0

    # ------------------------------------------------------------------ geometry
    def unit_positions(self) -> np.ndarray:
        """Positions of the units in the plane, shape (n_rows, n_cols, 2) (see :func:`grid_positions`)."""
        check_int("n_rows", self.n_rows, minimum=1)
        check_int("n_cols", self.n_cols, minimum=1)
        return grid_positions(int(self.n_rows), int(self.n_cols), self.topology)

    def grid_neighbors(self) -> list[list[int]]:
        """Flat indices of each unit's grid neighbours (the units at grid distance 1)."""
        D = _grid_distances(self.unit_positions())
        near = (D > _GRID_EPS) & (D <= 1.0 + _GRID_EPS)
        return [np.flatnonzero(row).tolist() for row in near]

    def _codebook(self) -> torch.Tensor:
        """Standardised prototypes, shape (U, d), float32 on the CPU."""
        W = (self.weights_.reshape(-1, self.weights_.shape[-1]) - self.mean_) / self.scale_
        return torch.from_numpy(np.ascontiguousarray(W, dtype=np.float32))

    def _standardised(self, X: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray((X - self.mean_) / self.scale_, dtype=np.float32))

    # ------------------------------------------------------------------ training
    def fit(self, X: Any, y: Any = None) -> SOM:
        """Train the map on ``X``; with ``y``, also label its units.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Training vectors (e.g. pooled features).
        y : array-like, shape (n_samples,), optional
            Class labels: each unit takes the majority label of the samples it wins, so
            that ``predict`` and ``predict_proba`` work.

        Returns
        -------
        self
        """
        self._check_params()
        device = resolve_device(self.device)
        if y is None:
            X = self._check_X(X, reset=True)
        else:
            try:
                X, y = validate_data(self, X, y, reset=True, dtype=np.float32)
            except ValueError as err:
                raise DataError(str(err)) from err
            try:
                check_classification_targets(y)
            except ValueError as err:
                raise DataError(f"{err}; y must hold class labels") from err
        n, d = X.shape
        if n < 2:
            raise DataError(f"{type(self).__name__} needs at least 2 samples to fit; got n_samples={n}")
        X64 = X.astype(np.float64)
        if self.standardize:
            mean, scale = X64.mean(0), X64.std(0)
            scale[scale <= 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
        else:
            mean, scale = np.zeros(d), np.ones(d)
        self.mean_, self.scale_ = mean.astype(np.float32), scale.astype(np.float32)
        for stale in ("classes_", "unit_counts_", "unit_proba_", "unit_labels_"):
            self.__dict__.pop(stale, None)

        positions = self.unit_positions()
        generator = torch.Generator().manual_seed(int(self.seed))
        Xs = self._standardised(X)
        W = INITS[self.init](Xs, positions, generator).to(torch.float32)
        grid = torch.from_numpy(_grid_distances(positions).astype(np.float32))
        Xd, W, grid = Xs.to(device), W.to(device), grid.to(device)
        train = self._fit_online if self.mode == "online" else self._fit_batch
        W, history = train(Xd, W, grid, generator)

        W = W.cpu().double().numpy() * scale + mean
        self.weights_ = W.reshape(self.n_rows, self.n_cols, d).astype(np.float32)
        self.n_iter_ = int(self.n_iter)
        self.history_ = history
        if y is not None:
            self._label_units(X, y)
        return self

    def _fit_online(self, X: torch.Tensor, W: torch.Tensor, grid: torch.Tensor,
                    generator: torch.Generator) -> tuple[torch.Tensor, dict[str, list[float]]]:
        n = X.shape[0]
        total = self.n_iter * n if self.iter_unit == "epoch" else self.n_iter
        profile, decay = _PROFILES[self.neighborhood], DECAYS[self.decay]
        sigma0, sigma1 = self._sigma0(), float(self.sigma_final)
        eta0, eta1 = float(self.learning_rate), float(self.learning_rate_final)
        step, denom = int(self.batch_size), max(total - 1, 1)
        grid2 = grid * grid
        history: dict[str, list[float]] = {"quantization_error": [], "sigma": [], "learning_rate": []}
        t = 0
        bar = progress_bar(total, "SOM (online)", "sample", bool(self.progress))
        with _closing(bar):
            while t < total:
                order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
                order = order[: total - t].to(X.device)
                m = order.shape[0]
                s = torch.arange(t, t + m, device=X.device, dtype=torch.float64) / denom
                etas = decay(eta0, eta1, s).to(X.dtype)
                inv_s2 = (1.0 / decay(sigma0, sigma1, s) ** 2).to(X.dtype).unsqueeze(1)
                Xo = X[order]
                best = torch.empty(m, dtype=X.dtype, device=X.device)  # w2 - 2 x.w of each winner
                with _cpu_threads(X.device, step * W.shape[0] * X.shape[1]):
                    w2 = (W * W).sum(1)
                    for start in range(0, m, step):
                        stop = start + step
                        xb = Xo[start:stop]
                        # competition, against the prototypes as they stand before this block
                        vals, c = torch.addmm(w2, xb, W.T, beta=1.0, alpha=-2.0).min(1)
                        best[start:stop] = vals
                        # cooperation: a_kj = eta(t_k) h(d_grid(j, c_k), sigma(t_k))
                        coef = etas[start:stop].unsqueeze(1) * profile(grid2.index_select(0, c) * inv_s2[start:stop])
                        # adaptation: Kohonen's rule, presentation after presentation
                        W = kohonen_updates(W, xb, coef)
                        w2 = (W * W).sum(1)
                        bar.update(xb.shape[0])
                    # distance of each presented sample to its winner, at presentation time
                    qe = (best + (Xo * Xo).sum(1)).clamp_min_(0.0).sqrt_().mean(dtype=torch.float64)
                t += m
                history["quantization_error"].append(float(qe))
                history["sigma"].append(float(inv_s2[-1, 0] ** -0.5))
                history["learning_rate"].append(float(etas[-1]))
        return W, history

    def _fit_batch(self, X: torch.Tensor, W: torch.Tensor, grid: torch.Tensor,
                   generator: torch.Generator) -> tuple[torch.Tensor, dict[str, list[float]]]:
        n, d = X.shape
        n_epochs = self.n_iter if self.iter_unit == "epoch" else math.ceil(self.n_iter / n)
        profile, decay = _PROFILES[self.neighborhood], DECAYS[self.decay]
        sigma0, sigma1 = self._sigma0(), float(self.sigma_final)
        grid2 = grid * grid
        history: dict[str, list[float]] = {"quantization_error": [], "sigma": []}
        n_units = W.shape[0]
        bar = progress_bar(n_epochs, "SOM (batch)", "epoch", bool(self.progress))
        with _closing(bar):
            d2, c = _best_units(X, W)
            for epoch in range(n_epochs):
                sigma = decay(sigma0, sigma1, torch.tensor(epoch / max(n_epochs - 1, 1), dtype=torch.float64))
                with _cpu_threads(X.device, n * n_units * d):
                    c = c[:, 0]
                    hits = torch.bincount(c, minlength=n_units).to(X.dtype)
                    sums = torch.zeros(n_units, d, dtype=X.dtype, device=X.device).index_add_(0, c, X)
                    H = profile(grid2 / float(sigma) ** 2)  # h_{j,u}, symmetric (U, U)
                    num, den = H @ sums, H @ hits
                    # w_j = sum_i h_{j,c(i)} x_i / sum_i h_{j,c(i)}; a unit no sample reaches keeps its place
                    W = torch.where(den.unsqueeze(1) > 1e-12, num / den.clamp_min(1e-12).unsqueeze(1), W)
                d2, c = _best_units(X, W)
                history["quantization_error"].append(float(d2.sqrt().mean()))
                history["sigma"].append(float(sigma))
                bar.update(1)
        return W, history

    def _label_units(self, X: np.ndarray, y: np.ndarray) -> None:
        classes, y_idx = np.unique(y, return_inverse=True)
        units = self._winners_flat(self._standardised(X))
        n_units, k = self.n_rows * self.n_cols, len(classes)
        counts = np.zeros((n_units, k), dtype=np.float64)
        np.add.at(counts, (units, y_idx), 1.0)
        won = counts.sum(1) > 0
        D = _grid_distances(self.unit_positions())
        nearest = np.flatnonzero(won)[D[:, won].argmin(1)]  # a unit that won itself is its own nearest
        filled = counts[nearest]
        proba = filled / filled.sum(1, keepdims=True)
        self.classes_ = classes
        shape = (self.n_rows, self.n_cols)
        self.unit_counts_ = counts.reshape(*shape, k).astype(np.float32)
        self.unit_proba_ = proba.reshape(*shape, k).astype(np.float32)
        self.unit_labels_ = classes[proba.argmax(1)].reshape(shape)

    # ------------------------------------------------------------------ queries
    def _winners_flat(self, Xs: torch.Tensor) -> np.ndarray:
        return _best_units(Xs, self._codebook())[1][:, 0].numpy()

    def winner(self, X: Any) -> np.ndarray:
        """Grid coordinates (row, col) of the best-matching unit of each sample.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features) or (n_features,)

        Returns
        -------
        np.ndarray of int64, shape (n_samples, 2), or (2,) for one sample given as 1-D
        """
        check_is_fitted(self)
        single = np.ndim(X) == 1
        X = self._check_X(np.asarray(X)[None] if single else X)
        flat = self._winners_flat(self._standardised(X))
        rc = np.stack(np.unravel_index(flat, (self.n_rows, self.n_cols)), axis=1).astype(np.int64)
        return rc[0] if single else rc

    def transform(self, X: Any) -> np.ndarray:
        """Position in the plane of each sample's winner: the map as a 2-D embedding.

        Returns
        -------
        np.ndarray of float64, shape (n_samples, 2)
            (row axis, column axis) coordinates (:meth:`unit_positions`): the winner's
            (row, col) on a rectangular grid, offset rows on a hexagonal one.
        """
        check_is_fitted(self)
        X = self._check_X(X)
        flat = self._winners_flat(self._standardised(X))
        return self.unit_positions().reshape(-1, 2)[flat].astype(np.float64)

    def quantize(self, X: Any) -> np.ndarray:
        """The prototype of each sample's winner, in input units, shape (n_samples, n_features)."""
        check_is_fitted(self)
        X = self._check_X(X)
        flat = self._winners_flat(self._standardised(X))
        return self.weights_.reshape(-1, self.weights_.shape[-1])[flat]

    def quantization_error(self, X: Any) -> float:
        """Mean distance between each sample and its winner's prototype (standardised space)."""
        check_is_fitted(self)
        X = self._check_X(X)
        d2, _ = _best_units(self._standardised(X), self._codebook())
        return float(d2.double().sqrt().mean())

    def topographic_error(self, X: Any) -> float:
        """Share of samples whose best and second-best units are not grid neighbours.

        Neighbours are the units at grid distance 1 (4 on the rectangular grid, 6 on the
        hexagonal one; MiniSom counts diagonals as neighbours on rectangular grids, which
        gives lower figures).  0 means the map keeps the topology of every sample.
        """
        check_is_fitted(self)
        X = self._check_X(X)
        _, units = _best_units(self._standardised(X), self._codebook(), k=2)
        pos = self.unit_positions().reshape(-1, 2)
        units = units.numpy()
        gap = np.linalg.norm(pos[units[:, 0]] - pos[units[:, 1]], axis=1)
        return float(np.mean(gap > 1.0 + _GRID_EPS))

    def distance_map(self) -> np.ndarray:
        """U-matrix: mean distance of each unit's prototype to those of its grid neighbours.

        Returns
        -------
        np.ndarray of float64, shape (n_rows, n_cols)
            Large values mark borders between clusters (standardised space).
        """
        check_is_fitted(self)
        W = self._codebook().double().numpy()
        out = np.empty(W.shape[0])
        for j, near in enumerate(self.grid_neighbors()):
            out[j] = np.linalg.norm(W[near] - W[j], axis=1).mean()
        return out.reshape(self.n_rows, self.n_cols)

    def activation_response(self, X: Any) -> np.ndarray:
        """Hit map: how many samples each unit wins, shape (n_rows, n_cols), int64."""
        check_is_fitted(self)
        X = self._check_X(X)
        flat = self._winners_flat(self._standardised(X))
        return np.bincount(flat, minlength=self.n_rows * self.n_cols).reshape(self.n_rows, self.n_cols)

    def labels_map(self, X: Any, y: Any) -> dict[tuple[int, int], Counter]:
        """Labels of the samples each unit wins: ``{(row, col): Counter({label: count})}``.

        Only units that win at least one sample appear.
        """
        check_is_fitted(self)
        X = self._check_X(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise DataError(f"y must be 1-D with one label per row of X; got X {X.shape}, y {y.shape}")
        out: dict[tuple[int, int], Counter] = {}
        for (r, c), label in zip(self.winner(X).tolist(), y.tolist()):
            out.setdefault((r, c), Counter())[label] += 1
        return out

    # ------------------------------------------------------------------ classifier
    def _check_labelled(self) -> None:
        check_is_fitted(self)
        if not hasattr(self, "unit_proba_"):
            raise NotFittedError(
                f"this {type(self).__name__} was fitted without labels; call fit(X, y) to predict "
                "labels, or use winner(X) / transform(X) for the units"
            )

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class shares of each sample's winning unit, shape (n_samples, n_classes).

        A unit's shares are the labels of the training samples it won; a unit that won
        none takes those of the nearest unit on the grid that won some.
        """
        self._check_labelled()
        X = self._check_X(X)
        flat = self._winners_flat(self._standardised(X))
        proba = self.unit_proba_.reshape(-1, len(self.classes_))[flat].astype(np.float64)
        return proba / proba.sum(1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """Label of each sample's winning unit (:attr:`unit_labels_`), shape (n_samples,)."""
        self._check_labelled()
        X = self._check_X(X)
        flat = self._winners_flat(self._standardised(X))
        return self.unit_labels_.reshape(-1)[flat]
