"""Runs the cases: draws the data once per size, times every backend on it, judges quality.

For each case (algorithm, size, parameters) scikit-learn runs first: its times are what the
speedups divide, its quality figure what the others are held to. Every other backend follows,
GPU backends twice (data resident on the device; data on the host, the copies timed). A backend
that raises is recorded with its error and the run goes on.

The accelerated backends (``accel-cpu``, ``accel-cuda``) run scikit-learn's class with
``gpulearn.accel`` installed around their own runs only (and uninstalled after, unless it was
on before); every other backend runs with the accelerator paused, so scikit-learn stays
scikit-learn's own code even under ``GPULEARN_ACCEL=1``. Their timed calls are profiled: each
result says where every timed call ran, and a phase that fell back to scikit-learn is marked
as such, not compared with gpulearn called directly.
"""

import contextlib
import dataclasses
import gc
import math
import statistics
import time
from typing import Any

import numpy as np

from ._registry import Algorithm, Data, Size


@dataclasses.dataclass(frozen=True)
class Case:
    algorithm: Algorithm
    size: Size
    sweep: tuple = ()  # (name, value) pairs set on top of the algorithm's params

    @property
    def params(self):
        return {**self.algorithm.params, **dict(self.sweep)}

    def describe(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return (f"{self.algorithm.name}: {self.algorithm.estimator}({args}) on "
                f"{self.size.rows:,} x {self.size.cols:,} {self.size.dtype}, "
                f"{self.size.n_test:,} held out")

    def short(self):
        return f"{self.algorithm.name} {compact(self.size.rows)}x{self.size.cols} {self.size.dtype}"


def compact(n):
    """1000000 -> "1e6", 250000 -> "2.5e5", 1234 -> "1234": a row count, short and exact."""
    if n >= 10_000:
        mantissa, exponent = f"{n:e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        if len(mantissa) <= 3 and float(f"{mantissa}e{exponent}") == n:
            return f"{mantissa}e{int(exponent)}"
    return str(n)


def to_host(value):
    """NumPy (or a tuple of NumPy) from whatever a backend returned: CuPy, PyTorch, NumPy."""
    if isinstance(value, tuple):
        return tuple(to_host(v) for v in value)
    if hasattr(value, "get") and hasattr(value, "__cuda_array_interface__"):  # CuPy
        return value.get()
    if hasattr(value, "detach"):  # PyTorch
        return value.detach().cpu().numpy()
    return np.asarray(value)


def cupy_put(array):
    import cupy

    return cupy.asarray(array)


def cupy_sync():
    import cupy

    cupy.cuda.runtime.deviceSynchronize()


def _timed(fn, sync, warmup, repeats, watch=contextlib.nullcontext):
    """(seconds of each of ``repeats`` calls after ``warmup`` untimed ones, the last result);
    ``watch()`` is open around the timed calls only."""
    result = None
    for _ in range(warmup):
        result = fn()
        sync()
    times = []
    with watch():
        for _ in range(repeats):
            t0 = time.perf_counter()
            result = fn()
            sync()
            times.append(time.perf_counter() - t0)
    return times, result


@contextlib.contextmanager
def accelerated(device):
    """gpulearn.accel installed on ``device`` while open; afterwards as it was before (off,
    unless it was on, then on its former device)."""
    from gpulearn import accel
    from gpulearn.accel import _dispatch

    was_installed, was_device = accel.is_installed(), _dispatch._device
    accel.install(device=device, subprocesses=False)
    try:
        yield
    finally:
        if not was_installed:
            accel.uninstall()
        _dispatch.set_device(was_device)


def _backend_context(backend):
    """Around one backend's run: the accelerator on its device for an accelerated backend,
    paused for any other (scikit-learn must run its own code)."""
    if backend.accel is not None:
        return accelerated(backend.accel)
    from gpulearn import accel

    return accel.paused()


class _Watch:
    """Records where the timed calls of one phase ran (a gpulearn.accel profile)."""

    def __init__(self):
        self.rows = []

    @contextlib.contextmanager
    def __call__(self):
        from gpulearn import accel

        with accel.profile(print_report=False) as prof:
            yield
        # note: what gpulearn ran where the user named no algorithm ("exact brute force")
        self.rows = [{"method": r["method"], "where": r["where"], "reason": r["reason"],
                      "calls": r["calls"], "note": r.get("note")} for r in prof.rows]


def ran_on_gpulearn(rows, method, calls, device):
    """Whether all ``calls`` timed calls of ``method`` ran on gpulearn on ``device`` ("cpu",
    "cuda"): that many recorded, each "gpulearn <device>" (a call the accelerator never saw
    ran scikit-learn's code; nested calls of other methods are not counted)."""
    mine = [r for r in rows if r["method"] == method]
    return (sum(r["calls"] for r in mine) == calls
            and all(r["reason"] is None and r["where"].startswith(f"gpulearn {device}")
                    for r in mine))


def _compare_with_direct(records, backends):
    """On each accelerated record of one case: its time over the same computation on the
    backend called directly (same data placement), per phase that ran on gpulearn."""
    by_key = {(r["backend"], r["data"]): r for r in records}
    for r in records:
        backend = backends.get(r["backend"])
        if r["status"] != "ok" or backend is None or backend.accel is None:
            continue
        direct = by_key.get((backend.direct, r["data"]))
        if direct is None or direct["status"] != "ok":
            continue
        accel = r["accel"]
        accel["vs_direct"], accel["overhead_s"] = {}, {}
        for phase in ("fit", "apply"):
            if accel["fell_back"][phase]:
                accel["vs_direct"][phase] = accel["overhead_s"][phase] = None
                continue
            mine, theirs = r[phase]["median_s"], direct[phase]["median_s"]
            accel["vs_direct"][phase] = mine / max(theirs, 1e-9)
            accel["overhead_s"][phase] = mine - theirs


def _summary(times):
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "times_s": times}


