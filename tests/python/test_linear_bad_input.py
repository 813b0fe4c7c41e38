"""The bad-input matrix for LinearRegression and Ridge.

Every bad input gives scikit-learn's error type and a message naming the problem (the same
message as scikit-learn's wherever both run the same validation); edge cases scikit-learn
accepts (one sample, one feature, read-only or memory-mapped arrays, Fortran order) work; and
no input is ever written to.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import linear_model as sk
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from gpulearn.linear_model import LinearRegression, Ridge

from _testdata import make_regression_data

# The same float64 parity bar as test_linear_parity.py (well-conditioned data).
RTOL_F64 = 1e-7
# float32 computed in float32 vs scikit-learn on the float64 data (see test_linear_parity.py).
RTOL_F32 = 1e-4

# (gpulearn class, scikit-learn class): every case runs on both estimators.
PAIRS = [
    pytest.param(LinearRegression, sk.LinearRegression, id="LinearRegression"),
    pytest.param(Ridge, sk.Ridge, id="Ridge"),
]
N_SAMPLES, N_FEATURES = 40, 5


@pytest.fixture
def data(rng):
    return make_regression_data(rng, n_samples=N_SAMPLES, n_features=N_FEATURES)


def raised_by(callable_):
    """The exception ``callable_`` raises (the test fails if it raises none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as info:
            callable_()
    return info.value


def assert_raises_like_sklearn(ours, ref, match, same_message=False):
    """Both callables raise the same exception type; ours names the problem (``match``)."""
    expected = raised_by(ref)
    got = raised_by(ours)
    assert type(got) is type(expected), (type(got), got, type(expected), expected)
    assert re.search(match, str(got)), f"{match!r} not in {str(got)!r}"
    if same_message:
        assert str(got) == str(expected)


# --------------------------------------------------------------------------------------------
# Non-finite values


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_in_x_raises_value_error(gl_cls, sk_cls, where, dtype, data):
    X, y = data
    X = X.astype(dtype)
    row, col = {"first": (0, 0), "middle": (N_SAMPLES // 2, 2),
                "last": (N_SAMPLES - 1, N_FEATURES - 1)}[where]
    X[row, col] = np.nan
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, y),
                               lambda: sk_cls().fit(X, y), match=r"Input X contains NaN")
    # Also through a row-strided view the core reads in place, and at predict time.
    X_strided = np.repeat(X, 2, axis=0)[::2]
    assert not X_strided.flags.c_contiguous
    with pytest.raises(ValueError, match=r"Input X contains NaN"):
        gl_cls(device="cpu").fit(X_strided, y)
    model = gl_cls(device="cpu").fit(np.nan_to_num(X), y)
    assert_raises_like_sklearn(lambda: model.predict(X),
                               lambda: sk_cls().fit(np.nan_to_num(X), y).predict(X),
                               match=r"Input X contains NaN")


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinity_in_x_raises_value_error(gl_cls, sk_cls, value, data):
    X, y = data
    X[7, 3] = value
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, y),
                               lambda: sk_cls().fit(X, y), match=r"Input X contains .*infinity")
    model = gl_cls(device="cpu").fit(np.nan_to_num(X, posinf=1.0, neginf=-1.0), y)
    with pytest.raises(ValueError, match=r"Input X contains .*infinity"):
        model.predict(X)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
@pytest.mark.parametrize("value, match", [(np.nan, r"Input y contains NaN"),
                                          (np.inf, r"Input y contains infinity")])
def test_non_finite_y_raises_value_error(gl_cls, sk_cls, value, match, data):
    X, y = data
    y[5] = value
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, y),
                               lambda: sk_cls().fit(X, y), match=match, same_message=True)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
@pytest.mark.parametrize("value, match", [(np.nan, r"sample_weight contains NaN"),
                                          (np.inf, r"sample_weight contains infinity")])
def test_non_finite_sample_weight_raises_value_error(gl_cls, sk_cls, value, match, data):
    X, y = data
    w = np.ones(N_SAMPLES)
    w[3] = value
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, y, sample_weight=w),
                               lambda: sk_cls().fit(X, y, sample_weight=w), match=match,
                               same_message=True)


