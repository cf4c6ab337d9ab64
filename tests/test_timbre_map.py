"""Timbre maps (issue 11): sounds, descriptors, sizing, the map and its files, projection, the CLI.

Real rendered notes throughout (the session's ``notes``); the page in a real browser is
tested in ``test_timbre_page.py``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tomllib
from click.testing import CliRunner

from musicnn.cli import EXIT_SKIPPED, main
from musicnn.errors import ConfigError, DataError, FeatureError, ModelFileError
from musicnn.store import FeatureStore
from musicnn.timbre import (
    OUTPUTS,
    Descriptors,
    build_map,
    load_map,
    parse_grid,
    project_sounds,
    suggest_grid,
)
from musicnn.timbre.build import unit_neighbours, write_projection
from musicnn.timbre.mapfile import TimbreMap
from musicnn.timbre.page import audio_links, encode_audio, script_json
from musicnn.timbre.sounds import collect_sounds, display_names

HOSTILE = "<img src=x onerror=alert(1)>"
QUIET = dict(progress=False, log=lambda msg: None)


def _copy_notes(note_paths, dest: Path, per_label: int = 3, labelled: bool = True) -> list[Path]:
    """A few real notes of each family copied into ``dest`` (label folders, or flat)."""
    out, seen = [], {}
    for p in note_paths:
        label = p.parent.name
        if seen.get(label, 0) >= per_label:
            continue
        seen[label] = seen.get(label, 0) + 1
        target = dest / label / p.name if labelled else dest / f"{label}-{p.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, target)
        out.append(target)
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> FeatureStore:
    return FeatureStore(tmp_path_factory.mktemp("timbre-cache"))


@pytest.fixture(scope="module")
def built(notes, tmp_path_factory, store):
    """A map of the session's notes (a manifest with labels), default descriptors and size."""
    out = tmp_path_factory.mktemp("map")
    return build_map(notes, out, store=store, **QUIET)


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


