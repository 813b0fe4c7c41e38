"""Benchmark cases of matrix decomposition: PCA with scikit-learn's automatic solver (the
covariance path on tall data; the issue's 1e6 x 1000 float32 in the standard suite), PCA with
the randomized solver, and TruncatedSVD, on low-rank data with noise."""

import numpy as np

from .. import _data
from .._registry import Algorithm, Cost, Quality, Size, register


def _host(array):
    return array.get() if hasattr(array, "get") else np.asarray(array)


def _held_out_variance(model, data, output):
    """The fraction of the held-out rows' variance (about the model's mean) that the
    projection keeps: 1 - |X - X_hat|^2 / |X - mean|^2, with X_hat mapped back from
    ``output``."""
    X = data.X_test.astype(np.float64)
    components = _host(model.components_).astype(np.float64)
    mean = _host(getattr(model, "mean_", np.zeros(X.shape[1]))).astype(np.float64)
    Z = np.asarray(output, dtype=np.float64)
    if getattr(model, "whiten", False):
        Z = Z * np.sqrt(_host(model.explained_variance_).astype(np.float64))
    residual = X - mean - Z @ components
    return 1.0 - float(np.einsum("ij,ij->", residual, residual)) / float(
        np.einsum("ij,ij->", X - mean, X - mean))


_KEPT = Quality(
    name="variance kept",
    score=_held_out_variance,
    # The same subspace keeps the same variance to ~1e-6; a wrong component loses percents.
    tolerance=1e-4,
)

_COVARIANCE_SIZES = {
    "quick": [Size(200_000, 100, "float32")],
    "standard": [Size(1_000_000, 1000, "float32"), Size(1_000_000, 256, "float64")],
    "full": [Size(1_000_000, 1000, "float32"), Size(1_000_000, 256, "float64"),
             Size(4_000_000, 1000, "float32")],
}

_RANDOMIZED_SIZES = {
    "quick": [Size(50_000, 400, "float32")],
    "standard": [Size(1_000_000, 1000, "float32")],
    "full": [Size(1_000_000, 1000, "float32"), Size(200_000, 10_000, "float32")],
}

_N_COMPONENTS = 32


def _transform_cost(size, k, s):
    m, d = size.n_test, size.cols
    return Cost(bytes=m * (d + k) * s, flops=2 * m * d * k, transfer_bytes=m * (d + k) * s)


def _covariance_cost(phase, size, params, model):
    """A covariance fit reads X twice (the mean, then the Gram matrix by SYRK, n d^2 FLOPs) and
    eigensolves d x d (~4 d^3 FLOPs: tridiagonal reduction and back-transformation)."""
    s = 4 if size.dtype == "float32" else 8
    n, d = size.rows, size.cols
    k = int(params.get("n_components", _N_COMPONENTS))
    if phase != "fit":
        return _transform_cost(size, k, s)
    return Cost(bytes=2 * n * d * s, flops=n * d * d + 4 * d ** 3, transfer_bytes=n * d * s)


def _randomized_passes(size, params):
    """Passes over X that compute Xc^T (Xc Z) (4 n d l FLOPs each): the power iterations plus
    one (two for wide data)."""
    k = int(params.get("n_components", _N_COMPONENTS))
    q = params.get("iterated_power", params.get("n_iter", "auto"))
    if q == "auto":
        q = 7 if k < 0.1 * min(size.rows, size.cols) else 4
    return int(q) + (2 if size.rows < size.cols else 1)


def _randomized_cost(phase, size, params, model):
    """A randomized fit reads X once for the mean and once per product pass (4 n d l FLOPs,
    l = n_components + n_oversamples); TruncatedSVD adds a variance pass (4 n d k)."""
    s = 4 if size.dtype == "float32" else 8
    n, d = size.rows, size.cols
    k = int(params.get("n_components", _N_COMPONENTS))
    if phase != "fit":
        return _transform_cost(size, k, s)
    l_ = k + int(params.get("n_oversamples", 10))
    passes = _randomized_passes(size, params)
    extra = 4 * n * d * k if "n_iter" in params else 0
    return Cost(bytes=(passes + 2) * n * d * s, flops=4 * n * d * l_ * passes + extra,
                transfer_bytes=n * d * s)


class CovarianceBaseline:
    """What a user would write in an array library: centre, X^T X, eigh, keep the largest.
    ``xp`` is NumPy or CuPy."""

    def __init__(self, xp, n_components=_N_COMPONENTS, **ignored):
        self.xp, self.n_components = xp, n_components

    def fit(self, X, y=None):
        xp = self.xp
        X = xp.asarray(X)
        self.mean_ = X.mean(axis=0)
        Xc = X - self.mean_
        _, vectors = xp.linalg.eigh(Xc.T @ Xc)
        self.components_ = vectors[:, ::-1][:, :self.n_components].T
        return self

    def transform(self, X):
        return (self.xp.asarray(X) - self.mean_) @ self.components_.T


class TorchLowRankBaseline:
    """PyTorch's randomized PCA, torch.pca_lowrank (centred), on CUDA tensors."""

    def __init__(self, n_components=_N_COMPONENTS, iterated_power="auto", device="cuda",
                 **ignored):
        self.n_components, self.device = n_components, device
        self.niter = 4 if iterated_power == "auto" else int(iterated_power)

    def fit(self, X, y=None):
        import torch

        X = torch.as_tensor(X, device=self.device)
        self.mean_ = X.mean(dim=0)
        _, _, V = torch.pca_lowrank(X, q=self.n_components + 10, center=True, niter=self.niter)
        self.components_ = V[:, :self.n_components].T
        return self

    def transform(self, X):
        import torch

        return (torch.as_tensor(X, device=self.device) - self.mean_) @ self.components_.T


_DATA = dict(data=lambda size, seed: _data.low_rank(size, seed, rank=64), data_key="low_rank64")

register(Algorithm(
    name="pca",
    estimator="PCA",
    gpulearn="gpulearn.decomposition.PCA",
    sklearn="sklearn.decomposition.PCA",
    quality=_KEPT,
    sizes=_COVARIANCE_SIZES,
    params={"n_components": _N_COMPONENTS},
    method="transform",
    peers={"sklearnex": "sklearnex.decomposition.PCA", "cuml": "cuml.decomposition.PCA"},
    baseline=lambda xp, params: CovarianceBaseline(xp, **params),
    cost=_covariance_cost,
    **_DATA,
))

register(Algorithm(
    name="pca_randomized",
    estimator="PCA",
    gpulearn="gpulearn.decomposition.PCA",
    sklearn="sklearn.decomposition.PCA",
    quality=_KEPT,
    sizes=_RANDOMIZED_SIZES,
    params={"n_components": _N_COMPONENTS, "svd_solver": "randomized", "random_state": 0},
    method="transform",
    peers={"cuml": "cuml.decomposition.PCA"},
    torch_baseline=lambda params: TorchLowRankBaseline(**params),
    cost=_randomized_cost,
    **_DATA,
))

register(Algorithm(
    name="truncated_svd",
    estimator="TruncatedSVD",
    gpulearn="gpulearn.decomposition.TruncatedSVD",
    sklearn="sklearn.decomposition.TruncatedSVD",
    quality=_KEPT,
    sizes=_RANDOMIZED_SIZES,
    params={"n_components": _N_COMPONENTS, "n_iter": 5, "random_state": 0},
    method="transform",
    peers={"cuml": "cuml.decomposition.TruncatedSVD"},
    cost=_randomized_cost,
    **_DATA,
))
