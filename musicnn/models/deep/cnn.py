"""A convolutional network on log-mel spectrograms, with every convolution parameter of the course.

Input is time-major, shape (n_clips, frames, bins).  Each block is
``Conv2d -> [BatchNorm] -> activation -> [pooling]``; the pooling shrinks its window on
an axis shorter than ``pool`` so that tiny inputs still pass.  Global pooling over time
and frequency gives a fixed-size embedding whatever the clip length, and a linear layer
maps it to logits.

Every size of a convolution or pooling layer can differ on the time and frequency axes:
give an int (both axes) or a ``(time, freq)`` pair.  The output size of a convolution
on an axis of ``n`` cells is the course's

    n_out = floor((n + 2 p - d (k - 1) - 1) / s) + 1

(kernel ``k``, stride ``s``, dilation ``d``, padding ``p``); ``padding="same"`` pads
``d (k - 1) / 2`` cells on each side, so that ``n_out = ceil(n / s)``.

:func:`receptive_field` gives the receptive field of a stack of layers by the recurrence
``r_out = r_in + (k - 1) d j_in`` and ``j_out = j_in s`` (``r`` the field size, ``j`` the
jump: the distance in input cells between two neighbouring output units).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from musicnn.models.deep.base import ClassifierNet, TorchClassifier
from musicnn.models.deep.conv_layout import (
    GLOBAL_POOLS,
    POOL_TYPES,
    ConvSpec,
    Pair,
    ReceptiveField,
    conv_output_size,
    conv_spec,
    map_shapes,
    receptive_field,
)
from musicnn.models.deep.params import store_params

__all__ = [
    "ACTIVATIONS",
    "ConvBlock",
    "ConvSpec",
    "GLOBAL_POOLS",
    "POOL_TYPES",
    "ReceptiveField",
    "SpectrogramCNN",
    "SpectrogramNet",
    "conv_output_size",
    "receptive_field",
]

#: activation name -> torch module class
ACTIVATIONS: dict[str, type[torch.nn.Module]] = {
    "relu": torch.nn.ReLU,
    "elu": torch.nn.ELU,
    "leaky_relu": torch.nn.LeakyReLU,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
}

# --------------------------------------------------------------------------- network
class ConvBlock(torch.nn.Module):
    """``Conv2d -> [BatchNorm2d] -> activation -> [pooling]`` with a shrinking pool window."""

    def __init__(self, c_in: int, c_out: int, spec: ConvSpec) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(
            c_in, c_out, spec.kernel, stride=spec.stride, padding=spec.padding,
            dilation=spec.dilation, bias=not spec.batch_norm,
        )
        self.norm = torch.nn.BatchNorm2d(c_out) if spec.batch_norm else torch.nn.Identity()
        self.act = ACTIVATIONS[spec.activation]()
        self.pool = spec.pool
        self.pool_type = spec.pool_type
        # channels-last weights and feature maps: oneDNN's convolution, batch norm and pooling
        # train 1.37x faster in that layout on CPU (benchmarks/training_throughput.py), same float32
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm(self.conv(x.contiguous(memory_format=torch.channels_last))))
        window = (min(self.pool[0], x.shape[-2]), min(self.pool[1], x.shape[-1]))
        if window != (1, 1):
            x = F.max_pool2d(x, window) if self.pool_type == "max" else F.avg_pool2d(x, window)
        return x


class SpectrogramNet(ClassifierNet):
    """Convolution blocks, global pooling, dropout, linear head.

    ``features`` returns the last block's feature map, ``embed`` the globally pooled
    features: shape (batch, 2 * channels[-1]) for ``"avgmax"``, (batch, channels[-1])
    otherwise.
    """

    def __init__(self, n_classes: int, spec: ConvSpec) -> None:
        super().__init__()
        self.spec = spec
        blocks = []
        c_in = 1
        for c_out in spec.channels:
            blocks.append(ConvBlock(c_in, c_out, spec))
            c_in = c_out
        self.blocks = torch.nn.Sequential(*blocks)
        self.dropout = torch.nn.Dropout(spec.dropout)
        width = 2 * c_in if spec.global_pool == "avgmax" else c_in
        self.head = torch.nn.Linear(width, n_classes)

    def map_shapes(self, frames: int, bins: int) -> list[Pair]:
        """(frames, bins) of the input and after each block (:func:`~.conv_layout.map_shapes`)."""
        return map_shapes(self.spec, frames, bins)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's feature map, shape (batch, channels[-1], frames', bins')."""
        self.map_shapes(int(x.shape[1]), int(x.shape[2]))
        return self.blocks(x.unsqueeze(1))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled features of a batch of shape (batch, frames, bins)."""
        h = self.features(x)
        if self.spec.global_pool == "avg":
            return h.mean(dim=(2, 3))
        if self.spec.global_pool == "max":
            return h.amax(dim=(2, 3))
        return torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape (batch, n_classes)."""
        return self.head(self.dropout(self.embed(x)))


