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
``atom_descriptor`` computes, without building the k x k matrix.
"""

import numba as nb
import numpy as np

from quests._kernels.neighbors import STATUS_OK, STATUS_OVERLAP, k_nearest, neighbor_search
# atoms per parallel work item in the single-structure driver
_ATOM_BLOCK = 64


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
def atom_descriptor(d_nc, r_n, count, k, cutoff, weight_n, row_n, out):
    """Write the (2k - 1) descriptor of one atom into ``out``.

    ``d_nc[:count]`` are neighbour displacements (Å), ``r_n[:count]`` their
    distances; ``weight_n`` and ``row_n`` are scratch arrays of length k.
    Returns False if two neighbours coincide (overlapping atoms).
    """
    inv_rc2 = 1.0 / (cutoff * cutoff)
    for j in range(2 * k - 1):
        out[j] = 0.0
    for j in range(count):
        u = 1.0 - r_n[j] * r_n[j] * inv_rc2
        weight_n[j] = u * u
        row_n[j] = weight_n[j] / r_n[j]
    _insertion_sort_descending(row_n, count)
    for j in range(count):
        out[j] = row_n[j]
    inv_k = 1.0 / k
    for j in range(count):
        m = 0
        for l in range(count):
            if l == j:
                continue
            dx = d_nc[j, 0] - d_nc[l, 0]
            dy = d_nc[j, 1] - d_nc[l, 1]
            dz = d_nc[j, 2] - d_nc[l, 2]
            r_jl = np.sqrt(dx * dx + dy * dy + dz * dz)
            if r_jl == 0.0:
                return False
            row_n[m] = np.sqrt(weight_n[j] * weight_n[l]) / r_jl
            m += 1
        _insertion_sort_descending(row_n, m)
        for t in range(m):
            out[k + t] += row_n[t] * inv_k
    return True


@nb.njit(cache=True)
def structure_descriptors(positions_ic, cell_cc, pbc_c, k, cutoff, out_ix):
    """Descriptors of every atom of one structure, serially.

    ``cell_cc`` must be augmented (see ``augment_cell``). Returns a status code.
    """
    n = positions_ic.shape[0]
    if n == 0:
        return STATUS_OK
    search, n_max = neighbor_search(positions_ic, cell_cc, pbc_c, cutoff)
    cand_r2_n = np.empty(n_max)
    cand_d_nc = np.empty((n_max, 3))
    d_nc = np.empty((k, 3))
    r_n = np.empty(k)
    weight_n = np.empty(k)
    row_n = np.empty(k)
    for i in range(n):
        count = k_nearest(i, search, k, cutoff, cand_r2_n, cand_d_nc, d_nc, r_n)
        if count < 0:
            return STATUS_OVERLAP
        if not atom_descriptor(d_nc, r_n, count, k, cutoff, weight_n, row_n, out_ix[i]):
            return STATUS_OVERLAP
    return STATUS_OK


@nb.njit(parallel=True, cache=True)
def batch_descriptors(positions_ic, cells_scc, pbcs_sc, offsets_s, k, cutoff, out_ix):
    """Descriptors of many structures, in parallel over structures.

    Structure s owns atoms ``offsets_s[s]:offsets_s[s + 1]`` of the stacked
    ``positions_ic`` and rows of ``out_ix``. Returns one status per structure.
    """
    n_struct = offsets_s.shape[0] - 1
    status_s = np.zeros(n_struct, np.int64)
    for s in nb.prange(n_struct):
        a = offsets_s[s]
        b = offsets_s[s + 1]
        status_s[s] = structure_descriptors(
            positions_ic[a:b], cells_scc[s], pbcs_sc[s], k, cutoff, out_ix[a:b]
        )
    return status_s


@nb.njit(parallel=True, cache=True)
def large_structure_descriptors(positions_ic, cell_cc, pbc_c, k, cutoff, out_ix):
    """Descriptors of one large structure, in parallel over blocks of atoms."""
    n = positions_ic.shape[0]
    search, n_max = neighbor_search(positions_ic, cell_cc, pbc_c, cutoff)
    n_blocks = (n + _ATOM_BLOCK - 1) // _ATOM_BLOCK
    bad_b = np.zeros(n_blocks, np.int64)
    for blk in nb.prange(n_blocks):
        cand_r2_n = np.empty(n_max)
        cand_d_nc = np.empty((n_max, 3))
        d_nc = np.empty((k, 3))
        r_n = np.empty(k)
        weight_n = np.empty(k)
        row_n = np.empty(k)
        for i in range(blk * _ATOM_BLOCK, min(n, (blk + 1) * _ATOM_BLOCK)):
            count = k_nearest(i, search, k, cutoff, cand_r2_n, cand_d_nc, d_nc, r_n)
            if count < 0 or not atom_descriptor(
                d_nc, r_n, count, k, cutoff, weight_n, row_n, out_ix[i]
            ):
                bad_b[blk] = 1
                break
    return STATUS_OVERLAP if bad_b.sum() > 0 else STATUS_OK
