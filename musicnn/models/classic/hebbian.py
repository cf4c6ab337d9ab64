"""Hebbian learning: plain Hebb, Oja's rule and Sanger's generalized Hebbian algorithm.

The course's Hebbian rule strengthens a synapse when the neurons on both of its sides
are active together; a linear unit with output ``O = wᵀ I`` learns by

    Δw = η O I

and so "learns the maximal variance": averaged over the inputs the update is
``η C w`` (``C`` the input covariance), which turns ``w`` towards the first principal
component.  But nothing bounds it: ``‖w‖`` grows by a factor ``1 + η λ₁`` per step,
without limit.  Oja's rule adds a decay that keeps ``‖w‖ = 1``; Sanger's rule
(the generalized Hebbian algorithm) makes several units learn the ordered principal
components, each one learning from what the previous ones left unexplained.

:class:`HebbianPCA` learns ``n_components`` linear units on standardised inputs with
any of the three rules (mini-batch and vectorised, in torch); ``transform`` returns the
units' outputs ``O = W I``.  Given labels it also fits a readout
(:mod:`musicnn.models.classic.readout`).  :func:`subspace_angle` compares what it learned with
the principal components of :class:`sklearn.decomposition.PCA`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from musicnn.checks import check_choice, check_float, check_int
from musicnn.errors import ConfigError
from musicnn.models.classic.readout import FeatureLearner
from musicnn.scaling import fit_standardiser, standardise

__all__ = ["RULES", "HebbianPCA", "subspace_angle"]

#: rule name -> the update it applies to the weights W (k, d), per input I with O = W I
RULES: dict[str, str] = {
    "hebb": "plain Hebb: ΔW = η O Iᵀ (diverges)",
    "oja": "Oja: ΔW = η (O Iᵀ − O Oᵀ W) (one unit: Δw = η O (I − O w))",
    "sanger": "Sanger's GHA: ΔW = η (O Iᵀ − LT[O Oᵀ] W) (ordered principal components)",
}


def _hebbian_step(rule: str, W: Any, I: Any) -> Any:
    """The update direction of ``rule`` averaged over a mini-batch (torch tensors).

    ``W`` holds one unit per row (k, d), ``I`` one input per row (B, d); the outputs
    are ``O = I Wᵀ`` (B, k).  Returns ``ΔW / η`` (k, d).
    """
    import torch

    O = I @ W.T
    hebb = O.T @ I  # Σ O Iᵀ: the Hebbian term, co-activity of output and input
    if rule == "hebb":
        step = hebb
    elif rule == "oja":
        step = hebb - (O.T @ O) @ W  # Oja's decay, for every unit against all units
    else:
        step = hebb - torch.tril(O.T @ O) @ W  # Sanger: unit j decays against units 1..j
    return step / I.shape[0]


def _mean_update_ratio(rule: str, W: Any, X: Any) -> float:
    """``‖E[ΔW]‖ / ‖E[O Iᵀ]‖`` over all of ``X``: the rule's mean update relative to its Hebbian term.

    0 at a fixed point of the rule; 1 for plain Hebb, whose update is all Hebbian term.
    Near a fixed point of Oja's or Sanger's rule it is about the angle (in radians) still
    to turn, weighted by the eigenvalue gaps.
    """
    import torch

    hebb = (X @ W.T).T @ X / X.shape[0]
    step = _hebbian_step(rule, W, X)
    return float(torch.linalg.vector_norm(step) / torch.clamp(torch.linalg.vector_norm(hebb), min=1e-300))


def subspace_angle(A: Any, B: Any) -> float:
    """Largest principal angle, in degrees, between the spaces spanned by the rows of A and B.

    Parameters
    ----------
    A : array-like, shape (k_a, d)
        Vectors spanning one subspace (e.g. ``HebbianPCA().components_``); they need
        not be orthonormal.
    B : array-like, shape (k_b, d)
        Vectors spanning the other (e.g. ``sklearn.decomposition.PCA().components_``).

    Returns
    -------
    float
        In [0, 90].  0 when the smaller subspace lies inside the larger one; 90 when some
        direction of the smaller one is orthogonal to the larger one.  The sign of a
        vector does not matter (``subspace_angle(v, -v) == 0``).

    Raises
    ------
    ValueError
        When the vectors do not have the same dimension ``d``, are empty, not finite,
        or span fewer dimensions than they number (linearly dependent rows).
    """
    A = np.atleast_2d(np.asarray(A, dtype=np.float64))
    B = np.atleast_2d(np.asarray(B, dtype=np.float64))
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1] or 0 in A.shape or 0 in B.shape:
        raise ValueError(
            f"A and B must hold row vectors of one dimension, shapes (k_a, d) and (k_b, d); "
            f"got {A.shape} and {B.shape}"
        )
    if not (np.isfinite(A).all() and np.isfinite(B).all()):
        raise ValueError("A and B must be finite (no NaN or infinity)")

    def basis(M: np.ndarray, name: str) -> np.ndarray:
        Q, R = np.linalg.qr(M.T)
        diag = np.abs(np.diag(R))
        if diag.min() <= 1e-10 * max(diag.max(), 1e-300):
            raise ValueError(f"the rows of {name} are linearly dependent (or zero); give a basis")
        return Q

    Qa, Qb = basis(A, "A"), basis(B, "B")
    if Qa.shape[1] > Qb.shape[1]:
        Qa, Qb = Qb, Qa
    # sin of the largest angle = how far the smaller basis sticks out of the larger space
    residual = Qa - Qb @ (Qb.T @ Qa)
    sine = float(np.linalg.norm(residual, ord=2))
    return float(np.degrees(np.arcsin(min(1.0, sine))))


class HebbianPCA(FeatureLearner):
    """Linear units trained by a Hebbian rule: principal components of the inputs.

    Each unit ``j`` has a weight vector ``w_j`` (row ``j`` of ``W``) and output
    ``O_j = w_jᵀ I``; the inputs ``I`` are the standardised feature vectors.  The rules,
    as the course writes the first one (η the learning rate):

    ``"hebb"`` — plain Hebb, ``Δw = η O I``, ``O = wᵀ I``.
        Strengthens weights between co-active input and output; turns ``w`` towards the
        direction of maximal variance but its norm grows without bound (by about
        ``1 + η λ₁`` per step, ``λ₁`` the largest variance).  Training stops with a
        ConvergenceWarning when ``‖w‖`` exceeds ``max_weight_norm``; ``weight_norms_``
        records the growth (exponential with a constant η, ``lr_decay=0``; still
        unbounded, but slower, with an annealed one).  With several units every unit turns
        towards the same first component.
    ``"oja"`` — Oja's rule, ``Δw = η O (I − O w)``.
        The decay ``− η O² w`` keeps ``‖w‖ → 1``; one unit converges to the first
        principal component.  With several units it is the symmetric subspace rule
        ``ΔW = η (O Iᵀ − O Oᵀ W)``: the units span the first ``k`` principal components
        with orthonormal weights, in no particular order.
    ``"sanger"`` — Sanger's generalized Hebbian algorithm, ``ΔW = η (O Iᵀ − LT[O Oᵀ] W)``.
        ``LT`` keeps the lower triangle with the diagonal: unit ``j`` learns Oja's rule on
        the input minus what units ``1..j−1`` reconstruct, so the units converge to the
        first ``k`` principal components, ordered by decreasing variance.

    Updates are averaged over mini-batches of shuffled examples; the learning rate of
    update ``t`` (from 0) is ``η / (1 + lr_decay · t)``, whose annealing
    lets the stochastic updates settle.  After each epoch the rule's mean update over
    the whole training set is measured relative to its Hebbian term,
    ``‖E[ΔW]‖ / ‖E[O Iᵀ]‖``; it is zero exactly at a fixed point of the rule (for
    Sanger's rule: the principal components; about the angle in radians still to turn
    near one; always 1 for plain Hebb), and training stops once it falls below ``tol``;
    otherwise at ``max_epochs``, with a ConvergenceWarning.

    With labels, ``fit(X, y)`` also fits a readout on the outputs ``O`` (see
    :mod:`musicnn.models.classic.readout`) so that ``predict``/``predict_proba`` work.

    Parameters
    ----------
    n_components : int, default=64
        Number of linear units ``k``; at most the number of input features.
    rule : {"sanger", "oja", "hebb"}, default="sanger"
        The learning rule (above).
    lr : float, default=0.01
        The learning rate η.  On standardised inputs the rule is stable for roughly
        ``η λ₁ < 1``.
    lr_decay : float, default=1e-3
        Annealing of η over updates (0 keeps it constant): η is halved after
        ``1 / lr_decay`` mini-batches.
    batch_size : int, default=32
        Examples per mini-batch (the update is their average).
    max_epochs : int, default=300
        Most passes over the data.
    tol : float, default=2e-2
        Convergence threshold on the relative mean update ``‖E[ΔW]‖ / ‖E[O Iᵀ]‖``
        (Frobenius norms).
    max_weight_norm : float, default=1e6
        Largest norm of a unit's weight vector before training stops as diverged
        (the fate of plain Hebb, or of any rule with too large a learning rate).
    readout : {"softmax", "centroid"}, default="softmax"
        Classifier fitted on the outputs when ``fit`` receives ``y``.
    readout_alpha : float, default=1e-2
        L2 penalty of the softmax readout.
    readout_max_iter : int, default=1000
        Most L-BFGS iterations of the softmax readout.
    seed : int, default=0
        Seeds the initial weights and the order of the examples.
    device : str, default="cpu"
        Where the updates run: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    progress : bool, default=True
        Show a progress bar over epochs on a terminal.

    Attributes
    ----------
    components_ : np.ndarray, shape (n_components, n_features)
        The learned weights ``W``, one unit per row, in the standardised input space
        (not normalised: for plain Hebb their norm is what diverged).
    weight_norms_ : np.ndarray, shape (n_epochs, n_components)
        ``‖w_j‖`` after each epoch (after the last update when training stopped early).
    mean_updates_ : np.ndarray, shape (n_epochs,)
        The relative mean update ``‖E[ΔW]‖ / ‖E[O Iᵀ]‖`` after each complete epoch (what
        ``tol`` is compared with).
    explained_variance_ : np.ndarray, shape (n_components,)
        Variance of the standardised training data along each unit-normalised weight
        vector; for Sanger's rule close to PCA's eigenvalues, decreasing.
    explained_variance_ratio_ : np.ndarray, shape (n_components,)
        The same divided by the total variance.
    mean_, scale_ : np.ndarray, shape (n_features,)
        Standardisation of the inputs (constant features get scale 1).
    n_iter_ : int
        Epochs run.
    converged_ : bool
        Whether the ``tol`` test stopped training.
    diverged_ : bool
        Whether a weight norm passed ``max_weight_norm`` (or overflowed).
    classes_, feature_mean_, feature_scale_, readout_coef_, readout_intercept_, readout_n_iter_
        The readout's state, present after ``fit(X, y)``.
    n_features_in_ : int

    Examples
    --------
    >>> gha = HebbianPCA(n_components=4, progress=False).fit(X)  # doctest: +SKIP
    >>> subspace_angle(gha.components_, PCA(4).fit(StandardScaler().fit_transform(X)).components_)  # doctest: +SKIP
    """

    def __init__(
        self,
        n_components: int = 64,
        *,
        rule: str = "sanger",
        lr: float = 0.01,
        lr_decay: float = 1e-3,
        batch_size: int = 32,
        max_epochs: int = 300,
        tol: float = 2e-2,
        max_weight_norm: float = 1e6,
        readout: str = "softmax",
        readout_alpha: float = 1e-2,
        readout_max_iter: int = 1000,
        seed: int = 0,
        device: str = "cpu",
        progress: bool = True,
    ) -> None:
        self.n_components = n_components
        self.rule = rule
        self.lr = lr
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.max_weight_norm = max_weight_norm
        self.readout = readout
        self.readout_alpha = readout_alpha
        self.readout_max_iter = readout_max_iter
        self.seed = seed
        self.device = device
        self.progress = progress

    _RENAMED = {"learning_rate": "lr", "learning_rate_decay": "lr_decay"}

    def _check_params(self) -> None:
        check_int("n_components", self.n_components, minimum=1)
        check_choice("rule", self.rule, tuple(RULES))
        check_float("lr_decay", self.lr_decay, low=0.0)
        check_float("max_weight_norm", self.max_weight_norm, low=0.0, low_inclusive=False)

    def _learn(self, X: np.ndarray) -> None:
        import torch
        from sklearn.exceptions import ConvergenceWarning

        d = X.shape[1]
        k = int(self.n_components)
        if k > d:
            raise ConfigError(
                f"n_components={k} must be <= n_features={d} (X has {d} feature(s)); "
                "a Hebbian layer learns at most as many components as there are inputs"
            )
        self.mean_, self.scale_ = fit_standardiser(X)
        Xs = standardise(X, self.mean_, self.scale_)

        bound = float(self.max_weight_norm)
        norms: list[np.ndarray] = []
        converged = diverged = False
        stop_note = ""
        epoch = 0
        residual = float("nan")
        residuals: list[float] = []
        n_updates = 0
        with self._training(f"hebbian ({self.rule})") as (device, gen, bar):
            Xt = torch.from_numpy(Xs).to(device)
            # random initial weights, norm about 1 per unit (where Oja's and Sanger's rules settle)
            W = (torch.randn(k, d, generator=gen, dtype=torch.float64) / np.sqrt(d)).to(device)
            for epoch in range(1, int(self.max_epochs) + 1):
                for I in self._minibatches(Xt, gen):
                    lr = float(self.lr) / (1.0 + float(self.lr_decay) * n_updates)
                    n_updates += 1
                    new = W + lr * _hebbian_step(self.rule, W, I)
                    largest = float(torch.linalg.vector_norm(new, dim=1).max())
                    if not np.isfinite(largest):  # keep the last finite weights
                        diverged, stop_note = True, "overflowed"
                        break
                    W = new
                    if largest > bound:
                        diverged, stop_note = True, f"reached {largest:.3g}"
                        break
                norms.append(torch.linalg.vector_norm(W, dim=1).cpu().numpy())
                bar.update(1)
                if diverged:
                    break
                # the rule's mean update over all the data: zero at a fixed point of the rule
                residual = _mean_update_ratio(self.rule, W, Xt)
                residuals.append(residual)
                bar.set_postfix({"update": f"{residual:.2e}", "norm": f"{norms[-1].max():.3g}"}, refresh=False)
                if residual < float(self.tol):
                    converged = True
                    break

        W_np = W.cpu().numpy().astype(np.float64)
        self.components_ = W_np
        self.weight_norms_ = np.stack(norms)
        self.mean_updates_ = np.asarray(residuals)
        self.n_iter_ = int(epoch)
        self.converged_ = bool(converged)
        self.diverged_ = bool(diverged)
        unit = W_np / np.maximum(np.linalg.norm(W_np, axis=1, keepdims=True), 1e-300)
        self.explained_variance_ = np.var(Xs @ unit.T, axis=0)
        total = float(np.var(Xs, axis=0).sum())
        self.explained_variance_ratio_ = self.explained_variance_ / (total if total > 0 else 1.0)
        if diverged:
            advice = ("plain Hebbian learning has no decay term; use rule='oja' or rule='sanger'"
                      if self.rule == "hebb" else "lower lr")
            warnings.warn(
                f"HebbianPCA(rule={self.rule!r}) diverged: the weight norm {stop_note} "
                f"(max_weight_norm={bound:g}) in epoch {epoch}; training stopped there. {advice}",
                ConvergenceWarning,
                stacklevel=3,
            )
        elif not converged:
            warnings.warn(
                f"HebbianPCA(rule={self.rule!r}) stopped at max_epochs={self.max_epochs} before the "
                f"weights settled (relative mean update {residual:.2e} > tol={self.tol:g}); raise "
                "max_epochs or lr_decay",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _features(self, X: np.ndarray) -> np.ndarray:
        """Outputs ``O = W I`` of the units for standardised inputs ``I``."""
        return standardise(X, self.mean_, self.scale_) @ self.components_.T
