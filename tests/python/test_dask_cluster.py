"""gpulearn.dask.KMeans against gpulearn.cluster.KMeans on the same data.

The distributed fit runs the single-machine driver over the blocks, so with the same data and
random_state it must find the same initial centers, make the same iterations and give the same
labels. Tolerances (measured in brackets):
- float64: labels and n_iter_ identical; cluster_centers_ to 1e-12 relative to the largest
  |center| (measured 1.1e-16), inertia_ to 1e-12 relative (measured 3.5e-15);
- float32: labels and n_iter_ identical; centers to 1e-5 relative (measured: identical, the
  per-cluster sums being in double);
- CUDA workers (emulated device per worker) against the single-machine CPU fit: labels and
  n_iter_ identical, centers to 1e-7 relative (test_kmeans.py's CUDA tolerance).
The blocks are uneven (one of one row, one of zero rows, more blocks than the two workers).
"""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from gpulearn import _core
from gpulearn.cluster import KMeans as LocalKMeans
from gpulearn.dask._cluster import KMeans, _BlockedKMeansData32, _BlockedKMeansData64
from gpulearn.dask._parts import LocalPartitions

from _testdata import SEED

da = pytest.importorskip("dask.array")

CHUNKS = (37, 1, 0, 120, 42)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(SEED)
    n, d = sum(CHUNKS), 5
    centers = rng.normal(scale=4.0, size=(4, d))
    X = centers[rng.integers(0, 4, size=n)] + rng.normal(size=(n, d)) + 50.0
    w = rng.uniform(0.2, 3.0, size=n)
    return X, w


def chunked(a):
    return da.from_array(a, chunks=(CHUNKS,) + tuple((s,) for s in a.shape[1:]))


def assert_same_fit(dist, local, rtol=1e-12):
    scale = np.abs(local.cluster_centers_).max()
    assert_allclose(dist.cluster_centers_, local.cluster_centers_, rtol=0, atol=rtol * scale)
    assert dist.inertia_ == pytest.approx(local.inertia_, rel=rtol)
    assert dist.n_iter_ == local.n_iter_
    labels = dist.labels_
    assert isinstance(labels, da.Array) and labels.chunks == (CHUNKS,)
    assert_array_equal(labels.compute(), local.labels_)


@pytest.mark.parametrize("init, weighted", [("k-means++", False), ("k-means++", True),
                                             ("random", True), ("k-means||", True),
                                             ("array", False)])
def test_fit_equals_single_machine(dask_client, data, init, weighted):
    X, w = data
    kw = dict(n_clusters=4, random_state=SEED, device="cpu",
              init=X[[0, 50, 100, 150]].copy() if init == "array" else init,
              n_init=2 if init == "random" else 1)
    sw = w if weighted else None
    local = LocalKMeans(**kw).fit(X, sample_weight=sw)
    dist = KMeans(**kw).fit(chunked(X), sample_weight=chunked(w) if weighted else None)
    assert_same_fit(dist, local)
    assert dist._tol == pytest.approx(local._tol, rel=1e-12) and dist._n_init == local._n_init


def test_float32(dask_client, data):
    X = data[0].astype(np.float32)
    kw = dict(n_clusters=4, random_state=SEED, device="cpu")
    local = LocalKMeans(**kw).fit(X)
    dist = KMeans(**kw).fit(chunked(X))
    assert dist.cluster_centers_.dtype == np.float32
    assert_same_fit(dist, local, rtol=1e-5)


def test_empty_cluster_relocation(dask_client, data):
    # A center far from every row is empty after the first assignment: it takes the row
    # farthest from its center (a top-m over the blocks, then that row fetched by index).
    X, w = data
    init = X[[0, 50, 100]].copy()
    init = np.vstack([init, init[:1] + 1e3])
    kw = dict(n_clusters=4, init=init, device="cpu")
    local = LocalKMeans(**kw).fit(X, sample_weight=w)
    dist = KMeans(**kw).fit(chunked(X), sample_weight=chunked(w))
    assert_same_fit(dist, local)


@pytest.mark.parametrize("init", ["k-means++", "k-means||", "random"])
def test_many_blocks_in_process(data, init):
    # The same passes over LocalPartitions (no Dask): 40 blocks, so weighted draws and
    # independent draws cross many block boundaries.
    X, w = data
    bounds = np.unique(np.r_[0, np.linspace(0, len(X), 40).astype(int), len(X)])
    parts = LocalPartitions(X, w=w, bounds=bounds)
    params = _core.KMeansParams(n_clusters=6, init=init, seed=SEED)
    labels = np.empty(len(X), dtype=np.int32)
    single = _core.kmeans_fit(_core.Context("cpu"), params, _core.ArrayRef.of_host(X),
                              _core.ArrayRef.of_host(w), None, _core.ArrayRef.of_host(labels))
    blocked = _BlockedKMeansData64(parts, True)
    rec = _core.kmeans_fit_data(params, blocked, None)
    assert_allclose(rec["centers"], single["centers"], rtol=0,
                    atol=1e-12 * np.abs(single["centers"]).max())
    assert rec["n_iter"] == single["n_iter"]
    assert_array_equal(np.concatenate(blocked.label_blocks()), labels)


