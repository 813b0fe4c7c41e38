"""Sparse input on the CUDA backend, against the CPU backend on the same sparse matrix.

Every test is marked ``cuda`` (run on the CUDA emulator in CI, on a GPU where one is present).
Every estimator that takes sparse input computes on the device with ``device="cuda"`` (no
refusal is accepted) and gives the CPU's model within the CUDA equivalence tolerances
(test_cuda_equivalence.py).
``device="auto"`` computes sparse input on the CPU (docs/sparse.md).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse

import gpulearn
from gpulearn import _core, _sparse
from gpulearn._base import Prepared
from gpulearn.cluster import KMeans
from gpulearn.decomposition import PCA, TruncatedSVD
from gpulearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
from gpulearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

import _device_memory
from _testdata import SEED

pytestmark = pytest.mark.cuda

# The CUDA sparse primitives sum in double in a fixed order, as the CPU's do; the two backends
# differ by the dense algebra's reduction orders (cuBLAS/cuSOLVER vs Eigen) only: the CUDA
# equivalence tests' float64 bar.
RTOL_F64 = 1e-9

def _data(density=0.05, n=300, d=40):
    rng = np.random.default_rng(SEED)
    X = sparse.random(n, d, density=density, format="csr", random_state=rng) * 3.0
    y = X @ rng.standard_normal(d) + 0.1 * rng.standard_normal(n)
    labels = (y > np.median(y)).astype(int)
    return X.tocsr(), y, labels


def _fit_both(make, X, target=None):
    args = (X,) if target is None else (X, target)
    return make("cpu").fit(*args), make("cuda").fit(*args)


CASES = [
    ("LinearRegression", lambda dev: LinearRegression(device=dev), "y", ["coef_", "intercept_"]),
    ("Ridge", lambda dev: Ridge(alpha=0.5, device=dev), "y", ["coef_", "intercept_"]),
    ("Lasso", lambda dev: Lasso(alpha=0.01, device=dev), "y", ["coef_", "intercept_"]),
    ("ElasticNet", lambda dev: ElasticNet(alpha=0.01, device=dev), "y", ["coef_", "intercept_"]),
    ("TruncatedSVD", lambda dev: TruncatedSVD(3, random_state=0, device=dev), None,
     ["singular_values_"]),
    ("PCA", lambda dev: PCA(3, svd_solver="arpack", random_state=0, device=dev), None,
     ["explained_variance_", "mean_"]),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_sparse_fit_on_cuda_matches_the_cpu(case, cuda):
    _, make, target, attributes = case
    X, y, labels = _data()
    cpu, gpu = _fit_both(make, X, {"y": y, "labels": labels, None: None}[target])
    for name in attributes:
        assert_allclose(np.abs(getattr(gpu, name)), np.abs(getattr(cpu, name)), rtol=RTOL_F64,
                        atol=1e-12, err_msg=name)


@pytest.mark.parametrize("estimator", ["PCA", "TruncatedSVD"])
def test_sparse_arpack_lanczos_on_cuda_matches_the_cpu(estimator, cuda):
    # d = 400 > 256: arpack runs Spectra's Lanczos over single-vector passes of the sparse
    # products, here on the device (src/decomposition/spectral.cpp, lanczos_spectrum).
    X, _, _ = _data(density=0.03, n=300, d=400)
    if estimator == "PCA":
        make = lambda dev: PCA(4, svd_solver="arpack", device=dev)  # noqa: E731
        names = ["singular_values_", "explained_variance_", "mean_", "noise_variance_"]
    else:
        make = lambda dev: TruncatedSVD(4, algorithm="arpack", device=dev)  # noqa: E731
        names = ["singular_values_", "explained_variance_"]
    cpu, gpu = _fit_both(make, X)
    for name in names:
        assert_allclose(getattr(gpu, name), getattr(cpu, name), rtol=RTOL_F64, err_msg=name)
    # The components are the CPU's up to rounding (signs are fixed by flip_signs on both).
    assert_allclose(gpu.components_, cpu.components_, rtol=0, atol=1e-9)


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


# ---- LogisticRegression and KMeans: fitted on the device, never refused --------------------


def _awkward(n, d, density, dtype, seed):
    """A CSR matrix with an empty row every 9th and two empty columns, in ``dtype``."""
    rng = np.random.default_rng(seed)
    X = sparse.random(n, d, density=density, format="lil", random_state=rng, dtype=np.float64)
    X[::9, :] = 0
    X[:, [1, d - 2]] = 0
    X = (X.tocsr() * 3.0).astype(dtype)
    X.eliminate_zeros()
    return X, rng


def _logistic_labels(X, rng, n_classes):
    # Noisy enough that no class is separable: the unpenalised optimum is finite.
    scores = X @ rng.standard_normal((X.shape[1], n_classes)) + 2.0 * rng.standard_normal(
        (X.shape[0], n_classes))
    if n_classes == 2:
        return (scores[:, 0] > np.median(scores[:, 0])).astype(int)
    return np.argmax(scores, axis=1)


# Weights in float64 only: the float32 weighted fits were the emulated suite's slowest tests
# (up to 90 s each in the fresh-clone run), and the weights enter the same kernels either way.
@pytest.mark.parametrize("dtype, weighted", [(np.float64, False), (np.float64, True),
                                             (np.float32, False)], ids=["f64", "f64-w", "f32"])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("params", [{}, {"C": np.inf}, {"l1_ratio": 1.0, "solver": "saga"},
                                    {"l1_ratio": 0.5, "solver": "saga", "C": 0.3}],
                         ids=["l2", "none", "l1", "elasticnet"])
def test_sparse_logistic_regression_fits_on_cuda(dtype, n_classes, params, weighted, cuda):
    # The sparse loss pass on the device (SpMM, the residual kernel, X^T R) against the CPU's:
    # the same optimum, by the bars and reasons of test_cuda_equivalence.py's dense comparison.
    from test_cuda_equivalence import (RTOL_ITERATIVE_F32, RTOL_LOGISTIC_F64,
                                       assert_close, assert_logistic_fits_agree)

    X, rng = _awkward(600, 25, 0.15, dtype, SEED)
    y = _logistic_labels(X, rng, n_classes)
    w = rng.uniform(0.2, 3.0, size=len(y)) if weighted else None
    kw = dict(params, tol=1e-10, max_iter=10000)
    gpu = LogisticRegression(device="cuda", **kw).fit(X, y, sample_weight=w)  # no refusal
    cpu = LogisticRegression(device="cpu", **kw).fit(X, y, sample_weight=w)
    rtol = RTOL_LOGISTIC_F64 if dtype == np.float64 else RTOL_ITERATIVE_F32
    assert_logistic_fits_agree(gpu, cpu, X, y, w, params, dtype, rtol)
    assert gpu.coef_.dtype == cpu.coef_.dtype == dtype
    assert_close(gpu.predict_proba(X), cpu.predict_proba(X), rtol)
    assert_close(gpu.decision_function(X), cpu.decision_function(X), max(rtol, 1e-6))


def test_sparse_logistic_regression_on_cuda_matches_its_dense_fit(cuda):
    # The sparse and the dense device passes reach the same optimum (the dense pass is tested
    # against the CPU in test_cuda_equivalence.py); predict on sparse input on the device too.
    X, rng = _awkward(500, 20, 0.2, np.float64, SEED + 1)
    y = _logistic_labels(X, rng, 3)
    sp = LogisticRegression(device="cuda", tol=1e-10, max_iter=10000).fit(X, y)
    dense = LogisticRegression(device="cuda", tol=1e-10, max_iter=10000).fit(X.toarray(), y)
    assert_allclose(sp.coef_, dense.coef_, rtol=1e-6, atol=1e-6 * np.abs(dense.coef_).max())
    np.testing.assert_array_equal(sp.predict(X), dense.predict(X.toarray()))


KMEANS_CASES = [
    dict(init="k-means++", n_init=1),
    dict(init="random", n_init=3),
    dict(init="k-means++", n_init=2),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("params", KMEANS_CASES, ids=["kmeans++", "random-n3", "kmeans++-n2"])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_kmeans_fits_on_cuda(dtype, params, weighted, cuda):
    # The sparse assignment on the device (SpMM, dots_to_sq_distances, assign_sparse's label
    # sort and chunked sums) against the CPU's: the same labels, and in float64 the same
    # centers within the CUDA equivalence bar. 1200 rows in 4 clusters: several assignment row
    # blocks (256) and several sum chunks (512 rows) per cluster.
    X, rng = _awkward(1200, 30, 0.1, dtype, SEED + 2)
    w = rng.uniform(0.2, 3.0, size=X.shape[0]).astype(dtype) if weighted else None
    kw = dict(params, n_clusters=4, random_state=0, tol=0)
    gpu = KMeans(device="cuda", **kw).fit(X, sample_weight=w)  # no refusal
    cpu = KMeans(device="cpu", **kw).fit(X, sample_weight=w)
    rtol = RTOL_F64 if dtype == np.float64 else 1e-4
    np.testing.assert_array_equal(gpu.labels_, cpu.labels_)
    assert gpu.n_iter_ == cpu.n_iter_
    assert gpu.cluster_centers_.dtype == dtype
    assert_allclose(gpu.cluster_centers_, cpu.cluster_centers_, rtol=rtol,
                    atol=rtol * np.abs(cpu.cluster_centers_).max())
    assert gpu.inertia_ == pytest.approx(cpu.inertia_, rel=rtol)
    Q = X[::7]
    np.testing.assert_array_equal(gpu.predict(Q), cpu.predict(Q))
    assert_allclose(gpu.transform(Q), cpu.transform(Q), rtol=rtol, atol=rtol)
    assert gpu.score(X, sample_weight=w) == pytest.approx(cpu.score(X, sample_weight=w), rel=rtol)


@pytest.mark.filterwarnings("ignore:Number of distinct clusters")
def test_sparse_kmeans_on_cuda_over_several_row_blocks(cuda):
    # The sparse data's passes hold at most 2^22 dot products at once (kBlockEntries in
    # src/cluster/kmeans_sparse.cpp): 3850 rows x 1100 centers take two row blocks, the second
    # a CSR block whose offsets do not start at 0, its sums added to the first's.
    X, rng = _awkward(3850, 12, 0.3, np.float64, SEED + 4)
    init = X[rng.choice(X.shape[0], 1100, replace=False)].toarray() + 0.01
    kw = dict(n_clusters=1100, init=init, n_init=1, max_iter=1, tol=0)
    gpu = KMeans(device="cuda", **kw).fit(X)
    cpu = KMeans(device="cpu", **kw).fit(X)
    np.testing.assert_array_equal(gpu.labels_, cpu.labels_)
    assert_allclose(gpu.cluster_centers_, cpu.cluster_centers_, rtol=RTOL_F64, atol=1e-12)
    assert gpu.inertia_ == pytest.approx(cpu.inertia_, rel=RTOL_F64)


def test_sparse_kmeans_on_cuda_is_deterministic(cuda):
    X, _ = _awkward(900, 40, 0.08, np.float64, SEED + 3)
    fits = [KMeans(5, n_init=2, random_state=1, device="cuda").fit(X) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    np.testing.assert_array_equal(fits[0].labels_, fits[1].labels_)
    assert fits[0].inertia_ == fits[1].inertia_


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


# --------------------------------------------------------------------------------------------
# A CSR matrix already in device memory is read there in place (no copy to the host, no host
# read: under ASan the emulator reports one). Without CuPy (which needs a real GPU), device
# memory is reached through the CUDA runtime's C API by ctypes (_device_memory.py: the emulator
# library in CI, libcudart on a GPU): every CSR the estimators
# make is handed to the core as a CsrRef.of_device of a device copy, with the targets and
# weights that go with it in device memory too (as Prepared.put places them for CuPy input),
# and every result must be bit-equal to the one computed from the host copy of the same matrix
# on the same backend. Results are written to host memory (the core copies them there).


class _DeviceResidentCsr(_sparse.HostCsr):
    """A HostCsr whose ``ref`` describes a device copy of its arrays (kept alive here)."""

    __slots__ = ("device_arrays",)

    def __init__(self, host):
        super().__init__(host.values, host.indices, host.indptr, host.shape)
        self.device_arrays = [_device_memory.DeviceArray(a)
                              for a in (host.values, host.indices, host.indptr)]
        values, indices, indptr = (a.ptr for a in self.device_arrays)
        self.ref = _core.CsrRef.of_device(values, indices, indptr, host.shape[0], host.shape[1],
                                          host.values.dtype.name)


def _device_put(host_put):
    """Prepared.put that places y and weights in device memory beside a device-resident X."""

    def put(self, array, name, dtype=None):
        if not isinstance(self.X, _DeviceResidentCsr):
            return host_put(self, array, name, dtype)
        copy = _device_memory.DeviceArray(
            np.asarray(array, dtype=self.dtype if dtype is None else dtype))
        return copy, copy.ref()

    return put


def _device_empty(host_empty):
    """Prepared.empty that makes outputs in device memory beside a device-resident X."""

    def empty(self, shape, dtype=None):
        if not isinstance(self.X, _DeviceResidentCsr):
            return host_empty(self, shape, dtype)
        out = _device_memory.DeviceArray(np.zeros(shape, self.dtype if dtype is None
                                                    else dtype))
        return out, out.ref()

    return empty


@pytest.fixture
def device_resident_csr(monkeypatch):
    """Turns on, for the test's second half, CSR input handed to the core in device memory."""
    if not _device_memory.available():
        pytest.skip("reaches device memory through the CUDA runtime (the emulator's, or "
                    "libcudart), which this process cannot load")
    host_as_csr = _sparse.as_csr

    def turn_on():
        made = []

        def as_device_csr(X, dtype=None):
            made.append(_DeviceResidentCsr(host_as_csr(X, dtype)))
            return made[-1]

        monkeypatch.setattr(_sparse, "as_csr", as_device_csr)
        monkeypatch.setattr(Prepared, "put", _device_put(Prepared.put))
        monkeypatch.setattr(Prepared, "empty", _device_empty(Prepared.empty))
        return made

    return turn_on


