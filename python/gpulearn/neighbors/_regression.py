"""gpulearn.neighbors.KNeighborsRegressor: scikit-learn's KNeighborsRegressor on the GPU or the
CPU (the neighbour search there; the average on the host)."""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.neighbors import KNeighborsRegressor as _SkKNeighborsRegressor
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .. import _arrays
from ._base import _PARAMETER_CONSTRAINTS, NeighborsBase, _get_weights


def _fit_targets(est, X, y, classifier):
    """Fits est's index on X and returns y checked against it (host NumPy)."""
    if y is None:
        raise ValueError(f"{type(est).__name__} requires y to be passed, but the target y is "
                         "None")
    X_host = est._fit_index(X)
    y = _arrays.to_host(y)
    y = np.asarray(y)
    # The regressor keeps numeric targets in their dtype, as scikit-learn does (its averages
    # then have that dtype too); anything else becomes float64.
    if not classifier and y.dtype.kind not in "biuf":
        y = y.astype(np.float64)
    if y.ndim == 2 and y.shape[1] == 1 and classifier:
        y = column_or_1d(y, warn=True)
    if y.ndim not in (1, 2) or y.shape[0] != est.n_samples_fit_:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: "
            f"[{est.n_samples_fit_}, {y.shape[0] if y.ndim else 0}]")
    if not classifier and not np.isfinite(y).all():
        raise ValueError("Input y contains NaN or infinity.")
    del X_host
    return y


class KNeighborsRegressor(RegressorMixin, NeighborsBase, BaseEstimator):
    """Regression by the k-nearest neighbours' (weighted) average, a drop-in replacement for
    :class:`sklearn.neighbors.KNeighborsRegressor`.

    The neighbour search is :class:`gpulearn.neighbors.NearestNeighbors`' (exact brute force on
    the GPU or the CPU); the average is scikit-learn's, with weights "uniform", "distance" (a
    query at distance 0 from some training points averages their targets only) or a callable.

    Parameters
    ----------
    n_neighbors : int, default=5
    weights : {"uniform", "distance"}, callable or None, default="uniform"
    algorithm, leaf_size, metric, p, metric_params, n_jobs, device
        As in :class:`gpulearn.neighbors.NearestNeighbors`.

    Attributes
    ----------
    effective_metric_ : str
    effective_metric_params_ : dict
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_samples_fit_ : int

    Notes
    -----
    Conversion: as for :class:`gpulearn.neighbors.NearestNeighbors` (``_y``, the targets in
    their own dtype as in scikit-learn, is copied as it is). ``predict`` of a converted model
    agrees within 1e-12 relative with uniform weights (the same mean of the same neighbours)
    and 1e-10 with "distance" weights (which carry the distances' rounding), away from exact
    distance ties among the k-th neighbours.
    """

    _sklearn_estimator = "sklearn.neighbors.KNeighborsRegressor"
    _sklearn_attributes = (*NeighborsBase._sklearn_attributes, "_y")

    _parameter_constraints = {
        **_PARAMETER_CONSTRAINTS,
        "weights": _SkKNeighborsRegressor._parameter_constraints["weights"],
    }
    _parameter_constraints.pop("radius")

    def __init__(self, n_neighbors=5, *, weights="uniform", algorithm="auto", leaf_size=30, p=2,
                 metric="minkowski", metric_params=None, n_jobs=None, device="auto"):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.metric = metric
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.device = device

    def fit(self, X, y):
        """Fit the regressor: keep X as the index and y as the targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : object
        """
        self._y = _fit_targets(self, X, y, classifier=False)
        return self

    def predict(self, X):
        """The (weighted) average target of each query's neighbours.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_outputs)
            float64, or the targets' float dtype with uniform weights (as in scikit-learn).
        """
        check_is_fitted(self, "_fit_X")
        if self.weights == "distance" and self._metric == "inner_product":
            raise ValueError("weights='distance' needs a distance; metric='inner_product' is a "
                             "similarity")
        dist, ind, _ = self._kneighbors(X, None)
        ind = np.asarray(_arrays.to_host(ind))
        return self._average(np.asarray(_arrays.to_host(dist)),
                             self._y.reshape(self._y.shape[0], -1)[ind], self._y.ndim == 1)

    def _average(self, dist, targets, one_output):
        """The (weighted) average of the neighbours whose distances are ``dist`` (n_queries,
        k) and targets ``targets`` (n_queries, k, n_outputs): the one average of every search,
        local or distributed (gpulearn.dask)."""
        weights = _get_weights(dist, self.weights)
        if weights is None:
            pred = np.mean(targets, axis=1)
        else:
            pred = np.empty((dist.shape[0], targets.shape[2]), dtype=np.float64)
            denom = np.sum(weights, axis=1)
            for j in range(targets.shape[2]):
                pred[:, j] = np.sum(targets[:, :, j] * weights, axis=1) / denom
        return pred.ravel() if one_output else pred
