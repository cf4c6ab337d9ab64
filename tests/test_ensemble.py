"""Ensembles (``musicnn.models.ensemble``): members from their own seeds, probabilities
averaged, one model file, the numpy networks at inference, resumable training, the CLI."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from musicnn.cli import main
from musicnn.errors import ConfigError, ModelFileError
from musicnn.modelfile import load_model, load_predictor, read_metadata, save_model
from musicnn.models.ensemble import Ensemble, member_checkpoint

MLP = {"hidden_layer_sizes": (16,), "max_epochs": 4, "validation_fraction": 0.0, "batch_size": 16}
CNN = {"channels": (4, 6), "max_epochs": 2, "validation_fraction": 0.0, "batch_size": 16}


@pytest.fixture(scope="module")
def note_features(notes, tmp_path_factory):
    """Pooled-MFCC and log-mel features of the session's rendered notes."""
    from musicnn.data import Collection
    from musicnn.features import preset
    from musicnn.pipeline import load_features
    from musicnn.store import FeatureStore

    store = FeatureStore(tmp_path_factory.mktemp("cache"))
    coll = Collection.load(notes)
    return {name: (spec, load_features(coll, spec, store=store, progress=False))
            for name, spec in (("mfcc", preset("mfcc", duration=1.0)), ("logmel", preset("logmel", duration=1.0)))}


