"""Public compression API: choose structures, measure what the choice keeps."""

import numbers
from dataclasses import dataclass, field

import numpy as np

from quests._defaults import (
    CATEGORY_FRACTIONS,
    CATEGORY_KEYS,
    COMPRESSION_METHODS,
    DEFAULT_BANDWIDTH,
    DEFAULT_COMPRESSION_METHOD,
    DEFAULT_CUTOFF,
    DEFAULT_K,
    DEFAULT_PROBES,
)
from quests._errors import InvalidInputError
from quests._progress import progress_bar
from quests._text import align_table
from quests._validation import (
    CUTOFF,
    N_JOBS,
    NEIGHBORS,
    SCALAR_BANDWIDTH,
    Interval,
    Options,
    check_grouped_descriptors,
    validate_params,
)
from quests.compression import _greedy
from quests.descriptor import structure_offsets
from quests.kde import KernelSums, dataset_entropy, diversity_from_sums, entropy_from_sums

__all__ = [
    "METHODS",
    "Selection",
    "Compression",
    "resolve_size",
    "select_structures",
    "selection_curve",
    "compress",
    "describe_structures",
    "structure_categories",
    "category_counts",
    "CATEGORY_KEYS",
]

#: selection methods, in the order the documentation lists them
METHODS = COMPRESSION_METHODS

_SELECT = {
    "method": Options(*METHODS),
    "bandwidth": SCALAR_BANDWIDTH,
    "threshold": Interval(numbers.Real),
    "seed": Interval(numbers.Integral, 0, None),
    "n_probes": Interval(numbers.Integral, 1, None),
    "n_jobs": N_JOBS,
}


@dataclass(frozen=True)
class Selection:
    """Structures chosen by one method, in the order they were chosen.

    Attributes
    ----------
    indices : ndarray of shape (size,) int64
        Indices into the input structures, selection order.
    scores : ndarray of shape (size,)
        What each pick maximised when it was made: coverage the gain of its
        objective (in [0, 2]; 0 once everything is covered, after which picks
        go by msc's score); msc/msc_conditional the
        score max dH + H_structure (nats); fps/mean_fps the distance to the
        nearest earlier pick (1/Å; inf for the first); k_means the size of
        the cluster it represents; random NaN.
    max_differential_entropy : ndarray of shape (size,) or None
        msc/msc_conditional only: dH (nats) of the pick's most novel
        environment against everything chosen before it (and the
        reference); inf for the first unconditional pick.
    method : str
    n_structures : int
        Structures the choice was made from.

    Examples
    --------
    Made by ``select_structures``: given crystal frames already kept, what to add from
    rattled crystals, surfaces and melts.

    >>> from quests.data import mixed_cu_dataset
    >>> data = mixed_cu_dataset(n_crystal=6, n_rattled=2, n_surface=2, n_melt=2)
    >>> kept, candidates = data[:6], data[6:]
    >>> X, counts, reference, _ = describe_structures(candidates, kept)
    >>> selection = select_structures(X, counts, 3, "msc_conditional", reference=reference)
    >>> selection.size, [candidates[i].info["kind"] for i in selection.indices]
    (3, ['surface', 'melt', 'melt'])
    >>> selection.max_differential_entropy.round(1).tolist()  # nats, most novel atom
    [195.9, 82.2, 12.1]
    """

    indices: np.ndarray
    scores: np.ndarray
    method: str
    n_structures: int
    max_differential_entropy: object = None

    @property
    def size(self):
        return int(self.indices.shape[0])


def resolve_size(size, n_structures):
    """Number of structures meant by ``size``: a count (int >= 1) or a fraction in (0, 1].

    A fraction f keeps ceil(f * n_structures) structures (at least 1), so
    1.0 is the whole set.

    Examples
    --------
    >>> resolve_size(0.1, 95), resolve_size(1.0, 95), resolve_size(7, 95)
    (10, 95, 7)
    """
    if isinstance(size, (bool, np.bool_)) or not isinstance(size, numbers.Real):
        raise InvalidInputError(f"size must be a count or a fraction; got {size!r}")
    if isinstance(size, numbers.Integral):
        count = int(size)
        if count < 1:
            raise InvalidInputError(f"size must be at least 1 structure; got {count}")
        if count > n_structures:
            raise InvalidInputError(
                f"size {count} is larger than the dataset ({n_structures} structures)")
        return count
    if not (0.0 < size <= 1.0):
        raise InvalidInputError(
            f"a fractional size must lie in (0, 1] (1.0 keeps everything); got {size!r}")
    return max(1, min(n_structures, int(np.ceil(size * n_structures - 1e-9))))


