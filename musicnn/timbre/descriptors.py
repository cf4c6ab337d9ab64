"""Timbre descriptors: one vector per sound, from pooled features or a trained model's embedding.

:class:`Descriptors` says how a sound becomes a vector, and is stored in ``map.json`` so
that new sounds are described the same way when they are placed on the map:

* ``kind="features"``: one or more pooled feature specs (:class:`musicnn.features.FeatureSpec`),
  computed through the feature cache and concatenated.  The default is the ``mfcc`` preset
  (20 MFCCs with deltas and delta-deltas, mean and standard deviation over frames: the
  spectral envelope and how it moves) beside the ``descriptors`` preset (spectral centroid,
  bandwidth, roll-off, flatness, contrast, zero-crossing rate and RMS: brightness, noisiness
  and level), 146 values in all;
* ``kind="embedding"``: a trained model's embedding (:func:`musicnn.inference.engine.embed_files`,
  the mean over a file's windows), the shipped instrument-family model included
  (``model="default"``).  The model file's SHA-256 is kept, so that a map is never
  extended with vectors of a model that has changed since.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicnn.errors import ConfigError, DataError, FeatureError, ModelFileError
from musicnn.features import FeatureSpec, preset

__all__ = ["DEFAULT_POOLING", "DEFAULT_PRESETS", "Descriptors", "describe_sounds"]

#: The presets concatenated by default.
DEFAULT_PRESETS = ("mfcc", "descriptors")
#: Pooling given to a spec that has none (a map needs one vector per sound).
DEFAULT_POOLING = ("mean", "std")
#: Name of the shipped model in ``model=``.
DEFAULT_MODEL_NAME = "default"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _resolve_model(model: str | os.PathLike) -> Path:
    if str(model) == DEFAULT_MODEL_NAME:
        from musicnn.pretrained import default_model

        return default_model()
    path = Path(model)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file (embedding={str(model)!r}; give a .safetensors model "
                             f"file or {DEFAULT_MODEL_NAME!r} for the shipped model)")
    return path.resolve()


@dataclass(frozen=True)
class Descriptors:
    """How each sound becomes a vector; build one with :meth:`features` or :meth:`embedding`.

    Attributes
    ----------
    kind : {"features", "embedding"}
    specs : tuple of FeatureSpec
        Pooled specs concatenated (``kind="features"``).
    model : str or None
        ``"default"`` (the shipped model) or a model file's resolved path (``kind="embedding"``).
    model_sha256 : str or None
        Digest of the model file the map was built with.
    """

    kind: str = "features"
    specs: tuple[FeatureSpec, ...] = ()
    model: str | None = None
    model_sha256: str | None = None

    # -- constructors ---------------------------------------------------------------
    @classmethod
    def features(cls, preset_name: str | None = None, **changes: Any) -> Descriptors:
        """Pooled features: the default pair, or one preset, with ``changes`` applied.

        Parameters
        ----------
        preset_name : str or None
            A preset of :data:`musicnn.features.PRESETS`; None: the ``mfcc`` and
            ``descriptors`` presets side by side (``changes`` apply to both; a ``kind``
            makes one spec of that kind from the ``mfcc`` preset).
        **changes
            :class:`FeatureSpec` fields (None values are left out); ``pooling`` may be a
            comma-separated string.  A spec without pooling gets ``mean`` and ``std``.
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        if isinstance(changes.get("pooling"), str):
            raw = changes["pooling"].strip().lower()
            if raw in ("", "none"):
                raise FeatureError(f"pooling={changes['pooling']!r}: a timbre map needs one vector per sound; "
                                   f"pool the frames, e.g. pooling='mean,std'")
            changes["pooling"] = tuple(s.strip() for s in raw.split(",") if s.strip())
        if changes.get("pooling") == ():
            raise FeatureError("pooling=(): a timbre map needs one vector per sound; pool the frames, "
                               "e.g. pooling='mean,std'")
        if preset_name is not None:
            names: tuple[str, ...] = (preset_name,)
        elif "kind" in changes:
            names = ("mfcc",)
        else:
            names = DEFAULT_PRESETS
        specs = []
        for name in names:
            spec = preset(name, **changes)
            if not spec.pooling:
                spec = spec.replace(pooling=DEFAULT_POOLING)
            specs.append(spec)
        return cls(kind="features", specs=tuple(specs))

    @classmethod
    def embedding(cls, model: str | os.PathLike = DEFAULT_MODEL_NAME) -> Descriptors:
        """A trained model's embedding; ``model="default"`` is the shipped instrument-family model."""
        path = _resolve_model(model)
        name = DEFAULT_MODEL_NAME if str(model) == DEFAULT_MODEL_NAME else str(path)
        return cls(kind="embedding", model=name, model_sha256=_sha256(path))

    # -- text and JSON --------------------------------------------------------------
    def describe(self) -> str:
        """One line for captions and logs."""
        if self.kind == "embedding":
            what = "the shipped instrument-family model" if self.model == DEFAULT_MODEL_NAME else Path(self.model).name
            return f"embedding of {what}"
        parts = [f"{s.kind} ({s.dims} per frame; {'/'.join(s.pooling)})" for s in self.specs]
        return " + ".join(parts) + f" @ {self.specs[0].sr} Hz, {self.dims} values"

    @property
    def dims(self) -> int | None:
        """Values per sound (None for an embedding: the model says)."""
        if self.kind == "embedding":
            return None
        return sum(s.dims * len(s.pooling) for s in self.specs)

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "embedding":
            return {"kind": "embedding", "model": self.model, "model_sha256": self.model_sha256}
        return {"kind": "features", "specs": [s.to_dict() for s in self.specs]}

    @classmethod
    def from_dict(cls, d: Any) -> Descriptors:
        """Inverse of :meth:`to_dict`, checked (``DataError`` / ``FeatureError`` on bad input)."""
        if not isinstance(d, dict):
            raise DataError(f"descriptors must be an object, got {type(d).__name__}")
        kind = d.get("kind")
        if kind == "embedding":
            model, digest = d.get("model"), d.get("model_sha256")
            if not isinstance(model, str) or not model or not isinstance(digest, str) or len(digest) != 64:
                raise DataError("descriptors of kind 'embedding' need 'model' (a path or 'default') and "
                                "'model_sha256' (64 hex digits)")
            return cls(kind="embedding", model=model, model_sha256=digest)
        if kind == "features":
            raw = d.get("specs")
            if not isinstance(raw, list) or not raw or not all(isinstance(s, dict) for s in raw):
                raise DataError("descriptors of kind 'features' need 'specs', a non-empty list of feature specs")
            specs = tuple(FeatureSpec.from_dict(s) for s in raw)
            if any(not s.pooling for s in specs):
                raise DataError("every feature spec of a timbre map must pool its frames (pooling)")
            return cls(kind="features", specs=specs)
        raise DataError(f"descriptors kind={kind!r} must be 'features' or 'embedding'")

    # -- the model ----------------------------------------------------------------------
    def load_model(self) -> tuple[Any, FeatureSpec]:
        """The embedding model and its features, after checking it is the file the map was built with."""
        if self.kind != "embedding":
            raise ConfigError("load_model() is for descriptors of kind 'embedding'")
        from musicnn.modelfile import load_with_spec

        path = _resolve_model(self.model)
        if self.model_sha256 and _sha256(path) != self.model_sha256:
            raise ModelFileError(f"{path}: the model file has changed since the map was built (its SHA-256 "
                                 "differs); rebuild the map with this model, or use the model it was built with")
        est, spec, _ = load_with_spec(path)
        return est, spec


