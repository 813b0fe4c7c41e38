"""The one input preparation every estimator uses: DeviceEstimatorMixin._prepare and its record.

The host path runs for real; the device path (a GPU array computed on its own GPU) is driven
with a stand-in array whose device, context and conversion are replaced, so its checks and
bookkeeping are tested on machines without CuPy or PyTorch too.
"""

import re
import types
import warnings

import numpy as np
import pytest

import gpulearn
from gpulearn import _arrays, _base, _devices
from gpulearn.cluster import KMeans
from gpulearn.decomposition import PCA
from gpulearn.linear_model import LinearRegression

RNG = np.random.default_rng(0)
X4 = RNG.normal(size=(20, 4))
Y = RNG.normal(size=20)


def _model(device="cpu"):
    return LinearRegression(device=device)


def test_host_float32_is_read_in_place_and_described():
    X = np.ascontiguousarray(X4, dtype=np.float32)
    est = _model()
    p = est._prepare(X, reset=True)
    assert isinstance(p, _base.Prepared)
    assert p.X is X  # no copy
    assert (p.on_device, p.kind, p.dtype) == (False, "numpy", np.dtype(np.float32))
    assert (p.n_samples, p.n_features) == (20, 4)
    assert (p.ref.rows, p.ref.cols, p.ref.dtype, p.ref.on_device) == (20, 4, "float32", False)
    assert p.ctx.device == "cpu"
    assert p.y is None
    assert est.n_features_in_ == 4
    with pytest.raises(AttributeError):
        p.dtype = np.float64  # a frozen record


def test_fortran_order_is_copied_to_c_order_keeping_its_dtype():
    for dtype in (np.float32, np.float64):
        X = np.asfortranarray(X4, dtype=dtype)
        p = _model()._prepare(X, reset=True)
        assert p.X.flags.c_contiguous and p.dtype == dtype and p.ref.dtype == p.dtype.name
        np.testing.assert_array_equal(p.X, X)


@pytest.mark.parametrize("values", [np.arange(12).reshape(4, 3),
                                    np.arange(12).reshape(4, 3).astype(object),
                                    np.ones((4, 3), dtype=np.float16)])
def test_other_numbers_become_float64(values):
    p = _model()._prepare(values, reset=True)
    assert p.dtype == np.float64 and p.X.dtype == np.float64
    np.testing.assert_array_equal(p.X, values.astype(np.float64))


def test_read_only_and_row_sliced_arrays_are_read_in_place():
    X = X4.copy()
    X.setflags(write=False)
    assert _model()._prepare(X, reset=True).X is X
    rows = np.vstack([X4, X4])[::2]  # every other row: a row stride of two rows
    assert _model()._prepare(rows, reset=True).X is rows


def test_y_is_validated_with_X_on_the_host():
    est = _model()
    p = est._prepare(X4, Y.tolist(), reset=True, y_numeric=True)
    assert isinstance(p.y, np.ndarray) and p.y.shape == (20,)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est._prepare(X4, Y[:5], reset=True)


def test_nan_passes_to_the_core_unless_finiteness_is_asked():
    X = X4.copy()
    X[0, 0] = np.nan
    assert np.isnan(_model()._prepare(X, reset=True).X[0, 0])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        _model()._prepare(X, reset=True, ensure_all_finite=True)


def test_feature_names_are_set_checked_and_deleted():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X4, columns=list("abcd"))
    est = _model()
    est._prepare(df, reset=True)
    assert list(est.feature_names_in_) == list("abcd")
    with pytest.raises(ValueError, match="The feature names should match"):
        est._prepare(df.rename(columns={"a": "z"}), reset=False)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est._prepare(X4, reset=False)
    est._prepare(X4, reset=True)
    assert not hasattr(est, "feature_names_in_")


def test_wrong_feature_count_raises_sklearns_message():
    est = _model()
    est._prepare(X4, reset=True)
    with pytest.raises(ValueError, match=re.escape(
            "X has 3 features, but LinearRegression is expecting 4 features as input.")):
        est._prepare(X4[:, :3], reset=False)
    # An input of its own width (inverse_transform's) is checked against that width.
    p = est._prepare(X4[:, :3], reset=False, n_features=3)
    assert p.n_features == 3
    with pytest.raises(ValueError, match=re.escape(
            "X has 4 features, but inverse_transform is expecting 3 features as input.")):
        est._prepare(X4, reset=False, n_features=3)


