"""CUDA backend against the CPU backend on the same inputs (machines with a GPU only).

Every test here is marked ``cuda``: without gpulearn's CUDA backend and a GPU they are skipped
with gpulearn's reason. CuPy and PyTorch tests also skip where those libraries are absent.
"""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import gpulearn
from gpulearn.linear_model import LinearRegression, Ridge
from gpulearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

from _testdata import SEED, make_regression_data

pytestmark = pytest.mark.cuda

# CUDA vs CPU in float64: the same algorithms with different reduction orders (cuBLAS/cuSOLVER
# vs Eigen) on well-conditioned data differ by ~cond * eps * log(n) ~ 1e-13; 1e-9 is the bar.
RTOL_F64 = 1e-9
# float32: eps is 6e-8 and the two backends round their reductions differently; 1e-4 leaves
# margin for cond(X) ~ 10 and a few thousand rows.
RTOL_F32 = 1e-4
# float32 over 300k rows: rounding accumulated along long reductions in different orders;
# still far below any wrong answer.
RTOL_F32_LARGE = 1e-3
# Rank-deficient X: the minimum-norm solutions agree to ~1e-14 of the largest coefficient
# (see test_linear_parity.py), and the zero singular value is noise at ~eps * s_max.
RTOL_RANK_DEFICIENT = 1e-6

ESTIMATORS = [
    pytest.param(LinearRegression, {}, id="LinearRegression"),
    pytest.param(Ridge, {"alpha": 1.5}, id="Ridge"),
]


def assert_close(actual, desired, rtol):
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape and actual.dtype == desired.dtype
    assert_allclose(actual, desired, rtol=rtol, atol=rtol * float(np.max(np.abs(desired))))


def assert_models_close(cuda_model, cpu_model, rtol):
    assert type(cuda_model.coef_) is np.ndarray  # fitted state is always host NumPy
    assert_close(cuda_model.coef_, cpu_model.coef_, rtol)
    assert np.shape(cuda_model.intercept_) == np.shape(cpu_model.intercept_)
    assert_allclose(cuda_model.intercept_, cpu_model.intercept_, rtol=rtol,
                    atol=rtol * float(np.max(np.abs(cpu_model.coef_))))


@pytest.mark.parametrize("gl_cls, params", ESTIMATORS)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, RTOL_F64), (np.float32, RTOL_F32)])
@pytest.mark.parametrize("n_targets", [None, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cuda_matches_cpu(gl_cls, params, dtype, rtol, n_targets, weighted, fit_intercept, cuda,
                          rng):
    X, y = make_regression_data(rng, n_samples=3000, n_features=12, n_targets=n_targets,
                                dtype=dtype)
    w = rng.uniform(0.2, 2.0, size=X.shape[0]).astype(dtype) if weighted else None
    params = {**params, "fit_intercept": fit_intercept}
    on_gpu = gl_cls(device=cuda, **params).fit(X, y, sample_weight=w)
    on_cpu = gl_cls(device="cpu", **params).fit(X, y, sample_weight=w)
    assert on_gpu.coef_.dtype == dtype
    assert_models_close(on_gpu, on_cpu, rtol)
    pred = on_gpu.predict(X)
    assert type(pred) is np.ndarray and pred.dtype == dtype
    assert_close(pred, on_cpu.predict(X), rtol)
    if gl_cls is LinearRegression:
        assert on_gpu.rank_ == on_cpu.rank_
        assert_close(on_gpu.singular_, on_cpu.singular_, rtol)


@pytest.mark.parametrize("solver", ["auto", "svd", "cholesky"])
def test_cuda_ridge_solvers_and_per_target_alpha_match_cpu(solver, cuda, rng):
    X, Y = make_regression_data(rng, n_samples=2000, n_features=10, n_targets=3)
    alpha = np.array([0.01, 1.0, 100.0])
    on_gpu = Ridge(alpha=alpha, solver=solver, device=cuda).fit(X, Y)
    on_cpu = Ridge(alpha=alpha, solver=solver, device="cpu").fit(X, Y)
    assert on_gpu.solver_ == on_cpu.solver_
    assert_models_close(on_gpu, on_cpu, RTOL_F64)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_cuda_rank_deficient_matches_cpu(fit_intercept, cuda, rng):
    X, y = make_regression_data(rng, n_samples=1500, n_features=8)
    X = np.hstack([X, X[:, [2]], 2.0 * X[:, [5]]])
    on_gpu = LinearRegression(device=cuda, fit_intercept=fit_intercept).fit(X, y)
    on_cpu = LinearRegression(device="cpu", fit_intercept=fit_intercept).fit(X, y)
    assert on_gpu.rank_ == on_cpu.rank_ == 8
    assert_models_close(on_gpu, on_cpu, RTOL_RANK_DEFICIENT)
    assert_allclose(on_gpu.singular_, on_cpu.singular_, rtol=RTOL_RANK_DEFICIENT,
                    atol=1e-10 * on_cpu.singular_.max())
    # Ridge without a penalty on a constant column falls back to the SVD solver on both.
    Xc = np.hstack([X[:, :8], np.full((X.shape[0], 1), 3.0)])
    ridge_gpu = Ridge(alpha=0.0, device=cuda, fit_intercept=fit_intercept).fit(Xc, y)
    ridge_cpu = Ridge(alpha=0.0, device="cpu", fit_intercept=fit_intercept).fit(Xc, y)
    assert ridge_gpu.solver_ == ridge_cpu.solver_
    assert_models_close(ridge_gpu, ridge_cpu, RTOL_RANK_DEFICIENT)


@pytest.mark.parametrize("gl_cls, params", ESTIMATORS)
def test_cuda_fit_is_deterministic(gl_cls, params, cuda, rng):
    X, y = make_regression_data(rng, n_samples=5000, n_features=16, n_targets=2)
    first = gl_cls(device=cuda, **params).fit(X, y)
    second = gl_cls(device=cuda, **params).fit(X, y)
    assert_array_equal(first.coef_, second.coef_)
    assert_array_equal(first.intercept_, second.intercept_)
    assert_array_equal(first.predict(X), second.predict(X))


@pytest.mark.parametrize("gl_cls, params", ESTIMATORS)
def test_cuda_bad_input_is_refused_before_any_kernel(gl_cls, params, cuda, rng):
    X, y = make_regression_data(rng, n_samples=200)
    X_nan = X.copy()
    X_nan[-1, -1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gl_cls(device=cuda, **params).fit(X_nan, y)
    model = gl_cls(device=cuda, **params).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(X_nan)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :-1])
    # The context is still usable afterwards.
    assert_array_equal(model.predict(X), gl_cls(device=cuda, **params).fit(X, y).predict(X))


@pytest.mark.parametrize("gl_cls, params", ESTIMATORS)
def test_model_fitted_on_cuda_pickles_and_predicts_on_cpu(gl_cls, params, cuda, rng):
    X, y = make_regression_data(rng, n_samples=1000)
    on_gpu = gl_cls(device=cuda, **params).fit(X, y)
    restored = pickle.loads(pickle.dumps(on_gpu))
    assert restored.device == cuda
    assert_array_equal(restored.coef_, on_gpu.coef_)
    restored.set_params(device="cpu")
    assert_close(restored.predict(X), on_gpu.predict(X), RTOL_F64)


# --------------------------------------------------------------------------------------------
# Data larger than one internal chunk


@pytest.mark.parametrize("gl_cls, params", ESTIMATORS)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, RTOL_F64), (np.float32, RTOL_F32_LARGE)])
def test_cuda_matches_cpu_on_data_larger_than_one_chunk(gl_cls, params, dtype, rtol, cuda, rng,
                                                        monkeypatch):
    # The data fit in one chunk on any GPU, so the chunk is also capped (through the backend's
    # test hook) to a row count that does not divide n: several chunks and a remainder. (300k
    # rows took 2 minutes on the CUDA emulator; 30k reach the same paths.)
    X, y = make_regression_data(rng, n_samples=30_011, n_features=64, dtype=dtype)
    on_cpu = gl_cls(device="cpu", **params).fit(X, y)
    expected = on_cpu.predict(X)
    for cap in (None, "7919"):
        if cap is None:
            monkeypatch.delenv("GPULEARN_CUDA_MAX_CHUNK_ROWS", raising=False)
        else:
            monkeypatch.setenv("GPULEARN_CUDA_MAX_CHUNK_ROWS", cap)
        on_gpu = gl_cls(device=cuda, **params).fit(X, y)
        assert_models_close(on_gpu, on_cpu, rtol)
        assert_close(on_gpu.predict(X), expected, rtol)


