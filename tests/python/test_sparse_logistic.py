"""gpulearn's LogisticRegression on scipy.sparse input (CPU), against scikit-learn and against
gpulearn's own dense fit.

A sparse X is fitted by the same driver as a dense one, over the CSR data's passes (X W^T,
the per-row loss and residual, X^T W R; src/linear_model/sparse_logistic_data.cpp), never
densified. The criteria are those of the dense tests (test_linear_sparse_logistic.py): the
objective scikit-learn minimises, at our solution, is no worse than at scikit-learn's; at a
tight tol the coefficients agree. Every tolerance is a named constant with what was measured
when it was set. Data: fresh random sparse matrices from the recorded SEED, never all zeros.
"""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from scipy.special import logsumexp
from sklearn import linear_model as sk

from gpulearn import _core, _sparse
from gpulearn.linear_model import LogisticRegression

from _testdata import PEAK_PROBE, SEED

DEVICE = "cpu"

# ---- Tolerances (measured on this file's data; see each) ----
# At scikit-learn's default tol the objective at our solution exceeds scikit-learn's by at
# most this, relatively (the dense tests' bar, RTOL_LOGISTIC_OBJECTIVE).
RTOL_OBJECTIVE = 1e-6
# At tol=1e-10 both solvers end at the optimum (the dense tests' bar).
RTOL_OBJECTIVE_TIGHT = 1e-9
# Coefficients at tol=1e-10, relative to the largest (the dense tests' bars: L-BFGS pins the
# coefficients to ~sqrt(64 eps / curvature); with an L1 part saga stops on the weights' change).
RTOL_COEF_L2 = 1e-5
RTOL_COEF_L1 = 1e-4
# Sparse vs dense, both gpulearn, at tol=1e-10: the same driver on the same problem, whose loss
# passes sum in another order (CSR rows vs GEMM chunks), so the iterates part by rounding and
# both stop at the optimum within the stopping rule's reach: RTOL_COEF_L2 / RTOL_COEF_L1.
# Sparse vs dense fits at the default tol stop at the same objective (the same driver on the
# same problem; the loss passes' rounding differs): measured <= 1.5e-13 relative.
RTOL_SAME_PROBLEM = 1e-9
# The decision function of one fitted model on sparse vs dense X: the same products summed in
# another order (double here, T in the GEMM): relative to the largest score.
RTOL_DECISION = 1e-12
# float32 sparse vs float32 dense fits (tol=1e-6): both know the objective only to float32
# rounding, so their coefficients agree to that noise, relative to the largest.
RTOL_F32 = 1e-3


def where_said(error):
    """An error's message without the source location gpulearn appends (" [file:line]")."""
    return re.sub(r" \[[^\]]*:\d+\]$", "", str(error))


def fit_quietly(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kwargs)


def assert_parity(actual, desired, rtol):
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape
    assert_allclose(actual, desired, rtol=rtol, atol=rtol * float(np.max(np.abs(desired))))


def sparse_classification(n_samples, n_features, density, n_classes, seed=SEED,
                          dtype=np.float64):
    """A random CSR matrix (TF-IDF-like: non-negative values, rows scaled to unit norm where
    not empty) and labels drawn from a planted softmax model over it, so that the classes
    depend on the features."""
    rng = np.random.default_rng(seed)
    X = sparse.random(n_samples, n_features, density=density, format="csr", random_state=rng,
                      data_rvs=lambda k: rng.uniform(0.1, 1.0, size=k))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sparse.diags(np.where(norms > 0, 1 / np.where(norms > 0, norms, 1), 0)) @ X
    X = sparse.csr_matrix(X)
    X.sum_duplicates()  # canonical: sorted indices, no duplicates
    W = rng.normal(scale=3.0, size=(n_features, n_classes))
    Z = X @ W + rng.normal(scale=0.5, size=(n_samples, n_classes))
    P = np.exp(Z - logsumexp(Z, axis=1, keepdims=True))
    y = np.array([rng.choice(n_classes, p=p) for p in P])
    assert len(np.unique(y)) == n_classes
    return X.astype(dtype), y


