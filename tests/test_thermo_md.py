"""quests.thermo on real MD (LAMMPS, EAM Cu_u3; scripts/make_thermo_md.py), checked against CNA.

CNA labels come with the data: ``cna`` is LAMMPS ``compute cna/atom`` on the
instantaneous positions (cutoff 3.10 Å), ``cna_min`` the same on each
frame's energy-minimised inherent structure, which tells crystal from
liquid at any temperature (1 fcc, 2 hcp, 3 bcc, 4 ico, 5 other).
"""

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write
from click.testing import CliRunner

from quests.cli import cli
from quests.data import trajectory_files
from quests.io import read_structures
from quests.thermo import (
    NucleationAnalysis,
    PhaseClassifier,
    TrajectoryEntropy,
    common_neighbor_analysis,
    phase_boundary,
    phase_states,
)

FILES = trajectory_files()


def _crystal_fraction(atoms, key="cna_min"):
    return float(np.isin(atoms.arrays[key], (1, 2)).mean())


@pytest.fixture(scope="module")
def melting():
    return read_structures(FILES["cu_melting"])


@pytest.fixture(scope="module")
def quench():
    return read_structures(FILES["cu_quench"])


@pytest.fixture(scope="module")
def references():
    return {"solid": read_structures(FILES["cu_solid_ref"]),
            "liquid": read_structures(FILES["cu_liquid_ref"])}


@pytest.fixture
def runner():
    return CliRunner()


def test_our_cna_equals_lammps_cna_atom(melting, quench):
    """The package's conventional CNA reproduces LAMMPS compute cna/atom atom by atom."""
    for atoms in melting[::10] + quench[::10]:
        ours = common_neighbor_analysis(atoms, cutoff=3.10)
        assert (ours == atoms.arrays["cna"]).mean() >= 0.998


def test_melting_event_where_the_crystal_collapses(melting):
    """Issue 5: H(t) of a crystal heated through melting rises at the melting event, and the
    detected event lies within a few frames of where CNA says the crystal fraction collapses."""
    crystal = np.array([_crystal_fraction(a) for a in melting])
    collapse = int(np.flatnonzero(crystal < 0.5)[0])
    assert crystal[:collapse].min() > 0.95 and crystal[collapse] < 0.1
    result = TrajectoryEntropy(bandwidth="volume").run(melting).results
    assert len(result.events) == 1
    event = result.events[0]
    assert abs(event.frame - collapse) <= 2 and event.jump > 0
    h = result.entropy
    # H rises at the event by far more than its frame-to-frame noise on either side
    step = h[event.frame:event.frame + 3].mean() - h[event.frame - 3:event.frame].mean()
    noise = max(np.std(np.diff(h[event.frame - 15:event.frame - 1])),
                np.std(np.diff(h[event.frame + 1:event.frame + 15])))
    assert step > 3 * noise and step > 0.25
    # at a fixed bandwidth dH finds the same event
    fixed = TrajectoryEntropy(bandwidth=0.015).run(melting).results
    assert [abs(e.frame - collapse) <= 2 for e in fixed.events] == [True]


def _agreement(labels, frames, solid=0):
    """Fraction of atoms where 'solid' (dH) and fcc/hcp (CNA of the inherent structure) agree."""
    ours = np.concatenate([lab == solid for lab in labels])
    cna = np.concatenate([np.isin(a.arrays["cna_min"], (1, 2)) for a in frames])
    return float((ours == cna).mean())


