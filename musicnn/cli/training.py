"""``musicnn models``, ``info``, ``train`` and ``evaluate``."""

from __future__ import annotations

import json
import sys

import click

from musicnn.choices import EVALUATION_SPLITS, LR_SCHEDULES
from musicnn.cli.app import (cache_options, echo_err, feature_options, handle_errors, parse_params,
                             progress_enabled, report_failures, spec_from_options, speak_flags, feature_store, main)


# -- models, train, evaluate, classify -----------------------------------------------------------

@main.command("models")
@handle_errors
def models_cmd() -> None:
    """List the model families, their kind and what they are."""
    from musicnn.models import REGISTRY

    width = max(len(n) for n in REGISTRY)
    for name, rec in REGISTRY.items():
        click.echo(f"{name:<{width}}  {rec.kind:<15}  {rec.description}")


@main.command("info")
@click.argument("model", type=click.Path(exists=True, dir_okay=False), required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the model file's metadata as JSON.")
@handle_errors
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
@feature_options
@click.option("--epochs", "max_epochs", type=int, default=None,
              help="Epochs of an iterative family (the most, where early stopping may stop sooner).")
@click.option("--lr", type=float, default=None, help="Learning rate of the families that have one.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Any hyper-parameter of the model, e.g. --param lr=0.003 --param hidden_layer_sizes=[128,64].")
@click.option("--test-size", type=float, default=0.2, show_default=True, help="Fraction of each label's groups held out for the test.")
@click.option("--val-size", type=float, default=0.15, show_default=True, help="Fraction held out for early stopping; families trained a fixed number of epochs "
                   "(cnn, --param validation_fraction=0) and families without epochs learn from it too.")
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
@click.option("--ensemble", type=click.IntRange(1, 16), default=1, show_default=True,
              help="Train this many networks from seeds SEED, SEED+1000, ... and save them as one model "
                   "whose class probabilities are their average (more accurate on sounds never heard; "
                   "N times the training).")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run from <name>.checkpoint.safetensors (written after every epoch).")
@click.option("--force", is_flag=True, help="Replace an existing model file and the files beside it.")
@cache_options
@click.pass_context
@handle_errors
def train(ctx, data, model_name, out, max_epochs, lr, params, test_size, val_size, seed, split, test_source, device, lr_schedule,
          class_weight, augment, audio_augment, augment_copies, ensemble, resume, force, jobs, cache_dir, no_cache,
          **feature_opts) -> None:
    """Train a model on DATA, evaluate it on held-out groups, and save it.

    Writes MODEL (.safetensors: weights plus JSON metadata) and beside it
    <name>.report.json, <name>.confusion.png and the training curves
    <name>.curves.png / <name>.curves.csv (loss, accuracy and learning rate per epoch).

    Torch models save their training state after every epoch in
    <name>.checkpoint.safetensors; after a crash or Ctrl-C, the same command with
    --resume continues to the result the uninterrupted run would have given.

    An existing MODEL (or a file beside it) is refused before any work unless --force.

    Data-parallel training over several processes (gloo on CPU, NCCL on GPUs):
    torchrun --nproc_per_node 2 -m musicnn train ...
    """
    from musicnn.pipeline import train as run_train
    from musicnn.pipeline import training_params

    extra = training_params(model_name, parse_params(params), max_epochs=max_epochs, lr=lr, device=device,
                            lr_schedule=lr_schedule, augment=augment,
                            class_weight=None if class_weight == "none" else class_weight)
    spec = spec_from_options(model_name, feature_opts)
    log = (lambda msg: click.echo(speak_flags(msg))) if progress_enabled(ctx) else (lambda msg: None)
    if split == "by-source" and test_source is None:
        raise click.UsageError("--split by-source needs --test-source NAME")
    if split == "group" and test_source is not None:
        raise click.UsageError("--test-source goes with --split by-source")
    try:
        outcome = run_train(data, model_name, out, spec=spec, split="source" if split == "by-source" else "group",
                            test_source=test_source,
                            params=extra, test_size=test_size, val_size=val_size, seed=seed, jobs=jobs,
                            store=feature_store(cache_dir, no_cache), progress=progress_enabled(ctx), log=log,
                            resume=resume, audio_augment=audio_augment, augment_copies=augment_copies,
                            ensemble=ensemble, force=force)
    except KeyboardInterrupt:
        from musicnn.pipeline import checkpoint_files

        found = checkpoint_files(out, ensemble)
        if found:
            echo_err(f"Interrupted. The training state after the last finished epoch is in "
                     f"{', '.join(map(str, found))}; run the same command with --resume to continue.")
        else:
            echo_err("Interrupted before the first epoch finished; nothing to resume.")
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
    ctx.exit(report_failures(outcome.failures))


@main.command()
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--data", required=True, type=click.Path(exists=True), help="DATA: folder-per-label tree or CSV manifest.")
@click.option("--split", type=click.Choice(EVALUATION_SPLITS), default="all", show_default=True,
              help="Score every item, or one part of the split recorded in the model file.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (accuracy, balanced_accuracy, macro_f1, per_class, confusion).")
@click.option("--confusion", type=click.Path(dir_okay=False), default=None, help="Write the confusion matrix PNG here.")
@click.option("--force", is_flag=True, help="Replace an existing --confusion file.")
@cache_options
@click.pass_context
@handle_errors
def evaluate(ctx, model, data, split, as_json, confusion, force, jobs, cache_dir, no_cache) -> None:
    """Score the model file MODEL on DATA: per-class report and confusion matrix."""
    from musicnn.evaluation import plot_confusion
    from musicnn.inference.writers import check_new_output
    from musicnn.pipeline import evaluate_model

    if confusion:
        check_new_output(confusion, force=force)  # before any work

    report, failures = evaluate_model(model, data, split=split, jobs=jobs, store=feature_store(cache_dir, no_cache),
                                      progress=progress_enabled(ctx))
    click.echo(report.to_json() if as_json else report.text())
    if confusion:
        plot_confusion(report, confusion)
        if not as_json:
            click.echo(f"wrote {confusion}")
    ctx.exit(report_failures(failures))


