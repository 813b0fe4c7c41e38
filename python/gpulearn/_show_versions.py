"""gpulearn.show_versions(): what was built, which devices are seen, which libraries run."""

import platform
import sys
from importlib import metadata

from . import _core

_LIBRARIES = ("numpy", "scipy", "scikit-learn", "pybind11", "cupy-cuda13x", "cupy-cuda12x",
              "cupy", "torch", "scikit-learn-intelex", "pandas")


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def show_versions():
    """Print the build (CUDA on/off, architectures), the devices seen and library versions."""
    build = _core.build_info()
    n_devices = _core.cuda_device_count()
    lines = ["gpulearn:"]
    lines.append(f"   version: {build['version']}")
    lines.append(f"   compiler: {build['compiler']}")
    lines.append(f"   CUDA backend built: {'yes' if build['cuda_built'] else 'no'}")
    if build["cuda_built"]:
        lines.append(f"   CUDA architectures: {build['cuda_architectures']}")
        lines.append(f"   CUDA toolkit: {build['cuda_version'] or 'plugin not loaded'}")
    lines.append("devices:")
    lines.append("   cpu")
    emulated = n_devices > 0 and _core.cuda_emulated()
    for i in range(n_devices):
        lines.append(f"   cuda:{i}" + (" (EMULATED: the CUDA emulator, running on the CPU; "
                                         "no real GPU)" if emulated else ""))
    if n_devices == 0:
        lines.append(f"   (no CUDA device: {_core.cuda_unavailable_reason()})")
    lines.append("system:")
    lines.append(f"   python: {sys.version.split()[0]} ({sys.executable})")
    lines.append(f"   machine: {platform.platform()}")
    lines.append("libraries:")
    for name in _LIBRARIES:
        version = _version(name)
        if version is not None:
            lines.append(f"   {name}: {version}")
    print("\n".join(lines))
