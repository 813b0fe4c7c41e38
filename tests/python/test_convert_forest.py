"""Random forests across the two libraries: ``from_sklearn`` and ``as_sklearn``.

- from_sklearn: a forest fitted by scikit-learn predicts, on gpulearn's CPU backend and on CUDA,
  exactly scikit-learn's predict, predict_proba, predict_log_proba and apply, on held-out data in
  float32 and float64 -- including float64 rows placed next to the thresholds, where comparing
  x instead of float32(x) (scikit-learn's rule) would route them differently.
- as_sklearn: a gpulearn forest becomes a plain scikit-learn forest (real DecisionTree* with
  real ``Tree`` objects, scikit-learn's attribute set) that pickles and predicts where gpulearn
  cannot be imported, with gpulearn's predictions. gpulearn's own trees compare float64 X in
  float64 while scikit-learn compares float32(X), so these comparisons use float32-exact data
  (where the two rules agree); probabilities agree to the last bits (scikit-learn sums the same
  leaf values in the same order), and exactly for regression.
"""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import ensemble as ske
from sklearn import tree as skt
from sklearn.exceptions import NotFittedError
from sklearn.tree._tree import Tree

from gpulearn.ensemble import RandomForestClassifier, RandomForestRegressor
from gpulearn.ensemble._forest_convert import float32_split_thresholds

from _testdata import SEED

N_TREES = 8


@pytest.fixture
def rng():
    return np.random.default_rng(SEED)


def classification_data(rng, n=300, n_test=200, d=5, labels=None):
    """Continuous float64 X (not float32-exact) and 3 classes."""
    X = rng.normal(size=(n + n_test, d)) * [1.0, 3.0, 0.1, 10.0, 1.0][:d]
    y = (X[:, 0] + X[:, 1] / 3 + 0.7 * rng.normal(size=n + n_test) > 0).astype(int)
    y += X[:, 2] > 0.1
    if labels is not None:
        y = np.asarray(labels)[y]
    return X[:n], y[:n], X[n:]


def regression_data(rng, n=300, n_test=200, d=5, n_outputs=1):
    X = rng.normal(size=(n + n_test, d))
    Y = np.stack([X[:, k % d] + np.sin(2 * X[:, (k + 1) % d]) + 0.3 * rng.normal(size=n + n_test)
                  for k in range(n_outputs)], axis=1)
    y = Y[:, 0] if n_outputs == 1 else Y
    return X[:n], y[:n], X[n:]


def near_thresholds(sk_forest, X, rng):
    """Rows of X with each feature moved to (or next to) a threshold of that feature: values
    whose float32 rounding lands on the other side of the threshold than the value itself."""
    thresholds = {}
    for e in sk_forest.estimators_:
        t = e.tree_
        for f, th in zip(t.feature[t.feature >= 0], t.threshold[t.feature >= 0]):
            thresholds.setdefault(int(f), []).append(th)
    out = np.array(X, dtype=np.float64, copy=True)
    for f, ths in thresholds.items():
        th = np.asarray(ths)[rng.integers(0, len(ths), size=out.shape[0])]
        lo = np.float32(th).astype(np.float64)  # the float32 nearest the threshold
        candidates = np.stack([th, np.nextafter(th, np.inf), np.nextafter(th, -np.inf),
                               lo, np.nextafter(lo, np.inf), np.nextafter(lo, -np.inf),
                               (th + lo) / 2], axis=1)
        out[:, f] = candidates[np.arange(out.shape[0]), rng.integers(0, 7, size=out.shape[0])]
    return out


def assert_predicts_as_sklearn(ours, sk, X):
    if hasattr(sk, "predict_proba"):
        assert_array_equal(ours.predict_proba(X), sk.predict_proba(X))
        with np.errstate(divide="ignore"):
            assert_array_equal(ours.predict_log_proba(X), sk.predict_log_proba(X))
    assert_array_equal(ours.predict(X), sk.predict(X))
    assert_array_equal(ours.apply(X), sk.apply(X))


