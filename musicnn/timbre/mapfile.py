"""A trained timbre map and its file, ``map.json``: plain JSON, checked when read back, no pickle.

``map.json`` holds everything needed to draw the map again and to place new sounds on it::

    {"format": "musicnn-timbre-map", "version": 1, "musicnn_version": "...", "created": "...",
     "grid": {"rows": R, "cols": C, "topology": "rectangular"},
     "descriptors": {"kind": "features", "specs": [...]},      # or {"kind": "embedding", ...}
     "scaler": {"mean": [...], "scale": [...]},                # per descriptor value
     "weights": ARRAY (R*C, d),                                # prototypes, standardised
     "som": {...},                                             # the SOM's hyper-parameters
     "errors": {"quantization": q, "topographic": t},
     "labels": [...],                                          # distinct labels, sorted
     "sounds": {"path": [...], "name": [...], "label": [...], "unit": [...], "distance": [...]},
     "vectors": ARRAY (n, d),                                  # the sounds' standardised descriptors
     "failures": [[path, reason], ...]}

An ``ARRAY`` is ``{"dtype": "float32", "shape": [...], "base64": "..."}``: the little-endian
bytes of a float32 array.  Units are numbered row by row (``unit = row * C + col``); all
distances are Euclidean in the standardised descriptor space.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicnn import __version__
from musicnn.atomic import atomic_open
from musicnn.errors import ModelFileError, MusicnnError
from musicnn.scaling import standardise
from musicnn.timbre.descriptors import Descriptors

__all__ = ["FORMAT", "VERSION", "TimbreMap", "json_text", "load_map", "unit_positions"]

FORMAT = "musicnn-timbre-map"
VERSION = 1
_TOPOLOGIES = ("rectangular", "hexagonal")
_GRID_EPS = 1e-6


def unit_positions(rows: int, cols: int, topology: str) -> np.ndarray:
    """Unit centres in the plane, shape (rows * cols, 2) as (row axis, column axis).

    The layout of :func:`musicnn.models.classic.som_kernels.grid_positions` (hexagonal:
    odd rows shifted half a unit, rows ``sqrt(3)/2`` apart), without importing torch.
    """
    r, c = np.meshgrid(np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64), indexing="ij")
    if topology == "hexagonal":
        r, c = r * (math.sqrt(3.0) / 2.0), c + 0.5 * (r % 2)
    return np.stack([r.ravel(), c.ravel()], axis=1)


def _pack(a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a, dtype="<f4")
    return {"dtype": "float32", "shape": list(a.shape), "base64": base64.b64encode(a.tobytes()).decode("ascii")}


def _unpack(d: Any, where: str, shape: tuple[int | None, ...]) -> np.ndarray:
    if not isinstance(d, dict) or d.get("dtype") != "float32" or not isinstance(d.get("base64"), str):
        raise ValueError(f"{where} must be an array object {{dtype: 'float32', shape, base64}}")
    got = d.get("shape")
    if not isinstance(got, list) or len(got) != len(shape) or not all(isinstance(v, int) and v >= 0 for v in got):
        raise ValueError(f"{where}: shape {got!r} must be a list of {len(shape)} sizes")
    for want, have in zip(shape, got):
        if want is not None and want != have:
            raise ValueError(f"{where}: shape {got} does not match the map (expected {list(shape)})")
    try:
        raw = base64.b64decode(d["base64"].encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError(f"{where}: the base64 data is corrupt ({exc})") from None
    if len(raw) != 4 * math.prod(got):
        raise ValueError(f"{where}: {len(raw)} bytes for a float32 array of shape {got}")
    a = np.frombuffer(raw, dtype="<f4").reshape(got).astype(np.float32)
    if not np.isfinite(a).all():
        raise ValueError(f"{where} holds non-finite values")
    return a


_SURROGATE = re.compile("[\ud800-\udfff]")


def json_text(value: Any, **options: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, **options)`` that is always valid UTF-8: the
    bytes of a file name that is not UTF-8 (held by Python as lone surrogates) are written
    as ``\\udcXX`` escapes, which ``json.loads`` reads back to the same name."""
    text = json.dumps(value, ensure_ascii=False, **options)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@dataclass
