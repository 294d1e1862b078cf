"""quests.thermo on synthetic inputs: change points, phases, clusters, CNT, phase boundaries."""

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.md.langevin import Langevin

from quests import InvalidInputError, QuestsError
from quests.thermo import (
    BOLTZMANN_EV,
    UNKNOWN,
    PhaseClassifier,
    PhaseState,
    cluster_size_distribution,
    coexistence_temperature,
    detect_events,
    fit_cnt,
    jump_scores,
    onset_frame,
    phase_boundary,
    phase_state,
    phase_states,
    potential_energy,
    signal_noise,
    solid_clusters,
    volume_bandwidth,
    volume_per_atom,
)


# -- change points -----------------------------------------------------------------
def _brute_jump_scores(x, window, sigma):
    """Two np.polyfit lines per boundary, read at t - 1/2; the standard error from OLS."""
    n = len(x)
    jumps = np.full(n, np.nan)
    scores = np.full(n, np.nan)
    for t in range(window, n - window + 1):
        left = np.arange(t - window, t)
        right = np.arange(t, t + window)
        at = t - 0.5
        pl = np.polyfit(left, x[left], 1)
        pr = np.polyfit(right, x[right], 1)
        jumps[t] = np.polyval(pr, at) - np.polyval(pl, at)
        var = 0.0
        for pos in (left, right):
            var += 1 / window + (at - pos.mean()) ** 2 / ((pos - pos.mean()) ** 2).sum()
        scores[t] = jumps[t] / (sigma * np.sqrt(var))
    return jumps, scores


def test_jump_scores_equal_brute_force_line_fits():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=60)) + np.r_[np.zeros(30), 5 * np.ones(30)]
    for window in (2, 3, 5, 8):
        jumps, scores = jump_scores(x, window, noise=0.7)
        ref_jumps, ref_scores = _brute_jump_scores(x, window, 0.7)
        np.testing.assert_allclose(jumps, ref_jumps, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(scores, ref_scores, rtol=1e-10, atol=1e-10)


def test_a_linear_trend_has_no_jump_and_a_step_is_found_exactly():
    x = 0.3 * np.arange(40.0)
    jumps, _ = jump_scores(x, 5, noise=1.0)
    np.testing.assert_allclose(jumps[5:36], 0.0, atol=1e-12)
    x[25:] += 2.0
    events = detect_events(x, 5, threshold=3.0, noise=0.1)
    assert [(e.frame, round(e.jump, 10)) for e in events] == [(25, 2.0)]


def test_noise_estimate_and_event_rate_on_noisy_trends():
    rng = np.random.default_rng(1)
    false_events, noise = 0, []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        x = np.linspace(0, 3, 80) + 0.2 * rng.normal(size=80)
        noise.append(signal_noise(x))
        false_events += len(detect_events(x, 5, threshold=5.0))
    assert np.mean(noise) == pytest.approx(0.2, rel=0.05)
    assert false_events <= 3  # at 5 standard errors a trend with noise is quiet
    hits = 0
    for seed in range(50):
        rng = np.random.default_rng(seed)
        x = np.linspace(0, 3, 80) + 0.2 * rng.normal(size=80)
        x[50:] += 3.0  # 15 sigma
        events = detect_events(x, 5, threshold=5.0)
        hits += any(abs(e.frame - 50) <= 1 for e in events)
    assert hits >= 45


def test_event_input_errors():
    with pytest.raises(InvalidInputError, match="window"):
        jump_scores(np.arange(10.0), 1)
    with pytest.raises(InvalidInputError, match="NaN"):
        jump_scores(np.array([0.0, np.nan, 1.0, 2.0]), 2)
    with pytest.raises(InvalidInputError, match="threshold"):
        detect_events(np.arange(10.0), 2, threshold=0)
    assert detect_events(np.arange(5.0), 3) == []  # too short to test a boundary


# -- volume bandwidth and frame quantities ------------------------------------------
def test_volume_bandwidth_rule():
    assert volume_bandwidth(0.0 + 1e-12) == pytest.approx(0.0897141 + 0.0119417)
    assert volume_bandwidth(10.896) == pytest.approx(0.0897141 * np.exp(-0.5) + 0.0119417)
    assert volume_bandwidth(1e3) == pytest.approx(0.0119417)
    v = np.array([8.0, 12.0, 20.0])
    assert np.all(np.diff(volume_bandwidth(v)) < 0)
    with pytest.raises(InvalidInputError):
        volume_bandwidth(-1.0)


def test_volume_and_energy_of_frames():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True) * (2, 2, 2)
    assert volume_per_atom(atoms) == pytest.approx(3.6 ** 3 / 4)
    with pytest.raises(InvalidInputError, match="no potential energy"):
        potential_energy(atoms, label="frame 7")
    atoms.info["energy_eV"] = -3.0
    assert potential_energy(atoms) == -3.0
    atoms.calc = SinglePointCalculator(atoms, energy=-5.0)
    assert potential_energy(atoms) == -5.0  # the calculator's energy comes first
    atoms.info["energy_eV"] = float("nan")
    with pytest.raises(InvalidInputError, match="not finite"):
        potential_energy(atoms, "energy_eV")
    slab = atoms.copy()
    slab.pbc = [True, True, False]
    with pytest.raises(QuestsError, match="periodic"):
        volume_per_atom(slab)


