"""What every gpulearn estimator shares: input preparation, device handling, pickling, output
conversion."""

from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import _check_n_features, check_array, validate_data

from . import _arrays, _config, _devices, _sparse
from ._convert import SklearnConversionMixin

# Bumped when a fitted estimator's pickled state changes incompatibly.
PICKLE_FORMAT = 1

# The dtypes X keeps on the host path (scikit-learn's check_array converts anything else to
# the first): float32 stays float32, everything else becomes float64.
FLOATS = [np.float64, np.float32]

# scikit-learn's marker for "no y to validate" (validate_data's default).
NO_Y = "no_validation"


def host_score(metric, estimator, X, y, sample_weight=None):
    """metric(y, estimator.predict(X)) computed on the host: for GPU input predict returns a
    GPU array, which scikit-learn's metrics do not take."""
    y_pred = _arrays.to_host(_arrays.convert_output(estimator.predict(X), "numpy"))
    return metric(_arrays.to_host(y), y_pred, sample_weight=_arrays.to_host(sample_weight))


@dataclass(frozen=True)
class Prepared:
    """An input ``X`` made ready for the compiled core (``DeviceEstimatorMixin._prepare``).

    X : what the core reads, kept alive by this record: a NumPy array whose rows the core reads
        in place, a C-ordered CuPy/PyTorch array on the GPU that ``ctx`` computes on, or, for
        sparse input, a ``_sparse.HostCsr`` (scipy.sparse) or ``_sparse.DeviceCsr``
        (``cupyx.scipy.sparse`` on that GPU).
    ref : the ``_core.ArrayRef`` of ``X`` (``_core.CsrRef`` for sparse input).
    ctx : the compiled context to compute on.
    on_device : whether ``X`` (and so every array made with ``empty`` and ``put``) is on the GPU.
    kind : "numpy", "cupy" or "torch": the kind of the input as given, which results take.
    dtype : ``X``'s dtype, float32 or float64.
    y : on the host path, ``y`` as scikit-learn's validation returned it; on the device path,
        ``y`` as given, for the estimator to check; None when no ``y`` was passed.
    """

    X: object
    ref: object
    ctx: object
    on_device: bool
    kind: str
    dtype: np.dtype
    y: object = None

    @property
    def n_samples(self):
        return self.ref.rows

    @property
    def sparse(self):
        """Whether ``X`` is a sparse matrix (a ``_sparse.HostCsr`` or ``_sparse.DeviceCsr``)."""
        return isinstance(self.X, _sparse.Csr)

    @property
    def _device_like(self):
        """The GPU array new device arrays follow (library and device): X, or its values."""
        return self.X.values if isinstance(self.X, _sparse.DeviceCsr) else self.X

    @property
    def n_features(self):
        return self.ref.cols

    def empty(self, shape, dtype=None):
        """(array, ArrayRef) of a new array where ``X`` is (NumPy, or X's GPU library and
        device), of ``dtype`` (default: X's)."""
        dtype = self.dtype if dtype is None else dtype
        if self.on_device:
            like = self._device_like
            out = _arrays.empty_like_input(_arrays.input_kind(like), shape, dtype, like=like)
            return out, _arrays.device_ref(out)
        out = np.empty(shape, dtype=dtype)
        return out, _arrays.host_ref(out)

    def put(self, array, name, dtype=None):
        """(array, ArrayRef) of a vector or matrix (y, weights) where ``X`` is, of ``dtype``
        (default: X's): a host array is copied to X's GPU; one already on a GPU is read there
        (copied only to change its dtype or layout)."""
        dtype = self.dtype if dtype is None else dtype
        if self.on_device:
            if _arrays.device_ordinal(array) is None:
                array = _arrays.to_device_like(self._device_like, np.asarray(array))
            array, ref = _arrays.as_device_matrix(array, name, dtype=dtype, ensure_2d=False)
            _arrays.synchronize_producers(array)
            return array, ref
        array = _arrays.readable(np.asarray(_arrays.to_host(array), dtype=dtype))
        return array, _arrays.host_ref(array)


