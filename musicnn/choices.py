"""The values musicnn's parameters choose among, and the defaults the command line shows.

Plain tuples and numbers, importing nothing: the modules that check these parameters
take them from here, and so does ``musicnn.cli``, whose options list them without
loading numpy or torch (``musicnn --help`` stays fast).
"""

from __future__ import annotations

__all__ = [
    "AGGREGATES",
    "BATCH_SIZE",
    "EVALUATION_SPLITS",
    "FEATURE_KINDS",
    "LR_SCHEDULES",
    "NORMS",
    "POOLING_STATS",
    "PRESET_NAMES",
]

#: Feature kinds of :class:`musicnn.features.FeatureSpec` (its ``kind``).
FEATURE_KINDS = ("stft", "mel", "logmel", "mfcc", "cqt", "chroma", "descriptors")

#: Names of the feature presets (:data:`musicnn.features.PRESETS`, in its order).
PRESET_NAMES = ("logmel", "mfcc", "descriptors", "chroma")

#: Log-mel normalisations (``FeatureSpec.norm``).
NORMS = ("none", "clip", "band", "pcen")

#: Statistics pooled over frames (``FeatureSpec.pooling``), in the order they are concatenated.
POOLING_STATS = ("mean", "std", "min", "max", "median", "skew", "kurtosis")

#: Learning-rate schedules of the torch training loop (``lr_schedule``).
LR_SCHEDULES = ("constant", "step", "cosine", "plateau")

#: Ways of turning a file's window probabilities into its scores (``aggregate``).
AGGREGATES = ("mean", "max", "vote")

#: What :func:`musicnn.pipeline.evaluate_model` scores (``split``): every item, or one part
#: of the split recorded in the model file.
EVALUATION_SPLITS = ("all", "train", "validation", "test")

#: Windows per forward pass of inference, by default (``batch_size``).
BATCH_SIZE = 64
