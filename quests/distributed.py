"""Run quests on a dask cluster (``dask.distributed``): kernel sums as blocks across
workers, descriptors per chunk of frames, chunked on-disk descriptor stores.

Nothing here changes what is computed, only where. Inside ``with dask_engine(...)``
every exact kernel sum (entropy, diversity, dH, overlap, the sampled entropy's
batches, compression's sums) and every descriptor calculation of several
structures goes to the cluster:

- Kernel sums: the (centred) descriptors are cut into blocks of ``block_rows``
  rows, each held by a task that carries its rows (so the scheduler can make a
  block again if its worker is lost), and each task sums one pair of blocks.
  Only per-block sums, (rows, n_h), travel back; the client adds them up in a
  fixed order, so a run is reproducible and equals the single-process sums to
  rounding (about 1e-15 relative).
- Descriptors: chunks of about ``block_rows`` atoms (whole frames) per task.
- The approximate dH: a fitted ``NeighborIndex`` goes to every worker once and
  each task searches one block of queries (the same candidates as in one
  process); descriptor stores (``quests.io.DescriptorStore``) are read block by
  block by the workers, never by the client.
- Faults: a task whose worker dies is run again elsewhere by the scheduler
  (the result is the same); a lost scheduler raises ``SchedulerError``.

``--scheduler ADDRESS`` (or ``QUESTS_SCHEDULER``) on the command line; ``local``
starts a ``LocalCluster`` on this machine. Without it nothing of dask is imported.

Example (``tests/test_distributed.py`` runs the same on a LocalCluster)::

    from quests.distributed import dask_engine
    from quests.kde import entropy

    with dask_engine("local", n_workers=2):
        H = entropy(X)  # the same number as without the block
"""

import contextlib
import functools
import os
import uuid

import numpy as np

from quests import _engine
from quests._errors import QuestsError

__all__ = ["SCHEDULER_ENV", "DEFAULT_BLOCK_ROWS", "SchedulerError", "resolve_scheduler",
           "dask_engine", "scheduled", "DaskEngine"]

#: environment variable read when no --scheduler is given
SCHEDULER_ENV = "QUESTS_SCHEDULER"
#: rows per block of a kernel-sum task (a block pair is 8192^2 pairs: ~0.3 s of work)
DEFAULT_BLOCK_ROWS = 8192


class SchedulerError(QuestsError):
    """The dask scheduler cannot be reached, or was lost during a run.

    Examples
    --------
    A mistyped address fails at once, before any work:

    >>> with dask_engine("udp://127.0.0.1:8786"):
    ...     pass
    Traceback (most recent call last):
    ...
    quests.distributed.SchedulerError: cannot reach the dask scheduler at udp://127.0.0.1:8786:
    ValueError: unknown address scheme 'udp' ...
    """


def resolve_scheduler(option=None):
    """The scheduler to use: ``option``, else ``$QUESTS_SCHEDULER``, else None (no dask).

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> resolve_scheduler("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    >>> with mock.patch.dict(os.environ, {"QUESTS_SCHEDULER": "local"}):
    ...     print(resolve_scheduler(), resolve_scheduler("tcp://10.0.0.5:8786"))
    local tcp://10.0.0.5:8786
    >>> with mock.patch.dict(os.environ):
    ...     _ = os.environ.pop("QUESTS_SCHEDULER", None)
    ...     print(resolve_scheduler())
    None
    """
    value = option or os.environ.get(SCHEDULER_ENV) or None
    return None if value is None else str(value)


