"""Forests across the two libraries: scikit-learn's fitted trees as gpulearn's concatenated node
arrays (``from_sklearn``, gpulearn.accel's predict) and gpulearn's arrays as real scikit-learn
``DecisionTree*`` estimators with real ``sklearn.tree._tree.Tree`` objects (``as_sklearn``,
gpulearn.accel's fitted attributes).

Everything here is vectorised over the nodes of the whole forest; the only Python loops are one
step per tree (reading or building its ``Tree``).

Thresholds. scikit-learn casts X to float32 before it walks a tree (also float64 X) and sends a
row left when ``float32(x) <= threshold`` (float64 threshold). gpulearn's traversal compares X in
its own dtype. For a forest adopted from scikit-learn, :func:`float32_split_thresholds` moves each
threshold to the largest float64 ``t'`` with ``x <= t'`` exactly when ``float32(x) <= t`` (for
every float64 x), so gpulearn's unchanged float64 traversal (CPU and CUDA) routes every row as
scikit-learn does; float32 X is routed the same (the core rounds ``t'`` down to float32, which
gives back ``t`` rounded down, as for any threshold).
"""

import numpy as np

# The smallest float64 that rounds to float32 infinity (FLT_MAX plus half an ulp: the tie goes
# to infinity, as FLT_MAX's mantissa is odd).
_FLOAT32_OVERFLOW = 2.0 ** 128 - 2.0 ** 103


