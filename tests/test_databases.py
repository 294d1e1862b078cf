"""ASE databases (.db, .aselmdb), folders and globs of them, and descriptors streamed
into a resumable store."""

import hashlib
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from quests.cli import cli
from quests.io import DescriptorStore, ReadError, iter_structures, read_structures, \
    write_aselmdb
from reference import ase_row, write_aselmdb_by_hand

pytest.importorskip("lmdb")


def _frames(n=6, seed=0):
    from ase.calculators.singlepoint import SinglePointCalculator

    from quests.data import rattled_crystal

    frames = []
    for i in range(n):
        atoms = rattled_crystal(seed=seed + i)
        atoms.calc = SinglePointCalculator(atoms, energy=-3.5 * i,
                                           forces=np.full((len(atoms), 3), 0.1 * i),
                                           stress=np.arange(6.0) + i)
        atoms.info.update({"config_type": "bulk" if i % 2 else "md", "group": i})
        frames.append(atoms)
    return frames


def _same(a, b):
    assert np.array_equal(a.numbers, b.numbers)
    assert np.allclose(a.positions, b.positions, atol=0, rtol=0)
    assert np.allclose(np.asarray(a.cell), np.asarray(b.cell)) and list(a.pbc) == list(b.pbc)
    assert a.get_potential_energy() == b.get_potential_energy()
    assert np.array_equal(a.get_forces(), b.get_forces())
    assert np.array_equal(a.get_stress(), b.get_stress())
    assert a.info["config_type"] == b.info["config_type"] and a.info["group"] == b.info["group"]


@pytest.fixture
def databases(tmp_path):
    """The same six frames as a hand-written .aselmdb (row 3 deleted, an extra row 8 deleted
    too) and as an ASE sqlite database."""
    import ase.db

    frames = _frames()
    rows = {i + 1: ase_row(a, config_type=a.info["config_type"], group=a.info["group"])
            for i, a in enumerate(frames)}
    rows[7] = ase_row(_frames(1, seed=50)[0], config_type="gone", group=99)
    write_aselmdb_by_hand(tmp_path / "d.aselmdb", rows, deleted=[7])
    with ase.db.connect(str(tmp_path / "d.db")) as db:
        for a in frames:
            db.write(a, config_type=a.info["config_type"], group=a.info["group"])
    return tmp_path, frames


@pytest.mark.parametrize("name", ["d.aselmdb", "d.db"])
def test_rows_read_as_ase_writes_them(databases, name):
    folder, frames = databases
    read = read_structures(folder / name)
    assert len(read) == len(frames)  # the deleted row is skipped
    for a, b in zip(read, frames):
        _same(a, b)
    labels = [label for label, _ in iter_structures(folder / name, index="::2")]
    assert labels == [f"{folder / name} row {i}" for i in (1, 3, 5)]


@pytest.mark.parametrize("name", ["d.aselmdb", "d.db"])
@pytest.mark.parametrize("index,select,expected", [
    (":", None, [0, 1, 2, 3, 4, 5]), ("-2:", None, [4, 5]), ("::-2", None, [5, 3, 1]),
    ("1:5:3", None, [1, 4]), ("-1", None, [5]),
    (":", "config_type=bulk", [1, 3, 5]), ("1:", "group>=2", [3, 4, 5]),
    ("-1", "config_type=md,group<4", [2]), (":", "natoms>=32", [0, 1, 2, 3, 4, 5]),
    (":", "Cu=32", [0, 1, 2, 3, 4, 5]), (":", "energy<-10", [3, 4, 5]),
])
def test_frame_selection_and_queries(databases, name, index, select, expected):
    folder, _ = databases
    got = [a.info["group"] for a in read_structures(folder / name, index=index, select=select)]
    assert got == expected


def test_the_writer_round_trips_and_agrees_with_the_layout(tmp_path):
    frames = _frames(4)
    assert write_aselmdb(tmp_path / "w.aselmdb", frames) == 4
    for a, b in zip(read_structures(tmp_path / "w.aselmdb"), frames):
        _same(a, b)
    # the file holds the documented reserved keys and nothing beside it
    import json
    import zlib

    import lmdb

    env = lmdb.open(str(tmp_path / "w.aselmdb"), subdir=False, readonly=True, lock=False)
    with env.begin() as txn:
        assert json.loads(zlib.decompress(txn.get(b"nextid"))) == 5
        assert json.loads(zlib.decompress(txn.get(b"deleted_ids"))) == []
        row = json.loads(zlib.decompress(txn.get(b"2")))
        assert row["positions"]["__ndarray__"][0] == [32, 3]
    env.close()
    assert os.listdir(tmp_path) == ["w.aselmdb"]


