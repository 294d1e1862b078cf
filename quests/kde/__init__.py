"""Kernel density estimates over descriptors: entropy, diversity, dH, overlap.

Gaussian kernel K(x, y) = exp(-|x - y|^2 / (2 h^2)) without normalisation;
bandwidth h in 1/Å (default 0.015). A scalar h gives results without a
bandwidth axis; a 1-D h of length n_h adds a trailing axis of length n_h.
"""

from quests.kde._exact import (
    DEFAULT_BANDWIDTH,
    DEFAULT_TILE_SIZE,
    DatasetEntropy,
    dataset_entropy,
    differential_entropy,
    diversity,
    entropy,
    kernel_sum,
    log_kernel_sum,
    overlap,
)

__all__ = [
    "DEFAULT_BANDWIDTH",
    "DEFAULT_TILE_SIZE",
    "DatasetEntropy",
    "dataset_entropy",
    "differential_entropy",
    "diversity",
    "entropy",
    "kernel_sum",
    "log_kernel_sum",
    "overlap",
]
