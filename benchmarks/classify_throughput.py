"""Classification throughput: one batched `musicnn classify` call beside one call per file.

N clips of 30 s of the benchmark corpus (44.1 kHz stereo WAV) are classified with the same
model file in two ways, both timed around whole processes:

* reference: what a user would otherwise do, one ``musicnn classify MODEL clip.wav``
  process per file, one after the other (each pays the interpreter, torch, librosa...);
* musicnn: one ``musicnn classify MODEL clip_1.wav ... clip_N.wav --out results.csv`` call:
  files streamed, windows of several files in each forward pass, results written as each
  file completes.

Reported: wall seconds, files/s, x real time (seconds of audio per wall second), the
speed-up, and whether both ways give every file the same label.  The model is a small MLP
(pooled MFCC) or CNN (log-mel frames) trained for the occasion on a tiny rendered
instrument set (``--family``), or any model file (``--model``).

    python benchmarks/classify_throughput.py              # 20 clips, MLP
    python benchmarks/classify_throughput.py --n 60 --family cnn
    python benchmarks/classify_throughput.py --quick      # 6 clips
"""

from __future__ import annotations

import argparse
import csv
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
    warm_file_cache,
)

CLIP_S = 30.0


def train_model(work: Path, family: str, log) -> Path:
    """Render a tiny instrument set (bass, flute; 2 programs each) and train a quick model on it."""
    musicnn = venv_bin("musicnn")
    data = work / "instruments"
    t = run_timed([musicnn, "datasets", "build", "instruments", "--out", str(data), "--families", "bass,flute",
                   "--max-programs", "2", "--pitch-step", "12", "--velocities", "100"])
    log(f"instrument set: {t.stdout.strip()} ({t.seconds:.1f} s)")
    out = work / f"{family}.safetensors"
    t = run_timed([musicnn, "--quiet", "train", "--data", str(data), "--model", family, "--out", str(out),
                   "--epochs", "5", "--cache-dir", str(work / "cache")])
    log(f"trained {family}: {out.name} ({t.seconds:.1f} s)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=None, help="30-s clips classified (default 20; --quick: 6)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of each side (median reported)")
    parser.add_argument("--family", default="mlp", help="model family trained when --model is not given (mlp, cnn)")
    parser.add_argument("--model", default=None, help="a model file to use instead of training one")
    parser.add_argument("--corpus", default=None, help="corpus folder (default: the benchmark corpus, 60 clips)")
    parser.add_argument("--work", default=None, help="scratch folder (default: $MUSICNN_BENCH_DIR or /tmp/musicnn-bench)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values of the batched call (default 1,2)")
    parser.add_argument("--quick", action="store_true", help="6 clips")
    args = parser.parse_args(argv)
    n = args.n or (6 if args.quick else 20)

    from corpus import corpus_dir, make_corpus

    info = machine_info()
    print_machine(info)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    work = Path(args.work) if args.work else default_work_dir()
    work.mkdir(parents=True, exist_ok=True)
    corpus = Path(args.corpus) if args.corpus else corpus_dir(work, 60)
    clips = make_corpus(corpus, n, verbose=True)
    warm_file_cache(clips)
    tmp = Path(tempfile.mkdtemp(prefix="classify-throughput-", dir=work))
    try:
        model = Path(args.model) if args.model else train_model(tmp, args.family, log)
        musicnn = venv_bin("musicnn")
        # untimed: byte code, libraries and the clips into the OS cache
        run_timed([musicnn, "--quiet", "classify", str(model), str(clips[0])])
        load_before = loadavg()
        jobs_list = [int(j) for j in args.jobs.split(",") if j.strip()]
        ref_times: list[float] = []
        batch_times: dict[int, list[float]] = {j: [] for j in jobs_list}
        ref_labels: dict[str, str] = {}
        batch_labels: dict[str, str] = {}
        for r in range(args.repeats):
            order = ("batch", "reference") if r % 2 else ("reference", "batch")
            for side in order:
                if side == "reference":
                    total = 0.0
                    for clip in clips:
                        t = run_timed([musicnn, "--quiet", "classify", str(model), str(clip), "--format", "json"])
                        total += t.seconds
                        (pred,) = json.loads(t.stdout)
                        ref_labels[pred["path"]] = pred["label"]
                    ref_times.append(total)
                    log(f"  repeat {r + 1}: one call per file: {total:.2f} s")
                else:
                    for jobs in jobs_list:
                        out = tmp / f"results-{r}-j{jobs}.csv"
                        t = run_timed([musicnn, "--quiet", "classify", str(model), *map(str, clips), "--out", str(out),
                                       "--format", "csv", "--jobs", str(jobs)])
                        batch_times[jobs].append(t.seconds)
                        with open(out, newline="") as f:
                            labels = {row["path"]: row["label"] for row in csv.DictReader(f)}
                        if batch_labels and labels != batch_labels:
                            raise RuntimeError(f"--jobs {jobs} gave other labels than --jobs {jobs_list[0]}")
                        batch_labels = labels
                        log(f"  repeat {r + 1}: one batched call, --jobs {jobs}: {t.seconds:.2f} s")
        load_after = loadavg()

        ref_s = median(ref_times)
        batch_s = min(median(times) for times in batch_times.values())
        audio_s = n * CLIP_S
        agree = sum(ref_labels.get(str(c)) == batch_labels.get(str(c)) for c in clips)
        rows = [
            ["reference", f"`musicnn classify MODEL clip.wav`, once per file ({n} processes)", f"{ref_s:.2f}",
             f"{n / ref_s:.2f}", f"{audio_s / ref_s:.0f}", "1.00x"],
        ]
        for jobs, times in batch_times.items():
            b = median(times)
            rows.append(["musicnn", f"`musicnn classify MODEL clip_1.wav ... clip_{n}.wav --out results.csv "
                         f"--jobs {jobs}`", f"{b:.2f}", f"{n / b:.2f}", f"{audio_s / b:.0f}", f"**{ref_s / b:.1f}x**"])
        print()
        print(f"## Classification throughput: {n} clips of 30 s ({audio_s / 60:.0f} min of audio), "
              f"median of {args.repeats}")
        print()
        print(markdown_table(["side", "what runs", "wall s", "files/s", "x real time", "vs reference"], rows))
        print()
        print(f"model: {model.name if args.model else f'5-epoch {args.family} trained on 15 rendered notes (bass, flute)'}; "
              f"clips: {corpus} (44.1 kHz stereo WAV); labels agree on {agree}/{n} files")
        print(f"musicnn (best --jobs) / reference: {ref_s / batch_s:.1f}x the throughput ({batch_s / n * 1000:.0f} ms "
              f"against {ref_s / n * 1000:.0f} ms per file)")
        print(f"load average (1/5/15 min) before/after: {load_before} -> {load_after}")
        print(f"command: {command_line()}")
        if args.json:
            Path(args.json).write_text(json.dumps({
                "benchmark": "classify_throughput", "command": command_line(), "machine": info, "n": n,
                "reference_s": ref_times, "batch_s": batch_times, "speedup": ref_s / batch_s,
                "labels_agree": agree, "loadavg": [load_before, load_after],
            }, indent=2))
            print(f"wrote {args.json}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
