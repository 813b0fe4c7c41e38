"""NearestNeighbors, KNeighborsClassifier, KNeighborsRegressor on scipy.sparse input (issue 21):
parity with scikit-learn's brute force on the same sparse data, sparse vs dense equality, the
formats and index edge cases, and the bad-input cases.

Data: scipy.sparse.random with the recorded SEED, values uniform in [0, 1), at densities 0.1%,
1% and 10% (d = 2000, 400 and 60 features: about 2, 4 and 6 entries per row); the index has
600 rows and the queries 70. Sparse data has exact ties: every empty row is at distance |q|
from query q (cosine: 1), and at low density most rows share no column with a query (cosine
distance exactly 1). So the reference order is the exact distances (SciPy's cdist on the
densified test data, float64) sorted stably: (distance, index), the dense tests' tie rule.

Tolerances (measured on this data, float64):
- gpulearn against the exact reference: distances RTOL_EXACT 1e-12 (measured: <= 1.2e-15
  relative, gpulearn recomputes the returned pairs directly in double); indices identical
  except between pairs tied in exact arithmetic that SciPy and gpulearn round apart (cosine
  distance of parallel rows, 0 or ~1e-16: ATOL_TIE 1e-15; 3 of 3000 in kneighbors() at 1%,
  none of the 3150 query results).
- against scikit-learn: distances RTOL_F64 1e-9 with ATOL_SELF_EUCLIDEAN 1e-7 (the dense
  tests' figures: scikit-learn's sparse Euclidean is |x|^2 - 2 x.y + |y|^2, whose residue for
  a point and itself can reach ~1e-8; measured here <= 7.7e-15 relative for queries and
  1.2e-15 absolute for kneighbors()); indices equal where
  the distances are not exactly tied, and where scikit-learn orders exact ties otherwise, the
  row it returns is at the same exact distance as ours.
- sparse vs dense gpulearn: identical indices and distances (assert_array_equal): the exact
  pass computes each returned pair from the two rows made dense, the dense path's computation.
- float32: as the dense tests, RTOL_F32 1e-5 against the exact float64 distances.
- classifier predict identical and predict_proba within RTOL_PROBA 1e-12; regressor within
  RTOL_REGRESSION 1e-10 (the dense tests' figures).
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial.distance import cdist
from sklearn import neighbors as skn

import gpulearn._devices
from gpulearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

from _testdata import SEED

N_FIT = 600
N_QUERY = 70
K = 5
# (density, n_features): a few stored entries per row at each density.
DENSITIES = [pytest.param(0.001, 2000, id="0.1%"), pytest.param(0.01, 400, id="1%"),
             pytest.param(0.1, 60, id="10%")]

RTOL_EXACT = 1e-12
ATOL_TIE = 1e-15  # exact ties rounded apart (a few ulps of 1)
RTOL_F64 = 1e-9
ATOL_F64 = 1e-12
ATOL_SELF_EUCLIDEAN = 1e-7
RTOL_F32 = 1e-5
RTOL_PROBA = 1e-12
RTOL_REGRESSION = 1e-10

# (gpulearn metric, p, scipy's cdist metric): the three metrics at every density, their other
# names at 1%.
METRICS = [
    pytest.param("euclidean", 2, "euclidean", id="euclidean"),
    pytest.param("manhattan", 2, "cityblock", id="manhattan"),
    pytest.param("cosine", 2, "cosine", id="cosine"),
]
ALIASES = [
    pytest.param("minkowski", 2, "euclidean", id="minkowski-p2"),
    pytest.param("l2", 2, "euclidean", id="l2"),
    pytest.param("minkowski", 1, "cityblock", id="minkowski-p1"),
    pytest.param("cityblock", 2, "cityblock", id="cityblock"),
    pytest.param("l1", 2, "cityblock", id="l1"),
]


def sparse_data(density, d, n=N_FIT, seed=0, dtype=np.float64):
    rng = np.random.default_rng(SEED + seed)
    X = sp.random(n, d, density=density, format="csr", random_state=rng, dtype=np.float64)
    return X.astype(dtype)


def nonempty_data(density, d, n=N_FIT, seed=0):
    """sparse_data with one more entry in every row: no empty row, so no exact ties among
    distances (continuous values), for the tests whose results depend on the tie order."""
    X = sparse_data(density, d, n, seed)
    rng = np.random.default_rng(SEED + 100 + seed)
    extra = sp.csr_matrix((rng.uniform(0.5, 1.0, n), (np.arange(n), rng.integers(0, d, n))),
                          shape=(n, d))
    return (X + extra).tocsr()


def exact_distances(Q, X, cd_metric):
    """float64 distances of every query to every row (test data is small enough to densify)."""
    Qd = np.asarray(Q.toarray() if sp.issparse(Q) else Q, dtype=np.float64)
    Xd = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    D = cdist(Qd, Xd, cd_metric)
    if cd_metric == "cosine":  # scikit-learn's convention: 1 for a zero vector, within [0, 2]
        qz = ~np.any(Qd != 0, axis=1)
        xz = ~np.any(Xd != 0, axis=1)
        D[qz, :] = 1.0
        D[:, xz] = 1.0
        D = np.clip(D, 0, 2)
    return D


def reference(D, k, exclude_self=False):
    """(distances, indices) of the k nearest by (distance, index)."""
    D = D.copy()
    if exclude_self:
        np.fill_diagonal(D, np.inf)
    ind = np.argsort(D, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(D, ind, axis=1), ind


def assert_knn_exact(dist, ind, D, k, exclude_self=False, rtol=RTOL_EXACT):
    ref_dist, ref_ind = reference(D, k, exclude_self)
    assert_allclose(dist, ref_dist, rtol=rtol, atol=rtol)
    # Indices identical, but among pairs tied in exact arithmetic that the two computations
    # round apart (cosine of parallel rows: 0 or 1e-16): there the rows are equally far.
    differ = ind != ref_ind
    rows = np.nonzero(differ)[0]
    assert_allclose(D[rows, ind[differ]], D[rows, ref_ind[differ]], rtol=0, atol=ATOL_TIE)
    assert differ.sum() <= 0.01 * differ.size


def assert_knn_like_sklearn(dist, ind, sk_dist, sk_ind, D, atol=ATOL_F64):
    assert_allclose(dist, sk_dist, rtol=RTOL_F64, atol=atol)
    differ = ind != sk_ind
    rows = np.nonzero(differ)[0]
    # Only exact ties may be ordered differently: scikit-learn's row is as far as ours.
    assert_allclose(D[rows, ind[differ]], D[rows, sk_ind[differ]], rtol=0, atol=ATOL_TIE)


@pytest.mark.parametrize("density, d, metric, p, cd_metric",
                         [pytest.param(*dd.values, *m.values, id=f"{m.id}-{dd.id}")
                          for dd in DENSITIES for m in METRICS]
                         + [pytest.param(0.01, 400, *m.values, id=f"{m.id}-1%") for m in ALIASES])
def test_kneighbors_parity(density, d, metric, p, cd_metric):
    X = sparse_data(density, d)
    Q = sparse_data(density, d, n=N_QUERY, seed=1)
    D = exact_distances(Q, X, cd_metric)
    model = NearestNeighbors(n_neighbors=K, metric=metric, p=p, device="cpu").fit(X)
    dist, ind = model.kneighbors(Q)
    assert_knn_exact(dist, ind, D, K)
    sk = skn.NearestNeighbors(n_neighbors=K, metric=metric, p=p, algorithm="brute").fit(X)
    sk_dist, sk_ind = sk.kneighbors(Q)
    assert_knn_like_sklearn(dist, ind, sk_dist, sk_ind, D)
    # The index itself, each row not its own neighbour (scikit-learn's kneighbors()).
    D_self = exact_distances(X, X, cd_metric)
    dist, ind = model.kneighbors()
    assert_knn_exact(dist, ind, D_self, K, exclude_self=True)
    sk_dist, sk_ind = sk.kneighbors()
    np.fill_diagonal(D_self, np.inf)
    assert_knn_like_sklearn(dist, ind, sk_dist, sk_ind, D_self, atol=ATOL_SELF_EUCLIDEAN)


@pytest.mark.parametrize("density, d", DENSITIES)
def test_inner_product(density, d):
    """gpulearn's own similarity: the largest inner products, largest first (as NumPy's stable
    argsort of -Q X^T)."""
    X = sparse_data(density, d)
    Q = sparse_data(density, d, n=N_QUERY, seed=1)
    S = (Q @ X.T).toarray()
    val, ind = NearestNeighbors(n_neighbors=K, metric="inner_product",
                                device="cpu").fit(X).kneighbors(Q)
    expected = np.argsort(-S, axis=1, kind="stable")[:, :K]
    assert_array_equal(ind, expected)
    assert_allclose(val, np.take_along_axis(S, expected, axis=1), rtol=RTOL_EXACT,
                    atol=RTOL_EXACT)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine", "sqeuclidean",
                                    "chebyshev", "inner_product"])
def test_sparse_and_dense_give_the_same_neighbours(metric):
    """Every combination of a sparse or dense index with sparse or dense queries gives the
    dense search's neighbours and distances, bit for bit (a dense index takes every metric
    with sparse queries, as scikit-learn's brute force does)."""
    X = sparse_data(0.02, 200, n=1500)  # above the CPU's 1024-row index tile: parts merge
    Q = sparse_data(0.02, 200, n=N_QUERY, seed=1)
    dense = NearestNeighbors(n_neighbors=K, metric=metric, device="cpu").fit(X.toarray())
    ref_dist, ref_ind = dense.kneighbors(Q.toarray())
    combos = [(X.toarray(), Q)]
    if metric not in ("sqeuclidean", "chebyshev"):  # scikit-learn refuses a sparse fit of these
        combos += [(X, Q), (X, Q.toarray())]
    for fit_X, query in combos:
        dist, ind = NearestNeighbors(n_neighbors=K, metric=metric,
                                     device="cpu").fit(fit_X).kneighbors(query)
        assert_array_equal(ind, ref_ind)
        assert_array_equal(dist, ref_dist)
    if metric not in ("sqeuclidean", "chebyshev"):
        model = NearestNeighbors(n_neighbors=K, metric=metric, device="cpu").fit(X)
        dist, ind = model.kneighbors()
        ref_dist, ref_ind = dense.kneighbors()
        assert_array_equal(ind, ref_ind)
        assert_array_equal(dist, ref_dist)


