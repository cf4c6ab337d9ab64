"""musicnn.spectral beside librosa: the same spectra, filterbank, decibels, DCT and deltas.

The log-mel and MFCC features no longer call librosa; these tests hold them to librosa's
results on rendered notes: the filterbank, DCT and decibels to float32 rounding, the STFT
power (a float64 FFT, as librosa's) to float32 rounding of each bin.
"""

from __future__ import annotations

import subprocess
import sys

import librosa
import numpy as np
import pytest

from musicnn import spectral
from musicnn.audio.io import load
from musicnn.features import FeatureSpec, compute, preset


@pytest.fixture(scope="module")
def signals(note_paths):
    return [load(p, sr=16000)[0] for p in note_paths[:4]]


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [
    (16000, 1024, 64, 0.0, None), (22050, 2048, 128, 0.0, None), (16000, 512, 40, 50.0, 7000.0),
    (44100, 4096, 96, 20.0, None),
])
def test_mel_filterbank_is_librosas(sr, n_fft, n_mels, fmin, fmax):
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    ours = spectral.mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7 * ref.max())


@pytest.mark.parametrize("n_fft,hop", [(1024, 256), (2048, 512), (512, 160), (1024, 1000)])
def test_stft_power_is_librosas_within_float32_fft_rounding(signals, n_fft, hop):
    for y in signals:
        S = librosa.stft(y, n_fft=n_fft, hop_length=hop)
        ref = S.real ** 2 + S.imag ** 2
        ours = spectral.stft_power(y, n_fft, hop)
        assert ours.shape == ref.shape and ours.dtype == np.float32
        # float64 FFT as librosa's: float32 rounding of each bin, even ~120 dB under the frame's peak
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-30)


def test_decibels_and_dct_are_librosas():
    rng = np.random.default_rng(0)
    power = (np.abs(rng.standard_normal((64, 40))) ** 6).astype(np.float32)
    for top_db in (None, 80.0, 20.0):
        np.testing.assert_array_equal(spectral.power_to_db(power, top_db),
                                      librosa.power_to_db(power, ref=1.0, top_db=top_db))
    logmel = librosa.power_to_db(power)
    np.testing.assert_allclose(spectral.dct(logmel, 20), librosa.feature.mfcc(S=logmel, n_mfcc=20), atol=1e-4)


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("width", [3, 5, 9])
def test_deltas_are_librosas_savitzky_golay(order, width):
    rng = np.random.default_rng(order * 10 + width)
    data = rng.standard_normal((13, 31)).astype(np.float32).cumsum(axis=1)
    ref = librosa.feature.delta(data, order=order, width=width, mode="interp")
    np.testing.assert_allclose(spectral.delta(data, order, width), ref, rtol=1e-5, atol=1e-5)


def test_delta_refuses_a_window_longer_than_the_frames():
    with pytest.raises(ValueError, match="width=9"):
        spectral.delta(np.zeros((3, 5), np.float32), 1, 9)


@pytest.mark.parametrize("name,changes", [
    ("logmel", {}), ("logmel", {"top_db": None, "norm": "band"}), ("mfcc", {}), ("mfcc", {"pooling": ()}),
    ("logmel", {"sr": 22050, "n_fft": 2048, "hop_length": 512, "n_mels": 128}),
])
def test_features_equal_librosas_pipeline(signals, name, changes):
    """The features as librosa computes them (melspectrogram, power_to_db, mfcc, delta), within
    float32 rounding."""
    spec = preset(name, **changes)
    for y in signals:
        ours = compute(load_at(y, spec.sr), spec)
        ref = librosa_features(load_at(y, spec.sr), spec)
        np.testing.assert_allclose(ours, ref, atol=1e-3, rtol=1e-5)


def load_at(y: np.ndarray, sr: int) -> np.ndarray:
    return y if sr == 16000 else librosa.resample(y, orig_sr=16000, target_sr=sr)


def librosa_features(y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    from musicnn.features import fit_length, pool

    y = fit_length(y, spec)
    mel = librosa.feature.melspectrogram(y=y, sr=spec.sr, n_fft=spec.n_fft, hop_length=spec.hop_length,
                                         n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax)
    db = librosa.power_to_db(mel, ref=1.0, top_db=spec.top_db)
    if spec.norm == "band":
        db = db - db.mean(axis=1, keepdims=True)
    if spec.kind == "mfcc":
        mfcc = librosa.feature.mfcc(S=db, n_mfcc=spec.n_mfcc)
        width = min(9, mfcc.shape[1] if mfcc.shape[1] % 2 else mfcc.shape[1] - 1)
        db = np.concatenate([mfcc] + [librosa.feature.delta(mfcc, order=k, width=width, mode="interp")
                                      for k in range(1, spec.deltas + 1)])
    frames = np.ascontiguousarray(db.T, dtype=np.float32)
    return pool(frames, spec.pooling) if spec.pooling else frames


def test_log_mel_and_mfcc_features_do_not_import_librosa(a_note):
    code = (
        "import sys\n"
        "from musicnn.features import extract, preset\n"
        f"extract({str(a_note)!r}, preset('logmel'))\n"
        f"extract({str(a_note)!r}, preset('mfcc'))\n"
        "assert 'librosa' not in sys.modules, 'librosa was imported'\n"
        "assert 'scipy.signal' not in sys.modules, 'scipy.signal was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
