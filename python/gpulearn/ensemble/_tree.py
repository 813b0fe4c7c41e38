"""The trees of a fitted gpulearn forest, seen one at a time (``forest.estimators_[i]``).

A forest keeps its trees concatenated in one set of node arrays (the compiled core's
``ForestView`` layout). These classes are light, read-only windows on one tree: ``tree_``
exposes scikit-learn's ``Tree`` attributes as views of the forest's arrays (no copy), and
predict / predict_proba / apply run the compiled traversal on that one tree.
"""

import numpy as np


def _window(array, start, stop):
    """array[start:stop] as a read-only view: a tree's arrays belong to its forest."""
    view = array[start:stop]
    view.flags.writeable = False
    return view


class ForestTreeStructure:
    """One tree's node arrays, named and shaped as scikit-learn's ``tree_`` (``Tree``).

    Nodes are numbered from the root (0), children after their parent: in depth-first preorder,
    left child first, for gpulearn's trees; as scikit-learn numbered them (depth-first, or
    best-first with ``max_leaf_nodes``) for a forest converted by ``from_sklearn``.

    Attributes
    ----------
    node_count : int
        Number of nodes of the tree.
    capacity : int
        Equal to ``node_count``.
    n_features : int
        Number of features of the training data.
    n_outputs : int
        1 for a classifier, the number of targets for a regressor.
    n_classes : ndarray of shape (n_outputs,)
        The number of classes (classifier) or ones (regressor), as scikit-learn stores it.
    max_n_classes : int
        ``n_classes.max()``.
    max_depth : int
        Depth of the deepest node (the root has depth 0).
    n_leaves : int
        Number of leaves.
    children_left, children_right : ndarray of shape (node_count,), int64
        The children of each node; -1 at a leaf.
    feature : ndarray of shape (node_count,), int64
        The feature each node splits on; -2 at a leaf.
    threshold : ndarray of shape (node_count,), float64
        Rows with ``X[:, feature] <= threshold`` go left.
    value : ndarray of shape (node_count, n_outputs, max_n_classes)
        Classifier: the weighted class fractions of the node's in-bag samples; regressor:
        the weighted mean of each target (last axis of length 1).
    impurity : ndarray of shape (node_count,)
        The node's impurity under the forest's criterion.
    n_node_samples : ndarray of shape (node_count,), int64
        Distinct in-bag samples reaching the node.
    weighted_n_node_samples : ndarray of shape (node_count,)
        Their weight (bootstrap counts times sample and class weights).
    """

    def __init__(self, forest, t, n_features, n_outputs, n_classes):
        offsets = forest["tree_offsets"]
        start, stop = int(offsets[t]), int(offsets[t + 1])
        self.node_count = stop - start
        self.capacity = self.node_count
        self.n_features = int(n_features)
        self.n_outputs = int(n_outputs)
        if n_classes:  # classifier: value is (nodes, n_classes)
            self.n_classes = np.array([n_classes], dtype=np.intp)
            shape = (self.node_count, 1, int(n_classes))
        else:
            self.n_classes = np.ones(self.n_outputs, dtype=np.intp)
            shape = (self.node_count, self.n_outputs, 1)
        self.max_n_classes = int(self.n_classes.max())
        self.max_depth = int(forest["max_depth"][t])
        self.children_left = _window(forest["children_left"], start, stop)
        self.children_right = _window(forest["children_right"], start, stop)
        self.feature = _window(forest["feature"], start, stop)
        self.threshold = _window(forest["threshold"], start, stop)
        self.value = _window(forest["value"], start, stop).reshape(shape)
        self.impurity = _window(forest["impurity"], start, stop)
        self.n_node_samples = _window(forest["n_node_samples"], start, stop)
        self.weighted_n_node_samples = _window(forest["weighted_n_node_samples"], start, stop)
        self.n_leaves = int(np.count_nonzero(self.children_left == -1))

    def compute_feature_importances(self, normalize=True):
        """The tree's impurity-based feature importances, as scikit-learn computes them.

        Parameters
        ----------
        normalize : bool, default=True
            Scale the importances to sum to 1 (unless they are all 0).

        Returns
        -------
        importances : ndarray of shape (n_features,)
        """
        left, right = self.children_left, self.children_right
        internal = np.flatnonzero(left != -1)
        weighted = self.weighted_n_node_samples * self.impurity
        decrease = (weighted[internal] - weighted[left[internal]] - weighted[right[internal]])
        importances = np.bincount(self.feature[internal], weights=decrease,
                                  minlength=self.n_features).astype(np.float64)
        importances /= self.weighted_n_node_samples[0]
        if normalize:
            total = importances.sum()
            if total > 0.0:
                importances /= total
        return importances


