"""Radial basis function network, trained by the course's two-step hybrid learning.

The network has two layers.  Hidden unit ``i`` is a Gaussian kernel of centre ``mu_i``
and width ``sigma_i``::

    phi_i(x) = exp(-||x - mu_i||^2 / (2 sigma_i^2))

and output unit ``k`` sums them with weights and a bias (the course's threshold taken
as a virtual weight ``w_0``)::

    y_k(x) = sum_i w_ik phi_i(x) + b_k

"Both mu_i and sigma_i must be learned", by the course's *2-step hybrid learning
strategy*:

1. **unsupervised clustering** for the centres and widths: k-means on the (standardised)
   training vectors gives the centres; a width heuristic gives each ``sigma_i``;
2. **supervised least mean squares** for the output weights, on one-hot targets ``d``:
   either solved in closed form (ridge-regularised least squares) or learned by the
   delta rule ``w <- w + eta (d - y) phi``.

Optionally, every parameter (centres, widths, output weights) is then fine-tuned jointly
by gradient descent on the same squared error (torch autograd).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from musicnn.checks import (check_bool, check_choice, check_float, check_int, labelled_data, validate_arrays)
from musicnn.errors import ConfigError
from musicnn.models.classic.clustering import kmeans, squared_distances
from musicnn.models.estimator import BaseEstimator, ClassifierMixin, check_is_fitted
from musicnn.models.state import ArrayStateMixin
from musicnn.progress import progress_bar
from musicnn.scaling import fit_standardiser, standardise

__all__ = ["RBFNetwork", "gaussian_activations", "ridge_solution"]

#: Width heuristics of step 1.
WIDTHS = ("rms", "nearest")
#: How step 2 learns the output weights.
OUTPUTS = ("lstsq", "lms")

#: Smallest width, in standardised units: a kernel narrower than this fires only on its centre.
_MIN_WIDTH = 1e-3
#: Epochs of the delta rule without an improvement larger than ``tol`` before it stops.
_N_ITER_NO_CHANGE = 5


def gaussian_activations(X: np.ndarray, centers: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Hidden layer of an RBF network: ``phi_i(x) = exp(-||x - mu_i||^2 / (2 sigma_i^2))``.

    Parameters
    ----------
    X : np.ndarray, shape (n_samples, n_features)
    centers : np.ndarray, shape (n_centers, n_features)
        The centres ``mu_i``.
    widths : np.ndarray, shape (n_centers,)
        The widths ``sigma_i`` (> 0).

    Returns
    -------
    np.ndarray, shape (n_samples, n_centers)
        Activations in (0, 1].
    """
    return np.exp(-squared_distances(X, centers) / (2.0 * np.square(widths))[None, :])


