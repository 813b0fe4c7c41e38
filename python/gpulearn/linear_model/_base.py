"""The shared machinery of gpulearn's linear regressors: validation, fit and predict."""

import numpy as np
from sklearn.base import MultiOutputMixin, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .. import _arrays, _core
from .._base import DeviceEstimatorMixin, host_score
from .._config import check_device_string

_FLOATS = [np.float64, np.float32]


class LinearRegressorBase(MultiOutputMixin, RegressorMixin, DeviceEstimatorMixin):
    """Fit/predict for linear models whose compiled fit returns coef and intercept.

    Subclasses implement ``_core_fit(ctx, X_ref, Y_ref, w_ref, y_ndim)`` returning the dict of
    ``_core.*_fit`` and ``_set_extra(result)`` for solver outputs, and may extend
    ``_check_params()``.
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
        X : array-like of shape (n_samples, n_features)
            Training data: NumPy, pandas, CuPy, PyTorch or any DLPack array. float32 stays
            float32; other numeric types become float64.
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
        ctx, on_device = self._fit_context(X)
        if on_device:
            keep, X_ref, Y_ref, w_ref, y_ndim = self._device_inputs(X, y, sample_weight)
            n_features = X_ref.cols
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        else:
            X = _arrays.to_host(X)
            y = _arrays.to_host(y)
            X, y = validate_data(
                self, X, y, dtype=_FLOATS, y_numeric=True, multi_output=True,
                ensure_all_finite=False,  # the compiled core checks, in the same pass
            )
            X = _arrays.readable(X)
            y = _arrays.readable(np.asarray(y, dtype=X.dtype))
            y_ndim = y.ndim
            w = None
            if sample_weight is not None:
                w = _arrays.readable(_check_sample_weight(
                    _arrays.to_host(sample_weight), X, dtype=X.dtype, ensure_non_negative=True))
            X_ref, Y_ref = _arrays.host_ref(X), _arrays.host_ref(y)
            w_ref = None if w is None else _arrays.host_ref(w)
            n_features = X.shape[1]
            keep = (X, y, w)
        result = self._core_fit(ctx, X_ref, Y_ref, w_ref, y_ndim)
        del keep
        self.n_features_in_ = n_features
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

    def _device_inputs(self, X, y, sample_weight):
        X, X_ref = _arrays.as_device_matrix(X, "X")
        if X_ref.rows == 0 or X_ref.cols == 0:
            raise ValueError(
                f"Found array with shape ({X_ref.rows}, {X_ref.cols}): at least 1 sample and "
                "1 feature are required."
            )
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        if _arrays.device_ordinal(y) is None:
            y = _arrays.to_device_like(X, np.asarray(y))
        y_ndim = len(y.shape)
        y, Y_ref = _arrays.as_device_matrix(y, "y", dtype=X_ref.dtype, ensure_2d=False)
        w = w_ref = None
        if sample_weight is not None:
            if _arrays.device_ordinal(sample_weight) is None:
                sample_weight = _arrays.to_device_like(X, np.broadcast_to(
                    np.asarray(sample_weight, dtype=X_ref.dtype), (X_ref.rows,)).copy())
            w, w_ref = _arrays.as_device_matrix(sample_weight, "sample_weight",
                                                dtype=X_ref.dtype, ensure_2d=False)
        _arrays.synchronize_producers(*(a for a in (X, y, w) if a is not None))
        return (X, y, w), X_ref, Y_ref, w_ref, y_ndim

    def predict(self, X):
        """Predict with the linear model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples: NumPy, pandas, CuPy, PyTorch or any DLPack array.

        Returns
        -------
        y_pred : array of shape (n_samples,) or (n_samples, n_targets)
            Predictions, of the kind of array that came in (see ``set_config(output_type=...)``).
        """
        check_is_fitted(self)
        kind = _arrays.input_kind(X)
        ctx, on_device = self._predict_context(X)
        coef = np.atleast_2d(self.coef_)
        n_targets = coef.shape[0]
        if on_device:
            dtype = np.result_type(str(X.dtype).replace("torch.", ""), coef.dtype)
            X, X_ref = _arrays.as_device_matrix(X, "X", dtype=dtype)
            self._check_n_features_device(X_ref.cols)
            out = _arrays.empty_like_input(kind, (X_ref.rows, n_targets), dtype, like=X)
            _arrays.synchronize_producers(X)
            out_ref = _arrays.device_ref(out)
        else:
            X = validate_data(self, _arrays.to_host(X), reset=False, dtype=_FLOATS,
                              ensure_all_finite=False)
            dtype = np.result_type(X.dtype, coef.dtype)
            X = _arrays.readable(X.astype(dtype, copy=False))
            X_ref = _arrays.host_ref(X)
            out = np.empty((X.shape[0], n_targets), dtype=dtype)
            out_ref = _arrays.host_ref(out)
        intercept = np.broadcast_to(np.asarray(self.intercept_, dtype=dtype), (n_targets,))
        model = {"coef": np.ascontiguousarray(coef, dtype=dtype),
                 "intercept": np.ascontiguousarray(intercept)}
        _core.linear_predict(ctx, model, X_ref, out_ref)
        if np.ndim(self.coef_) == 1:
            out = out.reshape(-1)
        return self._output(out, kind)

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

    def _check_n_features_device(self, n_features):
        if n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags

