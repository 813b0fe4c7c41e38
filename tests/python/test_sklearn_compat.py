"""gpulearn estimators inside scikit-learn: its estimator checks, meta-estimators, pickling."""

import inspect
import io
import json
import os
import pickle
import subprocess
import sys
import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import linear_model as sk
from sklearn.base import clone, is_regressor
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

import gpulearn
from gpulearn import _base
from gpulearn.cluster import KMeans
from gpulearn.decomposition import PCA, TruncatedSVD
from gpulearn.ensemble import RandomForestClassifier, RandomForestRegressor
from gpulearn.linear_model import (ElasticNet, Lasso, LinearRegression, LogisticRegression,
                                   Ridge)
from gpulearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

from _testdata import make_regression_data

# The float64 parity bar of test_linear_parity.py (well-conditioned data).
RTOL_F64 = 1e-7

# Checks that cannot apply, each with the reason. Nothing else may fail.
EXPECTED_FAILED_CHECKS = {
    "KMeans": {
        "check_sample_weight_equivalence_on_dense_data": (
            "k-means++ draws its candidates by weight, so a weight of 2 and a repeated row are "
            "different random streams; scikit-learn lists the same expected failure for its "
            "KMeans. With a given init, weights equal repetition (test_kmeans.py)"
        ),
        "check_sample_weight_equivalence_on_sparse_data": (
            "the same on sparse input, which scikit-learn lists for its KMeans too. With a given "
            "init, weights equal repetition (test_sparse_kmeans.py)"
        ),
    },
    "Ridge": {
        "check_non_transformer_estimators_n_iter": (
            "Ridge's solvers are direct, so n_iter_ is None as in scikit-learn's own Ridge, "
            "which lists the same expected failure ('n_iter_ cannot be easily accessed')"
        ),
    },
}


# Bagged forests: a weight multiplies a row's bootstrap count, while a repeated row is drawn
# on its own, so the two fits see different bootstrap samples. scikit-learn lists the same
# expected failure for its RandomForestClassifier/Regressor ("sample_weight is not equivalent
# to removing/repeating samples"). Without bootstrap the check passes (below), and
# test_ensemble.py shows integer weights equal repeated rows for a non-bootstrapped tree.
_BOOTSTRAPPED_FOREST_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "bootstrap draws: a weight multiplies a row's count, a repeated row is drawn apart, "
        "as in scikit-learn's forests, which list the same expected failure"
    ),
}


def expected_failed_checks(estimator):
    if (type(estimator).__name__ in ("RandomForestClassifier", "RandomForestRegressor")
            and estimator.bootstrap):
        return _BOOTSTRAPPED_FOREST_CHECKS
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


# An expected failure that starts passing fails the run (strict xfail), so the list above
# stays true; scikit-learn < 1.8 has no xfail_strict and runs the checks non-strictly.
_STRICT = ({"xfail_strict": True}
           if "xfail_strict" in inspect.signature(parametrize_with_checks).parameters else {})


@parametrize_with_checks([LinearRegression(device="cpu"), Ridge(device="cpu"),
                          KMeans(device="cpu"), NearestNeighbors(device="cpu"),
                          KNeighborsClassifier(device="cpu"), KNeighborsRegressor(device="cpu"),
                          PCA(device="cpu"),
                          PCA(n_components=2, svd_solver="randomized", device="cpu"),
                          TruncatedSVD(device="cpu"), Lasso(device="cpu"),
                          ElasticNet(device="cpu"), LogisticRegression(device="cpu"),
                          RandomForestClassifier(n_estimators=10, device="cpu"),
                          RandomForestRegressor(n_estimators=10, device="cpu"),
                          RandomForestClassifier(n_estimators=10, bootstrap=False,
                                                 max_features=None, device="cpu"),
                          RandomForestRegressor(n_estimators=10, bootstrap=False,
                                                device="cpu")],
                         expected_failed_checks=expected_failed_checks, **_STRICT)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


