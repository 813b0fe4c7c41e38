"""gpulearn's LinearRegression and Ridge against scikit-learn, on every backend present.

scikit-learn (float64, LAPACK) is the reference. Tolerances are named constants below with the
reason for each; data are drawn with the recorded SEED (conftest) and are never all zeros.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import linear_model as sk

import gpulearn
from gpulearn import _core
from gpulearn.linear_model import LinearRegression, Ridge

from _testdata import make_regression_data

# Well-conditioned float64 problems (cond(X) ~ 10): both libraries use backward-stable direct
# solvers, so they agree to ~cond * eps ~ 1e-14; 1e-7 is the project's parity bar, leaving room
# for the different summation orders of a GPU's reductions.
RTOL_F64 = 1e-7
# Rank-deficient X: the minimum-norm solution comes out of different factorisations (QR + SVD
# of R here, LAPACK gelsd in scipy) whose null-space components cancel only to ~1e-14 of the
# largest coefficient; 1e-6 still catches any solution off the minimum-norm one by O(1).
RTOL_RANK_DEFICIENT = 1e-6
# cond(X) ~ 3e5: a backward-stable solver's forward error is ~cond * eps ~ 1e-10, whereas a
# plain normal-equations solve loses ~cond^2 * eps ~ 2e-5; 1e-8 tells the two apart.
RTOL_ILL_CONDITIONED = 1e-8
# float32 input computed in float32 vs scikit-learn on the float64 data: float32 rounding
# (eps 6e-8) amplified by cond(X) and accumulated over the samples gives ~1e-6 on the
# coefficients; 1e-4 leaves margin for GPU reductions yet catches a wrong answer.
RTOL_F32 = 1e-4
# Zero singular values of a centred rank-deficient X come out as ~1e-15 * s_max in any
# floating-point SVD; they are compared absolutely, relative to the largest one.
ATOL_SINGULAR_REL = 1e-10

# (gpulearn class, scikit-learn class, shared hyper-parameters)
ESTIMATORS = [
    pytest.param(LinearRegression, sk.LinearRegression, {}, id="LinearRegression"),
    pytest.param(Ridge, sk.Ridge, {"alpha": 1.5}, id="Ridge"),
]


def scaled_atol(desired, rtol):
    """An absolute tolerance of ``rtol`` times the largest magnitude: entries that happen to be
    near zero are compared at the scale of the problem, not at their own."""
    return rtol * float(np.max(np.abs(desired)))


def assert_parity(actual, desired, rtol):
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape
    assert_allclose(actual, desired, rtol=rtol, atol=scaled_atol(desired, rtol))


def fit_both(gl_cls, sk_cls, params, device, X, y, **fit_kwargs):
    ours = gl_cls(device=device, **params).fit(X, y, **fit_kwargs)
    ref = sk_cls(**params).fit(X, y, **fit_kwargs)
    return ours, ref


# --------------------------------------------------------------------------------------------
# Well-conditioned float64 data


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_coef_and_intercept_match_sklearn(gl_cls, sk_cls, params, device, rng):
    X, y = make_regression_data(rng)
    ours, ref = fit_both(gl_cls, sk_cls, params, device, X, y)
    assert ours.coef_.dtype == np.float64
    assert_parity(ours.coef_, ref.coef_, RTOL_F64)
    assert np.ndim(ours.intercept_) == np.ndim(ref.intercept_) == 0
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_F64)
    assert ours.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_predict_and_score_match_sklearn(gl_cls, sk_cls, params, device, rng):
    X, y = make_regression_data(rng)
    X_test, y_test = make_regression_data(rng, n_samples=50)
    ours, ref = fit_both(gl_cls, sk_cls, params, device, X, y)
    pred = ours.predict(X_test)
    assert isinstance(pred, np.ndarray) and pred.shape == (50,) and pred.dtype == np.float64
    assert_parity(pred, ref.predict(X_test), RTOL_F64)
    assert_allclose(ours.score(X_test, y_test), ref.score(X_test, y_test), rtol=RTOL_F64)
    assert_allclose(ours.score(X, y), ref.score(X, y), rtol=RTOL_F64)


def test_linear_regression_rank_and_singular_values_match_sklearn(device, rng):
    X, y = make_regression_data(rng)
    ours, ref = fit_both(LinearRegression, sk.LinearRegression, {}, device, X, y)
    assert isinstance(ours.rank_, int)
    assert ours.rank_ == ref.rank_ == X.shape[1]
    assert_parity(ours.singular_, ref.singular_, RTOL_F64)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_multi_target_matches_sklearn(fit_intercept, device, rng):
    X, Y = make_regression_data(rng, n_targets=3)
    for gl_cls, sk_cls, params in [(LinearRegression, sk.LinearRegression, {}),
                                   (Ridge, sk.Ridge, {"alpha": 0.7})]:
        params = {**params, "fit_intercept": fit_intercept}
        ours, ref = fit_both(gl_cls, sk_cls, params, device, X, Y)
        assert ours.coef_.shape == ref.coef_.shape == (3, X.shape[1])
        assert_parity(ours.coef_, ref.coef_, RTOL_F64)
        assert np.shape(ours.intercept_) == np.shape(ref.intercept_)
        assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_F64, atol=0)
        pred = ours.predict(X)
        assert pred.shape == (X.shape[0], 3)
        assert_parity(pred, ref.predict(X), RTOL_F64)
        assert_allclose(ours.score(X, Y), ref.score(X, Y), rtol=RTOL_F64)


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_two_dimensional_y_with_one_column_has_sklearns_shapes(gl_cls, sk_cls, params, device,
                                                               rng):
    # scikit-learn's LinearRegression keeps coef_ (1, d) and predicts (n, 1); its Ridge ravels
    # coef_ to (d,) and predicts (n,), keeping intercept_ of shape (1,). Follow each.
    X, y = make_regression_data(rng)
    y2 = y.reshape(-1, 1)
    ours, ref = fit_both(gl_cls, sk_cls, params, device, X, y2)
    assert ours.coef_.shape == ref.coef_.shape
    assert np.shape(ours.intercept_) == np.shape(ref.intercept_) == (1,)
    assert_parity(ours.coef_, ref.coef_, RTOL_F64)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_F64)
    pred, ref_pred = ours.predict(X), ref.predict(X)
    assert pred.shape == ref_pred.shape
    assert_parity(pred, ref_pred, RTOL_F64)


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_fit_intercept_false_matches_sklearn(gl_cls, sk_cls, params, device, rng):
    X, y = make_regression_data(rng)
    params = {**params, "fit_intercept": False}
    ours, ref = fit_both(gl_cls, sk_cls, params, device, X, y)
    assert_parity(ours.coef_, ref.coef_, RTOL_F64)
    assert ours.intercept_ == ref.intercept_ == 0.0
    assert_parity(ours.predict(X), ref.predict(X), RTOL_F64)
    # The data have an intercept, so fitting without one must give a different model.
    with_intercept = gl_cls(device=device, **{**params, "fit_intercept": True}).fit(X, y)
    assert not np.allclose(with_intercept.coef_, ours.coef_, rtol=1e-3)


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_many_rows_across_row_chunks_match_sklearn(gl_cls, sk_cls, params, device, rng):
    # The backends pass over X in row chunks (512 rows on the CPU); 2_777 rows cross several
    # chunk boundaries and end on a partial chunk.
    X, Y = make_regression_data(rng, n_samples=2_777, n_features=7, n_targets=2)
    w = rng.uniform(0.2, 3.0, size=X.shape[0])
    ours, ref = fit_both(gl_cls, sk_cls, params, device, X, Y, sample_weight=w)
    assert_parity(ours.coef_, ref.coef_, RTOL_F64)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_F64)
    assert_parity(ours.predict(X), ref.predict(X), RTOL_F64)
    # The last row alone is predicted like any other (no off-by-one in the final chunk).
    assert_parity(ours.predict(X[-1:]), ref.predict(X[-1:]), RTOL_F64)


# --------------------------------------------------------------------------------------------
# Rank-deficient and ill-conditioned X


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_samples", [120, 1_337])  # within one row chunk, across several
def test_rank_deficient_duplicated_column_gives_sklearns_minimum_norm_solution(
        fit_intercept, n_samples, device, rng):
    X, y = make_regression_data(rng, n_samples=n_samples)
    X = np.hstack([X, X[:, [1]]])  # column 1 twice: rank d in d + 1 columns
    ours, ref = fit_both(LinearRegression, sk.LinearRegression,
                         {"fit_intercept": fit_intercept}, device, X, y)
    assert ours.rank_ == ref.rank_ == X.shape[1] - 1
    assert_parity(ours.coef_, ref.coef_, RTOL_RANK_DEFICIENT)
    # The minimum-norm solution splits the weight equally between the two copies.
    assert_allclose(ours.coef_[1], ours.coef_[-1], rtol=RTOL_RANK_DEFICIENT)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_RANK_DEFICIENT,
                    atol=scaled_atol(ref.coef_, RTOL_RANK_DEFICIENT))
    assert ours.singular_.shape == ref.singular_.shape
    assert_allclose(ours.singular_, ref.singular_, rtol=RTOL_RANK_DEFICIENT,
                    atol=ATOL_SINGULAR_REL * ref.singular_.max())
    assert_parity(ours.predict(X), ref.predict(X), RTOL_RANK_DEFICIENT)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_more_features_than_samples_gives_sklearns_minimum_norm_solution(fit_intercept, device,
                                                                          rng):
    X = rng.normal(size=(12, 30))
    y = rng.normal(size=12)
    ours, ref = fit_both(LinearRegression, sk.LinearRegression,
                         {"fit_intercept": fit_intercept}, device, X, y)
    # Centring 12 samples leaves rank 11; without centring the rank is 12.
    assert ours.rank_ == ref.rank_ == (11 if fit_intercept else 12)
    assert_parity(ours.coef_, ref.coef_, RTOL_RANK_DEFICIENT)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_RANK_DEFICIENT,
                    atol=scaled_atol(ref.coef_, RTOL_RANK_DEFICIENT))
    assert_allclose(ours.singular_, ref.singular_, rtol=RTOL_RANK_DEFICIENT,
                    atol=ATOL_SINGULAR_REL * ref.singular_.max())
    # An underdetermined system is interpolated exactly.
    assert_allclose(ours.predict(X), y, rtol=0, atol=1e-9 * np.abs(y).max())


def ill_conditioned_data(rng, n_samples=200, n_features=8, log10_smallest=-5.5):
    """X with singular values spread over 10^0 .. 10^log10_smallest (cond ~ 3e5 centred)."""
    U, _ = np.linalg.qr(rng.normal(size=(n_samples, n_features)))
    V, _ = np.linalg.qr(rng.normal(size=(n_features, n_features)))
    X = (U * np.logspace(0, log10_smallest, n_features)) @ V.T + rng.normal(size=n_features)
    y = X @ rng.normal(size=n_features) + 0.01 * rng.normal(size=n_samples)
    return X, y


def test_linear_regression_ill_conditioned_matches_sklearn(device, rng):
    X, y = ill_conditioned_data(rng)
    assert np.linalg.cond(X - X.mean(axis=0)) > 1e5
    ours, ref = fit_both(LinearRegression, sk.LinearRegression, {}, device, X, y)
    assert ours.rank_ == ref.rank_ == X.shape[1]
    assert_parity(ours.coef_, ref.coef_, RTOL_ILL_CONDITIONED)
    assert_parity(ours.predict(X), ref.predict(X), RTOL_ILL_CONDITIONED)


@pytest.mark.parametrize("solver", ["auto", "svd", "cholesky"])
def test_ridge_ill_conditioned_matches_sklearn(solver, device, rng):
    X, y = ill_conditioned_data(rng)
    ours, ref = fit_both(Ridge, sk.Ridge, {"alpha": 1e-3, "solver": solver}, device, X, y)
    assert ours.solver_ == ref.solver_
    assert_parity(ours.coef_, ref.coef_, RTOL_ILL_CONDITIONED)
    assert_parity(ours.predict(X), ref.predict(X), RTOL_ILL_CONDITIONED)


@pytest.mark.parametrize("solver", ["auto", "cholesky", "svd"])
def test_ridge_alpha_zero_on_rank_deficient_x_falls_back_to_svd_like_sklearn(solver, device, rng):
    # A constant column is exactly zero once centred, so X^T X is singular: scikit-learn's
    # Cholesky fails and it falls back to its SVD solver (pseudo-inverse), as gpulearn must.
    X, y = make_regression_data(rng)
    X = np.hstack([X, np.full((X.shape[0], 1), 3.0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn may warn about the singular system
        ours, ref = fit_both(Ridge, sk.Ridge, {"alpha": 0.0, "solver": solver}, device, X, y)
    assert ref.solver_ == "svd"
    assert ours.solver_ == "svd"
    assert_parity(ours.coef_, ref.coef_, RTOL_RANK_DEFICIENT)
    assert abs(ours.coef_[-1]) <= scaled_atol(ref.coef_, RTOL_RANK_DEFICIENT)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_RANK_DEFICIENT)
    # With no penalty this is ordinary least squares' minimum-norm solution.
    lr = sk.LinearRegression().fit(X, y)
    assert_parity(ours.coef_, lr.coef_, RTOL_RANK_DEFICIENT)


# --------------------------------------------------------------------------------------------
# Ridge specifics


@pytest.mark.parametrize("solver", ["svd", "cholesky"])
def test_ridge_solver_matches_sklearns_same_solver(solver, device, rng):
    X, y = make_regression_data(rng)
    ours, ref = fit_both(Ridge, sk.Ridge, {"alpha": 2.5, "solver": solver}, device, X, y)
    assert ours.solver_ == ref.solver_ == solver
    assert ours.n_iter_ is None and ref.n_iter_ is None
    assert_parity(ours.coef_, ref.coef_, RTOL_F64)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_F64)


@pytest.mark.parametrize("solver", ["auto", "svd", "cholesky"])
def test_ridge_per_target_alpha_matches_sklearn(solver, device, rng):
    X, Y = make_regression_data(rng, n_targets=3)
    alpha = np.array([0.1, 10.0, 300.0])
    ours, ref = fit_both(Ridge, sk.Ridge, {"alpha": alpha, "solver": solver}, device, X, Y)
    assert_parity(ours.coef_, ref.coef_, RTOL_F64)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_F64)
    # Each target really gets its own penalty: target k equals a single-alpha fit.
    for k in range(3):
        single = Ridge(alpha=alpha[k], solver=solver, device=device).fit(X, Y[:, k])
        assert_parity(ours.coef_[k], single.coef_, RTOL_F64)


def test_ridge_alpha_as_list_is_accepted_like_sklearn(device, rng):
    X, Y = make_regression_data(rng, n_targets=2)
    ours, ref = fit_both(Ridge, sk.Ridge, {"alpha": [0.5, 5.0]}, device, X, Y)
    assert_parity(ours.coef_, ref.coef_, RTOL_F64)


# --------------------------------------------------------------------------------------------
# float32


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_float32_input_stays_float32(gl_cls, sk_cls, params, device, rng):
    X, y = make_regression_data(rng)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    ours = gl_cls(device=device, **params).fit(X32, y32)
    ref = sk_cls(**params).fit(X, y)  # the float64 reference
    assert ours.coef_.dtype == np.float32
    assert isinstance(ours.intercept_, np.float32)
    pred = ours.predict(X32)
    assert pred.dtype == np.float32
    assert_parity(ours.coef_, ref.coef_, RTOL_F32)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_F32,
                    atol=scaled_atol(ref.coef_, RTOL_F32))
    assert_parity(pred, ref.predict(X), RTOL_F32)
    if gl_cls is LinearRegression:
        assert ours.singular_.dtype == np.float32


def test_float32_multi_target_stays_float32(device, rng):
    X, Y = make_regression_data(rng, n_targets=2)
    for est in (LinearRegression(device=device), Ridge(device=device)):
        est.fit(X.astype(np.float32), Y.astype(np.float32))
        assert est.coef_.dtype == est.intercept_.dtype == np.float32
        assert est.predict(X.astype(np.float32)).dtype == np.float32


# --------------------------------------------------------------------------------------------
# sample_weight


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
@pytest.mark.parametrize("n_targets", [None, 2])
def test_sample_weight_matches_sklearn(gl_cls, sk_cls, params, n_targets, device, rng):
    X, y = make_regression_data(rng, n_targets=n_targets)
    w = rng.uniform(0.1, 3.0, size=X.shape[0])
    ours, ref = fit_both(gl_cls, sk_cls, params, device, X, y, sample_weight=w)
    assert_parity(ours.coef_, ref.coef_, RTOL_F64)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_F64)
    # ... and the weights matter.
    unweighted = gl_cls(device=device, **params).fit(X, y)
    assert not np.allclose(unweighted.coef_, ours.coef_, rtol=1e-6)
    assert_allclose(ours.score(X, y, sample_weight=w), ref.score(X, y, sample_weight=w),
                    rtol=RTOL_F64)


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_integer_sample_weight_equals_repeating_rows(gl_cls, sk_cls, params, device, rng):
    X, y = make_regression_data(rng, n_samples=60)
    counts = rng.integers(1, 4, size=X.shape[0])
    weighted = gl_cls(device=device, **params).fit(X, y, sample_weight=counts)
    repeated = gl_cls(device=device, **params).fit(np.repeat(X, counts, axis=0),
                                                   np.repeat(y, counts))
    assert_parity(weighted.coef_, repeated.coef_, RTOL_F64)
    assert_allclose(weighted.intercept_, repeated.intercept_, rtol=RTOL_F64)


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_zero_sample_weight_equals_dropping_rows(gl_cls, sk_cls, params, device, rng):
    X, y = make_regression_data(rng, n_samples=60)
    w = rng.uniform(0.5, 2.0, size=X.shape[0])
    dropped = rng.permutation(X.shape[0])[:15]
    w[dropped] = 0.0
    # The dropped rows get wild targets: any leak of them into the fit shows.
    y = y.copy()
    y[dropped] += rng.normal(scale=100.0, size=dropped.size)
    keep = w > 0
    zeroed = gl_cls(device=device, **params).fit(X, y, sample_weight=w)
    subset = gl_cls(device=device, **params).fit(X[keep], y[keep], sample_weight=w[keep])
    assert_parity(zeroed.coef_, subset.coef_, RTOL_F64)
    assert_allclose(zeroed.intercept_, subset.intercept_, rtol=RTOL_F64)


# --------------------------------------------------------------------------------------------
# Determinism and memory layout


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_fitting_twice_gives_bitwise_identical_models(gl_cls, sk_cls, params, device, rng):
    X, Y = make_regression_data(rng, n_targets=2)
    first = gl_cls(device=device, **params).fit(X, Y)
    second = gl_cls(device=device, **params).fit(X, Y)
    refit = first.fit(X, Y)  # the same instance, fitted again
    for other in (second, refit):
        assert_array_equal(first.coef_, other.coef_)
        assert_array_equal(first.intercept_, other.intercept_)
    assert_array_equal(first.predict(X), second.predict(X))


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_results_do_not_depend_on_memory_layout(gl_cls, sk_cls, params, device, rng):
    # Row slices are read in place through their row stride, column slices and Fortran
    # order are copied to C order: the values and their order are the same, so the results
    # must be identical, not merely close.
    X_big, y_big = make_regression_data(rng, n_samples=300, n_features=10)
    X_rows = X_big[::3, ::2]
    assert not X_rows.flags.c_contiguous and not X_rows.flags.f_contiguous
    X_rows_only = X_big[::3]
    assert not X_rows_only.flags.c_contiguous
    y = y_big[::3]
    X_c = np.ascontiguousarray(X_rows)
    X_f = np.asfortranarray(X_rows)

    model = gl_cls(device=device, **params).fit(X_c, y)
    expected = model.predict(X_c)
    assert_array_equal(model.predict(X_rows), expected)
    assert_array_equal(model.predict(X_f), expected)
    for X_fit in (X_rows, X_f):
        other = gl_cls(device=device, **params).fit(X_fit, y)
        assert_array_equal(other.coef_, model.coef_)
        assert_array_equal(other.intercept_, model.intercept_)

    model_rows = gl_cls(device=device, **params).fit(X_rows_only, y)
    assert_array_equal(model_rows.coef_,
                       gl_cls(device=device, **params).fit(np.ascontiguousarray(X_rows_only),
                                                           y).coef_)
    assert_array_equal(model_rows.predict(X_rows_only),
                       model_rows.predict(np.ascontiguousarray(X_rows_only)))


# --------------------------------------------------------------------------------------------
# Input kinds: pandas and DLPack


def frame(X):
    return pd.DataFrame(X, columns=[f"feature_{i}" for i in range(X.shape[1])])


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_dataframe_sets_feature_names_in(gl_cls, sk_cls, params, device, rng):
    X, y = make_regression_data(rng)
    df = frame(X)
    ours, ref = fit_both(gl_cls, sk_cls, params, device, df, y)
    assert_array_equal(ours.feature_names_in_, ref.feature_names_in_)
    assert ours.feature_names_in_.dtype == object
    assert_parity(ours.coef_, ref.coef_, RTOL_F64)
    assert_parity(ours.predict(df), ref.predict(df), RTOL_F64)
    # Refitting on an ndarray forgets the names, as in scikit-learn.
    ours.fit(X, y)
    assert not hasattr(ours, "feature_names_in_")


def sklearn_error_message(callable_):
    with pytest.raises(ValueError) as info:
        callable_()
    return str(info.value)


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_predict_with_mismatched_feature_names_raises_like_sklearn(gl_cls, sk_cls, params, rng):
    X, y = make_regression_data(rng)
    df = frame(X)
    ours, ref = fit_both(gl_cls, sk_cls, params, "cpu", df, y)
    reordered = df[df.columns[::-1]]
    renamed = df.rename(columns={"feature_0": "something_else"})
    for bad in (reordered, renamed):
        expected = sklearn_error_message(lambda: ref.predict(bad))
        with pytest.raises(ValueError) as info:
            ours.predict(bad)
        assert str(info.value) == expected
        assert "feature names should match" in expected


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_feature_name_presence_mismatch_warns_like_sklearn(gl_cls, sk_cls, params, rng):
    X, y = make_regression_data(rng)
    df = frame(X)
    fitted_on_frame = gl_cls(device="cpu", **params).fit(df, y)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        fitted_on_frame.predict(X)
    fitted_on_array = gl_cls(device="cpu", **params).fit(X, y)
    with pytest.warns(UserWarning, match="X has feature names, but"):
        fitted_on_array.predict(df)


class DLPackOnly:
    """A host array reachable only through the DLPack protocol (no __array__, no buffer)."""

    def __init__(self, array):
        self._array = array
        self.calls = 0

    def __dlpack__(self, **kwargs):
        self.calls += 1
        return self._array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._array.__dlpack_device__()


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_dlpack_only_object_is_accepted_for_fit_and_predict(gl_cls, sk_cls, params, rng):
    X, y = make_regression_data(rng)
    assert not hasattr(DLPackOnly(X), "__array__")
    X_dl, y_dl = DLPackOnly(X), DLPackOnly(y)
    via_dlpack = gl_cls(device="cpu", **params).fit(X_dl, y_dl)
    assert X_dl.calls >= 1 and y_dl.calls >= 1
    direct = gl_cls(device="cpu", **params).fit(X, y)
    assert_array_equal(via_dlpack.coef_, direct.coef_)
    assert_array_equal(via_dlpack.intercept_, direct.intercept_)
    pred = via_dlpack.predict(DLPackOnly(X))
    assert isinstance(pred, np.ndarray)
    assert_array_equal(pred, direct.predict(X))
    # DLPack float32 keeps float32, like any float32 input.
    pred32 = gl_cls(device="cpu", **params).fit(
        DLPackOnly(X.astype(np.float32)), DLPackOnly(y.astype(np.float32))
    ).predict(DLPackOnly(X.astype(np.float32)))
    assert pred32.dtype == np.float32


def test_dlpack_sample_weight_is_accepted(rng):
    X, y = make_regression_data(rng)
    w = rng.uniform(0.5, 2.0, size=X.shape[0])
    via_dlpack = Ridge(device="cpu").fit(X, y, sample_weight=DLPackOnly(w))
    direct = Ridge(device="cpu").fit(X, y, sample_weight=w)
    assert_array_equal(via_dlpack.coef_, direct.coef_)


# --------------------------------------------------------------------------------------------
# Configuration, devices, versions


def test_get_config_defaults_and_set_config_round_trip():
    assert gpulearn.get_config() == {"device": "auto", "output_type": "input"}
    gpulearn.set_config(device="cpu", output_type="numpy")
    assert gpulearn.get_config() == {"device": "cpu", "output_type": "numpy"}
    gpulearn.set_config(device=None)  # None leaves a setting unchanged
    assert gpulearn.get_config()["device"] == "cpu"
    gpulearn.set_config(device="CPU")  # canonicalised
    assert gpulearn.get_config()["device"] == "cpu"
    # get_config returns a copy: mutating it changes nothing.
    gpulearn.get_config()["device"] = "cuda"
    assert gpulearn.get_config()["device"] == "cpu"


def test_config_context_sets_and_restores():
    before = gpulearn.get_config()
    with gpulearn.config_context(device="cpu", output_type="numpy"):
        assert gpulearn.get_config() == {"device": "cpu", "output_type": "numpy"}
        with gpulearn.config_context(output_type="input"):
            assert gpulearn.get_config() == {"device": "cpu", "output_type": "input"}
        assert gpulearn.get_config()["output_type"] == "numpy"
    assert gpulearn.get_config() == before
    with pytest.raises(RuntimeError, match="boom"):
        with gpulearn.config_context(device="cpu"):
            raise RuntimeError("boom")
    assert gpulearn.get_config() == before


def test_config_device_is_used_by_estimators_with_device_auto(rng):
    X, y = make_regression_data(rng)
    with gpulearn.config_context(device="cpu"):
        auto = Ridge().fit(X, y)  # device="auto" follows the configuration
    explicit = Ridge(device="cpu").fit(X, y)
    assert_array_equal(auto.coef_, explicit.coef_)
    if not gpulearn.cuda_available():
        with gpulearn.config_context(device="cuda"):
            with pytest.raises(RuntimeError, match="CUDA is unavailable"):
                Ridge().fit(X, y)


def test_output_type_numpy_returns_numpy_for_numpy_input(rng):
    X, y = make_regression_data(rng)
    model = Ridge(device="cpu").fit(X, y)
    with gpulearn.config_context(output_type="numpy"):
        pred = model.predict(X)
    assert type(pred) is np.ndarray
    assert_array_equal(pred, model.predict(X))


@pytest.mark.parametrize("bad", ["gpu", "cuda:", "cuda:x", "cuda:-1", "cpu0", "", "tpu", 0])
def test_invalid_device_strings_raise_value_error(bad, rng):
    with pytest.raises(ValueError, match="device must be"):
        gpulearn.set_config(device=bad)
    with pytest.raises(ValueError, match="device must be"):
        with gpulearn.config_context(device=bad):
            pass
    assert gpulearn.get_config()["device"] == "auto"
    X, y = make_regression_data(rng, n_samples=20)
    for est in (LinearRegression(device=bad), Ridge(device=bad)):
        with pytest.raises(ValueError, match="device"):
            est.fit(X, y)


def test_invalid_output_type_raises_value_error():
    with pytest.raises(ValueError, match="output_type"):
        gpulearn.set_config(output_type="pandas")
    assert gpulearn.get_config()["output_type"] == "input"


@pytest.mark.parametrize("device_string", ["cuda", "cuda:0", "cuda:1"])
@pytest.mark.parametrize("gl_cls", [LinearRegression, Ridge])
def test_requesting_cuda_without_it_raises_an_error_naming_cuda(device_string, gl_cls, rng):
    if gpulearn.cuda_available():
        pytest.skip("CUDA is available on this machine")
    X, y = make_regression_data(rng, n_samples=20)
    with pytest.raises(RuntimeError) as info:
        gl_cls(device=device_string).fit(X, y)
    message = str(info.value)
    assert "CUDA is unavailable" in message
    assert _core.cuda_unavailable_reason() in message


def test_device_auto_runs_without_cuda(rng):
    if gpulearn.cuda_available():
        pytest.skip("CUDA is available: auto picks the GPU")
    X, y = make_regression_data(rng)
    auto = LinearRegression().fit(X, y)  # the default device is "auto"
    assert auto.device == "auto"
    assert_array_equal(auto.coef_, LinearRegression(device="cpu").fit(X, y).coef_)


def test_cuda_available_returns_a_bool():
    available = gpulearn.cuda_available()
    assert type(available) is bool
    assert gpulearn.cuda_available() is available
    reason = _core.cuda_unavailable_reason()
    assert isinstance(reason, str)
    if not available:
        assert reason  # a missing GPU is always explained


def test_show_versions_prints_build_devices_and_libraries(capsys):
    import sklearn

    gpulearn.show_versions()
    out = capsys.readouterr().out
    assert f"version: {gpulearn.__version__}" in out
    assert "CUDA backend built: " in out
    assert "devices:" in out and "cpu" in out
    assert f"scikit-learn: {sklearn.__version__}" in out
    assert f"numpy: {np.__version__}" in out
    if not gpulearn.cuda_available():
        assert _core.cuda_unavailable_reason() in out



# --------------------------------------------------------------------------------------------
# lstsq's cond as LAPACK reads it, scale-blind solver choice, wide Ridge, overlapping views


@pytest.mark.parametrize("tol", [0.0, 1.0, 5.0])
def test_linear_regression_repeated_columns_lower_the_rank_at_any_tol(tol, device):
    # gelsd reads cond <= 0 or >= 1 as machine epsilon, where an exactly repeated column leaves
    # a singular value of rounding noise (1e-17..1e-14 s_max, by summation order): lstsq's
    # rank_ is then a coin toss (scikit-learn: 7 for 69 of these 120 seeds x sizes), and so was
    # ours (CPU: seed 37 at n=150; the CUDA backend's QR: 71 of 120). Both backends now drop
    # singular values under the rounding floor eps * d * s_max: rank_ is the true rank, and
    # coef_ the minimum-norm solution that lstsq gives with a cond above the noise.
    for seed, n in [(37, 150), (0, 20), (1, 150), (2, 1000), (3, 1000)]:
        X, y = make_regression_data(np.random.default_rng(seed), n_samples=n, n_features=6)
        X = np.hstack([X, X[:, :1], X[:, 2:4]])  # rank 6 of 9
        ours = LinearRegression(tol=tol, device=device).fit(X, y)
        ref = sk.LinearRegression(tol=1e-10).fit(X, y)
        assert ref.rank_ == 6
        assert ours.rank_ == 6, (seed, n)
        assert_parity(ours.coef_, ref.coef_, RTOL_RANK_DEFICIENT)


@pytest.mark.parametrize("tol", [1e-3, 1e-6])
def test_linear_regression_tol_is_lstsq_cond(tol, device, rng):
    # A column within 1e-4 relative of another: its singular value (~3e-5 s_max) is kept at
    # tol=1e-6 and dropped at tol=1e-3, by both lstsq and gpulearn, with the same coefficients.
    X, y = make_regression_data(rng, n_samples=150, n_features=6)
    X = np.hstack([X, X[:, :1] + 1e-4 * rng.normal(size=(150, 1))])
    ours = LinearRegression(tol=tol, device=device).fit(X, y)
    ref = sk.LinearRegression(tol=tol).fit(X, y)
    assert ref.rank_ == (6 if tol == 1e-3 else 7)
    assert ours.rank_ == ref.rank_
    assert_parity(ours.coef_, ref.coef_, RTOL_RANK_DEFICIENT)


def test_float32_ridge_on_unscaled_columns_stays_on_the_cholesky_path(device, rng):
    # Column scales from 1 to 1e3 make lambda_max / lambda_min ~ 1e6, yet the columns are far
    # from collinear: the Cholesky acceptance test looks at the equilibrated matrix.
    X, y = make_regression_data(rng, n_samples=500, n_features=6)
    X = (X * np.logspace(0, 3, 6)).astype(np.float32)
    ours = Ridge(alpha=1.0, device=device).fit(X, y.astype(np.float32))
    assert ours.solver_ == "cholesky"
    ref = sk.Ridge(alpha=1.0).fit(X.astype(np.float64), y)
    assert_parity(ours.coef_, ref.coef_, RTOL_F32)


@pytest.mark.parametrize("alpha", [1e-3, 1.0, np.array([0.5, 2.0])])
def test_ridge_with_more_features_than_samples_matches_sklearn(alpha, device, rng):
    X, y = make_regression_data(rng, n_samples=30, n_features=80)
    Y = np.c_[y, 2 * y + 1]
    ours = Ridge(alpha=alpha, device=device).fit(X, Y)
    ref = sk.Ridge(alpha=alpha).fit(X, Y)
    assert ours.solver_ == "svd"  # no 80 x 80 Gram matrix for 30 samples
    assert_parity(ours.coef_, ref.coef_, RTOL_F64)
    assert_parity(ours.intercept_, ref.intercept_, RTOL_F64)


def test_overlapping_row_views_are_read_correctly(device, rng):
    # A sliding-window view has rows that overlap in memory: it must be copied, not read past.
    from numpy.lib.stride_tricks import sliding_window_view

    series = rng.standard_normal(400)
    X = sliding_window_view(series, 5)
    y = X @ np.arange(1.0, 6.0) + 0.1 * rng.standard_normal(X.shape[0])
    ours = LinearRegression(device=device).fit(X, y)
    ref = sk.LinearRegression().fit(np.array(X), y)
    assert_parity(ours.coef_, ref.coef_, RTOL_F64)
    assert_allclose(ours.predict(X), ref.predict(np.array(X)), rtol=RTOL_F64)
