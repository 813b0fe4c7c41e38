"""A first look: Ridge fitted by gpulearn (CPU, and GPU where present) beside scikit-learn.

Run ``python -m gpulearn.demo`` (the README's main command until the benchmark CLI lands).
It prints, per backend, the fit time (median of repeats) and R^2 on held-out data.
"""

import argparse
import statistics
import time

import numpy as np


def _median_time(fn, repeats):
    fn()  # warm-up: context creation, plugin load, page faults
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=2e5, help="training rows (default 2e5)")
    parser.add_argument("--cols", type=int, default=100, help="features (default 100)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import sklearn.linear_model as sk

    import gpulearn
    from gpulearn.linear_model import Ridge

    n, d = int(args.rows), args.cols
    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((n + n // 4, d)).astype(args.dtype)
    y = (X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(X.shape[0])).astype(args.dtype)
    X_train, X_test, y_train, y_test = X[:n], X[n:], y[:n], y[n:]

    runs = [("scikit-learn", lambda: sk.Ridge(alpha=1.0))]
    runs.append(("gpulearn cpu", lambda: Ridge(alpha=1.0, device="cpu")))
    if gpulearn.cuda_available():
        runs.append(("gpulearn cuda", lambda: Ridge(alpha=1.0, device="cuda")))
    print(f"Ridge(alpha=1.0) fit on {n} x {d} {args.dtype} (seed {args.seed}), "
          f"median of {args.repeats}")
    print(f"{'backend':<16}{'fit time (s)':>14}{'speedup':>10}{'R^2 (test)':>14}")
    base = None
    for name, make in runs:
        model = make()
        seconds = _median_time(lambda: model.fit(X_train, y_train), args.repeats)
        base = base or seconds
        print(f"{name:<16}{seconds:>14.4f}{base / seconds:>9.1f}x"
              f"{model.score(X_test, y_test):>14.6f}")
    if not gpulearn.cuda_available():
        from gpulearn import _core

        print(f"(no GPU run: {_core.cuda_unavailable_reason()})")


if __name__ == "__main__":
    main()
