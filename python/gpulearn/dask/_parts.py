"""A data set's row blocks where they live, and the two operations every distributed fit is made
of: run a function on each block where the block is, and gather the (small) results.

A distributed fit is the single-machine driver with its reductions done across blocks: the
per-block function calls the same compiled primitive as the single-machine fit, on the block's
rows, on the device of the worker holding it; only model-sized results (sums, Gram matrices,
gradients, top-k candidates) travel back. ``Partitions`` is that contract. ``DaskPartitions``
keeps the blocks on Dask workers (futures); ``LocalPartitions`` keeps them in this process, as a
reference without Dask (tests) and for NumPy input.

Where NCCL could later replace Dask: ``Partitions.map`` followed by a sum over its results is the
one reduction every family uses (``allreduce`` would be its GPU-to-GPU form, with the result
left on every worker instead of gathered); see docs/dask.md.
"""

from __future__ import annotations

import contextlib
import operator
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import _devices

# How long one distributed step (one map over the blocks) may take before the fit gives up, in
# seconds; Dask's own config key, so users set it as they set Dask's other timeouts:
#   dask.config.set({"gpulearn.step-timeout": 3600})
DEFAULT_STEP_TIMEOUT = 600.0


# Lists that collect every DaskPartitions made while ``recording()`` is active (benchmarks).
_RECORDERS: list = []


@contextlib.contextmanager
def recording():
    """Collects the ``DaskPartitions`` made in the block, for their ``traffic`` counts."""
    made: list = []
    _RECORDERS.append(made)
    try:
        yield made
    finally:
        _RECORDERS.remove(made)


@dataclass(frozen=True)
class Block:
    """One block of rows, in the process (and on the device) that computes on it.

    X : (rows, n_features) C-ordered float32/float64 array (NumPy, or CuPy on a GPU worker);
    y, w : the block's targets and sample weights (None when absent);
    offset : the global index of the block's first row (ties between blocks break on it);
    device : 'cpu' or 'cuda:N', resolved on the worker that holds the block.
    """

    X: Any
    y: Any
    w: Any
    offset: int
    device: str

    @property
    def n_rows(self):
        return int(self.X.shape[0])

    @property
    def context(self):
        """The compiled context of the block's device (cached per thread)."""
        return _devices.context(self.device)


class Partitions:
    """Blocks of one data set, in order; ``offsets[i]`` is block i's first global row."""

    offsets: tuple
    n_features: int
    dtype: np.dtype
    feature_names: Any = None

    @property
    def n_rows(self):
        return int(self.offsets[-1])

    @property
    def n_blocks(self):
        return len(self.offsets) - 1

    def map(self, fn: Callable, *args, step: str = "") -> list:
        """``[fn(block, *args) for block in blocks]``, each run where its block lives; the
        results, which must be small, gathered in block order. ``step`` names the step in
        errors."""
        raise NotImplementedError

    def map_state(self, fn: Callable, state, *args, step: str = "", pin: bool = False,
                  gather: bool = True, each=None):
        """Like ``map`` for a function with per-row state kept beside each block (k-means'
        labels): ``fn(block, state_i, *args) -> (result_i, new_state_i)``, ``state`` None or a
        previous call's. Returns (results, new state); the state never travels. The new state is
        a list of opaque handles (``state_of(handle)`` on a worker gives the block's state).

        pin : the tasks may run only on the worker that holds the block (Dask neither steals
            nor moves them): for a state that cannot be pickled (a forest block's compiled
            data). A pinned step whose worker leaves fails at once, naming the worker.
        gather : False leaves the results where they are: handles, one per block (futures, or
            the results themselves in one process), for later tasks to take as inputs.
        each : one more argument per block (a list in block order), passed after ``args``:
            what only that block needs (its rows of a list of indices)."""
        raise NotImplementedError

    def map_blocks(self, fn: Callable, *args, step: str = ""):
        """``fn(block, *args)`` on every block, its (row-sized) results left where the block
        is: a list of handles, one per block, for ``collect`` (predictions)."""
        raise NotImplementedError


