"""Sparse input on the CUDA backend, against the CPU backend on the same sparse matrix.

Every test is marked ``cuda`` (run on the CUDA emulator in CI, on a GPU where one is present).
Each estimator on sparse input either computes on the device and gives the CPU's model within
the CUDA equivalence tolerances (test_cuda_equivalence.py), or refuses with NotImplementedError
saying that sparse input is not supported on CUDA devices yet; never a crash or another answer.
LogisticRegression and KMeans must compute on the device (their own tests below).
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
from gpulearn.neighbors import NearestNeighbors

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
    ("TruncatedSVD", lambda dev: TruncatedSVD(3, random_state=0, device=dev), None,
     ["singular_values_"]),
    ("PCA", lambda dev: PCA(3, svd_solver="arpack", random_state=0, device=dev), None,
     ["explained_variance_", "mean_"]),
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


def test_sparse_neighbours_on_cuda_match_the_cpu_or_refuse(cuda):
    X, _, _ = _data()
    cpu = NearestNeighbors(n_neighbors=4, device="cpu").fit(X)
    gpu = NearestNeighbors(n_neighbors=4, device="cuda").fit(X)
    expected = cpu.kneighbors(X[:20])
    try:
        got = gpu.kneighbors(X[:20])
    except NotImplementedError as exc:
        assert REFUSAL in str(exc), str(exc)
        return
    np.testing.assert_array_equal(got[1], expected[1])
    assert_allclose(got[0], expected[0], rtol=RTOL_F64)


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


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("params", [{}, {"C": np.inf}, {"l1_ratio": 1.0, "solver": "saga"},
                                    {"l1_ratio": 0.5, "solver": "saga", "C": 0.3}],
                         ids=["l2", "none", "l1", "elasticnet"])
@pytest.mark.parametrize("weighted", [False, True])
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
