"""Structures from ASE databases (.db, .aselmdb) and any file ase.io reads, checked frame by
frame; a folder or a glob is one dataset of every structure file it holds."""

import contextlib
import contextvars
import glob
from pathlib import Path


from quests._errors import InvalidInputError, QuestsError
from quests.io import _databases
from quests.io._paths import DESCRIPTOR_SUFFIXES, ReadError, as_slice, check_readable, \
    split_index


#: formats quests reads itself, by name: (suffixes, read, count); any other goes to ase.io.
#: ``read(path, selection: slice, select: ase.db query or None)`` yields ``(label,
#: atoms)``; ``count(path, select)`` gives the rows ``read`` would give for ``slice(None)``
#: without reading them, or None where it cannot.
STRUCTURE_READERS = {
    # not .lmdb: OC20's .lmdb files hold pickles, which quests never loads
    "aselmdb": ((".aselmdb",), _databases.iter_aselmdb, _databases.count_aselmdb_rows),
    "db": ((".db",), _databases.iter_ase_db, _databases.count_ase_db_rows),
}
#: the query of ASE database rows a command was given (``--select``), for every file it reads
_ROW_QUERY = contextvars.ContextVar("quests_row_query", default=None)


@contextlib.contextmanager
def rows_selected(query):
    """Inside the block, ASE databases read without a ``select`` of their own keep only the
    rows the ase.db query ``query`` accepts (``--select``; None: every row).

    Examples
    --------
    >>> with rows_selected("config_type=bulk"):
    ...     row_query()
    'config_type=bulk'
    >>> row_query() is None
    True
    """
    token = _ROW_QUERY.set(query or None)
    try:
        yield
    finally:
        _ROW_QUERY.reset(token)


def names_database(values):
    """True if any of the specs ``values`` (strings, or lists of them: FILE, NAME=FILE,
    FILE@SLICE, folders, globs) names an ASE database, so that a query has something to
    select from.

    Examples
    --------
    >>> from quests.data import demo_files
    >>> names_database([demo_files()["cu_melt"] + "@0:2", "not-a-file.db"])
    False
    """
    from quests.io._paths import spec_paths

    for candidate in spec_paths(values):
        try:
            path = split_index(candidate)[0]
            if (Path(path).exists() or glob.has_magic(path)) and \
                    any(structure_format(f) for f in structure_paths(path)):
                return True
        except QuestsError:  # not a spec, or a glob that matches nothing
            continue
    return False


def row_query():
    """The ase.db query in force (``rows_selected``), or None.

    Examples
    --------
    >>> row_query() is None
    True
    """
    return _ROW_QUERY.get()


def structure_format(path, format=None):
    """The name of the quests reader for ``path`` (``STRUCTURE_READERS``), or None where
    ase.io reads it; ``format`` (``--format``) wins over the suffix."""
    if format is not None:
        return format if format in STRUCTURE_READERS else None
    suffix = Path(path).suffix.lower()
    return next((name for name, (suffixes, *_) in STRUCTURE_READERS.items()
                 if suffix in suffixes), None)


#: the files a folder of structures is read for (a report or README beside them is not)
FOLDER_SUFFIXES = (".aselmdb", ".db", ".xyz", ".extxyz", ".traj", ".cif", ".vasp",
                   ".lammpstrj", ".pdb", ".xsf")


def structure_paths(path):
    """The files a path names: itself; a folder's structure files (by suffix, sorted, hidden
    and lock files left out); a glob's matches (sorted). Raises ``ReadError`` where that is
    none.

    Examples
    --------
    >>> import os
    >>> from quests.data import demo_files
    >>> folder = os.path.dirname(demo_files()["cu_melt"])
    >>> [os.path.basename(f) for f in structure_paths(os.path.join(folder, "cu_*00K.xyz"))]
    ['cu_1200K.xyz', 'cu_300K.xyz', 'cu_900K.xyz']
    """
    p = Path(path)
    if p.is_dir() and p.suffix.lower() not in DESCRIPTOR_SUFFIXES:
        files = sorted(str(f) for f in p.iterdir() if f.is_file() and
                       not f.name.startswith(".") and f.suffix.lower() in FOLDER_SUFFIXES)
        if not files:
            raise ReadError(f"folder {path} holds no structure files ("
                            + ", ".join(FOLDER_SUFFIXES) + ")")
        return files
    if not p.exists() and glob.has_magic(str(path)):
        files = sorted(f for f in glob.glob(str(path)) if Path(f).is_file())
        if not files:
            raise ReadError(f"no file matches {path}")
        return files
    return [str(path)]


