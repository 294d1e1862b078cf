"""Default settings of the method, in a module light enough for the CLI to import.

Public as ``quests.descriptor.DEFAULT_K``, ``quests.descriptor.DEFAULT_CUTOFF``
and ``quests.kde.DEFAULT_BANDWIDTH``.
"""

#: nearest neighbours per environment
DEFAULT_K = 32
#: cutoff radius of the descriptor's weight function, Å
DEFAULT_CUTOFF = 5.0


def descriptor_length(k=DEFAULT_K, n_species=0):
    """Number of descriptor columns: (2k - 1) times (1 + n_species).

    Public as ``quests.descriptor.descriptor_length``; here so that the readers of
    descriptor files (``quests.io``) check widths by the same rule.

    >>> descriptor_length(32), descriptor_length(32, 2)
    (63, 189)
    """
    return (2 * k - 1) * (1 + n_species)


#: Gaussian kernel bandwidth, 1/Å
DEFAULT_BANDWIDTH = 0.015
#: m, candidate neighbours per query of the approximate dH
DEFAULT_KDE_NEIGHBORS = 64
#: nearest-neighbour index backends (``quests.kde.BACKENDS`` holds their classes)
BACKEND_NAMES = ("hnsw", "pynndescent", "brute")
#: how kernel sums are computed (``quests.kde`` estimators' ``method``)
KDE_METHODS = ("auto", "exact", "approx")
#: selection methods of ``quests.compression.compress`` (its ``METHODS``)
COMPRESSION_METHODS = ("coverage", "msc", "msc_conditional", "random", "fps", "mean_fps",
                       "k_means")
#: the default of ``quests compress`` and ``compress()``
DEFAULT_COMPRESSION_METHOD = "coverage"
#: info keys that name a structure's category, tried in this order by key='auto'
CATEGORY_KEYS = ("config_type", "group", "kind")
#: fractions of the dataset at which ``compress(key=...)`` counts the categories kept
CATEGORY_FRACTIONS = (0.05, 0.1, 0.2, 0.5)
#: environments that stand for the dataset in the coverage objective (all up to this many)
DEFAULT_PROBES = 8192
#: s of the Debye temperature s * 231.04 K * v^(1/6) * (B0/M)^(1/2) (quests.zenn's
#: debye_temperature): Moruzzi, Janak and Schwarz's 0.617
DEFAULT_DEBYE_SCALING = 0.617
#: the most points a temperature or volume grid of quests.zenn may hold (5:1e9:1 is a
#: typo, not a grid)
MAX_GRID_POINTS = 100_000
