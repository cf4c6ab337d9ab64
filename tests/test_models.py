"""Tests of the torch estimators, the training loop, the registry and model files."""

from __future__ import annotations

import inspect
import json
import random
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import log_loss

from musicnn.errors import ConfigError, DataError, ModelFileError
from musicnn.modelfile import load_model, read_metadata, save_model
from musicnn.models import REGISTRY, available_models, family_of, get_estimator_class
from musicnn.models.deep.cnn import SpectrogramCNN
from musicnn.models.deep.mlp import MLPClassifier
from musicnn.checks import resolve_device
from musicnn.training.batches import validation_split
from musicnn.training.config import TrainConfig, TrainHistory
from musicnn.training.loop import train_classifier

# Short trainings hit max_epochs on purpose; the warning has a test of its own.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST_MLP = dict(hidden_layer_sizes=(32,), max_epochs=30, lr=1e-2, validation_fraction=0.15, progress=False)
FAST_CNN = dict(channels=(8, 16), max_epochs=25, lr=3e-3, batch_size=16, progress=False)


def _blobs(rng: np.random.Generator, n_per_class: int = 40, n_features: int = 6, n_classes: int = 3):
    centres = rng.normal(scale=4.0, size=(n_classes, n_features))
    X = np.concatenate([c + rng.normal(size=(n_per_class, n_features)) for c in centres])
    y = np.repeat(np.arange(n_classes), n_per_class)
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order]


def _spectrograms(rng: np.random.Generator, n: int = 96, frames: int = 12, bins: int = 16):
    """Noise with a class-dependent band of energy (class k lights bins of band k)."""
    y = rng.integers(0, 3, size=n)
    X = rng.normal(size=(n, frames, bins)).astype(np.float32)
    width = bins // 4
    for k in range(3):
        X[y == k, :, k * width : (k + 1) * width] += 1.5
    return X, y


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(1)
    X, y = _blobs(rng)
    Xt, yt = _blobs(np.random.default_rng(1), n_per_class=20)  # same centres, new points
    return X, y, Xt, yt


@pytest.fixture(scope="module")
def fitted_mlp(blobs):
    X, y, _, _ = blobs
    return MLPClassifier(**FAST_MLP).fit(X, y)


@pytest.fixture(scope="module")
def spectro():
    return _spectrograms(np.random.default_rng(2)), _spectrograms(np.random.default_rng(3), n=60)


@pytest.fixture(scope="module")
def fitted_cnn(spectro):
    (X, y), _ = spectro
    labels = np.array(["brass", "reed", "string"])[y]
    return SpectrogramCNN(**FAST_CNN).fit(X, labels)


# --------------------------------------------------------------------------- learning
def test_mlp_learns_blobs(fitted_mlp, blobs):
    _, _, Xt, yt = blobs
    assert fitted_mlp.score(Xt, yt) >= 0.9
    h = fitted_mlp.history_
    assert len(h.train_loss) == len(h.val_loss) == len(h.val_accuracy) == h.n_epochs
    assert 1 <= h.best_epoch <= h.n_epochs
    assert h.train_loss[-1] < h.train_loss[0]


def test_cnn_learns_spectrograms(fitted_cnn, spectro):
    _, (Xt, yt) = spectro
    labels = np.array(["brass", "reed", "string"])[yt]
    assert fitted_cnn.score(Xt, labels) >= 0.8
    assert fitted_cnn.n_features_in_ == 16 and fitted_cnn.input_shape_ == (12, 16)
    assert fitted_cnn.mean_.shape == fitted_cnn.scale_.shape == (16,)


