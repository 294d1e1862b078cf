"""A model trained on what is kept: linear SNAP refitted to compressed mlearn training sets.

For Mo and Si (``../shared/data/mlearn/EL/{training,test}.xyz``, the DFT sets of Zuo et
al., J. Phys. Chem. A 124, 731 (2020)) the training set is described with quests and
10, 20 and 50 % of its structures are kept by every method of
``quests.compression.METHODS`` but msc_conditional (random with seeds 0-4; the others
seed 0), and by any peer selections given with ``--peers``. On each kept set a linear
SNAP potential with exactly the hyperparameters of the shipped ``EL_Zuo_JPCA2020.snap``
is fitted (``quests.lammps.fit_linear_snap``), and measured:

- energy RMSE (eV/atom) and force RMSE (eV/Å per component) on the test set and on the
  whole training set;
- the information gap of the kept set: the fraction of the test set's environments with
  dH > 0 against the kept set's environments, and their mean dH (nats; exact sums,
  bandwidth 0.015 1/Å unless ``-b``), and the entropy H of the kept set (nats).

The full training set (100 %) and the shipped potential are measured the same way: the
check that the fit is right is that the full-set fit reproduces the shipped potential's
test errors within 10 %. The design rows themselves are checked first: rows @ shipped
coefficients against LAMMPS pair_style snap in the same run, on every training and test
structure, and the test-set forces against ASE's LAMMPSlib (its own cell handling).

Fit settings, chosen once per element on the full training set and used for every
subset: force weight 1 Å/eV, energy weight ``balanced_energy_weight`` (the w_E at which
energies per atom and force components carry equal shares of the weighted squared
residual of the fit on the full training set: neither kind of data dominates, whatever
their numbers and units), ridge alpha ``SNAP_ALPHA`` = 1e-6 (a numerical safeguard;
5-fold cross-validation on the training sets showed no change for alpha from 0 to 1).
No test error was used to choose them.

Peer selections (``--peers FILE``), as another script writes them:
{"Mo": {"METHOD": {"0.1": [indices], "0.2": [...], "0.5": [...]}}, "Si": {...}},
indices into the structures of EL/training.xyz.

Usage (from the repository root):
    python scripts/snap_compression.py --json bench-out/snap_compression.json
        [--peers peers.json] [--data ../shared/data/mlearn] [-b 0.015]
(about a minute on 2 cores)
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from quests.compression import METHODS, describe_structures, resolve_size, select_structures
from quests.descriptor import structure_offsets
from quests import QuestsError
from quests.io import check_distinct_paths, check_output_path, read_structures, write_json
from quests.kde import differential_entropy, entropy
from quests.lammps import (SNAP_ALPHA, balanced_energy_weight, fit_linear_snap,
                           potential_commands, potential_forces, snap_coefficients,
                           snap_errors, snap_reference_deviation, snap_rows)

ELEMENTS = ("Mo", "Si")
FRACTIONS = (0.1, 0.2, 0.5)
RANDOM_SEEDS = range(5)
#: the full-set fit must give the shipped potential's test errors within this
TOLERANCE = 0.10


class _ExitInput(SystemExit):
    """Bad input: the one-line message goes to stderr and the exit status is 2."""

    def __init__(self, message):
        print(message, file=sys.stderr)
        super().__init__(2)


def read_peers(path):
    """Peer selections: {element: [(method, fraction, indices)]}, their form checked here
    (the index range once the training set is read)."""
    if path is None:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError) as exc:
        raise _ExitInput(f"error: --peers {path}: {exc}") from None
    if not isinstance(document, dict):
        raise _ExitInput(f"error: --peers {path}: not a JSON object")
    peers = {}
    for element, methods in document.items():
        if element == "quests_version":
            continue
        if element not in ELEMENTS or not isinstance(methods, dict):
            raise _ExitInput(f"error: --peers: {element!r} is not one of {', '.join(ELEMENTS)} "
                             "with an object of methods")
        for method, selections in methods.items():
            if method in METHODS or method == "full":
                raise _ExitInput(f"error: --peers: {element} method {method!r} has the name of "
                                 "a quests method; rename it")
            if not isinstance(selections, dict):
                raise _ExitInput(f"error: --peers: {element} {method}: not an object of sizes")
            for fraction, indices in selections.items():
                try:
                    value = float(fraction)
                except ValueError:
                    value = float("nan")
                if not 0.0 < value <= 1.0:
                    raise _ExitInput(f"error: --peers: {element} {method}: {fraction!r} is not a "
                                     "fraction in (0, 1]")
                if not isinstance(indices, list) or not all(
                        isinstance(i, int) and not isinstance(i, bool) for i in indices):
                    raise _ExitInput(f"error: --peers: {element} {method} {fraction}: the "
                                     "indices must be a list of integers")
                peers.setdefault(element, []).append(
                    (method, value, np.asarray(indices, dtype=np.int64)))
    return peers


def check_peer(element, method, fraction, indices, n_train):
    if indices.ndim != 1 or not indices.size or np.unique(indices).size != indices.size \
            or indices.min() < 0 or indices.max() >= n_train:
        raise _ExitInput(f"error: --peers: {element} {method} {fraction}: the indices must be "
                         f"distinct structures in 0..{n_train - 1}")


def measure_kept(kept, data, beta_kwargs, bandwidth):
    """Fit on the kept structures, then errors and information gap."""
    train_rows, train_e, train_f, test_rows, test_e, test_f, X, offsets, Y = data
    start = time.perf_counter()
    beta = fit_linear_snap([train_rows[i] for i in kept], train_e[kept],
                           [train_f[i] for i in kept], **beta_kwargs)
    fit_seconds = time.perf_counter() - start
    test_energy, test_force = snap_errors(beta, test_rows, test_e, test_f)
    train_energy, train_force = snap_errors(beta, train_rows, train_e, train_f)
    start = time.perf_counter()
    Xk = np.concatenate([X[offsets[i]:offsets[i + 1]] for i in kept])
    dh = differential_entropy(Y, Xk, bandwidth, method="exact")
    h = entropy(Xk, bandwidth, method="exact")
    return {"n_structures": int(len(kept)), "n_atoms": int(Xk.shape[0]),
            "test_energy_rmse": test_energy, "test_force_rmse": test_force,
            "train_energy_rmse": train_energy, "train_force_rmse": train_force,
            "test_novel_fraction": float(np.mean(dh > 0)), "test_mean_dH": float(dh.mean()),
            "kept_entropy": float(h), "fit_seconds": fit_seconds,
            "kde_seconds": time.perf_counter() - start,
            "indices": sorted(int(i) for i in kept)}


def run_element(element, data_dir, peers, bandwidth, n_jobs):
    timings = {}
    start = time.perf_counter()
    train = read_structures(os.path.join(data_dir, element, "training.xyz"))
    test = read_structures(os.path.join(data_dir, element, "test.xyz"))
    name = f"{element}_Zuo_JPCA2020.snap"
    for part, frames in (("training", train), ("test", test)):
        for i, atoms in enumerate(frames):
            if "dft_energy" not in atoms.info or "dft_forces" not in atoms.arrays:
                raise _ExitInput(f"error: {element}/{part}.xyz frame {i} has no dft_energy "
                                 "or dft_forces")
    for method, fraction, indices in peers.get(element, []):
        check_peer(element, method, fraction, indices, len(train))
    timings["read"] = time.perf_counter() - start

    # one LAMMPS pass gives the rows and pair_style snap's own energies and forces
    start = time.perf_counter()
    checked = snap_rows(train + test, name, reference=True)
    shipped = snap_coefficients(name)
    rows_check = snap_reference_deviation(checked, shipped)
    train_rows = [r[:2] for r in checked[:len(train)]]
    test_rows = [r[:2] for r in checked[len(train):]]
    timings["rows"] = time.perf_counter() - start
    train_e, test_e = (np.array([a.info["dft_energy"] for a in s]) for s in (train, test))
    train_f, test_f = ([a.arrays["dft_forces"] for a in s] for s in (train, test))
    # an independent path: ASE's LAMMPSlib, its own cell rotation, on the test set
    start = time.perf_counter()
    lammpslib = potential_forces(test, potential_commands(name))
    rows_check["test_force_vs_lammpslib"] = max(
        float(np.abs((rows[1] @ shipped).reshape(-1, 3) - f).max())
        for rows, f in zip(test_rows, lammpslib))
    timings["lammpslib"] = time.perf_counter() - start

    start = time.perf_counter()
    X, counts, Y, _ = describe_structures(train, test, n_jobs=n_jobs)
    timings["descriptors"] = time.perf_counter() - start
    data = (train_rows, train_e, train_f, test_rows, test_e, test_f, X,
            structure_offsets(counts), Y)

    start = time.perf_counter()
    energy_weight = balanced_energy_weight(train_rows, train_e, train_f)
    timings["weights"] = time.perf_counter() - start
    kwargs = {"energy_weight": energy_weight, "force_weight": 1.0, "alpha": SNAP_ALPHA}

    shipped_test = snap_errors(shipped, test_rows, test_e, test_f)
    shipped_train = snap_errors(shipped, train_rows, train_e, train_f)
    everything = np.arange(len(train))
    full = {"method": "full", "source": "quests", "fraction": 1.0, "seed": None,
            **measure_kept(everything, data, kwargs, bandwidth)}
    full.pop("indices")  # all of them

    rows = [full]
    start = time.perf_counter()
    for method in METHODS:
        if method == "msc_conditional":
            continue  # needs a reference already kept: not a compression of one set
        for seed in (RANDOM_SEEDS if method == "random" else [0]):
            for fraction in FRACTIONS:
                t = time.perf_counter()
                selection = select_structures(X, counts, fraction, method, seed=seed,
                                              bandwidth=bandwidth, n_jobs=n_jobs)
                row = {"method": method, "source": "quests", "fraction": fraction,
                       "seed": seed, "select_seconds": time.perf_counter() - t}
                row.update(measure_kept(selection.indices, data, kwargs, bandwidth))
                rows.append(row)
    for method, fraction, indices in peers.get(element, []):
        row = {"method": method, "source": "peer", "fraction": fraction, "seed": None}
        row.update(measure_kept(indices, data, kwargs, bandwidth))
        if row["n_structures"] != resolve_size(fraction, len(train)):
            row["note"] = (f"keeps {row['n_structures']} structures, not "
                           f"{resolve_size(fraction, len(train))}")
        rows.append(row)
    timings["subsets"] = time.perf_counter() - start

    deviation = {"energy": full["test_energy_rmse"] / shipped_test[0] - 1,
                 "force": full["test_force_rmse"] / shipped_test[1] - 1}
    return {"element": element, "potential": name,
            "n_train_structures": len(train), "n_train_atoms": int(counts.sum()),
            "n_test_structures": len(test), "n_test_atoms": int(Y.shape[0]),
            "bandwidth": bandwidth, "rows_check": rows_check,
            "weights": kwargs,
            "shipped": {"test_energy_rmse": shipped_test[0], "test_force_rmse": shipped_test[1],
                        "train_energy_rmse": shipped_train[0],
                        "train_force_rmse": shipped_train[1]},
            "full_fit_vs_shipped_test": {
                "relative_deviation": deviation, "tolerance": TOLERANCE,
                "within_tolerance": bool(max(abs(v) for v in deviation.values())
                                         <= TOLERANCE)},
            "rows": rows, "random_mean": random_means(rows), "timings": timings}


def random_means(rows):
    """Mean and sample standard deviation (ddof 1) over the random seeds, per fraction."""
    out = []
    keys = ("test_energy_rmse", "test_force_rmse", "train_energy_rmse", "train_force_rmse",
            "test_novel_fraction", "test_mean_dH", "kept_entropy")
    for fraction in FRACTIONS:
        group = [r for r in rows if r["method"] == "random" and r["fraction"] == fraction]
        if group:
            out.append({"fraction": fraction, "n_seeds": len(group),
                        **{k: float(np.mean([r[k] for r in group])) for k in keys},
                        **{k + "_std": float(np.std([r[k] for r in group], ddof=1))
                           for k in keys}})
    return out


def print_element(result):
    element = result["element"]
    check = result["rows_check"]
    shipped, full = result["shipped"], result["rows"][0]
    ok = result["full_fit_vs_shipped_test"]
    print(f"\n{element}: {result['n_train_structures']} training structures "
          f"({result['n_train_atoms']} atoms), {result['n_test_structures']} test "
          f"({result['n_test_atoms']} atoms); {result['potential']}")
    print(f"  rows check on all {check['n_structures']} structures: rows @ shipped "
          f"coefficients vs LAMMPS pair_style snap in the same run: energy "
          f"{check['energy_relative']:.1e} relative, forces {check['force_absolute']:.1e} eV/Å "
          f"({check['force_relative']:.1e} relative); test-set forces vs ASE LAMMPSlib "
          f"(independent frame handling): {check['test_force_vs_lammpslib']:.1e} eV/Å")
    print(f"  weights: energy {result['weights']['energy_weight']:.1f} per eV/atom, force "
          f"{result['weights']['force_weight']:g} per eV/Å, alpha "
          f"{result['weights']['alpha']:g}")
    print("  test errors        energy (meV/atom)   force (eV/Å)   | training set")
    print(f"  shipped            {1000 * shipped['test_energy_rmse']:10.2f}"
          f"          {shipped['test_force_rmse']:.4f}        | "
          f"{1000 * shipped['train_energy_rmse']:.2f}  {shipped['train_force_rmse']:.4f}")
    print(f"  full-set fit       {1000 * full['test_energy_rmse']:10.2f}"
          f"          {full['test_force_rmse']:.4f}        | "
          f"{1000 * full['train_energy_rmse']:.2f}  {full['train_force_rmse']:.4f}")
    dev = ok["relative_deviation"]
    print(f"  full fit vs shipped (test): energy {100 * dev['energy']:+.1f} %, force "
          f"{100 * dev['force']:+.1f} %: "
          + ("within" if ok["within_tolerance"] else "NOT within")
          + f" {100 * ok['tolerance']:.0f} %")
    header = (f"  {'kept':>5} {'method':<14} {'seed':>4} {'struct':>6} {'atoms':>6} "
              f"{'testE':>7} {'testF':>7} {'trainE':>7} {'trainF':>7} {'novel':>6} "
              f"{'mean dH':>8} {'H':>6}")
    print("  energies in meV/atom, forces in eV/Å; novel: fraction of test environments "
          "with dH > 0 against the kept set; dH, H in nats")
    print(header)
    for r in sorted(result["rows"], key=lambda r: (r["fraction"], r["source"], r["method"],
                                                   r["seed"] or 0)):
        seed = "" if r["seed"] is None or r["method"] != "random" else str(r["seed"])
        print(f"  {100 * r['fraction']:4.0f}% {r['method']:<14} {seed:>4} "
              f"{r['n_structures']:6d} {r['n_atoms']:6d} "
              f"{1000 * r['test_energy_rmse']:7.2f} {r['test_force_rmse']:7.4f} "
              f"{1000 * r['train_energy_rmse']:7.2f} {r['train_force_rmse']:7.4f} "
              f"{r['test_novel_fraction']:6.3f} {r['test_mean_dH']:8.3f} "
              f"{r['kept_entropy']:6.3f}" + (f"  ({r['note']})" if "note" in r else ""))
    for m in result["random_mean"]:
        print(f"  {100 * m['fraction']:4.0f}% random, mean±std of {m['n_seeds']} seeds: test "
              f"E {1000 * m['test_energy_rmse']:.2f}±{1000 * m['test_energy_rmse_std']:.2f}, "
              f"F {m['test_force_rmse']:.4f}±{m['test_force_rmse_std']:.4f}; train "
              f"E {1000 * m['train_energy_rmse']:.2f}, F {m['train_force_rmse']:.4f}; "
              f"novel {m['test_novel_fraction']:.3f}")
    print("  seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in result["timings"].items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data",
                                                       "mlearn"))
    parser.add_argument("--json", default=None, help="write the results here (atomically)")
    parser.add_argument("--peers", default=None, help="peer selections (JSON), see above")
    parser.add_argument("-b", "--bandwidth", type=float, default=0.015)
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    try:
        if args.json:  # before any work: writable, and not the peers file it reads
            check_output_path(args.json, overwrite=True)
            check_distinct_paths([("--json", args.json)], [args.peers] if args.peers else [])
        peers = read_peers(args.peers)
        results = []
        for element in ELEMENTS:
            results.append(run_element(element, args.data, peers, args.bandwidth, args.n_jobs))
            print_element(results[-1])
    except QuestsError as exc:
        raise _ExitInput(f"error: {exc}") from None
    seconds = time.perf_counter() - start
    print("\nfull-set fit vs shipped potential, test set:")
    for r in results:
        s, f = r["shipped"], r["rows"][0]
        dev = r["full_fit_vs_shipped_test"]["relative_deviation"]
        print(f"  {r['element']}: energy {1000 * s['test_energy_rmse']:.2f} -> "
              f"{1000 * f['test_energy_rmse']:.2f} meV/atom ({100 * dev['energy']:+.1f} %), "
              f"force {s['test_force_rmse']:.4f} -> {f['test_force_rmse']:.4f} eV/Å "
              f"({100 * dev['force']:+.1f} %)")
    print(f"total {seconds:.1f} s")
    if args.json:
        write_json(args.json, {"description": __doc__.splitlines()[0],
                               "fractions": list(FRACTIONS), "seconds": seconds,
                               "peers": args.peers, "elements": results}, overwrite=True)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
