"""Inference: windows over streamed audio, batches across files, aggregation, segments,
resumable results files, bad files skipped; the classify and embed commands."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from musicnn.audio.io import load
from musicnn.cli import EXIT_SKIPPED, main
from musicnn.errors import ConfigError
from musicnn.features import FeatureSpec
from musicnn.inference.engine import aggregate_windows, classify_batch, classify_files, classify_signal
from musicnn.inference.windows import window_features, window_starts
from musicnn.inference.writers import ResultsFile, segment_paths


def test_window_starts_cover_the_signal():
    assert window_starts(100, 200, 100) == [0]
    assert window_starts(1000, 400, 200) == [0, 200, 400, 600]
    assert window_starts(1100, 400, 200) == [0, 200, 400, 600, 700]  # last window ends at the end
    with pytest.raises(ConfigError):
        window_starts(10, 0, 1)


class FluteDetector:
    """A stand-in model: P(flute) follows the energy above 1 kHz of each window (pooled log-mel)."""

    classes_ = np.array(["bass", "flute"])

    def __init__(self):
        self.calls = []

    def predict_proba(self, X):
        self.calls.append(X.shape)
        high = X[:, 20:].mean(axis=1)
        p = 1 / (1 + np.exp(-(high + 40) / 5))
        return np.stack([1 - p, p], axis=1)


def test_long_file_is_windowed_and_batched(tmp_path, note_paths):
    spec = FeatureSpec(kind="logmel", sr=16000, n_fft=1024, hop_length=512, n_mels=40, pooling=("mean",), duration=1.5)
    flutes = [p for p in note_paths if p.parent.name == "flute"][:4]
    y = np.concatenate([sf.read(p, dtype="float32")[0] for p in flutes])  # 6 s of flute
    long = tmp_path / "long.wav"
    sf.write(long, y, 16000)
    model = FluteDetector()
    preds, failures = classify_files(model, spec, [long], top_k=2, overlap=0.5, progress=False)
    assert not failures
    (pred,) = preds
    assert pred.n_windows == len(window_starts(len(y), 24000, 12000)) == 7
    assert model.calls == [(7, 40)]  # one batched forward pass for the whole file
    assert [lab for lab, _ in pred.top] == [pred.label, *[c for c in ("bass", "flute") if c != pred.label]]
    assert sum(p for _, p in pred.top) == pytest.approx(1.0)
    assert pred.seconds == pytest.approx(6.0)


def test_bad_files_are_reported_not_fatal(tmp_path, note_paths):
    spec = FeatureSpec(kind="logmel", sr=16000, n_fft=1024, hop_length=512, n_mels=40, pooling=("mean",), duration=1.5)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, dtype=np.float32), 16000)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"ID3" + bytes(100))
    preds, failures = classify_files(FluteDetector(), spec, [silent, note_paths[0], junk], top_k=5, progress=False)
    assert [p.path for p in preds] == [str(note_paths[0])]
    assert len(preds[0].top) == 2  # top_k is capped by the number of classes
    assert [f[0] for f in failures] == [str(silent), str(junk)]
    assert "silent" in failures[0][1]


# -- helpers ---------------------------------------------------------------------------------

SPEC = FeatureSpec(kind="logmel", sr=16000, n_fft=1024, hop_length=512, n_mels=40, pooling=("mean",), duration=1.5)


def concat(paths, out: Path, *, rate: int = 16000, stereo: bool = False) -> Path:
    """Concatenate rendered notes into one file (optionally resampled and stereo)."""
    y = np.concatenate([sf.read(p, dtype="float32")[0] for p in paths])
    if rate != 16000:
        import soxr

        y = soxr.resample(y, 16000, rate)
    if stereo:
        y = np.stack([y, 0.25 * y], axis=1)
    sf.write(out, y, rate, subtype="FLOAT")
    return out


def truncated(src: Path, out: Path) -> Path:
    """The first half of the bytes of ``src``: a file cut short, as by a crashed copy."""
    data = src.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


@pytest.fixture(scope="module")
def songs(tmp_path_factory, note_paths):
    """Five 6-second files (4 notes each, 7 windows of 1.5 s), families mixed."""
    root = tmp_path_factory.mktemp("songs")
    return [concat(note_paths[i::20][:4], root / f"song{i}.wav") for i in range(5)]


class Scripted:
    """A model that returns pre-set window probabilities, in the order windows arrive."""

    def __init__(self, table, classes=("a", "b", "c")):
        self.classes_ = np.array(classes)
        self.table = np.asarray(table, dtype=float)
        self.seen = 0

    def predict_proba(self, X):
        rows = self.table[self.seen : self.seen + len(X)]
        self.seen += len(X)
        return rows


class Interrupting(FluteDetector):
    """Raises ``exc`` on the ``when``-th call of predict_proba."""

    def __init__(self, when, exc):
        super().__init__()
        self.when, self.exc = when, exc

    def predict_proba(self, X):
        if len(self.calls) + 1 == self.when:
            self.calls.append(X.shape)
            raise self.exc
        return super().predict_proba(X)


# -- streaming equals the whole-file path ------------------------------------------------------------

@pytest.mark.parametrize("variant", ["one window", "shorter than a window", "several windows", "44.1 kHz stereo"])
def test_streaming_equals_the_whole_file_path(tmp_path, note_paths, variant):
    flute = [p for p in note_paths if p.parent.name == "flute"]
    if variant == "one window":
        path = flute[0]
    elif variant == "shorter than a window":
        path = tmp_path / "short.wav"
        sf.write(path, sf.read(flute[0], dtype="float32")[0][:9000], 16000)
    elif variant == "several windows":
        path = concat(flute[:3] + note_paths[:2], tmp_path / "five.wav")
    else:
        path = concat(flute[:3], tmp_path / "stereo.wav", rate=44100, stereo=True)
    y, _ = load(path, sr=16000, allow_silent=False)
    for model in (FluteDetector(), Scripted(np.eye(2)[np.arange(50) % 2], classes=("x", "y"))):
        expected = window_features(SPEC, y)
        (pred,), failures = classify_files(model, SPEC, [path], top_k=2, progress=False, block_seconds=0.3)
        assert not failures and pred.n_windows == len(expected)
        if isinstance(model, FluteDetector):
            np.testing.assert_allclose(pred.windows, model.predict_proba(expected), rtol=1e-6, atol=1e-9)
            scores, n = classify_signal(model, SPEC, y)
            np.testing.assert_allclose(pred.scores, scores, rtol=1e-6, atol=1e-9)
            assert dict(pred.top) == pytest.approx({c: s for c, s in zip(("bass", "flute"), scores)})
        assert pred.seconds == pytest.approx(len(y) / 16000)


def test_times_follow_the_windows_and_hop(songs):
    (pred,), _ = classify_files(FluteDetector(), SPEC, [songs[0]], progress=False)
    np.testing.assert_allclose(pred.starts, [0, 0.75, 1.5, 2.25, 3.0, 3.75, 4.5])
    np.testing.assert_allclose(pred.ends, pred.starts + 1.5)
    (pred,), _ = classify_files(FluteDetector(), SPEC, [songs[0]], hop=1.0, progress=False)
    np.testing.assert_allclose(pred.starts, [0, 1, 2, 3, 4, 4.5])  # the last window ends at the end
    (pred,), _ = classify_files(FluteDetector(), SPEC, [songs[0]], hop=2.5, progress=False)
    np.testing.assert_allclose(pred.starts, [0, 2.5, 4.5])  # a hop longer than the window skips audio
    (pred,), _ = classify_files(FluteDetector(), SPEC, [songs[0]], overlap=0.0, progress=False)
    assert pred.n_windows == 4
    with pytest.raises(ConfigError, match="hop"):
        classify_files(FluteDetector(), SPEC, [songs[0]], hop=0.0, progress=False)
    with pytest.raises(ConfigError, match="overlap"):
        classify_files(FluteDetector(), SPEC, [songs[0]], overlap=1.0, progress=False)


# -- aggregation ------------------------------------------------------------------------------------

P = [[0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.5, 0.4, 0.1], [0.2, 0.2, 0.6]]


def test_aggregate_mean_max_vote():
    scores, order = aggregate_windows(P, "mean")
    np.testing.assert_allclose(scores, [0.35, 0.425, 0.225])
    assert list(order) == [1, 0, 2]
    scores, order = aggregate_windows(P, "max")
    np.testing.assert_allclose(scores, [0.6, 0.8, 0.6])  # each class's peak, not renormalised
    assert list(order) == [1, 0, 2]
    scores, order = aggregate_windows(P, "vote")
    np.testing.assert_allclose(scores, [0.5, 0.25, 0.25])  # vote shares
    assert list(order) == [0, 1, 2]  # 1 and 2 tie on votes: 1 has the higher mean probability
    with pytest.raises(ConfigError, match="aggregate='median' is not valid; choose one of 'mean', 'max', 'vote'"):
        aggregate_windows(P, "median")


def test_vote_ties_are_broken_by_mean_probability():
    _, order = aggregate_windows([[0.9, 0.1], [0.4, 0.6], [0.45, 0.55], [0.7, 0.3]], "vote")
    assert order[0] == 0  # 2 votes each; mean 0.61 against 0.39
    _, order = aggregate_windows([[0.51, 0.49], [0.51, 0.49], [0.1, 0.9], [0.1, 0.9]], "vote")
    assert order[0] == 1  # 2 votes each; mean 0.31 against 0.69
    _, order = aggregate_windows([[0.5, 0.5], [0.5, 0.5]], "vote")
    assert list(order) == [0, 1]  # a complete tie keeps class order


def test_aggregate_in_classify_files(songs):
    table = np.array(P * 2)[:7]  # the 7 windows of one song
    labels = {}
    for method in ("mean", "max", "vote"):
        (pred,), _ = classify_files(Scripted(table), SPEC, [songs[0]], top_k=3, aggregate=method, progress=False)
        labels[method] = pred.label
        assert pred.aggregate == method and pred.to_dict()["aggregate"] == method
        expected, order = aggregate_windows(table, method)
        assert pred.top == [(("a", "b", "c")[i], pytest.approx(expected[i])) for i in order]
    assert labels == {"mean": "b", "max": "b", "vote": "a"}
    with pytest.raises(ConfigError, match="choose one of 'mean', 'max', 'vote'"):
        classify_files(FluteDetector(), SPEC, [songs[0]], aggregate="sum", progress=False)


# -- batches across files ---------------------------------------------------------------------------

def test_windows_of_several_files_share_batches(songs):
    model = FluteDetector()
    preds, failures = classify_files(model, SPEC, songs[:3], batch_size=8, progress=False)
    assert not failures and [p.n_windows for p in preds] == [7, 7, 7]
    assert model.calls == [(8, 40), (8, 40), (5, 40)]  # 21 windows of 3 files in 3 forward passes
    for path, pred in zip(songs[:3], preds):
        (alone,), _ = classify_files(FluteDetector(), SPEC, [path], progress=False)
        np.testing.assert_allclose(pred.windows, alone.windows, rtol=1e-6)
        assert pred.top == alone.top


def test_results_come_in_input_order_as_files_complete(songs):
    seen = []
    model = FluteDetector()

    def on_result(pred):
        seen.append((pred.path, len(model.calls)))

    classify_files(model, SPEC, songs, batch_size=10, on_result=on_result, keep_windows=False, progress=False)
    # 35 windows, batches of 10: song i is done once batch ceil(7 (i + 1) / 10) has run
    assert seen == [(str(s), c) for s, c in zip(songs, [1, 2, 3, 3, 4])]


def test_a_model_error_is_isolated_to_the_file_that_causes_it(songs, tmp_path, note_paths):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, 1e-3 * sf.read(songs[1], dtype="float32")[0], 16000)
    threshold = (window_features(SPEC, load(quiet, sr=16000)[0])[:, 0].max()
                 + window_features(SPEC, load(songs[0], sr=16000)[0])[:, 0].min()) / 2

    class Picky(FluteDetector):
        def predict_proba(self, X):
            self.calls.append(X.shape)
            if (X[:, 0] < threshold).any():
                raise ValueError("input out of range")
            return FluteDetector.predict_proba(self, X)

    model = Picky()
    preds, failures = classify_files(model, SPEC, [songs[0], quiet, songs[2]], batch_size=64, progress=False)
    assert [p.path for p in preds] == [str(songs[0]), str(songs[2])]
    assert failures == [(str(quiet), "ValueError: input out of range")]
    # a transient failure of one batch: each file's windows are retried on their own
    model = Interrupting(2, RuntimeError("transient"))
    preds, failures = classify_files(model, SPEC, songs[:3], batch_size=8, progress=False)
    assert not failures and len(preds) == 3
    assert model.calls[:2] == [(8, 40), (8, 40)] and model.calls[2:4] == [(6, 40), (2, 40)]


def test_an_error_writing_results_stops_the_batch(songs):
    def disk_full(pred):
        raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space left"):
        classify_files(FluteDetector(), SPEC, songs[:2], on_result=disk_full, progress=False)


def test_a_spec_without_clip_length_gives_one_window_per_file(songs, note_paths):
    """No duration: each file is one window of its own length; batches never mix shapes."""
    spec = SPEC.replace(duration=None, pooling=())

    class Frames(FluteDetector):
        def predict_proba(self, X):
            shapes = self.calls
            self.calls = []
            p = FluteDetector.predict_proba(self, X.mean(axis=1))  # over frames
            self.calls = shapes + [X.shape]
            return p

    model = Frames()
    files = [songs[0], note_paths[0], songs[1]]
    preds, failures = classify_files(model, spec, files, progress=False)
    assert not failures and [p.n_windows for p in preds] == [1, 1, 1]
    assert [c[:2] for c in model.calls] == [(1, 188), (1, 47), (1, 188)]
    scores, _ = classify_signal(Frames(), spec, load(songs[0], sr=16000)[0])
    np.testing.assert_allclose(preds[0].scores, scores, rtol=1e-6)
    assert (preds[1].starts[0], preds[1].ends[0]) == (0.0, 1.5)


def test_bad_files_in_a_batch_are_listed_and_skipped(songs, tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(48000, dtype=np.float32), 16000)
    (tmp_path / "empty.flac").write_bytes(b"")
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF" + bytes(200))
    sf.write(tmp_path / "nothing.wav", np.zeros(0, dtype=np.float32), 16000)
    cut = truncated(songs[3], tmp_path / "cut.wav")  # read as far as it goes
    files = [songs[0], tmp_path / "silent.wav", tmp_path / "empty.flac", songs[1], tmp_path / "corrupt.wav",
             tmp_path / "missing.mp3", tmp_path / "nothing.wav", cut, songs[2]]
    out = tmp_path / "results.csv"
    with pytest.warns(UserWarning, match="cut.wav: truncated"):
        report = classify_batch(FluteDetector(), SPEC, files, out=out, batch_size=5, progress=False)
    assert [p.path for p in report.predictions] == [str(songs[0]), str(songs[1]), str(cut), str(songs[2])]
    reasons = dict(report.failures)
    assert list(reasons) == [str(files[i]) for i in (1, 2, 4, 5, 6)]
    assert "is silent" in reasons[str(files[1])] and "empty" in reasons[str(files[2])]
    assert "not a readable audio file" in reasons[str(files[4])] and "no such file" in reasons[str(files[5])]
    assert "no audio samples" in reasons[str(files[6])]
    rows = list(csv.DictReader(open(out)))
    assert [r["path"] for r in rows] == [p.path for p in report.predictions]
    # a rerun skips the files done and tries the failed ones again
    again = classify_batch(FluteDetector(), SPEC, files, out=out, progress=False)  # cut.wav is done: no warning
    assert again.skipped == [p.path for p in report.predictions] and not again.predictions
    assert [f for f, _ in again.failures] == list(reasons)


# -- results file: incremental, resumable -----------------------------------------------------------

def read_rows(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        return list(csv.DictReader(open(path, newline="")))
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_results_are_written_as_files_complete_and_a_rerun_resumes(songs, tmp_path, suffix):
    out = tmp_path / f"results{suffix}"
    model = Interrupting(3, KeyboardInterrupt())  # the user presses Ctrl-C during the 3rd batch
    with pytest.raises(KeyboardInterrupt):
        classify_batch(model, SPEC, songs, out=out, batch_size=4, progress=False)
    # batches 1-2 hold windows 1-8: song 0 (7 windows) was complete and is on disk
    assert [r["path"] for r in read_rows(out)] == [str(songs[0])]
    report = classify_batch(FluteDetector(), SPEC, songs, out=out, batch_size=4, progress=False)
    assert report.skipped == [str(songs[0])]
    assert [p.path for p in report.predictions] == [str(s) for s in songs[1:]]
    rows = read_rows(out)
    assert [r["path"] for r in rows] == [str(s) for s in songs]  # complete, each file once
    fresh = classify_batch(FluteDetector(), SPEC, songs, out=tmp_path / f"fresh{suffix}", progress=False)
    assert rows == read_rows(tmp_path / f"fresh{suffix}")
    first = rows[1]
    if suffix == ".csv":
        assert list(first) == ["path", "label", "score", "aggregate", "n_windows", "seconds", "bass", "flute"]
        assert float(first["bass"]) + float(first["flute"]) == pytest.approx(1.0, abs=1e-5)
        assert float(first["score"]) == pytest.approx(max(float(first["bass"]), float(first["flute"])))
    else:
        assert set(first["scores"]) == {"bass", "flute"} and first["aggregate"] == "mean"
    assert first["label"] == fresh.predictions[1].label and int(first["n_windows"]) == 7


def test_results_survive_a_process_that_dies(songs, tmp_path):
    """The process exits hard (os._exit) in the 3rd batch; a last line cut short is dropped."""
    out = tmp_path / "results.csv"
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        import numpy as np
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_inference import FluteDetector, SPEC
        from musicnn.inference.engine import classify_batch

        class Dying(FluteDetector):
            def predict_proba(self, X):
                if len(self.calls) == 2:
                    os._exit(7)
                return super().predict_proba(X)

        classify_batch(Dying(), SPEC, {[str(s) for s in songs]!r}, out={str(out)!r}, batch_size=5, progress=False)
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert proc.returncode == 7, proc.stderr
    assert [r["path"] for r in read_rows(out)] == [str(songs[0])]  # windows 1-10: song 0 only
    with open(out, "a") as f:
        f.write(f"{songs[1]},flute,0.9")  # a row cut short by the crash
    report = classify_batch(FluteDetector(), SPEC, songs, out=out, batch_size=5, progress=False)
    assert report.skipped == [str(songs[0])]
    assert [r["path"] for r in read_rows(out)] == [str(s) for s in songs]
    assert all(len(r) == 8 and None not in r.values() for r in read_rows(out))


def test_results_file_refuses_another_models_columns(tmp_path, songs):
    out = tmp_path / "r.csv"
    classify_batch(FluteDetector(), SPEC, songs[:1], out=out, progress=False)
    with pytest.raises(ConfigError, match="other columns"):
        classify_batch(Scripted(np.full((10, 3), 1 / 3)), SPEC, songs[:1], out=out, progress=False)
    with pytest.raises(ConfigError, match=".csv or .jsonl"):
        ResultsFile(tmp_path / "r.txt", ["a"])
    results = ResultsFile(tmp_path / "clash.csv", ["path", "other"])
    assert results.header[-2:] == ["class:path", "class:other"]
    results.close()


# -- segments ------------------------------------------------------------------------------------------

def test_segments_csv_and_json(songs, tmp_path):
    report = classify_batch(FluteDetector(), SPEC, songs[:2], segments=tmp_path / "seg" / "{stem}.csv",
                            aggregate="vote", hop=1.0, progress=False)
    for path, pred in zip(songs[:2], report.predictions):
        rows = list(csv.DictReader(open(tmp_path / "seg" / f"{path.stem}.csv")))
        assert [float(r["start"]) for r in rows] == [0, 1, 2, 3, 4, 4.5]
        assert [float(r["end"]) for r in rows] == [1.5, 2.5, 3.5, 4.5, 5.5, 6.0]
        for r in rows:
            probs = {c: float(r[c]) for c in ("bass", "flute")}
            assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
            assert r["label"] == max(probs, key=probs.get) and float(r["probability"]) == max(probs.values())
        votes = sum(r["label"] == pred.label for r in rows) / len(rows)
        assert pred.score == pytest.approx(votes)
    classify_batch(FluteDetector(), SPEC, [songs[0]], segments=tmp_path / "one.json", progress=False)
    doc = json.loads((tmp_path / "one.json").read_text())
    (pred,), _ = classify_files(FluteDetector(), SPEC, [songs[0]], progress=False)
    assert doc["path"] == str(songs[0]) and doc["label"] == pred.label and doc["aggregate"] == "mean"
    assert doc["classes"] == ["bass", "flute"] and len(doc["windows"]) == 7
    w = doc["windows"][6]
    assert (w["start"], w["end"]) == (4.5, 6.0)
    assert w["probabilities"]["flute"] == pytest.approx(float(pred.windows[6, 1]), abs=1e-6)
    assert not list(tmp_path.rglob("*.part"))


def test_segment_paths():
    assert segment_paths("t.csv", ["a/x.wav"]) == [Path("t.csv")]
    assert segment_paths("s/{parent}-{stem}.json", ["a/x.wav", "b/x.wav"]) == [Path("s/a-x.json"), Path("s/b-x.json")]
    with pytest.raises(ConfigError, match=r"needs a \{stem\}"):
        segment_paths("t.csv", ["a.wav", "b.wav"])
    with pytest.raises(ConfigError, match="would both write"):
        segment_paths("s/{stem}.csv", ["a/x.wav", "b/x.flac"])
    with pytest.raises(ConfigError, match=".csv or .json"):
        segment_paths("s/{stem}.txt", ["a.wav"])
    with pytest.raises(ConfigError, match="fields are"):
        segment_paths("s/{stem}-{title}.csv", ["a.wav", "b.wav"])


# -- real model files: a numpy family and a torch family, through the CLI ---------------------------------

@pytest.fixture(scope="module")
def model_files(tmp_path_factory, note_paths):
    """An RBF network (numpy) and an MLP (torch) on pooled MFCC of the session's notes."""
    import warnings

    from musicnn.features import extract, preset
    from musicnn.modelfile import save_model
    from musicnn.models.deep.mlp import MLPClassifier
    from musicnn.models.classic.rbf import RBFNetwork

    spec = preset("mfcc", duration=1.5)
    X = np.stack([extract(p, spec) for p in note_paths])
    y = np.array([p.parent.name for p in note_paths])
    out = tmp_path_factory.mktemp("models")
    files = {}
    for name, est in (("rbf", RBFNetwork(seed=0)), ("mlp", MLPClassifier(hidden_layer_sizes=(16,), max_epochs=3, seed=0))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a 3-epoch MLP warns that it stopped at max_epochs
            est.fit(X, y)
        files[name] = save_model(out / f"{name}.safetensors", est, metadata={"feature_spec": spec.to_dict()})
    return files


@pytest.mark.parametrize("family", ["rbf", "mlp"])
def test_model_files_stream_and_batch_like_the_whole_file_path(model_files, songs, family):
    from musicnn.modelfile import load_with_spec

    est, spec, _ = load_with_spec(model_files[family])
    preds, failures = classify_files(est, spec, songs[:3], batch_size=5, progress=False)
    assert not failures
    for path, pred in zip(songs[:3], preds):
        scores, n = classify_signal(est, spec, load(path, sr=spec.sr)[0])
        assert n == pred.n_windows == 7
        np.testing.assert_allclose(pred.scores, scores, rtol=1e-5, atol=1e-7)


def cli(args, code=0):
    result = CliRunner().invoke(main, ["--quiet", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_cli_classify_out_segments_aggregate_hop(model_files, songs, tmp_path):
    model = model_files["rbf"]
    out = tmp_path / "results.jsonl"
    seg = tmp_path / "seg" / "{stem}.csv"
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    result = cli(["classify", model, *songs[:3], bad, "--out", out, "--segments", seg, "--aggregate", "vote",
                  "--hop", "1.0", "--format", "json", "--batch-size", "4"], code=EXIT_SKIPPED)
    printed = json.loads(result.output[: result.output.rindex("]") + 1])
    assert [p["path"] for p in printed] == [str(s) for s in songs[:3]]
    assert all(p["aggregate"] == "vote" and p["n_windows"] == 6 for p in printed)
    assert "wrote 3 rows to" in result.output and "1 files skipped" in result.output and "bad.wav" in result.output
    rows = read_rows(out)
    assert [r["path"] for r in rows] == [str(s) for s in songs[:3]]
    assert [r["label"] for r in rows] == [p["label"] for p in printed]
    assert all(len(list(csv.DictReader(open(tmp_path / "seg" / f"{s.stem}.csv")))) == 6 for s in songs[:3])
    # rerun with more files: the three done are skipped, the others added
    result = cli(["classify", model, *songs, "--out", out, "--segments", seg, "--aggregate", "vote", "--hop", "1.0"])
    assert "skipped 3 files already in" in result.output and "wrote 2 rows" in result.output
    assert [r["path"] for r in read_rows(out)] == [str(s) for s in songs]
    table = cli(["classify", model, songs[0], "--aggregate", "max", "--format", "csv"]).output
    rows = list(csv.DictReader(io.StringIO(table)))
    assert len(rows) == 3 and rows[0]["rank"] == "1"


def test_cli_classify_usage_errors(model_files, songs, tmp_path):
    model = model_files["mlp"]
    assert "not both" in cli(["classify", model, songs[0], "--hop", "1", "--overlap", "0.2"], code=2).output
    assert ".csv or .jsonl" in cli(["classify", model, songs[0], "--out", tmp_path / "r.txt"], code=2).output
    assert "{stem}" in cli(["classify", model, *songs[:2], "--segments", tmp_path / "s.csv"], code=2).output
    assert "mean" in cli(["classify", model, songs[0], "--aggregate", "median"], code=2).output
    help_text = cli(["classify", "--help"]).output
    for option in ("--hop", "--aggregate", "--out", "--segments", "--batch-size", "{stem}"):
        assert option in help_text


def test_cli_embed_streams_with_hop(model_files, songs, tmp_path):
    cli(["embed", model_files["mlp"], *songs[:2], "--hop", "0.5", "--batch-size", "3", "--out", tmp_path / "e.npz"])
    data = np.load(tmp_path / "e.npz")
    assert data["embeddings"].shape == (2, 16) and list(data["paths"]) == [str(s) for s in songs[:2]]
    from musicnn.modelfile import load_with_spec

    est, spec, _ = load_with_spec(model_files["mlp"])
    whole = est.embed(window_features(spec, load(songs[0], sr=spec.sr)[0], hop=0.5)).mean(axis=0)
    np.testing.assert_allclose(data["embeddings"][0], whole, rtol=1e-5, atol=1e-6)
    assert "not both" in cli(["embed", model_files["mlp"], songs[0], "--hop", "1", "--overlap", "0.1",
                              "--out", tmp_path / "e.npz"], code=2).output


# -- writers and the command line's wording ------------------------------------------------------------

def test_write_embeddings_by_extension(tmp_path):
    from musicnn.inference.writers import write_embeddings

    emb = np.arange(6, dtype=np.float32).reshape(2, 3)
    data = np.load(write_embeddings(tmp_path / "e.npz", ["a.wav", "b.wav"], emb))
    assert list(data["paths"]) == ["a.wav", "b.wav"] and np.array_equal(data["embeddings"], emb)
    rows = list(csv.DictReader(open(write_embeddings(tmp_path / "e.csv", ["a.wav", "b.wav"], emb))))
    assert rows[1] == {"path": "b.wav", "e0": "3", "e1": "4", "e2": "5"}
    doc = json.loads(write_embeddings(tmp_path / "E.JSON", ["a.wav", "b.wav"], emb).read_text())
    assert doc[0] == {"path": "a.wav", "embedding": [0.0, 1.0, 2.0]}
    with pytest.raises(ConfigError, match=r"e\.txt: an embeddings file must end in \.npz, \.csv or \.json"):
        write_embeddings(tmp_path / "e.txt", ["a.wav", "b.wav"], emb)
    with pytest.raises(ConfigError, match="one row for each of 3 paths"):
        write_embeddings(tmp_path / "e.npz", ["a", "b", "c"], emb)
    assert not list(tmp_path.glob(".tmp-*"))


def test_cli_speaks_options_for_a_model_file_without_what_it_needs(model_files, songs, notes, tmp_path):
    from musicnn.errors import ModelFileError
    from musicnn.modelfile import load_model, load_with_spec, save_model

    bare = save_model(tmp_path / "bare.safetensors", load_model(model_files["rbf"])[0])  # no feature_spec
    with pytest.raises(ModelFileError, match="records no feature_spec"):
        load_with_spec(bare)
    line = cli(["classify", bare, songs[0]], code=1).output.strip().splitlines()[-1]
    assert line.startswith("Error: ") and "bare.safetensors: the model file records no feature_spec" in line
    # the model files of this module record no split: the hint names the option
    line = cli(["evaluate", model_files["rbf"], "--data", notes, "--split", "test"], code=1).output.strip()
    assert line.endswith("the model file records no split; use --split all")


def test_cli_prints_warnings_as_one_line_and_restores_the_handler(model_files, songs, tmp_path):
    import warnings

    cut = truncated(songs[3], tmp_path / "cut.wav")
    before = warnings.showwarning
    output = cli(["classify", model_files["rbf"], cut]).output
    assert warnings.showwarning is before
    (line,) = [ln for ln in output.splitlines() if "truncated" in ln]
    assert line.startswith("Warning: ") and "cut.wav: truncated" in line and "Traceback" not in output


def test_worker_processes_give_the_same_results_and_failures(songs, tmp_path):
    """``jobs=2``: the windows' features of the next files come from worker processes; the
    predictions, the failures (with their reasons) and the warnings are those of one process."""
    from musicnn.inference.engine import classify_files

    (tmp_path / "corrupt.wav").write_bytes(b"RIFF" + bytes(200))
    sf.write(tmp_path / "silent.wav", np.zeros(48000, dtype=np.float32), 16000)
    cut = truncated(songs[3], tmp_path / "cut.wav")
    files = [songs[0], tmp_path / "corrupt.wav", songs[1], tmp_path / "missing.wav", cut, tmp_path / "silent.wav",
             songs[2], songs[4]]
    runs = {}
    for jobs in (1, 2):
        with pytest.warns(UserWarning, match="cut.wav: truncated"):
            runs[jobs] = classify_files(FluteDetector(), SPEC, files, batch_size=5, progress=False, jobs=jobs)
    (one, fail_one), (two, fail_two) = runs[1], runs[2]
    assert fail_two == fail_one and len(fail_one) == 3
    assert [p.path for p in two] == [p.path for p in one]
    for a, b in zip(one, two):
        assert a.label == b.label and a.n_windows == b.n_windows
        np.testing.assert_array_equal(a.windows, b.windows)
        np.testing.assert_array_equal(a.starts, b.starts)


def test_torchrun_processes_classify_their_shares_into_one_results_file(model_files, songs, tmp_path):
    """2 processes: each classifies every other file into a part file, rank 0 merges them into
    --out in input order: the rows of one process, and no part left behind; a rerun resumes."""
    import os
    import subprocess
    import sys

    files = [str(p) for p in songs] + [str(tmp_path / "missing.wav")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    base = ["-m", "musicnn", "-q", "classify", str(model_files["rbf"]), *files]
    single = subprocess.run([sys.executable, *base, "--out", str(one)], env=env, capture_output=True, text=True)
    assert single.returncode == 3, single.stderr[-2000:]  # the missing file
    run = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *base,
           "--out", str(two)]
    proc = subprocess.run(run, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "missing.wav" in proc.stderr, proc.stderr[-3000:]
    assert "2 processes classified 5 files" in proc.stderr
    assert read_rows(two) == read_rows(one) and len(read_rows(two)) == 5
    assert sorted(p.name for p in tmp_path.iterdir() if ".part" in p.name) == []
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=300)
    assert "skipped 5 files already in" in again.stderr, again.stderr[-2000:]
    assert read_rows(two) == read_rows(one)


def test_classify_batch_under_torchrun_needs_a_results_file(model_files, songs, monkeypatch):
    from musicnn.inference.parallel import classify_distributed
    from musicnn.modelfile import load_with_spec
    from musicnn.training.distributed import DistContext

    est, spec, _ = load_with_spec(model_files["rbf"])
    with pytest.raises(ConfigError, match="under torchrun .* give out="):
        classify_distributed(None, est, spec, [str(songs[0])], DistContext(rank=0, world_size=2), out=None,
                             segments=None, force=False)