# --------------------------------------------------------------------------------------------
# Shapes


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_empty_x_raises_value_error(gl_cls, sk_cls, data):
    X, y = data
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X[:0], y[:0]),
                               lambda: sk_cls().fit(X[:0], y[:0]), match=r"0 sample\(s\)",
                               same_message=True)
    model = gl_cls(device="cpu").fit(X, y)
    assert_raises_like_sklearn(lambda: model.predict(X[:0]),
                               lambda: sk_cls().fit(X, y).predict(X[:0]),
                               match=r"0 sample\(s\)", same_message=True)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_zero_features_raises_value_error(gl_cls, sk_cls, data):
    X, y = data
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X[:, :0], y),
                               lambda: sk_cls().fit(X[:, :0], y), match=r"0 feature\(s\)",
                               same_message=True)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_zero_targets_raises_value_error(gl_cls, sk_cls, data):
    X, y = data
    Y0 = y.reshape(-1, 1)[:, :0]
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, Y0),
                               lambda: sk_cls().fit(X, Y0), match=r"0 feature\(s\)")


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_one_sample_fits_like_sklearn(gl_cls, sk_cls, fit_intercept, data):
    X, y = data
    X1, y1 = X[:1], y[:1]
    ours = gl_cls(device="cpu", fit_intercept=fit_intercept).fit(X1, y1)
    ref = sk_cls(fit_intercept=fit_intercept).fit(X1, y1)
    assert ours.coef_.shape == ref.coef_.shape == (N_FEATURES,)
    assert np.all(np.isfinite(ours.coef_))
    assert_allclose(ours.coef_, ref.coef_, rtol=RTOL_F64, atol=1e-12)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_F64, atol=1e-12)
    if fit_intercept:
        # One centred sample is all zeros: the model is the constant y[0].
        assert_allclose(ours.predict(X), np.full(N_SAMPLES, y1[0]), rtol=RTOL_F64)
    assert_allclose(ours.predict(X), ref.predict(X), rtol=RTOL_F64, atol=1e-12)
    if gl_cls is LinearRegression:
        assert ours.rank_ == ref.rank_


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_one_feature_fits_like_sklearn(gl_cls, sk_cls, data):
    X, y = data
    X1 = X[:, 2:3]
    ours, ref = gl_cls(device="cpu").fit(X1, y), sk_cls().fit(X1, y)
    assert ours.coef_.shape == (1,)
    assert_allclose(ours.coef_, ref.coef_, rtol=RTOL_F64)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_F64)
    assert_allclose(ours.predict(X1), ref.predict(X1), rtol=RTOL_F64)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_three_dimensional_x_raises_value_error(gl_cls, sk_cls, data):
    X, y = data
    X3 = np.repeat(X[:, :, None], 2, axis=2)
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X3, y),
                               lambda: sk_cls().fit(X3, y), match=r"dim 3",
                               same_message=True)
    model = gl_cls(device="cpu").fit(X, y)
    with pytest.raises(ValueError, match=r"dim 3"):
        model.predict(X3)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_one_dimensional_x_raises_value_error(gl_cls, sk_cls, data):
    X, y = data
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X[:, 0], y),
                               lambda: sk_cls().fit(X[:, 0], y), match=r"Expected 2D array")
    model = gl_cls(device="cpu").fit(X, y)
    with pytest.raises(ValueError, match=r"Expected 2D array"):
        model.predict(X[0])


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_three_dimensional_y_raises_value_error(gl_cls, sk_cls, data):
    X, y = data
    y3 = y.reshape(-1, 1, 1)
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, y3),
                               lambda: sk_cls().fit(X, y3), match=r"dim 3")


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_y_length_mismatch_raises_value_error(gl_cls, sk_cls, data):
    X, y = data
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, y[:-1]),
                               lambda: sk_cls().fit(X, y[:-1]),
                               match=r"inconsistent numbers of samples: \[40, 39\]",
                               same_message=True)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
