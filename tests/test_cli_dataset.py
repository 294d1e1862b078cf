"""`quests compress`, `select`, `learning-curve` and `active-learning` from the command line."""

import json

import numpy as np
import pytest
from ase.io import read, write
from click.testing import CliRunner

from quests.cli import cli
from quests.compression import compress, describe_structures
from quests.data import demo_files, mixed_cu_dataset

from test_cli import _bad, _ok


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def mixed_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "mixed.xyz"
    write(path, mixed_cu_dataset())
    return path


def test_compress_writes_kept_structures_and_report(runner, mixed_file, tmp_path):
    kept, report, table, plot = (tmp_path / n for n in ("kept.xyz", "r.json", "s.csv", "c.png"))
    result = _ok(runner.invoke(cli, ["compress", str(mixed_file), "-s", "10%", "-o", str(kept),
                                     "-o", str(report), "-o", str(table), "--plot", str(plot),
                                     "--report", "-q"]))
    api = compress(read(mixed_file, ":"), 0.1, curve=True, key="kind")  # coverage, the default
    doc = json.loads(report.read_text())
    assert doc["parameters"]["method"] == "coverage"
    assert doc["indices"] == api.indices.tolist()
    # --report: categories of the first n picks, printed and in the report
    assert doc["categories"]["key"] == "kind" and doc["categories"]["sizes"][-1] == 6
    assert doc["categories"]["kept"] == api.categories["kept"]
    assert sum(doc["categories"]["kept"][-1]) == 6 and "first 6" in result.output
    assert doc["after"]["entropy"] == pytest.approx(api.after["entropy"])
    assert len(doc["curve"]["overlap"]) == 6 and "kept" in result.output
    frames = read(kept, ":")
    original = read(mixed_file, ":")
    assert len(frames) == 6
    for rank, (atoms, index) in enumerate(zip(frames, doc["indices"])):
        assert atoms.info["quests_index"] == index and atoms.info["quests_rank"] == rank
        assert atoms.info["kind"] == original[index].info["kind"]  # original info intact
        np.testing.assert_allclose(atoms.positions, original[index].positions)
    assert table.read_text().splitlines()[0].startswith("rank,index,file,position,category,score")
    assert plot.stat().st_size > 0


def test_compress_methods_and_fraction_one(runner, mixed_file, tmp_path):
    for method in ("random", "fps", "mean_fps", "k_means"):
        out = tmp_path / f"{method}.json"
        _ok(runner.invoke(cli, ["compress", str(mixed_file), "-s", "4", "-m", method, "--seed",
                                "3", "-o", str(out), "-q"]))
        assert len(json.loads(out.read_text())["indices"]) == 4
    out = tmp_path / "all.json"
    _ok(runner.invoke(cli, ["compress", str(mixed_file), "-s", "1.0", "-m", "random", "-o",
                            str(out), "-q"]))
    doc = json.loads(out.read_text())
    assert sorted(doc["indices"]) == list(range(60))
    assert doc["after"]["overlap"] == 1.0


def test_select_next_batch(runner, tmp_path):
    files = demo_files()
    nxt, ranking = tmp_path / "next.xyz", tmp_path / "ranking.json"
    result = _ok(runner.invoke(cli, ["select", files["cu_melt"], files["cu_300K"] + "@0:3",
                                     "-r", files["cu_300K"], "-n", "4", "-o", str(nxt), "-o",
                                     str(ranking), "-q"]))
    doc = json.loads(ranking.read_text())
    picked = [row["file"] for row in doc["selected"]]
    assert all(f == files["cu_melt"] for f in picked)  # copies of training frames never picked
    assert len(read(nxt, ":")) == 4 and "4 of them hold a novel environment" in result.output


def test_learning_curve_command(runner, mixed_file, tmp_path):
    out, plot = tmp_path / "lc.json", tmp_path / "lc.png"
    result = _ok(runner.invoke(cli, ["learning-curve", str(mixed_file), "--seeds", "3",
                                     "--n-sizes", "6", "-o", str(out), "--plot", str(plot),
                                     "-q"]))
    doc = json.loads(out.read_text())
    assert doc["unit"] == "structures" and doc["sizes"][-1] == 60
    assert doc["gap"] == pytest.approx(doc["fit"]["a"] - doc["full_entropy"])
    assert "information gap" in result.output and plot.stat().st_size > 0
    csv = tmp_path / "lc.csv"
    _ok(runner.invoke(cli, ["learning-curve", str(mixed_file), "--sizes", "100,1000,3000,6000",
                            "--by", "environments", "--seeds", "2", "-o", str(csv), "-q"]))
    assert csv.read_text().splitlines()[0].startswith("environments,")


