#!/usr/bin/env python
"""Information entropy against thermodynamic integration: the tables of docs/benchmarks.md.

Reads what ``quests phase-boundary -o RESULT.json`` wrote (its per-pressure
boundaries and its line) and what ``scripts/thermodynamic_integration.py``
wrote, and prints two markdown tables:

- per state point sampled by both: kB dH (information, at the bandwidth of
  the run, with its jackknife error) against dS = S_b - S_a from TI;
- per pressure: the boundary temperature from the information-entropy line
  and from TI, and their relative difference (the goal: within 5 %).

Usage::

    quests phase-boundary --phase hcp=zr_phases/zr_phases.xyz --phase bcc=zr_phases/zr_phases.xyz \
        --phase-key phase --pressure-key pressure_GPa -o info.json
    python scripts/compare_phase_boundary.py info.json zr_ti.json
"""

import argparse
import json

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("information", help="JSON of quests phase-boundary -o")
    parser.add_argument("ti", help="JSON of scripts/thermodynamic_integration.py")
    args = parser.parse_args(argv)
    with open(args.information) as fh:
        info = json.load(fh)
    with open(args.ti) as fh:
        ti = json.load(fh)
    phases = info["boundaries"][0]["phases"]
    gibbs = {(g["phase"], g["P_GPa"]): g for g in ti["gibbs"]}
    print(f"| P (GPa) | T (K) | kB dH, information ({phases[1]} - {phases[0]}, kB/atom) | "
          f"dS, TI (kB/atom) | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for b in info["boundaries"]:
        p = b["pressure"]
        g_a, g_b = gibbs.get((phases[0], p)), gibbs.get((phases[1], p))
        if g_a is None or g_b is None:
            continue
        ds = {t: (sb - sa) for t, sa, sb in zip(g_a["T_K"], g_a["S_kB"], g_b["S_kB"])}
        # TI entropy error: G's error over T (the enthalpy fit's error is far smaller)
        ds_error = {t: np.hypot(ea, eb) / (8.617333262e-5 * t) for t, ea, eb in
                    zip(g_a["T_K"], g_a["G_error_eV"], g_b["G_error_eV"])}
        states = {(s["phase"], s["temperature"]): s for s in b["states"]}
        for t, dh in zip(b["temperatures"], b["dH"]):
            if t not in ds:
                continue
            error = np.hypot(states[(phases[0], t)]["entropy_error"],
                             states[(phases[1], t)]["entropy_error"])
            print(f"| {p:g} | {t:.0f} | {dh:.3f} +- {error:.3f} | {ds[t]:.3f} +- "
                  f"{ds_error[t]:.3f} | {dh / ds[t]:.2f} |")
    print()
    line = info.get("line")
    print("| P (GPa) | T, information-entropy line (K) | T, TI (K) | difference |")
    print("| --- | --- | --- | --- |")
    for r in sorted(ti["boundary"], key=lambda r: r["P_GPa"]):
        cell = "no line (one pressure)"
        diff = ""
        if line is not None:
            pressures = np.array(line["pressures"])
            i = int(np.argmin(np.abs(pressures - r["P_GPa"])))
            t, e = line["temperatures"][i], line["temperature_errors"][i]
            if t is None:
                cell = "no crossing near the sampled T"
            else:
                cell = f"{t:.0f} +- {e:.0f}" + (" (extrapolated)" if line["extrapolated"][i]
                                                else "")
                diff = f"{(t - r['T_K']) / r['T_K'] * 100:+.1f} %"
        ti_cell = f"{r['T_K']:.0f} +- {r['T_error_K']:.0f}" + (" (extrapolated)"
                                                               if r["extrapolated"] else "")
        print(f"| {r['P_GPa']:g} | {cell} | {ti_cell} | {diff} |")
    # the single-pressure estimates, for the record
    print()
    for b in info["boundaries"]:
        est = np.array(b["temperature_estimates"], dtype=float)
        print(f"P = {b['pressure']:g} GPa: (dU + P dV) / (kB dH) at the sampled T = "
              f"{', '.join(f'{x:.0f}' for x in est)} K; straight-line root of dG(T) "
              f"{b['coexistence_temperature']:.0f} +- {b['coexistence_temperature_error']:.0f} K")


if __name__ == "__main__":
    main()