def describe_sounds(
    paths: Sequence[str],
    descriptors: Descriptors,
    *,
    store: Any = None,
    jobs: int = 1,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """The descriptor vector of every sound; the sounds that fail are left out and listed.

    Parameters
    ----------
    paths : sequence of str
    descriptors : Descriptors
    store : musicnn.store.FeatureStore or None
        Feature cache (``kind="features"``; default location when None).
    jobs : int
        Feature-extraction processes (``kind="features"``).
    progress : bool

    Returns
    -------
    kept : np.ndarray of bool, shape (n_paths,)
        The paths that gave a vector.
    X : np.ndarray of float32, shape (n_kept, n_values)
    failures : list of (str, str)
        ``(path, reason)`` of the others.
    """
    paths = [str(p) for p in paths]
    if descriptors.kind == "embedding":
        from musicnn.inference.engine import embed_files

        est, spec = descriptors.load_model()
        done, emb, failures = embed_files(est, spec, paths, progress=progress)
        row = {p: i for i, p in enumerate(done)}
        kept = np.array([p in row for p in paths], dtype=bool)
        X = emb[[row[p] for p in paths if p in row]] if len(done) else np.zeros((0, 0), np.float32)
        return kept, np.asarray(X, dtype=np.float32), sorted(failures)
    from musicnn.store import FeatureStore

    store = store if store is not None else FeatureStore()
    blocks, reasons = [], {}
    for spec in descriptors.specs:
        res = store.extract(paths, spec, jobs=jobs, progress=progress, desc=f"features ({spec.kind})")
        blocks.append(res.features)
        for path, reason in res.failures:
            reasons.setdefault(path, reason)
    for i, path in enumerate(paths):
        if all(b[i] is not None for b in blocks) and not all(np.isfinite(b[i]).all() for b in blocks):
            reasons.setdefault(path, f"{path}: non-finite descriptor values (NaN or infinity)")
            blocks[0][i] = None
    kept = np.array([all(b[i] is not None for b in blocks) for i in range(len(paths))], dtype=bool)
    rows = [np.concatenate([np.ravel(b[i]) for b in blocks]) for i in np.flatnonzero(kept)]
    X = np.stack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
    failures = sorted((p, reasons.get(p, "no features")) for p, ok in zip(paths, kept) if not ok)
    return kept, X, failures
