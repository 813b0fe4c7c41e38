"""Fitted models across the two libraries: every estimator's ``from_sklearn`` and ``as_sklearn``.

A gpulearn estimator and the scikit-learn estimator it replaces hold the same fitted model in
(mostly) the same attributes. Converting copies the hyper-parameters they share and translates
the fitted state: ``from_sklearn`` gives a gpulearn estimator that predicts what the scikit-learn
one predicts, on any device; ``as_sklearn`` gives a plain scikit-learn estimator (no gpulearn
object inside) that loads, pickles and predicts where gpulearn is not installed.

``gpulearn.accel`` is built on the same two translations, without the checks and the copies:
``_from_sklearn_fitted`` (a gpulearn view of a scikit-learn estimator's fitted state, made on
every predict, so it must be cheap) and ``_sklearn_fitted_state`` (the scikit-learn attributes
of a gpulearn fit, set on the user's scikit-learn estimator).
"""

import copy
import importlib
import inspect

from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ._config import check_device_string


class SklearnConversionMixin:
    """``from_sklearn`` / ``as_sklearn`` for an estimator whose scikit-learn twin is named by
    ``_sklearn_estimator`` ("module.Class").

    Subclasses list in ``_sklearn_attributes`` the fitted attributes both libraries hold with
    the same meaning and type (copied as they are), and override ``_sklearn_fitted_state`` and
    ``_adopt_sklearn_state`` where the fitted states differ.
    """

    _sklearn_estimator = None  # "sklearn.cluster.KMeans"
    _sklearn_attributes = ()

    # ---- the scikit-learn twin ---------------------------------------------------------

    @classmethod
    def _sklearn_class(cls):
        """The scikit-learn class this one replaces (imported on first use)."""
        module, _, name = cls._sklearn_estimator.rpartition(".")
        return getattr(importlib.import_module(module), name)

    @classmethod
    def _shared_param_names(cls):
        """The hyper-parameters both classes have, in the scikit-learn class's order."""
        cached = cls.__dict__.get("_shared_param_names_cache")
        if cached is None:
            ours = set(cls._get_param_names())
            cached = tuple(name for name in cls._sklearn_class()._get_param_names()
                           if name in ours)
            cls._shared_param_names_cache = cached
        return cached

    @classmethod
    def _shared_params(cls, estimator):
        """The shared hyper-parameters' values on ``estimator`` (of either class)."""
        return {name: getattr(estimator, name) for name in cls._shared_param_names()}

    @classmethod
    def _check_sklearn_fitted(cls, fitted):
        """Refuse what is not a fitted instance of the scikit-learn twin (TypeError,
        NotFittedError), naming what was given."""
        sk_class = cls._sklearn_class()
        if not isinstance(fitted, sk_class) or inspect.isclass(fitted):
            raise TypeError(
                f"{cls.__name__}.from_sklearn takes a fitted {sk_class.__module__.split('.')[0]}"
                f".{sk_class.__name__}; got {_describe(fitted)}.")
        if type(fitted) is not sk_class and _is_twin_of_another(type(fitted)):
            raise TypeError(
                f"{cls.__name__}.from_sklearn takes a {sk_class.__name__}; got a "
                f"{type(fitted).__name__}: convert it with gpulearn's {type(fitted).__name__}.")
        if not is_fitted(fitted):
            raise NotFittedError(
                f"This {type(fitted).__name__} instance is not fitted yet: fit it before "
                f"converting it with {cls.__name__}.from_sklearn.")

    # ---- public API --------------------------------------------------------------------

    @classmethod
    def from_sklearn(cls, fitted, *, device="auto"):
        """A gpulearn estimator holding the model of a fitted scikit-learn estimator.

        Parameters
        ----------
        fitted : scikit-learn estimator
            A fitted instance of the scikit-learn class this class replaces.
        device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
            Where the converted model predicts.

        Returns
        -------
        estimator : an instance of this class, fitted: its predictions (and transforms,
            probabilities) are scikit-learn's, to the tolerance the class's docstring states.

        Raises
        ------
        TypeError : ``fitted`` is not an instance of the scikit-learn class.
        NotFittedError : ``fitted`` is not fitted.
        NotImplementedError : the model uses a feature gpulearn cannot represent (named).
        """
        cls._check_sklearn_fitted(fitted)
        device = check_device_string(device)
        # A copy: later changes to one estimator leave the other as it is.
        fitted = copy.deepcopy(fitted)
        params = cls._shared_params(fitted)
        params["device"] = device
        return cls._from_sklearn_fitted(fitted, params)

    def as_sklearn(self):
        """This fitted model as a plain scikit-learn estimator.

        The result holds no gpulearn object: it pickles, loads and predicts where gpulearn is
        not installed, with this model's predictions (to the tolerance the class's docstring
        states).

        Raises
        ------
        NotFittedError : this estimator is not fitted.
        NotImplementedError : a hyper-parameter has no scikit-learn equivalent (named).
        """
        if not is_fitted(self):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet: fit it before "
                "converting it with as_sklearn().")
        sk_class = self._sklearn_class()
        params = {name: copy.deepcopy(getattr(self, name)) for name in self._shared_param_names()}
        params.update(self._sklearn_only_params())
        estimator = sk_class(**params)
        estimator.__dict__.update(copy.deepcopy(self._sklearn_fitted_state()))
        return estimator

    # ---- the two translations (also gpulearn.accel's) ----------------------------------

    @classmethod
    def _from_sklearn_fitted(cls, fitted, params):
        """A gpulearn estimator with hyper-parameters ``params`` (the shared ones plus
        ``device``) and the fitted state of ``fitted``, sharing its arrays (no copy). Called by
        gpulearn.accel on every predict: no validation beyond what the translation needs.
        Raises NotImplementedError naming a feature gpulearn cannot represent."""
        estimator = cls(**params)
        estimator._adopt_sklearn_state(fitted.__dict__)
        return estimator

    def _adopt_sklearn_state(self, state):
        """Set this estimator's fitted attributes from a scikit-learn estimator's ``__dict__``."""
        for name in self._sklearn_attributes:
            if name in state:
                setattr(self, name, state[name])

    def _sklearn_fitted_state(self):
        """The fitted attributes (name: value, scikit-learn's types) a scikit-learn estimator
        with this model has, private ones included; values may share this estimator's arrays."""
        return {name: self.__dict__[name] for name in self._sklearn_attributes
                if name in self.__dict__}

    def _serve_as_sklearn(self):
        """Make this fitted estimator compute as the scikit-learn estimator holding its
        ``_sklearn_fitted_state()`` would, where the two differ (a forest's float64 routing);
        gpulearn.accel calls it after each fit, so the cached twin and one rebuilt from the
        state agree. Default: nothing differs."""

    def _sklearn_only_params(self):
        """Hyper-parameters scikit-learn's class has and this one lacks, as the scikit-learn
        estimator should get them (default: scikit-learn's defaults)."""
        return {}


def is_fitted(estimator):
    """Whether scikit-learn's ``check_is_fitted`` passes (gpulearn.accel asks it too)."""
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


def _describe(obj):
    if inspect.isclass(obj):
        return f"the class {obj.__name__} (an instance is needed)"
    return f"a {type(obj).__module__.split('.')[0]}.{type(obj).__name__}"


def _is_twin_of_another(sk_class):
    """Whether gpulearn has its own estimator for this scikit-learn subclass (Lasso is a
    subclass of ElasticNet in scikit-learn)."""
    return sk_class.__module__.startswith("sklearn.") and sk_class.__name__ in _TWINS


_TWINS = {"LinearRegression", "Ridge", "Lasso", "ElasticNet", "LogisticRegression", "KMeans",
          "PCA", "TruncatedSVD", "NearestNeighbors", "KNeighborsClassifier",
          "KNeighborsRegressor", "RandomForestClassifier", "RandomForestRegressor"}
