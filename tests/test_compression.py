"""Compression: selection methods, the incremental curve, and their invariants."""

import numpy as np
import pytest

from quests import InvalidInputError
from quests.compression import (
    METHODS,
    compress,
    describe_structures,
    resolve_size,
    select_structures,
    selection_curve,
)
from quests.data import mixed_cu_dataset, rattled_crystal
from quests.kde import dataset_entropy, differential_entropy, overlap
from reference import brute_force_coverage, brute_force_msc, brute_force_structure_fps

H = 0.015


@pytest.fixture(scope="module")
def mixed():
    """60 Cu structures: 40 crystal MD frames, 10 rattled, 5 surfaces, 5 melt frames."""
    data = mixed_cu_dataset()
    X, counts, _, _ = describe_structures(data)
    return data, X, counts


def _small_random(seed=0, n_structures=12):
    rng = np.random.default_rng(seed)
    counts = rng.integers(2, 6, size=n_structures)
    centres = rng.normal(scale=0.03, size=(n_structures, 4))
    X = np.concatenate([c + rng.normal(scale=0.01, size=(n, 4)) for c, n in zip(centres, counts)])
    return X, counts


def _kwargs(method, X):
    return {"reference": X[:3]} if method == "msc_conditional" else {}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("size", [1, 5, 12, 0.25, 1.0, 0.01])
def test_every_method_returns_the_requested_number_of_distinct_indices(method, size):
    X, counts = _small_random()
    sel = select_structures(X, counts, size, method, **_kwargs(method, X))
    expected = resolve_size(size, len(counts))
    assert sel.indices.shape == (expected,) and sel.size == expected
    assert np.unique(sel.indices).shape[0] == expected
    assert sel.indices.min() >= 0 and sel.indices.max() < len(counts)
    assert sel.scores.shape == (expected,)


def test_resolve_size():
    assert resolve_size(1.0, 7) == 7 and resolve_size(0.5, 7) == 4 and resolve_size(0.01, 7) == 1
    assert resolve_size(7, 7) == 7 and resolve_size(np.int64(3), 7) == 3
    # ceil without floating-point spill (0.3 * 10 = 3.0000000000000004)
    assert resolve_size(0.3, 10) == 3


@pytest.mark.parametrize("method", ["random", "mean_fps", "k_means"])
def test_seeded_methods_are_reproducible(method):
    X, counts = _small_random(3)
    a = select_structures(X, counts, 6, method, seed=5).indices
    b = select_structures(X, counts, 6, method, seed=5).indices
    np.testing.assert_array_equal(a, b)


def test_msc_agrees_with_brute_force():
    for seed in range(4):
        X, counts = _small_random(seed)
        for size in (1, 4, 12):
            sel = select_structures(X, counts, size, "msc", bandwidth=H)
            assert sel.indices.tolist() == brute_force_msc(X, counts, size, H)


def test_msc_conditional_agrees_with_brute_force():
    for seed in range(3):
        X, counts = _small_random(seed)
        reference = np.random.default_rng(seed + 10).normal(scale=0.03, size=(7, 4))
        sel = select_structures(X, counts, 8, "msc_conditional", reference=reference, bandwidth=H)
        assert sel.indices.tolist() == brute_force_msc(X, counts, 8, H, reference=reference)


def test_fps_agrees_with_brute_force():
    for seed in range(3):
        X, counts = _small_random(seed)
        sel = select_structures(X, counts, 7, "fps", bandwidth=H)
        assert sel.indices.tolist() == brute_force_structure_fps(X, counts, 7, H)


def test_msc_scores_are_max_dh_plus_own_entropy():
    X, counts = _small_random(1)
    sel = select_structures(X, counts, 5, "msc", bandwidth=H)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for rank in range(1, 5):
        s = sel.indices[rank]
        own = dataset_entropy(X[offsets[s]:offsets[s + 1]], H).entropy
        assert sel.scores[rank] == pytest.approx(sel.max_differential_entropy[rank] + own,
                                                 abs=1e-9)
    assert np.isinf(sel.max_differential_entropy[0])  # the first pick has nothing to compare to
    # each pick's most novel environment is measured against everything picked before it
    for rank in range(1, 5):
        s = sel.indices[rank]
        before = np.concatenate([X[offsets[p]:offsets[p + 1]] for p in sel.indices[:rank]])
        dh = differential_entropy(X[offsets[s]:offsets[s + 1]], before, H, method="exact")
        assert sel.max_differential_entropy[rank] == pytest.approx(dh.max(), abs=1e-9)


