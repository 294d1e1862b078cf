"""Generate quests/data/cu_heating.xyz: 108-atom fcc Cu heated through melting (ASE EMT).

Real molecular dynamics: Langevin dynamics under the EMT potential, 5 fs
steps, one frame every 100 fs. 10 frames at 300 K, then the thermostat
target rises linearly to 3000 K over 40 frames, then 10 frames at 3000 K.
The cell is the crystal's, expanded 2 % so the melt is not held at the
solid's density. Each frame carries its thermostat temperature
(``temperature_K``), potential energy (``energy_eV``) and, per atom, the EMT
energies (``energies``, eV) and forces (``forces``, eV/Å): the ground truth
against which a model's per-atom errors can be measured.

Usage: python scripts/make_heating_md.py [OUT]   (default: quests/data/cu_heating.xyz)
About 20 s. Seeded, so reproducible on the same ASE/numpy versions.
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

A_EMT = 3.59
FRAME_EVERY = 20


def main(out):
    start = time.perf_counter()
    atoms = bulk("Cu", "fcc", a=A_EMT * 1.02, cubic=True) * (3, 3, 3)
    atoms.calc = EMT()
    rng = np.random.default_rng(7)
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=rng)
    dyn = Langevin(atoms, 5 * units.fs, temperature_K=300, friction=0.02, rng=rng)
    dyn.run(400)  # 2 ps at 300 K
    schedule = [300.0] * 10 + list(np.linspace(300.0, 3000.0, 41)[1:]) + [3000.0] * 10
    frames = []
    for temperature in schedule:
        dyn.set_temperature(temperature_K=temperature)
        dyn.run(FRAME_EVERY)
        snap = atoms.copy()
        snap.calc = None
        snap.info["temperature_K"] = float(temperature)
        snap.info["energy_eV"] = float(atoms.get_potential_energy())
        snap.arrays["energies"] = atoms.get_potential_energies()
        snap.arrays["forces"] = atoms.get_forces()
        frames.append(snap)
    write(out, frames, format="extxyz")
    print(f"{len(frames)} frames -> {out} ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else
         Path(__file__).resolve().parents[1] / "quests" / "data" / "cu_heating.xyz")