def test_predict_proba_rows_sum_to_one(fitted_mlp, fitted_cnn, blobs, spectro):
    proba = fitted_mlp.predict_proba(blobs[2])
    assert proba.shape == (len(blobs[2]), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(proba >= 0)
    proba = fitted_cnn.predict_proba(spectro[1][0])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(
        fitted_cnn.classes_[proba.argmax(axis=1)], fitted_cnn.predict(spectro[1][0])
    )


def test_string_labels(blobs):
    X, y, Xt, _ = blobs
    names = np.array(["flute", "guitar", "violin"])
    clf = MLPClassifier(**FAST_MLP).fit(X, list(names[y]))
    assert list(clf.classes_) == ["flute", "guitar", "violin"]
    assert set(clf.predict(Xt)) <= set(names)
    assert clf.score(X, names[y]) >= 0.9


def test_embed_returns_penultimate_layer(fitted_mlp, fitted_cnn, blobs, spectro):
    assert fitted_mlp.embed(blobs[2]).shape == (len(blobs[2]), 32)
    assert fitted_cnn.embed(spectro[1][0]).shape == (60, 16)


def test_seed_gives_identical_weights(blobs):
    X, y, Xt, _ = blobs
    a = MLPClassifier(**FAST_MLP, seed=7).fit(X, y)
    b = MLPClassifier(**FAST_MLP, seed=7).fit(X, y)
    c = MLPClassifier(**FAST_MLP, seed=8).fit(X, y)
    sa, sb, sc = (m.module_.state_dict() for m in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    np.testing.assert_array_equal(a.predict_proba(Xt), b.predict_proba(Xt))
    assert a.history_.train_loss == b.history_.train_loss


def test_cnn_seed_gives_identical_weights(spectro):
    (X, y), _ = spectro
    params = dict(FAST_CNN, max_epochs=2)
    a = SpectrogramCNN(**params).fit(X[:40], y[:40])
    b = SpectrogramCNN(**params).fit(X[:40], y[:40])
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_cnn_handles_inputs_smaller_than_pooling(rng):
    X = rng.normal(size=(10, 1, 3)).astype(np.float32)
    y = np.array([0, 1] * 5)
    clf = SpectrogramCNN(channels=(4, 4, 4), max_epochs=2, progress=False).fit(X, y)
    assert clf.predict_proba(X).shape == (10, 2)
    X2 = rng.normal(size=(7, 3, 2)).astype(np.float32)
    clf = SpectrogramCNN(channels=(4, 4, 4), pool=3, max_epochs=2, batch_size=3, progress=False)
    clf.fit(X2, np.array([0, 1, 0, 1, 0, 1, 1]))
    assert clf.predict(X2).shape == (7,)


def test_cnn_predicts_other_clip_lengths(fitted_cnn, rng):
    longer = rng.normal(size=(5, 30, 16)).astype(np.float32)
    assert fitted_cnn.predict_proba(longer).shape == (5, 3)


def test_explicit_validation_set_and_best_weights_restored(blobs):
    X, y, Xt, yt = blobs
    clf = MLPClassifier(**dict(FAST_MLP, max_epochs=40, lr=3e-2)).fit(X, y, X_val=Xt, y_val=yt)
    h = clf.history_
    # the weights kept are those of the best epoch: their validation loss is the minimum
    assert h.val_loss[h.best_epoch - 1] == pytest.approx(min(h.val_loss))
    assert log_loss(yt, clf.predict_proba(Xt), labels=clf.classes_) == pytest.approx(
        min(h.val_loss), rel=1e-4
    )
    with pytest.raises(DataError, match="absent from the training labels"):
        MLPClassifier(**FAST_MLP).fit(X, y, X_val=Xt, y_val=np.full(len(yt), 9))


def test_clone_and_get_params():
    clf = MLPClassifier(hidden_layer_sizes=(8, 4), activation="tanh", device="auto")
    params = clone(clf).get_params()
    assert params["hidden_layer_sizes"] == (8, 4) and params["activation"] == "tanh"
    assert {"batch_size", "max_epochs", "lr", "weight_decay", "patience",
            "validation_fraction", "seed", "device", "progress", "dropout"} <= set(params)
    assert "channels" in SpectrogramCNN().get_params()


# --------------------------------------------------------------------------- training loop
def test_early_stopping_on_plateau(blobs):
    X, y, _, _ = blobs
    clf = MLPClassifier(**dict(FAST_MLP, lr=1e-12, patience=3, max_epochs=50)).fit(X, y)
    h = clf.history_
    assert h.stopped_early and h.n_epochs == 4 and h.best_epoch == 1
    assert h.n_epochs < 50


def test_no_validation_watches_training_loss(rng):
    X, y = _blobs(rng, n_per_class=10)
    torch.manual_seed(0)
    module = torch.nn.Linear(X.shape[1], 3)
    config = TrainConfig(max_epochs=5, validation_fraction=0.0, progress=False)
    h = train_classifier(module, X, y, config=config)
    assert h.monitor == "train_loss" and h.val_loss == [] and h.n_epochs == 5
    json.dumps(h.to_dict())
    assert TrainHistory.from_dict(h.to_dict()) == h


def test_max_epochs_warns(rng):
    X, y = _blobs(rng, n_per_class=10)
    module = torch.nn.Linear(X.shape[1], 3)
    with pytest.warns(ConvergenceWarning, match="max_epochs=2"):
        train_classifier(module, X, y, config=TrainConfig(max_epochs=2, progress=False))


def test_non_finite_loss_suggests_lower_lr(blobs):
    X, y, _, _ = blobs
    with pytest.raises(ConfigError, match="lower the learning rate"):
        MLPClassifier(**dict(FAST_MLP, lr=1e20)).fit(X, y)


def test_validation_split_is_stratified_and_seeded():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    tr, va = validation_split(y, 0.2, seed=0)
    assert len(va) == 20 and len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 100
    assert np.bincount(y[va]).tolist() == [12, 6, 2]
    np.testing.assert_array_equal(va, validation_split(y, 0.2, seed=0)[1])
    assert not np.array_equal(va, validation_split(y, 0.2, seed=1)[1])
    # a class with a single member: plain random split instead
    tr, va = validation_split(np.array([0, 0, 0, 0, 1]), 0.4, seed=0)
    assert len(va) == 2 and len(tr) == 3
    assert len(validation_split(y, 0.0, seed=0)[1]) == 0
    assert len(validation_split(np.array([0, 1]), 0.5, seed=0)[1]) == 0


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("tpu", "cuda:x", "gpu0"):
        with pytest.raises(ConfigError, match="not a known device"):
            resolve_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_unavailable_is_a_config_error(blobs):
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        MLPClassifier(**dict(FAST_MLP, device="cuda:0")).fit(*blobs[:2])


def test_initial_weights_come_from_the_seed_alone():
    est = MLPClassifier(hidden_layer_sizes=(4,), seed=3)
    before = torch.get_rng_state()
    a = est._initial_module((6,), 2).state_dict()
    assert torch.equal(torch.get_rng_state(), before)  # the caller's stream did not move
    torch.rand(5)  # the caller's stream moves on; the seed's does not
    b = est._initial_module((6,), 2).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = MLPClassifier(hidden_layer_sizes=(4,), seed=4)._initial_module((6,), 2).state_dict()
    assert not all(torch.equal(a[k], c[k]) for k in a)


def _global_streams():
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _assert_same_streams(before, after):
    assert after[0] == before[0]
    for x, y in zip(before[1], after[1]):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert torch.equal(after[2], before[2])


@pytest.mark.parametrize("make", [
    lambda: MLPClassifier(hidden_layer_sizes=(16,), dropout=0.5, max_epochs=3, augment="mixup", progress=False),
    lambda: MLPClassifier(backend="reference", hidden_layer_sizes=(16,), dropout=0.5, max_epochs=3, progress=False),
    lambda: SpectrogramCNN(channels=(4,), max_epochs=2, batch_size=16, augment="specaugment,crop,mixup",
                           progress=False),
], ids=["mlp", "mlp-reference", "cnn"])
def test_fit_leaves_the_callers_random_streams_alone(make, blobs, spectro, tmp_path):
    (Xs, ys), _ = spectro
    X, y = (Xs[:40], ys[:40]) if isinstance(make(), SpectrogramCNN) else blobs[:2]
    before = _global_streams()
    first = make().fit(X, y)
    _assert_same_streams(before, _global_streams())
    # and the result does not depend on them: other global streams, the same weights
    saved = _global_streams()
    try:
        random.seed(123)
        np.random.seed(123)
        torch.manual_seed(123)
        second = make().fit(X, y)
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])
    a, b = first.module_.state_dict(), second.module_.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert first.history_.train_loss == second.history_.train_loss
    before = _global_streams()
    load_model(save_model(tmp_path / "m.safetensors", first))  # loading rebuilds the network: seeded too
    _assert_same_streams(before, _global_streams())