_ARRAY_API_CHILD = """
import json
from sklearn.utils.estimator_checks import check_estimator
from gpulearn.linear_model import LinearRegression, Ridge
statuses = {}
for est in (LinearRegression(device="cpu"), Ridge(device="cpu")):
    for result in check_estimator(est, on_fail=None):
        if result["check_name"] == "check_array_api_input":
            statuses[type(est).__name__] = [result["status"], repr(result["exception"])]
print(json.dumps(statuses))
"""


def test_sklearn_array_api_check_passes_with_scipy_array_api_enabled():
    # check_array_api_input skips above unless SCIPY_ARRAY_API=1 was set before SciPy was
    # imported; run it in a child interpreter that sets it, so the check is not just skipped.
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    child = subprocess.run([sys.executable, "-c", _ARRAY_API_CHILD], env=env,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr
    statuses = json.loads(child.stdout.strip().splitlines()[-1])
    assert statuses == {"LinearRegression": ["passed", "None"], "Ridge": ["passed", "None"]}


# --------------------------------------------------------------------------------------------
# Estimator protocol


@pytest.mark.parametrize("gl_cls", [LinearRegression, Ridge])
def test_clone_copies_hyper_parameters_and_drops_fitted_state(gl_cls, rng):
    X, y = make_regression_data(rng)
    params = {"fit_intercept": False, "device": "cpu"}
    if gl_cls is Ridge:
        params["alpha"] = 3.0
    est = gl_cls(**params).fit(X, y)
    copy = clone(est)
    assert copy is not est
    assert copy.get_params() == est.get_params()
    assert copy.get_params()["device"] == "cpu"
    assert not hasattr(copy, "coef_")
    assert is_regressor(copy)
    copy.set_params(device="auto")
    assert copy.device == "auto" and est.device == "cpu"
    assert_array_equal(copy.fit(X, y).coef_, est.coef_)


@pytest.mark.parametrize("gl_cls, sk_cls", [(LinearRegression, sk.LinearRegression),
                                            (Ridge, sk.Ridge)])
def test_hyper_parameters_are_sklearns_plus_device(gl_cls, sk_cls):
    ours = gl_cls().get_params()
    theirs = sk_cls().get_params()
    assert ours.pop("device") == "auto"
    assert ours == theirs


@pytest.mark.parametrize("gl_cls", [LinearRegression, Ridge])
def test_tags_declare_a_multi_output_regressor_taking_sparse_input(gl_cls):
    tags = get_tags(gl_cls())
    assert tags.estimator_type == "regressor"
    assert tags.target_tags.multi_output is True
    assert tags.input_tags.sparse is True  # as scikit-learn's (tests/python/test_sparse_linear.py)


# --------------------------------------------------------------------------------------------
# Meta-estimators


def test_pipeline_with_standard_scaler_matches_sklearn(rng):
    X, y = make_regression_data(rng)
    X_test, _ = make_regression_data(rng, n_samples=30)
    ours = make_pipeline(StandardScaler(), Ridge(alpha=2.0, device="cpu")).fit(X, y)
    ref = make_pipeline(StandardScaler(), sk.Ridge(alpha=2.0)).fit(X, y)
    assert_allclose(ours[-1].coef_, ref[-1].coef_, rtol=RTOL_F64)
    assert_allclose(ours.predict(X_test), ref.predict(X_test), rtol=RTOL_F64)
    assert_allclose(ours.score(X, y), ref.score(X, y), rtol=RTOL_F64)


def test_grid_search_over_alpha_matches_sklearn(rng):
    X, y = make_regression_data(rng, n_samples=150, noise=2.0)
    grid = {"alpha": [0.01, 1.0, 30.0, 1000.0]}
    cv = KFold(n_splits=4, shuffle=True, random_state=0)
    ours = GridSearchCV(Ridge(device="cpu"), grid, cv=cv).fit(X, y)
    ref = GridSearchCV(sk.Ridge(), grid, cv=cv).fit(X, y)
    assert ours.best_params_ == ref.best_params_
    assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"],
                    rtol=RTOL_F64)
    assert isinstance(ours.best_estimator_, Ridge)
    assert ours.best_estimator_.device == "cpu"
    assert_allclose(ours.predict(X), ref.predict(X), rtol=RTOL_F64)


