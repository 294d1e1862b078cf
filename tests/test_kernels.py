"""Each numba kernel against a plain-numpy twin, degenerate inputs included."""

import numpy as np
import pytest

from quests._kernels import descriptor as dk
from quests._kernels import kde as kk
from quests._kernels import neighbors as nk
from quests.structures import augment_cells


@pytest.mark.parametrize("n", [1, 2, 4, 8, 16, 32, 64])
def test_sorting_network_sorts_descending(n):
    network = dk.sorting_network(n)
    rng = np.random.default_rng(n)
    for trial in range(30):
        values = rng.random(n) if trial % 3 else rng.integers(0, 3, n).astype(float)  # with ties
        work = values.copy()
        for hi, lo in network:
            a, b = work[hi], work[lo]
            work[hi], work[lo] = max(a, b), min(a, b)
        np.testing.assert_array_equal(work, np.sort(values)[::-1])


@pytest.mark.parametrize("k,size", [(1, 1), (2, 2), (3, 4), (32, 32), (33, 64)])
def test_network_size(k, size):
    assert dk.network_size(k) == size


@pytest.mark.parametrize("n", [0, 1, 2, 7, 50, 400])
def test_argsort_matches_numpy(n):
    rng = np.random.default_rng(n)
    for keys in (rng.random(n), np.round(rng.random(n), 1), np.zeros(n), np.arange(n)[::-1] * 1.0):
        order = np.empty(n, np.int64)
        nk._argsort(keys, n, order)
        np.testing.assert_array_equal(keys[order], np.sort(keys))
        assert sorted(order.tolist()) == list(range(n))


def test_exp_neg_matches_numpy_to_one_ulp():
    rng = np.random.default_rng(0)
    args = np.concatenate([np.linspace(0, 60, 200001), rng.uniform(0, 700, 50000),
                           [0.0, -1e-18, -3.0, 1e-300, 699.999, 700.0, 700.1, 1e6, np.inf]])
    out = np.empty_like(args)
    kk.exp_neg(args, out, np.empty_like(args))
    expected = np.exp(-np.clip(args, 0, None))
    expected[args > kk.MAX_ARG] = 0.0
    np.testing.assert_allclose(out, expected, rtol=3e-16, atol=0)


def test_row_distances_refines_near_duplicates():
    rng = np.random.default_rng(1)
    a = rng.normal(size=63) * 10  # large norms: the Gram formula cancels
    B = np.vstack([a, a + 1e-9, rng.normal(size=(5, 63))])
    out = np.empty(len(B))
    kk.row_distances(B @ a, a @ a, np.einsum("ij,ij->i", B, B), a, B, out)
    np.testing.assert_allclose(out, ((B - a) ** 2).sum(axis=1), rtol=1e-10, atol=1e-30)
    assert out[0] == 0.0


@pytest.mark.parametrize("with_columns", [True, False])
def test_tile_sums_match_numpy(with_columns):
    rng = np.random.default_rng(2)
    A, B = rng.normal(size=(37, 5)) * 0.03, rng.normal(size=(23, 5)) * 0.03
    scale = np.array([200.0, 2222.2, 1e5])
    row, col = np.zeros((37, 3)), np.zeros((23, 3))
    kk.tile_sums(A @ B.T, (A * A).sum(1), (B * B).sum(1), A, B, scale, row, col, with_columns)
    d2 = ((A[:, None] - B[None]) ** 2).sum(-1)
    K = np.exp(-d2[..., None] * scale)
    # a rounding error e in d^2 becomes a relative error arg * e in exp(-arg):
    # arguments here reach ~450
    np.testing.assert_allclose(row, K.sum(axis=1), rtol=1e-11)
    np.testing.assert_allclose(col, K.sum(axis=0) if with_columns else 0.0, rtol=1e-11)


def test_logsumexp_states_merge_exactly():
    rng = np.random.default_rng(3)
    A, B = rng.normal(size=(11, 4)), rng.normal(size=(40, 4))
    scale = np.array([0.5, 50.0, 5e4])  # the last makes every term underflow

    def state(rows):
        m, s = np.full((11, 3), np.inf), np.zeros((11, 3))
        Bp = B[rows]
        kk.tile_logsumexp(A @ Bp.T, (A * A).sum(1), (Bp * Bp).sum(1), A, Bp, scale, m, s)
        return m, s

    m_all, s_all = state(slice(None))
    m1, s1 = state(slice(0, 17))
    m2, s2 = state(slice(17, None))
    kk.merge_logsumexp(m1, s1, m2, s2)
    np.testing.assert_allclose(np.log(s1) - m1, np.log(s_all) - m_all, rtol=1e-13)
    d2 = ((A[:, None] - B[None]) ** 2).sum(-1)
    arg = d2[..., None] * scale
    amin = arg.min(axis=1)
    expected = np.log(np.exp(-(arg - amin[:, None])).sum(axis=1)) - amin
    np.testing.assert_allclose(np.log(s_all) - m_all, expected, rtol=1e-13)


