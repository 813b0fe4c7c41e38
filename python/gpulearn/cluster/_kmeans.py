"""gpulearn.cluster.KMeans: scikit-learn's KMeans on the GPU (CUDA) or the CPU."""

import warnings

import numpy as np
from sklearn.base import (BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin,
                          TransformerMixin)
from sklearn.cluster import KMeans as _SkKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted

from .. import _arrays, _core
from .._base import DeviceEstimatorMixin
from .._config import check_device_string


class KMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin,
             DeviceEstimatorMixin, BaseEstimator):
    """K-Means clustering, a drop-in replacement for :class:`sklearn.cluster.KMeans`.

    Lloyd's algorithm on the GPU (CUDA) or the CPU: each iteration is one pass over X that
    computes the distances with a GEMM (|x|^2 - 2 x.c + |c|^2, never storing all of them), the
    closest center and the per-cluster sums, deterministically (a fixed ``random_state`` gives
    the same model twice on the same device). The data are centred on their mean in every
    distance, as scikit-learn does, for precision.

    Sparse X (scipy.sparse CSR, CSC or COO, matrices or arrays) is clustered as it is, on the
    CPU or a CUDA device: each pass is one sparse product X C^T by blocks of rows, never a dense
    copy of X, and the data are not centred (as in scikit-learn, where centring would densify
    X). Every init and option takes sparse input.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "random", "k-means||"}, callable or array of shape \
(n_clusters, n_features), default="k-means++"
        "k-means++" and "random" as in scikit-learn (k-means++ tries 2 + ln(k) candidates per
        center). "k-means||" (gpulearn's extra) is the scalable parallel initialisation of
        Bahmani et al. (2012): five rounds of independent sampling of about 2 k rows each, then
        weighted k-means++ among them; for large k, where k-means++'s k sequential passes over
        X dominate the fit. A callable is called as ``init(X, n_clusters, random_state)`` on
        host data.
    n_init : "auto" or int, default="auto"
        Runs with different initialisations; the lowest inertia wins. "auto": 1 for
        "k-means++", "k-means||" and arrays, 10 for "random" and callables.
    max_iter : int, default=300
    tol : float, default=1e-4
        Relative to the mean variance of the features: converged when the centers move less
        than ``tol * mean(var(X, axis=0))`` in total (squared), or when no label changes.
    verbose : int, default=0
        Accepted for compatibility; gpulearn prints nothing.
    random_state : int, RandomState instance or None, default=None
    copy_x : bool, default=True
        Accepted for compatibility: gpulearn never modifies X (it centres in every distance,
        not in a copy).
    algorithm : {"lloyd", "elkan"}, default="lloyd"
        "elkan" is accepted and runs Lloyd's algorithm: on a GPU, Lloyd's GEMM-based pass is
        faster than Elkan's bounds, and the result is the same clustering.
    device : str, default="auto"
        "auto", "cpu", "cuda" or "cuda:N" (see :func:`gpulearn.set_config`).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,), int32
    inertia_ : float
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    Conversion: ``from_sklearn`` and ``as_sklearn`` copy the fitted attributes as they are,
    scikit-learn's private ones included (``_tol``, equal to scikit-learn's to rounding,
    ``_n_init``, ``_algorithm``, ``_n_threads``, ``_n_features_out``). ``as_sklearn`` refuses
    ``init="k-means||"`` (NotImplementedError: scikit-learn has no such initialisation).
    ``predict`` gives the same labels away from ties (a sample within rounding of equidistant
    to two centers); ``transform`` and ``score`` agree within 1e-10 relative to the largest
    value in float64 and 1e-4 in float32 (the distances are computed by another formula).
    """

    _parameter_constraints = {
        **_SkKMeans._parameter_constraints,
        "init": [StrOptions({"k-means++", "random", "k-means||"}), callable, "array-like"],
        "device": [str],
    }

    _sklearn_estimator = "sklearn.cluster.KMeans"
    _sklearn_attributes = ("n_features_in_", "feature_names_in_", "_tol", "_n_init",
                           "_algorithm", "_n_threads", "cluster_centers_", "_n_features_out",
                           "labels_", "inertia_", "n_iter_")

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None, copy_x=True, algorithm="lloyd", device="auto"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.device = device

    def _resolved_n_init(self):
        init_is_array = not (isinstance(self.init, str) or callable(self.init))
        if self.n_init == "auto":
            return 10 if callable(self.init) or (isinstance(self.init, str)
                                                and self.init == "random") else 1
        if init_is_array and self.n_init != 1:
            warnings.warn(
                "Explicit initial center position passed: performing only one init in "
                f"{type(self).__name__} instead of n_init={self.n_init}.", RuntimeWarning,
                stacklevel=3)
            return 1
        return self.n_init

    def _check_centers(self, centers, dtype):
        centers = check_array(_arrays.to_host(centers), dtype=dtype, copy=True, order="C")
        if centers.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match the number "
                f"of clusters {self.n_clusters}.")
        if centers.shape[1] != self.n_features_in_:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not match the number "
                f"of features of the data {self.n_features_in_}.")
        if not np.isfinite(centers).all():
            raise ValueError("Input init contains NaN or infinity.")
        return centers

    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            NumPy, pandas, CuPy, PyTorch or any DLPack array, or a scipy.sparse matrix or array
            (CSR, CSC or COO; used as CSR, never densified; CPU only for now). float32 stays
            float32; other numeric types become float64.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples (non-negative); None gives every sample weight 1.

        Returns
        -------
        self : object
        """
        self._validate_params()
        check_device_string(self.device)
        p = self._prepare(X, reset=True, accept_sparse=True)
        random_state = check_random_state(self.random_state)
        ctx, X_ref, dtype, on_device = p.ctx, p.ref, p.dtype, p.on_device
        w, w_ref = self._weights(p, sample_weight)
        n_samples = X_ref.rows
        # The core checks this too (same words); checked here first because a callable init is
        # called before the core sees the data, and scikit-learn raises before calling it.
        if n_samples < self.n_clusters:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}.")
        n_init = self._resolved_n_init()
        labels, labels_ref = p.empty((n_samples,), np.int32)

        def run(init_name, centers, runs):
            params = self._core_params(init_name, runs, random_state)
            return _core.kmeans_fit(ctx, params, X_ref, w_ref, centers, labels_ref)

        if not callable(self.init):
            result = run(*self._init_spec(dtype, n_init))
        else:
            # Called once per run on the data centred on their mean, as scikit-learn does; the
            # centers it returns are in that frame. Sparse data are not centred (scikit-learn
            # does not centre them either): the callable gets the CSR matrix as it is.
            if p.sparse:
                X_all, mean = p.X.to_scipy(), np.zeros(p.n_features, dtype=dtype)
            else:
                X_all = _arrays.to_host(p.X)
                mean = X_all.mean(axis=0)
            result, best_labels = None, None
            for _ in range(n_init):
                centers = self.init(X_all if p.sparse else X_all - mean, self.n_clusters,
                                    random_state=random_state)
                candidate = run("array", self._check_centers(centers, dtype) + mean, 1)
                if result is None or candidate["inertia"] < result["inertia"]:
                    result, best_labels = candidate, _arrays.to_host(labels).copy()
            labels = best_labels if not on_device else _arrays.to_device_like(p.X, best_labels)
        del p, w
        self._set_fitted(result, _arrays.to_host(labels) if on_device else labels, dtype, n_init)
        return self

    def _core_params(self, init_name, runs, random_state):
        """The core's KMeansParams of one fit, its seed drawn from ``random_state``."""
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        return _core.KMeansParams(n_clusters=int(self.n_clusters), init=init_name, n_init=runs,
                                  max_iter=int(self.max_iter), tol=float(self.tol), seed=seed)

    def _init_spec(self, dtype, n_init):
        """(init name, initial centers or None, runs) for a string or array ``init``."""
        if isinstance(self.init, str):
            return self.init, None, n_init
        return "array", self._check_centers(self.init, dtype), 1

    def _set_fitted(self, result, labels, dtype, n_init, distinct=None):
        """The fitted attributes from the core's record and the best run's labels (``distinct``:
        how many clusters they use, counted here when not given)."""
        # scikit-learn's fit-time state, kept for its estimator (conversion, gpulearn.accel).
        self._tol = 0 if self.tol == 0 else dtype.type(result["tol"])
        self._n_init = n_init
        self._algorithm = "lloyd" if self.n_clusters == 1 else self.algorithm
        self.cluster_centers_ = result["centers"]
        self.labels_ = labels
        self.inertia_ = float(result["inertia"])
        self.n_iter_ = int(result["n_iter"])
        self._n_features_out = self.n_clusters
        if distinct is None:
            distinct = len(np.unique(self.labels_))
        if distinct < self.n_clusters:
            warnings.warn(
                f"Number of distinct clusters ({distinct}) found smaller than n_clusters "
                f"({self.n_clusters}). Possibly due to duplicate points in X.",
                ConvergenceWarning, stacklevel=3)

    @staticmethod
    def _weights(p, sample_weight):
        """(array, ArrayRef) of sample_weight where the prepared X is, checked as scikit-learn
        checks it (shape, finite, non-negative, not all zero; on the host); (None, None)."""
        if sample_weight is None:
            return None, None
        checked = _check_sample_weight(_arrays.to_host(sample_weight),
                                       np.empty((p.n_samples, 0), dtype=p.dtype), dtype=p.dtype,
                                       ensure_non_negative=True)
        return p.put(checked, "sample_weight")

    def _prepared(self, X, sample_weight=None):
        """(Prepared X, weights kept alive, weights' ArrayRef) for predict-like calls, in the
        dtype of the centers."""
        check_is_fitted(self)
        p = self._prepare(X, reset=False, dtype=self.cluster_centers_.dtype, accept_sparse=True)
        return (p, *self._weights(p, sample_weight))

    def _labels_and_inertia(self, X, sample_weight=None):
        p, w, w_ref = self._prepared(X, sample_weight)
        ctx, X_ref = p.ctx, p.ref
        labels, labels_ref = p.empty((X_ref.rows,), np.int32)
        inertia = _core.kmeans_predict(ctx, {"centers": self.cluster_centers_}, X_ref, w_ref,
                                       labels_ref)
        return labels, inertia, p.kind

    def predict(self, X):
        """The index of the closest cluster center of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        labels : array of shape (n_samples,), int32, of the kind of array that came in
        """
        labels, _, kind = self._labels_and_inertia(X)
        return self._output(labels, kind)

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return ``labels_`` (as the kind of array that came in)."""
        kind = _arrays.input_kind(X)
        labels = self.fit(X, sample_weight=sample_weight).labels_
        if kind != "numpy":
            labels = _arrays.to_device_like(X, labels)
        return self._output(labels, kind)

    def transform(self, X):
        """Distances of each sample to every cluster center.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        X_new : array of shape (n_samples, n_clusters), of the kind of array that came in
        """
        p = self._prepared(X)[0]
        ctx, kind = p.ctx, p.kind
        dtype = self.cluster_centers_.dtype
        # float32 distances are computed in float64, as scikit-learn's euclidean_distances
        # does: near a center, |x|^2 - 2 x.c + |c|^2 in float32 keeps few digits.
        if p.sparse:
            X64 = p.X if p.dtype == np.float64 else p.X.astype(np.float64)
            X_ref = X64.ref
        else:
            X64, X_ref = p.put(p.X, "X", dtype=np.float64)
        out, out_ref = p.empty((X_ref.rows, self.n_clusters), np.float64)
        _core.kmeans_sq_distances(ctx, {"centers": self.cluster_centers_.astype(np.float64)},
                                  X_ref, out_ref)
        out **= 0.5
        if dtype != np.float64:
            out = (_arrays.as_device_matrix(out, "X_new", dtype=dtype)[0] if p.on_device
                   else out.astype(dtype))
        return self._output(out, kind)

    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then transform X."""
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the (weighted) inertia of X against the fitted centers."""
        _, inertia, _ = self._labels_and_inertia(X, sample_weight)
        return -float(inertia)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # ---- conversion ----------------------------------------------------------------------

    def _sklearn_fitted_state(self):
        state = super()._sklearn_fitted_state()
        if "_n_threads" not in state:
            state["_n_threads"] = _openmp_effective_n_threads()
        return state

    def _sklearn_only_params(self):
        if isinstance(self.init, str) and self.init == "k-means||":
            raise NotImplementedError(
                "init='k-means||' has no scikit-learn equivalent: set init='k-means++' (or "
                "'random', or the fitted cluster_centers_) before as_sklearn()")
        return {}
