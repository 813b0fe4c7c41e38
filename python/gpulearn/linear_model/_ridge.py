"""Ridge regression on the CPU or a GPU."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

from .. import _core
from ._base import LINEAR_ATTRIBUTES, LinearRegressorBase

_SUPPORTED_SOLVERS = ("auto", "cholesky", "svd")
# Solvers for sparse X only: matrix-free conjugate gradients (src/linear_model/
# sparse_linear_data.cpp); "lsqr" runs the same iteration, which reaches the same solution.
_SPARSE_SOLVERS = ("sparse_cg", "lsqr")


class Ridge(LinearRegressorBase, BaseEstimator):
    """Linear least squares with L2 regularisation, on the CPU or a GPU.

    A drop-in replacement for :class:`sklearn.linear_model.Ridge` for dense and sparse data.
    Minimises ``||y - Xw||^2_2 + alpha * ||w||^2_2`` (weighted by ``sample_weight``), for one or
    several targets, with one ``alpha`` or one per target.

    Parameters
    ----------
    alpha : float or array-like of shape (n_targets,), default=1.0
        Regularisation strength, >= 0; an array gives each target its own penalty.
    fit_intercept : bool, default=True
        Whether to fit the intercept.
    copy_X : bool, default=True
        Accepted for compatibility: gpulearn never writes to ``X``.
    max_iter : int, default=None
        The conjugate-gradient iteration limit (sparse ``X``, "sparse_cg"/"lsqr"; None: 10 x
        n_features, scipy's default); the direct solvers ignore it.
    tol : float, default=1e-4
        The conjugate gradients' relative residual tolerance; the direct solvers ignore it.
    solver : {"auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga", "lbfgs"}, \
            default="auto"
        "auto" and "cholesky": the normal equations ``(Xc^T Xc + alpha I) w = Xc^T yc`` solved
        by Cholesky (an eigendecomposition when alphas differ per target), falling back to
        "svd" when that system is singular, as scikit-learn does. "svd": a QR decomposition of
        ``X`` and an SVD of its R factor. For sparse ``X`` (never densified; centring
        implicit) the same direct solvers run on the Gram matrix for up to 4096 features;
        "sparse_cg" and "lsqr" run matrix-free conjugate gradients to ``tol``, and so does
        "auto" beyond 4096 features, or beyond 256 where the Gram matrix would cost more than
        about 100 of their iterations (nnz^2 / n + d^3 / 3 > 200 nnz; scikit-learn's "auto" is
        "sparse_cg" for any sparse ``X``); "svd", and "cholesky" with an intercept, are refused for sparse
        ``X`` as in scikit-learn. The other iterative solvers ("sag", "saga", "lbfgs"), and
        "sparse_cg"/"lsqr" on dense ``X``, raise ``NotImplementedError``.
    positive : bool, default=False
        Not implemented yet: True raises ``NotImplementedError``.
    random_state : int, RandomState instance or None, default=None
        Used by scikit-learn's "sag"/"saga" only; no effect here.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where to compute; see :class:`gpulearn.linear_model.LinearRegression`.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Weight vector(s), in the dtype of ``X``.
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term; 0.0 when ``fit_intercept=False``.
    n_iter_ : None
        Direct solvers take no iterations (as scikit-learn reports for them).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.
    solver_ : str
        The solver used: "cholesky" or "svd".

    See Also
    --------
    sklearn.linear_model.Ridge : the CPU reference this class follows.

    Notes
    -----
    Conversion: ``from_sklearn`` and ``as_sklearn`` copy ``coef_``, ``intercept_``, ``n_iter_`` and
    ``solver_`` as they are; a scikit-learn fit by an iterative solver ("sag", "lbfgs", ...)
    converts too (gpulearn cannot refit it, but predicts with it). Predictions agree to
    rounding: within 1e-12 relative in float64, 1e-5 in float32.

    Examples
    --------
    >>> import numpy as np
    >>> from gpulearn.linear_model import Ridge
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(100, 5)), rng.normal(size=100)
    >>> Ridge(alpha=1.0, device="cpu").fit(X, y).coef_.shape
    (5,)
    """

    _sklearn_estimator = "sklearn.linear_model.Ridge"
    _sklearn_attributes = (*LINEAR_ATTRIBUTES, "n_iter_", "solver_")

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left"), "array-like"],
        "fit_intercept": ["boolean"],
        "copy_X": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga",
                               "lbfgs"})],
        "positive": ["boolean"],
        "random_state": ["random_state"],
        "device": [str],
    }

    _ravel_single_target = True

    def __init__(self, alpha=1.0, *, fit_intercept=True, copy_X=True, max_iter=None, tol=1e-4,
                 solver="auto", positive=False, random_state=None, device="auto"):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.solver = solver
        self.positive = positive
        self.random_state = random_state
        self.device = device

    def _check_params(self):
        super()._check_params()
        if self.solver not in _SUPPORTED_SOLVERS + _SPARSE_SOLVERS:
            raise NotImplementedError(
                f"solver={self.solver!r} is not implemented in gpulearn's Ridge; use one of "
                f"{_SUPPORTED_SOLVERS} (direct solvers giving the same solution)"
            )
        alpha = np.asarray(self.alpha, dtype=np.float64)
        if alpha.ndim > 1 or not np.all(np.isfinite(alpha)) or np.any(alpha < 0):
            raise ValueError(
                f"alpha must be a non-negative float or a 1-D array of them; got {self.alpha!r}"
            )

    def _check_params_for(self, is_sparse):
        if not is_sparse:
            if self.solver in _SPARSE_SOLVERS:
                raise NotImplementedError(
                    f"solver={self.solver!r} is not implemented in gpulearn's Ridge for dense X "
                    f"(sparse X only); use one of {_SUPPORTED_SOLVERS} (direct solvers giving "
                    "the same solution)"
                )
            return
        # scikit-learn's Ridge.fit: no SVD of a sparse X, and its Cholesky solver does not fit
        # an intercept on sparse data (gpulearn's would, by implicit centring, but refuses the
        # same options so that code moves between the two unchanged).
        if self.fit_intercept and self.solver not in ("auto", "lbfgs", "lsqr", "sag",
                                                      "sparse_cg"):
            raise ValueError(
                f"solver='{self.solver}' does not support fitting the intercept on sparse data. "
                "Please set the solver to 'auto' or 'lsqr', 'sparse_cg', 'sag', 'lbfgs' or set "
                "`fit_intercept=False`")
        if self.solver == "svd":
            raise TypeError("SVD solver does not support sparse inputs currently")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self.solver != "svd" and (
            self.solver != "cholesky" or not self.fit_intercept)
        return tags

    def _core_fit(self, ctx, n_features, n_targets, *data):
        alpha = np.atleast_1d(np.asarray(self.alpha, dtype=np.float64))
        if alpha.size != 1 and alpha.size != n_targets:
            raise ValueError(
                "Number of targets and number of penalties do not correspond: "
                f"{alpha.size} != {n_targets}"
            )
        params = _core.RidgeParams(alpha=alpha.tolist(), fit_intercept=bool(self.fit_intercept),
                                   solver=self.solver, positive=bool(self.positive),
                                   tol=float(self.tol),
                                   max_iter=0 if self.max_iter is None else int(self.max_iter))
        return _core.ridge_fit(ctx, params, *data)

    def _set_extra(self, result):
        solver = result["solver"]
        # scikit-learn reports n_iter_ for "lsqr" only (None for "sparse_cg" and the direct
        # solvers); here "lsqr" reports the conjugate-gradient iterations per target.
        self.n_iter_ = (np.asarray(result["n_iter"], dtype=np.int32) if solver == "lsqr"
                        else None)
        self.solver_ = solver if solver in ("svd", "sparse_cg", "lsqr") else "cholesky"
