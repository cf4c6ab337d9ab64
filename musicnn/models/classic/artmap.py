"""Fuzzy ARTMAP: supervised Fuzzy ART, each category mapped to one label, with match tracking.

The dynamics (complement coding, choice, vigilance test, learning, and the match
tracking that supervision adds) are those of :mod:`musicnn.models.classic.art`, whose
base class this estimator shares with :class:`~musicnn.models.classic.art.FuzzyART`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicnn.checks import check_float, labelled_data
from musicnn.models.classic.art import _FuzzyARTBase
from musicnn.models.estimator import ClassifierMixin, check_is_fitted

__all__ = ["FuzzyARTMAP"]


class FuzzyARTMAP(ClassifierMixin, _FuzzyARTBase):
    """Fuzzy ARTMAP: supervised Fuzzy ART with match tracking.

    One Fuzzy ART module (see :class:`FuzzyART` and :mod:`musicnn.models.classic.art`) whose every
    category is mapped to one label.  The ART rules of the course hold (categories are
    committed only if necessary, a category is only updated if its prototype is similar
    to the input, vigilance ρ sets the similarity); supervision adds *match tracking*:
    when the resonating category predicts the wrong label, the vigilance is raised just
    above its match, ``ρ <- |I ∧ w_j| / |I| + ε``, and the search goes on, until a
    category of the right label resonates or a new one is committed with that label.
    The vigilance returns to its baseline for the next input.  An input that even a new
    category cannot take (the same input seen with another label, or no uncommitted
    category left under ``max_categories``) is not learned.

    ``predict`` returns the label of the category with the largest choice value ``T``
    (no vigilance test at prediction time); ``predict_proba`` is the map field's output,
    the one-hot vector of that label.

    Parameters
    ----------
    vigilance : float, default=0.8
        Baseline vigilance ρ in [0, 1]; match tracking raises it input by input only
        where labels conflict.  0 gives the fewest categories; 0.8 classified held-out
        instruments better (pooled MFCC, two splits of the rendered instrument set).
    alpha : float, default=0.001
        Choice parameter α > 0.
    beta : float, default=1.0
        Learning rate β in (0, 1] (1: fast learning).
    epsilon : float, default=0.001
        How far above the match of a wrongly labelled category match tracking raises ρ.
    max_epochs : int, default=20
        Upper bound on passes; reaching it warns (ConvergenceWarning).
    max_categories : int or None, default=None
        Most categories that may be committed.
    scaling : {"minmax", "none"}, default="minmax"
        See :class:`~musicnn.models.classic.art.FuzzyART`.
    shuffle : bool, default=True
        Present the inputs in a new random order each epoch.
    seed : int or None, default=0
        Seed of the presentation order.
    progress : bool, default=True
        Progress bar over epochs on a terminal.
    device : {"cpu", "auto"}, default="cpu"
        Accepted for the common interface of ``musicnn train``; the computation is numpy
        on the CPU (the search is sequential, input after input).

    Attributes
    ----------
    classes_ : np.ndarray [shape=(n_classes,)]
    weights_ : np.ndarray [shape=(n_categories_, 2 n_features)]
        Prototypes of the committed categories, complement coded.
    category_labels_ : np.ndarray of int [shape=(n_categories_,)]
        Index into ``classes_`` of the label each category predicts (the map field).
    n_categories_ : int
    data_min_, data_range_ : np.ndarray [shape=(n_features,)]
    n_unlearned_ : int
        Training inputs that no category took in the last epoch.
    n_iter_ : int
    converged_ : bool
    n_features_in_ : int

    Examples
    --------
    >>> clf = FuzzyARTMAP(progress=False).fit(X, y)  # doctest: +SKIP
    >>> clf.n_categories_, clf.score(X_test, y_test)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        vigilance: float = 0.8,
        alpha: float = 0.001,
        beta: float = 1.0,
        epsilon: float = 0.001,
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
        self.epsilon = epsilon

    def _check_params(self) -> None:
        super()._check_params()
        check_float("epsilon", self.epsilon, low=0.0, high=1.0, low_inclusive=False)

    def fit(self, X: Any, y: Any) -> FuzzyARTMAP:
        """Learn labelled categories with match tracking.

        Parameters
        ----------
        X : array-like [shape=(n_samples, n_features)]
        y : array-like [shape=(n_samples,)]

        Returns
        -------
        self
        """
        self._check_params()
        X, self.classes_, yi = labelled_data(self, X, y)
        self._fit_scaling(X)
        assigned = self._train(self._code(X), yi, float(self.epsilon))
        self.n_unlearned_ = int(np.sum(assigned < 0))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """One-hot label of the category with the largest choice value (the map field).

        Returns
        -------
        np.ndarray [shape=(n_samples, n_classes)]
        """
        check_is_fitted(self)
        winners = self._winners(X)
        proba = np.zeros((len(winners), len(self.classes_)))
        if self.n_categories_:
            proba[np.arange(len(winners)), self.category_labels_[winners]] = 1.0
        else:
            proba[:] = 1.0 / len(self.classes_)
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """Label of the category with the largest choice value.

        Returns
        -------
        np.ndarray [shape=(n_samples,)]
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
