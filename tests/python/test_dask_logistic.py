"""gpulearn.dask.LogisticRegression against the single-machine estimator.

The distributed fit runs the same compiled driver over the same per-block primitive: the loss
and gradient differ by summation order only (3e-16 relative here), so the solver takes the same
number of steps. Its last steps, where the objective is flat to rounding, amplify that: measured
on these data (float64, tol 1e-8), coefficients and intercepts within 1.6e-10 of the
single-machine ones relative to their largest (most cases 1e-16 to 6e-14; the largest in
three-class fits), n_iter_ equal. RTOL_F64 holds a margin over that.
"""

import pickle

import numpy as np
import pytest
from sklearn.datasets import make_classification

from gpulearn.linear_model import LogisticRegression as LocalLogisticRegression

da = pytest.importorskip("dask.array")
pytest.importorskip("distributed")

from gpulearn.dask._logistic import LogisticRegression  # noqa: E402

# Uneven row chunks: a one-row chunk, an empty one, more chunks than the 2 workers.
CHUNKS = (37, 1, 0, 120, 42)
N = sum(CHUNKS)
RTOL_F64 = 1e-9
# float32: losses and gradients are formed in float per block, so summation order moves them by
# ~1e-7 and the iterates by up to ~1e-5 of the coefficients' scale.
RTOL_F32 = 1e-4


def _data(n_classes, dtype=np.float64, seed=0):
    X, y = make_classification(N, 6, n_informative=4, n_redundant=0, n_classes=n_classes,
                               random_state=seed)
    return X.astype(dtype), y


def _dask(a):
    return da.from_array(a, chunks=(CHUNKS,) + tuple((s,) for s in a.shape[1:]))


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def _assert_same_fit(dist, local, rtol):
    np.testing.assert_array_equal(dist.classes_, local.classes_)
    assert dist.coef_.dtype == local.coef_.dtype
    assert dist.coef_.shape == local.coef_.shape
    assert _rel(dist.coef_, local.coef_) <= rtol
    scale = max(np.max(np.abs(local.coef_)), np.max(np.abs(local.intercept_)))
    assert np.max(np.abs(dist.intercept_ - local.intercept_)) <= rtol * scale
    np.testing.assert_array_equal(dist.n_iter_, local.n_iter_)
    assert dist.n_features_in_ == local.n_features_in_


@pytest.mark.parametrize("n_classes, params, weighted", [
    (2, {"l1_ratio": 0.5, "solver": "saga", "C": 0.3}, True),
    (3, {}, True),
    (3, {"l1_ratio": 1.0, "solver": "saga"}, False),
    (2, {"solver": "liblinear", "intercept_scaling": 2.0}, True),
    (3, {"C": np.inf, "fit_intercept": False}, False),
])
def test_fit_matches_single_machine(dask_client, rng, n_classes, params, weighted):
    X, y = _data(n_classes)
    w = rng.uniform(0.2, 3.0, size=N) if weighted else None
    kw = dict(params, tol=1e-8, max_iter=1000, device="cpu")
    local = LocalLogisticRegression(**kw).fit(X, y, sample_weight=w)
    dist = LogisticRegression(**kw).fit(_dask(X), _dask(y),
                                        sample_weight=None if w is None else _dask(w))
    _assert_same_fit(dist, local, RTOL_F64)
    assert not hasattr(dist, "feature_names_in_")


def test_float32(dask_client):
    X, y = _data(3, np.float32)
    local = LocalLogisticRegression(tol=1e-5, device="cpu").fit(X, y)
    dist = LogisticRegression(tol=1e-5, device="cpu").fit(_dask(X), _dask(y))
    assert dist.coef_.dtype == np.float32
    assert _rel(dist.coef_, local.coef_) <= RTOL_F32
    assert _rel(dist.intercept_, local.intercept_) <= RTOL_F32


def test_string_labels_and_class_weights(dask_client, rng):
    X, y = _data(3)
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    w = rng.uniform(0.2, 3.0, size=N)
    for class_weight in ("balanced", {"setosa": 2.0, "virginica": 0.5}):
        kw = dict(class_weight=class_weight, tol=1e-8, max_iter=1000, device="cpu")
        local = LocalLogisticRegression(**kw).fit(X, names, sample_weight=w)
        dist = LogisticRegression(**kw).fit(_dask(X), _dask(names), sample_weight=_dask(w))
        _assert_same_fit(dist, local, RTOL_F64)
        assert dist.classes_.dtype == local.classes_.dtype
        pred = dist.predict(_dask(X))
        np.testing.assert_array_equal(pred.compute(), local.predict(X))


