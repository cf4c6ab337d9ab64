"""Training throughput: the shared torch loop beside a plain hand-written torch loop.

Same network, same data, same batches, same optimiser: what the shared loop
(:func:`musicnn.training.loop.train_classifier`, through the estimators' ``fit``) costs
beyond the work itself.  Two cases:

* ``cnn``: the registry's CNN (``SpectrogramCNN``, 4 blocks of 16-32-64-128 channels) on
  log-mel patches of 94 frames x 64 bands (the shipped model's input), batch 32;
* ``mlp``: the registry's MLP (256-128) on 120 pooled MFCC values, batch 64: small steps,
  where any per-batch cost of the loop would show most.

The inputs are seeded random arrays of those shapes (the throughput does not depend on the
values). Both sides run in this process, one after the other, in rotating order, each
``--repeats`` times: the estimator's ``fit`` (no validation split, fixed epochs, so no
early stopping); and the reference: shuffle, slice, forward, cross-entropy, backward, Adam
step, nothing else, on the same module built the same way and the standardised inputs.
Reported: examples per second (median) and the ratio (target: at least 0.9). For the CNN,
a third side runs the plain loop with the network in the channels-first layout (NCHW) that
``SpectrogramNet`` used before it switched to channels-last: the gain of that layout.

    python benchmarks/training_throughput.py            # 3 repeats of 3 epochs
    python benchmarks/training_throughput.py --quick    # 1 repeat of 2 epochs
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench import command_line, loadavg, machine_info, markdown_table, median, print_machine  # noqa: E402

TARGET = 0.9
CASES = {
    "cnn": {"shape": (94, 64), "n": 1024, "batch_size": 32},
    "mlp": {"shape": (120,), "n": 8192, "batch_size": 64},
}


def _data(case: str, seed: int = 0):
    import numpy as np

    spec = CASES[case]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((spec["n"], *spec["shape"])).astype(np.float32)
    y = rng.integers(0, 10, spec["n"]).astype(str)
    return X, y


def _estimator(case: str, epochs: int):
    from musicnn.models import MLPClassifier, SpectrogramCNN

    common = {"max_epochs": epochs, "validation_fraction": 0.0, "batch_size": CASES[case]["batch_size"],
              "progress": False, "seed": 0}
    return SpectrogramCNN(**common) if case == "cnn" else MLPClassifier(**common)


def run_musicnn(case: str, epochs: int, X, y) -> float:
    """Seconds of the estimator's ``fit``."""
    est = _estimator(case, epochs)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return time.perf_counter() - t0


def run_reference(case: str, epochs: int, X, y, channels_first: bool = False) -> float:
    """Seconds of a plain loop on the same module, batches and optimiser (``channels_first``:
    the CNN's weights, hence its feature maps, in the NCHW layout)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    est = _estimator(case, epochs)
    classes, y_idx = np.unique(y, return_inverse=True)
    t0 = time.perf_counter()
    mean, std = X.mean(axis=tuple(range(X.ndim - 1))), X.std(axis=tuple(range(X.ndim - 1))) + 1e-8
    Xt = torch.from_numpy(((X - mean) / std).astype(np.float32))
    yt = torch.from_numpy(y_idx.astype(np.int64))
    torch.manual_seed(0)
    module = est._build_module(X.shape[1:], len(classes))  # the network the estimator would build
    if channels_first:
        module = module.to(memory_format=torch.contiguous_format)
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-3)
    bs = CASES[case]["batch_size"]
    module.train()
    gen = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        order = torch.randperm(len(Xt), generator=gen)
        for start in range(0, len(Xt), bs):
            idx = order[start:start + bs]
            optimiser.zero_grad(set_to_none=True)
            loss = F.cross_entropy(module(Xt[idx]), yt[idx])
            loss.backward()
            optimiser.step()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default 3; --quick: 2)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per side (default 3; --quick: 1)")
    parser.add_argument("--cases", default="cnn,mlp", help="comma-separated: cnn, mlp")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    epochs = args.epochs or (2 if args.quick else 3)
    repeats = args.repeats or (1 if args.quick else 3)

    import torch

    info = machine_info()
    print_machine(info)
    print(f"torch threads: {torch.get_num_threads()}")
    before = loadavg()
    rows = []
    for case in [c.strip() for c in args.cases.split(",") if c.strip()]:
        X, y = _data(case)
        run_reference(case, 1, X[:256], y[:256])  # untimed warm-up of both sides
        run_musicnn(case, 1, X[:256], y[:256])
        sides = {"musicnn": run_musicnn, "reference": run_reference}
        if case == "cnn":
            sides["nchw"] = lambda *a: run_reference(*a, channels_first=True)
        times: dict[str, list[float]] = {side: [] for side in sides}
        for r in range(repeats):
            order = list(sides)[r % len(sides):] + list(sides)[: r % len(sides)]  # rotating
            for side in order:
                times[side].append(sides[side](case, epochs, X, y))
            print(f"  {case} repeat {r + 1}/{repeats}: "
                  + ", ".join(f"{side} {t[-1]:.2f} s" for side, t in times.items()), file=sys.stderr, flush=True)
        examples = epochs * len(X)
        speed = {side: examples / median(t) for side, t in times.items()}
        ratio = speed["musicnn"] / speed["reference"]
        rows.append([case, f"{X.shape[1:]}", CASES[case]["batch_size"], f"{speed['reference']:,.0f}",
                     f"{speed['musicnn']:,.0f}", f"**{ratio:.2f}x**", "met" if ratio >= TARGET else "MISSED",
                     f"{speed['nchw']:,.0f} ({speed['reference'] / speed['nchw']:.2f}x)" if "nchw" in speed else "-"])
    print()
    print(f"## Training throughput: the shared loop beside a plain torch loop ({epochs} epochs, median of {repeats})")
    print()
    print(markdown_table(["case", "example shape", "batch", "plain loop ex/s", "musicnn fit ex/s", "ratio",
                          f"target >= {TARGET}", "plain loop, NCHW ex/s (channels-last gain)"], rows))
    print()
    print(f"load average (1/5/15 min) before/after: {before} -> {loadavg()}")
    print(f"command: {command_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
