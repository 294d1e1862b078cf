"""Every command on a corpus of bad inputs: one ``error:`` line, status 2 (issue 15).

Each case runs a command with one bad thing in it (a missing, empty,
garbage, truncated or damaged file, a folder, NaN/inf, a zero cell, no
atoms, an unknown element, huge coordinates, an absurd option, a file that
contradicts itself, a crafted index, an input named as output) and asserts
that the command says so in exactly one line that starts with ``error:``,
exits with status 2, and never reaches the last-resort handler (the suite
runs with ``QUESTS_DEBUG=1``, under which that handler re-raises, so
reaching it fails the case). Where a bad file is the point, the message
names it.
"""

import json
import pickle
import shutil
import zipfile
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms
from click.testing import CliRunner

from quests.cli import cli
from quests.data import demo_files

FE3PT = Path(__file__).resolve().parents[2] / "shared" / "data" / "fe3pt"


def _frame_text(atoms):
    from io import StringIO

    handle = StringIO()
    ase.io.write(handle, atoms, format="extxyz")
    return handle.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A folder of good and bad inputs, built once for the module."""
    d = tmp_path_factory.mktemp("corpus")
    good = ase.io.read(demo_files()["cu_300K"], ":3")
    ase.io.write(d / "t.xyz", good)
    ase.io.write(d / "g.xyz", ase.io.read(demo_files()["cu_900K"], ":3"))
    text = (d / "t.xyz").read_text()
    (d / "empty.xyz").write_text("")
    (d / "blank.xyz").write_text("\n\n   \n")
    (d / "garbage.xyz").write_text("this is not\na structure file\n")
    (d / "binary.xyz").write_bytes(bytes(range(256)) * 8)
    (d / "folder.xyz").mkdir()
    lines = text.splitlines(keepends=True)
    (d / "truncated.xyz").write_text("".join(lines[:2 * 110 + 50]))  # inside the third frame
    (d / "header_only.xyz").write_text(text + "108\n")
    # a blank line between frames (ase stops there) and a last line cut without newline
    (d / "blank_between.xyz").write_text("".join(lines[:110]) + "\n" + "".join(lines[110:]))
    (d / "cut_last.xyz").write_text(text.rstrip("\n")[:-4])
    (d / "count_only.xyz").write_text(text + "108\n" + text.splitlines()[1] + "\n")
    for name, value in (("nan", np.nan), ("inf", np.inf), ("huge", 1e11)):
        atoms = good[0].copy()
        atoms.positions[3, 1] = value
        (d / f"{name}.xyz").write_text(_frame_text(atoms))
    zero = good[0].copy()
    zero.cell[:] = 0.0
    zero.pbc = True
    (d / "zerocell.xyz").write_text(_frame_text(zero))
    (d / "noatoms.xyz").write_text(
        '0\nLattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3 pbc="T T T"\n')
    (d / "unknown.xyz").write_text(text.replace(" Cu ", " Xx ", 1).replace("\nCu ", "\nXx ", 1))
    pair = Atoms("Cu2", positions=[[0, 0, 0], [0, 0, 0]], cell=[4, 4, 4], pbc=True)
    ase.io.write(d / "overlapping.xyz", pair)

    # descriptor files: good, then contradicting their metadata, truncated, damaged
    runner = CliRunner()
    result = runner.invoke(cli, ["descriptors", str(d / "g.xyz"), "-o", str(d / "g.npz"),
                                 "-q"])
    assert result.exit_code == 0, result.output
    with np.load(d / "g.npz") as data:
        arrays = {key: np.asarray(data[key]) for key in data.files}
    meta = json.loads(str(arrays["metadata"]))

    def npz(name, **changes):
        np.savez(d / name, **{**arrays, **changes})

    npz("columns.npz", descriptors=arrays["descriptors"][:, :-2])
    npz("rows.npz", structure_index=arrays["structure_index"][:-5])
    npz("meta_k.npz", metadata=np.array(json.dumps({**meta, "k": 7})))
    npz("meta_json.npz", metadata=np.array("{not json"))
    npz("nan_rows.npz", descriptors=np.where(np.arange(arrays["descriptors"].shape[0])[:, None]
                                             == 3, np.nan, arrays["descriptors"]))
    npz("numbers.npz", numbers=np.full_like(arrays["numbers"], 500))
    npz("int_desc.npz", descriptors=arrays["descriptors"].astype(np.int64))
    raw = (d / "g.npz").read_bytes()
    (d / "cut.npz").write_bytes(raw[: len(raw) // 2])
    damaged = bytearray(raw)
    with zipfile.ZipFile(d / "g.npz") as archive:
        info = archive.getinfo("descriptors.npy")
    middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    damaged[middle:middle + 64] = b"\x00" * 64
    (d / "crc.npz").write_bytes(bytes(damaged))
    (d / "notzip.npz").write_text("plain text")
    np.savez(d / "objects.npz", descriptors=np.array([{"a": 1}], dtype=object),
             metadata=arrays["metadata"])

    # zentropy / zenn inputs
    (d / "empty.csv").write_text("")
    (d / "header.csv").write_text("volume,energy\n")
    (d / "header_zenn.csv").write_text("x,T,F\n")
    (d / "text.csv").write_text("volume,energy\nabc,def\n1,2\n3,4\n")
    (d / "nan.csv").write_text("volume,energy\n10,nan\n11,-3\n12,-3.1\n13,-3.0\n14,-2.8\n")
    (d / "zenn_nan.csv").write_text("x,T,F\n1,100,nan\n2,100,1\n1,200,0\n2,200,1\n")
    grid = [(v, t, 0.01 * (v - 12) ** 2 - 1e-4 * t) for v in range(10, 15)
            for t in (100, 200, 300)]
    (d / "zenn.csv").write_text("x,T,F\n" + "".join(f"{v},{t},{f}\n" for v, t, f in grid))
    shutil.copytree(FE3PT / "config_0", d / "config_nooszicar")
    for path in (d / "config_nooszicar" / "vol_3").iterdir():
        if path.name.startswith("OSZICAR"):
            path.unlink()
    (d / "emptydir").mkdir()
    (d / "model.pt").write_bytes(b"not a model at all")
    (d / "empty.pt").write_bytes(b"")

    # a trained model with bytes overwritten inside a weight
    result = runner.invoke(cli, ["zenn", "fit", str(d / "zenn.csv"), "--epochs", "5",
                                 "--lbfgs", "0", "--hidden", "4", "-o", str(d / "good.pt"),
                                 "-q"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(d / "good.pt") as archive:
        entry = max((i for i in archive.infolist() if "/data/" in i.filename),
                    key=lambda i: i.file_size)
    raw = bytearray((d / "good.pt").read_bytes())
    # the data follow the local header: 30 bytes, then its own name and extra field
    # lengths (little-endian at 26 and 28; torch pads the local extra field to align)
    name_length, extra_length = (int.from_bytes(raw[entry.header_offset + o:
                                                    entry.header_offset + o + 2], "little")
                                 for o in (26, 28))
    start = entry.header_offset + 30 + name_length + extra_length
    raw[start:start + 8] = bytes(255 - b for b in raw[start:start + 8])
    (d / "damaged.pt").write_bytes(bytes(raw))

    # an index whose payload is a pickle, with valid checksums (refused: its backend stores
    # no payload, and none is ever unpickled), and a garbage one
    result = runner.invoke(cli, ["uncertainty", str(d / "t.xyz"), "-r", str(d / "g.xyz"),
                                 "--method", "approx", "--backend", "pynndescent",
                                 "-m", "8", "--index", str(d / "crafted.qidx"), "-q"])
    assert result.exit_code == 0, result.output
    from test_untrusted_files import Marker, forge

    forge(d / "crafted.qidx", pickle.dumps(Marker(d / "pwned")))
    (d / "garbage.qidx").write_text("garbage")
    return d


def run(corpus, args, monkeypatch):
    monkeypatch.chdir(corpus)
    monkeypatch.setenv("QUESTS_DEBUG", "1")
    return CliRunner().invoke(cli, args)


def assert_refused(result, names=()):
    """Status 2, one line on stderr starting with ``error:``, naming each of ``names``."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"reached the last-resort handler: {result.exception!r}") \
            from result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for name in names:
        assert name in lines[0], (name, lines[0])