def test_many_query_tiles_match_sklearn():
    """Wide data: a query tile (t x d within 8 MiB) holds 5 queries at d = 2e5, so 70 queries
    take 14 tiles; the results are scikit-learn's."""
    d = 200_000
    X = sparse_data(5e-5, d, n=300)
    Q = sparse_data(5e-5, d, n=N_QUERY, seed=1)
    dist, ind = NearestNeighbors(n_neighbors=K, metric="cosine",
                                 device="cpu").fit(X).kneighbors(Q)
    D = (1 - (Q @ X.T).toarray()
         / np.outer(sp.linalg.norm(Q, axis=1), sp.linalg.norm(X, axis=1)).clip(1e-300))
    D[:, sp.linalg.norm(X, axis=1) == 0] = 1.0
    D[sp.linalg.norm(Q, axis=1) == 0, :] = 1.0
    assert_knn_exact(dist, ind, np.clip(D, 0, 2), K)
    sk_dist, sk_ind = skn.NearestNeighbors(n_neighbors=K, metric="cosine").fit(X).kneighbors(Q)
    assert_knn_like_sklearn(dist, ind, sk_dist, sk_ind, np.clip(D, 0, 2))


def _formats(X):
    """X in every form scipy holds it, with the index edge cases."""
    coo = X.tocoo()
    # Duplicates: each stored entry split in two halves (summed back, as scipy does).
    dup = sp.coo_matrix((np.r_[coo.data / 2, coo.data / 2], (np.r_[coo.row, coo.row],
                                                            np.r_[coo.col, coo.col])),
                        shape=X.shape)
    unsorted = X.copy()
    for i in range(unsorted.shape[0]):  # reverse each row's entries
        a, b = unsorted.indptr[i], unsorted.indptr[i + 1]
        unsorted.indices[a:b] = unsorted.indices[a:b][::-1].copy()
        unsorted.data[a:b] = unsorted.data[a:b][::-1].copy()
    unsorted.has_sorted_indices = False
    zeros = X.tolil()
    zeros = sp.csr_matrix((np.r_[X.data, np.zeros(7)], np.r_[X.indices, np.arange(7)],
                           np.r_[X.indptr[:-1], X.indptr[-1] + 7]), shape=X.shape)
    wide_idx = X.copy()
    wide_idx.indices = wide_idx.indices.astype(np.int64)
    wide_idx.indptr = wide_idx.indptr.astype(np.int64)
    return {"csr": X, "csc": X.tocsc(), "coo": coo, "csr_array": sp.csr_array(X),
            "lil": X.tolil(), "int64": wide_idx, "unsorted": unsorted, "duplicates": dup,
            "explicit_zeros": zeros}


