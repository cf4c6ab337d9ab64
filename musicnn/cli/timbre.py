"""``musicnn timbre-map``: build a timbre map of a folder of sounds, place new sounds on one.

``timbre-map`` is a group of two commands, ``build`` and ``project``; a first argument that
names neither is the SOUNDS of ``build``, so ``musicnn timbre-map sounds/ --out DIR`` is
``musicnn timbre-map build sounds/ --out DIR`` (a folder called ``build`` or ``project``
needs the explicit form).
"""

from __future__ import annotations

import json
import os
import sys

import click

from musicnn.cli.app import (
    cache_options,
    echo_err,
    feature_options,
    feature_store,
    handle_errors,
    main,
    parse_params,
    progress_enabled,
    report_failures,
    speak_flags,
)


class _BuildByDefault(click.Group):
    """A group whose first argument, when it names no command, starts the ``build`` command."""

    default_command = "build"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@main.group("timbre-map", cls=_BuildByDefault)
def timbre_map() -> None:
    """Timbre maps: a self-organising map of any folder of sounds, as pictures and a page.

    \b
      musicnn timbre-map SOUNDS --out DIR           (short for: timbre-map build SOUNDS --out DIR)
      musicnn timbre-map project DIR/map.json new.wav other.wav

    SOUNDS is a folder-per-label tree (SOUNDS/<label>/<file>), a folder of unlabelled
    sounds, a CSV manifest (path[,label]) or a folder holding manifest.csv. Run
    `musicnn timbre-map build --help` for the options.
    """


