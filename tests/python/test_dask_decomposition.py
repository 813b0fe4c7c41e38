"""gpulearn.dask.PCA and gpulearn.dask.TruncatedSVD against the single-machine estimators.

Data: rng.standard_normal((n, d)) @ diag(linspace(3, 0.1, d)) @ Q + offset (Q a random
orthogonal matrix, the recorded SEED): a clearly decaying spectrum, every component determined.
Dask inputs have uneven row chunks with a chunk of one row, one of zero rows and more chunks
than the fixture's two workers. PCA and TruncatedSVD take no sample_weight (nor does
scikit-learn's), so there is no weighted case.

Tolerances (max |difference| over the largest |single-machine value| of each attribute):
float64 1e-10 (components, singular values, variances, ratios, mean, noise variance,
transform, inverse_transform, score_samples); float32 1e-4 (2e-3 for components and
projections, whose float32 error scales with 1 / the spectral gap). The largest measured
differences are printed by ``test_report_measured`` (run with -s).
"""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose

pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

from gpulearn import decomposition as local  # noqa: E402
from gpulearn.dask._decomposition import PCA, TruncatedSVD, _BlockSpectralData  # noqa: E402
from gpulearn.dask._parts import LocalPartitions  # noqa: E402
from gpulearn import _core, _devices  # noqa: E402

from _testdata import SEED  # noqa: E402

TALL = (200, 12)
TALL_CHUNKS = (37, 1, 0, 120, 42)
WIDE = (60, 90)
WIDE_CHUNKS = (17, 1, 0, 30, 12)
TOL = {np.float64: 1e-10, np.float32: 1e-4}
TOL_F32_VECTORS = 2e-3
MEASURED = {}

PCA_ATTRIBUTES = ("components_", "explained_variance_", "explained_variance_ratio_",
                  "singular_values_", "mean_", "noise_variance_")
TSVD_ATTRIBUTES = ("components_", "explained_variance_", "explained_variance_ratio_",
                   "singular_values_")


def make_data(shape, dtype=np.float64, offset=5.0, seed=SEED):
    rng = np.random.default_rng(seed)
    n, d = shape
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = rng.standard_normal((n, d)) @ np.diag(np.linspace(3, 0.1, d)) @ q + offset
    return X.astype(dtype)


def as_dask(X, chunks):
    return da.from_array(X, chunks=(chunks, X.shape[1]))


def rel_diff(actual, desired):
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    scale = max(float(np.max(np.abs(desired))) if desired.size else 0.0, 1e-300)
    return float(np.max(np.abs(actual - desired))) / scale if desired.size else 0.0


def assert_close(actual, desired, tol, what):
    err = rel_diff(actual, desired)
    MEASURED[what] = max(MEASURED.get(what, 0.0), err)
    assert err <= tol, f"{what}: relative difference {err:.3g} > {tol:g}"


def assert_same_fit(ours, ref, attributes, tol, name, vec_tol=None):
    assert type(ours.n_features_in_) is type(ref.n_features_in_)
    assert ours.n_features_in_ == ref.n_features_in_
    for a in attributes:
        mine, theirs = getattr(ours, a), getattr(ref, a)
        assert np.asarray(mine).dtype == np.asarray(theirs).dtype, a
        assert np.shape(mine) == np.shape(theirs), a
        t = vec_tol if (vec_tol and a == "components_") else tol
        assert_close(mine, theirs, t, f"{name} {a}")


# Every solver, every form of n_components it takes; "auto" picks covariance_eigh here
# (n >= 10 d), full on the wide data below.
PCA_CASES = [
    ("full", None), ("full", 5), ("full", 0.8), ("full", "mle"),
    ("covariance_eigh", 4), ("covariance_eigh", 0.9),
    ("randomized", 4), ("randomized", None), ("arpack", None), ("auto", None),
]


