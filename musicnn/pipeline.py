"""The pipeline end to end: data -> features -> model -> evaluation -> model file.

Each step is a function usable from Python; the CLI commands are thin shells over them.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import os
import statistics
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from musicnn import __version__
from musicnn.atomic import atomic_open
from musicnn.checks import check_choice, check_int
from musicnn.choices import EVALUATION_SPLITS
from musicnn.data import Collection
from musicnn.errors import ConfigError, DataError, MusicnnError, failure_line
from musicnn.features import FeatureSpec, preset
from musicnn.store import ExtractResult, FeatureStore

__all__ = [
    "Dataset",
    "TrainOutcome",
    "build_estimator",
    "default_spec",
    "feature_spec",
    "load_features",
    "train",
    "training_params",
    "evaluate_model",
    "sidecar_paths",
]

@dataclass
class Dataset:
    """Features of a collection, with the items that failed left out.

    Attributes
    ----------
    X : np.ndarray
        Stacked features, one row per kept item.
    y : np.ndarray of str
        Labels of the kept items.
    items : Collection
        The kept items.
    failures : list of (str, str)
        ``(path, reason)`` of the items left out.
    n_cached : int
        Items read from the feature cache.
    """

    X: np.ndarray
    y: np.ndarray
    items: Collection
    failures: list[tuple[str, str]] = field(default_factory=list)
    n_cached: int = 0

    @classmethod
    def from_extract(cls, items: Collection, result: ExtractResult) -> Dataset:
        """The items of ``result`` (:meth:`FeatureStore.extract` of ``items``) that gave features.

        Raises
        ------
        FeatureError
            When the features differ in shape.
        """
        X = result.stacked(items.source)
        kept = items.subset(result.ok)
        return cls(X=X, y=kept.y.astype(str), items=kept, failures=result.failures, n_cached=result.n_cached)

    def save(self, path: str | os.PathLike, spec: FeatureSpec, *, force: bool = False) -> Path:
        """Write the features to a ``.npz``: ``X``, ``y``, ``paths`` and ``spec`` (its JSON).

        An existing file is replaced only with ``force`` (:func:`~musicnn.inference.writers.check_new_output`).
        """
        from musicnn.inference.writers import check_new_output

        path = check_new_output(path, force=force)
        with atomic_open(path, "wb") as fh:
            np.savez_compressed(fh, X=self.X, y=self.y.astype(str), paths=np.array(self.items.paths, dtype=str),
                                spec=np.array(spec.to_json()))
        return path


def default_spec(model: str, **changes: Any) -> FeatureSpec:
    """The feature spec a model family trains on by default, with ``changes`` applied."""
    from musicnn.models import REGISTRY

    info = REGISTRY.get(model)
    return preset(info.features if info else "mfcc", **changes)


def feature_spec(preset_name: str | None = None, *, model: str | None = None, **changes: Any) -> FeatureSpec:
    """The features of a run: a preset with ``changes`` applied.

    Parameters
    ----------
    preset_name : str or None
        A preset of :data:`musicnn.features.PRESETS`; None: family ``model``'s own
        (:func:`default_spec`), or ``logmel`` without a model.
    model : str or None
    **changes
        :class:`FeatureSpec` fields; None values are left out.  ``pooling`` may be a
        comma-separated string (``"mean,std"``; ``"none"`` or ``""``: frame sequences).
    """
    changes = {k: v for k, v in changes.items() if v is not None}
    if isinstance(changes.get("pooling"), str):
        raw = changes["pooling"].strip().lower()
        changes["pooling"] = () if raw in ("", "none") else tuple(s.strip() for s in raw.split(",") if s.strip())
    if preset_name is None and model is not None:
        return default_spec(model, **changes)
    return preset(preset_name or "logmel", **changes)


def load_features(
    items: Collection,
    spec: FeatureSpec,
    *,
    store: FeatureStore | None = None,
    jobs: int = 1,
    progress: bool = True,
    desc: str = "features",
    variant: Any = None,
) -> Dataset:
    """Extract (or read cached) features of every item; failures are left out and listed.

    ``variant`` (:class:`musicnn.audio.augment.AudioAugment`) gives the features of an
    augmented copy of every item instead.
    """
    store = store if store is not None else FeatureStore()
    res = store.extract(items.paths, spec, jobs=jobs, progress=progress, desc=desc, variant=variant)
    return Dataset.from_extract(items, res)


def _accepted(cls: type) -> set[str]:
    return set(inspect.signature(cls.__init__).parameters) - {"self", "args", "kwargs"}


def _known_params(cls: type, params: dict[str, Any], family: str | None = None) -> dict[str, Any]:
    """``params`` less ``device="cpu"`` for a family without a device; :class:`ConfigError`
    naming the parameters ``cls`` does not have (and the ones it has)."""
    accepted = _accepted(cls)
    params = dict(params)
    if params.get("device") == "cpu" and "device" not in accepted:
        params.pop("device")
    unknown = sorted(set(params) - accepted)
    if unknown:
        why = " (it trains without epochs)" if unknown[0] == "max_epochs" else ""
        raise ConfigError(f"{family or cls.__name__} has no parameter {', '.join(map(repr, unknown))}{why}: "
                          f"leave {unknown[0]} unset; its parameters: {', '.join(sorted(accepted))}")
    return params


def training_params(
    model: str,
    params: dict[str, Any] | None = None,
    *,
    max_epochs: int | None = None,
    lr: float | None = None,
    device: str | None = None,
    lr_schedule: str | None = None,
    augment: str | None = None,
    class_weight: str | None = None,
) -> dict[str, Any]:
    """The hyper-parameters of family ``model`` for a training run, checked before any work.

    The name's registry defaults (``cell="lstm"`` for ``lstm``), then ``params``, then the
    training options given (not None), which win over ``params``.  Every iterative family
    names its epoch count ``max_epochs`` and its learning rate ``lr``.

    Raises
    ------
    ConfigError
        An unknown family, or a parameter or option the family does not have (``max_epochs``
        for a family without epochs, such as ``hopfield``), or a value the family refuses
        (checked here, before any data is read); ``device="cpu"`` is accepted by every family.
    """
    from musicnn.models import get_estimator_class, params_for

    cls = get_estimator_class(model)
    out = params_for(model, params)
    options = {"max_epochs": max_epochs, "lr": lr, "device": device, "lr_schedule": lr_schedule,
               "augment": augment, "class_weight": class_weight}
    out.update({k: v for k, v in options.items() if v is not None})
    out = _known_params(cls, out, family=model)
    check = getattr(cls(**out), "_check_params", None)  # bad values fail here, before any work
    if check is not None:
        check()
    return out


def build_estimator(cls: type, params: dict[str, Any], *, seed: int = 0, progress: bool = True) -> Any:
    """An estimator of ``cls`` with ``params``, seeded and with progress as the family names them.

    The seed goes to ``seed`` or ``random_state``, progress to ``progress`` or ``verbose``;
    ``device="cpu"`` is dropped for families without a device.  Any other parameter the
    family does not have raises :class:`ConfigError` listing the ones it has.
    """
    accepted = _accepted(cls)
    params = _known_params(cls, params)
    for name in ("seed", "random_state"):
        if name in accepted:
            params.setdefault(name, seed)
            break
    for name, value in (("progress", progress), ("verbose", progress)):
        if name in accepted:
            params.setdefault(name, value)
            break
    return cls(**params)


def _ensemble_of(model: str, params: dict[str, Any], n_members: int, seed: int, progress: bool) -> Any:
    """An unfitted :class:`~musicnn.models.ensemble.Ensemble` of ``n_members`` networks of ``model``."""
    from musicnn.models.ensemble import Ensemble

    est = Ensemble(model, params, n_members=n_members, seed=seed, progress=progress)
    est._check_params()  # a bad count or family fails here, before any work
    est._member(0)
    return est


def _with_members(report: Any, est: Any, X: np.ndarray, y: np.ndarray) -> Any:
    """``report`` with each member's accuracy when ``est`` is an ensemble."""
    import dataclasses

    scores = getattr(est, "member_scores", None)
    return report if scores is None else dataclasses.replace(report, member_accuracy=scores(X, y))


