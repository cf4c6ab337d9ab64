"""The perceptron: threshold units trained by the error-correction rule.

A unit computes its net input ``h = Σ_j w_j x_j`` over inputs augmented with a constant
``x_0 = 1``, so that the threshold ``T`` of ``y = (Σ_i w_i x_i ≥ T)`` is the weight
``w_0 = −T`` (the course's "threshold as a virtual weight").  Learning is the course's
error correction, pattern after pattern::

    w_j ← w_j + η (d − y) x_j

(``η`` is the parameter ``lr``.)

Several classes are learned one-vs-rest: one unit per class, all updated together as a
matrix (a single unit for two classes, as in the course's AND/OR examples).
"""

from __future__ import annotations

import math
import warnings
from functools import partial
from typing import Any, Callable

import numpy as np

from musicnn.checks import (check_bool, check_choice, check_float, check_int, labelled_data, validate_arrays)
from musicnn.errors import ConfigError
from musicnn.models.estimator import BaseEstimator, ClassifierMixin, check_is_fitted
from musicnn.models.state import ArrayStateMixin
from musicnn.progress import progress_bar
from musicnn.runtime import single_thread
from musicnn.scaling import fit_standardiser, standardise

__all__ = ["ACTIVATIONS", "Perceptron", "gaussian", "piecewise", "sigmoid", "step"]


# --------------------------------------------------------------------------- activations
def step(h: np.ndarray) -> np.ndarray:
    """McCulloch & Pitts' threshold: 1 where ``h ≥ 0`` (i.e. ``Σ w_i x_i ≥ T``), else 0."""
    return (h >= 0).astype(np.float64)


def piecewise(h: np.ndarray, x_min: float = -1.0, x_max: float = 1.0) -> np.ndarray:
    """0 below ``x_min``, ``m h + b`` between (``m = 1/(x_max − x_min)``, ``b = −m x_min``), 1 above ``x_max``."""
    return np.clip((h - x_min) / (x_max - x_min), 0.0, 1.0)