@validate_params(_SELECT)
def select_structures(X, counts, size, method=DEFAULT_COMPRESSION_METHOD, *, reference=None,
                      bandwidth=DEFAULT_BANDWIDTH, threshold=0.0, seed=0,
                      n_probes=DEFAULT_PROBES, n_jobs=None, verbose=False):
    """Choose ``size`` structures of a dataset, in selection order.

    Parameters
    ----------
    X : array-like of shape (n_environments, n_features)
        Descriptors of all structures, one structure's rows after another.
    counts : array-like of shape (n_structures,) int
        Environments (atoms) of each structure; sums to n_environments.
    size : int or float
        Structures to keep: a count, or a fraction of the dataset in (0, 1].
    method : {'coverage', 'msc', 'msc_conditional', 'random', 'fps', 'mean_fps', 'k_means'}, \
default='coverage'
        - ``coverage``: greedy maximisation of what the kept set covers, of
          the environments and of the regions they populate. An environment
          x is covered by the kept set S when dH(x | S) <= ``threshold`` (as
          ``overlap`` counts it), softened to min(1, sum_S K(x, .) /
          exp(-threshold)) so partial cover counts. The objective is the
          fraction of the dataset's environments covered (what ``overlap``
          measures, and where msc is weak: the dense bulk of near-identical
          frames) plus the fraction of its regions covered (each environment
          weighed by 1 / its kernel sum over the dataset, so a region counts
          once however many frames populate it; their total is exp(D) of the
          dataset; this half keeps the rare environments, as msc does). The
          objective is monotone and submodular; each step takes the structure
          of largest gain, computed exactly for every candidate and updated
          after a pick on the environments it moved. Datasets of more than
          ``n_probes`` environments are represented by a seeded sample of
          that many. Once every environment is covered, the remaining picks
          go by msc's score (max dH against the kept set + own entropy).
        - ``msc``: greedy information maximisation (Yu, Lordi,
          Schwalbe-Koda 2025). Starts from the structure of highest entropy;
          then takes the structure whose most novel environment has the
          largest dH against everything chosen so far, plus its own entropy.
          Structures with no novel environment (max dH <= ``threshold``)
          come after all that have one.
        - ``msc_conditional``: the same, with the kernel sums started from
          ``reference`` (data already kept): what is most informative given it.
        - ``fps``: farthest-point order on the mean distance between the
          environments of two structures, from the highest-entropy structure.
        - ``mean_fps``: farthest-point order on mean descriptors, seeded start.
        - ``k_means``: k-means with k = size on mean descriptors, one
          structure per cluster (the one nearest its centroid).
        - ``random``: a seeded random choice.
    reference : array-like of shape (n_reference, n_features) or None
        Descriptors already kept (``msc_conditional`` only).
    bandwidth : float, default=0.015
        h, 1/Å.
    threshold : float, default=0.0
        dH (nats) above which an environment counts as novel (msc methods).
    seed : int, default=0
        Seed of random, mean_fps and k_means, and of the probe sample of coverage.
    n_probes : int, default=8192
        coverage: environments that stand for the dataset (all of them when
        it has no more); memory grows as n_probes x n_structures.
    n_jobs : int or None, default=None
    verbose : bool, default=False

    Returns
    -------
    Selection

    Examples
    --------
    Three copies of one structure and one distinct: coverage picks one of each kind first.

    >>> import numpy as np
    >>> a, b = np.zeros((2, 3)), np.ones((2, 3))
    >>> X = np.concatenate([a, a, b, a])
    >>> select_structures(X, [2, 2, 2, 2], 2).indices.tolist()
    [0, 2]
    """
    X, counts = check_grouped_descriptors(X, counts)
    n_structures = counts.shape[0]
    size = resolve_size(size, n_structures)
    _check_reference(method, reference)
    return _select(KernelSums(X, bandwidth, reference, n_jobs=n_jobs), counts, size, method,
                   threshold, seed, verbose, n_probes)


