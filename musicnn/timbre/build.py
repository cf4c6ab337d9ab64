"""Build a timbre map of a folder of sounds, and place new sounds on an existing one.

:func:`build_map` runs the steps end to end:

1. the sounds (:func:`musicnn.timbre.sounds.collect_sounds`): a labelled tree, a manifest,
   a data set or a plain folder;
2. one descriptor vector per sound (:mod:`musicnn.timbre.descriptors`); the sounds that fail
   are left out and listed;
3. the vectors are standardised once (:func:`musicnn.scaling.fit_standardiser`): every
   distance of the map, its errors and its U-matrix are measured in that space;
4. the project's own Kohonen map (:class:`musicnn.models.classic.som.SOM`), sized by the
   rule of thumb of :func:`suggest_grid` unless ``grid="WxH"`` is given;
5. the outputs in ``out_dir``: ``map.png``, ``umatrix.png``, ``hits.png``, ``map.html``,
   ``assignments.csv`` and ``map.json`` (:data:`OUTPUTS`).

:func:`project_sounds` describes new sounds the way the map's own were described and
gives each its unit and the nearest sounds of the map.
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicnn.atomic import atomic_open
from musicnn.checks import check_bool, check_choice, check_int
from musicnn.errors import ConfigError, DataError, failure_line
from musicnn.scaling import fit_standardiser, standardise
from musicnn.timbre.descriptors import Descriptors, describe_sounds
from musicnn.timbre.mapfile import TimbreMap, load_map
from musicnn.timbre.sounds import collect_sounds, display_names

__all__ = [
    "OUTPUTS",
    "SOM_DEFAULTS",
    "BuildResult",
    "Projection",
    "build_map",
    "parse_grid",
    "project_sounds",
    "suggest_grid",
    "write_projection",
]

#: The files a map writes into its folder.
OUTPUTS = ("map.png", "umatrix.png", "hits.png", "map.html", "assignments.csv", "map.json")
TOPOLOGIES = ("rectangular", "hexagonal")

#: How the map is trained unless ``som=`` says otherwise: the batch map (deterministic and
#: quick), 30 epochs, PCA initialisation, a Gaussian neighbourhood shrinking exponentially
#: from half the longer side to 1 unit.  Down to 0.5 unit, the last epochs fit each unit to
#: its own few sounds and the map loses its order: on 2,000 notes the topographic error
#: went from 0.054 to 0.22 for a quantization error 13% lower (benchmarks/timbre_map.py).
SOM_DEFAULTS: dict[str, Any] = {"mode": "batch", "max_epochs": 30, "init": "pca", "neighborhood": "gaussian",
                                "sigma_final": 1.0, "decay": "exponential"}
#: SOM parameters the map sets itself.
_FIXED = ("n_rows", "n_cols", "standardize", "topology", "progress")
#: Mapped sounds listed as a unit's nearest neighbours on the page.
NEIGHBOURS = 5


# -- sizing ------------------------------------------------------------------------------
def parse_grid(grid: str) -> tuple[int, int]:
    """``"WxH"`` (columns x rows, e.g. ``"16x12"``) as ``(rows, cols)``."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX*]\s*(\d+)\s*", str(grid))
    if not match:
        raise ConfigError(f"grid={grid!r} must be WIDTHxHEIGHT in units, e.g. grid='16x12'")
    cols, rows = int(match.group(1)), int(match.group(2))
    if cols < 1 or rows < 1 or cols * rows < 2:
        raise ConfigError(f"grid={grid!r} must hold at least 2 units (e.g. grid='2x1')")
    return rows, cols


def suggest_grid(Xs: np.ndarray, topology: str = "rectangular") -> tuple[int, int]:
    """Vesanto's rule of thumb for the size of a map of ``n`` standardised vectors.

    About ``5 sqrt(n)`` units (Vesanto et al., SOM Toolbox 2.0, 2000), laid out so that the
    map's sides follow the spread of the data: the longer side, horizontal, over the shorter
    is ``sqrt(l1 / l2)``, the ratio of the two largest eigenvalues of the data's covariance
    (hexagonal rows are ``sqrt(3)/2`` apart, which the row count makes up for).  Each side
    has at least 2 units.

    Returns
    -------
    rows, cols : int
    """
    Xs = np.asarray(Xs, dtype=np.float64)
    n = len(Xs)
    units = 5.0 * math.sqrt(max(n, 1))
    if n > 2 and Xs.shape[1] > 1:
        eig = np.linalg.eigvalsh(np.cov(Xs, rowvar=False))[::-1]
        ratio = math.sqrt(eig[0] / eig[1]) if eig[1] > 1e-12 * max(eig[0], 1e-300) else units
    else:
        ratio = 1.0
    ratio = min(max(ratio, 1.0), units / 4.0) if units >= 4 else 1.0
    row_gap = math.sqrt(3.0) / 2.0 if topology == "hexagonal" else 1.0
    rows = max(2, round(math.sqrt(units / (ratio * row_gap))))
    cols = max(2, round(units / rows))
    return rows, cols


