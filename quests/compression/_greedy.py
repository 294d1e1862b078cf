"""Selection orders over structures, each a plain function of grouped descriptors.

Every method sees the same input: ``X`` (n_environments, n_features), the
rows of all structures one after another, and ``counts`` (n_structures,),
how many rows each structure owns. Each returns the chosen structure
indices in selection order and the score each had when it was chosen.

The information-driven methods (``msc``, ``msc_conditional``) keep, for
every environment not yet selected, ln sum_j K(x, x_j) over the environments
chosen so far (and the reference), and add to it only the kernel terms of
the structure just chosen: one step costs (remaining environments) x (atoms
of one structure) kernel evaluations, a BLAS product and a vectorised
exponential, never a rescan of the selected set.
"""

import numpy as np

from quests._defaults import DEFAULT_PROBES
from quests.descriptor import structure_offsets
from quests.kde import entropy_from_sums

#: compact the remaining-environment arrays once this fraction of rows is dead
_COMPACT_FRACTION = 0.25
#: rows per block when measuring mean distances between structures (fps)
_DISTANCE_BLOCK = 65536


def structure_entropies(sums, counts):
    """H of each structure's own environments, shape (n_structures,), nats.

    ``sums``: a ``quests.kde.KernelSums`` over the dataset (scalar bandwidth).
    Exact: -mean_i ln(p_i / n) with p_i summed over the structure's rows.
    """
    offsets = structure_offsets(counts)
    return np.array([entropy_from_sums(sums.self_sums(sums.X_[offsets[s]:offsets[s + 1]]))
                     for s in range(len(counts))])


class _RemainingSums:
    """ln of kernel sums of the not-yet-selected rows against what was selected.

    Rows of a selected structure are dropped lazily: they are only marked,
    and the arrays are compacted once a quarter of them is dead, so a step
    never copies the whole dataset.
    """

    def __init__(self, sums, counts, initial=None):
        Xc = sums.X_
        self.sums = sums
        self.X = Xc
        self.n_structures = len(counts)
        self.rows = np.arange(Xc.shape[0])  # rows of X in the working arrays
        self.owner = np.repeat(np.arange(len(counts)), counts)  # structure of each working row
        self.X_alive = Xc
        self.log_sums = np.full(Xc.shape[0], -np.inf) if initial is None else initial.copy()
        self.alive = np.ones(Xc.shape[0], dtype=bool)
        self.structure_alive = np.ones(len(counts), dtype=bool)

    def add(self, Y):
        """Add the kernel terms of the rows Y (just selected) to every remaining row."""
        logs = self.sums.log_sums(self.X_alive, Y)
        np.logaddexp(self.log_sums, logs, out=self.log_sums)

    def remove(self, structure):
        self.structure_alive[structure] = False
        self.alive &= self.owner != structure
        if (~self.alive).sum() > _COMPACT_FRACTION * self.alive.shape[0]:
            keep = self.alive
            self.rows = self.rows[keep]
            self.owner = self.owner[keep]
            self.X_alive = self.X[self.rows]
            self.log_sums = self.log_sums[keep]
            self.alive = np.ones(self.rows.shape[0], dtype=bool)

    def max_differential_entropy(self):
        """Largest dH = -ln sum K over each structure's rows, shape (n_structures,).

        -inf for structures already selected.
        """
        live = self.alive
        return max_by_structure(-self.log_sums[live], self.owner[live], self.n_structures)


