"""A leaderboard of the course's families on one recipe's data and split.

:func:`compare` trains each family on the recipe's data, split and seeds and writes, into
its folder::

    results.jsonl      one line per (family, seed) as it finishes: a killed run continues
    runs/<family>-s<seed>/model.safetensors (and its sidecars)
    leaderboard.md     accuracy, balanced accuracy, macro-F1 (mean ± sd over seeds), fit time, size
    leaderboard.json   the same, with every seed's scores
    leaderboard.png    a bar chart of the accuracies with their spread

What is the same for every family: the data, the split (protocol, sizes, seeds), the audio
augmentation and the clip length and sample rate.  What is each family's own: its feature
preset and hyper-parameters (the registry defaults), except for the recipe's own family,
which keeps the recipe's features and parameters.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from musicnn.atomic import atomic_open
from musicnn.errors import ConfigError, MusicnnError
from musicnn.recipes.run import recipe_params, recipe_spec, resolve_data
from musicnn.recipes.spec import Recipe
from musicnn.store import FeatureStore

__all__ = ["Leaderboard", "compare", "leaderboard_markdown"]


@dataclass
class Leaderboard:
    """Rows (one per family, best mean accuracy first), where they were written, and the
    files the runs skipped (``(path, reason)``, each once)."""

    rows: list[dict[str, Any]]
    results: list[dict[str, Any]]
    files: dict[str, Path]
    failures: list[tuple[str, str]] = field(default_factory=list)


def _digest(recipe: Recipe) -> str:
    import hashlib

    return hashlib.sha1(recipe.to_toml().encode()).hexdigest()[:12]


def _read_results(path: Path, digest: str, force: bool) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a kill: that run is redone
            continue
    other = [r for r in rows if r.get("recipe_digest") != digest]
    if other and not force:
        raise ConfigError(f"{path} holds results of another version of the recipe; pass force=True to start "
                          "the comparison again, or choose another out_dir")
    return [] if other else rows


def _append(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, default=str) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def compare(recipe: Recipe, models: list[str], out_dir: str | os.PathLike[str], *, seeds: list[int] | None = None,
            data: str | os.PathLike[str] | None = None, data_dir: str | os.PathLike[str] | None = None,
            force: bool = False, jobs: int = 1, store: FeatureStore | None = None, progress: bool = True,
            log: Callable[[str], None] = print) -> Leaderboard:
    """Train every family of ``models`` on ``recipe``'s data and split, for each seed.

    Parameters
    ----------
    recipe : Recipe
    models : list of str
        Registered families (``musicnn models``); the recipe's own family keeps its settings.
    out_dir : path
        The comparison's folder.  Runs already in its ``results.jsonl`` are not redone, so a
        killed comparison continues where it stopped.
    seeds : list of int, optional
        Split and model seeds (default ``[0, 1, 2]``).
    force : bool
        Start again when ``results.jsonl`` holds results of another version of the recipe;
        write into an ``out_dir`` that holds other files (not a comparison).

    Raises
    ------
    ConfigError
        No model, an unknown family, or (without ``force``) results of another recipe or a folder
        that is not a comparison.
    """
    from musicnn.models import REGISTRY
    from musicnn.pipeline import train

    if not models:
        raise ConfigError("models is empty: name at least one family of `musicnn models`, e.g. mlp and cnn")
    unknown = [m for m in models if m not in REGISTRY]
    if unknown:
        raise ConfigError(f"models: unknown family {unknown[0]!r}; choose among {', '.join(sorted(REGISTRY))}")
    seeds = [0, 1, 2] if seeds is None else [int(s) for s in seeds]
    out = Path(out_dir)
    digest = _digest(recipe)
    results_path = out / "results.jsonl"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out_dir={str(out)!r} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not results_path.is_file() and not force:
        raise ConfigError(f"out_dir={str(out)!r} already holds files and is not a comparison (it has no "
                          "results.jsonl); pass force=True to write into it anyway, or choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    results = _read_results(results_path, digest, force)
    if force and results_path.is_file() and not results:
        results_path.unlink()
    done = {(r["family"], r["seed"]) for r in results}
    specs = {m: recipe_spec(recipe, m) for m in models}  # checked before any work
    params = {m: recipe_params(recipe, m) for m in models}
    coll = resolve_data(recipe, data, data_dir=data_dir, jobs=jobs, progress=progress, log=log)
    split = recipe.get("split", {}) or {}
    train_table = recipe.get("training", {}) or {}
    todo = [(m, s) for m in models for s in seeds if (m, s) not in done]
    log(f"compare {recipe.name}: {len(models)} families x {len(seeds)} seeds; {len(done)} done, {len(todo)} to run")
    for i, (family, seed) in enumerate(todo, start=1):
        log(f"[{i}/{len(todo)}] {family}, seed {seed}")
        model_path = out / "runs" / f"{family}-s{seed}" / "model.safetensors"
        model_path.parent.mkdir(parents=True, exist_ok=True)
        row: dict[str, Any] = {"recipe": recipe.name, "recipe_digest": digest, "family": family, "seed": seed}
        started = time.perf_counter()
        try:
            outcome = train(coll, family, model_path, spec=specs[family], params=params[family],
                            split="source" if split.get("protocol") == "by-source" else "group",
                            test_source=split.get("test_source"), test_size=float(split.get("test_size", 0.2)),
                            val_size=float(split.get("val_size", 0.15)), seed=seed, jobs=jobs, store=store,
                            progress=progress, log=lambda m: None, audio_augment=train_table.get("audio_augment"),
                            augment_copies=int(train_table.get("augment_copies", 1)), force=True)
        except MusicnnError as exc:  # one family failing does not end the comparison
            row.update(error=str(exc))
            log(f"  {family} failed: {exc}")
        else:
            rep = outcome.report
            row.update(accuracy=None if rep is None else rep.accuracy,
                       balanced_accuracy=None if rep is None else rep.balanced_accuracy,
                       macro_f1=None if rep is None else rep.macro_f1, n_test=None if rep is None else rep.n,
                       fit_seconds=round(float(outcome.history.get("seconds", time.perf_counter() - started)), 2),
                       run_seconds=round(time.perf_counter() - started, 2),
                       model_bytes=model_path.stat().st_size, features=specs[family].describe(),
                       skipped_files=[[str(p), str(why)] for p, why in outcome.failures[:_MAX_SKIPPED]])
            if rep is not None:
                log(f"  accuracy {rep.accuracy:.3f}, macro-F1 {rep.macro_f1:.3f}")
        _append(results_path, row)
        results.append(row)
    rows = _rows(results, models, seeds)
    files = _write(out, recipe, rows, results, seeds, chance=1.0 / max(len(coll.labels), 1))
    skipped = dict.fromkeys((p, why) for r in results for p, why in r.get("skipped_files", []))
    return Leaderboard(rows=rows, results=results, files=files, failures=list(skipped))


#: skipped files kept per run in results.jsonl
_MAX_SKIPPED = 1000


def _stat(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return float(np.mean(values)), float(np.std(values))


def _rows(results: list[dict[str, Any]], models: list[str], seeds: list[int]) -> list[dict[str, Any]]:
    rows = []
    for family in models:
        mine = [r for r in results if r["family"] == family and r["seed"] in seeds]
        ok = [r for r in mine if r.get("accuracy") is not None]
        row: dict[str, Any] = {"family": family, "seeds": len(ok), "failed": len(mine) - len(ok)}
        for key in ("accuracy", "balanced_accuracy", "macro_f1"):
            row[key], row[f"{key}_sd"] = _stat([r[key] for r in ok])
        row["fit_seconds"] = _stat([r["fit_seconds"] for r in ok])[0]
        row["model_mb"] = _stat([r["model_bytes"] / 1e6 for r in ok])[0]
        row["errors"] = sorted({r["error"] for r in mine if "error" in r})
        rows.append(row)
    rows.sort(key=lambda r: -1.0 if r["accuracy"] is None else r["accuracy"], reverse=True)
    return rows


def leaderboard_markdown(recipe: Recipe, rows: list[dict[str, Any]], seeds: list[int],
                         chance: float | None = None) -> str:
    """The leaderboard as a Markdown table (mean ± sd over the seeds); ``chance``, the
    accuracy of a uniform guess, is said below it."""

    def cell(row: dict[str, Any], key: str) -> str:
        return "-" if row[key] is None else f"{row[key]:.3f} ± {row[f'{key}_sd']:.3f}"

    lines = [f"Recipe `{recipe.name}`, seeds {', '.join(map(str, seeds))}: test split of each seed.", "",
             "| family | accuracy | balanced accuracy | macro-F1 | fit s | model MB | seeds |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        fit = "-" if r["fit_seconds"] is None else f"{r['fit_seconds']:.1f}"
        size = "-" if r["model_mb"] is None else f"{r['model_mb']:.2f}"
        seeds_cell = f"{r['seeds']}" + (f" ({r['failed']} failed)" if r["failed"] else "")
        lines.append(f"| {r['family']} | {cell(r, 'accuracy')} | {cell(r, 'balanced_accuracy')} | "
                     f"{cell(r, 'macro_f1')} | {fit} | {size} | {seeds_cell} |")
    if chance is not None:
        lines += ["", f"Chance (a label drawn uniformly): {chance:.3f}."]
    failed = [r for r in rows if r["errors"]]
    if failed:
        lines += ["", "Failures: " + "; ".join(f"{r['family']}: {r['errors'][0]}" for r in failed)]
    return "\n".join(lines) + "\n"


def _write(out: Path, recipe: Recipe, rows: list[dict[str, Any]], results: list[dict[str, Any]],
           seeds: list[int], chance: float | None = None) -> dict[str, Path]:
    files = {"results": out / "results.jsonl", "markdown": out / "leaderboard.md",
             "json": out / "leaderboard.json", "chart": out / "leaderboard.png"}
    with atomic_open(files["markdown"]) as fh:
        fh.write(leaderboard_markdown(recipe, rows, seeds, chance=chance))
    with atomic_open(files["json"]) as fh:
        json.dump({"recipe": recipe.name, "seeds": seeds, "chance": chance, "rows": rows, "results": results}, fh,
                  indent=2, default=str)
    _chart(rows, files["chart"], f"{recipe.name}: test accuracy over {len(seeds)} seed(s)", chance=chance)
    return files


def _chart(rows: list[dict[str, Any]], path: Path, title: str, chance: float | None = None) -> None:
    from musicnn.evaluation import new_figure, save_png

    shown = [r for r in rows if r["accuracy"] is not None][::-1]
    fig, ax = new_figure(figsize=(7, 0.45 * max(len(shown), 2) + 1.2))
    y = np.arange(len(shown))
    ax.barh(y, [r["accuracy"] for r in shown], xerr=[r["accuracy_sd"] for r in shown], color="#4C72B0",
            ecolor="#333333", capsize=3)
    ax.set_yticks(y, [r["family"] for r in shown])
    ax.set_xlim(0, 1)
    if chance is not None:
        ax.axvline(chance, color="#C44E52", linestyle="--", linewidth=1, label=f"chance ({chance:.3f})")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("accuracy (mean ± sd over seeds)")
    ax.set_title(title)
    for yi, r in zip(y, shown):
        ax.text(min(r["accuracy"] + (r["accuracy_sd"] or 0) + 0.01, 0.93), yi, f"{r['accuracy']:.3f}", va="center",
                fontsize=8)
    fig.tight_layout()
    save_png(fig, path, dpi=120)
