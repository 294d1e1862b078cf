"""Files from users are data, never code (issue 15, class 2).

A ``--index`` file is written by whoever hands it over, checksums included,
so the checksums prove nothing about intent. These tests write index files
the way an attacker would (valid layout, valid checksums, hostile payload)
and check that loading them runs nothing and trusts nothing.
"""

import hashlib
import json
import pickle

import numpy as np
import pytest

from quests.io import ReadError
from quests.kde import NeighborIndex, read_index, write_index


def _sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array).view(np.uint8)).hexdigest()


def forge(path, payload):
    """Rewrite the payload of the index file at ``path``, with matching checksums."""
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        descriptors = np.asarray(data["descriptors"])
    payload = np.frombuffer(bytes(payload), dtype=np.uint8)
    header["payload_sha256"] = _sha256(payload)
    with open(path, "wb") as fh:
        np.savez(fh, descriptors=descriptors, payload=payload, header=np.array(json.dumps(header)))


class Marker:
    """Unpickling this runs ``open(path, 'w')``: the proof that a pickle was loaded."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def descriptors():
    return np.random.default_rng(0).random((600, 12))


@pytest.mark.parametrize("backend", ["pynndescent", "hnsw", "brute"])
def test_a_pickle_in_an_index_file_is_never_loaded(tmp_path, descriptors, backend):
    path = tmp_path / "crafted.idx"
    write_index(path, NeighborIndex(backend=backend).fit(descriptors))
    marker = tmp_path / "pwned"
    forge(path, pickle.dumps(Marker(marker)))
    try:
        index = read_index(path)
    except ReadError:
        index = None          # refused: fine, as long as nothing ran
    assert not marker.exists()
    if index is not None:     # pynndescent and brute rebuild from the descriptors
        found, _ = index.query(descriptors[:5], n_neighbors=1)
        assert found[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_pynndescent_index_is_stored_as_arrays_only(tmp_path, descriptors):
    path = tmp_path / "n.idx"
    write_index(path, NeighborIndex(backend="pynndescent").fit(descriptors))
    with np.load(path, allow_pickle=False) as data:
        assert data["payload"].size == 0
    index = read_index(path)
    found, _ = index.query(descriptors[:3], n_neighbors=1)
    assert found[:, 0].tolist() == [0, 1, 2]


def test_a_tampered_hnsw_graph_is_refused(tmp_path, descriptors):
    import faiss

    good = NeighborIndex(backend="hnsw").fit(descriptors)
    path = tmp_path / "h.idx"
    write_index(path, good)
    # a link out of range: faiss would follow it out of bounds during a search
    raw = good._engine.index
    neighbors = faiss.vector_to_array(raw.hnsw.neighbors)
    neighbors[np.argmax(neighbors >= 0)] = 10 ** 6
    faiss.copy_array_to_vector(neighbors, raw.hnsw.neighbors)
    forge(path, faiss.serialize_index(raw))
    with pytest.raises(ReadError, match="cannot be restored.*(links|out of range)"):
        read_index(path)
    # vectors that are not the stored descriptors
    other = NeighborIndex(backend="hnsw").fit(descriptors + 1.0)
    forge(path, faiss.serialize_index(other._engine.index))
    with pytest.raises(ReadError, match="differ from the descriptors"):
        read_index(path)
    # garbage bytes
    forge(path, b"\x00" * 64)
    with pytest.raises(ReadError, match="cannot be restored"):
        read_index(path)
