"""``map.html``: one self-contained page to explore a timbre map and listen to it.

The page holds its data (a JSON block), its script and its style inline, and fetches
nothing: it works opened from disk (``file://``).  A Content-Security-Policy lets only
its own script run (by hash: no inline handler, no other script, no network request),
so even a file name that slipped through as HTML could not run anything; and nothing
slips through, because every name and label is written by the script as text
(``textContent``), never as markup, and the JSON block escapes ``<``, ``>`` and ``&``.

Audio is either linked (relative URLs from the page to the sound files, so the page and
the sounds move together) or embedded (``embed_audio=True``: each sound as Ogg Vorbis,
mono, at most 22,050 Hz, its first :data:`EMBED_SECONDS` seconds, in a second JSON block decoded on the first click).
The script and style live beside this module (``page.js``, ``page.css``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from musicnn.atomic import atomic_open
from musicnn.errors import MusicnnError
from musicnn.progress import progress_bar
from musicnn.timbre.mapfile import TimbreMap, json_text

__all__ = ["EMBED_SECONDS", "EMBED_SR", "audio_links", "encode_audio", "page_data", "script_json", "write_page"]

#: Seconds of each sound embedded in the page, and their sample rate.
EMBED_SECONDS = 30.0
EMBED_SR = 22050


def _asset(name: str) -> str:
    from importlib import resources

    try:
        return resources.files("musicnn.timbre").joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise MusicnnError(f"musicnn/timbre/{name} is missing from this installation ({exc}); reinstall "
                           "musicnn-atiam") from None


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script type="application/json">`` element.

    ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e`` and ``\\u0026`` (so no
    ``</script>`` or ``<!--`` can close or bend the element), as are the line separators
    U+2028 and U+2029; ``JSON.parse`` reads the same strings back.
    """
    text = json_text(value, allow_nan=False, separators=(",", ":"))
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                       ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return text


def audio_links(paths: Sequence[str], page_dir: str | os.PathLike) -> list[str]:
    """URLs of the sounds relative to the page's folder, each path segment percent-encoded.

    A sound that has no relative path from the page (another drive on Windows) gets its
    ``file://`` URI.
    """
    base = os.path.abspath(page_dir)
    out = []
    for p in paths:
        target = os.path.abspath(p)
        try:
            rel = os.path.relpath(target, base)
        except ValueError:
            out.append(Path(target).as_uri())
            continue
        # the name's own bytes, percent-encoded: a name that is not UTF-8 still links to its file
        out.append("/".join(quote(os.fsencode(part), safe="") for part in Path(rel).parts))
    return out


def encode_audio(path: str | os.PathLike, *, seconds: float = EMBED_SECONDS, sr: int = EMBED_SR) -> str:
    """A ``data:`` URI of the first ``seconds`` of a sound as mono Ogg Vorbis, at its own
    sample rate or ``sr`` Hz if that is lower."""
    import soundfile as sf

    from musicnn.audio.io import load

    y, rate = load(path, sr=None, duration=seconds)
    if rate > sr:
        import soxr

        y, rate = soxr.resample(y, rate, sr).astype(np.float32), sr
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1.0, 1.0), rate, format="OGG", subtype="VORBIS")
    return "data:audio/ogg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{round(255 * min(max(v, 0.0), 1.0)):02x}" for v in rgb[:3])


