"""gpulearn.dask's nearest neighbours against the single-machine estimators on the same data:
the neighbours are the same exactly (indices and distances), and so are the votes and averages.
"""

import pickle

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
gd = pytest.importorskip("gpulearn.dask")

from gpulearn import neighbors as gn  # noqa: E402

# Uneven blocks: one of a single row, one empty, more blocks than the 2 workers.
CHUNKS = (37, 1, 0, 120, 42)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20)
    X = rng.normal(size=(200, 6))
    X[150] = X[3]  # an exact duplicate in another block: ties break on the global index
    Q = rng.normal(size=(45, 6))
    Q[7] = X[150]
    return X, Q, rng.integers(0, 4, 200), rng.normal(size=(200, 2))


def _dask(a, chunks=CHUNKS):
    return da.from_array(a, chunks=(chunks,) + a.shape[1:])


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine", "inner_product",
                                    "chebyshev"])
def test_kneighbors_equal_single_machine(dask_client, data, metric):
    X, Q, _, _ = data
    nn = gd.NearestNeighbors(n_neighbors=5, metric=metric, device="cpu").fit(_dask(X))
    ref = gn.NearestNeighbors(n_neighbors=5, metric=metric, device="cpu").fit(X)
    dist, ind = nn.kneighbors(_dask(Q, (10, 1, 34)))
    assert isinstance(ind, da.Array) and ind.chunks[0] == (10, 1, 34)
    rd, ri = ref.kneighbors(Q)
    np.testing.assert_array_equal(ind.compute(), ri)
    np.testing.assert_array_equal(dist.compute(), rd)
    # The index queried by itself, each row excluded from its own neighbours (not its
    # duplicate in another block).
    d2, i2 = nn.kneighbors(n_neighbors=3)
    rd2, ri2 = ref.kneighbors(n_neighbors=3)
    np.testing.assert_array_equal(i2.compute(), ri2)
    np.testing.assert_array_equal(d2.compute(), rd2)
    assert nn.n_samples_fit_ == 200 and nn.n_features_in_ == 6
    assert nn.effective_metric_ == ref.effective_metric_


def test_k_larger_than_blocks_and_float32(dask_client, data):
    X, Q, _, _ = data
    X32, Q32 = X.astype(np.float32), Q.astype(np.float32)
    nn = gd.NearestNeighbors(n_neighbors=60, device="cpu").fit(_dask(X32))
    dist, ind = nn.kneighbors(_dask(Q32, (45,)))
    rd, ri = gn.NearestNeighbors(n_neighbors=60, device="cpu").fit(X32).kneighbors(Q32)
    assert dist.dtype == np.float32
    np.testing.assert_array_equal(ind.compute(), ri)
    np.testing.assert_array_equal(dist.compute(), rd)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_classifier_equal_single_machine(dask_client, data, weights):
    X, Q, y, _ = data
    labels = np.array(["ant", "bee", "cat", "dog"], dtype=object)[y]
    clf = gd.KNeighborsClassifier(n_neighbors=7, weights=weights, device="cpu")
    clf.fit(_dask(X), _dask(labels))
    ref = gn.KNeighborsClassifier(n_neighbors=7, weights=weights, device="cpu").fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ref.classes_)
    pred = clf.predict(_dask(Q, (20, 25)))
    assert pred.chunks[0] == (20, 25)
    np.testing.assert_array_equal(pred.compute(), ref.predict(Q))
    np.testing.assert_array_equal(clf.predict_proba(_dask(Q, (45,))).compute(),
                                  ref.predict_proba(Q))
    assert clf.score(_dask(Q, (45,)), _dask(labels[:45], (45,))) == ref.score(Q, labels[:45])
    local = clf.to_local()
    assert type(local) is gn.KNeighborsClassifier
    local = pickle.loads(pickle.dumps(local))
    np.testing.assert_array_equal(local.predict(Q), ref.predict(Q))
    np.testing.assert_array_equal(local._fit_X, X)


def test_multioutput_classifier_and_regressor(dask_client, data):
    X, Q, y, Y = data
    y2 = np.stack([y, (y + 1) % 3], axis=1)
    clf = gd.KNeighborsClassifier(device="cpu").fit(_dask(X), _dask(y2))
    ref = gn.KNeighborsClassifier(device="cpu").fit(X, y2)
    np.testing.assert_array_equal(clf.predict(_dask(Q, (45,))).compute(), ref.predict(Q))
    for p, r in zip(clf.predict_proba(_dask(Q, (45,))), ref.predict_proba(Q)):
        np.testing.assert_array_equal(p.compute(), r)
    reg = gd.KNeighborsRegressor(weights="distance", device="cpu").fit(_dask(X), _dask(Y))
    rref = gn.KNeighborsRegressor(weights="distance", device="cpu").fit(X, Y)
    np.testing.assert_array_equal(reg.predict(_dask(Q, (45,))).compute(), rref.predict(Q))


