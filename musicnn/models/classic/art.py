"""Adaptive Resonance Theory: Fuzzy ART (unsupervised) and Fuzzy ARTMAP (supervised).

The course presents ART as a form of competitive network with four rules:

* not all output neurons are used, only if necessary;
* there is a difference between *committed* and *uncommitted* output neurons;
* a category is only updated if its prototype is similar to the input;
* the extent of similarity is controlled by the vigilance ρ.

Fuzzy ART (Carpenter, Grossberg and Rosen, 1991) makes those rules work on real inputs
in [0, 1].  Each input ``a`` (M features) is *complement coded*, ``I = [a, 1 - a]``, so
that ``|I| = M`` for every input (``|.|`` is the L1 norm and ``∧`` the element-wise
minimum).  A committed category ``j`` holds a prototype ``w_j`` of length 2M; the
uncommitted ones all hold ``w = 1``.  Presenting ``I``:

1. **choice**: every category gets ``T_j = |I ∧ w_j| / (α + |w_j|)``; an uncommitted one
   gets ``|I| / (α + 2M)``.
2. **vigilance test**: the categories are searched in decreasing ``T`` order; the first
   whose match ``|I ∧ w_j| / |I|`` reaches ρ *resonates*; the others are *reset*.  An
   uncommitted category always matches, so when the search reaches it (nothing committed
   was similar enough) it becomes committed: a new category is created, only if necessary.
3. **learning**: the resonating category learns ``w_j <- β (I ∧ w_j) + (1 - β) w_j``;
   ``β = 1`` is *fast learning*, ``β < 1`` *slow learning*.  A category being committed
   takes ``w = I`` whatever β ("fast commit, slow recode").

Because the match of a category does not depend on the order of the search, "the first
category in decreasing ``T`` order that passes the vigilance test" is computed at once:
all ``T`` and match values are computed together and the best passing one is taken.

In the weight space, ``w_j = [u_j, 1 - v_j]`` is a hyper-box with lower corner ``u_j`` and
upper corner ``v_j``: learning with β = 1 grows the box just enough to hold the input, and
vigilance ρ bounds its size (``Σ (v_j - u_j) <= M (1 - ρ)``).

Fuzzy ARTMAP adds supervision: each category predicts one label.  When the resonating
category predicts the wrong label, *match tracking* raises the vigilance just above that
category's match (``ρ <- match_j + ε``) and the search goes on, so a more specific category
is found or committed.  This implements the simplified ARTMAP of one ART module and a map
field of one label per category (:class:`~musicnn.models.classic.artmap.FuzzyARTMAP`, in
its own module; the search and match tracking live here, in the base both share).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from musicnn.checks import (check_bool, check_choice, check_cpu_device, check_float, check_int, class_targets,
                            validate_arrays)
from musicnn.errors import ConfigError, DataError
from musicnn.models.estimator import BaseEstimator, check_is_fitted
from musicnn.models.state import ArrayStateMixin
from musicnn.progress import progress_bar

__all__ = ["FuzzyART", "complement_code"]

#: how inputs are brought into [0, 1]
SCALINGS = ("minmax", "none")

# Inputs x categories x 2M floats computed at once by the vectorised choice function.
_CHUNK_ELEMENTS = 1 << 22


def complement_code(A: np.ndarray) -> np.ndarray:
    """Complement coding ``I = [a, 1 - a]`` of inputs in [0, 1].

    Parameters
    ----------
    A : np.ndarray [shape=(n, M)]
        Inputs, each feature in [0, 1].

    Returns
    -------
    np.ndarray [shape=(n, 2 M)]
        ``|I| = M`` for every row: the norm of every input is the same, which keeps
        categories from eroding towards the origin.
    """
    A = np.asarray(A, dtype=np.float64)
    return np.concatenate([A, 1.0 - A], axis=-1)


class _FuzzyARTBase(ArrayStateMixin, BaseEstimator):
    """Shared machinery: scaling, complement coding, choice function, search and learning."""

    def __init__(
        self,
        *,
        vigilance: float,
        alpha: float = 0.001,
        beta: float = 1.0,
        max_epochs: int = 20,
        max_categories: int | None = None,
        scaling: str = "minmax",
        shuffle: bool = True,
        seed: int | None = 0,
        progress: bool = True,
        device: str = "cpu",
    ) -> None:
        self.vigilance = vigilance
        self.alpha = alpha
        self.beta = beta
        self.max_epochs = max_epochs
        self.max_categories = max_categories
        self.scaling = scaling
        self.shuffle = shuffle
        self.seed = seed
        self.progress = progress
        self.device = device

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        check_float("vigilance", self.vigilance, low=0.0)
        if self.vigilance > 1:
            raise ConfigError(f"vigilance={self.vigilance!r} must be in [0, 1]")
        check_float("alpha", self.alpha, low=0.0, low_inclusive=False)
        check_float("beta", self.beta, low=0.0, low_inclusive=False)
        if self.beta > 1:
            raise ConfigError(f"beta={self.beta!r} must be in (0, 1]")
        check_int("max_epochs", self.max_epochs, minimum=1)
        if self.max_categories is not None:
            check_int("max_categories", self.max_categories, minimum=1)
        check_choice("scaling", self.scaling, SCALINGS)
        check_bool("shuffle", self.shuffle)
        if self.seed is not None:
            check_int("seed", self.seed, minimum=0)
        check_bool("progress", self.progress)
        check_cpu_device(self, self.device)

    def _fit_scaling(self, X: np.ndarray) -> None:
        if self.scaling == "minmax":
            self.data_min_ = X.min(axis=0)
            span = X.max(axis=0) - self.data_min_
            self.data_range_ = np.where(span > 0, span, 1.0)  # a constant feature maps to 0
        else:
            self.data_min_ = np.zeros(X.shape[1])
            self.data_range_ = np.ones(X.shape[1])
            if X.size and (X.min() < 0 or X.max() > 1):
                raise DataError(
                    f"{type(self).__name__}(scaling='none') needs inputs in [0, 1]; got values in "
                    f"[{X.min():g}, {X.max():g}]: use scaling='minmax' or rescale the features"
                )

    def _code(self, X: np.ndarray) -> np.ndarray:
        """Scale to [0, 1] (learned min-max, clipped) and complement code."""
        A = np.clip((X - self.data_min_) / self.data_range_, 0.0, 1.0)
        return complement_code(A)

    # ------------------------------------------------------------------ the ART dynamics
    def _uncommitted_choice(self) -> float:
        m = 2 * self.n_features_in_
        return self.n_features_in_ / (float(self.alpha) + m)

    def _activity(self, I: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Choice ``T`` and match values of every input against every category, at once.

        Returns
        -------
        T, match : np.ndarray [shape=(n, n_categories)]
        """
        W = self.weights_
        n, k = len(I), len(W)
        T = np.empty((n, k))
        match = np.empty((n, k))
        if k == 0 or n == 0:
            return T, match
        step = max(1, _CHUNK_ELEMENTS // max(1, k * I.shape[1]))
        denom = float(self.alpha) + W.sum(axis=1)
        for s in range(0, n, step):
            inter = np.minimum(I[s : s + step, None, :], W[None, :, :]).sum(axis=2)  # |I ∧ w_j|
            T[s : s + step] = inter / denom
            match[s : s + step] = inter / self.n_features_in_
        return T, match

    def _train(self, I: np.ndarray, targets: np.ndarray | None, epsilon: float = 0.0) -> np.ndarray:
        """Present the coded inputs epoch after epoch until categories stop changing.

        ``targets`` (label index of each input) switches match tracking on (ARTMAP).
        Sets ``weights_``, ``n_iter_``, ``converged_`` and, with targets,
        ``category_labels_``; returns each input's resonating category in the last
        epoch (-1: the input was not learned).
        """
        n, m = I.shape
        M = m // 2  # |I| of every complement-coded input
        alpha, beta, rho0 = float(self.alpha), float(self.beta), float(self.vigilance)
        cap = self.max_categories if self.max_categories is not None else np.inf
        t_new = M / (alpha + m)  # choice value of an uncommitted category (w = 1)
        W = np.empty((max(1, min(64, n)), m))
        norms = np.empty(len(W))  # |w_j|, kept up to date
        cat_label = np.empty(len(W), dtype=np.int64)
        k = 0
        rng = np.random.default_rng(self.seed)
        previous = np.full(n, -2, dtype=np.int64)
        converged = False
        bar = progress_bar(int(self.max_epochs), desc=type(self).__name__, unit="epoch", enabled=self.progress)
        epoch = 0
        with bar:
            for epoch in range(1, int(self.max_epochs) + 1):
                order = rng.permutation(n) if self.shuffle else np.arange(n)
                assigned = np.full(n, -1, dtype=np.int64)
                committed = 0
                for i in order:
                    x = I[i]
                    if k:
                        inter = np.minimum(W[:k], x)
                        size = inter.sum(axis=1)
                        T = size / (alpha + norms[:k])
                        match = size / M
                    rho = rho0
                    while True:
                        # best committed category passing the vigilance test (others reset)
                        best, j = -np.inf, -1
                        if k:
                            passing = np.where(match >= rho, T, -np.inf)
                            j = int(np.argmax(passing))
                            best = passing[j]
                        fresh = k < cap and rho <= 1.0  # an uncommitted category exists and matches
                        if fresh and t_new > best:
                            if k == len(W):
                                W = np.concatenate([W, np.empty_like(W)])
                                norms = np.concatenate([norms, np.empty_like(norms)])
                                cat_label = np.concatenate([cat_label, np.empty_like(cat_label)])
                            W[k] = x  # commit: fast commit, w = I
                            norms[k] = M
                            if targets is not None:
                                cat_label[k] = targets[i]
                            assigned[i] = k
                            k += 1
                            committed += 1
                            break
                        if best == -np.inf:
                            break  # nothing left that can resonate: the input is not learned
                        if targets is not None and cat_label[j] != targets[i]:
                            rho = match[j] + epsilon  # match tracking: reset j and search on
                            continue
                        W[j] = beta * inter[j] + (1.0 - beta) * W[j] if beta < 1.0 else inter[j]
                        norms[j] = W[j].sum()
                        assigned[i] = j
                        break
                bar.update()
                bar.set_postfix(categories=k)
                stable = committed == 0 and np.array_equal(assigned, previous)
                previous = assigned
                if stable:
                    converged = True
                    break
        self.weights_ = W[:k].copy()
        if targets is not None:
            self.category_labels_ = cat_label[:k].copy()
        self.n_categories_ = int(k)
        self.n_iter_ = int(epoch)
        self.converged_ = bool(converged)
        if not converged:
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(
                f"{type(self).__name__} categories still changed in the last of max_epochs={self.max_epochs} "
                "epochs; raise max_epochs", ConvergenceWarning, stacklevel=3)
        return previous

    def _winners(self, X: Any) -> np.ndarray:
        """Index of the category with the largest choice value for each input."""
        check_is_fitted(self)
        X = validate_arrays(self, X, reset=False)
        T, _ = self._activity(self._code(X))
        return np.argmax(T, axis=1) if T.shape[1] else np.zeros(len(X), dtype=np.int64)

    def choice_function(self, X: Any) -> np.ndarray:
        """Choice values ``T_j = |I ∧ w_j| / (α + |w_j|)`` of every committed category.

        Parameters
        ----------
        X : array-like [shape=(n_samples, n_features)]

        Returns
        -------
        np.ndarray [shape=(n_samples, n_categories_)]
        """
        check_is_fitted(self)
        X = validate_arrays(self, X, reset=False)
        return self._activity(self._code(X))[0]

    def boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """Each category's hyper-box in the units of the training features.

        Returns
        -------
        lower, upper : np.ndarray [shape=(n_categories_, n_features)]
            ``w_j = [u_j, 1 - v_j]`` read back as corners and undone from the scaling.
        """
        check_is_fitted(self)
        M = self.n_features_in_
        u, v = self.weights_[:, :M], 1.0 - self.weights_[:, M:]
        return self.data_min_ + u * self.data_range_, self.data_min_ + v * self.data_range_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.seed is None and self.shuffle
        return tags


class FuzzyART(_FuzzyARTBase):
    """Fuzzy ART: unsupervised categories created on demand under a vigilance test.

    The rules of the course: *not all output neurons are used, only if necessary*; there
    is a difference between *committed* and *uncommitted* neurons; *a category is only
    updated if its prototype is similar to the input*; *the extent of similarity is
    controlled by the vigilance ρ*.  See :mod:`musicnn.models.classic.art` for the equations.

    Inputs are min-max scaled to [0, 1] with the range learned by ``fit`` (new inputs are
    clipped to it), then complement coded.  Training presents every input once per epoch
    (in a new seeded random order when ``shuffle``) and stops when an epoch creates no
    category and every input resonates with the same category as in the epoch before.

    With labels, ``fit(X, y)`` also learns a readout: each category takes the majority
    label of its training members (the inputs that resonated with it in the last epoch).
    ``predict`` then returns the label of the category with the largest choice value ``T``
    (no vigilance test at prediction time), and ``predict_proba`` the label frequencies
    among that category's members.

    Parameters
    ----------
    vigilance : float, default=0.9
        ρ in [0, 1]: the match ``|I ∧ w_j| / |I|`` a category needs to resonate.  Higher
        vigilance gives more, smaller categories.
    alpha : float, default=0.001
        Choice parameter α > 0 of ``T_j = |I ∧ w_j| / (α + |w_j|)``; small values favour
        the category that needs to grow least.
    beta : float, default=1.0
        Learning rate β in (0, 1]: 1 is fast learning (``w_j <- I ∧ w_j``), below 1 slow
        learning.  A new category always takes ``w = I``.
    max_epochs : int, default=20
        Upper bound on passes over the data; reaching it warns (ConvergenceWarning).
    max_categories : int or None, default=None
        Most categories that may be committed.  Once all are committed there is no
        uncommitted one left: an input that no category accepts is not learned.
    scaling : {"minmax", "none"}, default="minmax"
        ``"minmax"`` learns each feature's range on ``fit``; ``"none"`` takes inputs that
        already lie in [0, 1] (others raise DataError).
    shuffle : bool, default=True
        Present the inputs in a new random order each epoch (ART is order dependent).
    seed : int or None, default=0
        Seed of the presentation order.
    progress : bool, default=True
        Progress bar over epochs on a terminal.
    device : {"cpu", "auto"}, default="cpu"
        Accepted for the common interface of ``musicnn train``; the computation is numpy
        on the CPU (the search is sequential, input after input).

    Attributes
    ----------
    weights_ : np.ndarray [shape=(n_categories_, 2 n_features)]
        Prototypes ``w_j`` of the committed categories, in complement-coded space.
    n_categories_ : int
        Committed categories.
    labels_ : np.ndarray of int [shape=(n_samples,)]
        Category of each training input in the last epoch (-1: not learned).
    data_min_, data_range_ : np.ndarray [shape=(n_features,)]
        The scaling ``a = clip((x - data_min_) / data_range_, 0, 1)``.
    classes_ : np.ndarray [shape=(n_classes,)]
        Labels (only after ``fit(X, y)``).
    category_counts_ : np.ndarray [shape=(n_categories_, n_classes)]
        Training members of each category per label (only after ``fit(X, y)``).
    category_labels_ : np.ndarray of int [shape=(n_categories_,)]
        Index into ``classes_`` of each category's label (only after ``fit(X, y)``).
    n_iter_ : int
        Epochs run.
    converged_ : bool
        Whether the categories stopped changing before ``max_epochs``.
    n_features_in_ : int

    Examples
    --------
    >>> art = FuzzyART(vigilance=0.8, progress=False).fit(X)  # doctest: +SKIP
    >>> art.n_categories_, art.predict(X_new)  # category indices, -1 for novel inputs  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        vigilance: float = 0.9,
        alpha: float = 0.001,
        beta: float = 1.0,
        max_epochs: int = 20,
        max_categories: int | None = None,
        scaling: str = "minmax",
        shuffle: bool = True,
        seed: int | None = 0,
        progress: bool = True,
        device: str = "cpu",
    ) -> None:
        super().__init__(vigilance=vigilance, alpha=alpha, beta=beta, max_epochs=max_epochs,
                         max_categories=max_categories, scaling=scaling, shuffle=shuffle, seed=seed,
                         progress=progress, device=device)

    def fit(self, X: Any, y: Any = None) -> FuzzyART:
        """Learn categories from ``X``; with ``y``, also the majority-label readout.

        Parameters
        ----------
        X : array-like [shape=(n_samples, n_features)]
        y : array-like [shape=(n_samples,)], optional
            Labels, used only after the unsupervised learning, to label the categories.

        Returns
        -------
        self
        """
        self._check_params()
        for attr in ("classes_", "category_counts_", "category_labels_"):
            self.__dict__.pop(attr, None)
        if y is None:
            X = validate_arrays(self, X, reset=True)
        else:
            X, y = validate_arrays(self, X, y, reset=True)
            classes, yi = class_targets(self, y, hint="label the categories with two classes or more, "
                                                      "or fit(X) without labels")
        self._fit_scaling(X)
        I = self._code(X)
        self.labels_ = self._train(I, None)
        if y is not None:
            self.classes_ = classes
            self._fit_readout(I, yi)
        return self

    def _fit_readout(self, I: np.ndarray, yi: np.ndarray) -> None:
        k, c = self.n_categories_, len(self.classes_)
        counts = np.zeros((k, c))
        member = self.labels_ >= 0
        np.add.at(counts, (self.labels_[member], yi[member]), 1.0)
        empty = counts.sum(axis=1) == 0
        if empty.any():  # no member in the last epoch: count the inputs it wins instead
            T, _ = self._activity(I)
            wins = np.argmax(T, axis=1)
            for j in np.flatnonzero(empty):
                np.add.at(counts[j], yi[wins == j], 1.0)
        still = counts.sum(axis=1) == 0
        counts[still] = np.bincount(yi, minlength=c)  # never wins: the label prior
        self.category_counts_ = counts
        self.category_labels_ = np.argmax(counts, axis=1)

    def predict(self, X: Any) -> np.ndarray:
        """Labels (after ``fit(X, y)``) or category indices (after ``fit(X)``).

        After ``fit(X)``: the category that resonates with each input, searched as in
        training but without learning; -1 for a novel input, one that training would
        have given a new category.  After ``fit(X, y)``: the label of the category with
        the largest choice value.

        Returns
        -------
        np.ndarray [shape=(n_samples,)]
        """
        check_is_fitted(self)
        if hasattr(self, "classes_"):
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        X = validate_arrays(self, X, reset=False)
        T, match = self._activity(self._code(X))
        if T.shape[1] == 0:
            return np.full(len(X), -1, dtype=np.int64)
        passing = np.where(match >= float(self.vigilance), T, -np.inf)
        j = np.argmax(passing, axis=1)
        best = passing[np.arange(len(X)), j]
        fresh = self.max_categories is None or self.n_categories_ < self.max_categories
        novel = np.isneginf(best) | (fresh & (self._uncommitted_choice() > best))
        return np.where(novel, -1, j)

    def transform(self, X: Any) -> np.ndarray:
        """Choice values of every category for each input (see :meth:`choice_function`)."""
        return self.choice_function(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Label frequencies among the members of the winning category.

        Only after ``fit(X, y)``.

        Returns
        -------
        np.ndarray [shape=(n_samples, n_classes)]
        """
        check_is_fitted(self)
        if not hasattr(self, "classes_"):
            raise DataError("FuzzyART was fitted without labels: predict_proba needs fit(X, y)")
        counts = self.category_counts_[self._winners(X)]
        return counts / counts.sum(axis=1, keepdims=True)
