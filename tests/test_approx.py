"""Approximate KDE: truncated dH on a neighbour index, sampled H and D, index files."""

import numpy as np
import pytest

from quests import InvalidInputError
from quests._kernels import kde as kk
from quests.io import ReadError
from quests.kde import read_index
from quests.kde import (
    NeighborIndex,
    dataset_entropy,
    differential_entropy,
    entropy,
    overlap,
)
from quests.kde._approx import truncated_log_sums
from reference import brute_force_differential_entropy, brute_force_truncated


def _clusters(n, d=6, seed=0):
    """Points in tight clusters (near-duplicates, like crystal environments) plus loners."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(8, d)) * 0.2
    tight = centres[rng.integers(0, 8, n // 2)] + rng.normal(size=(n // 2, d)) * 0.004
    loose = rng.normal(size=(n - n // 2, d)) * 0.15
    return np.vstack([tight, loose])


def test_cli_offers_exactly_the_registered_backends():
    from quests._defaults import BACKEND_NAMES
    from quests.kde import BACKENDS, DEFAULT_BACKEND

    assert tuple(BACKENDS) == BACKEND_NAMES and DEFAULT_BACKEND == "hnsw"


def test_gathered_distances_match_numpy():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(50, 5)), rng.normal(size=(7, 5))
    found = rng.integers(-1, 50, size=(7, 9))
    out = np.empty(found.shape)
    kk.gathered_sq_distances(Y, X, found, out)
    expected = np.where(found >= 0, ((Y[:, None, :] - X[found]) ** 2).sum(-1), np.inf)
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=0)


def test_truncated_sums_match_numpy_twin():
    X, Y = _clusters(300), _clusters(40, seed=5)
    h = 0.03
    d2 = np.sort(((Y[:, None, :] - X[None]) ** 2).sum(-1), axis=1)
    for m in (1, 10, 299, 300):
        logs, bounds = truncated_log_sums(d2[:, :m], X.shape[0], np.array([1 / (2 * h * h)]))
        dh, bound = brute_force_truncated(Y, X, h, m)
        np.testing.assert_allclose(-logs[:, 0], dh, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(bounds[:, 0], bound, rtol=1e-10, atol=1e-14)


def test_truncated_sums_skip_missing_candidates():
    d2 = np.array([[0.0, 1e-4, np.inf, np.inf]])
    logs, bounds = truncated_log_sums(d2, 10, np.array([1.0]))
    assert np.isfinite(logs).all() and np.isfinite(bounds).all()
    np.testing.assert_allclose(logs[0, 0], np.log(1 + np.exp(-1e-4)))


@pytest.mark.parametrize("backend", ["brute", "hnsw"])
def test_approximate_dh_is_an_upper_bound(backend):
    X, Y = _clusters(3000), _clusters(400, seed=3)
    exact = differential_entropy(Y, X, 0.02, method="exact")
    for m in (5, 50, 500):
        approx, bound = differential_entropy(Y, X, 0.02, method="approx", n_neighbors=m,
                                             backend=backend, return_bound=True)
        assert np.all(approx >= exact - 1e-9)
        if backend == "brute":  # exact neighbours: the bound is rigorous
            assert np.all(approx - exact <= bound + 1e-9)


def test_approximate_dh_tightens_with_m_and_is_exact_at_n():
    X, Y = _clusters(500), _clusters(50, seed=2)
    exact = brute_force_differential_entropy(Y, X, 0.02)
    gaps = [np.mean(differential_entropy(Y, X, 0.02, method="approx", n_neighbors=m,
                                         backend="brute") - exact) for m in (2, 20, 200)]
    assert gaps[0] > gaps[1] > gaps[2] >= -1e-12
    at_n, bound = differential_entropy(Y, X, 0.02, method="approx", n_neighbors=500,
                                       return_bound=True)
    np.testing.assert_allclose(at_n, exact, rtol=0, atol=1e-10)
    assert np.all(bound == 0)


def test_vector_bandwidth_in_approximate_dh():
    X, Y = _clusters(400), _clusters(30, seed=4)
    hs = [0.01, 0.05]
    both = differential_entropy(Y, X, hs, method="approx", n_neighbors=20, backend="brute")
    assert both.shape == (30, 2)
    for j, h in enumerate(hs):
        one = differential_entropy(Y, X, h, method="approx", n_neighbors=20, backend="brute")
        np.testing.assert_allclose(both[:, j], one, rtol=1e-13)


def test_index_reused_across_queries_and_overlap_is_a_lower_bound():
    X, Y = _clusters(2000), _clusters(300, seed=6)
    index = NeighborIndex().fit(X)
    first = differential_entropy(Y[:100], index, 0.02, method="approx")
    again = differential_entropy(Y, index, 0.02, method="approx")[:100]
    np.testing.assert_array_equal(first, again)
    exact = overlap(Y, X, 0.02, method="exact")
    approx = overlap(Y, index, 0.02, method="approx", n_neighbors=10)
    assert approx <= exact


def test_saved_index_gives_identical_answers(tmp_path):
    X, Y = _clusters(1500), _clusters(200, seed=7)
    index = NeighborIndex("hnsw").fit(X, metadata={"descriptor": {"k": 3}})
    before = index.query(Y, 16)
    index.save(tmp_path / "x.idx")
    loaded = NeighborIndex.load(tmp_path / "x.idx")
    after = loaded.query(Y, 16)
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
    assert loaded.metadata_ == {"descriptor": {"k": 3}}
    with pytest.raises(Exception, match="exists"):
        index.save(tmp_path / "x.idx")


def test_same_data_builds_the_same_graph():
    X, Y = _clusters(1500), _clusters(100, seed=8)
    a = NeighborIndex("hnsw").fit(X).query(Y, 8)[0]
    b = NeighborIndex("hnsw").fit(X).query(Y, 8)[0]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("damage", ["truncate", "flip", "foreign", "empty"])
def test_corrupt_index_files_are_refused(tmp_path, damage):
    path = tmp_path / "x.idx"
    NeighborIndex("hnsw").fit(_clusters(500)).save(path)
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip":
        # a byte inside the stored descriptors: the zip stays readable, the checksum does not
        raw[len(raw) // 3] ^= 0xFF
    elif damage == "foreign":
        with open(path, "wb") as handle:
            np.savez(handle, descriptors=np.zeros((3, 3)))
        raw = bytearray(path.read_bytes())
    else:
        raw = bytearray()
    path.write_bytes(bytes(raw))
    with pytest.raises(ReadError) as info:
        read_index(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_query_checks_its_input():
    index = NeighborIndex("brute").fit(_clusters(50))
    with pytest.raises(InvalidInputError, match="same descriptor settings"):
        index.query(np.zeros((2, 4)), 3)
    with pytest.raises(InvalidInputError, match="NaN"):
        index.query(np.full((2, 6), np.nan), 3)
    with pytest.raises(AttributeError, match="not fitted"):
        NeighborIndex().query(np.zeros((2, 6)), 3)
    with pytest.raises(InvalidInputError, match="at least 1 row"):
        NeighborIndex().fit(np.zeros((0, 6)))


def test_sampled_entropy_is_exact_when_the_sample_is_everything():
    X = _clusters(3000)
    exact = dataset_entropy(X, 0.02, method="exact")
    full = dataset_entropy(X, 0.02, method="approx", tolerance=1e-9)
    assert full.n_sampled == 3000 and full.entropy_error == 0 and full.diversity_error == 0
    np.testing.assert_allclose(full.entropy, exact.entropy, rtol=0, atol=1e-12)
    np.testing.assert_allclose(full.diversity, exact.diversity, rtol=0, atol=1e-12)


def test_sampled_entropy_errors_are_honest():
    """Over many seeds, the estimate falls within 2 standard errors about 95 % of the time."""
    X = _clusters(6000)
    exact = dataset_entropy(X, 0.02, method="exact")
    z = []
    for seed in range(40):
        r = dataset_entropy(X, 0.02, method="approx", tolerance=0.05, seed=seed)
        assert r.n_sampled < 6000 and r.method == "approx"
        z.append((r.entropy - exact.entropy) / r.entropy_error)
    z = np.abs(z)
    assert np.mean(z < 2) >= 0.85 and np.max(z) < 4.5


def test_sampled_entropy_is_seeded_and_takes_vector_bandwidths():
    X = _clusters(5000)
    a = dataset_entropy(X, [0.01, 0.05], method="approx", tolerance=0.05, seed=3)
    b = dataset_entropy(X, [0.01, 0.05], method="approx", tolerance=0.05, seed=3)
    np.testing.assert_array_equal(a.entropy, b.entropy)
    np.testing.assert_array_equal(a.diversity_error, b.diversity_error)
    assert a.entropy.shape == a.entropy_error.shape == (2,)
    assert np.all(a.entropy_error <= 0.05) and np.all(a.diversity_error <= 0.05)
    # the same sample: a scalar h equals the vector's entry up to the last bits of
    # a sum taken in another order (they differ by 1 ulp on this machine)
    assert entropy(X, 0.05, method="approx", tolerance=0.05, seed=3) == pytest.approx(
        a.entropy[1], rel=1e-12, abs=0)


def test_auto_is_exact_for_small_data():
    X = _clusters(500)
    r = dataset_entropy(X)
    assert r.method == "exact" and r.entropy_error == 0
    np.testing.assert_array_equal(
        differential_entropy(X[:10], X), differential_entropy(X[:10], X, method="exact"))


@pytest.mark.slow
def test_approximate_entropy_on_cu_md_crystal_and_melt(cu_md_20k):
    """Issue 3: within 0.01 nats of exact on 20,000 Cu MD environments, inside the error bars."""
    exact = dataset_entropy(cu_md_20k, method="exact")
    approx = dataset_entropy(cu_md_20k, method="approx", tolerance=0.003, seed=1)
    for value, error, truth in ((approx.entropy, approx.entropy_error, exact.entropy),
                                (approx.diversity, approx.diversity_error, exact.diversity)):
        assert abs(value - truth) <= 0.01
        assert abs(value - truth) <= 3 * error + 1e-12


@pytest.mark.slow
def test_approximate_dh_on_cu_md(cu_md_20k):
    rng = np.random.default_rng(0)
    pick = rng.permutation(cu_md_20k.shape[0])
    X, Y = cu_md_20k[pick[:15000]], cu_md_20k[pick[15000:17000]]
    exact = differential_entropy(Y, X, method="exact")
    index = NeighborIndex("hnsw").fit(X)
    approx, bound = differential_entropy(Y, index, method="approx", n_neighbors=64,
                                         return_bound=True)
    assert np.all(approx >= exact - 1e-9)
    within = approx - exact <= bound + 1e-9
    assert within.mean() >= 0.99  # the rest: the graph search missed a near neighbour