# -- phase classification -----------------------------------------------------------
def test_phase_labels_follow_the_densest_reference_and_unknown_threshold():
    rng = np.random.default_rng(0)
    solid = rng.normal(0.0, 0.01, size=(400, 3))
    liquid = rng.normal(0.1, 0.01, size=(100, 3))  # smaller reference: its density counts
    clf = PhaseClassifier({"solid": solid, "liquid": liquid}, bandwidth=0.02,
                          average_neighbors=False).fit()
    y = np.vstack([rng.normal(0.0, 0.01, size=(50, 3)), rng.normal(0.1, 0.01, size=(50, 3)),
                   [[5.0, 5.0, 5.0]]])
    labels, dh = clf.classify_descriptors(y)
    # brute force: argmax of mean kernel per reference
    dens = np.stack([np.exp(-((y[:, None] - r[None]) ** 2).sum(-1) / (2 * 0.02 ** 2)).mean(1)
                     for r in (solid, liquid)], axis=1)
    np.testing.assert_array_equal(labels[:100], np.argmax(dens[:100], axis=1))
    assert (labels[:50] == 0).mean() > 0.95 and (labels[50:100] == 1).mean() > 0.95
    assert labels[100] in (0, 1)  # no threshold: never unknown
    clf.threshold = 0.0
    labels, _ = clf.classify_descriptors(y)
    assert labels[100] == UNKNOWN
    np.testing.assert_allclose(dh[:100, 0], -np.log(dens[:100, 0] * 400), rtol=1e-9)


def test_phase_classifier_input_errors():
    x = np.zeros((3, 63))
    with pytest.raises(InvalidInputError, match="two reference phases"):
        PhaseClassifier({"solid": x}).fit()
    with pytest.raises(InvalidInputError, match="holds no structures"):
        PhaseClassifier({"solid": x, "liquid": []}).fit()
    with pytest.raises(InvalidInputError, match="unknown"):
        PhaseClassifier({"solid": x, "unknown": x}).fit()
    clf = PhaseClassifier({"solid": [bulk("Cu", cubic=True)],
                           "liquid": [bulk("Cu", cubic=True)]}).fit()
    with pytest.raises(InvalidInputError, match=r"species \[13\]"):
        clf.check_species(bulk("Al", cubic=True), "frame 0")