# -- building ------------------------------------------------------------------------------
@dataclass
class BuildResult:
    """What :func:`build_map` produced."""

    out_dir: Path
    files: dict[str, Path]
    map: TimbreMap
    failures: list[tuple[str, str]]
    grid_rule: str
    seconds: dict[str, float] = field(default_factory=dict)


def _existing_outputs(out_dir: Path) -> list[str]:
    return [name for name in OUTPUTS if (out_dir / name).exists()]


def _som_params(som: dict[str, Any] | None, seed: int) -> dict[str, Any]:
    from musicnn.models.classic.som import SOM

    params = {**SOM_DEFAULTS, "seed": seed, **(som or {})}
    accepted = set(inspect.signature(SOM.__init__).parameters) - {"self"}
    fixed = sorted(set(params) & set(_FIXED))
    if fixed:
        raise ConfigError(f"som parameter {fixed[0]!r} is set by the timbre map itself (grid, topology); "
                          f"leave it out of som")
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ConfigError(f"the SOM has no parameter {unknown[0]!r}; its parameters: "
                          f"{', '.join(sorted(accepted - set(_FIXED)))}")
    return params


def build_map(
    sounds: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    descriptors: Descriptors | None = None,
    grid: str | None = None,
    topology: str = "rectangular",
    som: dict[str, Any] | None = None,
    embed_audio: bool = False,
    reader: str | None = None,
    title: str | None = None,
    force: bool = False,
    seed: int = 0,
    store: Any = None,
    jobs: int = 1,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> BuildResult:
    """Map a folder of sounds with a self-organising map; write its pictures, page and files.

    Parameters
    ----------
    sounds : path
        A folder-per-label tree, a folder of sounds, a CSV manifest or a data set root
        (with ``reader``); see :func:`musicnn.timbre.sounds.collect_sounds`.
    out_dir : path
        Folder of the outputs (:data:`OUTPUTS`); created if needed.
    descriptors : Descriptors or None
        How a sound becomes a vector; default: pooled MFCCs and spectral descriptors
        (:meth:`Descriptors.features`).
    grid : str or None
        ``"WxH"`` units (columns x rows); None: :func:`suggest_grid`.
    topology : {"rectangular", "hexagonal"}
    som : dict or None
        Other hyper-parameters of :class:`musicnn.models.classic.som.SOM`, over
        :data:`SOM_DEFAULTS` (e.g. ``{"mode": "online", "max_epochs": 20}``).
    embed_audio : bool
        Embed every sound in ``map.html`` (Ogg Vorbis, mono, at most 22,050 Hz, the first 30 s) so
        that the page plays anywhere; False links the files relatively from the page.
    reader : str or None
        A data-set reader for ``sounds`` (:mod:`musicnn.data.readers`).
    title : str or None
        Title of the pictures and the page (default: the folder's name).
    force : bool
        Replace the outputs of an earlier map in ``out_dir``; without it they are kept and
        :class:`ConfigError` is raised before any work.
    seed : int
        Seeds the SOM.
    store : FeatureStore or None
    jobs : int
        Feature-extraction processes.
    progress : bool
    log : callable
        Receives one line per step.

    Returns
    -------
    BuildResult

    Raises
    ------
    DataError
        When fewer than 2 sounds give descriptors (the message names the sounds and why).
    """
    from musicnn.models.classic.som import SOM
    from musicnn.timbre.page import write_page
    from musicnn.timbre.plots import plot_hits, plot_map, plot_umatrix

    out_dir = Path(out_dir)
    check_bool("force", force)
    check_bool("embed_audio", embed_audio)
    check_choice("topology", topology, TOPOLOGIES)
    check_int("seed", seed, minimum=0)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"out_dir={str(out_dir)!r} is a file; give a folder for the map")
    existing = _existing_outputs(out_dir) if out_dir.is_dir() else []
    if existing and not force:
        raise ConfigError(f"out_dir={str(out_dir)!r} already holds {', '.join(existing)}; choose another folder "
                          "or pass force=True to replace them")
    fixed_grid = parse_grid(grid) if grid is not None else None
    params = _som_params(som, seed)
    descriptors = descriptors if descriptors is not None else Descriptors.features()

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    coll = collect_sounds(sounds, reader=reader)
    labelled = sorted({it.label for it in coll if it.label})
    log(f"sounds: {coll.source}: {len(coll)} files" + (f", {len(labelled)} labels" if labelled else ", no labels"))
    log(f"descriptors: {descriptors.describe()}")
    kept, X, failures = describe_sounds(coll.paths, descriptors, store=store, jobs=jobs, progress=progress)
    items = coll.subset(kept)
    seconds["descriptors"] = time.perf_counter() - t0
    if len(items) < 2:
        why = f"; first failure: {failure_line(*failures[0])}" if failures else ""
        found = f"only {len(items)} sound ({items[0].path})" if len(items) == 1 else "no sound"
        raise DataError(f"{coll.source}: {found} could be described, out of {len(coll)}{why}; "
                        "a timbre map needs at least 2 sounds")

    t1 = time.perf_counter()
    mean, scale = fit_standardiser(X)
    Xs = standardise(X, mean, scale, np.float32)
    if fixed_grid is None:
        rows, cols = suggest_grid(Xs, topology)
        rule = f"{cols}x{rows} units by Vesanto's rule (about 5 sqrt(n) = {5 * math.sqrt(len(Xs)):.0f} units, sides " \
               "in the ratio of the two first principal components)"
    else:
        rows, cols = fixed_grid
        rule = f"{cols}x{rows} units (grid={grid!r})"
    log(f"grid: {rule}; {topology}")
    est = SOM(rows, cols, topology=topology, standardize=False, progress=progress, **params)
    est.fit(Xs)
    qe, te = est.quantization_error(Xs), est.topographic_error(Xs)
    weights = est.weights_.reshape(rows * cols, -1).astype(np.float32)
    seconds["som"] = time.perf_counter() - t1
    log(f"SOM: quantization error {qe:.4f}, topographic error {te:.4f} ({est.n_iter_} epochs, {params['mode']})")

    tmap = TimbreMap(rows=rows, cols=cols, topology=topology, descriptors=descriptors, mean=mean, scale=scale,
                     weights=weights, paths=items.paths, names=display_names(items.paths, coll.source),
                     labels=[str(it.label) for it in items], units=np.zeros(len(items), np.int64),
                     distances=np.zeros(len(items)), vectors=Xs, quantization_error=qe, topographic_error=te,
                     som={k: v for k, v in est.get_params().items() if k != "progress"}, failures=failures)
    tmap.units, tmap.distances = tmap.locate(Xs)

    t2 = time.perf_counter()
    title = title or f"Timbre map of {Path(coll.source).name or coll.source}"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {name: out_dir / name for name in OUTPUTS}
    tmap.save(files["map.json"])
    write_assignments(tmap, files["assignments.csv"])
    plot_map(tmap, files["map.png"], title=title)
    plot_umatrix(tmap, files["umatrix.png"], title=title)
    plot_hits(tmap, files["hits.png"], title=title)
    write_page(tmap, files["map.html"], title=title, embed_audio=embed_audio, jobs=jobs, progress=progress)
    seconds["outputs"] = time.perf_counter() - t2
    seconds["total"] = time.perf_counter() - t0
    return BuildResult(out_dir=out_dir, files=files, map=tmap, failures=failures, grid_rule=rule, seconds=seconds)


