"""gpulearn.dask's random forests: the single-machine driver, its passes run over row blocks.

The compiled forest driver (src/ensemble/random_forest.cpp) is written over a forest fit's
passes over its data (``ForestData``, include/gpulearn/ensemble/forest_data.hpp).
``_BlockedForestData`` implements those passes here, over ``Partitions``: each is one
``map_state`` over the blocks, where every block runs the same pass of the single-machine
implementation (``_core.forest_block``, a LocalForestData over the block's rows) on its own
device, and the client combines the small results in block order. The block's state (its binned
codes, quantised statistics, bootstrap counts and each in-bag row's node) is that LocalForestData
itself: made by the first pass, kept on the block's worker (the steps are pinned there), never
moved.

How trees grow: the driver splits a node of more than ``subtree_rows()`` in-bag rows itself, from
histograms of its visited features summed over the blocks (int64 fixed point: exact in any
order), and the blocks move the node's rows to its children; a smaller node is grown whole. Its
rows are gathered from the blocks (``node_rows``, kept on the workers), split into one group of
nodes per worker, and each group is grown by ``_core.grow_gathered`` in one task on a worker;
only the grown subtrees come back to the client. Since a node's randomness depends only on its
path from the root, the trees are the single-machine trees, bit for bit.
"""

from __future__ import annotations

import operator
import warnings

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight

from .. import _arrays, _core, _devices
from .._config import check_device_string
from ..ensemble import RandomForestClassifier as _LocalRandomForestClassifier
from ..ensemble import RandomForestRegressor as _LocalRandomForestRegressor
from ..ensemble._forest import _MAX_INT, _n_samples_bootstrap
from ._base import DaskEstimatorMixin, DaskProbabilitiesMixin, dask_or_local
from ._inputs import as_dask_array

# Nodes of at most this many in-bag rows are grown whole from their gathered rows; larger ones
# are split level by level from histograms summed over the blocks. Dask's config key:
#   dask.config.set({"gpulearn.forest-subtree-rows": 100_000})
DEFAULT_SUBTREE_ROWS = 4096


def subtree_rows():
    """The configured ``gpulearn.forest-subtree-rows`` (see ``DEFAULT_SUBTREE_ROWS``)."""
    import dask

    value = int(dask.config.get("gpulearn.forest-subtree-rows", DEFAULT_SUBTREE_ROWS))
    if value < 0:
        raise ValueError(f"dask.config 'gpulearn.forest-subtree-rows' must be >= 0, got {value}")
    return value


# ---- on the workers: one pass of the local implementation over one block ----------------------


class _BlockState:
    """A block's forest state on its worker: its compiled LocalForestData (``local``) and the X
    it views. It never leaves the worker: the steps that use it are pinned there."""

    __slots__ = ("local", "X", "nbytes")

    def __init__(self, local, X, nbytes):
        self.local, self.X, self.nbytes = local, X, nbytes

    def __reduce__(self):
        raise TypeError(
            "a gpulearn.dask forest block's state (its compiled LocalForestData) stays on the "
            "worker that made it and cannot be pickled, spilled or moved")


def _register_sizeof():
    from dask.sizeof import sizeof

    @sizeof.register(_BlockState)
    def _(state):  # what the state holds beside X (codes, statistics, per-tree rows)
        return int(state.nbytes)


_register_sizeof()


def _block_y(block, y_numeric):
    """The block's targets as the single-machine fit validates them (scikit-learn's _check_y:
    finite, a NaN raising its message; object dtype to float64 for a regressor)."""
    y = check_array(np.asarray(_arrays.to_host(block.y)), ensure_all_finite=True,
                    ensure_2d=False, dtype=None, input_name="y")
    if y_numeric and y.dtype.kind == "O":
        y = y.astype(np.float64)
    return y


def _block_classes(block):
    return np.unique(_block_y(block, False).reshape(-1))


def _zero_weights_allowed():
    import inspect

    return "allow_all_zero_weights" in inspect.signature(_check_sample_weight).parameters