def test_cuda_chunked_result_equals_unchunked_result(cuda, rng, monkeypatch):
    X, Y = make_regression_data(rng, n_samples=3_011, n_features=20, n_targets=2)
    w = rng.uniform(0.5, 1.5, size=X.shape[0])
    monkeypatch.delenv("GPULEARN_CUDA_MAX_CHUNK_ROWS", raising=False)
    whole = LinearRegression(device=cuda).fit(X, Y, sample_weight=w)
    for cap in ("61", "997", "1024"):  # 50 chunks and a remainder, 4 and a remainder, one
        monkeypatch.setenv("GPULEARN_CUDA_MAX_CHUNK_ROWS", cap)
        chunked = LinearRegression(device=cuda).fit(X, Y, sample_weight=w)
        assert_models_close(chunked, whole, RTOL_F64)
        assert_close(chunked.predict(X), whole.predict(X), RTOL_F64)


# --------------------------------------------------------------------------------------------
# CuPy and PyTorch inputs


@pytest.mark.parametrize("gl_cls, params", ESTIMATORS)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, RTOL_F64), (np.float32, RTOL_F32)])
def test_cupy_input_gives_cupy_predictions_and_numpy_attributes(gl_cls, params, dtype, rtol,
                                                                cuda, rng):
    cp = pytest.importorskip("cupy")
    X, Y = make_regression_data(rng, n_samples=2000, n_features=8, n_targets=2, dtype=dtype)
    w = rng.uniform(0.5, 2.0, size=X.shape[0]).astype(dtype)
    X_gpu, Y_gpu, w_gpu = cp.asarray(X), cp.asarray(Y), cp.asarray(w)
    model = gl_cls(**params).fit(X_gpu, Y_gpu, sample_weight=w_gpu)  # device="auto"
    assert type(model.coef_) is np.ndarray and model.coef_.dtype == dtype
    assert type(model.intercept_) is np.ndarray
    on_cpu = gl_cls(device="cpu", **params).fit(X, Y, sample_weight=w)
    assert_models_close(model, on_cpu, rtol)
    pred = model.predict(X_gpu)
    assert isinstance(pred, cp.ndarray)
    assert pred.dtype == dtype and pred.shape == (X.shape[0], 2)
    assert pred.device.id == X_gpu.device.id
    assert_close(cp.asnumpy(pred), on_cpu.predict(X), rtol)
    # 1-D y gives 1-D CuPy predictions; host y and weights may go with device X.
    model1 = gl_cls(**params).fit(X_gpu, Y[:, 0], sample_weight=w)
    pred1 = model1.predict(X_gpu)
    assert isinstance(pred1, cp.ndarray) and pred1.shape == (X.shape[0],)
    # Device input with non-contiguous rows and Fortran order reads the same values.
    X_f = cp.asfortranarray(X_gpu)
    assert_close(cp.asnumpy(model.predict(X_f)), cp.asnumpy(pred), rtol)
    assert_close(cp.asnumpy(model.predict(X_gpu[::2])), cp.asnumpy(pred)[::2], rtol)
    # Inputs on the device are never written.
    assert_array_equal(cp.asnumpy(X_gpu), X)
    assert_array_equal(cp.asnumpy(Y_gpu), Y)


def test_cupy_nan_is_refused(cuda, rng):
    cp = pytest.importorskip("cupy")
    X, y = make_regression_data(rng, n_samples=500)
    X[123, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Ridge().fit(cp.asarray(X), cp.asarray(y))


@pytest.mark.parametrize("gl_cls, params", ESTIMATORS)
def test_torch_cuda_tensors_give_torch_predictions(gl_cls, params, cuda, rng):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch was built without CUDA")
    X, y = make_regression_data(rng, n_samples=2000, n_features=8)
    X_t = torch.from_numpy(X).to("cuda")
    y_t = torch.from_numpy(y).to("cuda")
    model = gl_cls(**params).fit(X_t, y_t)
    assert type(model.coef_) is np.ndarray
    on_cpu = gl_cls(device="cpu", **params).fit(X, y)
    assert_models_close(model, on_cpu, RTOL_F64)
    pred = model.predict(X_t)
    assert isinstance(pred, torch.Tensor)
    assert pred.is_cuda and pred.dtype == torch.float64 and tuple(pred.shape) == (X.shape[0],)
    assert_close(pred.cpu().numpy(), on_cpu.predict(X), RTOL_F64)
    pred32 = gl_cls(**params).fit(X_t.float(), y_t.float()).predict(X_t.float())
    assert pred32.dtype == torch.float32


@pytest.mark.parametrize("gl_cls, params", ESTIMATORS)
def test_output_type_overrides_the_input_kind(gl_cls, params, cuda, rng):
    cp = pytest.importorskip("cupy")
    X, y = make_regression_data(rng, n_samples=1000)
    X_gpu = cp.asarray(X)
    model = gl_cls(device=cuda, **params).fit(X_gpu, cp.asarray(y))
    expected = cp.asnumpy(model.predict(X_gpu))
    with gpulearn.config_context(output_type="numpy"):
        pred = model.predict(X_gpu)
    assert type(pred) is np.ndarray
    assert_array_equal(pred, expected)
    with gpulearn.config_context(output_type="cupy"):
        pred = model.predict(X)  # host input, CuPy asked for
    assert isinstance(pred, cp.ndarray)
    assert_close(cp.asnumpy(pred), expected, RTOL_F64)
    gpulearn.set_config(output_type="numpy")
    assert type(model.predict(X_gpu)) is np.ndarray


def test_cupy_input_with_device_cpu_still_returns_cupy(cuda, rng):
    cp = pytest.importorskip("cupy")
    X, y = make_regression_data(rng, n_samples=300)
    model = Ridge(device="cpu").fit(cp.asarray(X), cp.asarray(y))
    assert type(model.coef_) is np.ndarray
    assert_close(model.coef_, Ridge(device="cpu").fit(X, y).coef_, RTOL_F64)
    assert isinstance(model.predict(cp.asarray(X)), cp.ndarray)


def test_torch_tensor_requiring_grad_is_read(cuda, rng):
    torch = pytest.importorskip("torch")
    X, y = make_regression_data(rng, n_samples=300)
    X_t = torch.tensor(X, device="cuda", requires_grad=True)
    model = Ridge(device="cuda").fit(X_t, torch.tensor(y, device="cuda"))
    assert_close(model.coef_, Ridge(device="cpu").fit(X, y).coef_, RTOL_F64)


def test_bfloat16_device_input_is_a_value_error(cuda, rng):
    torch = pytest.importorskip("torch")
    X, y = make_regression_data(rng, n_samples=50)
    with pytest.raises(ValueError, match="bfloat16"):
        Ridge(device="cuda").fit(torch.tensor(X, device="cuda", dtype=torch.bfloat16), y)


def test_estimator_checks_on_cuda(cuda):
    # scikit-learn's estimator checks with the CUDA backend (host data, streamed).
    from sklearn.utils.estimator_checks import check_estimator

    for estimator in (LinearRegression(device="cuda"), Ridge(device="cuda")):
        check_estimator(estimator, expected_failed_checks={
            "check_non_transformer_estimators_n_iter": "direct solvers: n_iter_ is None"}
            if isinstance(estimator, Ridge) else None)


def test_more_than_one_gpu_ordinal(cuda, rng):
    from gpulearn import _core

    if _core.cuda_device_count() < 2:
        pytest.skip("needs two GPUs")
    X, y = make_regression_data(rng, n_samples=1000)
    on_first = Ridge(device="cuda:0").fit(X, y)
    on_second = Ridge(device="cuda:1").fit(X, y)
    assert_models_close(on_second, on_first, RTOL_F64)


# --------------------------------------------------------------------------------------------
# Nearest neighbours: NearestNeighbors, KNeighborsClassifier, KNeighborsRegressor
#
# Both backends order the neighbours by (distance, index) and recompute the returned
# neighbours' distances in double with the same code (src/neighbors/rdist.hpp), so on data
# without exact ties the indices are identical and the distances differ only by the rounding of
# the recomputation's sums (FMA contraction on the device): 1e-12 relative in float64, and one
# float32 rounding, 1e-6 relative, in float32.

RTOL_KNN_F64 = 1e-12
RTOL_KNN_F32 = 1e-6

KNN_METRICS = [
    pytest.param("minkowski", 2, id="minkowski-p2"),
    pytest.param("minkowski", 1.5, id="minkowski-p1.5"),
    pytest.param("minkowski", 3, id="minkowski-p3"),
    pytest.param("minkowski", np.inf, id="minkowski-pinf"),
    pytest.param("euclidean", 2, id="euclidean"),
    pytest.param("sqeuclidean", 2, id="sqeuclidean"),
    pytest.param("cosine", 2, id="cosine"),
    pytest.param("manhattan", 2, id="manhattan"),
    pytest.param("chebyshev", 2, id="chebyshev"),
    pytest.param("inner_product", 2, id="inner_product"),
]


@pytest.fixture(scope="module")
def knn_data():
    """(X, Q): 800 x 16 index, 150 queries, uniform in [-1, 1) (signed, for inner products).
    The kneighbors and radius tests cap the tiles at 320 rows (small_tiles): three index tiles
    (the last one partial), and the self-query (X=None) three query tiles too; the cap stays
    above k = 300, so the sorted selection's chunks hold k rows as at full size. (The tile logic
    itself, down to 32-row tiles, is the C++ CudaNeighborsTest's; the emulator's time goes with
    queries x index rows: 1500 x 250 here took 2.7x the CPU time and covered nothing more.)"""
    gen = np.random.default_rng(SEED)
    return gen.uniform(-1, 1, size=(800, 16)), gen.uniform(-1, 1, size=(150, 16))


@pytest.fixture
def small_tiles(monkeypatch):
    monkeypatch.setenv("GPULEARN_CUDA_MAX_CHUNK_ROWS", "320")


def _host(a):
    """NumPy view of a NumPy, CuPy or PyTorch array."""
    if hasattr(a, "get"):
        return a.get()
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def assert_same_neighbours(gpu, cpu, rtol):
    (g_dist, g_ind), (c_dist, c_ind) = gpu, cpu
    g_dist, g_ind = _host(g_dist), _host(g_ind)
    assert g_ind.dtype == np.int64 and g_dist.dtype == c_dist.dtype
    assert g_ind.shape == c_ind.shape
    # Both lists are ordered by exactly recomputed distances, so equal distances rank for rank
    # mean the same neighbours up to near-ties. float64 must agree exactly; in float32 the two
    # backends' GEMMs round the selection distances differently, and a pair within ~1e-7 of the
    # k-th may swap in: allowed at a rate far below what a wrong search would show.
    if g_dist.dtype == np.float64:
        assert_array_equal(g_ind, c_ind)
    else:
        assert np.mean(g_ind != c_ind) <= 1e-3
    assert_allclose(g_dist, c_dist, rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("metric, p", KNN_METRICS)
@pytest.mark.parametrize("k", [1, 10, 300])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, RTOL_KNN_F64),
                                         (np.float32, RTOL_KNN_F32)])
