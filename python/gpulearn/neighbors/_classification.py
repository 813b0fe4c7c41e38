"""gpulearn.neighbors.KNeighborsClassifier: scikit-learn's KNeighborsClassifier on the GPU or
the CPU (the neighbour search there; the vote on the host)."""

import numpy as np
from sklearn.base import ClassifierMixin, BaseEstimator
from sklearn.neighbors import KNeighborsClassifier as _SkKNeighborsClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .. import _arrays
from ._base import _PARAMETER_CONSTRAINTS, NeighborsBase, _get_weights
from ._regression import _fit_targets


class KNeighborsClassifier(ClassifierMixin, NeighborsBase, BaseEstimator):
    """Classifier implementing the k-nearest neighbours vote, a drop-in replacement for
    :class:`sklearn.neighbors.KNeighborsClassifier`.

    The neighbour search is :class:`gpulearn.neighbors.NearestNeighbors`' (exact brute force on
    the GPU or the CPU); the vote is scikit-learn's: each neighbour votes with weight 1
    ("uniform"), 1 / distance ("distance"; a query at distance 0 from some training points is
    given their labels only) or a callable's weights; ties go to the smallest class.

    Parameters
    ----------
    n_neighbors : int, default=5
    weights : {"uniform", "distance"}, callable or None, default="uniform"
    algorithm, leaf_size, metric, p, metric_params, n_jobs, device
        As in :class:`gpulearn.neighbors.NearestNeighbors`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,) or list of such arrays (multi-output)
    effective_metric_ : str
    effective_metric_params_ : dict
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_samples_fit_ : int
    outputs_2d_ : bool

    Notes
    -----
    Conversion: as for :class:`gpulearn.neighbors.NearestNeighbors` (``classes_``, ``_y``
    and ``outputs_2d_`` are scikit-learn's encoding, copied as they are; callable
    ``weights`` convert too, and are called with the neighbours' distances as there).
    ``predict`` of a converted model gives the same labels and ``predict_proba`` the same
    probabilities within 1e-12 (the same vote; "distance" weights carry the distances'
    rounding), away from exact distance ties among the k-th neighbours.
    """

    _sklearn_estimator = "sklearn.neighbors.KNeighborsClassifier"
    _sklearn_attributes = (*NeighborsBase._sklearn_attributes, "outputs_2d_", "classes_",
                           "_y")

    _parameter_constraints = {
        **_PARAMETER_CONSTRAINTS,
        "weights": _SkKNeighborsClassifier._parameter_constraints["weights"],
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
        """Fit the classifier: keep X as the index and encode y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : object
        """
        y = _fit_targets(self, X, y, classifier=True)
        check_classification_targets(y)
        self.outputs_2d_ = y.ndim == 2 and y.shape[1] > 1
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        classes, encoded = [], np.empty(y2.shape, dtype=np.intp)
        for k in range(y2.shape[1]):
            classes_k, encoded[:, k] = np.unique(y2[:, k], return_inverse=True)
            classes.append(classes_k)
        self.classes_ = classes if self.outputs_2d_ else classes[0]
        self._y = encoded if self.outputs_2d_ else encoded.ravel()
        return self

    def _probabilities(self, X):
        """Per output, the (n_queries, n_classes) weighted vote, normalised."""
        check_is_fitted(self, "_fit_X")
        self._check_weights_metric()
        dist, ind, _ = self._kneighbors(X, None)
        ind = np.asarray(_arrays.to_host(ind))
        return self._vote(np.asarray(_arrays.to_host(dist)),
                          self._y.reshape(self._y.shape[0], -1)[ind])

    def _check_weights_metric(self):
        if self.weights == "distance" and self._metric == "inner_product":
            raise ValueError("weights='distance' needs a distance; metric='inner_product' is a "
                             "similarity")

    def _vote(self, dist, labels):
        """Per output, the normalised weighted vote of the neighbours whose distances are
        ``dist`` (n_queries, k) and encoded labels ``labels`` (n_queries, k, n_outputs): the
        one vote of every search, local or distributed (gpulearn.dask)."""
        weights = _get_weights(dist, self.weights)
        if weights is None:
            weights = np.ones(dist.shape, dtype=np.float64)
        elif np.any(np.all(weights == 0, axis=1)):
            raise ValueError(
                "All neighbors of some sample is getting zero weights. Please modify 'weights' "
                "to avoid this case if you are using a user-defined function.")
        classes = self.classes_ if self.outputs_2d_ else [self.classes_]
        rows = np.arange(dist.shape[0])
        out = []
        for k, classes_k in enumerate(classes):
            labels_k = labels[:, :, k]
            proba = np.zeros((dist.shape[0], classes_k.size))
            for j in range(dist.shape[1]):  # O(n_neighbors) vectorised steps
                proba[rows, labels_k[:, j]] += weights[:, j]
            normalizer = proba.sum(axis=1)[:, np.newaxis]
            normalizer[normalizer == 0.0] = 1.0
            out.append(proba / normalizer)
        return out

    def predict_proba(self, X):
        """Probability estimates of each class for the queries X.

        Returns
        -------
        p : ndarray of shape (n_queries, n_classes), or a list of n_outputs such arrays
        """
        proba = self._probabilities(X)
        return proba if self.outputs_2d_ else proba[0]

    def predict(self, X):
        """The class labels of the queries X.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_outputs)
        """
        return self._labels_of(self._probabilities(X))

    def _labels_of(self, proba):
        """The predicted labels of the votes ``proba`` (one array per output)."""
        classes = self.classes_ if self.outputs_2d_ else [self.classes_]
        pred = [classes_k[np.argmax(p, axis=1)] for classes_k, p in zip(classes, proba)]
        return np.stack(pred, axis=1) if self.outputs_2d_ else pred[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
