"""Atoms of a species the reference never saw are novel, never covered.

Issue 15, class 3: the descriptor does not hold the centre atom's species, so
an Ni atom among Cu neighbours looks like a Cu atom to a pure-Cu reference
and got a finite dH. Such atoms now get dH = +inf (counted novel) with one
warning, in the library (``UncertaintyEstimator``, the trajectory run, the
ASE monitor) and in ``quests uncertainty``, ``quests dh`` and ``quests
overlap``, whether the reference is a structure file, a descriptor file or a
cached index. ``--frames`` selects frames of the trajectory only, and a
cached index built from other reference frames is refused.
"""

import json
import warnings

import ase.io
import numpy as np
import pytest
from click.testing import CliRunner

from quests import QuestsWarning
from quests.cli import cli
from quests.data import rattled_crystal
from quests.uncertainty import UncertaintyEstimator, unseen_species

N_NI = 4


def _reference():
    return [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(4)]


def _trajectory():
    frames = []
    for s in range(6):
        atoms = rattled_crystal("Cu", size=2, stdev=0.05, seed=10 + s)
        if s >= 3:
            atoms.numbers[:N_NI] = 28
        frames.append(atoms)
    return frames


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ase.io.write("ref.xyz", _reference())
    ase.io.write("traj.xyz", _trajectory())
    return tmp_path


def invoke(args):
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def test_unseen_species_mask():
    assert unseen_species([29, 28, 29, 79], [29, 79]).tolist() == [False, True, False, False]
    assert not unseen_species([28, 28], None).any()  # unknown reference species: no claim
    with pytest.warns(QuestsWarning, match="2 Ni"):
        unseen_species([28, 28, 29], [29], warn=True)


def test_estimator_marks_unseen_atoms_infinite():
    estimator = UncertaintyEstimator(_reference()).fit()
    assert estimator.reference_species_ == [29]
    frame = _trajectory()[4]
    with pytest.warns(QuestsWarning, match=f"{N_NI} Ni"):
        dh = estimator.differential_entropy(frame)
    assert np.all(np.isposinf(dh[:N_NI]))
    assert np.all(np.isfinite(dh[N_NI:]))
    # the same atoms as pure Cu: the Cu atoms keep their values (only the centre species
    # was ignored by the descriptor, so the neighbours' dH is unchanged)
    pure = frame.copy()
    pure.numbers[:] = 29
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuestsWarning)
        dh_pure = estimator.differential_entropy(pure)
    np.testing.assert_allclose(dh[N_NI:], dh_pure[N_NI:])


def test_trajectory_run_counts_unseen_atoms_once():
    estimator = UncertaintyEstimator(_reference()).fit()
    with pytest.warns(QuestsWarning) as caught:
        result = estimator.run(_trajectory())
    assert len([w for w in caught if issubclass(w.category, QuestsWarning)]) == 1
    assert result.results.unseen_species == {28: 3 * N_NI}
    rows = result.results.rows
    assert [np.isinf(r["max_dH"]) for r in rows] == [False] * 3 + [True] * 3
    assert all(r["novel_fraction"] >= N_NI / 32 for r in rows[3:])
    assert all(r["flagged"] for r in rows[3:])


def test_descriptor_reference_needs_numbers():
    frames = _reference()
    x = UncertaintyEstimator(frames).fit().descriptors_
    numbers = np.concatenate([f.numbers for f in frames])
    with_numbers = UncertaintyEstimator(x).fit(numbers=numbers)
    assert with_numbers.reference_species_ == [29]
    without = UncertaintyEstimator(x).fit()
    assert without.reference_species_ is None
    with pytest.raises(ValueError, match="one per reference row"):
        UncertaintyEstimator(x).fit(numbers=numbers[:-1])


def test_index_keeps_reference_species(tmp_path):
    estimator = UncertaintyEstimator(_reference()).fit()
    estimator.save(tmp_path / "ref.qidx")
    loaded = UncertaintyEstimator.load(tmp_path / "ref.qidx")
    assert loaded.reference_species_ == [29]


def test_monitor_flags_unseen_atoms():
    estimator = UncertaintyEstimator(_reference()).fit()
    atoms = _trajectory()[3]
    monitor = estimator.monitor(atoms)
    with pytest.warns(QuestsWarning):
        row = monitor()
    assert row["flagged"] and np.isinf(row["max_dH"])


