"""What a run shows and writes: the table on the terminal, JSON, CSV and the speedup plot."""

import csv
import json
import math
import os

from ._runner import compact

SCHEMA = "gpulearn-bench/1"

_COLUMNS = (("backend", 15, "<"), ("data", 7, "<"), ("fit", 9, ">"), ("±", 5, ">"),
            ("speedup", 8, ">"), ("floor (reached)", 18, ">"), ("{method}", 10, ">"),
            ("±", 5, ">"), ("speedup", 8, ">"), ("floor (reached)", 18, ">"),
            ("{quality}", 12, ">"))


def format_seconds(seconds):
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale or unit == "us":
            value = seconds / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return "-"


def _spread(timing):
    if timing["median_s"] <= 0 or len(timing["times_s"]) < 2:
        return "-"
    return f"{50 * (timing['max_s'] - timing['min_s']) / timing['median_s']:.0f}%"


def _floor(record, phase):
    roof = record["roofline"]
    if not roof:
        return ""
    return f"{format_seconds(roof[phase]['floor_s'])} ({100 * roof[phase]['fraction']:.0f}%)"


def _row(cells):
    return "  " + " ".join(f"{c:{align}{width}}" for c, (_, width, align) in zip(cells, _COLUMNS))


def _signed_seconds(seconds):
    return ("+" if seconds >= 0 else "-") + format_seconds(abs(seconds))


def _phase_names(record):
    return {"fit": "fit", "apply": record["method"]}


def accel_line(record, labels):
    """Under an accelerated backend's row: where its timed calls ran and, per phase that ran
    on gpulearn, its time over gpulearn's called directly; a fallback is said in capitals."""
    accel = record.get("accel")
    if not accel or not accel["ran_on"]:
        return None
    names = _phase_names(record)
    ran, fell = [], []
    for phase in ("fit", "apply"):
        mine = [r for r in accel["ran_on"][phase] if r["method"] == names[phase]]
        where = [f"{r['calls']} on {r['where']}" + (f" ({r['reason']})" if r["reason"] else "")
                 + (f" [{r['note']}]" if r.get("note") else "") for r in mine]
        unseen = len(record[phase]["times_s"]) - sum(r["calls"] for r in mine)
        if unseen > 0:
            where.append(f"{unseen} not seen by the accelerator (scikit-learn's code)")
        (fell if accel["fell_back"][phase] else ran).append(
            f"{names[phase]} {', '.join(where) or 'no call'}")
    parts = []
    if fell:
        parts.append("FELL BACK to scikit-learn, its times are scikit-learn's: "
                     + "; ".join(fell))
    if ran:
        parts.append("ran on: " + "; ".join(ran))
    vs = accel.get("vs_direct") or {}
    compared = [f"{names[p]} {vs[p]:.2f}x ({_signed_seconds(accel['overhead_s'][p])})"
                for p in ("fit", "apply") if vs.get(p) is not None]
    if compared:
        direct = labels.get(accel["direct"], accel["direct"])
        parts.append(f"vs {direct} called directly: {', '.join(compared)}")
    return "      " + " | ".join(parts)


def case_table(case, records, labels):
    """The block of the table for one case: a heading, then one line per backend and data (and
    under an accelerated backend's, where it ran and its overhead over the direct call)."""
    quality = case.algorithm.quality
    heading = [name.format(method=case.algorithm.method, quality=quality.name)
               for name, _, _ in _COLUMNS]
    lines = [case.describe(), _row(heading)]
    for r in records:
        start = [labels.get(r["backend"], r["backend"]), r["data"]]
        if r["status"] != "ok":
            lines.append(_row(start)[:-1].rstrip() + f"  {r['status']}: {r['error']}")
            continue
        speed = dict(r["speedup"] or {})
        fell_back = (r.get("accel") or {}).get("fell_back") or {}
        speed_cells = {phase: "fallback" if fell_back.get(phase) else
                       f"{speed[phase]:.2f}x" if phase in speed else "-"
                       for phase in ("fit", "apply")}
        q = r["quality"]
        flag = " !" if q["within_tolerance"] is False else ""
        lines.append(_row(start + [
            format_seconds(r["fit"]["median_s"]), _spread(r["fit"]), speed_cells["fit"],
            _floor(r, "fit"),
            format_seconds(r["apply"]["median_s"]), _spread(r["apply"]), speed_cells["apply"],
            _floor(r, "apply"),
            ("not finite" if q["value"] is None else f"{q['value']:.6g}") + flag]).rstrip())
        extra = accel_line(r, labels)
        if extra:
            lines.append(extra)
    return "\n".join(lines)


def accel_fallbacks(records):
    """The accelerated runs with a timed phase that fell back to scikit-learn."""
    return [r for r in records if r["status"] == "ok" and r.get("accel")
            and any(r["accel"]["fell_back"].values())]


def failures(records):
    """(errors of gpulearn, quality outside tolerance on any backend, errors of peers)."""
    own = [r for r in records if _is_gpulearn(r) and r["status"] == "error"]
    flagged = [r for r in records
               if r["status"] == "ok" and r["quality"]["within_tolerance"] is False]
    peers = [r for r in records if not _is_gpulearn(r) and r["status"] == "error"]
    return own, flagged, peers


def _is_gpulearn(record):
    return record["gpulearn"]


def exit_status(records):
    """1 when a gpulearn run failed or its quality is outside tolerance, else 0: peers' troubles
    are reported, not ours to fail on."""
    own, flagged, _ = failures(records)
    return 1 if own or any(_is_gpulearn(r) for r in flagged) else 0