CLASSIFIER_CASES = {
    "depth1": dict(max_depth=1),
    "depth3": dict(max_depth=3),
    "unlimited": dict(),
    "max_leaf_nodes": dict(max_leaf_nodes=17),
    "balanced": dict(class_weight="balanced", max_depth=6),
    "class_weight_dict": dict(class_weight={0: 1.0, 1: 3.0, 2: 0.5}),
    "no_bootstrap_entropy": dict(bootstrap=False, criterion="entropy", max_features=2),
    "pruned": dict(ccp_alpha=0.004),  # renumbered by scikit-learn's pruning
}
REGRESSOR_CASES = {
    "depth1": dict(max_depth=1),
    "depth3": dict(max_depth=3),
    "unlimited": dict(),
    "max_leaf_nodes": dict(max_leaf_nodes=23),
    "no_bootstrap": dict(bootstrap=False, max_features=0.6, min_samples_leaf=3),
    # Criteria gpulearn does not fit with: the trees still walk as any other.
    "absolute_error": dict(criterion="absolute_error", max_depth=5),
}


def fitted_sklearn(kind, case, rng, dtype=np.float64, **data):
    if kind == "classifier":
        X, y, X_test = classification_data(rng, **data)
        params = CLASSIFIER_CASES[case]
        sk = ske.RandomForestClassifier(n_estimators=N_TREES, random_state=0, **params)
    else:
        X, y, X_test = regression_data(rng, **data)
        params = REGRESSOR_CASES[case]
        sk = ske.RandomForestRegressor(n_estimators=N_TREES, random_state=0, **params)
    sk.fit(X.astype(dtype), y)
    return sk, X, y, X_test.astype(dtype)


GL = {"classifier": RandomForestClassifier, "regressor": RandomForestRegressor}
ALL_CASES = ([("classifier", c) for c in CLASSIFIER_CASES]
             + [("regressor", c) for c in REGRESSOR_CASES])


# ============================================================================================
# from_sklearn


def check_from_sklearn(kind, case, dtype, device, rng):
    sk, X, _, X_test = fitted_sklearn(kind, case, rng, dtype)
    ours = GL[kind].from_sklearn(sk, device=device)
    assert ours.device == device
    assert_predicts_as_sklearn(ours, sk, X_test)
    assert_predicts_as_sklearn(ours, sk, X.astype(dtype))
    if dtype == np.float64:
        assert_predicts_as_sklearn(ours, sk, near_thresholds(sk, X_test, rng))
    return sk, ours


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,case", ALL_CASES)
def test_from_sklearn_predicts_sklearns_predictions_on_the_cpu(kind, case, dtype, rng):
    sk, ours = check_from_sklearn(kind, case, dtype, "cpu", rng)
    assert_allclose(ours.feature_importances_, sk.feature_importances_, rtol=1e-13, atol=1e-15)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,case", ALL_CASES)
def test_from_sklearn_predicts_sklearns_predictions_on_cuda(kind, case, dtype, rng):
    check_from_sklearn(kind, case, dtype, "cuda", rng)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_multi_output_regression_and_string_labels(device, rng):
    sk, _, _, X_test = fitted_sklearn("regressor", "unlimited", rng, n_outputs=3)
    ours = RandomForestRegressor.from_sklearn(sk, device=device)
    assert ours.n_outputs_ == 3
    assert_predicts_as_sklearn(ours, sk, X_test)
    assert_predicts_as_sklearn(ours, sk, near_thresholds(sk, X_test, rng))

    X, y, X_test = classification_data(rng, labels=["cat", "dog", "emu"])
    sk = ske.RandomForestClassifier(n_estimators=N_TREES, random_state=1).fit(X, y)
    ours = RandomForestClassifier.from_sklearn(sk, device=device)
    assert_array_equal(ours.classes_, sk.classes_)
    assert_predicts_as_sklearn(ours, sk, X_test)


