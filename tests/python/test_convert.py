"""Model conversion: ``from_sklearn`` and ``as_sklearn`` of the linear models, KMeans, PCA,
TruncatedSVD and the neighbours estimators, against scikit-learn fitted on the same data.

Data: fresh Gaussian data drawn with the recorded SEED (``rng`` fixture); 150 fitting rows and
40 query rows of 6 features, in float64 and float32.

What is checked, per estimator and dtype (device "cpu"; the CUDA variants at the end):
- ``from_sklearn(sk)`` gives sk's predictions, transforms, probabilities and neighbours;
- ``as_sklearn()`` of a gpulearn fit has the attribute names, types, dtypes and shapes of the
  scikit-learn class fitted on the same data, and predicts like the gpulearn model;
- the scikit-learn estimator pickles without any gpulearn object and predicts the same in a
  Python where gpulearn cannot be imported;
- the accelerator's two translations share the fitted arrays;
- bad input is refused with the documented exceptions.

Tolerances (the ones stated in the classes' "Conversion" notes; both sides compute the same
formulas, summed in another order): values within ``RTOL`` relative to the largest entry of the
result (1e-10 in float64, 1e-4 in float32); labels and neighbour indices identical (random
continuous data: no ties within rounding).
"""

import pickle
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import cluster as skc
from sklearn import decomposition as skd
from sklearn import linear_model as sklm
from sklearn import neighbors as skn
from sklearn.exceptions import NotFittedError

from gpulearn.cluster import KMeans
from gpulearn.decomposition import PCA, TruncatedSVD
from gpulearn.linear_model import (ElasticNet, Lasso, LinearRegression, LogisticRegression,
                                   Ridge)
from gpulearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

N_FIT, N_QUERY, N_FEATURES = 150, 40, 6
RTOL = {np.float64: 1e-10, np.float32: 1e-4}
DTYPES = [pytest.param(np.float64, id="float64"), pytest.param(np.float32, id="float32")]


# ---- the estimators, their data and their outputs -----------------------------------------

def _regression(rng, dtype, n_targets=None):
    X = rng.normal(size=(N_FIT + N_QUERY, N_FEATURES))
    coef = rng.normal(size=(N_FEATURES,) if n_targets is None else (N_FEATURES, n_targets))
    y = X @ coef + 0.5 + 0.1 * rng.normal(size=(N_FIT + N_QUERY,) + coef.shape[1:])
    return X.astype(dtype), y.astype(dtype)


def _classes(rng, dtype, labels):
    X = rng.normal(size=(N_FIT + N_QUERY, N_FEATURES))
    centers = 1.5 * rng.normal(size=(len(labels), N_FEATURES))
    idx = rng.integers(len(labels), size=N_FIT + N_QUERY)
    return (X + centers[idx]).astype(dtype), np.asarray(labels)[idx]


def _unlabelled(rng, dtype):
    scales = np.linspace(3.0, 0.5, N_FEATURES)
    return (rng.normal(size=(N_FIT + N_QUERY, N_FEATURES)) * scales + 1.0).astype(dtype), None


def _regressor_outputs(est, X):
    return {"predict": est.predict(X)}


def _classifier_outputs(est, X):
    return {"predict": est.predict(X), "predict_proba": est.predict_proba(X)}


def _logistic_outputs(est, X):
    return {**_classifier_outputs(est, X), "decision_function": est.decision_function(X)}


def _kmeans_outputs(est, X):
    return {"predict": est.predict(X), "transform": est.transform(X), "score": est.score(X)}


def _svd_outputs(est, X):
    Xt = est.transform(X)
    return {"transform": Xt, "inverse_transform": est.inverse_transform(Xt)}


def _pca_outputs(est, X):
    return {**_svd_outputs(est, X), "score_samples": est.score_samples(X),
            "get_covariance": est.get_covariance()}


def _neighbors_outputs(est, X):
    dist, ind = est.kneighbors(X)
    return {"distances": dist, "indices": ind}


@dataclass
class Case:
    id: str
    cls: type
    params: dict
    data: object  # (rng, dtype) -> (X, y or None)
    outputs: object  # (estimator, X_query) -> {name: array}
    sk_params: dict = field(default_factory=dict)  # extra scikit-learn-only params

    @property
    def sk_cls(self):
        return self.cls._sklearn_class()

    def gpulearn(self):
        return self.cls(**self.params, device="cpu")

    def sklearn(self):
        return self.sk_cls(**self.params, **self.sk_params)


