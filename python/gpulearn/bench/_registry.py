"""The registry of benchmarked algorithms: what to build, on what data, judged how.

Each estimator family registers its algorithms once, in its own module under
``gpulearn.bench.cases`` (``register(Algorithm(...))``); the CLI discovers those modules and
never names an estimator itself. An :class:`Algorithm` says

- how to build the estimator on every backend (gpulearn's class, scikit-learn's, and import
  paths of peers such as scikit-learn-intelex or cuML),
- optionally a plain array-library baseline, written once against the NumPy API so it runs on
  CuPy on the GPU (and on NumPy in the tests), and a PyTorch one where that is what a user
  would reach for,
- the data it is timed on (a scikit-learn generator and its arguments) and the sizes per suite,
- the method timed after ``fit`` (predict, transform, kneighbors, ...) and the quality figure
  computed from its output, with the tolerance against scikit-learn's figure,
- the work it does (bytes moved, FLOPs), from which the roofline floor follows.
"""

import dataclasses
import importlib
import pkgutil
from typing import Any, Callable, Mapping, Sequence

import numpy as np

SUITES = ("quick", "standard", "full")
DTYPES = ("float32", "float64")


@dataclasses.dataclass(frozen=True)
class Size:
    """One problem size: training rows, features, dtype, and held-out rows (None: the default,
    a fifth of the training rows, at most 100,000)."""

    rows: int
    cols: int
    dtype: str = "float32"
    test_rows: int | None = None

    def __post_init__(self):
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"a size needs at least one row and one column, got {self}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")

    @property
    def n_test(self):
        if self.test_rows is not None:
            return self.test_rows
        return max(1, min(self.rows // 5, 100_000))


@dataclasses.dataclass(frozen=True)
class Data:
    """The generated data of one case, on the host: train and held-out parts (y may be None)."""

    X_train: np.ndarray
    y_train: np.ndarray | None
    X_test: np.ndarray
    y_test: np.ndarray | None


@dataclasses.dataclass(frozen=True)
class Quality:
    """A quality figure computed from the timed method's output on the held-out rows.

    ``score(model, data, output)`` returns a float; ``output`` is the method's result on
    ``data.X_test``, already copied to a NumPy array. A backend's figure is flagged when it is
    worse than scikit-learn's by more than ``tolerance`` (a fraction of scikit-learn's figure
    when ``relative``); ``higher_is_better`` says which side is worse. Better is never flagged.
    """

    name: str
    score: Callable[[Any, Data, np.ndarray], float]
    tolerance: float
    higher_is_better: bool = True
    relative: bool = False

    def within_tolerance(self, value, reference):
        """False when ``value`` is worse than ``reference`` by more than the tolerance, or not
        finite (None) where the reference is; None when there is no reference to judge by."""
        if reference is None:
            return None
        if value is None:
            return False
        allowed = self.tolerance * (abs(reference) if self.relative else 1.0)
        loss = reference - value if self.higher_is_better else value - reference
        return loss <= allowed


@dataclasses.dataclass(frozen=True)
class Cost:
    """The work of one phase: bytes that must cross memory at least once, FLOPs that must be
    done, and bytes that cross the host-device link when the data start on the host."""

    bytes: float
    flops: float
    transfer_bytes: float = 0.0


@dataclasses.dataclass(frozen=True)
class Algorithm:
    """One benchmarked estimator; see the module's docstring."""

    name: str  # the CLI's name: "ridge", "kmeans", ...
    estimator: str  # scikit-learn's class name: "Ridge"
    gpulearn: str  # import path of gpulearn's class: "gpulearn.linear_model.Ridge"
    sklearn: str  # import path of scikit-learn's class
    data: Callable[[Size, int], Data]  # (size, seed) -> Data, deterministic in the seed
    data_key: str  # algorithms with the same data_key share one generated dataset per size
    quality: Quality
    sizes: Mapping[str, Sequence[Size]]  # suite name -> sizes
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # beyond the defaults
    method: str = "predict"  # timed after fit, on the held-out rows
    peers: Mapping[str, str] = dataclasses.field(default_factory=dict)  # backend -> import path
    # baseline(xp, params) -> an object with fit(X, y) and <method>(X) on xp arrays
    baseline: Callable[[Any, Mapping[str, Any]], Any] | None = None
    # torch_baseline(params) -> the same on PyTorch CUDA tensors (made from CuPy or NumPy
    # inputs), for algorithms whose obvious GPU baseline is a PyTorch call (cdist + topk)
    torch_baseline: Callable[[Mapping[str, Any]], Any] | None = None
    # cost(phase, size, params, model) -> Cost, phase "fit" or the method's name, model the
    # fitted estimator (iterative fits read their iteration count from it)
    cost: Callable[[str, Size, Mapping[str, Any], Any], Cost] | None = None

    def __post_init__(self):
        missing = [s for s in SUITES if s not in self.sizes or not self.sizes[s]]
        if missing:
            raise ValueError(f"algorithm {self.name!r} gives no sizes for suite(s) {missing}")


def import_object(path):
    """``"package.module.Name"`` -> the object; ImportError (with the path) when unavailable."""
    module, _, attribute = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attribute)
    except AttributeError as exc:
        raise ImportError(f"{module} has no {attribute}") from exc


_ALGORITHMS: dict[str, Algorithm] = {}


def register(algorithm):
    """Adds ``algorithm`` to the registry (a name registered twice is an error)."""
    if algorithm.name in _ALGORITHMS and _ALGORITHMS[algorithm.name] is not algorithm:
        raise ValueError(f"algorithm {algorithm.name!r} is registered twice")
    _ALGORITHMS[algorithm.name] = algorithm
    return algorithm


def unregister(name):
    """Removes an algorithm (for tests that register their own)."""
    _ALGORITHMS.pop(name, None)


def algorithms():
    """Every registered algorithm by name, the case modules under gpulearn.bench.cases loaded."""
    from . import cases

    for module in pkgutil.iter_modules(cases.__path__):
        importlib.import_module(f"{cases.__name__}.{module.name}")
    return dict(_ALGORITHMS)
