"""Streaming: audio.stream equals audio.load block for block, windows from a stream equal
the whole-file windows, and a multi-minute file is classified holding a few blocks at most."""

from __future__ import annotations

import tracemalloc
import warnings
import weakref

import numpy as np
import pytest
import soundfile as sf

import musicnn.audio.io
from musicnn.audio.io import SILENCE_PEAK, TruncatedAudioWarning, load, stream
from musicnn.errors import AudioError, ConfigError
from musicnn.features import FeatureSpec
from musicnn.inference.engine import classify_files, classify_signal
from musicnn.inference.windows import iter_windows, window_features, window_starts

SPEC = FeatureSpec(kind="logmel", sr=16000, n_fft=1024, hop_length=512, n_mels=40, pooling=("mean",), duration=1.5)


@pytest.fixture(scope="module")
def note_signal(a_note):
    y, sr = sf.read(a_note, dtype="float32")
    return y, sr


@pytest.fixture(scope="module")
def mixed_signal(note_paths):
    """Six seconds of notes of several families, 16 kHz mono."""
    picks = [note_paths[i] for i in np.linspace(0, len(note_paths) - 1, 4).astype(int)]
    return np.concatenate([sf.read(p, dtype="float32")[0] for p in picks]), 16000


def joined(blocks) -> np.ndarray:
    blocks = list(blocks)
    assert all(b.dtype == np.float32 and b.ndim == 1 and len(b) for b in blocks)
    return np.concatenate(blocks)


# -- stream == load ---------------------------------------------------------------------

@pytest.mark.parametrize("fmt,ext", [("WAV", "wav"), ("FLAC", "flac"), ("OGG", "ogg")])
@pytest.mark.parametrize("sr", [None, 16000, 22050, 11025])
def test_stream_equals_load(tmp_path, mixed_signal, fmt, ext, sr):
    y, rate = mixed_signal
    path = tmp_path / f"mix.{ext}"
    sf.write(path, y, rate, format=fmt)
    whole, _ = load(path, sr=sr)
    for block_seconds in (0.1, 0.77, 60.0):
        np.testing.assert_array_equal(joined(stream(path, sr=sr, block_seconds=block_seconds)), whole)


def test_stream_of_stereo_48k_equals_load(tmp_path, mixed_signal):
    """Mix-down then streaming resampler: bit-identical to load's one-shot soxr, no clicks at block edges."""
    y, rate = mixed_signal
    import soxr

    y48 = soxr.resample(y, rate, 48000)
    stereo = np.stack([y48, 0.3 * y48[::-1]], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 48000, subtype="FLOAT")
    whole, _ = load(path, sr=16000)
    blocks = list(stream(path, sr=16000, block_seconds=0.25))
    assert len(blocks) > 20
    np.testing.assert_allclose(np.concatenate(blocks), whole, rtol=0, atol=1e-7)


def test_stream_block_size(tmp_path, mixed_signal):
    y, rate = mixed_signal
    path = tmp_path / "m.wav"
    sf.write(path, y, rate)
    sizes = [len(b) for b in stream(path, sr=None, block_seconds=0.5)]
    assert sizes[:-1] == [8000] * (len(sizes) - 1) and 0 < sizes[-1] <= 8000
    with pytest.raises(AudioError, match="block_seconds"):
        stream(path, block_seconds=0)


# -- the errors of load -------------------------------------------------------------------

def test_file_errors_are_raised_before_the_first_block(tmp_path):
    with pytest.raises(AudioError, match=r"missing\.wav: no such file"):
        stream(tmp_path / "missing.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav: the file is empty"):
        stream(tmp_path / "empty.wav")
    (tmp_path / "text.wav").write_text("not audio\n" * 50)
    with pytest.raises(AudioError, match=r"text\.wav: not a readable audio file"):
        stream(tmp_path / "text.wav")
    with pytest.raises(AudioError, match="is a folder"):
        stream(tmp_path)