@pytest.mark.parametrize("n_features", [N_FEATURES - 1, N_FEATURES + 1])
def test_wrong_feature_count_at_predict_raises_sklearns_error(gl_cls, sk_cls, n_features,
                                                              data, rng):
    X, y = data
    X_bad = rng.normal(size=(10, n_features))
    model = gl_cls(device="cpu").fit(X, y)
    assert_raises_like_sklearn(
        lambda: model.predict(X_bad), lambda: sk_cls().fit(X, y).predict(X_bad),
        match=rf"X has {n_features} features, but {gl_cls.__name__} is expecting "
              rf"{N_FEATURES} features", same_message=True)
    with pytest.raises(ValueError, match=rf"X has {n_features} features"):
        model.score(X_bad, y[:10])


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_predict_before_fit_raises_not_fitted_error(gl_cls, sk_cls, data):
    X, y = data
    for method in (lambda est: est.predict(X), lambda est: est.score(X, y)):
        with pytest.raises(NotFittedError, match=rf"This {gl_cls.__name__} instance is not "
                                                 r"fitted yet"):
            method(gl_cls(device="cpu"))


# --------------------------------------------------------------------------------------------
# dtypes


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_complex_input_raises_value_error(gl_cls, sk_cls, data):
    X, y = data
    Xc = X + 1j * X[::-1]
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(Xc, y),
                               lambda: sk_cls().fit(Xc, y), match=r"Complex data not supported")
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, y + 1j),
                               lambda: sk_cls().fit(X, y + 1j),
                               match=r"Complex data not supported")
    model = gl_cls(device="cpu").fit(X, y)
    with pytest.raises(ValueError, match=r"Complex data not supported"):
        model.predict(Xc)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_string_input_raises_value_error(gl_cls, sk_cls, data):
    X, y = data
    X_str = np.array([[f"sample{i}-feature{j}" for j in range(N_FEATURES)]
                      for i in range(N_SAMPLES)])
    # scikit-learn's two estimators word it differently; both name strings.
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X_str, y),
                               lambda: sk_cls().fit(X_str, y), match=r"string")
    y_str = np.array([f"label{i}" for i in range(N_SAMPLES)])
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, y_str),
                               lambda: sk_cls().fit(X, y_str), match=r"string")
    model = gl_cls(device="cpu").fit(X, y)
    with pytest.raises(ValueError, match=r"string"):
        model.predict(X_str[:3])


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_integer_and_object_input_becomes_float64(gl_cls, sk_cls, rng):
    X = rng.integers(-50, 50, size=(N_SAMPLES, N_FEATURES))
    y = rng.integers(-20, 20, size=N_SAMPLES)
    ours, ref = gl_cls(device="cpu").fit(X, y), sk_cls().fit(X, y)
    assert ours.coef_.dtype == np.float64
    assert_allclose(ours.coef_, ref.coef_, rtol=RTOL_F64)
    ours_obj = gl_cls(device="cpu").fit(X.astype(object), y.astype(object))
    assert ours_obj.coef_.dtype == np.float64
    assert_array_equal(ours_obj.coef_, ours.coef_)
    assert ours.predict(X).dtype == np.float64


