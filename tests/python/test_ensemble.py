"""RandomForestClassifier and RandomForestRegressor against scikit-learn, on the CPU.

gpulearn's forests draw from their own counter-based generator, so a forest is never
scikit-learn's forest bit for bit. They are compared three ways:

- Quality: test accuracy (classifier) within 1 percentage point, R^2 (regressor) within 0.01,
  of scikit-learn's forest with the same n_estimators, max_features and bootstrap, *averaged*
  over several seeds (each seed: its own train/test split and its own forests). The number of
  seeds per dataset was chosen from the measured seed-to-seed noise of that average (two
  forests of one library with different seeds): the bound is >= 4 standard deviations of it
  (<= 0.0027 for every case). Measured gaps (ours - scikit-learn's), all within 0.0031 but
  one (-0.0084, see QUALITY_CASES), are listed there.
- One tree (n_estimators=1, bootstrap=False, max_features=None, n_bins >= every feature's
  distinct values) against DecisionTreeClassifier/Regressor, node by node: both trees are
  walked together on the training rows; wherever they reach a node with the same rows, the
  node must be a leaf in both or split by the same (feature, threshold) with the same values,
  impurity and counts -- except (a) where two different splits decrease the impurity equally
  (an exact tie: scikit-learn takes the first in an order drawn by its RNG, gpulearn the first
  in an order drawn by its own, so either may win and the subtrees below differ), and (b)
  where scikit-learn splits a node whose rows are all of one class because its float
  arithmetic leaves an impurity of ~1e-15 > its EPSILON (seen with non-integer weights);
  gpulearn's fixed-point sums make a pure node exactly 0, a leaf. Case (b) changes no
  prediction. Where a walk meets no tie (always within depth 2 here) the trees are compared
  array by array.
- Parameters and semantics scikit-learn fixes exactly (max_features_ counts, bootstrap sizes,
  leaf counts, class weights as sample weights), and qualitative effects (importances, OOB).

Data: fresh draws from the recorded SEED; values exactly representable in float32 wherever a
tree is compared with scikit-learn's, because scikit-learn's trees compute on X cast to
float32 while gpulearn compares in the input's dtype.
"""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import pearsonr, spearmanr
from sklearn import ensemble as ske
from sklearn import tree as skt
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits, load_wine,
                              make_classification, make_regression)
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.class_weight import compute_sample_weight

from gpulearn.ensemble import RandomForestClassifier, RandomForestRegressor

from _testdata import SEED

DEVICE = "cpu"

# Quality bars (the issue's): accuracy within 1 percentage point, R^2 within 0.01, averaged.
ACCURACY_GAP = 0.01
R2_GAP = 0.01
# Tree values: class fractions are ratios of exact integer sums in both libraries (equal to the
# last bit as measured); regression means come from gpulearn's fixed-point sums of centred
# targets, measured within 9e-16 of scikit-learn's float64 means (targets of size ~1-3).
RTOL_VALUE = 1e-12
ATOL_VALUE = 1e-12
# Impurities: scikit-learn's Gini 1 - sum p^2 rounds to ~1e-16, its squared error
# E[y^2] - E[y]^2 to ~1e-14 of E[y^2]; measured max difference 2.1e-14.
ATOL_IMPURITY = 1e-12
# Two splits whose impurity decreases agree to this (relative) are an exact tie: the sums are
# rational numbers of integer counts or float32-exact targets; a genuine difference between
# candidate splits is ~1/n^2 ~ 1e-5 or more here.
RTOL_TIE = 1e-9


def fast_sklearn(cls, **params):
    """A scikit-learn forest on this machine's cores (they are small fits)."""
    return cls(n_jobs=2, **params)


def forest_arrays(model):
    """The fitted forest's node arrays, one dict of NumPy arrays (all trees concatenated)."""
    keys = ("children_left", "children_right", "feature", "threshold", "value", "impurity",
            "n_node_samples", "weighted_n_node_samples")
    return {k: np.concatenate([np.asarray(getattr(e.tree_, k)).reshape(-1)
                               for e in model.estimators_]) for k in keys}


def assert_same_forest(a, b):
    assert len(a.estimators_) == len(b.estimators_)
    for t, (ta, tb) in enumerate(zip(a.estimators_, b.estimators_)):
        assert ta.tree_.node_count == tb.tree_.node_count, f"tree {t}"
    fa, fb = forest_arrays(a), forest_arrays(b)
    for key in fa:
        assert_array_equal(fa[key], fb[key], err_msg=key)
    assert_array_equal(a.feature_importances_, b.feature_importances_)


def float32_exact(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def continuous_data(rng, n=250, d=6, n_test=0, task="classification", n_classes=3):
    """Uniform float32-exact X in [-2, 2): every feature has <= 256 distinct training values
    (n <= 256), no two within scikit-learn's FEATURE_THRESHOLD; y depends on three features."""
    X = float32_exact(rng.uniform(-2, 2, size=(n + n_test, d)))
    noise = rng.normal(size=n + n_test)
    if task == "classification":
        y = (X[:, 0] + 0.5 * X[:, 1] ** 2 + 0.5 * noise > 0.5).astype(np.int64)
        if n_classes > 2:
            y += X[:, 2] > 1
    else:
        y = float32_exact(X[:, 0] + np.sin(2 * X[:, 1]) + 0.3 * noise)
    return X[:n], y[:n], X[n:], y[n:]


# ============================================================================================
# Quality against scikit-learn's forest


def _dataset(name):
    """(X, y, is_classifier) of a named dataset."""
    if name == "breast_cancer":
        return *load_breast_cancer(return_X_y=True), True
    if name == "digits":
        return *load_digits(return_X_y=True), True
    if name == "wine":
        return *load_wine(return_X_y=True), True
    if name == "diabetes":
        return *load_diabetes(return_X_y=True), False
    if name == "make_classification":
        X, y = make_classification(2000, 20, n_informative=6, n_classes=3, class_sep=2.0,
                                   random_state=SEED % 1000)
        return X, y, True
    if name == "make_regression":
        X, y = make_regression(1000, 10, n_informative=5, noise=10.0, random_state=SEED % 1000)
        return X, y, False
    if name == "make_regression_3_targets":
        X, y = make_regression(600, 8, n_informative=5, n_targets=3, noise=10.0,
                               random_state=SEED % 1000)
        return X, y, False
    raise KeyError(name)


# (dataset, seeds, parameters shared by both forests), 100 trees each. Measured at writing:
# the gap ours - scikit-learn's of the mean score over the seeds, and the standard deviation
# of that mean gap between two forests of one library with other seeds (the noise).
QUALITY_CASES = [
    pytest.param("breast_cancer", 10, {}, id="breast_cancer"),  # -0.0023, noise 0.0027
    pytest.param("digits", 6, {}, id="digits"),  # -0.0009, noise 0.0022
    pytest.param("wine", 20, {}, id="wine"),  # +0.0009, noise 0.0021
    pytest.param("make_classification", 6, {}, id="make_classification"),  # +0.0006, 0.0011
    pytest.param("make_classification", 6, {"max_features": "log2", "bootstrap": False},
                 id="make_classification-log2-no-bootstrap"),  # +0.0011, noise 0.0021
    pytest.param("make_classification", 6, {"criterion": "entropy", "max_features": 0.5},
                 id="make_classification-entropy"),  # +0.0000, noise 0.0026
    # Fully grown trees on diabetes' noisy target vary too much from seed to seed (noise
    # 0.0046 of a 10-seed mean); min_samples_leaf=5 and 20 seeds bring it to ~0.002.
    pytest.param("diabetes", 20, {"min_samples_leaf": 5}, id="diabetes"),  # -0.0024, 0.0015
    pytest.param("make_regression", 5, {}, id="make_regression"),  # +0.0003, noise 0.0007
    # -0.0031, noise 0.0021; -0.0084 before the per-node feature draws were made uniform
    # (see test_each_node_draws_its_features_uniformly).
    pytest.param("make_regression", 5, {"max_features": "sqrt", "max_depth": 8},
                 id="make_regression-sqrt-depth8"),
    pytest.param("make_regression_3_targets", 4, {},
                 id="make_regression-3-targets"),  # -0.0031, noise 0.0018
]


@pytest.mark.parametrize("name, n_seeds, params", QUALITY_CASES)
def test_forest_quality_matches_sklearn(name, n_seeds, params):
    X, y, is_classifier = _dataset(name)
    ours_cls, sk_cls = ((RandomForestClassifier, ske.RandomForestClassifier) if is_classifier
                        else (RandomForestRegressor, ske.RandomForestRegressor))
    n_estimators = 100
    ours_scores, sk_scores = [], []
    for seed in range(n_seeds):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, random_state=seed, stratify=y if is_classifier else None)
        ours = ours_cls(n_estimators, random_state=seed, device=DEVICE, **params)
        ref = fast_sklearn(sk_cls, n_estimators=n_estimators, random_state=seed, **params)
        ours_scores.append(ours.fit(X_train, y_train).score(X_test, y_test))
        sk_scores.append(ref.fit(X_train, y_train).score(X_test, y_test))
    gap = float(np.mean(ours_scores) - np.mean(sk_scores))
    bound = ACCURACY_GAP if is_classifier else R2_GAP
    assert abs(gap) <= bound, (
        f"{name}: ours {np.mean(ours_scores):.4f}, scikit-learn {np.mean(sk_scores):.4f} "
        f"(gap {gap:+.4f}, bound {bound})")


