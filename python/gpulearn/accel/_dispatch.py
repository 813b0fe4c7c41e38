"""The accelerator's patching and dispatch.

Installing replaces, on each scikit-learn class of ``_specs.SPECS``, the methods gpulearn runs
with a wrapper. The class stays scikit-learn's own, so ``isinstance``, ``get_params``,
``clone``, ``repr`` and pickling are untouched; only the method bodies change. A call:

1. runs scikit-learn's original method when the instance is of a subclass (its own code may
   rely on scikit-learn's internals), when gpulearn itself is computing on this thread (no
   recursion), or when ``Spec.unsupported`` gives a reason;
2. otherwise runs gpulearn's estimator: in fit, a new one with the instance's hyper-parameters,
   whose fitted state then becomes the instance's scikit-learn attributes
   (``_sklearn_fitted_state``); in predict and the like, a gpulearn view of the instance's
   fitted state (``_from_sklearn_fitted``), cached per instance while that state is the same
   objects;
3. falls back to scikit-learn's original method when gpulearn raises: for input gpulearn does
   not take that scikit-learn does, scikit-learn answers; for input neither takes, the user
   gets scikit-learn's own error. The instance is changed only by a gpulearn fit that
   succeeded.

Every decision goes to ``_record`` (the profile and the log).
"""

import functools
import os
import threading
import time
import weakref

from .. import _convert
from . import _report
from ._specs import SPECS

_local = threading.local()
# estimator -> (gpulearn twin, the objects of the estimator's fitted state it was made from)
_twins = weakref.WeakKeyDictionary()
_twins_lock = threading.Lock()
# (scikit-learn class, method name) -> the original function, while installed
_originals = {}
_device = os.environ.get("GPULEARN_ACCEL_DEVICE", "auto")


def set_device(device):
    """The ``device`` gpulearn's estimators get under the accelerator ("auto" by default)."""
    global _device
    from .._config import check_device_string
    _device = check_device_string(device)


def inside_gpulearn():
    return getattr(_local, "depth", 0) > 0


class _Inside:
    """While gpulearn computes for a call, scikit-learn estimators it uses run as they are."""

    def __enter__(self):
        _local.depth = getattr(_local, "depth", 0) + 1

    def __exit__(self, *exc):
        _local.depth -= 1


_inside = _Inside()


# ---- installing ----------------------------------------------------------------------------

def patch_package(package):
    """Wrap the methods of every spec'd class that ``package`` (imported) exports."""
    for spec in SPECS:
        if spec.package == package:
            _patch(spec)


def _patch(spec):
    cls = spec.sklearn_class
    for method in spec.methods:
        if (cls, method) in _originals:
            continue
        original = getattr(cls, method)
        _originals[(cls, method)] = (original, method in cls.__dict__)
        setattr(cls, method, _wrapper(spec, method, original))


def unpatch_all():
    for (cls, method), (original, own) in list(_originals.items()):
        if own:
            setattr(cls, method, original)
        else:  # inherited: remove our shadow
            delattr(cls, method)
    _originals.clear()
    with _twins_lock:
        _twins.clear()


def is_patched(cls, method):
    return (cls, method) in _originals


def _wrapper(spec, method, original):
    sk_class = spec.sklearn_class

    @functools.wraps(original)
    def accelerated(self, *args, **kwargs):
        if type(self) is not sk_class or inside_gpulearn():
            return original(self, *args, **kwargs)
        return _dispatch(spec, method, original, self, args, kwargs)

    accelerated.__gpulearn_accel_original__ = original
    return accelerated


# ---- one call ------------------------------------------------------------------------------

def _dispatch(spec, method, original, estimator, args, kwargs):
    recording = _report.active()
    start = time.perf_counter() if recording else 0.0
    reason = (_param_reason(spec, estimator) or _callback_reason(estimator, method)
              or spec.unsupported(estimator, method, args, kwargs))
    if reason is None:
        try:
            with _inside:
                result, where = _run(spec, method, original, estimator, args, kwargs, recording)
        except Exception as exc:  # noqa: BLE001 - any refusal falls back (the reason says why)
            reason = f"gpulearn raised {type(exc).__name__}: {_first_line(exc)}"
        else:
            if recording:
                _report.record(spec.name, method, where, time.perf_counter() - start,
                               note=spec.note or None)
            return result
    try:
        return original(estimator, *args, **kwargs)
    finally:
        if recording:
            _report.record(spec.name, method, "scikit-learn", time.perf_counter() - start,
                           reason)


def _param_reason(spec, estimator):
    """A hyper-parameter only scikit-learn has, set to something other than its default."""
    extra = _sklearn_only_params(spec)
    for name, default in extra.items():
        value = getattr(estimator, name, default)
        if value is not default and not _same(value, default):
            return f"{name}={value!r} (not a parameter of gpulearn's {spec.name})"
    return None


def _callback_reason(estimator, method):
    """Callbacks registered with scikit-learn's ``set_callbacks``: its fit calls them at each
    step of its own solver, gpulearn's has none to call."""
    if method.startswith("fit") and getattr(estimator, "_skl_callbacks", None):
        return "callbacks set (set_callbacks): gpulearn's fit calls none"
    return None


@functools.lru_cache(maxsize=None)
def _sklearn_only_params(spec):
    import inspect
    ours = set(spec.gpulearn_class._get_param_names())
    signature = inspect.signature(spec.sklearn_class.__init__)
    return {name: p.default for name, p in signature.parameters.items()
            if name != "self" and p.kind != p.VAR_KEYWORD and name not in ours}


def _same(a, b):
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - arrays and odd objects: not the default
        return False


