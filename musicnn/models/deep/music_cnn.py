"""A music-tagging CNN in the spirit of Pons et al.: musically motivated filter shapes.

Input is a time-major log-mel spectrogram, shape (n_clips, frames, bins).

* **Front end**: parallel branches of convolutions whose shapes follow musical
  concepts.  *Timbral* filters are tall (spanning a large fraction of the mel bins) and
  few frames wide: they see a spectral envelope.  *Temporal* filters are one bin tall
  and wide in time: they see onsets, rhythm and tempo.  Each branch is
  a convolution max-pooled over the whole frequency axis (so a filter may match
  anywhere in pitch), then ``BatchNorm -> ReLU``, giving a (filters, time) map; the
  branches are concatenated along the channels.
* **Mid end**: 1-D convolutions over time (``Conv1d -> BatchNorm -> ReLU``); the first
  maps the front end's channels to ``mid_channels``, each later one adds its output to
  its input (a residual connection).
* **Back end**: mean and maximum over time, batch norm, a dense layer with ReLU (the
  embedding), dropout and a linear head.

Time padding is "same" everywhere (even widths pad one cell more on the right), so
every map keeps the clip's frames and clips of any length pass.

References: J. Pons, O. Nieto, M. Prockup, E. Schmidt, A. Ehmann, X. Serra, "End-to-end
learning for music audio tagging at scale", ISMIR 2018; J. Pons, X. Serra, "musicnn:
pre-trained convolutional neural networks for music audio tagging", 2019.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from musicnn.errors import ConfigError
from musicnn.checks import check_float, check_int
from musicnn.models.deep.base import ClassifierNet, TorchClassifier
from musicnn.models.deep.params import store_params
from musicnn.models.deep.cnn import ReceptiveField, receptive_field

__all__ = ["MusicCNN", "MusicCNNNet"]


@dataclass(frozen=True)
class _MusicSpec:
    """Checked, normalised parameters of the network."""

    timbral_heights: tuple[float, ...]
    timbral_widths: tuple[int, ...]
    timbral_filters: int
    temporal_widths: tuple[int, ...]
    temporal_filters: int
    mid_channels: int
    mid_layers: int
    mid_kernel: int
    dense_units: int
    dropout: float


def _timbral_height(fraction: float, bins: int) -> int:
    """Bins spanned by a timbral filter: ``round(fraction * bins)``, at least 1."""
    return max(1, min(bins, int(round(fraction * bins))))


def _pad_time(x: torch.Tensor, width: int, dim: int) -> torch.Tensor:
    """'Same' zero padding of a kernel of ``width`` along axis ``dim`` (2 or -1)."""
    left = (width - 1) // 2
    right = width - 1 - left
    if left == right == 0:
        return x
    if dim == -1:
        return F.pad(x, (left, right))
    return F.pad(x, (0, 0, left, right))  # (batch, 1, frames, bins): pad the frames


class _FrontBranch(torch.nn.Module):
    """``Conv2d(width x height) -> max over frequency -> BatchNorm1d -> ReLU``.

    The maximum over frequency is taken before the batch norm (Pons et al. normalise
    first): ReLU commutes with the maximum, and normalising the pooled (filters, frames)
    map instead of the full one costs far less on a CPU.
    """

    def __init__(self, filters: int, width: int, height: int) -> None:
        super().__init__()
        self.width = width
        self.conv = torch.nn.Conv2d(1, filters, (width, height), bias=False)
        self.norm = torch.nn.BatchNorm1d(filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, 1, frames, bins) -> (batch, filters, frames)."""
        h = self.conv(_pad_time(x, self.width, 2)).amax(dim=3)
        return F.relu(self.norm(h))


class _MidLayer(torch.nn.Module):
    """``Conv1d over time -> BatchNorm1d -> ReLU``, added to its input when residual."""

    def __init__(self, c_in: int, c_out: int, kernel: int, residual: bool) -> None:
        super().__init__()
        self.kernel = kernel
        self.residual = residual
        self.conv = torch.nn.Conv1d(c_in, c_out, kernel, bias=False)
        self.norm = torch.nn.BatchNorm1d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm(self.conv(_pad_time(x, self.kernel, -1))))
        return x + h if self.residual else h