def test_phase_labels_agree_with_cna_on_clear_frames(references, melting, quench):
    """Issue 5: labels from dH agree with CNA on >= 95 % of atoms of clearly crystal or clearly
    liquid frames. References: half of the 800 K solid and liquid sets; tested on the held-out
    halves, the undercooled liquid before it nucleates, and the heating run's crystal below
    1000 K and its melt."""
    held = {name: frames[:4] for name, frames in references.items()}
    classifier = PhaseClassifier(held).fit()
    clear = [a for a in references["solid"][4:] + references["liquid"][4:]]
    clear += [a for a in quench if _crystal_fraction(a) <= 0.05]
    clear += [a for a in melting if (_crystal_fraction(a) >= 0.95 and a.info["target_K"] <= 1000)
              or _crystal_fraction(a) <= 0.05]
    assert len(clear) > 40
    result = classifier.run(clear).results
    per_frame = [_agreement([lab], [a]) for lab, a in zip(result.labels, clear)]
    assert _agreement(result.labels, clear) >= 0.95
    assert min(per_frame) >= 0.9
    # without neighbour averaging single-frame noise costs accuracy, but stays useful
    plain = PhaseClassifier(held, average_neighbors=False).fit().run(clear).results
    assert 0.8 < _agreement(plain.labels, clear) < _agreement(result.labels, clear)


def test_quench_crystallises_and_n_max_grows(references, quench):
    """Issue 5: a quench that crystallises: n_max(t) grows from ~0 to most of the box, and
    the onset follows CNA's crystal fraction."""
    classifier = PhaseClassifier(references).fit()
    result = NucleationAnalysis(classifier, onset_size=50).run(quench).results
    n_atoms = len(quench[0])
    assert result.n_max[:5].max() <= 0.05 * n_atoms
    assert result.n_max[-5:].min() >= 0.8 * n_atoms
    crystal = np.array([_crystal_fraction(a) for a in quench])
    cna_onset = int(np.flatnonzero(crystal > 0.1)[0])
    assert abs(result.onset - cna_onset) <= 5
    assert result.n_max[-1] <= result.n_solid[-1] <= n_atoms
    assert result.distribution["n"].min() >= 1


@pytest.mark.slow
def test_cu_phase_boundary_from_information_entropy():
    """Issue 5: the Cu (EAM Cu_u3) estimate, printed for docs/benchmarks.md beside the
    potential's coexistence melting point (scripts/coexistence_melting.py: 1310 +- 30 K)."""
    frames = read_structures(FILES["cu_coexist_phases"])
    solid = phase_states([a for a in frames if a.info["phase"] == "solid"], "solid")
    liquid = phase_states([a for a in frames if a.info["phase"] == "liquid"], "liquid")
    (boundary,) = phase_boundary(solid, liquid)
    # the liquid is higher in energy, volume and information entropy at every T
    assert np.all(boundary.dU > 0.09) and np.all(boundary.dV > 0.3) and np.all(boundary.dH > 0.4)
    assert np.all(np.isfinite(boundary.temperature_estimates))
    print(f"\nCu_u3: dH = {boundary.dH.round(3)} nats, dU = {boundary.dU.round(4)} eV, "
          f"(dU + P dV)/(kB dH) = {boundary.temperature_estimates.round(0)} K, fit root "
          f"{boundary.coexistence_temperature:.0f} +- "
          f"{boundary.coexistence_temperature_error:.0f} K")