# --------------------------------------------------------------------------------------------
# Memory: read-only, memory-mapped, Fortran order


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_read_only_arrays_are_accepted_and_unchanged(gl_cls, sk_cls, data):
    X, y = data
    X_ro, y_ro, w_ro = X.copy(), y.copy(), np.linspace(0.5, 2.0, N_SAMPLES)
    for a in (X_ro, y_ro, w_ro):
        a.flags.writeable = False
    model = gl_cls(device="cpu").fit(X_ro, y_ro, sample_weight=w_ro)
    pred = model.predict(X_ro)
    assert_array_equal(X_ro, X)
    assert_array_equal(y_ro, y)
    reference = gl_cls(device="cpu").fit(X, y, sample_weight=w_ro.copy())
    assert_array_equal(model.coef_, reference.coef_)
    assert_array_equal(pred, reference.predict(X))


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_read_only_memmap_is_accepted_and_unchanged(gl_cls, sk_cls, dtype, data, tmp_path):
    X, y = data
    X = X.astype(dtype)
    path = tmp_path / "X.dat"
    writer = np.memmap(path, dtype=dtype, mode="w+", shape=X.shape)
    writer[:] = X
    writer.flush()
    del writer
    X_mm = np.memmap(path, dtype=dtype, mode="r", shape=X.shape)
    assert not X_mm.flags.writeable
    model = gl_cls(device="cpu").fit(X_mm, y)
    assert model.coef_.dtype == dtype
    pred = model.predict(X_mm)
    assert type(pred) is np.ndarray  # not a memmap view of anything
    assert_array_equal(np.asarray(X_mm), X)
    assert_array_equal(np.fromfile(path, dtype=dtype).reshape(X.shape), X)
    reference = gl_cls(device="cpu").fit(X, y)
    assert_array_equal(model.coef_, reference.coef_)
    assert_array_equal(pred, reference.predict(X))


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_fortran_ordered_x_is_accepted(gl_cls, sk_cls, data):
    X, y = data
    X_f = np.asfortranarray(X)
    assert X_f.flags.f_contiguous and not X_f.flags.c_contiguous
    model = gl_cls(device="cpu").fit(X_f, y)
    ref = sk_cls().fit(X_f, y)
    assert_allclose(model.coef_, ref.coef_, rtol=RTOL_F64)
    assert_array_equal(model.predict(X_f), model.predict(X))
    # A Fortran-ordered 2-D y and sample_weight with a stride are accepted too.
    Y_f = np.asfortranarray(np.column_stack([y, 2.0 * y + 1.0]))
    w_strided = np.linspace(0.5, 2.0, 2 * N_SAMPLES)[::2]
    model2 = gl_cls(device="cpu").fit(X_f, Y_f, sample_weight=w_strided)
    ref2 = sk_cls().fit(X, np.ascontiguousarray(Y_f), sample_weight=w_strided.copy())
    assert_allclose(model2.coef_, ref2.coef_, rtol=RTOL_F64)


# --------------------------------------------------------------------------------------------
# sample_weight


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_negative_sample_weight_raises_value_error(gl_cls, sk_cls, data):
    X, y = data
    w = np.ones(N_SAMPLES)
    w[4] = -0.5
    with pytest.raises(ValueError, match=r"Negative values in data passed to `sample_weight`"):
        gl_cls(device="cpu").fit(X, y, sample_weight=w)
    if sk_cls is sk.LinearRegression:  # scikit-learn's Ridge words it differently
        assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, y, sample_weight=w),
                                   lambda: sk_cls().fit(X, y, sample_weight=w),
                                   match="Negative", same_message=True)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
@pytest.mark.parametrize("length", [N_SAMPLES - 1, N_SAMPLES + 1])
def test_sample_weight_of_wrong_length_raises_value_error(gl_cls, sk_cls, length, data):
    X, y = data
    w = np.ones(length)
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, y, sample_weight=w),
                               lambda: sk_cls().fit(X, y, sample_weight=w),
                               match=rf"sample_weight.shape == \({length},\), expected "
                                     rf"\({N_SAMPLES},\)", same_message=True)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_two_dimensional_sample_weight_raises_value_error(gl_cls, sk_cls, data):
    X, y = data
    w = np.ones((N_SAMPLES, 1))
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, y, sample_weight=w),
                               lambda: sk_cls().fit(X, y, sample_weight=w),
                               match=r"Sample weights must be 1D", same_message=True)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_all_zero_sample_weight_raises_value_error(gl_cls, sk_cls, data):
    X, y = data
    w = np.zeros(N_SAMPLES)
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu").fit(X, y, sample_weight=w),
                               lambda: sk_cls().fit(X, y, sample_weight=w),
                               match=r"at least one non-zero", same_message=True)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_scalar_sample_weight_is_accepted_like_sklearn(gl_cls, sk_cls, data):
    X, y = data
    ours, ref = (gl_cls(device="cpu").fit(X, y, sample_weight=2.5),
                 sk_cls().fit(X, y, sample_weight=2.5))
    assert_allclose(ours.coef_, ref.coef_, rtol=RTOL_F64)


# --------------------------------------------------------------------------------------------
# Hyper-parameters


def test_negative_alpha_raises_value_error(data):
    X, y = data
    assert_raises_like_sklearn(lambda: Ridge(alpha=-1.0, device="cpu").fit(X, y),
                               lambda: sk.Ridge(alpha=-1.0).fit(X, y),
                               match=r"'alpha' parameter of Ridge must be a float in the range "
                                     r"\[0.0, inf\)")
    assert isinstance(raised_by(lambda: Ridge(alpha=-1.0, device="cpu").fit(X, y)),
                      InvalidParameterError)