class MusicCNNNet(ClassifierNet):
    """Timbral and temporal front end, residual 1-D mid end, pooled dense back end.

    ``front`` returns the front end's (batch, channels, frames) map, ``mid`` the mid
    end's, ``embed`` the dense layer's output (batch, dense_units).
    """

    def __init__(self, n_bins: int, n_classes: int, spec: _MusicSpec) -> None:
        super().__init__()
        self.spec = spec
        self.n_bins = n_bins
        branches = []
        for fraction in spec.timbral_heights:
            for width in spec.timbral_widths:
                branches.append(_FrontBranch(spec.timbral_filters, width, _timbral_height(fraction, n_bins)))
        for width in spec.temporal_widths:
            branches.append(_FrontBranch(spec.temporal_filters, width, 1))
        self.branches = torch.nn.ModuleList(branches)
        c_front = sum(b.conv.out_channels for b in branches)
        layers = []
        c_in = c_front
        for i in range(spec.mid_layers):
            layers.append(_MidLayer(c_in, spec.mid_channels, spec.mid_kernel, residual=i > 0))
            c_in = spec.mid_channels
        self.mid_layers = torch.nn.ModuleList(layers)
        self.pool_norm = torch.nn.BatchNorm1d(2 * c_in)
        self.dense = torch.nn.Linear(2 * c_in, spec.dense_units)
        self.dropout = torch.nn.Dropout(spec.dropout)
        self.head = torch.nn.Linear(spec.dense_units, n_classes)

    def front(self, x: torch.Tensor) -> torch.Tensor:
        """Front-end map of a batch (batch, frames, bins): (batch, front channels, frames)."""
        x = x.unsqueeze(1)
        return torch.cat([branch(x) for branch in self.branches], dim=1)

    def mid(self, x: torch.Tensor) -> torch.Tensor:
        """Mid-end map of a batch (batch, frames, bins): (batch, channels, frames)."""
        h = self.front(x)
        for layer in self.mid_layers:
            h = layer(h)
        return h

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Dense-layer output of a batch (batch, frames, bins): (batch, dense_units)."""
        h = self.mid(x)
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return F.relu(self.dense(self.pool_norm(pooled)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape (batch, n_classes)."""
        return self.head(self.dropout(self.embed(x)))


def _tuple_of(name: str, value: Any, *, allow_empty: bool = True) -> tuple[Any, ...]:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"{name}={value!r} must be a tuple")
    values = tuple(value)
    if not values and not allow_empty:
        raise ConfigError(f"{name}={value!r} must not be empty")
    return values