# -- command line on the MD data ------------------------------------------------------------
def test_cli_trajectory_phases_nucleation_boundary(runner, tmp_path):
    melt = FILES["cu_melting"] + "@40:70"
    result = runner.invoke(cli, ["trajectory", melt, "-b", "volume", "-q",
                                 "-o", str(tmp_path / "t.json"), "-o", str(tmp_path / "t.xyz"),
                                 "--plot", str(tmp_path / "t.png")])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "t.json").read_text())
    assert [e["frame"] for e in doc["events"]] == [17] and len(doc["rows"]) == 30
    assert "dH" in read_structures(str(tmp_path / "t.xyz"))[0].arrays
    phases = ["--phase", "solid=" + FILES["cu_solid_ref"], "--phase",
              "liquid=" + FILES["cu_liquid_ref"]]
    result = runner.invoke(cli, ["phases", FILES["cu_quench"] + "@::10", *phases, "-q",
                                 "-o", str(tmp_path / "p.xyz"), "-o", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    labelled = read_structures(str(tmp_path / "p.xyz"))
    assert set(labelled[0].arrays["phase"]) <= {"solid", "liquid"}
    assert labelled[-1].info["fraction_solid"] > 0.9 > labelled[0].info["fraction_liquid"] - 0.1
    result = runner.invoke(cli, ["nucleation", FILES["cu_quench"] + "@::4", *phases, "-q",
                                 "-o", str(tmp_path / "n.json"), "--plot",
                                 str(tmp_path / "n.png")])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "n.json").read_text())
    assert doc["n_max"][-1] > 400 and doc["onset"] is not None
    coexist = FILES["cu_coexist_phases"]
    result = runner.invoke(cli, ["phase-boundary", "--phase", f"solid={coexist}", "--phase",
                                 f"liquid={coexist}", "--phase-key", "phase", "-q", "-o",
                                 str(tmp_path / "b.json"), "--plot", str(tmp_path / "b.png")])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "b.json").read_text())
    assert doc["boundaries"][0]["temperatures"] == [1200.0, 1300.0, 1500.0]
    assert "coexistence temperature" in result.output
    for name in ("t.png", "n.png", "b.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_cli_bad_input(runner, tmp_path):
    phases = ["--phase", "solid=" + FILES["cu_solid_ref"], "--phase",
              "liquid=" + FILES["cu_liquid_ref"]]
    quench = FILES["cu_quench"] + "@0:2"
    empty = tmp_path / "empty.xyz"
    empty.write_text("")
    result = runner.invoke(cli, ["phases", quench, "--phase", f"solid={empty}", "--phase",
                                 "liquid=" + FILES["cu_liquid_ref"]])
    assert result.exit_code == 2 and "empty.xyz" in result.output
    al = tmp_path / "al.xyz"
    write(al, bulk("Al", "fcc", a=4.05, cubic=True) * (3, 3, 3))
    result = runner.invoke(cli, ["phases", str(al), *phases])
    assert result.exit_code == 2 and "species [13]" in result.output
    result = runner.invoke(cli, ["phases", quench, "--phase", "solid=" + FILES["cu_solid_ref"]])
    assert result.exit_code == 2 and "two reference phases" in result.output
    result = runner.invoke(cli, ["phases", quench, "--phase", "solid"])
    assert result.exit_code == 2 and "NAME=FILE" in result.output
    # frames without energies where the phase boundary needs them
    bare = tmp_path / "bare.xyz"
    frames = read_structures(FILES["cu_solid_ref"])
    for a in frames:
        a.info.pop("energy_eV")
    write(bare, frames)
    result = runner.invoke(cli, ["phase-boundary", "--phase", f"solid={bare}", "--phase",
                                 "liquid=" + FILES["cu_liquid_ref"]])
    assert result.exit_code == 2 and "carries no potential energy" in result.output
    result = runner.invoke(cli, ["phase-boundary", "--phase", f"solid={al}", "--phase",
                                 "liquid=" + FILES["cu_liquid_ref"]])
    assert result.exit_code == 2 and "different species" in result.output
    result = runner.invoke(cli, ["phase-boundary", "--phase", "solid=" + FILES["cu_solid_ref"],
                                 "--phase", "liquid=" + FILES["cu_liquid_ref"]])
    assert result.exit_code == 2 and "share fewer than two" in result.output
    # an unwritable or existing output fails before any work, and nothing is half-written
    result = runner.invoke(cli, ["trajectory", quench, "-o", str(tmp_path / "no" / "t.json")])
    assert result.exit_code == 2 and "does not exist" in result.output
    existing = tmp_path / "t.csv"
    existing.write_text("keep")
    result = runner.invoke(cli, ["trajectory", quench, "-o", str(existing)])
    assert result.exit_code == 2 and existing.read_text() == "keep"
    result = runner.invoke(cli, ["trajectory", quench, "-b", "wide"])
    assert result.exit_code == 2 and "'volume'" in result.output
    result = runner.invoke(cli, ["trajectory", FILES["cu_quench"] + "@0:3"])
    assert result.exit_code == 2 and "reference window needs 5" in result.output
    nan = tmp_path / "nan.xyz"
    bad = read_structures(FILES["cu_solid_ref"] + "@0:6")
    bad[5].positions[0, 0] = np.nan
    write(nan, bad)
    result = runner.invoke(cli, ["trajectory", str(nan)])
    assert result.exit_code == 2 and "frame 5" in result.output


def test_batches_of_any_size_give_the_same_results(melting, references):
    """Streaming in small batches (several per run, a reference window spanning two) equals
    one batch holding everything."""
    frames = melting[:24]
    whole = TrajectoryEntropy(bandwidth="volume").run(frames).results
    small = TrajectoryEntropy(bandwidth="volume")
    small.chunk_atoms = 600  # three 256-atom frames: the 5-frame reference waits for a second
    small = small.run(iter(frames)).results  # a lazy iterator, as from iter_structures
    assert whole.rows == small.rows and whole.n_reference == small.n_reference == 5 * 256
    classifier = PhaseClassifier(references).fit()
    whole = NucleationAnalysis(classifier, onset_size=5).run(frames).results
    analysis = NucleationAnalysis(classifier, onset_size=5)
    analysis.chunk_atoms = 1
    small = analysis.run(frames).results
    assert whole.rows == small.rows and whole.onset == small.onset


# -- LAMMPS dumps and thermo logs (tests/data/lammps_cu, scripts/make_lammps_fixture.py) -----
LAMMPS = __import__("pathlib").Path(__file__).parent / "data" / "lammps_cu"


def test_lammps_thermo_log_reader_keeps_the_last_run_of_each_step():
    from quests.io import ReadError, read_lammps_thermo

    rows = read_lammps_thermo(LAMMPS / "solid_1200.log")
    # the equilibration printed step 0 with other columns; the production run reset it
    assert sorted(rows) == [0, 250, 500, 750, 1000, 2000]
    assert rows[0]["v_target"] == 1200.0 and rows[1000]["PotEng"] == pytest.approx(-362.84732)
    assert "PotEng" not in rows[2000] and rows[2000]["E_pair"] == pytest.approx(-367.17447)
    with pytest.raises(ReadError, match="no LAMMPS thermo output"):
        read_lammps_thermo(LAMMPS / "solid_1200.dump")


def test_cli_phase_boundary_from_lammps_dumps_and_logs(runner, tmp_path):
    args = ["phase-boundary", "--format", "lammps-dump-text", "--temperature-key", "v_target"]
    for phase in ("solid", "liquid"):
        for t in (1200, 1300):
            args += ["--phase", f"{phase}={LAMMPS / f'{phase}_{t}.dump'}",
                     "--thermo", f"{phase}={LAMMPS / f'{phase}_{t}.log'}"]
    result = runner.invoke(cli, args + ["-q", "-o", str(tmp_path / "b.csv")])
    assert result.exit_code == 0, result.output
    table = (tmp_path / "b.csv").read_text().splitlines()
    assert table[0].startswith("pressure_GPa,T_K,dU_eV") and len(table) == 3
    # energies per atom from the logs' PotEng over the dumped steps
    frames = read_structures(str(LAMMPS / "solid_1200.dump"), format="lammps-dump-text")
    from quests.io import read_lammps_thermo

    rows = read_lammps_thermo(LAMMPS / "solid_1200.log")
    from quests.thermo import attach_thermo

    attach_thermo(frames, rows)
    states = phase_states(frames, "solid", temperature_key="v_target")
    assert states[0].energy == pytest.approx(np.mean([rows[s]["PotEng"] for s in
                                                      (0, 250, 500, 750, 1000)]) / 108)
    # one log too few, and a dump without thermo output
    result = runner.invoke(cli, args[:-2] + ["-q"])
    assert result.exit_code == 2 and "give one log per file" in result.output
    bare = ["phase-boundary", "--format", "lammps-dump-text",
            "--phase", f"solid={LAMMPS / 'solid_1200.dump'}",
            "--phase", f"liquid={LAMMPS / 'liquid_1200.dump'}"]
    result = runner.invoke(cli, bare)  # a dump alone has neither temperature nor energy
    assert result.exit_code == 2 and "carries no temperature" in result.output
    short = tmp_path / "short.log"
    short.write_text("Step Temp PotEng\n0 1200 -360\n")
    result = runner.invoke(cli, bare + ["--thermo", f"solid={short}", "--thermo",
                                        f"liquid={LAMMPS / 'liquid_1200.log'}"])
    assert result.exit_code == 2 and "step 250 is not in" in result.output


def test_cnt_fit_on_an_undercooled_liquid_that_stays_liquid():
    """The steady-state cluster-size distribution of a 256-atom liquid at 1100 K (120 frames)
    gives a CNT fit with positive dmu and sigma and finite uncertainties; no onset."""
    frames = read_structures(FILES["cu_undercooled"])
    group = {name: [a for a in frames if a.info["phase"] == name]
             for name in ("trajectory", "solid", "liquid_ref")}
    classifier = PhaseClassifier({"solid": group["solid"],
                                  "liquid": group["liquid_ref"]}).fit()
    result = NucleationAnalysis(classifier, onset_size=50).run(group["trajectory"]).results
    assert result.onset is None and result.n_max.max() < 50
    assert result.temperature == pytest.approx(1100.0)  # thermostat target, from the frames
    fit = result.cnt
    assert fit is not None and fit.sizes.size >= 6
    assert fit.dmu > 3 * fit.dmu_error > 0 and fit.sigma > 3 * fit.sigma_error > 0
    assert 1 < fit.n_critical < 50 and fit.barrier > 0 and 0.1 < fit.chi2_dof < 3
    # the fitted curve passes through the points within their errors, on the whole
    residual = (fit.free_energy - fit.free_energy_of(fit.sizes)) / fit.free_energy_error
    assert np.abs(residual).max() < 3


def test_an_unchanging_liquid_has_no_events():
    """The reference window is measured against itself without its own frames, so a liquid
    that stays liquid gives no event at the window's end (at either bandwidth)."""
    frames = [a for a in read_structures(FILES["cu_undercooled"])
              if a.info["phase"] == "trajectory"][:60]
    for bandwidth in (0.015, "volume"):
        result = TrajectoryEntropy(bandwidth=bandwidth).run(frames).results
        assert result.events == []
        window, later = result.mean_dh[:5], result.mean_dh[5:]
        assert abs(window.mean() - later.mean()) < 3 * later.std()


def test_lammps_log_with_warnings_between_thermo_rows(tmp_path):
    from quests.io import read_lammps_thermo

    log = tmp_path / "log.lammps"
    log.write_text("Step Temp PotEng\n0 300 -10.5\n100 301 -10.4\n"
                   "WARNING: Too many neighbors (src/npair.cpp:1)\n200 302 -10.3\n"
                   "Loop time of 0.1 on 1 procs\n300 1 1\n")
    assert sorted(read_lammps_thermo(log)) == [0, 100, 200]


def test_cli_mismatched_species_and_bad_cnt_parameters(runner, tmp_path):
    al = tmp_path / "al.xyz"
    write(al, [bulk("Al", "fcc", a=4.05, cubic=True) * (3, 3, 3)] * 6)
    result = runner.invoke(cli, ["trajectory", str(al), "-r", FILES["cu_solid_ref"]])
    assert result.exit_code == 2 and "species [13]" in result.output
    phases = ["--phase", "solid=" + FILES["cu_solid_ref"], "--phase",
              "liquid=" + FILES["cu_liquid_ref"]]
    for option, value in (("--temperature", "-5"), ("--min-count", "0"),
                          ("--onset-size", "0"), ("--solid", "ice")):
        result = runner.invoke(cli, ["nucleation", FILES["cu_quench"] + "@0:2", *phases,
                                     option, value])
        assert result.exit_code == 2 and result.output.startswith("error:"), result.output