def test_dataframe_predict_transform_score(dask_client, data):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, w = data
    names = [f"f{i}" for i in range(X.shape[1])]
    df = dd.from_pandas(pd.DataFrame(X, columns=names), npartitions=3)
    kw = dict(n_clusters=4, init=X[[0, 50, 100, 150]].copy(), device="cpu")
    local = LocalKMeans(**kw).fit(pd.DataFrame(X, columns=names))
    dist = KMeans(**kw).fit(df)
    assert list(dist.feature_names_in_) == names
    assert_allclose(dist.cluster_centers_, local.cluster_centers_, rtol=1e-12)

    Xd = chunked(X)
    pred = dist.predict(Xd)
    assert isinstance(pred, da.Array) and pred.chunks == (CHUNKS,)
    assert_array_equal(pred.compute(), local.predict(X))
    dist_t = dist.transform(Xd)
    assert dist_t.chunks == (CHUNKS, (4,))
    assert_allclose(dist_t.compute(), local.transform(X), rtol=1e-12)
    assert dist.score(Xd, sample_weight=chunked(w)) == pytest.approx(
        local.score(X, sample_weight=w), rel=1e-12)
    labels = KMeans(**kw).fit_predict(Xd)
    assert labels.chunks == (CHUNKS,)
    assert_array_equal(labels.compute(), local.labels_)


def test_to_local_pickles_and_predicts(dask_client, data):
    X, _ = data
    dist = KMeans(n_clusters=4, init=X[[0, 50, 100, 150]].copy(), device="cpu").fit(chunked(X))
    local = dist.to_local()
    assert type(local) is LocalKMeans
    assert isinstance(local.labels_, np.ndarray)
    assert_array_equal(local.labels_, dist.labels_.compute())
    again = pickle.loads(pickle.dumps(local))
    assert_array_equal(again.predict(X), dist.predict(chunked(X)).compute())
    assert_array_equal(dist.predict(X), local.predict(X))  # NumPy input: the local class


def test_nan_in_one_partition_raises_the_single_machine_error(dask_client, data):
    X = data[0].copy()
    X[160, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN") as local_err:
        LocalKMeans(n_clusters=3, device="cpu").fit(X)
    with pytest.raises(ValueError, match="Input X contains NaN") as dist_err:
        KMeans(n_clusters=3, device="cpu").fit(chunked(X))
    assert str(dist_err.value) == str(local_err.value)


def test_bad_weights_and_init(dask_client, data):
    X, w = data
    w = w.copy()
    w[40] = -1.0
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        KMeans(n_clusters=3, device="cpu").fit(chunked(X), sample_weight=chunked(w))
    with pytest.raises(ValueError, match="at least one non-zero"):
        KMeans(n_clusters=3, device="cpu").fit(chunked(X), sample_weight=chunked(0 * w))
    with pytest.raises(NotImplementedError, match="callable init"):
        KMeans(n_clusters=3, init=lambda X, k, random_state: X[:k], device="cpu").fit(chunked(X))
    with pytest.raises(ValueError, match="should be >= n_clusters"):
        KMeans(n_clusters=500, device="cpu").fit(chunked(X))


@pytest.mark.cuda
def test_cuda_workers_match_the_cpu(dask_client, data, cuda):
    X, w = data
    init = X[[0, 50, 100, 150]].copy()
    local = LocalKMeans(4, init=init, device="cpu").fit(X, sample_weight=w)
    dist = KMeans(4, init=init, device=cuda).fit(chunked(X), sample_weight=chunked(w))
    assert_same_fit(dist, local, rtol=1e-7)
    # k-means++ draws from sums that the device computes in its own order: compared with the
    # single-machine fit on the same kind of device.
    pp = KMeans(4, random_state=SEED, device=cuda).fit(chunked(X))
    pp_local = LocalKMeans(4, random_state=SEED, device=cuda).fit(X)
    assert_same_fit(pp, pp_local, rtol=1e-7)


def test_float32_class_is_used(data):
    parts = LocalPartitions(data[0].astype(np.float32), bounds=[0, 10, len(data[0])])
    assert isinstance(_BlockedKMeansData32(parts, False), _core.KMeansDataFloat32)
