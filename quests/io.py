"""Files in, results out: the only module that touches the file system.

Structures are read with ``ase.io`` (any format it knows: extxyz, LAMMPS
dump/data, VASP, ASE trajectories, ...). Results are written atomically: to
a temporary file in the destination folder, then renamed, so a user's file
is never half-written, and never replaced unless ``overwrite`` is set.
"""

import contextlib
import csv
import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from quests import __version__, _interrupt
from quests._defaults import DEFAULT_CUTOFF, DEFAULT_K, descriptor_length
from quests._errors import InvalidInputError, InvalidStructureError, OutputError, QuestsError

__all__ = [
    "read_lammps_thermo",
    "split_index",
    "split_named",
    "spec_paths",
    "check_readable",
    "read_columns",
    "ReadError",
    "DescriptorStore",
    "as_slice",
    "read_structures",
    "iter_structures",
    "check_output_path",
    "clean_stale_temporaries",
    "output_mode",
    "OutputAppearedError",
    "atomic_output",
    "atomic_write",
    "write_table",
    "write_json",
    "write_frame",
    "to_jsonable",
    "write_descriptors",
    "read_descriptors",
    "save_figure",
    "DESCRIPTOR_SUFFIXES",
    "Datasets",
    "read_datasets",
    "read_structure_files",
    "write_structures",
]

#: descriptor files (``quests descriptors``): arrays in one .npz, or a chunked .zarr store
DESCRIPTOR_SUFFIXES = (".npz", ".zarr")

# an integer, or a slice start:stop[:step] with optional (signed) parts
_INDEX = re.compile(r"^(-?\d+|(-?\d+)?:(-?\d+)?(:(-?\d+)?)?)$")


class ReadError(QuestsError, OSError):
    """A file is missing, unreadable, empty or not in a format ase.io knows.

    Examples
    --------
    >>> read_structures("missing.xyz@0:10")
    Traceback (most recent call last):
    ...
    quests.io.ReadError: file not found: missing.xyz
    >>> issubclass(ReadError, OSError)
    True
    """


def split_index(spec, index=None):
    """Split ``"file.xyz@0:100"`` into ``("file.xyz", "0:100")``.

    The part after the last ``@`` is taken as an index if the whole spec is
    not an existing file, so paths containing ``@`` still work. ``index``
    (e.g. from ``--index``) applies when the spec carries none. Returns the
    index as a string (default ``":"``).

    Raises ``InvalidInputError`` for an index that is neither an integer
    nor a slice.

    Examples
    --------
    >>> split_index("traj.xyz@-10:")
    ('traj.xyz', '-10:')
    >>> split_index("traj.xyz", index="::10")
    ('traj.xyz', '::10')
    >>> split_index("traj.xyz@last")
    Traceback (most recent call last):
    ...
    quests._errors.InvalidInputError: traj.xyz@last: the frame selection after '@' must be ...
    """
    spec = str(spec)
    path, sep, tail = spec.rpartition("@")
    if sep and path and not Path(spec).exists():
        if not _INDEX.match(tail):
            raise InvalidInputError(
                f"{spec}: the frame selection after '@' must be an integer or a slice "
                "like 0:100:2"
            )
        return path, tail
    if index is None:
        return spec, ":"
    if not _INDEX.match(str(index)):
        raise InvalidInputError(f"index must be an integer or a slice like 0:100:2; got {index!r}")
    return spec, str(index)


def split_named(spec, what="expected NAME=VALUE"):
    """'NAME=VALUE' as (name, value), both stripped; ``what`` begins the error message.

    Examples
    --------
    >>> split_named("solid = ref.xyz")
    ('solid', 'ref.xyz')
    """
    name, sep, value = (part.strip() for part in str(spec).partition("="))
    if not sep or not name or not value:
        raise InvalidInputError(f"{what}; got {spec!r}")
    return name, value


def spec_paths(value):
    """Paths a spec may name: FILE, NAME=FILE, FILE=G, FILE@SLICE (and lists of them).

    Candidates, not checks: a caller keeps those that exist (``check_distinct_paths``).

    Examples
    --------
    >>> spec_paths("solid=md.xyz@0:10")
    ['solid=md.xyz@0:10', 'solid', 'md.xyz@0:10', 'solid=md.xyz', 'md.xyz']
    """
    if isinstance(value, (tuple, list)):
        return [p for v in value for p in spec_paths(v)]
    if not isinstance(value, str) or not value:
        return []
    candidates = [value]
    if "=" in value:
        candidates += value.split("=", 1)
    for text in list(candidates):
        if "@" in text:
            candidates.append(text.rpartition("@")[0])
    return candidates


