"""LinearRegression, Ridge, ElasticNet and Lasso fitted across a Dask cluster.

The compiled least-squares and elastic-net drivers are written over the data's reductions
(``gpulearn/linear_model/linear_data.hpp``). ``_DaskLinearData`` is that interface over
``DaskPartitions``: each reduction runs on every block where the block lives
(``_core.linear_block_*``: the same local implementation a single-machine fit runs over all of
X) and the results are combined here in block order:

- magnitudes (the input checks: max |X|, max |y|, max w): by max;
- weighted means: each block's means times its weight sum, summed in double;
- the Gram system Xc^T W Xc, Xc^T W Yc (and Yc^T W Yc): summed in double over the blocks,
  each block centred and scaled with the global means and scales;
- the R factor of W^1/2 Xc (and Q^T W^1/2 Yc): the blocks' R factors stacked and factored again
  (tall-skinny QR), on this process's CPU.

The driver itself (checks, the choice of solver, the d x d algebra, coordinate descent) runs
once, in this process, on its CPU context: the same code as a single-machine fit.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.validation import _check_sample_weight

from .. import _arrays, _core, _devices
from ..linear_model import ElasticNet as _ElasticNet
from ..linear_model import Lasso as _Lasso
from ..linear_model import LinearRegression as _LinearRegression
from ..linear_model import Ridge as _Ridge
from ._base import DaskEstimatorMixin, dask_or_local


# ---- per block, on the worker holding it ----------------------------------------------------

def _block_arrays(block):
    """The block's X, y (as an (n, k) matrix) and w as the core reads them, in X's dtype and
    memory: ``(keep, (X_ref, Y_ref, w_ref))``; keep the first alive while the refs are used.
    y and w are checked as the single-machine fit checks them (scikit-learn's messages)."""
    X, y, w = block.X, block.y, block.w
    dtype = X.dtype
    if _arrays.device_ordinal(X) is not None:  # a GPU worker's block: y and w go to its GPU
        def put(v, name):
            if _arrays.device_ordinal(v) is None:
                v = _arrays.to_device_like(X, np.asarray(v))
            v, ref = _arrays.as_device_matrix(v, name, dtype=dtype, ensure_2d=False)
            _arrays.synchronize_producers(v)
            return v, ref

        Y, Y_ref = put(y, "y")
        w, w_ref = (None, None) if w is None else put(
            np.broadcast_to(np.asarray(_arrays.to_host(w), dtype=dtype), (X.shape[0],)).copy(),
            "sample_weight")
        return (X, Y, w), (_arrays.device_ref(X), Y_ref, w_ref)
    y = check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=True, input_name="y",
                    ensure_min_samples=0)
    Y = _arrays.readable(np.asarray(y, dtype=dtype))
    if w is not None:
        w = _arrays.readable(_check_sample_weight(w, X, dtype=dtype, ensure_non_negative=True))
    return (X, Y, w), (_arrays.host_ref(X), _arrays.host_ref(Y),
                       None if w is None else _arrays.host_ref(w))


def _magnitudes(block):
    keep, refs = _block_arrays(block)
    return _core.linear_block_magnitudes(block.context, *refs)


def _means(block):
    keep, refs = _block_arrays(block)
    return _core.linear_block_means(block.context, *refs)


def _gram(block, x_mean, y_mean, x_scale, y_scale):
    keep, refs = _block_arrays(block)
    return _core.linear_block_gram(block.context, *refs, x_mean, y_mean, x_scale, y_scale)


def _target_gram(block, y_mean, y_scale):
    keep, refs = _block_arrays(block)
    return _core.linear_block_target_gram(block.context, *refs, y_mean, y_scale)


def _r_factor(block, x_mean, y_mean, x_scale, y_scale):
    keep, refs = _block_arrays(block)
    return _core.linear_block_r_factor(block.context, *refs, x_mean, y_mean, x_scale, y_scale)


# ---- the combines, in this process ----------------------------------------------------------

