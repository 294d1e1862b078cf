"""Speed and memory of the core: descriptors, exact entropy, `quests entropy`.

Each case runs in its own Python process, so its peak RSS is its own and the
numba compile time of its first call is visible (numba's on-disk cache is
used, as in normal use, except for the "cold" CLI case, which points
NUMBA_CACHE_DIR at an empty folder). Prints one table; --json writes it.

Cases (targets from issue 2, on a 2-core machine):
  desc_small   descriptors of 2,000 rattled 32-atom Cu cells   >= 100,000 env/s
  desc_large   descriptors of one 100,920-atom Cu cell          >= 100,000 env/s
  entropy_20k  exact H of 20,000 Cu MD environments (63-dim)    <= 1.5 s
  entropy_50k  exact H of 50,000 Cu MD environments             <= 8 s
  cli_cold     `quests entropy` on a 1,000-atom file, empty cache   <= 15 s
  cli_warm     the same with the cache filled                   <= 2 s
  skewed       a 4-atom fcc cell given by the sheared basis [[1,0,0],[40,1,0],[40,40,1]]
               x the conventional one: time with the Minkowski reduction of
               skewed cells, and ("first") without it
Peak RSS <= 1 GB in every case.

Usage: python scripts/benchmark.py [--cases a,b] [--repeat 3] [--json out.json]
The entropy cases need MD descriptors; they are generated once with ASE's EMT
(about a minute) and kept in bench-out/ (ignored by git).
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
CASES = ["desc_small", "desc_large", "entropy_20k", "entropy_50k", "cli_cold", "cli_warm",
         "skewed"]


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(func, repeat):
    first_start = time.perf_counter()
    result = func()
    first = time.perf_counter() - first_start
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return result, first, min(times)


def case_desc_small(repeat):
    from quests.data import rattled_crystal
    from quests.descriptor import compute_descriptors

    structures = [rattled_crystal(stdev=0.05, seed=s) for s in range(2000)]
    x, first, best = _timed(lambda: compute_descriptors(structures), repeat)
    _, _, one_thread = _timed(lambda: compute_descriptors(structures, n_jobs=1), 1)
    return {"n_env": x.shape[0], "first_s": first, "time_s": best, "env_per_s": x.shape[0] / best,
            "speedup_vs_1_thread": one_thread / best}


def case_desc_large(repeat):
    from quests.data import rattled_crystal
    from quests.descriptor import compute_descriptors

    atoms = rattled_crystal(size=(29, 29, 30), stdev=0.05, seed=1)
    x, first, best = _timed(lambda: compute_descriptors(atoms), repeat)
    _, _, one_thread = _timed(lambda: compute_descriptors(atoms, n_jobs=1), 1)
    return {"n_env": x.shape[0], "first_s": first, "time_s": best, "env_per_s": x.shape[0] / best,
            "speedup_vs_1_thread": one_thread / best}


def md_descriptors():
    """51,200 descriptors from EMT MD of 256-atom Cu: 100 frames at 600 K, 100 of a melt."""
    path = OUT / "cu_md_descriptors.npy"
    if path.exists():
        import numpy as np

        return np.load(path)
    import numpy as np
    from ase import units
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from quests.descriptor import compute_descriptors

    frames = []
    for temperature, scale, seed in ((600, 1.0, 1), (2000, 1.03, 2)):
        atoms = bulk("Cu", "fcc", a=3.59 * scale, cubic=True) * (4, 4, 4)
        atoms.calc = EMT()
        rng = np.random.default_rng(seed)
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
        dyn = Langevin(atoms, 5 * units.fs, temperature_K=temperature, friction=0.02, rng=rng)
        dyn.run(600 if temperature > 1000 else 200)
        for _ in range(100):
            dyn.run(10)
            frames.append(atoms.copy())
    x = compute_descriptors(frames)
    OUT.mkdir(exist_ok=True)
    np.save(path, x)
    return x


def _entropy_case(n, repeat):
    import numpy as np

    from quests.kde import entropy

    x = md_descriptors()
    rng = np.random.default_rng(0)
    x = np.ascontiguousarray(x[rng.choice(len(x), size=n, replace=False)])
    h, first, best = _timed(lambda: entropy(x, 0.015), repeat)
    return {"n_env": n, "first_s": first, "time_s": best, "entropy": h}


def case_entropy_20k(repeat):
    return _entropy_case(20000, repeat)


def case_entropy_50k(repeat):
    return _entropy_case(50000, max(1, repeat - 1))


def _cli_file():
    from ase.io import write

    from quests.data import rattled_crystal

    path = OUT / "cu_1000.xyz"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        write(path, rattled_crystal(size=(5, 5, 10), stdev=0.1, seed=3))  # 1,000 atoms
    return path


def _run_cli(env):
    path = _cli_file()
    quests = Path(sys.executable).with_name("quests")
    start = time.perf_counter()
    proc = subprocess.run([str(quests), "entropy", str(path), "-q"], env=env,
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return elapsed, child


def case_cli_cold(repeat):
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        elapsed, rss = _run_cli(env)
    return {"n_env": 1000, "time_s": elapsed, "child_rss_mb": rss}


def case_cli_warm(repeat):
    _run_cli(dict(os.environ))  # fill the cache
    times = [_run_cli(dict(os.environ))[0] for _ in range(max(1, repeat))]
    return {"n_env": 1000, "time_s": min(times),
            "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0}


def case_skewed(repeat):
    import numpy as np
    from ase.build import bulk

    import quests.neighbors
    from quests.descriptor import compute_descriptors

    atoms = bulk("Cu", "fcc", a=3.61) * (4, 1, 1)
    atoms.rattle(0.05, seed=1)
    shear = np.array([[1, 0, 0], [40, 1, 0], [40, 40, 1]])
    sheared = atoms.copy()
    sheared.set_cell(shear @ atoms.cell.array, scale_atoms=False)
    compute_descriptors(atoms)  # load the kernels
    _, _, reduced = _timed(lambda: compute_descriptors(sheared), repeat)
    quests.neighbors.SKEWED_CELL_RATIO = 0.0  # ablation: no reduction
    start = time.perf_counter()
    compute_descriptors(sheared)
    unreduced = time.perf_counter() - start
    return {"n_env": len(atoms), "first_s": unreduced, "time_s": reduced}


def run_case(name, repeat):
    result = globals()[f"case_{name}"](repeat)
    result["peak_rss_mb"] = max(_peak_rss_mb(), result.pop("child_rss_mb", 0.0))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.repeat)))
        return
    import numba

    results = {}
    print(f"python {sys.version.split()[0]}, numba {numba.__version__}, "
          f"{os.cpu_count()} cores", flush=True)
    header = (f"{'case':<12} {'envs':>8} {'first (s)':>10} {'time (s)':>9} {'env/s':>10} "
              f"{'peak RSS (MB)':>14} {'2 vs 1 thread':>14}")
    print(header)
    for name in args.cases.split(","):
        proc = subprocess.run([sys.executable, __file__, "--case", name, "--repeat",
                               str(args.repeat)], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name:<12} FAILED: {proc.stderr.strip().splitlines()[-1]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results[name] = r
        rate = f"{r['env_per_s']:,.0f}" if "env_per_s" in r else "-"
        first = f"{r['first_s']:.2f}" if "first_s" in r else "-"
        speedup = f"{r['speedup_vs_1_thread']:.2f}x" if "speedup_vs_1_thread" in r else "-"
        print(f"{name:<12} {r['n_env']:>8} {first:>10} {r['time_s']:>9.3f} {rate:>10} "
              f"{r['peak_rss_mb']:>14.0f} {speedup:>14}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