# -- clusters -------------------------------------------------------------------------
def _brute_clusters(atoms, solid, cutoff):
    """Breadth-first search over all pairs with minimum-image distances (cubic cell)."""
    pos = atoms.positions
    length = atoms.cell[0, 0]
    n = len(atoms)
    seen = np.full(n, -1)
    sizes = []
    for start in np.flatnonzero(solid):
        if seen[start] >= 0:
            continue
        queue, seen[start] = [start], len(sizes)
        count = 0
        while queue:
            i = queue.pop()
            count += 1
            d = pos - pos[i]
            d -= length * np.round(d / length)
            near = np.flatnonzero((np.linalg.norm(d, axis=1) < cutoff) & solid & (seen < 0))
            seen[near] = len(sizes)
            queue.extend(near.tolist())
        sizes.append(count)
    return sorted(sizes, reverse=True)


def test_solid_clusters_wrap_across_the_cell_and_match_brute_force():
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True) * (5, 5, 5)
    rng = np.random.default_rng(3)
    atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
    # a sphere centred on a corner: it is one cluster only through periodic images
    d = atoms.positions.copy()
    d -= atoms.cell[0, 0] * np.round(d / atoms.cell[0, 0])
    solid = np.linalg.norm(d, axis=1) < 5.0
    solid |= rng.random(len(atoms)) < 0.08  # scattered small clusters
    cluster, sizes = solid_clusters(atoms, solid)
    nearest = np.sort(atoms.get_all_distances(mic=True), axis=1)[:, 1]
    assert sizes.tolist() == _brute_clusters(atoms, solid, 1.207 * np.median(nearest))
    assert sizes[0] >= (np.linalg.norm(d, axis=1) < 5.0).sum()
    assert np.all(cluster[~solid] == -1) and np.bincount(cluster[solid]).tolist() == \
        sizes.tolist()
    # a Frame works as well as the Atoms
    from quests.structures import as_frame

    assert solid_clusters(as_frame(atoms), solid)[1].tolist() == sizes.tolist()
    empty, no_sizes = solid_clusters(atoms, np.zeros(len(atoms), bool))
    assert no_sizes.size == 0 and np.all(empty == -1)
    with pytest.raises(InvalidInputError, match="one flag per atom"):
        solid_clusters(atoms, solid[:-1])


def test_cluster_size_distribution_and_onset():
    sizes, p, counts = cluster_size_distribution([np.array([3, 1, 1]), np.array([1])],
                                                 [10, 10])
    assert sizes.tolist() == [1, 3] and counts.tolist() == [3, 1]
    np.testing.assert_allclose(p, [3 / 20, 1 / 20])
    assert onset_frame([0, 1, 60, 10, 55, 70, 90], 50) == 4
    assert onset_frame([0, 1, 2], 50) is None
    assert onset_frame([60, 70], 50) == 0


# -- CNT --------------------------------------------------------------------------------
def _synthetic_cnt(seed, dmu, sigma, kt, n_atoms, sizes):
    rng = np.random.default_rng(seed)
    g = -sizes * dmu + sigma * sizes ** (2 / 3)
    return rng.poisson(np.exp(-g / kt) * n_atoms)


def test_cnt_fit_recovers_known_parameters_within_stated_uncertainty():
    """Issue 5: cluster sizes drawn from known dmu and sigma are recovered within their
    stated uncertainty: about 68 % of 300 draws within one standard error, all within 4."""
    temperature = 800.0
    kt = BOLTZMANN_EV * temperature
    dmu, sigma = 0.3 * kt, 1.5 * kt
    n_star = (2 * sigma / (3 * dmu)) ** 3
    barrier = 4 * sigma ** 3 / (27 * dmu ** 2)
    sizes = np.arange(1, 26)
    n_atoms = 200_000
    z = []
    for seed in range(300):
        fit = fit_cnt(sizes, _synthetic_cnt(seed, dmu, sigma, kt, n_atoms, sizes), n_atoms,
                      temperature)
        z.append([(fit.dmu - dmu) / fit.dmu_error, (fit.sigma - sigma) / fit.sigma_error,
                  (fit.n_critical - n_star) / fit.n_critical_error,
                  (fit.barrier - barrier) / fit.barrier_error])
    z = np.abs(np.array(z))
    coverage = (z < 1).mean(axis=0)
    assert np.all((coverage > 0.6) & (coverage < 0.76)), coverage
    assert z.max() < 4.5
    exact = fit_cnt(sizes, np.exp(-(-sizes * dmu + sigma * sizes ** (2 / 3)) / kt) * 1e12,
                    1e12, temperature)
    assert exact.dmu == pytest.approx(dmu, rel=1e-9)
    assert exact.sigma == pytest.approx(sigma, rel=1e-9)
    assert exact.n_critical == pytest.approx(n_star, rel=1e-8)
    assert exact.barrier == pytest.approx(barrier, rel=1e-8)


