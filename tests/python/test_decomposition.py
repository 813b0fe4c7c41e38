"""PCA and TruncatedSVD: parity with scikit-learn, their semantics, and the bad-input matrix.

Data: ``pca_data`` draws rng.standard_normal((n, d)) @ diag(linspace(3, 0.1, d)) @ Q + 5, Q a
random orthogonal matrix, with the recorded SEED: a clearly decaying spectrum, far enough from
the origin that a missing centring shows. Shapes: tall 500 x 30, wide 60 x 120 (its centred rank
is 59, so with n_components=None the last component spans a null space and is arbitrary) and
600 x 550 with n_components=10, where "auto" picks the randomized solver.

Which components are compared: a component (its row of components_, its column of transform)
is determined only when its explained variance is non-null and apart from its neighbours'. The
tests compare the components whose variance is above 1e-8 of the largest and at least 1e-3 of
the largest away from either neighbour (1e-2 in float32), in the exact spectrum of the data;
the eigenvalues themselves are compared all, the null ones with an absolute tolerance.

Tolerances, float64 (all gpulearn solvers against the same scikit-learn solver):
- components_ atol 1e-9 (unit vectors), transform atol 1e-9 of its largest |value|; measured
  <= 1e-12 on tall and wide, 6e-10 on a 550-feature covariance with gaps ~1e-4 (not compared).
  The error of a component is ~eps * ev[0] / gap, so 1e-3 gaps leave three decades of margin.
- explained_variance_, explained_variance_ratio_, singular_values_ (squared), get_covariance:
  rtol 1e-10 (measured <= 3e-13; null ones atol 1e-12 of the largest: a null singular value is
  the square root of such a rounding residue, so singular values are compared squared); mean_
  rtol 1e-12.
- noise_variance_: rtol 1e-9, atol 1e-12 of the total variance: it is a difference of sums
  (total - kept) for the truncated solvers, whose cancellation residue is ~eps * total.
- get_precision, score_samples, score: rtol 1e-9 of the largest |value| (measured <= 9e-12 at
  cond ~1e3), compared only where the model covariance is non-singular (noise_variance_
  clearly above 0, or n_components_ == n_features). Where noise_variance_ == 0 with
  n_components_ < n_features gpulearn raises (scikit-learn inverts the singular matrix).
- randomized: the start matrix is scikit-learn's draw and the subspace its randomized_svd's,
  so the same bars hold (measured ~1e-13 for components and eigenvalues on tall, wide and
  600 x 550 data). fit_transform returns U * S as scikit-learn's does; for the randomized
  solver on data with n >= d that is the approximate SVD's (differing from transform by the
  approximation, ~2e-3 here), computed as X W with W d x k (see src/decomposition/spectral.cpp),
  and compared with scikit-learn's fit_transform by the same bars.
- inverse_transform: atol 1e-10 of max |X| against scikit-learn's, and against X itself when
  n_components_ == min(n, d) (measured ~1e-14).
- Far from the origin (1e4 + 1e-2 * data): scikit-learn's "full" is the reference for every
  exact gpulearn solver (scikit-learn's covariance_eigh subtracts n mean mean^T and loses
  ~1e-3 there); gpulearn's randomized against scikit-learn's randomized. Transform subtracts a
  1e4 mean to leave values ~1e-2, so it keeps ~1e-10 relative (measured 2e-10): atol 1e-8 of
  its largest |value|; components and eigenvalues keep 1e-9.
- float32 against scikit-learn's float64 fit of the same float32-rounded data: eigenvalues,
  ratios, squared singular values, noise and covariance rtol 1e-4 (null eigenvalues atol 1e-4
  of the largest); inverse_transform atol 3e-4 of max |X|; mean_ rtol 1e-6. Where the error
  grows with the conditioning, the bar is derived from it (float32_bars), 10x the effect of a
  covariance rounding of 8 eps32 ev_0: components whose gap is >= 1e-2 of the largest
  eigenvalue, 80 eps32 ev_0 / gap (measured <= 0.029 of it, on either build below); transform,
  that times the largest centred row norm (measured <= 0.047); precision, score_samples and
  score, 80 eps32 cond relatively (measured <= 0.035). Measured on an AVX-512 Xeon, gpulearn
  built with -march=native and without.
- TruncatedSVD (on the same draws offset by 0.5 instead of 5, so that the mean direction does
  not dwarf the other singular values): the same float64 bars (measured <= 6e-14), and the
  float32 bars against scikit-learn's float64 fit.
- Different seeds of the randomized solver on data whose spectrum decays fast: eigenvalues
  within 1e-4 relative and components within 1e-2 of the exact ones (measured 1e-5 and 6e-4).
"""

import pickle
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import decomposition as sk
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from gpulearn.decomposition import PCA, TruncatedSVD

from _testdata import SEED

SOLVERS = ["full", "covariance_eigh", "randomized", "arpack", "auto"]
N_COMPONENTS = [None, 5, 0.8, "mle"]
SHAPES = {"tall": (500, 30), "wide": (60, 120)}

