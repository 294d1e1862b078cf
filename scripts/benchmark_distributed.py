"""The dask path against the single-process path on this machine (issue 7).

Data: rattled 256-atom fcc Cu frames (amplitudes 0.02-0.2 Å, so environments spread),
``--environments`` atoms in all (default 100,000).

Prints, per case, the single-process time, the dask time (LocalCluster of single-threaded
worker processes, started before the clock runs) and the overhead of the dask path:

- descriptors: ``compute_descriptors`` of every frame (threads: all cores) against chunks
  of frames across the workers; and the same written to a .zarr store by the workers;
- entropy: the exact all-pairs kernel sums (``dataset_entropy(method='exact')``);
- weak scaling: dH of n queries against the whole set on 1 worker, and of 2n on 2 workers
  (the same work per worker); efficiency = t(1 worker) / t(2 workers).

Also the peak RSS of each worker and of this process, and the cluster start-up time.

Usage: python scripts/benchmark_distributed.py [--environments N] [--workers W]
                                               [--block-rows B]
"""

import argparse
import os
import resource
import shutil
import tempfile
import time

import numpy as np


def frames_of(n_atoms, seed=0):
    from ase.build import bulk

    rng = np.random.default_rng(seed)
    frames = []
    for i in range(max(1, n_atoms // 256)):
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (4, 4, 4)
        atoms.positions += rng.normal(scale=0.02 + 0.18 * (i % 10) / 9, size=(256, 3))
        frames.append(atoms)
    return frames


def timed(call):
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--environments", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--block-rows", type=int, default=8192)
    args = parser.parse_args()

    import distributed

    from quests.descriptor import compute_descriptors, store_descriptors
    from quests.distributed import dask_engine
    from quests.io import DescriptorStore
    from quests.kde import dataset_entropy, differential_entropy

    frames = frames_of(args.environments)
    compute_descriptors(frames[:2])  # compile the numba kernels outside the clocks
    t_desc, X = timed(lambda: compute_descriptors(frames))
    dataset_entropy(X[:2000], method="exact")
    t_ent, local = timed(lambda: dataset_entropy(X, method="exact"))
    print(f"{X.shape[0]} environments; one process, {os.cpu_count()} threads: descriptors "
          f"{t_desc:.2f} s, exact entropy {t_ent:.2f} s (H = {local.entropy:.6f})", flush=True)

    start = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                       processes=True, host="127.0.0.1",
                                       dashboard_address=":0")
    client = distributed.Client(cluster)
    print(f"LocalCluster of {args.workers} workers started in "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    client.run(lambda: compute_descriptors(frames[:2]))  # compile on the workers
    folder = tempfile.mkdtemp()
    with dask_engine(client=client, block_rows=args.block_rows):
        t_ddesc, Xd = timed(lambda: compute_descriptors(frames))
        t_store, path = timed(lambda: store_descriptors(frames, os.path.join(folder, "x.zarr"),
                                                        rows_per_block=args.block_rows))
        dataset_entropy(X[:2000], method="exact")
        t_dent, remote = timed(lambda: dataset_entropy(X, method="exact"))
        t_lazy, lazy = timed(lambda: dataset_entropy(DescriptorStore(path), method="exact"))
        t_samp, sampled = timed(lambda: dataset_entropy(DescriptorStore(path), method="approx"))
    shutil.rmtree(folder)
    assert np.array_equal(Xd, X)
    print(f"dask: descriptors {t_ddesc:.2f} s (overhead {t_ddesc / t_desc - 1:+.0%}), "
          f"to a .zarr store {t_store:.2f} s; exact entropy {t_dent:.2f} s (overhead "
          f"{t_dent / t_ent - 1:+.0%}), |dH| = {abs(remote.entropy - local.entropy):.1e}; "
          f"from the store, read by the workers: {t_lazy:.2f} s (|dH| = "
          f"{abs(lazy.entropy - local.entropy):.1e}); sampled from the store (tolerance "
          f"0.01 nats): {t_samp:.2f} s, {sampled.n_sampled} rows, H = {sampled.entropy:.4f} "
          f"+- {sampled.entropy_error:.4f}", flush=True)
    memory = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print("peak RSS per worker (MB): " + ", ".join(f"{m:.0f}" for m in memory.values())
          + f"; this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}",
          flush=True)
    client.close()
    cluster.close()

    n_queries = max(1000, X.shape[0] // 4)
    times = []
    for workers in (1, 2):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=":0") as c2, \
                distributed.Client(c2) as cl2:
            cl2.run(lambda: compute_descriptors(frames[:2]))
            with dask_engine(client=cl2, block_rows=args.block_rows):
                differential_entropy(X[:500], X[:2000], method="exact")
                t, _ = timed(lambda: differential_entropy(X[:n_queries * workers], X,
                                                          method="exact"))
        times.append(t)
        print(f"weak scaling: {workers} worker(s), {n_queries * workers} queries x "
              f"{X.shape[0]}: {t:.2f} s", flush=True)
    print(f"weak-scaling efficiency 1 -> 2 workers: {times[0] / times[1]:.2f}", flush=True)


if __name__ == "__main__":
    main()
