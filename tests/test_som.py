"""Kohonen's self-organising map: the course's rule, topology, errors, maps, classification, files."""

from __future__ import annotations

import math
import warnings
from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from musicnn.errors import ConfigError, DataError
from musicnn.modelfile import load_model, save_model
from musicnn.models import get_estimator_class
from musicnn.models.classic.som import SOM
from musicnn.models.classic.som_kernels import (
    DECAYS,
    INITS,
    NEIGHBORHOODS,
    bubble,
    gaussian,
    grid_positions,
    kohonen_updates,
    mexican_hat,
)

FAST = dict(progress=False)


def _blobs(rng, centres, n_per=60, spread=0.5):
    centres = np.asarray(centres, dtype=float)
    X = np.concatenate([c + spread * rng.standard_normal((n_per, centres.shape[1])) for c in centres])
    y = np.repeat(np.array([f"c{i}" for i in range(len(centres))]), n_per)
    order = rng.permutation(len(y))
    return X[order].astype(np.float32), y[order]


# --------------------------------------------------------------------------- the course's rule
def test_closed_form_updates_equal_the_sample_by_sample_rule(rng):
    W = torch.from_numpy(rng.standard_normal((12, 3)))
    X = torch.from_numpy(rng.standard_normal((9, 3)))
    coef = torch.from_numpy(rng.uniform(-0.3, 0.9, size=(9, 12)))  # mexican-hat rings are negative
    expected = W.clone()
    for k in range(9):  # w_j <- w_j + a_kj (x_k - w_j), one presentation after another
        expected = expected + coef[k].unsqueeze(1) * (X[k] - expected)
    torch.testing.assert_close(kohonen_updates(W, X, coef), expected)
    torch.testing.assert_close(kohonen_updates(W, X[:1], coef[:1]), W + coef[0].unsqueeze(1) * (X[0] - W))


def test_online_fit_is_kohonens_rule_sample_by_sample(rng):
    """batch_size=1, no shuffle: the fitted map is the textbook loop, winner searched before every sample."""
    X = rng.standard_normal((40, 3)).astype(np.float32)
    som = SOM(3, 4, batch_size=1, shuffle=False, max_epochs=2, sigma=1.5, sigma_final=0.5, lr=0.5,
              lr_final=0.05, decay="exponential", **FAST).fit(X)

    Xs = (X - X.mean(0)) / X.std(0)
    pos = grid_positions(3, 4).reshape(-1, 2)
    W = INITS["pca"](torch.from_numpy(Xs), grid_positions(3, 4), torch.Generator()).double().numpy()
    T = 2 * len(X)
    for t in range(T):
        x = Xs[t % len(X)]
        c = np.argmin(((x - W) ** 2).sum(1))                       # competition
        s = torch.tensor(t / (T - 1), dtype=torch.float64)
        eta, sigma = float(DECAYS["exponential"](0.5, 0.05, s)), float(DECAYS["exponential"](1.5, 0.5, s))
        h = np.exp(-((pos - pos[c]) ** 2).sum(1) / (2 * sigma ** 2))  # cooperation
        W = W + eta * h[:, None] * (x - W)                          # adaptation
    np.testing.assert_allclose((som.weights_.reshape(-1, 3) - som.mean_) / som.scale_, W, atol=2e-4)


@pytest.mark.parametrize("name", list(DECAYS))
def test_schedules_go_from_start_to_end(name):
    s = torch.linspace(0, 1, 11, dtype=torch.float64)
    v = DECAYS[name](4.0, 0.5, s)
    assert float(v[0]) == pytest.approx(4.0) and float(v[-1]) == pytest.approx(0.5)
    assert torch.all(torch.diff(v) < 0)


def test_inverse_decay_is_minisoms_asymptotic_decay():
    s = torch.linspace(0, 1, 5, dtype=torch.float64)
    torch.testing.assert_close(DECAYS["inverse"](0.6, 0.2, s), 0.6 / (1 + 2 * s))