# The bars of the module docstring. gap: of the largest eigenvalue, between a compared
# component's and its neighbours'; rtol: eigenvalues, ratios, singular values (squared),
# covariance; ev_abs: of the largest, for null eigenvalues (and squared singular values); comp:
# components (unit vectors); transform / x: of the largest |value| of transform / of X
# (inverse_transform); noise (relative) and noise_abs (of the total variance); ll: precision,
# score_samples, score. float32's comp, transform and ll come from the conditioning, below.
TOL = {
    np.float64: dict(gap=1e-3, rtol=1e-10, ev_abs=1e-12, comp=1e-9, transform=1e-9, x=1e-10,
                     mean=1e-12, noise=1e-9, noise_abs=1e-12, ll=1e-9),
    np.float32: dict(gap=1e-2, rtol=1e-4, ev_abs=1e-4, x=3e-4, mean=1e-6, noise=1e-4,
                     noise_abs=1e-4),
}
# float32: where a quantity's rounding error grows with the problem's conditioning, its bar is
# derived from that conditioning, not from one machine's rounding (the same float32 fit rounds
# otherwise with and without AVX-512 and FMA; a fixed 1e-4 on the precision was within 2.4x of
# its error at cond ~1e3, a fixed 1e-3 of s_0 within 3x of a null singular value). The float32
# fit's covariance is off by ~F32_ROUNDING * ev_0 in effect: measured as its components see it,
# sin(angle) * gap <= 7.9 eps32 ev_0, and as the precision does, <= 5.4 eps32 ev_0 * cond, over
# every solver and shape, built with -march=native on an AVX-512 Xeon and without. Each bar is
# F32_SAFETY times that rounding's effect (see float32_bars): measured errors <= 0.047 of their
# bars; a rotation of two components by 0.01 rad fails by >= 7.8x. At cond ~1e3 (tall data,
# every component kept) the precision's bar is ~1e-2 relative: float32's honest reach there.
F32_ROUNDING = 8 * float(np.finfo(np.float32).eps)
F32_SAFETY = 10
RTOL = TOL[np.float64]["rtol"]
ATOL_COMPONENT = TOL[np.float64]["comp"]
GAP = TOL[np.float64]["gap"]
RTOL_F32 = TOL[np.float32]["rtol"]
GAP_F32 = TOL[np.float32]["gap"]


def pca_data(rng, n, d, offset=5.0):
    """X with a clearly decaying, distinct spectrum, rotated by a random orthogonal Q."""
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return rng.standard_normal((n, d)) @ np.diag(np.linspace(3.0, 0.1, d)) @ Q + offset


@pytest.fixture(scope="module")
def datasets():
    """{name: (X, exact spectrum)}; each X drawn fresh from the recorded SEED."""
    out = {}
    for i, (name, (n, d)) in enumerate(SHAPES.items()):
        X = pca_data(np.random.default_rng(SEED + i), n, d)
        out[name] = (X, sk.PCA(svd_solver="full").fit(X).explained_variance_)
    return out


@pytest.fixture(scope="module")
def mid_data():
    """600 x 550: with n_components=10, "auto" is scikit-learn's randomized solver."""
    return pca_data(np.random.default_rng(SEED + 10), 600, 550)


def nearest_gap(ev):
    """Each eigenvalue's distance to the nearest other one."""
    diffs = np.abs(np.diff(np.asarray(ev, dtype=np.float64)))
    return np.minimum(np.r_[np.inf, diffs], np.r_[diffs, np.inf])


def separated(ev, gap=GAP):
    """Mask of the components that are determined: non-null, apart from both neighbours."""
    ev = np.asarray(ev, dtype=np.float64)
    return (ev > 1e-8 * ev[0]) & (nearest_gap(ev) > gap * ev[0])


def float32_bars(ref, X64, spectrum):
    """float32 bars from the conditioning of each quantity, F32_SAFETY times the effect of a
    covariance rounding of F32_ROUNDING * ev_0 (ev_0 the largest eigenvalue):

    - components: entry-wise atol per component i, from sin(angle_i) <= rounding / gap_i
      (Davis-Kahan; gap_i the distance of its eigenvalue to the nearest other; an entry's
      error is within the 2-norm's);
    - transform: atol per column i, that times the largest centred row norm (over sqrt(ev_i)
      when whitened), the most a rotation of the component by that angle moves a projection;
    - ll: rtol of the precision, score_samples and score, rounding / ev_0 times cond, the
      model covariance's largest over its smallest eigenvalue (a relative perturbation of a
      matrix moves its inverse by cond times as much).
    """
    rounding = F32_SAFETY * F32_ROUNDING
    ev0 = float(spectrum[0])
    k = ref.n_components_
    sin_angle = rounding * ev0 / nearest_gap(spectrum)[:k]
    row_norm = float(np.max(np.linalg.norm(X64 - ref.mean_, axis=1)))
    transform = row_norm * sin_angle
    if ref.whiten:
        transform = transform / np.sqrt(ref.explained_variance_)
    model_ev = ref.explained_variance_
    if ref.n_components_ < ref.n_features_in_:
        model_ev = np.r_[model_ev, ref.noise_variance_]
    ll = rounding * float(np.max(model_ev) / np.min(model_ev)) if np.min(model_ev) > 0 else None
    return sin_angle, transform, ll


def assert_within(actual, desired, atol):
    """|actual - desired| <= atol entry-wise, atol broadcast (an array: one bar per entry)."""
    error = np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(desired, dtype=np.float64))
    ratio = error / np.broadcast_to(atol, error.shape)
    assert np.all(ratio <= 1), f"error up to {np.max(ratio):.3g}x its bar"


def assert_rel(actual, desired, rtol):
    """allclose to rtol of the largest |desired| (entries near 0 carry the scale's rounding)."""
    desired = np.asarray(desired, dtype=np.float64)
    scale = float(np.max(np.abs(desired))) if desired.size else 1.0
    assert_allclose(np.asarray(actual, dtype=np.float64), desired, rtol=rtol, atol=rtol * scale)


def covariance_is_regular(model):
    """Whether the PCA model's covariance is clearly non-singular."""
    ev = model.explained_variance_
    return (model.n_components_ == model.n_features_in_ and ev[-1] > 1e-8 * ev[0]) or \
        model.noise_variance_ > 1e-8 * ev[0]


def sk_supports(shape, solver, n_components):
    n, d = shape
    if isinstance(n_components, str):
        return solver not in ("randomized", "arpack") and n >= d
    if isinstance(n_components, float):
        return solver not in ("randomized", "arpack")
    return True


