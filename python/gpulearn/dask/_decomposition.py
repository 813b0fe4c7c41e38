"""gpulearn.dask.PCA and gpulearn.dask.TruncatedSVD: the single-machine decomposition drivers
over row blocks held by Dask workers.

The C++ drivers (``pca_fit``, ``truncated_svd_fit``) are written over ``SpectralData``, the
passes they make over X. ``_BlockSpectralData`` implements those passes as one compiled
per-block reduction on every block (``Partitions.map``, on the worker's device) and a combine
on the client, in block order, in float64:

- max |X| (the power-of-two scale and the finiteness check): a maximum of P numbers;
- column means: P (d means, row count), weighted by the rows;
- the Gram matrix Xc^T Xc (``covariance_eigh``): P d x d, summed;
- the R factor of Xc (``full``, ``arpack``): P R factors of at most d x d, stacked and factored
  once more by the same primitive (tall-skinny QR);
- Xc^T (Xc Z) (each power iteration of ``randomized``): Z (d x l) to every block, P d x l back,
  summed; for wide data (n < d) the start's Xc^T Omega sends each block its rows of the n x l
  Omega instead.

The driver's own algebra (SVD or eigensolver of d x d, the randomized solver's
orthonormalisations, the choice of n_components, the sign rule) runs once, on the client's CPU.
"""

from __future__ import annotations

import numpy as np

from .. import _arrays, _core, _devices
from .._config import check_device_string
from ..decomposition import PCA as _PCA
from ..decomposition import TruncatedSVD as _TruncatedSVD
from ._base import DaskEstimatorMixin, dask_or_local
from ._inputs import is_dask_collection


def _ref(X):
    """The ArrayRef of a block's X (NumPy on the host, CuPy on a GPU worker)."""
    return _arrays.host_ref(X) if _arrays.device_ordinal(X) is None else _arrays.device_ref(X)


# ---- per-block reductions (run on the worker holding the block) -------------------------------

def _block_max_abs(block):
    return _core.spectral_max_abs(block.context, _ref(block.X))


def _block_means(block):
    return _core.spectral_column_means(block.context, _ref(block.X)), block.n_rows


def _block_gram(block, mean, scale):
    return _core.spectral_centered_gram(block.context, _ref(block.X), mean, scale)


def _block_r_factor(block, mean, scale):
    return _core.spectral_centered_r_factor(block.context, _ref(block.X), mean, scale)


def _block_products(block, mean, scale, Z):
    return _core.spectral_centered_products(block.context, _ref(block.X), mean, scale, Z=Z)


def _block_products_y(block, Y, mean, scale):
    # Y is the block's own rows of the n x l matrix: per-row data, passed as the block's state.
    out = _core.spectral_centered_products(block.context, _ref(block.X), mean, scale, Y=Y)
    return out, None


def _in_order_sum(parts):
    """The float64 sum of equally shaped arrays, in the given (block) order."""
    total = np.zeros(np.shape(parts[0]), dtype=np.float64)
    for p in parts:
        total += p
    return total


class _BlockSpectralData(_core.SpectralData):
    """``decomposition::SpectralData`` over ``Partitions``: what the C++ driver calls back."""

    def __init__(self, parts):
        super().__init__()
        self.parts = parts

    def rows(self):
        return self.parts.n_rows

    def cols(self):
        return self.parts.n_features

    def dtype(self):
        return self.parts.dtype.name

    def max_abs(self):
        return float(max(self.parts.map(_block_max_abs, step="max |X|")))

    def column_means(self):
        sums = [m.astype(np.float64) * rows
                for m, rows in self.parts.map(_block_means, step="column means")]
        return _in_order_sum(sums) / self.parts.n_rows

    def centered_gram(self, mean, scale):
        return _in_order_sum(self.parts.map(_block_gram, mean, scale, step="Gram matrix"))

    def centered_r_factor(self, mean, scale):
        factors = self.parts.map(_block_r_factor, mean, scale, step="R factor")
        # Tall-skinny QR: R^T R of the stacked factors is Xc^T Xc; one more QR of the stack
        # (at most P d x d rows, on the client) gives an R factor of Xc.
        stacked = np.ascontiguousarray(np.concatenate(factors, axis=0))
        return _core.spectral_centered_r_factor(_devices.context("cpu"), _arrays.host_ref(stacked),
                                                None, 1.0)

    def centered_products(self, mean, scale, Z, Y):
        if Z is not None:
            results = self.parts.map(_block_products, mean, scale, Z, step="power iteration")
        else:
            offsets = self.parts.offsets
            rows = [np.ascontiguousarray(Y[a:b]) for a, b in zip(offsets[:-1], offsets[1:])]
            results, _ = self.parts.map_state(_block_products_y, rows, mean, scale,
                                              step="randomized start")
        out = _in_order_sum([r[0] for r in results])
        total = 0.0
        for r in results:
            total += r[1]
        return out, total


def _dask_fit(estimator, X, fit_data):
    """The distributed fit shared by both estimators: X's blocks on the workers, the C++ driver
    ``fit_data`` on the client over them; sets the fitted attributes as the single-machine fit
    does and returns the core's record."""
    estimator._validate_params()
    check_device_string(estimator.device)
    parts = estimator._partitions(X)
    estimator._set_feature_names(parts)
    n, d = parts.n_rows, parts.n_features
    params = estimator._core_params(n, d, parts.dtype)
    return fit_data(_devices.context("cpu"), params, _BlockSpectralData(parts)), n


