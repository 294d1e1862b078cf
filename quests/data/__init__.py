"""Shipped example data and seeded generators of test systems.

``demo_files()`` lists the embedded Cu datasets (made with ASE's EMT
calculator by ``scripts/make_demo_data.py``); the generators build
reproducible structures for tests and examples.
"""

from importlib import resources

import numpy as np

__all__ = ["DEMO_DATASETS", "TRAJECTORIES", "demo_files", "trajectory_files",
           "random_structure", "rattled_crystal"]

#: embedded datasets, in the order the demo prints them
DEMO_DATASETS = ("cu_crystal", "cu_300K", "cu_900K", "cu_1200K", "cu_melt")


def demo_files():
    """Paths of the embedded Cu datasets, as a dict name -> path (extxyz)."""
    root = resources.files(__name__)
    return {name: str(root / f"{name}.xyz") for name in DEMO_DATASETS}


#: trajectories for worked examples (not part of `quests demo`)
TRAJECTORIES = ("cu_heating",)


def trajectory_files():
    """Paths of the embedded trajectories, as a dict name -> path (extxyz).

    ``cu_heating``: 108-atom fcc Cu heated from 300 K through melting to
    3000 K with ASE's EMT (60 frames, 100 fs apart; per-atom EMT energies
    and forces; ``scripts/make_heating_md.py``).
    """
    root = resources.files(__name__)
    return {name: str(root / f"{name}.xyz") for name in TRAJECTORIES}


def random_structure(n_atoms, cell, pbc=True, min_distance=1.5, seed=0, symbols="Cu"):
    """Atoms placed at random in ``cell``, no two closer than ``min_distance`` Å.

    Distances count periodic images along periodic axes. Raises RuntimeError
    if the cell is too crowded to place the atoms.

    Returns
    -------
    ase.Atoms
    """
    from ase import Atoms
    from ase.geometry import get_distances

    rng = np.random.default_rng(seed)
    cell = np.asarray(cell, dtype=float)
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    positions = []
    attempts = 0
    while len(positions) < n_atoms:
        attempts += 1
        if attempts > 10000 * n_atoms:
            raise RuntimeError(f"cannot place {n_atoms} atoms {min_distance} Å apart")
        trial = rng.random(3) @ cell
        if positions:
            _, d = get_distances([trial], positions, cell=cell, pbc=pbc)
            if d.min() < min_distance:
                continue
        if pbc.any():
            # the atom must also keep away from its own periodic images
            lattice_min = min(np.linalg.norm(cell[a]) for a in range(3) if pbc[a])
            if lattice_min < min_distance:
                raise RuntimeError("periodic vectors shorter than min_distance")
        positions.append(trial)
    numbers_symbols = symbols if isinstance(symbols, str) else list(symbols)
    if isinstance(numbers_symbols, str):
        numbers_symbols = [numbers_symbols] * n_atoms
    return Atoms(symbols=numbers_symbols, positions=positions, cell=cell, pbc=pbc)


def rattled_crystal(symbol="Cu", crystal="fcc", a=3.61, size=(2, 2, 2), stdev=0.05, seed=0):
    """A cubic supercell of a Bravais crystal with Gaussian displacements (Å).

    Returns
    -------
    ase.Atoms
    """
    from ase.build import bulk

    atoms = bulk(symbol, crystal, a=a, cubic=True) * size
    if stdev > 0:
        rng = np.random.default_rng(seed)
        atoms.positions += rng.normal(scale=stdev, size=atoms.positions.shape)
    return atoms
