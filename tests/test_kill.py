"""Kill tests: feature extraction killed with SIGKILL at random points, then rerun, equals an
uninterrupted run; two extractions at once on one cache stay correct; training killed
mid-epoch resumes to the uninterrupted model.

A killed ``musicnn features --jobs 2`` leaves no worker behind and no traceback (the workers
end with the process that started them).  The kill points are drawn from a seeded generator:
the same points every run.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SIGKILL and /proc: Linux")

#: Random kill points of the forked extraction rounds (and the CLI round).
KILL_ROUNDS = 4


@pytest.fixture(scope="module")
def spec():
    from musicnn.features import preset

    return preset("mfcc", duration=1.0)


@pytest.fixture(scope="module")
def reference(note_paths, spec, tmp_path_factory):
    """Features of every note from an uninterrupted run (one process)."""
    from musicnn.store import FeatureStore

    res = FeatureStore(tmp_path_factory.mktemp("reference")).extract(note_paths, spec, jobs=1, progress=False)
    assert not res.failures
    return {str(p): f for p, f in zip(note_paths, res.features)}


def _entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.rglob("*.npy"))


def _assert_cache_equals(cache: Path, reference: dict, spec) -> None:
    from musicnn.store import FeatureStore

    store = FeatureStore(cache)
    for path, feats in reference.items():
        got = store.get(path, spec)
        assert got is not None and np.array_equal(got, feats), path
    assert len(_entries(cache)) == len(reference)


def _kill_when(proc_alive, pid: int, cache: Path, target: int, timeout: float = 120.0) -> int:
    """SIGKILL ``pid`` once ``cache`` holds ``target`` entries; return how many it held."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc_alive() and len(_entries(cache)) < target:
        time.sleep(0.005)
    held = len(_entries(cache))
    os.kill(pid, signal.SIGKILL)
    return held


def _processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line holds ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next((ln for ln in (entry / "status").read_text().splitlines() if ln.startswith("State:")), "")
        except OSError:
            continue
        if text in cmdline and "zombie" not in state:
            found.append(int(entry.name))
    return found


def test_killed_extraction_leaves_no_worker_and_no_traceback(notes, note_paths, reference, spec, tmp_path):
    """Issue 12, case 8: ``musicnn features --jobs 2`` killed with SIGKILL, then rerun."""
    cache = tmp_path / "cache-killed-cli"
    args = [sys.executable, "-m", "musicnn", "-q", "features", str(notes), "--preset", "mfcc", "--duration", "1",
            "--cache-dir", str(cache), "--jobs", "2"]
    target = int(np.random.default_rng(12).integers(5, len(note_paths) - 20))
    with open(tmp_path / "stderr", "wb") as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        held = _kill_when(lambda: proc.poll() is None, proc.pid, cache, target)
        proc.wait()
        deadline = time.monotonic() + 10
        while _processes_mentioning(str(cache)) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert proc.returncode == -signal.SIGKILL and 0 < held < len(note_paths), held
    assert _processes_mentioning(str(cache)) == []  # the workers ended with their parent
    stderr = (tmp_path / "stderr").read_text(errors="replace")
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    from click.testing import CliRunner

    from musicnn.cli import main

    done = CliRunner().invoke(main, args[3:])  # the same command, run again (here, to save a start-up)
    assert done.exit_code == 0, done.output
    assert int(re.search(r"(\d+) from cache", done.output).group(1)) >= held
    _assert_cache_equals(cache, reference, spec)


def _extract(paths, spec, cache, jobs, reference=None):
    """Run in a forked child: extract, and exit 0 when the features equal ``reference``."""
    from musicnn.store import FeatureStore

    res = FeatureStore(cache).extract(paths, spec, jobs=jobs, progress=False)
    ok = not res.failures and (reference is None or all(
        np.array_equal(f, reference[str(p)]) for p, f in zip(paths, res.features)))
    os._exit(0 if ok else 1)


@pytest.fixture(scope="module")
def slow_spec():
    """Constant-Q features: slow enough per note (tens of ms) that every kill lands mid-run;
    an MFCC takes ~2 ms, and a run could end between two looks at the cache."""
    from musicnn.features import FeatureSpec

    return FeatureSpec(kind="cqt", sr=16000, hop_length=512, duration=1.0)