def test_cuda_kneighbors_match_cpu(knn_data, metric, p, k, dtype, rtol, cuda, small_tiles):
    X, Q = (a.astype(dtype) for a in knn_data)
    on_gpu = NearestNeighbors(n_neighbors=k, metric=metric, p=p, device=cuda).fit(X)
    on_cpu = NearestNeighbors(n_neighbors=k, metric=metric, p=p, device="cpu").fit(X)
    dist, ind = on_gpu.kneighbors(Q)
    assert type(dist) is np.ndarray and type(ind) is np.ndarray  # host in, host out
    assert dist.dtype == dtype and dist.shape == (Q.shape[0], k)
    assert_same_neighbours((dist, ind), on_cpu.kneighbors(Q), rtol)
    if k == 10:  # X=None: the index against itself, without self-matches (all 800 rows)
        assert_same_neighbours(on_gpu.kneighbors(), on_cpu.kneighbors(), rtol)


@pytest.mark.parametrize("metric, p", [m for m in KNN_METRICS if m.values[0] != "inner_product"])
@pytest.mark.parametrize("sort_results", [False, True])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, RTOL_KNN_F64),
                                         (np.float32, RTOL_KNN_F32)])
def test_cuda_radius_neighbors_match_cpu(knn_data, metric, p, sort_results, dtype, rtol, cuda,
                                         small_tiles):
    X, Q = (a.astype(dtype) for a in knn_data)
    # A radius around the 20th neighbour's distance: a few to a few dozen matches per query.
    radius = float(np.median(NearestNeighbors(n_neighbors=20, metric=metric, p=p, device="cpu")
                             .fit(X).kneighbors(Q[:50])[0][:, -1]))
    on_gpu = NearestNeighbors(radius=radius, metric=metric, p=p, device=cuda).fit(X)
    on_cpu = NearestNeighbors(radius=radius, metric=metric, p=p, device="cpu").fit(X)
    for query in (Q, None):
        g_dist, g_ind = on_gpu.radius_neighbors(query, sort_results=sort_results)
        c_dist, c_ind = on_cpu.radius_neighbors(query, sort_results=sort_results)
        assert g_ind.shape == c_ind.shape
        assert sum(a.size for a in c_ind) > c_ind.shape[0]
        for q in range(c_ind.shape[0]):
            assert_array_equal(_host(g_ind[q]), c_ind[q])
            assert _host(g_dist[q]).dtype == dtype
            assert_allclose(_host(g_dist[q]), c_dist[q], rtol=rtol, atol=rtol * 1e-3)
    g_graph = on_gpu.radius_neighbors_graph(Q, mode="distance")
    c_graph = on_cpu.radius_neighbors_graph(Q, mode="distance")
    assert_array_equal(g_graph.indptr, c_graph.indptr)
    assert_array_equal(g_graph.indices, c_graph.indices)
    assert_allclose(g_graph.data, c_graph.data, rtol=rtol, atol=rtol * 1e-3)


def test_cuda_kneighbors_graph_matches_cpu(knn_data, cuda):
    X, Q = knn_data
    on_gpu = NearestNeighbors(n_neighbors=7, device=cuda).fit(X)
    on_cpu = NearestNeighbors(n_neighbors=7, device="cpu").fit(X)
    for query in (Q, None):
        for mode in ("connectivity", "distance"):
            g, c = on_gpu.kneighbors_graph(query, mode=mode), on_cpu.kneighbors_graph(query,
                                                                                     mode=mode)
            assert g.format == "csr" and g.shape == c.shape
            assert_array_equal(g.indptr, c.indptr)
            assert_array_equal(g.indices, c.indices)
            assert_allclose(g.data, c.data, rtol=RTOL_KNN_F64)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine"])
def test_cuda_knn_classifier_and_regressor_match_cpu(knn_data, weights, metric, cuda):
    X, Q = knn_data
    gen = np.random.default_rng(SEED + 3)
    y = gen.integers(0, 4, size=X.shape[0])
    y_reg = X @ gen.normal(size=X.shape[1])
    params = dict(n_neighbors=9, weights=weights, metric=metric)
    clf_gpu = KNeighborsClassifier(device=cuda, **params).fit(X, y)
    clf_cpu = KNeighborsClassifier(device="cpu", **params).fit(X, y)
    assert_array_equal(clf_gpu.predict(Q), clf_cpu.predict(Q))
    assert_allclose(clf_gpu.predict_proba(Q), clf_cpu.predict_proba(Q), rtol=1e-12, atol=1e-12)
    reg_gpu = KNeighborsRegressor(device=cuda, **params).fit(X, y_reg)
    reg_cpu = KNeighborsRegressor(device="cpu", **params).fit(X, y_reg)
    assert_allclose(reg_gpu.predict(Q), reg_cpu.predict(Q), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, RTOL_KNN_F64),
                                         (np.float32, RTOL_KNN_F32)])
def test_cupy_neighbors_input_gives_cupy_output(knn_data, dtype, rtol, cuda):
    cp = pytest.importorskip("cupy")
    X, Q = (a.astype(dtype) for a in knn_data)
    X_gpu, Q_gpu = cp.asarray(X), cp.asarray(Q)
    model = NearestNeighbors(n_neighbors=10).fit(X_gpu)  # device="auto": the data's GPU
    on_cpu = NearestNeighbors(n_neighbors=10, device="cpu").fit(X)
    dist, ind = model.kneighbors(Q_gpu)
    assert isinstance(dist, cp.ndarray) and isinstance(ind, cp.ndarray)
    assert dist.dtype == dtype and ind.dtype == np.int64
    assert dist.device.id == Q_gpu.device.id
    assert_same_neighbours((dist, ind), on_cpu.kneighbors(Q), rtol)
    only = model.kneighbors(Q_gpu, return_distance=False)
    assert isinstance(only, cp.ndarray)
    assert_array_equal(only.get(), ind.get())
    itself = model.kneighbors()  # the index on the device: device results
    assert isinstance(itself[1], cp.ndarray)
    assert_same_neighbours(itself, on_cpu.kneighbors(), rtol)
    host = model.kneighbors(Q)  # host queries: host results
    assert type(host[1]) is np.ndarray
    assert_same_neighbours(host, on_cpu.kneighbors(Q), rtol)
    # Fortran-ordered and strided device queries read the same values.
    assert_same_neighbours(model.kneighbors(cp.asfortranarray(Q_gpu)), on_cpu.kneighbors(Q), rtol)
    assert_same_neighbours(model.kneighbors(Q_gpu[::3]), on_cpu.kneighbors(Q[::3]), rtol)
    assert_array_equal(X_gpu.get(), X)  # never written
    # A model fitted on device data pickles with a host index and predicts on the CPU.
    restored = pickle.loads(pickle.dumps(model)).set_params(device="cpu")
    assert_same_neighbours(restored.kneighbors(Q), on_cpu.kneighbors(Q), rtol)
    # The classifier on device data predicts the CPU's labels.
    y = np.arange(X.shape[0]) % 3
    labels = KNeighborsClassifier().fit(X_gpu, y).predict(Q_gpu)
    assert_array_equal(_host(labels), KNeighborsClassifier(device="cpu").fit(X, y).predict(Q))


