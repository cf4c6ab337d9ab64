"""The recurrent families: Elman/LSTM/GRU classifiers and the CRNN.

Shapes for every cell, pooling and direction; truncated BPTT really truncates and leaves
evaluation unchanged; the course's BPTT derivation matches autograd; attention weights;
a task that needs memory; real rendered notes; model files; parameters.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from musicnn.errors import ConfigError
from musicnn.modelfile import load_model, save_model
from musicnn.models import estimator_for, family_of, get_estimator_class
from musicnn.models.deep.crnn import CRNN, pooled_size
from musicnn.models.deep.rnn import RecurrentEncoder, RecurrentSpec, RNNClassifier, chunk_bounds, elman_bptt

# Short trainings hit max_epochs on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Run these small networks on one thread.

    Their operations are tiny (a few frames, a few units); with two threads on a busy
    machine torch's workers mostly wait for each other, which makes the tests many
    times slower.  The previous setting is restored afterwards.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


TINY = dict(hidden_size=6, max_epochs=1, batch_size=8, progress=False)
TINY_CRNN = dict(TINY, channels=(4, 4), freq_pool=2)


def _toy(n: int = 16, frames: int = 7, bins: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, frames, bins)).astype(np.float32)
    y = np.arange(n) % 3
    return X, y


def _order_task(n: int, frames: int, seed: int):
    """Label 1 when the pulse on feature 0 comes before the pulse on feature 1.

    Both classes hold the same frames in another order (one pulse of each kind, at
    random times, in noise), so a model that ignores the order is at chance: the
    network has to remember which pulse it saw first.
    """
    rng = np.random.default_rng(seed)
    X = 0.3 * rng.normal(size=(n, frames, 3)).astype(np.float32)
    y = rng.integers(0, 2, size=n)
    for i in range(n):
        t_a, t_b = np.sort(rng.choice(frames, size=2, replace=False))
        first, second = (0, 1) if y[i] == 1 else (1, 0)
        X[i, t_a, first] += 2.0
        X[i, t_b, second] += 2.0
    return X, y


# =========================================================================== shapes
@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("pooling", ["last", "mean", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_output_shapes(name, pooling, bidirectional):
    X, y = _toy()
    est = estimator_for(name, dict(TINY, pooling=pooling, bidirectional=bidirectional,
                                   num_layers=2, bptt_steps=3)).fit(X, y)
    directions = 2 if bidirectional else 1
    assert est.predict_proba(X).shape == (16, 3)
    assert est.embed(X).shape == (16, directions * 6)
    assert est.module_(torch.from_numpy(X)).shape == (16, 3)
    # the embedding is the penultimate layer: the head maps it to the logits
    with torch.no_grad():
        logits = est.module_.head(torch.from_numpy(est.embed(X))).numpy()
    np.testing.assert_allclose(logits, est._forward(X), rtol=1e-5, atol=1e-6)
    assert est.predict(X[:, :4]).shape == (16,)  # other clip lengths


@pytest.mark.parametrize("cell", ["gru", "lstm", "elman"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_crnn_output_shapes(cell, bidirectional):
    X, y = _toy(frames=9, bins=8)
    est = CRNN(**TINY_CRNN, cell=cell, bidirectional=bidirectional, pooling="attention").fit(X, y)
    assert est.predict_proba(X).shape == (16, 3)
    assert est.embed(X).shape == (16, (2 if bidirectional else 1) * 6)
    # time_pool=(2,): 9 frames -> 4 steps; freq 8 -> 4 -> 2 bins, folded into 4 channels
    assert est.module_.n_rnn_inputs == 4 * 2
    assert est.attention_weights(X).shape == (16, 4)
    assert est.predict(X[:, :1]).shape == (16,)  # one frame still passes the pooling


def test_registry_names_set_the_cell():
    assert get_estimator_class("lstm") is RNNClassifier and get_estimator_class("crnn") is CRNN
    assert estimator_for("rnn").cell == "elman" and estimator_for("gru").cell == "gru"
    assert family_of(estimator_for("lstm")) == "lstm" and family_of(RNNClassifier()) == "rnn"
    assert RNNClassifier().clip_grad_norm == 1.0 and CRNN().clip_grad_norm == 1.0


# =========================================================================== truncated BPTT
def test_chunk_bounds_are_aligned_on_the_end():
    assert chunk_bounds(10, 4) == [0, 2, 6, 10]
    assert chunk_bounds(8, 4) == [0, 4, 8]
    assert chunk_bounds(3, 4) == chunk_bounds(3, None) == [0, 3]
    assert pooled_size(64, (4, 4, 4)) == 1 and pooled_size(3, (4,)) == 1


def _net(cell: str, *, bptt_steps, bidirectional=False, pooling="last", num_layers=2, seed=0):
    est = estimator_for("rnn", dict(cell=cell, hidden_size=5, num_layers=num_layers, dropout=0.0,
                                    bidirectional=bidirectional, pooling=pooling, bptt_steps=bptt_steps))
    torch.manual_seed(seed)
    return est._build_module((12, 3), 2).double()


def _input_gradient(net, x):
    """|∂L/∂x_t| summed over batch and features, for a loss on the pooled last state."""
    x = x.clone().requires_grad_(True)
    net.train()
    net(x).sum().backward()
    return x.grad.abs().sum(dim=(0, 2))


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_truncated_bptt_stops_gradients_after_k_steps(cell):
    k, frames = 4, 12
    x = torch.randn(3, frames, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    full = _net(cell, bptt_steps=None)
    trunc = _net(cell, bptt_steps=k)
    trunc.load_state_dict(full.state_dict())
    g_full, g_trunc = _input_gradient(full, x), _input_gradient(trunc, x)
    # inputs more than k steps before the end get exactly no gradient from the last state
    assert torch.all(g_trunc[: frames - k] == 0)
    assert torch.all(g_trunc[frames - k :] > 0)
    assert torch.all(g_full > 0)  # full BPTT reaches back to the first frame
    # within the last chunk the gradients are those of full BPTT
    torch.testing.assert_close(g_trunc[frames - k :], g_full[frames - k :])
    # truncation changes gradients, not outputs: train-mode outputs agree, eval outputs are identical
    with torch.no_grad():
        torch.testing.assert_close(trunc.train()(x), full.train()(x))
        assert torch.equal(trunc.eval()(x), full.eval()(x))


def test_truncated_bptt_in_both_directions():
    """Bidirectional: each direction back-propagates k steps in its own time order."""
    k, frames = 3, 12
    x = torch.randn(2, frames, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    trunc = _net("gru", bptt_steps=k, bidirectional=True)
    full = _net("gru", bptt_steps=None, bidirectional=True)
    full.load_state_dict(trunc.state_dict())
    g = _input_gradient(trunc, x)
    # the last state of the forward direction sees frames [T-k, T), the backward one [0, k)
    assert torch.all(g[k : frames - k] == 0)
    assert torch.all(g[:k] > 0) and torch.all(g[frames - k :] > 0)
    assert torch.all(_input_gradient(full, x) > 0)
    with torch.no_grad():
        assert torch.equal(trunc.eval()(x), full.eval()(x))


def test_mean_pooling_gradient_reaches_back_at_most_k_steps():
    k, frames = 4, 12
    x = torch.randn(2, frames, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    net = _net("lstm", bptt_steps=k, pooling="mean", num_layers=1).train()
    xg = x.clone().requires_grad_(True)
    states = net.encoder.states(xg)  # (batch, T, hidden)
    t = 9  # a state in the chunk [8, 12): its gradient stops at the chunk's start
    states[:, t].sum().backward()
    g = xg.grad.abs().sum(dim=(0, 2))
    assert torch.all(g[:8] == 0) and torch.all(g[8 : t + 1] > 0) and torch.all(g[t + 1 :] == 0)


def test_truncation_changes_the_training_not_the_start():
    X, y = _order_task(64, 12, seed=5)
    params = dict(cell="gru", hidden_size=8, pooling="last", max_epochs=2, progress=False)
    full = RNNClassifier(**params).fit(X, y)
    trunc = RNNClassifier(**params, bptt_steps=3).fit(X, y)
    init = RNNClassifier(**dict(params, lr=1e-12, max_epochs=1)).fit(X, y)
    Xs = torch.from_numpy(init._standardise(X))
    sf, st = full.module_.state_dict(), trunc.module_.state_dict()
    assert not all(torch.equal(sf[k], st[k]) for k in sf)  # other gradients, other weights
    assert full.history_.train_loss != trunc.history_.train_loss
    with torch.no_grad():  # same weights: same predictions whatever the truncation
        trunc.module_.load_state_dict(init.module_.state_dict())
        assert torch.equal(trunc.module_(Xs), init.module_(Xs))


# =========================================================================== the course's BPTT
@pytest.mark.parametrize("bptt_steps", [None, 3])
def test_hand_written_bptt_matches_autograd(bptt_steps):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 10, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(3, 10, 5, generator=gen, dtype=torch.float64)  # ∂L/∂h_t, explicit
    torch.manual_seed(0)
    spec = RecurrentSpec("elman", hidden_size=5, num_layers=1, pooling="mean", bptt_steps=bptt_steps, dropout=0.0)
    enc = RecurrentEncoder(4, spec).double().train()
    (enc.states(x) * upstream).sum().backward()
    rnn = enc.layers[0][0]
    p = {n: v.detach().numpy() for n, v in rnn.named_parameters()}
    ours = elman_bptt(x.detach().numpy(), p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"],
                      p["bias_hh_l0"], upstream.numpy(), bptt_steps=bptt_steps)
    with torch.no_grad():
        np.testing.assert_allclose(ours["h"], enc.states(x).numpy(), rtol=1e-12, atol=1e-12)
    for ours_name, torch_name in [("w_ih", "weight_ih_l0"), ("w_hh", "weight_hh_l0"),
                                  ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")]:
        np.testing.assert_allclose(ours[ours_name], getattr(rnn, torch_name).grad.numpy(),
                                   rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours["x"], x.grad.numpy(), rtol=1e-10, atol=1e-12)
    if bptt_steps:
        assert np.all(elman_bptt(x.detach().numpy(), p["weight_ih_l0"], p["weight_hh_l0"],
                                 p["bias_ih_l0"], p["bias_hh_l0"],
                                 np.pad(upstream.numpy()[:, -1:], ((0, 0), (9, 0), (0, 0))),
                                 bptt_steps=3)["x"][:, :7] == 0)


# =========================================================================== attention
def test_attention_weights_sum_to_one():
    X, y = _toy(frames=11)
    est = RNNClassifier(**TINY, cell="gru", pooling="attention", bidirectional=True).fit(X, y)
    w = est.attention_weights(X)
    assert w.shape == (16, 11) and np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-5)
    # the embedding is the attention-weighted mean of the states
    xs = torch.from_numpy(est._standardise(X))
    with torch.no_grad():
        states = est.module_.encoder.states(xs).numpy()
    np.testing.assert_allclose(est.embed(X), np.einsum("nt,nth->nh", w, states), rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match="pooling='attention'"):
        RNNClassifier(**TINY).fit(X, y).attention_weights(X)


# =========================================================================== learning
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_learn_an_order_task(cell):
    X, y = _order_task(256, 14, seed=0)
    Xt, yt = _order_task(200, 14, seed=1)
    est = RNNClassifier(cell=cell, hidden_size=16, pooling="last", lr=1e-2, max_epochs=12, batch_size=32,
                        validation_fraction=0.0, dropout=0.0, progress=False).fit(X, y)
    # held-out accuracy measured 0.985 (LSTM) and 1.00 (GRU), seed 0; chance is 0.5
    # (an Elman network reaches 0.92 here: the gated cells remember better)
    assert est.score(Xt, yt) >= 0.9


@pytest.fixture(scope="module")
def notes_logmel(notes, tmp_path_factory):
    from musicnn.data import Collection
    from musicnn.features import preset
    from musicnn.pipeline import load_features
    from musicnn.store import FeatureStore

    store = FeatureStore(tmp_path_factory.mktemp("rnn-cache"))
    data = load_features(Collection.load(notes), preset("logmel", duration=1.5, hop_length=512), store=store, progress=False)
    return data.X, data.y


@pytest.mark.parametrize(
    "name, params, floor",
    [
        # training accuracy measured (seed 0, one thread) 0.98 (GRU, 6 epochs), 0.92 (CRNN,
        # 10 epochs; 0.89 on two threads);
        # chance is 0.33 (the largest family); the floors leave room for numeric differences
        ("gru", dict(hidden_size=32, lr=1e-2, max_epochs=6), 0.8),
        ("crnn", dict(channels=(8, 16), hidden_size=32, lr=1e-2, max_epochs=10), 0.7),
    ],
)
def test_learns_rendered_notes(notes_logmel, name, params, floor):
    X, y = notes_logmel
    assert X.shape[1:] == (47, 64)
    est = estimator_for(name, dict(params, batch_size=16, validation_fraction=0.0, progress=False)).fit(X, y)
    assert est.score(X, y) >= floor


# =========================================================================== persistence and params
@pytest.mark.parametrize("name", ["lstm", "crnn"])
def test_save_load_round_trip(name, tmp_path):
    X, y = _toy(frames=8)
    params = dict(TINY_CRNN if name == "crnn" else TINY, max_epochs=2, pooling="attention",
                  bidirectional=True, bptt_steps=3)
    est = estimator_for(name, params).fit(X, np.array(["a", "b", "c"])[y])
    path = save_model(tmp_path / f"{name}.safetensors", est, metadata={})
    loaded, meta = load_model(path)
    assert meta["family"] == name and type(loaded) is type(est)
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(loaded.embed(X), est.embed(X))
    np.testing.assert_array_equal(loaded.attention_weights(X), est.attention_weights(X))


def test_same_seed_same_weights():
    X, y = _toy()
    a, b = (RNNClassifier(**dict(TINY, max_epochs=2, cell="lstm", seed=3)).fit(X, y) for _ in range(2))
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("cls", [RNNClassifier, CRNN], ids=lambda c: c.__name__)
def test_recurrent_parameters_are_declared_once(cls):
    """RNN and CRNN take RecurrentSpec's fields, just before the training ones, with its types."""
    import inspect
    from dataclasses import fields

    from musicnn.training.config import TrainConfig

    n_train, spec = len(fields(TrainConfig)), fields(RecurrentSpec)
    params = list(inspect.signature(cls).parameters.values())[-(len(spec) + n_train):-n_train]
    assert [p.name for p in params] == [f.name for f in spec]
    for p, f in zip(params, spec):
        assert p.annotation == str(f.type) and p.default == cls._shared_defaults.get(f.name, f.default)
    assert CRNN().cell == "gru" and RNNClassifier().cell == "elman"
    assert RNNClassifier(hidden_size=np.int64(8))._recurrent_spec() == RecurrentSpec(hidden_size=8)
    with pytest.raises(ConfigError, match="bptt_steps=0"):
        CRNN(bptt_steps=0)._recurrent_spec()


