"""python -m gpulearn.accel [--profile] [-v] [--device D] (script.py | -m module) [args...]"""

import argparse
import os
import runpy
import sys

from . import install, profile


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m gpulearn.accel",
        description="Run an unmodified scikit-learn program with its estimators on gpulearn.")
    parser.add_argument("--profile", action="store_true",
                        help="after the run, print one row per estimator class and method: "
                             "calls, total time, and where they ran")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log each dispatch decision as it happens (stderr)")
    parser.add_argument("--device", default=None,
                        help="where gpulearn computes: auto (default), cpu, cuda or cuda:N")
    parser.add_argument("-m", dest="module", default=None,
                        help="run a module as a script, as python -m does")
    parser.add_argument("args", nargs=argparse.REMAINDER,
                        help="the script and its arguments (or the module's arguments)")
    return parser


def main(argv=None):
    parser = _parser()
    ns = parser.parse_args(argv)
    if ns.module is None and not ns.args:
        parser.error("give a script to run, or -m module")
    install(device=ns.device, log="info" if ns.verbose else None)
    if ns.module is not None:
        sys.argv = [ns.module, *ns.args]
        run = lambda: runpy.run_module(ns.module, run_name="__main__", alter_sys=True)  # noqa
    else:
        sys.argv = list(ns.args)
        sys.path[0] = os.path.dirname(os.path.abspath(ns.args[0]))  # as python script.py
        run = lambda: runpy.run_path(ns.args[0], run_name="__main__")  # noqa
    if not ns.profile:
        run()
        return
    with profile(file=sys.stderr):
        run()


if __name__ == "__main__":
    main()
