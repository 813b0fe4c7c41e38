"""Device resolution and the per-thread cache of compiled contexts."""

import os
import sys
import threading
import warnings

import sklearn

from . import _config, _core

_local = threading.local()
# Where the frames a warning should not name live: gpulearn, and scikit-learn's wrappers of
# its methods (set_output's around transform).
_LIBRARY_DIRS = tuple(os.path.dirname(path) + os.sep for path in (__file__, sklearn.__file__))


def cuda_available():
    """True when gpulearn's CUDA backend was built, its libraries load and a GPU is present.

    The first call loads the CUDA backend; ``import gpulearn`` alone initialises no CUDA.
    """
    return bool(_core.cuda_available())


def resolve(device, data_device=None):
    """The canonical device ('cpu' or 'cuda:N') an estimator with ``device`` computes on.

    ``data_device`` is the CUDA ordinal of input data already on a GPU, or None.
    """
    device = _config.check_device_string(device)
    if device == "auto":
        device = _config.get_config()["device"]
    if device == "auto":
        if data_device is not None:
            return f"cuda:{data_device}"
        return _core.auto_device()
    return "cuda:0" if device == "cuda" else device


def is_auto(device):
    """Whether ``device`` leaves the choice to gpulearn: "auto", with set_config's device
    "auto" too."""
    return (_config.check_device_string(device) == "auto"
            and _config.get_config()["device"] == "auto")


class CudaUnavailableError(RuntimeError):
    """CUDA was asked for where the CUDA backend cannot run (a RuntimeError to the user)."""


def task_threads():
    """The CPU threads a gpulearn call may use in this thread: inside a Dask worker's task,
    dask config ``gpulearn.task-threads`` (default 1: a worker runs one task per thread, so its
    threads share the cores, as Dask's OMP_NUM_THREADS=1 has every other library do); elsewhere
    0 (the core's default: GPULEARN_NUM_THREADS, else every hardware thread)."""
    dist = sys.modules.get("distributed")
    if dist is None:
        return 0
    try:
        dist.get_worker()
    except ValueError:  # not in a worker's task
        return 0
    import dask

    return max(0, int(dask.config.get("gpulearn.task-threads", 1)))


def context(device):
    """The cached compiled context of a canonical device string (one per thread, and per thread
    count: see ``task_threads``).

    Whether CUDA is available is decided once, by the core when it creates the context; its
    refusal becomes a RuntimeError naming the missing part and the alternatives.
    """
    cache = getattr(_local, "contexts", None)
    if cache is None:
        cache = _local.contexts = {}
    threads = task_threads()
    ctx = cache.get((device, threads))
    if ctx is None:
        try:
            ctx = _core.Context(device, n_threads=threads)
        except NotImplementedError:  # the core's Unsupported: no usable CUDA backend
            raise CudaUnavailableError(
                f"device={device!r} was requested but CUDA is unavailable: "
                f"{_core.cuda_unavailable_reason()}. Use device='cpu' or device='auto'."
            ) from None
        cache[(device, threads)] = ctx
    else:
        # Each call starts without the large scratch an earlier call left (Context.trim_scratch).
        ctx.trim_scratch()
    return ctx


def context_for_prediction(device, data_device=None):
    """Like ``context(resolve(...))``, but a fitted model asked for CUDA where there is none
    (say, unpickled on a laptop) predicts on the CPU, with a warning, instead of failing."""
    resolved = resolve(device, data_device)
    try:
        return context(resolved)
    except CudaUnavailableError:
        if data_device is not None:
            raise
    warnings.warn(
        f"device={device!r} but CUDA is unavailable here "
        f"({_core.cuda_unavailable_reason()}); computing on the CPU.",
        UserWarning,
        stacklevel=_stacklevel_of_caller(),
    )
    return context("cpu")


def _stacklevel_of_caller():
    """warnings.warn's stacklevel, for its caller, that names the first line outside gpulearn
    and scikit-learn (the user's call of predict, however deep the warning is raised)."""
    level, frame = 1, sys._getframe(1)  # level 1: the function calling warnings.warn
    while frame is not None and frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
        level, frame = level + 1, frame.f_back
    return level
