"""``musicnn recipe list|show|run`` and ``musicnn compare``."""

from __future__ import annotations

import click

from musicnn.cli.app import echo_err, feature_store, handle_errors, main, progress_enabled, report_failures, speak_flags


def _recipe_options(fn):
    fn = click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                      help="Change one of the recipe's values, e.g. --set model.params.channels=[32,64] "
                           "--set training.max_epochs=5 (VALUE is read as TOML).")(fn)
    fn = click.option("--data", "data", type=click.Path(), default=None,
                      help="The data: a data set's root for a reader recipe (genre-gtzan, instruments-nsynth...), "
                           "or where an embedded set is built or found.")(fn)
    fn = click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                      help="Where embedded sets are built on first use (default: $MUSICNN_DATA_DIR or the user "
                           "data folder).")(fn)
    fn = click.option("--jobs", "-j", type=click.IntRange(0), default=1, show_default=True,
                      help="Processes for building data and extracting features.")(fn)
    fn = click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                      help="Feature cache folder (default: $MUSICNN_CACHE_DIR or the user cache folder).")(fn)
    return fn


@main.group()
def recipe() -> None:
    """Run a task end to end from a recipe (TOML: data, split, features, model, training).

    \b
      musicnn recipe list
      musicnn recipe show instruments
      musicnn recipe run instruments --out runs/instruments
      musicnn recipe run genre-gtzan --data ~/data/gtzan --out runs/gtzan
      musicnn recipe run my-recipe.toml --set model.params.channels=[32,64] --out runs/mine
    """


@recipe.command("list")
@handle_errors
def recipe_list() -> None:
    """List the shipped recipes and what each one does."""
    from musicnn.recipes import load_recipe
    from musicnn.resources import recipes

    names = sorted(recipes())
    width = max([len(n) for n in names] + [4])
    for name in names:
        r = load_recipe(name)
        click.echo(f"{name:<{width}}  {r.family:<10}  {r.get('description', '')}")


@recipe.command("show")
@click.argument("name")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Show it with this value changed.")
@handle_errors
def recipe_show(name: str, overrides: tuple[str, ...]) -> None:
    """Print the recipe NAME (a shipped name or a .toml path) as TOML."""
    r = _load(name, overrides)
    click.echo(f"# {r.source}")
    click.echo(r.to_toml(), nl=False)


def _load(name: str, overrides: tuple[str, ...]):
    from musicnn.errors import ConfigError
    from musicnn.recipes import load_recipe

    try:
        return load_recipe(name, list(overrides))
    except ConfigError as exc:
        raise click.ClickException(speak_flags(str(exc)).replace("override ", "--set ")) from None


@recipe.command("run")
@click.argument("name")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Run folder to write (default: runs/<recipe name>).")
@click.option("--seed", type=int, default=None, help="Seed of the split and the model (default: the recipe's).")
@click.option("--force", is_flag=True, help="Replace the files of an existing run folder.")
@_recipe_options
@click.pass_context
@handle_errors
def recipe_run(ctx, name, out_dir, seed, force, overrides, data, data_dir, jobs, cache_dir) -> None:
    """Run the recipe NAME (shipped, or a .toml path) and write its run folder.

    The folder holds model.safetensors, metrics.json, the confusion matrix and training
    curves (model.confusion.png, model.curves.png), recipe.toml (the recipe as run) and
    report.md (what was run and what came out). It is written beside its place and moved
    there at the end: a run that fails leaves an earlier one as it was.
    """
    from musicnn.recipes import run_recipe

    r = _load(name, overrides)
    out_dir = out_dir or f"runs/{r.name}"
    log = (lambda msg: click.echo(speak_flags(msg))) if progress_enabled(ctx) else (lambda msg: None)
    run = run_recipe(r, out_dir, data=data, data_dir=data_dir, seed=seed, force=force, jobs=jobs,
                     store=feature_store(cache_dir, False), progress=progress_enabled(ctx), log=log)
    test = run.metrics.get("test")
    if test:
        click.echo(f"{r.name}: accuracy {test['accuracy']:.3f}, balanced accuracy {test['balanced_accuracy']:.3f}, "
                   f"macro-F1 {test['macro_f1']:.3f} on {test['n']} test files")
    click.echo(f"wrote {run.out_dir}/ (report.md, metrics.json, model.safetensors, ...)")
    ctx.exit(report_failures(run.failures))


@main.command()
@click.argument("name")
@click.option("--models", required=True, metavar="A,B,C",
              help="Comma-separated families (see `musicnn models`), or 'all' for every family (the unsupervised and feature-learning ones classify through their label readout).")
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated split and model seeds.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder of the comparison (default: runs/compare-<recipe name>).")
@click.option("--force", is_flag=True, help="Start again when the folder holds results of another recipe version, or write into a folder that is not a comparison.")
@_recipe_options
@click.pass_context
@handle_errors
def compare(ctx, name, models, seeds, out_dir, force, overrides, data, data_dir, jobs, cache_dir) -> None:
    """Train several families on the data and split of recipe NAME; write a leaderboard.

    Every family gets the same data, split, seeds, audio augmentation, clip length and
    sample rate; each its own feature preset and default hyper-parameters (the recipe's
    own family keeps the recipe's). Writes leaderboard.md, leaderboard.json and
    leaderboard.png; results.jsonl keeps every finished run, so the same command after a
    kill continues where it stopped.
    """
    from musicnn.models import available_models
    from musicnn.recipes import compare as run_compare

    r = _load(name, overrides)
    families = available_models() if models.strip() == "all" else \
        [m.strip() for m in models.split(",") if m.strip()]
    try:
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"{seeds!r} is not a comma-separated list of integers", param_hint="--seeds")
    out_dir = out_dir or f"runs/compare-{r.name}"
    log = (lambda msg: click.echo(speak_flags(msg))) if progress_enabled(ctx) else (lambda msg: None)
    board = run_compare(r, families, out_dir, seeds=seed_list, data=data, data_dir=data_dir, force=force, jobs=jobs,
                        store=feature_store(cache_dir, False), progress=progress_enabled(ctx), log=log)
    click.echo(board.files["markdown"].read_text(encoding="utf-8"))
    for kind in ("markdown", "json", "chart"):
        click.echo(f"wrote {board.files[kind]}")
    status = report_failures(board.failures)
    failed = [row for row in board.rows if row["failed"]]
    if failed:
        echo_err(f"{len(failed)} families failed on some seeds (see leaderboard.md)")
        ctx.exit(3)
    ctx.exit(status)
