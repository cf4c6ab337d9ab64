"""The one loop that trains every torch model of musicnn.

Every torch-backed estimator hands its network and its (already standardised) arrays to
:func:`train_classifier`, so batching, validation split, early stopping, progress,
seeding and device choice live in one place.  The loop is written as small steps
(:func:`train_one_epoch`, :func:`evaluate`, :func:`make_scheduler`) around the torch-free
pieces it shares with the numpy reference back-propagation: the settings and history
(:mod:`.config`), the data cuts (:mod:`.batches`) and the stopping rule
(:mod:`.early_stopping`); checkpoints (:mod:`.checkpoint`), augmentation (:mod:`.augment`)
and distributed training (:mod:`.distributed`) plug into it.

Random state is local: every epoch draws its batch order and augmentations from
generators seeded by :func:`~musicnn.training.batches.epoch_seed`, and its dropout masks
from torch's global generator forked for the epoch (:func:`musicnn.runtime.torch_seeded`),
so training neither depends on nor changes the caller's random streams.

Nothing here is imported by ``import musicnn``; torch is imported inside the functions.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

from musicnn.checks import resolve_device
from musicnn.errors import ConfigError, DataError
from musicnn.runtime import torch_seeded
from musicnn.training.batches import batch_bounds, class_weights, epoch_seed, validation_split
from musicnn.training.config import LR_SCHEDULES, TrainConfig, TrainHistory
from musicnn.training.early_stopping import EarlyStopping, check_finite_loss, monitored, warn_if_not_stopped

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

__all__ = [
    "evaluate",
    "fingerprint",
    "make_scheduler",
    "train_classifier",
    "train_one_epoch",
]


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


def _cuda_devices(device: torch.device) -> list[int]:
    """The CUDA generators a step on ``device`` draws from (none on the CPU)."""
    if device.type != "cuda":
        return []
    import torch

    return [device.index if device.index is not None else torch.cuda.current_device()]


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the module's weights (for the best epoch)."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


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
    ``device``.  The batch order comes from ``seed`` alone; augmentations and dropout
    masks from ``seed`` and the process's rank, through generators of their own (torch's
    global generator, which dropout uses, is forked for the epoch and left as it was).  A
    trailing batch of one example joins the previous batch (batch norm needs two).

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
    # dropout draws from torch's global generator: forked and seeded for this epoch only
    with torch_seeded(seed + rank, devices=_cuda_devices(device)):
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
        Build it under :func:`musicnn.runtime.torch_seeded` for reproducible initial
        weights (as :class:`~musicnn.models.deep.base.TorchClassifier` does).
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
    from musicnn.training.checkpoint import load_training_state, save_training_state
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
            state = load_training_state(checkpoint, digest)
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
            check_finite_loss(train_loss, "training", epoch, config.lr)
            history.train_loss.append(train_loss)
            history.train_accuracy.append(train_acc)
            history.lr.append(lr_now)
            postfix = {"loss": f"{train_loss:.4f}"}
            val_loss = val_acc = None
            if has_val:
                val_loss, val_acc = evaluate(
                    module, Xv_t, yv_t, batch_size=eval_batch, device=device, weights=weights
                )
                check_finite_loss(val_loss, "validation", epoch, config.lr)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_acc)
                postfix.update(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.3f}")
            key = monitored(config.monitor, train_loss, val_loss, val_acc)
            history.n_epochs = epoch
            stopper.update(key, epoch, lambda: _snapshot(module))
            if scheduler is not None:
                if config.lr_schedule == "plateau":
                    scheduler.step(key[0])
                else:
                    scheduler.step()
            if stopper.should_stop:
                history.stopped_early = True
            history.best_epoch = stopper.best_epoch
            history.seconds = time.perf_counter() - started
            if checkpoint is not None and dist.is_main:
                save_training_state(checkpoint, digest, epoch, module, optimiser, scheduler, stopper, history)
            bar.set_postfix(postfix, refresh=False)
            bar.update(1)
    finally:
        bar.close()

    stopper.restore(module.load_state_dict)
    module.eval()
    history.best_epoch = stopper.best_epoch
    history.seconds = time.perf_counter() - started
    if checkpoint is not None and dist.is_main:
        save_training_state(checkpoint, digest, history.n_epochs, module, optimiser, scheduler, stopper,
                            history, finished=True)
    if dist.is_main:
        warn_if_not_stopped(history, config.max_epochs)
    return history


