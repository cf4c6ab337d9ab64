"""Inference: windows over long audio, averaged probabilities, top-k, bad files skipped."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from musicnn.errors import ConfigError
from musicnn.features import FeatureSpec
from musicnn.inference import classify_files, window_starts


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