def test_cnt_fit_errors():
    with pytest.raises(InvalidInputError, match="at least 4"):
        fit_cnt([1, 2, 3], [100, 50, 20], 1000)
    with pytest.raises(InvalidInputError, match="temperature"):
        fit_cnt([1, 2, 3, 4], [100, 50, 20, 10], 1000, temperature=-1)
    n = np.arange(1, 8)
    unitless = fit_cnt(n, 1e9 * np.exp(-(-0.2 * n + 2 * n ** (2 / 3))), 1e9)
    assert unitless.temperature is None and unitless.dmu == pytest.approx(0.2, rel=1e-6)


# -- phase boundary ---------------------------------------------------------------------
def _state(phase, t, energy, volume, entropy, error=1e-3):
    return PhaseState(phase=phase, temperature=t, pressure=0.0, n_frames=10,
                      n_environments=1000, energy=energy, energy_error=error, volume=volume,
                      volume_error=0.01, bandwidth=0.06, entropy=entropy,
                      entropy_error=0.01)


def test_phase_boundary_recovers_a_known_crossing():
    """dU = 0.12 eV, dS = 1.2 kB: dG = 0.12 - 1.2 kB T crosses zero at 0.1 / kB = 1160.45 K."""
    t_m = 0.1 / BOLTZMANN_EV
    temps = [900.0, 1000.0, 1100.0, 1200.0, 1300.0]
    solid = [_state("solid", t, -3.5 + 3e-4 * (t - 900), 12.0, 1.0) for t in temps]
    liquid = [_state("liquid", t, -3.5 + 3e-4 * (t - 900) + 0.12, 12.5, 2.2) for t in temps]
    (b,) = phase_boundary(solid, liquid)
    assert b.coexistence_temperature == pytest.approx(t_m, rel=1e-9)
    assert b.phases == ("solid", "liquid") and not b.extrapolated
    np.testing.assert_allclose(b.dG, 0.12 - 1.2 * BOLTZMANN_EV * np.array(temps))
    # a pressure adds P dV: at 1 GPa dV = 0.5 Å^3 shifts T_m by P dV / (1.2 kB)
    for s in solid + liquid:
        object.__setattr__(s, "pressure", 1.0)
    (b1,) = phase_boundary(solid, liquid)
    shift = 1.0 / 160.21766208 * 0.5 / (1.2 * BOLTZMANN_EV)
    assert b1.coexistence_temperature == pytest.approx(t_m + shift, rel=1e-9)


def test_coexistence_temperature_uncertainty_covers_noisy_crossings():
    rng = np.random.default_rng(0)
    t = np.linspace(1000, 1500, 6)
    covered = 0
    for _ in range(300):
        dg = 0.1 - 0.1 / 1250 * t + rng.normal(0, 0.002, t.size)
        t0, err, _, _ = coexistence_temperature(t, dg, np.full(t.size, 0.002))
        covered += abs(t0 - 1250) < err
    assert 0.6 < covered / 300 < 0.8
    with pytest.raises(InvalidInputError, match="two or more"):
        coexistence_temperature([1000.0], [0.1], [0.01])