class DeviceEstimatorMixin(SklearnConversionMixin):
    """Mixin for estimators with a ``device`` hyper-parameter.

    Fitted state is kept as NumPy arrays, so a model fitted on a GPU pickles, loads and predicts
    on a machine without one.
    """

    def _context(self, X, *, reset):
        """(context, on_device): where a computation on ``X`` runs, and whether ``X`` is read
        on that GPU in place. ``reset`` (fit) fails where the device asked for cannot run;
        otherwise a model asked for CUDA where there is none computes on the CPU, with a
        warning."""
        data_device = _arrays.device_ordinal(X)
        if data_device is None and _sparse.is_sparse(X) and _devices.is_auto(self.device):
            # "auto" computes scipy.sparse input on the CPU: the CUDA backend has no sparse
            # kernels for the families yet (docs/sparse.md); device="cuda" says so.
            return _devices.context("cpu"), False
        if reset:
            ctx = _devices.context(_devices.resolve(self.device, data_device))
        else:
            ctx = _devices.context_for_prediction(self.device, data_device)
        return ctx, data_device is not None and ctx.device.startswith("cuda")

    def _prepare(self, X, y=NO_Y, *, reset, dtype=None, promote_with=None,
                 ensure_min_features=1, n_features=None, accept_sparse=False, **check_params):
        """``X`` (and on the host ``y``) validated and described for the core: a ``Prepared``.

        reset : True in fit: ``n_features_in_`` and ``feature_names_in_`` are set from ``X``
            (the latter deleted where ``X`` has no column names). False in predict, transform
            and score: ``X`` must have ``n_features_in_`` columns (and the fitted feature names,
            on the host), with scikit-learn's messages.
        dtype : the dtype to compute in (the model's); by default float32 stays float32 and
            anything else becomes float64.
        promote_with : compute in ``np.result_type`` of X's dtype and this one instead.
        ensure_min_features : in fit, the fewest columns X may have.
        n_features : with reset=False, the number of columns X must have where X is not of the
            fit's features (inverse_transform's input): no feature-name check then.
        accept_sparse : whether sparse input is taken: scipy.sparse as a ``_sparse.HostCsr``
            (CSR with int32 indices, duplicates summed), ``cupyx.scipy.sparse`` computed on its
            GPU as a ``_sparse.DeviceCsr`` (the same layout, in place where it already is one);
            where False, scikit-learn's TypeError for sparse data.
        check_params : scikit-learn's validation parameters for the host path (``y_numeric``,
            ``multi_output``, ...); ``ensure_all_finite`` defaults to False: the compiled core
            checks finiteness in its own pass over X, on the host and on the device.

        Host data (NumPy, pandas, lists, GPU arrays asked to compute on the CPU) goes through
        scikit-learn's ``validate_data`` (``check_array`` for ``n_features``) and is read in
        place where its rows allow. GPU arrays computed on their own GPU stay there (converted
        to a C-ordered float array only where needed), checked here for at least one sample
        and for their number of features.
        """
        ctx, on_device = self._context(X, reset=reset)
        kind = _arrays.input_kind(X)
        if on_device and _sparse.is_device_sparse(X) and not accept_sparse:
            on_device = False  # to the host, where scikit-learn's validation refuses sparse X
        if on_device:
            if _sparse.is_device_sparse(X):
                target = dtype
                if target is None and promote_with is not None:
                    target = np.result_type(X.dtype, promote_with)
                X = _sparse.as_device_csr(X, target)
                ref, producer = X.ref, X.values
            else:
                X, ref = _arrays.as_device_matrix(X, "X", dtype=dtype,
                                                  promote_with=promote_with)
                producer = X
            if reset:
                if ref.rows == 0 or ref.cols < ensure_min_features:
                    features = ("1 feature" if ensure_min_features == 1
                                else f"{ensure_min_features} features")
                    raise ValueError(
                        f"Found array with shape ({ref.rows}, {ref.cols}): at least 1 sample "
                        f"and {features} are required.")
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            if n_features is None:
                _check_n_features(self, X, reset=reset)
            else:
                self._check_n_features_of(ref.cols, n_features)
            _arrays.synchronize_producers(producer)
            return Prepared(X, ref, ctx, True, kind, np.dtype(ref.dtype),
                            None if _no_y(y) else y)
        if (not reset and n_features is None and _no_y(y)
                and self._validates_unchanged(X, accept_sparse, check_params)):
            # What validate_data would return, without its per-call cost (its feature-name probe
            # alone is ~0.05 ms, a quarter of a small sparse predict).
            target = dtype if dtype is not None else (
                None if promote_with is None else np.result_type(X.dtype, promote_with))
            if _sparse.is_sparse(X):
                X = _sparse.as_csr(X, target)
                return Prepared(X, X.ref, ctx, False, kind, X.dtype, None)
            X = _arrays.readable(X if target is None else X.astype(target, copy=False))
            return Prepared(X, _arrays.host_ref(X), ctx, False, kind, X.dtype, None)
        check_params.setdefault("ensure_all_finite", False)
        if accept_sparse:
            check_params["accept_sparse"] = _sparse.ACCEPTED_FORMATS
        X = _arrays.to_host(X)
        if n_features is not None:
            X = check_array(X, dtype=FLOATS, **check_params)
            self._check_n_features_of(X.shape[1], n_features)
        elif _no_y(y):
            X = validate_data(self, X, reset=reset, dtype=FLOATS,
                              ensure_min_features=ensure_min_features, **check_params)
        else:
            X, y = validate_data(self, X, _arrays.to_host(y), reset=reset, dtype=FLOATS,
                                 ensure_min_features=ensure_min_features, **check_params)
        target = None
        if dtype is not None or promote_with is not None:
            target = dtype if dtype is not None else np.result_type(X.dtype, promote_with)
        if _sparse.is_sparse(X):
            X = _sparse.as_csr(X, target)
            return Prepared(X, X.ref, ctx, False, kind, X.dtype, None if _no_y(y) else y)
        if target is not None:
            X = X.astype(target, copy=False)
        X = _arrays.readable(X)
        return Prepared(X, _arrays.host_ref(X), ctx, False, kind, X.dtype,
                        None if _no_y(y) else y)

    def _validates_unchanged(self, X, accept_sparse, check_params):
        """Whether scikit-learn's ``validate_data(self, X, reset=False, dtype=FLOATS,
        accept_sparse=...)`` would return ``X`` itself, warning and raising nothing: a 2-D
        float32 or float64 NumPy array, or (where sparse input is taken) a CSR, CSC or COO
        matrix or array, with at least one row and ``n_features_in_`` columns, given to a model
        fitted without feature names, with no other check asked for. (scikit-learn's own sparse
        ``ElasticNet.predict`` skips validation altogether.)"""
        if check_params or hasattr(self, "feature_names_in_"):
            return False
        if type(X) is np.ndarray:
            pass
        elif not (accept_sparse and _sparse.is_sparse(X)
                  and getattr(X, "format", None) in _sparse.ACCEPTED_FORMATS):
            return False
        return (X.ndim == 2 and (X.dtype == np.float64 or X.dtype == np.float32)
                and X.shape[0] >= 1 and X.shape[1] == getattr(self, "n_features_in_", -1))

    @staticmethod
    def _check_n_features_of(n_features, expected):
        """The n_features check of a method whose input has its own width (inverse_transform's:
        the model's output)."""
        if n_features != expected:
            raise ValueError(
                f"X has {n_features} features, but inverse_transform is expecting "
                f"{expected} features as input.")

    @staticmethod
    def _output(out, input_kind):
        """``out`` as the configured output type; "input" means the kind of the input, also
        when a GPU array was computed on the CPU."""
        output_type = _config.get_config()["output_type"]
        return _arrays.convert_output(out, input_kind if output_type == "input" else output_type)

    def __getstate__(self):
        # A copy: object.__getstate__ returns the live __dict__ itself.
        state = dict(super().__getstate__())
        state["_gpulearn_pickle_format"] = PICKLE_FORMAT
        return state

    def __setstate__(self, state):
        fmt = state.pop("_gpulearn_pickle_format", PICKLE_FORMAT)
        if fmt > PICKLE_FORMAT:
            raise ValueError(
                f"this {type(self).__name__} was pickled by a newer gpulearn (format {fmt}); "
                f"this version reads format {PICKLE_FORMAT} and older"
            )
        super().__setstate__(state)


def _no_y(y):
    return isinstance(y, str) and y == NO_Y