class RBFNetwork(ArrayStateMixin, ClassifierMixin, BaseEstimator):
    """Radial basis function network classifier (the course's 2-step hybrid learning).

    Inputs are standardised (per feature, statistics of the training data) and every
    learned quantity lives in that standardised space.

    **Step 1, unsupervised: centres and widths.**  The centres ``mu_i`` are the k-means
    centroids of the training vectors (:func:`kmeans`: Lloyd iterations from a k-means++
    seeding, in numpy; scikit-learn's ``KMeans`` would do the same work through an OpenMP
    thread pool, which on a busy 2-core machine ran 15 times slower).  The widths ``sigma_i`` come from one of two heuristics:

    * ``width="rms"``: the root-mean-square distance of the training vectors assigned to
      centre ``i`` (its cluster), ``sigma_i^2 = mean_{x in C_i} ||x - mu_i||^2``;
    * ``width="nearest"``: the ``p``-nearest-centres heuristic (Moody and Darken),
      ``sigma_i^2 = (1/p) sum_{j in p nearest centres of i} ||mu_j - mu_i||^2``.

    Both are then multiplied by ``width_factor``.  A centre whose cluster has no spread
    (a single training vector, or identical ones) takes the median of the other widths,
    and no width is smaller than ``1e-3``, so every kernel keeps a non-zero width.

    **Step 2, supervised: output weights.**  With ``d`` the one-hot target of ``x`` and
    ``y = W^T phi(x) + b`` the network's output, the training error is the course's
    ``epsilon = (1/n) sum_n ||d_n - y_n||^2``:

    * ``output="lstsq"`` minimises ``sum_n ||d_n - y_n||^2 + alpha ||W||^2`` in closed
      form (ridge-regularised least squares; the bias is not penalised);
    * ``output="lms"`` learns ``W`` and ``b`` by the delta rule (least mean squares)
      ``w_ik <- w_ik + eta (d_k - y_k) phi_i`` and ``b_k <- b_k + eta (d_k - y_k)``,
      from small random weights, over shuffled mini-batches (a mini-batch applies the
      mean of its examples' updates; ``batch_size=1`` is the rule example by example),
      until ``epsilon`` has not improved by more than ``tol`` for 5 epochs
      (``max_epochs`` reached first: ConvergenceWarning).

    **Optional step 3, supervised: joint fine-tuning.**  With ``finetune_epochs > 0`` the
    centres, the widths (through ``log sigma_i``, so they stay positive) and the output
    weights are trained together by gradient descent (Adam, mini-batches, torch autograd)
    on ``epsilon + (alpha / n) ||W||^2``; the parameters of the epoch with the lowest
    training ``epsilon`` are kept, the hybrid solution included, so fine-tuning never
    raises the training error.

    On real features the closed form is much the better step 2: with hundreds of
    overlapping kernels the hidden layer's correlation matrix is ill-conditioned (its
    eigenvalues spanned 5 decades on the instrument set), so the delta rule, whose
    stable step is bounded by the largest eigenvalue, creeps along the smallest ones.

    **Probabilities.**  Least squares on one-hot targets estimates the class posteriors,
    so :meth:`predict_proba` clips the outputs at 0 and normalises them to sum to 1.  An
    example whose outputs are all <= 0 (far from every kernel) gets the softmax of its
    outputs instead.  Either way the most probable class is the :meth:`predict` one.

    Parameters
    ----------
    n_centers : int, default=512
        Hidden (Gaussian) units; fewer are used when the training data has fewer distinct
        vectors.  On pooled MFCCs of the embedded instrument set (about 1,800 training
        notes, unseen instruments in the test) held-out accuracy rose with the number of
        centres up to about 512 (0.28 with 128, 0.36 with 512, 0.36 with 1,024: means of
        three splits), hence the default.
    width : {"rms", "nearest"}, default="nearest"
        Width heuristic of step 1 (see above); ``"nearest"`` did better than ``"rms"`` on
        that set (0.36 against 0.22 with 512 centres).
    n_neighbors : int, default=2
        ``p`` of the ``"nearest"`` heuristic.
    width_factor : float, default=1.0
        Every width is multiplied by it (> 0).
    output : {"lstsq", "lms"}, default="lstsq"
        How step 2 learns the output weights.
    alpha : float, default=1e-3
        Ridge penalty of ``"lstsq"`` and of fine-tuning (>= 0).
    lr : float or None, default=None
        Learning rate ``eta`` of the delta rule (``"lms"``).  None sets it to
        ``1 / lambda_max``, ``lambda_max`` the largest eigenvalue of the hidden layer's
        correlation matrix ``(1/n) sum_n phi_n phi_n^T`` (bias unit included): half the
        largest step for which the delta rule is stable, whatever the number and width
        of the kernels.
    max_epochs : int, default=200
        Most epochs of the delta rule (``"lms"``).
    tol : float, default=1e-5
        Smallest improvement of ``epsilon`` that counts, for the delta rule.
    batch_size : int, default=32
        Examples per mini-batch of the delta rule and of fine-tuning.
    finetune_epochs : int, default=0
        Epochs of joint fine-tuning; 0 keeps the hybrid solution.
    finetune_lr : float, default=1e-3
        Adam learning rate of fine-tuning.
    kmeans_max_iter : int, default=100
        Most Lloyd iterations of the k-means step.
    seed : int, default=0
        Seeds the k-means seeding, the delta rule's initial weights and the batch order.
    device : str, default="cpu"
        Where fine-tuning runs: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``; steps 1
        and 2 and prediction run in numpy on the CPU.
    progress : bool, default=True
        Progress bars over the epochs of the delta rule and of fine-tuning (on a terminal).

    Attributes
    ----------
    classes_ : np.ndarray, shape (n_classes,)
        Class labels, sorted.
    n_features_in_ : int
        Features per example.
    mean_, scale_ : np.ndarray, shape (n_features,)
        Standardisation of the inputs.
    centers_ : np.ndarray, shape (n_centers_used, n_features)
        Centres ``mu_i``, in standardised units.
    widths_ : np.ndarray, shape (n_centers_used,)
        Widths ``sigma_i`` (> 0), in standardised units.
    weights_ : np.ndarray, shape (n_centers_used, n_classes)
        Output weights ``w_ik``.
    bias_ : np.ndarray, shape (n_classes,)
        Output biases ``b_k``.
    kmeans_n_iter_ : int
        Lloyd iterations run by step 1.
    n_epochs_ : int
        Epochs of the delta rule (0 for ``"lstsq"``).
    lr_ : float or None
        Learning rate the delta rule used (None for ``"lstsq"``).
    hybrid_loss_ : float
        Training ``epsilon`` after the two hybrid steps.
    loss_ : float
        Training ``epsilon`` of the final network.
    loss_curve_ : list of float
        Training ``epsilon`` after each epoch of the delta rule, then of fine-tuning.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 10, dtype=float)
    >>> y = np.array(["even", "odd", "odd", "even"] * 10)          # XOR
    >>> net = RBFNetwork(n_centers=4, progress=False).fit(X, y)
    >>> net.predict([[0, 1], [1, 1]]).tolist()
    ['odd', 'even']
    """

    def __init__(
        self,
        *,
        n_centers: int = 512,
        width: str = "nearest",
        n_neighbors: int = 2,
        width_factor: float = 1.0,
        output: str = "lstsq",
        alpha: float = 1e-3,
        lr: float | None = None,
        max_epochs: int = 200,
        tol: float = 1e-5,
        batch_size: int = 32,
        finetune_epochs: int = 0,
        finetune_lr: float = 1e-3,
        kmeans_max_iter: int = 100,
        seed: int = 0,
        device: str = "cpu",
        progress: bool = True,
    ) -> None:
        self.n_centers = n_centers
        self.width = width
        self.n_neighbors = n_neighbors
        self.width_factor = width_factor
        self.output = output
        self.alpha = alpha
        self.lr = lr
        self.max_epochs = max_epochs
        self.tol = tol
        self.batch_size = batch_size
        self.finetune_epochs = finetune_epochs
        self.finetune_lr = finetune_lr
        self.kmeans_max_iter = kmeans_max_iter
        self.seed = seed
        self.device = device
        self.progress = progress

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_int("n_centers", self.n_centers, minimum=1)
        check_choice("width", self.width, WIDTHS)
        check_int("n_neighbors", self.n_neighbors, minimum=1)
        check_float("width_factor", self.width_factor, low=0.0, low_inclusive=False)
        check_choice("output", self.output, OUTPUTS)
        check_float("alpha", self.alpha, low=0.0)
        if self.lr is not None:
            check_float("lr", self.lr, low=0.0, low_inclusive=False)
        check_int("max_epochs", self.max_epochs, minimum=1)
        check_float("tol", self.tol, low=0.0)
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("finetune_epochs", self.finetune_epochs, minimum=0)
        check_float("finetune_lr", self.finetune_lr, low=0.0, low_inclusive=False)
        check_int("kmeans_max_iter", self.kmeans_max_iter, minimum=1)
        check_int("seed", self.seed, minimum=0)
        if not isinstance(self.device, str):
            raise ConfigError(f"device={self.device!r} must be a string: 'cpu', 'cuda', 'cuda:N' or 'auto'")
        check_bool("progress", self.progress)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return standardise(X, self.mean_, self.scale_)

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any) -> RBFNetwork:
        """Learn centres and widths (k-means), then output weights (least squares or LMS).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Training vectors (e.g. pooled features).
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
        Xs = self._standardise(X)
        D = np.eye(len(classes))[y_idx]  # one-hot targets d

        # Step 1: unsupervised clustering for mu_i and sigma_i.
        centers, assign, self.kmeans_n_iter_ = self._cluster(Xs)
        widths = self._widths(Xs, centers, assign)
        Phi = gaussian_activations(Xs, centers, widths)

        # Step 2: supervised least mean squares for the output weights.
        curve: list[float] = []
        if self.output == "lstsq":
            W, b = ridge_solution(Phi, D, float(self.alpha))
            self.n_epochs_, self.lr_ = 0, None
        else:
            W, b, self.n_epochs_ = self._delta_rule(Phi, D, curve)
        self.centers_, self.widths_, self.weights_, self.bias_ = centers, widths, W, b
        self.hybrid_loss_ = _epsilon(Phi @ W + b, D)

        # Optional step 3: joint fine-tuning of every parameter by gradient descent.
        if self.finetune_epochs > 0:
            self._finetune(Xs, D, curve)
        self.loss_ = _epsilon(self._outputs_std(Xs), D)
        self.loss_curve_ = curve
        return self

    def _cluster(self, Xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """k-means centres, each vector's nearest centre, and the Lloyd iterations run."""
        n_distinct = len(np.unique(Xs, axis=0))
        k = min(int(self.n_centers), n_distinct)
        return kmeans(Xs, k, max_iter=int(self.kmeans_max_iter), rng=np.random.default_rng(int(self.seed)))

    def _widths(self, Xs: np.ndarray, centers: np.ndarray, assign: np.ndarray) -> np.ndarray:
        """Step 1's widths ``sigma_i`` (see the class docstring), floored and scaled."""
        k = len(centers)
        if self.width == "nearest" and k > 1:
            d2 = squared_distances(centers, centers)
            np.fill_diagonal(d2, np.inf)
            p = min(int(self.n_neighbors), k - 1)
            nearest = np.sort(d2, axis=1)[:, :p]
            sigma = np.sqrt(nearest.mean(axis=1))
        else:  # "rms" (and "nearest" with a single centre)
            member_d2 = np.square(Xs - centers[assign]).sum(axis=1)
            counts = np.bincount(assign, minlength=k)
            sums = np.bincount(assign, weights=member_d2, minlength=k)
            sigma = np.sqrt(sums / np.maximum(counts, 1))
        spread = sigma > _MIN_WIDTH
        if not spread.all():
            sigma = np.where(spread, sigma, np.median(sigma[spread]) if spread.any() else 1.0)
        return np.maximum(sigma * float(self.width_factor), _MIN_WIDTH)

    def _delta_rule(self, Phi: np.ndarray, D: np.ndarray, curve: list[float]) -> tuple[np.ndarray, np.ndarray, int]:
        """Step 2 by LMS: ``w <- w + eta (d - y) phi`` over shuffled mini-batches."""
        rng = np.random.default_rng(int(self.seed))
        n, k = Phi.shape
        W = rng.normal(0.0, 0.01, size=(k, D.shape[1]))
        b = np.zeros(D.shape[1])
        if self.lr is None:
            A = np.hstack([Phi, np.ones((n, 1))])
            eta = 1.0 / float(np.linalg.eigvalsh(A.T @ A / n)[-1])
        else:
            eta = float(self.lr)
        self.lr_ = eta
        bs = int(self.batch_size)
        best, stale, epoch = np.inf, 0, 0
        with progress_bar(int(self.max_epochs), "rbf delta rule", "epoch", bool(self.progress)) as bar:
            for epoch in range(1, int(self.max_epochs) + 1):
                order = rng.permutation(n)
                for start in range(0, n, bs):
                    idx = order[start:start + bs]
                    phi = Phi[idx]
                    err = D[idx] - (phi @ W + b)  # (d - y)
                    W += (eta / len(idx)) * (phi.T @ err)
                    b += eta * err.mean(axis=0)
                loss = _epsilon(Phi @ W + b, D)
                if not np.isfinite(loss) or loss > 1e6:
                    raise ConfigError(
                        f"the delta rule diverged at epoch {epoch} (training error {loss:.3g}) with lr={self.lr!r}; "
                        "lower lr, or leave it to None")
                curve.append(loss)
                bar.update()
                bar.set_postfix(loss=f"{loss:.4f}")
                stale = stale + 1 if loss > best - float(self.tol) else 0
                best = min(best, loss)
                if stale >= _N_ITER_NO_CHANGE:
                    break
            else:
                from sklearn.exceptions import ConvergenceWarning

                warnings.warn(
                    f"{type(self).__name__}: the delta rule reached max_epochs={self.max_epochs} before its "
                    f"training error stopped improving by tol={self.tol}; raise max_epochs or lr",
                    ConvergenceWarning, stacklevel=3)
        return W, b, epoch

    def _finetune(self, Xs: np.ndarray, D: np.ndarray, curve: list[float]) -> None:
        """Joint gradient descent on centres, log-widths and output weights (torch autograd)."""
        import torch

        from musicnn.checks import resolve_device
        from musicnn.runtime import single_thread

        device = resolve_device(self.device)
        as_t = lambda a: torch.tensor(a, dtype=torch.float32, device=device)  # noqa: E731
        X_t, D_t = as_t(Xs), as_t(D)
        params = {
            "mu": as_t(self.centers_), "log_sigma": as_t(np.log(self.widths_)),
            "W": as_t(self.weights_), "b": as_t(self.bias_),
        }
        for p in params.values():
            p.requires_grad_(True)
        optimiser = torch.optim.Adam(list(params.values()), lr=float(self.finetune_lr))
        gen = torch.Generator().manual_seed(int(self.seed))
        decay = float(self.alpha) / len(Xs)

        def forward(x: torch.Tensor) -> torch.Tensor:
            mu, sigma = params["mu"], params["log_sigma"].exp()
            d2 = ((x * x).sum(1, keepdim=True) - 2.0 * x @ mu.T + (mu * mu).sum(1)).clamp_min(0.0)
            return torch.exp(-d2 / (2.0 * sigma * sigma)) @ params["W"] + params["b"]

        def epsilon() -> float:
            with torch.no_grad():
                return float(((D_t - forward(X_t)) ** 2).sum(1).mean())

        n, bs = len(Xs), int(self.batch_size)
        best_loss, best_state = epsilon(), {k: v.detach().clone() for k, v in params.items()}
        # small tensors: one thread on the CPU (see musicnn.runtime)
        with single_thread(device):
            with progress_bar(int(self.finetune_epochs), "rbf fine-tuning", "epoch", bool(self.progress)) as bar:
                for _ in range(int(self.finetune_epochs)):
                    order = torch.randperm(n, generator=gen).to(device)
                    for start in range(0, n, bs):
                        idx = order[start:start + bs]
                        loss = ((D_t[idx] - forward(X_t[idx])) ** 2).sum(1).mean() + decay * (params["W"] ** 2).sum()
                        optimiser.zero_grad()
                        loss.backward()
                        optimiser.step()
                    current = epsilon()
                    curve.append(current)
                    bar.update()
                    bar.set_postfix(loss=f"{current:.4f}")
                    if current < best_loss:
                        best_loss, best_state = current, {k: v.detach().clone() for k, v in params.items()}
        out = {k: v.cpu().double().numpy() for k, v in best_state.items()}
        self.centers_, self.widths_ = out["mu"], np.maximum(np.exp(out["log_sigma"]), _MIN_WIDTH)
        self.weights_, self.bias_ = out["W"], out["b"]

    # ------------------------------------------------------------------ predict
    def _outputs_std(self, Xs: np.ndarray) -> np.ndarray:
        return gaussian_activations(Xs, self.centers_, self.widths_) @ self.weights_ + self.bias_

    def decision_outputs(self, X: Any) -> np.ndarray:
        """Network outputs ``y_k(x) = sum_i w_ik phi_i(x) + b_k``, shape (n_samples, n_classes)."""
        check_is_fitted(self)
        X = validate_arrays(self, X, reset=False)
        return self._outputs_std(self._standardise(X))

    def embed(self, X: Any) -> np.ndarray:
        """Hidden-layer activations ``phi_i(x)``, shape (n_samples, n_centers_used)."""
        check_is_fitted(self)
        X = validate_arrays(self, X, reset=False)
        return gaussian_activations(self._standardise(X), self.centers_, self.widths_)

    def predict(self, X: Any) -> np.ndarray:
        """Class of the largest output, shape (n_samples,)."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.decision_outputs(X), axis=1)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Outputs clipped at 0 and normalised (softmax where none is positive); (n_samples, n_classes)."""
        check_is_fitted(self)
        out = self.decision_outputs(X)
        proba = np.clip(out, 0.0, None)
        total = proba.sum(axis=1)
        ok = total > 0
        proba[ok] /= total[ok, None]
        if not ok.all():
            z = out[~ok] - out[~ok].max(axis=1, keepdims=True)
            ez = np.exp(z)
            proba[~ok] = ez / ez.sum(axis=1, keepdims=True)
        return proba