class _DaskLinearData:
    """The LinearData interface over ``DaskPartitions`` (mixed into ``_core.LinearDataFloat32``
    or ``Float64``): each method maps a block reduction and combines the results in block
    order. What travels per call, from each of the P blocks: 3 numbers (magnitudes), d + k + 1
    (means), d^2 + d k (Gram system), k^2 (target Gram), min(n_b, d) (d + k) (R factor)."""

    def __init__(self, parts, n_targets, weighted):
        super().__init__(parts.n_rows, parts.n_features, n_targets, weighted)
        self.parts = parts
        self.dtype = np.dtype(parts.dtype)

    def magnitudes(self):
        mags = self.parts.map(_magnitudes, step="input check")
        return tuple(max(m[i] for m in mags) for i in range(3))

    def weighted_means(self):
        sums = self.parts.map(_means, step="weighted means")
        sx = np.zeros(self.n_features)
        sy = np.zeros(self.n_targets)
        w_sum = 0.0
        for xm, ym, ws in sums:
            sx += ws * xm.astype(np.float64)
            sy += ws * ym.astype(np.float64)
            w_sum += ws
        inv = 1.0 / w_sum if w_sum > 0 else 0.0
        return (sx * inv).astype(self.dtype), (sy * inv).astype(self.dtype), w_sum

    def centered_gram(self, x_mean, y_mean, x_scale, y_scale):
        parts = self.parts.map(_gram, x_mean, y_mean, x_scale, y_scale, step="Gram matrix")
        G = np.zeros((self.n_features, self.n_features))
        B = np.zeros((self.n_features, self.n_targets))
        for g, b in parts:
            G += g
            B += b
        return G.astype(self.dtype), B.astype(self.dtype)

    def target_gram(self, y_mean, y_scale):
        parts = self.parts.map(_target_gram, y_mean, y_scale, step="target Gram matrix")
        YY = np.zeros((self.n_targets, self.n_targets))
        for yy in parts:
            YY += yy
        return YY.astype(self.dtype)

    def centered_r_factor(self, x_mean, y_mean, x_scale, y_scale):
        parts = self.parts.map(_r_factor, x_mean, y_mean, x_scale, y_scale, step="QR")
        if len(parts) == 1:
            return parts[0]
        # A QR of the stacked R factors is the QR of the stacked blocks (TSQR): the same local
        # pass with no centring, unit scales and no weights.
        R = np.ascontiguousarray(np.concatenate([r for r, _ in parts]), dtype=self.dtype)
        Z = np.ascontiguousarray(np.concatenate([z for _, z in parts]), dtype=self.dtype)
        zeros_x = np.zeros(self.n_features, dtype=self.dtype)
        zeros_y = np.zeros(self.n_targets, dtype=self.dtype)
        return _core.linear_block_r_factor(_devices.context("cpu"), _arrays.host_ref(R),
                                           _arrays.host_ref(Z), None, zeros_x, zeros_y, 1.0, 1.0)


class _DaskLinearData32(_DaskLinearData, _core.LinearDataFloat32):
    pass


class _DaskLinearData64(_DaskLinearData, _core.LinearDataFloat64):
    pass


class _DaskLinearMixin(DaskEstimatorMixin):
    """fit, predict and score of a gpulearn.dask linear model (before its single-machine
    class)."""

    @dask_or_local
    def fit(self, X, y, sample_weight=None, **kwargs):
        """Fit the model on Dask collections (NumPy and friends: the single-machine fit).

        Parameters
        ----------
        X : dask array of shape (n_samples, n_features) or dask dataframe
            Chunked by rows only (one chunk across the columns).
        y : dask array or dask series/dataframe of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : dask array of shape (n_samples,), float or None, default=None
        **kwargs : accepted as the single-machine ``fit`` accepts them (``check_input``).

        Returns
        -------
        self : object
        """
        sample_weight = self._check_fit_input(X, sample_weight)
        self._validate_params()
        self._check_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None.")
        parts = self._partitions(X, y, sample_weight)
        y_ndim = int(getattr(y, "ndim", np.ndim(y)))
        n_targets = 1 if y_ndim == 1 else int(y.shape[1])
        self._set_feature_names(parts)
        data_class = _DaskLinearData32 if parts.dtype == np.float32 else _DaskLinearData64
        data = data_class(parts, n_targets, sample_weight is not None)
        result = self._core_fit(_devices.context("cpu"), parts.n_features, n_targets, data)
        return self._set_fitted(result, y_ndim)

    @dask_or_local
    def predict(self, X):
        """Predictions for a Dask collection: a dask array chunked like X's rows, computed where
        the blocks are (NumPy and friends: the single-machine predict)."""
        return self._dask_method("predict", X)

    @dask_or_local
    def score(self, X, y, sample_weight=None):
        """R^2 of the predictions, from per-block sums (NumPy and friends: the single-machine
        score)."""
        return self._dask_score(X, y, sample_weight)