def checkpoint_files(model_path: str | os.PathLike, ensemble: int = 1) -> list[Path]:
    """The training-state files of a run writing ``model_path`` that exist now: the
    checkpoint of one model, or of each member of an ensemble of ``ensemble``."""
    from musicnn.models.ensemble import member_checkpoint

    checkpoint = sidecar_paths(model_path)["checkpoint"]
    paths = [checkpoint] if ensemble == 1 else [member_checkpoint(checkpoint, i) for i in range(ensemble)]
    return [p for p in paths if p.exists()]


def _audio_variants(audio_augment: str | None, copies: int, seed: int) -> list[Any]:
    """The augmented copies asked for (checked before any work is done)."""
    from musicnn.audio.augment import AudioAugment, parse_audio_augment

    if not parse_audio_augment(audio_augment):
        return []
    check_int("augment_copies", copies, minimum=1)
    return [AudioAugment(audio_augment, copy=k, seed=seed) for k in range(1, copies + 1)]


def _with_augmented_copies(train_set: Dataset, variants: list[Any], spec: FeatureSpec, store: FeatureStore | None,
                           jobs: int, progress: bool, log: Callable[[str], None]) -> Dataset:
    """The training set with the features of augmented copies of its items appended."""
    Xs, ys, items = [train_set.X], [train_set.y], train_set.items
    for variant in variants:
        ds = load_features(items, spec, store=store, jobs=jobs, progress=progress,
                           desc=f"features (augmented copy {variant.copy})", variant=variant)
        if len(ds.y):
            Xs.append(ds.X)
            ys.append(ds.y)
    X, y = np.concatenate(Xs), np.concatenate(ys)
    log(f"audio augmentation: {len(y) - len(train_set.y)} augmented training examples added "
        f"({variants[0].text}, {len(variants)} cop{'y' if len(variants) == 1 else 'ies'})")
    return Dataset(X=X, y=y, items=items, failures=train_set.failures, n_cached=train_set.n_cached)


