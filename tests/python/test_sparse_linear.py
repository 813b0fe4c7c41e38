"""Sparse X for gpulearn's LinearRegression, Ridge, Lasso and ElasticNet, on the CPU.

The four fit scipy.sparse input over the same drivers as dense input (src/linear_model/
sparse_linear_data.cpp: the Gram system from sparse passes, implicit centring, a chunked QR for
the rank-revealing path). References: scikit-learn on the same sparse input (its own sparse
solvers) and on the dense form of it, and gpulearn's own dense fit. Data come from the recorded
SEED (conftest, _testdata) and are never all zeros. Each tolerance is a named constant with
what was measured when it was set.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn import linear_model as sk

from gpulearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge

from _testdata import PEAK_PROBE, SEED

DEVICE = "cpu"

# Sparse and dense input give the same Gram system up to summation order (implicit centring
# G - S m m^T in double against the centred chunks of the dense pass): measured <= 1.0e-14
# relative to the largest coefficient, all four estimators, all three densities; 1e-10 catches
# any difference in the model.
RTOL_SPARSE_VS_DENSE = 1e-10
# Against scikit-learn's dense direct solvers (lstsq, cholesky) on X.toarray(), the exact
# solution both ways: the project's float64 parity bar (test_linear_parity.py); measured <= 1.3e-14.
RTOL_F64 = 1e-7
# Against scikit-learn's LinearRegression on sparse X, which stops LSQR at atol = btol = tol
# (1e-6 by default, passed down here as 1e-12 so that the reference is the solution): measured
# <= 3.3e-13 relative to the largest coefficient (at scikit-learn's default tol=1e-6: 2.5e-7);
# 1e-6 still catches a wrong solution.
RTOL_LSQR = 1e-6
# Against scikit-learn's Ridge on sparse X (sparse_cg, tol passed as 1e-12): measured <= 9.7e-13
# (at scikit-learn's default tol=1e-4 its CG stops 1e-4 off the solution: 3.4e-4 measured).
RTOL_SPARSE_CG = 1e-7
# Ridge's conjugate gradients (ours on the primal normal equations, scikit-learn's on the primal
# or, for n < d, the dual) both run to tol=1e-12 of the right-hand side: measured <= 3.9e-13
# (1.5e-11 on the 300 x 5000 problem, where scikit-learn iterates on the dual; 3.9e-11 for
# LinearRegression there against its LSQR at tol=1e-12, 1.8e-5 at the default 1e-6); 1e-7 is the
# project's float64 bar.
RTOL_CG = 1e-7
# Coordinate descent: the same updates in the same order as scikit-learn's sparse descent, both
# on the columns with implicit centring (test_linear_sparse_logistic.py's RTOL_CD for dense
# data): measured <= 1.8e-15 relative to the largest coefficient on the density grid, 5.8e-14
# on the 400 x 6000 weighted problem after 1353 sweeps, and the same n_iter_ everywhere.
RTOL_CD = 1e-10
# float32 against scikit-learn on the float64 data (the project's float32 bar): measured
# <= 1.7e-7.
RTOL_F32 = 1e-4

DENSITIES = [0.001, 0.01, 0.1]
# (n_samples, n_features) per density: enough stored entries per column to fit a model.
SHAPES = {0.001: (3000, 12), 0.01: (600, 15), 0.1: (200, 20)}

ESTIMATORS = [
    pytest.param(LinearRegression, sk.LinearRegression, {}, id="LinearRegression"),
    pytest.param(Ridge, sk.Ridge, {"alpha": 0.7}, id="Ridge"),
    pytest.param(Lasso, sk.Lasso, {"alpha": 0.01, "tol": 1e-10, "max_iter": 5000}, id="Lasso"),
    pytest.param(ElasticNet, sk.ElasticNet,
                 {"alpha": 0.02, "l1_ratio": 0.6, "tol": 1e-10, "max_iter": 5000},
                 id="ElasticNet"),
]


def scaled_assert(actual, desired, rtol):
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape
    scale = max(float(np.max(np.abs(desired))), 1e-300)
    assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale)


def sparse_problem(density, n_targets=None, fmt="csr", seed=0):
    """A random sparse X with normal values and a linear y on it (plus noise)."""
    rng = np.random.default_rng(SEED + seed)
    n, d = SHAPES[density]
    X = sparse.random(n, d, density=density, format=fmt, random_state=rng,
                      data_rvs=lambda k: rng.normal(1.0, 2.0, size=k))
    shape = (d,) if n_targets is None else (d, n_targets)
    coef = rng.normal(size=shape)
    y = X @ coef + 0.5 + 0.1 * rng.normal(size=(n,) + shape[1:])
    return X, np.asarray(y)


def sk_reference(sk_cls, params):
    """scikit-learn's estimator, its iterative sparse solvers asked for the exact solution."""
    if sk_cls is sk.LinearRegression:
        return sk_cls(tol=1e-12, **params)
    if sk_cls is sk.Ridge:
        return sk_cls(tol=1e-12, **params)
    return sk_cls(**params)