def objective(est, X, y, C, l1_ratio, sample_weight=None, liblinear=False):
    """scikit-learn's objective at est's coef_/intercept_, computed from the sparse X without
    densifying: C sum_i s_i loss_i + (1 - l1_ratio)/2 ||W||^2 + l1_ratio ||W||_1."""
    W = np.atleast_2d(np.asarray(est.coef_, dtype=np.float64))
    b = np.asarray(est.intercept_, dtype=np.float64).reshape(-1)
    s = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    Z = np.asarray(X @ W.T) + b
    if W.shape[0] == 1:
        sign = np.where(y == est.classes_[1], 1.0, -1.0)
        loss = np.logaddexp(0.0, -sign * Z[:, 0])
    else:
        idx = np.searchsorted(est.classes_, y)
        loss = logsumexp(Z, axis=1) - Z[np.arange(len(y)), idx]
    data = float(s @ loss)
    if np.isinf(C):
        return data
    P = np.hstack([W, b[:, None]]) if liblinear else W
    return C * data + (1 - l1_ratio) / 2 * np.sum(P**2) + l1_ratio * np.sum(np.abs(P))


# (n_samples, n_features) per density: about 1, 4 and 10 stored entries a row, so the 0.1%
# case has empty rows and columns.
SHAPES = {0.001: (400, 1000), 0.01: (400, 400), 0.1: (300, 100)}


def tight_cases():
    cases = []
    for density in SHAPES:
        for n_classes, l1_ratio, solver in [(2, 0.0, "lbfgs"), (3, 0.0, "lbfgs"),
                                            (2, 0.0, "liblinear"), (2, 1.0, "liblinear")]:
            if (solver, l1_ratio, density) == ("liblinear", 1.0, 0.1):
                continue  # LIBLINEAR's L1 solver needs > 10000 iterations at tol=1e-10 here
            cases.append(pytest.param(density, n_classes, l1_ratio, solver,
                                      id=f"{density:g}-{n_classes}classes-l1ratio{l1_ratio:g}-"
                                         f"{solver}"))
    return cases


@pytest.mark.parametrize("density, n_classes, l1_ratio, solver", tight_cases())
def test_tight_tol_reaches_sklearns_optimum_on_sparse_input(density, n_classes, l1_ratio,
                                                            solver):
    # Measured: objectives equal to <= 5.5e-12 relative; coefficients within 2.0e-6 (L2) and
    # 2.8e-5 (L1, LIBLINEAR) of scikit-learn's, relative to the largest.
    X, y = sparse_classification(*SHAPES[density], density, n_classes)
    C = 10.0
    params = dict(C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-10, max_iter=10000,
                  random_state=0)
    ours = fit_quietly(LogisticRegression(device=DEVICE, **params), X, y)
    ref = fit_quietly(sk.LogisticRegression(**params), X, y)
    assert ref.n_iter_[0] < 10000
    liblinear = solver == "liblinear"
    f_ours = objective(ours, X, y, C, l1_ratio, liblinear=liblinear)
    f_ref = objective(ref, X, y, C, l1_ratio, liblinear=liblinear)
    assert f_ours <= f_ref + RTOL_OBJECTIVE_TIGHT * abs(f_ref)
    rtol = RTOL_COEF_L2 if l1_ratio == 0 else RTOL_COEF_L1
    assert_parity(ours.coef_, ref.coef_, rtol)
    if n_classes == 2:
        assert_allclose(ours.intercept_, ref.intercept_, rtol=rtol,
                        atol=rtol * float(np.max(np.abs(ref.coef_))))
    else:
        assert_allclose(ours.intercept_ - ours.intercept_.mean(),
                        ref.intercept_ - ref.intercept_.mean(), rtol=rtol,
                        atol=rtol * float(np.max(np.abs(ref.coef_))))


