"""How a torch family declares its parameters: its own in ``__init__``, the shared ones once.

Parameters shared by several families are the fields of a dataclass: the training
parameters (``batch_size``, ``max_epochs``, ``lr``, ..., ``augment``) those of
:class:`musicnn.training.config.TrainConfig`, the recurrent ones those of
:class:`musicnn.models.deep.rnn.RecurrentSpec`.  A family lists those dataclasses in
``_parameter_sets``, writes ``__init__(self, *, <its own parameters>, **shared)`` calling
:func:`store_params`, and may change a shared default in ``_shared_defaults``
(``{"batch_size": 32}``).  :func:`declare_signature` (run for every subclass of
:class:`~musicnn.models.deep.base.TorchClassifier`) sets that ``__init__``'s
``__signature__`` to "self, its own parameters, then the shared ones", keyword-only;
:func:`inspect.signature`, and through it scikit-learn's ``get_params``, ``clone`` and
``repr``, and :func:`help`, read it, so every scikit-learn convention holds.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

import numpy as np

from musicnn.errors import ConfigError
from musicnn.training.config import TrainConfig

__all__ = ["TRAINING_PARAMETERS", "declare_signature", "positive_ints", "shared_parameters", "store_params"]

#: Names of the training parameters every torch estimator takes, in TrainConfig's order.
TRAINING_PARAMETERS: tuple[str, ...] = tuple(f.name for f in fields(TrainConfig))

# Where an estimator's parameter type differs from its dataclass field's: the estimator
# also takes a dict mapping labels to weights, which fit turns into one weight per class.
_ESTIMATOR_TYPES = {"class_weight": "str | dict | list[float] | None"}


def shared_parameters(sets: Sequence[type], defaults: Mapping[str, Any] | None = None) -> list[inspect.Parameter]:
    """The fields of the dataclasses ``sets``, as keyword-only estimator parameters.

    Parameters
    ----------
    sets : sequence of dataclass types
        E.g. ``(RecurrentSpec, TrainConfig)``; their fields in order.
    defaults : mapping, optional
        Defaults a family changes (``{"batch_size": 32}``); a default of None widens the
        type to accept None.

    Returns
    -------
    list of inspect.Parameter
        Annotated with the fields' types (strings).

    Raises
    ------
    TypeError
        When ``defaults`` names no field.
    """
    defaults = dict(defaults or {})
    declared = [f for dataclass in sets for f in fields(dataclass)]
    unknown = sorted(set(defaults) - {f.name for f in declared})
    if unknown:
        raise TypeError(f"_shared_defaults names no shared parameter: {', '.join(unknown)}")
    params = []
    for f in declared:
        default = defaults.get(f.name, f.default)
        annotation = _ESTIMATOR_TYPES.get(f.name, str(f.type))
        if default is None and "None" not in annotation:
            annotation = f"{annotation} | None"
        params.append(inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                        annotation=annotation))
    return params


def _shared_names(cls: type) -> set[str]:
    return {f.name for dataclass in cls._parameter_sets for f in fields(dataclass)}


def declare_signature(cls: type) -> None:
    """Give ``cls.__init__`` the signature "self, the family's own parameters, the shared ones"."""
    shared = _shared_names(cls)
    init = cls.__dict__.get("__init__")
    if init is None:  # a subclass changing only _shared_defaults: an __init__ of its own
        parent = cls.__init__
        written = inspect.signature(parent)  # the parent's own parameters, then the shared ones

        def init(self: Any, **params: Any) -> None:
            parent(self, **params)

        init.__doc__ = parent.__doc__
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = init
    else:
        written = inspect.signature(init, follow_wrapped=False)
        clash = [name for name in written.parameters if name in shared]
        if clash:
            raise TypeError(
                f"{cls.__name__}.__init__ declares the shared parameter(s) {', '.join(clash)}; "
                "change their defaults with _shared_defaults instead")
    own = [p for p in written.parameters.values()
           if p.kind is not inspect.Parameter.VAR_KEYWORD and p.name not in shared]
    init.__signature__ = inspect.Signature(own + shared_parameters(cls._parameter_sets, cls._shared_defaults),
                                           return_annotation=written.return_annotation)


def positive_ints(name: str, value: Any, *, allow_empty: bool = False) -> tuple[int, ...]:
    """A layer-size parameter (``channels``, ``hidden_layer_sizes``) as a tuple of ints >= 1.

    One integer means one entry.  Raises ConfigError naming ``name`` for anything else, and
    for an empty tuple unless ``allow_empty``.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values: tuple[Any, ...] | None = (value,)
    else:
        try:
            values = tuple(value)
        except TypeError:
            values = None
    if values is None or (not values and not allow_empty) or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in values):
        size = "" if allow_empty else "non-empty "
        raise ConfigError(f"{name}={value!r} must be a {size}tuple of positive integers")
    return tuple(int(v) for v in values)


def store_params(estimator: Any, values: dict[str, Any]) -> None:
    """Set every parameter of ``type(estimator).__init__`` from its ``locals()``.

    The scikit-learn convention (``__init__`` stores its arguments unchanged, nothing
    else) without repeating each name in every family: the family's own parameters come
    from ``values``, the shared ones from ``values["shared"]`` (the ``**shared`` the
    family's ``__init__`` received) or their defaults.

    Raises
    ------
    TypeError
        For a keyword the estimator does not take (as Python would).
    """
    given = dict(values.get("shared") or {})
    signature = inspect.signature(type(estimator).__init__)
    shared = _shared_names(type(estimator))
    unknown = sorted(set(given) - shared)
    if unknown:
        raise TypeError(f"{type(estimator).__name__}.__init__() got an unexpected keyword argument {unknown[0]!r}")
    for name, param in signature.parameters.items():
        if name == "self":
            continue
        setattr(estimator, name, given.get(name, param.default) if name in shared else values[name])