CASES = [
    Case("LinearRegression", LinearRegression, {}, _regression, _regressor_outputs),
    Case("LinearRegression-multitarget-nointercept", LinearRegression,
         {"fit_intercept": False}, lambda r, d: _regression(r, d, 3), _regressor_outputs),
    Case("Ridge", Ridge, {"alpha": 0.5}, _regression, _regressor_outputs),
    Case("Ridge-multitarget", Ridge, {"alpha": 2.0}, lambda r, d: _regression(r, d, 2),
         _regressor_outputs),
    Case("Lasso", Lasso, {"alpha": 0.05}, _regression, _regressor_outputs),
    Case("ElasticNet", ElasticNet, {"alpha": 0.05, "l1_ratio": 0.3}, _regression,
         _regressor_outputs),
    Case("ElasticNet-multitarget-nointercept", ElasticNet,
         {"alpha": 0.05, "fit_intercept": False}, lambda r, d: _regression(r, d, 2),
         _regressor_outputs),
    Case("LogisticRegression-binary", LogisticRegression, {"max_iter": 500},
         lambda r, d: _classes(r, d, [0, 1]), _logistic_outputs),
    Case("LogisticRegression-multiclass-strings", LogisticRegression, {"max_iter": 500},
         lambda r, d: _classes(r, d, ["ant", "bee", "cat"]), _logistic_outputs),
    Case("LogisticRegression-nointercept", LogisticRegression,
         {"fit_intercept": False, "C": 0.5, "max_iter": 500},
         lambda r, d: _classes(r, d, [3, 7, 9, 11]), _logistic_outputs),
    Case("KMeans", KMeans, {"n_clusters": 4, "random_state": 0}, _unlabelled, _kmeans_outputs),
    Case("PCA", PCA, {"n_components": 3}, _unlabelled, _pca_outputs),
    Case("PCA-whiten", PCA, {"n_components": 4, "whiten": True}, _unlabelled, _pca_outputs),
    Case("PCA-float", PCA, {"n_components": 0.8}, _unlabelled, _pca_outputs),
    Case("PCA-all", PCA, {}, _unlabelled, _pca_outputs),
    Case("TruncatedSVD", TruncatedSVD, {"n_components": 3, "random_state": 0}, _unlabelled,
         _svd_outputs),
    Case("NearestNeighbors", NearestNeighbors, {"n_neighbors": 4, "algorithm": "brute"},
         _unlabelled, _neighbors_outputs),
    Case("NearestNeighbors-manhattan", NearestNeighbors,
         {"n_neighbors": 4, "algorithm": "brute", "metric": "manhattan"}, _unlabelled,
         _neighbors_outputs),
    Case("KNeighborsClassifier-strings-distance", KNeighborsClassifier,
         {"n_neighbors": 6, "weights": "distance", "algorithm": "brute"},
         lambda r, d: _classes(r, d, ["no", "yes", "maybe"]), _classifier_outputs),
    Case("KNeighborsRegressor-multitarget", KNeighborsRegressor,
         {"n_neighbors": 5, "algorithm": "brute"}, lambda r, d: _regression(r, d, 2),
         _regressor_outputs),
]
CASE_PARAMS = [pytest.param(c, id=c.id) for c in CASES]


def _split(case, rng, dtype):
    X, y = case.data(rng, dtype)
    if y is None:
        return X[:N_FIT], None, X[N_FIT:]
    return X[:N_FIT], y[:N_FIT], X[N_FIT:]


def _fit(est, X, y):
    return est.fit(X) if y is None else est.fit(X, y)


def _assert_outputs_equal(got, expected, dtype, what):
    assert got.keys() == expected.keys()
    for name, ref in expected.items():
        out = got[name]
        ref = np.asarray(ref)
        out = np.asarray(out)
        assert out.shape == ref.shape, (what, name)
        if ref.dtype.kind != "f":
            assert_array_equal(out, ref, err_msg=f"{what}: {name}")
        else:
            scale = np.max(np.abs(ref)) if ref.size else 1.0
            assert_allclose(out, ref, rtol=RTOL[dtype], atol=RTOL[dtype] * scale,
                            err_msg=f"{what}: {name}")


def _describe_state(est):
    """Each fitted attribute as (type, dtype, shape): what the two libraries must agree on."""
    params = est.get_params(deep=False)
    described = {}
    for name, value in vars(est).items():
        if name in params:
            continue
        if isinstance(value, list):
            described[name] = (list, tuple(_describe_value(v) for v in value))
        else:
            described[name] = _describe_value(value)
    return described


