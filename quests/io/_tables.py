"""Columns of CSV/JSON tables and LAMMPS thermo logs."""

import csv
import json
from pathlib import Path

import numpy as np

from quests._errors import InvalidInputError
from quests.io._paths import ReadError, check_readable


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


def read_oszicar_energy(path):
    """The free energy F (eV) of a finished VASP run: the last ``F=`` of its OSZICAR.

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "OSZICAR")
    >>> with open(path, "w") as handle:
    ...     _ = handle.write("   1 F= -.93527500E+02 E0= -.93526E+02  d E =-.93E+02\\n")
    >>> read_oszicar_energy(path)
    -93.5275
    >>> shutil.rmtree(folder)
    """
    last = [line for line in Path(path).read_text(errors="replace").splitlines()
            if "F=" in line]
    if not last:
        raise InvalidInputError(f"{path} holds no 'F=' line (not a finished VASP run?)")
    words = last[-1].split()
    try:
        return float(words[words.index("F=") + 1])
    except (ValueError, IndexError):
        raise InvalidInputError(f"{path}: cannot read the energy after 'F='") from None
