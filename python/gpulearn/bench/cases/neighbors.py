"""Benchmark cases of nearest neighbours: NearestNeighbors.kneighbors (the issue's 1e6 x 128
float32 index, 1e4 queries, k=10 in the standard suite), KNeighborsClassifier and
KNeighborsRegressor, all exact brute force."""

import numpy as np
from sklearn.metrics import accuracy_score, r2_score

from .. import _data
from .._registry import Algorithm, Cost, Quality, Size, register

# Queries whose exact neighbours are recomputed for the recall (in float64, on the host).
_RECALL_QUERIES = 100
# Ground truths by dataset: data objects live for one size's runs, so the cache holds them
# (keeping their ids valid) and is cleared when another arrives.
_TRUTH = {}


def _exact_kth_distances(X, Q, k):
    """The k-th smallest squared Euclidean distance of each query, in float64, index chunked."""
    X = X.astype(np.float64)
    Q = Q.astype(np.float64)
    q2 = np.einsum("ij,ij->i", Q, Q)
    best = np.full((Q.shape[0], 0), np.inf)
    for start in range(0, X.shape[0], 65536):
        chunk = X[start:start + 65536]
        d = q2[:, None] - 2.0 * Q @ chunk.T + np.einsum("ij,ij->i", chunk, chunk)[None, :]
        best = np.partition(np.concatenate([best, d], axis=1), k - 1, axis=1)[:, :k]
    return np.sort(best, axis=1)[:, k - 1]


def _recall(model, data, output):
    """The fraction of returned neighbours (first _RECALL_QUERIES queries) that are true k
    nearest: no farther than the exact k-th distance (a tie at the k-th counts as right)."""
    indices = np.asarray(output[1] if isinstance(output, tuple) else output)
    m, k = min(_RECALL_QUERIES, indices.shape[0]), indices.shape[1]
    key = (id(data), k)
    if key not in _TRUTH:
        _TRUTH.clear()
        _TRUTH[key] = (data, _exact_kth_distances(data.X_train, data.X_test[:m], k))
    kth = _TRUTH[key][1]
    Q = data.X_test[:m].astype(np.float64)
    got = data.X_train[indices[:m]].astype(np.float64) - Q[:, None, :]
    dist = np.einsum("ijl,ijl->ij", got, got)
    return float(np.mean(dist <= kth[:, None] * (1 + 1e-6) + 1e-12))


_RECALL = Quality(
    name="recall",
    score=_recall,
    # Exact search: recall is 1.0; one missed neighbour in the 1,000 checked is a bug.
    tolerance=1e-4,
)

_ACCURACY = Quality(
    name="accuracy",
    score=lambda model, data, output: float(accuracy_score(data.y_test, output)),
    # The same neighbours give the same votes; float32 rounding may flip a query whose k-th
    # and (k+1)-th neighbours tie to ~1e-7, a few in 10,000 at most.
    tolerance=1e-3,
)

_R2 = Quality(
    name="R^2",
    score=lambda model, data, output: float(r2_score(data.y_test, output)),
    tolerance=1e-4,
)

_KNN_SIZES = {
    "quick": [Size(20_000, 32, "float32", test_rows=2_000)],
    "standard": [Size(1_000_000, 128, "float32", test_rows=10_000)],
    "full": [Size(1_000_000, 128, "float32", test_rows=10_000),
             Size(1_000_000, 128, "float64", test_rows=10_000),
             Size(4_000_000, 128, "float32", test_rows=10_000)],
}

_VOTE_SIZES = {
    "quick": [Size(20_000, 32, "float32", test_rows=2_000)],
    "standard": [Size(1_000_000, 64, "float32", test_rows=10_000)],
    "full": [Size(1_000_000, 64, "float32", test_rows=10_000),
             Size(1_000_000, 64, "float64", test_rows=10_000)],
}


def _cost(phase, size, params, model):
    """Fit keeps X after a validation pass over it (one finiteness test per entry). A search reads the index and the queries once
    (tiles are reused from cache) and does 2 m n d FLOPs of distances; with host data, the
    index and the queries cross to the device and the m x k results come back."""
    s = 4 if size.dtype == "float32" else 8
    n, d, m = size.rows, size.cols, size.n_test
    k = int(params.get("n_neighbors", 5))
    if phase == "fit":
        return Cost(bytes=n * d * s, flops=n * d, transfer_bytes=0)
    moved = (n * d + m * d) * s + m * k * (s + 8)
    return Cost(bytes=moved, flops=2 * m * n * d, transfer_bytes=moved)


