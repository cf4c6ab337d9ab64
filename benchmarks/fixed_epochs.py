"""Early stopping on held-out groups against a fixed number of epochs on train + validation.

For a family of ``musicnn train`` (default ``mlp``), each variant is trained exactly as
``musicnn train`` trains it (``musicnn.pipeline.train``) and scored on

* ``T-M``, ``M-T``: trained on one SoundFont of the multi-source set, tested on the other's
  programs that share no sample with it (``--split by-source``);
* ``within``: the TimGM6mb notes, held-out sample groups, split seeds 0, 1, 2;
* ``TM-F``: trained on every note of both SoundFonts (15 % validation for early stopping, or
  learnt from with fixed epochs), tested on a third SoundFont (``--external``).

    python benchmarks/fixed_epochs.py --data data/multi --external data/fluid --model mlp

``early`` is early stopping on the validation split (patience 10, up to 100 epochs);
``fixed-N`` is ``validation_fraction=0, max_epochs=N`` (the validation split is then learnt
from too).  Rows are printed as JSON lines as they finish.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import warnings
from pathlib import Path

VARIANTS = {"early": {"validation_fraction": 0.15, "max_epochs": 100, "patience": 10},
            "fixed-30": {"validation_fraction": 0.0, "max_epochs": 30},
            "fixed-60": {"validation_fraction": 0.0, "max_epochs": 60}}


def main(argv: list[str] | None = None) -> None:
    from sklearn.exceptions import ConvergenceWarning

    from musicnn.data import Collection
    from musicnn.pipeline import evaluate_model, train

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="the multi-source set (timgm6mb + merlin)")
    ap.add_argument("--external", default=None, help="a set of a third SoundFont (protocol TM-F)")
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    coll = Collection.load(args.data)
    timgm = Collection([it for it in coll if it.meta.get("source") == "timgm6mb"], coll.source)
    quiet = dict(jobs=args.jobs, progress=False, log=lambda m: None)

    def emit(variant, protocol, seed, run, report):
        print(json.dumps({"model": args.model, "variant": variant, "protocol": protocol, "seed": seed,
                          "accuracy": round(report.accuracy, 4), "macro_f1": round(report.macro_f1, 4),
                          "epochs": run.history.get("n_epochs")}), flush=True)

    for name in args.variants:
        params = VARIANTS[name]
        with tempfile.TemporaryDirectory() as d:
            for test_source, protocol in (("merlin", "T-M"), ("timgm6mb", "M-T")):
                run = train(coll, args.model, Path(d) / f"{protocol}.safetensors", params=params, split="source",
                            test_source=test_source, **quiet)
                emit(name, protocol, 0, run, run.report)
            for seed in (0, 1, 2):
                run = train(timgm, args.model, Path(d) / f"w{seed}.safetensors", params=params, seed=seed, **quiet)
                emit(name, "within", seed, run, run.report)
            if args.external:
                run = train(coll, args.model, Path(d) / "all.safetensors", params=params, test_size=0.0,
                            val_size=0.15, **quiet)
                report, _ = evaluate_model(run.model_path, args.external, jobs=args.jobs, progress=False)
                emit(name, "TM-F", 0, run, report)


if __name__ == "__main__":
    main()
