"""NearestNeighbors, KNeighborsClassifier, KNeighborsRegressor: parity with scikit-learn's
algorithm="brute", their semantics, and the bad-input matrix.

Data: uniform random in [0, 1)^8 drawn with the recorded SEED; the index has 1300 rows (above
the CPU backend's 1024-row index tile, and not a multiple of it) and the queries 70 or 300 rows
(below and above its 256-row query block). With continuous random data there are no exact ties,
and the smallest gap between two distances of one query is ~1e-8 relative, far above the
rounding of either library, so the neighbours' order is determined. scikit-learn's reference is
computed once per metric with k = all rows and sliced: without ties its k nearest are the first
k of the full sort.

Tolerances:
- float64, every metric but inner_product: indices identical; distances rtol 1e-9, atol 1e-12.
  gpulearn recomputes the returned distances directly in double; scikit-learn computes its
  Euclidean family by |x|^2 - 2 x.y + |y|^2, whose cancellation costs ~1e-14 relative at these
  distances (0.1 to 2), its other metrics directly. 1e-9 is a wide margin that still catches a
  wrong power, root or formula.
- Where a query coincides with an indexed row, scikit-learn's Euclidean distance of the pair is
  the square root of a cancellation residue, up to ~4e-8 instead of 0: those comparisons use
  atol 1e-7, or a metric scikit-learn computes directly (manhattan), or an exact reference.
- inner_product (gpulearn's own): against NumPy (argsort of -Q @ X.T, stable), indices
  identical, values rtol 1e-12 (atol 1e-12 for values near 0).
- float32: the returned distances are within 1e-5 relative of the exact (float64, SciPy cdist)
  distances of the returned pairs, and of scikit-learn's float64 results on the same
  float32-rounded data (one rounding to float32 is 6e-8); indices equal scikit-learn's except
  where the two candidates' exact distances are within 1e-5 relative (the float32 search may
  order near-ties either way). The same bar holds for float32 data far from the origin
  (1000 + 0.01 U), where scikit-learn, computing float32 input in float64, is exact.
- One feature: distances against the exact |q - x| to 1e-14 relative (scikit-learn's GEMM
  keeps only ~6 digits of a 1e-6 distance there); indices identical to scikit-learn's.
- Radius queries: radii are midway between two consecutive distinct distances of the data, so
  no distance lies within ~1e-8 relative of the radius: the matched sets are determined.
- Classifier: predict identical, predict_proba allclose rtol 1e-12 (atol 1e-12); regressor
  predict rtol 1e-10: the weights are 1/distance, which carries the 1e-14 distance differences.
- Exact ties (integer-valued data, duplicated rows): the order is (distance, index) exactly, as
  a stable NumPy sort gives; against scikit-learn, whose order among exact ties is not
  determined, the multiset of exact distances is compared instead.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial.distance import cdist
from sklearn import neighbors as skn
from sklearn.exceptions import NotFittedError
from sklearn.metrics import DistanceMetric
from sklearn.metrics.pairwise import cosine_distances
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError

from gpulearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

from _testdata import SEED

N_FIT = 1300  # above one 1024-row index tile, not a multiple of it
N_QUERY = 300  # above one 256-row query block
N_FEATURES = 8

RTOL_F64 = 1e-9
ATOL_F64 = 1e-12
ATOL_SELF_EUCLIDEAN = 1e-7  # scikit-learn's GEMM residue for a point and itself (see above)
RTOL_IP = 1e-12
RTOL_F32 = 1e-5
RTOL_PROBA = 1e-12
RTOL_REGRESSION = 1e-10

# (metric, p): every metric gpulearn computes but inner_product, by each of its names.
METRICS = [
    pytest.param("minkowski", 1, id="minkowski-p1"),
    pytest.param("minkowski", 1.5, id="minkowski-p1.5"),
    pytest.param("minkowski", 2, id="minkowski-p2"),
    pytest.param("minkowski", 3, id="minkowski-p3"),
    pytest.param("minkowski", np.inf, id="minkowski-pinf"),
    pytest.param("euclidean", 2, id="euclidean"),
    pytest.param("l2", 2, id="l2"),
    pytest.param("sqeuclidean", 2, id="sqeuclidean"),
    pytest.param("cosine", 2, id="cosine"),
    pytest.param("manhattan", 2, id="manhattan"),
    pytest.param("l1", 2, id="l1"),
    pytest.param("cityblock", 2, id="cityblock"),
    pytest.param("chebyshev", 2, id="chebyshev"),
    pytest.param("infinity", 2, id="infinity"),
]

# One name per distinct formula: for the slower tests.
METRICS_SHORT = [
    pytest.param("euclidean", 2, id="euclidean"),
    pytest.param("sqeuclidean", 2, id="sqeuclidean"),
    pytest.param("manhattan", 2, id="manhattan"),
    pytest.param("chebyshev", 2, id="chebyshev"),
    pytest.param("minkowski", 3, id="minkowski-p3"),
    pytest.param("cosine", 2, id="cosine"),
]


def sk_metric(metric):
    """scikit-learn's name for gpulearn's metric name (it has no "infinity" for brute force)."""
    return "chebyshev" if metric == "infinity" else metric


def sk_nn(metric="minkowski", p=2, **kwargs):
    return skn.NearestNeighbors(algorithm="brute", metric=sk_metric(metric), p=p, **kwargs)


def exact_distances(metric, p, A, B):
    """Pairwise distances computed directly in float64 by SciPy (no GEMM expansion)."""
    A, B = np.asarray(A, dtype=np.float64), np.asarray(B, dtype=np.float64)
    if metric == "minkowski":
        if p == np.inf:
            return cdist(A, B, "chebyshev")
        return cdist(A, B, "minkowski", p=p)
    name = {"l2": "euclidean", "l1": "cityblock", "manhattan": "cityblock",
            "infinity": "chebyshev"}.get(metric, metric)
    return cdist(A, B, name)


def radius_between(D, quantile):
    """A radius midway between two consecutive distinct values of D near its quantile."""
    values = np.unique(D)
    j = int(quantile * (values.size - 2))
    return float((values[j] + values[j + 1]) / 2)


@pytest.fixture(scope="module")
def uniform():
    """(X, Q): the index (N_FIT x 8) and queries (N_QUERY x 8), uniform in [0, 1), seed SEED."""
    gen = np.random.default_rng(SEED)
    return gen.uniform(size=(N_FIT, N_FEATURES)), gen.uniform(size=(N_QUERY, N_FEATURES))


@pytest.fixture(scope="module")
def sk_full(uniform):
    """scikit-learn's brute-force neighbours of all N_QUERY queries (or, query=None, of the
    index itself) sorted in full, in float64 on the data rounded to ``dtype``. Without ties its
    k nearest are the first k columns of these, and each query's row does not depend on the
    other queries: the tests slice them rather than ask scikit-learn again for each k."""
    cache = {}

    def get(metric, p, dtype=np.float64, query="Q"):
        key = (metric, p, np.dtype(dtype).name, query)
        if key not in cache:
            if len(cache) > 2:  # the tests run grouped by metric
                cache.clear()
            X, Q = (a.astype(dtype).astype(np.float64) for a in uniform)
            model = sk_nn(metric, p).fit(X)
            cache[key] = (model.kneighbors(Q, n_neighbors=N_FIT) if query == "Q"
                          else model.kneighbors(n_neighbors=N_FIT - 1))
        return cache[key]

    return get


@pytest.fixture(scope="module")
def labelled():
    """(X, y_class, y_reg, Q): 1100 training rows (above one index tile), 300 queries."""
    gen = np.random.default_rng(SEED + 1)
    X = gen.uniform(size=(1100, 6))
    y_class = gen.integers(0, 3, size=1100)
    y_reg = X @ gen.normal(size=6) + 0.3 * gen.normal(size=1100)
    Q = gen.uniform(size=(N_QUERY, 6))
    return X, y_class, y_reg, Q


def assert_same_csr(ours, ref, rtol=RTOL_F64, atol=ATOL_F64):
    """Same sparse structure (row pointers, stored entries) and values as scikit-learn's graph."""
    assert sp.issparse(ours) and ours.format == "csr"
    assert ours.shape == ref.shape
    assert_array_equal(ours.indptr, ref.indptr)
    ours, ref = ours.copy(), ref.copy()
    ours.sort_indices()
    ref.sort_indices()
    assert_array_equal(ours.indices, ref.indices)
    assert_allclose(ours.data, ref.data, rtol=rtol, atol=atol)


