"""Features: the spec, every kind, pooling, the short-clip rule, agreement with librosa."""

from __future__ import annotations

import json

import librosa
import numpy as np
import pytest

from musicnn.audio.io import load
from musicnn.errors import FeatureError
from musicnn.features import KINDS, POOLING_STATS, FeatureSpec, compute, extract, fit_length, pool, preset


@pytest.fixture(scope="module")
def y(a_note):
    return load(a_note, sr=16000)[0]


def spec_for(kind, **kw):
    return FeatureSpec(kind=kind, sr=16000, n_fft=1024, hop_length=256, n_mels=64, **kw)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_time_major_with_declared_dims(y, kind):
    spec = spec_for(kind)
    feats = compute(y, spec)
    frames = 1 + len(y) // spec.hop_length
    assert feats.shape == (frames, spec.dims)
    assert feats.dtype == np.float32 and np.isfinite(feats).all()


def test_logmel_and_mfcc_match_librosa(y):
    spec = spec_for("logmel")
    # musicnn floors dB at an absolute -100 dB (top_db=None), not 80 dB under each clip's peak
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=1024, hop_length=256, n_mels=64)
    ref = librosa.power_to_db(mel, top_db=None)
    np.testing.assert_allclose(compute(y, spec).T, ref, atol=1e-3)
    ref_mfcc = librosa.feature.mfcc(S=ref, n_mfcc=13)
    np.testing.assert_allclose(compute(y, spec_for("mfcc", n_mfcc=13)).T, ref_mfcc, atol=1e-3)


def test_mfcc_deltas_stack(y):
    base = compute(y, spec_for("mfcc", n_mfcc=13))
    full = compute(y, spec_for("mfcc", n_mfcc=13, deltas=2))
    assert full.shape[1] == 39
    np.testing.assert_array_equal(full[:, :13], base)
    np.testing.assert_allclose(full[:, 13:26].T, librosa.feature.delta(base.T, width=9, mode="interp"), atol=1e-4)


def test_descriptors_are_in_physical_ranges(y):
    d = compute(y, spec_for("descriptors"))
    centroid, rolloff, flatness = d[:, 0], d[:, 2], d[:, 3]
    assert (centroid >= 0).all() and (centroid <= 8000).all()
    assert (rolloff <= 8000).all()
    assert ((flatness >= 0) & (flatness <= 1)).all()


def test_chroma_of_a_note_peaks_at_its_pitch_class(notes):
    # a rendered note named ..._n<pitch>_...: its chroma must peak at pitch % 12
    path = next(p for p in sorted(notes.rglob("*.wav")) if p.parent.name == "organ")
    pitch = int(path.stem.split("_n")[1][:3])
    spec = FeatureSpec(kind="chroma", sr=16000, n_fft=4096, hop_length=1024, pooling=("mean",))
    assert int(np.argmax(extract(path, spec))) == pitch % 12