def as_slice(text):
    """The slice that ``text`` selects; an integer i becomes the slice of one frame.

    Examples
    --------
    >>> as_slice("0:100:2"), as_slice("-1")
    (slice(0, 100, 2), slice(-1, None, None))
    >>> list(range(10)[as_slice("3")]), list(range(10)[as_slice("-3:")])
    ([3], [7, 8, 9])
    """
    if ":" not in text:
        i = int(text)
        return slice(i, i + 1 if i != -1 else None)
    parts = [int(p) if p else None for p in text.split(":")]
    if len(parts) == 3 and parts[2] == 0:
        raise InvalidInputError(f"index {text}: the slice step cannot be zero")
    return slice(*parts)


def check_readable(path):
    """Refuse, by name, a path that is missing, a folder, unreadable or empty.

    Examples
    --------
    >>> check_readable("no_such_file.xyz")
    Traceback (most recent call last):
    ...
    quests.io.ReadError: file not found: no_such_file.xyz
    """
    p = Path(path)
    if not p.exists():
        raise ReadError(f"file not found: {path}")
    if p.is_dir():
        raise ReadError(f"{path} is a directory, not a structure file")
    if not os.access(p, os.R_OK):
        raise ReadError(f"cannot read {path}: permission denied")
    if p.stat().st_size == 0:
        raise ReadError(f"{path} is empty")


def iter_structures(spec, index=None, format=None):
    """Yield ``(label, atoms)`` for each selected frame, reading lazily.

    Parameters
    ----------
    spec : str or path
        File path, optionally with an index: ``traj.xyz@-10:``.
    index : str, optional
        Index applied if ``spec`` has none (``"0:100"``, ``"-1"``, ``"::10"``).
    format : str, optional
        ase.io format name; guessed from the file otherwise.

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
    check_readable(path)
    import ase.io

    from quests.structures import check_geometry

    if (format or Path(path).suffix.lower().lstrip(".")) in ("xyz", "extxyz"):
        _check_xyz_frames(path)
    selection = as_slice(idx)
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


def read_structures(spec, index=None, format=None, verbose=False):
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
        for _, atoms in iter_structures(spec, index, format):  # checks each frame
            structures.append(atoms)
            bar.update()
    if not structures:
        path, idx = split_index(spec, index)
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


def check_output_path(path, overwrite=False):
    """Fail early, before any work, if ``path`` cannot be written.

    Raises ``OutputError`` if it exists and ``overwrite`` is False, if it is
    a directory, or if its folder is missing or not writable.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "entropy.json")
    >>> check_output_path(path).name
    'entropy.json'
    >>> _ = Path(path).write_text("{}")
    >>> check_output_path(path)
    Traceback (most recent call last):
    ...
    quests._errors.OutputError: output ...entropy.json exists (use --overwrite to replace it)
    >>> check_output_path(path, overwrite=True).name
    'entropy.json'
    >>> shutil.rmtree(folder)
    """
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"output {path} is a directory")
    if p.exists() and not overwrite:
        raise OutputError(f"output {path} exists (use --overwrite to replace it)")
    folder = p.parent if str(p.parent) else Path(".")
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot write {path}: {folder} is a file, not a folder")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: folder {folder} is not writable")
    return p


def check_distinct_paths(outputs, inputs=()):
    """Fail before any work if an output names an input or another output.

    outputs : list of (option, path)
        What the command will write (``None`` paths are skipped).
    inputs : list of paths
        What it reads. Paths are compared after resolving links, so a link to
        an input is the input; an output inside an input folder is allowed.

    Raises ``OutputError`` naming both options: replacing an input with a
    result loses data, and two outputs in one file keep only the last.

    Examples
    --------
    >>> check_distinct_paths([("-o", "a.json"), ("--plot", "a.png")], ["data.xyz"])
    >>> check_distinct_paths([("-o", "a.json"), ("--line", "./a.json")])
    Traceback (most recent call last):
    ...
    quests._errors.OutputError: -o and --line name the same file ./a.json
    """
    read = {}
    for path in inputs:
        if path is not None and Path(path).exists():
            read.setdefault(Path(path).resolve(), str(path))
    written = {}
    for option, path in outputs:
        if path is None:
            continue
        key = Path(path).resolve()
        if key in read:
            raise OutputError(f"output {path} ({option}) is an input ({read[key]}): "
                              "write the result to another file")
        if key in written:
            raise OutputError(f"{written[key]} and {option} name the same file {path}")
        written[key] = option


class OutputAppearedError(OutputError):
    """The output did not exist when the run began but does now (another run wrote it).

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "out.txt")
    >>> with atomic_output(path) as handle:
    ...     _ = handle.write("this run")
    ...     _ = Path(path).write_text("another run")  # written meanwhile
    Traceback (most recent call last):
    ...
    quests.io.OutputAppearedError: output ...out.txt appeared while writing; not replaced
    >>> Path(path).read_text(), os.listdir(folder)
    ('another run', ['out.txt'])
    >>> shutil.rmtree(folder)
    """


#: suffixes of the temporaries this package leaves beside an output while writing it
_TEMPORARY_SUFFIXES = (".tmp", ".partial", ".old")


def _host_tag():
    """8 hex digits of the host name and PID namespace: PIDs of this tag are comparable
    (containers sharing a host name but not their PIDs get different tags)."""
    import hashlib
    import socket

    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return hashlib.sha256(f"{socket.gethostname()}:{namespace}".encode()).hexdigest()[:8]


def _temporary_prefix(p):
    """``.NAME.quests-TAG-PID.``: whose temporary it is, so that a later run can tell one
    left behind by a killed run of this package from anyone else's file."""
    return f".{p.name}.quests-{_host_tag()}-{os.getpid()}."


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or not a pid we can judge: leave it
    return True


