"""Model families and their registry.

The registry names each family and says where its estimator lives, without importing
it: ``import musicnn.models`` stays free of torch so that ``musicnn --help`` is fast.
Classes are imported on first use, through :func:`get_estimator_class` or attribute
access (``musicnn.models.MLPClassifier``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from musicnn.errors import ConfigError

__all__ = [
    "REGISTRY",
    "ModelInfo",
    "available_models",
    "estimator_for",
    "params_for",
    "family_of",
    "get_estimator_class",
    "model_file_class",
]

KINDS = ("supervised", "unsupervised", "feature learner")


@dataclass(frozen=True)
class ModelInfo:
    """Where a model family lives and what it is.

    Attributes
    ----------
    module : str
        Dotted path of the module defining the estimator.
    class_name : str
        Name of the estimator class in that module.
    description : str
        One line for listings.
    kind : str
        ``"supervised"``, ``"unsupervised"`` or ``"feature learner"``.
    features : str
        The feature preset (:data:`musicnn.features.PRESETS`) it trains on by default.
    defaults : tuple of (str, value)
        Parameters this name sets on the class (``lstm`` is the recurrent classifier
        with ``cell="lstm"``); empty for a class's own name.
    """

    module: str
    class_name: str
    description: str
    kind: str
    features: str = "mfcc"
    defaults: tuple[tuple[str, Any], ...] = ()


REGISTRY: dict[str, ModelInfo] = {
    "perceptron": ModelInfo(
        "musicnn.models.classic.perceptron", "Perceptron",
        "threshold units trained by the error-correction rule w <- w + eta (d - y) x, one-vs-rest",
        "supervised"),
    "mlp": ModelInfo(
        "musicnn.models.deep.mlp", "MLPClassifier",
        "multi-layer perceptron on pooled feature vectors, trained by back-propagation",
        "supervised"),
    "rbf": ModelInfo(
        "musicnn.models.classic.rbf", "RBFNetwork",
        "radial basis function network: k-means centres and widths, then least squares",
        "supervised"),
    "som": ModelInfo(
        "musicnn.models.classic.som", "SOM",
        "Kohonen self-organising map (timbre maps); classifies by the winning unit's label",
        "unsupervised"),
    "art": ModelInfo(
        "musicnn.models.classic.art", "FuzzyART",
        "Fuzzy ART: categories created on demand under a vigilance test",
        "unsupervised"),
    "artmap": ModelInfo(
        "musicnn.models.classic.artmap", "FuzzyARTMAP",
        "Fuzzy ARTMAP: supervised ART with match tracking",
        "supervised"),
    "hebbian": ModelInfo(
        "musicnn.models.classic.hebbian", "HebbianPCA",
        "Hebbian learning (plain Hebb, Oja, Sanger's GHA): principal components",
        "feature learner"),
    "competitive": ModelInfo(
        "musicnn.models.classic.competitive", "CompetitiveLearning",
        "winner-take-all competitive learning, with or without conscience",
        "unsupervised"),
    "lvq": ModelInfo(
        "musicnn.models.classic.lvq", "LVQ",
        "learning vector quantization: labelled competitive prototypes",
        "supervised"),
    "rbm": ModelInfo(
        "musicnn.models.classic.boltzmann", "RBM",
        "restricted Boltzmann machine trained by contrastive divergence (CD-k)",
        "feature learner"),
    "hopfield": ModelInfo(
        "musicnn.models.classic.hopfield", "Hopfield",
        "Hopfield network: associative memory of binary patterns, energy never rises",
        "unsupervised"),
    "cnn": ModelInfo(
        "musicnn.models.deep.cnn", "SpectrogramCNN",
        "small convolutional network on log-mel spectrograms (frames x bins)",
        "supervised", "logmel"),
    "music-cnn": ModelInfo(
        "musicnn.models.deep.music_cnn", "MusicCNN",
        "music CNN: timbral (tall) and temporal (wide) filters, 1-D mid-end, pooled back-end",
        "supervised", "logmel"),
    "rnn": ModelInfo(
        "musicnn.models.deep.rnn", "RNNClassifier",
        "Elman recurrent network on frame sequences, trained by back-propagation through time",
        "supervised", "logmel", (("cell", "elman"),)),
    "lstm": ModelInfo(
        "musicnn.models.deep.rnn", "RNNClassifier",
        "LSTM on frame sequences (gated memory cells), trained by BPTT",
        "supervised", "logmel", (("cell", "lstm"),)),
    "gru": ModelInfo(
        "musicnn.models.deep.rnn", "RNNClassifier",
        "GRU on frame sequences (gated recurrent units), trained by BPTT",
        "supervised", "logmel", (("cell", "gru"),)),
    "crnn": ModelInfo(
        "musicnn.models.deep.crnn", "CRNN",
        "convolutional front end on spectrograms, recurrent back end over time",
        "supervised", "logmel"),
}


#: Meta-estimators a model file may hold besides the families (built over a family; not
#: listed by :func:`available_models`, not trained by ``--model``).
META_FAMILIES: dict[str, tuple[str, str]] = {"ensemble": ("musicnn.models.ensemble", "Ensemble")}


def available_models(kind: str | None = None) -> list[str]:
    """Registered family names, sorted; only those of ``kind`` when given."""
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"kind={kind!r} is not valid; choose one of {', '.join(map(repr, KINDS))}")
    return sorted(name for name, info in REGISTRY.items() if kind is None or info.kind == kind)


def get_estimator_class(name: str) -> type:
    """Import and return the estimator class of family ``name``.

    Raises
    ------
    ConfigError
        When ``name`` is not a registered family (the message lists the valid ones).
    """
    info = REGISTRY.get(name) if isinstance(name, str) else None
    if info is None:
        raise ConfigError(
            f"unknown model family {name!r}; choose one of {', '.join(available_models())}"
        )
    return getattr(importlib.import_module(info.module), info.class_name)


def family_of(estimator: Any) -> str:
    """Registry name of an estimator instance or class.

    Where several names share a class (``rnn``, ``lstm``, ``gru``), an instance gets the
    name whose :attr:`ModelInfo.defaults` its parameters match, a class the first name.

    Raises
    ------
    ConfigError
        When its class is not registered.
    """
    cls = estimator if isinstance(estimator, type) else type(estimator)
    for name, (module, class_name) in META_FAMILIES.items():
        if cls.__module__ == module and cls.__qualname__ == class_name:
            return name
    names = [name for name, info in REGISTRY.items()
             if cls.__module__ == info.module and cls.__qualname__ == info.class_name]
    if not isinstance(estimator, type):
        for name in names:
            if all(getattr(estimator, k, None) == v for k, v in REGISTRY[name].defaults):
                return name
    if names:
        return names[0]
    raise ConfigError(
        f"{cls.__module__}.{cls.__qualname__} is not a registered model family "
        f"({', '.join(available_models())})"
    )


def model_file_class(name: str) -> type:
    """The class of a model file's ``family``: a registered family or a meta-estimator
    (:data:`META_FAMILIES`, e.g. ``"ensemble"``).

    Raises
    ------
    ConfigError
        When ``name`` is neither.
    """
    if isinstance(name, str) and name in META_FAMILIES:
        module, class_name = META_FAMILIES[name]
        return getattr(importlib.import_module(module), class_name)
    return get_estimator_class(name)


def params_for(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The parameters of family ``name``: the name's defaults (``cell="lstm"`` for
    ``lstm``), then ``params``."""
    get_estimator_class(name)  # a clear error for an unknown name
    return {**dict(REGISTRY[name].defaults), **(params or {})}


def estimator_for(name: str, params: dict[str, Any] | None = None) -> Any:
    """An estimator of family ``name`` with :func:`params_for` ``(name, params)``."""
    return get_estimator_class(name)(**params_for(name, params))


def __getattr__(attr: str) -> type:
    for info in REGISTRY.values():
        if info.class_name == attr:
            return getattr(importlib.import_module(info.module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
