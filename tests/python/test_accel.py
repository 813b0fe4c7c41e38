"""gpulearn.accel: unmodified scikit-learn code on gpulearn.

In-process tests turn the accelerator on and off around each test (``accel`` fixture); the
activation routes that start interpreters (``python -m gpulearn.accel``, ``GPULEARN_ACCEL=1``,
``pytest -p gpulearn.accel``, joblib's workers) run in subprocesses.
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import cluster, decomposition, ensemble, linear_model, neighbors
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import gpulearn.accel
from gpulearn.accel import _dispatch

from _testdata import SEED


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def accel(request):
    """The accelerator on (computing on the parametrised device), then off again."""
    gpulearn.accel.install(device=request.param, subprocesses=False)
    yield request.param
    gpulearn.accel.uninstall()
    _dispatch.set_device("auto")


def _data(n=160, d=5, seed=SEED):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + rng.normal(size=d)
    y_reg = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    y_clf = (X[:, 0] + 0.5 * X[:, 1] > np.median(X[:, 0] + 0.5 * X[:, 1])).astype(int)
    return X, y_reg, y_clf


# (factory, kind, methods compared) for every accelerated estimator.
CASES = {
    "LinearRegression": (lambda: linear_model.LinearRegression(), "reg", ["predict"]),
    "Ridge": (lambda: linear_model.Ridge(alpha=0.5), "reg", ["predict"]),
    "Lasso": (lambda: linear_model.Lasso(alpha=0.01), "reg", ["predict"]),
    "ElasticNet": (lambda: linear_model.ElasticNet(alpha=0.01), "reg", ["predict"]),
    "LogisticRegression": (lambda: linear_model.LogisticRegression(), "clf",
                           ["predict", "predict_proba"]),
    "KMeans": (lambda: cluster.KMeans(3, random_state=0, n_init=1), None,
               ["predict", "transform"]),
    "PCA": (lambda: decomposition.PCA(3), None, ["transform"]),
    "TruncatedSVD": (lambda: decomposition.TruncatedSVD(3, random_state=0), None,
                     ["transform"]),
    "NearestNeighbors": (lambda: neighbors.NearestNeighbors(n_neighbors=4), None,
                         ["kneighbors"]),
    "KNeighborsClassifier": (lambda: neighbors.KNeighborsClassifier(4), "clf",
                             ["predict", "predict_proba"]),
    "KNeighborsRegressor": (lambda: neighbors.KNeighborsRegressor(4), "reg", ["predict"]),
    "RandomForestClassifier": (lambda: ensemble.RandomForestClassifier(10, random_state=0),
                               "clf", ["predict", "predict_proba"]),
    "RandomForestRegressor": (lambda: ensemble.RandomForestRegressor(10, random_state=0), "reg",
                              ["predict"]),
}


def _fit(est, kind, X, y_reg, y_clf):
    if kind is None:
        return est.fit(X)
    return est.fit(X, y_reg if kind == "reg" else y_clf)


def _gpulearn_twin(name, est, device):
    """gpulearn's own estimator with the same hyper-parameters."""
    import importlib
    spec = next(s for s in gpulearn.accel._specs.SPECS if s.name == name)
    cls = getattr(importlib.import_module(spec.gpulearn), name)
    return cls(**{k: getattr(est, k) for k in cls._shared_param_names()}, device=device)