# --------------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors(blobs, spectro):
    X, y, _, _ = blobs
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(DataError, match="NaN"):
        MLPClassifier(**FAST_MLP).fit(bad, y)
    with pytest.raises(DataError, match="one class"):
        MLPClassifier(**FAST_MLP).fit(X, np.zeros(len(X), dtype=int))
    with pytest.raises(DataError, match="2-D input"):
        MLPClassifier(**FAST_MLP).fit(X[:, :, None], y)
    with pytest.raises(DataError, match="3-D input"):
        SpectrogramCNN(**FAST_CNN).fit(X, y)
    with pytest.raises(DataError, match="Unknown label type"):
        MLPClassifier(**FAST_MLP).fit(X, y + 0.5)
    with pytest.raises(ValueError):  # also a ValueError, for scikit-learn tools
        MLPClassifier(**FAST_MLP).fit(X, y[:-1])


def test_predict_checks_fitted_and_feature_count(fitted_mlp, fitted_cnn, blobs, spectro):
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(blobs[2])
    with pytest.raises(DataError, match="X has 5 features, but MLPClassifier is expecting 6"):
        fitted_mlp.predict(blobs[2][:, :5])
    with pytest.raises(DataError, match="X has 8 features"):
        fitted_cnn.predict(spectro[1][0][:, :, :8])
    inf = blobs[2].copy()
    inf[0, 0] = np.inf
    with pytest.raises(DataError, match="infinity"):
        fitted_mlp.predict(inf)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(activation="gelu"), "'relu', 'tanh', 'sigmoid'"),
        (dict(batch_size=0), "batch_size=0"),
        (dict(lr=-1.0), "lr=-1.0"),
        (dict(validation_fraction=1.0), "validation_fraction"),
        (dict(hidden_layer_sizes=(8, 0)), "hidden_layer_sizes"),
        (dict(dropout=1.5), "dropout"),
        (dict(device="tpu"), "not a known device"),
        (dict(backend="numpy"), "'autograd', 'reference'"),
        (dict(loss="squared"), "backend='reference' only"),
        (dict(backend="reference", device="cuda"), "runs on the CPU"),
    ],
)
def test_bad_hyper_parameters(blobs, params, match):
    with pytest.raises(ConfigError, match=match):
        MLPClassifier(**dict(FAST_MLP, **params)).fit(*blobs[:2])


