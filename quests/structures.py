"""Structures as plain arrays: the ``Frame`` tuple and the adapter to it.

Every public function that takes structures accepts an ``ase.Atoms``, a
``Frame``, a ``(positions, cell, pbc[, numbers])`` tuple, or a list of any
of these, and turns them into ``Frame`` objects here, at the boundary.
Objects are recognised by their attributes, so no foreign package is
imported.
"""

from typing import NamedTuple

import numpy as np

from quests._errors import InvalidInputError, InvalidStructureError

__all__ = ["Frame", "as_frame", "as_frames", "as_atoms", "augment_cells", "check_geometry",
           "check_known_species",
           "info_values", "singular_cell_message", "SINGULAR_CELL_RATIO"]


class Frame(NamedTuple):
    """One structure as arrays.

    Attributes
    ----------
    positions : ndarray of shape (n_atoms, 3), float64, Å
    cell : ndarray of shape (3, 3), float64, Å; rows are lattice vectors
    pbc : ndarray of shape (3,), bool; periodicity along each lattice vector
    numbers : ndarray of shape (n_atoms,), int64; atomic numbers

    Examples
    --------
    >>> import numpy as np
    >>> from ase.build import bulk
    >>> frame = as_frame(bulk("Cu", "fcc", a=3.61))  # the primitive fcc cell
    >>> frame.positions.shape, frame.pbc.tolist(), frame.numbers.tolist()
    ((1, 3), [True, True, True], [29])
    >>> positions, cell, pbc, numbers = frame
    >>> round(float(abs(np.linalg.det(cell))), 2)  # a**3 / 4, Å^3
    11.76
    """

    positions: np.ndarray
    cell: np.ndarray
    pbc: np.ndarray
    numbers: np.ndarray


def _is_atoms_like(obj):
    return all(hasattr(obj, name) for name in ("positions", "cell", "pbc", "numbers"))


