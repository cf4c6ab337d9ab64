"""Audio-domain augmentation: gain, pitch and time shifts, and augmented training copies."""

from __future__ import annotations

import numpy as np
import pytest

from musicnn.audio.io import load
from musicnn.audio.augment import AudioAugment, parse_audio_augment
from musicnn.errors import ConfigError


def test_parse_audio_augment():
    assert parse_audio_augment("gain,pitch=0.5") == {"gain": 6.0, "pitch": 0.5}
    assert parse_audio_augment(None) == {}
    with pytest.raises(ConfigError, match="unknown augmentation 'echo'; choose from gain, pitch, shift, eq, reverb, noise"):
        parse_audio_augment("echo")
    with pytest.raises(ConfigError, match="pitch=20 must be in"):
        parse_audio_augment("pitch=20")
    with pytest.raises(ConfigError, match="names no augmentation"):
        AudioAugment("")
    with pytest.raises(ConfigError, match="copy=0"):
        AudioAugment("gain", copy=0)


def test_draws_are_reproducible_and_differ_by_copy_seed_and_file():
    a = AudioAugment("gain,pitch,shift", copy=1, seed=0)
    assert a.draws("x.wav") == AudioAugment("gain,pitch,shift", copy=1, seed=0).draws("x.wav")
    others = [AudioAugment("gain,pitch,shift", copy=2, seed=0).draws("x.wav"),
              AudioAugment("gain,pitch,shift", copy=1, seed=1).draws("x.wav"), a.draws("y.wav")]
    assert all(o != a.draws("x.wav") for o in others)
    assert a.draws("/data/flute/x.wav") == a.draws("/elsewhere/flute/x.wav")  # moved data set: same draws
    d = a.draws("x.wav")
    assert abs(d["gain_db"]) <= 6 and abs(d["semitones"]) <= 1 and abs(d["shift_s"]) <= 0.1
    # asking for fewer augmentations keeps the other draws
    assert AudioAugment("gain", copy=1, seed=0).draws("x.wav")["gain_db"] == d["gain_db"]
    assert AudioAugment("gain").tag != AudioAugment("gain", copy=2).tag


def test_gain_and_shift_on_a_rendered_note(a_note):
    y, sr = load(a_note, sr=16000)
    aug = AudioAugment("gain=6,shift=0.2", seed=3)
    d = aug.draws(str(a_note))
    out = aug(y, sr, str(a_note))
    assert out.shape == y.shape and out.dtype == np.float32
    n = int(round(abs(d["shift_s"]) * sr))
    ref = y[: len(y) - n] if d["shift_s"] > 0 else y[n:]
    part = out[n:] if d["shift_s"] > 0 else out[: len(y) - n]
    np.testing.assert_allclose(part, ref * 10 ** (d["gain_db"] / 20), rtol=1e-5, atol=1e-7)


def test_pitch_shift_moves_the_fundamental(a_note):
    import librosa

    y, sr = load(a_note, sr=16000, duration=1.0)
    aug = AudioAugment("pitch=2", seed=0, copy=1)
    steps = aug.draws("flute/note.wav")["semitones"]
    out = aug(y, sr, "flute/note.wav")
    f0 = lambda s: np.nanmedian(librosa.yin(s, fmin=80, fmax=2000, sr=sr, frame_length=2048))  # noqa: E731
    measured = 12 * np.log2(f0(out) / f0(y))
    assert abs(steps) > 0.3 and abs(measured - steps) < 0.25


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # few epochs on purpose
def test_train_adds_augmented_copies_of_training_files_only(notes, tmp_path):
    from musicnn.modelfile import read_metadata
    from musicnn.pipeline import train
    from musicnn.store import FeatureStore

    store = FeatureStore(tmp_path / "cache")
    logs = []
    run = train(notes, "mlp", tmp_path / "m.safetensors", params={"max_epochs": 3}, store=store, progress=False,
                log=logs.append, audio_augment="gain,shift", augment_copies=2)
    n_train = run.counts["train"]
    assert any(f"{2 * n_train} augmented training examples added" in m for m in logs)
    summary = read_metadata(run.model_path)["summary"]
    assert summary["audio_augment"] == {"augment": "gain,shift", "copies": 2}
    tags = {p.name for p in next((tmp_path / "cache").iterdir()).iterdir() if p.name.startswith("aug-")}
    assert len(tags) == 2  # each copy cached under its own tag
    with pytest.raises(ConfigError, match="unknown augmentation"):
        train(notes, "mlp", tmp_path / "m2.safetensors", store=store, progress=False, log=lambda m: None,
              audio_augment="echo")


def test_eq_reverb_and_noise_on_a_rendered_note(a_note):
    y, sr = load(a_note, sr=16000)
    eq = AudioAugment("eq=12", seed=3)
    d = eq.draws(str(a_note))
    assert d["eq_db"].shape == (8,) and np.all(np.abs(d["eq_db"]) <= 12)
    out = eq(y, sr, str(a_note))
    assert out.shape == y.shape and out.dtype == np.float32
    # the spectrum's shape changes: band energies move by different amounts
    spec_in, spec_out = np.abs(np.fft.rfft(y)) ** 2, np.abs(np.fft.rfft(out)) ** 2
    bands = np.array_split(np.arange(len(spec_in)), 8)
    change = [10 * np.log10(spec_out[b].sum() / spec_in[b].sum()) for b in bands if spec_in[b].sum() > 0]
    assert np.ptp(change) > 3
    np.testing.assert_array_equal(out, eq(y, sr, str(a_note)))  # the same draw every time

    rev = AudioAugment("reverb=1.5", seed=0)
    r = rev.draws(str(a_note))
    assert 0.1 <= r["rt60_s"] <= 1.5 and 0 <= r["wet"] <= 1
    wet = rev(y, sr, str(a_note))
    assert wet.shape == y.shape and np.all(np.isfinite(wet))
    # a room rings on after the note: the late part of the clip holds more energy than the dry one
    late = slice(int(1.05 * sr), None)
    if r["wet"] > 0.05:
        assert np.sum(wet[late] ** 2) > np.sum(y[late] ** 2)

    noisy = AudioAugment("noise=20", seed=0)
    snr = noisy.draws(str(a_note))["snr_db"]
    assert 20 <= snr <= 50
    n = noisy(y, sr, str(a_note)) - y
    measured = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean(n.astype(np.float64) ** 2))
    assert abs(measured - snr) < 0.5