def test_predictions_are_dask_arrays_chunked_like_x(dask_client):
    X, y = _data(3)
    Xd = _dask(X)
    dist = LogisticRegression(device="cpu").fit(Xd, _dask(y))
    local = dist.to_local()
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        out = getattr(dist, method)(Xd)
        assert isinstance(out, da.Array), method
        assert out.chunks[0] == Xd.chunks[0], method
        np.testing.assert_allclose(out.compute(), getattr(local, method)(X), rtol=1e-12,
                                   atol=1e-14, err_msg=method)
    assert dist.score(Xd, _dask(y)) == pytest.approx(local.score(X, y), abs=1e-12)


def test_binary_to_local_pickles_and_predicts_the_same(dask_client):
    X, y = _data(2)
    kw = dict(C=0.5, tol=1e-8, device="cpu")
    dist = LogisticRegression(**kw).fit(_dask(X), _dask(y))
    _assert_same_fit(dist, LocalLogisticRegression(**kw).fit(X, y), RTOL_F64)
    local = dist.to_local()
    assert type(local) is LocalLogisticRegression
    assert local.get_params() == dist.get_params()
    again = pickle.loads(pickle.dumps(local))
    np.testing.assert_array_equal(again.coef_, dist.coef_)
    np.testing.assert_array_equal(again.predict(X), dist.predict(_dask(X)).compute())
    # Two classes: a 1-D decision function, chunked like X.
    out = dist.decision_function(_dask(X))
    assert out.ndim == 1 and out.chunks == (CHUNKS,)
    np.testing.assert_allclose(out.compute(), again.decision_function(X), rtol=1e-12)


def test_numpy_input_fits_on_one_machine(dask_client):
    X, y = _data(2)
    a = LogisticRegression(device="cpu").fit(X, y)
    b = LocalLogisticRegression(device="cpu").fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_dataframe_input(dask_client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = _data(3)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    ddf = dd.from_pandas(frame, npartitions=3)
    ys = dd.from_pandas(pd.Series(y), npartitions=3)
    kw = dict(tol=1e-8, max_iter=1000, device="cpu")
    local = LocalLogisticRegression(**kw).fit(frame, y)
    dist = LogisticRegression(**kw).fit(ddf, ys)
    _assert_same_fit(dist, local, RTOL_F64)
    np.testing.assert_array_equal(dist.feature_names_in_, local.feature_names_in_)
    np.testing.assert_array_equal(dist.predict(ddf).compute(), local.predict(frame))


def test_warm_start(dask_client):
    X, y = _data(2)
    kw = dict(warm_start=True, max_iter=3, device="cpu")
    local = LocalLogisticRegression(**kw)
    dist = LogisticRegression(**kw)
    with pytest.warns(Warning):
        local.fit(X, y)
        dist.fit(_dask(X), _dask(y))
    local.set_params(max_iter=1000, tol=1e-8).fit(X, y)
    dist.set_params(max_iter=1000, tol=1e-8).fit(_dask(X), _dask(y))
    _assert_same_fit(dist, local, RTOL_F64)


def test_nan_in_one_partition_raises_the_single_machine_error(dask_client):
    X, y = _data(2)
    X[150, 2] = np.nan  # in the fourth chunk
    with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
        LocalLogisticRegression(device="cpu").fit(X, y)
    with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
        LogisticRegression(device="cpu").fit(_dask(X), _dask(y))


def test_worker_errors_reach_the_caller(dask_client, rng):
    # A negative weight in one block: scikit-learn's message, raised on the worker, out through
    # the compiled driver.
    X, y = _data(2)
    w = rng.uniform(0.2, 3.0, size=N)
    w[160] = -1.0
    message = "Negative values in data passed to `sample_weight`"
    with pytest.raises(ValueError, match=message):
        LocalLogisticRegression(device="cpu").fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match=message):
        LogisticRegression(device="cpu").fit(_dask(X), _dask(y), sample_weight=_dask(w))
    with pytest.raises(ValueError, match="only one class"):
        LogisticRegression(device="cpu").fit(_dask(X), _dask(np.zeros(N, dtype=int)))
    with pytest.raises(ValueError, match="Unknown label type"):
        LogisticRegression(device="cpu").fit(_dask(X), _dask(X[:, 0]))


@pytest.mark.cuda
def test_cuda_workers_match_cpu(dask_client):
    # Each worker fits its blocks on its own (emulated) device; the CUDA loss and gradient equal
    # the CPU's to ~1e-13 in float64 (test_cuda_equivalence: RTOL_LOGISTIC_F64 = 1e-6 for the
    # coefficients, where both fits stop on a flat objective).
    X, y = _data(3)
    kw = dict(tol=1e-8, max_iter=1000)
    cpu = LocalLogisticRegression(device="cpu", **kw).fit(X, y)
    dist = LogisticRegression(device="cuda", **kw).fit(_dask(X), _dask(y))
    assert _rel(dist.coef_, cpu.coef_) <= 1e-6
    assert _rel(dist.intercept_, cpu.intercept_) <= 1e-6
    np.testing.assert_array_equal(dist.predict(_dask(X)).compute(), cpu.predict(X))
