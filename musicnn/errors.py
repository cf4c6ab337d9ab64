"""The exception tree of musicnn.

Every error a user can cause is a :class:`MusicnnError`; its message names the file
or value at fault and, where it helps, what to do.  The CLI prints such errors as
one line and exits non-zero.  Errors about bad values are also ``ValueError``s, as
scikit-learn's conventions expect of estimators.
"""

from __future__ import annotations


class MusicnnError(Exception):
    """Base class of every error raised on purpose by musicnn."""


class AudioError(MusicnnError):
    """An audio file cannot be read or holds no usable signal."""


class FeatureError(MusicnnError, ValueError):
    """A feature specification or a feature computation is invalid."""


class DataError(MusicnnError, ValueError):
    """A data set, manifest, label or split is invalid."""


class ModelFileError(MusicnnError):
    """A model file is missing, corrupt, truncated or not a musicnn model."""


class ConfigError(MusicnnError, ValueError):
    """A hyper-parameter or option has an invalid value."""


def failure_line(path: object, reason: str) -> str:
    """One skipped file as a line: ``path: reason``, without repeating a path the reason names."""
    return reason if str(path) in reason else f"{path}: {reason}"