# --------------------------------------------------------------------------- neighbourhoods and grids
def test_neighbourhood_shapes():
    d = torch.linspace(0, 6, 61)
    g, b, m = gaussian(d, 2.0), bubble(d, 2.0), mexican_hat(d, 2.0)
    assert float(g[0]) == float(b[0]) == float(m[0]) == 1.0
    assert torch.all(torch.diff(g) < 0) and float(gaussian(torch.tensor(2.0), 2.0)) == pytest.approx(math.exp(-0.5))
    assert torch.equal(b, (d <= 2.0 + 1e-6).float())
    # Mexican hat: positive inside sigma, zero at sigma, negative in the ring beyond, deepest at sqrt(3) sigma
    assert torch.all(m[d < 2.0] > 0) and abs(float(mexican_hat(torch.tensor(2.0), 2.0))) < 1e-7
    ring = (d > 2.0) & (d < 6.0)
    assert torch.all(m[ring] < 0)
    assert float(m.min()) == pytest.approx(-2 * math.exp(-1.5), abs=2e-3)
    assert float(d[m.argmin()]) == pytest.approx(2 * math.sqrt(3), abs=0.1)
    assert set(NEIGHBORHOODS) == {"gaussian", "bubble", "mexican_hat"}


def test_hexagonal_and_rectangular_neighbour_counts():
    rect, hexa = SOM(5, 6, **FAST), SOM(5, 6, topology="hexagonal", **FAST)
    n_rect = np.array([len(v) for v in rect.grid_neighbors()]).reshape(5, 6)
    n_hex = np.array([len(v) for v in hexa.grid_neighbors()]).reshape(5, 6)
    assert (n_rect[1:-1, 1:-1] == 4).all() and (n_hex[1:-1, 1:-1] == 6).all()
    assert n_rect[0, 0] == 2 and n_rect[0, 2] == 3 and n_hex[0, 0] == 2
    assert n_hex[1, 0] == 5 and n_hex[2, 0] == 3  # odd rows sit half a unit to the right
    # every neighbour pair is at distance 1, and nothing else is that close
    pos = grid_positions(5, 6, "hexagonal").reshape(-1, 2)
    dist = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    assert np.sort(np.unique(np.round(dist[dist > 0], 6)))[0] == pytest.approx(1.0)
    assert n_hex.sum() == ((np.abs(dist - 1) < 1e-6).sum())
    # offset rows: odd rows shifted half a unit
    np.testing.assert_allclose(pos[6], [math.sqrt(3) / 2, 0.5])


# --------------------------------------------------------------------------- what the map learns
def test_topology_preserved_on_a_uniform_square(rng):
    X = rng.uniform(size=(1500, 2)).astype(np.float32)
    som = SOM(8, 8, max_epochs=10, **FAST).fit(X)
    assert som.topographic_error(X) < 0.05  # measured 0.005
    W = som.weights_.reshape(-1, 2)
    near = np.mean([np.linalg.norm(W[j] - W[k]) for j, nb in enumerate(som.grid_neighbors()) for k in nb])
    anywhere = np.linalg.norm(W[:, None] - W[None], axis=-1).mean()
    assert near < 0.3 * anywhere  # measured 0.114 vs 0.480
    # the map spreads over the square: every unit wins something, corners reach the corners
    assert som.activation_response(X).min() > 0
    corners = np.sort(np.abs(W - 0.5).max(1))[-4:]
    assert (corners > 0.35).all()  # measured 0.40-0.41 (the square's corners are at 0.5)


def test_a_chain_orders_itself_on_a_line(rng):
    X = rng.uniform(size=(500, 1)).astype(np.float32)
    som = SOM(1, 15, init="random", max_epochs=20, seed=3, **FAST).fit(X)
    w = som.weights_[0, :, 0]
    steps = np.diff(w)
    assert (steps > 0).all() or (steps < 0).all()  # Kohonen's ordering of a 1-D chain