def clean_stale_temporaries(path):
    """Remove the temporaries of ``path`` left by killed runs of this package.

    Only names this package makes (``.NAME.quests-TAG-PID.*.tmp``, ``.partial``,
    ``.old``) written on this host and PID namespace by a process that no longer
    exists are removed; anything else, and the temporaries of running processes,
    stay. An ``.old`` folder holds the previous store of a run killed while it
    swapped stores: if ``path`` is missing it is put back, not removed.
    Returns the removed paths.

    Examples
    --------
    >>> import os, shutil, subprocess, sys, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "out.xyz")
    >>> killed = ("import os, quests.io; out = quests.io.atomic_output(%r); out.__enter__(); "
    ...           "os._exit(9)" % path)
    >>> subprocess.run([sys.executable, "-c", killed]).returncode  # killed while writing
    9
    >>> [name.endswith(".tmp") for name in os.listdir(folder)]
    [True]
    >>> [p.name.endswith(".tmp") for p in clean_stale_temporaries(path)]
    [True]
    >>> os.listdir(folder)
    []
    >>> shutil.rmtree(folder)
    """
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    pattern = re.compile(re.escape(f".{p.name}.quests-{_host_tag()}-") + r"(\d+)\..*(" +
                         "|".join(re.escape(s) for s in _TEMPORARY_SUFFIXES) + r")$")
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry.name)
        if not match or _process_alive(int(match.group(1))):
            continue
        kept = entry / p.name
        if entry.name.endswith(".old") and kept.exists() and not os.path.lexists(p):
            try:
                os.replace(kept, p)  # killed between moving the old store out and the new in
            except OSError:
                continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError:
            continue
        removed.append(entry)
    return removed


def _umask():
    """The process umask, read without changing it where the system says it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_mode(path, directory=False):
    """Permission bits for an output: those of the file it replaces, else what a plain
    ``open`` would give (0666, or 0777 for a folder, less the umask). Temporary files are
    created 0600; without this every output would stay so.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "table.csv")
    >>> _ = Path(path).write_text("frame")
    >>> os.chmod(path, 0o640)
    >>> oct(output_mode(path))
    '0o640'
    >>> mask = os.umask(0o022); _ = os.umask(mask)
    >>> output_mode(os.path.join(folder, "new.csv")) == 0o666 & ~mask
    True
    >>> _ = atomic_write(path, lambda f: f.write("frame,entropy"), overwrite=True)
    >>> oct(os.stat(path).st_mode & 0o777)  # the replacement keeps the mode
    '0o640'
    >>> shutil.rmtree(folder)
    """
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return (0o777 if directory else 0o666) & ~_umask()


@contextlib.contextmanager
def atomic_output(path, overwrite=False, mode="w"):
    """Context manager: a temporary file beside ``path``, renamed to it on success.

    For outputs written piece by piece (a trajectory streamed frame by
    frame). On any error the temporary file is removed and ``path`` is
    untouched. The file gets the mode of the one it replaces (else the
    umask's), and temporaries of ``path`` left by killed runs are removed
    first (``clean_stale_temporaries``).

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> import ase.io
    >>> from quests.data import rattled_crystal
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "frames.xyz")
    >>> with atomic_output(path) as handle:
    ...     for seed in range(3):
    ...         write_frame(handle, rattled_crystal(seed=seed), info={"seed": seed})
    >>> [int(atoms.info["seed"]) for atoms in ase.io.read(path, ":")]
    [0, 1, 2]
    >>> with atomic_output(path, overwrite=True) as handle:
    ...     _ = handle.write("half a frame")
    ...     raise RuntimeError("killed")
    Traceback (most recent call last):
    ...
    RuntimeError: killed
    >>> len(ase.io.read(path, ":")), os.listdir(folder)
    (3, ['frames.xyz'])
    >>> shutil.rmtree(folder)
    """
    p = check_output_path(path, overwrite)
    clean_stale_temporaries(p)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(p), suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        if not overwrite and p.exists():
            raise OutputAppearedError(f"output {path} appeared while writing; not replaced")
        _interrupt.check()  # a termination request is never followed by a commit
        os.chmod(tmp, output_mode(p))
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write(path, write, overwrite=False, mode="w"):
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it.

    On any error the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "notes.txt")
    >>> atomic_write(path, lambda f: f.write("k = 32")).name
    'notes.txt'
    >>> atomic_write(path, lambda f: f.write("k = 16"))
    Traceback (most recent call last):
    ...
    quests._errors.OutputError: output ...notes.txt exists (use --overwrite to replace it)
    >>> _ = atomic_write(path, lambda f: f.write("k = 16"), overwrite=True)
    >>> Path(path).read_text()
    'k = 16'
    >>> shutil.rmtree(folder)
    """
    with atomic_output(path, overwrite, mode) as handle:
        write(handle)
    return Path(path)


