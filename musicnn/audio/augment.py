"""Audio-domain augmentation: gain, pitch and time shifts, equalisation, room reverb, noise.

These act on the waveform before feature extraction, so they make new training examples
(``musicnn train --audio-augment gain,pitch --augment-copies 2``) rather than altering
batches; spectrogram augmentation of batches lives in :mod:`musicnn.training.augment`.

========= ======= ===============================================================
name      default value
========= ======= ===============================================================
gain      6.0     gain drawn uniformly in ±value dB
pitch     1.0     pitch shift drawn uniformly in ±value semitones (phase vocoder and
                  resampling, :func:`librosa.effects.pitch_shift`; duration kept)
shift     0.1     time shift drawn uniformly in ±value seconds: the sound starts later
                  (zeros in front) or earlier (its start cut); the length is kept
eq        6.0     random equaliser: gains drawn uniformly in ±value dB at 8 frequencies
                  log-spaced from 50 Hz to Nyquist, interpolated over log frequency
                  (another microphone, sample library or mixing desk)
reverb    0.8     a room: an impulse response of exponentially decaying noise with a
                  reverberation time (RT60) drawn in [0.1, value] s and a direct-to-
                  reverberant mix drawn in [0, 1]; the length is kept
noise     30.0    white noise at a signal-to-noise ratio drawn in [value, value + 30] dB
========= ======= ===============================================================

Each augmented copy of a file is drawn from a generator seeded by the run's seed, the
copy's number and the file's folder and name, so it is the same in every run, whatever the order or
the number of processes, and its features can be cached.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicnn.checks import parse_strengths
from musicnn.errors import ConfigError

__all__ = ["AUDIO_AUGMENTATIONS", "AudioAugment", "parse_audio_augment"]

#: name -> (default value, lowest, highest, is the low bound open)
AUDIO_AUGMENTATIONS: dict[str, tuple[float, float, float, bool]] = {
    "gain": (6.0, 0.0, 40.0, True),
    "pitch": (1.0, 0.0, 12.0, True),
    "shift": (0.1, 0.0, 5.0, True),
    "eq": (6.0, 0.0, 30.0, True),
    "reverb": (0.8, 0.1, 5.0, False),
    "noise": (30.0, -10.0, 100.0, False),
}

_EQ_POINTS = 8


def parse_audio_augment(text: Any) -> dict[str, float]:
    """Parse ``"gain,pitch=0.5,shift"`` into ``{name: value}`` (see the module table).

    Raises
    ------
    ConfigError
        For an unknown name (the valid ones are listed) or a value out of range.
    """
    return parse_strengths(text, AUDIO_AUGMENTATIONS, "audio_augment")


@dataclass(frozen=True)
class AudioAugment:
    """One augmented copy of every file: which augmentations, and which draw.

    Parameters
    ----------
    text : str
        The augmentations, as for :func:`parse_audio_augment`.
    copy : int
        The copy's number (1, 2, ...): each copy draws other random values.
    seed : int
        The run's seed.
    """

    text: str
    copy: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if not parse_audio_augment(self.text):
            raise ConfigError(f"audio_augment={self.text!r} names no augmentation")
        if isinstance(self.copy, bool) or not isinstance(self.copy, int) or self.copy < 1:
            raise ConfigError(f"audio augment copy={self.copy!r} must be an integer >= 1")

    @property
    def params(self) -> dict[str, float]:
        """The parsed augmentations."""
        return parse_audio_augment(self.text)

    @property
    def tag(self) -> str:
        """A short name for the cache: the augmentations, the copy and the seed."""
        canon = ",".join(f"{k}={v:g}" for k, v in sorted(self.params.items()))
        digest = hashlib.sha1(f"{canon}|{self.copy}|{self.seed}".encode()).hexdigest()[:12]
        return f"aug-{digest}"

    def rng(self, path: str) -> np.random.Generator:
        """The generator of this copy of ``path``, seeded by the file's folder and name
        only, so a data set moved elsewhere draws the same values."""
        p = Path(path)
        key = int.from_bytes(hashlib.sha1(f"{p.parent.name}/{p.name}".encode()).digest()[:8], "little")
        return np.random.default_rng([int(self.seed), int(self.copy), key])

    def draws(self, path: str = "") -> dict[str, Any]:
        """The random values of this copy of ``path``: ``gain_db``, ``semitones``, ``shift_s``,
        ``eq_db`` (8 gains), ``rt60_s``, ``wet``, ``snr_db`` and ``seed`` (of the noises);
        0 / None for an augmentation not asked for."""
        params, rng = self.params, self.rng(path)
        values: dict[str, Any] = {}
        for name, key in (("gain", "gain_db"), ("pitch", "semitones"), ("shift", "shift_s")):
            draw = rng.uniform(-1.0, 1.0)  # drawn even when unused: each value keeps its draw
            values[key] = float(draw * params[name]) if name in params else 0.0
        eq = rng.uniform(-1.0, 1.0, _EQ_POINTS)
        values["eq_db"] = eq * params["eq"] if "eq" in params else None
        rt60, wet = rng.uniform(0.0, 1.0, 2)
        values["rt60_s"] = float(0.1 + rt60 * (params["reverb"] - 0.1)) if "reverb" in params else 0.0
        values["wet"] = float(wet) if "reverb" in params else 0.0
        snr = rng.uniform(0.0, 30.0)
        values["snr_db"] = float(params["noise"] + snr) if "noise" in params else None
        values["seed"] = int(rng.integers(2**31))
        return values

    def __call__(self, y: np.ndarray, sr: int, path: str = "") -> np.ndarray:
        """Return the augmented copy of the mono signal ``y`` (same length, float32)."""
        d = self.draws(path)
        gain_db, steps, shift = d["gain_db"], d["semitones"], d["shift_s"]
        out = np.asarray(y, dtype=np.float32)
        if steps:
            import librosa

            out = librosa.effects.pitch_shift(out, sr=sr, n_steps=float(steps)).astype(np.float32)
        n = int(round(abs(shift) * sr))
        if n:
            pad = np.zeros(min(n, len(out)), dtype=np.float32)
            out = np.concatenate([pad, out[: len(out) - len(pad)]]) if shift > 0 else np.concatenate([out[len(pad):], pad])
        noise_rng = np.random.default_rng(d["seed"])
        if d["eq_db"] is not None:
            out = _equalise(out, sr, d["eq_db"])
        if d["rt60_s"]:
            out = _reverberate(out, sr, d["rt60_s"], d["wet"], noise_rng)
        if d["snr_db"] is not None:
            power = float(np.mean(out.astype(np.float64) ** 2))
            if power > 0:
                sigma = np.sqrt(power / 10.0 ** (d["snr_db"] / 10.0))
                out = out + noise_rng.normal(0.0, sigma, len(out)).astype(np.float32)
        if gain_db:
            out = out * np.float32(10.0 ** (gain_db / 20.0))
        return out.astype(np.float32, copy=False)


def _equalise(y: np.ndarray, sr: int, gains_db: np.ndarray) -> np.ndarray:
    """Apply a smooth gain curve through ``gains_db`` at log-spaced frequencies (zero phase)."""
    n = len(y)
    spectrum = np.fft.rfft(y.astype(np.float64))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    points = np.geomspace(50.0, sr / 2, len(gains_db))
    curve_db = np.interp(np.log(np.maximum(freqs, 1.0)), np.log(points), gains_db)
    return np.fft.irfft(spectrum * 10.0 ** (curve_db / 20.0), n).astype(np.float32)


def _reverberate(y: np.ndarray, sr: int, rt60: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with a generated room response: decaying noise with reverberation time ``rt60``.

    The direct sound keeps weight ``1 - wet``, the reverberant tail ``wet`` (scaled to the
    direct sound's energy); the result is cut to the input's length.
    """
    from scipy.signal import fftconvolve

    t = np.arange(int(rt60 * sr)) / sr
    tail = rng.normal(0.0, 1.0, len(t)) * 10.0 ** (-3.0 * t / rt60)  # -60 dB at rt60
    tail /= np.sqrt(np.sum(tail**2)) or 1.0
    ir = wet * tail
    ir[0] += 1.0 - wet
    return fftconvolve(y.astype(np.float64), ir)[: len(y)].astype(np.float32)