# ============================================================================================
# One tree against scikit-learn's decision tree


def _criterion_cost(y, w, rows, criterion, n_classes):
    """The weighted impurity (impurity x weight) of a set of rows, as scikit-learn defines it
    (entropy in bits; squared error averaged over the outputs)."""
    if criterion in ("gini", "entropy", "log_loss"):
        counts = np.bincount(y[rows], weights=w[rows], minlength=n_classes)
        total = counts.sum()
        p = counts / total
        if criterion == "gini":
            return total * (1.0 - np.sum(p * p))
        p = p[p > 0]
        return -total * np.sum(p * np.log2(p))
    Y = y[rows].reshape(len(rows), -1)
    ww = w[rows]
    mean = (ww[:, None] * Y).sum(axis=0) / ww.sum()
    return float((ww[:, None] * (Y - mean) ** 2).sum() / Y.shape[1])


def walk_together(sk_tree, our_tree, X, y, w, criterion, n_classes=0):
    """Walks scikit-learn's and gpulearn's trees together over the training rows.

    Returns (matched, ties, pure_splits): nodes split identically, nodes where the two split
    differently with equal impurity decrease (an exact tie between candidates), and nodes
    scikit-learn splits although all their rows are of one class (gpulearn: a leaf). Any
    other difference fails with a description. At matched nodes values, impurities and
    counts are compared too.
    """
    a, b = sk_tree, our_tree
    matched, ties, pure_splits = 0, 0, 0
    stack = [(0, 0, np.arange(X.shape[0]))]
    while stack:
        i, j, rows = stack.pop()
        where = f"scikit-learn node {i} / gpulearn node {j} ({len(rows)} rows)"
        assert a.n_node_samples[i] == b.n_node_samples[j] == len(rows), where
        assert_allclose(b.weighted_n_node_samples[j], a.weighted_n_node_samples[i],
                        rtol=1e-12, err_msg=where)
        assert_allclose(b.value[j], a.value[i], rtol=RTOL_VALUE, atol=ATOL_VALUE,
                        err_msg=where)
        assert_allclose(b.impurity[j], a.impurity[i], rtol=0, atol=ATOL_IMPURITY,
                        err_msg=where)
        a_leaf, b_leaf = a.children_left[i] == -1, b.children_left[j] == -1
        if a_leaf and b_leaf:
            continue
        if a_leaf != b_leaf:
            pure = np.count_nonzero(a.value[i]) == 1 and n_classes > 0
            assert pure and b_leaf, f"leaf in one tree only at {where}"
            pure_splits += 1
            continue
        if a.feature[i] == b.feature[j] and a.threshold[i] == b.threshold[j]:
            matched += 1
            left = X[rows, a.feature[i]] <= a.threshold[i]
            stack.append((a.children_right[i], b.children_right[j], rows[~left]))
            stack.append((a.children_left[i], b.children_left[j], rows[left]))
            continue

        def split_cost(tree, k):
            left = X[rows, tree.feature[k]] <= tree.threshold[k]
            return (_criterion_cost(y, w, rows[left], criterion, n_classes)
                    + _criterion_cost(y, w, rows[~left], criterion, n_classes))

        cost_a, cost_b = split_cost(a, i), split_cost(b, j)
        assert abs(cost_a - cost_b) <= RTOL_TIE * abs(cost_a) + 1e-12, (
            f"different splits at {where}: scikit-learn x{a.feature[i]} <= {a.threshold[i]} "
            f"(children's weighted impurity {cost_a}), gpulearn x{b.feature[j]} <= "
            f"{b.threshold[j]} ({cost_b})")
        ties += 1
    return matched, ties, pure_splits


def single_tree(cls, **params):
    return cls(1, bootstrap=False, max_features=None, random_state=0, device=DEVICE, **params)


def assert_same_tree_arrays(sk_tree, our_tree):
    assert our_tree.node_count == sk_tree.node_count
    assert our_tree.max_depth == sk_tree.max_depth
    assert our_tree.n_leaves == sk_tree.n_leaves
    for key in ("children_left", "children_right", "n_node_samples"):
        assert_array_equal(getattr(our_tree, key), getattr(sk_tree, key), err_msg=key)
    internal = sk_tree.children_left != -1
    assert_array_equal(our_tree.feature[internal], sk_tree.feature[internal])
    assert_array_equal(our_tree.feature[~internal], -2)
    assert_array_equal(our_tree.threshold[internal], sk_tree.threshold[internal])
    assert_allclose(our_tree.weighted_n_node_samples, sk_tree.weighted_n_node_samples,
                    rtol=1e-12)
    assert our_tree.value.shape == sk_tree.value.shape
    assert_allclose(our_tree.value, sk_tree.value, rtol=RTOL_VALUE, atol=ATOL_VALUE)
    assert_allclose(our_tree.impurity, sk_tree.impurity, rtol=0, atol=ATOL_IMPURITY)


CLASSIFIER_CRITERIA = ["gini", "entropy", "log_loss"]


@pytest.mark.parametrize("criterion", CLASSIFIER_CRITERIA)
@pytest.mark.parametrize("max_depth", [2, 4])
def test_depth_limited_tree_equals_sklearns_decision_tree(criterion, max_depth, rng):
    X, y, X_test, _ = continuous_data(rng, n_test=500)
    ref = skt.DecisionTreeClassifier(criterion=criterion, max_depth=max_depth,
                                     random_state=0).fit(X, y)
    ours = single_tree(RandomForestClassifier, criterion=criterion, max_depth=max_depth)
    ours.fit(X, y)
    _, ties, _ = walk_together(ref.tree_, ours.estimators_[0].tree_, X, y, np.ones(len(y)),
                               criterion, n_classes=3)
    # Gini ties even in nodes of ~80 rows (two features splitting off the same class counts),
    # about one tree in four at depth 3-4 (measured); the two levels below the root of this
    # data have none: there the trees are equal array for array.
    if max_depth == 2:
        assert ties == 0
    if ties == 0:
        assert_same_tree_arrays(ref.tree_, ours.estimators_[0].tree_)
        assert_array_equal(ours.predict(X_test), ref.predict(X_test))
        assert_allclose(ours.predict_proba(X_test), ref.predict_proba(X_test),
                        rtol=RTOL_VALUE, atol=ATOL_VALUE)
        assert_array_equal(ours.apply(X_test)[:, 0], ref.apply(X_test))


# scikit-learn 1.9 maps "friedman_mse" to "squared_error" ("both were always equivalent"):
# for one output Friedman's improvement orders splits as the squared error does; for several
# gpulearn keeps scikit-learn <= 1.8's FriedmanMSE (outputs summed before squaring), which
# 1.9 no longer has, so that case is compared with squared_error only on one output.
@pytest.mark.parametrize("criterion, n_outputs", [("squared_error", 1), ("squared_error", 2),
                                                  ("friedman_mse", 1)])
