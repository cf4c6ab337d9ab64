"""Back-propagation written out by hand: the course's equations as plain numpy.

This is the ``backend="reference"`` of :class:`musicnn.models.deep.mlp.MLPClassifier`, and a
runnable copy of the derivation, tested against torch autograd.

Notation (the course's)
-----------------------
Layer ``l`` (``1..L``) has weights ``W^l`` of shape (units of ``l``, units of ``l-1``),
stored like ``torch.nn.Linear.weight``, and biases ``b^l``.  ``y^0`` is the input.

* **propagation**: ``h^l = W^l y^{l-1} + b^l`` (net input), ``y^l = g(h^l)``;
* **output deltas**: ``δ_i^L = g'(h_i^L) (d_i − y_i^L)``, the squared error
  ``ε = ½ Σ_i (d_i − y_i^L)²`` with a sigmoid output (the ½ absorbs the course's factor 2);
  with a softmax output and the cross-entropy ``ε = −Σ_i d_i log y_i^L`` the output delta
  is simply ``δ_i^L = d_i − y_i^L``;
* **back-propagated deltas**: ``δ_i^l = g'(h_i^l) Σ_j w_ji^{l+1} δ_j^{l+1}``
  (``w_ji^{l+1}`` joins unit ``i`` of layer ``l`` to unit ``j`` of layer ``l+1``:
  in matrix form ``δ^l = g'(h^l) ⊙ (W^{l+1})ᵀ δ^{l+1}``);
* **updates**: ``Δw_ij^l = η δ_i^l y_j^{l−1}`` and ``Δb_i^l = η δ_i^l``.

The derivatives are written from the unit's output alone, as the course does for the
sigmoid: ``g'(h) = y (1 − y)`` (sigmoid), ``1 − y²`` (tanh), ``[y > 0]`` (relu).

Over a mini-batch the update is the average of the per-pattern updates, which is a step
of gradient descent on the mean error: :func:`backprop_gradients` returns that gradient
(``∂ε/∂W^l = −mean_p δ^l y^{l−1}ᵀ``), so ``Δw = −η ∂ε/∂w``.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from musicnn.errors import ConfigError, DataError
from musicnn.training.batches import batch_bounds, class_weights, validation_split
from musicnn.training.config import TrainConfig, TrainHistory
from musicnn.training.early_stopping import EarlyStopping, check_finite_loss, monitored, warn_if_not_stopped

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "backprop_gradients",
    "backward",
    "forward",
    "loss_value",
    "output_deltas",
    "train_reference",
]


def _sigmoid(h: np.ndarray) -> np.ndarray:
    # 1 / (1 + e^{-h}) written through tanh: no overflow for large |h|
    return 0.5 * (1.0 + np.tanh(0.5 * h))


def _relu(h: np.ndarray) -> np.ndarray:
    return np.maximum(h, 0.0)


def _identity(h: np.ndarray) -> np.ndarray:
    return h


#: name -> (g(h), g' written from the output y = g(h))
ACTIVATIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "sigmoid": (_sigmoid, lambda y: y * (1.0 - y)),
    "tanh": (np.tanh, lambda y: 1.0 - y * y),
    "relu": (_relu, lambda y: (y > 0).astype(y.dtype)),
    "identity": (_identity, lambda y: np.ones_like(y)),
}

#: loss name -> output activation it goes with by default
LOSSES = {"squared": "sigmoid", "cross_entropy": "softmax"}


def _softmax(h: np.ndarray) -> np.ndarray:
    z = h - h.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _check_names(activation: str, loss: str, output_activation: str | None) -> str:
    """Validate the names; return the output activation."""
    if activation not in ACTIVATIONS:
        raise ConfigError(f"activation={activation!r} is not valid; choose one of "
                          f"{', '.join(map(repr, ACTIVATIONS))}")
    if loss not in LOSSES:
        raise ConfigError(f"loss={loss!r} is not valid; choose one of {', '.join(map(repr, LOSSES))}")
    out = LOSSES[loss] if output_activation is None else output_activation
    if loss == "cross_entropy" and out != "softmax":
        raise ConfigError(f"loss='cross_entropy' goes with a softmax output, not {out!r}")
    if loss == "squared" and out not in ACTIVATIONS:
        raise ConfigError(f"output_activation={out!r} is not valid with loss='squared'; choose one of "
                          f"{', '.join(map(repr, ACTIVATIONS))}")
    return out


def forward(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    X: np.ndarray,
    activation: str,
    output_activation: str = "softmax",
    masks: Sequence[np.ndarray | None] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Propagation: the net inputs ``h^l`` and outputs ``y^l`` of every layer.

    Parameters
    ----------
    weights, biases : sequences of np.ndarray, shapes (n_l, n_{l-1}) and (n_l,)
        One per layer, input side first.
    X : np.ndarray, shape (n_patterns, n_0)
        Input patterns, one per row.
    activation : str
        ``g`` of the hidden layers (a key of :data:`ACTIVATIONS`).
    output_activation : str
        ``g`` of the last layer: ``"softmax"`` or a key of :data:`ACTIVATIONS`.
    masks : sequence of np.ndarray or None, optional
        Inverted-dropout masks of the hidden layers (values 0 or ``1/(1-p)``); a hidden
        layer's output is ``y^l = g(h^l) ⊙ m^l``.

    Returns
    -------
    hs : list of np.ndarray
        ``hs[l-1] = h^l``, shape (n_patterns, n_l), for ``l = 1..L``.
    ys : list of np.ndarray
        ``ys[0] = X`` and ``ys[l] = y^l``.
    """
    hs: list[np.ndarray] = []
    ys: list[np.ndarray] = [X]
    n_layers = len(weights)
    for l, (W, b) in enumerate(zip(weights, biases), start=1):
        h = ys[-1] @ W.T + b
        if l < n_layers:
            y = ACTIVATIONS[activation][0](h)
            if masks is not None and masks[l - 1] is not None:
                y = y * masks[l - 1]
        elif output_activation == "softmax":
            y = _softmax(h)
        else:
            y = ACTIVATIONS[output_activation][0](h)
        hs.append(h)
        ys.append(y)
    return hs, ys


