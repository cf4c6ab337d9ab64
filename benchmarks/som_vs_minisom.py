"""musicnn's SOM (torch, online and batch) beside MiniSom, in one run.

A 20 x 20 rectangular map with a Gaussian neighbourhood on 10,000 feature vectors of 40
values, trained for the same number of sample presentations (10 epochs = 100,000) with
the same schedules: sigma and learning rate both decay as ``v0 / (1 + 2 t / T)`` (MiniSom's
default "asymptotic" decay; musicnn's ``decay="inverse"`` with final values ``v0 / 3``),
sigma0 = 4, eta0 = 0.5, PCA initialisation on each side.

Data (``--data``):

* ``mfcc`` (default): frames of 20 MFCCs + 20 deltas (sr 22050, n_fft 2048, hop 512, 128
  mel bands) of the benchmark corpus's 30-second music clips (``corpus.py``, 12 clips,
  rendered on first use), 10,000 frames drawn at random (seed 0);
* ``gmm``: 10,000 x 40 drawn from a seeded Gaussian mixture (8 components).

Both are standardised once, before any training, so that every map learns from and is
scored on the same numbers (musicnn's own standardisation is then the identity).

Runs, each timed around its whole training (initialisation included), after one untimed
warm-up run of each side on a small subset:

* MiniSom ``pca_weights_init`` + ``train_random(X, 100000)`` (Kohonen's rule, sample by sample);
* MiniSom ``train_batch_offline(X, 10)`` (its batch algorithm, 10 epochs; it still mixes the
  new means in with the decaying learning rate);
* musicnn ``SOM(mode="online", max_samples=100000)``: Kohonen's rule applied to
  every presentation in order, winners searched 32 presentations at a time
  (``batch_size=32``), and the same with ``batch_size=1`` (winner searched before every
  single presentation: the strictly sequential algorithm);
* musicnn ``SOM(mode="batch", max_epochs=10)``: the batch map, 10 epochs, same sigma schedule.

Every map is scored by the same code: quantization error (mean distance of a sample to its
winner's prototype), topographic error with 4 grid neighbours (musicnn's definition) and
with 8 (MiniSom's: diagonals count as neighbours).

    python benchmarks/som_vs_minisom.py [--data mfcc|gmm] [--repeats 1] [--threads N] [--quick] [--json PATH]

``--quick``: 2,000 vectors, a 10 x 10 map, 20,000 presentations.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _bench import command_line, default_work_dir, loadavg, machine_info, markdown_table, print_machine

SIGMA0 = 4.0
ETA0 = 0.5


def mfcc_frames(n: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """``n`` random MFCC+delta frames (40 values) of the benchmark corpus's music clips."""
    from corpus import corpus_dir, make_corpus

    from musicnn.audio.io import load
    from musicnn.features import FeatureSpec, compute

    spec = FeatureSpec(kind="mfcc", sr=22050, n_fft=2048, hop_length=512, n_mels=128, n_mfcc=20, deltas=1)
    paths = make_corpus(corpus_dir(default_work_dir(), 12), n=12)
    frames = []
    for p in paths:
        y, _ = load(p, sr=spec.sr)
        frames.append(compute(y, spec))
    F = np.concatenate(frames)
    idx = np.sort(np.random.default_rng(seed).choice(len(F), size=min(n, len(F)), replace=False))
    return F[idx], f"MFCC+delta frames (40 values) of {len(paths)} 30-s corpus clips, {len(idx)} of {len(F)} frames"


def mixture(n: int, d: int = 40, k: int = 8, seed: int = 0) -> tuple[np.ndarray, str]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d)) * 2.0
    scales = rng.uniform(0.5, 1.5, size=(k, 1))
    comp = rng.integers(0, k, n)
    X = centres[comp] + scales[comp] * rng.standard_normal((n, d))
    return X.astype(np.float32), f"Gaussian mixture, {k} components, {n} x {d}, seed {seed}"


def scores(W: np.ndarray, X: np.ndarray) -> dict[str, float]:
    """Quantization error and topographic errors (4 and 8 neighbours) of prototypes W (rows, cols, d)."""
    rows, cols, d = W.shape
    Wf = W.reshape(-1, d).astype(np.float64)
    Xf = X.astype(np.float64)
    d2 = (Xf * Xf).sum(1)[:, None] - 2 * Xf @ Wf.T + (Wf * Wf).sum(1)[None]
    best2 = np.argsort(d2, axis=1)[:, :2]
    qe = float(np.sqrt(np.maximum(d2[np.arange(len(X)), best2[:, 0]], 0)).mean())
    r, c = np.divmod(best2, cols)
    gap = np.hypot(r[:, 0] - r[:, 1], c[:, 0] - c[:, 1])
    return {"qe": qe, "te4": float(np.mean(gap > 1.0 + 1e-9)), "te8": float(np.mean(gap > 1.5))}


