"""Numba kernels: periodic images, cell lists and k-nearest-neighbour selection.

Array suffixes follow ASE's convention: ``_c`` Cartesian component,
``_i`` atom, ``_e`` extended (image) point, ``_n`` neighbour, ``_b`` bin.
Everything here trusts its input: validation happens in ``quests.neighbors``.
"""

import numba as nb
import numpy as np

#: Two neighbour distances closer than this (Å) are a tie; ties at the k-th
#: neighbour are broken by comparing displacement vectors with the same
#: tolerance, which is invariant under translation and identical for every
#: atom of a perfect Bravais crystal.
TIE_TOLERANCE = 1e-8

#: Distances below this (Å) mean two atoms sit on top of each other.
OVERLAP_DISTANCE = 1e-8

# status codes returned per structure
STATUS_OK = 0
STATUS_OVERLAP = 1


@nb.njit(cache=True)
def _cross_norm(u, v):
    """|u x v| for two 3-vectors."""
    x = u[1] * v[2] - u[2] * v[1]
    y = u[2] * v[0] - u[0] * v[2]
    z = u[0] * v[1] - u[1] * v[0]
    return np.sqrt(x * x + y * y + z * z)


@nb.njit(cache=True)
def _inverse3(m):
    """Inverse and determinant of a 3x3 matrix."""
    inv = np.empty((3, 3))
    inv[0, 0] = m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1]
    inv[0, 1] = m[0, 2] * m[2, 1] - m[0, 1] * m[2, 2]
    inv[0, 2] = m[0, 1] * m[1, 2] - m[0, 2] * m[1, 1]
    inv[1, 0] = m[1, 2] * m[2, 0] - m[1, 0] * m[2, 2]
    inv[1, 1] = m[0, 0] * m[2, 2] - m[0, 2] * m[2, 0]
    inv[1, 2] = m[0, 2] * m[1, 0] - m[0, 0] * m[1, 2]
    inv[2, 0] = m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]
    inv[2, 1] = m[0, 1] * m[2, 0] - m[0, 0] * m[2, 1]
    inv[2, 2] = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]
    det = m[0, 0] * inv[0, 0] + m[0, 1] * inv[1, 0] + m[0, 2] * inv[2, 0]
    return inv / det, det


@nb.njit(cache=True)
def periodic_images(positions_ic, cell_cc, pbc_c, cutoff):
    """All atoms and periodic images within ``cutoff`` of the home cell.

    Parameters
    ----------
    positions_ic : (n, 3) float64, Å
    cell_cc : (3, 3) float64, augmented cell (``quests.structures.augment_cells``)
    pbc_c : (3,) bool
    cutoff : float, Å

    Returns
    -------
    home_ic : (n, 3) positions wrapped into the cell along periodic axes
    image_ec : (m, 3) positions of atoms and their images
    image_atom_e : (m,) index of the atom each image belongs to
    image_home_e : (m,) True for the unshifted copy of an atom
    """
    n = positions_ic.shape[0]
    inv_cc, det = _inverse3(cell_cc)
    frac_ic = np.zeros((n, 3))
    for i in range(n):
        for c in range(3):
            for a in range(3):
                frac_ic[i, c] += positions_ic[i, a] * inv_cc[a, c]
    # wrap by whole lattice translations so that atoms already inside the
    # cell keep their exact coordinates (no round trip through the inverse)
    home_ic = positions_ic.copy()
    for a in range(3):
        if pbc_c[a]:
            for i in range(n):
                shift = np.floor(frac_ic[i, a])
                if shift != 0.0:
                    frac_ic[i, a] -= shift
                    for c in range(3):
                        home_ic[i, c] -= shift * cell_cc[a, c]

    volume = abs(det)
    n_rep = np.zeros(3, np.int64)
    margin = np.zeros(3)
    for a in range(3):
        if pbc_c[a]:
            height = volume / _cross_norm(cell_cc[(a + 1) % 3], cell_cc[(a + 2) % 3])
            margin[a] = cutoff / height
            n_rep[a] = int(np.ceil(margin[a]))

    # count, then fill
    m = 0
    for pass_ in range(2):
        if pass_ == 1:
            image_ec = np.empty((m, 3))
            image_atom_e = np.empty(m, np.int64)
            image_home_e = np.empty(m, np.bool_)
            m = 0
        for s0 in range(-n_rep[0], n_rep[0] + 1):
            for s1 in range(-n_rep[1], n_rep[1] + 1):
                for s2 in range(-n_rep[2], n_rep[2] + 1):
                    home = s0 == 0 and s1 == 0 and s2 == 0
                    for i in range(n):
                        if not home:
                            f0 = frac_ic[i, 0] + s0
                            f1 = frac_ic[i, 1] + s1
                            f2 = frac_ic[i, 2] + s2
                            if pbc_c[0] and (f0 < -margin[0] or f0 > 1.0 + margin[0]):
                                continue
                            if pbc_c[1] and (f1 < -margin[1] or f1 > 1.0 + margin[1]):
                                continue
                            if pbc_c[2] and (f2 < -margin[2] or f2 > 1.0 + margin[2]):
                                continue
                        if pass_ == 1:
                            for c in range(3):
                                image_ec[m, c] = (
                                    home_ic[i, c]
                                    + s0 * cell_cc[0, c]
                                    + s1 * cell_cc[1, c]
                                    + s2 * cell_cc[2, c]
                                )
                            image_atom_e[m] = i
                            image_home_e[m] = home
                        m += 1
    return home_ic, image_ec, image_atom_e, image_home_e