def _extract_share(dist: Any, splits: dict[str, Collection], spec: FeatureSpec, store: FeatureStore,
                   variants: list[Any], jobs: int) -> int:
    """Extract this process's share of every split's files (and of the augmented copies of
    the training files) into ``store``; wait for the other processes; return the files this
    process computed."""
    from musicnn.training.distributed import barrier, share

    paths = share([p for part in splits.values() for p in part.paths], dist)
    computed = store.extract(paths, spec, jobs=jobs, progress=False).n_computed
    train = share(splits["train"].paths, dist) if "train" in splits else []
    for variant in variants:
        computed += store.extract(train, spec, jobs=jobs, progress=False, variant=variant).n_computed
    barrier()
    return computed


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _clip_duration(items: Collection) -> float:
    """Median duration of the items (header only), rounded to 0.1 s."""
    from musicnn.audio.io import duration

    values = []
    for it in items:
        try:
            values.append(duration(it.path))
        except MusicnnError:
            continue
    if not values:
        raise DataError(f"{items.source}: none of the files could be opened")
    return max(0.1, round(statistics.median(values), 1))


def sidecar_paths(model_path: str | os.PathLike) -> dict[str, Path]:
    """Files written next to a model: report JSON, confusion PNG, training curves PNG and CSV."""
    p = Path(model_path)
    stem = p.name[: -len(".safetensors")] if p.name.endswith(".safetensors") else p.stem
    return {
        "report": p.with_name(f"{stem}.report.json"),
        "confusion": p.with_name(f"{stem}.confusion.png"),
        "curves": p.with_name(f"{stem}.curves.png"),
        "curves_csv": p.with_name(f"{stem}.curves.csv"),
        "checkpoint": p.with_name(f"{stem}.checkpoint.safetensors"),
    }


def _write_curves_csv(history: dict[str, Any], path: Path) -> None:
    """Loss, accuracy and learning rate per epoch:
    ``epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr`` (blank when absent)."""
    import csv

    columns = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")
    with atomic_open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", *columns])
        for i in range(len(history.get("train_loss", []))):
            row = [history[c][i] if i < len(history.get(c) or []) else "" for c in columns]
            writer.writerow([i + 1, *row])


def _check_outputs(out: str | os.PathLike, force: bool) -> None:
    """Refuse, before any work, a model file or a file beside it that already exists (unless ``force``)."""
    from musicnn.inference.writers import check_new_output

    check_new_output(out, force=force)
    for kind, path in sidecar_paths(out).items():
        if kind != "checkpoint":  # the training state a resume reads, not an output
            check_new_output(path, force=force)


