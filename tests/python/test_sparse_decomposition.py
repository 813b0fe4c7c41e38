"""TruncatedSVD and PCA on scipy.sparse input (issue 21): parity with scikit-learn on the same
sparse input, sparse against dense, the formats and index edge cases, bad input, memory.

Data: ``sparse_data`` draws a scipy.sparse.random pattern of the given density with standard
normal values, its columns scaled by linspace(3, 0.1, d) so that the spectrum decays (the
recorded SEED), shapes tall 2000 x 60 and wide 150 x 400, densities 0.1%, 1% and 10%. At 0.1%
most rows and columns are empty: the centred data's spectrum has many null and repeated values.

Which components are compared: as in test_decomposition.py, only components whose eigenvalue is
non-null (above 1e-8 of the largest) and at least GAP of the largest away from its neighbours'
are determined; eigenvalues, ratios and singular values are compared all.

Tolerances: the dense tests' bars (test_decomposition.py), float64; measured on this 2-core
Xeon (2026-12-07), worst over the parity cases of this file:
- RTOL 1e-10 on explained_variance_, explained_variance_ratio_ and singular_values_ (squared;
  null ones atol 1e-12 of the largest). Measured <= 3.7e-14, also on the arpack path past the
  Gram limit (d = 2100, subspace iteration from a random start): <= 9.6e-15. MEAN_RTOL 1e-12 on mean_ (measured
  1.9e-14). scipy's svds (scikit-learn's sparse arpack) iterates on X^T X as gpulearn's sparse
  arpack does.
- ATOL_COMPONENT 1e-9 on components_ and, relative to the largest |value|, on transform
  (measured <= 1.2e-12 and 9.2e-13).
- NOISE: noise_variance_ rtol 1e-9, atol 1e-12 of the total variance (measured 6.4e-15).
- Sparse against dense gpulearn: the same model within SAME = 1e-10 of the largest |value| of
  each attribute and of transform (measured <= 1.0e-13): the same driver, products summed in
  another order. float32 sparse against float32 dense: F32 = 1e-4, the dense float32 bar
  (measured <= 1.4e-5, covariance_eigh).
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import decomposition as sk

from gpulearn.decomposition import PCA, TruncatedSVD

from _testdata import PEAK_PROBE, SEED

RTOL = 1e-10
MEAN_RTOL = 1e-12
ATOL_COMPONENT = 1e-9
NOISE = 1e-9
SAME = 1e-10
F32 = 1e-4
GAP = 1e-3

DENSITIES = [0.001, 0.01, 0.1]
SHAPES = {"tall": (2000, 60), "wide": (150, 400)}


def make_sparse(n, d, density, seed, fmt="csr"):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=rng,
                  data_rvs=rng.standard_normal)
    X = (X @ sp.diags(np.linspace(3.0, 0.1, d))).tocsr()
    return X.asformat(fmt)


@pytest.fixture(scope="module")
def sparse_data():
    return {(shape, density): make_sparse(*SHAPES[shape], density, SEED + i)
            for i, (shape, density) in enumerate(
                (s, dd) for s in SHAPES for dd in DENSITIES)}


def separated(ev, gap=GAP):
    """Which eigenvalues (descending) are non-null and apart from their neighbours."""
    ev = np.asarray(ev, dtype=np.float64)
    top = ev[0] if ev.size and ev[0] > 0 else 1.0
    keep = ev > 1e-8 * top
    for i in range(ev.size):
        if i > 0 and ev[i - 1] - ev[i] < gap * top:
            keep[i] = False
        if i + 1 < ev.size and ev[i] - ev[i + 1] < gap * top:
            keep[i] = False
    return keep


def centred_spectrum(X, centre):
    """The squared singular values of the (centred) data, descending, in float64."""
    A = X.toarray()
    if centre:
        A = A - A.mean(axis=0)
    return np.linalg.svd(A, compute_uv=False) ** 2


def check_spectral_model(ours, ref, keep, X):
    ev0 = float(np.max(ref.explained_variance_))
    assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=RTOL,
                    atol=1e-12 * ev0)
    assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=RTOL,
                    atol=1e-12)
    s0 = float(np.max(ref.singular_values_))
    assert_allclose(ours.singular_values_**2, ref.singular_values_**2, rtol=RTOL,
                    atol=1e-12 * s0**2)
    assert_allclose(ours.components_[keep], ref.components_[keep], rtol=0, atol=ATOL_COMPONENT)
    T, T_ref = ours.transform(X), ref.transform(X)
    assert isinstance(T, np.ndarray) and T.shape == T_ref.shape
    assert_allclose(T[:, keep], T_ref[:, keep], rtol=0,
                    atol=ATOL_COMPONENT * float(np.max(np.abs(T_ref))))


# ---- parity with scikit-learn on the same sparse input -------------------------------------


@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
def test_truncated_svd_matches_sklearn_on_sparse_input(sparse_data, shape, density, algorithm):
    X = sparse_data[shape, density]
    params = dict(n_components=5, algorithm=algorithm, random_state=0)
    ours = TruncatedSVD(device="cpu", **params).fit(X)
    ref = sk.TruncatedSVD(**params).fit(X)
    keep = separated(centred_spectrum(X, centre=False))[:5]
    if algorithm == "randomized":  # the subspace of 5 power iterations: compare the same
        keep &= separated(ref.singular_values_**2)
    check_spectral_model(ours, ref, keep, X)
    Z = TruncatedSVD(device="cpu", **params).fit_transform(X)
    assert_allclose(Z, ours.transform(X), rtol=0, atol=1e-12 * float(np.max(np.abs(Z))))
    assert ours.components_.dtype == np.float64


@pytest.mark.parametrize("density", DENSITIES)
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("solver", ["arpack", "covariance_eigh", "auto"])
def test_pca_matches_sklearn_on_sparse_input(sparse_data, shape, density, solver):
    X = sparse_data[shape, density]
    ours = PCA(6, svd_solver=solver, device="cpu").fit(X)
    ref = sk.PCA(6, svd_solver=solver, random_state=0).fit(X)
    assert ours._fit_svd_solver == ref._fit_svd_solver
    assert ours._fit_svd_solver == ("arpack" if solver == "auto" else solver)
    spectrum = centred_spectrum(X, centre=True)
    keep = separated(spectrum)[:6]
    check_spectral_model(ours, ref, keep, X)
    assert_allclose(ours.mean_, ref.mean_, rtol=MEAN_RTOL, atol=1e-15)
    total = spectrum.sum() / (X.shape[0] - 1)
    assert ours.noise_variance_ == pytest.approx(ref.noise_variance_, rel=NOISE,
                                                 abs=1e-12 * total)
    Z, Z_ref = PCA(6, svd_solver=solver, device="cpu").fit_transform(X), ref.transform(X)
    assert_allclose(Z[:, keep], Z_ref[:, keep], rtol=0,
                    atol=ATOL_COMPONENT * float(np.max(np.abs(Z_ref))))


@pytest.mark.parametrize("whiten", [False, True])
def test_pca_whiten_and_all_components_on_sparse_input(sparse_data, whiten):
    X = sparse_data["tall", 0.1]
    ours = PCA(None, svd_solver="covariance_eigh", whiten=whiten, device="cpu").fit(X)
    ref = sk.PCA(None, svd_solver="covariance_eigh", whiten=whiten).fit(X)
    keep = separated(centred_spectrum(X, centre=True))
    check_spectral_model(ours, ref, keep, X)
    # Every component kept: inverse_transform (dense, as scikit-learn's) gives X back.
    X_back = ours.inverse_transform(ours.transform(X))
    assert isinstance(X_back, np.ndarray)
    assert_allclose(X_back, X.toarray(), rtol=0, atol=1e-10 * np.abs(X.data).max())


@pytest.mark.parametrize("estimator", ["TruncatedSVD", "PCA"])
def test_arpack_on_features_past_the_gram_start_limit_matches_sklearn(estimator):
    # d = 400 > 256 (kSparseGramStartMaxCols): the sparse arpack path starts its iteration from a
    # Gaussian draw instead of the d x d Gram matrix's eigenvectors.
    X = make_sparse(200, 400, 0.03, SEED + 50)
    if estimator == "PCA":
        ours = PCA(4, svd_solver="arpack", device="cpu").fit(X)
        ref = sk.PCA(4, svd_solver="arpack", random_state=0).fit(X)
        spectrum = centred_spectrum(X, centre=True)
    else:
        ours = TruncatedSVD(4, algorithm="arpack", device="cpu").fit(X)
        ref = sk.TruncatedSVD(4, algorithm="arpack", random_state=0).fit(X)
        spectrum = centred_spectrum(X, centre=False)
    keep = separated(spectrum)[:4]
    assert keep.any()
    check_spectral_model(ours, ref, keep, X)
    if estimator == "PCA":
        assert ours.noise_variance_ == pytest.approx(ref.noise_variance_, rel=NOISE)


# A nearly dense column far from the origin (1e4 + N(0, 1)) in otherwise sparse data: the
# implicit centring must not cancel. "arpack" centres each row of X Z before X^T multiplies it,
# as scikit-learn's implicitly centred operator does: against scikit-learn's "full" on the dense
# array, FAR_RTOL 1e-9 on the spectrum and components (the dense tests' far-from-origin bar;
# measured 1.8e-13, components 7e-13; scikit-learn's sparse arpack 8.7e-14). "covariance_eigh"
# forms X^T X - n m m^T, as scikit-learn's does on sparse input: FAR_RTOL_GRAM 1e-6 (measured
# 5e-8; scikit-learn's sparse covariance_eigh 1.5e-8), components FAR_COMPONENT_GRAM 1e-5
# (measured 2.2e-7).
FAR_RTOL = 1e-9
FAR_RTOL_GRAM = 1e-6
FAR_COMPONENT_GRAM = 1e-5


@pytest.mark.parametrize("solver", ["arpack", "covariance_eigh"])
def test_a_dense_column_far_from_the_origin_is_centred_without_cancelling(solver):
    A = make_sparse(500, 30, 0.1, SEED + 60).toarray()
    A[:, 0] = 1e4 + np.random.default_rng(SEED + 61).standard_normal(500)
    ours = PCA(3, svd_solver=solver, device="cpu").fit(sp.csr_matrix(A))
    ref = sk.PCA(3, svd_solver="full").fit(A)
    rtol = FAR_RTOL if solver == "arpack" else FAR_RTOL_GRAM
    assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=rtol)
    assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=rtol)
    # Components: their error is the matrix's over the gaps (0.05 of the largest variance here).
    comp_atol = ATOL_COMPONENT if solver == "arpack" else FAR_COMPONENT_GRAM
    assert_allclose(ours.components_, ref.components_, rtol=0, atol=comp_atol)
    assert_allclose(ours.mean_, ref.mean_, rtol=MEAN_RTOL)


# ---- sparse against dense, formats and index edge cases ------------------------------------


def assert_same_model(a, b, rtol=SAME):
    for name in ("components_", "explained_variance_", "explained_variance_ratio_",
                 "singular_values_", "mean_"):
        if hasattr(b, name):
            ref = getattr(b, name)
            assert getattr(a, name).dtype == ref.dtype, name
            scale = float(np.max(np.abs(ref))) or 1.0
            assert_allclose(getattr(a, name), ref, rtol=0, atol=rtol * scale, err_msg=name)


ESTIMATORS = {
    "tsvd-randomized": lambda: TruncatedSVD(4, random_state=3, device="cpu"),
    "tsvd-arpack": lambda: TruncatedSVD(4, algorithm="arpack", device="cpu"),
    "pca-arpack": lambda: PCA(4, svd_solver="arpack", device="cpu"),
    "pca-covariance_eigh": lambda: PCA(4, svd_solver="covariance_eigh", device="cpu"),
}


def dense_fit_of(make, X):
    est = make()
    if isinstance(est, PCA) and est.svd_solver == "auto":
        est.set_params(svd_solver="arpack")
    return est.fit(X.toarray())


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_sparse_and_dense_give_the_same_model(name):
    X = make_sparse(300, 40, 0.05, SEED + 1)
    sparse_fit, dense_fit = ESTIMATORS[name]().fit(X), dense_fit_of(ESTIMATORS[name], X)
    assert_same_model(sparse_fit, dense_fit)
    T, T_dense = sparse_fit.transform(X), dense_fit.transform(X.toarray())
    assert_allclose(T, T_dense, rtol=0, atol=SAME * np.abs(T_dense).max())


def variants(X):
    """The same matrix in every form scipy offers it: formats, index widths, unsorted indices,
    duplicates to sum, explicit zeros."""
    coo = X.tocoo()
    out = {"csr": X.tocsr(), "csc": X.tocsc(), "coo": coo, "csr_array": sp.csr_array(X),
           "csc_array": sp.csc_array(X), "coo_array": sp.coo_array(X)}
    wide = X.tocsr().copy()
    wide.indices = wide.indices.astype(np.int64)
    wide.indptr = wide.indptr.astype(np.int64)
    out["int64-indices"] = wide
    unsorted = X.tocsr().copy()
    for i in range(unsorted.shape[0]):  # reverse each row's entries
        a, b = unsorted.indptr[i], unsorted.indptr[i + 1]
        unsorted.indices[a:b] = unsorted.indices[a:b][::-1].copy()
        unsorted.data[a:b] = unsorted.data[a:b][::-1].copy()
    unsorted.has_sorted_indices = False
    out["unsorted"] = unsorted
    half = coo.data / 2  # every entry stored twice, as halves: scipy sums duplicates
    out["duplicates"] = sp.coo_matrix(
        (np.r_[half, coo.data - half], (np.r_[coo.row, coo.row], np.r_[coo.col, coo.col])),
        shape=X.shape)
    zeros_at = np.arange(0, X.shape[0], 3)
    explicit = sp.coo_matrix(
        (np.r_[coo.data, np.zeros(zeros_at.size)],
         (np.r_[coo.row, zeros_at], np.r_[coo.col, (zeros_at * 7) % X.shape[1]])),
        shape=X.shape).tocsr()
    out["explicit-zeros"] = explicit
    return out


@pytest.fixture(scope="module")
def edge_matrix():
    X = make_sparse(200, 30, 0.08, SEED + 2).tolil()
    X[5:9, :] = 0  # empty rows
    X[:, 3] = 0  # empty columns
    X[:, 17] = 0
    return X.tocsr()


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_format_and_index_form_gives_the_dense_model(edge_matrix, name):
    X = edge_matrix
    assert X.getnnz(axis=1)[5:9].sum() == 0 and X.getnnz(axis=0)[[3, 17]].sum() == 0
    dense_fit = dense_fit_of(ESTIMATORS[name], X)
    T_dense = dense_fit.transform(X.toarray())
    for form, Xs in variants(X).items():
        model = ESTIMATORS[name]().fit(Xs)
        assert_same_model(model, dense_fit)
        assert_allclose(model.transform(Xs), T_dense, rtol=0, atol=SAME * np.abs(T_dense).max(),
                        err_msg=form)
    # The forms really differ from canonical CSR (the test would prove nothing otherwise).
    forms = variants(X)
    assert forms["int64-indices"].indices.dtype == np.int64
    assert not forms["unsorted"].has_sorted_indices
    assert forms["duplicates"].nnz == 2 * X.nnz
    assert forms["explicit-zeros"].nnz > X.nnz


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_float32_sparse_stays_float32_and_matches_dense(name):
    X = make_sparse(300, 40, 0.05, SEED + 3).astype(np.float32)
    model = ESTIMATORS[name]().fit(X)
    dense_fit = dense_fit_of(ESTIMATORS[name], X)
    assert model.components_.dtype == np.float32
    T = model.transform(X)
    assert T.dtype == np.float32
    assert_same_model(model, dense_fit, rtol=F32)
    assert_allclose(T, dense_fit.transform(X.toarray()), rtol=0,
                    atol=F32 * np.abs(T).max())


def test_transform_of_sparse_input_from_a_dense_fit():
    X = make_sparse(200, 25, 0.1, SEED + 4)
    for model in (PCA(3, whiten=True, device="cpu"), TruncatedSVD(3, random_state=0,
                                                                  device="cpu")):
        model.fit(X.toarray())
        assert_allclose(model.transform(X), model.transform(X.toarray()), rtol=0,
                        atol=SAME * np.abs(model.transform(X.toarray())).max())


def test_sparse_tags():
    assert TruncatedSVD().__sklearn_tags__().input_tags.sparse
    for solver in ("auto", "arpack", "covariance_eigh"):
        assert PCA(svd_solver=solver).__sklearn_tags__().input_tags.sparse
    for solver in ("full", "randomized"):
        assert not PCA(svd_solver=solver).__sklearn_tags__().input_tags.sparse


# ---- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("make", [lambda: TruncatedSVD(2, device="cpu"),
                                  lambda: PCA(2, device="cpu")], ids=["TruncatedSVD", "PCA"])
def test_non_finite_values_raise_as_the_dense_fit_does(make, bad):
    X = make_sparse(50, 10, 0.3, SEED + 5)
    X.data[7] = bad
    with pytest.raises(ValueError) as dense_error:
        make().fit(X.toarray())
    with pytest.raises(ValueError) as sparse_error:
        make().fit(X)
    assert str(sparse_error.value) == str(dense_error.value)
    assert "Input X contains NaN or infinity" in str(sparse_error.value)
    fitted = make().fit(make_sparse(50, 10, 0.3, SEED + 6))
    with pytest.raises(ValueError, match="Input X contains NaN or infinity"):
        fitted.transform(X)


@pytest.mark.parametrize("make", [lambda: TruncatedSVD(2, device="cpu"),
                                  lambda: PCA(2, device="cpu")], ids=["TruncatedSVD", "PCA"])
def test_wrong_feature_count_and_empty_input(make):
    ours, ref = make(), (sk.TruncatedSVD(2) if isinstance(make(), TruncatedSVD) else sk.PCA(2))
    X = make_sparse(50, 10, 0.3, SEED + 7)
    ours.fit(X)
    ref.fit(X)
    other = make_sparse(5, 7, 0.3, SEED + 8)
    with pytest.raises(ValueError) as mine:
        ours.transform(other)
    with pytest.raises(ValueError) as theirs:
        ref.transform(other)
    assert str(mine.value) == str(theirs.value)
    empty = sp.csr_matrix((0, 10))
    with pytest.raises(ValueError) as mine:
        make().fit(empty)
    with pytest.raises(ValueError) as theirs:
        (sk.TruncatedSVD(2) if isinstance(make(), TruncatedSVD) else sk.PCA(2)).fit(empty)
    assert str(mine.value) == str(theirs.value)


@pytest.mark.parametrize("solver", ["full", "randomized"])
def test_pca_refuses_sparse_input_for_other_solvers_as_sklearn(solver):
    X = make_sparse(50, 10, 0.3, SEED + 9)
    with pytest.raises(TypeError) as theirs:
        sk.PCA(2, svd_solver=solver).fit(X)
    with pytest.raises(TypeError) as mine:
        PCA(2, svd_solver=solver, device="cpu").fit(X)
    assert str(mine.value) == str(theirs.value)


def test_methods_sklearn_keeps_dense_refuse_sparse_as_sklearn():
    X = make_sparse(50, 10, 0.3, SEED + 10)
    ours, ref = PCA(3, device="cpu").fit(X), sk.PCA(3).fit(X)
    for method, arg in (("score_samples", X),
                        ("inverse_transform", sp.csr_matrix(ref.transform(X)))):
        with pytest.raises(TypeError) as theirs:
            getattr(ref, method)(arg)
        with pytest.raises(TypeError) as mine:
            getattr(ours, method)(arg)
        assert str(mine.value) == str(theirs.value)


# ---- determinism and memory, in fresh processes --------------------------------------------


def run_python(code, env=None):
    full_env = {**os.environ, **(env or {})}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=full_env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


DETERMINISM = f"""
    import hashlib, numpy as np, scipy.sparse as sp
    from gpulearn.decomposition import PCA, TruncatedSVD
    rng = np.random.default_rng({SEED})
    X = sp.random(5000, 300, density=0.02, format="csr", random_state=rng,
                  data_rvs=rng.standard_normal)
    h = hashlib.sha256()
    for m in (TruncatedSVD(5, random_state=0, device="cpu"),
              TruncatedSVD(5, algorithm="arpack", device="cpu"),
              PCA(5, svd_solver="arpack", device="cpu")):
        m.fit(X)
        for a in (m.components_, m.singular_values_, m.explained_variance_ratio_,
                  m.transform(X)):
            h.update(np.ascontiguousarray(a).tobytes())
    print(h.hexdigest())
