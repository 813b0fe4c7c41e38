"""scikit-learn's own tests for the estimators gpulearn.accel takes over, run twice: on plain
scikit-learn, and under the accelerator (``pytest -p gpulearn.accel``). What passes on plain
scikit-learn must pass under the accelerator, but for the entries of xfail.txt (deliberate
differences, each with its reason). scripts/sklearn-upstream-tests is the command; see --help.

The tests are those shipped inside the installed scikit-learn (MODULES), run from a scratch
directory with the installed package as rootdir, so node ids read
``sklearn/linear_model/tests/test_ridge.py::test_name[params]``. Outcomes come from each run's
--junitxml; upstream_plugin.py (loaded into both runs) selects the quick subset and, under the
accelerator, records per test how many estimator calls ran on gpulearn or fell back.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
from upstream_plugin import compile_patterns, read_patterns  # noqa: E402

#: scikit-learn's test modules for the 13 accelerated estimators (paths inside sklearn/).
MODULES = (
    "linear_model/tests",
    "cluster/tests/test_k_means.py",
    "decomposition/tests/test_pca.py",
    "decomposition/tests/test_truncated_svd.py",
    "ensemble/tests/test_forest.py",
    "neighbors/tests/test_neighbors.py",
)
XFAIL = HERE / "xfail.txt"
QUICK = HERE / "quick.txt"
DOC = REPO / "docs" / "accel-sklearn-tests.md"
ESTIMATORS = ("LinearRegression", "Ridge", "Lasso", "ElasticNet", "LogisticRegression",
              "KMeans", "PCA", "TruncatedSVD", "NearestNeighbors", "KNeighborsClassifier",
              "KNeighborsRegressor", "RandomForestClassifier", "RandomForestRegressor")


# ---- running pytest ------------------------------------------------------------------------

def sklearn_dir():
    import sklearn
    return Path(sklearn.__file__).resolve().parent


def run_pytest(label, out, accel, jobs, select=None, extra=()):
    """Run scikit-learn's tests once; (junit xml path, seconds, return code)."""
    sk = sklearn_dir()
    out = Path(out).resolve()  # pytest runs in a scratch directory
    xml = out / f"{label}.xml"
    log = out / f"{label}.log"
    profile_dir = out / f"{label}-profile"
    shutil.rmtree(profile_dir, ignore_errors=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    for var in ("GPULEARN_ACCEL", "GPULEARN_UPSTREAM_SELECT", "GPULEARN_UPSTREAM_PROFILE_DIR"):
        env.pop(var, None)
    if select:
        env["GPULEARN_UPSTREAM_SELECT"] = str(select)
    modules = MODULES
    if select:  # collect only the files the selection names (collecting costs seconds each)
        modules = sorted({p.split("::")[0].removeprefix("sklearn/")
                          for p, _, _ in read_patterns(select) if not p.startswith("-")})
    cmd = [sys.executable, "-m", "pytest", *[str(sk / m) for m in modules],
           "--rootdir", str(sk.parent), "-o", "addopts=", "-p", "no:cacheprovider",
           "-p", "upstream_plugin", "-q", "-rN", "--junitxml", str(xml)]
    if jobs > 1:
        cmd += ["-n", str(jobs)]
    if accel:
        profile_dir.mkdir(parents=True)
        env["GPULEARN_UPSTREAM_PROFILE_DIR"] = str(profile_dir)
        cmd += ["-p", "gpulearn.accel"]
    cmd += list(extra)
    print(f"== {label}: {' '.join(cmd)}", flush=True)
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch, open(log, "w") as f:
        proc = subprocess.run(cmd, cwd=scratch, env=env, stdout=f, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    tail = log.read_text().strip().splitlines()[-1:] or [""]
    print(f"   {tail[0]}  ({seconds:.0f} s; log {log})", flush=True)
    if proc.returncode not in (0, 1) or not xml.exists():
        sys.exit(f"{label}: pytest exited {proc.returncode} (not a test failure); see {log}")
    return xml, seconds, proc.returncode


# ---- reading outcomes ----------------------------------------------------------------------

def read_junit(xml):
    """{nodeid: outcome}, outcome one of passed, failed, skipped, xfailed."""
    sk = sklearn_dir()
    outcomes = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        nodeid = _nodeid(sk, case.get("classname", ""), case.get("name", ""))
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            outcome = "failed"
        elif "skipped" in kinds:
            skip = case.find("skipped")
            outcome = "xfailed" if skip.get("type") == "pytest.xfail" else "skipped"
        else:
            outcome = "passed"
        # a test whose call passed and whose teardown errored appears twice: worst wins
        if outcomes.get(nodeid) != "failed":
            outcomes[nodeid] = outcome
    return outcomes


_files = {}


def _nodeid(sk, classname, name):
    """junit's dotted classname (module path, then classes) back to pytest's node id."""
    parts = classname.split(".")
    if parts and parts[0] != "sklearn":
        parts = ["sklearn", *parts]
    for cut in range(len(parts), 0, -1):
        key = tuple(parts[:cut])
        if key not in _files:
            _files[key] = (sk.parent.joinpath(*key[:-1], key[-1] + ".py")).is_file()
        if _files[key]:
            return "::".join(["/".join(key) + ".py", *parts[cut:], name])
    return "::".join([classname, name])


def module_of(nodeid):
    return nodeid.split("::", 1)[0]


def read_profiles(profile_dir):
    tests, rows = {}, defaultdict(lambda: [0, 0.0])
    for path in sorted(Path(profile_dir).glob("profile-*.json")):
        data = json.loads(path.read_text())
        tests.update(data["tests"])
        for r in data["rows"]:
            row = rows[(r["estimator"], r["method"], r["where"], r["reason"])]
            row[0] += r["calls"]
            row[1] += r["seconds"]
    return tests, rows


# ---- comparing -----------------------------------------------------------------------------

def compare(plain, accel, xfail_entries, quick):
    """The report's figures. ``plain`` None (quick mode): every test of ``accel`` that did not
    fail counts as passing on plain scikit-learn, and skips under the accelerator are fine."""
    regexes = [(compile_patterns([p]), p, reason) for p, reason, _ in xfail_entries]
    if plain is None:
        baseline = {t for t, o in accel.items() if o in ("passed", "failed")}
        lost = {t: o for t, o in accel.items() if o == "failed"}
        passed = {t for t in baseline if t not in lost}
    else:
        baseline = {t for t, o in plain.items() if o == "passed"}
        lost = {t: accel.get(t, "not run") for t in baseline if accel.get(t) != "passed"}
        passed = baseline - set(lost)
    expected, unexpected = {}, {}
    matched = defaultdict(lambda: [0, 0])  # pattern -> [tests lost, tests passing]
    for t in sorted(baseline):
        hit = next(((p, reason) for rx, p, reason in regexes if rx.match(t)), None)
        if hit is None:
            if t in lost:
                unexpected[t] = lost[t]
            continue
        if t in lost:
            expected[t] = (lost[t], hit[1])
            matched[hit[0]][0] += 1
        else:
            matched[hit[0]][1] += 1
    now_pass = [p for p, _, _ in xfail_entries if matched[p][1] and not matched[p][0]]
    stale = [p for p, _, _ in xfail_entries if p not in matched]
    return dict(baseline=baseline, passed=passed, expected=expected, unexpected=unexpected,
                now_pass=now_pass, unmatched=stale, matched=matched)


def per_module(result, plain, accel):
    modules = defaultdict(Counter)
    for t in result["baseline"]:
        m = modules[module_of(t)]
        m["plain passed"] += 1
        m["accel passed"] += t in result["passed"]
        m["xfailed"] += t in result["expected"]
        m["unexpected"] += t in result["unexpected"]
    if plain is not None:
        for t, o in plain.items():
            modules[module_of(t)]["plain " + o] += o != "passed"
    return modules


# ---- reporting -----------------------------------------------------------------------------

def rate(n, d):
    return f"{100.0 * n / d:.1f}%" if d else "n/a"


def summarize_calls(rows):
    """(calls on gpulearn, calls fallen back, per-estimator dict, fallback reasons Counter)."""
    on = back = 0
    per = defaultdict(lambda: [0, 0])
    reasons = Counter()
    for (est, method, where, reason), (calls, _) in rows.items():
        if reason is None:
            on += calls
            per[est][0] += calls
        else:
            back += calls
            per[est][1] += calls
            reasons[_reason_class(reason)] += calls
    return on, back, per, reasons


def raised_in(tests_profile):
    """[(reason class, [tests])] where gpulearn raised, most tests first."""
    by = defaultdict(list)
    for test, entry in sorted(tests_profile.items()):
        for reason in entry.get("raised", ()):
            by[_reason_class(reason)].append(test)
    return sorted(by.items(), key=lambda kv: -len(kv[1]))


def _reason_class(reason):
    """A fallback reason with its specifics (numbers, array reprs) blurred, to group them."""
    text = re.sub(r"array\(.*", "array(...)", reason)
    text = re.sub(r"\b\d+(\.\d+)?(e-?\d+)?\b", "N", text)
    return text[:160]


def print_report(result, modules, tests_profile, rows, seconds, quick):
    print()
    header = ("module", "plain passed", "accel passed", "xfailed", "unexpected")
    lines = [header]
    for m in sorted(modules):
        c = modules[m]
        lines.append((m, str(c["plain passed"]), str(c["accel passed"]), str(c["xfailed"]),
                      str(c["unexpected"])))
    widths = [max(len(line[i]) for line in lines) for i in range(5)]
    for line in lines:
        print("  ".join([line[0].ljust(widths[0])] +
                        [line[i].rjust(widths[i]) for i in range(1, 5)]))
    n, p = len(result["baseline"]), len(result["passed"])
    what = "tests not failing under the accelerator" if quick else "tests passing on plain scikit-learn"
    print(f"\n{n} {what}; {p} pass under gpulearn.accel ({rate(p, n)}); "
          f"{len(result['expected'])} expected failures (xfail.txt), "
          f"{len(result['unexpected'])} unexpected.")
    on, back, per, reasons = summarize_calls(rows)
    if on + back:
        reached = sum(1 for t in result["baseline"] if tests_profile.get(t, {}).get("gpulearn"))
        print(f"Estimator calls under the accelerator: {on} ran on gpulearn, {back} fell back "
              f"to scikit-learn ({rate(on, on + back)} on gpulearn); {reached} of the {n} tests "
              "made at least one call that ran on gpulearn.")
        never = [e for e in ESTIMATORS if not per[e][0]]
        print("Per estimator (on gpulearn / fell back): " + ", ".join(
            f"{e} {per[e][0]}/{per[e][1]}" for e in ESTIMATORS))
        if never:
            print("NEVER ran on gpulearn: " + ", ".join(never))
        print("Most common fallback reasons (calls):")
        for reason, calls in reasons.most_common(12):
            print(f"  {calls:6d}  {reason}")
        raised = raised_in(tests_profile)
        if raised:
            print("gpulearn raised (then scikit-learn answered), by reason: tests, one of them:")
            for reason, tests in raised[:10]:
                print(f"  {len(tests):5d}  {reason[:150]}\n         e.g. {tests[0]}")
    if result["expected"]:
        print(f"\nExpected failures: {len(result['expected'])} tests "
              f"({sum(1 for v in result['matched'].values() if v[0])} xfail entries).")
    if result["now_pass"]:
        print("\nxfail entries whose tests all pass now (remove them):")
        for p in result["now_pass"]:
            print(f"  {p}")
    if result["unmatched"] and not quick:
        print("\nxfail entries that match no test passing on plain scikit-learn:")
        for p in result["unmatched"]:
            print(f"  {p}")
    if result["unexpected"]:
        print("\nUNEXPECTED failures (pass on plain scikit-learn, not under the accelerator):")
        for t, o in sorted(result["unexpected"].items()):
            print(f"  {t}  ({o})")
    print("\nTimes: " + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()))


def write_doc(result, modules, rows, tests_profile, seconds, xfail_entries, note):
    import sklearn
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import gpulearn
    n, p = len(result["baseline"]), len(result["passed"])
    on, back, per, reasons = summarize_calls(rows)
    reached = sum(1 for t in result["baseline"] if tests_profile.get(t, {}).get("gpulearn"))
    out = [
        "# scikit-learn's own tests under gpulearn.accel",
        "",
        "scikit-learn's test modules for the 13 accelerated estimators, from the installed",
        "scikit-learn, run twice: plain, and under `pytest -p gpulearn.accel`. Every test that",
        "passes on plain scikit-learn must pass under the accelerator, but for the entries of",
        "[tests/sklearn_upstream/xfail.txt](../tests/sklearn_upstream/xfail.txt) (deliberate",
        "differences, each with its reason). Made by `scripts/sklearn-upstream-tests` (full mode);",
        "`scripts/test` runs its `--quick` subset.",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {os.cpu_count()} cores (`nproc` {_nproc()}), {cpu}, {platform.system()} "
        f"{platform.machine()}; gpulearn device: {_device_words(rows)}",
        f"- versions: scikit-learn {sklearn.__version__}, gpulearn {gpulearn.__version__} at "
        f"commit {commit}{' (with uncommitted changes)' if dirty else ''}, Python "
        f"{platform.python_version()}",
        f"- gpulearn imported from {Path(gpulearn.__file__).parent}",
        "- times (pytest-xdist, 2 workers): " + ", ".join(f"{k} {v / 60:.1f} min"
                                                          for k, v in seconds.items()),
        *([f"- note: {note}"] if note else []),
        "",
        f"**{p} of the {n} tests that pass on plain scikit-learn pass under the accelerator "
        f"({rate(p, n)})**; {len(result['expected'])} are expected failures (xfail.txt), "
        f"{len(result['unexpected'])} unexpected.",
        "",
        f"Estimator calls under the accelerator: {on} ran on gpulearn, {back} fell back to "
        f"scikit-learn ({rate(on, on + back)} on gpulearn); {reached} of the {n} tests made at "
        "least one call that ran on gpulearn (the others use the estimators in ways that fall "
        "back, such as sparse input or a solver gpulearn lacks, or test other estimators of "
        "the same modules).",
        "",
        "| module | plain passed | accel passed | xfailed | unexpected | plain: skipped / failed / xfailed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in sorted(modules):
        c = modules[m]
        out.append(f"| {m.removeprefix('sklearn/')} | {c['plain passed']} | {c['accel passed']} "
                   f"| {c['xfailed']} | {c['unexpected']} | {c['plain skipped']} / "
                   f"{c['plain failed']} / {c['plain xfailed']} |")
    t = Counter()
    for c in modules.values():
        t.update(c)
    out.append(f"| **total** | {t['plain passed']} | {t['accel passed']} | {t['xfailed']} | "
               f"{t['unexpected']} | {t['plain skipped']} / {t['plain failed']} / "
               f"{t['plain xfailed']} |")
    out += ["", "Calls per estimator (all methods):", "",
            "| estimator | on gpulearn | fell back |", "|---|---:|---:|"]
    for e in ESTIMATORS:
        out.append(f"| {e} | {per[e][0]} | {per[e][1]} |")
    out += ["", "The most common fallback reasons (calls):", ""]
    for reason, calls in reasons.most_common(15):
        out.append(f"- {calls}: {reason.replace('|', '/')}")
    raised = raised_in(tests_profile)
    if raised:
        out += ["", "Where gpulearn raised on what it was given (scikit-learn then answered; each "
                "is acceleration lost, and may hide a bug): tests, one of them.", ""]
        for reason, tests in raised[:15]:
            out.append(f"- {len(tests)}: {reason.replace('|', '/')} (e.g. `{tests[0]}`)")
    if result["unexpected"]:
        out += ["", "## Unexpected failures", ""]
        for test, outcome in sorted(result["unexpected"].items()):
            out.append(f"- `{test}` ({outcome})")
    out += ["", "## Expected failures (xfail.txt)", "",
            "| pattern | tests | reason |", "|---|---:|---|"]
    for pattern, reason, _ in xfail_entries:
        lost, _passing = result["matched"].get(pattern, (0, 0))
        out.append(f"| `{pattern}` | {lost} | {reason.replace('|', '/')} |")
    DOC.write_text("\n".join(out) + "\n")
    print(f"wrote {DOC}")


def _nproc():
    try:
        return subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def _device_words(rows):
    wheres = Counter()
    for (_, _, where, reason), (calls, _) in rows.items():
        if reason is None:
            wheres[where] += calls
    return ", ".join(w.removeprefix("gpulearn ") for w, _ in wheres.most_common()) or "none"


# ---- main ----------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="scripts/sklearn-upstream-tests",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="only the tests of quick.txt (a few minutes), only under the "
                             "accelerator: what CI runs")
    parser.add_argument("--reuse-plain", action="store_true",
                        help="full mode: reuse the plain run of an earlier invocation "
                             "(OUT/plain.xml) instead of running it again")
    parser.add_argument("--report-only", action="store_true",
                        help="full mode: run nothing; report (and rewrite the doc) from the "
                             "runs an earlier invocation left in OUT (after editing xfail.txt)")
    parser.add_argument("-n", "--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="pytest-xdist workers (default 2)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "sklearn-upstream",
                        help="where the junit files, logs and profiles go")
    parser.add_argument("--no-doc", action="store_true",
                        help=f"full mode: do not rewrite {DOC.relative_to(REPO)}")
    parser.add_argument("--note", default="",
                        help="full mode: a line for the doc (what was installed, if unusual)")
    parser.add_argument("pytest_args", nargs="*",
                        help="after --: more pytest arguments for both runs (e.g. -k ridge)")
    ns = parser.parse_args(argv)
    ns.out.mkdir(parents=True, exist_ok=True)
    xfail_entries = read_patterns(XFAIL)
    for pattern, reason, line in xfail_entries:
        if not reason:
            sys.exit(f"{XFAIL}:{line}: `{pattern}` has no reason (`test id  # reason`)")
    seconds = {}
    if ns.quick:
        xml, seconds["accelerated"], _ = run_pytest("quick-accel", ns.out, True, ns.jobs,
                                                    select=QUICK, extra=ns.pytest_args)
        plain, label = None, "quick-accel"
    else:
        plain_xml = ns.out / "plain.xml"
        for label, accelerated in (("plain", False), ("accel", True)):
            xml = ns.out / f"{label}.xml"
            took = ns.out / f"{label}.seconds"
            reuse = ns.report_only or (ns.reuse_plain and not accelerated)
            if not (reuse and xml.exists()):
                xml, spent, _ = run_pytest(label, ns.out, accelerated, ns.jobs,
                                           extra=ns.pytest_args)
                took.write_text(f"{spent:.1f}\n")
            if took.exists():
                seconds[label] = float(took.read_text())
        plain = read_junit(ns.out / "plain.xml")
        xml = ns.out / "accel.xml"
    accel = read_junit(xml)
    tests_profile, rows = read_profiles(ns.out / f"{label}-profile")
    result = compare(plain, accel, xfail_entries, ns.quick)
    modules = per_module(result, plain, accel)
    print_report(result, modules, tests_profile, rows, seconds, ns.quick)
    summary = {k: (sorted(v) if isinstance(v, set) else v) for k, v in result.items()}
    summary["seconds"] = seconds
    (ns.out / f"{label}-summary.json").write_text(json.dumps(summary, indent=1, default=list))
    if not ns.quick and not ns.no_doc and not ns.pytest_args:
        write_doc(result, modules, rows, tests_profile, seconds, xfail_entries, ns.note)
    failed = bool(result["unexpected"])
    if ns.quick:
        on, _, per, _ = summarize_calls(rows)
        never = [e for e in ESTIMATORS if not per[e][0]]
        if never:
            print(f"quick: these estimators never ran on gpulearn: {', '.join(never)} "
                  "(the accelerator is not accelerating them)")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
