"""CNN and MLP model files run in numpy (``musicnn.models.deep.numpy_forward``): the torch
network's probabilities and embeddings, on the features of real rendered notes."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from musicnn.errors import DataError
from musicnn.modelfile import load_predictor, load_with_spec, save_model
from musicnn.models.deep.numpy_forward import OWN_PARAMETERS, ForwardModel, supports
from musicnn.models.deep.params import TRAINING_PARAMETERS
from musicnn.pretrained import default_model


@pytest.fixture(scope="module")
def note_features(notes, tmp_path_factory):
    """Log-mel and pooled-MFCC features of the session's rendered notes."""
    from musicnn.data import Collection
    from musicnn.features import preset
    from musicnn.pipeline import load_features
    from musicnn.store import FeatureStore

    store = FeatureStore(tmp_path_factory.mktemp("cache"))
    coll = Collection.load(notes)
    out = {}
    for name in ("logmel", "mfcc"):
        spec = preset(name, duration=1.0)
        out[name] = (spec, load_features(coll, spec, store=store, progress=False))
    return out


def _both_ways(path):
    numpy_model, spec, _ = load_predictor(path)
    torch_model, spec2, _ = load_with_spec(path)
    assert isinstance(numpy_model, ForwardModel) and spec == spec2
    return numpy_model, torch_model


def _assert_same(numpy_model, torch_model, X):
    np.testing.assert_allclose(numpy_model.predict_proba(X), torch_model.predict_proba(X), atol=2e-5, rtol=0)
    np.testing.assert_allclose(numpy_model.embed(X), torch_model.embed(X), atol=1e-4, rtol=1e-4)
    assert list(numpy_model.predict(X)) == list(torch_model.predict(X))


def test_the_shipped_cnns_give_the_torch_probabilities_on_rendered_notes(notes, tmp_path):
    from musicnn.data import Collection
    from musicnn.pipeline import load_features
    from musicnn.store import FeatureStore

    numpy_model, spec, _ = load_predictor(default_model())  # an ensemble of three CNNs
    torch_model = load_with_spec(default_model())[0]
    assert [type(m) for m in numpy_model.members_] == [ForwardModel] * 3
    X = load_features(Collection.load(notes), spec, store=FeatureStore(tmp_path / "c"), progress=False).X
    assert X.shape[1:] == numpy_model.input_shape_
    _assert_same(numpy_model, torch_model, X)
    # clips longer than the training windows pass through the global pooling
    _assert_same(numpy_model, torch_model, np.concatenate([X[:4], X[:4]], axis=1))


@pytest.mark.parametrize("params", [
    {},
    {"stride": 2, "padding": 1},
    {"dilation": (2, 1), "kernel_size": (3, 5), "padding": "same"},
    {"padding": "valid", "pool_type": "avg", "global_pool": "avgmax"},
    {"batch_norm": False, "activation": "elu", "global_pool": "max"},
    {"activation": "leaky_relu", "pool": (1, 2)},
    {"activation": "tanh", "pool": 3},
    {"activation": "sigmoid", "channels": (3,)},
])
def test_cnn_configurations_match_torch(note_features, tmp_path, params):
    from musicnn.models.deep.cnn import SpectrogramCNN

    spec, data = note_features["logmel"]
    est = SpectrogramCNN(**{"channels": (4, 6), "max_epochs": 1, "progress": False, **params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(data.X, data.y)
    path = save_model(tmp_path / "cnn.safetensors", est, metadata={"feature_spec": spec.to_dict()})
    numpy_model, torch_model = _both_ways(path)
    _assert_same(numpy_model, torch_model, data.X)


@pytest.mark.parametrize("params", [
    {}, {"dropout": 0.0, "activation": "tanh"}, {"hidden_layer_sizes": ()},
    {"hidden_layer_sizes": (8,), "activation": "sigmoid", "backend": "reference", "loss": "squared"},
])
def test_mlp_configurations_match_torch(note_features, tmp_path, params):
    from musicnn.models.deep.mlp import MLPClassifier

    spec, data = note_features["mfcc"]
    est = MLPClassifier(**{"hidden_layer_sizes": (16, 8), "max_epochs": 2, "progress": False, **params})
    est.fit(data.X, data.y)
    path = save_model(tmp_path / "mlp.safetensors", est, metadata={"feature_spec": spec.to_dict()})
    numpy_model, torch_model = _both_ways(path)
    _assert_same(numpy_model, torch_model, data.X)


def test_the_parameter_lists_are_the_families_signatures():
    from musicnn.models.deep.cnn import SpectrogramCNN
    from musicnn.models.deep.mlp import MLPClassifier

    for family, cls in (("cnn", SpectrogramCNN), ("mlp", MLPClassifier)):
        names = [n for n in inspect.signature(cls.__init__).parameters if n != "self"]
        assert set(names) == {*OWN_PARAMETERS[family], *TRAINING_PARAMETERS}, family


def test_other_families_and_unknown_parameters_load_as_torch_estimators(note_features, tmp_path):
    from musicnn.models.deep.rnn import RNNClassifier

    spec, data = note_features["logmel"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = RNNClassifier(hidden_size=4, max_epochs=1, progress=False).fit(data.X, data.y)
    path = save_model(tmp_path / "rnn.safetensors", est, metadata={"feature_spec": spec.to_dict()})
    model, _, _ = load_predictor(path)
    assert isinstance(model, RNNClassifier)
    assert not supports("rnn", est.get_params())
    assert not supports("cnn", {**_cnn_params(), "a_later_option": 1})
    assert supports("cnn", _cnn_params()) and not supports("cnn", {**_cnn_params(), "pool_type": "median"})


def _cnn_params():
    from musicnn.models.deep.cnn import SpectrogramCNN

    return SpectrogramCNN().get_params()


def test_clips_too_short_for_the_network_are_refused_as_by_torch(note_features, tmp_path):
    from musicnn.models.deep.cnn import SpectrogramCNN

    spec, data = note_features["logmel"]
    est = SpectrogramCNN(channels=(2, 2), padding="valid", kernel_size=5, pool=1, max_epochs=1, progress=False)
    est.fit(data.X, data.y)
    path = save_model(tmp_path / "valid.safetensors", est, metadata={"feature_spec": spec.to_dict()})
    numpy_model, torch_model = _both_ways(path)
    short = data.X[:2, :6]
    for model in (numpy_model, torch_model):
        with pytest.raises(DataError, match="too small for this network"):
            model.predict_proba(short)
    with pytest.raises(DataError, match="features"):
        numpy_model.predict_proba(data.X[:2, :, :10])