def test_torch_neighbors_input_gives_torch_output(knn_data, cuda):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch was built without CUDA")
    X, Q = knn_data
    X_t, Q_t = torch.from_numpy(X).to("cuda"), torch.from_numpy(Q).to("cuda")
    model = NearestNeighbors(n_neighbors=10).fit(X_t)
    dist, ind = model.kneighbors(Q_t)
    assert isinstance(dist, torch.Tensor) and isinstance(ind, torch.Tensor)
    assert dist.is_cuda and ind.is_cuda
    assert dist.dtype == torch.float64 and ind.dtype == torch.int64
    assert_same_neighbours((dist, ind),
                           NearestNeighbors(n_neighbors=10, device="cpu").fit(X).kneighbors(Q),
                           RTOL_KNN_F64)
    dist32, _ = NearestNeighbors(n_neighbors=10).fit(X_t.float()).kneighbors(Q_t.float())
    assert dist32.dtype == torch.float32


def test_cuda_neighbors_refuse_bad_input(knn_data, cuda):
    X, Q = knn_data
    bad = Q[:20].copy()
    bad[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NearestNeighbors(device=cuda).fit(bad)
    model = NearestNeighbors(device=cuda).fit(X)
    with pytest.raises(ValueError, match="NaN"):
        model.kneighbors(bad)
    with pytest.raises(ValueError, match="Expected n_neighbors <= n_samples_fit"):
        model.kneighbors(Q, n_neighbors=X.shape[0] + 1)
    with pytest.raises(ValueError, match="features"):
        model.kneighbors(Q[:, :-1])
    # The context is still usable afterwards.
    assert_same_neighbours(model.kneighbors(Q),
                           NearestNeighbors(device="cpu").fit(X).kneighbors(Q), RTOL_KNN_F64)


# --------------------------------------------------------------------------------------------
# PCA and TruncatedSVD
#
# Both backends run the same drivers (src/decomposition): the same solver choice, the same
# randomized start matrix (scikit-learn's draw from random_state), the small factorisations,
# the orthonormalisation and the sign rule on the host in double. They differ only in how the
# passes over X round (cuBLAS vs Eigen products, chunk sizes). A component is determined only
# where its variance is non-null and apart from its neighbours', so components (rows of
# components_, columns of transform) are compared where the exact variance is above 1e-8 of the
# largest and 1e-3 of the largest from either neighbour (1e-2 in float32), as in
# test_decomposition.py.
# - float64: relative 1e-9 (rounding of either backend is ~1e-13 at these gaps). Null
#   eigenvalues are rounding residues: atol 1e-12 of the largest (noise_variance_: of the
#   total); a null singular value is the square root of one, ~1e-7 of the largest: atol 1e-6.
# - float32: relative 1e-4 (a few float32 roundings over a >= 1e-2 relative gap; each backend
#   is within ~3e-5 of float64 here); null singular values atol 1e-3 of the largest. What is
#   derived through a product with X or an inversion (transform, inverse_transform, precision,
#   score_samples) 3e-4 of its largest value: a projection's error is the components' error
#   times the row's norm, up to ~3x the largest projection, and each backend alone is within
#   ~7e-5 of float64 there.

RTOL_PCA_F64 = 1e-9
RTOL_PCA_F32 = 1e-4
RTOL_PCA_F32_DERIVED = 3e-4
PCA_SOLVERS = ["full", "covariance_eigh", "randomized", "arpack", "auto"]
PCA_SHAPES = {"tall": (4000, 40), "wide": (80, 200)}


def _pca_data(gen, n, d, offset=5.0):
    """A clearly decaying, distinct spectrum rotated by a random orthogonal matrix."""
    Q, _ = np.linalg.qr(gen.standard_normal((d, d)))
    return gen.standard_normal((n, d)) @ np.diag(np.linspace(3.0, 0.1, d)) @ Q + offset


@pytest.fixture(scope="module")
def pca_sets():
    """{name: (X, exact spectrum of X)}, drawn from the recorded SEED."""
    from sklearn.decomposition import PCA as SkPCA

    out = {}
    for i, (name, (n, d)) in enumerate(PCA_SHAPES.items()):
        X = _pca_data(np.random.default_rng(SEED + 20 + i), n, d)
        out[name] = X, SkPCA(svd_solver="full").fit(X).explained_variance_
    return out


def _separated(ev, gap):
    ev = np.asarray(ev, dtype=np.float64)
    diffs = np.abs(np.diff(ev))
    nearest = np.minimum(np.r_[np.inf, diffs], np.r_[diffs, np.inf])
    return (ev > 1e-8 * ev[0]) & (nearest > gap * ev[0])


def _pca_tolerances(dtype):
    """(rtol, component gap, atol of null eigenvalues, atol of null singular values, rtol of
    what is derived through X or an inversion)."""
    if np.dtype(dtype) == np.float64:
        return RTOL_PCA_F64, 1e-3, 1e-12, 1e-6, RTOL_PCA_F64
    return RTOL_PCA_F32, 1e-2, RTOL_PCA_F32, 1e-3, RTOL_PCA_F32_DERIVED


def _pca_cases():
    cases = []
    for shape, (n, d) in PCA_SHAPES.items():
        for solver in PCA_SOLVERS:
            for n_components in (None, 5, 0.8, "mle"):
                truncated = solver in ("randomized", "arpack")
                if isinstance(n_components, (float, str)) and truncated:
                    continue  # refused by scikit-learn's rules
                if n_components == "mle" and n < d:
                    continue
                cases.append(pytest.param(shape, solver, n_components,
                                          id=f"{shape}-{solver}-{n_components}"))
    return cases


def _regular_covariance(model):
    ev = model.explained_variance_
    return (model.n_components_ == model.n_features_in_ and ev[-1] > 1e-8 * ev[0]) or \
        model.noise_variance_ > 1e-8 * ev[0]


def assert_decompositions_close(gpu, cpu, X, spectrum, dtype, transform_of=None):
    """A PCA or TruncatedSVD fitted on the GPU against the same fitted on the CPU."""
    rtol, gap, atol_ev, atol_sv, rtol_x = _pca_tolerances(dtype)
    is_pca = hasattr(cpu, "mean_")
    names = ["components_", "explained_variance_", "explained_variance_ratio_",
             "singular_values_"] + (["mean_"] if is_pca else [])
    for name in names:
        value = getattr(gpu, name)
        assert type(value) is np.ndarray and value.dtype == dtype, name  # host NumPy, dtype kept
        assert value.shape == getattr(cpu, name).shape, name
    k = cpu.components_.shape[0]
    keep = _separated(spectrum, gap)[:k]
    assert keep.any()
    assert_allclose(gpu.components_[keep], cpu.components_[keep], rtol=0, atol=rtol)
    ev0 = float(cpu.explained_variance_[0])
    assert_allclose(gpu.explained_variance_, cpu.explained_variance_, rtol=rtol,
                    atol=atol_ev * ev0)
    assert_allclose(gpu.explained_variance_ratio_, cpu.explained_variance_ratio_, rtol=rtol,
                    atol=atol_ev)
    assert_allclose(gpu.singular_values_, cpu.singular_values_, rtol=rtol,
                    atol=atol_sv * float(cpu.singular_values_[0]))
    X_in = X if transform_of is None else transform_of
    T_gpu, T_cpu = _host(gpu.transform(X_in)), cpu.transform(X)
    assert T_gpu.dtype == dtype
    assert_allclose(T_gpu[:, keep], T_cpu[:, keep], rtol=0,
                    atol=rtol_x * float(np.max(np.abs(T_cpu[:, keep]))))
    back = _host(gpu.inverse_transform(T_cpu if transform_of is None
                                       else _like(transform_of, T_cpu)))
    assert back.dtype == dtype
    assert_allclose(back, cpu.inverse_transform(T_cpu), rtol=0,
                    atol=rtol_x * float(np.max(np.abs(X))))
    if not is_pca:
        return keep
    assert gpu.n_components_ == cpu.n_components_ and gpu.n_samples_ == cpu.n_samples_
    assert gpu._fit_svd_solver == cpu._fit_svd_solver
    assert_allclose(gpu.mean_, cpu.mean_, rtol=rtol, atol=rtol * np.max(np.abs(cpu.mean_)))
    total = float(np.sum(spectrum))
    assert gpu.noise_variance_ == pytest.approx(cpu.noise_variance_, rel=rtol,
                                                abs=atol_ev * total)
    assert_close(gpu.get_covariance(), cpu.get_covariance(), rtol)
    if _regular_covariance(cpu):
        assert_close(gpu.get_precision(), cpu.get_precision(), rtol_x)
        ll = _host(gpu.score_samples(X_in))
        assert ll.dtype == dtype
        assert_close(ll, cpu.score_samples(X), rtol_x)
        assert gpu.score(X_in) == pytest.approx(cpu.score(X), rel=rtol_x)
    elif cpu.noise_variance_ == 0:  # a singular model covariance: both refuse
        for model in (gpu, cpu):
            with pytest.raises(ValueError, match="singular"):
                model.score_samples(X)
    return keep


def _like(device_array, host_array):
    """host_array on the device (and of the library) of device_array."""
    from gpulearn import _arrays

    return _arrays.to_device_like(device_array, host_array)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("whiten", [False, True])
@pytest.mark.parametrize("shape, solver, n_components", _pca_cases())
def test_cuda_pca_matches_cpu(pca_sets, shape, solver, n_components, whiten, dtype, cuda):
    from gpulearn.decomposition import PCA

    X, spectrum = pca_sets[shape]
    X = X.astype(dtype)
    params = dict(n_components=n_components, svd_solver=solver, whiten=whiten, random_state=0)
    on_gpu = PCA(device=cuda, **params).fit(X)
    on_cpu = PCA(device="cpu", **params).fit(X)
    keep = assert_decompositions_close(on_gpu, on_cpu, X, spectrum, dtype)
    Z = PCA(device=cuda, **params).fit_transform(X)
    assert type(Z) is np.ndarray and Z.dtype == dtype
    # fit_transform is U S (for the randomized solver on tall data, not transform(X)): the
    # CPU's fit_transform is the reference.
    T = PCA(device="cpu", **params).fit_transform(X)[:, keep]
    assert_allclose(Z[:, keep], T, rtol=0, atol=_pca_tolerances(dtype)[4] * np.abs(T).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["auto", "randomized"])
def test_cuda_pca_randomized_on_550_features_matches_cpu(solver, dtype, cuda):
    from gpulearn.decomposition import PCA

    X = _pca_data(np.random.default_rng(SEED + 30), 600, 550).astype(dtype)
    on_gpu = PCA(10, svd_solver=solver, random_state=3, device=cuda).fit(X)
    on_cpu = PCA(10, svd_solver=solver, random_state=3, device="cpu").fit(X)
    assert on_gpu._fit_svd_solver == "randomized"
    assert_decompositions_close(on_gpu, on_cpu, X, np.r_[on_cpu.explained_variance_, 0.0],
                                dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_components", [1, 2, 5])
@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
@pytest.mark.parametrize("shape", list(PCA_SHAPES))
def test_cuda_truncated_svd_matches_cpu(pca_sets, shape, algorithm, n_components, dtype, cuda):
    from gpulearn.decomposition import TruncatedSVD

    # Not centred: the offset of 0.5 keeps the mean direction from dwarfing the spectrum.
    X = (pca_sets[shape][0] - 4.5).astype(dtype)
    spectrum = np.linalg.svd(X.astype(np.float64), compute_uv=False) ** 2
    params = dict(n_components=n_components, algorithm=algorithm, random_state=0)
    on_gpu = TruncatedSVD(device=cuda, **params).fit(X)
    on_cpu = TruncatedSVD(device="cpu", **params).fit(X)
    keep = assert_decompositions_close(on_gpu, on_cpu, X, spectrum, dtype)
    Z = TruncatedSVD(device=cuda, **params).fit_transform(X)
    T = on_cpu.transform(X)
    assert_allclose(Z[:, keep], T[:, keep], rtol=0,
                    atol=_pca_tolerances(dtype)[4] * np.abs(T[:, keep]).max())


@pytest.mark.parametrize("solver", PCA_SOLVERS)
def test_cuda_pca_far_from_the_origin_matches_cpu(solver, cuda, rng):
    # The covariance is formed from centred chunks on both backends: no n mean mean^T
    # cancellation at 1e4 + 1e-2 noise.
    from gpulearn.decomposition import PCA
    from sklearn.decomposition import PCA as SkPCA

    X = 1e4 + 1e-2 * _pca_data(rng, 3000, 30, offset=0.0)
    spectrum = SkPCA(svd_solver="full").fit(X).explained_variance_
    on_gpu = PCA(5, svd_solver=solver, random_state=0, device=cuda).fit(X)
    on_cpu = PCA(5, svd_solver=solver, random_state=0, device="cpu").fit(X)
    assert_decompositions_close(on_gpu, on_cpu, X, spectrum, np.float64)


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized"])
def test_cuda_pca_chunked_result_equals_unchunked_result(pca_sets, solver, cuda, monkeypatch):
    from gpulearn.decomposition import PCA

    X, spectrum = pca_sets["tall"]
    monkeypatch.delenv("GPULEARN_CUDA_MAX_CHUNK_ROWS", raising=False)
    whole = PCA(6, svd_solver=solver, random_state=0, device=cuda).fit(X)
    for cap in ("61", "997"):  # (one-row chunks: the C++ CenteredProductsAcrossChunkBoundaries)
        monkeypatch.setenv("GPULEARN_CUDA_MAX_CHUNK_ROWS", cap)
        chunked = PCA(6, svd_solver=solver, random_state=0, device=cuda).fit(X)
        assert_decompositions_close(chunked, whole, X, spectrum, np.float64)


@pytest.mark.parametrize("solver", PCA_SOLVERS)
def test_cuda_pca_fit_is_deterministic(pca_sets, solver, cuda):
    from gpulearn.decomposition import PCA, TruncatedSVD

    X, _ = pca_sets["tall"]
    first = PCA(5, svd_solver=solver, random_state=7, device=cuda).fit(X)
    second = PCA(5, svd_solver=solver, random_state=7, device=cuda).fit(X)
    assert_array_equal(first.components_, second.components_)
    assert_array_equal(first.explained_variance_, second.explained_variance_)
    assert_array_equal(first.transform(X), second.transform(X))
    svd_a = TruncatedSVD(3, random_state=7, device=cuda).fit(X)
    svd_b = TruncatedSVD(3, random_state=7, device=cuda).fit(X)
    assert_array_equal(svd_a.components_, svd_b.components_)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", PCA_SOLVERS)
def test_cupy_pca_input_gives_cupy_output(pca_sets, solver, dtype, cuda):
    cp = pytest.importorskip("cupy")
    from gpulearn.decomposition import PCA

    X, spectrum = pca_sets["tall"]
    X = X.astype(dtype)
    X_gpu = cp.asarray(X)
    params = dict(n_components=5, svd_solver=solver, random_state=0)
    model = PCA(**params).fit(X_gpu)  # device="auto": the data's GPU
    on_cpu = PCA(device="cpu", **params).fit(X)
    assert model.n_features_in_ == X.shape[1] and model.n_samples_ == X.shape[0]
    assert_decompositions_close(model, on_cpu, X, spectrum, dtype, transform_of=X_gpu)
    rtol, rtol_x = _pca_tolerances(dtype)[0], _pca_tolerances(dtype)[4]
    T = model.transform(X_gpu)
    assert isinstance(T, cp.ndarray) and T.dtype == dtype and T.shape == (X.shape[0], 5)
    assert T.device.id == X_gpu.device.id
    back = model.inverse_transform(T)
    assert isinstance(back, cp.ndarray) and back.dtype == dtype
    assert isinstance(model.score_samples(X_gpu), cp.ndarray)
    Z = PCA(**params).fit_transform(X_gpu)
    assert isinstance(Z, cp.ndarray)
    assert_close(cp.asnumpy(Z), cp.asnumpy(T), rtol_x)
    # Fortran-ordered and strided device input reads the same values.
    assert_close(cp.asnumpy(model.transform(cp.asfortranarray(X_gpu))), cp.asnumpy(T), rtol_x)
    assert_close(cp.asnumpy(model.transform(X_gpu[::3])), cp.asnumpy(T)[::3], rtol_x)
    strided = PCA(**params).fit(cp.repeat(X_gpu, 2, axis=0)[::2])
    keep = _separated(spectrum, _pca_tolerances(dtype)[1])[:5]
    assert_allclose(strided.components_[keep], model.components_[keep], rtol=0, atol=rtol)
    # Host input to a model fitted on the device: host output.
    assert type(model.transform(X)) is np.ndarray
    # The input on the device is never written.
    assert_array_equal(cp.asnumpy(X_gpu), X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cupy_truncated_svd_input_gives_cupy_output(pca_sets, dtype, cuda):
    cp = pytest.importorskip("cupy")
    from gpulearn.decomposition import TruncatedSVD

    X = (pca_sets["wide"][0] - 4.5).astype(dtype)
    spectrum = np.linalg.svd(X.astype(np.float64), compute_uv=False) ** 2
    X_gpu = cp.asarray(X)
    model = TruncatedSVD(4, random_state=0).fit(X_gpu)
    on_cpu = TruncatedSVD(4, random_state=0, device="cpu").fit(X)
    assert_decompositions_close(model, on_cpu, X, spectrum, dtype, transform_of=X_gpu)
    T = model.transform(X_gpu)
    assert isinstance(T, cp.ndarray) and T.dtype == dtype
    assert isinstance(model.inverse_transform(T), cp.ndarray)
    assert isinstance(TruncatedSVD(4, random_state=0).fit_transform(X_gpu), cp.ndarray)
    assert_array_equal(cp.asnumpy(X_gpu), X)


def test_torch_decomposition_input_gives_torch_output(pca_sets, cuda):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch was built without CUDA")
    from gpulearn.decomposition import PCA, TruncatedSVD

    X, spectrum = pca_sets["tall"]
    X_t = torch.from_numpy(X).to("cuda")
    for model, on_cpu, spec in (
            (PCA(5, random_state=0).fit(X_t), PCA(5, random_state=0, device="cpu").fit(X),
             spectrum),
            (TruncatedSVD(3, random_state=0).fit(X_t - 4.5),
             TruncatedSVD(3, random_state=0, device="cpu").fit(X - 4.5),
             np.linalg.svd(X - 4.5, compute_uv=False) ** 2)):
        is_pca = isinstance(model, PCA)
        X_in, X_host = (X_t, X) if is_pca else (X_t - 4.5, X - 4.5)
        assert type(model.components_) is np.ndarray
        assert_decompositions_close(model, on_cpu, X_host, spec, np.float64, transform_of=X_in)
        T = model.transform(X_in)
        assert isinstance(T, torch.Tensor) and T.is_cuda and T.dtype == torch.float64
        back = model.inverse_transform(T)
        assert isinstance(back, torch.Tensor) and back.is_cuda
    T32 = PCA(5, random_state=0).fit(X_t.float()).transform(X_t.float())
    assert isinstance(T32, torch.Tensor) and T32.dtype == torch.float32


def test_cuda_decomposition_refuses_bad_input(pca_sets, cuda):
    from gpulearn.decomposition import PCA, TruncatedSVD

    X, _ = pca_sets["tall"]
    bad = X[:50].copy()
    bad[3, 3] = np.nan
    for estimator in (PCA(3, device=cuda), TruncatedSVD(3, device=cuda)):
        with pytest.raises(ValueError, match="NaN"):
            estimator.fit(bad)
    with pytest.raises(ValueError, match=r"minimum of 2 is required"):
        PCA(device=cuda).fit(X[:1])
    model = PCA(3, device=cuda).fit(X)
    with pytest.raises(ValueError, match="NaN"):
        model.transform(bad)
    with pytest.raises(ValueError, match=r"X has 39 features, but PCA is expecting 40"):
        model.transform(X[:, :-1])
    cp = pytest.importorskip("cupy")
    with pytest.raises(ValueError, match="NaN"):
        PCA(3).fit(cp.asarray(bad))
    with pytest.raises(ValueError, match=r"minimum of 2 is required"):
        PCA().fit(cp.asarray(X[:1]))
    with pytest.raises(ValueError, match=r"X has 39 features, but PCA is expecting 40"):
        model.transform(cp.asarray(X[:, :-1]))
    # The context is still usable afterwards.
    assert_close(model.transform(X), PCA(3, device="cpu").fit(X).transform(X), RTOL_PCA_F64)


@pytest.mark.parametrize("make", ["PCA", "TruncatedSVD"])
def test_decomposition_fitted_on_cuda_pickles_and_transforms_on_cpu(pca_sets, make, cuda):
    from gpulearn import decomposition

    X, _ = pca_sets["tall"]
    on_gpu = getattr(decomposition, make)(3, random_state=0, device=cuda).fit(X)
    restored = pickle.loads(pickle.dumps(on_gpu))
    assert restored.device == cuda
    assert_array_equal(restored.components_, on_gpu.components_)
    restored.set_params(device="cpu")
    assert_close(restored.transform(X), on_gpu.transform(X), RTOL_PCA_F64)


def test_decomposition_estimator_checks_on_cuda(cuda):
    from sklearn.utils.estimator_checks import check_estimator

    from gpulearn.decomposition import PCA, TruncatedSVD

    # scikit-learn's estimator checks with the CUDA backend (host data, streamed).
    for estimator in (PCA(device=cuda),
                      PCA(n_components=2, svd_solver="randomized", device=cuda),
                      TruncatedSVD(device=cuda)):
        check_estimator(estimator)


# --------------------------------------------------------------------------------------------
# Lasso / ElasticNet / LogisticRegression: the same descent on the CUDA-formed Gram matrix, the
# same quasi-Newton iterates on the CUDA loss and gradient.

# ElasticNet: only the Gram system (and Yc^T W Yc) is formed on the device; the descent runs on
# the host. The Gram entries differ by ~eps * n * |X|^2 between backends, which moves the
# optimum by ~cond * that: 1e-8 in float64 (tol 1e-12 makes the descent's own error negligible).
RTOL_ENET_F64 = 1e-8
# LogisticRegression: every iterate depends on the backend's loss/gradient, equal to ~1e-13 in
# float64. Both fits end where the objective F is flat to rounding (a step gains under 64 eps F,
# scipy's ftol), which determines the coefficients only to about sqrt(2 * 64 eps F / lambda_min)
# of the Hessian: 7e-7 of their scale for two classes here (F = 1.8e3, lambda_min = 2.7e2).
# (The multinomial's class-shift direction is curved by the penalty alone, but the loss gradient
# has no component along it, so both fits stay on the same shift.) Measured on the emulator:
# <= 8.7e-8 over the 16 float64 cases, the objectives equal to 3e-15. The data have no redundant
# (collinear) features: with them the unpenalised and pure-L1 optima are not unique, and the
# fits agreed only to 7e-4.
RTOL_LOGISTIC_F64 = 1e-6
RTOL_LOGISTIC_OBJECTIVE_F64 = 1e-12
# float32: the losses and gradients are formed in float (eps 6e-8 over thousands of rows).
RTOL_ITERATIVE_F32 = 1e-3


def _sparse_linear_data(rng, n=3000, d=30, dtype=np.float64):
    X = rng.normal(loc=2.0, size=(n, d))
    beta = rng.normal(size=d) * (rng.random(d) < 0.4)
    y = X @ beta + 1.5 + 0.3 * rng.normal(size=n)
    return X.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, RTOL_ENET_F64),
                                         (np.float32, RTOL_ITERATIVE_F32)])
