"""Ensembles of trees: RandomForestClassifier and RandomForestRegressor (histogram trees grown
on the CPU or a GPU by gpulearn's compiled core)."""

from ._forest import RandomForestClassifier, RandomForestRegressor
from ._tree import ForestTreeClassifier, ForestTreeRegressor, ForestTreeStructure

__all__ = ["ForestTreeClassifier", "ForestTreeRegressor", "ForestTreeStructure",
           "RandomForestClassifier", "RandomForestRegressor"]
