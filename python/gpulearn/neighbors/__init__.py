"""Nearest neighbours by exact brute force: NearestNeighbors, KNeighborsClassifier,
KNeighborsRegressor."""

from ._classification import KNeighborsClassifier
from ._regression import KNeighborsRegressor
from ._unsupervised import NearestNeighbors

__all__ = ["KNeighborsClassifier", "KNeighborsRegressor", "NearestNeighbors"]
