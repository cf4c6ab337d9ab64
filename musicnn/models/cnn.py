"""A small convolutional network on log-mel spectrograms.

Input is time-major, shape (n_clips, frames, bins).  Each block is
``Conv2d -> BatchNorm -> ReLU -> MaxPool``; the pooling shrinks its window on an axis
shorter than ``pool`` so that tiny inputs still pass.  Global average and max pooling
over time and frequency give a fixed-size embedding whatever the clip length, and a
linear layer maps it to logits.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from ..training import check_float, check_int
from .base import ClassifierNet, TorchClassifier

__all__ = ["SpectrogramCNN", "SpectrogramNet"]


class _ConvBlock(torch.nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel_size: int, pool: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False)
        self.norm = torch.nn.BatchNorm2d(c_out)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm(self.conv(x)))
        window = (min(self.pool, x.shape[-2]), min(self.pool, x.shape[-1]))
        if window != (1, 1):
            x = F.max_pool2d(x, window)
        return x


class SpectrogramNet(ClassifierNet):
    """Convolution blocks, global average + max pooling, dropout, linear head.

    ``embed`` returns the pooled features, shape (batch, 2 * channels[-1]).
    """

    def __init__(
        self,
        n_classes: int,
        channels: tuple[int, ...],
        kernel_size: int,
        pool: int,
        dropout: float,
    ) -> None:
        super().__init__()
        blocks = []
        c_in = 1
        for c_out in channels:
            blocks.append(_ConvBlock(c_in, c_out, kernel_size, pool))
            c_in = c_out
        self.blocks = torch.nn.Sequential(*blocks)
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(2 * c_in, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of a batch of shape (batch, frames, bins)."""
        h = self.blocks(x.unsqueeze(1))  # (batch, channels, frames', bins')
        return torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape (batch, n_classes)."""
        return self.head(self.dropout(self.embed(x)))


class SpectrogramCNN(TorchClassifier):
    """Convolutional classifier on log-mel spectrograms.

    Parameters
    ----------
    channels : tuple of int, default=(16, 32, 64)
        Output channels of each convolution block.
    kernel_size : int, default=3
        Square kernel of every convolution (odd: the padding keeps the size).
    pool : int, default=2
        Max-pooling window and stride after each block (shrunk on short axes).
    dropout : float, default=0.3
        Dropout before the linear layer, in [0, 1).
    batch_size, max_epochs, lr, weight_decay, patience, validation_fraction, seed, device, progress, monitor
        See :class:`~musicnn.models.base.TorchClassifier`.

    Notes
    -----
    ``X`` has shape (n_clips, frames, bins), time-major.  Standardisation is per mel
    bin over all frames; ``n_features_in_`` is the number of bins.  Thanks to global
    pooling, clips at prediction time may have a different number of frames than at
    training time (the bins must match).
    """

    _input_ndim = 3
    _input_layout = "(n_clips, frames, bins)"

    def __init__(
        self,
        *,
        channels: tuple[int, ...] = (16, 32, 64),
        kernel_size: int = 3,
        pool: int = 2,
        dropout: float = 0.3,
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
        self.channels = channels
        self.kernel_size = kernel_size
        self.pool = pool
        self.dropout = dropout

    def _check_params(self) -> None:
        super()._check_params()
        channels: Any = self.channels
        try:
            channels = tuple(channels)
        except TypeError:
            channels = ()
        if not channels:
            raise ConfigError(
                f"channels={self.channels!r} must be a non-empty tuple of positive integers"
            )
        for c in channels:
            check_int("channels entries", c, minimum=1)
        check_int("kernel_size", self.kernel_size, minimum=1)
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size={self.kernel_size!r} must be odd")
        check_int("pool", self.pool, minimum=1)
        check_float("dropout", self.dropout, low=0.0, high=1.0)

    def _build_module(self, input_shape: tuple[int, ...], n_classes: int) -> SpectrogramNet:
        return SpectrogramNet(
            n_classes=n_classes,
            channels=tuple(int(c) for c in self.channels),
            kernel_size=int(self.kernel_size),
            pool=int(self.pool),
            dropout=float(self.dropout),
        )
