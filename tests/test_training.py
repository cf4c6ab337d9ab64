"""The shared training loop: checkpoints and resume, schedules, class weights, clipping,
augmentation, and data-parallel training with torchrun."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from musicnn.training.augment import augment_batch, check_input, parse_augment
from musicnn.errors import ConfigError
from musicnn.features import preset
from musicnn.models.deep.cnn import SpectrogramCNN
from musicnn.models.deep.mlp import MLPClassifier
from musicnn.pipeline import load_features
from musicnn.data import Collection
from musicnn.training import loop as training
from musicnn.training.config import TrainConfig


@pytest.fixture(scope="module")
def mfcc_set(notes, tmp_path_factory):
    """Pooled MFCC vectors of the rendered notes, with their family labels."""
    from musicnn.store import FeatureStore

    store = FeatureStore(tmp_path_factory.mktemp("cache"))
    ds = load_features(Collection.load(notes), preset("mfcc", duration=1.5), store=store, progress=False)
    return ds.X, ds.y


@pytest.fixture(scope="module")
def logmel_set(notes, tmp_path_factory):
    from musicnn.store import FeatureStore

    store = FeatureStore(tmp_path_factory.mktemp("cache"))
    ds = load_features(Collection.load(notes), preset("logmel", duration=1.0), store=store, progress=False)
    return ds.X, ds.y


def _weights(est) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in est.module_.state_dict().items()}


def _interrupt_at(monkeypatch, epoch: int) -> None:
    """Make the loop raise KeyboardInterrupt when it starts ``epoch`` (as Ctrl-C would)."""
    real = training.train_one_epoch
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == epoch:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "train_one_epoch", flaky)


# -- checkpoints and resume ---------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: MLPClassifier(hidden_layer_sizes=(32,), dropout=0.3, max_epochs=8, patience=20, lr_schedule="cosine",
                          class_weight="balanced", augment="mixup", progress=False, seed=3),
    lambda: SpectrogramCNN(channels=(4, 8), max_epochs=6, patience=20, lr_schedule="plateau", batch_size=16,
                           augment="specaugment,crop", clip_grad_norm=1.0, progress=False, seed=1),
], ids=["mlp", "cnn"])
def test_resume_after_interrupt_matches_uninterrupted_run(make, mfcc_set, logmel_set, tmp_path, monkeypatch):
    X, y = mfcc_set if isinstance(make(), MLPClassifier) else logmel_set
    warnings.simplefilter("ignore")
    whole = make().fit(X, y)

    ckpt = tmp_path / "run.checkpoint.safetensors"
    with monkeypatch.context() as m:
        _interrupt_at(m, 4)
        with pytest.raises(KeyboardInterrupt):
            make().fit(X, y, checkpoint=str(ckpt))
    assert ckpt.exists()  # epochs 1-3 are saved
    resumed = make().fit(X, y, checkpoint=str(ckpt), resume=True)

    assert resumed.history_.n_epochs == whole.history_.n_epochs
    np.testing.assert_allclose(resumed.history_.train_loss, whole.history_.train_loss, rtol=1e-6)
    np.testing.assert_allclose(resumed.history_.lr, whole.history_.lr, rtol=1e-9)
    for k, v in _weights(whole).items():
        torch.testing.assert_close(_weights(resumed)[k], v, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(resumed.predict(X), whole.predict(X))


def test_resume_of_a_finished_run_returns_its_model(mfcc_set, tmp_path):
    X, y = mfcc_set
    ckpt = str(tmp_path / "c.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = MLPClassifier(hidden_layer_sizes=(16,), max_epochs=3, progress=False).fit(X, y, checkpoint=ckpt)
        again = MLPClassifier(hidden_layer_sizes=(16,), max_epochs=3, progress=False).fit(
            X, y, checkpoint=ckpt, resume=True)
    np.testing.assert_array_equal(again.predict_proba(X), first.predict_proba(X))


def test_checkpoint_of_another_run_is_refused(mfcc_set, tmp_path):
    X, y = mfcc_set
    ckpt = str(tmp_path / "c.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(hidden_layer_sizes=(16,), max_epochs=2, progress=False).fit(X, y, checkpoint=ckpt)
        with pytest.raises(ConfigError, match="another training run"):
            MLPClassifier(hidden_layer_sizes=(16,), max_epochs=2, lr=0.01, progress=False).fit(
                X, y, checkpoint=ckpt, resume=True)
        with pytest.raises(ConfigError, match="another training run"):
            MLPClassifier(hidden_layer_sizes=(16,), max_epochs=2, progress=False).fit(
                X[:-3], y[:-3], checkpoint=ckpt, resume=True)
    Path(ckpt).write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="not a readable musicnn checkpoint"):
        MLPClassifier(hidden_layer_sizes=(16,), max_epochs=2, progress=False).fit(X, y, checkpoint=ckpt, resume=True)


def test_checkpoint_holds_no_pickle(mfcc_set, tmp_path):
    from safetensors import safe_open

    X, y = mfcc_set
    ckpt = tmp_path / "c.safetensors"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(hidden_layer_sizes=(16,), max_epochs=2, progress=False).fit(X, y, checkpoint=str(ckpt))
    with safe_open(str(ckpt), framework="pt") as f:  # safetensors: arrays + JSON text only
        assert "musicnn_checkpoint" in f.metadata()
        assert any(k.startswith("s.optimiser") for k in f.keys())


# -- early stopping -------------------------------------------------------------------

def test_one_early_stopping_rule_for_both_trainers():
    from musicnn.models.deep import backprop
    from musicnn.training.early_stopping import EarlyStopping, monitored

    assert training.EarlyStopping is EarlyStopping and backprop.EarlyStopping is EarlyStopping
    assert monitored("val_accuracy", 0.9, 0.5, 0.8) == (-0.8, 0.5)
    assert monitored("val_loss", 0.9, 0.5, 0.8) == (0.5,) and monitored("val_accuracy", 0.9) == (0.9,)
    stopper, snapshots = EarlyStopping(patience=2), iter(range(10))
    assert stopper.update((-0.8, 0.5), 1, lambda: next(snapshots))
    assert stopper.update((-0.8, 0.4), 2, lambda: next(snapshots))  # same accuracy, lower loss
    assert not stopper.update((-0.8 - 1e-8, 0.6), 3, lambda: next(snapshots))  # within the tolerance: a tie
    assert not stopper.should_stop
    assert not stopper.update((-0.7, 0.1), 4, lambda: next(snapshots))
    assert stopper.should_stop and stopper.best_epoch == 2
    again = EarlyStopping(patience=2)
    again.load_state(stopper.state())  # what a checkpoint keeps
    kept = []
    again.restore(kept.append)
    assert kept == [1] and again.best == (-0.8, 0.4) and again.should_stop


# -- schedules, class weights, clipping ---------------------------------------------

def test_lr_schedules(mfcc_set):
    X, y = mfcc_set
    lrs = {}
    for name in ("constant", "step", "cosine"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = MLPClassifier(hidden_layer_sizes=(8,), max_epochs=8, patience=50, lr=1e-2, lr_schedule=name,
                                progress=False).fit(X, y)
        lrs[name] = est.history_.lr
    assert lrs["constant"] == [1e-2] * 8
    assert lrs["step"] == [1e-2] * 2 + [5e-3] * 2 + [2.5e-3] * 2 + [1.25e-3] * 2
    expected = [1e-4 + (1e-2 - 1e-4) * (1 + np.cos(np.pi * e / 8)) / 2 for e in range(8)]
    np.testing.assert_allclose(lrs["cosine"], expected, rtol=1e-6)


def test_plateau_schedule_halves_the_rate_when_stalled():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=1e-3)
    sched = training.make_scheduler(opt, TrainConfig(lr_schedule="plateau", patience=6))
    lrs = []
    for value in (1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9):  # improves once, then stalls
        sched.step(value)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == [1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4]  # patience 6 // 3 = 2 stalled epochs tolerated


def test_balanced_class_weight_raises_minority_recall(mfcc_set):
    X, y = mfcc_set
    minority = sorted(set(y))[0]
    keep = np.flatnonzero(y != minority)
    keep = np.concatenate([keep, np.flatnonzero(y == minority)[:4]])  # 4 minority examples
    Xi, yi = X[keep], y[keep]
    recalls = {}
    for cw in (None, "balanced"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = MLPClassifier(hidden_layer_sizes=(), max_epochs=60, patience=100, lr=3e-3, class_weight=cw,
                                validation_fraction=0.0, progress=False, seed=0).fit(Xi, yi)
        pred = est.predict(X)
        recalls[cw] = np.mean(pred[y == minority] == minority)
    assert recalls["balanced"] > recalls[None] + 0.15  # measured 0.61 vs 0.33


def test_class_weight_dict_and_bad_values(mfcc_set):
    X, y = mfcc_set
    labels = sorted(set(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(hidden_layer_sizes=(4,), max_epochs=2, class_weight={labels[0]: 5.0}, progress=False).fit(X, y)
        with pytest.raises(ConfigError, match="absent from the training labels: kazoo"):
            MLPClassifier(max_epochs=2, class_weight={"kazoo": 2.0}, progress=False).fit(X, y)
    with pytest.raises(ConfigError, match="class_weight='heavy'"):
        MLPClassifier(class_weight="heavy").fit(X, y)


def test_gradient_clipping_bounds_the_gradient_norm(mfcc_set, monkeypatch):
    X, y = mfcc_set
    seen = []
    real = torch.nn.utils.clip_grad_norm_

    def spy(params, max_norm, *a, **k):
        params = list(params)
        total = real(params, max_norm, *a, **k)
        seen.append((float(total), float(torch.norm(torch.stack([p.grad.norm() for p in params])))))
        return total

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(hidden_layer_sizes=(16,), max_epochs=2, lr=0.1, clip_grad_norm=0.01, progress=False).fit(X, y)
    assert seen and all(after <= 0.01 * 1.001 for _, after in seen)
    assert max(before for before, _ in seen) > 0.01  # clipping had work to do


# -- augmentation -------------------------------------------------------------------

def test_parse_augment():
    assert parse_augment(None) == {} and parse_augment("none") == {}
    assert parse_augment("specaugment, mixup=0.4") == {"specaugment": 0.15, "mixup": 0.4}
    assert parse_augment(["crop"]) == {"crop": 0.875}
    for bad, match in (("wobble", "unknown augmentation 'wobble'.*specaugment, crop, mixup"),
                       ("crop=1.5", r"crop=1.5 must be in"), ("mixup=x", "needs a number"),
                       ("crop,crop", "given twice")):
        with pytest.raises(ConfigError, match=match):
            parse_augment(bad)
    with pytest.raises(ConfigError, match="need spectrogram input"):
        check_input({"specaugment": 0.1}, 2)
    with pytest.raises(ConfigError, match="need spectrogram input"):
        MLPClassifier(augment="crop", progress=False).fit(np.zeros((10, 3)), [0, 1] * 5)


def test_spectrogram_augmentations(logmel_set):
    X = torch.from_numpy(np.ascontiguousarray(logmel_set[0][:8])) + 5.0  # no zeros before masking
    g = torch.Generator().manual_seed(0)
    cropped = augment_batch(X, {"crop": 0.5}, g)
    assert cropped.shape == (8, round(X.shape[1] * 0.5), X.shape[2])
    # each cropped example is a contiguous run of its own frames
    for i in range(8):
        windows = X[i].unfold(0, cropped.shape[1], 1).permute(0, 2, 1)
        assert any(torch.equal(w, cropped[i]) for w in windows)
    masked = augment_batch(X, {"specaugment": 0.2}, torch.Generator().manual_seed(1))
    assert masked.shape == X.shape and torch.count_nonzero(masked == 0) > 0
    assert torch.equal(masked[masked != 0], X[masked != 0])  # only whole bands are zeroed
    again = augment_batch(X, {"specaugment": 0.2}, torch.Generator().manual_seed(1))
    assert torch.equal(masked, again)


def test_cnn_trains_with_every_augmentation(logmel_set):
    X, y = logmel_set
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = SpectrogramCNN(channels=(8, 16), max_epochs=10, lr=3e-3, batch_size=16, validation_fraction=0.0,
                             augment="specaugment,crop,mixup", progress=False).fit(X, y)
    assert est.history_.n_epochs == 10 and len(est.history_.train_accuracy) == 10
    assert est.score(X, y) >= 0.35  # measured 0.45 after 10 epochs; chance 0.25


# -- data-parallel training -----------------------------------------------------------

_WORKER = Path(__file__).with_name("ddp_worker.py")


def test_two_process_ddp_matches_single_process(mfcc_set, tmp_path):
    X, y = mfcc_set
    data = tmp_path / "data.npz"
    np.savez(data, X=X, y=y)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    single = tmp_path / "single.npz"
    subprocess.run([sys.executable, str(_WORKER), str(data), str(single)], check=True, env=env, timeout=300)
    double = tmp_path / "ddp.npz"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(_WORKER), str(data), str(double)],
        env=env, timeout=300, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = np.load(single), np.load(double)
    assert int(b["world_size"]) == 2 and int(a["world_size"]) == 1
    np.testing.assert_allclose(b["train_loss"], a["train_loss"], rtol=1e-4)
    for key in a.files:
        if key.startswith("w."):
            np.testing.assert_allclose(b[key], a[key], rtol=1e-4, atol=1e-5)
