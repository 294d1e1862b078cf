"""Nearest-neighbour indexes over reference descriptors, for approximate dH.

An index proposes, for each query, m candidate neighbours among the
reference rows; the kernel sum is then taken over those m only, with the
distances re-measured exactly in float64 (``quests._kernels.kde``). Index
distances are float32 and, for graph indexes, approximate: they choose the
candidates, never the numbers.

Backends (chosen by name from ``BACKENDS``):

``"hnsw"`` (default)
    faiss's HNSW graph (``IndexHNSWFlat``): compiled ahead of time, so a new
    process pays no compilation (import ~0.1 s); built on one thread, so the
    same data give the same graph.
``"pynndescent"``
    pynndescent's NN-descent graph. Accurate, but its search functions are
    numba closures compiled at run time: tens of seconds of compilation in
    every new process (docs/benchmarks.md), so it is an option, not the default.
``"brute"``
    exact k nearest neighbours by exhaustive float32 search (faiss
    ``IndexFlatL2``): the reference for the graph indexes, and the right
    choice when the truncation error itself is what you want to see.
"""

import contextlib
import json
import numbers

import numpy as np

from quests import __version__, _engine, _kernels
from quests._defaults import BACKEND_NAMES
from quests._errors import InvalidInputError, QuestsError
from quests.io import ReadError, atomic_write, check_readable, to_jsonable
from quests._kernels import kde as _kk
from quests._threads import parallel_map, resolve_jobs
from quests._validation import N_JOBS, Interval, Options, check_descriptors, \
    check_estimator_params

__all__ = ["BACKENDS", "DEFAULT_BACKEND", "NeighborIndex", "write_index", "read_index"]

DEFAULT_BACKEND = BACKEND_NAMES[0]
#: HNSW graph degree and build-time beam width: recall@100 >= 0.99 on Cu MD
#: descriptors at efSearch = 128 (docs/benchmarks.md)
HNSW_LINKS = 32
HNSW_EF_CONSTRUCTION = 80
#: queries per search call: bounds the candidate arrays (rows x m x 8 bytes)
QUERY_CHUNK = 4096


@contextlib.contextmanager
def _omp_threads(n):
    import faiss

    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class _HNSW:
    name = "hnsw"

    def __init__(self, index=None):
        self.index = index

    def build(self, X32, seed, n_jobs):
        import faiss

        index = faiss.IndexHNSWFlat(X32.shape[1], HNSW_LINKS)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        # faiss draws HNSW levels from its own fixed-seed generator; one
        # thread makes the insertion order, hence the graph, reproducible
        with _omp_threads(1):
            index.add(X32)
        self.index = index
        return self

    def search(self, Y32, m, search_width, n_jobs):
        import faiss

        params = faiss.SearchParametersHNSW(efSearch=max(int(search_width), m))
        with _omp_threads(resolve_jobs(n_jobs)):
            _, found = self.index.search(Y32, m, params=params)
        return found

    def to_bytes(self):
        import faiss

        return faiss.serialize_index(self.index)

    @classmethod
    def from_bytes(cls, payload, X32, seed=0, n_jobs=None):
        """faiss's own binary format (plain arrays, no code), checked against the data.

        A file whose graph was altered could make faiss read out of bounds
        during a search, so the parsed graph is checked before use: one node
        per descriptor, the stored vectors equal to the descriptors (faiss
        cannot know those), and every link and the entry point within the
        index (faiss 1.15 checks the links itself while reading; the floor
        of our dependency, 1.8, is not known to, so the check stays).
        """
        import faiss

        index = faiss.deserialize_index(np.ascontiguousarray(payload, dtype=np.uint8))
        n = X32.shape[0]
        if not isinstance(index, faiss.IndexHNSWFlat) or index.ntotal != n \
                or index.d != X32.shape[1]:
            raise ValueError("the stored graph is not an HNSW index of these descriptors")
        if n and not np.array_equal(index.reconstruct_n(0, n), X32):
            raise ValueError("the stored graph's vectors differ from the descriptors")
        hnsw = index.hnsw
        levels = faiss.vector_to_array(hnsw.levels)
        offsets = faiss.vector_to_array(hnsw.offsets)
        neighbors = faiss.vector_to_array(hnsw.neighbors)
        per_level = faiss.vector_to_array(hnsw.cum_nneighbor_per_level)
        if (levels.size != n or offsets.size != n + 1 or offsets[0] != 0
                or np.any(np.diff(offsets.astype(np.int64)) < 0)
                or offsets[-1] != neighbors.size or per_level.size < 2
                or np.any(levels < 1) or levels.max(initial=1) >= per_level.size
                or np.any(np.diff(offsets.astype(np.int64))
                          != per_level[levels.astype(np.int64)])
                or np.any(neighbors < -1) or np.any(neighbors >= n)
                or not -1 <= hnsw.entry_point < n
                or hnsw.max_level != levels.max(initial=1) - 1):
            raise ValueError("the stored graph's links are inconsistent")
        return cls(index)