def _fit(family, params, X, y, n=3, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Ensemble(family, params, n_members=n, progress=False).fit(X, y, **kw)


def test_members_differ_and_their_probabilities_are_averaged(note_features):
    _, data = note_features["mfcc"]
    ens = _fit("mlp", MLP, data.X, data.y)
    assert [m.seed for m in ens.members_] == [0, 1000, 2000]
    probas = [m.predict_proba(data.X) for m in ens.members_]
    assert np.abs(probas[0] - probas[1]).max() > 1e-3  # other seeds, other networks
    np.testing.assert_allclose(ens.predict_proba(data.X), np.mean(probas, axis=0), rtol=0, atol=1e-12)
    assert list(ens.classes_) == sorted(set(data.y))
    assert ens.score(data.X, data.y) > 0.5
    assert ens.embed(data.X).shape == (len(data.y), 3 * 16)
    assert ens.history_.n_epochs == 4 and len(ens.history_.train_loss) == 4
    assert ens.history_.seconds == pytest.approx(sum(m.history_.seconds for m in ens.members_))


def test_a_model_file_holds_every_member_and_loads_as_numpy_networks(note_features, tmp_path):
    from musicnn.models.deep.numpy_forward import ForwardModel

    spec, data = note_features["logmel"]
    ens = _fit("cnn", CNN, data.X, data.y, n=2)
    path = save_model(tmp_path / "ens.safetensors", ens, metadata={"feature_spec": spec.to_dict()})
    meta = read_metadata(path)
    assert meta["family"] == "ensemble" and meta["params"]["n_members"] == 2
    assert [m["params"]["seed"] for m in meta["learned"]["members"]] == [0, 1000]
    torch_model, _ = load_model(path)
    np.testing.assert_array_equal(torch_model.predict_proba(data.X), ens.predict_proba(data.X))
    numpy_model, spec2, _ = load_predictor(path)
    assert spec2 == spec and all(isinstance(m, ForwardModel) for m in numpy_model.members_)
    np.testing.assert_allclose(numpy_model.predict_proba(data.X), ens.predict_proba(data.X), atol=2e-5, rtol=0)
    assert "Ensemble of 2 cnn networks" in torch_model.summary()


def test_an_interrupted_ensemble_resumes_to_the_uninterrupted_result(note_features, tmp_path, monkeypatch):
    _, data = note_features["mfcc"]
    reference = _fit("mlp", MLP, data.X, data.y, n=2)
    ckpt = tmp_path / "m.checkpoint.safetensors"
    real_member = Ensemble._member

    def failing_member(self, index):
        member = real_member(self, index)
        if index == 1:
            def interrupted(*args, **kwargs):
                raise KeyboardInterrupt
            member.fit = interrupted
        return member

    monkeypatch.setattr(Ensemble, "_member", failing_member)
    with pytest.raises(KeyboardInterrupt):
        _fit("mlp", MLP, data.X, data.y, n=2, checkpoint=ckpt)
    assert member_checkpoint(ckpt, 0).exists() and not member_checkpoint(ckpt, 1).exists()
    monkeypatch.setattr(Ensemble, "_member", real_member)
    resumed = _fit("mlp", MLP, data.X, data.y, n=2, checkpoint=ckpt, resume=True)
    np.testing.assert_array_equal(resumed.predict_proba(data.X), reference.predict_proba(data.X))
    assert not member_checkpoint(ckpt, 0).exists()  # removed once every member is trained


@pytest.mark.parametrize("kwargs, needle", [
    ({"n_members": 1}, "n_members=1"),
    ({"n_members": 17}, "n_members=17"),
    ({"family": "som"}, "supervised family"),
    ({"family": "nope"}, "supervised family"),
    ({"params": [1, 2]}, "params="),
])
def test_bad_ensembles_are_refused_before_training(note_features, kwargs, needle):
    _, data = note_features["mfcc"]
    with pytest.raises(ConfigError, match=needle):
        Ensemble(**{"family": "mlp", "params": MLP, **kwargs}).fit(data.X, data.y)


@pytest.fixture(scope="module")
def mlp_file(note_features, tmp_path_factory):
    """A model file of two MLPs on pooled MFCC."""
    spec, data = note_features["mfcc"]
    ens = _fit("mlp", MLP, data.X, data.y, n=2)
    return save_model(tmp_path_factory.mktemp("ens") / "good.safetensors", ens,
                      metadata={"feature_spec": spec.to_dict()})


def _rewrite(src, dst, change_meta=None, change_arrays=None):
    from safetensors.numpy import load_file, save_file

    from musicnn.modelfile import METADATA_KEY

    meta = read_metadata(src)
    arrays = load_file(str(src))
    if change_meta:
        change_meta(meta)
    if change_arrays:
        change_arrays(arrays)
    save_file(arrays, str(dst), metadata={METADATA_KEY: json.dumps(meta)})
    return dst


@pytest.mark.parametrize("case, needle", [
    ("fewer members", "members"),
    ("too many members", "n_members=40"),
    ("stray array", "has an unknown array"),
    ("member of other classes", "other classes"),
    ("unknown member parameter", r"member 0: parameters \['bogus'\] are unknown to MLPClassifier"),
])
def test_crafted_ensemble_files_are_refused_with_their_name(mlp_file, tmp_path, case, needle):
    good = mlp_file

    def edit(meta):
        if case == "fewer members":
            meta["learned"]["members"] = meta["learned"]["members"][:1]
        elif case == "too many members":
            meta["params"]["n_members"] = 40
        elif case == "unknown member parameter":
            meta["learned"]["members"][0]["params"]["bogus"] = 1
        elif case == "member of other classes":
            meta["learned"]["members"][1]["classes"] = list(reversed(meta["learned"]["members"][1]["classes"]))

    def add(arrays):
        if case == "stray array":
            arrays["module.head.weight"] = np.zeros((2, 2), dtype=np.float32)

    bad = _rewrite(good, tmp_path / "bad.safetensors", edit, add)
    for loader in (load_model, load_predictor):
        with pytest.raises(ModelFileError, match=needle) as err:
            loader(bad)
        assert "bad.safetensors" in str(err.value)


def test_cli_trains_classifies_and_describes_an_ensemble(notes, note_paths, tmp_path):
    out = tmp_path / "ens.safetensors"
    runner = CliRunner()
    result = runner.invoke(main, ["--quiet", "train", "--data", str(notes), "--model", "mlp", "--out", str(out),
                                  "--epochs", "3", "--ensemble", "2", "--param", "hidden_layer_sizes=[16]"])
    assert result.exit_code == 0, result.output
    assert read_metadata(out)["family"] == "ensemble"
    files = [str(p) for p in note_paths[:3]]
    result = runner.invoke(main, ["classify", str(out), *files, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [p["path"] for p in json.loads(result.stdout)] == files
    result = runner.invoke(main, ["evaluate", str(out), "--data", str(notes), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["member_accuracy"]) == 2 and all(0 <= a <= 1 for a in report["member_accuracy"])
    result = runner.invoke(main, ["info", str(out)])
    assert result.exit_code == 0 and "Ensemble of 2 mlp networks" in result.output
    result = runner.invoke(main, ["train", "--data", str(notes), "--model", "mlp", "--out", str(tmp_path / "x.safetensors"),
                                  "--ensemble", "0"])
    assert result.exit_code == 2 and "--ensemble" in result.output