def test_data_errors_are_raised_while_streaming(tmp_path, note_signal):
    y, sr = note_signal
    sf.write(tmp_path / "nothing.wav", np.zeros(0, dtype=np.float32), sr)
    with pytest.raises(AudioError, match=r"nothing\.wav: holds no audio samples"):
        list(stream(tmp_path / "nothing.wav"))
    bad = y.copy()
    bad[-10] = np.inf
    sf.write(tmp_path / "inf.wav", bad, sr, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"inf\.wav: holds non-finite samples"):
        list(stream(tmp_path / "inf.wav", block_seconds=0.1))
    sf.write(tmp_path / "quiet.wav", np.full(sr, SILENCE_PEAK / 2, dtype=np.float32), sr, subtype="FLOAT")
    assert len(joined(stream(tmp_path / "quiet.wav", sr=None))) == sr  # allowed by default
    with pytest.raises(AudioError, match=r"quiet\.wav: is silent"):
        list(stream(tmp_path / "quiet.wav", sr=None, allow_silent=False))
    flac = tmp_path / "broken.flac"
    sf.write(flac, y, sr, format="FLAC")
    data = bytearray(flac.read_bytes())
    data[200:] = bytes(len(data) - 200)
    flac.write_bytes(bytes(data))
    with pytest.raises(AudioError, match=r"broken\.flac"):
        list(stream(flac))


def test_truncated_file_warns_and_gives_what_load_gives(tmp_path, mixed_signal):
    y, sr = mixed_signal
    path = tmp_path / "cut.wav"
    sf.write(path, y, sr, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.warns(TruncatedAudioWarning, match=r"cut\.wav: truncated"):
        whole, _ = load(path, sr=22050)
    with pytest.warns(TruncatedAudioWarning, match=r"cut\.wav: truncated"):
        streamed = joined(stream(path, sr=22050, block_seconds=0.5))
    np.testing.assert_array_equal(streamed, whole)


def test_corrupt_tail_is_salvaged_like_load(tmp_path, mixed_signal):
    y, sr = mixed_signal
    path = tmp_path / "tail.flac"
    sf.write(path, y, sr, format="FLAC")
    data = bytearray(path.read_bytes())
    cut = int(len(data) * 0.7)
    data[cut:] = bytes(len(data) - cut)
    path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedAudioWarning)
        whole, _ = load(path, sr=None)
        streamed = joined(stream(path, sr=None, block_seconds=0.5))
    assert 0 < len(streamed) < len(y)
    # the decoder gives up on a damaged frame a little sooner or later depending on the
    # read size: the same samples, up to one FLAC frame more or less at the damage
    m = min(len(streamed), len(whole))
    assert abs(len(streamed) - len(whole)) <= 4608
    np.testing.assert_array_equal(streamed[:m], whole[:m])


# -- windows from a stream -------------------------------------------------------------------

@pytest.mark.parametrize("win,hop", [(100, 50), (100, 100), (100, 30), (100, 170), (1, 1)])
def test_iter_windows_equals_window_starts(win, hop):
    for n in (1, 5, 99, 100, 101, 149, 150, 151, 1000, 1037):
        y = np.arange(n, dtype=np.float32)
        for block in (1, 7, 100, 333, 5000):
            got = [(s, e, w.copy()) for s, e, w in iter_windows((y[i : i + block] for i in range(0, n, block)), win, hop)]
            assert [s for s, _, _ in got] == window_starts(n, win, hop), (n, block)
            for s, e, w in got:
                assert e == min(s + win, n)
                np.testing.assert_array_equal(w, y[s : s + win])


def test_iter_windows_edge_cases():
    assert list(iter_windows([], 100, 50)) == []
    assert list(iter_windows([np.zeros(0, np.float32)], 100, 50)) == []
    ((s, e, w),) = list(iter_windows([np.ones(30, np.float32), np.ones(20, np.float32)], None, None))
    assert (s, e, len(w)) == (0, 50, 50)  # no clip length: one window of the whole signal
    with pytest.raises(ConfigError):
        list(iter_windows([np.ones(10, np.float32)], 0, 5))


def test_stream_windows_equal_whole_file_features(tmp_path, mixed_signal):
    y, sr = mixed_signal
    path = tmp_path / "m.wav"
    sf.write(path, y, sr)
    from musicnn.features import compute

    whole = window_features(SPEC, load(path, sr=16000)[0], overlap=0.5)
    streamed = np.stack([compute(w, SPEC) for _, _, w in iter_windows(stream(path, sr=16000, block_seconds=0.4),
                                                                      24000, 12000)])
    np.testing.assert_array_equal(streamed, whole)