def _check_reference(method, reference):
    if method == "msc_conditional" and reference is None:
        raise InvalidInputError("msc_conditional needs a reference (the data already kept)")
    if method != "msc_conditional" and reference is not None:
        raise InvalidInputError(f"a reference is used only by msc_conditional, not by {method}")


def _select(sums, counts, size, method, threshold, seed, verbose, n_probes=DEFAULT_PROBES):
    """``select_structures`` over a validated ``KernelSums`` (its reference, if any, is the
    data already kept)."""
    Xc, n_structures = sums.X_, counts.shape[0]
    steps = size if method in ("coverage", "msc", "msc_conditional", "fps") else 0
    with progress_bar(steps, f"{method} selection", verbose, unit="structure") as bar:
        if method in ("msc", "msc_conditional"):
            order, scores, max_dh = _greedy.information_order(
                sums, counts, size, _greedy.structure_entropies(sums, counts),
                threshold=threshold, on_step=bar.update)
            return Selection(order, scores, method, n_structures, max_dh)
        if method == "coverage":
            order, gains = _greedy.coverage_order(
                sums, counts, size, _greedy.structure_entropies(sums, counts),
                threshold=threshold, n_probes=n_probes, seed=seed, on_step=bar.update)
            return Selection(order, gains, method, n_structures)
        # the other methods by name: each gives (order, scores)
        orders = {
            "fps": lambda: _greedy.farthest_point_order(
                Xc, counts, size, _greedy.structure_entropies(sums, counts), bar.update),
            "mean_fps": lambda: _greedy.mean_farthest_point_order(Xc, counts, size, seed),
            "k_means": lambda: _greedy.k_means_order(Xc, counts, size, seed),
            "random": lambda: _greedy.random_order(n_structures, size, seed),
        }
        order, scores = orders[method]()
    return Selection(order, scores, method, n_structures)


@validate_params({"bandwidth": SCALAR_BANDWIDTH, "threshold": Interval(numbers.Real),
                  "n_jobs": N_JOBS})
def selection_curve(X, counts, order, bandwidth=DEFAULT_BANDWIDTH, threshold=0.0, *,
                    n_jobs=None, verbose=False):
    """Exact H, D and overlap of the kept set after each structure of ``order``.

    Computed incrementally: adding a structure of m environments to a kept
    set of M costs (M + N) m kernel terms (N = all environments), so the
    whole curve costs what one final evaluation would, not one per step.

    Parameters
    ----------
    X, counts : as in ``select_structures``
    order : array-like of shape (n_steps,) int
        Structure indices, in the order they are kept (distinct).
    bandwidth, threshold : as in ``select_structures``

    Returns
    -------
    dict of ndarray, each of shape (n_steps,)
        ``n_structures``, ``n_environments`` (kept so far); ``entropy`` and
        ``diversity`` of the kept environments (nats); ``overlap``: the
        fraction of all environments with dH against the kept ones <=
        ``threshold``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.0], [1.0], [1.0]])
    >>> curve = selection_curve(X, [2, 2], [0, 1])
    >>> curve["overlap"].tolist(), np.round(curve["entropy"], 6).tolist()
    ([0.5, 1.0], [0.0, 0.693147])
    """
    X, counts = check_grouped_descriptors(X, counts)
    order = np.asarray(order, dtype=np.int64)
    if order.ndim != 1 or order.shape[0] == 0:
        raise InvalidInputError("order must be a non-empty 1-D array of structure indices")
    n_structures = counts.shape[0]
    if order.min() < 0 or order.max() >= n_structures or np.unique(order).size != order.size:
        raise InvalidInputError(
            f"order must hold distinct structure indices in [0, {counts.shape[0]})")
    return _curve(KernelSums(X, bandwidth, n_jobs=n_jobs), counts, order, threshold, verbose)