def iter_structures(spec, index=None, format=None, select=None):
    """Yield ``(label, atoms)`` for each selected frame, reading lazily.

    Parameters
    ----------
    spec : str or path
        File path, optionally with an index: ``traj.xyz@-10:``. A folder or a
        glob (``omat/*.aselmdb``) reads every structure file it names, in
        sorted order, as one sequence of frames.
    index : str, optional
        Index applied if ``spec`` has none (``"0:100"``, ``"-1"``, ``"::10"``).
    format : str, optional
        ``aselmdb``, ``db`` or an ase.io format name; guessed from the suffix
        otherwise (``.aselmdb``, ``.db``, then ase.io).
    select : str, optional
        ase.db query (``"config_type=bulk,natoms<50"``) for ASE databases;
        the index selects among the rows it accepts. Default: the one a
        command was given (``rows_selected``), else every row.

    Examples
    --------
    >>> import os
    >>> from quests.data import demo_files
    >>> for label, atoms in iter_structures(demo_files()["cu_300K"], index="::8"):
    ...     print(os.path.basename(label), len(atoms))
    cu_300K.xyz frame 0 108
    cu_300K.xyz frame 8 108
    cu_300K.xyz frame 16 108
    """
    path, idx = split_index(spec, index)
    select = _ROW_QUERY.get() if select is None else select
    files = structure_paths(path)
    if len(files) == 1:
        yield from _iter_file(files[0], as_slice(idx), format, select)
        return
    selection = as_slice(idx)
    start, stop, step = selection.start or 0, selection.stop, selection.step or 1
    if start < 0 or (stop is not None and stop < 0) or step < 0:
        raise InvalidInputError(f"{spec}: a folder or glob of files takes a selection "
                                "without negative numbers (0:1000, ::10)")
    consumed = 0  # frames of the files before this one
    for f in files:
        if stop is not None and consumed >= stop:
            return
        first = start if consumed <= start else start + -(-(consumed - start) // step) * step
        n = _count_cheaply(f, format, select)
        if n is not None:  # a database: its rows before the selection are never read
            if first < consumed + n:
                end = n if stop is None else min(n, stop - consumed)
                yield from _iter_file(f, slice(first - consumed, end, step), format, select)
            consumed += n
            continue
        for position, item in enumerate(_iter_file(f, slice(None), format, select),
                                        start=consumed):
            if stop is not None and position >= stop:
                return
            if position >= start and (position - start) % step == 0:
                yield item
            consumed = position + 1


def _count_cheaply(path, format, select):
    """Frames of a file without reading them (a database's ``count``), or None."""
    name = structure_format(path, format)
    check_readable(path)
    return None if name is None else STRUCTURE_READERS[name][2](path, select)


def _iter_file(path, selection, format, select):
    """``iter_structures`` of one file."""
    check_readable(path)
    from quests.structures import check_geometry

    name = structure_format(path, format)
    if name is not None:
        for label, atoms in STRUCTURE_READERS[name][1](path, selection, select):
            check_geometry(atoms, label)
            yield label, atoms
        return
    # a query is for databases: a trajectory or reference read beside one keeps every frame
    import ase.io

    if (format or Path(path).suffix.lower().lstrip(".")) in ("xyz", "extxyz"):
        _check_xyz_frames(path)
    start = selection.start or 0
    step = selection.step or 1
    try:
        # the '@' was handled by split_index: ase must not split the path again
        frames = ase.io.iread(path, index=selection, format=format,
                              do_not_split_by_at_sign=True)
        for n, atoms in enumerate(frames):
            number = start + step * n if start >= 0 and step > 0 else n
            label = f"{path} frame {number}"
            # no atoms, NaN, a singular cell or coincident atoms: named by file and frame
            check_geometry(atoms, label)
            yield label, atoms
    except QuestsError:
        raise
    except Exception as exc:  # ase raises many types for unreadable files
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc.__cause__ or exc.__context__, StopIteration) \
                or "raised StopIteration" in message:
            # ase's readers run out of lines inside a frame: say what that means
            message = "the file ends inside a frame (truncated?)"
        raise ReadError(f"cannot read {path}: {message}") from None