def run(runner, args, code=0):
    result = runner.invoke(main, ["--quiet", *args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


# -- sounds ---------------------------------------------------------------------------------
def test_sounds_from_a_tree_a_flat_folder_and_manifests(note_paths, tmp_path):
    tree = tmp_path / "tree"
    copied = _copy_notes(note_paths, tree, per_label=2)
    (tree / "loose.wav").write_bytes(copied[0].read_bytes())
    coll = collect_sounds(tree)
    assert len(coll) == len(copied) + 1
    assert {it.label for it in coll} == {p.parent.name for p in copied} | {""}
    flat = tmp_path / "flat"
    _copy_notes(note_paths, flat, per_label=2, labelled=False)
    coll = collect_sounds(flat)
    assert len(coll) == len(copied) and {it.label for it in coll} == {""}
    manifest = tmp_path / "paths.csv"
    manifest.write_text("path\n" + "\n".join(str(p.relative_to(tmp_path)) for p in copied) + "\n")
    coll = collect_sounds(manifest)
    assert [it.path for it in coll] == [str(p) for p in copied] and {it.label for it in coll} == {""}
    assert display_names(coll.paths, coll.source)[0] == copied[0].relative_to(tmp_path).as_posix()


def test_sounds_say_what_is_wrong(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        collect_sounds(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no audio files found"):
        collect_sounds(tmp_path / "empty")
    bad = tmp_path / "bad.csv"
    bad.write_text("file,kind\na.wav,x\n")
    with pytest.raises(DataError, match=r"bad\.csv: a manifest of sounds needs a 'path' column"):
        collect_sounds(bad)


# -- descriptors ----------------------------------------------------------------------------
def test_descriptors_default_pair_presets_and_pooling():
    d = Descriptors.features()
    assert [s.kind for s in d.specs] == ["mfcc", "descriptors"] and d.dims == 146
    assert all(s.pooling == ("mean", "std") for s in d.specs)
    one = Descriptors.features("logmel", n_mels=32)
    assert len(one.specs) == 1 and one.specs[0].pooling == ("mean", "std") and one.dims == 64
    assert Descriptors.features(None, sr=22050).specs[1].sr == 22050
    assert Descriptors.from_dict(json.loads(json.dumps(d.to_dict()))) == d
    with pytest.raises(FeatureError, match="pooling='none': a timbre map needs one vector per sound"):
        Descriptors.features("logmel", pooling="none")
    with pytest.raises(FeatureError, match="unknown feature preset"):
        Descriptors.features("nope")
    with pytest.raises(ModelFileError, match="no such model file"):
        Descriptors.embedding("missing.safetensors")


# -- sizing ---------------------------------------------------------------------------------
def test_vesanto_rule_sizes_and_shapes_the_grid(rng):
    X = rng.standard_normal((2000, 10)) * np.array([2.0, 1.0] + [0.5] * 8)
    rows, cols = suggest_grid(X)
    assert abs(rows * cols - 5 * np.sqrt(2000)) <= 12  # about 224 units
    assert 1.6 <= cols / rows <= 2.5  # sides in the ratio sqrt(l1 / l2) = sqrt(4 / 1)
    hex_rows, hex_cols = suggest_grid(X, "hexagonal")
    # hexagonal rows are sqrt(3)/2 apart: the map's drawn sides keep the ratio
    assert hex_rows >= rows and 1.6 <= hex_cols / (hex_rows * np.sqrt(3) / 2) <= 2.5
    round_ = suggest_grid(rng.standard_normal((400, 5)))
    assert abs(round_[0] - round_[1]) <= 3  # no dominant direction: about square
    assert suggest_grid(rng.standard_normal((2, 3))) >= (2, 2)


def test_parse_grid():
    assert parse_grid("16x12") == (12, 16) and parse_grid(" 3 X 2 ") == (2, 3)
    for bad in ("3x", "1x1", "ax3", "0x5"):
        with pytest.raises(ConfigError, match=r"grid="):
            parse_grid(bad)


# -- the map ---------------------------------------------------------------------------------
def test_build_writes_every_output_and_the_map_is_consistent(built, notes):
    tmap = built.map
    assert all((built.out_dir / name).is_file() for name in OUTPUTS)
    n = len(list(notes.rglob("*.wav")))
    assert len(tmap.paths) == n and not built.failures
    assert set(tmap.labels) == {"bass", "flute", "guitar", "organ"}
    # every sound sits on its best-matching unit, and the errors are the map's
    D = tmap.distances_to_units(tmap.vectors)
    np.testing.assert_array_equal(tmap.units, D.argmin(1))
    np.testing.assert_allclose(tmap.quantization_error, D.min(1).mean(), rtol=1e-4)
    assert 0.0 <= tmap.topographic_error <= 1.0
    assert tmap.hits().sum() == n and tmap.umatrix().shape == (tmap.n_units,)
    # descriptors were standardised once: zero mean, unit spread
    np.testing.assert_allclose(tmap.vectors.mean(0), 0.0, atol=1e-4)
    rows = list(csv.DictReader(built.files["assignments.csv"].read_text(encoding="utf-8").splitlines()))
    assert len(rows) == n and set(rows[0]) >= {"path", "label", "row", "col", "unit", "quantization_error"}
    for row, u, d in zip(rows, tmap.units, tmap.distances):
        assert int(row["unit"]) == u and int(row["row"]) * tmap.cols + int(row["col"]) == u
        assert float(row["quantization_error"]) == pytest.approx(d, abs=1e-5)


def test_map_separates_the_families(built):
    """A timbre map of four families puts notes of one family beside each other: most notes
    share their unit's majority label (a map that ignored timbre would give ~0.25)."""
    tmap = built.map
    names = tmap.label_names
    majority = np.array(tmap.unit_labels())[tmap.units]
    agree = np.mean([names[m] == lab for m, lab in zip(majority, tmap.labels)])
    assert agree > 0.7, agree


def test_map_json_round_trip(built):
    again = load_map(built.files["map.json"])
    assert (again.rows, again.cols, again.topology) == (built.map.rows, built.map.cols, built.map.topology)
    np.testing.assert_array_equal(again.weights, built.map.weights)
    np.testing.assert_array_equal(again.vectors, built.map.vectors)
    np.testing.assert_array_equal(again.units, built.map.units)
    assert again.descriptors == built.map.descriptors and again.labels == built.map.labels
    assert load_map(built.out_dir).paths == built.map.paths  # the folder works too


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="something"), "not a musicnn timbre map"),
    (lambda d: d.update(version=99), "version=99"),
    (lambda d: d["grid"].update(rows=0), "grid: rows=0"),
    (lambda d: d["grid"].update(topology="triangular"), "topology='triangular'"),
    (lambda d: d["weights"].update(shape=[3, 2]), "weights: shape"),
    (lambda d: d["weights"].update(base64="!!!"), "weights: the base64 data is corrupt"),
    (lambda d: d["scaler"]["scale"].__setitem__(0, 0.0), "scaler.scale must be > 0"),
    (lambda d: d["sounds"]["unit"].__setitem__(0, 10 ** 6), "sounds.unit"),
    (lambda d: d["sounds"]["name"].pop(), "differ in length"),
    (lambda d: d["descriptors"].update(kind="magic"), "descriptors: descriptors kind='magic'"),
    (lambda d: d.pop("vectors"), "vectors must be an array"),
])
def test_a_damaged_map_file_is_refused_naming_the_field(built, tmp_path, change, message):
    document = json.loads(built.files["map.json"].read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "map.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ModelFileError, match="map.json: ") as err:
        load_map(path)
    assert message in str(err.value)


def test_a_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "map.json"
    path.write_text("{not json")
    with pytest.raises(ModelFileError, match=r"map\.json: not a timbre map \(invalid JSON"):
        load_map(path)
    with pytest.raises(ModelFileError, match="no such map file"):
        load_map(tmp_path / "nothing.json")


def test_outputs_are_never_replaced_without_force(built, notes, store):
    before = built.files["map.json"].read_bytes()
    with pytest.raises(ConfigError, match=r"already holds map\.png.*force=True"):
        build_map(notes, built.out_dir, store=store, **QUIET)
    assert built.files["map.json"].read_bytes() == before


def test_same_inputs_give_the_same_map(built, notes, tmp_path, store):
    again = build_map(notes, tmp_path / "again", store=store, **QUIET)
    np.testing.assert_array_equal(again.map.weights, built.map.weights)
    np.testing.assert_array_equal(again.map.units, built.map.units)


def test_grid_topology_and_som_parameters(note_paths, tmp_path, store):
    sounds = tmp_path / "s"
    _copy_notes(note_paths, sounds, per_label=4)
    res = build_map(sounds, tmp_path / "hex", grid="5x3", topology="hexagonal",
                    som={"mode": "online", "max_epochs": 5}, force=True, store=store, **QUIET)
    assert (res.map.rows, res.map.cols, res.map.topology) == (3, 5, "hexagonal")
    assert res.map.som["mode"] == "online" and res.map.som["max_epochs"] == 5
    assert all(len(near) <= 6 for near in res.map.neighbors())
    with pytest.raises(ConfigError, match="the SOM has no parameter 'speed'"):
        build_map(sounds, tmp_path / "x", som={"speed": 3}, store=store, **QUIET)
    with pytest.raises(ConfigError, match="'n_rows' is set by the timbre map"):
        build_map(sounds, tmp_path / "x", som={"n_rows": 3}, store=store, **QUIET)


def test_one_sound_gives_a_clear_message(a_note, tmp_path, store):
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(a_note, folder / a_note.name)
    with pytest.raises(DataError, match=rf"only 1 sound \(.*{a_note.name}\).*at least 2 sounds"):
        build_map(folder, tmp_path / "out", store=store, **QUIET)


def test_sounds_that_fail_are_listed_and_skipped(note_paths, tmp_path, store, runner):
    sounds = tmp_path / "s"
    good = _copy_notes(note_paths, sounds, per_label=2, labelled=False)
    (sounds / "broken.wav").write_bytes(b"RIFF not really a wave file")
    sf.write(sounds / "silent.wav", np.zeros(16000, np.float32), 16000)
    res = build_map(sounds, tmp_path / "out", store=store, **QUIET)
    assert len(res.map.paths) == len(good)
    assert sorted(Path(p).name for p, _ in res.failures) == ["broken.wav", "silent.wav"]
    assert all(reason for _, reason in res.failures)
    result = run(runner, ["timbre-map", str(sounds), "--out", str(tmp_path / "cli"), "--cache-dir",
                          str(tmp_path / "c")], code=EXIT_SKIPPED)
    assert "2 sounds skipped" in result.output and "broken.wav" in result.output
    # nothing readable at all: one clear line
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.wav").write_bytes(b"junk")
    (bad / "b.wav").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"no sound could be described, out of 2; first failure: .*a\.wav"):
        build_map(bad, tmp_path / "out2", store=store, **QUIET)


