"""gpulearn-bench: how much faster is gpulearn than scikit-learn on this machine, and are the
answers as good?

Times fit and predict/transform of each estimator on gpulearn (CUDA and CPU), scikit-learn and
any peer found installed (scikit-learn-intelex, cuML, a plain CuPy baseline), on seeded
scikit-learn data: warm-up, then repeats; the median, the spread (half the range over the
median) and the speedup over scikit-learn, with a quality figure beside the times, flagged
("!") when it is outside tolerance of scikit-learn's. GPU backends run twice: on data already on
the device, and on host data with the copies timed. Beside each time: the roofline floor of the
case on that device (bytes over measured bandwidth, FLOPs over measured GEMM peak) and the
fraction of it reached.

--view accel adds scikit-learn's own class run under gpulearn.accel (unmodified scikit-learn
code, on gpulearn's CPU and CUDA backends) beside gpulearn called directly: its time over the
direct call's shows the accelerator's overhead, and each result says where its timed calls
ran (a fallback to scikit-learn is shown, never compared as if accelerated).
"""

import argparse
import itertools
import os
import sys

from . import _backends, _machine, _report, _roofline
from ._progress import Progress
from ._registry import DTYPES, SUITES, Size, algorithms, import_object
from ._runner import Case, Runner, compact

_EPILOG = """\
suites:
  quick     every estimator at small sizes (the default; under 2 minutes on 2 cores, no GPU)
  standard  sizes where a GPU matters: 1e6 rows and more
  full      standard and larger sizes, both dtypes

examples:
  gpulearn-bench                                    the quick suite
  gpulearn-bench --suite standard --output run.json --plot speedup.png
  gpulearn-bench --algo ridge --rows 1e6 --cols 100 --dtype float32 --repeats 5
  gpulearn-bench --algo ridge --param alpha=0.1,1,10 --csv sweep.csv
  gpulearn-bench --view accel --algo ridge,kmeans   the accelerator's overhead over direct calls
  gpulearn-bench --list                             algorithms and backends on this machine

views:
  default   scikit-learn, gpulearn (CUDA and CPU) and every peer found installed
  accel     scikit-learn, gpulearn called directly and scikit-learn's class under
            gpulearn.accel, on the CPU and on CUDA where available
            (--backends gpulearn-cpu,accel-cpu,gpulearn-cuda,accel-cuda)

exit status: 0 when every gpulearn run succeeded with its quality within tolerance; 1 when
a gpulearn run failed or its quality was outside tolerance; 2 on a usage error; 130 when
interrupted (the runs finished so far are still reported and written). Peers' errors and
quality flags, and accelerated runs that fell back to scikit-learn, are reported and do not
change the status.
"""


class UsageError(ValueError):
    pass


# --view NAME -> the backends it runs beside scikit-learn (None: every default one usable here)
VIEWS = {
    "default": None,
    "accel": ("gpulearn-cpu", "accel-cpu", "gpulearn-cuda", "accel-cuda"),
}


def _split(text):
    return [part.strip() for part in text.split(",") if part.strip()]


def _count(text, what):
    """'1e6' or '1000000' -> 1000000; a usage error for anything not a whole number >= 1."""
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{what}: {text!r} is not a number") from None
    if not value.is_integer() or value < 1:
        raise UsageError(f"{what}: {text!r} is not a whole number of at least 1")
    return int(value)


def _counts(text, what):
    values = [_count(part, what) for part in _split(text)]
    if not values:
        raise UsageError(f"{what}: no value given")
    return values


