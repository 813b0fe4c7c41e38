"""Shared pytest machinery: the ``cuda`` marker, device parametrisation, seeded data.

Tests that need a GPU are marked ``@pytest.mark.cuda`` (or take the ``cuda`` fixture, or the
``device`` fixture's "cuda" case). Where gpulearn's CUDA backend is unavailable they are
*skipped with the reason gpulearn gives* (``-ra`` in pyproject.toml prints it), never silently
absent.
"""

import numpy as np
import pytest

import gpulearn
from gpulearn import _core

from _testdata import SEED


def cuda_skip_reason():
    """None when CUDA tests can run, else why not (gpulearn's own words)."""
    if gpulearn.cuda_available():
        return None
    return f"CUDA unavailable: {_core.cuda_unavailable_reason()}"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cuda: needs gpulearn's CUDA backend and a GPU; skipped with the reason "
        "where absent"
    )


def pytest_collection_modifyitems(config, items):
    reason = cuda_skip_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    """One line: how many CUDA tests ran, on what, and how many were skipped and why."""
    ran, skipped, failed, reasons = 0, 0, 0, set()
    for outcome in ("passed", "failed", "skipped", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            if "cuda" not in getattr(rep, "keywords", {}):
                continue
            if outcome == "passed" and rep.when == "call":
                ran += 1
            elif outcome in ("failed", "error"):
                failed += 1
            elif outcome == "skipped":
                skipped += 1
                if isinstance(rep.longrepr, tuple):
                    reasons.add(str(rep.longrepr[2]))
    if ran + skipped + failed == 0:
        return
    where = ("the CUDA emulator (no real GPU)" if gpulearn.cuda_available() and
             _core.cuda_emulated() else f"{_core.cuda_device_count()} GPU(s)")
    line = f"CUDA tests: {ran} passed and {failed} failed on {where}; {skipped} skipped"
    if reasons:
        line += " (" + "; ".join(sorted(reasons)) + ")"
    terminalreporter.write_line(line)


@pytest.fixture
def cuda():
    """The device string of the first GPU; skips (with the reason) where CUDA is unavailable."""
    reason = cuda_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    return "cuda"


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def device(request):
    """Each backend in turn: "cpu" always, "cuda" where a GPU and the CUDA backend exist."""
    return request.param


@pytest.fixture(autouse=True)
def _restore_gpulearn_config():
    """No test leaks a global gpulearn setting into the next."""
    old = gpulearn.get_config()
    yield
    gpulearn.set_config(**old)


@pytest.fixture
def rng():
    """A NumPy generator seeded with the recorded SEED: every test draws its own fresh data."""
    return np.random.default_rng(SEED)


@pytest.fixture(scope="session")
def dask_client():
    """A distributed.Client on a LocalCluster of 2 worker processes with 1 thread each (each
    worker process has its own CUDA context: under the emulator, its own emulated device)."""
    pytest.importorskip("distributed")
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client