def _results(X, y, labels, queries):
    """Every sparse estimator fitted on X, and what its predict/transform gives, on CUDA."""
    out = {}
    for name, make, target, attributes in CASES:
        model = make("cuda").fit(*((X,) if target is None else (X, y)))
        for a in attributes:
            out[f"{name}.{a}"] = getattr(model, a)
        out[f"{name}.out"] = (model.transform(queries) if target is None
                              else model.predict(queries))
    weights = np.arange(len(y)) % 3
    logistic = LogisticRegression(device="cuda").fit(X, labels, sample_weight=weights)
    out["Logistic.coef_"] = logistic.coef_
    out["Logistic.proba"] = logistic.predict_proba(queries)
    kmeans = KMeans(4, n_init=2, random_state=0, device="cuda").fit(X)
    out["KMeans.centers"] = kmeans.cluster_centers_
    out["KMeans.labels"] = kmeans.labels_
    out["KMeans.predict"] = kmeans.predict(queries)
    out["KMeans.transform"] = kmeans.transform(queries)
    for metric in ("euclidean", "cosine", "manhattan"):
        nn = NearestNeighbors(n_neighbors=4, metric=metric, device="cuda").fit(X)
        out[f"knn.{metric}"] = nn.kneighbors(queries)
        out[f"knn.{metric}.self"] = nn.kneighbors()
        out[f"knn.{metric}.dense_queries"] = nn.kneighbors(queries.toarray())
        graph = nn.radius_neighbors_graph(queries, radius=2.0, mode="distance")
        out[f"radius.{metric}"] = (graph.indptr, graph.indices, graph.data)
    dense_index = NearestNeighbors(n_neighbors=4, device="cuda").fit(X.toarray())
    out["knn.dense_index"] = dense_index.kneighbors(queries)
    return out


