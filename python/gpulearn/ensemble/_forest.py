"""Random forests on the CPU or a GPU: RandomForestClassifier and RandomForestRegressor.

The trees are grown by the compiled core (include/gpulearn/ensemble/random_forest.hpp) on
features binned once per fit into at most ``n_bins`` quantile bins; this module resolves
scikit-learn's hyper-parameters into counts, folds class weights into sample weights, and keeps
the fitted forest as NumPy arrays (so it pickles and predicts anywhere).
"""

import warnings
from math import ceil
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_array, check_is_fitted

from .. import _arrays, _core
from .._base import DeviceEstimatorMixin, host_score
from .._config import check_device_string
from ._forest_convert import (float32_split_thresholds, forest_feature_importances,
                              forest_from_sklearn, sklearn_trees)
from ._tree import ForestTreeClassifier, ForestTreeRegressor

_MAX_INT = np.iinfo(np.int32).max
# The fitted forest's record as the core returns it (RandomForest's fields); predict hands the
# node arrays back by these names.
_NODE_ARRAYS = ("tree_offsets", "children_left", "children_right", "feature", "threshold",
                "value")
_FOREST_ARRAYS = _NODE_ARRAYS + ("impurity", "n_node_samples", "weighted_n_node_samples",
                                 "max_depth")
_OOB_ATTRIBUTES = ("oob_score_", "oob_decision_function_", "oob_prediction_")

_PARAMETER_CONSTRAINTS = {
    "n_estimators": [Interval(Integral, 1, None, closed="left")],
    "max_depth": [Interval(Integral, 1, None, closed="left"), None],
    "min_samples_split": [Interval(Integral, 2, None, closed="left"),
                          Interval(RealNotInt, 0.0, 1.0, closed="right")],
    "min_samples_leaf": [Interval(Integral, 1, None, closed="left"),
                         Interval(RealNotInt, 0.0, 1.0, closed="neither")],
    "min_weight_fraction_leaf": [Interval(Real, 0.0, 0.5, closed="both")],
    "max_features": [Interval(Integral, 1, None, closed="left"),
                     Interval(RealNotInt, 0.0, 1.0, closed="right"),
                     StrOptions({"sqrt", "log2"}), None],
    "max_leaf_nodes": [Interval(Integral, 2, None, closed="left"), None],
    "min_impurity_decrease": [Interval(Real, 0.0, None, closed="left")],
    "bootstrap": ["boolean"],
    "oob_score": ["boolean", callable],
    "n_jobs": [Integral, None],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "ccp_alpha": [Interval(Real, 0.0, None, closed="left")],
    "max_samples": [None, Interval(RealNotInt, 0.0, None, closed="neither"),
                    Interval(Integral, 1, None, closed="left")],
    "monotonic_cst": ["array-like", None],
    "n_bins": [Interval(Integral, 2, 256, closed="both")],
    "device": [str],
}

_UNSUPPORTED_CRITERIA = ("absolute_error", "poisson")


def _n_samples_bootstrap(n_samples, max_samples):
    """Rows drawn per tree: scikit-learn's rule (_get_n_samples_bootstrap) for unweighted data,
    with its warning; a float is a fraction of the rows also under sample weights."""
    if max_samples is None:
        return n_samples
    if isinstance(max_samples, Integral):
        return int(max_samples)
    n_boot = max(int(max_samples * n_samples), 1)
    if n_boot < max(10, n_samples ** (1 / 3)):
        warnings.warn(
            f"Using the fractional value max_samples={max_samples!r} when the number of "
            f"samples is {n_samples} results in a low number ({n_boot}) of bootstrap "
            "samples. We recommend passing `max_samples` as an integer instead.",
            stacklevel=4)  # the caller of fit
    return n_boot


def _balanced_class_weight(classes, y, sample_weight):
    """compute_class_weight("balanced"), weighted by sample_weight where scikit-learn can."""
    if sample_weight is None:
        return compute_class_weight("balanced", classes=classes, y=y)
    try:
        return compute_class_weight("balanced", classes=classes, y=y,
                                    sample_weight=sample_weight)
    except TypeError:  # older scikit-learn balances by counts only
        return compute_class_weight("balanced", classes=classes, y=y)


def _sklearn_keeps_sample_weight():
    """Whether scikit-learn's forests keep ``_sample_weight`` (1.9 and later: their
    ``estimators_samples_`` draws by it)."""
    from sklearn.ensemble._forest import BaseForest
    return "_sample_weight" in BaseForest._get_estimators_indices.__code__.co_names


