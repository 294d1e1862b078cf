"""Speed and memory of the approximate KDE and of `quests uncertainty` (issue 3).

Each case runs in its own Python process (peak RSS and first-call compile
time are its own). Prints one table; --json writes it.

Cases (targets from issue 3, on a 2-core machine):
  entropy_1m     sampled H and D of 1,000,000 Cu MD environments (63-dim)  <= 10 min, RSS <= 8 GB
  query_1m       dH of 1,000,000 trajectory environments against a
                 100,000-environment HNSW index (build + queries)         <= 3 min
  cli_cold       `quests uncertainty` on a small file, empty numba cache  <= 20 s
  cli_warm       the same in a new process, cache filled                  <= 5 s + work
  nndescent_cold pynndescent build + query of 20,000 x 63 in a new process,
  nndescent_warm   empty / filled numba cache (the alternative backend)
  hnsw_process   the same with faiss HNSW in a new process
  exact_query    exact dH of 200,000 environments against 20,000 (the largest
                 reference method="auto" sums exactly): time per query
  accuracy       HNSW recall of the 100 nearest against exhaustive search, and
                 the truncation excess of dH and of ln p_i, on the 51,200 Cu MD
                 descriptors of scripts/benchmark.py

Data: EMT molecular dynamics of 4,000-atom Cu cells (crystal at 600 and
1200 K, and a melt), generated once (about 7 minutes) and kept in bench-out/.

Usage: python scripts/benchmark_approx.py [--cases a,b] [--json out.json]
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
CASES = ["entropy_1m", "query_1m", "cli_cold", "cli_warm", "hnsw_process", "nndescent_cold",
         "nndescent_warm", "exact_query", "accuracy"]


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def md_million():
    """1,000,000 descriptors of EMT MD of 4,000-atom Cu (float64, 63-dim)."""
    import numpy as np

    path = OUT / "cu_md_1m.npy"
    if path.exists():
        return np.load(path)
    from ase import units
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin

    from quests.descriptor import compute_descriptors

    blocks = []
    for temperature, scale, warm, n_frames, seed in ((600, 1.0, 100, 125, 1),
                                                     (1200, 1.01, 100, 60, 2),
                                                     (3000, 1.03, 400, 65, 3)):
        atoms = bulk("Cu", "fcc", a=3.59 * scale, cubic=True) * (10, 10, 10)
        atoms.calc = EMT()
        dyn = Langevin(atoms, 5 * units.fs, temperature_K=temperature, friction=0.05,
                       rng=np.random.default_rng(seed), fixcm=False)
        dyn.run(warm)
        if temperature > 2000:
            dyn.set_temperature(temperature_K=1800)
        frames = []
        for _ in range(n_frames):
            dyn.run(2)
            frames.append(atoms.copy())
        blocks.append(compute_descriptors(frames))
    x = np.vstack(blocks)
    OUT.mkdir(exist_ok=True)
    np.save(path, x)
    return x


def case_entropy_1m():
    import numpy as np

    from quests.kde import dataset_entropy

    x = md_million()
    start = time.perf_counter()
    r = dataset_entropy(x, 0.015, method="approx", tolerance=0.01, seed=0)
    seconds = time.perf_counter() - start
    return {"n_env": x.shape[0], "time_s": seconds, "entropy": r.entropy,
            "entropy_error": r.entropy_error, "diversity": r.diversity,
            "diversity_error": r.diversity_error, "n_sampled": r.n_sampled,
            "max_entropy": float(np.log(x.shape[0]))}


def case_query_1m():
    import numpy as np

    from quests.kde import NeighborIndex, differential_entropy

    x = md_million()
    rng = np.random.default_rng(0)
    reference = np.ascontiguousarray(x[rng.choice(x.shape[0], 100_000, replace=False)])
    start = time.perf_counter()
    index = NeighborIndex("hnsw").fit(reference)
    build = time.perf_counter() - start
    novel = 0
    start = time.perf_counter()
    for block in range(0, x.shape[0], 100_000):  # streamed, as `quests uncertainty` does
        dh = differential_entropy(x[block:block + 100_000], index, method="approx",
                                  n_neighbors=64)
        novel += int((dh > 0).sum())
    query = time.perf_counter() - start
    return {"n_reference": 100_000, "n_queries": x.shape[0], "build_s": build,
            "query_s": query, "time_s": build + query, "novel_fraction": novel / x.shape[0]}


def _small_files():
    from ase.io import read, write

    from quests.data import demo_files

    folder = OUT / "uq"
    folder.mkdir(parents=True, exist_ok=True)
    files = demo_files()
    train, traj = folder / "train.xyz", folder / "traj.xyz"
    if not traj.exists():
        write(train, read(files["cu_300K"], ":"))
        write(traj, read(files["cu_1200K"], ":"))
    return train, traj


def _run_cli(env):
    train, traj = _small_files()
    start = time.perf_counter()
    quests = Path(sys.executable).with_name("quests")
    subprocess.run([str(quests), "uncertainty", str(traj), "-r", str(train), "--method",
                    "approx", "-q"], check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def case_cli_cold():
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        return {"time_s": _run_cli(env)}


def case_cli_warm():
    _run_cli(dict(os.environ))  # fill the cache
    return {"time_s": min(_run_cli(dict(os.environ)) for _ in range(3))}


def _backend_process(backend, env):
    code = (
        "import time, numpy as np; t0 = time.perf_counter();"
        "from quests.kde import NeighborIndex;"
        "x = np.load('bench-out/cu_md_1m.npy', mmap_mode='r')[::50][:20000].astype(float);"
        "t1 = time.perf_counter();"
        f"index = NeighborIndex('{backend}').fit(x); t2 = time.perf_counter();"
        "index.query(x[:2000], 64); t3 = time.perf_counter();"
        "print(t1 - t0, t2 - t1, t3 - t2)"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT,
                         capture_output=True, text=True)
    total = time.perf_counter() - start
    imp, build, query = (float(v) for v in out.stdout.split())
    return {"time_s": total, "import_s": imp, "build_s": build, "query_s": query}


def case_hnsw_process():
    md_million()
    return _backend_process("hnsw", dict(os.environ))


def case_nndescent_cold():
    md_million()
    with tempfile.TemporaryDirectory() as cache:
        return _backend_process("pynndescent", dict(os.environ, NUMBA_CACHE_DIR=cache))


def case_nndescent_warm():
    md_million()
    _backend_process("pynndescent", dict(os.environ))
    return _backend_process("pynndescent", dict(os.environ))


def case_exact_query():
    import numpy as np

    from quests.kde import differential_entropy

    x = md_million()
    rng = np.random.default_rng(1)
    pick = rng.choice(x.shape[0], 220_000, replace=False)
    reference, queries = x[pick[:20_000]], x[pick[20_000:]]
    start = time.perf_counter()
    differential_entropy(queries, reference, method="exact")
    seconds = time.perf_counter() - start
    return {"n_reference": 20_000, "n_queries": queries.shape[0], "time_s": seconds,
            "us_per_query": 1e6 * seconds / queries.shape[0],
            "extrapolated_1m_s": seconds * 1e6 / queries.shape[0]}


def case_accuracy():
    import numpy as np

    sys.path.insert(0, str(ROOT / "scripts"))
    from benchmark import md_descriptors

    from quests.kde import NeighborIndex, differential_entropy, kernel_sum

    x = md_descriptors()
    rng = np.random.default_rng(0)
    order = rng.permutation(x.shape[0])
    reference, queries = x[order[:40000]], x[order[40000:]]
    truth = NeighborIndex("brute").fit(reference).query(queries, 100)[0]
    out = {}
    for width in (64, 128, 256):
        found = NeighborIndex("hnsw", search_width=width).fit(reference).query(queries, 100)[0]
        out[f"recall100_ef{width}"] = float(np.mean(
            [np.intersect1d(a, b).size / 100 for a, b in zip(found, truth)]))
    exact = differential_entropy(queries[:5000], reference[:20000], method="exact")
    index = NeighborIndex("hnsw").fit(reference[:20000])
    out["novel_exact"] = float(np.mean(exact > 0))
    for m in (16, 64, 256):
        approx = differential_entropy(queries[:5000], index, method="approx", n_neighbors=m)
        out[f"dh_excess_m{m}"] = float(np.mean(approx - exact))
        out[f"novel_m{m}"] = float(np.mean(approx > 0))
    log_p = np.log(kernel_sum(x, 0.015))
    self_index = NeighborIndex("brute").fit(x)
    for m in (32, 200):
        _, d2 = self_index.query(x, m)
        log_q = np.log(np.exp(-d2 / (2 * 0.015 ** 2)).sum(axis=1))
        out[f"lnp_missing_m{m}"] = float(np.mean(log_p - log_q))
        out[f"lnp_missing_std_m{m}"] = float(np.std(log_p - log_q))
    out["lnp_std"] = float(np.std(log_p))
    return out


def run_case(name):
    result = globals()[f"case_{name}"]()
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json", default=None)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_case(args.one)))
        return
    md_million()
    results = {}
    for name in args.cases.split(","):
        out = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True,
                             text=True, cwd=ROOT)
        if out.returncode != 0:
            results[name] = {"error": out.stderr.strip().splitlines()[-1]}
        else:
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        row = results[name]
        print(f"{name:16s} " + "  ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
            flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
