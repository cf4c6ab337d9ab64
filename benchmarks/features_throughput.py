"""Feature-extraction throughput: `musicnn features` beside the plain librosa loop.

Both sides turn the same 30-second 44.1 kHz stereo WAV files into features at librosa's
defaults (sr=22050, n_fft=2048, hop_length=512, n_mels=128, 20 MFCCs) and both are timed
as whole fresh processes, so each pays its interpreter start-up and imports:

* **reference**: what a user would otherwise write, a per-file loop in one process
  (:data:`REFERENCE`, run with ``python -c``) that keeps the arrays in a list;
* **musicnn**: the command line ``musicnn features DIR --preset P ... --jobs J`` with a
  fresh ``--cache-dir`` (cold), then the same command again on that cache (warm).

The OS file cache is warmed (every file read once, and each side run once untimed on
three files) before timing; the order of the sides is rotated from one repetition to
the next, and each figure is the median of ``--repeats`` runs.

    python benchmarks/features_throughput.py            # 60 clips (30 min of audio), 3 repeats
    python benchmarks/features_throughput.py --quick    # 12 clips, 2 repeats
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
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
    warm_file_cache,
)

#: librosa's defaults, which both sides use.
SR, N_FFT, HOP, N_MELS, N_MFCC = 22050, 2048, 512, 128, 20

#: The reference: a plain loop a user would write.  argv: kind, folder.  It prints the
#: file count, the seconds spent importing librosa and the seconds spent in the loop.
REFERENCE = f"""\
import glob, sys, time
t0 = time.perf_counter()
import librosa
t1 = time.perf_counter()
kind, root = sys.argv[1], sys.argv[2]
feats = []
for path in sorted(glob.glob(root + "/*/*.wav")):
    y, sr = librosa.load(path, sr={SR})
    if kind == "logmel":
        S = librosa.feature.melspectrogram(y=y, sr=sr, n_fft={N_FFT}, hop_length={HOP}, n_mels={N_MELS})
        feats.append(librosa.power_to_db(S))
    else:
        feats.append(librosa.feature.mfcc(y=y, sr=sr, n_mfcc={N_MFCC}, n_fft={N_FFT}, hop_length={HOP}, n_mels={N_MELS}))
