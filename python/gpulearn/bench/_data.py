"""Seeded data for the benchmark cases, drawn with scikit-learn's generators.

Each generator draws the training and held-out rows together in float64 (so float32 and float64
cases of one size see the same numbers, rounded) and returns them split, in the size's dtype.
"""

import numpy as np

from ._registry import Data


def _split(size, X, y):
    X = X.astype(size.dtype, copy=False)
    if y is not None:
        y = y.astype(size.dtype if y.dtype.kind == "f" else y.dtype, copy=False)
    n = size.rows
    return Data(X[:n], None if y is None else y[:n], X[n:], None if y is None else y[n:])


def regression(size, seed, *, noise=1.0, bias=3.0, n_informative=None):
    """make_regression: a linear target of ``n_informative`` features (default all), Gaussian
    noise, and an intercept."""
    from sklearn.datasets import make_regression

    X, y = make_regression(
        n_samples=size.rows + size.n_test, n_features=size.cols,
        n_informative=size.cols if n_informative is None else min(n_informative, size.cols),
        noise=noise, bias=bias, shuffle=False, random_state=seed)
    return _split(size, X, y)


def blobs(size, seed, *, centers=8, cluster_std=1.0):
    """make_blobs: isotropic Gaussian clusters; y holds the cluster of each row."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=size.rows + size.n_test, n_features=size.cols, centers=centers,
                      cluster_std=cluster_std, random_state=seed)
    return _split(size, X, y)


def classification(size, seed, *, n_classes=2, n_informative=None, class_sep=1.0,
                   shuffle=False):
    """make_classification: ``n_classes`` classes on ``n_informative`` features (default half),
    the labels as int64. Unshuffled, make_classification emits its rows cluster by cluster, so
    the held-out rows (the last ones) are nearly all of one class."""
    from sklearn.datasets import make_classification

    informative = max(2, size.cols // 2) if n_informative is None else n_informative
    informative = min(informative, size.cols)
    X, y = make_classification(
        n_samples=size.rows + size.n_test, n_features=size.cols, n_informative=informative,
        n_redundant=0, n_classes=n_classes, class_sep=class_sep, shuffle=shuffle,
        random_state=seed)
    return _split(size, X, y.astype(np.int64))


def low_rank(size, seed, *, rank=32, noise=0.05):
    """Gaussian data with a decaying spectrum: ``rank`` directions with standard deviations
    falling from 10 to 1 (a random orthonormal basis), isotropic noise of ``noise`` on every
    feature, and an offset of 3 (so that centring matters)."""
    rng = np.random.default_rng(seed)
    n, d = size.rows + size.n_test, size.cols
    r = min(rank, d)
    basis, _ = np.linalg.qr(rng.standard_normal((d, r)))
    scales = np.geomspace(10.0, 1.0, r)
    X = (rng.standard_normal((n, r)) * scales) @ basis.T
    X += noise * rng.standard_normal((n, d))
    X += 3.0
    return _split(size, X, None)


def tfidf(size, seed, *, density=0.001, n_classes=2, zipf=1.0):
    """TF-IDF-like sparse data (scipy CSR, the size's dtype): documents of Poisson(density d)
    term draws, terms drawn with Zipf-like popularity p_j ~ 1 / (j + 10)^zipf (repeated draws
    of a term in a document add up to its count), then scikit-learn's TfidfTransformer (l2 rows).
    y: ``n_classes`` classes cut at the quantiles of a planted sparse linear score (a tenth of
    the terms carry weight), as int64; None when n_classes is 0."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(seed)
    n, d = size.rows + size.n_test, size.cols
    per_row = np.maximum(1, rng.poisson(density * d, n))
    rows = np.repeat(np.arange(n, dtype=np.int64), per_row)
    popularity = 1.0 / (np.arange(d) + 10.0) ** zipf
    cdf = np.cumsum(popularity)
    terms = np.searchsorted(cdf, rng.random(rows.size) * cdf[-1]).astype(np.int64)
    terms = rng.permutation(d)[np.minimum(terms, d - 1)]  # popular terms anywhere, not first
    counts = sparse.csr_matrix((np.ones(rows.size), (rows, terms)), shape=(n, d))
    counts.sum_duplicates()
    X = TfidfTransformer().fit_transform(counts).tocsr()
    y = None
    if n_classes:
        w = np.where(rng.random(d) < 0.1, rng.standard_normal(d), 0.0)
        score = X @ w + 0.1 * rng.standard_normal(n)
        cuts = np.quantile(score, np.arange(1, n_classes) / n_classes)
        y = np.searchsorted(cuts, score).astype(np.int64)
    X = X.astype(size.dtype)
    m = size.rows
    return Data(X[:m], None if y is None else y[:m], X[m:], None if y is None else y[m:])