def run_minisom(X, side, n_pres, n_epochs, how):
    from minisom import MiniSom

    t0 = time.perf_counter()
    som = MiniSom(side, side, X.shape[1], sigma=SIGMA0, learning_rate=ETA0, neighborhood_function="gaussian",
                  topology="rectangular", decay_function="asymptotic_decay",
                  sigma_decay_function="asymptotic_decay", random_seed=0)
    som.pca_weights_init(X)
    if how == "online":
        som.train_random(X, n_pres)
    else:
        som.train_batch_offline(X, n_epochs)
    return time.perf_counter() - t0, som.get_weights()


def run_ours(X, side, n_pres, n_epochs, mode, batch_size=32, seed=0):
    from musicnn.models.classic.som import SOM

    kw = dict(topology="rectangular", neighborhood="gaussian", sigma=SIGMA0, sigma_final=SIGMA0 / 3,
              lr=ETA0, lr_final=ETA0 / 3, decay="inverse", init="pca",
              seed=seed, progress=False)
    if mode == "online":
        som = SOM(side, side, mode="online", max_samples=n_pres, batch_size=batch_size, **kw)
    else:
        som = SOM(side, side, mode="batch", max_epochs=n_epochs, **kw)
    t0 = time.perf_counter()
    som.fit(X)
    dt = time.perf_counter() - t0
    return dt, (som.weights_ - som.mean_) / som.scale_, som


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("mfcc", "gmm"), default="mfcc")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs of each side (median kept)")
    parser.add_argument("--quick", action="store_true", help="2,000 vectors, 10 x 10 map, 20,000 presentations")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice, one per core)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)

    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)

    info = machine_info()
    info["torch_threads"] = torch.get_num_threads()
    from importlib import metadata

    info["minisom"] = metadata.version("minisom")
    n, side, epochs = (2000, 10, 10) if args.quick else (10000, 20, 10)
    X, what = (mfcc_frames if args.data == "mfcc" else mixture)(n)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    n = len(X)
    n_pres = epochs * n

    runs = [
        ("MiniSom train_random (online)", lambda: run_minisom(X, side, n_pres, epochs, "online")),
        ("MiniSom train_batch_offline", lambda: run_minisom(X, side, n_pres, epochs, "batch")),
        ("musicnn SOM online, batch_size=32", lambda: run_ours(X, side, n_pres, epochs, "online", 32)[:2]),
        ("musicnn SOM online, batch_size=1", lambda: run_ours(X, side, n_pres, epochs, "online", 1)[:2]),
        ("musicnn SOM batch", lambda: run_ours(X, side, n_pres, epochs, "batch")[:2]),
    ]
    # one untimed run of each side on a small subset: imports, first-call set-up, caches
    run_minisom(X[:300], 4, 300, 1, "online")
    run_ours(X[:300], 4, 300, 1, "online")
    run_ours(X[:300], 4, 300, 1, "batch")
    results = {}
    loads = [loadavg()]
    for name, fn in runs:
        times, W = [], None
        for _ in range(args.repeats):
            dt, W = fn()
            times.append(dt)
        results[name] = {"seconds": float(np.median(times)), **scores(np.asarray(W), X)}
        loads.append(loadavg())

    # our own quantization_error agrees with the shared scoring code
    _, _, som = run_ours(X, side, n_pres, epochs, "batch")
    assert abs(som.quantization_error(X) - results["musicnn SOM batch"]["qe"]) < 1e-3
    # how much the online figures move with the presentation order alone (seeds 0-4)
    spread = [scores(np.asarray(run_ours(X, side, n_pres, epochs, "online", 32, seed)[1]), X) for seed in range(5)]
    results["musicnn SOM online, batch_size=32"]["seeds_0_4"] = spread

    ref = results["MiniSom train_random (online)"]["seconds"]
    header = ["run", "train s", "speed-up vs MiniSom online", "quantization error", "topographic error (4 nb)",
              "topographic error (8 nb)"]
    rows = [[name, f"{r['seconds']:.2f}", f"{ref / r['seconds']:.1f}x", f"{r['qe']:.4f}", f"{r['te4']:.4f}",
             f"{r['te8']:.4f}"] for name, r in results.items()]
    print(f"SOM {side}x{side}, rectangular, Gaussian; {what}, standardised; {n_pres:,} presentations "
          f"({epochs} epochs); sigma {SIGMA0:g} -> {SIGMA0 / 3:.3g}, eta {ETA0:g} -> {ETA0 / 3:.3g} (1/(1+2t/T))")
    print()
    print(markdown_table(header, rows))
    print()
    print_machine(info)
    qes, tes = [r["qe"] for r in spread], [r["te4"] for r in spread]
    print(f"musicnn SOM online (batch_size=32), seeds 0-4 (presentation order only): quantization error "
          f"{min(qes):.4f}-{max(qes):.4f}, topographic error (4 nb) {min(tes):.4f}-{max(tes):.4f}")
    print()
    print(f"torch threads: {torch.get_num_threads()}; minisom {info['minisom']}; "
          f"load average (1/5/15 min) after each run: {'; '.join(loads[1:])}")
    print(f"command: {command_line()}")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "command": command_line(), "data": what,
                                         "map": [side, side], "presentations": n_pres, "epochs": epochs,
                                         "loadavg": loads, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
