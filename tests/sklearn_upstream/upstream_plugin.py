"""The pytest plugin run.py loads into scikit-learn's own test session (``-p upstream_plugin``,
in every xdist worker too). Two jobs, each off unless its environment variable is set:

- ``GPULEARN_UPSTREAM_SELECT=file``: keep only the tests whose node id matches a pattern of
  the file and no ``-pattern`` of it (one a line, ``*`` a wildcard, ``# ...`` a comment): the
  quick subset.
- ``GPULEARN_UPSTREAM_PROFILE_DIR=dir`` (the accelerated run): around each test, open a
  ``gpulearn.accel.profile()``; at the end of the session write ``dir/profile-<worker>.json``:

      {"tests": {nodeid: {"gpulearn": calls, "fallback": calls,    # tests with any call
                          "raised": [reasons where gpulearn raised, if any]}},
       "rows": [the profile's rows summed over the session]}

  so that the report can say how many estimator calls ran on gpulearn, why the others fell
  back, and which tests never reached gpulearn at all.
"""

import json
import os
import re

import pytest

_tests = {}
_rows = {}


def compile_patterns(patterns):
    """One regex for node-id patterns where ``*`` is the only wildcard (``[`` is literal:
    parametrisations are in brackets)."""
    if not patterns:
        return re.compile(r"(?!)")
    return re.compile("|".join("(?:" + ".*".join(map(re.escape, p.split("*"))) + ")\\Z"
                               for p in patterns))


def read_patterns(path):
    """(pattern, reason) per non-comment line of ``path``: ``pattern  # reason``."""
    entries = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            pattern, _, reason = text.partition(" #")
            entries.append((pattern.strip(), reason.strip(), number))
    return entries


def pytest_collection_modifyitems(config, items):
    select = os.environ.get("GPULEARN_UPSTREAM_SELECT")
    if not select:
        return
    patterns = [p for p, _, _ in read_patterns(select)]
    keep = compile_patterns([p for p in patterns if not p.startswith("-")])
    drop = compile_patterns([p[1:] for p in patterns if p.startswith("-")])
    kept, dropped = [], []
    for item in items:
        wanted = keep.match(item.nodeid) and not drop.match(item.nodeid)
        (kept if wanted else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if not os.environ.get("GPULEARN_UPSTREAM_PROFILE_DIR"):
        yield
        return
    import gpulearn.accel

    with gpulearn.accel.profile(print_report=False) as prof:
        yield
    rows = prof.rows
    if not rows:
        return
    on_gpulearn = sum(r["calls"] for r in rows if r["reason"] is None)
    total = sum(r["calls"] for r in rows)
    entry = {"gpulearn": on_gpulearn, "fallback": total - on_gpulearn}
    raised = sorted({r["reason"] for r in rows if (r["reason"] or "").startswith("gpulearn raised")})
    if raised:  # gpulearn failed on input it was given (not a refusal by the dispatch rules)
        entry["raised"] = raised
    _tests[item.nodeid] = entry
    for r in rows:
        key = (r["estimator"], r["method"], r["where"], r["reason"])
        calls, seconds = _rows.get(key, (0, 0.0))
        _rows[key] = (calls + r["calls"], seconds + r["seconds"])


def pytest_sessionfinish(session):
    out = os.environ.get("GPULEARN_UPSTREAM_PROFILE_DIR")
    if not out:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    rows = [dict(estimator=k[0], method=k[1], where=k[2], reason=k[3], calls=v[0], seconds=v[1])
            for k, v in _rows.items()]
    with open(os.path.join(out, f"profile-{worker}.json"), "w") as f:
        json.dump({"tests": _tests, "rows": rows}, f)