class TimbreMap:
    """A trained map of sounds (see the module docstring for the meaning of each field).

    Attributes
    ----------
    rows, cols : int
    topology : str
    descriptors : Descriptors
    mean, scale : np.ndarray of float64, shape (d,)
        The standardisation: ``(x - mean) / scale``.
    weights : np.ndarray of float32, shape (rows * cols, d)
        Unit prototypes in the standardised space.
    paths, names, labels : list of str
        One per mapped sound (labels ``""`` where unknown).
    units : np.ndarray of int64, shape (n,)
        Each sound's best-matching unit.
    distances : np.ndarray of float64, shape (n,)
        Each sound's distance to its unit's prototype (its quantization error).
    vectors : np.ndarray of float32, shape (n, d)
        The sounds' standardised descriptors.
    quantization_error, topographic_error : float
    som : dict
        The SOM's hyper-parameters.
    failures : list of (str, str)
        Sounds left out when the map was built.
    """

    rows: int
    cols: int
    topology: str
    descriptors: Descriptors
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    paths: list[str]
    names: list[str]
    labels: list[str]
    units: np.ndarray
    distances: np.ndarray
    vectors: np.ndarray
    quantization_error: float
    topographic_error: float
    som: dict[str, Any] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    created: str = ""
    musicnn_version: str = __version__

    # -- geometry and statistics ------------------------------------------------------
    @property
    def n_units(self) -> int:
        return self.rows * self.cols

    def positions(self) -> np.ndarray:
        """Unit centres, shape (n_units, 2) as (row axis, column axis)."""
        return unit_positions(self.rows, self.cols, self.topology)

    def neighbors(self) -> list[np.ndarray]:
        """Each unit's grid neighbours (the units at grid distance 1)."""
        pos = self.positions()
        D = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
        near = (D > _GRID_EPS) & (D <= 1.0 + _GRID_EPS)
        return [np.flatnonzero(row) for row in near]

    def umatrix(self) -> np.ndarray:
        """Mean distance of each unit's prototype to its grid neighbours', shape (n_units,)."""
        W = self.weights.astype(np.float64)
        return np.array([np.linalg.norm(W[near] - W[j], axis=1).mean() if len(near) else 0.0
                         for j, near in enumerate(self.neighbors())])

    def hits(self) -> np.ndarray:
        """Sounds won by each unit, shape (n_units,)."""
        return np.bincount(self.units, minlength=self.n_units)

    @property
    def label_names(self) -> list[str]:
        """The distinct labels of the sounds, sorted (the unlabelled ``""`` left out)."""
        return sorted({lab for lab in self.labels if lab})

    def unit_labels(self) -> np.ndarray:
        """Index into :attr:`label_names` of each unit's majority label; -1 for a unit that
        won no labelled sound.  Ties go to the first label in sorted order."""
        names = self.label_names
        index = {lab: i for i, lab in enumerate(names)}
        counts = np.zeros((self.n_units, max(len(names), 1)), dtype=np.int64)
        for u, lab in zip(self.units.tolist(), self.labels):
            if lab:
                counts[u, index[lab]] += 1
        return np.where(counts.sum(1) > 0, counts.argmax(1), -1)

    # -- placing sounds ---------------------------------------------------------------
    def standardise(self, X: np.ndarray) -> np.ndarray:
        """Descriptors in the map's standardised space, float32."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.mean):
            raise ModelFileError(f"descriptors of shape {X.shape} do not fit this map ({len(self.mean)} values per "
                                 "sound): describe the sounds with the map's own descriptors")
        return standardise(X, self.mean, self.scale, np.float32)

    def distances_to_units(self, Xs: np.ndarray) -> np.ndarray:
        """Distances of standardised vectors to every prototype, shape (m, n_units)."""
        return _pairwise(Xs, self.weights)

    def locate(self, Xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best-matching unit of each standardised vector and the distance to its prototype."""
        D = self.distances_to_units(Xs)
        units = D.argmin(1)
        return units, D[np.arange(len(units)), units]

    def nearest_sounds(self, Xs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices (m, k) of the ``k`` mapped sounds nearest each vector, and their distances."""
        D = _pairwise(Xs, self.vectors)
        k = min(int(k), D.shape[1])
        idx = np.argsort(D, axis=1, kind="stable")[:, :k]
        return idx, np.take_along_axis(D, idx, axis=1)

    # -- file ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "musicnn_version": self.musicnn_version,
            "created": self.created or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "grid": {"rows": self.rows, "cols": self.cols, "topology": self.topology},
            "descriptors": self.descriptors.to_dict(),
            "scaler": {"mean": [float(v) for v in self.mean], "scale": [float(v) for v in self.scale]},
            "weights": _pack(self.weights),
            "som": self.som,
            "errors": {"quantization": float(self.quantization_error), "topographic": float(self.topographic_error)},
            "labels": self.label_names,
            "sounds": {"path": list(self.paths), "name": list(self.names), "label": list(self.labels),
                       "unit": [int(u) for u in self.units], "distance": [round(float(d), 6) for d in self.distances]},
            "vectors": _pack(self.vectors),
            "failures": [[str(p), str(r)] for p, r in self.failures],
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``map.json`` atomically."""
        path = Path(path)
        with atomic_open(path, encoding="utf-8") as fh:
            fh.write(json_text(self.to_dict(), allow_nan=False))
        return path

    @classmethod
    def from_dict(cls, d: Any) -> TimbreMap:
        """Rebuild a map from :meth:`to_dict` output, checking every field (``ValueError`` naming it)."""
        if not isinstance(d, dict):
            raise ValueError("the file does not hold a JSON object")
        if d.get("format") != FORMAT:
            raise ValueError(f"format={d.get('format')!r}: not a musicnn timbre map")
        version = d.get("version")
        if not isinstance(version, int) or not 1 <= version <= VERSION:
            raise ValueError(f"version={version!r}: this musicnn reads timbre maps of version 1 to {VERSION}; "
                             "upgrade musicnn or rebuild the map")
        grid = _obj(d, "grid")
        rows, cols, topology = grid.get("rows"), grid.get("cols"), grid.get("topology")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (rows, cols)) or rows * cols < 2:
            raise ValueError(f"grid: rows={rows!r} and cols={cols!r} must be integers >= 1, with 2 units at least")
        if topology not in _TOPOLOGIES:
            raise ValueError(f"grid: topology={topology!r} must be one of {', '.join(_TOPOLOGIES)}")
        try:
            descriptors = Descriptors.from_dict(d.get("descriptors"))
        except MusicnnError as exc:
            raise ValueError(f"descriptors: {exc}") from None
        scaler = _obj(d, "scaler")
        mean, scale = (_floats(scaler.get(k), f"scaler.{k}") for k in ("mean", "scale"))
        if len(mean) != len(scale) or not len(mean):
            raise ValueError(f"scaler: mean ({len(mean)}) and scale ({len(scale)}) must have one value per descriptor")
        if (scale <= 0).any():
            raise ValueError("scaler.scale must be > 0")
        dim = len(mean)
        weights = _unpack(d.get("weights"), "weights", (rows * cols, dim))
        sounds = _obj(d, "sounds")
        columns = {}
        for key in ("path", "name", "label", "unit", "distance"):
            if not isinstance(sounds.get(key), list):
                raise ValueError(f"sounds.{key} must be a list")
            columns[key] = sounds[key]
        n = len(columns["path"])
        if any(len(v) != n for v in columns.values()):
            raise ValueError("sounds: the columns path, name, label, unit and distance differ in length")
        for key in ("path", "name", "label"):
            if not all(isinstance(v, str) for v in columns[key]):
                raise ValueError(f"sounds.{key} must hold strings")
        units = columns["unit"]
        if not all(isinstance(u, int) and not isinstance(u, bool) and 0 <= u < rows * cols for u in units):
            raise ValueError(f"sounds.unit must hold unit numbers in [0, {rows * cols})")
        distances = _floats(columns["distance"], "sounds.distance", allow_empty=True)
        if (distances < 0).any():
            raise ValueError("sounds.distance must be >= 0")
        vectors = _unpack(d.get("vectors"), "vectors", (n, dim))
        errors = _obj(d, "errors")
        qe, te = errors.get("quantization"), errors.get("topographic")
        for name, v in (("quantization", qe), ("topographic", te)):
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
                raise ValueError(f"errors.{name}={v!r} must be a number >= 0")
        failures = d.get("failures", [])
        if not isinstance(failures, list) or not all(isinstance(f, list) and len(f) == 2 for f in failures):
            raise ValueError("failures must be a list of [path, reason] pairs")
        som = d.get("som", {})
        if not isinstance(som, dict):
            raise ValueError("som must be an object")
        return cls(rows=rows, cols=cols, topology=topology, descriptors=descriptors, mean=mean, scale=scale,
                   weights=weights, paths=columns["path"], names=columns["name"], labels=columns["label"],
                   units=np.asarray(units, dtype=np.int64), distances=distances, vectors=vectors,
                   quantization_error=float(qe), topographic_error=float(te), som=som,
                   failures=[(str(p), str(r)) for p, r in failures], created=str(d.get("created", "")),
                   musicnn_version=str(d.get("musicnn_version", "")))


