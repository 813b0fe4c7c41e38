"""gpulearn.decomposition.TruncatedSVD: scikit-learn's TruncatedSVD on the GPU or the CPU."""

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.decomposition import TruncatedSVD as _SkTruncatedSVD
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import _core
from .._config import check_device_string
from ._base import DecompositionBase


class TruncatedSVD(DecompositionBase, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                   BaseEstimator):
    """Dimensionality reduction by truncated SVD (latent semantic analysis), a drop-in
    replacement for :class:`sklearn.decomposition.TruncatedSVD` on dense and sparse data.

    X is not centred. scipy.sparse input (CSR, CSC, COO, matrices or arrays) is never
    densified: each pass is a sparse product (docs/sparse.md). "randomized" runs Halko et al.'s randomized SVD as passes over X on the
    GPU (CUDA) or the CPU, from scikit-learn's own random draw and on the subspace
    scikit-learn's ``randomized_svd`` iterates, so results agree with scikit-learn's to
    rounding. "arpack" runs an exact SVD (on sparse data: subspace iteration on X^T (X Z),
    started from the eigenvectors of X^T X for d <= 2048). Components' signs follow scikit-learn's rule.

    Parameters
    ----------
    n_components : int, default=2
    algorithm : {"arpack", "randomized"}, default="randomized"
    n_iter : int, default=5
        Power iterations of the randomized solver.
    n_oversamples : int, default=10
    power_iteration_normalizer : {"auto", "QR", "LU", "none"}, default="auto"
        Accepted; gpulearn always orthonormalises (in float64, on the host).
    random_state : int, RandomState instance or None, default=None
    tol : float, default=0.0
        ARPACK's tolerance. Dense "arpack" runs an exact SVD and ignores it; on sparse data,
        the relative residual at which the subspace iteration stops (0: 64 machine
        epsilons).
    device : str, default="auto"
        "auto", "cpu", "cuda" or "cuda:N" (see :func:`gpulearn.set_config`).

    Attributes
    ----------
    components_, explained_variance_, explained_variance_ratio_, singular_values_,
    n_features_in_, feature_names_in_
        As in scikit-learn, as NumPy arrays of the dtype of X.

    Notes
    -----
    Conversion: ``from_sklearn`` and ``as_sklearn`` copy the fitted attributes as they are.
    ``transform`` and ``inverse_transform`` agree to rounding (the same products, summed in
    another order): within 1e-10 relative to the largest entry in float64, 1e-4 in float32.
    """

    _sklearn_estimator = "sklearn.decomposition.TruncatedSVD"

    _parameter_constraints = {**_SkTruncatedSVD._parameter_constraints, "device": [str]}

    def __init__(self, n_components=2, *, algorithm="randomized", n_iter=5, n_oversamples=10,
                 power_iteration_normalizer="auto", random_state=None, tol=0.0,
                 device="auto"):
        self.n_components = n_components
        self.algorithm = algorithm
        self.n_iter = n_iter
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state
        self.tol = tol
        self.device = device

    def fit(self, X, y=None):
        """Fit the model on X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            NumPy, pandas, CuPy, PyTorch or any DLPack array, or a scipy.sparse matrix or
            array (CPU). At least 2 features.
        y : Ignored

        Returns
        -------
        self : object
        """
        self._fit(X)
        return self

    def _fit(self, X):
        """Fit; the core's record."""
        self._validate_params()
        check_device_string(self.device)
        p = self._prepare(X, reset=True, ensure_min_features=2, accept_sparse=True)
        ctx, X_ref = p.ctx, p.ref
        params = self._core_params(X_ref.rows, X_ref.cols, np.dtype(X_ref.dtype))
        result = _core.truncated_svd_fit(ctx, params, X_ref)
        del p
        self._set_fitted(result)
        return result

    def _core_params(self, n, d, dtype):
        """The TruncatedSvdParams of a fit on n x d data of ``dtype`` (the random start drawn
        here)."""
        start = None
        if self.algorithm == "randomized":
            # scikit-learn's draw, on the side its randomized_svd draws (it transposes wide
            # data), rounded as it rounds it for float32 data.
            start = check_random_state(self.random_state).normal(
                size=(n if n < d else d, self.n_components + self.n_oversamples))
            if dtype == np.float32:
                start = start.astype(np.float32).astype(np.float64)
        return _core.TruncatedSvdParams(
            n_components=int(self.n_components), algorithm=self.algorithm,
            n_iter=int(self.n_iter), n_oversamples=int(self.n_oversamples), tol=float(self.tol),
            random_start=start)

    def _set_fitted(self, result):
        """The fitted attributes from the core's record."""
        self.components_ = result["components"]
        self.explained_variance_ = result["explained_variance"]
        self.explained_variance_ratio_ = result["explained_variance_ratio"]
        self.singular_values_ = result["singular_values"]

    _core_project = staticmethod(_core.truncated_svd_transform)

    def _model(self):
        check_is_fitted(self)
        return {"components": self.components_}

    def fit_transform(self, X, y=None):
        """``fit(X).transform(X)``: X V^T, as scikit-learn's returns for both solvers (not its
        randomized U Sigma). ``y`` is ignored; returns an array of the kind that came in."""
        return self._fit_transform(X)

    def transform(self, X):
        """Project X: ``X @ components_.T``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        X_new : array of shape (n_samples, n_components), of the kind of array that came in
            (dense NumPy for sparse input)
        """
        return self._project(X)

    def inverse_transform(self, X):
        """Map projections back to the data space: ``X @ components_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)

        Returns
        -------
        X_original : array of shape (n_samples, n_features)
        """
        return self._project(X, inverse=True)