def test_every_estimator_is_covered():
    assert sorted(CASES) == sorted(s.name for s in gpulearn.accel._specs.SPECS)
    for spec in gpulearn.accel._specs.SPECS:
        for method in spec.methods:
            assert hasattr(spec.gpulearn_class, method), (spec.name, method)
            assert hasattr(spec.sklearn_class, method), (spec.name, method)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fit_and_predict_run_on_gpulearn(accel, name):
    """The scikit-learn class, its parameters, and gpulearn's answer; every call recorded as
    gpulearn's."""
    factory, kind, methods = CASES[name]
    X, y_reg, y_clf = _data()
    est = factory()
    assert type(est).__module__.startswith("sklearn.")
    params_before = est.get_params()
    with gpulearn.accel.profile(print_report=False) as prof:
        assert _fit(est, kind, X, y_reg, y_clf) is est
        results = {m: getattr(est, m)(X[:40]) for m in methods}
    assert est.get_params() == params_before
    assert "device" not in est.get_params()
    assert repr(est) == repr(factory())
    where = {(r["method"], r["where"], r["reason"]) for r in prof.rows}
    expected_where = "gpulearn cpu" if accel == "cpu" else "gpulearn cuda:0"
    assert where == {(m, expected_where, None) for m in ["fit", *methods]}

    twin = _fit(_gpulearn_twin(name, est, accel), kind, X, y_reg, y_clf)
    for method, got in results.items():
        want = getattr(twin, method)(X[:40])
        for g, w in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, want))):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12, err_msg=method)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fitted_attributes_are_scikit_learns(accel, name):
    """The same attribute names as scikit-learn's own fit, with scikit-learn's types."""
    factory, kind, _ = CASES[name]
    X, y_reg, y_clf = _data()
    accelerated = _fit(factory(), kind, X, y_reg, y_clf)
    gpulearn.accel.uninstall()
    plain = _fit(factory(), kind, X, y_reg, y_clf)
    assert sorted(vars(accelerated)) == sorted(vars(plain))
    for key, value in vars(plain).items():
        if key in ("_tree", "_fit_method"):  # "auto" searches by brute force (docs/accel.md)
            assert vars(accelerated)["_tree"] is None
            assert vars(accelerated)["_fit_method"] == "brute"
            continue
        assert type(vars(accelerated)[key]) is type(value), key
        if isinstance(value, np.ndarray):
            assert vars(accelerated)[key].dtype == value.dtype, key
            assert vars(accelerated)[key].shape == value.shape, key


def test_set_params_after_fit_changes_predict(accel):
    X, _, y = _data()
    est = neighbors.KNeighborsClassifier(1).fit(X, y)
    assert (est.predict(X) == y).all()  # each sample is its own nearest neighbour
    est.set_params(n_neighbors=15)
    np.testing.assert_array_equal(
        est.predict(X), neighbors.KNeighborsClassifier(15).fit(X, y).predict(X))


def test_state_changed_in_place_is_seen(accel):
    X, y, _ = _data()
    est = linear_model.Ridge().fit(X, y)
    est.coef_[:] = 0
    est.intercept_ = 2.5
    np.testing.assert_allclose(est.predict(X[:5]), 2.5)


def test_refit_replaces_the_state(accel):
    X, y, _ = _data()
    est = linear_model.LinearRegression().fit(X, y)
    est.fit(X[:, :3], y)
    assert est.n_features_in_ == 3 and est.coef_.shape == (3,)
    assert est.predict(X[:4, :3]).shape == (4,)


@pytest.mark.parametrize("factory", [
    lambda: linear_model.ElasticNet(alpha=1e-4, max_iter=2, tol=0, warm_start=True),
    lambda: linear_model.LogisticRegression(max_iter=5, warm_start=True),
], ids=["ElasticNet", "LogisticRegression"])
def test_warm_start_continues_from_the_instances_fit(accel, factory):
    """warm_start=True: a second fit starts from the first one's coefficients, as in
    scikit-learn (each fit used to start a new gpulearn estimator, from zero)."""
    import warnings
    X, y_reg, y_clf = _data()
    y = y_clf if isinstance(factory(), linear_model.LogisticRegression) else y_reg
    with warnings.catch_warnings(), gpulearn.accel.profile(print_report=False) as prof:
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is small on purpose
        est = factory().fit(X, y)
        first = est.coef_.copy()
        est.fit(X, y)
        once = clone(est).set_params(warm_start=False).fit(X, y)
    assert {r["where"] for r in prof.rows} == {f"gpulearn {'cpu' if accel == 'cpu' else 'cuda:0'}"}
    np.testing.assert_array_equal(once.coef_, first)
    assert not np.allclose(est.coef_, first)  # moved on from where the first fit stopped
    if isinstance(est, linear_model.ElasticNet):  # coordinate descent: 2 + 2 sweeps are 4
        four = clone(est).set_params(warm_start=False, max_iter=4).fit(X, y)
        np.testing.assert_allclose(est.coef_, four.coef_, rtol=1e-10, atol=1e-12)