def _block_weights(block):
    """The block's sample weights as the single-machine fit checks them (float64; a block of
    zero weights is allowed here: whether all of them are zero is a global question)."""
    kw = {"allow_all_zero_weights": True} if _zero_weights_allowed() else {}
    return _check_sample_weight(_arrays.to_host(block.w), np.empty((block.n_rows, 0)),
                                dtype=np.float64, ensure_non_negative=True, **kw)


def _class_counts_after(block, running, classes, use_w):
    """``running`` plus this block's (weighted) count of each class, added row by row in order:
    the chain over the blocks sums exactly as np.bincount over all of y does (class_weight=
    "balanced" then equals the single-machine class weights bit for bit)."""
    labels = np.searchsorted(classes, _block_y(block, False).reshape(-1))
    w = _block_weights(block) if use_w else np.ones(block.n_rows)
    out = np.array(running, dtype=np.float64, copy=True)
    np.add.at(out, labels, w)
    return out


def _ref(X):
    return _arrays.device_ref(X) if _arrays.device_ordinal(X) is not None else _arrays.host_ref(X)


def _open(block, state, classes, class_weight, use_w, n_total):
    """The first pass: the block's LocalForestData, over its X, its encoded labels (classifier,
    int32 indices into ``classes``) or float64 targets (regressor), and its weights made as the
    single-machine fit makes them (sample_weight times the class weights, in X's dtype). Returns
    whether the block has a non-zero weight."""
    X = block.X
    n = block.n_rows
    labels = Y = None
    if classes is not None:
        labels = np.ascontiguousarray(
            np.searchsorted(classes, _block_y(block, False).reshape(-1)), dtype=np.int32)
    else:
        Y = np.ascontiguousarray(_block_y(block, True), dtype=np.float64).reshape(n, -1)
    w = _block_weights(block) if use_w else None
    nonzero = w is None or bool(np.any(w != 0))
    if class_weight is not None:
        expanded = np.asarray(class_weight, dtype=np.float64)[labels]
        w = expanded if w is None else w * expanded
    weight = None if w is None else _arrays.readable(np.ascontiguousarray(w, dtype=X.dtype))
    _devices.context(block.device)  # a clear error where the device's CUDA is unavailable
    # Its own context: the object lives across tasks, which a worker may run on any thread.
    ctx = _core.Context(block.device, n_threads=_devices.task_threads())
    n_classes = 0 if classes is None else len(classes)
    local = _core.forest_block(ctx, _ref(X), labels, n_classes, Y, weight, block.offset, n_total)
    width = 1 if classes is not None else 1 + 2 * Y.shape[1]
    nbytes = n * (X.shape[1] + 8 * width + 16)
    return nonzero, _BlockState(local, X, nbytes)


def _call(name):
    """The block pass ``name`` of the LocalForestData, with the driver's arguments."""

    def run(block, state, *args):
        return getattr(state.local, name)(*args), state

    run.__name__ = run.__qualname__ = f"_{name}"
    return run


def _after_splits(block, state, splits, fn, *args):
    """``fn``'s pass, after the splits the driver made since the last pass (``split`` returns
    nothing, so its rows move at the start of the next pass: one round trip per level less)."""
    state.local.split(splits)
    return fn(block, state, *args)


_check = _call("check")
_target_ranges = _call("target_ranges")
_target_sums = _call("target_sums")
_bin = _call("bin")
_quantise = _call("quantise")
_draw = _call("draw")
_root_stats = _call("root_stats")
_histograms = _call("histograms")


def _sample_rows(block, state, idx):
    if idx is None or len(idx) == 0:
        return None, state
    return state.local.sample_rows(idx), state


_ROW_ARRAYS = ("node", "counts", "labels", "codes", "row_q")


def _node_rows(block, state, requests, group_of, n_groups):
    """The block's in-bag rows of the requested nodes, split into the groups the nodes are
    grown in, each row's node renumbered to its place in its group's request list."""
    rows = state.local.node_rows(requests)
    if n_groups == 1:
        return (rows,), state
    group_of = np.asarray(group_of)
    position = np.empty(len(group_of), dtype=np.int32)
    for g in range(n_groups):
        mine = np.flatnonzero(group_of == g)
        position[mine] = np.arange(len(mine), dtype=np.int32)
    row_group = group_of[rows["node"]]
    pieces = []
    for g in range(n_groups):
        sel = row_group == g
        piece = {"n_features": rows["n_features"], "row_width": rows["row_width"],
                 "node": position[rows["node"][sel]]}
        for key in _ROW_ARRAYS[1:]:
            a = rows[key]
            piece[key] = a[sel] if len(a) else a
        pieces.append(piece)
    return tuple(pieces), state


