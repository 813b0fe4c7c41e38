"""gpulearn.dask's LinearRegression, Ridge, ElasticNet and Lasso against the single-machine
estimators fitted on the same data (LocalCluster of 2 worker processes, the ``dask_client``
fixture). The distributed fit runs the single-machine driver over reductions combined across
blocks, so the fitted models agree up to the order of floating-point sums."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import gpulearn.linear_model as local_lm

from _testdata import make_regression_data

da = pytest.importorskip("dask.array")
pytest.importorskip("distributed")

from gpulearn.dask._linear_model import ElasticNet, Lasso, LinearRegression, Ridge  # noqa: E402

# Uneven row chunks: a chunk of one row, an empty chunk, more chunks than the 2 workers.
CHUNKS = (37, 1, 0, 120, 42)
N = sum(CHUNKS)

# float64: the same driver on the same reductions summed in another order; on these
# well-conditioned problems the coefficients differ by ~cond * eps (measured: ~1e-14).
RTOL_F64 = 1e-10
# Coordinate descent: the iterates follow rounding through up to ~100 sweeps (measured ~1e-13;
# the wide case compares the descent on the Gram system with the one over the data).
RTOL_CD = 1e-8
# float32: reductions rounded in float32 per block (eps 6e-8) and combined in another order.
RTOL_F32 = 1e-4

ESTIMATORS = [
    pytest.param(LinearRegression, {}, id="LinearRegression"),
    pytest.param(Ridge, {"alpha": 1.5}, id="Ridge"),
    pytest.param(ElasticNet, {"alpha": 0.05, "l1_ratio": 0.7, "tol": 1e-8}, id="ElasticNet"),
    pytest.param(Lasso, {"alpha": 0.02, "tol": 1e-8}, id="Lasso"),
]


def local_twin(cls):
    return cls._local_class()


def rtol_of(cls, dtype):
    if dtype == np.float32:
        return RTOL_F32
    return RTOL_CD if issubclass(cls, local_lm.ElasticNet) else RTOL_F64


def rel_diff(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def assert_same_model(dist, single, rtol):
    """Same fitted attributes (types, shapes, dtypes), values within rtol of their scale."""
    assert type(dist.coef_) is np.ndarray
    assert dist.coef_.shape == single.coef_.shape and dist.coef_.dtype == single.coef_.dtype
    scale = float(np.max(np.abs(single.coef_)))
    assert_allclose(dist.coef_, single.coef_, rtol=rtol, atol=rtol * scale)
    assert np.shape(dist.intercept_) == np.shape(single.intercept_)
    assert type(dist.intercept_) is type(single.intercept_)
    assert_allclose(dist.intercept_, single.intercept_, rtol=rtol,
                    atol=rtol * max(scale, float(np.max(np.abs(single.intercept_)))))
    assert dist.n_features_in_ == single.n_features_in_
    if isinstance(single, local_lm.LinearRegression):
        assert dist.rank_ == single.rank_
        assert_allclose(dist.singular_, single.singular_, rtol=rtol,
                        atol=rtol * float(single.singular_.max()))
    if isinstance(single, local_lm.Ridge):
        assert dist.solver_ == single.solver_
    if isinstance(single, local_lm.ElasticNet):
        assert dist.n_iter_ == single.n_iter_
        assert np.shape(dist.dual_gap_) == np.shape(single.dual_gap_)


def dask_of(a, chunks=CHUNKS):
    return da.from_array(a, chunks=(chunks,) + tuple((s,) for s in a.shape[1:]))


@pytest.mark.parametrize("cls, params", ESTIMATORS)
@pytest.mark.parametrize("weighted, n_targets", [(False, None), (True, 2)])
def test_fit_equals_single_machine(cls, params, weighted, n_targets, dask_client, rng):
    X, y = make_regression_data(rng, n_samples=N, n_features=6, n_targets=n_targets)
    w = rng.uniform(0.2, 2.0, size=N) if weighted else None
    single = local_twin(cls)(device="cpu", **params).fit(X, y, sample_weight=w)
    dist = cls(device="cpu", **params).fit(dask_of(X), dask_of(y),
                                           sample_weight=None if w is None else dask_of(w))
    assert_same_model(dist, single, rtol_of(cls, np.float64))
    assert not hasattr(dist, "feature_names_in_")


@pytest.mark.parametrize("cls, params", ESTIMATORS)
def test_float32_and_no_intercept(cls, params, dask_client, rng):
    X, y = make_regression_data(rng, n_samples=N, n_features=5, dtype=np.float32)
    params = {**params, "fit_intercept": False}
    single = local_twin(cls)(device="cpu", **params).fit(X, y)
    dist = cls(device="cpu", **params).fit(dask_of(X), dask_of(y))
    assert dist.coef_.dtype == np.float32
    assert_same_model(dist, single, RTOL_F32)
    assert dist.intercept_ == 0.0


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_rank_deficient_takes_the_qr_path(fit_intercept, dask_client, rng):
    # A repeated column refuses the Gram path: the R factors of the blocks are stacked and
    # factored again (tall-skinny QR); rank_ and the minimum-norm solution are the same.
    X, y = make_regression_data(rng, n_samples=N, n_features=5)
    X = np.hstack([X, X[:, [1]], 2.0 * X[:, [3]]])
    single = local_lm.LinearRegression(device="cpu", fit_intercept=fit_intercept).fit(X, y)
    dist = LinearRegression(device="cpu", fit_intercept=fit_intercept).fit(dask_of(X),
                                                                            dask_of(y))
    assert single.rank_ == dist.rank_ == 5
    assert_same_model(dist, single, 1e-8)
    ridge_single = local_lm.Ridge(alpha=0.0, device="cpu").fit(X, y)
    ridge = Ridge(alpha=0.0, device="cpu").fit(dask_of(X), dask_of(y))
    assert ridge_single.solver_ == ridge.solver_ == "svd"
    assert_same_model(ridge, ridge_single, 1e-8)


@pytest.mark.parametrize("solver", ["auto", "cholesky", "svd"])
def test_ridge_solvers_and_per_target_alpha(solver, dask_client, rng):
    X, Y = make_regression_data(rng, n_samples=N, n_features=6, n_targets=3)
    alpha = np.array([0.01, 1.0, 100.0])
    single = local_lm.Ridge(alpha=alpha, solver=solver, device="cpu").fit(X, Y)
    dist = Ridge(alpha=alpha, solver=solver, device="cpu").fit(dask_of(X), dask_of(Y))
    assert_same_model(dist, single, RTOL_F64)


def test_wide_data(dask_client, rng):
    # n <= d: Ridge takes the QR path, LinearRegression the minimum-norm SVD; the single-machine
    # ElasticNet descends over the data, the distributed one on the Gram system (same updates).
    X, y = make_regression_data(rng, n_samples=30, n_features=40)
    chunks = (7, 1, 0, 12, 10)
    for cls, params, rtol in [(Ridge, {"alpha": 0.5}, RTOL_F64),
                              (LinearRegression, {}, 1e-8),
                              (ElasticNet, {"alpha": 0.1, "tol": 1e-8}, RTOL_CD),
                              (Lasso, {"alpha": 0.05, "tol": 1e-8}, RTOL_CD)]:
        single = local_twin(cls)(device="cpu", **params).fit(X, y)
        dist = cls(device="cpu", **params).fit(dask_of(X, chunks), dask_of(y, chunks))
        assert_same_model(dist, single, rtol)


def test_elastic_net_options(dask_client, rng):
    X, y = make_regression_data(rng, n_samples=N, n_features=8)
    params = {"alpha": 0.03, "selection": "random", "random_state": 3, "positive": True,
              "precompute": True}
    single = local_lm.ElasticNet(device="cpu", **params).fit(X, y, sample_weight=2.0)
    dist = ElasticNet(device="cpu", **params).fit(dask_of(X), dask_of(y), sample_weight=2.0)
    assert_same_model(dist, single, RTOL_CD)
    # warm_start starts from the fitted coef_ on both
    single.set_params(alpha=0.01, warm_start=True).fit(X, y)
    dist.set_params(alpha=0.01, warm_start=True).fit(dask_of(X), dask_of(y))
    assert_same_model(dist, single, RTOL_CD)


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_dataframe_input_predict_score_and_to_local(dask_client, rng):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = make_regression_data(rng, n_samples=N, n_features=4)
    names = [f"f{i}" for i in range(4)]
    frame = pd.DataFrame(X, columns=names)
    Xd = dd.from_pandas(frame, npartitions=3)
    yd = dd.from_pandas(pd.Series(y, name="y"), npartitions=3)
    single = local_lm.Ridge(alpha=0.3, device="cpu").fit(frame, y)
    dist = Ridge(alpha=0.3, device="cpu").fit(Xd, yd)
    assert_array_equal(dist.feature_names_in_, names)
    assert_same_model(dist, single, RTOL_F64)

    Xa = dask_of(X)
    pred = dist.predict(Xa)
    assert isinstance(pred, da.Array) and pred.chunks == ((37, 1, 0, 120, 42),)
    assert_allclose(pred.compute(), single.predict(X), rtol=1e-12, atol=1e-12)
    assert_allclose(dist.score(Xa, dask_of(y)), single.score(X, y), rtol=1e-12)
    assert_allclose(dist.predict(X), single.predict(X), rtol=1e-12)  # NumPy: single machine

    local = dist.to_local()
    assert type(local) is local_lm.Ridge
    again = pickle.loads(pickle.dumps(local))
    assert_array_equal(again.predict(X), dist.predict(X))


def test_multi_target_predict_is_chunked_like_x(dask_client, rng):
    X, Y = make_regression_data(rng, n_samples=N, n_features=5, n_targets=3)
    dist = LinearRegression(device="cpu").fit(dask_of(X), dask_of(Y))
    pred = dist.predict(dask_of(X))
    assert pred.chunks == (CHUNKS, (3,))
    assert_allclose(pred.compute(), dist.to_local().predict(X), rtol=1e-12)


@pytest.mark.parametrize("cls, params", ESTIMATORS)
def test_nan_in_one_partition_raises_the_single_machine_error(cls, params, dask_client, rng):
    X, y = make_regression_data(rng, n_samples=N, n_features=4)
    X[150, 2] = np.nan  # in the fourth chunk only
    with pytest.raises(ValueError, match="Input X contains NaN"):
        local_twin(cls)(device="cpu", **params).fit(X, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        cls(device="cpu", **params).fit(dask_of(X), dask_of(y))
    X[150, 2] = 0.0
    y[40] = np.inf
    with pytest.raises(ValueError, match="Input y contains infinity"):
        cls(device="cpu", **params).fit(dask_of(X), dask_of(y))
    y[40] = 1.0
    w = np.ones(N)
    w[3] = -1.0
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        cls(device="cpu", **params).fit(dask_of(X), dask_of(y), sample_weight=dask_of(w))


def test_an_exception_in_a_reduction_leaves_the_driver_as_itself(dask_client, rng):
    # The Python LinearData is called back by the compiled driver (GIL released around it).
    from gpulearn import _core, _devices
    from gpulearn.dask import _linear_model

    class Boom(Exception):
        pass

    X, y = make_regression_data(rng, n_samples=N, n_features=4)
    parts = Ridge(device="cpu")._partitions(dask_of(X), dask_of(y))
    data = _linear_model._DaskLinearData64(parts, 1, False)
    assert (data.n_samples, data.n_features, data.n_targets) == (N, 4, 1)

    def boom(*args):
        raise Boom("from Python")

    data.centered_gram = boom
    with pytest.raises(Boom, match="from Python"):
        _core.ridge_fit(_devices.context("cpu"), _core.RidgeParams(), data)


@pytest.mark.cuda
@pytest.mark.parametrize("cls, params", ESTIMATORS)
def test_cuda_workers_match_the_cpu_fit(cls, params, dask_client, rng):
    # Each worker computes its blocks on its own (emulated) device; the CUDA-vs-CPU tolerances
    # of test_cuda_equivalence.py.
    X, y = make_regression_data(rng, n_samples=N, n_features=6)
    w = rng.uniform(0.2, 2.0, size=N)
    single = local_twin(cls)(device="cpu", **params).fit(X, y, sample_weight=w)
    dist = cls(device="cuda", **params).fit(dask_of(X), dask_of(y), sample_weight=dask_of(w))
    assert_same_model(dist, single, 1e-9)
    assert_allclose(dist.predict(dask_of(X)).compute(), single.predict(X), rtol=1e-9,
                    atol=1e-9 * float(np.max(np.abs(y))))
