"""Chunked descriptor stores (.zarr folders), written block by block and read lazily."""

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from quests import __version__
from quests._errors import InvalidInputError, OutputError
from quests.io._outputs import OutputAppearedError, _temporary_prefix, \
    clean_stale_temporaries, output_mode, to_jsonable
from quests.io._paths import ReadError


_STORE_FORMAT = "quests-descriptor-store"
_STORE_VERSION = 1
#: per-row arrays a store block holds besides the descriptors
STORE_ROW_ARRAYS = ("structure_index", "atom_index", "numbers", "source")


def _zarr():
    from quests._optional import require

    return require("zarr", "descriptor stores (.zarr)", "distributed", OutputError)


def check_store_path(path, overwrite=False):
    """Fail early, before any work, if a descriptor store cannot be written at ``path``:
    it exists (a store is replaced only with ``overwrite``, anything else never), or its
    folder is missing or not writable. Returns the ``Path``."""
    p = Path(path)
    if p.exists():
        if not overwrite:
            raise OutputError(f"output {path} exists (use --overwrite to replace it)")
        if not _is_store(p):
            raise OutputError(f"output {path} exists and is not a quests descriptor store; "
                              "not replaced")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is missing or not writable")
    return p


def begin_descriptor_store(path, overwrite=False):
    """A temporary folder beside ``path`` for a store written block by block, after
    ``check_store_path``; ``finish_descriptor_store`` renames it to ``path``."""
    p = check_store_path(path, overwrite)
    clean_stale_temporaries(p)
    tmp = Path(tempfile.mkdtemp(prefix=_temporary_prefix(p), suffix=".partial", dir=p.parent))
    return _new_store(tmp)


def _new_store(folder, **attrs):
    """An empty store being built in ``folder`` (its attributes plus ``attrs``)."""
    group = _zarr().open_group(str(folder), mode="w")
    group.attrs.update({"format": _STORE_FORMAT, "version": _STORE_VERSION, "complete": False,
                        **attrs})
    # made here, once: workers that each 'required' it raced, and the loser's
    # create failed with ContainsGroupError (seen in CI)
    group.create_group("blocks")
    return folder


@contextlib.contextmanager
def resumable_descriptor_store(path, key, overwrite=False, restart=False):
    """Context manager: the store being built for ``path`` by a run that can be resumed,
    and its complete blocks so far: ``(store, blocks)``, blocks a list of ``(rows,
    resume_at)`` for blocks 0, 1, ... up to the first missing one. Inside the block no
    other run can open it (a lock file ``.NAME.quests-resume.lock`` beside ``path``).

    The store is the folder ``.NAME.quests-resume.partial`` beside ``path``. One left by an
    interrupted run with the same ``key`` (a digest of the inputs and settings) is
    continued: its blocks after the first missing, incomplete or unreadable one are
    removed. One with another key, or any with ``restart``, is replaced by an empty one.
    ``finish_descriptor_store`` renames it to ``path``; a run that does not get there
    leaves it for the next.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with resumable_descriptor_store(os.path.join(folder, "d.zarr"), "key") as found:
    ...     store, blocks = found
    >>> os.path.basename(store), blocks
    ('.d.zarr.quests-resume.partial', [])
    >>> shutil.rmtree(folder)
    """
    import fcntl

    p = check_store_path(path, overwrite)
    lock_path = p.parent / f".{p.name}.quests-resume.lock"
    partial = p.parent / f".{p.name}.quests-resume.partial"
    try:
        lock = open(lock_path, "a")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: its lock file {lock_path.name}: "
                          f"{exc.strerror}") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(f"another run is writing {path}; wait for it to end") from None
        try:
            if restart:
                shutil.rmtree(partial, ignore_errors=True)
            yield _open_resumable(p, partial, key)
        finally:
            if not partial.exists():  # finished, or nothing written: nothing to resume
                lock_path.unlink(missing_ok=True)


def _open_resumable(p, store, key):
    """(store, complete blocks) of the partial store ``store`` for key ``key``."""
    blocks = []
    if store.is_dir():
        found = _complete_blocks(store, key)
        if found is not None:
            blocks, names = found
            kept = {name for name, _, _ in blocks}
            for name in names:  # half-written blocks and those after a gap
                if name not in kept:
                    shutil.rmtree(store / "blocks" / name, ignore_errors=True)
            return store, [(rows, at) for _, rows, at in blocks]
        shutil.rmtree(store)
    clean_stale_temporaries(p)
    return _new_store(store, resume_key=key), blocks