def _warn_untested(coll: Collection, splits: dict[str, Collection]) -> None:
    """Warn of labels the test split holds no item of (a label with a single group only trains)."""
    if not len(splits["test"]):
        return
    untested = sorted(set(coll.labels) - set(splits["test"].labels))
    if not untested:
        return
    from musicnn.data.collection import DataWarning

    groups = {lab: sorted({it.group for it in coll if it.label == lab}) for lab in untested}
    single = [lab for lab in untested if len(groups[lab]) == 1]
    why = (f"{'it has' if len(untested) == 1 else 'they have'} a single group (e.g. {groups[single[0]][0]}), "
           "used for training only" if len(single) == len(untested) else "no group of theirs was held out")
    warnings.warn(f"{coll.source}: the test split holds no item of label(s) {', '.join(map(repr, untested))}: "
                  f"{why}; their scores are not measured (add files of other groups to test them)",
                  DataWarning, stacklevel=3)


@dataclass
class TrainOutcome:
    """What :func:`train` produced."""

    model_path: Path
    report: Any  # musicnn.evaluation.Report on the test split, or None without one
    files: dict[str, Path]
    failures: list[tuple[str, str]]
    counts: dict[str, int]
    history: dict[str, Any]


def train(
    data: str | os.PathLike | Collection,
    model: str,
    out: str | os.PathLike,
    *,
    spec: FeatureSpec | None = None,
    params: dict[str, Any] | None = None,
    test_size: float = 0.2,
    val_size: float = 0.15,
    seed: int = 0,
    split: str = "group",
    test_source: str | None = None,
    jobs: int = 1,
    store: FeatureStore | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    resume: bool = False,
    audio_augment: str | None = None,
    augment_copies: int = 1,
    ensemble: int = 1,
    force: bool = False,
) -> TrainOutcome:
    """Train a model on a data set and evaluate it on held-out groups.

    The collection is split by groups (:meth:`Collection.split`), features are extracted
    (cached), the model is fitted on the train split with early stopping on the validation
    split (or, for families without early stopping and torch families with
    ``validation_fraction=0``, on train + validation), scored on the test split, and saved with its report, confusion matrix and
    training curves beside it.

    Parameters
    ----------
    data : path or Collection
        Folder-per-label tree, CSV manifest, or a folder holding ``manifest.csv``.
    model : str
        A registered family (``musicnn models``).
    out : path
        The model file to write (``.safetensors``).
    spec : FeatureSpec or None
        Features (default: :func:`default_spec`); a missing clip ``duration`` is set to the
        median duration of the files.
    params : dict or None
        Hyper-parameters of the estimator.
    test_size, val_size : float
        Fractions of each label's items held out (by groups).
    seed : int
        Seeds the split and the model.
    split : str
        ``"group"``: held-out groups of every source; ``"source"``: test on the items of
        ``test_source`` that share no recording with the other sources, train on the
        other sources (:meth:`Collection.split`).
    test_source : str or None
        The source held out when ``split="source"``.
    jobs : int
        Feature extraction processes.
    store : FeatureStore or None
        Feature cache (default location when None).
    progress : bool
    log : callable
        Receives progress messages.
    resume : bool
        Torch models save their training state after every epoch in
        ``<name>.checkpoint.safetensors`` beside ``out`` (removed once the model is
        saved); with ``resume`` a run interrupted by a crash or Ctrl-C continues from it
        to the result the uninterrupted run would have given.
    audio_augment : str or None
        Audio augmentations (``"gain,pitch,shift"``, see :mod:`musicnn.audio.augment`):
        ``augment_copies`` augmented copies of every training file are added to the
        training split (never to validation or test); their features are cached.
    augment_copies : int
        Augmented copies per training file.
    ensemble : int
        Train this many networks of ``model`` from seeds ``seed``, ``seed + 1000``, ...
        and save them as one :class:`~musicnn.models.ensemble.Ensemble` (probabilities
        averaged); 1 trains one model.
    force : bool
        Replace an existing ``out`` and the files beside it (report, confusion matrix,
        curves); without it they are refused before any work.

    Returns
    -------
    TrainOutcome

    Notes
    -----
    Started by ``torchrun`` (``WORLD_SIZE > 1``), every process extracts its share of the
    files' features into the shared cache (every ``WORLD_SIZE``-th file), waits for the
    others, reads them all from the cache, trains its share of each batch
    (:mod:`musicnn.training.distributed`), and only rank 0 logs, evaluates and writes files; the
    other processes return an outcome with ``report=None`` and no files.
    """
    from musicnn.evaluation import evaluate, plot_confusion, plot_curves
    from musicnn.training.distributed import all_gather, context
    from musicnn.modelfile import save_model
    from musicnn.models import get_estimator_class

    cls = get_estimator_class(model)  # fail fast on an unknown name
    params = training_params(model, params)  # and on a parameter the family does not have
    variants = _audio_variants(audio_augment, augment_copies, seed)
    check_int("ensemble", ensemble, minimum=1)
    single = build_estimator(cls, params, seed=seed, progress=progress)
    est = single if ensemble == 1 else _ensemble_of(model, params, ensemble, seed, progress)
    _check_outputs(out, force)  # and on outputs that would replace existing files
    coll = data if isinstance(data, Collection) else Collection.load(data)
    if len(coll.labels) < 2:
        raise DataError(f"{coll.source}: found {len(coll.labels)} label(s); a classifier needs at least 2")
    split_args: dict[str, Any] = {"test_size": test_size, "val_size": val_size, "seed": seed}
    if split != "group":
        split_args.update(by=split, test_source=test_source)
    splits = coll.split(**split_args)
    if len(splits["train"]) == 0:
        raise DataError(f"{coll.source}: the split left no training items")
    _warn_untested(coll, splits)
    spec = spec if spec is not None else default_spec(model)
    if spec.duration is None:
        spec = spec.replace(duration=_clip_duration(splits["train"]))
    device = str(params.get("device", "cpu")).lower()
    dist = context("cuda" if device.startswith("cuda") or (device == "auto" and _cuda_available()) else "cpu")
    if not dist.is_main:
        log, progress = (lambda msg: None), False
    log(f"data: {coll.source}: {len(coll)} files, {len(coll.labels)} labels; "
        + ", ".join(f"{s} {len(c)}" for s, c in splits.items()))
    log(f"features: {spec.describe()}")
    sets = {}
    failures: list[tuple[str, str]] = []
    store = store if store is not None else FeatureStore()
    shares = None
    if dist.enabled and store.enabled:
        # every process extracts its share of the files into the shared cache, then all read it
        shares = all_gather(_extract_share(dist, splits, spec, store, variants, jobs))
        log(f"features: {sum(shares)} files extracted by {dist.world_size} processes "
            f"({', '.join(map(str, shares))})")
    for name, part in splits.items():
        if len(part):
            ds = load_features(part, spec, store=store, jobs=jobs, progress=progress, desc=f"features ({name})")
            failures += ds.failures
            sets[name] = ds
    if variants and "train" in sets:
        sets["train"] = _with_augmented_copies(sets["train"], variants, spec, store, jobs, progress, log)
    train_set = sets["train"]
    if len(train_set.y) == 0 or len(set(train_set.y)) < 2:
        raise DataError(f"{coll.source}: fewer than 2 labels left in the training split after skipping failed files")
    files = sidecar_paths(out)
    fit_params = set(inspect.signature(single.fit).parameters)
    fit_kw: dict[str, Any] = {}
    if "checkpoint" in fit_params:
        fit_kw = {"checkpoint": str(files["checkpoint"]), "resume": resume}
        found = checkpoint_files(out, ensemble)
        if resume and found:
            log(f"resuming from {', '.join(map(str, found))}")
        elif resume and dist.is_main:
            warnings.warn(f"resume=True but there is no checkpoint at {files['checkpoint']}: "
                          "training starts from the first epoch", stacklevel=2)
        elif found:
            log(f"replacing the checkpoint of an earlier run, {', '.join(map(str, found))} "
                "(resume=True continues it)")
    elif resume:
        log(f"{model} trains without epochs or checkpoints: resume=True has nothing to resume")
    val = sets.get("validation")
    unseen = sorted(set(val.y) - set(train_set.y)) if val is not None else []
    # Models with early stopping watch the validation split; the others learn from it too:
    # families without epochs, and torch families trained a fixed number of epochs
    # (validation_fraction=0, the CNN's default: early stopping on a few held-out groups stops
    # it too soon, benchmarks/RESULTS.md).
    early_stopping = "X_val" in fit_params and float(single.get_params().get("validation_fraction", 0.15)) > 0
    if ensemble > 1:
        log(f"training an ensemble of {ensemble} {model} networks (seeds "
            f"{', '.join(str(seed + 1000 * i) for i in range(ensemble))}), one after the other")
    has_val = val is not None and len(val.y) > 0
    if early_stopping and has_val and not unseen:
        est.fit(train_set.X, train_set.y, X_val=val.X, y_val=val.y, **fit_kw)
        fit_on = "train (validation for early stopping)"
    elif has_val and not early_stopping:
        est.fit(np.concatenate([train_set.X, val.X]), np.concatenate([train_set.y, val.y]), **fit_kw)
        fit_on = "train + validation" + ("" if "X_val" not in fit_params else f" ({single.max_epochs} epochs)")
    else:
        est.fit(train_set.X, train_set.y, **fit_kw)
        fit_on = "train"
    history = getattr(est, "history_", None)
    history = history.to_dict() if hasattr(history, "to_dict") else {}
    if not dist.is_main:
        return TrainOutcome(model_path=Path(out), report=None, files={}, failures=failures,
                            counts={s: int(len(sets[s].items)) if s in sets else 0 for s in splits}, history=history)
    report = None
    test = sets.get("test")
    if test is not None and len(test.y):
        report = _with_members(evaluate(test.y, est.predict(test.X), labels=[str(c) for c in est.classes_], warn=False),
                               est, test.X, test.y)
    summary = {
        "data": coll.source,
        "counts": {s: int(len(sets[s].items)) if s in sets else 0 for s in splits},
        "split": split_args,
        "audio_augment": None if not variants else {"augment": audio_augment, "copies": augment_copies},
        "fit_on": fit_on,
        "failed_files": len(failures),
        "history": history,
        "test": None if report is None else {k: getattr(report, k) for k in ("n", "accuracy", "balanced_accuracy", "macro_f1")},
        "trained_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "musicnn_version": __version__,
    }
    if dist.enabled:
        summary["processes"] = dist.world_size
        if shares is not None:
            summary["features_extracted_per_process"] = shares
    model_path = save_model(out, est, metadata={"feature_spec": spec.to_dict(), "summary": summary})
    files["checkpoint"].unlink(missing_ok=True)  # the model file now holds the result
    written = {"model": model_path}
    if report is not None:
        with atomic_open(files["report"]) as fh:
            fh.write(report.to_json())
        plot_confusion(report, files["confusion"], title=f"{model} on held-out groups: accuracy {report.accuracy:.3f}, "
                                                         f"macro F1 {report.macro_f1:.3f}")
        written["report"], written["confusion"] = files["report"], files["confusion"]
    if history.get("train_loss"):
        plot_curves(history, files["curves"], title=f"{model} training")
        _write_curves_csv(history, files["curves_csv"])
        written["curves"], written["curves_csv"] = files["curves"], files["curves_csv"]
    return TrainOutcome(model_path=model_path, report=report, files=written, failures=failures,
                        counts=summary["counts"], history=history)