class MusicCNN(TorchClassifier):
    """Music CNN with timbral (tall) and temporal (wide) front-end filters.

    Parameters
    ----------
    timbral_heights : tuple of float, default=(0.4, 0.7)
        Height of the timbral filters as fractions of the mel bins, each in (0, 1]
        (rounded, at least one bin).  One branch per (height, width) combination.
    timbral_widths : tuple of int, default=(1, 3)
        Width of the timbral filters in frames.
    timbral_filters : int, default=8
        Filters of each timbral branch.
    temporal_widths : tuple of int, default=(8, 16, 32)
        Width in frames of the temporal filters (one bin tall), one branch each; at 31
        frames per second (16 kHz, hop 512) that is about 0.25, 0.5 and 1 s.
    temporal_filters : int, default=8
        Filters of each temporal branch.
    mid_channels : int, default=32
        Channels of the mid-end 1-D convolutions.
    mid_layers : int, default=2
        Mid-end layers: the first maps the front end to ``mid_channels``, the others are
        residual.  0 pools the front end directly.
    mid_kernel : int, default=7
        Width in frames of the mid-end convolutions.
    dense_units : int, default=64
        Units of the back end's dense layer (the embedding).
    dropout : float, default=0.3
        Dropout before the linear head, in [0, 1).
    batch_size, max_epochs, lr, weight_decay, patience, validation_fraction, seed, device, progress, monitor, lr_schedule, class_weight, clip_grad_norm, augment
        See :class:`~musicnn.models.deep.base.TorchClassifier`.

    Notes
    -----
    ``X`` has shape (n_clips, frames, bins), time-major, standardised per bin.  Every
    front-end branch is max-pooled over the whole frequency axis and every time axis is
    padded "same", so clips of any number of frames pass (the bins must match the
    training clips: the timbral filter heights depend on them).  ``embed`` returns the
    dense layer's output.

    Examples
    --------
    >>> clf = MusicCNN(max_epochs=30, progress=False).fit(X, y)  # doctest: +SKIP
    >>> clf.embed(X).shape  # doctest: +SKIP
    (n_clips, 64)
    """

    _input_ndim = 3
    _input_layout = "(n_clips, frames, bins)"

    def __init__(
        self,
        *,
        timbral_heights: tuple[float, ...] = (0.4, 0.7),
        timbral_widths: tuple[int, ...] = (1, 3),
        timbral_filters: int = 8,
        temporal_widths: tuple[int, ...] = (8, 16, 32),
        temporal_filters: int = 8,
        mid_channels: int = 32,
        mid_layers: int = 2,
        mid_kernel: int = 7,
        dense_units: int = 64,
        dropout: float = 0.3,
        **shared: Any,
    ) -> None:
        store_params(self, locals())

    # ------------------------------------------------------------------ parameters
    def _spec(self) -> _MusicSpec:
        """The checked, normalised parameters; ConfigError names a bad one."""
        heights = _tuple_of("timbral_heights", self.timbral_heights)
        for h in heights:
            ok = isinstance(h, (int, float, np.integer, np.floating)) and not isinstance(h, bool)
            if not ok or not 0.0 < float(h) <= 1.0:
                raise ConfigError(
                    f"timbral_heights={self.timbral_heights!r} must hold fractions of the mel "
                    "bins in (0, 1], e.g. (0.4, 0.7)"
                )
        widths = _tuple_of("timbral_widths", self.timbral_widths)
        for w in widths:
            check_int("timbral_widths entries", w, minimum=1)
        temporal = _tuple_of("temporal_widths", self.temporal_widths)
        for w in temporal:
            check_int("temporal_widths entries", w, minimum=1)
        if not temporal and not (heights and widths):
            raise ConfigError(
                f"timbral_heights={self.timbral_heights!r}, timbral_widths={self.timbral_widths!r} "
                f"and temporal_widths={self.temporal_widths!r} leave the front end without a "
                "branch: give timbral heights and widths, temporal widths, or both"
            )
        check_int("timbral_filters", self.timbral_filters, minimum=1)
        check_int("temporal_filters", self.temporal_filters, minimum=1)
        check_int("mid_channels", self.mid_channels, minimum=1)
        check_int("mid_layers", self.mid_layers, minimum=0)
        check_int("mid_kernel", self.mid_kernel, minimum=1)
        check_int("dense_units", self.dense_units, minimum=1)
        check_float("dropout", self.dropout, low=0.0, high=1.0)
        return _MusicSpec(
            timbral_heights=tuple(float(h) for h in heights),
            timbral_widths=tuple(int(w) for w in widths),
            timbral_filters=int(self.timbral_filters),
            temporal_widths=tuple(int(w) for w in temporal),
            temporal_filters=int(self.temporal_filters),
            mid_channels=int(self.mid_channels),
            mid_layers=int(self.mid_layers),
            mid_kernel=int(self.mid_kernel),
            dense_units=int(self.dense_units),
            dropout=float(self.dropout),
        )

    def _check_params(self) -> None:
        super()._check_params()
        self._spec()

    def _build_module(self, input_shape: tuple[int, ...], n_classes: int) -> MusicCNNNet:
        return MusicCNNNet(n_bins=int(input_shape[1]), n_classes=n_classes, spec=self._spec())

    # ------------------------------------------------------------------ receptive field
    def receptive_field(self) -> ReceptiveField:
        """Receptive field in frames (1-D) of one unit of the mid end's output.

        The widest front-end branch followed by every mid-end convolution (the residual
        path through each layer is the widest); the back end then pools the whole clip.
        Every front-end unit sees all the bins (max over frequency).
        """
        spec = self._spec()
        branch_widths = list(spec.temporal_widths)
        if spec.timbral_heights:
            branch_widths += list(spec.timbral_widths)
        layers = [(max(branch_widths), 1)] + [(spec.mid_kernel, 1)] * spec.mid_layers
        return receptive_field(layers, ndim=1)

    def _summary_lines(self) -> list[str]:
        """Lines for the model summary: front-end filter shapes and receptive fields."""
        spec = self._spec()
        shape = getattr(self, "input_shape_", None)
        lines = []
        if spec.timbral_heights and spec.timbral_widths:
            if shape is not None:
                bins = int(shape[1])
                shapes = ", ".join(
                    f"{w}x{_timbral_height(h, bins)}"
                    for h in spec.timbral_heights
                    for w in spec.timbral_widths
                )
                lines.append(
                    f"timbral filters (frames x bins): {shapes}, {spec.timbral_filters} each, "
                    f"max-pooled over {bins} bins"
                )
            else:
                shapes = ", ".join(
                    f"{w}x{h:g}" for h in spec.timbral_heights for w in spec.timbral_widths
                )
                lines.append(
                    f"timbral filters (frames x fraction of bins): {shapes}, {spec.timbral_filters} "
                    "each, max-pooled over frequency"
                )
        if spec.temporal_widths:
            widths = ", ".join(str(w) for w in spec.temporal_widths)
            lines.append(
                f"temporal filters: {widths} frames x 1 bin, {spec.temporal_filters} each, "
                "max-pooled over frequency"
            )
        lines.append(
            f"receptive field: {self.receptive_field().frames} frames x all bins before "
            f"temporal pooling ({spec.mid_layers} mid-end layers of width {spec.mid_kernel})"
        )
        return lines