@pytest.mark.parametrize("density", list(SHAPES))
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
def test_l1_and_elasticnet_objective_no_worse_than_sagas(density, n_classes, l1_ratio):
    # saga at tol=1e-10 takes thousands of epochs on these matrices (seconds a fit), so the
    # reference is saga at its default tol and ours runs to tol=1e-10: measured ours lower by
    # 1.4e-6 to 7.0e-3 relative in every case.
    X, y = sparse_classification(*SHAPES[density], density, n_classes)
    C = 10.0
    ours = fit_quietly(LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-10,
                                          max_iter=10000, device=DEVICE), X, y)
    ref = fit_quietly(sk.LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga",
                                            random_state=0), X, y)
    f_ours, f_ref = objective(ours, X, y, C, l1_ratio), objective(ref, X, y, C, l1_ratio)
    assert f_ours <= f_ref + RTOL_OBJECTIVE * abs(f_ref)
    assert np.sum(ours.coef_ == 0) > 0  # the L1 part made zeros


XFAIL_DEFAULT_TOL_STOPS_EARLY = pytest.mark.xfail(strict=True, reason=(
    "At the default tol=1e-4 the driver (dense and sparse alike: same objective to 1e-15 here) "
    "stops once the scaled gradient is within tol, which on unit-norm TF-IDF-like rows at "
    "C=100 leaves the objective 1.8e-3 above scikit-learn's L-BFGS-B, which goes on further "
    "in fewer steps; at tol=1e-10 both reach the optimum (test above)"))


@pytest.mark.parametrize("density, n_classes, C", [
    (0.001, 2, 1.0), (0.01, 2, 1.0), (0.01, 3, 1.0),
    pytest.param(0.01, 2, 100.0, marks=XFAIL_DEFAULT_TOL_STOPS_EARLY)])
def test_objective_no_worse_than_sklearns_at_default_tol(density, n_classes, C):
    # Measured at C=1: ours lower by 7.5e-8 and 4.5e-7 (binary), higher by 2.5e-7 (3 classes);
    # elsewhere on this file's data up to 7.4e-6 higher at C=1 (0.1%, 3 classes) and 1.8e-3
    # at C=100 (the expected failure): the driver's stopping rule, not the sparse path (next
    # test).
    X, y = sparse_classification(*SHAPES[density], density, n_classes)
    ours = fit_quietly(LogisticRegression(C=C, device=DEVICE), X, y)
    ref = fit_quietly(sk.LogisticRegression(C=C), X, y)
    f_ours, f_ref = objective(ours, X, y, C, 0.0), objective(ref, X, y, C, 0.0)
    assert f_ours <= f_ref + RTOL_OBJECTIVE * abs(f_ref)


@pytest.mark.parametrize("density", list(SHAPES))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_default_tol_stops_where_the_dense_fit_stops(density, n_classes):
    # The same driver on the same problem: measured objectives equal to <= 1.5e-13 relative.
    X, y = sparse_classification(*SHAPES[density], density, n_classes)
    for C in (1.0, 100.0):
        on_sparse = fit_quietly(LogisticRegression(C=C, device=DEVICE), X, y)
        on_dense = fit_quietly(LogisticRegression(C=C, device=DEVICE), X.toarray(), y)
        f_sparse = objective(on_sparse, X, y, C, 0.0)
        f_dense = objective(on_dense, X, y, C, 0.0)
        assert_allclose(f_sparse, f_dense, rtol=RTOL_SAME_PROBLEM)


@pytest.mark.parametrize("density", list(SHAPES))
@pytest.mark.parametrize("n_classes, l1_ratio, solver",
                         [(2, 0.0, "lbfgs"), (3, 0.0, "lbfgs"), (3, 0.5, "saga"),
                          (2, 1.0, "liblinear")])
