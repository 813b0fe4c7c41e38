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
        cls = self._classes.get("sklearn")
        if cls is None:
            import importlib
            cls = self._classes["sklearn"] = getattr(importlib.import_module(self.package),
                                                     self.name)
        return cls

    @property
    def gpulearn_class(self):
        cls = self._classes.get("gpulearn")
        if cls is None:
            import importlib
            cls = self._classes["gpulearn"] = getattr(importlib.import_module(self.gpulearn),
                                                      self.name)
        return cls

    def unsupported(self, estimator, method, args, kwargs):
        """Why this call must run scikit-learn's code, or None."""
        for arg in (*args, *kwargs.values()):
            if sparse.issparse(arg):
                return "sparse input (gpulearn takes dense arrays)"
        if self.check is not None:
            return self.check(estimator, method)
        return None


def _named(param, values, what):
    """A check: the parameter ``param`` set to one of ``values`` names an algorithm gpulearn
    does not run; ``what`` says what gpulearn would run instead."""
    def check(estimator, method):
        value = getattr(estimator, param)
        if isinstance(value, str) and value in values:
            return f"{param}={value!r} (gpulearn {what})"
        return None
    return check


def _logistic(estimator, method):
    if estimator.solver != "lbfgs":
        return (f"solver={estimator.solver!r} (gpulearn runs L-BFGS, or OWL-QN for an L1 "
                "penalty, not this solver)")
    return None


_NEIGHBORS = _named("algorithm", {"kd_tree", "ball_tree"},
                    "searches by exact brute force, not with a tree")

_BINNED = "splits among at most 256 quantile bins per feature"

SPECS = (
    Spec("sklearn.linear_model", "LinearRegression", "gpulearn.linear_model", ("fit", "predict")),
    Spec("sklearn.linear_model", "Ridge", "gpulearn.linear_model", ("fit", "predict")),
    Spec("sklearn.linear_model", "Lasso", "gpulearn.linear_model", ("fit", "predict")),
    Spec("sklearn.linear_model", "ElasticNet", "gpulearn.linear_model", ("fit", "predict")),
    Spec("sklearn.linear_model", "LogisticRegression", "gpulearn.linear_model",
         ("fit", "predict", "predict_proba", "predict_log_proba", "decision_function"),
         check=_logistic),
    Spec("sklearn.cluster", "KMeans", "gpulearn.cluster",
         ("fit", "fit_predict", "fit_transform", "predict", "transform", "score"),
         check=_named("algorithm", {"elkan"}, "runs Lloyd's iterations, not Elkan's")),
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
         ("fit", "predict", "predict_proba", "predict_log_proba", "apply"),
         note=_BINNED),
    Spec("sklearn.ensemble", "RandomForestRegressor", "gpulearn.ensemble",
         ("fit", "predict", "apply"), note=_BINNED),
)

PACKAGES = tuple(sorted({spec.package for spec in SPECS}))
