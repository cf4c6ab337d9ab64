"""Layout of a convolutional network, without torch: checked parameters, output sizes, receptive fields.

What :class:`~musicnn.models.deep.cnn.SpectrogramCNN` trains and
:mod:`musicnn.models.deep.numpy_forward` runs both read from here, so that a model file's
network is checked and laid out the same way whether or not torch is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np

from musicnn.checks import check_bool, check_choice, check_float, check_int
from musicnn.errors import ConfigError, DataError
from musicnn.models.deep.params import positive_ints

__all__ = [
    "ACTIVATION_NAMES",
    "ConvSpec",
    "GLOBAL_POOLS",
    "POOL_TYPES",
    "ReceptiveField",
    "conv_output_size",
    "conv_spec",
    "map_shapes",
    "receptive_field",
]

#: non-linearities after each convolution (the torch modules are in ``cnn.ACTIVATIONS``)
ACTIVATION_NAMES = ("relu", "elu", "leaky_relu", "tanh", "sigmoid")

#: local pooling after each block
POOL_TYPES = ("max", "avg")

#: global pooling over time and frequency before the head
GLOBAL_POOLS = ("avgmax", "avg", "max")

_AXES = ("frames", "bins")

Pair = tuple[int, int]


# --------------------------------------------------------------------------- receptive field
@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of a stack of layers, per input axis.

    Attributes
    ----------
    size : tuple of int
        Input cells one output unit sees, per axis (time first): ``r``.
    jump : tuple of int
        Input cells between two neighbouring output units, per axis: ``j``, the
        product of the strides.

    Iterating gives ``size``: ``frames, bins = rf``.
    """

    size: tuple[int, ...]
    jump: tuple[int, ...]

    @property
    def frames(self) -> int:
        """Size on the time axis (the first)."""
        return self.size[0]

    @property
    def bins(self) -> int:
        """Size on the frequency axis (the second); raises for a 1-D field."""
        if len(self.size) < 2:
            raise AttributeError("a 1-D receptive field has no frequency axis")
        return self.size[1]

    @property
    def jump_frames(self) -> int:
        """Jump on the time axis."""
        return self.jump[0]

    @property
    def jump_bins(self) -> int:
        """Jump on the frequency axis; raises for a 1-D field."""
        if len(self.jump) < 2:
            raise AttributeError("a 1-D receptive field has no frequency axis")
        return self.jump[1]

    def __iter__(self) -> Iterator[int]:
        return iter(self.size)

    def __len__(self) -> int:
        return len(self.size)

    def __str__(self) -> str:
        n = len(self.size)
        names = _AXES[:n] if n <= 2 else tuple(f"axis{i}" for i in range(n))
        size = " x ".join(f"{n} {name}" for n, name in zip(self.size, names))
        return f"{size} (jump {' x '.join(str(j) for j in self.jump)})"