def test_sparse_and_dense_input_give_the_same_model(density, n_classes, l1_ratio, solver):
    X, y = sparse_classification(*SHAPES[density], density, n_classes)
    params = dict(C=10.0, l1_ratio=l1_ratio, solver=solver, tol=1e-10, max_iter=10000,
                  device=DEVICE)
    on_sparse = fit_quietly(LogisticRegression(**params), X, y)
    on_dense = fit_quietly(LogisticRegression(**params), X.toarray(), y)
    rtol = RTOL_COEF_L2 if l1_ratio == 0 else RTOL_COEF_L1
    assert_parity(on_sparse.coef_, on_dense.coef_, rtol)
    assert_allclose(on_sparse.intercept_, on_dense.intercept_, rtol=rtol,
                    atol=rtol * float(np.max(np.abs(on_dense.coef_))))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_every_method_on_sparse_equals_the_dense_method(n_classes):
    X, y = sparse_classification(*SHAPES[0.01], 0.01, n_classes)
    est = LogisticRegression(device=DEVICE).fit(X, y)
    D = X.toarray()
    scores = est.decision_function(X)
    dense_scores = est.decision_function(D)
    assert scores.shape == dense_scores.shape == ((len(y),) if n_classes == 2 else
                                                  (len(y), n_classes))
    assert_allclose(scores, dense_scores, rtol=0,
                    atol=RTOL_DECISION * float(np.max(np.abs(dense_scores))))
    assert_allclose(est.predict_proba(X), est.predict_proba(D), rtol=0, atol=1e-12)
    assert_allclose(est.predict_log_proba(X), est.predict_log_proba(D), rtol=1e-12)
    assert_array_equal(est.predict(X), est.predict(D))
    assert est.score(X, y) == est.score(D, y)
    # And the model scikit-learn would predict with, on the same sparse rows.
    ref = sk.LogisticRegression()
    ref.coef_, ref.intercept_, ref.classes_ = est.coef_, est.intercept_, est.classes_
    assert_allclose(scores, ref.decision_function(X), rtol=0,
                    atol=RTOL_DECISION * float(np.max(np.abs(dense_scores))))


def layouts(X):
    """The same matrix in every layout scikit-learn users hold: (name, matrix)."""
    csr = sparse.csr_matrix(X)
    wide = csr.copy()
    wide.indices, wide.indptr = wide.indices.astype(np.int64), wide.indptr.astype(np.int64)
    unsorted = csr.copy()
    for i in range(unsorted.shape[0]):  # reverse each row's entries
        a, b = unsorted.indptr[i], unsorted.indptr[i + 1]
        unsorted.indices[a:b] = unsorted.indices[a:b][::-1].copy()
        unsorted.data[a:b] = unsorted.data[a:b][::-1].copy()
    unsorted.has_sorted_indices = False
    return [("csr", csr), ("csc", csr.tocsc()), ("coo", csr.tocoo()),
            ("csr_array", sparse.csr_array(csr)), ("csc_array", sparse.csc_array(csr)),
            ("int64 indices", wide), ("unsorted indices", unsorted)]


def test_every_layout_gives_the_same_model_bit_for_bit():
    X, y = sparse_classification(*SHAPES[0.01], 0.01, 3)
    ref = LogisticRegression(device=DEVICE).fit(X, y)
    for name, Xl in layouts(X):
        est = LogisticRegression(device=DEVICE).fit(Xl, y)
        assert_array_equal(est.coef_, ref.coef_, err_msg=name)
        assert_array_equal(est.intercept_, ref.intercept_, err_msg=name)
        assert_array_equal(est.predict_proba(Xl), ref.predict_proba(X), err_msg=name)
    assert X.has_canonical_format  # the reference itself was canonical


