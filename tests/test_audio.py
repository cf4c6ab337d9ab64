"""Audio loading: formats, resampling, mix-down, offsets, and every bad input."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from musicnn.audio.io import TruncatedAudioWarning, duration, load
from musicnn.errors import AudioError, FeatureError


@pytest.fixture(scope="module")
def note_signal(a_note):
    y, sr = sf.read(a_note, dtype="float32")
    return y, sr


@pytest.mark.parametrize("fmt,ext", [("WAV", "wav"), ("FLAC", "flac"), ("OGG", "ogg"), ("MP3", "mp3")])
def test_formats_load_and_resample(tmp_path, note_signal, fmt, ext):
    y, sr = note_signal
    path = tmp_path / f"note.{ext}"
    sf.write(path, y, sr, format=fmt)
    z, zsr = load(path, sr=22050)
    assert zsr == 22050 and z.dtype == np.float32 and z.ndim == 1
    assert abs(len(z) - len(y) * 22050 / sr) <= 22050 * 0.06  # MP3 adds encoder delay
    # the loudness survives each codec (RMS within 10 %)
    assert np.sqrt(np.mean(z**2)) == pytest.approx(np.sqrt(np.mean(y**2)), rel=0.1)


def test_native_rate_and_exact_wav(note_signal, a_note):
    y, sr = note_signal
    z, zsr = load(a_note, sr=None)
    assert zsr == sr == 16000
    np.testing.assert_array_equal(z, y)


def test_stereo_mixdown_and_channels(tmp_path, note_signal):
    y, sr = note_signal
    stereo = np.stack([y, 0.5 * y], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, sr, subtype="FLOAT")
    mono, _ = load(path, sr=None)
    np.testing.assert_allclose(mono, 0.75 * y, atol=1e-6)
    both, _ = load(path, sr=None, mono=False)
    assert both.shape == (2, len(y))


def test_offset_and_duration(a_note, note_signal):
    y, sr = note_signal
    z, _ = load(a_note, sr=None, offset=0.25, duration=0.5)
    np.testing.assert_array_equal(z, y[4000:12000])
    assert duration(a_note) == pytest.approx(len(y) / sr)


def test_offset_past_end(a_note):
    with pytest.raises(AudioError, match="past the end"):
        load(a_note, offset=100.0)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match=r"missing\.wav: no such file"):
        load(tmp_path / "missing.wav")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav: the file is empty"):
        load(path)


def test_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a text file, not audio\n" * 20)
    with pytest.raises(AudioError, match=r"notes\.wav: not a readable audio file"):
        load(path)


def test_corrupt_flac(tmp_path, note_signal):
    y, sr = note_signal
    path = tmp_path / "broken.flac"
    sf.write(path, y, sr, format="FLAC")
    data = bytearray(path.read_bytes())
    data[200:] = bytes(len(data) - 200)  # keep the header, destroy the frames
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError, match=r"broken\.flac"):
        load(path)


def test_zero_samples(tmp_path):
    path = tmp_path / "nothing.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match=r"nothing\.wav: holds no audio samples"):
        load(path)


def test_non_finite_samples(tmp_path, note_signal):
    y, sr = note_signal
    bad = y.copy()
    bad[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, bad, sr, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav: holds non-finite samples"):
        load(path)


def test_truncated_wav_warns_and_reads(tmp_path, note_signal):
    y, sr = note_signal
    path = tmp_path / "cut.wav"
    sf.write(path, y, sr, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.warns(TruncatedAudioWarning, match=r"cut\.wav: truncated"):
        z, _ = load(path, sr=None)
    assert 0.4 * len(y) < len(z) < 0.6 * len(y)


def test_truncated_flac_warns_and_reads(tmp_path, note_signal):
    y, sr = note_signal
    path = tmp_path / "cut.flac"
    sf.write(path, y, sr, format="FLAC")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    with pytest.warns(TruncatedAudioWarning, match=r"cut\.flac"):
        z, _ = load(path, sr=None)
    assert 0 < len(z) < len(y)


def test_silent_file(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(16000, dtype=np.float32), 16000)
    y, _ = load(path)  # allowed by default
    assert not y.any()
    with pytest.raises(AudioError, match=r"silence\.wav: is silent"):
        load(path, allow_silent=False)


@pytest.mark.parametrize("sr", [0, -22050, 12.5, 10_000_000])
def test_bad_sample_rate(a_note, sr):
    with pytest.raises(FeatureError, match="sr="):
        load(a_note, sr=sr)


def test_low_rate_file_is_upsampled(tmp_path, note_signal):
    y, sr = note_signal
    path = tmp_path / "low.wav"
    low = y[::2]  # 8 kHz
    sf.write(path, low, 8000)
    z, zsr = load(path, sr=16000)
    assert zsr == 16000 and abs(len(z) - 2 * len(low)) <= 2


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(AudioError, match="is a folder"):
        load(tmp_path)


def test_wav_header_parser_reads_declared_frames(tmp_path):
    from musicnn.audio.io import _wav_declared_frames

    path = tmp_path / "x.wav"
    sf.write(path, np.zeros(1234, dtype=np.float32), 16000, subtype="PCM_16")
    assert _wav_declared_frames(path) == 1234
    assert _wav_declared_frames(tmp_path / "missing.wav") is None


@pytest.mark.parametrize("blocks", ["one read", "many reads"])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "PCM_U8"])
def test_integer_pcm_decodes_to_libsndfiles_float_values(tmp_path, subtype, blocks, monkeypatch):
    """PCM is read as integers and scaled here (10x faster than libsndfile's float conversion),
    each read mixed down into its place: the very same float32 samples."""
    import soundfile as sf

    import musicnn.audio.io as io

    if blocks == "many reads":
        monkeypatch.setattr(io, "_BLOCK", 1024)  # 4000 frames: 4 reads

    rng = np.random.default_rng(7)
    x = np.clip(rng.normal(0, 0.3, (4000, 2)), -1, 0.999).astype(np.float32)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, x, 16000, subtype=subtype)
    ref = sf.read(path, dtype="float32", always_2d=True)[0]
    stereo, sr = load(path, sr=None, mono=False)
    assert sr == 16000
    np.testing.assert_array_equal(stereo, ref.T)
    mono, _ = load(path, sr=None)
    np.testing.assert_array_equal(mono, (ref[:, 0] + ref[:, 1]) * np.float32(0.5))