def _concat_rows(pieces):
    first = pieces[0]
    out = {"n_features": first["n_features"], "row_width": first["row_width"]}
    for key in _ROW_ARRAYS:
        out[key] = np.concatenate([p[key] for p in pieces]) if len(pieces) > 1 else first[key]
    return out


def _grow_group(spec, mult, n_bins, requests, n_threads, *pieces):
    """One group's subtrees, grown from its nodes' rows gathered from every block."""
    return _core.grow_gathered(spec, mult, n_bins, requests, _concat_rows(pieces), n_threads)


def _out_of_bag(block, state, keys, n_draws, record):
    """The block's out-of-bag values (rows, width) and counts (rows,): each tree's bootstrap
    draws made again from its key (the fit's draws: a pure function of the key, the draw and n),
    then the block's rows walked through the trees that did not draw them, summed in tree order
    (the single-machine out_of_bag, row for row)."""
    local = state.local
    chunk = max(1, (16 << 20) // max(1, block.n_rows))  # draws held at a time: ~128 MiB
    for a in range(0, len(keys), chunk):
        part = keys[a:a + chunk]
        local.draw(part, int(n_draws), True, False)
        local.keep_in_bag(len(part))
    return local.out_of_bag(record), state


def _oob_correct(pair, block, classes):
    """(rows whose out-of-bag class is their label, rows out of no tree's bag)."""
    value, count = pair
    labels = np.searchsorted(classes, _block_y(block, False).reshape(-1))
    return np.array([np.sum(np.argmax(value, axis=1) == labels), np.sum(count == 0)])


def _oob_residuals(pair, block):
    """(per output: the sum of y, the sum of squared out-of-bag residuals; rows out of no bag)."""
    value, count = pair
    y = _block_y(block, True).reshape(block.n_rows, -1).astype(np.float64)
    return np.stack([y.sum(axis=0), ((y - value) ** 2).sum(axis=0)]), int(np.sum(count == 0))


def _oob_spread(pair, block, mean):
    y = _block_y(block, True).reshape(block.n_rows, -1).astype(np.float64)
    return ((y - mean) ** 2).sum(axis=0)


def _oob_values(pair):
    return pair[0]


def _oob_first_output(pair):
    return pair[0][:, 0]


def _block_targets(block, classes):
    if classes is not None:
        return np.searchsorted(classes, _block_y(block, False).reshape(-1))
    y = _block_y(block, True).astype(np.float64)
    return y


# ---- on the client: the passes the driver asks for, combined in block order ----------------------


class _BlockedForestPasses:
    """ForestData's methods over ``Partitions`` (mixed into the bound interface class of the
    data's dtype, whose trampoline the driver calls). Every reduction is exact: maxima, and sums
    of integers (int64 fixed-point histograms and statistics, draw counts), so the trees do not
    depend on how the rows are blocked."""

    def __init__(self, parts, subtree_rows=DEFAULT_SUBTREE_ROWS, n_threads=0):
        super().__init__()
        self._parts = parts
        self._state = None
        self._starts = np.asarray(parts.offsets[:-1], dtype=np.int64)
        self._subtree_rows = int(subtree_rows)
        self._n_threads = int(n_threads)
        self._n_bins = None
        self._splits = None  # made by the driver, applied by the blocks with the next pass
        client = getattr(parts, "client", None)
        # The workers the subtree groups are grown on (one group each).
        self._workers = sorted(client.ncores()) if client is not None else []

    def _map(self, fn, *args, each=None, gather=True):
        step = f"forest {fn.__name__.strip('_').replace('_', ' ')}"
        if self._splits is not None:
            fn, args, self._splits = _after_splits, (self._splits, fn) + args, None
        out, self._state = self._parts.map_state(fn, self._state, *args, each=each, pin=True,
                                                 gather=gather, step=step)
        return out

    # ---- the first pass (Python only)
    def open(self, classes, class_weight, use_w):
        """Makes every block's LocalForestData; False when every sample weight is zero."""
        return any(self._map(_open, classes, class_weight, bool(use_w), self._parts.n_rows))

    # ---- ForestData
    def n_rows(self):
        return self._parts.n_rows

    def n_features(self):
        return self._parts.n_features

    def subtree_rows(self):
        return self._subtree_rows

    def check(self):
        ranges = self._map(_check)
        weight_sum = 0.0
        for r in ranges:
            weight_sum += r[1]
        return max(r[0] for r in ranges), weight_sum

    def target_ranges(self, mean):
        out = np.zeros(2)
        for r in self._map(_target_ranges, np.asarray(mean, dtype=np.float64)):
            out = np.maximum(out, r)
        return out

    def target_sums(self, w_exp, y_exp):
        return _sum(self._map(_target_sums, int(w_exp), int(y_exp)))

    def sample_rows(self, idx):
        # Each block gets its own rows of the (ascending) sample only.
        idx = np.asarray(idx, dtype=np.int64)
        b = np.searchsorted(self._starts, idx, side="right") - 1
        bounds = np.searchsorted(b, np.arange(len(self._starts) + 1), side="left")
        each = [idx[bounds[j]:bounds[j + 1]] for j in range(len(self._starts))]
        found = self._map(_sample_rows, each=each)
        out = np.empty((len(idx), self._parts.n_features), dtype=np.float64)
        for j, rows in enumerate(found):
            if rows is not None:
                out[bounds[j]:bounds[j + 1]] = rows
        return out

    def bin(self, edges, offsets):
        lo = hi = None
        for a, b in self._map(_bin, np.asarray(edges, dtype=np.float64),
                              np.asarray(offsets, dtype=np.int64)):
            lo = a if lo is None else np.minimum(lo, a)
            hi = b if hi is None else np.maximum(hi, b)
        self._n_bins = (np.diff(np.asarray(offsets, dtype=np.int64)) + 1).astype(np.int32)
        return lo, hi

    def quantise(self, spec, mean):
        self._map(_quantise, spec, mean)

    def draw(self, keys, n_draws, bootstrap, want_class_draws):
        found = self._map(_draw, np.asarray(keys, dtype=np.uint64), int(n_draws),
                          bool(bootstrap), bool(want_class_draws))
        return _sum(found) if want_class_draws else None

    def root_stats(self, spec, mult):
        return _sum(self._map(_root_stats, spec, mult))

    def histograms(self, spec, mult, requests):
        handles = self._map(_histograms, spec, mult, requests, gather=False)
        return _sum(self._summed_per_worker(handles, "forest histograms"))

    def _summed_per_worker(self, handles, step):
        """The blocks' int64 arrays summed on the worker holding them, one sum per worker
        (exact in any order): the client receives one array per worker, not one per block."""
        parts = self._parts
        client = getattr(parts, "client", None)
        if client is None:
            return handles
        homes = parts._homes()
        by_worker = {}
        for handle, home in zip(handles, homes):
            by_worker.setdefault(home, []).append(handle)
        futures = [client.submit(_sum_of, *held, pure=False, workers=[home],
                                 allow_other_workers=False)
                   for home, held in by_worker.items()]
        return parts.gather(futures, step, homes=homes)

    def split(self, splits):
        splits = np.asarray(splits, dtype=np.int64).reshape(-1, 6)
        self._splits = splits if self._splits is None else np.concatenate([self._splits, splits])

    def grow_subtrees(self, spec, mult, requests):
        requests = np.asarray(requests, dtype=np.int64).reshape(-1, 5)
        count = len(requests)
        if count == 0:
            return []
        client = getattr(self._parts, "client", None)
        n_groups = max(1, min(count, len(self._workers))) if client is not None else 1
        # Round robin: each group gets every n_groups-th node (the driver lists them tree by
        # tree, so each group gets a share of every tree).
        group_of = np.arange(count, dtype=np.int64) % n_groups
        handles = self._map(_node_rows, requests, group_of, n_groups, gather=False)
        members = [np.flatnonzero(group_of == g) for g in range(n_groups)]
        if client is None:
            grown = [_grow_group(spec, mult, self._n_bins, requests[members[g]], self._n_threads,
                                 *[h[g] for h in handles]) for g in range(n_groups)]
        else:
            parts = self._parts
            parts.traffic["steps"] += 1
            futures = []
            for g in range(n_groups):
                # Each block's piece of the group, taken where the block's rows are; the
                # group's task on a worker of its own (loosely: Dask may place it elsewhere).
                pieces = [client.submit(operator.itemgetter(g), h, pure=False) for h in handles]
                futures.append(client.submit(
                    _grow_group, spec, mult, self._n_bins, requests[members[g]],
                    self._n_threads, *pieces, pure=False, workers=[self._workers[g]],
                    allow_other_workers=True))
            # The rows come from pinned steps: a block's worker leaving ends the wait at once.
            grown = parts.gather(futures, "forest grow subtrees", homes=parts._homes())
        out = [None] * count
        for g in range(n_groups):
            for k, i in enumerate(members[g]):
                out[i] = grown[g][k]
        return out

    def keep_in_bag(self, n_trees):
        raise NotImplementedError(
            "gpulearn.dask's forests compute out-of-bag estimates after the fit "
            "(out_of_bag_blocks); the driver runs with oob=False")

    def out_of_bag(self, forest):
        raise NotImplementedError(
            "gpulearn.dask's forests compute out-of-bag estimates after the fit "
            "(out_of_bag_blocks); the driver runs with oob=False")

    # ---- after the fit (Python only)
    def out_of_bag_blocks(self, keys, n_draws, record):
        """Each block's out-of-bag (values, counts), left beside it: handles in block order."""
        return self._map(_out_of_bag, np.asarray(keys, dtype=np.uint64), int(n_draws), record,
                         gather=False)

    def per_block(self, handles, fn, *args, step):
        """``fn(handle_i, block_i, *args)`` for every block, where the handle is; gathered."""
        parts = self._parts
        client = getattr(parts, "client", None)
        if client is None:
            return [fn(h, b, *args) for h, b in zip(handles, parts.blocks)]
        futures = [client.submit(fn, h, b, *args, pure=False)
                   for h, b in zip(handles, parts.blocks)]
        return parts.gather(futures, step)

    def row_array(self, handles, pick, row_chunks, tail, dtype):
        """``pick(handle)`` of every block as one dask array chunked like X's rows (X's empty
        chunks included), each chunk of shape (rows,) + tail."""
        import dask
        import dask.array as da

        blocks = iter(handles)
        pieces = []
        for rows in row_chunks:
            if rows == 0:
                continue
            h = next(blocks)
            part = pick(h) if isinstance(h, tuple) else dask.delayed(pick)(h)
            pieces.append(da.from_delayed(part, shape=(rows,) + tail, dtype=dtype,
                                          meta=np.empty((0,) + tail, dtype=dtype)))
        chunks = (tuple(row_chunks),) + tuple((t,) for t in tail)
        return da.concatenate(pieces).rechunk(chunks)


def _sum(results):
    total = None
    for r in results:
        total = r if total is None else total + r
    return total


def _sum_of(*arrays):
    return _sum(arrays)


class _BlockedForestData64(_BlockedForestPasses, _core.ForestDataFloat64):
    pass


class _BlockedForestData32(_BlockedForestPasses, _core.ForestDataFloat32):
    pass


def _chain(parts, fn, init, *args, step=""):
    """``fn(block, running, *args)`` over the blocks in order, each call continuing from the
    previous one's result (a chain of tasks, each where its block is); the last result."""
    client = getattr(parts, "client", None)
    running = init
    if client is None:
        for block in parts.blocks:
            running = fn(block, running, *args)
        return running
    for block in parts.blocks:
        running = client.submit(fn, block, running, *args, pure=False)
    parts.traffic["steps"] += 1
    return parts.gather([running], step)[0]


def _dask_targets(y, classifier, name):
    """y as a dask array: 1-D for a classifier (a column vector warned about and flattened, as
    on one machine), 1-D or 2-D (n, k) for a regressor."""
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None.")
    yd, _ = as_dask_array(y, "y", ensure_2d=False)
    if yd.ndim > 2:
        raise ValueError(f"y must be 1D or 2D; got shape {yd.shape}")
    if yd.ndim == 2 and yd.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the "
            "shape of y to (n_samples,), for example using ravel().", DataConversionWarning,
            stacklevel=5)  # the caller of fit
        yd = yd[:, 0]
    if classifier and yd.ndim == 2:
        raise ValueError(
            f"gpulearn's RandomForestClassifier takes a single output (y of shape "
            f"(n_samples,)); got y with {yd.shape[1]} columns. Fit one forest per column, "
            "or use scikit-learn's RandomForestClassifier for multi-output "
            "classification.")
    return yd


