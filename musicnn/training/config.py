"""What a training run is told and what it reports: :class:`TrainConfig` and :class:`TrainHistory`.

Torch-free: :data:`LR_SCHEDULES` comes from :mod:`musicnn.choices` (where the command line
reads it without loading numpy), and the torch estimators derive their shared training
parameters from :class:`TrainConfig`'s fields (:mod:`musicnn.models.deep.base`), so that
the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from musicnn.checks import check_float, check_int
from musicnn.choices import LR_SCHEDULES
from musicnn.errors import ConfigError

__all__ = ["LR_SCHEDULES", "MONITORS", "TrainConfig", "TrainHistory"]

#: What early stopping can watch on the validation set.
MONITORS = ("val_accuracy", "val_loss")


@dataclass
class TrainConfig:
    """Settings of one training run.

    Parameters
    ----------
    batch_size : int
        Examples per mini-batch.
    max_epochs : int
        Upper bound on passes over the training data.
    lr : float
        Adam learning rate.
    weight_decay : float
        L2 penalty handed to Adam.
    patience : int
        Epochs without improvement of the monitored quantity before training stops.
    validation_fraction : float
        Share of the training data held out for early stopping when no validation set
        is given; 0 disables validation (early stopping then watches the training loss).
    seed : int
        Seed of the weight initialisation, the validation split, the batch order, the
        augmentations and the dropout masks.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    progress : bool
        Show a progress bar over epochs (only on a terminal).
    monitor : str
        What early stopping watches on the validation set, one of :data:`MONITORS`:
        ``"val_accuracy"`` (ties broken by the lower validation loss) or ``"val_loss"``.
        Accuracy is the default: on held-out groups (unseen instruments) the loss of an
        over-confident network rises long before its accuracy stops improving.
    lr_schedule : str
        Learning-rate schedule over epochs, one of :data:`LR_SCHEDULES`: ``"constant"``,
        ``"step"``, ``"cosine"`` or ``"plateau"``; see
        :func:`musicnn.training.loop.make_scheduler`.
    class_weight : None, "balanced" or list of float
        ``None`` (every example counts the same), ``"balanced"`` (the loss of each
        class is weighted by ``n / (n_classes * n_c)``, for unbalanced data) or one
        weight per class index.
    clip_grad_norm : float or None
        Clip the global gradient norm to this value before each step (RNNs); None: no
        clipping.
    augment : str or None
        Spectrogram augmentations applied to training batches, comma-separated, each
        optionally ``name=value``: ``specaugment`` (time and frequency masks),
        ``crop`` (random crop of the frames), ``mixup`` (mixup of examples and labels);
        see :func:`musicnn.training.augment.parse_augment`.
    """

    batch_size: int = 64
    max_epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 10
    validation_fraction: float = 0.15
    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    monitor: str = "val_accuracy"
    lr_schedule: str = "constant"
    class_weight: str | list[float] | None = None
    clip_grad_norm: float | None = None
    augment: str | None = None

    def validate(self) -> None:
        """Raise :class:`~musicnn.errors.ConfigError` naming the first invalid value."""
        check_int("batch_size", self.batch_size, minimum=1)
        check_int("max_epochs", self.max_epochs, minimum=1)
        check_int("patience", self.patience, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_float("lr", self.lr, low=0.0, low_inclusive=False)
        check_float("weight_decay", self.weight_decay, low=0.0)
        check_float("validation_fraction", self.validation_fraction, low=0.0, high=1.0)
        if self.monitor not in MONITORS:
            raise ConfigError(f"monitor={self.monitor!r} is not valid; choose one of {', '.join(MONITORS)}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(
                f"lr_schedule={self.lr_schedule!r} is not valid; choose one of {', '.join(LR_SCHEDULES)}"
            )
        if not (self.class_weight in (None, "balanced") or isinstance(self.class_weight, (list, tuple))):
            raise ConfigError(
                f"class_weight={self.class_weight!r} must be None, 'balanced' or one weight per class"
            )
        if self.clip_grad_norm is not None:
            check_float("clip_grad_norm", self.clip_grad_norm, low=0.0, low_inclusive=False)
        from musicnn.training.augment import parse_augment

        parse_augment(self.augment)
        if not isinstance(self.device, str):
            raise ConfigError(f"device={self.device!r} must be a string such as 'cpu' or 'cuda'")


@dataclass
class TrainHistory:
    """What happened during one training run.

    Epoch numbers count from 1: ``train_loss[best_epoch - 1]`` is the loss of the
    epoch whose weights were kept.  ``val_loss`` and ``val_accuracy`` are empty when
    the run had no validation set; ``monitor`` says which loss early stopping watched.
    ``train_accuracy`` is measured on the training batches as seen (augmented, in
    training mode); ``lr`` is the learning rate of each epoch.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int = 0
    n_epochs: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    monitor: str = "val_loss"

    def to_dict(self) -> dict[str, Any]:
        """Return the history as a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainHistory:
        """Rebuild a history from :meth:`to_dict` output (unknown keys are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
