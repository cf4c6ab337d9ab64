"""Learning vector quantization (LVQ1, LVQ2.1): competitive learning with labelled prototypes.

The supervised form of :mod:`musicnn.models.classic.competitive`: each prototype carries a
class, and the winner of the competition moves toward the input when its class is the
input's, away otherwise.  The moves, the decaying learning rate and the stop on a plateau
are competitive learning's.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from musicnn.checks import (check_bool, check_choice, check_cpu_device, check_float, check_int,
                            labelled_data, validate_arrays)
from musicnn.models.classic.clustering import kmeans, squared_distances
from musicnn.models.classic.competitive import apply_moves, decaying_rates, plateau_stopper
from musicnn.models.estimator import BaseEstimator, ClassifierMixin, check_is_fitted
from musicnn.models.state import ArrayStateMixin
from musicnn.progress import progress_bar
from musicnn.scaling import fit_standardiser, standardise

__all__ = ["LVQ"]

#: Initial prototypes of :class:`LVQ`.
LVQ_INITS = ("kmeans", "samples")
#: Update rules of :class:`LVQ`.
VARIANTS = ("lvq1", "lvq2.1")


class LVQ(ArrayStateMixin, ClassifierMixin, BaseEstimator):
    """Learning vector quantization: labelled prototypes trained by competition.

    Each class owns ``prototypes_per_class`` prototypes (in standardised input space); an
    example takes the class of its nearest prototype.  Training shows the examples in a
    shuffled order each epoch, with the decaying learning rate
    ``eta(t) = lr / (1 + lr_decay * t)`` (``t`` in epochs):

    * ``variant="lvq1"``: the winner ``c`` (nearest prototype) moves toward ``x`` when its
      class is ``x``'s, away otherwise::

          w_c <- w_c + eta (x - w_c)    if class(w_c) == class(x)
          w_c <- w_c - eta (x - w_c)    otherwise

    * ``variant="lvq2.1"``: the two nearest prototypes ``w_i`` (nearer) and ``w_j`` learn
      together when exactly one of them has ``x``'s class and ``x`` falls in the window
      between them, ``d_i / d_j > (1 - window) / (1 + window)`` (``d``: Euclidean
      distances): the right one moves toward ``x``, the wrong one away, both by
      ``eta (x - w)``.  Other examples leave the prototypes alone.

    Prototypes start at the k-means centroids of their class (``init="kmeans"``) or at
    distinct examples of their class drawn at random (``"samples"``).  The competition is
    evaluated for a mini-batch at once, then its moves are applied in order
    (:func:`~musicnn.models.classic.competitive.apply_moves`; ``batch_size=1`` is the
    rule one example at a time).  Training stops when the training error rate has not
    improved by more than ``tol`` for 5 epochs, or after ``max_epochs`` (ConvergenceWarning).

    **Probabilities.**  With ``m_k`` the squared distance from ``x`` to the nearest
    prototype of class ``k``, :meth:`predict_proba` returns ``softmax(-m_k / T)``; the
    temperature ``T`` minimises the log-loss on the training data.  The most probable
    class is the :meth:`predict` one.

    Parameters
    ----------
    prototypes_per_class : int, default=4
        Prototypes of each class (fewer for a class with fewer distinct examples).
    variant : {"lvq1", "lvq2.1"}, default="lvq1"
        Update rule (see above).
    window : float, default=0.3
        Relative window of LVQ2.1, in (0, 1).
    init : {"kmeans", "samples"}, default="kmeans"
        Initial prototypes (see above).
    lr : float, default=0.05
        Initial learning rate, in (0, 1).
    lr_decay : float, default=1.0
        Decay of the learning rate per epoch (>= 0).
    max_epochs : int, default=100
        Most passes over the training data.
    tol : float, default=1e-4
        Smallest improvement of the training error rate that counts.
    batch_size : int, default=32
        Examples whose competition is evaluated at once.
    seed : int, default=0
        Seeds the initial prototypes and the order of presentation.
    device : str, default="cpu"
        Accepted for a uniform interface; training runs in numpy (``"cpu"`` or ``"auto"``).
    progress : bool, default=True
        Progress bar over epochs (on a terminal).

    Attributes
    ----------
    classes_ : np.ndarray, shape (n_classes,)
    n_features_in_ : int
    mean_, scale_ : np.ndarray, shape (n_features,)
        Standardisation of the inputs.
    prototypes_ : np.ndarray, shape (n_prototypes, n_features)
        Prototypes, in standardised units.
    prototype_classes_ : np.ndarray of int, shape (n_prototypes,)
        Index into ``classes_`` of each prototype's class.
    temperature_ : float
        ``T`` of :meth:`predict_proba`.
    n_epochs_ : int
    loss_curve_ : list of float
        Training error rate after each epoch.
    """

    def __init__(
        self,
        *,
        prototypes_per_class: int = 4,
        variant: str = "lvq1",
        window: float = 0.3,
        init: str = "kmeans",
        lr: float = 0.05,
        lr_decay: float = 1.0,
        max_epochs: int = 100,
        tol: float = 1e-4,
        batch_size: int = 32,
        seed: int = 0,
        device: str = "cpu",
        progress: bool = True,
    ) -> None:
        self.prototypes_per_class = prototypes_per_class
        self.variant = variant
        self.window = window
        self.init = init
        self.lr = lr
        self.lr_decay = lr_decay
        self.max_epochs = max_epochs
        self.tol = tol
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.progress = progress

    def _check_params(self) -> None:
        check_int("prototypes_per_class", self.prototypes_per_class, minimum=1)
        check_choice("variant", self.variant, VARIANTS)
        check_float("window", self.window, low=0.0, high=1.0, low_inclusive=False)
        check_choice("init", self.init, LVQ_INITS)
        check_float("lr", self.lr, low=0.0, high=1.0, low_inclusive=False)
        check_float("lr_decay", self.lr_decay, low=0.0)
        check_int("max_epochs", self.max_epochs, minimum=1)
        check_float("tol", self.tol, low=0.0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_cpu_device(self, self.device)
        check_bool("progress", self.progress)

    def fit(self, X: Any, y: Any) -> LVQ:
        """Place prototypes per class, then train them by LVQ1 or LVQ2.1.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)
            Class labels.

        Returns
        -------
        self
        """
        self._check_params()
        X, classes, y_idx = labelled_data(self, X, y)
        self.classes_ = classes
        self.mean_, self.scale_ = fit_standardiser(X)
        Xs = standardise(X, self.mean_, self.scale_)
        rng = np.random.default_rng(int(self.seed))
        W, owner = self._initial_prototypes(Xs, y_idx, rng)

        n, bs, seen, epoch = len(Xs), int(self.batch_size), 0, 0
        lvq21 = self.variant == "lvq2.1"
        ratio = (1.0 - float(self.window)) / (1.0 + float(self.window))
        curve: list[float] = []
        stalled = plateau_stopper(float(self.tol), relative=False)
        with progress_bar(int(self.max_epochs), f"{self.variant}", "epoch", bool(self.progress)) as bar:
            for epoch in range(1, int(self.max_epochs) + 1):
                order = rng.permutation(n)
                for start in range(0, n, bs):
                    idx = order[start:start + bs]
                    xb, cb = Xs[idx], y_idx[idx]
                    d2 = squared_distances(xb, W)
                    eta = decaying_rates(float(self.lr), float(self.lr_decay), seen, len(idx), n)
                    if lvq21:
                        units, inputs, rates = self._lvq21_moves(xb, cb, d2, owner, eta, ratio)
                    else:
                        c = d2.argmin(axis=1)
                        units, inputs, rates = c, xb, np.where(owner[c] == cb, eta, -eta)
                    W = apply_moves(W, units, inputs, rates)
                    seen += len(idx)
                error = float(np.mean(owner[squared_distances(Xs, W).argmin(axis=1)] != y_idx))
                curve.append(error)
                bar.update()
                bar.set_postfix(error=f"{error:.4f}")
                if stalled(error):
                    break
            else:
                from sklearn.exceptions import ConvergenceWarning

                warnings.warn(
                    f"{type(self).__name__}: reached max_epochs={self.max_epochs} before the training error stopped "
                    f"improving by tol={self.tol}; raise max_epochs", ConvergenceWarning, stacklevel=2)
        self.prototypes_ = W
        self.prototype_classes_ = owner
        self.n_epochs_ = epoch
        self.loss_curve_ = curve
        self.temperature_ = self._fit_temperature(self._class_distances(Xs), y_idx)
        return self

    def _initial_prototypes(self, Xs: np.ndarray, y_idx: np.ndarray,
                            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        protos, owner = [], []
        for k in range(len(self.classes_)):
            Xk = np.unique(Xs[y_idx == k], axis=0)
            m = min(int(self.prototypes_per_class), len(Xk))
            if self.init == "kmeans":
                P = kmeans(Xk, m, rng=rng)[0]
            else:
                P = Xk[rng.choice(len(Xk), size=m, replace=False)]
            protos.append(P)
            owner.append(np.full(m, k))
        return np.concatenate(protos), np.concatenate(owner)

    @staticmethod
    def _lvq21_moves(xb: np.ndarray, cb: np.ndarray, d2: np.ndarray, owner: np.ndarray, eta: np.ndarray,
                     ratio: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LVQ2.1's moves for one batch: (units, inputs, signed rates), in example order."""
        if d2.shape[1] < 2:
            return np.empty(0, dtype=int), xb[:0], np.empty(0)
        two = np.argpartition(d2, 1, axis=1)[:, :2]
        rows = np.arange(len(xb))
        swap = d2[rows, two[:, 0]] > d2[rows, two[:, 1]]
        two[swap] = two[swap][:, ::-1]
        i, j = two[:, 0], two[:, 1]
        right_i, right_j = owner[i] == cb, owner[j] == cb
        di, dj = np.sqrt(d2[rows, i]), np.sqrt(d2[rows, j])
        in_window = di > ratio * dj  # min(di/dj, dj/di) = di/dj > ratio, as di <= dj
        ok = (right_i != right_j) & in_window
        right = np.where(right_i, i, j)[ok]
        wrong = np.where(right_i, j, i)[ok]
        units = np.stack([right, wrong], axis=1).ravel()
        inputs = np.repeat(xb[ok], 2, axis=0)
        rates = np.stack([eta[ok], -eta[ok]], axis=1).ravel()
        return units, inputs, rates

    def _class_distances(self, Xs: np.ndarray) -> np.ndarray:
        """Squared distance to the nearest prototype of each class, shape (n, n_classes)."""
        d2 = squared_distances(Xs, self.prototypes_)
        out = np.full((len(Xs), len(self.classes_)), np.inf)
        for k in range(len(self.classes_)):
            out[:, k] = d2[:, self.prototype_classes_ == k].min(axis=1)
        return out

    @staticmethod
    def _fit_temperature(m: np.ndarray, y_idx: np.ndarray) -> float:
        """``T`` minimising the training log-loss of ``softmax(-m / T)``."""
        from scipy.optimize import minimize_scalar
        from scipy.special import logsumexp

        ref = float(np.median(m.min(axis=1)))
        ref = ref if ref > 0 else 1.0
        rows = np.arange(len(m))

        def nll(log_t: float) -> float:
            z = -m / np.exp(log_t)
            return float(np.mean(logsumexp(z, axis=1) - z[rows, y_idx]))

        res = minimize_scalar(nll, bounds=(np.log(ref) - 9.0, np.log(ref) + 9.0), method="bounded")
        return float(np.exp(res.x))

    def predict(self, X: Any) -> np.ndarray:
        """Class of the nearest prototype, shape (n_samples,)."""
        check_is_fitted(self)
        Xs = standardise(validate_arrays(self, X, reset=False), self.mean_, self.scale_)
        return self.classes_[self.prototype_classes_[squared_distances(Xs, self.prototypes_).argmin(axis=1)]]

    def predict_proba(self, X: Any) -> np.ndarray:
        """``softmax(-m_k / T)`` over the classes, shape (n_samples, n_classes)."""
        check_is_fitted(self)
        Xs = standardise(validate_arrays(self, X, reset=False), self.mean_, self.scale_)
        z = -self._class_distances(Xs) / self.temperature_
        z -= z.max(axis=1, keepdims=True)
        proba = np.exp(z)
        return proba / proba.sum(axis=1, keepdims=True)
