import numpy as np
import pytest

from quests import InvalidInputError
from quests.kde import (
    dataset_entropy,
    differential_entropy,
    diversity,
    entropy,
    kernel_sum,
    log_kernel_sum,
    overlap,
)

from reference import brute_force_differential_entropy, brute_force_kernel_sum


def _clustered(n, d=6, seed=0, spread=0.02):
    """Points in a few tight clusters, so many kernel terms are O(1)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, d)) * 0.05
    return centres[rng.integers(0, 5, n)] + rng.normal(size=(n, d)) * spread


@pytest.mark.parametrize("n,tile", [(1, 4), (7, 3), (200, 64), (333, 100), (500, 2048)])
@pytest.mark.parametrize("h", [0.005, 0.015, 0.1])
def test_self_sums_equal_brute_force(n, tile, h):
    X = _clustered(n, seed=n)
    np.testing.assert_allclose(kernel_sum(X, h, tile_size=tile), brute_force_kernel_sum(X, X, h),
                               rtol=1e-12)


@pytest.mark.parametrize("tile", [5, 64, 2048])
def test_cross_sums_and_dh_equal_brute_force(tile):
    X = _clustered(300, seed=1)
    Y = _clustered(150, seed=2, spread=0.04)
    for h in (0.01, 0.03):
        np.testing.assert_allclose(kernel_sum(X, h, Y=Y, tile_size=tile),
                                   brute_force_kernel_sum(Y, X, h), rtol=1e-11)
        np.testing.assert_allclose(differential_entropy(Y, X, h, tile_size=tile),
                                   brute_force_differential_entropy(Y, X, h), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("n", [1, 2, 11, 100, 199])
def test_identical_points_have_exactly_zero_entropy_and_diversity(n):
    X = np.tile(np.random.default_rng(n).normal(size=(1, 63)), (n, 1))
    r = dataset_entropy(X)
    assert r.entropy == 0.0 and r.diversity == 0.0
    assert entropy(X) == 0.0 and diversity(X) == 0.0
    assert str(entropy(X)) == "0.0"  # no negative zero


@pytest.mark.parametrize("n", [2, 10, 1000])
def test_two_distant_clusters_have_entropy_ln2(n):
    rng = np.random.default_rng(n)
    a, b = rng.normal(size=(2, 63))
    X = np.vstack([np.tile(a, (n // 2, 1)), np.tile(b, (n // 2, 1))])
    assert entropy(X) == pytest.approx(np.log(2), abs=1e-12)
    assert diversity(X) == pytest.approx(np.log(2), abs=1e-12)


def test_entropy_bounds():
    for seed in range(5):
        X = _clustered(400, seed=seed, spread=0.01 * (seed + 1))
        r = dataset_entropy(X, bandwidth=[0.005, 0.015, 0.05])
        assert np.all(r.entropy >= 0) and np.all(r.entropy <= np.log(400) + 1e-12)
        assert np.all(r.diversity >= 0) and np.all(r.diversity <= np.log(400) + 1e-12)
        # larger bandwidth: more overlap, less entropy
        assert np.all(np.diff(r.entropy) <= 1e-12)
    far = np.eye(50) * 100.0
    assert entropy(far) == pytest.approx(np.log(50), abs=1e-12)


def test_training_points_are_not_novel():
    X = _clustered(300, seed=3)
    dh = differential_entropy(X, X)
    assert np.all(dh <= 1e-12)
    assert overlap(X, X) == 1.0


@pytest.mark.parametrize("ratio", [0.0, 0.1, 1.0, 7.5, 30.0, 100.0])
@pytest.mark.parametrize("h", [0.015, 0.2])
def test_dh_of_point_at_distance_d_is_quadratic(ratio, h):
    rng = np.random.default_rng(int(ratio * 10))
    x = rng.normal(size=63) * 0.3
    direction = rng.normal(size=63)
    direction /= np.linalg.norm(direction)
    y = x + ratio * h * direction
    dh = differential_entropy(y[None], x[None], h)
    assert np.isfinite(dh[0])
    np.testing.assert_allclose(dh[0], ratio ** 2 / 2, rtol=1e-9, atol=1e-9)


def test_far_points_keep_finite_dh():
    X = _clustered(50, seed=4)
    Y = X[:3] + 1e3
    dh = differential_entropy(Y, X)
    assert np.all(np.isfinite(dh)) and np.all(dh > 1e9)


def test_vector_bandwidths_equal_scalar_column_by_column():
    X = _clustered(250, seed=5)
    Y = _clustered(90, seed=6, spread=0.03)
    hs = [0.03, 0.005, 0.015]  # unsorted on purpose
    p = kernel_sum(X, hs)
    dh = differential_entropy(Y, X, hs)
    r = dataset_entropy(X, hs)
    ov = overlap(Y, X, hs)
    assert p.shape == (250, 3) and dh.shape == (90, 3)
    assert r.entropy.shape == (3,) and np.shape(ov) == (3,)
    for j, h in enumerate(hs):
        np.testing.assert_allclose(p[:, j], kernel_sum(X, h), rtol=1e-13)
        np.testing.assert_allclose(dh[:, j], differential_entropy(Y, X, h), rtol=1e-13, atol=1e-13)
        assert r.entropy[j] == pytest.approx(entropy(X, h), abs=1e-13)
        assert r.diversity[j] == pytest.approx(diversity(X, h), abs=1e-13)
        assert ov[j] == overlap(Y, X, h)


def test_log_kernel_sum_is_log_of_kernel_sum():
    X = _clustered(100, seed=7)
    Y = _clustered(40, seed=8)
    np.testing.assert_allclose(log_kernel_sum(Y, X), np.log(kernel_sum(X, Y=Y)), rtol=1e-12)


def test_overlap_counts_threshold():
    X = np.zeros((1, 2))
    Y = np.array([[0.0, 0.0], [0.015, 0.0], [0.1, 0.0]])  # dH = 0, 0.5, 22.2
    assert overlap(Y, X, 0.015) == pytest.approx(1 / 3)
    assert overlap(Y, X, 0.015, threshold=1.0) == pytest.approx(2 / 3)


def test_thread_count_and_tile_do_not_change_results():
    X = _clustered(700, seed=9)
    Y = _clustered(300, seed=10)
    base = entropy(X)
    for n_jobs, tile in [(1, 128), (2, 128), (3, 100), (2, 2048)]:  # 21-28 tiles over 1-3 threads
        assert entropy(X, n_jobs=n_jobs, tile_size=tile) == pytest.approx(base, abs=1e-12)
        np.testing.assert_allclose(differential_entropy(Y, X, n_jobs=n_jobs, tile_size=tile),
                                   differential_entropy(Y, X), rtol=1e-12, atol=1e-12)
    # a fixed thread count gives bit-identical results however threads are timed
    runs = {entropy(X, n_jobs=2, tile_size=64) for _ in range(5)}
    assert len(runs) == 1


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: entropy(np.zeros((0, 3))), "at least 1 row"),
        (lambda: entropy(np.zeros(5)), "shape"),
        (lambda: entropy(np.array([[np.nan, 0.0]])), "NaN"),
        (lambda: entropy(np.zeros((3, 2)), bandwidth=0.0), "'bandwidth' parameter"),
        (lambda: entropy(np.zeros((3, 2)), bandwidth=-1.0), "'bandwidth' parameter"),
        (lambda: entropy(np.zeros((3, 2)), bandwidth=[]), "'bandwidth' parameter"),
        (lambda: entropy(np.zeros((3, 2)), bandwidth=1e-160), "'bandwidth' parameter"),
        (lambda: differential_entropy(np.zeros((3, 2)), np.zeros((3, 2)),
                                              bandwidth=[0.01, 1e-200]),
         "'bandwidth' parameter"),
        (lambda: entropy(np.zeros((3, 2)), tile_size=0), "'tile_size' parameter"),
        (lambda: differential_entropy(np.zeros((3, 2)), np.zeros((3, 4))), "same descriptor settings"),
        (lambda: overlap(np.zeros((0, 2)), np.zeros((3, 2))), "empty"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(InvalidInputError, match=match):
        call()


def test_empty_queries_give_empty_dh():
    assert differential_entropy(np.zeros((0, 2)), np.zeros((3, 2))).shape == (0,)