def assert_same_radius_results(ours, ref, sort_results, rtol=RTOL_F64, atol=ATOL_F64):
    """Per query: gpulearn's matches in ascending index (or by distance when sorted), the same
    set as scikit-learn's, with the same distances."""
    (o_dist, o_ind), (r_dist, r_ind) = ours, ref
    assert o_ind.dtype == object and o_dist.dtype == object
    assert o_ind.shape == o_dist.shape == r_ind.shape
    for q in range(r_ind.shape[0]):
        oi, od = o_ind[q], o_dist[q]
        assert isinstance(oi, np.ndarray) and oi.dtype == np.int64
        assert od.shape == oi.shape
        if sort_results:
            assert np.all(np.diff(od) >= 0)
            order = np.arange(r_ind[q].size)  # scikit-learn's, by distance (no ties here)
        else:
            assert np.all(np.diff(oi) > 0), f"query {q}: not in ascending index"
            order = np.argsort(r_ind[q], kind="stable")
        assert_array_equal(oi, r_ind[q][order], err_msg=f"query {q}")
        assert_allclose(od, r_dist[q][order], rtol=rtol, atol=atol, err_msg=f"query {q}")


# ---- kneighbors: parity with scikit-learn --------------------------------------------------


# On CUDA (the emulator in CI: 1-2 s a case) only the two query blocks of N_QUERY, a full one
# and a partial one; 70 queries (one partial block) is the CPU's.
@pytest.mark.parametrize("n_queries, device", [
    (70, "cpu"), (N_QUERY, "cpu"), pytest.param(N_QUERY, "cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("k", [1, 5, 100, N_FIT])
@pytest.mark.parametrize("metric, p", METRICS)
def test_kneighbors_matches_sklearn_brute_float64(uniform, sk_full, metric, p, k, n_queries,
                                                  device):
    X, Q = uniform
    Q = Q[:n_queries]
    ref_dist, ref_ind = (a[:n_queries, :k] for a in sk_full(metric, p))
    model = NearestNeighbors(n_neighbors=k, metric=metric, p=p, device=device)
    assert model.fit(X) is model
    dist, ind = model.kneighbors(Q)
    assert type(dist) is np.ndarray and type(ind) is np.ndarray
    assert ind.dtype == np.int64 and dist.dtype == np.float64
    assert ind.shape == dist.shape == (n_queries, k)
    assert_array_equal(ind, ref_ind)
    assert_allclose(dist, ref_dist, rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("n_queries", [70, N_QUERY])
@pytest.mark.parametrize("k", [1, 5, 100, N_FIT])
def test_inner_product_matches_numpy(rng, k, n_queries, device):
    # Signed data, so that inner products are of both signs and the largest are not simply
    # those of the longest rows.
    X = rng.uniform(-1, 1, size=(N_FIT, N_FEATURES))
    Q = rng.uniform(-1, 1, size=(n_queries, N_FEATURES))
    S = Q @ X.T
    ref_ind = np.argsort(-S, axis=1, kind="stable")[:, :k]
    ref_val = np.take_along_axis(S, ref_ind, axis=1)
    dist, ind = NearestNeighbors(n_neighbors=k, metric="inner_product",
                                 device=device).fit(X).kneighbors(Q)
    assert ind.dtype == np.int64 and dist.dtype == np.float64
    assert_array_equal(ind, ref_ind)
    assert_allclose(dist, ref_val, rtol=RTOL_IP, atol=RTOL_IP)
    assert np.all(np.diff(dist, axis=1) <= 0)  # decreasing: largest inner product first


def test_inner_product_of_the_index_itself_excludes_each_row(rng, device):
    # A row's inner product with itself need not be its largest: the exclusion must remove the
    # row by index, not by rank.
    X = rng.uniform(-1, 1, size=(N_FIT, N_FEATURES))
    S = X @ X.T
    np.fill_diagonal(S, -np.inf)
    expected = np.argsort(-S, axis=1, kind="stable")[:, :20]
    dist, ind = NearestNeighbors(n_neighbors=20, metric="inner_product",
                                 device=device).fit(X).kneighbors()
    assert_array_equal(ind, expected)
    assert_allclose(dist, np.take_along_axis(S, expected, axis=1), rtol=RTOL_IP, atol=RTOL_IP)


def test_inner_product_float32_matches_numpy(rng, device):
    X = rng.uniform(-1, 1, size=(N_FIT, N_FEATURES)).astype(np.float32)
    Q = rng.uniform(-1, 1, size=(N_QUERY, N_FEATURES)).astype(np.float32)
    S = Q.astype(np.float64) @ X.astype(np.float64).T
    dist, ind = NearestNeighbors(n_neighbors=20, metric="inner_product",
                                 device=device).fit(X).kneighbors(Q)
    assert dist.dtype == np.float32 and ind.dtype == np.int64
    exact = np.take_along_axis(S, ind, axis=1)
    assert_allclose(dist, exact, rtol=RTOL_F32, atol=RTOL_F32)
    ref_ind = np.argsort(-S, axis=1, kind="stable")[:, :20]
    ref_val = np.take_along_axis(S, ref_ind, axis=1)
    differ = ind != ref_ind
    assert np.all(np.abs(exact[differ] - ref_val[differ]) <= RTOL_F32 * np.abs(ref_val[differ]))


@pytest.mark.parametrize("k", [5, 100, N_FIT])
@pytest.mark.parametrize("metric, p", METRICS)
def test_float32_matches_sklearn_float64_on_the_rounded_data(uniform, sk_full, metric, p, k,
                                                             device):
    X, Q = (a.astype(np.float32) for a in uniform)
    ref_dist, ref_ind = (a[:, :k] for a in sk_full(metric, p, np.float32))
    dist, ind = NearestNeighbors(n_neighbors=k, metric=metric, p=p,
                                 device=device).fit(X).kneighbors(Q)
    assert dist.dtype == np.float32 and ind.dtype == np.int64
    assert dist.shape == ind.shape == (N_QUERY, k)
    for row in ind[:: 37]:
        assert np.unique(row).size == k
    exact = np.take_along_axis(exact_distances(metric, p, Q, X), ind, axis=1)
    assert_allclose(dist, exact, rtol=RTOL_F32, atol=1e-7)
    assert_allclose(dist, ref_dist, rtol=RTOL_F32, atol=1e-7)
    differ = ind != ref_ind
    assert np.all(np.abs(exact[differ] - ref_dist[differ]) <= RTOL_F32 * ref_dist[differ])
    assert differ.mean() < 0.01  # near-ties are rare on continuous data


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "manhattan"])
def test_float32_far_from_the_origin_finds_sklearns_neighbours(rng, metric, device):
    # Points a hair apart far from the origin (as in test_kmeans.py): float32
    # |q|^2 - 2 q.x + |x|^2 keeps no digit of their distances. scikit-learn computes float32
    # input's distances in float64 and finds the true neighbours; so must gpulearn, to the
    # float32 tolerance (indices may differ only between candidates within 1e-5 relative).
    X = (1000 + 0.01 * rng.uniform(size=(1100, N_FEATURES))).astype(np.float32)
    Q = (1000 + 0.01 * rng.uniform(size=(N_QUERY, N_FEATURES))).astype(np.float32)
    exact = exact_distances(metric, 2, Q, X)
    ref_ind = sk_nn(metric, n_neighbors=10).fit(X).kneighbors(Q, return_distance=False)
    ref_dist = np.take_along_axis(exact, ref_ind, axis=1)
    dist, ind = NearestNeighbors(n_neighbors=10, metric=metric,
                                 device=device).fit(X).kneighbors(Q)
    ours_exact = np.take_along_axis(exact, ind, axis=1)
    assert_allclose(dist, ours_exact, rtol=RTOL_F32)
    assert_allclose(ours_exact, ref_dist, rtol=RTOL_F32)
    # Radius queries screen with rounding margins and keep the exact matches.
    radius = radius_between(exact, 0.01)
    r_ind = NearestNeighbors(radius=radius, metric=metric, device=device).fit(X).radius_neighbors(
        Q, return_distance=False)
    for q in range(N_QUERY):
        assert_array_equal(r_ind[q], np.flatnonzero(exact[q] <= radius))


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev", "sqeuclidean"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exact_ties_go_to_the_smaller_index(rng, metric, dtype, device):
    # Small integer coordinates: many exactly equal distances, all exact in float32 too. The
    # neighbours must be the first k of a stable sort by distance (ties: smaller index first).
    X = rng.integers(0, 4, size=(1100, 3)).astype(dtype)
    Q = rng.integers(0, 4, size=(280, 3)).astype(dtype)
    D = exact_distances(metric, 2, Q, X)
    for k in (1, 7, 300):
        expected = np.argsort(D, axis=1, kind="stable")[:, :k]
        dist, ind = NearestNeighbors(n_neighbors=k, metric=metric,
                                     device=device).fit(X).kneighbors(Q)
        assert_array_equal(ind, expected)
        assert_array_equal(dist, np.take_along_axis(D, expected, axis=1).astype(dtype))


def test_results_are_deterministic(uniform, device):
    X, Q = uniform
    model = NearestNeighbors(n_neighbors=50, device=device).fit(X)
    first = model.kneighbors(Q)
    second = model.kneighbors(Q)
    assert_array_equal(first[0], second[0])
    assert_array_equal(first[1], second[1])


def test_return_distance_false_and_n_neighbors_override(uniform, device):
    X, Q = uniform
    model = NearestNeighbors(n_neighbors=3, device=device).fit(X)
    dist7, ind7 = NearestNeighbors(n_neighbors=7, device=device).fit(X).kneighbors(Q)
    ind = model.kneighbors(Q, return_distance=False)
    assert type(ind) is np.ndarray and ind.shape == (N_QUERY, 3) and ind.dtype == np.int64
    assert_array_equal(ind, ind7[:, :3])
    dist, ind = model.kneighbors(Q, n_neighbors=7)
    assert_array_equal(ind, ind7)
    assert_array_equal(dist, dist7)
    assert_array_equal(model.kneighbors(n_neighbors=4, return_distance=False),
                       sk_nn().fit(X).kneighbors(n_neighbors=4, return_distance=False))
    assert model.n_neighbors == 3  # the argument does not change the parameter


@pytest.mark.parametrize("algorithm", ["auto", "brute", "kd_tree", "ball_tree"])
def test_every_algorithm_name_runs_brute_force(uniform, algorithm):
    X, Q = uniform
    ref_dist, ref_ind = sk_nn().fit(X).kneighbors(Q[:50])
    dist, ind = NearestNeighbors(algorithm=algorithm, leaf_size=5, n_jobs=2,
                                 device="cpu").fit(X).kneighbors(Q[:50])
    assert_array_equal(ind, ref_ind)
    assert_allclose(dist, ref_dist, rtol=RTOL_F64, atol=ATOL_F64)


def test_metric_params_p_is_used_like_sklearn(uniform):
    X, Q = uniform
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # scikit-learn: p in metric_params wins
        ref = sk_nn("minkowski", 2, metric_params={"p": 3}).fit(X)
        ours = NearestNeighbors(metric_params={"p": 3}, device="cpu").fit(X)
    ref_dist, ref_ind = ref.kneighbors(Q)
    dist, ind = ours.kneighbors(Q)
    assert_array_equal(ind, ref_ind)
    assert_allclose(dist, ref_dist, rtol=RTOL_F64, atol=ATOL_F64)


def test_p_in_metric_params_warns_as_sklearn(uniform):
    X, _ = uniform
    with pytest.warns(SyntaxWarning, match="Parameter p is found in metric_params"):
        NearestNeighbors(metric_params={"p": 3}, device="cpu").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SyntaxWarning)
        NearestNeighbors(metric_params={"p": 3}, p=None, device="cpu").fit(X)  # no p: silent


def test_all_zero_weights_are_refused_as_sklearn(labelled):
    X, y = labelled[:2]
    clf = KNeighborsClassifier(3, weights=lambda d: np.zeros_like(d), device="cpu").fit(X, y)
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(ValueError, match="All neighbors of some sample is getting zero"):
            method(X[:5])


# ---- kneighbors(X=None): each point excluded from its own neighbours -----------------------


@pytest.mark.parametrize("k", [1, 5, N_FIT - 1])
@pytest.mark.parametrize("metric, p", METRICS_SHORT)
def test_kneighbors_of_the_index_itself_matches_sklearn(uniform, sk_full, metric, p, k, device):
    X, _ = uniform
    ref_dist, ref_ind = (a[:, :k] for a in sk_full(metric, p, query=None))
    model = NearestNeighbors(n_neighbors=k, metric=metric, p=p, device=device).fit(X)
    dist, ind = model.kneighbors()
    assert ind.shape == (N_FIT, k)
    assert not np.any(ind == np.arange(N_FIT)[:, None])
    assert_array_equal(ind, ref_ind)
    assert_allclose(dist, ref_dist, rtol=RTOL_F64, atol=ATOL_F64)
    assert_array_equal(model.kneighbors(return_distance=False), ind)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine"])
@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_kneighbors_of_the_index_with_duplicates(rng, metric, k, device):
    # Rows repeated up to 4 times, shuffled: each row's own index is excluded, its duplicates
    # (distance 0) are kept, ties go to the smaller index. scikit-learn's order among exact
    # ties is not determined (and it drops a duplicate instead of the row itself when the
    # duplicates outnumber k), so against it the multiset of exact distances is compared.
    base = rng.uniform(size=(300, 5))
    X = np.repeat(base, rng.integers(1, 5, size=300), axis=0)
    X = X[rng.permutation(X.shape[0])]
    n = X.shape[0]
    D = exact_distances(metric, 2, X, X)
    D_others = D.copy()
    D_others[np.arange(n), np.arange(n)] = np.inf
    expected = np.argsort(D_others, axis=1, kind="stable")[:, :k]
    dist, ind = NearestNeighbors(n_neighbors=k, metric=metric, device=device).fit(X).kneighbors()
    assert not np.any(ind == np.arange(n)[:, None])
    assert_array_equal(ind, expected)
    assert_allclose(dist, np.take_along_axis(D, expected, axis=1), rtol=RTOL_F64, atol=1e-15)
    duplicates = (X[ind] == X[:, None, :]).all(axis=2)
    assert duplicates.any()
    if metric != "cosine":  # exactly: recomputed, not by |x|^2 - 2x.y + |y|^2
        assert np.all(dist[duplicates] == 0.0)
    else:
        assert np.all(dist[duplicates] <= 1e-15)
    ref_ind = sk_nn(metric).fit(X).kneighbors(n_neighbors=k, return_distance=False)
    ref_exact = np.sort(np.take_along_axis(D, ref_ind, axis=1), axis=1)
    assert_allclose(np.sort(np.take_along_axis(D, ind, axis=1), axis=1), ref_exact, atol=1e-15)


# ---- graphs and radius queries ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["connectivity", "distance"])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine"])
@pytest.mark.parametrize("query", ["X", "None"])
def test_kneighbors_graph_matches_sklearn(uniform, mode, metric, query, device):
    X, Q = uniform
    Q = Q if query == "X" else None
    ref = sk_nn(metric, n_neighbors=4).fit(X).kneighbors_graph(Q, mode=mode)
    model = NearestNeighbors(n_neighbors=4, metric=metric, device=device).fit(X)
    graph = model.kneighbors_graph(Q, mode=mode)
    assert_same_csr(graph, ref)
    assert_allclose(graph.toarray(), ref.toarray(), rtol=RTOL_F64, atol=ATOL_F64)
    ref9 = sk_nn(metric).fit(X).kneighbors_graph(Q, n_neighbors=9, mode=mode)
    assert_same_csr(model.kneighbors_graph(Q, n_neighbors=9, mode=mode), ref9)


@pytest.mark.parametrize("sort_results", [False, True])
@pytest.mark.parametrize("metric, p", METRICS_SHORT)
def test_radius_neighbors_matches_sklearn(uniform, metric, p, sort_results, device):
    X, Q = uniform
    D = exact_distances(metric, p, Q, X)
    model = NearestNeighbors(metric=metric, p=p, device=device).fit(X)
    ref_model = sk_nn(metric, p).fit(X)
    for quantile in (0.0, 0.001, 0.02):
        radius = radius_between(D, quantile)
        ref = ref_model.radius_neighbors(Q, radius=radius, sort_results=sort_results)
        ours = model.radius_neighbors(Q, radius=radius, sort_results=sort_results)
        assert_same_radius_results(ours, ref, sort_results)
        counts = np.array([a.size for a in ours[1]])
        if quantile == 0.0:
            assert counts.sum() == 1  # only the closest pair of all
        if quantile == 0.001:
            assert (counts == 0).any() and (counts > 1).any()
        if quantile == 0.02:
            assert counts.sum() > 10 * N_QUERY
    # The constructor's radius when none is given.
    radius = radius_between(D, 0.005)
    ours = NearestNeighbors(radius=radius, metric=metric, p=p, device=device).fit(X)
    ref = sk_nn(metric, p, radius=radius).fit(X)
    assert_same_radius_results(ours.radius_neighbors(Q, sort_results=sort_results),
                               ref.radius_neighbors(Q, sort_results=sort_results), sort_results)


@pytest.mark.parametrize("sort_results", [False, True])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_radius_neighbors_of_the_index_itself_matches_sklearn(uniform, metric, sort_results,
                                                               device):
    X, _ = uniform
    radius = radius_between(exact_distances(metric, 2, X, X), 0.01)
    ours = NearestNeighbors(radius=radius, metric=metric, device=device).fit(X)
    ref = sk_nn(metric, radius=radius).fit(X)
    result = ours.radius_neighbors(sort_results=sort_results)
    for q, row in enumerate(result[1]):
        assert q not in row
    assert_same_radius_results(result, ref.radius_neighbors(sort_results=sort_results),
                               sort_results)
    ind_only = ours.radius_neighbors(return_distance=False)
    assert ind_only.dtype == object
    for a, b in zip(ind_only, result[1] if not sort_results else
                    ours.radius_neighbors(sort_results=False)[1]):
        assert_array_equal(a, b)


def test_radius_zero_finds_exact_duplicates(rng, device):
    # A query that coincides with indexed rows is at distance exactly 0 from them (recomputed
    # directly), so radius=0 finds exactly its copies.
    X = rng.uniform(size=(1100, 4))
    X[[10, 500, 1050]] = X[3]
    result = NearestNeighbors(radius=0.0, device=device).fit(X).radius_neighbors(X[[3, 7]])
    assert_array_equal(result[1][0], [3, 10, 500, 1050])
    assert_array_equal(result[0][0], np.zeros(4))
    assert_array_equal(result[1][1], [7])
    self_excluded = NearestNeighbors(radius=0.0, device=device).fit(X).radius_neighbors()
    assert_array_equal(self_excluded[1][500], [3, 10, 1050])
    assert self_excluded[1][7].size == 0


def test_infinite_radius_finds_everything_like_sklearn(uniform):
    # scikit-learn's radius constraint is the closed interval [0, inf].
    X, Q = uniform
    ref = sk_nn(radius=np.inf).fit(X).radius_neighbors(Q[:4])
    ours = NearestNeighbors(radius=np.inf, device="cpu").fit(X).radius_neighbors(Q[:4])
    assert_same_radius_results(ours, ref, sort_results=False)
    ind = NearestNeighbors(device="cpu").fit(X).radius_neighbors(Q[:4], radius=np.inf,
                                                                 return_distance=False)
    assert all(a.size == N_FIT for a in ind)


def test_radius_results_are_object_arrays_even_when_counts_are_equal(uniform, device):
    X, Q = uniform
    model = NearestNeighbors(device=device).fit(X)
    dist, ind = model.radius_neighbors(Q[:5], radius=100.0)
    assert dist.shape == ind.shape == (5,) and ind.dtype == object and dist.dtype == object
    for a, d in zip(ind, dist):
        assert_array_equal(a, np.arange(N_FIT))
        assert d.dtype == np.float64
    dist, ind = model.radius_neighbors(Q[:5], radius=1e-6)
    assert ind.shape == (5,) and all(a.size == 0 and a.dtype == np.int64 for a in ind)


@pytest.mark.parametrize("sort_results", [False, True])
@pytest.mark.parametrize("mode", ["connectivity", "distance"])
@pytest.mark.parametrize("query", ["X", "None"])
def test_radius_neighbors_graph_matches_sklearn(uniform, mode, query, sort_results, device):
    X, Q = uniform
    Q = Q if query == "X" else None
    radius = radius_between(exact_distances("euclidean", 2, uniform[1], X), 0.01)
    ref = sk_nn(radius=radius).fit(X).radius_neighbors_graph(Q, mode=mode,
                                                             sort_results=sort_results)
    graph = NearestNeighbors(radius=radius, device=device).fit(X).radius_neighbors_graph(
        Q, mode=mode, sort_results=sort_results)
    assert_same_csr(graph, ref)
    assert_allclose(graph.toarray(), ref.toarray(), rtol=RTOL_F64, atol=ATOL_F64)
    if mode == "distance" and sort_results:
        for i in range(graph.shape[0]):  # each row's entries by distance
            assert np.all(np.diff(graph.data[graph.indptr[i]:graph.indptr[i + 1]]) >= 0)


def test_sort_results_without_distances_raises_like_sklearn(uniform):
    X, Q = uniform
    model = NearestNeighbors(device="cpu").fit(X)
    with pytest.raises(ValueError, match="return_distance must be True if sort_results is True"):
        model.radius_neighbors(Q, return_distance=False, sort_results=True)


def test_float32_radius_neighbors(uniform, device):
    X, Q = (a.astype(np.float32) for a in uniform)
    D = exact_distances("euclidean", 2, Q, X)
    radius = radius_between(D, 0.01)
    dist, ind = NearestNeighbors(radius=radius, device=device).fit(X).radius_neighbors(Q)
    for q in range(N_QUERY):
        assert dist[q].dtype == np.float32 and ind[q].dtype == np.int64
        expected = np.flatnonzero(D[q] <= radius)
        assert_array_equal(ind[q], expected)
        assert_allclose(dist[q], D[q, expected], rtol=RTOL_F32)


# ---- classifier and regressor --------------------------------------------------------------


def inverse_square(dist):
    return 1.0 / (1e-3 + dist ** 2)


WEIGHTS = [pytest.param("uniform", id="uniform"), pytest.param("distance", id="distance"),
           pytest.param(inverse_square, id="callable")]
KNN_METRICS = [pytest.param("euclidean", 2, id="euclidean"),
               pytest.param("manhattan", 2, id="manhattan"),
               pytest.param("cosine", 2, id="cosine"),
               pytest.param("minkowski", 3, id="minkowski-p3")]


@pytest.mark.parametrize("metric, p", KNN_METRICS)
@pytest.mark.parametrize("weights", WEIGHTS)
def test_classifier_matches_sklearn(labelled, metric, p, weights, device):
    X, y, _, Q = labelled
    params = dict(n_neighbors=8, weights=weights, metric=sk_metric(metric), p=p)
    ref = skn.KNeighborsClassifier(algorithm="brute", **params).fit(X, y)
    ours = KNeighborsClassifier(device=device, **params)
    assert ours.fit(X, y) is ours
    assert_array_equal(ours.classes_, ref.classes_)
    assert_array_equal(ours.predict(Q), ref.predict(Q))
    assert_allclose(ours.predict_proba(Q), ref.predict_proba(Q), rtol=RTOL_PROBA,
                    atol=RTOL_PROBA)
    y_q = np.arange(N_QUERY) % 3
    assert ours.score(Q, y_q) == ref.score(Q, y_q)
    ref_dist, ref_ind = ref.kneighbors(Q)
    dist, ind = ours.kneighbors(Q)
    assert_array_equal(ind, ref_ind)
    assert_allclose(dist, ref_dist, rtol=RTOL_F64, atol=ATOL_F64)


@pytest.mark.parametrize("metric, p", KNN_METRICS)
@pytest.mark.parametrize("weights", WEIGHTS)
def test_regressor_matches_sklearn(labelled, metric, p, weights, device):
    X, _, y, Q = labelled
    params = dict(n_neighbors=8, weights=weights, metric=metric, p=p)
    ref = skn.KNeighborsRegressor(algorithm="brute", **params).fit(X, y)
    ours = KNeighborsRegressor(device=device, **params)
    assert ours.fit(X, y) is ours
    pred = ours.predict(Q)
    assert pred.shape == (N_QUERY,) and pred.dtype == np.float64
    assert_allclose(pred, ref.predict(Q), rtol=RTOL_REGRESSION)
    y_q = Q @ np.arange(1.0, 7.0)
    assert ours.score(Q, y_q) == pytest.approx(ref.score(Q, y_q), rel=RTOL_REGRESSION)


def test_classifier_ties_between_classes_go_to_the_smallest_class(device):
    # Two neighbours of each of two classes: scikit-learn takes the first class in classes_.
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [9.0, 9.0]])
    y = np.array([2, 1, 2, 1, 0])
    Q = np.array([[0.5, 0.5]])
    ref = skn.KNeighborsClassifier(n_neighbors=4, algorithm="brute").fit(X, y)
    ours = KNeighborsClassifier(n_neighbors=4, device=device).fit(X, y)
    assert_array_equal(ours.predict(Q), ref.predict(Q))
    assert_array_equal(ours.predict(Q), [1])
    assert_allclose(ours.predict_proba(Q), ref.predict_proba(Q), rtol=RTOL_PROBA)


@pytest.mark.parametrize("weights", WEIGHTS)
def test_multi_output_classifier_and_regressor(labelled, weights, device):
    X, y, y_reg, Q = labelled
    Y = np.column_stack([y, (y + np.arange(y.size)) % 5])
    params = dict(n_neighbors=6, weights=weights)
    ref = skn.KNeighborsClassifier(algorithm="brute", **params).fit(X, Y)
    ours = KNeighborsClassifier(device=device, **params).fit(X, Y)
    assert ours.outputs_2d_ == ref.outputs_2d_ is True
    assert len(ours.classes_) == 2
    for ours_classes, ref_classes in zip(ours.classes_, ref.classes_):
        assert_array_equal(ours_classes, ref_classes)
    pred = ours.predict(Q)
    assert pred.shape == (N_QUERY, 2)
    assert_array_equal(pred, ref.predict(Q))
    proba, ref_proba = ours.predict_proba(Q), ref.predict_proba(Q)
    assert isinstance(proba, list) and len(proba) == 2
    for a, b in zip(proba, ref_proba):
        assert_allclose(a, b, rtol=RTOL_PROBA, atol=RTOL_PROBA)

    Y_reg = np.column_stack([y_reg, -2.0 * y_reg + 1.0, X[:, 0]])
    ref = skn.KNeighborsRegressor(algorithm="brute", **params).fit(X, Y_reg)
    ours = KNeighborsRegressor(device=device, **params).fit(X, Y_reg)
    pred = ours.predict(Q)
    assert pred.shape == (N_QUERY, 3)
    assert_allclose(pred, ref.predict(Q), rtol=RTOL_REGRESSION)
    column = KNeighborsRegressor(device=device, **params).fit(X, Y_reg[:, :1]).predict(Q)
    assert column.shape == ref.fit(X, Y_reg[:, :1]).predict(Q).shape == (N_QUERY, 1)


