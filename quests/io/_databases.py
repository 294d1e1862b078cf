"""ASE databases: ``.db`` (sqlite) through ``ase.db``, and ``.aselmdb`` read directly.

An ``.aselmdb`` file (OMat24, OMol25, OMC25) is one LMDB environment in a
single file (``subdir=False``). Each row is stored under its decimal id
("1", "2", ...) as zlib-compressed JSON of an ASE database row dictionary
(``numbers``, ``positions``, ``cell``, ``pbc``, and where present
``energy``, ``forces``, ``stress``, ``key_value_pairs``, ``data``,
``constraints``, ...), arrays encoded as ``{"__ndarray__": [shape, dtype,
flat values]}``. The reserved keys ``nextid``, ``metadata`` and
``deleted_ids`` hold zlib-compressed JSON too; deleted ids are skipped. It is
read here with the ``lmdb`` package and the standard library only: nothing
in a file is ever executed (JSON, and arrays only of numeric or boolean
dtypes).

Both readers give ``ase.Atoms`` as ``ase.db``'s own rows do
(``AtomsRow.toatoms``: a single-point calculator holding energy, forces,
stress, ...), with the row's key-value pairs and its scalar ``data`` entries
in ``atoms.info``, so ``config_type`` or ``group`` work as info keys.
"""

import contextlib
import json
import zlib

import numpy as np

from quests._errors import InvalidInputError
from quests.io._paths import ReadError

_COMPARISONS = {"=": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
                ">": np.greater, ">=": np.greater_equal}


def _decode_object(dct):
    """json object hook: arrays of numbers or booleans, and ASE cells; nothing else."""
    if "__ndarray__" in dct:
        try:
            shape, dtype, flat = dct["__ndarray__"]
            dtype = np.dtype(dtype)
        except (TypeError, ValueError):
            raise ValueError("an __ndarray__ that is not [shape, dtype, values]") from None
        if dtype.kind not in "biuf":
            raise ValueError(f"an array of dtype {dtype}, not numbers")
        return np.asarray(flat, dtype=dtype).reshape(shape)
    if dct.get("__ase_objtype__") == "cell" and "array" in dct:
        return np.asarray(dct["array"], dtype=float)
    return dct


def decode_row(raw, where):
    """An ASE row dictionary from zlib-compressed JSON bytes; ``where`` names it in errors."""
    try:
        return json.loads(zlib.decompress(raw).decode("utf-8"), object_hook=_decode_object)
    except (zlib.error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise ReadError(f"{where} is not zlib-compressed JSON of an ASE row (corrupt?): "
                        f"{_first_line(exc)}") from None


def encode_row(dct):
    """zlib-compressed JSON bytes of an ASE row dictionary (numpy arrays as ``__ndarray__``),
    the layout ``decode_row`` reads: for writing test files and benchmarks."""
    def default(value):
        if isinstance(value, np.ndarray) or hasattr(value, "__array__"):  # arrays, ase Cells
            value = np.asarray(value)
            return {"__ndarray__": [list(value.shape), value.dtype.name, value.ravel().tolist()]}
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"cannot encode {type(value).__name__}")

    return zlib.compress(json.dumps(dct, default=default).encode("ascii"))


def atoms_row(dct, where):
    """``ase.db``'s ``AtomsRow`` of one row dictionary; a row without atoms or positions,
    or one ase cannot make a row of, is refused by ``where``."""
    from ase.db.row import AtomsRow

    if not isinstance(dct, dict):
        raise ReadError(f"{where} is not an ASE row (a JSON object)")
    for key in ("numbers", "positions"):
        if key not in dct:
            raise ReadError(f"{where} has no {key}")
    try:
        return AtomsRow(dct)
    except Exception as exc:  # noqa: BLE001 - ase raises many types for a malformed row
        raise ReadError(f"{where} is not a valid ASE row: {_first_line(exc)}") from None