def test_feature_names_are_kept(rng):
    pd = pytest.importorskip("pandas")
    X, y, X_test = classification_data(rng)
    columns = [f"f{j}" for j in range(X.shape[1])]
    X, X_test = pd.DataFrame(X, columns=columns), pd.DataFrame(X_test, columns=columns)
    sk = ske.RandomForestClassifier(n_estimators=N_TREES, random_state=0).fit(X, y)
    ours = RandomForestClassifier.from_sklearn(sk, device="cpu")
    assert_array_equal(ours.feature_names_in_, columns)
    assert_predicts_as_sklearn(ours, sk, X_test)
    with pytest.raises(ValueError, match="feature names"):
        ours.predict(X_test[columns[::-1]])
    assert_array_equal(ours.as_sklearn().feature_names_in_, columns)


def test_near_threshold_rows_need_the_float32_rule(rng):
    """The rows near the thresholds do separate the two rules: the converted forest walked with
    gpulearn's rule for its own trees (x itself against the threshold) reaches other leaves than
    scikit-learn for some of them."""
    sk, _, _, X_test = fitted_sklearn("classifier", "unlimited", rng)
    X_near = near_thresholds(sk, X_test, rng)
    naive = RandomForestClassifier.from_sklearn(sk, device="cpu")
    naive._set_sklearn_routing(False)
    assert (naive.apply(X_near) != sk.apply(X_near)).any()


def test_trees_of_a_converted_forest_predict_as_sklearns_trees(rng):
    sk, _, _, X_test = fitted_sklearn("classifier", "max_leaf_nodes", rng)
    X_near = near_thresholds(sk, X_test, rng)
    ours = RandomForestClassifier.from_sklearn(sk, device="cpu")
    for t in (0, N_TREES - 1):
        assert_array_equal(ours.estimators_[t].predict_proba(X_near),
                           sk.estimators_[t].predict_proba(X_near))
        assert_array_equal(ours.estimators_[t].apply(X_near), sk.estimators_[t].apply(X_near))
        assert_array_equal(ours.estimators_[t].tree_.threshold, sk.estimators_[t].tree_.threshold)


def test_converted_forest_pickles_with_sklearns_rule(rng):
    sk, _, _, X_test = fitted_sklearn("regressor", "unlimited", rng)
    ours = pickle.loads(pickle.dumps(RandomForestRegressor.from_sklearn(sk, device="cpu")))
    assert_predicts_as_sklearn(ours, sk, near_thresholds(sk, X_test, rng))


def test_oob_attributes_and_params_are_copied(rng):
    X, y, _ = classification_data(rng)
    sk = ske.RandomForestClassifier(n_estimators=30, oob_score=True, max_depth=5,
                                    random_state=0).fit(X, y)
    ours = RandomForestClassifier.from_sklearn(sk)
    assert ours.max_depth == 5 and ours.oob_score and ours.n_estimators == 30
    assert ours.oob_score_ == sk.oob_score_
    assert_array_equal(ours.oob_decision_function_, sk.oob_decision_function_)
    assert len(ours) == 30
    # A copy: refitting scikit-learn's forest leaves the converted one as it was.
    before = ours.predict_proba(X)
    sk.set_params(max_depth=1).fit(X, y)
    assert_array_equal(ours.predict_proba(X), before)


def test_float32_split_thresholds_route_float64_as_float32(rng):
    with np.errstate(over="ignore"):
        f32 = (rng.normal(size=500) * 10.0 ** rng.integers(-40, 39, size=500)).astype(np.float32)
    f32 = f32[np.isfinite(f32)].astype(np.float64)
    up = np.nextafter(f32.astype(np.float32), np.float32(np.inf)).astype(np.float64)
    t = np.concatenate([rng.normal(size=500), f32, (f32 + up) / 2,
                        [0.0, -0.0, 3.4e38, -3.4e38, 1e39, -1e39, 1e-46, -1e-46, 5e-324,
                         float(np.finfo(np.float32).max)]])
    adjusted = float32_split_thresholds(t)
    with np.errstate(over="ignore"):
        halfway = (t + t.astype(np.float32)) / 2
    for x in (t, np.nextafter(t, np.inf), np.nextafter(t, -np.inf), adjusted,
              np.nextafter(adjusted, np.inf), halfway):
        x = x[np.abs(x) < 3.4e38]
        tt = np.resize(adjusted, x.shape)
        t_ref = np.resize(t, x.shape)
        assert_array_equal(x <= tt, x.astype(np.float32) <= t_ref)


