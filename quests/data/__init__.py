"""Shipped example data and seeded generators of test systems.

``demo_files()`` lists the embedded Cu datasets (made with ASE's EMT
calculator by ``scripts/make_demo_data.py``); the generators build
reproducible structures for tests and examples.
"""

from importlib import resources

import numpy as np

__all__ = ["DEMO_DATASETS", "TRAJECTORIES", "REFERENCES", "demo_files", "trajectory_files",
           "reference_files",
           "random_structure", "rattled_crystal", "mixed_cu_dataset"]

#: embedded datasets, in the order the demo prints them
DEMO_DATASETS = ("cu_crystal", "cu_300K", "cu_900K", "cu_1200K", "cu_melt")


def demo_files():
    """Paths of the embedded Cu datasets, as a dict name -> path (extxyz).

    Examples
    --------
    >>> import ase.io
    >>> files = demo_files()
    >>> list(files)
    ['cu_crystal', 'cu_300K', 'cu_900K', 'cu_1200K', 'cu_melt']
    >>> frames = ase.io.read(files["cu_300K"], ":")
    >>> len(frames), len(frames[0]), int(frames[0].info["temperature_K"])
    (20, 108, 300)
    """
    root = resources.files(__name__)
    return {name: str(root / f"{name}.xyz") for name in DEMO_DATASETS}


#: trajectories for worked examples (not part of `quests demo`)
TRAJECTORIES = ("cu_heating", "cu_melting", "cu_quench", "cu_solid_ref", "cu_liquid_ref",
                "cu_coexist_phases", "cu_undercooled", "zr_phases")
#: reference results of other methods, for worked examples (JSON)
REFERENCES = ("zr_ti",)


def trajectory_files():
    """Paths of the embedded trajectories, as a dict name -> path (extxyz).

    ``cu_heating``: 108-atom fcc Cu heated from 300 K through melting to
    3000 K with ASE's EMT (60 frames, 100 fs apart; per-atom EMT energies
    and forces; ``scripts/make_heating_md.py``).

    The others are LAMMPS NPT runs (P = 0) with the EAM potential Cu_u3
    (``scripts/make_thermo_md.py``), every frame with ``temperature_K``,
    ``target_K``, ``energy_eV``, ``time_ps``, ``pressure_bar`` and per-atom
    CNA codes ``cna`` (LAMMPS compute cna/atom) and ``cna_min`` (the same on
    the energy-minimised frame: crystal vs liquid at any temperature):

    - ``cu_melting``: 256-atom crystal heated 700 -> 2000 K in 200 ps (80
      frames); it melts at frame 57 (about 1640 K).
    - ``cu_quench``: 500-atom melt quenched to 800 K, crystallising by
      homogeneous nucleation (53 frames, 2 ps apart).
    - ``cu_solid_ref``, ``cu_liquid_ref``: 8 frames each of the 500-atom
      crystal and of the undercooled liquid at 800 K.
    - ``cu_coexist_phases``: 256-atom solid (1100-1500 K) and liquid (1200,
      1300, 1500 K), 8 frames per state point, ``info['phase']``, per-atom
      energies.
    - ``cu_undercooled``: a 256-atom liquid held at 1100 K (0.84 Tm) for 120 ps
      without crystallising (120 frames, ``info['phase'] == 'trajectory'``),
      then 6 frames of the crystal (``'solid'``) and 6 of independent liquids
      (``'liquid_ref'``) at 1100 K: the steady-state cluster-size distribution
      for a CNT fit. ``cna_min`` only, from at most 100 minimiser steps.

    And one solid-solid system (``scripts/make_zr_phases.py``):

    - ``zr_phases``: hcp and bcc Zr, 432 atoms each, EAM of Mendelev and
      Ackland 2007 (``Zr_mm.eam.fs``), NPT at 1000-1500 K (every 100 K) and
      0, 2, 4 GPa; 4 frames (8 ps apart) per phase and state point.
      ``info``: ``phase``, ``target_K``, ``pressure_GPa`` (barostat target),
      ``energy_eV``, and ``cna_hcp`` / ``cna_bcc``, the adaptive-CNA fractions
      of the 1-ps time-averaged positions before the frame.

    Examples
    --------
    The heated crystal of ``cu_melting`` is all fcc (CNA code 1) at first
    and has melted by frame 57:

    >>> import ase.io
    >>> frames = ase.io.read(trajectory_files()["cu_melting"], ":")
    >>> len(frames), len(frames[0])
    (80, 256)
    >>> [int((frames[i].arrays["cna_min"] == 1).sum()) for i in (0, 57)]  # fcc atoms
    [256, 2]
    """
    root = resources.files(__name__)
    return {name: str(root / f"{name}.xyz") for name in TRAJECTORIES}