# --- structure files in every position a command reads one --------------------------
BAD_STRUCTURES = ["missing.xyz", "empty.xyz", "blank.xyz", "garbage.xyz", "binary.xyz",
                  "folder.xyz", "truncated.xyz", "header_only.xyz", "count_only.xyz",
                  "blank_between.xyz", "cut_last.xyz",
                  "nan.xyz", "inf.xyz", "zerocell.xyz", "noatoms.xyz",
                  "unknown.xyz", "overlapping.xyz"]

STRUCTURE_SLOTS = {
    "entropy": ["entropy", "IN"],
    "descriptors": ["descriptors", "IN", "-o", "out.npz"],
    "uncertainty-traj": ["uncertainty", "IN", "-r", "g.xyz"],
    "uncertainty-ref": ["uncertainty", "t.xyz", "-r", "IN"],
    "dh-test": ["dh", "IN", "g.xyz"],
    "dh-ref": ["dh", "t.xyz", "IN"],
    "overlap": ["overlap", "t.xyz", "IN"],
    "compress": ["compress", "IN", "-s", "2", "-o", "out.xyz"],
    "select-candidates": ["select", "IN", "-r", "g.xyz", "-n", "1"],
    "select-ref": ["select", "t.xyz", "-r", "IN", "-n", "1"],
    "learning-curve": ["learning-curve", "IN"],
    "active-learning": ["active-learning", "t.xyz", "IN"],
    "trajectory": ["trajectory", "IN"],
    "trajectory-ref": ["trajectory", "t.xyz", "-r", "IN"],
    "phases-traj": ["phases", "IN", "--phase", "a=g.xyz", "--phase", "b=t.xyz"],
    "phases-phase": ["phases", "t.xyz", "--phase", "a=IN", "--phase", "b=g.xyz"],
    "nucleation": ["nucleation", "IN", "--phase", "solid=g.xyz", "--phase", "liquid=t.xyz"],
    "phase-boundary": ["phase-boundary", "--phase", "a=IN", "--phase", "b=g.xyz"],
}


