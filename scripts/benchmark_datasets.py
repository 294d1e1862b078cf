"""Datasets at scale: an OMat24-like .aselmdb streamed into a descriptor store.

Writes a synthetic .aselmdb of N structures in the layout of OMat24 (rattled
and MD-like bulk cells of Fe, Ni, Pt and Al, 10 to 100 atoms each, with
energies, forces and stresses), then measures, each phase in a process of its
own (so that its peak memory is its own):

- read: every row read and checked (``quests.io.iter_structures``), rows/s;
- stream: ``quests descriptors big.aselmdb -o big.zarr`` (streamed, float32),
  environments/s and peak memory, at several N to show the memory does not
  grow with it;
- resume: the same stream killed (SIGTERM) half-way and run again: what the
  second run re-reads;
- entropy: the sampled entropy of the whole store: batches of 2048 sampled
  environments summed over every row until H's standard error is below the
  tolerance (or --max-batches), the time per sample and sigma of ln p, and from
  them the samples and time a tolerance of 0.01 nats needs.

    python scripts/benchmark_datasets.py --structures 1000000 --folder /tmp/omat
    python scripts/benchmark_datasets.py --phase stream --structures 100000 -k 32

Figures go to docs/benchmarks.md and docs/scaling.md with the command that
produced them.
"""

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

ELEMENTS = np.array([26, 28, 78, 13])  # Fe, Ni, Pt, Al
LATTICES = {"fcc": (3.7, np.array([[0, 0, 0], [0, .5, .5], [.5, 0, .5], [.5, .5, 0]])),
            "bcc": (2.9, np.array([[0, 0, 0], [.5, .5, .5]]))}


def _supercells():
    """(lattice, repeats) of every supercell with 10 to 100 atoms."""
    cells = []
    for name, (_, basis) in LATTICES.items():
        for a in range(1, 6):
            for b in range(a, 6):
                for c in range(b, 6):
                    if 10 <= len(basis) * a * b * c <= 100:
                        cells.append((name, (a, b, c)))
    return cells


def synthetic_rows(n, seed=0):
    """OMat24-like row dictionaries: a bulk supercell of 2-3 of the elements, strained
    by up to 3 %, its atoms displaced by 0.02-0.3 Å (rattled, or MD-like)."""
    rng = np.random.default_rng(seed)
    cells = _supercells()
    for i in range(n):
        name, reps = cells[rng.integers(len(cells))]
        a0, basis = LATTICES[name]
        grid = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"),
                        -1).reshape(-1, 3)
        frac = ((grid[:, None, :] + basis[None]).reshape(-1, 3)) / np.array(reps)
        cell = np.diag(np.array(reps) * a0) @ (np.eye(3) + rng.uniform(-0.03, 0.03, (3, 3)))
        positions = frac @ cell + rng.normal(0, rng.uniform(0.02, 0.3), (len(frac), 3))
        species = rng.choice(ELEMENTS, size=rng.integers(2, 4), replace=False)
        numbers = rng.choice(species, size=len(frac))
        yield {"numbers": numbers, "positions": positions, "cell": cell,
               "pbc": np.ones(3, dtype=bool), "energy": float(rng.normal(-5, 1) * len(frac)),
               "forces": rng.normal(0, 0.5, (len(frac), 3)),
               "stress": rng.normal(0, 0.01, 6),
               "key_value_pairs": {"sid": f"synthetic-{i}",
                                   "calc_type": "rattled" if i % 2 else "aimd"}}


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_write(args):
    from quests.io import write_aselmdb

    start = time.perf_counter()
    n = write_aselmdb(args.lmdb, synthetic_rows(args.structures), overwrite=True)
    return {"rows": n, "seconds": time.perf_counter() - start,
            "file_gb": os.path.getsize(args.lmdb) / 1e9}


def phase_read(args):
    from quests.io import iter_structures

    start = time.perf_counter()
    rows = atoms = 0
    for _, frame in iter_structures(args.lmdb, index=f":{args.structures}"):
        rows += 1
        atoms += len(frame)
    seconds = time.perf_counter() - start
    return {"rows": rows, "atoms": atoms, "seconds": seconds, "rows_per_s": rows / seconds}


def _blocks_left(store):
    """Complete blocks an interrupted run left beside ``store`` (0 where none)."""
    import zarr

    partial = os.path.join(os.path.dirname(store), f".{os.path.basename(store)}"
                           ".quests-resume.partial")
    if not os.path.isdir(partial):
        return 0
    blocks = zarr.open_group(partial, mode="r")["blocks"]
    return sum("rows" in blocks[name].attrs for name in blocks.group_keys())


def phase_stream(args):
    from quests.descriptor import stream_descriptors

    left = _blocks_left(args.store)
    start = time.perf_counter()
    _, n_rows, n_structures = stream_descriptors(
        [f"{args.lmdb}@:{args.structures}"], args.store, k=args.k, cutoff=args.cutoff,
        dtype="float32", overwrite=True, resume=not args.restart)
    seconds = time.perf_counter() - start
    return {"blocks_found": left, "structures": n_structures, "environments": n_rows,
            "seconds": seconds,
            "environments_per_s": n_rows / seconds, "structures_per_s": n_structures / seconds}