class _BaseForest(DeviceEstimatorMixin):
    """What both forests share: resolving the parameters, fitting, traversing."""

    _is_classifier = False

    # ---- fitting -------------------------------------------------------------------------

    def _check_supported(self):
        name = type(self).__name__
        if self.warm_start:
            raise NotImplementedError(
                f"warm_start=True is not supported by gpulearn's {name}: fit a new forest with "
                "the total n_estimators instead (it takes the same time on the device).")
        if self.ccp_alpha != 0:
            raise NotImplementedError(
                f"ccp_alpha={self.ccp_alpha!r}: gpulearn's {name} does not prune trees "
                "(minimal cost-complexity pruning); use ccp_alpha=0.0, or limit the trees "
                "with max_depth, min_samples_leaf or max_leaf_nodes.")
        if self.monotonic_cst is not None:
            raise NotImplementedError(
                f"monotonic_cst is not supported by gpulearn's {name}; leave it None.")
        if self.criterion in _UNSUPPORTED_CRITERIA:
            raise NotImplementedError(
                f"criterion={self.criterion!r} is not supported by gpulearn's {name}; use "
                "'squared_error' (or 'friedman_mse').")

    def _resolved_counts(self, n_samples):
        """min_samples_split and min_samples_leaf as counts (scikit-learn's rule for fractions).
        The core applies the rest of scikit-learn's rules: it resolves max_features (its
        MaxFeatures takes every form), and splits at least 2 * min_samples_leaf rows."""
        if isinstance(self.min_samples_leaf, Integral):
            min_samples_leaf = int(self.min_samples_leaf)
        else:
            min_samples_leaf = int(ceil(self.min_samples_leaf * n_samples))
        if isinstance(self.min_samples_split, Integral):
            min_samples_split = int(self.min_samples_split)
        else:
            min_samples_split = max(2, int(ceil(self.min_samples_split * n_samples)))
        return min_samples_split, min_samples_leaf

    def _validated_fit_data(self, X, y):
        """(ctx, X keep-alive, X ArrayRef, y host NumPy) after scikit-learn's checks."""
        if sparse.issparse(X):
            raise TypeError(
                f"gpulearn's {type(self).__name__} takes dense data; sparse input is not "
                "supported. Convert it with X.toarray(), or use scikit-learn's estimator.")
        if sparse.issparse(y):
            raise ValueError("sparse multilabel-indicator for y is not supported.")
        # NaN and infinity in X are refused by the core's pass over X (gpulearn's trees take no
        # missing values), on the host as on the device.
        p = self._prepare(X, _arrays.to_host(y), reset=True, multi_output=True,
                          y_numeric=not self._is_classifier)
        y = p.y
        if p.on_device:
            if y is None:
                raise ValueError(f"{type(self).__name__} requires y to be passed, but the "
                                 "target y is None.")
            y = check_array(y, ensure_2d=False, dtype=None if self._is_classifier else "numeric",
                            input_name="y")
            if y.shape[0] != p.n_samples:
                raise ValueError(
                    "Found input variables with inconsistent numbers of samples: "
                    f"[{p.n_samples}, {y.shape[0]}]")
        y = np.atleast_1d(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please change the "
                "shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning, stacklevel=4)  # the caller of fit
        if y.ndim == 1:
            y = np.reshape(y, (-1, 1))
        return p, y

    def _fit_forest(self, X, y, sample_weight):
        self._validate_params()
        check_device_string(self.device)
        self._check_supported()
        p, y = self._validated_fit_data(X, y)
        ctx, X_ref = p.ctx, p.ref
        n_samples = X_ref.rows
        dtype = np.dtype(X_ref.dtype)
        self.n_outputs_ = y.shape[1]

        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                _arrays.to_host(sample_weight), np.empty((n_samples, 0)), dtype=np.float64,
                ensure_non_negative=True)
        labels, Y, n_classes, expanded, balanced_subsample = self._targets(y, sample_weight)
        if sample_weight is None:
            weight = expanded
        elif expanded is None:
            weight = sample_weight
        else:
            weight = sample_weight * expanded

        if not self.bootstrap and self.max_samples is not None:
            raise ValueError(
                "`max_sample` cannot be set if `bootstrap=False`. Either switch to "
                "`bootstrap=True` or set `max_sample=None`.")
        n_boot = _n_samples_bootstrap(n_samples, self.max_samples) if self.bootstrap else -1
        if not self.bootstrap and self.oob_score:
            raise ValueError("Out of bag estimation only available if bootstrap=True")

        seed = int(check_random_state(self.random_state).randint(_MAX_INT))
        # scikit-learn's record of the weights (>= 1.9): sample times class weights, float64.
        self._sample_weight = weight
        if weight is not None:
            weight = _arrays.readable(np.ascontiguousarray(weight, dtype=dtype))
        w_ref = None if weight is None else _arrays.host_ref(weight)
        params = self._core_params(n_samples, n_boot, seed, balanced_subsample)
        result = _core.random_forest_fit(ctx, params, X_ref, labels, n_classes, Y, w_ref)
        del p

        self._set_fitted_forest(result, n_samples, n_boot)
        if self.oob_score:
            count = result["oob_count"]
            if (count == 0).any():
                warnings.warn(
                    "Some inputs do not have OOB scores. This probably means too few trees "
                    "were used to compute any reliable OOB estimates.", UserWarning,
                    stacklevel=3)
            scoring = self.oob_score if callable(self.oob_score) else None
            self._set_oob_attributes(result["oob_value"], y, labels, scoring)
        return self

    def _core_params(self, n_samples, n_boot, seed, balanced_subsample):
        """The core's RandomForestParams of a fit on n_samples rows (n_boot drawn per tree,
        -1 without bootstrap), shared by the single-machine and the Dask fit."""
        min_samples_split, min_samples_leaf = self._resolved_counts(n_samples)
        # max_features goes through as the user gave it (after _validate_params' type checks):
        # the core resolves it by scikit-learn's rule.
        max_features = self.max_features
        if isinstance(max_features, Integral):
            max_features = int(max_features)
        elif isinstance(max_features, Real):
            max_features = float(max_features)
        return _core.RandomForestParams(
            n_estimators=int(self.n_estimators), criterion=str(self.criterion),
            max_depth=self.max_depth, min_samples_split=min_samples_split,
            min_samples_leaf=min_samples_leaf,
            min_weight_fraction_leaf=float(self.min_weight_fraction_leaf),
            max_features=max_features, max_leaf_nodes=self.max_leaf_nodes,
            min_impurity_decrease=float(self.min_impurity_decrease),
            bootstrap=bool(self.bootstrap), max_samples=int(n_boot) if self.bootstrap else None,
            balanced_subsample=balanced_subsample, oob=bool(self.oob_score), seed=seed,
            n_bins=int(self.n_bins))

    def _set_fitted_forest(self, result, n_samples, n_boot):
        """The fitted state from the core's forest record (out-of-bag attributes cleared)."""
        self._forest = {key: result[key] for key in _FOREST_ARRAYS}
        self._max_features = int(result["max_features"])
        self._n_samples = int(n_samples)  # scikit-learn's private record of the fit
        self._n_samples_bootstrap = int(n_boot) if self.bootstrap else None
        self._sklearn_thresholds = False  # X compared as is (see _core_forest_arrays)
        self.__dict__.pop("_split_threshold", None)
        self._estimators_cache = None
        self._core_forest_cache = self._core_forest_arrays()
        self.feature_importances_ = result["feature_importances"]
        for attr in _OOB_ATTRIBUTES:
            self.__dict__.pop(attr, None)

    # ---- prediction ----------------------------------------------------------------------

    def _traverse(self, X, trees, what):
        """(host result, input kind, device input or None): the core's predict (mean over
        the trees) or apply, over all trees or the slice ``trees`` of them."""
        check_is_fitted(self, "_forest")
        if sparse.issparse(X):
            raise TypeError(f"gpulearn's {type(self).__name__} takes dense data; sparse "
                            "input is not supported.")
        device_input = X if _arrays.device_ordinal(X) is not None else None
        p = self._prepare(X, reset=False)
        ctx, kind, X_ref = p.ctx, p.kind, p.ref
        fn = _core.random_forest_predict if what == "predict" else _core.random_forest_apply
        out = fn(ctx, self._core_forest(trees), X_ref)
        return out, kind, device_input

    def _core_forest(self, trees=None):
        """The core's forest over all trees (made by fit and kept: it packs its node records
        on the first predict and reuses them) or over the slice ``trees`` of them."""
        return self._core_forest_cache if trees is None else self._core_forest_arrays(trees)

    def _core_forest_arrays(self, trees=None):
        forest = self._forest
        offsets = forest["tree_offsets"]
        if trees is not None:
            offsets = offsets[trees.start:trees.stop + 1]
        model = {key: forest[key] for key in _NODE_ARRAYS[1:]}
        model["tree_offsets"] = offsets
        if getattr(self, "_sklearn_thresholds", False):
            # A forest adopted from scikit-learn, whose trees compare float32(x) with the
            # threshold: thresholds that route float64 x so (see _forest_convert).
            if self.__dict__.get("_split_threshold") is None:
                internal = np.flatnonzero(forest["children_left"] != -1)
                threshold = forest["threshold"].copy()
                threshold[internal] = float32_split_thresholds(threshold[internal])
                self._split_threshold = threshold
            model["threshold"] = self._split_threshold
        return _core.random_forest_prepare(model, int(self.n_features_in_))

    def _predict_mean(self, X, trees=None):
        """Leaf values averaged over the trees, (n_samples, width) float64 NumPy."""
        return self._traverse(X, trees, "predict")[0]

    def _apply(self, X, trees=None):
        return self._traverse(X, trees, "apply")[0]

    def _to_output(self, out, kind, device_input):
        """A host result as the configured output (on the input's own GPU for GPU input)."""
        if device_input is not None and kind != "numpy":
            out = _arrays.to_device_like(device_input, out)
        return self._output(out, kind)

    def apply(self, X):
        """Apply the trees of the forest to X: the index of the leaf each sample reaches.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NumPy, pandas, CuPy, PyTorch or any DLPack array; float32 stays float32.

        Returns
        -------
        X_leaves : ndarray of shape (n_samples, n_estimators), int64
            For each sample and tree, the index of the leaf (within its tree) it ends up in.
        """
        return self._to_output(*self._traverse(X, None, "apply"))

    # ---- the trees -----------------------------------------------------------------------

    @property
    def estimators_(self):
        """The fitted trees: light read-only views of the forest's arrays, each with a
        scikit-learn-style ``tree_`` and predict / apply (see :mod:`gpulearn.ensemble`)."""
        if "_forest" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute "
                                 "'estimators_' (it is set by fit)")
        if getattr(self, "_estimators_cache", None) is None:
            cls = ForestTreeClassifier if self._is_classifier else ForestTreeRegressor
            n_trees = len(self._forest["tree_offsets"]) - 1
            self._estimators_cache = [cls(self, t) for t in range(n_trees)]
        return self._estimators_cache

    def __len__(self):
        """The number of trees of the fitted forest."""
        return len(self.estimators_)

    def __getitem__(self, index):
        """The index'th tree (a view; see ``estimators_``)."""
        return self.estimators_[index]

    def __iter__(self):
        """Iterate over the trees."""
        return iter(self.estimators_)

    def __getstate__(self):
        state = super().__getstate__()  # a copy
        state.pop("_estimators_cache", None)  # rebuilt on demand from _forest
        state.pop("_core_forest_cache", None)  # likewise (and not picklable)
        state.pop("_split_threshold", None)  # likewise
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_forest" in self.__dict__:
            self._core_forest_cache = self._core_forest_arrays()

    # ---- conversion (from_sklearn, as_sklearn, gpulearn.accel) ----------------------------

    def _adopt_sklearn_state(self, state):
        """The fitted forest of a scikit-learn forest's ``__dict__``: its trees' node arrays
        concatenated (one copy, O(nodes), one step per tree), predicting scikit-learn's
        predictions: X is routed as scikit-learn routes float32(X) (see _forest_convert)."""
        name = type(self).__name__
        n_outputs = int(state["n_outputs_"])
        if self._is_classifier and n_outputs != 1:
            raise NotImplementedError(
                f"Multi-output classification (n_outputs_={n_outputs}) is not supported by "
                f"gpulearn's {name}: keep scikit-learn's forest, or convert one forest per "
                "output.")
        if self.monotonic_cst is not None:
            raise NotImplementedError(
                f"monotonic_cst is not supported by gpulearn's {name}: this scikit-learn "
                "forest was fitted with monotonicity constraints.")
        n_classes = int(state["n_classes_"]) if self._is_classifier else 0
        forest = forest_from_sklearn(state["estimators_"], n_classes, n_outputs, name)
        self.n_features_in_ = int(state["n_features_in_"])
        if "feature_names_in_" in state:
            self.feature_names_in_ = state["feature_names_in_"]
        self.n_outputs_ = n_outputs
        if self._is_classifier:
            self.classes_ = state["classes_"]
            self.n_classes_ = n_classes
        self._forest = forest
        self._max_features = int(state["estimators_"][0].max_features_)
        self._n_samples = state.get("_n_samples")
        self._n_samples_bootstrap = state.get("_n_samples_bootstrap")
        self._sample_weight = state.get("_sample_weight")
        self.feature_importances_ = forest_feature_importances(forest, self.n_features_in_)
        for attr in _OOB_ATTRIBUTES:
            self.__dict__.pop(attr, None)
            if attr in state:
                setattr(self, attr, state[attr])
        self._set_sklearn_routing(True)

    def _serve_as_sklearn(self):
        self._set_sklearn_routing(True)

    def _set_sklearn_routing(self, enabled):
        """Walk float64 X as scikit-learn does (``float32(x) <= threshold``; see
        _forest_convert), or, ``enabled`` False, as gpulearn's own forests do (x itself). A
        converted forest routes as scikit-learn; gpulearn.accel may switch a forest it fitted,
        so that its predictions are those of the scikit-learn estimator it fitted for
        (``_sklearn_fitted_state``), whether or not it keeps this forest."""
        self._sklearn_thresholds = bool(enabled)
        self._split_threshold = None
        self._estimators_cache = None
        self._core_forest_cache = self._core_forest_arrays()

    def _sklearn_fitted_state(self):
        """scikit-learn's fitted attributes of this forest: ``estimators_`` as real
        DecisionTree* estimators (copies of the node arrays), the forest's private records, the
        out-of-bag results. The trees' ``random_state`` seeds are drawn as scikit-learn draws
        them, but do not reproduce gpulearn's bootstrap draws (``estimators_samples_``)."""
        sk_forest = self._sklearn_class()()
        tree_class = type(sk_forest.estimator)
        tree_params = {p: getattr(self, p) for p in sk_forest.estimator_params
                       if p != "random_state"}
        forest = self._forest
        n_trees = forest["tree_offsets"].shape[0] - 1
        seed = self.random_state if isinstance(self.random_state, Integral) else 0
        seeds = np.random.RandomState(seed).randint(_MAX_INT, size=n_trees)
        n_classes = self.n_classes_ if self._is_classifier else 0
        state = {
            "estimator_": tree_class(),
            "estimators_": sklearn_trees(forest, tree_class, tree_params, seeds,
                                         self.n_features_in_, self.n_outputs_, n_classes,
                                         self._max_features),
            "n_features_in_": self.n_features_in_,
            "n_outputs_": self.n_outputs_,
            "_n_samples": self._fitted_n_samples(),
            "_n_samples_bootstrap": self.__dict__.get("_n_samples_bootstrap"),
        }
        if _sklearn_keeps_sample_weight():
            state["_sample_weight"] = self.__dict__.get("_sample_weight")
        if "feature_names_in_" in self.__dict__:
            state["feature_names_in_"] = self.feature_names_in_
        if self._is_classifier:
            state["classes_"] = self.classes_
            state["n_classes_"] = int(self.n_classes_)
        for attr in _OOB_ATTRIBUTES:
            if attr in self.__dict__:
                state[attr] = self.__dict__[attr]
        return state

    def _fitted_n_samples(self):
        """The training rows (recorded by fit; for a forest pickled before it was, the rows of
        the out-of-bag results, else the largest root count)."""
        n = self.__dict__.get("_n_samples")
        if n is not None:
            return int(n)
        for attr in ("oob_decision_function_", "oob_prediction_"):
            if attr in self.__dict__:
                return int(self.__dict__[attr].shape[0])
        roots = self._forest["n_node_samples"][self._forest["tree_offsets"][:-1]]
        return int(roots.max())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags


_PARAMS_DOC = """
    n_estimators : int, default=100
        The number of trees in the forest.
{criterion}
    max_depth : int, default=None
        The maximum depth of the tree. If None, then nodes are expanded until all leaves are
        pure or until all leaves contain less than min_samples_split samples.
    min_samples_split : int or float, default=2
        The minimum number of samples required to split an internal node: an int is a count,
        a float a fraction (``ceil(min_samples_split * n_samples)``). As in scikit-learn, at
        least ``2 * min_samples_leaf`` is used.
    min_samples_leaf : int or float, default=1
        The minimum number of (distinct, in-bag) training samples required in each child of
        a split: an int is a count, a float a fraction (``ceil(min_samples_leaf * n_samples)``).
    min_weight_fraction_leaf : float, default=0.0
        The minimum weighted fraction of the tree's total weight (bootstrap counts times
        sample weights) required at a leaf.
{max_features}
    max_leaf_nodes : int, default=None
        Grow trees with at most ``max_leaf_nodes`` leaves, best first (largest impurity
        decrease first). If None then unlimited number of leaf nodes.
    min_impurity_decrease : float, default=0.0
        A node will be split if this split induces a decrease of the weighted impurity
        ``N_t / N * (impurity - N_t_R / N_t * right_impurity - N_t_L / N_t * left_impurity)``
        greater than or equal to this value (``N`` weighted sums, as in scikit-learn).
    bootstrap : bool, default=True
        Whether bootstrap samples are used when building trees. If False, the whole dataset
        is used to build each tree.
    oob_score : bool or callable, default=False
        Whether to use out-of-bag samples to estimate the generalization score; by default
        with :func:`~sklearn.metrics.{metric}`, or a callable ``metric(y_true, y_pred)``. Only
        available if ``bootstrap=True``. The out-of-bag predictions are computed by the core
        during fit.
    n_jobs : int, default=None
        Accepted for compatibility; no effect: the compiled core uses every CPU thread (or
        the GPU).
    random_state : int, RandomState instance or None, default=None
        Controls the bootstrap draws, the features drawn at each node and tie-breaking. A
        fixed value gives the same forest on every run and on the CPU and CUDA backends
        (entropy excepted at exact ties), but not scikit-learn's forest: gpulearn draws from
        its own counter-based generator.
    verbose : int, default=0
        Accepted for compatibility; no effect.
    warm_start : bool, default=False
        Not supported: ``True`` raises NotImplementedError (fit a forest with the total
        ``n_estimators`` instead).
{class_weight}    ccp_alpha : non-negative float, default=0.0
        Minimal cost-complexity pruning is not implemented: any value but 0.0 raises
        NotImplementedError.
    max_samples : int or float, default=None
        If bootstrap is True, the number of samples to draw (with replacement) from X to
        train each tree: None draws ``n_samples``, an int that many, a float
        ``max(1, int(max_samples * n_samples))`` (a fraction of the rows also under sample
        weights, see Notes).
    monotonic_cst : array-like of int of shape (n_features,), default=None
        Monotonicity constraints are not supported: anything but None raises
        NotImplementedError.
    n_bins : int, default=256
        Splits are chosen among at most ``n_bins`` quantile bin edges per feature (2 to 256).
        Each feature is binned once per fit (edges from a sample of at most 200000 rows);
        with at least as many bins as a feature has distinct values, its candidate splits are
        scikit-learn's exact ones. Thresholds lie midway between the training values on
        either side of the chosen edge, as in scikit-learn.
    device : {{"auto", "cpu", "cuda", "cuda:N"}}, default="auto"
        Where to compute: "auto" is the GPU holding the data, else ``gpulearn.get_config()``'s
        device, else the first CUDA device where gpulearn's CUDA backend is available, else
        the CPU.
"""