class _DaskForestMixin(DaskEstimatorMixin):
    """The distributed fit both forests share."""

    @dask_or_local
    def fit(self, X, y, sample_weight=None):
        """Build a forest of trees from a dask array or dataframe (X, y): the single-machine
        forest's trees (see the class docstring). NumPy input is fitted by the single-machine
        class.

        Parameters
        ----------
        X : dask array of shape (n_samples, n_features), chunked by rows only, or dask dataframe
        y : dask array or series of shape (n_samples,) (or (n_samples, n_outputs): regressor)
        sample_weight : dask array of shape (n_samples,), number or None

        Returns
        -------
        self : object
        """
        name = type(self).__name__
        self._validate_params()
        check_device_string(self.device)
        self._check_supported()
        if not self.bootstrap and self.max_samples is not None:
            raise ValueError(
                "`max_sample` cannot be set if `bootstrap=False`. Either switch to "
                "`bootstrap=True` or set `max_sample=None`.")
        if not self.bootstrap and self.oob_score:
            raise ValueError("Out of bag estimation only available if bootstrap=True")
        Xd, names = as_dask_array(X)
        yd = _dask_targets(y, self._is_classifier, name)
        parts = self._partitions(Xd, yd, sample_weight)
        parts.feature_names = names
        self._set_feature_names(parts)
        n_samples = parts.n_rows
        use_w = sample_weight is not None

        classes = class_weight = None
        balanced_subsample = False
        if self._is_classifier:
            classes = np.unique(np.concatenate(parts.map(_block_classes, step="classes")))
            check_classification_targets(classes)
            self.classes_ = classes
            self.n_classes_ = int(classes.shape[0])
            self.n_outputs_ = 1
            n_classes, n_outputs = self.n_classes_, 1
            cw = self.class_weight
            if isinstance(cw, (dict, list)):
                # The single-machine class expands compute_sample_weight(cw, y); a sample's
                # weight depends only on its class.
                class_weight = compute_sample_weight(cw, classes)
            elif cw == "balanced_subsample" and self.bootstrap:
                balanced_subsample = True
            elif cw is not None:  # "balanced", or "balanced_subsample" without bootstrap
                class_weight = self._balanced_weights(parts, classes, use_w)
        else:
            n_classes = 0
            n_outputs = 1 if yd.ndim == 1 else int(yd.shape[1])
            self.n_outputs_ = n_outputs

        n_boot = _n_samples_bootstrap(n_samples, self.max_samples) if self.bootstrap else -1
        seed = int(check_random_state(self.random_state).randint(_MAX_INT))
        params = self._core_params(n_samples, n_boot, seed, balanced_subsample)
        params.oob = False  # out-of-bag values stay on the blocks: a pass after the fit
        cls = _BlockedForestData32 if parts.dtype == np.float32 else _BlockedForestData64
        data = cls(parts, subtree_rows())
        if not data.open(classes, class_weight, use_w):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        result = _core.random_forest_fit_data(params, data, n_classes, n_outputs, 0)
        self._set_fitted_forest(result, n_samples, n_boot)
        # scikit-learn's record of the weights (n values) is not gathered from the workers.
        self._sample_weight = None
        if self.oob_score:
            self._out_of_bag(data, seed, n_boot, Xd.chunks[0], classes, n_outputs)
        return self

    def _out_of_bag(self, data, seed, n_boot, row_chunks, classes, n_outputs):
        """oob_score_ and the per-row out-of-bag values (a dask array chunked like X), from a
        pass over the blocks after the fit: each block redraws the trees' bootstrap samples
        from their keys and walks its rows through the trees that left them out, as the
        single-machine fit does for all rows. The default score is a reduction of per-block
        counts (accuracy) or sums (R^2); a callable oob_score gets the gathered arrays."""
        keys = _core.forest_tree_keys(seed, self.n_estimators)
        handles = data.out_of_bag_blocks(keys, n_boot, self._forest)
        width = len(classes) if classes is not None else n_outputs
        tail = (width,) if (classes is not None or n_outputs > 1) else ()
        pick = _oob_values if tail else _oob_first_output
        values = data.row_array(handles, pick, row_chunks, tail, np.float64)
        if classes is not None:
            stats = np.sum(data.per_block(handles, _oob_correct, classes,
                                          step="forest oob score"), axis=0)
            missing = int(stats[1])
        else:
            sums = data.per_block(handles, _oob_residuals, step="forest oob score")
            missing = sum(m for _, m in sums)
        if missing:
            warnings.warn(
                "Some inputs do not have OOB scores. This probably means too few trees "
                "were used to compute any reliable OOB estimates.", UserWarning, stacklevel=4)
        if callable(self.oob_score):
            y = self._oob_targets(data, classes)
            pred = values.compute()
            if classes is not None:
                self.oob_score_ = self.oob_score(y.astype(np.float64).reshape(-1, 1),
                                                 np.argmax(pred, axis=1))
            else:
                self.oob_score_ = self.oob_score(y, pred)
        elif classes is not None:
            self.oob_score_ = float(stats[0]) / self._n_samples
        else:
            total = np.sum([s for s, _ in sums], axis=0)  # (2, k)
            mean = total[0] / self._n_samples
            spread = np.sum(data.per_block(handles, _oob_spread, mean,
                                           step="forest oob score"), axis=0)
            # scikit-learn's r2_score (force_finite): a constant output scores 1 when predicted
            # exactly, else 0; the outputs averaged.
            with np.errstate(divide="ignore", invalid="ignore"):
                r2 = np.where(spread > 0, 1.0 - total[1] / spread,
                              np.where(total[1] == 0, 1.0, 0.0))
            self.oob_score_ = float(np.mean(r2))
        if classes is not None:
            self.oob_decision_function_ = values
        else:
            self.oob_prediction_ = values

    @staticmethod
    def _oob_targets(data, classes):
        """y gathered (a callable oob_score scores whole arrays): encoded labels or targets."""
        parts = data._parts
        ys = parts.map(_block_targets, classes, step="forest oob targets")
        return np.concatenate(ys)

    @staticmethod
    def _balanced_weights(parts, classes, use_w):
        """class_weight="balanced": the (weighted) class counts, summed row by row along the
        blocks as the single-machine np.bincount sums them, then scikit-learn's formula; per
        class, as the single-machine class expands them."""
        counts = _chain(parts, _class_counts_after, np.zeros(len(classes)), classes, use_w,
                        step="class counts")
        try:
            weights = compute_class_weight("balanced", classes=classes, y=classes,
                                           sample_weight=counts)
        except TypeError:  # older scikit-learn balances by counts only (as on one machine)
            counts = _chain(parts, _class_counts_after, np.zeros(len(classes)), classes, False,
                            step="class counts")
            weights = int(counts.sum()) / (len(classes) * counts)
        return compute_sample_weight(dict(zip(classes, weights)), classes)

    # ---- prediction -----------------------------------------------------------------------
    @dask_or_local
    def predict(self, X):
        """Predictions per block of X: a dask array chunked like X's rows."""
        return self._dask_method("predict", X)

    @dask_or_local
    def apply(self, X):
        """The leaf of each row in each tree per block of X: a dask array (n_samples,
        n_estimators), int64, chunked like X's rows."""
        return self._dask_method("apply", X)

    @dask_or_local
    def score(self, X, y, sample_weight=None):
        """Accuracy (classifier) or R^2 (regressor), from per-block sums."""
        return self._dask_score(X, y, sample_weight)

    def to_local(self):
        """The fitted single-machine forest (gpulearn.ensemble): picklable, no Dask needed."""
        local = super().to_local()
        local._estimators_cache = None  # views of this estimator's trees: rebuilt on demand
        if "_forest" in local.__dict__:
            local._core_forest_cache = local._core_forest_arrays()
        return local