def _md_frames(temperature, n_frames, seed, scale=1.0):
    atoms = bulk("Cu", "fcc", a=3.6 * scale, cubic=True) * (2, 2, 2)
    atoms.calc = EMT()
    dyn = Langevin(atoms, 5 * units.fs, temperature_K=temperature, friction=0.05,
                   rng=np.random.default_rng(seed), fixcm=False)
    frames = []
    for _ in range(n_frames):
        dyn.run(5)
        snap = atoms.copy()
        snap.info.update(target_K=float(temperature), energy_eV=atoms.get_potential_energy())
        frames.append(snap)
    return frames


def test_phase_state_averages_and_groups_frames():
    frames = _md_frames(300, 4, 0) + _md_frames(600, 4, 1)
    states = phase_states(frames, "solid")
    assert [s.temperature for s in states] == [300.0, 600.0]
    s = states[0]
    e = np.array([f.info["energy_eV"] / len(f) for f in frames[:4]])
    assert s.energy == pytest.approx(e.mean()) and s.n_frames == 4
    assert s.energy_error == pytest.approx(e.std(ddof=1) / 2)
    assert s.volume == pytest.approx(3.6 ** 3 / 4)
    assert s.bandwidth == pytest.approx(volume_bandwidth(3.6 ** 3 / 4))
    assert 0 < s.entropy <= np.log(4 * 32) and s.entropy_error > 0
    assert states[1].entropy > s.entropy  # hotter crystal, more diverse environments


def test_phase_state_bad_input():
    frames = _md_frames(300, 3, 0)
    del frames[1].info["energy_eV"]
    with pytest.raises(InvalidInputError, match="frame 1 carries no potential energy"):
        phase_state(frames, "solid")
    frames = _md_frames(300, 3, 0)
    for i, f in enumerate(frames):
        f.info["target_K"] = 300.0 + i
    with pytest.raises(InvalidInputError, match="one frame"):
        phase_states(frames, "solid")
    with pytest.raises(InvalidInputError, match="at least 2"):
        phase_state(frames[:1], "solid")
    with pytest.raises(InvalidInputError, match="no frames"):
        phase_states([], "solid")
    a = [_state("solid", 1000.0, 0, 12, 1)]
    b = [_state("liquid", 1100.0, 0, 12, 1)]
    with pytest.raises(InvalidInputError, match="share fewer than two"):
        phase_boundary(a, b)


# -- common-neighbour analysis -----------------------------------------------------------
def test_cna_names_ideal_crystals_and_the_icosahedron_centre():
    from ase.cluster import Icosahedron

    from quests.thermo import BCC, FCC, HCP, ICO, OTHER, common_neighbor_analysis

    for atoms, code in ((bulk("Cu", "fcc", a=3.6) * (3, 3, 3), FCC),
                        (bulk("Mg", "hcp", a=3.2) * (3, 3, 3), HCP),
                        (bulk("Fe", "bcc", a=2.87) * (3, 3, 3), BCC)):
        assert np.all(common_neighbor_analysis(atoms) == code)
        # scaled cells and strained ones: adaptive cutoffs follow, fixed ones need care
        strained = atoms.copy()
        strained.set_cell(strained.cell * [1.03, 0.98, 1.0], scale_atoms=True)
        assert np.all(common_neighbor_analysis(strained) == code)
    fcc = bulk("Cu", "fcc", a=3.6) * (3, 3, 3)
    assert np.all(common_neighbor_analysis(fcc, cutoff=0.854 * 3.6) == FCC)
    assert np.all(common_neighbor_analysis(fcc, cutoff=2.0) == OTHER)  # no bonds
    ico = Icosahedron("Cu", 3)
    ico.center(vacuum=5.0)
    ico.pbc = False
    codes = common_neighbor_analysis(ico)
    assert codes[0] == ICO and np.all(codes[1:] == OTHER)  # surface atoms lack neighbours
    with pytest.raises(InvalidInputError, match="cutoff"):
        common_neighbor_analysis(fcc, cutoff=-1.0)


