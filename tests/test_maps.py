"""Dataset maps: the numbers on them against brute force, the subsample, the chemiscope
input, the command, and the page in a real browser (headless Chromium)."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from quests.cli import cli
from reference import brute_force_differential_entropy

pytest.importorskip("chemiscope")


@pytest.fixture(scope="module")
def data():
    from ase.calculators.singlepoint import SinglePointCalculator

    from quests.data import mixed_cu_dataset

    frames = mixed_cu_dataset(n_crystal=4, n_rattled=3, n_surface=2, n_melt=2)
    for i, atoms in enumerate(frames):
        atoms.calc = SinglePointCalculator(atoms, energy=-3.5 * len(atoms) + 0.1 * i)
        atoms.info["group"] = i % 3
    return frames


def test_dh_against_the_rest_is_brute_force_even_where_the_difference_cancels():
    from quests.maps import rest_differential_entropy

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.01, (20, 3)), rng.normal(0, 0.01, (15, 3)),
                        rng.normal(1.0, 0.01, (10, 3))])  # the last structure far away
    counts = np.array([20, 15, 10])
    got = rest_differential_entropy(X, counts, np.arange(3), bandwidth=0.015)
    offsets = [0, 20, 35, 45]
    for s in range(3):
        rest = np.delete(X, np.arange(offsets[s], offsets[s + 1]), axis=0)
        expected = brute_force_differential_entropy(X[offsets[s]:offsets[s + 1]], rest, 0.015)
        assert np.allclose(got[s], expected, rtol=1e-9, atol=1e-9), s
    assert got[2].min() > 1000  # summed again in log space: finite, not inf


def test_map_numbers_agree_with_their_definitions(data):
    from quests.descriptor import compute_descriptors
    from quests.maps import dataset_map
    from reference import brute_force_kernel_sum

    reference = data[:3]
    m = dataset_map(data, reference=reference, k=8)
    X = compute_descriptors(data, k=8)
    counts = np.array([len(a) for a in data])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    props = m.structure_properties
    assert m.note == f"all {len(data)} structures shown" and m.coordinates.shape == (11, 2)
    R = compute_descriptors(reference, k=8)
    for s in (0, 5, 9):
        own = X[offsets[s]:offsets[s + 1]]
        p = brute_force_kernel_sum(own, own, 0.015)  # H = -mean ln(p_i / n), by definition
        assert props["entropy"]["values"][s] == pytest.approx(-np.mean(np.log(p / len(own))))
        dh_ref = brute_force_differential_entropy(own, R, 0.015)
        assert props["max dH (reference)"]["values"][s] == pytest.approx(dh_ref.max(), abs=1e-8)
        rest = np.delete(X, np.arange(offsets[s], offsets[s + 1]), axis=0)
        dh = brute_force_differential_entropy(own, rest, 0.015)
        assert props["max dH (rest)"]["values"][s] == pytest.approx(dh.max(), abs=1e-8)
        atoms_dh = m.atom_properties["dH (rest)"]["values"][offsets[s]:offsets[s + 1]]
        assert np.allclose(atoms_dh, dh, atol=1e-8)
        assert props["energy per atom"]["values"][s] == pytest.approx(-3.5 + 0.1 * s / counts[s])
    assert props["kind"]["values"] == [a.info["kind"] for a in data]
    assert props["group"]["values"].tolist() == [i % 3 for i in range(len(data))]
    # the plane: the two leading principal axes of the mean descriptors, from numpy's SVD
    # (each axis up to its sign)
    means = np.stack([X[offsets[s]:offsets[s + 1]].mean(axis=0) for s in range(len(data))])
    centred = means - means.mean(axis=0)
    axes = np.linalg.svd(centred, full_matrices=False)[2][:2]
    expected = centred @ axes.T
    signs = np.sign(np.sum(m.coordinates * expected, axis=0))
    assert np.allclose(m.coordinates, expected * signs, atol=1e-9)


def test_large_datasets_are_thinned_by_coverage_and_say_so(data):
    from quests.compression import select_structures
    from quests.descriptor import compute_descriptors
    from quests.maps import dataset_map

    m = dataset_map(data, max_points=4, k=8)
    X = compute_descriptors(data, k=8)
    chosen = select_structures(X, [len(a) for a in data], 4, "coverage")
    assert m.shown.tolist() == sorted(chosen.indices.tolist())
    assert m.note == "4 of 11 structures shown, chosen by coverage compression (not at random)"
    e = dataset_map(data, environments=True, max_points=50, k=8)
    assert e.coordinates.shape == (50, 2) and e.environments.shape == (50, 2)
    assert len(e.atom_properties["dH (rest)"]["values"]) == 50
    assert f"50 of {sum(len(a) for a in data)} environments shown" in e.note


def test_the_chemiscope_input_is_strict_json_of_the_map(data):
    from quests.maps import dataset_map

    m = dataset_map(data, k=8)
    d = m.to_chemiscope(color="group")
    text = json.dumps(d, allow_nan=False)
    assert d["settings"]["map"]["color"]["property"] == "group"
    assert d["settings"]["structure"][0]["color"]["property"] == "dH (rest)"
    assert len(d["structures"]) == len(data) and len(d["environments"]) == sum(len(a) for a in data)
    assert "coverage" not in d["meta"]["description"] and "PCA" in text
    with pytest.raises(Exception, match="cannot colour by 'nothing'"):
        m.to_chemiscope(color="nothing")


def _write(tmp_path, data, *args):
    import ase.io

    ase.io.write(tmp_path / "d.xyz", data)
    out = tmp_path / "m.html"
    result = CliRunner().invoke(cli, ["map", str(tmp_path / "d.xyz"), "-k", "8", "-o",
                                      str(out), "-q", *args])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("argv,words", [
    (["-o", "{d}/m.png"], "a map is written as .html"),
    (["-o", "{d}/m.gz"], "a map is written as .html"),
    (["-o", "{d}/missing/m.html"], "does not exist"),
    (["-o", "{d}/m.html", "--color", "nothing"], "cannot colour by 'nothing'"),
    (["-o", "{d}/m.html", "--projection", "tsne"], "Invalid value"),
])
def test_bad_map_requests_give_one_error_line(tmp_path, data, argv, words):
    import ase.io

    ase.io.write(tmp_path / "d.xyz", data)
    result = CliRunner().invoke(cli, ["map", str(tmp_path / "d.xyz"), "-k", "8", "-q"]
                                + [a.format(d=tmp_path) for a in argv])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and words in result.output and len(lines) <= 3, result.output
    assert not (tmp_path / "m.html").exists()


def test_a_missing_chemiscope_names_the_extra(tmp_path, data, monkeypatch):
    import sys

    import ase.io

    ase.io.write(tmp_path / "d.xyz", data)
    monkeypatch.setitem(sys.modules, "chemiscope", None)
    result = CliRunner().invoke(cli, ["map", str(tmp_path / "d.xyz"), "-o",
                                      str(tmp_path / "m.html"), "-q"])
    assert result.exit_code == 2 and "pip install 'quests[map]'" in result.output


def test_json_outputs_are_chemiscope_inputs(tmp_path, data):
    import gzip

    import ase.io

    ase.io.write(tmp_path / "d.xyz", data)
    for name in ("m.json.gz", "m.json"):
        result = CliRunner().invoke(cli, ["map", str(tmp_path / "d.xyz"), "-k", "8", "-o",
                                          str(tmp_path / name), "-q"])
        assert result.exit_code == 0, result.output
    packed = json.loads(gzip.decompress((tmp_path / "m.json.gz").read_bytes()))
    assert packed == json.loads((tmp_path / "m.json").read_text())
    assert set(packed) >= {"meta", "structures", "properties", "settings", "environments"}


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _browser(*args, timeout=300):
    return subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--virtual-time-budget=10000", *args],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed "
                    "(apt-get install chromium; .ci/run installs it)")
@pytest.mark.parametrize("environments", [False, True], ids=["structures", "environments"])
def test_the_page_loads_in_chromium_and_shows_its_points(tmp_path, data, environments):
    from matplotlib.image import imread

    out = _write(tmp_path, data, *(["--environments", "--max-points", "300"]
                                   if environments else []))
    dom = _browser("--dump-dom", out.as_uri()).stdout
    assert 'data-quests-map="loaded"' in dom, dom[-2000:]
    assert 'data-quests-errors="0"' in dom  # no uncaught error, nothing on console.error
    png = tmp_path / "m.png"
    _browser("--window-size=1400,900", f"--screenshot={png}", out.as_uri())
    image = imread(png)[..., :3]
    height, width = image.shape[:2]
    plot = image[int(0.08 * height):int(0.78 * height), int(0.06 * width):int(0.5 * width)]
    coloured = _marked(plot)
    # 11 points at least, each a disc of ~80 pixels; the white page and its light-grey
    # gridlines are not counted
    assert coloured > 11 * 30, coloured
    empty = _write_empty_page(tmp_path)
    _browser("--window-size=1400,900", f"--screenshot={png}", empty.as_uri())
    blank = imread(png)[..., :3][int(0.08 * height):int(0.78 * height),
                                 int(0.06 * width):int(0.5 * width)]
    assert _marked(blank) < coloured / 10


def _marked(pixels):
    """Pixels of a screenshot that are coloured or dark: the map's points and their
    outlines (the background is white, gridlines light grey)."""
    return int(((pixels.max(-1) - pixels.min(-1) > 0.25) | (pixels.max(-1) < 0.6)).sum())


def _write_empty_page(tmp_path):
    """The same page with every point off the axes: what a map without points looks like."""
    from quests.io import write_map
    from quests.maps import dataset_map
    from quests.data import mixed_cu_dataset

    m = dataset_map(mixed_cu_dataset(n_crystal=2, n_rattled=1, n_surface=0, n_melt=0), k=8)
    d = m.to_chemiscope()
    d["settings"]["map"]["x"]["min"], d["settings"]["map"]["x"]["max"] = 1e6, 2e6
    return write_map(os.path.join(tmp_path, "empty.html"), d, overwrite=True)


def test_a_map_needs_two_structures(data):
    from quests._errors import InvalidInputError
    from quests.maps import dataset_map

    with pytest.raises(InvalidInputError, match="at least 2 structures"):
        dataset_map(data[:1])
    with pytest.raises(InvalidInputError, match="max_points"):
        dataset_map(data, max_points=1)


def test_umap_is_used_where_installed_and_named_where_not(data, monkeypatch):
    import importlib.util
    import sys

    from quests._errors import InvalidInputError
    from quests.maps import project

    points = np.random.default_rng(0).normal(size=(30, 5))
    if importlib.util.find_spec("umap") is not None:
        xy, how = project(points, "umap")
        assert xy.shape == (30, 2) and how.startswith("UMAP")
    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(InvalidInputError, match="pip install umap-learn"):
        project(points, "umap")
