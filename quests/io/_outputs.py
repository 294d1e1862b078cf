"""Outputs written atomically (temporary file, then rename), never over an input."""

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
from quests._errors import OutputError


def check_output_path(path, overwrite=False):
    """Fail early, before any work, if ``path`` cannot be written.

    Raises ``OutputError`` if it exists and ``overwrite`` is False, if it is
    a directory, or if its folder is missing or not writable.

    Examples
    --------
    >>> from pathlib import Path
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
    >>> from pathlib import Path
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
    >>> from pathlib import Path
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
    with atomic_path(path, overwrite) as tmp, open(tmp, mode) as handle:
        yield handle


@contextlib.contextmanager
def atomic_path(path, overwrite=False):
    """Context manager: the path of an empty temporary file beside ``path``, renamed to it
    on success; for writers that open the file themselves (LMDB). ``atomic_output`` is this
    with the file opened.

    On any error the temporary file is removed and ``path`` is untouched; the
    committed file gets the mode of the one it replaces (else the umask's).

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with atomic_path(os.path.join(folder, "table.csv")) as tmp:
    ...     with open(tmp, "w") as handle:
    ...         _ = handle.write("frame,entropy")
    >>> os.listdir(folder)
    ['table.csv']
    >>> shutil.rmtree(folder)
    """
    p = check_output_path(path, overwrite)
    clean_stale_temporaries(p)
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(p), suffix=".tmp", dir=p.parent)
    os.close(fd)
    try:
        yield tmp
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
    >>> from pathlib import Path
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