def _describe_value(value):
    return (type(value), getattr(value, "dtype", None), getattr(value, "shape", None))


# ---- from_sklearn ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_from_sklearn_predicts_like_sklearn(case, dtype, rng):
    X, y, Q = _split(case, rng, dtype)
    sk = _fit(case.sklearn(), X, y)
    converted = case.cls.from_sklearn(sk, device="cpu")
    assert type(converted) is case.cls and converted.device == "cpu"
    assert converted.get_params()["device"] == "cpu"
    _assert_outputs_equal(case.outputs(converted, Q), case.outputs(sk, Q), dtype, case.id)
    # A copy: refitting scikit-learn's estimator leaves the converted one as it was.
    before = case.outputs(converted, Q)
    _fit(sk, X[::-1][:100], None if y is None else y[::-1][:100])
    _assert_outputs_equal(case.outputs(converted, Q), before, dtype, case.id)


# ---- as_sklearn -----------------------------------------------------------------------------

# Fitted attributes that do not depend on the solver's rounding: equal in both libraries.
_SAME_VALUES = ("n_features_in_", "_n_init", "_algorithm", "_n_threads", "_n_features_out",
                "rank_", "solver_", "_fit_svd_solver", "n_components_", "n_samples_",
                "effective_metric_", "effective_metric_params_", "_fit_method", "_tree",
                "n_samples_fit_", "outputs_2d_")

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_as_sklearn_is_sklearns_fitted_state(case, dtype, rng):
    X, y, Q = _split(case, rng, dtype)
    est = _fit(case.gpulearn(), X, y)
    converted = est.as_sklearn()
    assert type(converted) is case.sk_cls
    reference = _fit(case.sklearn(), X, y)
    assert _describe_state(converted) == _describe_state(reference)
    assert converted.get_params() == reference.get_params()
    for name in _SAME_VALUES:
        if name in vars(reference):
            assert getattr(converted, name) == getattr(reference, name), name
    if "classes_" in vars(reference):
        assert_array_equal(converted.classes_, reference.classes_)
    if "_tol" in vars(reference):
        assert converted._tol == pytest.approx(reference._tol, rel=RTOL[dtype])
    _assert_outputs_equal(case.outputs(converted, Q), case.outputs(est, Q), dtype, case.id)
    # A copy: refitting the gpulearn model leaves the scikit-learn one as it was.
    before = case.outputs(converted, Q)
    _fit(est, X[::-1][:100], None if y is None else y[::-1][:100])
    _assert_outputs_equal(case.outputs(converted, Q), before, dtype, case.id)


# The methods the subprocess calls on each unpickled model, where it has them.
_METHODS = ("predict", "predict_proba", "decision_function", "transform", "score_samples",
            "kneighbors")


def _method_outputs(est, X):
    return {name: getattr(est, name)(X) for name in _METHODS if hasattr(est, name)}