_TOLERANCE_DOC = """
    The fit is the single-machine driver with its passes done block by block, where the blocks
    are (each on its worker's device): the input checks and ranges, a sample of rows for the bin
    edges (each block sends only its sampled rows), the binning (each block codes its own rows;
    the bins' extreme values are a min/max reduction), the bootstrap draws (a pure function of
    the seed, the tree and the draw, so each block draws its own rows), then per tree level the
    histograms of the large open nodes (int64 fixed point, summed over the blocks: exact) and
    the split of their rows, and below ``dask.config`` ``gpulearn.forest-subtree-rows`` (default
    4096) in-bag rows the node's rows gathered to a worker and its subtree grown there.

    **Tolerance: none.** With the same data and ``random_state`` the trees are the
    single-machine estimator's trees, bit for bit (every node array equal: features,
    thresholds, values, impurities, sample counts), however the rows are blocked, so the
    predictions, probabilities, ``apply`` and ``feature_importances_`` are equal exactly.
    ``class_weight="balanced"`` counts the classes along the blocks in row order, as
    ``np.bincount`` does on one machine, so the class weights are equal too.

    What moves, per tree level: each block returns the histograms of the open nodes it was asked
    for (max_features x n_bins x n_channels int64 per node and block; n_channels = n_classes + 1,
    or 2 n_outputs + 2); below the threshold every in-bag row of a node moves once (its codes,
    quantised statistics, count and node: d + 8 row_width + 12 bytes), and the grown subtrees
    come back. See docs/dask.md.

    ``oob_score=True``: after the fit each block redraws the trees' bootstrap samples from
    their keys and walks its rows through the trees that left them out, so
    ``oob_decision_function_`` / ``oob_prediction_`` (dask arrays chunked like X) equal the
    single-machine values exactly and ``oob_score_`` is a reduction of per-block counts
    (accuracy: exact) or sums (R^2: to 1e-12 relative, the sums' order); a callable
    ``oob_score`` is given the gathered arrays. ``_sample_weight`` (scikit-learn's record of the
    n weights) is not gathered. Under dask-cuda, give CuPy-backed blocks: each block bins its
    rows on its GPU.
    """


