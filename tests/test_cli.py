"""The command line, end to end through click's CliRunner, on real rendered notes."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from musicnn.cli import EXIT_SKIPPED, main

FAST_MLP = ["--epochs", "40", "--param", "hidden_layer_sizes=[64]", "--param", "lr=0.003",
            "--param", "validation_fraction=0.15"]  # early stopping on the validation split
FAST_CNN = ["--epochs", "8", "--param", "channels=[8,16]", "--param", "lr=0.003"]


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def run(runner, args, code=0):
    result = runner.invoke(main, ["--quiet", *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def error_line(result) -> str:
    lines = [ln for ln in result.output.strip().splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return lines[-1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, notes):
    """An MLP and a CNN trained through the CLI on the session's notes."""
    out = tmp_path_factory.mktemp("runs")
    runner = CliRunner()
    cache = str(out / "cache")
    models = {}
    for name, extra in (("mlp", FAST_MLP), ("cnn", FAST_CNN)):
        path = out / f"{name}.safetensors"
        result = runner.invoke(main, ["--quiet", "train", "--data", str(notes), "--model", name, "--out", str(path),
                                      "--cache-dir", cache, *extra], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        models[name] = (path, result.output)
    return models


def test_help_imports_neither_torch_nor_librosa():
    code = (
        "import sys\n"
        "from musicnn.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'librosa', 'sklearn', 'matplotlib', 'numpy') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY=\n" in out or out.strip().endswith("HEAVY="), out
    assert "datasets" in out and "classify" in out


def test_the_choices_the_cli_lists_are_the_librarys():
    from musicnn import choices
    from musicnn.features import KINDS, NORMS, PRESETS
    from musicnn.inference.engine import AGGREGATES
    from musicnn.training.config import LR_SCHEDULES

    assert tuple(PRESETS) == choices.PRESET_NAMES and KINDS is choices.FEATURE_KINDS and NORMS is choices.NORMS
    assert AGGREGATES is choices.AGGREGATES and LR_SCHEDULES is choices.LR_SCHEDULES
    help_text = " ".join(CliRunner().invoke(main, ["train", "--help"]).output.split())
    assert "logmel, mfcc, descriptors, chroma" in help_text and "constant|step|cosine|plateau" in help_text


def test_every_command_has_help(runner):
    for cmd in (["datasets", "build"], ["features"], ["train"], ["evaluate"], ["classify"], ["embed"], ["models"]):
        result = runner.invoke(main, [*cmd, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output
    assert "path,label" in runner.invoke(main, ["--help"]).output


def test_models_lists_families(runner):
    out = run(runner, ["models"]).output
    assert "mlp" in out and "cnn" in out and "supervised" in out


def test_datasets_build_and_card(runner, tmp_path):
    out = tmp_path / "set"
    result = run(runner, ["datasets", "build", "instruments", "--out", str(out), "--families", "bass,flute",
                          "--max-programs", "1", "--pitch-step", "12", "--velocities", "100"])
    assert "manifest.csv" in result.output
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert {r["label"] for r in rows} == {"bass", "flute"}
    assert "instruments" in run(runner, ["datasets", "card"]).output
    assert "group" in run(runner, ["datasets", "card", "instruments"]).output
    assert "no card named" in error_line(run(runner, ["datasets", "card", "nope"], code=1))


def test_datasets_build_bad_family(runner, tmp_path):
    result = run(runner, ["datasets", "build", "instruments", "--out", str(tmp_path / "x"), "--families", "kazoo"], code=1)
    assert "kazoo" in error_line(result)


def test_features_then_cached(runner, notes, tmp_path):
    args = ["features", str(notes), "--preset", "mfcc", "--cache-dir", str(tmp_path / "c"), "--jobs", "2",
            "--out", str(tmp_path / "f.npz")]
    first = run(runner, args).output
    assert "0 from cache" in first
    assert error_line(run(runner, args, code=1)) == f"Error: {tmp_path / 'f.npz'} already exists; pass --force to replace it, or choose another file"
    second = run(runner, [*args, "--force"]).output
    n = len(list(csv.DictReader(open(notes / "manifest.csv"))))
    assert f"{n} from cache" in second
    data = np.load(tmp_path / "f.npz")
    assert data["X"].shape == (n, 120) and len(data["y"]) == n


def test_features_skips_bad_files_with_exit_3(runner, note_paths, tmp_path):
    root = tmp_path / "data"
    (root / "flute").mkdir(parents=True)
    (root / "bass").mkdir()
    import shutil

    shutil.copy(note_paths[0], root / "bass" / "ok.wav")
    (root / "flute" / "broken.wav").write_text("garbage")
    sf.write(root / "flute" / "quiet.wav", np.zeros(4000, dtype=np.float32), 16000)
    result = run(runner, ["features", str(root), "--cache-dir", str(tmp_path / "c")], code=EXIT_SKIPPED)
    assert "2 files skipped" in result.output
    assert "broken.wav: not a readable audio file" in result.output
    assert "quiet.wav: is silent" in result.output


def test_train_writes_model_report_and_plots(trained):
    path, output = trained["mlp"]
    assert path.exists()
    for suffix in (".report.json", ".confusion.png", ".curves.png", ".curves.csv"):
        assert path.with_name(path.name.replace(".safetensors", suffix)).exists()
    rows = list(csv.DictReader(open(path.with_name("mlp.curves.csv"))))
    assert rows[0]["epoch"] == "1" and float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])
    assert all(0 <= float(r["val_accuracy"]) <= 1 for r in rows)
    assert "test split (held-out groups)" in output and "macro F1" in output


def test_evaluate_json_matches_train_report(runner, trained, notes):
    path, _ = trained["cnn"]
    result = run(runner, ["evaluate", str(path), "--data", str(notes), "--split", "test", "--json"])
    report = json.loads(result.output)
    assert {"accuracy", "balanced_accuracy", "macro_f1"} <= set(report)
    saved = json.loads(path.with_name("cnn.report.json").read_text())
    assert report["accuracy"] == pytest.approx(saved["accuracy"])
    assert report["confusion"] == saved["confusion"]


def test_evaluate_text_and_confusion_png(runner, trained, notes, tmp_path):
    path, _ = trained["mlp"]
    png = tmp_path / "cm.png"
    out = run(runner, ["evaluate", str(path), "--data", str(notes), "--confusion", str(png)]).output
    assert "balanced accuracy" in out and png.read_bytes()[:4] == b"\x89PNG"


def test_evaluate_unknown_label(runner, trained, note_paths, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label\n{note_paths[0]},theremin\n")
    line = error_line(run(runner, ["evaluate", str(trained["mlp"][0]), "--data", str(manifest)], code=1))
    assert "'theremin' unknown to the model" in line and str(note_paths[0]) in line


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_classify_formats(runner, trained, note_paths, fmt):
    path, _ = trained["cnn"]
    files = [str(p) for p in note_paths[:3]]
    out = run(runner, ["classify", str(path), *files, "--top-k", "2", "--format", fmt]).output
    if fmt == "json":
        preds = json.loads(out)
        assert [p["path"] for p in preds] == files
        assert all(len(p["top"]) == 2 and p["top"][0]["label"] == p["label"] for p in preds)
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert len(rows) == 6 and rows[0]["rank"] == "1"
    else:
        assert all(f in out for f in files)


def test_classify_skips_bad_files(runner, trained, note_paths, tmp_path):
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"fLaC" + bytes(50))
    result = run(runner, ["classify", str(trained["mlp"][0]), str(note_paths[0]), str(bad), str(tmp_path / "gone.wav")],
                 code=EXIT_SKIPPED)
    assert str(note_paths[0]) in result.output and "2 files skipped" in result.output
    assert "gone.wav: no such file" in result.output


def test_corrupt_model_file_is_one_clear_line(runner, tmp_path, note_paths):
    model = tmp_path / "model.safetensors"
    model.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    line = error_line(run(runner, ["classify", str(model), str(note_paths[0])], code=1))
    assert str(model) in line


def test_train_errors(runner, notes, tmp_path):
    line = error_line(run(runner, ["train", "--data", str(notes), "--model", "transformer", "--out", str(tmp_path / "m")],
                          code=1))
    assert "unknown model family 'transformer'" in line and "mlp" in line
    line = error_line(run(runner, ["train", "--data", str(notes), "--model", "mlp", "--out", str(tmp_path / "m"),
                                   "--param", "activation=swish"], code=1))
    assert "activation" in line and "swish" in line
    result = runner.invoke(main, ["train", "--data", str(notes), "--model", "mlp", "--out", "x", "--param", "oops"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_one_label_is_an_error(runner, note_paths, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\n" + "".join(f"{p},flute\n" for p in note_paths[:4]))
    line = error_line(run(runner, ["train", "--data", str(manifest), "--model", "mlp", "--out", str(tmp_path / "m")],
                          code=1))
    assert "needs at least 2" in line


def test_features_of_files_of_different_lengths(runner, note_paths, tmp_path):
    root = tmp_path / "data"
    (root / "organ").mkdir(parents=True)
    y, sr = sf.read(note_paths[0], dtype="float32")
    sf.write(root / "organ" / "short.wav", y[: sr // 2], sr)
    sf.write(root / "organ" / "long.wav", np.concatenate([y, y]), sr)
    args = ["features", str(root), "--preset", "logmel", "--cache-dir", str(tmp_path / "c")]
    assert "2 different shapes" in run(runner, args).output
    line = error_line(run(runner, [*args, "--out", str(tmp_path / "f.npz")], code=1))
    assert "different shapes" in line and "(--duration SECONDS)" in line and "(--pooling STATS)" in line
    assert "duration=" not in line and not (tmp_path / "f.npz").exists()
    run(runner, [*args, "--duration", "1.0", "--out", str(tmp_path / "f.npz")])
    assert np.load(tmp_path / "f.npz")["X"].shape == (2, 63, 64)


def test_embed_writes_one_vector_per_file(runner, trained, note_paths, tmp_path):
    path, _ = trained["cnn"]
    files = [str(p) for p in note_paths[:3]]
    bad = tmp_path / "bad.wav"
    bad.write_text("nope")
    result = run(runner, ["embed", str(path), *files, str(bad), "--out", str(tmp_path / "e.npz")], code=EXIT_SKIPPED)
    assert "wrote 3 embeddings of 16 values" in result.output and "bad.wav" in result.output
    data = np.load(tmp_path / "e.npz")
    assert data["embeddings"].shape == (3, 16) and list(data["paths"]) == files  # 16 channels, averaged
    assert np.isfinite(data["embeddings"]).all() and not np.allclose(data["embeddings"][0], data["embeddings"][1])
    run(runner, ["embed", str(path), *files, "--out", str(tmp_path / "e.csv")])
    rows = list(csv.DictReader(open(tmp_path / "e.csv")))
    assert [r["path"] for r in rows] == files and len(rows[0]) == 17
    run(runner, ["embed", str(trained["mlp"][0]), files[0], "--out", str(tmp_path / "e.json")])
    (item,) = json.loads((tmp_path / "e.json").read_text())
    assert item["path"] == files[0] and len(item["embedding"]) == 64  # the MLP's hidden layer
    result = runner.invoke(main, ["embed", str(path), files[0], "--out", str(tmp_path / "e.txt")])
    assert result.exit_code == 2 and ".npz, .csv or .json" in result.output


def test_embedding_matches_the_models_embed(trained, note_paths):
    from musicnn.audio.io import load
    from musicnn.inference.engine import embed_files
    from musicnn.inference.windows import window_features
    from musicnn.modelfile import load_with_spec

    est, spec, _ = load_with_spec(trained["mlp"][0])
    paths, emb, failures = embed_files(est, spec, [note_paths[0]], progress=False)
    y, _ = load(note_paths[0], sr=spec.sr)
    np.testing.assert_allclose(emb[0], est.embed(window_features(spec, y)).mean(axis=0), rtol=1e-5)


def test_library_messages_name_parameters_not_options():
    """Every string of the library but its docstrings speaks Python (``max_epochs=3``); only
    the command line (``musicnn/cli/``) names options (``--epochs``).  A shell command to run
    (``pip install ...``) may."""
    package = Path(__file__).resolve().parents[1] / "musicnn"
    option = re.compile(r"(?<![\w-])--[a-z]")
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.parent.name == "cli" or path.name == "__main__.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        found += [f"{path.name}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                  and option.search(node.value) and "pip install" not in node.value]
    assert not found, found


def test_library_errors_are_reworded_in_the_options_of_train(runner, notes, tmp_path):
    def train(model, *extra):
        return error_line(run(runner, ["train", "--data", str(notes), "--model", model, "--out",
                                       str(tmp_path / "m.safetensors"), "--cache-dir", str(tmp_path / "c"), *extra],
                              code=1))

    line = train("hopfield", "--epochs", "3")
    assert "hopfield has no parameter 'max_epochs' (it trains without epochs): drop --epochs;" in line
    assert "hopfield has no parameter 'lr': drop --lr;" in train("hopfield", "--lr", "0.1")
    line = train("mlp", "--epochs", "0")
    assert "--epochs 0 must be" in line and "max_epochs" not in line


def test_warnings_of_train_speak_its_options(runner, notes, tmp_path):
    res = run(runner, ["train", "--data", str(notes), "--model", "mlp", "--out", str(tmp_path / "m.safetensors"),
                       "--cache-dir", str(tmp_path / "c"), "--epochs", "1", "--param", "validation_fraction=0.15"])
    out = res.output + (res.stderr if hasattr(res, "stderr") else "")
    assert "training stopped at --epochs 1" in out and "raise --epochs to train longer" in out, out
    assert "max_epochs" not in out


def test_the_warning_handler_is_restored_after_a_command(runner):
    before = warnings.showwarning
    run(runner, ["models"])
    assert warnings.showwarning is before