def _value(text):
    """A --param value: an int, a float, true/false, none, else the string itself."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _params(specs):
    sweeps = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        if not sep or not name.strip() or not _split(values):
            raise UsageError(f"--param {spec!r}: expected NAME=VALUE[,VALUE...]")
        sweeps[name.strip()] = [_value(v) for v in _split(values)]
    return sweeps


def _find_algorithms(text, registry):
    if text is None:
        return list(registry.values())
    # An algorithm's own name picks it; a scikit-learn class name picks every algorithm of
    # that class (PCA: "pca" and "pca_randomized") unless an algorithm has that name.
    by_name = {}
    for a in registry.values():
        by_name.setdefault(a.estimator.lower(), []).append(a)
    by_name.update({name.lower(): [a] for name, a in registry.items()})
    chosen = []
    for name in _split(text):
        if name.lower() not in by_name:
            raise UsageError(f"unknown algorithm {name!r}; known: {', '.join(sorted(registry))}")
        chosen.extend(a for a in by_name[name.lower()] if a not in chosen)
    if not chosen:
        raise UsageError("--algo: no algorithm given")
    return chosen


def build_cases(args, registry):
    """The cases the arguments ask for: each algorithm's suite sizes with --rows/--cols/--dtype/
    --test-rows replacing what they name, crossed with the --param sweeps it accepts."""
    chosen = _find_algorithms(args.algo, registry)
    rows = _counts(args.rows, "--rows") if args.rows else [None]
    cols = _counts(args.cols, "--cols") if args.cols else [None]
    test_rows = _count(args.test_rows, "--test-rows") if args.test_rows else None
    dtypes = _split(args.dtype) if args.dtype else [None]
    for dtype in dtypes:
        if dtype is not None and dtype not in DTYPES:
            raise UsageError(f"--dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
    sweeps = _params(args.param)
    used = set()
    cases = []
    for algorithm in chosen:
        accepted = import_object(algorithm.sklearn)().get_params()
        mine = {k: v for k, v in sweeps.items() if k in accepted}
        used.update(mine)
        sizes = []
        for s, r, c, t in itertools.product(algorithm.sizes[args.suite], rows, cols, dtypes):
            size = Size(r or s.rows, c or s.cols, t or s.dtype, test_rows or s.test_rows)
            if size not in sizes:
                sizes.append(size)
        for size in sizes:
            for values in itertools.product(*mine.values()):
                cases.append(Case(algorithm, size, tuple(zip(mine, values))))
    unused = set(sweeps) - used
    if unused:
        raise UsageError(f"--param {', '.join(sorted(unused))}: not a parameter of "
                         f"{', '.join(a.estimator for a in chosen)}")
    return cases


def _parser():
    p = argparse.ArgumentParser(
        prog="gpulearn-bench", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG)
    what = p.add_argument_group("what to run")
    what.add_argument("--suite", choices=SUITES, default="quick",
                      help="the sizes of each algorithm (default: quick)")
    what.add_argument("--algo", metavar="A[,B...]",
                      help="algorithms to run, by name or scikit-learn class name "
                           "(default: every registered one; see --list)")
    what.add_argument("--rows", metavar="N[,N...]",
                      help="training rows, replacing the suite's (1e6 and 1000000 both work)")
    what.add_argument("--cols", metavar="N[,N...]", help="features, replacing the suite's")
    what.add_argument("--dtype", metavar="T[,T...]",
                      help="float32 and/or float64, replacing the suite's")
    what.add_argument("--test-rows", metavar="N",
                      help="held-out rows for predict/transform and quality "
                           "(default: a fifth of the training rows, at most 100,000)")
    what.add_argument("--param", metavar="NAME=V[,V...]", action="append", default=[],
                      help="an estimator parameter and its values, swept (repeatable; applies "
                           "to the chosen algorithms that have it)")
    how = p.add_argument_group("how")
    how.add_argument("--backends", metavar="B[,B...]",
                     help="backends to run beside scikit-learn, which always runs (default: "
                          "every one usable here but the accelerated ones; known: "
                          f"{', '.join(_backends.BACKENDS)})")
    how.add_argument("--view", choices=tuple(VIEWS), default="default",
                     help="a set of backends: accel compares scikit-learn's class under "
                          "gpulearn.accel with gpulearn called directly (see views below)")
    how.add_argument("--repeats", type=int, default=3,
                     help="timed calls per phase after the warm-up; the median is reported "
                          "(default: 3)")
    how.add_argument("--warmup", type=int, default=1,
                     help="untimed calls per phase before the timed ones (default: 1)")
    how.add_argument("--seed", type=int, default=0, help="seed of the generated data (default: 0)")
    how.add_argument("--no-roofline", action="store_true",
                     help="skip measuring this machine's ceilings (~2 s on the CPU) and the "
                          "roofline columns")
    out = p.add_argument_group("output")
    out.add_argument("--output", metavar="FILE.json",
                     help="write the run as JSON (schema gpulearn-bench/1: machine, CPU, GPU, "
                          "driver, versions, date, every result)")
    out.add_argument("--csv", metavar="FILE.csv", help="write one line per result as CSV")
    out.add_argument("--plot", metavar="FILE.png",
                     help="draw the speedups over scikit-learn (needs matplotlib)")
    out.add_argument("--progress", choices=("auto", "bar", "lines", "off"), default="auto",
                     help="progress on stderr: a bar on a terminal, one line per run in a log "
                          "(default: auto)")
    out.add_argument("-q", "--quiet", action="store_true",
                     help="no progress, no machine description: the table and the summary only")
    out.add_argument("--list", action="store_true",
                     help="list the algorithms, their suite sizes and the backends usable here, "
                          "then exit")
    return p


def _select_backends(text, view="default", everything=False):
    """(the usable backends asked for, scikit-learn first; the status of each asked for).
    ``everything``: every known backend (for --list)."""
    if text is not None and view != "default":
        raise UsageError(f"--view {view} runs its own backends: give --backends or --view, "
                         "not both")
    if everything:
        names = list(_backends.BACKENDS)
    elif text is not None:
        names = _split(text)
        unknown = [n for n in names if n not in _backends.BACKENDS]
        if unknown:
            raise UsageError(f"unknown backend(s) {', '.join(unknown)}; known: "
                             f"{', '.join(_backends.BACKENDS)}")
    elif VIEWS[view] is not None:
        names = list(VIEWS[view])
    else:
        names = [name for name, b in _backends.BACKENDS.items() if b.default]
    names = ["sklearn"] + [n for n in names if n != "sklearn"]
    usable, status = [], {}
    for name in names:
        backend = _backends.BACKENDS[name]
        reason = backend.unavailable()
        status[name] = {"label": backend.label, "available": reason is None, "reason": reason}
        if reason is None:
            usable.append(backend)
    return usable, status


def _print_list(registry, status):
    print("algorithms (name: estimator, timed method; sizes per suite):")
    for a in registry.values():
        print(f"  {a.name}: {a.estimator}, {a.method}; quality {a.quality.name}")
        for suite in SUITES:
            sizes = ", ".join(f"{compact(s.rows)}x{s.cols} {s.dtype}" for s in a.sizes[suite])
            print(f"      {suite}: {sizes}")
    print("backends:")
    for name, s in status.items():
        asked = "" if _backends.BACKENDS[name].default else " (only by name or --view accel)"
        print(f"  {name:<14}" + ("usable" if s["available"] else f"skipped: {s['reason']}")
              + asked)


def _check_writable(paths):
    for option, path in paths:
        if path is None:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise UsageError(f"{option} {path}: the folder {folder} does not exist")
        if not os.access(folder, os.W_OK) or (os.path.exists(path)
                                               and not os.access(path, os.W_OK)):
            raise UsageError(f"{option} {path}: not writable")


def _measure_ceilings(gpu_wanted, cupy_reason):
    """(ceilings by device, why the GPU has none or None)."""
    ceilings = {"cpu": _roofline.measure_cpu()}
    if not gpu_wanted:
        return ceilings, None
    if cupy_reason is not None:
        return ceilings, cupy_reason
    try:
        ceilings["cuda"] = _roofline.measure_gpu()
    except Exception as exc:  # a small or busy GPU: the run goes on without its roofline
        return ceilings, f"measuring the GPU failed: {type(exc).__name__}: {exc}"
    return ceilings, None


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.repeats < 1:
            raise UsageError("--repeats must be at least 1")
        if args.warmup < 0:
            raise UsageError("--warmup must be at least 0")
        registry = algorithms()
        backends, status = _select_backends(args.backends, args.view, everything=args.list)
        if args.list:
            _print_list(registry, status)
            return 0
        cases = build_cases(args, registry)
        _check_writable([("--output", args.output), ("--csv", args.csv), ("--plot", args.plot)])
        if args.plot:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                raise UsageError("--plot needs matplotlib (pip install matplotlib)") from None
    except UsageError as exc:
        parser.error(str(exc))  # exits with status 2

    labels = {name: s["label"] for name, s in status.items()}
    gpu_wanted = any(b.gpu for b in backends)
    cupy_reason = _backends.cupy_reason() if gpu_wanted else "no GPU backend runs"
    machine = _machine.machine_info()
    say = (lambda *a: None) if args.quiet else print  # noqa: E731
    gpus = "; ".join(f"{g['name']} ({g['memory']}, driver {g['driver']})"
                     for g in machine["gpus"]) or "none"
    say(f"gpulearn-bench | {machine['date']} | {machine['cpu']}, {machine['cpu_count']} threads "
        f"| GPU: {gpus}")
    ceilings = {}
    if not args.no_roofline:
        ceilings, no_gpu_roofline = _measure_ceilings(gpu_wanted, cupy_reason)
        for c in ceilings.values():
            say(f"ceilings {c.describe()}")
        if no_gpu_roofline:
            say(f"no GPU roofline: {no_gpu_roofline}")
    for s in status.values():
        if not s["available"]:
            say(f"skipped backend {s['label']}: {s['reason']}")
    say()

    progress = Progress(0, "off" if args.quiet else args.progress)
    records = []

    def show(case, case_records):
        records.extend(case_records)
        progress.clear()
        print(_report.case_table(case, case_records, labels) + "\n", flush=True)

    runner = Runner(backends, repeats=args.repeats, warmup=args.warmup, seed=args.seed,
                    ceilings=ceilings, progress=progress, on_case_done=show,
                    device_data_reason=cupy_reason)
    progress.total = max(runner.steps(cases), 1)
    complete = False
    try:
        runner.run(cases)
        complete = True
    except KeyboardInterrupt:
        print(f"\ninterrupted: {len(records)} finished runs are reported and written",
              file=sys.stderr)
    finally:
        progress.clear()
        settings = {k: v for k, v in vars(args).items() if k != "list"}
        settings.update(argv=list(sys.argv[1:] if argv is None else argv))
        doc = _report.document(machine, _machine.versions(), settings, ceilings, status,
                               records, complete)
        _summarise(doc, records, args, labels)
    return _report.exit_status(records) if complete else 130


def _summarise(doc, records, args, labels):
    own, flagged, peers = _report.failures(records)
    fell_back = doc["summary"]["accel_fallbacks"]
    print(f"{len(records)} runs: {len(own)} gpulearn error(s), {len(flagged)} quality figure(s) "
          f"outside tolerance (marked !), {len(peers)} peer error(s)"
          + (f", {len(fell_back)} accelerated run(s) fell back to scikit-learn"
             if any("accel" in r for r in records) else ""))
    for title, items in (("gpulearn errors", doc["summary"]["gpulearn_errors"]),
                         ("outside tolerance", doc["summary"]["quality_outside_tolerance"]),
                         ("peer errors", doc["summary"]["peer_errors"]),
                         ("fell back to scikit-learn", fell_back)):
        for item in items:
            print(f"  {title}: {item}")
    if args.output:
        _report.write_json(doc, args.output)
        print(f"wrote {args.output}")
    if args.csv:
        _report.write_csv(records, args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        try:
            _report.write_plot(records, labels, args.plot)
            print(f"wrote {args.plot}")
        except ValueError as exc:
            print(f"no plot: {exc}", file=sys.stderr)
