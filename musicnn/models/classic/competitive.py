"""Competitive learning: winner-take-all prototypes, with or without a conscience.

In the course's words, in competitive learning "neurons compete": "only one output unit is
active at any given time", "the unit with largest output wins", and only the winner ``c``
learns, by moving its weight vector toward the input::

    Delta w_c = eta (x - w_c)

:class:`CompetitiveLearning` is that rule, unsupervised, optionally with DeSieno's
*conscience* (units that win too often are handicapped, so that none stays dead).
:class:`~musicnn.models.classic.lvq.LVQ` (learning vector quantization, in its own module)
is its supervised form: prototypes carry a class, and the winner moves toward ``x`` when
its class is ``x``'s, away otherwise.

Both apply the rule example by example, in a shuffled order, with a decaying learning
rate.  To be fast they evaluate the competition for a mini-batch of examples at once
(with the weights as they were at the start of the batch) and then apply the batch's
moves, in order, in closed form (:func:`apply_moves`); ``batch_size=1`` is the rule
exactly as written, one example at a time.  This module holds what the two share: the
moves (:func:`apply_moves`), the decaying learning rate (:func:`decaying_rates`) and the
stop on a plateau (:func:`plateau_stopper`).
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from musicnn.checks import (check_bool, check_choice, check_cpu_device, check_float, check_int, class_targets,
                            validate_arrays)
from musicnn.errors import ConfigError, DataError
from musicnn.models.classic.clustering import squared_distances
from musicnn.models.estimator import BaseEstimator, TransformerMixin, check_is_fitted
from musicnn.models.state import ArrayStateMixin
from musicnn.progress import progress_bar
from musicnn.scaling import fit_standardiser, standardise

__all__ = ["CompetitiveLearning", "apply_moves", "decaying_rates", "plateau_stopper"]

#: Initial weights of :class:`CompetitiveLearning` (an array is also accepted).
INITS = ("samples", "random")

#: Epochs without an improvement larger than ``tol`` before training stops.
N_ITER_NO_CHANGE = 5


# ---------------------------------------------------------------------- shared helpers
def apply_moves(W: np.ndarray, units: np.ndarray, X: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Apply ``w_u <- w_u + r_j (x_j - w_u)`` for a sequence of moves, in order, in closed form.

    Move ``j`` pulls unit ``units[j]`` toward ``X[j]`` with rate ``rates[j]`` (a negative
    rate pushes it away).  Applied one after the other, the moves of one unit compose to::

        w_u <- prod_j a_j w_u + sum_j r_j (prod_{k > j} a_k) x_j,    a_j = 1 - r_j

    (products over that unit's moves), which is computed for every unit at once.

    Parameters
    ----------
    W : np.ndarray, shape (n_units, n_features)
        Weights before the moves (not modified).
    units : np.ndarray of int, shape (n_moves,)
        Unit moved by each move.
    X : np.ndarray, shape (n_moves, n_features)
        Input of each move.
    rates : np.ndarray, shape (n_moves,)
        Signed rate of each move, ``-1 < rate < 1``.

    Returns
    -------
    np.ndarray, shape (n_units, n_features)
        Weights after the moves.
    """
    W = W.copy()
    if len(units) == 0:
        return W
    order = np.argsort(units, kind="stable")  # group by unit, keeping each unit's order
    units, X, rates = units[order], X[order], rates[order]
    log_a = np.log1p(-rates)
    starts = np.flatnonzero(np.r_[True, units[1:] != units[:-1]])
    group = np.cumsum(np.r_[False, units[1:] != units[:-1]])
    running = np.cumsum(log_a)
    before = np.r_[0.0, running][starts]  # sum of log_a before each group
    total = np.add.reduceat(log_a, starts)
    after = total[group] - (running - before[group])  # sum of log_a over the later moves
    pulled = np.add.reduceat((rates * np.exp(after))[:, None] * X, starts, axis=0)
    moved = units[starts]
    W[moved] = np.exp(total)[:, None] * W[moved] + pulled
    return W