@pytest.mark.parametrize("reference", ["ref.xyz", "ref.npz", "index"])
def test_cli_uncertainty_counts_unseen_atoms_novel(files, reference):
    args = ["uncertainty", "traj.xyz", "-o", "rows.csv", "-o", "rows.json", "-q"]
    if reference == "ref.npz":
        assert invoke(["descriptors", "ref.xyz", "-o", "ref.npz", "-q"]).exit_code == 0
        args += ["-r", "ref.npz"]
    elif reference == "index":
        assert invoke(["uncertainty", "traj.xyz@0:1", "-r", "ref.xyz", "--index", "ref.qidx",
                       "-q"]).exit_code == 0
        args += ["--index", "ref.qidx"]
    else:
        args += ["-r", "ref.xyz"]
    result = invoke(args)
    assert result.exit_code == 0, result.output
    warning_lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning_lines) == 1 and f"{3 * N_NI} Ni" in warning_lines[0]
    csv_rows = (files / "rows.csv").read_text().splitlines()[1:]
    assert [row.split(",")[2] == "inf" for row in csv_rows] == [False] * 3 + [True] * 3
    payload = json.loads((files / "rows.json").read_text())
    assert payload["unseen_species"] == {"28": 3 * N_NI}
    assert payload["reference_species"] == [29]


def test_cli_dh_and_overlap_count_unseen_atoms(files):
    result = invoke(["dh", "traj.xyz@3", "ref.xyz", "-o", "dh.npz", "-q"])
    assert result.exit_code == 0, result.output
    assert f"{N_NI} Ni" in result.stderr
    with np.load(files / "dh.npz") as data:
        dh = data["dH"]
    assert np.all(np.isposinf(dh[:N_NI])) and np.all(np.isfinite(dh[N_NI:]))

    # overlap of frame 3 = covered Cu atoms / all atoms; the Ni atoms are never covered
    result = invoke(["overlap", "traj.xyz@3", "ref.xyz", "-o", "o.json", "-q"])
    assert result.exit_code == 0, result.output
    value = json.loads((files / "o.json").read_text())["overlap"][0]
    assert value == pytest.approx(np.mean(dh <= 0.0))
    assert value <= 1 - N_NI / 32


def test_cli_reference_without_species_is_said(files):
    from quests.io import read_descriptors

    assert invoke(["descriptors", "ref.xyz", "-o", "full.npz", "-q"]).exit_code == 0
    x, meta, frames = read_descriptors(files / "full.npz")
    np.savez(files / "bare.npz", descriptors=x, metadata=np.array(json.dumps(meta)),
             structure_index=frames)
    result = invoke(["uncertainty", "traj.xyz", "-r", "bare.npz", "-q"])
    assert result.exit_code == 0
    assert "does not record its atoms' species" in result.stderr


def test_frames_select_the_trajectory_only(files):
    """--frames slices TRAJ; the reference is read whole (or by its own @SLICE)."""
    whole = invoke(["uncertainty", "traj.xyz", "-r", "ref.xyz", "-o", "a.json", "-q"])
    sliced = invoke(["uncertainty", "traj.xyz", "--frames", "0:2", "-r", "ref.xyz",
                     "-o", "b.json", "-q"])
    assert whole.exit_code == sliced.exit_code == 0
    a = json.loads((files / "a.json").read_text())["rows"]
    b = json.loads((files / "b.json").read_text())["rows"]
    assert len(b) == 2
    # the same reference (all four frames) judged both: identical values per frame
    assert [r["max_dH"] for r in b] == [r["max_dH"] for r in a[:2]]


def test_index_cache_refuses_other_reference_frames(files):
    first = invoke(["uncertainty", "traj.xyz", "-r", "ref.xyz@0:1", "--index", "ref.qidx",
                    "-q"])
    assert first.exit_code == 0
    again = invoke(["uncertainty", "traj.xyz", "-r", "ref.xyz", "--index", "ref.qidx", "-q"])
    assert again.exit_code == 2
    assert again.stderr.startswith("error:") and "ref.xyz@0:1" in again.stderr
    other_format = invoke(["uncertainty", "traj.xyz", "-r", "ref.xyz@0:1", "--format",
                           "extxyz", "--index", "ref.qidx", "-q"])
    assert other_format.exit_code == 2 and "--format" in other_format.stderr


def test_calibration_without_atoms_of_known_species_is_refused_before_any_output(files):
    """--errors on a trajectory of unseen species only: refused in one line before any
    table is printed or any output written (it printed the table, then failed)."""
    frames = _trajectory()[:2]
    for atoms in frames:
        atoms.numbers[:] = 28
        atoms.arrays["force_error"] = np.linspace(0.01, 0.2, len(atoms))
    ase.io.write("ni.xyz", frames)
    result = invoke(["uncertainty", "ni.xyz", "-r", "ref.xyz", "--errors", "force_error",
                     "-o", "out.xyz", "-o", "rows.csv", "-q"])
    assert result.exit_code == 2
    assert result.stdout == "" and result.stderr.splitlines()[-1].startswith("error: --errors")
    assert len(result.stderr.splitlines()) == 1
    assert not (files / "out.xyz").exists() and not (files / "rows.csv").exists()