def _curve(sums, counts, order, threshold, verbose):
    """``selection_curve`` over a validated ``KernelSums``."""
    Xc = sums.X_
    offsets = structure_offsets(counts)
    n_kept_total = int(counts[order].sum())
    kept = np.empty((n_kept_total, Xc.shape[1]))
    p_kept = np.empty(n_kept_total)
    all_log = np.full(Xc.shape[0], -np.inf)
    n_steps = order.shape[0]
    curve = {name: np.empty(n_steps) for name in ("entropy", "diversity", "overlap")}
    curve["n_structures"] = np.arange(1, n_steps + 1)
    curve["n_environments"] = np.cumsum(counts[order])
    m = 0
    with progress_bar(n_steps, "selection curve", verbose, unit="structure") as bar:
        for t, s in enumerate(order):
            S = Xc[offsets[s]:offsets[s + 1]]
            p_new = sums.self_sums(S)
            if m > 0:
                p_new += np.exp(sums.log_sums(S, kept[:m]))
                p_kept[:m] += np.exp(sums.log_sums(kept[:m], S))
            kept[m:m + S.shape[0]] = S
            p_kept[m:m + S.shape[0]] = p_new
            m += S.shape[0]
            np.logaddexp(all_log, sums.log_sums(Xc, S), out=all_log)
            curve["entropy"][t] = entropy_from_sums(p_kept[:m])
            curve["diversity"][t] = diversity_from_sums(p_kept[:m])
            curve["overlap"][t] = np.mean(-all_log <= threshold)
            bar.update()
    return curve


@dataclass
class Compression:
    """What ``compress`` chose and what the choice keeps.

    Attributes
    ----------
    selection : Selection
    before, after : dict
        ``n_structures``, ``n_environments``, ``entropy``, ``diversity``
        (nats, with ``entropy_error``/``diversity_error`` and ``method``
        'exact' or 'approx'); ``after`` adds ``overlap``: the fraction of the
        full set's environments with dH against the kept set <= threshold.
    curve : dict or None
        ``selection_curve`` along the selection order, if asked for.
    parameters : dict
    categories : dict or None
        With ``key``: what ``category_counts`` gives for the kept sizes
        (``key``, ``labels``, ``sizes``, ``total``, ``kept``).

    Examples
    --------
    Made by ``compress``: 4 of 12 mostly crystalline Cu structures cover nearly all
    environments.

    >>> from quests.data import mixed_cu_dataset
    >>> data = mixed_cu_dataset(n_crystal=6, n_rattled=2, n_surface=2, n_melt=2)
    >>> result = compress(data, 4)
    >>> [data[i].info["kind"] for i in result.indices]
    ['rattled', 'melt', 'melt', 'surface']
    >>> result.after["n_environments"], round(result.after["overlap"], 3)
    (360, 0.997)
    >>> print(result.summary())
    coverage: kept 4 of 12 structures
    <BLANKLINE>
              structures  environments  H (nats)  D (nats)  overlap
    full set          12          1152    3.6947    5.5097   1.0000
    kept               4           360    5.2930    5.5377   0.9974
    """

    selection: Selection
    before: dict
    after: dict
    curve: object = None
    parameters: dict = field(default_factory=dict)
    categories: object = None

    @property
    def indices(self):
        return self.selection.indices

    def rows(self, sources=None):
        """One dict per kept structure in selection order: rank, index, score, max_dH
        (msc methods) and the curve's kept_* values (with a curve); with ``sources``
        (one (file, position) per input structure) also file and position."""
        sel = self.selection
        rows = []
        for rank, index in enumerate(sel.indices):
            row = {"rank": rank, "index": int(index)}
            if sources is not None:
                row.update(file=sources[index][0], position=sources[index][1])
            if self.categories is not None:
                row["category"] = self.categories["of_structure"][index]
            row["score"] = sel.scores[rank]
            if sel.max_differential_entropy is not None:
                row["max_dH"] = sel.max_differential_entropy[rank]
            if self.curve is not None:
                row.update({f"kept_{name}": self.curve[name][rank]
                            for name in ("n_environments", "entropy", "diversity", "overlap")})
            rows.append(row)
        return rows

    def summary(self):
        """What ``quests compress`` prints: H, D and overlap of the full set and the kept
        part."""
        lines = []
        for label, part in (("full set", self.before), ("kept", self.after)):
            err = f" ± {part['entropy_error']:.3f}" if part["method"] == "approx" else ""
            lines.append((label, str(part["n_structures"]), str(part["n_environments"]),
                          f"{part['entropy']:.4f}{err}", f"{part['diversity']:.4f}",
                          f"{part['overlap']:.4f}"))
        text = (f"{self.selection.method}: kept {self.selection.size} of "
                f"{self.before['n_structures']} structures\n\n"
                + align_table(("", "structures", "environments", "H (nats)", "D (nats)",
                               "overlap"), lines))
        if self.categories is not None:
            text += "\n\n" + self.category_table()
        return text

    def category_table(self):
        """Structures of each category (``key``) in the full set and in the first n picks,
        for each n of ``categories['sizes']``."""
        cats = self.categories
        header = (cats["key"], "full set", *(f"first {n}" for n in cats["sizes"]))
        rows = [(label, str(total), *(str(cats["kept"][j][i]) for j in range(len(cats["sizes"]))))
                for i, (label, total) in enumerate(zip(cats["labels"], cats["total"]))]
        return align_table(header, rows)

    def ranking(self, top=10, sources=None, n_reference=None):
        """What ``quests select`` prints: how many picks hold a novel environment, and the
        first ``top`` picks with their max dH and score (msc methods). ``sources`` name
        the candidates (file, position); ``n_reference`` counts the training structures."""
        sel, threshold = self.selection, self.parameters["threshold"]
        novel = int((sel.max_differential_entropy > threshold).sum())
        against = "" if n_reference is None else f" against {n_reference} training structures"
        rows = [(str(rank), f"{sources[i][0]}:{sources[i][1]}" if sources else str(i),
                 f"{sel.max_differential_entropy[rank]:.3f}", f"{sel.scores[rank]:.3f}")
                for rank, i in enumerate(sel.indices[:top])]
        return (f"selected {sel.size} of {sel.n_structures} candidates{against}; {novel} of "
                f"them hold a novel environment (dH > {threshold:g})\n\n"
                + align_table(("rank", "candidate", "max dH", "score"), rows))

    def to_dict(self):
        """The result as a plain dict (``quests.io.write_json`` makes it strict JSON)."""
        sel = self.selection
        out = {
            "parameters": self.parameters,
            "indices": sel.indices.tolist(),
            "scores": sel.scores,
            "before": self.before,
            "after": self.after,
        }
        if sel.max_differential_entropy is not None:
            out["max_differential_entropy"] = sel.max_differential_entropy
        if self.curve is not None:
            out["curve"] = self.curve
        if self.categories is not None:
            out["categories"] = {name: value for name, value in self.categories.items()
                                 if name != "of_structure"}
        return out


