"""Sparse input on the CUDA backend, against the CPU backend on the same sparse matrix.

Every test is marked ``cuda`` (run on the CUDA emulator in CI, on a GPU where one is present).
Each estimator on sparse input either computes on the device and gives the CPU's model within
the CUDA equivalence tolerances (test_cuda_equivalence.py), or refuses with NotImplementedError
saying that sparse input is not supported on CUDA devices yet; never a crash or another answer.
The neighbours must compute on the device (no refusal accepted).
``device="auto"`` computes sparse input on the CPU (docs/sparse.md).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse

import gpulearn
from gpulearn.cluster import KMeans
from gpulearn.decomposition import PCA, TruncatedSVD
from gpulearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from gpulearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

from _testdata import SEED

pytestmark = pytest.mark.cuda

# The CUDA sparse primitives sum in double in a fixed order, as the CPU's do; the two backends
# differ by the dense algebra's reduction orders (cuBLAS/cuSOLVER vs Eigen) only: the CUDA
# equivalence tests' float64 bar.
RTOL_F64 = 1e-9

REFUSAL = "sparse input is not supported on CUDA devices yet"


def _data(density=0.05, n=300, d=40):
    rng = np.random.default_rng(SEED)
    X = sparse.random(n, d, density=density, format="csr", random_state=rng) * 3.0
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    labels = (y > np.median(y)).astype(int)
    return X.tocsr(), y, labels


def _fit_both(make, X, target=None):
    args = (X,) if target is None else (X, target)
    cpu = make("cpu").fit(*args)
    try:
        gpu = make("cuda").fit(*args)
    except NotImplementedError as exc:
        assert REFUSAL in str(exc), str(exc)
        return cpu, None
    return cpu, gpu


CASES = [
    ("LinearRegression", lambda dev: LinearRegression(device=dev), "y", ["coef_", "intercept_"]),
    ("Ridge", lambda dev: Ridge(alpha=0.5, device=dev), "y", ["coef_", "intercept_"]),
    ("Lasso", lambda dev: Lasso(alpha=0.01, device=dev), "y", ["coef_", "intercept_"]),
    ("ElasticNet", lambda dev: ElasticNet(alpha=0.01, device=dev), "y", ["coef_", "intercept_"]),
    ("LogisticRegression", lambda dev: LogisticRegression(device=dev, tol=1e-10, max_iter=500),
     "labels", ["coef_", "intercept_"]),
    ("TruncatedSVD", lambda dev: TruncatedSVD(3, random_state=0, device=dev), None,
     ["singular_values_"]),
    ("PCA", lambda dev: PCA(3, svd_solver="arpack", random_state=0, device=dev), None,
     ["explained_variance_", "mean_"]),
    ("KMeans", lambda dev: KMeans(3, init="random", n_init=1, random_state=0, device=dev), None,
     ["cluster_centers_"]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_sparse_fit_on_cuda_matches_the_cpu_or_refuses(case, cuda):
    _, make, target, attributes = case
    X, y, labels = _data()
    cpu, gpu = _fit_both(make, X, {"y": y, "labels": labels, None: None}[target])
    if gpu is None:
        return
    for name in attributes:
        assert_allclose(np.abs(getattr(gpu, name)), np.abs(getattr(cpu, name)), rtol=RTOL_F64,
                        atol=1e-12, err_msg=name)


# The neighbours compute on the device (cuda/neighbors/sparse_l1.cu, knn.cu, radius_search.cu).
# Both backends rank products of the same rows and recompute every returned pair in double with
# the same operations, which the two compilers may contract differently (measured on the
# emulator: at most 4.4e-16 apart). So float64 gives the same distances within RTOL_F64 and the
# same indices, but for pairs tied in exact arithmetic, which sparse data has (parallel rows:
# one entry in the same column), that the last bit orders apart; in float32 the selection's row
# factors may round apart too, and a pair within float32 rounding of the k-th may swap in (as
# test_cuda_equivalence allows).
SPARSE_KNN_METRICS = ["euclidean", "manhattan", "cosine", "inner_product"]
RTOL_KNN_F32 = 1e-5


def _knn_data(dtype, n=300, d=40, m=30, density=0.1):
    """A sparse index with empty rows (0, 7, n - 1) and an empty column (d - 1), sparse queries
    with an empty row, labels and targets."""
    rng = np.random.default_rng(SEED)
    X = sparse.random(n, d, density=density, format="lil", random_state=rng, dtype=dtype)
    X[[0, 7, n - 1], :] = 0
    X[:, d - 1] = 0
    Q = sparse.random(m, d, density=density, format="lil", random_state=rng, dtype=dtype)
    Q[3, :] = 0
    X, Q = X.tocsr(), Q.tocsr()
    X.eliminate_zeros()
    Q.eliminate_zeros()
    y = np.asarray(X.sum(axis=1)).ravel() + 0.1 * rng.standard_normal(n)
    return X, Q, (y > np.median(y)).astype(int), y


def _assert_same_neighbours(got, want, dtype):
    (g_dist, g_ind), (c_dist, c_ind) = got, want
    assert g_dist.dtype == dtype and g_ind.shape == c_ind.shape
    rtol = RTOL_F64 if dtype == np.float64 else RTOL_KNN_F32
    assert_allclose(g_dist, c_dist, rtol=rtol, atol=rtol * 1e-3)
    # Rank for rank the same distance: a differing index is a neighbour tied with the CPU's
    # (1e-12 in float64: ties in exact arithmetic, rounded apart), and such ties are rare.
    swapped = g_ind != c_ind
    tie = 1e-12 if dtype == np.float64 else RTOL_KNN_F32
    assert np.all(np.abs(g_dist - c_dist)[swapped] <= tie * np.maximum(1.0, np.abs(c_dist))[swapped])
    assert np.mean(swapped) <= 0.01, np.argwhere(swapped)


def _assert_same_radius(got, want, dtype):
    (g_dist, g_ind), (c_dist, c_ind) = got, want
    assert g_ind.shape == c_ind.shape
    assert sum(a.size for a in c_ind) > c_ind.shape[0]  # some queries match several rows
    rtol = RTOL_F64 if dtype == np.float64 else RTOL_KNN_F32
    for q in range(c_ind.shape[0]):
        np.testing.assert_array_equal(g_ind[q], c_ind[q])
        assert g_dist[q].dtype == dtype
        assert_allclose(g_dist[q], c_dist[q], rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("metric", SPARSE_KNN_METRICS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_neighbours_on_cuda_match_the_cpu(metric, dtype, cuda, monkeypatch):
    # 64-row tiles on the device: the selections cross several index tiles.
    monkeypatch.setenv("GPULEARN_CUDA_MAX_CHUNK_ROWS", "64")
    X, Q, labels, y = _knn_data(dtype)
    make = lambda dev, **kw: NearestNeighbors(n_neighbors=6, metric=metric, device=dev, **kw)
    gpu, cpu = make(cuda).fit(X), make("cpu").fit(X)
    for queries in (Q, Q.toarray(), None):  # sparse, dense, the index itself (no self-matches)
        _assert_same_neighbours(gpu.kneighbors(queries), cpu.kneighbors(queries), dtype)
    # A dense index with sparse queries.
    dense_gpu, dense_cpu = make(cuda).fit(X.toarray()), make("cpu").fit(X.toarray())
    _assert_same_neighbours(dense_gpu.kneighbors(Q), dense_cpu.kneighbors(Q), dtype)
    if metric != "inner_product":  # a similarity: no radius queries
        radius = float(np.median(cpu.kneighbors(Q)[0][:, -1]))
        gpu, cpu = make(cuda, radius=radius).fit(X), make("cpu", radius=radius).fit(X)
        for queries in (Q, Q.toarray(), None):
            # In ascending index (sort_results=False): tied distances leave the order alone.
            _assert_same_radius(gpu.radius_neighbors(queries), cpu.radius_neighbors(queries),
                                dtype)
    # weights="distance" needs a distance: not the inner product, a similarity.
    for weights in ("uniform",) if metric == "inner_product" else ("uniform", "distance"):
        clf = lambda dev: KNeighborsClassifier(5, weights=weights, metric=metric, device=dev)
        g, c = clf(cuda).fit(X, labels), clf("cpu").fit(X, labels)
        if dtype == np.float64:
            np.testing.assert_array_equal(g.predict(Q), c.predict(Q))
        assert_allclose(g.predict_proba(Q), c.predict_proba(Q), rtol=1e-6 if dtype == np.float32
                        else 1e-12, atol=1e-6 if dtype == np.float32 else 1e-12)
        reg = lambda dev: KNeighborsRegressor(5, weights=weights, metric=metric, device=dev)
        g, c = reg(cuda).fit(X, y), reg("cpu").fit(X, y)
        assert_allclose(g.predict(Q), c.predict(Q), rtol=1e-5 if dtype == np.float32 else 1e-10)


def test_sparse_neighbours_on_cuda_over_several_query_tiles(cuda):
    # 1100 rows against themselves: the driver's query tiles hold at most 1024 rows, so
    # kneighbors() and radius_neighbors() take two, each excluding its own rows from its lists.
    X, _, _, _ = _knn_data(np.float64, n=1100, d=30, m=5, density=0.08)
    gpu = NearestNeighbors(n_neighbors=4, device=cuda).fit(X)
    cpu = NearestNeighbors(n_neighbors=4, device="cpu").fit(X)
    _assert_same_neighbours(gpu.kneighbors(), cpu.kneighbors(), np.float64)
    radius = float(np.median(cpu.kneighbors()[0][:, -1]))
    _assert_same_radius(gpu.radius_neighbors(radius=radius),
                        cpu.radius_neighbors(radius=radius), np.float64)


def test_auto_computes_sparse_input_on_the_cpu(cuda, monkeypatch):
    from gpulearn import _core, _devices

    asked = []
    real = _devices.context
    monkeypatch.setattr(_devices, "context", lambda device: asked.append(device) or real(device))
    # As on a machine with a real GPU ("auto" never picks an emulated device).
    monkeypatch.setattr(_core, "auto_device", lambda: "cuda:0")
    X, y, _ = _data()
    Ridge(device="auto").fit(X, y)
    assert asked == ["cpu"]
    asked.clear()
    Ridge(device="auto").fit(X.toarray(), y)  # dense input still goes to the GPU
    assert asked == ["cuda:0"]
