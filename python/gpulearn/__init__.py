"""gpulearn: scikit-learn's estimators on the GPU (CUDA) and a fast CPU backend.

Change one import (``from gpulearn.linear_model import Ridge``) and fit/predict run on an
NVIDIA GPU where one is available, else on the CPU. Importing gpulearn initialises no CUDA.
"""

from ._config import config_context, get_config, set_config
from ._devices import cuda_available
from ._show_versions import show_versions

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "config_context",
    "cuda_available",
    "get_config",
    "set_config",
    "show_versions",
]
