"""Dataset compression: speed (issues 4, 18) and what each method keeps (issue 18).

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
  coverage    coverage (the default) down to 10 %, and coverage_20 to 20 %: time, peak RSS
  coverage_probes  the same with 4,096 probes (n_probes) instead of 8,192, and what it keeps
  peers       H, D, overlap, categories kept and time at 5, 10, 20, 50 % for every method
              of ours and the peers of scripts/peer_selections.py (scikit-matter FPS and
              CUR, maml DIRECT; on mean descriptors, run in their own environment given
              by --peer-python) on three datasets: mixed_cu_dataset() (60 structures,
              4 kinds), a 600-structure Cu set of nine unequal categories (EMT MD,
              bench-out/compression_categories.xyz, generated once), and every 5th of
              the 5,000 MD snapshots (1,000 structures; category = bulk/slab and
              temperature)
  peers_5000  the same on all 5,000 snapshots at 10 %
  frontier    1,500 random 6-structure subsets of mixed_cu_dataset(): does any keep both
              the best H and the best overlap of the other methods at 10 %?
  mlearn_peers the peers' selections of 10, 20, 50 % of the mlearn Mo and Si training
              sets, for scripts/snap_compression.py --peers bench-out/mlearn_peers.json

The msc cases also write the descriptors to bench-out/compression_<n>_descriptors.npz,
for the published implementation's run (cases msc_1000 / msc_5000 of
scripts/benchmark_reference.py); if that run's order is in bench-out/, they
report whether ours is the same.

Usage: python scripts/benchmark_compression.py [--cases a,b] [--json out.json]
       [--peer-python bench-venv/bin/python]
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
CATEGORIES = OUT / "compression_categories.xyz"
CASES = ["compile", "msc", "msc_1000", "baselines", "curve", "quality", "coverage",
         "coverage_20", "coverage_probes", "peers", "peers_5000", "mlearn_peers", "frontier"]
PEER_PYTHON = ROOT.parent / "bench-venv" / "bin" / "python"
FRACTIONS = (0.05, 0.1, 0.2, 0.5)


def _peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_data():
    """5,000 EMT MD snapshots of Cu (bulk and slabs, 300-2,500 K)."""
    if DATA.exists():
        return
    import numpy as np
    from ase.build import bulk, fcc111

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
        frames += _langevin_frames(atoms, temperature, rng, 100, 100,
                                   {"temperature_K": temperature, "run": run})
    _write_frames(DATA, frames)


def _langevin_frames(atoms, temperature, rng, n_equilibrate, n_frames, info):
    """EMT Langevin MD (5 fs, friction 0.02) from Maxwell-Boltzmann velocities: after
    n_equilibrate steps, a copy every 10 steps, ``info`` added to each."""
    from ase import units
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    atoms.calc = EMT()
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    dyn = Langevin(atoms, 5 * units.fs, temperature_K=temperature, friction=0.02, rng=rng,
                   fixcm=False)
    dyn.run(n_equilibrate)
    frames = []
    for _ in range(n_frames):
        dyn.run(10)
        snap = atoms.copy()
        snap.info.update(info)
        frames.append(snap)
    return frames


def _write_frames(path, frames):
    """extxyz through a temporary file, so a half-written file never has the final name."""
    from ase.io import write

    tmp = path.with_suffix(".tmp.xyz")
    write(tmp, frames)
    tmp.replace(path)


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


def make_categories():
    """600 Cu structures of nine unequal categories (ASE EMT MD), kept in bench-out.

    Many correlated frames of a 300 K crystal, fewer of hotter crystals, a
    strained crystal, a vacancy, two surfaces, few liquid and cluster frames:
    the unbalanced make-up of real training sets. 32-atom bulk cells,
    36-atom slabs, a 55-atom icosahedral cluster in vacuum; frames every 10
    steps of 5 fs after 100 steps of equilibration (400 for the liquid),
    Langevin thermostat.
    """
    if CATEGORIES.exists():
        return
    import numpy as np
    from ase.build import bulk, fcc100, fcc111
    from ase.cluster import Icosahedron

    def crystal(strain=0.0, vacancy=False):
        atoms = bulk("Cu", "fcc", a=3.61 * (1 + strain), cubic=True) * (2, 2, 2)
        if vacancy:
            del atoms[0]
        return atoms

    def slab(maker):
        atoms = maker("Cu", size=(3, 3, 4), a=3.61, vacuum=6.0)
        atoms.info.pop("adsorbate_info", None)
        return atoms

    def cluster():
        atoms = Icosahedron("Cu", 3)
        atoms.center(vacuum=6.0)
        atoms.pbc = False
        return atoms

    # (category, builder, temperature K, frames): 600 in all
    plan = [("bulk_300K", crystal, 300, 300), ("bulk_900K", crystal, 900, 120),
            ("bulk_1200K", crystal, 1200, 60), ("strained_300K", lambda: crystal(0.03), 300, 40),
            ("vacancy_300K", lambda: crystal(vacancy=True), 300, 30),
            ("surface111_300K", lambda: slab(fcc111), 300, 20),
            ("surface100_300K", lambda: slab(fcc100), 300, 15),
            ("liquid_2000K", crystal, 2000, 10), ("cluster_300K", cluster, 300, 5)]
    OUT.mkdir(exist_ok=True)
    frames = []
    for run, (category, build, temperature, n_frames) in enumerate(plan):
        frames += _langevin_frames(build(), temperature, np.random.default_rng(100 + run),
                                   100 if temperature < 2000 else 400, n_frames,
                                   {"config_type": category, "temperature_K": temperature})
    _write_frames(CATEGORIES, frames)


def case_coverage(fraction=0.1):
    from quests.compression import select_structures

    X, counts, _ = _load()
    t0 = time.perf_counter()
    sel = select_structures(X, counts, fraction, "coverage")
    return {"n_structures": int(counts.shape[0]), "n_environments": int(X.shape[0]),
            "kept": sel.size, "coverage_s": round(time.perf_counter() - t0, 1),
            "peak_rss_mb": round(_peak_rss_mb())}


def case_coverage_20():
    return case_coverage(0.2)


def case_coverage_probes():
    """coverage to 10 % with 4,096 probes instead of 8,192: time, peak RSS, what it keeps
    (the curve is computed after the peak RSS is read)."""
    from quests.compression import select_structures, selection_curve

    X, counts, _ = _load()
    t0 = time.perf_counter()
    sel = select_structures(X, counts, 0.1, "coverage", n_probes=4096)
    out = {"n_probes": 4096, "coverage_s": round(time.perf_counter() - t0, 1),
           "peak_rss_mb": round(_peak_rss_mb())}
    curve = selection_curve(X, counts, sel.indices)
    out.update(entropy=round(float(curve["entropy"][-1]), 3),
               overlap=round(float(curve["overlap"][-1]), 4))
    return out


def _datasets(names):
    """name -> (structures, categories) of the quality datasets."""
    from ase.io import read

    from quests.data import mixed_cu_dataset

    out = {}
    if "mixed" in names:
        data = mixed_cu_dataset()
        out["mixed"] = (data, [a.info["kind"] for a in data])
    if "categories" in names:
        make_categories()
        data = read(CATEGORIES, ":")
        out["categories"] = (data, [a.info["config_type"] for a in data])
    for name, step in (("md_1000", 5), ("md_5000", 1)):
        if name in names:
            data = read(DATA, ":")[::step]
            out[name] = (data, [f"{'bulk' if a.info['run'] % 2 == 0 else 'slab'}_"
                                f"{a.info['temperature_K']}K" for a in data])
    return out


def _peer_selections(means, sizes):
    """Selections of the peers (scripts/peer_selections.py in their own environment)."""
    import numpy as np

    python = os.environ.get("QUESTS_PEER_PYTHON", str(PEER_PYTHON))
    if not Path(python).exists():
        print(f"peers skipped: no {python} (see scripts/peer_selections.py)", file=sys.stderr)
        return {}
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "means.npz", Path(folder) / "picks.json"
        np.savez(source, **means, **{f"{k}__sizes": np.array(v) for k, v in sizes.items()})
        subprocess.run([python, str(ROOT / "scripts" / "peer_selections.py"), str(source),
                        str(target)], check=True, capture_output=True)
        return json.loads(target.read_text())


def _quality(names, fractions):
    """H, D, overlap, categories kept and selection time per dataset, method and size."""
    import numpy as np

    from quests.compression import (
        describe_structures,
        mean_descriptors,
        resolve_size,
        select_structures,
        selection_curve,
    )

    datasets = _datasets(names)
    described, means, sizes = {}, {}, {}
    for name, (data, _) in datasets.items():
        X, counts, _, _ = describe_structures(data)
        described[name] = (X, np.asarray(counts))
        means[name] = mean_descriptors(X, np.asarray(counts))
        sizes[name] = [resolve_size(f, len(counts)) for f in fractions]
    peers = _peer_selections(means, sizes)
    ours = ["coverage", "msc", "random", "fps", "mean_fps", "k_means"]
    table = {}
    for name, (X, counts) in described.items():
        categories = datasets[name][1]
        n_categories = len(set(categories))
        rows = table[name] = []
        for fraction, size in zip(fractions, sizes[name]):
            picks = {}
            for method in ours:
                for seed in (range(5) if method == "random" else [0]):
                    t0 = time.perf_counter()
                    sel = select_structures(X, counts, size, method, seed=seed)
                    picks.setdefault(method, []).append((sel.indices,
                                                         time.perf_counter() - t0))
            for method, by_size in peers.get(name, {}).items():
                if method != "seconds":
                    picks[method] = [(np.array(by_size[str(size)]),
                                      peers[name]["seconds"][method])]
            for method, runs in picks.items():
                values = []
                for indices, seconds in runs:
                    curve = selection_curve(X, counts, indices)
                    values.append((curve["entropy"][-1], curve["diversity"][-1],
                                   curve["overlap"][-1],
                                   len({categories[i] for i in indices}), seconds))
                values = np.array(values)
                mean = values.mean(axis=0)
                row = {"fraction": fraction, "size": size, "method": method,
                       "kept": int(len(runs[0][0])), "entropy": round(float(mean[0]), 3),
                       "diversity": round(float(mean[1]), 3),
                       "overlap": round(float(mean[2]), 4),
                       "categories": f"{mean[3]:.1f}/{n_categories}",
                       "seconds": round(float(mean[4]), 2)}
                if len(runs) > 1:
                    row["overlap_std"] = round(float(values[:, 2].std(ddof=1)), 4)
                    row["entropy_std"] = round(float(values[:, 0].std(ddof=1)), 3)
                rows.append(row)
                print(name, row, file=sys.stderr, flush=True)
    return table


def case_peers():
    return _quality(["mixed", "categories", "md_1000"], FRACTIONS)


def case_peers_5000():
    return _quality(["md_5000"], (0.1,))


def case_frontier(n_subsets=1500):
    """Can any 6 of the 60 mixed_cu_dataset() structures (10 %) keep both the best H and the
    best overlap of the other methods? Random subsets with random kind proportions: the
    largest H among those covering at least a given overlap, and the reverse."""
    import numpy as np

    from quests.compression import describe_structures, selection_curve
    from quests.data import mixed_cu_dataset

    data = mixed_cu_dataset()
    X, counts, _, _ = describe_structures(data)
    kinds = np.array([a.info["kind"] for a in data])
    pools = [np.flatnonzero(kinds == k) for k in ("crystal", "rattled", "surface", "melt")]
    rng = np.random.default_rng(1)
    values = []
    while len(values) < n_subsets:
        share = rng.multinomial(6, rng.dirichlet(np.ones(4)))
        if any(n > len(pool) for n, pool in zip(share, pools)):
            continue
        picks = np.concatenate([rng.choice(pool, n, replace=False)
                                for n, pool in zip(share, pools)]).astype(int)
        curve = selection_curve(X, counts, picks)
        values.append((curve["entropy"][-1], curve["overlap"][-1]))
    values = np.array(values)
    # the best of the other methods at 6 structures (case peers): msc's H, random's overlap
    best_entropy, best_overlap = 6.145, 0.8199
    covering = values[values[:, 1] >= best_overlap]
    informative = values[values[:, 0] >= best_entropy]
    return {"subsets": n_subsets,
            "max_entropy_with_overlap_at_least_best": (
                round(float(covering[:, 0].max()), 3) if len(covering) else None),
            "max_overlap_with_entropy_at_least_best": (
                round(float(informative[:, 1].max()), 4) if len(informative) else None),
            "max_entropy": round(float(values[:, 0].max()), 3),
            "max_overlap": round(float(values[:, 1].max()), 4),
            "both": int(((values[:, 0] >= best_entropy) & (values[:, 1] >= best_overlap)).sum())}


def case_mlearn_peers():
    """Peer selections of 10, 20, 50 % of the mlearn Mo and Si training sets, written to
    bench-out/mlearn_peers.json for ``scripts/snap_compression.py --peers``."""
    import numpy as np
    from ase.io import read

    from quests.compression import describe_structures, mean_descriptors, resolve_size

    fractions = (0.1, 0.2, 0.5)
    means, sizes = {}, {}
    for element in ("Mo", "Si"):
        data = read(ROOT.parent / "shared" / "data" / "mlearn" / element / "training.xyz", ":")
        X, counts, _, _ = describe_structures(data)
        means[element] = mean_descriptors(X, np.asarray(counts))
        sizes[element] = [resolve_size(f, len(data)) for f in fractions]
    picks = _peer_selections(means, sizes)
    out = {element: {method: {str(f): by_size[str(n)]
                              for f, n in zip(fractions, sizes[element])}
                     for method, by_size in picks[element].items() if method != "seconds"}
           for element in picks}
    (OUT / "mlearn_peers.json").write_text(json.dumps(out) + "\n")
    return {element: sorted(methods) for element, methods in out.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json", default=None)
    parser.add_argument("--peer-python", default=None,
                        help="python of the peers' environment (default ../bench-venv)")
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(globals()[f"case_{args.case}"]()))
        return
    if args.peer_python:
        os.environ["QUESTS_PEER_PYTHON"] = args.peer_python
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