def test_unlabelled_sounds_make_a_map_without_colours(note_paths, tmp_path, store):
    sounds = tmp_path / "flat"
    _copy_notes(note_paths, sounds, per_label=2, labelled=False)
    res = build_map(sounds, tmp_path / "out", store=store, **QUIET)
    assert set(res.map.labels) == {""} and res.map.label_names == []
    assert (res.map.unit_labels() == -1).all()
    assert res.files["map.png"].stat().st_size > 1000
    data = _page_data(res.files["map.html"])
    assert data["labels"] == [] and set(data["sounds"]["label"]) == {-1}


# -- the page (its text; the browser tests are in test_timbre_page.py) ---------------------------------
def _page_data(page: Path) -> dict:
    text = page.read_text(encoding="utf-8")
    start = text.index('<script type="application/json" id="map-data">') + len(
        '<script type="application/json" id="map-data">')
    return json.loads(text[start:text.index("</script>", start)])


def test_page_escapes_every_name_and_label(note_paths, tmp_path, store):
    sounds = tmp_path / "s"
    copied = _copy_notes(note_paths, sounds, per_label=2)
    hostile_label = sounds / "<b onmouseover=alert(2)>brass & co"
    hostile_label.mkdir()
    shutil.copy(copied[0], hostile_label / f"{HOSTILE}.wav")
    shutil.copy(copied[1], hostile_label / "<!-- \u2028 'q\"uote.wav")
    dollars = sounds / "$x^$ costs $5"  # matplotlib would read $...$ as mathematics
    dollars.mkdir()
    shutil.copy(copied[2], dollars / "a.wav")
    res = build_map(sounds, tmp_path / "out", title="<i>title</i> $\\frac{$", store=store, **QUIET)
    assert "$x^$ costs $5" in res.map.labels and res.files["map.png"].stat().st_size > 1000
    text = res.files["map.html"].read_text(encoding="utf-8")
    for raw in (HOSTILE, "<b onmouseover", "<!-- ", "<i>title</i>", "\u2028"):
        assert raw not in text
    assert "&lt;i&gt;title&lt;/i&gt;" in text
    data = _page_data(res.files["map.html"])
    name = f"<b onmouseover=alert(2)>brass & co/{HOSTILE}.wav"
    assert name in data["sounds"]["name"] and "<b onmouseover=alert(2)>brass & co" in data["labels"]
    link = data["src"][data["sounds"]["name"].index(name)]
    assert "<" not in link and link.endswith("%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.wav")
    # labels of a manifest can hold anything, '</script>' included
    manifest = sounds / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label"])
        for i, p in enumerate(copied):
            writer.writerow([p.relative_to(sounds).as_posix(), "</script><script>alert(3)</script>" if i % 2 else "x"])
    res = build_map(sounds, tmp_path / "out2", store=store, **QUIET)
    text = res.files["map.html"].read_text(encoding="utf-8")
    assert "</script><script>alert(3)" not in text
    assert "</script><script>alert(3)</script>" in _page_data(res.files["map.html"])["labels"]
    # one policy: only the page's own script runs
    assert "script-src 'sha256-" in text and "unsafe-inline" not in text
    assert script_json("</script><!--\u2028") == '"\\u003c/script\\u003e\\u003c!--\\u2028"'


