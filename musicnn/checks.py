"""Checks shared by every estimator and stage: parameters, devices, data and targets.

The ground floor of the package: numpy and scikit-learn only (torch is imported inside
:func:`resolve_device` alone), so a numpy family imports its checks from here and never
from the torch training loop.  Every error names the Python parameter at fault
(``max_epochs=0``); the CLI translates parameters into its flags.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from musicnn.errors import ConfigError, DataError, MusicnnError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

__all__ = [
    "check_int",
    "check_float",
    "check_bool",
    "check_choice",
    "check_cpu_device",
    "resolve_device",
    "validate_arrays",
    "require_y",
    "class_targets",
    "labelled_data",
    "describe_error",
    "parse_strengths",
]

_CUDA_RE = re.compile(r"cuda(?::(\d+))?")


def check_int(name: str, value: Any, *, minimum: int) -> None:
    """Raise ConfigError unless ``value`` is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name}={value!r} must be an integer >= {minimum}")


def check_float(
    name: str,
    value: Any,
    *,
    low: float,
    high: float | None = None,
    low_inclusive: bool = True,
) -> None:
    """Raise ConfigError unless ``value`` is a finite number in the given range (``high`` excluded)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (v >= low) if low_inclusive else (v > low)
        if high is not None:
            ok = ok and v < high
    if not ok:
        bound = f"{'>=' if low_inclusive else '>'} {low:g}"
        if high is not None:
            bound += f" and < {high:g}"
        raise ConfigError(f"{name}={value!r} must be a finite number {bound}")


def check_bool(name: str, value: Any) -> None:
    """Raise ConfigError unless ``value`` is a bool (numpy's included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name}={value!r} must be True or False")


def check_choice(name: str, value: Any, choices: dict[str, Any] | tuple[str, ...]) -> None:
    """Raise ConfigError unless ``value`` is one of ``choices`` (listing them)."""
    if not isinstance(value, str) or value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{name}={value!r} is not valid; choose one of {valid}")


def check_cpu_device(estimator: Any, device: Any) -> None:
    """Accept ``"cpu"`` and ``"auto"`` for an estimator that runs in numpy on the CPU.

    Parameters
    ----------
    estimator : object or str
        The estimator (or its name), named in the message.
    device : Any
        Its ``device`` parameter.
    """
    name = estimator if isinstance(estimator, str) else type(estimator).__name__
    if device not in ("cpu", "auto"):
        raise ConfigError(f"device={device!r}: {name} runs on the CPU (numpy); use device='cpu' or 'auto'")


def resolve_device(device: str) -> torch.device:
    """Turn a device name into a :class:`torch.device`, checking that it exists.

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when available, else CPU).

    Returns
    -------
    torch.device

    Raises
    ------
    ConfigError
        For an unknown name, or a CUDA device this machine does not have.
    """
    if not isinstance(device, str):
        raise ConfigError(f"device={device!r} must be a string: 'cpu', 'cuda', 'cuda:N' or 'auto'")
    name = device.strip().lower()
    match = _CUDA_RE.fullmatch(name)
    if name not in ("auto", "cpu") and match is None:
        raise ConfigError(
            f"device={device!r} is not a known device; use 'cpu', 'cuda', 'cuda:N' or 'auto'"
        )
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(
            f"device={device!r} was requested but CUDA is not available "
            f"(torch {torch.__version__}); use device='cpu' or device='auto'"
        )
    if match.group(1) is not None:
        index, count = int(match.group(1)), torch.cuda.device_count()
        if index >= count:
            raise ConfigError(
                f"device={device!r} does not exist: this machine has {count} CUDA device(s) "
                f"(cuda:0 to cuda:{count - 1})"
            )
    return torch.device(name)


def validate_arrays(estimator: Any, X: Any, y: Any = "no_validation", *, reset: bool,
                    dtype: Any = np.float64, **kwargs: Any) -> Any:
    """scikit-learn's ``validate_data`` for an estimator, its ``ValueError`` raised as DataError.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator whose ``n_features_in_`` is set (``reset=True``) or checked.
    X : array-like
        Inputs.
    y : array-like or "no_validation"
        Targets; ``"no_validation"`` (the default) or None validates ``X`` alone.
    reset : bool
        True in ``fit``, False in ``predict`` and ``transform``.
    dtype, **kwargs
        Passed to ``validate_data``.

    Returns
    -------
    X, or (X, y) when ``y`` is given.
    """
    if y is None:
        y = "no_validation"
    if not reset and isinstance(y, str) and y == "no_validation" and not kwargs:
        return check_inputs(estimator, X, dtype=dtype)
    from sklearn.utils.validation import validate_data

    try:
        return validate_data(estimator, X, y, reset=reset, dtype=dtype, **kwargs)
    except MusicnnError:
        raise
    except ValueError as err:
        raise DataError(str(err)) from err


def check_inputs(estimator: Any, X: Any, *, dtype: Any = np.float64, allow_nd: bool = False) -> np.ndarray:
    """A fitted estimator's inputs, checked as scikit-learn's ``check_array`` checks them, without it.

    Prediction and transformation use it, so that they import neither scikit-learn nor
    scipy.  The messages are scikit-learn's.

    Parameters
    ----------
    estimator
        A fitted estimator: its ``n_features_in_`` (the last axis) is checked, and its
        ``feature_names_in_`` against a table's columns.
    X : array-like
        Inputs: 2-D, or with ``allow_nd`` of any number of dimensions from 2.
    dtype : numpy dtype
        The dtype of the array returned.

    Raises
    ------
    DataError
        For sparse, complex, empty, non-finite or mis-shaped inputs, or the wrong number of features.
    """
    name = type(estimator).__name__
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise DataError("Sparse data was passed for X, but dense data is required. Use '.toarray()' to convert "
                        "to a dense numpy array.")
    columns = getattr(X, "columns", None)
    try:
        array = np.asarray(X)
        if np.iscomplexobj(array):
            raise DataError(f"Complex data not supported\n{array}\n")
        array = array.astype(dtype, copy=False)
    except (TypeError, ValueError) as err:
        if isinstance(err, DataError):
            raise
        raise DataError(str(err)) from err
    if array.ndim < 2:
        what = "scalar" if array.ndim == 0 else "1D"
        raise DataError(f"Expected 2D array, got {what} array instead:\narray={array}.\nReshape your data either "
                        "using array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if "
                        "it contains a single sample.")
    if array.ndim > 2 and not allow_nd:
        raise DataError(f"Found array with dim {array.ndim}. {name} expected <= 2.")
    if array.shape[0] == 0:
        raise DataError(f"Found array with 0 sample(s) (shape={array.shape}) while a minimum of 1 is required "
                        f"by {name}.")
    if array.ndim == 2 and array.shape[1] == 0:
        raise DataError(f"Found array with 0 feature(s) (shape={array.shape}) while a minimum of 1 is required "
                        f"by {name}.")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        if np.isnan(array).any():
            raise DataError(f"Input X contains NaN.\n{name} does not accept missing values encoded as NaN.")
        raise DataError(f"Input X contains infinity or a value too large for {array.dtype!r}.")
    expected = getattr(estimator, "n_features_in_", None)
    if expected is not None and array.shape[-1] != expected:
        raise DataError(f"X has {array.shape[-1]} features, but {name} is expecting {expected} features as input.")
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None and columns is not None and [str(c) for c in columns] != [str(c) for c in fitted_names]:
        raise DataError(f"The feature names of X ({', '.join(map(str, columns))}) are not those {name} was fitted "
                        f"with ({', '.join(map(str, fitted_names))}).")
    return array


def require_y(estimator: Any, y: Any) -> None:
    """Raise DataError when a supervised ``fit`` gets no target (scikit-learn's wording)."""
    if y is None:
        raise DataError(f"{type(estimator).__name__} requires y to be passed, but the target y is None")


def class_targets(estimator: Any, y: np.ndarray, *,
                  hint: str = "a classifier cannot learn from one class") -> tuple[np.ndarray, np.ndarray]:
    """Sorted class labels and each target's class index, for a classifier's ``fit``.

    Raises
    ------
    DataError
        When ``y`` does not hold class labels (e.g. continuous values) or holds one class.
    """
    from sklearn.utils.multiclass import check_classification_targets

    try:
        check_classification_targets(y)
    except ValueError as err:
        raise DataError(f"{err}; y must hold class labels") from err
    classes, y_idx = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise DataError(
            f"{type(estimator).__name__} needs at least 2 classes, but y holds only one class "
            f"({classes[0]!r}); {hint}"
        )
    return classes, y_idx


def labelled_data(estimator: Any, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A supervised ``fit``'s inputs: ``X`` validated (float64, ``reset=True``), the sorted
    classes and each target's class index.

    Raises
    ------
    DataError
        For a missing ``y``, inputs scikit-learn rejects, or targets that are not two or
        more class labels.
    """
    require_y(estimator, y)
    X, y = validate_arrays(estimator, X, y, reset=True)
    classes, y_idx = class_targets(estimator, y)
    return X, classes, y_idx


def describe_error(exc: BaseException) -> str:
    """One line for a report: a musicnn error's own message, else the type and the message."""
    return str(exc) if isinstance(exc, MusicnnError) else f"{type(exc).__name__}: {exc}"


def parse_strengths(text: Any, table: dict[str, tuple[float, float, float, bool]], what: str) -> dict[str, float]:
    """Parse a list of named strengths (``"specaugment,crop=0.75,mixup"``) into ``{name: value}``.

    The augmentation options of training batches and of audio use it.

    Parameters
    ----------
    text : str, sequence of str or None
        ``"specaugment,crop=0.75,mixup"``; None, ``""`` or ``"none"`` mean no augmentation.
    table : dict
        The valid names with (default, low, high, low bound open), e.g.
        :data:`musicnn.training.augment.AUGMENTATIONS`.
    what : str
        The parameter's name, for messages.

    Returns
    -------
    dict of str to float

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the valid ones), a repeated name or a
        value out of range.
    """
    if text is None:
        return {}
    if isinstance(text, (list, tuple)):
        text = ",".join(str(t) for t in text)
    if not isinstance(text, str):
        raise ConfigError(f"{what}={text!r} must be a comma-separated string of names")
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if parts == ["none"]:
        return {}
    out: dict[str, float] = {}
    for part in parts:
        name, _, raw = part.partition("=")
        name = name.strip().lower()
        if name not in table:
            raise ConfigError(f"{what}: unknown augmentation {name!r}; choose from {', '.join(table)}")
        if name in out:
            raise ConfigError(f"{what}: {name!r} is given twice in {text!r}")
        default, low, high, open_low = table[name]
        try:
            value = float(raw) if raw.strip() else default
        except ValueError:
            raise ConfigError(f"{what}: {part!r} needs a number after '='") from None
        if not (np.isfinite(value) and (value > low if open_low else value >= low) and value <= high):
            raise ConfigError(f"{what}: {name}={value:g} must be in ({low:g}, {high:g}]")
        out[name] = value
    return out
