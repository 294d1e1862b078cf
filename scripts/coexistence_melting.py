#!/usr/bin/env python
"""Melting point of the Cu_u3 EAM potential from solid-liquid coexistence runs.

Method (all LAMMPS, metal units, 2 fs timestep):

1. For each trial temperature T, an elongated fcc box of 5x5x16 cells (1600
   atoms, long axis z, (001) interfaces) is built with the lattice constant
   a(T) of the crystal at P = 0 (``make_thermo_md.lattice_constant``, from
   NPT runs), and thermalised at T for 5 ps (NVT).
2. The upper half (z > Lz/2) is melted at 2500 K for 10 ps and brought back
   to T in 5 ps while the lower half is held fixed; during this the box
   relaxes along z only (fix npt ... z 0 0, dilate liq), so x and y stay
   at the crystal's lattice at T.
3. The whole box then runs NPT at T with P_zz = 0 (x, y fixed) for
   ``--ps`` ps. Every 5 ps the crystalline fraction is measured as the
   fcc+hcp fraction of the CNA of the inherent structure (the configuration
   relaxed by conjugate gradients at fixed cell), which is ~1 for the
   crystal and ~0 for the liquid at any T.
4. The growth rate r(T) = d(fraction)/dt is a straight-line fit over the
   run (points after the box is >90 % one phase are dropped). Tm is the
   zero of a straight line fitted to r(T); its uncertainty combines the
   standard error of that zero (from the fit covariance) with the spacing
   of the bracketing temperatures (the highest T that grew and the lowest T
   that melted), and the script prints both.

Runtime: about 1.5-2 min per temperature on one core; ``--jobs 2`` runs two
temperatures at a time.

Usage::

    python scripts/coexistence_melting.py                       # default temps
    python scripts/coexistence_melting.py --temps 1250 1300 1350 --ps 60 --jobs 2
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_thermo_md import (DT_PS, Quencher, fcc_cu_commands,  # noqa: E402
                            lattice_constant, new_lammps)

NX, NZ = 5, 16


def coexist_run(T, ps=60.0, seed=1, sample_ps=5.0):
    from ase import Atoms
    a = lattice_constant(T)
    L = new_lammps()
    L.commands_string(fcc_cu_commands(a, NX, NX, NZ))
    L.commands_string(f"""
        thermo 500
        thermo_style custom step temp pe press pzz lz
        region top block INF INF INF INF {NZ / 2} INF units lattice
        group liq region top
        group sol subtract all liq
        velocity all create {T} {seed} mom yes rot yes dist gaussian
        fix eq all nvt temp {T} {T} 0.2
        run 2500
        unfix eq
        velocity sol set 0 0 0
        velocity liq create 2500 {seed + 1} mom yes rot yes dist gaussian
        compute tliq liq temp
        fix melt liq npt temp 2500 2500 0.2 z 0 0 2.0 dilate liq
        fix_modify melt temp tliq
        run 5000
        unfix melt
        fix melt liq npt temp 2500 {T} 0.2 z 0 0 2.0 dilate liq
        fix_modify melt temp tliq
        run 2500
        unfix melt
        velocity sol create {T} {seed + 2} mom yes rot yes dist gaussian
        reset_timestep 0
        fix co all npt temp {T} {T} 0.2 z 0 0 2.0
    """)
    n = L.get_natoms()
    frames, rows = [], []
    nsample = int(round(sample_ps / DT_PS))
    for k in range(int(round(ps / sample_ps)) + 1):
        if k > 0:
            L.command(f"run {nsample}")
        else:
            L.command("run 0")
        boxlo, boxhi = L.extract_box()[:2]
        ids = np.array(L.numpy.extract_atom("id")[:n])
        x = np.array(L.numpy.extract_atom("x")[:n])[np.argsort(ids)] - np.array(boxlo)
        at = Atoms("Cu%d" % n, positions=x, cell=np.array(boxhi) - np.array(boxlo), pbc=True)
        frames.append(at)
        rows.append((k * sample_ps, L.get_thermo("temp"), L.get_thermo("pe") / n,
                     L.get_thermo("pzz"), L.get_thermo("lz")))
    L.close()
    q = Quencher(n)
    frac = []
    for at in frames:
        c = q.cna(at, T)
        frac.append(float(np.mean((c == 1) | (c == 2))))
    q.close()
    rows = np.array(rows)
    return dict(T=T, t=rows[:, 0], temp=rows[:, 1], pe=rows[:, 2], pzz=rows[:, 3],
                lz=rows[:, 4], frac=np.array(frac))


def growth_rate(res):
    t, f = res["t"], res["frac"]
    keep = np.ones(len(t), bool)
    done = np.where((f > 0.9) | (f < 0.1))[0]
    if len(done):
        keep[done[0] + 1:] = False       # keep the first saturated point only
    if keep.sum() < 3:
        keep[:3] = True
    p, cov = np.polyfit(t[keep], f[keep], 1, cov=True) if keep.sum() > 3 else (
        np.polyfit(t[keep], f[keep], 1), np.full((2, 2), np.nan))
    return p[0], np.sqrt(cov[0, 0]) if np.isfinite(cov[0, 0]) else np.nan


def _job(args):
    T, ps, seed = args
    t0 = time.time()
    res = coexist_run(T, ps=ps, seed=seed)
    res["wall_s"] = time.time() - t0
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--temps", type=float, nargs="+",
                   default=[1220.0, 1260.0, 1300.0, 1340.0, 1380.0])
    p.add_argument("--ps", type=float, default=60.0, help="coexistence run length (ps)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=1)
    args = p.parse_args()
    t0 = time.time()
    jobs = [(T, args.ps, args.seed) for T in args.temps]
    if args.jobs > 1:
        import multiprocessing as mp
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            results = pool.map(_job, jobs)
    else:
        results = [_job(j) for j in jobs]
    Ts, rates, errs = [], [], []
    for res in results:
        r, e = growth_rate(res)
        Ts.append(res["T"])
        rates.append(r)
        errs.append(e)
        print(f"T={res['T']:.0f} K: <T>={res['temp'][1:].mean():.1f} K, "
              f"<Pzz>={res['pzz'][1:].mean():.0f} bar, crystal fraction "
              + " ".join(f"{f:.2f}" for f in res["frac"])
              + f"; rate {r * 1000:+.2f} +- {e * 1000:.2f} /ns ({res['wall_s']:.0f} s)", flush=True)
    Ts, rates, errs = map(np.array, (Ts, rates, errs))
    if len(Ts) < 2:
        return
    # straight line r = c1 * T + c0 through the rates, weighted by their errors
    w = 1.0 / np.where(np.isfinite(errs) & (errs > 0), errs, np.nanmax(errs))
    (c1, c0), cov = np.polyfit(Ts, rates, 1, w=w, cov="unscaled" if len(Ts) <= 3 else True)
    tm = -c0 / c1
    g = np.array([c0 / c1 ** 2, -1.0 / c1])          # d tm / d(c1, c0)
    tm_err_fit = float(np.sqrt(g @ cov @ g))
    grew = Ts[rates > 0]
    melted = Ts[rates < 0]
    lo = grew.max() if len(grew) else np.nan
    hi = melted.min() if len(melted) else np.nan
    print(f"bracket: crystal grows at T <= {lo:.0f} K, melts at T >= {hi:.0f} K")
    print(f"Tm (zero of linear fit of growth rate) = {tm:.0f} +- {tm_err_fit:.0f} K (fit)")
    if np.isfinite(lo) and np.isfinite(hi) and lo < hi:
        half = (hi - lo) / 2
        print(f"Tm = {tm:.0f} +- {max(tm_err_fit, half / 2):.0f} K "
              f"(bracket half-width {half:.0f} K)")
    print(f"total wall time {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
