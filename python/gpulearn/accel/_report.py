"""What the accelerator did: the dispatch log and the profile.

Each dispatched call is one record: estimator class, method, where it ran ("gpulearn cpu",
"gpulearn cuda:0" or "scikit-learn"), its time, and for scikit-learn the reason. The records
are kept only while a profile is open (``profile()``, ``--profile``) and logged only while the
"gpulearn.accel" logger takes INFO (``-v``, ``GPULEARN_ACCEL_LOG=info``), so that neither costs
anything otherwise.
"""

import logging
import os
import sys
import threading
from collections import defaultdict

logger = logging.getLogger("gpulearn.accel")

_lock = threading.Lock()
_profiles = []  # the open profiles, innermost last


def active():
    """Whether a call's decision must be recorded (a profile is open or INFO is logged)."""
    return bool(_profiles) or logger.isEnabledFor(logging.INFO)


def record(name, method, where, seconds, reason=None, note=None):
    """One call: ``where`` it ran, ``reason`` it fell back (None: it did not), and ``note``,
    what gpulearn ran where the user named no algorithm."""
    with _lock:
        for prof in _profiles:
            prof._add(name, method, where, seconds, reason, note)
    if logger.isEnabledFor(logging.INFO):
        if reason is None:
            logger.info("%s.%s: %s%s (%.3f ms)", name, method, where,
                        f" [{note}]" if note else "", seconds * 1e3)
        else:
            logger.info("%s.%s: scikit-learn, because %s (%.3f ms)", name, method, reason,
                        seconds * 1e3)


class Profile:
    """The calls made while it is open: one row per (estimator, method, where, reason).

    ``rows`` lists them as dicts (estimator, method, where, reason, calls, seconds, note);
    ``report()`` is the table printed when the profile closes.
    """

    def __init__(self, file=None, print_report=True):
        self._file = file
        self._print = print_report
        self._rows = defaultdict(lambda: [0, 0.0, None])

    def _add(self, name, method, where, seconds, reason, note):
        row = self._rows[(name, method, where, reason)]
        row[0] += 1
        row[1] += seconds
        row[2] = note

    @property
    def rows(self):
        with _lock:
            items = list(self._rows.items())
        return [dict(estimator=k[0], method=k[1], where=k[2], reason=k[3], calls=v[0],
                     seconds=v[1], note=v[2]) for k, v in items]

    def report(self):
        rows = sorted(self.rows, key=lambda r: (r["estimator"], r["method"], r["where"]))
        if not rows:
            return "gpulearn.accel profile: no accelerated estimator was called.\n"
        header = ("estimator", "method", "calls", "total", "ran on")
        table = [header] + [
            (r["estimator"], r["method"], str(r["calls"]), _seconds(r["seconds"]),
             r["where"] + (f" ({r['reason']})" if r["reason"] else "")
             + (f" [{r['note']}]" if r["note"] else "")) for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(4)]
        lines = ["gpulearn.accel profile"]
        for row in table:
            cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                     row[2].rjust(widths[2]), row[3].rjust(widths[3]), row[4]]
            lines.append("  ".join(cells))
        fell_back = sum(r["calls"] for r in rows if r["reason"])
        total = sum(r["calls"] for r in rows)
        lines.append(f"{total - fell_back} of {total} calls ran on gpulearn.")
        return "\n".join(lines) + "\n"

    def __enter__(self):
        with _lock:
            _profiles.append(self)
        return self

    def __exit__(self, *exc):
        with _lock:
            _profiles.remove(self)
        if self._print:
            (self._file or sys.stderr).write(self.report())
        return False


def _seconds(s):
    return f"{s * 1e3:.3f} ms" if s < 1 else f"{s:.3f} s"


def configure_logging(level=None):
    """Log dispatch decisions to stderr at ``level`` (default: ``GPULEARN_ACCEL_LOG``)."""
    level = level if level is not None else os.environ.get("GPULEARN_ACCEL_LOG", "")
    if not level:
        return
    numeric = logging.getLevelName(str(level).upper())
    if not isinstance(numeric, int):
        raise ValueError(f"GPULEARN_ACCEL_LOG={level!r}: use debug, info or warning")
    logger.setLevel(numeric)
    if not any(getattr(h, "_gpulearn_accel", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("gpulearn.accel[%(process)d]: %(message)s"))
        handler._gpulearn_accel = True
        logger.addHandler(handler)