@nb.njit(cache=True)
def cell_list(points_ec, bin_size, max_bins):
    """Counting-sort points into a Cartesian grid of bins at least ``bin_size`` wide.

    Returns (origin_c, width_c, n_bins_c, bin_start_b, order_e): the points of
    bin b are ``order_e[bin_start_b[b]:bin_start_b[b + 1]]`` with bins
    numbered ``(b0 * n1 + b1) * n2 + b2``.
    """
    m = points_ec.shape[0]
    lo = np.empty(3)
    hi = np.empty(3)
    for c in range(3):
        lo[c] = points_ec[:, c].min() if m > 0 else 0.0
        hi[c] = points_ec[:, c].max() if m > 0 else 0.0
    n_bins_c = np.ones(3, np.int64)
    width_c = np.empty(3)
    size = bin_size
    while True:
        total = 1.0  # float: three counts of ~1e10 bins (1e11 Å apart) overflow int64
        for c in range(3):
            n_bins_c[c] = max(1, int(min((hi[c] - lo[c]) / size, 1e15)))
            total *= n_bins_c[c]
        if total <= max_bins:
            break
        size *= 1.5  # sparse systems (a molecule in a huge box): fewer, wider bins
    for c in range(3):
        width_c[c] = max((hi[c] - lo[c]) / n_bins_c[c], size)
    n_total = n_bins_c[0] * n_bins_c[1] * n_bins_c[2]
    bin_e = np.empty(m, np.int64)
    counts = np.zeros(n_total + 1, np.int64)
    for e in range(m):
        b = 0
        for c in range(3):
            bc = int((points_ec[e, c] - lo[c]) / width_c[c])
            if bc >= n_bins_c[c]:
                bc = n_bins_c[c] - 1
            b = b * n_bins_c[c] + bc
        bin_e[e] = b
        counts[b + 1] += 1
    bin_start_b = np.cumsum(counts)
    fill = bin_start_b[:-1].copy()
    order_e = np.empty(m, np.int64)
    for e in range(m):
        order_e[fill[bin_e[e]]] = e
        fill[bin_e[e]] += 1
    return lo, width_c, n_bins_c, bin_start_b, order_e


@nb.njit(cache=True)
def _bin_coords(point_c, origin_c, width_c, n_bins_c):
    out = np.empty(3, np.int64)
    for c in range(3):
        bc = int((point_c[c] - origin_c[c]) / width_c[c])
        out[c] = min(max(bc, 0), n_bins_c[c] - 1)
    return out


@nb.njit(cache=True)
def max_candidates(n_bins_c, bin_start_b):
    """Upper bound on the points found in any 3x3x3 block of bins."""
    best = 0
    for b0 in range(n_bins_c[0]):
        for b1 in range(n_bins_c[1]):
            for b2 in range(n_bins_c[2]):
                total = 0
                for c0 in range(max(b0 - 1, 0), min(b0 + 2, n_bins_c[0])):
                    for c1 in range(max(b1 - 1, 0), min(b1 + 2, n_bins_c[1])):
                        for c2 in range(max(b2 - 1, 0), min(b2 + 2, n_bins_c[2])):
                            b = (c0 * n_bins_c[1] + c1) * n_bins_c[2] + c2
                            total += bin_start_b[b + 1] - bin_start_b[b]
                best = max(best, total)
    return best