def test_csr_in_device_memory_is_read_in_place_by_every_estimator(device_resident_csr):
    X, y, labels = _data(n=200, d=30)
    queries = _data(n=37, d=30, density=0.1)[0]
    expected = _results(X, y, labels, queries)
    made = device_resident_csr()
    actual = _results(X, y, labels, queries)
    assert len(made) >= 20, "the estimators did not take the device-resident CSR"
    assert actual.keys() == expected.keys()
    for key, e in expected.items():
        a = actual[key]
        e, a = (e, a) if isinstance(e, tuple) else ((e,), (a,))
        for e_part, a_part in zip(e, a, strict=True):
            assert_array_equal(np.asarray(a_part), e_part, err_msg=key)


def test_device_csr_ref_refuses_what_it_cannot_describe(cuda):
    with pytest.raises(ValueError, match="float32 or float64"):
        _core.CsrRef.of_device(1, 1, 1, 2, 2, "int32")
    with pytest.raises(ValueError, match="columns"):
        _core.CsrRef.of_device(1, 1, 1, 2, 2**31, "float64")
    with pytest.raises(ValueError, match="null"):
        _core.CsrRef.of_device(1, 1, 0, 2, 2, "float64")


# --------------------------------------------------------------------------------------------
# cupyx.scipy.sparse input (needs CuPy and a real GPU: skipped on the emulator).