def test_pooling_stats(y):
    frames = compute(y, spec_for("logmel"))
    pooled = compute(y, spec_for("logmel", pooling=POOLING_STATS))
    assert pooled.shape == (64 * len(POOLING_STATS),)
    np.testing.assert_allclose(pooled[:64], frames.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(pooled[64:128], frames.std(axis=0), rtol=1e-4)
    np.testing.assert_allclose(pool(frames, ["max"]), frames.max(axis=0))
    with pytest.raises(FeatureError, match="pooling='mode'"):
        pool(frames, ["mode"])


def test_spec_json_round_trip_hash_and_frozen():
    spec = preset("mfcc", duration=1.5)
    again = FeatureSpec.from_json(spec.to_json())
    assert again == spec and hash(again) == hash(spec) and again.hash == spec.hash
    assert json.loads(spec.to_json())["pooling"] == ["mean", "std"]
    assert spec.replace(n_mfcc=13).hash != spec.hash
    with pytest.raises(AttributeError):
        spec.kind = "mel"  # frozen
    assert len({spec, again, spec.replace(n_mfcc=13)}) == 2


@pytest.mark.parametrize(
    "kw,msg",
    [
        ({"kind": "wavelet"}, "kind='wavelet'"),
        ({"n_fft": 0}, "n_fft=0 must be"),
        ({"hop_length": 4096, "n_fft": 1024}, "hop_length=4096"),
        ({"deltas": 3}, "deltas=3"),
        ({"sr": 0}, "sr=0"),
        ({"fmax": 50000.0}, "fmax=50000"),
        ({"pooling": ("mean", "mode")}, "pooling='mode'"),
        ({"duration": -1.0}, "duration=-1"),
        ({"kind": "mfcc", "n_mfcc": 80, "n_mels": 40}, "n_mfcc=80"),
    ],
)
def test_invalid_specs_name_the_value(kw, msg):
    with pytest.raises(FeatureError, match=msg):
        FeatureSpec(**kw)


def test_unknown_preset_and_keys():
    with pytest.raises(FeatureError, match="valid: logmel"):
        preset("nope")
    with pytest.raises(FeatureError, match="unknown feature parameter"):
        FeatureSpec.from_dict({"kind": "mel", "n_melz": 3})


def test_short_clip_is_padded_to_the_window(y):
    spec = spec_for("logmel")
    tiny = y[:100]
    feats = compute(tiny, spec)
    assert feats.shape == (1 + 1024 // 256, 64)
    np.testing.assert_array_equal(fit_length(tiny, spec)[100:], 0)
    # a single sample still gives pooled MFCCs with deltas
    assert compute(y[:1], spec_for("mfcc", deltas=2, pooling=("mean", "std"))).shape == (2 * 60,)


def test_duration_crops_and_pads(y):
    spec = spec_for("logmel", duration=0.5)
    assert compute(y, spec).shape == compute(y[:3000], spec).shape == (1 + 8000 // 256, 64)


def test_compute_rejects_bad_signals(y):
    with pytest.raises(FeatureError, match="mono"):
        compute(np.stack([y, y]), spec_for("mel"))
    bad = y.copy()
    bad[5] = np.inf
    with pytest.raises(FeatureError, match="non-finite"):
        compute(bad, spec_for("mel"))


def test_top_db_and_norms_of_logmel(y):
    from musicnn.features import FeatureSpec, compute

    base = dict(kind="logmel", sr=22050, n_fft=1024, hop_length=512, n_mels=40)
    floor = compute(y, FeatureSpec(**base))
    ranged = compute(y, FeatureSpec(**base, top_db=60))
    assert ranged.min() >= ranged.max() - 60 - 1e-3 and floor.min() < ranged.min()
    clip = compute(y, FeatureSpec(**base, top_db=80, norm="clip"))
    assert abs(clip.max()) < 1e-4 and clip.min() >= -80 - 1e-3
    # band: a static equaliser (a constant gain per band) cancels out
    band = compute(y, FeatureSpec(**base, norm="band"))
    np.testing.assert_allclose(band.mean(axis=0), 0, atol=1e-3)
    head = y[: len(y) // 3]  # the sounding part: no cell at the -100 dB floor
    louder = compute(head * 3.0, FeatureSpec(**base, norm="band"))
    np.testing.assert_allclose(louder, compute(head, FeatureSpec(**base, norm="band")), atol=1e-2)
    pcen = compute(y, FeatureSpec(**base, norm="pcen"))
    assert pcen.shape == floor.shape and np.all(np.isfinite(pcen)) and pcen.min() >= 0
    mfcc = compute(y, FeatureSpec(**{**base, "kind": "mfcc"}, top_db=80, norm="band"))
    assert mfcc.shape[1] == 20
    assert "top_db=80" in FeatureSpec(**base, top_db=80).describe()
    assert FeatureSpec(**base, top_db=80).hash != FeatureSpec(**base).hash


@pytest.mark.parametrize("kw, msg", [({"top_db": 0}, "top_db=0 must be > 0"),
                                     ({"norm": "loud"}, "norm='loud' is not a normalisation")])
def test_invalid_level_options_name_the_value(kw, msg):
    from musicnn.features import FeatureSpec

    with pytest.raises(FeatureError, match=msg):
        FeatureSpec(**kw)
