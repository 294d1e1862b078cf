import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, fcc111, molecule
from ase.cluster import Icosahedron
from scipy.spatial.transform import Rotation

from quests import InvalidInputError, InvalidStructureError
from quests.data import random_structure, rattled_crystal
from quests.descriptor import compute_descriptors, descriptor_length
from quests.kde import entropy
from quests.neighbors import nearest_neighbors
from quests.structures import Frame

from reference import brute_force_descriptors, brute_force_neighbors


def _triclinic(seed, n_atoms=12, scale=1.0):
    rng = np.random.default_rng(seed)
    cell = (np.eye(3) * 5.5 + rng.uniform(-1.2, 1.2, size=(3, 3))) * scale
    return random_structure(n_atoms, cell, pbc=True, min_distance=1.6 * scale, seed=seed)


def _systems():
    """(name, atoms) covering every geometry the descriptor must handle."""
    slab = fcc111("Cu", size=(2, 2, 3), vacuum=5.0)
    slab.rattle(0.05, seed=3)
    wire = random_structure(8, [[4.0, 0, 0], [0, 12.0, 0], [0.5, 0.7, 3.1]],
                            pbc=[False, False, True], min_distance=1.7, seed=4)
    cluster = Icosahedron("Cu", 2)
    cluster.rattle(0.03, seed=5)
    small = bulk("Cu", "fcc", a=3.61) * (2, 1, 1)  # primitive cells: much smaller than rc
    small.positions[1] += [0.1, 0.05, -0.07]
    tiny_triclinic = Atoms("Cu", positions=[[0, 0, 0]],
                           cell=[[2.3, 0, 0], [0.9, 2.2, 0], [0.4, -0.6, 2.5]], pbc=True)
    return [
        ("triclinic-0", _triclinic(0)),
        ("triclinic-1", _triclinic(1, n_atoms=20)),
        ("triclinic-2", _triclinic(2, n_atoms=6, scale=0.8)),
        ("slab", slab),
        ("wire", wire),
        ("cluster", cluster),
        ("molecule", molecule("CH3CH2OH")),
        ("small-cell", small),
        ("one-atom-triclinic", tiny_triclinic),
        ("rattled-fcc", rattled_crystal(stdev=0.1, seed=6)),
    ]


SYSTEMS = _systems()


