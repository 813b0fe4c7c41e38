"""Benchmark cases on sparse input (issue 21): TF-IDF-like data (``_data.tfidf``, scipy CSR,
0.1% dense, at least 5 terms per document) for LogisticRegression, Ridge and Lasso (on a planted
linear target), TruncatedSVD with 100 components, PCA (arpack, implicit centring), KMeans (k=100) directly on the sparse matrix and on an LSA projection (the TF-IDF of
a 1000 x cols vocabulary projected on its first cols right singular vectors: the size's columns
are the projection's), and cosine nearest neighbours (k=10). The full suite holds the issue's
size, 1e6 x 1e5; every floor is the bytes of the nonzeros (values and int32 column indices) that
a pass must read over the bandwidth, or the FLOPs over the peak.
"""

import numpy as np

from .. import _data
from .._registry import Algorithm, Cost, Quality, Size, register
from .linear_model import _ENET_OBJECTIVE, _LOGISTIC_OBJECTIVE

DENSITY = 0.001
MIN_TERMS = 5  # per document, on average: narrow sizes get denser rows

_SIZES = {
    "quick": [Size(10_000, 2_000, "float64", test_rows=1_000)],
    "standard": [Size(1_000_000, 20_000, "float64", test_rows=10_000)],
    "full": [Size(1_000_000, 100_000, "float64", test_rows=10_000),
             Size(1_000_000, 100_000, "float32", test_rows=10_000)],
}

_LSA_SIZES = {
    "quick": [Size(10_000, 20, "float64", test_rows=1_000)],
    "standard": [Size(1_000_000, 20, "float64", test_rows=10_000)],
    "full": [Size(1_000_000, 100, "float64", test_rows=10_000),
             Size(1_000_000, 100, "float32", test_rows=10_000)],
}


def density(cols):
    return max(DENSITY, MIN_TERMS / cols)


def _host(array):
    return array.get() if hasattr(array, "get") else np.asarray(array)


def _nnz(size, rows=None):
    return max(1, int((size.rows if rows is None else rows) * size.cols * density(size.cols)))


def _csr_bytes(size, rows=None):
    """Bytes of a CSR pass: the values, the int32 column indices and the int64 row offsets."""
    s = 4 if size.dtype == "float32" else 8
    rows = size.rows if rows is None else rows
    return _nnz(size, rows) * (s + 4) + (rows + 1) * 8


def _held_out_pass(size, outputs):
    """One pass over the held-out rows' nonzeros (predict, transform): 2 nnz FLOPs per output
    column."""
    m = size.n_test
    return Cost(bytes=_csr_bytes(size, m), flops=2 * _nnz(size, m) * outputs,
                transfer_bytes=_csr_bytes(size, m))


def _tfidf(size, seed):
    return _data.tfidf(size, seed, density=density(size.cols))


def _lsa(size, seed):
    """The TF-IDF rows of a 1000 x cols vocabulary projected on their first cols right singular
    vectors (scikit-learn's randomized TruncatedSVD, seed 0), in the size's dtype: the dense
    n x cols input of KMeans in an LSA pipeline."""
    import dataclasses

    from sklearn.decomposition import TruncatedSVD

    vocabulary = dataclasses.replace(size, cols=1000 * size.cols, dtype="float64")
    data = _tfidf(vocabulary, seed)
    svd = TruncatedSVD(n_components=size.cols, random_state=0).fit(data.X_train)
    return _data.Data(svd.transform(data.X_train).astype(size.dtype), data.y_train,
                      svd.transform(data.X_test).astype(size.dtype), data.y_test)


# ---- LogisticRegression ----

def _logistic_cost(phase, size, params, model):
    """Fit: each loss and gradient reads the nonzeros twice (X w, then X^T r), 4 nnz FLOPs;
    at least n_iter_ + 1 evaluations. predict_proba reads the held-out rows once."""
    if phase == "fit":
        evals = int(np.max(getattr(model, "n_iter_", [1]))) + 1
        return Cost(bytes=2 * evals * _csr_bytes(size), flops=4 * evals * _nnz(size),
                    transfer_bytes=_csr_bytes(size))
    return _held_out_pass(size, 1)


