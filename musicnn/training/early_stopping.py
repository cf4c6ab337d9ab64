"""When a training run stops: one early-stopping rule for every back-propagation trainer.

The torch loop (:func:`musicnn.training.loop.train_classifier`) and the numpy reference
back-propagation (:func:`musicnn.models.deep.backprop.train_reference`) watch the same
quantity (:func:`monitored`), keep the best epoch's weights the same way
(:class:`EarlyStopping`), refuse a loss that is no longer finite
(:func:`check_finite_loss`) and warn when ``max_epochs`` ran out first
(:func:`warn_if_not_stopped`).  Torch-free: the weights are whatever the trainer's
``snapshot`` returns (a state dict of tensors, a list of numpy arrays).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

from musicnn.errors import ConfigError
from musicnn.training.config import TrainHistory

__all__ = ["EarlyStopping", "check_finite_loss", "monitored", "warn_if_not_stopped"]

# A monitored loss must fall by more than this fraction of its best value to count as
# an improvement; guards early stopping against float noise on a plateau.
_REL_MIN_DELTA = 1e-6


def monitored(monitor: str, train_loss: float, val_loss: float | None = None,
              val_accuracy: float | None = None) -> tuple[float, ...]:
    """The quantity early stopping compares, lower is better.

    ``(-val_accuracy, val_loss)`` for ``monitor="val_accuracy"`` (ties broken by the
    loss), ``(val_loss,)`` for ``"val_loss"``, ``(train_loss,)`` without a validation set
    (``val_loss`` None).
    """
    if val_loss is None:
        return (float(train_loss),)
    if monitor == "val_accuracy":
        return (-float(val_accuracy), float(val_loss))  # type: ignore[arg-type]
    return (float(val_loss),)


class EarlyStopping:
    """Track the best value of a monitored quantity and keep a copy of the best weights.

    Values are compared lower-is-better; a tuple compares its first element (with a small
    relative tolerance) and breaks ties with the following ones.

    Parameters
    ----------
    patience : int
        Epochs without improvement after which :attr:`should_stop` turns true.
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best: tuple[float, ...] | None = None
        self.best_epoch = 0
        self.bad_epochs = 0
        self.best_state: Any = None

    def _improves(self, key: tuple[float, ...]) -> bool:
        if self.best is None:
            return True
        tol = _REL_MIN_DELTA * max(1.0, abs(self.best[0]))
        if key[0] < self.best[0] - tol:
            return True
        return abs(key[0] - self.best[0]) <= tol and key[1:] < self.best[1:]

    def update(self, value: float | tuple[float, ...], epoch: int, snapshot: Callable[[], Any]) -> bool:
        """Record an epoch's value; return True if it improved on the best so far.

        ``snapshot()`` is called on an improvement only: it returns a copy of the current
        weights, kept as :attr:`best_state`.
        """
        key = tuple(value) if isinstance(value, tuple) else (value,)
        if self._improves(key):
            self.best, self.best_epoch, self.bad_epochs = key, epoch, 0
            self.best_state = snapshot()
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        """True once ``patience`` epochs in a row brought no improvement."""
        return self.bad_epochs >= self.patience

    def restore(self, load: Callable[[Any], Any]) -> None:
        """Hand the best weights seen to ``load`` (nothing when no epoch was recorded)."""
        if self.best_state is not None:
            load(self.best_state)

    def state(self) -> dict[str, Any]:
        """The tracker's state, for a checkpoint."""
        return {"best": None if self.best is None else list(self.best), "best_epoch": self.best_epoch,
                "bad_epochs": self.bad_epochs, "best_state": self.best_state}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`."""
        self.best = None if state["best"] is None else tuple(float(v) for v in state["best"])
        self.best_epoch, self.bad_epochs = int(state["best_epoch"]), int(state["bad_epochs"])
        self.best_state = state["best_state"]


def check_finite_loss(value: float, what: str, epoch: int, lr: float) -> None:
    """Raise ConfigError when the ``what`` ("training", "validation") loss is NaN or infinite."""
    if not math.isfinite(value):
        raise ConfigError(
            f"the {what} loss became {value} at epoch {epoch}; lower the learning rate "
            f"(lr={lr:g}) or check the inputs for extreme values"
        )


def warn_if_not_stopped(history: TrainHistory, max_epochs: int) -> None:
    """Warn (ConvergenceWarning) when ``max_epochs`` ran out before early stopping triggered.

    A run without a validation set (``monitor == "train_loss"``) trains ``max_epochs`` by
    design and is not warned about.
    """
    if not history.stopped_early and history.monitor != "train_loss":
        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(
            f"training stopped at max_epochs={max_epochs} before early stopping "
            f"triggered (best {history.monitor.replace('_', ' ')} at epoch "
            f"{history.best_epoch}); raise max_epochs to train longer",
            ConvergenceWarning,
            stacklevel=3,
        )