def describe_structures(structures, reference=None, *, k=DEFAULT_K, cutoff=DEFAULT_CUTOFF,
                        species=None, n_jobs=None, verbose=False):
    """Descriptors and atom counts of ``structures`` (and of ``reference``).

    ``reference`` may be structures or a descriptor array; with
    ``species='all'`` the species list covers both.

    Returns
    -------
    X : ndarray of shape (n_environments, n_features)
    counts : ndarray of shape (n_structures,) int64
    reference : ndarray of shape (n_reference, n_features) or None
    species : None or list of int

    Examples
    --------
    >>> from quests.data import rattled_crystal
    >>> data = [rattled_crystal("Cu", size=s) for s in (1, 2)]
    >>> X, counts, reference, species = describe_structures(data)
    >>> X.shape, counts.tolist(), reference, species
    ((36, 63), [4, 32], None, None)
    >>> _, _, reference, _ = describe_structures(data, [rattled_crystal("Cu", seed=1)])
    >>> reference.shape
    (32, 63)
    """
    from quests.descriptor import describe_groups

    if isinstance(structures, np.ndarray):
        raise InvalidInputError("the dataset must be structures, not a descriptor array "
                                "(use select_structures for arrays)")
    groups = [structures] + ([] if reference is None else [reference])
    (X, *ref), (counts, *_), species = describe_groups(
        groups, k, cutoff, species=species, names=["the dataset", "the reference"],
        n_jobs=n_jobs, verbose=verbose)
    return X, counts, (ref[0] if ref else None), species


