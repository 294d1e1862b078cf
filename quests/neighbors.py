"""k nearest neighbours over periodic images, for any cell and periodicity.

Atom i's neighbours are all other atoms and all periodic images (images of
i itself included) within ``cutoff``; the k nearest are kept. Ties at the
k-th neighbour (distances within 1e-8 Å) are broken by the lexicographic
order of the displacement vectors, a translation-invariant rule that picks
the same neighbours for every atom of a perfect Bravais crystal.
"""

from typing import NamedTuple

import numpy as np

from quests._errors import InvalidStructureError
from quests._kernels import neighbors as _nk
from quests._validation import CUTOFF, NEIGHBORS, validate_params
from quests.structures import SINGULAR_CELL_RATIO, as_frame, augment_cells, \
    singular_cell_message

__all__ = ["NeighborList", "nearest_neighbors", "neighbor_pairs"]

#: below this ratio a cell is skewed: its basis is Minkowski-reduced first
#: (same lattice, same images, far fewer image shells to enumerate);
#: a hexagonal cell has 0.87, an fcc primitive cell 0.71
SKEWED_CELL_RATIO = 0.5
#: refuse to enumerate more periodic images than this for one structure
MAX_IMAGES = 50_000_000


class NeighborList(NamedTuple):
    """The k nearest neighbours of each atom.

    Attributes
    ----------
    displacements : ndarray of shape (n_atoms, k, 3), float64, Å
        Neighbour position minus atom position; zero beyond ``counts``.
    distances : ndarray of shape (n_atoms, k), float64, Å
        Sorted ascending; ``inf`` beyond ``counts``.
    counts : ndarray of shape (n_atoms,), int64
        Number of neighbours found within the cutoff (<= k).

    Examples
    --------
    Atoms of the top and bottom layers of an fcc(111) slab have 9 of the 12
    neighbours of the bulk within 3 Å:

    >>> from ase.build import fcc111
    >>> slab = fcc111("Cu", size=(2, 2, 3), a=3.61, vacuum=5.0)
    >>> nl = nearest_neighbors(slab, k=16, cutoff=3.0)
    >>> nl.displacements.shape, nl.distances.shape
    ((12, 16, 3), (12, 16))
    >>> nl.counts.tolist()
    [9, 9, 9, 9, 12, 12, 12, 12, 9, 9, 9, 9]
    >>> nl.distances[0, [0, 8, 9]].round(3).tolist()  # a / sqrt(2), then none found
    [2.553, 2.553, inf]
    """

    displacements: np.ndarray
    distances: np.ndarray
    counts: np.ndarray


def prepare_cells(frames, cutoff=None, labels=None):
    """Augmented cells and pbc flags of validated frames, ready for the kernels.

    Raises for a zero or singular periodic cell. Skewed periodic bases are
    Minkowski-reduced (the lattice, hence every descriptor, is unchanged).
    With ``cutoff`` (Å), also raises if a structure would need more than
    ``MAX_IMAGES`` periodic images.

    Returns ``(cells_scc, pbcs_sc)``.
    """
    cells = np.array([f.cell for f in frames], dtype=np.float64).reshape(-1, 3, 3)
    pbcs = np.array([f.pbc for f in frames], dtype=bool).reshape(-1, 3)
    augmented, ratio = augment_cells(cells, pbcs)
    periodic = pbcs.any(axis=1)

    def label(s):
        return labels[s] if labels is not None else f"structure {s}"

    bad = np.flatnonzero(periodic & ~(ratio >= SINGULAR_CELL_RATIO))
    if bad.size:
        s = int(bad[0])
        raise InvalidStructureError(singular_cell_message(frames[s], label(s)))
    skewed = np.flatnonzero(periodic & (ratio < SKEWED_CELL_RATIO))
    if skewed.size:
        from ase.geometry import minkowski_reduce

        for s in skewed:
            cells[s] = minkowski_reduce(cells[s], pbc=pbcs[s])[0]
        augmented[skewed] = augment_cells(cells[skewed], pbcs[skewed])[0]
    if cutoff is not None:
        volume = np.abs(np.linalg.det(augmented))
        n_rep = np.zeros((len(frames), 3))
        for a in range(3):
            area = np.linalg.norm(np.cross(augmented[:, (a + 1) % 3], augmented[:, (a + 2) % 3]),
                                  axis=1)
            n_rep[:, a] = np.where(pbcs[:, a], np.ceil(cutoff * area / volume), 0.0)
        n_atoms = np.array([f.positions.shape[0] for f in frames], dtype=float)
        images = np.prod(2.0 * n_rep + 1.0, axis=1) * n_atoms
        too_many = np.flatnonzero(images > MAX_IMAGES)
        if too_many.size:
            s = int(too_many[0])
            raise InvalidStructureError(
                f"{label(s)}: a cutoff of {cutoff:g} Å needs {images[s]:.3g} periodic images "
                f"(cell too small for this cutoff)"
            )
    return augmented, pbcs


@validate_params(
    {
        "k": NEIGHBORS,
        "cutoff": CUTOFF,
    }
)
def nearest_neighbors(structure, k=32, cutoff=5.0):
    """The k nearest neighbours within ``cutoff`` of every atom of one structure.

    Parameters
    ----------
    structure : ase.Atoms, Frame or (positions, cell, pbc)
        Periodic along the axes where pbc is True (any triclinic cell, cells
        smaller than the cutoff included); a non-periodic structure ignores
        its cell.
    k : int, default=32
    cutoff : float, default=5.0
        Å.

    Returns
    -------
    NeighborList

    Examples
    --------
    Coordination numbers of fcc copper (12 neighbours at a / sqrt(2)):

    >>> from ase.build import bulk
    >>> nl = nearest_neighbors(bulk("Cu", "fcc", a=3.6), k=12, cutoff=3.0)
    >>> nl.counts.tolist(), round(float(nl.distances[0, 0]), 4)
    ([12], 2.5456)
    """
    frame = as_frame(structure)
    cells, pbcs = prepare_cells([frame], cutoff)
    n = frame.positions.shape[0]
    d_inc = np.zeros((n, k, 3))
    r_in = np.full((n, k), np.inf)
    count_i = np.zeros(n, dtype=np.int64)
    ok = _nk.structure_neighbors(frame.positions, cells[0], pbcs[0], k, float(cutoff), d_inc, r_in, count_i)
    if not ok:
        raise InvalidStructureError("structure has overlapping atoms (distance < 1e-8 Å)")
    return NeighborList(d_inc, r_in, count_i)


@validate_params({"radius": CUTOFF})
def neighbor_pairs(structure, radius=5.0):
    """Directed pairs (i, j) of atoms of one structure closer than ``radius`` (Å; default
    the descriptor cutoff).

    Periodic images count (along the axes where pbc is True, any cell): a pair
    appears once per image of j within the radius, and an atom is its own
    neighbour through its images; never through its unshifted self.

    Returns
    -------
    i, j : ndarray of shape (n_pairs,), int64, sorted by i, then j

    Examples
    --------
    Every atom of fcc copper has 12 neighbours within 3 Å:

    >>> from ase.build import bulk
    >>> i, j = neighbor_pairs(bulk("Cu", "fcc", a=3.6, cubic=True), 3.0)
    >>> i.size, int((i == 0).sum())
    (48, 12)
    """
    frame = as_frame(structure)
    cells, pbcs = prepare_cells([frame], float(radius))
    i, j = _nk.pairs_within(frame.positions, cells[0], pbcs[0], float(radius))
    order = np.lexsort((j, i))
    return i[order], j[order]
