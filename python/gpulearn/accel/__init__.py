"""gpulearn.accel: unmodified scikit-learn code, run on gpulearn.

Once it is on, ``from sklearn.cluster import KMeans`` (and LinearRegression, Ridge, Lasso,
ElasticNet, LogisticRegression, PCA, TruncatedSVD, NearestNeighbors, KNeighborsClassifier,
KNeighborsRegressor, RandomForestClassifier, RandomForestRegressor) still gives scikit-learn's
class, with its parameters, repr, clone and pickles, but fit and predict run on gpulearn: on
CUDA where available, else on gpulearn's CPU backend. What gpulearn does not support falls
back to scikit-learn's own code for that call, with the reason recorded.

Four ways to turn it on:

- ``python -m gpulearn.accel script.py [args]`` or ``python -m gpulearn.accel -m module``;
- ``import gpulearn.accel; gpulearn.accel.install()`` at the top of a script or notebook;
- ``%load_ext gpulearn.accel`` in IPython or Jupyter;
- ``GPULEARN_ACCEL=1`` in the environment (read at interpreter start by the
  ``gpulearn-accel.pth`` file gpulearn installs), which also reaches subprocesses and joblib's
  workers. ``install()`` sets it for the processes the program starts.

To see what ran where: ``profile()`` (a context manager), ``--profile``, or the log
(``-v``, ``GPULEARN_ACCEL_LOG=info``). ``pytest -p gpulearn.accel`` runs a test session under
the accelerator.
"""

import os

from . import _dispatch, _hook, _report
from ._report import Profile
from ._specs import SPECS

__all__ = ["install", "uninstall", "is_installed", "paused", "profile", "Profile",
           "ESTIMATORS"]

#: The scikit-learn estimators the accelerator takes over ("package.Class").
ESTIMATORS = tuple(f"{spec.package}.{spec.name}" for spec in SPECS)

_installed = False


def install(*, device=None, subprocesses=True, log=None):
    """Turn the accelerator on in this process.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N"}, default=None
        Where gpulearn computes; None keeps ``GPULEARN_ACCEL_DEVICE`` or "auto" (CUDA where
        gpulearn's CUDA backend and a GPU are available, else gpulearn's CPU backend; see
        :func:`gpulearn.set_config`).
    subprocesses : bool, default=True
        Also set ``GPULEARN_ACCEL=1`` in this process's environment, so that the Python
        processes it starts (joblib's workers, ``subprocess``) are accelerated too.
    log : str, default=None
        Log each dispatch decision at this level ("info"); None keeps ``GPULEARN_ACCEL_LOG``.

    Idempotent; :func:`uninstall` turns it off.
    """
    global _installed
    if device is not None:
        _dispatch.set_device(device)
        if subprocesses:
            os.environ["GPULEARN_ACCEL_DEVICE"] = _dispatch._device
    _report.configure_logging(log)
    if subprocesses:
        os.environ["GPULEARN_ACCEL"] = "1"
        if log is not None:
            os.environ["GPULEARN_ACCEL_LOG"] = str(log)
    _hook.hook()
    _installed = True


def uninstall():
    """Turn the accelerator off: scikit-learn's classes get their own methods back."""
    global _installed
    _hook.unhook()
    if os.environ.get("GPULEARN_ACCEL") == "1":
        del os.environ["GPULEARN_ACCEL"]
    _installed = False


def is_installed():
    return _installed


def paused():
    """A context manager: while it is open, this thread's scikit-learn estimators run
    scikit-learn's own code (to compare, or to step around gpulearn for one block)."""
    return _dispatch._inside


def profile(file=None, print_report=True):
    """A context manager that records every accelerated call made while it is open, and
    prints one row per estimator class and method on closing: calls, total time, and where
    they ran ("gpulearn cuda:0", "gpulearn cpu", or "scikit-learn" with the reason).

    >>> with gpulearn.accel.profile() as prof:      # doctest: +SKIP
    ...     KMeans(3).fit(X)
    >>> prof.rows                                   # doctest: +SKIP
    """
    return Profile(file=file, print_report=print_report)


# ---- IPython: %load_ext gpulearn.accel ----------------------------------------------------

def load_ipython_extension(ipython):
    install()


def unload_ipython_extension(ipython):
    uninstall()


# ---- pytest: pytest -p gpulearn.accel ------------------------------------------------------

def pytest_load_initial_conftests(early_config, parser, args):
    install()