def fit_both(X, **params):
    ours = PCA(device="cpu", **params).fit(X)
    ref = sk.PCA(**params).fit(X)
    return ours, ref


def assert_pca_matches(ours, ref, X, spectrum):
    """ours against a scikit-learn PCA fitted on the same data (X is ours' input), to the bars
    of ours' dtype."""
    tol = TOL[ours.components_.dtype.type]
    k = ours.n_components_
    assert k == ref.n_components_
    assert ours.n_samples_ == ref.n_samples_ and ours.n_features_in_ == ref.n_features_in_
    assert ours.components_.shape == ref.components_.shape
    keep = separated(spectrum, tol["gap"])[:k]
    assert keep.any()
    X64 = np.asarray(X, dtype=np.float64)
    ev0, s0 = float(ref.explained_variance_[0]), float(ref.singular_values_[0])
    if ours.components_.dtype == np.float32:
        comp_atol, transform_atol, ll = float32_bars(ref, X64, spectrum)
        comp_atol, transform_atol = comp_atol[keep, None], transform_atol[keep]
    else:
        comp_atol, ll = tol["comp"], tol["ll"]
    assert_within(ours.components_[keep], ref.components_[keep], comp_atol)
    assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=tol["rtol"],
                    atol=tol["ev_abs"] * ev0)
    assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_,
                    rtol=tol["rtol"], atol=tol["ev_abs"])
    # A null singular value is the square root of a null eigenvalue's rounding residue: compared
    # squared, to the eigenvalues' bars (a relative error of s^2 is twice that of s).
    assert_allclose(np.asarray(ours.singular_values_, dtype=np.float64) ** 2,
                    ref.singular_values_**2, rtol=tol["rtol"], atol=tol["ev_abs"] * s0**2)
    assert_allclose(ours.mean_, ref.mean_, rtol=tol["mean"])
    assert ours.noise_variance_ == pytest.approx(ref.noise_variance_, rel=tol["noise"],
                                                 abs=tol["noise_abs"] * float(np.sum(spectrum)))
    T, T_ref = ours.transform(X), ref.transform(X64)
    if ours.components_.dtype != np.float32:
        transform_atol = tol["transform"] * float(np.max(np.abs(T_ref[:, keep])))
    assert_within(T[:, keep], T_ref[:, keep], transform_atol)
    # Back to the data space: scikit-learn's inverse of its own projection.
    assert_allclose(ours.inverse_transform(T), ref.inverse_transform(T_ref), rtol=0,
                    atol=tol["x"] * float(np.max(np.abs(X64))))
    assert_rel(ours.get_covariance(), ref.get_covariance(), tol["rtol"])
    if covariance_is_regular(ref):
        assert_rel(ours.get_precision(), ref.get_precision(), ll)
        assert_rel(ours.score_samples(X), ref.score_samples(X64), ll)
        assert ours.score(X) == pytest.approx(ref.score(X64), rel=ll)
    return keep


# ---- parity with scikit-learn, float64 ------------------------------------------------------


# Every (shape, solver, n_components) scikit-learn accepts; the others are bad input (below).
PARITY_CASES = [pytest.param(shape, solver, n_components, id=f"{shape}-{solver}-{n_components}")
                for shape in SHAPES for solver in SOLVERS for n_components in N_COMPONENTS
                if sk_supports(SHAPES[shape], solver, n_components)]


@pytest.mark.parametrize("whiten", [False, True])
@pytest.mark.parametrize("shape, solver, n_components", PARITY_CASES)
def test_pca_matches_sklearn(datasets, shape, solver, n_components, whiten):
    X, spectrum = datasets[shape]
    params = dict(n_components=n_components, svd_solver=solver, whiten=whiten, random_state=0)
    ours, ref = fit_both(X, **params)
    assert ours._fit_svd_solver == ref._fit_svd_solver  # "auto" chooses as scikit-learn
    keep = assert_pca_matches(ours, ref, X, spectrum)

    # fit_transform is U * S, as scikit-learn's: fit(X).transform(X) to rounding, but for the
    # randomized solver on n >= d, whose U * S is the approximate SVD's (module docstring).
    Z = PCA(device="cpu", **params).fit_transform(X)
    if ref._fit_svd_solver != "randomized" or X.shape[0] < X.shape[1]:
        assert_rel(Z, ours.transform(X), 1e-12)
    Z_ref = sk.PCA(**params).fit_transform(X)
    assert_allclose(Z[:, keep], Z_ref[:, keep], rtol=0,
                    atol=ATOL_COMPONENT * float(np.max(np.abs(Z_ref[:, keep]))))

    if ours.n_components_ == min(X.shape):  # every direction of the data kept: exact round trip
        assert_allclose(ours.inverse_transform(ours.transform(X)), X, rtol=0,
                        atol=1e-10 * np.max(np.abs(X)))
    if not covariance_is_regular(ours) and ours.noise_variance_ == 0:
        for method in (ours.get_precision, lambda: ours.score_samples(X), lambda: ours.score(X)):
            with pytest.raises(ValueError, match="singular"):
                method()


@pytest.mark.parametrize("whiten", [False, True])
@pytest.mark.parametrize("solver", ["auto", "randomized"])
def test_pca_randomized_on_550_features_matches_sklearn(mid_data, solver, whiten):
    X = mid_data
    ours, ref = fit_both(X, n_components=10, svd_solver=solver, whiten=whiten, random_state=3)
    assert ours._fit_svd_solver == ref._fit_svd_solver == "randomized"
    # The approximate subspace is the reference here: its own spectrum decides separation.
    assert_pca_matches(ours, ref, X, np.r_[ref.explained_variance_, 0.0])
    Z = PCA(10, svd_solver=solver, whiten=whiten, random_state=3, device="cpu").fit_transform(X)
    Z_ref = sk.PCA(10, svd_solver=solver, whiten=whiten, random_state=3).fit_transform(X)
    assert_rel(Z, Z_ref, 1e-10)
    # U * S of the approximate SVD: not transform(X), which differs by the approximation
    assert not np.allclose(Z, ours.transform(X), rtol=0, atol=1e-6 * np.max(np.abs(Z)))


