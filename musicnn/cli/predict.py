"""``musicnn classify`` and ``embed``: streaming inference over files of any length."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from musicnn.choices import AGGREGATES, BATCH_SIZE
from musicnn.cli.app import echo_err, handle_errors, main, printable, progress_enabled, report_failures
from musicnn.errors import MusicnnError


def _model_and_files(ctx: click.Context, args: tuple[str, ...], hop: float | None, what: str) -> tuple[str, list[str]]:
    """Split ``[MODEL] FILE...``: a first argument ending in .safetensors is the model,
    otherwise the shipped model is used (and named on stderr).  Checks --hop against
    --overlap and that there is a file to ``what``."""
    if hop is not None and ctx.get_parameter_source("overlap") is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("give --hop or --overlap, not both")
    if args and args[0].lower().endswith(".safetensors"):
        if not Path(args[0]).is_file():
            raise click.BadParameter(f"model file {args[0]!r} does not exist", param_hint="MODEL")
        model, files = args[0], list(args[1:])
    else:
        from musicnn.pretrained import default_model

        model, files = str(default_model()), list(args)
        if files:
            echo_err(f"model: {model} (shipped instrument-family model; give a .safetensors file to use another)")
    if not files:
        raise click.UsageError(f"give at least one audio file to {what}")
    return model, files


def _checked_path(path: str | None, check: Callable[[str], Any], param_hint: str) -> None:
    """Run a library check of an output path before any work; its error is a usage error of the option."""
    if path is None:
        return
    try:
        check(path)
    except MusicnnError as exc:
        raise click.BadParameter(str(exc), param_hint=param_hint) from None


def _window_options(fn: Callable) -> Callable:
    """--overlap, --hop and --batch-size of classify and embed."""
    fn = click.option("--batch-size", type=click.IntRange(1), default=BATCH_SIZE, show_default=True,
                      help="Windows per forward pass (windows of several files share a batch).")(fn)
    fn = click.option("--hop", type=click.FloatRange(0, min_open=True), default=None, metavar="SECONDS",
                      help="Seconds between window starts, instead of --overlap.")(fn)
    fn = click.option("--overlap", type=click.FloatRange(0, 1, max_open=True), default=0.5, show_default=True,
                      help="Overlap of the analysis windows (a fraction of the window).")(fn)
    return fn


@main.command()
@click.argument("args", nargs=-1, required=True, type=click.Path(readable=False), metavar="[MODEL] FILES...")
@click.option("--top-k", "-k", type=click.IntRange(1), default=3, show_default=True, help="Labels shown per file.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="What is printed on stdout (the files classified by this call).")
@_window_options
@click.option("--aggregate", type=click.Choice(AGGREGATES), default="mean", show_default=True,
              help="How window probabilities make the file's scores: mean probability; max: each class's "
                   "highest window probability (not renormalised); vote: share of windows won, ties broken "
                   "by the mean probability.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Results file (.csv or .jsonl): one row per file, written as each file completes; files "
                   "it already holds are skipped, so rerunning after a crash resumes.")
@click.option("--segments", type=click.Path(dir_okay=False), default=None,
              help="Write each file's window timeline (start, end, top label, every class's probability) as "
                   ".csv or .json; with several files use a {stem} field, e.g. segments/{stem}.csv.")
@click.option("--force", is_flag=True,
              help="Replace existing timelines, and an --out file that is not this model's results (a results "
                   "file of this model is still resumed).")
@click.option("--jobs", "-j", type=click.IntRange(1), default=1, show_default=True,
              help="Processes computing the features of the next files while the model runs on the current "
                   "ones (same results; worth it for many files).")
@click.pass_context
@handle_errors
def classify(ctx, args, top_k, fmt, overlap, hop, aggregate, out, segments, force, batch_size, jobs) -> None:
    """Classify audio FILES of any length with the model file MODEL.

    Without MODEL (when the first argument does not end in .safetensors) the model that
    ships with musicnn is used: instrument families of isolated notes (bass, brass,
    flute, guitar, keyboard, mallet, organ, reed, string, vocal); its name is printed on
    stderr, and `musicnn info` describes it.

    Each file is streamed (an hour of audio needs no more memory than a minute) and cut
    into windows of the model's clip length, every --hop seconds (default: half a window);
    the last window ends at the end of the file. The window probabilities (batched across
    files) are combined by --aggregate and the top-k labels printed. Files that fail are
    skipped and listed at the end; the exit status is then 3. CNN and MLP models (the
    shipped one too) run in numpy, without starting torch: one file takes about half a second.

    Under torchrun (torchrun --nproc_per_node N -m musicnn classify ... --out results.csv,
    on one machine or several sharing the folder) each process classifies every N-th file
    into a part file of its own and rank 0 merges them into --out, in input order.

    \b
    Examples:
      musicnn classify note.wav other.flac        # the shipped instrument-family model
      musicnn classify runs/cnn.safetensors song.wav --aggregate vote --segments song.csv
      musicnn classify runs/cnn.safetensors music/*.flac --out results.csv \\
          --segments segments/{stem}.json     # rerun the same command to resume
    """
    from musicnn.inference.engine import classify_batch
    from musicnn.inference.writers import RESULTS_SUFFIXES, check_suffix, segment_paths
    from musicnn.modelfile import load_predictor

    model, files = _model_and_files(ctx, args, hop, "classify")
    _checked_path(out, lambda p: check_suffix(p, RESULTS_SUFFIXES, "a results file"), "--out")
    _checked_path(segments, lambda p: segment_paths(p, files), "--segments")
    est, spec, _ = load_predictor(model)
    report = classify_batch(est, spec, files, out=out, segments=segments, force=force, top_k=top_k, overlap=overlap,
                            hop=hop, aggregate=aggregate, batch_size=batch_size, progress=progress_enabled(ctx),
                            jobs=jobs)
    preds, failures = report.predictions, report.failures
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world > 1:  # torchrun: the rows are in --out; rank 0 alone reports
        if os.environ.get("RANK", "0") != "0":
            ctx.exit(3 if failures else 0)
        if report.skipped:
            echo_err(f"skipped {len(report.skipped)} files already in {out}")
        echo_err(f"{world} processes classified {len(files) - len(report.skipped) - len(failures)} files into {out}")
        ctx.exit(report_failures(failures))
    if fmt == "json":
        click.echo(json.dumps([p.to_dict() for p in preds], indent=2))
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(["path", "rank", "label", "probability"])
        for p in preds:
            for rank, (lab, prob) in enumerate(p.top, start=1):
                writer.writerow([p.path, rank, lab, f"{prob:.6f}"])
    else:
        names = [printable(p.path) for p in preds]
        width = max([len(n) for n in names] + [4])
        for name, p in zip(names, preds):
            others = "  ".join(f"{printable(lab)} {prob:.2f}" for lab, prob in p.top)
            click.echo(f"{name:<{width}}  {printable(p.label):<12} {others}")
    if out is not None:
        if report.skipped:
            echo_err(f"skipped {len(report.skipped)} files already in {out}")
        echo_err(f"wrote {len(preds)} rows to {out}")
    ctx.exit(report_failures(failures))


@main.command()
@click.argument("args", nargs=-1, required=True, type=click.Path(readable=False), metavar="[MODEL] FILES...")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Where to write: .npz (paths, embeddings), .csv (path, e0, e1, ...) or .json.")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@_window_options
@click.pass_context
@handle_errors
def embed(ctx, args, out, force, overlap, hop, batch_size) -> None:
    """Write one embedding per audio file with the model file MODEL (default: the shipped
    instrument-family model, as for `classify`).

    The embedding is the model's penultimate layer (MLP, CNN; the Gaussian activations of
    the RBF network) or its learned features (RBM, Hebbian, SOM grid position...),
    averaged over the file's windows: vectors for timbre maps, retrieval or transfer.
    Files are streamed and their windows batched across files, as by `classify`.
    An existing --out file is refused unless --force; when no file could be embedded,
    nothing is written.
    """
    from musicnn.inference.engine import embed_files
    from musicnn.inference.writers import EMBEDDING_SUFFIXES, check_new_output, check_suffix, write_embeddings
    from musicnn.modelfile import load_predictor

    _checked_path(out, lambda p: check_suffix(p, EMBEDDING_SUFFIXES, "an embeddings file"), "--out")
    model, files = _model_and_files(ctx, args, hop, "embed")
    check_new_output(out, force=force)  # before any work
    est, spec, _ = load_predictor(model)
    paths, emb, failures = embed_files(est, spec, files, overlap=overlap, hop=hop, batch_size=batch_size,
                                       progress=progress_enabled(ctx))
    if not paths:
        echo_err(f"no file could be embedded; nothing written to {printable(out)}")
    else:
        target = write_embeddings(out, paths, emb, force=force)
        click.echo(f"wrote {len(paths)} embeddings of {emb.shape[1]} values to {printable(target)}")
    ctx.exit(report_failures(failures))


if __name__ == "__main__":  # pragma: no cover
    main()