def test_k_means_gives_one_structure_per_cluster():
    # four well-separated kinds of structure, several copies (rattled) each
    rng = np.random.default_rng(0)
    centres = np.eye(4) * 5.0
    kinds = np.repeat(np.arange(4), [5, 2, 7, 3])
    X = np.concatenate([centres[k] + rng.normal(scale=0.01, size=(3, 4)) for k in kinds])
    counts = np.full(kinds.shape[0], 3)
    sel = select_structures(X, counts, 4, "k_means", seed=1)
    assert sorted(kinds[sel.indices]) == [0, 1, 2, 3]
    # more clusters than distinct structures: still distinct indices, one per cluster
    copies = np.tile(X[:3], (6, 1))
    sel = select_structures(copies, np.full(6, 3), 4, "k_means")
    assert np.unique(sel.indices).shape[0] == 4


def test_msc_keeps_more_information_than_random(mixed):
    data, X, counts = mixed
    for size in (0.2, 0.3):
        msc = selection_curve(X, counts, select_structures(X, counts, size, "msc").indices)
        randoms = [selection_curve(X, counts,
                                   select_structures(X, counts, size, "random", seed=s).indices)
                   for s in range(8)]
        assert msc["entropy"][-1] > np.mean([c["entropy"][-1] for c in randoms]) + 0.5
        assert msc["overlap"][-1] > np.mean([c["overlap"][-1] for c in randoms]) + 0.03
    kinds = {data[i].info["kind"] for i in select_structures(X, counts, 0.1, "msc").indices}
    assert kinds >= {"melt", "surface"}  # the rare kinds are kept first


def test_msc_conditional_skips_what_the_reference_holds(mixed):
    data, X, counts = mixed
    offsets = np.concatenate([[0], np.cumsum(counts)])
    # candidates: copies of 6 reference structures, then 5 structures the reference lacks
    ref_ids = [0, 5, 12, 41, 45, 50]
    novel_ids = [20, 30, 55, 56, 57]
    cand = ref_ids + novel_ids
    Xc = np.concatenate([X[offsets[s]:offsets[s + 1]] for s in cand])
    reference = np.concatenate([X[offsets[s]:offsets[s + 1]] for s in ref_ids])
    sel = select_structures(Xc, counts[cand], len(cand), "msc_conditional", reference=reference)
    first = sel.indices[:len(novel_ids)]
    assert set(first) == set(range(len(ref_ids), len(cand)))  # all novel ones before any copy
    assert (sel.max_differential_entropy[:len(novel_ids)] > 0).all()
    assert (sel.max_differential_entropy[len(novel_ids):] <= 0).all()