def test_a_fitted_attribute_added_or_replaced_rebuilds_the_view(accel):
    X, y, _ = _data()
    est = linear_model.Ridge().fit(X, y)
    est.predict(X[:2])
    twin = _dispatch._twins[est][0]
    est.predict(X[:2])
    assert _dispatch._twins[est][0] is twin  # same state: the cached view
    est.extra_ = 1.0  # one attribute more: a new view
    est.predict(X[:2])
    assert _dispatch._twins[est][0] is not twin
    twin = _dispatch._twins[est][0]
    est.intercept_ = est.intercept_ + 1.0  # an attribute replaced: a new view, the new value
    np.testing.assert_allclose(est.predict(X[:2]), linear_model.Ridge().fit(X, y).predict(
        X[:2]) + 1.0)
    assert _dispatch._twins[est][0] is not twin


def test_fit_keeps_the_callback_attributes(accel):
    """A meta-estimator sets _parent_callback_ctx on a clone before its fit and deletes it
    after (scikit-learn 1.9's callbacks); set_callbacks stores _skl_callbacks."""
    X, y, _ = _data()
    est = linear_model.Ridge()
    context, callbacks = object(), []
    est._parent_callback_ctx, est._skl_callbacks = context, callbacks
    with gpulearn.accel.profile(print_report=False) as prof:
        est.fit(X, y)
    assert [r["where"] for r in prof.rows] == [f"gpulearn {accel}" if accel == "cpu"
                                               else "gpulearn cuda:0"]
    assert est._parent_callback_ctx is context and est._skl_callbacks is callbacks


# ---- fallback ----------------------------------------------------------------------------

def _fallback_cases():
    X, y_reg, y_clf = _data()
    return [
        ("sparse input", lambda: ensemble.RandomForestRegressor(5, random_state=0),
         (sp.csr_matrix(X), y_reg), "sparse"),
        ("solver gpulearn lacks", lambda: linear_model.Ridge(solver="lsqr"), (X, y_reg),
         "NotImplementedError"),
        ("named algorithm", lambda: cluster.KMeans(3, algorithm="elkan", random_state=0),
         (X,), "algorithm='elkan'"),
        ("named solver", lambda: linear_model.LogisticRegression(solver="saga", max_iter=500),
         (X, y_clf), "solver='saga'"),
        ("arpack", lambda: decomposition.PCA(2, svd_solver="arpack", random_state=0), (X,),
         "svd_solver='arpack'"),
        ("callable metric",
         lambda: neighbors.KNeighborsClassifier(3, metric=lambda a, b: np.abs(a - b).sum()),
         (X, y_clf), "metric"),
        ("tree algorithm", lambda: neighbors.NearestNeighbors(algorithm="kd_tree"), (X,),
         "algorithm='kd_tree'"),
        ("criterion", lambda: ensemble.RandomForestRegressor(
            5, criterion="absolute_error", random_state=0), (X, y_reg), "criterion"),
        ("monotonic_cst", lambda: ensemble.RandomForestRegressor(
            5, monotonic_cst=[1, 0, 0, 0, 0], random_state=0), (X, y_reg), "monotonic_cst"),
        ("positive", lambda: linear_model.LinearRegression(positive=True), (X, y_reg),
         "positive"),
        ("Gram matrix", lambda: linear_model.Lasso(0.01, precompute=X.T @ X,
                                                   fit_intercept=False), (X, y_reg), "Gram"),
        ("cholesky on wide X", lambda: linear_model.Ridge(solver="cholesky"),
         (X[:4], y_reg[:4]), "solver='cholesky' with n_samples <= n_features"),
        ("verbose", lambda: cluster.KMeans(3, verbose=1, random_state=0, n_init=1), (X,),
         "verbose=1"),
    ]


@pytest.mark.parametrize("case", _fallback_cases(), ids=lambda c: c[0])
def test_fallback_gives_scikit_learns_answer_with_the_reason(accel, case):
    _, factory, args, reason_part = case
    with gpulearn.accel.profile(print_report=False) as prof:
        accelerated = factory().fit(*args)
    fits = [r for r in prof.rows if r["method"] == "fit"]
    assert len(fits) == 1 and fits[0]["where"] == "scikit-learn", prof.rows
    assert reason_part in fits[0]["reason"], fits[0]["reason"]
    gpulearn.accel.uninstall()
    plain = factory().fit(*args)
    X = args[0]
    for method in ("predict", "transform"):
        if hasattr(plain, method):
            np.testing.assert_allclose(getattr(accelerated, method)(X),
                                       getattr(plain, method)(X), rtol=1e-10, atol=1e-12)