@pytest.mark.parametrize("form", ["csr", "csc", "coo", "csr_array", "lil", "int64", "unsorted",
                                  "duplicates", "explicit_zeros"])
def test_formats_and_index_cases(form):
    X = sparse_data(0.05, 50, n=200)
    # Empty rows and columns.
    X = X.tolil()
    X[10:20, :] = 0
    X[:, 5:9] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    Q = sparse_data(0.05, 50, n=30, seed=1)
    ref = NearestNeighbors(n_neighbors=K, device="cpu").fit(X.toarray())
    ref_dist, ref_ind = ref.kneighbors(Q.toarray())
    fit_X = _formats(X)[form]
    before = fit_X.copy()
    model = NearestNeighbors(n_neighbors=K, device="cpu").fit(fit_X)
    dist, ind = model.kneighbors(_formats(Q)[form])
    assert_array_equal(ind, ref_ind)
    assert_allclose(dist, ref_dist, rtol=RTOL_EXACT)
    # The input is not written, and the model keeps its own copy.
    assert_array_equal(fit_X.toarray(), before.toarray())
    if sp.isspmatrix_csr(fit_X) or isinstance(fit_X, sp.csr_array):
        fit_X.data[:] = 7.0
        assert_array_equal(model.kneighbors(Q)[1], ref_ind)
    assert sp.issparse(model._fit_X) and model._fit_X.format == "csr"


