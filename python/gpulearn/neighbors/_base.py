"""What the neighbours estimators share: fitting the index, kneighbors, radius_neighbors and
their graphs, over the compiled brute-force search (gpulearn/neighbors/nearest_neighbors.hpp).
"""

import numbers
import warnings

import numpy as np
from scipy.sparse import csr_matrix, issparse
from sklearn.metrics import DistanceMetric
from sklearn.neighbors import BallTree, KDTree
from sklearn.neighbors import VALID_METRICS_SPARSE
from sklearn.neighbors import NearestNeighbors as _SkNearestNeighbors
from sklearn.utils.validation import check_is_fitted

from .. import _arrays, _core, _sparse
from .._base import DeviceEstimatorMixin, Prepared
from .._config import check_device_string

# scikit-learn's names (and aliases) of the metrics gpulearn computes, to the core's names.
_METRICS = {
    "minkowski": "minkowski",
    "euclidean": "euclidean",
    "l2": "euclidean",
    "sqeuclidean": "sqeuclidean",
    "manhattan": "manhattan",
    "l1": "manhattan",
    "cityblock": "manhattan",
    "chebyshev": "chebyshev",
    "infinity": "chebyshev",
    "cosine": "cosine",
    "inner_product": "inner_product",
}

# scikit-learn's trees, by the ``algorithm`` that asks for them.
_TREES = {"kd_tree": KDTree, "ball_tree": BallTree}

_PARAMETER_CONSTRAINTS = {
    **_SkNearestNeighbors._parameter_constraints,
    # Any name passes here; _resolved_metric says which gpulearn computes (inner_product is
    # gpulearn's own, so scikit-learn's list of names cannot serve).
    "metric": [str, callable, DistanceMetric],
    "device": [str],
}


def _get_weights(dist, weights):
    """The neighbours' weights for ``weights`` ("uniform": None), scikit-learn's rule: under
    "distance", a query at distance 0 from some neighbours gives them weight 1 and the others
    0."""
    if weights in (None, "uniform"):
        return None
    if weights == "distance":
        with np.errstate(divide="ignore"):
            w = 1.0 / dist.astype(np.float64)
        inf_mask = np.isinf(w)
        inf_row = np.any(inf_mask, axis=1)
        w[inf_row] = inf_mask[inf_row]
        return w
    if callable(weights):
        return weights(dist)
    raise ValueError(f"weights not recognized: should be 'uniform', 'distance', or a callable "
                     f"function, got {weights!r}")


def _core_metric(metric, p, metric_params, warn):
    """(the core's metric name, p) after scikit-learn's rules for minkowski and p; warns (as
    scikit-learn's fit does) for minkowski with p < 1 when ``warn``. NotImplementedError for
    what gpulearn does not compute."""
    if callable(metric) or not isinstance(metric, str):
        raise NotImplementedError(
            f"metric={metric!r}: gpulearn computes the named metrics "
            f"{sorted(_METRICS)}; callables and DistanceMetric objects are not supported")
    if metric == "precomputed" or metric not in _METRICS:
        raise NotImplementedError(
            f"metric={metric!r} is not implemented in gpulearn; use one of "
            f"{sorted(_METRICS)}")
    params = dict(metric_params or {})
    if warn and "p" in params and p is not None:
        warnings.warn("Parameter p is found in metric_params. The corresponding parameter from "
                      "__init__ is ignored.", SyntaxWarning, stacklevel=5)
    p = params.pop("p", p)
    if params:
        raise NotImplementedError(
            f"metric_params {sorted(params)} are not supported by gpulearn (only 'p')")
    p = 2.0 if p is None else float(p)
    if warn and _METRICS[metric] == "minkowski" and p < 1:
        warnings.warn("Mind that for 0 < p < 1, Minkowski metrics are not distance metrics. "
                      "Continuing the execution with `algorithm='brute'`.", UserWarning,
                      stacklevel=5)
    return _METRICS[metric], p


# gpulearn's own similarity, which a sparse index takes too (scikit-learn has no equivalent).
_SPARSE_EXTRA_METRICS = ("inner_product",)