def test_nan_falls_back_to_scikit_learn_for_forests(accel):
    """scikit-learn's forests take missing values; gpulearn's do not: scikit-learn answers."""
    X, _, y = _data()
    X[::7, 1] = np.nan
    with gpulearn.accel.profile(print_report=False) as prof:
        est = ensemble.RandomForestClassifier(5, random_state=0).fit(X, y)
    assert prof.rows[0]["where"] == "scikit-learn"
    gpulearn.accel.uninstall()
    plain = ensemble.RandomForestClassifier(5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.predict(X), plain.predict(X))


def test_subclasses_run_scikit_learn(accel):
    class MyRidge(linear_model.Ridge):
        pass

    X, y, _ = _data()
    with gpulearn.accel.profile(print_report=False) as prof:
        MyRidge().fit(X, y).predict(X)
    assert prof.rows == []


@pytest.mark.parametrize("make_call", [
    lambda X, y: cluster.KMeans(n_clusters=0).fit(X),
    lambda X, y: linear_model.Ridge(alpha=-1).fit(X, y),
    lambda X, y: linear_model.Ridge().fit(np.where(X > 1, np.nan, X), y),
    lambda X, y: linear_model.LinearRegression().fit(X, y[:-1]),
    lambda X, y: decomposition.PCA(10).fit(X),
    lambda X, y: linear_model.Ridge().fit(X, y).predict(X[:, :2]),
    lambda X, y: neighbors.NearestNeighbors().fit(X).kneighbors(X, n_neighbors=1000),
    lambda X, y: cluster.KMeans(3).predict(X),
], ids=["param", "alpha", "nan", "lengths", "n_components", "n_features", "k", "unfitted"])
def test_errors_are_scikit_learns(accel, make_call):
    X, y, _ = _data(n=50)
    with pytest.raises(Exception) as accelerated:
        make_call(X, y)
    gpulearn.accel.uninstall()
    with pytest.raises(Exception) as plain:
        make_call(X, y)
    assert type(accelerated.value) is type(plain.value)
    assert str(accelerated.value) == str(plain.value)


# ---- scikit-learn's machinery -----------------------------------------------------------

def test_isinstance_clone_repr(accel):
    est = cluster.KMeans(4, random_state=1)
    assert isinstance(est, cluster.KMeans)
    assert repr(est) == "KMeans(n_clusters=4, random_state=1)"
    twin = clone(est)
    assert type(twin) is cluster.KMeans and twin.get_params() == est.get_params()


def test_pipeline_grid_search_cross_val_score(accel):
    X, _, y = _data(n=200)
    pipe = make_pipeline(StandardScaler(), linear_model.LogisticRegression())
    with gpulearn.accel.profile(print_report=False) as prof:
        scores = cross_val_score(pipe, X, y, cv=3)
        search = GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0]}, cv=3).fit(X, y)
    gpulearn.accel.uninstall()
    np.testing.assert_allclose(scores, cross_val_score(pipe, X, y, cv=3), atol=0.02)
    assert search.best_params_ in ({"logisticregression__C": 0.1},
                                   {"logisticregression__C": 1.0})
    runs = {r["where"] for r in prof.rows if r["estimator"] == "LogisticRegression"}
    assert runs == {f"gpulearn {'cpu' if accel == 'cpu' else 'cuda:0'}"}


