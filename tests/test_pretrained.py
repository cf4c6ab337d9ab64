"""The shipped instrument-family model: it loads, classifies real notes, and the CLI uses it by default."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from musicnn.cli import main
from musicnn.modelfile import load_model, read_metadata
from musicnn.pretrained import DEFAULT_MODEL, default_model

FAMILIES = ["bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "vocal"]


def test_shipped_model_is_small_and_describes_itself():
    path = default_model()
    assert path.name == DEFAULT_MODEL and path.stat().st_size < 5 * 2**20
    meta = read_metadata(path)
    assert meta["family"] == "ensemble" and meta["params"]["family"] == "cnn" and meta["params"]["n_members"] == 3
    assert meta["learned"]["classes"] == FAMILIES
    assert meta["feature_spec"]["kind"] == "logmel"
    assert meta["summary"]["data"].endswith("manifest.csv")


def test_shipped_model_names_most_rendered_notes(note_paths):
    """The session's notes (pitch step 7, velocity 100: pitch/velocity pairs the model's
    training set, step 3 at velocities 75 and 120, mostly lacks)."""
    from musicnn.features import FeatureSpec
    from musicnn.inference.engine import classify_batch

    est, meta = load_model(default_model())
    spec = FeatureSpec.from_dict(meta["feature_spec"])
    report = classify_batch(est, spec, [str(p) for p in note_paths], progress=False)
    truth = [p.parent.name for p in note_paths]
    labels = [pred.label for pred in report.predictions]
    assert not report.failures and len(labels) == len(truth)
    assert np.mean([a == b for a, b in zip(labels, truth)]) >= 0.7


def test_classify_without_a_model_uses_the_shipped_one(note_paths):
    files = [str(p) for p in note_paths[:4]]
    result = CliRunner().invoke(main, ["classify", *files, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "shipped instrument-family model" in result.stderr
    preds = json.loads(result.stdout)
    assert [p["path"] for p in preds] == files and all(p["label"] in FAMILIES for p in preds)


def test_classify_with_a_missing_model_file_is_a_usage_error(note_paths, tmp_path):
    result = CliRunner().invoke(main, ["classify", str(tmp_path / "gone.safetensors"), str(note_paths[0])])
    assert result.exit_code == 2 and "gone.safetensors" in result.output and "does not exist" in result.output


def test_classify_needs_a_file():
    result = CliRunner().invoke(main, ["classify", str(default_model())])
    assert result.exit_code == 2 and "at least one audio file" in result.output


def test_info_without_a_model_describes_the_shipped_one():
    result = CliRunner().invoke(main, ["info"])
    assert result.exit_code == 0, result.output
    assert "shipped with musicnn" in result.output and "family: ensemble" in result.output
    assert "Ensemble of 3 cnn networks" in result.output
    assert "classes (10): bass, brass" in result.output


def test_missing_shipped_model_is_one_clear_line(monkeypatch, note_paths):
    import musicnn.pretrained as pretrained

    monkeypatch.setattr(pretrained, "DEFAULT_MODEL", "absent.safetensors")
    result = CliRunner().invoke(main, ["classify", str(note_paths[0])])
    assert result.exit_code == 1 and "make pretrained" in result.output and "absent.safetensors" in result.output