class RandomForestClassifier(DaskProbabilitiesMixin, _DaskForestMixin,
                             _LocalRandomForestClassifier):
    __doc__ = """A random forest classifier fitted across a Dask cluster.

    :class:`gpulearn.ensemble.RandomForestClassifier` with its data in row blocks on Dask
    workers (a dask array chunked by rows, or a dask dataframe; y a dask array or series of
    labels, numbers or strings): the same parameters and fitted attributes. ``classes_`` are the
    distinct labels of all blocks (one small reduction); each block encodes its labels against
    them and makes its weights (``sample_weight`` times ``class_weight``) as the single-machine
    class does. NumPy input is fitted by the single-machine class. ``predict``,
    ``predict_proba``, ``predict_log_proba`` and ``apply`` return dask arrays chunked like X;
    ``to_local()`` returns the fitted :class:`gpulearn.ensemble.RandomForestClassifier`.
    """ + _TOLERANCE_DOC


class RandomForestRegressor(_DaskForestMixin, _LocalRandomForestRegressor):
    __doc__ = """A random forest regressor fitted across a Dask cluster.

    :class:`gpulearn.ensemble.RandomForestRegressor` with its data in row blocks on Dask
    workers (a dask array chunked by rows, or a dask dataframe; y a dask array of shape
    (n_samples,) or (n_samples, n_outputs), kept in float64): the same parameters and fitted
    attributes. The targets are centred on their weighted mean from exact fixed-point sums over
    the blocks. NumPy input is fitted by the single-machine class. ``predict`` and ``apply``
    return dask arrays chunked like X; ``to_local()`` returns the fitted
    :class:`gpulearn.ensemble.RandomForestRegressor`.
    """ + _TOLERANCE_DOC


__all__ = ["RandomForestClassifier", "RandomForestRegressor"]
