"""Hopfield network: an associative memory of binary patterns whose energy never rises.

The course files the Hopfield network under *recurrent/feedback networks*: connections
can go backwards, the network has states rather than one pass from input to output.
Here every one of the N units is connected to every other one, in both directions,
with the same weight (``W`` is symmetric) and no self-connection (``w_ii = 0``: the
course allows self-connections in recurrent networks, but a Hopfield network leaves them
out so that a unit's own state does not hold it in place and stored patterns stay the
attractors).  Units are bipolar, ``s_i ∈ {-1, +1}``.

**Storing** P patterns ``x_1 ... x_P`` is one Hebbian step, the outer-product rule::

    W = (1/N) Σ_p x_p x_pᵀ,  then  w_ii = 0.

**Recalling** starts from a cue (a pattern with some bits wrong or unknown) and updates
units *asynchronously*, one at a time in a random order: ``s_i <- sign(Σ_j w_ij s_j)``,
a unit whose field is exactly 0 keeping its state.  Each such update can only lower the
energy::

    E(s) = -½ sᵀ W s

(the units have no thresholds, θ = 0; flipping unit ``i`` changes ``E`` by
``-Δs_i h_i <= 0``, using ``w_ii = 0`` and the symmetry of ``W``), so the state settles
in a local minimum, ideally the stored pattern nearest the cue.  About ``0.138 N`` random patterns can be stored before recall breaks
down (Amit, Gutfreund and Sompolinsky); storing more warns (:class:`CapacityWarning`).
Correlated patterns lower that limit further; the ``"projection"`` rule (pseudo-inverse,
Personnaz, Guyon and Dreyfus) stores them as fixed points all the same.

Real-valued features are made bipolar before storing or recalling them
(``binarization``): ``"sign"`` takes the sign of the standardised value, i.e. +1 where a
feature exceeds its training mean; ``"topk"`` sets the ``top_k`` largest features of each
example to +1 and the rest to -1 (the strongest pitch classes of a chroma vector);
``"none"`` takes inputs that already are bipolar (or 0/1).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from musicnn.checks import check_bool, check_choice, check_cpu_device, check_int, class_targets, validate_arrays
from musicnn.errors import DataError
from musicnn.models.estimator import BaseEstimator, check_is_fitted
from musicnn.models.state import ArrayStateMixin
from musicnn.progress import progress_bar
from musicnn.scaling import fit_standardiser

__all__ = ["BINARIZATIONS", "CAPACITY", "RULES", "CapacityWarning", "Hopfield", "hebbian_weights",
           "projection_weights"]

#: Patterns per unit a Hopfield network recalls reliably, by storage rule: about 0.138 N
#: random patterns with the Hebbian rule; the projection rule makes up to N independent
#: patterns fixed points, but with a zero diagonal their basins vanish well before, so
#: half of N is taken as its limit.
CAPACITY = {"hebbian": 0.138, "projection": 0.5}

#: binarization name -> what it does
BINARIZATIONS: dict[str, str] = {
    "sign": "+1 where the feature exceeds its training mean (the sign of the standardised value), else -1",
    "topk": "+1 for the top_k largest features of each example, -1 for the others",
    "none": "the input already is bipolar (-1/+1) or binary (0/1, read as -1/+1)",
}

#: storage rule name -> what it does
RULES: dict[str, str] = {
    "hebbian": "the course's outer-product rule W = (1/N) Σ_p x_p x_pᵀ, zero diagonal",
    "projection": "pseudo-inverse (projection) rule: W projects onto the span of the patterns, zero "
                  "diagonal; every stored pattern is a fixed point even when patterns are correlated",
}

# A local field this close to 0 counts as 0 (float rounding of sums of ±1/N).
_FIELD_TOL = 1e-9


class CapacityWarning(UserWarning):
    """More patterns were stored than a Hopfield network of that size recalls reliably."""


def hebbian_weights(patterns: np.ndarray) -> np.ndarray:
    """Hebbian outer-product weights of bipolar patterns, zero diagonal.

    Parameters
    ----------
    patterns : np.ndarray [shape=(P, N)]
        Patterns of -1/+1.

    Returns
    -------
    np.ndarray [shape=(N, N)]
        ``W = (1/N) Σ_p x_p x_pᵀ`` with ``w_ii = 0``; symmetric.
    """
    P = np.asarray(patterns, dtype=np.float64)
    W = P.T @ P / P.shape[1]
    np.fill_diagonal(W, 0.0)
    return W


def projection_weights(patterns: np.ndarray) -> np.ndarray:
    """Projection (pseudo-inverse) weights of bipolar patterns, zero diagonal.

    ``W = X⁺ X`` for the pattern matrix ``X`` (P, N): the orthogonal projector onto the
    span of the patterns, so ``W x_p = x_p``; with the diagonal set to 0 the field of unit
    ``i`` is ``(1 - W_ii) x_pi``, still of the sign of ``x_pi``.  Unlike the Hebbian rule,
    correlated patterns (class prototypes of real features) stay fixed points.

    Parameters
    ----------
    patterns : np.ndarray [shape=(P, N)]

    Returns
    -------
    np.ndarray [shape=(N, N)]
        Symmetric, zero diagonal.
    """
    P = np.asarray(patterns, dtype=np.float64)
    W = np.linalg.pinv(P) @ P
    W = 0.5 * (W + W.T)  # exact symmetry despite rounding
    np.fill_diagonal(W, 0.0)
    return W


class Hopfield(ArrayStateMixin, BaseEstimator):
    """Hopfield network: associative memory recalling stored binary patterns from cues.

    ``fit(X)`` binarises every row of ``X`` and stores it (Hebbian outer-product rule,
    zero diagonal).  ``recall`` settles cues by asynchronous updates in a seeded random
    order; ``energy`` never rises along the way.  See :mod:`musicnn.models.classic.hopfield`.

    ``fit(X, y)`` stores prototypes instead, ``patterns_per_class`` per label: the
    binarised class mean (with ``"sign"``: the sign of the class mean of the standardised
    features), or with several per class the binarised means of k-means clusters of the
    class.  ``predict`` then binarises each input, recalls from it as a cue and returns
    the label of the stored pattern the settled state is closest to (largest overlap
    ``s · x_p``); ``predict_proba`` is the one-hot vector of that label.  After ``fit(X)``
    ``predict`` returns the index of that stored pattern.

    Parameters
    ----------
    rule : {"hebbian", "projection"}, default="hebbian"
        Storage rule (see :data:`RULES`): the course's Hebbian outer product, or the
        projection rule, which keeps correlated patterns (class prototypes of real
        features, which the Hebbian rule merges into a few spurious states) as fixed points.
    binarization : {"sign", "topk", "none"}, default="sign"
        How real features become bipolar (see :data:`BINARIZATIONS`).
    top_k : int, default=3
        Units set to +1 per example by ``binarization="topk"``.
    patterns_per_class : int, default=1
        Prototypes stored per label by ``fit(X, y)``.
    max_sweeps : int, default=50
        Most sweeps (N single-unit updates each) of a recall; a cue still changing then
        warns (ConvergenceWarning).
    seed : int, default=0
        Seed of the update order (and of k-means); recall of a cue does not depend on
        the other cues recalled with it.
    progress : bool, default=True
        Progress bar over sweeps on a terminal.
    device : {"cpu", "auto"}, default="cpu"
        Accepted for the common interface of ``musicnn train``; the computation is numpy
        on the CPU.

    Attributes
    ----------
    patterns_ : np.ndarray of int8 [shape=(n_patterns, n_features)]
        The stored bipolar patterns.
    weights_ : np.ndarray [shape=(n_features, n_features)]
        Symmetric weights with zero diagonal.
    threshold_ : np.ndarray [shape=(n_features,)]
        Training mean of each feature (the ``"sign"`` binarization; zeros otherwise).
    classes_ : np.ndarray [shape=(n_classes,)]
        Labels (only after ``fit(X, y)``).
    pattern_labels_ : np.ndarray of int [shape=(n_patterns,)]
        Index into ``classes_`` of each stored pattern (only after ``fit(X, y)``).
    n_features_in_ : int
        Units N.

    Examples
    --------
    >>> net = Hopfield(binarization="none", progress=False).fit(patterns)  # doctest: +SKIP
    >>> net.recall(noisy)  # the stored patterns back  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        rule: str = "hebbian",
        binarization: str = "sign",
        top_k: int = 3,
        patterns_per_class: int = 1,
        max_sweeps: int = 50,
        seed: int = 0,
        progress: bool = True,
        device: str = "cpu",
    ) -> None:
        self.rule = rule
        self.binarization = binarization
        self.top_k = top_k
        self.patterns_per_class = patterns_per_class
        self.max_sweeps = max_sweeps
        self.seed = seed
        self.progress = progress
        self.device = device

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_choice("rule", self.rule, RULES)
        check_choice("binarization", self.binarization, BINARIZATIONS)
        check_int("top_k", self.top_k, minimum=1)
        check_int("patterns_per_class", self.patterns_per_class, minimum=1)
        check_int("max_sweeps", self.max_sweeps, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_bool("progress", self.progress)
        check_cpu_device(self, self.device)

    # ------------------------------------------------------------------ binarization
    def binarize(self, X: Any) -> np.ndarray:
        """Bipolar version of real features, by the fitted ``binarization``.

        Parameters
        ----------
        X : array-like [shape=(n_samples, n_features)]

        Returns
        -------
        np.ndarray of int8 [shape=(n_samples, n_features)]
            -1/+1.
        """
        check_is_fitted(self)
        return self._binarize(validate_arrays(self, X, reset=False))

    def _binarize(self, X: np.ndarray, *, means: bool = False) -> np.ndarray:
        how = self.binarization
        if how == "topk":
            k = min(int(self.top_k), X.shape[1])
            top = np.argsort(-X, axis=1, kind="stable")[:, :k]
            out = np.full(X.shape, -1, dtype=np.int8)
            np.put_along_axis(out, top, 1, axis=1)
            return out
        if how == "sign":
            return np.where(X >= self.threshold_, 1, -1).astype(np.int8)
        if means:  # class means of bipolar data: majority vote, ties to +1
            return np.where(X >= 0, 1, -1).astype(np.int8)
        return self._bipolar(X, "X")

    @staticmethod
    def _bipolar(S: np.ndarray, what: str) -> np.ndarray:
        """Check that ``S`` is -1/+1 or 0/1 and return it as -1/+1 int8."""
        values = np.unique(S)
        if np.all(np.isin(values, (-1.0, 1.0))):
            return S.astype(np.int8)
        if np.all(np.isin(values, (0.0, 1.0))):
            return (2 * S - 1).astype(np.int8)
        shown = ", ".join(f"{v:g}" for v in values[:6])
        raise DataError(f"{what} must be bipolar (-1/+1) or binary (0/1); found values {shown}"
                        f"{', ...' if len(values) > 6 else ''}: binarize real features first "
                        "(binarization='sign' or 'topk')")

    # ------------------------------------------------------------------ storing
    def fit(self, X: Any, y: Any = None) -> Hopfield:
        """Store the binarised rows of ``X``, or with ``y`` class prototypes.

        Parameters
        ----------
        X : array-like [shape=(n_samples, n_features)]
        y : array-like [shape=(n_samples,)], optional
            Labels: store ``patterns_per_class`` prototypes per label instead of every row.

        Returns
        -------
        self

        Warns
        -----
        CapacityWarning
            When more patterns are stored than the rule's capacity (:data:`CAPACITY`:
            ``0.138 N`` for the Hebbian rule, ``N / 2`` for the projection rule).
        """
        self._check_params()
        for attr in ("classes_", "pattern_labels_"):
            self.__dict__.pop(attr, None)
        if y is None:
            X = validate_arrays(self, X, reset=True)
        else:
            X, y = validate_arrays(self, X, y, reset=True)
            classes, yi = class_targets(self, y, hint="store class prototypes of two classes or more, "
                                                      "or fit(X) to store every row")
        self.threshold_ = X.mean(axis=0) if self.binarization == "sign" else np.zeros(X.shape[1])
        if y is None:
            patterns = self._binarize(X)
        else:
            self.classes_ = classes
            patterns, owners = self._prototypes(X, yi)
            self.pattern_labels_ = owners
        self._store(patterns)
        return self

    def _prototypes(self, X: np.ndarray, yi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Binarised class means (or k-means cluster means) and the class of each."""
        means, owners = [], []
        per_class = int(self.patterns_per_class)
        _, scale = fit_standardiser(X)  # k-means on features of unit variance
        for c in range(len(self.classes_)):
            Xc = X[yi == c]
            k = min(per_class, len(np.unique(Xc, axis=0)))
            if k <= 1:
                centres = Xc.mean(axis=0, keepdims=True)
            else:
                from sklearn.cluster import KMeans

                km = KMeans(n_clusters=k, n_init=4, random_state=int(self.seed)).fit(Xc / scale)
                centres = km.cluster_centers_ * scale
            means.append(centres)
            owners += [c] * len(centres)
        return self._binarize(np.concatenate(means), means=True), np.asarray(owners, dtype=np.int64)

    def _store(self, patterns: np.ndarray) -> None:
        P, N = patterns.shape
        capacity = CAPACITY[self.rule]
        if P > capacity * N:
            warnings.warn(
                f"storing {P} patterns in a Hopfield network of {N} units, more than the capacity of "
                f"the {self.rule} rule, about {capacity} N = {capacity * N:.1f}: recall may end in "
                "mixtures of patterns",
                CapacityWarning, stacklevel=3)
        self.patterns_ = np.ascontiguousarray(patterns, dtype=np.int8)
        rule = hebbian_weights if self.rule == "hebbian" else projection_weights
        self.weights_ = rule(self.patterns_)

    # ------------------------------------------------------------------ dynamics
    def energy(self, states: Any) -> np.ndarray | float:
        """Energy ``E(s) = -½ sᵀ W s`` of bipolar states.

        Parameters
        ----------
        states : array-like [shape=(N,) or (n, N)]

        Returns
        -------
        float or np.ndarray [shape=(n,)]
        """
        check_is_fitted(self)
        S = np.asarray(states, dtype=np.float64)
        E = -0.5 * np.einsum("...i,ij,...j->...", S, self.weights_, S)
        return float(E) if S.ndim == 1 else E

    def _cues(self, cues: Any) -> tuple[np.ndarray, bool]:
        S = np.asarray(cues, dtype=np.float64)
        single = S.ndim == 1
        S = np.atleast_2d(S)
        if S.ndim != 2 or S.shape[1] != self.n_features_in_:
            raise DataError(f"cues must have shape (n, {self.n_features_in_}) or ({self.n_features_in_},); "
                            f"got {np.shape(cues)}")
        if not np.all(np.isfinite(S)):
            raise DataError("cues hold NaN or infinite values")
        return self._bipolar(S, "cues").astype(np.float64), single

    def recall(self, cues: Any, max_sweeps: int | None = None, *, return_energy: bool = False) -> Any:
        """Settle cues by asynchronous updates; return the final states.

        Each sweep visits every unit once, in a random order drawn from ``seed`` and
        shared by all cues: unit ``i`` of every cue still moving is updated at once,
        ``s_i <- sign(Σ_j w_ij s_j)`` (kept when the field is 0), before the next unit.
        A cue is settled when a whole sweep changes none of its units.

        Parameters
        ----------
        cues : array-like [shape=(n, N) or (N,)]
            Bipolar (-1/+1) or binary (0/1) states.
        max_sweeps : int, optional
            Defaults to the ``max_sweeps`` hyper-parameter; reaching it warns.
        return_energy : bool, default=False
            Also return the energy of every cue after each single-unit update.

        Returns
        -------
        states : np.ndarray of int8 [shape like ``cues``]
            The settled states, -1/+1.
        energies : np.ndarray [shape=(n_updates + 1, n)]
            Only with ``return_energy``: row 0 is the cues' energy.
        """
        check_is_fitted(self)
        sweeps = self.max_sweeps if max_sweeps is None else max_sweeps
        check_int("max_sweeps", sweeps, minimum=1)
        S, single = self._cues(cues)
        W = self.weights_
        N = W.shape[0]
        rng = np.random.default_rng(self.seed)
        moving = np.arange(len(S))
        trace = [self.energy(S)] if return_energy else None
        bar = progress_bar(int(sweeps), desc="Hopfield recall", unit="sweep",
                           enabled=self.progress and len(S) > 1000)
        with bar:
            for _ in range(int(sweeps)):
                if not len(moving):
                    break
                order = rng.permutation(N)
                Sm = S[moving]
                changed = np.zeros(len(moving), dtype=bool)
                for i in order:
                    h = Sm @ W[:, i]
                    new = np.where(h > _FIELD_TOL, 1.0, np.where(h < -_FIELD_TOL, -1.0, Sm[:, i]))
                    flip = new != Sm[:, i]
                    if flip.any():
                        Sm[:, i] = new
                        changed |= flip
                    if return_energy:
                        S[moving] = Sm
                        trace.append(self.energy(S))
                S[moving] = Sm
                moving = moving[changed]
                bar.update()
        if len(moving):
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(f"{len(moving)} of {len(S)} cue(s) still changed after max_sweeps={sweeps} sweeps",
                          ConvergenceWarning, stacklevel=2)
        out = S.astype(np.int8)
        out = out[0] if single else out
        return (out, np.asarray(trace)) if return_energy else out

    def overlaps(self, states: Any) -> np.ndarray:
        """Overlap ``m_p = s · x_p / N`` of states with every stored pattern, in [-1, 1].

        Returns
        -------
        np.ndarray [shape=(n, n_patterns)]
        """
        check_is_fitted(self)
        S = np.atleast_2d(np.asarray(states, dtype=np.float64))
        return S @ self.patterns_.T.astype(np.float64) / self.n_features_in_

    # ------------------------------------------------------------------ readout
    def _nearest_pattern(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_arrays(self, X, reset=False)
        states = self.recall(self._binarize(X))
        return np.argmax(self.overlaps(states), axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Label (after ``fit(X, y)``) or index of the stored pattern each input recalls.

        Each input is binarised, recalled from as a cue, and matched to the stored
        pattern of largest overlap with the settled state.

        Returns
        -------
        np.ndarray [shape=(n_samples,)]
        """
        check_is_fitted(self)
        nearest = self._nearest_pattern(X)
        if hasattr(self, "classes_"):
            return self.classes_[self.pattern_labels_[nearest]]
        return nearest

    def predict_proba(self, X: Any) -> np.ndarray:
        """One-hot vector of the predicted label (only after ``fit(X, y)``).

        Returns
        -------
        np.ndarray [shape=(n_samples, n_classes)]
        """
        check_is_fitted(self)
        if not hasattr(self, "classes_"):
            raise DataError("Hopfield was fitted without labels: predict_proba needs fit(X, y)")
        labels = self.pattern_labels_[self._nearest_pattern(X)]
        proba = np.zeros((len(labels), len(self.classes_)))
        proba[np.arange(len(labels)), labels] = 1.0
        return proba