def test_whitened_projections_have_unit_variance(datasets):
    X, _ = datasets["tall"]
    Z = PCA(5, whiten=True, device="cpu").fit_transform(X)
    assert_allclose(Z.var(axis=0, ddof=1), 1.0, rtol=1e-10)
    assert_allclose(Z.mean(axis=0), 0.0, atol=1e-10)


def test_precision_is_the_inverse_of_the_covariance(datasets):
    X, _ = datasets["tall"]
    model = PCA(7, device="cpu").fit(X)
    assert_allclose(model.get_precision() @ model.get_covariance(), np.eye(X.shape[1]),
                    atol=1e-10)


# ---- float32 -----------------------------------------------------------------------------


@pytest.mark.parametrize("whiten", [False, True])
@pytest.mark.parametrize("n_components", [None, 5])
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_pca_float32_stays_float32_and_is_close_to_float64(datasets, shape, solver,
                                                           n_components, whiten):
    X = datasets[shape][0].astype(np.float32)
    X64 = X.astype(np.float64)  # scikit-learn's float64 fit of the same rounded values
    params = dict(n_components=n_components, svd_solver=solver, whiten=whiten, random_state=0)
    ours = PCA(device="cpu", **params).fit(X)
    ref = sk.PCA(**params).fit(X64)
    spectrum = sk.PCA(svd_solver="full").fit(X64).explained_variance_
    for name in ("components_", "explained_variance_", "explained_variance_ratio_",
                 "singular_values_", "mean_"):
        assert getattr(ours, name).dtype == np.float32, name
    assert np.asarray(ours.noise_variance_).dtype == np.float32
    T = ours.transform(X)
    outputs = [T, ours.inverse_transform(T), ours.get_covariance(),
               PCA(device="cpu", **params).fit_transform(X)]
    if covariance_is_regular(ref):
        outputs += [ours.get_precision(), ours.score_samples(X)]
    for out in outputs:
        assert out.dtype == np.float32
    assert_pca_matches(ours, ref, X, spectrum)


def test_pca_float32_randomized_on_550_features(mid_data):
    X = mid_data.astype(np.float32)
    ours = PCA(10, random_state=3, device="cpu").fit(X)
    ref = sk.PCA(10, random_state=3).fit(X.astype(np.float64))
    assert ours.components_.dtype == np.float32
    assert ours.transform(X).dtype == np.float32
    assert_pca_matches(ours, ref, X, np.r_[ref.explained_variance_, 0.0])


@pytest.mark.parametrize("dtype", [np.int64, np.float16, bool])
def test_other_real_dtypes_are_fitted_in_float64(datasets, dtype):
    X = (datasets["tall"][0] * 4)[:, :6]
    Xd = X.astype(dtype) if dtype is not bool else X > X.mean(axis=0)
    ours = PCA(3, device="cpu").fit(Xd)
    ref = sk.PCA(3).fit(Xd)
    assert ours.components_.dtype == np.float64 and ours.transform(Xd).dtype == np.float64
    assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=RTOL)
    keep = separated(sk.PCA().fit(Xd).explained_variance_)[:3]
    assert keep.any()
    assert_allclose(ours.components_[keep], ref.components_[keep], rtol=0, atol=ATOL_COMPONENT)
    T_ref = ref.transform(Xd)[:, keep]
    assert_allclose(ours.transform(Xd)[:, keep], T_ref, rtol=0,
                    atol=ATOL_COMPONENT * np.abs(T_ref).max())


# ---- data far from the origin, constant columns --------------------------------------------


@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "arpack", "randomized"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_data_far_from_the_origin(shape, solver, rng):
    n, d = SHAPES[shape]
    X = 1e4 + 1e-2 * pca_data(rng, n, d, offset=0.0)
    ref_solver = "randomized" if solver == "randomized" else "full"
    ours = PCA(5, svd_solver=solver, random_state=0, device="cpu").fit(X)
    ref = sk.PCA(5, svd_solver=ref_solver, random_state=0).fit(X)
    spectrum = sk.PCA(svd_solver="full").fit(X).explained_variance_
    keep = separated(spectrum)[:5]
    assert keep.any()
    assert_allclose(ours.components_[keep], ref.components_[keep], rtol=0, atol=ATOL_COMPONENT)
    assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-9)
    assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-9)
    assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-9)
    assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    noise = ref.noise_variance_
    if solver == "covariance_eigh" and n < d:
        # scikit-learn's covariance_eigh averages the d - k discarded eigenvalues of the d x d
        # covariance (n - 1 of them non-null), its full solver the min(n, d) - k of the SVD.
        noise *= (min(n, d) - 5) / (d - 5)
    assert ours.noise_variance_ == pytest.approx(noise, rel=1e-9)
    T, T_ref = ours.transform(X), ref.transform(X)
    assert_allclose(T[:, keep], T_ref[:, keep], rtol=0,
                    atol=1e-8 * np.max(np.abs(T_ref[:, keep])))
    assert_allclose(ours.inverse_transform(T), ref.inverse_transform(T_ref), rtol=1e-12)


