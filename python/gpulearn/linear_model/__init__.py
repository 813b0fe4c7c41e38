"""Linear models: gpulearn.linear_model.LinearRegression, Ridge, Lasso, ElasticNet and
LogisticRegression."""

from ._coordinate_descent import ElasticNet, Lasso
from ._linear_regression import LinearRegression
from ._logistic import LogisticRegression
from ._ridge import Ridge

__all__ = ["ElasticNet", "Lasso", "LinearRegression", "LogisticRegression", "Ridge"]
