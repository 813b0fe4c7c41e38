"""The compiled core's Params classes (python/bindings/register_<family>.cpp): named fields with
scikit-learn's names, spellings and defaults, built by keyword; and the core's own validation
of max_features (the C++ MaxFeatures), in scikit-learn's words."""

import numpy as np
import pytest
from sklearn import cluster, decomposition, ensemble, linear_model, neighbors

from gpulearn import _arrays, _core, _devices

# (core Params, scikit-learn estimator, the fields both have: the same name and meaning)
_FOREST_FIELDS = ("n_estimators", "criterion", "max_depth", "min_samples_split",
                  "min_samples_leaf", "min_weight_fraction_leaf", "max_features",
                  "max_leaf_nodes", "min_impurity_decrease", "bootstrap", "max_samples")
_PAIRS = [
    pytest.param(_core.RandomForestParams, ensemble.RandomForestClassifier, _FOREST_FIELDS,
                 id="RandomForestClassifier"),
    pytest.param(_core.RandomForestParams.regressor, ensemble.RandomForestRegressor,
                 _FOREST_FIELDS, id="RandomForestRegressor"),
    pytest.param(_core.KMeansParams, cluster.KMeans, ("n_clusters", "init", "max_iter", "tol"),
                 id="KMeans"),
    pytest.param(_core.LinearRegressionParams, linear_model.LinearRegression,
                 ("fit_intercept", "tol", "positive"), id="LinearRegression"),
    pytest.param(_core.RidgeParams, linear_model.Ridge, ("fit_intercept", "solver", "positive"),
                 id="Ridge"),
    pytest.param(_core.ElasticNetParams, linear_model.ElasticNet,
                 ("alpha", "l1_ratio", "fit_intercept", "max_iter", "tol", "positive",
                  "selection"), id="ElasticNet"),
    pytest.param(_core.LogisticRegressionParams, linear_model.LogisticRegression,
                 ("C", "l1_ratio", "fit_intercept", "max_iter", "tol"), id="LogisticRegression"),
    pytest.param(_core.PcaParams, decomposition.PCA,
                 ("n_components", "whiten", "svd_solver", "tol", "iterated_power",
                  "n_oversamples"), id="PCA"),
    pytest.param(_core.TruncatedSvdParams, decomposition.TruncatedSVD,
                 ("n_components", "algorithm", "n_iter", "n_oversamples", "tol"),
                 id="TruncatedSVD"),
    pytest.param(_core.NeighborsParams, neighbors.NearestNeighbors, ("metric", "p"),
                 id="NearestNeighbors"),
]


@pytest.mark.parametrize("make, estimator, fields", _PAIRS)
def test_params_defaults_are_sklearns(make, estimator, fields):
    params, expected = make(), estimator().get_params()
    for name in fields:
        got = getattr(params, name)
        assert got == expected[name], name
        if name != "p":  # Minkowski's p is a float in the core (2.0), an int in scikit-learn
            assert type(got) is type(expected[name]), name


def test_ridge_alpha_default():
    assert _core.RidgeParams().alpha == [linear_model.Ridge().alpha]


def test_params_by_keyword():
    p = _core.RandomForestParams(n_estimators=7, criterion="log_loss", max_depth=3,
                                 max_features=0.25, max_leaf_nodes=None, max_samples=50)
    assert (p.n_estimators, p.criterion, p.max_depth) == (7, "entropy", 3)
    assert (p.max_features, p.max_leaf_nodes, p.max_samples) == (0.25, None, 50)
    for value in (None, "sqrt", "log2", 4, 0.5):
        p.max_features = value
        assert p.max_features == value and type(p.max_features) is type(value)
    k = _core.KMeansParams(n_clusters=3, init="k-means||", seed=5)
    assert (k.n_clusters, k.init, k.seed) == (3, "k-means||", 5)
    pca = _core.PcaParams(n_components="mle", iterated_power=3)
    assert (pca.n_components, pca.iterated_power, pca.random_start) == ("mle", 3, None)
    pca.random_start = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(pca.random_start, np.arange(6.0))
    with pytest.raises(AttributeError, match="no field 'n_cluster'"):
        _core.KMeansParams(n_cluster=3)
    with pytest.raises(ValueError, match="init must be"):
        _core.KMeansParams(init="kmeans")
    with pytest.raises(NotImplementedError, match="criterion 'poisson'"):
        _core.RandomForestParams(criterion="poisson")
    with pytest.raises(NotImplementedError, match="metric 'haversine'"):
        _core.NeighborsParams(metric="haversine")


@pytest.mark.parametrize("value, shown", [(0, "0"), (-1, "-1"), (1.5, "1.5"), (0.0, "0.0"),
                                          ("auto", "'auto'")])
def test_core_refuses_max_features_in_sklearns_words(value, shown):
    # The estimators check the type first (_validate_params); the core checks the value, with
    # scikit-learn's message, for every caller.
    X = np.random.default_rng(0).normal(size=(20, 4))
    labels = (X[:, 0] > 0).astype(np.int32)
    rule = ("The 'max_features' parameter must be an int in the range [1, inf), a float in the "
            "range (0.0, 1.0], a str among {'log2', 'sqrt'} or None. Got " + shown + " instead.")
    with pytest.raises(ValueError) as info:
        params = _core.RandomForestParams(n_estimators=1, max_features=value)
        _core.random_forest_fit(_devices.context("cpu"), params, _arrays.host_ref(X), labels, 2,
                                None, None)
    assert rule in str(info.value)


@pytest.mark.parametrize("env, expected", [
    ({"GPULEARN_NUM_THREADS": "1"}, 1),
    ({"GPULEARN_NUM_THREADS": "3"}, 3),
    # OMP_NUM_THREADS is not read: distributed sets it to 1 in its client's process.
    ({"OMP_NUM_THREADS": "1"}, None),
    ({"GPULEARN_NUM_THREADS": "none"}, None),  # not a count: every hardware thread
])
def test_cpu_thread_count_follows_the_environment(env, expected):
    # The CPU backend's default thread count (a Context without n_threads): GPULEARN_NUM_THREADS,
    # else every hardware thread. Read once per process, so each case is a fresh interpreter.
    import os
    import subprocess
    import sys

    clean = {k: v for k, v in os.environ.items()
             if k not in ("OMP_NUM_THREADS", "GPULEARN_NUM_THREADS")}
    code = ("from gpulearn import _core; "
            "print(_core.Context('cpu').threads, _core.Context('cpu', n_threads=2).threads)")
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) == (expected if expected is not None else os.cpu_count())
    assert int(out[1]) == 2