@pytest.mark.parametrize("bad", BAD_STRUCTURES)
@pytest.mark.parametrize("command", list(STRUCTURE_SLOTS))
def test_bad_structure_file(corpus, monkeypatch, command, bad):
    args = [a.replace("IN", bad) for a in STRUCTURE_SLOTS[command]]
    assert_refused(run(corpus, args + ["-q"], monkeypatch), [bad])


# --- descriptor files ------------------------------------------------------------------
BAD_DESCRIPTORS = ["columns.npz", "rows.npz", "meta_k.npz", "meta_json.npz", "nan_rows.npz",
                   "numbers.npz", "int_desc.npz", "cut.npz", "crc.npz", "notzip.npz",
                   "objects.npz", "missing.npz"]

DESCRIPTOR_SLOTS = {
    "entropy": ["entropy", "IN"],
    "uncertainty-ref": ["uncertainty", "t.xyz", "-r", "IN"],
    "dh-ref": ["dh", "g.npz", "IN"],
    "overlap-test": ["overlap", "IN", "g.npz"],
    "compress": ["compress", "IN", "-s", "2", "-o", "out.json"],
    "select-ref": ["select", "t.xyz", "-r", "IN", "-n", "1"],
}


@pytest.mark.parametrize("bad", BAD_DESCRIPTORS)
@pytest.mark.parametrize("command", list(DESCRIPTOR_SLOTS))
def test_bad_descriptor_file(corpus, monkeypatch, command, bad):
    args = [a.replace("IN", bad) for a in DESCRIPTOR_SLOTS[command]]
    assert_refused(run(corpus, args + ["-q"], monkeypatch), [bad])


# --- other file inputs ---------------------------------------------------------------------
OTHER_FILES = {
    "index-garbage": (["uncertainty", "t.xyz", "--index", "garbage.qidx"], "garbage.qidx"),
    "index-folder": (["uncertainty", "t.xyz", "--index", "folder.xyz"], "folder.xyz"),
    "zentropy-empty-csv": (["zentropy", "empty.csv", "--n-atoms", "4", "--mass", "60"],
                           "empty.csv"),
    "zentropy-header-csv": (["zentropy", "header.csv", "--n-atoms", "4", "--mass", "60"],
                            "header.csv"),
    "zentropy-text-csv": (["zentropy", "text.csv", "--n-atoms", "4", "--mass", "60"],
                          "text.csv"),
    "zentropy-nan-csv": (["zentropy", "nan.csv", "--n-atoms", "4", "--mass", "60"],
                         "nan.csv"),
    "zentropy-missing": (["zentropy", "missing.csv"], "missing.csv"),
    "zentropy-empty-folder": (["zentropy", "emptydir"], "emptydir"),
    "zentropy-no-oszicar": (["zentropy", "config_nooszicar"], "vol_3"),
    "zentropy-garbage-xyz": (["zentropy", "garbage.xyz"], "garbage.xyz"),
    "zenn-fit-empty": (["zenn", "fit", "empty.csv", "-o", "m.pt"], "empty.csv"),
    "zenn-fit-header": (["zenn", "fit", "header_zenn.csv", "-o", "m.pt"], "header_zenn.csv"),
    "zenn-fit-nan": (["zenn", "fit", "zenn_nan.csv", "-o", "m.pt"], "zenn_nan.csv"),
    "zenn-fit-garbage": (["zenn", "fit", "garbage.xyz", "-o", "m.pt"], "garbage.xyz"),
    "zenn-fit-missing": (["zenn", "fit", "missing.csv", "-o", "m.pt"], "missing.csv"),
    "zenn-predict-garbage": (["zenn", "predict", "model.pt"], "model.pt"),
    "zenn-predict-empty": (["zenn", "predict", "empty.pt"], "empty.pt"),
    "zenn-predict-missing": (["zenn", "predict", "missing.pt"], "missing.pt"),
    "zenn-predict-folder": (["zenn", "predict", "folder.xyz"], "folder.xyz"),
    "zenn-predict-damaged": (["zenn", "predict", "damaged.pt"], "damaged.pt"),
    "index-crafted": (["uncertainty", "t.xyz", "--index", "crafted.qidx"], "crafted.qidx"),
}