def test_string_class_labels(labelled, device):
    X, y, _, Q = labelled
    names = np.array(["cat", "dog", "eel"])[y]
    ref = skn.KNeighborsClassifier(algorithm="brute", weights="distance").fit(X, names)
    ours = KNeighborsClassifier(weights="distance", device=device).fit(X, names)
    assert_array_equal(ours.classes_, ["cat", "dog", "eel"])
    pred = ours.predict(Q)
    assert pred.dtype.kind == "U"
    assert_array_equal(pred, ref.predict(Q))
    assert_allclose(ours.predict_proba(Q), ref.predict_proba(Q), rtol=RTOL_PROBA)
    assert ours.score(Q, ref.predict(Q)) == 1.0
    ours_list = KNeighborsClassifier(device=device).fit(X.tolist(), names.tolist())
    assert_array_equal(ours_list.predict(Q), skn.KNeighborsClassifier().fit(X, names).predict(Q))


def test_predict_without_queries_excludes_each_training_point(labelled, device):
    X, y, y_reg, _ = labelled
    ref = skn.KNeighborsClassifier(algorithm="brute").fit(X, y)
    ours = KNeighborsClassifier(device=device).fit(X, y)
    assert_array_equal(ours.predict(None), ref.predict(None))
    assert_allclose(ours.predict_proba(None), ref.predict_proba(None), rtol=RTOL_PROBA)
    ref = skn.KNeighborsRegressor(algorithm="brute", weights="distance").fit(X, y_reg)
    ours = KNeighborsRegressor(weights="distance", device=device).fit(X, y_reg)
    assert_allclose(ours.predict(None), ref.predict(None), rtol=RTOL_REGRESSION)