def sk_tolerance(sk_cls):
    return {sk.LinearRegression: RTOL_LSQR, sk.Ridge: RTOL_SPARSE_CG}.get(sk_cls, RTOL_CD)


# --------------------------------------------------------------------------------------------
# Parity

@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_matches_sklearn_on_the_same_sparse_input(gl_cls, sk_cls, params, density):
    X, y = sparse_problem(density)
    ours = gl_cls(device=DEVICE, **params).fit(X, y)
    ref = sk_reference(sk_cls, params).fit(X, y)
    tol = sk_tolerance(sk_cls)
    scaled_assert(ours.coef_, ref.coef_, tol)
    scaled_assert(ours.intercept_, ref.intercept_, tol)
    scaled_assert(ours.predict(X), ref.predict(X), tol)
    assert_allclose(ours.score(X, y), ref.score(X, y), rtol=tol)
    if sk_cls in (sk.Lasso, sk.ElasticNet):
        assert ours.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS[:2])
def test_matches_sklearns_direct_solvers_on_the_dense_form(gl_cls, sk_cls, params, density):
    X, y = sparse_problem(density)
    ours = gl_cls(device=DEVICE, **params).fit(X, y)
    ref = sk_cls(**params).fit(X.toarray(), y)
    scaled_assert(ours.coef_, ref.coef_, RTOL_F64)
    scaled_assert(ours.intercept_, ref.intercept_, RTOL_F64)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_sparse_and_dense_input_give_the_same_model(gl_cls, sk_cls, params, fit_intercept):
    X, y = sparse_problem(0.1, n_targets=2)
    p = dict(params, fit_intercept=fit_intercept)
    s = gl_cls(device=DEVICE, **p).fit(X, y)
    d = gl_cls(device=DEVICE, **p).fit(X.toarray(), y)
    scaled_assert(s.coef_, d.coef_, RTOL_SPARSE_VS_DENSE)
    scaled_assert(s.intercept_, d.intercept_, RTOL_SPARSE_VS_DENSE)
    X_new, _ = sparse_problem(0.1, seed=5)
    scaled_assert(s.predict(X_new), d.predict(X_new.toarray()), RTOL_SPARSE_VS_DENSE)
    scaled_assert(s.predict(X_new), d.predict(X_new), RTOL_SPARSE_VS_DENSE)


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_multi_target_and_no_intercept_match_sklearn(gl_cls, sk_cls, params):
    X, Y = sparse_problem(0.01, n_targets=3)
    for fit_intercept in (True, False):
        p = dict(params, fit_intercept=fit_intercept)
        ours = gl_cls(device=DEVICE, **p).fit(X, Y)
        ref = sk_reference(sk_cls, p).fit(X, Y)
        scaled_assert(ours.coef_, ref.coef_, sk_tolerance(sk_cls))
        scaled_assert(ours.intercept_, ref.intercept_, sk_tolerance(sk_cls))


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_sample_weight_matches_sklearn(gl_cls, sk_cls, params):
    X, y = sparse_problem(0.1)
    w = np.random.default_rng(SEED + 7).uniform(0.1, 3.0, size=X.shape[0])
    ours = gl_cls(device=DEVICE, **params).fit(X, y, sample_weight=w)
    ref = sk_reference(sk_cls, params).fit(X, y, sample_weight=w)
    scaled_assert(ours.coef_, ref.coef_, sk_tolerance(sk_cls))
    scaled_assert(ours.intercept_, ref.intercept_, sk_tolerance(sk_cls))
    dense = gl_cls(device=DEVICE, **params).fit(X.toarray(), y, sample_weight=w)
    scaled_assert(ours.coef_, dense.coef_, RTOL_SPARSE_VS_DENSE)
    unweighted = gl_cls(device=DEVICE, **params).fit(X, y)
    assert not np.allclose(unweighted.coef_, ours.coef_, rtol=1e-4)


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_float32_stays_float32(gl_cls, sk_cls, params):
    X, y = sparse_problem(0.1)
    p = dict(params)
    if "tol" in p:
        p["tol"] = 1e-7  # a float32 descent cannot reach 1e-10 of ||y||^2
    ours = gl_cls(device=DEVICE, **p).fit(X.astype(np.float32), y.astype(np.float32))
    ref = sk_reference(sk_cls, p).fit(X, y)
    assert ours.coef_.dtype == np.float32
    assert ours.predict(X.astype(np.float32)).dtype == np.float32
    scaled_assert(ours.coef_, ref.coef_, RTOL_F32)
    scaled_assert(ours.intercept_, ref.intercept_, RTOL_F32)