@pytest.mark.parametrize("constant", [[2], [1, 4]], ids=["one", "two"])
@pytest.mark.parametrize("solver", ["full", "covariance_eigh", "randomized", "arpack"])
def test_constant_columns_give_null_variance_and_no_nan(solver, constant, rng):
    X = rng.standard_normal((200, 6)) * [3.0, 2.0, 1.5, 1.0, 0.5, 0.2] + 4.0
    X[:, constant] = 7.25
    n_components = 5 if solver == "arpack" else None
    ours = PCA(n_components, svd_solver=solver, random_state=0, device="cpu").fit(X)
    ref = sk.PCA(n_components, svd_solver="full").fit(X)
    k = ours.n_components_
    for name in ("components_", "explained_variance_", "explained_variance_ratio_",
                 "singular_values_", "mean_"):
        assert np.all(np.isfinite(getattr(ours, name))), name
    assert np.isfinite(ours.noise_variance_)
    ev = ours.explained_variance_
    n_live = 6 - len(constant)
    assert_allclose(ev[:n_live], ref.explained_variance_[:n_live], rtol=RTOL)
    assert np.all(np.abs(ev[n_live:]) <= 1e-12 * ev[0])
    assert abs(ours.noise_variance_) <= 1e-12 * ev[0]
    # The live components do not load on the constant columns.
    assert np.max(np.abs(ours.components_[:n_live][:, constant])) <= 1e-10
    assert_allclose(ours.components_[:n_live], ref.components_[:n_live], rtol=0, atol=1e-9)
    T = ours.transform(X)
    assert np.all(np.isfinite(T)) and T.shape == (200, k)
    assert_allclose(ours.inverse_transform(T), ref.inverse_transform(ref.transform(X)),
                    rtol=0, atol=1e-10 * np.max(np.abs(X)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["full", "arpack"])
@pytest.mark.parametrize("n, d, rank", [(40, 90, 39), (300, 12, 8), (25, 25, 24)],
                         ids=["wide", "tall-rank-8", "square"])
def test_data_of_rank_k_has_no_noise_variance_on_either_backend(n, d, rank, solver, dtype,
                                                                 device):
    # k components of data of centred rank k explain everything: noise_variance_ is exactly 0,
    # and the model covariance is singular, whatever rounding noise the SVD leaves in the null
    # singular values (exact zeros on one backend, a few eps * s_max on another: the verdict
    # of get_precision flipped between the CPU and the emulated GPU on wide float32 data).
    gen = np.random.default_rng(SEED + 41)
    noise_values = []
    for trial in range(4):
        X = (gen.standard_normal((n, rank)) @ gen.standard_normal((rank, d)) + 3.0).astype(dtype)
        model = PCA(rank, svd_solver=solver, device=device).fit(X)
        assert model.n_components_ == rank
        noise_values.append(float(model.noise_variance_))
        with pytest.raises(ValueError, match="singular"):
            model.get_precision()
        with pytest.raises(ValueError, match="singular"):
            model.score_samples(X)
    assert noise_values == [0.0] * 4


# ---- TruncatedSVD ------------------------------------------------------------------------

# TruncatedSVD does not centre: with the data's offset of 5 the mean direction would carry 99%
# of the energy and leave the other singular values ~1e-4 of it apart, so it runs on the same
# draws offset by 0.5 instead.
TSVD_SHIFT = 4.5


@pytest.mark.parametrize("n_components", [1, 2, 5])
@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_truncated_svd_matches_sklearn(datasets, shape, algorithm, n_components):
    X = datasets[shape][0] - TSVD_SHIFT
    params = dict(n_components=n_components, algorithm=algorithm, random_state=0)
    ours = TruncatedSVD(device="cpu", **params).fit(X)
    ref = sk.TruncatedSVD(**params).fit(X)
    s = np.linalg.svd(X, compute_uv=False)
    keep = separated(s**2)[:n_components]
    assert keep.any()
    assert ours.components_.shape == ref.components_.shape == (n_components, X.shape[1])
    assert_allclose(ours.components_[keep], ref.components_[keep], rtol=0, atol=ATOL_COMPONENT)
    assert_allclose(ours.singular_values_, ref.singular_values_, rtol=RTOL)
    assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=RTOL)
    assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=RTOL)
    T, T_ref = ours.transform(X), ref.transform(X)
    atol_t = ATOL_COMPONENT * np.max(np.abs(T_ref))
    assert_allclose(T[:, keep], T_ref[:, keep], rtol=0, atol=atol_t)
    Z = TruncatedSVD(device="cpu", **params).fit_transform(X)
    assert_rel(Z, T, 1e-12)
    assert_allclose(Z[:, keep], sk.TruncatedSVD(**params).fit_transform(X)[:, keep], rtol=0,
                    atol=atol_t)
    assert_allclose(ours.inverse_transform(T), ref.inverse_transform(T_ref), rtol=0,
                    atol=1e-10 * np.max(np.abs(X)))


@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
def test_truncated_svd_float32_stays_float32(datasets, algorithm):
    X = (datasets["tall"][0] - TSVD_SHIFT).astype(np.float32)
    ours = TruncatedSVD(3, algorithm=algorithm, random_state=0, device="cpu").fit(X)
    ref = sk.TruncatedSVD(3, algorithm=algorithm, random_state=0).fit(X.astype(np.float64))
    for name in ("components_", "explained_variance_", "explained_variance_ratio_",
                 "singular_values_"):
        assert getattr(ours, name).dtype == np.float32, name
    T = ours.transform(X)
    assert T.dtype == ours.inverse_transform(T).dtype == np.float32
    keep = separated(np.linalg.svd(X.astype(np.float64), compute_uv=False) ** 2, GAP_F32)[:3]
    assert_allclose(ours.components_[keep], ref.components_[keep], rtol=0, atol=RTOL_F32)
    assert_allclose(ours.singular_values_, ref.singular_values_, rtol=RTOL_F32)
    assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_,
                    rtol=RTOL_F32)
    assert_rel(T[:, keep], ref.transform(X.astype(np.float64))[:, keep], RTOL_F32)


