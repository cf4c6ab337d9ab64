"""musicnn's MLP (torch autograd backend) beside scikit-learn's MLPClassifier, in one run.

Same architecture (ReLU hidden layers), optimiser (Adam, same learning rate), batch size
and number of epochs, no early stopping, no regularisation, on two data sets:

* ``instruments``: pooled MFCC features (120 values) of the embedded instrument set, split
  by sample-sharing groups (seed 0, the demo's split); fitted on train + validation,
  scored on the held-out test split;
* ``mixture``: a seeded Gaussian mixture (10 classes, 20,000 x 120, 25 % held out), to see
  how both scale with more data.

    python benchmarks/mlp_vs_sklearn.py --data data/instruments
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
from _bench import machine_info, print_machine


def instruments(data: Path, jobs: int):
    from musicnn.data import Collection
    from musicnn.features import preset
    from musicnn.pipeline import load_features

    coll = Collection.load(data)
    parts = coll.split(test_size=0.2, val_size=0.15, seed=0)
    spec = preset("mfcc", duration=1.5)
    sets = {k: load_features(v, spec, jobs=jobs, progress=False) for k, v in parts.items()}
    X = np.concatenate([sets["train"].X, sets["validation"].X])
    y = np.concatenate([sets["train"].y, sets["validation"].y])
    return X, y, sets["test"].X, sets["test"].y


def mixture(n: int = 20000, d: int = 120, k: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((k, d)) * 0.6
    y = rng.integers(0, k, n)
    X = (centres[y] + rng.standard_normal((n, d))).astype(np.float32)
    labels = np.array([f"c{i}" for i in range(k)])[y]
    cut = int(0.75 * n)
    return X[:cut], labels[:cut], X[cut:], labels[cut:]


def compare(name: str, X, y, Xt, yt, *, hidden, epochs, batch, lr, repeats):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SkMLP
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from musicnn.models.deep.mlp import MLPClassifier

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    rows = []
    for side in ("musicnn", "sklearn"):
        times, accs = [], []
        for r in range(repeats):
            if side == "musicnn":
                est = MLPClassifier(hidden_layer_sizes=hidden, dropout=0.0, batch_size=batch, max_epochs=epochs, lr=lr,
                                    validation_fraction=0.0, patience=epochs, seed=r, progress=False)
            else:
                # musicnn standardises inside the estimator: give sklearn the same scaling
                est = make_pipeline(StandardScaler(), SkMLP(hidden_layer_sizes=hidden, activation="relu", solver="adam",
                                                            alpha=0.0, batch_size=batch, learning_rate_init=lr,
                                                            max_iter=epochs, shuffle=True, tol=0.0,
                                                            n_iter_no_change=epochs + 1, random_state=r))
            t0 = time.perf_counter()
            est.fit(X, y)
            times.append(time.perf_counter() - t0)
            accs.append(float((est.predict(Xt) == yt).mean()))
        rows.append({"data": name, "side": side, "fit_s": float(np.median(times)), "accuracy": float(np.mean(accs)),
                     "accuracy_sd": float(np.std(accs)), "n_train": len(y), "n_test": len(yt)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/instruments"))
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden", default="256,128")
    parser.add_argument("--repeats", type=int, default=3, help="seeds per side; median time, mean accuracy")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="10 epochs, 1 repeat")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    import torch

    epochs, repeats = (10, 1) if args.quick else (args.epochs, args.repeats)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    if not (args.data / "manifest.csv").exists():
        from musicnn.data.render import build_instruments

        build_instruments(args.data, n_jobs=args.jobs)
    rows = []
    rows += compare("instruments", *instruments(args.data, args.jobs), hidden=hidden, epochs=epochs,
                    batch=args.batch_size, lr=args.lr, repeats=repeats)
    rows += compare("mixture", *mixture(), hidden=hidden, epochs=epochs, batch=args.batch_size, lr=args.lr,
                    repeats=repeats)
    print_machine(machine_info())
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"MLP {hidden}, ReLU, Adam lr {args.lr}, batch {args.batch_size}, {epochs} epochs, no early stopping, "
          f"{repeats} seed(s) per side (median fit time, mean accuracy)")
    print(f"command: python benchmarks/mlp_vs_sklearn.py --data {args.data}" + (" --quick" if args.quick else ""))
    print()
    print("| data | n train / test | musicnn fit (s) | sklearn fit (s) | speed-up | musicnn accuracy | sklearn accuracy |")
    print("|---|---|---|---|---|---|---|")
    for name in ("instruments", "mixture"):
        ours = next(r for r in rows if r["data"] == name and r["side"] == "musicnn")
        ref = next(r for r in rows if r["data"] == name and r["side"] == "sklearn")
        print(f"| {name} | {ours['n_train']} / {ours['n_test']} | {ours['fit_s']:.2f} | {ref['fit_s']:.2f} | "
              f"{ref['fit_s'] / ours['fit_s']:.1f}x | {ours['accuracy']:.3f} ± {ours['accuracy_sd']:.3f} | "
              f"{ref['accuracy']:.3f} ± {ref['accuracy_sd']:.3f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