def test_links_are_relative_to_the_page(tmp_path):
    page_dir = tmp_path / "maps" / "m"
    sound = tmp_path / "sounds" / "a b#c.wav"
    assert audio_links([str(sound)], page_dir) == ["../../sounds/a%20b%23c.wav"]


def test_embedded_audio_is_compressed_and_decodes(note_paths, tmp_path, store):
    sounds = tmp_path / "s"
    copied = _copy_notes(note_paths, sounds, per_label=1)
    res = build_map(sounds, tmp_path / "out", embed_audio=True, store=store, **QUIET)
    text = res.files["map.html"].read_text(encoding="utf-8")
    start = text.index('id="map-audio">') + len('id="map-audio">')
    blobs = json.loads(text[start:text.index("</script>", start)])
    assert len(blobs) == len(copied) and all(b.startswith("data:audio/ogg;base64,") for b in blobs)
    raw = base64.b64decode(blobs[0].split(",", 1)[1])
    y, sr = sf.read(io.BytesIO(raw))
    assert sr == sf.info(copied[0]).samplerate and abs(len(y) / sr - 1.5) < 0.1 and np.abs(y).max() > 0.01
    wav = copied[0].stat().st_size
    assert len(raw) < wav / 2  # compressed: a 16-bit WAV is several times larger
    assert _page_data(res.files["map.html"])["audio"] == "embedded"
    # a sound above 22,050 Hz is embedded at 22,050 Hz, its first 30 s only
    long = tmp_path / "long.wav"
    t = np.arange(44100 * 40) / 44100
    sf.write(long, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 44100)
    y, sr = sf.read(io.BytesIO(base64.b64decode(encode_audio(long).split(",", 1)[1])))
    assert sr == 22050 and abs(len(y) / sr - 30.0) < 0.1


