"""Short-time spectra written out with numpy: STFT power, mel filterbank, decibels, DCT, deltas.

They follow librosa's conventions and give its results within float32 rounding
(``tests/test_spectral.py`` compares them), without importing librosa: the log-mel and MFCC
features, and so the inference of every model trained on them, pay neither librosa's
import (about 0.4 s) nor its numba start-up.

Conventions (librosa's defaults)
--------------------------------
* STFT: the signal is zero-padded by ``n_fft // 2`` on both sides (frames are centred),
  framed every ``hop_length`` samples, multiplied by the periodic Hann window
  ``0.5 - 0.5 cos(2 pi n / n_fft)``; ``1 + n_fft // 2`` bins per frame.
* mel scale: Slaney's (linear below 1 kHz, logarithmic above), triangular filters
  normalised to unit area (``norm="slaney"``).
* decibels: ``10 log10(max(S, 1e-10))`` with reference 1, floored at ``top_db`` under the
  clip's loudest cell when ``top_db`` is given.
* MFCC: the orthonormal DCT-II of the log-mel bands.
* deltas: Savitzky-Golay derivatives (polynomial of the derivative's order, least squares
  over ``width`` frames); at the edges, the derivative of the polynomial fitted to the
  first or last ``width`` frames (librosa's ``mode="interp"``).
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["delta", "dct", "hann_window", "mel_filterbank", "power_to_db", "stft_power"]

#: smallest power before the logarithm (librosa's ``amin``)
AMIN = 1e-10
#: frames per FFT block of :func:`stft_power`
BLOCK_FRAMES = 64


@functools.lru_cache(maxsize=8)
def hann_window(n_fft: int) -> np.ndarray:
    """The periodic Hann window of ``n_fft`` samples, float64 (read-only)."""
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    w.flags.writeable = False
    return w


def stft_power(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """Power ``|X|^2`` of the centred STFT of a mono float32 signal.

    The FFT runs in float64 (as librosa's; numpy's pocketfft, as fast as scipy.fft's and
    0.2 s cheaper to import), in blocks of :data:`BLOCK_FRAMES` frames that stay in the
    processor's cache; the power is rounded to float32.  A float32 FFT would be
    ~25% faster but its rounding noise sits ~110 dB under each frame's peak, where the
    absolute -100 dB floor of the log-mel features still reads it.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        At least ``n_fft // 2 + 1`` samples.
    n_fft, hop_length : int

    Returns
    -------
    np.ndarray of float32, shape (1 + n_fft // 2, 1 + n // hop_length)
        Bins first, as librosa.
    """
    y = np.asarray(y, dtype=np.float32)
    padded = np.pad(y, n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    window = hann_window(n_fft)
    # frames first while computing (every write runs along memory), bins first once at the end
    power = np.empty((len(frames), 1 + n_fft // 2), dtype=np.float32)
    windowed = np.empty((min(BLOCK_FRAMES, len(frames)), n_fft), dtype=np.float64)
    for start in range(0, len(frames), BLOCK_FRAMES):
        block = frames[start:start + BLOCK_FRAMES]
        buf = windowed[:len(block)]
        np.multiply(block, window, out=buf)
        parts = np.fft.rfft(buf, axis=-1).view(np.float64).reshape(len(block), -1, 2)
        parts *= parts
        np.add(parts[..., 0], parts[..., 1], out=power[start:start + len(block)], casting="same_kind")
    return np.ascontiguousarray(power.T)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: 3 mels per 200 Hz up to 1 kHz, then 27 mels per factor 6.4."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_part = f >= 1000.0
    mel[log_part] = 15.0 + np.log(f[log_part] / 1000.0) / (math.log(6.4) / 27.0)
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    f = mel * (200.0 / 3)
    log_part = mel >= 15.0
    f[log_part] = 1000.0 * np.exp((math.log(6.4) / 27.0) * (mel[log_part] - 15.0))
    return f


@functools.lru_cache(maxsize=16)
def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Triangular mel filters of unit area, shape (n_mels, 1 + n_fft // 2), float32 (read-only).

    ``n_mels + 2`` edges equally spaced on Slaney's mel scale from ``fmin`` to ``fmax``
    (default ``sr / 2``); filter ``m`` rises from edge ``m`` to edge ``m + 1`` and falls to
    edge ``m + 2``, scaled by ``2 / (f_{m+2} - f_m)``.
    """
    fmax = sr / 2.0 if fmax is None else float(fmax)
    bins = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array([fmin]))[0], _hz_to_mel(np.array([fmax]))[0], n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    out = weights.astype(np.float32)
    out.flags.writeable = False
    return out


