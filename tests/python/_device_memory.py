"""Device memory reached from Python through the CUDA runtime's C API (ctypes): the tests' way
to hand the compiled core data that lives in device memory without CuPy.

On the CUDA emulator (the CI), the runtime is the emulator library beside the emulated plugin
(``GPULEARN_CUDA_PLUGIN``): loading it again returns the same instance, so an allocation made
here is device memory of the device the plugin computes on, and under ASan the emulator poisons
it for the host while no device work runs, so a host read of it by the core is reported. On a
GPU, it is the toolkit's ``libcudart``: its allocations are in the device's primary context,
which the plugin's runtime uses too.
"""

import ctypes
import ctypes.util
import os

import numpy as np

from gpulearn import _core

_HOST_TO_DEVICE, _DEVICE_TO_HOST = 1, 2


def _load_runtime():
    if not _core.cuda_available():
        return None
    if _core.cuda_emulated():
        plugin = os.environ.get("GPULEARN_CUDA_PLUGIN")
        if not plugin:
            return None
        return ctypes.CDLL(os.path.join(os.path.dirname(plugin), "libgpulearn_cudaemu.so"))
    names = [ctypes.util.find_library("cudart"), "libcudart.so",
             "/usr/local/cuda/lib64/libcudart.so"]
    for name in filter(None, names):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def _declared(lib):
    """``lib`` with the argument types of the four calls used here (None stays None)."""
    if lib is not None:
        lib.cudaMalloc.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t]
        lib.cudaFree.argtypes = [ctypes.c_void_p]
        lib.cudaMemcpy.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                   ctypes.c_int]
        lib.cudaSetDevice.argtypes = [ctypes.c_int]
    return lib


_RUNTIME = []


def _runtime():
    """The runtime library, loaded once per process (None where there is none)."""
    if not _RUNTIME:
        _RUNTIME.append(_declared(_load_runtime()))
    return _RUNTIME[0]


def available():
    """Whether the core computes on a CUDA device whose memory this module can reach."""
    return _runtime() is not None


class DeviceArray:
    """A copy of a C-ordered host array in device memory of device 0 (``ptr``, with the host
    array's ``shape`` and ``dtype``); freed with the object. ``get()`` copies it back, and so
    does anything NumPy asks of it (``np.asarray``, indexing, array methods): an output the core
    wrote here reads as the NumPy array it holds."""

    def __init__(self, host):
        self._lib = _runtime()
        self.host = np.ascontiguousarray(host)
        nbytes = max(self.host.nbytes, 1)
        ptr = ctypes.c_void_p()
        assert self._lib.cudaSetDevice(0) == 0
        assert self._lib.cudaMalloc(ctypes.byref(ptr), nbytes) == 0
        self.ptr = ptr.value
        if self.host.nbytes:
            assert self._lib.cudaMemcpy(self.ptr, self.host.ctypes.data, self.host.nbytes,
                                        _HOST_TO_DEVICE) == 0

    @property
    def shape(self):
        return self.host.shape

    @property
    def dtype(self):
        return self.host.dtype

    def ref(self):
        """The ``_core.ArrayRef`` of this device memory (1-D: a column)."""
        rows, cols = (self.shape[0], 1) if len(self.shape) == 1 else self.shape
        return _core.ArrayRef(self.ptr, rows, cols, cols, self.dtype.name, True)

    def __array__(self, dtype=None, copy=None):
        return self.get() if dtype is None else self.get().astype(dtype)

    def __getitem__(self, index):
        return self.get()[index]

    def __getattr__(self, name):
        if name in ("host", "ptr", "_lib"):  # not set yet (a failed __init__)
            raise AttributeError(name)
        return getattr(self.get(), name)

    def get(self):
        out = np.empty_like(self.host)
        if out.nbytes:
            assert self._lib.cudaMemcpy(out.ctypes.data, self.ptr, out.nbytes,
                                        _DEVICE_TO_HOST) == 0
        return out

    def set(self, host):
        """Copies ``host`` (this array's shape and dtype) into the device memory."""
        host = np.ascontiguousarray(host, dtype=self.dtype).reshape(self.shape)
        if host.nbytes:
            assert self._lib.cudaMemcpy(self.ptr, host.ctypes.data, host.nbytes,
                                        _HOST_TO_DEVICE) == 0

    def __len__(self):
        return self.shape[0]

    def __del__(self):
        if getattr(self, "ptr", None):
            self._lib.cudaFree(self.ptr)
            self.ptr = None


def _binary(name):
    def op(self, other):
        return getattr(self.get(), name)(np.asarray(other))

    return op


def _in_place(name):
    def op(self, other):
        host = self.get()
        getattr(host, name)(np.asarray(other))
        self.set(host)
        return self

    return op


for _name in ("add", "sub", "mul", "truediv", "floordiv", "pow", "mod"):
    setattr(DeviceArray, f"__{_name}__", _binary(f"__{_name}__"))
    setattr(DeviceArray, f"__r{_name}__", _binary(f"__r{_name}__"))
    setattr(DeviceArray, f"__i{_name}__", _in_place(f"__i{_name}__"))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(DeviceArray, f"__{_name}__", _binary(f"__{_name}__"))
DeviceArray.__neg__ = lambda self: -self.get()
DeviceArray.__hash__ = None
