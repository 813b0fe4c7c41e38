"""What every gpulearn.dask estimator shares.

A distributed estimator is its single-machine class with ``DaskEstimatorMixin`` in front:
``class Ridge(DaskEstimatorMixin, gpulearn.linear_model.Ridge)``. It has the same parameters,
the same fitted attributes (NumPy arrays, set by the single-machine code from the same fitted
record), and takes NumPy input as the single-machine class does. Dask input is fitted by the
family's distributed driver (``_dask_fit``) and predicted block by block where the blocks are,
into a Dask collection chunked like the input.
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn.base import is_classifier, is_regressor

from ._inputs import as_dask_array, get_client, is_dask_collection, partition


def check_feature_names(estimator, feature_names, n_features):
    """scikit-learn's feature-name check (reset=False) of a Dask input whose column names are
    ``feature_names`` (None: no string names), with scikit-learn's warnings and errors."""
    from sklearn.utils.validation import _check_feature_names

    if feature_names is None:
        proxy = np.empty((0, n_features))
    else:
        import pandas as pd

        proxy = pd.DataFrame(columns=list(feature_names))
    _check_feature_names(estimator, proxy, reset=False)


def _apply(block, estimator, method, kwargs, empty=None):
    # A chunk of zero rows (which dask arrays may hold) gets an empty result of the output's
    # shape and dtype: the single-machine methods refuse zero samples.
    if block.shape[0] == 0 and empty is not None:
        return empty
    return getattr(estimator, method)(block, **kwargs)


def _sum_rows(block, fn):
    return fn(block)


