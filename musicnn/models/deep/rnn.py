"""Recurrent networks on frame sequences, trained by back-propagation through time.

Input is time-major, shape (n_clips, frames, bins): one feature vector per frame.  A
recurrent layer computes, frame after frame, the course's

    h_t = φ_θ(h_{t−1}, x_t)

with one of three cells:

* ``"elman"``: the simple recurrent network ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)``;
* ``"lstm"``: long short-term memory (input, forget and output gates around a memory cell);
* ``"gru"``: gated recurrent units (update and reset gates).

Layers can be stacked (``num_layers``) and run in both directions (``bidirectional``).
The sequence of states is pooled into one vector, the embedding: the last state, the
mean over time, or an attention-weighted mean; a linear layer maps it to logits.

Training unfolds the network over the frames and back-propagates through the unfolded
graph (BPTT): ``∂L/∂W = Σ_k ∂L/∂h_k · ∂h_k/∂W``, every time step being one path from the
shared weights ``W`` to the loss.  With ``bptt_steps=k`` the unfolding is truncated:
during training the sequence is processed in chunks of ``k`` frames whose initial state
is the previous chunk's final state, detached, so that gradients flow back at most ``k``
steps.  :func:`elman_bptt` writes the course's derivation out in numpy (tested against
torch autograd).

:class:`RecurrentEncoder` (cells, stacking, directions, truncation, pooling) is shared
with :class:`musicnn.models.deep.crnn.CRNN`, and so are its hyper-parameters: the fields of
:class:`RecurrentSpec`, declared once, are parameters of both estimators.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from musicnn.errors import ConfigError, DataError
from musicnn.checks import check_bool, check_choice, check_float, check_int
from musicnn.models.deep.base import ClassifierNet, TorchClassifier
from musicnn.models.deep.params import store_params
from musicnn.training.config import TrainConfig

__all__ = [
    "CELLS",
    "POOLINGS",
    "AttentionPooling",
    "RNNClassifier",
    "RNNNet",
    "RecurrentEncoder",
    "RecurrentSpec",
    "chunk_bounds",
    "elman_bptt",
    "recurrent_summary",
]

#: recurrent cells: name -> description (for summaries and error messages)
CELLS: dict[str, str] = {
    "elman": "Elman (simple recurrent, tanh)",
    "lstm": "LSTM (gated memory cells)",
    "gru": "GRU (gated recurrent units)",
}

#: ways of pooling the sequence of states into one vector
POOLINGS: dict[str, str] = {
    "last": "last state (backward direction: its state at the first frame)",
    "mean": "mean of the states over time",
    "attention": "attention over time steps, score = v^T tanh(W h_t)",
}


# =========================================================================== helpers
def chunk_bounds(n_steps: int, bptt_steps: int | None) -> list[int]:
    """Boundaries of the truncated-BPTT chunks of a sequence of ``n_steps`` frames.

    Chunks are aligned on the end of the sequence: the last chunk always holds
    ``bptt_steps`` frames (so the last state back-propagates exactly that far) and the
    first one holds the remainder.

    Parameters
    ----------
    n_steps : int
        Length of the sequence.
    bptt_steps : int or None
        Chunk length; None (or a length >= ``n_steps``) gives one chunk.

    Returns
    -------
    list of int
        ``[0, ..., n_steps]``; chunk ``i`` covers frames ``bounds[i]:bounds[i + 1]``.

    Examples
    --------
    >>> chunk_bounds(10, 4)
    [0, 2, 6, 10]
    >>> chunk_bounds(8, 4)
    [0, 4, 8]
    """
    if bptt_steps is None or n_steps <= bptt_steps:
        return [0, n_steps]
    first = n_steps % bptt_steps
    starts = ([0] if first else []) + list(range(first, n_steps, bptt_steps))
    return starts + [n_steps]


@dataclass(frozen=True)
class RecurrentSpec:
    """The recurrent hyper-parameters, shared by :class:`RNNClassifier` and
    :class:`~musicnn.models.deep.crnn.CRNN`: its fields are parameters of both estimators.

    Parameters
    ----------
    cell : {"elman", "lstm", "gru"}
        Recurrent cell.
    hidden_size : int
        State size of each direction.
    num_layers : int
        Stacked layers.
    bidirectional : bool
        Add a backward direction to every layer.
    pooling : {"last", "mean", "attention"}
        How the last layer's states become one vector (see :data:`POOLINGS`).
    bptt_steps : int or None
        Truncation of BPTT in training mode (None: full BPTT).
    dropout : float
        Dropout between stacked layers (and, in the networks, before the head).
    """

    cell: str = "elman"
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    pooling: str = "mean"
    bptt_steps: int | None = None
    dropout: float = 0.2

    def checked(self) -> RecurrentSpec:
        """This spec with its values checked and normalised (Python ints, bools, floats).

        Raises
        ------
        ConfigError
            Naming the bad value and the valid ones.
        """
        check_choice("cell", self.cell, tuple(CELLS))
        check_int("hidden_size", self.hidden_size, minimum=1)
        check_int("num_layers", self.num_layers, minimum=1)
        check_bool("bidirectional", self.bidirectional)
        check_choice("pooling", self.pooling, tuple(POOLINGS))
        steps = self.bptt_steps
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1):
            raise ConfigError(
                f"bptt_steps={steps!r} must be None (full back-propagation through time) "
                "or an integer >= 1 (truncated BPTT over chunks of that many frames)"
            )
        check_float("dropout", self.dropout, low=0.0, high=1.0)
        return RecurrentSpec(self.cell, int(self.hidden_size), int(self.num_layers), bool(self.bidirectional),
                             self.pooling, None if steps is None else int(steps), float(self.dropout))


def _make_cell(cell: str, input_size: int, hidden_size: int) -> torch.nn.Module:
    """One single-layer, single-direction recurrent layer (batch first)."""
    if cell == "elman":
        return torch.nn.RNN(input_size, hidden_size, nonlinearity="tanh", batch_first=True)
    if cell == "lstm":
        layer = torch.nn.LSTM(input_size, hidden_size, batch_first=True)
        with torch.no_grad():  # forget-gate bias 1: remember by default (Jozefowicz et al. 2015)
            layer.bias_ih_l0[hidden_size : 2 * hidden_size].fill_(1.0)
            layer.bias_hh_l0[hidden_size : 2 * hidden_size].fill_(0.0)
        return layer
    if cell == "gru":
        return torch.nn.GRU(input_size, hidden_size, batch_first=True)
    raise ConfigError(f"cell={cell!r} is not valid; choose one of {', '.join(map(repr, CELLS))}")


def _detach(state: Any) -> Any:
    """Detach a recurrent state (a tensor, or LSTM's ``(h, c)`` pair) from the graph."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


# =========================================================================== modules
class AttentionPooling(torch.nn.Module):
    """Attention over time steps: ``α_t = softmax_t(v^T tanh(W h_t))``, output ``Σ_t α_t h_t``.

    Parameters
    ----------
    input_size : int
        Size of each state ``h_t``.
    attention_size : int
        Rows of ``W`` (size of the hidden scoring layer).
    """

    def __init__(self, input_size: int, attention_size: int) -> None:
        super().__init__()
        self.W = torch.nn.Linear(input_size, attention_size, bias=False)
        self.v = torch.nn.Linear(attention_size, 1, bias=False)

    def weights(self, states: torch.Tensor) -> torch.Tensor:
        """Attention weights of a batch of sequences (batch, T, size): shape (batch, T), rows sum to 1."""
        scores = self.v(torch.tanh(self.W(states))).squeeze(-1)
        return torch.softmax(scores, dim=1)

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        """Attention-weighted mean of the states, shape (batch, size)."""
        return torch.einsum("bt,bth->bh", self.weights(states), states)


class RecurrentEncoder(torch.nn.Module):
    """Stacked (bi)directional recurrent layers and a pooling over time.

    Each layer and direction is its own single-layer module, so that truncated BPTT
    can carry (and detach) the state of every direction in its own time order: the
    forward direction runs its chunks from the first frame to the last, the backward
    direction from the last to the first, each back-propagating at most ``bptt_steps``
    steps in its own time direction.  In eval mode (and with ``bptt_steps=None``) the
    whole sequence runs at once; the outputs are the same either way, only the
    gradients differ.

    Parameters
    ----------
    input_size : int
        Features per frame.
    spec : RecurrentSpec
        Cell, state size, layers (layer ``l + 1`` reads the concatenated states of layer
        ``l``), directions, pooling, dropout between stacked layers, and the truncation of
        BPTT in training mode.
    """

    def __init__(self, input_size: int, spec: RecurrentSpec) -> None:
        super().__init__()
        self.cell = spec.cell
        self.hidden_size = spec.hidden_size
        self.directions = 2 if spec.bidirectional else 1
        self.pooling = spec.pooling
        self.bptt_steps = spec.bptt_steps
        size = spec.hidden_size * self.directions
        layers = []
        width = input_size
        for _ in range(spec.num_layers):
            layers.append(torch.nn.ModuleList(
                [_make_cell(spec.cell, width, spec.hidden_size) for _ in range(self.directions)]
            ))
            width = size
        self.layers = torch.nn.ModuleList(layers)
        self.between = torch.nn.Dropout(spec.dropout)
        self.attention = AttentionPooling(size, spec.hidden_size) if spec.pooling == "attention" else None
        self.output_size = size

    def _scan(self, rnn: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Run one direction over ``x`` (batch, T, in), in chunks when truncating."""
        bounds = chunk_bounds(x.shape[1], self.bptt_steps if self.training else None)
        if len(bounds) == 2:
            return rnn(x)[0]
        outputs, state = [], None
        for start, stop in zip(bounds[:-1], bounds[1:]):
            out, state = rnn(x[:, start:stop], state)
            state = _detach(state)  # the next chunk starts from this state, without its history
            outputs.append(out)
        return torch.cat(outputs, dim=1)

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """States of the last layer, shape (batch, T, directions * hidden_size).

        For a bidirectional network the forward direction's states come first.
        """
        if x.ndim != 3 or x.shape[1] == 0:
            raise DataError(
                "a recurrent network needs input of shape (batch, frames >= 1, features); "
                f"got {tuple(x.shape)}"
            )
        h = x
        for i, layer in enumerate(self.layers):
            if i:
                h = self.between(h)
            outputs = [self._scan(layer[0], h)]
            if self.directions == 2:
                outputs.append(self._scan(layer[1], h.flip(1)).flip(1))
            h = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
        return h

    def pool(self, states: torch.Tensor) -> torch.Tensor:
        """Pool states (batch, T, size) into (batch, size)."""
        if self.pooling == "last":
            if self.directions == 1:
                return states[:, -1]
            h = self.hidden_size
            return torch.cat([states[:, -1, :h], states[:, 0, h:]], dim=1)
        if self.pooling == "mean":
            return states.mean(dim=1)
        return self.attention(states)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights over the time steps, shape (batch, T); pooling must be "attention"."""
        if self.attention is None:
            raise ConfigError(
                f"attention weights exist only with pooling='attention' (this network pools {self.pooling!r})"
            )
        return self.attention.weights(self.states(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled representation of a batch (batch, T, input_size): shape (batch, output_size)."""
        return self.pool(self.states(x))


class RNNNet(ClassifierNet):
    """Recurrent encoder, dropout, linear head.

    ``embed`` returns the pooled sequence representation, shape
    (batch, directions * hidden_size).
    """

    def __init__(self, n_features: int, n_classes: int, spec: RecurrentSpec) -> None:
        super().__init__()
        self.encoder = RecurrentEncoder(n_features, spec)
        self.dropout = torch.nn.Dropout(spec.dropout)
        self.head = torch.nn.Linear(self.encoder.output_size, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled states of a batch of shape (batch, frames, bins)."""
        return self.encoder(x)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights over the frames, shape (batch, frames)."""
        return self.encoder.attention_weights(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape (batch, n_classes)."""
        return self.head(self.dropout(self.embed(x)))


# =========================================================================== course derivation
def elman_bptt(
    x: np.ndarray,
    w_ih: np.ndarray,
    w_hh: np.ndarray,
    b_ih: np.ndarray,
    b_hh: np.ndarray,
    dloss_dh: np.ndarray,
    *,
    h0: np.ndarray | None = None,
    bptt_steps: int | None = None,
) -> dict[str, np.ndarray]:
    """Back-propagation through time of one Elman layer, written out in numpy.

    Forward: ``h_t = tanh(a_t)``, ``a_t = W_ih x_t + b_ih + W_hh h_{t−1} + b_hh``.
    The loss depends on each state explicitly (``dloss_dh[:, t] = ∂L/∂h_t`` with ``h_{t+1}``
    held fixed, e.g. through a pooling and a head); the chain rule fills the missing
    steps backwards in time:

    * ``∂L/∂h_t = dloss_dh_t + W_hh^T δ_{t+1}`` (the second term is dropped at the
      start of a truncation chunk, where ``h_{t−1}`` entered as a constant);
    * ``δ_t = ∂L/∂a_t = (1 − h_t²) ⊙ ∂L/∂h_t``;
    * every time step is one path from the shared weights to the loss, so
      ``∂L/∂W_ih = Σ_t δ_t x_t^T``, ``∂L/∂W_hh = Σ_t δ_t h_{t−1}^T``,
      ``∂L/∂b = Σ_t δ_t``, and ``∂L/∂x_t = W_ih^T δ_t``.

    Parameters
    ----------
    x : np.ndarray, shape (batch, T, n_in)
        Input sequences.
    w_ih, w_hh : np.ndarray, shapes (H, n_in) and (H, H)
        Input and recurrent weights (torch's ``weight_ih_l0``, ``weight_hh_l0``).
    b_ih, b_hh : np.ndarray, shape (H,)
        Biases.
    dloss_dh : np.ndarray, shape (batch, T, H)
        Explicit derivative of the loss with respect to each state.
    h0 : np.ndarray, shape (batch, H), optional
        Initial state (zeros by default).
    bptt_steps : int or None
        Truncation: chunks of :func:`chunk_bounds`, gradients do not cross their starts.

    Returns
    -------
    dict of np.ndarray
        ``h`` (the states, (batch, T, H)) and the gradients ``w_ih``, ``w_hh``, ``b_ih``,
        ``b_hh`` and ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    batch, n_steps, _ = x.shape
    hidden = w_hh.shape[0]
    h_start = np.zeros((batch, hidden)) if h0 is None else np.asarray(h0, dtype=np.float64)
    h_prev = h_start
    h = np.empty((batch, n_steps, hidden))
    for t in range(n_steps):
        h_prev = np.tanh(x[:, t] @ w_ih.T + b_ih + h_prev @ w_hh.T + b_hh)
        h[:, t] = h_prev
    starts = set(chunk_bounds(n_steps, bptt_steps)[:-1])
    grads = {
        "w_ih": np.zeros_like(w_ih, dtype=np.float64),
        "w_hh": np.zeros_like(w_hh, dtype=np.float64),
        "b": np.zeros(hidden),
        "x": np.zeros_like(x),
    }
    from_future = np.zeros((batch, hidden))  # W_hh^T δ_{t+1}
    for t in reversed(range(n_steps)):
        delta = (1.0 - h[:, t] ** 2) * (dloss_dh[:, t] + from_future)
        before = h[:, t - 1] if t else h_start
        grads["w_ih"] += delta.T @ x[:, t]
        grads["w_hh"] += delta.T @ before
        grads["b"] += delta.sum(axis=0)
        grads["x"][:, t] = delta @ w_ih
        from_future = np.zeros_like(from_future) if t in starts else delta @ w_hh
    b = grads.pop("b")
    return {"h": h, **grads, "b_ih": b, "b_hh": b.copy()}


# =========================================================================== estimators
def recurrent_summary(est: Any, steps: str = "frames") -> list[str]:
    """Human-readable lines on the recurrent part of ``est`` (cell, layers, pooling, BPTT)."""
    directions = "bidirectional" if est.bidirectional else "unidirectional"
    layers = f"{est.num_layers} layer{'s' if est.num_layers != 1 else ''}"
    lines = [
        f"cell: {CELLS.get(est.cell, est.cell)}, {layers}, {directions}, "
        f"{est.hidden_size} units per direction",
        f"pooling: {POOLINGS.get(est.pooling, est.pooling)}",
    ]
    if est.bptt_steps is None:
        lines.append("training: full back-propagation through time")
    else:
        lines.append(
            f"training: truncated back-propagation through time, gradients flow back at most "
            f"{est.bptt_steps} {steps}" + (" in each direction" if est.bidirectional else "")
        )
    clip = "off" if est.clip_grad_norm is None else f"global norm {est.clip_grad_norm}"
    lines.append(f"dropout {est.dropout}, gradient clipping {clip}")
    return lines


class _RecurrentMixin:
    """What the recurrent estimators share: the parameters of :class:`RecurrentSpec`
    (after their own, before the training ones) and attention weights."""

    _parameter_sets = (RecurrentSpec, TrainConfig)

    def _recurrent_spec(self) -> RecurrentSpec:
        """The recurrent parameters, checked; ConfigError names a bad one."""
        return RecurrentSpec(**{f.name: getattr(self, f.name) for f in fields(RecurrentSpec)}).checked()

    def _check_params(self) -> None:
        super()._check_params()  # type: ignore[misc]
        self._recurrent_spec()

    def attention_weights(self, X: Any) -> np.ndarray:
        """Attention weights over the (pooled) frames of each clip.

        Parameters
        ----------
        X : array-like, shape (n_clips, frames, bins)

        Returns
        -------
        np.ndarray of float32, shape (n_clips, steps)
            Each row sums to one; ``steps`` is ``frames`` for :class:`RNNClassifier` and
            the frames left after the time pooling for CRNN.

        Raises
        ------
        ConfigError
            When ``pooling`` is not ``"attention"``.
        """
        from musicnn.models.estimator import check_is_fitted

        check_is_fitted(self)
        if self.pooling != "attention":
            raise ConfigError(
                f"attention_weights needs pooling='attention'; this model pools {self.pooling!r}"
            )
        X = self._check_X(X, reset=False)
        module = self.module_
        module.eval()
        Xs = torch.from_numpy(np.ascontiguousarray(self._standardise(X)))
        with torch.no_grad():
            return module.attention_weights(Xs.to(self._module_device())).float().cpu().numpy()


class RNNClassifier(_RecurrentMixin, TorchClassifier):
    """Recurrent classifier on frame sequences (Elman, LSTM or GRU), trained by BPTT.

    Parameters
    ----------
    cell : {"elman", "lstm", "gru"}, default="elman"
        Recurrent cell: the Elman network ``h_t = tanh(W_ih x_t + W_hh h_{t−1} + b)``, the
        LSTM or the GRU.  (The registry names ``rnn``, ``lstm`` and ``gru`` set it.)
    hidden_size : int, default=64
        State size of each direction of each layer.
    num_layers : int, default=1
        Stacked recurrent layers.
    bidirectional : bool, default=False
        Add a backward direction (the sequence read from its last frame to its first);
        the states of both directions are concatenated.
    pooling : {"last", "mean", "attention"}, default="mean"
        Embedding of the sequence: ``"last"``: the final state (for the backward
        direction, its state at the first frame, which has read the whole sequence);
        ``"mean"``: the mean of the states over time; ``"attention"``: the weighted mean
        ``Σ_t α_t h_t`` with ``α = softmax_t(v^T tanh(W h_t))`` learned.  ``"mean"`` is the
        default: every frame then receives gradient directly, which trains an Elman
        network far better than ``"last"`` on long clips.
    bptt_steps : int or None, default=None
        None: full back-propagation through time.  An integer ``k``: truncated BPTT; in
        training, each sequence runs in chunks of ``k`` frames (aligned on its end), the
        state carried from chunk to chunk but detached, so gradients flow back at most
        ``k`` steps (for a bidirectional network, ``k`` steps in each direction's own
        time order).  Evaluation and prediction always run the whole sequence at once;
        the outputs do not depend on ``bptt_steps``.
    dropout : float, default=0.2
        Dropout between stacked layers and before the linear head, in [0, 1).
    clip_grad_norm : float or None, default=1.0
        Clip the global gradient norm before each step (guards BPTT against exploding
        gradients).
    batch_size, max_epochs, lr, weight_decay, patience, validation_fraction, seed, device, progress, monitor, lr_schedule, class_weight, augment
        See :class:`~musicnn.models.deep.base.TorchClassifier`.

    Attributes
    ----------
    module_ : RNNNet
        The trained network; ``module_.encoder`` holds the recurrent layers.

    Notes
    -----
    ``X`` has shape (n_clips, frames, bins), time-major; standardisation is per bin over
    all frames.  Clips at prediction time may have another number of frames than at
    training time (the bins must match).  The LSTM's forget-gate biases start at 1.

    Examples
    --------
    >>> from musicnn.models import estimator_for
    >>> clf = estimator_for("lstm", {"hidden_size": 32, "progress": False}).fit(X, y)  # doctest: +SKIP
    >>> clf.embed(X).shape  # doctest: +SKIP
    (n_clips, 32)
    """

    _input_ndim = 3
    _input_layout = "(n_clips, frames, bins)"

    _shared_defaults = {"clip_grad_norm": 1.0}

    def __init__(self, **shared: Any) -> None:  # every parameter is shared: RecurrentSpec's, TrainConfig's
        store_params(self, locals())

    def _build_module(self, input_shape: tuple[int, ...], n_classes: int) -> RNNNet:
        return RNNNet(int(input_shape[-1]), n_classes, self._recurrent_spec())

    def _summary_lines(self) -> list[str]:
        """A few human-readable lines on the architecture and its training."""
        return recurrent_summary(self)
