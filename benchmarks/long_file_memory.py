"""Memory of classifying a one-hour file: `musicnn classify` (streamed) beside `librosa.load`.

A one-hour WAV (44.1 kHz stereo 16-bit by default, 635 MB) is written block by block from
the 30-s clips of the benchmark corpus played in turn, then each of these runs in a fresh
process whose peak resident memory (``ru_maxrss`` of the child, read by a small wrapper
process through ``resource.getrusage(RUSAGE_CHILDREN)``) and wall time are measured:

* musicnn: ``musicnn classify MODEL long.wav --out results.csv`` (the file is streamed
  in blocks of 10 s; windows of the model's clip length; batches of 64 windows);
* musicnn on one 30-s clip with the same model: what the process costs whatever the
  length (interpreter, torch, librosa, the model);
* reference: ``librosa.load(long.wav, sr=SR)`` in ``python -c``, the whole file in
  memory, resampled to the model's rate, what a script that loads before analysing needs
  before any feature is computed;
* the same ``librosa.load`` of one 30-s clip: the reference's memory whatever the length.

    python benchmarks/long_file_memory.py                       # 60 min, 44.1 kHz stereo
    python benchmarks/long_file_memory.py --minutes 10 --sr 16000 --channels 1
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
    print_machine,
    venv_bin,
)
from classify_throughput import train_model  # noqa: E402

#: Runs a command as its only child and prints {"rc", "maxrss_kb", "wall_s"} as JSON.
WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
    "wall = time.perf_counter() - t\n"
    "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'rc': p.returncode, 'maxrss_kb': r.ru_maxrss, 'wall_s': wall, 'stderr': p.stderr[-2000:]}))\n"
)


def measure(cmd: list[str]) -> dict:
    """Peak RSS (MB) and wall time of ``cmd`` run in a fresh process."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    if res["rc"] != 0:
        raise RuntimeError(f"command failed with status {res['rc']}: {' '.join(cmd)}\n{res['stderr']}")
    res["peak_mb"] = res["maxrss_kb"] / 1024
    return res