@dataclasses.dataclass
class Runner:
    backends: list  # Backend, usable on this machine; scikit-learn's first
    repeats: int = 3
    warmup: int = 1
    seed: int = 0
    ceilings: dict = dataclasses.field(default_factory=dict)  # "cpu"/"cuda" -> Ceilings
    progress: Any = None
    on_case_done: Any = None  # (case, records) -> None
    device_data_reason: str | None = None  # why data cannot be resident on the GPU, or None
    device_put: Any = cupy_put  # host array -> the same on the GPU
    device_sync: Any = cupy_sync  # waits for all work on the GPU

    def steps(self, cases):
        """How many timed runs ``run(cases)`` makes (for the progress bar)."""
        return sum(len(self._targets(case)) for case in cases)

    def _targets(self, case):
        targets = []
        for backend in self.backends:
            for placement in (("device", "host") if backend.gpu else ("host",)):
                targets.append((backend, placement))
        return targets

    def run(self, cases):
        records = []
        cached_key, data, device_data = None, None, None
        key = lambda c: (c.algorithm.data_key, c.size)  # noqa: E731
        first_seen = {}  # cases sharing data run together, in the order they were asked for
        for case in cases:
            first_seen.setdefault(key(case), len(first_seen))
        for case in sorted(cases, key=lambda c: first_seen[key(c)]):
            if key(case) != cached_key:
                data = device_data = None
                self._release()
                data = case.algorithm.data(case.size, self.seed)
                cached_key = key(case)
                device_reason = self.device_data_reason
                if device_reason is None and any(b.gpu for b in self.backends):
                    device_data, device_reason = self._put(data)
            case_records = []
            reference = None
            for backend, placement in self._targets(case):
                if self.progress is not None:
                    self.progress.step(f"{case.short()} | {backend.label} ({placement} data)")
                with _backend_context(backend):
                    record = self._run_one(case, backend, placement, data, device_data,
                                           device_reason, reference)
                self._release()  # what one backend cached must not crowd the next
                if backend.is_reference:
                    reference = record
                case_records.append(record)
            _compare_with_direct(case_records, {b.name: b for b in self.backends})
            records.extend(case_records)
            if self.on_case_done is not None:
                self.on_case_done(case, case_records)
        self._release()
        return records

    def _put(self, data):
        """(the data on the device, None), or (None, why not) when they do not fit or fail."""
        try:
            arrays = (data.X_train, data.y_train, data.X_test, data.y_test)
            on_device = Data(*(None if a is None else self.device_put(a) for a in arrays))
            self.device_sync()  # the copies finish before any timing starts
            return on_device, None
        except Exception as exc:
            self._release()
            return None, f"could not put the data on the GPU: {type(exc).__name__}: {exc}"

    def _release(self):
        gc.collect()
        if self.device_data_reason is not None:
            return
        try:
            import cupy

            cupy.get_default_memory_pool().free_all_blocks()
            cupy.get_default_pinned_memory_pool().free_all_blocks()
        except Exception:  # no CuPy, or a GPU in a bad state: the next backend will say so
            pass

    def _sync(self, backend):
        if backend.gpu and self.device_data_reason is None:
            return self.device_sync
        return lambda: None

    def _run_one(self, case, backend, placement, data, device_data, device_reason, reference):
        algorithm, size = case.algorithm, case.size
        record = {
            "algorithm": algorithm.name, "estimator": algorithm.estimator,
            "params": {k: _jsonable(v) for k, v in case.params.items()},
            "rows": size.rows, "cols": size.cols, "dtype": size.dtype, "test_rows": size.n_test,
            "backend": backend.name, "gpulearn": backend.is_gpulearn, "data": placement,
            "status": "ok", "error": None,
            "method": algorithm.method, "fit": None, "apply": None, "quality": None,
            "speedup": None, "roofline": None,
        }
        if backend.accel is not None:
            record["accel"] = {"device": backend.accel, "direct": backend.direct,
                               "ran_on": None, "fell_back": None, "vs_direct": None,
                               "overhead_s": None}
        lacks = backend.lacks(algorithm)
        if lacks is None and placement == "device" and device_data is None:
            lacks = device_reason or "no data on the device"
        if lacks is not None:
            record.update(status="skipped", error=lacks)
            return record
        inputs = device_data if placement == "device" else data
        sync = self._sync(backend)
        model = None
        watches = {"fit": _Watch(), "apply": _Watch()}
        if backend.accel is None:
            watches = {"fit": contextlib.nullcontext, "apply": contextlib.nullcontext}
        try:
            model = backend.make(algorithm, case.params)
            fit_args = (inputs.X_train,) if inputs.y_train is None else (inputs.X_train,
                                                                         inputs.y_train)
            fit_times, _ = _timed(lambda: model.fit(*fit_args), sync, self.warmup, self.repeats,
                                  watches["fit"])
            method = getattr(model, algorithm.method)
            if backend.gpu and placement == "host":  # the copy back belongs to the call
                apply = lambda: to_host(method(inputs.X_test))  # noqa: E731
            else:
                apply = lambda: method(inputs.X_test)  # noqa: E731
            apply_times, output = _timed(apply, sync, self.warmup, self.repeats,
                                         watches["apply"])
            value = float(algorithm.quality.score(model, data, to_host(output)))
            if not np.isfinite(value):
                value = None
        except Exception as exc:  # a failing backend is reported; the run goes on
            record.update(status="error", error=f"{type(exc).__name__}: {exc}")
            return record
        record["fit"], record["apply"] = _summary(fit_times), _summary(apply_times)
        if backend.accel is not None:
            names = {"fit": "fit", "apply": algorithm.method}
            record["accel"]["ran_on"] = {phase: w.rows for phase, w in watches.items()}
            record["accel"]["fell_back"] = {
                phase: not ran_on_gpulearn(w.rows, names[phase], self.repeats, backend.accel)
                for phase, w in watches.items()}
        quality = algorithm.quality
        record["quality"] = {"metric": quality.name, "value": value, "reference": None,
                             "within_tolerance": None, "tolerance": quality.tolerance,
                             "relative": quality.relative}
        if backend.is_reference:
            record["speedup"] = {"fit": 1.0, "apply": 1.0}
        elif reference is not None and reference["status"] == "ok":
            ref_value = reference["quality"]["value"]
            record["quality"]["reference"] = ref_value
            record["quality"]["within_tolerance"] = quality.within_tolerance(value, ref_value)
            record["speedup"] = {
                phase: reference[phase]["median_s"] / max(record[phase]["median_s"], 1e-9)
                for phase in ("fit", "apply")}
        try:
            record["roofline"] = self._roofline(case, backend, placement, record, model)
        except Exception:  # e.g. a peer's model without the attribute a cost model reads
            record["roofline"] = None
        return record

    def _roofline(self, case, backend, placement, record, model):
        """Each phase's floor on this backend's device and the fraction of it reached."""
        ceilings = self.ceilings.get("cuda" if backend.gpu else "cpu")
        if ceilings is None or case.algorithm.cost is None:
            return None
        out = {"ceilings": ceilings.device}
        for phase, name in (("fit", "fit"), ("apply", case.algorithm.method)):
            cost = case.algorithm.cost(name, case.size, case.params, model)
            dtype, host_data = case.size.dtype, backend.gpu and placement == "host"
            floor = ceilings.floor(cost, dtype, host_data)
            out[phase] = {"bytes": cost.bytes, "flops": cost.flops,
                          "transfer_bytes": cost.transfer_bytes if host_data else 0.0,
                          "floor_s": floor, "bound": ceilings.bound(cost, dtype, host_data),
                          "fraction": floor / max(record[phase]["median_s"], 1e-9)}
        return out


def _jsonable(value):
    """A parameter value as JSON can hold it: non-finite floats and objects as their repr."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)