def output_deltas(y_out: np.ndarray, D: np.ndarray, loss: str, output_activation: str) -> np.ndarray:
    """``δ^L``: ``g'(h^L)(d − y^L)`` for the squared error, ``d − y^L`` for softmax + cross-entropy."""
    if loss == "cross_entropy":
        return D - y_out
    return ACTIVATIONS[output_activation][1](y_out) * (D - y_out)


def backward(
    weights: Sequence[np.ndarray],
    ys: Sequence[np.ndarray],
    delta_out: np.ndarray,
    activation: str,
    masks: Sequence[np.ndarray | None] | None = None,
) -> list[np.ndarray]:
    """Back-propagate: ``δ^l = g'(h^l) ⊙ (W^{l+1})ᵀ δ^{l+1}`` from ``δ^L`` down to ``δ^1``.

    ``g'`` is computed from the outputs ``y^l`` (before any dropout mask, which
    multiplies the derivative: ``∂y^l/∂h^l = g'(h^l) m^l``).

    Returns
    -------
    list of np.ndarray
        ``deltas[l-1] = δ^l``, shape (n_patterns, n_l), for ``l = 1..L``.
    """
    n_layers = len(weights)
    deltas: list[np.ndarray] = [delta_out]
    g_prime = ACTIVATIONS[activation][1]
    for l in range(n_layers - 1, 0, -1):  # hidden layers L-1 .. 1
        back = deltas[0] @ weights[l]  # Σ_j w_ji^{l+1} δ_j^{l+1}, shape (n, n_l)
        y = ys[l]
        mask = None if masks is None else masks[l - 1]
        if mask is not None:
            # y holds g(h) m; recover g(h) where the unit was kept (dropped units get δ = 0)
            kept = mask > 0
            raw = np.where(kept, y / np.where(kept, mask, 1.0), 0.0)
            deltas.insert(0, g_prime(raw) * mask * back)
        else:
            deltas.insert(0, g_prime(y) * back)
    return deltas


def loss_value(y_out: np.ndarray, D: np.ndarray, loss: str, h_out: np.ndarray | None = None,
               sample_weight: np.ndarray | None = None) -> float:
    """Mean over patterns of ``½ Σ_i (d_i − y_i)²`` or ``−Σ_i d_i log y_i``.

    For the cross-entropy, pass the output net inputs ``h_out`` to compute ``log y``
    stably (log-softmax).  ``sample_weight`` makes it the weighted mean.
    """
    if loss == "cross_entropy":
        if h_out is not None:
            z = h_out - h_out.max(axis=1, keepdims=True)
            log_y = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        else:
            log_y = np.log(np.clip(y_out, 1e-300, None))
        per_pattern = -(D * log_y).sum(axis=1)
    else:
        per_pattern = 0.5 * ((D - y_out) ** 2).sum(axis=1)
    if sample_weight is None:
        return float(per_pattern.mean())
    return float((sample_weight * per_pattern).sum() / sample_weight.sum())


