"""Run at interpreter start by ``gpulearn-accel.pth`` when ``GPULEARN_ACCEL`` is set (and not
"0"): the accelerator for processes that did not ask for it in code (subprocesses, joblib's
workers, ``GPULEARN_ACCEL=1 python script.py``). A failure to start is said, never fatal."""

import sys

try:
    from . import install

    install()
except Exception as exc:  # noqa: BLE001 - the interpreter must start regardless
    sys.stderr.write(f"gpulearn.accel: GPULEARN_ACCEL is set but the accelerator did not "
                     f"start: {type(exc).__name__}: {exc}\n")
