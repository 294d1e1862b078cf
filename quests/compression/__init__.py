"""Dataset compression: keep the structures that carry the information.

``select_structures(X, counts, size, method)`` orders structures by one of
``METHODS`` (``coverage``, the default, which covers both the environments
and the regions of the dataset; the information-driven ``msc`` and
``msc_conditional`` of Yu, Lordi and Schwalbe-Koda 2025; and the baselines
random, fps, mean_fps, k_means); ``selection_curve`` follows H, D and overlap along that order
incrementally; ``compress(structures, size)`` does both from structures and
reports the dataset before and after.
"""

from quests.compression._compress import (
    CATEGORY_KEYS,
    METHODS,
    Compression,
    Selection,
    category_counts,
    compress,
    compress_descriptors,
    describe_structures,
    resolve_size,
    select_structures,
    selection_curve,
    structure_categories,
)
from quests.compression._greedy import mean_descriptors

__all__ = [
    "CATEGORY_KEYS",
    "METHODS",
    "Compression",
    "compress_descriptors",
    "Selection",
    "category_counts",
    "compress",
    "describe_structures",
    "mean_descriptors",
    "resolve_size",
    "select_structures",
    "selection_curve",
    "structure_categories",
]
