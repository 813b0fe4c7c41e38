"""Which scikit-learn estimators the accelerator takes over, and when it must not.

One ``Spec`` per estimator: the scikit-learn class (by its public package and name), gpulearn's
class, the methods that run on gpulearn, and ``unsupported``: the reason a call must run
scikit-learn's own code, or None.

The rule the checks follow: **an algorithm the user names is run as named, or the call falls
back.** Where the user names none (the defaults, "auto"), gpulearn runs its own algorithm for
the same estimator, and the dispatch record says which (``Spec.note``). Whatever gpulearn
refuses (a solver it lacks, a callable metric, NaN where scikit-learn takes missing values)
falls back too, with gpulearn's message as the reason.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

_FIT = ("fit",)


@dataclass(frozen=True)
class Spec:
    """One accelerated estimator.

    package, name : where scikit-learn exports the class ("sklearn.cluster", "KMeans").
    gpulearn : where gpulearn's class is ("gpulearn.cluster").
    methods : the methods that run on gpulearn; the ones starting with "fit" fit.
    check : (estimator, method) -> reason or None: the parameters gpulearn would run as
        another algorithm than the one named.
    note : said beside "gpulearn" in the dispatch record: what gpulearn runs where the user
        named no algorithm.
    """

    package: str
    name: str
    gpulearn: str
    methods: tuple
    check: object = None
    note: str = ""
    _classes: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def sklearn_class(self):
        return self._class("sklearn", self.package)

    @property
    def gpulearn_class(self):
        return self._class("gpulearn", self.gpulearn)

    def _class(self, library, module):
        """The class ``name`` of ``module``, imported on first use."""
        cls = self._classes.get(library)
        if cls is None:
            import importlib
            cls = self._classes[library] = getattr(importlib.import_module(module), self.name)
        return cls

    @property
    def takes_sparse(self):
        """Whether gpulearn's class takes scipy.sparse X (its input tags say so)."""
        takes = self._classes.get("sparse")
        if takes is None:
            takes = self._classes["sparse"] = bool(
                self.gpulearn_class().__sklearn_tags__().input_tags.sparse)
        return takes

    def unsupported(self, estimator, method, args, kwargs):
        """Why this call must run scikit-learn's code, or None."""
        if not self.takes_sparse:
            for arg in (*args, *kwargs.values()):
                if sparse.issparse(arg):
                    return f"sparse input (gpulearn's {self.name} takes dense arrays)"
        if self.check is not None:
            return self.check(estimator, method, args)
        return None


def _fitting(method):
    return method.startswith("fit")


def _named(param, values, what, fit_only=True):
    """A check: the parameter ``param`` set to one of ``values`` names an algorithm gpulearn
    does not run; ``what`` says what gpulearn would run instead. ``fit_only``: the algorithm
    only decides how the model is fitted (predictions from a fitted model run on gpulearn);
    otherwise it decides every query too (the neighbours' search)."""
    def check(estimator, method, args):
        if fit_only and not _fitting(method):
            return None
        value = getattr(estimator, param)
        if isinstance(value, str) and value in values:
            return f"{param}={value!r} (gpulearn {what})"
        return None
    return check


def _all(*checks):
    def check(estimator, method, args):
        for one in checks:
            reason = one(estimator, method, args)
            if reason is not None:
                return reason
        return None
    return check


def _quiet(estimator, method, args):
    """verbose > 0 asks for scikit-learn's progress messages, which gpulearn does not print."""
    if _fitting(method) and getattr(estimator, "verbose", 0):
        return f"verbose={estimator.verbose!r} (gpulearn prints no progress messages)"
    return None


def _logistic(estimator, method, args):
    if _fitting(method) and estimator.solver != "lbfgs":
        return (f"solver={estimator.solver!r} (gpulearn runs L-BFGS, or OWL-QN for an L1 "
                "penalty, not this solver)")
    return None


def _ridge(estimator, method, args):
    """Named "cholesky" on X with no more rows than columns: scikit-learn solves the dual
    (kernel) system by Cholesky there, gpulearn an SVD of X."""
    if _fitting(method) and estimator.solver == "cholesky" and args:
        shape = getattr(args[0], "shape", None)
        if shape is None:
            shape = np.shape(args[0])
        if len(shape) == 2 and shape[0] <= shape[1]:
            return ("solver='cholesky' with n_samples <= n_features (scikit-learn solves the "
                    "dual system by Cholesky, gpulearn runs an SVD of X)")
    return None


def _coordinate_descent(estimator, method, args):
    if _fitting(method) and not isinstance(estimator.precompute, (bool, str)):
        return ("precompute=<a Gram matrix> (scikit-learn checks and uses it; gpulearn "
                "computes its own)")
    return None


_NEIGHBORS = _named("algorithm", {"kd_tree", "ball_tree"},
                    "searches by exact brute force, not with a tree", fit_only=False)

_BINNED = "splits among at most 256 quantile bins per feature"

SPECS = (
    Spec("sklearn.linear_model", "LinearRegression", "gpulearn.linear_model", ("fit", "predict")),
    Spec("sklearn.linear_model", "Ridge", "gpulearn.linear_model", ("fit", "predict"),
         check=_ridge),
    Spec("sklearn.linear_model", "Lasso", "gpulearn.linear_model", ("fit", "predict"),
         check=_coordinate_descent),
    Spec("sklearn.linear_model", "ElasticNet", "gpulearn.linear_model", ("fit", "predict"),
         check=_coordinate_descent),
    Spec("sklearn.linear_model", "LogisticRegression", "gpulearn.linear_model",
         ("fit", "predict", "predict_proba", "predict_log_proba", "decision_function"),
         check=_all(_logistic, _quiet)),
    Spec("sklearn.cluster", "KMeans", "gpulearn.cluster",
         ("fit", "fit_predict", "fit_transform", "predict", "transform", "score"),
         check=_all(_named("algorithm", {"elkan"}, "runs Lloyd's iterations, not Elkan's"),
                    _quiet)),
    Spec("sklearn.decomposition", "PCA", "gpulearn.decomposition",
         ("fit", "fit_transform", "transform", "inverse_transform", "score", "score_samples"),
         check=_named("svd_solver", {"arpack"}, "runs an exact SVD, not ARPACK's Lanczos")),
    Spec("sklearn.decomposition", "TruncatedSVD", "gpulearn.decomposition",
         ("fit", "fit_transform", "transform", "inverse_transform"),
         check=_named("algorithm", {"arpack"}, "runs an exact SVD, not ARPACK's Lanczos")),
    Spec("sklearn.neighbors", "NearestNeighbors", "gpulearn.neighbors", ("fit", "kneighbors"),
         check=_NEIGHBORS, note="exact brute force"),
    Spec("sklearn.neighbors", "KNeighborsClassifier", "gpulearn.neighbors",
         ("fit", "predict", "predict_proba", "kneighbors"), check=_NEIGHBORS,
         note="exact brute force"),
    Spec("sklearn.neighbors", "KNeighborsRegressor", "gpulearn.neighbors",
         ("fit", "predict", "kneighbors"), check=_NEIGHBORS, note="exact brute force"),
    Spec("sklearn.ensemble", "RandomForestClassifier", "gpulearn.ensemble",
         ("fit", "predict", "predict_proba", "predict_log_proba", "apply"), check=_quiet,
         note=_BINNED),
    Spec("sklearn.ensemble", "RandomForestRegressor", "gpulearn.ensemble",
         ("fit", "predict", "apply"), check=_quiet, note=_BINNED),
)

PACKAGES = tuple(sorted({spec.package for spec in SPECS}))