def test_duplicates_are_summed_and_explicit_zeros_change_nothing():
    X, y = sparse_classification(*SHAPES[0.01], 0.01, 2)
    coo = X.tocoo()
    # Each stored entry split in two halves (duplicates, summed as scipy sums them), plus an
    # explicit zero in every row.
    rows = np.r_[coo.row, coo.row, np.arange(X.shape[0])]
    cols = np.r_[coo.col, coo.col, np.zeros(X.shape[0], dtype=coo.col.dtype)]
    half = coo.data / 2
    vals = np.r_[half, coo.data - half, np.zeros(X.shape[0])]
    dup = sparse.coo_matrix((vals, (rows, cols)), shape=X.shape)
    summed = sparse.csr_matrix(dup)  # scipy's sum of the duplicates; zeros stay stored
    assert summed.nnz > X.nnz  # explicit zeros stored in column 0
    ref = LogisticRegression(device=DEVICE).fit(summed, y)
    for Xd in (dup, dup.tocsr(), dup.tocsc()):
        est = LogisticRegression(device=DEVICE).fit(Xd, y)
        assert_array_equal(est.coef_, ref.coef_)
        assert_array_equal(est.intercept_, ref.intercept_)
    # Explicit zeros (as stored entries) give the model of the matrix without them.
    clean = summed.copy()
    clean.eliminate_zeros()
    est = LogisticRegression(device=DEVICE).fit(clean, y)
    assert_array_equal(est.coef_, ref.coef_)
    assert_array_equal(est.intercept_, ref.intercept_)


def test_empty_rows_and_columns():
    X, y = sparse_classification(400, 60, 0.02, 2)
    X = X.tolil()
    X[:40, :] = 0  # empty rows
    X[:, 50:] = 0  # empty columns
    X = X.tocsr()
    X.eliminate_zeros()
    assert np.diff(X.indptr)[:40].max() == 0 and X[:, 50:].nnz == 0
    params = dict(C=10.0, tol=1e-10, max_iter=10000)
    ours = fit_quietly(LogisticRegression(device=DEVICE, **params), X, y)
    ref = fit_quietly(sk.LogisticRegression(**params), X, y)
    # An empty column's coefficient has no data term: the L2 penalty pins it at exactly 0.
    assert np.all(ours.coef_[:, 50:] == 0)
    assert_parity(ours.coef_, ref.coef_, RTOL_COEF_L2)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_COEF_L2)


@pytest.mark.parametrize("n_classes, l1_ratio, solver", [(2, 0.0, "lbfgs"), (3, 0.0, "lbfgs"),
                                                         (3, 1.0, "saga")])
def test_sample_weight_matches_sklearn(n_classes, l1_ratio, solver):
    X, y = sparse_classification(*SHAPES[0.1], 0.1, n_classes)
    w = np.random.default_rng(SEED + 1).uniform(0.1, 3.0, size=len(y))
    C = 10.0
    params = dict(C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-10, max_iter=10000,
                  random_state=0)
    ours = fit_quietly(LogisticRegression(device=DEVICE, **params), X, y, sample_weight=w)
    ref = fit_quietly(sk.LogisticRegression(**params), X, y, sample_weight=w)
    f_ours = objective(ours, X, y, C, l1_ratio, sample_weight=w)
    f_ref = objective(ref, X, y, C, l1_ratio, sample_weight=w)
    assert f_ours <= f_ref + RTOL_OBJECTIVE_TIGHT * abs(f_ref)
    assert_parity(ours.coef_, ref.coef_, RTOL_COEF_L2 if l1_ratio == 0 else RTOL_COEF_L1)
    # The weights matter: the unweighted model is another one.
    plain = fit_quietly(LogisticRegression(device=DEVICE, **params), X, y)
    assert np.max(np.abs(plain.coef_ - ours.coef_)) > 100 * RTOL_COEF_L1 * np.max(
        np.abs(ours.coef_))


