"""Generate the embedded Cu demo datasets (quests/data/*.xyz) with ASE's EMT.

Real molecular dynamics, not synthetic noise: a 108-atom fcc Cu cell
(3x3x3 conventional cells) is run with Langevin dynamics under the EMT
potential. Datasets:

* cu_crystal: the perfect crystal at the EMT lattice constant (1 frame)
* cu_300K, cu_900K, cu_1200K: 20 NVT frames each, 100 fs apart, after
  2 ps of equilibration
* cu_melt: heated at 3000 K for 5 ps in a cell expanded 3 % (about the
  liquid density), then 20 frames at 1800 K, 100 fs apart

Usage: python scripts/make_demo_data.py [OUTDIR]   (default: quests/data)
Takes about a minute. Seeds are fixed, so the output is reproducible on the
same ASE/numpy versions.
"""

import sys
import time
from pathlib import Path

import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

A_EMT = 3.59  # Å, close to the EMT equilibrium lattice constant of Cu
TIMESTEP = 5.0 * units.fs
N_FRAMES = 20
FRAME_EVERY = 20  # steps (100 fs)


def crystal(a=A_EMT):
    atoms = bulk("Cu", "fcc", a=a, cubic=True) * (3, 3, 3)
    atoms.calc = EMT()
    return atoms


def run(atoms, temperature, steps, seed, frames=0):
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    dyn = Langevin(atoms, TIMESTEP, temperature_K=temperature, friction=0.02, rng=rng)
    dyn.run(steps)
    out = []
    for _ in range(frames):
        dyn.run(FRAME_EVERY)
        snap = atoms.copy()
        snap.calc = None
        snap.info["temperature_K"] = temperature
        snap.info["energy_eV"] = float(atoms.get_potential_energy())
        out.append(snap)
    return out


def main(outdir):
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    perfect = crystal()
    perfect.info["temperature_K"] = 0.0
    perfect.info["energy_eV"] = float(perfect.get_potential_energy())
    perfect.calc = None
    datasets = {"cu_crystal": [perfect]}
    for seed, temperature in enumerate((300, 900, 1200), start=1):
        datasets[f"cu_{temperature}K"] = run(crystal(), temperature, 400, seed, N_FRAMES)
    melt = crystal(A_EMT * 1.03)
    run(melt, 3000, 1000, seed=7)
    datasets["cu_melt"] = run(melt, 1800, 200, seed=8, frames=N_FRAMES)
    for name, frames in datasets.items():
        write(outdir / f"{name}.xyz", frames, format="extxyz")
        print(f"{name}: {len(frames)} frames", flush=True)
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[1] / "quests" / "data")