@pytest.mark.parametrize("params", [{"alpha": 0.05}, {"alpha": 0.02, "l1_ratio": 0.3},
                                    {"alpha": 0.05, "positive": True},
                                    {"alpha": 0.05, "selection": "random", "random_state": 0}])
@pytest.mark.parametrize("weighted", [False, True])
def test_cuda_elastic_net_matches_cpu(dtype, rtol, params, weighted, cuda, rng):
    from gpulearn.linear_model import ElasticNet

    X, y = _sparse_linear_data(rng, dtype=dtype)
    w = rng.uniform(0.2, 3.0, size=len(y)).astype(dtype) if weighted else None
    kw = dict(params, tol=1e-12, max_iter=100000)
    on_cuda = ElasticNet(device="cuda", **kw).fit(X, y, sample_weight=w)
    on_cpu = ElasticNet(device="cpu", **kw).fit(X, y, sample_weight=w)
    assert_models_close(on_cuda, on_cpu, rtol)
    assert_close(on_cuda.predict(X), on_cpu.predict(X), rtol)


def _logistic_objective(model, X, y, w, C, l1_ratio):
    """scikit-learn's LogisticRegression objective at the model's coefficients, in float64."""
    from scipy.special import logsumexp

    W, b = model.coef_.astype(np.float64), model.intercept_.astype(np.float64)
    Z = X.astype(np.float64) @ W.T + b
    if W.shape[0] == 1:
        z, positive = Z[:, 0], y == model.classes_[1]
        loss = np.logaddexp(0.0, z) - positive * z
    else:
        loss = logsumexp(Z, axis=1) - Z[np.arange(len(y)), np.searchsorted(model.classes_, y)]
    loss = np.sum(loss if w is None else w * loss)
    if np.isinf(C):
        return loss
    return C * loss + (1 - l1_ratio) / 2 * np.sum(W ** 2) + l1_ratio * np.sum(np.abs(W))