def test_quantization_error_falls_with_training(rng):
    X, _ = _blobs(rng, rng.normal(scale=3.0, size=(5, 6)))
    short = SOM(6, 6, max_epochs=1, **FAST).fit(X)
    long = SOM(6, 6, max_epochs=20, **FAST).fit(X)
    assert long.quantization_error(X) < 0.8 * short.quantization_error(X)  # measured 0.70 vs 1.05
    curve = long.history_["quantization_error"]
    assert len(curve) == 20 and curve[-1] < 0.5 * curve[0]  # measured 1.70 -> 0.71, falling every epoch
    assert all(b < a for a, b in zip(curve, curve[1:]))
    assert long.history_["sigma"][-1] == pytest.approx(0.5, rel=1e-3)


def test_pca_initialisation_beats_random_at_equal_short_training(rng):
    """One gentle epoch (eta 0.1, sigma 1.5): a PCA start is already ordered and spread."""
    X, _ = _blobs(rng, rng.normal(scale=3.0, size=(6, 10)))
    maps = {init: SOM(8, 8, init=init, max_epochs=1, sigma=1.5, lr=0.1, **FAST).fit(X)
            for init in ("pca", "random")}
    qe = {k: m.quantization_error(X) for k, m in maps.items()}
    te = {k: m.topographic_error(X) for k, m in maps.items()}
    # measured QE 0.807 vs 0.834, TE 0.039 vs 0.183; data seeds 1-5: QE 0.63-0.81 vs 0.72-0.97 (PCA always lower)
    assert qe["pca"] < qe["random"]
    assert te["pca"] < te["random"]


@pytest.mark.parametrize("mode", ["online", "batch"])
def test_both_modes_converge(rng, mode):
    X, y = _blobs(rng, [[0, 0, 0], [6, 0, 0], [0, 6, 0], [0, 0, 6]], spread=0.4)
    som = SOM(6, 6, mode=mode, max_epochs=15, **FAST).fit(X)
    curve = som.history_["quantization_error"]
    assert curve[-1] < 0.5 * max(curve)
    # measured QE 0.170 (online) and 0.141 (batch), TE 0.104 and 0.163; in standardised units, where
    # a blob's own spread is about 0.14 per feature (0.4 / 2.6 x sqrt(3) = 0.27 from its centre)
    assert som.quantization_error(X) < 0.3
    assert som.topographic_error(X) < 0.25


def test_u_matrix_rises_at_the_border_between_two_blobs(rng):
    X, y = _blobs(rng, [[-3, -3, -3, -3], [3, 3, 3, 3]], n_per=150, spread=0.5)
    som = SOM(8, 8, mode="batch", max_epochs=15, **FAST).fit(X, y)
    U = som.distance_map()
    assert U.shape == (8, 8) and (U > 0).all()
    labels = som.unit_labels_.reshape(-1)
    border = np.array([any(labels[k] != labels[j] for k in nb) for j, nb in enumerate(som.grid_neighbors())])
    assert border.any() and (~border).any()
    assert U.reshape(-1)[border].mean() > 3 * U.reshape(-1)[~border].mean()  # measured 1.32 vs 0.26


def test_hit_map_labels_map_and_transform(rng):
    X, y = _blobs(rng, [[0, 0], [4, 4], [0, 4]], n_per=30)
    som = SOM(4, 5, topology="hexagonal", max_epochs=5, **FAST).fit(X)
    hits = som.activation_response(X)
    assert hits.shape == (4, 5) and hits.sum() == len(X)
    win = som.winner(X)
    assert win.shape == (90, 2) and win.dtype == np.int64
    np.testing.assert_array_equal(som.winner(X[0]), win[0])
    lm = som.labels_map(X, y)
    assert sum(sum(c.values()) for c in lm.values()) == len(X)
    for (r, c), counter in lm.items():
        assert isinstance(counter, Counter) and hits[r, c] == sum(counter.values())
    assert Counter(map(tuple, win.tolist())) == Counter({k: sum(v.values()) for k, v in lm.items()})
    emb = som.transform(X)
    np.testing.assert_allclose(emb, grid_positions(4, 5, "hexagonal")[win[:, 0], win[:, 1]])
    np.testing.assert_allclose(som.quantize(X[:3]), som.weights_[win[:3, 0], win[:3, 1]])


