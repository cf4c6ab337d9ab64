"""The one loop that trains every torch model of musicnn.

Every torch-backed estimator hands its network and its (already standardised) arrays to
:func:`train_classifier`, so batching, validation split, early stopping, progress,
seeding and device choice live in one place.  The loop is written as small steps
(:func:`validation_split`, :func:`train_one_epoch`, :func:`evaluate`,
:class:`EarlyStopping`) so that checkpoints, learning-rate schedules, augmentation and
distributed training can be added around them without rewriting it.

Nothing here is imported by ``import musicnn``; torch is imported inside the functions.
"""

from __future__ import annotations

import math
import os
import random
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from musicnn.checks import check_float, check_int, resolve_device  # noqa: F401  (re-exported)
from musicnn.errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

__all__ = [
    "EarlyStopping",
    "class_weights",
    "epoch_seed",
    "fingerprint",
    "batch_bounds",
    "make_scheduler",
    "TrainConfig",
    "TrainHistory",
    "evaluate",
    "resolve_device",
    "seed_everything",
    "train_classifier",
    "train_one_epoch",
    "validation_split",
]

#: What early stopping can watch on the validation set.
MONITORS = ("val_accuracy", "val_loss")

#: Learning-rate schedules (see :func:`make_scheduler`).
LR_SCHEDULES = ("constant", "step", "cosine", "plateau")

# A monitored loss must fall by more than this fraction of its best value to count as
# an improvement; guards early stopping against float noise on a plateau.
_REL_MIN_DELTA = 1e-6


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
    monitor : str
        What early stopping watches on the validation set: ``"val_accuracy"`` (ties broken
        by the lower validation loss) or ``"val_loss"``.  Accuracy is the default: on
        held-out groups (unseen instruments) the loss of an over-confident network rises
        long before its accuracy stops improving.
    validation_fraction : float
        Share of the training data held out for early stopping when no validation set
        is given; 0 disables validation (early stopping then watches the training loss).
    seed : int
        Seed of the validation split, the batch order and the dropout masks.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    progress : bool
        Show a progress bar over epochs (only on a terminal).
    lr_schedule : str
        Learning-rate schedule over epochs, one of :data:`LR_SCHEDULES`: ``"constant"``,
        ``"step"``, ``"cosine"`` or ``"plateau"``; see :func:`make_scheduler`.
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


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (CPU and CUDA).

    Call it before building a network so that its initial weights are reproducible.
    """
    import torch

    check_int("seed", seed, minimum=0)
    random.seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    torch.manual_seed(int(seed))  # also seeds every CUDA device


def validation_split(
    y: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into training and validation parts.

    Stratified by ``y`` when every class has at least two members and both parts can
    hold every class; otherwise a plain seeded random split.  At least two examples
    stay in the training part.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Class indices.
    fraction : float
        Share of examples held out, in [0, 1).  0 (or fewer than 3 examples) gives an
        empty validation part.
    seed : int
        Seed of the split.

    Returns
    -------
    train_idx, val_idx : np.ndarray of int64, sorted
    """
    n = len(y)
    if fraction <= 0 or n < 3:
        return np.arange(n, dtype=np.int64), np.empty(0, dtype=np.int64)
    # keep at least two training examples (batch norm cannot train on a single one)
    n_val = min(max(1, int(math.ceil(fraction * n))), n - 2)
    _, counts = np.unique(y, return_counts=True)
    n_classes = len(counts)
    if counts.min() >= 2 and n_val >= n_classes and n - n_val >= n_classes:
        from sklearn.model_selection import StratifiedShuffleSplit

        splitter = StratifiedShuffleSplit(n_splits=1, test_size=n_val, random_state=seed)
        try:
            train_idx, val_idx = next(splitter.split(np.zeros(n), y))
        except ValueError:  # pragma: no cover - guarded by the checks above
            pass
        else:
            return np.sort(train_idx).astype(np.int64), np.sort(val_idx).astype(np.int64)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]).astype(np.int64), np.sort(order[:n_val]).astype(np.int64)


