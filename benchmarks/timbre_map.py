"""Timbre maps (issue 11): build time, page load time, and our SOM beside MiniSom, in one run.

Three figures:

1. **Build**: ``musicnn timbre-map SOUNDS --out DIR --jobs 2`` on 2,000 one-second sounds
   (rendered notes of the embedded instrument set, cut to their first second), as a whole
   process (imports included), with an empty feature cache, then again with the cache
   filled (``--force``); the command's own breakdown (descriptors, SOM, outputs) is kept.
2. **Page load**: ``map.html`` of 5,000 sounds opened from disk in headless Chromium
   (selenium, Debian's chromedriver), from navigation start to the page's ready mark (data
   parsed, grid drawn, handlers set), median of 5 fresh loads; then the time to list the
   busiest unit on hover.  The 5,000 sounds are real cuts of the 2,490 notes: the 2,000 of
   the build (linked, so their features come from the cache), the first second of the 490
   other notes, and 2,510 second cuts from 0.25 s (0.125 s for the last 20): most notes
   appear twice; silent cuts are skipped.  Linked audio, and the same map with the audio
   embedded (Ogg Vorbis).
3. **SOM vs MiniSom** on the 2,000 standardised descriptor vectors of the build, same
   grid (the map's own, from Vesanto's rule), same number of presentations (20 epochs),
   same schedules (sigma and the learning rate decay as ``v0 / (1 + 2t/T)``: MiniSom's
   "asymptotic" decay, musicnn's ``decay="inverse"`` with final values ``v0 / 3``), sigma0
   half the longer side, eta0 0.5, PCA initialisation on both; both maps scored by the
   same code (quantization error; topographic error with 4 and with 8 grid neighbours).
   The batch map that ``timbre-map`` trains by default is given beside MiniSom's batch
   training (30 epochs each, each with its own default schedule).

    python benchmarks/timbre_map.py [--notes DIR] [--json PATH]                 # build, som
    python benchmarks/timbre_map.py [--notes DIR] --parts page,embedded [--json PATH]

Each stays under about 5 minutes on a busy 2-core machine (the second builds the 5,000-sound
map on its first run).

Notes are rendered on first use into ``$MUSICNN_BENCH_DIR`` (``musicnn datasets build
instruments``, about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from _bench import (
    command_line,
    default_work_dir,
    loadavg,
    machine_info,
    markdown_table,
    print_machine,
    run_timed,
    venv_bin,
)

N_BUILD = 2000
N_PAGE = 5000
EPOCHS = 20
ETA0 = 0.5


def notes_dir(given: Path | None, work: Path) -> Path:
    if given is not None:
        return given
    target = work / "instrument-notes"
    if not (target / "manifest.csv").is_file():
        print(f"rendering the instrument notes into {target} ...", flush=True)
        run_timed([venv_bin("musicnn"), "-q", "datasets", "build", "instruments", "--out", str(target), "--jobs", "2"])
    return target


def cut_sounds(notes: list[Path], root: Path, out: Path, cuts: list[tuple[int, float]],
               reuse: list[Path] = ()) -> Path:
    """Write one-second cuts ``(note index, offset s)`` into ``out/<label>/``; the files of
    ``reuse`` are linked in (symbolic links: the feature cache knows them by their target)."""
    import soundfile as sf

    if out.exists():
        shutil.rmtree(out)
    for f in reuse:
        target = out / f.parent.name / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(f.resolve())
    for i, offset in cuts:
        note = notes[i]
        info = sf.info(note)
        start = round(offset * info.samplerate)
        y, sr = sf.read(note, start=start, stop=start + info.samplerate, dtype="float32")
        label = note.relative_to(root).parts[0]
        target = out / label / f"{note.stem}_at{offset:.2f}s.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        sf.write(target, y, sr, subtype="PCM_16")
    return out


def build(sounds: Path, out: Path, cache: Path, extra: list[str] | None = None) -> dict:
    cmd = [venv_bin("musicnn"), "timbre-map", str(sounds), "--out", str(out), "--jobs", "2", "--cache-dir",
           str(cache), "--force", *(extra or [])]
    timed = run_timed(cmd, check=False)
    if timed.returncode not in (0, 3):  # 3: done, some sounds skipped (listed on stderr)
        raise RuntimeError(f"{' '.join(cmd)} failed ({timed.returncode}):\n{timed.stdout[-2000:]}\n{timed.stderr[-2000:]}")
    skipped = re.search(r"(\d+) sounds skipped", timed.stderr)
    line = next(ln for ln in timed.stdout.splitlines() if ln.startswith("mapped "))
    parts = {k: float(v) for k, v in re.findall(r"(descriptors|SOM|outputs) ([\d.]+) s", line)}
    return {"wall": timed.seconds, "cpu": timed.cpu_seconds, "line": line, "skipped": int(skipped.group(1)) if skipped else 0,
            **parts}


# -- the page --------------------------------------------------------------------------------
def browser():
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    drv.set_window_size(1400, 900)
    return drv


def page_load(drv, page: Path, repeats: int = 5) -> dict:
    from selenium.webdriver.support.ui import WebDriverWait

    ready, loaded = [], []
    for _ in range(repeats):
        drv.get("about:blank")
        drv.get(page.resolve().as_uri())
        WebDriverWait(drv, 120).until(lambda d: d.execute_script(
            "return document.documentElement.getAttribute('data-ready') === '1'"))
        ready.append(drv.execute_script("return window.timbreMap.readyAt"))
        loaded.append(drv.execute_script(
            "var t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd || t.domComplete;"))
    units = drv.execute_script("return JSON.parse(document.getElementById('map-data').textContent).sounds.unit")
    busiest = max(set(units), key=units.count)
    # the page's own work for one hover: the handler, the unit's list built, the layout done
    hover_ms, rows = drv.execute_script(
        "var c = document.getElementById('grid'), r = c.getBoundingClientRect(), p = window.timbreMap.centre(arguments[0]);"
        "var e = new MouseEvent('mousemove', {clientX: r.left + p[0], clientY: r.top + p[1], bubbles: true});"
        "var t = performance.now(); c.dispatchEvent(e); document.getElementById('unit-sounds').offsetHeight;"
        "return [performance.now() - t, document.querySelectorAll('#unit-sounds tr').length];", busiest)
    return {"ready_ms": statistics.median(ready), "load_ms": statistics.median(loaded), "runs_ready_ms": ready,
            "hover_ms": hover_ms, "hover_rows": rows, "busiest_hits": units.count(busiest),
            "bytes": page.stat().st_size}


# -- SOM vs MiniSom ------------------------------------------------------------------------------
def scores(W: np.ndarray, X: np.ndarray) -> dict[str, float]:
    _, cols, d = W.shape
    Wf, Xf = W.reshape(-1, d).astype(np.float64), X.astype(np.float64)
    d2 = (Xf * Xf).sum(1)[:, None] - 2 * Xf @ Wf.T + (Wf * Wf).sum(1)[None]
    best2 = np.argsort(d2, axis=1)[:, :2]
    qe = float(np.sqrt(np.maximum(d2[np.arange(len(X)), best2[:, 0]], 0)).mean())
    r, c = np.divmod(best2, cols)
    gap = np.hypot(r[:, 0] - r[:, 1], c[:, 0] - c[:, 1])
    return {"qe": qe, "te4": float(np.mean(gap > 1.0 + 1e-9)), "te8": float(np.mean(gap > 1.5))}


def som_versus_minisom(X: np.ndarray, rows: int, cols: int) -> dict:
    from minisom import MiniSom

    from musicnn.models.classic.som import SOM
    from musicnn.timbre.build import SOM_DEFAULTS

    n = len(X)
    presentations = EPOCHS * n
    sigma0 = max(rows, cols) / 2.0
    out = {}

    def minisom(how: str, epochs: int, data: np.ndarray = X, n_pres: int = presentations):
        t0 = time.perf_counter()
        som = MiniSom(rows, cols, data.shape[1], sigma=sigma0, learning_rate=ETA0, neighborhood_function="gaussian",
                      topology="rectangular", decay_function="asymptotic_decay",
                      sigma_decay_function="asymptotic_decay", random_seed=0)
        som.pca_weights_init(data)
        som.train_random(data, n_pres) if how == "online" else som.train_batch_offline(data, epochs)
        return time.perf_counter() - t0, som.get_weights()

    def ours(**kw):
        som = SOM(rows, cols, standardize=False, progress=False, seed=0, **kw)
        t0 = time.perf_counter()
        som.fit(X)
        return time.perf_counter() - t0, som.weights_

    same = dict(mode="online", max_samples=presentations, sigma=sigma0, sigma_final=sigma0 / 3, lr=ETA0,
                lr_final=ETA0 / 3, decay="inverse", init="pca", neighborhood="gaussian")
    batch_epochs = int(SOM_DEFAULTS["max_epochs"])
    minisom("online", 1, X[:200], 200)  # warm-up of both sides: imports, first calls
    ours(**{**same, "max_samples": n})
    runs = {
        "MiniSom train_random (online)": lambda: minisom("online", EPOCHS),
        "musicnn SOM online, same schedule": lambda: ours(**same),
        f"MiniSom train_batch_offline ({batch_epochs} epochs)": lambda: minisom("batch", batch_epochs),
        f"musicnn SOM batch, timbre-map default ({batch_epochs} epochs)": lambda: ours(**SOM_DEFAULTS),
    }
    for name, fn in runs.items():
        dt, W = fn()
        out[name] = {"seconds": dt, **scores(np.asarray(W), X)}
    return {"presentations": presentations, "sigma0": sigma0, "results": out}


PARTS = ("build", "som", "page", "embedded")


def make_5000(notes: list[Path], root: Path, work: Path, picks: np.ndarray, sounds: Path, cache: Path) -> dict:
    """The 5,000-sound map: the 2,000 cuts (linked, cached), the other notes' first second,
    then second cuts from 0.25 s (0.125 s for the last)."""
    used = {int(i) for i in picks}
    cuts = [(i, 0.0) for i in range(len(notes)) if i not in used] + [(i, 0.25) for i in range(len(notes))]
    cuts += [(i, 0.125) for i in range(N_PAGE)]
    big = cut_sounds(notes, root, work / "sounds-5000", cuts[:N_PAGE - N_BUILD], reuse=sorted(sounds.rglob("*.wav")))
    return build(big, work / "map-5000", cache)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notes", type=Path, default=None, help="rendered instrument notes (default: rendered)")
    parser.add_argument("--parts", default="build,som",
                        help=f"comma-separated parts to run, of {','.join(PARTS)} (embedded: the 5,000-sound page "
                             "with its audio embedded, about 1.5 more minutes; page and embedded reuse the "
                             "5,000-sound map of an earlier run)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or set(parts) - set(PARTS):
        parser.error(f"--parts takes {', '.join(PARTS)}")

    from musicnn.timbre import load_map

    info = machine_info()
    work = default_work_dir() / "timbre-map"
    work.mkdir(parents=True, exist_ok=True)
    root = notes_dir(args.notes, default_work_dir())
    notes = sorted(root.rglob("*.wav"))
    picks = np.linspace(0, len(notes) - 1, N_BUILD).round().astype(int)
    cache = work / "cache"
    figures: dict = {"machine": info, "command": command_line(), "notes": str(root), "n_notes": len(notes)}
    loads = [loadavg()]
    sounds = work / "sounds-2000"
    if "build" in parts or not (work / "map-2000" / "map.json").is_file():
        sounds = cut_sounds(notes, root, sounds, [(int(i), 0.0) for i in picks])
        shutil.rmtree(cache, ignore_errors=True)
        figures["build"] = {"cold": build(sounds, work / "map-2000", cache),
                            "warm": build(sounds, work / "map-2000", cache)}
        loads.append(loadavg())
    tmap = load_map(work / "map-2000" / "map.json")
    if "som" in parts:
        figures["som"] = som_versus_minisom(tmap.vectors, tmap.rows, tmap.cols)
        figures["som"]["grid"] = f"{tmap.cols}x{tmap.rows}"
        loads.append(loadavg())
    pages = []
    if "page" in parts or "embedded" in parts:
        if "build" in parts or not (work / "map-5000" / "map.json").is_file():
            figures["build_5000"] = make_5000(notes, root, work, picks, sounds, cache)
        from musicnn.timbre.page import write_page

        big_map = load_map(work / "map-5000" / "map.json")
        if "page" in parts:  # written again from map.json: the page of the code that runs
            pages.append(("linked audio", write_page(big_map, work / "map-5000" / "map.html", title="5,000 sounds",
                                                     progress=False)))
        if "embedded" in parts:
            t0 = time.perf_counter()
            pages.append(("embedded audio", write_page(big_map, work / "map-5000" / "map-embedded.html",
                                                       title="5,000 sounds, embedded", embed_audio=True, jobs=2,
                                                       progress=False)))
            figures["embed_seconds"] = time.perf_counter() - t0
        drv = browser()
        try:
            figures["pages"] = {kind: page_load(drv, page) for kind, page in pages}
        finally:
            drv.quit()
        loads.append(loadavg())
    report(figures, tmap, big_map if pages else None)
    print()
    print_machine(info)
    print(f"load average (1/5/15 min) at the start and after each part: {'; '.join(loads)}")
    print(f"command: {command_line()}")
    figures["loadavg"] = loads
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0


def report(figures: dict, tmap, big_map) -> None:
    if "build" in figures:
        cold, warm = figures["build"]["cold"], figures["build"]["warm"]
        print(f"Build: {N_BUILD} one-second sounds (cuts of rendered notes), `musicnn timbre-map --jobs 2`, "
              "whole process")
        runs = [("empty cache", cold), ("cache filled", warm)]
        if "build_5000" in figures:
            runs.append((f"{N_PAGE} sounds (2,000 of them cached)", figures["build_5000"]))
        rows = [[name, f"{r['wall']:.1f}", f"{r['cpu']:.1f}", f"{r.get('descriptors', 0):.1f}",
                 f"{r.get('SOM', 0):.2f}", f"{r.get('outputs', 0):.1f}", str(r["skipped"])] for name, r in runs]
        print(markdown_table(["run", "wall s", "CPU s", "descriptors s", "SOM s", "outputs s", "skipped"], rows))
        print(f"  {cold['line']}")
    if "som" in figures:
        som = figures["som"]
        print()
        print(f"SOM vs MiniSom: {len(tmap.vectors)} x {tmap.vectors.shape[1]} standardised descriptors, {som['grid']} "
              f"rectangular, {som['presentations']:,} presentations online, sigma0 {som['sigma0']:g}, eta0 {ETA0:g}")
        res = som["results"]
        rows = [[name, f"{r['seconds']:.2f}", f"{r['qe']:.4f}", f"{r['te4']:.4f}", f"{r['te8']:.4f}"]
                for name, r in res.items()]
        print(markdown_table(["run", "train s", "quantization error", "topographic error (4 nb)",
                              "topographic error (8 nb)"], rows))
        names = list(res)
        for ours_name, ref_name in ((names[1], names[0]), (names[3], names[2])):
            a, b = res[ours_name], res[ref_name]
            print(f"  {ours_name} / {ref_name}: quantization error x{a['qe'] / b['qe']:.3f}, topographic error "
                  f"(4 nb) x{a['te4'] / max(b['te4'], 1e-12):.3f}, (8 nb) x{a['te8'] / max(b['te8'], 1e-12):.3f}, "
                  f"time x{a['seconds'] / b['seconds']:.3f}")
    if "pages" in figures:
        print()
        print(f"Page: {len(big_map.paths)} sounds ({big_map.cols}x{big_map.rows} units) in headless Chromium from "
              f"file://, median of 5 loads")
        rows = [[kind, f"{p['bytes'] / 1e6:.1f}", f"{p['ready_ms']:.0f}", f"{p['load_ms']:.0f}",
                 f"{p['hover_ms']:.1f} ({p['hover_rows']} rows)"] for kind, p in figures["pages"].items()]
        print(markdown_table(["page", "MB", "ready ms", "load event ms", "one hover, busiest unit ms"], rows))
        if "embed_seconds" in figures:
            print(f"  embedding the audio of {len(big_map.paths)} sounds (2 processes) took "
                  f"{figures['embed_seconds']:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