# --------------------------------------------------------------------------- classification
def test_classifies_gaussian_blobs(rng):
    centres = rng.normal(scale=4.0, size=(4, 8))
    X, y = _blobs(rng, centres, n_per=80, spread=1.0)
    Xt, yt = _blobs(rng, centres, n_per=40, spread=1.0)
    for mode in ("online", "batch"):
        clf = SOM(6, 6, mode=mode, max_epochs=10, **FAST).fit(X, y)
        assert clf.score(Xt, yt) >= 0.95  # measured 1.0 in both modes
        proba = clf.predict_proba(Xt)
        np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)
        np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(Xt))
    assert clf.unit_labels_.shape == (6, 6) and set(clf.unit_labels_.ravel()) <= set(clf.classes_)
    assert clf.unit_counts_.sum() == len(X)


def test_units_that_win_nothing_take_the_nearest_labelled_unit(rng):
    X = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 10.0], [10.0, 10.1]], dtype=np.float32)
    y = np.array(["low", "low", "high", "high"])
    clf = SOM(1, 9, init="pca", max_epochs=30, **FAST).fit(X, y)
    counts = clf.unit_counts_[0].sum(1)
    assert (counts == 0).any()
    labels = clf.unit_labels_[0]
    won = np.flatnonzero(counts)
    for j in np.flatnonzero(counts == 0):
        assert labels[j] == labels[won[np.argmin(np.abs(won - j))]]


def test_classifies_real_instrument_notes(notes):
    from sklearn.model_selection import train_test_split

    import musicnn.features
    import musicnn.pipeline
    from musicnn.data import Collection

    ds = musicnn.pipeline.load_features(Collection.load(notes), musicnn.features.preset("mfcc", duration=1.5),
                                        progress=False)
    Xtr, Xte, ytr, yte = train_test_split(ds.X, ds.y, test_size=0.4, stratify=ds.y, random_state=0)
    clf = SOM(6, 6, mode="batch", **FAST).fit(Xtr, ytr)
    # measured 0.618 (21/34; chance 0.25) on 83 notes of 4 families; online mode, seeds 0-4: 0.44-0.59
    assert clf.score(Xte, yte) >= 0.5


# --------------------------------------------------------------------------- conventions
def test_deterministic_with_a_seed(rng):
    X, y = _blobs(rng, rng.normal(scale=3.0, size=(3, 5)))
    a = SOM(5, 5, init="random", seed=7, max_epochs=3, **FAST).fit(X, y)
    b = SOM(5, 5, init="random", seed=7, max_epochs=3, **FAST).fit(X, y)
    c = SOM(5, 5, init="random", seed=8, max_epochs=3, **FAST).fit(X, y)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert not np.array_equal(a.weights_, c.weights_)


def test_training_length_in_epochs_or_presentations(rng):
    X = rng.standard_normal((50, 3)).astype(np.float32)
    by_epoch = SOM(3, 3, max_epochs=4, **FAST).fit(X)
    assert by_epoch.n_iter_ == 4 and by_epoch.n_samples_seen_ == 200
    assert len(by_epoch.history_["quantization_error"]) == len(by_epoch.history_["lr"]) == 4
    by_sample = SOM(3, 3, max_samples=120, **FAST).fit(X)  # max_epochs (default 20) is unused
    assert len(by_sample.history_["quantization_error"]) == 3  # 50 + 50 + 20 presentations
    assert by_sample.n_iter_ == 3 and by_sample.n_samples_seen_ == 120
    assert by_sample.history_["lr"][-1] == pytest.approx(by_sample.lr_final, rel=1e-5)  # schedule over 120
    batch = SOM(3, 3, mode="batch", max_samples=120, **FAST).fit(X)
    assert len(batch.history_["quantization_error"]) == 3  # rounded up to whole epochs
    assert batch.n_iter_ == 3 and batch.n_samples_seen_ == 150