def sigmoid(h: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """``1 / (1 + e^{−β h})``."""
    return 0.5 * (1.0 + np.tanh(0.5 * beta * h))  # the same function, without overflow


def gaussian(h: np.ndarray, mu: float = 1.0, sigma: float = 1.0) -> np.ndarray:
    """``1/(σ√(2π)) e^{−(h − μ)²/(2σ²)}``."""
    return np.exp(-((h - mu) ** 2) / (2.0 * sigma**2)) / (sigma * math.sqrt(2.0 * math.pi))


def _piecewise_slope(h: np.ndarray, y: np.ndarray, x_min: float, x_max: float) -> np.ndarray:
    return ((h > x_min) & (h < x_max)) / (x_max - x_min)


def _sigmoid_slope(h: np.ndarray, y: np.ndarray, beta: float) -> np.ndarray:
    return beta * y * (1.0 - y)


def _gaussian_slope(h: np.ndarray, y: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    return -(h - mu) / sigma**2 * y


#: name -> (g, g' as a function of (h, y) or None, the hyper-parameters g takes)
ACTIVATIONS: dict[str, tuple[Callable[..., np.ndarray], Callable[..., np.ndarray] | None, tuple[str, ...]]] = {
    "step": (step, None, ()),
    "piecewise": (piecewise, _piecewise_slope, ("x_min", "x_max")),
    "sigmoid": (sigmoid, _sigmoid_slope, ("beta",)),
    "gaussian": (gaussian, _gaussian_slope, ("mu", "sigma")),
}

MODES = ("online", "batch")
RULES = ("auto", "error-correction", "delta")


class Perceptron(ArrayStateMixin, ClassifierMixin, BaseEstimator):
    """Rosenblatt's perceptron: one threshold unit per class, error-correction learning.

    Each unit ``k`` has weights ``w_k = (w_k0, w_k1, …, w_kd)``; on an input ``x``
    (standardised, then augmented with ``x_0 = 1``) its net input is ``h_k = w_k · x`` and
    its output ``y_k = g(h_k)``.  The desired output ``d_k`` is the "on" level of ``g``
    (1; ``1/(σ√(2π))`` for the gaussian) for the unit of the pattern's class, 0 for the
    others.  Training presents the patterns and corrects the weights::

        w_kj ← w_kj + η (d_k − y_k) x_j                  (rule="error-correction")
        w_kj ← w_kj + η (d_k − y_k) g'(h_k) x_j          (rule="delta")

    With ``g`` the step this is the perceptron rule (weights move only on a mistake).
    With a continuous ``g`` the same rule runs on the unit's continuous output: the
    delta rule (for the sigmoid, also the gradient of the cross-entropy).  ``rule="delta"`` adds the slope ``g'(h)``: gradient descent on
    ``½ (d − y)²``, the output delta ``δ = g'(h)(d − y)`` of the course's back-propagation.
    The gaussian needs it (its slope changes sign at ``μ``: without ``g'`` a pattern on the
    wrong side would be pushed away from the peak), so ``rule="auto"`` is ``"delta"`` for
    the gaussian and ``"error-correction"`` for the others.

    Parameters
    ----------
    activation : {"step", "piecewise", "sigmoid", "gaussian"}, default="step"
        The course's activation functions: step ``y = [h ≥ 0]``; piecewise linear
        (0 below ``x_min``, linear between, 1 above ``x_max``); sigmoid
        ``1 / (1 + e^{−β h})`` (the course slide's ``e^x / (1 + e^{−βx})`` is read as the
        usual logistic); gaussian ``1/(σ√(2π)) e^{−(h − μ)²/(2σ²)}``.
    lr : float, default=0.1
        Learning rate ``η`` (the course takes it in (0, 1]).
    max_epochs : int, default=100
        Stop condition 1: the most epochs (passes over the training patterns).
    tol : float or None, default=0.0
        Stop condition 2: stop once the epoch's error ``ε`` is at or below ``tol``
        (0: the training set is learned without a mistake); None disables it.
    delta_tol : float or None, default=1e-4
        Stop condition 3: stop once ``|ε_t − ε_{t−1}| < delta_tol`` for
        ``n_iter_no_change`` epochs in a row; None disables it.
    n_iter_no_change : int, default=5
        Epochs in a row of stop condition 3.
    mode : {"online", "batch"}, default="online"
        ``"online"``: pattern by pattern, in a new random order each epoch (the course).
        ``"batch"``: one update per epoch, the average of the per-pattern updates
        computed with the same weights.
    rule : {"auto", "error-correction", "delta"}, default="auto"
        The update (above); ``"delta"`` needs a continuous activation.
    beta : float, default=1.0
        Slope of the sigmoid.
    x_min, x_max : float, default=-1.0, 1.0
        Corners of the piecewise linear activation.
    mu, sigma : float, default=1.0, 1.0
        Centre and width of the gaussian activation.  ``μ = 1`` puts the small initial
        net inputs (``h ≈ 0``) on the gaussian's flank: at its peak ``g'(h) = 0`` and the
        delta rule could not start.
    seed : int, default=0
        Seeds the initial weights (small, uniform in ±0.01) and the order of the patterns.
    progress : bool, default=True
        Progress bar over epochs (on a terminal only).

    Attributes
    ----------
    classes_ : np.ndarray, shape (n_classes,)
    weights_ : np.ndarray, shape (n_units, n_features_in_ + 1)
        Column 0 is the threshold weight ``w_0 = −T``; one unit (row) per class, a
        single unit for two classes (it is "on" for ``classes_[1]``).
    mean_, scale_ : np.ndarray, shape (n_features_in_,)
        Standardisation learned on the training inputs.
    errors_ : np.ndarray, shape (n_iter_,)
        Error ``ε`` after each epoch: ``mean over patterns and units of (d − y)²``, with
        ``d`` and ``y`` divided by the "on" level (the fraction of wrong unit outputs for
        the step).
    n_iter_ : int
        Epochs run.
    stop_reason_ : str
        Which stop condition ended training: ``"tol"``, ``"delta_tol"`` or ``"max_epochs"``.
    n_features_in_ : int

    Notes
    -----
    :meth:`decision_function` returns each unit's margin ``m``, a score that grows with
    its output and is ≥ 0 exactly when the unit is "on" (output at least half its "on"
    level): ``h`` (step), ``h − (x_min + x_max)/2`` (piecewise), ``β h`` (sigmoid), and
    ``ln 2 − (h − μ)²/(2σ²)`` (gaussian).  :meth:`predict` picks the unit with the largest
    margin (for a single unit, ``classes_[1]`` when ``m > 0``).  :meth:`predict_proba` is
    the softmax of the margins (logistic of ``m`` for a single unit, which for the sigmoid
    is exactly its output): a monotone score, not a calibrated probability.

    Examples
    --------
    >>> X = [[0, 0], [0, 1], [1, 0], [1, 1]]
    >>> Perceptron(progress=False).fit(X, [0, 0, 0, 1]).predict(X).tolist()
    [0, 0, 0, 1]
    """

    def __init__(
        self,
        *,
        activation: str = "step",
        lr: float = 0.1,
        max_epochs: int = 100,
        tol: float | None = 0.0,
        delta_tol: float | None = 1e-4,
        n_iter_no_change: int = 5,
        mode: str = "online",
        rule: str = "auto",
        beta: float = 1.0,
        x_min: float = -1.0,
        x_max: float = 1.0,
        mu: float = 1.0,
        sigma: float = 1.0,
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        self.activation = activation
        self.lr = lr
        self.max_epochs = max_epochs
        self.tol = tol
        self.delta_tol = delta_tol
        self.n_iter_no_change = n_iter_no_change
        self.mode = mode
        self.rule = rule
        self.beta = beta
        self.x_min = x_min
        self.x_max = x_max
        self.mu = mu
        self.sigma = sigma
        self.seed = seed
        self.progress = progress

    # ------------------------------------------------------------------ parameters
    _RENAMED = {"eta": "lr", "max_iter": "max_epochs"}

    def _restore(self, arrays: dict[str, Any], learned: dict[str, Any]) -> Perceptron:
        """Set the learned attributes back; an older file's ``stop_reason_`` "max_iter" reads "max_epochs"."""
        super()._restore(arrays, learned)
        if getattr(self, "stop_reason_", None) == "max_iter":
            self.stop_reason_ = "max_epochs"
        return self

    def _check_params(self) -> str:
        """Raise ConfigError for an invalid hyper-parameter; return the rule in force."""
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("mode", self.mode, MODES)
        check_choice("rule", self.rule, RULES)
        check_float("lr", self.lr, low=0.0, low_inclusive=False)
        check_int("max_epochs", self.max_epochs, minimum=1)
        check_int("n_iter_no_change", self.n_iter_no_change, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_bool("progress", self.progress)
        if self.tol is not None:
            check_float("tol", self.tol, low=0.0)
        if self.delta_tol is not None:
            check_float("delta_tol", self.delta_tol, low=0.0)
        check_float("beta", self.beta, low=0.0, low_inclusive=False)
        check_float("sigma", self.sigma, low=0.0, low_inclusive=False)
        check_float("mu", self.mu, low=-math.inf)
        check_float("x_min", self.x_min, low=-math.inf)
        check_float("x_max", self.x_max, low=-math.inf)
        if not self.x_max > self.x_min:
            raise ConfigError(f"x_max={self.x_max!r} must be greater than x_min={self.x_min!r}")
        rule = self.rule
        if rule == "auto":
            rule = "delta" if self.activation == "gaussian" else "error-correction"
        if rule == "delta" and self.activation == "step":
            raise ConfigError("rule='delta' needs a continuous activation: the step has no slope "
                              "(g' = 0 almost everywhere); use rule='error-correction'")
        if rule == "error-correction" and self.activation == "gaussian":
            raise ConfigError("activation='gaussian' needs rule='delta' (or 'auto'): its slope changes sign "
                              "at mu, so the update must carry g'(h)")
        return rule

    def _g(self) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray, np.ndarray], np.ndarray] | None]:
        """The activation and its slope, with this estimator's hyper-parameters bound."""
        g, slope, names = ACTIVATIONS[self.activation]
        kwargs = {name: float(getattr(self, name)) for name in names}
        return partial(g, **kwargs), (None if slope is None else partial(slope, **kwargs))

    def _on_level(self) -> float:
        """The output a unit is trained to give for its class."""
        if self.activation == "gaussian":
            return 1.0 / (float(self.sigma) * math.sqrt(2.0 * math.pi))
        return 1.0

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any) -> Perceptron:
        """Learn the weights by error correction until a stop condition holds.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
        y : array-like, shape (n_samples,)
            Class labels (strings or numbers).

        Returns
        -------
        self
        """
        rule = self._check_params()
        X, classes, y_idx = labelled_data(self, X, y)
        mean, scale = fit_standardiser(X)
        Xa = np.hstack([np.ones((len(X), 1)), standardise(X, mean, scale)])  # x_0 = 1 carries w_0 = -T
        on = self._on_level()
        n_units = 1 if len(classes) == 2 else len(classes)
        D = (y_idx[:, None] == (np.arange(n_units) + (1 if n_units == 1 else 0))[None, :]) * on

        rng = np.random.default_rng(self.seed)
        W = rng.uniform(-0.01, 0.01, size=(n_units, Xa.shape[1]))
        g, slope = self._g()
        use_slope = rule == "delta"
        eta = float(self.lr)

        errors: list[float] = []
        reason = "max_epochs"
        quiet_epochs = 0
        # small products: one thread (musicnn.runtime)
        with progress_bar(int(self.max_epochs), "perceptron", "epoch", bool(self.progress)) as bar, \
                single_thread(torch_too=False):
            for _ in range(int(self.max_epochs)):
                if self.mode == "online":
                    for p in rng.permutation(len(Xa)):
                        x = Xa[p]
                        h = W @ x
                        out = g(h)
                        err = D[p] - out
                        if use_slope:
                            err = err * slope(h, out)
                        if err.any():
                            W += eta * np.outer(err, x)  # every unit at once
                else:
                    H = Xa @ W.T
                    out = g(H)
                    err = D - out
                    if use_slope:
                        err = err * slope(H, out)
                    W += eta * (err.T @ Xa) / len(Xa)  # average of the per-pattern updates
                if not np.all(np.isfinite(W)):
                    raise ConfigError(f"the weights became non-finite; lower lr (lr={self.lr!r})")
                eps = float(np.mean(((D - g(Xa @ W.T)) / on) ** 2))
                errors.append(eps)
                bar.set_postfix({"error": f"{eps:.4f}"}, refresh=False)
                bar.update(1)
                if self.tol is not None and eps <= self.tol:
                    reason = "tol"
                    break
                if self.delta_tol is not None and len(errors) > 1:
                    quiet_epochs = quiet_epochs + 1 if abs(errors[-1] - errors[-2]) < self.delta_tol else 0
                    if quiet_epochs >= self.n_iter_no_change:
                        reason = "delta_tol"
                        break

        self.classes_ = classes
        self.weights_ = W
        self.mean_ = mean
        self.scale_ = scale
        self.errors_ = np.asarray(errors)
        self.n_iter_ = len(errors)
        self.stop_reason_ = reason
        if reason == "max_epochs":
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(f"Perceptron stopped at max_epochs={self.max_epochs} with error {errors[-1]:.4g} "
                          "before the tol or delta_tol stop condition held; raise max_epochs to train longer",
                          ConvergenceWarning, stacklevel=2)
        return self

    # ------------------------------------------------------------------ predict
    def _net_input(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_arrays(self, X, reset=False)
        return standardise(X, self.mean_, self.scale_) @ self.weights_[:, 1:].T + self.weights_[:, 0]

    def net_input(self, X: Any) -> np.ndarray:
        """Net inputs ``h = w · x`` of the units, shape (n_samples, n_units)."""
        return self._net_input(X)

    def unit_outputs(self, X: Any) -> np.ndarray:
        """Outputs ``y = g(h)`` of the units, shape (n_samples, n_units)."""
        return self._g()[0](self._net_input(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """Units' margins (see Notes): shape (n_samples,) for two classes, else (n_samples, n_classes)."""
        h = self._net_input(X)
        if self.activation == "step":
            m = h
        elif self.activation == "piecewise":
            m = h - 0.5 * (float(self.x_min) + float(self.x_max))
        elif self.activation == "sigmoid":
            m = float(self.beta) * h
        else:
            m = math.log(2.0) - (h - float(self.mu)) ** 2 / (2.0 * float(self.sigma) ** 2)
        return m[:, 0] if m.shape[1] == 1 else m

    def predict(self, X: Any) -> np.ndarray:
        """The class of the unit with the largest margin (one unit: ``classes_[1]`` when on)."""
        m = self.decision_function(X)
        if m.ndim == 1:
            return self.classes_[(m > 0).astype(int)]
        return self.classes_[np.argmax(m, axis=1)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Softmax of the margins, shape (n_samples, n_classes) (see Notes: scores, not calibrated)."""
        m = self.decision_function(X)
        if m.ndim == 1:
            m = np.column_stack([np.zeros_like(m), m])
        m = m - m.max(axis=1, keepdims=True)
        p = np.exp(m)
        return p / p.sum(axis=1, keepdims=True)
