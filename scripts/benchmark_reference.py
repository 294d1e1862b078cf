"""Time the published QUESTS implementation on the workloads of benchmark.py.

Run it in a separate virtual environment (the published package is also
called ``quests``), from the repository root, after ``scripts/benchmark.py``
has written bench-out/cu_md_descriptors.npy:

    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install quests==2026.2.22
    /tmp/refvenv/bin/python scripts/benchmark_reference.py [desc_small,desc_large,entropy_20k,entropy_50k]

The cases ``msc_1000`` and ``msc_5000`` time the reference's
``quests.compression.fps.msc`` down to 10 % on the descriptors that
``scripts/benchmark_compression.py`` writes to bench-out/ (its structures
every 5th / all of them), and save the order they choose to
bench-out/reference_msc_<n>.json, which that script compares with ours.

Each case runs in its own process (peak RSS per case); a warm-up call
compiles or loads the reference's numba kernels first, so the times exclude
compilation. The case ``cold_start`` instead times that warm-up call (one
descriptor and one entropy computation on a 32-atom cell) with an empty
NUMBA_CACHE_DIR: the compilation a first-time user waits for. Prints one
line per case.
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def rattled(size, stdev, seed):
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * size
    rng = np.random.default_rng(seed)  # the same structures as benchmark.py
    atoms.positions += rng.normal(scale=stdev, size=atoms.positions.shape)
    return atoms


def run_msc(n_structures):
    """The published msc on our descriptors (only numbers cross over: times and indices)."""
    from quests.compression.fps import msc
    from quests.entropy import perfect_entropy

    with np.load(ROOT / "bench-out" / f"compression_{n_structures}_descriptors.npz") as data:
        X, counts = data["X"], data["counts"]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    parts = [X[offsets[s]:offsets[s + 1]] for s in range(len(counts))]
    entropies = np.array([perfect_entropy(p, h=0.015) for p in parts])  # compiles, too
    start = time.perf_counter()
    entropies = np.array([perfect_entropy(p, h=0.015) for p in parts])
    order = msc(parts, entropies, len(parts) // 10, h=0.015)
    elapsed = time.perf_counter() - start
    path = ROOT / "bench-out" / f"reference_msc_{n_structures}.json"
    path.write_text(json.dumps([int(i) for i in order]))
    return {"n_structures": len(parts), "n_env": int(X.shape[0]), "time_s": elapsed,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_case(name):
    if name.startswith("msc_"):
        return run_msc(int(name[4:]))
    start = time.perf_counter()
    from quests.descriptor import get_descriptors
    from quests.entropy import entropy

    get_descriptors([rattled((2, 2, 2), 0.05, 0)])
    entropy(np.random.default_rng(0).random((50, 63)), h=0.015)
    if name == "cold_start":
        return {"n_env": 32, "time_s": time.perf_counter() - start,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if name == "desc_small":
        structures = [rattled((2, 2, 2), 0.05, s) for s in range(2000)]
        start = time.perf_counter()
        x = get_descriptors(structures, k=32, cutoff=5.0)
    elif name == "desc_large":
        structures = [rattled((29, 29, 30), 0.05, 1)]
        start = time.perf_counter()
        x = get_descriptors(structures, k=32, cutoff=5.0)
    else:
        n = {"entropy_20k": 20000, "entropy_50k": 50000}[name]
        pool = np.load(ROOT / "bench-out" / "cu_md_descriptors.npy")
        x = np.ascontiguousarray(pool[np.random.default_rng(0).choice(len(pool), n, replace=False)])
        start = time.perf_counter()
        value = entropy(x, h=0.015)
        elapsed = time.perf_counter() - start
        return {"n_env": n, "time_s": elapsed, "entropy": float(value),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    elapsed = time.perf_counter() - start
    return {"n_env": x.shape[0], "time_s": elapsed, "env_per_s": x.shape[0] / elapsed,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--case":
        print(json.dumps(run_case(sys.argv[2])))
        return
    cases = sys.argv[1].split(",") if len(sys.argv) > 1 else [
        "desc_small", "desc_large", "entropy_20k", "entropy_50k", "cold_start"]
    import quests

    print(f"reference quests {getattr(quests, '__version__', '?')}")
    for name in cases:
        env = dict(os.environ)
        if name == "cold_start":
            env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp()
        proc = subprocess.run([sys.executable, __file__, "--case", name], capture_output=True,
                              text=True, env=env)
        if proc.returncode != 0:
            print(f"{name:<12} FAILED: {proc.stderr.strip().splitlines()[-1]}")
            continue
        print(name, proc.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
