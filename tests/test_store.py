"""The feature store: cache hits, atomic entries, parallel extraction, failures, kill and rerun."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import musicnn.audio.io
from musicnn.atomic import atomic_open
from musicnn.errors import ConfigError, FeatureError
from musicnn.features import FeatureSpec, extract
from musicnn.store import CACHE_ENV, ExtractResult, FeatureStore, default_cache_dir

SPEC = FeatureSpec(kind="mfcc", sr=16000, n_fft=1024, hop_length=512, n_mels=40, n_mfcc=13, pooling=("mean", "std"))


def test_default_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    assert FeatureStore().root == tmp_path / "elsewhere"
    assert FeatureStore(tmp_path / "opt").root == tmp_path / "opt"  # the option wins


def test_second_run_reads_the_cache_without_decoding(tmp_path, note_paths, monkeypatch):
    store = FeatureStore(tmp_path / "c")
    paths = note_paths[:6]
    first = store.extract(paths, SPEC, progress=False)
    assert first.n_computed == 6 and first.n_cached == 0 and not first.failures

    def no_decoding(*a, **k):
        raise AssertionError("audio decoded on a cached run")

    monkeypatch.setattr(musicnn.audio.io, "load", no_decoding)
    second = store.extract(paths, SPEC, progress=False)
    assert second.n_cached == 6 and second.n_computed == 0
    for a, b in zip(first.features, second.features):
        np.testing.assert_array_equal(a, b)


def test_entries_match_direct_extraction_and_spec_changes_miss(tmp_path, note_paths):
    store = FeatureStore(tmp_path / "c")
    res = store.extract(note_paths[:2], SPEC, progress=False)
    np.testing.assert_array_equal(res.features[0], extract(note_paths[0], SPEC))
    other = store.extract(note_paths[:2], SPEC.replace(n_mfcc=12), progress=False)
    assert other.n_computed == 2 and other.features[0].shape == (24,)


def test_modified_file_is_recomputed(tmp_path, note_paths):
    import shutil

    src = tmp_path / "x.wav"
    shutil.copy(note_paths[0], src)
    store = FeatureStore(tmp_path / "c")
    store.extract([src], SPEC, progress=False)
    shutil.copy(note_paths[-1], src)  # new content, new size/mtime
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 10**9))
    res = store.extract([src], SPEC, progress=False)
    assert res.n_computed == 1
    np.testing.assert_array_equal(res.features[0], extract(note_paths[-1], SPEC))


def test_parallel_equals_serial_and_keeps_order(tmp_path, note_paths):
    paths = note_paths[:12]
    serial = FeatureStore(tmp_path / "a").extract(paths, SPEC, jobs=1, progress=False)
    parallel = FeatureStore(tmp_path / "b").extract(paths, SPEC, jobs=2, progress=False)
    for a, b in zip(serial.features, parallel.features):
        np.testing.assert_array_equal(a, b)


def test_bad_files_are_skipped_and_reported(tmp_path, note_paths):
    bad_text = tmp_path / "text.wav"
    bad_text.write_text("not audio")
    silent = tmp_path / "silent.wav"
    import soundfile as sf

    sf.write(silent, np.zeros(8000, dtype=np.float32), 16000)
    paths = [note_paths[0], bad_text, tmp_path / "missing.flac", silent, note_paths[1]]
    for jobs in (1, 2):
        res = FeatureStore(tmp_path / f"c{jobs}").extract(paths, SPEC, jobs=jobs, progress=False)
        assert res.ok.tolist() == [True, False, False, False, True]
        reasons = dict(res.failures)
        assert set(reasons) == {str(bad_text), str(tmp_path / "missing.flac"), str(silent)}
        assert "not a readable audio file" in reasons[str(bad_text)]
        assert "no such file" in reasons[str(tmp_path / "missing.flac")]
        assert "silent" in reasons[str(silent)]


def test_unreadable_entry_counts_as_a_miss(tmp_path, note_paths):
    store = FeatureStore(tmp_path / "c")
    store.extract(note_paths[:1], SPEC, progress=False)
    entry = store.entry_path(note_paths[0], SPEC)
    entry.write_bytes(entry.read_bytes()[:20])  # a torn write of a non-atomic writer
    res = store.extract(note_paths[:1], SPEC, progress=False)
    assert res.n_computed == 1
    np.testing.assert_array_equal(res.features[0], extract(note_paths[0], SPEC))
    assert np.load(entry).shape == res.features[0].shape  # and it was repaired


def test_disabled_store_writes_nothing(tmp_path, note_paths):
    store = FeatureStore(tmp_path / "c", enabled=False)
    res = store.extract(note_paths[:2], SPEC, progress=False)
    assert res.n_computed == 2 and not (tmp_path / "c").exists()


def test_killed_run_leaves_only_whole_entries_and_rerun_completes(tmp_path, note_paths):
    """Kill an extraction (SIGKILL) mid-way, then rerun: every entry is whole and right."""
    cache = tmp_path / "c"
    listing = tmp_path / "paths.txt"
    spec = SPEC.replace(kind="logmel", pooling=())  # heavier entries, more time in writes
    listing.write_text("\n".join(map(str, note_paths)))
    script = textwrap.dedent(
        f"""
        import sys
        from musicnn.features import FeatureSpec
        from musicnn.store import FeatureStore
        paths = open({str(listing)!r}).read().split("\\n")
        spec = FeatureSpec.from_json({spec.to_json()!r})
        FeatureStore({str(cache)!r}).extract(paths * 50, spec, jobs=2, progress=False)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    deadline = time.time() + 60
    spec_dir = cache / spec.hash
    while time.time() < deadline:
        if spec_dir.exists() and len(list(spec_dir.rglob("*.npy"))) >= 3:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # entries only: a temporary file (.tmp-*) caught mid-write is not an entry
    written = [e for e in spec_dir.rglob("*.npy") if not e.name.startswith(".tmp-")]
    assert written, "the run was killed before it wrote anything"
    for entry in written:  # whole entries only: every entry loads
        assert np.load(entry).ndim == 2
    res = FeatureStore(cache).extract(note_paths, spec, progress=False)
    assert not res.failures and res.n_cached >= len(written)
    for path, feats in zip(note_paths, res.features):
        np.testing.assert_array_equal(feats, extract(path, spec))