def test_depth_limited_regression_tree_equals_sklearns(criterion, n_outputs, rng):
    X, y, X_test, _ = continuous_data(rng, n_test=500, task="regression")
    if n_outputs == 2:
        y = np.c_[y, float32_exact(X[:, 2] * X[:, 3])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn 1.9 deprecates friedman
        ref = skt.DecisionTreeRegressor(criterion=criterion, max_depth=3,
                                        random_state=0).fit(X, y)
    ours = single_tree(RandomForestRegressor, criterion=criterion, max_depth=3).fit(X, y)
    assert_same_tree_arrays(ref.tree_, ours.estimators_[0].tree_)
    assert_allclose(ours.predict(X_test), ref.predict(X_test), rtol=RTOL_VALUE,
                    atol=ATOL_VALUE)


# Fully grown trees: the fraction of 2000 fresh points both trees classify alike, measured
# over 4 draws (gini, entropy): 0.93-0.99; the rest lie in subtrees under a tie. A wrong split
# rule would fail walk_together long before; the floor only guards the order of magnitude.
MIN_TEST_AGREEMENT_FULL_TREE = 0.85


@pytest.mark.parametrize("criterion", CLASSIFIER_CRITERIA)
def test_fully_grown_tree_reproduces_sklearns_up_to_ties(criterion, rng):
    X, y, X_test, _ = continuous_data(rng, n_test=2000)
    ref = skt.DecisionTreeClassifier(criterion=criterion, random_state=0).fit(X, y)
    ours = single_tree(RandomForestClassifier, criterion=criterion).fit(X, y)
    ours_tree = ours.estimators_[0].tree_
    matched, ties, _ = walk_together(ref.tree_, ours_tree, X, y, np.ones(len(y)), criterion,
                                     n_classes=3)
    assert matched >= 10
    # On the training rows both are exact: every leaf is pure.
    assert_array_equal(ours.predict(X), ref.predict(X))
    assert_array_equal(ours.predict(X), y)
    agreement = np.mean(ours.predict(X_test) == ref.predict(X_test))
    assert agreement >= MIN_TEST_AGREEMENT_FULL_TREE, agreement
    if ties == 0:  # no tie: the same tree, node for node
        assert_same_tree_arrays(ref.tree_, ours_tree)
        assert agreement == 1.0


def test_fully_grown_regression_tree_reproduces_sklearns_up_to_ties(rng):
    # Fully grown regression trees end in nodes of 2-3 rows, where every feature separating
    # them ties: 60-70 ties in 500 nodes (measured), so the walk is the test; test points
    # agree only ~45% of the time. min_samples_leaf=5 is compared exactly below.
    X, y, _, _ = continuous_data(rng, task="regression")
    ref = skt.DecisionTreeRegressor(random_state=0).fit(X, y)
    ours = single_tree(RandomForestRegressor).fit(X, y)
    tree = ours.estimators_[0].tree_
    walk_together(ref.tree_, tree, X, y, np.ones(len(y)), "squared_error")
    assert tree.node_count == ref.tree_.node_count == 2 * len(y) - 1  # one leaf per row
    # Leaf means of single rows: the target itself, to the fixed-point sums' rounding.
    assert_allclose(ours.predict(X), y, rtol=RTOL_VALUE, atol=ATOL_VALUE)


# Parameters that shape one tree, compared with scikit-learn's DecisionTree (bootstrap=False,
# max_features=None): the walk must show no difference but ties.
TREE_PARAMETER_CASES = [
    {"max_depth": 5},
    {"min_samples_split": 20},
    {"min_samples_split": 0.1},
    {"min_samples_leaf": 7},
    {"min_samples_leaf": 0.05},
    {"min_weight_fraction_leaf": 0.05},
    {"min_impurity_decrease": 0.005},
    {"class_weight": {0: 1, 1: 3, 2: 2}},
    {"class_weight": "balanced"},
]


@pytest.mark.parametrize("params", TREE_PARAMETER_CASES, ids=str)
def test_tree_parameters_match_sklearns_decision_tree(params, rng):
    X, y, X_test, _ = continuous_data(rng, n_test=1000)
    ref = skt.DecisionTreeClassifier(random_state=0, **params).fit(X, y)
    ours = single_tree(RandomForestClassifier, **params).fit(X, y)
    w = (compute_sample_weight(params["class_weight"], y) if "class_weight" in params
         else np.ones(len(y)))
    matched, ties, pure_splits = walk_together(ref.tree_, ours.estimators_[0].tree_, X, y, w,
                                               "gini", n_classes=3)
    assert matched >= 5
    if ties == 0 and pure_splits == 0:
        assert_same_tree_arrays(ref.tree_, ours.estimators_[0].tree_)
    if ties == 0:
        assert_array_equal(ours.predict(X_test), ref.predict(X_test))


@pytest.mark.parametrize("params", [{"min_samples_leaf": 5}, {"max_depth": 6},
                                    {"min_impurity_decrease": 0.01},
                                    {"min_samples_split": 0.05}], ids=str)
def test_regression_tree_parameters_match_sklearns(params, rng):
    X, y, X_test, _ = continuous_data(rng, n_test=1000, task="regression")
    ref = skt.DecisionTreeRegressor(random_state=0, **params).fit(X, y)
    ours = single_tree(RandomForestRegressor, **params).fit(X, y)
    matched, ties, _ = walk_together(ref.tree_, ours.estimators_[0].tree_, X, y,
                                     np.ones(len(y)), "squared_error")
    assert matched >= 5
    if ties == 0:
        assert_same_tree_arrays(ref.tree_, ours.estimators_[0].tree_)
        assert_allclose(ours.predict(X_test), ref.predict(X_test), rtol=RTOL_VALUE,
                        atol=ATOL_VALUE)


@pytest.mark.parametrize("weights", ["integer", "uniform"])
@pytest.mark.parametrize("params", [{"max_depth": 4}, {"min_weight_fraction_leaf": 0.05},
                                    {}], ids=str)
def test_sample_weight_matches_sklearns_decision_tree(weights, params, rng):
    X, y, _, _ = continuous_data(rng)
    w = (rng.integers(1, 4, size=len(y)).astype(np.float64) if weights == "integer"
         else rng.uniform(0.5, 2.0, size=len(y)))
    ref = skt.DecisionTreeClassifier(random_state=0, **params).fit(X, y, sample_weight=w)
    ours = single_tree(RandomForestClassifier, **params).fit(X, y, sample_weight=w)
    # Non-integer weights: scikit-learn splits some pure nodes (impurity ~1e-15 from its
    # float sums), walk_together's case (b).
    matched, _, _ = walk_together(ref.tree_, ours.estimators_[0].tree_, X, y, w, "gini",
                                  n_classes=3)
    assert matched >= 5
    assert_array_equal(ours.predict(X), ref.predict(X))


def _canonical_splits(tree):
    """The multiset of (feature, threshold, n_node_samples) of a tree's internal nodes: equal
    for equal trees whatever the node numbering (best-first trees number nodes otherwise)."""
    internal = np.flatnonzero(tree.children_left != -1)
    return sorted(zip(tree.feature[internal].tolist(), tree.threshold[internal].tolist(),
                      tree.n_node_samples[internal].tolist()))


@pytest.mark.parametrize("max_leaf_nodes", [2, 7, 20])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_max_leaf_nodes_matches_sklearns_best_first_tree(max_leaf_nodes, task, rng):
    X, y, X_test, _ = continuous_data(rng, n_test=500, task=task)
    sk_cls, ours_cls = ((skt.DecisionTreeClassifier, RandomForestClassifier)
                        if task == "classification" else
                        (skt.DecisionTreeRegressor, RandomForestRegressor))
    ref = sk_cls(max_leaf_nodes=max_leaf_nodes, random_state=0).fit(X, y)
    ours = single_tree(ours_cls, max_leaf_nodes=max_leaf_nodes).fit(X, y)
    tree = ours.estimators_[0].tree_
    assert tree.n_leaves == ref.tree_.n_leaves == max_leaf_nodes
    assert tree.node_count == 2 * max_leaf_nodes - 1
    # The best splits of continuous targets do not tie: the same splits, found best first
    # (numbered otherwise: scikit-learn's best-first ids follow creation, ours preorder).
    # With 3 classes and 20 leaves Gini ties between small nodes' splits appear (measured:
    # nodes of 6-7 rows), so there only the splits of nodes of >= 40 rows are compared.
    ours_splits, ref_splits = _canonical_splits(tree), _canonical_splits(ref.tree_)
    if task == "classification" and max_leaf_nodes == 20:
        ours_splits = [s for s in ours_splits if s[2] >= 40]
        ref_splits = [s for s in ref_splits if s[2] >= 40]
        assert len(ref_splits) >= 5
    else:
        if task == "classification":
            assert_array_equal(ours.predict(X_test), ref.predict(X_test))
        else:
            assert_allclose(ours.predict(X_test), ref.predict(X_test), rtol=RTOL_VALUE,
                            atol=ATOL_VALUE)
    assert ours_splits == ref_splits
    # Every tree of a bagged forest keeps at most max_leaf_nodes leaves.
    forest = RandomForestClassifier if task == "classification" else RandomForestRegressor
    model = forest(20, max_leaf_nodes=max_leaf_nodes, random_state=0, device=DEVICE).fit(X, y)
    assert all(e.tree_.n_leaves <= max_leaf_nodes for e in model.estimators_)
    assert max(e.tree_.n_leaves for e in model.estimators_) == max_leaf_nodes


def test_unlimited_depth_grows_a_chain_deeper_than_30():
    # Sorted 1-D data with alternating labels: every point is its own leaf; scikit-learn's
    # tree is a chain of depth 199. No hidden depth cap may stop ours early.
    x = np.arange(200, dtype=np.float64).reshape(-1, 1)
    y = np.arange(200) % 2
    ref = skt.DecisionTreeClassifier(random_state=0).fit(x, y)
    ours = single_tree(RandomForestClassifier).fit(x, y)
    tree = ours.estimators_[0].tree_
    assert ref.get_depth() > 30
    assert tree.max_depth == ref.get_depth()
    assert ours.estimators_[0].get_depth() == tree.max_depth
    assert tree.n_leaves == 200
    assert_same_tree_arrays(ref.tree_, tree)
    assert ours.score(x, y) == 1.0
    # A forest without bootstrap, drawing the one feature, grows the same deep trees.
    forest = RandomForestClassifier(5, bootstrap=False, random_state=0, device=DEVICE).fit(x, y)
    assert forest.score(x, y) == 1.0
    assert min(e.tree_.max_depth for e in forest.estimators_) > 30


def test_integer_weights_equal_repeated_rows(rng):
    X, y, X_test, _ = continuous_data(rng, n_test=1000)
    w = rng.integers(1, 4, size=len(y))
    params = dict(n_estimators=1, bootstrap=False, max_features=None, random_state=3,
                  device=DEVICE)
    weighted = RandomForestClassifier(**params).fit(X, y, sample_weight=w)
    repeated = RandomForestClassifier(**params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    assert_array_equal(weighted.predict(X_test), repeated.predict(X_test))
    assert_allclose(weighted.predict_proba(X_test), repeated.predict_proba(X_test),
                    rtol=RTOL_VALUE, atol=ATOL_VALUE)
    a, b = weighted.estimators_[0].tree_, repeated.estimators_[0].tree_
    assert_array_equal(a.feature, b.feature)
    assert_array_equal(a.threshold, b.threshold)
    assert_array_equal(a.weighted_n_node_samples, b.n_node_samples)
    # The regressor, with max_features="sqrt": the same per-node feature draws.
    Xr, yr, Xr_test, _ = continuous_data(rng, n_test=500, task="regression")
    params["max_features"] = "sqrt"
    weighted = RandomForestRegressor(**params).fit(Xr, yr, sample_weight=w)
    repeated = RandomForestRegressor(**params).fit(np.repeat(Xr, w, axis=0), np.repeat(yr, w))
    assert_allclose(weighted.predict(Xr_test), repeated.predict(Xr_test), rtol=RTOL_VALUE,
                    atol=ATOL_VALUE)


# ============================================================================================
# Importances and out-of-bag estimates


@pytest.fixture(scope="module")
def informative_classification():
    """3 classes, 8 useful features first (6 informative, 2 redundant), 12 of noise; the rows
    come class by class (shuffle=False keeps the features in order)."""
    X, y = make_classification(1500, 20, n_informative=6, n_redundant=2, n_classes=3,
                               class_sep=1.5, shuffle=False, random_state=SEED % 1000)
    return X, y


# Importances: mean over 3 forests of 100 trees each. Measured: Pearson 0.9989 over all 20
# features; Spearman 0.92 over all (the 12 noise features' importances, ~0.012 each, rank
# almost at random) and 0.976 over the 8 useful ones.
MIN_IMPORTANCE_PEARSON = 0.99
MIN_IMPORTANCE_SPEARMAN_USEFUL = 0.9
# oob_score_, mean over 3 forests of 100 trees on all rows: measured accuracy 0.8887 vs
# scikit-learn's 0.8907 (gap -0.0020; either library's seeds spread it by ~0.003), and R^2
# 0.9305 vs 0.9281 (gap +0.0024; spread ~0.002). The issue's bars: 1 point, 0.01.
OOB_ACCURACY_TOLERANCE = 0.01
OOB_R2_TOLERANCE = 0.01


def test_importances_correlate_with_sklearns(informative_classification):
    X, y = informative_classification
    ours = [RandomForestClassifier(100, random_state=s, device=DEVICE).fit(X, y)
            for s in range(3)]
    ref = [fast_sklearn(ske.RandomForestClassifier, n_estimators=100, random_state=s).fit(X, y)
           for s in range(3)]
    for model in ours:
        imp = model.feature_importances_
        assert imp.shape == (20,) and imp.dtype == np.float64
        assert np.all(imp >= 0) and imp.sum() == pytest.approx(1.0, abs=1e-12)
        assert imp[:8].min() > imp[8:].max()  # every useful feature above every noise one
        # The forest's importances: the mean of the trees' normalised ones, normalised.
        per_tree = np.mean([e.feature_importances_ for e in model.estimators_], axis=0)
        assert_allclose(imp, per_tree / per_tree.sum(), rtol=1e-10)
    ours_imp = np.mean([m.feature_importances_ for m in ours], axis=0)
    ref_imp = np.mean([m.feature_importances_ for m in ref], axis=0)
    assert pearsonr(ours_imp, ref_imp)[0] > MIN_IMPORTANCE_PEARSON
    assert spearmanr(ours_imp[:8], ref_imp[:8])[0] > MIN_IMPORTANCE_SPEARMAN_USEFUL


def test_oob_score_and_decision_function_match_sklearn(informative_classification):
    X, y = informative_classification
    ours = [RandomForestClassifier(100, oob_score=True, random_state=s, device=DEVICE)
            .fit(X, y) for s in range(3)]
    ref = [fast_sklearn(ske.RandomForestClassifier, n_estimators=100, oob_score=True,
                        random_state=s).fit(X, y) for s in range(3)]
    gap = np.mean([m.oob_score_ for m in ours]) - np.mean([m.oob_score_ for m in ref])
    assert abs(gap) <= OOB_ACCURACY_TOLERANCE, gap
    for model in ours:
        oob = model.oob_decision_function_
        assert oob.shape == (len(y), 3)
        assert_allclose(oob.sum(axis=1), 1.0, rtol=1e-12)
        assert model.oob_score_ == pytest.approx(np.mean(oob.argmax(axis=1) == y))
        # Out-of-bag probabilities are worse than in-bag ones: the training accuracy is ~1.
        assert model.score(X, y) > model.oob_score_
    with pytest.raises(ValueError, match="Out of bag estimation only available if bootstrap"):
        RandomForestClassifier(5, oob_score=True, bootstrap=False, device=DEVICE).fit(X, y)


def test_oob_prediction_of_the_regressor_matches_sklearn():
    X, y = make_regression(1000, 10, n_informative=5, noise=10.0, shuffle=False,
                           random_state=SEED % 1000)
    params = dict(n_estimators=100, oob_score=True, max_features=0.5)
    ours = [RandomForestRegressor(random_state=s, device=DEVICE, **params).fit(X, y)
            for s in range(3)]
    ref = [fast_sklearn(ske.RandomForestRegressor, random_state=s, **params).fit(X, y)
           for s in range(3)]
    gap = np.mean([m.oob_score_ for m in ours]) - np.mean([m.oob_score_ for m in ref])
    assert abs(gap) <= OOB_R2_TOLERANCE, gap
    for model, sk_model in zip(ours, ref):
        pred = model.oob_prediction_
        assert pred.shape == (len(y),)
        assert model.oob_score_ == pytest.approx(1 - np.sum((y - pred) ** 2)
                                                 / np.sum((y - y.mean()) ** 2))
        assert np.corrcoef(pred, sk_model.oob_prediction_)[0, 1] > 0.98  # measured 0.991-0.992
        # The importances of a linear target: the 5 informative features first.
        assert model.feature_importances_[:5].min() > model.feature_importances_[5:].max()
    # Several targets: (n, n_outputs) out-of-bag predictions.
    Y = np.c_[y, -2 * y + 1]
    multi = RandomForestRegressor(20, oob_score=True, random_state=0, device=DEVICE).fit(X, Y)
    assert multi.oob_prediction_.shape == (len(y), 2)


def test_oob_score_callable(informative_classification):
    X, y = informative_classification
    from sklearn.metrics import balanced_accuracy_score

    model = RandomForestClassifier(30, oob_score=balanced_accuracy_score, random_state=0,
                                   device=DEVICE).fit(X, y)
    default = RandomForestClassifier(30, oob_score=True, random_state=0, device=DEVICE).fit(X, y)
    assert_array_equal(model.oob_decision_function_, default.oob_decision_function_)
    assert model.oob_score_ == pytest.approx(
        balanced_accuracy_score(y, default.oob_decision_function_.argmax(axis=1)))


# ============================================================================================
# Determinism


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_same_random_state_gives_the_same_forest(cls, rng):
    task = "classification" if cls is RandomForestClassifier else "regression"
    X, y, X_test, _ = continuous_data(rng, n=600, n_test=300, task=task)
    params = dict(n_estimators=20, max_features="sqrt", random_state=11, device=DEVICE)
    first, second = cls(**params).fit(X, y), cls(**params).fit(X, y)
    assert_same_forest(first, second)
    assert_array_equal(first.predict(X_test), second.predict(X_test))
    assert_array_equal(first.apply(X_test), second.apply(X_test))
    # A RandomState instance drawn to the same state is the same seed.
    third = cls(**{**params, "random_state": np.random.RandomState(11)}).fit(X, y)
    fourth = cls(**{**params, "random_state": np.random.RandomState(11)}).fit(X, y)
    assert_same_forest(third, fourth)
    # Another seed: other bootstrap draws and feature draws.
    other = cls(**{**params, "random_state": 12}).fit(X, y)
    fa, fo = forest_arrays(first), forest_arrays(other)
    assert fa["feature"].shape != fo["feature"].shape or not np.array_equal(fa["feature"],
                                                                           fo["feature"])
    assert not np.array_equal(first.predict(X_test) if task == "regression"
                              else first.predict_proba(X_test),
                              other.predict(X_test) if task == "regression"
                              else other.predict_proba(X_test))
    # Each tree of one forest is different (its own bootstrap and feature draws).
    roots = {(e.tree_.feature[0], e.tree_.threshold[0], e.tree_.n_node_samples[0])
             for e in first.estimators_}
    assert len(roots) > 1


# ============================================================================================
# Parameters


@pytest.mark.parametrize("max_features, expected", [("sqrt", 4), ("log2", 4), (3, 3), (0.5, 10),
                                                    (0.01, 1), (None, 20), (1.0, 20),
                                                    (25, 20)])
def test_max_features_resolves_as_sklearn(max_features, expected, informative_classification):
    X, y = informative_classification
    X, y = X[::5], y[::5]  # every class (the rows come class by class)
    ours = RandomForestClassifier(3, max_features=max_features, random_state=0, device=DEVICE)
    ref = ske.RandomForestClassifier(3, max_features=max_features, random_state=0)
    ours.fit(X, y)
    assert all(e.max_features_ == expected for e in ours.estimators_)
    assert ours.score(X, y) > 0.8  # 3 bootstrapped trees on their training rows
    if max_features == 25:
        # More than n_features: scikit-learn records 25 and visits all 20; gpulearn records
        # the 20 it visits, and grows the max_features=None forest.
        assert ref.fit(X, y).estimators_[0].max_features_ == 25
        everything = RandomForestClassifier(3, max_features=None, random_state=0,
                                            device=DEVICE).fit(X, y)
        assert_same_forest(ours, everything)
    else:
        assert ref.fit(X, y).estimators_[0].max_features_ == expected


@pytest.mark.parametrize("n_features", [2, 6, 10, 33])
def test_each_node_draws_its_features_uniformly(n_features, rng):
    # With max_features=1 a node splits on the one feature it draws (continuous features are
    # never constant), so over ~100,000 nodes every feature's share must be 1/d up to
    # sampling noise. scikit-learn's draws give p ~ U(0, 1) (0.69 for d=10, measured); a
    # biased draw favours some features in every tree, and the forest's quality then depends
    # on which columns carry the signal (measured: R^2 -0.0105 vs scikit-learn with the
    # informative features in disfavoured columns, +0.0103 in favoured ones).
    # 250 rows: a bin per value. With more distinct values than bins, small nodes often hold
    # rows of one bin of the drawn feature, which is then constant there and scikit-learn's
    # rule moves on to the next feature: that choice depends on the data (the same in every
    # tree without bootstrap), not on the draw, and would dominate this count.
    from scipy.stats import chisquare

    X = rng.normal(size=(250, n_features))
    y = rng.normal(size=250)
    model = RandomForestRegressor(400, max_features=1, bootstrap=False, random_state=1,
                                  device=DEVICE).fit(X, y)
    used = np.concatenate([e.tree_.feature[e.tree_.children_left != -1]
                           for e in model.estimators_])
    counts = np.bincount(used, minlength=n_features)
    shares = counts / counts.mean()
    assert chisquare(counts).pvalue > 1e-4, (
        f"feature draws not uniform: shares {np.round(shares, 3)} (1 each expected)")


@pytest.mark.parametrize("max_samples, drawn", [(None, 250), (100, 100), (0.3, 75), (1.0, 250)])
def test_bootstrap_and_max_samples_decide_each_trees_draws(max_samples, drawn, rng):
    X, y, _, _ = continuous_data(rng)
    ours = RandomForestClassifier(10, max_samples=max_samples, random_state=0,
                                  device=DEVICE).fit(X, y)
    ref = ske.RandomForestClassifier(10, max_samples=max_samples, random_state=0).fit(X, y)
    for model in (ours, ref):
        roots_w = [e.tree_.weighted_n_node_samples[0] for e in model.estimators_]
        roots_n = [e.tree_.n_node_samples[0] for e in model.estimators_]
        assert roots_w == [drawn] * 10  # bootstrap counts sum to the draws
        assert all(n < drawn for n in roots_n)  # with repetition: fewer distinct rows
    # Distinct rows of n draws from n: about 1 - 1/e of them.
    if drawn == 250:
        mean_distinct = np.mean([e.tree_.n_node_samples[0] for e in ours.estimators_])
        assert 0.55 * 250 < mean_distinct < 0.72 * 250
    no_bootstrap = RandomForestClassifier(10, bootstrap=False, random_state=0,
                                          device=DEVICE).fit(X, y)
    for e in no_bootstrap.estimators_:
        assert e.tree_.n_node_samples[0] == e.tree_.weighted_n_node_samples[0] == 250
    with pytest.raises(ValueError, match="max_sample"):
        RandomForestClassifier(3, bootstrap=False, max_samples=10, device=DEVICE).fit(X, y)


def test_forest_parameters_bound_every_tree(rng):
    X, y, X_test, y_test = continuous_data(rng, n=1000, n_test=500)
    n = len(y)
    for params, check in [
        ({"max_depth": 3}, lambda t: t.max_depth <= 3),
        ({"min_samples_leaf": 10},
         lambda t: t.n_node_samples[t.children_left == -1].min() >= 10),
        ({"min_samples_leaf": 0.02},
         lambda t: t.n_node_samples[t.children_left == -1].min() >= np.ceil(0.02 * n)),
        ({"min_samples_split": 40},
         lambda t: t.n_node_samples[t.children_left != -1].min() >= 40),
        ({"min_samples_split": 0.1},
         lambda t: t.n_node_samples[t.children_left != -1].min() >= 0.1 * n),
        ({"min_weight_fraction_leaf": 0.05},
         lambda t: t.weighted_n_node_samples[t.children_left == -1].min()
         >= 0.05 * t.weighted_n_node_samples[0] - 1e-9),
        ({"max_leaf_nodes": 6}, lambda t: t.n_leaves <= 6),
    ]:
        model = RandomForestClassifier(20, random_state=0, device=DEVICE, **params).fit(X, y)
        for e in model.estimators_:
            assert check(e.tree_), params
        assert model.score(X_test, y_test) > 0.7, params


def test_min_impurity_decrease_prunes_weak_splits(rng):
    X, y, X_test, y_test = continuous_data(rng, n=1000, n_test=500, task="regression")
    full = RandomForestRegressor(20, random_state=0, device=DEVICE).fit(X, y)
    pruned = RandomForestRegressor(20, min_impurity_decrease=0.01, random_state=0,
                                   device=DEVICE).fit(X, y)
    total = sum(e.tree_.node_count for e in full.estimators_)
    kept = sum(e.tree_.node_count for e in pruned.estimators_)
    assert kept < total / 5
    for e in pruned.estimators_:
        t = e.tree_
        internal = np.flatnonzero(t.children_left != -1)
        left, right = t.children_left[internal], t.children_right[internal]
        w = t.weighted_n_node_samples
        decrease = (w[internal] * t.impurity[internal] - w[left] * t.impurity[left]
                    - w[right] * t.impurity[right]) / w[0]
        assert decrease.min() >= 0.01 - 1e-9
    assert pruned.score(X_test, y_test) > 0.6


# Minority-class recall on 90/10 data (123 minority test rows), mean of 3 forests of 50 trees,
# measured at writing -- without bootstrap (scikit-learn fits each tree with the weights as
# given, as gpulearn does): None 0.507 vs scikit-learn 0.501, {0: 1, 1: 4} 0.683 vs 0.683,
# "balanced" 0.721 vs 0.721; with bootstrap, "balanced_subsample" (both weigh each tree's
# uniform draws) 0.688 vs 0.705. With bootstrap and a dict or "balanced", scikit-learn 1.9
# draws rows in proportion to the weights instead of multiplying counts by them (a documented
# difference): 0.645 vs 0.667 and 0.688 vs 0.737, so there only the effect is checked.
RECALL_TOLERANCE = 0.05


@pytest.mark.parametrize("class_weight, bootstrap", [({0: 1.0, 1: 4.0}, False),
                                                     ("balanced", False),
                                                     ("balanced_subsample", True),
                                                     ({0: 1.0, 1: 4.0}, True),
                                                     ("balanced", True)])
def test_class_weight_on_imbalanced_data_acts_as_sklearns(class_weight, bootstrap):
    # Leaves of >= 20 rows, so that the weights move the leaf majorities.
    X, y = make_classification(2000, 10, n_informative=4, weights=[0.9, 0.1], flip_y=0.05,
                               random_state=SEED % 1000 + 1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0,
                                                        stratify=y)
    params = dict(n_estimators=50, min_samples_leaf=20, bootstrap=bootstrap)

    def minority_recall(cls, **kwargs):
        recalls = []
        for seed in range(3):
            model = cls(random_state=seed, **params, **kwargs).fit(X_train, y_train)
            recalls.append(np.mean(model.predict(X_test)[y_test == 1] == 1))
        return np.mean(recalls)

    ours_plain = minority_recall(RandomForestClassifier, device=DEVICE)
    ours = minority_recall(RandomForestClassifier, device=DEVICE, class_weight=class_weight)
    assert ours > ours_plain + 0.15, (ours, ours_plain)
    if bootstrap and class_weight != "balanced_subsample":
        return
    ref = minority_recall(ske.RandomForestClassifier, n_jobs=2, class_weight=class_weight)
    assert abs(ours - ref) <= RECALL_TOLERANCE, (ours, ref)


def test_class_weight_equals_the_sample_weight_it_implies(rng):
    X, y, X_test, _ = continuous_data(rng, n_test=300)
    params = dict(n_estimators=10, random_state=5, device=DEVICE)
    for class_weight in ({0: 1, 1: 3, 2: 2}, "balanced"):
        w = compute_sample_weight(class_weight, y)
        by_class = RandomForestClassifier(class_weight=class_weight, **params).fit(X, y)
        by_sample = RandomForestClassifier(**params).fit(X, y, sample_weight=w)
        assert_same_forest(by_class, by_sample)
    # Without bootstrap, "balanced_subsample" is "balanced" (scikit-learn's rule).
    a = RandomForestClassifier(class_weight="balanced_subsample", bootstrap=False, **params)
    b = RandomForestClassifier(class_weight="balanced", bootstrap=False, **params)
    assert_same_forest(a.fit(X, y), b.fit(X, y))
    # With bootstrap it weighs each tree's own draws: every tree's root is balanced.
    sub = RandomForestClassifier(class_weight="balanced_subsample", **params).fit(X, y)
    for e in sub.estimators_:
        root = e.tree_.value[0, 0]
        assert_allclose(root, 1 / 3, atol=1e-6)
    # A class weight multiplies a sample weight.
    w = rng.uniform(0.5, 2.0, size=len(y))
    cw = {0: 1, 1: 3, 2: 2}
    both = RandomForestClassifier(class_weight=cw, **params).fit(X, y, sample_weight=w)
    product = RandomForestClassifier(**params).fit(X, y, sample_weight=w
                                                   * compute_sample_weight(cw, y))
    assert_same_forest(both, product)


@pytest.mark.parametrize("criterion", ["entropy", "log_loss"])
def test_entropy_and_log_loss_are_the_same_criterion(criterion, rng):
    X, y, X_test, _ = continuous_data(rng, n=500, n_test=200)
    model = RandomForestClassifier(10, criterion=criterion, random_state=0,
                                   device=DEVICE).fit(X, y)
    other = RandomForestClassifier(10, criterion="entropy", random_state=0,
                                   device=DEVICE).fit(X, y)
    assert_same_forest(model, other)
    gini = RandomForestClassifier(10, criterion="gini", random_state=0, device=DEVICE).fit(X, y)
    assert not np.array_equal(forest_arrays(gini)["impurity"],
                              forest_arrays(model)["impurity"])
    # Entropy in bits: a root of three classes is at most log2(3).
    assert 0 < model.estimators_[0].tree_.impurity[0] <= np.log2(3)


def test_friedman_mse_on_one_output_grows_the_squared_error_forest(rng):
    # For one output Friedman's improvement is the squared error's times a constant of the
    # node (scikit-learn 1.9 maps the name to squared_error for that reason): the same
    # forest, measured identical over 3 draws. Impurities are squared errors in both.
    X, y, X_test, y_test = continuous_data(rng, n=500, n_test=300, task="regression")
    params = dict(n_estimators=10, random_state=0, device=DEVICE)
    friedman = RandomForestRegressor(criterion="friedman_mse", **params).fit(X, y)
    squared = RandomForestRegressor(criterion="squared_error", **params).fit(X, y)
    assert_same_forest(friedman, squared)
    assert friedman.score(X_test, y_test) > 0.6
    # Several outputs: Friedman's score sums the outputs first (scikit-learn <= 1.8's
    # FriedmanMSE), still a working forest.
    Y = np.c_[y, float32_exact(X[:, 2] * X[:, 3])]
    multi = RandomForestRegressor(criterion="friedman_mse", **params).fit(X, Y)
    assert multi.predict(X_test).shape == (300, 2)
    assert multi.score(X, Y) > 0.8


def _rows_per_node(tree, X):
    """For each node of a tree, the indices of the rows of X that reach it."""
    rows = {0: np.arange(X.shape[0])}
    for node in range(tree.node_count):  # preorder: a parent comes before its children
        if tree.children_left[node] == -1:
            continue
        here = rows[node]
        left = X[here, tree.feature[node]] <= tree.threshold[node]
        rows[tree.children_left[node]] = here[left]
        rows[tree.children_right[node]] = here[~left]
    return rows


def _fewest_edges(intervals):
    """The fewest points hitting every closed interval [lo, hi] (greedy interval stabbing)."""
    count, last = 0, -np.inf
    for lo, hi in sorted(intervals, key=lambda iv: iv[1]):
        if lo > last:
            count, last = count + 1, hi
    return count


@pytest.mark.parametrize("n_bins", [2, 4, 16])
def test_few_bins_restrict_the_candidate_splits(n_bins, rng):
    X, y, X_test, y_test = continuous_data(rng, n=2000, n_test=1000)
    model = RandomForestClassifier(10, n_bins=n_bins, bootstrap=False, random_state=0,
                                   device=DEVICE).fit(X, y)
    # A split "code <= b" sends a node's rows left by bin; its threshold lies midway between
    # the node's own values on either side, so thresholds differ from node to node, but the
    # bin edges they stand for are at most n_bins - 1 per feature: each split's left rows end
    # and its right rows begin at an edge (in the ranks of the feature's training values),
    # and n_bins - 1 edges must account for every split of the feature.
    ranks = np.stack([np.searchsorted(np.unique(X[:, j]), X[:, j]) for j in
                      range(X.shape[1])], axis=1)
    intervals = {j: [] for j in range(X.shape[1])}
    for est in model.estimators_:
        tree = est.tree_
        for node, rows in _rows_per_node(tree, X).items():
            if tree.children_left[node] == -1:
                continue
            j = tree.feature[node]
            left = X[rows, j] <= tree.threshold[node]
            intervals[j].append((ranks[rows[left], j].max() + 1, ranks[rows[~left], j].min()))
    for j, spans in intervals.items():
        assert _fewest_edges(spans) <= n_bins - 1, (j, n_bins)
    assert sum(map(len, intervals.values())) > 50
    # Still a working classifier (the target depends on x0 + x1^2 and x2 > 1).
    assert model.score(X_test, y_test) > (0.6 if n_bins == 2 else 0.75)
    assert_allclose(model.predict_proba(X_test).sum(axis=1), 1.0, rtol=1e-12)
    # Regressor too.
    Xr, yr, Xr_test, yr_test = continuous_data(rng, n=2000, n_test=1000, task="regression")
    reg = RandomForestRegressor(20, n_bins=n_bins, random_state=0, device=DEVICE).fit(Xr, yr)
    assert reg.score(Xr_test, yr_test) > (0.3 if n_bins == 2 else 0.6)


def test_more_distinct_values_than_bins_keeps_quality(rng):
    # 4000 distinct values per feature in 256 quantile bins: splits among 255 edges only.
    X, y, X_test, y_test = continuous_data(rng, n=4000, n_test=2000)
    ours = RandomForestClassifier(30, random_state=0, device=DEVICE).fit(X, y)
    ref = fast_sklearn(ske.RandomForestClassifier, n_estimators=30, random_state=0).fit(X, y)
    # Measured: 0.887 vs scikit-learn's 0.885 (one forest each of 30 trees, 2000 test rows).
    assert ours.score(X_test, y_test) >= ref.score(X_test, y_test) - 0.02


def test_float32_input_is_kept_and_gives_the_float64_forest(rng):
    X, y, X_test, _ = continuous_data(rng, n=500, n_test=300)
    X32, X_test32 = X.astype(np.float32), X_test.astype(np.float32)
    a = RandomForestClassifier(10, random_state=0, device=DEVICE).fit(X32, y)
    b = RandomForestClassifier(10, random_state=0, device=DEVICE).fit(X, y)
    assert_same_forest(a, b)
    assert a.estimators_[0].tree_.threshold.dtype == np.float64
    assert_array_equal(a.predict_proba(X_test32), b.predict_proba(X_test))
    assert_array_equal(a.apply(X_test32), b.apply(X_test))
    # float32 queries to a float64-fitted forest: routed as their float64 values are.
    assert_array_equal(b.predict_proba(X_test32), b.predict_proba(X_test))
    Xr, yr, Xr_test, _ = continuous_data(rng, n=500, n_test=300, task="regression")
    ra = RandomForestRegressor(10, random_state=0, device=DEVICE).fit(Xr.astype(np.float32), yr)
    rb = RandomForestRegressor(10, random_state=0, device=DEVICE).fit(Xr, yr)
    assert_same_forest(ra, rb)
    assert_allclose(ra.predict(Xr_test.astype(np.float32)), rb.predict(Xr_test),
                    rtol=RTOL_VALUE)


def test_float32_thresholds_route_values_next_to_them(rng):
    # Training values one float32 ulp apart: the float64 midpoint threshold is not a float32,
    # and float32 queries equal to either value must go to their own side.
    base = np.float32(1.0)
    values = np.array([base, np.nextafter(base, np.float32(2))], dtype=np.float32)
    X = np.repeat(values, 20).reshape(-1, 1)
    y = np.repeat([0, 1], 20)
    model = RandomForestClassifier(1, bootstrap=False, random_state=0, device=DEVICE).fit(X, y)
    assert model.estimators_[0].tree_.node_count == 3
    assert_array_equal(model.predict(values.reshape(-1, 1)), [0, 1])
    assert_array_equal(model.predict(values.astype(np.float64).reshape(-1, 1)), [0, 1])


def test_a_trees_classes_are_encoded_as_in_sklearns_forests(rng):
    # scikit-learn's forest trees see the encoded labels: classes_ 0..k-1 (float) and predict
    # returning indices, decoded by the forest's classes_.
    X, y, X_test, _ = continuous_data(rng, n_test=50)
    labels = np.array(["b", "c", "a"])[y]
    model = RandomForestClassifier(5, random_state=0, device=DEVICE).fit(X, labels)
    ref = ske.RandomForestClassifier(5, random_state=0).fit(X, labels)
    tree, ref_tree = model.estimators_[2], ref.estimators_[2]
    assert_array_equal(tree.classes_, ref_tree.classes_)
    assert tree.classes_.dtype == ref_tree.classes_.dtype
    pred = tree.predict(X_test)
    assert pred.dtype == ref_tree.predict(X_test).dtype
    decoded = model.classes_[pred.astype(int)]
    assert_array_equal(decoded, model.classes_[tree.predict_proba(X_test).argmax(axis=1)])


def test_warnings_point_at_the_callers_line(rng):
    X, y, _, _ = continuous_data(rng)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        RandomForestRegressor(3, max_samples=0.01, device=DEVICE).fit(X, y)  # 2 rows per tree
        RandomForestRegressor(3, device=DEVICE).fit(X, y.reshape(-1, 1))
        RandomForestClassifier(2, oob_score=True, random_state=0, device=DEVICE).fit(X, y)
    messages = [str(w.message) for w in caught]
    assert any("low number" in m for m in messages), messages
    assert any("column-vector y" in m for m in messages), messages
    assert any("do not have OOB scores" in m for m in messages), messages
    assert {w.filename for w in caught} == {__file__}, [(w.filename, w.lineno) for w in caught]


def test_malformed_class_weight_is_a_value_error(rng):
    X, y, _, _ = continuous_data(rng)  # classes 0, 1, 2
    with pytest.raises(ValueError):
        RandomForestClassifier(2, class_weight={0: 1.0, 7: 2.0}, device=DEVICE).fit(X, y)


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_apply_is_consistent_with_the_tree_arrays(cls, rng):
    task = "classification" if cls is RandomForestClassifier else "regression"
    X, y, X_test, _ = continuous_data(rng, n=400, n_test=100, task=task)
    model = cls(15, max_depth=6, random_state=0, device=DEVICE).fit(X, y)
    leaves = model.apply(X_test)
    assert leaves.shape == (100, 15) and leaves.dtype == np.int64
    expected = np.zeros((100, model.n_classes_ if task == "classification" else 1))
    for t, est in enumerate(model.estimators_):
        tree = est.tree_
        assert_array_equal(est.apply(X_test), leaves[:, t])
        assert np.all(tree.children_left[leaves[:, t]] == -1)
        # Route every row through the arrays by hand.
        for r in range(len(X_test)):
            node = 0
            while tree.children_left[node] != -1:
                go_left = X_test[r, tree.feature[node]] <= tree.threshold[node]
                node = tree.children_left[node] if go_left else tree.children_right[node]
            assert node == leaves[r, t]
        expected += tree.value[leaves[:, t], 0, :]
    expected /= 15
    if task == "classification":
        assert_allclose(model.predict_proba(X_test), expected, rtol=1e-12)
    else:
        assert_allclose(model.predict(X_test), expected[:, 0], rtol=1e-12)
    # Tree arrays have scikit-learn's dtypes and shapes.
    tree = model.estimators_[0].tree_
    assert tree.children_left.dtype == tree.feature.dtype == np.int64
    assert tree.threshold.dtype == tree.impurity.dtype == np.float64
    assert tree.value.shape[:2] == (tree.node_count, 1)
    assert len(model) == 15 and model[3] is model.estimators_[3]


def test_predict_proba_and_log_proba(rng):
    X, y, X_test, _ = continuous_data(rng, n=400, n_test=200)
    model = RandomForestClassifier(25, random_state=0, device=DEVICE).fit(X, y)
    proba = model.predict_proba(X_test)
    assert proba.shape == (200, 3) and proba.dtype == np.float64
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all((proba >= 0) & (proba <= 1))
    with np.errstate(divide="ignore"):
        assert_array_equal(model.predict_log_proba(X_test), np.log(proba))
    assert_array_equal(model.predict(X_test), model.classes_[proba.argmax(axis=1)])
    assert model.score(X_test, model.predict(X_test)) == 1.0


def test_string_class_labels(rng):
    X, y, X_test, _ = continuous_data(rng, n=300, n_test=100)
    names = np.array(["cat", "dog", "emu"])
    by_name = RandomForestClassifier(10, random_state=0, device=DEVICE).fit(X, names[y])
    by_int = RandomForestClassifier(10, random_state=0, device=DEVICE).fit(X, y)
    assert_array_equal(by_name.classes_, names)
    assert by_name.n_classes_ == 3
    pred = by_name.predict(X_test)
    assert pred.dtype.kind == "U"
    assert_array_equal(pred, names[by_int.predict(X_test)])
    assert_array_equal(by_name.predict_proba(X_test), by_int.predict_proba(X_test))
    # Labels that are not 0..k-1 (and not sorted in the data).
    odd = np.array([7, -3, 42])[y]
    model = RandomForestClassifier(10, random_state=0, device=DEVICE).fit(X, odd)
    assert_array_equal(model.classes_, [-3, 7, 42])
    assert set(np.unique(model.predict(X_test))) <= {-3, 7, 42}


def test_constant_features_are_never_split_on(rng):
    X, y, X_test, y_test = continuous_data(rng, n=400, n_test=200)
    X = np.hstack([np.full((400, 1), 3.0), X, np.full((400, 1), -1.0)])
    X_test = np.hstack([np.full((200, 1), 3.0), X_test, np.full((200, 1), -1.0)])
    model = RandomForestClassifier(20, max_features=1, random_state=0, device=DEVICE).fit(X, y)
    f = forest_arrays(model)
    assert not np.any(np.isin(f["feature"], [0, 7]))
    assert model.feature_importances_[0] == model.feature_importances_[7] == 0.0
    # With max_features=1 a node draws more features while the drawn ones are constant, so
    # no tree stops at the root because it drew a constant feature.
    assert all(e.tree_.node_count > 1 for e in model.estimators_)
    assert model.score(X_test, y_test) > 0.7
    # All features constant: every tree is one leaf, importances all 0 (scikit-learn's).
    flat = RandomForestClassifier(5, bootstrap=False, random_state=0,
                                  device=DEVICE).fit(np.ones((50, 3)), y[:50])
    assert all(e.tree_.node_count == 1 for e in flat.estimators_)
    assert_array_equal(flat.feature_importances_, np.zeros(3))
    assert_array_equal(flat.predict(np.ones((2, 3))), [np.bincount(y[:50]).argmax()] * 2)
    reg = RandomForestRegressor(5, random_state=0, bootstrap=False,
                                device=DEVICE).fit(np.ones((50, 2)), np.arange(50.0))
    assert_allclose(reg.predict(np.zeros((3, 2))), 24.5, rtol=1e-12)


def test_a_single_class_is_predicted(rng):
    X, _, X_test, _ = continuous_data(rng, n=100, n_test=20)
    y = np.full(100, "only")
    model = RandomForestClassifier(5, random_state=0, device=DEVICE).fit(X, y)
    ref = ske.RandomForestClassifier(5, random_state=0).fit(X, y)
    assert_array_equal(model.classes_, ref.classes_)
    assert_array_equal(model.predict(X_test), ref.predict(X_test))
    assert model.predict_proba(X_test).shape == ref.predict_proba(X_test).shape == (20, 1)
    assert_array_equal(model.predict_proba(X_test), 1.0)
    assert all(e.tree_.node_count == 1 for e in model.estimators_)


def test_regressor_multi_output_shapes_and_column_vector(rng):
    X, y, X_test, _ = continuous_data(rng, n=300, n_test=50, task="regression")
    Y = np.c_[y, 2 * y, -y]
    model = RandomForestRegressor(10, random_state=0, device=DEVICE).fit(X, Y)
    assert model.n_outputs_ == 3
    pred = model.predict(X_test)
    assert pred.shape == (50, 3)
    # Targets that are multiples of each other give the same trees' structure and predictions.
    assert_allclose(pred[:, 1], 2 * pred[:, 0], rtol=1e-10)
    assert model.estimators_[0].tree_.value.shape[1:] == (3, 1)
    with pytest.warns(Warning, match="column-vector y"):
        col = RandomForestRegressor(10, random_state=0, device=DEVICE).fit(X, y.reshape(-1, 1))
    assert col.predict(X_test).shape == (50,)
    one = RandomForestRegressor(10, random_state=0, device=DEVICE).fit(X, y)
    assert_array_equal(col.predict(X_test), one.predict(X_test))


def test_hyper_parameters_are_sklearns_plus_n_bins_and_device():
    for ours_cls, sk_cls in ((RandomForestClassifier, ske.RandomForestClassifier),
                             (RandomForestRegressor, ske.RandomForestRegressor)):
        ours = ours_cls().get_params()
        assert ours.pop("device") == "auto"
        assert ours.pop("n_bins") == 256
        assert ours == sk_cls().get_params()


# ============================================================================================
# Bad input


@pytest.fixture
def small(rng):
    X, y, _, _ = continuous_data(rng, n=60, d=4)
    return X, y


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
@pytest.mark.parametrize("value, match", [(np.nan, "NaN"), (np.inf, "infinity"),
                                          (-np.inf, "infinity")])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_non_finite_x_is_a_value_error(cls, value, match, dtype, small):
    X, y = small
    X = X.astype(dtype)
    bad = X.copy()
    bad[17, 2] = value
    with pytest.raises(ValueError, match=match):
        cls(3, device=DEVICE).fit(bad, y)
    model = cls(3, random_state=0, device=DEVICE).fit(X, y)
    with pytest.raises(ValueError, match=match):
        model.predict(bad)
    with pytest.raises(ValueError, match=match):
        model.apply(bad)


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_wrong_feature_count_at_predict(cls, small):
    X, y = small
    model = cls(3, random_state=0, device=DEVICE).fit(X, y)
    name = cls.__name__
    with pytest.raises(ValueError, match=f"X has 3 features, but {name} is expecting 4"):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match=f"X has 5 features, but {name} is expecting 4"):
        model.apply(np.hstack([X, X[:, :1]]))
    if cls is RandomForestClassifier:
        with pytest.raises(ValueError, match="expecting 4"):
            model.predict_proba(X[:, :3])


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_empty_and_one_sample(cls, small):
    X, y = small
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        cls(3, device=DEVICE).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        cls(3, device=DEVICE).fit(X[:, :0], y)
    model = cls(3, random_state=0, device=DEVICE).fit(X, y)
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        model.predict(X[:0])
    # One sample: scikit-learn fits it (one leaf per tree) and so do we.
    one = cls(3, random_state=0, device=DEVICE).fit(X[:1], y[:1])
    ref = (ske.RandomForestClassifier if cls is RandomForestClassifier
           else ske.RandomForestRegressor)(3, random_state=0).fit(X[:1], y[:1])
    assert_array_equal(one.predict(X[:5]), ref.predict(X[:5]))
    assert all(e.tree_.node_count == 1 for e in one.estimators_)
    # One feature.
    assert cls(3, random_state=0, device=DEVICE).fit(X[:, :1], y).predict(X[:, :1]).shape == (60,)


def test_y_problems_are_value_errors(small):
    X, y = small
    y_reg = y.astype(np.float64)
    y_reg[5] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        RandomForestRegressor(3, device=DEVICE).fit(X, y_reg)
    y_reg[5] = np.inf
    with pytest.raises(ValueError, match="Input y contains infinity"):
        RandomForestRegressor(3, device=DEVICE).fit(X, y_reg)
    with pytest.raises(ValueError):
        RandomForestClassifier(3, device=DEVICE).fit(X, np.where(y == 0, np.nan, y))
    with pytest.raises(ValueError, match="Unknown label type"):
        RandomForestClassifier(3, device=DEVICE).fit(X, np.linspace(0, 1, len(y)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        RandomForestClassifier(3, device=DEVICE).fit(X, y[:-1])


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_sample_weight_problems(cls, small):
    X, y = small
    w = np.ones(len(y))
    w[3] = -1.0
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        cls(3, device=DEVICE).fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match="sample_weight"):
        cls(3, device=DEVICE).fit(X, y, sample_weight=np.ones(len(y) + 1))
    w = np.ones(len(y))
    w[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cls(3, device=DEVICE).fit(X, y, sample_weight=w)
    with pytest.raises(ValueError):
        cls(3, device=DEVICE).fit(X, y, sample_weight=np.zeros(len(y)))
    # Zero weights on some rows are allowed; a scalar means equal weights.
    w = np.ones(len(y))
    w[:10] = 0.0
    cls(3, random_state=0, device=DEVICE).fit(X, y, sample_weight=w)
    scalar = cls(3, random_state=0, device=DEVICE).fit(X, y, sample_weight=2.0)
    plain = cls(3, random_state=0, device=DEVICE).fit(X, y)
    assert_array_equal(scalar.predict(X), plain.predict(X))


@pytest.mark.parametrize("n_bins", [0, 1, 257, 1000, 2.5, "256"])
def test_n_bins_out_of_range(n_bins, small):
    X, y = small
    with pytest.raises(InvalidParameterError, match="n_bins"):
        RandomForestClassifier(3, n_bins=n_bins, device=DEVICE).fit(X, y)
    for ok in (2, 256):
        RandomForestClassifier(3, n_bins=ok, random_state=0, device=DEVICE).fit(X, y)


@pytest.mark.parametrize("params, match", [
    ({"n_estimators": 0}, "n_estimators"),
    ({"max_depth": 0}, "max_depth"),
    ({"min_samples_split": 1}, "min_samples_split"),
    ({"min_samples_leaf": 0}, "min_samples_leaf"),
    ({"min_weight_fraction_leaf": 0.6}, "min_weight_fraction_leaf"),
    ({"max_features": "auto"}, "max_features"),
    ({"max_leaf_nodes": 1}, "max_leaf_nodes"),
    ({"min_impurity_decrease": -1.0}, "min_impurity_decrease"),
    ({"criterion": "bogus"}, "criterion"),
    ({"device": "tpu"}, "device"),
])
def test_invalid_hyper_parameters(params, match, small):
    X, y = small
    with pytest.raises(ValueError, match=match):
        RandomForestClassifier(**{"device": DEVICE, **params}).fit(X, y)


@pytest.mark.parametrize("criterion", ["absolute_error", "poisson"])
def test_unsupported_criteria_say_so(criterion, small):
    X, y = small
    with pytest.raises(NotImplementedError, match=f"criterion='{criterion}' is not supported"):
        RandomForestRegressor(3, criterion=criterion, device=DEVICE).fit(X, np.abs(y) + 1.0)
    with pytest.raises(ValueError, match="criterion"):
        RandomForestClassifier(3, criterion="squared_error", device=DEVICE).fit(X, y)


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
@pytest.mark.parametrize("params, match", [({"warm_start": True}, "warm_start"),
                                           ({"ccp_alpha": 0.01}, "ccp_alpha"),
                                           ({"monotonic_cst": [1, 0, 0, 0]}, "monotonic_cst")])
def test_unsupported_options_say_so(cls, params, match, small):
    X, y = small
    with pytest.raises(NotImplementedError, match=match):
        cls(3, device=DEVICE, **params).fit(X, y)


def test_sparse_input_is_refused(small):
    from scipy import sparse

    X, y = small
    with pytest.raises(TypeError, match="sparse"):
        RandomForestClassifier(3, device=DEVICE).fit(sparse.csr_matrix(X), y)
    model = RandomForestClassifier(3, random_state=0, device=DEVICE).fit(X, y)
    with pytest.raises(TypeError, match="sparse"):
        model.predict(sparse.csr_matrix(X))


def test_not_fitted(small):
    from sklearn.exceptions import NotFittedError

    X, _ = small
    with pytest.raises(NotFittedError):
        RandomForestClassifier(device=DEVICE).predict(X)
    with pytest.raises(NotFittedError):
        RandomForestRegressor(device=DEVICE).apply(X)
    with pytest.raises(AttributeError):
        RandomForestClassifier(device=DEVICE).estimators_


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_read_only_and_non_contiguous_x_give_the_same_forest(cls, rng):
    task = "classification" if cls is RandomForestClassifier else "regression"
    X, y, X_test, _ = continuous_data(rng, n=300, n_test=100, task=task)
    params = dict(n_estimators=8, random_state=0, device=DEVICE)
    reference = cls(**params).fit(X, y)
    expected = reference.predict(X_test)
    read_only = X.copy()
    read_only.flags.writeable = False
    X_test_ro = X_test.copy()
    X_test_ro.flags.writeable = False
    # Read-only, Fortran-ordered, row-strided and column-strided views of the same values.
    variants = [read_only, np.asfortranarray(X), np.repeat(X, 2, axis=0)[::2],
                np.repeat(X, 2, axis=1)[:, ::2]]
    for X_variant in variants:
        copy = X_variant.copy()
        model = cls(**params).fit(X_variant, y)
        assert_same_forest(model, reference)
        assert_array_equal(X_variant, copy)  # never written
    for X_query in (X_test_ro, np.asfortranarray(X_test), np.repeat(X_test, 2, axis=1)[:, ::2]):
        assert_array_equal(reference.predict(X_query), expected)
    # Integer input becomes float64, as in scikit-learn.
    Xi = np.round(X * 100).astype(np.int64)
    assert_array_equal(cls(**params).fit(Xi, y).predict(Xi),
                       cls(**params).fit(Xi.astype(np.float64), y).predict(Xi))


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_pickle_round_trip_predicts_identically(cls, rng):
    task = "classification" if cls is RandomForestClassifier else "regression"
    X, y, X_test, _ = continuous_data(rng, n=300, n_test=100, task=task)
    model = cls(30, oob_score=True, random_state=0, device=DEVICE).fit(X, y)
    expected = model.predict(X_test)  # the model now holds its prepared core forest
    restored = pickle.loads(pickle.dumps(model))
    assert_array_equal(restored.predict(X_test), expected)
    assert type(restored) is cls
    assert restored.get_params() == model.get_params()
    assert_same_forest(restored, model)
    assert_array_equal(restored.predict(X_test), model.predict(X_test))
    assert_array_equal(restored.apply(X_test), model.apply(X_test))
    assert restored.oob_score_ == model.oob_score_
    assert_array_equal(restored.feature_importances_, model.feature_importances_)
    if cls is RandomForestClassifier:
        assert_array_equal(restored.predict_proba(X_test), model.predict_proba(X_test))
        assert_array_equal(restored.classes_, model.classes_)
    # Refitting the restored model gives the same forest again.
    assert_same_forest(restored.fit(X, y), model)


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_refit_and_either_dtype_predict_from_the_current_forest(cls, rng):
    # The estimator keeps the core's prepared forest between predicts (one per feature dtype):
    # a refit must drop it, and float32 and float64 input must each route by their own rounding.
    task = "classification" if cls is RandomForestClassifier else "regression"
    X, y, X_test, _ = continuous_data(rng, n=300, n_test=100, task=task)
    X2, y2, _, _ = continuous_data(rng, n=300, n_test=0, task=task)
    def mean(m, X):
        return m.predict_proba(X) if cls is RandomForestClassifier else m.predict(X)

    model = cls(10, random_state=0, device=DEVICE).fit(X, y)
    before = mean(model, X_test)
    mean(model, X_test.astype(np.float32))
    model.fit(X2, y2)
    fresh = cls(10, random_state=0, device=DEVICE).fit(X2, y2)
    assert_array_equal(mean(model, X_test), mean(fresh, X_test))
    assert_array_equal(model.apply(X_test.astype(np.float32)),
                       fresh.apply(X_test.astype(np.float32)))
    assert not np.array_equal(mean(model, X_test), before)


def test_pandas_feature_names_are_kept(rng):
    pd = pytest.importorskip("pandas")
    X, y, X_test, _ = continuous_data(rng, n=200, n_test=20, d=3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = RandomForestClassifier(5, random_state=0, device=DEVICE).fit(frame, y)
    assert_array_equal(model.feature_names_in_, ["a", "b", "c"])
    assert_array_equal(model.predict(pd.DataFrame(X_test, columns=["a", "b", "c"])),
                       RandomForestClassifier(5, random_state=0, device=DEVICE).fit(X, y)
                       .predict(X_test))