@pytest.mark.parametrize("case", list(OTHER_FILES))
def test_bad_other_file(corpus, monkeypatch, case):
    args, name = OTHER_FILES[case]
    assert_refused(run(corpus, args + ["-q"], monkeypatch), [name])
    assert not (corpus / "pwned").exists()  # the crafted index ran nothing


# --- absurd options ------------------------------------------------------------------------
ABSURD = {
    "entropy-k-huge": ["entropy", "t.xyz", "-k", "100000"],
    "entropy-k-zero": ["entropy", "t.xyz", "-k", "0"],
    "entropy-cutoff-nan": ["entropy", "t.xyz", "-c", "nan"],
    "entropy-bandwidth-inf": ["entropy", "t.xyz", "-b", "inf"],
    "entropy-bandwidth-nan": ["entropy", "t.xyz", "-b", "nan"],
    "entropy-species-999": ["entropy", "t.xyz", "--species", "999"],
    "entropy-species-twice": ["entropy", "t.xyz", "--species", "29,29"],
    "entropy-index-text": ["entropy", "t.xyz", "--index", "abc"],
    "entropy-jobs-zero": ["entropy", "t.xyz", "-j", "0"],
    "entropy-k-text": ["entropy", "t.xyz", "-k", "abc"],
    "entropy-no-file": ["entropy"],
    "unknown-command": ["nosuchcommand"],
    "unknown-top-option": ["--bogus"],
    "zenn-unknown-option": ["zenn", "--nope"],
    "uncertainty-top": ["uncertainty", "t.xyz", "-r", "g.xyz", "--top", "-1"],
    "uncertainty-threshold-nan": ["uncertainty", "t.xyz", "-r", "g.xyz", "-t", "nan"],
    "uncertainty-candidates": ["uncertainty", "t.xyz", "-r", "g.xyz", "-m", "0"],
    "uncertainty-frames": ["uncertainty", "t.xyz", "-r", "g.xyz", "--frames", "9:20"],
    "uncertainty-errors": ["uncertainty", "t.xyz", "-r", "g.xyz", "--errors", "nope"],
    "dh-bandwidth": ["dh", "t.xyz", "g.xyz", "-b", "-1"],
    "overlap-threshold": ["overlap", "t.xyz", "g.xyz", "-t", "inf"],
    "compress-size-zero": ["compress", "t.xyz", "-s", "0", "-o", "out.xyz"],
    "compress-size-huge": ["compress", "t.xyz", "-s", "1000000", "-o", "out.xyz"],
    "compress-size-text": ["compress", "t.xyz", "-s", "many", "-o", "out.xyz"],
    "select-n-zero": ["select", "t.xyz", "-r", "g.xyz", "-n", "0"],
    "learning-curve-sizes": ["learning-curve", "t.xyz", "--sizes", "0,1"],
    "trajectory-window": ["trajectory", "t.xyz", "--event-window", "0"],
    "trajectory-reference-frames": ["trajectory", "t.xyz", "--reference-frames", "0"],
    "phases-one-phase": ["phases", "t.xyz", "--phase", "a=g.xyz"],
    "phases-bad-spec": ["phases", "t.xyz", "--phase", "g.xyz"],
    "zentropy-temperatures-inf": ["zentropy", "config_nooszicar", "--temperatures", "5:inf:5"],
    "zentropy-temperatures-one": ["zentropy", "emptydir", "--temperatures", "5:10:10"],
    "zentropy-temperatures-zero": ["zentropy", "emptydir", "--temperatures", "0:100:5"],
    "zentropy-volumes-zero": ["zentropy", "emptydir", "--volumes", "0"],
    "zentropy-volumes-negative": ["zentropy", "emptydir", "--volumes", "-5"],
    "zentropy-volumes-one": ["zentropy", "emptydir", "--volumes", "1"],
    "zenn-predict-volumes": ["zenn", "predict", "good.pt", "--volumes", "2"],
    "zenn-predict-temperatures": ["zenn", "predict", "good.pt", "--temperatures", "5:10:10"],
    "zenn-predict-pressure": ["zenn", "predict", "good.pt", "--pressure", "inf"],
    "zentropy-pressure-nan": ["zentropy", "emptydir", "--pressure", "nan"],
    "zentropy-pressure-inf": ["zentropy", "emptydir", "--pressure", "inf"],
    "zentropy-debye-negative": ["zentropy", "zenn.csv", "--debye-scaling", "-1"],
    "zenn-fit-epochs": ["zenn", "fit", "zenn.csv", "--epochs", "-1", "-o", "m.pt"],
    "zenn-fit-hidden": ["zenn", "fit", "zenn.csv", "--hidden", "0,x", "-o", "m.pt"],
    "zenn-fit-kb": ["zenn", "fit", "zenn.csv", "--kb", "0", "-o", "m.pt"],
    "zenn-fit-configurations": ["zenn", "fit", "zenn.csv", "-K", "0", "-o", "m.pt"],
}