_TRAVELS = """
    Fitting makes a few passes over the data (an input check, the weighted means, then the
    Gram system, or a QR reduction where the Gram path is refused); from each of the P blocks
    a pass sends back a model-sized result: at most d^2 + d k numbers for the Gram system and
    min(n_b, d) (d + k) for the QR reduction (n_b rows in the block, d features, k targets).
    The solver then runs once, on the client's CPU."""


class LinearRegression(_DaskLinearMixin, _LinearRegression):
    __doc__ = f"""Ordinary least squares fitted across a Dask cluster.

    :class:`gpulearn.linear_model.LinearRegression` (same parameters and attributes) on Dask
    arrays or dataframes chunked by rows; NumPy input is fitted on one machine.
    {_TRAVELS}

    Results equal the single-machine estimator's up to the order of floating-point sums:
    ``coef_``, ``intercept_`` and ``singular_`` within 1e-10 relative in float64 (1e-4 in
    float32) for problems whose conditioning lets the single-machine fit reach that, ``rank_``
    exactly; the same solver (Cholesky or the SVD of the R factor) is chosen, by the same test
    on the same reductions. ``to_local()`` returns the single-machine estimator.
    """


class Ridge(_DaskLinearMixin, _Ridge):
    __doc__ = f"""Ridge regression fitted across a Dask cluster.

    :class:`gpulearn.linear_model.Ridge` (same parameters and attributes) on Dask arrays or
    dataframes chunked by rows; NumPy input is fitted on one machine.
    {_TRAVELS}

    Results equal the single-machine estimator's up to the order of floating-point sums:
    ``coef_`` and ``intercept_`` within 1e-10 relative in float64 (1e-4 in float32), and
    ``solver_`` is the same (chosen by the same test on the same reductions).
    ``to_local()`` returns the single-machine estimator.
    """


class ElasticNet(_DaskLinearMixin, _ElasticNet):
    __doc__ = f"""Elastic net fitted across a Dask cluster by coordinate descent.

    :class:`gpulearn.linear_model.ElasticNet` (same parameters and attributes) on Dask arrays
    or dataframes chunked by rows; NumPy input is fitted on one machine.

    The descent always runs on the Gram system Xc^T W Xc, formed in one distributed pass (the
    weighted means, the magnitudes and y^T W y take one pass each), then iterated on the client
    in O(d) per coordinate update: nothing travels per iteration. The single-machine estimator
    descends over the data instead when n_samples < n_features; the coordinate updates are the
    same, in another rounding.

    Results equal the single-machine estimator's up to the order of floating-point sums:
    ``coef_`` and ``intercept_`` within 1e-8 relative in float64 (1e-4 in float32) where the
    descent converges (differences in rounding can shift the sweep at which the stopping rule
    fires, which moves the result within the fit's own tolerance ``tol``), ``n_iter_`` the
    same except at such a shift. ``to_local()`` returns the single-machine estimator.
    """


class Lasso(_DaskLinearMixin, _Lasso):
    __doc__ = f"""Lasso fitted across a Dask cluster by coordinate descent.

    :class:`gpulearn.linear_model.Lasso` (same parameters and attributes) on Dask arrays or
    dataframes chunked by rows; distributed as :class:`gpulearn.dask.ElasticNet` (the Gram
    system in one pass, the descent on the client), with the same tolerances.
    """


__all__ = ["ElasticNet", "Lasso", "LinearRegression", "Ridge"]
