"""gpulearn.dask's random forests against gpulearn.ensemble's on the same data.

The distributed fit runs the single-machine driver over the blocks' passes, whose reductions are
exact (int64 fixed-point histograms and statistics, draw counts, maxima), and a node's
randomness depends only on its path from the root: with the same data and random_state the
trees must be the single-machine trees bit for bit. Every node array of ``to_local()`` is
compared with ``assert_array_equal``, and so are the predictions.

The threshold below which a node's rows are gathered and its subtree grown whole
(``gpulearn.forest-subtree-rows``) is set low in some tests (the driver splits most levels from
summed histograms), 0 in some (histograms only) and above n in others (every tree grown from
gathered rows). The blocks are uneven: one of one row, one empty, more blocks than the two
workers.
"""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from gpulearn import _core
from gpulearn.ensemble import RandomForestClassifier as LocalClassifier
from gpulearn.ensemble import RandomForestRegressor as LocalRegressor

from _testdata import SEED

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
pytest.importorskip("distributed")

from gpulearn.dask._forest import (  # noqa: E402
    RandomForestClassifier, RandomForestRegressor, _BlockedForestData32, _BlockedForestData64)
from gpulearn.dask._parts import LocalPartitions  # noqa: E402

CHUNKS = (37, 1, 0, 262, 300)
N = sum(CHUNKS)
NODE_ARRAYS = ("tree_offsets", "children_left", "children_right", "feature", "threshold",
               "value", "impurity", "n_node_samples", "weighted_n_node_samples", "max_depth")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(N, 6))
    X[:, 3] = np.round(X[:, 3], 1)  # ties and repeated values
    score = X[:, 0] + X[:, 1] ** 2 - X[:, 2] + 0.3 * rng.normal(size=N)
    y = np.digitize(score, [-0.5, 1.0])  # 3 classes
    w = rng.uniform(0.2, 3.0, size=N)
    yr = 2 * X[:, 0] - X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=N)
    Y = np.c_[yr, X[:, 4] + 0.5 * rng.normal(size=N)]
    return X, y, w, Y


def chunked(a, chunks=CHUNKS):
    return da.from_array(a, chunks=(chunks,) + tuple((s,) for s in a.shape[1:]))


def assert_same_forest(dist, local):
    """Every node array, the importances and the shapes of the fitted forests equal."""
    got = dist.to_local()
    assert type(got) is type(local)
    for key in NODE_ARRAYS:
        assert_array_equal(got._forest[key], local._forest[key], err_msg=key)
    assert_array_equal(got.feature_importances_, local.feature_importances_)
    assert got._max_features == local._max_features
    assert got.n_outputs_ == local.n_outputs_ and got.n_features_in_ == local.n_features_in_
    assert got._n_samples_bootstrap == local._n_samples_bootstrap
    if hasattr(local, "classes_"):
        assert_array_equal(got.classes_, local.classes_)
        assert got.n_classes_ == local.n_classes_


def subtree_rows(n):
    return dask.config.set({"gpulearn.forest-subtree-rows": n})


# Each case: hyper-parameters, weighted or not, the subtree-rows threshold.
CLASSIFIER_CASES = [
    (dict(criterion="gini"), False, 40),
    (dict(criterion="entropy", max_features=None), False, 0),
    (dict(criterion="log_loss", max_depth=4, min_samples_leaf=5), True, 10**9),
    (dict(class_weight="balanced"), True, 20),  # weighted class counts, summed in row order
    (dict(class_weight="balanced_subsample"), False, 30),
    (dict(class_weight="balanced_subsample", bootstrap=False, max_features=3), True, 50),
    (dict(class_weight={0: 1.0, 1: 2.5, 2: 0.5}, max_features=0.5, max_depth=9), True, 20),
    (dict(max_leaf_nodes=12, min_samples_split=10), False, 20),
    (dict(max_samples=0.6, n_bins=8, min_weight_fraction_leaf=0.01), True, 40),
    (dict(min_impurity_decrease=0.002, max_features="log2"), False, 0),
]


@pytest.mark.parametrize("params, weighted, threshold", CLASSIFIER_CASES)
def test_classifier_equals_single_machine(dask_client, data, params, weighted, threshold):
    X, y, w, _ = data
    kw = dict(n_estimators=2, random_state=SEED, device="cpu", **params)
    local = LocalClassifier(**kw).fit(X, y, sample_weight=w if weighted else None)
    with subtree_rows(threshold):
        dist = RandomForestClassifier(**kw).fit(chunked(X), chunked(y),
                                                sample_weight=chunked(w) if weighted else None)
    assert_same_forest(dist, local)
    proba = dist.predict_proba(chunked(X))
    assert isinstance(proba, da.Array) and proba.chunks == (CHUNKS, (3,))
    assert_array_equal(proba.compute(), local.predict_proba(X))