class NeighborsBase(DeviceEstimatorMixin):
    """Brute-force neighbours over the fitted index ``_fit_X``: a NumPy array, the C-ordered
    GPU array the estimator was fitted on (pickled as NumPy), or, for sparse training data, a
    scipy.sparse CSR matrix (a private copy, as scikit-learn keeps it; never densified).

    Conversion (``from_sklearn`` / ``as_sklearn``): see :class:`NearestNeighbors`' notes.
    """

    # The fitted attributes both conversions copy as they are (subclasses add theirs).
    _sklearn_attributes = ("n_features_in_", "feature_names_in_", "effective_metric_",
                           "effective_metric_params_", "_fit_X", "n_samples_fit_")

    def _resolved_metric(self):
        """(the core's metric name, p) of the hyper-parameters (see ``_core_metric``)."""
        return _core_metric(self.metric, self.p, self.metric_params, warn=True)

    def _set_effective_metric(self, metric, p):
        """effective_metric_ and effective_metric_params_ as scikit-learn sets them."""
        self.effective_metric_params_ = dict(self.metric_params or {})
        self.effective_metric_params_.pop("p", None)
        self.effective_metric_ = self.metric
        if self.metric == "minkowski":
            if p == 1:
                self.effective_metric_ = "manhattan"
            elif p == 2:
                self.effective_metric_ = "euclidean"
            elif np.isinf(p):
                self.effective_metric_ = "chebyshev"
            else:
                self.effective_metric_params_.update(p=p, w=None)

    def _fit_index(self, X):
        """Validates X and keeps it as the index; returns the host copy (None for GPU data)."""
        self._validate_params()
        check_device_string(self.device)
        metric, p = self._resolved_metric()
        prepared = self._prepare(X, reset=True, ensure_all_finite=True, accept_sparse=True)
        self._fit_method = "brute"
        self._metric, self._p = metric, p
        self._set_effective_metric(metric, p)
        self._fit_csr = None
        if prepared.sparse:
            self._check_sparse_fit()
            # A copy of the canonical CSR (the input's own arrays may be shared with it): the
            # index must not change when the caller's matrix does. A cupyx.scipy.sparse index
            # is kept on the host too (copied to the device by each query call, as a
            # scipy.sparse index is); its queries are read on the device in place.
            csr = prepared.X
            if isinstance(csr, _sparse.DeviceCsr):
                self._fit_X = csr.to_scipy()
                self._fit_csr = _sparse.as_csr(self._fit_X)
            else:
                self._fit_csr = _sparse.HostCsr(csr.values.copy(), csr.indices.copy(),
                                                csr.indptr.copy(), csr.shape)
                self._fit_X = self._fit_csr.to_scipy()
            X_host = self._fit_X
        else:
            self._fit_X = prepared.X
            X_host = None if prepared.on_device else prepared.X
        self.n_samples_fit_ = int(self._fit_X.shape[0])
        return X_host

    def _check_sparse_fit(self):
        """scikit-learn's rules for sparse training data: trees fall back to brute force (with
        its warning), and only the metrics of VALID_METRICS_SPARSE["brute"] (plus gpulearn's
        inner_product) are taken."""
        if self.algorithm not in ("auto", "brute"):
            warnings.warn("cannot use tree with sparse input: using brute force", stacklevel=4)
        if (self.effective_metric_ not in VALID_METRICS_SPARSE["brute"]
                and self.effective_metric_ not in _SPARSE_EXTRA_METRICS):
            raise ValueError(
                "Metric '%s' not valid for sparse input. Use sorted(sklearn.neighbors."
                "VALID_METRICS_SPARSE['brute']) to get valid options. Metric can also be a "
                "callable function." % (self.effective_metric_))

    def _sparse_index(self):
        """The sparse index as the core reads it (a ``_sparse.HostCsr``), made once from
        ``_fit_X`` after unpickling or conversion."""
        csr = getattr(self, "_fit_csr", None)
        if csr is None:
            csr = self._fit_csr = _sparse.as_csr(self._fit_X)
        return csr

    # ---- the index and the queries where the computing context reads them -----------------

    def _index_for(self, ctx):
        """(keep-alive, ArrayRef) of the index for ``ctx``: a GPU index is read in place on its
        own device and copied to the host for the CPU."""
        index = self._fit_X
        if issparse(index):
            csr = self._sparse_index()
            return csr, csr.ref
        if _arrays.device_ordinal(index) is not None:
            if ctx.device == f"cuda:{_arrays.device_ordinal(index)}":
                return index, _arrays.device_ref(index)
            index = np.ascontiguousarray(_arrays.to_host(index))
        return index, _arrays.host_ref(index)

    def _queries(self, X):
        """(Prepared queries, exclude_self); X=None queries the index itself, each row excluded
        from its own neighbours."""
        check_is_fitted(self, "_fit_X")
        dtype = np.dtype(self._fit_X.dtype.name if hasattr(self._fit_X.dtype, "name")
                         else str(self._fit_X.dtype).replace("torch.", ""))
        if X is None:
            if issparse(self._fit_X):
                ctx, _ = self._context(None, reset=False)
                index, ref = self._index_for(ctx)
                return Prepared(index, ref, ctx, False, "numpy", dtype), True
            ctx, on_device = self._context(self._fit_X, reset=False)
            index, ref = self._index_for(ctx)
            kind = _arrays.input_kind(self._fit_X) if on_device else "numpy"
            return Prepared(index, ref, ctx, on_device, kind, dtype), True
        p = self._prepare(X, reset=False, dtype=dtype, ensure_all_finite=True,
                          accept_sparse=True)
        if p.sparse and not issparse(self._fit_X) and self.algorithm in _TREES:
            # scikit-learn's tree of dense training data refuses sparse queries.
            raise ValueError(
                "%s does not work with sparse matrices. Densify the data, or set "
                "algorithm='brute'" % self.algorithm)
        return p, False

    # ---- k nearest ---------------------------------------------------------------------------

    def _checked_n_neighbors(self, n_neighbors, query_is_train, n_queries):
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        if not isinstance(n_neighbors, numbers.Integral) or isinstance(n_neighbors, bool):
            raise TypeError(
                f"n_neighbors does not take {type(n_neighbors)} value, enter integer value")
        if n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        if n_neighbors + (1 if query_is_train else 0) > self.n_samples_fit_:
            relation = "<" if query_is_train else "<="
            raise ValueError(
                f"Expected n_neighbors {relation} n_samples_fit, but n_neighbors = "
                f"{n_neighbors}, n_samples_fit = {self.n_samples_fit_}, n_samples = "
                f"{n_queries}")
        return int(n_neighbors)

    def _core_params(self):
        """The fitted metric as the core's NeighborsParams (made per call: it does not pickle)."""
        return _core.NeighborsParams(metric=self._metric, p=float(self._p))

    def _kneighbors(self, X, n_neighbors):
        """(distances, indices, input kind): arrays of the queries' kind (GPU or NumPy)."""
        p, exclude_self = self._queries(X)
        ctx, kind, queries, q_ref = p.ctx, p.kind, p.X, p.ref
        k = self._checked_n_neighbors(n_neighbors, exclude_self, q_ref.rows)
        index, i_ref = (queries, q_ref) if exclude_self else self._index_for(ctx)
        shape = (q_ref.rows, k)
        dist, d_ref = p.empty(shape)
        ind, i_out = p.empty(shape, np.int64)
        _core.kneighbors(ctx, self._core_params(), i_ref, q_ref, exclude_self, k, d_ref, i_out)
        del index
        return dist, ind, kind

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the K-neighbors of a point.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), default=None
            The query points (NumPy, pandas, CuPy, PyTorch, DLPack or scipy.sparse). None: the
            indexed points themselves, each not counted as its own neighbour.
        n_neighbors : int, default=None
            Neighbours per query; None uses the constructor's ``n_neighbors``.
        return_distance : bool, default=True

        Returns
        -------
        neigh_dist : array of shape (n_queries, n_neighbors)
            Distances, nearest first (for metric="inner_product": inner products, largest
            first), in the dtype of the fitted data. Only when ``return_distance``.
        neigh_ind : array of shape (n_queries, n_neighbors), int64
            Indices of the neighbours in the fitted data; ties go to the smaller index.
        """
        dist, ind, kind = self._kneighbors(X, n_neighbors)
        if return_distance:
            return self._output(dist, kind), self._output(ind, kind)
        return self._output(ind, kind)

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """The k-neighbours graph as a scipy.sparse CSR matrix of shape
        (n_queries, n_samples_fit): ones ("connectivity") or distances ("distance")."""
        if mode not in ("connectivity", "distance"):
            raise ValueError(
                f'Unsupported mode, must be one of "connectivity", or "distance" but got '
                f'"{mode}" instead')
        dist, ind, _ = self._kneighbors(X, n_neighbors)
        ind = np.asarray(_arrays.to_host(ind))
        n_queries, k = ind.shape
        data = (np.ones(n_queries * k) if mode == "connectivity"
                else np.asarray(_arrays.to_host(dist)).ravel())
        indptr = np.arange(0, n_queries * k + 1, k)
        return csr_matrix((data, ind.ravel(), indptr), shape=(n_queries, self.n_samples_fit_))

    # ---- radius ------------------------------------------------------------------------------

    def _radius_neighbors(self, X, radius, sort_results):
        """(offsets, indices, distances) on the host: query i's matches are
        [offsets[i], offsets[i + 1])."""
        p, exclude_self = self._queries(X)
        ctx, queries, q_ref = p.ctx, p.X, p.ref
        if radius is None:
            radius = self.radius
        index, i_ref = (queries, q_ref) if exclude_self else self._index_for(ctx)
        found = _core.radius_neighbors(ctx, self._core_params(), i_ref, q_ref, exclude_self,
                                       float(radius), bool(sort_results))
        del index, queries
        return found["offsets"], found["indices"], found["distances"]

    def radius_neighbors(self, X=None, radius=None, return_distance=True, sort_results=False):
        """Find the neighbours within ``radius`` of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            None: the indexed points, each not counted as its own neighbour.
        radius : float, default=None
            None uses the constructor's ``radius``. Points at distance <= radius match.
        return_distance : bool, default=True
        sort_results : bool, default=False
            Order each query's matches by distance (ties by index); otherwise ascending index.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries,), dtype object
            Per query, the distances of its matches. Only when ``return_distance``.
        neigh_ind : ndarray of shape (n_queries,), dtype object
            Per query, the int64 indices of its matches.
        """
        if sort_results and not return_distance:
            raise ValueError("return_distance must be True if sort_results is True.")
        offsets, ind, dist = self._radius_neighbors(X, radius, sort_results)
        n_queries = len(offsets) - 1
        neigh_ind = np.empty(n_queries, dtype=object)
        neigh_dist = np.empty(n_queries, dtype=object)
        for i in range(n_queries):
            neigh_ind[i] = ind[offsets[i]:offsets[i + 1]]
            neigh_dist[i] = dist[offsets[i]:offsets[i + 1]]
        return (neigh_dist, neigh_ind) if return_distance else neigh_ind

    def radius_neighbors_graph(self, X=None, radius=None, mode="connectivity",
                               sort_results=False):
        """The radius-neighbours graph as a scipy.sparse CSR matrix of shape
        (n_queries, n_samples_fit): ones ("connectivity") or distances ("distance")."""
        if mode not in ("connectivity", "distance"):
            raise ValueError(
                f'Unsupported mode, must be one of "connectivity", or "distance" but got '
                f'"{mode}" instead')
        offsets, ind, dist = self._radius_neighbors(X, radius,
                                                    sort_results and mode == "distance")
        data = np.ones(len(ind)) if mode == "connectivity" else dist
        return csr_matrix((data, ind, offsets), shape=(len(offsets) - 1, self.n_samples_fit_))

    # ---- conversion ------------------------------------------------------------------------

    def _adopt_sklearn_state(self, state):
        fit_X = state["_fit_X"]
        if not isinstance(fit_X, np.ndarray) and not issparse(fit_X):
            fit_X = np.asarray(fit_X)
        # The metric of the fit (scikit-learn's predict reads effective_metric_*, not the
        # hyper-parameters, which may have been set since); a weight-less minkowski has "w":
        # None there.
        params = {k: v for k, v in state["effective_metric_params_"].items()
                  if not (k == "w" and v is None)}
        self._metric, self._p = _core_metric(state["effective_metric_"], None, params,
                                             warn=False)
        super()._adopt_sklearn_state(state)
        if fit_X.dtype not in (np.float32, np.float64):
            fit_X = fit_X.astype(np.float64)  # integers: computed in float64, as there
        self._fit_csr = None
        if issparse(fit_X):
            self._fit_X = csr_matrix(fit_X)  # read through _sparse_index
        else:
            self._fit_X = np.ascontiguousarray(fit_X)
        self._fit_method = "brute"

    def _sklearn_fitted_state(self):
        state = super()._sklearn_fitted_state()
        fit_X = self._fit_X
        if _arrays.device_ordinal(fit_X) is not None:
            fit_X = state["_fit_X"] = np.ascontiguousarray(_arrays.to_host(fit_X))
        state["_fit_method"], state["_tree"] = "brute", None
        state.pop("_fit_csr", None)
        if self.algorithm in _TREES and not issparse(fit_X):
            tree = _TREES[self.algorithm]
            state["_fit_method"] = self.algorithm
            state["_tree"] = tree(fit_X, self.leaf_size, metric=self.effective_metric_,
                                  **self.effective_metric_params_)
        return state

    def _sklearn_only_params(self):
        if self.metric == "inner_product":
            raise NotImplementedError(
                "metric='inner_product' (gpulearn's similarity) has no scikit-learn "
                "equivalent; as_sklearn() converts models of scikit-learn's metrics only")
        return {}

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_fit_csr", None)  # the core's view of _fit_X, made again when needed
        if "_fit_X" in state and _arrays.device_ordinal(state["_fit_X"]) is not None:
            state["_fit_X"] = np.ascontiguousarray(_arrays.to_host(state["_fit_X"]))
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True  # the classifier and regressor take 2-D y
        return tags