def _run(spec, method, original, estimator, args, kwargs, recording):
    """(result, where) of the call on gpulearn."""
    gl_class = spec.gpulearn_class
    if method.startswith("fit"):
        twin = _fit_twin(gl_class, estimator)
        out = getattr(twin, method)(*args, **kwargs)
        twin._serve_as_sklearn()
        state = twin._sklearn_fitted_state()
        _set_fitted_state(estimator, state)
        _cache_twin(estimator, twin)
        result = estimator if out is twin else _wrap_output(original, method, out, args,
                                                                 estimator)
    else:
        twin = _twin(gl_class, estimator)
        out = getattr(twin, method)(*args, **kwargs)
        result = _wrap_output(original, method, out, args, estimator)
    return result, (_where(twin, args) if recording else None)


def _fit_twin(gl_class, estimator):
    """The gpulearn estimator that fits for the instance: a new one, or with ``warm_start``
    set on a fitted instance, a copy of gpulearn's view of its fitted state (the fit starts
    from there, as scikit-learn's does; a copy, so that a fit that fails leaves the instance
    as it was)."""
    params = _params(gl_class, estimator)
    if params.get("warm_start") and _convert.is_fitted(estimator):
        import copy
        return copy.deepcopy(gl_class._from_sklearn_fitted(estimator,
                                                           {**params, "device": _device}))
    return gl_class(**params, device=_device)


def _params(gl_class, estimator):
    return gl_class._shared_params(estimator)


def _snapshot(estimator):
    """The objects of the estimator's fitted state (everything but its hyper-parameters)."""
    # k[-1:] == "_" is k.endswith("_") at half the cost (this runs on every fit)
    return {k: v for k, v in estimator.__dict__.items() if k[-1:] == "_" or k[:1] == "_"}


def _cache_twin(estimator, twin):
    """Remember ``twin`` for the estimator's present fitted state: its objects, and the number
    of attributes the estimator has (one fitted attribute more or fewer changes it)."""
    with _twins_lock:
        _twins[estimator] = (twin, _snapshot(estimator), len(estimator.__dict__))


def _same_state(state, snapshot, size):
    """Whether ``state`` (an estimator's ``__dict__``) still holds the snapshot's fitted state.
    Cheaper than a new snapshot (~1 us against ~8, on every predict): the same number of
    attributes and each fitted one the same object means no fitted attribute was added, removed
    or replaced (short of deleting a hyper-parameter while adding one)."""
    if len(state) != size:
        return False
    for key, value in snapshot.items():
        if state.get(key, _MISSING) is not value:
            return False
    return True


def _twin(gl_class, estimator):
    """gpulearn's view of the estimator's fitted state: the cached one while the state is the
    same objects (hyper-parameters refreshed: set_params after fit changes predict), else made
    anew from it."""
    entry = _twins.get(estimator)
    if entry is not None:
        twin, snapshot, size = entry
        state = estimator.__dict__
        if _same_state(state, snapshot, size):
            for name in gl_class._shared_param_names():
                twin.__dict__[name] = state[name]
            return twin
    from sklearn.utils.validation import check_is_fitted
    check_is_fitted(estimator)
    params = _params(gl_class, estimator)
    twin = gl_class._from_sklearn_fitted(estimator, {**params, "device": _device})
    _cache_twin(estimator, twin)
    return twin


_MISSING = object()
# Private attributes that configure an estimator rather than hold its fit (set_output's,
# the metadata routing requests, set_callbacks' callbacks, and the context a meta-estimator
# such as GridSearchCV sets on it around its fit and deletes after): a fit keeps them.
_CONFIGURATION = {"_sklearn_output_config", "_metadata_request", "_skl_callbacks",
                  "_parent_callback_ctx"}


def _set_fitted_state(estimator, state):
    """The estimator's fitted attributes become ``state``: those of an earlier fit go first
    (scikit-learn's fit replaces them too)."""
    params = _param_names(type(estimator))
    attributes = estimator.__dict__
    for key in [k for k in attributes
                if (k[-1:] == "_" or k[:1] == "_") and k not in params
                and k[:2] != "__" and k not in _CONFIGURATION]:
        del attributes[key]
    attributes.update(state)


@functools.lru_cache(maxsize=None)
def _param_names(cls):
    """scikit-learn's ``cls._get_param_names()``, which reads ``__init__``'s signature anew on
    every call (~50 us, most of a small fit's overhead): a class's parameters do not change."""
    return frozenset(cls._get_param_names())


def _wrap_output(original, method, out, args, estimator):
    """``out`` as scikit-learn's set_output would give it (pandas, polars) for the methods it
    wraps; gpulearn's own estimator returned it unwrapped."""
    if not hasattr(original, "__wrapped__") or method not in ("transform", "fit_transform"):
        return out
    try:
        from sklearn.utils._set_output import _wrap_data_with_container
    except ImportError:  # pragma: no cover - scikit-learn moved it
        return out
    # set_output configures "transform", which scikit-learn applies to fit_transform too
    return _wrap_data_with_container("transform", out, args[0] if args else None, estimator)


def _where(twin, args):
    """'gpulearn cpu' or 'gpulearn cuda:N': where the twin computed for this input."""
    device = twin.device  # set_device's canonical string: only "auto" depends on the input
    if device == "cpu" or device.startswith("cuda:"):
        return f"gpulearn {device}"  # ~0.3 us against ~6 for the general case, per profiled call
    if device == "cuda":
        return "gpulearn cuda:0"
    from .. import _arrays, _devices
    data_device = _arrays.device_ordinal(args[0]) if args else None
    try:
        return f"gpulearn {_devices.resolve(twin.device, data_device)}"
    except Exception:  # noqa: BLE001
        return "gpulearn"


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
