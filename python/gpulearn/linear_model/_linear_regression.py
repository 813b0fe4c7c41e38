"""Ordinary least squares on the CPU or a GPU."""

from numbers import Integral, Real

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from .. import _core
from ._base import LINEAR_ATTRIBUTES, LinearRegressorBase


class LinearRegression(LinearRegressorBase, BaseEstimator):
    """Ordinary least squares linear regression, on the CPU or a GPU.

    A drop-in replacement for :class:`sklearn.linear_model.LinearRegression` for dense and
    sparse data. Sparse ``X`` is never densified: up to 4096 features the same solvers run on
    its Gram matrix (centring implicit); beyond, conjugate gradients on the normal equations
    give the minimum-norm solution to ``tol`` (scikit-learn uses LSQR there), and ``rank_`` and
    ``singular_`` are not set, as in scikit-learn for sparse ``X``.
    Well-conditioned problems are solved through the normal equations (the weighted, centred
    Gram matrix accumulated in row chunks, then a symmetric eigendecomposition); rank-deficient
    or ill-conditioned ones through a QR decomposition of ``X`` and an SVD of its R factor,
    giving the minimum-norm solution as :func:`scipy.linalg.lstsq` does for scikit-learn.

    Parameters
    ----------
    fit_intercept : bool, default=True
        Whether to calculate the intercept for this model. If False, no intercept is used
        (the data are expected to be centred).
    copy_X : bool, default=True
        Accepted for compatibility: gpulearn never writes to ``X``, so no copy is needed.
    tol : float, default=1e-6
        Singular values of the centred ``X`` smaller than ``tol`` times the largest are treated
        as zero (the ``cond`` of :func:`scipy.linalg.lstsq`, as in scikit-learn >= 1.9; a
        ``tol`` of 0 or >= 1 means machine epsilon, as there). One difference, on purpose: when
        ``X`` is not clearly full rank (the Cholesky check of the normal equations fails), a
        singular value below the rounding floor ``eps * n_features * s_max``
        (:func:`scipy.linalg.pinv`'s default) is treated as rounding noise and dropped. An exactly repeated column therefore always lowers ``rank_``, whereas
        scikit-learn's ``rank_`` at ``tol=0`` depends on the rounding of its SVD there.
    n_jobs : int, default=None
        Accepted for compatibility; gpulearn's CPU backend uses every core.
    positive : bool, default=False
        Constrain coefficients to be non-negative. Not implemented yet: True raises
        ``NotImplementedError``.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where to compute. "auto" follows ``gpulearn.set_config(device=...)``, which defaults to
        the GPU when one is available (the GPU holding the data when it is already there).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Estimated coefficients, in the dtype of ``X`` (float32 stays float32).
    rank_ : int
        Rank of the centred (and weighted) ``X``.
    singular_ : ndarray of shape (min(n_samples, n_features),)
        Singular values of the centred (and weighted) ``X``.
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term; 0.0 when ``fit_intercept=False``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LinearRegression : the CPU reference this class follows.
    gpulearn.linear_model.Ridge : least squares with L2 regularisation.

    Notes
    -----
    Conversion: ``from_sklearn`` and ``as_sklearn`` copy ``coef_``, ``intercept_``, ``rank_`` and
    ``singular_`` as they are (a scikit-learn fit with ``positive=True`` converts too: only
    prediction needs the coefficients). Predictions of a converted model agree with the
    original's to rounding (the same ``X @ coef_.T + intercept_``, summed in another order):
    within 1e-12 relative in float64, 1e-5 in float32.

    Examples
    --------
    >>> import numpy as np
    >>> from gpulearn.linear_model import LinearRegression
    >>> X = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 2.0], [2.0, 3.0]])
    >>> y = X @ np.array([1.0, 2.0]) + 3.0
    >>> reg = LinearRegression(device="cpu").fit(X, y)
    >>> np.round(reg.coef_, 6).tolist(), round(float(reg.intercept_), 6)
    ([1.0, 2.0], 3.0)
    """

    _sklearn_estimator = "sklearn.linear_model.LinearRegression"
    _sklearn_attributes = (*LINEAR_ATTRIBUTES, "rank_", "singular_")

    _parameter_constraints = {
        "fit_intercept": ["boolean"],
        "copy_X": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [None, Integral],
        "positive": ["boolean"],
        "device": [str],
    }

    def __init__(self, *, fit_intercept=True, copy_X=True, tol=1e-6, n_jobs=None,
                 positive=False, device="auto"):
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.tol = tol
        self.n_jobs = n_jobs
        self.positive = positive
        self.device = device

    def _core_fit(self, ctx, n_features, n_targets, *data):
        params = _core.LinearRegressionParams(fit_intercept=bool(self.fit_intercept),
                                              tol=float(self.tol), positive=bool(self.positive))
        return _core.linear_regression_fit(ctx, params, *data)

    def _set_extra(self, result):
        if result["solver"] == "sparse_cg":
            # Sparse X beyond 4096 features: conjugate gradients, no spectrum; scikit-learn sets
            # neither attribute for sparse X.
            for name in ("rank_", "singular_"):
                self.__dict__.pop(name, None)
            return
        self.rank_ = int(result["rank"])
        self.singular_ = result["singular_values"]
