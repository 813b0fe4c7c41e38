"""Global configuration: the default device and the kind of array returned by predict."""

import re
import threading
from contextlib import contextmanager

_DEVICE_RE = re.compile(r"^\s*(auto|cpu|cuda|cuda:\d+)\s*$", re.IGNORECASE)
_OUTPUT_TYPES = ("input", "numpy", "cupy", "torch")

_global_config = {"device": "auto", "output_type": "input"}
_local = threading.local()


def _get_threadlocal_config():
    if not hasattr(_local, "config"):
        _local.config = _global_config.copy()
    return _local.config


def check_device_string(device, what="device"):
    """Return ``device`` lower-cased if it names a device gpulearn accepts, else raise."""
    if not isinstance(device, str) or not _DEVICE_RE.match(device):
        raise ValueError(
            f"{what} must be 'auto', 'cpu', 'cuda' or 'cuda:N' (N a device ordinal); "
            f"got {device!r}"
        )
    return device.strip().lower()


def get_config():
    """Return the current gpulearn configuration as a dict.

    Keys: ``device`` (the default for estimators whose ``device`` is ``"auto"``) and
    ``output_type`` (the kind of array predict/transform return).
    """
    return _get_threadlocal_config().copy()


def set_config(device=None, output_type=None):
    """Set gpulearn's global configuration.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N"}, default=None
        Device used by estimators constructed with ``device="auto"``. ``"auto"`` means the
        first CUDA device where the CUDA backend is available, else the CPU; data already on a
        GPU is computed on its own device. ``None`` leaves the setting unchanged.
    output_type : {"input", "numpy", "cupy", "torch"}, default=None
        Kind of array returned by predict: ``"input"`` returns the kind that came in (NumPy in,
        NumPy out; CuPy in, CuPy out). ``None`` leaves the setting unchanged.
    """
    config = _get_threadlocal_config()
    if device is not None:
        config["device"] = check_device_string(device)
    if output_type is not None:
        if output_type not in _OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {_OUTPUT_TYPES}; got {output_type!r}")
        config["output_type"] = output_type


@contextmanager
def config_context(*, device=None, output_type=None):
    """Temporarily change gpulearn's configuration within a ``with`` block.

    Takes the same arguments as :func:`set_config`; the previous values are restored on exit.
    """
    old = get_config()
    set_config(device=device, output_type=output_type)
    try:
        yield
    finally:
        set_config(**old)