_NOTES_DOC = """
    Differences from scikit-learn:

    - Histogram splits: each feature is binned into at most ``n_bins`` quantile bins and
      splits are chosen among the bin edges (exactly scikit-learn's candidates when a feature
      has at most ``n_bins`` distinct values).
    - Missing values are not supported: NaN or infinity in X raises ValueError (scikit-learn's
      forests route NaN to a learned side).
    - Sample weights multiply each row's bootstrap count (scikit-learn < 1.9's semantics);
      scikit-learn 1.9 instead draws the bootstrap rows with probability proportional to the
      weights. A float ``max_samples`` is a fraction of the number of rows.
    - Sparse X, ``warm_start=True``, ``ccp_alpha > 0`` and ``monotonic_cst`` are not supported.
    - ``estimators_`` holds light views of the fitted trees, not DecisionTree estimators:
      each has ``tree_`` (scikit-learn's node arrays), predict, apply and
      ``feature_importances_``, but no ``get_params``/``fit``. ``decision_path``,
      ``estimators_samples_`` and ``estimator_`` are not provided.
    - Forests are reproducible for a fixed ``random_state`` but not bit-identical to
      scikit-learn's (different random streams and binning).

    Conversion (``from_sklearn`` / ``as_sklearn``):

    - ``from_sklearn(fitted)`` takes scikit-learn's trees as they are (any depth, best-first
      numbering from ``max_leaf_nodes``, class weights, with or without bootstrap, and for the
      regressor several outputs) and predicts exactly scikit-learn's predict, predict_proba,
      predict_log_proba and apply on every device. scikit-learn compares ``float32(x)`` with
      each float64 threshold, also for float64 X; a converted forest keeps that rule (it walks
      float64 X against thresholds moved so that ``x <= t'`` exactly when
      ``float32(x) <= t``; ``estimators_[i].tree_.threshold`` shows scikit-learn's own), while
      a forest fitted by gpulearn compares float64 X in float64. Refused (NotImplementedError):
      multi-output classification, ``monotonic_cst``, and trees that split on missing values.
      NaN in X raises ValueError where scikit-learn would route it.
    - ``as_sklearn()`` gives a plain scikit-learn forest of DecisionTree estimators holding
      scikit-learn ``Tree`` objects (copies of the node arrays), which predicts what this
      forest predicts on float32 X and on float64 X exactly representable in float32
      (scikit-learn rounds other float64 values to float32 before comparing, so a row within a
      float32 rounding of a threshold may take the other branch). The trees' ``random_state``
      does not reproduce gpulearn's bootstrap draws, so ``estimators_samples_`` is not this
      forest's.
"""