def test_augment_cells_matches_geometry():
    cells = np.array([
        np.diag([3.0, 4.0, 5.0]),                      # 3D
        [[3, 0, 0], [1, 4, 0], [0, 0, 0]],             # slab with a zero third vector
        [[0, 0, 0], [0, 0, 0], [0.3, 0.2, 2.5]],       # wire along z
        np.zeros((3, 3)),                              # molecule
        [[3, 0, 0], [6, 0, 0], [0, 0, 3]],             # singular
    ], dtype=float)
    pbcs = np.array([[1, 1, 1], [1, 1, 0], [0, 0, 1], [0, 0, 0], [1, 1, 1]], dtype=bool)
    out, ratio = augment_cells(cells, pbcs)
    assert np.all(np.abs(np.linalg.det(out[:4])) > 0)
    np.testing.assert_allclose(ratio, [1.0, 4 * 3 / (3 * np.hypot(1, 4)), 1.0, 1.0, 0.0])
    # periodic rows are kept; fillers are unit vectors orthogonal to them
    np.testing.assert_array_equal(out[1, :2], cells[1, :2])
    np.testing.assert_allclose(out[1, 2] @ cells[1, 0], 0, atol=1e-12)
    np.testing.assert_allclose(out[2, :2] @ cells[2, 2], [0, 0], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(out[2, :2], axis=1), 1)


@pytest.mark.parametrize("extent", [10.0, 1e6, 1e11, 1e15])
def test_cell_list_bins_every_point_once_at_any_extent(extent):
    """Against a numpy twin of the binning. At 1e11 Å three bin counts of ~1e10
    overflowed their int64 product ('negative dimensions not allowed', issue 15)."""
    rng = np.random.default_rng(1)
    points = rng.random((50, 3)) * 10.0
    points[7] = extent
    points[9] = -extent
    origin, width, n_bins, start, order = nk.cell_list(points, 5.0, 4096)
    assert np.prod(n_bins.astype(float)) <= 4096 and np.all(n_bins >= 1)
    assert sorted(order.tolist()) == list(range(50)) and start[-1] == 50
    coords = np.minimum(((points - origin) / width).astype(np.int64), n_bins - 1)
    expected = (coords[:, 0] * n_bins[1] + coords[:, 1]) * n_bins[2] + coords[:, 2]
    got = np.empty(50, np.int64)
    for b in range(start.size - 1):
        got[order[start[b]:start[b + 1]]] = b
    np.testing.assert_array_equal(got, expected)


def _pairs_by_brute_force(positions, cell, pbc, radius):
    """Plain-numpy twin of ``pairs_within``: every lattice shift that can reach the radius,
    every atom pair, sorted by (i, j)."""
    heights = np.abs(np.linalg.det(cell)) / np.linalg.norm(
        np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    reach = [int(np.ceil(radius / h)) + 1 if p else 0 for h, p in zip(heights, pbc)]
    shifts = np.array([(a, b, c) for a in range(-reach[0], reach[0] + 1)
                       for b in range(-reach[1], reach[1] + 1)
                       for c in range(-reach[2], reach[2] + 1)])
    pairs = []
    for s in shifts:
        d = positions[None, :, :] + s @ cell - positions[:, None, :]
        close = np.linalg.norm(d, axis=2) < radius
        if not s.any():
            np.fill_diagonal(close, False)
        pairs += list(zip(*np.nonzero(close)))
    pairs.sort()
    return np.array([p[0] for p in pairs], dtype=np.int64), \
        np.array([p[1] for p in pairs], dtype=np.int64)


@pytest.mark.parametrize("pbc", [(True, True, True), (True, True, False), (False,) * 3])
@pytest.mark.parametrize("radius", [1.5, 3.2, 6.5])
def test_pairs_within_matches_brute_force(pbc, radius):
    """Directed pairs over periodic images, each image of j once, never i with itself
    unshifted; a skewed small cell so that images several cells away count."""
    rng = np.random.default_rng(int(radius * 10))
    cell = np.array([[3.1, 0.0, 0.0], [1.4, 2.9, 0.0], [0.7, 0.5, 3.3]])
    positions = rng.random((7, 3)) @ cell
    augmented = augment_cells(np.array([cell]), np.array([pbc]))[0][0]
    i, j = nk.pairs_within(positions, augmented, np.array(pbc), radius)
    order = np.lexsort((j, i))
    expected = _pairs_by_brute_force(positions, cell, pbc, radius)
    np.testing.assert_array_equal(i[order], expected[0])
    np.testing.assert_array_equal(j[order], expected[1])