# --------------------------------------------------------------------------------------------
# Formats and index edge cases: every form of the same matrix gives the same model

def _forms(X):
    csr = X.tocsr()
    yield "csc", X.tocsc()
    yield "coo", X.tocoo()
    yield "csr_array", sparse.csr_array(csr)
    yield "coo_array", sparse.coo_array(csr)
    big = csr.copy()
    big.indices = big.indices.astype(np.int64)
    big.indptr = big.indptr.astype(np.int64)
    yield "int64 indices", big
    # unsorted column indices within rows
    unsorted = csr.copy()
    for i in range(unsorted.shape[0]):
        a, b = unsorted.indptr[i], unsorted.indptr[i + 1]
        unsorted.indices[a:b] = unsorted.indices[a:b][::-1].copy()
        unsorted.data[a:b] = unsorted.data[a:b][::-1].copy()
    unsorted.has_sorted_indices = False
    yield "unsorted", unsorted
    # duplicates: every entry split in two halves (scipy sums them)
    coo = csr.tocoo()
    dup = sparse.coo_matrix((np.concatenate([coo.data * 0.25, coo.data * 0.75]),
                             (np.concatenate([coo.row, coo.row]),
                              np.concatenate([coo.col, coo.col]))), shape=csr.shape)
    yield "duplicates", dup
    # explicit zeros stored beside the entries
    rng = np.random.default_rng(SEED + 11)
    zr, zc = rng.integers(0, csr.shape[0], 40), rng.integers(0, csr.shape[1], 40)
    keep = np.asarray(csr[zr, zc]).ravel() == 0
    zr, zc = zr[keep], zc[keep]
    explicit = sparse.coo_matrix((np.concatenate([coo.data, np.zeros(zr.size)]),
                                  (np.concatenate([coo.row, zr]), np.concatenate([coo.col, zc]))),
                                 shape=csr.shape).tocsr()
    explicit.sum_duplicates()
    assert explicit.nnz > csr.nnz
    yield "explicit zeros", explicit


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_every_format_and_index_form_gives_the_same_model(gl_cls, sk_cls, params):
    X, y = sparse_problem(0.1)
    base = gl_cls(device=DEVICE, **params).fit(X.tocsr(), y)
    for name, form in _forms(X):
        other = gl_cls(device=DEVICE, **params).fit(form, y)
        assert_allclose(other.coef_, base.coef_, rtol=RTOL_SPARSE_VS_DENSE,
                        atol=RTOL_SPARSE_VS_DENSE * np.abs(base.coef_).max(), err_msg=name)
        assert_allclose(other.predict(form), base.predict(X), rtol=RTOL_SPARSE_VS_DENSE,
                        err_msg=name)


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_empty_rows_and_columns(gl_cls, sk_cls, params):
    X, y = sparse_problem(0.1)
    X = X.tolil()
    X[5:25, :] = 0
    X[:, 3] = 0
    X[:, 11] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    assert X[:, 3].nnz == 0 and X[5:25].nnz == 0
    ours = gl_cls(device=DEVICE, **params).fit(X, y)
    ref = sk_cls(**params).fit(X.toarray(), y)
    # Empty columns get zero coefficients (the minimum-norm solution for LinearRegression).
    assert ours.coef_[3] == 0 or abs(ours.coef_[3]) < 1e-12 * np.abs(ours.coef_).max()
    scaled_assert(ours.coef_, ref.coef_, RTOL_F64)
    scaled_assert(ours.intercept_, ref.intercept_, RTOL_F64)


