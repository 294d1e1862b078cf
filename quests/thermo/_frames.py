"""Per-frame thermodynamic quantities read off structures, and the volume bandwidth rule.

Frames are ``ase.Atoms`` as read by ``ase.io`` (extxyz ``info`` keys, a
calculator's results, LAMMPS dumps); these helpers find what a thermodynamic
analysis needs in them and fail with one line naming the frame otherwise.
"""

import numpy as np

from quests._errors import InvalidInputError, InvalidStructureError

__all__ = ["volume_bandwidth", "volume_per_atom", "frame_value", "potential_energy",
           "attach_thermo",
           "ENERGY_KEYS", "TEMPERATURE_KEYS", "TIME_KEYS", "PRESSURE_KEYS"]

# h(V) = A exp(-(V / W)^2 / 2) + B, V in Å^3/atom (the QUESTS volume rule: the
# bandwidth at which entropy differences between phases track thermodynamic ones)
_H_V_AMPLITUDE = 0.0897141
_H_V_WIDTH = 10.896
_H_V_OFFSET = 0.0119417

#: info keys searched, in order, when no key is given
ENERGY_KEYS = ("energy", "energy_eV", "potential_energy", "pe", "PotEng")
TEMPERATURE_KEYS = ("target_K", "temperature_K", "temperature", "T", "Temp")
TIME_KEYS = ("time_ps", "time", "Time", "t")
PRESSURE_KEYS = ("pressure_GPa",)


def volume_bandwidth(volume_per_atom):
    """Kernel bandwidth h(V) (1/Å) for a volume per atom V (Å^3/atom).

    h(V) = 0.0897141 exp(-(V / 10.896)^2 / 2) + 0.0119417, the rule the
    QUESTS method uses to compare entropies of phases at different densities.
    Accepts a float or an array; returns the same shape.

    Examples
    --------
    >>> round(volume_bandwidth(11.8), 6)  # fcc Cu near its melting point
    0.061852
    """
    v = np.asarray(volume_per_atom, dtype=float)
    if not np.all(np.isfinite(v)) or np.any(v <= 0):
        raise InvalidInputError("the volume per atom must be finite and positive")
    h = _H_V_AMPLITUDE * np.exp(-0.5 * (v / _H_V_WIDTH) ** 2) + _H_V_OFFSET
    return float(h) if h.ndim == 0 else h


def volume_per_atom(atoms, label="structure"):
    """|det(cell)| / n_atoms in Å^3/atom of a structure periodic along all three axes.

    ``atoms``: ase.Atoms or ``quests.structures.Frame``.

    Examples
    --------
    >>> from ase.build import bulk
    >>> round(volume_per_atom(bulk("Cu", "fcc", a=3.61, cubic=True)), 4)  # a^3 / 4
    11.7615
    """
    pbc = np.broadcast_to(np.asarray(atoms.pbc, dtype=bool), (3,))
    if not pbc.all():
        raise InvalidStructureError(f"{label}: its volume per atom needs a cell periodic along "
                                    "x, y and z (pbc is {})".format(pbc.tolist()))
    volume = abs(float(np.linalg.det(np.asarray(atoms.cell, dtype=float))))
    if not np.isfinite(volume) or volume <= 1e-12:
        raise InvalidStructureError(f"{label}: the cell has zero volume")
    return volume / len(atoms.positions)


def _calculator_value(atoms, key):
    calc = getattr(atoms, "calc", None)
    results = getattr(calc, "results", None) or {}
    return results.get(key)


