"""LogisticRegression on Dask: the single-machine driver, its data passes run over row blocks.

The compiled driver (``logistic_regression_fit`` over ``LogisticData``) runs once, on the
client; it sees the data through two passes, implemented here as maps over the blocks where
they live, after each worker has encoded its labels and made its weights (once per fit): ``check``
(the single-machine checks and the weight sum) and ``loss_grad`` (the single-machine
loss-and-gradient primitive on each block, summed in block order in double).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight

from .. import _arrays, _core, _devices
from ..linear_model import LogisticRegression as _LogisticRegression
from ._base import DaskEstimatorMixin, DaskProbabilitiesMixin, dask_or_local
from ._inputs import as_dask_array
from ._parts import Block


def _block_y(block):
    return np.asarray(block.y).reshape(-1)


def _block_classes(block):
    return np.unique(_block_y(block))


def _block_weights(block, use_w, dtype):
    """The block's sample weights as the single-machine fit validates them (None: unit)."""
    if not use_w:
        return None
    return _check_sample_weight(block.w, np.empty((block.n_rows, 0)), dtype=dtype, copy=True,
                                ensure_non_negative=True)


def _block_class_counts(block, classes, use_w, dtype):
    """The block's weighted count of each class (class_weight="balanced")."""
    labels = np.searchsorted(classes, _block_y(block))
    return np.bincount(labels, weights=_block_weights(block, use_w, dtype),
                       minlength=len(classes)).astype(np.float64)


def _weights_ref(block, w):
    """w as the compiled core reads it beside the block's X (on X's GPU when X is there), and
    its ArrayRef; (None, None) without weights."""
    if w is None:
        return None, None
    if _arrays.device_ordinal(block.X) is None:
        w = _arrays.readable(np.asarray(w))
        return w, _arrays.host_ref(w)
    if _arrays.device_ordinal(w) is None:
        w = _arrays.to_device_like(block.X, np.asarray(w))
    w, ref = _arrays.as_device_matrix(w, "sample_weight", dtype=block.X.dtype, ensure_2d=False)
    _arrays.synchronize_producers(w)
    return w, ref


def _x_ref(block):
    if _arrays.device_ordinal(block.X) is None:
        return _arrays.host_ref(block.X)
    return _arrays.device_ref(block.X)


def _encode_block(block, classes, class_weight, use_w):
    """The block with its labels encoded as the single-machine class encodes them (int32
    indices into ``classes``) and its weights as that class makes them (validated, times the
    class weights; None for unit weights). Made once per fit, kept on the block's worker."""
    labels = np.searchsorted(classes, _block_y(block)).astype(np.int32)
    w = _block_weights(block, use_w, block.X.dtype)
    if class_weight is not None:
        w *= class_weight[labels].astype(block.X.dtype)
    w, _ = _weights_ref(block, w)
    return Block(block.X, labels, w, block.offset, block.device)


def _block_check(block, n_classes):
    """The data pass ``check`` on one encoded block."""
    _, w_ref = _weights_ref(block, block.w)
    stats = _core.logistic_block_check(block.context, _x_ref(block), block.y, w_ref, n_classes)
    return stats.weight_sum, stats.n_positive


def _block_loss_grad(block, coef):
    """The data pass ``loss_grad`` on one encoded block: sum_i w_i loss_i and its gradient at
    coef."""
    _, w_ref = _weights_ref(block, block.w)
    return _core.logistic_block_loss_grad(block.context, _x_ref(block), block.y, w_ref, coef)


def _with_blocks(parts, blocks):
    """``parts`` with each block replaced by one of the same rows, on the same worker."""
    new = copy.copy(parts)
    new.blocks = list(blocks)
    return new


class _BlockData(_core.LogisticData):
    """The driver's data (``_core.LogisticData``) over ``Partitions`` of encoded blocks: each
    pass a map over the blocks and a sum of the results in block order."""

    def __init__(self, parts):
        super().__init__()
        self.parts = parts

    def n_samples(self):
        return self.parts.n_rows

    def n_features(self):
        return self.parts.n_features

    def check(self, n_classes):
        weight_sum, n_positive = 0.0, 0
        for s, p in self.parts.map(_block_check, n_classes, step="check"):
            weight_sum += s
            n_positive += p
        return _core.LogisticDataStats(weight_sum=weight_sum, n_positive=n_positive)

    def loss_grad(self, coef):
        loss, grad = 0.0, np.zeros(coef.shape, dtype=np.float64)
        for block_loss, block_grad in self.parts.map(_block_loss_grad, coef, step="loss_grad"):
            loss += block_loss
            grad += block_grad
        return loss, grad