class _ForestTree:
    """Tree ``t`` of a fitted gpulearn forest, with the fitted-tree API of scikit-learn's
    DecisionTreeClassifier / DecisionTreeRegressor that applies to one tree of a forest."""

    def __init__(self, forest, t):
        self._forest_estimator = forest
        self._t = t
        self.tree_ = ForestTreeStructure(forest._forest, t, forest.n_features_in_,
                                         forest.n_outputs_, getattr(forest, "n_classes_", 0))
        self.n_features_in_ = forest.n_features_in_
        self.n_outputs_ = forest.n_outputs_
        self.max_features_ = forest._max_features
        if hasattr(forest, "feature_names_in_"):
            self.feature_names_in_ = forest.feature_names_in_

    def __repr__(self):
        return f"{type(self).__name__}(tree {self._t} of {type(self._forest_estimator).__name__})"

    def _mean(self, X):
        return self._forest_estimator._predict_mean(X, trees=slice(self._t, self._t + 1))

    def apply(self, X):
        """The index of the leaf each sample of X reaches.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_leaves : ndarray of shape (n_samples,), int64
        """
        leaves = self._forest_estimator._apply(X, trees=slice(self._t, self._t + 1))
        return leaves.reshape(-1)

    def get_depth(self):
        """The depth of the tree: the largest distance from the root to a leaf."""
        return self.tree_.max_depth

    def get_n_leaves(self):
        """The number of leaves of the tree."""
        return self.tree_.n_leaves

    @property
    def feature_importances_(self):
        """The tree's normalised impurity-based feature importances, (n_features,)."""
        return self.tree_.compute_feature_importances()


class ForestTreeClassifier(_ForestTree):
    """One tree of a :class:`gpulearn.ensemble.RandomForestClassifier` (read-only).

    Attributes
    ----------
    tree_ : ForestTreeStructure
        The tree's node arrays, as scikit-learn's ``Tree``.
    classes_ : ndarray of shape (n_classes,), float64
        0, 1, ..., n_classes - 1, as the trees of scikit-learn's forests: a tree sees the
        forest's encoded labels; ``forest.classes_[tree.predict(X).astype(int)]`` decodes.
    n_classes_ : int
    n_features_in_ : int
    n_outputs_ : int
    max_features_ : int
        Features drawn per node.
    """

    def __init__(self, forest, t):
        super().__init__(forest, t)
        self.n_classes_ = forest.n_classes_
        self.classes_ = np.arange(self.n_classes_, dtype=np.float64)

    def predict_proba(self, X):
        """The class fractions of the leaf each sample reaches, (n_samples, n_classes)."""
        return self._mean(X)

    def predict_log_proba(self, X):
        """The logarithm of :meth:`predict_proba`."""
        return np.log(self._mean(X))

    def predict(self, X):
        """The index (as float64, see ``classes_``) of the class of largest fraction in the
        leaf each sample reaches."""
        return self.classes_.take(np.argmax(self._mean(X), axis=1), axis=0)


class ForestTreeRegressor(_ForestTree):
    """One tree of a :class:`gpulearn.ensemble.RandomForestRegressor` (read-only).

    Attributes
    ----------
    tree_ : ForestTreeStructure
        The tree's node arrays, as scikit-learn's ``Tree``.
    n_features_in_ : int
    n_outputs_ : int
    max_features_ : int
        Features drawn per node.
    """

    def predict(self, X):
        """The mean target of the leaf each sample reaches: (n_samples,) for one target, else
        (n_samples, n_outputs)."""
        mean = self._mean(X)
        return mean.reshape(-1) if self.n_outputs_ == 1 else mean