def page_data(tmap: TimbreMap, *, title: str, audio: str, src: list[str] | None = None) -> dict[str, Any]:
    """What the page's script reads: the grid, the units, the sounds (columns) and their audio."""
    from musicnn.timbre.build import unit_neighbours
    from musicnn.timbre.plots import (
        border_strength,
        caption,
        label_colours,
        unit_borders,
    )

    names = tmap.label_names
    index = {lab: i for i, lab in enumerate(names)}
    pos = tmap.positions()
    umat = tmap.umatrix()
    lo, hi = float(umat.min()), float(umat.max())
    unorm = (umat - lo) / (hi - lo) if hi > lo else np.zeros_like(umat)
    near, near_d = unit_neighbours(tmap)
    segments, edge_dist = unit_borders(tmap)
    strength = border_strength(edge_dist)
    counts = [0] * len(names)
    for lab in tmap.labels:
        if lab:
            counts[index[lab]] += 1
    return {
        "title": title,
        "caption": caption(tmap),
        "grid": {"rows": tmap.rows, "cols": tmap.cols, "topology": tmap.topology},
        "centres": [[round(float(x), 4), round(float(y), 4)] for y, x in pos],
        "labels": names,
        "labelCounts": counts,
        "colours": [_hex(c) for c in label_colours(len(names))],
        "unitLabel": [int(v) for v in tmap.unit_labels()],
        "umatrix": [round(float(v), 4) for v in unorm],
        "umatrixRaw": [round(float(v), 4) for v in umat],
        "borders": [[round(float(v), 4) for v in (*seg[0], *seg[1], s)] for seg, s in zip(segments, strength)
                    if s > 0.05],
        "sounds": {"name": list(tmap.names), "label": [index.get(lab, -1) for lab in tmap.labels],
                   "unit": [int(u) for u in tmap.units], "distance": [round(float(d), 4) for d in tmap.distances]},
        "neighbours": near.tolist(),
        "neighbourDistance": np.round(near_d, 4).tolist(),
        "errors": {"quantization": tmap.quantization_error, "topographic": tmap.topographic_error},
        "audio": audio,
        "src": src if audio == "linked" else None,
    }


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src '{script_hash}'; style-src '{style_hash}'; media-src data: blob: file: http: https:; img-src data:">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p id="caption">{caption}</p>
</header>
<div id="controls">
<fieldset><legend>colour units by</legend>
<label><input type="radio" name="mode" value="labels" id="mode-labels"> majority label</label>
<label><input type="radio" name="mode" value="umatrix" id="mode-umatrix"> U-matrix</label>
<label><input type="radio" name="mode" value="hits" id="mode-hits"> hits</label>
</fieldset>
<label>find a sound <input type="search" id="search" placeholder="part of a file name" autocomplete="off"></label>
<span id="search-count"></span>
<div id="player-box"><audio id="player" controls preload="none"></audio><span id="now-playing">Click a sound to play it.</span></div>
</div>
<main>
<div id="grid-box"><canvas id="grid" aria-label="the map's units"></canvas></div>
<aside>
<div class="panel" id="search-panel"><h3>Search results</h3><ul id="search-results"></ul></div>
<div class="panel"><h2 id="unit-title">Hover a unit to list its sounds; click it to pin it</h2>
<p id="unit-stats"></p>
<div class="scroll"><table><thead><tr><th>sound</th><th>label</th><th>distance</th></tr></thead>
<tbody id="unit-sounds"></tbody></table></div>
<h3>Nearest sounds of other units</h3>
<table><tbody id="unit-neighbours"></tbody></table></div>
<div class="panel"><h3>Labels</h3><ul id="legend"></ul></div>
</aside>
</main>
<script type="application/json" id="map-data">{data}</script>
<script type="application/json" id="map-audio">{audio}</script>
<script>{script}</script>
</body>
</html>
"""


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _encode_one(path: str) -> str | None:
    try:
        return encode_audio(path)
    except (MusicnnError, RuntimeError, OSError):  # libsndfile's errors are RuntimeErrors
        return None


def _encode_all(paths: Sequence[str], links: list[str], jobs: int, progress: bool) -> list[str]:
    """Every sound as a data URI (its link where it cannot be encoded), in ``jobs`` processes."""
    out: list[str] = []
    with progress_bar(len(paths), "embed audio", "sound", progress) as bar:
        if jobs <= 1 or len(paths) < 64:
            results = map(_encode_one, paths)
            for blob, link in zip(results, links):
                out.append(blob or link)
                bar.update(1)
            return out
        import multiprocessing as mp

        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with mp.get_context(method).Pool(jobs) as pool:
            for blob, link in zip(pool.imap(_encode_one, paths, chunksize=32), links):
                out.append(blob or link)
                bar.update(1)
    return out


def write_page(tmap: TimbreMap, path: str | os.PathLike, *, title: str = "Timbre map", embed_audio: bool = False,
               jobs: int = 1, progress: bool = True) -> Path:
    """Write ``map.html`` for a map, atomically.

    Parameters
    ----------
    tmap : TimbreMap
    path : path
        The page; linked audio is addressed relatively from its folder.
    title : str
    embed_audio : bool
        Embed the sounds (Ogg Vorbis data) instead of linking them.  A sound that cannot
        be encoded is linked instead (it is on the map, so it was read once already).
    jobs : int
        Processes that encode the embedded audio.
    progress : bool
    """
    path = Path(path)
    links = audio_links(tmap.paths, path.parent)
    audio_blob: list[str] = []
    if embed_audio:
        audio_blob = _encode_all(tmap.paths, links, jobs, progress)
    data = page_data(tmap, title=title, audio="embedded" if embed_audio else "linked", src=links)
    script, style = _asset("page.js"), _asset("page.css")
    text = _TEMPLATE.format(
        script_hash=_csp_hash(script), style_hash=_csp_hash(style), title=html.escape(title),
        caption=html.escape(data["caption"]).replace("\n", "<br>"), style=style, data=script_json(data),
        audio=script_json(audio_blob), script=script,
    )
    with atomic_open(path) as fh:
        fh.write(text)
    return path
