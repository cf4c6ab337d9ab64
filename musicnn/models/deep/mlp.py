"""Multi-layer perceptron on feature vectors, trained by back-propagation.

Two back-ends train the same network (:class:`MLPNet`):

* ``backend="autograd"`` (default): torch autograd and Adam, through the shared loop
  :func:`musicnn.training.loop.train_classifier`;
* ``backend="reference"``: the course's back-propagation written out in numpy
  (:mod:`musicnn.models.deep.backprop`): output deltas ``δ_i^L = g'(h_i^L)(d_i − y_i^L)``,
  back-propagated deltas ``δ_i^l = g'(h_i^l) Σ_j w_ji^{l+1} δ_j^{l+1}`` and plain gradient
  descent ``Δw_ij^l = η δ_i^l y_j^{l−1}``.  The trained weights are written back into the
  torch module, so prediction, embeddings and model files are the same for both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from musicnn.errors import ConfigError
from musicnn.checks import check_choice, check_float
from musicnn.training.config import TrainConfig
from musicnn.models.deep.base import ClassifierNet, TorchClassifier
from musicnn.models.deep.params import positive_ints, store_params

__all__ = ["MLPClassifier", "MLPNet"]

#: activation name -> torch module class
ACTIVATIONS: dict[str, type[torch.nn.Module]] = {
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
}

#: training back-ends
BACKENDS = ("autograd", "reference")

#: losses; "squared" (sigmoid outputs) exists in the reference back-end only
LOSSES = ("cross_entropy", "squared")

#: default learning rate of each back-end: Adam's, and the course's plain gradient descent
DEFAULT_LR = {"autograd": 1e-3, "reference": 0.1}


class MLPNet(ClassifierNet):
    """Fully connected layers ``Linear -> activation -> dropout``, then a linear head.

    ``embed`` returns the output of the last hidden layer (the input itself when there
    is no hidden layer).
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden_layer_sizes: tuple[int, ...],
        activation: str,
        dropout: float,
    ) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        width = n_features
        for size in hidden_layer_sizes:
            layers += [torch.nn.Linear(width, size), ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(torch.nn.Dropout(dropout))
            width = size
        self.body = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(width, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Last hidden layer's activations, shape (batch, hidden_layer_sizes[-1])."""
        return self.body(x)


class MLPClassifier(TorchClassifier):
    """Multi-layer perceptron classifier on pooled feature vectors.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 128)
        Width of each hidden layer; ``()`` gives multinomial logistic regression.
    activation : {"relu", "tanh", "sigmoid"}, default="relu"
        Non-linearity after each hidden layer.
    dropout : float, default=0.2
        Dropout probability after each hidden layer, in [0, 1).
    backend : {"autograd", "reference"}, default="autograd"
        ``"autograd"``: torch autograd with Adam.  ``"reference"``: the course's
        back-propagation in plain numpy (float64, CPU) with plain mini-batch gradient
        descent ``Δw_ij^l = η δ_i^l y_j^{l−1}`` averaged over the batch; same
        initial weights, batches, dropout, validation split and early stopping rule (see
        :func:`musicnn.models.deep.backprop.train_reference`).
    loss : {"cross_entropy", "squared"}, default="cross_entropy"
        ``"cross_entropy"``: softmax outputs, output delta ``d − y``.  ``"squared"`` (the
        course's ``ε = ½ Σ (d − y)²`` with sigmoid output units and one-hot ``d``; reference
        backend only).  With ``"squared"``, :meth:`predict_proba` is the softmax of the
        output net inputs ``h^L`` (the sigmoid outputs do not sum to one); :meth:`predict`
        is the unit with the largest output either way.
    lr : float or None, default=None
        Learning rate ``η``; None means 1e-3 for autograd (Adam) and 0.1 for the
        reference back-end (plain gradient descent needs larger steps).
    batch_size, max_epochs, weight_decay, patience, validation_fraction, seed, device, progress, monitor, lr_schedule, class_weight, clip_grad_norm, augment
        See :class:`~musicnn.models.deep.base.TorchClassifier`.  The reference back-end runs on
        the CPU (``device`` must be ``"cpu"`` or ``"auto"``); its ``weight_decay`` is the
        L2 pull ``−η λ w`` added to each update; it trains with a constant rate, without
        clipping or augmentation (``lr_schedule``, ``clip_grad_norm`` and ``augment`` keep
        their defaults).

    Attributes
    ----------
    history_ : TrainHistory
        Per-epoch losses (cross-entropy, or the squared error ``½ Σ (d − y)²`` per
        pattern) and validation accuracies, as for every torch model.

    Examples
    --------
    >>> clf = MLPClassifier(hidden_layer_sizes=(64,), progress=False).fit(X, y)  # doctest: +SKIP
    >>> clf.predict_proba(X_test)  # doctest: +SKIP
    >>> MLPClassifier(backend="reference", loss="squared", activation="sigmoid")  # doctest: +SKIP
    """

    # 60 epochs on every training example, as the CNN: early stopping on a few held-out groups
    # stopped it too soon (benchmarks/fixed_epochs.py: 0.62 against 0.58 across SoundFonts)
    _shared_defaults = {"lr": None, "max_epochs": 60, "validation_fraction": 0.0}

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (256, 128),
        activation: str = "relu",
        dropout: float = 0.2,
        backend: str = "autograd",
        loss: str = "cross_entropy",
        **shared: Any,
    ) -> None:
        store_params(self, locals())

    def _layer_sizes(self) -> tuple[int, ...]:
        """``hidden_layer_sizes`` as a tuple of ints (a single int means one layer)."""
        return positive_ints("hidden_layer_sizes", self.hidden_layer_sizes, allow_empty=True)

    def _train_config(self) -> TrainConfig:
        config = super()._train_config()
        if self.lr is None and self.backend in DEFAULT_LR:
            config.lr = DEFAULT_LR[self.backend]
        return config

    def _check_params(self) -> None:
        check_choice("backend", self.backend, BACKENDS)
        check_choice("loss", self.loss, LOSSES)
        super()._check_params()
        self._layer_sizes()
        check_choice("activation", self.activation, tuple(ACTIVATIONS))
        check_float("dropout", self.dropout, low=0.0, high=1.0)
        if self.loss != "cross_entropy" and self.backend != "reference":
            raise ConfigError(
                f"loss={self.loss!r} is available with backend='reference' only; "
                "the autograd back-end trains with cross-entropy"
            )
        if self.backend == "reference":
            unsupported = [f"{name}={getattr(self, name)!r}" for name, default in (
                ("lr_schedule", "constant"), ("clip_grad_norm", None), ("augment", None))
                if getattr(self, name) != default]
            if unsupported:
                raise ConfigError(
                    f"{', '.join(unsupported)}: backend='reference' trains by the course's plain gradient "
                    "descent only; use backend='autograd' for schedules, clipping, augmentation"
                )
        if self.backend == "reference" and self.device.strip().lower() not in ("cpu", "auto"):
            raise ConfigError(
                f"device={self.device!r}: backend='reference' runs on the CPU (numpy); "
                "use device='cpu', or backend='autograd' for a GPU"
            )

    def _build_module(self, input_shape: tuple[int, ...], n_classes: int) -> MLPNet:
        return MLPNet(
            n_features=int(input_shape[-1]),
            n_classes=n_classes,
            hidden_layer_sizes=self._layer_sizes(),
            activation=self.activation,
            dropout=float(self.dropout),
        )

    # ------------------------------------------------------------------ reference back-end
    def _train(self, module, X, y, val, *, checkpoint=None, resume=False):
        """The autograd back-end: the shared loop.  The reference back-end:
        :func:`~musicnn.models.deep.backprop.train_reference` on float64 copies of the freshly
        initialised module's weights (the same seeded start), written back at the end."""
        if self.backend == "autograd":
            return super()._train(module, X, y, val, checkpoint=checkpoint, resume=resume)
        if checkpoint is not None:
            import warnings

            warnings.warn("backend='reference' trains without checkpoints (it is fast); "
                          "checkpoint and resume are ignored", UserWarning, stacklevel=3)
        from musicnn.models.deep.backprop import train_reference

        linears = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
        weights = [lin.weight.detach().double().numpy().copy() for lin in linears]
        biases = [lin.bias.detach().double().numpy().copy() for lin in linears]
        history = train_reference(
            weights, biases, X.astype(np.float64), y,
            config=self._fit_config(), activation=self.activation, loss=self.loss,
            dropout=float(self.dropout),
            X_val=None if val is None else val[0].astype(np.float64),
            y_val=None if val is None else val[1],
        )
        with torch.no_grad():
            for lin, w, b in zip(linears, weights, biases):
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b))
        return history