@pytest.fixture(scope="module")
def slow_reference(note_paths, slow_spec, tmp_path_factory):
    from musicnn.store import FeatureStore

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "n_fft=.* is too large", UserWarning)  # librosa's CQT, top octaves
        res = FeatureStore(tmp_path_factory.mktemp("slow-reference")).extract(note_paths, slow_spec, jobs=1,
                                                                              progress=False)
    assert not res.failures
    return {str(p): f for p, f in zip(note_paths, res.features)}


@pytest.mark.filterwarnings("ignore:n_fft=.* is too large:UserWarning")  # librosa's CQT on its top octaves
def test_extraction_killed_at_random_points_then_rerun_equals_uninterrupted(note_paths, slow_reference, slow_spec,
                                                                           tmp_path):
    reference, spec = slow_reference, slow_spec
    cache = tmp_path / "cache-killed"
    ctx = mp.get_context("fork")
    rng = np.random.default_rng(0)
    n = len(note_paths)
    held = []
    for _ in range(KILL_ROUNDS):
        start = len(_entries(cache)) if cache.exists() else 0
        if start >= n - 2:
            break
        target = int(rng.integers(start + 1, min(n, start + 1 + (n - start) // 2) + 1))
        child = ctx.Process(target=_extract, args=(note_paths, spec, cache, 2))
        child.start()
        held.append(_kill_when(child.is_alive, child.pid, cache, target))
        child.join()
        assert child.exitcode in (-signal.SIGKILL, 0)
    assert len(held) == KILL_ROUNDS and held == sorted(held) and held[-1] < n, held
    from musicnn.store import FeatureStore

    res = FeatureStore(cache).extract(note_paths, spec, jobs=2, progress=False)
    assert not res.failures and res.n_cached >= held[-1]
    for path, feats in zip(note_paths, res.features):
        assert np.array_equal(feats, reference[str(path)]), path
    _assert_cache_equals(cache, reference, spec)


def test_two_extractions_at_once_on_one_cache(note_paths, reference, spec, tmp_path):
    cache = tmp_path / "cache-shared"
    ctx = mp.get_context("fork")
    children = [ctx.Process(target=_extract, args=(note_paths, spec, cache, 2, reference)) for _ in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=300)
    assert [c.exitcode for c in children] == [0, 0]
    _assert_cache_equals(cache, reference, spec)
    assert not list(cache.rglob("*.part"))  # no temporary file left by either


def test_training_killed_mid_epoch_resumes_to_the_uninterrupted_model(notes, tmp_path):
    from musicnn.modelfile import load_model
    from musicnn.pipeline import train
    from musicnn.store import FeatureStore
    from musicnn.training.checkpoint import load_checkpoint

    cache = tmp_path / "cache"
    params = {"channels": (4, 8), "max_epochs": 10}
    whole = train(notes, "cnn", tmp_path / "whole.safetensors", params=params, store=FeatureStore(cache),
                  progress=False, log=lambda m: None)
    out = tmp_path / "run.safetensors"
    ckpt = tmp_path / "run.checkpoint.safetensors"
    args = [sys.executable, "-m", "musicnn", "-q", "train", "--data", str(notes), "--model", "cnn", "--out", str(out),
            "--epochs", "10", "--param", "channels=[4,8]", "--cache-dir", str(cache)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    end = time.monotonic() + 300
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < end:
        time.sleep(0.01)
    time.sleep(float(np.random.default_rng(5).uniform(0.0, 0.05)))  # somewhere inside the next epoch
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    epoch = load_checkpoint(ckpt)["epoch"]  # the checkpoint is whole, whatever the kill interrupted
    assert 1 <= epoch < 10
    resumed = train(notes, "cnn", out, params=params, store=FeatureStore(cache), progress=False, log=lambda m: None,
                    resume=True)
    assert resumed.history["n_epochs"] == whole.history["n_epochs"] == 10
    a, _ = load_model(tmp_path / "whole.safetensors")
    b, _ = load_model(out)
    for (ka, va), (kb, vb) in zip(a.state_arrays().items(), b.state_arrays().items()):
        assert ka == kb
        np.testing.assert_allclose(np.asarray(vb), np.asarray(va), rtol=1e-5, atol=1e-6)
    assert not ckpt.exists()