def test_grid_search_of_an_accelerated_estimator(accel):
    """GridSearchCV and cross_val_score on the estimator itself (no pipeline between): since
    scikit-learn 1.9 they set ``_parent_callback_ctx`` on it around each fit and delete it
    after, so a fit on gpulearn must leave that attribute in place."""
    X, y, _ = _data(n=120)
    with gpulearn.accel.profile(print_report=False) as prof:
        search = GridSearchCV(linear_model.Ridge(), {"alpha": [0.1, 10.0]}, cv=3).fit(X, y)
        cross_val_score(ensemble.RandomForestRegressor(5, random_state=0), X, y, cv=3)
    assert search.best_params_["alpha"] in (0.1, 10.0)
    runs = {(r["estimator"], r["where"]) for r in prof.rows if r["method"] == "fit"}
    where = f"gpulearn {'cpu' if accel == 'cpu' else 'cuda:0'}"
    assert runs == {("Ridge", where), ("RandomForestRegressor", where)}, prof.rows


def test_a_fit_keeps_what_configures_the_estimator():
    """The fitted state replaces the old one, private attributes included, but not the
    configuration: set_output's, metadata requests, callbacks, a meta-estimator's context."""
    est = linear_model.Ridge()
    config = {"_sklearn_output_config": {"transform": "pandas"}, "_skl_callbacks": [object()],
              "_parent_callback_ctx": object(), "_metadata_request": object()}
    vars(est).update(config, coef_=np.zeros(3), _stale_private=1)
    _dispatch._set_fitted_state(est, {"coef_": np.ones(2), "n_features_in_": 2})
    assert "_stale_private" not in vars(est)
    assert est.coef_.shape == (2,) and est.n_features_in_ == 2
    for key, value in config.items():
        assert getattr(est, key) is value, key


def test_callbacks_fall_back_to_scikit_learn(accel):
    """Callbacks (scikit-learn >= 1.9's set_callbacks) are called by scikit-learn's solver;
    gpulearn's fit has none to call, so such a fit runs scikit-learn's, which calls them."""
    _utils = pytest.importorskip("sklearn.callback.tests._utils")
    X, _, y = _data()
    callback = _utils.RecordingCallback()
    with gpulearn.accel.profile(print_report=False) as prof:
        linear_model.LogisticRegression().set_callbacks(callback).fit(X, y)
    fits = [r for r in prof.rows if r["method"] == "fit"]
    assert len(fits) == 1 and fits[0]["where"] == "scikit-learn", prof.rows
    assert "callbacks" in fits[0]["reason"]
    assert callback.count_hooks("setup") == 1


def test_set_output_pandas(accel):
    pd = pytest.importorskip("pandas")
    X, _, _ = _data()
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    out = decomposition.PCA(2).set_output(transform="pandas").fit(frame).transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["pca0", "pca1"]


@pytest.mark.parametrize("factory", [
    lambda: decomposition.PCA(2), lambda: decomposition.TruncatedSVD(2, random_state=0),
    lambda: cluster.KMeans(2, n_init=1, random_state=0),
], ids=["PCA", "TruncatedSVD", "KMeans"])
@pytest.mark.parametrize("output", ["default", "pandas"])
def test_fit_transform_runs_on_gpulearn(accel, factory, output):
    """fit_transform on gpulearn, with set_output's container (scikit-learn configures it
    under "transform" for fit_transform too; asking for "fit_transform" raised KeyError, and
    every fit_transform fell back)."""
    if output == "pandas":
        pytest.importorskip("pandas")
    X, _, _ = _data()
    est = factory().set_output(transform=output)
    with gpulearn.accel.profile(print_report=False) as prof:
        out = est.fit_transform(X)
    assert [(r["where"], r["reason"]) for r in prof.rows] == [
        (f"gpulearn {'cpu' if accel == 'cpu' else 'cuda:0'}", None)]
    assert type(out).__name__ == ("DataFrame" if output == "pandas" else "ndarray")
    np.testing.assert_allclose(np.asarray(out), np.asarray(est.transform(X)), rtol=1e-8,
                               atol=1e-10)


