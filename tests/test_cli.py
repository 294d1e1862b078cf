import json
import os
import stat

import numpy as np
import pytest
from ase.build import bulk
from ase.io import read, write
from click.testing import CliRunner

from quests.cli import cli
from quests.data import demo_files, rattled_crystal
from quests.descriptor import compute_descriptors
from quests.kde import dataset_entropy


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def traj(tmp_path):
    path = tmp_path / "traj.xyz"
    write(path, [rattled_crystal(stdev=0.1, seed=s) for s in range(6)])
    return path


def _ok(result):
    assert result.exit_code == 0, result.output
    return result


def _bad(result, match, code=2):
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and match in lines[-1], result.output
    assert "Traceback" not in result.output
    return result


def test_entropy_table_matches_api(runner, traj):
    result = _ok(runner.invoke(cli, ["entropy", str(traj), "-q"]))
    frames = [rattled_crystal(stdev=0.1, seed=s) for s in range(6)]
    expected = dataset_entropy(compute_descriptors(frames))
    row = [line for line in result.output.splitlines() if line.startswith("traj")][0].split()
    assert int(row[1]) == 6 and int(row[2]) == 192
    assert float(row[4]) == pytest.approx(expected.entropy, abs=1e-4)
    assert float(row[6]) == pytest.approx(expected.diversity, abs=1e-4)


def test_entropy_json_output_and_index(runner, traj, tmp_path):
    out = tmp_path / "result.json"
    _ok(runner.invoke(cli, ["entropy", f"{traj}@0:4", str(traj), "--index", "::2", "-o", str(out),
                            "-q", "-b", "0.01", "-b", "0.02"]))
    doc = json.loads(out.read_text())
    assert doc["quests_version"] and doc["parameters"]["bandwidth"] == [0.01, 0.02]
    names = [d["name"] for d in doc["datasets"]]
    assert len(names) == 3 and names[-1] == "all"
    assert [d["n_structures"] for d in doc["datasets"]] == [4, 3, 7]
    assert len(doc["datasets"][0]["entropy"]) == 2
    # strict JSON: no NaN/Infinity tokens
    json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))


def test_descriptors_npz_round_trip(runner, traj, tmp_path):
    out = tmp_path / "x.npz"
    result = _ok(runner.invoke(cli, ["descriptors", str(traj), "-o", str(out), "-k", "8", "-q"]))
    assert "192 environments x 15 features" in result.output
    with np.load(out) as data:
        assert data["descriptors"].shape == (192, 15)
        assert data["structure_index"].max() == 5 and data["atom_index"].max() == 31
        meta = json.loads(str(data["metadata"]))
    assert meta["k"] == 8
    table = _ok(runner.invoke(cli, ["entropy", str(out), "-q"])).output
    direct = _ok(runner.invoke(cli, ["entropy", str(traj), "-k", "8", "-q"])).output
    assert table.splitlines()[1].split()[4] == direct.splitlines()[1].split()[4]
    _bad(runner.invoke(cli, ["entropy", str(out), "-k", "32"]), "k=8")


def test_multicomponent_and_float32(runner, tmp_path):
    atoms = rattled_crystal(seed=3)
    atoms.numbers[::4] = 79
    path = tmp_path / "cuau.xyz"
    write(path, atoms)
    out = tmp_path / "x.npz"
    _ok(runner.invoke(cli, ["descriptors", str(path), "-o", str(out), "--species", "all",
                            "--dtype", "float32", "-q"]))
    with np.load(out) as data:
        assert data["descriptors"].shape == (32, 189) and data["descriptors"].dtype == np.float32


def test_demo_runs(runner):
    result = _ok(runner.invoke(cli, ["demo", "-q"]))
    for name in demo_files():
        assert name in result.output
    crystal = [line for line in result.output.splitlines() if line.startswith("cu_crystal")][0]
    assert float(crystal.split()[4]) == 0.0


