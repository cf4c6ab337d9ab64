"""Property-based fuzzing (hypothesis): random bytes and arrays for a bounded number of inputs;
nothing but a :class:`~musicnn.errors.MusicnnError` escapes.

* :func:`musicnn.audio.io.load`, :func:`~musicnn.audio.io.stream` and
  :func:`~musicnn.audio.io.duration` on random bytes, and on WAV, FLAC, OGG and MP3 files
  with bytes flipped, cut or inserted;
* :func:`musicnn.features.compute` on random arrays (any dtype, shape, NaN, infinity) with
  random feature specs (invalid ones included);
* the model-file reader (:func:`musicnn.modelfile.load_with_spec`) on model files with bytes
  flipped, cut or inserted, and on random JSON metadata.

The examples are derandomized (the same inputs every run) and bounded; the counts below keep
the file to a few seconds per target on two cores.
"""

from __future__ import annotations

import io
import json
import struct
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from musicnn.errors import MusicnnError  # noqa: E402

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SR = 8000


def _encoded(fmt: str, subtype: str) -> bytes:
    import soundfile as sf

    t = np.arange(SR // 4) / SR
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), SR, format=fmt, subtype=subtype)
    return buf.getvalue()


SEEDS = {ext: _encoded(fmt, sub) for ext, fmt, sub in
         (("wav", "WAV", "PCM_16"), ("flac", "FLAC", "PCM_16"), ("ogg", "OGG", "VORBIS"), ("mp3", "MP3", "MPEG_LAYER_III"))}


