"""gpulearn-bench: the registry, the JSON schema, the CLI end to end, and its failure paths.

The CLI runs in-process on tiny sizes (a few thousand rows, --no-roofline unless the roofline
is the point), so the whole module takes seconds. Timings are never asserted; what is checked
is what the user sees and what gets written.
"""

import csv
import dataclasses
import importlib
import importlib.util
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse
from sklearn.base import BaseEstimator

import gpulearn
from gpulearn import bench
from gpulearn.bench import _backends, _registry, _report, _roofline
from gpulearn.bench._runner import Case, Runner, compact, to_host
from gpulearn.bench.cases.linear_model import LeastSquaresBaseline

SCHEMA = json.loads((Path(bench.__file__).parent / "schema.json").read_text())
TINY = ["--rows", "2000", "--cols", "120", "--test-rows", "500", "--repeats", "2", "--no-roofline"]


def _gpulearn_estimators():
    """Every public estimator class of gpulearn's sub-packages: gpulearn.bench aside, and
    gpulearn.dask, whose classes are the same estimators fitted across a cluster (their
    benchmark is benchmarks/dask_scaling.py)."""
    found = {}
    for info in pkgutil.iter_modules(gpulearn.__path__):
        if info.name.startswith("_") or info.name in ("bench", "dask") or not info.ispkg:
            continue
        module = importlib.import_module(f"gpulearn.{info.name}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
                found[f"gpulearn.{info.name}.{name}"] = obj
    return found


def run_cli(capsys, *args):
    """(exit status, stdout, stderr) of gpulearn-bench run in-process."""
    try:
        status = bench.main(list(args))
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


# ---- the registry -------------------------------------------------------------------------


def test_every_estimator_is_registered():
    registered = {a.gpulearn for a in bench.algorithms().values()}
    estimators = _gpulearn_estimators()
    assert estimators, "found no gpulearn estimator at all: the discovery is broken"
    missing = sorted(set(estimators) - registered)
    assert not missing, f"not in gpulearn-bench's registry (gpulearn/bench/cases/): {missing}"


@pytest.mark.parametrize("name", sorted(bench.algorithms()))
def test_registered_algorithm_is_complete(name):
    algorithm = bench.algorithms()[name]
    gl_cls = _registry.import_object(algorithm.gpulearn)
    sk_cls = _registry.import_object(algorithm.sklearn)
    assert gl_cls.__name__ == sk_cls.__name__ == algorithm.estimator
    assert set(algorithm.params) <= set(sk_cls().get_params())
    assert hasattr(sk_cls, algorithm.method) and hasattr(gl_cls, algorithm.method)
    for suite in _registry.SUITES:
        assert algorithm.sizes[suite], suite
    # The quick suite must stay quick: it runs every estimator on a 2-core machine in minutes.
    assert all(s.rows * s.cols <= 2e7 for s in algorithm.sizes["quick"])
    assert all(s.rows >= 1_000_000 for s in algorithm.sizes["standard"])


@pytest.mark.parametrize("name", sorted(bench.algorithms()))
def test_registered_data_and_quality_on_a_tiny_size(name):
    algorithm = bench.algorithms()[name]
    # 120 features: room for the 100 components of the sparse TruncatedSVD case
    size = bench.Size(300, 120, "float64", test_rows=50)
    data = algorithm.data(size, 7)
    again = algorithm.data(size, 7)
    assert data.X_train.shape == (300, 120) and data.X_test.shape == (50, 120)
    dense = lambda a: a.toarray() if sparse.issparse(a) else a  # noqa: E731
    assert data.X_train.dtype == np.float64 and np.ptp(dense(data.X_train)) > 0
    np.testing.assert_array_equal(dense(data.X_train), dense(again.X_train))  # the seed decides
    assert algorithm.data(dataclasses.replace(size, dtype="float32"), 7).X_train.dtype == np.float32
    model = _registry.import_object(algorithm.sklearn)(**algorithm.params)
    model.fit(*(a for a in (data.X_train, data.y_train) if a is not None))
    output = getattr(model, algorithm.method)(data.X_test)
    value = algorithm.quality.score(model, data, output)
    assert np.isfinite(value)
    assert algorithm.quality.within_tolerance(value, value)
    if algorithm.cost is not None:
        for phase in ("fit", algorithm.method):
            cost = algorithm.cost(phase, size, algorithm.params, model)
            assert cost.bytes > 0 and cost.flops > 0


def test_register_rejects_a_second_algorithm_of_the_same_name():
    ridge = bench.algorithms()["ridge"]
    with pytest.raises(ValueError, match="registered twice"):
        bench.register(dataclasses.replace(ridge))


def test_algorithm_needs_sizes_for_every_suite():
    ridge = bench.algorithms()["ridge"]
    with pytest.raises(ValueError, match="no sizes for suite"):
        dataclasses.replace(ridge, sizes={"quick": ridge.sizes["quick"]})


@pytest.mark.parametrize("alpha, sk_name", [(None, "LinearRegression"), (0.5, "Ridge")])
def test_least_squares_baseline_matches_scikit_learn(alpha, sk_name):
    # The CuPy baseline is NumPy-API code: run on NumPy, it must solve the same problem.
    from sklearn import linear_model as sk

    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 6)) + 2.0
    y = X @ rng.standard_normal(6) + 1.5 + 0.1 * rng.standard_normal(400)
    reference = getattr(sk, sk_name)(**({} if alpha is None else {"alpha": alpha})).fit(X, y)
    baseline = LeastSquaresBaseline(np, alpha=alpha).fit(X, y)
    assert_allclose(baseline.coef_, reference.coef_, rtol=1e-10)
    assert_allclose(baseline.intercept_, reference.intercept_, rtol=1e-10)
    assert_allclose(baseline.predict(X[:5]), reference.predict(X[:5]), rtol=1e-10)