def float32_split_thresholds(threshold):
    """The float64 thresholds ``t'`` with ``x <= t'`` exactly when ``float32(x) <= t``.

    ``float32(x) <= t`` holds exactly when ``float32(x) <= f``, f being t rounded down to
    float32, i.e. when x lies at or below the midpoint between f and the next float32 (ties to
    even: the midpoint itself rounds to f when f's mantissa is even). The midpoint of two
    adjacent float32 values is exact in float64.
    """
    t = np.asarray(threshold, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        f = t.astype(np.float32)  # to nearest
        lo = f.astype(np.float64)
        above = np.flatnonzero(lo > t)
        f[above] = np.nextafter(f[above], np.float32(-np.inf))  # rounded down
        lo[above] = f[above]
        up = np.nextafter(f, np.float32(np.inf)).astype(np.float64)
        finite = bool(np.isfinite(up).all() and np.isfinite(lo).all())
        if not finite:
            up[np.isposinf(up) & np.isfinite(lo)] = 2.0 ** 128  # past FLT_MAX
        mid = lo + up
        mid *= 0.5
    odd = np.flatnonzero(f.view(np.uint32) & 1)
    mid[odd] = np.nextafter(mid[odd], -np.inf)
    if not finite:
        mid[np.isneginf(lo)] = -_FLOAT32_OVERFLOW  # left only when float32(x) is -inf
        mid[np.isposinf(lo)] = np.inf
        nan = np.isnan(t)
        mid[nan] = t[nan]
    return mid


def forest_from_sklearn(estimators, n_classes, n_outputs, owner):
    """gpulearn's forest record (``_forest``: the node arrays of every tree concatenated) from
    scikit-learn's fitted trees; ``n_classes`` 0 for a regressor. Raises NotImplementedError
    for trees gpulearn cannot reproduce exactly (``owner`` names the class in the message)."""
    states = [e.tree_.__getstate__() for e in estimators]
    sizes = np.array([s["node_count"] for s in states], dtype=np.int64)
    nodes = np.concatenate([s["nodes"] for s in states])
    values = np.concatenate([s["values"] for s in states])
    left = np.ascontiguousarray(nodes["left_child"], dtype=np.int64)
    threshold = np.ascontiguousarray(nodes["threshold"], dtype=np.float64)
    internal = left != -1
    if not np.isfinite(threshold[internal]).all():
        raise NotImplementedError(
            f"This scikit-learn forest was fitted on data with missing values (NaN): its trees "
            f"split on missingness (an infinite threshold), and gpulearn's {owner} does not "
            "support missing values. Impute X and refit, or keep scikit-learn's forest.")
    if n_classes:  # (nodes, 1, max_n_classes): the class fractions, as predict_proba returns
        value = values[:, 0, :n_classes]
    else:  # (nodes, n_outputs, 1): the leaf means
        value = values[:, :n_outputs, 0]
    return {
        "tree_offsets": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        "children_left": left,
        "children_right": np.ascontiguousarray(nodes["right_child"], dtype=np.int64),
        "feature": np.ascontiguousarray(nodes["feature"], dtype=np.int64),
        "threshold": threshold,
        "value": np.ascontiguousarray(value, dtype=np.float64),
        "impurity": np.ascontiguousarray(nodes["impurity"], dtype=np.float64),
        "n_node_samples": np.ascontiguousarray(nodes["n_node_samples"], dtype=np.int64),
        "weighted_n_node_samples": np.ascontiguousarray(nodes["weighted_n_node_samples"],
                                                        dtype=np.float64),
        "max_depth": np.array([s["max_depth"] for s in states], dtype=np.int64),
        # Where NaN would go (gpulearn refuses NaN): kept only to give scikit-learn its trees
        # back unchanged (as_sklearn).
        "missing_go_to_left": np.ascontiguousarray(nodes["missing_go_to_left"]),
    }


def forest_feature_importances(forest, n_features):
    """scikit-learn's ``feature_importances_`` of a forest record, as scikit-learn computes it
    (each tree's normalised impurity decreases, summed in node order; their mean over the trees
    with a split, normalised), vectorised over the whole forest."""
    offsets = forest["tree_offsets"]
    sizes = np.diff(offsets)
    n_trees = sizes.shape[0]
    split = sizes > 1
    if not split.any():
        return np.zeros(n_features, dtype=np.float64)
    tree_of = np.repeat(np.arange(n_trees), sizes)
    left, right = forest["children_left"], forest["children_right"]
    internal = np.flatnonzero(left != -1)
    base = offsets[tree_of[internal]] - offsets[0]
    weighted = forest["weighted_n_node_samples"] * forest["impurity"]
    decrease = (weighted[internal] - weighted[base + left[internal]]
                - weighted[base + right[internal]])
    importances = np.bincount(tree_of[internal] * n_features + forest["feature"][internal],
                              weights=decrease, minlength=n_trees * n_features)
    importances = importances.reshape(n_trees, n_features)[split]
    importances /= forest["weighted_n_node_samples"][offsets[:-1] - offsets[0]][split, None]
    total = importances.sum(axis=1)
    positive = total > 0.0
    importances[positive] /= total[positive, None]
    mean = np.mean(importances, axis=0, dtype=np.float64)
    return mean / np.sum(mean)


def sklearn_trees(forest, tree_class, tree_params, seeds, n_features, n_outputs, n_classes,
                  max_features):
    """The trees of a forest record as fitted scikit-learn ``tree_class`` estimators (real
    ``Tree`` objects, holding copies of the arrays); ``n_classes`` 0 for a regressor."""
    from sklearn.tree._tree import NODE_DTYPE, Tree

    offsets = forest["tree_offsets"]
    first = int(offsets[0])
    n_nodes = int(offsets[-1]) - first
    nodes_range = slice(first, first + n_nodes)
    left = forest["children_left"][nodes_range]
    right = forest["children_right"][nodes_range]
    nodes = np.zeros(n_nodes, dtype=NODE_DTYPE)
    nodes["left_child"] = left
    nodes["right_child"] = right
    nodes["feature"] = forest["feature"][nodes_range]
    nodes["threshold"] = forest["threshold"][nodes_range]
    nodes["impurity"] = forest["impurity"][nodes_range]
    nodes["n_node_samples"] = forest["n_node_samples"][nodes_range]
    nodes["weighted_n_node_samples"] = forest["weighted_n_node_samples"][nodes_range]
    if "missing_go_to_left" in forest:  # a forest converted from scikit-learn
        nodes["missing_go_to_left"] = forest["missing_go_to_left"][nodes_range]
    else:
        # NaN goes to the child with more training rows: scikit-learn's rule for a feature
        # that had no missing values in training (gpulearn's trees never see any).
        internal = np.flatnonzero(left != -1)
        tree_base = np.repeat(offsets[:-1] - first, np.diff(offsets))[internal]
        counts = nodes["n_node_samples"]
        nodes["missing_go_to_left"][internal] = (counts[tree_base + left[internal]]
                                                 > counts[tree_base + right[internal]])
    leaf = left == -1
    nodes["feature"][leaf] = -2  # scikit-learn's TREE_UNDEFINED
    nodes["threshold"][leaf] = -2.0
    value = forest["value"][nodes_range]
    if n_classes:
        values = value.reshape(n_nodes, 1, n_classes)
        n_classes_array = np.array([n_classes], dtype=np.intp)
    else:
        values = value.reshape(n_nodes, n_outputs, 1)
        n_classes_array = np.ones(n_outputs, dtype=np.intp)
    values = np.ascontiguousarray(values, dtype=np.float64)

    trees = []
    for t in range(offsets.shape[0] - 1):
        a, b = int(offsets[t]) - first, int(offsets[t + 1]) - first
        tree = Tree(int(n_features), n_classes_array, int(n_outputs))
        tree.__setstate__({"max_depth": int(forest["max_depth"][t]), "node_count": b - a,
                           "nodes": nodes[a:b], "values": values[a:b]})
        estimator = tree_class(**tree_params, random_state=int(seeds[t]))
        estimator.max_features_ = int(max_features)
        estimator.n_features_in_ = int(n_features)
        estimator.n_outputs_ = int(n_outputs)
        if n_classes:
            estimator.classes_ = np.arange(n_classes, dtype=np.float64)
            estimator.n_classes_ = np.intp(n_classes)
        estimator.tree_ = tree
        trees.append(estimator)
    return trees
