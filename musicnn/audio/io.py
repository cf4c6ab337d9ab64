"""Audio loading: decode, mix down, resample and check.

Every file goes through :func:`load` (the whole file at once) or :func:`stream` (blocks
of a file of any length, in bounded memory; same samples, same errors).  They read WAV,
FLAC, OGG/Vorbis and MP3 (and the other formats libsndfile knows) at any sample rate,
mix down to mono, resample with soxr (the same high-quality resampler as
``librosa.load``) and return float32 samples.

Errors name the file: a missing or unreadable file (permission denied), data that is not
audio, a header that declares an impossible sample rate, a corrupt stream, a file with
no samples or with non-finite samples raise :class:`~musicnn.errors.AudioError`.  Names
that are not valid UTF-8 are read like any other, and however many channels a header
declares, a read decodes a bounded number of samples.
A file whose header promises more samples than it holds (a truncated download, a copy
cut short) is read as far as it goes, with a :class:`TruncatedAudioWarning` naming it.
"""

from __future__ import annotations

import os
import struct
import sys
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

from musicnn.errors import AudioError, FeatureError

__all__ = ["load", "stream", "duration", "check_sr", "TruncatedAudioWarning", "AUDIO_EXTENSIONS", "SILENCE_PEAK"]

#: File extensions treated as audio when a folder is scanned.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au")

#: Peak amplitude under which a signal counts as silent (-90 dBFS).
SILENCE_PEAK = 10 ** (-90 / 20)

_BLOCK = 1 << 18  # frames decoded per read
_MAX_BLOCK_SAMPLES = 1 << 21  # samples (frames x channels) decoded per read, at most
#: PCM subtypes decoded as integers and scaled to [-1, 1) here, by the same power of two as
#: libsndfile (so the same float32 values): its own integer-to-float loop is ~10x slower
_INTEGER_READS = {"PCM_16": ("int16", 2.0 ** -15), "PCM_24": ("int32", 2.0 ** -31), "PCM_32": ("int32", 2.0 ** -31)}

#: Sample rates a file may declare (a header outside them is damaged or not audio).
MIN_NATIVE_SR, MAX_NATIVE_SR = 1000, 768_000


class TruncatedAudioWarning(UserWarning):
    """A file holds fewer samples than its header promises; it was read as far as it goes."""


def check_sr(sr: int) -> int:
    """Validate a target sample rate.

    Parameters
    ----------
    sr : int
        Sample rate in Hz.

    Returns
    -------
    int
        ``sr`` as an int.

    Raises
    ------
    FeatureError
        If ``sr`` is not an integer between 1,000 and 384,000 Hz.
    """
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or not 1000 <= sr <= 384_000:
        raise FeatureError(f"sr={sr!r} must be an integer sample rate between 1000 and 384000 Hz")
    return int(sr)