@pytest.mark.parametrize("name", sorted(n for n, a in bench.algorithms().items() if a.baseline))
def test_baseline_on_numpy_is_as_good_as_scikit_learn(name):
    # The CuPy baselines are NumPy-API code: on NumPy they must reach scikit-learn's quality.
    algorithm = bench.algorithms()[name]
    data = algorithm.data(bench.Size(2000, 40, "float64", test_rows=400), 11)
    fit_args = [a for a in (data.X_train, data.y_train) if a is not None]  # as the runner does
    reference = _registry.import_object(algorithm.sklearn)(**algorithm.params).fit(*fit_args)
    baseline = algorithm.baseline(np, dict(algorithm.params)).fit(*fit_args)
    scores = [algorithm.quality.score(m, data, to_host(getattr(m, algorithm.method)(
        data.X_test))) for m in (reference, baseline)]
    assert algorithm.quality.within_tolerance(scores[1], scores[0]), scores


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_torch_baseline_on_the_cpu_finds_scikit_learns_neighbours():
    # The PyTorch baseline (cdist + topk) runs on CUDA in the benchmark; on the CPU it must find
    # the same neighbours, or its timings would be of something else.
    algorithm = bench.algorithms()["nearest_neighbors"]
    data = algorithm.data(bench.Size(2000, 6, "float64", test_rows=100), 11)
    reference = _registry.import_object(algorithm.sklearn)(**algorithm.params).fit(data.X_train)
    baseline = algorithm.torch_baseline(dict(algorithm.params, device="cpu")).fit(data.X_train)
    dist, ind = to_host(baseline.kneighbors(data.X_test))
    ref_dist, ref_ind = reference.kneighbors(data.X_test)
    assert_allclose(dist, ref_dist, rtol=1e-9)
    np.testing.assert_array_equal(ind, ref_ind)


def test_baseline_refuses_parameters_it_would_ignore():
    algorithm = bench.algorithms()["kmeans"]
    with pytest.raises(NotImplementedError, match="no parameter"):
        algorithm.baseline(np, {"n_clusters": 3, "init": "random"})


def test_quality_tolerance_is_one_sided():
    r2 = bench.Quality("R^2", lambda m, d, o: 0.0, tolerance=1e-3)
    assert r2.within_tolerance(0.9995, 1.0) and not r2.within_tolerance(0.99, 1.0)
    assert r2.within_tolerance(0.9999, 0.99)  # better than scikit-learn is never flagged
    inertia = bench.Quality("inertia", lambda m, d, o: 0.0, tolerance=0.01, relative=True,
                            higher_is_better=False)
    assert inertia.within_tolerance(1005.0, 1000.0) and not inertia.within_tolerance(1020.0,
                                                                                     1000.0)
    assert inertia.within_tolerance(900.0, 1000.0)
    assert r2.within_tolerance(None, 1.0) is False  # not finite where scikit-learn's is
    assert r2.within_tolerance(0.5, None) is None  # nothing to judge by