REGRESSOR_CASES = [
    (dict(criterion="squared_error", max_depth=8), False, 1, 20),
    (dict(criterion="friedman_mse", min_samples_leaf=3), True, 1, 0),
    (dict(max_features=0.5, max_leaf_nodes=20), True, 2, 25),
    (dict(bootstrap=False, max_depth=5), False, 2, 10**9),
]


@pytest.mark.parametrize("params, weighted, n_outputs, threshold", REGRESSOR_CASES)
def test_regressor_equals_single_machine(dask_client, data, params, weighted, n_outputs,
                                         threshold):
    X, _, w, Y = data
    y = Y[:, 0] if n_outputs == 1 else Y
    kw = dict(n_estimators=3, random_state=SEED, device="cpu", **params)
    local = LocalRegressor(**kw).fit(X, y, sample_weight=w if weighted else None)
    with subtree_rows(threshold):
        dist = RandomForestRegressor(**kw).fit(chunked(X), chunked(y),
                                               sample_weight=chunked(w) if weighted else None)
    assert_same_forest(dist, local)
    pred = dist.predict(chunked(X))
    assert pred.chunks[0] == CHUNKS
    assert_array_equal(pred.compute(), local.predict(X))
    assert dist.score(chunked(X), chunked(y)) == pytest.approx(local.score(X, y), rel=1e-12)


def test_float32_string_labels_and_apply(dask_client, data):
    X, y, _, _ = data
    X = X.astype(np.float32)
    labels = np.array(["cat", "dog", "emu"])[y]
    kw = dict(n_estimators=3, random_state=7, device="cpu", max_depth=6)
    local = LocalClassifier(**kw).fit(X, labels)
    with subtree_rows(40):
        dist = RandomForestClassifier(**kw).fit(chunked(X), chunked(labels))
    assert_same_forest(dist, local)
    assert_array_equal(dist.predict(chunked(X)).compute(), local.predict(X))
    leaves = dist.apply(chunked(X))
    assert leaves.chunks == (CHUNKS, (3,))
    assert_array_equal(leaves.compute(), local.apply(X))
    assert dist.score(chunked(X), chunked(labels)) == pytest.approx(local.score(X, labels))


def test_more_blocks_than_workers_and_one_row_blocks(dask_client, data):
    # 12 blocks (several of one row) on 2 workers: the subtrees are grown in one group per
    # worker from the rows of every block.
    X, y, w, _ = data
    chunks = (1, 1, 50, 1, 100, 7, 1, 200, 39, 1, 199, 0)
    kw = dict(n_estimators=2, random_state=3, device="cpu")
    local = LocalClassifier(**kw).fit(X, y, sample_weight=w)
    with subtree_rows(60):
        dist = RandomForestClassifier(**kw).fit(chunked(X, chunks), chunked(y, chunks),
                                                sample_weight=chunked(w, chunks))
    assert_same_forest(dist, local)


@pytest.mark.parametrize("threshold", [0, 15, 10**9])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_many_blocks_in_process(data, threshold, dtype):
    # The same passes over LocalPartitions (no Dask): 30 uneven blocks, against the compiled
    # single-machine fit.
    X, y, w, Y = data
    X = X.astype(dtype)
    bounds = np.unique(np.r_[0, 1, 2, np.linspace(0, N, 28).astype(int), N])
    ctx = _core.Context("cpu")
    cls = _BlockedForestData32 if dtype == np.float32 else _BlockedForestData64
    params = _core.RandomForestParams(n_estimators=3, seed=SEED, max_depth=7)
    labels = y.astype(np.int32)
    wt = w.astype(dtype)  # alive while its ArrayRef is read
    single = _core.random_forest_fit(ctx, params, _core.ArrayRef.of_host(X), labels, 3, None,
                                     _core.ArrayRef.of_host(wt))
    blocked = cls(LocalPartitions(X, y=y, w=w, bounds=bounds), threshold)
    assert isinstance(blocked, _core.ForestDataFloat32 if dtype == np.float32
                      else _core.ForestDataFloat64)
    assert blocked.open(np.arange(3), None, True)
    rec = _core.random_forest_fit_data(params, blocked, 3, 1)
    for key in NODE_ARRAYS + ("feature_importances",):
        assert_array_equal(rec[key], single[key], err_msg=key)

    rparams = _core.RandomForestParams.regressor()
    rparams.n_estimators, rparams.seed, rparams.max_depth = 2, SEED, 6
    single = _core.random_forest_fit(ctx, rparams, _core.ArrayRef.of_host(X), None, 0, Y, None)
    blocked = cls(LocalPartitions(X, y=Y, bounds=bounds), threshold)
    blocked.open(None, None, False)
    rec = _core.random_forest_fit_data(rparams, blocked, 0, 2)
    for key in NODE_ARRAYS:
        assert_array_equal(rec[key], single[key], err_msg=key)