# ============================================================================================
# as_sklearn


def gpulearn_forest(kind, rng, n_outputs=1, labels=None, **params):
    """A gpulearn forest fitted on float32-exact data, and float32-exact held-out rows."""
    if kind == "classifier":
        X, y, X_test = classification_data(rng, labels=labels)
    else:
        X, y, X_test = regression_data(rng, n_outputs=n_outputs)
    X, X_test = (np.float32(a).astype(np.float64) for a in (X, X_test))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Some inputs do not have OOB scores")
        ours = GL[kind](n_estimators=N_TREES, random_state=0, device="cpu", **params).fit(X, y)
    return ours, X, y, X_test


def assert_sklearn_predicts_as_gpulearn(sk, ours, X):
    if hasattr(sk, "predict_proba"):
        assert_array_equal(sk.predict_proba(X), ours.predict_proba(X))
        assert_array_equal(sk.predict(X), ours.predict(X))
    else:
        assert_array_equal(sk.predict(X), ours.predict(X))
    assert_array_equal(sk.apply(X), ours.apply(X))


AS_SKLEARN_CASES = [
    ("classifier", {}, dict(max_depth=4)),
    ("classifier", {}, dict(oob_score=True, class_weight="balanced")),
    ("classifier", {"labels": ["a", "b", "c"]}, dict(max_leaf_nodes=12, bootstrap=False)),
    ("regressor", {}, dict(oob_score=True)),
    ("regressor", {"n_outputs": 2}, dict(max_depth=3, max_samples=0.5)),
]


@pytest.mark.parametrize("kind,data,params", AS_SKLEARN_CASES)
def test_as_sklearn_is_a_plain_sklearn_forest(kind, data, params, rng):
    ours, X, y, X_test = gpulearn_forest(kind, rng, **data, **params)
    sk = ours.as_sklearn()
    sk_class = ske.RandomForestClassifier if kind == "classifier" else ske.RandomForestRegressor
    assert type(sk) is sk_class
    assert sk.get_params() == {**sk_class().get_params(), "n_estimators": N_TREES,
                               "random_state": 0, **params}
    # scikit-learn's own forest on the same data has the same attributes, as has its tree.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Some inputs do not have OOB scores")
        reference = sk_class(n_estimators=2, random_state=0, **params).fit(X, y)
    assert sorted(vars(sk)) == sorted(vars(reference))
    assert sorted(vars(sk.estimators_[0])) == sorted(vars(reference.estimators_[0]))
    tree = sk.estimators_[0]
    assert type(tree) is type(reference.estimators_[0])
    assert type(tree.tree_) is Tree
    for attr in ("max_features_", "n_outputs_", "n_features_in_", "classes_", "n_classes_"):
        if hasattr(reference.estimators_[0], attr):
            ref_value = getattr(reference.estimators_[0], attr)
            assert type(getattr(tree, attr)) is type(ref_value), attr
            assert_array_equal(getattr(tree, attr), ref_value)
    for attr in ("n_outputs_", "n_features_in_", "_n_samples", "_n_samples_bootstrap",
                 "classes_", "n_classes_"):
        if hasattr(reference, attr):
            assert_array_equal(getattr(sk, attr), getattr(reference, attr), err_msg=attr)
            assert type(getattr(sk, attr)) is type(getattr(reference, attr)), attr
    if params.get("oob_score"):
        assert sk.oob_score_ == ours.oob_score_
    assert "gpulearn" not in pickle.dumps(sk).decode("latin-1")
    assert_sklearn_predicts_as_gpulearn(sk, ours, X_test)
    assert_sklearn_predicts_as_gpulearn(sk, ours, X_test.astype(np.float32))
    assert_allclose(sk.feature_importances_, ours.feature_importances_, rtol=1e-12, atol=1e-15)
    for t in (0, N_TREES - 1):
        assert_allclose(sk.estimators_[t].feature_importances_,
                        ours.estimators_[t].feature_importances_, rtol=1e-12, atol=1e-15)
        assert sk.estimators_[t].get_depth() == ours.estimators_[t].get_depth()
        assert sk.estimators_[t].get_n_leaves() == ours.estimators_[t].get_n_leaves()