# Ciura's gap sequence, extended by x2.25
_GAPS = np.array([1, 4, 10, 23, 57, 132, 301, 701, 1577, 3548, 7983, 17961, 40412])


@nb.njit(cache=True)
def _argsort(key_n, n, order_n):
    """Write the permutation sorting ``key_n[:n]`` ascending into ``order_n[:n]``.

    A shell sort: a few lines that compile in a fraction of the time of
    ``np.argsort`` and are as fast for the tens to hundreds of candidates
    an atom has.
    """
    for t in range(n):
        order_n[t] = t
    g = _GAPS.shape[0] - 1
    while g >= 0:
        gap = _GAPS[g]
        g -= 1
        if gap >= n:
            continue
        for s in range(gap, n):
            item = order_n[s]
            key = key_n[item]
            t = s
            while t >= gap and key_n[order_n[t - gap]] > key:
                order_n[t] = order_n[t - gap]
                t -= gap
            order_n[t] = item


@nb.njit(cache=True)
def _displacement_less(d_nc, a, b, tol):
    """Lexicographic order of two displacement vectors, with a tolerance."""
    for c in range(3):
        diff = d_nc[a, c] - d_nc[b, c]
        if diff < -tol:
            return True
        if diff > tol:
            return False
    return False


@nb.njit(cache=True)
def _gather(i, search, cutoff2, cand_r2_n, cand_d_nc, cand_e_n):
    """Images within sqrt(``cutoff2``) of atom i, its own unshifted copy excepted: their
    squared distances, displacements (image minus atom) and image numbers go to the first
    rows of the scratch arrays; returns how many. ``search`` as made by ``neighbor_search``."""
    home_ic, image_ec, image_atom_e, image_home_e, origin_c, width_c, n_bins_c, bin_start_b, \
        order_e = search
    p = home_ic[i]
    bc = _bin_coords(p, origin_c, width_c, n_bins_c)
    n_cand = 0
    for c0 in range(max(bc[0] - 1, 0), min(bc[0] + 2, n_bins_c[0])):
        for c1 in range(max(bc[1] - 1, 0), min(bc[1] + 2, n_bins_c[1])):
            for c2 in range(max(bc[2] - 1, 0), min(bc[2] + 2, n_bins_c[2])):
                b = (c0 * n_bins_c[1] + c1) * n_bins_c[2] + c2
                for t in range(bin_start_b[b], bin_start_b[b + 1]):
                    e = order_e[t]
                    if image_home_e[e] and image_atom_e[e] == i:
                        continue
                    dx = image_ec[e, 0] - p[0]
                    dy = image_ec[e, 1] - p[1]
                    dz = image_ec[e, 2] - p[2]
                    r2 = dx * dx + dy * dy + dz * dz
                    if r2 < cutoff2:
                        cand_r2_n[n_cand] = r2
                        cand_d_nc[n_cand, 0] = dx
                        cand_d_nc[n_cand, 1] = dy
                        cand_d_nc[n_cand, 2] = dz
                        cand_e_n[n_cand] = e
                        n_cand += 1
    return n_cand


@nb.njit(cache=True)
def k_nearest(i, search, k, cutoff, cand_r2_n, cand_d_nc, order_n, out_d_nc, out_r_n):
    """The k nearest neighbours of atom i within ``cutoff`` (all images count).

    Candidates within the cutoff are sorted by distance; among candidates tied
    with the k-th one (within ``TIE_TOLERANCE``) the lexicographically smallest
    displacement vectors are kept. Writes displacements (neighbour minus atom,
    Å) and distances into ``out_d_nc[:count]``, ``out_r_n[:count]`` in order of
    distance, and returns ``count`` (<= k), or -1 if an atom overlaps atom i.
    ``search`` is the tuple made by ``neighbor_search``; ``cand_r2_n``,
    ``cand_d_nc`` and ``order_n`` are scratch arrays of ``max_candidates`` rows.
    """
    # order_n serves as the image scratch of _gather: the sort below overwrites it
    n_cand = _gather(i, search, cutoff * cutoff, cand_r2_n, cand_d_nc, order_n)
    if n_cand == 0:
        return 0
    order = order_n[:n_cand]
    _argsort(cand_r2_n, n_cand, order)
    if cand_r2_n[order[0]] < OVERLAP_DISTANCE * OVERLAP_DISTANCE:
        return -1
    count = min(k, n_cand)
    if n_cand > k:
        r_k = np.sqrt(cand_r2_n[order[k - 1]])
        lo = k - 1
        while lo > 0 and np.sqrt(cand_r2_n[order[lo - 1]]) >= r_k - TIE_TOLERANCE:
            lo -= 1
        hi = k
        while hi < n_cand and np.sqrt(cand_r2_n[order[hi]]) <= r_k + TIE_TOLERANCE:
            hi += 1
        if hi > k:
            # insertion sort of the tied block by displacement vector
            for s in range(lo + 1, hi):
                key = order[s]
                t = s - 1
                while t >= lo and _displacement_less(cand_d_nc, key, order[t], TIE_TOLERANCE):
                    order[t + 1] = order[t]
                    t -= 1
                order[t + 1] = key
    for s in range(count):
        e = order[s]
        out_r_n[s] = np.sqrt(cand_r2_n[e])
        for c in range(3):
            out_d_nc[s, c] = cand_d_nc[e, c]
    return count


