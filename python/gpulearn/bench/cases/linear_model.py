"""Benchmark cases of the linear models: LinearRegression and Ridge on make_regression data;
Lasso, ElasticNet (sparse make_regression) and LogisticRegression (make_classification, 2 and
10 classes), judged by their training objective."""

import numpy as np
from sklearn.metrics import r2_score

from .. import _data
from .._registry import Algorithm, Cost, Quality, Size, register

_R2 = Quality(
    name="R^2",
    score=lambda model, data, output: float(r2_score(data.y_test, output)),
    # R^2 of these fits is ~0.9999; float32 rounding moves it by ~1e-7. A gap of 1e-4 means a
    # wrong solution, not rounding.
    tolerance=1e-4,
)

_SIZES = {
    "quick": [Size(100_000, 100, "float32")],
    "standard": [Size(1_000_000, 100, "float32"), Size(1_000_000, 100, "float64")],
    "full": [Size(1_000_000, 100, "float32"), Size(1_000_000, 100, "float64"),
             Size(10_000_000, 100, "float32"), Size(1_000_000, 1000, "float32"),
             Size(1_000_000, 1000, "float64")],
}


def _cost(phase, size, params, model):
    """Fit: the centred Gram path reads X and y once and does a SYRK (n d^2 FLOPs) and X^T y.
    Predict: reads X once, writes one value per row, 2 n d FLOPs."""
    s = 4 if size.dtype == "float32" else 8
    n, d = size.rows, size.cols
    if phase == "fit":
        moved = (n * d + n) * s
        return Cost(bytes=moved, flops=n * d * d + 2 * n * d, transfer_bytes=moved)
    m = size.n_test
    moved = (m * d + m) * s
    return Cost(bytes=moved, flops=2 * m * d, transfer_bytes=moved)


class LeastSquaresBaseline:
    """What a user would write in an array library: centre, then lstsq (alpha None) or the
    regularised normal equations solved directly. ``xp`` is NumPy or CuPy."""

    def __init__(self, xp, alpha=None, fit_intercept=True):
        self.xp, self.alpha, self.fit_intercept = xp, alpha, fit_intercept

    def fit(self, X, y):
        xp = self.xp
        X, y = xp.asarray(X), xp.asarray(y)
        if self.fit_intercept:
            x_mean, y_mean = X.mean(axis=0), y.mean(axis=0)
            X, y = X - x_mean, y - y_mean
        if self.alpha is None:
            self.coef_ = xp.linalg.lstsq(X, y, rcond=None)[0]
        else:
            gram = X.T @ X + self.alpha * xp.eye(X.shape[1], dtype=X.dtype)
            self.coef_ = xp.linalg.solve(gram, X.T @ y)
        self.intercept_ = y_mean - x_mean @ self.coef_ if self.fit_intercept else 0.0
        return self

    def predict(self, X):
        return self.xp.asarray(X) @ self.coef_ + self.intercept_


def _baseline(alpha_param):
    def make(xp, params):
        known = {"alpha", "fit_intercept"} if alpha_param else {"fit_intercept"}
        unknown = sorted(set(params) - known)
        if unknown:  # a row that silently ignored a swept parameter would mislead
            raise NotImplementedError(f"the CuPy baseline has no parameter {', '.join(unknown)}")
        alpha = params.get("alpha", 1.0) if alpha_param else None
        return LeastSquaresBaseline(xp, alpha=alpha, fit_intercept=params.get("fit_intercept", True))

    return make


for _name, _estimator, _params in [("linear_regression", "LinearRegression", {}),
                                   ("ridge", "Ridge", {"alpha": 1.0})]:
    register(Algorithm(
        name=_name,
        estimator=_estimator,
        gpulearn=f"gpulearn.linear_model.{_estimator}",
        sklearn=f"sklearn.linear_model.{_estimator}",
        data=_data.regression,
        data_key="regression",
        quality=_R2,
        sizes=_SIZES,
        params=_params,
        peers={"sklearnex": f"sklearnex.linear_model.{_estimator}",
               "cuml": f"cuml.linear_model.{_estimator}"},
        baseline=_baseline(alpha_param=_estimator == "Ridge"),
        cost=_cost,
    ))


# ---- Lasso / ElasticNet and LogisticRegression: iterative fits, judged by their objective ----

def _enet_objective(model, data, output):
    """scikit-learn's elastic-net objective at the fitted model, on the training rows."""
    X, y = data.X_train, np.asarray(data.y_train, dtype=np.float64)
    coef = np.asarray(model.coef_, dtype=np.float64)
    r = y - X @ coef - float(np.asarray(model.intercept_))
    alpha, l1_ratio = model.alpha, getattr(model, "l1_ratio", 1.0)
    return float(r @ r / (2 * len(y)) + alpha * l1_ratio * np.abs(coef).sum()
                 + 0.5 * alpha * (1 - l1_ratio) * coef @ coef)