class _Brute(_HNSW):
    name = "brute"

    def build(self, X32, seed, n_jobs):
        import faiss

        index = faiss.IndexFlatL2(X32.shape[1])
        index.add(X32)
        self.index = index
        return self

    def search(self, Y32, m, search_width, n_jobs):
        with _omp_threads(resolve_jobs(n_jobs)):
            _, found = self.index.search(Y32, m)
        return found

    def to_bytes(self):
        return np.zeros(0, dtype=np.uint8)  # rebuilt from the descriptors on load

    @classmethod
    def from_bytes(cls, payload, X32, seed=0, n_jobs=None):
        _check_no_payload(payload)
        return cls().build(X32, 0, 1)


class _NNDescent:
    name = "pynndescent"

    def __init__(self, index=None):
        self.index = index

    def build(self, X32, seed, n_jobs):
        from pynndescent import NNDescent

        index = NNDescent(X32, metric="euclidean", n_neighbors=30, random_state=seed,
                          n_jobs=resolve_jobs(n_jobs), low_memory=True)
        index.prepare()
        self.index = index
        return self

    def search(self, Y32, m, search_width, n_jobs):
        # pynndescent's epsilon widens the search beam; 0.1 is its default
        found, _ = self.index.query(Y32, k=m, epsilon=0.1)
        return found

    def to_bytes(self):
        # pynndescent's index is a Python object graph that only pickle can store, and a
        # pickle from a file runs whatever code the file's writer put in it: store
        # nothing and rebuild from the descriptors on load (tens of seconds, safely)
        return np.zeros(0, dtype=np.uint8)

    @classmethod
    def from_bytes(cls, payload, X32, seed=0, n_jobs=None):
        _check_no_payload(payload)
        return cls().build(X32, seed, n_jobs)


def _check_no_payload(payload):
    """Backends rebuilt from the descriptors store no payload: a file that carries one was
    not written by quests (it is never read, but the file contradicts its format)."""
    if np.asarray(payload).size:
        raise ValueError("the file carries a payload its backend never stores")


#: backend name -> class; the keys feed the ``backend`` constraint
BACKENDS = {cls.name: cls for cls in (_HNSW, _NNDescent, _Brute)}


