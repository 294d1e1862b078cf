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
from reference import brute_force_msc, brute_force_structure_fps

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