def _brute_cna(atoms, cutoff):
    """Conventional CNA from the full minimum-image distance matrix, with python sets and a
    depth-first search for the longest chain (no code shared with quests.thermo._cna).

    Atoms are identified by index, not by image, so the cell must be wider than about four
    cutoffs for the sets to mean what they say."""
    dist = atoms.get_all_distances(mic=True)
    n = len(atoms)
    bonded = [set(np.flatnonzero((dist[i] < cutoff) & (np.arange(n) != i)).tolist())
              for i in range(n)]
    codes = []
    for i in range(n):
        signatures = []
        for j in bonded[i]:
            common = bonded[i] & bonded[j]
            bonds = {frozenset((a, b)) for a in common for b in common if a < b and
                     b in bonded[a]}
            best, seen = 0, set()
            for bond in bonds:  # connected sets of bonds sharing atoms
                if bond in seen:
                    continue
                stack, size = [bond], 0
                seen.add(bond)
                while stack:
                    current = stack.pop()
                    size += 1
                    for other in bonds - seen:
                        if current & other:
                            seen.add(other)
                            stack.append(other)
                best = max(best, size)
            signatures.append((len(common), len(bonds), best))
        counts = {s: signatures.count(s) for s in set(signatures)}
        if len(bonded[i]) == 12 and counts == {(4, 2, 1): 12}:
            codes.append(1)
        elif len(bonded[i]) == 12 and counts == {(4, 2, 1): 6, (4, 2, 2): 6}:
            codes.append(2)
        elif len(bonded[i]) == 14 and counts == {(6, 6, 6): 8, (4, 4, 4): 6}:
            codes.append(3)
        elif len(bonded[i]) == 12 and counts == {(5, 5, 5): 12}:
            codes.append(4)
        else:
            codes.append(5)
    return np.array(codes)


def test_cna_against_brute_force_on_thermal_disorder():
    """Conventional CNA atom by atom against a from-scratch recount, on crystals rattled
    until many atoms lose their signature."""
    from quests.thermo import common_neighbor_analysis

    rng = np.random.default_rng(5)
    for atoms, cutoff in ((bulk("Cu", "fcc", a=3.6, cubic=True) * (5, 5, 5), 3.07),
                          (bulk("Mg", "hcp", a=3.2, c=3.2 * np.sqrt(8 / 3)) * (6, 6, 4), 3.86),
                          (bulk("Fe", "bcc", a=2.87, cubic=True) * (6, 6, 6), 3.5)):
        for stdev in (0.0, 0.12, 0.2):
            rattled = atoms.copy()
            rattled.positions += rng.normal(0, stdev, rattled.positions.shape)
            ours = common_neighbor_analysis(rattled, cutoff=cutoff)
            np.testing.assert_array_equal(ours, _brute_cna(rattled, cutoff))
        assert 0.02 < (ours == 5).mean() < 0.9  # the most rattled is partly disordered


def _brute_local_scores(x, window):
    """Jump scores with the default noise: the pooled residual scatter of both np.polyfit
    lines at each boundary, never below the robust noise of the whole signal."""
    n = len(x)
    floor = signal_noise(x)
    scores = np.full(n, np.nan)
    jumps, _ = _brute_jump_scores(x, window, 1.0)
    for t in range(window, n - window + 1):
        rss = 0.0
        for pos in (np.arange(t - window, t), np.arange(t, t + window)):
            fit = np.polyfit(pos, x[pos], 1)
            rss += ((x[pos] - np.polyval(fit, pos)) ** 2).sum()
        sigma = max(np.sqrt(rss / (2 * window - 4)), floor)
        scores[t] = _brute_jump_scores(x, window, sigma)[1][t]
    return jumps, scores


