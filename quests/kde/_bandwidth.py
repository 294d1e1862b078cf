"""A bandwidth chosen from the reference data alone: leave-one-structure-out likelihood.

The kernel density estimate of the reference, normalised, is
p_h(y) = (1/N) sum_j N(y; x_j, h^2 I), with ln N(y; x, h^2 I) =
-|y - x|^2 / (2 h^2) - (d/2) ln(2 pi h^2). The likelihood cross-validation
choice of h (Duin 1976; Silverman, Density Estimation, 1986, sec. 3.4.4)
maximises the mean log density of held-out points under the estimate built
without them. Atoms of one structure (snapshots of one MD run, one strained
cell) are strongly correlated, so we hold out whole structures: every
sampled atom of structure s is scored against the atoms of all other
structures. A bandwidth that fits the reference's own spread between
structures is the scale at which a new structure's environments count as
seen, which is what dH measures.
"""

import math
from dataclasses import dataclass

import numpy as np

from quests._errors import InvalidInputError
from quests._validation import check_descriptors
from quests.kde._exact import KernelSums

__all__ = ["BandwidthSelection", "select_bandwidth", "resolve_bandwidth",
           "DEFAULT_BANDWIDTH_GRID"]

#: candidate bandwidths, 1/Å: log-spaced around the QUESTS default 0.015
DEFAULT_BANDWIDTH_GRID = tuple(float(h) for h in np.geomspace(0.002, 0.1, 25))


@dataclass
class BandwidthSelection:
    """The bandwidth ``select_bandwidth`` chose, with the score of every candidate.

    Attributes
    ----------
    bandwidth : float
        The candidate with the largest mean held-out log-likelihood, 1/Å.
    candidates : ndarray of shape (n_candidates,)
    scores : ndarray of shape (n_candidates,)
        Mean log density (nats per environment, normalised Gaussian kernel)
        of the held-out environments.
    n_queries : int
        Held-out environments scored.
    held_out : {'structure', 'environment'}

    Examples
    --------
    >>> import numpy as np
    >>> choice = BandwidthSelection(0.01, np.array([0.005, 0.01]), np.array([1.0, 2.0]), 10,
    ...                             "structure")
    >>> choice.to_dict()["bandwidth"]
    0.01
    """

    bandwidth: float
    candidates: np.ndarray
    scores: np.ndarray
    n_queries: int
    held_out: str

    def to_dict(self):
        return {"bandwidth": self.bandwidth, "rule": f"leave-one-{self.held_out}-out "
                "likelihood", "n_queries": self.n_queries,
                "candidates": [float(h) for h in self.candidates],
                "scores": [float(s) for s in self.scores]}


def select_bandwidth(X, offsets=None, *, candidates=DEFAULT_BANDWIDTH_GRID, max_queries=2000,
                     seed=0, n_jobs=None):
    """The bandwidth that best predicts held-out reference environments.

    Parameters
    ----------
    X : array of shape (n, n_features)
        Reference descriptors, one structure's rows after another.
    offsets : array of shape (n_structures + 1,) or None
        Start row of each structure (``quests.descriptor.structure_offsets``);
        each structure's environments are scored against the other
        structures'. None holds out single environments (then correlated
        environments of one structure pull h down: give the offsets where
        known).
    candidates : sequence of float
        Bandwidths to score, 1/Å (log-spaced 0.002-0.1 by default).
    max_queries : int
        Held-out environments scored at most (a seeded sample, spread over
        the structures in proportion to their size).
    seed : int
    n_jobs : int or None

    Returns
    -------
    BandwidthSelection

    Examples
    --------
    Two clusters of "structures", each a blob of spread 0.02 around its own
    centre: the chosen h is of the order of that spread.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.normal(0, 0.02, size=(40, 3))
    >>> X = np.concatenate([c + rng.normal(0, 0.005, size=(10, 3)) for c in centres])
    >>> offsets = np.arange(0, 401, 10)
    >>> choice = select_bandwidth(X, offsets, candidates=np.geomspace(0.001, 0.1, 21))
    >>> 0.005 < choice.bandwidth < 0.03
    True
    """
    X = check_descriptors(X, "reference descriptors")
    candidates = np.asarray(candidates, dtype=np.float64).ravel()
    if candidates.size == 0 or not np.all(np.isfinite(candidates)) or np.any(candidates <= 0):
        raise InvalidInputError("candidate bandwidths must be positive, finite numbers")
    n = X.shape[0]
    if offsets is None:
        held_out, offsets = "environment", np.arange(n + 1)
    else:
        held_out, offsets = "structure", np.asarray(offsets, dtype=np.int64)
        if offsets.ndim != 1 or offsets[0] != 0 or offsets[-1] != n or np.any(
                np.diff(offsets) < 0):
            raise InvalidInputError("structure offsets must rise from 0 to the number of "
                                    "reference environments")
    sizes = np.diff(offsets)
    if np.count_nonzero(sizes) < 2:
        raise InvalidInputError(f"choosing a bandwidth from the data needs at least two "
                                f"reference {held_out}s to hold out; got "
                                f"{np.count_nonzero(sizes)}")
    # the sample: every environment up to max_queries, else a seeded subset spread evenly
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(n, size=min(n, max_queries), replace=False))
    owner = np.searchsorted(offsets, chosen, side="right") - 1
    # validated and centred once; each structure's queries then meet the rows before and
    # after it (views, no copy of the reference), every bandwidth at once
    sums = KernelSums(X, candidates, n_jobs=n_jobs)
    total = np.zeros(candidates.size)
    for s in np.unique(owner):
        queries = sums.X_[chosen[owner == s]]
        start, stop = offsets[s], offsets[s + 1]
        log_sums = np.logaddexp(sums.log_sums(queries, sums.X_[:start]),
                                sums.log_sums(queries, sums.X_[stop:]))
        total += log_sums.sum(axis=0) - queries.shape[0] * math.log(n - (stop - start))
    d = X.shape[1]
    scores = total / chosen.size - 0.5 * d * np.log(2 * np.pi * candidates ** 2)
    best = int(np.argmax(scores))
    return BandwidthSelection(float(candidates[best]), candidates, scores, int(chosen.size),
                              held_out)


def resolve_bandwidth(bandwidth, X, offsets=None, *, chosen=None, n_jobs=None):
    """The bandwidth to use: ``bandwidth`` itself, or for 'auto' the one chosen from the
    reference ``X`` (``select_bandwidth``), unless ``chosen`` already holds that choice.

    Returns (h, selection): h a float (or the array given), selection the
    ``BandwidthSelection.to_dict()`` of an 'auto' choice, else None.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> resolve_bandwidth(0.02, X)
    (0.02, None)
    >>> h, selection = resolve_bandwidth("auto", X, np.arange(0, 41, 10))
    >>> h == selection["bandwidth"], selection["rule"]
    (True, 'leave-one-structure-out likelihood')
    """
    if not (isinstance(bandwidth, str) and bandwidth == "auto"):
        return bandwidth, None
    if chosen is None:
        chosen = select_bandwidth(X, offsets, n_jobs=n_jobs).to_dict()
    return float(chosen["bandwidth"]), chosen