@pytest.mark.parametrize("case", list(ABSURD))
def test_absurd_option(corpus, monkeypatch, case):
    assert_refused(run(corpus, ABSURD[case] + ["-q"], monkeypatch))


# --- outputs that name inputs, or each other ---------------------------------------------
CLASHES = {
    "compress-input": ["compress", "t.xyz", "-s", "2", "-o", "t.xyz", "--overwrite"],
    "uncertainty-reference": ["uncertainty", "t.xyz", "-r", "g.xyz", "-o", "g.xyz",
                              "--overwrite"],
    "uncertainty-two-outputs": ["uncertainty", "t.xyz", "-r", "g.xyz", "-o", "a.csv",
                                "-o", "a.csv"],
    "uncertainty-index-is-reference": ["uncertainty", "t.xyz", "-r", "g.xyz", "--index",
                                       "g.xyz"],
    # one output accepted, two given: the first was dropped without a word
    "zentropy-two-outputs": ["zentropy", "zenn.csv", "-o", "a.json", "-o", "b.csv"],
    "entropy-two-outputs": ["entropy", "t.xyz", "-o", "a.json", "-o", "b.json"],
}


@pytest.mark.parametrize("case", list(CLASHES))
def test_output_clashes(corpus, monkeypatch, case):
    before = {p.name: p.read_bytes() for p in corpus.glob("*.xyz") if p.is_file()}
    assert_refused(run(corpus, CLASHES[case] + ["-q"], monkeypatch))
    after = {p.name: p.read_bytes() for p in corpus.glob("*.xyz") if p.is_file()}
    assert after == before


# --- odd but valid input: the right answer, not an error ----------------------------------
def _entropy_of(corpus, monkeypatch, name):
    result = run(corpus, ["entropy", name, "-o", f"{name}.json", "--overwrite", "-q"],
                 monkeypatch)
    assert result.exit_code == 0, result.output
    return json.loads((corpus / f"{name}.json").read_text())["datasets"][0]["entropy"]