class RandomForestClassifier(ClassifierMixin, _BaseForest, BaseEstimator):
    __doc__ = """A random forest classifier on the CPU or a GPU.

    A drop-in replacement for :class:`sklearn.ensemble.RandomForestClassifier` for dense data:
    ``n_estimators`` CART trees, each grown on a bootstrap sample with ``max_features``
    features drawn at each node, the predicted class probabilities being the mean of the
    trees' leaf class fractions. The trees are grown by gpulearn's compiled core on features
    binned into at most ``n_bins`` quantile bins (see Notes).

    Parameters
    ----------""" + _PARAMS_DOC.format(
        criterion="""    criterion : {"gini", "entropy", "log_loss"}, default="gini"
        The function to measure the quality of a split: "gini" for the Gini impurity,
        "log_loss" and "entropy" both for the Shannon information gain.""",
        max_features="""    max_features : {"sqrt", "log2", None}, int or float, default="sqrt"
        The number of features to consider when looking for the best split: an int is a
        count, a float a fraction (``max(1, int(max_features * n_features_in_))``), "sqrt"
        ``max(1, int(sqrt(n_features)))``, "log2" ``max(1, int(log2(n_features)))``, None
        ``n_features``. As in scikit-learn, more features are drawn while all those drawn
        are constant in the node.""",
        metric="accuracy_score",
        class_weight="""    class_weight : {"balanced", "balanced_subsample"}, dict or list of dicts, \
default=None
        Weights associated with classes in the form ``{class_label: weight}``, multiplied
        with ``sample_weight``. "balanced" uses ``n_samples / (n_classes * np.bincount(y))``
        (weighted by ``sample_weight`` where scikit-learn >= 1.8 does); "balanced_subsample"
        computes these weights on each tree's bootstrap sample (as "balanced" when
        ``bootstrap=False``).
""") + """
    Attributes
    ----------
    estimators_ : list of ForestTreeClassifier
        The fitted trees (read-only views; see Notes).
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_classes_ : int
        The number of classes.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    n_outputs_ : int
        The number of outputs (1: multi-output classification is not supported).
    feature_importances_ : ndarray of shape (n_features,)
        The impurity-based feature importances (mean over the trees of each tree's
        normalised importances, normalised to sum to 1; all 0 when every tree is a single
        leaf).
    oob_score_ : float
        Score of the training dataset obtained using an out-of-bag estimate (with
        ``oob_score``).
    oob_decision_function_ : ndarray of shape (n_samples, n_classes)
        The out-of-bag class probabilities on the training set (with ``oob_score``); 0 for a
        sample that was never out of bag, with scikit-learn's warning.

    See Also
    --------
    sklearn.ensemble.RandomForestClassifier : the CPU reference this class follows.
    RandomForestRegressor : the regression forest.

    Notes
    -----""" + _NOTES_DOC + """    - Multi-output classification (2-D y) is not supported.

    Examples
    --------
    >>> from gpulearn.ensemble import RandomForestClassifier
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=1000, n_features=4, n_informative=2,
    ...                            n_redundant=0, random_state=0, shuffle=False)
    >>> clf = RandomForestClassifier(max_depth=2, random_state=0, device="cpu").fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _is_classifier = True
    _sklearn_estimator = "sklearn.ensemble.RandomForestClassifier"
    _parameter_constraints = {
        **_PARAMETER_CONSTRAINTS,
        "criterion": [StrOptions({"gini", "entropy", "log_loss"})],
        "class_weight": [StrOptions({"balanced_subsample", "balanced"}), dict, list, None],
    }

    def __init__(self, n_estimators=100, *, criterion="gini", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, min_weight_fraction_leaf=0.0,
                 max_features="sqrt", max_leaf_nodes=None, min_impurity_decrease=0.0,
                 bootstrap=True, oob_score=False, n_jobs=None, random_state=None, verbose=0,
                 warm_start=False, class_weight=None, ccp_alpha=0.0, max_samples=None,
                 monotonic_cst=None, n_bins=256, device="auto"):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.class_weight = class_weight
        self.ccp_alpha = ccp_alpha
        self.max_samples = max_samples
        self.monotonic_cst = monotonic_cst
        self.n_bins = n_bins
        self.device = device

    def fit(self, X, y, sample_weight=None):
        """Build a forest of trees from the training set (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data: NumPy, pandas, CuPy, PyTorch or any DLPack array. float32 stays
            float32; other numeric types become float64. NaN, infinity and sparse matrices
            are not supported.
        y : array-like of shape (n_samples,)
            Class labels (numbers or strings).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples, multiplied with each row's bootstrap count
            and with the class weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit_forest(X, y, sample_weight)

    def _targets(self, y, sample_weight):
        """(labels, Y, n_classes, expanded class weights, balanced_subsample) for the core."""
        check_classification_targets(y)
        if y.shape[1] != 1:
            raise ValueError(
                f"gpulearn's RandomForestClassifier takes a single output (y of shape "
                f"(n_samples,)); got y with {y.shape[1]} columns. Fit one forest per column, "
                "or use scikit-learn's RandomForestClassifier for multi-output "
                "classification.")
        self.classes_, labels = np.unique(y[:, 0], return_inverse=True)
        self.n_classes_ = int(self.classes_.shape[0])
        labels = np.ascontiguousarray(labels.reshape(-1), dtype=np.int32)
        cw = self.class_weight
        expanded, balanced_subsample = None, False
        if isinstance(cw, (dict, list)):
            expanded = compute_sample_weight(cw, y)
        elif cw == "balanced_subsample" and self.bootstrap:
            balanced_subsample = True
        elif cw is not None:  # "balanced", or "balanced_subsample" without bootstrap
            weights = _balanced_class_weight(self.classes_, y[:, 0], sample_weight)
            expanded = compute_sample_weight(dict(zip(self.classes_, weights)), y)
        return labels, None, self.n_classes_, expanded, balanced_subsample

    def _set_oob_attributes(self, oob_value, y, labels, scoring):
        self.oob_decision_function_ = oob_value
        scoring = accuracy_score if scoring is None else scoring
        y_encoded = labels.astype(np.float64).reshape(-1, 1)
        self.oob_score_ = scoring(y_encoded, np.argmax(oob_value, axis=1))

    def score(self, X, y, sample_weight=None):
        """Return the mean accuracy on the given data (computed on the host, also for GPU
        input).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return host_score(accuracy_score, self, X, y, sample_weight)

    def predict_proba(self, X):
        """Predict class probabilities for X: the mean over the trees of the class fractions
        of the leaf each sample reaches.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NumPy, pandas, CuPy, PyTorch or any DLPack array; float32 stays float32 (compared
            with the thresholds rounded down to float32, which routes every float32 value as
            the float64 threshold would).

        Returns
        -------
        p : ndarray of shape (n_samples, n_classes), float64
            Columns in the order of ``classes_``; the array kind of X (or the configured
            ``output_type``).
        """
        return self._to_output(*self._traverse(X, None, "predict"))

    def predict_log_proba(self, X):
        """Predict class log-probabilities for X: the log of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        p : ndarray of shape (n_samples, n_classes)
        """
        out, kind, device_input = self._traverse(X, None, "predict")
        return self._to_output(np.log(out), kind, device_input)

    def predict(self, X):
        """Predict class for X: the class of highest mean probability over the trees.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
            The predicted classes (a NumPy array of ``classes_``' dtype).
        """
        proba = self._predict_mean(X)
        return self.classes_.take(np.argmax(proba, axis=1), axis=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        tags.target_tags.multi_output = False
        return tags


class RandomForestRegressor(RegressorMixin, _BaseForest, BaseEstimator):
    __doc__ = """A random forest regressor on the CPU or a GPU.

    A drop-in replacement for :class:`sklearn.ensemble.RandomForestRegressor` for dense data:
    ``n_estimators`` CART regression trees, each grown on a bootstrap sample, the prediction
    being the mean of the trees' leaf means. One or several targets. The trees are grown by
    gpulearn's compiled core on features binned into at most ``n_bins`` quantile bins (see
    Notes).

    Parameters
    ----------""" + _PARAMS_DOC.format(
        criterion="""    criterion : {"squared_error", "friedman_mse"}, default="squared_error"
        The function to measure the quality of a split: "squared_error" (variance
        reduction, averaged over the targets) or "friedman_mse" (squared error with
        Friedman's improvement score; deprecated in scikit-learn 1.9, which maps it to
        "squared_error"). scikit-learn's "absolute_error" and "poisson" are not supported
        (NotImplementedError).""",
        max_features="""    max_features : {"sqrt", "log2", None}, int or float, default=1.0
        The number of features to consider when looking for the best split: an int is a
        count, a float a fraction (``max(1, int(max_features * n_features_in_))``), "sqrt"
        ``max(1, int(sqrt(n_features)))``, "log2" ``max(1, int(log2(n_features)))``, None or
        1.0 ``n_features``. As in scikit-learn, more features are drawn while all those
        drawn are constant in the node.""",
        metric="r2_score",
        class_weight="") + """
    Attributes
    ----------
    estimators_ : list of ForestTreeRegressor
        The fitted trees (read-only views; see Notes).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.
    n_outputs_ : int
        The number of targets.
    feature_importances_ : ndarray of shape (n_features,)
        The impurity-based feature importances (mean over the trees of each tree's
        normalised importances, normalised to sum to 1; all 0 when every tree is a single
        leaf).
    oob_score_ : float
        Score of the training dataset obtained using an out-of-bag estimate (with
        ``oob_score``).
    oob_prediction_ : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        The out-of-bag prediction on the training set (with ``oob_score``); 0 for a sample
        that was never out of bag, with scikit-learn's warning.

    See Also
    --------
    sklearn.ensemble.RandomForestRegressor : the CPU reference this class follows.
    RandomForestClassifier : the classification forest.

    Notes
    -----""" + _NOTES_DOC + """    - The targets stay float64 whatever the dtype of X, as in scikit-learn.

    Examples
    --------
    >>> from gpulearn.ensemble import RandomForestRegressor
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(n_features=4, n_informative=2, random_state=0, shuffle=False)
    >>> regr = RandomForestRegressor(max_depth=2, random_state=0, device="cpu").fit(X, y)
    >>> regr.predict(X[:3]).shape
    (3,)
    """

    _sklearn_estimator = "sklearn.ensemble.RandomForestRegressor"
    _parameter_constraints = {
        **_PARAMETER_CONSTRAINTS,
        "criterion": [StrOptions({"squared_error", "friedman_mse", "absolute_error",
                                  "poisson"})],
    }

    def __init__(self, n_estimators=100, *, criterion="squared_error", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, min_weight_fraction_leaf=0.0,
                 max_features=1.0, max_leaf_nodes=None, min_impurity_decrease=0.0,
                 bootstrap=True, oob_score=False, n_jobs=None, random_state=None, verbose=0,
                 warm_start=False, ccp_alpha=0.0, max_samples=None, monotonic_cst=None,
                 n_bins=256, device="auto"):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.ccp_alpha = ccp_alpha
        self.max_samples = max_samples
        self.monotonic_cst = monotonic_cst
        self.n_bins = n_bins
        self.device = device

    def fit(self, X, y, sample_weight=None):
        """Build a forest of trees from the training set (X, y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data: NumPy, pandas, CuPy, PyTorch or any DLPack array. float32 stays
            float32; other numeric types become float64. NaN, infinity and sparse matrices
            are not supported.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values (finite).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples, multiplied with each row's bootstrap count.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit_forest(X, y, sample_weight)

    def _targets(self, y, sample_weight):
        """(labels, Y, n_classes, expanded class weights, balanced_subsample) for the core."""
        Y = np.ascontiguousarray(y, dtype=np.float64)
        return None, Y, 0, None, False

    def _set_oob_attributes(self, oob_value, y, labels, scoring):
        pred = oob_value[:, 0] if oob_value.shape[1] == 1 else oob_value
        self.oob_prediction_ = pred
        scoring = r2_score if scoring is None else scoring
        self.oob_score_ = scoring(np.asarray(y, dtype=np.float64), pred)

    def score(self, X, y, sample_weight=None):
        """Return the coefficient of determination R^2 of the prediction (computed on the host,
        also for GPU input).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return host_score(r2_score, self, X, y, sample_weight)

    def predict(self, X):
        """Predict regression target for X: the mean over the trees of the leaf means.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NumPy, pandas, CuPy, PyTorch or any DLPack array; float32 stays float32.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs), float64
            The array kind of X (or the configured ``output_type``).
        """
        out, kind, device_input = self._traverse(X, None, "predict")
        if self.n_outputs_ == 1:
            out = out.reshape(-1)
        return self._to_output(out, kind, device_input)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