UNPICKLE_AND_PREDICT = """
import pickle, sys
sys.modules["gpulearn"] = None  # importing gpulearn now fails
import numpy as np
with open(sys.argv[1], "rb") as f:
    sk, X = pickle.load(f)
out = sk.predict_proba(X) if hasattr(sk, "predict_proba") else sk.predict(X)
np.save(sys.argv[2], out)
np.save(sys.argv[3], sk.apply(X))
"""


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_as_sklearn_pickles_and_predicts_without_gpulearn(kind, rng, tmp_path):
    ours, _, _, X_test = gpulearn_forest(kind, rng, max_depth=6)
    path = tmp_path / "forest.pkl"
    path.write_bytes(pickle.dumps((ours.as_sklearn(), X_test)))
    out, leaves = tmp_path / "out.npy", tmp_path / "leaves.npy"
    subprocess.run([sys.executable, "-c", UNPICKLE_AND_PREDICT, str(path), str(out),
                    str(leaves)], check=True)
    if kind == "classifier":
        assert_array_equal(np.load(out), ours.predict_proba(X_test))
    else:
        assert_array_equal(np.load(out), ours.predict(X_test))
    assert_array_equal(np.load(leaves), ours.apply(X_test))


# ============================================================================================
# Round trips


@pytest.mark.parametrize("kind,case", [("classifier", "max_leaf_nodes"),
                                       ("classifier", "balanced"), ("regressor", "unlimited")])
def test_sklearn_to_gpulearn_to_sklearn_keeps_the_trees(kind, case, rng):
    sk, _, _, X_test = fitted_sklearn(kind, case, rng)
    back = GL[kind].from_sklearn(sk, device="cpu").as_sklearn()
    assert sorted(vars(back)) == sorted(vars(sk))
    for a, b in zip(sk.estimators_, back.estimators_):
        sa, sb = a.tree_.__getstate__(), b.tree_.__getstate__()
        assert sa["node_count"] == sb["node_count"] and sa["max_depth"] == sb["max_depth"]
        assert_array_equal(sa["nodes"], sb["nodes"])
        assert_array_equal(sa["values"], sb["values"])
        assert sorted(vars(a)) == sorted(vars(b))
    X_near = near_thresholds(sk, X_test, rng)
    assert_predicts_as_sklearn(back, sk, X_near)
    assert_array_equal(back.feature_importances_, sk.feature_importances_)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_gpulearn_to_sklearn_to_gpulearn_keeps_the_trees(kind, rng):
    ours, _, _, X_test = gpulearn_forest(kind, rng, max_leaf_nodes=30)
    again = GL[kind].from_sklearn(ours.as_sklearn(), device="cpu")
    for key in ("tree_offsets", "children_left", "children_right", "threshold", "value",
                "impurity", "n_node_samples", "weighted_n_node_samples", "max_depth"):
        assert_array_equal(again._forest[key], ours._forest[key], err_msg=key)
    internal = ours._forest["children_left"] != -1
    assert_array_equal(again._forest["feature"][internal], ours._forest["feature"][internal])
    # float32-exact rows: scikit-learn's rule (the converted forest's) is gpulearn's.
    assert_array_equal(again.predict(X_test), ours.predict(X_test))
    assert_array_equal(again.apply(X_test), ours.apply(X_test))
    assert_allclose(again.feature_importances_, ours.feature_importances_, rtol=1e-12)