def test_regressor_equal_single_machine(dask_client, data):
    X, Q, _, Y = data
    y = Y[:, 0].astype(np.float32)
    reg = gd.KNeighborsRegressor(n_neighbors=4, device="cpu").fit(_dask(X), _dask(y))
    ref = gn.KNeighborsRegressor(n_neighbors=4, device="cpu").fit(X, y)
    pred = reg.predict(_dask(Q, (40, 5)))
    assert pred.dtype == ref.predict(Q).dtype and pred.ndim == 1
    np.testing.assert_array_equal(pred.compute(), ref.predict(Q))
    # R^2 from per-block sums in float64; scikit-learn's r2_score sums float32 targets in
    # float32, hence the float32 tolerance.
    assert reg.score(_dask(Q, (45,)), _dask(y[:45], (45,))) == pytest.approx(
        ref.score(Q, y[:45]), rel=1e-5)
    np.testing.assert_array_equal(reg.to_local().predict(Q), ref.predict(Q))


def test_dataframe_input_sets_feature_names(dask_client, data):
    pd = pytest.importorskip("pandas")
    X, Q, y, _ = data
    cols = [f"f{i}" for i in range(X.shape[1])]
    df = dd.from_pandas(pd.DataFrame(X, columns=cols), npartitions=3)
    clf = gd.KNeighborsClassifier(device="cpu").fit(df, dd.from_pandas(pd.Series(y),
                                                                        npartitions=3))
    np.testing.assert_array_equal(clf.feature_names_in_, cols)
    ref = gn.KNeighborsClassifier(device="cpu").fit(pd.DataFrame(X, columns=cols), y)
    qdf = dd.from_pandas(pd.DataFrame(Q, columns=cols), npartitions=2)
    np.testing.assert_array_equal(clf.predict(qdf).compute(),
                                  ref.predict(pd.DataFrame(Q, columns=cols)))


def test_bad_input(dask_client, data):
    X, Q, y, _ = data
    bad = X.copy()
    bad[160, 2] = np.nan  # in the fourth block
    with pytest.raises(ValueError) as single:
        gn.NearestNeighbors(device="cpu").fit(bad)
    with pytest.raises(ValueError) as dist:
        gd.NearestNeighbors(device="cpu").fit(_dask(bad))
    assert str(dist.value) == str(single.value)
    nn = gd.NearestNeighbors(device="cpu").fit(_dask(X))
    with pytest.raises(ValueError, match="X has 5 features, but NearestNeighbors is expecting 6"):
        nn.kneighbors(_dask(Q[:, :5], (45,)))
    with pytest.raises(ValueError, match=r"rechunk\(\{1: -1\}\)"):
        gd.NearestNeighbors().fit(da.from_array(X, chunks=(50, 3)))
    with pytest.raises(ValueError, match="Expected n_neighbors <= n_samples_fit"):
        nn.kneighbors(_dask(Q, (45,)), n_neighbors=201)
    with pytest.raises(ValueError, match="Input y contains NaN"):
        yb = np.where(np.arange(200) == 100, np.nan, 1.0)
        gd.KNeighborsRegressor(device="cpu").fit(_dask(X), _dask(yb))
    with pytest.raises(ValueError, match="Unknown label type"):
        gd.KNeighborsClassifier(device="cpu").fit(_dask(X), _dask(np.linspace(0, 1, 200)))
    with pytest.raises(TypeError, match="pickle to_local"):
        pickle.dumps(nn)
    # Unknown chunk sizes (a boolean selection) are computed, not refused.
    sel = _dask(X)[_dask(X)[:, 0] > -10]
    assert np.isnan(sel.chunks[0][0])
    np.testing.assert_array_equal(
        gd.NearestNeighbors(n_neighbors=2, device="cpu").fit(sel).kneighbors(
            _dask(Q, (45,)))[1].compute(),
        gn.NearestNeighbors(n_neighbors=2, device="cpu").fit(X).kneighbors(Q)[1])


def test_numpy_input_runs_the_single_machine_class(data):
    X, Q, y, _ = data
    clf = gd.KNeighborsClassifier(device="cpu").fit(X, y)
    ref = gn.KNeighborsClassifier(device="cpu").fit(X, y)
    np.testing.assert_array_equal(clf.predict(Q), ref.predict(Q))


def _device_and_emulation(block):
    from gpulearn import _core

    return block.device, bool(_core.cuda_emulated())


@pytest.mark.cuda
def test_cuda_workers_equal_cpu(dask_client, data):
    """Each worker process searches on its own (emulated) device; the neighbours are the CPU
    single-machine estimator's."""
    X, Q, y, _ = data
    clf = gd.KNeighborsClassifier(n_neighbors=6, device="cuda").fit(_dask(X), _dask(y))
    assert set(clf._index.map(_device_and_emulation)) == {("cuda:0", True)}
    ref = gn.KNeighborsClassifier(n_neighbors=6, device="cpu").fit(X, y)
    dist, ind = clf.kneighbors(_dask(Q, (20, 25)))
    rd, ri = ref.kneighbors(Q)
    np.testing.assert_array_equal(ind.compute(), ri)
    np.testing.assert_allclose(dist.compute(), rd, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(_dask(Q, (45,))).compute(), ref.predict(Q))