def _labels_1d(y):
    """y as a 1-D dask array, by scikit-learn's column_or_1d rules."""
    y, _ = as_dask_array(y, "y", ensure_2d=False)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the "
            "shape of y to (n_samples, ), for example using ravel().", DataConversionWarning,
            stacklevel=3)
        return y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} instead.")
    return y


class LogisticRegression(DaskProbabilitiesMixin, DaskEstimatorMixin, _LogisticRegression):
    """Logistic regression fitted across a Dask cluster.

    :class:`gpulearn.linear_model.LogisticRegression` with its data in row blocks on Dask
    workers (a dask array chunked by rows, or a dask dataframe): the same parameters, fitted
    attributes and solver (the compiled driver, run once on the client), with each pass over
    the data run where its blocks are, on each worker's device. NumPy input is fitted by the
    single-machine class.

    ``classes_`` are the distinct labels of all blocks (one small Dask reduction); each worker
    encodes its labels against them and makes its weights (``sample_weight`` times
    ``class_weight``; "balanced" counts the classes in one more reduction) as the
    single-machine class does. Per objective evaluation the client sends the m x (d + 1)
    coefficients (m = 1 for two classes, else the number of classes) to each block and gets
    back its loss and gradient, m x (d + 1) doubles, summed in block order.

    Tolerance: the loss and gradient differ from the single-machine ones by summation order
    only (~1e-16 relative in float64). On well-conditioned data the solver then takes the same
    steps (same ``n_iter_``) and the coefficients and intercepts agree with the single-machine
    estimator's to 1e-9 relative in float64 (measured up to 1.6e-10 with tol=1e-8, mostly
    1e-16 to 1e-13), 1e-4 in float32. On ill-conditioned data, where the solver creeps over
    hundreds of steps, the rounding can change its path: both fits then reach the same
    objective (to ~1e-12) but the coefficients agree only as closely as the stopping rule pins
    them (as CUDA and CPU fits do; measured 7e-6 with an L1 part); a smaller ``tol`` tightens
    that.

    See :class:`gpulearn.linear_model.LogisticRegression` for the parameters and attributes.
    """

    @dask_or_local
    def fit(self, X, y, sample_weight=None):
        """Fit on Dask collections (others: the single-machine fit).

        Parameters
        ----------
        X : dask array of shape (n_samples, n_features), chunked by rows, or dask dataframe
        y : dask array or series of shape (n_samples,)
            Class labels (numbers or strings).
        sample_weight : dask array of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        l1_ratio, C = self._check_fit_params()
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None.")
        parts = self._partitions(X, _labels_1d(y), sample_weight)
        self._set_feature_names(parts)
        classes = np.unique(np.concatenate(parts.map(_block_classes, step="classes")))
        check_classification_targets(classes)
        n_classes = self._set_classes(classes)
        use_w = sample_weight is not None or self.class_weight is not None
        class_weight = None
        if self.class_weight == "balanced":
            counts = parts.map(_block_class_counts, classes, use_w, parts.dtype,
                               step="class counts")
            total = counts[0]
            for c in counts[1:]:
                total = total + c
            # scikit-learn's formula, given the global weighted counts as the weights of one
            # sample per class.
            class_weight = compute_class_weight("balanced", classes=classes, y=classes,
                                                sample_weight=total)
        elif self.class_weight is not None:
            class_weight = compute_class_weight(self.class_weight, classes=classes, y=classes)
        encoded = _with_blocks(parts, parts.map_blocks(_encode_block, classes, class_weight,
                                                       use_w, step="encode labels"))
        data = _BlockData(encoded)
        result = _core.logistic_fit_data(
            _devices.context("cpu"), self._core_params(l1_ratio, C), data, n_classes,
            parts.dtype.name, self._coef_init(n_classes, parts.n_features))
        return self._set_fitted(result, parts.dtype)

    @dask_or_local
    def decision_function(self, X):
        """Decision function per block of X: a dask array chunked like X's rows."""
        return self._dask_method("decision_function", X)

    @dask_or_local
    def predict(self, X):
        """Predicted labels per block of X: a dask array chunked like X's rows."""
        return self._dask_method("predict", X)

    @dask_or_local
    def score(self, X, y, sample_weight=None):
        """Mean accuracy, from per-block sums (a few numbers per block travel)."""
        return self._dask_score(X, y, sample_weight)


__all__ = ["LogisticRegression"]