def as_frame(obj, label="structure"):
    """Convert one structure to a validated ``Frame``.

    Parameters
    ----------
    obj : ase.Atoms, Frame or tuple (positions, cell, pbc[, numbers])
    label : str
        How error messages name the structure (e.g. ``"traj.xyz frame 3"``).

    Raises
    ------
    InvalidStructureError
        No atoms, positions not (n, 3) or not finite, cell not (3, 3) or not
        finite, pbc not three booleans.

    Examples
    --------
    A molecule as plain arrays (no numbers: all atoms are species 0):

    >>> import numpy as np
    >>> positions = np.array([[0.0, 0.0, 0.0], [1.13, 0.0, 0.0]])
    >>> frame = as_frame((positions, np.zeros((3, 3)), False))
    >>> frame.positions.dtype, frame.pbc.tolist(), frame.numbers.tolist()
    (dtype('float64'), [False, False, False], [0, 0])
    >>> from ase.build import bulk
    >>> as_frame(bulk("Fe", "bcc", a=2.87, cubic=True)).numbers.tolist()
    [26, 26]
    >>> as_frame("Fe.xyz", "md.xyz frame 3")
    Traceback (most recent call last):
    ...
    quests._errors.InvalidStructureError: md.xyz frame 3: expected ase.Atoms, Frame or
    (positions, cell, pbc); got str
    """
    if isinstance(obj, Frame):
        positions, cell, pbc, numbers = obj
    elif _is_atoms_like(obj):
        positions = obj.positions
        cell = np.asarray(obj.cell)
        pbc = obj.pbc
        numbers = obj.numbers
    elif isinstance(obj, tuple) and len(obj) in (3, 4):
        positions, cell, pbc = obj[:3]
        numbers = obj[3] if len(obj) == 4 else None
    else:
        raise InvalidStructureError(
            f"{label}: expected ase.Atoms, Frame or (positions, cell, pbc); "
            f"got {type(obj).__name__}"
        )
    try:
        positions = np.ascontiguousarray(positions, dtype=np.float64)
        cell = np.ascontiguousarray(cell, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidStructureError(f"{label}: positions and cell must be numeric ({exc})") from None
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise InvalidStructureError(
            f"{label}: positions must have shape (n_atoms, 3); got {positions.shape}"
        )
    n = positions.shape[0]
    if n == 0:
        raise InvalidStructureError(f"{label} has no atoms")
    if not np.all(np.isfinite(positions)):
        raise InvalidStructureError(f"{label} has NaN or infinite positions")
    if cell.shape != (3, 3):
        raise InvalidStructureError(f"{label}: cell must have shape (3, 3); got {cell.shape}")
    if not np.all(np.isfinite(cell)):
        raise InvalidStructureError(f"{label} has a NaN or infinite cell")
    pbc = np.asarray(pbc)
    if pbc.shape == ():
        pbc = np.repeat(pbc, 3)
    if pbc.shape != (3,):
        raise InvalidStructureError(f"{label}: pbc must be three booleans; got {pbc!r}")
    pbc = pbc.astype(bool)
    if numbers is None:
        numbers = np.zeros(n, dtype=np.int64)
    numbers = np.asarray(numbers, dtype=np.int64).reshape(-1)
    if numbers.shape != (n,):
        raise InvalidStructureError(
            f"{label}: numbers must have shape ({n},); got {numbers.shape}"
        )
    return Frame(positions, cell, pbc, numbers)


def as_frames(structures, label="structure"):
    """Convert one structure or a sequence of them to a list of ``Frame``.

    Error messages name the offending item as ``"<label> <index>"``.

    Examples
    --------
    >>> import numpy as np
    >>> from ase.build import bulk
    >>> frames = as_frames([bulk("Cu", "fcc", a=3.61), bulk("Fe", "bcc", a=2.87)])
    >>> [frame.numbers.tolist() for frame in frames]
    [[29], [26]]
    >>> len(as_frames(bulk("Cu", "fcc", a=3.61)))  # one structure, one frame
    1
    >>> empty = (np.zeros((0, 3)), np.eye(3) * 4.0, True)
    >>> as_frames([bulk("Cu", "fcc", a=3.61), empty], label="train")
    Traceback (most recent call last):
    ...
    quests._errors.InvalidStructureError: train 1 has no atoms
    """
    if isinstance(structures, Frame) or _is_atoms_like(structures):
        return [as_frame(structures, label)]
    if isinstance(structures, tuple) and len(structures) in (3, 4) and _looks_like_arrays(structures):
        return [as_frame(structures, label)]
    try:
        items = list(structures)
    except TypeError:
        raise InvalidStructureError(
            f"expected a structure or a sequence of structures; got {type(structures).__name__}"
        ) from None
    return [as_frame(obj, f"{label} {i}") for i, obj in enumerate(items)]


def as_atoms(obj, label="structure"):
    """``obj`` itself if it is an ``ase.Atoms``, else a new one built from ``as_frame(obj)``.

    For the few places that hand a structure to ase (its neighbour list).

    Examples
    --------
    >>> import numpy as np
    >>> positions = np.array([[0.0, 0.0, 0.0], [1.13, 0.0, 0.0]])
    >>> atoms = as_atoms((positions, np.zeros((3, 3)), False, [6, 8]))
    >>> atoms.get_chemical_formula(), round(float(atoms.get_distance(0, 1)), 2)
    ('CO', 1.13)
    >>> as_atoms(atoms) is atoms
    True
    """
    from ase import Atoms

    if isinstance(obj, Atoms):
        return obj
    frame = as_frame(obj, label)
    return Atoms(numbers=frame.numbers, positions=frame.positions, cell=frame.cell,
                 pbc=frame.pbc)


def _looks_like_arrays(tup):
    """True if ``tup`` is one (positions, cell, pbc[, numbers]) tuple, not a tuple of structures."""
    try:
        first = np.asarray(tup[0], dtype=np.float64)
    except (TypeError, ValueError):  # a structure object, or ragged nested tuples
        return False
    return first.ndim == 2


#: cells whose volume / (product of periodic vector lengths) falls below this
#: are singular: their lattice vectors are (nearly) linearly dependent
SINGULAR_CELL_RATIO = 1e-8


def augment_cells(cells, pbcs):
    """Make cells invertible by replacing their non-periodic rows.

    Only periodic lattice vectors carry meaning; the non-periodic rows are
    replaced by orthonormal vectors perpendicular to the periodic ones, so
    fractional coordinates exist along the periodic axes.

    Parameters
    ----------
    cells : ndarray of shape (n, 3, 3)
    pbcs : ndarray of shape (n, 3), bool

    Returns
    -------
    augmented : ndarray of shape (n, 3, 3)
    ratio : ndarray of shape (n,)
        Volume (area, length) spanned by the periodic vectors divided by the
        product of their lengths: 1 for orthogonal vectors, 0 for degenerate
        ones, a scale-free measure of singularity.

    Examples
    --------
    A slab periodic in x and y gets a unit normal as its third row; a
    hexagonal cell is kept, with the ratio sin(120°):

    >>> import numpy as np
    >>> from ase.build import bulk
    >>> slab = np.diag([3.0, 3.0, 0.0])
    >>> hcp = bulk("Mg", "hcp", a=3.21, c=5.21).cell[:]
    >>> cells, ratio = augment_cells([slab, hcp], [[True, True, False], [True, True, True]])
    >>> cells[0].tolist()
    [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0]]
    >>> ratio.round(4).tolist()
    [1.0, 0.866]
    """
    cells = np.asarray(cells, dtype=np.float64)
    pbcs = np.asarray(pbcs, dtype=bool)
    out = cells.copy()
    ratio = np.ones(len(cells))
    lengths = np.linalg.norm(cells, axis=2)
    for pattern in np.unique(pbcs, axis=0):
        sel = np.flatnonzero((pbcs == pattern).all(axis=1))
        periodic = np.flatnonzero(pattern)
        c = cells[sel]
        with np.errstate(divide="ignore", invalid="ignore"):
            if len(periodic) == 3:
                ratio[sel] = np.abs(np.linalg.det(c)) / lengths[sel].prod(axis=1)
            elif len(periodic) == 0:
                out[sel] = np.eye(3)
            elif len(periodic) == 2:
                a, b = periodic
                normal = np.cross(c[:, a], c[:, b])
                area = np.linalg.norm(normal, axis=1)
                ratio[sel] = area / (lengths[sel, a] * lengths[sel, b])
                out[sel, 3 - a - b] = normal / area[:, None]
            else:
                a = periodic[0]
                v = c[:, a]
                trial = np.zeros_like(v)
                trial[np.arange(len(v)), np.argmin(np.abs(v), axis=1)] = 1.0
                u = np.cross(v, trial)
                u /= np.linalg.norm(u, axis=1)[:, None]
                w = np.cross(v, u)
                w /= np.linalg.norm(w, axis=1)[:, None]
                out[sel, (a + 1) % 3] = u
                out[sel, (a + 2) % 3] = w
                ratio[sel] = (lengths[sel, a] > 0).astype(float)
    ratio = np.nan_to_num(ratio, nan=0.0)
    return np.ascontiguousarray(out), ratio


def singular_cell_message(frame, label):
    """The one-line refusal of a zero or singular periodic cell.

    Examples
    --------
    >>> import numpy as np
    >>> frame = as_frame((np.zeros((1, 3)), np.diag([4.0, 4.0, 0.0]), True))
    >>> print(singular_cell_message(frame, "md.xyz frame 3"))
    md.xyz frame 3 has a zero or singular cell along its periodic axes (pbc=[True, True, True],
    cell=[[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
    """
    return (f"{label} has a zero or singular cell along its periodic axes "
            f"(pbc={frame.pbc.tolist()}, cell={frame.cell.round(6).tolist()})")


def check_geometry(frame, label="structure"):
    """Refuse, by its ``label``, a frame no descriptor can be computed for.

    A periodic frame with a zero or singular cell, or two atoms at exactly
    the same position (the kernels also refuse atoms closer than 1e-8 Å,
    but they name the structure only by its number). Cheap enough to run on
    every frame as it is read: O(n log n). Returns the ``Frame``.

    Examples
    --------
    >>> import numpy as np
    >>> frame = check_geometry((np.zeros((2, 3)), np.eye(3) * 4.0, [True] * 3), "pair")
    Traceback (most recent call last):
    ...
    quests._errors.InvalidStructureError: pair has two atoms at the same position
    """
    frame = as_frame(frame, label)
    if frame.pbc.any():
        if frame.pbc.all():  # the common case, without augment_cells' general machinery
            lengths = np.sqrt((frame.cell ** 2).sum(axis=1))
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = abs(np.linalg.det(frame.cell)) / lengths.prod()
        else:
            ratio = augment_cells(frame.cell[None], frame.pbc[None])[1][0]
        if not ratio >= SINGULAR_CELL_RATIO:
            raise InvalidStructureError(singular_cell_message(frame, label))
    positions = frame.positions
    if positions.shape[0] > 1:
        # coincident rows are neighbours in lexicographic order
        ordered = positions[np.lexsort(positions.T[::-1])]
        if np.any((ordered[1:] == ordered[:-1]).all(axis=1)):
            raise InvalidStructureError(f"{label} has two atoms at the same position")
    return frame


def check_known_species(numbers, known, label, whose):
    """Refuse ``label``'s atoms (atomic ``numbers``) holding species not in ``known``.

    ``whose`` names what holds the known ones ("the reference", "the training
    frames"); an empty ``known`` (descriptor arrays: species unknown) accepts all.

    Examples
    --------
    >>> check_known_species([29, 29], [29], "md.xyz frame 0", "the reference")
    >>> check_known_species([29, 47], [29], "md.xyz frame 1", "the reference")
    Traceback (most recent call last):
    ...
    quests._errors.InvalidInputError: md.xyz frame 1 holds species [47] that the reference does
    not hold (species [29])
    """
    extra = sorted(set(np.unique(np.asarray(numbers)).tolist()) - set(known))
    if known and extra:
        raise InvalidInputError(f"{label} holds species {extra} that {whose} does not hold "
                                f"(species {list(known)})")


def info_values(structures, key, labels=None, what=""):
    """``atoms.info[key]`` of each structure, refusing by name one that lacks it.

    ``labels`` name each structure in the error (default "structure i");
    ``what`` says in it what the key stands for ("generation", "category").

    Examples
    --------
    >>> from ase import Atoms
    >>> info_values([Atoms("H", info={"gen": 1}), Atoms("H", info={"gen": 0})], "gen")
    [1, 0]
    >>> info_values([Atoms("H")], "gen", ["a.xyz:0"], "generation")
    Traceback (most recent call last):
    ...
    quests._errors.InvalidInputError: a.xyz:0 has no info key 'gen' (generation)
    """
    if not isinstance(key, str):
        raise InvalidInputError(f"an info key must be a string; got {key!r}")
    values = []
    for i, atoms in enumerate(structures):
        info = getattr(atoms, "info", None)
        if not isinstance(info, dict) or key not in info:
            where = labels[i] if labels is not None else f"structure {i}"
            detail = f" ({what})" if what else ""
            raise InvalidInputError(f"{where} has no info key {key!r}{detail}")
        values.append(info[key])
    return values