class LocalPartitions(Partitions):
    """Blocks in this process: NumPy arrays split at given row boundaries."""

    def __init__(self, X, y=None, w=None, bounds=None, device="cpu", feature_names=None):
        n = X.shape[0]
        bounds = list(bounds) if bounds is not None else [0, n]
        self.offsets = tuple(int(b) for b in bounds)
        self.n_features = int(X.shape[1])
        self.dtype = np.dtype(X.dtype)
        self.feature_names = feature_names
        self.blocks = [
            Block(X[a:b], None if y is None else y[a:b], None if w is None else w[a:b], a, device)
            for a, b in zip(bounds[:-1], bounds[1:])
        ]

    def map(self, fn, *args, step=""):
        return [fn(b, *args) for b in self.blocks]

    def map_state(self, fn, state, *args, step="", pin=False, gather=True, each=None):
        state = [None] * len(self.blocks) if state is None else state
        extra = [()] * len(self.blocks) if each is None else [(e,) for e in each]
        pairs = [fn(b, s, *args, *e) for b, s, e in zip(self.blocks, state, extra)]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def map_blocks(self, fn, *args, step=""):
        return [fn(b, *args) for b in self.blocks]


def _call_on_block(fn, block, *args):
    return fn(block, *args)


class _Kept(tuple):
    """(result, state) of one block's ``map_state`` step, left on its worker: the next step's
    state handle (one task per block and step; the state is unwrapped where it is)."""


def _call_on_block_state(fn, block, state, *args):
    if isinstance(state, _Kept):
        state = state[1]
    return _Kept(fn(block, state, *args))


def state_of(handle):
    """A block's state from its ``map_state`` handle, in a task on the worker holding it."""
    return handle[1] if isinstance(handle, _Kept) else handle