print(len(feats), t1 - t0, time.perf_counter() - t1)
"""

#: ``musicnn features`` options per kind: the project's presets moved to librosa's defaults.
MUSICNN_OPTIONS = {
    "logmel": ["--preset", "logmel", "--sr", str(SR), "--n-fft", str(N_FFT), "--hop-length", str(HOP),
               "--n-mels", str(N_MELS)],
    "mfcc": ["--preset", "mfcc", "--sr", str(SR), "--n-fft", str(N_FFT), "--hop-length", str(HOP),
             "--n-mels", str(N_MELS), "--n-mfcc", str(N_MFCC), "--deltas", "0", "--pooling", "none"],
}

WHAT = {
    "logmel": (
        "reference: librosa.load(sr=22050) [soundfile decode, mono mean, soxr_hq], "
        "melspectrogram(n_fft=2048, hop=512, n_mels=128, power 2), power_to_db(ref=1, top_db=80): "
        "(128, 1292) float32 per file, kept in a list",
        "musicnn --preset logmel --sr 22050 --n-fft 2048 --hop-length 512 --n-mels 128: musicnn.audio.io.load "
        "[soundfile decode in blocks, mono mean, soxr HQ], |STFT|^2, float32 mel basis product, "
        "power_to_db(ref=1, top_db=80) [musicnn.spectral: float64 FFT in blocks, no librosa]; (1292, 128) float32 per file written to the cache as .npy, "
        "then all files stacked into one array",
    ),
    "mfcc": (
        "reference: librosa.load(sr=22050), librosa.feature.mfcc(n_mfcc=20, n_fft=2048, hop=512, "
        "n_mels=128) [log-mel with top_db=80, DCT-II ortho]: (20, 1292) float32 frames per file, kept in a list",
        "musicnn --preset mfcc --deltas 0 --pooling none (20 MFCCs) at sr 22050, n_fft 2048, hop 512, "
        "n_mels 128: the same log-mel (top_db=None) and DCT: (1292, 20) float32 frames per file, "
        "cached as .npy, stacked",
    ),
}

_CLI_LINE = re.compile(r"(\d+) files in ([\d.]+) s .*?(\d+) from cache, (\d+) computed")


def _warmup_tree(paths: list[Path], root: Path, k: int = 3) -> Path:
    """A small label tree of symbolic links to the first ``k`` clips (for untimed warm-up runs)."""
    if root.exists():
        shutil.rmtree(root)
    for p in paths[:k]:
        dest = root / p.parent.name / p.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(p, dest)
    return root


def run_reference(kind: str, corpus: Path, n: int) -> dict:
    t = run_timed([sys.executable, "-c", REFERENCE, kind, str(corpus)])
    count, t_import, t_loop = t.stdout.split()
    if int(count) != n:
        raise RuntimeError(f"the reference loop found {count} files in {corpus}, expected {n}")
    return {"wall": t.seconds, "cpu": t.cpu_seconds, "import": float(t_import), "inner": float(t_loop)}


def run_musicnn(kind: str, corpus: Path, n: int, jobs: int, cache: Path, expect_cached: int) -> dict:
    cmd = [venv_bin("musicnn"), "features", str(corpus), *MUSICNN_OPTIONS[kind], "--jobs", str(jobs),
           "--cache-dir", str(cache)]
    t = run_timed(cmd)
    m = _CLI_LINE.search(t.stdout)
    if not m:
        raise RuntimeError(f"unexpected output of {' '.join(cmd)}:\n{t.stdout}")
    files, inner, cached = int(m[1]), float(m[2]), int(m[3])
    if files != n or cached != expect_cached:
        raise RuntimeError(f"{' '.join(cmd)}: {files} files, {cached} from cache; expected {n} and {expect_cached}")
    return {"wall": t.seconds, "cpu": t.cpu_seconds, "inner": inner}


def equivalence(path: Path) -> dict:
    """Compare one file's log-mel from both sides (untimed): shape and largest difference in dB."""
    import librosa
    import numpy as np

    from musicnn.features import extract, preset

    spec = preset("logmel", sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)
    ours = extract(path, spec).T
    y, sr = librosa.load(path, sr=SR)
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS),
                              top_db=spec.top_db)
    return {"shape_ref": list(ref.shape), "shape_musicnn": list(ours.shape),
            "max_abs_diff_db": float(np.max(np.abs(ref - ours))) if ref.shape == ours.shape else None}


