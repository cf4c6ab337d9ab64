"""Audio features: a frozen :class:`FeatureSpec` and :func:`compute`.

A spec names one kind of feature and its parameters with librosa's names (``sr``,
``n_fft``, ``hop_length``, ``n_mels``, ``n_mfcc``...).  ``compute(y, spec)`` returns a
time-major frame sequence of shape ``(frames, dims)`` for the sequence models (CNN, RNN),
or, when ``spec.pooling`` lists statistics, one pooled summary vector of shape
``(dims * len(pooling),)`` for the other models.

Kinds
-----
``stft``         STFT magnitude, ``1 + n_fft // 2`` bins.
``mel``          mel power spectrogram, ``n_mels`` bands.
``logmel``       mel power in dB (``10 log10``, reference 1.0), ``n_mels`` bands.  The floor is
                 absolute (-100 dB) when ``top_db`` is None, else ``top_db`` under the clip's
                 loudest cell (librosa's ``power_to_db(ref=1, top_db=...)``).
``mfcc``         ``n_mfcc`` MFCCs of the log-mel spectrogram; ``deltas=1`` appends the deltas,
                 ``deltas=2`` the deltas and delta-deltas.
``cqt``          constant-Q magnitude, ``n_bins`` bins from ``fmin`` (C1 when 0).
``chroma``       chroma from the STFT power, ``n_chroma`` pitch classes.
``descriptors``  spectral centroid, bandwidth, roll-off, flatness, the ``n_bands + 1`` contrast
                 bands, zero-crossing rate and RMS: 13 values per frame with the default 6 bands.

Normalisation
-------------
``norm`` acts on ``logmel`` (and so on ``mfcc``) before pooling: ``"none"``; ``"clip"``
subtracts the clip's loudest value (0 dB at each clip's peak); ``"band"`` subtracts each
band's mean over the clip (a static equaliser, a room's colour or a sample library's
recording chain then cancels out); ``"pcen"`` replaces the log by per-channel energy
normalisation (librosa's ``pcen`` with its defaults, on the mel power scaled to 16-bit range).

Short clips
-----------
Rule for clips shorter than the analysis window: the signal is zero-padded at its end to
``n_fft`` samples, so it still gives frames (a one-sample click is not an error).  When
``spec.duration`` is set, every clip is first cropped or zero-padded at its end to exactly
``duration`` seconds, so that all clips give the same number of frames.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from musicnn.audio.io import check_sr
from musicnn.choices import FEATURE_KINDS, NORMS, POOLING_STATS
from musicnn.errors import FeatureError

__all__ = [
    "FeatureSpec",
    "KINDS",
    "NORMS",
    "POOLING_STATS",
    "PRESETS",
    "compute",
    "extract",
    "fit_length",
    "pool",
    "preset",
]

#: Feature kinds, normalisations and pooling statistics (defined in :mod:`musicnn.choices`).
KINDS = FEATURE_KINDS

_FORMAT = 2  # bump when compute() changes its output for an unchanged spec

#: Largest sample magnitude :func:`compute` takes: the power of larger ones overflows float32.
MAX_SAMPLE = 1e9

#: Longest clip a spec may ask for, in seconds (a clip is held in memory whole).
MAX_DURATION = 3600.0

#: Largest value of each size parameter: a spec read from a file cannot ask for more memory
#: than features ever need (an STFT window of 2**16 samples is 1.4 s at 48 kHz).
_LIMITS = {"n_fft": 1 << 16, "hop_length": 1 << 16, "n_mels": 1024, "n_mfcc": 1024, "n_bins": 1024,
           "bins_per_octave": 240, "n_chroma": 240, "n_bands": 16}


@dataclass(frozen=True)
class FeatureSpec:
    """What to compute from audio, and how; frozen, hashable and JSON round-trippable.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    sr : int
        Sample rate the audio is resampled to before analysis.
    n_fft, hop_length : int
        STFT window and hop in samples (frames are centred, Hann window).
    n_mels : int
        Mel bands (``mel``, ``logmel``, ``mfcc``).
    fmin, fmax : float, float or None
        Frequency range of the mel bands; ``fmin`` is also the CQT's lowest frequency
        (C1 when 0).  ``fmax=None`` means ``sr / 2``.
    n_mfcc : int
        MFCCs kept.
    deltas : int
        0, 1 or 2: append MFCC deltas and delta-deltas.
    n_bins, bins_per_octave : int
        CQT size.
    n_chroma : int
        Chroma bins.
    n_bands : int
        Spectral contrast bands (the descriptor vector has ``n_bands + 1`` contrast values).
    pooling : tuple of str
        Statistics of :data:`POOLING_STATS` pooled over frames; empty for a frame sequence.
    duration : float or None
        Clip length in seconds: clips are cropped or zero-padded to it (``None``: as long as
        the file).  Classification of longer audio uses windows of this length.
    top_db : float or None
        Dynamic range of ``logmel``/``mfcc`` under each clip's loudest cell; ``None``: an
        absolute -100 dB floor.
    norm : str
        One of :data:`NORMS` (see the module's "Normalisation").
    """

    kind: str = "logmel"
    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    n_mfcc: int = 20
    deltas: int = 0
    n_bins: int = 84
    bins_per_octave: int = 12
    n_chroma: int = 12
    n_bands: int = 6
    pooling: tuple[str, ...] = field(default=())
    duration: float | None = None
    top_db: float | None = None
    norm: str = "none"

    def __post_init__(self) -> None:
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise FeatureError(f"kind={self.kind!r} is not a feature kind; valid kinds: {', '.join(KINDS)}")
        check_sr(self.sr)
        for name in ("n_fft", "hop_length", "n_mels", "n_mfcc", "n_bins", "bins_per_octave", "n_chroma", "n_bands"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise FeatureError(f"{name}={value!r} must be an integer > 0")
            if value > _LIMITS[name]:
                raise FeatureError(f"{name}={value!r} is too large (at most {_LIMITS[name]})")
        for name in ("fmin", "fmax", "duration", "top_db"):
            value = getattr(self, name)
            number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            if value is not None and not number:
                raise FeatureError(f"{name}={value!r} must be a number")
        if not isinstance(self.norm, str):
            raise FeatureError(f"norm={self.norm!r} is not a normalisation; valid: {', '.join(NORMS)}")
        if isinstance(self.pooling, str) or not isinstance(self.pooling, (tuple, list)):
            raise FeatureError(f"pooling={self.pooling!r} must be a sequence of statistics ({', '.join(POOLING_STATS)})")
        if isinstance(self.deltas, bool) or not isinstance(self.deltas, (int, np.integer)):
            raise FeatureError(f"deltas={self.deltas!r} must be 0, 1 or 2")
        if self.hop_length > self.n_fft:
            raise FeatureError(f"hop_length={self.hop_length} must be <= n_fft={self.n_fft}")
        if self.deltas not in (0, 1, 2):
            raise FeatureError(f"deltas={self.deltas!r} must be 0, 1 or 2")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise FeatureError(f"n_mfcc={self.n_mfcc} must be <= n_mels={self.n_mels}")
        if self.kind == "descriptors":  # each spectral-contrast octave needs an FFT bin
            lowest = min(200.0, self.sr / 2 ** (self.n_bands + 2))
            if self.n_fft * lowest < self.sr:
                raise FeatureError(f"n_fft={self.n_fft} is too short for n_bands={self.n_bands} contrast bands at "
                                   f"sr={self.sr} (descriptors need n_fft >= {math.ceil(self.sr / lowest)})")
        nyquist = self.sr / 2
        if not 0 <= self.fmin < nyquist:
            raise FeatureError(f"fmin={self.fmin!r} must be in [0, sr/2={nyquist:g})")
        if self.fmax is not None and not self.fmin < self.fmax <= nyquist:
            raise FeatureError(f"fmax={self.fmax!r} must be in (fmin, sr/2={nyquist:g}]")
        if self.duration is not None and (not np.isfinite(self.duration) or not 0 < self.duration <= MAX_DURATION):
            raise FeatureError(f"duration={self.duration!r} must be > 0 and at most {MAX_DURATION:g} seconds, or None")
        if self.top_db is not None and (isinstance(self.top_db, bool) or not np.isfinite(self.top_db) or self.top_db <= 0):
            raise FeatureError(f"top_db={self.top_db!r} must be > 0 dB or None")
        if self.norm not in NORMS:
            raise FeatureError(f"norm={self.norm!r} is not a normalisation; valid: {', '.join(NORMS)}")
        if self.top_db is not None:
            object.__setattr__(self, "top_db", float(self.top_db))
        pooling = tuple(self.pooling)
        bad = [s for s in pooling if not isinstance(s, str) or s not in POOLING_STATS]
        if bad:
            raise FeatureError(f"pooling={bad[0]!r} is not a statistic; valid: {', '.join(POOLING_STATS)}")
        object.__setattr__(self, "pooling", pooling)
        if self.fmax is not None:
            object.__setattr__(self, "fmax", float(self.fmax))
        object.__setattr__(self, "fmin", float(self.fmin))
        if self.duration is not None:
            object.__setattr__(self, "duration", float(self.duration))

    # -- identity -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The spec as a JSON-able dict."""
        d = dataclasses.asdict(self)
        d["pooling"] = list(self.pooling)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        """Rebuild a spec from :meth:`to_dict` output; unknown keys raise FeatureError."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise FeatureError(f"unknown feature parameter(s): {', '.join(unknown)}; valid: {', '.join(sorted(names))}")
        d = dict(d)
        if "pooling" in d:
            d["pooling"] = tuple(d["pooling"])
        return cls(**d)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    @property
    def hash(self) -> str:
        """Short stable digest of the spec (and of the feature code's format version)."""
        return hashlib.sha1(f"{_FORMAT}:{self.to_json()}".encode()).hexdigest()[:16]

    def replace(self, **changes: Any) -> FeatureSpec:
        """A copy with some parameters changed."""
        return dataclasses.replace(self, **changes)

    @property
    def is_sequence(self) -> bool:
        """True for a frame sequence (no pooling)."""
        return not self.pooling

    @property
    def dims(self) -> int:
        """Values per frame."""
        if self.kind == "stft":
            return 1 + self.n_fft // 2
        if self.kind in ("mel", "logmel"):
            return self.n_mels
        if self.kind == "mfcc":
            return self.n_mfcc * (1 + self.deltas)
        if self.kind == "cqt":
            return self.n_bins
        if self.kind == "chroma":
            return self.n_chroma
        return 7 + self.n_bands  # centroid, bandwidth, rolloff, flatness, zcr, rms + n_bands + 1 contrast

    def describe(self) -> str:
        """One line for humans, e.g. ``logmel 64 bands @ 16000 Hz, frames``."""
        shape = f"pooled {'/'.join(self.pooling)}" if self.pooling else "frames"
        dur = f", {self.duration:g} s clips" if self.duration else ""
        level = "" if self.top_db is None else f", top_db={self.top_db:g}"
        level += "" if self.norm == "none" else f", norm={self.norm}"
        return (f"{self.kind} ({self.dims} per frame) @ {self.sr} Hz, n_fft={self.n_fft}, hop={self.hop_length}"
                f"{level}, {shape}{dur}")


#: Named starting points; ``preset(name, **changes)`` tunes them.
PRESETS: dict[str, FeatureSpec] = {
    # hop 256 and an 80 dB range: what generalised best across SoundFonts (benchmarks/RESULTS.md)
    "logmel": FeatureSpec(kind="logmel", sr=16000, n_fft=1024, hop_length=256, n_mels=64, top_db=80.0),
    "mfcc": FeatureSpec(kind="mfcc", sr=16000, n_fft=1024, hop_length=512, n_mels=64, n_mfcc=20, deltas=2,
                        pooling=("mean", "std")),
    "descriptors": FeatureSpec(kind="descriptors", sr=16000, n_fft=1024, hop_length=512, pooling=("mean", "std")),
    "chroma": FeatureSpec(kind="chroma", sr=16000, n_fft=2048, hop_length=512, pooling=("mean", "std")),
}


def preset(name: str, **changes: Any) -> FeatureSpec:
    """A named spec from :data:`PRESETS`, with ``changes`` applied.

    Raises
    ------
    FeatureError
        For an unknown name (the message lists the valid ones).
    """
    try:
        base = PRESETS[name]
    except KeyError:
        raise FeatureError(f"unknown feature preset {name!r}; valid: {', '.join(PRESETS)}") from None
    changes = {k: v for k, v in changes.items() if v is not None}
    return base.replace(**changes) if changes else base


# -- computation ------------------------------------------------------------------

def fit_length(y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Apply the short-clip rule: crop/pad to ``spec.duration``, then pad to ``n_fft``.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono signal at ``spec.sr``.
    spec : FeatureSpec

    Returns
    -------
    np.ndarray [shape=(m,)], float32
    """
    y = np.asarray(y, dtype=np.float32)
    if spec.duration is not None:
        n = int(round(spec.duration * spec.sr))
        y = y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)))
    if len(y) < spec.n_fft:
        y = np.pad(y, (0, spec.n_fft - len(y)))
    return y


def compute(y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Compute the features of a mono signal.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono audio at ``spec.sr`` (not checked: resample first, e.g. with :func:`musicnn.audio.io.load`).
    spec : FeatureSpec

    Returns
    -------
    np.ndarray, float32
        ``(frames, spec.dims)`` when ``spec.pooling`` is empty, else the pooled vector
        ``(spec.dims * len(spec.pooling),)``.

    Raises
    ------
    FeatureError
        If ``y`` is not a finite 1-D signal, or librosa rejects the parameters.
    """
    if not isinstance(spec, FeatureSpec):
        raise FeatureError(f"spec must be a FeatureSpec, got {type(spec).__name__}")
    try:
        y = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise FeatureError(f"y must be a mono signal of shape (n,) ({exc})") from None
    if y.dtype.kind not in "biuf":
        raise FeatureError(f"y must hold real numbers, got dtype {y.dtype}")
    if y.ndim != 1:
        raise FeatureError(f"y must be a mono signal of shape (n,), got shape {y.shape}")
    if not np.isfinite(y).all():
        raise FeatureError("y holds non-finite samples (NaN or infinity)")
    # the largest magnitude from the extremes: exact in any dtype, no float64 copy of the signal
    peak = max(float(y.max()), -float(y.min())) if y.size else 0.0
    if peak > MAX_SAMPLE:
        raise FeatureError(f"y holds samples up to {peak:.3g}, beyond what features of float32 power can hold "
                           f"(at most {MAX_SAMPLE:g}; audio samples lie in [-1, 1])")
    y = fit_length(y, spec)
    frames = _frames(y, spec)
    frames = np.ascontiguousarray(frames.T, dtype=np.float32)  # time-major
    if not np.isfinite(frames).all():
        raise FeatureError(f"{spec.kind}: the features of y are not finite (samples up to {peak:.3g} overflow them)")
    return pool(frames, spec.pooling) if spec.pooling else frames


def _frames(y: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Feature-major (dims, frames) array of one kind.

    The STFT, mel, log-mel and MFCC kinds are computed by :mod:`musicnn.spectral`, without
    importing librosa; CQT, chroma, descriptors and PCEN call librosa (:func:`_with_librosa`).
    """
    from musicnn import spectral

    kind = spec.kind
    if kind == "cqt":
        return _with_librosa(spec, lambda librosa: np.abs(librosa.cqt(
            y, sr=spec.sr, hop_length=spec.hop_length, fmin=spec.fmin or librosa.note_to_hz("C1"),
            n_bins=spec.n_bins, bins_per_octave=spec.bins_per_octave)))
    power = spectral.stft_power(y, spec.n_fft, spec.hop_length)
    if kind in ("chroma", "descriptors"):
        # frame after frame in memory (Fortran order), as librosa's own STFT: its sums over bins then
        # run in pairwise order (a strided float32 sum over 1,000+ bins loses the flatness's last digits)
        return _with_librosa(spec, lambda librosa: _librosa_descriptors(librosa, y, np.asfortranarray(np.sqrt(power)),
                                                                        spec))
    if kind == "stft":
        return np.sqrt(power)
    mel = spectral.mel_power(power, spec.sr, spec.n_fft, spec.n_mels, spec.fmin, spec.fmax)
    if kind == "mel":
        return mel
    if spec.norm == "pcen":
        # 16-bit range as librosa's documentation suggests for float audio
        logmel = _with_librosa(spec, lambda librosa: librosa.pcen(mel * float(2**31), sr=spec.sr,
                                                                  hop_length=spec.hop_length))
    else:
        logmel = spectral.power_to_db(mel, spec.top_db)
        if spec.norm == "clip":
            logmel = logmel - logmel.max()
        elif spec.norm == "band":
            logmel = logmel - logmel.mean(axis=1, keepdims=True)
    if kind == "logmel":
        return logmel
    mfcc = spectral.dct(logmel, spec.n_mfcc)
    parts = [mfcc]
    width = min(9, mfcc.shape[1] if mfcc.shape[1] % 2 else mfcc.shape[1] - 1)
    for order in range(1, spec.deltas + 1):
        # one or two frames: no slope to measure
        parts.append(spectral.delta(mfcc, order, width) if width >= 3 else np.zeros_like(mfcc))
    return np.concatenate(parts, axis=0)


def _with_librosa(spec: FeatureSpec, fn: Any) -> np.ndarray:
    """``fn(librosa)``, librosa imported on first use, its ParameterError raised as FeatureError."""
    import librosa

    try:
        return fn(librosa)
    except librosa.util.exceptions.ParameterError as exc:
        raise FeatureError(f"{spec.kind}: {exc}") from exc


def _librosa_descriptors(librosa: Any, y: np.ndarray, mag: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Chroma, or the 13 spectral descriptors, from the STFT magnitude ``mag``."""
    if spec.kind == "chroma":
        return librosa.feature.chroma_stft(S=mag * mag, sr=spec.sr, n_chroma=spec.n_chroma)
    sr, hop = spec.sr, spec.hop_length
    return np.concatenate(
        [
            librosa.feature.spectral_centroid(S=mag, sr=sr),
            librosa.feature.spectral_bandwidth(S=mag, sr=sr),
            librosa.feature.spectral_rolloff(S=mag, sr=sr),
            librosa.feature.spectral_flatness(S=mag),
            librosa.feature.spectral_contrast(S=mag, sr=sr, n_bands=spec.n_bands,
                                              fmin=min(200.0, sr / 2 ** (spec.n_bands + 2))),
            librosa.feature.zero_crossing_rate(y, frame_length=spec.n_fft, hop_length=hop)[:, : mag.shape[1]],
            librosa.feature.rms(S=mag, frame_length=spec.n_fft, hop_length=hop),
        ],
        axis=0,
    )


def pool(frames: np.ndarray, stats: tuple[str, ...] | list[str] = ("mean", "std")) -> np.ndarray:
    """Summarise a ``(frames, dims)`` sequence by statistics over time.

    Parameters
    ----------
    frames : np.ndarray [shape=(t, d)]
    stats : sequence of str
        Names from :data:`POOLING_STATS`, concatenated in this order.

    Returns
    -------
    np.ndarray [shape=(d * len(stats),)], float32
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[0] == 0:
        raise FeatureError(f"pool() needs a (frames, dims) array with at least one frame, got shape {frames.shape}")
    out = []
    for s in stats:
        if s == "mean":
            out.append(frames.mean(axis=0))
        elif s == "std":
            out.append(frames.std(axis=0))
        elif s == "min":
            out.append(frames.min(axis=0))
        elif s == "max":
            out.append(frames.max(axis=0))
        elif s == "median":
            out.append(np.median(frames, axis=0))
        elif s in ("skew", "kurtosis"):
            centred = frames - frames.mean(axis=0)
            sd = frames.std(axis=0)
            safe = np.where(sd > 0, sd, 1.0)
            z = centred / safe
            moment = (z**3).mean(axis=0) if s == "skew" else (z**4).mean(axis=0) - 3.0
            out.append(np.where(sd > 0, moment, 0.0))
        else:
            raise FeatureError(f"pooling={s!r} is not a statistic; valid: {', '.join(POOLING_STATS)}")
    return np.concatenate(out).astype(np.float32)


def extract(path: str | os.PathLike, spec: FeatureSpec, transform: Any = None) -> np.ndarray:
    """Load one file and compute its features (see :func:`compute`).

    ``transform(y, sr, path)``, when given, changes the loaded signal first (audio
    augmentation, :class:`musicnn.audio.augment.AudioAugment`).
    Silent files raise :class:`~musicnn.errors.AudioError`: they carry nothing to learn from.
    """
    from musicnn.audio.io import load

    y, _ = load(path, sr=spec.sr, duration=spec.duration, allow_silent=False)
    if transform is not None:
        y = transform(y, spec.sr, str(path))
    return compute(y, spec)