def phase_entropy(args):
    """The sampled entropy's cost on the whole store: batches of 2048 environments drawn
    at random, each summed over every row (``log_kernel_sum``), until the standard error
    of H is below the tolerance or ``--max-batches`` are done. Reports the time per
    sampled environment and sigma of ln p, hence the samples (sigma / tol)^2, and so the
    time, that a tolerance of 0.01 nats needs."""
    from quests.io import DescriptorStore
    from quests.kde import log_kernel_sum

    store = DescriptorStore(args.store)
    start = time.perf_counter()
    x = np.asarray(store, dtype=np.float64)
    load = time.perf_counter() - start
    n = x.shape[0]
    order = np.random.default_rng(0).permutation(n)
    log_p, batches, seconds = [], [], 0.0
    for b in range(args.max_batches):
        rows = order[b * 2048:(b + 1) * 2048]
        start = time.perf_counter()
        log_p.append(np.clip(log_kernel_sum(x[rows], x), 0.0, np.log(n)))
        seconds += time.perf_counter() - start
        values = np.concatenate(log_p)
        sigma = float(values.std(ddof=1))
        error = sigma / np.sqrt(values.size)
        batches.append({"sampled": int(values.size), "entropy": float(np.log(n) - values.mean()),
                        "entropy_error": error, "seconds": seconds})
        print(json.dumps(batches[-1]), file=sys.stderr, flush=True)
        if error <= args.tolerance:
            break
    per_sample = seconds / values.size
    needed = (sigma / 0.01) ** 2
    return {"environments": n, "load_seconds": load, "batches": batches,
            "sigma_ln_p": sigma, "seconds_per_sample": per_sample,
            "samples_for_0.01": needed, "hours_for_0.01_on_this_machine":
            needed * per_sample / 3600}


PHASES = {"write": phase_write, "read": phase_read, "stream": phase_stream,
          "entropy": phase_entropy}


def run_phase(name, args, extra=(), kill_after=None):
    """One phase in a process of its own: its figures and its peak memory (MB)."""
    argv = [sys.executable, __file__, "--phase", name, "--structures", str(args.structures),
            "--folder", args.folder, "-k", str(args.k), "--cutoff", str(args.cutoff),
            "--tolerance", str(args.tolerance), "--store", args.store,
            "--max-batches", str(args.max_batches), *extra]
    if kill_after is None:
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    time.sleep(kill_after)
    process.send_signal(signal.SIGTERM)
    process.wait()
    return {"killed_after_s": kill_after, "returncode": process.returncode}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", type=int, default=1_000_000)
    parser.add_argument("--folder", default="/tmp/quests-omat")
    parser.add_argument("-k", type=int, default=8)
    parser.add_argument("--cutoff", type=float, default=5.0)
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument("--phase", choices=sorted(PHASES), default=None,
                        help="Run one phase here (used by the driver).")
    parser.add_argument("--restart", action="store_true")
    parser.add_argument("--store", default=None)
    parser.add_argument("--max-batches", type=int, default=3,
                        help="entropy: sampled batches of 2048 at most.")
    parser.add_argument("--sizes", default="10000,100000",
                        help="Smaller stream runs, for peak memory against N.")
    parser.add_argument("--skip", default="", help="Phases the driver skips (write,...).")
    args = parser.parse_args()
    args.lmdb = os.path.join(args.folder, "omat_like.aselmdb")
    args.store = args.store or os.path.join(args.folder,
                                            f"omat_like_{args.structures}_k{args.k}.zarr")
    if args.phase:
        result = PHASES[args.phase](args)
        print(json.dumps({**result, "peak_rss_mb": _peak_mb()}), flush=True)
        return
    os.makedirs(args.folder, exist_ok=True)
    skip = set(args.skip.split(","))
    print(f"{args.structures} structures, k={args.k}, {os.cpu_count()} cores", flush=True)
    if "write" not in skip:
        print("write", run_phase("write", args), flush=True)
    if "read" not in skip:
        print("read", run_phase("read", args), flush=True)
    if "memory" not in skip:
        for n in [int(s) for s in args.sizes.split(",") if s]:
            small = argparse.Namespace(**{**vars(args), "structures": n, "store": os.path.join(
                args.folder, f"memory_{n}.zarr")})
            print(f"stream {n}", run_phase("stream", small, ["--restart"]), flush=True)
            shutil.rmtree(small.store, ignore_errors=True)
    if "stream" not in skip:
        print("stream", run_phase("stream", args, ["--restart"]), flush=True)
    if "resume" not in skip:
        half = argparse.Namespace(**{**vars(args), "structures": min(args.structures, 200_000),
                                     "store": os.path.join(args.folder, "resume.zarr")})
        full = run_phase("stream", half, ["--restart"])
        print("resume: uninterrupted", full, flush=True)
        shutil.rmtree(half.store, ignore_errors=True)
        print("resume: killed", run_phase("stream", half, ["--restart"],
                                          kill_after=full["seconds"] / 2), flush=True)
        print("resume: second run", run_phase("stream", half), flush=True)
        shutil.rmtree(half.store, ignore_errors=True)
    if "entropy" not in skip:
        print("entropy", run_phase("entropy", args), flush=True)


if __name__ == "__main__":
    main()
