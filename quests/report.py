"""Entropy of whole datasets: descriptors, then kernel sums, per dataset.

This is what ``quests entropy`` prints, as a Python function that takes
structures (not files) so scripts and notebooks call it the same way.
"""

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from quests._errors import InvalidInputError
from quests._text import align_table
from quests._validation import CUTOFF, N_JOBS, NEIGHBORS, Bandwidth, validate_params
from quests.descriptor import DEFAULT_CUTOFF, DEFAULT_K, compute_descriptors, resolve_species
from quests.kde import DEFAULT_BANDWIDTH, dataset_entropy
from quests.structures import as_frames

__all__ = ["DatasetRow", "EntropyReport", "entropy_report"]


@dataclass(frozen=True)
class DatasetRow:
    """Entropy figures of one dataset (or of the union of all, named ``"all"``).

    Examples
    --------
    >>> from quests.data import rattled_crystal
    >>> hot = [rattled_crystal(stdev=0.2, seed=s) for s in range(3)]
    >>> row = entropy_report({"hot": hot}, bandwidth=[0.015, 0.03]).rows[0]
    >>> row.name, row.n_structures, row.n_environments, round(row.max_entropy, 4)
    ('hot', 3, 96, 4.5643)
    >>> [round(H, 2) for H in row.entropy]  # nats, one per bandwidth
    [4.54, 3.51]
    """

    name: str
    n_structures: int
    n_environments: int
    entropy: object  # float, or list per bandwidth
    max_entropy: float
    diversity: object
    seconds: float


@dataclass(frozen=True)
class EntropyReport:
    """Rows per dataset plus the settings that produced them.

    Examples
    --------
    >>> from quests.data import rattled_crystal
    >>> report = entropy_report({"crystal": rattled_crystal(stdev=0.0),
    ...                          "hot": [rattled_crystal(stdev=0.2, seed=s) for s in range(3)]})
    >>> print(report.summary())  # doctest: +ELLIPSIS
    dataset  structures  environments      h  H (nats)    ln N  D (nats)  time (s)
    crystal           1            32  0.015    0.0000  3.4657    0.0000 ...
    hot               3            96  0.015    4.5447  4.5643    4.5451 ...
    all               4           128  0.015    3.9708  4.8520    4.5556 ...
    >>> summary = report.to_dict()
    >>> summary["parameters"]
    {'k': 32, 'cutoff': 5.0, 'bandwidth': 0.015, 'species': None}
    >>> [row["name"] for row in summary["datasets"]]
    ['crystal', 'hot', 'all']
    """

    rows: list
    parameters: dict = field(default_factory=dict)

    def to_dict(self):
        return {"parameters": self.parameters, "datasets": [asdict(r) for r in self.rows]}

    def summary(self):
        """What ``quests entropy`` prints: one line per dataset and bandwidth."""
        hs = self.parameters["bandwidth"]
        hs = hs if isinstance(hs, list) else [hs]
        lines = []
        for row in self.rows:
            entropies = row.entropy if isinstance(row.entropy, list) else [row.entropy]
            diversities = row.diversity if isinstance(row.diversity, list) else [row.diversity]
            for h, H, D in zip(hs, entropies, diversities):
                lines.append((row.name, str(row.n_structures or "-"), str(row.n_environments),
                              f"{h:g}", f"{H:.4f}", f"{row.max_entropy:.4f}", f"{D:.4f}",
                              f"{row.seconds:.2f}"))
        return align_table(("dataset", "structures", "environments", "h", "H (nats)", "ln N",
                            "D (nats)", "time (s)"), lines)


def _as_list(value):
    return np.asarray(value, dtype=float).tolist()


