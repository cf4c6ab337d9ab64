"""The pictures of a timbre map: ``map.png``, ``umatrix.png`` and ``hits.png`` (matplotlib, Agg).

Units are drawn where they sit on the grid (squares, or hexagons on a hexagonal grid),
row 0 at the top, as on the page.  ``map.png`` colours each unit by the majority label of
the sounds it won, darkens it by its U-matrix value and draws the edge between two
neighbouring units darker and thicker the farther apart their prototypes are, so that the
borders between timbre regions show as dark lines; units that won no labelled sound are
light grey.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from musicnn.atomic import atomic_open
from musicnn.timbre.mapfile import TimbreMap

__all__ = ["label_colours", "plot_hits", "plot_map", "plot_umatrix", "unit_borders", "unit_polygons"]

#: How much the U-matrix darkens a unit of map.png at its largest value.
SHADE = 0.45
EMPTY_GREY = (0.86, 0.86, 0.86)


def label_colours(n: int) -> list[tuple[float, float, float]]:
    """``n`` distinct colours: matplotlib's tab10 up to 10, tab20 up to 20, then spread hues."""
    from matplotlib import colormaps
    from matplotlib.colors import hsv_to_rgb

    if n <= 10:
        return [tuple(colormaps["tab10"](i)[:3]) for i in range(n)]
    if n <= 20:
        # tab20 pairs a dark and a light shade of each hue: take the dark ones first
        order = list(range(0, 20, 2)) + list(range(1, 20, 2))
        return [tuple(colormaps["tab20"](i)[:3]) for i in order[:n]]
    golden = 0.618033988749895
    return [tuple(hsv_to_rgb(((i * golden) % 1.0, 0.65 if i % 2 else 0.85, 0.85 if i % 3 else 0.65)))
            for i in range(n)]


def unit_polygons(tmap: TimbreMap) -> tuple[np.ndarray, np.ndarray]:
    """Corners of every unit's cell in plot coordinates (x = column axis, y = row axis downwards).

    Returns
    -------
    polygons : np.ndarray, shape (n_units, corners, 2)
    centres : np.ndarray, shape (n_units, 2)
    """
    pos = tmap.positions()
    centres = np.stack([pos[:, 1], pos[:, 0]], axis=1)
    if tmap.topology == "hexagonal":
        radius = 1.0 / math.sqrt(3.0)  # pointy-top hexagons 1 unit wide
        angles = np.deg2rad(90.0 + 60.0 * np.arange(6))
        corner = np.stack([np.cos(angles), np.sin(angles)], axis=1) * radius
    else:
        corner = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    return centres[:, None, :] + corner[None], centres


def unit_borders(tmap: TimbreMap) -> tuple[np.ndarray, np.ndarray]:
    """The edge shared by each pair of neighbouring units and the distance between their prototypes.

    Returns
    -------
    segments : np.ndarray, shape (n_pairs, 2, 2)
        End points of each shared edge, in plot coordinates.
    distances : np.ndarray, shape (n_pairs,)
        Distance between the two prototypes (standardised space): the U-matrix of that edge.
    """
    polys, _ = unit_polygons(tmap)
    W = tmap.weights.astype(np.float64)
    segments, distances = [], []
    for a, near in enumerate(tmap.neighbors()):
        for b in near[near > a]:
            gap = np.linalg.norm(polys[a][:, None] - polys[b][None], axis=-1)
            shared = polys[a][(gap < 1e-6).any(1)]
            if len(shared) == 2:
                segments.append(shared)
                distances.append(float(np.linalg.norm(W[a] - W[b])))
    return np.array(segments).reshape(-1, 2, 2), np.array(distances)


def border_strength(dist: np.ndarray) -> np.ndarray:
    """Edge distances mapped to [0, 1] between their 5th and 95th percentiles."""
    if not len(dist):
        return dist
    lo, hi = np.percentile(dist, [5, 95])
    return np.clip((dist - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(dist)


def _draw_borders(ax: Any, tmap: TimbreMap) -> None:
    """Dark, thick edges where neighbouring prototypes are far apart (5th-95th percentile range)."""
    from matplotlib.collections import LineCollection

    segments, dist = unit_borders(tmap)
    if not len(dist):
        return
    strength = border_strength(dist)
    colours = np.zeros((len(dist), 4))
    colours[:, 3] = 0.1 + 0.85 * strength
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=0.3 + 3.2 * strength,
                                     capstyle="round"))


def _normalised(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values, dtype=np.float64)


def _figure(tmap: TimbreMap, extra_width: float = 0.0) -> tuple[Any, Any]:
    from musicnn.evaluation import new_figure

    pos = tmap.positions()
    width = pos[:, 1].max() + 1.5
    height = pos[:, 0].max() + 1.5
    scale = min(8.0 / width, 7.0 / height, 0.6)
    return new_figure(figsize=(max(width * scale, 3.5) + extra_width, max(height * scale, 2.5) + 1.2))


