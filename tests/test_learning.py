"""Learning curves, the information-gap fit, active-learning evaluation."""

import numpy as np
import pytest

from quests import InvalidInputError
from quests.compression import describe_structures
from quests.data import demo_files, mixed_cu_dataset, rattled_crystal
from quests.io import read_structures
from quests.kde import dataset_entropy
from quests.learning import (
    active_learning,
    fit_information_gap,
    information_gap_model,
    learning_curve,
    learning_curve_sizes,
)

H = 0.015


@pytest.mark.parametrize("a, b, c", [(7.0, 6.5, 0.08), (4.2, 2.0, 0.5), (9.5, 9.0, 0.02)])
def test_fit_recovers_parameters_from_the_formula(a, b, c):
    n = np.geomspace(1, 1e5, 10)
    exact = fit_information_gap(n, information_gap_model(n, a, b, c))
    assert (exact.a, exact.b, exact.c) == pytest.approx((a, b, c), rel=1e-6)
    # with noise of known size, the truth lies within the stated uncertainty
    rng = np.random.default_rng(0)
    hits = 0
    for trial in range(20):
        noisy = information_gap_model(n, a, b, c) + rng.normal(scale=0.02, size=n.shape)
        fit = fit_information_gap(n, noisy, errors=np.full(n.shape, 0.02))
        hits += abs(fit.a - a) <= 2 * fit.a_error
        assert abs(fit.c - c) <= 5 * fit.c_error
    assert hits >= 16  # ~95 % coverage of a 2-sigma interval


def test_fit_needs_four_sizes_and_finite_values():
    with pytest.raises(InvalidInputError, match="at least 4 distinct sizes"):
        fit_information_gap([1, 2, 3], [0.0, 0.5, 0.7])
    with pytest.raises(InvalidInputError, match="positive"):
        fit_information_gap([0, 1, 2, 3], [0.0, 0.1, 0.5, 0.7])
    with pytest.raises(InvalidInputError, match="equal length"):
        fit_information_gap([1, 2, 3, 4], [0.0, 0.1])


def test_sizes_are_geometric_and_end_at_the_whole_set():
    sizes = learning_curve_sizes(1000, 7)
    assert sizes[0] == 1 and sizes[-1] == 1000 and np.all(np.diff(sizes) > 0)
    assert learning_curve_sizes(3, 8).tolist() == [1, 2, 3]


def test_learning_curve_on_mixed_cu():
    data = mixed_cu_dataset()
    X, counts, _, _ = describe_structures(data)
    curve = learning_curve(X, counts, n_sizes=7, n_seeds=4, seed=1)
    assert curve.unit == "structures" and curve.sizes[-1] == len(data)
    assert curve.full_entropy == pytest.approx(dataset_entropy(X, H).entropy, abs=1e-10)
    assert curve.mean[-1] > curve.mean[0]
    assert np.all(curve.std[-1] == 0)  # the whole set is drawn once
    assert curve.fit is not None and curve.fit.b > 0
    assert curve.gap == pytest.approx(curve.fit.a - curve.full_entropy)
    # each subset's environment count matches the structures drawn
    assert curve.n_environments[-1, 0] == X.shape[0]
    # reproducible
    again = learning_curve(X, counts, n_sizes=7, n_seeds=4, seed=1)
    np.testing.assert_array_equal(curve.entropies, again.entropies)
    by_env = learning_curve(X, None, [10, 100, 1000, 3000], n_seeds=2)
    assert by_env.unit == "environments" and by_env.n_environments[:, 0].tolist() == \
        [10, 100, 1000, 3000]


def test_learning_curve_rejects_bad_sizes():
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(InvalidInputError, match=r"lie in \[1, 50\]"):
        learning_curve(X, sizes=[0, 10])
    with pytest.raises(InvalidInputError, match=r"lie in \[1, 50\]"):
        learning_curve(X, sizes=[10, 51])


@pytest.fixture(scope="module")
def crystal_and_melt():
    files = demo_files()
    return read_structures(files["cu_300K"] + "@0:6"), read_structures(files["cu_melt"] + "@0:6")


def test_copies_add_nothing_and_melt_is_novel(crystal_and_melt):
    crystal, melt = crystal_and_melt
    copies = [a.copy() for a in crystal]
    report = active_learning([crystal, copies, melt], ["g0", "copies", "melt"])
    g0, dup, molten = report.rows
    assert g0["novelty"] is None and not g0["added_nothing"]
    assert dup["novelty"] == 0.0 and dup["added_nothing"]
    assert dup["entropy_gain"] == pytest.approx(0.0, abs=1e-10)
    assert dup["diversity_gain"] == pytest.approx(0.0, abs=1e-10)
    assert molten["novelty"] > 0.95 and not molten["added_nothing"]
    assert molten["entropy_gain"] > 0.5
    assert report.idle_generations == ["copies"]
    assert report.differential_entropy[2].shape == (6 * 108,)
    assert np.all(report.differential_entropy[1] <= 0)


def test_active_learning_on_descriptor_arrays_matches_structures(crystal_and_melt):
    crystal, melt = crystal_and_melt
    X0, _, _, _ = describe_structures(crystal)
    X1, _, _, _ = describe_structures(melt)
    a = active_learning([X0, X1])
    b = active_learning([crystal, melt])
    assert a.rows[1]["novelty"] == b.rows[1]["novelty"]
    assert a.rows[1]["entropy"] == pytest.approx(b.rows[1]["entropy"], abs=1e-12)
    assert a.rows[1]["n_structures"] is None and b.rows[1]["n_structures"] == 6


def test_active_learning_bad_input():
    x = np.zeros((4, 63))
    with pytest.raises(InvalidInputError, match="no generations"):
        active_learning([])
    with pytest.raises(InvalidInputError, match="same settings"):
        active_learning([x, np.zeros((4, 5))])
    with pytest.raises(InvalidInputError, match="2 names for 1"):
        active_learning([x], ["a", "b"])
    with pytest.raises(InvalidInputError, match="generation 1 holds no structures"):
        active_learning([[rattled_crystal()], []])