def evaluate_model(
    model_path: str | os.PathLike,
    data: str | os.PathLike | Collection,
    *,
    split: str = "all",
    jobs: int = 1,
    store: FeatureStore | None = None,
    progress: bool = True,
):
    """Score a saved model on a data set.

    Parameters
    ----------
    model_path : path
    data : path or Collection
    split : str
        ``all`` scores every item; ``train``, ``validation`` or ``test`` re-create the split
        recorded in the model file (same fractions and seed) and score that part.

    Returns
    -------
    report : musicnn.evaluation.Report
    failures : list of (str, str)
    """
    from musicnn.evaluation import evaluate
    from musicnn.modelfile import load_with_spec

    check_choice("split", split, EVALUATION_SPLITS)
    est, spec, meta = load_with_spec(model_path)
    coll = data if isinstance(data, Collection) else Collection.load(data)
    if split != "all":
        saved = (meta.get("summary") or {}).get("split")
        if not saved:
            raise DataError(f"{model_path}: the model file records no split; use split='all'")
        coll = coll.split(**saved)[split]
        if not len(coll):
            raise DataError(f"{coll.source}: the {split} split is empty")
    classes = [str(c) for c in est.classes_]
    unknown = sorted(set(coll.labels) - set(classes))
    if unknown:
        example = next(it.path for it in coll if it.label == unknown[0])
        raise DataError(
            f"{coll.source}: label(s) {', '.join(map(repr, unknown))} unknown to the model (e.g. {example}); "
            f"the model knows: {', '.join(classes)}"
        )
    ds = load_features(coll, spec, store=store, jobs=jobs, progress=progress, desc="features")
    if not len(ds.y):
        raise DataError(f"{coll.source}: no file could be read; first failure: {failure_line(*ds.failures[0])}")
    report = _with_members(evaluate(ds.y, est.predict(ds.X), labels=classes), est, ds.X, ds.y)
    return report, ds.failures
