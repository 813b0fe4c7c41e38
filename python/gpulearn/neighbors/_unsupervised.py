"""gpulearn.neighbors.NearestNeighbors: scikit-learn's NearestNeighbors on the GPU or the CPU."""

from sklearn.base import BaseEstimator

from ._base import _PARAMETER_CONSTRAINTS, NeighborsBase


class NearestNeighbors(NeighborsBase, BaseEstimator):
    """Unsupervised learner for neighbour searches, a drop-in replacement for
    :class:`sklearn.neighbors.NearestNeighbors`.

    Exact brute force on the GPU (CUDA) or the CPU: distances by a GEMM for the Euclidean
    family, cosine and inner product (others by a direct kernel), tiled over queries and index,
    with a top-k selection merged across tiles. The returned neighbours' distances are then
    recomputed directly in double, and ties go to the smaller index.

    Parameters
    ----------
    n_neighbors : int, default=5
    radius : float, default=1.0
        Default radius of :meth:`radius_neighbors`.
    algorithm : {"auto", "ball_tree", "kd_tree", "brute"}, default="auto"
        Accepted for compatibility; gpulearn always runs exact brute force, which gives the
        same neighbours (on a GPU it is the fastest exact method).
    leaf_size : int, default=30
        Accepted for compatibility; unused.
    metric : str, default="minkowski"
        "minkowski" (with ``p``), "euclidean"/"l2", "sqeuclidean", "manhattan"/"l1"/
        "cityblock", "chebyshev"/"infinity", "cosine", and gpulearn's "inner_product" (a
        similarity: the largest inner products are the neighbours, returned largest first; not
        for radius queries). Callables and other metrics raise NotImplementedError.
    p : float, default=2
        Minkowski's power, > 0 (below 1 it is not a metric; scikit-learn warns, so do we);
        1 is manhattan, 2 euclidean, infinity chebyshev.
    metric_params : dict, default=None
        Only ``{"p": value}`` is supported.
    n_jobs : int, default=None
        Accepted for compatibility; the CPU backend uses every core.
    device : str, default="auto"
        "auto", "cpu", "cuda" or "cuda:N" (see :func:`gpulearn.set_config`).

    Attributes
    ----------
    effective_metric_ : str
    effective_metric_params_ : dict
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_samples_fit_ : int

    Notes
    -----
    Conversion (all three neighbours estimators): the fitted attributes are scikit-learn's,
    copied as they are, but for the search structure. ``as_sklearn`` (and gpulearn.accel)
    gives scikit-learn's state of ``algorithm="brute"`` (``_fit_method="brute"``,
    ``_tree=None``) where ``algorithm`` is "auto" or "brute": the same exact neighbours,
    without building a tree; for "kd_tree" and "ball_tree", the tree scikit-learn's fit builds
    (built on the host after the fit; ValueError where scikit-learn's fit would refuse the
    metric for that tree). A GPU index is copied to the host. ``as_sklearn`` refuses gpulearn's
    metric "inner_product". ``from_sklearn`` ignores scikit-learn's tree (gpulearn searches by
    brute force, exactly) and refuses (NotImplementedError) callable or DistanceMetric
    metrics, "precomputed", metrics gpulearn does not compute and metric_params other than
    "p"; integer training data are converted to float64 (a copy), as scikit-learn computes
    them; sparse training data stay sparse.

    Sparse input (scipy.sparse CSR, CSC, COO, matrices or arrays; docs/sparse.md): the
    training data, the queries or both may be sparse, on the CPU. A sparse fit keeps a CSR
    copy as ``_fit_X`` (never densified) and takes scikit-learn's sparse metrics ("euclidean",
    "manhattan", "cosine" and their aliases, minkowski with p = 1 or 2) plus "inner_product";
    others raise scikit-learn's ValueError. Queries are made dense a tile at a time (at most
    8 MiB), and a sparse index's products with a tile take at most 64 MiB; the neighbours and
    distances are those of the dense search of the same data.

    ``kneighbors`` of a converted model gives the same indices (away from exact ties, which
    go to the smaller index here) and distances within 1e-9 relative in float64 (plus 1e-7
    absolute for a query equal to an indexed row, where scikit-learn's Euclidean distance is
    a cancellation residue), 1e-5 relative in float32.
    """

    _sklearn_estimator = "sklearn.neighbors.NearestNeighbors"

    _parameter_constraints = dict(_PARAMETER_CONSTRAINTS)

    def __init__(self, *, n_neighbors=5, radius=1.0, algorithm="auto", leaf_size=30,
                 metric="minkowski", p=2, metric_params=None, n_jobs=None, device="auto"):
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.device = device

    def fit(self, X, y=None):
        """Keep X as the index.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            NumPy, pandas, CuPy, PyTorch or any DLPack array, or scipy.sparse (kept as CSR).
            float32 stays float32; other numeric types become float64. GPU data stay on
            their GPU.
        y : Ignored

        Returns
        -------
        self : object
        """
        self._fit_index(X)
        return self
