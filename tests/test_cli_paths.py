"""No command replaces one of its inputs, and no two outputs of one command share a file.

Issue 15, class 1 (data loss): every command, with and without --overwrite,
an output naming an input (the same path, another spelling of it, or a link
to it), and two outputs naming one file. Each is refused before any work
with one ``error:`` line and status 2, and the input is left byte for byte.
"""

import hashlib
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from quests.cli import cli
from quests.data import demo_files

FE3PT = Path(__file__).resolve().parents[2] / "shared" / "data" / "fe3pt"


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(demo_files()["cu_300K"], tmp_path / "t.xyz")
    shutil.copy(demo_files()["cu_900K"], tmp_path / "g.xyz")
    (tmp_path / "folder").mkdir()
    (tmp_path / "data.csv").write_text("x,T,F\n")
    (tmp_path / "model.pt").write_bytes(b"not a model")
    return tmp_path


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# (command line with OUT where the output goes, the input that OUT names)
CASES = {
    "entropy": (["entropy", "t.xyz", "-o", "OUT"], "t.xyz"),
    "descriptors": (["descriptors", "t.xyz", "-o", "OUT"], "t.xyz"),
    "uncertainty": (["uncertainty", "t.xyz", "-r", "g.xyz", "-o", "OUT"], "g.xyz"),
    "uncertainty-index": (["uncertainty", "t.xyz", "-r", "g.xyz", "--index", "OUT"], "g.xyz"),
    "dh": (["dh", "t.xyz", "g.xyz", "-o", "OUT"], "t.xyz"),
    "overlap": (["overlap", "t.xyz", "g.xyz", "-o", "OUT"], "g.xyz"),
    "compress": (["compress", "t.xyz", "-s", "3", "-o", "OUT"], "t.xyz"),
    "select": (["select", "t.xyz", "-r", "g.xyz", "-n", "2", "-o", "OUT"], "g.xyz"),
    "learning-curve": (["learning-curve", "t.xyz", "-o", "OUT"], "t.xyz"),
    "active-learning": (["active-learning", "t.xyz", "g.xyz", "-o", "OUT"], "g.xyz"),
    "trajectory": (["trajectory", "t.xyz@0:5", "--plot", "OUT"], "t.xyz"),
    "phases": (["phases", "t.xyz", "--phase", "a=g.xyz", "--phase", "b=t.xyz", "-o", "OUT"],
               "g.xyz"),
    "nucleation": (["nucleation", "t.xyz", "--phase", "solid=g.xyz", "--phase", "liquid=t.xyz",
                    "-o", "OUT"], "t.xyz"),
    "phase-boundary": (["phase-boundary", "--phase", "a=g.xyz", "--phase", "b=t.xyz",
                        "--line", "OUT"], "g.xyz"),
    "zentropy": (["zentropy", "folder=2", "-o", "OUT"], "folder"),
    "zenn-fit": (["zenn", "fit", "data.csv", "-o", "OUT"], "data.csv"),
    "zenn-predict": (["zenn", "predict", "model.pt", "-o", "OUT"], "model.pt"),
    "zenn-classify": (["zenn", "classify", "t.xyz", "--train", "g.xyz", "--label", "cna",
                       "--temperature-key", "T", "-o", "OUT"], "g.xyz"),
    "zenn-classify-model": (["zenn", "classify", "t.xyz", "--train", "g.xyz", "--label", "cna",
                             "--temperature-key", "T", "--save-model", "OUT"], "g.xyz"),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
@pytest.mark.parametrize("spelling", ["same", "dotted", "link"])
def test_an_output_never_names_an_input(files, name, overwrite, spelling):
    args, target = CASES[name]
    if spelling == "same":
        out = target
    elif spelling == "dotted":
        out = f"./{target}"
    else:
        out = "link"
        (files / "link").symlink_to(files / target)
    before = {p.name: digest(p) for p in files.iterdir() if p.is_file()}
    argv = [out if a == "OUT" else a for a in args] + (["--overwrite"] if overwrite else [])
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: output "), result.output
    assert "is an input" in lines[0]
    assert {p.name: digest(p) for p in files.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("argv", [
    ["uncertainty", "t.xyz", "-r", "g.xyz", "-o", "a.csv", "-o", "a.csv"],
    ["uncertainty", "t.xyz", "-r", "g.xyz", "-o", "x.xyz", "--flagged", "x.xyz"],
    ["uncertainty", "t.xyz", "-r", "g.xyz", "-o", "a.csv", "--index", "./a.csv"],
    ["phase-boundary", "--phase", "a=g.xyz", "--phase", "b=t.xyz", "--plot", "p.png",
     "--phase-diagram", "p.png"],
    ["zentropy", "folder=2", "--plot", "p.png", "--phase-diagram", "p.png"],
    ["compress", "t.xyz", "-s", "3", "-o", "k.xyz", "-o", "k.xyz"],
], ids=["two-o", "o-flagged", "o-index", "plot-diagram", "zentropy-plots", "compress-two-o"])
def test_two_outputs_never_share_a_file(files, argv):
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert result.output.strip().startswith("error: ") and "name the same file" in result.output
    assert not (files / "a.csv").exists() and not (files / "p.png").exists()


def test_an_output_inside_an_input_folder_is_fine(files):
    """Outputs next to or inside inputs are not inputs: the check compares whole paths."""
    result = CliRunner().invoke(cli, ["entropy", "t.xyz", "-q", "-o", "folder/e.json"])
    assert result.exit_code == 0, result.output
    assert (files / "folder" / "e.json").exists()


# -- absurd options (issue 15, classes 3 and 4): one error line, status 2 ----------------------

FE3PT_CONFIG = str(FE3PT / "config_0")


@pytest.mark.parametrize("argv, message", [
    (["zentropy", FE3PT_CONFIG, "--temperatures", "5:inf:5"], "must be finite"),
    (["zentropy", FE3PT_CONFIG, "--temperatures", "5:10:10"], "at least 3 temperatures"),
    (["zentropy", FE3PT_CONFIG, "--temperatures", "0:100:10"], "0 < START < STOP"),
    (["zentropy", FE3PT_CONFIG, "--temperatures", "5:1e9:1"], "at most"),
    (["zentropy", FE3PT_CONFIG, "--pressure", "nan"], "finite"),
    (["zentropy", FE3PT_CONFIG, "--pressure", "inf"], "finite"),
    (["zentropy", FE3PT_CONFIG, "--volumes", "0"], "--volumes"),
    (["zentropy", FE3PT_CONFIG, "--volumes", "1"], "--volumes"),
    (["zentropy", FE3PT_CONFIG, "--volumes", "-5"], "--volumes"),
    (["uncertainty", "t.xyz", "-r", "g.xyz", "--top", "-1"], "--top"),
    (["select", "t.xyz", "-r", "g.xyz", "-n", "2", "--top", "-1"], "--top"),
    (["entropy", "t.xyz", "--species", "999"], "1 to 118"),
    (["entropy", "t.xyz", "--species", "0"], "1 to 118"),
    (["entropy", "t.xyz", "--species", "-1"], "1 to 118"),
    (["entropy", "t.xyz", "--species", ","], "1 to 118"),
    (["entropy", "t.xyz", "--species", "29,29"], "twice"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_absurd_options_get_one_error_line(files, argv, message):
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_a_temperature_grid_never_passes_stop(files, tmp_path):
    import csv

    result = CliRunner().invoke(cli, ["zentropy", FE3PT_CONFIG, "--temperatures", "5:600:50",
                                      "-q", "-o", "z.csv"])
    assert result.exit_code == 0, result.output
    with open("z.csv") as fh:
        temperatures = [float(row["T_K"]) for row in csv.DictReader(fh)]
    assert temperatures[0] == 5 and temperatures[-1] == 555 and len(temperatures) == 12
    result = CliRunner().invoke(cli, ["zentropy", FE3PT_CONFIG, "--temperatures", "10:600:10",
                                      "-q", "-o", "y.csv"])
    with open("y.csv") as fh:
        assert float(list(csv.DictReader(fh))[-1]["T_K"]) == 600     # STOP on the grid: kept


@pytest.mark.parametrize("tail", ["108\n", "108\nLattice=\"1 0 0 0 1 0 0 0 1\"\n"],
                         ids=["count-only", "count-and-comment"])
def test_a_truncated_last_frame_is_named(files, tail):
    """A file cut inside its last frame: one line naming the file, not ase's internals."""
    cut = files / "cut.xyz"
    cut.write_text((files / "t.xyz").read_text() + tail)
    result = CliRunner().invoke(cli, ["entropy", "cut.xyz"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: cannot read cut.xyz"), lines
    assert "StopIteration" not in lines[0]