def _fast_path_inputs():
    sparse = pytest.importorskip("scipy.sparse")
    read_only = X4.copy()
    read_only.setflags(write=False)
    return {
        "float64": X4, "float32": X4.astype(np.float32), "fortran": np.asfortranarray(X4),
        "read-only": read_only, "row-sliced": np.vstack([X4, X4])[::2],
        "csr": sparse.csr_matrix(X4), "csc float32": sparse.csc_matrix(X4.astype(np.float32)),
        "coo": sparse.coo_matrix(X4), "csr_array": sparse.csr_array(X4),
    }


@pytest.mark.parametrize("name", ["float64", "float32", "fortran", "read-only", "row-sliced",
                                  "csr", "csc float32", "coo", "csr_array"])
def test_prediction_input_that_validation_returns_unchanged_skips_it(name, monkeypatch):
    X = _fast_path_inputs()[name]
    est = _model().fit(X4, Y)
    assert est._validates_unchanged(X, True, {})
    fast = est._prepare(X, reset=False, promote_with=np.float64, accept_sparse=True)
    fast_pred = est.predict(X)
    # The same input the long way (scikit-learn's validate_data): the same record and bits.
    monkeypatch.setattr(_base.DeviceEstimatorMixin, "_validates_unchanged",
                        lambda *args: False)
    slow = est._prepare(X, reset=False, promote_with=np.float64, accept_sparse=True)
    assert (fast.dtype, fast.kind, fast.n_samples, fast.n_features) == \
        (slow.dtype, slow.kind, slow.n_samples, slow.n_features)
    assert type(fast.X) is type(slow.X)
    np.testing.assert_array_equal(est.predict(X), fast_pred)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.asmatrix
def test_prediction_input_validation_is_kept_wherever_it_could_act():
    sparse = pytest.importorskip("scipy.sparse")
    est = _model().fit(X4, Y)
    for X in (X4.astype(np.int64), X4.astype(np.float16), X4.tolist(), np.asmatrix(X4),
              X4[0], X4[:0], X4[:, :3], X4.astype(np.complex128), X4[None],
              sparse.csr_matrix(X4[:, :3]), sparse.csr_matrix(X4[:0]),
              sparse.csr_matrix(X4.astype(np.int64)), sparse.dok_matrix(X4),
              sparse.lil_matrix(X4)):
        assert not est._validates_unchanged(X, True, {}), type(X)
    assert not est._validates_unchanged(sparse.csr_matrix(X4), False, {})  # refused: TypeError
    assert not est._validates_unchanged(X4, True, {"ensure_all_finite": True})
    pd = pytest.importorskip("pandas")
    assert not est._validates_unchanged(pd.DataFrame(X4), True, {})
    named = _model().fit(pd.DataFrame(X4, columns=list("abcd")), Y)
    assert not named._validates_unchanged(X4, True, {})  # scikit-learn warns there
    assert not _model()._validates_unchanged(X4, True, {})  # not fitted


def test_prediction_dtype_rules():
    est = _model()
    est._prepare(X4, reset=True)
    X32 = X4.astype(np.float32)
    assert est._prepare(X32, reset=False).dtype == np.float32
    assert est._prepare(X32, reset=False, dtype=np.float64).dtype == np.float64
    assert est._prepare(X4, reset=False, dtype=np.float32).X.dtype == np.float32
    assert est._prepare(X32, reset=False, promote_with=np.float64).dtype == np.float64
    assert est._prepare(X32, reset=False, promote_with=np.float32).dtype == np.float32


def test_empty_and_put_make_arrays_where_X_is():
    X = X4.astype(np.float32)
    p = _model()._prepare(X, reset=True)
    out, ref = p.empty((20, 2))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert (ref.rows, ref.cols, ref.dtype, ref.on_device) == (20, 2, "float32", False)
    labels, ref = p.empty((20,), np.int32)
    assert labels.dtype == np.int32 and (ref.rows, ref.cols) == (20, 1)
    w, ref = p.put([1, 2, 3], "sample_weight")
    assert w.dtype == np.float32 and (ref.rows, ref.cols) == (3, 1)
    w64, _ = p.put(w, "w", dtype=np.float64)
    assert w64.dtype == np.float64


# ---- the device path, with a stand-in GPU array ---------------------------------------------