def test_wide_sparse_linear_regression_is_the_minimum_norm_solution():
    """n < d takes the rank-revealing path: the chunked QR of the sparse rows."""
    rng = np.random.default_rng(SEED + 3)
    X = sparse.random(30, 60, density=0.2, format="csr", random_state=rng,
                      data_rvs=lambda k: rng.normal(size=k))
    y = rng.normal(size=30)
    ours = LinearRegression(device=DEVICE).fit(X, y)
    ref = sk.LinearRegression().fit(X.toarray(), y)
    assert ours.rank_ == ref.rank_
    scaled_assert(ours.coef_, ref.coef_, 1e-6)
    scaled_assert(ours.singular_, ref.singular_, 1e-6)
    assert_allclose(ours.predict(X), y, atol=1e-9 * np.abs(y).max())
    ridge = Ridge(alpha=0.3, device=DEVICE).fit(X, y)
    scaled_assert(ridge.coef_, sk.Ridge(alpha=0.3).fit(X.toarray(), y).coef_, RTOL_F64)


def test_rank_revealing_path_over_many_row_chunks():
    """A duplicated column makes the Gram system singular, so the fit takes the R factor, made
    chunk by chunk (2^21 / d rows each): 40000 x 50 spans one chunk boundary."""
    rng = np.random.default_rng(SEED + 4)
    X = sparse.random(45000, 50, density=0.02, format="csr", random_state=rng,
                      data_rvs=lambda k: rng.normal(size=k))
    X = sparse.hstack([X, X[:, :1]]).tocsr()
    y = X @ rng.normal(size=51) + 0.1 * rng.normal(size=45000)
    ours = LinearRegression(device=DEVICE).fit(X, y)
    ref = sk.LinearRegression().fit(X.toarray(), y)
    assert ours.rank_ == 50
    scaled_assert(ours.coef_, ref.coef_, 1e-6)
    scaled_assert(ours.singular_[:50], ref.singular_[:50], 1e-6)


# --------------------------------------------------------------------------------------------
# Options: what scikit-learn refuses for sparse input, refused the same way

def test_ridge_refuses_what_sklearn_refuses_on_sparse_input():
    X, y = sparse_problem(0.1)
    svd = "SVD solver does not support sparse inputs currently"
    with pytest.raises(TypeError, match=svd):
        Ridge(solver="svd", fit_intercept=False, device=DEVICE).fit(X, y)
    with pytest.raises(TypeError, match=svd):
        sk.Ridge(solver="svd", fit_intercept=False).fit(X, y)
    for solver in ("cholesky", "svd"):
        msg = f"solver='{solver}' does not support fitting the intercept on sparse data"
        with pytest.raises(ValueError, match=msg):
            Ridge(solver=solver, device=DEVICE).fit(X, y)
        with pytest.raises(ValueError, match=msg):
            sk.Ridge(solver=solver).fit(X, y)
    ours = Ridge(solver="cholesky", fit_intercept=False, device=DEVICE).fit(X, y)
    ref = sk.Ridge(solver="cholesky", fit_intercept=False).fit(X, y)
    scaled_assert(ours.coef_, ref.coef_, RTOL_F64)
    assert Ridge(solver="svd").__sklearn_tags__().input_tags.sparse is False
    assert Ridge().__sklearn_tags__().input_tags.sparse is True


@pytest.mark.parametrize("selection", ["cyclic", "random"])
def test_lasso_selection_and_positive_match_sklearn(selection):
    X, y = sparse_problem(0.1)
    params = {"alpha": 0.01, "tol": 1e-10, "max_iter": 5000, "selection": selection,
              "random_state": 3, "positive": True}
    ours = Lasso(device=DEVICE, **params).fit(X, y)
    ref = sk.Lasso(**params).fit(X, y)
    assert np.all(ours.coef_ >= 0)
    scaled_assert(ours.coef_, ref.coef_, RTOL_CD)
    assert ours.n_iter_ == ref.n_iter_