def test_borders_lie_between_neighbouring_units(built):
    from musicnn.timbre.plots import unit_borders

    tmap = built.map
    segments, dist = unit_borders(tmap)
    assert len(segments) == (tmap.rows - 1) * tmap.cols + tmap.rows * (tmap.cols - 1)
    np.testing.assert_allclose(np.linalg.norm(segments[:, 0] - segments[:, 1], axis=1), 1.0)
    hexagonal = TimbreMap(**{**tmap.__dict__, "topology": "hexagonal"})
    segments, dist = unit_borders(hexagonal)
    assert len(segments) == sum(len(n) for n in hexagonal.neighbors()) // 2
    np.testing.assert_allclose(np.linalg.norm(segments[:, 0] - segments[:, 1], axis=1), 1 / np.sqrt(3), rtol=1e-6)
    W = tmap.weights.astype(np.float64)
    pairs = [np.linalg.norm(W[a] - W[b]) for a, near in enumerate(hexagonal.neighbors()) for b in near if b > a]
    np.testing.assert_allclose(np.sort(dist), np.sort(pairs))  # one edge per pair: its prototypes' distance


def test_unit_neighbours_are_other_units_sounds(built):
    idx, dist = unit_neighbours(built.map, k=3)
    for u in range(built.map.n_units):
        for j, d in zip(idx[u], dist[u]):
            if j >= 0:
                assert built.map.units[j] != u and d >= 0
        assert np.all(np.diff(dist[u][idx[u] >= 0]) >= -1e-9)


# -- projection ------------------------------------------------------------------------------
def test_projecting_the_maps_own_sounds_finds_them(built, store):
    paths = built.map.paths[:5]
    proj = project_sounds(built.files["map.json"], paths, k=3, store=store, progress=False)
    np.testing.assert_array_equal(proj.units, built.map.units[:5])
    for name, near in zip(built.map.names[:5], proj.neighbours):
        assert near[0][0] == name and near[0][2] == pytest.approx(0.0, abs=1e-3) and len(near) == 3
    np.testing.assert_array_equal(proj.rows * built.map.cols + proj.cols, proj.units)


def test_project_writes_csv_and_json_and_lists_failures(built, tmp_path, store):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"junk")
    proj = project_sounds(built.out_dir, [built.map.paths[0], str(bad)], store=store, progress=False)
    assert proj.paths == [built.map.paths[0]] and [Path(p).name for p, _ in proj.failures] == ["bad.wav"]
    out = write_projection(proj, tmp_path / "p.csv")
    rows = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 5 and rows[0]["rank"] == "1"
    doc = json.loads(write_projection(proj, tmp_path / "p.json").read_text())
    assert doc[0]["unit"] == int(built.map.units[0]) and len(doc[0]["nearest"]) == 5
    with pytest.raises(ConfigError, match="already exists"):
        write_projection(proj, out)
    with pytest.raises(ConfigError, match=r"must end in \.csv or \.json"):
        write_projection(proj, tmp_path / "p.txt")
    with pytest.raises(DataError, match="give at least one audio file"):
        project_sounds(built.out_dir, [], progress=False)