def row_atoms(row, where):
    """``ase.Atoms`` of an ``AtomsRow`` (of either database) as ``ase.db`` builds them, its
    key-value pairs and scalar ``data`` entries in ``info``."""
    try:
        atoms = row.toatoms()
    except Exception as exc:  # noqa: BLE001 - ase raises many types for a malformed row
        raise ReadError(f"{where} is not a valid ASE row: {_first_line(exc)}") from None
    info = dict(row.key_value_pairs)
    for key, value in (row.get("data") or {}).items():
        if key not in info and isinstance(value, (str, int, float, bool, np.generic)):
            info[key] = value
    atoms.info.update(info)
    return atoms


def _first_line(exc):
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _selection_filter(select):
    """A predicate on ``AtomsRow`` for an ``ase.db`` query string (None: every row)."""
    if not select:
        return None
    from ase.db.core import parse_selection

    try:
        keys, comparisons = parse_selection(select)
    except Exception as exc:  # noqa: BLE001 - ase raises ValueError and others
        raise InvalidInputError(f"--select {select!r} is not an ase.db query: {exc}") \
            from None
    if any(key == "" for key in keys) or any(key == "" for key, _, _ in comparisons):
        raise InvalidInputError(f"--select {select!r} is not an ase.db query: a comparison "
                                "without a key")

    def value_of(row, key):
        if key == "natoms":
            return row.natoms
        if isinstance(key, (int, np.integer)):  # ase.db turns "Cu=32" into (29, "=", 32)
            return int(np.sum(np.asarray(row.numbers) == key))
        if key == "pbc":  # as ase.db compares it: "TTF"
            return "".join("T" if p else "F" for p in np.asarray(row.pbc, dtype=bool))
        value = row.get(key)
        if isinstance(value, np.ndarray) and value.size != 1:
            raise InvalidInputError(f"--select {select!r}: {key} is an array, not a value "
                                    "a query compares")
        return value

    def accepts(row):
        if any(value_of(row, key) is None for key in keys):
            return False
        for key, op, value in comparisons:
            found = value_of(row, key)
            if found is None:
                return False
            try:
                if not _COMPARISONS[op](found, value):
                    return False
            except (TypeError, KeyError, np.exceptions.DTypePromotionError):
                return False
        return True

    return accepts


def _open_lmdb(path):
    import os

    from quests._optional import require

    lmdb = require("lmdb", f"reading {path} (an .aselmdb file)", "datasets", ReadError)
    try:
        # read-only and without the lock file: nothing is ever written beside the input
        env = lmdb.open(str(path), subdir=False, readonly=True, lock=False, readahead=False,
                        max_readers=1)
    except lmdb.Error as exc:
        raise ReadError(f"cannot read {path}: not an LMDB file ({str(exc).strip()})") from None
    # a file cut short (an interrupted download) would kill the process with SIGBUS on the
    # first page past its end: its meta page says how many pages it must have
    needed = (env.info()["last_pgno"] + 1) * env.stat()["psize"]
    if needed > os.path.getsize(path):
        env.close()
        raise ReadError(f"cannot read {path}: the file is truncated ({os.path.getsize(path)} "
                        f"of the {needed} bytes its LMDB header names)")
    return env


@contextlib.contextmanager
def _opened_lmdb(path):
    """An .aselmdb file open for reading inside the block; what lmdb raises about it becomes
    one ``ReadError`` naming the file."""
    env = _open_lmdb(path)
    try:
        yield env
    except (ReadError, InvalidInputError):
        raise
    except Exception as exc:  # noqa: BLE001 - lmdb.Error and its subclasses
        raise ReadError(f"cannot read {path}: {_first_line(exc)} (corrupt LMDB?)") from None
    finally:
        env.close()


