"""Linear models: gpulearn.linear_model.LinearRegression and Ridge."""

from ._linear_regression import LinearRegression
from ._ridge import Ridge

__all__ = ["LinearRegression", "Ridge"]
