"""Times LinearRegression and Ridge fits: gpulearn (CPU, and CUDA where present) vs scikit-learn.

    .venv/bin/python benchmarks/linear_fit.py --rows 1e6 --cols 100 --output results/x.json

Data are drawn once (seeded) and are resident where the backend computes (NumPy for the CPU
runs; a CuPy copy on the GPU for the "cuda (resident)" run where CuPy is installed). Each
timing is a warm-up fit followed by --repeats fits; the median and the spread are reported,
with R^2 on held-out rows and the largest coefficient difference from scikit-learn beside it.
This is a focused benchmark for the linear models; the general CLI (gpulearn-bench) replaces it.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import numpy as np


def machine_info():
    import sklearn

    import gpulearn
    from gpulearn import _core

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "gpulearn": gpulearn.__version__,
        "gpulearn_build": _core.build_info(),
        "cuda_available": gpulearn.cuda_available(),
        "cuda_unavailable_reason": _core.cuda_unavailable_reason(),
    }


def gpu_ceilings(cupy):
    """Measured ceilings of this GPU: copy bandwidth (bytes read + written per second) and the
    GEMM rate in float32 and float64 (TF32 off), each the median of 10 timed runs."""
    def median_ms(fn, runs=10):
        fn()
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        times = []
        for _ in range(runs):
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(cupy.cuda.get_elapsed_time(start, stop))
        return statistics.median(times)

    src = cupy.random.random(1 << 28, dtype=cupy.float32)  # 1 GiB
    dst = cupy.empty_like(src)
    bandwidth = 2 * src.nbytes / (median_ms(lambda: dst.__setitem__(Ellipsis, src)) * 1e-3)
    rates = {}
    for dtype in ("float32", "float64"):
        a = cupy.random.random((8192, 8192)).astype(dtype)
        rates[dtype] = 2 * 8192**3 / (median_ms(lambda: a @ a) * 1e-3)
    return {"copy_bytes_per_s": bandwidth, "gemm_flops_per_s": rates}


def roofline_floor(n, d, dtype, ceilings):
    """The Gram path's floor: X read once (bytes over bandwidth) vs the SYRK's n d^2 FLOPs
    (half a GEMM's 2 n d^2) over the GEMM rate; the larger bounds the fit from below."""
    itemsize = np.dtype(dtype).itemsize
    t_bytes = n * d * itemsize / ceilings["copy_bytes_per_s"]
    t_flops = n * d * d / ceilings["gemm_flops_per_s"][dtype]
    return max(t_bytes, t_flops)


def time_fit(make, X, y, repeats):
    model = make()
    model.fit(X, y)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - t0)
    return model, times


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=float, default=1e6)
    p.add_argument("--cols", type=int, default=100)
    p.add_argument("--dtypes", default="float32,float64")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", help="write the results as JSON here")
    args = p.parse_args(argv)

    import sklearn.linear_model as sk

    import gpulearn
    from gpulearn import linear_model as gl

    n, d = int(args.rows), args.cols
    rng = np.random.default_rng(args.seed)
    X64 = rng.standard_normal((n + n // 10, d))
    y64 = X64 @ rng.standard_normal(d) + 3.0 + 0.5 * rng.standard_normal(X64.shape[0])
    info = machine_info()
    print(f"{n} x {d}, seed {args.seed}, median of {args.repeats} | {info['cpu']} "
          f"({info['cpu_count']} threads) | CUDA: {info['cuda_available']}")
    estimators = {
        "LinearRegression": (sk.LinearRegression, gl.LinearRegression, {}),
        "Ridge": (sk.Ridge, gl.Ridge, {"alpha": 1.0}),
    }
    try:
        import cupy
    except ImportError:
        cupy = None
    ceilings = gpu_ceilings(cupy) if cupy is not None and gpulearn.cuda_available() else None
    if ceilings:
        info["gpu_ceilings"] = ceilings
        print(f"GPU ceilings: copy {ceilings['copy_bytes_per_s'] / 1e12:.2f} TB/s, GEMM "
              + ", ".join(f"{k} {v / 1e12:.1f} TFLOP/s"
                          for k, v in ceilings["gemm_flops_per_s"].items()))
    rows = []
    for dtype in args.dtypes.split(","):
        X_all, y_all = X64.astype(dtype), y64.astype(dtype)
        X, y, X_test, y_test = X_all[:n], y_all[:n], X_all[n:], y_all[n:]
        for name, (sk_cls, gl_cls, kw) in estimators.items():
            backends = [("scikit-learn", lambda: sk_cls(**kw), X, y),
                        ("gpulearn cpu", lambda: gl_cls(device="cpu", **kw), X, y)]
            if gpulearn.cuda_available():
                backends.append(("gpulearn cuda (host data)",
                                 lambda: gl_cls(device="cuda", **kw), X, y))
                if cupy is not None:
                    backends.append(("gpulearn cuda (resident)",
                                     lambda: gl_cls(device="cuda", **kw), cupy.asarray(X),
                                     cupy.asarray(y)))
            reference = None
            for backend, make, Xb, yb in backends:
                model, times = time_fit(make, Xb, yb, args.repeats)
                coef = np.asarray(model.coef_, dtype=np.float64)
                reference = coef if reference is None else reference
                row = {
                    "estimator": name, "dtype": dtype, "rows": n, "cols": d, "backend": backend,
                    "fit_median_s": statistics.median(times), "fit_min_s": min(times),
                    "fit_max_s": max(times), "r2_test": float(model.score(X_test, y_test)),
                    "max_abs_coef_diff_vs_sklearn": float(np.max(np.abs(coef - reference))),
                }
                if ceilings and backend == "gpulearn cuda (resident)":  # host data adds PCIe
                    row["roofline_floor_s"] = roofline_floor(n, d, dtype, ceilings)
                    row["roofline_fraction"] = row["roofline_floor_s"] / row["fit_median_s"]
                rows.append(row)
                print(f"{name:<17}{dtype:<8}{backend:<27}{row['fit_median_s']:>9.3f} s "
                      f"[{row['fit_min_s']:.3f}-{row['fit_max_s']:.3f}]  R^2 {row['r2_test']:.6f}"
                      f"  |dcoef| {row['max_abs_coef_diff_vs_sklearn']:.1e}"
                      + (f"  floor {row['roofline_floor_s'] * 1e3:.2f} ms "
                         f"({100 * row['roofline_fraction']:.0f}% of it)"
                         if "roofline_floor_s" in row else ""))
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"schema": 1, "machine": info, "args": vars(args), "results": rows}, f,
                      indent=1)
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
