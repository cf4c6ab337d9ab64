"""Running a recipe: its data, its training run, and a run folder that says what came out.

:func:`run_recipe` resolves the recipe's data (an embedded set built on first use, a data
set read by its reader, or a folder), trains with :func:`musicnn.pipeline.train`, and writes
into a run folder::

    model.safetensors        the model (weights plus JSON metadata)
    model.report.json        the test split's report (per class, confusion)
    model.confusion.png      its confusion matrix
    model.curves.png/.csv    the training curves (iterative families)
    metrics.json             scores, counts, timing, model size, the recipe as run
    recipe.toml              the recipe as run (overrides applied)
    report.md                what was run and what came out, in a page

The folder is written beside its final place and moved there at the end, so that a run
that fails (or is interrupted) leaves an earlier run's folder as it was.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import inspect
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from musicnn import __version__
from musicnn.atomic import atomic_open
from musicnn.data import Collection
from musicnn.errors import ConfigError
from musicnn.recipes.spec import Recipe, known_feature_fields
from musicnn.store import FeatureStore

__all__ = ["DATA_ENV", "RUN_FILES", "RecipeRun", "default_data_dir", "recipe_params", "recipe_spec", "resolve_data",
           "run_recipe"]

#: Where embedded sets are built on first use, unless ``data_dir`` says otherwise.
DATA_ENV = "MUSICNN_DATA_DIR"

#: What a finished run folder holds (besides the model's sidecars).
RUN_FILES = ("model.safetensors", "metrics.json", "recipe.toml", "report.md")


def default_data_dir() -> Path:
    """``$MUSICNN_DATA_DIR`` or ``<user data folder>/musicnn/datasets``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("musicnn")) / "datasets"


def _builders() -> dict[str, Callable[..., Any]]:
    from musicnn.data.render import build_instruments

    builders: dict[str, Callable[..., Any]] = {"instruments": build_instruments}
    try:
        from musicnn.data.styles import build_styles
    except ImportError:  # pragma: no cover - the module ships with musicnn
        pass
    else:
        builders["styles"] = build_styles
    return builders


def _checked_options(fn: Callable[..., Any], options: dict[str, Any], where: str, origin: str) -> dict[str, Any]:
    accepted = set(inspect.signature(fn).parameters)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(f"{origin}: {where} has no option {unknown[0]!r}; it takes "
                          f"{', '.join(sorted(accepted - {'out_dir', 'root', 'progress', 'n_jobs'}))}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


def resolve_data(recipe: Recipe, data: str | os.PathLike[str] | None = None, *,
                 data_dir: str | os.PathLike[str] | None = None, jobs: int = 1, progress: bool = True,
                 log: Callable[[str], None] = print) -> Collection:
    """The recipe's data as a :class:`~musicnn.data.Collection`.

    ``data.build`` names an embedded set: it is built (once) into ``data`` or into
    ``data_dir/<name>-<options digest>`` and read from there afterwards.  ``data.reader``
    names a data set reader: ``data`` (or ``data.path``) is the root of the user's copy.
    Otherwise ``data`` or ``data.path`` is a folder-per-label tree or a manifest.

    Raises
    ------
    ConfigError
        No data given where the recipe needs a local copy (``data`` names it), or an
        option the builder or reader does not take.
    """
    table = recipe.get("data", {}) or {}
    options = dict(table.get("options", {}))
    given = data if data is not None else table.get("path")
    if "reader" in table:
        if given is None:
            raise ConfigError(f"{recipe.source} reads {table['reader']} from a local copy: give data=PATH, the "
                              f"data set's root folder (`musicnn datasets card {table['reader']}` shows its layout)")
        from musicnn.data.readers import read_dataset

        return read_dataset(table["reader"], given, **options)
    if "build" in table:
        builders = _builders()
        name = table["build"]
        if name not in builders:
            raise ConfigError(f"{recipe.source}: data.build={name!r} is not an embedded set; "
                              f"choose one of {', '.join(sorted(builders))}")
        build = builders[name]
        kwargs = _checked_options(build, options, "data.options", recipe.source)
        if given is None:
            digest = hashlib.sha1(json.dumps(options, sort_keys=True).encode()).hexdigest()[:8]
            given = Path(data_dir) if data_dir is not None else default_data_dir()
            given = given / f"{name}-{digest}"
        target = Path(given)
        if not (target / "manifest.csv").is_file():
            log(f"building the embedded set {name!r} into {target} (once; later runs read it)")
            build(target, progress=progress, n_jobs=max(1, jobs), **kwargs)
        return Collection.load(target)
    if given is None:
        raise ConfigError(f"{recipe.source} names no data: give data=PATH (a folder-per-label tree or manifest)")
    return Collection.load(given)


def recipe_spec(recipe: Recipe, family: str | None = None) -> Any:
    """The recipe's :class:`~musicnn.features.FeatureSpec` (``family``: another family's
    own preset, with the recipe's ``sr`` and ``duration``)."""
    from musicnn.pipeline import feature_spec

    table = dict(recipe.get("features", {}) or {})
    unknown = sorted(set(table) - known_feature_fields())
    if unknown:
        raise ConfigError(f"{recipe.source}: unknown key 'features.{unknown[0]}'; [features] takes preset and "
                          f"{', '.join(sorted(known_feature_fields() - {'preset'}))}")
    if family is not None and family != recipe.family:
        table = {k: v for k, v in table.items() if k in ("sr", "duration")}
        return feature_spec(None, model=family, **table)
    preset_name = table.pop("preset", None)
    return feature_spec(preset_name, model=recipe.family, **{k: tuple(v) if isinstance(v, list) else v
                                                             for k, v in table.items()})


def recipe_params(recipe: Recipe, family: str | None = None) -> dict[str, Any]:
    """The family's hyper-parameters: the recipe's ``[model.params]`` and ``[training]``
    options for the recipe's own family, the registry defaults for another one."""
    from musicnn.pipeline import training_params

    family = family or recipe.family
    train = recipe.get("training", {}) or {}
    if family != recipe.family:
        return training_params(family, {})
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in (recipe.get("model.params", {}) or {}).items()}
    options = {k: train.get(k) for k in ("max_epochs", "lr", "device", "lr_schedule", "augment", "class_weight")}
    try:
        return training_params(family, params, **options)
    except ConfigError as exc:
        raise ConfigError(f"{recipe.source}: model.params: {exc}") from None


