"""Seeded data shared by the test modules (pytest puts this folder on sys.path)."""

import numpy as np

# Seeds are fixed and recorded so any failure replays exactly; data is never all zeros.
SEED = 20240607


def make_regression_data(rng, n_samples=120, n_features=6, n_targets=None, noise=0.1,
                         dtype=np.float64):
    """Well-conditioned Gaussian X and a linear y with an intercept and a little noise.

    Returns ``(X, y)``; y is 1-D when ``n_targets`` is None, else (n_samples, n_targets).
    """
    X = rng.normal(size=(n_samples, n_features)) * rng.uniform(0.5, 2.0, size=n_features)
    X += rng.normal(size=n_features)
    shape = (n_features,) if n_targets is None else (n_features, n_targets)
    coef = rng.normal(size=shape)
    intercept = rng.normal(size=() if n_targets is None else (n_targets,))
    y = X @ coef + intercept + noise * rng.normal(size=(n_samples,) + shape[1:])
    return X.astype(dtype), y.astype(dtype)


# Python source for a child process that measures its own peak memory: status(key) reads
# /proc/self/status in bytes, reset_peak() sets VmHWM to the current RSS (ru_maxrss cannot be
# reset, and a child started from a large pytest worker inherits its peak through fork and exec).
# The sparse memory tests prepend it to their child scripts.
PEAK_PROBE = '''
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
'''
