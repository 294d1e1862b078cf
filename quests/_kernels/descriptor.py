"""Numba kernels for the QUESTS descriptor (DESIGN.md, "The math").

For atom i with neighbours j = 1..n (n <= k, sorted by distance r_j < rc):

* weight f(r) = (1 - (r/rc)^2)^2
* x1_j = f(r_j) / r_j, largest first, zero-padded to k
* M_jl = sqrt(f(r_j) f(r_l)) / |d_j - d_l| (j != l), M_jj = 0, padded to k x k
  with zeros; each row sorted ascending, column 0 dropped, the k-1 columns
  averaged over the k rows and ordered largest first.

Because every row's smallest entry is a zero (the diagonal), "sort ascending,
drop column 0, reverse" is the same as "sort descending and keep the first
k-1": x2_t = (1/k) sum_j (t-th largest entry of row j). That is what
``atom_descriptor`` computes, on the count x count block of non-zero rows.
"""

import numba as nb
import numpy as np

from quests._kernels.neighbors import STATUS_OK, STATUS_OVERLAP, k_nearest, neighbor_search


@nb.njit(cache=True)
def _insertion_sort_descending(v, n):
    for s in range(1, n):
        key = v[s]
        t = s - 1
        while t >= 0 and v[t] < key:
            v[t + 1] = v[t]
            t -= 1
        v[t + 1] = key


@nb.njit(cache=True)
def sorting_network(n):
    """Bitonic sorting network for ``n`` (a power of two) elements.

    Returns (n_pairs, 2) int64 pairs (hi, lo): applying, in order,
    ``v[hi], v[lo] = max(v[hi], v[lo]), min(v[hi], v[lo])`` sorts v descending.
    """
    stages = 0
    while (1 << stages) < n:
        stages += 1
    pairs = np.empty((n // 2 * stages * (stages + 1) // 2, 2), np.int64)
    p = 0
    size = 2
    while size <= n:
        stride = size // 2
        while stride > 0:
            for i in range(n):
                j = i ^ stride
                if j > i:
                    if (i & size) == 0:
                        pairs[p, 0] = i
                        pairs[p, 1] = j
                    else:
                        pairs[p, 0] = j
                        pairs[p, 1] = i
                    p += 1
            stride //= 2
        size *= 2
    return pairs


@nb.njit(cache=True)
def network_size(k):
    """Smallest power of two >= k: the side of the scratch matrix of ``atom_descriptor``."""
    n = 1
    while n < k:
        n *= 2
    return n


@nb.njit(cache=True, fastmath={"contract", "nsz"})
def atom_descriptor(d_nc, r_n, count, k, cutoff, network, u_n, m_pp, out):
    """Write the (2k - 1) descriptor of one atom into ``out``.

    ``d_nc[:count]`` are neighbour displacements (Å), ``r_n[:count]`` their
    distances. ``network`` comes from ``sorting_network(P)``; ``u_n`` (k,) and
    ``m_pp`` (P, P) are scratch, P = ``network_size(k)``.

    M is symmetric, so sorting its rows is sorting its columns: each
    compare-exchange of the network acts on two whole rows of ``m_pp`` at
    once (branch-free SIMD min/max), where sorting row by row would pay a
    branch misprediction per comparison. sqrt(f(r)) = 1 - (r/rc)^2, so
    M_jl = u_j u_l / r_jl needs one square root per pair.
    Returns False if two neighbours coincide.
    """
    inv_rc2 = 1.0 / (cutoff * cutoff)
    for j in range(2 * k - 1):
        out[j] = 0.0
    x1 = m_pp[0]  # scratch until M is built
    for j in range(count):
        u_n[j] = 1.0 - r_n[j] * r_n[j] * inv_rc2
        x1[j] = u_n[j] * u_n[j] / r_n[j]
    # neighbours come sorted by distance and f(r)/r decreases with r, so
    # this insertion sort only reorders ties: linear time
    _insertion_sort_descending(x1, count)
    for j in range(count):
        out[j] = x1[j]
    if count < 2:
        return True
    for j in range(count):
        m_pp[j, j] = 0.0
        for l in range(j + 1, count):
            dx = d_nc[j, 0] - d_nc[l, 0]
            dy = d_nc[j, 1] - d_nc[l, 1]
            dz = d_nc[j, 2] - d_nc[l, 2]
            r2 = dx * dx + dy * dy + dz * dz
            if r2 == 0.0:
                return False
            value = u_n[j] * u_n[l] / np.sqrt(r2)
            m_pp[j, l] = value
            m_pp[l, j] = value
    for j in range(count, m_pp.shape[0]):
        for c in range(count):
            m_pp[j, c] = -1.0  # below every entry (all >= 0): sinks to the bottom
    for p in range(network.shape[0]):
        hi = m_pp[network[p, 0]]
        lo = m_pp[network[p, 1]]
        for c in range(count):
            a = hi[c]
            b = lo[c]
            hi[c] = max(a, b)
            lo[c] = min(a, b)
    # row t now holds the t-th largest entry of every column; the last real
    # row (t = count - 1) holds the diagonal zeros, which are dropped
    inv_k = 1.0 / k
    for t in range(count - 1):
        total = 0.0
        for c in range(count):
            total += m_pp[t, c]
        out[k + t] = total * inv_k
    return True


@nb.njit(cache=True, nogil=True)
def block_descriptors(search, n_max, start, stop, k, cutoff, network, out_ix):
    """Descriptors of atoms ``start:stop`` of a searched structure.

    ``search, n_max`` come from ``neighbor_search``; ``network`` is
    ``sorting_network(network_size(k))``; row i of ``out_ix`` receives atom
    ``start + i``. Returns a status code.
    """
    cand_r2_n = np.empty(n_max)
    cand_d_nc = np.empty((n_max, 3))
    order_n = np.empty(n_max, np.int64)
    d_nc = np.empty((k, 3))
    r_n = np.empty(k)
    u_n = np.empty(k)
    m_pp = np.empty((network_size(k), network_size(k)))
    for i in range(start, stop):
        count = k_nearest(i, search, k, cutoff, cand_r2_n, cand_d_nc, order_n, d_nc, r_n)
        if count < 0:
            return STATUS_OVERLAP
        if not atom_descriptor(d_nc, r_n, count, k, cutoff, network, u_n, m_pp,
                               out_ix[i - start]):
            return STATUS_OVERLAP
    return STATUS_OK


@nb.njit(cache=True, nogil=True)
def batch_descriptors(positions_ic, cells_scc, pbcs_sc, offsets_s, k, cutoff, network, out_ix):
    """Descriptors of many small structures, one after the other.

    Structure s owns atoms ``offsets_s[s]:offsets_s[s + 1]`` of the stacked
    ``positions_ic`` and the same rows of ``out_ix``; cells are augmented
    (``quests.structures.augment_cells``). Returns one status per structure.
    """
    n_struct = offsets_s.shape[0] - 1
    status_s = np.zeros(n_struct, np.int64)
    for s in range(n_struct):
        a = offsets_s[s]
        b = offsets_s[s + 1]
        if b > a:
            search, n_max = neighbor_search(positions_ic[a:b], cells_scc[s], pbcs_sc[s], cutoff)
            status_s[s] = block_descriptors(search, n_max, 0, b - a, k, cutoff, network,
                                            out_ix[a:b])
    return status_s