def test_empty_rows_follow_the_tie_rule():
    """Empty index rows are all at distance |q| from q: ties, ordered by index."""
    X = sp.csr_matrix(([3.0], ([6], [1])), shape=(8, 5))
    q = sp.csr_matrix(([0.5], ([0], [2])), shape=(1, 5))
    dist, ind = NearestNeighbors(n_neighbors=4, device="cpu").fit(X).kneighbors(q)
    assert_array_equal(ind, [[0, 1, 2, 3]])
    assert_array_equal(dist, [[0.5] * 4])
    dist, ind = NearestNeighbors(n_neighbors=3, metric="cosine",
                                 device="cpu").fit(X).kneighbors(q)
    assert_array_equal(ind, [[0, 1, 2]])
    assert_array_equal(dist, [[1.0] * 3])


def test_float32():
    X = sparse_data(0.02, 200, dtype=np.float32)
    Q = sparse_data(0.02, 200, n=N_QUERY, seed=1, dtype=np.float32)
    for metric, cd_metric in [("euclidean", "euclidean"), ("manhattan", "cityblock"),
                              ("cosine", "cosine")]:
        model = NearestNeighbors(n_neighbors=K, metric=metric, device="cpu").fit(X)
        dist, ind = model.kneighbors(Q)
        assert dist.dtype == np.float32 and model._fit_X.dtype == np.float32
        D = exact_distances(Q, X, cd_metric)
        # The returned pairs' distances are exact within float32 rounding...
        assert_allclose(dist, np.take_along_axis(D, ind, axis=1), rtol=RTOL_F32, atol=1e-7)
        # ...and they are the nearest: the k-th is no farther than the exact k-th.
        ref_dist, _ = reference(D, K)
        assert_allclose(dist, ref_dist, rtol=RTOL_F32, atol=1e-7)
        dense_dist, dense_ind = NearestNeighbors(n_neighbors=K, metric=metric,
                                                 device="cpu").fit(X.toarray()).kneighbors(Q)
        assert_allclose(dist, dense_dist, rtol=RTOL_F32, atol=1e-7)