# -- a multi-minute file in bounded memory -----------------------------------------------------

class HighBandModel:
    """Two classes; P(high) follows the energy of the upper mel bands of each window."""

    classes_ = np.array(["low", "high"])

    def predict_proba(self, X):
        high = X[:, 20:].mean(axis=1)
        p = 1 / (1 + np.exp(-(high + 40) / 5))
        return np.stack([1 - p, p], axis=1)


@pytest.fixture(scope="module")
def three_minutes(tmp_path_factory, note_paths):
    """Three minutes of rendered notes, 44.1 kHz stereo 16-bit, written in blocks."""
    import soxr

    path = tmp_path_factory.mktemp("long") / "three_minutes.wav"
    total = 0
    with sf.SoundFile(path, "w", samplerate=44100, channels=2, subtype="PCM_16") as f:
        i = 0
        while total < 180 * 44100:
            y, sr = sf.read(note_paths[i % len(note_paths)], dtype="float32")
            y = soxr.resample(y, sr, 44100)[: 180 * 44100 - total]
            f.write(np.stack([y, 0.5 * y], axis=1))
            total += len(y)
            i += 1
    return path


def test_multi_minute_file_is_streamed_in_a_few_blocks(three_minutes, a_note, monkeypatch):
    """The reader never has more than two blocks alive; the window buffer holds one window
    plus one block; Python-tracked memory stays far under the decoded file's size."""
    real_stream = musicnn.audio.io.stream
    alive: list[weakref.ref] = []
    stats = {"max_alive": 0, "blocks": 0, "samples": 0, "max_block": 0}

    def instrumented(path, **kwargs):
        if path != three_minutes:
            yield from real_stream(path, **kwargs)
            return
        for block in real_stream(path, **kwargs):
            alive.append(weakref.ref(block))
            stats["max_alive"] = max(stats["max_alive"], sum(r() is not None for r in alive))
            stats["blocks"] += 1
            stats["samples"] += len(block)
            stats["max_block"] = max(stats["max_block"], len(block))
            yield block
            del block

    monkeypatch.setattr(musicnn.audio.io, "stream", instrumented)
    buffers = []

    import musicnn.inference.parallel as inference  # where the engine cuts streams into windows

    real_iter = inference.iter_windows

    def watched(blocks, win, hop):
        for s, e, w in real_iter(blocks, win, hop):
            buffers.append(len(w.base) if w.base is not None else len(w))
            yield s, e, w

    monkeypatch.setattr(inference, "iter_windows", watched)
    classify_files(HighBandModel(), SPEC, [a_note], progress=False)  # imports and caches outside the measure
    buffers.clear()
    tracemalloc.start()
    try:
        preds, failures = classify_files(HighBandModel(), SPEC, [three_minutes], block_seconds=2.0, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not failures
    (pred,) = preds
    n = 180 * 16000
    assert stats["samples"] == n and pred.seconds == pytest.approx(180.0)
    assert pred.n_windows == len(window_starts(n, 24000, 12000)) == 239
    assert stats["blocks"] >= 90 and stats["max_alive"] <= 2
    assert stats["max_block"] <= 2 * 16000 * 1.05  # the resampler evens out its delay
    assert max(buffers) <= 24000 + stats["max_block"]
    whole_file_bytes = 180 * 44100 * 2 * 4  # what load() would decode as float32 before mixing down
    assert peak < whole_file_bytes / 10, f"peak traced memory {peak / 1e6:.1f} MB"


def test_multi_minute_streamed_probabilities_equal_whole_file(three_minutes):
    model = HighBandModel()
    (pred,), _ = classify_files(model, SPEC, [three_minutes], block_seconds=3.0, batch_size=50, progress=False)
    y, _ = load(three_minutes, sr=16000)
    whole = model.predict_proba(window_features(SPEC, y))
    np.testing.assert_allclose(pred.windows, whole, rtol=1e-5, atol=1e-6)
    scores, n = classify_signal(model, SPEC, y)
    np.testing.assert_allclose(pred.scores, scores, rtol=1e-6)
    assert n == pred.n_windows
