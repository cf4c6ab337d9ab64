"""Model files cannot hurt: crafted files are refused, before anything is allocated, with one
line naming the file (issue 12, cases 5-7 and the repeated class names).

Every crafted file is made here from a small model trained for the test: pickles and
``torch.save`` archives that would write a file when unpickled, forged safetensors headers,
float tensors relabelled as integers, NaN weights, hyper-parameters that ask for a network
of 40 billion values, metadata that is malformed, nested 100,000 deep, of an unknown family
or a newer format, without a feature spec or with one out of range, repeated class names.
"""

from __future__ import annotations

import json
import pickle
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from musicnn.cli import main
from musicnn.errors import ModelFileError

CLASSES = ("bass", "flute", "guitar", "organ")


# -- safetensors surgery ------------------------------------------------------------------

def read_parts(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_parts(path: Path, header: dict | bytes, data: bytes) -> Path:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def with_document(src: Path, dst: Path, edit) -> Path:
    """A copy of ``src`` whose musicnn metadata is ``edit(document)`` (a dict, or the JSON text)."""
    header, data = read_parts(src)
    document = json.loads(header["__metadata__"]["musicnn"])
    new = edit(document)
    new = document if new is None else new
    header["__metadata__"]["musicnn"] = new if isinstance(new, str) else json.dumps(new)
    return write_parts(dst, header, data)


def with_tensor(src: Path, dst: Path, name: str, *, dtype: str | None = None, fill: float | None = None) -> Path:
    """A copy of ``src`` whose tensor ``name`` is relabelled ``dtype`` or filled with ``fill``."""
    header, data = read_parts(src)
    entry = header[name]
    if dtype is not None:
        entry["dtype"] = dtype
    if fill is not None:
        start, end = entry["data_offsets"]
        kind = {"F32": np.float32, "F64": np.float64}[entry["dtype"]]
        data = data[:start] + np.full((end - start) // np.dtype(kind).itemsize, fill, dtype=kind).tobytes() + data[end:]
    return write_parts(dst, header, data)


class WritesAFile:
    """Unpickled, this would create the file ``marker``."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


# -- the models the crafted files start from ---------------------------------------------------

@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A small MLP and a perceptron saved with the features of the ``mfcc`` preset."""
    from musicnn.features import preset
    from musicnn.modelfile import save_model
    from musicnn.models import MLPClassifier, Perceptron

    folder = tmp_path_factory.mktemp("models")
    spec = preset("mfcc", duration=1.0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, spec.dims * 2)).astype(np.float32)
    y = np.array(CLASSES * 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs do not converge
        mlp = MLPClassifier(hidden_layer_sizes=(16,), max_epochs=2, progress=False).fit(X, y)
        perceptron = Perceptron(max_epochs=2, progress=False).fit(X, y)
    meta = {"feature_spec": spec.to_dict()}
    return {"mlp": save_model(folder / "mlp.safetensors", mlp, metadata=meta),
            "perceptron": save_model(folder / "perceptron.safetensors", perceptron, metadata=meta),
            "folder": folder}


def _crafted(models, tmp: Path) -> dict[str, tuple[Path, str]]:
    """name -> (crafted file, the message its loading gives after '<file>: ')."""
    mlp, perceptron = models["mlp"], models["perceptron"]
    marker = str(tmp / "pwned")
    cases: dict[str, tuple[Path, str]] = {}

    def case(name: str, path: Path, message: str) -> None:
        cases[name] = (path, message)

    import torch

    pickled = tmp / "pickle.safetensors"
    pickled.write_bytes(pickle.dumps(WritesAFile(marker)))
    case("pickle", pickled, r"not a valid safetensors model file, or truncated/corrupt")
    archive = tmp / "torch-save.safetensors"
    torch.save({"weights": WritesAFile(marker)}, archive)
    case("torch.save", archive, r"not a valid safetensors model file, or truncated/corrupt")
    header, data = read_parts(mlp)
    raw = mlp.read_bytes()
    long = tmp / "header-too-long.safetensors"
    long.write_bytes(struct.pack("<Q", 10**12) + raw[8:])
    case("header length past the end", long, r"not a valid safetensors model file")
    case("header not JSON", write_parts(tmp / "header-not-json.safetensors", b"{not json", data),
         r"not a valid safetensors model file")
    overlap = json.loads(json.dumps(header))
    first, second = [k for k in overlap if k != "__metadata__"][:2]
    overlap[second]["data_offsets"] = overlap[first]["data_offsets"]
    case("overlapping offsets", write_parts(tmp / "overlap.safetensors", overlap, data),
         r"not a valid safetensors model file")
    short = json.loads(json.dumps(header))
    short[first]["shape"] = [2**31, 2**31]
    case("shape past the data", write_parts(tmp / "shape.safetensors", short, data),
         r"not a valid safetensors model file")
    case("truncated", write_parts(tmp / "truncated.safetensors", header, data[: len(data) // 2]),
         r"not a valid safetensors model file")
    case("standardisation relabelled U8",
         write_parts(tmp / "u8.safetensors", _relabel_bytes(header, "scaler.mean", "U8", 4), data),
         r"the array scaler.mean is stored as uint8, not float32; the file is corrupt")
    case("a type no model stores",
         write_parts(tmp / "f8.safetensors", _relabel_bytes(header, "scaler.mean", "F8_E4M3", 4), data),
         r"arrays of type F8_E4M3, which no musicnn model stores; the file is corrupt")
    case("float weights relabelled I32", with_tensor(mlp, tmp / "i32.safetensors", "module.body.0.weight", dtype="I32"),
         r"the array module.body.0.weight is int32 \(16, 120\), but this network holds float32 \(16, 120\); "
         r"the file is corrupt")
    case("classic weights relabelled I64", with_tensor(perceptron, tmp / "i64.safetensors", "weights_", dtype="I64"),
         r"the array weights_ of Perceptron is stored as int64, but it holds floating-point values; the file is corrupt")
    case("NaN weights", with_tensor(mlp, tmp / "nan.safetensors", "module.head.weight", fill=np.nan),
         r"the array module.head.weight holds non-finite weights \(NaN or infinity\); "
         r"the file is corrupt or the training diverged")
    case("infinite classic weights", with_tensor(perceptron, tmp / "inf.safetensors", "weights_", fill=np.inf),
         r"the array weights_ of Perceptron holds non-finite values \(NaN or infinity\)")
    case("NaN standardisation", with_tensor(mlp, tmp / "nan-scale.safetensors", "scaler.scale", fill=np.nan),
         r"the standardisation arrays hold non-finite or non-positive values")
    case("200000 x 200000 hidden layers",
         with_document(mlp, tmp / "huge.safetensors", lambda d: d["params"].update(hidden_layer_sizes=[200000, 200000])),
         r"its hyper-parameters build a network of 40,025,200,004 values but the file holds 2,004; the file is corrupt")
    case("a million layers",
         with_document(mlp, tmp / "layers.safetensors", lambda d: d["params"].update(hidden_layer_sizes=[1] * 10**5)),
         r"params.hidden_layer_sizes lists 100000 values but the file holds 6 arrays; the file is corrupt")
    case("metadata not JSON", with_document(mlp, tmp / "bad-json.safetensors", lambda d: "{'family': "),
         r"the musicnn metadata is not valid JSON")
    case("metadata 100,000 deep",
         with_document(mlp, tmp / "deep.safetensors", lambda d: '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"),
         r"the musicnn metadata is nested more than 32 levels deep; the file is corrupt or was not written by musicnn")
    case("metadata 40 deep",
         with_document(mlp, tmp / "deep40.safetensors", lambda d: {**d, "summary": json.loads("[" * 40 + "]" * 40)}),
         r"nested more than 32 levels deep")
    case("metadata a list", with_document(mlp, tmp / "list.safetensors", lambda d: "[1, 2]"),
         r"the musicnn metadata is not a JSON object")
    case("no feature_spec", with_document(mlp, tmp / "no-spec.safetensors", lambda d: d.pop("feature_spec") and None),
         r"the model file records no feature_spec \(the features its model takes\)")
    case("feature_spec not an object", with_document(mlp, tmp / "spec-list.safetensors",
                                                     lambda d: d.update(feature_spec=[1])),
         r"the feature_spec entry is not a JSON object")
    case("duration=1e12", with_document(mlp, tmp / "duration.safetensors",
                                        lambda d: d["feature_spec"].update(duration=1e12)),
         r"duration=1000000000000\.0 must be > 0 and at most 3600 seconds")
    case("n_fft=2**40", with_document(mlp, tmp / "n_fft.safetensors", lambda d: d["feature_spec"].update(n_fft=2**40)),
         r"n_fft=1099511627776 is too large \(at most 65536\)")
    case("spec of other features", with_document(mlp, tmp / "other-spec.safetensors",
                                                 lambda d: d["feature_spec"].update(n_mfcc=13)),
         r"the recorded feature_spec gives 78 values per clip but the model takes 120")
    case("unknown family", with_document(mlp, tmp / "family.safetensors", lambda d: d.update(family="kazoo")),
         r"unknown model family 'kazoo'.*was it written by a newer musicnn\?")
    case("newer format", with_document(mlp, tmp / "newer.safetensors", lambda d: d.update(format_version=99)),
         r"model file format 99 is newer than this musicnn reads \(up to 1\); upgrade musicnn")
    case("no format version", with_document(mlp, tmp / "no-version.safetensors", lambda d: d.pop("format_version") and None),
         r"has no valid format_version")
    case("repeated class names", with_document(mlp, tmp / "classes.safetensors",
                                               lambda d: d["learned"].update(classes=["bass", "bass", "flute", "organ"])),
         r"the class list names 'bass' more than once; the file is corrupt")
    case("repeated classic class names", with_document(
        perceptron, tmp / "classic-classes.safetensors",
        lambda d: d["learned"]["text_arrays"]["classes_"].update(values=["bass", "bass", "flute", "organ"])),
        r"the class list names 'bass' more than once")
    case("no classes", with_document(mlp, tmp / "no-classes.safetensors", lambda d: d["learned"].pop("classes") and None),
         r"the stored arrays do not fit a 'mlp' model \(KeyError: 'classes'\)")
    case("input shape of another network", with_document(mlp, tmp / "shape-meta.safetensors",
                                                         lambda d: d["learned"].update(input_shape=[64], n_features_in=64)),
         r"the array module.body.0.weight is float32 \(16, 120\), but this network holds float32 \(16, 64\)")
    case("a learned name that replaces a method", with_document(
        perceptron, tmp / "method.safetensors", lambda d: d["learned"]["values"].update(predict=1)),
        r"'predict' is not a learned attribute of Perceptron; the file is corrupt")
    return cases


def _relabel_bytes(header: dict, name: str, dtype: str, factor: int) -> dict:
    """``header`` with tensor ``name`` relabelled as ``dtype`` of ``factor`` times more elements (same bytes)."""
    out = json.loads(json.dumps(header))
    out[name]["dtype"] = dtype
    out[name]["shape"] = [out[name]["shape"][0] * factor]
    return out


@pytest.fixture(scope="module")
def crafted(models, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crafted")
    return _crafted(models, tmp), tmp


def test_the_models_the_files_are_made_from_load(models):
    from musicnn.modelfile import load_with_spec

    for name in ("mlp", "perceptron"):
        est, spec, _ = load_with_spec(models[name])
        assert list(est.classes_) == list(CLASSES) and spec.duration == 1.0


def test_every_crafted_file_is_refused_by_the_library(crafted):
    from musicnn.modelfile import load_with_spec

    cases, tmp = crafted
    for name, (path, message) in cases.items():
        with pytest.raises(ModelFileError) as info:
            load_with_spec(path)
        text = str(info.value)
        assert text.startswith(f"{path}: ") and "\n" not in text, (name, text)
        assert re.search(message, text), (name, text)
    assert not (tmp / "pwned").exists()  # nothing was unpickled


@pytest.mark.parametrize("command", ["info", "classify", "embed", "evaluate"])
def test_every_crafted_file_is_one_line_in_every_command(crafted, command, a_note, notes, tmp_path):
    cases, tmp = crafted
    runner = CliRunner()
    for name, (path, message) in cases.items():
        args = {"info": ["info", path], "classify": ["classify", path, a_note],
                "embed": ["embed", path, a_note, "--out", tmp_path / "e.npz"],
                "evaluate": ["evaluate", path, "--data", notes, "--cache-dir", tmp_path / "c"]}[command]
        if not str(path).endswith(".safetensors"):
            continue
        result = runner.invoke(main, ["-q", *map(str, args)])
        if command == "info" and name == "no feature_spec":  # info describes what the file holds
            assert result.exit_code == 0 and "family: mlp" in result.output, result.output
            continue
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1, (name, result.output)
        assert lines[0].startswith(f"Error: {path}: ") and re.search(message, lines[0]), (name, lines[0])
    assert not (tmp / "pwned").exists()
    assert not (tmp_path / "e.npz").exists()


def test_the_validation_runs_before_any_allocation(models, tmp_path, monkeypatch):
    """A file asking for a huge network is refused without building it: the network is laid out
    on torch's meta device first."""
    from musicnn.modelfile import load_model
    from musicnn.models.deep import base

    path = with_document(models["mlp"], tmp_path / "huge.safetensors",
                         lambda d: d["params"].update(hidden_layer_sizes=[200000, 200000]))
    built = []
    real = base.TorchClassifier._initial_module
    monkeypatch.setattr(base.TorchClassifier, "_initial_module", lambda self, *a: built.append(a) or real(self, *a))
    with pytest.raises(ModelFileError, match="40,025,200,004 values"):
        load_model(path)
    assert built == []


def test_every_family_still_round_trips(tmp_path):
    """The checks refuse no model that musicnn saved: every registered family, saved and loaded."""
    import inspect

    from musicnn.features import FeatureSpec
    from musicnn.modelfile import load_with_spec, save_model
    from musicnn.models import REGISTRY, estimator_for, get_estimator_class

    rng = np.random.default_rng(1)
    y = np.array(["a", "b", "c"] * 8)
    pooled = FeatureSpec(kind="mfcc", sr=16000, n_fft=512, hop_length=256, n_mels=16, n_mfcc=4, pooling=("mean", "std"))
    frames = FeatureSpec(kind="logmel", sr=16000, n_fft=512, hop_length=256, n_mels=8, duration=0.25)
    for name, info in REGISTRY.items():
        accepted = inspect.signature(get_estimator_class(name).__init__).parameters
        params = {k: v for k, v in (("max_epochs", 1), ("progress", False)) if k in accepted}
        if name == "hebbian":
            params["n_components"] = 4
        if name in ("cnn", "crnn"):
            params["channels"] = (2, 2)
        seq = info.features == "logmel"
        spec = frames if seq else pooled
        X = rng.normal(size=(24, 16, 8) if seq else (24, 8)).astype(np.float32)
        if name == "hopfield":
            X = (X > 0).astype(np.float32)
        if name in ("art", "artmap"):
            X = np.abs(X) / 4
        est = estimator_for(name, params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y) if info.kind == "supervised" or name == "som" else est.fit(X)
        path = save_model(tmp_path / f"{name}.safetensors", est, metadata={"feature_spec": spec.to_dict()})
        loaded, _, _ = load_with_spec(path)
        assert type(loaded) is type(est), name

