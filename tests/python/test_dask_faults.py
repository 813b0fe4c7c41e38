"""gpulearn.dask when workers die or hang: a distributed step completes (Dask reschedules the
task and recomputes the lost blocks from their lineage) or fails with an error naming the step
and the worker, and never hangs: every step waits at most ``gpulearn.step-timeout`` seconds.

The faults are injected by replacing, inside the worker processes, the per-block function a
step runs (tasks refer to it by module and name); a restarted worker process starts clean.
"""

import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
gd = pytest.importorskip("gpulearn.dask")

from gpulearn import neighbors as gn  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """A cluster of its own (its workers get killed), shared by this module's tests."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield cluster, client


def _fault(kind):
    """A function for client.run that replaces the k-NN block search in the worker process."""

    def install():
        import os

        from gpulearn.dask import _neighbors

        original = _neighbors._candidates

        def faulty(*args, **kwargs):
            if kind == "die":
                os._exit(1)
            while getattr(_neighbors, "_hang", False):  # until _repair
                time.sleep(0.05)
            return original(*args, **kwargs)

        _neighbors._candidates = faulty
        _neighbors._hang = True
        _neighbors._candidates.original = original

    return install


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(22)
    X, Q = rng.normal(size=(300, 4)), rng.normal(size=(40, 4))
    return X, Q, gn.NearestNeighbors(n_neighbors=3, device="cpu").fit(X).kneighbors(Q)[1]


def _repair():
    from gpulearn.dask import _neighbors

    _neighbors._hang = False
    _neighbors._candidates = getattr(_neighbors._candidates, "original", _neighbors._candidates)


def _fit(X):
    return gd.NearestNeighbors(n_neighbors=3, device="cpu").fit(
        da.from_array(X, chunks=((100, 120, 80), 4)))


def test_a_dying_worker_is_replaced_and_the_step_completes(cluster, data):
    X, Q, expected = data
    _, client = cluster
    nn = _fit(X)
    victim = sorted(client.scheduler_info()["workers"])[0]
    client.run(_fault("die"), workers=[victim])
    start = time.monotonic()
    ind = nn.kneighbors(da.from_array(Q, chunks=((20, 20), 4)), return_distance=False)
    np.testing.assert_array_equal(ind.compute(), expected)
    assert time.monotonic() - start < 60


def test_dask_giving_up_names_the_worker_and_the_step(cluster, data):
    X, Q, _ = data
    local_cluster, client = cluster
    nn = _fit(X)
    client.run(_fault("die"))
    # The scheduler's retry budget (distributed.scheduler.allowed-failures), set to none.
    scheduler = local_cluster.scheduler
    allowed, scheduler.allowed_failures = scheduler.allowed_failures, 0
    try:
        start = time.monotonic()
        with pytest.raises(RuntimeError, match=r"NearestNeighbors: the search step failed: "
                                               r"the worker tcp://[0-9.:]+ died"):
            nn.kneighbors(da.from_array(Q, chunks=((40,), 4)))
        assert time.monotonic() - start < 60
    finally:
        scheduler.allowed_failures = allowed
        client.run(_repair)


def test_a_hanging_step_times_out_and_the_estimator_stays_usable(cluster, data):
    X, Q, expected = data
    _, client = cluster
    nn = _fit(X)
    client.run(_fault("hang"))
    start = time.monotonic()
    with dask.config.set({"gpulearn.step-timeout": 0.5}):
        with pytest.raises(TimeoutError, match="the search step did not finish within 0.5 s"):
            nn.kneighbors(da.from_array(Q, chunks=((40,), 4)))
    assert time.monotonic() - start < 30  # the tasks hang until repaired: the timeout fired
    client.run(_repair)
    ind = nn.kneighbors(da.from_array(Q, chunks=((40,), 4)), return_distance=False)
    np.testing.assert_array_equal(ind.compute(), expected)


def test_tasks_run_gpulearn_on_one_thread_each(dask_client):
    # A Dask worker runs one task per thread: gpulearn's calls in a task use
    # dask config 'gpulearn.task-threads' CPU threads (default 1), so workers sharing a machine
    # do not each take every core; outside a task (this process) the default is every core.
    import os

    from gpulearn import _devices

    def threads():
        return _devices.context("cpu").threads

    assert dask_client.submit(threads, pure=False).result() == 1
    if "GPULEARN_NUM_THREADS" not in os.environ:
        assert threads() == os.cpu_count()
