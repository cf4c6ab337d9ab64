"""Audio in: decoding and checks (:mod:`.io`) and waveform augmentation (:mod:`.augment`).

The names of :mod:`musicnn.audio.io` are re-exported here (``musicnn.audio.load``).
"""

from musicnn.audio.io import (  # noqa: F401
    AUDIO_EXTENSIONS,
    SILENCE_PEAK,
    TruncatedAudioWarning,
    check_sr,
    duration,
    load,
    stream,
)

__all__ = ["load", "stream", "duration", "check_sr", "TruncatedAudioWarning", "AUDIO_EXTENSIONS", "SILENCE_PEAK"]