def test_integer_weights_equal_repeated_rows():
    X, y = sparse_classification(*SHAPES[0.1], 0.1, 3)
    w = np.random.default_rng(SEED + 2).integers(0, 3, size=len(y))
    idx = np.repeat(np.arange(len(y)), w)
    params = dict(C=10.0, tol=1e-10, max_iter=10000, device=DEVICE)
    weighted = fit_quietly(LogisticRegression(**params), X, y, sample_weight=w.astype(float))
    repeated = fit_quietly(LogisticRegression(**params), X[idx], y[idx])
    assert_parity(weighted.coef_, repeated.coef_, RTOL_COEF_L2)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_float32_stays_float32_and_matches_the_dense_float32_fit(n_classes):
    X, y = sparse_classification(*SHAPES[0.01], 0.01, n_classes, dtype=np.float32)
    params = dict(C=10.0, tol=1e-6, max_iter=10000, device=DEVICE)
    est = fit_quietly(LogisticRegression(**params), X, y)
    dense = fit_quietly(LogisticRegression(**params), X.toarray(), y)
    assert est.coef_.dtype == est.intercept_.dtype == np.float32
    assert est.decision_function(X).dtype == np.float32
    assert_parity(est.coef_, dense.coef_, RTOL_F32)
    f64 = fit_quietly(LogisticRegression(**params), X.astype(np.float64), y)
    assert_parity(est.coef_, f64.coef_, RTOL_F32)


def test_warm_start_on_sparse_input():
    X, y = sparse_classification(*SHAPES[0.01], 0.01, 3)
    est = LogisticRegression(C=10.0, tol=1e-10, warm_start=True, max_iter=20, device=DEVICE)
    fit_quietly(est, X, y)
    first = est.n_iter_[0]
    est.set_params(max_iter=10000)
    est.fit(X, y)
    cold = LogisticRegression(C=10.0, tol=1e-10, max_iter=10000, device=DEVICE).fit(X, y)
    assert first == 20
    # Started 20 steps along, the warm fit needs fewer steps and reaches the same optimum.
    assert est.n_iter_[0] < cold.n_iter_[0]
    assert_parity(est.coef_, cold.coef_, RTOL_COEF_L2)


def test_same_bits_with_one_or_several_threads():
    X, y = sparse_classification(3000, 500, 0.01, 3)
    csr = _sparse.as_csr(X)
    labels = y.astype(np.int32)
    params = _core.LogisticRegressionParams(C=10.0, l1_ratio=0.0, fit_intercept=True,
                                            max_iter=50, tol=1e-8, intercept_scaling=0.0)
    results = [_core.logistic_fit_sparse(_core.Context("cpu", n_threads=t), params, csr.ref,
                                         labels, 3, None, None) for t in (1, 2, 5)]
    for r in results[1:]:
        assert_array_equal(r["coef"], results[0]["coef"])
        assert_array_equal(r["intercept"], results[0]["intercept"])
        assert r["n_iter"] == results[0]["n_iter"]


# ---- Bad input ----


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_raise_the_dense_paths_error(bad, dtype):
    X, y = sparse_classification(*SHAPES[0.01], 0.01, 2, dtype=dtype)
    X_bad = X.copy()
    X_bad.data[X_bad.nnz // 2] = bad
    with pytest.raises(ValueError):
        sk.LogisticRegression().fit(X_bad, y)
    dense_bad = X_bad.toarray()
    with pytest.raises(ValueError) as dense_error:
        LogisticRegression(device=DEVICE).fit(dense_bad, y)
    with pytest.raises(ValueError, match="Input X contains NaN or infinity") as sparse_error:
        LogisticRegression(device=DEVICE).fit(X_bad, y)
    # The same message (each names its own source line after it).
    assert where_said(sparse_error.value) == where_said(dense_error.value)
    est = LogisticRegression(device=DEVICE).fit(X, y)
    for name in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
            getattr(est, name)(X_bad)


def test_wrong_feature_count_at_predict_raises_sklearns_error():
    X, y = sparse_classification(*SHAPES[0.01], 0.01, 3)
    est = LogisticRegression(device=DEVICE).fit(X, y)
    ref = sk.LogisticRegression().fit(X, y)
    for n_features in (X.shape[1] - 1, X.shape[1] + 1):
        X_bad = sparse.random(10, n_features, density=0.1, format="csr",
                              random_state=np.random.default_rng(SEED))
        for name in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
            with pytest.raises(ValueError) as expected:
                getattr(ref, name)(X_bad)
            with pytest.raises(ValueError, match=re.escape(
                    f"X has {n_features} features, but LogisticRegression is expecting "
                    f"{X.shape[1]} features as input")) as got:
                getattr(est, name)(X_bad)
            assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0)])