def test_clone_and_get_params():
    est = estimator_for("lstm", dict(hidden_size=12, bidirectional=True, bptt_steps=5))
    params = clone(est).get_params()
    assert params["cell"] == "lstm" and params["bptt_steps"] == 5 and params["bidirectional"] is True
    base = {"batch_size", "max_epochs", "lr", "weight_decay", "patience", "validation_fraction", "seed",
            "device", "progress", "monitor", "lr_schedule", "class_weight", "clip_grad_norm", "augment"}
    assert base | {"cell", "hidden_size", "num_layers", "pooling", "dropout"} <= set(params)
    crnn = clone(CRNN(time_pool=(2, 2))).get_params()
    assert base | {"channels", "kernel_size", "freq_pool", "time_pool", "cell", "hidden_size",
                   "num_layers", "bidirectional", "pooling", "dropout"} <= set(crnn)
    assert crnn["time_pool"] == (2, 2) and crnn["cell"] == "gru"


def test_summary_lines():
    lines = "\n".join(estimator_for("lstm", dict(num_layers=2, bidirectional=True, bptt_steps=20,
                                                 pooling="attention"))._summary_lines())
    assert "LSTM" in lines and "2 layers" in lines and "bidirectional" in lines
    assert "attention" in lines and "at most 20 frames" in lines
    assert "full back-propagation" in "\n".join(RNNClassifier()._summary_lines())
    X, y = _toy(frames=9)
    crnn = CRNN(**TINY_CRNN).fit(X, y)
    assert "4 steps x 8 features" in "\n".join(crnn._summary_lines())
    text = crnn.summary()  # the base class adds input, classes, parameter count and layers
    assert "GRU" in text and "parameters:" in text


