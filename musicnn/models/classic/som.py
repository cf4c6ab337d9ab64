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

This module holds the estimator; grids, neighbourhoods, schedules, initialisations and
the update rules live in :mod:`musicnn.models.classic.som_kernels`.  Everything runs in
torch (CPU by default, ``device=`` for a GPU); squared distances come from
``||x||^2 - 2 x.w + ||w||^2`` (one matrix product for a whole batch of samples).  Online, the winners of ``batch_size`` consecutive presentations are searched in one such
product, against the prototypes as they stand before the first of them; Kohonen's rule is
then applied to each presentation in turn, exactly, in closed form
(:func:`~musicnn.models.classic.som_kernels.kohonen_updates`).
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
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported by fit alone
    import torch

from musicnn.checks import check_bool, check_choice, check_float, check_int, resolve_device, validate_arrays
from musicnn.errors import ConfigError, DataError
from musicnn.models.classic.readout import check_fitted_with_labels
from musicnn.models.classic.som_grid import (
    DECAY_NAMES,
    GRID_EPS,
    INIT_NAMES,
    NEIGHBORHOOD_NAMES,
    TOPOLOGIES,
    best_units,
    grid_distances,
    grid_positions,
)
from musicnn.models.estimator import BaseEstimator, ClassifierMixin, TransformerMixin, check_is_fitted
from musicnn.models.state import ArrayStateMixin
from musicnn.progress import progress_bar
from musicnn.runtime import single_thread
from musicnn.scaling import fit_standardiser, standardise

__all__ = ["MODES", "SOM"]