# ---- random_state --------------------------------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_fixed_seed_gives_the_same_model_twice(datasets, solver):
    X, _ = datasets["wide"]
    a = PCA(4, svd_solver=solver, random_state=7, device="cpu").fit(X)
    b = PCA(4, svd_solver=solver, random_state=7, device="cpu").fit(X)
    for name in ("components_", "explained_variance_", "singular_values_", "mean_"):
        assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.noise_variance_ == b.noise_variance_
    assert_array_equal(a.transform(X), b.transform(X))


@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
def test_truncated_svd_fixed_seed_gives_the_same_model_twice(datasets, algorithm):
    X, _ = datasets["tall"]
    a = TruncatedSVD(3, algorithm=algorithm, random_state=7, device="cpu").fit(X)
    b = TruncatedSVD(3, algorithm=algorithm, random_state=7, device="cpu").fit(X)
    assert_array_equal(a.components_, b.components_)
    assert_array_equal(a.singular_values_, b.singular_values_)


def test_random_state_instance_is_drawn_from_as_sklearn_does(mid_data):
    X = mid_data
    ours = PCA(10, svd_solver="randomized", random_state=np.random.RandomState(11),
               device="cpu")
    ref = sk.PCA(10, svd_solver="randomized", random_state=np.random.RandomState(11))
    for _ in range(2):  # the second fit draws the generator's next numbers, in both
        ours.fit(X)
        ref.fit(X)
        keep = separated(np.r_[ref.explained_variance_, 0.0])[:10]
        assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-9)
        assert_allclose(ours.components_[keep], ref.components_[keep], rtol=0, atol=1e-9)


def test_different_seeds_agree_up_to_the_randomized_approximation(rng):
    n, d = 400, 200
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = rng.standard_normal((n, d)) @ np.diag(np.geomspace(10.0, 0.01, d)) @ Q + 5.0
    exact = sk.PCA(5, svd_solver="full").fit(X)
    fits = [PCA(5, svd_solver="randomized", random_state=seed, device="cpu").fit(X)
            for seed in (0, 1, 2)]
    assert not np.array_equal(fits[0].components_, fits[1].components_)  # different draws
    for model in fits:
        assert_allclose(model.explained_variance_, exact.explained_variance_, rtol=1e-4)
        assert_allclose(model.components_, exact.components_, rtol=0, atol=1e-2)
        assert model.noise_variance_ == pytest.approx(exact.noise_variance_, rel=1e-4)


# ---- persistence, feature names, input layouts ---------------------------------------------


@pytest.mark.parametrize("make", [lambda: PCA(4, whiten=True, device="cpu"),
                                  lambda: PCA(4, svd_solver="randomized", random_state=0,
                                              device="cpu"),
                                  lambda: TruncatedSVD(3, random_state=0, device="cpu")],
                         ids=["PCA-whiten", "PCA-randomized", "TruncatedSVD"])
def test_pickle_round_trip(datasets, make):
    X, _ = datasets["tall"]
    model = make().fit(X)
    again = pickle.loads(pickle.dumps(model))
    assert type(again) is type(model) and again.get_params() == model.get_params()
    assert_array_equal(again.components_, model.components_)
    assert_array_equal(again.transform(X), model.transform(X))
    T = model.transform(X)
    assert_array_equal(again.inverse_transform(T), model.inverse_transform(T))
    if isinstance(model, PCA):
        assert_array_equal(again.score_samples(X), model.score_samples(X))


def test_feature_names_and_pandas_output(datasets):
    pd = pytest.importorskip("pandas")
    X, _ = datasets["tall"]
    df = pd.DataFrame(X[:, :6], columns=list("abcdef"))
    model = PCA(3, device="cpu").fit(df)
    assert_array_equal(model.feature_names_in_, list("abcdef"))
    assert list(model.get_feature_names_out()) == ["pca0", "pca1", "pca2"]
    assert list(model.get_feature_names_out()) == list(sk.PCA(3).fit(df).get_feature_names_out())
    out = PCA(3, device="cpu").set_output(transform="pandas").fit(df).transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["pca0", "pca1", "pca2"]
    assert_allclose(out.to_numpy(), model.transform(df))
    out = PCA(3, device="cpu").set_output(transform="pandas").fit_transform(df)
    assert isinstance(out, pd.DataFrame)
    svd = TruncatedSVD(2, random_state=0, device="cpu").fit(df)
    assert list(svd.get_feature_names_out()) == ["truncatedsvd0", "truncatedsvd1"]
    with pytest.warns(UserWarning, match="X has feature names"):
        PCA(3, device="cpu").fit(X[:, :6]).transform(df)


@pytest.mark.parametrize("Estimator, params", [
    (PCA, dict(n_components=4, svd_solver="full")),
    (PCA, dict(n_components=4, svd_solver="covariance_eigh")),
    (PCA, dict(n_components=4, svd_solver="randomized", random_state=0)),
    (TruncatedSVD, dict(n_components=3, random_state=0)),
], ids=["full", "covariance_eigh", "randomized", "TruncatedSVD"])
def test_read_only_strided_and_fortran_inputs_are_read_not_written(datasets, Estimator, params):
    X, _ = datasets["tall"]
    reference = Estimator(device="cpu", **params).fit(X)
    expected = reference.transform(X)
    ro = X.copy()
    ro.flags.writeable = False
    views = [np.asfortranarray(X), np.repeat(X, 2, axis=0)[::2], np.repeat(X, 3, axis=1)[:, ::3],
             ro]
    for view in views:
        before = np.array(view, copy=True)
        model = Estimator(device="cpu", **params).fit(view)
        assert_allclose(model.components_, reference.components_, rtol=1e-12, atol=1e-14)
        assert_allclose(model.transform(view), expected, rtol=1e-12,
                        atol=1e-12 * np.abs(expected).max())
        assert_allclose(reference.transform(view), expected, rtol=1e-12,
                        atol=1e-12 * np.abs(expected).max())
        assert_array_equal(np.asarray(view), before)
    back = reference.inverse_transform(expected)
    for T in (np.asfortranarray(expected), np.repeat(expected, 2, axis=0)[::2]):
        assert_allclose(reference.inverse_transform(T), back, rtol=1e-12,
                        atol=1e-12 * np.abs(back).max())


