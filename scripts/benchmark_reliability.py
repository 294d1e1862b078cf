"""What the guarantees of issue 15 cost, and what a first run looks like.

Prints, for the record in docs/benchmarks.md:

1. first use: `quests entropy` on two shipped Cu files with an empty numba
   cache (compiles the kernels) and again with the cache filled, as a user
   runs it: wall time of the command, the time column of the first row, and
   whether the compile notice was printed;
2. the cost of the checks made on every frame as it is read (the extxyz
   truncation pass, singular cell, coincident atoms): reading a synthetic
   trajectory with and without them;
3. the cost of checking a descriptor file against its metadata on load.

    python scripts/benchmark_reliability.py [--frames 20000] [--atoms 108]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def first_use():
    from quests.data import demo_files

    files = [demo_files()["cu_300K"], demo_files()["cu_900K"]]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold cache", "warm cache"):
            start = time.perf_counter()
            run = subprocess.run([sys.executable, "-c",
                                  "import sys; from quests.cli import main; sys.exit(main())",
                                  "entropy", *files], env=env, capture_output=True, text=True)
            wall = time.perf_counter() - start
            first_row = run.stdout.splitlines()[1].split()
            notice = "compiling the numba kernels" in run.stderr
            print(f"first use, {label}: wall {wall:.2f} s, first row time column "
                  f"{float(first_row[-1]):.2f} s, compile notice {'yes' if notice else 'no'}")


def reading(n_frames, n_atoms):
    import ase.io
    import numpy as np

    from quests import io
    from quests.data import rattled_crystal
    from quests.structures import check_geometry

    base = rattled_crystal("Cu", size=3, stdev=0.05, seed=0)[:n_atoms]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.xyz"
        with open(path, "w") as handle:
            for s in range(n_frames):
                frame = base.copy()
                frame.positions += np.random.default_rng(s).normal(0, 0.01, frame.positions.shape)
                ase.io.write(handle, frame, format="extxyz")
        size = path.stat().st_size / 2**20
        start = time.perf_counter()
        io._check_xyz_frames(path)
        scan = time.perf_counter() - start
        frames = list(ase.io.iread(path, index=":"))
        start = time.perf_counter()
        for n, atoms in enumerate(frames):
            check_geometry(atoms, f"frame {n}")
        geometry = time.perf_counter() - start
        start = time.perf_counter()
        for _ in io.iter_structures(str(path)):
            pass
        total = time.perf_counter() - start
        print(f"reading {n_frames} frames x {len(base)} atoms ({size:.0f} MiB extxyz): "
              f"iter_structures {total:.2f} s, of which truncation pass {scan:.2f} s "
              f"({scan / total:.1%}) and geometry checks {geometry:.2f} s "
              f"({geometry / total:.1%})")
        from quests.descriptor import compute_descriptors

        sample = frames[:2000]
        compute_descriptors(sample[:2])  # kernels loaded before the clock starts
        start = time.perf_counter()
        compute_descriptors(sample)
        describe = (time.perf_counter() - start) * len(frames) / len(sample)
        print(f"describing the same frames (k=32, 5 Å; from {len(sample)} of them): "
              f"{describe:.1f} s, so the checks are {(scan + geometry) / describe:.1%} of it")


def descriptor_file(n_rows):
    import json

    import numpy as np

    from quests import io

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.npz"
        np.savez(path, descriptors=rng.random((n_rows, 63)),
                 metadata=np.array(json.dumps({"k": 32, "cutoff": 5.0, "species": None})),
                 structure_index=np.repeat(np.arange(n_rows // 100), 100),
                 atom_index=np.tile(np.arange(100), n_rows // 100),
                 numbers=np.full(n_rows, 29), source=np.zeros(n_rows, dtype=int))
        start = time.perf_counter()
        x, meta, frames = io.read_descriptors(path)
        total = time.perf_counter() - start
        start = time.perf_counter()
        io._check_descriptor_file(path, x, meta, {"structure_index": frames,
                                                  "numbers": np.full(n_rows, 29)})
        check = time.perf_counter() - start
        print(f"read_descriptors of {n_rows} x 63 rows: {total:.2f} s, of which the "
              f"consistency check {check:.3f} s ({check / total:.1%})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--atoms", type=int, default=108)
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    first_use()
    reading(args.frames, args.atoms)
    descriptor_file(args.rows)


if __name__ == "__main__":
    main()