@functools.lru_cache(maxsize=16)
def _mel_bands(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> tuple:
    """(first bin, end bin, weights) of each mel filter's non-zero run of bins."""
    weights = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    bands = []
    for row in weights:
        bins = np.flatnonzero(row)
        lo, hi = (int(bins[0]), int(bins[-1]) + 1) if len(bins) else (0, 0)
        bands.append((lo, hi, np.ascontiguousarray(row[lo:hi])))
    return tuple(bands)


def mel_power(power: np.ndarray, sr: int, n_fft: int, n_mels: int, fmin: float = 0.0,
              fmax: float | None = None) -> np.ndarray:
    """The mel spectrogram ``mel_filterbank(...) @ power``, one filter's run of bins at a time.

    Each filter covers a few contiguous FFT bins; their weighted sum (numpy's ``einsum``,
    float32, in bin order) does not call BLAS, so the features are bit-identical whatever
    the thread count, and no BLAS threads compete with parallel extraction workers.  It
    gives the values of a sparse product without importing ``scipy.sparse`` (0.2 s).

    Parameters
    ----------
    power : np.ndarray of float32, shape (1 + n_fft // 2, frames)
        As :func:`stft_power` returns it.
    sr, n_fft, n_mels, fmin, fmax
        As :func:`mel_filterbank`.

    Returns
    -------
    np.ndarray of float32, shape (n_mels, frames)
    """
    power = np.ascontiguousarray(power, dtype=np.float32)
    out = np.zeros((n_mels, power.shape[1]), dtype=np.float32)
    for m, (lo, hi, weights) in enumerate(_mel_bands(sr, n_fft, n_mels, fmin, fmax)):
        if hi > lo:
            np.einsum("k,kt->t", weights, power[lo:hi], out=out[m])
    return out


def power_to_db(S: np.ndarray, top_db: float | None = None) -> np.ndarray:
    """``10 log10(max(S, 1e-10))`` (reference power 1), floored at ``max - top_db`` when given."""
    db = 10.0 * np.log10(np.maximum(np.float32(AMIN), S))
    if top_db is not None:
        db = np.maximum(db, db.max() - np.float32(top_db))
    return db


def dct(S: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` coefficients of the orthonormal DCT-II along axis 0 (MFCCs of log-mel bands).

    Computed in float64 with numpy's FFT of the even-odd reordered bands (Makhoul's
    algorithm: ``y_k = 2 Re(e^{-i pi k / 2M} FFT(v)_k)``, then the orthonormal scaling),
    which gives scipy's ``dct(norm="ortho")`` without importing ``scipy.fft`` (0.3 s);
    returned in ``S``'s float type.
    """
    S = np.asarray(S)
    m = S.shape[0]
    # frames first, bands last and contiguous: the FFTs run along memory
    v = np.empty(S.shape[::-1], dtype=np.float64)
    v[:, : (m + 1) // 2] = S[0::2].T
    v[:, (m + 1) // 2:] = S[1::2][::-1].T
    n = min(n, m)
    spectrum = np.fft.rfft(v, axis=1)[:, :n] if n <= m // 2 + 1 else np.fft.fft(v, axis=1)[:, :n]
    twiddle = np.exp(-1j * np.pi * np.arange(n) / (2 * m))
    y = 2.0 * (spectrum * twiddle).real
    y[:, 0] *= math.sqrt(1.0 / (4 * m))
    y[:, 1:] *= math.sqrt(1.0 / (2 * m))
    return np.ascontiguousarray(y.T, dtype=S.dtype if np.issubdtype(S.dtype, np.floating) else np.float64)


@functools.lru_cache(maxsize=8)
def _savgol_row(width: int, order: int) -> np.ndarray:
    """Least-squares ``order``-th derivative of a degree-``order`` polynomial over ``width`` points.

    Row ``k`` of the pseudo-inverse of the Vandermonde matrix of the positions
    ``-h..h`` gives the polynomial's coefficient of ``t^k``; its derivative of order
    ``order`` is ``order!`` times the leading coefficient, whatever ``t``.
    """
    h = width // 2
    t = np.arange(-h, h + 1, dtype=np.float64)
    vander = t[:, None] ** np.arange(order + 1)[None, :]
    return math.factorial(order) * np.linalg.pinv(vander)[order]


def delta(data: np.ndarray, order: int, width: int) -> np.ndarray:
    """Savitzky-Golay derivative of ``order`` along the frames (axis 1) of ``data`` (dims, frames).

    ``width`` is odd, at least 3 and at most the number of frames.  A degree-``order``
    polynomial has a constant ``order``-th derivative, so each edge frame takes the value
    of the nearest full window (the polynomial fitted to the first or last ``width``
    frames).
    """
    if width < 3 or width % 2 != 1 or width > data.shape[1]:
        raise ValueError(f"width={width} must be odd, at least 3 and at most the {data.shape[1]} frames")
    h = width // 2
    coeffs = _savgol_row(width, order)
    x = np.asarray(data, dtype=np.float64)
    n = x.shape[1]
    inner = np.zeros((x.shape[0], n - 2 * h))
    for k, c in enumerate(coeffs):
        inner += c * x[:, k:k + n - 2 * h]
    out = np.empty_like(x)
    out[:, h:n - h] = inner
    out[:, :h] = inner[:, :1]
    out[:, n - h:] = inner[:, -1:]
    return out.astype(np.float32)
