"""`musicnn train` options of the deep-learning issue, `musicnn info`, and torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from musicnn.training import loop as training
from musicnn.cli import main


def _train(notes, out, *extra):
    return CliRunner().invoke(main, ["-q", "train", "--data", str(notes), "--model", "mlp", "--out", str(out),
                                     "--epochs", "6", "--param", "patience=50", "--param", "dropout=0.3", *extra])


def test_ctrl_c_then_resume_gives_the_uninterrupted_model(notes, tmp_path, monkeypatch):
    from musicnn.modelfile import load_model

    whole = _train(notes, tmp_path / "whole.safetensors")
    assert whole.exit_code == 0, whole.output
    assert not (tmp_path / "whole.checkpoint.safetensors").exists()  # removed once the model is saved

    real, calls = training.train_one_epoch, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    out = tmp_path / "run.safetensors"
    with monkeypatch.context() as m:
        m.setattr(training, "train_one_epoch", interrupted)
        res = _train(notes, out)
    assert res.exit_code == 130
    assert "run.checkpoint.safetensors; run the same command with --resume" in res.output
    assert not out.exists()

    res = CliRunner().invoke(main, ["train", "--data", str(notes), "--model", "mlp", "--out", str(out),
                                    "--epochs", "6", "--param", "patience=50", "--param", "dropout=0.3", "--resume"])
    assert res.exit_code == 0, res.output
    assert "resuming from" in res.output
    a, _ = load_model(tmp_path / "whole.safetensors")
    b, _ = load_model(out)
    for (ka, va), (kb, vb) in zip(a.state_arrays().items(), b.state_arrays().items()):
        assert ka == kb
        np.testing.assert_allclose(np.asarray(vb), np.asarray(va), rtol=1e-6, atol=1e-7)
    assert b.history_.train_loss == pytest.approx(a.history_.train_loss, rel=1e-6)


def test_train_options_reach_the_model_and_curves(notes, tmp_path):
    out = tmp_path / "cnn.safetensors"
    res = CliRunner().invoke(main, [
        "-q", "train", "--data", str(notes), "--model", "cnn", "--out", str(out), "--epochs", "3", "--lr", "0.002",
        "--param", "channels=[4,8]", "--lr-schedule", "cosine", "--class-weight", "balanced",
        "--augment", "specaugment,crop=0.9", "--audio-augment", "gain", "--augment-copies", "1"])
    assert res.exit_code == 0, res.output
    from musicnn.modelfile import read_metadata

    meta = read_metadata(out)
    assert meta["params"]["lr_schedule"] == "cosine" and meta["params"]["class_weight"] == "balanced"
    assert meta["params"]["lr"] == 0.002 and meta["params"]["max_epochs"] == 3
    assert meta["params"]["augment"] == "specaugment,crop=0.9"
    assert meta["summary"]["audio_augment"] == {"augment": "gain", "copies": 1}
    header, *rows = (tmp_path / "cnn.curves.csv").read_text().splitlines()
    assert header == "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr" and len(rows) == 3
    assert float(rows[2].split(",")[-1]) < float(rows[0].split(",")[-1])  # cosine decay

    bad = CliRunner().invoke(main, ["train", "--data", str(notes), "--model", "mlp", "--out", str(tmp_path / "x"),
                                    "--augment", "specaugment"])
    assert bad.exit_code == 1 and "need spectrogram input" in bad.output


def test_info_describes_the_network_and_receptive_field(notes, tmp_path):
    out = tmp_path / "cnn.safetensors"
    assert CliRunner().invoke(main, ["-q", "train", "--data", str(notes), "--model", "cnn", "--out", str(out),
                                     "--epochs", "2", "--param", "channels=[4,8]"]).exit_code == 0
    res = CliRunner().invoke(main, ["info", str(out)])
    assert res.exit_code == 0, res.output
    for text in ("family: cnn", "classes (4): bass, flute, guitar, organ", "features: logmel",
                 "parameters:", "receptive field: 10 frames x 10 bins", "layers:", "Conv2d"):
        assert text in res.output, text
    # 10 frames at hop 512 / 16 kHz
    assert "receptive field: 0.160 s over 10 of 64 logmel bins" in res.output
    meta = json.loads(CliRunner().invoke(main, ["info", str(out), "--json"]).output)
    assert meta["family"] == "cnn"
    assert CliRunner().invoke(main, ["info", str(tmp_path / "missing")]).exit_code == 2

    music = tmp_path / "music.safetensors"
    assert CliRunner().invoke(main, ["-q", "train", "--data", str(notes), "--model", "music-cnn", "--out", str(music),
                                     "--epochs", "1"]).exit_code == 0
    res = CliRunner().invoke(main, ["info", str(music)])
    assert res.exit_code == 0, res.output
    assert "family: music-cnn" in res.output and "over 64 of 64 logmel bins" in res.output


def test_torchrun_trains_one_model_with_two_processes(notes, tmp_path):
    out = tmp_path / "ddp.safetensors"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "musicnn", "-q", "train", "--data", str(notes), "--model", "mlp", "--out", str(out),
         "--epochs", "3"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from musicnn.modelfile import read_metadata

    summary = read_metadata(out)["summary"]
    assert summary["processes"] == 2 and summary["history"]["n_epochs"] == 3
    assert proc.stdout.count("wrote model") == 1  # rank 0 alone reports and writes


def test_torchrun_ranks_extract_their_shares_and_train_as_one_process(notes, tmp_path):
    """Each of 2 processes extracts half the files into the shared cache; the features and the
    trained model (no dropout: the same steps) are those of a single process."""
    from musicnn.data import Collection
    from musicnn.features import FeatureSpec
    from musicnn.modelfile import load_with_spec, read_metadata
    from musicnn.store import FeatureStore

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["train", "--data", str(notes), "--model", "mlp", "--epochs", "3", "--param", "dropout=0.0"]
    outs = {}
    for n in (1, 2):
        out, cache = tmp_path / f"p{n}.safetensors", tmp_path / f"cache{n}"
        launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n)] \
            if n > 1 else [sys.executable]
        proc = subprocess.run([*launch, "-m", "musicnn", "-q", *args, "--out", str(out), "--cache-dir", str(cache)],
                              env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs[n] = (out, cache)
    summary = read_metadata(outs[2][0])["summary"]
    shares = summary["features_extracted_per_process"]
    n_files = len(Collection.load(notes))
    assert len(shares) == 2 and sum(shares) == n_files and min(shares) >= n_files // 2
    spec = FeatureSpec.from_dict(read_metadata(outs[1][0])["feature_spec"])
    paths = Collection.load(notes).paths
    one, two = (FeatureStore(c).extract(paths, spec, progress=False) for _, c in outs.values())
    assert one.n_computed == two.n_computed == 0  # both caches hold every file
    for a, b in zip(one.features, two.features):
        np.testing.assert_array_equal(a, b)
    (m1, _, _), (m2, _, _) = load_with_spec(outs[1][0]), load_with_spec(outs[2][0])
    X = np.stack(one.features)
    np.testing.assert_allclose(m1.predict_proba(X), m2.predict_proba(X), atol=1e-5)