@pytest.mark.parametrize("name,atoms", SYSTEMS, ids=[n for n, _ in SYSTEMS])
@pytest.mark.parametrize("k,cutoff", [(32, 5.0), (8, 4.0), (3, 3.0)])
def test_matches_brute_force(name, atoms, k, cutoff):
    x = compute_descriptors(atoms, k=k, cutoff=cutoff)
    ref = brute_force_descriptors(atoms.positions, atoms.cell.array, atoms.pbc, k, cutoff)
    assert x.shape == (len(atoms), 2 * k - 1)
    np.testing.assert_allclose(x, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name,atoms", SYSTEMS[:6], ids=[n for n, _ in SYSTEMS[:6]])
def test_neighbors_match_brute_force(name, atoms):
    nl = nearest_neighbors(atoms, k=16, cutoff=4.5)
    ref = brute_force_neighbors(atoms.positions, atoms.cell.array, atoms.pbc, 16, 4.5)
    for i, (disp, r) in enumerate(ref):
        assert nl.counts[i] == len(r)
        np.testing.assert_allclose(nl.distances[i, : len(r)], r, atol=1e-10)
        assert np.all(np.isinf(nl.distances[i, len(r):]))
        # same set of neighbours (order within equal distances may differ)
        got = {tuple(np.round(d, 6)) for d in nl.displacements[i, : len(r)]}
        assert got == {tuple(np.round(d, 6)) for d in disp}


def test_fewer_atoms_than_k():
    atoms = molecule("H2O")
    x = compute_descriptors(atoms, k=32)
    ref = brute_force_descriptors(atoms.positions, atoms.cell.array, atoms.pbc, 32, 5.0)
    np.testing.assert_allclose(x, ref, atol=1e-12)
    # two neighbours: x1 has two non-zero entries, x2 one (per row pair)
    assert np.all(np.count_nonzero(x[:, :32], axis=1) == 2)
    single = compute_descriptors(Atoms("Cu", positions=[[0, 0, 0]]))
    assert np.all(single == 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rotation_translation_permutation_invariance(seed):
    atoms = _triclinic(seed, n_atoms=16)
    x = compute_descriptors(atoms)
    rot = Rotation.random(random_state=seed).as_matrix()
    moved = atoms.copy()
    moved.set_cell(atoms.cell.array @ rot.T, scale_atoms=False)
    moved.positions = atoms.positions @ rot.T + np.array([3.3, -7.1, 0.4])
    np.testing.assert_allclose(compute_descriptors(moved), x, atol=1e-10)
    perm = np.random.default_rng(seed).permutation(len(atoms))
    np.testing.assert_allclose(compute_descriptors(atoms[perm]), x[perm], atol=1e-12)


def test_wrapping_across_boundary_changes_nothing():
    atoms = _triclinic(4, n_atoms=10)
    x = compute_descriptors(atoms)
    shifted = atoms.copy()
    shifted.positions[3] += atoms.cell[0] * 2 - atoms.cell[2]
    shifted.positions[7] -= atoms.cell[1] * 3
    np.testing.assert_allclose(compute_descriptors(shifted), x, atol=1e-10)


@pytest.mark.parametrize("skew", [3, 40, 400])
@pytest.mark.parametrize("pbc", [True, [True, True, False]])
def test_skewed_description_of_the_same_lattice_changes_nothing(skew, pbc):
    """A unimodular change of basis describes the same crystal: same rows,
    and no blow-up in the number of image shells enumerated."""
    atoms = rattled_crystal(size=(2, 2, 2), stdev=0.05, seed=8)
    atoms.pbc = pbc
    x = compute_descriptors(atoms)
    skewed = atoms.copy()
    basis = np.array([[1, 0, 0], [skew, 1, 0], [0, 0, 1]] if pbc is not True
                     else [[1, 0, 0], [skew, 1, 0], [skew, skew, 1]])
    skewed.set_cell(basis @ atoms.cell.array, scale_atoms=False)
    np.testing.assert_allclose(compute_descriptors(skewed), x, atol=1e-10)


def test_too_many_images_is_refused():
    atoms = Atoms("Cu", positions=[[0, 0, 0]], cell=np.eye(3) * 2.5, pbc=True)
    with pytest.raises(InvalidStructureError, match="periodic images"):
        compute_descriptors(atoms, cutoff=900.0)


@pytest.mark.parametrize("reps", [(2, 1, 1), (2, 2, 3)])
def test_replicated_cell_gives_identical_rows(reps):
    atoms = _triclinic(5, n_atoms=8)
    x = compute_descriptors(atoms)
    big = compute_descriptors(atoms * reps)
    np.testing.assert_allclose(big, np.tile(x, (np.prod(reps), 1)), atol=1e-10)


@pytest.mark.parametrize(
    "crystal,a,reps",
    [("fcc", 3.61, (3, 3, 3)), ("fcc", 3.61, (2, 3, 4)), ("bcc", 2.87, (4, 4, 4)),
     ("sc", 2.6, (3, 3, 3)), ("bcc", 2.87, (3, 2, 2))],
)
def test_perfect_crystals_have_zero_entropy(crystal, a, reps):
    atoms = bulk("Cu", crystal, a=a, cubic=True) * reps
    x = compute_descriptors(atoms)
    assert np.abs(x - x[0]).max() < 1e-12
    assert entropy(x) < 1e-9
    # the ties at the 32nd neighbour are cut the same way in any supercell
    x_prim = compute_descriptors(bulk("Cu", crystal, a=a))
    np.testing.assert_allclose(x[0], x_prim[0], atol=1e-12)


def test_many_structures_match_one_by_one():
    structures = [rattled_crystal(stdev=0.05, seed=s) for s in range(40)]
    structures.insert(7, bulk("Cu", "fcc", a=3.61, cubic=True) * (13, 13, 13))  # large path
    x = compute_descriptors(structures)
    one_by_one = np.concatenate([compute_descriptors(s) for s in structures])
    np.testing.assert_array_equal(x, one_by_one)
    assert x.shape == (sum(len(s) for s in structures), 63)


def test_thread_count_does_not_change_results():
    structures = [rattled_crystal(stdev=0.05, seed=s) for s in range(10)]
    np.testing.assert_array_equal(
        compute_descriptors(structures, n_jobs=1), compute_descriptors(structures, n_jobs=2)
    )


def test_float32_on_request():
    atoms = rattled_crystal(seed=1)
    x64 = compute_descriptors(atoms)
    x32 = compute_descriptors(atoms, dtype="float32")
    assert x32.dtype == np.float32 and x64.dtype == np.float64
    np.testing.assert_allclose(x32, x64, rtol=1e-6, atol=1e-7)


def test_multicomponent_variant():
    atoms = rattled_crystal(stdev=0.05, seed=2)
    atoms.numbers[::3] = 79  # Cu-Au
    x = compute_descriptors(atoms, species="all", k=8)
    width = 15
    assert x.shape == (len(atoms), descriptor_length(8, 2))
    np.testing.assert_array_equal(x[:, :width], compute_descriptors(atoms, k=8))
    for block, z in enumerate([29, 79], start=1):
        mine = atoms.numbers == z
        sub = atoms[mine]
        np.testing.assert_allclose(
            x[mine, block * width:(block + 1) * width], compute_descriptors(sub, k=8), atol=1e-12
        )
        assert np.all(x[~mine, block * width:(block + 1) * width] == 0)
    # an explicit species list with a species absent from the structure
    x3 = compute_descriptors(atoms, species=[29, 47, 79], k=8)
    assert np.all(x3[:, 2 * width:3 * width] == 0)


def test_frame_and_tuple_inputs_agree_with_atoms():
    atoms = _triclinic(7)
    x = compute_descriptors(atoms)
    t = (atoms.positions, atoms.cell.array, atoms.pbc)
    np.testing.assert_array_equal(compute_descriptors(t), x)
    np.testing.assert_array_equal(
        compute_descriptors(Frame(atoms.positions, atoms.cell.array, atoms.pbc, atoms.numbers)), x
    )
    np.testing.assert_array_equal(compute_descriptors([t, t]), np.vstack([x, x]))
    # a tuple of three structure tuples is three structures, not one
    np.testing.assert_array_equal(compute_descriptors((t, t, t)), np.vstack([x, x, x]))
    np.testing.assert_array_equal(compute_descriptors((atoms, atoms, atoms)), np.vstack([x, x, x]))


def test_empty_list_gives_empty_array():
    x = compute_descriptors([], k=4)
    assert x.shape == (0, 7) and x.dtype == np.float64


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda a: a.positions.__setitem__((0, 1), np.nan), "NaN or infinite positions"),
        (lambda a: a.positions.__setitem__((2, 0), np.inf), "NaN or infinite positions"),
        (lambda a: a.set_cell(np.zeros((3, 3))), "zero or singular cell"),
        (lambda a: a.set_cell([[3, 0, 0], [6, 0, 0], [0, 0, 3]]), "zero or singular cell"),
        (lambda a: a.positions.__setitem__(1, a.positions[0]), "overlapping atoms"),
    ],
)
def test_bad_structures_raise_one_line_errors(mutate, match):
    atoms = rattled_crystal(seed=0)
    mutate(atoms)
    with pytest.raises(InvalidStructureError, match=match) as info:
        compute_descriptors(atoms)
    assert "\n" not in str(info.value)


def test_zero_atoms_and_bad_parameters():
    with pytest.raises(InvalidStructureError, match="no atoms"):
        compute_descriptors(Atoms())
    with pytest.raises(InvalidInputError, match="'k' parameter"):
        compute_descriptors(rattled_crystal(), k=0)
    with pytest.raises(InvalidInputError, match="'cutoff' parameter"):
        compute_descriptors(rattled_crystal(), cutoff=0.0)
    with pytest.raises(InvalidStructureError, match="positions must have shape"):
        compute_descriptors((np.zeros((4, 2)), np.eye(3), True))