register(Algorithm(
    name="sparse_logistic_regression",
    estimator="LogisticRegression",
    gpulearn="gpulearn.linear_model.LogisticRegression",
    sklearn="sklearn.linear_model.LogisticRegression",
    data=_tfidf,
    data_key="tfidf",
    quality=_LOGISTIC_OBJECTIVE,
    sizes=_SIZES,
    # tol=1e-6 for both libraries: at the default 1e-4 both stop once the largest gradient
    # component is 1e-4, which on unit-norm TF-IDF rows leaves their objectives up to ~1e-3
    # apart (either side; the stopping points of two L-BFGS runs differ), so the objective would
    # compare stopping points, not solutions.
    params={"C": 10.0, "max_iter": 1000, "tol": 1e-6},
    method="predict_proba",
    peers={"sklearnex": "sklearnex.linear_model.LogisticRegression",
           "cuml": "cuml.linear_model.LogisticRegression"},
    cost=_logistic_cost,
))


# ---- Ridge and Lasso, on a planted linear target ----

def _tfidf_regression(size, seed):
    """The TF-IDF rows with a continuous target: y = X w + noise, w nonzero on a tenth of the
    terms (the same w for the training and held-out rows)."""
    data = _data.tfidf(size, seed, density=density(size.cols), n_classes=0)
    rng = np.random.default_rng(seed + 1)
    w = np.where(rng.random(size.cols) < 0.1, rng.standard_normal(size.cols), 0.0)

    def target(X):
        return X.astype(np.float64) @ w + 0.01 * rng.standard_normal(X.shape[0])

    return _data.Data(data.X_train, target(data.X_train), data.X_test, target(data.X_test))


def _ridge_objective(model, data, output):
    """scikit-learn's ridge objective at the fitted model, on the training rows: |y - X w - b|^2
    + alpha |w|^2, in float64."""
    X, y = data.X_train, np.asarray(data.y_train, dtype=np.float64)
    coef = np.asarray(_host(model.coef_), dtype=np.float64)
    r = y - X @ coef - float(np.asarray(_host(model.intercept_)))
    return float(r @ r + model.alpha * coef @ coef)


# scikit-learn's sparse_cg (its solver for sparse X with an intercept) stops at a residual of
# tol = 1e-4 relative; the objectives of two such stopping points differ by up to ~1e-6 of it.
_RIDGE_OBJECTIVE = Quality(name="objective", score=_ridge_objective, tolerance=1e-5,
                           higher_is_better=False, relative=True)


def _linear_cost(passes_of):
    def cost(phase, size, params, model):
        """Each pass over the nonzeros reads them once (2 nnz FLOPs): Ridge's Gram or CG
        passes, Lasso's coordinate sweeps (n_iter_). predict: one pass over the held-out
        rows."""
        if phase == "fit":
            passes = passes_of(size, model)
            return Cost(bytes=passes * _csr_bytes(size), flops=2 * passes * _nnz(size),
                        transfer_bytes=_csr_bytes(size))
        return _held_out_pass(size, 1)

    return cost


def _ridge_passes(size, model):
    # Up to 4096 features the Gram X^T X (one pass); beyond, conjugate gradient (n_iter_ + 1
    # passes of X and X^T, where the fit reports them).
    iters = np.max(np.atleast_1d(getattr(model, "n_iter_", None) or 1))
    return 1 if size.cols <= 4096 else 2 * (int(iters) + 1)


for _name, _estimator, _params, _quality, _passes in [
        ("sparse_ridge", "Ridge", {"alpha": 1.0}, _RIDGE_OBJECTIVE, _ridge_passes),
        ("sparse_lasso", "Lasso", {"alpha": 1e-5}, _ENET_OBJECTIVE,
         lambda size, model: int(getattr(model, "n_iter_", 1)))]:
    register(Algorithm(
        name=_name,
        estimator=_estimator,
        gpulearn=f"gpulearn.linear_model.{_estimator}",
        sklearn=f"sklearn.linear_model.{_estimator}",
        data=_tfidf_regression,
        data_key="tfidf_regression",
        quality=_quality,
        sizes=_SIZES,
        params=_params,
        peers={"sklearnex": f"sklearnex.linear_model.{_estimator}",
               "cuml": f"cuml.linear_model.{_estimator}"},
        cost=_linear_cost(_passes),
    ))


# ---- TruncatedSVD ----

_N_COMPONENTS = 100


def _kept(model, data, output):
    """The fraction of the held-out rows' squared norm that the projection keeps (TF-IDF rows
    have norm 1, so this is the mean kept energy per document)."""
    Z = np.asarray(output, dtype=np.float64)
    X = data.X_test
    return float(np.einsum("ij,ij->", Z, Z) / X.multiply(X).sum())