def test_accelerator_translations(rng):
    """gpulearn.accel's two calls: the fitted state set on a user's unfitted scikit-learn
    estimator makes it predict gpulearn's predictions; _from_sklearn_fitted of that estimator
    predicts scikit-learn's."""
    ours, _, _, X_test = gpulearn_forest("regressor", rng, max_depth=5)
    user = ske.RandomForestRegressor(n_estimators=N_TREES, max_depth=5, random_state=0)
    user.__dict__.update(ours._sklearn_fitted_state())
    assert_array_equal(user.predict(X_test), ours.predict(X_test))
    params = {name: getattr(user, name) for name in RandomForestRegressor._shared_param_names()}
    twin = RandomForestRegressor._from_sklearn_fitted(user, {**params, "device": "cpu"})
    X_near = near_thresholds(user, X_test, rng)
    assert_array_equal(twin.predict(X_near), user.predict(X_near))


def test_a_gpulearn_forest_switched_to_sklearns_routing_predicts_as_its_sklearn_forest(rng):
    """Any float64 rows (not float32-exact ones): what gpulearn.accel gets by switching the forest
    it fitted to scikit-learn's rule."""
    X, y, X_test = classification_data(rng)
    ours = RandomForestClassifier(n_estimators=N_TREES, random_state=0, device="cpu").fit(X, y)
    sk = ours.as_sklearn()
    X_near = near_thresholds(sk, X_test, rng)
    assert (ours.apply(X_near) != sk.apply(X_near)).any()  # gpulearn's own rule
    ours._set_sklearn_routing(True)
    assert_predicts_as_sklearn(ours, sk, X_near)
    ours._set_sklearn_routing(False)
    assert (ours.apply(X_near) != sk.apply(X_near)).any()


# ============================================================================================
# Refusals


def test_bad_input_is_refused(rng):
    X, y, _ = classification_data(rng, n=60, n_test=0)
    with pytest.raises(NotFittedError, match="not fitted"):
        RandomForestClassifier.from_sklearn(ske.RandomForestClassifier())
    with pytest.raises(TypeError, match="an instance is needed"):
        RandomForestClassifier.from_sklearn(ske.RandomForestClassifier)
    with pytest.raises(TypeError, match="RandomForestClassifier"):
        RandomForestClassifier.from_sklearn(ske.ExtraTreesClassifier(n_estimators=2).fit(X, y))
    with pytest.raises(TypeError, match="RandomForestRegressor"):
        RandomForestRegressor.from_sklearn(ske.RandomForestClassifier(n_estimators=2).fit(X, y))
    with pytest.raises(TypeError):
        RandomForestClassifier.from_sklearn(skt.DecisionTreeClassifier().fit(X, y))
    with pytest.raises(ValueError):
        RandomForestClassifier.from_sklearn(ske.RandomForestClassifier(n_estimators=2).fit(X, y),
                                            device="tpu")
    with pytest.raises(NotFittedError, match="not fitted"):
        RandomForestClassifier().as_sklearn()


def test_unsupported_variants_are_refused_by_name(rng):
    X, y, _ = classification_data(rng, n=80, n_test=0)
    multi = ske.RandomForestClassifier(n_estimators=2).fit(X, np.stack([y, y % 2], axis=1))
    with pytest.raises(NotImplementedError, match="Multi-output classification"):
        RandomForestClassifier.from_sklearn(multi)
    monotonic = ske.RandomForestRegressor(n_estimators=2, monotonic_cst=[1, 0, 0, 0, 0])
    with pytest.raises(NotImplementedError, match="monotonic_cst"):
        RandomForestRegressor.from_sklearn(monotonic.fit(X, X[:, 0]))
    X_nan = X.copy()
    X_nan[y == 1, 0] = np.nan
    nan_fitted = ske.RandomForestClassifier(n_estimators=2, max_features=None, bootstrap=False,
                                            random_state=0).fit(X_nan, y)
    with pytest.raises(NotImplementedError, match="missing values"):
        RandomForestClassifier.from_sklearn(nan_fitted)
