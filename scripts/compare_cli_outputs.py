"""Run every quests command on the shipped data with two source trees and compare outputs.

For refactors that must not change behaviour: each tree (a checkout of quests, e.g.
``git worktree add /tmp/old <rev>``) runs the same command list in a folder of its own,
with the tree first on sys.path, on the same input files; then every written file and
the printed text are compared byte for byte. Timing columns ("seconds" in JSON,
"time (s)" in the entropy table) and the one-time numba compile notice are the only
lines allowed to differ.

Usage: python scripts/compare_cli_outputs.py OLD_TREE NEW_TREE [--out FOLDER]
Prints one line per differing file and the counts as JSON at the end; exit 1 if any
file differs.
"""

import argparse
import filecmp
import json
import re
import subprocess
import sys
from pathlib import Path

RUN = ("import sys; sys.path.insert(0, {tree!r}); sys.argv[0] = 'quests'; "
       "from quests.cli import main; main()")


ROOT = Path(__file__).resolve().parents[1]


def commands():
    """The command list, on the data shipped beside this script (the same files for both
    trees, so that the paths they record agree) and the Fe3Pt data of ../shared."""
    data = ROOT / "quests" / "data"
    fe3pt = ROOT.parent / "shared" / "data" / "fe3pt"
    d = {name: str(data / f"{name}.xyz") for name in (
        "cu_300K", "cu_900K", "cu_melt", "cu_melting", "cu_solid_ref", "cu_liquid_ref",
        "cu_undercooled", "zr_phases", "cu_coexist_phases")}
    fe = [str(fe3pt / c) for c in ("config_0", "config_22=3", "config_28=3")]
    return [
        ["entropy", d["cu_300K"], d["cu_melt"], "-b", "0.015", "-b", "0.03", "-o", "e.json"],
        ["descriptors", d["cu_300K"], "-o", "a.npz", "-q"],
        ["descriptors", d["cu_melt"], "-o", "b.npz", "-q"],
        ["entropy", "a.npz", "b.npz", d["cu_900K"], "-o", "e2.json"],
        ["uncertainty", d["cu_melting"], "-r", d["cu_300K"], "-r", d["cu_900K"], "--index",
         "idx.npz", "-o", "u.json", "-o", "u.csv", "-o", "u.xyz", "--flagged", "f.xyz",
         "--plot", "u.png", "-q"],
        ["uncertainty", d["cu_melting"], "-r", d["cu_300K"], "-r", d["cu_900K"], "--index",
         "idx.npz", "-o", "u2.json", "-q"],
        ["uncertainty", d["cu_melting"], "-r", "a.npz", "--method", "approx", "-o", "u3.json",
         "-q"],
        ["dh", d["cu_melt"], d["cu_300K"], "-o", "d.xyz", "-q"],
        ["dh", "b.npz", "a.npz", "-o", "d.npz", "-q"],
        ["overlap", d["cu_melt"], d["cu_300K"], "-b", "0.015", "-b", "0.05", "-o", "o.json",
         "-q"],
        ["learning-curve", d["cu_melt"], "--seeds", "2", "-o", "l.json", "--plot", "l.png",
         "-q"],
        ["learning-curve", "b.npz", "--seeds", "2", "-o", "l.csv", "-q"],
        ["compress", d["cu_melting"], "-s", "5", "--curve", "-o", "c.json", "-o", "c.xyz",
         "-o", "c.csv", "--plot", "c.png", "-q"],
        ["select", d["cu_melting"], "-r", d["cu_300K"], "-n", "4", "-o", "s.json", "-q"],
        ["active-learning", d["cu_300K"], d["cu_900K"], d["cu_melt"], "-o", "al.json",
         "--plot", "al.png", "-q"],
        ["trajectory", d["cu_melting"], "-o", "t.json", "-o", "t.xyz", "--plot", "t.png", "-q"],
        ["phases", d["cu_melting"], "--phase", f"solid={d['cu_solid_ref']}", "--phase",
         f"liquid={d['cu_liquid_ref']}", "-o", "p.json", "-o", "p.xyz", "--plot", "p.png",
         "-q"],
        ["nucleation", d["cu_undercooled"], "--phase", f"solid={d['cu_solid_ref']}",
         "--phase", f"liquid={d['cu_liquid_ref']}", "-o", "n.json", "-o", "n.csv", "-q"],
        ["phase-boundary", "--phase-key", "phase", "--pressure-key", "pressure_GPa",
         "--phase", f"hcp={d['zr_phases']}", "--phase", f"bcc={d['zr_phases']}", "-o",
         "r.json", "--line", "r.csv", "--phase-diagram", "rd.png", "--plot", "rp.png", "-q"],
        ["zentropy", *fe, "--temperatures", "10:1200:10", "--pressure", "5", "-o", "z.json",
         "--phase-diagram", "zd.png", "--plot", "zp.png"],
        ["zenn", "fit", str(fe3pt), "--epochs", "30", "--lbfgs", "5", "--temperatures",
         "100:1000:100", "--volumes", "20", "-o", "m.pt"],
        ["zenn", "predict", "m.pt", "-o", "zn.json", "--plot", "znp.png"],
        ["demo", "-q"],
        ["entropy", "missing.xyz"],
    ]


def run(tree, folder):
    folder.mkdir(parents=True, exist_ok=True)
    printed = []
    for args in commands():
        done = subprocess.run([sys.executable, "-c", RUN.format(tree=str(tree)), *args],
                              cwd=folder, capture_output=True, text=True)
        printed += [f"$ quests {' '.join(args)} -> {done.returncode}", done.stdout,
                    done.stderr]
    (folder / "printed.txt").write_text("\n".join(printed))


def _without_timings(path):
    text = path.read_text(errors="replace")
    if path.suffix == ".json":
        text = re.sub(r'"seconds": [0-9.e-]+', '"seconds": _', text)
    if path.name == "printed.txt":
        text = "\n".join(line for line in text.splitlines() if not line.startswith("compiling"))
        # the entropy table's last column is the time
        text = re.sub(r"(?m)^(\S.*\s)\d+\.\d\d$", r"\1_", text)
    return text


def compare(old, new):
    differ, same = [], 0
    for path in sorted(p for p in old.rglob("*") if p.is_file()):
        other = new / path.relative_to(old)
        if not other.exists():
            differ.append(f"only in {old}: {path.name}")
        elif filecmp.cmp(path, other, shallow=False) or (
                path.suffix in (".json", ".txt") and
                _without_timings(path) == _without_timings(other)):
            same += 1
        else:
            differ.append(f"differs: {path.name}")
    differ += [f"only in {new}: {p.name}" for p in new.rglob("*")
               if p.is_file() and not (old / p.relative_to(new)).exists()]
    return differ, same


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--out", default="bench-out/compare_cli")
    args = parser.parse_args()
    out = Path(args.out)
    run(Path(args.old).resolve(), out / "old")
    run(Path(args.new).resolve(), out / "new")
    differ, same = compare(out / "old", out / "new")
    print("\n".join(differ))
    print(json.dumps({"identical": same, "differing": len(differ)}))
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