@pytest.mark.parametrize("solver,n_components", PCA_CASES)
def test_pca_tall_matches_single_machine(dask_client, solver, n_components):
    X = make_data(TALL)
    kw = dict(n_components=n_components, svd_solver=solver, random_state=0, device="cpu")
    ref = local.PCA(**kw).fit(X)
    ours = PCA(**kw).fit(as_dask(X, TALL_CHUNKS))
    assert ours._fit_svd_solver == ref._fit_svd_solver
    assert ours.n_components_ == ref.n_components_ and ours.n_samples_ == ref.n_samples_
    assert_same_fit(ours, ref, PCA_ATTRIBUTES, TOL[np.float64], f"PCA tall {solver}")
    assert not hasattr(ours, "feature_names_in_")


@pytest.mark.parametrize("solver,n_components",
                         [("randomized", 5), ("arpack", 6), ("auto", 0.7), ("covariance_eigh", 8)])
def test_pca_wide_matches_single_machine(dask_client, solver, n_components):
    """Wide data: blocks with fewer rows than features (R factors of their rows only), and the
    randomized start's n x l Omega sent to the blocks row by row."""
    X = make_data(WIDE)
    kw = dict(n_components=n_components, svd_solver=solver, random_state=1, device="cpu")
    ref = local.PCA(**kw).fit(X)
    ours = PCA(**kw).fit(as_dask(X, WIDE_CHUNKS))
    assert ours._fit_svd_solver == ref._fit_svd_solver
    assert_same_fit(ours, ref, PCA_ATTRIBUTES, TOL[np.float64], f"PCA wide {solver}")


@pytest.mark.parametrize("shape,chunks", [(TALL, TALL_CHUNKS), (WIDE, WIDE_CHUNKS)])
@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
def test_truncated_svd_matches_single_machine(dask_client, shape, chunks, algorithm):
    X = make_data(shape, offset=0.5)
    kw = dict(n_components=4, algorithm=algorithm, n_iter=3, random_state=2, device="cpu")
    ref = local.TruncatedSVD(**kw).fit(X)
    ours = TruncatedSVD(**kw).fit(as_dask(X, chunks))
    assert_same_fit(ours, ref, TSVD_ATTRIBUTES, TOL[np.float64], f"TSVD {algorithm}")


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized"])
def test_pca_float32(dask_client, solver):
    X = make_data(TALL, np.float32)
    kw = dict(n_components=5, svd_solver=solver, random_state=0, device="cpu")
    ref = local.PCA(**kw).fit(X)
    ours = PCA(**kw).fit(as_dask(X, TALL_CHUNKS))
    assert ours.components_.dtype == np.float32
    assert_same_fit(ours, ref, PCA_ATTRIBUTES, TOL[np.float32], f"PCA float32 {solver}",
                    vec_tol=TOL_F32_VECTORS)
    assert_close(ours.transform(X), ref.transform(X), TOL_F32_VECTORS, "PCA float32 transform")


def test_truncated_svd_float32(dask_client):
    X = make_data(TALL, np.float32, offset=0.5)
    kw = dict(n_components=4, random_state=0, device="cpu")
    ref = local.TruncatedSVD(**kw).fit(X)
    ours = TruncatedSVD(**kw).fit(as_dask(X, TALL_CHUNKS))
    assert_same_fit(ours, ref, TSVD_ATTRIBUTES, TOL[np.float32], "TSVD float32",
                    vec_tol=TOL_F32_VECTORS)


@pytest.mark.parametrize("solver,whiten", [("full", False), ("randomized", False),
                                           ("randomized", True)])
def test_pca_methods_on_dask_input(dask_client, solver, whiten):
    """transform, inverse_transform, score_samples, fit_transform: dask arrays chunked like the
    input, equal to the single-machine results; score is their mean."""
    X = make_data(TALL)
    kw = dict(n_components=4, svd_solver=solver, whiten=whiten, random_state=0, device="cpu")
    ref = local.PCA(**kw)
    Z_ref = ref.fit_transform(X)
    ours = PCA(**kw)
    Xd = as_dask(X, TALL_CHUNKS)
    Z = ours.fit_transform(Xd)
    assert isinstance(Z, da.Array) and Z.chunks == (TALL_CHUNKS, (4,))
    # For "randomized" on n >= d this is U S, not transform(X): the single-machine result.
    assert_close(Z.compute(), Z_ref, TOL[np.float64], "PCA fit_transform")
    T = ours.transform(Xd)
    assert isinstance(T, da.Array) and T.chunks == (TALL_CHUNKS, (4,))
    assert_close(T.compute(), ref.transform(X), TOL[np.float64], "PCA transform")
    back = ours.inverse_transform(T)
    assert back.chunks == (TALL_CHUNKS, (X.shape[1],))
    assert_close(back.compute(), ref.inverse_transform(ref.transform(X)), TOL[np.float64],
                 "PCA inverse_transform")
    ll = ours.score_samples(Xd)
    assert isinstance(ll, da.Array) and ll.chunks == (TALL_CHUNKS,)
    assert_close(ll.compute(), ref.score_samples(X), TOL[np.float64], "PCA score_samples")
    assert_allclose(ours.score(Xd), ref.score(X), rtol=1e-10)
    # NumPy input goes to the single-machine methods.
    assert isinstance(ours.transform(X), np.ndarray)
    assert_close(ours.transform(X), ref.transform(X), TOL[np.float64], "PCA transform")