def to_jsonable(value):
    """Convert numpy scalars/arrays and dataclasses to JSON types; NaN/inf become None.

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"entropy": np.float64(2.5), "counts": np.arange(3), "gap": np.inf,
    ...              "converged": np.bool_(True)})
    {'entropy': 2.5, 'counts': [0, 1, 2], 'gap': None, 'converged': True}
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def write_frame(handle, atoms, info=None, arrays=None):
    """Append ``atoms`` to an open extxyz file with extra per-frame ``info`` and per-atom ``arrays``.

    The frame keeps its own info, arrays and calculator results (energies,
    forces); ``atoms`` itself is not modified.

    Examples
    --------
    >>> from io import StringIO
    >>> import ase.io
    >>> import numpy as np
    >>> from quests.data import rattled_crystal
    >>> atoms = rattled_crystal()
    >>> handle = StringIO()
    >>> write_frame(handle, atoms, info={"entropy": 2.5},
    ...             arrays={"dH": np.linspace(0.0, 1.0, len(atoms))})
    >>> frame = ase.io.read(StringIO(handle.getvalue()), format="extxyz")
    >>> float(frame.info["entropy"]), frame.arrays["dH"].shape, "dH" in atoms.arrays
    (2.5, (32,), False)
    """
    import ase.io

    calc = atoms.calc
    atoms = atoms.copy()
    atoms.calc = calc  # copy() drops the calculator, and with it the stored results
    atoms.info.update(info or {})
    for name, values in (arrays or {}).items():
        values = np.asarray(values)
        # integer labels (phase, cluster) and strings stay what they are; the rest is float64
        if values.dtype.kind not in "iuU":
            values = values.astype(np.float64)
        atoms.arrays[name] = values
    ase.io.write(handle, atoms, format="extxyz")


def write_structures(path, structures, info=None, overwrite=False):
    """Structures as extxyz (atomically), each with its own info, arrays and results, plus
    ``info[i]`` (a dict, optional) added to frame i.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> import ase.io
    >>> from quests.data import rattled_crystal
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "selected.xyz")
    >>> frames = [rattled_crystal(seed=seed) for seed in range(3)]
    >>> write_structures(path, frames, info=[{"rank": rank} for rank in (2, 0, 1)])
    >>> [(len(atoms), int(atoms.info["rank"])) for atoms in ase.io.read(path, ":")]
    [(32, 2), (32, 0), (32, 1)]
    >>> shutil.rmtree(folder)
    """
    with atomic_output(path, overwrite) as handle:
        for i, atoms in enumerate(structures):
            write_frame(handle, atoms, info=None if info is None else info[i])


def write_json(path, payload, overwrite=False):
    """Write ``payload`` as strict JSON (no NaN/Infinity), with the package version.

    Examples
    --------
    >>> import json, os, shutil, tempfile
    >>> import numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> path = write_json(os.path.join(folder, "entropy.json"),
    ...                   {"entropy": np.float64(3.2), "gap": np.nan})
    >>> document = json.loads(path.read_text())
    >>> document["entropy"], document["gap"], "quests_version" in document
    (3.2, None, True)
    >>> shutil.rmtree(folder)
    """
    document = {"quests_version": __version__, **to_jsonable(payload)}
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda f: f.write(text), overwrite)


def write_table(path, rows, metadata=None, overwrite=False):
    """Write a list of flat dicts as ``.csv`` (one row each) or ``.json`` (with metadata).

    The format follows the suffix; JSON carries the package version and
    ``metadata`` beside the rows. Infinite values are ``inf``/``-inf`` in CSV
    and ``null`` in JSON (strict JSON has no infinity), NaN is empty/null.

    Examples
    --------
    >>> import json, os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> rows = [{"frame": 0, "entropy": 3.25}, {"frame": 1, "entropy": float("inf")}]
    >>> path = write_table(os.path.join(folder, "entropy.csv"), rows)
    >>> print(path.read_text(), end="")
    frame,entropy
    0,3.25
    1,inf
    >>> path = write_table(os.path.join(folder, "entropy.json"), rows, metadata={"k": 32})
    >>> document = json.loads(path.read_text())
    >>> document["k"], document["rows"][1]
    (32, {'frame': 1, 'entropy': None})
    >>> shutil.rmtree(folder)
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return write_json(path, {**(metadata or {}), "rows": rows}, overwrite)
    if suffix != ".csv":
        raise OutputError(f"output {path}: a table is written as .csv or .json")
    columns = list(rows[0]) if rows else []

    def write(handle):
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(row[k], v) for k, v in to_jsonable(row).items()})

    return atomic_write(path, write, overwrite, mode="w")