def scheduled(option=None):
    """``dask_engine`` on the scheduler ``resolve_scheduler(option)`` names, or a context
    that does nothing where none is named (then nothing of dask is imported).

    Examples
    --------
    With no scheduler named (and none in ``$QUESTS_SCHEDULER``) the work runs
    in this process:

    >>> import os
    >>> from unittest import mock
    >>> import numpy as np
    >>> from quests.kde import entropy
    >>> with mock.patch.dict(os.environ):
    ...     _ = os.environ.pop("QUESTS_SCHEDULER", None)
    ...     with scheduled(None) as engine:
    ...         H = entropy(np.zeros((10, 3)))
    >>> engine, H
    (None, 0.0)

    Naming one runs the same on a cluster (here a local one):

    >>> with scheduled("local") as engine:  # doctest: +SKIP
    ...     print(type(engine).__name__, engine.block_rows)
    DaskEngine 8192
    """
    address = resolve_scheduler(option)
    return contextlib.nullcontext() if address is None else dask_engine(address)


def _connect(scheduler, n_workers):
    from quests._optional import require

    distributed = require("distributed", "--scheduler", "distributed", SchedulerError)
    Client, LocalCluster = distributed.Client, distributed.LocalCluster
    if scheduler == "local":
        # processes, not threads: the numba and BLAS kernels hold the GIL in places, and a
        # killed worker process must not take the client down with it
        cluster = LocalCluster(n_workers=n_workers or max(1, (os.cpu_count() or 2)),
                               threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=":0")
        return Client(cluster), cluster
    try:
        return Client(scheduler, timeout="10s"), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(f"cannot reach the dask scheduler at {scheduler}: "
                             f"{type(exc).__name__}: {exc}") from None


@contextlib.contextmanager
def dask_engine(scheduler="local", *, n_workers=None, block_rows=DEFAULT_BLOCK_ROWS,
                client=None):
    """Within the block, kernel sums and descriptors run on a dask cluster.

    Parameters
    ----------
    scheduler : str, default='local'
        A scheduler address (``tcp://host:8786``) or ``'local'`` for a
        ``LocalCluster`` of ``n_workers`` single-threaded worker processes.
    n_workers : int or None
        Workers of a local cluster (default: one per core).
    block_rows : int, default=8192
        Rows per block of a kernel-sum task, atoms per descriptor task.
    client : distributed.Client, optional
        Use this client (left open) instead of connecting.

    Yields
    ------
    DaskEngine

    Examples
    --------
    The entropy of 2000 environments, summed in blocks of 500 rows by two
    local workers, is the same number as in one process:

    >>> import numpy as np
    >>> from quests.kde import entropy
    >>> x = np.random.default_rng(0).normal(scale=0.02, size=(2000, 8))
    >>> with dask_engine("local", n_workers=2, block_rows=500):  # doctest: +SKIP
    ...     H = entropy(x)
    >>> round(H, 6) == round(entropy(x), 6)  # doctest: +SKIP
    True
    """
    cluster = None
    if client is None:
        client, cluster = _connect(scheduler, n_workers)
        owned = True
    else:
        owned = False
    engine = DaskEngine(client, block_rows)
    token = _engine.activate(engine)
    try:
        yield engine
    finally:
        _engine.deactivate(token)
        engine.release()
        if owned:
            with contextlib.suppress(Exception):
                client.close()
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close()


# -- tasks (run on the workers, where no engine is set) ------------------------------
def _task(function, *args):
    """``function(*args)`` on a worker, in this process only (see ``quests._engine.here``)."""
    with _engine.here():
        return function(*args)


def _identity(data):
    return data


def _rows_task(block, rows):
    return block[rows]


def _read_block_task(store, number):
    return store.block(number)


def _centre_task(block, centre):
    return block - centre


def _column_sums_task(block):
    return block.sum(axis=0)


def _store_key(store):
    """What a store's blocks on the cluster were made from: the store and its centre."""
    return ("store", store.path, tuple(store.block_names),
            None if store.centre is None else store.centre.tobytes())


def _partition_index_task(store, number, backend):
    from quests.kde import NeighborIndex

    return NeighborIndex(backend, n_jobs=1).fit(store.block(number))


def _partition_query_task(query, index, queries, n_neighbors, offset):
    found, d2 = query(index, queries, min(n_neighbors, index.n_samples_))
    return np.where(found >= 0, found + offset, -1), d2


