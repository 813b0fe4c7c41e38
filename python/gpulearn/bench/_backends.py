"""The backends a benchmark compares: gpulearn on CUDA and on the CPU, scikit-learn, and any
peer found installed (scikit-learn-intelex, cuML, plain CuPy and PyTorch baselines); and, asked
for by name or with ``--view accel``, scikit-learn's own class run under ``gpulearn.accel``
(``accel-cpu``, ``accel-cuda``), beside gpulearn called directly, to show the accelerator's
overhead.

A backend answers three questions: is it usable on this machine at all (and if not, why),
does it have a counterpart of a given algorithm, and how to build that estimator. GPU backends
are timed twice: on data already resident on the device (CuPy arrays) and on host data, with
the copies to the device and back inside the timed call.
"""

import dataclasses
import importlib
from typing import Callable

from ._registry import import_object


def _import_reason(module, pip_name):
    """None when ``module`` imports, else why not."""
    try:
        importlib.import_module(module)
    except ImportError:
        return f"not installed (pip install {pip_name})"
    except Exception as exc:  # a broken install, or a GPU library without a GPU
        return f"import {module} failed: {type(exc).__name__}: {exc}"
    return None


def cupy_reason():
    """None when CuPy is installed and sees a GPU, else why not."""
    reason = _import_reason("cupy", "cupy-cuda12x or cupy-cuda13x")
    if reason is not None:
        return f"CuPy {reason}"
    import cupy

    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return f"CuPy sees no GPU: {type(exc).__name__}: {exc}"
    return None if count > 0 else "CuPy sees no GPU"


def gpulearn_cuda_reason():
    import gpulearn
    from gpulearn import _core

    return None if gpulearn.cuda_available() else _core.cuda_unavailable_reason()


@dataclasses.dataclass(frozen=True)
class Backend:
    name: str
    label: str  # what the table prints
    gpu: bool
    # () -> None when usable here, else why not
    unavailable: Callable[[], str | None]
    # (algorithm, params) -> estimator; KeyError when the backend lacks the algorithm
    make: Callable
    # (algorithm) -> None when the backend has the algorithm, else why not
    lacks: Callable = lambda algorithm: None
    is_gpulearn: bool = False
    is_reference: bool = False
    # "cpu"/"cuda": scikit-learn's class under gpulearn.accel on that device (the runner
    # installs the accelerator around this backend's runs only); None: called as it is, with
    # the accelerator paused
    accel: str | None = None
    # the backend timing the same computation called directly (accel-cpu: gpulearn-cpu)
    direct: str | None = None
    # run when no --backends/--view names the backends (the accelerated ones are asked for)
    default: bool = True


def _peer(name):
    def lacks(algorithm):
        if name not in algorithm.peers:
            return f"{name} has no {algorithm.estimator} registered"
        try:
            import_object(algorithm.peers[name])
        except ImportError as exc:  # an older release without this estimator
            return f"{name} has no {algorithm.peers[name]}: {exc}"
        return None

    def make(algorithm, params):
        return import_object(algorithm.peers[name])(**params)

    return lacks, make


def _baseline_lacks(algorithm):
    return None if algorithm.baseline is not None else f"no CuPy baseline for {algorithm.estimator}"


def _cupy_baseline(algorithm, params):
    import cupy

    return algorithm.baseline(cupy, params)


def torch_cuda_reason():
    """None when PyTorch is installed and sees a GPU, else why not."""
    reason = _import_reason("torch", "torch")
    if reason is not None:
        return f"PyTorch {reason}"
    import torch

    return None if torch.cuda.is_available() else "PyTorch sees no GPU"


def _torch_baseline_lacks(algorithm):
    return (None if algorithm.torch_baseline is not None
            else f"no PyTorch baseline for {algorithm.estimator}")


def _cuml_reason():
    reason = cupy_reason()  # cuML needs a GPU; without one its import can hang or fail oddly
    return reason or _import_reason("cuml", "cuml-cu12")


def _accel_lacks(algorithm):
    """None when gpulearn.accel takes over the algorithm's scikit-learn class, else why not."""
    from gpulearn import accel

    if algorithm.sklearn in accel.ESTIMATORS:  # "sklearn.linear_model.Ridge", as the registry
        return None
    return f"gpulearn.accel does not accelerate {algorithm.sklearn}"


_sklearnex_lacks, _sklearnex_make = _peer("sklearnex")
_cuml_lacks, _cuml_make = _peer("cuml")

BACKENDS = {
    b.name: b
    for b in [
        Backend("sklearn", "scikit-learn", gpu=False, unavailable=lambda: None,
                make=lambda a, p: import_object(a.sklearn)(**p), is_reference=True),
        Backend("gpulearn-cpu", "gpulearn cpu", gpu=False, unavailable=lambda: None,
                make=lambda a, p: import_object(a.gpulearn)(device="cpu", **p), is_gpulearn=True),
        Backend("gpulearn-cuda", "gpulearn cuda", gpu=True, unavailable=gpulearn_cuda_reason,
                make=lambda a, p: import_object(a.gpulearn)(device="cuda", **p),
                is_gpulearn=True),
        Backend("accel-cpu", "accel cpu", gpu=False, unavailable=lambda: None,
                make=lambda a, p: import_object(a.sklearn)(**p), lacks=_accel_lacks,
                is_gpulearn=True, accel="cpu", direct="gpulearn-cpu", default=False),
        Backend("accel-cuda", "accel cuda", gpu=True, unavailable=gpulearn_cuda_reason,
                make=lambda a, p: import_object(a.sklearn)(**p), lacks=_accel_lacks,
                is_gpulearn=True, accel="cuda", direct="gpulearn-cuda", default=False),
        Backend("sklearnex", "sklearn-intelex", gpu=False,
                unavailable=lambda: _import_reason("sklearnex", "scikit-learn-intelex"),
                make=_sklearnex_make, lacks=_sklearnex_lacks),
        Backend("cuml", "cuML", gpu=True, unavailable=_cuml_reason, make=_cuml_make,
                lacks=_cuml_lacks),
        Backend("cupy", "CuPy baseline", gpu=True, unavailable=cupy_reason,
                make=_cupy_baseline, lacks=_baseline_lacks),
        Backend("torch", "PyTorch baseline", gpu=True, unavailable=torch_cuda_reason,
                make=lambda a, p: a.torch_baseline(p), lacks=_torch_baseline_lacks),
    ]
}