def test_bad_cnn_hyper_parameters(spectro):
    (X, y), _ = spectro
    with pytest.raises(ConfigError, match="must be odd"):
        SpectrogramCNN(kernel_size=4).fit(X, y)
    with pytest.raises(ConfigError, match="channels"):
        SpectrogramCNN(channels=()).fit(X, y)


# --------------------------------------------------------------------------- registry
def test_registry():
    assert {"mlp", "cnn"} <= set(available_models())
    assert available_models("supervised") == sorted(
        n for n, info in REGISTRY.items() if info.kind == "supervised"
    )
    assert get_estimator_class("mlp") is MLPClassifier
    assert get_estimator_class("cnn") is SpectrogramCNN
    assert family_of(MLPClassifier()) == "mlp" and family_of(SpectrogramCNN) == "cnn"
    with pytest.raises(ConfigError, match="unknown model family 'svm'.*cnn.*mlp"):
        get_estimator_class("svm")
    with pytest.raises(ConfigError, match="not a registered model family"):
        family_of(object())
    with pytest.raises(ConfigError, match="kind="):
        available_models("semi-supervised")


def test_registry_and_metadata_reader_do_not_import_torch():
    code = (
        "import sys, musicnn.models as m, musicnn.modelfile; m.available_models(); "
        "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- model files
def test_save_load_round_trip_mlp(fitted_mlp, blobs, tmp_path):
    path = save_model(
        tmp_path / "sub" / "mlp.safetensors",
        fitted_mlp,
        metadata={"feature_spec": {"kind": "mfcc", "n_mfcc": 20}, "summary": {"acc": np.float64(0.9)}},
    )
    assert path.exists() and list(path.parent.iterdir()) == [path]  # no temp file left
    loaded, meta = load_model(path)
    Xt = blobs[2]
    np.testing.assert_array_equal(loaded.predict_proba(Xt), fitted_mlp.predict_proba(Xt))
    np.testing.assert_array_equal(loaded.predict(Xt), fitted_mlp.predict(Xt))
    assert loaded.get_params() == fitted_mlp.get_params()
    assert loaded.classes_.dtype == fitted_mlp.classes_.dtype
    assert loaded.history_ == fitted_mlp.history_
    assert meta["family"] == "mlp" and meta["format_version"] == 1
    assert meta["feature_spec"] == {"kind": "mfcc", "n_mfcc": 20} and meta["summary"] == {"acc": 0.9}
    assert read_metadata(path) == meta


def test_save_load_round_trip_cnn(fitted_cnn, spectro, tmp_path):
    path = save_model(tmp_path / "cnn.safetensors", fitted_cnn, metadata={})
    loaded, meta = load_model(path)
    Xt = spectro[1][0]
    np.testing.assert_array_equal(loaded.predict_proba(Xt), fitted_cnn.predict_proba(Xt))
    assert list(loaded.predict(Xt)) == list(fitted_cnn.predict(Xt))
    assert meta["learned"]["classes"] == ["brass", "reed", "string"]
    assert loaded.get_params()["channels"] == (8, 16)
    # overwrite in place: the file is replaced atomically
    save_model(path, loaded, metadata={"note": "second"})
    assert read_metadata(path)["note"] == "second"


def test_save_rejects_unfitted_and_reserved(fitted_mlp, tmp_path):
    with pytest.raises(ConfigError, match="not fitted"):
        save_model(tmp_path / "m.safetensors", MLPClassifier(), metadata={})
    with pytest.raises(ConfigError, match="reserved"):
        save_model(tmp_path / "m.safetensors", fitted_mlp, metadata={"family": "x"})
    with pytest.raises(ConfigError, match="JSON"):
        save_model(tmp_path / "m.safetensors", fitted_mlp, metadata={"spec": object()})
    assert not any(tmp_path.iterdir())


def _rewrite_metadata(src, dst, **changes):
    from safetensors.torch import load_file, save_file

    meta = read_metadata(src)
    meta.update(changes)
    save_file(load_file(src), dst, metadata={"musicnn": json.dumps(meta)})


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing", "not found"),
        ("truncated", "truncated"),
        ("corrupt_header", "corrupt"),
        ("not_safetensors", "not a valid safetensors"),
        ("foreign", "without musicnn metadata"),
        ("bad_json", "not valid JSON"),
        ("unknown_family", "unknown model family 'svm'"),
        ("newer_version", "newer than this musicnn"),
        ("wrong_arrays", "network of 323 values but the file holds 4"),
        ("directory", "not a file"),
    ],
)
def test_bad_model_files(case, match, fitted_mlp, tmp_path):
    from safetensors.torch import save_file

    good = save_model(tmp_path / "good.safetensors", fitted_mlp, metadata={})
    path = tmp_path / f"{case}.safetensors"
    data = good.read_bytes()
    if case == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif case == "corrupt_header":
        path.write_bytes(data[:8] + b"#" * 16 + data[24:])
    elif case == "not_safetensors":
        path.write_text("this is a text file, not a model\n" * 5)
    elif case == "foreign":
        save_file({"w": torch.zeros(3)}, path, metadata={"format": "pt"})
    elif case == "bad_json":
        save_file({"w": torch.zeros(3)}, path, metadata={"musicnn": "{not json"})
    elif case == "unknown_family":
        _rewrite_metadata(good, path, family="svm")
    elif case == "newer_version":
        _rewrite_metadata(good, path, format_version=99)
    elif case == "wrong_arrays":
        save_file({"module.body.0.weight": torch.zeros(2, 2)}, path,
                  metadata={"musicnn": json.dumps(read_metadata(good))})
    elif case == "directory":
        path.mkdir()
    with pytest.raises(ModelFileError, match=match) as info:
        load_model(path)
    assert str(path) in str(info.value)
    if case not in ("unknown_family", "wrong_arrays"):
        with pytest.raises(ModelFileError):
            read_metadata(path)