class DaskEstimatorMixin:
    """Mixin for a gpulearn.dask estimator (put before its single-machine class)."""

    @classmethod
    def _local_class(cls):
        """The single-machine gpulearn class this one distributes."""
        for base in cls.__mro__[1:]:
            if base is not DaskEstimatorMixin and not issubclass(base, DaskEstimatorMixin) \
                    and base.__module__.startswith("gpulearn.") \
                    and not base.__module__.startswith("gpulearn.dask"):
                return base
        raise TypeError(f"{cls.__name__} has no single-machine gpulearn base")

    def to_local(self):
        """The equivalent fitted single-machine estimator: same parameters and fitted state,
        picklable, usable without Dask."""
        local = self._local_class()(**self.get_params())
        params = set(self.get_params())
        local.__dict__.update({k: v for k, v in vars(self).items() if k not in params})
        return local

    def _local_for_prediction(self):
        """The fitted single-machine estimator that predicts block by block (``to_local()``;
        an estimator whose fitted state holds per-row results on the workers leaves them out)."""
        return self.to_local()

    # ---- fitting --------------------------------------------------------------------------
    def _partitions(self, X, y=None, sample_weight=None, client=None):
        """X (and y, sample_weight) as ``DaskPartitions`` on the workers' devices."""
        return partition(X, y, sample_weight, client=client, device=self.device,
                         estimator=type(self).__name__)

    def _set_feature_names(self, parts):
        self.n_features_in_ = parts.n_features
        if parts.feature_names is not None:
            self.feature_names_in_ = parts.feature_names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    # ---- prediction -----------------------------------------------------------------------
    def _dask_method(self, method, X, **kwargs):
        """``method`` of the fitted single-machine estimator, run on each block of X where it
        is: a dask array chunked like X's rows."""
        import dask.array as da

        Xd, names = as_dask_array(X)
        check_feature_names(self, names, Xd.shape[1])
        local = self._local_for_prediction()
        # The names were checked once, here; the blocks are plain arrays.
        local.__dict__.pop("feature_names_in_", None)
        first = next(i for i, c in enumerate(Xd.chunks[0]) if c > 0) if Xd.shape[0] else None
        if first is None:
            raise ValueError(f"Found array with 0 sample(s) (shape={Xd.shape}) while a minimum "
                             f"of 1 is required.")
        # The output's shape per row and dtype, from one row of X (computed here).
        start = sum(Xd.chunks[0][:first])
        probe = np.asarray(getattr(local, method)(Xd[start:start + 1].compute(), **kwargs))
        tail = probe.shape[1:]
        chunks = (Xd.chunks[0],) + tuple((s,) for s in tail)
        drop = () if len(tail) == 1 else (1,) if not tail else ()
        new = () if len(tail) <= 1 else tuple(range(2, 1 + len(tail)))
        empty = np.empty((0,) + tail, dtype=probe.dtype)
        return Xd.map_blocks(_apply, local, method, kwargs, empty, dtype=probe.dtype,
                             chunks=chunks, drop_axis=drop, new_axis=new or None,
                             meta=np.empty((0,) * (1 + len(tail)), dtype=probe.dtype))

    def _dask_score(self, X, y, sample_weight=None):
        """scikit-learn's default score (accuracy for classifiers, R^2 for regressors) from
        per-block sums: only a few numbers per block travel."""
        if not (is_classifier(self) or is_regressor(self)):
            raise NotImplementedError
        import dask.array as da

        pred = self._dask_method("predict", X)
        y, _ = as_dask_array(y, "y", ensure_2d=False)
        y = y.rechunk((pred.chunks[0],) + tuple((s,) for s in y.shape[1:]))
        w = None
        if sample_weight is not None:
            w, _ = as_dask_array(sample_weight, "sample_weight", ensure_2d=False)
            w = w.rechunk((pred.chunks[0],))
        if is_classifier(self):
            hit = (pred == y).astype(np.float64)
            if hit.ndim > 1:
                hit = hit.all(axis=1).astype(np.float64)
            if w is None:
                return float(hit.mean().compute())
            return float(((hit * w).sum() / w.sum()).compute())
        y = y.astype(np.float64)
        pred = pred.astype(np.float64)
        w1 = da.ones_like(y[:, 0] if y.ndim > 1 else y) if w is None else w
        if y.ndim > 1:
            w1 = w1[:, None]
        sw = w1.sum(axis=0)
        ybar = (w1 * y).sum(axis=0) / sw
        ss_res = (w1 * (y - pred) ** 2).sum(axis=0)
        ss_tot = (w1 * (y - ybar) ** 2).sum(axis=0)
        ss_res, ss_tot = da.compute(ss_res, ss_tot)
        ss_res, ss_tot = np.atleast_1d(ss_res), np.atleast_1d(ss_tot)
        # scikit-learn's r2_score: a constant y scores 1 when predicted exactly, else 0.
        r2 = np.where(ss_tot != 0, 1 - ss_res / np.where(ss_tot != 0, ss_tot, 1),
                      np.where(ss_res == 0, 1.0, 0.0))
        return float(np.mean(r2))


def dask_or_local(method):
    """Decorator: the wrapped method runs for Dask input; other input goes to the
    single-machine class's method of the same name."""
    name = method.__name__

    def wrapper(self, X, *args, **kwargs):
        if is_dask_collection(X):
            return method(self, X, *args, **kwargs)
        return getattr(super(DaskEstimatorMixin, self), name)(X, *args, **kwargs)

    # update_wrapper also sets __wrapped__: inspect.signature (scikit-learn's
    # has_fit_parameter(est, "sample_weight"), meta-estimators) then sees the method's own
    # parameters instead of (X, *args, **kwargs).
    return functools.update_wrapper(wrapper, method)


__all__ = ["DaskEstimatorMixin", "check_feature_names", "dask_or_local", "get_client",
           "is_dask_collection"]


class DaskProbabilitiesMixin:
    """predict_proba and predict_log_proba of a Dask classifier: the fitted single-machine
    estimator's, per block of X (a dask array chunked like X's rows)."""

    @dask_or_local
    def predict_proba(self, X):
        """Class probabilities per block of X: a dask array chunked like X's rows."""
        return self._dask_method("predict_proba", X)

    @dask_or_local
    def predict_log_proba(self, X):
        """Class log-probabilities per block of X: a dask array chunked like X's rows."""
        return self._dask_method("predict_log_proba", X)
