"""Model-file support for estimators whose learned state is arrays and plain values.

:class:`ArrayStateMixin` gives an estimator the three methods :mod:`musicnn.modelfile`
calls (``state_arrays``, ``learned_metadata``, ``_restore``) from its learned attributes:
the public attributes whose names end in ``_`` (scikit-learn's convention).  Numeric numpy
arrays go to the safetensors part; strings, numbers, booleans, lists and dicts of them,
and arrays of strings (``classes_``) go to the JSON part.  An estimator with other learned
objects (a nested estimator, a torch module) overrides the three methods.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from musicnn.errors import ModelFileError

__all__ = ["ArrayStateMixin", "INTEGER_STATE", "DIAGNOSTIC_STATE", "checked_input", "classes_from_json",
           "params_from_json", "tuples_from_json"]

_PLAIN = (str, int, float, bool, type(None))

#: Learned arrays that hold indices, counts or binary patterns (integers); every other
#: learned array of the classic families holds floating-point values.
INTEGER_STATE = frozenset({"labels_", "category_labels_", "win_counts_", "prototype_classes_", "patterns_"})

#: Learned arrays that record how training went (curves), not what predicts: a diverged
#: run may leave infinities there, so they need not be finite.
DIAGNOSTIC_STATE = frozenset({"weight_norms_", "mean_updates_", "errors_", "reconstruction_error_", "loss_curve_"})


def _is_label_array(key: str) -> bool:
    """Arrays of class labels (``classes_``, ``pattern_labels_``) keep the type of the ``y``
    they were fitted on: integers or floats alike."""
    return key.endswith(("classes_", "labels_")) and key not in INTEGER_STATE


def _checked_array(key: str, value: np.ndarray, owner: str) -> np.ndarray:
    """A stored array of the type its name calls for, finite unless it is a diagnostic curve."""
    want = "biuf" if _is_label_array(key) else "iu" if key in INTEGER_STATE else "f"
    if value.dtype.kind not in want:
        kind = "integers" if want == "iu" else "floating-point values"
        raise ModelFileError(f"the array {key} of {owner} is stored as {value.dtype}, but it holds {kind}; "
                             "the file is corrupt")
    if value.dtype.kind == "f" and key not in DIAGNOSTIC_STATE and not np.isfinite(value).all():
        raise ModelFileError(f"the array {key} of {owner} holds non-finite values (NaN or infinity); "
                             "the file is corrupt or the training diverged")
    return value


def _plain(value: Any) -> bool:
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


class ArrayStateMixin:
    """``state_arrays`` / ``learned_metadata`` / ``_restore`` from learned attributes.

    A family that renamed hyper-parameters lists ``old -> new`` in :attr:`_RENAMED`;
    :meth:`_upgrade_params` (called by :mod:`musicnn.modelfile` on load) applies it.
    """

    #: hyper-parameter names of older model files -> today's
    _RENAMED: dict[str, str] = {}

    @classmethod
    def _upgrade_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        """An older model file's hyper-parameters in today's names (:attr:`_RENAMED`)."""
        return {cls._RENAMED.get(name, name): value for name, value in params.items()}

    def _learned_attributes(self) -> dict[str, Any]:
        from musicnn.models.estimator import check_is_fitted

        check_is_fitted(self)
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Numeric learned arrays, keyed by attribute name."""
        return {k: np.ascontiguousarray(v) for k, v in self._learned_attributes().items()
                if isinstance(v, np.ndarray) and v.dtype.kind in "biuf"}

    def learned_metadata(self) -> dict[str, Any]:
        """The other learned attributes as JSON: ``{"values": {...}, "text_arrays": {...}}``."""
        values, text = {}, {}
        for k, v in self._learned_attributes().items():
            if isinstance(v, np.ndarray):
                if v.dtype.kind in "biuf":
                    continue
                text[k] = {"values": [str(x) for x in v.ravel()], "dtype": v.dtype.str if v.dtype.kind == "U" else "object",
                           "shape": list(v.shape)}
            elif isinstance(v, np.generic):
                values[k] = v.item()
            elif _plain(v):
                values[k] = list(v) if isinstance(v, tuple) else v
            else:
                raise TypeError(f"{type(self).__name__}.{k} ({type(v).__name__}) cannot go in a model file; "
                                "override state_arrays/learned_metadata/_restore")
        return {"values": values, "text_arrays": text}

    def _restore(self, arrays: dict[str, Any], learned: dict[str, Any]):
        """Set the learned attributes back from a model file, checked first: names of learned
        attributes only (never a method's), integer arrays where the family keeps indices or
        counts and floating-point ones elsewhere, finite values, text arrays of their shape."""
        name = type(self).__name__
        try:
            values = learned.get("values", {})
            text = learned.get("text_arrays", {})
            if not isinstance(values, dict) or not isinstance(text, dict):
                raise ModelFileError(f"the learned state of {name} is not a JSON object; the file is corrupt")
            restored: dict[str, Any] = {}
            for k, v in arrays.items():
                self._check_name(k)
                restored[k] = _checked_array(k, v.numpy() if hasattr(v, "numpy") else np.asarray(v), name)
            for k, v in values.items():
                self._check_name(k)
                restored[k] = v
            for k, spec in text.items():
                self._check_name(k)
                dtype = spec["dtype"]
                if dtype != "object" and not (isinstance(dtype, str) and np.dtype(dtype).kind == "U"):
                    raise ModelFileError(f"the text array {k} has type {dtype!r}; the file is corrupt")
                if not isinstance(spec["values"], list) or not all(isinstance(x, str) for x in spec["values"]):
                    raise ModelFileError(f"the text array {k} holds values that are not text; the file is corrupt")
                restored[k] = np.array(spec["values"], dtype=dtype if dtype != "object" else object).reshape(spec["shape"])
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFileError(f"learned state does not fit {name}: {err}") from err
        for k, v in restored.items():
            setattr(self, k, v)
        return self

    def _check_name(self, key: Any) -> None:
        """A learned attribute's name: public, ending in ``_``, not one of the class's own."""
        if (not isinstance(key, str) or not key.isidentifier() or not key.endswith("_") or key.startswith("_")
                or hasattr(type(self), key)):
            raise ModelFileError(f"{key!r} is not a learned attribute of {type(self).__name__}; the file is corrupt")