# --------------------------------------------------------------------------- scikit-learn
def test_mlp_passes_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(
            MLPClassifier(hidden_layer_sizes=(32,), max_epochs=50, lr=1e-2, progress=False),
            on_fail=None,
            on_skip=None,
        )
    failed = {r["check_name"]: repr(r["exception"]) for r in results if r["status"] == "failed"}
    assert not failed


# --------------------------------------------------------------------------- shared training parameters
def _torch_families() -> list[type]:
    from musicnn.models.deep.base import TorchClassifier

    classes = {get_estimator_class(name) for name in REGISTRY}
    return sorted((c for c in classes if issubclass(c, TorchClassifier)), key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", _torch_families(), ids=lambda c: c.__name__)
def test_torch_estimators_take_the_loops_training_parameters(cls):
    """Every torch estimator's signature ends with TrainConfig's fields: same names, order,
    types and defaults (but those the family changes, in ``_shared_defaults``)."""
    from dataclasses import fields

    from musicnn.models.deep.base import TorchClassifier

    config = fields(TrainConfig)
    params = list(inspect.signature(cls).parameters.values())
    shared = params[-len(config):]
    assert [p.name for p in shared] == [f.name for f in config]
    assert not {p.name for p in params[: -len(config)]} & {f.name for f in config}
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    base = inspect.signature(TorchClassifier).parameters
    for p, f in zip(shared, config):
        assert p.default == cls._shared_defaults.get(f.name, f.default), f.name
        # one type per parameter for every family (widened to None where a family defaults to None)
        assert p.annotation in (base[f.name].annotation, f"{base[f.name].annotation} | None"), f.name
        alternatives = {t.strip() for t in base[f.name].annotation.split("|")}
        assert {t.strip() for t in str(f.type).split("|")} <= alternatives, f.name  # the config's values pass
    # every parameter is a get_params key and is documented (a line of the Parameters section names it)
    est = cls()
    assert set(est.get_params()) == {p.name for p in params}
    doc = (cls.__doc__ or "").split("Attributes\n")[0].split("Notes\n")[0]
    documented = {name.strip() for line in doc.splitlines() if line.startswith("    ") and not line.startswith("     ")
                  for name in line.split(":")[0].split(",")}
    assert {p.name for p in params} <= documented
    est._train_config().validate()  # the defaults make valid loop settings


def test_shared_parameters_follow_sklearn_conventions():
    import pydoc

    cnn = SpectrogramCNN(channels=(8,), batch_size=32, lr=0.01)
    assert repr(cnn) == "SpectrogramCNN(channels=(8,), lr=0.01)"  # batch_size=32 is its default
    assert repr(SpectrogramCNN(batch_size=64)) == "SpectrogramCNN(batch_size=64)"
    twin = clone(cnn)
    assert twin.get_params() == cnn.get_params() and twin is not cnn
    assert twin.set_params(patience=3).patience == 3 and cnn.patience == 10
    assert MLPClassifier().get_params()["lr"] is None
    page = pydoc.render_doc(SpectrogramCNN, renderer=pydoc.plaintext)
    assert "channels: 'tuple[int, ...]' = (16, 32, 64, 128)" in page and "batch_size: 'int' = 32" in page
    with pytest.raises(TypeError, match="unexpected keyword argument 'epochs'"):
        SpectrogramCNN(epochs=3)
    with pytest.raises(TypeError, match="positional"):
        SpectrogramCNN((8,))


def test_a_family_declares_only_its_own_parameters():
    from musicnn.models.deep.base import TorchClassifier
    from musicnn.models.deep.params import store_params

    with pytest.raises(TypeError, match="declares the shared parameter.*batch_size"):
        class Redeclared(TorchClassifier):  # noqa: F841
            def __init__(self, *, width: int = 3, batch_size: int = 8, **shared):
                store_params(self, locals())

    class SmallBatches(SpectrogramCNN):
        """A SpectrogramCNN trained on batches of 8 (and nothing else of its own)."""

        _shared_defaults = {**SpectrogramCNN._shared_defaults, "batch_size": 8}

    assert SmallBatches().batch_size == 8 and SmallBatches().channels == (16, 32, 64, 128)
    assert inspect.signature(SmallBatches).parameters["batch_size"].default == 8
    assert repr(SmallBatches(batch_size=8, kernel_size=5)) == "SmallBatches(kernel_size=5)"
    with pytest.raises(TypeError, match="names no shared parameter: epochs"):
        class Misnamed(TorchClassifier):  # noqa: F841
            _shared_defaults = {"epochs": 3}