def test_atomic_open_replaces_the_target_only_once_written_whole(tmp_path):
    target = tmp_path / "sub" / "report.json"
    with atomic_open(target) as fh:
        fh.write("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half of the new")
            raise RuntimeError("killed while writing")
    assert target.read_text() == "old" and sorted(p.name for p in target.parent.iterdir()) == ["report.json"]
    with atomic_open(tmp_path / "x.npz", "wb") as fh:
        np.savez(fh, a=np.arange(3))
    assert list(np.load(tmp_path / "x.npz")["a"]) == [0, 1, 2]
    with pytest.raises(ConfigError, match="mode='a'"):
        with atomic_open(target, "a"):
            pass


def test_extract_result_stacks_or_names_the_parameters_to_set():
    same = ExtractResult(features=[np.ones((4, 2)), None, np.zeros((4, 2))])
    assert same.stacked().shape == (2, 4, 2) and same.shapes == [(4, 2)]
    assert ExtractResult(features=[None]).stacked().shape == (0,)
    mixed = ExtractResult(features=[np.ones((4, 2)), np.ones((5, 2))])
    with pytest.raises(FeatureError, match=r"features of data/ have different shapes \[\(4, 2\), \(5, 2\)\]") as err:
        mixed.stacked("data/")
    assert "duration=SECONDS" in str(err.value) and "pooling=STATS" in str(err.value) and "--" not in str(err.value)