class BruteForceBaseline:
    """What a user would write in an array library: |q|^2 - 2 q.x + |x|^2 per chunk of queries,
    argpartition for the k smallest, then a sort of those. ``xp`` is NumPy or CuPy."""

    _IGNORED = {"algorithm", "leaf_size", "n_jobs"}

    def __init__(self, xp, n_neighbors=5, metric="minkowski", p=2, **ignored):
        unknown = sorted(set(ignored) - self._IGNORED)
        if unknown or metric not in ("minkowski", "euclidean") or p != 2:
            raise NotImplementedError("the brute-force baseline is Euclidean only, without "
                                      f"{', '.join(unknown) or 'metric=' + str(metric)}")
        self.xp, self.n_neighbors = xp, n_neighbors

    def fit(self, X, y=None):
        self.X_ = self.xp.asarray(X)
        self.x2_ = (self.X_ * self.X_).sum(axis=1)
        return self

    def kneighbors(self, Q):
        xp, k = self.xp, self.n_neighbors
        Q = xp.asarray(Q)
        rows = max(1, (1 << 27) // self.X_.shape[0])  # a chunk's distances: 512 MiB in float32
        dists, inds = [], []
        for start in range(0, Q.shape[0], rows):
            q = Q[start:start + rows]
            d = (q * q).sum(axis=1)[:, None] - 2 * q @ self.X_.T + self.x2_[None, :]
            ind = xp.argpartition(d, k - 1, axis=1)[:, :k]
            part = xp.take_along_axis(d, ind, axis=1)
            order = xp.argsort(part, axis=1)
            dists.append(xp.sqrt(xp.maximum(xp.take_along_axis(part, order, axis=1), 0)))
            inds.append(xp.take_along_axis(ind, order, axis=1))
        return xp.concatenate(dists), xp.concatenate(inds)


class TorchCdistBaseline:
    """The PyTorch one-liner, chunked over queries so the distance block fits: torch.cdist,
    then topk. Inputs (NumPy or CuPy) become CUDA tensors (CuPy's without a copy)."""

    def __init__(self, n_neighbors=5, device="cuda", **ignored):
        self.n_neighbors, self.device = n_neighbors, device

    def _tensor(self, a):
        import torch

        return torch.as_tensor(a, device=self.device)

    def fit(self, X, y=None):
        self.X_ = self._tensor(X)
        return self

    def kneighbors(self, Q):
        import torch

        Q = self._tensor(Q)
        rows = max(1, (1 << 27) // self.X_.shape[0])
        parts = [torch.cdist(Q[s:s + rows], self.X_).topk(self.n_neighbors, largest=False)
                 for s in range(0, Q.shape[0], rows)]
        return (torch.cat([p.values for p in parts]), torch.cat([p.indices for p in parts]))


register(Algorithm(
    name="nearest_neighbors",
    estimator="NearestNeighbors",
    gpulearn="gpulearn.neighbors.NearestNeighbors",
    sklearn="sklearn.neighbors.NearestNeighbors",
    data=_data.blobs,
    data_key="blobs",
    quality=_RECALL,
    sizes=_KNN_SIZES,
    params={"n_neighbors": 10, "algorithm": "brute"},
    method="kneighbors",
    peers={"sklearnex": "sklearnex.neighbors.NearestNeighbors",
           "cuml": "cuml.neighbors.NearestNeighbors"},
    baseline=lambda xp, params: BruteForceBaseline(xp, **params),
    torch_baseline=lambda params: TorchCdistBaseline(**params),
    cost=_cost,
))

register(Algorithm(
    name="kneighbors_classifier",
    estimator="KNeighborsClassifier",
    gpulearn="gpulearn.neighbors.KNeighborsClassifier",
    sklearn="sklearn.neighbors.KNeighborsClassifier",
    data=lambda size, seed: _data.classification(size, seed, n_classes=4, n_informative=8),
    data_key="classification4",
    quality=_ACCURACY,
    sizes=_VOTE_SIZES,
    params={"n_neighbors": 10, "algorithm": "brute"},
    peers={"sklearnex": "sklearnex.neighbors.KNeighborsClassifier",
           "cuml": "cuml.neighbors.KNeighborsClassifier"},
    cost=_cost,
))

register(Algorithm(
    name="kneighbors_regressor",
    estimator="KNeighborsRegressor",
    gpulearn="gpulearn.neighbors.KNeighborsRegressor",
    sklearn="sklearn.neighbors.KNeighborsRegressor",
    data=lambda size, seed: _data.regression(size, seed, n_informative=8),
    data_key="regression8",
    quality=_R2,
    sizes=_VOTE_SIZES,
    params={"n_neighbors": 10, "weights": "distance", "algorithm": "brute"},
    peers={"sklearnex": "sklearnex.neighbors.KNeighborsRegressor",
           "cuml": "cuml.neighbors.KNeighborsRegressor"},
    cost=_cost,
))
