"""Exact Gaussian kernel sums, tiled so memory is bounded whatever N is.

Distances come from BLAS Gram products (``A @ B.T``), one tile at a time;
a numba pass turns each tile into kernel values with a vectorised
exponential (see ``quests._kernels.kde``). X-vs-X sums visit each pair of
tiles once and add each tile to both its rows and its columns. Tiles are
shared out to worker threads in a fixed order, each with private
accumulators.
"""

import numpy as np

from quests import _engine, _kernels
from quests._defaults import DEFAULT_BANDWIDTH
from quests._errors import InvalidInputError
from quests._kernels import kde as _kk
from quests._progress import progress_bar
from quests._threads import blas_threads, parallel_map, resolve_jobs
from quests._validation import (
    N_JOBS,
    TILE_SIZE,
    Bandwidth,
    as_bandwidths,
    check_descriptors,
    validate_params,
)

__all__ = ["DEFAULT_BANDWIDTH", "DEFAULT_TILE_SIZE", "KernelSums", "kernel_sum", "log_kernel_sum"]

#: rows per tile: a tile's Gram block is tile_size^2 float64 (8 MiB at 1024)
DEFAULT_TILE_SIZE = 1024

_COMMON = {
    "bandwidth": Bandwidth(),
    "tile_size": TILE_SIZE,
    "n_jobs": N_JOBS,
}


def _shape_result(values_nh, scalar):
    """Drop the bandwidth axis for a scalar h."""
    return values_nh[..., 0] if scalar else values_nh


def _tile_view(buffer, rows, cols):
    """A C-contiguous (rows, cols) view of a flat buffer, for BLAS ``out=``."""
    return buffer[: rows * cols].reshape(rows, cols)


def _run_tiles(pairs, work, n_jobs, verbose):
    """Run ``work(worker, pairs_of_worker, on_tile)`` for each worker.

    Tiles go to workers round-robin, fixed in advance, so each worker's
    private accumulators, and hence the result, do not depend on thread
    timing. BLAS is held at one thread: the workers are the parallelism.
    """
    _kernels.before_kernels()
    workers = max(1, min(resolve_jobs(n_jobs), len(pairs)))
    shares = [pairs[w::workers] for w in range(workers)]
    with progress_bar(len(pairs), "kernel sums", verbose, unit="tile") as bar, blas_threads(1):
        return parallel_map(lambda w: work(w, shares[w], bar.update), range(workers), workers)


def _self_sums(X, scale_h, tile_size, n_jobs, verbose):
    """p_i = sum_j K(x_i, x_j) over X (self term included), shape (N, n_h).

    Visits each pair of tiles once, adding it to its rows and its columns; on
    a dask cluster when ``quests.distributed.dask_engine`` is active.
    """
    return _engine.run("self_sums", X, scale_h, tile_size, n_jobs, verbose,
                       local=_self_sums_here, pair=_pair_sums)


def _tile_sums(A, B, sq_a, sq_b, pairs, scale_h, tile_size, rows, cols, symmetric, on_tile):
    """Add the kernel sums of the tiles (a0, b0) of A x B to ``rows`` (over B) and ``cols``
    (over A). ``symmetric`` (B is A): a diagonal tile adds to its rows only, since its rows
    already hold every pair of it."""
    gram = np.empty(min(tile_size, A.shape[0]) * min(tile_size, B.shape[0]))
    for a0, b0 in pairs:
        a1, b1 = min(a0 + tile_size, A.shape[0]), min(b0 + tile_size, B.shape[0])
        g = _tile_view(gram, a1 - a0, b1 - b0)
        np.dot(A[a0:a1], B[b0:b1].T, out=g)
        _kk.tile_sums(g, sq_a[a0:a1], sq_b[b0:b1], A[a0:a1], B[b0:b1], scale_h, rows[a0:a1],
                      cols[b0:b1], not symmetric or a0 != b0)
        on_tile()