def information_order(sums, counts, size, entropies, *, threshold=0.0, on_step=None):
    """Greedy information-maximising order (msc; msc_conditional with a reference).

    At each step every remaining structure is scored by the dH of its most
    novel environment against everything selected so far (and the
    reference), plus its own entropy; the best is taken. Structures with a
    novel environment (max dH > ``threshold``) always go before structures
    with none, which would add no new coverage; among either kind the
    score decides, ties to the lowest index. Without a reference the first
    pick is the structure of highest entropy.

    Returns
    -------
    order : ndarray of shape (size,) int64
    scores : ndarray of shape (size,)
        Score at the time of choice (max dH + H_structure), nats; the first
        unconditional pick has no dH term and scores its entropy.
    max_dh : ndarray of shape (size,)
        The dH term of each pick (inf for the first unconditional pick).
    """
    Xc, reference = sums.X_, sums.reference_
    initial = None if reference is None else sums.log_sums(Xc, reference)
    state = _RemainingSums(sums, counts, initial)
    offsets = structure_offsets(counts)
    order, scores, max_dh = [], [], []
    for step in range(size):
        if step == 0 and reference is None:
            pick = int(np.argmax(entropies))
            dh = np.inf
            score = float(entropies[pick])
        else:
            dh_s = state.max_differential_entropy()
            score_s = dh_s + entropies
            novel = dh_s > threshold
            candidates = novel if novel.any() else state.structure_alive
            pick = int(np.argmax(np.where(candidates, score_s, -np.inf)))
            dh, score = float(dh_s[pick]), float(score_s[pick])
        order.append(pick)
        scores.append(score)
        max_dh.append(dh)
        state.remove(pick)
        if step + 1 < size:
            state.add(Xc[offsets[pick]:offsets[pick + 1]])
        if on_step is not None:
            on_step()
    return np.array(order, dtype=np.int64), np.array(scores), np.array(max_dh)


def _mean_distances(Xc, counts, Y):
    """Mean Euclidean distance between the rows of Y and each structure's rows, (n_structures,)."""
    offsets = structure_offsets(counts)
    sq_y = np.einsum("ij,ij->i", Y, Y)
    row_means = np.empty(Xc.shape[0])
    for r0 in range(0, Xc.shape[0], _DISTANCE_BLOCK):
        block = Xc[r0:r0 + _DISTANCE_BLOCK]
        d2 = np.einsum("ij,ij->i", block, block)[:, None] + sq_y[None, :] - 2.0 * (block @ Y.T)
        row_means[r0:r0 + block.shape[0]] = np.sqrt(np.maximum(d2, 0.0)).mean(axis=1)
    return np.add.reduceat(row_means, offsets[:-1]) / counts


def farthest_point_order(Xc, counts, size, entropies, on_step=None):
    """fps: farthest-point order on mean environment-pair distances between structures.

    Starts from the structure of highest entropy; each next pick maximises
    its distance to the nearest structure already chosen.
    """
    offsets = structure_offsets(counts)
    nearest = np.full(len(counts), np.inf)
    pick = int(np.argmax(entropies))
    order, scores = [pick], [np.inf]
    for _ in range(size - 1):
        picked = Xc[offsets[pick]:offsets[pick + 1]]
        nearest = np.minimum(nearest, _mean_distances(Xc, counts, picked))
        nearest[order] = -np.inf
        pick = int(np.argmax(nearest))
        order.append(pick)
        scores.append(float(nearest[pick]))
        if on_step is not None:
            on_step()
    return np.array(order, dtype=np.int64), np.array(scores)


def mean_descriptors(Xc, counts):
    """Mean descriptor of each structure, shape (n_structures, n_features).

    ``Xc`` (n_environments, n_features): the rows of all structures one after
    another; ``counts`` (n_structures,): rows per structure. What mean_fps and
    k_means (and the peers of the compression benchmark) work on.

    Examples
    --------
    >>> import numpy as np
    >>> mean_descriptors(np.array([[0.0], [2.0], [5.0]]), np.array([2, 1])).tolist()
    [[1.0], [5.0]]
    """
    return np.add.reduceat(Xc, structure_offsets(counts)[:-1], axis=0) / counts[:, None]


def mean_farthest_point_order(Xc, counts, size, seed):
    """mean_fps: farthest-point order on mean descriptors, from a seeded random start."""
    means = mean_descriptors(Xc, counts)
    rng = np.random.default_rng(seed)
    pick = int(rng.integers(len(counts)))
    nearest = np.full(len(counts), np.inf)
    order, scores = [pick], [np.inf]
    for _ in range(size - 1):
        nearest = np.minimum(nearest, np.linalg.norm(means - means[pick], axis=1))
        nearest[order] = -np.inf
        pick = int(np.argmax(nearest))
        order.append(pick)
        scores.append(float(nearest[pick]))
    return np.array(order, dtype=np.int64), np.array(scores)


