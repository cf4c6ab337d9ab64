"""The decode + FFT bound of feature extraction: what no log-mel pipeline on these files can beat.

For each 30-s clip of the benchmark corpus (44.1 kHz stereo 16-bit WAV), in one process:
decoding the samples as integers (libsndfile), mixing down and scaling, resampling to
22,050 Hz (soxr HQ, as ``librosa.load``), and the float64 FFT of every frame (n_fft 2048,
hop 512, periodic Hann) -- nothing else: no mel product, no logarithm, no cache, no
process start-up.  Reported per clip (median over the files) and as the real-time factor
that two cores would reach at that cost, to put ``features_throughput.py``'s figures
beside it.

    python benchmarks/decode_fft_bound.py            # 60 clips
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import command_line, default_work_dir, machine_info, markdown_table, print_machine  # noqa: E402

SR, N_FFT, HOP, CLIP_S = 22050, 2048, 512, 30.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60, help="clips (default 60)")
    args = parser.parse_args(argv)

    import numpy as np
    import soundfile as sf
    import soxr

    from corpus import corpus_dir, make_corpus

    print_machine(machine_info())
    clips = make_corpus(corpus_dir(default_work_dir(), 200), args.n)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    stages = {"decode (int16)": [], "mix-down + scale": [], "resample 44.1 -> 22.05 kHz": [], "FFT (float64)": []}
    for path in clips:
        t0 = time.perf_counter()
        pcm, sr = sf.read(path, dtype="int16", always_2d=True)
        t1 = time.perf_counter()
        y = pcm[:, 0].astype(np.float32)
        for c in range(1, pcm.shape[1]):
            np.add(y, pcm[:, c], out=y, dtype=np.float32)
        y *= np.float32(2.0 ** -15 / pcm.shape[1])
        t2 = time.perf_counter()
        y = soxr.resample(y, sr, SR, quality="HQ")
        t3 = time.perf_counter()
        frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, N_FFT // 2), N_FFT)[::HOP]
        for start in range(0, len(frames), 64):
            np.fft.rfft(frames[start:start + 64] * window, axis=-1)
        t4 = time.perf_counter()
        for name, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            stages[name].append(dt * 1000)
    rows = [[name, f"{statistics.median(ms):.2f}"] for name, ms in stages.items()]
    total = sum(statistics.median(ms) for ms in stages.values())
    rows.append(["**total**", f"**{total:.2f}**"])
    print()
    print(f"## Decode + FFT bound, per 30-s clip (median of {len(clips)} clips, one process)")
    print()
    print(markdown_table(["stage", "ms per clip"], rows))
    print()
    print(f"bound with 2 cores: {2 * CLIP_S * 1000 / total:,.0f}x real time (one core: {CLIP_S * 1000 / total:,.0f}x)")
    print(f"command: {command_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