def checked_input(learned: dict[str, Any], ndim: int) -> tuple[tuple[int, ...], int]:
    """The input shape and feature count a model file records, checked."""
    shape, n_features = learned["input_shape"], learned["n_features_in"]
    if (not isinstance(shape, list) or len(shape) != ndim - 1
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise ModelFileError(f"input_shape={shape!r} is not {ndim - 1} positive sizes; the file is corrupt")
    if n_features != shape[-1]:
        raise ModelFileError(f"n_features_in={n_features!r} does not match input_shape={shape!r}; "
                             "the file is corrupt")
    return tuple(shape), int(n_features)


def classes_from_json(values: list[str], dtype_str: str) -> np.ndarray:
    """Invert ``[str(c) for c in classes_]`` given the original dtype string."""
    dtype = np.dtype(dtype_str)
    if dtype.kind == "b":
        return np.array([v == "True" for v in values], dtype=dtype)
    if dtype.kind in "iu":
        return np.array([int(v) for v in values], dtype=dtype)
    if dtype.kind == "f":
        return np.array([float(v) for v in values], dtype=dtype)
    if dtype.kind == "O":
        return np.array(values, dtype=object)
    return np.array(values, dtype=dtype if dtype.kind in "US" else None)


def tuples_from_json(value: Any) -> Any:
    """JSON lists back to tuples, nested ones too (hyper-parameters hold tuples, never lists);
    the values of a dict (an ensemble's members' hyper-parameters) alike."""
    if isinstance(value, list):
        return tuple(tuples_from_json(v) for v in value)
    if isinstance(value, dict):
        return {k: tuples_from_json(v) for k, v in value.items()}
    return value


def params_from_json(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """Stored hyper-parameters matched to ``cls``'s signature (JSON lists back to tuples).

    A family that renamed a hyper-parameter maps the names of older files in its class
    method ``_upgrade_params(params) -> params`` (e.g. ``eta`` -> ``lr``), applied first.

    Raises
    ------
    ModelFileError
        A parameter ``cls`` does not take.
    """
    import inspect

    upgrade = getattr(cls, "_upgrade_params", None)
    if upgrade is not None:
        params = upgrade(dict(params))
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ModelFileError(f"parameters {unknown} are unknown to {cls.__name__}; the file was "
                             "written by another version of musicnn")
    return {name: tuples_from_json(value) for name, value in params.items()}
