"""Entropy, diversity, dH and overlap: exact or approximate, chosen by ``method``.

``method="exact"`` sums the kernel over every pair (``quests.kde._exact``);
``"approx"`` samples the outer mean for H and D and truncates each dH sum to
m index candidates (``quests.kde._approx``); ``"auto"`` (the default) is
exact while exact is fast (``AUTO_EXACT_ENVIRONMENTS``, ``AUTO_EXACT_PAIRS``)
and approximate above.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from quests._defaults import DEFAULT_BANDWIDTH, DEFAULT_KDE_NEIGHBORS, KDE_METHODS
from quests._errors import InvalidInputError
from quests._validation import (
    N_JOBS,
    TILE_SIZE,
    Bandwidth,
    Interval,
    Options,
    as_bandwidths,
    check_descriptors,
    validate_params,
)
from quests import _engine
from quests.kde import _approx, _exact
from quests.kde._exact import DEFAULT_TILE_SIZE, KernelSums, log_kernel_sum
from quests.kde._index import BACKENDS, DEFAULT_BACKEND, NeighborIndex, _query_here

__all__ = [
    "AUTO_EXACT_ENVIRONMENTS",
    "AUTO_EXACT_PAIRS",
    "AUTO_EXACT_REFERENCE",
    "auto_method",
    "DEFAULT_KDE_NEIGHBORS",
    "DEFAULT_TOLERANCE",
    "DatasetEntropy",
    "dataset_entropy",
    "entropy",
    "diversity",
    "diversity_from_sums",
    "entropy_from_sums",
    "differential_entropy",
    "overlap",
]

#: "auto" computes H and D exactly up to this many environments (~15 s on 2 cores)
AUTO_EXACT_ENVIRONMENTS = 100_000
#: "auto" computes dH exactly while n_queries x n_reference stays below this (~6 s)
AUTO_EXACT_PAIRS = 2_000_000_000
#: "auto" sums dH of a stream of queries (a trajectory, a running simulation) over the whole
#: reference up to this many environments (a query atom then costs 20,000 kernel terms,
#: 52 us on 2 cores: case exact_query of scripts/benchmark_approx.py), over an index above
AUTO_EXACT_REFERENCE = 20_000
#: target standard error (nats) of sampled H and D
DEFAULT_TOLERANCE = 0.01

METHODS = KDE_METHODS

_COMMON = {"bandwidth": Bandwidth(), "tile_size": TILE_SIZE, "n_jobs": N_JOBS}
_SAMPLED = {
    **_COMMON,
    "method": Options(*METHODS),
    "tolerance": Interval(numbers.Real, 0, None, closed="neither"),
    "seed": Interval(numbers.Integral, 0, None),
}
_TRUNCATED = {
    **_COMMON,
    "method": Options(*METHODS),
    "n_neighbors": Interval(numbers.Integral, 1, None),
    "backend": Options(*BACKENDS),
}


@dataclass(frozen=True)
class DatasetEntropy:
    """Information content of one dataset of environments.

    Attributes
    ----------
    n_environments : int
    bandwidth : float or ndarray of shape (n_h,)
    entropy : float or ndarray of shape (n_h,)
        H = ln N - mean_i ln p_i, nats; 0 <= H <= ln N.
    diversity : float or ndarray of shape (n_h,)
        D = ln sum_i 1/p_i, nats; 0 <= D <= ln N.
    max_entropy : float
        ln N, the entropy of N distinct, well-separated environments.
    method : {'exact', 'approx'}
    entropy_error, diversity_error : float or ndarray of shape (n_h,)
        Standard errors (nats) of a sampled estimate; 0 for exact values.
    n_sampled : int
        Environments whose kernel sums were computed (all of them if exact).

    Examples
    --------
    Made by ``dataset_entropy``: a perfect, a slightly and a strongly rattled Cu cell.

    >>> from quests.data import rattled_crystal
    >>> from quests.descriptor import compute_descriptors
    >>> cells = [rattled_crystal("Cu", size=2, stdev=s, seed=1) for s in (0.0, 0.05, 0.1)]
    >>> result = dataset_entropy(compute_descriptors(cells))
    >>> result.n_environments, result.method, round(result.max_entropy, 3)
    (96, 'exact', 4.564)
    >>> round(result.entropy, 3), round(result.diversity, 3)  # nats, below ln 96
    (2.361, 3.041)
    """

    n_environments: int
    bandwidth: object
    entropy: object
    diversity: object
    max_entropy: float
    method: str = "exact"
    entropy_error: object = 0.0
    diversity_error: object = 0.0
    n_sampled: int = 0

    def summary(self):
        """n_environments, entropy, diversity, their errors and the method, as a dict."""
        return {name: getattr(self, name) for name in
                ("n_environments", "entropy", "entropy_error", "diversity", "diversity_error",
                 "method")}


def auto_method(n_reference, n_queries=None, *, dataset=False):
    """What ``method='auto'`` means: 'exact' while exact kernel sums are fast, else 'approx'.

    The one home of the rule. ``dataset``: H and D of a dataset of ``n_reference``
    environments, exact up to ``AUTO_EXACT_ENVIRONMENTS``. Otherwise dH of queries:
    exact while ``n_queries`` x ``n_reference`` <= ``AUTO_EXACT_PAIRS``; for a stream
    of unknown length (``n_queries`` None), while the reference holds at most
    ``AUTO_EXACT_REFERENCE`` environments.

    Examples
    --------
    >>> auto_method(50_000, dataset=True), auto_method(50_000), auto_method(50_000, 100)
    ('exact', 'approx', 'exact')
    """
    if dataset:
        return "exact" if n_reference <= AUTO_EXACT_ENVIRONMENTS else "approx"
    if n_queries is None:
        return "exact" if n_reference <= AUTO_EXACT_REFERENCE else "approx"
    return "exact" if n_queries * n_reference <= AUTO_EXACT_PAIRS else "approx"


def _resolve_dataset_method(method, n):
    return auto_method(n, dataset=True) if method == "auto" else method


@validate_params(_SAMPLED)
def dataset_entropy(X, bandwidth=DEFAULT_BANDWIDTH, *, method="auto", tolerance=DEFAULT_TOLERANCE,
                    seed=0, tile_size=DEFAULT_TILE_SIZE, n_jobs=None, verbose=False):
    """Entropy and diversity of X, exact or sampled.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    bandwidth : float or array-like of shape (n_h,), default=0.015
        h, 1/Å.
    method : {'auto', 'exact', 'approx'}, default='auto'
        'exact' sums every pair (cost N^2); 'approx' estimates H and D from
        the exact sums of a random sample of environments, drawing until
        both standard errors are <= ``tolerance`` (cost ~ N (sigma/tol)^2,
        sigma ~ 2.5 nats on Cu MD data); 'auto' is exact up to
        ``AUTO_EXACT_ENVIRONMENTS`` environments.
    tolerance : float, default=0.01
        Target standard error of sampled H and D, nats.
    seed : int, default=0
        Seed of the sample.

    Returns
    -------
    DatasetEntropy

    Examples
    --------
    Two distinct environments, each repeated: H = ln 2.

    >>> import numpy as np
    >>> X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 50, axis=0)
    >>> r = dataset_entropy(X, bandwidth=0.015)
    >>> round(r.entropy, 12), round(r.diversity, 12), r.n_environments
    (0.693147180560, 0.693147180560, 100)
    """
    X = X if _exact.lazy_store(X) else check_descriptors(X, "X")
    n = X.shape[0]
    sums = KernelSums(X, bandwidth, tile_size=tile_size, n_jobs=n_jobs)
    bandwidth = bandwidth if np.ndim(bandwidth) == 0 else np.asarray(bandwidth, dtype=float)
    if _resolve_dataset_method(method, n) == "exact":
        p = sums.self_sums(sums.X_, verbose)
        return DatasetEntropy(
            n_environments=n, bandwidth=bandwidth, entropy=entropy_from_sums(p),
            diversity=diversity_from_sums(p), max_entropy=float(np.log(n)),
            method="exact", n_sampled=n,
        )
    h_value, h_error, d_value, d_error, n_sampled = _approx.sampled_statistics(
        sums, tolerance, seed, verbose)
    return DatasetEntropy(
        n_environments=n, bandwidth=bandwidth, entropy=sums.shaped(h_value),
        diversity=sums.shaped(d_value), max_entropy=float(np.log(n)), method="approx",
        entropy_error=sums.shaped(h_error), diversity_error=sums.shaped(d_error),
        n_sampled=int(n_sampled),
    )


def entropy_from_sums(sums):
    """H = -(1/N) sum_i ln(p_i / N) from the self sums p_i of N environments, nats.

    ``sums``: shape (N,) or (N, n_h), as ``KernelSums.self_sums`` gives them.
    Returns a float, or an array of shape (n_h,).

    Examples
    --------
    >>> import numpy as np
    >>> round(entropy_from_sums(np.array([1.0, 1.0])), 6)  # two distinct environments
    0.693147
    """
    # 1 <= p_i <= N holds exactly; clipping keeps rounding from stepping out,
    # and -mean(ln(p/N)) is exactly 0 when every p_i = N (identical points)
    n = sums.shape[0]
    ratio = np.clip(sums, 1.0, n) / n
    value = 0.0 - np.log(ratio).mean(axis=0)  # 0.0 - x turns -0.0 into 0.0
    return float(value) if value.ndim == 0 else value


def diversity_from_sums(sums):
    """D = ln sum_i 1/p_i from the self sums p_i, nats; shapes as ``entropy_from_sums``.

    Examples
    --------
    >>> import numpy as np
    >>> round(diversity_from_sums(np.array([2.0, 2.0])), 6)  # one environment, twice
    0.0
    """
    # ln sum_i 1/p_i = ln sum_i (p_min / p_i) - ln p_min: exactly 0 when every p_i = N
    p = np.clip(sums, 1.0, sums.shape[0])
    p_min = p.min(axis=0)
    value = np.log((p_min / p).sum(axis=0)) - np.log(p_min) + 0.0
    return float(value) if value.ndim == 0 else value


@validate_params(_SAMPLED)
def entropy(X, bandwidth=DEFAULT_BANDWIDTH, *, method="auto", tolerance=DEFAULT_TOLERANCE, seed=0,
            tile_size=DEFAULT_TILE_SIZE, n_jobs=None, verbose=False):
    """Dataset entropy H(X) = -(1/N) sum_i ln(p_i / N), nats.

    p_i = sum_j exp(-|x_i - x_j|^2 / (2 h^2)) over all of X (self included).
    Returns a float for scalar h, an array of shape (n_h,) for a vector h.
    ``method``, ``tolerance`` and ``seed`` as in ``dataset_entropy`` (which
    also returns the standard error of a sampled value).

    Examples
    --------
    >>> import numpy as np
    >>> entropy(np.zeros((10, 3)))
    0.0
    """
    return dataset_entropy(X, bandwidth, method=method, tolerance=tolerance, seed=seed,
                           tile_size=tile_size, n_jobs=n_jobs, verbose=verbose).entropy


@validate_params(_SAMPLED)
def diversity(X, bandwidth=DEFAULT_BANDWIDTH, *, method="auto", tolerance=DEFAULT_TOLERANCE, seed=0,
              tile_size=DEFAULT_TILE_SIZE, n_jobs=None, verbose=False):
    """Diversity D(X) = ln sum_i 1/p_i, nats: the log of the effective number of distinct
    environments. Shapes and ``method`` as in ``entropy``.

    Examples
    --------
    >>> import numpy as np
    >>> round(diversity(np.eye(4)), 12)  # four far-apart points
    1.386294361120
    """
    return dataset_entropy(X, bandwidth, method=method, tolerance=tolerance, seed=seed,
                           tile_size=tile_size, n_jobs=n_jobs, verbose=verbose).diversity


def _resolve_query_method(method, n_queries, reference, n_neighbors):
    n = reference.n_samples_ if isinstance(reference, NeighborIndex) else len(reference)
    if n_neighbors >= n:
        return "exact"  # the m candidates would be every point: the exact sum
    return auto_method(n, n_queries) if method == "auto" else method


@validate_params(_TRUNCATED)
def differential_entropy(Y, X, bandwidth=DEFAULT_BANDWIDTH, *, method="auto",
                         n_neighbors=DEFAULT_KDE_NEIGHBORS, backend=DEFAULT_BACKEND,
                         return_bound=False, tile_size=DEFAULT_TILE_SIZE, n_jobs=None,
                         verbose=False):
    """Differential entropy dH(y | X) = -ln sum_j exp(-|y - x_j|^2 / (2 h^2)), nats.

    dH > 0 marks y as novel with respect to X (extrapolation); dH <= 0 means
    y lies inside the data. Finite however far y is from X (log-sum-exp).

    Parameters
    ----------
    Y : array-like of shape (n_queries, n_features)
    X : array-like of shape (n_samples, n_features), or a fitted NeighborIndex
        The reference; an index is reused across calls (build it once for
        a trajectory).
    bandwidth : float or array-like of shape (n_h,), default=0.015
        h, 1/Å.
    method : {'auto', 'exact', 'approx'}, default='auto'
        'approx' sums over the ``n_neighbors`` candidates of a nearest-
        neighbour index only: an upper bound on the exact dH, equal to it when
        n_neighbors >= n_samples. 'auto' is exact while n_queries x n_samples
        <= ``AUTO_EXACT_PAIRS``.
    n_neighbors : int, default=64
        m, candidates per query (approximate method).
    backend : {'hnsw', 'pynndescent', 'brute'}, default='hnsw'
        Index built when X is an array and the method is approximate. For a
        ``quests.io.DescriptorStore`` inside a dask engine, one index per block
        of the store, built and searched on the workers (the m nearest of all
        blocks' candidates: with 'brute' the same as one index).
    return_bound : bool, default=False
        Also return, per query, ln(1 + (N - m) K(d_m) / S_m): how much the
        approximate dH can exceed the exact one if the candidates are the m
        nearest (0 for exact values).

    Returns
    -------
    dH : ndarray of shape (n_queries,) for scalar h, (n_queries, n_h) for a vector h
    bound : ndarray of the same shape, only if ``return_bound``

    Examples
    --------
    A point at distance d from a one-point set has dH = d^2 / (2 h^2):

    >>> import numpy as np
    >>> differential_entropy([[0.3, 0.4]], [[0.0, 0.0]], bandwidth=0.05).round(9).tolist()
    [50.0]
    """
    is_index = isinstance(X, NeighborIndex)
    if is_index:
        X._check_fitted()
    reference = X.descriptors_ if is_index else (
        X if _exact.lazy_store(X) else check_descriptors(X, "X"))
    Y = check_descriptors(Y, "Y", min_rows=0)
    if Y.shape[1] != reference.shape[1]:
        raise InvalidInputError(
            f"Y has {Y.shape[1]} features but the reference has {reference.shape[1]}: both "
            "must be computed with the same descriptor settings (k, species)"
        )
    if _resolve_query_method(method, Y.shape[0], X if is_index else reference,
                             n_neighbors) == "exact":
        dh = -log_kernel_sum(Y, reference, bandwidth, tile_size=tile_size, n_jobs=n_jobs,
                             verbose=verbose)
        return (dh, np.zeros_like(dh)) if return_bound else dh
    h_arr, scalar = as_bandwidths(bandwidth)
    if not is_index and _exact.lazy_store(reference):
        # one index per block of the store, built and searched on the workers; the m
        # nearest of all the blocks' candidates
        _, sq_distances = _engine.engine_call("partitioned_query", reference, Y, n_neighbors,
                                              backend, local=_query_here)
        n_samples = reference.shape[0]
    else:
        index = X if is_index else NeighborIndex(backend, n_jobs=n_jobs).fit(reference)
        _, sq_distances = index.query(Y, n_neighbors)
        n_samples = index.n_samples_
    log_sums, bounds = _approx.truncated_log_sums(sq_distances, n_samples,
                                                  1.0 / (2.0 * h_arr * h_arr))
    dh = _exact._shape_result(-log_sums + 0.0, scalar)
    return (dh, _exact._shape_result(bounds, scalar)) if return_bound else dh


@validate_params({**_TRUNCATED, "threshold": Interval(numbers.Real)})
def overlap(Y, X, bandwidth=DEFAULT_BANDWIDTH, threshold=0.0, *, method="auto",
            n_neighbors=DEFAULT_KDE_NEIGHBORS, backend=DEFAULT_BACKEND,
            tile_size=DEFAULT_TILE_SIZE, n_jobs=None, verbose=False):
    """Overlap(Y | X): fraction of rows of Y with dH(y | X) <= ``threshold``.

    1 means X covers every environment of Y; 0 means all of Y is novel.
    Returns a float for scalar h, an array of shape (n_h,) for a vector h.
    With ``method='approx'`` dH is an upper bound, so the overlap is a lower
    bound. Other parameters as in ``differential_entropy``.

    Examples
    --------
    >>> import numpy as np
    >>> overlap([[0.0], [0.001], [5.0]], [[0.0], [0.001]], bandwidth=0.015)
    0.6666666666666666
    """
    dh = differential_entropy(Y, X, bandwidth, method=method, n_neighbors=n_neighbors,
                              backend=backend, tile_size=tile_size, n_jobs=n_jobs,
                              verbose=verbose)
    if dh.shape[0] == 0:
        raise InvalidInputError("Y is empty: the overlap of no environments is undefined")
    value = (dh <= threshold).mean(axis=0)
    return float(value) if value.ndim == 0 else value
