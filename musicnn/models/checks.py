"""Checks shared by every estimator: option names and classification targets.

Light on imports (no torch), so the numpy families do not pull in torch through them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError, DataError

__all__ = ["check_choice", "require_y", "class_targets"]


def check_choice(name: str, value: Any, choices: dict[str, Any] | tuple[str, ...]) -> None:
    """Raise ConfigError unless ``value`` is one of ``choices`` (listing them)."""
    if not isinstance(value, str) or value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ConfigError(f"{name}={value!r} is not valid; choose one of {valid}")


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
