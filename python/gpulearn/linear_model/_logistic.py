"""Logistic regression (binary and multinomial) on the CPU or a GPU."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from .. import _arrays, _core
from .._base import DeviceEstimatorMixin
from .._config import check_device_string
from ._base import LINEAR_ATTRIBUTES

_SOLVERS = ("lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga")


def _resolve_penalty(est):
    """scikit-learn 1.8+'s reading of ``penalty``, ``l1_ratio`` and ``C``, with its warnings
    and errors: returns (penalty, l1_ratio used, C used)."""
    if est.penalty == "deprecated":
        if est.l1_ratio == 0 or est.l1_ratio is None:
            penalty = "l2"
            if est.l1_ratio is None:
                warnings.warn(
                    "'l1_ratio=None' was deprecated in version 1.8 and will trigger an error "
                    "in 1.10. Use 0<=l1_ratio<=1 instead.", FutureWarning)
        elif est.l1_ratio == 1:
            penalty = "l1"
        else:
            penalty = "elasticnet"
        if est.C == np.inf:
            penalty = None
    else:
        penalty = est.penalty
        warnings.warn(
            "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid "
            "this warning, leave 'penalty' set to its default value and use 'l1_ratio' or 'C' "
            "instead. Use l1_ratio=0 instead of penalty='l2', l1_ratio=1 instead of "
            "penalty='l1', l1_ratio set to a float between 0 and 1 instead of "
            "penalty='elasticnet', and C=np.inf instead of penalty=None.", FutureWarning)
    solver = est.solver
    if solver not in ("liblinear", "saga") and penalty not in ("l2", None):
        raise ValueError(
            f"Solver {solver} supports only 'l2' or None penalties, got {penalty} penalty.")
    if solver != "liblinear" and est.dual:
        raise ValueError(f"Solver {solver} supports only dual=False, got dual={est.dual}")
    if penalty == "elasticnet" and solver != "saga":
        raise ValueError(
            f"Only 'saga' solver supports elasticnet penalty, got solver={solver}.")
    if solver == "liblinear" and penalty is None:
        raise ValueError(
            "C=np.inf as well as penalty=None is not supported for the liblinear solver")
    if penalty != "elasticnet" and est.l1_ratio is not None and 0 < est.l1_ratio < 1:
        warnings.warn(
            f"l1_ratio parameter is only used when penalty is 'elasticnet'. Got "
            f"(penalty={penalty})")
    if (est.penalty == "l2" and est.l1_ratio != 0) or (
            est.penalty == "l1" and est.l1_ratio != 1):
        warnings.warn(
            f"Inconsistent values: penalty={est.penalty} with l1_ratio={est.l1_ratio}. "
            "penalty is deprecated. Please use l1_ratio only.")
    if penalty == "elasticnet" and est.l1_ratio is None:
        raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
    if est.penalty is None:
        if est.C != 1.0:
            warnings.warn("Setting penalty=None will ignore the C and l1_ratio parameters")
        return None, 0.0, np.inf
    ratio = {"l2": 0.0, "l1": 1.0}.get(penalty, est.l1_ratio)
    return penalty, float(ratio), (np.inf if penalty is None else float(est.C))


class LogisticRegression(ClassifierMixin, DeviceEstimatorMixin, BaseEstimator):
    """Logistic regression (binary and multinomial), on the CPU or a GPU.

    A drop-in replacement for :class:`sklearn.linear_model.LogisticRegression` for dense and
    scipy.sparse data (sparse input on the CPU and CUDA devices; see docs/sparse.md).
    Minimises scikit-learn's objective::

        C * sum_i s_i * loss_i + (1 - l1_ratio) / 2 * ||W||_F^2 + l1_ratio * ||W||_1

    with the binomial loss for two classes (one coefficient row, the log-odds of
    ``classes_[1]``) and the multinomial (softmax) loss for three or more (one row per class),
    ``s_i`` the sample weights times the class weights. The intercepts are not penalised.

    Solvers: gpulearn runs L-BFGS when the penalty is smooth (L2 or none) and OWL-QN (L-BFGS
    for L1-regularised objectives) when it has an L1 part; each evaluation of the loss and its
    gradient is one pass over ``X`` on the device (a GEMM, a fused loss kernel, a GEMM). The
    ``solver`` names scikit-learn accepts are accepted with scikit-learn's penalty rules, and
    all reach the same optimum as scikit-learn's solver of that name: "lbfgs", "newton-cg",
    "newton-cholesky", "sag" and "saga" minimise the objective above; "liblinear" (binary
    only) also penalises the intercept as the weight of a constant feature of value
    ``intercept_scaling``, as LIBLINEAR does, and gpulearn minimises that objective.

    Parameters
    ----------
    penalty : {"l1", "l2", "elasticnet", None}, default="deprecated"
        Deprecated in scikit-learn 1.8 in favour of ``l1_ratio`` and ``C``; honoured here as
        there, with the same FutureWarning.
    C : float, default=1.0
        Inverse of the regularisation strength, > 0; ``np.inf`` for no penalty.
    l1_ratio : float, default=0.0
        The L1 share of the penalty, in [0, 1] (0: L2, 1: L1).
    dual : bool, default=False
        Accepted with "liblinear" and the L2 penalty, as in scikit-learn; gpulearn solves the
        primal problem, whose optimum is the same.
    tol : float, default=1e-4
        Stop once every component of the objective's gradient (its minimum-norm subgradient
        with an L1 part), scaled as scikit-learn's L-BFGS sees it (divided by
        ``C * sum_i s_i``), is at most ``tol``.
    fit_intercept : bool, default=True
        Whether to fit an intercept per coefficient row.
    intercept_scaling : float, default=1
        Used with ``solver="liblinear"`` only (see above).
    class_weight : dict or "balanced", default=None
        Weights of the classes, multiplied into the sample weights; "balanced" gives
        ``n_samples / (n_classes * np.bincount(y))``.
    random_state : int, RandomState instance or None, default=None
        Used by scikit-learn's stochastic solvers to shuffle the data; gpulearn's solver is
        deterministic, so it has no effect.
    solver : {"lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"}, \
            default="lbfgs"
        Which scikit-learn solver's problem to solve (see above).
    max_iter : int, default=100
        The most solver iterations; a ConvergenceWarning is given when it is reached.
    verbose : int, default=0
        Accepted for compatibility; no effect.
    warm_start : bool, default=False
        Start from the previous solution.
    n_jobs : None
        Accepted for compatibility (scikit-learn 1.8 deprecated it); no effect.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
        Where to compute; see :class:`gpulearn.linear_model.LinearRegression`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients, in the dtype of ``X``.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts; zeros when ``fit_intercept=False``.
    n_iter_ : ndarray of shape (1,)
        Solver iterations run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : the CPU reference this class follows.

    Notes
    -----
    Conversion: ``from_sklearn`` and ``as_sklearn`` copy ``classes_``, ``coef_``,
    ``intercept_`` and ``n_iter_`` as they are. gpulearn predicts with the binomial model
    for two classes and the multinomial (softmax) one for more, as scikit-learn >= 1.8 does; a
    scikit-learn fit with ``multi_class="ovr"`` (older versions) on three or more classes
    raises NotImplementedError. Decision functions and probabilities agree to rounding (the
    same formulas, summed in another order): within 1e-12 relative in float64 (absolute for
    probabilities), 1e-5 in float32; predicted labels are equal away from ties.

    Examples
    --------
    >>> import numpy as np
    >>> from gpulearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    >>> clf = LogisticRegression(device="cpu").fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _sklearn_estimator = "sklearn.linear_model.LogisticRegression"
    _sklearn_attributes = (*LINEAR_ATTRIBUTES, "classes_", "n_iter_")

    _parameter_constraints = {
        "penalty": [StrOptions({"l1", "l2", "elasticnet"}), None,
                    Hidden(StrOptions({"deprecated"}))],
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "dual": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "random_state": ["random_state"],
        "solver": [StrOptions(set(_SOLVERS))],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "n_jobs": [None, Integral],
        "device": [str],
    }

    def __init__(self, penalty="deprecated", *, C=1.0, l1_ratio=0.0, dual=False, tol=1e-4,
                 fit_intercept=True, intercept_scaling=1, class_weight=None, random_state=None,
                 solver="lbfgs", max_iter=100, verbose=0, warm_start=False, n_jobs=None,
                 device="auto"):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.device = device

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data: NumPy, pandas, CuPy, PyTorch or any DLPack array, or a
            scipy.sparse matrix or array (CSR, CSC or COO; fitted without densifying, on the
            CPU). float32 stays float32; other numeric types become float64.
        y : array-like of shape (n_samples,)
            Class labels (numbers or strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        l1_ratio, C = self._check_fit_params()
        p = self._prepare(X, _arrays.to_host(y), reset=True, accept_sparse=True)
        y = p.y
        if p.on_device:
            y = np.asarray(y)
            if y.ndim != 1 or y.shape[0] != p.n_samples:
                raise ValueError(f"y must be 1-D with {p.n_samples} entries, got shape {y.shape}")
        dtype, n_samples, n_features = p.dtype, p.n_samples, p.n_features
        check_classification_targets(y)
        n_classes = self._set_classes(np.unique(y))
        labels = np.searchsorted(self.classes_, y).astype(np.int32)

        w = w_ref = None
        if sample_weight is not None or self.class_weight is not None:
            w = _check_sample_weight(_arrays.to_host(sample_weight), np.empty((n_samples, 0)),
                                     dtype=dtype, copy=True, ensure_non_negative=True)
            if self.class_weight is not None:
                cw = compute_class_weight(self.class_weight, classes=self.classes_, y=y,
                                          sample_weight=w)
                w *= cw[labels].astype(dtype)
            w, w_ref = p.put(w, "sample_weight")

        # Sparse X: the same driver over the CSR data's passes (no dense copy of X).
        fit = _core.logistic_fit_sparse if p.sparse else _core.logistic_fit
        result = fit(p.ctx, self._core_params(l1_ratio, C), p.ref, labels, n_classes, w_ref,
                     self._coef_init(n_classes, n_features))
        return self._set_fitted(result, dtype)

    # fit = _check_fit_params + _set_classes + a core fit + _set_fitted: the steps gpulearn.dask's
    # LogisticRegression shares, with the core fit run over its row blocks.
    def _check_fit_params(self):
        """Validates the hyper-parameters (scikit-learn's rules and warnings); returns the
        (l1_ratio, C) the core minimises with."""
        self._validate_params()
        check_device_string(self.device)
        _, l1_ratio, C = _resolve_penalty(self)
        if self.n_jobs is not None:
            warnings.warn(
                "'n_jobs' has no effect since 1.8 and will be removed in 1.10. You provided "
                f"'n_jobs={self.n_jobs}', please leave it unspecified.", FutureWarning)
        return l1_ratio, C

    def _set_classes(self, classes):
        """Sets ``classes_`` (the sorted distinct labels) and returns their number, refused
        where the solver cannot fit them."""
        self.classes_ = classes
        n_classes = len(self.classes_)
        if self.solver == "liblinear" and n_classes > 2:
            raise ValueError(
                "The 'liblinear' solver does not support multiclass classification "
                "(n_classes >= 3). Either use another solver or wrap the estimator in a "
                "OneVsRestClassifier to keep applying a one-versus-rest scheme.")
        if n_classes < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {self.classes_[0]!r}")
        return n_classes

    def _core_params(self, l1_ratio, C):
        scaling = float(self.intercept_scaling) if self.solver == "liblinear" else 0.0
        return _core.LogisticRegressionParams(
            C=C, l1_ratio=l1_ratio, fit_intercept=bool(self.fit_intercept),
            max_iter=int(self.max_iter), tol=float(self.tol), intercept_scaling=scaling)

    def _coef_init(self, n_classes, n_features):
        """The warm start ((n_outputs, n_features + 1) float64: coefficients, then intercept),
        or None."""
        n_outputs = 1 if n_classes == 2 else n_classes
        if self.warm_start and hasattr(self, "coef_"):
            prev = np.hstack([np.atleast_2d(self.coef_),
                              np.asarray(self.intercept_).reshape(-1, 1)]).astype(np.float64)
            if prev.shape == (n_outputs, n_features + 1):
                return prev
        return None

    def _set_fitted(self, result, dtype):
        """Sets the fitted attributes from the core's record (warns where it did not
        converge); returns self."""
        self.coef_ = result["coef"]
        self.intercept_ = result["intercept"]
        if not self.fit_intercept:
            self.intercept_ = np.zeros(self.coef_.shape[0], dtype=dtype)
        self.n_iter_ = np.array([result["n_iter"]], dtype=np.int32)
        if not result["converged"]:
            message = (f"{self.solver} failed to converge after {result['n_iter']} "
                       f"iteration(s): {result['message']}.")
            if result["n_iter"] == self.max_iter:
                message += ("\nIncrease the number of iterations to improve the convergence "
                            f"(max_iter={self.max_iter}).")
            message += ("\nYou might also want to scale the data as shown in:\n"
                        "    https://scikit-learn.org/stable/modules/preprocessing.html")
            warnings.warn(message, ConvergenceWarning, stacklevel=3)
        return self

    def _adopt_sklearn_state(self, state):
        # scikit-learn < 1.8's one-vs-rest model (multi_class="ovr", or "auto" with liblinear)
        # normalises per-class sigmoids; gpulearn's multiclass model is the softmax. With two
        # classes both are the binomial model.
        multi_class = state.get("multi_class", "deprecated")
        if len(state["classes_"]) > 2 and (
                multi_class == "ovr" or (multi_class == "auto" and state.get("solver") ==
                                         "liblinear")):
            raise NotImplementedError(
                f"LogisticRegression fitted with multi_class={multi_class!r} on more than two "
                "classes (one-vs-rest probabilities): gpulearn's multiclass model is the "
                "multinomial one")
        super()._adopt_sklearn_state(state)
        # scikit-learn predicts with a 1-D coef_ and a scalar intercept_ too (as the binary
        # model); LogisticRegressionCV's scoring sets them so on a scratch estimator. Views:
        # the arrays stay shared.
        if np.ndim(self.coef_) == 1:
            self.coef_ = np.asarray(self.coef_).reshape(1, -1)
        if np.ndim(self.intercept_) == 0:
            self.intercept_ = np.reshape(self.intercept_, (1,))

    def decision_function(self, X):
        """Confidence scores: the signed distance to the hyperplane(s).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) for two classes, else (n_samples, n_classes)
            For two classes, > 0 means ``classes_[1]``.
        """
        check_is_fitted(self)
        p = self._prepare(X, reset=False, promote_with=self.coef_.dtype, accept_sparse=True)
        ctx, X_ref, dtype = p.ctx, p.ref, p.dtype
        n_outputs = self.coef_.shape[0]
        out, out_ref = p.empty((X_ref.rows, n_outputs))
        model = {"coef": np.ascontiguousarray(self.coef_, dtype=dtype),
                 "intercept": np.ascontiguousarray(self.intercept_, dtype=dtype)}
        if p.sparse:
            _core.logistic_decision_function_sparse(ctx, model, X_ref, out_ref)
        else:
            _core.linear_predict(ctx, model, X_ref, out_ref)
        if n_outputs == 1:
            out = out.reshape(-1)
        return self._output(out, p.kind)

    def _scores_host(self, X):
        return _arrays.to_host(_arrays.convert_output(self.decision_function(X), "numpy"))

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        scores = self._scores_host(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]

    def predict_proba(self, X):
        """Probability estimates, columns in the order of ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        scores = self._scores_host(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1 - p, p])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """Logarithms of the probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_class = True
        return tags