def _check_xyz_frames(path):
    """Refuse an (ext)xyz file that ase would read short without a word.

    ase's extxyz reader drops a last frame cut short (its frame index counts
    only complete ones) and stops at a blank line between frames, so a
    truncated or spliced trajectory would be read as a shorter one. One pass
    over the lines, nothing parsed but each frame's atom count: a count line,
    a comment line, that many atom lines. A file that ends without a newline
    inside an atom line shorter than the one before it (fewer fields, or a
    shorter last field in a fixed-width file) was cut there. A count that is
    not an integer is left for ase to report.
    """
    import itertools

    frame, line_number, blank_at = 0, 0, None
    previous_atom = last = b""
    with open(path, "rb") as handle:
        for line in handle:
            line_number += 1
            text = line.strip()
            if not text:
                blank_at = blank_at or line_number
                continue
            if blank_at is not None:
                raise ReadError(f"cannot read {path}: a blank line (line {blank_at}) separates "
                                f"frame {frame - 1} from more frames, which ase would ignore; "
                                "remove it")
            try:
                n_atoms = int(text)
            except ValueError:
                return
            if n_atoms < 0:
                return
            expected = n_atoms + 1
            lines = list(itertools.islice(handle, expected))
            line_number += len(lines)
            if len(lines) < expected:
                raise ReadError(f"cannot read {path}: the file ends inside frame {frame} "
                                f"({max(len(lines) - 1, 0)} of {n_atoms} atom lines; "
                                "truncated?)")
            if n_atoms:
                previous_atom = lines[-2] if n_atoms > 1 else previous_atom
                last = lines[-1]
            frame += 1
    if last and not last.endswith(b"\n") and previous_atom and _cut_short(last, previous_atom):
        raise ReadError(f"cannot read {path}: its last line ends without a newline, shorter "
                        "than the atom line before it (truncated?)")


def _cut_short(last, previous):
    """The last atom line has fewer fields than the one before, or (a fixed-width file,
    as ase writes) a shorter last field."""
    fields, before = last.split(), previous.split()
    if len(fields) < len(before):
        return True
    return len(previous.rstrip(b"\r\n")) > len(last) and len(fields[-1]) < len(before[-1])


def read_structures(spec, index=None, format=None, verbose=False, select=None):
    """Read the selected frames of a file into a list of ``ase.Atoms``.

    Raises ``ReadError`` for a missing, unreadable, empty or truncated file or
    one with no frames selected, and ``InvalidStructureError`` for a frame
    without atoms, with NaN/inf positions, a singular periodic cell or two
    atoms at one position (``quests.structures.check_geometry``).

    Examples
    --------
    >>> from quests.data import demo_files
    >>> frames = read_structures(demo_files()["cu_melt"] + "@0:2")
    >>> len(frames), len(frames[0])
    (2, 108)
    """
    from quests._progress import progress_bar

    structures = []
    with progress_bar(None, f"reading {split_index(spec)[0]}", verbose, unit="frame") as bar:
        for _, atoms in iter_structures(spec, index, format, select):  # checks each frame
            structures.append(atoms)
            bar.update()
    if not structures:
        path, idx = split_index(spec, index)
        query = _ROW_QUERY.get() if select is None else select
        if query:
            raise ReadError(f"{path}: no row selected by --select {query!r}"
                            + (f" and index {idx}" if idx != ":" else ""))
        if idx == ":":
            raise ReadError(f"{path} contains no structures")
        raise ReadError(f"{path}: index {idx} selects no frame")
    return structures


def read_structure_files(specs, index=None, format=None, verbose=False):
    """All structures of several files (FILE[@SLICE]), and where each came from.

    Descriptor files are refused: the caller needs the structures themselves.

    Returns (structures: list of ase.Atoms, sources: list of (spec, position in it)).

    Examples
    --------
    >>> from quests.data import demo_files
    >>> files = [demo_files()["cu_crystal"], demo_files()["cu_melt"] + "@-2:"]
    >>> structures, sources = read_structure_files(files)
    >>> len(structures), [position for _, position in sources]
    (3, [0, 0, 1])
    >>> sources[-1][0].endswith("cu_melt.xyz@-2:")
    True
    """
    structures, sources = [], []
    for spec in specs:
        if Path(split_index(spec)[0]).suffix.lower() in DESCRIPTOR_SUFFIXES:
            raise InvalidInputError(
                f"{spec} is a descriptor file; this command needs the structures themselves "
                "(give the structure file it was computed from)")
        frames = read_structures(spec, index=index, format=format, verbose=verbose)
        structures += frames
        sources += [(str(spec), i) for i in range(len(frames))]
    return structures, sources
