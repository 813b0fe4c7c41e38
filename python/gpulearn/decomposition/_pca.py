"""gpulearn.decomposition.PCA: scikit-learn's PCA on the GPU (CUDA) or the CPU."""

import numbers

import numpy as np
from scipy import sparse as _scipy_sparse
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.decomposition import PCA as _SkPCA
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .. import _arrays, _core, _devices, _sparse
from .._config import check_device_string
from ._base import DecompositionBase


def _plain_n_components(n_components):
    """scikit-learn's n_components as PcaParams takes it: None, "mle", a Python int (a count)
    or a Python float (a variance fraction)."""
    if n_components is None or isinstance(n_components, str):
        return n_components
    if isinstance(n_components, numbers.Integral):
        return int(n_components)
    return float(n_components)


# The solvers scikit-learn's PCA takes sparse input with ("auto" means "arpack" there).
SPARSE_SOLVERS = ("auto", "arpack", "covariance_eigh")


class PCA(DecompositionBase, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis, a drop-in replacement for
    :class:`sklearn.decomposition.PCA`.

    The solvers and their automatic choice are scikit-learn's; each runs as passes over X on
    the GPU (CUDA) or the CPU, never centring X in a copy:

    - "covariance_eigh": the covariance from centred row chunks (SYRK), then an eigensolver on
      the d x d matrix. One pass over X; the choice of "auto" for n >= 10 d and d <= 1000.
    - "full": the exact SVD of the centred data, as the SVD of the R factor of a chunked QR.
    - "randomized": Halko et al.'s randomized SVD, each power iteration one pass computing
      Xc^T (Xc Z) for a basis Z of n_components + n_oversamples vectors. The start matrix is
      scikit-learn's own draw from ``random_state``, and the subspace iterated is the one
      scikit-learn's ``randomized_svd`` iterates, so results agree with scikit-learn's to
      rounding, not just to the randomized approximation.
    - "arpack" runs the exact "full" solver (its n_components rules kept: at most
      min(n_samples, n_features) - 1). On sparse data: subspace iteration on Xc^T (Xc Z),
      centred implicitly, started from the d x d Gram matrix's eigenvectors for d <= 2048.

    Components' signs follow scikit-learn's rule: the largest entry of each is positive.

    scipy.sparse input (CSR, CSC, COO, matrices or arrays) is taken as scikit-learn takes it,
    with "arpack" (the choice of "auto") and "covariance_eigh", centred implicitly and never
    densified (docs/sparse.md); the other solvers refuse it with scikit-learn's TypeError.

    Parameters
    ----------
    n_components : int, float, "mle" or None, default=None
        As in scikit-learn: None keeps min(n_samples, n_features) components (one fewer with
        "arpack"); a float in (0, 1) keeps the fewest whose explained variance exceeds that
        fraction; "mle" uses Minka's estimate (exact solvers, n_samples >= n_features).
    copy : bool, default=True
        Accepted for compatibility: gpulearn never modifies X.
    whiten : bool, default=False
        Divide the projections by the square roots of the explained variances.
    svd_solver : {"auto", "full", "covariance_eigh", "arpack", "randomized"}, default="auto"
    tol : float, default=0.0
        ARPACK's tolerance. Dense "arpack" runs an exact SVD and ignores it; on sparse data,
        the relative residual at which the subspace iteration stops (0: 64 machine
        epsilons).
    iterated_power : int or "auto", default="auto"
        Power iterations of the randomized solver; "auto": 7 when n_components < 0.1
        min(X.shape), else 4.
    n_oversamples : int, default=10
    power_iteration_normalizer : {"auto", "QR", "LU", "none"}, default="auto"
        Accepted; gpulearn always orthonormalises (in float64, on the host), which keeps the
        subspace of every choice and the accuracy of the best.
    random_state : int, RandomState instance or None, default=None
    device : str, default="auto"
        "auto", "cpu", "cuda" or "cuda:N" (see :func:`gpulearn.set_config`).

    Attributes
    ----------
    components_, explained_variance_, explained_variance_ratio_, singular_values_, mean_,
    n_components_, n_samples_, noise_variance_, n_features_in_, feature_names_in_
        As in scikit-learn, as NumPy arrays of the dtype of X (float32 stays float32).

    Notes
    -----
    Conversion: ``from_sklearn`` and ``as_sklearn`` copy the fitted attributes as they are,
    ``_fit_svd_solver`` included; ``as_sklearn`` gives ``n_components_`` and
    ``noise_variance_`` scikit-learn's types (NumPy's int64 for a float or "mle"
    ``n_components``; the Python float 0.0 when every component is kept). ``transform``
    (whitened or not), ``inverse_transform``, ``score_samples`` and ``get_covariance`` agree
    to rounding (the same formulas, summed in another order): within 1e-10 relative to the
    largest entry in float64, 1e-4 in float32.
    """

    _sklearn_estimator = "sklearn.decomposition.PCA"
    _sklearn_attributes = (*DecompositionBase._sklearn_attributes, "_fit_svd_solver", "mean_",
                           "n_components_", "n_samples_", "noise_variance_")

    _parameter_constraints = {**_SkPCA._parameter_constraints, "device": [str]}

    def __init__(self, n_components=None, *, copy=True, whiten=False, svd_solver="auto",
                 tol=0.0, iterated_power="auto", n_oversamples=10,
                 power_iteration_normalizer="auto", random_state=None, device="auto"):
        self.n_components = n_components
        self.copy = copy
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.tol = tol
        self.iterated_power = iterated_power
        self.n_oversamples = n_oversamples
        self.power_iteration_normalizer = power_iteration_normalizer
        self.random_state = random_state
        self.device = device

    def fit(self, X, y=None):
        """Fit the model with X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            NumPy, pandas, CuPy, PyTorch or any DLPack array, or a scipy.sparse matrix or
            array (CPU; svd_solver "auto", "arpack" or "covariance_eigh"). float32 stays
            float32; other numeric types become float64. At least 2 samples.
        y : Ignored

        Returns
        -------
        self : object
        """
        self._fit(X)
        return self

    def _fit(self, X):
        """Fit; the core's record (its ``fit_transform_components`` serve
        fit_transform)."""
        self._validate_params()
        check_device_string(self.device)
        # scikit-learn refuses sparse input for the other solvers before validating X.
        if ((_scipy_sparse.issparse(X) or _sparse.is_device_sparse(X))
                and self.svd_solver not in SPARSE_SOLVERS):
            raise TypeError(
                'PCA only support sparse inputs with the "arpack" and'
                f' "covariance_eigh" solvers, while "{self.svd_solver}" was passed. See'
                " TruncatedSVD for a possible alternative.")
        p = self._prepare(X, reset=True, accept_sparse=True)
        ctx, X_ref = p.ctx, p.ref
        n, d = X_ref.rows, X_ref.cols
        params = self._core_params(n, d, np.dtype(X_ref.dtype), sparse=p.sparse)
        result = _core.pca_fit(ctx, params, X_ref)
        del p
        self._set_fitted(result, n)
        return result

    def _core_params(self, n, d, dtype, sparse=False):
        """The PcaParams of a fit on n x d data of ``dtype`` (the random start drawn here);
        ``sparse``: scikit-learn's "auto" is "arpack" for sparse X."""
        power = "auto" if self.iterated_power == "auto" else int(self.iterated_power)
        n_components = _plain_n_components(self.n_components)
        solver = "arpack" if sparse and self.svd_solver == "auto" else self.svd_solver
        params = _core.PcaParams(n_components=n_components, whiten=bool(self.whiten),
                                 svd_solver=solver, tol=float(self.tol),
                                 iterated_power=power, n_oversamples=int(self.n_oversamples))
        solver = _core.pca_resolve_solver(params, n, d)
        if solver == "randomized" and (n_components is None or isinstance(n_components, int)):
            # scikit-learn's draw, on the side its randomized_svd draws (it transposes wide
            # data), rounded as it rounds it for float32 data.
            k = min(n, d) if n_components is None else n_components
            rows = n if n < d else d
            start = check_random_state(self.random_state).normal(
                size=(rows, k + self.n_oversamples))
            if dtype == np.float32:
                start = start.astype(np.float32).astype(np.float64)
            params.random_start = start
        return params

    def _set_fitted(self, result, n_samples):
        """The fitted attributes from the core's record of a fit on n_samples rows."""
        dtype = result["components"].dtype
        self._fit_svd_solver = result["solver"]
        self.components_ = result["components"]
        self.explained_variance_ = result["explained_variance"]
        self.explained_variance_ratio_ = result["explained_variance_ratio"]
        self.singular_values_ = result["singular_values"]
        self.mean_ = result["mean"]
        self.n_components_ = int(result["n_components"])
        self.n_samples_ = n_samples
        self.noise_variance_ = dtype.type(result["noise_variance"])

    _core_project = staticmethod(_core.pca_transform)

    def _sklearn_fitted_state(self):
        state = super()._sklearn_fitted_state()
        # scikit-learn's types: n_components_ is NumPy's where it was searched for (a variance
        # fraction, "mle"), and noise_variance_ the Python 0.0 where no component is dropped.
        if isinstance(self.n_components, (numbers.Real, str)) and not isinstance(
                self.n_components, numbers.Integral):
            state["n_components_"] = np.int64(self.n_components_)
        if self.n_components_ >= min(self.n_samples_, self.n_features_in_):
            state["noise_variance_"] = 0.0
        return state

    def _model(self):
        check_is_fitted(self)
        return {"components": self.components_, "explained_variance": self.explained_variance_,
                "mean": self.mean_, "noise_variance": float(self.noise_variance_),
                "whiten": bool(self.whiten)}

    def transform(self, X):
        """Project X on the principal components (whitened when ``whiten``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        X_new : array of shape (n_samples, n_components), of the kind of array that came in
            (dense NumPy for sparse input)
        """
        return self._project(X)


    def fit_transform(self, X, y=None):
        """Fit on X, then return U S of its SVD, as scikit-learn's fit_transform does
        (``U * sqrt(n_samples - 1)`` when ``whiten``). That is ``fit(X).transform(X)`` but for
        the randomized solver on data with at least as many samples as features, whose U spans
        the sampled range only, so that U S differs from ``transform(X)`` by the
        approximation's error.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        X_new : array of shape (n_samples, n_components), of the kind of array that came in
        """
        return self._fit_transform(X)

    def inverse_transform(self, X):
        """Map projections back to the data space: ``X @ components_ + mean_`` (whitening
        undone when ``whiten``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)

        Returns
        -------
        X_original : array of shape (n_samples, n_features)
        """
        return self._project(X, inverse=True)

    def get_covariance(self):
        """The model's data covariance, (n_features, n_features), as scikit-learn computes it."""
        model = self._model()
        return _core.pca_covariance(_devices.context("cpu"), model, self.components_.dtype.name,
                                    False)

    def get_precision(self):
        """The inverse of :meth:`get_covariance`, by the matrix inversion lemma."""
        model = self._model()
        return _core.pca_covariance(_devices.context("cpu"), model, self.components_.dtype.name,
                                    True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self.svd_solver in SPARSE_SOLVERS
        return tags

    def score_samples(self, X):
        """The log-likelihood of each sample under the probabilistic PCA model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ll : array of shape (n_samples,), of the kind of array that came in
        """
        model = self._model()
        p = self._prepare(X, reset=False, dtype=self.components_.dtype)
        ctx, X_ref = p.ctx, p.ref
        ll = _core.pca_score_samples(ctx, model, X_ref)
        if p.on_device:
            ll = _arrays.to_device_like(p.X, ll)
        return self._output(ll, p.kind)

    def score(self, X, y=None):
        """The average log-likelihood of the samples."""
        ll = self.score_samples(X)
        return float(np.mean(_arrays.to_host(_arrays.convert_output(ll, "numpy"))))
