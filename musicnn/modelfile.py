"""Model files: one ``.safetensors`` file of arrays whose metadata holds JSON.

The safetensors header's metadata key ``"musicnn"`` holds a JSON object::

    {"format_version": 1, "family": "mlp", "params": {...}, "learned": {...},
     ...whatever the caller adds: "feature_spec", "summary", ...}

``params`` are the estimator's hyper-parameters (``get_params``), ``learned`` its
non-array learned state (``learned_metadata``: class names, input shape, history).
Loading rebuilds the estimator from the registry and restores its arrays; nothing is
ever unpickled.  :func:`read_metadata` reads only the JSON and does not import torch;
:func:`load_with_spec` also rebuilds the feature spec the model was trained on,
:func:`load_predictor` loads a CNN or MLP for inference as the same network run in numpy
(no torch import), and :func:`describe_model` says what a model file holds.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from musicnn.atomic import atomic_path
from musicnn.errors import ConfigError, FeatureError, ModelFileError
from musicnn.models.state import params_from_json, tuples_from_json

__all__ = [
    "FORMAT_VERSION",
    "METADATA_KEY",
    "describe_model",
    "load_model",
    "load_predictor",
    "load_with_spec",
    "read_metadata",
    "receptive_field_seconds",
    "save_model",
]

FORMAT_VERSION = 1
METADATA_KEY = "musicnn"
_RESERVED = ("format_version", "family", "params", "learned")

#: Deepest nesting of lists and objects a model file's metadata may hold (musicnn writes 4-5).
MAX_JSON_DEPTH = 32
#: Array types a model file may hold (safetensors' names).
_DTYPES = frozenset({"F16", "BF16", "F32", "F64", "I8", "I16", "I32", "I64", "U8", "BOOL"})
#: Most values one example's input may have (a spectrogram of an hour at 1024 bins is 1e8),
#: and the most for which loading runs the model once on a test input.
_MAX_INPUT, _SMOKE_INPUT = 10**8, 10**6


def _to_json(value: Any, where: str) -> Any:
    """Convert ``value`` to plain JSON types; non-finite floats become None."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist(), where)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _to_json(dataclasses.asdict(value), where)
    if isinstance(value, dict):
        return {str(k): _to_json(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ConfigError(
        f"{where}={value!r} cannot be stored in a model file (type {type(value).__name__} "
        "is not JSON-able)"
    )


def save_model(path: str | os.PathLike, estimator: Any, *, metadata: dict[str, Any] | None = None) -> Path:
    """Write a fitted estimator to one ``.safetensors`` file, atomically.

    Parameters
    ----------
    path : str or PathLike
        Destination; its folder is created if needed.  An existing file is replaced
        only once the new one is completely written.
    estimator : TorchClassifier
        A fitted estimator of a registered family (see :mod:`musicnn.models`).
    metadata : dict, optional
        Extra JSON-able entries stored beside the reserved ones, e.g. ``feature_spec``
        and ``summary``.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ConfigError
        Unregistered or unfitted estimator, reserved or non-JSON-able metadata.
    ModelFileError
        The file cannot be written.
    """
    import torch
    from safetensors.torch import save as to_bytes
    from sklearn.exceptions import NotFittedError

    from musicnn.models import family_of

    path = Path(path)
    metadata = dict(metadata or {})
    clash = [k for k in _RESERVED if k in metadata]
    if clash:
        raise ConfigError(f"metadata keys {clash} are reserved by the model file format")
    family = family_of(estimator)
    try:
        arrays = estimator.state_arrays()
        learned = estimator.learned_metadata()
    except NotFittedError as err:
        raise ConfigError(f"cannot save {type(estimator).__name__} to {path}: it is not fitted") from err
    document = {
        "format_version": FORMAT_VERSION,
        "family": family,
        "params": _to_json(estimator.get_params(deep=False), "params"),
        "learned": _to_json(learned, "learned"),
        **{k: _to_json(v, k) for k, v in metadata.items()},
    }
    tensors = {}
    for name, value in arrays.items():
        tensor = value if isinstance(value, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(value))
        tensors[name] = tensor.detach().cpu().contiguous().clone()  # clone: no shared storage
    payload = to_bytes(tensors, metadata={METADATA_KEY: json.dumps(document, allow_nan=False)})

    try:
        with atomic_path(path, fsync=True) as tmp:
            tmp.write_bytes(payload)
    except OSError as err:
        raise ModelFileError(f"{path}: cannot write the model file ({err.strerror or err})") from err
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Read the JSON metadata of a model file without loading its arrays.

    Returns
    -------
    dict
        ``format_version``, ``family``, ``params``, ``learned`` and the caller's entries.

    Raises
    ------
    ModelFileError
        Missing, unreadable, truncated or corrupt file; a safetensors file without
        musicnn metadata; a format newer than this musicnn reads.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: model file not found")
    if not path.is_file():
        raise ModelFileError(f"{path}: not a file; give the path of a .safetensors model file")
    try:
        with safe_open(str(path), framework="numpy") as fh:
            raw = fh.metadata() or {}
    except OSError as err:
        raise ModelFileError(f"{path}: cannot read the model file ({err.strerror or err})") from err
    except Exception as err:  # safetensors raises its own SafetensorError for bad headers
        raise ModelFileError(
            f"{path}: not a valid safetensors model file, or truncated/corrupt ({err}); "
            "save or copy the model again"
        ) from err
    if METADATA_KEY not in raw:
        raise ModelFileError(
            f"{path}: a safetensors file without musicnn metadata (written by another "
            "tool?); musicnn loads only model files it saved"
        )
    try:
        document = json.loads(raw[METADATA_KEY])
    except RecursionError:
        document = None
    except ValueError as err:
        raise ModelFileError(f"{path}: the musicnn metadata is not valid JSON ({err})") from err
    if document is None or _too_deep(document):
        raise ModelFileError(f"{path}: the musicnn metadata is nested more than {MAX_JSON_DEPTH} levels deep; "
                             "the file is corrupt or was not written by musicnn")
    if not isinstance(document, dict):
        raise ModelFileError(f"{path}: the musicnn metadata is not a JSON object")
    version = document.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{path}: the musicnn metadata has no valid format_version ({version!r})")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format {version} is newer than this musicnn reads "
            f"(up to {FORMAT_VERSION}); upgrade musicnn"
        )
    for key, kind in (("family", str), ("params", dict), ("learned", dict)):
        if not isinstance(document.get(key), kind):
            raise ModelFileError(
                f"{path}: the musicnn metadata lacks a valid {key!r} entry; the file is corrupt"
            )
    return document


def _too_deep(document: Any, limit: int | None = None) -> bool:
    """Whether JSON ``document`` nests lists and objects more than ``limit`` levels deep
    (read without recursion)."""
    limit = MAX_JSON_DEPTH if limit is None else limit
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return False


def _tensor_table(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Name -> (dtype, shape) of every tensor in a safetensors file, from its header alone."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            table = {}
            for name in fh.keys():
                view = fh.get_slice(name)
                table[name] = (str(view.get_dtype()), tuple(int(d) for d in view.get_shape()))
    except Exception as err:
        raise ModelFileError(f"{path}: cannot read the model's arrays ({err}); the file is corrupt") from err
    return table


def _check_sizes(document: dict[str, Any], table: dict[str, tuple[str, tuple[int, ...]]], path: Path) -> None:
    """Refuse hyper-parameters that describe more layers than the file holds arrays, before
    anything is built: each entry of a size list (``hidden_layer_sizes``, ``channels``) makes
    at least one array."""
    bound = max(16, 2 * len(table))
    params = document["params"]
    nested = [(f"{k}.{n}", v) for k, inner in params.items() if isinstance(inner, dict) for n, v in inner.items()]
    for name, value in [*params.items(), *nested]:
        if isinstance(value, list) and len(value) > bound:
            raise ModelFileError(f"{path}: params.{name} lists {len(value)} values but the file holds "
                                 f"{len(table)} arrays; the file is corrupt")
    unsupported = sorted({dtype for dtype, _ in table.values()} - _DTYPES)
    if unsupported:
        raise ModelFileError(f"{path}: arrays of type {', '.join(unsupported)}, which no musicnn model stores; "
                             "the file is corrupt")


def _check_classes(estimator: Any, path: Path) -> None:
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return
    names = [str(c) for c in np.asarray(classes).ravel()]
    twice = sorted({c for c in names if names.count(c) > 1})
    if twice:
        raise ModelFileError(f"{path}: the class list names {twice[0]!r} more than once; the file is corrupt")
    if not names:
        raise ModelFileError(f"{path}: the class list is empty; the file is corrupt")


def _smoke_test(estimator: Any, path: Path) -> None:
    """Run the model once on an input of the shape it records: arrays that do not fit one
    another (a forged or damaged file) fail here, not on the user's first audio file."""
    import warnings

    from musicnn.errors import MusicnnError

    shape = getattr(estimator, "input_shape_", None)
    if shape is None:
        n = getattr(estimator, "n_features_in_", None)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 0 < n <= _MAX_INPUT:
            raise ModelFileError(f"{path}: the model records no valid input size (n_features_in_={n!r}); "
                                 "the file is corrupt")
        shape = (int(n),)
    size = int(np.prod([int(d) for d in shape], dtype=np.float64))
    if size > _MAX_INPUT:
        raise ModelFileError(f"{path}: the model records an input of shape {tuple(shape)}, larger than any "
                             "features; the file is corrupt")
    if size > _SMOKE_INPUT:  # a large input is not worth the memory of a test run
        return
    X = np.ones((1, *shape), dtype=np.float32)
    labelled = getattr(estimator, "classes_", None) is not None
    for name in ("predict_proba", "predict", "transform") if labelled else ("transform", "predict"):
        fn = getattr(estimator, name, None)
        if callable(fn):
            break
    else:
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(fn(X))
    except Exception as err:
        if isinstance(err, MusicnnError) or _not_fitted(err):  # a refusal the model may make of any input
            return
        raise ModelFileError(f"{path}: the model's arrays do not fit together ({type(err).__name__}: {err}); "
                             "the file is corrupt") from err
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        raise ModelFileError(f"{path}: the model gives non-finite scores (NaN or infinity); "
                             "the file is corrupt or the training diverged")


def _not_fitted(err: BaseException) -> bool:
    """Whether ``err`` is scikit-learn's NotFittedError (only raised once scikit-learn is imported)."""
    exceptions = sys.modules.get("sklearn.exceptions")
    return exceptions is not None and isinstance(err, exceptions.NotFittedError)


def load_model(path: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """Load a model file written by :func:`save_model`.

    Returns
    -------
    estimator
        The fitted estimator, on the CPU.
    metadata : dict
        The file's JSON metadata (see :func:`read_metadata`).

    Raises
    ------
    ModelFileError
        Any problem with the file; the message names it.
    """
    # numpy arrays: a numpy family loads without importing torch (torch families take them as tensors)
    from safetensors.numpy import load_file

    from musicnn.models import model_file_class

    path = Path(path)
    document = read_metadata(path)
    family = document["family"]
    try:
        cls = model_file_class(family)
    except ConfigError as err:
        raise ModelFileError(f"{path}: {err}; was it written by a newer musicnn?") from err
    _check_sizes(document, _tensor_table(path), path)
    try:
        arrays = load_file(str(path))
    except Exception as err:
        raise ModelFileError(f"{path}: cannot read the model's arrays ({err}); the file is corrupt") from err
    try:
        estimator = cls(**params_from_json(cls, document["params"]))
        estimator._restore(arrays, document["learned"])
    except ModelFileError as err:
        raise err if str(path) in str(err) else ModelFileError(f"{path}: {err}") from err
    except (MemoryError, RecursionError) as err:
        raise ModelFileError(f"{path}: the model's hyper-parameters ask for more than this machine holds "
                             f"({type(err).__name__}); the file is corrupt") from err
    except Exception as err:
        raise ModelFileError(
            f"{path}: the stored arrays do not fit a {family!r} model "
            f"({type(err).__name__}: {err}); the file is corrupt"
        ) from err
    _check_classes(estimator, path)
    _smoke_test(estimator, path)
    return estimator, document


def _feature_spec(document: dict[str, Any], path: Path, *, required: bool = True) -> Any:
    """The :class:`~musicnn.features.FeatureSpec` a model file records (None when absent and not required)."""
    from musicnn.features import FeatureSpec

    raw = document.get("feature_spec")
    if raw is None:
        if not required:
            return None
        raise ModelFileError(f"{path}: the model file records no feature_spec (the features its model takes); "
                             "it is damaged, or was saved without metadata={'feature_spec': spec.to_dict()}")
    if not isinstance(raw, dict):
        raise ModelFileError(f"{path}: the feature_spec entry is not a JSON object; the file is corrupt")
    try:
        return FeatureSpec.from_dict(raw)
    except (FeatureError, TypeError) as err:
        raise ModelFileError(f"{path}: the recorded feature_spec is not valid ({err}); "
                             "was it written by another version of musicnn?") from err


def load_with_spec(path: str | os.PathLike) -> tuple[Any, Any, dict[str, Any]]:
    """Load a model file with the feature spec its model was trained on.

    Returns
    -------
    estimator
        As for :func:`load_model`.
    spec : FeatureSpec
        The features the model expects (the file's ``feature_spec``).
    metadata : dict

    Raises
    ------
    ModelFileError
        As for :func:`load_model`; also a file that records no valid feature spec.
    """
    estimator, document = load_model(path)
    spec = _feature_spec(document, Path(path))
    _check_spec_fits(estimator, spec, Path(path))
    return estimator, spec, document


def _dtype_name(safetensors_dtype: str) -> str:
    """numpy's name of a safetensors dtype (``F32`` -> ``float32``)."""
    kind = {"F": "float", "I": "int", "U": "uint", "BF": "bfloat"}
    prefix = safetensors_dtype.rstrip("0123456789")
    return "bool" if safetensors_dtype == "BOOL" else f"{kind.get(prefix, prefix)}{safetensors_dtype[len(prefix):]}"


def _local(name: str) -> str:
    """An array's name inside its network: ``members.<i>.`` of an ensemble's member stripped."""
    head, _, rest = name.partition(".")
    index, _, local = rest.partition(".")
    return local if head == "members" and index.isdigit() else name


def _check_network(table: dict[str, tuple[str, tuple[int, ...]]],
                   expected: dict[str, tuple[str, tuple[int, ...]]], path: Path) -> None:
    """The file's arrays (from its header) against those of the network its hyper-parameters
    describe, before any is read: the same refusals, worded the same, as the torch families'
    checks of their state dict."""
    def network_size(arrays: dict[str, tuple[str, tuple[int, ...]]]) -> int:
        return sum(math.prod(shape) for name, (_, shape) in arrays.items() if _local(name).startswith("module."))

    wanted, held = network_size(expected), network_size(table)
    if wanted > held:
        raise ModelFileError(f"{path}: its hyper-parameters build a network of {wanted:,} values but the file "
                             f"holds {held:,}; the file is corrupt")
    missing, extra = sorted(set(expected) - set(table)), sorted(set(table) - set(expected))
    if missing or extra:
        what = f"lacks {missing[0]}" if missing else f"has an unknown array {extra[0]}"
        raise ModelFileError(f"{path}: the stored network {what}; the file is corrupt")
    for name, (dtype, shape) in expected.items():
        got_dtype, got_shape = table[name]
        if _local(name).startswith("scaler.") and got_dtype != dtype:
            raise ModelFileError(f"{path}: the array {name} is stored as {_dtype_name(got_dtype)}, "
                                 f"not {_dtype_name(dtype)}; the file is corrupt")
        if (got_dtype, got_shape) != (dtype, shape):
            raise ModelFileError(f"{path}: the array {name} is {_dtype_name(got_dtype)} {got_shape}, but this "
                                 f"network holds {_dtype_name(dtype)} {shape}; the file is corrupt")


def load_predictor(path: str | os.PathLike) -> tuple[Any, Any, dict[str, Any]]:
    """Load a model file for inference, without importing torch where it can.

    A CNN or MLP file becomes a :class:`~musicnn.models.deep.numpy_forward.ForwardModel`
    (the same network run in numpy: ``predict_proba``, ``predict``, ``embed``), an ensemble
    of them an :class:`~musicnn.models.ensemble.Ensemble` of such networks; any other file,
    or one whose hyper-parameters that module does not know, is loaded by
    :func:`load_with_spec`.  The arrays are checked against the networks the
    hyper-parameters describe before any is read.

    Returns
    -------
    predictor, spec, metadata
        As :func:`load_with_spec`.

    Raises
    ------
    ModelFileError
        As :func:`load_with_spec`.
    """
    from musicnn.models.deep import numpy_forward
    from musicnn.models.ensemble import ENSEMBLE_FAMILY, Ensemble, _check_n_members, split_arrays

    path = Path(path)
    document = read_metadata(path)
    family = document["family"]
    params = {name: tuples_from_json(value) for name, value in document["params"].items()}
    learned = document["learned"]
    if family == ENSEMBLE_FAMILY:
        family, member_params = params.get("family"), params.get("params") or {}
        if not isinstance(family, str) or not isinstance(member_params, dict):
            return load_with_spec(path)
        try:
            n_members = _check_n_members(params.get("n_members"), "n_members")
        except ConfigError as err:
            raise ModelFileError(f"{path}: {err}; the file is corrupt") from err
        states = learned.get("members")
        if not isinstance(states, list) or len(states) != n_members or not all(isinstance(m, dict) for m in states):
            raise ModelFileError(f"{path}: the file does not record the learned state of its {n_members} members; "
                                 "the file is corrupt")
        # each member's network from the hyper-parameters its file records (Ensemble.learned_metadata)
        members = [(f"members.{i}.", tuples_from_json(state.get("params", member_params)), state)
                   for i, state in enumerate(states)]
        if not all(isinstance(p, dict) for _, p, _ in members):
            raise ModelFileError(f"{path}: a member's params are not a JSON object; the file is corrupt")
    else:
        n_members, members = 0, [("", params, learned)]
    if not all(numpy_forward.supports(family, p) for _, p, _ in members):
        return load_with_spec(path)
    table = _tensor_table(path)
    _check_sizes(document, table, path)
    from musicnn.models.state import checked_input, classes_from_json

    expected: dict[str, tuple[str, tuple[int, ...]]] = {}
    shapes = []
    try:
        for prefix, member_params, state in members:
            classes = classes_from_json(state["classes"], state.get("classes_dtype", "<U1"))
            input_shape, _ = checked_input(state, 3 if family == "cnn" else 2)
            shapes.append((classes, input_shape))
            arrays = numpy_forward.expected_arrays(family, member_params, input_shape, len(classes))
            expected.update({prefix + name: value for name, value in arrays.items()})
    except ModelFileError as err:
        raise ModelFileError(f"{path}: {err}") from err
    except (KeyError, TypeError, ValueError) as err:
        raise ModelFileError(f"{path}: the stored arrays do not fit a {family!r} model "
                             f"({type(err).__name__}: {err}); the file is corrupt") from err
    _check_network(table, expected, path)
    from safetensors.numpy import load_file

    try:
        arrays = load_file(str(path))
        shares = split_arrays(arrays, n_members) if n_members else [arrays]
        networks = [numpy_forward.from_arrays(family, member_params, share, classes=classes, input_shape=input_shape)
                    for (_, member_params, _), share, (classes, input_shape) in zip(members, shares, shapes)]
        model = Ensemble.of(networks, family=family, params=dict(params.get("params") or {}),
                            seed=params.get("seed", 0)) if n_members else networks[0]
    except ModelFileError as err:
        raise ModelFileError(f"{path}: {err}") from err
    except Exception as err:
        raise ModelFileError(f"{path}: cannot read the model's arrays ({err}); the file is corrupt") from err
    for network in networks:
        _check_classes(network, path)
    _smoke_test(model, path)
    spec = _feature_spec(document, path)
    _check_spec_fits(model, spec, path)
    return model, spec, document


def _check_spec_fits(estimator: Any, spec: Any, path: Path) -> None:
    """The recorded features must be what the model takes (values per clip or per frame)."""
    width = spec.dims * (len(spec.pooling) or 1)
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is not None and int(n_features) != width:
        raise ModelFileError(f"{path}: the recorded feature_spec gives {width} values per "
                             f"{'clip' if spec.pooling else 'frame'} but the model takes {int(n_features)}; "
                             "the file is corrupt")


def receptive_field_seconds(estimator: Any, spec: Any) -> tuple[float, int] | None:
    """What one unit of a convolutional model sees, in its features' units.

    Returns
    -------
    (seconds, bins) or None
        The receptive field's extent in time (frames times ``spec.hop_length / spec.sr``)
        and the feature bins it covers (every bin for a model that convolves over time
        only); None for a model without ``receptive_field``.
    """
    rf = getattr(estimator, "receptive_field", None)
    if not callable(rf):
        return None
    field = rf()
    bins = field.bins if len(field.size) > 1 else int(estimator.n_features_in_)
    return field.frames * spec.hop_length / spec.sr, int(bins)


def describe_model(path: str | os.PathLike) -> str:
    """What a model file holds, for a terminal: family, classes, features, parameters,
    training, test scores, the network (torch models) and its receptive field."""
    path = Path(path)
    meta = read_metadata(path)
    spec = _feature_spec(meta, path, required=False)
    learned = meta.get("learned", {})
    summary = meta.get("summary") or {}
    lines = [f"model: {path}", f"family: {meta['family']}"]
    if "classes" in learned:
        lines.append(f"classes ({len(learned['classes'])}): {', '.join(learned['classes'])}")
    if spec is not None:
        lines.append(f"features: {spec.describe()}")
    lines.append("parameters: " + ", ".join(f"{k}={v!r}" for k, v in sorted(meta.get("params", {}).items())))
    hist = summary.get("history") or {}
    if hist.get("n_epochs"):
        lines.append(f"training: {hist['n_epochs']} epochs (best {hist.get('best_epoch')}), "
                     f"{hist.get('seconds', 0):.1f} s; fit on {summary.get('fit_on', '?')}")
    if summary.get("test"):
        t = summary["test"]
        lines.append(f"test (held-out groups, n={t['n']}): accuracy {t['accuracy']:.3f}, macro F1 {t['macro_f1']:.3f}")
    estimator, _ = load_model(path)
    if spec is not None:
        _check_spec_fits(estimator, spec, path)
    network = getattr(estimator, "summary", None)
    if callable(network):
        lines.append(network())
    field = receptive_field_seconds(estimator, spec) if spec is not None else None
    if field is not None:
        seconds, bins = field
        lines.append(f"receptive field: {seconds:.3f} s over {bins} of {estimator.n_features_in_} {spec.kind} bins "
                     f"(hop {spec.hop_length} at {spec.sr} Hz)")
    return "\n".join(lines)
