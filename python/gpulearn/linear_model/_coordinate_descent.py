"""Lasso and ElasticNet by coordinate descent, on the CPU or a GPU."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from .. import _core
from ._base import LINEAR_ATTRIBUTES, LinearRegressorBase

# scikit-learn's bound for the seed of its coordinate-descent generator (RAND_R_MAX).
_RAND_R_MAX = 2**31 - 1


class ElasticNet(LinearRegressorBase, BaseEstimator):
    """Linear regression with combined L1 and L2 priors, on the CPU or a GPU.

    A drop-in replacement for :class:`sklearn.linear_model.ElasticNet` for dense and sparse data.
    Minimises, for each target::

        1 / (2 * n_samples) * ||y - Xw||^2_2
        + alpha * l1_ratio * ||w||_1 + 0.5 * alpha * (1 - l1_ratio) * ||w||^2_2

    (with ``sample_weight``, the squared errors are averaged with those weights) by
    scikit-learn's coordinate descent: the same updates, coordinate order (also for
    ``selection="random"`` with a given ``random_state``), gap-safe screening and duality-gap
    stopping rule. When ``n_samples >= n_features`` the descent runs on the Gram matrix
    ``Xc^T Xc``, formed once on the device (so each update costs O(n_features), whatever
    ``n_samples``); on wider data it runs over a centred copy of ``X`` in host memory.

    Parameters
    ----------
    alpha : float, default=1.0
        Constant that multiplies the penalty terms, >= 0. ``alpha = 0`` is ordinary least
        squares; prefer :class:`gpulearn.linear_model.LinearRegression` for it.
    l1_ratio : float, default=0.5
        The ElasticNet mixing parameter, in [0, 1]: 1 is the lasso (L1) penalty, 0 the L2
        penalty.
    fit_intercept : bool, default=True
        Whether to fit the intercept (``X`` and ``y`` are centred first).
    precompute : bool or "auto" or array-like of shape (n_features, n_features), default=False
        ``True`` forces the Gram-matrix descent. ``False`` and ``"auto"`` let gpulearn choose
        (the Gram matrix when ``n_samples >= n_features``): the iterates are the same either
        way. A precomputed array is checked for its shape and not used: the Gram matrix is
        formed from ``X`` on the device.
    max_iter : int, default=1000
        The maximum number of sweeps over the coordinates.
    copy_X : bool, default=True
        Accepted for compatibility: gpulearn never writes to ``X``.
    tol : float, default=1e-4
        After a sweep whose largest coefficient update is at most ``tol`` times the largest
        coefficient, the duality gap is computed; the fit stops once it is at most
        ``tol * ||y - mean(y)||^2 / n_samples`` (weighted).
    warm_start : bool, default=False
        Start from the previous ``coef_``.
    positive : bool, default=False
        Constrain the coefficients to be non-negative.
    random_state : int, RandomState instance or None, default=None
        Seeds the coordinate order when ``selection="random"``, as in scikit-learn.
    selection : {"cyclic", "random"}, default="cyclic"
        Visit coordinates in order, or draw one at random per update.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where to compute; see :class:`gpulearn.linear_model.LinearRegression`.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Parameter vector(s), in the dtype of ``X``.
    sparse_coef_ : sparse matrix of shape (1, n_features) or (n_targets, n_features)
        ``coef_`` as a scipy CSR matrix (``csr_matrix``, as scikit-learn gives).
    intercept_ : float or ndarray of shape (n_targets,)
        Independent term; 0.0 when ``fit_intercept=False``.
    n_iter_ : int or list of int
        Sweeps run, per target.
    dual_gap_ : float or ndarray of shape (n_targets,)
        The duality gap at the end of the descent, per target.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.ElasticNet : the CPU reference this class follows.
    Lasso : the special case ``l1_ratio=1``.

    Notes
    -----
    Conversion: ``from_sklearn`` and ``as_sklearn`` copy ``coef_``, ``intercept_``, ``n_iter_`` and
    ``dual_gap_`` as they are (``sparse_coef_`` is computed from ``coef_`` on both sides).
    ``ElasticNet.from_sklearn`` refuses a scikit-learn Lasso: convert it with
    :class:`Lasso`. Predictions agree to rounding: within 1e-12 relative in float64, 1e-5 in
    float32.

    Examples
    --------
    >>> import numpy as np
    >>> from gpulearn.linear_model import ElasticNet
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> y = X @ np.array([1.0, 0.0, 2.0, 0.0, 0.5]) + 0.1 * rng.normal(size=200)
    >>> ElasticNet(alpha=0.1, device="cpu").fit(X, y).coef_.shape
    (5,)
    """

    _sklearn_estimator = "sklearn.linear_model.ElasticNet"
    _sklearn_attributes = (*LINEAR_ATTRIBUTES, "n_iter_", "dual_gap_")

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "precompute": ["boolean", "array-like", StrOptions({"auto"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "copy_X": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "positive": ["boolean"],
        "random_state": ["random_state"],
        "selection": [StrOptions({"cyclic", "random"})],
        "device": [str],
    }

    _supports_positive = True
    _ravel_single_target = True

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, precompute=False,
                 max_iter=1000, copy_X=True, tol=1e-4, warm_start=False, positive=False,
                 random_state=None, selection="cyclic", device="auto"):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.random_state = random_state
        self.selection = selection
        self.device = device

    def fit(self, X, y, sample_weight=None, check_input=True):
        """Fit the model by coordinate descent.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data: NumPy, pandas, CuPy, PyTorch or any DLPack array. float32 stays
            float32; other numeric types become float64. scipy.sparse matrices and arrays are
            taken as they are (never densified): the descent runs on their columns, centred
            implicitly, as scikit-learn's does.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values, converted to the dtype of X.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Non-negative weights of the samples; a number means equal weights.
        check_input : bool, default=True
            Accepted for compatibility: gpulearn always checks its input.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        sample_weight = self._check_fit_input(X, sample_weight)
        return super().fit(X, y, sample_weight)

    def _check_fit_input(self, X, sample_weight):
        if self.alpha == 0:
            warnings.warn(
                "With alpha=0, this algorithm does not converge well. You are advised to use "
                "the LinearRegression estimator", stacklevel=3)
        return None if isinstance(sample_weight, Real) else sample_weight

    def _core_fit(self, ctx, n_features, n_targets, *data):
        # scikit-learn ignores precompute for sparse X: its descent runs on the data, centred
        # implicitly, and so does this one (coordinate_descent.cpp, SparseDataOps).
        is_sparse = isinstance(data[0], _core.CsrRef)
        if not is_sparse and not isinstance(self.precompute, (bool, str)):
            gram = np.asarray(self.precompute)
            if gram.shape != (n_features, n_features):
                raise ValueError(
                    f"Gram matrix has shape {gram.shape}, expected ({n_features}, "
                    f"{n_features}) for X of {n_features} features"
                )
        path = "gram" if self.precompute is True and not is_sparse else "auto"
        # scikit-learn draws one seed per target from check_random_state(random_state), always
        # (its cyclic descent draws and ignores it too).
        seeds = [int(check_random_state(self.random_state).randint(0, _RAND_R_MAX))
                 for _ in range(n_targets)]
        coef_init = None
        if self.warm_start and hasattr(self, "coef_"):
            prev = np.atleast_2d(np.asarray(self.coef_, dtype=np.float64))
            if prev.shape == (n_targets, n_features):
                coef_init = prev
        params = _core.ElasticNetParams(
            alpha=float(self.alpha), l1_ratio=float(self.l1_ratio),
            fit_intercept=bool(self.fit_intercept), max_iter=int(self.max_iter),
            tol=float(self.tol), positive=bool(self.positive), selection=self.selection,
            seeds=seeds, path=path)
        return _core.elastic_net_fit(ctx, params, *data, coef_init)

    def _set_extra(self, result):
        n_iter = [int(v) for v in result["n_iter"]]
        gaps = np.asarray(result["dual_gap"], dtype=self.coef_.dtype)
        single = np.ndim(self.coef_) == 1
        self.n_iter_ = n_iter[0] if single else n_iter
        self.dual_gap_ = gaps[0] if single else gaps
        for gap, tol, ok in zip(result["dual_gap"], result["gap_tol"], result["converged"]):
            if not ok:
                message = (
                    "Objective did not converge. You might want to increase the number of "
                    "iterations, check the scale of the features or consider increasing "
                    f"regularisation. Duality gap: {gap:.6e}, tolerance: {tol:.3e}"
                )
                if self.alpha < np.finfo(np.float64).eps:
                    message += (
                        "\nLinear regression models with a zero l1 penalization strength are "
                        "more efficiently fitted using one of the solvers implemented in "
                        "sklearn.linear_model.Ridge/RidgeCV instead."
                    )
                warnings.warn(message, ConvergenceWarning, stacklevel=3)

    @property
    def sparse_coef_(self):
        """``coef_`` as a scipy CSR matrix (scikit-learn's type: ``*`` is the matrix product)."""
        return sparse.csr_matrix(np.atleast_2d(self.coef_))


