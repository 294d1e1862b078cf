"""Speed of dataset compression (issue 4): msc on 5,000 structures / 200,000 environments.

Data: ASE EMT molecular dynamics of Cu, 50 runs of 100 snapshots each:
32-atom bulk cells and 48-atom fcc(111) slabs (mean 40 atoms) at 300 to
2,500 K (crystal, hot crystal, surfaces, melt). Generated once (about four
minutes) and kept in bench-out/compression_5000.xyz.

Cases (each in its own process, so compile time and peak RSS are its own):
  compile     first call of msc on 10 tiny structures, empty vs filled numba cache
  msc         msc down to 10 % (500 structures)            target <= 2 min on 2 cores
  msc_1000    the same on every 5th structure (1,000 / 40,000 environments)
  baselines   random, fps, mean_fps, k_means down to 10 %
  curve       the incremental H/D/overlap curve along the msc order
  quality     H and overlap of msc vs random (5 seeds) at 10 %

The msc cases also write the descriptors to bench-out/compression_<n>_descriptors.npz,
for the published implementation's run (cases msc_1000 / msc_5000 of
scripts/benchmark_reference.py); if that run's order is in bench-out/, they
report whether ours is the same.

Usage: python scripts/benchmark_compression.py [--cases a,b] [--json out.json]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench-out"
DATA = OUT / "compression_5000.xyz"
CASES = ["compile", "msc", "msc_1000", "baselines", "curve", "quality"]


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_data():
    """5,000 EMT MD snapshots of Cu (bulk and slabs, 300-2,500 K)."""
    if DATA.exists():
        return
    import numpy as np
    from ase import units
    from ase.build import bulk, fcc111
    from ase.calculators.emt import EMT
    from ase.io import write
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    OUT.mkdir(exist_ok=True)
    temperatures = [300, 600, 900, 1200, 2500]
    frames = []
    for run in range(50):
        rng = np.random.default_rng(run)
        if run % 2 == 0:
            atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
        else:
            atoms = fcc111("Cu", size=(2, 2, 12), a=3.61, vacuum=6.0)
            atoms.info.pop("adsorbate_info", None)
        temperature = temperatures[(run // 2) % len(temperatures)]
        atoms.calc = EMT()
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
        dyn = Langevin(atoms, 5 * units.fs, temperature_K=temperature, friction=0.02, rng=rng,
                       fixcm=False)
        dyn.run(100)
        for _ in range(100):
            dyn.run(10)
            snap = atoms.copy()
            snap.info.update({"temperature_K": temperature, "run": run})
            frames.append(snap)
    tmp = DATA.with_suffix(".tmp.xyz")
    write(tmp, frames)
    tmp.replace(DATA)


def _load(step=1):
    import numpy as np
    from ase.io import read

    from quests.compression import describe_structures

    data = read(DATA, ":")[::step]
    t0 = time.perf_counter()
    X, counts, _, _ = describe_structures(data)
    return X, np.asarray(counts), time.perf_counter() - t0


def case_compile():
    """First call of msc (descriptors excluded) in a new process, cold and warm cache."""
    code = (
        "import time, numpy as np; from quests.compression import select_structures; "
        "X = np.random.default_rng(0).normal(scale=0.02, size=(50, 63)); "
        "t = time.perf_counter(); select_structures(X, [5] * 10, 3, 'msc'); "
        "print(time.perf_counter() - t)"
    )
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold", "warm"):
            run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, check=True)
            out[f"first_call_{label}_s"] = round(float(run.stdout.strip()), 2)
    return out


def case_msc(step=1):
    import numpy as np

    from quests.compression import select_structures

    X, counts, t_desc = _load(step)
    n = int(counts.shape[0])
    np.savez(OUT / f"compression_{n}_descriptors.npz", X=X, counts=counts)
    t0 = time.perf_counter()
    sel = select_structures(X, counts, 0.1, "msc")
    elapsed = time.perf_counter() - t0
    out = {"n_structures": n, "n_environments": int(X.shape[0]), "kept": sel.size,
           "descriptors_s": round(t_desc, 1), "msc_s": round(elapsed, 1),
           "peak_rss_mb": round(_peak_rss_mb())}
    reference = OUT / f"reference_msc_{n}.json"
    if reference.exists():
        out["same_order_as_reference"] = json.loads(reference.read_text()) == sel.indices.tolist()
    return out


def case_msc_1000():
    return case_msc(step=5)


def case_baselines():
    from quests.compression import select_structures

    X, counts, _ = _load()
    out = {}
    for method in ("random", "fps", "mean_fps", "k_means"):
        t0 = time.perf_counter()
        select_structures(X, counts, 0.1, method)
        out[f"{method}_s"] = round(time.perf_counter() - t0, 2)
    out["peak_rss_mb"] = round(_peak_rss_mb())
    return out


def case_curve():
    from quests.compression import select_structures, selection_curve

    X, counts, _ = _load()
    order = select_structures(X, counts, 0.1, "msc").indices
    t0 = time.perf_counter()
    curve = selection_curve(X, counts, order)
    return {"curve_s": round(time.perf_counter() - t0, 1),
            "final_entropy": round(float(curve["entropy"][-1]), 4),
            "final_overlap": round(float(curve["overlap"][-1]), 4),
            "peak_rss_mb": round(_peak_rss_mb())}


def case_quality():
    import numpy as np

    from quests.compression import select_structures, selection_curve

    X, counts, _ = _load()
    out = {}
    for method, seeds in (("msc", [0]), ("random", range(5))):
        finals = []
        for seed in seeds:
            order = select_structures(X, counts, 0.1, method, seed=seed).indices
            curve = selection_curve(X, counts, order)
            finals.append((curve["entropy"][-1], curve["overlap"][-1]))
        finals = np.array(finals)
        out[f"{method}_entropy"] = round(float(finals[:, 0].mean()), 3)
        out[f"{method}_overlap"] = round(float(finals[:, 1].mean()), 4)
        if len(seeds) > 1:
            out[f"{method}_overlap_std"] = round(float(finals[:, 1].std(ddof=1)), 4)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json", default=None)
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(globals()[f"case_{args.case}"]()))
        return
    make_data()
    results = {}
    for case in args.cases.split(","):
        run = subprocess.run([sys.executable, __file__, "--case", case], capture_output=True,
                             text=True)
        if run.returncode != 0:
            print(f"{case}: failed\n{run.stderr}", file=sys.stderr)
            continue
        results[case] = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"{case:10s} {results[case]}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