class DaskPartitions(Partitions):
    """Blocks held by Dask workers as futures of ``Block``; built by ``_inputs.partition``."""

    def __init__(self, client, block_futures, offsets, n_features, dtype, feature_names=None,
                 estimator="", timeout=None):
        self.client = client
        self.blocks = list(block_futures)
        self.offsets = tuple(int(o) for o in offsets)
        self.n_features = int(n_features)
        self.dtype = np.dtype(dtype)
        self.feature_names = feature_names
        self.estimator = estimator
        self.timeout = timeout
        # What the distributed steps moved between this process and the workers: the
        # arguments sent with each block's task and the results gathered back (bytes, as
        # dask.sizeof measures them), and the number of steps. Worker-to-worker transfers
        # are the workers' own counters (benchmarks/dask_scaling.py reads both).
        self.traffic = {"steps": 0, "sent": 0, "gathered": 0}
        for made in _RECORDERS:
            made.append(self)

    def _step_timeout(self):
        if self.timeout is not None:
            return self.timeout
        import dask

        return float(dask.config.get("gpulearn.step-timeout", DEFAULT_STEP_TIMEOUT))

    def _submit(self, fn, *args):
        from dask.sizeof import sizeof

        self.traffic["steps"] += 1
        self.traffic["sent"] += sizeof(args) * len(self.blocks)
        # Dask runs a task where its largest input is, so each block's task runs on the worker
        # holding the block; the small arguments travel inside the task.
        return [self.client.submit(_call_on_block, fn, b, *args, pure=False)
                for b in self.blocks]

    def wait(self, futures, step, homes=None):
        """Waits for ``futures`` within the step timeout; a lost worker, a timeout or an error
        in a task becomes an error naming the step (and the worker). ``homes``: the workers a
        pinned step's tasks must run on; one that leaves ends the wait at once (its tasks could
        never run elsewhere)."""
        from distributed import wait

        timeout = self._step_timeout()
        what = f"{self.estimator}: the {step or 'distributed'} step"
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = max(0.0, deadline - time.monotonic())
                try:
                    wait(futures, timeout=left if homes is None else min(left, 1.0))
                    break
                except TimeoutError:
                    if homes is not None:
                        self._check_homes(futures, homes, what)
                    if time.monotonic() >= deadline:
                        raise
        except TimeoutError:
            pending = [f for f in futures if not f.done()]
            where = sorted({w for f in pending for w in self.client.who_has([f]).get(f.key, ())})
            for f in pending:
                f.cancel()
            raise TimeoutError(
                f"{what} did not finish within {timeout:g} s ({len(pending)} of {len(futures)} "
                f"blocks pending{'; on ' + ', '.join(where) if where else ''}). Raise "
                f"dask.config 'gpulearn.step-timeout' if the data are that large.") from None
        for f in futures:
            if f.status != "finished":
                try:
                    f.result()
                except Exception as exc:
                    if type(exc).__name__ == "KilledWorker":  # distributed's KilledWorker
                        worker = getattr(exc, "last_worker", None)
                        name = getattr(worker, "address", None) or str(worker or "a worker")
                        raise RuntimeError(
                            f"{what} failed: the worker {name} died while running it, and Dask "
                            f"gave up rescheduling the task ({exc.task!r}). The fit was "
                            f"abandoned; the estimator is unchanged.") from exc
                    raise

    def _check_homes(self, futures, homes, what):
        """Raises when a worker that pinned tasks need has left the cluster."""
        alive = set(self.client.ncores())
        gone = sorted({h for h in homes if h not in alive})
        if gone:
            for f in futures:
                if not f.done():
                    f.cancel()
            raise RuntimeError(
                f"{what} failed: the worker {', '.join(gone)} left the cluster while holding "
                f"blocks whose per-block state (kept on that worker, never moved) the fit "
                f"needs. The fit was abandoned; the estimator is unchanged.")

    def _homes(self):
        """The worker holding each block (where its pinned steps run), looked up once."""
        homes = getattr(self, "_block_homes", None)
        if homes is None:
            self.wait(self.blocks, "partition")  # held somewhere only once computed
            who = self.client.who_has(self.blocks)
            homes = [sorted(who[f.key])[0] for f in self.blocks]
            self._block_homes = homes
        return homes

    def gather(self, futures, step, homes=None):
        """The results of ``futures``, in order (see ``wait`` for the errors)."""
        from dask.sizeof import sizeof

        self.wait(futures, step, homes)
        results = self.client.gather(futures)
        self.traffic["gathered"] += sum(sizeof(r) for r in results)
        return results

    def map(self, fn, *args, step=""):
        return self.gather(self._submit(fn, *args), step)

    def map_state(self, fn, state, *args, step="", pin=False, gather=True, each=None):
        from dask.sizeof import sizeof

        n = len(self.blocks)
        self.traffic["steps"] += 1
        self.traffic["sent"] += sizeof(args) * n + (0 if each is None else sizeof(list(each)))
        state = [None] * n if state is None else state
        extra = [()] * n if each is None else [(e,) for e in each]
        homes = self._homes() if pin else None

        def where(i):
            # A pinned task runs on its block's worker only: never stolen, so its state (and
            # the pair holding it) is never serialised.
            return {} if homes is None else {"workers": [homes[i]], "allow_other_workers": False}

        # The new state handles are the futures of the (result, state) pairs: two tasks per block
        # and step (the step and the result's extraction), not three.
        pairs = [self.client.submit(_call_on_block_state, fn, b, s, *args, *e, pure=False,
                                    **where(i))
                 for i, (b, s, e) in enumerate(zip(self.blocks, state, extra))]
        results = [self.client.submit(operator.itemgetter(0), p, pure=False, **where(i))
                   for i, p in enumerate(pairs)]
        if not gather:
            return results, pairs
        return self.gather(results, step, homes), pairs

    def map_blocks(self, fn, *args, step=""):
        return self._submit(fn, *args)