def _lmdb_ids(txn, path):
    """Row ids of an .aselmdb file in order: 1 .. nextid-1 without the deleted ones (every
    integer key where ``nextid`` is missing)."""
    raw = txn.get(b"nextid")
    deleted = txn.get(b"deleted_ids")
    deleted = set(decode_row(deleted, f"{path}: deleted_ids")) if deleted is not None else set()
    if raw is not None:
        nextid = decode_row(raw, f"{path}: nextid")
        if not isinstance(nextid, int) or nextid < 1:
            raise ReadError(f"{path}: nextid is {nextid!r}, not a positive integer")
        return [i for i in range(1, nextid) if i not in deleted]
    ids = []
    for key in txn.cursor().iternext(keys=True, values=False):
        text = bytes(key).decode("ascii", errors="replace")
        if text.isdigit():
            ids.append(int(text))
    return sorted(i for i in ids if i not in deleted)


def count_aselmdb_rows(path, select=None):
    """Rows of an .aselmdb file (deleted ids not counted), without reading any row; None
    with a query (every row would have to be read to count those it accepts)."""
    if select:
        return None
    with _opened_lmdb(path) as env, env.begin() as txn:
        return len(_lmdb_ids(txn, path))


#: rows read per opening of an .aselmdb file. Keys sort as strings ("1", "10", "100", ...)
#: so rows in id order touch pages all over the file, and every page touched stays mapped
#: (and counted in the process's memory) until the file is closed: closing it every so
#: many rows keeps the memory of a stream flat however many rows it reads
_ROWS_PER_OPENING = 1024


def iter_aselmdb(path, selection, select=None):
    """Yield ``(label, atoms)`` for the rows at positions ``selection`` (a slice of the
    rows in id order), among those the ase.db query ``select`` accepts."""
    accepts = _selection_filter(select)
    with _opened_lmdb(path) as env, env.begin(buffers=False) as txn:
        ids = _lmdb_ids(txn, path)
    if accepts is None:
        wanted = ids[selection]
        for first in range(0, len(wanted), _ROWS_PER_OPENING):
            yield from _lmdb_rows(path, wanted[first:first + _ROWS_PER_OPENING])
        return
    accepted = (item for first in range(0, len(ids), _ROWS_PER_OPENING)
                for item in _lmdb_rows(path, ids[first:first + _ROWS_PER_OPENING], accepts))
    yield from take_slice(accepted, selection)


def _lmdb_rows(path, ids, accepts=None):
    """``(label, atoms)`` of the rows ``ids`` (those ``accepts`` takes), the file opened
    once for them."""
    rows = []
    with _opened_lmdb(path) as env, env.begin(buffers=False) as txn:
        for row_id in ids:
            where = f"{path} row {row_id}"
            row = atoms_row(dict(_lmdb_row(txn, row_id, where), id=row_id), where)
            if accepts is None or accepts(row):
                rows.append((where, row_atoms(row, where)))
    yield from rows


def _lmdb_row(txn, row_id, where):
    raw = txn.get(str(row_id).encode("ascii"))
    if raw is None:
        raise ReadError(f"{where} is missing (neither stored nor deleted; truncated file?)")
    return decode_row(raw, where)


def take_slice(items, selection):
    """The items of an iterable at the positions of ``selection`` (a slice), lazily where the
    slice needs no length (non-negative start and stop, positive step)."""
    import itertools

    start, stop, step = selection.start, selection.stop, selection.step or 1
    if step > 0 and (start or 0) >= 0 and (stop is None or stop >= 0):
        yield from itertools.islice(items, start, stop, step)
    else:
        yield from list(items)[selection]