def test_empty_matrix_raises_sklearns_error(shape):
    X = sparse.csr_matrix(shape)
    y = np.arange(shape[0]) % 2
    with pytest.raises(ValueError) as expected:
        sk.LogisticRegression().fit(X, y)
    with pytest.raises(ValueError) as got:
        LogisticRegression(device=DEVICE).fit(X, y)
    assert str(got.value) == str(expected.value)


def test_all_zero_matrix_fits_the_intercept_alone():
    # No stored entries at all: the coefficients stay 0 and the intercept is the log-odds of
    # the class shares, as scikit-learn finds.
    y = np.r_[np.zeros(30, int), np.ones(10, int)]
    X = sparse.csr_matrix((40, 7))
    ours = LogisticRegression(tol=1e-10, device=DEVICE).fit(X, y)
    ref = sk.LogisticRegression(tol=1e-10).fit(X, y)
    assert np.all(ours.coef_ == 0)
    assert_allclose(ours.intercept_, np.log(10 / 30), rtol=1e-6)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-6)


def test_tags_declare_sparse_input():
    from sklearn.utils import get_tags
    assert get_tags(LogisticRegression()).input_tags.sparse is True
    assert get_tags(sk.LogisticRegression()).input_tags.sparse is True


def test_sparse_input_on_cuda_fits_as_the_cpu_does(cuda):
    # The device's own kernels (tests/python/test_sparse_cuda.py compares them at length).
    X, y = sparse_classification(*SHAPES[0.01], 0.01, 2)
    gpu = LogisticRegression(device=cuda).fit(X, y)
    cpu = LogisticRegression(device="cpu").fit(X, y)
    assert_array_equal(gpu.predict(X), cpu.predict(X))
    assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), rtol=1e-6, atol=1e-9)


_MEMORY_CHILD = PEAK_PROBE + """
import sys, warnings
import numpy as np
from scipy import sparse
from gpulearn.linear_model import LogisticRegression

n = d = 200_000
rng = np.random.default_rng(int(sys.argv[1]))
counts = rng.poisson(20, size=n)  # ~0.01% density: 4e6 stored entries
indptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
indices = rng.integers(0, d, size=indptr[-1], dtype=np.int32)
values = rng.uniform(0.1, 1.0, size=indptr[-1])
X = sparse.csr_matrix((values, indices, indptr), shape=(n, d))
y = (rng.random(n) < 0.3).astype(int)
x_bytes = values.nbytes + indices.nbytes + indptr.nbytes
reset_peak()
before = status("VmRSS:")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    est = LogisticRegression(max_iter=3, device="cpu").fit(X, y)
peak = status("VmHWM:")
print(x_bytes, before, peak, est.coef_.shape[1])
"""


def test_fit_whose_dense_form_would_not_fit_in_memory_stays_near_nnz():
    # 2e5 x 2e5 at 0.01%: 320 GB dense, 48 MB of stored entries (scipy's duplicates summed on
    # a copy). The peak RSS during the fit (VmHWM, reset just before it) above the RSS
    # before it must stay within 3x X's arrays plus 100 MB
    # (the model, d x m partial sums per thread partition, Python's own). Measured: peak
    # 97 MB above, X 47 MB (the summed copy of X and the fit's buffers).
    import subprocess
    import sys
    child = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(SEED)],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr
    x_bytes, before, peak, n_features = map(int, child.stdout.split())
    assert n_features == 200_000
    assert peak - before <= 3 * x_bytes + 100 * 2**20, (peak - before, x_bytes)