def test_rows_are_found_without_nextid(tmp_path):
    frames = _frames(3)
    write_aselmdb_by_hand(tmp_path / "n.aselmdb", {i + 1: ase_row(a) for i, a in
                                                   enumerate(frames)}, nextid=False)
    assert len(read_structures(tmp_path / "n.aselmdb")) == 3


def test_a_folder_or_glob_is_one_dataset_in_sorted_order(tmp_path):
    frames = _frames(6)
    (tmp_path / "set").mkdir()
    write_aselmdb(tmp_path / "set" / "b.aselmdb", frames[3:])
    write_aselmdb(tmp_path / "set" / "a.aselmdb", frames[:3])
    (tmp_path / "set" / "notes.txt").write_text("not a structure file")
    for spec in (tmp_path / "set", str(tmp_path / "set" / "*.aselmdb")):
        assert [a.info["group"] for a in read_structures(spec)] == list(range(6))
        assert [a.info["group"] for a in read_structures(spec, index="1::2")] == [1, 3, 5]
    with pytest.raises(Exception, match="negative"):
        read_structures(tmp_path / "set", index="-1")
    with pytest.raises(ReadError, match="no file matches"):
        read_structures(str(tmp_path / "set" / "*.db"))


def _digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _bad(tmp_path):
    """Damaged database files, each with the words its one error line must hold."""
    import sqlite3
    import zlib

    good = {i + 1: ase_row(a) for i, a in enumerate(_frames(3))}
    cases = {}
    (tmp_path / "garbage.aselmdb").write_bytes(b"not an lmdb file at all" * 100)
    cases["garbage.aselmdb"] = "not an LMDB file"
    write_aselmdb_by_hand(tmp_path / "full.aselmdb", good)
    data = (tmp_path / "full.aselmdb").read_bytes()
    (tmp_path / "truncated.aselmdb").write_bytes(data[: len(data) // 3])
    cases["truncated.aselmdb"] = "cannot read"
    write_aselmdb_by_hand(tmp_path / "notzlib.aselmdb", good, extra={b"2": b"plain bytes"})
    cases["notzlib.aselmdb"] = "row 2 is not zlib-compressed JSON"
    write_aselmdb_by_hand(tmp_path / "notjson.aselmdb", good,
                          extra={b"2": zlib.compress(b"{not json")})
    cases["notjson.aselmdb"] = "row 2 is not zlib-compressed JSON"
    nopos = dict(good)
    nopos[2] = {k: v for k, v in good[2].items() if k != "positions"}
    write_aselmdb_by_hand(tmp_path / "nopositions.aselmdb", nopos)
    cases["nopositions.aselmdb"] = "row 2 has no positions"
    gap = {1: good[1], 3: good[3]}
    write_aselmdb_by_hand(tmp_path / "gap.aselmdb", gap)
    cases["gap.aselmdb"] = "row 2 is missing"
    objects = dict(good)
    objects[2] = dict(good[2], positions={"__ndarray__": [[32, 3], "object", [0] * 96]})
    write_aselmdb_by_hand(tmp_path / "objects.aselmdb", objects)
    cases["objects.aselmdb"] = "not numbers"
    (tmp_path / "garbage.db").write_bytes(b"SQLite format 2\0 but not really" * 50)
    cases["garbage.db"] = "not an sqlite database"
    sqlite3.connect(tmp_path / "foreign.db").execute("CREATE TABLE t (x)").connection.commit()
    cases["foreign.db"] = "not an ASE database"
    return cases


def test_damaged_databases_give_one_error_line_and_stay_untouched(tmp_path):
    cases = _bad(tmp_path)
    for name, words in cases.items():
        before = _digest(tmp_path / name)
        result = CliRunner().invoke(cli, ["entropy", str(tmp_path / name), "-q"])
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 2, (name, result.output)
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], \
            (name, result.output)
        assert _digest(tmp_path / name) == before, name
    assert not [p for p in os.listdir(tmp_path) if p.endswith("-lock")]


@pytest.mark.parametrize("argv,words", [
    (["entropy", "{d}/d.aselmdb", "--select", "config_type=nothing"], "no row selected"),
    (["entropy", "{d}/d.db", "--select", "config_type=nothing"], "no row selected"),
    (["entropy", "{d}/d.db", "--select", "energy<<1"], "not an ase.db query"),
    (["entropy", "{d}/d.xyz", "--select", "group=1"], "no file given is one"),
    (["entropy", "{d}/missing.aselmdb"], "file not found"),
    (["entropy", "{d}/empty"], "holds no structure files"),
    (["descriptors", "{d}/d.aselmdb", "-o", "{d}/s.zarr", "--species", "all"], "atomic numbers"),
    (["descriptors", "{d}/d.aselmdb", "-o", "{d}/s.npz", "--restart"], "--restart applies"),
])
def test_bad_requests_give_one_error_line(databases, argv, words):
    import ase.io

    folder, frames = databases
    ase.io.write(folder / "d.xyz", frames)
    (folder / "empty").mkdir()
    result = CliRunner().invoke(cli, [a.format(d=folder) for a in argv] + ["-q"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and words in lines[0], result.output


def test_a_missing_lmdb_package_names_the_extra(databases, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "lmdb", None)
    result = CliRunner().invoke(cli, ["entropy", str(databases[0] / "d.aselmdb"), "-q"])
    assert result.exit_code == 2 and "pip install 'quests[datasets]'" in result.output


def _columns(store):
    return {c: store.column(c) for c in ("structure_index", "atom_index", "numbers", "source")}


def test_streamed_store_equals_the_one_computed_in_memory(databases):
    from quests.descriptor import store_descriptors, stream_descriptors

    folder, frames = databases
    specs = [str(folder / "d.aselmdb@1:"), str(folder / "d.db")]
    out, n_rows, n_structures = stream_descriptors(specs, folder / "s.zarr", k=6,
                                                   cutoff=4.0, rows_per_block=70)
    assert (n_rows, n_structures) == (32 * 11, 11)
    memory = store_descriptors(frames[1:] + frames, folder / "m.zarr", k=6, cutoff=4.0,
                               sources=[0] * 5 + [1] * 6, rows_per_block=70)
    a, b = DescriptorStore(out), DescriptorStore(memory)
    assert a.n_blocks == 4 and np.array_equal(a.offsets, b.offsets)
    assert np.array_equal(a.load(), b.load())
    for name, column in _columns(a).items():
        assert np.array_equal(column, _columns(b)[name]), name


@pytest.mark.parametrize("stop_at", [1, 3])
def test_an_interrupted_stream_resumes_to_the_same_store(databases, monkeypatch, stop_at):
    import quests.descriptor as descriptor

    folder, _ = databases
    specs = [str(folder / "d.aselmdb"), str(folder / "d.db@::2")]
    whole = DescriptorStore(descriptor.stream_descriptors(specs, folder / "w.zarr", k=5,
                                                          rows_per_block=60)[0])
    original = descriptor.store_block
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(args[3])
        if len(calls) > stop_at:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(descriptor, "store_block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        descriptor.stream_descriptors(specs, folder / "r.zarr", k=5, rows_per_block=60)
    assert not (folder / "r.zarr").exists()
    assert (folder / ".r.zarr.quests-resume.partial").is_dir()
    calls.clear()

    def counted(*args, **kwargs):
        calls.append(args[3])
        return original(*args, **kwargs)

    monkeypatch.setattr(descriptor, "store_block", counted)
    resumed = DescriptorStore(descriptor.stream_descriptors(specs, folder / "r.zarr", k=5,
                                                            rows_per_block=60)[0])
    assert calls[0] == 2 * stop_at  # two frames per block: nothing written twice
    assert np.array_equal(resumed.load(), whole.load())
    assert np.array_equal(resumed.offsets, whole.offsets)
    for name, column in _columns(resumed).items():
        assert np.array_equal(column, _columns(whole)[name]), name
    assert not [p for p in os.listdir(folder) if "quests-resume" in p]


def test_a_stream_with_other_settings_starts_again(databases, monkeypatch):
    import quests.descriptor as descriptor

    folder, _ = databases
    original = descriptor.store_block

    def interrupted(*args, **kwargs):
        if args[1] == 1:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(descriptor, "store_block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        descriptor.stream_descriptors([folder / "d.db"], folder / "r.zarr", k=5,
                                      rows_per_block=60)
    monkeypatch.setattr(descriptor, "store_block", original)
    other = descriptor.stream_descriptors([folder / "d.db"], folder / "r.zarr", k=4,
                                          rows_per_block=60)[0]
    fresh = descriptor.stream_descriptors([folder / "d.db"], folder / "f.zarr", k=4,
                                          rows_per_block=60)[0]
    assert np.array_equal(DescriptorStore(other).load(), DescriptorStore(fresh).load())


def test_a_second_run_on_the_same_store_is_refused(databases):
    from quests._errors import OutputError
    from quests.io import resumable_descriptor_store

    folder, _ = databases
    with resumable_descriptor_store(folder / "x.zarr", "key"):
        with pytest.raises(OutputError, match="another run is writing"):
            with resumable_descriptor_store(folder / "x.zarr", "key"):
                pass


def test_the_cli_streams_a_database_into_a_store_that_entropy_reads(databases):
    folder, _ = databases
    runner = CliRunner()
    result = runner.invoke(cli, ["descriptors", str(folder / "d.aselmdb"), "-o",
                                 str(folder / "d.zarr"), "-k", "8", "--select",
                                 "config_type=bulk", "-q"])
    assert result.exit_code == 0, result.output
    assert "96 environments from 3 structures" in result.output
    direct = runner.invoke(cli, ["entropy", str(folder / "d.aselmdb"), "-k", "8",
                                 "--select", "config_type=bulk", "-q"])
    stored = runner.invoke(cli, ["entropy", str(folder / "d.zarr"), "-q"])
    assert direct.exit_code == 0 and stored.exit_code == 0
    row = [line.split()[2:6] for line in direct.output.splitlines()[1:2]]
    assert row == [line.split()[2:6] for line in stored.output.splitlines()[1:2]]


def test_compress_select_and_uncertainty_take_a_store_as_they_take_its_structures(databases):
    import json

    import ase.io

    folder, frames = databases
    ase.io.write(folder / "d.xyz", frames)
    runner = CliRunner()

    def run(*argv):
        result = runner.invoke(cli, [str(a) for a in argv] + ["-q"])
        assert result.exit_code == 0, result.output
        return result.output

    run("descriptors", folder / "d.aselmdb", "-o", folder / "d.zarr", "-k", "8")
    run("compress", folder / "d.zarr", "-s", "3", "-o", folder / "a.json")
    run("compress", folder / "d.xyz", "-s", "3", "-k", "8", "-o", folder / "b.json")
    a, b = (json.loads((folder / name).read_text()) for name in ("a.json", "b.json"))
    # the same kept structures and figures (the .xyz holds positions to 1e-8 Å)
    assert a["indices"] == b["indices"]
    for key, value in a["after"].items():
        assert value == (pytest.approx(b["after"][key], rel=1e-6)
                         if isinstance(value, float) else b["after"][key]), key
    picks = [run("select", folder / "d.xyz@::2", "-r", reference, "-n", "2", "-k", "8")
             for reference in (folder / "d.zarr", folder / "d.aselmdb")]
    assert picks[0].splitlines()[2:] == picks[1].splitlines()[2:]
    kept = [run("compress", folder / "d.xyz@::2", "-s", "2", "-m", "msc_conditional", "-r",
                reference, "-k", "8") for reference in (folder / "d.zarr", folder / "d.xyz")]
    assert kept[0] == kept[1]  # the same picks, H, D and overlap
    judged = [run("uncertainty", folder / "d.xyz@0:2", "-r", reference, "-k", "8")
              for reference in (folder / "d.zarr", folder / "d.aselmdb")]
    assert judged[0] == judged[1]
    refused = runner.invoke(cli, ["compress", str(folder / "d.zarr"), "-s", "2", "-o",
                                  str(folder / "k.xyz"), "-q"])
    assert refused.exit_code == 2 and "descriptor files hold none" in refused.output


def test_an_lmdb_cut_short_is_refused_not_a_crash(tmp_path):
    """Half of a file whose header is intact: reading past its end would be SIGBUS."""
    from quests.data import rattled_crystal

    write_aselmdb(tmp_path / "full.aselmdb", (rattled_crystal(seed=s) for s in range(300)))
    data = (tmp_path / "full.aselmdb").read_bytes()
    (tmp_path / "half.aselmdb").write_bytes(data[: len(data) // 2])
    quests = os.path.join(os.path.dirname(sys.executable), "quests")
    result = subprocess.run([quests, "entropy", str(tmp_path / "half.aselmdb"), "-q"],
                            capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith("error:") and "truncated" in result.stderr


def test_database_paths_with_uri_characters_are_read_and_nothing_is_created(databases):
    folder, frames = databases
    for name in ("run#1.db", "a?b.db", "50%20.db"):
        shutil.copy(folder / "d.db", folder / name)
        before = sorted(os.listdir(folder))
        assert len(read_structures(folder / name)) == len(frames)
        assert sorted(os.listdir(folder)) == before


@pytest.mark.parametrize("query", ["pbc=TTT", "id<=2", "id>=5,config_type=md"])
def test_queries_select_the_same_rows_of_both_databases(databases, query):
    folder, _ = databases
    # the .aselmdb has the same rows under the same ids (its deleted row 7 comes after)
    picks = [[a.info["group"] for a in read_structures(folder / name, select=query)]
             for name in ("d.aselmdb", "d.db")]
    assert picks[0] == picks[1] and picks[0]
    with pytest.raises(Exception, match="is an array"):
        read_structures(folder / "d.aselmdb", select="positions<1")


def test_a_folder_slice_does_not_read_the_databases_before_it(tmp_path, monkeypatch):
    from quests.io import _databases

    frames = _frames(6)
    (tmp_path / "set").mkdir()
    write_aselmdb(tmp_path / "set" / "a.aselmdb", frames[:3])
    write_aselmdb(tmp_path / "set" / "b.aselmdb", frames[3:])
    (tmp_path / "set" / "report.json").write_text("{}")  # not a structure file
    read = []
    original = _databases.row_atoms
    monkeypatch.setattr(_databases, "row_atoms",
                        lambda dct, where: read.append(where) or original(dct, where))
    assert [a.info["group"] for a in read_structures(tmp_path / "set", index="4:")] == [4, 5]
    assert len(read) == 2


def test_an_output_inside_an_input_folder_is_refused(databases):
    folder, _ = databases
    before = _digest(folder / "d.db")
    result = CliRunner().invoke(cli, ["compress", str(folder), "-s", "2", "-o",
                                      str(folder / "d.db"), "--overwrite", "-q"])
    assert result.exit_code == 2 and "is an input" in result.output
    assert _digest(folder / "d.db") == before


def test_stream_failures_are_one_line_and_keep_nothing_they_should_not(databases):
    folder, _ = databases
    runner = CliRunner()
    missing = runner.invoke(cli, ["descriptors", str(folder / "nothere.xyz"), "-o",
                                  str(folder / "x.zarr"), "-q"])
    assert missing.exit_code == 2 and "file not found" in missing.output
    empty = runner.invoke(cli, ["descriptors", str(folder / "d.db"), "--select",
                                "config_type=none", "-o", str(folder / "x.zarr"), "-q"])
    assert empty.exit_code == 2 and "no structures to describe" in empty.output
    assert not [p for p in os.listdir(folder) if "quests" in p]


def test_a_damaged_block_is_written_again_and_restart_starts_over(databases, monkeypatch):
    import quests.descriptor as descriptor

    folder, _ = databases
    specs = [str(folder / "d.aselmdb")]
    whole = DescriptorStore(descriptor.stream_descriptors(specs, folder / "w.zarr", k=5,
                                                          rows_per_block=20)[0]).load()
    original = descriptor.store_block

    def interrupted(*args, **kwargs):
        if args[1] == 4:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(descriptor, "store_block", interrupted)
    with pytest.raises(KeyboardInterrupt):
        descriptor.stream_descriptors(specs, folder / "r.zarr", k=5, rows_per_block=20)
    monkeypatch.setattr(descriptor, "store_block", original)
    blocks = folder / ".r.zarr.quests-resume.partial" / "blocks"
    damaged = sorted(blocks.iterdir())[1]
    (damaged / "zarr.json").write_text("")  # killed while its metadata was written
    resumed = descriptor.stream_descriptors(specs, folder / "r.zarr", k=5, rows_per_block=20)
    assert np.array_equal(DescriptorStore(resumed[0]).load(), whole)
    result = CliRunner().invoke(cli, ["descriptors", *specs, "-o", str(folder / "r.zarr"),
                                      "-k", "5", "--restart", "--overwrite", "-q"])
    assert result.exit_code == 0, result.output
