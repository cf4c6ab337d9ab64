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
import random
import re
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError, DataError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

__all__ = [
    "EarlyStopping",
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

_CUDA_RE = re.compile(r"cuda(?::(\d+))?")

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
        if not isinstance(self.device, str):
            raise ConfigError(f"device={self.device!r} must be a string such as 'cpu' or 'cuda'")


@dataclass
class TrainHistory:
    """What happened during one training run.

    Epoch numbers count from 1: ``train_loss[best_epoch - 1]`` is the loss of the
    epoch whose weights were kept.  ``val_loss`` and ``val_accuracy`` are empty when
    the run had no validation set; ``monitor`` says which loss early stopping watched.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
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


# Parameter checks shared with the estimators (musicnn.models).
def check_int(name: str, value: Any, *, minimum: int) -> None:
    """Raise ConfigError unless ``value`` is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name}={value!r} must be an integer >= {minimum}")


def check_float(
    name: str,
    value: Any,
    *,
    low: float,
    high: float | None = None,
    low_inclusive: bool = True,
) -> None:
    """Raise ConfigError unless ``value`` is a finite number in the given range."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (v >= low) if low_inclusive else (v > low)
        if high is not None:
            ok = ok and v < high
    if not ok:
        bound = f"{'>=' if low_inclusive else '>'} {low:g}"
        if high is not None:
            bound += f" and < {high:g}"
        raise ConfigError(f"{name}={value!r} must be a finite number {bound}")


def resolve_device(device: str) -> torch.device:
    """Turn a device name into a :class:`torch.device`, checking that it exists.

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when available, else CPU).

    Returns
    -------
    torch.device

    Raises
    ------
    ConfigError
        For an unknown name, or a CUDA device this machine does not have.
    """
    import torch

    if not isinstance(device, str):
        raise ConfigError(f"device={device!r} must be a string: 'cpu', 'cuda', 'cuda:N' or 'auto'")
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    match = _CUDA_RE.fullmatch(name)
    if match is None:
        raise ConfigError(
            f"device={device!r} is not a known device; use 'cpu', 'cuda', 'cuda:N' or 'auto'"
        )
    if not torch.cuda.is_available():
        raise ConfigError(
            f"device={device!r} was requested but CUDA is not available "
            f"(torch {torch.__version__}); use device='cpu' or device='auto'"
        )
    if match.group(1) is not None:
        index, count = int(match.group(1)), torch.cuda.device_count()
        if index >= count:
            raise ConfigError(
                f"device={device!r} does not exist: this machine has {count} CUDA device(s) "
                f"(cuda:0 to cuda:{count - 1})"
            )
    return torch.device(name)


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

    @property
    def should_stop(self) -> bool:
        """True once ``patience`` epochs in a row brought no improvement."""
        return self.bad_epochs >= self.patience

    def restore(self, module: torch.nn.Module) -> None:
        """Load the best weights seen back into ``module``."""
        if self.best_state is not None:
            module.load_state_dict(self.best_state)


def train_one_epoch(
    module: torch.nn.Module,
    optimiser: torch.optim.Optimizer,
    loss_fn: torch.nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    generator: torch.Generator,
    device: torch.device,
) -> float:
    """Run one pass of shuffled mini-batches; return the mean training loss.

    ``X`` and ``y`` stay on the CPU; each batch is moved to ``device``.  The order of
    the batches comes from ``generator`` alone, so it is reproducible.  A trailing
    batch of one example joins the previous batch (batch norm needs two).
    """
    import torch

    module.train()
    n = len(X)
    order = torch.randperm(n, generator=generator)
    bounds = list(range(0, n, batch_size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]  # fold a trailing single example into the previous batch
    total = torch.zeros((), dtype=torch.float64, device=device)
    for start, stop in zip(bounds[:-1], bounds[1:]):
        idx = order[start:stop]
        xb = X[idx].to(device, non_blocking=True)
        yb = y[idx].to(device, non_blocking=True)
        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(module(xb), yb)
        loss.backward()
        optimiser.step()
        total += loss.detach().double() * len(idx)
    return float(total.item()) / n


def evaluate(
    module: torch.nn.Module,
    loss_fn: torch.nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    batch_size: int,
    device: torch.device,
) -> tuple[float, float]:
    """Return (mean loss, accuracy) of ``module`` on ``X, y`` in eval mode, without gradients."""
    import torch

    module.eval()
    total = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            xb = X[start : start + batch_size].to(device, non_blocking=True)
            yb = y[start : start + batch_size].to(device, non_blocking=True)
            logits = module(xb)
            total += loss_fn(logits, yb).double() * len(yb)
            correct += (logits.argmax(dim=1) == yb).sum()
    n = len(X)
    return float(total.item()) / n, float(correct.item()) / n


def _progress_bar(config: TrainConfig):
    from musicnn.progress import progress_bar

    return progress_bar(config.max_epochs, "training", "epoch", config.progress)


def train_classifier(
    module: torch.nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    config: TrainConfig,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
) -> TrainHistory:
    """Train a classification network with Adam, cross-entropy and early stopping.

    The network is trained in place; at the end it holds the weights of its best epoch
    (lowest validation loss, or lowest training loss without validation) and is left in
    eval mode on ``config.device``.

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
        Settings of the run.
    X_val, y_val : np.ndarray, optional
        Validation set.  When absent, ``config.validation_fraction`` of ``X`` is held
        out (stratified, seeded).

    Returns
    -------
    TrainHistory

    Raises
    ------
    ConfigError
        For invalid settings, an unavailable device, or a loss that becomes NaN/inf.
    DataError
        For inconsistent arrays.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        When ``max_epochs`` ran out before early stopping triggered.
    """
    import torch

    config.validate()
    X, y = _as_arrays(X, y, "training data")
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
    torch.manual_seed(config.seed)  # dropout masks and any other random layer
    generator = torch.Generator().manual_seed(config.seed)  # batch order
    module.to(device)
    optimiser = torch.optim.Adam(module.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    if has_val:
        Xv_t, yv_t = torch.from_numpy(X_val), torch.from_numpy(y_val)
    eval_batch = max(config.batch_size, 256)

    history = TrainHistory(monitor=config.monitor if has_val else "train_loss")
    stopper = EarlyStopping(config.patience)
    started = time.perf_counter()
    bar = _progress_bar(config)
    try:
        for epoch in range(1, config.max_epochs + 1):
            train_loss = train_one_epoch(
                module, optimiser, loss_fn, X_t, y_t,
                batch_size=config.batch_size, generator=generator, device=device,
            )
            _check_finite(train_loss, "training", epoch, config)
            history.train_loss.append(train_loss)
            postfix = {"loss": f"{train_loss:.4f}"}
            monitored = train_loss
            if has_val:
                val_loss, val_acc = evaluate(
                    module, loss_fn, Xv_t, yv_t, batch_size=eval_batch, device=device
                )
                _check_finite(val_loss, "validation", epoch, config)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_acc)
                postfix.update(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.3f}")
                monitored = (-val_acc, val_loss) if config.monitor == "val_accuracy" else val_loss
            history.n_epochs = epoch
            stopper.update(monitored, epoch, module)
            bar.set_postfix(postfix, refresh=False)
            bar.update(1)
            if stopper.should_stop:
                history.stopped_early = True
                break
    finally:
        bar.close()

    stopper.restore(module)
    module.eval()
    history.best_epoch = stopper.best_epoch
    history.seconds = time.perf_counter() - started
    warn_if_not_stopped(history, config)
    return history


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