def test_precompute_is_ignored_for_sparse_input_as_in_sklearn():
    X, y = sparse_problem(0.1)
    base = ElasticNet(alpha=0.02, device=DEVICE).fit(X, y)
    for precompute in (True, np.eye(3)):  # scikit-learn does not read it for sparse X
        other = ElasticNet(alpha=0.02, precompute=precompute, device=DEVICE).fit(X, y)
        sk.ElasticNet(alpha=0.02, precompute=precompute).fit(X, y)
        assert_array_equal(other.coef_, base.coef_)


def test_too_many_features_for_the_gram_matrix_is_refused_with_the_limit():
    # Ridge's direct solver asked for by name; "auto" and LinearRegression go iterative instead.
    rng = np.random.default_rng(SEED + 9)
    X = sparse.random(50, 5000, density=0.001, format="csr", random_state=rng)
    y = rng.normal(size=50)
    with pytest.raises(ValueError, match="at most 4096 features"):
        Ridge(solver="cholesky", fit_intercept=False, device=DEVICE).fit(X, y)


# --------------------------------------------------------------------------------------------
# The elastic net on wide sparse data: its descent over the columns has no feature bound

@pytest.mark.parametrize("gl_cls, params", [
    (Lasso, {"alpha": 0.002}), (ElasticNet, {"alpha": 0.004, "l1_ratio": 0.7})])
def test_elastic_net_on_more_features_than_the_gram_bound_matches_sklearn(gl_cls, params):
    rng = np.random.default_rng(SEED + 12)
    X = sparse.random(400, 6000, density=0.003, format="csr", random_state=rng,
                      data_rvs=lambda k: rng.normal(size=k))
    coef = np.zeros(6000)
    coef[rng.choice(6000, 30, replace=False)] = rng.normal(size=30) * 3
    y = X @ coef + 0.01 * rng.normal(size=400)
    w = rng.uniform(0.5, 2.0, size=400)
    p = dict(params, tol=1e-8, max_iter=3000)
    ours = gl_cls(device=DEVICE, **p).fit(X, y, sample_weight=w)
    ref = getattr(sk, gl_cls.__name__)(**p).fit(X, y, sample_weight=w)
    assert np.count_nonzero(ref.coef_) > 10
    scaled_assert(ours.coef_, ref.coef_, RTOL_CD)
    scaled_assert(ours.intercept_, ref.intercept_, RTOL_CD)
    assert ours.n_iter_ == ref.n_iter_
    assert_allclose(ours.dual_gap_, ref.dual_gap_, rtol=1e-6, atol=1e-12 * np.sum(y * y))


# --------------------------------------------------------------------------------------------
# Ridge's matrix-free conjugate gradients ("sparse_cg", "lsqr"; "auto" beyond 4096 features)

@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize("solver", ["sparse_cg", "lsqr"])
def test_ridge_iterative_solvers_match_sklearn(solver, density):
    X, Y = sparse_problem(density, n_targets=2)
    w = np.random.default_rng(SEED + 8).uniform(0.1, 3.0, size=X.shape[0])
    params = {"alpha": [0.7, 2.0], "solver": solver, "tol": 1e-12}
    ours = Ridge(device=DEVICE, **params).fit(X, Y, sample_weight=w)
    ref = sk.Ridge(**params).fit(X, Y, sample_weight=w)
    assert ours.solver_ == solver
    scaled_assert(ours.coef_, ref.coef_, RTOL_CG)
    scaled_assert(ours.intercept_, ref.intercept_, RTOL_CG)
    direct = Ridge(alpha=[0.7, 2.0], device=DEVICE).fit(X, Y, sample_weight=w)
    scaled_assert(ours.coef_, direct.coef_, RTOL_CG)
    if solver == "lsqr":
        assert ours.n_iter_.shape == (2,) and np.all(ours.n_iter_ >= 1)
    else:
        assert ours.n_iter_ is None  # as scikit-learn's sparse_cg


