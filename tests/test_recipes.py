"""Recipes: reading and checking TOML, overrides, run folders, the leaderboard, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from musicnn.data import Collection
from musicnn.cli import main
from musicnn.errors import ConfigError
from musicnn.recipes import compare, load_recipe, resolve_data, run_recipe
from musicnn.recipes.run import recipe_params, recipe_spec
from musicnn.resources import recipes as shipped

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # few epochs on purpose

SHIPPED = ["instruments", "instruments-nsynth", "instruments-tinysol", "instruments-medley", "instruments-irmas",
           "genre", "genre-gtzan"]


def _recipe(tmp_path: Path, data: Path, family: str = "mlp", extra: str = "") -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(f'''name = "tiny"
description = "four families of rendered notes"

[data]
path = "{data.as_posix()}"

[split]
protocol = "group"
test_size = 0.25
val_size = 0.15

[features]
preset = "mfcc"
duration = 1.0

[model]
family = "{family}"

[model.params]
hidden_layer_sizes = [32]

[training]
seed = 0
max_epochs = 5
{extra}''')
    return path


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_recipe_is_valid(name):
    assert name in shipped()
    r = load_recipe(name)
    recipe_spec(r)  # features and parameters are checked without any data
    assert recipe_params(r)["channels"] == (16, 32, 64, 128)
    assert r.family == "cnn" and r.get("data.build") or r.get("data.reader")


def test_the_instruments_recipe_is_the_shipped_models_configuration():
    from musicnn.modelfile import read_metadata
    from musicnn.pretrained import default_model

    r = load_recipe("instruments")
    meta = read_metadata(default_model())
    assert recipe_spec(r).to_dict() == meta["feature_spec"]
    params = recipe_params(r)
    assert meta["family"] == "ensemble" and meta["params"]["n_members"] == r.get("training.ensemble") == 3
    assert meta["params"]["family"] == r.family
    member = meta["learned"]["members"][0]["params"]  # each member's full hyper-parameters
    for key in ("channels", "global_pool", "batch_size", "max_epochs", "validation_fraction", "patience"):
        shipped_value = member[key]
        assert (tuple(shipped_value) if isinstance(shipped_value, list) else shipped_value) == params[key], key
    assert meta["summary"]["audio_augment"] == {"augment": r.get("training.audio_augment"), "copies": 1}


def test_unknown_keys_and_bad_values_are_named(tmp_path, notes):
    path = _recipe(tmp_path, notes, extra="epochz = 3\n")
    with pytest.raises(ConfigError, match="unknown key 'training.epochz'; known keys here: training.seed"):
        load_recipe(path)
    path = _recipe(tmp_path, notes)
    with pytest.raises(ConfigError, match="unknown key 'model.paramz'"):
        load_recipe(path, ["model.paramz.x=1"])
    with pytest.raises(ConfigError, match=r"training.max_epochs='many' must be an integer"):
        load_recipe(path, ["training.max_epochs=many"])
    with pytest.raises(ConfigError, match="is not KEY=VALUE"):
        load_recipe(path, ["training.max_epochs"])
    with pytest.raises(ConfigError, match="no recipe named 'nope'; shipped recipes: genre"):
        load_recipe("nope")
    (tmp_path / "broken.toml").write_text("name = \n")
    with pytest.raises(ConfigError, match="broken.toml: not valid TOML"):
        load_recipe(tmp_path / "broken.toml")
    bad_feature = load_recipe(path, ["features.n_melz=3"])
    with pytest.raises(ConfigError, match="unknown key 'features.n_melz'"):
        recipe_spec(bad_feature)


def test_overrides_are_read_as_toml(tmp_path, notes):
    r = load_recipe(_recipe(tmp_path, notes), ["model.params.hidden_layer_sizes=[64, 16]", "training.lr=3e-3",
                                               "split.protocol=by-source", "split.test_source=merlin"])
    assert r.get("model.params.hidden_layer_sizes") == [64, 16] and r.get("training.lr") == 0.003
    assert recipe_params(r)["hidden_layer_sizes"] == (64, 16)
    assert load_recipe(_recipe(tmp_path, notes)).to_toml() == load_recipe(_recipe(tmp_path, notes)).to_toml()
    again = tmp_path / "again.toml"
    again.write_text(r.to_toml())
    assert load_recipe(again).values == r.values  # what a run folder's recipe.toml holds reads back


def test_a_run_writes_its_folder_and_never_replaces_one_silently(tmp_path, notes, monkeypatch):
    r = load_recipe(_recipe(tmp_path, notes))
    out = tmp_path / "run"
    run = run_recipe(r, out, progress=False, log=lambda m: None)
    for name in ("model.safetensors", "metrics.json", "recipe.toml", "report.md", "model.report.json",
                 "model.confusion.png", "model.curves.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    report = json.loads((out / "model.report.json").read_text())
    assert metrics["test"]["accuracy"] == report["accuracy"] == run.metrics["test"]["accuracy"]
    assert metrics["counts"]["test"] == report["n"] > 0 and metrics["epochs"] <= 5
    page = (out / "report.md").read_text()
    assert f"accuracy {report['accuracy']:.3f}" in page and "held-out groups" in page
    with pytest.raises(ConfigError, match="already holds files; pass force=True"):
        run_recipe(r, out, progress=False, log=lambda m: None)

    import musicnn.pipeline

    def broken(*args, **kwargs):
        raise ConfigError("disk full")

    monkeypatch.setattr(musicnn.pipeline, "train", broken)
    with pytest.raises(ConfigError, match="disk full"):
        run_recipe(r, out, force=True, progress=False, log=lambda m: None)
    assert json.loads((out / "metrics.json").read_text()) == metrics  # the earlier run is intact
    assert not list(tmp_path.glob(".run.*"))


def test_embedded_sets_are_built_once(tmp_path):
    path = tmp_path / "built.toml"
    path.write_text('''[data]
build = "instruments"
options = { families = ["organ", "flute"], max_programs_per_family = 1, pitch_step = 12, velocities = [100] }
[model]
family = "perceptron"
''')
    r = load_recipe(path)
    said = []
    coll = resolve_data(r, data_dir=tmp_path / "sets", progress=False, log=said.append)
    assert set(coll.labels) == {"organ", "flute"} and len(coll) > 4
    assert said and "building the embedded set 'instruments'" in said[0]
    said.clear()
    assert len(resolve_data(r, data_dir=tmp_path / "sets", progress=False, log=said.append)) == len(coll)
    assert said == []  # read, not rebuilt
    r2 = load_recipe(path, ["data.options.colour=1"])
    with pytest.raises(ConfigError, match="data.options has no option 'colour'"):
        resolve_data(r2, data_dir=tmp_path / "sets", progress=False, log=said.append)


def test_a_reader_recipe_needs_the_users_copy():
    with pytest.raises(ConfigError, match="reads gtzan from a local copy: give data=PATH"):
        resolve_data(load_recipe("genre-gtzan"))


def test_compare_writes_a_leaderboard_and_resumes(tmp_path, notes):
    r = load_recipe(_recipe(tmp_path, notes))
    out = tmp_path / "cmp"
    said = []
    board = compare(r, ["perceptron", "mlp"], out, seeds=[0, 1], progress=False, log=said.append)
    assert [row["family"] for row in board.rows] and {row["family"] for row in board.rows} == {"perceptron", "mlp"}
    assert all(row["seeds"] == 2 and row["accuracy"] is not None for row in board.rows)
    accs = [row["accuracy"] for row in board.rows]
    assert accs == sorted(accs, reverse=True)
    for key in ("markdown", "json", "chart"):
        assert board.files[key].is_file()
    table = board.files["markdown"].read_text()
    assert "| perceptron |" in table and "± " in table
    n_labels = len(Collection.load(notes).labels)
    assert f"Chance (a label drawn uniformly): {1 / n_labels:.3f}." in table
    assert json.loads(board.files["json"].read_text())["chance"] == pytest.approx(1 / n_labels)
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 4
    # a kill in the middle of the last run: its line is cut; only that run is done again
    (out / "results.jsonl").write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])
    said.clear()
    again = compare(r, ["perceptron", "mlp"], out, seeds=[0, 1], progress=False, log=said.append)
    assert "3 done, 1 to run" in said[0]
    assert [row["accuracy"] for row in again.rows] == accs
    changed = load_recipe(_recipe(tmp_path, notes), ["training.max_epochs=4"])
    with pytest.raises(ConfigError, match="another version of the recipe; pass force=True"):
        compare(changed, ["perceptron"], out, seeds=[0], progress=False, log=said.append)
    with pytest.raises(ConfigError, match="unknown family 'perceptronn'"):
        compare(r, ["perceptronn"], out, seeds=[0], progress=False, log=said.append)


def test_cli_recipe_run_list_show_and_errors(tmp_path, notes):
    runner = CliRunner()
    res = runner.invoke(main, ["recipe", "list"])
    assert res.exit_code == 0 and all(name in res.output for name in SHIPPED)
    res = runner.invoke(main, ["recipe", "show", "instruments", "--set", "training.max_epochs=3"])
    assert res.exit_code == 0 and "max_epochs = 3" in res.output
    path = _recipe(tmp_path, notes)
    out = tmp_path / "cli-run"
    res = runner.invoke(main, ["-q", "recipe", "run", str(path), "--out", str(out), "--set", "training.max_epochs=3"])
    assert res.exit_code == 0, res.output
    assert "tiny: accuracy" in res.output and (out / "report.md").is_file()
    res = runner.invoke(main, ["-q", "recipe", "run", str(path), "--out", str(out)])
    assert res.exit_code == 1 and "already holds files; pass --force" in res.output
    res = runner.invoke(main, ["-q", "recipe", "run", str(path), "--out", str(out), "--set", "model.paramz=1"])
    assert res.exit_code == 1 and "--set 'model.paramz=1': unknown key 'model.paramz'" in res.output
    res = runner.invoke(main, ["-q", "recipe", "run", "genre-gtzan", "--out", str(tmp_path / "g")])
    assert res.exit_code == 1 and "give --data PATH" in res.output
    res = runner.invoke(main, ["-q", "compare", str(path), "--models", "perceptron", "--seeds", "0",
                               "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert "| perceptron |" in res.output and (tmp_path / "c" / "leaderboard.png").is_file()


def test_reader_recipes_run_on_a_copy_in_the_published_layout(note_paths, tmp_path):
    """`musicnn recipe run genre-gtzan --data PATH` on a user's copy, with no other change but a
    shorter training (a GTZAN-layout tree of rendered notes stands in for the real one)."""
    from test_readers import make_gtzan, make_tinysol

    gtzan = make_gtzan(note_paths, tmp_path / "gtzan")
    res = CliRunner().invoke(main, ["-q", "recipe", "run", "genre-gtzan", "--data", str(gtzan), "--out",
                                    str(tmp_path / "g"), "--set", "training.max_epochs=1",
                                    "--set", "model.params.channels=[4]"])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "g" / "report.md").read_text()
    assert "this split is optimistic" in page and "GTZAN repeats artists" in page
    tinysol = make_tinysol(note_paths, tmp_path / "tinysol")
    coll = resolve_data(load_recipe("instruments-tinysol"), tinysol)
    assert {it.split for it in coll} == {"train", "validation", "test"}
