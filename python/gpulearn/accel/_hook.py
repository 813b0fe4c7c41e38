"""Patching scikit-learn's packages when they are imported, not before.

``install()`` patches the packages already imported at once, and leaves a finder on
``sys.meta_path`` that patches each other one right after its own import finishes. So turning
the accelerator on (at interpreter start, from ``GPULEARN_ACCEL=1``) imports no scikit-learn
package the program does not use.
"""

import importlib.abc
import sys

from . import _dispatch
from ._specs import PACKAGES


class _PatchingLoader(importlib.abc.Loader):
    """Runs the package's own loader, then patches the package."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _dispatch.patch_package(module.__name__)

    def __getattr__(self, name):  # get_code, get_source, is_package, ... of the real loader
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname not in PACKAGES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


_finder = _Finder()


def hook():
    """Patch the packages imported so far; patch the others as they are imported."""
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    for package in PACKAGES:
        if package in sys.modules:
            _dispatch.patch_package(package)


def unhook():
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    _dispatch.unpatch_all()