def _csv_cell(value, converted):
    if isinstance(value, (float, np.floating)) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return "" if converted is None else converted


def write_descriptors(path, descriptors, metadata, overwrite=False, **arrays):
    """Save descriptors and their settings to ``.npz`` atomically.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from quests.data import rattled_crystal
    >>> from quests.descriptor import compute_descriptors
    >>> atoms = rattled_crystal()
    >>> x = compute_descriptors([atoms], k=4, cutoff=3.0)
    >>> folder = tempfile.mkdtemp()
    >>> path = write_descriptors(os.path.join(folder, "cu.npz"), x,
    ...                          {"k": 4, "cutoff": 3.0, "species": None},
    ...                          numbers=atoms.numbers)
    >>> descriptors, metadata, structure_index = read_descriptors(path)
    >>> descriptors.shape, metadata["k"], metadata["cutoff"]
    ((32, 7), 4, 3.0)
    >>> shutil.rmtree(folder)
    """
    meta = json.dumps({"quests_version": __version__, **to_jsonable(metadata)}, allow_nan=False)
    return atomic_write(
        path,
        lambda f: np.savez(f, descriptors=descriptors, metadata=np.array(meta), **arrays),
        overwrite,
        mode="wb",
    )


def read_descriptors(path, return_numbers=False):
    """Load ``(descriptors, metadata, structure_index)`` written by ``write_descriptors``.

    ``structure_index`` (n_rows,) says which frame each row comes from (all
    zeros if the file does not record it). With ``return_numbers`` a fourth
    item: the atomic number of each row's centre atom, (n_rows,), or None if
    the file does not record them. A folder (``.zarr``) is read as a
    descriptor store (``read_descriptor_store``).

    The file must agree with itself: its descriptors finite, their columns
    those its k and species give, and each per-row array one value per
    row; anything else (and a truncated or damaged archive) is a
    ``ReadError`` naming the file.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> import numpy as np
    >>> from quests.data import rattled_crystal
    >>> from quests.descriptor import store_descriptors
    >>> folder = tempfile.mkdtemp()
    >>> frames = [rattled_crystal(seed=0), rattled_crystal(seed=1)]
    >>> path = store_descriptors(frames, os.path.join(folder, "cu.npz"), k=4, cutoff=3.0)
    >>> x, metadata, structure_index = read_descriptors(path)
    >>> x.shape, metadata["k"], metadata["cutoff"], np.bincount(structure_index).tolist()
    ((64, 7), 4, 3.0, [32, 32])
    >>> numbers = read_descriptors(path, return_numbers=True)[3]
    >>> sorted(set(numbers.tolist()))
    [29]
    >>> shutil.rmtree(folder)
    """
    if Path(path).is_dir():
        x, metadata, frame_of_row = read_descriptor_store(path)
        numbers = DescriptorStore(path).column("numbers") if return_numbers else None
        _check_descriptor_file(path, x, metadata, {"structure_index": frame_of_row,
                                                   "numbers": numbers})
        return (x, metadata, frame_of_row, numbers) if return_numbers else \
            (x, metadata, frame_of_row)
    check_readable(path)
    import zipfile
    import zlib

    try:
        with np.load(path, allow_pickle=False) as data:
            descriptors = np.asarray(data["descriptors"])
            metadata = json.loads(str(data["metadata"]))
            rows = {key: np.asarray(data[key]) for key in STORE_ROW_ARRAYS
                    if key in data.files}
    except KeyError as exc:
        raise ReadError(f"{path} is not a quests descriptor file: it has no {exc} array") \
            from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReadError(f"{path} is not a readable quests descriptor file (truncated or "
                        f"damaged?): {reason}") from None
    _check_descriptor_file(path, descriptors, metadata, rows)
    frame_of_row = rows.get("structure_index", np.zeros(len(descriptors), dtype=np.int64))
    if return_numbers:
        return descriptors, metadata, frame_of_row, rows.get("numbers")
    return descriptors, metadata, frame_of_row