def frame_value(atoms, key=None, candidates=(), what="value", label="structure",
                required=True):
    """A per-frame scalar from ``atoms.info`` (or the calculator's results).

    ``key`` names it; without one the first of ``candidates`` present is
    used. Returns a float, or None when nothing is found and not ``required``.

    Examples
    --------
    >>> from ase.build import bulk
    >>> atoms = bulk("Cu", cubic=True)
    >>> atoms.info["target_K"] = 800.0
    >>> frame_value(atoms, None, ("temperature_K", "target_K"), "temperature")
    800.0
    >>> frame_value(atoms, "time_ps", required=False) is None
    True
    >>> frame_value(atoms, "time_ps", what="time", label="frame 3")
    Traceback (most recent call last):
    ...
    quests._errors.InvalidInputError: frame 3 carries no time (looked for 'time_ps' ...)
    """
    keys = (key,) if key is not None else tuple(candidates)
    info = getattr(atoms, "info", None) or {}  # a Frame or tuple has none
    for name in keys:
        value = info.get(name)
        if value is None:
            value = _calculator_value(atoms, name)
        if value is None:
            continue
        try:
            value = float(np.asarray(value, dtype=float).reshape(()))
        except (TypeError, ValueError):
            raise InvalidInputError(f"{label}: {what} {name!r} is not a number") from None
        if not np.isfinite(value):
            raise InvalidInputError(f"{label}: {what} {name!r} is not finite")
        return value
    if not required:
        return None
    looked = repr(key) if key is not None else "any of " + ", ".join(map(repr, keys))
    raise InvalidInputError(f"{label} carries no {what} (looked for {looked} in its info "
                            "and calculator results)")


def potential_energy(atoms, key=None, label="structure"):
    """The potential energy of a frame (eV, whole cell).

    From ``atoms.info[key]`` or the calculator's results, or (without a key)
    the calculator's ``energy`` (what extxyz and LAMMPS readers attach), then
    the first of ``ENERGY_KEYS`` in ``info``.

    Examples
    --------
    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> atoms = ase.io.read(trajectory_files()["cu_solid_ref"], 0)  # fcc Cu at 800 K
    >>> round(potential_energy(atoms) / len(atoms), 4)  # eV/atom, from info['energy_eV']
    -3.4276
    """
    return frame_value(atoms, key, ENERGY_KEYS, "potential energy", label)


def attach_thermo(frames, thermo, source="the thermo output", labels=None):
    """Copy LAMMPS thermo columns into the ``info`` of the frames dumped at the same steps.

    Parameters
    ----------
    frames : list of ase.Atoms
        Read from a LAMMPS dump (``info['timestep']``, as ase.io sets it).
    thermo : dict step -> {column: value}
        From ``quests.io.read_lammps_thermo``.
    source : str
        How error messages name the log.
    labels : list of str, optional
        How error messages name the frames (default "frame 0", "frame 1", ...).

    Every column (``PotEng``, ``Temp``, ``Press``, ``v_target``, ...) becomes
    an info key of the frame, so ``potential_energy`` finds ``PotEng`` and a
    temperature key can name any printed column. Returns the frames.

    Examples
    --------
    >>> from ase.build import bulk
    >>> frames = [bulk("Cu", cubic=True), bulk("Cu", cubic=True)]
    >>> frames[0].info["timestep"], frames[1].info["timestep"] = 0, 100  # as a dump sets them
    >>> thermo = {0: {"Step": 0.0, "Temp": 300.0, "PotEng": -14.2},
    ...           100: {"Step": 100.0, "Temp": 310.5, "PotEng": -14.1}}
    >>> frames = attach_thermo(frames, thermo)
    >>> frames[1].info["Temp"], potential_energy(frames[1])
    (310.5, -14.1)
    """
    labels = labels or [f"frame {i}" for i in range(len(frames))]
    for atoms, label in zip(frames, labels):
        step = atoms.info.get("timestep")
        if step is None:
            raise InvalidInputError(f"{label} has no timestep: thermo output is matched to "
                                    "frames of a LAMMPS dump by step")
        row = thermo.get(int(step))
        if row is None:
            raise InvalidInputError(f"{label}: step {int(step)} is not in {source} (print "
                                    "thermo at every step the dump writes)")
        atoms.info.update({key: value for key, value in row.items() if key != "Step"})
    return frames