def test_version_and_help(runner):
    assert _ok(runner.invoke(cli, ["--version"])).output.startswith("quests, version")
    assert "entropy" in _ok(runner.invoke(cli, ["-h"])).output


@pytest.mark.parametrize(
    "args,match",
    [
        (["entropy", "missing.xyz"], "file not found: missing.xyz"),
        (["entropy", "{empty}"], "is empty"),
        (["entropy", "{garbage}"], "cannot read"),
        (["entropy", "{nan}"], "NaN or infinite positions"),
        (["entropy", "{zerocell}"], "zero or singular cell"),
        (["entropy", "{noatoms}"], "no atoms"),
        (["entropy", "{traj}", "-k", "0"], "'k' parameter"),
        (["entropy", "{traj}", "-c", "0"], "'cutoff' parameter"),
        (["entropy", "{traj}", "-c", "-2"], "'cutoff' parameter"),
        (["entropy", "{traj}", "-b", "0"], "'bandwidth' parameter"),
        (["entropy", "{traj}", "-b", "-0.1"], "'bandwidth' parameter"),
        (["entropy", "{traj}@10:20"], "index 10:20 selects no frame"),
        (["entropy", "{traj}@6"], "index 6 selects no frame"),
        (["entropy", "{traj}@-7"], "index -7 selects no frame"),
        (["entropy", "{traj}@-"], "frame selection after '@'"),
        (["entropy", "{traj}", "--index", ""], "index must be an integer or a slice"),
        (["entropy", "{traj}", "--index", "::0"], "step cannot be zero"),
        (["entropy", "{traj}", "-c", "1e300"], "'cutoff' parameter"),
        (["entropy", "{traj}", "-c", "1e-300"], "'cutoff' parameter"),
        (["entropy", "{traj}", "-c", "900"], "periodic images"),
        (["entropy", "{traj}", "-b", "1e-160"], "'bandwidth' parameter"),
        (["entropy", "{traj}", "-o", "{tmp}"], "is a directory"),
        (["entropy", "{traj}", "-o", "{existing}/r.json"], "is a file, not a folder"),
        (["entropy", "{traj}", "--species", "Cu"], "--species"),
        (["entropy", "{traj}", "-o", "{existing}"], "exists (use --overwrite"),
        (["entropy", "{traj}", "-o", "{nodir}/out.json"], "does not exist"),
        (["entropy", "{traj}", "-o", "{readonly}/out.json"], "not writable"),
        (["entropy", "{traj}", "-o", "{tmp}/out.txt"], "unsupported suffix"),
        (["descriptors", "{traj}", "-o", "{existing_npz}"], "exists"),
        (["descriptors", "{traj}", "-o", "{tmp}/x.json"], "unsupported suffix"),
    ],
)
def test_bad_input_gives_one_line_error_and_exit_2(runner, traj, tmp_path, args, match,
                                                   monkeypatch):
    (tmp_path / "empty.xyz").write_text("")
    (tmp_path / "garbage.xyz").write_text("this is not\na structure file\n")
    nan = rattled_crystal()
    nan.positions[3, 1] = np.nan
    write(tmp_path / "nan.xyz", nan)
    zero = rattled_crystal()
    zero.cell[:] = 0.0
    zero.pbc = True
    write(tmp_path / "zerocell.xyz", zero, format="extxyz")
    (tmp_path / "noatoms.xyz").write_text('0\nLattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3\n')
    existing = tmp_path / "existing.json"
    existing.write_text("keep me")
    (tmp_path / "existing.npz").write_text("keep me")
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(stat.S_IRUSR | stat.S_IXUSR)
    fields = {"traj": traj, "empty": tmp_path / "empty.xyz", "garbage": tmp_path / "garbage.xyz",
              "nan": tmp_path / "nan.xyz", "zerocell": tmp_path / "zerocell.xyz",
              "noatoms": tmp_path / "noatoms.xyz", "existing": existing,
              "existing_npz": tmp_path / "existing.npz",
              "nodir": tmp_path / "nodir", "readonly": readonly, "tmp": tmp_path}
    args = [a.format(**fields) for a in args]
    if "not writable" in match and os.geteuid() == 0:
        # root writes anywhere: make the folder look read-only to os.access
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(readonly)
                            else real_access(p, mode))
    _bad(runner.invoke(cli, args), match)
    assert existing.read_text() == "keep me"
    assert (tmp_path / "existing.npz").read_text() == "keep me"