@nb.njit(cache=True)
def structure_neighbors(positions_ic, cell_cc, pbc_c, k, cutoff, d_inc, r_in, count_i):
    """k nearest neighbours of every atom of one structure (see ``k_nearest``).

    Fills ``d_inc`` (n, k, 3), ``r_in`` (n, k) and ``count_i`` (n,); returns
    False if two atoms overlap.
    """
    n = positions_ic.shape[0]
    search, n_max = neighbor_search(positions_ic, cell_cc, pbc_c, cutoff)
    cand_r2_n = np.empty(n_max)
    cand_d_nc = np.empty((n_max, 3))
    order_n = np.empty(n_max, np.int64)
    for i in range(n):
        count = k_nearest(i, search, k, cutoff, cand_r2_n, cand_d_nc, order_n, d_inc[i], r_in[i])
        if count < 0:
            return False
        count_i[i] = count
    return True


# A cell list never holds more bins than this many per point (plus a floor):
# keeps memory linear for an isolated molecule in a huge box.
_BINS_PER_POINT = 4
_MIN_BINS = 4096


@nb.njit(cache=True, nogil=True)
def neighbor_search(positions_ic, cell_cc, pbc_c, cutoff):
    """Everything ``k_nearest`` needs for one structure.

    Returns ``(search, n_max)``: ``search`` bundles the wrapped positions, the
    periodic images and their cell list; ``n_max`` is the size of the scratch
    arrays a query needs.
    """
    home_ic, image_ec, image_atom_e, image_home_e = periodic_images(
        positions_ic, cell_cc, pbc_c, cutoff
    )
    origin_c, width_c, n_bins_c, bin_start_b, order_e = cell_list(
        image_ec, cutoff, max(_MIN_BINS, _BINS_PER_POINT * image_ec.shape[0])
    )
    n_max = max_candidates(n_bins_c, bin_start_b)
    search = (
        home_ic, image_ec, image_atom_e, image_home_e,
        origin_c, width_c, n_bins_c, bin_start_b, order_e,
    )
    return search, n_max


@nb.njit(cache=True)
def pairs_within(positions_ic, cell_cc, pbc_c, radius):
    """Directed pairs (i, j) of atoms closer than ``radius`` over all periodic images.

    A pair appears once per image of j within the radius (an atom's own images
    count; its unshifted copy does not). Returns ``(i_p, j_p)`` in the order
    found (``quests.neighbors.neighbor_pairs`` sorts them). ``cell_cc`` as in
    ``periodic_images``.
    """
    search, n_max = neighbor_search(positions_ic, cell_cc, pbc_c, radius)
    image_atom_e = search[2]
    cand_r2_n = np.empty(n_max)
    cand_d_nc = np.empty((n_max, 3))
    cand_e_n = np.empty(n_max, np.int64)
    n = positions_ic.shape[0]
    counts = np.empty(n, np.int64)
    for i in range(n):
        counts[i] = _gather(i, search, radius * radius, cand_r2_n, cand_d_nc, cand_e_n)
    i_p = np.empty(counts.sum(), np.int64)
    j_p = np.empty(counts.sum(), np.int64)
    m = 0
    for i in range(n):
        found = _gather(i, search, radius * radius, cand_r2_n, cand_d_nc, cand_e_n)
        for c in range(found):
            i_p[m] = i
            j_p[m] = image_atom_e[cand_e_n[c]]
            m += 1
    return i_p, j_p