def test_as_sklearn_pickles_and_predicts_without_gpulearn(rng, tmp_path):
    """Every converted model (each case, each dtype) holds no gpulearn object, and loads and
    predicts in a Python where gpulearn cannot be imported, exactly as it does here."""
    payload, expected = {}, {}
    for case in CASES:
        for dtype in (np.float64, np.float32):
            X, y, Q = _split(case, rng, dtype)
            converted = _fit(case.gpulearn(), X, y).as_sklearn()
            data = pickle.dumps(converted)
            assert b"gpulearn" not in data, case.id
            key = f"{case.id}-{np.dtype(dtype).name}"
            payload[key] = (data, Q)
            expected[key] = _method_outputs(converted, Q)
    path, out = tmp_path / "models.pkl", tmp_path / "outputs.pkl"
    path.write_bytes(pickle.dumps(payload))
    script = (
        "import sys, pickle\n"
        "sys.modules['gpulearn'] = None\n"
        f"payload = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        "results = {}\n"
        "for key, (data, Q) in payload.items():\n"
        "    est = pickle.loads(data)\n"
        f"    results[key] = {{m: getattr(est, m)(Q) for m in {_METHODS!r} if hasattr(est, m)}}\n"
        "assert not [m for m in sys.modules if m.startswith('gpulearn.')]\n"
        f"open({str(out)!r}, 'wb').write(pickle.dumps(results))\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    results = pickle.loads(out.read_bytes())
    assert results.keys() == expected.keys()
    for key, got in results.items():
        assert got.keys() == expected[key].keys() and got, key
        for name, value in got.items():
            # The same scikit-learn code on the same data: equal bit for bit.
            assert_array_equal(np.asarray(value), np.asarray(expected[key][name]),
                               err_msg=f"{key}: {name}")


def test_feature_names_from_a_dataframe(rng):
    pd = pytest.importorskip("pandas")
    X, y, Q = _split(CASES[2], rng, np.float64)
    columns = [f"f{i}" for i in range(N_FEATURES)]
    frame, queries = pd.DataFrame(X, columns=columns), pd.DataFrame(Q, columns=columns)
    for cls, target in [(Ridge, y), (KMeans, None), (PCA, None), (KNeighborsRegressor, y),
                        (LogisticRegression, y > np.median(y))]:
        est = _fit(cls(device="cpu"), frame, target)
        converted = est.as_sklearn()
        assert_array_equal(converted.feature_names_in_, columns)
        back = cls.from_sklearn(_fit(cls._sklearn_class()(), frame, target), device="cpu")
        assert_array_equal(back.feature_names_in_, columns)
        method = "predict" if hasattr(est, "predict") else "transform"
        getattr(converted, method)(queries)  # the names check passes
        getattr(back, method)(queries)
        with pytest.warns(UserWarning, match="feature names"):
            getattr(back, method)(Q)


# ---- the accelerator's translations ----------------------------------------------------------

def _arrays_of(state):
    return {k: v for k, v in state.items() if isinstance(v, np.ndarray) and v.size > 1}


@pytest.mark.parametrize("case", CASE_PARAMS)
def test_translations_share_the_fitted_arrays(case, rng):
    X, y, _ = _split(case, rng, np.float64)
    est = _fit(case.gpulearn(), X, y)
    state = est._sklearn_fitted_state()
    shared = _arrays_of(state)
    assert shared
    for name, value in shared.items():
        assert value is getattr(est, name), name
    sk = _fit(case.sklearn(), X, y)
    params = {name: getattr(sk, name) for name in case.cls._shared_param_names()}
    params["device"] = "cpu"
    view = case.cls._from_sklearn_fitted(sk, params)
    for name, value in _arrays_of(vars(sk)).items():
        if name in vars(view):
            assert getattr(view, name) is value, name


def test_view_of_a_large_model_is_cheap(rng):
    """gpulearn.accel makes the view on every predict: no copy of an 80 MB index (a copy
    takes tens of milliseconds), no get_params."""
    X = rng.normal(size=(200_000, 50))
    sk = skn.KNeighborsRegressor(algorithm="brute").fit(X, X[:, 0])
    params = {name: getattr(sk, name) for name in KNeighborsRegressor._shared_param_names()}
    params["device"] = "cpu"
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        view = KNeighborsRegressor._from_sklearn_fitted(sk, params)
        timings.append(time.perf_counter() - start)
    assert view._fit_X is sk._fit_X and view._y is sk._y
    assert min(timings) < 2e-3, timings


def test_view_reads_the_metric_of_the_fit(rng):
    """scikit-learn predicts with the fit's effective metric, whatever set_params did since;
    so does the view gpulearn.accel makes of it."""
    X, _, Q = _split(CASES[0], rng, np.float64)
    sk = skn.NearestNeighbors(n_neighbors=3, p=1, algorithm="brute").fit(X)
    sk.set_params(p=2)
    view = NearestNeighbors.from_sklearn(sk, device="cpu")
    assert_array_equal(view.kneighbors(Q)[1], sk.kneighbors(Q)[1])
    assert_allclose(view.kneighbors(Q)[0], sk.kneighbors(Q)[0], rtol=1e-12)


def test_accelerator_state_refits_a_sklearn_estimator(rng):
    """What gpulearn.accel does after a fit: set the state on the user's estimator, which then
    predicts like the gpulearn fit (and its stale attributes are overwritten)."""
    for case in CASES:
        X, y, Q = _split(case, rng, np.float64)
        est = _fit(case.gpulearn(), X, y)
        user = _fit(case.sklearn(), X[:100], None if y is None else y[:100])
        user.__dict__.update(est._sklearn_fitted_state())
        _assert_outputs_equal(case.outputs(user, Q), case.outputs(est, Q), np.float64, case.id)


# ---- variants: kd_tree, float n_components, weights ------------------------------------------

@pytest.mark.parametrize("algorithm", ["auto", "brute", "kd_tree", "ball_tree"])
def test_neighbors_search_structure(algorithm, rng):
    X, _, Q = _split(CASES[0], rng, np.float64)
    est = NearestNeighbors(n_neighbors=3, algorithm=algorithm, device="cpu").fit(X)
    converted = est.as_sklearn()
    if algorithm in ("auto", "brute"):
        assert converted._fit_method == "brute" and converted._tree is None
    else:
        reference = skn.NearestNeighbors(n_neighbors=3, algorithm=algorithm).fit(X)
        assert converted._fit_method == algorithm
        assert type(converted._tree) is type(reference._tree)
    dist, ind = est.kneighbors(Q)
    sk_dist, sk_ind = converted.kneighbors(Q)
    assert_array_equal(sk_ind, ind)
    assert_allclose(sk_dist, dist, rtol=1e-10)
    # from a scikit-learn tree fit: gpulearn searches by brute force, the same neighbours.
    sk = skn.NearestNeighbors(n_neighbors=3, algorithm=algorithm).fit(X)
    back = NearestNeighbors.from_sklearn(sk, device="cpu")
    assert_array_equal(back.kneighbors(Q)[1], sk.kneighbors(Q)[1])


def test_pca_state_types(rng):
    X, _, _ = _split(CASES[0], rng, np.float64)
    for n_components in (2, 0.9, "mle", None):
        reference = skd.PCA(n_components=n_components).fit(X)
        converted = PCA(n_components=n_components, device="cpu").fit(X).as_sklearn()
        assert type(converted.n_components_) is type(reference.n_components_), n_components
        assert converted.n_components_ == reference.n_components_
        assert type(converted.noise_variance_) is type(reference.noise_variance_)
        assert converted._fit_svd_solver == reference._fit_svd_solver


@pytest.mark.parametrize("dtype", DTYPES)
def test_kmeans_tolerance_is_sklearns(dtype, rng):
    """KMeans' _tol (the core's absolute tolerance: tol times the mean feature variance) is
    scikit-learn's, with scikit-learn's type; 0 for tol=0."""
    from sklearn.cluster._kmeans import _tolerance as sk_tolerance

    from gpulearn.cluster import KMeans
    X = _unlabelled(rng, dtype)[0]
    ours = KMeans(3, tol=1e-3, n_init=1, random_state=0, device="cpu").fit(X)._tol
    theirs = sk_tolerance(X, 1e-3)
    assert type(ours) is type(theirs)
    assert ours == pytest.approx(theirs, rel=RTOL[dtype])
    assert KMeans(3, tol=0, n_init=1, random_state=0, device="cpu").fit(X)._tol == 0


def test_callable_weights_convert(rng):
    X, y = _classes(rng, np.float64, [0, 1, 2])
    sk = skn.KNeighborsClassifier(n_neighbors=5, weights=_inverse_square).fit(X[:N_FIT],
                                                                              y[:N_FIT])
    converted = KNeighborsClassifier.from_sklearn(sk, device="cpu")
    assert_array_equal(converted.predict(X[N_FIT:]), sk.predict(X[N_FIT:]))
    assert_allclose(converted.predict_proba(X[N_FIT:]), sk.predict_proba(X[N_FIT:]),
                    rtol=1e-10, atol=1e-12)


def _inverse_square(dist):
    return 1.0 / (dist ** 2 + 1e-12)


def test_integer_training_data_converted(rng):
    X = rng.integers(0, 1000, size=(N_FIT, N_FEATURES))
    Q = rng.integers(0, 1000, size=(N_QUERY, N_FEATURES))
    sk = skn.KNeighborsRegressor(n_neighbors=3).fit(X, X[:, 0])
    converted = KNeighborsRegressor.from_sklearn(sk, device="cpu")
    assert converted._fit_X.dtype == np.float64
    assert_allclose(converted.predict(Q), sk.predict(Q), rtol=1e-12)


# ---- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASE_PARAMS)
def test_bad_input(case, rng):
    with pytest.raises(NotFittedError, match="not fitted"):
        case.cls.from_sklearn(case.sklearn())
    with pytest.raises(NotFittedError, match="as_sklearn"):
        case.gpulearn().as_sklearn()
    with pytest.raises(TypeError, match=f"takes a fitted sklearn.{case.sk_cls.__name__}.*"
                                        "the class"):
        case.cls.from_sklearn(case.sk_cls)
    other = skd.FastICA if case.cls is not PCA else skc.MiniBatchKMeans
    with pytest.raises(TypeError, match=f"takes a fitted sklearn.{case.sk_cls.__name__}; got a "
                                        f"sklearn.{other.__name__}"):
        case.cls.from_sklearn(other())
    with pytest.raises(TypeError, match="takes a fitted"):
        case.cls.from_sklearn(case.gpulearn())
    with pytest.raises(ValueError, match="device"):
        X, y, _ = _split(case, rng, np.float64)
        case.cls.from_sklearn(_fit(case.sklearn(), X, y), device="tpu")


def test_lasso_is_not_an_elastic_net(rng):
    X, y = _regression(rng, np.float64)
    with pytest.raises(TypeError, match="ElasticNet.from_sklearn takes a ElasticNet; got a "
                                        "Lasso: convert it with gpulearn's Lasso"):
        ElasticNet.from_sklearn(sklm.Lasso().fit(X, y))
    assert type(Lasso.from_sklearn(sklm.Lasso().fit(X, y))) is Lasso


def test_unsupported_variants(rng):
    X, y = _classes(rng, np.float64, [0, 1, 2])
    sk = sklm.LogisticRegression().fit(X, y)
    sk.multi_class = "ovr"  # scikit-learn < 1.8's one-vs-rest model
    with pytest.raises(NotImplementedError, match="multi_class='ovr'"):
        LogisticRegression.from_sklearn(sk)
    binary = sklm.LogisticRegression().fit(X, y == 1)
    binary.multi_class = "ovr"  # with two classes, the same binomial model
    assert_allclose(LogisticRegression.from_sklearn(binary).predict_proba(X),
                    binary.predict_proba(X), rtol=1e-10)

    with pytest.raises(NotImplementedError, match="metric=<function"):
        NearestNeighbors.from_sklearn(skn.NearestNeighbors(metric=_manhattan).fit(X))
    with pytest.raises(NotImplementedError, match="'precomputed'"):
        distances = np.abs(X[:, None, :] - X[None, :, :]).sum(axis=2)
        NearestNeighbors.from_sklearn(skn.NearestNeighbors(metric="precomputed").fit(distances))
    with pytest.raises(NotImplementedError, match="'hamming'"):
        NearestNeighbors.from_sklearn(skn.NearestNeighbors(metric="hamming").fit(X))
    with pytest.raises(NotImplementedError, match=r"metric_params \['w'\]"):
        NearestNeighbors.from_sklearn(skn.NearestNeighbors(
            metric="minkowski", metric_params={"w": np.ones(X.shape[1])}).fit(X))
    # Sparse training data are converted as they are (test_sparse_neighbors.py searches them).
    sk_sparse = skn.KNeighborsClassifier().fit(sp.csr_matrix(X), y)
    ours_sparse = KNeighborsClassifier.from_sklearn(sk_sparse)
    assert sp.issparse(ours_sparse._fit_X)
    assert_array_equal(ours_sparse.predict(X), sk_sparse.predict(X))

    with pytest.raises(NotImplementedError, match="init='k-means\\|\\|'"):
        KMeans(3, init="k-means||", device="cpu").fit(X).as_sklearn()
    with pytest.raises(NotImplementedError, match="metric='inner_product'"):
        NearestNeighbors(metric="inner_product", device="cpu").fit(X).as_sklearn()


def _manhattan(a, b):
    return np.abs(a - b).sum()


# ---- CUDA -----------------------------------------------------------------------------------

@pytest.mark.cuda
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_cuda_conversion(case, dtype, rng, cuda):
    """A converted scikit-learn model predicts on the GPU; a GPU fit converts to scikit-learn."""
    X, y, Q = _split(case, rng, dtype)
    sk = _fit(case.sklearn(), X, y)
    on_gpu = case.cls.from_sklearn(sk, device=cuda)
    assert on_gpu.device == cuda
    _assert_outputs_equal(case.outputs(on_gpu, Q), case.outputs(sk, Q), dtype, case.id)
    est = _fit(case.cls(**case.params, device=cuda), X, y)
    converted = est.as_sklearn()
    assert b"gpulearn" not in pickle.dumps(converted)
    assert _describe_state(converted) == _describe_state(_fit(case.sklearn(), X, y))
    _assert_outputs_equal(case.outputs(converted, Q), case.outputs(est, Q), dtype, case.id)