def assert_logistic_fits_agree(on_cuda, on_cpu, X, y, w, params, dtype, rtol):
    """The CUDA and the CPU LogisticRegression fits (``params``, on X dense or sparse) reach the
    same optimum at the same coefficients, within the bars explained above."""
    n_classes = len(on_cpu.classes_)
    # Both reach the same optimum ...
    C, l1_ratio = params.get("C", 1.0), params.get("l1_ratio", 0.0)
    f_cuda, f_cpu = (_logistic_objective(m, X, y, w, C, l1_ratio) for m in (on_cuda, on_cpu))
    assert f_cuda == pytest.approx(f_cpu, rel=RTOL_LOGISTIC_OBJECTIVE_F64
                                   if dtype == np.float64 else rtol)
    # ... at the same coefficients. A pure L1 penalty with an even number of classes leaves a
    # shift of each feature's coefficients across the classes free (any shift between the two
    # middle values costs the same): only the shift-free part is compared there.
    coef_cuda, coef_cpu = on_cuda.coef_, on_cpu.coef_
    if n_classes > 2 and l1_ratio == 1.0:
        coef_cuda, coef_cpu = (c - c.mean(axis=0) for c in (coef_cuda, coef_cpu))
    if n_classes > 2 and 0 < l1_ratio < 1:
        # Elastic net, several classes: OWL-QN's orthant steps move the directions whose only
        # curvature is the penalty's 1 - l1_ratio (a class shift of one feature), which the
        # flat-to-rounding objective then pins only to sqrt(2 * 64 eps F / (1 - l1_ratio))
        # (measured: 4.6e-6 in float64 against a bound of 8e-6; 4e-3 in float32).
        bound = np.sqrt(2 * 64 * np.finfo(dtype).eps * abs(f_cpu) / (1 - l1_ratio))
        assert_allclose(coef_cuda, coef_cpu, rtol=0, atol=bound)
    else:
        assert_close(coef_cuda, coef_cpu, rtol)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, RTOL_LOGISTIC_F64),
                                         (np.float32, RTOL_ITERATIVE_F32)])
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("params", [{}, {"C": np.inf}, {"l1_ratio": 1.0, "solver": "saga"},
                                    {"l1_ratio": 0.5, "solver": "saga", "C": 0.3}])