class NeighborIndex:
    """Candidate nearest neighbours of query descriptors among reference descriptors.

    Build once with ``fit``, then ``query`` any number of times; ``save`` and
    ``load`` keep it on disk (see ``write_index``).

    Parameters
    ----------
    backend : {'hnsw', 'pynndescent', 'brute'}, default='hnsw'
        See the module docstring.
    search_width : int, default=128
        Beam width of the graph search (HNSW ``efSearch``, raised to m when
        smaller): larger finds the true neighbours more often, slower.
    seed : int, default=0
        Seed of randomised builds (pynndescent).
    n_jobs : int or None, default=None
        Threads for building and searching.

    Attributes
    ----------
    descriptors_ : ndarray of shape (n_samples, n_features), float64
        The reference descriptors (1/Å), kept for exact distances.
    n_samples_ : int
    metadata_ : dict
        Free-form settings recorded with the index (descriptor k, cutoff,
        species), saved and loaded with it.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((500, 8))
    >>> index = NeighborIndex(backend="brute").fit(X)
    >>> found, d2 = index.query(X[:3], n_neighbors=2)
    >>> found[:, 0].tolist(), d2[:, 0].tolist()
    ([0, 1, 2], [0.0, 0.0, 0.0])
    """

    _parameter_constraints = {
        "backend": Options(*BACKENDS),
        "search_width": Interval(numbers.Integral, 1, None),
        "seed": Interval(numbers.Integral, 0, None),
        "n_jobs": N_JOBS,
    }

    def __init__(self, backend=DEFAULT_BACKEND, *, search_width=128, seed=0, n_jobs=None):
        self.backend = backend
        self.search_width = search_width
        self.seed = seed
        self.n_jobs = n_jobs

    def _check_params(self):
        check_estimator_params(self)

    def fit(self, X, metadata=None):
        """Build the index on reference descriptors X of shape (n_samples, n_features)."""
        self._check_params()
        X = check_descriptors(X, "reference descriptors")
        self.descriptors_ = X
        self.n_samples_ = X.shape[0]
        self.metadata_ = dict(metadata or {})
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        self._engine = BACKENDS[self.backend]().build(X32, self.seed, self.n_jobs)
        return self

    def _check_fitted(self):
        if not hasattr(self, "descriptors_"):
            raise AttributeError("this NeighborIndex is not fitted yet: call fit(X) first")

    def query(self, Y, n_neighbors):
        """Candidate neighbours of each row of Y, nearest first, with exact distances.

        Parameters
        ----------
        Y : array-like of shape (n_queries, n_features)
        n_neighbors : int
            m, the number of candidates per query (at most n_samples_).

        Returns
        -------
        found : ndarray of shape (n_queries, m), int64
            Row numbers in the reference; -1 where the search found fewer.
        sq_distances : ndarray of shape (n_queries, m), float64
            |y - x|^2 in (1/Å)^2, recomputed in float64, ascending; inf where
            ``found`` is -1.
        """
        self._check_fitted()
        if not isinstance(n_neighbors, numbers.Integral) or n_neighbors < 1:
            raise InvalidInputError(f"n_neighbors must be an int >= 1; got {n_neighbors!r}")
        Y = check_descriptors(Y, "query descriptors", min_rows=0)
        if Y.shape[1] != self.descriptors_.shape[1]:
            raise InvalidInputError(
                f"query descriptors have {Y.shape[1]} features but the index holds "
                f"{self.descriptors_.shape[1]}: both must be computed with the same descriptor "
                "settings (k, species)"
            )
        m = int(min(n_neighbors, self.n_samples_))
        # on a cluster the index goes to every worker once; each task searches one block
        return _engine.run("query", self, Y, m, local=_query_here,
                           when=Y.shape[0] > QUERY_CHUNK)

    def save(self, path, overwrite=False):
        """Write the index and its reference descriptors to ``path`` (atomically)."""
        self._check_fitted()
        return write_index(path, self, overwrite=overwrite)

    @classmethod
    def load(cls, path):
        """Read an index written by ``save``; a damaged file raises ``ReadError``."""
        return read_index(path)

    def _payload(self):
        return np.asarray(self._engine.to_bytes(), dtype=np.uint8)

    @classmethod
    def _from_payload(cls, descriptors, payload, settings, metadata):
        index = cls(**settings)
        index._check_params()
        index.descriptors_ = np.ascontiguousarray(descriptors, dtype=np.float64)
        index.n_samples_ = index.descriptors_.shape[0]
        index.metadata_ = dict(metadata)
        X32 = np.ascontiguousarray(index.descriptors_, dtype=np.float32)
        index._engine = BACKENDS[index.backend].from_bytes(payload, X32, index.seed,
                                                           index.n_jobs)
        return index

    def get_params(self):
        return {"backend": self.backend, "search_width": self.search_width, "seed": self.seed}


def _measure(Y, X, found, d2, n_jobs):
    _kernels.before_kernels()
    bounds = list(range(0, Y.shape[0], QUERY_CHUNK)) or [0]

    def work(start):
        stop = min(start + QUERY_CHUNK, Y.shape[0])
        _kk.gathered_sq_distances(Y[start:stop], X, found[start:stop], d2[start:stop])

    parallel_map(work, bounds, n_jobs)


# -- the index file: plain arrays and a JSON header, nothing that runs ---------------
_INDEX_FORMAT = "quests-neighbor-index"
_INDEX_VERSION = 1


def _sha256(array):
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(array).view(np.uint8)).hexdigest()