def test_older_model_files_load_under_the_new_names(tmp_path, rng):
    """learning_rate(_final) became lr(_final); n_iter in iter_unit became max_epochs or max_samples."""
    import json

    from safetensors.torch import load_file, save_file

    from musicnn.modelfile import read_metadata

    old = {"learning_rate": 0.3, "learning_rate_final": 0.02, "n_iter": 7, "iter_unit": "epoch", "sigma": 2.0}
    assert SOM._upgrade_params(old) == {"lr": 0.3, "lr_final": 0.02, "max_epochs": 7, "sigma": 2.0}
    old_samples = {"n_iter": 5000, "iter_unit": "sample", "mode": "batch"}
    assert SOM._upgrade_params(old_samples) == {"max_samples": 5000, "mode": "batch"}
    assert SOM._upgrade_params({"n_iter": 3}) == {"max_epochs": 3}  # iter_unit's default was "epoch"
    assert SOM._upgrade_params(SOM().get_params()) == SOM().get_params()  # today's names pass unchanged

    X = rng.standard_normal((30, 3)).astype(np.float32)
    som = SOM(3, 3, lr=0.3, max_samples=40, **FAST).fit(X)
    path = save_model(tmp_path / "new.safetensors", som)
    meta = read_metadata(path)
    params = {k: v for k, v in meta["params"].items() if k not in ("lr", "max_samples", "max_epochs")}
    meta["params"] = {**params, "learning_rate": 0.3, "n_iter": 40, "iter_unit": "sample"}
    save_file(load_file(path), tmp_path / "old.safetensors", metadata={"musicnn": json.dumps(meta)})
    back, _ = load_model(tmp_path / "old.safetensors")
    assert back.get_params() == som.get_params()
    np.testing.assert_array_equal(back.winner(X), som.winner(X))


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(topology="triangular"), "topology='triangular' is not valid; choose one of 'rectangular', 'hexagonal'"),
        (dict(neighborhood="cone"), "'gaussian', 'bubble', 'mexican_hat'"),
        (dict(decay="cosine"), "'exponential', 'linear', 'inverse'"),
        (dict(mode="minibatch"), "'online', 'batch'"),
        (dict(init="zeros"), "'pca', 'random', 'sample'"),
        (dict(max_samples=0), "max_samples=0"),
        (dict(n_rows=0), "n_rows=0"),
        (dict(n_rows=1, n_cols=1), "at least 2 units"),
        (dict(sigma=0.0), "sigma=0.0"),
        (dict(sigma_final=-1.0), "sigma_final=-1.0"),
        (dict(lr=1.5), r"lr=1.5 must be in \(0, 1\]"),
        (dict(lr_final=0.0), "lr_final=0.0"),
        (dict(max_epochs=0), "max_epochs=0"),
        (dict(standardize=1), "standardize=1 must be True or False"),
        (dict(batch_size=0), "batch_size=0"),
        (dict(shuffle="yes"), "shuffle='yes'"),
        (dict(mode="batch", neighborhood="mexican_hat"), "must not be negative"),
        (dict(device="tpu"), "device='tpu'"),
    ],
)
def test_bad_hyper_parameters(params, match):
    X = np.zeros((10, 2), dtype=np.float32) + np.arange(10)[:, None]
    with pytest.raises(ConfigError, match=match):
        SOM(**{**FAST, **params}).fit(X)


def test_bad_inputs(rng):
    X = rng.standard_normal((20, 3)).astype(np.float32)
    with pytest.raises(NotFittedError):
        SOM(**FAST).winner(X)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SOM(**FAST).fit(bad)
    with pytest.raises(DataError, match="n_samples=1"):
        SOM(**FAST).fit(X[:1])
    with pytest.raises(DataError, match="Unknown label type"):
        SOM(**FAST).fit(X, rng.standard_normal(20))
    som = SOM(3, 3, max_epochs=2, **FAST).fit(X)
    with pytest.raises(DataError, match="X has 2 features, but SOM is expecting 3"):
        som.quantization_error(X[:, :2])
    with pytest.raises(NotFittedError, match="fitted without labels"):
        som.predict(X)
    with pytest.raises(DataError, match="one label per row"):
        som.labels_map(X, ["a"] * 3)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            SOM(device="cuda", **FAST).fit(X)