def test_overwrite_replaces_atomically(runner, traj, tmp_path):
    out = tmp_path / "r.json"
    out.write_text("old")
    _ok(runner.invoke(cli, ["entropy", str(traj), "-o", str(out), "--overwrite", "-q"]))
    assert json.loads(out.read_text())["datasets"][0]["n_environments"] == 192
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".r.json")] == []


def test_perfect_crystal_file_has_zero_entropy(runner, tmp_path):
    path = tmp_path / "fcc.xyz"
    write(path, bulk("Cu", "fcc", a=3.61, cubic=True) * (3, 3, 3))
    out = tmp_path / "r.json"
    row = _ok(runner.invoke(cli, ["entropy", str(path), "-q", "-o", str(out)])).output
    assert row.splitlines()[1].split()[4] == "0.0000"  # not -0.0000
    doc = json.loads(out.read_text())["datasets"][0]
    assert doc["entropy"] == 0.0 and doc["diversity"] == 0.0


def test_file_names_with_at_signs(runner, traj, tmp_path):
    odd = tmp_path / "run@2.xyz"
    odd.write_bytes(traj.read_bytes())
    row = _ok(runner.invoke(cli, ["entropy", str(odd), "-q"])).output.splitlines()[1].split()
    assert row[0] == "run@2" and row[1] == "6"
    # an existing file whose name ends in @<index> is read whole, not split
    one = tmp_path / "traj.xyz@1"
    write(one, rattled_crystal(seed=9), format="extxyz")
    row = _ok(runner.invoke(cli, ["entropy", str(one), "--format", "extxyz", "-q"]))
    row = row.output.splitlines()[1].split()
    assert row[1] == "1"
    row = _ok(runner.invoke(cli, ["entropy", f"{odd}@-1", "-q"])).output.splitlines()[1].split()
    assert row[1] == "1"


def test_same_file_twice_and_a_file_called_all(runner, traj, tmp_path):
    out = tmp_path / "r.json"
    _ok(runner.invoke(cli, ["entropy", str(traj), str(traj), "-q", "-o", str(out)]))
    names = [d["name"] for d in json.loads(out.read_text())["datasets"]]
    assert len(names) == 3 and len(set(names)) == 3 and names[-1] == "all"
    called_all = tmp_path / "all.xyz"
    called_all.write_bytes(traj.read_bytes())
    out2 = tmp_path / "r2.json"
    _ok(runner.invoke(cli, ["entropy", str(called_all), str(traj), "-q", "-o", str(out2)]))
    names = [d["name"] for d in json.loads(out2.read_text())["datasets"]]
    assert names == ["all", "traj", "all datasets"]


def test_descriptor_file_lends_its_settings_and_honours_index(runner, traj, tmp_path):
    npz = tmp_path / "x8.npz"
    _ok(runner.invoke(cli, ["descriptors", str(traj), "-k", "8", "-c", "4", "-o", str(npz), "-q"]))
    out = tmp_path / "r.json"
    _ok(runner.invoke(cli, ["entropy", f"{npz}@0:2", str(traj), "-q", "-o", str(out)]))
    doc = json.loads(out.read_text())
    assert doc["parameters"]["k"] == 8 and doc["parameters"]["cutoff"] == 4.0
    assert [d["n_environments"] for d in doc["datasets"]] == [64, 192, 256]
    frames = read(traj, index="0:2")  # as stored: extxyz rounds positions
    expected = dataset_entropy(compute_descriptors(frames, k=8, cutoff=4.0)).entropy
    assert doc["datasets"][0]["entropy"] == pytest.approx(expected, abs=1e-12)