@validate_params(
    {
        "k": NEIGHBORS,
        "cutoff": CUTOFF,
        "bandwidth": Bandwidth(),
        "n_jobs": N_JOBS,
    }
)
def entropy_report(
    datasets,
    k=DEFAULT_K,
    cutoff=DEFAULT_CUTOFF,
    bandwidth=DEFAULT_BANDWIDTH,
    *,
    species=None,
    union=None,
    n_jobs=None,
    verbose=False,
):
    """Entropy H, diversity D and size of each dataset (and of their union).

    Parameters
    ----------
    datasets : dict of str -> structures, or a list of structures
        Each value is anything ``compute_descriptors`` takes, or a
        precomputed descriptor array of shape (n_environments, n_features) or a
        ``quests.io.DescriptorStore`` (read block by block inside a dask engine).
        A plain list is one dataset named ``"dataset"``.
    k, cutoff : descriptor settings (default 32, 5.0 Å)
    bandwidth : float or sequence of float, default=0.015
        Kernel bandwidth(s), 1/Å.
    species : None, "all" or list of int
        Multicomponent descriptor; "all" uses the species of all datasets
        together so every dataset is described in the same space.
    union : bool or None
        Add a row ``"all"`` (``"all datasets"`` if a dataset is called
        "all") for all environments together (default: when there is more
        than one dataset).
    n_jobs : int or None
    verbose : bool

    Returns
    -------
    EntropyReport

    Examples
    --------
    >>> from quests.data import rattled_crystal
    >>> report = entropy_report({"crystal": rattled_crystal(stdev=0.0),
    ...                          "hot": [rattled_crystal(stdev=0.2, seed=s) for s in range(3)]})
    >>> [(r.name, r.n_structures, r.n_environments) for r in report.rows]
    [('crystal', 1, 32), ('hot', 3, 96), ('all', 4, 128)]
    >>> crystal, hot, union = report.rows
    >>> crystal.entropy, bool(0 < hot.entropy <= hot.max_entropy)
    (0.0, True)
    """
    if not isinstance(datasets, dict):
        datasets = {"dataset": datasets}
    if not datasets:
        raise InvalidInputError("no datasets given")
    if union is None:
        union = len(datasets) > 1
    # convert (and validate) each dataset once; descriptor arrays pass through
    from quests.io import DescriptorStore

    stored = (np.ndarray, DescriptorStore)  # a store stays on disk inside a dask engine
    datasets = {name: value if isinstance(value, stored) else as_frames(value, label=name)
                for name, value in datasets.items()}
    if isinstance(species, str) and species == "all":
        frames = [f for v in datasets.values() if not isinstance(v, stored) for f in v]
        species = resolve_species(species, frames) if frames else None
    _warm_up(describe=any(not isinstance(v, stored) for v in datasets.values()))
    rows, blocks = [], []
    for name, value in datasets.items():
        start = time.perf_counter()
        if isinstance(value, stored):
            x, n_structures = value, 0
        else:
            n_structures = len(value)
            x = compute_descriptors(value, k, cutoff, species=species, n_jobs=n_jobs,
                                    verbose=verbose)
        if x.shape[0] == 0:
            raise InvalidInputError(f"dataset {name!r} has no environments")
        blocks.append(x)
        result = dataset_entropy(x, bandwidth, n_jobs=n_jobs, verbose=verbose)
        rows.append(_row(name, n_structures, result, time.perf_counter() - start))
    if union:
        widths = {b.shape[1] for b in blocks}
        if len(widths) > 1:
            raise InvalidInputError(
                f"datasets have descriptors of different lengths {sorted(widths)}: "
                "they were computed with different settings"
            )
        start = time.perf_counter()
        result = dataset_entropy(np.vstack(blocks), bandwidth, n_jobs=n_jobs, verbose=verbose)
        union_name = "all" if "all" not in datasets else "all datasets"
        rows.append(_row(union_name, sum(r.n_structures for r in rows), result,
                         time.perf_counter() - start))
    parameters = {
        "k": int(k),
        "cutoff": float(cutoff),
        "bandwidth": _as_list(bandwidth),
        "species": list(species) if species is not None else None,
    }
    return EntropyReport(rows, parameters)


def _warm_up(describe=True):
    """Compile (or load from numba's cache) the exact-entropy kernels, and with ``describe``
    the descriptor kernels, on a two-atom cell, so that the first dataset's time is its
    own, not the compile's. Datasets given as descriptors need no descriptor kernel."""
    from quests import _engine

    if _engine.active():
        return  # the workers compile for themselves
    if describe:
        cell = (np.array([[0.0, 0.0, 0.0], [1.5, 0.0, 0.0]]), np.eye(3) * 4.0,
                np.ones(3, bool))
        x = compute_descriptors([cell], k=2, cutoff=3.0, n_jobs=1)
    else:
        x = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    dataset_entropy(x, 1.0, method="exact", n_jobs=1)


def _row(name, n_structures, result, seconds):
    return DatasetRow(
        name=name,
        n_structures=int(n_structures),
        n_environments=int(result.n_environments),
        entropy=_as_list(result.entropy) if np.ndim(result.entropy) else float(result.entropy),
        max_entropy=float(result.max_entropy),
        diversity=_as_list(result.diversity) if np.ndim(result.diversity) else float(result.diversity),
        seconds=float(seconds),
    )