def write_assignments(tmap: TimbreMap, path: str | os.PathLike) -> Path:
    """``assignments.csv``: ``path,name,label,unit,row,col,x,y,quantization_error`` per sound.

    ``x, y`` are the unit's centre in the plane (column and row axes; hexagonal rows are
    offset), ``quantization_error`` the sound's distance to its unit's prototype.
    """
    pos = tmap.positions()
    with atomic_open(path, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "name", "label", "unit", "row", "col", "x", "y", "quantization_error"])
        for p, name, lab, u, d in zip(tmap.paths, tmap.names, tmap.labels, tmap.units.tolist(), tmap.distances):
            r, c = divmod(u, tmap.cols)
            writer.writerow([p, name, lab, u, r, c, f"{pos[u, 1]:.4f}", f"{pos[u, 0]:.4f}", f"{d:.6f}"])
    return Path(path)


def unit_neighbours(tmap: TimbreMap, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """For each unit, the ``k`` mapped sounds of other units nearest its prototype.

    Returns
    -------
    idx : np.ndarray of int64, shape (n_units, k')
        Sound indices (``k' = min(k, n)``; -1 where a unit has fewer other sounds).
    dist : np.ndarray of float64, shape (n_units, k')
    """
    D = tmap.distances_to_units(tmap.vectors).T  # (units, sounds)
    D[tmap.units, np.arange(len(tmap.units))] = np.inf  # a unit's own sounds are listed apart
    k = min(int(k), D.shape[1])
    idx = np.argsort(D, axis=1, kind="stable")[:, :k]
    dist = np.take_along_axis(D, idx, axis=1)
    idx = np.where(np.isfinite(dist), idx, -1)
    return idx, np.where(np.isfinite(dist), dist, 0.0)


# -- projecting ----------------------------------------------------------------------------
@dataclass
class Projection:
    """New sounds placed on a map by :func:`project_sounds`.

    Attributes
    ----------
    paths : list of str
        The sounds placed.
    units, rows, cols : np.ndarray of int64
    distances : np.ndarray of float64
        Distance of each sound to its unit's prototype.
    neighbours : list of list of (str, str, float)
        The nearest mapped sounds of each: (name, label, distance).
    failures : list of (str, str)
    """

    paths: list[str]
    units: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    distances: np.ndarray
    neighbours: list[list[tuple[str, str, float]]]
    failures: list[tuple[str, str]]

    def to_rows(self) -> list[dict[str, Any]]:
        """One JSON-able dict per placed sound."""
        return [{"path": p, "unit": int(u), "row": int(r), "col": int(c), "distance": round(float(d), 6),
                 "nearest": [{"name": n, "label": lab, "distance": round(float(dd), 6)} for n, lab, dd in near]}
                for p, u, r, c, d, near in zip(self.paths, self.units, self.rows, self.cols, self.distances,
                                               self.neighbours)]


def project_sounds(
    map_file: str | os.PathLike,
    files: Sequence[str | os.PathLike],
    *,
    k: int = 5,
    store: Any = None,
    jobs: int = 1,
    progress: bool = True,
) -> Projection:
    """Place sounds on an existing map: each one's unit and the nearest sounds of the map.

    Parameters
    ----------
    map_file : path
        A ``map.json`` (or its folder) written by :func:`build_map`.
    files : sequence of path
        Audio files; each is described with the map's own descriptors.
    k : int
        Nearest mapped sounds given per file (in the standardised descriptor space).

    Returns
    -------
    Projection
        Files that fail are left out and listed in ``failures``.
    """
    check_int("k", k, minimum=1)
    tmap = load_map(map_file)
    paths = [str(f) for f in files]
    if not paths:
        raise DataError("files is empty: give at least one audio file to place on the map")
    kept, X, failures = describe_sounds(paths, tmap.descriptors, store=store, jobs=jobs, progress=progress)
    placed = [p for p, ok in zip(paths, kept) if ok]
    if not placed:
        return Projection(paths=[], units=np.zeros(0, np.int64), rows=np.zeros(0, np.int64),
                          cols=np.zeros(0, np.int64), distances=np.zeros(0), neighbours=[], failures=failures)
    Xs = tmap.standardise(X)
    units, dist = tmap.locate(Xs)
    idx, ndist = tmap.nearest_sounds(Xs, k)
    neighbours = [[(tmap.names[j], tmap.labels[j], float(dd)) for j, dd in zip(row, drow)]
                  for row, drow in zip(idx.tolist(), ndist)]
    return Projection(paths=placed, units=units.astype(np.int64), rows=units // tmap.cols, cols=units % tmap.cols,
                      distances=dist, neighbours=neighbours, failures=failures)


def write_projection(projection: Projection, out: str | os.PathLike, *, force: bool = False) -> Path:
    """Write a projection as ``.csv`` (one row per sound and neighbour rank) or ``.json``."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ConfigError(f"out={str(out)!r} must end in .csv or .json")
    if out.exists() and not force:
        raise ConfigError(f"out={str(out)!r} already exists; choose another file or pass force=True to replace it")
    if suffix == ".json":
        from musicnn.timbre.mapfile import json_text

        with atomic_open(out, encoding="utf-8") as fh:
            fh.write(json_text(projection.to_rows(), indent=2))
        return out
    with atomic_open(out, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "unit", "row", "col", "distance", "rank", "nearest_name", "nearest_label",
                         "nearest_distance"])
        for row in projection.to_rows():
            for rank, near in enumerate(row["nearest"], start=1):
                writer.writerow([row["path"], row["unit"], row["row"], row["col"], f"{row['distance']:.6f}", rank,
                                 near["name"], near["label"], f"{near['distance']:.6f}"])
    return out