def _axis_values(value: Any, ndim: int, what: str) -> tuple[int, ...]:
    """An int (every axis) or a sequence of ``ndim`` ints, as a tuple of ``ndim`` ints >= 1."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values: tuple[Any, ...] = (value,) * ndim
    elif isinstance(value, (tuple, list)) and len(value) == ndim:
        values = tuple(value)
    else:
        raise ConfigError(f"{what}={value!r} must be an integer or a sequence of {ndim} integers")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"{what}={value!r} must hold integers >= 1")
    return tuple(int(v) for v in values)


def receptive_field(layers: Sequence[Sequence[Any]], ndim: int = 2) -> ReceptiveField:
    """Receptive field size and jump of a stack of convolution and pooling layers.

    Parameters
    ----------
    layers : sequence of (kernel, stride) or (kernel, stride, dilation)
        One entry per layer, input side first.  Each of kernel, stride and dilation is
        an int (the same on every axis) or a sequence of ``ndim`` ints (time first).  A
        pooling layer is ``(window, stride)``, usually with ``stride == window``.
        Padding does not change the receptive field.
    ndim : int, default=2
        Number of axes: 2 for (time, frequency), 1 for time only.

    Returns
    -------
    ReceptiveField
        ``size`` and ``jump`` per axis, from the recurrence
        ``r_out = r_in + (k - 1) d j_in`` and ``j_out = j_in s``, starting at
        ``r = j = 1``.

    Raises
    ------
    ConfigError
        When a layer is not of that form.

    Examples
    --------
    >>> str(receptive_field([(3, 1), (2, 2), (3, 1), (2, 2)]))
    '10 frames x 10 bins (jump 4 x 4)'
    """
    check_int("ndim", ndim, minimum=1)
    size = [1] * ndim
    jump = [1] * ndim
    for i, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) not in (2, 3):
            raise ConfigError(
                f"layer {i} = {layer!r} must be (kernel, stride) or (kernel, stride, dilation)"
            )
        k = _axis_values(layer[0], ndim, f"layer {i} kernel")
        s = _axis_values(layer[1], ndim, f"layer {i} stride")
        d = _axis_values(layer[2], ndim, f"layer {i} dilation") if len(layer) == 3 else (1,) * ndim
        for a in range(ndim):
            size[a] += (k[a] - 1) * d[a] * jump[a]
            jump[a] *= s[a]
    return ReceptiveField(tuple(size), tuple(jump))


def conv_output_size(n: int, kernel: int, stride: int = 1, dilation: int = 1, padding: int = 0) -> int:
    """Cells on one axis after a convolution: ``floor((n + 2p - d (k - 1) - 1) / s) + 1``.

    May be zero or negative: the feature map vanishes.
    """
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


# --------------------------------------------------------------------------- parameter checks
def _as_pair(name: str, value: Any, *, minimum: int) -> Pair:
    """``value`` (int, or (time, freq) pair of ints) as a pair; ConfigError otherwise."""
    ok = True
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        pair: tuple[Any, ...] = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        pair = tuple(value)
    else:
        ok, pair = False, ()
    ok = ok and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in pair
    )
    if not ok:
        raise ConfigError(
            f"{name}={value!r} is not valid; give an integer >= {minimum} or a (time, freq) "
            f"pair of integers >= {minimum}"
        )
    return int(pair[0]), int(pair[1])


def _as_padding(value: Any) -> str | Pair:
    """``"same"``, or the padding pair (``"valid"`` means 0)."""
    if isinstance(value, str):
        if value in ("same", "valid"):
            return "same" if value == "same" else (0, 0)
        raise ConfigError(
            f"padding={value!r} is not valid; choose 'same', 'valid', an integer >= 0 or a "
            "(time, freq) pair of integers >= 0"
        )
    return _as_pair("padding", value, minimum=0)


@dataclass(frozen=True)
class ConvSpec:
    """Checked, normalised convolution parameters of a block (pairs are (time, freq))."""

    channels: tuple[int, ...]
    kernel: Pair
    stride: Pair
    dilation: Pair
    padding: Pair
    pool: Pair
    pool_type: str
    activation: str
    batch_norm: bool
    dropout: float
    global_pool: str


def _same_padding(kernel: Pair, dilation: Pair, given: Any) -> Pair:
    """Symmetric 'same' padding ``d (k - 1) / 2``; ConfigError when it is not whole."""
    pad = []
    for axis, k, d in zip(("time", "freq"), kernel, dilation):
        if (d * (k - 1)) % 2:
            raise ConfigError(
                f"kernel_size={given!r} must be odd with padding='same' (on the {axis} axis "
                f"dilation x (kernel - 1) = {d * (k - 1)} cannot be split evenly): use an odd "
                "kernel, an even dilation, or an integer padding"
            )
        pad.append(d * (k - 1) // 2)
    return pad[0], pad[1]




def conv_spec(params: dict[str, Any]) -> ConvSpec:
    """The checked, normalised convolution parameters of a CNN's hyper-parameters.

    Parameters
    ----------
    params : dict
        ``channels``, ``kernel_size``, ``stride``, ``padding``, ``dilation``, ``pool``,
        ``pool_type``, ``activation``, ``batch_norm``, ``dropout`` and ``global_pool``, as
        :class:`~musicnn.models.deep.cnn.SpectrogramCNN` takes them.

    Raises
    ------
    ConfigError
        Naming the parameter that is not valid.
    """
    channels = positive_ints("channels", params["channels"])
    kernel = _as_pair("kernel_size", params["kernel_size"], minimum=1)
    stride = _as_pair("stride", params["stride"], minimum=1)
    dilation = _as_pair("dilation", params["dilation"], minimum=1)
    padding = _as_padding(params["padding"])
    if padding == "same":
        padding = _same_padding(kernel, dilation, params["kernel_size"])
    pool = _as_pair("pool", params["pool"], minimum=1)
    check_choice("pool_type", params["pool_type"], POOL_TYPES)
    check_choice("activation", params["activation"], ACTIVATION_NAMES)
    check_bool("batch_norm", params["batch_norm"])
    check_float("dropout", params["dropout"], low=0.0, high=1.0)
    check_choice("global_pool", params["global_pool"], GLOBAL_POOLS)
    return ConvSpec(
        channels=channels,
        kernel=kernel,
        stride=stride,
        dilation=dilation,
        padding=padding,  # type: ignore[arg-type]
        pool=pool,
        pool_type=params["pool_type"],
        activation=params["activation"],
        batch_norm=bool(params["batch_norm"]),
        dropout=float(params["dropout"]),
        global_pool=params["global_pool"],
    )


def map_shapes(spec: ConvSpec, frames: int, bins: int) -> list[Pair]:
    """(frames, bins) of the input and after each block, for clips of that shape.

    Raises
    ------
    DataError
        When the feature map vanishes (a convolution would leave no cell), naming the
        clip shape, the block and what to change.
    """
    shapes = [(frames, bins)]
    for i in range(len(spec.channels)):
        before = shapes[-1]
        after = tuple(
            conv_output_size(n, spec.kernel[a], spec.stride[a], spec.dilation[a], spec.padding[a])
            for a, n in enumerate(before)
        )
        if min(after) < 1:
            raise DataError(
                f"clips of {frames} frames x {bins} bins are too small for this network: "
                f"the feature map vanishes at convolution block {i + 1} of {len(spec.channels)} "
                f"(its input is {before[0]} x {before[1]}; kernel {spec.kernel}, stride "
                f"{spec.stride}, dilation {spec.dilation}, padding {spec.padding} give "
                f"{after[0]} x {after[1]}); use padding='same', a smaller kernel, stride or "
                "dilation, fewer blocks, or longer clips"
            )
        pooled = tuple(n // min(p, n) for n, p in zip(after, spec.pool))
        shapes.append((int(pooled[0]), int(pooled[1])))
    return shapes