def test_truncated_svd_methods_on_dask_input(dask_client):
    X = make_data(TALL, offset=0.5)
    kw = dict(n_components=3, random_state=0, device="cpu")
    ref = local.TruncatedSVD(**kw)
    Z_ref = ref.fit_transform(X)
    ours = TruncatedSVD(**kw)
    Xd = as_dask(X, TALL_CHUNKS)
    Z = ours.fit_transform(Xd)
    assert isinstance(Z, da.Array) and Z.chunks == (TALL_CHUNKS, (3,))
    assert_close(Z.compute(), Z_ref, TOL[np.float64], "TSVD fit_transform")
    back = ours.inverse_transform(Z)
    assert_close(back.compute(), ref.inverse_transform(Z_ref), TOL[np.float64],
                 "TSVD inverse_transform")


def test_dataframe_input(dask_client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X = make_data(TALL)
    names = [f"f{i}" for i in range(X.shape[1])]
    frame = dd.from_pandas(pd.DataFrame(X, columns=names), npartitions=3)
    ref = local.PCA(n_components=3, device="cpu").fit(pd.DataFrame(X, columns=names))
    ours = PCA(n_components=3, device="cpu").fit(frame)
    assert list(ours.feature_names_in_) == names
    assert_same_fit(ours, ref, PCA_ATTRIBUTES, TOL[np.float64], "PCA dataframe")
    T = ours.transform(frame)
    assert_close(T.compute(), ref.transform(pd.DataFrame(X, columns=names)), TOL[np.float64],
                 "PCA transform")
    tsvd = TruncatedSVD(n_components=2, random_state=0, device="cpu").fit(frame)
    assert list(tsvd.feature_names_in_) == names


def test_to_local_pickles_and_transforms(dask_client):
    X = make_data(TALL)
    ours = PCA(n_components=3, svd_solver="randomized", random_state=0, device="cpu")
    ours.fit(as_dask(X, TALL_CHUNKS))
    loc = ours.to_local()
    assert type(loc) is local.PCA
    again = pickle.loads(pickle.dumps(loc))
    assert type(again) is local.PCA
    assert_allclose(again.transform(X), ours.transform(as_dask(X, TALL_CHUNKS)).compute(),
                    rtol=0, atol=1e-12)
    tsvd = TruncatedSVD(n_components=3, random_state=0, device="cpu")
    tsvd.fit(as_dask(X, TALL_CHUNKS))
    tl = pickle.loads(pickle.dumps(tsvd.to_local()))
    assert type(tl) is local.TruncatedSVD
    assert_allclose(tl.transform(X), tsvd.transform(as_dask(X, TALL_CHUNKS)).compute(),
                    rtol=0, atol=1e-12)


@pytest.mark.parametrize("estimator", [PCA(device="cpu"), TruncatedSVD(device="cpu")])
def test_nan_in_one_partition(dask_client, estimator):
    X = make_data(TALL)
    X[150, 3] = np.nan  # in the fourth chunk only
    with pytest.raises(ValueError, match="Input X contains NaN or infinity."):
        type(estimator)(**estimator.get_params()).fit(X)
    with pytest.raises(ValueError, match="Input X contains NaN or infinity."):
        estimator.fit(as_dask(X, TALL_CHUNKS))


def test_too_few_rows_and_features(dask_client):
    X = make_data(TALL)
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        PCA(device="cpu").fit(as_dask(X[:1], (1,)))
    with pytest.raises(ValueError, match="minimum of 2 is required"):
        TruncatedSVD(device="cpu").fit(as_dask(X[:, :1], TALL_CHUNKS))
    with pytest.raises(ValueError, match="must be between 0 and"):
        PCA(n_components=20, svd_solver="full", device="cpu").fit(as_dask(X, TALL_CHUNKS))


def test_same_driver_without_dask():
    """The driver over LocalPartitions (blocks in this process, the same per-block functions)
    equals the MatrixView fit: the split into blocks is the only difference."""
    X = make_data(TALL)
    bounds = np.cumsum((0,) + TALL_CHUNKS)
    bounds = [int(b) for b in dict.fromkeys(bounds)]  # no empty blocks, as partition() drops
    parts = LocalPartitions(X, bounds=bounds)
    for solver in ("full", "covariance_eigh", "randomized"):
        ref = local.PCA(n_components=4, svd_solver=solver, random_state=0, device="cpu")
        result = ref._fit(X)
        params = ref._core_params(*X.shape, X.dtype)
        ours = _core.pca_fit_data(_devices.context("cpu"), params, _BlockSpectralData(parts))
        for key in ("components", "singular_values", "explained_variance", "mean"):
            assert_close(ours[key], result[key], TOL[np.float64], f"local blocks {solver} {key}")
        if result["fit_transform_components"] is not None:
            assert_close(ours["fit_transform_components"], result["fit_transform_components"],
                         TOL[np.float64], f"local blocks {solver} fit_transform_components")


class _Boom(Exception):
    pass


def test_python_exception_leaves_the_driver_as_itself():
    """An exception raised by a Python reduction inside the C++ driver comes out unchanged."""

    class Failing(_BlockSpectralData):
        def centered_gram(self, mean, scale):
            raise _Boom("from Python")

    X = make_data(TALL)
    parts = LocalPartitions(X)
    params = local.PCA(svd_solver="covariance_eigh")._core_params(*X.shape, X.dtype)
    with pytest.raises(_Boom, match="from Python"):
        _core.pca_fit_data(_devices.context("cpu"), params, Failing(parts))
    # The GIL and the driver survive: the same data fits right after.
    _core.pca_fit_data(_devices.context("cpu"), params, _BlockSpectralData(parts))


def test_fit_is_deterministic(dask_client):
    X = as_dask(make_data(TALL), TALL_CHUNKS)
    a = PCA(n_components=3, svd_solver="randomized", random_state=7, device="cpu").fit(X)
    b = PCA(n_components=3, svd_solver="randomized", random_state=7, device="cpu").fit(X)
    assert np.array_equal(a.components_, b.components_)


@pytest.mark.cuda
@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized"])
def test_cuda_workers_match_cpu(dask_client, cuda, solver):
    """Each worker process fits its blocks on its own (emulated) GPU; compared with the
    single-machine CPU model by the single-machine CUDA-vs-CPU bars (float64: 1e-9)."""
    X = make_data(TALL)
    kw = dict(n_components=4, svd_solver=solver, random_state=0)
    ref = local.PCA(device="cpu", **kw).fit(X)
    ours = PCA(device="cuda", **kw).fit(as_dask(X, TALL_CHUNKS))
    assert_same_fit(ours, ref, PCA_ATTRIBUTES, 1e-9, f"PCA cuda {solver}")
    assert_close(ours.transform(as_dask(X, TALL_CHUNKS)).compute(), ref.transform(X), 1e-9,
                 "PCA cuda transform")
    tsvd_ref = local.TruncatedSVD(3, random_state=0, device="cpu").fit(X)
    tsvd = TruncatedSVD(3, random_state=0, device="cuda").fit(as_dask(X, TALL_CHUNKS))
    assert_same_fit(tsvd, tsvd_ref, TSVD_ATTRIBUTES, 1e-9, "TSVD cuda")


def test_report_measured():
    """Prints the largest relative differences measured by the tests above (pytest -s)."""
    for what, err in sorted(MEASURED.items()):
        print(f"{what:60s} {err:.3g}")
