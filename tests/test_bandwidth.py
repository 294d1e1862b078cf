"""-b auto: the bandwidth chosen from the reference alone (quests.kde.select_bandwidth).

Ground truth: the bandwidth whose estimate, built from the reference, gives
the largest mean log density to a large fresh sample of the same
distribution (brute force over the same candidates). Leave-one-structure-out
likelihood estimates exactly that from the reference alone.
"""

import math

import numpy as np
import pytest

from quests import InvalidInputError
from quests.cli import main
from quests.data import rattled_crystal
from quests.kde import log_kernel_sum, select_bandwidth
from quests.uncertainty import UncertaintyEstimator, bandwidth_lines

GRID = np.geomspace(0.02, 2, 21)


def _structures(rng, n_structures, per_structure=20, d=4, spread=0.1):
    """Each structure: environments scattered (``spread``) around its own random centre,
    like the correlated environments of one MD snapshot or one strained cell."""
    centres = rng.normal(0, 1, size=(n_structures, d))
    return np.concatenate([c + rng.normal(0, spread, size=(per_structure, d))
                           for c in centres])


def _best_on_fresh_data(X, Y, grid):
    d = X.shape[1]
    scores = (log_kernel_sum(Y, X, grid).mean(axis=0) - math.log(len(X))
              - 0.5 * d * np.log(2 * np.pi * grid ** 2))
    return int(np.argmax(scores))


@pytest.mark.parametrize("seed, n_structures, d", [(1, 80, 4), (2, 40, 6), (3, 120, 3)])
def test_recovers_the_best_bandwidth_of_fresh_data(seed, n_structures, d):
    rng = np.random.default_rng(seed)
    X = _structures(rng, n_structures, d=d)
    best = _best_on_fresh_data(X, _structures(rng, 400, d=d), GRID)
    choice = select_bandwidth(X, np.arange(0, X.shape[0] + 1, 20), candidates=GRID)
    assert abs(int(np.searchsorted(GRID, choice.bandwidth)) - best) <= 1
    assert choice.held_out == "structure" and choice.scores.shape == GRID.shape
    assert choice.n_queries == min(X.shape[0], 2000)


def test_scores_equal_a_brute_force_likelihood():
    """The mean log density of each structure's environments under the normalised Gaussian
    KDE of the other structures, written out term by term."""
    rng = np.random.default_rng(7)
    X = _structures(rng, 6, per_structure=5, d=3)
    offsets = np.arange(0, 31, 5)
    grid = np.array([0.05, 0.2, 0.8])
    choice = select_bandwidth(X, offsets, candidates=grid)
    expected = []
    for h in grid:
        logs = []
        for i, x in enumerate(X):
            others = [j for j in range(30) if j // 5 != i // 5]
            density = np.mean([np.exp(-np.sum((x - X[j]) ** 2) / (2 * h * h))
                               / (2 * np.pi * h * h) ** 1.5 for j in others])
            logs.append(np.log(density))
        expected.append(np.mean(logs))
    np.testing.assert_allclose(choice.scores, expected, rtol=1e-10)
    assert choice.bandwidth == grid[int(np.argmax(expected))]


def test_holding_out_single_environments_shrinks_the_bandwidth():
    """Environments of one structure vouch for each other: without the offsets the
    choice falls to about the spread within a structure (0.1), far below the best."""
    rng = np.random.default_rng(1)
    X = _structures(rng, 80)
    with_offsets = select_bandwidth(X, np.arange(0, X.shape[0] + 1, 20), candidates=GRID)
    alone = select_bandwidth(X, None, candidates=GRID)
    assert alone.held_out == "environment"
    assert alone.bandwidth < 0.2 < 0.4 < with_offsets.bandwidth


def test_a_sample_of_queries_gives_the_same_choice():
    rng = np.random.default_rng(4)
    X = _structures(rng, 100)
    offsets = np.arange(0, X.shape[0] + 1, 20)
    assert select_bandwidth(X, offsets, candidates=GRID, max_queries=500).bandwidth == \
        select_bandwidth(X, offsets, candidates=GRID).bandwidth


@pytest.mark.parametrize("kwargs, message", [
    ({"offsets": [0, 5]}, "offsets must rise from 0"),
    ({"offsets": [0, 40]}, "at least two reference structures"),
    ({"candidates": [0.01, -1]}, "positive, finite"),
    ({"candidates": []}, "positive, finite"),
])
def test_bad_input(kwargs, message):
    X = np.random.default_rng(0).normal(size=(40, 3))
    with pytest.raises(InvalidInputError, match=message):
        select_bandwidth(X, **kwargs)


def test_estimator_auto_bandwidth_and_its_index(tmp_path):
    train = [rattled_crystal("Cu", size=2, stdev=0.05, seed=s) for s in range(4)]
    fixed = UncertaintyEstimator(train).fit()
    auto = UncertaintyEstimator(train, bandwidth="auto").fit()
    expected = select_bandwidth(fixed.descriptors_, np.arange(0, 129, 32)).bandwidth
    assert auto.bandwidth_ == expected and fixed.bandwidth_ == 0.015
    assert "leave-one-structure-out" in bandwidth_lines(auto.bandwidth_selection_)[0]
    probe = rattled_crystal("Cu", size=2, stdev=0.1, seed=9)
    np.testing.assert_array_equal(
        auto.differential_entropy(probe),
        UncertaintyEstimator(train, bandwidth=expected).fit().differential_entropy(probe))
    auto.save(tmp_path / "ref.idx")
    loaded = UncertaintyEstimator.load(tmp_path / "ref.idx")
    assert loaded.bandwidth_ == expected and loaded.bandwidth_selection_ is not None
    # an index saved with a fixed bandwidth still knows its structures
    fixed.save(tmp_path / "fixed.idx")
    assert UncertaintyEstimator.load(tmp_path / "fixed.idx",
                                     bandwidth="auto").bandwidth_ == expected
    with pytest.raises(InvalidInputError, match="'bandwidth' parameter"):
        UncertaintyEstimator(train, bandwidth="best").fit()


def test_cli_reports_the_chosen_bandwidth(tmp_path, capsys):
    import ase.io
    import json

    ase.io.write(tmp_path / "train.xyz",
                 [rattled_crystal("Cu", size=2, stdev=0.05, seed=s) for s in range(4)])
    ase.io.write(tmp_path / "test.xyz", rattled_crystal("Cu", size=2, stdev=0.1, seed=9))
    main_args = [str(tmp_path / "test.xyz"), str(tmp_path / "train.xyz"), "-b", "auto", "-q"]
    with pytest.raises(SystemExit) as exit_info:
        main(["overlap"] + main_args + ["-o", str(tmp_path / "o.json")])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "chosen from the reference by leave-one-structure-out likelihood" in out
    record = json.loads((tmp_path / "o.json").read_text())
    assert record["bandwidth"] == [record["bandwidth_selection"]["bandwidth"]]
    with pytest.raises(SystemExit) as exit_info:
        main(["dh"] + main_args[:2] + ["-b", "often", "-q"])
    assert exit_info.value.code == 2
    assert "neither a bandwidth (1/Å) nor 'auto'" in capsys.readouterr().err