def test_pickle_is_plain_scikit_learn(accel, tmp_path):
    """Models fitted under the accelerator load and predict where gpulearn cannot be
    imported."""
    X, y_reg, y_clf = _data()
    models, expected = {}, {}
    for name, (factory, kind, methods) in CASES.items():
        est = _fit(factory(), kind, X, y_reg, y_clf)
        models[name] = est
        expected[name] = {m: getattr(est, m)(X[:30]) for m in methods}
    path = tmp_path / "models.pkl"
    path.write_bytes(pickle.dumps((models, expected, X[:30])))
    script = textwrap.dedent(f"""
        import pickle, sys
        import numpy as np
        sys.modules["gpulearn"] = None  # importing gpulearn fails from here on
        models, expected, X = pickle.loads(open({str(path)!r}, "rb").read())
        for name, est in models.items():
            assert type(est).__module__.startswith("sklearn."), name
            for method, want in expected[name].items():
                got = getattr(est, method)(X)
                for g, w in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, want))):
                    np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10,
                                               err_msg=f"{{name}}.{{method}}")
        print("ok", len(models))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPULEARN_ACCEL")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"ok {len(CASES)}"


def test_uninstall_restores_scikit_learns_methods():
    originals = {(s.name, m): getattr(s.sklearn_class, m) for s in gpulearn.accel._specs.SPECS
                 for m in s.methods}
    gpulearn.accel.install(subprocesses=False)
    assert linear_model.Ridge.fit is not originals[("Ridge", "fit")]
    assert gpulearn.accel.is_installed()
    gpulearn.accel.uninstall()
    for (name, method), original in originals.items():
        spec = next(s for s in gpulearn.accel._specs.SPECS if s.name == name)
        assert getattr(spec.sklearn_class, method) is original, (name, method)


def test_profile_report_names_where_and_why(accel):
    X, y, _ = _data()
    with gpulearn.accel.profile(print_report=False) as prof:
        linear_model.Ridge().fit(X, y).predict(X)
        linear_model.Ridge(solver="sag").fit(X, y)
    report = prof.report()
    assert "Ridge" in report and "predict" in report
    assert "gpulearn" in report and "scikit-learn (gpulearn raised NotImplementedError" in report
    assert "2 of 3 calls ran on gpulearn." in report


# ---- activation routes (subprocesses) ---------------------------------------------------

_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from sklearn.cluster import KMeans
    X = np.random.default_rng(0).normal(size=(100, 3))
    KMeans(2, random_state=0, n_init=1).fit(X).predict(X)
    print("patched" if hasattr(KMeans.fit, "__gpulearn_accel_original__") else "plain",
          sys.argv[1:])
""")