def k_means_order(Xc, counts, size, seed):
    """k_means: k-means (k = size) on mean descriptors; one structure per cluster.

    Each cluster contributes the member nearest its centroid (if that member
    is taken, or the cluster came out empty, the nearest structure not yet
    taken), so every cluster is represented by a distinct structure; larger
    clusters come first in the order. Scores are the cluster sizes.
    """
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    means = mean_descriptors(Xc, counts)
    with warnings.catch_warnings():
        # duplicate structures leave fewer distinct points than clusters;
        # the assignment below still gives each cluster its own structure
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KMeans(n_clusters=size, n_init="auto", random_state=seed).fit(means)
    labels = model.labels_
    sizes = np.bincount(labels, minlength=size)
    taken = np.zeros(len(counts), dtype=bool)
    order, scores = [], []
    for cluster in np.argsort(-sizes, kind="stable"):
        distance = np.linalg.norm(means - model.cluster_centers_[cluster], axis=1)
        members = (labels == cluster) & ~taken
        pool = members if members.any() else ~taken
        pick = int(np.argmin(np.where(pool, distance, np.inf)))
        taken[pick] = True
        order.append(pick)
        scores.append(float(sizes[cluster]))
    return np.array(order, dtype=np.int64), np.array(scores)


def random_order(n_structures, size, seed):
    """random: the first ``size`` of a seeded permutation."""
    order = np.random.default_rng(seed).permutation(n_structures)[:size]
    return order.astype(np.int64), np.full(size, np.nan)


#: probes per block while building the probe x structure kernel sums (bounds the dense block)
_PROBE_BLOCK = 256
#: a structure's kernel sum at a probe below this many cover levels is dropped: it can move
#: that probe's coverage by no more than this. Gains within this of the best are a tie
#: (lowest index wins), and the objective counts as saturated once no gain exceeds it.
_NEGLIGIBLE = 1e-12


def coverage_weights(density):
    """Weight of each probe in the coverage objective, shape (n_probes,).

    Half the objective is the fraction of environments covered (each probe
    1 / n_probes); the other half the fraction of the dataset's regions
    covered, each probe weighted by 1 / density (its kernel sum over the
    whole dataset, self term included), so a region counts once however
    many near-identical environments populate it. Each half sums to 1.
    """
    inverse = 1.0 / density
    return 1.0 / density.shape[0] + inverse / inverse.sum()


def probe_rows(n_environments, n_probes, seed):
    """Rows of the dataset that stand for it: all of them, or a seeded sample of n_probes."""
    if n_environments <= n_probes:
        return np.arange(n_environments)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_environments, n_probes, replace=False))


def probe_kernel_sums(sums, counts, probe_X, level):
    """Kernel sums of each probe over each structure, in cover levels, as CSR arrays.

    ``probe_X`` (n_probes, n_features): the probes' rows of ``sums.X_``.
    Returns ``(indptr, indices, data, density)``: row r lists the structures
    whose sum at probe r exceeds ``_NEGLIGIBLE`` (with the sum / ``level``),
    and ``density[r]`` is the probe's kernel sum over the whole dataset.
    Built ``_PROBE_BLOCK`` probes at a time, so memory holds one dense block
    and the nonzero entries.
    """
    indptr, indices, data = [np.zeros(1, dtype=np.int64)], [], []
    density = np.empty(probe_X.shape[0])
    nnz = 0
    for b0 in range(0, probe_X.shape[0], _PROBE_BLOCK):
        block = sums.group_sums(probe_X[b0:b0 + _PROBE_BLOCK], sums.X_, counts)
        density[b0:b0 + block.shape[0]] = block.sum(axis=1)
        block /= level
        keep = block > _NEGLIGIBLE
        indices.append(np.nonzero(keep)[1].astype(np.int32))
        data.append(block[keep])
        indptr.append(nnz + np.cumsum(keep.sum(axis=1)))
        nnz += int(keep.sum())
    return np.concatenate(indptr), np.concatenate(indices), np.concatenate(data), density


def max_by_structure(values, owner, n_structures):
    """Largest of ``values`` per structure, shape (n_structures,); -inf for a structure
    with none. ``owner`` (same length as ``values``) is non-decreasing: each structure's
    rows form one run."""
    out = np.full(n_structures, -np.inf)
    if owner.shape[0]:
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        out[owner[starts]] = np.maximum.reduceat(values, starts)
    return out


