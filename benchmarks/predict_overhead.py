"""Per-call overhead: one predict on 100 rows, for KMeans, Ridge and a random forest (CPU).

Usage: python benchmarks/predict_overhead.py [CALLS] (default 1000); recorded in
benchmarks/results/README.md (2026-12-07).

Prints, per estimator, the median and the minimum of many timed calls, in microseconds."""
import json, sys, time
import numpy as np
import gpulearn
from gpulearn.cluster import KMeans
from gpulearn.linear_model import Ridge
from gpulearn.ensemble import RandomForestClassifier

rng = np.random.default_rng(0)
X = rng.standard_normal((20_000, 20))
y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
Xq = np.ascontiguousarray(X[:100])
models = {
    "KMeans(8)": KMeans(n_clusters=8, n_init=1, random_state=0).fit(X),
    "Ridge": Ridge().fit(X, X[:, 0] * 2 + 1),
    "RandomForestClassifier(50, max_depth=8)": RandomForestClassifier(
        n_estimators=50, max_depth=8, random_state=0).fit(X, y),
}
out = {"gpulearn": gpulearn.__file__}
for name, m in models.items():
    for _ in range(50):
        m.predict(Xq)
    t = []
    for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1000):
        t0 = time.perf_counter_ns()
        m.predict(Xq)
        t.append(time.perf_counter_ns() - t0)
    t = np.array(t) / 1e3
    out[name] = {"median_us": round(float(np.median(t)), 1), "min_us": round(float(t.min()), 1)}
print(json.dumps(out))
