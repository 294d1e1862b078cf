"""Kernel density estimates over descriptors: entropy, diversity, dH, overlap.

Gaussian kernel K(x, y) = exp(-|x - y|^2 / (2 h^2)) without normalisation;
bandwidth h in 1/Å (default 0.015). A scalar h gives results without a
bandwidth axis; a 1-D h of length n_h adds a trailing axis of length n_h.

Exact sums are tiled BLAS + numba (``kernel_sum``; ``KernelSums`` for algorithms
that grow a set step by step, such as compression); approximate ones sample
the outer mean (H, D) or truncate to the candidates of a ``NeighborIndex``
(dH), and report their own error. ``method='auto'`` picks between them.
"""

from quests.kde._bandwidth import DEFAULT_BANDWIDTH_GRID, BandwidthSelection, \
    resolve_bandwidth, select_bandwidth
from quests.kde._estimators import (
    AUTO_EXACT_ENVIRONMENTS,
    AUTO_EXACT_PAIRS,
    AUTO_EXACT_REFERENCE,
    DEFAULT_KDE_NEIGHBORS,
    DEFAULT_TOLERANCE,
    DatasetEntropy,
    auto_method,
    dataset_entropy,
    differential_entropy,
    diversity,
    diversity_from_sums,
    entropy,
    entropy_from_sums,
    overlap,
)
from quests.kde._exact import (
    DEFAULT_BANDWIDTH,
    DEFAULT_TILE_SIZE,
    KernelSums,
    kernel_sum,
    log_kernel_sum,
)
from quests.kde._index import BACKENDS, DEFAULT_BACKEND, NeighborIndex, read_index, write_index

__all__ = [
    "AUTO_EXACT_ENVIRONMENTS",
    "BandwidthSelection",
    "DEFAULT_BANDWIDTH_GRID",
    "AUTO_EXACT_PAIRS",
    "AUTO_EXACT_REFERENCE",
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_BANDWIDTH",
    "DEFAULT_KDE_NEIGHBORS",
    "DEFAULT_TILE_SIZE",
    "DEFAULT_TOLERANCE",
    "DatasetEntropy",
    "KernelSums",
    "NeighborIndex",
    "auto_method",
    "dataset_entropy",
    "differential_entropy",
    "diversity",
    "diversity_from_sums",
    "entropy",
    "entropy_from_sums",
    "kernel_sum",
    "log_kernel_sum",
    "overlap",
    "select_bandwidth",
    "read_index",
    "resolve_bandwidth",
    "write_index",
]