def _self_sums_here(X, scale_h, tile_size, n_jobs, verbose):
    """``_self_sums`` in this process."""
    n = X.shape[0]
    sqnorm = np.einsum("ij,ij->i", X, X)
    starts = list(range(0, n, tile_size))
    pairs = [(a0, b0) for i, a0 in enumerate(starts) for b0 in starts[i:]]

    def work(worker, share, on_tile):
        sums = np.zeros((n, scale_h.shape[0]))
        _tile_sums(X, X, sqnorm, sqnorm, share, scale_h, tile_size, sums, sums, True, on_tile)
        return sums

    return sum(_run_tiles(pairs, work, n_jobs, verbose))


def _pair_sums(A, B, scale_h, tile_size):
    """Kernel sums between two different blocks, one thread: (rows of A over B, rows of B
    over A), shapes (n_a, n_h) and (n_b, n_h). Each Gram tile serves both sides."""
    n_h = scale_h.shape[0]
    rows, cols = np.zeros((A.shape[0], n_h)), np.zeros((B.shape[0], n_h))
    pairs = [(a0, b0) for a0 in range(0, A.shape[0], tile_size)
             for b0 in range(0, B.shape[0], tile_size)]
    with blas_threads(1):
        _tile_sums(A, B, np.einsum("ij,ij->i", A, A), np.einsum("ij,ij->i", B, B), pairs,
                   scale_h, tile_size, rows, cols, False, lambda: None)
    return rows, cols


def _cross_log_sums(Y, X, scale_h, tile_size, n_jobs, verbose):
    """ln sum_j K(y, x_j) for each row of Y, shape (n_y, n_h), via log-sum-exp; on a dask
    cluster when ``quests.distributed.dask_engine`` is active."""
    if Y.shape[0] == 0:
        return np.zeros((0, scale_h.shape[0]))
    return _engine.run("cross_log_sums", Y, X, scale_h, tile_size, n_jobs, verbose,
                       local=_cross_log_sums_here, when=X.shape[0] > 0)


def _cross_log_sums_here(Y, X, scale_h, tile_size, n_jobs, verbose):
    """``_cross_log_sums`` in this process."""
    n_y, n_x = Y.shape[0], X.shape[0]
    n_h = scale_h.shape[0]
    sq_y = np.einsum("ij,ij->i", Y, Y)
    sq_x = np.einsum("ij,ij->i", X, X)
    pairs = [(a0, b0) for a0 in range(0, n_y, tile_size) for b0 in range(0, n_x, tile_size)]
    if not pairs:
        return np.zeros((0, n_h))

    def work(worker, share, on_tile):
        min_arg = np.full((n_y, n_h), np.inf)
        shifted = np.zeros((n_y, n_h))
        gram = np.empty(min(tile_size, n_y) * min(tile_size, n_x))
        for a0, b0 in share:
            a1, b1 = min(a0 + tile_size, n_y), min(b0 + tile_size, n_x)
            g = _tile_view(gram, a1 - a0, b1 - b0)
            np.dot(Y[a0:a1], X[b0:b1].T, out=g)
            _kk.tile_logsumexp(g, sq_y[a0:a1], sq_x[b0:b1], Y[a0:a1], X[b0:b1], scale_h,
                               min_arg[a0:a1], shifted[a0:a1])
            on_tile()
        return min_arg, shifted

    states = _run_tiles(pairs, work, n_jobs, verbose)
    min_arg, shifted = states[0]
    for other_min, other_sum in states[1:]:
        _kk.merge_logsumexp(min_arg, shifted, other_min, other_sum)
    return np.log(shifted) - min_arg