class Lasso(ElasticNet):
    """Linear model trained with an L1 prior (the lasso), on the CPU or a GPU.

    A drop-in replacement for :class:`sklearn.linear_model.Lasso` for dense and sparse data:
    ElasticNet with ``l1_ratio=1``, minimising
    ``1 / (2 * n_samples) * ||y - Xw||^2_2 + alpha * ||w||_1``.
    Parameters and attributes are those of :class:`ElasticNet`, without ``l1_ratio``;
    conversion too (same tolerances).

    See Also
    --------
    sklearn.linear_model.Lasso : the CPU reference this class follows.

    Examples
    --------
    >>> import numpy as np
    >>> from gpulearn.linear_model import Lasso
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    >>> reg = Lasso(alpha=0.1, device="cpu").fit(X, [0.0, 1.0, 2.0])
    >>> np.round(reg.coef_, 2).tolist(), round(float(reg.intercept_), 2)
    ([0.85, 0.0], 0.15)
    """

    _sklearn_estimator = "sklearn.linear_model.Lasso"

    _parameter_constraints = {
        k: v for k, v in ElasticNet._parameter_constraints.items() if k != "l1_ratio"
    }

    def __init__(self, alpha=1.0, *, fit_intercept=True, precompute=False, copy_X=True,
                 max_iter=1000, tol=1e-4, warm_start=False, positive=False, random_state=None,
                 selection="cyclic", device="auto"):
        super().__init__(
            alpha=alpha, l1_ratio=1.0, fit_intercept=fit_intercept, precompute=precompute,
            max_iter=max_iter, copy_X=copy_X, tol=tol, warm_start=warm_start,
            positive=positive, random_state=random_state, selection=selection, device=device)