class PCA(DaskEstimatorMixin, _PCA):
    """:class:`gpulearn.decomposition.PCA` fitted on a Dask array or dataframe chunked by rows.

    Same parameters, solvers (and "auto"'s choice), n_components rules, random start and fitted
    attributes as the single-machine estimator: the same C++ driver runs once on the client
    over reductions computed where the blocks are (on each worker's GPU under dask-cuda, its
    CPU otherwise). NumPy input is fitted by the single-machine class.

    What travels, per pass over X (P blocks, d features, l = n_components + n_oversamples):
    "covariance_eigh" one P d^2 Gram pass; "full"/"arpack" one pass of P R factors (at most
    d x d each, re-factored on the client); "randomized" q + 1 passes (q = iterated_power)
    sending Z (d x l) to each block and P d x l products back, plus, for wide data (n < d),
    each block's rows of the n x l start. Every fit also gathers max |X| (P numbers) and the
    column means (P d).

    Tolerance against the single-machine estimator on the same data: the reductions are
    summed in another order, so in float64 ``components_``, ``singular_values_``,
    ``explained_variance_(ratio_)``, ``mean_`` and ``noise_variance_`` agree to ~1e-10
    relative (components up to 1e-9 absolute where the spectrum is well separated; signs
    follow the same rule on the same host matrices), and in float32 to ~1e-4 (the per-block
    means and partial products are rounded to float32).

    ``fit_transform`` on Dask input fits, then projects block by block: for the randomized
    solver on data with n >= d it projects on the core's ``fit_transform_components`` as the
    single-machine class does, so it returns scikit-learn's U S there too; elsewhere it is
    ``transform(X)``. ``transform``, ``inverse_transform`` and ``score_samples`` return dask
    arrays chunked like X's rows; ``score`` is their mean, summed per block in float64.
    """

    @dask_or_local
    def fit(self, X, y=None):
        """Fit on X (a dask array or dataframe; NumPy input as the single-machine class)."""
        self._fit(X)
        return self

    def _fit(self, X):
        if not is_dask_collection(X):
            return super()._fit(X)
        result, n = _dask_fit(self, X, _core.pca_fit_data)
        self._set_fitted(result, n)
        return result

    @dask_or_local
    def fit_transform(self, X, y=None):
        """Fit on X, then return its projections (U S for the randomized solver on n >= d), a
        dask array chunked like X's rows."""
        projection = self._fit(X).get("fit_transform_components")
        if projection is None:
            return self.transform(X)
        return self._dask_method("_project", X,
                                 model={**self._model(), "components": projection})

    @dask_or_local
    def transform(self, X):
        """Project X on the components, block by block: a dask array chunked like X."""
        return self._dask_method("transform", X)

    @dask_or_local
    def inverse_transform(self, X):
        """Map projections back to the data space, block by block."""
        return self._dask_method("inverse_transform", X)

    @dask_or_local
    def score_samples(self, X):
        """Each sample's log-likelihood, block by block: a dask array of X's row chunks."""
        return self._dask_method("score_samples", X)

    @dask_or_local
    def score(self, X, y=None):
        """The average log-likelihood: per-block float64 sums, one number per block back."""
        ll = self._dask_method("score_samples", X)
        return float(ll.astype(np.float64).sum().compute()) / ll.shape[0]


class TruncatedSVD(DaskEstimatorMixin, _TruncatedSVD):
    """:class:`gpulearn.decomposition.TruncatedSVD` fitted on a Dask array or dataframe chunked
    by rows.

    Same parameters, solvers, random start and fitted attributes as the single-machine
    estimator: the same C++ driver runs once on the client over reductions computed where the
    blocks are. NumPy input is fitted by the single-machine class.

    What travels (P blocks, d features, k = n_components, l = k + n_oversamples): max |X| (P
    numbers); "randomized": n_iter + 1 passes sending Z (d x l) to each block and P d x l
    back (for wide data, n < d, also each block's rows of the n x l start); "arpack": P R
    factors (at most d x d each), re-factored on the client; then the column means (P d) and
    one pass of P d x k products for explained_variance_.

    Tolerance against the single-machine estimator: float64 ~1e-10 relative on
    ``components_``, ``singular_values_``, ``explained_variance_(ratio_)``; float32 ~1e-4.
    ``fit_transform`` is fit then ``transform`` block by block (X V^T, as the single-machine
    class returns for both solvers).
    """

    @dask_or_local
    def fit(self, X, y=None):
        """Fit on X (a dask array or dataframe; NumPy input as the single-machine class)."""
        self._fit(X)
        return self

    def _fit(self, X):
        if not is_dask_collection(X):
            return super()._fit(X)
        result, _ = _dask_fit(self, X, _core.truncated_svd_fit_data)
        self._set_fitted(result)
        return result

    @dask_or_local
    def fit_transform(self, X, y=None):
        """Fit on X, then ``transform(X)``: a dask array chunked like X's rows."""
        self._fit(X)
        return self.transform(X)

    @dask_or_local
    def transform(self, X):
        """``X @ components_.T``, block by block: a dask array chunked like X."""
        return self._dask_method("transform", X)

    @dask_or_local
    def inverse_transform(self, X):
        """``X @ components_``, block by block."""
        return self._dask_method("inverse_transform", X)


__all__ = ["PCA", "TruncatedSVD"]
