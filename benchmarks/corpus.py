"""A synthetic music corpus for the benchmarks: 30-second clips rendered from MIDI.

Each clip is a short piece: a chord progression, a bass line and a random melody in a
random key and tempo, played by the instruments of one label and rendered through the
General-MIDI SoundFont shipped in ``pretty_midi`` (``midirenderer``, 48 kHz stereo),
resampled to 44.1 kHz with soxr, peak-normalised to -1 dBFS and written as 16-bit stereo
WAV in a folder-per-label tree that ``musicnn features DIR`` reads::

    OUT/piano/piano_000.wav  OUT/strings/strings_001.wav  OUT/guitar/guitar_002.wav ...

Clip ``i`` has label ``LABELS[i % 3]`` and is generated from ``numpy.random.default_rng
([seed, i])`` alone, so the first clips of a larger corpus are those of a smaller one.
Files that already exist are kept (a cache): delete the folder to rebuild it.

    python benchmarks/corpus.py --out /tmp/musicnn-bench/corpus --n 60
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

SR = 44100
CLIP_S = 30.0
PEAK_DBFS = -1.0

#: label -> General-MIDI programs (0-based) for the melody, the chords and the bass.
LABELS: dict[str, dict[str, tuple[int, ...]]] = {
    "piano": {"melody": (0, 1), "chords": (0, 1), "bass": (0,)},
    "strings": {"melody": (40, 41), "chords": (48, 49), "bass": (42, 43)},
    "guitar": {"melody": (24, 25), "chords": (24, 25), "bass": (32, 33)},
}

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
# progressions as scale degrees (0 = tonic), one chord per bar
_PROGRESSIONS = ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 4), (5, 3, 0, 4), (0, 3, 5, 4))


def clip_path(out: Path, i: int) -> Path:
    label = list(LABELS)[i % len(LABELS)]
    return out / label / f"{label}_{i:03d}.wav"


def _degree_pitch(root: int, scale: tuple[int, ...], degree: int) -> int:
    octave, step = divmod(degree, len(scale))
    return root + 12 * octave + scale[step]


def clip_midi(i: int, seed: int = 0) -> bytes:
    """The MIDI file of clip ``i``: chords, bass and melody, ``CLIP_S`` seconds long."""
    import pretty_midi

    rng = np.random.default_rng([seed, i])
    label = list(LABELS)[i % len(LABELS)]
    progs = LABELS[label]
    bpm = float(rng.integers(84, 133))
    beat = 60.0 / bpm
    root = 48 + int(rng.integers(0, 12))  # tonic between C3 and B3
    scale = _MAJOR if rng.random() < 0.6 else _MINOR
    progression = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    chord_style = int(rng.integers(3))  # 0 held, 1 struck on beats 1 and 3, 2 arpeggio in eighths

    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    cc = pretty_midi.ControlChange
    parts = {}
    for role, pan in (("chords", int(rng.integers(70, 90))), ("bass", 64), ("melody", int(rng.integers(38, 58)))):
        program = int(rng.choice(progs[role]))
        inst = pretty_midi.Instrument(program=program, name=role)
        inst.control_changes.append(cc(number=10, value=pan, time=0.0))
        parts[role] = inst
        pm.instruments.append(inst)

    def note(role: str, pitch: int, start: float, length: float, velocity: int) -> None:
        if start >= CLIP_S:
            return
        parts[role].notes.append(pretty_midi.Note(velocity=int(np.clip(velocity, 1, 127)), pitch=int(pitch),
                                                  start=start, end=min(start + length, CLIP_S + 0.5)))

    n_bars = int(np.ceil(CLIP_S / (4 * beat)))
    degree = 7 + int(rng.integers(0, 5))  # melody starts an octave above the tonic, around it
    for bar in range(n_bars):
        t0 = bar * 4 * beat
        chord_degree = progression[bar % len(progression)]
        triad = [_degree_pitch(root, scale, chord_degree + k) for k in (0, 2, 4)]
        triad = [p + 12 if p < 52 else p for p in triad]
        vel = int(rng.integers(55, 80))
        if chord_style == 0:
            for p in triad:
                note("chords", p, t0, 4 * beat * 0.98, vel)
        elif chord_style == 1:
            for half in (0, 2):
                for p in triad:
                    note("chords", p, t0 + half * beat, 2 * beat * 0.95, vel - 5 * half)
        else:
            for k in range(8):
                note("chords", triad[(0, 1, 2, 1)[k % 4]], t0 + k * beat / 2, beat * 0.9, vel)
        bass = _degree_pitch(root, scale, chord_degree) - 12
        note("bass", bass, t0, 2 * beat * 0.9, vel + 10)
        note("bass", bass + (7 if rng.random() < 0.5 else 0), t0 + 2 * beat, 2 * beat * 0.9, vel + 5)
        # melody: a random walk over the scale, in quarter/eighth/half notes with some rests
        t = 0.0
        while t < 4.0 - 1e-9:
            length = float(rng.choice((0.5, 0.5, 1.0, 1.0, 1.5, 2.0)))
            length = min(length, 4.0 - t)
            if rng.random() > 0.12:
                pitch = _degree_pitch(root, scale, degree)
                note("melody", pitch, t0 + t * beat, length * beat * 0.92, int(rng.integers(75, 110)))
            degree = int(np.clip(degree + rng.choice((-2, -1, -1, 0, 1, 1, 2, 3)), 5, 16))
            t += length
    # the renderer stops at the last event: mark a point past the end of the clip
    parts["bass"].control_changes.append(cc(number=7, value=100, time=CLIP_S + 0.5))
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def render_clip(sf2: bytes, i: int, seed: int = 0) -> np.ndarray:
    """Clip ``i`` as float32 stereo ``(CLIP_S * SR, 2)`` at 44.1 kHz, peak at ``PEAK_DBFS``."""
    import midirenderer
    import soundfile as sf
    import soxr

    wav = midirenderer.render_wave_from(sf2, clip_midi(i, seed))
    audio, native_sr = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    if native_sr != SR:
        audio = soxr.resample(audio, native_sr, SR, quality="HQ")
    n = int(round(CLIP_S * SR))
    audio = audio[:n]
    if len(audio) < n:
        audio = np.pad(audio, ((0, n - len(audio)), (0, 0)))
    peak = float(np.max(np.abs(audio)))
    if peak <= 0:
        raise RuntimeError(f"clip {i} rendered as silence")
    return (audio * (10 ** (PEAK_DBFS / 20) / peak)).astype(np.float32)


def _write_wav(path: Path, audio: np.ndarray) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        sf.write(tmp, audio, SR, subtype="PCM_16", format="WAV")
        os.replace(tmp, path)  # a run killed midway never leaves a half file that the cache would keep
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_corpus(out: str | os.PathLike, n: int = 60, *, seed: int = 0, verbose: bool = False) -> list[Path]:
    """Render the first ``n`` clips into ``out`` (existing files are kept); return their paths.

    Parameters
    ----------
    out : path
        Folder of the tree ``out/<label>/<label>_<i>.wav``.
    n : int
        Number of clips (labels in turn: piano, strings, guitar).
    seed : int
        Seeds every random choice.
    verbose : bool
        Print one line per rendered clip.

    Returns
    -------
    list of Path
        The ``n`` clip paths, in clip order.
    """
    from musicnn.data.render import default_soundfont

    out = Path(out)
    paths = [clip_path(out, i) for i in range(n)]
    todo = [i for i, p in enumerate(paths) if not p.exists()]
    if todo:
        sf2 = default_soundfont().read_bytes()
        for i in todo:
            t0 = time.perf_counter()
            _write_wav(paths[i], render_clip(sf2, i, seed))
            if verbose:
                print(f"  rendered {paths[i]} in {time.perf_counter() - t0:.2f} s", file=sys.stderr)
    return paths


def corpus_dir(base: str | os.PathLike, n: int, seed: int = 0) -> Path:
    """A folder name that holds exactly one corpus size and seed (``musicnn features`` reads a whole tree)."""
    return Path(base) / f"corpus-n{n}-s{seed}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder to write the label tree into")
    parser.add_argument("--n", type=int, default=60, help="number of 30-s clips (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--quick", action="store_true", help="a small corpus of 6 clips")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be >= 1")
    n = 6 if args.quick else args.n
    from _bench import machine_info, print_machine

    print_machine(machine_info())
    t0 = time.perf_counter()
    existing = sum(clip_path(Path(args.out), i).exists() for i in range(n))
    paths = make_corpus(args.out, n, seed=args.seed, verbose=True)
    print(f"{len(paths)} clips of {CLIP_S:g} s ({n * CLIP_S / 60:.1f} min of audio) in {args.out}: "
          f"{n - existing} rendered, {existing} already there; {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
