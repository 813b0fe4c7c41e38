"""Benchmark cases of the random forests: RandomForestClassifier (the issue's standard case:
1e6 x 50 float32, 100 trees of depth at most 16, scikit-learn on every core) judged by test
accuracy, and RandomForestRegressor on make_regression judged by R^2."""

import numpy as np
from sklearn.metrics import accuracy_score, r2_score

from .. import _data
from .._registry import Algorithm, Cost, Quality, Size, register

_ACCURACY = Quality(
    name="accuracy",
    score=lambda model, data, output: float(accuracy_score(data.y_test, output)),
    # The bar: within 1 percentage point of scikit-learn's forest. Two forests with
    # different random streams differ by a few tenths of a point on 4,000+ test rows; binning
    # to 256 quantile bins costs less than that (tests/python/test_ensemble.py).
    tolerance=0.01,
)

_R2 = Quality(
    name="R^2",
    score=lambda model, data, output: float(r2_score(data.y_test, output)),
    # The bar for the regressor: R^2 within 0.01 of scikit-learn's forest.
    tolerance=0.01,
)

# scikit-learn's forest is the slow peer: the quick suite times a warm-up and three repeats
# of each fit, also on 2-core machines, so its size keeps one scikit-learn fit of 100 trees
# to ~2 s there (measured on 2 cores: 4-7.6 s at 2e4 x 20, 13 s at 5e4 x 20; the two cases
# took 84 s of quick suite at 2e4 rows).
_SIZES = {
    "quick": [Size(10_000, 20, "float32")],
    "standard": [Size(1_000_000, 50, "float32")],
    "full": [Size(1_000_000, 50, "float32"), Size(1_000_000, 50, "float64"),
             Size(4_000_000, 50, "float32"), Size(1_000_000, 200, "float32")],
}


def _classification(size, seed):
    """2 classes on 8 informative features (class_sep 1.5), rows shuffled so that the held-out
    rows hold both classes."""
    return _data.classification(size, seed, n_informative=8, class_sep=1.5, shuffle=True)


def _resolved_max_features(params, d, default):
    mf = params.get("max_features", default)
    if mf == "sqrt":
        return max(1, int(np.sqrt(d)))
    if mf == "log2":
        return max(1, int(np.log2(d)))
    if mf is None:
        return d
    if isinstance(mf, float):
        return max(1, int(mf * d))
    return min(int(mf), d)


def _mean_depth(model, params):
    """The mean depth of the fitted trees (each backend's estimators_ has tree_.max_depth),
    else max_depth."""
    try:
        depths = [e.tree_.max_depth for e in model.estimators_]
        return max(1.0, float(np.mean(depths)))
    except (AttributeError, TypeError):
        return float(params.get("max_depth") or 16)


def _cost(default_max_features, width):
    """Fit: one pass over X to bin it (quantile edges, then one code byte per entry), then per
    tree and per level every in-bag row adds its statistics (``width`` channels) to the
    histograms of the max_features features its node visits, reading one code byte each
    (levels: the trees' mean depth). The adds are integer, not GEMM FLOPs: the compute floor
    they give is loose; the code reads set the memory floor. Predict: each held-out row reads
    its d values once and walks every tree from root to a leaf (a comparison per level); the
    leaf values are averaged (``width`` per tree)."""

    def cost(phase, size, params, model):
        s = 4 if size.dtype == "float32" else 8
        n, d = size.rows, size.cols
        trees = int(params.get("n_estimators", 100))
        depth = _mean_depth(model, params)
        if phase == "fit":
            mf = _resolved_max_features(params, d, default_max_features)
            visits = trees * depth * n * mf
            return Cost(bytes=n * d * s + n * d + visits, flops=visits * width,
                        transfer_bytes=n * d * s)
        m = size.n_test
        walks = m * trees * depth
        return Cost(bytes=m * d * s + walks * 16, flops=walks + m * trees * width,
                    transfer_bytes=m * d * s)

    return cost


_PARAMS = {"n_estimators": 100, "max_depth": 16, "n_jobs": -1, "random_state": 0}

register(Algorithm(
    name="random_forest",
    estimator="RandomForestClassifier",
    gpulearn="gpulearn.ensemble.RandomForestClassifier",
    sklearn="sklearn.ensemble.RandomForestClassifier",
    data=_classification,
    data_key="classification2_shuffled",
    quality=_ACCURACY,
    sizes=_SIZES,
    params=_PARAMS,
    peers={"sklearnex": "sklearnex.ensemble.RandomForestClassifier",
           "cuml": "cuml.ensemble.RandomForestClassifier"},
    cost=_cost("sqrt", width=3),  # two class weights and the row count
))

register(Algorithm(
    name="random_forest_regressor",
    estimator="RandomForestRegressor",
    gpulearn="gpulearn.ensemble.RandomForestRegressor",
    sklearn="sklearn.ensemble.RandomForestRegressor",
    data=lambda size, seed: _data.regression(size, seed, n_informative=10),
    data_key="regression10",
    quality=_R2,
    sizes=_SIZES,
    # A third of the features per node (Breiman's choice for regression; scikit-learn's
    # default, all of them, makes its fit 3x slower again).
    params={**_PARAMS, "max_features": 0.3},
    peers={"sklearnex": "sklearnex.ensemble.RandomForestRegressor",
           "cuml": "cuml.ensemble.RandomForestRegressor"},
    cost=_cost(1.0, width=4),  # weight, w y, w y^2 and the row count
))