def backprop_gradients(
    weights: Sequence[np.ndarray],
    biases: Sequence[np.ndarray],
    X: np.ndarray,
    D: np.ndarray,
    activation: str,
    loss: str,
    *,
    output_activation: str | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Gradients of the mean error over the patterns, by the course's back-propagation.

    Parameters
    ----------
    weights, biases : sequences of np.ndarray, shapes (n_l, n_{l-1}) and (n_l,)
        The network, input side first (any float dtype; float64 for gradient checks).
    X : np.ndarray, shape (n_patterns, n_0)
    D : np.ndarray, shape (n_patterns, n_L)
        Desired outputs (one-hot rows for a classifier).
    activation : {"sigmoid", "tanh", "relu", "identity"}
        Activation of the hidden layers.
    loss : {"squared", "cross_entropy"}
        ``ε = mean_p ½ Σ_i (d_i − y_i)²`` (output ``g`` = ``output_activation``, sigmoid by
        default) or ``ε = −mean_p Σ_i d_i log y_i`` with a softmax output.
    output_activation : str, optional
        Output ``g`` for the squared error (a key of :data:`ACTIVATIONS`).

    Returns
    -------
    grads_w, grads_b : lists of np.ndarray
        ``∂ε/∂W^l = −mean_p δ^l y^{l−1}ᵀ`` and ``∂ε/∂b^l = −mean_p δ^l``, shaped like the
        weights and biases; the course's update is ``Δw = −η ∂ε/∂w``.
    """
    out = _check_names(activation, loss, output_activation)
    if len(weights) != len(biases) or not weights:
        raise ConfigError("give one bias vector per weight matrix, and at least one layer")
    X = np.asarray(X)
    D = np.asarray(D)
    _, ys = forward(weights, biases, X, activation, out)
    deltas = backward(weights, ys, output_deltas(ys[-1], D, loss, out), activation)
    n = X.shape[0]
    grads_w = [-(delta.T @ y_prev) / n for delta, y_prev in zip(deltas, ys[:-1])]
    grads_b = [-delta.mean(axis=0) for delta in deltas]
    return grads_w, grads_b


# --------------------------------------------------------------------------- training
def train_reference(
    weights: list[np.ndarray],
    biases: list[np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    *,
    config: TrainConfig,
    activation: str,
    loss: str = "cross_entropy",
    dropout: float = 0.0,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
) -> TrainHistory:
    """Train a network by mini-batch back-propagation; the weights are updated in place.

    Each epoch visits the training patterns in a new random order (``config.seed``), in
    mini-batches of ``config.batch_size``; a trailing batch of one pattern joins the one
    before, as in :func:`musicnn.training.loop.train_one_epoch`
    (:func:`~musicnn.training.batches.batch_bounds`).  Per batch: propagation,
    output deltas, back-propagated deltas, then ``W^l ← W^l + η mean_p δ^l y^{l−1}ᵀ``
    (plain gradient descent with ``η = config.lr``, the average of the per-pattern updates;
    ``config.weight_decay`` λ adds ``−η λ W^l`` to every update, biases included, as torch's
    ``weight_decay`` does).  Hidden layers drop units with probability ``dropout``
    (inverted dropout) during training only.  BLAS runs on one thread meanwhile: the
    matrices of a mini-batch are small, and several threads on a busy machine are slower.

    Early stopping is the one of :func:`musicnn.training.loop.train_classifier`
    (:mod:`musicnn.training.early_stopping`): a validation
    set (given, else ``config.validation_fraction`` of ``X``, stratified and seeded) is
    scored after every epoch; ``config.monitor`` is watched (validation accuracy with ties
    broken by the validation loss, or the validation loss; the training loss without a
    validation set); training stops after ``config.patience`` epochs without improvement
    and the best epoch's weights are put back.

    Parameters
    ----------
    weights, biases : lists of np.ndarray
        Initial network (float64 recommended), modified in place.
    X : np.ndarray, shape (n, n_features)
        Standardised training inputs.
    y : np.ndarray of int, shape (n,)
        Class indices; the number of output units is the number of classes.
    config : musicnn.training.config.TrainConfig
    activation : str
        Hidden activation (key of :data:`ACTIVATIONS`).
    loss : {"squared", "cross_entropy"}
        Squared error with sigmoid outputs, or cross-entropy with a softmax output.
    dropout : float
        Dropout probability of the hidden layers, in [0, 1).
    X_val, y_val : np.ndarray, optional

    Returns
    -------
    musicnn.training.config.TrainHistory

    Raises
    ------
    ConfigError
        For invalid settings or an error that becomes NaN/inf.

    Warns
    -----
    sklearn.exceptions.ConvergenceWarning
        When ``max_epochs`` ran out before early stopping triggered.
    """
    from musicnn.progress import progress_bar
    from musicnn.runtime import rng as local_rng, single_thread

    config.validate()
    out = _check_names(activation, loss, None)
    dtype = weights[0].dtype
    X = np.asarray(X, dtype=dtype)
    y = np.asarray(y, dtype=np.int64)
    if len(X) == 0:
        raise DataError("training data: no examples")
    n_out = weights[-1].shape[0]
    eye = np.eye(n_out, dtype=dtype)
    if X_val is None:
        train_idx, val_idx = validation_split(y, config.validation_fraction, config.seed)
        if len(val_idx):
            X_val, y_val = X[val_idx], y[val_idx]
            X, y = X[train_idx], y[train_idx]
    has_val = X_val is not None
    if has_val:
        X_val = np.asarray(X_val, dtype=dtype)
        y_val = np.asarray(y_val, dtype=np.int64)
        D_val = eye[y_val]
    D = eye[y]
    cw = class_weights(y, n_out, config.class_weight)
    s_train = None if cw is None else cw.astype(dtype)[y]
    s_val = None if cw is None or not has_val else cw.astype(dtype)[y_val]
    rng = local_rng(config.seed)
    lr, decay = float(config.lr), float(config.weight_decay)
    n = len(X)
    bounds = batch_bounds(n, config.batch_size)
    keep = 1.0 - float(dropout)

    history = TrainHistory(monitor=config.monitor if has_val else "train_loss")
    best = EarlyStopping(config.patience)
    started = time.perf_counter()
    # small products: one thread (musicnn.runtime)
    with progress_bar(config.max_epochs, "training (reference backprop)", "epoch", config.progress) as bar, single_thread(torch_too=False):
        for epoch in range(1, config.max_epochs + 1):
            order = rng.permutation(n)
            total = 0.0
            for start, stop in zip(bounds[:-1], bounds[1:]):
                idx = order[start:stop]
                xb, db = X[idx], D[idx]
                masks = None
                if dropout > 0:
                    masks = [(rng.random((len(idx), w.shape[0])) < keep).astype(dtype) / keep
                             for w in weights[:-1]]
                hs, ys = forward(weights, biases, xb, activation, out, masks)
                sb = None if s_train is None else s_train[idx]
                delta_out = output_deltas(ys[-1], db, loss, out)
                if sb is None:
                    m = len(idx)
                    total += loss_value(ys[-1], db, loss, hs[-1]) * m
                else:  # class weights: each pattern's deltas scaled by its weight
                    m = float(sb.sum())
                    total += loss_value(ys[-1], db, loss, hs[-1], sb) * m
                    delta_out = delta_out * sb[:, None]
                deltas = backward(weights, ys, delta_out, activation, masks)
                for l, (delta, y_prev) in enumerate(zip(deltas, ys[:-1])):
                    # Δw_ij = η mean_p δ_i y_j  (minus the weight-decay pull)
                    step_w = (delta.T @ y_prev) / m
                    step_b = delta.sum(axis=0) / m
                    if decay:
                        step_w -= decay * weights[l]
                        step_b -= decay * biases[l]
                    weights[l] += lr * step_w
                    biases[l] += lr * step_b
            train_loss = total / (n if s_train is None else float(s_train.sum()))
            check_finite_loss(train_loss, "training", epoch, lr)
            history.train_loss.append(train_loss)
            val_loss = val_acc = None
            postfix = {"loss": f"{train_loss:.4f}"}
            if has_val:
                hs, ys = forward(weights, biases, X_val, activation, out)
                val_loss = loss_value(ys[-1], D_val, loss, hs[-1], s_val)
                check_finite_loss(val_loss, "validation", epoch, lr)
                hit = hs[-1].argmax(axis=1) == y_val
                val_acc = float(np.mean(hit) if s_val is None else (s_val * hit).sum() / s_val.sum())
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_acc)
                postfix.update(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.3f}")
            history.n_epochs = epoch
            best.update(monitored(config.monitor, train_loss, val_loss, val_acc), epoch,
                        lambda: [a.copy() for a in weights + biases])
            bar.set_postfix(postfix, refresh=False)
            bar.update(1)
            if best.should_stop:
                history.stopped_early = True
                break

    def put_back(kept: list[np.ndarray]) -> None:
        for target, source in zip(weights + biases, kept):
            target[...] = source

    best.restore(put_back)
    history.best_epoch = best.best_epoch
    history.seconds = time.perf_counter() - started
    warn_if_not_stopped(history, config.max_epochs)
    return history