def _check_descriptor_file(path, descriptors, metadata, rows):
    """A descriptor file that contradicts itself is refused, naming what disagrees."""
    if descriptors.ndim != 2 or descriptors.shape[0] == 0:
        raise InvalidStructureError(f"{path} holds no descriptors")
    if descriptors.dtype.kind != "f":
        raise ReadError(f"{path}: descriptors are {descriptors.dtype}, not floating point")
    if not isinstance(metadata, dict):
        raise ReadError(f"{path}: its metadata is not a JSON object")
    k, species = metadata.get("k"), metadata.get("species")
    if not (isinstance(k, int) and k >= 1) or not (
            species is None or (isinstance(species, list)
                                and all(isinstance(z, int) for z in species))):
        raise ReadError(f"{path}: its metadata has no valid k and species "
                        f"(k={k!r}, species={species!r})")
    cutoff = metadata.get("cutoff")
    if not (isinstance(cutoff, (int, float)) and math.isfinite(cutoff) and cutoff > 0):
        raise ReadError(f"{path}: its metadata has no valid cutoff (cutoff={cutoff!r})")
    expected = descriptor_length(k, len(species or []))
    if descriptors.shape[1] != expected:
        raise ReadError(f"{path}: descriptors have {descriptors.shape[1]} columns, but its "
                        f"k={k} and species={species} give {expected}")
    for key, values in rows.items():
        if values is None:
            continue
        if values.shape != (descriptors.shape[0],) or values.dtype.kind not in "iu":
            raise ReadError(f"{path}: {key} has shape {values.shape} of {values.dtype}, not "
                            f"one integer per descriptor row ({descriptors.shape[0]})")
    if "structure_index" in rows and rows["structure_index"] is not None:
        index = rows["structure_index"]
        if index.min() < 0 or np.any(np.diff(index) < 0):
            raise ReadError(f"{path}: structure_index is not a non-decreasing frame number")
    if rows.get("numbers") is not None:
        numbers = rows["numbers"]
        if numbers.min() < 1 or numbers.max() > 118:
            raise ReadError(f"{path}: numbers holds atomic numbers outside 1-118")
    # finite last: it reads every value (blocks of rows keep the memory small)
    for start in range(0, descriptors.shape[0], 65536):
        if not np.all(np.isfinite(descriptors[start:start + 65536])):
            raise ReadError(f"{path}: descriptors contain NaN or inf")


def read_columns(path, columns):
    """Named numeric columns of a table file, each an ndarray (n_rows,) of finite float64.

    A ``.json`` file holds an object of lists (``{"x": [...], "T": [...]}``);
    anything else is read as CSV with a header row. Every column must be
    present, with a finite number in every row; anything else is a
    ``ReadError`` naming the file and the column.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "ev.csv")
    >>> with open(path, "w") as handle:
    ...     _ = handle.write("volume,energy\\n10,-3.1\\n11,-3.2\\n")
    >>> read_columns(path, ("volume", "energy"))["energy"].tolist()
    [-3.1, -3.2]
    >>> shutil.rmtree(folder)
    """
    check_readable(path)
    try:
        text = Path(path).read_text()
    except (UnicodeDecodeError, OSError) as exc:
        raise ReadError(f"cannot read {path}: not a text table ({type(exc).__name__})") \
            from None
    if Path(path).suffix.lower() == ".json":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ReadError(f"{path} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ReadError(f"{path}: expected a JSON object of columns, not "
                            f"{type(doc).__name__}")
        rows = {key: doc.get(key) for key in columns}
    else:
        records = list(csv.DictReader(text.splitlines()))
        rows = {key: [r.get(key) for r in records] for key in columns}
    out = {}
    for key, values in rows.items():
        missing = not isinstance(values, list) or not values or \
            any(v is None or v == "" for v in values)
        if missing:
            raise ReadError(f"{path} needs a column {key!r} with a value in every row "
                            f"(columns: {', '.join(columns)})")
        try:
            out[key] = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise ReadError(f"{path}: column {key!r} is not numeric") from None
        if out[key].ndim != 1:
            raise ReadError(f"{path}: column {key!r} is not a list of numbers")
        bad = np.flatnonzero(~np.isfinite(out[key]))
        if bad.size:
            raise ReadError(f"{path}: column {key!r} holds NaN or inf (row "
                            f"{int(bad[0]) + 1} of the data)")
    return out


