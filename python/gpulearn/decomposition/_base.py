"""What gpulearn's decomposition estimators share: the projections, on the host or on the GPU
the data live on."""

from .._base import DeviceEstimatorMixin


class DecompositionBase(DeviceEstimatorMixin):
    """Fit and projection plumbing; subclasses hold the model as NumPy attributes and say
    which compiled functions run it."""

    # The fitted attributes both conversions copy as they are (scikit-learn's names, types and
    # shapes); each estimator adds its own.
    _sklearn_attributes = ("n_features_in_", "feature_names_in_", "components_",
                           "explained_variance_", "explained_variance_ratio_",
                           "singular_values_")

    # The compiled projection, ``f(ctx, model, X_ref, out_ref, inverse)``, and the model dict
    # it reads (``_model()``): set by each estimator.
    _core_project = None

    def _fit_transform(self, X):
        """fit_transform (each class defines it, so that set_output wraps it)."""
        projection = self._fit(X).get("fit_transform_components")
        if projection is None:
            return self.transform(X)
        return self._project(X, model={**self._model(), "components": projection})

    def _project(self, X, inverse=False, model=None):
        """transform (or inverse_transform) X into a new array of the input's kind; ``model``
        replaces ``self._model()``'s record."""
        model = self._model() if model is None else model
        k, d = self.components_.shape
        n_in, n_out = (k, d) if inverse else (d, k)
        # Sparse input is taken by transform (X components^T by the sparse product, centring
        # applied after it), never by inverse_transform (its input is the dense projection).
        # input_name: scikit-learn's validation names X in its messages (its TypeError for
        # sparse input to inverse_transform).
        extra = {"input_name": "X"} if inverse else {}
        p = self._prepare(X, reset=False, dtype=self.components_.dtype,
                          n_features=n_in if inverse else None, accept_sparse=not inverse,
                          **extra)
        ctx, kind, X_ref = p.ctx, p.kind, p.ref
        out, out_ref = p.empty((X_ref.rows, n_out))
        type(self)._core_project(ctx, model, X_ref, out_ref, inverse)
        return self._output(out, kind)

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
