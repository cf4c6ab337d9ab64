"""Accuracy on held-out instruments: the demo's MLP and CNN beside an SVC baseline, one run.

For each split seed, the embedded instrument set is split by groups (programs that share
samples never span two splits), exactly as ``musicnn train --seed S`` splits it, and

* ``mlp``  : ``musicnn train --model mlp`` (pooled MFCC + deltas, early stopping on validation),
* ``cnn``  : ``musicnn train --model cnn`` (log-mel frames, early stopping on validation),
* ``svc``  : scikit-learn ``SVC()`` (RBF, defaults) on the same standardised pooled MFCCs,
  fitted on the training split, and on training + validation (``svc+val``: the nets use
  the validation split only to choose their epoch),

are scored on the test split.  Seed 0 is the split ``make demo`` uses.  ``--models all``
trains every registered family (each with its default features and hyper-parameters:
pooled MFCC for all but the CNN) for the course families' table.

    python benchmarks/accuracy.py --data data/instruments --seeds 0 1 2 3 4
    python benchmarks/accuracy.py --data data/instruments --seeds 0 1 2 --models all
    python benchmarks/accuracy.py --data data/instruments --seeds 0 1 2 --models deep
    python benchmarks/accuracy.py --data data/instruments --seeds 0 1 2 --models cnn crnn --augment specaugment,mixup

Across sources (a multi-source set, ``musicnn datasets build instruments --soundfont timgm6mb
--soundfont merlin``): ``--test-sources merlin timgm6mb`` replaces the split seeds by one
split per held-out source (``musicnn train --split by-source --test-source NAME``): train
on the other source, test on the held-out one's programs that share no sample with it.

    python benchmarks/accuracy.py --data data/multi --test-sources merlin timgm6mb --models all
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from _bench import machine_info, print_machine


def run(data: Path, seeds: list, jobs: int, models: list[str], augment: str | None = None,
        audio_augment: str | None = None, copies: int = 1, test_sources: list[str] | None = None) -> dict:
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from musicnn.data import Collection
    from musicnn.evaluation import evaluate
    from musicnn.features import FeatureSpec
    from musicnn.modelfile import read_metadata
    from musicnn.pipeline import load_features, train

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    coll = Collection.load(data)
    rows = []
    # a protocol: (its name in the table, the split seed, the split arguments of musicnn.pipeline.train)
    protocols = ([(f"->{src}", 0, {"split": "source", "test_source": src}) for src in test_sources] if test_sources
                 else [(s, s, {}) for s in seeds])
    with tempfile.TemporaryDirectory() as tmp:
        for name_, seed, split_kw in protocols:
            specs = {}
            for model in models:
                t0 = time.perf_counter()
                params = {"augment": augment} if augment else {}
                out = train(coll, model, Path(tmp) / f"{model}-{seed}.safetensors", seed=seed, jobs=jobs,
                            progress=False, log=lambda m: None, params=params,
                            audio_augment=audio_augment, augment_copies=copies, **split_kw)
                rep = out.report
                specs[model] = FeatureSpec.from_dict(read_metadata(out.model_path)["feature_spec"])
                label = model + (f" +augment {augment}" if augment else "") + (
                    f" +audio {audio_augment} x{copies}" if audio_augment else "")
                rows.append({"seed": name_, "model": label, "accuracy": rep.accuracy, "macro_f1": rep.macro_f1,
                             "balanced_accuracy": rep.balanced_accuracy, "seconds": time.perf_counter() - t0,
                             "epochs": out.history.get("n_epochs"), "n_test": rep.n})
            parts = (coll.split(by="source", test_source=split_kw["test_source"], val_size=0.15, seed=seed)
                     if split_kw else coll.split(test_size=0.2, val_size=0.15, seed=seed))
            # the pooled-MFCC features the vector models train on, as `musicnn train` made them
            spec = next((sp for sp in specs.values() if not sp.is_sequence), None)
            if spec is None:
                from musicnn.pipeline import default_spec

                spec = default_spec("mlp", duration=1.5)
            sets = {k: load_features(v, spec, jobs=jobs, progress=False) for k, v in parts.items()}
            for name, fit_parts in (("svc", ("train",)), ("svc+val", ("train", "validation"))):
                t0 = time.perf_counter()
                X = np.concatenate([sets[p].X for p in fit_parts])
                y = np.concatenate([sets[p].y for p in fit_parts])
                clf = make_pipeline(StandardScaler(), SVC()).fit(X, y)
                rep = evaluate(sets["test"].y, clf.predict(sets["test"].X), labels=sorted(set(y)))
                rows.append({"seed": name_, "model": name, "accuracy": rep.accuracy, "macro_f1": rep.macro_f1,
                             "balanced_accuracy": rep.balanced_accuracy, "seconds": time.perf_counter() - t0,
                             "epochs": None, "n_test": rep.n})
            print(f"{name_}: " + ", ".join(f"{r['model']} {r['accuracy']:.3f}" for r in rows if r["seed"] == name_),
                  file=sys.stderr, flush=True)
    return {"machine": machine_info(), "data": str(data), "n_files": len(coll), "seeds": [p[0] for p in protocols],
            "rows": rows}


def table(result: dict) -> str:
    models = list(dict.fromkeys(r["model"] for r in result["rows"]))
    lines = ["| model | accuracy (seed 0 = demo) | macro-F1 (seed 0) | accuracy, mean ± sd over seeds | macro-F1, mean ± sd | "
             "balanced acc., mean | fit time (s), mean |",
             "|---|---|---|---|---|---|---|"]
    for m in models:
        rs = [r for r in result["rows"] if r["model"] == m]
        first = next((r for r in rs if r["seed"] == result["seeds"][0]), rs[0])

        def ms(key):
            vals = [r[key] for r in rs]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            return f"{statistics.mean(vals):.3f} ± {sd:.3f}"

        lines.append(f"| {m} | {first['accuracy']:.3f} | {first['macro_f1']:.3f} | {ms('accuracy')} | {ms('macro_f1')} | "
                     f"{statistics.mean(r['balanced_accuracy'] for r in rs):.3f} | "
                     f"{statistics.mean(r['seconds'] for r in rs):.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/instruments"),
                        help="the embedded instrument set (built if missing)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--models", nargs="+", default=["mlp", "cnn"],
                        help="registered families to train (default: the demo's mlp and cnn); 'all' for every family, "
                             "'deep' for cnn, music-cnn, rnn, lstm, gru, crnn")
    parser.add_argument("--augment", default=None, help="spectrogram augmentation of every model, e.g. specaugment,mixup")
    parser.add_argument("--audio-augment", default=None, help="audio augmentation, e.g. gain,pitch,shift")
    parser.add_argument("--augment-copies", type=int, default=1)
    parser.add_argument("--test-sources", nargs="+", default=None,
                        help="across sources: one split per held-out source instead of the seeds")
    parser.add_argument("--quick", action="store_true", help="one seed")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    if not (args.data / "manifest.csv").exists():
        from musicnn.data.render import build_instruments

        build_instruments(args.data, n_jobs=args.jobs)
    seeds = args.seeds[:1] if args.quick else args.seeds
    from musicnn.models import REGISTRY

    deep = ["cnn", "music-cnn", "rnn", "lstm", "gru", "crnn"]
    models = list(REGISTRY) if args.models == ["all"] else deep if args.models == ["deep"] else args.models
    result = run(args.data, seeds, args.jobs, models, args.augment, args.audio_augment, args.augment_copies,
                 args.test_sources)
    print_machine(result["machine"])
    if args.test_sources:
        print(f"data: {result['data']} ({result['n_files']} notes), test = held-out sources {args.test_sources} "
              "(their programs that share no sample with the training source)")
    else:
        print(f"data: {result['data']} ({result['n_files']} notes), split seeds {seeds}, test = held-out instrument groups")
    where = f"--test-sources {' '.join(args.test_sources)}" if args.test_sources else f"--seeds {' '.join(map(str, seeds))}"
    print(f"command: python benchmarks/accuracy.py --data {args.data} {where} "
          f"--models {' '.join(args.models)}"
          + (f" --augment {args.augment}" if args.augment else "")
          + (f" --audio-augment {args.audio_augment} --augment-copies {args.augment_copies}" if args.audio_augment else ""))
    print()
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