def _run(args, env_extra=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPULEARN_ACCEL")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def test_route_python_m_script_with_profile(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(_SCRIPT)
    out = _run(["-m", "gpulearn.accel", "--profile", "--device", "cpu", str(script), "a", "b"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "patched ['a', 'b']"
    assert "gpulearn.accel profile" in out.stderr
    assert "KMeans" in out.stderr and "gpulearn cpu" in out.stderr


def test_route_python_m_module_verbose(tmp_path):
    (tmp_path / "user_module.py").write_text(_SCRIPT)
    out = _run(["-m", "gpulearn.accel", "-v", "--device", "cpu", "-m", "user_module", "x"],
               cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "patched ['x']"
    assert "KMeans.fit: gpulearn cpu" in out.stderr


def test_route_environment_variable(tmp_path):
    """GPULEARN_ACCEL=1: gpulearn-accel.pth turns it on at interpreter start."""
    script = tmp_path / "s.py"
    script.write_text(_SCRIPT)
    out = _run([str(script)], {"GPULEARN_ACCEL": "1", "GPULEARN_ACCEL_LOG": "info",
                               "GPULEARN_ACCEL_DEVICE": "cpu"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "patched []", out.stderr
    assert "KMeans.predict: gpulearn cpu" in out.stderr
    off = _run([str(script)], {"GPULEARN_ACCEL": "0"})
    assert off.stdout.strip() == "plain []"


def test_route_joblib_workers_are_accelerated(tmp_path):
    """install() reaches joblib's worker processes (GridSearchCV(n_jobs=2))."""
    script = tmp_path / "grid.py"
    script.write_text(textwrap.dedent("""
        import os
        import gpulearn.accel
        gpulearn.accel.install(device="cpu", log="info")
        import numpy as np
        from sklearn.linear_model import Ridge
        from sklearn.model_selection import GridSearchCV
        rng = np.random.default_rng(0)
        X = rng.normal(size=(120, 4)); y = X @ rng.normal(size=4)
        GridSearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, cv=3, n_jobs=2).fit(X, y)
        print(os.getpid())
    """))
    out = _run([str(script)])
    assert out.returncode == 0, out.stderr
    parent = out.stdout.strip()
    pids = {line.split("[")[1].split("]")[0] for line in out.stderr.splitlines()
            if "Ridge.fit: gpulearn cpu" in line}
    assert pids - {parent}, out.stderr  # some fits ran, accelerated, in worker processes


def test_route_pytest_plugin(tmp_path):
    (tmp_path / "test_user.py").write_text(textwrap.dedent("""
        from sklearn.linear_model import Ridge
        def test_patched():
            assert hasattr(Ridge.fit, "__gpulearn_accel_original__")
    """))
    out = _run(["-m", "pytest", "-p", "gpulearn.accel", "-q", "-p", "no:cacheprovider",
                str(tmp_path / "test_user.py")], cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_route_ipython_extension():
    from sklearn.linear_model import Ridge
    try:
        gpulearn.accel.load_ipython_extension(None)
        assert hasattr(Ridge.fit, "__gpulearn_accel_original__")
    finally:
        gpulearn.accel.unload_ipython_extension(None)
    assert not hasattr(Ridge.fit, "__gpulearn_accel_original__")
    os.environ.pop("GPULEARN_ACCEL", None)


def test_lazy_patching_of_packages_imported_later():
    """Turning it on imports no scikit-learn estimator package the program does not use."""
    out = _run(["-c", textwrap.dedent("""
        import sys
        import gpulearn.accel
        gpulearn.accel.install(subprocesses=False)
        assert "sklearn.ensemble" not in sys.modules
        from sklearn.ensemble import RandomForestRegressor
        print(hasattr(RandomForestRegressor.fit, "__gpulearn_accel_original__"))
    """)])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"


def test_a_named_solver_sends_only_the_fit_to_scikit_learn(accel):
    """The solver decides how the model is fitted, not what it predicts: predictions of a
    model scikit-learn fitted with solver="saga" run on gpulearn, with scikit-learn's
    answers."""
    X, _, y = _data()
    with gpulearn.accel.profile(print_report=False) as prof:
        est = linear_model.LogisticRegression(solver="saga", max_iter=2000).fit(X, y)
        proba = est.predict_proba(X)
    where = {r["method"]: r["where"] for r in prof.rows}
    assert where["fit"] == "scikit-learn"
    assert where["predict_proba"].startswith("gpulearn")
    gpulearn.accel.uninstall()
    np.testing.assert_allclose(proba, est.predict_proba(X), rtol=1e-12, atol=1e-14)


def test_logistic_with_a_1d_coef_predicts_on_gpulearn(accel):
    """scikit-learn predicts with a 1-D coef_ and a scalar intercept_ (LogisticRegressionCV's
    scoring sets them so on a scratch estimator); so does the accelerated one."""
    X, _, y = _data()
    est = linear_model.LogisticRegression().fit(X, y)
    est.coef_, est.intercept_ = est.coef_[0].copy(), float(est.intercept_[0])
    with gpulearn.accel.profile(print_report=False) as prof:
        scores, labels = est.decision_function(X), est.predict(X)
    where = {r["where"] for r in prof.rows}
    assert where == {f"gpulearn {'cpu' if accel == 'cpu' else 'cuda:0'}"}
    gpulearn.accel.uninstall()
    np.testing.assert_allclose(scores, est.decision_function(X), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(labels, est.predict(X))


def test_forest_keeps_scikit_learns_weight_record(accel):
    """_sample_weight (scikit-learn >= 1.9): the sample weights times the class weights."""
    X, _, y = _data()
    w = np.random.default_rng(SEED).uniform(0.5, 2.0, size=len(y))
    est = ensemble.RandomForestClassifier(5, class_weight="balanced", random_state=0)
    est.fit(X, y, sample_weight=w)
    gpulearn.accel.uninstall()
    plain = ensemble.RandomForestClassifier(5, class_weight="balanced", random_state=0)
    plain.fit(X, y, sample_weight=w)
    if "_sample_weight" not in vars(plain):
        pytest.skip("this scikit-learn keeps no _sample_weight (before 1.9)")
    np.testing.assert_allclose(est._sample_weight, plain._sample_weight, rtol=1e-15)