def _complete_blocks(store, key):
    """([(name, rows, resume_at)] of blocks 0, 1, ... complete, [every block folder]) of a
    partial store written with ``key``; None where it is another key's or unreadable."""
    try:
        group = _zarr().open_group(str(store), mode="r")
        if dict(group.attrs).get("resume_key") != key:
            return None
    except Exception:  # noqa: BLE001 - a damaged partial store: start again
        return None
    folder = store / "blocks"
    names = sorted(f.name for f in folder.iterdir() if f.is_dir()) if folder.is_dir() else []
    by_number = {}
    for name in names:
        try:  # a block killed while it was written may be unreadable: incomplete
            sub = group[f"blocks/{name}"]
            attrs = dict(sub.attrs)
            rows, at = attrs.get("rows"), attrs.get("resume_at")
            complete = rows is not None and _complete_block(sub, rows)
        except Exception:  # noqa: BLE001 - zarr raises many types for damaged metadata
            complete = False
        if complete:
            by_number.setdefault(int(name.split(".")[0]), (name, rows, at))
    blocks = []
    while len(blocks) in by_number:
        blocks.append(by_number[len(blocks)])
    return blocks, names


def _is_store(path):
    try:
        return dict(_zarr().open_group(str(path), mode="r").attrs).get("format") == \
            _STORE_FORMAT
    except Exception:  # noqa: BLE001 - zarr raises many types for a folder that is not one
        return False


def write_store_block(store, block, descriptors, resume_at=None, **rows):
    """Write block number ``block`` (its descriptors and ``STORE_ROW_ARRAYS``) into a store
    being built. Each call writes under a name of its own (``NNNNNN.<random>``), so
    workers, and a retried task beside a presumed-dead one, never write the same arrays;
    ``finish_descriptor_store`` keeps one complete copy of each block. The block's
    ``rows`` attribute, written last, marks it complete; ``resume_at`` (JSON) is kept
    beside it: where reading the inputs goes on after this block (a resumed run)."""
    import uuid

    group = _zarr().open_group(str(store), mode="r+")
    sub = group["blocks"].create_group(f"{block:06d}.{uuid.uuid4().hex}")
    chunk = (max(1, min(len(descriptors), 65536)), descriptors.shape[1])
    sub.create_array("descriptors", data=np.ascontiguousarray(descriptors), chunks=chunk)
    for key in STORE_ROW_ARRAYS:
        sub.create_array(key, data=np.ascontiguousarray(rows[key]),
                         chunks=(max(1, min(len(descriptors), 65536)),))
    sub.attrs.update({"resume_at": to_jsonable(resume_at), "rows": int(len(descriptors))})
    return len(descriptors)


def finish_descriptor_store(store, path, rows_per_block, metadata, overwrite=False):
    """Check every block, mark the store complete and rename it to ``path``.

    Only a store that reached this point is ever read: ``read_descriptors``
    refuses one without the mark (an interrupted run), whatever it holds.
    """
    group = _zarr().open_group(str(store), mode="r+")
    written = sorted(group["blocks"].group_keys()) if "blocks" in group else []
    names = []
    for block, n_rows in enumerate(rows_per_block):
        complete = [name for name in written if name.startswith(f"{block:06d}.")
                    and _complete_block(group[f"blocks/{name}"], n_rows)]
        if not complete:
            raise OutputError(f"{store}: block {block} is missing or incomplete")
        names.append(complete[0])
    n_features = group[f"blocks/{names[0]}/descriptors"].shape[1] if names else 0
    group.attrs.update({
        "quests_version": __version__, "metadata": to_jsonable(metadata),
        "block_names": names, "rows_per_block": [int(n) for n in rows_per_block],
        "n_rows": int(sum(rows_per_block)), "n_features": int(n_features), "complete": True})
    p = Path(path)
    os.chmod(store, output_mode(p, directory=True))
    if p.exists():
        if not overwrite:
            raise OutputAppearedError(f"output {path} appeared while writing; not replaced")
        old = Path(tempfile.mkdtemp(prefix=_temporary_prefix(p), suffix=".old", dir=p.parent))
        with _signals_held():  # SIGINT/SIGTERM wait until both renames are done
            os.replace(p, old / p.name)
            os.replace(store, p)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(store, p)
    return p


@contextlib.contextmanager
def _signals_held():
    """Hold SIGINT and SIGTERM back (this thread) for a few renames that must not be
    split; they are delivered when the block ends."""
    import signal

    held = {signal.SIGINT, signal.SIGTERM}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, OSError, ValueError):  # no pthread_sigmask on this platform
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _complete_block(sub, n_rows):
    """Every array of a written block is there with ``n_rows`` rows."""
    try:
        return all(sub[key].shape[0] == n_rows for key in ("descriptors", *STORE_ROW_ARRAYS))
    except Exception:  # noqa: BLE001 - a half-written block: missing or unreadable arrays
        return False


def discard_descriptor_store(store):
    """Remove a store that will not be finished (a failed run)."""
    shutil.rmtree(store, ignore_errors=True)


def open_descriptor_store(path):
    """(group, attrs) of a complete store; a clear error for anything else."""
    zarr = _zarr()
    try:
        group = zarr.open_group(str(path), mode="r")
        attrs = dict(group.attrs)
    except Exception as exc:  # noqa: BLE001 - zarr raises many types for a bad folder
        raise ReadError(f"{path} is not a quests descriptor store ({type(exc).__name__})") \
            from None
    if attrs.get("format") != _STORE_FORMAT:
        raise ReadError(f"{path} is not a quests descriptor store")
    if not attrs.get("complete"):
        raise ReadError(f"{path} is an incomplete descriptor store (its run did not finish): "
                        "compute it again")
    return group, attrs


