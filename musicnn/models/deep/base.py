"""The scikit-learn-style estimator shared by every torch-backed classifier.

A family subclasses :class:`TorchClassifier`, lists its own hyper-parameters in
``__init__`` (ending in ``**shared``) and builds its network in ``_build_module``; the
base class does the rest: the shared parameters, input checks, label encoding,
standardisation, seeded initialisation, training through
:func:`musicnn.training.loop.train_classifier`, batched prediction, and the arrays and
JSON that :mod:`musicnn.modelfile` writes.

Parameters shared by several families (the training ones, the recurrent ones) are
declared once, as the fields of a dataclass; :mod:`musicnn.models.deep.params` gives each
family's ``__init__`` the signature "its own parameters, then the shared ones".

Networks derive from :class:`ClassifierNet`: ``forward`` returns logits and ``embed``
returns the penultimate representation (for embeddings and timbre maps).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from musicnn.checks import check_inputs, class_targets, require_y, validate_arrays
from musicnn.errors import ConfigError, DataError, ModelFileError
from musicnn.models.deep.params import TRAINING_PARAMETERS, declare_signature, store_params
from musicnn.models.state import checked_input, classes_from_json
from musicnn.models.estimator import BaseEstimator, ClassifierMixin, check_is_fitted
from musicnn.runtime import torch_seeded
from musicnn.scaling import fit_standardiser, standardise
from musicnn.training.config import TrainConfig, TrainHistory
from musicnn.training.loop import train_classifier

__all__ = ["ClassifierNet", "TorchClassifier"]

_PREDICT_BATCH = 1024

class ClassifierNet(torch.nn.Module):
    """A network whose ``forward`` returns logits and ``embed`` its penultimate layer.

    Subclasses implement :meth:`embed` and set ``self.head`` (a module mapping the
    embedding to logits).
    """

    head: torch.nn.Module

    def embed(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Return the penultimate representation of a batch, shape (batch, embed_dim)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits of shape (batch, n_classes)."""
        return self.head(self.embed(x))