def test_ridge_cg_stops_at_max_iter_and_at_tol():
    X, y = sparse_problem(0.1)
    exact = Ridge(alpha=0.7, device=DEVICE).fit(X, y)
    two = Ridge(alpha=0.7, solver="lsqr", max_iter=2, tol=1e-12, device=DEVICE).fit(X, y)
    assert_array_equal(two.n_iter_, [2])
    assert not np.allclose(two.coef_, exact.coef_, rtol=1e-3)
    loose = Ridge(alpha=0.7, solver="lsqr", tol=1e-2, device=DEVICE).fit(X, y)
    tight = Ridge(alpha=0.7, solver="lsqr", tol=1e-12, device=DEVICE).fit(X, y)
    assert loose.n_iter_[0] < tight.n_iter_[0]


def test_ridge_auto_beyond_the_gram_bound_runs_conjugate_gradients():
    rng = np.random.default_rng(SEED + 10)
    X = sparse.random(300, 5000, density=0.002, format="csr", random_state=rng,
                      data_rvs=lambda k: rng.normal(size=k))
    y = X @ rng.normal(size=5000) + rng.normal(size=300)
    ours = Ridge(alpha=0.5, tol=1e-12, device=DEVICE).fit(X, y)
    assert ours.solver_ == "sparse_cg"
    ref = sk.Ridge(alpha=0.5, solver="sparse_cg", tol=1e-12).fit(X, y)
    scaled_assert(ours.coef_, ref.coef_, RTOL_CG)
    scaled_assert(ours.intercept_, ref.intercept_, RTOL_CG)
    scaled_assert(ours.predict(X), ref.predict(X), RTOL_CG)


def test_linear_regression_beyond_the_gram_bound_is_sklearns_minimum_norm_lsqr_solution():
    rng = np.random.default_rng(SEED + 14)
    X = sparse.random(300, 5000, density=0.002, format="csr", random_state=rng,
                      data_rvs=lambda k: rng.normal(size=k))
    y = X @ rng.normal(size=5000) + rng.normal(size=300)
    ours = LinearRegression(tol=1e-12, device=DEVICE).fit(X, y)
    ref = sk.LinearRegression(tol=1e-12).fit(X, y)
    assert not hasattr(ours, "rank_") and not hasattr(ref, "rank_")
    scaled_assert(ours.coef_, ref.coef_, RTOL_CG)
    scaled_assert(ours.intercept_, ref.intercept_, RTOL_CG)
    scaled_assert(ours.predict(X), ref.predict(X), RTOL_CG)


def test_ridge_iterative_solvers_on_dense_input_are_not_implemented():
    X, y = sparse_problem(0.1)
    with pytest.raises(NotImplementedError, match="sparse X only"):
        Ridge(solver="sparse_cg", device=DEVICE).fit(X.toarray(), y)


# --------------------------------------------------------------------------------------------
# Bad input

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_non_finite_values_raise_sklearns_error(gl_cls, sk_cls, params, bad):
    X, y = sparse_problem(0.1)
    X = X.tocsr()
    X.data[7] = bad
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        gl_cls(device=DEVICE, **params).fit(X, y)
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        sk_cls(**params).fit(X, y)
    model = gl_cls(device=DEVICE, **params).fit(sparse_problem(0.1)[0], y)
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        model.predict(X)


@pytest.mark.parametrize("gl_cls, sk_cls, params", ESTIMATORS)
def test_wrong_feature_count_and_empty_input_raise_like_sklearn(gl_cls, sk_cls, params):
    X, y = sparse_problem(0.1)
    ours = gl_cls(device=DEVICE, **params).fit(X, y)
    narrow = X[:, :-1]
    with pytest.raises(ValueError, match=f"X has {X.shape[1] - 1} features, but"):
        ours.predict(narrow)
    empty = sparse.csr_matrix((0, X.shape[1]))
    with pytest.raises(ValueError, match="0 sample"):
        gl_cls(device=DEVICE, **params).fit(empty, np.zeros(0))
    no_features = sparse.csr_matrix((5, 0))
    with pytest.raises(ValueError, match="0 feature"):
        gl_cls(device=DEVICE, **params).fit(no_features, np.ones(5))


def test_repeat_fits_are_bitwise_identical():
    X, y = sparse_problem(0.01, n_targets=2)
    for cls in (LinearRegression, Ridge, ElasticNet):
        a = cls(device=DEVICE).fit(X, y)
        b = cls(device=DEVICE).fit(X, y)
        assert_array_equal(a.coef_, b.coef_)
        assert_array_equal(a.intercept_, b.intercept_)


