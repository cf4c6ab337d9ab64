"""ArrayStateMixin: learned attributes to model files and back."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from musicnn.models.state import ArrayStateMixin


class Centroids(ArrayStateMixin, ClassifierMixin, BaseEstimator):
    def __init__(self, shrink: float = 0.0):
        self.shrink = shrink

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.centres_ = np.stack([X[y == c].mean(axis=0) for c in self.classes_]) * (1 - self.shrink)
        self.n_iter_ = 1
        self.n_features_in_ = X.shape[1]
        self.notes_ = {"rule": "nearest centre"}
        return self

    def predict(self, X):
        d = ((X[:, None, :] - self.centres_[None]) ** 2).sum(-1)
        return self.classes_[d.argmin(1)]


def test_round_trip_through_a_model_file(tmp_path, monkeypatch):
    import musicnn.models as models
    from musicnn.modelfile import load_model, save_model

    monkeypatch.setitem(models.REGISTRY, "centroids", models.ModelInfo(__name__, "Centroids", "test", "supervised"))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.array(["bass", "flute"] * 20)
    est = Centroids(shrink=0.1).fit(X, y)
    path = save_model(tmp_path / "c.safetensors", est)
    back, meta = load_model(path)
    assert meta["family"] == "centroids" and back.shrink == 0.1
    np.testing.assert_array_equal(back.centres_, est.centres_)
    assert back.classes_.tolist() == ["bass", "flute"] and back.n_iter_ == 1 and back.notes_ == est.notes_
    np.testing.assert_array_equal(back.predict(X), est.predict(X))


def test_unsupported_attribute_is_named():
    est = Centroids().fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]))
    est.helper_ = object()
    with pytest.raises(TypeError, match="Centroids.helper_"):
        est.learned_metadata()