def structure_categories(structures, key="auto", labels=None):
    """The category of each structure: ``atoms.info[key]`` as a string.

    ``key='auto'`` takes the first of ``CATEGORY_KEYS`` that every structure
    has. A structure without the key is refused by its label (``labels``,
    default "structure i").

    Returns
    -------
    key : str
    categories : list of str, one per structure

    Examples
    --------
    >>> from quests.data import mixed_cu_dataset
    >>> key, categories = structure_categories(mixed_cu_dataset(4, 1, 1, 1))
    >>> key, categories
    ('kind', ['crystal', 'crystal', 'crystal', 'crystal', 'rattled', 'surface', 'melt'])
    """
    from quests.structures import info_values

    if key == "auto":
        found = [name for name in CATEGORY_KEYS
                 if all(name in getattr(atoms, "info", {}) for atoms in structures)]
        if not found:
            raise InvalidInputError(
                "no info key names every structure's category (tried "
                f"{', '.join(CATEGORY_KEYS)}); name one with key (--key)")
        key = found[0]
    return key, [str(value) for value in info_values(structures, key, labels, "category")]


def category_counts(categories, order, sizes):
    """Structures of each category in the whole set and among the first n of ``order``.

    Parameters
    ----------
    categories : sequence of str, one per structure
    order : array-like of int
        A selection order (``Selection.indices``).
    sizes : sequence of int
        Prefix lengths, each <= len(order). For the greedy methods (coverage,
        msc, fps) and random the first n picks are what the method keeps at
        size n; k_means clusters for the one size it was given (``compress``
        counts its categories at that size alone).

    Returns
    -------
    dict
        ``labels`` (most frequent in the whole set first), ``total`` (count
        of each in the whole set), ``sizes``, ``kept`` (one list of counts per
        size, in the order of ``labels``).

    Examples
    --------
    >>> counts = category_counts(["a", "a", "a", "b"], [3, 0, 1], [1, 3])
    >>> counts["labels"], counts["total"], counts["kept"]
    (['a', 'b'], [3, 1], [[0, 1], [2, 1]])
    """
    categories = [str(c) for c in categories]
    order = np.asarray(order, dtype=np.int64)
    totals = {}
    for c in categories:
        totals[c] = totals.get(c, 0) + 1
    labels = sorted(totals, key=lambda c: (-totals[c], c))
    kept = []
    for n in sizes:
        picked = [categories[i] for i in order[:n]]
        kept.append([picked.count(label) for label in labels])
    return {"labels": labels, "total": [totals[c] for c in labels],
            "sizes": [int(n) for n in sizes], "kept": kept}


def _category_sizes(size, n_structures, method):
    """The sizes a category table shows: the standard fractions below ``size``, then it
    (only it for k_means, whose order has no meaning below the size it clustered for)."""
    if method == "k_means":
        return [size]
    sizes = {resolve_size(f, n_structures) for f in CATEGORY_FRACTIONS}
    return sorted(n for n in sizes if n < size) + [size]


_COMPRESS = {**_SELECT, "k": NEIGHBORS, "cutoff": CUTOFF}


@validate_params(_COMPRESS)
def compress(structures, size, method=DEFAULT_COMPRESSION_METHOD, *, reference=None,
             k=DEFAULT_K, cutoff=DEFAULT_CUTOFF, species=None, bandwidth=DEFAULT_BANDWIDTH,
             threshold=0.0, seed=0, n_probes=DEFAULT_PROBES, curve=False, key=None, labels=None,
             n_jobs=None, verbose=False):
    """Compress a dataset of structures and measure what the kept part retains.

    Parameters
    ----------
    structures : sequence of ase.Atoms (or frames ``as_frames`` accepts)
    size : int or float
        A count, or a fraction in (0, 1] (1.0 keeps everything).
    method : str, default='coverage'
        See ``select_structures``.
    reference : structures, descriptor array or None
        Data already kept (``msc_conditional``).
    k, cutoff, species : descriptor settings (see ``compute_descriptors``)
    bandwidth : float, default=0.015
        1/Å.
    threshold, seed, n_probes, n_jobs, verbose : see ``select_structures``
    curve : bool, default=False
        Also compute ``selection_curve`` along the selection order (its
        last overlap, exact, then stands in ``after``).
    key : str or None, default=None
        Count the categories kept (``category_counts``): the info key that
        names each structure's category, or 'auto' (``structure_categories``).
        Counted at 5, 10, 20 and 50 % of the dataset below ``size``, and at
        ``size`` (k_means: at ``size`` alone).
    labels : list of str or None
        A name for each structure in error messages (a missing ``key``).

    Returns
    -------
    Compression

    Examples
    --------
    >>> from quests.data import rattled_crystal
    >>> data = [rattled_crystal("Cu", size=2, stdev=0.05, seed=s) for s in range(6)]
    >>> result = compress(data, 2, method="msc")
    >>> result.selection.size, result.after["n_environments"]
    (2, 64)
    """
    X, counts, reference, species = describe_structures(
        structures, reference, k=k, cutoff=cutoff, species=species, n_jobs=n_jobs,
        verbose=verbose)
    categories = None if key is None else structure_categories(structures, key, labels)
    return compress_descriptors(X, counts, size, method, reference=reference,
                                bandwidth=bandwidth, threshold=threshold, seed=seed,
                                n_probes=n_probes, curve=curve, categories=categories,
                                settings={"k": k, "cutoff": cutoff, "species": species},
                                n_jobs=n_jobs, verbose=verbose)