def read_descriptor_store(path):
    """(descriptors, metadata, structure_index) of a whole store, in memory."""
    store = DescriptorStore(path)
    return store.load(), store.metadata, store.column("structure_index")


def _store_rows(store, numbers, wanted):
    """Rows ``wanted[i]`` of block ``numbers[i]`` of a ``DescriptorStore``: a list of arrays."""
    return [store.block(int(b))[w] for b, w in zip(numbers, wanted)]


class DescriptorStore:
    """A complete descriptor store, read block by block: nothing is loaded until asked.

    Inside ``quests.distributed.dask_engine`` the estimators (``dataset_entropy``,
    ``differential_entropy``, ``overlap``) take one as X without loading it: the
    workers read their blocks from the store (so ``path`` must be on a filesystem
    they share). Anywhere else ``np.asarray(store)`` loads it, and the numbers are
    the same.

    Attributes
    ----------
    path : str
    shape : (n_rows, n_features)
    metadata : dict, the descriptor settings (k, cutoff, species) and inputs
    offsets : ndarray (n_blocks + 1,), the first row of each block
    centre : ndarray (n_features,) or None, subtracted from every row read

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> import numpy as np
    >>> from quests.data import rattled_crystal
    >>> from quests.descriptor import store_descriptors
    >>> folder = tempfile.mkdtemp()
    >>> frames = [rattled_crystal(seed=0), rattled_crystal(seed=1)]
    >>> store = DescriptorStore(store_descriptors(frames, os.path.join(folder, "d.zarr"),
    ...                                           k=4, cutoff=3.0))
    >>> store.shape, store.n_blocks, store.metadata["k"]
    ((64, 7), 1, 4)
    >>> store[[0, 63]].shape, store.column("structure_index")[[0, 63]].tolist()
    ((2, 7), [0, 1])
    >>> x = np.asarray(store)
    >>> bool(np.abs(store.centred(x.mean(axis=0)).load().mean(axis=0)).max() < 1e-12)
    True
    >>> shutil.rmtree(folder)
    """

    ndim = 2
    dtype = np.dtype(np.float64)

    def __init__(self, path, centre=None):
        _, attrs = open_descriptor_store(path)
        self.path = str(path)
        self.metadata = attrs["metadata"]
        self.block_names = list(attrs["block_names"])
        self.offsets = np.concatenate([[0], np.cumsum(attrs["rows_per_block"])]).astype(int)
        self.shape = (int(attrs["n_rows"]), int(attrs["n_features"]))
        self.centre = None if centre is None else np.asarray(centre, dtype=np.float64)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"DescriptorStore({self.path!r}, shape={self.shape})"

    @property
    def n_blocks(self):
        return self.offsets.size - 1

    def centred(self, centre):
        """The same store with ``centre`` subtracted from every row read (None: as stored)."""
        return DescriptorStore(self.path, centre)

    def _array(self, number, name):
        group = _zarr().open_group(self.path, mode="r")
        return group[f"blocks/{self.block_names[number]}/{name}"][:]

    def block(self, number):
        """Rows of block ``number``, float64 (n_rows_of_block, n_features)."""
        x = np.asarray(self._array(number, "descriptors"), dtype=np.float64)
        return x - self.centre if self.centre is not None else x

    def column(self, name):
        """One of ``STORE_ROW_ARRAYS`` (structure_index, atom_index, numbers, source) for
        every row, (n_rows,)."""
        if name not in STORE_ROW_ARRAYS:
            raise InvalidInputError(f"a store holds {', '.join(STORE_ROW_ARRAYS)}, not {name!r}")
        return np.concatenate([self._array(b, name) for b in range(self.n_blocks)])

    def __getitem__(self, rows):
        """Rows by integer index (an array or a list), read block by block, in that order."""
        rows = np.asarray(rows)
        if rows.dtype.kind not in "iu" or rows.ndim != 1:
            raise InvalidInputError("a DescriptorStore is indexed by a 1-d array of row numbers")
        rows = np.where(rows < 0, rows + self.shape[0], rows)
        if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise InvalidInputError(f"row index out of range for {self.shape[0]} rows")
        blocks = np.searchsorted(self.offsets, rows, side="right") - 1
        numbers = np.unique(blocks)
        wanted = [rows[blocks == b] - self.offsets[b] for b in numbers]
        from quests import _engine

        # on a cluster the workers read the blocks; only the rows travel
        parts = _engine.run("store_rows", self, numbers, wanted, local=_store_rows)
        out = np.empty((rows.size, self.shape[1]))
        for number, part in zip(numbers, parts):
            out[np.flatnonzero(blocks == number)] = part
        return out

    def load(self):
        """Every row in memory, (n_rows, n_features)."""
        return np.concatenate([self.block(b) for b in range(self.n_blocks)])

    def __array__(self, dtype=None, copy=None):
        x = self.load()
        return x if dtype is None else x.astype(dtype)