def test_roofline_floor_is_the_larger_bound():
    ceilings = _roofline.Ceilings("cuda", bandwidth=1e12, flops={"float32": 1e14,
                                                                "float64": 1e13}, h2d=1e10)
    cost = bench.Cost(bytes=2e9, flops=1e12, transfer_bytes=1e9)
    assert ceilings.floor(cost, "float32") == pytest.approx(0.01)
    assert ceilings.bound(cost, "float32") == "compute"
    assert ceilings.floor(cost, "float64") == pytest.approx(0.1)
    assert ceilings.floor(cost, "float32", host_data=True) == pytest.approx(0.1)
    assert ceilings.bound(cost, "float32", host_data=True) == "link"
    assert ceilings.bound(bench.Cost(bytes=1e11, flops=1.0), "float32") == "memory"


def test_peer_without_the_estimator_is_skipped_with_why():
    lacks, _ = _backends._peer("somepeer")
    ridge = bench.algorithms()["ridge"]
    assert lacks(ridge) == "somepeer has no Ridge registered"
    moved = dataclasses.replace(ridge, peers={"somepeer": "sklearn.linear_model.NoSuchRidge"})
    assert "somepeer has no sklearn.linear_model.NoSuchRidge" in lacks(moved)


def test_compact_row_counts():
    assert [compact(n) for n in (500, 20_000, 250_000, 1_000_000, 1_234_567)] == [
        "500", "2e4", "2.5e5", "1e6", "1234567"]


# ---- the CLI end to end --------------------------------------------------------------------


def test_cli_tiny_run_prints_the_table_and_writes_json_and_csv(capsys, tmp_path):
    out_json, out_csv = tmp_path / "run.json", tmp_path / "run.csv"
    status, out, err = run_cli(capsys, *TINY, "--output", str(out_json), "--csv", str(out_csv),
                               "--progress", "lines")
    assert status == 0, out + err
    for algorithm in bench.algorithms().values():
        assert f"{algorithm.name}: {algorithm.estimator}(" in out
    assert "scikit-learn" in out and "gpulearn cpu" in out and "R^2" in out
    assert "[1/" in err  # progress, one line per run in a log

    doc = json.loads(out_json.read_text())
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert doc["schema"] == _report.SCHEMA
    assert doc["versions"]["gpulearn"] == gpulearn.__version__
    ok = [r for r in doc["results"] if r["status"] == "ok"]
    assert {r["backend"] for r in ok} >= {"sklearn", "gpulearn-cpu"}
    assert len({r["algorithm"] for r in ok}) == len(bench.algorithms())
    for r in ok:
        assert (r["rows"], r["cols"], r["test_rows"], len(r["fit"]["times_s"])) == (2000, 120,
                                                                                    500, 2)
        assert r["quality"]["within_tolerance"] in (True, None)
        assert r["fit"]["min_s"] <= r["fit"]["median_s"] <= r["fit"]["max_s"]
    gpulearn_cpu = [r for r in ok if r["backend"] == "gpulearn-cpu"]
    assert all(r["quality"]["reference"] is not None for r in gpulearn_cpu)
    if not gpulearn.cuda_available():
        assert doc["backends"]["gpulearn-cuda"]["available"] is False
        assert doc["backends"]["gpulearn-cuda"]["reason"]
        assert "skipped backend gpulearn cuda" in out

    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(doc["results"])
    assert rows[0].keys() == set(_report.CSV_FIELDS)
    assert float(rows[0]["fit_median_s"]) == doc["results"][0]["fit"]["median_s"]