def _group_sums(Y, X, group, n_groups, scale, tile_size, n_jobs):
    """sum_{j in g} K(y, x_j) for each row y of Y and each group g, shape (n_y, n_groups);
    ``group`` (n_x,) int gives each row of X its group (one bandwidth, ``scale`` = 1/(2h^2))."""
    sq_y = np.einsum("ij,ij->i", Y, Y)
    sq_x = np.einsum("ij,ij->i", X, X)
    pairs = [(a0, b0) for a0 in range(0, Y.shape[0], tile_size)
             for b0 in range(0, X.shape[0], tile_size)]
    if not pairs:
        return np.zeros((Y.shape[0], n_groups))

    def work(worker, share, on_tile):
        out = np.zeros((Y.shape[0], n_groups))
        gram = np.empty(min(tile_size, Y.shape[0]) * min(tile_size, X.shape[0]))
        for a0, b0 in share:
            a1, b1 = min(a0 + tile_size, Y.shape[0]), min(b0 + tile_size, X.shape[0])
            g = _tile_view(gram, a1 - a0, b1 - b0)
            np.dot(Y[a0:a1], X[b0:b1].T, out=g)
            _kk.tile_group_sums(g, sq_y[a0:a1], sq_x[b0:b1], Y[a0:a1], X[b0:b1], scale,
                                group[b0:b1], out[a0:a1])
            on_tile()
        return out

    return sum(_run_tiles(pairs, work, n_jobs, False))


def lazy_store(X):
    """True when X is a ``DescriptorStore`` that a dask engine will read block by block;
    any other X (a store outside an engine included) is checked and loaded as usual."""
    from quests.io import DescriptorStore

    return _engine.active() and isinstance(X, DescriptorStore)


class KernelSums:
    """Exact Gaussian kernel sums over one descriptor space, for algorithms that grow a set.

    Validates X (and ``reference``) and the bandwidth once, and centres them
    on X's column mean (distances are translation invariant; centring shrinks
    |x|^2 + |y|^2 - 2 x.y and with it the cancellation error, so duplicates
    give exactly zero distance). The methods then take rows of the centred
    arrays ``X_`` and ``reference_`` and check nothing again, so a greedy loop
    (compression, learning curves) pays for validation once.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Descriptors, 1/Å (or a ``quests.io.DescriptorStore`` inside a dask engine).
    bandwidth : float or array-like of shape (n_h,), default=0.015
        1/Å. A scalar gives sums without a bandwidth axis.
    reference : array-like of shape (n_reference, n_features) or None
        More descriptors of the same space (the kept data, or queries).
    tile_size : int, default=1024
    n_jobs : int or None, default=None

    Attributes
    ----------
    X_ : ndarray of shape (n_samples, n_features)
        X minus its column mean.
    reference_ : ndarray of shape (n_reference, n_features) or None
        ``reference`` minus the same mean.
    scale_ : ndarray of shape (n_h,)
        1 / (2 h^2) per bandwidth.

    Examples
    --------
    >>> import numpy as np
    >>> sums = KernelSums(np.array([[0.0], [0.0], [1.0]]), 0.1)
    >>> sums.self_sums(sums.X_).tolist()
    [2.0, 2.0, 1.0]
    >>> round(float(sums.log_sums(sums.X_[:1], sums.X_[2:])[0]), 6)
    -50.0
    """

    def __init__(self, X, bandwidth=DEFAULT_BANDWIDTH, reference=None, *,
                 tile_size=DEFAULT_TILE_SIZE, n_jobs=None):
        lazy = lazy_store(X)  # a store stays on disk, centred block by block by the workers
        if lazy and X.shape[0] == 0:
            raise InvalidInputError("X holds no descriptors")
        if not lazy:
            X = check_descriptors(X, "X")
        if reference is not None:
            reference = check_descriptors(reference, "reference", min_rows=0)
            if reference.shape[1] != X.shape[1]:
                raise InvalidInputError(
                    f"reference has {reference.shape[1]} features but X has {X.shape[1]}: both "
                    "must be computed with the same descriptor settings (k, species)")
        h, self._scalar = as_bandwidths(bandwidth)
        self.scale_ = 1.0 / (2.0 * h * h)
        centre = _engine.engine_call("column_mean", X) if lazy else X.mean(axis=0)
        self.X_ = X.centred(centre) if lazy else X - centre
        self.reference_ = None if reference is None else reference - centre
        self.tile_size = tile_size
        self.n_jobs = n_jobs

    def shaped(self, values):
        """``values`` of shape (..., n_h) without the bandwidth axis when h is a scalar (a
        float for shape (n_h,))."""
        values = _shape_result(np.asarray(values, dtype=np.float64), self._scalar)
        return float(values) if values.ndim == 0 else values

    def self_sums(self, rows, verbose=False):
        """p_i = sum_j K(r_i, r_j) over ``rows`` (self term included, so each >= 1).

        ``rows``: array of shape (n, n_features) in the centred space. Returns (n,)
        or (n, n_h).
        """
        return self.shaped(_self_sums(rows, self.scale_, self.tile_size, self.n_jobs, verbose))

    def log_sums(self, Y, X, verbose=False):
        """ln sum_j K(y, x_j) for each row y of ``Y`` over the rows of ``X`` (both centred),
        finite for any distance (a streaming log-sum-exp); -inf where X has no rows.

        Returns (n_y,) or (n_y, n_h).
        """
        if X.shape[0] == 0:
            return self.shaped(np.full((Y.shape[0], self.scale_.shape[0]), -np.inf))
        return self.shaped(_cross_log_sums(Y, X, self.scale_, self.tile_size, self.n_jobs,
                                           verbose))

    def group_sums(self, Y, X, counts):
        """Kernel sums of each row of ``Y`` over each group of rows of ``X`` (both centred).

        ``counts`` (n_groups,) int: X's rows, one group after another (the atoms
        of each structure). Scalar bandwidth only. Returns (n_y, n_groups):
        entry [i, g] = sum over the rows j of group g of K(y_i, x_j).
        """
        if not self._scalar:
            raise InvalidInputError("group_sums takes one bandwidth")
        counts = np.asarray(counts, dtype=np.int64)
        group = np.repeat(np.arange(counts.shape[0]), counts)
        return _group_sums(Y, X, group, counts.shape[0], float(self.scale_[0]), self.tile_size,
                           self.n_jobs)