@pytest.mark.parametrize("metric, cd_metric", [("euclidean", "euclidean"),
                                               ("manhattan", "cityblock"),
                                               ("cosine", "cosine")])
@pytest.mark.parametrize("sort_results", [False, True])
def test_radius_neighbors_parity(metric, cd_metric, sort_results):
    X = sparse_data(0.02, 200)
    Q = sparse_data(0.02, 200, n=N_QUERY, seed=1)
    D = exact_distances(Q, X, cd_metric)
    # A radius midway between two consecutive distinct distances near the 3% quantile.
    values = np.unique(D)
    i = np.searchsorted(values, np.quantile(D, 0.03))
    radius = (values[i] + values[i + 1]) / 2
    model = NearestNeighbors(radius=radius, metric=metric, device="cpu").fit(X)
    dist, ind = model.radius_neighbors(Q, sort_results=sort_results)
    sk = skn.NearestNeighbors(radius=radius, metric=metric, algorithm="brute").fit(X)
    sk_dist, sk_ind = sk.radius_neighbors(Q, sort_results=sort_results)
    total = 0
    for q in range(N_QUERY):
        expected = np.nonzero(D[q] <= radius)[0]  # ascending index
        if sort_results:
            expected = expected[np.argsort(D[q, expected], kind="stable")]
        assert_array_equal(ind[q], expected)
        assert_allclose(dist[q], D[q, expected], rtol=RTOL_EXACT, atol=RTOL_EXACT)
        assert_array_equal(np.sort(ind[q]), np.sort(sk_ind[q]))
        total += len(expected)
    assert total > N_QUERY  # the radius matches something
    # The index itself, each row not its own neighbour; and the graphs.
    D_self = exact_distances(X, X, cd_metric)
    np.fill_diagonal(D_self, np.inf)
    ind = model.radius_neighbors(return_distance=False)
    for q in range(N_FIT):
        assert_array_equal(ind[q], np.nonzero(D_self[q] <= radius)[0])
    G = model.radius_neighbors_graph(Q, mode="distance")
    assert_allclose(G.toarray(), sk.radius_neighbors_graph(Q, mode="distance").toarray(),
                    rtol=RTOL_F64, atol=ATOL_F64)