def test_jump_scores_with_local_noise_equal_brute_force():
    rng = np.random.default_rng(2)
    x = np.r_[np.linspace(0, 1, 30) + 0.05 * rng.normal(size=30),
              3 + 0.4 * rng.normal(size=30)]  # quiet, then a noisier level after a step
    for window in (3, 5, 7):
        jumps, scores = jump_scores(x, window)
        ref_jumps, ref_scores = _brute_local_scores(x, window)
        np.testing.assert_allclose(jumps, ref_jumps, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(scores, ref_scores, rtol=1e-9, atol=1e-9)


def test_merge_events_joins_signals_not_repeats_of_one():
    from quests.thermo import Event, merge_events

    h = [Event(10, 1.0, 6.0, "H"), Event(15, 1.0, 7.0, "H")]  # the detector keeps both
    assert [e.frame for e in merge_events([h], 5)] == [10, 15]
    dh = [Event(12, 2.0, -9.0, "dH"), Event(30, 1.0, 5.0, "dH")]
    merged = merge_events([h, dh], 5)
    assert [(e.frame, e.signal, e.score) for e in merged] == \
        [(12, "H+dH", -9.0), (15, "H", 7.0), (30, "dH", 5.0)]
    assert [e.frame for e in detect_events(np.r_[np.zeros(10), np.ones(5), 2 * np.ones(10)],
                                           5, 3.0, noise=0.01)] == [10, 15]


def test_coexistence_temperature_needs_error_bars_or_scatter():
    t, dg = [1000.0, 1100.0, 1200.0], [0.02, 0.0, -0.02]
    with pytest.raises(InvalidInputError, match="error bar"):
        coexistence_temperature(t, dg, [0.01, 0.0, 0.01])
    with pytest.raises(InvalidInputError, match="without error bars"):
        coexistence_temperature(t[:2], dg[:2], None)
    t0, err, _, _ = coexistence_temperature(t, [0.021, 0.0, -0.021], None)
    assert t0 == pytest.approx(1100.0) and err == pytest.approx(0.0, abs=1e-6)
    t0, err, _, _ = coexistence_temperature(t, [0.02, 0.003, -0.02], None)
    assert t0 == pytest.approx(1100 + 0.001 / 0.0002, rel=1e-9) and err > 0


def test_trajectory_entropy_takes_frames_and_species_all_in_any_batch():
    from ase import Atoms

    from quests.structures import as_frame
    from quests.thermo import TrajectoryEntropy

    rng = np.random.default_rng(0)
    frames = []
    for i in range(8):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True) * (2, 2, 2)
        atoms.numbers[::4] = 79  # CuAu
        atoms.positions += rng.normal(0, 0.05 + 0.01 * i, atoms.positions.shape)
        frames.append(atoms)
    whole = TrajectoryEntropy(species="all").run(frames).results
    batched = TrajectoryEntropy(species="all")
    batched.chunk_atoms = 40
    assert batched.run(frames).results.rows == whole.rows
    plain = TrajectoryEntropy(species="all").run([as_frame(a) for a in frames]).results
    assert [r["entropy"] for r in plain.rows] == [r["entropy"] for r in whole.rows]
    assert plain.rows[0]["time"] is None and plain.rows[0]["volume_per_atom"] == \
        pytest.approx(3.6 ** 3 / 4)
    # a later frame with a species the reference window does not hold
    odd = frames + [Atoms("Ag32", positions=frames[0].positions, cell=frames[0].cell,
                          pbc=True)]
    with pytest.raises(InvalidInputError, match=r"species \[47\]"):
        TrajectoryEntropy(species="all").run(odd)
    with pytest.raises(InvalidInputError, match="reference_frames"):
        TrajectoryEntropy(reference_frames=1).run(frames)


def test_nucleation_parameters_fail_before_any_frame():
    from quests.thermo import NucleationAnalysis

    x = np.random.default_rng(0).normal(size=(20, 63))
    clf = PhaseClassifier({"solid": x, "liquid": x + 1}).fit()

    def never():
        raise AssertionError("a frame was read")
        yield

    for kwargs, match in (({"temperature": -5.0}, "temperature"), ({"min_count": 0}, "min_count"),
                          ({"onset_size": 0}, "onset_size"), ({"solid": "ice"}, "ice")):
        with pytest.raises(InvalidInputError, match=match):
            NucleationAnalysis(clf, **kwargs).run(never())