@validate_params(_COMMON)
def kernel_sum(X, bandwidth=DEFAULT_BANDWIDTH, Y=None, *, tile_size=DEFAULT_TILE_SIZE, n_jobs=None,
               verbose=False):
    """Gaussian kernel sums sum_j exp(-|y - x_j|^2 / (2 h^2)) over the rows of X.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Reference descriptors (1/Å).
    bandwidth : float or array-like of shape (n_h,), default=0.015
        h, 1/Å.
    Y : array-like of shape (n_queries, n_features) or None, default=None
        Query points; None sums each row of X over X (self term included, so
        every sum is >= 1), visiting each pair of tiles once.
    tile_size : int, default=1024
        Rows per tile; memory is O(tile_size^2) whatever the sizes.
    n_jobs : int or None, default=None
    verbose : bool, default=False

    Returns
    -------
    ndarray of shape (n,) for scalar h, (n, n_h) for a vector h
        n is n_samples if Y is None, else n_queries.

    Examples
    --------
    >>> import numpy as np
    >>> kernel_sum(np.zeros((3, 2)), bandwidth=0.1).tolist()
    [3.0, 3.0, 3.0]
    """
    sums = KernelSums(X, bandwidth, Y, tile_size=tile_size, n_jobs=n_jobs)
    if Y is None:
        return sums.self_sums(sums.X_, verbose)
    return np.exp(sums.log_sums(sums.reference_, sums.X_, verbose))


@validate_params(_COMMON)
def log_kernel_sum(Y, X, bandwidth=DEFAULT_BANDWIDTH, *, tile_size=DEFAULT_TILE_SIZE, n_jobs=None,
                   verbose=False):
    """ln sum_j exp(-|y - x_j|^2 / (2 h^2)) for each row y of Y, finite for any distance.

    Computed as a streaming log-sum-exp. Shapes as in ``kernel_sum``.

    Examples
    --------
    ln 3 for a point on three reference points; -d^2 / (2 h^2) for a far one, where
    the kernel itself would underflow:

    >>> import numpy as np
    >>> log_kernel_sum([[0.0, 0.0], [3.0, 0.0]], np.zeros((3, 2)), bandwidth=0.1).round(4)
    array([   1.0986, -448.9014])
    """
    sums = KernelSums(X, bandwidth, Y, tile_size=tile_size, n_jobs=n_jobs)
    return sums.log_sums(sums.reference_, sums.X_, verbose)