@pytest.mark.parametrize("alpha", [np.array([1.0, -0.5]), np.array([1.0, np.nan]),
                                   np.array([np.inf, 1.0]), np.ones((2, 2))])
def test_invalid_alpha_array_raises_value_error(alpha, data):
    # scikit-learn silently accepts a negative entry in an alpha array; gpulearn refuses it.
    X, y = data
    Y = np.column_stack([y, -y])
    with pytest.raises(ValueError, match=r"alpha must be a non-negative float"):
        Ridge(alpha=alpha, device="cpu").fit(X, Y)


@pytest.mark.parametrize("n_alphas, n_targets", [(2, 3), (4, 3), (2, 1)])
def test_alpha_array_of_wrong_length_raises_value_error(n_alphas, n_targets, data, rng):
    X, y = data
    Y = y if n_targets == 1 else rng.normal(size=(N_SAMPLES, n_targets))
    alpha = np.linspace(0.5, 2.0, n_alphas)
    assert_raises_like_sklearn(lambda: Ridge(alpha=alpha, device="cpu").fit(X, Y),
                               lambda: sk.Ridge(alpha=alpha).fit(X, Y),
                               match=rf"Number of targets and number of penalties do not "
                                     rf"correspond: {n_alphas} != {n_targets}",
                               same_message=True)


@pytest.mark.parametrize("solver", ["sag", "saga", "lsqr", "sparse_cg", "lbfgs"])
def test_ridge_unimplemented_solver_raises_not_implemented_error(solver, data):
    X, y = data
    with pytest.raises(NotImplementedError, match=rf"solver='{solver}' is not implemented"):
        Ridge(solver=solver, device="cpu").fit(X, y)


def test_ridge_unknown_solver_raises_sklearns_parameter_error(data):
    X, y = data
    assert_raises_like_sklearn(lambda: Ridge(solver="newton", device="cpu").fit(X, y),
                               lambda: sk.Ridge(solver="newton").fit(X, y),
                               # not the whole message: it prints a set, whose order
                               # changes with each interpreter's string hashing
                               match=r"'solver' parameter of Ridge must be a str among .*"
                                     r"'svd'.* Got 'newton' instead")


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
def test_positive_true_raises_not_implemented_error(gl_cls, sk_cls, data):
    X, y = data
    with pytest.raises(NotImplementedError, match=r"positive=True is not implemented"):
        gl_cls(positive=True, device="cpu").fit(X, y)


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
@pytest.mark.parametrize("param, value", [("fit_intercept", "yes"), ("tol", -1.0),
                                          ("copy_X", 1.5)])
def test_invalid_hyper_parameters_raise_sklearns_parameter_error(gl_cls, sk_cls, param, value,
                                                                 data):
    X, y = data
    assert_raises_like_sklearn(lambda: gl_cls(device="cpu", **{param: value}).fit(X, y),
                               lambda: sk_cls(**{param: value}).fit(X, y),
                               match=rf"'{param}' parameter of {gl_cls.__name__} must be",
                               same_message=True)


# --------------------------------------------------------------------------------------------
# Inputs are never modified