def _saturated_pick(covered, level, owner, entropies, taken):
    """msc's choice once everything is covered: max over a structure's probes of dH =
    -ln(kernel sum over the kept set), plus its entropy; structures without a probe go by
    their entropy, after those with one."""
    with np.errstate(divide="ignore"):
        dh = max_by_structure(-np.log(covered * level), owner, entropies.shape[0])
    score = np.where(taken, -np.inf, dh + entropies)
    if np.isfinite(score).any():
        return int(np.argmax(score))
    return int(np.argmax(np.where(taken, -np.inf, entropies)))


def coverage_order(sums, counts, size, entropies, *, threshold=0.0, n_probes=DEFAULT_PROBES,
                   seed=0, on_step=None):
    """Greedy coverage of environments and regions (the ``coverage`` method).

    An environment x counts as covered by a kept set S when its kernel sum
    over S reaches the cover level exp(-threshold), i.e. dH(x | S) <=
    threshold (the criterion of ``overlap``). The objective is

        F(S) = sum_i w_i min(1, sum_{j in S} K(x_i, x_j) / exp(-threshold))

    over the probes i (all environments, or a seeded sample of ``n_probes``),
    with the weights of ``coverage_weights``: half environment coverage
    (what ``overlap`` measures), half region coverage (each probe weighed
    by 1 / its density in the dataset, which rewards keeping rare
    environments, as the entropy of the kept set does). F is monotone and
    submodular (a sum of concave functions of sums); each step takes the
    structure of largest gain F(S + s) - F(S), ties (within ``_NEGLIGIBLE``)
    to the lowest index. Gains are kept exact and updated incrementally:
    after a pick only the probes it moved (kernel sum changed, not yet
    covered) are revisited. Once every probe is covered (no gain left), the
    rest go by msc's score from the same sums: the dH of a structure's most
    novel probe against the kept set plus its own entropy ``entropies``.

    Returns
    -------
    order : ndarray of shape (size,) int64
    gains : ndarray of shape (size,)
        F(S + s) - F(S) of each pick when it was made (F lies in [0, 2]);
        0 for the picks made after saturation.
    """
    from quests._kernels.kde import update_coverage_gains

    Xc = sums.X_
    level = float(np.exp(-threshold))
    probes = probe_rows(Xc.shape[0], n_probes, seed)
    probe_X = Xc[probes]
    indptr, indices, data, density = probe_kernel_sums(sums, counts, probe_X, level)
    weight = coverage_weights(density)
    covered = np.zeros(probes.shape[0])  # kernel sums over the kept set, in cover levels
    # the gains from nothing: moving every probe from "covered" (+inf, no gain) to its sum
    gains = np.zeros(len(counts))
    update_coverage_gains(indptr, indices, data, np.arange(probes.shape[0]),
                          np.full(probes.shape[0], np.inf), covered, weight, gains)
    offsets = structure_offsets(counts)
    owner = np.repeat(np.arange(len(counts)), counts)[probes]  # ascending: probes are sorted
    taken = np.zeros(len(counts), dtype=bool)
    order, picked_gains = [], []
    for step in range(size):
        open_gains = np.where(taken, -np.inf, gains)
        best = open_gains.max()
        if best > _NEGLIGIBLE:
            pick = int(np.argmax(open_gains >= best - _NEGLIGIBLE))
            picked_gains.append(float(gains[pick]))
        else:
            pick = _saturated_pick(covered, level, owner, entropies, taken)
            picked_gains.append(0.0)
        order.append(pick)
        taken[pick] = True
        if step + 1 < size:
            added = sums.group_sums(probe_X, Xc[offsets[pick]:offsets[pick + 1]],
                                    counts[pick:pick + 1])[:, 0] / level
            after = covered + added
            moved = np.flatnonzero((added > 0.0) & (covered < 1.0))
            update_coverage_gains(indptr, indices, data, moved, covered, after, weight, gains)
            covered = after
        if on_step is not None:
            on_step()
    return np.array(order, dtype=np.int64), np.array(picked_gains)