class TorchClassifier(ClassifierMixin, BaseEstimator):
    """Base of the torch-backed classifiers (not used directly).

    Parameters
    ----------
    batch_size : int, default=64
        Examples per mini-batch.
    max_epochs : int, default=100
        Upper bound on training epochs (early stopping usually ends sooner).
    lr : float, default=1e-3
        Adam learning rate.
    weight_decay : float, default=0.0
        L2 penalty.
    patience : int, default=10
        Epochs without improvement of the monitored quantity before stopping.
    validation_fraction : float, default=0.15
        Share of the training data held out for early stopping when ``fit`` gets no
        ``X_val``; 0 trains on everything for ``max_epochs`` epochs (keeping the epoch of
        lowest training loss), and ``musicnn.pipeline.train`` then gives the network its
        validation split to learn from too (the CNN's default).
    seed : int, default=0
        Seed of weight initialisation, validation split, batch order, augmentation and
        dropout.  Drawn from generators of the fit's own: fitting neither depends on nor
        changes the caller's ``random``, ``np.random`` or torch streams.
    device : str, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    progress : bool, default=True
        Show a progress bar over epochs on a terminal.
    monitor : {"val_accuracy", "val_loss"}, default="val_accuracy"
        What early stopping watches: the validation accuracy (ties broken by the loss) or
        the validation loss.
    lr_schedule : {"constant", "step", "cosine", "plateau"}, default="constant"
        Learning-rate schedule over epochs (:func:`musicnn.training.loop.make_scheduler`).
    class_weight : None, "balanced", dict or list of float, default=None
        ``"balanced"`` weights each class's loss by ``n / (n_classes * n_c)``; a dict
        maps labels to weights (absent labels weigh 1); a list gives one weight per
        class, in ``classes_`` order.
    clip_grad_norm : float or None, default=None
        Clip the global gradient norm before each step.
    augment : str or None, default=None
        Training-batch augmentations, e.g. ``"specaugment,crop,mixup=0.4"``
        (:func:`musicnn.training.augment.parse_augment`); ``specaugment`` and ``crop`` need
        spectrogram input (3-D).

    Attributes
    ----------
    classes_ : np.ndarray, shape (n_classes,)
        Class labels, sorted.
    n_features_in_ : int
        Features per example (2-D input) or per frame (3-D input).
    input_shape_ : tuple of int
        Shape of one training example.
    mean_, scale_ : np.ndarray of float32
        Standardisation statistics learned on the training data (per feature, or per
        bin over all frames for 3-D input; :func:`musicnn.scaling.fit_standardiser`).
    module_ : ClassifierNet
        The trained network, in eval mode.
    history_ : TrainHistory
        Losses and accuracies per epoch.

    Notes
    -----
    These parameters are the fields of :class:`musicnn.training.config.TrainConfig`,
    declared there once; every family's signature ends with them (:mod:`musicnn.models.deep.params`).
    """

    #: number of dimensions of ``X`` (2: (n, features); 3: (n, frames, bins))
    _input_ndim: ClassVar[int] = 2
    _input_layout: ClassVar[str] = "(n_samples, n_features)"
    #: dataclasses whose fields are this family's parameters after its own (training last)
    _parameter_sets: ClassVar[tuple[type, ...]] = (TrainConfig,)
    #: shared defaults this family changes, e.g. ``{"batch_size": 32}``
    _shared_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, **shared: Any) -> None:
        store_params(self, locals())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declare_signature(cls)

    # ------------------------------------------------------------------ subclass API
    def _build_module(self, input_shape: tuple[int, ...], n_classes: int) -> ClassifierNet:
        """Return a freshly initialised network for examples of ``input_shape``."""
        raise NotImplementedError(f"{type(self).__name__} must implement _build_module")

    def _check_params(self) -> None:
        """Raise ConfigError for an invalid hyper-parameter; subclasses extend it."""
        config = self._train_config()
        if isinstance(config.class_weight, dict):
            config.class_weight = None  # checked against the labels in fit
        config.validate()

    # ------------------------------------------------------------------ sklearn tags
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self._input_ndim != 2:
            tags.input_tags.two_d_array = False
            tags.input_tags.three_d_array = True
        return tags

    # ------------------------------------------------------------------ helpers
    def _train_config(self) -> TrainConfig:
        """The shared training parameters, as the loop's settings."""
        return TrainConfig(**{name: getattr(self, name) for name in TRAINING_PARAMETERS})

    def _fit_config(self) -> TrainConfig:
        """:meth:`_train_config` with a ``class_weight`` dict turned into one weight per
        class index (``classes_`` must be set)."""
        config = self._train_config()
        if isinstance(self.class_weight, dict):
            known = set(self.classes_.tolist())
            unknown = sorted(str(k) for k in self.class_weight if k not in known)
            if unknown:
                raise ConfigError(f"class_weight names labels absent from the training labels: {', '.join(unknown)}")
            config.class_weight = [float(self.class_weight.get(c, 1.0)) for c in self.classes_.tolist()]
        return config

    def _check_X(self, X: Any, y: Any = None, *, reset: bool) -> Any:
        """Validate ``X`` (and ``y``); convert ``X`` to float32.  Returns X or (X, y)."""
        name = type(self).__name__
        ndim = len(X.shape) if hasattr(X, "shape") else None
        if ndim is not None and ndim > 2 and self._input_ndim == 2:
            raise DataError(
                f"{name} expects 2-D input {self._input_layout}; got an array of shape "
                f"{tuple(X.shape)}: pool the frames into one vector per example first"
            )
        if self._input_ndim == 2:
            return validate_arrays(self, X, y, reset=reset, dtype=np.float32)
        # n-D input: scikit-learn's validate_data would count the frames as features
        if y is None and not reset:
            X = check_inputs(self, X, dtype=np.float32, allow_nd=True)
        else:
            from sklearn.utils.validation import check_array, check_X_y

            try:
                if y is None:
                    X = check_array(X, allow_nd=True, dtype=np.float32, estimator=self)
                else:
                    X, y = check_X_y(X, y, allow_nd=True, dtype=np.float32, estimator=self)
            except ValueError as err:
                raise DataError(str(err)) from err
        if X.ndim != self._input_ndim:
            raise DataError(
                f"{name} expects {self._input_ndim}-D input {self._input_layout}; "
                f"got an array of shape {X.shape}"
            )
        if reset:
            self.n_features_in_ = int(X.shape[-1])
        elif X.shape[-1] != self.n_features_in_:
            raise DataError(
                f"X has {X.shape[-1]} features, but {name} is expecting "
                f"{self.n_features_in_} features as input (last axis of {self._input_layout})"
            )
        return X if y is None else (X, y)

    def _encode(self, y: np.ndarray) -> np.ndarray:
        """Map labels to indices into ``classes_``; unknown labels raise."""
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        unknown = self.classes_[idx] != y
        if np.any(unknown):
            bad = sorted({str(v) for v in np.asarray(y)[unknown]})[:5]
            raise DataError(
                f"y_val holds labels absent from the training labels: {', '.join(bad)}"
            )
        return idx.astype(np.int64)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return standardise(X, self.mean_, self.scale_, dtype=np.float32)

    def _initial_module(self, input_shape: tuple[int, ...], n_classes: int) -> ClassifierNet:
        """A freshly built network, its initial weights drawn from ``seed``.

        Built on the CPU under :func:`musicnn.runtime.torch_seeded`: torch's global
        generator is forked and seeded for the construction only, so the weights depend
        on ``seed`` alone and the caller's torch stream is left as it was.
        """
        with torch_seeded(int(self.seed), devices=[]):
            return self._build_module(input_shape, n_classes)

    def _module_device(self) -> torch.device:
        return next(self.module_.parameters()).device

    def _forward(self, X: np.ndarray, what: str = "logits") -> np.ndarray:
        """Run the network over standardised ``X`` in batches; return float32 numpy."""
        module = self.module_
        module.eval()
        device = self._module_device()
        step = module.embed if what == "embed" else module
        Xs = self._standardise(X)
        outputs = []
        with torch.no_grad():
            for start in range(0, len(Xs), _PREDICT_BATCH):
                xb = torch.from_numpy(np.ascontiguousarray(Xs[start : start + _PREDICT_BATCH]))
                outputs.append(step(xb.to(device)).float().cpu().numpy())
        return np.concatenate(outputs, axis=0)

    # ------------------------------------------------------------------ fit / predict
    def fit(
        self,
        X: Any,
        y: Any,
        X_val: Any = None,
        y_val: Any = None,
        *,
        checkpoint: str | None = None,
        resume: bool = False,
    ) -> TorchClassifier:
        """Train the network on ``X, y``.

        Parameters
        ----------
        X : array-like, shape (n_samples, ...)
            Training inputs (see the class docstring for the expected layout).
        y : array-like, shape (n_samples,)
            Class labels (strings or integers).
        X_val, y_val : array-like, optional
            Validation set for early stopping; when absent, ``validation_fraction``
            of ``X`` is held out.
        checkpoint : path, optional
            Save the training state here after every epoch (see
            :func:`musicnn.training.loop.train_classifier`).
        resume : bool, default=False
            Continue from ``checkpoint`` when it exists; the result equals that of an
            uninterrupted run.

        Returns
        -------
        self
        """
        self._check_params()
        require_y(self, y)
        if (X_val is None) != (y_val is None):
            raise ConfigError("give both X_val and y_val, or neither")
        X, y = self._check_X(X, y, reset=True)
        classes, y_idx = class_targets(self, y)
        self.classes_ = classes
        self.input_shape_ = tuple(int(s) for s in X.shape[1:])
        # every axis but the last: per feature / per bin over all frames
        mean, scale = fit_standardiser(X, axis=tuple(range(X.ndim - 1)))
        self.mean_ = mean.astype(np.float32)
        self.scale_ = scale.astype(np.float32)

        val = None
        if X_val is not None:
            Xv, yv = self._check_X(X_val, y_val, reset=False)
            if Xv.shape[1:] != X.shape[1:]:
                raise DataError(
                    f"X_val examples have shape {Xv.shape[1:]}, training examples {X.shape[1:]}"
                )
            val = (self._standardise(Xv), self._encode(np.asarray(yv)))

        module = self._initial_module(self.input_shape_, len(classes))
        history = self._train(module, self._standardise(X), y_idx.astype(np.int64), val,
                              checkpoint=checkpoint, resume=resume)
        module.eval()
        self.module_ = module
        self.history_ = history
        return self

    def _train(self, module: ClassifierNet, X: np.ndarray, y: np.ndarray,
               val: tuple[np.ndarray, np.ndarray] | None, *,
               checkpoint: str | None = None, resume: bool = False) -> TrainHistory:
        """Train a freshly built ``module`` on standardised inputs and class indices.

        The shared loop, :func:`musicnn.training.loop.train_classifier`; a family with another
        training procedure (the MLP's reference back-end) overrides this step only.
        """
        config = self._fit_config()
        params = {k: v for k, v in self.get_params().items() if k not in ("device", "progress")}
        return train_classifier(
            module, X, y, config=config,
            X_val=None if val is None else val[0],
            y_val=None if val is None else val[1],
            checkpoint=checkpoint, resume=resume,
            extra_fingerprint=[type(self).__name__, params],
        )

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        logits = self._forward(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class label of each example, shape (n_samples,)."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return self.classes_[np.argmax(self._forward(X), axis=1)]

    def embed(self, X: Any) -> np.ndarray:
        """Penultimate-layer representation of each example, shape (n_samples, embed_dim)."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return self._forward(X, "embed")

    # ------------------------------------------------------------------ summary
    def _summary_lines(self) -> list[str]:
        """Family-specific lines of :meth:`summary` (receptive field, cell, ...)."""
        return []

    def summary(self) -> str:
        """A readable description of the fitted network: input, classes, parameter count,
        family-specific facts (receptive field, recurrent cell, ...) and the layers."""
        check_is_fitted(self)
        n_params = sum(p.numel() for p in self.module_.parameters())
        n_train = sum(p.numel() for p in self.module_.parameters() if p.requires_grad)
        lines = [
            f"{type(self).__name__}: input {tuple(self.input_shape_)} {self._input_layout}, "
            f"{len(self.classes_)} classes",
            f"parameters: {n_params:,} ({n_train:,} trainable)",
            *self._summary_lines(),
            "layers:",
            *("  " + line for line in str(self.module_).splitlines()),
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------------ persistence
    def state_arrays(self) -> dict[str, np.ndarray | torch.Tensor]:
        """Every learned array, keyed for a model file.

        Keys: ``module.<name>`` for the network's state dict, ``scaler.mean`` and
        ``scaler.scale`` for the standardisation.
        """
        check_is_fitted(self)
        arrays: dict[str, np.ndarray | torch.Tensor] = {
            f"module.{k}": v.detach().cpu().contiguous() for k, v in self.module_.state_dict().items()
        }
        arrays["scaler.mean"] = self.mean_
        arrays["scaler.scale"] = self.scale_
        return arrays

    def learned_metadata(self) -> dict[str, Any]:
        """Learned state that is not an array, as JSON-able values."""
        check_is_fitted(self)
        meta: dict[str, Any] = {
            "classes": [c.decode() if isinstance(c, bytes) else str(c) for c in self.classes_],
            "classes_dtype": self.classes_.dtype.str,
            "n_features_in": int(self.n_features_in_),
            "input_shape": list(self.input_shape_),
            "history": self.history_.to_dict(),
        }
        if hasattr(self, "feature_names_in_"):
            meta["feature_names_in"] = [str(n) for n in self.feature_names_in_]
        return meta

    def _restore(self, arrays: dict[str, Any], learned: dict[str, Any]) -> TorchClassifier:
        """Rebuild the fitted state from :meth:`state_arrays` and :meth:`learned_metadata`.

        Raises ``KeyError``/``ValueError``/``RuntimeError`` when they do not fit this
        estimator; :func:`musicnn.modelfile.load_model` turns those into ModelFileError.
        """
        classes = classes_from_json(learned["classes"], learned.get("classes_dtype", "<U1"))
        input_shape, n_features = checked_input(learned, self._input_ndim)
        state = {
            k[len("module.") :]: torch.as_tensor(v) for k, v in arrays.items() if k.startswith("module.")
        }
        _check_state(self, state, input_shape, len(classes))  # before the network is allocated
        module = self._initial_module(input_shape, len(classes))  # weights replaced below
        module.load_state_dict(state, strict=True)
        module.eval()
        for name in ("scaler.mean", "scaler.scale"):
            value = arrays.get(name)
            if value is None:
                raise ValueError(f"the array {name} is missing")
            if torch.as_tensor(value).dtype != torch.float32:
                raise ModelFileError(f"the array {name} is stored as {str(torch.as_tensor(value).dtype).replace('torch.', '')}, "
                                     "not float32; the file is corrupt")
        mean = np.asarray(arrays["scaler.mean"], dtype=np.float32)
        scale = np.asarray(arrays["scaler.scale"], dtype=np.float32)
        if mean.shape != (n_features,) or scale.shape != (n_features,):
            raise ValueError(
                f"standardisation arrays have shapes {mean.shape}/{scale.shape}, "
                f"expected ({n_features},)"
            )
        if not (np.isfinite(mean).all() and np.isfinite(scale).all() and (scale > 0).all()):
            raise ModelFileError("the standardisation arrays hold non-finite or non-positive values; "
                                 "the file is corrupt")
        self.classes_ = classes
        self.input_shape_ = input_shape
        self.n_features_in_ = n_features
        self.mean_, self.scale_ = mean, scale
        if "feature_names_in" in learned:
            self.feature_names_in_ = np.asarray(learned["feature_names_in"], dtype=object)
        self.history_ = TrainHistory.from_dict(learned.get("history", {}))
        self.module_ = module
        return self


declare_signature(TorchClassifier)


def _check_state(estimator: TorchClassifier, state: dict[str, torch.Tensor], input_shape: tuple[int, ...],
                 n_classes: int) -> None:
    """Check a stored state dict against the network the hyper-parameters build, before
    building it: the network is first laid out on torch's "meta" device (shapes and types,
    no memory), so that a file whose parameters ask for a huge network, or whose arrays have
    other shapes or types than its network's, is refused without allocating anything; the
    weights must be finite."""
    with torch.device("meta"):
        skeleton = estimator._build_module(input_shape, n_classes)
    expected = skeleton.state_dict()
    wanted = sum(t.numel() for t in expected.values())
    held = sum(t.numel() for t in state.values())
    if wanted > held:
        raise ModelFileError(f"its hyper-parameters build a network of {wanted:,} values but the file holds "
                             f"{held:,}; the file is corrupt")
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        what = f"lacks module.{missing[0]}" if missing else f"has an unknown array module.{extra[0]}"
        raise ModelFileError(f"the stored network {what}; the file is corrupt")
    for name, ref in expected.items():
        got = state[name]
        if got.dtype != ref.dtype or tuple(got.shape) != tuple(ref.shape):
            raise ModelFileError(f"the array module.{name} is {str(got.dtype).replace('torch.', '')} "
                                 f"{tuple(got.shape)}, but this network holds {str(ref.dtype).replace('torch.', '')} "
                                 f"{tuple(ref.shape)}; the file is corrupt")
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise ModelFileError(f"the array module.{name} holds non-finite weights (NaN or infinity); "
                                 "the file is corrupt or the training diverged")
