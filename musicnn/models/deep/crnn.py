"""Convolutional recurrent network (CRNN) on log-mel spectrograms.

Input is time-major, shape (n_clips, frames, bins).  A convolutional front end of
``Conv2d -> BatchNorm -> ReLU -> MaxPool`` blocks learns local time-frequency patterns;
its pooling shrinks mostly the frequency axis (``freq_pool``) and lightly the time axis
(``time_pool``).  The remaining frequency bins are then folded into the channels, giving
one feature vector per (pooled) frame, and a recurrent back end (GRU by default; the
cells, stacking, directions, truncated BPTT and pooling of
:class:`musicnn.models.deep.rnn.RecurrentEncoder`) reads that sequence.  The pooled recurrent
state is the embedding; dropout and a linear layer map it to logits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from musicnn.errors import ConfigError
from musicnn.checks import check_int
from musicnn.models.deep.base import ClassifierNet, TorchClassifier
from musicnn.models.deep.params import positive_ints, store_params
from musicnn.models.deep.cnn import ConvBlock, ConvSpec
from musicnn.models.deep.rnn import RecurrentEncoder, RecurrentSpec, _RecurrentMixin, recurrent_summary

__all__ = ["CRNN", "CRNNNet", "pooled_size"]


def pooled_size(size: int, windows: tuple[int, ...]) -> int:
    """Length of an axis of ``size`` after max-pooling blocks of ``windows``.

    Each window is shrunk to the axis when the axis is shorter (as the blocks do), so
    the result is at least 1.

    Examples
    --------
    >>> pooled_size(64, (4, 4, 4))
    1
    >>> pooled_size(47, (2, 1, 1))
    23
    """
    for w in windows:
        size //= min(w, size)
    return size


def _pool_block(c_in: int, c_out: int, kernel_size: int, time_pool: int, freq_pool: int) -> ConvBlock:
    """``Conv2d ('same') -> BatchNorm -> ReLU -> MaxPool(time, freq)``, the CNN's block
    (pooling windows shrink on short axes)."""
    pad = kernel_size // 2
    return ConvBlock(c_in, c_out, ConvSpec(
        channels=(c_out,), kernel=(kernel_size, kernel_size), stride=(1, 1), dilation=(1, 1), padding=(pad, pad),
        pool=(time_pool, freq_pool), pool_type="max", activation="relu", batch_norm=True, dropout=0.0,
        global_pool="avgmax"))


class CRNNNet(ClassifierNet):
    """Convolution blocks, frequency folded into channels, recurrent encoder, linear head.

    ``embed`` returns the pooled recurrent state, shape (batch, directions * hidden_size).
    """

    def __init__(
        self,
        n_bins: int,
        n_classes: int,
        channels: tuple[int, ...],
        kernel_size: int,
        freq_pool: tuple[int, ...],
        time_pool: tuple[int, ...],
        spec: RecurrentSpec,
    ) -> None:
        super().__init__()
        blocks = []
        c_in = 1
        for c_out, tp, fp in zip(channels, time_pool, freq_pool):
            blocks.append(_pool_block(c_in, c_out, kernel_size, tp, fp))
            c_in = c_out
        self.blocks = torch.nn.Sequential(*blocks)
        self.n_rnn_inputs = c_in * pooled_size(n_bins, freq_pool)
        self.encoder = RecurrentEncoder(self.n_rnn_inputs, spec)
        self.dropout = torch.nn.Dropout(spec.dropout)
        self.head = torch.nn.Linear(self.encoder.output_size, n_classes)

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Front-end features of a batch (batch, frames, bins): (batch, frames', channels * bins')."""
        h = self.blocks(x.unsqueeze(1))  # (batch, channels, frames', bins')
        batch, channels, frames, bins = h.shape
        return h.permute(0, 2, 1, 3).reshape(batch, frames, channels * bins)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled recurrent state of a batch of shape (batch, frames, bins)."""
        return self.encoder(self.sequence(x))

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights over the pooled frames, shape (batch, frames')."""
        return self.encoder.attention_weights(self.sequence(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape (batch, n_classes)."""
        return self.head(self.dropout(self.embed(x)))


class CRNN(_RecurrentMixin, TorchClassifier):
    """Convolutional front end and recurrent back end on log-mel spectrograms.

    Parameters
    ----------
    channels : tuple of int, default=(16, 32, 64)
        Output channels of each convolution block.
    kernel_size : int, default=3
        Square kernel of every convolution (odd: the padding keeps the size).
    freq_pool : int or tuple of int, default=4
        Max-pooling window (and stride) over frequency after each block: one int for
        every block, or a tuple with one entry per block (a shorter tuple is padded
        with 1: no pooling in the last blocks).  Windows shrink on axes shorter than
        them.  With the defaults, 64 mel bins shrink to 1 after three blocks; the bins
        left are folded into the channels.
    time_pool : int or tuple of int, default=(2,)
        Max-pooling window over time after each block, given as ``freq_pool``.  The
        default halves the frames after the first block only, keeping most of the time
        resolution for the recurrent back end.
    cell : {"gru", "lstm", "elman"}, default="gru"
        Recurrent cell of the back end.
    hidden_size : int, default=64
        State size of each direction.
    num_layers : int, default=1
        Stacked recurrent layers.
    bidirectional : bool, default=False
        Add a backward direction.
    pooling : {"last", "mean", "attention"}, default="mean"
        How the recurrent states become the embedding (see
        :class:`~musicnn.models.deep.rnn.RNNClassifier`).
    bptt_steps : int or None, default=None
        Truncated BPTT over chunks of this many (pooled) frames during training; None:
        full BPTT.
    dropout : float, default=0.2
        Dropout between stacked recurrent layers and before the linear head, in [0, 1).
    clip_grad_norm : float or None, default=1.0
        Clip the global gradient norm before each step.
    batch_size, max_epochs, lr, weight_decay, patience, validation_fraction, seed, device, progress, monitor, lr_schedule, class_weight, augment
        See :class:`~musicnn.models.deep.base.TorchClassifier`.

    Notes
    -----
    ``X`` has shape (n_clips, frames, bins), time-major; standardisation is per bin over
    all frames.  Clips at prediction time may have another number of frames (the bins
    must match).
    """

    _input_ndim = 3
    _input_layout = "(n_clips, frames, bins)"

    _shared_defaults = {"cell": "gru", "clip_grad_norm": 1.0}

    def __init__(
        self,
        *,
        channels: tuple[int, ...] = (16, 32, 64),
        kernel_size: int = 3,
        freq_pool: int | tuple[int, ...] = 4,
        time_pool: int | tuple[int, ...] = (2,),
        **shared: Any,
    ) -> None:
        store_params(self, locals())

    # ------------------------------------------------------------------ parameters
    def _channels(self) -> tuple[int, ...]:
        return positive_ints("channels", self.channels)

    def _windows(self, name: str) -> tuple[int, ...]:
        """``freq_pool`` or ``time_pool`` as one window per block."""
        value: Any = getattr(self, name)
        n_blocks = len(self._channels())
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            check_int(name, value, minimum=1)
            return (int(value),) * n_blocks
        try:
            windows = tuple(value)
        except TypeError:
            windows = ()
        if not windows:
            raise ConfigError(
                f"{name}={value!r} must be a positive integer (every block) or a tuple of "
                "them (one per convolution block)"
            )
        for w in windows:
            check_int(f"{name} entries", w, minimum=1)
        if len(windows) > n_blocks:
            raise ConfigError(
                f"{name}={value!r} has {len(windows)} entries but channels={self.channels!r} "
                f"makes {n_blocks} blocks; give at most one entry per block (or one int)"
            )
        return tuple(int(w) for w in windows) + (1,) * (n_blocks - len(windows))

    def _check_params(self) -> None:
        super()._check_params()
        self._channels()
        check_int("kernel_size", self.kernel_size, minimum=1)
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size={self.kernel_size!r} must be odd")
        self._windows("freq_pool")
        self._windows("time_pool")

    # ------------------------------------------------------------------ network
    def _build_module(self, input_shape: tuple[int, ...], n_classes: int) -> CRNNNet:
        return CRNNNet(
            n_bins=int(input_shape[-1]),
            n_classes=n_classes,
            channels=self._channels(),
            kernel_size=int(self.kernel_size),
            freq_pool=self._windows("freq_pool"),
            time_pool=self._windows("time_pool"),
            spec=self._recurrent_spec(),
        )

    def _summary_lines(self) -> list[str]:
        """A few human-readable lines on the architecture and its training."""
        channels = self._channels()
        freq, time = self._windows("freq_pool"), self._windows("time_pool")
        lines = [
            f"front end: {len(channels)} conv blocks, channels {', '.join(map(str, channels))}, "
            f"kernel {self.kernel_size}, pooling time x frequency "
            + ", ".join(f"{t}x{f}" for t, f in zip(time, freq))
        ]
        if hasattr(self, "input_shape_"):
            frames, bins = self.input_shape_
            lines.append(
                f"sequence: {frames} frames x {bins} bins -> {pooled_size(frames, time)} steps x "
                f"{channels[-1] * pooled_size(bins, freq)} features (frequency folded into channels)"
            )
        return lines + recurrent_summary(self, steps="pooled frames")
