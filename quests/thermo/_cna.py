"""Common-neighbour analysis (CNA): fcc, hcp, bcc, icosahedral or other, per atom.

The independent structural baseline against which entropy-based phase labels
are checked (Honeycutt and Andersen 1987; Faken and Jonsson 1994; adaptive
cutoffs as in Stukowski 2012). For every bond i-j: the number of common
neighbours of i and j, the number of bonds among those common neighbours,
and the number of bonds in the largest connected set of them. The signatures
of all bonds of i name its structure:

- fcc: 12 bonds (4, 2, 1)
- hcp: 12 bonds, 6 (4, 2, 1) and 6 (4, 2, 2)
- ico: 12 bonds (5, 5, 5)
- bcc: 14 bonds, 8 (6, 6, 6) and 6 (4, 4, 4)

Codes follow LAMMPS ``compute cna/atom``: 1 fcc, 2 hcp, 3 bcc, 4 ico, 5 other.
"""

import numpy as np

from quests._errors import InvalidInputError

__all__ = ["common_neighbor_analysis", "CNA_NAMES", "FCC", "HCP", "BCC", "ICO", "OTHER"]

FCC, HCP, BCC, ICO, OTHER = 1, 2, 3, 4, 5
#: names by code
CNA_NAMES = {FCC: "fcc", HCP: "hcp", BCC: "bcc", ICO: "ico", OTHER: "other"}

# (1 + sqrt 2) / 2 of a shell distance d lies midway between d and sqrt(2) d: between
# the first and second fcc shells (d = a / sqrt 2), between the second and third bcc
# shells (d = a, estimated from the 8 first neighbours at a sqrt3 / 2 and 6 second at a)
_MIDWAY = (1.0 + np.sqrt(2.0)) / 2.0


def _largest_bond_cluster(bonds):
    """Bonds in the largest set of bonds connected through shared atoms."""
    remaining = list(bonds)
    best = 0
    while remaining:
        cluster_atoms = set(remaining.pop())
        size = 1
        grew = True
        while grew:
            grew = False
            for bond in list(remaining):
                if bond[0] in cluster_atoms or bond[1] in cluster_atoms:
                    cluster_atoms.update(bond)
                    remaining.remove(bond)
                    size += 1
                    grew = True
        best = max(best, size)
    return best


def _signatures(adjacency):
    """(common neighbours, bonds among them, largest bond cluster) of each neighbour.

    ``adjacency`` (n, n) bool: which of the central atom's n neighbours are
    bonded to each other.
    """
    out = []
    for j in range(adjacency.shape[0]):
        common = np.flatnonzero(adjacency[j])
        sub = adjacency[np.ix_(common, common)]
        a, b = np.nonzero(np.triu(sub, 1))
        bonds = list(zip(a.tolist(), b.tolist()))
        out.append((common.size, a.size, _largest_bond_cluster(bonds)))
    return out


def _classify(displacements, cutoff):
    """Structure code of one atom from its bonded neighbours' displacements (n, 3)."""
    n = displacements.shape[0]
    if n not in (12, 14):
        return OTHER
    gaps = np.linalg.norm(displacements[:, None, :] - displacements[None, :, :], axis=2)
    adjacency = gaps < cutoff
    np.fill_diagonal(adjacency, False)
    signatures = _signatures(adjacency)
    if n == 12:
        n421 = signatures.count((4, 2, 1))
        if n421 == 12:
            return FCC
        if n421 == 6 and signatures.count((4, 2, 2)) == 6:
            return HCP
        if signatures.count((5, 5, 5)) == 12:
            return ICO
        return OTHER
    if signatures.count((6, 6, 6)) == 8 and signatures.count((4, 4, 4)) == 6:
        return BCC
    return OTHER


def common_neighbor_analysis(structure, cutoff="adaptive"):
    """CNA structure code of every atom: 1 fcc, 2 hcp, 3 bcc, 4 ico, 5 other.

    Parameters
    ----------
    structure : ase.Atoms, Frame or (positions, cell, pbc)
        Periodic images are followed along periodic axes.
    cutoff : float or 'adaptive', default='adaptive'
        A float (Å) is the conventional CNA of LAMMPS ``compute cna/atom``:
        one bond cutoff for every atom (for fcc, between the first and
        second shells, e.g. 0.854 a). 'adaptive' gives every atom its own:
        (1 + sqrt 2) / 2 times the mean distance of its 12 nearest neighbours
        for the fcc/hcp/ico test, and the bcc equivalent over its 14 nearest,
        so thermal expansion and strain do not move atoms across a fixed
        cutoff.

    Returns
    -------
    ndarray of int64, shape (n_atoms,)

    Examples
    --------
    >>> from ase.build import bulk
    >>> common_neighbor_analysis(bulk("Cu", "fcc", a=3.6) * (3, 3, 3))[:3].tolist()
    [1, 1, 1]
    >>> common_neighbor_analysis(bulk("Fe", "bcc", a=2.87) * (3, 3, 3), cutoff=3.5)[:3].tolist()
    [3, 3, 3]
    """
    from quests.neighbors import nearest_neighbors

    adaptive = isinstance(cutoff, str) and cutoff == "adaptive"
    if not adaptive and not (isinstance(cutoff, (int, float)) and cutoff > 0):
        raise InvalidInputError(f"cutoff must be > 0 Å or 'adaptive'; got {cutoff!r}")
    # 15 neighbours: a 15th inside the cutoff means neither 12 nor 14 are bonded
    near = nearest_neighbors(structure, k=15, cutoff=8.0 if adaptive else float(cutoff))
    n = near.distances.shape[0]
    codes = np.full(n, OTHER, dtype=np.int64)
    for a in range(n):
        d = near.distances[a]
        disp = near.displacements[a]
        if not adaptive:
            bonded = int(np.isfinite(d).sum())
            codes[a] = _classify(disp[:bonded], float(cutoff))
            continue
        if np.isfinite(d[:12]).all():
            code = _classify(disp[:12], _MIDWAY * d[:12].mean())
            if code != OTHER:
                codes[a] = code
                continue
        if np.isfinite(d[:14]).all():
            a_bcc = (d[:8].sum() * 2.0 / np.sqrt(3.0) + d[8:14].sum()) / 14.0
            codes[a] = _classify(disp[:14], _MIDWAY * a_bcc)
    return codes
