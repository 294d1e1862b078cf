"""Large-scale checks (marked slow; .ci/run runs them)."""

import numpy as np
import pytest

from quests.data import rattled_crystal
from quests.descriptor import compute_descriptors
from quests.kde import differential_entropy, entropy, kernel_sum

pytestmark = pytest.mark.slow


def test_large_cell_path_equals_small_cell_rows():
    """A 32,000-atom supercell (atom-block path, many threads' blocks) of a
    rattled 32-atom cell has exactly the rows of the small cell, tiled."""
    small = rattled_crystal(stdev=0.08, seed=11)
    x_small = compute_descriptors(small)
    x_big = compute_descriptors(small * (10, 10, 10))
    np.testing.assert_allclose(x_big, np.tile(x_small, (1000, 1)), atol=1e-10)
    np.testing.assert_array_equal(compute_descriptors(small * (10, 10, 10), n_jobs=1), x_big)


def _blocked_brute_force_sums(Y, X, h, block=500):
    out = np.empty(len(Y))
    for a in range(0, len(Y), block):
        d2 = ((Y[a:a + block, None, :] - X[None, :, :]) ** 2).sum(-1)
        out[a:a + block] = np.exp(-d2 / (2 * h * h)).sum(axis=1)
    return out


def test_exact_sums_at_scale_equal_brute_force():
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(40, 8)) * 0.05
    X = centres[rng.integers(0, 40, 12000)] + rng.normal(size=(12000, 8)) * 0.01
    Y = X[:700] + rng.normal(size=(700, 8)) * 0.02
    p = kernel_sum(X, 0.015, tile_size=1000)
    np.testing.assert_allclose(p, _blocked_brute_force_sums(X, X, 0.015), rtol=1e-11)
    assert entropy(X, tile_size=4096) == pytest.approx(np.log(len(X)) - np.log(p).mean(), abs=1e-12)
    dh = differential_entropy(Y, X, tile_size=999)
    np.testing.assert_allclose(dh, -np.log(_blocked_brute_force_sums(Y, X, 0.015)), rtol=1e-10)
    # results do not depend on the number of threads beyond rounding
    assert entropy(X, n_jobs=1) == pytest.approx(entropy(X, n_jobs=3), abs=1e-12)
