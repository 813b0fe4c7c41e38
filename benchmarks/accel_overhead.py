"""Per-call overhead of gpulearn.accel: scikit-learn's class under the accelerator against
gpulearn's class called directly, fit and predict on 100 rows, for each of the 13 estimators.

Usage: python benchmarks/accel_overhead.py [--repeats N] [--device cpu|cuda] [--output FILE.json]
(default 300 repeats, device cpu). Recorded in benchmarks/results/README.md.

Each repeat times one direct call and one accelerated call of the same method on the same
input, alternating which goes first (so drift and cache effects fall on both), after a warm-up;
the table gives the medians in microseconds and their difference. Afterwards, untimed, a
profile checks that the accelerated calls ran on gpulearn: a fallback would time scikit-learn's
code, and is shown in the last column instead of passing for overhead. The issue's target is an
overhead under 50 us per call."""
import argparse
import json
import sys
import time

import numpy as np

import gpulearn
import gpulearn.accel as accel
from gpulearn.bench import _machine

N, D = 100, 10
# (scikit-learn class, parameters kept small so that the call, not the work, is measured,
#  target: regression, classes or none, the method timed after fit)
CASES = [
    ("sklearn.linear_model.LinearRegression", {}, "reg", "predict"),
    ("sklearn.linear_model.Ridge", {}, "reg", "predict"),
    ("sklearn.linear_model.Lasso", {"alpha": 0.01}, "reg", "predict"),
    ("sklearn.linear_model.ElasticNet", {"alpha": 0.01}, "reg", "predict"),
    ("sklearn.linear_model.LogisticRegression", {}, "cls", "predict"),
    ("sklearn.cluster.KMeans", {"n_clusters": 3, "n_init": 1, "random_state": 0}, None,
     "predict"),
    ("sklearn.decomposition.PCA", {"n_components": 3}, None, "transform"),
    ("sklearn.decomposition.TruncatedSVD", {"n_components": 3, "random_state": 0}, None,
     "transform"),
    ("sklearn.neighbors.NearestNeighbors", {"n_neighbors": 5}, None, "kneighbors"),
    ("sklearn.neighbors.KNeighborsClassifier", {"n_neighbors": 5}, "cls", "predict"),
    ("sklearn.neighbors.KNeighborsRegressor", {"n_neighbors": 5}, "reg", "predict"),
    ("sklearn.ensemble.RandomForestClassifier",
     {"n_estimators": 10, "max_depth": 4, "random_state": 0}, "cls", "predict"),
    ("sklearn.ensemble.RandomForestRegressor",
     {"n_estimators": 10, "max_depth": 4, "random_state": 0}, "reg", "predict"),
]


def _class(path):
    import importlib
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D))
    y_reg = X @ rng.standard_normal(D) + 0.1 * rng.standard_normal(N)
    y_cls = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    return X, {"reg": y_reg, "cls": y_cls, None: None}


def _pair(direct, accelerated, repeats, warmup):
    """Median microseconds of (direct, accelerated), interleaved, alternating the order."""
    for _ in range(warmup):
        direct()
        accelerated()
    times = {0: [], 1: []}
    calls = (direct, accelerated)
    for i in range(repeats):
        for which in ((0, 1) if i % 2 == 0 else (1, 0)):
            t0 = time.perf_counter_ns()
            calls[which]()
            times[which].append(time.perf_counter_ns() - t0)
    return tuple(float(np.median(times[w])) / 1e3 for w in (0, 1))


def _where(rows, method):
    mine = [r for r in rows if r["method"] == method]
    return "; ".join(r["where"] + (f" ({r['reason']})" if r["reason"] else "")
                     + (f" [{r['note']}]" if r.get("note") else "") for r in mine)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", help="write the figures as JSON")
    args = parser.parse_args(argv)

    X, targets = _data()
    accel.install(device=args.device, subprocesses=False)
    results = []
    for path, params, target, method in CASES:
        sk_class = _class(path)
        gl_class = _class(path.replace("sklearn.", "gpulearn."))
        y = targets[target]
        fit_args = (X,) if y is None else (X, y)
        direct = gl_class(device=args.device, **params).fit(*fit_args)
        accelerated = sk_class(**params).fit(*fit_args)
        row = {"estimator": sk_class.__name__, "method": method}
        for phase, d_call, a_call in (
                ("fit", lambda: direct.fit(*fit_args), lambda: accelerated.fit(*fit_args)),
                (method, lambda: getattr(direct, method)(X),
                 lambda: getattr(accelerated, method)(X))):
            d_us, a_us = _pair(d_call, a_call, args.repeats, args.warmup)
            with accel.profile(print_report=False) as prof:  # untimed: where it ran
                a_call()
            ran_on = _where(prof.rows, phase)
            fell_back = not ran_on.startswith(f"gpulearn {args.device}")
            row[phase if phase == "fit" else "apply"] = {
                "direct_us": round(d_us, 1), "accelerated_us": round(a_us, 1),
                # a fallback times scikit-learn's code: no overhead figure
                "overhead_us": None if fell_back else round(a_us - d_us, 1),
                "ran_on": ran_on or "not seen by the accelerator"}
        results.append(row)
        print(f"{row['estimator']}: done", file=sys.stderr, flush=True)
    accel.uninstall()

    head = (f"{'estimator':<24} {'method':<10} {'direct us':>10} {'accel us':>10} "
            f"{'overhead us':>12}  ran on")
    lines = [head, "-" * len(head)]
    for row in results:
        for phase, name in (("fit", "fit"), ("apply", row["method"])):
            r = row[phase]
            overhead = "fallback" if r["overhead_us"] is None else f"{r['overhead_us']:.1f}"
            lines.append(f"{row['estimator']:<24} {name:<10} {r['direct_us']:>10.1f} "
                         f"{r['accelerated_us']:>10.1f} {overhead:>12}  {r['ran_on']}")
    print("\n".join(lines))
    phases = [(row["estimator"], row["fit" if p == "fit" else "apply"], p) for row in results
              for p in ("fit", row["method"])]
    over = [f"{e} {p} ({r['overhead_us']} us)" for e, r, p in phases
            if r["overhead_us"] is not None and r["overhead_us"] > 50]
    fell = [f"{e} {p}" for e, r, p in phases if r["overhead_us"] is None]
    print(f"\nover the 50 us target: {', '.join(over)}" if over
          else "\nevery call that ran on gpulearn is within the 50 us target")
    if fell:
        print(f"fell back to scikit-learn (not measured): {', '.join(fell)}")
    if args.output:
        doc = {"benchmark": "accel_overhead", "rows": N, "cols": D, "dtype": "float64",
               "device": args.device, "repeats": args.repeats, "warmup": args.warmup,
               "machine": _machine.machine_info(), "versions": _machine.versions(),
               "gpulearn": gpulearn.__file__, "results": results}
        with open(args.output, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
