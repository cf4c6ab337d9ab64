"""scikit-learn's estimator conventions, without importing scikit-learn until it is used.

Every family derives from :class:`BaseEstimator` and, as it is, :class:`ClassifierMixin`
or :class:`TransformerMixin`: hyper-parameters are the keyword arguments of ``__init__``,
stored as given; :meth:`~BaseEstimator.get_params` and :meth:`~BaseEstimator.set_params`
read and change them; learned attributes end in ``_``; ``repr`` shows the parameters that
differ from their defaults.  scikit-learn's tools (``clone``, ``Pipeline``,
``GridSearchCV``, ``cross_val_score``, ``check_estimator``) take these estimators as
their own: the tags they ask for (``__sklearn_tags__``) are built from scikit-learn's
classes, imported at that moment.

Why not derive from ``sklearn.base.BaseEstimator``: importing scikit-learn costs about
0.7 s (it imports scipy.stats), more than everything else ``musicnn classify`` does with
a numpy family.  Fitting still validates its inputs with scikit-learn
(:func:`musicnn.checks.validate_arrays`) and its warnings are scikit-learn's
``ConvergenceWarning``; predicting does not import it, unless it has to raise
scikit-learn's ``NotFittedError``.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

__all__ = ["BaseEstimator", "ClassifierMixin", "TransformerMixin", "check_is_fitted"]


class BaseEstimator:
    """Hyper-parameters from ``__init__``'s signature: ``get_params``, ``set_params``, ``repr``, tags."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """Names of the ``__init__`` parameters, sorted (``**kwargs`` excluded)."""
        init = cls.__init__
        if init is object.__init__:
            return []
        names = []
        for p in inspect.signature(init).parameters.values():
            if p.name == "self" or p.kind is p.VAR_KEYWORD:
                continue
            if p.kind is p.VAR_POSITIONAL:
                raise RuntimeError(f"{cls.__name__}.__init__ takes *args: estimators declare every "
                                   "parameter by name")
            names.append(p.name)
        return sorted(names)

    @classmethod
    def _param_defaults(cls) -> dict[str, Any]:
        params = inspect.signature(cls.__init__).parameters
        return {name: params[name].default for name in cls._get_param_names()}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyper-parameters, by name; with ``deep``, those of nested estimators as ``name__param``."""
        out: dict[str, Any] = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> BaseEstimator:
        """Set hyper-parameters (``name__param`` reaches a nested estimator); returns ``self``.

        Raises
        ------
        ValueError
            For a name that is not a parameter (the message lists the valid ones).
        """
        if not params:
            return self
        valid = self.get_params(deep=True)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            name, sep, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"Invalid parameter {name!r} for estimator {self}. "
                                 f"Valid parameters are: {self._get_param_names()!r}.")
            if sep:
                nested.setdefault(name, {})[sub] = value
            else:
                setattr(self, name, value)
                valid[name] = value
        for name, sub_params in nested.items():
            valid[name].set_params(**sub_params)
        return self

    def __repr__(self) -> str:
        defaults = self._param_defaults()
        shown = [f"{name}={value!r}" for name, value in self.get_params(deep=False).items()
                 if _differs(value, defaults[name])]
        return f"{type(self).__name__}({', '.join(shown)})"

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's default tags (imported now: whoever asks for tags has scikit-learn loaded)."""
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(estimator_type=None, target_tags=TargetTags(required=False), transformer_tags=None,
                    regressor_tags=None, classifier_tags=None, input_tags=InputTags())


def _differs(value: Any, default: Any) -> bool:
    """Whether a parameter's value is not its default (by ``repr``, NaN equal to NaN)."""
    if value is default:
        return False
    if isinstance(value, float) and isinstance(default, float) and math.isnan(value) and math.isnan(default):
        return False
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return True
    return repr(value) != repr(default)


class ClassifierMixin:
    """A classifier: ``score`` is the accuracy; tags say "classifier"."""

    _estimator_type = "classifier"

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Mean accuracy of ``predict(X)`` against ``y`` (weighted by ``sample_weight``)."""
        right = np.asarray(self.predict(X)) == np.asarray(y)
        if sample_weight is None:
            return float(np.mean(right))
        return float(np.average(right, weights=np.asarray(sample_weight, dtype=np.float64)))

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        tags.target_tags.required = True
        return tags


class TransformerMixin:
    """A transformer: ``fit_transform``; tags say "transformer"."""

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
        """``fit(X, y)`` then ``transform(X)``."""
        fitted = self.fit(X, **fit_params) if y is None else self.fit(X, y, **fit_params)  # type: ignore[attr-defined]
        return fitted.transform(X)

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import TransformerTags

        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.transformer_tags = TransformerTags()
        return tags


def check_is_fitted(estimator: Any, attributes: str | list[str] | None = None) -> None:
    """Raise scikit-learn's ``NotFittedError`` unless ``estimator`` was fitted.

    Fitted means: it has every name of ``attributes``, or (without them) a learned
    attribute, a public one whose name ends in ``_``.
    """
    if isinstance(attributes, str):
        attributes = [attributes]
    if attributes is not None:
        fitted = all(hasattr(estimator, a) for a in attributes)
    else:
        fitted = any(k.endswith("_") and not k.startswith("__") for k in vars(estimator))
    if not fitted:
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with "
                             "appropriate arguments before using this estimator.")