"""


def test_same_bits_with_one_thread_and_several():
    one = run_python(DETERMINISM, {"GPULEARN_NUM_THREADS": "1"})
    several = run_python(DETERMINISM, {"GPULEARN_NUM_THREADS": "4"})
    assert one == several


# 2e5 x 2e5 at 0.01%: 4e6 stored entries (48 MB as float64 values and int32 indices, 1.6 MB of
# row offsets); its dense form would take 320 GB. The fit's own peak (the process's high-water
# mark, reset just before the fit, minus what was resident then) is bounded by what the fit
# holds: the CSR's bytes once more (at most: int64 offsets), PARTIALS, and MODEL_COPIES n x l and
# d x l float64 arrays (l = n_components + n_oversamples: the start matrix, the basis, its
# products and their SVD's workspace). PARTIALS is the sparse primitives' cap on the d x l
# per-partition sums of X^T A (src/sparse/sparse_cpu.cpp: ~256 MiB in all, as the dense passes
# bound theirs), reached here since d l 8 bytes = 19 MB. Measured (2-core Xeon, 2026-12-07):
# 368 MB extra for n_components=2 (CSR 49.6 MB; the bound below 520 MB), 451 MB for 10;
# scikit-learn's fit of the same matrix, 140 MB for 10. 7 to 11 s.
PARTIALS = 256 << 20
MODEL_COPIES = 4
MEMORY = PEAK_PROBE + textwrap.dedent("""
    import numpy as np, scipy.sparse as sp, time
    from gpulearn.decomposition import TruncatedSVD

    n = d = 200_000
    nnz = 4_000_000
    rng = np.random.default_rng(0)
    rows = np.sort(rng.integers(0, n, nnz))
    indptr = np.searchsorted(rows, np.arange(n + 1)).astype(np.int32)
    del rows
    indices = rng.integers(0, d, nnz, dtype=np.int32)
    X = sp.csr_matrix((rng.random(nnz), indices, indptr), shape=(n, d))
    X.sum_duplicates()
    csr_bytes = X.data.nbytes + X.indices.nbytes + 8 * (n + 1)
    model = TruncatedSVD(2, random_state=0, device="cpu")
    reset_peak()
    before = status("VmRSS:")
    t = time.perf_counter()
    model.fit(X)
    T = model.transform(X)
    elapsed = time.perf_counter() - t
    peak = status("VmHWM:")
    l = model.n_components + model.n_oversamples
    print(csr_bytes, peak - before, elapsed, float(model.singular_values_[0]), (n + d) * l * 8)
""")


def test_tsvd_on_a_matrix_whose_dense_form_would_not_fit_stays_near_nnz():
    csr_bytes, extra, elapsed, s0, model_bytes = run_python(MEMORY).split()
    csr_bytes, extra, model_bytes = int(csr_bytes), int(extra), int(model_bytes)
    assert float(s0) > 0
    bound = csr_bytes + PARTIALS + MODEL_COPIES * model_bytes
    assert extra < bound, (extra, csr_bytes, bound, elapsed)