def ridge_solution(Phi: np.ndarray, D: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares output layer: minimise ``sum_n ||d_n - (W^T phi_n + b)||^2 + alpha ||W||^2``.

    Solved as one augmented least-squares problem (SVD, so it stays stable when kernels
    overlap); the bias ``b`` is not penalised.

    Parameters
    ----------
    Phi : np.ndarray, shape (n_samples, n_centers)
        Hidden activations.
    D : np.ndarray, shape (n_samples, n_outputs)
        Targets.
    alpha : float
        Ridge penalty (>= 0).

    Returns
    -------
    W : np.ndarray, shape (n_centers, n_outputs)
    b : np.ndarray, shape (n_outputs,)
    """
    n, k = Phi.shape
    A = np.hstack([Phi, np.ones((n, 1))])
    T = D
    if alpha > 0:
        A = np.vstack([A, np.sqrt(alpha) * np.eye(k, k + 1)])
        T = np.vstack([D, np.zeros((k, D.shape[1]))])
    sol, *_ = np.linalg.lstsq(A, T, rcond=None)
    return sol[:k], sol[k]


def _epsilon(Y: np.ndarray, D: np.ndarray) -> float:
    """The course's training error, averaged over examples: ``(1/n) sum_n ||d_n - y_n||^2``."""
    return float(np.square(D - Y).sum(axis=1).mean())