@st.composite
def mutated(draw, seeds: dict[str, bytes]) -> tuple[str, bytes]:
    """A seed file with a few bytes flipped, a cut, or a run of random bytes inserted."""
    ext = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[ext])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "cut", "insert", "header")))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[at:at + draw(st.integers(1, len(data)))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:  # a header field set to an extreme value
            where = draw(st.integers(0, min(60, max(0, len(data) - 4))))
            data[where:where + 4] = struct.pack("<I", draw(st.sampled_from((0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF))))
    return ext, bytes(data)


def _only_musicnn_errors(call) -> None:
    """Run ``call``; a MusicnnError is a fine answer, anything else fails the test.  The outcome
    is recorded for ``--hypothesis-show-statistics``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except MusicnnError as exc:
            event(f"refused: {type(exc).__name__}")
        else:
            event("accepted")


@FUZZ
@given(st.one_of(mutated(SEEDS), st.tuples(st.sampled_from(sorted(SEEDS)), st.binary(max_size=512))))
def test_audio_load_raises_only_musicnn_errors(tmp_path, case):
    from musicnn.audio.io import duration, load, stream

    ext, data = case
    path = tmp_path / f"fuzz.{ext}"
    path.write_bytes(data)
    _only_musicnn_errors(lambda: load(path, sr=16000))
    _only_musicnn_errors(lambda: sum(len(b) for b in stream(path, sr=16000, block_seconds=0.05)))
    _only_musicnn_errors(lambda: duration(path))


KINDS = ("stft", "mel", "logmel", "mfcc", "chroma", "descriptors", "cqt")


def numbers(low: float, high: float):
    """Floats in [low, high], and NaN and the infinities."""
    return st.one_of(st.floats(low, high), st.sampled_from((float("nan"), float("inf"), float("-inf"))))


valid_specs = st.fixed_dictionaries({
    "kind": st.sampled_from(KINDS[:-1]),
    "sr": st.sampled_from((8000, 16000, 22050)),
    "n_fft": st.sampled_from((64, 256, 1024)),
    "hop_length": st.sampled_from((32, 128)),
    "n_mels": st.integers(4, 40),
    "n_mfcc": st.integers(1, 4),
    "deltas": st.integers(0, 2),
    "pooling": st.lists(st.sampled_from(("mean", "std", "min", "max", "median", "skew", "kurtosis")), max_size=3),
    "duration": st.one_of(st.none(), st.floats(0.001, 0.5)),
    "top_db": st.one_of(st.none(), st.floats(1, 120)),
    "norm": st.sampled_from(("none", "clip", "band", "pcen")),
})
wild_specs = st.fixed_dictionaries(
    {"kind": st.sampled_from(KINDS + ("nope",))},
    optional={
        "sr": st.one_of(st.sampled_from((8000, 16000, 22050)), st.integers(-10, 10**6), numbers(-1e9, 1e9)),
        "n_fft": st.one_of(st.sampled_from((64, 256, 512)), st.integers(-4, 2**20)),
        "hop_length": st.one_of(st.sampled_from((32, 128, 256)), st.integers(-4, 2**20)),
        "n_mels": st.one_of(st.sampled_from((8, 16, 40)), st.integers(-1, 5000)),
        "n_mfcc": st.integers(-1, 64),
        "deltas": st.one_of(st.integers(-1, 3), st.just(True), st.just(1.5)),
        "fmin": st.one_of(numbers(-10, 10**5), st.just("low")),
        "fmax": st.one_of(st.none(), numbers(-10, 10**5)),
        "n_bins": st.integers(-1, 2000),
        "n_chroma": st.integers(-1, 400),
        "n_bands": st.integers(-1, 40),
        "pooling": st.one_of(st.lists(st.sampled_from(("mean", "std", "max", "skew", "bogus")), max_size=3),
                             st.just("mean"), st.just(None)),
        "duration": st.one_of(st.none(), numbers(-1, 2), st.just(1e12)),
        "top_db": st.one_of(st.none(), numbers(-5, 120)),
        "norm": st.sampled_from(("none", "clip", "band", "pcen", "loud")),
    },
)
signals = hnp.arrays(
    dtype=st.sampled_from((np.float32, np.float64, np.float16, np.int16, np.int8, np.bool_, np.complex64)),
    shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3000),  # NaN and infinity included
)


@settings(FUZZ, max_examples=120)
@given(st.one_of(valid_specs, valid_specs, wild_specs),
       st.one_of(hnp.arrays(np.float32, st.integers(0, 3000)), signals,
                 st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=200), st.text(max_size=5), st.none()))
def test_compute_raises_only_musicnn_errors(params, y):
    from musicnn.features import FeatureSpec, compute

    params = dict(params)
    if params.get("kind") == "cqt":  # the constant-Q transform is slow: keep it small
        params.update(sr=8000, n_bins=24, hop_length=256, duration=0.25)

    def run():
        spec = FeatureSpec(**params)
        out = compute(y, spec)
        assert out.dtype == np.float32

    _only_musicnn_errors(run)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A small MLP model file with the features it takes."""
    from musicnn.features import preset
    from musicnn.modelfile import save_model
    from musicnn.models import MLPClassifier

    spec = preset("mfcc", duration=0.5, n_mfcc=4, deltas=0)
    X = np.random.default_rng(0).normal(size=(12, spec.dims * 2)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPClassifier(hidden_layer_sizes=(4,), max_epochs=1, progress=False).fit(X, ["a", "b", "c"] * 4)
    path = tmp_path_factory.mktemp("fuzz-model") / "m.safetensors"
    return save_model(path, est, metadata={"feature_spec": spec.to_dict()}).read_bytes()


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)
KEYS = ("format_version", "family", "params", "learned", "feature_spec", "summary")


@settings(FUZZ, max_examples=150)
@given(st.data())
def test_model_reader_raises_only_musicnn_errors(model_file, tmp_path, data):
    from musicnn.modelfile import load_with_spec

    n = struct.unpack("<Q", model_file[:8])[0]
    header = json.loads(model_file[8:8 + n])
    how = data.draw(st.sampled_from(("bytes", "metadata", "entry")))
    if how == "bytes":
        _, raw = data.draw(mutated({"safetensors": model_file}))
    else:
        document = json.loads(header["__metadata__"]["musicnn"])
        if how == "metadata":
            document = data.draw(st.one_of(json_values, st.dictionaries(st.sampled_from(KEYS), json_values)))
        else:  # one entry (or one entry of params / learned / feature_spec) replaced
            key = data.draw(st.sampled_from(KEYS))
            inner = document.get(key)
            if isinstance(inner, dict) and inner and data.draw(st.booleans()):
                inner[data.draw(st.sampled_from(sorted(inner)))] = data.draw(json_values)
            else:
                document[key] = data.draw(json_values)
        new = dict(header)
        new["__metadata__"] = {"musicnn": json.dumps(document)}
        text = json.dumps(new).encode()
        text += b" " * (-len(text) % 8)
        raw = struct.pack("<Q", len(text)) + text + model_file[8 + n:]
    path = tmp_path / "fuzz.safetensors"
    path.write_bytes(raw)
    _only_musicnn_errors(lambda: load_with_spec(path))