MODES = ("online", "batch")


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
    lr : float, default=0.5
        Initial learning rate ``eta``, in (0, 1] (online only).
    lr_final : float, default=0.01
        ``eta`` at the last presentation (online only).
    decay : {"exponential", "linear", "inverse"}, default="exponential"
        How ``eta`` and ``sigma`` go from initial to final values (:data:`DECAYS`), as a
        function of the progress ``s = t / (T - 1)``: per presentation online, per epoch in
        batch mode.
    mode : {"online", "batch"}, default="online"
        ``"online"``: Kohonen's rule, sample after sample; ``"batch"``: the batch map.
    max_epochs : int, default=20
        Passes over the data (online: ``max_epochs * n_samples`` presentations).
    max_samples : int or None, default=None
        When given, train for that many sample presentations instead of ``max_epochs``
        epochs (as MiniSom's ``num_iteration``): online, the last pass over the data is
        partial; in batch mode it is rounded up to whole epochs.
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
        Epochs run (passes over the data; online with ``max_samples`` the last one may be
        partial).  There is no early stop: ``max_epochs``, or ``max_samples`` in epochs.
    n_samples_seen_ : int
        Sample presentations made: ``n_iter_ * n_samples``, or ``max_samples`` online.
    history_ : dict
        Per epoch: ``"quantization_error"``, and the ``"sigma"`` and (online) ``"lr"``
        of the epoch's last step.  The quantization error is, online, the
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
    features) run on one thread (:func:`musicnn.runtime.single_thread`), set for the step
    and restored after: on a busy machine, waiting for a second core to join each operation
    costs far more than it saves (measured 15x slower with two threads on a shared 2-core
    machine).  The online mode keeps a (U, U) table of grid distances, so maps of many
    thousands of units need memory for it.

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
        lr: float = 0.5,
        lr_final: float = 0.01,
        decay: str = "exponential",
        mode: str = "online",
        max_epochs: int = 20,
        max_samples: int | None = None,
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
        self.lr = lr
        self.lr_final = lr_final
        self.decay = decay
        self.mode = mode
        self.max_epochs = max_epochs
        self.max_samples = max_samples
        self.init = init
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.standardize = standardize
        self.seed = seed
        self.device = device
        self.progress = progress

    _RENAMED = {"learning_rate": "lr", "learning_rate_final": "lr_final"}

    @classmethod
    def _upgrade_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """Hyper-parameters of an older model file in today's names.

        ``learning_rate`` and ``learning_rate_final`` became ``lr`` and ``lr_final``;
        ``n_iter`` counted ``iter_unit``: epochs (now ``max_epochs``) or, with
        ``iter_unit="sample"``, presentations (now ``max_samples``).
        """
        params = super()._upgrade_params(params)
        unit = params.pop("iter_unit", "epoch")
        if "n_iter" in params:
            params["max_samples" if unit == "sample" else "max_epochs"] = params.pop("n_iter")
        return params

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_int("n_rows", self.n_rows, minimum=1)
        check_int("n_cols", self.n_cols, minimum=1)
        if self.n_rows * self.n_cols < 2:
            raise ConfigError(f"a {self.n_rows}x{self.n_cols} map has one unit; give it at least 2 units")
        check_choice("topology", self.topology, TOPOLOGIES)
        check_choice("neighborhood", self.neighborhood, NEIGHBORHOOD_NAMES)
        check_choice("decay", self.decay, DECAY_NAMES)
        check_choice("mode", self.mode, MODES)
        check_choice("init", self.init, INIT_NAMES)
        if self.sigma is not None:
            check_float("sigma", self.sigma, low=0.0, low_inclusive=False)
        check_float("sigma_final", self.sigma_final, low=0.0, low_inclusive=False)
        for name in ("lr", "lr_final"):
            value = getattr(self, name)
            check_float(name, value, low=0.0, low_inclusive=False)
            if value > 1:
                raise ConfigError(f"{name}={value!r} must be in (0, 1]: Kohonen's rule moves a unit "
                                  "at most all the way to the sample")
        check_int("max_epochs", self.max_epochs, minimum=1)
        if self.max_samples is not None:
            check_int("max_samples", self.max_samples, minimum=1)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("seed", self.seed, minimum=0)
        for name in ("shuffle", "standardize", "progress"):
            check_bool(name, getattr(self, name))
        if self.mode == "batch" and self.neighborhood == "mexican_hat":
            raise ConfigError(
                "neighborhood='mexican_hat' cannot drive mode='batch': the batch map averages the data "
                "with the neighbourhood weights, which must not be negative; use mode='online' or "
                "neighborhood='gaussian'/'bubble'"
            )

    def _sigma0(self) -> float:
        return float(self.sigma) if self.sigma is not None else max(self.n_rows, self.n_cols) / 2.0

    def _length(self, n: int) -> tuple[int, int]:
        """Epochs and sample presentations of a fit on ``n`` samples."""
        if self.max_samples is None:
            return int(self.max_epochs), int(self.max_epochs) * n
        epochs = math.ceil(int(self.max_samples) / n)
        return epochs, int(self.max_samples) if self.mode == "online" else epochs * n

    # ------------------------------------------------------------------ geometry
    def unit_positions(self) -> np.ndarray:
        """Positions of the units in the plane, shape (n_rows, n_cols, 2) (see :func:`grid_positions`)."""
        check_int("n_rows", self.n_rows, minimum=1)
        check_int("n_cols", self.n_cols, minimum=1)
        return grid_positions(int(self.n_rows), int(self.n_cols), self.topology)

    def grid_neighbors(self) -> list[list[int]]:
        """Flat indices of each unit's grid neighbours (the units at grid distance 1)."""
        D = grid_distances(self.unit_positions())
        near = (D > GRID_EPS) & (D <= 1.0 + GRID_EPS)
        return [np.flatnonzero(row).tolist() for row in near]

    def _codebook(self) -> np.ndarray:
        """Standardised prototypes, shape (U, d), float32."""
        return self._standardised(self.weights_.reshape(-1, self.weights_.shape[-1]))

    def _standardised(self, X: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(standardise(X, self.mean_, self.scale_, np.float32))

    def _inputs(self, X: Any) -> np.ndarray:
        """The standardised inputs of a query, checked against the fitted map."""
        check_is_fitted(self)
        return self._standardised(validate_arrays(self, X, reset=False, dtype=np.float32))

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
            X = validate_arrays(self, X, reset=True, dtype=np.float32)
        else:
            X, y = validate_arrays(self, X, y, reset=True, dtype=np.float32)
            from sklearn.utils.multiclass import check_classification_targets

            try:  # one class is allowed: the map is learned without the labels
                check_classification_targets(y)
            except ValueError as err:
                raise DataError(f"{err}; y must hold class labels") from err
        n, d = X.shape
        if n < 2:
            raise DataError(f"{type(self).__name__} needs at least 2 samples to fit; got n_samples={n}")
        mean, scale = fit_standardiser(X) if self.standardize else (np.zeros(d), np.ones(d))
        self.mean_, self.scale_ = mean.astype(np.float32), scale.astype(np.float32)
        for stale in ("classes_", "unit_counts_", "unit_proba_", "unit_labels_"):
            self.__dict__.pop(stale, None)

        import torch

        from musicnn.models.classic.som_kernels import INITS

        positions = self.unit_positions()
        generator = torch.Generator().manual_seed(int(self.seed))
        Xs = torch.from_numpy(self._standardised(X))
        W = INITS[self.init](Xs, positions, generator).to(torch.float32)
        grid = torch.from_numpy(grid_distances(positions).astype(np.float32))
        Xd, W, grid = Xs.to(device), W.to(device), grid.to(device)
        epochs, presentations = self._length(n)
        if self.mode == "online":
            W, history = self._fit_online(Xd, W, grid, generator, presentations)
        else:
            W, history = self._fit_batch(Xd, W, grid, epochs)

        W = W.cpu().double().numpy() * scale + mean
        self.weights_ = W.reshape(self.n_rows, self.n_cols, d).astype(np.float32)
        self.n_iter_ = epochs
        self.n_samples_seen_ = presentations
        self.history_ = history
        if y is not None:
            self._label_units(X, y)
        return self

    def _fit_online(self, X: torch.Tensor, W: torch.Tensor, grid: torch.Tensor,
                    generator: torch.Generator, total: int) -> tuple[torch.Tensor, dict[str, list[float]]]:
        """Kohonen's rule for ``total`` presentations, in epochs of shuffled samples."""
        import torch

        from musicnn.models.classic.som_kernels import DECAYS, PROFILES, SMALL_WORK, kohonen_updates

        n = X.shape[0]
        profile, decay = PROFILES[self.neighborhood], DECAYS[self.decay]
        sigma0, sigma1 = self._sigma0(), float(self.sigma_final)
        eta0, eta1 = float(self.lr), float(self.lr_final)
        step, denom = int(self.batch_size), max(total - 1, 1)
        grid2 = grid * grid
        history: dict[str, list[float]] = {"quantization_error": [], "sigma": [], "lr": []}
        t = 0
        with progress_bar(total, "SOM (online)", "sample", bool(self.progress)) as bar:
            while t < total:
                order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
                order = order[: total - t].to(X.device)
                m = order.shape[0]
                s = torch.arange(t, t + m, device=X.device, dtype=torch.float64) / denom
                etas = decay(eta0, eta1, s).to(X.dtype)
                inv_s2 = (1.0 / decay(sigma0, sigma1, s) ** 2).to(X.dtype).unsqueeze(1)
                Xo = X[order]
                best = torch.empty(m, dtype=X.dtype, device=X.device)  # w2 - 2 x.w of each winner
                with single_thread(X.device, enabled=step * W.shape[0] * X.shape[1] < SMALL_WORK):
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
                history["lr"].append(float(etas[-1]))
        return W, history

    def _fit_batch(self, X: torch.Tensor, W: torch.Tensor, grid: torch.Tensor,
                   n_epochs: int) -> tuple[torch.Tensor, dict[str, list[float]]]:
        """The batch map for ``n_epochs`` epochs."""
        import torch

        from musicnn.models.classic.som_kernels import DECAYS, PROFILES, SMALL_WORK
        from musicnn.models.classic.som_kernels import best_units as torch_best_units

        n, d = X.shape
        profile, decay = PROFILES[self.neighborhood], DECAYS[self.decay]
        sigma0, sigma1 = self._sigma0(), float(self.sigma_final)
        grid2 = grid * grid
        history: dict[str, list[float]] = {"quantization_error": [], "sigma": []}
        n_units = W.shape[0]
        with progress_bar(n_epochs, "SOM (batch)", "epoch", bool(self.progress)) as bar:
            d2, c = torch_best_units(X, W)
            for epoch in range(n_epochs):
                sigma = decay(sigma0, sigma1, torch.tensor(epoch / max(n_epochs - 1, 1), dtype=torch.float64))
                with single_thread(X.device, enabled=n * n_units * d < SMALL_WORK):
                    c = c[:, 0]
                    hits = torch.bincount(c, minlength=n_units).to(X.dtype)
                    sums = torch.zeros(n_units, d, dtype=X.dtype, device=X.device).index_add_(0, c, X)
                    H = profile(grid2 / float(sigma) ** 2)  # h_{j,u}, symmetric (U, U)
                    num, den = H @ sums, H @ hits
                    # w_j = sum_i h_{j,c(i)} x_i / sum_i h_{j,c(i)}; a unit no sample reaches keeps its place
                    W = torch.where(den.unsqueeze(1) > 1e-12, num / den.clamp_min(1e-12).unsqueeze(1), W)
                d2, c = torch_best_units(X, W)
                history["quantization_error"].append(float(d2.sqrt().mean()))
                history["sigma"].append(float(sigma))
                bar.update(1)
        return W, history

    def _label_units(self, X: np.ndarray, y: np.ndarray) -> None:
        classes, y_idx = np.unique(y, return_inverse=True)
        units = self._winners(self._standardised(X))
        n_units, k = self.n_rows * self.n_cols, len(classes)
        counts = np.zeros((n_units, k), dtype=np.float64)
        np.add.at(counts, (units, y_idx), 1.0)
        won = counts.sum(1) > 0
        D = grid_distances(self.unit_positions())
        nearest = np.flatnonzero(won)[D[:, won].argmin(1)]  # a unit that won itself is its own nearest
        filled = counts[nearest]
        proba = filled / filled.sum(1, keepdims=True)
        self.classes_ = classes
        shape = (self.n_rows, self.n_cols)
        self.unit_counts_ = counts.reshape(*shape, k).astype(np.float32)
        self.unit_proba_ = proba.reshape(*shape, k).astype(np.float32)
        self.unit_labels_ = classes[proba.argmax(1)].reshape(shape)

    # ------------------------------------------------------------------ queries
    def _winners(self, Xs: np.ndarray) -> np.ndarray:
        """Flat index of the best-matching unit of each standardised sample."""
        return best_units(Xs, self._codebook())[1][:, 0]

    def _grid_coords(self, flat: np.ndarray) -> np.ndarray:
        return np.stack(np.unravel_index(flat, (self.n_rows, self.n_cols)), axis=1).astype(np.int64)

    def winner(self, X: Any) -> np.ndarray:
        """Grid coordinates (row, col) of the best-matching unit of each sample.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features) or (n_features,)

        Returns
        -------
        np.ndarray of int64, shape (n_samples, 2), or (2,) for one sample given as 1-D
        """
        single = np.ndim(X) == 1
        rc = self._grid_coords(self._winners(self._inputs(np.asarray(X)[None] if single else X)))
        return rc[0] if single else rc

    def transform(self, X: Any) -> np.ndarray:
        """Position in the plane of each sample's winner: the map as a 2-D embedding.

        Returns
        -------
        np.ndarray of float64, shape (n_samples, 2)
            (row axis, column axis) coordinates (:meth:`unit_positions`): the winner's
            (row, col) on a rectangular grid, offset rows on a hexagonal one.
        """
        flat = self._winners(self._inputs(X))
        return self.unit_positions().reshape(-1, 2)[flat].astype(np.float64)

    def quantize(self, X: Any) -> np.ndarray:
        """The prototype of each sample's winner, in input units, shape (n_samples, n_features)."""
        flat = self._winners(self._inputs(X))
        return self.weights_.reshape(-1, self.weights_.shape[-1])[flat]

    def quantization_error(self, X: Any) -> float:
        """Mean distance between each sample and its winner's prototype (standardised space)."""
        d2, _ = best_units(self._inputs(X), self._codebook())
        return float(np.sqrt(d2).mean())

    def topographic_error(self, X: Any) -> float:
        """Share of samples whose best and second-best units are not grid neighbours.

        Neighbours are the units at grid distance 1 (4 on the rectangular grid, 6 on the
        hexagonal one; MiniSom counts diagonals as neighbours on rectangular grids, which
        gives lower figures).  0 means the map keeps the topology of every sample.
        """
        _, units = best_units(self._inputs(X), self._codebook(), k=2)
        pos = self.unit_positions().reshape(-1, 2)
        gap = np.linalg.norm(pos[units[:, 0]] - pos[units[:, 1]], axis=1)
        return float(np.mean(gap > 1.0 + GRID_EPS))

    def distance_map(self) -> np.ndarray:
        """U-matrix: mean distance of each unit's prototype to those of its grid neighbours.

        Returns
        -------
        np.ndarray of float64, shape (n_rows, n_cols)
            Large values mark borders between clusters (standardised space).
        """
        check_is_fitted(self)
        W = self._codebook().astype(np.float64)
        out = np.empty(W.shape[0])
        for j, near in enumerate(self.grid_neighbors()):
            out[j] = np.linalg.norm(W[near] - W[j], axis=1).mean()
        return out.reshape(self.n_rows, self.n_cols)

    def activation_response(self, X: Any) -> np.ndarray:
        """Hit map: how many samples each unit wins, shape (n_rows, n_cols), int64."""
        flat = self._winners(self._inputs(X))
        return np.bincount(flat, minlength=self.n_rows * self.n_cols).reshape(self.n_rows, self.n_cols)

    def labels_map(self, X: Any, y: Any) -> dict[tuple[int, int], Counter]:
        """Labels of the samples each unit wins: ``{(row, col): Counter({label: count})}``.

        Only units that win at least one sample appear.
        """
        Xs = self._inputs(X)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(Xs):
            raise DataError(f"y must be 1-D with one label per row of X; got X {tuple(Xs.shape)}, y {y.shape}")
        out: dict[tuple[int, int], Counter] = {}
        for (r, c), label in zip(self._grid_coords(self._winners(Xs)).tolist(), y.tolist()):
            out.setdefault((r, c), Counter())[label] += 1
        return out

    # ------------------------------------------------------------------ classifier
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class shares of each sample's winning unit, shape (n_samples, n_classes).

        A unit's shares are the labels of the training samples it won; a unit that won
        none takes those of the nearest unit on the grid that won some.
        """
        check_fitted_with_labels(self, "winner(X) and transform(X) work")
        flat = self._winners(self._inputs(X))
        proba = self.unit_proba_.reshape(-1, len(self.classes_))[flat].astype(np.float64)
        return proba / proba.sum(1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """Label of each sample's winning unit (:attr:`unit_labels_`), shape (n_samples,)."""
        check_fitted_with_labels(self, "winner(X) and transform(X) work")
        flat = self._winners(self._inputs(X))
        return self.unit_labels_.reshape(-1)[flat]
