"""What -b auto costs: quests.kde.select_bandwidth on real and large references.

Times the leave-one-structure-out choice (2,000 held-out environments, 25
candidate bandwidths) on the mlearn Mo and Si training sets (10,087 and
13,233 environments) and on 100,000 environments of 25 rattled 4,000-atom
Cu crystals (the reference of scripts/benchmark_watch.py), with the peak
resident memory of the process, and prints the bandwidth chosen.

Usage: python scripts/benchmark_bandwidth.py [--data ../shared/data/mlearn] [--repeat 3]
"""

import argparse
import os
import resource
import time

import ase.io
import numpy as np

from quests.data import rattled_crystal
from quests.descriptor import compute_descriptors, structure_offsets
from quests.kde import select_bandwidth


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "..", "shared", "data", "mlearn"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cases = {}
    for element in ("Mo", "Si"):
        cases[f"{element} training"] = ase.io.read(
            os.path.join(args.data, element, "training.xyz"), index=":")
    cases["Cu rattled 100k"] = [rattled_crystal("Cu", size=10, a=3.615, stdev=float(s), seed=i)
                                for i, s in enumerate(np.linspace(0.01, 0.25, 25))]
    select_bandwidth(np.random.default_rng(0).normal(size=(40, 3)), np.arange(0, 41, 10))
    for name, structures in cases.items():
        X = compute_descriptors(structures)
        offsets = structure_offsets([len(a) for a in structures])
        seconds = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            choice = select_bandwidth(X, offsets)
            seconds.append(time.perf_counter() - start)
        print(f"{name}: {X.shape[0]} environments, {len(structures)} structures: "
              f"h = {choice.bandwidth:.4g} in {min(seconds):.2f} s (best of {args.repeat}; "
              f"{', '.join(f'{s:.2f}' for s in seconds)})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak:.0f} MB")


if __name__ == "__main__":
    main()