def test_zero_distance_rule_under_distance_weights(rng, device):
    # scikit-learn's rule: a query at distance 0 from some neighbours gets their labels only
    # (weight 1 each, the others 0). Row 5 is duplicated (rows 5 and 77) with different labels.
    # Against scikit-learn with manhattan (which it computes directly, so its zero is exact).
    X = rng.uniform(size=(400, 3))
    X[77] = X[5]
    y = rng.integers(0, 3, size=400)
    y[5], y[77] = 0, 2
    y_reg = rng.normal(size=400)
    Q = np.vstack([X[[5, 12, 300]], rng.uniform(size=(20, 3))])
    for metric in ("manhattan", "chebyshev"):
        ref = skn.KNeighborsClassifier(weights="distance", metric=metric,
                                       algorithm="brute").fit(X, y)
        ours = KNeighborsClassifier(weights="distance", metric=metric, device=device).fit(X, y)
        assert_array_equal(ours.predict(Q), ref.predict(Q))
        assert_allclose(ours.predict_proba(Q), ref.predict_proba(Q), rtol=RTOL_PROBA)
        assert_allclose(ours.predict_proba(Q[:1]), [[0.5, 0.0, 0.5]])
        ref = skn.KNeighborsRegressor(weights="distance", metric=metric,
                                      algorithm="brute").fit(X, y_reg)
        ours = KNeighborsRegressor(weights="distance", metric=metric, device=device).fit(X, y_reg)
        pred = ours.predict(Q)
        assert_allclose(pred, ref.predict(Q), rtol=RTOL_REGRESSION)
        assert pred[0] == pytest.approx((y_reg[5] + y_reg[77]) / 2, rel=1e-15)
        assert pred[1] == y_reg[12] and pred[2] == y_reg[300]
    # Euclidean: gpulearn's distance of a point to itself is exactly 0 (scikit-learn's is a
    # ~1e-8 residue, so its rule may not fire): the rule gives the coinciding labels exactly.
    ours = KNeighborsClassifier(weights="distance", device=device).fit(X, y)
    assert_array_equal(ours.predict_proba(X[[12, 300]]),
                       np.eye(3)[y[[12, 300]]])
    pred = KNeighborsRegressor(weights="distance", device=device).fit(X, y_reg).predict(X[[12]])
    assert pred[0] == y_reg[12]


