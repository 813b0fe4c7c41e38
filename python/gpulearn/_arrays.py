"""Arrays at the Python boundary: NumPy, CUDA array interface (CuPy, PyTorch) and DLPack.

Everything the compiled core reads or writes crosses as an ``_core.ArrayRef``: an address with
shape, row stride, dtype and memory space. Host data is described in place when its rows are
unit-strided (C order, or row slices of it); anything else is copied to C order once. Device
data (``__cuda_array_interface__``, or DLPack with a CUDA device) is used in place, never
round-tripped through the host.
"""

import numpy as np

from . import _core, _sparse

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_DLPACK_CUDA = (2, 13)  # kDLCUDA, kDLCUDAManaged


def _module_of(obj):
    return type(obj).__module__.split(".")[0]


def device_ordinal(obj):
    """The CUDA ordinal of an array (or ``cupyx.scipy.sparse`` matrix) resident on a GPU, else
    None."""
    if _sparse.is_device_sparse(obj):
        return int(obj.data.device.id)
    if getattr(obj, "__cuda_array_interface__", None) is not None:
        dev = getattr(obj, "device", None)
        ordinal = getattr(dev, "id", None)  # CuPy
        if ordinal is None:
            ordinal = getattr(dev, "index", None)  # PyTorch
        return int(ordinal or 0)
    dl_device = getattr(obj, "__dlpack_device__", None)
    if dl_device is not None and not isinstance(obj, np.ndarray):
        try:
            kind, ordinal = dl_device()
        except Exception:  # noqa: BLE001 - an object that cannot say is not on a GPU
            return None
        if int(kind) in _DLPACK_CUDA:
            return int(ordinal)
    return None


def input_kind(obj):
    """'numpy', 'cupy' or 'torch': the kind of array predict returns for this input (CuPy's
    for a ``cupyx.scipy.sparse`` matrix)."""
    module = _module_of(obj)
    if module == "cupyx":
        return "cupy"
    return module if module in ("cupy", "torch") else "numpy"


def to_device_like(like, host_array):
    """``host_array`` copied to the GPU library and device of the device array ``like``."""
    if input_kind(like) == "torch":
        import torch

        return torch.from_numpy(np.ascontiguousarray(host_array)).to(like.device)
    import cupy

    with cupy.cuda.Device(like.device.id):
        return cupy.asarray(host_array)


def to_host(obj):
    """Host data as something scikit-learn's validation accepts, without copying host data.

    Device arrays are copied to NumPy (``cupyx.scipy.sparse`` matrices to scipy.sparse);
    DLPack-only host objects are wrapped without a copy; everything else (NumPy, lists, pandas,
    scipy.sparse) is returned unchanged.
    """
    if obj is None or isinstance(obj, np.ndarray):
        return obj
    if device_ordinal(obj) is not None:
        module = _module_of(obj)
        if module in ("cupy", "cupyx"):
            return obj.get()
        if module == "torch":
            return obj.detach().cpu().numpy()
        return _to_cupy(obj).get()
    if not hasattr(obj, "__array__") and hasattr(obj, "__dlpack__"):
        return np.from_dlpack(obj)
    return obj


def _to_cupy(obj):
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - only on GPU machines without CuPy
        raise TypeError(
            f"{type(obj).__name__} is a GPU array without __cuda_array_interface__; "
            "install CuPy so gpulearn can read it through DLPack"
        ) from exc
    return cupy.from_dlpack(obj)