class _FakeGpuArray:
    """Says it lives on GPU 0; the replaced conversion describes its host buffer."""

    def __init__(self, host):
        self.host = np.ascontiguousarray(host)
        self.shape = self.host.shape
        self.synchronized = False


@pytest.fixture
def fake_gpu(monkeypatch):
    monkeypatch.setattr(_arrays, "device_ordinal",
                        lambda obj: 0 if isinstance(obj, _FakeGpuArray) else None)
    monkeypatch.setattr(_devices, "context",
                        lambda device: types.SimpleNamespace(device=device))
    seen = {}

    def as_device_matrix(obj, name, dtype=None, ensure_2d=True, promote_with=None):
        seen.update(name=name, dtype=dtype, promote_with=promote_with)
        target = np.dtype(dtype) if dtype is not None else np.dtype(np.float64)
        obj.host = obj.host.astype(target)
        return obj, _arrays.host_ref(obj.host)

    def synchronize_producers(*arrays):
        for a in arrays:
            a.synchronized = True

    monkeypatch.setattr(_arrays, "as_device_matrix", as_device_matrix)
    monkeypatch.setattr(_arrays, "synchronize_producers", synchronize_producers)
    return seen


def test_device_input_stays_on_its_gpu(fake_gpu):
    pd = pytest.importorskip("pandas")
    est = _model(device="auto")
    est._prepare(pd.DataFrame(X4[:, :3], columns=list("abc")), reset=True)
    gpu = _FakeGpuArray(X4)
    p = est._prepare(gpu, Y, reset=True)
    assert p.X is gpu and p.X.synchronized
    assert p.on_device and p.ctx.device == "cuda:0"  # "auto" follows the data
    assert (p.n_samples, p.n_features, p.dtype) == (20, 4, np.dtype(np.float64))
    assert p.y is Y  # as given: each estimator checks a GPU fit's y itself
    assert est.n_features_in_ == 4 and not hasattr(est, "feature_names_in_")
    est._prepare(_FakeGpuArray(X4), reset=False, promote_with=np.float32)
    assert fake_gpu == {"name": "X", "dtype": None, "promote_with": np.float32}
    with pytest.raises(ValueError, match=re.escape(
            "X has 3 features, but LinearRegression is expecting 4 features as input.")):
        est._prepare(_FakeGpuArray(X4[:, :3]), reset=False)
    with pytest.raises(ValueError, match=re.escape(
            "X has 4 features, but inverse_transform is expecting 3 features as input.")):
        est._prepare(_FakeGpuArray(X4), reset=False, n_features=3)


def test_device_input_needs_a_sample_and_enough_features(fake_gpu):
    with pytest.raises(ValueError, match=re.escape(
            "Found array with shape (0, 4): at least 1 sample and 1 feature are required.")):
        _model("auto")._prepare(_FakeGpuArray(np.empty((0, 4))), reset=True)
    with pytest.raises(ValueError, match=re.escape(
            "Found array with shape (5, 1): at least 1 sample and 2 features are required.")):
        _model("auto")._prepare(_FakeGpuArray(np.ones((5, 1))), reset=True,
                                ensure_min_features=2)


def test_device_input_with_device_cpu_is_computed_on_the_host(fake_gpu, monkeypatch):
    monkeypatch.setattr(_arrays, "to_host", lambda obj: getattr(obj, "host", obj))
    p = _model(device="cpu")._prepare(_FakeGpuArray(X4), reset=True)
    assert not p.on_device and isinstance(p.X, np.ndarray) and p.ctx.device == "cpu"


# ---- the CPU fallback's warning -------------------------------------------------------------


@pytest.mark.parametrize("model, fit_args, call", [
    (KMeans(2, n_init=1, random_state=0), (X4,), lambda m: m.predict(X4)),
    (PCA(2), (X4,), lambda m: m.transform(X4)),
    (LinearRegression(), (X4, Y), lambda m: m.predict(X4)),
])
def test_cpu_fallback_warning_names_the_callers_line(model, fit_args, call):
    if gpulearn.cuda_available():
        pytest.skip("CUDA is available here: a cuda model predicts on the GPU, no fallback")
    model.set_params(device="cpu").fit(*fit_args)
    model.set_params(device="cuda")  # as if fitted on a GPU machine
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        call(model)
    [warning] = [w for w in rec if "computing on the CPU" in str(w.message)]
    assert warning.filename == __file__