def test_inner_product_with_distance_weights_is_refused(labelled):
    X, y, y_reg, Q = labelled
    uniform_ok = KNeighborsClassifier(metric="inner_product", device="cpu").fit(X, y)
    ind = NearestNeighbors(metric="inner_product", device="cpu").fit(X).kneighbors(
        Q, return_distance=False)
    assert_array_equal(uniform_ok.predict(Q),
                       np.array([np.bincount(y[row], minlength=3).argmax() for row in ind]))
    with pytest.raises(ValueError, match="inner_product"):
        KNeighborsClassifier(metric="inner_product", weights="distance",
                             device="cpu").fit(X, y).predict(Q)
    with pytest.raises(ValueError, match="inner_product"):
        KNeighborsRegressor(metric="inner_product", weights="distance",
                            device="cpu").fit(X, y_reg).predict(Q)


# ---- semantics ----------------------------------------------------------------------------


@pytest.mark.parametrize("gl_cls, sk_cls", [(NearestNeighbors, skn.NearestNeighbors),
                                            (KNeighborsClassifier, skn.KNeighborsClassifier),
                                            (KNeighborsRegressor, skn.KNeighborsRegressor)])
def test_hyper_parameters_are_sklearns_plus_device(gl_cls, sk_cls):
    ours = gl_cls().get_params()
    assert ours.pop("device") == "auto"
    assert ours == sk_cls().get_params()


@pytest.mark.parametrize("gl_cls, sk_cls", [(NearestNeighbors, skn.NearestNeighbors),
                                            (KNeighborsClassifier, skn.KNeighborsClassifier),
                                            (KNeighborsRegressor, skn.KNeighborsRegressor)])
def test_tags_are_sklearns(gl_cls, sk_cls):
    ours, theirs = get_tags(gl_cls()), get_tags(sk_cls())
    assert ours.estimator_type == theirs.estimator_type
    assert ours.target_tags.multi_output == theirs.target_tags.multi_output  # y may be 2-D
    assert ours.target_tags.required == theirs.target_tags.required
    assert ours.input_tags.sparse is theirs.input_tags.sparse is True  # test_sparse_neighbors
    assert ours.input_tags.allow_nan is theirs.input_tags.allow_nan is False


@pytest.mark.parametrize("metric, p", [m for m in METRICS if m.values[0] != "infinity"] + [
    pytest.param("minkowski", 0.5, id="minkowski-p0.5")])
def test_fitted_attributes_are_sklearns(uniform, metric, p):
    X, _ = uniform
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # p < 1 is not a metric: both warn
        ref = sk_nn(metric, p).fit(X)
        ours = NearestNeighbors(metric=metric, p=p, device="cpu").fit(X)
    assert ours.n_features_in_ == ref.n_features_in_ == N_FEATURES
    assert ours.n_samples_fit_ == ref.n_samples_fit_ == N_FIT
    assert ours.effective_metric_ == ref.effective_metric_
    assert ours.effective_metric_params_ == ref.effective_metric_params_
    assert not hasattr(NearestNeighbors(), "n_samples_fit_")


def test_minkowski_below_one_warns_and_matches_sklearn(uniform):
    X, Q = uniform
    with pytest.warns(UserWarning, match="0 < p < 1"):
        ours = NearestNeighbors(p=0.5, device="cpu").fit(X)
    with pytest.warns(UserWarning, match="0 < p < 1"):
        ref = sk_nn(p=0.5).fit(X)
    dist, ind = ours.kneighbors(Q[:50])
    ref_dist, ref_ind = ref.kneighbors(Q[:50])
    assert_array_equal(ind, ref_ind)
    assert_allclose(dist, ref_dist, rtol=RTOL_F64)


def test_pickle_round_trip_gives_identical_results(labelled, device):
    X, y, y_reg, Q = labelled
    for model in (NearestNeighbors(n_neighbors=7, metric="cosine", device=device).fit(X),
                  KNeighborsClassifier(weights="distance", device=device).fit(X, y),
                  KNeighborsRegressor(metric="manhattan", device=device).fit(X, y_reg)):
        again = pickle.loads(pickle.dumps(model))
        assert again.get_params() == model.get_params()
        for a, b in zip(again.kneighbors(Q), model.kneighbors(Q)):
            assert_array_equal(a, b)
        if hasattr(model, "predict"):
            assert_array_equal(again.predict(Q), model.predict(Q))


def test_float32_in_gives_float32_distances_everywhere(uniform, device):
    X, Q = (a.astype(np.float32) for a in uniform)
    model = NearestNeighbors(radius=0.4, device=device).fit(X)
    dist, ind = model.kneighbors(Q)
    assert dist.dtype == np.float32 and ind.dtype == np.int64
    dist, ind = model.kneighbors()
    assert dist.dtype == np.float32 and ind.dtype == np.int64
    r_dist, r_ind = model.radius_neighbors(Q)
    assert all(d.dtype == np.float32 for d in r_dist)
    assert all(i.dtype == np.int64 for i in r_ind)
    graph = model.kneighbors_graph(Q, mode="distance")
    assert_allclose(graph.data, model.kneighbors(Q)[0].ravel(), rtol=1e-7)


def test_integer_and_list_input_are_float64(rng):
    X = rng.integers(-20, 20, size=(50, 3))
    dist, ind = NearestNeighbors(device="cpu").fit(X).kneighbors(X[:5])
    assert dist.dtype == np.float64
    ref_dist, ref_ind = sk_nn().fit(X).kneighbors(X[:5])
    assert_allclose(dist, ref_dist, atol=ATOL_SELF_EUCLIDEAN)
    dist_l, ind_l = NearestNeighbors(device="cpu").fit(X.tolist()).kneighbors(X[:5].tolist())
    assert_array_equal(ind_l, ind)
    assert_array_equal(dist_l, dist)


# ---- bad input ----------------------------------------------------------------------------


def test_n_neighbors_above_n_samples_fit_raises_sklearns_error(rng):
    X = rng.uniform(size=(20, 4))
    model = NearestNeighbors(device="cpu").fit(X)
    with pytest.raises(ValueError, match=r"Expected n_neighbors <= n_samples_fit, but "
                                         r"n_neighbors = 21, n_samples_fit = 20, n_samples = 3"):
        model.kneighbors(X[:3], n_neighbors=21)
    with pytest.raises(ValueError, match=r"Expected n_neighbors < n_samples_fit, but "
                                         r"n_neighbors = 20, n_samples_fit = 20, n_samples = 20"):
        model.kneighbors(n_neighbors=20)
    assert model.kneighbors(X[:3], n_neighbors=20)[1].shape == (3, 20)
    assert model.kneighbors(n_neighbors=19)[1].shape == (20, 19)
    # A constructor n_neighbors above the data fits (as scikit-learn) and fails at the query.
    big = KNeighborsClassifier(n_neighbors=25, device="cpu").fit(X, np.arange(20) % 2)
    with pytest.raises(ValueError, match=r"Expected n_neighbors <= n_samples_fit"):
        big.predict(X[:3])
    with pytest.raises(ValueError, match=r"Expected n_neighbors <= n_samples_fit"):
        big.kneighbors_graph(X[:3])


