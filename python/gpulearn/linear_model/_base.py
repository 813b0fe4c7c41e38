"""The shared machinery of gpulearn's linear regressors: validation, fit and predict."""

import numpy as np
from sklearn.base import MultiOutputMixin, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from .. import _arrays, _core
from .._base import DeviceEstimatorMixin, host_score
from .._config import check_device_string


# The fitted attributes every linear model shares with its scikit-learn twin (same names, types
# and shapes), which both conversions copy as they are. ``predict`` reads only coef_ and
# intercept_, so a scikit-learn fit by any solver (or with positive=True) predicts here.
LINEAR_ATTRIBUTES = ("n_features_in_", "feature_names_in_", "coef_", "intercept_")


class LinearRegressorBase(MultiOutputMixin, RegressorMixin, DeviceEstimatorMixin):
    """Fit/predict for linear models whose compiled fit returns coef and intercept.

    Subclasses implement ``_core_fit(ctx, n_features, n_targets, *data)`` returning the dict
    of ``_core.*_fit`` (``data``: the arrays ``X_ref, Y_ref, w_ref``, or one ``LinearData``
    object, which gpulearn.dask passes) and ``_set_extra(result)`` for solver outputs, and may
    extend ``_check_params()`` and ``_check_fit_input()``.
    """

    # Whether the solver honours positive=True (coordinate descent does; the direct solvers
    # of LinearRegression and Ridge do not yet).
    _supports_positive = False

    def _check_params(self):
        """Checks what scikit-learn's parameter constraints cannot express."""
        check_device_string(self.device)
        if self.positive and not self._supports_positive:
            raise NotImplementedError(
                f"positive=True is not implemented yet in gpulearn's {type(self).__name__}; "
                f"use sklearn.linear_model.{type(self).__name__}(positive=True) or "
                "positive=False"
            )

    # Whether a 2-D y with one column gives a 1-D coef_ (scikit-learn's Ridge) or a
    # (1, n_features) one (scikit-learn's LinearRegression).
    _ravel_single_target = False

    def fit(self, X, y, sample_weight=None):
        """Fit the linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data: NumPy, pandas, CuPy, PyTorch or any DLPack array, or a scipy.sparse
            matrix or array (CSR, CSC, COO; never densified). float32 stays float32; other
            numeric types become float64.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values, converted to the dtype of X.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples. None gives every sample weight 1.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        self._check_params()
        p = self._prepare(X, y, reset=True, y_numeric=True, multi_output=True,
                          accept_sparse=True)
        self._check_params_for(p.sparse)
        if p.on_device:
            if y is None:
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the target y is None.")
            w = sample_weight
            if w is not None and _arrays.device_ordinal(w) is None:
                w = np.broadcast_to(np.asarray(w, dtype=p.dtype), (p.n_samples,)).copy()
        else:
            w = sample_weight
            if w is not None:
                w = _check_sample_weight(_arrays.to_host(w), p.X, dtype=p.dtype,
                                         ensure_non_negative=True)
        y, Y_ref = p.put(p.y, "y")
        y_ndim = len(y.shape)
        w, w_ref = (None, None) if w is None else p.put(w, "sample_weight")
        ctx, X_ref = p.ctx, p.ref
        result = self._core_fit(ctx, X_ref.cols, Y_ref.cols, X_ref, Y_ref, w_ref)
        del p, y, w
        return self._set_fitted(result, y_ndim)

    def _check_params_for(self, is_sparse):
        """What a fit refuses beyond ``_check_params`` once it knows whether X is sparse
        (scikit-learn's errors for options it does not take with sparse input)."""

    def _check_fit_input(self, X, sample_weight):
        """What a fit checks before validating its parameters; returns the sample weights to
        use (None for unit weights)."""
        return sample_weight

    def _set_fitted(self, result, y_ndim):
        """Sets the fitted attributes from the record of a compiled fit (``y_ndim``: 1 or 2,
        the dimensions of the ``y`` fitted); returns self."""
        coef, intercept = result["coef"], result["intercept"]
        # scikit-learn's conventions: 1-D y gives 1-D coef_ and a scalar intercept_; no
        # intercept gives intercept_ = 0.0. Ridge (``_ravel_single_target``) also gives a 1-D
        # coef_ (and 1-D predictions) for a 2-D y of one column, as scikit-learn's Ridge does.
        ravel = y_ndim == 1 or (self._ravel_single_target and coef.shape[0] == 1)
        self.coef_ = coef.ravel() if ravel else coef
        if not self.fit_intercept:
            self.intercept_ = 0.0
        else:
            self.intercept_ = intercept.dtype.type(intercept[0]) if y_ndim == 1 else intercept
        self._set_extra(result)
        return self

    def predict(self, X):
        """Predict with the linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples: NumPy, pandas, CuPy, PyTorch or any DLPack array, or a scipy.sparse
            matrix or array.

        Returns
        -------
        y_pred : array of shape (n_samples,) or (n_samples, n_targets)
            Predictions, of the kind of array that came in (see ``set_config(output_type=...)``).
        """
        check_is_fitted(self)
        coef = np.atleast_2d(self.coef_)
        n_targets = coef.shape[0]
        p = self._prepare(X, reset=False, promote_with=coef.dtype, accept_sparse=True)
        ctx, X_ref, dtype = p.ctx, p.ref, p.dtype
        out, out_ref = p.empty((X_ref.rows, n_targets))
        intercept = np.broadcast_to(np.asarray(self.intercept_, dtype=dtype), (n_targets,))
        model = {"coef": np.ascontiguousarray(coef, dtype=dtype),
                 "intercept": np.ascontiguousarray(intercept)}
        _core.linear_predict(ctx, model, X_ref, out_ref)
        if np.ndim(self.coef_) == 1:
            out = out.reshape(-1)
        return self._output(out, p.kind)

    def score(self, X, y, sample_weight=None):
        """Return the coefficient of determination R^2 of the prediction (on the host).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return host_score(r2_score, self, X, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Sparse X is fitted over its sparse reductions (the Gram system, implicit centring;
        # docs/sparse.md), as scikit-learn takes it; Ridge narrows this as scikit-learn does.
        tags.input_tags.sparse = True
        return tags

