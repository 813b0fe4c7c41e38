"""What gpulearn's decomposition estimators share: input preparation for fit and for the
projections, on the host or on the GPU the data live on."""

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .. import _arrays
from .._base import DeviceEstimatorMixin

_FLOATS = [np.float64, np.float32]


class DecompositionBase(DeviceEstimatorMixin):
    """Fit and projection plumbing; subclasses hold the model as NumPy attributes and say
    which compiled functions run it."""

    def _fit_input(self, X, ensure_min_features=1):
        """(context, X kept alive, X_ref) for fit; sets n_features_in_ (and feature names)."""
        ctx, on_device = self._fit_context(X)
        if on_device:
            X, X_ref = _arrays.as_device_matrix(X, "X")
            if X_ref.rows == 0 or X_ref.cols < ensure_min_features:
                raise ValueError(
                    f"Found array with shape ({X_ref.rows}, {X_ref.cols}): at least 1 sample "
                    f"and {ensure_min_features} feature(s) are required.")
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            self.n_features_in_ = X_ref.cols
            _arrays.synchronize_producers(X)
            return ctx, X, X_ref
        X = validate_data(self, _arrays.to_host(X), dtype=_FLOATS, ensure_all_finite=False,
                          ensure_min_features=ensure_min_features)
        X = _arrays.readable(X)
        return ctx, X, _arrays.host_ref(X)

    def _projection_input(self, X, n_features, check_features=True):
        """(context, kind, X kept alive, X_ref, on_device) for a projection of X, in the
        model's dtype; ``check_features`` applies scikit-learn's feature checks (transform),
        else X only needs ``n_features`` columns (inverse_transform)."""
        check_is_fitted(self)
        kind = _arrays.input_kind(X)
        ctx, on_device = self._predict_context(X)
        dtype = self.components_.dtype
        if on_device:
            X, X_ref = _arrays.as_device_matrix(X, "X", dtype=dtype)
            if X_ref.cols != n_features:
                raise ValueError(
                    f"X has {X_ref.cols} features, but {type(self).__name__} is expecting "
                    f"{n_features} features as input.")
            _arrays.synchronize_producers(X)
            return ctx, kind, X, X_ref, True
        X = _arrays.to_host(X)
        if check_features:
            X = validate_data(self, X, reset=False, dtype=_FLOATS, ensure_all_finite=False)
        else:
            X = check_array(X, dtype=_FLOATS, ensure_all_finite=False)
            if X.shape[1] != n_features:
                raise ValueError(
                    f"X has {X.shape[1]} features, but inverse_transform is expecting "
                    f"{n_features} features as input.")
        X = _arrays.readable(X.astype(dtype, copy=False))
        return ctx, kind, X, _arrays.host_ref(X), False

    # The compiled projection, ``f(ctx, model, X_ref, out_ref, inverse)``, and the model dict
    # it reads (``_model()``): set by each estimator.
    _core_project = None

    def _project(self, X, inverse=False):
        """transform (or inverse_transform) X into a new array of the input's kind."""
        model = self._model()
        k, d = self.components_.shape
        n_in, n_out = (k, d) if inverse else (d, k)
        ctx, kind, X, X_ref, on_device = self._projection_input(X, n_in,
                                                                check_features=not inverse)
        shape = (X_ref.rows, n_out)
        dtype = self.components_.dtype
        if on_device:
            out = _arrays.empty_like_input(kind, shape, dtype, like=X)
            out_ref = _arrays.device_ref(out)
        else:
            out = np.empty(shape, dtype=dtype)
            out_ref = _arrays.host_ref(out)
        type(self)._core_project(ctx, model, X_ref, out_ref, inverse)
        return self._output(out, kind)

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