def test_active_learning_files_and_key(runner, tmp_path):
    files = demo_files()
    gens = [read(files["cu_300K"], "0:5"), read(files["cu_300K"], "0:5"),
            read(files["cu_melt"], "0:5")]
    paths = []
    for g, frames in enumerate(gens):
        path = tmp_path / f"gen{g}.xyz"
        write(path, frames)
        paths.append(str(path))
    out, plot = tmp_path / "al.json", tmp_path / "al.png"
    result = _ok(runner.invoke(cli, ["active-learning", *paths, "-o", str(out), "--plot",
                                     str(plot), "-q"]))
    doc = json.loads(out.read_text())
    assert doc["idle_generations"] == ["gen1"]
    assert doc["generations"][2]["novelty"] > 0.95 and "added nothing" in result.output
    # the same loop in one file with a generation key
    merged = tmp_path / "all.xyz"
    frames = []
    for g, group in enumerate(gens):
        for atoms in group:
            atoms.info["gen"] = g
            frames.append(atoms)
    write(merged, frames)
    out2 = tmp_path / "al2.json"
    _ok(runner.invoke(cli, ["active-learning", str(merged), "--key", "gen", "-o", str(out2),
                            "-q"]))
    doc2 = json.loads(out2.read_text())
    assert [r["novelty"] for r in doc2["generations"]] == [r["novelty"] for r in doc["generations"]]


@pytest.mark.parametrize("args, match", [
    (["compress", "{mixed}", "-s", "0"], "at least 1 structure"),
    (["compress", "{mixed}", "-s", "-2"], "at least 1 structure"),
    (["compress", "{mixed}", "-s", "61"], "larger than the dataset (60 structures)"),
    (["compress", "{mixed}", "-s", "150%"], "(0, 1]"),
    (["compress", "{mixed}", "-s", "ten"], "neither a count"),
    (["compress", "{mixed}", "-s", "2", "-m", "msc_conditional"], "needs a reference"),
    (["compress", "{mixed}", "-s", "2", "-o", "{tmp}/out.txt"], "unsupported suffix"),
    (["compress", "{tmp}/missing.xyz", "-s", "2"], "missing.xyz"),
    (["compress", "{mixed}", "-s", "2", "--key", "nope"],
     "structure 0 of {mixed} has no info key 'nope' (category)"),
    (["compress", "{mixed}", "-s", "2", "--report", "--key", ""], "has no info key ''"),
    (["active-learning", "{mixed}", "--key", "gen"], "has no info key 'gen'"),
    (["learning-curve", "{mixed}", "--sizes", "0,5"], "lie in [1, 60]"),
    (["learning-curve", "{mixed}", "--sizes", "a,b"], "give integers"),
    (["select", "{mixed}", "-r", "{mixed}", "-n", "0"], "at least 1 structure"),
])
def test_bad_input_is_one_line_and_exit_2(runner, mixed_file, tmp_path, args, match):
    args = [a.format(mixed=mixed_file, tmp=tmp_path) for a in args]
    _bad(runner.invoke(cli, args), match.format(mixed=mixed_file, tmp=tmp_path))


def test_unknown_method_is_refused(runner, mixed_file):
    result = runner.invoke(cli, ["compress", str(mixed_file), "-s", "2", "-m", "greedy"])
    assert result.exit_code == 2 and "greedy" in result.output


def test_reference_with_other_settings_is_refused():
    data = mixed_cu_dataset(n_crystal=3, n_rattled=0, n_surface=0, n_melt=2)
    X, counts, _, _ = describe_structures(data)
    other, _, _, _ = describe_structures(data[:1], k=16)
    from quests import InvalidInputError
    from quests.compression import select_structures

    with pytest.raises(InvalidInputError, match="same descriptor settings"):
        select_structures(X, counts, 2, "msc_conditional", reference=other)


def test_learning_curve_and_compress_read_descriptor_files(runner, tmp_path):
    path = demo_files()["cu_900K"]
    npz = tmp_path / "d.npz"
    _ok(runner.invoke(cli, ["descriptors", path, "-o", str(npz), "-q"]))
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _ok(runner.invoke(cli, ["learning-curve", str(npz), "--seeds", "2", "-o", str(a), "-q"]))
    _ok(runner.invoke(cli, ["learning-curve", path, "--seeds", "2", "-o", str(b), "-q"]))
    doc_a, doc_b = json.loads(a.read_text()), json.loads(b.read_text())
    assert doc_a["sizes"] == doc_b["sizes"] and doc_a["entropies"] == doc_b["entropies"]
    _bad(runner.invoke(cli, ["learning-curve", str(npz), "-k", "8"]), "holds descriptors with k=32, not 8")
    _ok(runner.invoke(cli, ["compress", str(npz), "-s", "2", "-q"]))
    _bad(runner.invoke(cli, ["compress", str(npz), "-s", "2", "-o", str(tmp_path / "k.xyz")]),
         "descriptor files hold none")
    _bad(runner.invoke(cli, ["compress", str(npz), "-s", "2", "--report"]),
         "descriptor files do not keep")