def as_device_matrix(obj, name, dtype=None, ensure_2d=True, promote_with=None):
    """A CUDA-resident array as a C-ordered 2-D CuPy/PyTorch array of a float dtype.

    Returns ``(array, ref)``: keep ``array`` alive while ``ref`` is in use. 1-D input becomes
    an (n, 1) column when ``ensure_2d`` is False (targets and weights). The dtype is ``dtype``,
    else ``np.result_type`` of the array's and ``promote_with``, else the array's where it is
    float32 or float64, else float64.
    """
    if input_kind(obj) == "torch":
        obj = obj.detach()  # a tensor that requires grad exposes no __cuda_array_interface__
    if getattr(obj, "__cuda_array_interface__", None) is None:
        obj = _to_cupy(obj)
    module = _module_of(obj)
    shape = tuple(obj.shape)
    if ensure_2d and len(shape) != 2:
        raise ValueError(
            f"Expected 2D array for {name}, got {len(shape)}D array of shape {shape} instead."
        )
    if len(shape) not in (1, 2):
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {shape}")
    try:
        current = np.dtype(str(obj.dtype).replace("torch.", ""))
    except TypeError:
        raise ValueError(
            f"{name} has dtype {obj.dtype}, which gpulearn cannot read: convert it to float32 "
            "or float64"
        ) from None
    if np.issubdtype(current, np.complexfloating):
        raise ValueError(f"Complex data not supported in {name}")
    if dtype is not None:
        target = np.dtype(dtype)
    elif promote_with is not None:
        target = np.result_type(current, promote_with)
    else:
        target = current if current in _FLOAT_DTYPES else np.dtype(np.float64)
    if module == "torch":
        import torch

        obj = obj.to(getattr(torch, target.name)).contiguous()
    else:
        import cupy

        obj = cupy.ascontiguousarray(obj, dtype=target)
    return obj, device_ref(obj)


def device_ref(obj):
    """The ArrayRef of a C-contiguous CUDA-resident array (1-D arrays become a column)."""
    cai = obj.__cuda_array_interface__
    shape = tuple(cai["shape"])
    rows, cols = (shape[0], 1) if len(shape) == 1 else shape
    dtype = np.dtype(cai["typestr"])
    strides = cai.get("strides")
    ld = cols if strides is None or len(shape) == 1 else strides[0] // dtype.itemsize
    return _core.ArrayRef(int(cai["data"][0]), int(rows), int(cols), int(ld), dtype.name, True)


def host_ref(arr):
    """The ArrayRef of a host float array that ``rows_unit_strided`` accepts (1-D: a column):
    its address, shape, row stride in elements and dtype, read in C++."""
    return _core.ArrayRef.of_host(arr)


def rows_unit_strided(arr):
    """True when the compiled core can read ``arr`` in place: rows of contiguous elements that
    do not overlap (a row stride of at least a row; views such as sliding windows are copied)."""
    if arr.ndim == 1:
        return arr.strides[0] > 0 and arr.strides[0] % arr.itemsize == 0
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        return True
    row_bytes = arr.shape[1] * arr.itemsize
    return (
        (arr.shape[1] == 1 or arr.strides[1] == arr.itemsize)
        and (arr.shape[0] == 1 or (arr.strides[0] >= row_bytes
                                   and arr.strides[0] % arr.itemsize == 0))
    )


def readable(arr):
    """``arr`` itself when the core can read it in place, else a C-ordered copy."""
    return arr if rows_unit_strided(arr) else np.ascontiguousarray(arr)


def empty_like_input(kind, shape, dtype, like=None):
    """A new output array of the input's kind; ``like`` is the device input it follows."""
    if kind == "cupy":
        import cupy

        with cupy.cuda.Device(like.device.id):
            return cupy.empty(shape, dtype=dtype)
    if kind == "torch":
        import torch

        return torch.empty(shape, dtype=getattr(torch, np.dtype(dtype).name), device=like.device)
    return np.empty(shape, dtype=dtype)


def convert_output(out, output_type):
    """``out`` as the configured output type ('input' keeps it as it is)."""
    if output_type == "input":
        return out
    module = _module_of(out)
    if output_type == "numpy":
        return to_host(out) if module != "numpy" else out
    if output_type == "cupy":
        import cupy

        return cupy.asarray(out) if module != "torch" else cupy.from_dlpack(out)
    if output_type == "torch":
        import torch

        if module == "numpy":
            return torch.from_numpy(out)
        return torch.from_dlpack(out)
    raise ValueError(f"unknown output_type {output_type!r}")


def synchronize_producers(*arrays):
    """Wait for work the producing libraries queued on their current streams (the CUDA array
    interface's contract for consumers on another stream), on each array's own device."""
    for obj in arrays:
        module = _module_of(obj)
        if module == "cupy":
            import cupy

            with cupy.cuda.Device(obj.device.id):
                cupy.cuda.get_current_stream().synchronize()
        elif module == "torch":
            import torch

            torch.cuda.current_stream(obj.device).synchronize()