def _draw_cells(ax: Any, tmap: TimbreMap, faces: Any, edge: str = "white") -> Any:
    from matplotlib.collections import PolyCollection

    polys, _ = unit_polygons(tmap)
    coll = PolyCollection(polys, facecolors=faces, edgecolors=edge, linewidths=0.4)
    ax.add_collection(coll)
    ax.set_xlim(polys[..., 0].min() - 0.2, polys[..., 0].max() + 0.2)
    ax.set_ylim(polys[..., 1].max() + 0.2, polys[..., 1].min() - 0.2)  # row 0 at the top
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    return coll


def caption(tmap: TimbreMap) -> str:
    """The line under every picture: size, errors, descriptors."""
    return (f"{len(tmap.paths):,} sounds on {tmap.cols}x{tmap.rows} {tmap.topology} units; quantization error "
            f"{tmap.quantization_error:.3f}, topographic error {tmap.topographic_error:.3f}\n"
            f"{tmap.descriptors.describe()}")


def _save(fig: Any, path: str | os.PathLike, dpi: int = 120) -> Path:
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi, bbox_inches="tight")
    return path


def plot_map(tmap: TimbreMap, path: str | os.PathLike, *, title: str = "Timbre map") -> Path:
    """``map.png``: majority-label colours shaded by the U-matrix, with a legend of the labels.

    Without labels the U-matrix alone is drawn (as in :func:`plot_umatrix`).  The legend
    lists every label with its number of sounds, in one column up to 12 labels and in two
    beyond, outside the map, so that 20 labels stay readable.
    """
    from matplotlib.patches import Patch

    names = tmap.label_names
    if not names:
        return plot_umatrix(tmap, path, title=title)
    colours = np.array(label_colours(len(names)))
    unit_label = tmap.unit_labels()
    u = _normalised(tmap.umatrix())
    base = np.where(unit_label[:, None] >= 0, colours[np.maximum(unit_label, 0)], np.array(EMPTY_GREY))
    faces = base * (1.0 - SHADE * u)[:, None]
    ncol = 1 if len(names) <= 12 else 2
    fig, ax = _figure(tmap, extra_width=2.0 * ncol)
    _draw_cells(ax, tmap, faces)
    _draw_borders(ax, tmap)
    counts = {lab: 0 for lab in names}
    for lab in tmap.labels:
        if lab:
            counts[lab] += 1
    handles = [Patch(facecolor=colours[i], edgecolor="none", label=f"{lab} ({counts[lab]})")
               for i, lab in enumerate(names)]
    if (unit_label < 0).any():
        handles.append(Patch(facecolor=EMPTY_GREY, edgecolor="0.6", label="no labelled sound"))
    legend = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncol=ncol, fontsize=9,
              frameon=False, title="majority label (sounds)", title_fontsize=9, handlelength=1.2,
              columnspacing=1.0)
    for text in legend.get_texts():
        text.set_parse_math(False)  # labels are plain text: a '$' is a dollar sign
    ax.set_title(title, fontsize=11, parse_math=False)
    ax.set_xlabel(caption(tmap) + "\ndarker units and thicker edges: larger distances between neighbouring "
                  "prototypes (U-matrix), the borders between timbre regions", fontsize=8, parse_math=False)
    return _save(fig, path)


def plot_umatrix(tmap: TimbreMap, path: str | os.PathLike, *, title: str = "Timbre map") -> Path:
    """``umatrix.png``: each unit's mean distance to its neighbours' prototypes (dark: a border)."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    u = tmap.umatrix()
    norm = Normalize(float(u.min()), float(u.max()) if u.max() > u.min() else float(u.min()) + 1e-9)
    cmap = colormaps["bone_r"]
    fig, ax = _figure(tmap, extra_width=1.0)
    _draw_cells(ax, tmap, cmap(norm(u)))
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.046, pad=0.02)
    bar.set_label("mean distance to neighbouring prototypes", fontsize=8)
    ax.set_title(f"{title}: U-matrix", fontsize=11, parse_math=False)
    ax.set_xlabel(caption(tmap), fontsize=8, parse_math=False)
    return _save(fig, path)


def plot_hits(tmap: TimbreMap, path: str | os.PathLike, *, title: str = "Timbre map") -> Path:
    """``hits.png``: how many sounds each unit won (numbers written on maps of up to 600 units)."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    hits = tmap.hits()
    norm = Normalize(0, max(int(hits.max()), 1))
    cmap = colormaps["viridis"]
    faces = np.where(hits[:, None] > 0, cmap(norm(hits))[:, :3], np.array([1.0, 1.0, 1.0]))
    fig, ax = _figure(tmap, extra_width=1.0)
    _draw_cells(ax, tmap, faces, edge="0.8")
    if tmap.n_units <= 600:
        _, centres = unit_polygons(tmap)
        size = max(4.0, min(8.0, 160.0 / max(tmap.cols, tmap.rows)))
        for (x, y), h in zip(centres, hits.tolist()):
            if h:
                ax.text(x, y, str(h), ha="center", va="center", fontsize=size,
                        color="white" if norm(h) < 0.6 else "black")
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.046, pad=0.02)
    bar.set_label("sounds won", fontsize=8)
    empty = int((hits == 0).sum())
    ax.set_title(f"{title}: hits", fontsize=11, parse_math=False)
    ax.set_xlabel(caption(tmap) + f"\n{empty} of {tmap.n_units} units won no sound (white)", fontsize=8, parse_math=False)
    return _save(fig, path)
