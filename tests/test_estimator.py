"""The estimator base of every family (musicnn.models.estimator): scikit-learn's conventions
without scikit-learn, scikit-learn's tools on it, and inference that imports neither
scikit-learn nor librosa (nor torch for a numpy family)."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from musicnn.checks import check_inputs
from musicnn.errors import DataError
from musicnn.models import LVQ, SOM, CompetitiveLearning, Perceptron, RBFNetwork
from musicnn.models.estimator import check_is_fitted

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # small fits on purpose


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 0.4, (30, 4)) for c in (0.0, 2.0, 4.0)])
    y = np.repeat(np.array(["a", "b", "c"]), 30)
    return X, y


def test_params_repr_and_clone_follow_sklearn():
    est = Perceptron(lr=0.5, max_epochs=7, progress=False)
    assert est.get_params()["lr"] == 0.5 and est.get_params()["activation"] == "step"
    assert repr(est) == "Perceptron(lr=0.5, max_epochs=7, progress=False)"
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    assert twin.set_params(lr=0.2) is twin and twin.lr == 0.2 and est.lr == 0.5
    with pytest.raises(ValueError, match="Invalid parameter 'eta' for estimator"):
        est.set_params(eta=0.1)


def test_sklearn_tools_take_musicnn_estimators(blobs):
    X, y = blobs
    assert is_classifier(Perceptron()) and get_tags(RBFNetwork()).estimator_type == "classifier"
    assert get_tags(CompetitiveLearning()).transformer_tags is not None
    pipe = make_pipeline(StandardScaler(), RBFNetwork(n_centers=6, seed=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.9
    search = GridSearchCV(LVQ(progress=False), {"lr": [0.05, 0.2]}, cv=3).fit(X, y)
    assert search.best_params_["lr"] in (0.05, 0.2) and search.score(X, y) > 0.9
    nested = make_pipeline(StandardScaler(), Perceptron(progress=False))
    nested.set_params(perceptron__lr=0.3)
    assert nested.get_params()["perceptron__lr"] == 0.3


def test_score_is_the_weighted_accuracy(blobs):
    X, y = blobs
    est = RBFNetwork(n_centers=6, seed=0).fit(X, y)
    right = est.predict(X) == y
    assert est.score(X, y) == pytest.approx(right.mean())
    w = np.linspace(0.1, 1.0, len(y))
    assert est.score(X, y, sample_weight=w) == pytest.approx(np.average(right, weights=w))


def test_unfitted_estimators_raise_sklearns_not_fitted_error(blobs):
    X, _ = blobs
    for est in (Perceptron(), RBFNetwork(), SOM(3, 3)):
        with pytest.raises(NotFittedError, match="is not fitted yet"):
            est.predict(X)
    with pytest.raises(NotFittedError):
        check_is_fitted(Perceptron())


@pytest.mark.parametrize("bad,match", [
    (np.zeros(4), "Expected 2D array, got 1D array"),
    (np.zeros((0, 4)), "0 sample"),
    (np.full((2, 4), np.nan), "contains NaN"),
    (np.full((2, 4), np.inf), "infinity"),
    (np.zeros((2, 3)), "X has 3 features, but Perceptron is expecting 4 features"),
    (np.zeros((2, 4, 2)), "Found array with dim 3"),
    (np.zeros((2, 4), complex), "Complex data not supported"),
    ([["a", "b", "c", "d"]], "could not convert"),
])
def test_predict_time_checks_refuse_bad_inputs_with_sklearns_messages(blobs, bad, match):
    X, y = blobs
    est = Perceptron(progress=False).fit(X, y)
    with pytest.raises(DataError, match=match):
        est.predict(bad)


def test_predict_time_checks_accept_what_check_array_accepts(blobs):
    X, y = blobs
    est = Perceptron(progress=False).fit(X, y)
    expected = est.predict(X)
    for variant in (X.tolist(), X.astype(np.float32), np.asfortranarray(X), X.astype(object)):
        np.testing.assert_array_equal(est.predict(variant), expected)
    out = check_inputs(est, X.astype(np.float32), dtype=np.float64)
    assert out.dtype == np.float64 and out.shape == X.shape


def _classify_modules(model: str, note: str) -> set[str]:
    """The heavy modules a fresh ``musicnn classify`` process imports."""
    code = (
        "import sys\n"
        "from musicnn.cli import main\n"
        f"try:\n    main(['classify', *{[model] if model else []!r}, {note!r}])\nexcept SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('HEAVY=' + ','.join(m for m in ('torch', 'librosa', 'sklearn', 'scipy.signal', 'numba') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    line = [ln for ln in out.splitlines() if ln.startswith("HEAVY=")][0]
    return set(filter(None, line[len("HEAVY="):].split(",")))


def test_classify_with_a_numpy_family_or_a_som_imports_no_torch_sklearn_or_librosa(tmp_path, notes, a_note):
    from musicnn.data import Collection
    from musicnn.features import preset
    from musicnn.modelfile import save_model
    from musicnn.pipeline import load_features
    from musicnn.store import FeatureStore

    spec = preset("mfcc", duration=1.5)
    data = load_features(Collection.load(notes), spec, store=FeatureStore(tmp_path / "cache"), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        models = {name: est.fit(data.X, data.y) for name, est in
                  [("perceptron", Perceptron(progress=False)), ("rbf", RBFNetwork(n_centers=4, seed=0)),
                   ("som", SOM(4, 4, max_epochs=5, progress=False))]}
    for name, est in models.items():
        path = save_model(tmp_path / f"{name}.safetensors", est, metadata={"feature_spec": spec.to_dict()})
        assert _classify_modules(str(path), str(a_note)) == set(), name


def test_classify_with_the_shipped_cnn_imports_no_torch_sklearn_or_librosa(a_note):
    """The shipped CNN runs in numpy (musicnn.models.deep.numpy_forward)."""
    assert _classify_modules("", str(a_note)) == set()
