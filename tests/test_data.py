"""Collections from folders and manifests, and the group-aware split."""

from __future__ import annotations

import csv
from collections import Counter

import pytest

from musicnn.data import Collection
from musicnn.errors import DataError


def test_manifest_of_rendered_notes(notes):
    coll = Collection.load(notes)  # a folder holding manifest.csv
    assert coll.source.endswith("manifest.csv")
    assert set(coll.labels) == {"bass", "flute", "guitar", "organ"}
    assert all(it.path.endswith(".wav") for it in coll)
    assert {"program", "pitch", "velocity", "soundfont"} <= set(coll[0].meta)


def test_folder_per_label_tree(notes, tmp_path):
    coll = Collection.from_folder(notes)
    manifest = Collection.load(notes / "manifest.csv")
    assert sorted(coll.paths) == sorted(manifest.paths)
    assert coll.counts() == manifest.counts()
    assert len(set(coll.groups)) == len(coll)  # a file is its own group


def test_split_is_group_aware_stratified_and_deterministic(notes):
    coll = Collection.load(notes)
    parts = coll.split(test_size=0.25, val_size=0.2, seed=3)
    assert sum(len(p) for p in parts.values()) == len(coll)
    groups = {name: set(p.groups) for name, p in parts.items()}
    assert not groups["train"] & groups["test"]
    assert not groups["train"] & groups["validation"]
    assert not groups["validation"] & groups["test"]
    assert set(parts["train"].labels) == set(coll.labels)  # every label trains
    assert set(parts["test"].labels) == set(coll.labels)  # and is tested (3 groups each)
    again = coll.split(test_size=0.25, val_size=0.2, seed=3)
    assert {k: v.paths for k, v in parts.items()} == {k: v.paths for k, v in again.items()}
    other = coll.split(test_size=0.25, val_size=0.2, seed=4)
    assert {k: v.paths for k, v in parts.items()} != {k: v.paths for k, v in other.items()}


def test_split_column_is_honoured(tmp_path, note_paths):
    manifest = tmp_path / "m.csv"
    rows = [("path", "label", "split")] + [(str(p), p.parent.name, "test" if i % 4 == 0 else "train")
                                            for i, p in enumerate(note_paths)]
    with open(manifest, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    parts = Collection.load(manifest).split(seed=0)
    assert len(parts["test"]) == sum(1 for r in rows[1:] if r[2] == "test")
    assert len(parts["validation"]) == 0


def test_single_group_label_only_trains(tmp_path, note_paths):
    manifest = tmp_path / "m.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "group"])
        for p in note_paths:
            w.writerow([p, p.parent.name, "one" if p.parent.name == "bass" else p.name])
    parts = Collection.load(manifest).split(test_size=0.3, val_size=0.1)
    assert "bass" not in parts["test"].labels and "bass" in parts["train"].labels


def test_relative_paths_resolve_against_the_manifest(tmp_path, note_paths):
    import shutil

    (tmp_path / "sub").mkdir()
    shutil.copy(note_paths[0], tmp_path / "sub" / "a.wav")
    (tmp_path / "m.csv").write_text("path,label\nsub/a.wav,flute\n")
    coll = Collection.load(tmp_path / "m.csv")
    assert coll[0].path == str(tmp_path / "sub" / "a.wav") and coll[0].group == "sub/a.wav"


@pytest.mark.parametrize(
    "text,msg",
    [
        ("file,label\na.wav,x\n", "missing column\\(s\\) path"),
        ("path,label\n", "lists no files"),
        ("path,label\na.wav,\n", "line 2: empty"),
        ("path,label,split\na.wav,x,holdout\n", "split='holdout'"),
    ],
)
def test_bad_manifests(tmp_path, text, msg):
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(DataError, match=msg):
        Collection.load(tmp_path / "m.csv")


def test_missing_and_empty_sources(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        Collection.load(tmp_path / "nope")
    (tmp_path / "empty" / "label").mkdir(parents=True)
    with pytest.raises(DataError, match="no audio files"):
        Collection.load(tmp_path / "empty")


def test_bad_split_fractions(notes):
    with pytest.raises(DataError, match="test_size"):
        Collection.load(notes).split(test_size=0.7, val_size=0.4)


def test_subset_and_counts(notes):
    coll = Collection.load(notes)
    flutes = coll.subset(coll.y == "flute")
    assert flutes.labels == ["flute"] and len(flutes) == Counter(coll.y)["flute"]