def decaying_rates(lr: float, decay: float, seen: int, count: int, n: int) -> np.ndarray:
    """``eta(t) = lr / (1 + decay t)`` for examples ``seen .. seen+count-1`` of ``n`` per epoch.

    ``t`` counts epochs, fractionally: example ``seen`` of a training run is at ``t = seen / n``.
    """
    t = (seen + np.arange(count)) / n
    return lr / (1.0 + decay * t)


def _normalise_rows(A: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    return A / np.where(norms > 0, norms, 1.0)


def plateau_stopper(tol: float, relative: bool) -> Callable[[float], bool]:
    """A function of each epoch's loss telling whether training has stalled.

    It answers True once the loss has not gone below its best so far by more than ``tol``
    (times the best when ``relative``) for :data:`N_ITER_NO_CHANGE` epochs in a row.
    """
    state = {"best": np.inf, "stale": 0}

    def stalled(value: float) -> bool:
        margin = tol * abs(state["best"]) if relative and np.isfinite(state["best"]) else tol
        state["stale"] = state["stale"] + 1 if value > state["best"] - margin else 0
        state["best"] = min(state["best"], value)
        return state["stale"] >= N_ITER_NO_CHANGE

    return stalled


# ---------------------------------------------------------------------- competitive learning
class CompetitiveLearning(ArrayStateMixin, TransformerMixin, BaseEstimator):
    """Winner-take-all competitive learning, with or without a conscience.

    ``n_units`` output units, each fully connected to the (standardised) inputs by a weight
    vector ``w_i``, compete for every input ``x``: the unit with the largest output wins,
    and only the winner ``c`` learns, by the course's rule::

        Delta w_c = eta (x - w_c)

    **The outputs.**  With ``normalize=False`` the output of unit ``i`` is
    ``h_i = w_i . x - ||w_i||^2 / 2`` (a weighted sum whose threshold, the course's virtual
    weight ``w_0``, is ``||w_i||^2 / 2``), so the largest output is the unit nearest to
    ``x``: the weights become prototypes in input space (online k-means).  With
    ``normalize=True`` inputs are scaled to unit length (after standardisation), weights
    are kept at unit length (renormalised after each mini-batch) and ``h_i = w_i . x``:
    the classic formulation, in which the units learn directions.

    **The conscience** (DeSieno, 1988).  Each unit keeps an estimate ``p_i`` of how often
    it wins (the unit of largest output, before any handicap), updated after every input
    by ``p_i <- p_i + beta (z_i - p_i)`` (``z_i = 1`` for that unit, 0 otherwise; every
    ``p_i`` starts at ``1/N``).  The competition that decides who learns is then biased::

        c = argmax_i (h_i + b_i),    b_i = gamma * s * (1/N - p_i)

    so a unit that wins more than its share ``1/N`` is handicapped and one that never wins
    is favoured, until it wins and joins the data.  ``s`` puts the bias in the outputs'
    units: 1 with ``normalize=True``, else half the mean squared norm of the standardised
    training vectors (half their total variance).  ``gamma`` is DeSieno's ``C`` (the
    strength of the conscience) and ``beta`` his ``B`` (the memory of the win counts).

    **Training.**  Inputs are shown in a shuffled order each epoch, with the learning rate
    ``eta(t) = lr / (1 + lr_decay * t)`` (``t`` in epochs, fractional).  The competition is
    evaluated for a mini-batch at once, then the batch's updates are applied in order
    (:func:`apply_moves`).  Training stops when the mean squared distance from the inputs
    to their winner has not improved by more than ``tol`` (relative) for 5 epochs, or
    after ``max_epochs`` (ConvergenceWarning).

    **Labels.**  ``fit(X)`` learns the prototypes only; :meth:`predict` then returns the
    winning unit.  ``fit(X, y)`` also gives each unit the majority label of the training
    items it wins (a unit that wins none takes the label of the nearest unit that wins
    some, nearest in input space): :meth:`predict` then returns labels and
    :meth:`predict_proba` the label frequencies among the training items of the winner.

    Parameters
    ----------
    n_units : int, default=128
        Competing units (prototypes).
    normalize : bool, default=False
        Unit-length inputs and weights with outputs ``w . x`` (see above).
    conscience : bool, default=False
        Use DeSieno's conscience.
    conscience_beta : float, default=1e-3
        ``beta``: rate of the win-frequency estimates, in (0, 1].
    conscience_gamma : float, default=10.0
        ``gamma``: strength of the bias (>= 0).
    lr : float, default=0.1
        Initial learning rate ``eta``, in (0, 1).
    lr_decay : float, default=1.0
        Decay of the learning rate per epoch (>= 0; 0 keeps it constant).
    max_epochs : int, default=100
        Most passes over the training data.
    tol : float, default=1e-4
        Smallest relative improvement of the mean squared distance that counts.
    batch_size : int, default=32
        Inputs whose competition is evaluated at once (1: strictly one by one).
    init : {"samples", "random"} or array of shape (n_units, n_features), default="samples"
        Initial weights: distinct training vectors drawn at random; small random values
        (``N(0, 0.01^2)`` in standardised units, the course's "small random values"); or
        given, in input units.
    seed : int, default=0
        Seeds the initial weights and the order of presentation.
    device : str, default="cpu"
        Accepted for a uniform interface; training runs in numpy (``"cpu"`` or ``"auto"``).
    progress : bool, default=True
        Progress bar over epochs (on a terminal).

    Attributes
    ----------
    weights_ : np.ndarray, shape (n_units, n_features)
        The units' weight vectors, in standardised units (unit length if ``normalize``).
    mean_, scale_ : np.ndarray, shape (n_features,)
        Standardisation of the inputs.
    n_features_in_ : int
    win_counts_ : np.ndarray of int, shape (n_units,)
        Training items won by each unit at the end (unbiased competition).
    win_frequencies_ : np.ndarray, shape (n_units,)
        The conscience's estimates ``p_i`` at the end (all ``1/N`` without a conscience).
    n_epochs_ : int
    loss_curve_ : list of float
        Mean squared distance from the training inputs to their winner, after each epoch.
    classes_ : np.ndarray, shape (n_classes,)
        Labels seen by ``fit(X, y)`` (absent after ``fit(X)``).
    unit_labels_ : np.ndarray, shape (n_units,)
        Label of each unit (after ``fit(X, y)``).
    unit_proba_ : np.ndarray, shape (n_units, n_classes)
        Label frequencies among each unit's training items (after ``fit(X, y)``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-5, 1, (50, 2)), rng.normal(5, 1, (50, 2))])
    >>> net = CompetitiveLearning(n_units=2, progress=False).fit(X)
    >>> sorted(np.round(net.prototypes()[:, 0]).tolist())
    [-5.0, 5.0]
    """

    def __init__(
        self,
        *,
        n_units: int = 128,
        normalize: bool = False,
        conscience: bool = False,
        conscience_beta: float = 1e-3,
        conscience_gamma: float = 10.0,
        lr: float = 0.1,
        lr_decay: float = 1.0,
        max_epochs: int = 100,
        tol: float = 1e-4,
        batch_size: int = 32,
        init: Any = "samples",
        seed: int = 0,
        device: str = "cpu",
        progress: bool = True,
    ) -> None:
        self.n_units = n_units
        self.normalize = normalize
        self.conscience = conscience
        self.conscience_beta = conscience_beta
        self.conscience_gamma = conscience_gamma
        self.lr = lr
        self.lr_decay = lr_decay
        self.max_epochs = max_epochs
        self.tol = tol
        self.batch_size = batch_size
        self.init = init
        self.seed = seed
        self.device = device
        self.progress = progress

    def _check_params(self) -> None:
        check_int("n_units", self.n_units, minimum=1)
        for name in ("normalize", "conscience", "progress"):
            check_bool(name, getattr(self, name))
        check_float("conscience_beta", self.conscience_beta, low=0.0, high=1.0 + 1e-12, low_inclusive=False)
        check_float("conscience_gamma", self.conscience_gamma, low=0.0)
        check_float("lr", self.lr, low=0.0, high=1.0, low_inclusive=False)
        check_float("lr_decay", self.lr_decay, low=0.0)
        check_int("max_epochs", self.max_epochs, minimum=1)
        check_float("tol", self.tol, low=0.0)
        check_int("batch_size", self.batch_size, minimum=1)
        if isinstance(self.init, str):
            check_choice("init", self.init, INITS)
        check_int("seed", self.seed, minimum=0)
        check_cpu_device(self, self.device)

    # ------------------------------------------------------------------ geometry
    def _inputs(self, X: np.ndarray) -> np.ndarray:
        """Standardised (and, with ``normalize``, unit-length) inputs."""
        Xs = standardise(X, self.mean_, self.scale_)
        return _normalise_rows(Xs) if self.normalize else Xs

    def _outputs(self, Xs: np.ndarray, W: np.ndarray) -> np.ndarray:
        """``h_i = w_i . x`` (normalised) or ``w_i . x - ||w_i||^2 / 2``; shape (n, n_units)."""
        h = Xs @ W.T
        return h if self.normalize else h - 0.5 * (W * W).sum(axis=1)[None, :]

    def _initial_weights(self, Xs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        N, d = int(self.n_units), Xs.shape[1]
        if isinstance(self.init, str):
            if self.init == "random":
                W = rng.normal(0.0, 0.01, size=(N, d))
            else:  # "samples": distinct training vectors when there are enough
                distinct = np.unique(Xs, axis=0)
                W = distinct[rng.choice(len(distinct), size=N, replace=len(distinct) < N)]
        else:
            try:
                W = np.asarray(self.init, dtype=np.float64)
            except (TypeError, ValueError):
                raise ConfigError(f"init must be one of {', '.join(map(repr, INITS))} or an array of "
                                  f"shape (n_units, n_features); got {type(self.init).__name__}") from None
            if W.shape != (N, d) or not np.isfinite(W).all():
                raise ConfigError(f"init array must be finite with shape (n_units, n_features) = ({N}, {d}); "
                                  f"got shape {W.shape}")
            W = standardise(W, self.mean_, self.scale_)
        return _normalise_rows(W) if self.normalize else W.copy()

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any = None) -> CompetitiveLearning:
        """Learn the units' weights by winner-take-all; with ``y``, label the units.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : array-like, shape (n_samples,), optional
            Labels; each unit then takes the majority label of the items it wins.

        Returns
        -------
        self
        """
        self._check_params()
        if y is None:
            X = validate_arrays(self, X, reset=True)
        else:
            X, y = validate_arrays(self, X, y, reset=True)
            classes, y_idx = class_targets(self, y, hint="label the units with two classes or more, "
                                                        "or fit(X) without labels")
        for stale in ("classes_", "unit_labels_", "unit_proba_"):
            self.__dict__.pop(stale, None)
        self.mean_, self.scale_ = fit_standardiser(X)
        Xs = self._inputs(X)
        n, N = len(Xs), int(self.n_units)
        rng = np.random.default_rng(int(self.seed))
        W = self._initial_weights(Xs, rng)
        scale = 1.0 if self.normalize else 0.5 * float((Xs * Xs).sum(axis=1).mean())
        beta, gamma = float(self.conscience_beta), float(self.conscience_gamma)
        p = np.full(N, 1.0 / N)
        bs, seen, epoch = int(self.batch_size), 0, 0
        curve: list[float] = []
        stalled = plateau_stopper(float(self.tol), relative=True)
        with progress_bar(int(self.max_epochs), "competitive learning", "epoch", bool(self.progress)) as bar:
            for epoch in range(1, int(self.max_epochs) + 1):
                order = rng.permutation(n)
                for start in range(0, n, bs):
                    xb = Xs[order[start:start + bs]]
                    h = self._outputs(xb, W)
                    winners = h.argmax(axis=1)  # the unit with the largest output
                    if self.conscience:
                        learners = (h + gamma * scale * (1.0 / N - p)[None, :]).argmax(axis=1)
                        # p_i <- p_i + beta (z_i - p_i), example by example, in closed form
                        m = len(xb)
                        weights = beta * (1.0 - beta) ** np.arange(m - 1, -1, -1)
                        p = (1.0 - beta) ** m * p + np.bincount(winners, weights=weights, minlength=N)
                        winners = learners
                    rates = decaying_rates(float(self.lr), float(self.lr_decay), seen, len(xb), n)
                    W = apply_moves(W, winners, xb, rates)
                    if self.normalize:
                        W = _normalise_rows(W)
                    seen += len(xb)
                loss = float(squared_distances(Xs, W).min(axis=1).mean())
                curve.append(loss)
                bar.update()
                bar.set_postfix(loss=f"{loss:.4f}")
                if stalled(loss):
                    break
            else:
                from sklearn.exceptions import ConvergenceWarning

                warnings.warn(
                    f"{type(self).__name__}: reached max_epochs={self.max_epochs} before the mean squared "
                    f"distance to the winners stopped improving by tol={self.tol}; raise max_epochs",
                    ConvergenceWarning, stacklevel=2)
        self.weights_ = W
        self.win_frequencies_ = p
        self.n_epochs_ = epoch
        self.loss_curve_ = curve
        winners = self._outputs(Xs, W).argmax(axis=1)
        self.win_counts_ = np.bincount(winners, minlength=N)
        if y is not None:
            self._label_units(winners, classes, y_idx)
        return self

    def _label_units(self, winners: np.ndarray, classes: np.ndarray, y_idx: np.ndarray) -> None:
        """Majority label of each unit's items; winless units copy the nearest labelled unit."""
        N = int(self.n_units)
        counts = np.zeros((N, len(classes)))
        np.add.at(counts, (winners, y_idx), 1.0)
        won = counts.sum(axis=1) > 0
        proba = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
        if not won.all():
            d2 = squared_distances(self.weights_[~won], self.weights_[won])
            proba[~won] = proba[won][d2.argmin(axis=1)]
        self.classes_ = classes
        self.unit_proba_ = proba
        self.unit_labels_ = classes[proba.argmax(axis=1)]

    # ------------------------------------------------------------------ use
    def prototypes(self) -> np.ndarray:
        """The units' weight vectors in input units, shape (n_units, n_features).

        Without ``normalize`` these are the prototypes in the space of ``X``; with it, the
        learned directions mapped back through the standardisation.
        """
        check_is_fitted(self)
        return self.weights_ * self.scale_ + self.mean_

    def winner(self, X: Any) -> np.ndarray:
        """Index of the unit with the largest output for each example, shape (n_samples,)."""
        check_is_fitted(self)
        return self._outputs(self._inputs(validate_arrays(self, X, reset=False)), self.weights_).argmax(axis=1)

    def transform(self, X: Any) -> np.ndarray:
        """Euclidean distance from each example to each unit, shape (n_samples, n_units).

        Distances are measured where the units live: standardised inputs (unit-length ones
        with ``normalize``).  The winner is the nearest unit.
        """
        check_is_fitted(self)
        Xs = self._inputs(validate_arrays(self, X, reset=False))
        return np.sqrt(squared_distances(Xs, self.weights_))

    def quantization_error(self, X: Any) -> float:
        """Mean distance from the examples to their winning unit."""
        check_is_fitted(self)
        Xs = self._inputs(validate_arrays(self, X, reset=False))
        winners = self._outputs(Xs, self.weights_).argmax(axis=1)
        return float(np.linalg.norm(Xs - self.weights_[winners], axis=1).mean())

    def predict(self, X: Any) -> np.ndarray:
        """Label of the winning unit (after ``fit(X, y)``), else the winner's index."""
        check_is_fitted(self)
        winners = self.winner(X)
        return self.unit_labels_[winners] if hasattr(self, "unit_labels_") else winners

    def predict_proba(self, X: Any) -> np.ndarray:
        """Label frequencies among the winning unit's training items, shape (n_samples, n_classes).

        Raises
        ------
        DataError
            When the model was fitted without labels.
        """
        check_is_fitted(self)
        if not hasattr(self, "unit_proba_"):
            raise DataError(f"{type(self).__name__} was fitted without labels (fit(X)), so it has no classes; "
                            "fit it with fit(X, y) to classify")
        return self.unit_proba_[self.winner(X)]

    def score(self, X: Any, y: Any = None) -> float:
        """Accuracy when fitted with labels and given ``y``; else minus the quantization error."""
        if y is not None and hasattr(self, "unit_labels_"):
            return float(np.mean(self.predict(X) == np.asarray(y)))
        return -self.quantization_error(X)