def write_long_file(path: Path, clips: list[Path], minutes: float, sr: int, channels: int, log) -> float:
    """Write ``minutes`` of the clips played in turn, block by block; return its seconds."""
    import numpy as np
    import soundfile as sf
    import soxr

    want = int(round(minutes * 60 * sr))
    if path.exists():
        info = sf.info(path)
        if info.frames == want and info.samplerate == sr and info.channels == channels:
            log(f"reusing {path} ({info.duration / 60:.1f} min)")
            return info.duration
    done = 0
    tmp = path.with_name(path.name + ".part")
    with sf.SoundFile(tmp, "w", samplerate=sr, channels=channels, subtype="PCM_16", format="WAV") as f:
        i = 0
        while done < want:
            y, rate = sf.read(clips[i % len(clips)], dtype="float32", always_2d=True)
            if rate != sr:
                y = soxr.resample(y, rate, sr)
            if channels == 1:
                y = y.mean(axis=1, keepdims=True)
            elif y.shape[1] != channels:
                y = np.repeat(y[:, :1], channels, axis=1)
            y = y[: want - done]
            f.write(y)
            done += len(y)
            i += 1
    tmp.replace(path)
    log(f"wrote {path} ({done / sr / 60:.1f} min, {path.stat().st_size / 1e6:.0f} MB)")
    return done / sr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=None, help="length of the long file (default 60; --quick: 10)")
    parser.add_argument("--sr", type=int, default=44100, help="sample rate of the long file (default 44100)")
    parser.add_argument("--channels", type=int, default=2, help="channels of the long file (default 2)")
    parser.add_argument("--family", default="mlp", help="model family trained when --model is not given (mlp, cnn)")
    parser.add_argument("--model", default=None, help="a model file to use instead of training one")
    parser.add_argument("--corpus", default=None, help="corpus folder (default: the benchmark corpus, 60 clips)")
    parser.add_argument("--work", default=None, help="scratch folder (default: $MUSICNN_BENCH_DIR or /tmp/musicnn-bench)")
    parser.add_argument("--keep", action="store_true", help="keep the long file for a later run")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--quick", action="store_true", help="a 10-minute file")
    args = parser.parse_args(argv)
    minutes = args.minutes or (10.0 if args.quick else 60.0)

    from corpus import corpus_dir, make_corpus

    info = machine_info()
    print_machine(info)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    work = Path(args.work) if args.work else default_work_dir()
    work.mkdir(parents=True, exist_ok=True)
    clips = make_corpus(Path(args.corpus) if args.corpus else corpus_dir(work, 60), 6)
    long = work / f"long-{minutes:g}min-{args.sr}hz-{args.channels}ch.wav"
    seconds = write_long_file(long, clips, minutes, args.sr, args.channels, log)
    tmp = Path(tempfile.mkdtemp(prefix="long-file-memory-", dir=work))
    try:
        model = Path(args.model) if args.model else train_model(tmp, args.family, log)
        from musicnn.modelfile import read_metadata

        model_sr = int(read_metadata(model)["feature_spec"]["sr"])
        musicnn = venv_bin("musicnn")
        py = sys.executable
        runs = {
            "musicnn": ("`musicnn classify MODEL long.wav --out results.csv` (streamed)",
                        [musicnn, "--quiet", "classify", str(model), str(long), "--out", str(tmp / "results.csv")]),
            "musicnn-clip": ("`musicnn classify MODEL clip.wav` (one 30-s clip, same model)",
                             [musicnn, "--quiet", "classify", str(model), str(clips[0])]),
            "reference": (f"`librosa.load(long.wav, sr={model_sr})` (whole file in memory)",
                          [py, "-c", f"import librosa, sys; y, sr = librosa.load(sys.argv[1], sr={model_sr}); "
                                     "print(len(y))", str(long)]),
            "reference-clip": (f"`librosa.load(clip.wav, sr={model_sr})` (one 30-s clip)",
                               [py, "-c", f"import librosa, sys; y, sr = librosa.load(sys.argv[1], sr={model_sr}); "
                                          "print(len(y))", str(clips[0])]),
        }
        load_before = loadavg()
        res = {}
        for key, (_, cmd) in runs.items():
            res[key] = measure(cmd)
            log(f"  {key}: peak {res[key]['peak_mb']:.0f} MB, {res[key]['wall_s']:.1f} s")
        load_after = loadavg()
        with open(tmp / "results.csv") as f:
            row = f.read().splitlines()[1].split(",")
        ours, ref = res["musicnn"], res["reference"]
        table = []
        for key, (what, _) in runs.items():
            r = res[key]
            side = "reference" if key.startswith("reference") else "musicnn"
            xrt = f"{seconds / r['wall_s']:.0f}" if key in ("musicnn", "reference") else ""
            table.append([side, what, f"{r['peak_mb']:.0f}", f"{r['wall_s']:.1f}", xrt])
        print()
        print(f"## Memory of a {seconds / 60:g}-minute file ({args.sr} Hz, {args.channels} channel(s), 16-bit WAV, "
              f"{long.stat().st_size / 1e6:.0f} MB)")
        print()
        print(markdown_table(["side", "what runs", "peak RSS MB", "wall s", "x real time"], table))
        print()
        print(f"peak RSS, reference / musicnn: {ref['peak_mb'] / ours['peak_mb']:.1f}x less memory for musicnn "
              f"({ours['peak_mb']:.0f} MB against {ref['peak_mb']:.0f} MB); musicnn on the long file costs "
              f"{ours['peak_mb'] - res['musicnn-clip']['peak_mb']:+.0f} MB over musicnn on one 30-s clip, librosa.load "
              f"{ref['peak_mb'] - res['reference-clip']['peak_mb']:+.0f} MB")
        print(f"file label: {row[1]} (score {row[2]}, {row[4]} windows); model: "
              f"{model.name if args.model else f'5-epoch {args.family}'}, features at {model_sr} Hz")
        print(f"load average (1/5/15 min) before/after: {load_before} -> {load_after}")
        print(f"command: {command_line()}")
        if args.json:
            Path(args.json).write_text(json.dumps({
                "benchmark": "long_file_memory", "command": command_line(), "machine": info, "seconds": seconds,
                "file": str(long), "runs": {k: {"peak_mb": v["peak_mb"], "wall_s": v["wall_s"]} for k, v in res.items()},
                "loadavg": [load_before, load_after],
            }, indent=2))
            print(f"wrote {args.json}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not args.keep:
            long.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