def measure(kind: str, corpus: Path, paths: list[Path], repeats: int, jobs_list: list[int], work: Path) -> dict:
    n = len(paths)
    arms = ["librosa"] + [f"musicnn-j{j}" for j in jobs_list]
    times: dict[str, list[dict]] = {a: [] for a in arms}
    times.update({f"musicnn-j{j}-warm": [] for j in jobs_list})
    load_before = loadavg()
    for r in range(repeats):
        k = r % len(arms)
        order = arms[k:] + arms[:k]
        if (r // len(arms)) % 2:
            order.reverse()
        for arm in order:
            if arm == "librosa":
                times[arm].append(run_reference(kind, corpus, n))
            else:
                jobs = int(arm.rsplit("j", 1)[1])
                cache = Path(tempfile.mkdtemp(prefix=f"cache-{kind}-j{jobs}-", dir=work))
                try:
                    times[arm].append(run_musicnn(kind, corpus, n, jobs, cache, expect_cached=0))
                    times[f"{arm}-warm"].append(run_musicnn(kind, corpus, n, jobs, cache, expect_cached=n))
                finally:
                    shutil.rmtree(cache, ignore_errors=True)
            print(f"  {kind} repeat {r + 1}/{repeats} {arm}: {times[arm][-1]['wall']:.2f} s"
                  + (f" (warm {times[arm + '-warm'][-1]['wall']:.2f} s)" if arm != "librosa" else ""),
                  file=sys.stderr, flush=True)
    return {"times": times, "load_before": load_before, "load_after": loadavg()}


def summarise(kind: str, res: dict, n: int, audio_s: float, jobs_list: list[int]) -> list[dict]:
    times = res["times"]
    med = {arm: median([t["wall"] for t in ts]) for arm, ts in times.items()}
    inner = {arm: median([t["inner"] for t in ts]) for arm, ts in times.items()}
    cpu = {arm: median([t["cpu"] for t in ts]) for arm, ts in times.items()}
    ref = med["librosa"]
    rows = [{"kind": kind, "side": "librosa loop", "jobs": 1, "cache": "-", "wall_s": ref, "inner_s": inner["librosa"],
             "cpu_s": cpu["librosa"],
             "files_per_s": n / ref, "x_realtime": audio_s / ref, "vs_librosa": 1.0, "cold_over_warm": None,
             "runs": [t["wall"] for t in times["librosa"]]}]
    for j in jobs_list:
        cold, warm = med[f"musicnn-j{j}"], med[f"musicnn-j{j}-warm"]
        for cache, wall, arm in (("cold", cold, f"musicnn-j{j}"), ("warm", warm, f"musicnn-j{j}-warm")):
            rows.append({"kind": kind, "side": "musicnn features", "jobs": j, "cache": cache, "wall_s": wall,
                         "inner_s": inner[arm], "cpu_s": cpu[arm], "files_per_s": n / wall, "x_realtime": audio_s / wall,
                         "vs_librosa": ref / wall, "cold_over_warm": cold / warm if cache == "warm" else None,
                         "runs": [t["wall"] for t in times[arm]]})
    return rows


def table(rows: list[dict]) -> str:
    header = ["features", "side", "jobs", "cache", "wall s (median)", "in-process s", "CPU s", "files/s", "× real time",
              "speed vs librosa loop", "cold/warm"]
    body = [[r["kind"], r["side"], str(r["jobs"]), r["cache"], f"{r['wall_s']:.2f}", f"{r['inner_s']:.2f}",
             f"{r['cpu_s']:.2f}", f"{r['files_per_s']:.2f}", f"{r['x_realtime']:.0f}", f"{r['vs_librosa']:.2f}×",
             f"{r['cold_over_warm']:.1f}×" if r["cold_over_warm"] else ""] for r in rows]
    return markdown_table(header, body)


def verdicts(rows: list[dict]) -> list[str]:
    out = []
    for r in rows:
        if r["side"] != "musicnn features":
            continue
        if r["cache"] == "cold" and r["jobs"] == 2:
            ok = r["vs_librosa"] >= 2.0
            out.append(f"{r['kind']}: --jobs 2 cold is {r['vs_librosa']:.2f}× the librosa loop's throughput "
                       f"(target >= 2×): {'met' if ok else 'MISSED'}")
        if r["cache"] == "warm":
            ok = r["cold_over_warm"] >= 20.0
            out.append(f"{r['kind']}: --jobs {r['jobs']} warm run is {r['cold_over_warm']:.1f}× faster than cold "
                       f"(target >= 20×): {'met' if ok else 'MISSED'}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=None,
                        help="corpus folder (default: <work>/corpus-n<N>-s<seed>, rendered if missing)")
    parser.add_argument("--work", default=None, help="scratch folder (default: $MUSICNN_BENCH_DIR or /tmp/musicnn-bench)")
    parser.add_argument("--n", type=int, default=None, help="number of 30-s clips (default 60; --quick: 12)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per measurement, the median is reported (default 3; --quick: 2)")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values for musicnn (default 1,2)")
    parser.add_argument("--kinds", default="logmel,mfcc", help="comma-separated: logmel, mfcc")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--quick", action="store_true", help="a smaller run: 12 clips, 2 repeats")
    args = parser.parse_args(argv)
    args.n = args.n or (12 if args.quick else 60)
    args.repeats = args.repeats or (2 if args.quick else 3)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if not kinds or any(k not in MUSICNN_OPTIONS for k in kinds):
        parser.error("--kinds takes logmel and/or mfcc")
    jobs_list = [int(j) for j in args.jobs.split(",")]

    from corpus import CLIP_S, corpus_dir, make_corpus

    info = machine_info()
    print_machine(info)
    work = Path(args.work) if args.work else default_work_dir()
    work.mkdir(parents=True, exist_ok=True)
    corpus = Path(args.corpus) if args.corpus else corpus_dir(work, args.n, args.seed)
    t0 = time.perf_counter()
    paths = make_corpus(corpus, args.n, seed=args.seed)
    found = sorted(corpus.glob("*/*.wav"))
    if sorted(paths) != found:
        parser.error(f"{corpus} holds {len(found)} WAV files, not exactly the {args.n} of this corpus; "
                     "use an empty folder")
    print(f"corpus: {corpus}: {args.n} clips of {CLIP_S:g} s, 44.1 kHz stereo 16-bit "
          f"(ready in {time.perf_counter() - t0:.1f} s)")
    audio_s = args.n * CLIP_S

    nbytes = warm_file_cache(paths)
    print(f"OS file cache warmed: {nbytes / 1e6:.0f} MB read")
    eq = equivalence(paths[0])
    print(f"check on {paths[0].name}: log-mel shapes librosa {tuple(eq['shape_ref'])} / musicnn (transposed) "
          f"{tuple(eq['shape_musicnn'])}; largest difference {eq['max_abs_diff_db']:.4f} dB "
          "(both floored 80 dB under the clip's peak)")
    tree = _warmup_tree(paths, work / "warmup-tree")
    for kind in kinds:  # untimed: loads libraries and byte code into the OS cache
        run_timed([sys.executable, "-c", REFERENCE, kind, str(tree)])
        with tempfile.TemporaryDirectory(dir=work) as cache:
            for j in jobs_list:
                run_timed([venv_bin("musicnn"), "features", str(tree), *MUSICNN_OPTIONS[kind], "--jobs", str(j),
                           "--cache-dir", cache])

    rows, loads = [], {}
    for kind in kinds:
        res = measure(kind, corpus, paths, args.repeats, jobs_list, work)
        loads[kind] = (res["load_before"], res["load_after"])
        rows += summarise(kind, res, args.n, audio_s, jobs_list)

    print()
    print(f"## Feature extraction: {args.n} files × {CLIP_S:g} s ({audio_s / 60:.0f} min of 44.1 kHz stereo WAV), "
          f"median of {args.repeats}")
    print()
    print(table(rows))
    print()
    print("Wall time is measured around each whole process: interpreter start-up, imports and, for musicnn, "
          "the folder scan, the cache and the final stacking are included on both sides. 'in-process s' is "
          "the time each side reports for its own loop (librosa: after `import librosa`, which is lazy, so the "
          "imports of its submodules, about 1.5 s, fall inside the loop; musicnn: its 'N files in X s' line, which "
          "includes the workers' imports); 'CPU s' is the user + system time of the process and its workers. Cold: a fresh --cache-dir; warm: the same command again on that cache.")
    for kind in kinds:
        ref_what, ours_what = WHAT[kind]
        print(f"- {kind}: {ref_what}.\n  {ours_what}.")
    print()
    for line in verdicts(rows):
        print(f"- {line}")
    print()
    print("load average (1/5/15 min) before/after each kind: "
          + "; ".join(f"{k}: {a} -> {b}" for k, (a, b) in loads.items()))
    print(f"command: {command_line()}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "benchmark": "features_throughput", "command": command_line(), "machine": info,
            "corpus": {"path": str(corpus), "n": args.n, "clip_s": CLIP_S, "seed": args.seed},
            "repeats": args.repeats, "reference_code": REFERENCE, "what": WHAT, "equivalence": eq,
            "rows": rows, "verdicts": verdicts(rows), "loadavg": loads,
        }, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
