"""Per-atom dH against a training set: estimator, trajectory runs, monitor, calibration, CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
from ase.io import read, write
from click.testing import CliRunner

from quests import InvalidInputError
from quests._errors import InvalidStructureError
from quests.analysis import FrameAnalysis
from quests.cli import cli
from quests.data import rattled_crystal, trajectory_files
from quests.descriptor import compute_descriptors
from quests.io import iter_structures, read_structures
from quests.kde import differential_entropy
from quests.uncertainty import (
    EntropyCalculator,
    ExtrapolationError,
    UncertaintyEstimator,
    atom_errors,
    calibrate,
)

HEATING = Path(trajectory_files()["cu_heating"])


@pytest.fixture(scope="module")
def heating():
    return read_structures(str(HEATING))


@pytest.fixture(scope="module")
def cold_estimator(heating):
    return UncertaintyEstimator(heating[:8]).fit()


def test_cold_frames_are_covered_and_molten_frames_are_novel(heating, cold_estimator):
    """Issue 3: training on the cold part of a heating run, cold atoms have dH <= 0
    almost everywhere, molten atoms dH > 0, and the flagged frames are the hot ones."""
    result = cold_estimator.run(heating)
    dh = result.results.dh
    temperatures = np.array([f.info["temperature_K"] for f in heating])
    cold = np.concatenate([dh[i] for i in range(8, 12)])  # 300-435 K, not trained on
    molten = np.concatenate([dh[i] for i in np.flatnonzero(temperatures >= 2500)])
    assert np.mean(cold <= 0) >= 0.99
    assert np.mean(molten > 0) >= 0.99
    flagged = result.results.flagged
    assert set(np.flatnonzero(temperatures >= 2000)) <= set(flagged)
    assert not set(range(12)) & set(flagged)
    assert temperatures[flagged].min() > 450


def test_trajectory_run_equals_direct_dh(heating, cold_estimator):
    result = cold_estimator.run(iter_structures(str(HEATING) + "@::7"))
    x_train = compute_descriptors(heating[:8])
    direct = differential_entropy(compute_descriptors(heating[::7]), x_train, method="exact")
    np.testing.assert_allclose(np.concatenate(result.results.dh), direct, rtol=1e-12)
    rows = result.results.rows
    assert [r["frame"] for r in rows] == [f"{HEATING} frame {i}" for i in range(0, 60, 7)]
    assert result.results.max_dh.shape == (len(rows),)


def test_approximate_estimator_bounds_the_exact_one(heating, tmp_path):
    exact = UncertaintyEstimator(heating[:8], method="exact").fit()
    approx = UncertaintyEstimator(heating[:8], method="approx", n_neighbors=32).fit()
    assert approx.method_ == "approx" and approx.index_ is not None
    frames = heating[20:30]
    e = exact.differential_entropy(frames)
    a, bound = approx.differential_entropy(frames, return_bound=True)
    assert np.all(a >= e - 1e-9) and np.all(bound >= 0)
    approx.save(tmp_path / "ref.idx")
    again = UncertaintyEstimator.load(tmp_path / "ref.idx")
    assert again.method_ == "approx"
    np.testing.assert_array_equal(again.differential_entropy(frames), a)


def test_estimator_accepts_descriptors_and_checks_settings(heating):
    x = compute_descriptors(heating[:4], k=16)
    est = UncertaintyEstimator(x, k=16).fit()
    assert est.differential_entropy(heating[40]).shape == (108,)
    with pytest.raises(InvalidInputError, match="same descriptor settings"):
        UncertaintyEstimator(x, k=32).fit()
    with pytest.raises(InvalidInputError, match="needs a reference"):
        UncertaintyEstimator().fit()
    with pytest.raises(InvalidInputError, match="at least 1 row"):
        UncertaintyEstimator(np.zeros((0, 63))).fit()
    with pytest.raises(AttributeError, match="not fitted"):
        UncertaintyEstimator(x).differential_entropy(heating[0])


def test_nan_frame_is_named(tmp_path, cold_estimator, heating):
    frames = [f.copy() for f in heating[:3]]
    frames[2].positions[5, 1] = np.nan
    with pytest.raises(InvalidStructureError, match="frame 2 has NaN"):
        cold_estimator.run([(f"frame {i}", f) for i, f in enumerate(frames)])


def test_monitor_flags_a_heated_simulation(cold_estimator):
    from ase import units
    from ase.calculators.emt import EMT
    from ase.md.langevin import Langevin

    atoms = read(HEATING, index=0)
    atoms.calc = EMT()
    dyn = Langevin(atoms, 5 * units.fs, temperature_K=4000, friction=0.2,
                   rng=np.random.default_rng(0), fixcm=False)
    monitor = cold_estimator.monitor(atoms)
    dyn.attach(monitor, interval=20)
    dyn.run(200)
    assert len(monitor.records) == 11
    assert monitor.records[0]["max_dH"] <= 0 and monitor.records[-1]["max_dH"] > 0
    assert monitor.flagged and "dH" in monitor.flagged[-1].arrays
    stopper = cold_estimator.monitor(atoms, action="raise")
    with pytest.raises(ExtrapolationError, match="max dH"):
        stopper()


def _heated_md(calc, steps=100):
    from ase import units
    from ase.md.langevin import Langevin

    atoms = read(HEATING, index=0)
    atoms.calc = calc
    dyn = Langevin(atoms, 5 * units.fs, temperature_K=4000, friction=0.2,
                   rng=np.random.default_rng(0), fixcm=False)
    dyn.run(steps)
    return atoms


def test_entropy_calculator_adds_dh_and_changes_nothing(cold_estimator):
    from ase.calculators.emt import EMT

    plain = _heated_md(EMT())
    calc = EntropyCalculator(EMT(), cold_estimator)
    wrapped = _heated_md(calc)
    # the dynamics are EMT's, bit for bit
    np.testing.assert_array_equal(wrapped.positions, plain.positions)
    np.testing.assert_array_equal(wrapped.get_forces(), plain.get_forces())
    assert wrapped.get_potential_energy() == plain.get_potential_energy()
    np.testing.assert_array_equal(calc.get_property("dH", wrapped),
                                  cold_estimator.differential_entropy(wrapped))
    assert len(calc.records) == 101  # step 0 and each of the 100 steps, computed once each
    assert calc.records[0]["max_dH"] <= 0 < calc.records[-1]["max_dH"]
    assert calc.flagged and "dH" in calc.flagged[-1].arrays


def test_entropy_calculator_raises_before_a_novel_step_is_used(cold_estimator):
    from ase.calculators.emt import EMT

    calc = EntropyCalculator(EMT(), cold_estimator, action="raise")
    with pytest.raises(ExtrapolationError, match="max dH"):
        _heated_md(calc)
    first_novel = len(calc.records) - 1
    assert all(r["max_dH"] <= 0 for r in calc.records[:first_novel])
    assert calc.records[-1]["max_dH"] > 0 and "forces" not in calc.results
    with pytest.raises(InvalidInputError, match="action"):
        EntropyCalculator(EMT(), cold_estimator, action="stop")


def test_frame_analysis_protocol():
    class Count(FrameAnalysis):
        def _prepare(self):
            self.results.seen = []

        def _single_frame(self, number, label, structure):
            self.results.seen.append((number, label, structure))

        def _conclude(self):
            self.results.total = len(self.results.seen)

    calls = []
    analysis = Count().attach(lambda: calls.append(1), interval=2)
    assert analysis.run(list("abcdefg"), start=1, step=2) is analysis
    assert [s for _, _, s in analysis.results.seen] == ["b", "d", "f"]
    assert analysis.results.total == 3 and len(calls) == 1
    assert list(Count().irun(iter("xyz"))) == [0, 1, 2]
    with pytest.raises(AttributeError, match="no result"):
        Count().results.total


def test_atom_errors_from_arrays_and_differences():
    atoms = rattled_crystal(size=1)
    atoms.arrays["force_error"] = np.arange(4.0)
    atoms.arrays["f_model"] = np.ones((4, 3))
    atoms.arrays["f_ref"] = np.zeros((4, 3))
    np.testing.assert_array_equal(atom_errors(atoms, "force_error"), np.arange(4.0))
    np.testing.assert_allclose(atom_errors(atoms, "f_model:f_ref"), np.sqrt(3) * np.ones(4))
    with pytest.raises(InvalidStructureError, match="no per-atom array 'missing'"):
        atom_errors(atoms, "missing")
    with pytest.raises(InvalidInputError, match="NAME:REFERENCE"):
        atom_errors(atoms, "a:b:c")


def test_calibration_recovers_a_known_relation():
    rng = np.random.default_rng(1)
    dh = rng.uniform(-4, 6, 20000)
    noise = rng.normal(size=dh.size)
    errors = 10 ** (-1.0 + 0.15 * dh + 0.2 * noise)
    cal = calibrate(dh, errors, quantiles=(0.1, 0.5, 0.9))
    # log10 error = -1 + 0.15 dH + 0.2 z: the q-quantile line has intercept -1 + 0.2 z_q
    from scipy.stats import norm

    for q in (0.1, 0.5, 0.9):
        a, b = cal.fits[q]
        assert a == pytest.approx(-1 + 0.2 * norm.ppf(q), abs=0.02)
        assert b == pytest.approx(0.15, abs=0.005)
    assert cal.spearman > 0.9 and cal.bin_counts.sum() == dh.size
    assert np.all(np.diff(cal.bin_quantiles[:, 1]) > 0)  # medians rise with dH
    unrelated = calibrate(dh, rng.permutation(errors))
    assert abs(unrelated.spearman) < 0.05


def test_calibration_rejects_bad_input():
    with pytest.raises(InvalidInputError, match="errors have"):
        calibrate([1, 2, 3], [1, 2])
    with pytest.raises(InvalidInputError, match=">= 0"):
        calibrate([1, 2, 3], [1, -2, 3])
    with pytest.raises(InvalidInputError, match="non-zero"):
        calibrate([1, 2, 3, 4], [0, 0, 0, 1])


# -- command line ------------------------------------------------------------------------


def _ok(result):
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def files(tmp_path, heating):
    train = tmp_path / "train.xyz"
    traj = tmp_path / "traj.xyz"
    write(train, heating[:8])
    write(traj, heating[8:60:4])
    return train, traj


def test_cli_uncertainty_outputs(tmp_path, files, cold_estimator, heating):
    train, traj = files
    out = tmp_path / "out.xyz"
    table = tmp_path / "frames.csv"
    js = tmp_path / "frames.json"
    flagged = tmp_path / "flagged.xyz"
    result = _ok(CliRunner().invoke(cli, [
        "uncertainty", str(traj), "-r", str(train), "-o", str(out), "-o", str(table),
        "-o", str(js), "--flagged", str(flagged), "--plot", str(tmp_path / "uq.png"), "-q"]))
    assert "frames flagged" in result.output and "most novel frames" in result.output
    written = read(out, index=":")
    expected = cold_estimator.differential_entropy(heating[8:60:4])
    np.testing.assert_allclose(np.concatenate([a.arrays["dH"] for a in written]), expected,
                               rtol=1e-7, atol=1e-7)  # extxyz keeps 8 significant digits
    assert "dH_max" in written[0].info
    # per-atom EMT energies (read back as calculator results) travel with the frame
    assert np.allclose(written[0].get_potential_energies(), heating[8].get_potential_energies())
    rows = json.loads(js.read_text())["rows"]
    lines = table.read_text().splitlines()
    assert len(lines) == len(rows) + 1 == 14
    hot = [i for i, r in enumerate(rows) if r["flagged"]]
    assert len(read(flagged, index=":")) == len(hot) > 0
    assert (tmp_path / "uq.png").stat().st_size > 0


def test_cli_uncertainty_index_cache(tmp_path, files):
    train, traj = files
    idx = tmp_path / "train.idx"
    first = _ok(CliRunner().invoke(cli, ["uncertainty", str(traj), "-r", str(train), "--index",
                                         str(idx), "--method", "approx", "-q"]))
    assert idx.exists()
    second = _ok(CliRunner().invoke(cli, ["uncertainty", str(traj), "--index", str(idx), "-q"]))
    assert first.output == second.output
    bad = CliRunner().invoke(cli, ["uncertainty", str(traj), "--index", str(idx), "-k", "16"])
    assert bad.exit_code == 2 and "k=32, not 16" in bad.output
    write(train, read(train, index=":4"))  # the reference changed since the index was built
    stale = CliRunner().invoke(cli, ["uncertainty", str(traj), "-r", str(train), "--index",
                                     str(idx)])
    assert stale.exit_code == 2 and "remove it to rebuild" in stale.output
    idx.write_bytes(idx.read_bytes()[:100])
    corrupt = CliRunner().invoke(cli, ["uncertainty", str(traj), "--index", str(idx)])
    assert corrupt.exit_code == 2 and "not a readable quests index" in corrupt.output


def test_cli_uncertainty_calibration(tmp_path, files, heating):
    train, traj = files
    frames = read(traj, index=":")
    for atoms in frames:  # a "model" whose error grows with disorder
        energies = atoms.get_potential_energies()
        atoms.arrays["model_energies"] = energies + 0.01 * np.abs(energies - energies.mean())
    write(traj, frames)
    js = tmp_path / "cal.json"
    result = _ok(CliRunner().invoke(cli, [
        "uncertainty", str(traj), "-r", str(train), "--errors", "model_energies:energies",
        "-o", str(js), "-q"]))
    assert "Spearman" in result.output
    record = json.loads(js.read_text())
    cal = record["calibration"]
    assert cal["n_atoms"] + cal["n_excluded"] == 13 * 108
    # the bandwidth that ranks these errors best, found by recomputing dH at each candidate
    scan = record["bandwidth_scan"]
    assert "the bandwidth that ranks these errors best: h = " in result.output
    assert scan["best_spearman"] == max(scan["spearman"]) >= scan["used_spearman"] - 1e-12
    assert scan["used_spearman"] == pytest.approx(cal["spearman"])
    X = compute_descriptors(read(train, index=":"))
    test_x = compute_descriptors(frames)
    from scipy.stats import spearmanr
    errors = np.concatenate([np.abs(a.arrays["model_energies"] - a.get_potential_energies())
                             for a in frames])
    h = scan["best_bandwidth"]
    direct = spearmanr(differential_entropy(test_x, X, h), errors)[0]
    # (the errors went through the extxyz text in between: ranks of near-ties may swap)
    assert scan["spearman"][scan["candidates"].index(h)] == pytest.approx(direct, abs=1e-4)


def test_cli_constant_errors_rank_nothing(tmp_path, files):
    """Constant errors: Spearman 0 at every bandwidth and no 'best' bandwidth, no failure."""
    train, traj = files
    frames = read(traj, index=":")
    for atoms in frames:
        atoms.arrays["model_error"] = np.full(len(atoms), 0.1)
    write(traj, frames)
    js = tmp_path / "cal.json"
    result = _ok(CliRunner().invoke(cli, [
        "uncertainty", str(traj), "-r", str(train), "--errors", "model_error", "-o", str(js),
        "-q"]))
    assert "ranks these errors best" not in result.output
    scan = json.loads(js.read_text())["bandwidth_scan"]
    assert scan["best_bandwidth"] is None and set(scan["spearman"]) == {0.0}


@pytest.mark.parametrize("case, message", [
    ("no_reference", "--reference"),
    ("empty_reference", "empty.xyz is empty"),
    ("nan_frame", "frame 1 has NaN"),
    ("missing_key", "no per-atom array 'nope'"),
    ("bad_suffix", "unsupported suffix"),
    ("npz_settings", "k=16, not 32"),
])
def test_cli_uncertainty_bad_input(tmp_path, files, heating, case, message):
    train, traj = files
    args = ["uncertainty", str(traj), "-r", str(train)]
    if case == "no_reference":
        args = ["uncertainty", str(traj)]
    elif case == "empty_reference":
        empty = tmp_path / "empty.xyz"
        empty.write_text("")
        args[-1] = str(empty)
    elif case == "nan_frame":
        frames = heating[:3]
        bad = frames[1].copy()
        bad.positions[0] = np.nan
        write(traj, [frames[0], bad, frames[2]])
    elif case == "missing_key":
        args += ["--errors", "nope"]
    elif case == "bad_suffix":
        args += ["-o", str(tmp_path / "x.txt")]
    elif case == "npz_settings":
        npz = tmp_path / "ref.npz"
        _ok(CliRunner().invoke(cli, ["descriptors", str(train), "-k", "16", "-o", str(npz),
                                     "-q"]))
        args = ["uncertainty", str(traj), "-r", str(npz), "-k", "32"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("\n") == 1


def test_cli_dh_and_overlap(tmp_path, files, heating):
    train, traj = files
    npz = tmp_path / "dh.npz"
    _ok(CliRunner().invoke(cli, ["dh", str(traj), str(train), "-o", str(npz), "-q"]))
    x, y = compute_descriptors(heating[:8]), compute_descriptors(heating[8:60:4])
    expected = differential_entropy(y, x)
    np.testing.assert_allclose(np.load(npz)["dH"], expected, rtol=1e-7, atol=1e-7)
    xyz = tmp_path / "dh.xyz"
    _ok(CliRunner().invoke(cli, ["dh", str(traj), str(train), "-o", str(xyz), "-q"]))
    np.testing.assert_allclose(np.concatenate([a.arrays["dH"] for a in read(xyz, ":")]),
                               expected, rtol=1e-7, atol=1e-7)
    js = tmp_path / "ov.json"
    result = _ok(CliRunner().invoke(cli, ["overlap", str(traj), str(train), "-b", "0.015",
                                          "-b", "0.05", "-o", str(js), "-q"]))
    assert result.output.count("overlap(") == 2
    values = json.loads(js.read_text())["overlap"]
    assert values[0] == pytest.approx(np.mean(expected <= 0), abs=1e-12)
    assert values[1] >= values[0]