def read_lammps_thermo(path):
    """Thermo output of a LAMMPS log file, as a dict step -> {column: value}.

    Every thermo block (a header line starting with ``Step`` and the numeric
    rows under it, up to ``Loop time`` or ``ERROR``; other lines inside it,
    such as warnings, are skipped) is read; a step printed by several runs
    keeps the values of the last one, as a trajectory dumped by the last run
    needs. Raises ``ReadError`` for a missing file or one without thermo
    output.

    Examples
    --------
    >>> import os, tempfile
    >>> lines = ["Step Temp PotEng", "0 300 -10.5", "100 310.2 -10.4", "Loop time of 0.1"]
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "log.lammps")
    ...     _ = open(path, "w").write(os.linesep.join(lines))
    ...     read_lammps_thermo(path)[100]
    {'Step': 100.0, 'Temp': 310.2, 'PotEng': -10.4}
    """
    check_readable(path)
    rows = {}
    columns = None
    with open(path, errors="replace") as handle:
        for line in handle:
            words = line.split()
            if words and words[0] == "Step":
                columns = words
                continue
            if columns is None:
                continue
            if line.startswith(("Loop time", "ERROR")):
                columns = None
                continue
            try:
                values = [float(w) for w in words]
            except ValueError:
                continue  # a WARNING or other message printed between thermo rows
            if len(values) == len(columns):
                rows[int(values[0])] = dict(zip(columns, values))
    if not rows:
        raise ReadError(f"{path} holds no LAMMPS thermo output (no 'Step ...' header "
                        "followed by numbers)")
    return rows


def _dataset_names(specs):
    """Unique short names: the file stem, the full spec where stems clash, then #2, #3..."""
    names = [Path(split_index(s)[0]).stem for s in specs]
    names = [str(s) if names.count(n) > 1 else n for s, n in zip(specs, names)]
    unique = []
    for name in names:
        candidate, copy = name, 1
        while candidate in unique:
            copy += 1
            candidate = f"{name}#{copy}"
        unique.append(candidate)
    return unique


class Datasets(dict):
    """Datasets by name, each a list of ``ase.Atoms`` or descriptors (an array, or a
    ``DescriptorStore`` left on disk for a dask engine), all in one descriptor space.

    Attributes
    ----------
    settings : dict
        ``k``, ``cutoff`` and ``species`` that describe every dataset: those
        given, else those the descriptor files hold, else the defaults.
    counts : dict name -> ndarray (n_structures,)
        Rows of each selected structure, per descriptor file (not for a store left
        on disk).

    Examples
    --------
    >>> from quests.data import demo_files
    >>> files = [demo_files()["cu_300K"] + "@0:2", demo_files()["cu_melt"] + "@0:3"]
    >>> data = read_datasets(files)
    >>> {name: len(frames) for name, frames in data.items()}, data.settings["cutoff"]
    ({'cu_300K': 2, 'cu_melt': 3}, 5.0)
    >>> len(data.combined())
    5

    A descriptor file sets the descriptor space and records its rows:

    >>> import os, shutil, tempfile
    >>> from quests.data import rattled_crystal
    >>> from quests.descriptor import store_descriptors
    >>> folder = tempfile.mkdtemp()
    >>> frames = [rattled_crystal(seed=0), rattled_crystal(seed=1)]
    >>> path = store_descriptors(frames, os.path.join(folder, "cu.npz"), k=4, cutoff=3.0)
    >>> data = read_datasets([path])
    >>> data.settings["k"], data.counts["cu"].tolist(), data.combined().shape
    (4, [32, 32], (64, 7))
    >>> sorted(set(data.numbers("cu").tolist()))
    [29]
    >>> shutil.rmtree(folder)
    """

    def __init__(self, data, settings, counts, numbers):
        super().__init__(data)
        self.settings, self.counts, self._numbers = settings, counts, numbers

    def numbers(self, name):
        """Atomic number of each row of a descriptor dataset, (n_rows,); None where the
        file does not record them (a store on disk is read for them only now)."""
        found = self._numbers.get(name)
        return found.column("numbers") if isinstance(found, DescriptorStore) else found

    def combined(self, what="the files"):
        """All datasets as one descriptor array (or one store), or one list of structures;
        a mix of structures and descriptors is refused (it names ``what``)."""
        parts = list(self.values())
        stored = [isinstance(p, (np.ndarray, DescriptorStore)) for p in parts]
        if all(stored):
            # one store stays on disk; several parts are joined in memory
            return parts[0] if len(parts) == 1 else np.vstack(parts)
        if any(stored):
            raise InvalidInputError(f"{what} must be all structure files or all descriptor "
                                    "(.npz) files")
        return [s for p in parts for s in p]

    def row_numbers(self):
        """Atomic numbers of every descriptor row of all datasets, joined; None unless
        every dataset is a descriptor file that records them."""
        parts = [self.numbers(name) if name in self._numbers else None for name in self]
        if not parts or any(p is None for p in parts):
            return None
        return np.concatenate(parts)