@dataclass
class RecipeRun:
    """What :func:`run_recipe` produced: the run folder and its metrics."""

    out_dir: Path
    metrics: dict[str, Any]
    failures: list[tuple[str, str]]


def _check_out_dir(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"out_dir={str(out_dir)!r} is a file, not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise ConfigError(f"out_dir={str(out_dir)!r} already holds files; pass force=True to replace them "
                          "or choose another folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)  # an unusable place fails now, not after the training


def run_recipe(recipe: Recipe, out_dir: str | os.PathLike[str], *, data: str | os.PathLike[str] | None = None,
               data_dir: str | os.PathLike[str] | None = None, seed: int | None = None, force: bool = False,
               jobs: int = 1, store: FeatureStore | None = None, progress: bool = True,
               log: Callable[[str], None] = print) -> RecipeRun:
    """Run ``recipe`` end to end and write its run folder ``out_dir``.

    Parameters
    ----------
    recipe : Recipe
    out_dir : path
        The run folder; an existing non-empty one is replaced only with ``force``.
    data : path, optional
        The data (a data set's root for a reader recipe; where to build or find an
        embedded set).
    data_dir : path, optional
        Where embedded sets are built when ``data`` is not given (:func:`default_data_dir`).
    seed : int, optional
        Overrides ``training.seed`` (the split and the model).
    force : bool
    jobs : int
        Processes for building data and extracting features.
    store, progress, log
        As for :func:`musicnn.pipeline.train`.
    """
    from musicnn.pipeline import train

    out_dir = Path(out_dir)
    _check_out_dir(out_dir, force)
    train_table = recipe.get("training", {}) or {}
    split = recipe.get("split", {}) or {}
    seed = int(train_table.get("seed", 0)) if seed is None else int(seed)
    spec = recipe_spec(recipe)
    params = recipe_params(recipe)
    coll = resolve_data(recipe, data, data_dir=data_dir, jobs=jobs, progress=progress, log=log)
    work = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    try:
        outcome = train(coll, recipe.family, work / "model.safetensors", spec=spec, params=params,
                        split="source" if split.get("protocol") == "by-source" else "group",
                        test_source=split.get("test_source"), test_size=float(split.get("test_size", 0.2)),
                        val_size=float(split.get("val_size", 0.15)), seed=seed, jobs=jobs, store=store,
                        progress=progress, log=log, audio_augment=train_table.get("audio_augment"),
                        augment_copies=int(train_table.get("augment_copies", 1)),
                        ensemble=int(train_table.get("ensemble", 1)))
        metrics = _metrics(recipe, coll, outcome, seed, time.perf_counter() - started)
        with atomic_open(work / "metrics.json") as fh:
            json.dump(metrics, fh, indent=2, default=str)
        with atomic_open(work / "recipe.toml") as fh:
            fh.write(recipe.to_toml())
        with atomic_open(work / "report.md") as fh:
            fh.write(report_markdown(recipe, metrics, spec.describe()))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    _replace_folder(work, out_dir)
    return RecipeRun(out_dir=out_dir, metrics=metrics, failures=outcome.failures)


def _replace_folder(work: Path, out_dir: Path) -> None:
    """Move the finished ``work`` folder to ``out_dir``, the old one out of the way first."""
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        out_dir.rename(old)
    work.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _metrics(recipe: Recipe, coll: Collection, outcome: Any, seed: int, seconds: float) -> dict[str, Any]:
    report = outcome.report
    return {
        "recipe": recipe.name,
        "family": recipe.family,
        "seed": seed,
        "data": coll.source,
        "n_files": len(coll),
        "labels": list(coll.labels),
        "counts": outcome.counts,
        "failed_files": len(outcome.failures),
        "test": None if report is None else report.to_dict(),
        "fit_seconds": round(float(outcome.history.get("seconds", seconds)), 2),
        "run_seconds": round(seconds, 2),
        "epochs": outcome.history.get("n_epochs"),
        "model_bytes": Path(outcome.model_path).stat().st_size,
        "musicnn_version": __version__,
        "finished_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def report_markdown(recipe: Recipe, metrics: dict[str, Any], features: str) -> str:
    """The run's page: what was run (data, split, features, model, training) and its scores."""
    split = recipe.get("split", {}) or {}
    protocol = split.get("protocol", "group")
    what = {"group": "held-out groups", "official": "the data set's own test split (groups elsewhere)",
            "by-source": f"source {split.get('test_source')!r}, never heard in training"}[protocol]
    lines = [f"# Recipe `{recipe.name}`", ""]
    if recipe.get("description"):
        lines += [str(recipe.get("description")), ""]
    note = recipe.get("report.note")
    if note:
        lines += [f"> **Note.** {note}", ""]
    counts = ", ".join(f"{k} {v}" for k, v in metrics["counts"].items())
    lines += [
        "## What was run",
        "",
        f"- data: `{metrics['data']}`: {metrics['n_files']} files, {len(metrics['labels'])} labels "
        f"({', '.join(metrics['labels'])}); {metrics['failed_files']} failed and were skipped",
        f"- split: {protocol} (test on {what}), seed {metrics['seed']}: {counts}",
        f"- features: {features}",
        f"- model: {recipe.family} {json.dumps(recipe.get('model.params', {}) or {})}",
        f"- training: {json.dumps(recipe.get('training', {}) or {})}; {metrics['epochs'] or '-'} epochs, "
        f"{metrics['fit_seconds']:.1f} s fit, {metrics['run_seconds']:.1f} s in all",
        f"- model file: `model.safetensors`, {metrics['model_bytes'] / 1e6:.2f} MB; musicnn {metrics['musicnn_version']}",
        "",
        "## What came out",
        "",
    ]
    test = metrics.get("test")
    if test is None:
        lines += ["No test split (test_size 0): the model was trained on everything.", ""]
    else:
        lines += [f"Test split ({what}): **accuracy {test['accuracy']:.3f}**, balanced accuracy "
                  f"{test['balanced_accuracy']:.3f}, macro-F1 {test['macro_f1']:.3f} on {test['n']} files.", "",
                  "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for lab in test["labels"]:
            c = test["per_class"][lab]
            lines.append(f"| {lab} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {int(c['support'])} |")
        lines += ["", "![confusion matrix](model.confusion.png)", ""]
    if metrics.get("epochs"):
        lines += ["![training curves](model.curves.png)", ""]
    lines += ["The recipe as run is in `recipe.toml`: `musicnn recipe run recipe.toml` runs it again."]
    return "\n".join(lines) + "\n"
