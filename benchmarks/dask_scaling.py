"""gpulearn.dask: fit time with 1 and 2 workers, against the single-machine fit, and the bytes
each fit moves, on one machine.

    .venv/bin/python benchmarks/dask_scaling.py [--rows 2000000] [--features 20] [--blocks 8]
        [--repeats 2] [--out benchmarks/results/DATE-dask-scaling.json]

The data are drawn on the workers (dask.array's generator, fixed seed) and persisted before
timing; the single-machine fit gets the same data as one NumPy array. Each worker has one
thread; the single-machine fit uses every core. Bytes: what the fit's steps sent with their
tasks and gathered back (the partition layer's own count, ``Partitions.traffic``, divided by the
steps), and the workers' outgoing transfer counters (worker to worker and to the client).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time

import numpy as np

from gpulearn.bench._machine import _cpu_model


_QUERIES = 1000  # rows of X queried by the neighbours' case


def _cases(rows):
    """name -> (constructor kwargs, needs y, what to report per step)."""
    return {
        "KMeans": (dict(n_clusters=100, max_iter=10, tol=0.0, n_init=1, random_state=0), None),
        "PCA": (dict(n_components=10, svd_solver="covariance_eigh"), None),
        "TruncatedSVD": (dict(n_components=10, algorithm="randomized", random_state=0), None),
        "Ridge": (dict(alpha=1.0), "regression"),
        "LinearRegression": (dict(), "regression"),
        "ElasticNet": (dict(alpha=0.01), "regression"),
        "LogisticRegression": (dict(max_iter=30), "classification"),
        "NearestNeighbors": (dict(n_neighbors=10), None),
        # Depth-limited so that the fit's levels are searched across the workers (nodes of more
        # than gpulearn.forest-subtree-rows rows) down to small nodes grown whole on one worker.
        "RandomForestClassifier": (dict(n_estimators=10, max_depth=12, random_state=0),
                                   "classification"),
    }


def _targets(kind, X):
    import dask.array as da

    w = da.from_array(np.random.default_rng(1).normal(size=X.shape[1]), chunks=-1)
    score = X @ w
    return score if kind == "regression" else (score > 0).astype(np.int64)


def _worker_bytes(client):
    out = client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total)
    return sum(out.values())


def _fit_once(name, kwargs, X, y, client):
    """Seconds to fit (or, for the neighbours, to fit and query _QUERIES rows), and traffic."""
    import gpulearn.dask as gd
    from gpulearn.dask._parts import recording

    with recording() as made:
        before = _worker_bytes(client)
        est = getattr(gd, name)(device="cpu", **kwargs)
        start = time.perf_counter()
        if name == "NearestNeighbors":
            est.fit(X)
            est.kneighbors(X[:_QUERIES])[1].compute()
        else:
            est.fit(X, y) if y is not None else est.fit(X)
        seconds = time.perf_counter() - start
        moved = _worker_bytes(client) - before
    steps = sum(p.traffic["steps"] for p in made)
    return seconds, {
        "steps": steps,
        "n_iter": int(np.max(getattr(est, "n_iter_", 0) or 0)),
        "sent_bytes": sum(p.traffic["sent"] for p in made),
        "gathered_bytes": sum(p.traffic["gathered"] for p in made),
        "worker_outgoing_bytes": moved,
    }


def _single_machine(name, kwargs, X, y):
    from gpulearn import cluster, decomposition, ensemble, linear_model, neighbors

    for module in (cluster, decomposition, ensemble, linear_model, neighbors):
        if hasattr(module, name):
            est = getattr(module, name)(device="cpu", **kwargs)
    start = time.perf_counter()
    if name == "NearestNeighbors":
        est.fit(X).kneighbors(X[:_QUERIES])
    else:
        est.fit(X, y) if y is not None else est.fit(X)
    return time.perf_counter() - start


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import dask
    import dask.array as da
    import distributed
    import sklearn

    import gpulearn
    import gpulearn.dask as gd

    cases = {k: v for k, v in _cases(args.rows).items()
             if hasattr(gd, k) and (args.only is None or k in args.only)}
    chunk = -(-args.rows // args.blocks)
    results = {name: {} for name in cases}
    for n_workers in (1, 2):
        with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                      dashboard_address=":0") as cluster, \
                distributed.Client(cluster) as client:
            X = da.random.default_rng(0).standard_normal((args.rows, args.features),
                                                          chunks=(chunk, args.features))
            X = client.persist(X)
            distributed.wait(X)
            for name, (kwargs, ykind) in cases.items():
                y = client.persist(_targets(ykind, X)) if ykind else None
                times, traffic = [], None
                for _ in range(args.repeats + 1):  # the first fit warms the workers up
                    seconds, traffic = _fit_once(name, kwargs, X, y, client)
                    times.append(seconds)
                results[name][f"dask_{n_workers}w_s"] = statistics.median(times[1:])
                results[name][f"traffic_{n_workers}w"] = traffic
                print(f"{name:20s} {n_workers} worker(s): {results[name][f'dask_{n_workers}w_s']:.3f} s"
                      f"  steps {traffic['steps']}, sent {traffic['sent_bytes']:,} B, gathered "
                      f"{traffic['gathered_bytes']:,} B, worker out "
                      f"{traffic['worker_outgoing_bytes']:,} B", flush=True)
            if n_workers == 1:
                Xn = X.compute()
                ys = {k: _targets(k, X).compute() for k in ("regression", "classification")}
    for name, (kwargs, ykind) in cases.items():
        times = [_single_machine(name, kwargs, Xn, ys[ykind] if ykind else None)
                 for _ in range(args.repeats + 1)]
        results[name]["single_machine_s"] = statistics.median(times[1:])
        r = results[name]
        print(f"{name:20s} single machine (all cores): {r['single_machine_s']:.3f} s; "
              f"scaling 1 -> 2 workers: {r['dask_1w_s'] / r['dask_2w_s']:.2f}x", flush=True)
    record = {
        "what": "gpulearn.dask fit time with 1 and 2 workers (1 thread each) vs the "
                "single-machine fit, and the bytes each fit moved",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": _cpu_model(),
                    "cores": __import__("os").cpu_count(), "platform": platform.platform()},
        "versions": {"gpulearn": gpulearn.__version__, "dask": dask.__version__,
                     "distributed": distributed.__version__, "scikit-learn": sklearn.__version__,
                     "numpy": np.__version__},
        "data": {"rows": args.rows, "features": args.features, "blocks": args.blocks,
                 "dtype": "float64"},
        "results": results,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(record, f, indent=1)
    return record


if __name__ == "__main__":
    main()