_KEPT = Quality(
    name="energy kept",
    score=_kept,
    # The same subspace keeps the same energy to ~1e-6; a wrong component loses percents. The
    # randomized range finder of another random stream lands within ~1e-4 of it.
    tolerance=1e-3,
)


def _svd_cost(phase, size, params, model):
    """Randomized: 2 (n_iter + 1) + 1 passes over the nonzeros, each 2 nnz l FLOPs with
    l = n_components + n_oversamples. transform: one pass over the held-out nonzeros."""
    k = int(params.get("n_components", _N_COMPONENTS))
    if phase == "fit":
        l = k + int(params.get("n_oversamples", 10))
        passes = 2 * (int(params.get("n_iter", 5)) + 1) + 1
        return Cost(bytes=passes * _csr_bytes(size), flops=passes * 2 * _nnz(size) * l,
                    transfer_bytes=_csr_bytes(size))
    return _held_out_pass(size, k)


register(Algorithm(
    name="sparse_truncated_svd",
    estimator="TruncatedSVD",
    gpulearn="gpulearn.decomposition.TruncatedSVD",
    sklearn="sklearn.decomposition.TruncatedSVD",
    data=_tfidf,
    data_key="tfidf",
    quality=_KEPT,
    sizes=_SIZES,
    params={"n_components": _N_COMPONENTS, "random_state": 0},
    method="transform",
    peers={"sklearnex": "sklearnex.decomposition.TruncatedSVD",
           "cuml": "cuml.decomposition.TruncatedSVD"},
    cost=_svd_cost,
))


# ---- PCA on sparse input (arpack, the mean subtracted implicitly) ----

_PCA_COMPONENTS = 10


def _pca_kept(model, data, output):
    """The fraction of the held-out rows' variance about the model's mean that the projection
    keeps, without densifying them: with orthonormal components, |Z|^2 / |X - mean|^2, where
    |X - mean|^2 = |X|^2 - 2 sum(X mean) + m |mean|^2."""
    X = data.X_test.astype(np.float64)
    mean = np.asarray(_host(model.mean_), dtype=np.float64)
    Z = np.asarray(_host(output), dtype=np.float64)
    total = X.multiply(X).sum() - 2 * float((X @ mean).sum()) + X.shape[0] * float(mean @ mean)
    return float(np.einsum("ij,ij->", Z, Z) / total)


def _pca_cost(phase, size, params, model):
    """arpack's Lanczos passes are not reported: the floor counts the least any solver needs,
    one pass for the mean and one product with X and one with X^T per component (4 nnz FLOPs).
    transform: one pass over the held-out nonzeros, 2 nnz k FLOPs."""
    k = int(params.get("n_components", _PCA_COMPONENTS))
    if phase == "fit":
        return Cost(bytes=(1 + 2 * k) * _csr_bytes(size), flops=4 * k * _nnz(size),
                    transfer_bytes=_csr_bytes(size))
    return _held_out_pass(size, k)


register(Algorithm(
    name="sparse_pca",
    estimator="PCA",
    gpulearn="gpulearn.decomposition.PCA",
    sklearn="sklearn.decomposition.PCA",
    data=_tfidf,
    data_key="tfidf",
    # The same subspace keeps the same variance to ~1e-6; a wrong component loses percents.
    quality=Quality(name="variance kept", score=_pca_kept, tolerance=1e-4),
    sizes=_SIZES,
    params={"n_components": _PCA_COMPONENTS, "svd_solver": "arpack", "random_state": 0},
    method="transform",
    peers={"sklearnex": "sklearnex.decomposition.PCA", "cuml": "cuml.decomposition.PCA"},
    cost=_pca_cost,
))


# ---- KMeans, on the sparse rows and on their LSA projection ----

def _inertia(model, data, labels):
    """Held-out inertia: sum of |x - c_label|^2 = |x|^2 - 2 x.c + |c|^2, x sparse or dense."""
    centers = _host(model.cluster_centers_).astype(np.float64)
    labels = np.asarray(labels).astype(np.int64)
    X = data.X_test
    x2 = np.asarray(X.multiply(X).sum(axis=1)).ravel() if hasattr(X, "multiply") else \
        np.einsum("ij,ij->i", X.astype(np.float64), X.astype(np.float64))
    xc = np.asarray((X @ centers.T))[np.arange(len(labels)), labels]
    c2 = np.einsum("ij,ij->i", centers, centers)[labels]
    return float(np.sum(x2 - 2 * xc + c2))


