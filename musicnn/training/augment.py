"""Data augmentation of training batches (spectrograms and feature vectors).

Augmentations are named in one string, comma-separated, each optionally with a value:
``"specaugment,crop=0.75,mixup=0.4"``.  :func:`parse_augment` checks it;
:func:`augment_batch` applies the spectrogram ones to a batch, and :func:`mixup_batch`
mixes examples and their labels.  Every random draw comes from a generator the caller
passes, so a training run (and its resumption from a checkpoint) is reproducible.

========== ======= =================================================================
name       default value
========== ======= =================================================================
specaugment 0.15   two time masks and two frequency masks per example, each up to
                   this fraction of the frames / bins, set to 0 (the standardised mean)
crop       0.875   a random crop of this fraction of the frames (the networks pool
                   globally, so evaluation sees the whole clip)
mixup      0.2     mixup: ``x = λ x_i + (1 − λ) x_j`` and the same mix of the losses,
                   ``λ ~ Beta(α, α)`` with α this value
========== ======= =================================================================

Audio-domain augmentation (gain, pitch and time shifts) acts before feature
extraction: see :mod:`musicnn.audio.augment`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from musicnn.checks import parse_strengths
from musicnn.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

__all__ = ["AUGMENTATIONS", "augment_batch", "mixup_batch", "parse_augment"]

#: name -> (default value, lowest allowed, highest allowed, is the low bound open)
AUGMENTATIONS: dict[str, tuple[float, float, float, bool]] = {
    "specaugment": (0.15, 0.0, 0.5, True),
    "crop": (0.875, 0.0, 1.0, True),
    "mixup": (0.2, 0.0, 10.0, True),
}

#: augmentations that need time-major spectrogram input (n, frames, bins)
SPECTROGRAM_ONLY = ("specaugment", "crop")


def parse_augment(text: Any, table: dict[str, tuple[float, float, float, bool]] | None = None,
                  what: str = "augment") -> dict[str, float]:
    """Parse an augmentation string such as ``"specaugment,crop=0.75,mixup"`` into ``{name: value}``.

    :func:`musicnn.checks.parse_strengths` over :data:`AUGMENTATIONS` (or ``table``);
    None, ``""`` or ``"none"`` mean no augmentation.
    """
    return parse_strengths(text, AUGMENTATIONS if table is None else table, what)


def check_input(augment: dict[str, float], ndim: int) -> None:
    """Raise ConfigError when a spectrogram augmentation is asked for non-spectrogram input."""
    bad = [name for name in SPECTROGRAM_ONLY if name in augment]
    if bad and ndim != 3:
        raise ConfigError(
            f"augment: {', '.join(bad)} need spectrogram input (n, frames, bins); this model "
            f"takes {ndim}-D input (use mixup, or a spectrogram model such as cnn)"
        )


def _mask(n: int, size: int, frac: float, count: int, generator: torch.Generator) -> torch.Tensor:
    """Boolean masks of shape (n, size): ``count`` random bands of up to ``frac * size``."""
    import torch

    keep = torch.zeros(n, size, dtype=torch.bool)
    widest = max(1, int(frac * size))
    pos = torch.arange(size)
    for _ in range(count):
        width = torch.randint(0, widest + 1, (n, 1), generator=generator)
        start = (torch.rand(n, 1, generator=generator) * (size - width + 1)).long()
        keep |= (pos >= start) & (pos < start + width)
    return keep


def augment_batch(x: torch.Tensor, augment: dict[str, float], generator: torch.Generator) -> torch.Tensor:
    """Apply the spectrogram augmentations (crop, then SpecAugment) to a CPU batch.

    Parameters
    ----------
    x : torch.Tensor [shape=(batch, frames, bins)] or (batch, features)
        Standardised inputs; 2-D input is returned unchanged.
    augment : dict
        Output of :func:`parse_augment`.
    generator : torch.Generator
        Source of every random draw.

    Returns
    -------
    torch.Tensor
        A new tensor (the input is not modified); cropped batches have fewer frames.
    """
    import torch

    if x.ndim != 3:
        return x
    n, frames, bins = x.shape
    if "crop" in augment and frames > 1:
        length = max(1, int(round(augment["crop"] * frames)))
        if length < frames:
            offset = torch.randint(0, frames - length + 1, (n, 1), generator=generator)
            idx = offset + torch.arange(length)
            x = x[torch.arange(n)[:, None], idx]
            frames = length
    if "specaugment" in augment:
        frac = augment["specaugment"]
        t_mask = _mask(n, frames, frac, 2, generator)
        f_mask = _mask(n, bins, frac, 2, generator)
        x = x.masked_fill(t_mask[:, :, None] | f_mask[:, None, :], 0.0)
    return x


def mixup_batch(
    x: torch.Tensor, alpha: float, rng: np.random.Generator, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Mix a batch with a shuffled copy of itself.

    Returns
    -------
    mixed : torch.Tensor
        ``λ x + (1 − λ) x[perm]``.
    perm : torch.Tensor of int64
        The partner of each example; the loss is ``λ L(y) + (1 − λ) L(y[perm])``.
    lam : float
        ``λ ~ Beta(alpha, alpha)``, drawn from ``rng``.
    """
    import torch

    lam = float(rng.beta(alpha, alpha))
    perm = torch.randperm(len(x), generator=generator)
    return lam * x + (1.0 - lam) * x[perm], perm, lam