@pytest.mark.parametrize("gl_cls, sk_cls", [(LinearRegression, sk.LinearRegression),
                                            (Ridge, sk.Ridge)])
@pytest.mark.parametrize("scoring", [None, "neg_mean_squared_error"])
def test_cross_val_score_matches_sklearn(gl_cls, sk_cls, scoring, rng):
    X, y = make_regression_data(rng, n_samples=100, noise=1.0)
    cv = KFold(n_splits=5, shuffle=True, random_state=1)
    ours = cross_val_score(gl_cls(device="cpu"), X, y, cv=cv, scoring=scoring)
    ref = cross_val_score(sk_cls(), X, y, cv=cv, scoring=scoring)
    assert ours.shape == (5,)
    assert_allclose(ours, ref, rtol=RTOL_F64)


# --------------------------------------------------------------------------------------------
# Persistence


@pytest.mark.parametrize("gl_cls", [LinearRegression, Ridge])
@pytest.mark.parametrize("n_targets", [None, 3])
def test_pickle_round_trip_predicts_identically(gl_cls, n_targets, rng):
    X, y = make_regression_data(rng, n_targets=n_targets)
    model = gl_cls(device="cpu").fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    assert type(restored) is gl_cls
    assert restored.get_params() == model.get_params()
    assert_array_equal(restored.coef_, model.coef_)
    assert_array_equal(restored.intercept_, model.intercept_)
    assert_array_equal(restored.predict(X), model.predict(X))
    assert not hasattr(restored, "_gpulearn_pickle_format")


@pytest.mark.parametrize("gl_cls", [LinearRegression, Ridge])
def test_joblib_round_trip_predicts_identically(gl_cls, rng, tmp_path):
    X, y = make_regression_data(rng)
    X32 = X.astype(np.float32)
    for X_fit in (X, X32):
        model = gl_cls(device="cpu").fit(X_fit, y)
        path = tmp_path / f"model_{X_fit.dtype}.joblib"
        joblib.dump(model, path)
        restored = joblib.load(path)
        assert restored.coef_.dtype == X_fit.dtype
        assert_array_equal(restored.predict(X_fit), model.predict(X_fit))


def test_pickle_records_a_format_version_and_refuses_newer_ones(rng):
    X, y = make_regression_data(rng)
    model = Ridge(device="cpu").fit(X, y)
    state = model.__getstate__()
    assert state["_gpulearn_pickle_format"] == _base.PICKLE_FORMAT
    newer = Ridge.__new__(Ridge)
    state["_gpulearn_pickle_format"] = _base.PICKLE_FORMAT + 1
    with pytest.raises(ValueError, match="pickled by a newer gpulearn"):
        newer.__setstate__(state)


@pytest.mark.parametrize("gl_cls", [LinearRegression, Ridge])
def test_model_pickled_with_device_cuda_predicts_on_cpu_with_a_warning(gl_cls, rng):
    if gpulearn.cuda_available():
        pytest.skip("CUDA is available here: a cuda model predicts on the GPU, no fallback")
    X, y = make_regression_data(rng)
    model = gl_cls(device="cpu").fit(X, y)
    expected = model.predict(X)
    model.set_params(device="cuda")  # as if it had been fitted on a GPU machine
    buffer = io.BytesIO()
    pickle.dump(model, buffer)
    buffer.seek(0)
    restored = pickle.load(buffer)
    assert restored.device == "cuda"
    with pytest.warns(UserWarning, match="CUDA is unavailable here.*computing on the CPU") as rec:
        pred = restored.predict(X)
    # The warning points at the caller's line, not into gpulearn.
    assert any(r.filename == __file__ for r in rec)
    assert_array_equal(pred, expected)
    with pytest.warns(UserWarning, match="computing on the CPU"):
        assert_allclose(restored.score(X, y), model.set_params(device="cpu").score(X, y),
                        rtol=RTOL_F64)
    # Fitting, unlike predicting, does not fall back: the user asked for a GPU.
    with pytest.raises(RuntimeError, match="CUDA is unavailable"):
        restored.fit(X, y)