# ---- bad input ---------------------------------------------------------------------------


@pytest.fixture
def small(rng):
    return rng.standard_normal((20, 5)) * [3.0, 2.0, 1.5, 1.0, 0.5] + 3.0


def sklearn_error(fit):
    """scikit-learn's message for a call that must fail."""
    with pytest.raises(ValueError) as info:
        fit()
    return str(info.value)


@pytest.mark.parametrize("solver", SOLVERS)
def test_bad_n_components_more_than_min_n_d_raises_sklearns_error(small, solver):
    for X in (small, small[:4]):  # min(n, d) = d, then n
        message = sklearn_error(lambda: sk.PCA(6, svd_solver=solver).fit(X))
        with pytest.raises(ValueError, match=re.escape(message)):
            PCA(6, svd_solver=solver, device="cpu").fit(X)


def test_bad_n_components_arpack_needs_fewer_than_min_n_d(small):
    message = sklearn_error(lambda: sk.PCA(5, svd_solver="arpack").fit(small))
    assert "strictly less than" in message
    with pytest.raises(ValueError, match=re.escape(message)):
        PCA(5, svd_solver="arpack", device="cpu").fit(small)
    with pytest.raises(ValueError, match="strictly less than"):
        PCA(4, svd_solver="arpack", device="cpu").fit(small[:4])
    assert PCA(4, svd_solver="arpack", device="cpu").fit(small).n_components_ == 4


@pytest.mark.parametrize("n_components", [1.5, -1, 1.0, 0.0, "mle2", 2.5])
def test_bad_n_components_values_raise_invalid_parameter_error(small, n_components):
    with pytest.raises(InvalidParameterError, match="'n_components' parameter of PCA"):
        PCA(n_components, device="cpu").fit(small)
    assert issubclass(InvalidParameterError, ValueError)


def test_bad_n_components_mle_with_fewer_samples_than_features(small):
    message = sklearn_error(lambda: sk.PCA("mle").fit(small[:4]))
    for solver in ("auto", "full", "covariance_eigh"):
        with pytest.raises(ValueError, match=re.escape(message)):
            PCA("mle", svd_solver=solver, device="cpu").fit(small[:4])


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
def test_bad_n_components_mle_with_a_truncated_solver(small, solver):
    message = sklearn_error(lambda: sk.PCA("mle", svd_solver=solver).fit(small))
    with pytest.raises(ValueError, match=re.escape(message)):
        PCA("mle", svd_solver=solver, device="cpu").fit(small)


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
def test_bad_n_components_fraction_with_a_truncated_solver_is_refused(small, solver):
    with pytest.raises(ValueError, match=r"must be between 1 and min\(n_samples, n_features\)=5 "
                                         rf"with svd_solver='{solver}'"):
        PCA(0.5, svd_solver=solver, device="cpu").fit(small)


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
def test_bad_n_components_fraction_with_a_truncated_solver(small, solver):
    # scikit-learn: "n_components=0.5 must be between 1 and min(n_samples, n_features)=5 with
    # svd_solver='...'"; the test asks for that message word for word.
    message = sklearn_error(lambda: sk.PCA(0.5, svd_solver=solver).fit(small))
    with pytest.raises(ValueError, match=re.escape(message)):
        PCA(0.5, svd_solver=solver, device="cpu").fit(small)


def test_n_components_zero_with_an_exact_solver_fits_as_sklearn(small):
    ours = PCA(0, svd_solver="full", device="cpu").fit(small)
    ref = sk.PCA(0, svd_solver="full").fit(small)
    assert ours.components_.shape == ref.components_.shape == (0, 5)
    assert ours.noise_variance_ == pytest.approx(ref.noise_variance_, rel=1e-12)
    assert ours.transform(small).shape == (20, 0)


@pytest.mark.parametrize("Estimator", [PCA, TruncatedSVD])
def test_one_sample_empty_and_one_dimensional_x_raise(small, Estimator):
    if Estimator is PCA:
        with pytest.raises(ValueError, match=r"Found array with 1 sample\(s\) \(shape=\(1, 5\)\) "
                                             r"while a minimum of 2 is required\."):
            PCA(device="cpu").fit(small[:1])
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        Estimator(device="cpu").fit(small[:0])
    with pytest.raises(ValueError, match=r"Found array with 0 feature\(s\)"):
        Estimator(device="cpu").fit(small[:, :0])
    with pytest.raises(ValueError, match=r"Expected 2D array"):
        Estimator(device="cpu").fit(small[0])


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_non_finite_x_raises(small, value, dtype):
    X = small.astype(dtype)
    bad = X.copy()
    bad[7, 1] = value
    for solver in SOLVERS:
        with pytest.raises(ValueError, match=r"Input X contains NaN or infinity"):
            PCA(2, svd_solver=solver, device="cpu").fit(bad)
    for algorithm in ("randomized", "arpack"):
        with pytest.raises(ValueError, match=r"Input X contains NaN or infinity"):
            TruncatedSVD(2, algorithm=algorithm, device="cpu").fit(bad)
    model = PCA(2, device="cpu").fit(X)
    for method in (model.transform, model.score_samples, model.score):
        with pytest.raises(ValueError, match=r"Input X contains NaN or infinity"):
            method(bad)
    with pytest.raises(ValueError, match=r"Input X contains NaN or infinity"):
        TruncatedSVD(2, device="cpu").fit(X).transform(bad)