def test_a_refit_without_labels_forgets_the_old_ones(rng):
    X, y = _blobs(rng, [[0, 0], [5, 5]], n_per=20)
    som = SOM(3, 3, max_epochs=2, **FAST).fit(X, y).fit(X)
    assert not hasattr(som, "classes_")
    with pytest.raises(NotFittedError):
        som.predict(X)


def test_passes_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(SOM(4, 4, max_epochs=5, progress=False), on_fail=None, on_skip=None)
    failed = {r["check_name"]: repr(r["exception"]) for r in results if r["status"] == "failed"}
    assert not failed
    # the only skips are the environment's (no pandas, array API off), none of ours
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= {"check_array_api_input", "check_classifier_data_not_an_array",
                       "check_dataframe_column_names_consistency", "check_pandas_series"}


@pytest.mark.parametrize("labelled", [True, False])
def test_model_file_round_trip(tmp_path, rng, labelled):
    X, y = _blobs(rng, [[0, 0, 0], [4, 0, 0], [0, 4, 0]], n_per=20)
    som = SOM(4, 3, topology="hexagonal", max_epochs=3, **FAST).fit(X, y if labelled else None)
    path = save_model(tmp_path / "som.safetensors", som, metadata={"note": "test"})
    back, meta = load_model(path)
    assert meta["family"] == "som" and meta["params"]["topology"] == "hexagonal" and meta["note"] == "test"
    assert type(back) is get_estimator_class("som") and back.get_params() == som.get_params()
    for name in ("weights_", "mean_", "scale_"):
        np.testing.assert_array_equal(getattr(back, name), getattr(som, name))
    assert back.history_ == som.history_ and back.n_features_in_ == 3
    np.testing.assert_array_equal(back.winner(X), som.winner(X))
    np.testing.assert_array_equal(back.distance_map(), som.distance_map())
    if labelled:
        np.testing.assert_array_equal(back.classes_, som.classes_)
        np.testing.assert_array_equal(back.unit_labels_, som.unit_labels_)
        np.testing.assert_array_equal(back.predict(X), som.predict(X))
        np.testing.assert_allclose(back.predict_proba(X), som.predict_proba(X))
    else:
        assert not hasattr(back, "classes_")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_trains_on_a_gpu_like_on_the_cpu(rng):
    X, y = _blobs(rng, [[0, 0, 0], [4, 0, 0], [0, 4, 0]], n_per=50)
    for mode in ("online", "batch"):
        cpu = SOM(5, 5, mode=mode, max_epochs=5, **FAST).fit(X, y)
        gpu = SOM(5, 5, mode=mode, max_epochs=5, device="cuda", **FAST).fit(X, y)
        assert abs(cpu.quantization_error(X) - gpu.quantization_error(X)) < 0.05
        assert (cpu.predict(X) == gpu.predict(X)).mean() > 0.9


def test_the_grid_module_names_every_training_piece():
    """The SOM checks its choices against som_grid's names (no torch); the torch pieces carry the same."""
    from musicnn.models.classic import som_grid

    assert tuple(NEIGHBORHOODS) == som_grid.NEIGHBORHOOD_NAMES
    assert tuple(DECAYS) == som_grid.DECAY_NAMES and tuple(INITS) == som_grid.INIT_NAMES


def test_queries_in_numpy_agree_with_the_training_kernels(rng):
    """Winners found by the numpy queries are the torch kernels' own (on data without near ties)."""
    import torch

    from musicnn.models.classic.som_grid import best_units
    from musicnn.models.classic.som_kernels import best_units as torch_best_units

    X = rng.normal(size=(500, 6)).astype(np.float32)
    W = rng.normal(size=(30, 6)).astype(np.float32)
    d2, idx = best_units(X, W, k=2)
    t2, tidx = torch_best_units(torch.from_numpy(X), torch.from_numpy(W), k=2)
    np.testing.assert_array_equal(idx, tidx.numpy())
    np.testing.assert_allclose(d2, t2.numpy(), rtol=1e-4, atol=1e-4)
