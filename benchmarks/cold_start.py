"""Cold start: wall time of fresh `musicnn` processes, beside the bare interpreter and imports.

Measured, each as the median of ``--repeats`` fresh processes (after one untimed run that
loads the files into the OS cache), in rotating order:

* ``musicnn --help`` (target: under 0.3 s);
* ``musicnn classify clip.wav`` with the shipped model (target: under 1.8 s), and on one
  short note (peak memory target: under 300 MB);
* ``musicnn classify MODEL clip.wav`` on one 30-second clip of the benchmark corpus, with
  models trained for the occasion on a tiny instrument set (bass and flute, 2 programs
  each, one note per octave, velocity 100) in a temporary folder: an MLP and a CNN
  (5 epochs), and the numpy families perceptron, RBF and SOM (target: under 1.0 s);
* references: ``python -c pass`` and the imports that those commands cannot avoid
  (numpy, click, torch, scikit-learn, librosa up to its first STFT).

When ``musicnn --help`` misses its target (or with ``--importtime``), the largest entries
of ``python -X importtime`` are listed.

    python benchmarks/cold_start.py            # 5 runs each
    python benchmarks/cold_start.py --quick    # 3 runs each
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import (  # noqa: E402
    command_line,
    default_work_dir,
    loadavg,
    machine_info,
    markdown_table,
    median,
    print_machine,
    run_timed,
    venv_bin,
)

HELP_TARGET_S = 0.3
#: issue 13's targets: seconds for the shipped model and for a numpy family; MB for a short file
SHIPPED_TARGET_S, NUMPY_TARGET_S, SHORT_FILE_TARGET_MB = 1.8, 1.0, 300.0
NUMPY_FAMILIES = ("perceptron", "rbf", "som")


def importtime(cmd: list[str], top: int = 12) -> tuple[float, list[tuple[str, float, float]]]:
    """Total import seconds of a command and its largest top-level imports (name, cumulative s, self s)."""
    t = run_timed([sys.executable, "-X", "importtime", *cmd], check=False)
    entries = []
    for line in t.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3:
            continue
        self_us, cum_us, name = parts
        try:
            self_s, cum_s = int(self_us) / 1e6, int(cum_us) / 1e6
        except ValueError:  # the header line
            continue
        if not name.startswith("  "):  # top level: their cumulative times add up to the total
            entries.append((name.strip(), cum_s, self_s))
    total = sum(c for _, c, _ in entries)
    entries.sort(key=lambda e: -e[1])
    return total, entries[:top]


def make_models(work: Path, log) -> tuple[dict[str, Path], Path]:
    """Render the tiny instrument set and train a quick model of each family measured;
    return the model files and one note of the set."""
    musicnn = venv_bin("musicnn")
    data = work / "instruments"
    cache = work / "feature-cache"
    t = run_timed([musicnn, "datasets", "build", "instruments", "--out", str(data), "--families", "bass,flute",
                   "--max-programs", "2", "--pitch-step", "12", "--velocities", "100"])
    log(f"instrument set: {t.stdout.strip()} ({t.seconds:.1f} s)")
    models = {}
    for family in ("mlp", "cnn", *NUMPY_FAMILIES):
        out = work / f"{family}.safetensors"
        epochs = ["--epochs", "5"] if family in ("mlp", "cnn") else []
        t = run_timed([musicnn, "--quiet", "train", "--data", str(data), "--model", family, "--out", str(out),
                       *epochs, "--cache-dir", str(cache)])
        log(f"trained {family}: {out.name} ({t.seconds:.1f} s)")
        models[family] = out
    return models, sorted(data.glob("*/*.wav"))[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=None, help="fresh processes per command (default 5; --quick: 3)")
    parser.add_argument("--work", default=None, help="scratch folder (default: $MUSICNN_BENCH_DIR or /tmp/musicnn-bench)")
    parser.add_argument("--file", default=None, help="the clip to classify (default: clip 0 of the benchmark corpus)")
    parser.add_argument("--importtime", action="store_true", help="list the largest imports of every musicnn command")
    parser.add_argument("--keep", action="store_true", help="keep the trained models (printed) instead of deleting them")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--quick", action="store_true", help="3 runs per command")
    args = parser.parse_args(argv)
    args.repeats = args.repeats or (3 if args.quick else 5)

    from corpus import corpus_dir, make_corpus

    info = machine_info()
    print_machine(info)
    work = Path(args.work) if args.work else default_work_dir()
    work.mkdir(parents=True, exist_ok=True)
    clip = Path(args.file) if args.file else make_corpus(corpus_dir(work, 60), 1)[0]
    tmp = Path(tempfile.mkdtemp(prefix="cold-start-", dir=work))
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    try:
        models, note_wav = make_models(tmp, log)
        musicnn = venv_bin("musicnn")
        py = sys.executable
        commands: dict[str, tuple[str, list[str]]] = {
            "python -c pass": ("reference", [py, "-c", "pass"]),
            "python -c 'import numpy'": ("reference", [py, "-c", "import numpy"]),
            "python -c 'import click'": ("reference", [py, "-c", "import click"]),
            "python -c 'import torch'": ("reference", [py, "-c", "import torch"]),
            "python -c 'import sklearn.base'": ("reference", [py, "-c", "import sklearn.base"]),
            "python -c 'import librosa; librosa.stft(...)'": (
                "reference", [py, "-c", "import numpy, librosa; librosa.stft(numpy.zeros(4096, 'float32'))"]),
            "musicnn --help": ("musicnn", [musicnn, "--help"]),
            "musicnn --version": ("musicnn", [musicnn, "--version"]),
            "musicnn classify clip.wav (shipped model)": ("musicnn", [musicnn, "classify", str(clip)]),
            "musicnn classify note.wav (shipped model)": ("musicnn", [musicnn, "classify", str(note_wav)]),
            "musicnn classify MLP clip.wav": ("musicnn", [musicnn, "classify", str(models["mlp"]), str(clip)]),
            "musicnn classify CNN clip.wav": ("musicnn", [musicnn, "classify", str(models["cnn"]), str(clip)]),
            **{f"musicnn classify {f} clip.wav": ("musicnn", [musicnn, "classify", str(models[f]), str(clip)])
               for f in NUMPY_FAMILIES},
        }
        targets_s = {"musicnn --help": HELP_TARGET_S, "musicnn classify clip.wav (shipped model)": SHIPPED_TARGET_S,
                     **{f"musicnn classify {f} clip.wav": NUMPY_TARGET_S for f in NUMPY_FAMILIES}}
        for _, cmd in commands.values():  # untimed: libraries and byte code into the OS cache
            run_timed(cmd)
        load_before = loadavg()
        times: dict[str, list[float]] = {name: [] for name in commands}
        peaks: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for r in range(args.repeats):
            k = (r * 3) % len(names)
            order = names[k:] + names[:k]
            if r % 2:
                order.reverse()
            for name in order:
                t = run_timed(commands[name][1])
                times[name].append(t.seconds)
                peaks[name].append(t.peak_rss_mb)
            log(f"  repeat {r + 1}/{args.repeats} done")
        load_after = loadavg()

        help_s = median(times["musicnn --help"])
        rows, out_rows = [], []
        for name, (side, _) in commands.items():
            med, peak = median(times[name]), max(peaks[name])
            notes = []
            if name in targets_s:
                notes.append(f"target < {targets_s[name]} s: {'met' if med < targets_s[name] else 'MISSED'}")
            if name == "musicnn classify note.wav (shipped model)":
                notes.append(f"target < {SHORT_FILE_TARGET_MB:.0f} MB: "
                             f"{'met' if peak < SHORT_FILE_TARGET_MB else 'MISSED'}")
            note = "; ".join(notes)
            rows.append([side, f"`{name}`", f"{med:.3f}", f"{min(times[name]):.3f}", f"{max(times[name]):.3f}",
                         f"{peak:.0f}", note])
            out_rows.append({"side": side, "command": name, "median_s": med, "runs": times[name],
                             "peak_rss_mb": peak, "note": note})

        print()
        print(f"## Cold start: fresh processes, median of {args.repeats}")
        print()
        print(markdown_table(["side", "command", "median s", "min s", "max s", "peak MB", "note"], rows))
        print()
        print(f"clip classified: {clip} (30 s, 44.1 kHz stereo); note: {note_wav.name} (1.5 s, 16 kHz mono); "
              "models: the shipped CNN, and 5-epoch MLP (pooled MFCC) and CNN (log-mel frames), perceptron, "
              "RBF and SOM (their defaults) trained on 15 rendered notes (bass, flute); classify resamples the "
              "clip to the model's rate and averages the model's windows (its clip length, half overlap). "
              "Peak MB: the largest resident memory of the process over the runs.")
        print(f"load average (1/5/15 min) before/after: {load_before} -> {load_after}")

        report_imports = {}
        targets = []
        if help_s >= HELP_TARGET_S or args.importtime:
            targets.append(("musicnn --help", [musicnn, "--help"]))
        targets.append(("musicnn classify clip.wav (shipped model)", [musicnn, "classify", str(clip)]))
        targets.append(("musicnn classify perceptron clip.wav", [musicnn, "classify", str(models["perceptron"]),
                                                                 str(clip)]))
        if args.importtime:
            targets.append(("musicnn classify MLP clip.wav", [musicnn, "classify", str(models["mlp"]), str(clip)]))
        for name, cmd in targets:
            total, top = importtime(cmd)
            report_imports[name] = {"total_s": total, "top": top}
            print()
            print(f"### `python -X importtime` of `{name}`: {total:.2f} s of imports; largest top-level imports")
            print()
            print(markdown_table(["module", "cumulative s", "self s"], [[m, f"{c:.3f}", f"{s:.3f}"] for m, c, s in top]))
        print()
        print(f"command: {command_line()}")
        if args.json:
            Path(args.json).write_text(json.dumps({
                "benchmark": "cold_start", "command": command_line(), "machine": info, "clip": str(clip),
                "repeats": args.repeats, "rows": out_rows, "importtime": report_imports,
                "loadavg": [load_before, load_after],
            }, indent=2))
            print(f"wrote {args.json}")
    finally:
        if args.keep:
            print(f"models kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