def _as_arrays(X: Any, y: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X)
    y = np.asarray(y)
    if X.dtype != np.float32:
        X = X.astype(np.float32)
    if not X.flags.writeable or not X.flags.c_contiguous:
        X = np.array(X, dtype=np.float32, order="C")  # torch.from_numpy wants a writable array
    if y.ndim != 1 or len(y) != len(X):
        raise DataError(f"{what}: y must be 1-D with one label per row of X; got X {X.shape}, y {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{what}: y must hold integer class indices; got dtype {y.dtype}")
    if len(X) == 0:
        raise DataError(f"{what}: no examples (X has shape {X.shape})")
    return X, y.astype(np.int64)


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
        self.best_state: dict[str, torch.Tensor] | None = None

    def _improves(self, key: tuple[float, ...]) -> bool:
        if self.best is None:
            return True
        tol = _REL_MIN_DELTA * max(1.0, abs(self.best[0]))
        if key[0] < self.best[0] - tol:
            return True
        return abs(key[0] - self.best[0]) <= tol and key[1:] < self.best[1:]

    def update(self, value: float | tuple[float, ...], epoch: int, module: torch.nn.Module) -> bool:
        """Record an epoch's value; return True if it improved on the best so far."""
        key = tuple(value) if isinstance(value, tuple) else (value,)
        if self._improves(key):
            self.best, self.best_epoch, self.bad_epochs = key, epoch, 0
            self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            return True
        self.bad_epochs += 1
        return False

    def state(self) -> dict[str, Any]:
        """The tracker's state, for a checkpoint."""
        return {"best": None if self.best is None else list(self.best), "best_epoch": self.best_epoch,
                "bad_epochs": self.bad_epochs, "best_state": self.best_state}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state`."""
        self.best = None if state["best"] is None else tuple(float(v) for v in state["best"])
        self.best_epoch, self.bad_epochs = int(state["best_epoch"]), int(state["bad_epochs"])
        self.best_state = state["best_state"]

    @property
    def should_stop(self) -> bool:
        """True once ``patience`` epochs in a row brought no improvement."""
        return self.bad_epochs >= self.patience

    def restore(self, module: torch.nn.Module) -> None:
        """Load the best weights seen back into ``module``."""
        if self.best_state is not None:
            module.load_state_dict(self.best_state)


def class_weights(y: np.ndarray, n_classes: int, class_weight: Any) -> np.ndarray | None:
    """Per-class loss weights.

    Parameters
    ----------
    y : np.ndarray of int, shape (n,)
        Training class indices.
    n_classes : int
    class_weight : None, "balanced" or sequence of float
        ``"balanced"``: ``n / (n_classes * n_c)`` (classes absent from ``y`` get 1);
        a sequence gives one weight per class index.

    Returns
    -------
    np.ndarray of float32, shape (n_classes,), or None for no weighting
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ConfigError(f"class_weight={class_weight!r} must be None, 'balanced' or one weight per class")
        counts = np.bincount(y, minlength=n_classes).astype(np.float64)
        w = np.ones(n_classes)
        present = counts > 0
        w[present] = len(y) / (present.sum() * counts[present])
        return w.astype(np.float32)
    w = np.asarray(class_weight, dtype=np.float64)
    if w.shape != (n_classes,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ConfigError(
            f"class_weight must hold {n_classes} finite non-negative weights, one per class; got {class_weight!r}"
        )
    return w.astype(np.float32)


def make_scheduler(optimiser: torch.optim.Optimizer, config: TrainConfig) -> Any:
    """The learning-rate schedule of ``config.lr_schedule``, stepped once per epoch.

    ``"constant"``: None.  ``"step"``: halve the rate every ``max(1, max_epochs // 4)``
    epochs.  ``"cosine"``: cosine decay from ``lr`` to ``lr / 100`` over ``max_epochs``.
    ``"plateau"``: halve the rate when the monitored quantity has not improved for
    ``max(1, patience // 3)`` epochs (stepped with that quantity).
    """
    from torch.optim import lr_scheduler as sched

    name = config.lr_schedule
    if name == "constant":
        return None
    if name == "step":
        return sched.StepLR(optimiser, step_size=max(1, config.max_epochs // 4), gamma=0.5)
    if name == "cosine":
        return sched.CosineAnnealingLR(optimiser, T_max=config.max_epochs, eta_min=config.lr / 100)
    if name == "plateau":
        return sched.ReduceLROnPlateau(optimiser, mode="min", factor=0.5, patience=max(1, config.patience // 3))
    raise ConfigError(f"lr_schedule={name!r} is not valid; choose one of {', '.join(LR_SCHEDULES)}")


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch's random draws (batch order, augmentation, dropout).

    Every epoch reseeds from ``(seed, epoch)``, so a run resumed at epoch ``e`` draws
    exactly what the uninterrupted run drew.
    """
    return (int(seed) * 1_000_003 + int(epoch) * 7_919) % (2**62)


def batch_bounds(n: int, batch_size: int) -> list[int]:
    """Start indices of the mini-batches of ``n`` examples, then ``n``; a trailing batch of
    one example joins the previous one (batch norm needs two)."""
    bounds = list(range(0, n, batch_size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]  # fold a trailing single example into the previous batch
    return bounds


def train_one_epoch(
    module: torch.nn.Module,
    optimiser: torch.optim.Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    seed: int,
    device: torch.device,
    weights: torch.Tensor | None = None,
    augment: dict[str, float] | None = None,
    clip_grad_norm: float | None = None,
    dist: Any = None,
) -> tuple[float, float]:
    """Run one pass of shuffled mini-batches; return (mean training loss, accuracy).

    ``X`` and ``y`` stay on the CPU; each batch is augmented there and moved to
    ``device``.  The batch order comes from ``seed`` alone.  A trailing batch of one
    example joins the previous batch (batch norm needs two).

    The loss of a batch is ``Σ_i w_{y_i} CE_i / Σ_i w_{y_i}`` over the batch (``w = 1``
    without class weights).  In a distributed run (``dist.world_size > 1``) every process
    draws the same order and takes its slice of each batch; its loss is its share of that
    sum times ``world_size``, so that the gradients DistributedDataParallel averages equal
    the single-process gradient of the whole batch.  The accuracy is measured on the
    (augmented) training batches as they were seen, in training mode.
    """
    import torch
    import torch.nn.functional as F

    from musicnn.training.augment import augment_batch, mixup_batch

    rank, world = (dist.rank, dist.world_size) if dist is not None else (0, 1)
    augment = augment or {}
    module.train()
    torch.manual_seed(seed + rank)  # dropout masks
    order_gen = torch.Generator().manual_seed(seed)
    aug_gen = torch.Generator().manual_seed(seed + 1 + rank)
    rng = np.random.default_rng([seed, rank])
    n = len(X)
    order = torch.randperm(n, generator=order_gen)
    bounds = batch_bounds(n, batch_size)
    w_cpu = weights.cpu() if weights is not None else None
    w_dev = weights.to(device) if weights is not None else None
    # sums kept on the device: no host synchronisation per batch
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct_sum = torch.zeros((), dtype=torch.float64, device=device)
    weight_sum = 0.0
    for start, stop in zip(bounds[:-1], bounds[1:]):
        global_idx = order[start:stop]
        denom = float(w_cpu[y[global_idx]].sum()) if w_cpu is not None else float(len(global_idx))
        idx = global_idx[rank::world]
        xb, yb = X[idx], y[idx]
        if augment:
            xb = augment_batch(xb, augment, aug_gen)
        perm, lam = None, 1.0
        if "mixup" in augment and len(xb) > 1:
            xb, perm, lam = mixup_batch(xb, augment["mixup"], rng, aug_gen)
        xb = xb.to(device, non_blocking=True)
        yb = yb.to(device, non_blocking=True)
        optimiser.zero_grad(set_to_none=True)
        logits = module(xb)
        per_example = F.cross_entropy(logits, yb, weight=w_dev, reduction="none")
        if perm is not None:
            yp = yb[perm.to(device)]
            per_example = lam * per_example + (1 - lam) * F.cross_entropy(
                logits, yp, weight=w_dev, reduction="none")
        batch_sum = per_example.sum()
        (batch_sum * (world / denom)).backward()
        if clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(module.parameters(), clip_grad_norm)
        optimiser.step()
        with torch.no_grad():
            target = yb if perm is None or lam >= 0.5 else yb[perm.to(device)]
            correct_sum += (logits.argmax(dim=1) == target).sum()
            loss_sum += batch_sum.detach().double()
        weight_sum += float(w_cpu[y[idx]].sum()) if w_cpu is not None else float(len(idx))
    totals = torch.stack([loss_sum.cpu(), torch.tensor(weight_sum, dtype=torch.float64), correct_sum.cpu()])
    if world > 1:
        import torch.distributed as tdist

        totals = totals.to(device)  # NCCL reduces GPU tensors only
        tdist.all_reduce(totals)
        totals = totals.cpu()
    return float(totals[0] / totals[1]), float(totals[2] / n)


def evaluate(
    module: torch.nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    device: torch.device,
    weights: torch.Tensor | None = None,
) -> tuple[float, float]:
    """Return (mean loss, accuracy) of ``module`` on ``X, y`` in eval mode, without gradients.

    Loss and accuracy are weighted by ``weights`` (per class) like the training loss:
    with ``class_weight="balanced"`` the accuracy is close to the balanced accuracy.
    """
    import torch
    import torch.nn.functional as F

    module.eval()
    w_dev = weights.to(device) if weights is not None else None
    total = torch.zeros((), dtype=torch.float64, device=device)
    wsum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.float64, device=device)
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            xb = X[start : start + batch_size].to(device, non_blocking=True)
            yb = y[start : start + batch_size].to(device, non_blocking=True)
            logits = module(xb)
            wb = w_dev[yb].double() if w_dev is not None else torch.ones(len(yb), dtype=torch.float64, device=device)
            total += F.cross_entropy(logits, yb, weight=w_dev, reduction="sum").double()
            wsum += wb.sum()
            correct += (wb * (logits.argmax(dim=1) == yb)).sum()
    return float((total / wsum).item()), float((correct / wsum).item())


def _progress_bar(config: TrainConfig, enabled: bool = True, initial: int = 0):
    from musicnn.progress import progress_bar

    bar = progress_bar(config.max_epochs, "training", "epoch", config.progress and enabled)
    if initial:
        bar.update(initial)
    return bar


def fingerprint(config: TrainConfig, module: torch.nn.Module, arrays: list[np.ndarray | None],
                extra: Any = None) -> str:
    """A digest of what determines a training run: settings (not device or progress), the
    network's parameter shapes, the data and ``extra``.  A checkpoint resumes only a run
    with the same fingerprint."""
    import hashlib
    import json

    h = hashlib.sha256()
    settings = {k: v for k, v in asdict(config).items() if k not in ("device", "progress")}
    shapes = [[k, list(v.shape)] for k, v in module.state_dict().items()]
    h.update(json.dumps([settings, shapes, extra], sort_keys=True, default=str).encode())
    for a in arrays:
        if a is None:
            h.update(b"none")
        else:
            h.update(str((a.shape, a.dtype.str)).encode())
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:32]


def train_classifier(
    module: torch.nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    config: TrainConfig,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    extra_fingerprint: Any = None,
) -> TrainHistory:
    """Train a classification network with Adam, cross-entropy and early stopping.

    The network is trained in place; at the end it holds the weights of its best epoch
    (by ``config.monitor`` on the validation set, or the lowest training loss without
    one) and is left in eval mode on ``config.device``.

    Parameters
    ----------
    module : torch.nn.Module
        Network whose forward maps a batch of ``X`` to logits of shape (batch, n_classes).
        Build it after :func:`seed_everything` for reproducible initial weights.
    X : np.ndarray, shape (n, ...)
        Training inputs (converted to float32).
    y : np.ndarray of int, shape (n,)
        Class indices in ``[0, n_classes)``.
    config : TrainConfig
        Settings of the run (schedule, class weights, clipping, augmentation included).
    X_val, y_val : np.ndarray, optional
        Validation set.  When absent, ``config.validation_fraction`` of ``X`` is held
        out (stratified, seeded).
    checkpoint : path, optional
        Write the whole training state here after every epoch (atomically, no pickle).
    resume : bool
        Continue from ``checkpoint`` when it exists: the run then ends exactly as an
        uninterrupted run with the same settings and data would.  A checkpoint of
        another run (other settings, data or network) raises ConfigError.
    extra_fingerprint : JSON-able, optional
        More that identifies the run (the estimator's parameters), for the checkpoint check.

    Returns
    -------
    TrainHistory

    Raises
    ------
    ConfigError
        For invalid settings, an unavailable device, a loss that becomes NaN/inf, or a
        checkpoint that belongs to another run.
    DataError
        For inconsistent arrays.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        When ``max_epochs`` ran out before early stopping triggered.

    Notes
    -----
    Started by ``torchrun`` (``WORLD_SIZE > 1``), the run is data-parallel over the
    processes (:mod:`musicnn.training.distributed`); only rank 0 writes the checkpoint.
    """
    import torch

    from musicnn.training.augment import check_input, parse_augment
    from musicnn.training.distributed import context

    config.validate()
    augment = parse_augment(config.augment)
    X, y = _as_arrays(X, y, "training data")
    check_input(augment, X.ndim)
    if (X_val is None) != (y_val is None):
        raise ConfigError("give both X_val and y_val, or neither")
    if X_val is None:
        train_idx, val_idx = validation_split(y, config.validation_fraction, config.seed)
        if len(val_idx):
            X_val, y_val = X[val_idx], y[val_idx]
            X, y = X[train_idx], y[train_idx]
    else:
        X_val, y_val = _as_arrays(X_val, y_val, "validation data")
        if X_val.shape[1:] != X.shape[1:]:
            raise DataError(
                f"validation data has examples of shape {X_val.shape[1:]}, "
                f"training data {X.shape[1:]}"
            )
    has_val = X_val is not None

    device = resolve_device(config.device)
    dist = context(device.type)
    if dist.enabled and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    module.to(device)
    n_classes = int(max(y.max(), y_val.max() if has_val else 0)) + 1
    out_features = getattr(getattr(module, "head", None), "out_features", None)
    if out_features is not None:
        n_classes = max(n_classes, int(out_features))
    w = class_weights(y, n_classes, config.class_weight)
    weights = torch.from_numpy(w) if w is not None else None
    optimiser = torch.optim.Adam(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = make_scheduler(optimiser, config)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    if has_val:
        Xv_t, yv_t = torch.from_numpy(X_val), torch.from_numpy(y_val)
    eval_batch = max(config.batch_size, 256)

    history = TrainHistory(monitor=config.monitor if has_val else "train_loss")
    stopper = EarlyStopping(config.patience)
    start_epoch, elapsed = 1, 0.0
    digest = None
    if checkpoint is not None:
        digest = fingerprint(config, module, [X, y, X_val, y_val], extra_fingerprint)
        if resume and os.path.exists(checkpoint):
            state = _load_state(checkpoint, digest)
            module.load_state_dict(state["module"])
            optimiser.load_state_dict(state["optimiser"])
            if scheduler is not None and state.get("scheduler") is not None:
                scheduler.load_state_dict(state["scheduler"])
            stopper.load_state(state["stopper"])
            history = TrainHistory.from_dict(state["history"])
            start_epoch, elapsed = int(state["epoch"]) + 1, float(state.get("seconds", 0.0))
            if state.get("finished"):
                module.eval()
                return history

    train_module = module
    if dist.enabled:
        from torch.nn.parallel import DistributedDataParallel

        train_module = DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None)
    started = time.perf_counter() - elapsed
    bar = _progress_bar(config, dist.is_main, initial=start_epoch - 1)
    try:
        for epoch in range(start_epoch, config.max_epochs + 1):
            if history.stopped_early:
                break
            lr_now = optimiser.param_groups[0]["lr"]
            train_loss, train_acc = train_one_epoch(
                train_module, optimiser, X_t, y_t,
                batch_size=config.batch_size, seed=epoch_seed(config.seed, epoch), device=device,
                weights=weights, augment=augment, clip_grad_norm=config.clip_grad_norm, dist=dist,
            )
            _check_finite(train_loss, "training", epoch, config)
            history.train_loss.append(train_loss)
            history.train_accuracy.append(train_acc)
            history.lr.append(lr_now)
            postfix = {"loss": f"{train_loss:.4f}"}
            monitored = train_loss
            if has_val:
                val_loss, val_acc = evaluate(
                    module, Xv_t, yv_t, batch_size=eval_batch, device=device, weights=weights
                )
                _check_finite(val_loss, "validation", epoch, config)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_acc)
                postfix.update(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.3f}")
                monitored = (-val_acc, val_loss) if config.monitor == "val_accuracy" else val_loss
            history.n_epochs = epoch
            stopper.update(monitored, epoch, module)
            if scheduler is not None:
                if config.lr_schedule == "plateau":
                    scheduler.step(monitored[0] if isinstance(monitored, tuple) else monitored)
                else:
                    scheduler.step()
            if stopper.should_stop:
                history.stopped_early = True
            history.best_epoch = stopper.best_epoch
            history.seconds = time.perf_counter() - started
            if checkpoint is not None and dist.is_main:
                _save_state(checkpoint, digest, epoch, module, optimiser, scheduler, stopper, history)
            bar.set_postfix(postfix, refresh=False)
            bar.update(1)
    finally:
        bar.close()

    stopper.restore(module)
    module.eval()
    history.best_epoch = stopper.best_epoch
    history.seconds = time.perf_counter() - started
    if checkpoint is not None and dist.is_main:
        _save_state(checkpoint, digest, history.n_epochs, module, optimiser, scheduler, stopper, history,
                    finished=True)
    if dist.is_main:
        warn_if_not_stopped(history, config)
    return history


def _save_state(path, digest, epoch, module, optimiser, scheduler, stopper, history, finished=False) -> None:
    from musicnn.training.checkpoint import save_checkpoint

    save_checkpoint(path, {
        "fingerprint": digest,
        "epoch": epoch,
        "finished": finished,
        "seconds": history.seconds,
        "module": module.state_dict(),
        "optimiser": optimiser.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "stopper": stopper.state(),
        "history": history.to_dict(),
    })


def _load_state(path, digest) -> dict[str, Any]:
    from musicnn.training.checkpoint import load_checkpoint

    state = load_checkpoint(path)
    if state.get("fingerprint") != digest:
        raise ConfigError(
            f"{path}: this checkpoint was written by another training run (other settings, data "
            "or network); delete it, or rerun with the settings it was written with"
        )
    return state


def warn_if_not_stopped(history: TrainHistory, config: TrainConfig) -> None:
    """Warn (ConvergenceWarning) when ``max_epochs`` ran out before early stopping triggered."""
    if not history.stopped_early:
        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(
            f"training stopped at max_epochs={config.max_epochs} before early stopping "
            f"triggered (best {history.monitor.replace('_', ' ')} at epoch "
            f"{history.best_epoch}); raise max_epochs to train longer",
            ConvergenceWarning,
            stacklevel=3,
        )


def _check_finite(value: float, what: str, epoch: int, config: TrainConfig) -> None:
    if not math.isfinite(value):
        raise ConfigError(
            f"the {what} loss became {value} at epoch {epoch}; lower the learning rate "
            f"(lr={config.lr:g}) or check the inputs for extreme values"
        )
