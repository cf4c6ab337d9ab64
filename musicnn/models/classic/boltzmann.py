"""Boltzmann learning: a restricted Boltzmann machine trained by contrastive divergence.

In the course, Boltzmann learning works on symmetric networks of *stochastic units*:
each unit turns on with a probability given by the Boltzmann distribution of
statistical mechanics, and learning alternates two phases.  In the *clamped* phase the
visible units are fixed to a training example and the correlations ``⟨v hᵀ⟩_data``
are measured; in the *free-running* phase the network runs on its own and the
correlations ``⟨v hᵀ⟩_model`` are measured.  The weights move so that the free-running
network reproduces the clamped statistics, i.e. the data's distribution:

    ΔW = η (⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model)

A *restricted* Boltzmann machine has no connections within a layer, so one layer's
units are independent given the other's and the phases are cheap: the clamped
statistics need one pass ``v → h``, and contrastive divergence (CD-k) replaces the
free-running equilibrium by ``k`` steps of alternating Gibbs sampling started at the
data.  :class:`RBM` implements it with mini-batches in torch; ``transform`` returns the
hidden units' probabilities ``P(h = 1 | v)``, the learned features; with labels,
``fit(X, y)`` also fits a readout on them (:mod:`musicnn.models.classic.readout`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from musicnn.checks import check_choice, check_float, check_int, validate_arrays
from musicnn.errors import ConfigError
from musicnn.models.classic.readout import FeatureLearner
from musicnn.runtime import rng
from musicnn.scaling import CONSTANT_TOL, fit_standardiser, standardise

__all__ = ["VISIBLE_UNITS", "RBM"]

#: visible unit type -> how inputs are presented to it
VISIBLE_UNITS: dict[str, str] = {
    "bernoulli": "binary stochastic units; inputs scaled to [0, 1] (training minimum and range)",
    "gaussian": "linear units with unit-variance Gaussian noise; inputs standardised",
}

# the window (epochs) over which the recent fall of the reconstruction error is measured
_WINDOW = 5


def _sigmoid(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(x)


class RBM(FeatureLearner):
    """Restricted Boltzmann machine trained by contrastive divergence (CD-k).

    Visible units ``v`` (one per input feature) and binary stochastic hidden units
    ``h`` are joined by symmetric weights ``W`` (no connections within a layer).  With
    visible biases ``b`` and hidden biases ``c`` the energy of a joint state is

    * Bernoulli visible units: ``E(v, h) = − bᵀv − cᵀh − vᵀ W h``
    * Gaussian visible units (unit variance): ``E(v, h) = ‖v − b‖² / 2 − cᵀh − vᵀ W h``

    and the Boltzmann distribution ``P(v, h) ∝ exp(−E(v, h))`` gives the stochastic
    units' rules: ``P(h_j = 1 | v) = σ(c_j + vᵀ W_{:j})`` and ``P(v_i = 1 | h) =
    σ(b_i + W_{i:} h)`` (Bernoulli) or ``v_i | h ~ N(b_i + W_{i:} h, 1)`` (Gaussian),
    ``σ`` the logistic sigmoid.

    Training (one mini-batch, CD-k):

    1. *Clamped (positive) phase*: visible units fixed to the data ``v⁰``; hidden
       probabilities ``p⁰ = P(h = 1 | v⁰)``; statistics ``⟨v hᵀ⟩_data = v⁰ᵀ p⁰ / B``.
    2. *Free-running (negative) phase*: ``k`` steps of alternating Gibbs sampling from
       the data: hidden states sampled, ``h ~ Bernoulli(p)``; visible units
       reconstructed; hidden probabilities recomputed.  Statistics
       ``⟨v hᵀ⟩_model = vᵏᵀ pᵏ / B``.
    3. ``ΔW = η (⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model − λ W)``, ``Δb = η ⟨v⁰ − vᵏ⟩``,
       ``Δc = η ⟨p⁰ − pᵏ⟩``, each added to a velocity with ``momentum``.

    As in Hinton's practical guide, hidden units are sampled in the chain but the
    statistics use their probabilities, and the reconstructed visible units take their
    expected values (probabilities for Bernoulli units, means for Gaussian units),
    which lowers the sampling noise without changing what is learned.  :meth:`gibbs`
    samples both layers.

    Inputs are presented to the visible units in their own scale, learned in ``fit``:
    for ``"bernoulli"`` each feature is mapped to [0, 1] by the training minimum and
    range (values outside are clipped; binary data is unchanged), and read as the
    probability of the unit being on; for ``"gaussian"`` each feature is standardised
    (zero mean, unit variance), matching the units' unit variance.

    Parameters
    ----------
    n_hidden : int, default=128
        Hidden units (learned features).
    visible : {"gaussian", "bernoulli"}, default="gaussian"
        Visible unit type (above).  Real-valued features such as MFCC statistics suit
        Gaussian units; binary patterns suit Bernoulli units.
    k : int, default=1
        Gibbs steps of the free-running phase (CD-k).
    lr : float, default=0.01
        The learning rate η.  Gaussian units need a smaller one than Bernoulli units (their visible
        values are unbounded); 0.01 suits both on standardised or [0, 1] inputs.
    batch_size : int, default=32
        Examples per mini-batch.
    max_epochs : int, default=100
        Most passes over the data.
    momentum : float, default=0.5
        Share of the previous update added to the current one, in [0, 1).
    weight_decay : float, default=1e-4
        L2 penalty ``λ`` on the weights.
    tol : float, default=1e-2
        Training stops once the last 5 epochs brought less than ``tol`` of the total fall
        of the reconstruction error since the first epoch (a plateau at the start, while
        the hidden units break their symmetry, does not stop it).
    readout : {"softmax", "centroid"}, default="softmax"
        Classifier fitted on the hidden probabilities when ``fit`` receives ``y``.
    readout_alpha : float, default=1e-2
        L2 penalty of the softmax readout.
    readout_max_iter : int, default=1000
        Most L-BFGS iterations of the softmax readout.
    seed : int, default=0
        Seeds the initial weights, the order of the examples and the sampling.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    progress : bool, default=True
        Show a progress bar over epochs on a terminal.

    Attributes
    ----------
    weights_ : np.ndarray, shape (n_features, n_hidden)
        ``W``.
    visible_bias_ : np.ndarray, shape (n_features,)
        ``b``.
    hidden_bias_ : np.ndarray, shape (n_hidden,)
        ``c``.
    offset_, scale_ : np.ndarray, shape (n_features,)
        Input scaling: visible value = ``(x − offset_) / scale_`` (then clipped to [0, 1]
        for Bernoulli units).
    reconstruction_error_ : np.ndarray, shape (n_epochs,)
        After each epoch, the mean squared difference between the training data and
        its mean-field reconstruction ``v → P(h | v) → E[v | h]`` (in visible units).
    n_iter_ : int
        Epochs run.
    converged_ : bool
        Whether the ``tol`` test stopped training.
    classes_, feature_mean_, feature_scale_, readout_coef_, readout_intercept_, readout_n_iter_
        The readout's state, present after ``fit(X, y)``.
    n_features_in_ : int

    Examples
    --------
    >>> rbm = RBM(n_hidden=64, progress=False).fit(X_train, y_train)  # doctest: +SKIP
    >>> rbm.transform(X_test).shape, rbm.predict(X_test)  # doctest: +SKIP
    """

    def __init__(
        self,
        n_hidden: int = 128,
        *,
        visible: str = "gaussian",
        k: int = 1,
        lr: float = 0.01,
        batch_size: int = 32,
        max_epochs: int = 100,
        momentum: float = 0.5,
        weight_decay: float = 1e-4,
        tol: float = 1e-2,
        readout: str = "softmax",
        readout_alpha: float = 1e-2,
        readout_max_iter: int = 1000,
        seed: int = 0,
        device: str = "cpu",
        progress: bool = True,
    ) -> None:
        self.n_hidden = n_hidden
        self.visible = visible
        self.k = k
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.tol = tol
        self.readout = readout
        self.readout_alpha = readout_alpha
        self.readout_max_iter = readout_max_iter
        self.seed = seed
        self.device = device
        self.progress = progress

    _RENAMED = {"learning_rate": "lr"}

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_int("n_hidden", self.n_hidden, minimum=1)
        check_choice("visible", self.visible, tuple(VISIBLE_UNITS))
        check_int("k", self.k, minimum=1)
        check_float("momentum", self.momentum, low=0.0, high=1.0)
        check_float("weight_decay", self.weight_decay, low=0.0)

    # ------------------------------------------------------------------ scaling
    def _fit_scaling(self, X: np.ndarray) -> None:
        """``offset_`` and ``scale_``: training minimum and range (Bernoulli), or mean and
        standard deviation (Gaussian); a constant feature gets scale 1."""
        if self.visible == "gaussian":
            self.offset_, self.scale_ = fit_standardiser(X)
            return
        low, span = X.min(axis=0), np.ptp(X, axis=0)
        self.offset_ = low
        self.scale_ = np.where(span <= CONSTANT_TOL * np.maximum(1.0, np.abs(low)), 1.0, span)

    def _to_visible(self, X: np.ndarray) -> np.ndarray:
        V = standardise(X, self.offset_, self.scale_)
        if self.visible == "bernoulli":
            np.clip(V, 0.0, 1.0, out=V)
        return V

    def _from_visible(self, V: np.ndarray) -> np.ndarray:
        return V * self.scale_ + self.offset_

    # ------------------------------------------------------------------ training
    def _learn(self, X: np.ndarray) -> None:
        import torch
        from sklearn.exceptions import ConvergenceWarning

        d = X.shape[1]
        bernoulli = self.visible == "bernoulli"
        self._fit_scaling(X)
        V = self._to_visible(X)

        f64 = torch.float64
        lr, mom, decay = float(self.lr), float(self.momentum), float(self.weight_decay)
        steps = int(self.k)
        errors: list[float] = []
        converged, epoch = False, 0
        with self._training(f"rbm (CD-{steps})") as (device, gen, bar):
            sampler = torch.Generator(device=device).manual_seed(int(self.seed) + 1)
            Vt = torch.from_numpy(V).to(device)
            W = (0.01 * torch.randn(d, int(self.n_hidden), generator=gen, dtype=f64)).to(device)
            c = torch.zeros(int(self.n_hidden), dtype=f64, device=device)
            if bernoulli:  # Hinton: b_i = log(p_i / (1 − p_i)) with p_i the share of time unit i is on
                p = np.clip(V.mean(axis=0), 1e-3, 1 - 1e-3)
                b = torch.from_numpy(np.log(p / (1 - p))).to(device)
            else:
                b = torch.from_numpy(V.mean(axis=0)).to(device)
            vW, vb, vc = torch.zeros_like(W), torch.zeros_like(b), torch.zeros_like(c)

            def visible_mean(h: Any) -> Any:
                act = h @ W.T + b
                return torch.sigmoid(act) if bernoulli else act

            for epoch in range(1, int(self.max_epochs) + 1):
                for v0 in self._minibatches(Vt, gen):
                    # clamped phase: visible units fixed to the data
                    p0 = torch.sigmoid(v0 @ W + c)
                    # free-running phase: k steps of alternating Gibbs sampling
                    ph = p0
                    for _ in range(steps):
                        h = (torch.rand(ph.shape, generator=sampler, dtype=f64, device=device) < ph).to(f64)
                        vk = visible_mean(h)
                        ph = torch.sigmoid(vk @ W + c)
                    m = v0.shape[0]
                    grad_W = (v0.T @ p0 - vk.T @ ph) / m - decay * W  # ⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model
                    vW.mul_(mom).add_(grad_W, alpha=lr)
                    vb.mul_(mom).add_((v0 - vk).mean(dim=0), alpha=lr)
                    vc.mul_(mom).add_((p0 - ph).mean(dim=0), alpha=lr)
                    W += vW
                    b += vb
                    c += vc
                recon = visible_mean(torch.sigmoid(Vt @ W + c))
                err = float(((Vt - recon) ** 2).mean())
                if not np.isfinite(err):
                    raise ConfigError(
                        f"RBM training diverged at epoch {epoch} (reconstruction error {err}); lower "
                        f"lr={self.lr:g}"
                        + (" (Gaussian visible units need a small one)" if not bernoulli else "")
                    )
                errors.append(err)
                bar.update(1)
                bar.set_postfix({"recon": f"{err:.4f}"}, refresh=False)
                if len(errors) > _WINDOW:
                    total_fall = errors[0] - err
                    recent_fall = errors[-1 - _WINDOW] - err
                    if total_fall > 0 and recent_fall < float(self.tol) * total_fall:
                        converged = True
                        break

        self.weights_ = W.cpu().numpy()
        self.visible_bias_ = b.cpu().numpy()
        self.hidden_bias_ = c.cpu().numpy()
        self.reconstruction_error_ = np.asarray(errors)
        self.n_iter_ = int(epoch)
        self.converged_ = bool(converged)
        if not converged:
            warnings.warn(
                f"RBM stopped at max_epochs={self.max_epochs} while its reconstruction error was "
                f"still falling (last {errors[-1]:.4g}; tol={self.tol:g} of its total fall over "
                f"{_WINDOW} epochs); raise max_epochs to train longer",
                ConvergenceWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ features
    def _hidden_probabilities(self, V: np.ndarray) -> np.ndarray:
        return _sigmoid(V @ self.weights_ + self.hidden_bias_)

    def _features(self, X: np.ndarray) -> np.ndarray:
        """Hidden probabilities ``P(h = 1 | v)`` of the inputs, shape (n, n_hidden)."""
        return self._hidden_probabilities(self._to_visible(X))

    def free_energy(self, X: Any) -> np.ndarray:
        """Free energy ``F(v) = −log Σ_h exp(−E(v, h))`` of each example.

        ``F(v) = −bᵀv − Σ_j log(1 + exp(c_j + vᵀW_{:j}))`` for Bernoulli visible units and
        ``F(v) = ‖v − b‖²/2 − Σ_j log(1 + exp(c_j + vᵀW_{:j}))`` for Gaussian ones, with
        ``v`` the inputs in visible units.  ``P(v) ∝ exp(−F(v))``: the lower, the more
        probable the model finds the example.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Inputs in the same units as the training data.

        Returns
        -------
        np.ndarray, shape (n_samples,)
        """
        from musicnn.models.estimator import check_is_fitted

        check_is_fitted(self)
        V = self._to_visible(validate_arrays(self, X, reset=False))
        hidden = np.logaddexp(0.0, V @ self.weights_ + self.hidden_bias_).sum(axis=1)
        if self.visible == "bernoulli":
            return -(V @ self.visible_bias_) - hidden
        return 0.5 * ((V - self.visible_bias_) ** 2).sum(axis=1) - hidden

    def gibbs(self, X: Any, n_steps: int = 1, *, seed: int | None = None) -> np.ndarray:
        """Run ``n_steps`` of alternating Gibbs sampling ``v → h → v`` from each example.

        Both layers are sampled: ``h ~ Bernoulli(P(h | v))``, then ``v ~ Bernoulli(P(v | h))``
        (Bernoulli units) or ``v ~ N(b + W h, 1)`` (Gaussian units).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_features)
            Starting states, in the same units as the training data.
        n_steps : int, default=1
            Full steps ``v → h → v``.
        seed : int, optional
            Seed of the sampling (default: the estimator's ``seed``); the same seed gives
            the same samples.

        Returns
        -------
        np.ndarray, shape (n_samples, n_features)
            The visible samples, mapped back to the units of the training data (for
            Bernoulli units each feature is then its training minimum or maximum).
        """
        from musicnn.models.estimator import check_is_fitted

        check_is_fitted(self)
        check_int("n_steps", n_steps, minimum=1)
        seed = self.seed if seed is None else seed
        check_int("seed", seed, minimum=0)
        gen = rng(seed)
        V = self._to_visible(validate_arrays(self, X, reset=False))
        for _ in range(int(n_steps)):
            ph = self._hidden_probabilities(V)
            h = (gen.random(ph.shape) < ph).astype(np.float64)
            act = h @ self.weights_.T + self.visible_bias_
            if self.visible == "bernoulli":
                V = (gen.random(act.shape) < _sigmoid(act)).astype(np.float64)
            else:
                V = act + gen.standard_normal(act.shape)
        return self._from_visible(V)

    def reconstruct(self, X: Any) -> np.ndarray:
        """Mean-field reconstruction ``E[v | h = P(h | v)]`` of each example, in input units.

        Raises
        ------
        DataError
            For bad inputs (NaN, wrong number of features).
        """
        from musicnn.models.estimator import check_is_fitted

        check_is_fitted(self)
        V = self._to_visible(validate_arrays(self, X, reset=False))
        act = self._hidden_probabilities(V) @ self.weights_.T + self.visible_bias_
        return self._from_visible(_sigmoid(act) if self.visible == "bernoulli" else act)

