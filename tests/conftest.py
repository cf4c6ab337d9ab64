"""Shared fixtures: a small set of real notes rendered once per session from the SoundFont."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: Families and programs of the session's note set: 4 families x 3 programs, one octave apart.
TEST_FAMILIES = ("bass", "flute", "guitar", "organ")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own feature cache: nothing is written to the user's cache."""
    monkeypatch.setenv("MUSICNN_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def notes(tmp_path_factory) -> Path:
    """A rendered note set (folder with manifest.csv): real SoundFont samples."""
    from musicnn.data.render import build_instruments

    out = tmp_path_factory.mktemp("notes")
    report = build_instruments(out, families=TEST_FAMILIES, max_programs_per_family=3, pitch_step=7,
                               velocities=(100,), progress=False)
    assert report.n_written >= 40
    return out


@pytest.fixture(scope="session")
def note_paths(notes) -> list[Path]:
    return sorted(notes.rglob("*.wav"))


@pytest.fixture(scope="session")
def a_note(note_paths) -> Path:
    """One rendered flute note (mono 16 kHz WAV)."""
    return next(p for p in note_paths if p.parent.name == "flute")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
