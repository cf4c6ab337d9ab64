"""The classifier readout shared by the feature learners (Hebbian PCA, RBM).

A feature learner learns its features from ``X`` alone (``fit(X)``, ``transform``).
Given labels (``fit(X, y)``) it also fits a *readout* on the learned features, so that
``predict`` and ``predict_proba`` return labels and the estimator works with
``musicnn train``:

``"softmax"``
    Multinomial logistic regression: one output unit per class, ``P(c | z) =
    softmax(zᵀ W + b)_c``, trained by full-batch gradient descent on the cross-entropy
    plus an L2 penalty ``alpha``.  Its descent direction is the course's delta rule
    summed over the examples, ``ΔW ∝ Σ z (d − y)ᵀ / n − α W`` with ``d`` the one-hot
    target and ``y`` the softmax output; L-BFGS chooses the steps, so no learning rate
    needs tuning and the result is deterministic.
``"centroid"``
    Nearest class mean: each class is the mean of its learned features;
    ``predict_proba`` is the softmax of ``−‖z − μ_c‖² / 2``.

The learned features are standardised (training mean and scale) before the readout
sees them.  Every learned value is a numpy array or a plain value, so
:class:`~musicnn.models.state.ArrayStateMixin` writes it to a model file.

:class:`FeatureLearner` also holds what the feature learners' training shares: the
checks of their common hyper-parameters (``lr``, ``batch_size``, ``max_epochs``, ``tol``,
``seed``, ``progress``), the device, seeded generator and progress bar of a fit, and
shuffled mini-batches.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from musicnn.checks import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    class_targets,
    resolve_device,
    validate_arrays,
)
from musicnn.errors import DataError
from musicnn.models.estimator import BaseEstimator, ClassifierMixin, TransformerMixin
from musicnn.models.state import ArrayStateMixin
from musicnn.progress import progress_bar
from musicnn.runtime import single_thread
from musicnn.scaling import fit_standardiser, standardise

__all__ = ["READOUTS", "FeatureLearner", "check_fitted_with_labels", "fit_softmax", "softmax"]

#: readout name -> one-line description
READOUTS: dict[str, str] = {
    "softmax": "multinomial logistic regression trained by gradient descent (delta rule, L-BFGS steps)",
    "centroid": "nearest class mean in the standardised feature space",
}

#: learned attributes that belong to the readout (removed when ``fit`` gets no ``y``)
_READOUT_ATTRIBUTES = (
    "classes_", "feature_mean_", "feature_scale_", "readout_coef_", "readout_intercept_",
    "readout_centroids_", "readout_n_iter_", "readout_loss_",
)


def check_fitted_with_labels(estimator: Any, without: str) -> None:
    """Raise NotFittedError unless ``estimator`` was fitted with labels (it has ``classes_``).

    Parameters
    ----------
    estimator : BaseEstimator
        A model that learns without labels and predicts labels once fitted with them.
    without : str
        What works without labels, named in the message (``"transform(X) works"``).
    """
    from musicnn.models.estimator import check_is_fitted

    check_is_fitted(estimator)
    if not hasattr(estimator, "classes_"):
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(
            f"this {type(estimator).__name__} was fitted without labels, so it cannot predict "
            f"labels; call fit(X, y) first ({without} without labels)"
        )


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``logits`` (n, C), computed stably in float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def fit_softmax(
    Z: np.ndarray,
    y_idx: np.ndarray,
    n_classes: int,
    *,
    alpha: float,
    max_iter: int,
    tol: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray, int, float, bool]:
    """Fit multinomial logistic regression (a layer of softmax output units) by gradient descent.

    Minimises ``−(1/n) Σ log P(y_i | z_i) + (α/2) ‖W‖²`` (the intercept is not
    penalised).  Its negative gradient is the delta rule summed over the examples,
    ``Zᵀ (D − Y) / n − α W`` with ``D`` the one-hot targets and ``Y`` the softmax
    outputs; the steps along it are chosen by L-BFGS (a quasi-Newton line search, as in
    scikit-learn's ``LogisticRegression``), which needs no learning rate and is
    deterministic.

    Parameters
    ----------
    Z : np.ndarray, shape (n, p)
        Features (standardised).
    y_idx : np.ndarray of int, shape (n,)
        Class indices in ``[0, n_classes)``.
    n_classes : int
    alpha : float
        L2 penalty on the weights, >= 0.
    max_iter : int
        Most L-BFGS iterations.
    tol : float
        Stop when the largest gradient entry falls below ``tol`` (or the loss stops
        falling).

    Returns
    -------
    coef : np.ndarray, shape (p, n_classes)
    intercept : np.ndarray, shape (n_classes,)
    n_iter : int
    loss : float
        Final penalised cross-entropy.
    converged : bool
    """
    from scipy.optimize import minimize

    n, p = Z.shape
    D = np.zeros((n, n_classes))
    D[np.arange(n), y_idx] = 1.0
    Za = np.hstack([Z, np.ones((n, 1))])  # the intercept is a weight on a constant input
    penal = np.ones((p + 1, 1))
    penal[-1] = 0.0  # no penalty on the intercept

    def loss_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
        theta = flat.reshape(p + 1, n_classes)
        logits = Za @ theta
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        loss = -float(np.sum(log_p * D)) / n + 0.5 * alpha * float(np.sum(penal * theta**2))
        grad = Za.T @ (np.exp(log_p) - D) / n + alpha * penal * theta  # minus the delta rule
        return loss, grad.ravel()

    # small products repeated many times: one BLAS thread avoids oversubscription
    with single_thread(torch_too=False):
        result = minimize(
            loss_and_grad, np.zeros((p + 1) * n_classes), jac=True, method="L-BFGS-B",
            options={"maxiter": int(max_iter), "gtol": float(tol)},
        )
    theta = result.x.reshape(p + 1, n_classes)
    converged = bool(result.success) or result.nit < max_iter
    return theta[:-1].copy(), theta[-1].copy(), int(result.nit), float(result.fun), converged


class FeatureLearner(ClassifierMixin, TransformerMixin, ArrayStateMixin, BaseEstimator):
    """Base of the feature learners: unsupervised features, then an optional readout.

    Subclasses store their hyper-parameters (including ``lr``, ``batch_size``,
    ``max_epochs``, ``tol``, ``seed``, ``device``, ``progress``, ``readout``,
    ``readout_alpha``, ``readout_max_iter``) and implement :meth:`_check_params` (their
    own parameters), :meth:`_learn` (set the learned feature state from validated float64
    ``X``) and :meth:`_features` (the learned features of validated ``X``).
    """

    lr: float
    batch_size: int
    max_epochs: int
    tol: float
    seed: int
    device: str
    progress: bool
    readout: str
    readout_alpha: float
    readout_max_iter: int

    # ------------------------------------------------------------------ subclass API
    def _check_params(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _learn(self, X: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _features(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ training helpers
    def _check_shared_params(self) -> None:
        """Check the hyper-parameters every feature learner has."""
        check_float("lr", self.lr, low=0.0, low_inclusive=False)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("max_epochs", self.max_epochs, minimum=1)
        check_float("tol", self.tol, low=0.0)
        check_int("seed", self.seed, minimum=0)
        check_bool("progress", self.progress)
        check_choice("readout", self.readout, tuple(READOUTS))
        check_float("readout_alpha", self.readout_alpha, low=0.0)
        check_int("readout_max_iter", self.readout_max_iter, minimum=1)

    @contextmanager
    def _training(self, label: str) -> Iterator[tuple[Any, Any, Any]]:
        """``(device, generator, bar)`` of a fit: the torch device, a CPU generator seeded
        with ``seed`` and a progress bar over ``max_epochs``; on the CPU the block runs on
        one thread (small products repeated many times)."""
        import torch

        device = resolve_device(self.device)
        generator = torch.Generator().manual_seed(int(self.seed))
        with progress_bar(int(self.max_epochs), label, "epoch", bool(self.progress)) as bar, single_thread(device):
            yield device, generator, bar

    def _minibatches(self, X: Any, generator: Any) -> Iterator[Any]:
        """One epoch: the rows of tensor ``X`` in ``batch_size`` blocks, in a new random order."""
        import torch

        order = torch.randperm(X.shape[0], generator=generator).to(X.device)
        B = int(self.batch_size)
        for start in range(0, X.shape[0], B):
            yield X[order[start : start + B]]

    # ------------------------------------------------------------------ readout
    def _fit_readout(self, Z: np.ndarray, y: np.ndarray) -> None:
        from sklearn.exceptions import ConvergenceWarning

        classes, y_idx = class_targets(self, y, hint="call fit(X) to learn features without labels")
        mean, scale = fit_standardiser(Z)
        Zs = standardise(Z, mean, scale)
        self.classes_ = classes
        self.feature_mean_, self.feature_scale_ = mean, scale
        if self.readout == "centroid":
            self.readout_centroids_ = np.stack([Zs[y_idx == c].mean(axis=0) for c in range(len(classes))])
            return
        coef, intercept, n_iter, loss, converged = fit_softmax(
            Zs, y_idx, len(classes), alpha=float(self.readout_alpha), max_iter=int(self.readout_max_iter)
        )
        self.readout_coef_, self.readout_intercept_ = coef, intercept
        self.readout_n_iter_, self.readout_loss_ = int(n_iter), float(loss)
        if not converged:
            warnings.warn(
                f"the softmax readout of {type(self).__name__} stopped at "
                f"readout_max_iter={self.readout_max_iter} before its gradient vanished; raise "
                "readout_max_iter or readout_alpha",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _logits(self, X: np.ndarray) -> np.ndarray:
        Zs = standardise(self._features(X), self.feature_mean_, self.feature_scale_)
        if self.readout == "centroid":
            d2 = ((Zs[:, None, :] - self.readout_centroids_[None, :, :]) ** 2).sum(axis=-1)
            return -0.5 * d2
        return Zs @ self.readout_coef_ + self.readout_intercept_

    # ------------------------------------------------------------------ public API
    def fit(self, X: Any, y: Any = None) -> FeatureLearner:
        """Learn the features from ``X``; with ``y``, also fit the readout on them.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Feature vectors (e.g. pooled MFCC statistics).  NaN or infinite values raise.
        y : array-like, shape (n_samples,), optional
            Class labels.  The features are learned without them; they only train the
            readout.

        Returns
        -------
        self
        """
        self._check_shared_params()
        self._check_params()
        for name in _READOUT_ATTRIBUTES:
            self.__dict__.pop(name, None)
        if y is None:
            X = validate_arrays(self, X, reset=True)
        else:
            X, y = validate_arrays(self, X, y, reset=True)
        if X.shape[0] < 2:
            raise DataError(
                f"{type(self).__name__} needs at least 2 samples to learn features; got "
                f"n_samples={X.shape[0]}"
            )
        self._learn(X)
        if y is not None:
            self._fit_readout(self._features(X), np.asarray(y))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Learned features of ``X``, shape (n_samples, n_features_out)."""
        from musicnn.models.estimator import check_is_fitted

        check_is_fitted(self)
        return self._features(validate_arrays(self, X, reset=False))

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities from the readout, shape (n_samples, n_classes), ``classes_`` order."""
        check_fitted_with_labels(self, "transform(X) works")
        return softmax(self._logits(validate_arrays(self, X, reset=False)))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class label of each example, shape (n_samples,)."""
        check_fitted_with_labels(self, "transform(X) works")
        return self.classes_[np.argmax(self._logits(validate_arrays(self, X, reset=False)), axis=1)]