def _cupyx():
    cp = pytest.importorskip("cupy")
    pytest.importorskip("cupyx.scipy.sparse")
    import cupyx.scipy.sparse as cusparse

    return cp, cusparse


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_cupyx_sparse_input_matches_the_scipy_input(fmt, cuda):
    cp, cusparse = _cupyx()
    X, y, labels = _data(n=200, d=30)
    queries = _data(n=37, d=30, density=0.1)[0]
    on_device = {"csr": cusparse.csr_matrix, "csc": cusparse.csc_matrix,
                 "coo": cusparse.coo_matrix}[fmt]
    X_gpu, q_gpu = on_device(X.asformat(fmt)), on_device(queries.asformat(fmt))
    for name, make, target, attributes in CASES:
        args = (X,) if target is None else (X, y)
        host = make("cuda").fit(*args)
        gpu = make("auto").fit(X_gpu, *args[1:])  # data on a GPU computes there
        for a in attributes:
            assert_allclose(getattr(gpu, a), getattr(host, a), rtol=RTOL_F64, atol=1e-12,
                            err_msg=f"{name}.{a}")
            assert type(getattr(gpu, a)) is np.ndarray
        out = gpu.transform(q_gpu) if target is None else gpu.predict(q_gpu)
        assert isinstance(out, cp.ndarray), name
        expected = host.transform(queries) if target is None else host.predict(queries)
        assert_allclose(cp.asnumpy(out), expected, rtol=RTOL_F64, atol=1e-12, err_msg=name)
    logistic = LogisticRegression().fit(X_gpu, labels)
    assert_allclose(logistic.coef_, LogisticRegression(device="cuda").fit(X, labels).coef_,
                    rtol=1e-6)
    kmeans = KMeans(4, n_init=2, random_state=0).fit(X_gpu)
    expected = KMeans(4, n_init=2, random_state=0, device="cuda").fit(X)
    assert_array_equal(kmeans.labels_, expected.labels_)
    assert isinstance(kmeans.predict(q_gpu), cp.ndarray)
    nn = NearestNeighbors(n_neighbors=4, metric="cosine").fit(X_gpu)
    dist, ind = nn.kneighbors(q_gpu)
    want = NearestNeighbors(n_neighbors=4, metric="cosine", device="cuda").fit(X)
    assert_array_equal(cp.asnumpy(ind), want.kneighbors(queries)[1])
    # The input matrices are never written.
    assert_array_equal(X_gpu.get().toarray(), X.toarray())