def _logistic_objective(model, data, output):
    """scikit-learn's logistic objective divided by C n_samples (the mean loss plus the scaled
    penalty) at the fitted model, on the training rows, in float64."""
    from scipy.special import logsumexp

    X = data.X_train
    labels = np.searchsorted(model.classes_, data.y_train)
    W = np.asarray(model.coef_, dtype=np.float64)
    Z = X @ W.T + np.asarray(model.intercept_, dtype=np.float64)
    if Z.shape[1] == 1:
        loss = np.logaddexp(0.0, Z[:, 0]) - labels * Z[:, 0]
    else:
        loss = logsumexp(Z, axis=1) - Z[np.arange(len(labels)), labels]
    r = getattr(model, "l1_ratio", 0.0) or 0.0
    penalty = (1 - r) / 2 * (W * W).sum() + r * np.abs(W).sum()
    return float(loss.mean() + penalty / (model.C * len(labels)))


# Coordinate descent stops at a duality gap of tol * ||y_c||^2 / n (tol 1e-4): objectives of
# two correct fits differ by up to ~1e-4 of it.
_ENET_OBJECTIVE = Quality(name="objective", score=_enet_objective, tolerance=1e-4,
                          higher_is_better=False, relative=True)
# The bar: the objective at our solution no worse than scikit-learn's, relative 1e-6.
_LOGISTIC_OBJECTIVE = Quality(name="objective", score=_logistic_objective, tolerance=1e-6,
                              higher_is_better=False, relative=True)

_ITERATIVE_SIZES = {
    "quick": [Size(100_000, 100, "float32")],
    "standard": [Size(1_000_000, 100, "float32"), Size(1_000_000, 100, "float64")],
    "full": [Size(1_000_000, 100, "float32"), Size(1_000_000, 100, "float64"),
             Size(10_000_000, 100, "float32"), Size(1_000_000, 1000, "float32")],
}


def _enet_cost(phase, size, params, model):
    """Fit: the Gram path reads X and y once for the means and once for the SYRK (n d^2 FLOPs);
    the descent itself is O(d^2) per sweep, independent of n. Predict as least squares."""
    return _cost(phase, size, params, model)


def _logistic_cost(phase, size, params, model):
    """Fit: each objective evaluation reads X once and does two GEMMs with the m outputs
    (4 n d m FLOPs); at least n_iter_ + 1 evaluations. Predict: one GEMM of the test rows."""
    s = 4 if size.dtype == "float32" else 8
    n, d = size.rows, size.cols
    m = 1 if len(model.classes_) == 2 else len(model.classes_)
    if phase == "fit":
        evals = int(np.max(getattr(model, "n_iter_", [1]))) + 1
        return Cost(bytes=evals * n * d * s, flops=evals * 4 * n * d * m,
                    transfer_bytes=(n * d + n) * s)
    t = size.n_test
    return Cost(bytes=(t * d + t * m) * s, flops=2 * t * d * m, transfer_bytes=(t * d) * s)


for _name, _estimator, _params in [("lasso", "Lasso", {"alpha": 0.01}),
                                   ("elastic_net", "ElasticNet",
                                    {"alpha": 0.01, "l1_ratio": 0.5})]:
    register(Algorithm(
        name=_name,
        estimator=_estimator,
        gpulearn=f"gpulearn.linear_model.{_estimator}",
        sklearn=f"sklearn.linear_model.{_estimator}",
        data=lambda size, seed: _data.regression(size, seed, n_informative=max(2, size.cols // 4)),
        data_key="regression_sparse",
        quality=_ENET_OBJECTIVE,
        sizes=_ITERATIVE_SIZES,
        params=_params,
        peers={"sklearnex": f"sklearnex.linear_model.{_estimator}",
               "cuml": f"cuml.linear_model.{_estimator}"},
        cost=_enet_cost,
    ))

for _name, _classes in [("logistic_regression", 2), ("logistic_regression_10", 10)]:
    register(Algorithm(
        name=_name,
        estimator="LogisticRegression",
        gpulearn="gpulearn.linear_model.LogisticRegression",
        sklearn="sklearn.linear_model.LogisticRegression",
        data=lambda size, seed, k=_classes: _data.classification(size, seed, n_classes=k,
                                                                 n_informative=min(size.cols, 20)),
        data_key=f"classification{_classes}_logistic",
        quality=_LOGISTIC_OBJECTIVE,
        sizes=_ITERATIVE_SIZES,
        params={"C": 1.0, "max_iter": 100},
        method="predict_proba",
        peers={"sklearnex": "sklearnex.linear_model.LogisticRegression",
               "cuml": "cuml.linear_model.LogisticRegression"},
        cost=_logistic_cost,
    ))