def read_datasets(specs, index=None, format=None, *, k=None, cutoff=None, species=None,
                  lazy=True, verbose=False):
    """Structure files and descriptor files (``.npz``, ``.zarr``) read into one descriptor
    space.

    ``k``, ``cutoff`` and ``species`` are what the caller asks for (None: not
    asked). A descriptor file must agree with those asked for and lends its own
    to those not asked for, so structure files read alongside it are described
    the same way (``Datasets.settings``). ``index`` selects frames of every file
    (a FILE@SLICE overrides it), rows of a descriptor file by their frame. With
    ``lazy`` a whole ``.zarr`` store inside a dask engine stays on disk (the
    workers read it block by block).

    Returns
    -------
    Datasets (dict name -> structures or descriptors), names unique short file names

    Examples
    --------
    >>> from quests.data import demo_files
    >>> data = read_datasets([demo_files()["cu_crystal"], demo_files()["cu_melt"]])
    >>> list(data), len(data["cu_crystal"]), data.settings["k"]
    (['cu_crystal', 'cu_melt'], 1, 32)
    """
    from quests import _engine

    settings = {"k": k, "cutoff": cutoff, "species": species}
    given = {key for key, value in settings.items() if value is not None}
    data, counts, numbers = {}, {}, {}
    for name, spec in zip(_dataset_names(specs), specs):
        path, idx = split_index(spec, index)
        if Path(path).suffix.lower() not in DESCRIPTOR_SUFFIXES:
            data[name] = read_structures(spec, index=index, format=format, verbose=verbose)
            continue
        if lazy and _engine.active() and Path(path).suffix.lower() == ".zarr" and idx == ":":
            x = DescriptorStore(path)  # read block by block by the dask workers
            meta, frame_of_row, row_numbers = x.metadata, None, x  # numbers read if asked
        else:
            x, meta, frame_of_row, row_numbers = read_descriptors(path, return_numbers=True)
        for key in ("k", "cutoff", "species"):
            stored = meta.get(key)
            if key in given and stored != settings[key]:
                raise InvalidInputError(
                    f"{path} holds descriptors with {key}={stored}, not {settings[key]}")
            settings[key] = stored
            given.add(key)
        if idx != ":":
            frames = np.arange(int(frame_of_row.max()) + 1)[as_slice(idx)]
            selected = np.isin(frame_of_row, frames)
            x, frame_of_row = x[selected], frame_of_row[selected]
            if x.shape[0] == 0:
                raise InvalidInputError(f"{path}: index {idx} selects no frame")
            row_numbers = None if row_numbers is None else row_numbers[selected]
        numbers[name] = row_numbers
        if frame_of_row is not None:
            counts[name] = np.unique(frame_of_row, return_counts=True)[1]
        data[name] = x
    settings["k"] = DEFAULT_K if settings["k"] is None else settings["k"]
    settings["cutoff"] = DEFAULT_CUTOFF if settings["cutoff"] is None else settings["cutoff"]
    return Datasets(data, settings, counts, numbers)


def save_figure(figure, path, overwrite=False):
    """Save a matplotlib figure atomically (format from the suffix) and close it.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([300, 900, 1200], [2.1, 3.4, 4.0])
    >>> folder = tempfile.mkdtemp()
    >>> path = save_figure(fig, os.path.join(folder, "entropy.png"))
    >>> path.name, path.stat().st_size > 0, plt.fignum_exists(fig.number)
    ('entropy.png', True, False)
    >>> shutil.rmtree(folder)
    """
    import matplotlib.pyplot as plt

    suffix = Path(path).suffix.lower().lstrip(".") or "png"
    try:
        atomic_write(path, lambda f: figure.savefig(f, format=suffix, dpi=150), overwrite,
                     mode="wb")
    finally:
        plt.close(figure)
    return Path(path)


# -- chunked descriptor stores (zarr) -------------------------------------------------
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
    group = _zarr().open_group(str(tmp), mode="w")
    group.attrs.update({"format": _STORE_FORMAT, "version": _STORE_VERSION, "complete": False})
    # made here, once: workers that each 'required' it raced, and the loser's
    # create failed with ContainsGroupError (seen in CI)
    group.create_group("blocks")
    return tmp


def _is_store(path):
    try:
        return dict(_zarr().open_group(str(path), mode="r").attrs).get("format") == \
            _STORE_FORMAT
    except Exception:  # noqa: BLE001 - zarr raises many types for a folder that is not one
        return False


def write_store_block(store, block, descriptors, **rows):
    """Write block number ``block`` (its descriptors and ``STORE_ROW_ARRAYS``) into a store
    being built. Each call writes under a name of its own (``NNNNNN.<random>``), so
    workers, and a retried task beside a presumed-dead one, never write the same arrays;
    ``finish_descriptor_store`` keeps one complete copy of each block."""
    import uuid

    group = _zarr().open_group(str(store), mode="r+")
    sub = group["blocks"].create_group(f"{block:06d}.{uuid.uuid4().hex}")
    chunk = (max(1, min(len(descriptors), 65536)), descriptors.shape[1])
    sub.create_array("descriptors", data=np.ascontiguousarray(descriptors), chunks=chunk)
    for key in STORE_ROW_ARRAYS:
        sub.create_array(key, data=np.ascontiguousarray(rows[key]),
                         chunks=(max(1, min(len(descriptors), 65536)),))
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