_INERTIA = Quality(
    name="inertia",
    score=_inertia,
    # k-means++ from another random stream lands in another local optimum: on TF-IDF data the
    # optima differ by up to ~2% (cluster.py's 1% is for blobs); more means a broken fit.
    tolerance=0.02,
    higher_is_better=False,
    relative=True,
)

_K = 100


def _kmeans_cost(sparse_input):
    def cost(phase, size, params, model):
        """A Lloyd pass reads the data once and does 2 nnz k FLOPs (sparse) or 2 n d k (the
        dense projection); a fit is n_iter_ + 3 passes plus k-means++'s k (2 + ln k)
        candidate distances. predict: one pass over the held-out rows."""
        k = int(params.get("n_clusters", _K))
        s = 4 if size.dtype == "float32" else 8
        rows = size.rows if phase == "fit" else size.n_test
        if sparse_input:
            one, flops_one = _csr_bytes(size, rows), 2 * _nnz(size, rows) * k
        else:
            one, flops_one = rows * size.cols * s, 2 * rows * size.cols * k
        if phase != "fit":
            return Cost(bytes=one, flops=flops_one, transfer_bytes=one)
        passes = int(getattr(model, "n_iter_", 1)) + 3
        init = (2 + int(np.log(k)))
        return Cost(bytes=one * passes, flops=flops_one * (passes + init), transfer_bytes=one)

    return cost


for _name, _data_fn, _key, _sparse, _sizes in [
        ("sparse_kmeans", _tfidf, "tfidf", True, _SIZES),
        ("lsa_kmeans", _lsa, "tfidf_lsa", False, _LSA_SIZES)]:
    register(Algorithm(
        name=_name,
        estimator="KMeans",
        gpulearn="gpulearn.cluster.KMeans",
        sklearn="sklearn.cluster.KMeans",
        data=_data_fn,
        data_key=_key,
        quality=_INERTIA,
        sizes=_sizes,
        params={"n_clusters": _K, "n_init": 1, "random_state": 0},
        peers={"sklearnex": "sklearnex.cluster.KMeans", "cuml": "cuml.cluster.KMeans"},
        cost=_kmeans_cost(_sparse),
    ))


# ---- Cosine nearest neighbours ----

_RECALL_QUERIES = 100


def _cosine_recall(model, data, output):
    """The fraction of returned neighbours (first _RECALL_QUERIES queries) no farther, in
    cosine distance, than the exact k-th (computed here in float64; a tie counts as right)."""
    indices = np.asarray(output[1] if isinstance(output, tuple) else output)
    m, k = min(_RECALL_QUERIES, indices.shape[0]), indices.shape[1]

    def unit(A):
        A = A.astype(np.float64)
        norms = np.sqrt(np.asarray(A.multiply(A).sum(axis=1)).ravel())
        return A.multiply(1.0 / np.where(norms > 0, norms, 1.0)[:, None]).tocsr()

    Q, X = unit(data.X_test[:m]), unit(data.X_train)
    dist = 1.0 - np.asarray((Q @ X.T).todense())
    kth = np.sort(dist, axis=1)[:, k - 1]
    got = np.take_along_axis(dist, indices[:m].astype(np.int64), axis=1)
    return float(np.mean(got <= kth[:, None] + 1e-9))


_RECALL = Quality(name="recall", score=_cosine_recall, tolerance=1e-4)


def _knn_cost(phase, size, params, model):
    """Fit keeps the index after a pass over its values. A search reads the index and the
    queries at least once and does 2 nnz(index) FLOPs per query (sparse index times dense
    query tiles)."""
    if phase == "fit":
        return Cost(bytes=_csr_bytes(size), flops=_nnz(size), transfer_bytes=0)
    m = size.n_test
    moved = _csr_bytes(size) + _csr_bytes(size, m)
    return Cost(bytes=moved, flops=2 * _nnz(size) * m, transfer_bytes=moved)


register(Algorithm(
    name="sparse_knn_cosine",
    estimator="NearestNeighbors",
    gpulearn="gpulearn.neighbors.NearestNeighbors",
    sklearn="sklearn.neighbors.NearestNeighbors",
    data=_tfidf,
    data_key="tfidf",
    quality=_RECALL,
    sizes=_SIZES,
    params={"n_neighbors": 10, "metric": "cosine", "algorithm": "brute"},
    method="kneighbors",
    peers={"sklearnex": "sklearnex.neighbors.NearestNeighbors",
           "cuml": "cuml.neighbors.NearestNeighbors"},
    cost=_knn_cost,
))