@timbre_map.command("build")
@click.argument("sounds", type=click.Path(exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder of the outputs: map.png, umatrix.png, hits.png, map.html, assignments.csv, map.json.")
@feature_options
@click.option("--embedding", default=None, metavar="MODEL|default",
              help="Describe each sound by a trained model's embedding (a .safetensors file, or 'default' for the "
                   "shipped instrument-family model) instead of pooled features.")
@click.option("--grid", default=None, metavar="WxH",
              help="Map size in units, columns x rows (default: about 5 sqrt(n) units, sides in the ratio of the "
                   "data's two first principal components).")
@click.option("--topology", type=click.Choice(["rectangular", "hexagonal"]), default="rectangular",
              show_default=True, help="Unit layout.")
@click.option("--epochs", "max_epochs", type=click.IntRange(1), default=None,
              help="SOM training epochs (default 30, batch map).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="Any SOM hyper-parameter, e.g. --param mode=online --param sigma=3 --param neighborhood=bubble.")
@click.option("--embed-audio", is_flag=True,
              help="Embed the sounds in map.html (Ogg Vorbis, first 30 s) so the page plays anywhere; by default "
                   "it links them relatively and must stay where it was written.")
@click.option("--reader", default=None, metavar="NAME",
              help="Read SOUNDS as a data set in its published layout (gtzan, nsynth, ...).")
@click.option("--title", default=None, help="Title of the pictures and the page (default: from SOUNDS).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seeds the SOM.")
@click.option("--force", is_flag=True, help="Replace the outputs of an earlier map in the --out folder.")
@cache_options
@click.pass_context
@handle_errors
def build(ctx, sounds, out_dir, embedding, grid, topology, max_epochs, params, embed_audio, reader, title, seed,
          force, jobs, cache_dir, no_cache, **feature_opts) -> None:
    """Map the sounds of SOUNDS with a self-organising map (Kohonen).

    Each sound becomes one vector (default: 20 MFCCs with deltas and the spectral
    descriptors, mean and standard deviation over frames; any preset with --preset and
    the feature options; or a model's embedding with --embedding), standardised once;
    the map is sized by Vesanto's rule of thumb unless --grid is given.

    \b
    Writes, in --out:
      map.png          units in their majority label's colour, darkened by the U-matrix
      umatrix.png      distance between neighbouring units (dark: a border between timbres)
      hits.png         sounds won by each unit
      map.html         the map to explore: hover a unit for its sounds, click one to hear it
      assignments.csv  each sound's unit, position, label and quantization error
      map.json         the map itself, for `musicnn timbre-map project`

    Sounds that fail are skipped and listed at the end (exit status 3).
    """
    from musicnn.timbre.build import build_map
    from musicnn.timbre.descriptors import Descriptors

    given = {k: v for k, v in feature_opts.items() if v is not None}
    if embedding is not None and given:
        flags = ", ".join("--" + k.replace("_name", "").replace("_", "-") for k in sorted(given))
        raise click.UsageError(f"--embedding describes the sounds by the model's own features: drop {flags}")
    som = parse_params(params)
    if max_epochs is not None:
        som["max_epochs"] = max_epochs
    descriptors = Descriptors.embedding(embedding) if embedding is not None else Descriptors.features(
        feature_opts.pop("preset_name"), **feature_opts)
    quiet = not progress_enabled(ctx)
    log = (lambda msg: None) if quiet else (lambda msg: click.echo(speak_flags(msg)))
    result = build_map(sounds, out_dir, descriptors=descriptors, grid=grid, topology=topology, som=som,
                       embed_audio=embed_audio, reader=reader, title=title, force=force, seed=seed,
                       store=feature_store(cache_dir, no_cache), jobs=jobs, progress=not quiet, log=log)
    tmap = result.map
    click.echo(f"mapped {len(tmap.paths)} sounds on {tmap.cols}x{tmap.rows} units: quantization error "
               f"{tmap.quantization_error:.4f}, topographic error {tmap.topographic_error:.4f} "
               f"in {result.seconds['total']:.1f} s (descriptors {result.seconds['descriptors']:.1f} s, "
               f"SOM {result.seconds['som']:.1f} s, outputs {result.seconds['outputs']:.1f} s)")
    for name, path in result.files.items():
        click.echo(f"wrote {name}: {path}")
    ctx.exit(report_failures(result.failures, "sounds"))


@timbre_map.command("project")
@click.argument("map_file", metavar="MAP", type=click.Path(exists=True))
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--k", "k", type=click.IntRange(1), default=5, show_default=True,
              help="Nearest sounds of the map listed for each file.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="What is printed on stdout.")
@click.option("--out", default=None, type=click.Path(dir_okay=False),
              help="Also write the positions to this .csv or .json file.")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@cache_options
@click.pass_context
@handle_errors
def project(ctx, map_file, files, k, fmt, out, force, jobs, cache_dir, no_cache) -> None:
    """Place audio FILES on the map MAP (a map.json, or the folder holding it).

    Each file is described as the map's sounds were, and gets its unit (row, column),
    its distance to that unit's prototype and the nearest sounds of the map. Files that
    fail are skipped and listed at the end (exit status 3).
    """
    from musicnn.timbre.build import project_sounds, write_projection

    if out is not None and not out.lower().endswith((".csv", ".json")):
        raise click.BadParameter(f"{out!r} must end in .csv or .json", param_hint="--out")
    if out is not None and os.path.exists(out) and not force:
        raise click.BadParameter(f"{out!r} already exists; choose another file or add --force", param_hint="--out")
    proj = project_sounds(map_file, list(files), k=k, store=feature_store(cache_dir, no_cache), jobs=jobs,
                          progress=progress_enabled(ctx))
    rows = proj.to_rows()
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(["path", "unit", "row", "col", "distance", "nearest"])
        for r in rows:
            near = "; ".join(f"{n['name']} ({n['label']}) {n['distance']:.3f}" if n["label"] else
                             f"{n['name']} {n['distance']:.3f}" for n in r["nearest"])
            writer.writerow([r["path"], r["unit"], r["row"], r["col"], f"{r['distance']:.6f}", near])
    else:
        width = max([len(r["path"]) for r in rows] + [4])
        for r in rows:
            near = ", ".join(f"{n['name']}" + (f" ({n['label']})" if n["label"] else "") + f" {n['distance']:.2f}"
                             for n in r["nearest"])
            click.echo(f"{r['path']:<{width}}  unit ({r['row']}, {r['col']})  distance {r['distance']:.3f}  "
                       f"nearest: {near}")
    if out is not None:
        target = write_projection(proj, out, force=force)
        echo_err(f"wrote {len(rows)} positions to {target}")
    ctx.exit(report_failures(proj.failures))


# The shared feature options speak of a model's defaults; here the defaults are the map's.
_HELP = {
    "preset_name": "Describe the sounds by one feature preset (logmel, mfcc, descriptors, chroma; pooled mean/std "
                   "unless --pooling says otherwise) instead of the default MFCC + spectral descriptors.",
    "duration": "Analyse only the first SECONDS of each sound (default: the whole sound).",
}
for _param in build.params:
    if _param.name in _HELP:
        _param.help = _HELP[_param.name]