def _wav_declared_frames(path: Path) -> int | None:
    """Frames promised by a RIFF/WAVE header's data chunk, or None if not a plain WAV."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = None
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = f.read(size)
                    if len(fmt) >= 14:
                        block_align = struct.unpack("<H", fmt[12:14])[0]
                    if size % 2:
                        f.seek(1, os.SEEK_CUR)
                elif cid == b"data":
                    if not block_align or size == 0xFFFFFFFF:
                        return None
                    return size // block_align
                else:
                    f.seek(size + (size % 2), os.SEEK_CUR)
    except OSError:
        return None


def _native_name(path: Path) -> str | bytes:
    """The path as libsndfile takes it: bytes on POSIX, so that a name that is not valid
    UTF-8 (held by Python as surrogate escapes) opens like any other."""
    return str(path) if sys.platform == "win32" else os.fsencode(path)


def _open_checked(path: Path):
    import soundfile as sf

    try:
        st = path.stat()
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file") from None
    except PermissionError:
        raise AudioError(f"{path}: permission denied (a folder on the way is not readable)") from None
    except OSError as exc:
        raise AudioError(f"{path}: cannot open ({exc.strerror or exc})") from None
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if st.st_size == 0:
        raise AudioError(f"{path}: the file is empty (0 bytes)")
    try:
        with open(path, "rb"):  # libsndfile says only "System error." for an unreadable file
            pass
    except PermissionError:
        raise AudioError(f"{path}: permission denied: the file is not readable (check its permissions)") from None
    except OSError as exc:
        raise AudioError(f"{path}: cannot open ({exc.strerror or exc})") from None
    try:
        f = sf.SoundFile(_native_name(path))
    except sf.LibsndfileError as exc:
        reason = str(exc).split(":")[-1].strip() or "unreadable"
        if "not a regular file" in reason:  # libsndfile's words for a format it does not recognise
            reason = "format not recognised"
        raise AudioError(f"{path}: not a readable audio file ({reason})") from exc
    except (OSError, RuntimeError, ValueError, TypeError) as exc:
        raise AudioError(f"{path}: cannot open ({exc})") from exc
    if not MIN_NATIVE_SR <= f.samplerate <= MAX_NATIVE_SR or f.channels < 1:
        f.close()
        raise AudioError(f"{path}: the header declares {f.samplerate} Hz and {f.channels} channel(s); "
                         f"musicnn reads {MIN_NATIVE_SR}-{MAX_NATIVE_SR} Hz audio (is the header damaged?)")
    return f


def _block_frames(frames: int, channels: int) -> int:
    """``frames`` per read, fewer for many channels: a read holds at most :data:`_MAX_BLOCK_SAMPLES`
    samples (at least 1024 frames), whatever the header claims."""
    return max(1024, min(int(frames), _MAX_BLOCK_SAMPLES // max(1, int(channels))))


class _Chunk:
    """Decoded (n, channels) frames as the file stores them: float32, or integers whose
    float32 value is ``frames * scale`` (scaled by :func:`_mix_down` or :meth:`as_float`)."""

    __slots__ = ("frames", "scale")

    def __init__(self, frames: np.ndarray, scale: float | None):
        self.frames, self.scale = frames, scale

    def __len__(self) -> int:
        return len(self.frames)

    def as_float(self) -> np.ndarray:
        if self.scale is None:
            return self.frames
        out = self.frames.astype(np.float32)
        out *= np.float32(self.scale)
        return out


def _read(path: Path, start: int, want: int, block: int) -> Iterator[tuple[_Chunk | None, str | None]]:
    """Up to ``want`` frames from ``start`` in reads of ``block``: ``(chunk, None)`` each,
    then ``(None, reason)`` if a decoder error stopped it."""
    import soundfile as sf

    got = 0
    with _open_checked(path) as f:
        if start > 0:
            try:
                f.seek(start)
            except (sf.LibsndfileError, RuntimeError) as exc:
                yield None, f"cannot seek: {exc}"
                return
        dtype, scale = _INTEGER_READS.get(f.subtype, ("float32", None))
        while got < want:
            try:
                chunk = f.read(min(block, want - got), dtype=dtype, always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                yield None, str(exc).split(":")[-1].strip() or "decoder error"
                return
            if len(chunk) == 0:
                return
            got += len(chunk)
            yield _Chunk(chunk, scale), None


def _frames(path: Path, start: int, want: int, block: int) -> Iterator[tuple[_Chunk | None, str | None]]:
    """Decoded (n, channels) blocks of about ``block`` frames, ``want`` at most from ``start``.

    A decoder error in a large read loses the whole read: the frames before it are then
    salvaged in small reads.  Ends with ``(None, reason)`` when an error stopped the reading.
    """
    got, reason = 0, None
    for chunk, reason in _read(path, start, want, block):
        if chunk is None:
            break
        got += len(chunk)
        yield chunk, None
    if reason is None:
        return
    pieces: list[_Chunk] = []
    held, reason = 0, None
    for chunk, reason in _read(path, start + got, want - got, 1024):
        if chunk is None:
            break
        pieces.append(chunk)
        held += len(chunk)
        if held >= block:
            yield _joined(pieces), None
            pieces, held = [], 0
    if pieces:
        yield _joined(pieces), None
    if reason is not None:
        yield None, reason


def _joined(chunks: list[_Chunk]) -> _Chunk:
    return chunks[0] if len(chunks) == 1 else _Chunk(np.concatenate([c.frames for c in chunks], axis=0),
                                                     chunks[0].scale)


def _mix_down(chunk: _Chunk, out: np.ndarray | None = None) -> np.ndarray:
    """Average the channels of a decoded chunk into a contiguous float32 (n,) array
    (``out``, when given).

    Adds the strided channel columns one by one, each cast to float32 (several times faster
    than ``mean(axis=1)``), then scales once: integer PCM by its power of two over the
    number of channels, which gives exactly the float32 values of averaging the scaled
    channels.
    """
    frames = chunk.frames
    channels = frames.shape[1]
    y = np.empty(len(frames), dtype=np.float32) if out is None else out
    np.copyto(y, frames[:, 0], casting="unsafe")
    for c in range(1, channels):
        np.add(y, frames[:, c], out=y, dtype=np.float32)
    factor = (1.0 if chunk.scale is None else chunk.scale) / channels
    if factor != 1.0:
        y *= np.float32(factor)
    return y


def duration(path: str | os.PathLike) -> float:
    """Duration of an audio file in seconds, read from its header.

    Parameters
    ----------
    path : str or PathLike
        The audio file.

    Returns
    -------
    float
        Seconds of audio the header announces.
    """
    path = Path(path)
    with _open_checked(path) as f:
        return f.frames / f.samplerate


def load(
    path: str | os.PathLike,
    *,
    sr: int | None = 22050,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
    allow_silent: bool = True,
) -> tuple[np.ndarray, int]:
    """Load an audio file as float32 samples.

    Parameters
    ----------
    path : str or PathLike
        WAV, FLAC, OGG, MP3 or any other format libsndfile reads.
    sr : int or None
        Target sample rate; the signal is resampled (soxr, high quality) when the file's
        rate differs.  ``None`` keeps the file's own rate.
    mono : bool
        Mix all channels down to one by averaging.
    offset : float
        Start reading this many seconds into the file.
    duration : float or None
        Read at most this many seconds (``None``: to the end).
    allow_silent : bool
        If False, a signal whose peak is below :data:`SILENCE_PEAK` (-90 dBFS) raises.

    Returns
    -------
    y : np.ndarray [shape=(n,) or (channels, n)], float32
        The samples (mono, or channels first as in librosa).
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    AudioError
        Missing, empty, non-audio or corrupt file; no samples (after ``offset``);
        non-finite samples; silence when ``allow_silent`` is False.
    """

    path = Path(path)
    if sr is not None:
        sr = check_sr(sr)
    if offset < 0 or not np.isfinite(offset):
        raise AudioError(f"{path}: offset={offset!r} must be >= 0")
    if duration is not None and (not np.isfinite(duration) or duration <= 0):
        raise AudioError(f"{path}: duration={duration!r} must be > 0")

    with _open_checked(path) as f:
        native_sr, channels = f.samplerate, f.channels
        declared = f.frames
        if f.format == "WAV":
            declared = max(declared, _wav_declared_frames(path) or 0)
    start = int(round(offset * native_sr))
    if start > 0 and start >= declared:
        raise AudioError(f"{path}: offset={offset}s is past the end of the file ({declared / native_sr:.3f}s)")
    want = declared - start if duration is None else int(round(duration * native_sr))
    blocks, broken = [], None
    for chunk, reason in _frames(path, start, want, _block_frames(_BLOCK, channels)):
        if chunk is None:
            broken = reason
        else:
            blocks.append(chunk)
    got = sum(len(b) for b in blocks)
    if broken is not None and got == 0:
        raise AudioError(f"{path}: corrupt audio data ({broken})")
    if got == 0:
        raise AudioError(f"{path}: holds no audio samples" + (f" after offset={offset}s" if start else ""))
    expected = declared - start if duration is None else min(int(round(duration * native_sr)), declared - start)
    if broken is not None or got < expected - max(2, int(0.001 * expected)):
        warnings.warn(
            f"{path}: truncated: the header promises {expected / native_sr:.3f}s but the file holds "
            f"{got / native_sr:.3f}s" + (f" ({broken})" if broken else "") + "; read what is there",
            TruncatedAudioWarning,
            stacklevel=2,
        )

    if mono:  # each block mixed down into its place: no joined copy of the decoded frames
        y = np.empty(got, dtype=np.float32)
        pos = 0
        for block in blocks:
            _mix_down(block, out=y[pos:pos + len(block)])
            pos += len(block)
    else:
        y = np.ascontiguousarray(_joined(blocks).as_float().T)
    if blocks[0].scale is None and not np.isfinite(y).all():  # integer PCM is always finite
        raise AudioError(f"{path}: holds non-finite samples (NaN or infinity)")
    if sr is not None and sr != native_sr:
        import soxr

        y = soxr.resample(y.T, native_sr, sr, quality="HQ").T
        y = np.ascontiguousarray(y, dtype=np.float32)
    else:
        sr = native_sr
    if not allow_silent and float(np.max(np.abs(y))) < SILENCE_PEAK:
        raise AudioError(f"{path}: is silent (peak below -90 dBFS); nothing to analyse")
    return y, int(sr)


def stream(
    path: str | os.PathLike,
    *,
    sr: int | None = 22050,
    block_seconds: float = 10.0,
    allow_silent: bool = True,
) -> Iterator[np.ndarray]:
    """Read an audio file block by block as float32 mono samples, in bounded memory.

    The concatenated blocks equal ``load(path, sr=sr)[0]``: the same mix-down and the same
    soxr resampler (HQ), run as a stream (:class:`soxr.ResampleStream`) so that block
    boundaries leave no trace.  At most one decoded block of ``block_seconds`` of the
    file (all its channels) is held at a time, whatever the file's length.  (In a file
    damaged mid-stream, the readable part salvaged may end one codec frame sooner or
    later than with :func:`load`, whose reads are of another size.)

    Parameters
    ----------
    path : str or PathLike
        Any file :func:`load` reads.
    sr : int or None
        Target sample rate (``None``: the file's own rate, ``soundfile.info(path).samplerate``).
    block_seconds : float
        Seconds of the file decoded per block (> 0).  The blocks yielded hold about
        ``block_seconds * sr`` samples; the resampler's delay makes the first one shorter.
    allow_silent : bool
        If False, a file whose peak stays below :data:`SILENCE_PEAK` raises once its last
        block has been read (the blocks before have been yielded by then).

    Yields
    ------
    np.ndarray [shape=(m,)], float32
        Consecutive non-empty blocks of the mono signal.

    Raises
    ------
    AudioError
        Missing, empty, non-audio file (raised by this call, before any block); corrupt
        data with no readable sample, no samples at all, non-finite samples, silence when
        ``allow_silent`` is False (raised while iterating).  A file cut short is read as
        far as it goes with a :class:`TruncatedAudioWarning`, as by :func:`load`.
    """
    path = Path(path)
    if sr is not None:
        sr = check_sr(sr)
    if not (isinstance(block_seconds, (int, float)) and np.isfinite(block_seconds) and block_seconds > 0):
        raise AudioError(f"{path}: block_seconds={block_seconds!r} must be > 0")
    with _open_checked(path) as f:  # errors of the file itself are raised now, not at the first block
        native_sr, channels = f.samplerate, f.channels
        declared = f.frames
        if f.format == "WAV":
            declared = max(declared, _wav_declared_frames(path) or 0)
    block = _block_frames(round(min(block_seconds, 3600.0) * native_sr), channels)
    return _stream_blocks(path, native_sr, declared, sr, block, allow_silent)


def _stream_blocks(path: Path, native_sr: int, declared: int, sr: int | None, block: int,
                   allow_silent: bool) -> Iterator[np.ndarray]:
    resampler = None
    if sr is not None and sr != native_sr:
        import soxr

        resampler = soxr.ResampleStream(native_sr, sr, 1, dtype="float32", quality="HQ")
    got = 0
    peak = 0.0
    broken = None
    for frames, reason in _frames(path, 0, sys.maxsize, block):
        if frames is None:
            broken = reason
            break
        got += len(frames)
        y = _mix_down(frames)
        del frames
        if not np.isfinite(y).all():
            raise AudioError(f"{path}: holds non-finite samples (NaN or infinity)")
        if resampler is not None:
            y = resampler.resample_chunk(y, last=False)
        if len(y):
            peak = max(peak, float(np.max(np.abs(y))))
            yield np.ascontiguousarray(y, dtype=np.float32)
        del y
    if broken is not None and got == 0:
        raise AudioError(f"{path}: corrupt audio data ({broken})")
    if got == 0:
        raise AudioError(f"{path}: holds no audio samples")
    if resampler is not None:
        y = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if len(y):
            peak = max(peak, float(np.max(np.abs(y))))
            yield np.ascontiguousarray(y, dtype=np.float32)
        del y
    if broken is not None or got < declared - max(2, int(0.001 * declared)):
        warnings.warn(
            f"{path}: truncated: the header promises {declared / native_sr:.3f}s but the file holds "
            f"{got / native_sr:.3f}s" + (f" ({broken})" if broken else "") + "; read what is there",
            TruncatedAudioWarning,
            stacklevel=2,
        )
    if not allow_silent and peak < SILENCE_PEAK:
        raise AudioError(f"{path}: is silent (peak below -90 dBFS); nothing to analyse")