# --------------------------------------------------------------------------------------------
# Memory: O(nnz + model), never the dense form

MEMORY_SCRIPT = PEAK_PROBE + r"""
import sys
import numpy as np
from scipy import sparse
from gpulearn.linear_model import Ridge
n = d = 200_000
rng = np.random.default_rng(int(sys.argv[1]))
X = sparse.random(n, d, density=1e-4, format="csr", random_state=rng)
y = rng.normal(size=n)
reset_peak()
before = status("VmRSS:")
model = Ridge(alpha=1.0, device="cpu").fit(X, y)
pred = model.predict(X)
print(model.solver_, X.nnz, status("VmHWM:") - before)
"""
# The growth of the process's peak over fit + predict, in bytes of the stored entries (values
# and int32 indices, 12 bytes each): measured 1.06x (51 MB for 4e6 entries; the dense form would
# be 320 GB). 4x leaves room for allocator slack, yet a dense copy of even one row block of X
# or a d x d matrix (320 GB) would exceed it.
MAX_PEAK_GROWTH_PER_NNZ_BYTE = 4


def test_fit_on_a_matrix_whose_dense_form_exceeds_memory_stays_within_nnz():
    import os
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(SEED)], check=True,
                         capture_output=True, text=True, env=dict(os.environ)).stdout.split()
    solver, nnz, growth = out[0], int(out[1]), int(out[2])
    assert solver == "sparse_cg"
    assert growth <= MAX_PEAK_GROWTH_PER_NNZ_BYTE * 12 * nnz, (growth, nnz)


# --------------------------------------------------------------------------------------------
# Determinism: the same bits with 1 and 3 threads

@pytest.mark.parametrize("gl_cls, params", [
    (LinearRegression, {}), (Ridge, {"alpha": 0.7}), (Ridge, {"solver": "sparse_cg"}),
    (Lasso, {"alpha": 0.01}), (ElasticNet, {"alpha": 0.02})])
def test_same_bits_with_one_and_three_threads(gl_cls, params, monkeypatch):
    from gpulearn import _devices
    rng = np.random.default_rng(SEED + 13)
    # 6000 rows: several of the primitives' fixed row partitions (1024 rows and up).
    X = sparse.random(6000, 40, density=0.05, format="csr", random_state=rng,
                      data_rvs=lambda k: rng.normal(size=k))
    y = X @ rng.normal(size=40) + rng.normal(size=6000)
    fits = []
    for threads in (1, 3):
        monkeypatch.setattr(_devices, "task_threads", lambda threads=threads: threads)
        model = gl_cls(device=DEVICE, **params).fit(X, y)
        fits.append((model.coef_, model.intercept_, model.predict(X)))
    for a, b in zip(*fits):
        assert_array_equal(a, b)


def test_ridge_auto_runs_conjugate_gradients_where_the_gram_path_costs_more():
    """"auto" on sparse X: the Gram system while it is cheap (exact, as scikit-learn's dense
    solvers), conjugate gradients where forming and factoring it would cost more than ~100 of
    their iterations (2000 features with 5 entries a row: d^3 / 3 = 2.7e9 multiply-adds against
    2 nnz = 3e4 an iteration), which is scikit-learn's own "auto" for sparse X."""
    rng = np.random.default_rng(SEED)
    X = sparse.random(3000, 2000, density=0.0025, format="csr", random_state=rng,
                      data_rvs=lambda k: rng.normal(1.0, 2.0, size=k))
    y = X @ rng.normal(size=2000) + 0.1 * rng.normal(size=3000)
    ours = Ridge(alpha=1.0, tol=1e-10, device=DEVICE).fit(X, y)
    ref = sk.Ridge(alpha=1.0, tol=1e-10).fit(X, y)
    assert ours.solver_ == "sparse_cg" == ref.solver_
    assert_allclose(ours.coef_, ref.coef_, rtol=1e-7, atol=1e-9)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-7, atol=1e-9)
    exact = Ridge(alpha=1.0, solver="cholesky", fit_intercept=False, device=DEVICE).fit(X, y)
    assert exact.solver_ == "cholesky"  # asked for by name, the Gram path still runs
    small = Ridge(alpha=0.7, device=DEVICE).fit(*sparse_problem(0.1))
    assert small.solver_ == "cholesky"  # 20 features: the Gram path is the cheaper