def test_wrong_feature_count_raises_sklearns_message(small):
    model = PCA(device="cpu").fit(small)
    message = "X has 3 features, but PCA is expecting 5 features as input."
    for method in (model.transform, model.score_samples, model.score):
        with pytest.raises(ValueError, match=re.escape(message)):
            method(small[:, :3])
    with pytest.raises(ValueError, match=re.escape(message)):
        sk.PCA().fit(small).transform(small[:, :3])
    with pytest.raises(ValueError, match=r"X has 3 features, but inverse_transform is "
                                         r"expecting 2 features"):
        PCA(2, device="cpu").fit(small).inverse_transform(small[:, :3])
    svd = TruncatedSVD(2, device="cpu").fit(small)
    with pytest.raises(ValueError, match=re.escape(
            "X has 3 features, but TruncatedSVD is expecting 5 features as input.")):
        svd.transform(small[:, :3])


@pytest.mark.parametrize("Estimator", [PCA, TruncatedSVD])
def test_wrong_dtypes_raise(small, Estimator):
    with pytest.raises(ValueError, match="Complex data not supported"):
        Estimator(device="cpu").fit(small + 1j)
    with pytest.raises(ValueError, match="could not convert string to float"):
        Estimator(device="cpu").fit(np.array([["a", "b", "c"], ["d", "e", "f"]]))
    model = Estimator(2, device="cpu").fit(small)
    with pytest.raises(ValueError, match="Complex data not supported"):
        model.transform(small + 1j)
    # Numeric strings are numbers to scikit-learn's check_array, and so to gpulearn.
    assert_allclose(Estimator(2, random_state=0, device="cpu").fit(small.astype(str))
                    .components_, Estimator(2, random_state=0, device="cpu").fit(small)
                    .components_, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["transform", "inverse_transform", "score_samples", "score",
                                    "get_covariance", "get_precision"])
def test_pca_before_fit_raises_not_fitted(small, method):
    call = getattr(PCA(device="cpu"), method)
    with pytest.raises(NotFittedError):
        call() if method.startswith("get_") else call(small)


@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_truncated_svd_before_fit_raises_not_fitted(small, method):
    with pytest.raises(NotFittedError):
        getattr(TruncatedSVD(device="cpu"), method)(small)


def test_truncated_svd_one_feature_raises_sklearns_error(small):
    message = sklearn_error(lambda: sk.TruncatedSVD(1).fit(small[:, :1]))
    with pytest.raises(ValueError, match=re.escape(message)):
        TruncatedSVD(1, device="cpu").fit(small[:, :1])


@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
def test_truncated_svd_more_components_than_features_raises(small, algorithm):
    if algorithm == "randomized":
        message = sklearn_error(lambda: sk.TruncatedSVD(6).fit(small))
        with pytest.raises(ValueError, match=re.escape(message)):
            TruncatedSVD(6, device="cpu").fit(small)
    else:  # scikit-learn's error comes from scipy's svds: "`k` must be ... 0 < k < min(A.shape)"
        for k in (5, 6):
            with pytest.raises(ValueError, match=r"strictly less than min\(n_samples, "
                                                 r"n_features\)=5"):
                TruncatedSVD(k, algorithm="arpack", device="cpu").fit(small)


@pytest.mark.parametrize("Estimator", [PCA, TruncatedSVD])
def test_invalid_parameters_raise_sklearns_error(small, Estimator):
    bad = ([{"svd_solver": "lapack"}, {"iterated_power": -1}, {"n_oversamples": 0},
            {"tol": -1.0}, {"power_iteration_normalizer": "qr"}] if Estimator is PCA else
           [{"n_components": 0}, {"algorithm": "full"}, {"n_iter": -1}, {"n_oversamples": 0}])
    for params in bad:
        with pytest.raises(InvalidParameterError):
            Estimator(device="cpu", **params).fit(small)
    with pytest.raises(ValueError, match="device must be"):
        Estimator(device="tpu").fit(small)


@pytest.mark.parametrize("solver", ["arpack", "randomized"])
def test_noise_variance_is_never_a_negative_rounding_residue(solver):
    # A constant column leaves rank 5 of 6: five components explain everything, and the noise
    # as a difference of totals rounds to about +-1e-15. It must not be negative (which would
    # make the model covariance indefinite); scikit-learn's can be.
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((200, 6)) * [3, 2, 1.5, 1, 0.5, 0.2] + 4
    X[:, 2] = 7.25
    model = PCA(5, svd_solver=solver, random_state=0, device="cpu").fit(X)
    assert model.noise_variance_ >= 0
    assert model.noise_variance_ < 1e-12 * model.explained_variance_.sum()


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_randomized_fit_transform_is_u_times_s(device):
    """Randomized on n >= d: fit_transform is U S, whose columns are orthogonal with norms
    singular_values_ (scikit-learn's test_pca_singular_values), which transform(X) is not."""
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(400, 30)) @ rng.normal(size=(30, 30))
    pca = PCA(4, svd_solver="randomized", iterated_power=1, random_state=0, device=device)
    Z = np.asarray(pca.fit_transform(X))
    gram = Z.T @ Z
    assert_allclose(np.sqrt(np.diag(gram)), pca.singular_values_, rtol=1e-10)
    off = gram - np.diag(np.diag(gram))
    assert np.max(np.abs(off)) < 1e-9 * pca.singular_values_[0] ** 2
    T = np.asarray(pca.transform(X))
    assert not np.allclose(np.linalg.norm(T, axis=0), pca.singular_values_, rtol=1e-6)
