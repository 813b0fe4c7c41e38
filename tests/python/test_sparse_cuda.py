"""Sparse input on the CUDA backend, against the CPU backend on the same sparse matrix.

Every test is marked ``cuda`` (run on the CUDA emulator in CI, on a GPU where one is present).
Each estimator on sparse input either computes on the device and gives the CPU's model within
the CUDA equivalence tolerances (test_cuda_equivalence.py), or refuses with NotImplementedError
saying that sparse input is not supported on CUDA devices yet; never a crash or another answer.
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