def test_kneighbors_graph():
    X = nonempty_data(0.02, 200)
    Q = nonempty_data(0.02, 200, n=N_QUERY, seed=1)
    model = NearestNeighbors(n_neighbors=K, device="cpu").fit(X)
    sk = skn.NearestNeighbors(n_neighbors=K, algorithm="brute").fit(X)
    for mode in ("connectivity", "distance"):
        ours, theirs = model.kneighbors_graph(Q, mode=mode), sk.kneighbors_graph(Q, mode=mode)
        assert sp.issparse(ours) and ours.shape == (N_QUERY, N_FIT)
        assert_allclose(ours.toarray(), theirs.toarray(), rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("density, d", DENSITIES)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_classifier_and_regressor_parity(density, d, weights):
    X = nonempty_data(density, d)
    Q = nonempty_data(density, d, n=N_QUERY, seed=1)
    rng = np.random.default_rng(SEED + 2)
    # Labels and targets of the rows' sums, so that neighbours agree with them a little.
    sums, q_sums = np.asarray(X.sum(axis=1)).ravel(), np.asarray(Q.sum(axis=1)).ravel()
    y_cls = (sums > np.median(sums)).astype(int)
    y_cls[::7] = 2
    y_reg = sums + rng.normal(size=N_FIT)
    y_q = (q_sums > np.median(sums)).astype(int)
    w = rng.uniform(0.5, 2.0, size=N_QUERY)
    # Metric manhattan: scikit-learn computes it directly, so exact ties stay exact there and
    # the vote sees the same neighbours.
    kw = dict(n_neighbors=K, weights=weights, metric="manhattan")
    clf = KNeighborsClassifier(device="cpu", **kw).fit(X, y_cls)
    sk_clf = skn.KNeighborsClassifier(algorithm="brute", **kw).fit(X, y_cls)
    assert_array_equal(clf.predict(Q), sk_clf.predict(Q))
    assert_allclose(clf.predict_proba(Q), sk_clf.predict_proba(Q), rtol=RTOL_PROBA,
                    atol=RTOL_PROBA)
    assert clf.score(Q, y_q, sample_weight=w) == pytest.approx(
        sk_clf.score(Q, y_q, sample_weight=w), rel=1e-12)
    reg = KNeighborsRegressor(device="cpu", **kw).fit(X, y_reg)
    sk_reg = skn.KNeighborsRegressor(algorithm="brute", **kw).fit(X, y_reg)
    assert_allclose(reg.predict(Q), sk_reg.predict(Q), rtol=RTOL_REGRESSION)
    y_rq = q_sums
    assert reg.score(Q, y_rq, sample_weight=w) == pytest.approx(
        sk_reg.score(Q, y_rq, sample_weight=w), rel=1e-9)
    # Dense queries against the sparse fit, and the other way round.
    assert_array_equal(clf.predict(Q.toarray()), sk_clf.predict(Q))
    dense_clf = KNeighborsClassifier(device="cpu", **kw).fit(X.toarray(), y_cls)
    assert_array_equal(dense_clf.predict(Q), sk_clf.predict(Q))


def test_same_bits_with_one_or_many_threads(monkeypatch):
    X = sparse_data(0.02, 200, n=2500)  # three index tiles: parts with 3 threads
    Q = sparse_data(0.02, 200, n=N_QUERY, seed=1)
    out = []
    for threads in (1, 3):
        monkeypatch.setattr(gpulearn._devices, "task_threads", lambda t=threads: t)
        for metric in ("euclidean", "manhattan", "cosine"):
            model = NearestNeighbors(n_neighbors=K, radius=0.6, metric=metric,
                                     device="cpu").fit(X)
            out.append(model.kneighbors(Q))
            out.append(model.kneighbors())
            out.append(np.concatenate(model.radius_neighbors(Q, sort_results=True)[0]))
    half = len(out) // 2
    for a, b in zip(out[:half], out[half:]):
        for x, y in zip(a, b) if isinstance(a, tuple) else [(a, b)]:
            assert_array_equal(x, y)


def test_pickle_keeps_the_sparse_index():
    X = sparse_data(0.02, 200)
    Q = sparse_data(0.02, 200, n=N_QUERY, seed=1)
    model = KNeighborsClassifier(n_neighbors=K, metric="cosine",
                                 device="cpu").fit(X, np.arange(N_FIT) % 3)
    restored = pickle.loads(pickle.dumps(model))
    assert sp.issparse(restored._fit_X)
    assert_array_equal(restored.kneighbors(Q)[1], model.kneighbors(Q)[1])
    assert_array_equal(restored.predict_proba(Q), model.predict_proba(Q))


def test_sklearn_conversion_of_a_sparse_fit():
    X = sparse_data(0.02, 200)
    Q = sparse_data(0.02, 200, n=N_QUERY, seed=1)
    model = NearestNeighbors(n_neighbors=K, algorithm="kd_tree", device="cpu")
    with pytest.warns(UserWarning, match="cannot use tree with sparse input"):
        model.fit(X)
    sk = model.as_sklearn()
    assert sp.issparse(sk._fit_X) and sk._fit_method == "brute"
    sk_dist, sk_ind = sk.kneighbors(Q)
    dist, ind = model.kneighbors(Q)
    assert_allclose(dist, sk_dist, rtol=RTOL_F64, atol=ATOL_F64)
    back = NearestNeighbors.from_sklearn(skn.NearestNeighbors(n_neighbors=K).fit(X))
    assert_array_equal(back.kneighbors(Q)[1], ind)


# ---- bad input ---------------------------------------------------------------------------


def _sklearn_error(call):
    with pytest.raises(Exception) as info:
        call()
    return info.type, str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_refused_as_sklearn(bad):
    X = sparse_data(0.05, 50, n=100)
    X_bad = X.copy()
    X_bad.data[3] = bad
    for fit in (lambda cls: cls(n_neighbors=3).fit(X_bad),
                lambda cls: cls(n_neighbors=3).fit(X).kneighbors(X_bad)):
        kind, message = _sklearn_error(lambda: fit(skn.NearestNeighbors))
        with pytest.raises(kind) as info:
            fit(lambda **kw: NearestNeighbors(device="cpu", **kw))
        assert str(info.value) == message


def test_wrong_feature_count_and_empty_input():
    X = sparse_data(0.05, 50, n=100)
    model = NearestNeighbors(n_neighbors=3, device="cpu").fit(X)
    sk = skn.NearestNeighbors(n_neighbors=3).fit(X)
    narrow = sparse_data(0.05, 49, n=5)
    kind, message = _sklearn_error(lambda: sk.kneighbors(narrow))
    with pytest.raises(kind, match="X has 49 features, but NearestNeighbors is expecting 50"):
        model.kneighbors(narrow)
    kind, message = _sklearn_error(lambda: skn.NearestNeighbors().fit(sp.csr_matrix((0, 5))))
    with pytest.raises(kind) as info:
        NearestNeighbors(device="cpu").fit(sp.csr_matrix((0, 5)))
    assert str(info.value) == message
    # No stored entry at all is valid data (every row is the origin).
    zero = sp.csr_matrix((10, 4))
    dist, ind = NearestNeighbors(n_neighbors=3, device="cpu").fit(zero).kneighbors(zero[:2])
    assert_array_equal(ind, [[0, 1, 2]] * 2)
    assert_array_equal(dist, np.zeros((2, 3)))


@pytest.mark.parametrize("metric, p", [("sqeuclidean", 2), ("chebyshev", 2), ("minkowski", 3),
                                       ("minkowski", np.inf)])
def test_metrics_sklearn_refuses_for_a_sparse_fit(metric, p):
    X = sparse_data(0.05, 50, n=100)
    kind, message = _sklearn_error(lambda: skn.NearestNeighbors(metric=metric, p=p).fit(X))
    with pytest.raises(kind) as info:
        NearestNeighbors(metric=metric, p=p, device="cpu").fit(X)
    assert str(info.value) == message
    # A dense fit takes sparse queries with these metrics, as scikit-learn's brute force does.
    sk = skn.NearestNeighbors(n_neighbors=3, metric=metric, p=p,
                              algorithm="brute").fit(X.toarray())
    dist, ind = NearestNeighbors(n_neighbors=3, metric=metric, p=p,
                                 device="cpu").fit(X.toarray()).kneighbors(X[:10])
    sk_dist, sk_ind = sk.kneighbors(X[:10])
    assert_allclose(dist, sk_dist, rtol=RTOL_F64, atol=ATOL_SELF_EUCLIDEAN)


def test_tree_of_dense_data_refuses_sparse_queries_as_sklearn():
    X = sparse_data(0.05, 10, n=100)
    Xd = X.toarray()
    kind, message = _sklearn_error(
        lambda: skn.NearestNeighbors(algorithm="kd_tree").fit(Xd).kneighbors(X[:3]))
    with pytest.raises(kind) as info:
        NearestNeighbors(algorithm="kd_tree", device="cpu").fit(Xd).kneighbors(X[:3])
    assert str(info.value) == message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NearestNeighbors(algorithm="brute", device="cpu").fit(Xd).kneighbors(X[:3])


def test_tags_say_sparse():
    for cls in (NearestNeighbors, KNeighborsClassifier, KNeighborsRegressor):
        assert cls().__sklearn_tags__().input_tags.sparse is True