def test_duplicating_a_dataset_keeps_its_entropy(mixed):
    _, X, counts = mixed
    X = X[:3000]
    once = dataset_entropy(X, H)
    twice = dataset_entropy(np.concatenate([X, X]), H)
    assert twice.entropy == pytest.approx(once.entropy, abs=1e-10)
    assert twice.diversity == pytest.approx(once.diversity, abs=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_copies_of_one_structure_compress_to_one_without_loss(method):
    atoms = rattled_crystal("Cu", size=2, stdev=0.1, seed=3)
    copies = [atoms.copy() for _ in range(6)]
    ref = [atoms.copy()] if method == "msc_conditional" else None
    result = compress(copies, 1, method, reference=ref, curve=True)
    assert result.after["n_structures"] == 1
    assert result.after["entropy"] == pytest.approx(result.before["entropy"], abs=1e-10)
    assert result.after["overlap"] == 1.0


def test_selection_curve_equals_recomputation_from_scratch(mixed):
    _, X, counts = mixed
    order = select_structures(X, counts, 8, "msc").indices
    curve = selection_curve(X, counts, order)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for t in range(len(order)):
        kept = np.concatenate([X[offsets[s]:offsets[s + 1]] for s in order[:t + 1]])
        exact = dataset_entropy(kept, H, method="exact")
        assert curve["entropy"][t] == pytest.approx(exact.entropy, abs=1e-9)
        assert curve["diversity"][t] == pytest.approx(exact.diversity, abs=1e-9)
        assert curve["overlap"][t] == overlap(X, kept, H, method="exact")
        assert curve["n_environments"][t] == kept.shape[0]


def test_compress_report(mixed):
    data, X, counts = mixed
    result = compress(data, 0.1, "msc", curve=True)
    assert result.before["n_structures"] == 60 and result.after["n_structures"] == 6
    assert result.after["n_environments"] == int(counts[result.indices].sum())
    assert result.before["entropy"] == pytest.approx(dataset_entropy(X, H).entropy)
    assert 0 < result.after["overlap"] <= 1
    doc = result.to_dict()
    assert doc["indices"] == result.indices.tolist()
    assert len(doc["curve"]["entropy"]) == 6


@pytest.mark.parametrize("size, match", [
    (0, "at least 1"), (-3, "at least 1"), (61, "larger than the dataset"),
    (1.5, r"\(0, 1\]"), (0.0, r"\(0, 1\]"), (True, "count or a fraction"), ("5", "count"),
])
def test_bad_sizes(size, match):
    X, counts = _small_random(n_structures=60)
    with pytest.raises(InvalidInputError, match=match):
        select_structures(X, counts, size)


def test_bad_method_reference_and_counts():
    X, counts = _small_random()
    with pytest.raises(InvalidInputError, match="'method' parameter"):
        select_structures(X, counts, 2, "greedy")
    with pytest.raises(InvalidInputError, match="needs a reference"):
        select_structures(X, counts, 2, "msc_conditional")
    with pytest.raises(InvalidInputError, match="same descriptor settings"):
        select_structures(X, counts, 2, "msc_conditional", reference=np.zeros((3, 5)))
    with pytest.raises(InvalidInputError, match="only by msc_conditional"):
        select_structures(X, counts, 2, "msc", reference=X)
    with pytest.raises(InvalidInputError, match="add up to"):
        select_structures(X, counts[:-1], 2)
    with pytest.raises(InvalidInputError, match="positive integers"):
        select_structures(X, np.r_[counts[:-1], 0], 2)
    with pytest.raises(InvalidInputError, match="distinct structure indices"):
        selection_curve(X, counts, [0, 0])
    with pytest.raises(InvalidInputError, match="no structures"):
        compress([], 1)


# --- coverage, the default -----------------------------------------------------------

@pytest.mark.parametrize("threshold", [0.0, 1.5])
def test_coverage_agrees_with_brute_force(threshold):
    for seed in range(4):
        X, counts = _small_random(seed)
        for size in (1, 4, 12):
            sel = select_structures(X, counts, size, "coverage", bandwidth=H, threshold=threshold)
            order, gains = brute_force_coverage(X, counts, size, H, threshold)
            assert sel.indices.tolist() == order
            np.testing.assert_allclose(sel.scores, gains, rtol=0, atol=1e-12)


def test_coverage_with_a_probe_sample_agrees_with_brute_force_on_those_probes():
    from quests.compression._greedy import probe_rows

    X, counts = _small_random(5, n_structures=15)
    probes = probe_rows(X.shape[0], 20, seed=3)
    assert probes.shape == (20,) and np.unique(probes).shape == (20,)
    sel = select_structures(X, counts, 10, "coverage", bandwidth=H, n_probes=20, seed=3)
    order, gains = brute_force_coverage(X, counts, 10, H, probes=probes)
    assert sel.indices.tolist() == order
    np.testing.assert_allclose(sel.scores, gains, rtol=0, atol=1e-12)
    again = select_structures(X, counts, 10, "coverage", bandwidth=H, n_probes=20, seed=3)
    np.testing.assert_array_equal(sel.indices, again.indices)  # seeded


def test_coverage_gains_shrink_and_the_objective_is_bounded():
    # submodular: no pick gains more than the one before it; F = sum of gains <= 2
    X, counts = _small_random(2)
    sel = select_structures(X, counts, 12, "coverage", bandwidth=H)
    gains = sel.scores
    assert np.all(np.diff(gains) <= 1e-12) and 0.0 <= gains.sum() <= 2.0 + 1e-12
    # everything kept covers everything: F = 2 exactly
    assert gains.sum() == pytest.approx(2.0)


def test_coverage_of_identical_structures_takes_each_distinct_one_once():
    a, b, c = np.zeros((3, 2)), np.full((3, 2), 1.0), np.full((3, 2), 2.0)
    X = np.concatenate([a, a, a, b, c, c])
    sel = select_structures(X, [3] * 6, 3, "coverage")
    assert sel.indices.tolist() == [0, 4, 3]  # most environments, then the pair, then b


def test_coverage_kernels_match_their_numpy_twins():
    from quests._kernels.kde import update_coverage_gains
    from quests.kde import KernelSums

    rng = np.random.default_rng(0)
    X, Y = rng.normal(scale=0.02, size=(50, 3)), rng.normal(scale=0.02, size=(9, 3))
    counts = np.array([10, 25, 15])
    K = np.exp(-((Y[:, None] - X[None]) ** 2).sum(-1) / (2 * H * H))
    twin = np.stack([K[:, :10].sum(1), K[:, 10:35].sum(1), K[:, 35:].sum(1)], axis=1)
    for tile_size, n_jobs in ((1024, 1), (7, 2)):  # one tile; many tiles over two workers
        tiled = KernelSums(X, H, tile_size=tile_size, n_jobs=n_jobs)
        grouped = tiled.group_sums(Y - X.mean(axis=0), tiled.X_, counts)
        np.testing.assert_allclose(grouped, twin, rtol=1e-12, atol=1e-15)
    # gains moved from `before` to `after` = the gains computed at `after` directly
    dense = rng.uniform(0, 0.8, size=(9, 3)) * (rng.uniform(size=(9, 3)) > 0.3)
    indptr = np.r_[0, np.cumsum((dense > 0).sum(1))].astype(np.int64)
    indices = np.nonzero(dense > 0)[1].astype(np.int32)
    data = dense[dense > 0]
    weight = rng.uniform(size=9)
    before, after = rng.uniform(0, 1.2, size=9), rng.uniform(0, 1.5, size=9)

    def gains_at(level):
        return (weight[:, None] * (np.minimum(1, level[:, None] + dense)
                                   - np.minimum(1, level[:, None])) * (dense > 0)).sum(0)

    gains = gains_at(before)
    update_coverage_gains(indptr, indices, data, np.arange(9), before, after, weight, gains)
    np.testing.assert_allclose(gains, gains_at(after), atol=1e-14)


def _kept_metrics(X, counts, method, size, seeds=(0,)):
    values = [selection_curve(X, counts, select_structures(X, counts, size, method,
                                                           seed=s).indices)
              for s in seeds]
    return (np.mean([v["entropy"][-1] for v in values]),
            np.mean([v["overlap"][-1] for v in values]))


@pytest.mark.slow
def test_coverage_on_unequal_categories_is_not_dominated_below_half(mixed):
    """mixed_cu_dataset (40 crystal, 10 rattled, 5 surface, 5 melt): at 5, 10 and 20 % no
    other method keeps both as much entropy and as much overlap; at 20 % coverage keeps more
    of both than every other method (random: mean of 5 seeds); at 50 % every method but
    random covers nearly everything and coverage keeps H within 0.02 nats of the best (it
    is not the best there: msc 5.805, fps 5.813, coverage 5.801; docs/benchmarks.md)."""
    _, X, counts = mixed
    for fraction in (0.05, 0.1, 0.2, 0.5):
        size = resolve_size(fraction, len(counts))
        ours = _kept_metrics(X, counts, "coverage", size)
        others = {m: _kept_metrics(X, counts, m, size, range(5) if m == "random" else (0,))
                  for m in ("msc", "random", "fps", "mean_fps", "k_means")}
        if fraction == 0.5:
            assert ours[1] == 1.0
            assert ours[0] > max(v[0] for v in others.values()) - 0.02
            continue
        for method, (entropy, covered) in others.items():
            assert not (entropy >= ours[0] and covered >= ours[1]), (fraction, method)
        if fraction == 0.2:
            assert ours[0] > max(v[0] for v in others.values())
            assert ours[1] > max(v[1] for v in others.values())


def test_structure_categories_and_counts():
    from quests.compression import category_counts, structure_categories

    data = mixed_cu_dataset(n_crystal=3, n_rattled=1, n_surface=1, n_melt=1)
    expected = ["crystal"] * 3 + ["rattled", "surface", "melt"]
    assert structure_categories(data) == ("kind", expected)
    data[0].info["config_type"] = "bulk"  # not on every structure: auto skips it
    assert structure_categories(data)[0] == "kind"
    with pytest.raises(InvalidInputError, match="structure 1 has no info key 'config_type'"):
        structure_categories(data, "config_type")
    for atoms in data:
        del atoms.info["kind"]
    with pytest.raises(InvalidInputError, match="name one with key"):
        structure_categories(data[1:])
    with pytest.raises(InvalidInputError, match="an info key must be a string"):
        structure_categories(data, ["kind"])
    with pytest.raises(InvalidInputError, match="a.xyz:2 has no info key 'gen'"):
        structure_categories(data, "gen", [f"a.xyz:{i}" for i in range(2, 2 + len(data))])
    counts = category_counts(["x", "y", "x"], [1, 0, 2], [1, 2, 3])
    assert counts == {"labels": ["x", "y"], "total": [2, 1], "sizes": [1, 2, 3],
                      "kept": [[0, 1], [1, 1], [2, 1]]}


def test_compress_counts_categories_at_the_standard_fractions(mixed):
    data, _, _ = mixed
    result = compress(data, 0.2, key="kind")
    cats = result.categories
    assert cats["sizes"] == [3, 6, 12] and cats["labels"][0] == "crystal"
    assert [sum(k) for k in cats["kept"]] == [3, 6, 12]
    assert "first 12" in result.summary()
    assert result.rows()[0]["category"] == data[result.indices[0]].info["kind"]
    # k_means clusters for one size: its categories are counted at that size alone
    assert compress(data, 0.2, "k_means", key="kind").categories["sizes"] == [12]