def test_whole_matrix_block_is_the_single_machine_fit(data):
    # One block over the whole matrix is the LocalForestData the single-machine fit builds.
    X, y, w, _ = data
    ctx = _core.Context("cpu")
    params = _core.RandomForestParams(n_estimators=2, seed=5)
    labels = y.astype(np.int32)
    single = _core.random_forest_fit(ctx, params, _core.ArrayRef.of_host(X), labels, 3, None,
                                     _core.ArrayRef.of_host(w))
    block = _core.forest_block(ctx, _core.ArrayRef.of_host(X), labels, 3, None, w, 0, N)
    rec = _core.random_forest_fit_data(params, block, 3, 1)
    for key in NODE_ARRAYS:
        assert_array_equal(rec[key], single[key], err_msg=key)


def test_grow_spec_pickles():
    spec = _core.GrowSpec()
    spec.criterion, spec.n_classes, spec.n_channels, spec.w_unit = "entropy", 3, 4, 2.0 ** -20
    again = pickle.loads(pickle.dumps(spec))
    assert again == spec and again.criterion == "entropy" and again.w_unit == 2.0 ** -20


def test_dataframe_and_to_local(dask_client, data):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y, _, _ = data
    names = [f"f{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names)
    kw = dict(n_estimators=3, random_state=1, device="cpu", max_depth=5)
    local = LocalClassifier(**kw).fit(frame, y)
    dist = RandomForestClassifier(**kw).fit(dd.from_pandas(frame, npartitions=3),
                                            dd.from_pandas(pd.Series(y), npartitions=3))
    assert list(dist.feature_names_in_) == names
    assert_same_forest(dist, local)
    back = pickle.loads(pickle.dumps(dist.to_local()))
    assert type(back) is LocalClassifier
    assert_array_equal(back.predict_proba(frame), local.predict_proba(frame))
    assert len(back.estimators_) == 3
    assert_array_equal(dist.predict(frame), local.predict(frame))  # pandas: the local class


def test_nan_in_one_partition_raises_the_single_machine_error(dask_client, data):
    X, y, _, Y = data
    X = X.copy()
    X[300, 2] = np.nan
    with pytest.raises(ValueError) as local_err:
        LocalClassifier(n_estimators=2, device="cpu").fit(X, y)
    with pytest.raises(ValueError) as dist_err:
        RandomForestClassifier(n_estimators=2, device="cpu").fit(chunked(X), chunked(y))
    assert str(dist_err.value) == str(local_err.value)
    assert "NaN" in str(dist_err.value)
    Yn = Y.copy()
    Yn[40, 1] = np.inf
    with pytest.raises(ValueError, match="Input y contains infinity"):
        LocalRegressor(n_estimators=2, device="cpu").fit(data[0], Yn)
    with pytest.raises(ValueError, match="Input y contains infinity"):
        RandomForestRegressor(n_estimators=2, device="cpu").fit(chunked(data[0]), chunked(Yn))


def test_bad_input(dask_client, data):
    X, y, w, _ = data
    with pytest.raises(ValueError, match=r"rechunk\(\{1: -1\}\)"):
        RandomForestClassifier(device="cpu").fit(da.from_array(X, chunks=(100, 3)), chunked(y))
    w = w.copy()
    w[40] = -1.0
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        RandomForestClassifier(n_estimators=2, device="cpu").fit(chunked(X), chunked(y),
                                                                 sample_weight=chunked(w))
    with pytest.raises(ValueError, match="at least one non-zero"):
        RandomForestClassifier(n_estimators=2, device="cpu").fit(chunked(X), chunked(y),
                                                                 sample_weight=chunked(0 * w))
    with pytest.raises(ValueError, match="single output"):
        RandomForestClassifier(device="cpu").fit(chunked(X), chunked(np.c_[y, y]))
    with pytest.raises(ValueError, match="Unknown label type"):
        RandomForestClassifier(device="cpu").fit(chunked(X), chunked(X[:, 0]))


@pytest.mark.parametrize("weighted", [False, True])
def test_classifier_out_of_bag_equals_single_machine(dask_client, data, weighted):
    # Each block redraws the trees' samples from their keys after the fit: the same per-row
    # out-of-bag probabilities, bit for bit, and the same accuracy (a count). With 3 trees some
    # rows are in every bag: the same warning as on one machine.
    X, y, w, _ = data
    kw = dict(n_estimators=3, random_state=SEED, device="cpu", oob_score=True, max_depth=6)
    sw = w if weighted else None
    with pytest.warns(UserWarning, match="do not have OOB scores"):
        local = LocalClassifier(**kw).fit(X, y, sample_weight=sw)
    with subtree_rows(30), pytest.warns(UserWarning, match="do not have OOB scores"):
        dist = RandomForestClassifier(**kw).fit(
            chunked(X), chunked(y), sample_weight=chunked(w) if weighted else None)
    assert_same_forest(dist, local)
    assert isinstance(dist.oob_decision_function_, da.Array)
    assert dist.oob_decision_function_.chunks == (CHUNKS, (3,))
    assert_array_equal(dist.oob_decision_function_.compute(), local.oob_decision_function_)
    assert dist.oob_score_ == local.oob_score_


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_regressor_out_of_bag_equals_single_machine(dask_client, data, n_outputs):
    X, _, _, Y = data
    y = Y[:, 0] if n_outputs == 1 else Y
    kw = dict(n_estimators=8, random_state=SEED, device="cpu", oob_score=True, max_depth=5)
    local = LocalRegressor(**kw).fit(X, y)
    dist = RandomForestRegressor(**kw).fit(chunked(X), chunked(y))
    assert_same_forest(dist, local)
    assert dist.oob_prediction_.shape == local.oob_prediction_.shape
    assert_array_equal(dist.oob_prediction_.compute(), local.oob_prediction_)
    # R^2 from per-block sums, in another order than scikit-learn's r2_score.
    assert dist.oob_score_ == pytest.approx(local.oob_score_, rel=1e-12, abs=1e-14)


def test_callable_out_of_bag_score_gets_the_gathered_arrays(dask_client, data):
    from sklearn.metrics import balanced_accuracy_score

    X, y, _, _ = data
    kw = dict(n_estimators=10, random_state=SEED, device="cpu", max_depth=4,
              oob_score=balanced_accuracy_score)
    local = LocalClassifier(**kw).fit(X, y)
    dist = RandomForestClassifier(**kw).fit(chunked(X), chunked(y))
    assert dist.oob_score_ == local.oob_score_


def test_zero_weight_block_is_allowed(dask_client, data):
    # A block whose weights are all zero (here the one-row block and the first) is not an
    # error: only weights that are all zero everywhere are.
    X, y, w, _ = data
    w = w.copy()
    w[:38] = 0.0
    kw = dict(n_estimators=2, random_state=2, device="cpu")
    local = LocalClassifier(**kw).fit(X, y, sample_weight=w)
    dist = RandomForestClassifier(**kw).fit(chunked(X), chunked(y), sample_weight=chunked(w))
    assert_same_forest(dist, local)


def _device_of(block):
    return block.device


@pytest.mark.cuda
def test_cuda_workers_match_the_cpu(dask_client, data):
    # Each worker bins and grows on its own (emulated) device; a fixed seed gives the CPU's
    # forest on CUDA (gini: no log to differ in its last bit), so the trees equal the
    # single-machine CPU fit's.
    from gpulearn.dask._inputs import partition

    X, y, w, _ = data
    assert set(partition(chunked(X), device="cuda").map(_device_of)) == {"cuda:0"}
    kw = dict(n_estimators=3, random_state=SEED, max_depth=8)
    local = LocalClassifier(device="cpu", **kw).fit(X, y, sample_weight=w)
    for threshold in (20, 10**9):
        with subtree_rows(threshold):
            dist = RandomForestClassifier(device="cuda", **kw).fit(
                chunked(X), chunked(y), sample_weight=chunked(w))
        assert_same_forest(dist, local)


def _kill_on_histograms():
    """For client.run: the next histogram pass in this worker process kills it."""
    import os

    from gpulearn.dask import _forest

    def die(*args):
        os._exit(1)

    _forest._histograms = die


def test_a_dying_worker_ends_the_fit_naming_it(data):
    # A block's state lives on its worker only (never moved, never recomputed): when that worker
    # dies, the step fails at once with an error naming it, instead of waiting for the timeout.
    import time

    from distributed import Client, LocalCluster

    X, y, _, _ = data
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        victim = sorted(client.scheduler_info()["workers"])[0]
        client.run(_kill_on_histograms, workers=[victim])
        start = time.monotonic()
        with subtree_rows(0), pytest.raises(RuntimeError, match="left the cluster") as err:
            RandomForestClassifier(n_estimators=2, device="cpu").fit(chunked(X), chunked(y))
        assert victim in str(err.value)
        assert time.monotonic() - start < 60
