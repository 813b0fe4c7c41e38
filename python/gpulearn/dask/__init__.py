"""gpulearn on Dask: the single-machine estimators, fitted across a Dask cluster's workers.

Each worker computes on its own device (its GPU under dask-cuda's LocalCUDACluster, gpulearn's
CPU backend on a plain LocalCluster or SSHCluster); data stay on the worker that holds them and
only model-sized reductions travel. Results equal the single-machine estimator's to within float
reduction order (each class states its tolerance); ``to_local()`` returns that estimator.
See docs/dask.md.
"""

try:
    import dask as _dask  # noqa: F401
    import distributed as _distributed  # noqa: F401
except ImportError as exc:  # pragma: no cover - the extra is installed by the test setup
    raise ImportError(
        "gpulearn.dask needs Dask: pip install gpulearn[dask] (dask[array,dataframe] and "
        f"distributed); {exc}") from exc

from ._cluster import KMeans
from ._decomposition import PCA, TruncatedSVD
from ._forest import RandomForestClassifier, RandomForestRegressor
from ._linear_model import ElasticNet, Lasso, LinearRegression, Ridge
from ._logistic import LogisticRegression
from ._neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

__all__ = ["ElasticNet", "KMeans", "KNeighborsClassifier", "KNeighborsRegressor", "Lasso",
           "LinearRegression", "LogisticRegression", "NearestNeighbors", "PCA",
           "RandomForestClassifier", "RandomForestRegressor", "Ridge", "TruncatedSVD"]