def _translated(method):
    """Engine methods report a lost scheduler as ``SchedulerError`` (see ``_guard``)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        return self._guard(lambda: method(self, *args, **kwargs))

    return wrapper


class DaskEngine:
    """Runs the block tasks of kernel sums and descriptors on a ``distributed.Client``.

    Made by ``dask_engine``; holds on the cluster the blocks of the latest
    array it summed over (the sampled entropy sums batch after batch over the
    same X), and the blocks and indexes of the stores it read.

    Examples
    --------
    Descriptors of four frames, computed in chunks of whole frames by two
    local workers:

    >>> from quests.data import rattled_crystal
    >>> from quests.descriptor import compute_descriptors
    >>> frames = [rattled_crystal(seed=s) for s in range(4)]
    >>> with dask_engine("local", n_workers=2, block_rows=64) as engine:  # doctest: +SKIP
    ...     print(engine.block_rows, len(engine.client.nthreads()))
    ...     x = compute_descriptors(frames)
    64 2
    >>> x.shape  # doctest: +SKIP
    (128, 63)
    """

    def __init__(self, client, block_rows=DEFAULT_BLOCK_ROWS):
        if not (isinstance(block_rows, int) and block_rows >= 1):
            raise QuestsError("block_rows must be an int >= 1")
        self.client = client
        self.block_rows = block_rows
        self._array = None  # (key, X, blocks): only the latest in-memory array is kept
        self._kept = {}  # stores' blocks and indexes, by what they were made from

    def release(self):
        """Forget the blocks and indexes held on the cluster (the workers drop them)."""
        self._array = None
        self._kept.clear()

    def _submit(self, function, *args):
        """A task that runs ``function(*args)`` on a worker, keyed by the function's name so
        that the dashboard and task stream say what ran."""
        return self.client.submit(_task, function, *args, pure=False,
                                  key=f"{function.__name__}-{uuid.uuid4().hex}")

    def _held(self, data):
        """A future of ``data`` that the cluster can always make again: the data rides in
        the task itself, so if the worker holding the result is lost the scheduler reruns
        the task elsewhere (a scattered copy would be lost with its worker, and dask trims
        extra copies)."""
        return self.client.submit(_identity, data, pure=False)

    @_translated
    def _row_blocks(self, Y):
        """Y cut into contiguous blocks of ``block_rows`` rows."""
        return [np.ascontiguousarray(Y[a:a + self.block_rows])
                for a in range(0, Y.shape[0], self.block_rows)]

    def column_mean(self, store):
        """Mean row of a ``DescriptorStore``, from per-block sums of the blocks the workers
        hold (read once: the centred blocks are made from the same reads)."""
        tasks = [self.client.submit(_column_sums_task, future, pure=False)
                 for _, _, future in self._blocks(store.centred(None))]
        return sum(self._results(tasks, "column sums", False)) / store.shape[0]

    def store_rows(self, store, numbers, wanted, local=None):
        """Rows ``wanted[i]`` (within block ``numbers[i]``) of a ``DescriptorStore``, taken
        from the blocks the workers hold (read once): a list of arrays. (``local``, the
        reading of the store in one process, is not needed: the blocks are held.)"""
        blocks = self._blocks(store)
        tasks = [self.client.submit(_rows_task, blocks[int(b)][2], w, pure=False)
                 for b, w in zip(numbers, wanted)]
        return list(self._results(tasks, "store rows", False))

    def _blocks(self, X):
        """[(start, stop, future)] of X's row blocks: for an array, one task per block
        holding its rows; for a ``DescriptorStore``, read from the store by the workers.
        Either way a block whose worker is lost is made again."""
        from quests.io import DescriptorStore

        if isinstance(X, DescriptorStore):
            key = _store_key(X)
            if key not in self._kept:
                if X.centre is None:  # read from the store
                    futures = [self.client.submit(_read_block_task, X, b, pure=False)
                               for b in range(X.n_blocks)]
                else:  # centred from the blocks as read
                    futures = [self.client.submit(_centre_task, raw, X.centre, pure=False)
                               for _, _, raw in self._blocks(X.centred(None))]
                self._kept[key] = (X, [(int(X.offsets[b]), int(X.offsets[b + 1]), f)
                                       for b, f in enumerate(futures)])
            return self._kept[key][1]
        key = (id(X), X.shape, X.__array_interface__["data"][0])
        if self._array is None or self._array[0] != key:
            # one array at a time: the sampled entropy reuses X batch after batch, while
            # compression passes a new array at every step
            starts = range(0, X.shape[0], self.block_rows)
            blocks = [(a, min(a + self.block_rows, X.shape[0]),
                       self._held(np.ascontiguousarray(X[a:a + self.block_rows])))
                      for a in starts]
            self._array = (key, X, blocks)  # X kept alive, so its id is not reused
        return self._array[2]

    def _guard(self, call):
        """Run a client call; a lost scheduler becomes one clear ``SchedulerError``, a task
        that keeps killing its workers a ``QuestsError``."""
        try:
            return call()
        except QuestsError:
            raise  # said already (by an inner guard, or by our own code)
        except Exception as exc:
            name = type(exc).__name__
            if self.client.status != "running" or name == "CommClosedError":
                raise SchedulerError(f"lost the dask scheduler (client {self.client.status}: "
                                     f"{name}: {exc})") from None
            if name == "KilledWorker":
                raise QuestsError(f"a task killed every worker that ran it ({exc}): out of "
                                  "memory? try smaller blocks") from None
            raise

    def _results(self, futures, label, verbose):
        """Results of ``futures`` in order, with a progress bar."""
        from quests._progress import progress_bar

        with progress_bar(len(futures), label, verbose, unit="task") as bar:
            for future in futures:
                result = self._guard(future.result)
                bar.update()
                yield result

    @_translated
    def self_sums(self, X, scale_h, tile_size, n_jobs, verbose, *, local, pair):
        """sum_j K(x_i, x_j) over X, shape (N, n_h): one task per pair of blocks, each
        running ``local`` (the sums of one block over itself) or ``pair`` (of two blocks
        over each other) in one thread. ``n_jobs`` is the local path's; a worker runs one
        thread."""
        blocks = self._blocks(X)
        tasks, places = [], []
        for i, (a0, a1, fa) in enumerate(blocks):
            tasks.append(self._submit(local, fa, scale_h, tile_size, 1, False))
            places.append((i, None))
            for j in range(i + 1, len(blocks)):
                tasks.append(self._submit(pair, fa, blocks[j][2], scale_h, tile_size))
                places.append((i, j))
        sums = np.zeros((X.shape[0], scale_h.shape[0]))
        for (i, j), result in zip(places, self._results(tasks, "kernel sums", verbose)):
            a0, a1, _ = blocks[i]
            if j is None:
                sums[a0:a1] += result
            else:
                b0, b1, _ = blocks[j]
                sums[a0:a1] += result[0]
                sums[b0:b1] += result[1]
        return sums

    @_translated
    def cross_log_sums(self, Y, X, scale_h, tile_size, n_jobs, verbose, *, local):
        """ln sum_j K(y, x_j) for each row of Y, shape (n_y, n_h): one task per (Y block,
        X block), each running ``local`` in one thread; the client combines the X blocks
        by log-sum-exp."""
        reference = self._blocks(X)
        queries = self._row_blocks(Y)
        query_futures = [self._held(q) for q in queries]
        tasks = [self._submit(local, fq, fx, scale_h, tile_size, 1, False)
                 for fq in query_futures for _, _, fx in reference]
        results = self._results(tasks, "kernel sums", verbose)
        out = []
        for _ in queries:
            total = next(results)
            for _ in reference[1:]:
                total = np.logaddexp(total, next(results))
            out.append(total)
        return np.concatenate(out)

    @_translated
    def query(self, index, Y, n_neighbors, *, local, verbose=False):
        """``NeighborIndex.query`` of Y's row blocks across the workers: (found, sq_distances),
        each (n_queries, n_neighbors), the same as in one process (a search depends only
        on the index and the query row). Each task runs ``local(index, block, m)``."""
        # refitting an index replaces its descriptors_: a new key
        key = ("index", id(index), id(index.descriptors_))
        if key not in self._kept:
            self._kept[key] = ((index, index.descriptors_), self._held(index))
        remote = self._kept[key][1]
        queries = self._row_blocks(Y)
        tasks = [self._submit(local, remote, q, n_neighbors)
                 for q in queries]
        parts = list(self._results(tasks, "neighbour search", verbose))
        return (np.concatenate([found for found, _ in parts]),
                np.concatenate([d2 for _, d2 in parts]))

    @_translated
    def partitioned_query(self, store, Y, n_neighbors, backend, *, local, verbose=False):
        """Candidates of Y's rows among a ``DescriptorStore`` too large for one index: one
        ``NeighborIndex`` per store block, built once on a worker and kept there; each
        task searches one (query block, store block) pair. Returns (found, sq_distances),
        (n_queries, m), the m nearest of all the blocks' candidates, ascending. Each task
        searches with ``local(index, block, m)``."""
        if Y.shape[0] == 0:
            m = int(min(n_neighbors, store.shape[0]))
            return np.empty((0, m), dtype=np.int64), np.empty((0, m))
        key = ("partitions", backend, *_store_key(store))
        if key not in self._kept:
            self._kept[key] = (store, [
                (int(store.offsets[b]), self.client.submit(_partition_index_task, store, b,
                                                           backend, pure=False))
                for b in range(store.n_blocks)])
        partitions = self._kept[key][1]
        m = int(min(n_neighbors, store.shape[0]))
        queries = self._row_blocks(Y)
        remote = [self._held(q) for q in queries]
        tasks = [self.client.submit(_partition_query_task, local, index, q, m, offset,
                                    pure=False)
                 for q in remote for offset, index in partitions]
        results = self._results(tasks, "neighbour search", verbose)
        found_parts, d2_parts = [], []
        for _ in queries:
            pieces = [next(results) for _ in partitions]
            found = np.concatenate([f for f, _ in pieces], axis=1)
            d2 = np.concatenate([d for _, d in pieces], axis=1)
            order = np.argsort(d2, axis=1, kind="stable")[:, :m]
            found_parts.append(np.take_along_axis(found, order, 1))
            d2_parts.append(np.take_along_axis(d2, order, 1))
        return np.concatenate(found_parts), np.concatenate(d2_parts)

    @_translated
    def describe(self, frames, k, cutoff, species, dtype, verbose=False, *, local):
        """Descriptors of ``frames`` (rows in order), chunks of whole frames across workers;
        each task runs ``local(chunk, first, k, cutoff, species, dtype)``."""
        from quests.descriptor import frame_chunks

        chunks = frame_chunks([f.positions.shape[0] for f in frames], self.block_rows)
        tasks = [self._submit(local, frames[a:b], a, k, cutoff, species, dtype)
                 for a, b in chunks]
        return np.concatenate(list(self._results(tasks, "descriptors", verbose)))

    @_translated
    def store_blocks(self, store, frames, chunks, k, cutoff, species, dtype, sources,
                     verbose=False, *, local):
        """Each chunk of frames computed and written as one block of ``store`` by a worker;
        returns the rows of each block. Only frames travel to the workers, and only row
        counts come back."""
        tasks = [self._submit(local, str(store), block, frames[a:b], a, k, cutoff, species,
                              dtype, sources[a:b], 1)
                 for block, (a, b) in enumerate(chunks)]
        try:
            return list(self._results(tasks, "descriptor store", verbose))
        except BaseException:
            # no task may go on writing into a store that is about to be discarded
            self.client.cancel(tasks)
            raise
