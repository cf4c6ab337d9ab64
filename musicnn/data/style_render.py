"""Rendering the style set: from a parsed score to fixed-length WAV excerpts.

The worker side of :func:`musicnn.data.styles.build_styles`: one :class:`ExcerptJob` per
piece parses the score once (:func:`~musicnn.data.style_corpus.piece_notes`), draws its
performance from a generator seeded by the build's seed and the piece, and renders each
excerpt through a SoundFont with ``midirenderer``, like the instrument set
(:mod:`musicnn.data.render`).  The draws come from one distribution for every class.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicnn.data.render import PEAK, SILENCE_RMS, _render
from musicnn.data.style_corpus import Piece, piece_notes
from musicnn.errors import DataError

__all__ = [
    "ENSEMBLE_SIZES",
    "MANIFEST_COLUMNS",
    "MAX_SHIFT",
    "PROGRAMS",
    "REGISTER_RANGE",
    "TEMPO_RANGE",
    "VELOCITY_RANGE",
    "ExcerptJob",
    "ensemble",
    "excerpt_notes",
    "piece_key",
    "register_shift",
    "run_job",
    "stable_seed",
    "wav_path",
]

#: General-MIDI programs (0-based) the ensembles are drawn from, the same for every class:
#: keyboards, organs, guitar, harp, mallets, bowed strings, choir, brass, reeds and flutes.
PROGRAMS: tuple[int, ...] = (0, 4, 6, 11, 12, 16, 19, 21, 24, 40, 41, 42, 46, 48, 52, 56, 57, 60,
                             65, 68, 70, 71, 73, 74)
#: Tempo, in beats per minute of the score's beat (drawn uniformly, once per piece).
TEMPO_RANGE = (60.0, 120.0)
#: MIDI velocity of an excerpt, both ends included; each note varies by up to +-6 around it.
VELOCITY_RANGE = (64, 112)
#: Number of instruments of an excerpt's ensemble, drawn uniformly (programs without repeats).
ENSEMBLE_SIZES = (1, 2, 3, 4)
#: The excerpt is transposed so that its mean pitch (MIDI, weighted by duration) lands
#: nearest to a target drawn uniformly here, moving it by at most :data:`MAX_SHIFT`.
REGISTER_RANGE = (57.0, 69.0)
MAX_SHIFT = 12
#: Columns of ``manifest.csv``, in order.
MANIFEST_COLUMNS = ("path", "label", "collection", "piece", "title", "excerpt", "start_beat", "tempo_bpm",
                    "transpose", "programs", "velocity", "soundfont", "source", "group")

_FADE_S = 0.03  # fade-out at the cut, so that an excerpt never ends in a click
_MAX_PARTS = 15  # MIDI channels left once channel 10 (drums) is kept free
_NOTE_JITTER = 6
_MIN_NOTE_S = 0.04


def stable_seed(text: str) -> int:
    """A number that depends on ``text`` only (Python's ``hash`` changes between runs)."""
    return zlib.crc32(text.encode("utf-8"))


def piece_key(piece: Piece) -> str:
    """The piece's file, with ``#<X number>`` for a tune of a multi-tune ABC file."""
    return piece.path + ("" if piece.number is None else f"#{piece.number}")


@dataclass(frozen=True)
class ExcerptJob:
    """Everything a worker needs to parse one piece and render its excerpts (picklable)."""

    piece: Piece
    root: str
    out: str
    sr: int
    excerpt_seconds: float
    n_excerpts: int
    seed: int
    source: str
    soundfont_name: str


def wav_path(out: Path, piece: Piece, k: int) -> Path:
    """Where excerpt ``k`` of ``piece`` is written: ``out/<class>/<piece name>_e<k>.wav``."""
    return out / piece.label / f"{piece.name}_e{k}.wav"


def _starts(notes: np.ndarray, period: float, length: float, k: int, rng: np.random.Generator) -> list[float]:
    """Onsets (quarter notes, on the repeated timeline) of ``k`` excerpts of ``length``.

    The timeline (the piece repeated until it holds ``k`` excerpts) is cut into ``k``
    equal segments; each excerpt starts at a random point of its segment, moved to the
    next note onset (or the last one before it) so that it begins with an attack.
    """
    repeats = max(1, math.ceil(k * length / period))
    onsets = np.unique(np.concatenate([notes[:, 0] + j * period for j in range(repeats)]))
    seg = repeats * period / k
    starts = []
    for i in range(k):
        lo, hi = i * seg, (i + 1) * seg - length
        u = float(rng.uniform(lo, hi))
        inside = onsets[(onsets >= lo) & (onsets <= hi)]
        after = inside[inside >= u]
        starts.append(float(after[0] if after.size else inside[-1] if inside.size else u))
    return starts


def excerpt_notes(notes: np.ndarray, period: float, start: float, length: float) -> np.ndarray:
    """The notes sounding in ``[start, start + length)`` of the piece repeated every ``period``.

    Parameters
    ----------
    notes : ndarray, shape (n, 4)
        Onset, duration, pitch, part (:func:`~musicnn.data.style_corpus.piece_notes`).
    period : float
        Length of one pass through the piece, in quarter notes.
    start, length : float
        The window, in quarter notes of the repeated timeline.

    Returns
    -------
    ndarray, shape (m, 4)
        Onset (from the window's start; a note already sounding starts at 0), duration
        (cut at the window's end), pitch, part; sorted by onset.
    """
    first, last = int(start // period), int((start + length) // period)
    tiled = np.concatenate([notes + np.array([j * period, 0, 0, 0]) for j in range(first, last + 1)])
    onset, end = tiled[:, 0], tiled[:, 0] + tiled[:, 1]
    keep = (onset < start + length) & (end > start)
    out = tiled[keep].copy()
    out[:, 0] = np.maximum(onset[keep] - start, 0.0)
    out[:, 1] = np.minimum(end[keep] - start, length) - out[:, 0]
    return out[np.lexsort((out[:, 2], out[:, 3], out[:, 0]))]


def ensemble(n_parts: int, programs: Sequence[int]) -> list[tuple[int, int]]:
    """Which instrument plays which part: ``(part, program)`` for each MIDI channel.

    With at least as many parts as instruments, part ``p`` is played by instrument
    ``p mod len(programs)``; with fewer, every instrument plays, doubling part
    ``i mod n_parts`` in unison.  So an ensemble of ``k`` instruments always sounds ``k``
    instruments, whether the score has one voice or six.
    """
    k = len(programs)
    if n_parts >= k:
        return [(p, int(programs[p % k])) for p in range(n_parts)]
    return [(i % n_parts, int(programs[i])) for i in range(k)]


def _midi(notes: np.ndarray, voices: Sequence[tuple[int, int]], seconds_per_ql: float, velocity: int,
          end_s: float, rng: np.random.Generator) -> bytes:
    """A MIDI file playing ``notes``, one channel per ``(part, program)`` of ``voices``, dry,
    until ``end_s``."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(resolution=960, initial_tempo=120.0)
    cc = pretty_midi.ControlChange
    jitter = rng.integers(-_NOTE_JITTER, _NOTE_JITTER + 1, size=(len(voices), len(notes)))
    for (part, program), dvs in zip(voices, jitter):
        inst = pretty_midi.Instrument(program=int(program))
        inst.control_changes += [cc(number=91, value=0, time=0.0), cc(number=93, value=0, time=0.0)]
        for (onset, length, pitch, p), dv in zip(notes, dvs):
            if int(p) != part:
                continue
            start = onset * seconds_per_ql
            stop = min(start + max(length * seconds_per_ql, _MIN_NOTE_S), end_s)
            if stop > start:
                inst.notes.append(pretty_midi.Note(velocity=int(np.clip(velocity + dv, 1, 127)),
                                                   pitch=int(pitch), start=start, end=stop))
        midi.instruments.append(inst)
    # the renderer stops at the last event: mark the end so the excerpt is rendered whole
    midi.instruments[0].control_changes.append(cc(number=7, value=100, time=end_s + 0.05))
    buf = io.BytesIO()
    midi.write(buf)
    return buf.getvalue()


def register_shift(notes: np.ndarray, target: float) -> int:
    """The transposition, in semitones (at most an octave either way), that puts the
    duration-weighted mean pitch of ``notes`` nearest to ``target``."""
    mean = float(np.average(notes[:, 2], weights=np.maximum(notes[:, 1], 1e-6)))
    return int(np.clip(round(target - mean), -MAX_SHIFT, MAX_SHIFT))


def _transpose(pitches: np.ndarray, shift: int) -> np.ndarray:
    """Pitches moved by ``shift`` semitones, folded by octaves into the piano's range."""
    out = pitches + shift
    while (out < 21).any() or (out > 108).any():
        out = np.where(out < 21, out + 12, np.where(out > 108, out - 12, out))
    return out


def _write_wav(path: Path, clip: np.ndarray, sr: int) -> None:
    import soundfile as sf

    from musicnn.atomic import atomic_path

    buf = io.BytesIO()  # encode in memory, then one atomic write
    sf.write(buf, clip, sr, subtype="PCM_16", format="WAV")
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


_WORKER_SF2: dict[str, bytes] = {}


def init_worker(sf2s: dict[str, bytes]) -> None:
    """Keep the SoundFonts' bytes in a worker process, once for all its jobs."""
    global _WORKER_SF2
    _WORKER_SF2 = sf2s


def run_job(job: ExcerptJob, sf2s: dict[str, bytes] | None = None) -> tuple[list[dict], list[tuple[str, str]]]:
    """Parse one piece, render and write its excerpts; return (rows, skipped)."""
    piece = job.piece
    what = piece_key(piece)
    try:
        notes, beat = piece_notes(piece, Path(job.root))
    except DataError as exc:
        return [], [(what, str(exc))]
    except Exception as exc:  # noqa: BLE001 - one bad score never stops the build
        return [], [(what, f"cannot read the notes: {type(exc).__name__}: {exc}")]
    sf2 = (_WORKER_SF2 if sf2s is None else sf2s)[job.source]
    rng = np.random.default_rng([job.seed, stable_seed("render:" + what)])
    tempo = float(rng.uniform(*TEMPO_RANGE))
    seconds_per_ql = 60.0 / (tempo * beat)
    length = job.excerpt_seconds / seconds_per_ql
    period = float(np.max(notes[:, 0] + notes[:, 1]))
    n_parts = min(int(notes[:, 3].max()) + 1, _MAX_PARTS)
    notes = notes.copy()
    notes[:, 3] = np.minimum(notes[:, 3], _MAX_PARTS - 1)
    starts = _starts(notes, period, length, job.n_excerpts, rng)
    clip_len = round(job.excerpt_seconds * job.sr)
    fade = np.linspace(1.0, 0.0, max(1, round(_FADE_S * job.sr)))
    out = Path(job.out)
    rows, skipped = [], []
    for k, start in enumerate(starts):
        target = float(rng.uniform(*REGISTER_RANGE))
        size = int(rng.choice(ENSEMBLE_SIZES))
        programs = [int(p) for p in rng.choice(PROGRAMS, size=size, replace=False)]
        velocity = int(rng.integers(VELOCITY_RANGE[0], VELOCITY_RANGE[1] + 1))
        # the generator's draws above are made whatever happens below, so that one failed
        # excerpt does not change the others
        note_rng = np.random.default_rng([job.seed, stable_seed("notes:" + what), k])
        path = wav_path(out, piece, k)
        rel = path.relative_to(out).as_posix()
        window = excerpt_notes(notes, period, start, length)
        if not len(window):
            skipped.append((rel, f"no note sounds in the excerpt starting at beat {start / beat:g}"))
            continue
        shift = register_shift(window, target)
        window[:, 2] = _transpose(window[:, 2], shift)
        try:
            voices = ensemble(n_parts, programs)
            midi = _midi(window, voices, seconds_per_ql, velocity, job.excerpt_seconds, note_rng)
            audio = _render(sf2, midi, job.sr)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - the Rust renderer may raise a PanicException
            skipped.append((rel, f"rendering failed: {type(exc).__name__}: {exc}"))
            continue
        clip = audio[:clip_len]
        if clip.size < clip_len:
            clip = np.pad(clip, (0, clip_len - clip.size))
        clip[-fade.size:] *= fade
        rms = float(np.sqrt(np.mean(clip**2)))
        if rms < SILENCE_RMS:
            skipped.append((rel, f"silent: RMS {rms:.1e} < {SILENCE_RMS:g} before normalisation"))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_wav(path, clip * (PEAK / float(np.max(np.abs(clip)))), job.sr)
        rows.append({
            "path": rel, "label": piece.label, "collection": piece.collection, "piece": what,
            "title": piece.title, "excerpt": k, "start_beat": round((start % period) / beat, 3),
            "tempo_bpm": round(tempo, 2), "transpose": shift, "programs": "+".join(map(str, programs)),
            "velocity": velocity, "soundfont": job.soundfont_name, "source": job.source, "group": piece.group,
        })
    return rows, skipped
