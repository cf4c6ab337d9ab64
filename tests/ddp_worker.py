"""Train an MLP on saved features; run plainly or under torchrun (see test_training.py).

Usage: python ddp_worker.py DATA.npz OUT.npz
Rank 0 writes the trained weights and the loss curve to OUT.npz.
"""

import os
import sys
import warnings

import numpy as np

from musicnn.models.deep.mlp import MLPClassifier


def main() -> None:
    data, out = sys.argv[1], sys.argv[2]
    d = np.load(data)
    warnings.simplefilter("ignore")
    # no dropout: every process then computes exactly its share of the single-process step
    est = MLPClassifier(hidden_layer_sizes=(32,), dropout=0.0, max_epochs=6, patience=50, batch_size=16,
                        class_weight="balanced", progress=False, seed=0).fit(d["X"], d["y"])
    if int(os.environ.get("RANK", "0")) == 0:
        weights = {f"w.{k}": v.numpy() for k, v in est.module_.state_dict().items()}
        np.savez(out, train_loss=np.array(est.history_.train_loss),
                 world_size=int(os.environ.get("WORLD_SIZE", "1")), **weights)


if __name__ == "__main__":
    main()
