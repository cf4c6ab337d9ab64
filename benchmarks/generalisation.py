"""What generalises to instruments never heard: one change at a time, on three protocols.

Every row trains the CNN (``musicnn.models.deep.cnn.SpectrogramCNN``) on log-mel features and
changes one thing from the row ``base``.  Each row is measured on

* ``within``: the TimGM6mb notes, group split (held-out sample groups), 3 split seeds;
* ``T->M``: trained on every TimGM6mb note, tested on the Merlin programs that share no
  sample with TimGM6mb (``Collection.split(by="source")``);
* ``M->T``: the other way round.

The data is a multi-source instrument set::

    musicnn datasets build instruments --soundfont timgm6mb --soundfont merlin --out data/multi

Results go to a JSON-lines file as each run finishes (a rerun skips what it holds) and a
Markdown table is printed at the end::

    python benchmarks/generalisation.py --data data/multi --out benchmarks/generalisation.jsonl
    python benchmarks/generalisation.py --data data/multi --rows base band --protocols T-M M-T
    python benchmarks/generalisation.py --data data/multi --external data/fluid --rows base --protocols TM-F

A set the rows are never tuned on (FluidR3_GM, rendered with
``--soundfont /usr/share/sounds/sf2/FluidR3_GM.sf2``) is kept for the final check of the
rows that win on the three protocols: ``TM-F`` trains on every note of both sources, as
the shipped model is trained, with several network seeds, and tests on it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: the plain baseline: 64-band log-mel, hop 256, 80 dB range, a 4-block CNN trained for a
#: fixed number of epochs on train + validation
BASE_SPEC = dict(kind="logmel", sr=16000, n_fft=1024, hop_length=256, n_mels=64, top_db=80.0, duration=1.5)
BASE_PARAMS = dict(channels=(16, 32, 64, 128), global_pool="avg", dropout=0.3, batch_size=32, lr=1e-3,
                   max_epochs=15, patience=100, validation_fraction=0.0)

#: row -> (spec changes, estimator changes, how it fits, audio augmentation)
ROWS: dict[str, dict] = {
    "today": dict(spec=dict(hop_length=512, top_db=None), params=dict(channels=(16, 32, 64), global_pool="avgmax",
                                                                      batch_size=64, max_epochs=100, patience=10,
                                                                      validation_fraction=0.15),
                  fit="early"),
    "base": {},
    "floor-100": dict(spec=dict(top_db=None)),
    "top_db60": dict(spec=dict(top_db=60.0)),
    "norm-clip": dict(spec=dict(norm="clip")),
    "norm-band": dict(spec=dict(norm="band")),
    "pcen": dict(spec=dict(norm="pcen", top_db=None)),
    "hop512": dict(spec=dict(hop_length=512)),
    "mels128": dict(spec=dict(n_mels=128)),
    "early-stop": dict(params=dict(max_epochs=100, patience=10, validation_fraction=0.15), fit="early"),
    "wide": dict(params=dict(channels=(32, 64, 128, 256))),
    "small": dict(params=dict(channels=(8, 16, 32, 64))),
    "specaugment": dict(params=dict(augment="specaugment")),
    "mixup": dict(params=dict(augment="mixup")),
    "audio-eq-reverb": dict(audio="eq,reverb,gain", copies=1),
    "audio-pitch-shift": dict(audio="pitch,shift", copies=1),
    "audio-noise": dict(audio="noise", copies=1),
    "ensemble3": dict(ensemble=3),
    # pooling over time (every note is one window, so pooling over windows is the pooling of the
    # last feature map over its frames): average (base), maximum, or both
    "pool-max": dict(params=dict(global_pool="max")),
    "pool-avgmax": dict(params=dict(global_pool="avgmax")),
    # a control for the audio rows: as many optimiser steps as one augmented copy gives
    "epochs30": dict(params=dict(max_epochs=30)),
    # combinations of the rows that won alone
    "eq-reverb-x2": dict(audio="eq,reverb,gain", copies=2),
    # three networks (seeds s, s + 1000, s + 2000) on one augmented copy, probabilities averaged;
    # each member's own accuracy is recorded beside the ensemble's
    "eq-reverb-ensemble3": dict(audio="eq,reverb,gain", copies=1, ensemble=3),
    # one network, 10 epochs on one augmented copy: the development directions' check of the row below
    "eq-reverb-e10": dict(audio="eq,reverb,gain", copies=1, params=dict(max_epochs=10)),
    # the same with two thirds of the epochs per member: twice, not three times, one network's training
    "eq-reverb-ensemble3-e10": dict(audio="eq,reverb,gain", copies=1, ensemble=3, params=dict(max_epochs=10)),
    # the same three networks, each on its own augmented copy (copies 1, 2, 3: other draws of
    # the same augmentations), so that the members differ by their data as well as their seed
    "eq-reverb-ensemble3-own": dict(audio="eq,reverb,gain", copies=1, ensemble=3, own_copies=True),
    "eq-reverb+clip": dict(spec=dict(norm="clip"), audio="eq,reverb,gain", copies=1),
    "audio-all": dict(audio="eq,reverb,noise,pitch,gain", copies=1),
}

PROTOCOLS = ("within", "T-M", "M-T", "TM-F")
SOURCES = {"T": "timgm6mb", "M": "merlin"}


def _spec(row: dict):
    from musicnn.features import FeatureSpec

    return FeatureSpec(**{**BASE_SPEC, **row.get("spec", {})})


def _params(row: dict, seed: int) -> dict:
    params = {**BASE_PARAMS, **row.get("params", {}), "seed": seed, "progress": False}
    return params


def _splits(coll, protocol: str, seed: int, external=None):
    from musicnn.data import Collection

    if protocol == "TM-F":
        if external is None:
            raise SystemExit("protocol TM-F needs --external (a set of a third SoundFont)")
        return {"train": coll, "validation": Collection([], coll.source), "test": external}
    if protocol == "within":
        timgm = Collection([it for it in coll if it.meta.get("source") == "timgm6mb"], coll.source)
        return timgm.split(test_size=0.2, val_size=0.15, seed=seed)
    train_src, test_src = (SOURCES[c] for c in protocol.split("-"))
    only = Collection([it for it in coll if it.meta.get("source") in (train_src, test_src)], coll.source)
    return only.split(by="source", test_source=test_src, val_size=0.15, seed=seed)


def _features(items, spec, store, audio: str | None, copies: int, seed: int, first: int = 1):
    """Features of ``items`` and of their augmented copies ``first`` .. ``first + copies - 1``."""
    from musicnn.audio.augment import AudioAugment
    from musicnn.pipeline import load_features

    ds = load_features(items, spec, store=store, jobs=2, progress=False)
    X, y = [ds.X], [ds.y]
    for k in range(first, first + copies if audio else first):
        aug = load_features(items, spec, store=store, jobs=2, progress=False,
                            variant=AudioAugment(audio, copy=k, seed=seed))
        X.append(aug.X)
        y.append(aug.y)
    return np.concatenate(X), np.concatenate(y)


def run_one(coll, name: str, protocol: str, seed: int, store, external=None) -> dict:
    """Train row ``name`` on one protocol and seed; score it on the test split.

    ``seed`` seeds the split (``within``) and the network; ``TM-F`` trains on every note of
    both sources and tests on ``external``.
    """
    import torch
    from sklearn.metrics import accuracy_score, f1_score

    from musicnn.models.deep.cnn import SpectrogramCNN
    from musicnn.pipeline import load_features

    torch.set_num_threads(2)
    row = ROWS[name]
    spec = _spec(row)
    parts = _splits(coll, protocol, seed, external)
    fit = row.get("fit", "fixed")
    train_items = parts["train"] if fit == "early" else parts["train"].__class__(
        list(parts["train"]) + list(parts["validation"]), coll.source)
    X, y = _features(train_items, spec, store, row.get("audio"), row.get("copies", 0), seed)
    n_train = len(y)
    tests = {"test": parts["test"]}
    test_sets = {k: load_features(v, spec, store=store, jobs=2, progress=False) for k, v in tests.items()}
    t0 = time.perf_counter()
    probas = {k: 0.0 for k in test_sets}
    members: list[float] = []
    n_models = row.get("ensemble", 1)
    for m in range(n_models):
        params = _params(row, seed + 1000 * m)
        est = SpectrogramCNN(**params)
        if row.get("own_copies") and m > 0:  # member m: the originals and augmented copy m + 1
            X, y = _features(train_items, spec, store, row["audio"], row["copies"], seed, first=m + 1)
        fit_kw = {}
        if fit == "early":
            val = load_features(parts["validation"], spec, store=store, jobs=2, progress=False)
            fit_kw = dict(X_val=val.X, y_val=val.y)
        est.fit(X, y, **fit_kw)
        for k, ds in test_sets.items():
            proba = est.predict_proba(ds.X)
            probas[k] = probas[k] + proba
            if k == "test" and n_models > 1:
                members.append(round(float(accuracy_score(ds.y, est.classes_[np.argmax(proba, axis=1)])), 4))
    out = {"row": name, "protocol": protocol, "seed": seed, "seconds": round(time.perf_counter() - t0, 1),
           "n_train": int(n_train)}
    for k, ds in test_sets.items():
        pred = est.classes_[np.argmax(probas[k], axis=1)]
        prefix = "" if k == "test" else f"{k}_"
        out[f"{prefix}n"] = int(len(ds.y))
        out[f"{prefix}accuracy"] = round(float(accuracy_score(ds.y, pred)), 4)
        out[f"{prefix}macro_f1"] = round(float(f1_score(ds.y, pred, average="macro")), 4)
    if members:
        out["member_accuracy"] = members
    return out


def table(results: list[dict], rows: list[str]) -> str:
    """Markdown: per row, within (mean ± sd over seeds), T->M, M->T, mean of the two cross."""
    lines = ["| row | within acc (3 seeds) | T->M acc / F1 | M->T acc / F1 | cross mean acc | TM->F acc (seeds) | fit s |",
             "|---|---|---|---|---|---|---|"]
    for name in rows:
        rs = [r for r in results if r["row"] == name]
        if not rs:
            continue
        w = [r["accuracy"] for r in rs if r["protocol"] == "within"]
        cells = [f"{np.mean(w):.3f} ± {np.std(w):.3f}" if w else "-"]
        cross = []
        for p in ("T-M", "M-T"):
            c = [r for r in rs if r["protocol"] == p]
            cells.append(f"{c[0]['accuracy']:.3f} / {c[0]['macro_f1']:.3f}" if c else "-")
            cross += [c[0]["accuracy"]] if c else []
        cells.append(f"{np.mean(cross):.3f}" if len(cross) == 2 else "-")
        f = [r["accuracy"] for r in rs if r["protocol"] == "TM-F"]
        cells.append(f"{np.mean(f):.3f} ± {np.std(f):.3f} ({len(f)})" if f else "-")
        cells.append(f"{np.mean([r['seconds'] for r in rs]):.0f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from musicnn.data import Collection
    from musicnn.store import FeatureStore

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="multi-source instrument set (timgm6mb + merlin)")
    ap.add_argument("--rows", nargs="*", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--protocols", nargs="*", default=list(PROTOCOLS), choices=list(PROTOCOLS))
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2],
                    help="seeds of 'within' (split and network) and of 'TM-F' (network)")
    ap.add_argument("--external", default=None,
                    help="a set of a third SoundFont for protocol TM-F (e.g. FluidR3_GM), kept for final checks")
    ap.add_argument("--out", default="benchmarks/generalisation.jsonl")
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args(argv)
    coll = Collection.load(args.data)
    external = Collection.load(args.external) if args.external else None
    store = FeatureStore(args.cache_dir)
    out = Path(args.out)
    done = []
    if out.exists():
        done = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    have = {(r["row"], r["protocol"], r["seed"]) for r in done}
    for name in args.rows:
        for protocol in args.protocols:
            for seed in (args.seeds if protocol in ("within", "TM-F") else [0]):
                if (name, protocol, seed) in have:
                    continue
                r = run_one(coll, name, protocol, seed, store, external)
                print(json.dumps(r), flush=True)
                with open(out, "a") as f:
                    f.write(json.dumps(r) + "\n")
                done.append(r)
    print(table(done, list(ROWS)))


if __name__ == "__main__":
    main()