def test_cupyx_sparse_duplicates_nan_and_device_cpu(cuda):
    cp, cusparse = _cupyx()
    X, y, _ = _data(n=100, d=10)
    coo = X.tocoo()
    # Every entry stored twice, halved: summed, as scipy sums them, into X again.
    doubled = cusparse.coo_matrix((cp.asarray(np.concatenate([coo.data, coo.data]) / 2),
                                   (cp.asarray(np.concatenate([coo.row, coo.row])),
                                    cp.asarray(np.concatenate([coo.col, coo.col])))),
                                  shape=X.shape)
    assert_allclose(Ridge().fit(doubled, y).coef_, Ridge(device="cuda").fit(X, y).coef_,
                    rtol=RTOL_F64)
    bad = cusparse.csr_matrix(X)
    bad.data[3] = cp.nan
    with pytest.raises(ValueError, match="NaN"):
        Ridge().fit(bad, y)
    # device="cpu": copied to the host, computed there, results as NumPy attributes.
    on_cpu = Ridge(device="cpu").fit(cusparse.csr_matrix(X), y)
    assert_allclose(on_cpu.coef_, Ridge(device="cpu").fit(X, y).coef_, rtol=RTOL_F64)
    # An estimator without sparse support refuses it with scikit-learn's TypeError.
    from gpulearn.ensemble import RandomForestRegressor

    with pytest.raises(TypeError, match="[Ss]parse"):
        RandomForestRegressor(n_estimators=2).fit(cusparse.csr_matrix(X), y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_at_prediction_raise_where_the_coefficient_is_zero(cuda, bad):
    """The sparse linear prediction reads X's finiteness from its product (no pass of its own):
    on the device too, a NaN or infinite value in a column whose coefficient is exactly 0 must
    still be refused, and the same X with a finite value predicts as on the CPU."""
    X, y, _ = _data()
    models = [Lasso(alpha=0.5, device=dev).fit(X, y) for dev in ("cpu", "cuda")]
    zero = np.flatnonzero(models[1].coef_ == 0)
    assert zero.size > 0
    X_bad = X.tolil()
    X_bad[5, zero[0]] = bad
    X_bad = X_bad.tocsr()
    for model in models:
        with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
            model.predict(X_bad)
    X_bad[5, zero[0]] = 7.0
    assert_allclose(models[1].predict(X_bad), models[0].predict(X_bad), rtol=RTOL_F64)
