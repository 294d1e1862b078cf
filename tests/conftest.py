import os
import sys

# tests import their brute-force twins as plain modules
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def cu_md_20k():
    """20,480 descriptors from ASE EMT MD of 256-atom Cu: 40 frames at 600 K, 40 of a melt."""
    from ase import units
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin

    from quests.descriptor import compute_descriptors

    frames = []
    for temperature, scale, warm, seed in ((600, 1.0, 100, 1), (3000, 1.03, 300, 2)):
        atoms = bulk("Cu", "fcc", a=3.59 * scale, cubic=True) * (4, 4, 4)
        atoms.calc = EMT()
        rng = np.random.default_rng(seed)
        dyn = Langevin(atoms, 5 * units.fs, temperature_K=temperature, friction=0.05, rng=rng,
                       fixcm=False)
        dyn.run(warm)
        if temperature > 1000:
            dyn.set_temperature(temperature_K=1800)
        for _ in range(40):
            dyn.run(10)
            frames.append(atoms.copy())
    return compute_descriptors(frames)