# -- the model's embedding ----------------------------------------------------------------------
def test_a_map_of_the_shipped_models_embedding(note_paths, tmp_path, store):
    sounds = tmp_path / "s"
    _copy_notes(note_paths, sounds, per_label=3)
    res = build_map(sounds, tmp_path / "out", descriptors=Descriptors.embedding("default"), store=store, **QUIET)
    assert res.map.descriptors.kind == "embedding" and res.map.descriptors.model == "default"
    assert res.map.vectors.shape[0] == 12 and res.map.vectors.shape[1] >= 8
    proj = project_sounds(res.files["map.json"], res.map.paths[:2], k=1, progress=False)
    np.testing.assert_array_equal(proj.units, res.map.units[:2])
    document = json.loads(res.files["map.json"].read_text())
    document["descriptors"]["model_sha256"] = "0" * 64
    res.files["map.json"].write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="the model file has changed since the map was built"):
        project_sounds(res.files["map.json"], res.map.paths[:1], progress=False)


# -- command line ------------------------------------------------------------------------------------
def test_cli_builds_with_and_without_the_build_word(runner, note_paths, tmp_path):
    sounds = tmp_path / "s"
    _copy_notes(note_paths, sounds, per_label=3)
    cache = ["--cache-dir", str(tmp_path / "c")]
    short = run(runner, ["timbre-map", str(sounds), "--out", str(tmp_path / "a"), "--grid", "4x3", *cache])
    long = run(runner, ["timbre-map", "build", str(sounds), "--out", str(tmp_path / "b"), "--grid", "4x3", *cache])
    assert "mapped 12 sounds on 4x3 units" in short.output and "mapped 12 sounds on 4x3 units" in long.output
    assert (tmp_path / "a" / "map.json").read_bytes().split(b'"created"')[0] == \
        (tmp_path / "b" / "map.json").read_bytes().split(b'"created"')[0]
    line = run(runner, ["timbre-map", str(sounds), "--out", str(tmp_path / "a"), *cache], code=1).output
    assert "Error: --out" in line and "--force" in line and "force=True" not in line
    run(runner, ["timbre-map", str(sounds), "--out", str(tmp_path / "a"), "--force", "--grid", "3x3", *cache])
    assert load_map(tmp_path / "a").cols == 3
    bad = run(runner, ["timbre-map", str(sounds), "--out", str(tmp_path / "d"), "--grid", "3", *cache], code=1)
    assert "--grid 3 must be WIDTHxHEIGHT" in bad.output
    both = run(runner, ["timbre-map", str(sounds), "--out", str(tmp_path / "e"), "--embedding", "default",
                        "--preset", "mfcc"], code=2)
    assert "drop --preset" in both.output
    # project: prints each file's unit and nearest sounds; --out writes them
    files = [str(p) for p in sorted(sounds.rglob("*.wav"))[:2]]
    shown = run(runner, ["timbre-map", "project", str(tmp_path / "a"), *files, "--k", "2",
                         "--out", str(tmp_path / "p.json"), *cache])
    assert shown.output.count("unit (") == 2 and "nearest:" in shown.output
    assert len(json.loads((tmp_path / "p.json").read_text())) == 2
    again = run(runner, ["timbre-map", "project", str(tmp_path / "a"), *files, "--out", str(tmp_path / "p.json")],
                code=2)
    assert "already exists" in again.output
    as_json = run(runner, ["timbre-map", "project", str(tmp_path / "a"), files[0], "--format", "json", *cache])
    assert json.loads(as_json.output)[0]["path"] == files[0]


def test_cli_help_lists_both_commands(runner):
    out = run(runner, ["timbre-map", "--help"]).output
    assert "build" in out and "project" in out and "SOUNDS --out DIR" in out
    assert "Vesanto" in run(runner, ["timbre-map", "build", "--help"]).output


def test_importing_the_timbre_package_loads_neither_torch_nor_librosa():
    import subprocess

    code = "import sys, musicnn.timbre, musicnn.cli.timbre; print('torch' in sys.modules, 'librosa' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_page_assets_ship_in_the_wheel():
    """page.js and page.css are package data: an installed musicnn needs them listed."""
    root = Path(__file__).resolve().parents[1]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"].get("package-data", {})
    patterns = data.get("musicnn.timbre", [])
    assert any(p in patterns for p in ("*.js", "page.js")) and any(p in patterns for p in ("*.css", "page.css")), \
        'add "musicnn.timbre" = ["*.js", "*.css"] to [tool.setuptools.package-data] in pyproject.toml'