@pytest.mark.parametrize("weighted", [False, True])
def test_cuda_logistic_regression_matches_cpu(dtype, rtol, n_classes, params, weighted, cuda,
                                              rng):
    from sklearn.datasets import make_classification

    from gpulearn.linear_model import LogisticRegression

    X, y = make_classification(4000, 20, n_informative=8, n_redundant=0, n_classes=n_classes,
                               random_state=SEED)
    X = X.astype(dtype)
    w = rng.uniform(0.2, 3.0, size=len(y)) if weighted else None
    kw = dict(params, tol=1e-10, max_iter=10000)
    on_cuda = LogisticRegression(device="cuda", **kw).fit(X, y, sample_weight=w)
    on_cpu = LogisticRegression(device="cpu", **kw).fit(X, y, sample_weight=w)
    assert_logistic_fits_agree(on_cuda, on_cpu, X, y, w, params, dtype, rtol)
    assert_close(on_cuda.predict_proba(X), on_cpu.predict_proba(X), rtol)
    assert_array_equal(on_cuda.classes_, on_cpu.classes_)


def test_cuda_logistic_regression_is_deterministic(cuda):
    from sklearn.datasets import make_classification

    from gpulearn.linear_model import LogisticRegression

    X, y = make_classification(20000, 30, n_classes=3, n_informative=10, random_state=SEED)
    a = LogisticRegression(device="cuda").fit(X, y)
    b = LogisticRegression(device="cuda").fit(X, y)
    assert_array_equal(a.coef_, b.coef_)
    assert_array_equal(a.n_iter_, b.n_iter_)


def test_cupy_input_to_logistic_regression_and_elastic_net(cuda, rng):
    cp = pytest.importorskip("cupy")
    from sklearn.datasets import make_classification

    from gpulearn.linear_model import ElasticNet, LogisticRegression

    X, y = make_classification(3000, 10, n_classes=3, n_informative=5, random_state=SEED)
    ours = LogisticRegression(device="cuda").fit(cp.asarray(X), y)
    ref = LogisticRegression(device="cpu").fit(X, y)
    assert_close(ours.coef_, ref.coef_, RTOL_LOGISTIC_F64 * 100)
    scores = ours.decision_function(cp.asarray(X))
    assert isinstance(scores, cp.ndarray)
    Xr, yr = _sparse_linear_data(rng)
    enet = ElasticNet(alpha=0.05, device="cuda").fit(cp.asarray(Xr), cp.asarray(yr))
    assert_models_close(enet, ElasticNet(alpha=0.05, device="cpu").fit(Xr, yr), 1e-6)


# --------------------------------------------------------------------------------------------
# Random forests: the same trees on both backends. Statistics are fixed-point sums (exact in
# any order) and every random draw is a pure function of (seed, tree, node path), so a fixed
# random_state grows bit-identical forests on the CPU and on CUDA. The one allowed exception:
# entropy, where CUDA's log and the C library's may differ in the last bit, so two exactly
# tied candidate splits may be ranked otherwise; there the predictions must agree on all but a
# few points and most trees must be identical.

_FOREST_KEYS = ("children_left", "children_right", "feature", "threshold", "value", "impurity",
                "n_node_samples", "weighted_n_node_samples")
# Entropy at exact ties: the share of test points whose predicted class may differ.
MAX_ENTROPY_PREDICTION_DIFF = 0.01


def _forest_data(seed, n=3000, d=12, task="classification", dtype=np.float64):
    gen = np.random.default_rng(seed)
    X = gen.normal(size=(n, d))
    X[:, 3] = np.round(X[:, 3])  # a few distinct values: ties between rows
    noise = gen.normal(size=n)
    if task == "classification":
        y = (X[:, 0] + X[:, 1] * X[:, 2] + 0.5 * noise > 0).astype(np.int64) + (X[:, 4] > 1)
    else:
        y = X[:, 0] + np.sin(2 * X[:, 1]) + 0.3 * noise
    return X.astype(dtype), y


def assert_same_forests(a, b):
    assert len(a.estimators_) == len(b.estimators_)
    for t, (ea, eb) in enumerate(zip(a.estimators_, b.estimators_)):
        assert ea.tree_.node_count == eb.tree_.node_count, f"tree {t}"
        assert ea.tree_.max_depth == eb.tree_.max_depth, f"tree {t}"
        for key in _FOREST_KEYS:
            assert_array_equal(getattr(ea.tree_, key), getattr(eb.tree_, key),
                               err_msg=f"tree {t}: {key}")
    assert_array_equal(a.feature_importances_, b.feature_importances_)


FOREST_CASES = [
    pytest.param("classification", {}, id="gini-default"),
    pytest.param("classification", {"max_features": None, "max_depth": 8}, id="gini-all-depth8"),
    pytest.param("classification", {"class_weight": "balanced_subsample", "oob_score": True,
                                    "min_samples_leaf": 3}, id="gini-balanced-oob"),
    pytest.param("classification", {"max_leaf_nodes": 40, "bootstrap": False}, id="gini-leaves"),
    pytest.param("classification", {"n_bins": 8, "max_samples": 0.5}, id="gini-8-bins"),
    pytest.param("regression", {}, id="squared-error-default"),
    pytest.param("regression", {"max_features": "sqrt", "min_samples_split": 10,
                                "oob_score": True}, id="squared-error-sqrt-oob"),
    pytest.param("regression", {"criterion": "friedman_mse", "max_depth": 10},
                 id="friedman-depth10"),
    pytest.param("multi-output", {"max_features": 0.5}, id="squared-error-2-outputs"),
]


def _forest_cases_by_dtype_and_weights():
    """Each case in two of the four (dtype, weighted) pairs, alternating between cases, so that
    all four pairs run for classification and for regression (36 emulated fits -> 18)."""
    pairs = ([(np.float64, False), (np.float32, True)], [(np.float64, True), (np.float32, False)])
    for i, case in enumerate(FOREST_CASES):
        for dtype, weighted in pairs[i % 2]:
            yield pytest.param(*case.values, dtype, weighted,
                               id=f"{case.id}-{np.dtype(dtype).name}"
                                  f"{'-weighted' if weighted else ''}")