@pytest.mark.parametrize("gl_cls, sk_cls", PAIRS)
@pytest.mark.parametrize("layout", ["C", "F", "row-strided", "float32", "dataframe"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fit_and_predict_never_modify_inputs(gl_cls, sk_cls, layout, fit_intercept, rng):
    X, Y = make_regression_data(rng, n_samples=N_SAMPLES, n_features=N_FEATURES, n_targets=2)
    w = rng.uniform(0.5, 2.0, size=N_SAMPLES)
    if layout == "F":
        X, Y = np.asfortranarray(X), np.asfortranarray(Y)
    elif layout == "row-strided":
        X, Y, w = (np.repeat(X, 2, axis=0)[::2], np.repeat(Y, 2, axis=0)[::2],
                   np.repeat(w, 2)[::2])
    elif layout == "float32":
        X, Y, w = X.astype(np.float32), Y.astype(np.float32), w.astype(np.float32)
    elif layout == "dataframe":
        X = pd.DataFrame(X, columns=[f"c{i}" for i in range(N_FEATURES)])
    originals = [np.array(a, copy=True) for a in (X, Y, w)]
    strides = [np.asarray(a).strides for a in (X, Y, w)]

    model = gl_cls(device="cpu", fit_intercept=fit_intercept).fit(X, Y, sample_weight=w)
    model.predict(X)
    model.score(X, Y, sample_weight=w)
    gl_cls(device="cpu", fit_intercept=fit_intercept).fit(X, Y[:, 0])

    for after, before, stride in zip((X, Y, w), originals, strides):
        assert_array_equal(np.asarray(after), before)
        assert np.asarray(after).strides == stride


# --------------------------------------------------------------------------------------------
# Extreme but finite magnitudes


@pytest.mark.parametrize("scale", [1e-100, 1e100])
def test_linear_regression_is_scale_invariant_in_float64(scale, data):
    X, y = data
    ref = sk.LinearRegression().fit(X, y)
    ours = LinearRegression(device="cpu").fit(X * scale, y)
    assert_allclose(ours.coef_ * scale, ref.coef_, rtol=RTOL_F64)
    assert_allclose(ours.intercept_, ref.intercept_, rtol=RTOL_F64)


@pytest.mark.parametrize("scale", [1e-15, 1e15])
def test_linear_regression_is_scale_invariant_in_float32(scale, data):
    X, y = data
    ref = sk.LinearRegression().fit(X, y)
    ours = LinearRegression(device="cpu").fit((X * scale).astype(np.float32),
                                              y.astype(np.float32))
    assert_allclose(ours.coef_ * scale, ref.coef_, rtol=RTOL_F32)


# Beyond ~1e+-154 (float64) or ~1e+-19 (float32) the entries of X^T X would over- or underflow;
# the core scales X and y by powers of two first, so these must match scikit-learn (lstsq).
@pytest.mark.parametrize("scale, dtype", [(1e-160, np.float64), (1e160, np.float64),
                                          (1e-200, np.float64), (1e200, np.float64),
                                          (1e-25, np.float32), (1e19, np.float32)])
def test_linear_regression_is_scale_invariant_at_extreme_magnitudes(scale, dtype, data):
    X, y = data
    ref = sk.LinearRegression().fit(X, y)
    rtol = RTOL_F64 if dtype == np.float64 else RTOL_F32
    ours = LinearRegression(device="cpu").fit((X * scale).astype(dtype), y.astype(dtype))
    assert_allclose(ours.coef_ * scale, ref.coef_, rtol=rtol)


@pytest.mark.parametrize("solver", ["auto", "svd"])
@pytest.mark.parametrize("x_scale, y_scale", [(1e-150, 1.0), (1e150, 1e100), (1.0, 1e250)])
def test_ridge_is_scale_equivariant_at_extreme_magnitudes(x_scale, y_scale, solver, data):
    # Ridge on (c X, t y) with alpha c^2 has coefficients t / c times those on (X, y). The
    # scales keep alpha c^2 and the coefficients (~ t / c) normal doubles.
    X, y = data
    ref = Ridge(alpha=1.0, device="cpu", solver=solver).fit(X, y)
    alpha = 1.0 * x_scale**2
    ours = Ridge(alpha=alpha, device="cpu", solver=solver).fit(X * x_scale, y * y_scale)
    assert_allclose(ours.coef_ * x_scale / y_scale, ref.coef_, rtol=RTOL_F64)
    assert_allclose(ours.intercept_ / y_scale, ref.intercept_, rtol=RTOL_F64)


def test_huge_sample_weights_equal_normalised_ones(data):
    # Only the weights' ratios matter to LinearRegression: 1e300 * w must not overflow.
    X, y = data
    w = np.random.default_rng(3).uniform(0.5, 2.0, X.shape[0])
    ref = LinearRegression(device="cpu").fit(X, y, sample_weight=w)
    ours = LinearRegression(device="cpu").fit(X, y, sample_weight=w * 1e300)
    assert_allclose(ours.coef_, ref.coef_, rtol=RTOL_F64)
    assert_allclose(ours.singular_ / 1e150, ref.singular_, rtol=RTOL_F64)


def test_sums_that_overflow_are_a_clear_error(data):
    X, y = data
    with pytest.raises(ValueError, match="overflow"):
        LinearRegression(device="cpu").fit(np.full_like(X, 1e307) + X * 1e306, y)
