"""What every gpulearn estimator shares: device handling, pickling, output conversion."""

from . import _arrays, _config, _devices

# Bumped when a fitted estimator's pickled state changes incompatibly.
PICKLE_FORMAT = 1


def host_score(metric, estimator, X, y, sample_weight=None):
    """metric(y, estimator.predict(X)) computed on the host: for GPU input predict returns a
    GPU array, which scikit-learn's metrics do not take."""
    y_pred = _arrays.to_host(_arrays.convert_output(estimator.predict(X), "numpy"))
    return metric(_arrays.to_host(y), y_pred, sample_weight=_arrays.to_host(sample_weight))


class DeviceEstimatorMixin:
    """Mixin for estimators with a ``device`` hyper-parameter.

    Fitted state is kept as NumPy arrays, so a model fitted on a GPU pickles, loads and predicts
    on a machine without one.
    """

    def _fit_context(self, X):
        """The context fit computes on, and the ordinal of ``X`` if it is on a GPU."""
        data_device = _arrays.device_ordinal(X)
        device = _devices.resolve(self.device, data_device)
        if data_device is not None and device.startswith("cuda"):
            return _devices.context(device), True
        return _devices.context(device), False

    def _predict_context(self, X):
        data_device = _arrays.device_ordinal(X)
        ctx = _devices.context_for_prediction(self.device, data_device)
        return ctx, data_device is not None and ctx.device.startswith("cuda")

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
