"""Training checkpoints: everything needed to resume a run, without pickle.

A checkpoint is one ``.safetensors`` file, written atomically after every epoch: the
tensors (network weights, optimiser moments, best weights so far) as arrays, and the
rest (epoch, history, optimiser settings, schedule and early-stopping state, the run's
fingerprint) as JSON in the file's metadata.  Reading it never unpickles.

Nested state dicts (an optimiser's ``{"state": {0: {"exp_avg": tensor, "step": ...}}}``)
are flattened: each tensor is stored under its dotted path, the rest stays in JSON with
the tensors replaced by ``{"__tensor__": "<path>"}``.

:func:`save_training_state` and :func:`load_training_state` write and read the state of a
run of :func:`musicnn.training.loop.train_classifier`: network, optimiser, schedule,
early stopping and history, under the run's fingerprint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from musicnn.atomic import atomic_path
from musicnn.errors import ConfigError

__all__ = ["load_checkpoint", "load_training_state", "save_checkpoint", "save_training_state"]

_META_KEY = "musicnn_checkpoint"
_FORMAT = 1


def _flatten(obj: Any, prefix: str, tensors: dict[str, Any]) -> Any:
    """JSON-able copy of ``obj`` with tensors moved into ``tensors`` (keyed by path)."""
    import torch

    if isinstance(obj, torch.Tensor):
        key = prefix
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        # keys can be ints (optimiser state): keep their type
        return {"__dict__": [[k, _flatten(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)],
                "tuple": isinstance(obj, tuple)}
    if isinstance(obj, float) and obj != obj:
        return {"__float__": "nan"}
    if isinstance(obj, float) and obj in (float("inf"), float("-inf")):
        return {"__float__": "inf" if obj > 0 else "-inf"}
    return obj


def _unflatten(obj: Any, tensors: dict[str, Any]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            items = [_unflatten(v, tensors) for v in obj["__list__"]]
            return tuple(items) if obj.get("tuple") else items
        if "__float__" in obj:
            return float(obj["__float__"])
    return obj


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` (a nested dict of tensors, numbers, strings, lists) atomically.

    Returns
    -------
    Path
        The file written.
    """
    from safetensors.torch import save_file

    path = Path(path)
    tensors: dict[str, Any] = {}
    document = {"format": _FORMAT, "state": _flatten(state, "s", tensors)}
    with atomic_path(path, fsync=True) as tmp:
        save_file(tensors, str(tmp), metadata={_META_KEY: json.dumps(document)})
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises
    ------
    ConfigError
        When the file is missing, unreadable or not a musicnn checkpoint (names it).
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no checkpoint to resume from")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        document = json.loads(meta[_META_KEY])
    except Exception as err:
        raise ConfigError(
            f"{path}: not a readable musicnn checkpoint ({type(err).__name__}: {err}); "
            "delete it to start afresh"
        ) from err
    if document.get("format") != _FORMAT:
        raise ConfigError(f"{path}: checkpoint format {document.get('format')!r} is not supported")
    return _unflatten(document["state"], tensors)


def save_training_state(path: str | os.PathLike, digest: str, epoch: int, module: Any, optimiser: Any,
                        scheduler: Any, stopper: Any, history: Any, *, finished: bool = False) -> Path:
    """Write the state of a training run after ``epoch`` (everything resume needs).

    Parameters
    ----------
    path : path
        The checkpoint file.
    digest : str
        The run's fingerprint (:func:`musicnn.training.loop.fingerprint`); a resume checks it.
    epoch : int
        The last finished epoch.
    module, optimiser, scheduler
        The network, its optimiser and its learning-rate schedule (None for a constant rate).
    stopper : musicnn.training.early_stopping.EarlyStopping
    history : musicnn.training.config.TrainHistory
    finished : bool
        The run is over: a resume returns its model at once.
    """
    return save_checkpoint(path, {
        "fingerprint": digest,
        "epoch": epoch,
        "finished": finished,
        "seconds": history.seconds,
        "module": module.state_dict(),
        "optimiser": optimiser.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "stopper": stopper.state(),
        "history": history.to_dict(),
    })


def load_training_state(path: str | os.PathLike, digest: str) -> dict[str, Any]:
    """Read what :func:`save_training_state` wrote, refusing a checkpoint of another run.

    Raises
    ------
    ConfigError
        When the file is no checkpoint, or its fingerprint is not ``digest`` (other
        settings, data or network).
    """
    state = load_checkpoint(path)
    if state.get("fingerprint") != digest:
        raise ConfigError(
            f"{path}: this checkpoint was written by another training run (other settings, data "
            "or network); delete it, or rerun with the settings it was written with"
        )
    return state
