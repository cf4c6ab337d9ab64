"""RBF network, competitive learning and LVQ: the course's rules, then real notes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning

from musicnn.errors import ConfigError, DataError
from musicnn.models.classic.clustering import kmeans
from musicnn.models.classic.competitive import CompetitiveLearning, apply_moves
from musicnn.models.classic.lvq import LVQ
from musicnn.models.classic.rbf import RBFNetwork, gaussian_activations, ridge_solution

QUIET = {"progress": False}


# =========================================================================== data
@pytest.fixture(scope="module")
def xor():
    """The four corners of the unit square, 25 noisy copies each; XOR labels."""
    rng = np.random.default_rng(0)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    X = np.repeat(corners, 25, axis=0) + rng.normal(0, 0.08, (100, 2))
    y = np.repeat(np.array(["same", "differ", "differ", "same"]), 25)
    return X, y


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=300, centers=3, cluster_std=1.0, random_state=0)
    return X, np.array(["a", "b", "c"])[y]


@pytest.fixture(scope="module")
def four_blobs():
    """Four tight, well separated clusters and their true centres."""
    centres = np.array([[-6.0, -6.0], [-6.0, 6.0], [6.0, -6.0], [6.0, 6.0]])
    X, y = make_blobs(n_samples=400, centers=centres, cluster_std=0.6, random_state=0)
    return X, y, centres


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


# =========================================================================== RBF network
def test_rbf_solves_xor_where_a_linear_unit_cannot(xor):
    X, y = xor
    D = (y[:, None] == np.array(["differ", "same"])).astype(float)
    W, b = ridge_solution(X, D, 0.0)  # one layer of linear units on the raw inputs
    assert np.mean(np.argmax(X @ W + b, axis=1) == (y == "same")) <= 0.75
    net = RBFNetwork(n_centers=4, width="rms", **QUIET).fit(X, y)
    assert net.score(X, y) == 1.0
    # k-means found the four corners (standardised back to input units)
    corners = net.centers_ * net.scale_ + net.mean_
    assert np.abs(np.sort(np.round(corners).ravel()) - np.sort([0, 0, 0, 1, 1, 0, 1, 1])).max() == 0
    assert net.predict([[0, 1], [1, 1], [1, 0], [0, 0]]).tolist() == ["differ", "same", "differ", "same"]


def test_rbf_on_blobs_least_squares_and_lms(blobs):
    X, y = blobs
    ls = RBFNetwork(n_centers=12, **QUIET).fit(X, y)
    lms = RBFNetwork(n_centers=12, output="lms", max_epochs=300, **QUIET).fit(X, y)
    assert ls.score(X, y) >= 0.9 and lms.score(X, y) >= 0.9  # measured 0.927 and 0.920
    assert lms.n_epochs_ > 1 and len(lms.loss_curve_) == lms.n_epochs_ and lms.lr_ > 0
    # the closed form is the minimum the delta rule descends toward
    assert ls.hybrid_loss_ <= lms.hybrid_loss_ < 1.5 * ls.hybrid_loss_
    assert lms.loss_curve_[-1] < lms.loss_curve_[0]


def test_lms_on_xor_with_the_rule_example_by_example(xor):
    X, y = xor
    net = RBFNetwork(n_centers=4, width="rms", output="lms", batch_size=1, lr=0.2, **QUIET).fit(X, y)
    assert net.score(X, y) == 1.0
    assert net.loss_ == pytest.approx(net.hybrid_loss_) and net.loss_ < 0.1


def test_ridge_solution_is_the_least_squares_minimum():
    rng = np.random.default_rng(1)
    Phi, D = rng.random((50, 6)), rng.random((50, 2))
    W, b = ridge_solution(Phi, D, 0.0)
    A = np.hstack([Phi, np.ones((50, 1))])
    ref = np.linalg.solve(A.T @ A, A.T @ D)
    np.testing.assert_allclose(np.vstack([W, b]), ref, atol=1e-10)
    W2, b2 = ridge_solution(Phi, D, 3.0)  # ridge: the weights shrink, the bias is free
    np.testing.assert_allclose(np.linalg.solve(A.T @ A + 3.0 * np.diag([1] * 6 + [0]), A.T @ D),
                               np.vstack([W2, b2]), atol=1e-10)


def test_finetuning_lowers_the_training_loss(blobs):
    X, y = blobs
    net = RBFNetwork(n_centers=3, finetune_epochs=15, finetune_lr=0.05, **QUIET).fit(X, y)
    assert len(net.loss_curve_) == 15
    assert net.loss_ < 0.9 * net.hybrid_loss_  # measured 0.165 -> 0.136
    assert np.all(net.widths_ > 0)
    hybrid = RBFNetwork(n_centers=3, **QUIET).fit(X, y)
    assert not np.allclose(net.centers_, hybrid.centers_)  # the centres moved too


@pytest.mark.parametrize("width", ["rms", "nearest"])
def test_widths_are_positive_even_for_duplicates(width):
    X = np.array([[0.0, 0.0]] * 5 + [[3.0, 3.0]] * 5 + [[0.0, 3.0], [0.2, 2.9], [3.0, 0.0], [2.9, 0.1]])
    y = np.array(["a"] * 5 + ["b"] * 5 + ["a", "a", "b", "b"])
    net = RBFNetwork(n_centers=10, width=width, **QUIET).fit(X, y)
    assert len(net.centers_) == 6  # no more centres than distinct vectors
    assert np.all(np.isfinite(net.widths_)) and np.all(net.widths_ >= 1e-3)
    assert net.score(X, y) == 1.0


def test_gaussian_activations_and_embedding(blobs):
    X, y = blobs
    net = RBFNetwork(n_centers=5, **QUIET).fit(X, y)
    phi = net.embed(X[:7])
    assert phi.shape == (7, 5) and np.all((phi > 0) & (phi <= 1))
    Xs = (X[:7] - net.mean_) / net.scale_
    ref = np.exp(-((Xs[:, None, :] - net.centers_[None]) ** 2).sum(-1) / (2 * net.widths_ ** 2))
    np.testing.assert_allclose(gaussian_activations(Xs, net.centers_, net.widths_), ref, atol=1e-12)
    np.testing.assert_allclose(net.decision_outputs(X[:7]), phi @ net.weights_ + net.bias_)


def test_kmeans_finds_the_clusters(four_blobs):
    X, _, centres = four_blobs
    found, assign, n_iter = kmeans(X, 4, rng=np.random.default_rng(0))
    dist = np.linalg.norm(found[:, None] - centres[None], axis=-1).min(axis=1)
    assert dist.max() < 0.15 and 1 <= n_iter < 100 and np.bincount(assign).tolist() == [100] * 4


def test_delta_rule_divergence_is_reported(blobs):
    X, y = blobs
    with pytest.raises(ConfigError, match="diverged.*lower lr"):
        RBFNetwork(n_centers=12, output="lms", lr=5.0, **QUIET).fit(X, y)


# =========================================================================== competitive learning
def test_apply_moves_is_the_rule_applied_one_move_at_a_time():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(5, 3))
    units, X, rates = rng.integers(0, 5, 60), rng.normal(size=(60, 3)), rng.uniform(-0.4, 0.6, 60)
    expected = W.copy()
    for u, x, r in zip(units, X, rates):
        expected[u] += r * (x - expected[u])  # Delta w_c = eta (x - w_c), or away with eta < 0
    np.testing.assert_allclose(apply_moves(W, units, X, rates), expected, atol=1e-12)


def test_competitive_with_batch_size_one_is_the_course_rule(four_blobs):
    """Winner = largest output w.x - ||w||^2/2; only it learns, Delta w_c = eta (x - w_c)."""
    X, _, _ = four_blobs
    init = X[[0, 5, 10, 15, 20]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net = CompetitiveLearning(n_units=5, init=init, batch_size=1, max_epochs=2, lr=0.3, seed=4, **QUIET).fit(X)
    Xs = (X - X.mean(0)) / X.std(0)
    W = (init - X.mean(0)) / X.std(0)
    rng, seen = np.random.default_rng(4), 0
    for _ in range(2):
        for i in rng.permutation(len(X)):
            eta = 0.3 / (1 + seen / len(X))
            c = np.argmax(W @ Xs[i] - 0.5 * (W * W).sum(1))
            W[c] += eta * (Xs[i] - W[c])
            seen += 1
    np.testing.assert_allclose(net.weights_, W, atol=1e-10)


def test_prototypes_end_up_at_the_cluster_centres(four_blobs):
    X, y, _ = four_blobs
    means = np.array([X[y == k].mean(axis=0) for k in range(4)])

    def error(net):  # distance from each prototype to the nearest cluster mean
        return np.linalg.norm(net.prototypes()[:, None] - means[None], axis=-1).min(axis=1).max()

    one_per_cluster = X[[np.flatnonzero(y == k)[0] for k in range(4)]]
    net = CompetitiveLearning(n_units=4, init=one_per_cluster, **QUIET).fit(X)
    assert error(net) < 0.05 and net.n_epochs_ < 100  # measured 0.009
    assert net.loss_curve_[-1] < net.loss_curve_[0]
    # From 4 random examples, plain winner-take-all sometimes puts two units in one cluster
    # and none in another (seeds 0, 1, 5: a prototype left 5.9 away, between two clusters);
    # with a conscience every seed ends with one unit per cluster (measured max 0.016).
    plain = [error(CompetitiveLearning(n_units=4, seed=s, **QUIET).fit(X)) for s in range(6)]
    fair = [error(CompetitiveLearning(n_units=4, seed=s, conscience=True, **QUIET).fit(X)) for s in range(6)]
    assert max(plain) > 3.0 and max(fair) < 0.05


def test_conscience_revives_dead_units(four_blobs):
    """All 8 units start in one corner, far from the data: plain WTA leaves most dead."""
    X, _, _ = four_blobs
    init = X.min(axis=0) - 2.0 + 0.01 * np.random.default_rng(1).standard_normal((8, 2))
    plain = CompetitiveLearning(n_units=8, init=init, **QUIET).fit(X)
    fair = CompetitiveLearning(n_units=8, init=init, conscience=True, **QUIET).fit(X)
    dead_plain, dead_fair = int((plain.win_counts_ == 0).sum()), int((fair.win_counts_ == 0).sum())
    assert dead_plain >= 5 and dead_fair <= 1  # measured 5 and 1
    assert _entropy(fair.win_counts_) > _entropy(plain.win_counts_) + 0.5  # measured 1.82 vs 1.04 (max 2.08)
    assert np.all(np.abs(fair.win_frequencies_.sum() - 1) < 1e-9)
    assert fair.quantization_error(X) < plain.quantization_error(X)


def test_normalised_units_learn_directions(four_blobs):
    X, y, _ = four_blobs
    net = CompetitiveLearning(n_units=4, normalize=True, conscience=True, **QUIET).fit(X, y)
    np.testing.assert_allclose(np.linalg.norm(net.weights_, axis=1), 1.0)
    assert net.score(X, y) >= 0.95  # the four blobs lie in four directions from the mean


def test_competitive_labels_transform_and_proba(four_blobs):
    X, y, _ = four_blobs
    unlabeled = CompetitiveLearning(n_units=4, **QUIET).fit(X)
    assert unlabeled.predict(X).dtype.kind == "i" and not hasattr(unlabeled, "classes_")
    with pytest.raises(DataError, match="fitted without labels"):
        unlabeled.predict_proba(X)
    labels = np.array(["bass", "flute", "organ", "reed"])[y]
    # unit 4 starts far away and never wins: it takes the label of the nearest labelled unit
    init = np.vstack([X[[0, 100, 200, 300]], [[30.0, 30.0]]])
    net = CompetitiveLearning(n_units=5, init=init, **QUIET).fit(X, labels)
    assert net.win_counts_[4] == 0 and net.score(X, labels) == 1.0
    nearest = np.argmin(np.linalg.norm(net.weights_[:4] - net.weights_[4], axis=1))
    assert net.unit_labels_[4] == net.unit_labels_[nearest]
    dist = net.transform(X[:9])
    assert dist.shape == (9, 5) and np.array_equal(dist.argmin(axis=1), net.winner(X[:9]))
    proba = net.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(net.classes_[proba.argmax(axis=1)], net.predict(X))
    refit = net.fit(X)  # fitting again without labels forgets them
    assert not hasattr(refit, "unit_labels_")


# =========================================================================== LVQ
@pytest.mark.parametrize("variant", ["lvq1", "lvq2.1"])
def test_lvq_on_blobs(blobs, variant):
    X, y = blobs
    net = LVQ(prototypes_per_class=2, variant=variant, **QUIET).fit(X, y)
    assert net.score(X, y) >= 0.9  # measured 0.930 (lvq1), 0.933 (lvq2.1)
    assert net.prototypes_.shape == (6, 2) and np.bincount(net.prototype_classes_).tolist() == [2, 2, 2]
    proba = net.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.array_equal(net.classes_[proba.argmax(axis=1)], net.predict(X)) and net.temperature_ > 0


@pytest.mark.parametrize("variant", ["lvq1", "lvq2.1"])
def test_lvq_on_xor(xor, variant):
    X, y = xor
    # two prototypes per class, one per corner of the class (k-means places them there)
    assert LVQ(prototypes_per_class=2, variant=variant, **QUIET).fit(X, y).score(X, y) == 1.0
    # one prototype per class cannot separate XOR: nearest-prototype regions are half-planes
    assert LVQ(prototypes_per_class=1, variant=variant, **QUIET).fit(X, y).score(X, y) <= 0.75


@pytest.mark.parametrize("variant", ["lvq1", "lvq2.1"])
def test_lvq_with_batch_size_one_is_the_rule_as_written(blobs, variant):
    X, y = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net = LVQ(prototypes_per_class=2, variant=variant, batch_size=1, max_epochs=2, lr=0.2, seed=5,
                  **QUIET).fit(X, y)
    Xs = (X - X.mean(0)) / X.std(0)
    y_idx = np.unique(y, return_inverse=True)[1]
    rng = np.random.default_rng(5)
    W = np.concatenate([kmeans(np.unique(Xs[y_idx == k], axis=0), 2, rng=rng)[0] for k in range(3)])
    owner, seen = np.repeat([0, 1, 2], 2), 0
    for _ in range(2):
        for n in rng.permutation(len(X)):
            x, eta = Xs[n], 0.2 / (1 + seen / len(X))
            d = np.linalg.norm(W - x, axis=1)
            if variant == "lvq1":  # the winner moves toward x if its class is x's, away otherwise
                c = np.argmin(d)
                W[c] += (eta if owner[c] == y_idx[n] else -eta) * (x - W[c])
            else:  # the two nearest, one right and one wrong, x inside the window
                i, j = np.argsort(d)[:2]
                if (owner[i] == y_idx[n]) != (owner[j] == y_idx[n]) and d[i] / d[j] > 0.7 / 1.3:
                    right, wrong = (i, j) if owner[i] == y_idx[n] else (j, i)
                    W[right] += eta * (x - W[right])
                    W[wrong] -= eta * (x - W[wrong])
            seen += 1
    np.testing.assert_allclose(net.prototypes_, W, atol=1e-10)


# =========================================================================== real notes
@pytest.fixture(scope="module")
def instrument_features(notes, tmp_path_factory):
    """Pooled MFCCs of the session's notes and each note's sample group."""
    import musicnn.features
    import musicnn.pipeline
    from musicnn.data import Collection
    from musicnn.store import FeatureStore

    ds = musicnn.pipeline.load_features(Collection.load(notes), musicnn.features.preset("mfcc", duration=1.5),
                                        store=FeatureStore(tmp_path_factory.mktemp("rbf-cache")), progress=False)
    return ds.X, np.asarray(ds.y), np.array([item.group for item in ds.items])


def _unseen_instrument_accuracy(make, X, y, groups) -> float:
    """Mean accuracy over 3 folds; fold k holds out the k-th sample group of every family."""
    scores = []
    for k in range(3):
        held = {lab: sorted(set(groups[y == lab]))[k % len(set(groups[y == lab]))] for lab in np.unique(y)}
        test = np.array([held[lab] == g for lab, g in zip(y, groups)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            scores.append(make().fit(X[~test], y[~test]).score(X[test], y[test]))
    return float(np.mean(scores))


def test_floors_on_real_instrument_notes(instrument_features):
    X, y, groups = instrument_features
    # 4 families: chance is about 0.25; the measured 3-fold means are in the comments
    assert _unseen_instrument_accuracy(lambda: RBFNetwork(**QUIET), X, y, groups) >= 0.48  # measured 0.584
    assert _unseen_instrument_accuracy(lambda: LVQ(**QUIET), X, y, groups) >= 0.48  # measured 0.575
    assert _unseen_instrument_accuracy(lambda: CompetitiveLearning(n_units=16, **QUIET),
                                       X, y, groups) >= 0.32  # measured 0.395
    assert RBFNetwork(**QUIET).fit(X, y).score(X, y) == 1.0  # fewer notes than 512 kernels: one per note
    assert LVQ(**QUIET).fit(X, y).score(X, y) >= 0.9  # measured 0.976


# =========================================================================== determinism, errors, files
def test_same_seed_same_model(blobs):
    X, y = blobs
    for make in (lambda s: RBFNetwork(n_centers=8, output="lms", seed=s, **QUIET),
                 lambda s: CompetitiveLearning(n_units=6, conscience=True, seed=s, **QUIET),
                 lambda s: LVQ(prototypes_per_class=2, variant="lvq2.1", seed=s, **QUIET)):
        a, b, c = make(3).fit(X, y), make(3).fit(X, y), make(4).fit(X, y)
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
        assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


@pytest.mark.parametrize("make", [
    lambda: RBFNetwork(n_centers=8, output="lms", finetune_epochs=2, **QUIET),
    lambda: CompetitiveLearning(n_units=6, conscience=True, **QUIET),
    lambda: LVQ(prototypes_per_class=2, variant="lvq2.1", **QUIET),
])
def test_fitting_leaves_the_global_random_state_alone(blobs, make):
    import random

    import torch

    X, y = blobs
    np_before, py_before, torch_before = np.random.get_state(), random.getstate(), torch.get_rng_state()
    make().fit(X, y)
    np_after = np.random.get_state()
    assert random.getstate() == py_before and torch.equal(torch.get_rng_state(), torch_before)
    assert np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1])
    assert np_before[2:] == np_after[2:]


@pytest.mark.parametrize("make, match", [
    (lambda: RBFNetwork(width="widest"), r"width='widest' is not valid; choose one of 'rms', 'nearest'"),
    (lambda: RBFNetwork(output="svd"), r"output='svd' is not valid; choose one of 'lstsq', 'lms'"),
    (lambda: RBFNetwork(n_centers=0), r"n_centers=0 must be an integer >= 1"),
    (lambda: RBFNetwork(alpha=-1.0), r"alpha=-1.0 must be a finite number >= 0"),
    (lambda: RBFNetwork(width_factor=0), r"width_factor=0 must be a finite number > 0"),
    (lambda: CompetitiveLearning(init="zeros"), r"init='zeros' is not valid; choose one of 'samples', 'random'"),
    (lambda: CompetitiveLearning(init=np.zeros((3, 2))), r"init array .* shape \(n_units, n_features\)"),
    (lambda: CompetitiveLearning(lr=1.0), r"lr=1.0 must be a finite number > 0 and < 1"),
    (lambda: CompetitiveLearning(conscience="yes"), r"conscience='yes' must be True or False"),
    (lambda: CompetitiveLearning(device="cuda"), r"device='cuda': CompetitiveLearning runs on the CPU"),
    (lambda: LVQ(variant="lvq3"), r"variant='lvq3' is not valid; choose one of 'lvq1', 'lvq2.1'"),
    (lambda: LVQ(window=1.5), r"window=1.5 must be a finite number > 0 and < 1"),
    (lambda: LVQ(init="random"), r"init='random' is not valid; choose one of 'kmeans', 'samples'"),
    (lambda: LVQ(device="cuda"), r"device='cuda': LVQ runs on the CPU"),
])
def test_bad_hyper_parameters(blobs, make, match):
    X, y = blobs
    with pytest.raises(ConfigError, match=match):
        make().set_params(progress=False).fit(X, y)


@pytest.mark.parametrize("make", [lambda: RBFNetwork(n_centers=4, **QUIET), lambda: LVQ(**QUIET),
                                  lambda: CompetitiveLearning(n_units=4, **QUIET)])
def test_bad_data(blobs, make):
    X, y = blobs
    with pytest.raises(DataError, match="NaN"):
        make().fit(np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), y)
    with pytest.raises(DataError, match="Expected 2D array"):
        make().fit(X[:, 0], y)
    if not isinstance(make(), CompetitiveLearning):
        with pytest.raises(DataError, match="only one class"):
            make().fit(X, np.full(len(X), "a"))
        with pytest.raises(DataError, match="requires y"):
            make().fit(X, None)
    with pytest.raises(DataError, match="Unknown label type"):
        make().fit(X, np.linspace(0, 1, len(X)))
    fitted = make().fit(X, y)
    with pytest.raises(DataError, match="X has 3 features, but .* is expecting 2 features"):
        fitted.predict(np.zeros((2, 3)))


def test_supervised_models_pass_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    for est in (RBFNetwork(n_centers=10, **QUIET), LVQ(prototypes_per_class=2, max_epochs=20, **QUIET)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = check_estimator(est, on_fail=None, on_skip=None)
        failed = {r["check_name"]: repr(r["exception"]) for r in results if r["status"] == "failed"}
        assert not failed, f"{type(est).__name__}: {failed}"
        # pandas is not installed here, and the array API needs SCIPY_ARRAY_API: those checks skip
        skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
        assert skipped <= {"check_array_api_input", "check_classifier_data_not_an_array"}


def test_competitive_learning_passes_check_estimator_too():
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(CompetitiveLearning(n_units=4, max_epochs=20, **QUIET), on_fail=None, on_skip=None)
    assert not {r["check_name"]: repr(r["exception"]) for r in results if r["status"] == "failed"}


@pytest.mark.parametrize("make", [
    lambda: RBFNetwork(n_centers=8, finetune_epochs=2, **QUIET),
    lambda: LVQ(prototypes_per_class=2, variant="lvq2.1", **QUIET),
    lambda: CompetitiveLearning(n_units=5, conscience=True, **QUIET),
])
def test_model_file_round_trip(tmp_path, blobs, make):
    from musicnn.modelfile import load_model, save_model

    X, y = blobs
    est = make().fit(X, y)
    path = save_model(tmp_path / "m.safetensors", est, metadata={"summary": {"note": "test"}})
    back, meta = load_model(path)
    assert type(back) is type(est) and meta["params"] == {k: v for k, v in est.get_params().items()}
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    assert back.classes_.tolist() == ["a", "b", "c"] and back.loss_curve_ == est.loss_curve_


def test_unlabelled_competitive_round_trip(tmp_path, four_blobs):
    from musicnn.modelfile import load_model, save_model

    X, _, _ = four_blobs
    est = CompetitiveLearning(n_units=4, init=X[:4], **QUIET).fit(X)
    back, meta = load_model(save_model(tmp_path / "c.safetensors", est))
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    np.testing.assert_array_equal(back.transform(X), est.transform(X))
    assert meta["params"]["init"] == X[:4].tolist()