def _check_sqlite_database(path):
    """Refuse a file that is not an ASE sqlite database before ase.db opens it (ase would
    create its tables in an empty or foreign sqlite file: an input is never written)."""
    import sqlite3
    from pathlib import Path

    try:
        # a URI made from the path itself ('#', '?' and '%' quoted): read-only, never created
        connection = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
        try:
            tables = {name for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            connection.close()
    except sqlite3.Error as exc:
        raise ReadError(f"cannot read {path}: not an sqlite database ({exc})") from None
    if "systems" not in tables:
        raise ReadError(f"cannot read {path}: an sqlite file but not an ASE database "
                        "(no 'systems' table)")


@contextlib.contextmanager
def _connected_db(path, select):
    """An ASE sqlite database open inside the block, after checking it is one and that
    ``select`` parses; what ase or sqlite raise about the file becomes one ``ReadError``."""
    import sqlite3

    import ase.db

    _check_sqlite_database(path)
    _selection_filter(select)  # a query ase.db cannot parse is refused by name
    try:
        with ase.db.connect(str(path), type="db", create_indices=False) as db:
            yield db
    except (ReadError, InvalidInputError):
        raise
    except (sqlite3.Error, OSError, ValueError, KeyError, TypeError) as exc:
        raise ReadError(f"cannot read {path}: {_first_line(exc)} (corrupt database, or one "
                        "of another ase version?)") from None


def iter_ase_db(path, selection, select=None):
    """Yield ``(label, atoms)`` for the rows of an ASE sqlite database that the query
    ``select`` accepts (``ase.db`` syntax), at positions ``selection`` among them."""
    with _connected_db(path, select) as db:
        positions = range(db.count(select or None))[selection]
        if not len(positions):
            return
        first, last = min(positions), max(positions)
        rows = ((f"{path} row {row.id}", row) for row in
                db.select(select or None, offset=first, limit=last - first + 1))
        # rows first..last in id order; the slice relative to them (reversed: in memory)
        for where, row in take_slice(rows, slice(positions[0] - first, None, selection.step)):
            yield where, row_atoms(row, where)


def count_ase_db_rows(path, select=None):
    """Rows of an ASE sqlite database that ``select`` accepts, without reading them."""
    with _connected_db(path, select) as db:
        return db.count(select or None)


def write_aselmdb(path, rows, overwrite=False, map_size=None):
    """Write rows (``ase.Atoms``, or ASE row dictionaries) as an .aselmdb file, atomically.

    The layout ``iter_aselmdb`` reads: ids 1, 2, ... in order, ``nextid`` and an
    empty ``deleted_ids``. An Atoms' ``info`` becomes its key-value pairs (numbers,
    strings and booleans) and its calculator's results are kept. Returns the number
    of rows written.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from quests.data import rattled_crystal
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "cu.aselmdb")
    >>> write_aselmdb(path, [rattled_crystal(seed=s) for s in range(3)])
    3
    >>> from quests.io import read_structures
    >>> len(read_structures(path + "@1:"))
    2
    >>> shutil.rmtree(folder)
    """
    from quests._optional import require
    from quests.io._outputs import atomic_path

    lmdb = require("lmdb", "writing .aselmdb files", "datasets", InvalidInputError)
    n = 0
    with atomic_path(path, overwrite) as tmp:
        # a sparse map: only what is written takes disk
        env = lmdb.open(tmp, subdir=False, map_size=map_size or 1 << 40, lock=False)
        try:
            txn = env.begin(write=True)
            for n, row in enumerate(rows, start=1):
                txn.put(str(n).encode("ascii"), encode_row(_row_dict(row)))
                if n % 10000 == 0:  # bounded transactions: a large file in steady memory
                    txn.commit()
                    txn = env.begin(write=True)
            txn.put(b"nextid", encode_row(n + 1))
            txn.put(b"deleted_ids", encode_row([]))
            txn.commit()
        finally:
            env.close()
    return n


def _row_dict(row):
    if isinstance(row, dict):
        return row
    from ase.db.row import atoms2dict

    dct = atoms2dict(row)
    pairs = {key: value for key, value in row.info.items()
             if isinstance(value, (str, bool, int, float, np.generic))}
    if pairs:
        dct["key_value_pairs"] = pairs
    return dct
