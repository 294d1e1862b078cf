"""Benchmarks of quests.thermo: time per frame and peak memory of the trajectory analyses.

Each case runs in a fresh subprocess (so peak RSS is that case's own) over an
extxyz trajectory streamed from disk: the 60 frames of the shipped EMT Cu
heating run (quests/data/cu_heating.xyz), each replicated 2 x 2 x 2 (864
atoms), repeated to the number of frames asked for. Peak RSS that stays flat
from the short to the long trajectory shows that memory is bounded.

Cases: ``cold`` and ``warm`` time a first `TrajectoryEntropy` call on 6
frames with an empty numba cache (compilation included) and with the cache
filled; ``trajectory`` (bandwidth h(V)), ``phases`` and ``nucleation``
stream the whole trajectory; ``boundary`` is one `phase_state` of 20 frames
(U, V, H and the jackknife error of H).

Usage:
    python scripts/benchmark_thermo.py [--cases cold,warm,trajectory,phases,nucleation,boundary]
                                       [--frames 120,480]
Prints one line per case: frames, atoms, seconds, ms per frame, peak RSS.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = ("cold", "warm", "trajectory", "phases", "nucleation", "boundary")


def make_trajectory(path, n_frames):
    from ase.io import read, write

    from quests.data import demo_files, trajectory_files

    frames = read(trajectory_files()["cu_heating"], ":")
    with open(path, "w") as handle:
        for i in range(n_frames):
            atoms = frames[i % len(frames)] * (2, 2, 2)
            write(handle, atoms, format="extxyz")
    return demo_files()


def child(case, path, n_frames):
    """Run one case in this process and print a JSON line."""
    import resource

    from quests.data import demo_files
    from quests.io import iter_structures, read_structures

    start = time.perf_counter()
    demo = demo_files()
    if case in ("cold", "warm"):
        from quests.thermo import TrajectoryEntropy

        TrajectoryEntropy().run(read_structures(str(path) + "@0:6"))
    elif case == "trajectory":
        from quests.thermo import TrajectoryEntropy

        TrajectoryEntropy(bandwidth="volume").run(iter_structures(str(path)))
    elif case in ("phases", "nucleation"):
        from quests.thermo import NucleationAnalysis, PhaseClassifier

        clf = PhaseClassifier({"solid": read_structures(demo["cu_1200K"]),
                               "liquid": read_structures(demo["cu_melt"])}).fit()
        if case == "phases":
            clf.run(iter_structures(str(path)), keep_atoms=False)
        else:
            NucleationAnalysis(clf).run(iter_structures(str(path)))
    elif case == "boundary":
        from quests.thermo import phase_state

        frames = read_structures(str(path))
        for atoms in frames:
            atoms.info["energy_eV"] = 0.0
        phase_state(frames, "solid", temperature=1000.0)
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"case": case, "frames": n_frames, "seconds": seconds, "rss_mb": rss_mb}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--frames", default="120,480")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, path, n = args.child
        child(case, Path(path), int(n))
        return
    print(f"{'case':<12} {'frames':>6} {'atoms':>8} {'seconds':>8} {'ms/frame':>9} "
          f"{'peak RSS MB':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for n_frames in [int(n) for n in args.frames.split(",")]:
            path = Path(tmp) / f"traj_{n_frames}.xyz"
            make_trajectory(path, n_frames)
            for case in args.cases.split(","):
                if case not in CASES:
                    sys.exit(f"unknown case {case!r}; choose from {CASES}")
                sizes = {"cold": 6, "warm": 6, "boundary": min(n_frames, 20)}
                frames = sizes.get(case, n_frames)
                run_path = path
                if case == "boundary":
                    run_path = Path(tmp) / "boundary.xyz"
                    make_trajectory(run_path, frames)
                env = dict(os.environ)
                if case == "cold":
                    env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(dir=tmp)
                out = subprocess.run([sys.executable, __file__, "--child", case, str(run_path),
                                      str(frames)], capture_output=True, text=True, check=True,
                                     env=env)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"{case:<12} {frames:>6} {frames * 864:>8} {row['seconds']:>8.2f} "
                      f"{1e3 * row['seconds'] / frames:>9.1f} {row['rss_mb']:>11.0f}",
                      flush=True)


if __name__ == "__main__":
    main()