def test_huge_coordinates_give_the_answer_of_their_images(corpus, monkeypatch):
    """An atom 1e11 Å away: in a periodic cell it is its image (float64 keeps ~1e-5 Å there);
    in a cluster it is an isolated atom (a zero descriptor), like one at 1e4 Å."""
    good = ase.io.read(corpus / "t.xyz", 0)
    periodic = good.copy()
    shift = np.round(1e11 / good.cell.lengths()[0]) * good.cell[0]
    periodic.positions[3] += shift
    ase.io.write(corpus / "far_periodic.xyz", periodic)
    ase.io.write(corpus / "near_periodic.xyz", good)
    assert _entropy_of(corpus, monkeypatch, "far_periodic.xyz") == pytest.approx(
        _entropy_of(corpus, monkeypatch, "near_periodic.xyz"), abs=1e-3)
    cluster = good.copy()
    cluster.pbc = False
    far, near = cluster.copy(), cluster.copy()
    far.positions[3] = [1e11, 0.0, 0.0]
    near.positions[3] = [1e4, 0.0, 0.0]
    ase.io.write(corpus / "far_cluster.xyz", far)
    ase.io.write(corpus / "near_cluster.xyz", near)
    assert _entropy_of(corpus, monkeypatch, "far_cluster.xyz") == pytest.approx(
        _entropy_of(corpus, monkeypatch, "near_cluster.xyz"), abs=1e-12)
    # far along all three axes (the cell list's bin counts overflowed int64 there), and a
    # periodic box of 1e11 Å, which is the cluster itself
    far.positions[3] = [1e11, -1e11, 1e11]
    near.positions[3] = [1e4, -1e4, 1e4]
    ase.io.write(corpus / "far3_cluster.xyz", far)
    ase.io.write(corpus / "near3_cluster.xyz", near)
    assert _entropy_of(corpus, monkeypatch, "far3_cluster.xyz") == pytest.approx(
        _entropy_of(corpus, monkeypatch, "near3_cluster.xyz"), abs=1e-12)
    boxed = cluster.copy()
    boxed.cell = np.eye(3) * 1e11
    boxed.pbc = True
    ase.io.write(corpus / "boxed.xyz", boxed)
    ase.io.write(corpus / "cluster.xyz", cluster)
    # atoms at slightly negative coordinates wrap to just below 1e11 Å, where float64
    # resolves 1.5e-5 Å: the entropies agree to that precision, not to 1e-12
    assert _entropy_of(corpus, monkeypatch, "boxed.xyz") == pytest.approx(
        _entropy_of(corpus, monkeypatch, "cluster.xyz"), abs=1e-4)


def test_one_atom_structures(corpus, monkeypatch):
    """One atom in a periodic cell has an environment (its images); one isolated atom has
    the zero environment. One environment: H = 0 either way."""
    ase.io.write(corpus / "one_periodic.xyz", Atoms("Cu", cell=[2.5, 2.5, 2.5], pbc=True))
    ase.io.write(corpus / "one_isolated.xyz", Atoms("Cu", positions=[[0, 0, 0]]))
    for name in ("one_periodic.xyz", "one_isolated.xyz"):
        assert _entropy_of(corpus, monkeypatch, name) == pytest.approx(0.0, abs=1e-12)


# --- a figure asked for without matplotlib: refused before any work ---------------------
PLOTTING = {
    "uncertainty": ["uncertainty", "t.xyz", "-r", "g.xyz", "--plot", "p.png"],
    "compress": ["compress", "t.xyz", "-s", "2", "-o", "c.xyz", "--plot", "p.png"],
    "learning-curve": ["learning-curve", "t.xyz", "--plot", "p.png"],
    "active-learning": ["active-learning", "t.xyz", "g.xyz", "--plot", "p.png"],
    "trajectory": ["trajectory", "t.xyz", "--plot", "p.png"],
    "phases": ["phases", "t.xyz", "--phase", "a=g.xyz", "--phase", "b=t.xyz", "--plot",
               "p.png"],
    "nucleation": ["nucleation", "t.xyz", "--phase", "solid=g.xyz", "--phase",
                   "liquid=t.xyz", "--plot", "p.png"],
    "phase-boundary": ["phase-boundary", "--phase", "a=g.xyz", "--phase", "b=t.xyz",
                       "--phase-diagram", "p.png"],
    "zentropy": ["zentropy", "config_nooszicar", "--plot", "p.png"],
    "zenn-predict": ["zenn", "predict", "good.pt", "--phase-diagram", "p.png"],
}


@pytest.mark.parametrize("case", list(PLOTTING))
def test_a_figure_without_matplotlib_is_refused_first(corpus, monkeypatch, case):
    import sys

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    result = run(corpus, PLOTTING[case] + ["-q"], monkeypatch)
    assert_refused(result, ["needs matplotlib"])
    assert not list(corpus.glob("p.png")) and not list(corpus.glob("c.xyz"))


def test_a_bare_group_prints_its_help(corpus, monkeypatch):
    for args in (["zenn"], []):
        result = run(corpus, args, monkeypatch)
        assert result.exit_code == 0 and "Usage:" in result.stdout and not result.stderr
