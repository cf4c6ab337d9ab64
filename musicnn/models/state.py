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

__all__ = ["ArrayStateMixin"]

_PLAIN = (str, int, float, bool, type(None))


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
        from sklearn.utils.validation import check_is_fitted

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
        """Set the learned attributes back from a model file."""
        try:
            for k, v in arrays.items():
                setattr(self, k, v.numpy() if hasattr(v, "numpy") else np.asarray(v))
            for k, v in learned.get("values", {}).items():
                setattr(self, k, v)
            for k, spec in learned.get("text_arrays", {}).items():
                dtype = spec["dtype"] if spec["dtype"] != "object" else object
                setattr(self, k, np.array(spec["values"], dtype=dtype).reshape(spec["shape"]))
        except (KeyError, TypeError, ValueError) as err:
            raise ModelFileError(f"learned state does not fit {type(self).__name__}: {err}") from err
        return self