def test_augmented_training_with_truncation():
    """Cropped batches (fewer frames) and masks pass through truncated BPTT."""
    X, y = _toy(n=24, frames=10)
    for name, params in [("lstm", TINY), ("crnn", TINY_CRNN)]:
        est = estimator_for(name, dict(params, max_epochs=2, bptt_steps=3, augment="specaugment,crop=0.5,mixup"))
        assert est.fit(X, y).predict_proba(X).shape == (24, 3)


@pytest.mark.parametrize(
    "name, params, match",
    [
        ("rnn", dict(cell="transformer"), "cell='transformer'.*'elman', 'lstm', 'gru'"),
        ("lstm", dict(pooling="max"), "pooling='max'.*'last', 'mean', 'attention'"),
        ("gru", dict(bptt_steps=0), "bptt_steps=0"),
        ("gru", dict(bptt_steps=2.5), "bptt_steps=2.5"),
        ("rnn", dict(hidden_size=0), "hidden_size=0"),
        ("rnn", dict(num_layers=1.5), "num_layers=1.5"),
        ("rnn", dict(bidirectional="yes"), "bidirectional='yes'"),
        ("rnn", dict(dropout=1.0), "dropout=1.0"),
        ("rnn", dict(clip_grad_norm=0.0), "clip_grad_norm=0.0"),
        ("crnn", dict(kernel_size=2), "kernel_size=2 must be odd"),
        ("crnn", dict(channels=()), "channels=()"),
        ("crnn", dict(freq_pool=0), "freq_pool=0"),
        ("crnn", dict(time_pool=(2, 2, 2, 2)), "time_pool=.*4 entries.*3 blocks"),
        ("crnn", dict(time_pool="x"), "time_pool"),
        ("crnn", dict(cell="rnn"), "cell='rnn'"),
    ],
)
def test_bad_parameters_raise_config_error(name, params, match):
    X, y = _toy()
    with pytest.raises(ConfigError, match=match):
        estimator_for(name, dict(params, progress=False)).fit(X, y)