@pytest.mark.parametrize("task, params, dtype, weighted", _forest_cases_by_dtype_and_weights())
def test_cuda_forest_equals_cpu_forest(task, params, dtype, weighted, cuda):
    from gpulearn.ensemble import RandomForestClassifier, RandomForestRegressor

    # Regression trees grow to one row per leaf (12k nodes per tree from 3000 rows, each node
    # one block of 256 threads on the emulator): 1000 rows there, 3000 for classification.
    X, y = _forest_data(SEED, task="classification" if task == "classification"
                        else "regression", n=3000 if task == "classification" else 1000,
                        dtype=dtype)
    if task == "multi-output":
        y = np.c_[y, X[:, 5] * X[:, 6]]
    cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
    w = (np.random.default_rng(SEED + 1).uniform(0.2, 3.0, size=len(X)) if weighted
         else None)
    # With oob_score, 25 trees leave every row out of bag at least once; 10 otherwise.
    kw = dict(n_estimators=25 if params.get("oob_score") else 10, random_state=7, **params)
    on_gpu = cls(device=cuda, **kw).fit(X, y, sample_weight=w)
    on_cpu = cls(device="cpu", **kw).fit(X, y, sample_weight=w)
    assert_same_forests(on_gpu, on_cpu)
    X_test, _ = _forest_data(SEED + 2, n=1000, dtype=dtype)
    pred = on_gpu.predict(X_test)
    assert type(pred) is np.ndarray
    assert_array_equal(pred, on_cpu.predict(X_test))
    assert_array_equal(on_gpu.apply(X_test), on_cpu.apply(X_test))
    if cls is RandomForestClassifier:
        assert_array_equal(on_gpu.predict_proba(X_test), on_cpu.predict_proba(X_test))
    if params.get("oob_score"):
        assert on_gpu.oob_score_ == on_cpu.oob_score_
        oob = "oob_decision_function_" if cls is RandomForestClassifier else "oob_prediction_"
        assert_array_equal(getattr(on_gpu, oob), getattr(on_cpu, oob))
    # A forest fitted on one backend predicts identically on the other.
    assert_array_equal(on_cpu.set_params(device=cuda).predict(X_test), pred)


@pytest.mark.parametrize("criterion", ["entropy", "log_loss"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cuda_entropy_forest_matches_cpu_but_for_exact_ties(criterion, dtype, cuda):
    from gpulearn.ensemble import RandomForestClassifier

    X, y = _forest_data(SEED, dtype=dtype)
    kw = dict(n_estimators=20, criterion=criterion, random_state=3)
    on_gpu = RandomForestClassifier(device=cuda, **kw).fit(X, y)
    on_cpu = RandomForestClassifier(device="cpu", **kw).fit(X, y)
    X_test, _ = _forest_data(SEED + 2, n=2000, dtype=dtype)
    differ = np.mean(on_gpu.predict(X_test) != on_cpu.predict(X_test))
    assert differ <= MAX_ENTROPY_PREDICTION_DIFF, differ
    same = sum(
        a.tree_.node_count == b.tree_.node_count
        and np.array_equal(a.tree_.feature, b.tree_.feature)
        and np.array_equal(a.tree_.threshold, b.tree_.threshold)
        for a, b in zip(on_gpu.estimators_, on_cpu.estimators_))
    assert same >= 15, same  # a tie changes a tree, not most of them
    assert_allclose(on_gpu.estimators_[0].tree_.impurity[0],
                    on_cpu.estimators_[0].tree_.impurity[0], rtol=1e-12)


def test_cuda_forest_on_data_larger_than_one_block(cuda, monkeypatch):
    # Many thread blocks per histogram and deep trees with many small nodes: nodes above 1024
    # rows are searched by row slices of 512 in global memory, with histogram subtraction
    # (the default switches at 4096 rows; 200k rows took 90 s on the CUDA emulator).
    from gpulearn.ensemble import RandomForestClassifier, RandomForestRegressor

    monkeypatch.setenv("GPULEARN_CUDA_FOREST_LOCAL_ROWS", "1024")
    X, y = _forest_data(SEED + 5, n=8000, d=20, dtype=np.float32)
    for cls, target in ((RandomForestClassifier, y), (RandomForestRegressor, X[:, 0] + y)):
        kw = dict(n_estimators=4, max_depth=10, random_state=0)
        on_gpu = cls(device=cuda, **kw).fit(X, target)
        on_cpu = cls(device="cpu", **kw).fit(X, target)
        assert_same_forests(on_gpu, on_cpu)
        assert_array_equal(on_gpu.predict(X[:5000]), on_cpu.predict(X[:5000]))


def test_cuda_forest_fit_is_deterministic(cuda, monkeypatch):
    from gpulearn.ensemble import RandomForestClassifier

    # Nodes above 1024 rows are searched by many blocks (the multi-block path, as at scale).
    monkeypatch.setenv("GPULEARN_CUDA_FOREST_LOCAL_ROWS", "1024")
    X, y = _forest_data(SEED + 6, n=6000)
    a = RandomForestClassifier(5, random_state=1, device=cuda).fit(X, y)
    b = RandomForestClassifier(5, random_state=1, device=cuda).fit(X, y)
    assert_same_forests(a, b)
    c = RandomForestClassifier(5, random_state=2, device=cuda).fit(X, y)
    assert not np.array_equal(a.predict_proba(X[:500]), c.predict_proba(X[:500]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cupy_input_to_forests(dtype, cuda):
    cp = pytest.importorskip("cupy")
    from gpulearn.ensemble import RandomForestClassifier, RandomForestRegressor

    X, y = _forest_data(SEED + 7, dtype=dtype)
    X_gpu = cp.asarray(X)
    kw = dict(n_estimators=8, random_state=0)
    model = RandomForestClassifier(**kw).fit(X_gpu, cp.asarray(y))  # device="auto"
    on_cpu = RandomForestClassifier(device="cpu", **kw).fit(X, y)
    assert_same_forests(model, on_cpu)
    assert type(model.feature_importances_) is np.ndarray
    proba = model.predict_proba(X_gpu)
    assert isinstance(proba, cp.ndarray) and proba.device.id == X_gpu.device.id
    assert_array_equal(cp.asnumpy(proba), on_cpu.predict_proba(X))
    assert_array_equal(cp.asnumpy(model.predict_proba(cp.asfortranarray(X_gpu))),
                       cp.asnumpy(proba))
    assert_array_equal(cp.asnumpy(model.predict_proba(X_gpu[::2])), cp.asnumpy(proba)[::2])
    assert_array_equal(cp.asnumpy(model.apply(X_gpu)), on_cpu.apply(X))
    reg = RandomForestRegressor(**kw).fit(X_gpu, y.astype(dtype))
    pred = reg.predict(X_gpu)
    assert isinstance(pred, cp.ndarray) and pred.shape == (len(X),)
    reg_cpu = RandomForestRegressor(device="cpu", **kw).fit(X, y.astype(dtype))
    assert_array_equal(cp.asnumpy(pred), reg_cpu.predict(X))
    # score on GPU input: scikit-learn's metrics take host arrays only.
    assert model.score(X_gpu, cp.asarray(y)) == on_cpu.score(X, y)
    assert reg.score(X_gpu, cp.asarray(y.astype(dtype))) == reg_cpu.score(X, y.astype(dtype))
    assert_array_equal(cp.asnumpy(X_gpu), X)  # never written


def test_cuda_forest_refuses_bad_input(cuda):
    from gpulearn.ensemble import RandomForestClassifier

    X, y = _forest_data(SEED + 8, n=500)
    bad = X.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        RandomForestClassifier(5, device=cuda).fit(bad, y)
    model = RandomForestClassifier(5, random_state=0, device=cuda).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :-1])
    cp = pytest.importorskip("cupy")
    with pytest.raises(ValueError, match="NaN"):
        RandomForestClassifier(5).fit(cp.asarray(bad), y)
    # The context is still usable afterwards.
    assert_array_equal(model.predict(X), RandomForestClassifier(5, random_state=0, device=cuda)
                       .fit(X, y).predict(X))


def test_forest_fitted_on_cuda_pickles_and_predicts_on_cpu(cuda):
    from gpulearn.ensemble import RandomForestRegressor

    X, y = _forest_data(SEED + 9, n=500, task="regression")
    on_gpu = RandomForestRegressor(5, random_state=0, device=cuda).fit(X, y)
    restored = pickle.loads(pickle.dumps(on_gpu))
    assert restored.device == cuda
    restored.set_params(device="cpu")
    assert_array_equal(restored.predict(X), on_gpu.predict(X))


def test_forest_estimator_checks_on_cuda(cuda):
    from sklearn.utils.estimator_checks import check_estimator

    from gpulearn.ensemble import RandomForestClassifier, RandomForestRegressor

    # 5 trees: scikit-learn's own checks cap n_estimators at 5 (_set_checking_parameters).
    reason = "bootstrap draws: a weight multiplies a row's count (as scikit-learn lists)"
    for estimator in (RandomForestClassifier(n_estimators=5, device=cuda),
                      RandomForestRegressor(n_estimators=5, device=cuda)):
        check_estimator(estimator, expected_failed_checks={
            "check_sample_weight_equivalence_on_dense_data": reason})