@pytest.mark.parametrize("n_neighbors", [0, -3])
def test_non_positive_n_neighbors_raises(rng, n_neighbors):
    X = rng.uniform(size=(20, 4))
    with pytest.raises(InvalidParameterError, match="n_neighbors"):
        NearestNeighbors(n_neighbors=n_neighbors, device="cpu").fit(X)
    with pytest.raises(InvalidParameterError, match="n_neighbors"):
        KNeighborsRegressor(n_neighbors=n_neighbors, device="cpu").fit(X, X[:, 0])
    model = NearestNeighbors(device="cpu").fit(X)
    with pytest.raises(ValueError, match=rf"Expected n_neighbors > 0. Got {n_neighbors}"):
        model.kneighbors(X[:2], n_neighbors=n_neighbors)
    with pytest.raises(ValueError, match=rf"Expected n_neighbors > 0. Got {n_neighbors}"):
        model.kneighbors_graph(n_neighbors=n_neighbors)


def test_non_integer_n_neighbors_at_query_raises_type_error(rng):
    X = rng.uniform(size=(20, 4))
    model = NearestNeighbors(device="cpu").fit(X)
    with pytest.raises(TypeError, match="n_neighbors does not take <class 'float'> value"):
        model.kneighbors(X[:2], n_neighbors=2.5)
    assert model.kneighbors(X[:2], n_neighbors=np.int64(3))[1].shape == (2, 3)


@pytest.mark.parametrize("params", [{"algorithm": "foo"}, {"metric": 3}, {"p": 0},
                                    {"p": -1.0}, {"radius": -1.0}, {"leaf_size": 0},
                                    {"n_neighbors": 2.5}])
def test_invalid_parameters_raise_sklearns_parameter_error(rng, params):
    X = rng.uniform(size=(20, 4))
    with pytest.raises(InvalidParameterError):
        NearestNeighbors(device="cpu", **params).fit(X)


def test_invalid_weights_raise_sklearns_parameter_error(rng):
    X = rng.uniform(size=(20, 4))
    with pytest.raises(InvalidParameterError, match="weights"):
        KNeighborsClassifier(weights="foo", device="cpu").fit(X, np.arange(20) % 2)
    with pytest.raises(InvalidParameterError, match="weights"):
        KNeighborsRegressor(weights="foo", device="cpu").fit(X, X[:, 0])


def test_negative_radius_at_query_raises(rng):
    X = rng.uniform(size=(20, 4))
    model = NearestNeighbors(device="cpu").fit(X)
    with pytest.raises(ValueError, match="radius"):
        model.radius_neighbors(X[:3], radius=-1.0)
    with pytest.raises(ValueError, match="radius"):
        model.radius_neighbors_graph(X[:3], radius=-0.5)


def test_unsupported_graph_mode_raises_sklearns_error(rng):
    X = rng.uniform(size=(20, 4))
    model = NearestNeighbors(device="cpu").fit(X)
    for method in (model.kneighbors_graph, model.radius_neighbors_graph):
        with pytest.raises(ValueError, match='Unsupported mode, must be one of "connectivity"'):
            method(X[:3], mode="foo")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_non_finite_x_raises(rng, value, dtype):
    X = rng.uniform(size=(30, 4)).astype(dtype)
    bad = X.copy()
    bad[7, 2] = value
    match = r"Input X contains (NaN|infinity)"
    with pytest.raises(ValueError, match=match):
        NearestNeighbors(device="cpu").fit(bad)
    with pytest.raises(ValueError, match=match):
        KNeighborsClassifier(device="cpu").fit(bad, np.arange(30) % 3)
    with pytest.raises(ValueError, match=match):
        KNeighborsRegressor(device="cpu").fit(bad, X[:, 0])
    model = NearestNeighbors(device="cpu").fit(X)
    for call in (lambda: model.kneighbors(bad), lambda: model.radius_neighbors(bad),
                 lambda: model.kneighbors_graph(bad), lambda: model.radius_neighbors_graph(bad)):
        with pytest.raises(ValueError, match=match):
            call()
    clf = KNeighborsClassifier(device="cpu").fit(X, np.arange(30) % 3)
    for call in (clf.predict, clf.predict_proba):
        with pytest.raises(ValueError, match=match):
            call(bad)
    with pytest.raises(ValueError, match=match):
        KNeighborsRegressor(device="cpu").fit(X, X[:, 0]).predict(bad)