def test_cli_sweeps_a_parameter(capsys, tmp_path):
    out_json = tmp_path / "sweep.json"
    status, out, _ = run_cli(capsys, *TINY, "--algo", "ridge", "--param", "alpha=0.1,10",
                             "--backends", "gpulearn-cpu", "--output", str(out_json), "-q")
    assert status == 0
    assert "Ridge(alpha=0.1)" in out and "Ridge(alpha=10)" in out
    results = json.loads(out_json.read_text())["results"]
    assert sorted({r["params"]["alpha"] for r in results}) == [0.1, 10]
    assert {r["backend"] for r in results} == {"sklearn", "gpulearn-cpu"}  # sklearn always


def test_cli_replaces_the_suite_sizes(capsys, tmp_path):
    out_json = tmp_path / "sizes.json"
    status, _, _ = run_cli(capsys, "--algo", "LinearRegression", "--rows", "1e3,1500", "--cols",
                           "4", "--dtype", "float32,float64", "--repeats", "1", "--no-roofline",
                           "--backends", "gpulearn-cpu", "-q", "--output", str(out_json))
    assert status == 0
    results = json.loads(out_json.read_text())["results"]
    assert {(r["rows"], r["cols"], r["dtype"]) for r in results} == {
        (n, 4, t) for n in (1000, 1500) for t in ("float32", "float64")}


def test_cli_with_roofline_reports_the_floor(capsys, tmp_path):
    out_json = tmp_path / "roof.json"
    status, out, _ = run_cli(capsys, "--algo", "ridge", "--rows", "3000", "--cols", "16",
                             "--repeats", "1", "--backends", "gpulearn-cpu", "--output",
                             str(out_json))
    assert status == 0
    assert "ceilings cpu: copy" in out and "floor (reached)" in out
    doc = json.loads(out_json.read_text())
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
    cpu = doc["ceilings"]["cpu"]
    assert cpu["bandwidth_bytes_per_s"] > 0 and cpu["gemm_flops_per_s"]["float64"] > 0
    for r in doc["results"]:
        assert r["roofline"]["ceilings"] == "cpu"
        assert r["roofline"]["fit"]["floor_s"] > 0 and r["roofline"]["fit"]["fraction"] > 0


def test_cli_non_finite_parameter_values_are_written_as_text(capsys, tmp_path):
    out_json, out_csv = tmp_path / "run.json", tmp_path / "run.csv"
    status, out, _ = run_cli(capsys, *TINY, "--algo", "ridge", "--param", "alpha=inf,1",
                             "--backends", "gpulearn-cpu", "-q", "--output", str(out_json),
                             "--csv", str(out_csv))
    doc = json.loads(out_json.read_text())
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert {r["params"]["alpha"] for r in doc["results"]} == {"inf", 1}
    assert out_csv.exists() and not (tmp_path / "run.json.tmp").exists()