def _query_here(index, Y, m):
    """``NeighborIndex.query`` in this process, m <= n_samples_ candidates per row of Y."""
    found = np.empty((Y.shape[0], m), dtype=np.int64)
    d2 = np.empty((Y.shape[0], m), dtype=np.float64)
    for start in range(0, Y.shape[0], QUERY_CHUNK):
        stop = min(start + QUERY_CHUNK, Y.shape[0])
        rows = np.ascontiguousarray(Y[start:stop], dtype=np.float32)
        found[start:stop] = index._engine.search(rows, m, index.search_width, index.n_jobs)
    _measure(Y, index.descriptors_, found, d2, index.n_jobs)
    order = np.argsort(d2, axis=1, kind="stable")
    return np.take_along_axis(found, order, 1), np.take_along_axis(d2, order, 1)


def write_index(path, index, overwrite=False):
    """Save a fitted ``NeighborIndex`` to ``path`` (``.npz`` layout), atomically.

    The file holds the reference descriptors, the backend's own serialised
    index and a JSON header with checksums of both, so ``read_index`` can
    tell a damaged or foreign file from a good one.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((50, 4))
    >>> path = os.path.join(tempfile.mkdtemp(), "x.idx")
    >>> _ = write_index(path, NeighborIndex("brute").fit(x))
    >>> found, _ = read_index(path).query(x[:3], n_neighbors=1)
    >>> found[:, 0].tolist()
    [0, 1, 2]
    """
    descriptors = index.descriptors_
    payload = index._payload()
    header = {
        "format": _INDEX_FORMAT,
        "format_version": _INDEX_VERSION,
        "quests_version": __version__,
        "settings": index.get_params(),
        "n_samples": int(descriptors.shape[0]),
        "n_features": int(descriptors.shape[1]),
        "descriptors_sha256": _sha256(descriptors),
        "payload_sha256": _sha256(payload),
        "metadata": to_jsonable(index.metadata_),
    }
    text = json.dumps(header, allow_nan=False)
    return atomic_write(
        path,
        lambda f: np.savez(f, descriptors=descriptors, payload=payload, header=np.array(text)),
        overwrite,
        mode="wb",
    )


def read_index(path):
    """Load a ``NeighborIndex`` written by ``write_index``.

    Raises ``ReadError`` naming the file if it is missing, truncated,
    corrupt (checksum mismatch) or not a quests index. Nothing in the file is
    unpickled (see ``write_index`` for an example).

    Examples
    --------
    The reference of an ``UncertaintyEstimator``, saved and read back:

    >>> import os, shutil, tempfile
    >>> from quests.data import rattled_crystal
    >>> from quests.uncertainty import UncertaintyEstimator
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "cu.idx")
    >>> _ = UncertaintyEstimator(rattled_crystal("Cu", size=2)).fit().save(path)
    >>> index = read_index(path)
    >>> index.n_samples_, index.backend, index.metadata_["descriptor"]
    (32, 'brute', {'k': 32, 'cutoff': 5.0, 'species': None})
    >>> read_index(os.path.join(folder, "missing.idx"))
    Traceback (most recent call last):
    ...
    quests.io.ReadError: file not found: ...missing.idx
    >>> shutil.rmtree(folder)
    """
    check_readable(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            descriptors = np.asarray(data["descriptors"])
            payload = np.asarray(data["payload"])
    except Exception as exc:  # zipfile, zlib, json, numpy: all mean "damaged"
        raise ReadError(f"{path} is not a readable quests index file ({type(exc).__name__}: "
                        f"{exc})") from None
    if not isinstance(header, dict) or header.get("format") != _INDEX_FORMAT:
        raise ReadError(f"{path} is not a quests index file")
    if header.get("format_version") != _INDEX_VERSION:
        raise ReadError(f"{path} has index format version {header.get('format_version')!r}; "
                        f"this quests reads version {_INDEX_VERSION}")
    if (descriptors.ndim != 2 or descriptors.shape != (header.get("n_samples"),
                                                       header.get("n_features"))
            or _sha256(descriptors) != header.get("descriptors_sha256")
            or _sha256(payload) != header.get("payload_sha256")):
        raise ReadError(f"{path} is corrupt: its contents do not match their checksums")
    if descriptors.dtype.kind != "f" or not np.all(np.isfinite(descriptors)):
        raise ReadError(f"{path}: its descriptors are not finite floating-point numbers")
    try:
        return NeighborIndex._from_payload(descriptors, payload, header["settings"],
                                           header.get("metadata", {}))
    except QuestsError:
        raise
    except Exception as exc:
        raise ReadError(f"{path}: the stored index cannot be restored ({type(exc).__name__}: "
                        f"{exc})") from None