def test_non_finite_regression_target_raises(rng):
    X = rng.uniform(size=(30, 4))
    y = X[:, 0].copy()
    y[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KNeighborsRegressor(device="cpu").fit(X, y)


def test_empty_input_raises(rng):
    with pytest.raises(ValueError, match=r"0 sample"):
        NearestNeighbors(device="cpu").fit(np.empty((0, 4)))
    with pytest.raises(ValueError, match=r"0 feature"):
        NearestNeighbors(device="cpu").fit(np.empty((5, 0)))
    with pytest.raises(ValueError, match=r"0 sample"):
        KNeighborsClassifier(device="cpu").fit(np.empty((0, 4)), np.empty(0))
    model = NearestNeighbors(device="cpu").fit(rng.uniform(size=(10, 4)))
    with pytest.raises(ValueError, match=r"0 sample"):
        model.kneighbors(np.empty((0, 4)))
    with pytest.raises(ValueError, match=r"Expected 2D array"):
        NearestNeighbors(device="cpu").fit(np.arange(5.0))


def test_one_sample(rng):
    X = rng.uniform(size=(1, 4))
    Q = rng.uniform(size=(3, 4))
    model = NearestNeighbors(n_neighbors=1, device="cpu").fit(X)
    dist, ind = model.kneighbors(Q)
    assert_array_equal(ind, np.zeros((3, 1), dtype=np.int64))
    assert_allclose(dist[:, 0], np.linalg.norm(Q - X, axis=1), rtol=1e-14)
    with pytest.raises(ValueError, match=r"Expected n_neighbors < n_samples_fit, but "
                                         r"n_neighbors = 1, n_samples_fit = 1, n_samples = 1"):
        model.kneighbors()
    r_ind = model.radius_neighbors(radius=10.0, return_distance=False)
    assert r_ind.shape == (1,) and r_ind[0].size == 0
    pred = KNeighborsClassifier(n_neighbors=1, device="cpu").fit(X, ["only"]).predict(Q)
    assert_array_equal(pred, ["only"] * 3)


def test_one_feature_matches_sklearn(rng, device):
    X = rng.uniform(size=(1100, 1))
    Q = rng.uniform(size=(300, 1))
    dist, ind = NearestNeighbors(n_neighbors=9, device=device).fit(X).kneighbors(Q)
    assert_array_equal(ind, sk_nn(n_neighbors=9).fit(X).kneighbors(Q, return_distance=False))
    # Distances against the exact ones: scikit-learn's |q|^2 - 2 q.x + |x|^2 keeps only ~6
    # digits of a 1e-6 distance between numbers near 1 (measured 1.6e-6 relative here).
    assert_allclose(dist, np.take_along_axis(np.abs(Q - X.T), ind, axis=1), rtol=1e-14)


@pytest.mark.parametrize("gl_cls", [NearestNeighbors, KNeighborsClassifier, KNeighborsRegressor])
def test_wrong_feature_count_raises_sklearns_error(rng, gl_cls):
    X = rng.uniform(size=(20, 4))
    model = gl_cls(device="cpu").fit(X, np.arange(20) % 2)
    name = gl_cls.__name__
    match = rf"X has 3 features, but {name} is expecting 4 features as input"
    with pytest.raises(ValueError, match=match):
        model.kneighbors(X[:5, :3])
    with pytest.raises(ValueError, match=match):
        model.kneighbors_graph(X[:5, :3])
    if hasattr(model, "predict"):
        with pytest.raises(ValueError, match=match):
            model.predict(X[:5, :3])
    else:
        with pytest.raises(ValueError, match=match):
            model.radius_neighbors(X[:5, :3])


def test_complex_and_string_input_raise(rng):
    X = rng.uniform(size=(20, 4))
    with pytest.raises(ValueError, match=r"Complex data not supported"):
        NearestNeighbors(device="cpu").fit(X + 1j)
    model = NearestNeighbors(device="cpu").fit(X)
    with pytest.raises(ValueError, match=r"Complex data not supported"):
        model.kneighbors(X[:3] + 1j)
    X_str = np.array([[f"s{i}f{j}" for j in range(4)] for i in range(20)])
    with pytest.raises(ValueError, match=r"string"):
        NearestNeighbors(device="cpu").fit(X_str)
    with pytest.raises(ValueError, match=r"string"):
        model.kneighbors(X_str[:3])


def test_sparse_input_is_taken(rng):
    """scipy.sparse is searched as its dense form is (tests/python/test_sparse_neighbors.py
    covers it); here only that the bad-input matrix's data passes both ways."""
    X = rng.uniform(size=(20, 4))
    X_sparse = sp.csr_matrix(X)
    dense = NearestNeighbors(n_neighbors=3, device="cpu").fit(X).kneighbors(X[:3])
    for model in (NearestNeighbors(n_neighbors=3, device="cpu").fit(X_sparse),
                  NearestNeighbors(n_neighbors=3, device="cpu").fit(X)):
        dist, ind = model.kneighbors(X_sparse[:3])
        assert_array_equal(ind, dense[1])
        assert_allclose(dist, dense[0], rtol=RTOL_F64, atol=ATOL_SELF_EUCLIDEAN)
    clf = KNeighborsClassifier(n_neighbors=3, device="cpu").fit(X_sparse, np.arange(20) % 2)
    assert_array_equal(clf.predict(X_sparse), KNeighborsClassifier(
        n_neighbors=3, device="cpu").fit(X, np.arange(20) % 2).predict(X))


def _callable_metric(a, b):
    return float(np.abs(a - b).sum())


@pytest.mark.parametrize("params, name", [
    ({"metric": _callable_metric}, "_callable_metric"),
    ({"metric": DistanceMetric.get_metric("manhattan")}, "DistanceMetric"),
    ({"metric": "minkowski", "metric_params": {"w": np.ones(4)}}, "metric_params"),
    ({"metric": "canberra"}, "canberra"),
    ({"metric": "hamming"}, "hamming"),
    ({"metric": "precomputed"}, "precomputed"),
])
def test_unsupported_metrics_are_a_clear_error(rng, params, name):
    X = rng.uniform(size=(20, 4))
    for make in (lambda: NearestNeighbors(device="cpu", **params).fit(X).kneighbors(X[:2]),
                 lambda: KNeighborsClassifier(device="cpu", **params).fit(
                     X, np.arange(20) % 2).predict(X[:2])):
        with pytest.raises((NotImplementedError, ValueError)) as info:
            make()
        assert name in str(info.value)


def test_predict_before_fit_raises_not_fitted(rng):
    Q = rng.uniform(size=(3, 4))
    for call in (lambda: NearestNeighbors(device="cpu").kneighbors(Q),
                 lambda: NearestNeighbors(device="cpu").kneighbors(),
                 lambda: NearestNeighbors(device="cpu").radius_neighbors(Q),
                 lambda: NearestNeighbors(device="cpu").kneighbors_graph(Q),
                 lambda: NearestNeighbors(device="cpu").radius_neighbors_graph(Q),
                 lambda: KNeighborsClassifier(device="cpu").predict(Q),
                 lambda: KNeighborsClassifier(device="cpu").predict_proba(Q),
                 lambda: KNeighborsRegressor(device="cpu").predict(Q)):
        with pytest.raises(NotFittedError):
            call()


def test_read_only_fortran_and_strided_input_give_the_same_results(rng):
    X = rng.uniform(size=(1100, 5))
    Q = rng.uniform(size=(300, 5))
    y = rng.integers(0, 3, size=1100)
    ref_dist, ref_ind = NearestNeighbors(n_neighbors=6, device="cpu").fit(X).kneighbors(Q)
    ref_pred = KNeighborsClassifier(device="cpu").fit(X, y).predict(Q)

    def variants(A):
        ro = A.copy()
        ro.flags.writeable = False
        wide = np.zeros((A.shape[0] * 2, A.shape[1] * 3))
        wide[::2, ::3] = A
        return [ro, np.asfortranarray(A), wide[::2, ::3]]

    for Xv, Qv in zip(variants(X), variants(Q)):
        X_before, Q_before = np.array(Xv), np.array(Qv)
        dist, ind = NearestNeighbors(n_neighbors=6, device="cpu").fit(Xv).kneighbors(Qv)
        assert_array_equal(ind, ref_ind)
        assert_array_equal(dist, ref_dist)
        assert_array_equal(KNeighborsClassifier(device="cpu").fit(Xv, y).predict(Qv), ref_pred)
        r = NearestNeighbors(device="cpu").fit(Xv).radius_neighbors(Qv, radius=0.3)
        r_ref = NearestNeighbors(device="cpu").fit(X).radius_neighbors(Q, radius=0.3)
        for a, b in zip(r[1], r_ref[1]):
            assert_array_equal(a, b)
        assert_array_equal(Xv, X_before)
        assert_array_equal(Qv, Q_before)


def test_cosine_zero_vectors_are_at_distance_one(rng, device):
    X = rng.uniform(-1, 1, size=(1100, 4))
    X[[3, 600]] = 0.0
    Q = np.vstack([np.zeros(4), rng.uniform(-1, 1, size=(5, 4))])
    ref = cosine_distances(Q, X)
    dist, ind = NearestNeighbors(n_neighbors=1100, metric="cosine",
                                 device=device).fit(X).kneighbors(Q)
    assert_allclose(dist, np.take_along_axis(ref, ind, axis=1), rtol=1e-12, atol=1e-12)
    # The zero query is at distance 1 from everything: ties, by index.
    assert_array_equal(ind[0], np.arange(1100))
    assert_array_equal(dist[0], np.ones(1100))
    for q in range(1, 6):  # the zero rows are at exactly 1 from any query
        assert dist[q, np.flatnonzero(ind[q] == 3)[0]] == 1.0
        assert dist[q, np.flatnonzero(ind[q] == 600)[0]] == 1.0
    ref_dist, ref_ind = sk_nn("cosine").fit(X).kneighbors(Q[1:], n_neighbors=50)
    assert_array_equal(ind[1:, :50], ref_ind)
    assert_allclose(dist[1:, :50], ref_dist, rtol=RTOL_F64, atol=ATOL_F64)


def test_inner_product_radius_queries_are_refused(rng):
    X = rng.uniform(size=(20, 4))
    model = NearestNeighbors(metric="inner_product", device="cpu").fit(X)
    with pytest.raises(ValueError, match="inner_product"):
        model.radius_neighbors(X[:3], radius=0.5)
    with pytest.raises(ValueError, match="inner_product"):
        model.radius_neighbors_graph(X[:3], radius=0.5)


def test_magnitudes_whose_squares_overflow_float32_raise(rng):
    X = (rng.normal(size=(20, 3)) * 1e19).astype(np.float32)
    with pytest.raises(ValueError, match=r"overflow"):
        NearestNeighbors(device="cpu").fit(X).kneighbors(X[:3])
    # float64 holds them, and the neighbours are scikit-learn's.
    X64 = X.astype(np.float64)
    dist, ind = NearestNeighbors(device="cpu").fit(X64).kneighbors(X64[:3])
    ref_dist, ref_ind = sk_nn().fit(X64).kneighbors(X64[:3])
    assert_array_equal(ind, ref_ind)
    assert_allclose(dist, ref_dist, rtol=1e-7, atol=1e12)  # self distances: GEMM residue