def test_cli_interrupted_run_writes_what_finished(capsys, tmp_path, extra_backend):
    calls = []

    def interrupt_second_case(algorithm, params):
        calls.append(algorithm.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return _registry.import_object(algorithm.sklearn)(**params)

    extra_backend(_backends.Backend("ctrlc", "ctrl-c", gpu=False, unavailable=lambda: None,
                                    make=interrupt_second_case))
    out_json = tmp_path / "run.json"
    status, out, err = run_cli(capsys, *TINY, "--backends", "ctrlc", "-q", "--output",
                               str(out_json))
    assert status == 130 and "interrupted" in err
    doc = json.loads(out_json.read_text())
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert doc["summary"]["complete"] is False
    assert len(doc["results"]) == 2  # the first case, scikit-learn and ctrlc


def test_cli_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib")
    png = tmp_path / "speedup.png"
    status, out, _ = run_cli(capsys, *TINY, "--backends", "gpulearn-cpu", "-q", "--plot", str(png))
    assert status == 0, out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot_without_matplotlib_is_a_usage_error(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    status, _, err = run_cli(capsys, *TINY, "--plot", str(tmp_path / "x.png"))
    assert status == 2 and "--plot needs matplotlib" in err


def test_cli_list(capsys):
    status, out, _ = run_cli(capsys, "--list")
    assert status == 0
    for name in bench.algorithms():
        assert name in out
    for name in _backends.BACKENDS:
        assert name in out


@pytest.mark.parametrize("args, message", [
    (["--algo", "nosuch"], "unknown algorithm 'nosuch'"),
    (["--rows", "0"], "--rows: '0' is not a whole number of at least 1"),
    (["--rows", "1.5"], "--rows: '1.5' is not a whole number"),
    (["--rows", "many"], "--rows: 'many' is not a number"),
    (["--cols", "-3"], "--cols: '-3' is not a whole number"),
    (["--dtype", "float16"], "--dtype: 'float16' is not one of float32, float64"),
    (["--param", "alpha"], "expected NAME=VALUE"),
    (["--param", "no_such=8"], "--param no_such: not a parameter of"),
    (["--algo", "ridge", "--param", "n_clusters=8"], "--param n_clusters: not a parameter of Ridge"),
    (["--backends", "gpulearn-tpu"], "unknown backend(s) gpulearn-tpu"),
    (["--repeats", "0"], "--repeats must be at least 1"),
    (["--output", "/nonexistent-folder/run.json"], "the folder /nonexistent-folder does not exist"),
    (["--suite", "huge"], "invalid choice: 'huge'"),
])
def test_cli_usage_errors(capsys, args, message):
    status, out, err = run_cli(capsys, *args)
    assert status == 2
    assert message in err
    assert "ridge" not in out  # nothing ran


# ---- the accel view: scikit-learn's class under gpulearn.accel -------------------------------


def _accel_state():
    """(installed, device, Ridge.fit patched): what a run must leave as it found it."""
    from sklearn.linear_model import Ridge

    from gpulearn import accel
    from gpulearn.accel import _dispatch

    return accel.is_installed(), _dispatch._device, _dispatch.is_patched(Ridge, "fit")


def test_accel_view_runs_scikit_learns_class_on_gpulearn(capsys, tmp_path):
    before = _accel_state()
    out_json, out_csv = tmp_path / "run.json", tmp_path / "run.csv"
    status, out, err = run_cli(capsys, *TINY, "--view", "accel", "--algo", "ridge", "--output",
                               str(out_json), "--csv", str(out_csv))
    assert status == 0, out + err
    assert _accel_state() == before == (False, before[1], False)  # installed only meanwhile
    doc = json.loads(out_json.read_text())
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
    by_backend = {r["backend"]: r for r in doc["results"] if r["status"] == "ok"}
    assert set(by_backend) >= {"sklearn", "gpulearn-cpu", "accel-cpu"}
    assert "accel" not in by_backend["sklearn"] and "accel" not in by_backend["gpulearn-cpu"]
    accel = by_backend["accel-cpu"]["accel"]
    assert accel["device"] == "cpu" and accel["direct"] == "gpulearn-cpu"
    # Every timed call (2 repeats; the warm-up is not profiled) ran on gpulearn's CPU backend.
    assert accel["ran_on"] == {
        "fit": [{"method": "fit", "where": "gpulearn cpu", "reason": None, "calls": 2,
                 "note": None}],
        "apply": [{"method": "predict", "where": "gpulearn cpu", "reason": None, "calls": 2,
                   "note": None}]}
    assert accel["fell_back"] == {"fit": False, "apply": False}
    for phase in ("fit", "apply"):
        direct = by_backend["gpulearn-cpu"][phase]["median_s"]
        mine = by_backend["accel-cpu"][phase]["median_s"]
        assert accel["vs_direct"][phase] == pytest.approx(mine / direct)
        assert accel["overhead_s"][phase] == pytest.approx(mine - direct)
    assert doc["summary"]["accel_fallbacks"] == []
    assert "accel cpu" in out and "ran on: fit 2 on gpulearn cpu; predict 2 on gpulearn cpu" in out
    assert "vs gpulearn cpu called directly: fit " in out and "FELL BACK" not in out
    if not gpulearn.cuda_available():
        assert doc["backends"]["accel-cuda"]["available"] is False
        assert "skipped backend accel cuda" in out
    with open(out_csv, newline="") as f:
        rows = {r["backend"]: r for r in csv.DictReader(f)}
    assert rows["accel-cpu"]["accel_fit_fell_back"] == "False"
    assert json.loads(rows["accel-cpu"]["accel_apply_ran_on"])[0]["where"] == "gpulearn cpu"
    assert rows["sklearn"]["accel_fit_ran_on"] == ""


def test_accel_fallback_is_shown_and_not_compared(capsys, tmp_path):
    """KMeans(algorithm="elkan") fits with scikit-learn's code under the accelerator (gpulearn
    runs Lloyd's iterations): the result says so and gets no ratio over the direct call; its
    predictions (the algorithm does not decide them) run on gpulearn and are compared."""
    out_json = tmp_path / "run.json"
    status, out, err = run_cli(capsys, *TINY, "--view", "accel", "--algo", "kmeans", "--param",
                               "algorithm=elkan", "--output", str(out_json), "-q")
    assert status == 0, out + err  # a fallback is reported, not a failure
    doc = json.loads(out_json.read_text())
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
    (record,) = [r for r in doc["results"] if r["backend"] == "accel-cpu"]
    accel = record["accel"]
    assert accel["fell_back"] == {"fit": True, "apply": False}
    assert accel["vs_direct"]["fit"] is None and accel["vs_direct"]["apply"] > 0
    assert {(r["method"], r["where"]) for r in accel["ran_on"]["fit"]} == {
        ("fit", "scikit-learn")}
    assert "algorithm='elkan'" in accel["ran_on"]["fit"][0]["reason"]
    assert {r["where"] for r in accel["ran_on"]["apply"]} == {"gpulearn cpu"}
    assert doc["summary"]["accel_fallbacks"] == [
        "kmeans 2000x120 float32 accel-cpu (host): fit"]
    row = next(line for line in out.splitlines() if line.startswith("  accel cpu"))
    assert row.count("fallback") == 1  # in place of the fit's speedup only
    assert "FELL BACK to scikit-learn, its times are scikit-learn's: fit 2 on scikit-learn (" in out
    assert "1 accelerated run(s) fell back to scikit-learn" in out


def test_scikit_learn_stays_plain_when_the_accelerator_was_on(capsys):
    """Under GPULEARN_ACCEL=1 (here: install()), the scikit-learn backend still runs its own
    code; the accelerator is left on, on its device, after the run."""
    from gpulearn import accel

    accel.install(device="auto", subprocesses=False)
    try:
        with accel.profile(print_report=False) as prof:
            status, out, err = run_cli(capsys, *TINY, "--view", "accel", "--algo", "ridge",
                                       "-q")
        assert status == 0, out + err
        assert _accel_state()[:2] == (True, "auto")
    finally:
        accel.uninstall()
    # Only the accelerated backend's calls were dispatched: 1 warm-up + 2 timed per phase.
    calls = {}
    for r in prof.rows:
        calls[r["method"]] = calls.get(r["method"], 0) + r["calls"]
    assert calls == {"fit": 3, "predict": 3}


def test_ran_on_gpulearn_needs_every_timed_call_on_the_device():
    from gpulearn.bench._runner import ran_on_gpulearn

    def row(where, calls, method="predict", reason=None):
        return {"method": method, "where": where, "reason": reason, "calls": calls}

    assert ran_on_gpulearn([row("gpulearn cpu", 3)], "predict", 3, "cpu")
    # a nested call of another method does not count
    assert ran_on_gpulearn([row("gpulearn cpu", 3), row("scikit-learn", 1, "score", "x")],
                           "predict", 3, "cpu")
    assert not ran_on_gpulearn([row("gpulearn cpu", 2)], "predict", 3, "cpu")  # one unseen
    assert not ran_on_gpulearn([row("gpulearn cpu", 2), row("scikit-learn", 1, reason="x")],
                               "predict", 3, "cpu")
    assert not ran_on_gpulearn([row("gpulearn cpu", 3)], "predict", 3, "cuda")
    assert ran_on_gpulearn([row("gpulearn cuda:0", 3)], "predict", 3, "cuda")


def test_accel_backends_run_only_when_asked_for(capsys):
    from gpulearn.bench import _cli

    default, _ = _cli._select_backends(None)
    assert not any(b.accel for b in default)
    view, status = _cli._select_backends(None, "accel")
    assert [b.name for b in view][:3] == ["sklearn", "gpulearn-cpu", "accel-cpu"]
    assert list(status) == ["sklearn", "gpulearn-cpu", "accel-cpu", "gpulearn-cuda",
                            "accel-cuda"]
    status, _, err = run_cli(capsys, "--view", "accel", "--backends", "gpulearn-cpu")
    assert status == 2 and "give --backends or --view, not both" in err
    status, out, _ = run_cli(capsys, "--list")
    assert "accel-cpu" in out and "(only by name or --view accel)" in out


# ---- failures during a run -----------------------------------------------------------------


@pytest.fixture
def extra_backend(monkeypatch):
    """Adds a backend to the registry of backends for one test."""
    def add(backend):
        monkeypatch.setitem(_backends.BACKENDS, backend.name, backend)
    return add


def _raising(message):
    def make(algorithm, params):
        raise RuntimeError(message)
    return make


def test_a_peer_that_raises_is_reported_and_the_run_goes_on(capsys, tmp_path, extra_backend):
    extra_backend(_backends.Backend("brokenpeer", "broken peer", gpu=False,
                                    unavailable=lambda: None, make=_raising("peer exploded")))
    out_json = tmp_path / "run.json"
    status, out, _ = run_cli(capsys, *TINY, "--algo", "ridge,linear_regression", "--backends",
                             "brokenpeer,gpulearn-cpu", "-q", "--output", str(out_json))
    assert status == 0  # a peer's failure is reported, not ours
    assert out.count("error: RuntimeError: peer exploded") == 2
    doc = json.loads(out_json.read_text())
    jsonschema.validate(doc, SCHEMA, cls=jsonschema.Draft202012Validator)
    broken = [r for r in doc["results"] if r["backend"] == "brokenpeer"]
    assert [r["status"] for r in broken] == ["error", "error"]
    assert len(doc["summary"]["peer_errors"]) == 2
    after = [r for r in doc["results"] if r["backend"] == "gpulearn-cpu"]
    assert [r["status"] for r in after] == ["ok", "ok"]  # the run went on


def test_an_unavailable_peer_is_listed_with_its_reason(capsys, tmp_path, extra_backend):
    extra_backend(_backends.Backend("ghost", "ghost", gpu=False,
                                    unavailable=lambda: "not installed (pip install ghost)",
                                    make=_raising("never built")))
    out_json = tmp_path / "run.json"
    status, out, _ = run_cli(capsys, *TINY, "--algo", "ridge", "--backends", "ghost",
                             "--output", str(out_json))
    assert status == 0
    assert "skipped backend ghost: not installed (pip install ghost)" in out
    doc = json.loads(out_json.read_text())
    assert doc["backends"]["ghost"] == {"label": "ghost", "available": False,
                                        "reason": "not installed (pip install ghost)"}


def test_a_gpulearn_failure_sets_the_exit_status(capsys, monkeypatch):
    broken = dataclasses.replace(_backends.BACKENDS["gpulearn-cpu"], make=_raising("ours broke"))
    monkeypatch.setitem(_backends.BACKENDS, "gpulearn-cpu", broken)
    status, out, _ = run_cli(capsys, *TINY, "--algo", "ridge", "--backends", "gpulearn-cpu", "-q")
    assert status == 1
    assert "error: RuntimeError: ours broke" in out and "gpulearn errors: ridge" in out


class MeanOnly:
    """An "estimator" that ignores X: its R^2 is ~0, far below scikit-learn's Ridge."""

    def __init__(self, device="auto", **params):
        self.device = device

    def fit(self, X, y):
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_quality_outside_tolerance_is_flagged(capsys, tmp_path):
    ridge = bench.algorithms()["ridge"]
    bench.register(dataclasses.replace(ridge, name="meanonly",
                                       gpulearn=f"{__name__}.MeanOnly"))
    try:
        out_json = tmp_path / "run.json"
        status, out, _ = run_cli(capsys, *TINY, "--algo", "meanonly", "--backends",
                                 "gpulearn-cpu", "-q", "--output", str(out_json))
    finally:
        _registry.unregister("meanonly")
    assert status == 1
    assert " !" in out and "outside tolerance: meanonly 2000x120 float32 gpulearn-cpu" in out
    doc = json.loads(out_json.read_text())
    flagged = [r for r in doc["results"] if r["quality"]["within_tolerance"] is False]
    assert [r["backend"] for r in flagged] == ["gpulearn-cpu"]
    assert abs(flagged[0]["quality"]["value"]) < 0.1 < flagged[0]["quality"]["reference"]


def test_runner_flags_quality_and_times_both_placements(monkeypatch):
    """The runner's GPU logic (resident and host data, sync, quality flag) with a fake device
    that is NumPy, so that it runs without a GPU."""
    ridge = bench.algorithms()["ridge"]
    puts, syncs = [], []

    class Worse:  # a model whose predictions are off by one: R^2 drops well below sklearn's
        def __init__(self, **params):
            from sklearn.linear_model import Ridge
            self.inner = Ridge(**params)

        def fit(self, X, y):
            assert isinstance(X, FakeDeviceArray) == self.on_device
            self.inner.fit(np.asarray(X), np.asarray(y))
            return self

        def predict(self, X):
            return self.inner.predict(np.asarray(X)) + 50 * np.std(self.inner.predict(
                np.asarray(X)))

    class FakeDeviceArray(np.ndarray):
        pass

    def make(algorithm, params):
        model = Worse(**params)
        model.on_device = make.next_placement == "device"
        return model

    fake_gpu = _backends.Backend("fakegpu", "fake GPU", gpu=True, unavailable=lambda: None,
                                 make=make, is_gpulearn=True)
    runner = Runner([_backends.BACKENDS["sklearn"], fake_gpu], repeats=2, warmup=1,
                    device_put=lambda a: (puts.append(a.shape), a.view(FakeDeviceArray))[1],
                    device_sync=lambda: syncs.append(1))
    real_run_one = runner._run_one

    def run_one(case, backend, placement, *rest):
        make.next_placement = placement
        return real_run_one(case, backend, placement, *rest)

    monkeypatch.setattr(runner, "_run_one", run_one)
    records = runner.run([Case(ridge, bench.Size(800, 5, "float64", test_rows=200))])
    assert [(r["backend"], r["data"]) for r in records] == [
        ("sklearn", "host"), ("fakegpu", "device"), ("fakegpu", "host")]
    assert all(r["status"] == "ok" for r in records), records
    assert puts == [(800, 5), (800,), (200, 5), (200,)]  # the data went to the device once
    # One sync after the upload, then one per fake-GPU call (2 placements x 2 phases x
    # (1 warm-up + 2 repeats)).
    assert len(syncs) == 1 + 2 * 2 * (1 + 2)
    reference = records[0]["quality"]["value"]
    for r in records[1:]:
        assert r["quality"]["reference"] == reference
        assert r["quality"]["within_tolerance"] is False
    own, flagged, peers = _report.failures(records)
    assert (len(own), len(flagged), len(peers)) == (0, 2, 0)
    assert _report.exit_status(records) == 1  # the fake backend stands for gpulearn here
    as_peer = [dict(r, gpulearn=False) for r in records]
    assert _report.exit_status(as_peer) == 0  # a peer's poor quality is shown, not failed on


def test_runner_skips_device_rows_when_the_data_do_not_fit():
    ridge = bench.algorithms()["ridge"]

    def full(array):
        raise MemoryError("out of device memory")

    fake_gpu = _backends.Backend("fakegpu", "fake GPU", gpu=True, unavailable=lambda: None,
                                 make=lambda a, p: _registry.import_object(a.sklearn)(**p))
    runner = Runner([_backends.BACKENDS["sklearn"], fake_gpu], repeats=1, warmup=0,
                    device_put=full, device_sync=lambda: None)
    records = runner.run([Case(ridge, bench.Size(300, 4, "float64", test_rows=50))])
    device = [r for r in records if r["data"] == "device"]
    assert [r["status"] for r in device] == ["skipped"]
    assert "could not put the data on the GPU: MemoryError: out of device memory" in device[0][
        "error"]
    assert [r["status"] for r in records if r["data"] == "host"] == ["ok", "ok"]


# ---- the entry points ------------------------------------------------------------------------


def test_python_dash_m_help_explains_the_options():
    result = subprocess.run([sys.executable, "-m", "gpulearn.bench", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for option in ("--suite", "--algo", "--rows", "--cols", "--dtype", "--repeats", "--param",
                   "--backends", "--view", "--output", "--csv", "--plot", "--list",
                   "exit status"):
        assert option in result.stdout


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "gpulearn-bench"
    assert script.exists(), f"{script} missing: is gpulearn installed in this environment?"