def _obj(d: dict[str, Any], key: str) -> dict[str, Any]:
    value = d.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be an object")
    return value


def _floats(values: Any, where: str, allow_empty: bool = False) -> np.ndarray:
    if not isinstance(values, list) or (not values and not allow_empty):
        raise ValueError(f"{where} must be a non-empty list of numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"{where} must hold numbers")
    out = np.asarray(values, dtype=np.float64)
    if not np.isfinite(out).all():
        raise ValueError(f"{where} holds non-finite values")
    return out


def _pairwise(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of A (m, d) and B (n, d), float64."""
    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    d2 = (A * A).sum(1)[:, None] - 2.0 * A @ B.T + (B * B).sum(1)[None]
    return np.sqrt(np.maximum(d2, 0.0))


def load_map(path: str | os.PathLike) -> TimbreMap:
    """Read and check a ``map.json`` (or the folder holding one).

    Raises
    ------
    ModelFileError
        When the file is missing, is not JSON, or any field is missing or inconsistent;
        the message names the file and the field.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "map.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such map file (give the map.json a timbre map wrote, or its folder)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: cannot read the map file ({exc})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: not a timbre map (invalid JSON at line {exc.lineno}: {exc.msg}); "
                             "rebuild the map") from None
    try:
        return TimbreMap.from_dict(document)
    except ValueError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
