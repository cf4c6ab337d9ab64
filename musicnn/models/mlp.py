"""Multi-layer perceptron on feature vectors, trained by back-propagation."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..training import check_float, check_int
from .base import ClassifierNet, TorchClassifier, check_choice

__all__ = ["MLPClassifier", "MLPNet"]

#: activation name -> torch module class
ACTIVATIONS: dict[str, type[torch.nn.Module]] = {
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
}


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
    batch_size, max_epochs, lr, weight_decay, patience, validation_fraction, seed, device, progress, monitor
        See :class:`~musicnn.models.base.TorchClassifier`.

    Examples
    --------
    >>> clf = MLPClassifier(hidden_layer_sizes=(64,), progress=False).fit(X, y)  # doctest: +SKIP
    >>> clf.predict_proba(X_test)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        hidden_layer_sizes: tuple[int, ...] = (256, 128),
        activation: str = "relu",
        dropout: float = 0.2,
        batch_size: int = 64,
        max_epochs: int = 100,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int = 10,
        validation_fraction: float = 0.15,
        seed: int = 0,
        device: str = "cpu",
        progress: bool = True,
        monitor: str = "val_accuracy",
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            max_epochs=max_epochs,
            lr=lr,
            weight_decay=weight_decay,
            patience=patience,
            validation_fraction=validation_fraction,
            seed=seed,
            device=device,
            progress=progress,
            monitor=monitor,
        )
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout

    def _layer_sizes(self) -> tuple[int, ...]:
        """``hidden_layer_sizes`` as a tuple of ints (a single int means one layer)."""
        sizes: Any = self.hidden_layer_sizes
        if isinstance(sizes, (int, np.integer)) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise ConfigError(
                f"hidden_layer_sizes={self.hidden_layer_sizes!r} must be a tuple of positive integers"
            ) from None
        for size in sizes:
            check_int("hidden_layer_sizes entries", size, minimum=1)
        return tuple(int(size) for size in sizes)

    def _check_params(self) -> None:
        super()._check_params()
        self._layer_sizes()
        check_choice("activation", self.activation, tuple(ACTIVATIONS))
        check_float("dropout", self.dropout, low=0.0, high=1.0)

    def _build_module(self, input_shape: tuple[int, ...], n_classes: int) -> MLPNet:
        return MLPNet(
            n_features=int(input_shape[-1]),
            n_classes=n_classes,
            hidden_layer_sizes=self._layer_sizes(),
            activation=self.activation,
            dropout=float(self.dropout),
        )