# --------------------------------------------------------------------------- estimator
class SpectrogramCNN(TorchClassifier):
    """Convolutional classifier on log-mel spectrograms.

    Parameters
    ----------
    channels : tuple of int, default=(16, 32, 64, 128)
        Output channels of each convolution block (one block per entry).
    kernel_size : int or (int, int), default=3
        Kernel of every convolution: an int (square) or a (time, freq) pair.  With
        ``padding="same"``, ``dilation * (kernel_size - 1)`` must be even on each axis.
    stride : int or (int, int), default=1
        Stride of every convolution.
    padding : "same", "valid", int or (int, int), default="same"
        ``"same"`` pads ``dilation * (kernel_size - 1) / 2`` cells on each side, so that
        a block keeps ``ceil(n / stride)`` cells; an int or pair pads that many cells on
        each side; ``"valid"`` means 0.
    dilation : int or (int, int), default=1
        Spacing between kernel taps (``d``): the kernel spans ``d (k - 1) + 1`` cells.
    pool : int or (int, int), default=2
        Pooling window and stride after each block; 1 (or (1, 1)) means no pooling.  The
        window shrinks on an axis shorter than it, so tiny inputs still pass.
    pool_type : {"max", "avg"}, default="max"
        Local pooling after each block.
    activation : {"relu", "elu", "leaky_relu", "tanh", "sigmoid"}, default="relu"
        Non-linearity after each convolution (and batch norm).
    batch_norm : bool, default=True
        Batch normalisation after each convolution (the convolution then has no bias).
    dropout : float, default=0.3
        Dropout before the linear layer, in [0, 1).
    global_pool : {"avgmax", "avg", "max"}, default="avg"
        Pooling of the last feature map over time and frequency: the average and the
        maximum concatenated (embedding of ``2 * channels[-1]``), or either alone.
    batch_size, max_epochs, lr, weight_decay, patience, validation_fraction, seed, device, progress, monitor, lr_schedule, class_weight, clip_grad_norm, augment
        See :class:`~musicnn.models.deep.base.TorchClassifier`.

    Notes
    -----
    ``X`` has shape (n_clips, frames, bins), time-major.  Standardisation is per mel
    bin over all frames; ``n_features_in_`` is the number of bins.  Thanks to global
    pooling, clips at prediction time may have a different number of frames than at
    training time (the bins must match).  A configuration whose feature map would
    vanish for the training clips raises :class:`~musicnn.errors.DataError` naming the
    clip shape.

    Examples
    --------
    >>> clf = SpectrogramCNN(channels=(8, 16), kernel_size=(5, 3), dilation=(2, 1))
    >>> str(clf.receptive_field())
    '28 frames x 10 bins (jump 4 x 4)'
    """

    _input_ndim = 3
    _input_layout = "(n_clips, frames, bins)"

    # a fixed number of epochs on every training example: early stopping on a few held-out
    # groups stopped the network after 2-3 epochs and lost a third of its accuracy on
    # SoundFonts it never heard (benchmarks/RESULTS.md, rows base and early-stop)
    _shared_defaults = {"batch_size": 32, "max_epochs": 15, "validation_fraction": 0.0}

    def __init__(
        self,
        *,
        channels: tuple[int, ...] = (16, 32, 64, 128),
        kernel_size: int | tuple[int, int] = 3,
        stride: int | tuple[int, int] = 1,
        padding: str | int | tuple[int, int] = "same",
        dilation: int | tuple[int, int] = 1,
        pool: int | tuple[int, int] = 2,
        pool_type: str = "max",
        activation: str = "relu",
        batch_norm: bool = True,
        dropout: float = 0.3,
        global_pool: str = "avg",
        **shared: Any,
    ) -> None:
        store_params(self, locals())

    # ------------------------------------------------------------------ parameters
    def _spec(self) -> ConvSpec:
        """The checked, normalised convolution parameters; ConfigError names a bad one."""
        return conv_spec(self.get_params())

    def _check_params(self) -> None:
        super()._check_params()
        self._spec()

    def _build_module(self, input_shape: tuple[int, ...], n_classes: int) -> SpectrogramNet:
        net = SpectrogramNet(n_classes=n_classes, spec=self._spec())
        net.map_shapes(int(input_shape[0]), int(input_shape[1]))  # DataError if it vanishes
        return net

    # ------------------------------------------------------------------ receptive field
    def _layers(self, input_shape: tuple[int, ...] | None = None) -> list[tuple[Pair, Pair, Pair]]:
        """(kernel, stride, dilation) of every convolution and pooling layer, in order.

        With ``input_shape`` (frames, bins), pooling windows shrink where the feature map
        is shorter than the window, as they do in the network.
        """
        spec = self._spec()
        shapes = None
        if input_shape is not None:
            shapes = SpectrogramNet(2, spec).map_shapes(int(input_shape[0]), int(input_shape[1]))
        layers: list[tuple[Pair, Pair, Pair]] = []
        for i in range(len(spec.channels)):
            layers.append((spec.kernel, spec.stride, spec.dilation))
            pool = spec.pool
            if shapes is not None:
                after_conv = tuple(
                    conv_output_size(n, spec.kernel[a], spec.stride[a], spec.dilation[a], spec.padding[a])
                    for a, n in enumerate(shapes[i])
                )
                pool = (min(pool[0], after_conv[0]), min(pool[1], after_conv[1]))
            if pool != (1, 1):
                layers.append((pool, pool, (1, 1)))
        return layers

    def receptive_field(self) -> ReceptiveField:
        """Receptive field of one unit of the last feature map, in (frames, bins).

        Computed from the layer list (:func:`receptive_field`); once fitted, pooling
        windows shrunk by short training clips are taken into account.  The global
        pooling that follows sees the whole clip.

        Returns
        -------
        ReceptiveField
            ``frames, bins = clf.receptive_field()``; ``.jump`` gives the strides' product.
        """
        return receptive_field(self._layers(getattr(self, "input_shape_", None)))

    def _summary_lines(self) -> list[str]:
        """Lines for the model summary: receptive field and (once fitted) feature map."""
        lines = [f"receptive field: {self.receptive_field()}"]
        shape = getattr(self, "input_shape_", None)
        if shape is not None:
            spec = self._spec()
            frames, bins = SpectrogramNet(2, spec).map_shapes(int(shape[0]), int(shape[1]))[-1]
            lines.append(
                f"feature map: {spec.channels[-1]} channels x {frames} frames x {bins} bins "
                f"for clips of {shape[0]} frames x {shape[1]} bins"
            )
        return lines