def document(machine, versions, settings, ceilings, backends, records, complete=True):
    """The JSON document of a run (schema ``SCHEMA``; see schema.json beside this module)."""
    own, flagged, peers = failures(records)
    key = lambda r: f"{r['algorithm']} {r['rows']}x{r['cols']} {r['dtype']} {r['backend']} " \
                    f"({r['data']})"  # noqa: E731
    return {
        "schema": SCHEMA,
        "machine": machine,
        "versions": versions,
        "settings": settings,
        "ceilings": {name: {"bandwidth_bytes_per_s": c.bandwidth, "gemm_flops_per_s": c.flops,
                            "host_to_device_bytes_per_s": c.h2d, "method": c.method}
                     for name, c in ceilings.items()},
        "backends": backends,
        "results": records,
        "summary": {"runs": len(records), "complete": complete,
                    "gpulearn_errors": [key(r) for r in own],
                    "quality_outside_tolerance": [key(r) for r in flagged],
                    "peer_errors": [key(r) for r in peers],
                    "accel_fallbacks": [
                        key(r) + ": " + ", ".join(_phase_names(r)[p] for p, fell in
                                                  r["accel"]["fell_back"].items() if fell)
                        for r in accel_fallbacks(records)]},
    }


def write_json(doc, path):
    """Writes ``doc`` whole or not at all: serialised first, then renamed into place."""
    text = json.dumps(doc, indent=1, allow_nan=False)
    _replace(path, lambda f: f.write(text))


def _replace(path, write):
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as f:
        write(f)
    os.replace(tmp, path)


CSV_FIELDS = ("algorithm", "estimator", "params", "rows", "cols", "dtype", "test_rows",
              "backend", "gpulearn", "data", "status", "error", "fit_median_s", "fit_min_s", "fit_max_s",
              "method", "apply_median_s", "apply_min_s", "apply_max_s", "quality_metric",
              "quality", "quality_reference", "quality_within_tolerance", "speedup_fit",
              "speedup_apply", "fit_floor_s", "fit_roofline_fraction", "apply_floor_s",
              "apply_roofline_fraction", "accel_fit_ran_on", "accel_apply_ran_on",
              "accel_fit_fell_back", "accel_apply_fell_back", "accel_fit_vs_direct",
              "accel_apply_vs_direct")


def write_csv(records, path):
    _replace(path, lambda f: _write_csv(records, f))


def _write_csv(records, f):
    writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for r in records:
        row = {k: r[k] for k in CSV_FIELDS if k in r}
        row["params"] = json.dumps(r["params"], sort_keys=True)
        for phase in ("fit", "apply"):
            for stat in ("median_s", "min_s", "max_s"):
                row[f"{phase}_{stat}"] = r[phase][stat] if r[phase] else ""
            row[f"speedup_{phase}"] = r["speedup"][phase] if r["speedup"] else ""
            roof = (r["roofline"] or {}).get(phase)
            row[f"{phase}_floor_s"] = roof["floor_s"] if roof else ""
            row[f"{phase}_roofline_fraction"] = roof["fraction"] if roof else ""
        accel = r.get("accel") or {}
        for phase in ("fit", "apply"):
            ran_on = (accel.get("ran_on") or {}).get(phase)
            row[f"accel_{phase}_ran_on"] = json.dumps(ran_on) if ran_on is not None else ""
            row[f"accel_{phase}_fell_back"] = (accel.get("fell_back") or {}).get(phase, "")
            vs = (accel.get("vs_direct") or {}).get(phase)
            row[f"accel_{phase}_vs_direct"] = "" if vs is None else vs
        q = r["quality"] or {}
        row.update(quality_metric=q.get("metric", ""), quality=q.get("value", ""),
                   quality_reference=q.get("reference", ""),
                   quality_within_tolerance=q.get("within_tolerance", ""))
        writer.writerow(row)


def write_plot(records, labels, path):
    """Horizontal bars: each backend's speedup over scikit-learn, fit and the timed method,
    per case, on a log scale (needs matplotlib)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    rows = [r for r in records if r["status"] == "ok" and r["speedup"]
            and r["backend"] != "sklearn"]
    if not rows:
        raise ValueError("nothing to plot: no backend beside scikit-learn gave a result")
    fallen = {id(r) for r in accel_fallbacks(rows)}
    names = [f"{r['algorithm']} {compact(r['rows'])}x{r['cols']} {r['dtype']} | "
             f"{labels.get(r['backend'], r['backend'])} ({r['data']})"
             + (" FELL BACK" if id(r) in fallen else "") for r in rows]
    backends = sorted({r["backend"] for r in rows})
    colours = {b: f"C{i}" for i, b in enumerate(backends)}
    fig = Figure(figsize=(13, 1.5 + 0.32 * len(rows)), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    methods = " / ".join(sorted({r["method"] for r in rows}))
    for ax, phase, title in ((axes[0], "fit", "fit"), (axes[1], "apply", methods)):
        values = [r["speedup"][phase] for r in rows]
        # Bars grow from 1x: right is faster than scikit-learn, left slower.
        ax.barh(range(len(rows)), [v - 1.0 for v in values], left=1.0,
                color=[colours[r["backend"]] for r in rows])
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_title(f"{title}: speedup over scikit-learn")
        ax.set_xlim(min(0.5, min(values) / 1.5), max(2.0, max(values) * 1.5))
        for i, v in enumerate(values):
            ax.annotate(f"{v:.2g}x", (v, i), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=8)
    axes[0].set_yticks(range(len(rows)), names, fontsize=8)
    axes[0].invert_yaxis()
    fig.savefig(path, dpi=120)