def reference_files():
    """Paths of reference results of other methods, as a dict name -> path (JSON).

    - ``zr_ti``: Gibbs energies, entropies and the hcp/bcc boundary of Zr
      (``Zr_mm.eam.fs``) by thermodynamic integration (Frenkel-Ladd at
      1300 K, Gibbs-Helmholtz along T) on the state points of ``zr_phases``
      (``scripts/thermodynamic_integration.py``).

    Examples
    --------
    >>> import json
    >>> with open(reference_files()["zr_ti"]) as f:
    ...     zr_ti = json.load(f)
    >>> zr_ti["potential"], sorted(zr_ti)
    ('Zr_mm.eam.fs', ['T0_K', 'along_pressure', 'boundary', 'frenkel_ladd', 'gibbs', 'potential'])
    >>> boundary = zr_ti["boundary"][0]  # the hcp/bcc transition at 0 GPa
    >>> boundary["P_GPa"], round(boundary["T_K"]), round(boundary["T_error_K"])
    (0.0, 1434, 19)
    """
    root = resources.files(__name__)
    return {name: str(root / f"{name}.json") for name in REFERENCES}


def random_structure(n_atoms, cell, pbc=True, min_distance=1.5, seed=0, symbols="Cu"):
    """Atoms placed at random in ``cell``, no two closer than ``min_distance`` Å.

    Distances count periodic images along periodic axes. Raises RuntimeError
    if the cell is too crowded to place the atoms.

    Returns
    -------
    ase.Atoms

    Examples
    --------
    >>> import numpy as np
    >>> atoms = random_structure(20, np.eye(3) * 6.0, min_distance=2.0, seed=1)
    >>> atoms.get_chemical_formula(), round(float(atoms.get_volume()), 1)
    ('Cu20', 216.0)
    >>> distances = atoms.get_all_distances(mic=True)[np.triu_indices(20, 1)]
    >>> bool(distances.min() >= 2.0)
    True
    >>> random_structure(2, np.eye(3) * 1.0)
    Traceback (most recent call last):
    ...
    RuntimeError: periodic vectors shorter than min_distance
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

    Examples
    --------
    >>> atoms = rattled_crystal()  # 2 x 2 x 2 cubic cells of fcc Cu
    >>> atoms.get_chemical_formula(), atoms.cell.lengths().tolist()
    ('Cu32', [7.22, 7.22, 7.22])
    >>> displacements = atoms.positions - rattled_crystal(stdev=0.0).positions
    >>> round(float(displacements.std()), 2)
    0.05
    >>> len(rattled_crystal("Fe", "bcc", a=2.87, size=(3, 3, 3)))
    54
    """
    from ase.build import bulk

    atoms = bulk(symbol, crystal, a=a, cubic=True) * size
    if stdev > 0:
        rng = np.random.default_rng(seed)
        atoms.positions += rng.normal(scale=stdev, size=atoms.positions.shape)
    return atoms


def mixed_cu_dataset(n_crystal=40, n_rattled=10, n_surface=5, n_melt=5, seed=0):
    """Cu structures of four kinds, as a training set for compression examples.

    ``info['kind']`` names the kind of each structure:

    - ``crystal``: frames of the embedded EMT MD at 300 and 900 K (108 atoms;
      at most 40);
    - ``rattled``: 108-atom fcc supercells with Gaussian displacements of
      0.02 to 0.08 Å (the rattles of typical training sets);
    - ``surface``: fcc(111) slabs, 3 x 3 x 4 atoms with 8 Å of vacuum
      (pbc = T, T, F), displaced by 0.05 Å;
    - ``melt``: frames of the embedded EMT melt (108 atoms; at most 20).

    The kinds come in that order; the defaults make an unbalanced set
    (mostly crystal), as real training sets are.

    Returns
    -------
    list of ase.Atoms

    Examples
    --------
    >>> from collections import Counter
    >>> structures = mixed_cu_dataset(n_crystal=4, n_rattled=2, n_surface=1, n_melt=1)
    >>> Counter(atoms.info["kind"] for atoms in structures)
    Counter({'crystal': 4, 'rattled': 2, 'surface': 1, 'melt': 1})
    >>> slab = structures[6]
    >>> slab.info["kind"], len(slab), slab.pbc.tolist()
    ('surface', 36, [True, True, False])
    """
    import ase.io
    from ase.build import fcc111

    files = demo_files()
    if n_crystal > 40 or n_melt > 20:
        raise ValueError("at most 40 crystal and 20 melt frames are embedded")
    rng = np.random.default_rng(seed)
    crystal = (ase.io.read(files["cu_300K"], ":") + ase.io.read(files["cu_900K"], ":"))
    structures = []
    for atoms in crystal[:n_crystal]:
        atoms.info["kind"] = "crystal"
        structures.append(atoms)
    for i in range(n_rattled):
        atoms = rattled_crystal("Cu", size=(3, 3, 3), stdev=0.02 + 0.06 * i / max(n_rattled - 1, 1),
                                seed=int(rng.integers(2**31)))
        atoms.info["kind"] = "rattled"
        structures.append(atoms)
    for _ in range(n_surface):
        atoms = fcc111("Cu", size=(3, 3, 4), a=3.61, vacuum=8.0)
        atoms.info.pop("adsorbate_info", None)  # a dict extxyz cannot store
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        atoms.info["kind"] = "surface"
        structures.append(atoms)
    for atoms in ase.io.read(files["cu_melt"], ":")[:n_melt]:
        atoms.info["kind"] = "melt"
        structures.append(atoms)
    return structures