def compress_descriptors(X, counts, size, method=DEFAULT_COMPRESSION_METHOD, *, reference=None,
                         bandwidth=DEFAULT_BANDWIDTH, threshold=0.0, seed=0,
                         n_probes=DEFAULT_PROBES, curve=False, categories=None, settings=None,
                         n_jobs=None, verbose=False):
    """``compress`` of a dataset given as descriptors: a descriptor file or store.

    Parameters
    ----------
    X : array-like of shape (n_environments, n_features)
        Descriptors, one structure's rows after another (``np.asarray`` of a
        ``quests.io.DescriptorStore`` loads one).
    counts : array-like of shape (n_structures,) int
        Rows of each structure.
    categories : (key, list of str) or None
        Each structure's category (``structure_categories``), to count those kept.
    settings : dict or None
        The descriptor settings (k, cutoff, species), kept in ``parameters``.
    size, method, reference, bandwidth, threshold, seed, n_probes, curve, n_jobs, verbose
        As ``compress``.

    Returns
    -------
    Compression

    Examples
    --------
    >>> from quests.data import rattled_crystal
    >>> from quests.descriptor import compute_descriptors
    >>> data = [rattled_crystal("Cu", size=2, stdev=0.05, seed=s) for s in range(6)]
    >>> result = compress_descriptors(compute_descriptors(data), [32] * 6, 2, method="msc")
    >>> result.selection.size, result.after["n_environments"]
    (2, 64)
    """
    X, counts = check_grouped_descriptors(np.asarray(X), counts)
    settings = dict(settings or {})
    _check_reference(method, reference)
    # validated once here: the selection and its curve share one KernelSums
    sums = KernelSums(X, bandwidth, reference, n_jobs=n_jobs)
    selection = _select(sums, counts, resolve_size(size, counts.shape[0]), method, threshold,
                        seed, verbose, n_probes)
    offsets = structure_offsets(counts)
    kept = np.concatenate([X[offsets[s]:offsets[s + 1]] for s in selection.indices])
    before = {"n_structures": int(counts.shape[0]),
              **dataset_entropy(X, bandwidth, seed=seed, n_jobs=n_jobs).summary()}
    after = {"n_structures": selection.size,
             **dataset_entropy(kept, bandwidth, seed=seed, n_jobs=n_jobs).summary()}
    before["overlap"] = 1.0
    curve_values = None
    if curve:
        curve_values = _curve(sums, counts, selection.indices, threshold, verbose)
        after["overlap"] = float(curve_values["overlap"][-1])
    else:
        from quests.kde import overlap

        after["overlap"] = overlap(X, kept, bandwidth, threshold, n_jobs=n_jobs, verbose=verbose)
    parameters = {"method": method, "size": selection.size, **settings,
                  "bandwidth": bandwidth, "threshold": threshold, "seed": seed}
    if method == "coverage":
        parameters["n_probes"] = n_probes
    category_table = None
    if categories is not None:
        category_table = {"key": categories[0], **category_counts(
            categories[1], selection.indices,
            _category_sizes(selection.size, len(counts), method)),
            "of_structure": categories[1]}
    return Compression(selection, before, after, curve_values, parameters, category_table)
