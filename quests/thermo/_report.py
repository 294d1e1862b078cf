"""What ``quests phase-boundary`` computes from MD frames, as one Python function.

``phase_boundary_report`` takes the frames of two phases (with thermo columns
joined by ``attach_thermo_logs`` where a LAMMPS log holds them), checks that
they can be compared, and returns the coexistence temperature at each
pressure and, with state points at two or more pressures, the line T(P).
"""

from dataclasses import dataclass

import numpy as np

from quests._defaults import DEFAULT_CUTOFF, DEFAULT_K
from quests._errors import InvalidInputError
from quests._text import align_table
from quests.thermo._boundary import check_line_pressures, phase_boundary, \
    phase_boundary_line, phase_states, state_pressure
from quests.thermo._frames import attach_thermo

__all__ = ["PhaseBoundaryReport", "attach_thermo_logs", "phase_boundary_report", "read_phases"]


def read_phases(specs, format=None, phase_key=None, verbose=False):
    """Frames of reference phases from NAME=FILE[@SLICE] specs, per file.

    A name given twice pools its files. With ``phase_key`` only the frames whose
    ``info[phase_key]`` equals the name are taken (one file may then hold
    several phases).

    Returns dict name -> list of (file, list of ase.Atoms).

    Examples
    --------
    >>> from quests.data import trajectory_files
    >>> path = trajectory_files()["cu_coexist_phases"]  # both phases in one file
    >>> phases = read_phases([f"solid={path}", f"liquid={path}@:40"], phase_key="phase")
    >>> {name: [len(frames) for _, frames in files] for name, files in phases.items()}
    {'solid': [40], 'liquid': [16]}
    """
    from quests.io import read_structures, split_named

    phases = {}
    for spec in specs:
        name, path = split_named(spec, "--phase takes NAME=FILE")
        frames = read_structures(path, index=None, format=format, verbose=verbose)
        if phase_key is not None:
            frames = [a for a in frames if str(a.info.get(phase_key)) == name]
            if not frames:
                raise InvalidInputError(f"{path} holds no frame with {phase_key}={name!r}")
        phases.setdefault(name, []).append((path, frames))
    return phases


def attach_thermo_logs(files, logs):
    """Join the thermo columns of LAMMPS logs into the frames of each phase's dump files.

    Parameters
    ----------
    files : dict phase name -> list of (dump path, list of ase.Atoms)
    logs : dict phase name -> list of log paths
        The i-th log of a phase holds the thermo output of the run that dumped
        its i-th file (one log per file, in the same order).

    Examples
    --------
    >>> import os, shutil, tempfile
    >>> from ase.build import bulk
    >>> folder = tempfile.mkdtemp()
    >>> log = os.path.join(folder, "log.lammps")
    >>> with open(log, "w") as handle:
    ...     for line in ("Step Temp PotEng", "0 300 -14.2", "100 310.5 -14.1", "Loop time of 1"):
    ...         print(line, file=handle)
    >>> frames = [bulk("Cu", cubic=True), bulk("Cu", cubic=True)]  # as read from a dump:
    >>> frames[0].info["timestep"], frames[1].info["timestep"] = 0, 100
    >>> attach_thermo_logs({"solid": [("dump.solid", frames)]}, {"solid": [log]})
    >>> frames[1].info["Temp"], frames[1].info["PotEng"]
    (310.5, -14.1)
    >>> shutil.rmtree(folder)
    """
    from quests.io import read_lammps_thermo

    for name, paths in logs.items():
        if name not in files:
            raise InvalidInputError(f"a thermo log is given for phase {name!r}, which has no "
                                    "frames")
        if len(paths) != len(files[name]):
            raise InvalidInputError(f"phase {name!r} has {len(files[name])} --phase file(s) "
                                    f"but {len(paths)} --thermo log(s): give one log per file")
        for (dump, frames), log in zip(files[name], paths):
            attach_thermo(frames, read_lammps_thermo(log), log,
                          [f"{dump} frame {i}" for i in range(len(frames))])


@dataclass(frozen=True)
class PhaseBoundaryReport:
    """Coexistence of two phases: one ``PhaseBoundary`` per pressure, and the line.

    Attributes
    ----------
    boundaries : list of PhaseBoundary
    line : BoundaryLine or None (state points at one pressure, or no line found)
    line_error : str or None, why there is no line although several pressures were sampled
    phases : (str, str)

    Examples
    --------
    >>> from quests.thermo import PhaseState, phase_boundary
    >>> def states(phase, energy, volume, entropy):
    ...     return [PhaseState(phase, t, 0.0, 8, 2048, energy + 3e-4 * t, 1e-3, volume, 0.01,
    ...                        0.06, entropy, 0.01) for t in (1200.0, 1300.0, 1400.0)]
    >>> boundaries = phase_boundary(states("solid", -3.8, 12.0, 1.0),
    ...                             states("liquid", -3.68, 12.6, 2.05))
    >>> report = PhaseBoundaryReport(boundaries, None, None, ("solid", "liquid"))
    >>> print(report.summary())
    P = 0 GPa, d = liquid - solid per atom:
    T (K)   dU (meV)  dV (Å^3)  dH (nats)        dG (meV)  (dU+PdV)/kB dH (K)
    1200.0   +120.00   +0.6000    +1.0500  +11.42 +- 2.03                1326
    1300.0   +120.00   +0.6000    +1.0500   +2.37 +- 2.12                1326
    1400.0   +120.00   +0.6000    +1.0500   -6.67 +- 2.22                1326
    coexistence temperature: 1326.2 +- 14.5 K
    <BLANKLINE>
    >>> row = report.rows()[-1]
    >>> float(row["T_K"]), round(float(row["dG_eV"]), 5)
    (1400.0, -0.00667)
    """

    boundaries: list
    line: object
    line_error: object
    phases: tuple

    def rows(self):
        """dG(T) at every pressure: one dict per state point (eV, Å^3, nats per atom)."""
        return [{"pressure_GPa": b.pressure, "T_K": t, "dU_eV": du, "dV_A3": dv, "dH_nats": dh,
                 "dG_eV": dg, "dG_error_eV": e}
                for b in self.boundaries for t, du, dv, dh, dg, e in
                zip(b.temperatures, b.dU, b.dV, b.dH, b.dG, b.dG_error)]

    def line_rows(self):
        """The line T(P) with its error and entropy jump: one dict per pressure."""
        line = self.line
        return [{"pressure_GPa": p, "T_K": t, "T_error_K": e, "dS_kB": ds,
                 "extrapolated": bool(x)} for p, t, e, ds, x in
                zip(line.pressures, line.temperatures, line.temperature_errors,
                    line.entropy_jump, line.extrapolated)]

    def summary(self):
        """The dG(T) table and coexistence temperature per pressure, and the line."""
        a, b = self.phases
        parts = []
        for bd in self.boundaries:
            table = [(f"{t:.1f}", f"{du * 1e3:+.2f}", f"{dv:+.4f}", f"{dh:+.4f}",
                      f"{dg * 1e3:+.2f} +- {e * 1e3:.2f}", f"{t0:.0f}")
                     for t, du, dv, dh, dg, e, t0 in zip(
                         bd.temperatures, bd.dU, bd.dV, bd.dH, bd.dG, bd.dG_error,
                         bd.temperature_estimates)]
            note = " (extrapolated beyond the sampled temperatures)" if bd.extrapolated else ""
            parts.append(f"P = {bd.pressure:g} GPa, d = {b} - {a} per atom:\n"
                         + align_table(("T (K)", "dU (meV)", "dV (Å^3)", "dH (nats)",
                                        "dG (meV)", "(dU+PdV)/kB dH (K)"), table)
                         + f"\ncoexistence temperature: {bd.coexistence_temperature:.1f} +- "
                         f"{bd.coexistence_temperature_error:.1f} K{note}\n")
        if self.line is not None:
            parts.append(self._line_summary())
        return "\n".join(parts)

    def _line_summary(self):
        """The boundary line at the sampled pressures and the ends of the line."""
        line = self.line
        sampled = sorted({s.pressure for s in line.states})
        show = sorted(set(sampled) | {float(line.pressures[0]), float(line.pressures[-1])})
        rows = []
        for p in show:
            i = int(np.argmin(np.abs(line.pressures - p)))
            if abs(line.pressures[i] - p) > 1e-9:
                continue
            t, e = line.temperatures[i], line.temperature_errors[i]
            rows.append((f"{p:g}", "no crossing" if np.isnan(t) else f"{t:.1f} +- {e:.1f}",
                         "" if np.isnan(t) else f"{line.entropy_jump[i]:+.4f}",
                         "yes" if line.extrapolated[i] else ""))
        a, b = line.phases
        return (f"boundary line from (T, P) surfaces of U, V, H ({b} - {a}):\n"
                + align_table(("P (GPa)", "T (K)", "dS (kB/atom)", "extrapolated"), rows))

    def to_dict(self):
        return {"boundaries": [b.to_dict() for b in self.boundaries],
                "line": None if self.line is None else self.line.to_dict()}


def phase_boundary_report(phases, *, temperature_key=None, pressure_key=None, pressure=0.0,
                          energy_key=None, bandwidth="volume", k=DEFAULT_K,
                          cutoff=DEFAULT_CUTOFF, line=None, n_jobs=None):
    """Coexistence of two phases from MD frames at several temperatures (and pressures).

    Parameters
    ----------
    phases : dict name -> list of ase.Atoms, exactly two phases of one composition
        Frames carry their potential energy and thermostat temperature (and
        pressure with ``pressure_key``); see ``phase_states``.
    temperature_key, pressure_key, pressure, energy_key : see ``phase_states``
    bandwidth : float or 'volume', default='volume' (h(V) at each frame's volume)
    k, cutoff : descriptor settings
    line : bool or None
        True: the line T(P) is required (state points at two or more shared
        pressures, checked before any entropy is computed); None: computed when
        there are several pressures, its absence said in ``line_error``; False:
        never.

    Returns
    -------
    PhaseBoundaryReport

    Examples
    --------
    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> zr = ase.io.read(trajectory_files()["zr_phases"], ":")  # hcp and bcc Zr
    >>> phases = {name: [a for a in zr if a.info["phase"] == name
    ...                  and a.info["pressure_GPa"] == 2.0 and a.info["target_K"] >= 1300]
    ...           for name in ("hcp", "bcc")}
    >>> report = phase_boundary_report(phases, pressure_key="pressure_GPa", bandwidth=0.03)
    >>> (b,) = report.boundaries  # one pressure: no line T(P)
    >>> b.phases, b.pressure, b.temperatures.tolist(), report.line is None
    (('hcp', 'bcc'), 2.0, [1300.0, 1400.0, 1500.0], True)
    >>> # thermodynamic integration puts it at 1480 +- 15 K (README; h(V) puts it far lower)
    >>> round(b.coexistence_temperature), round(b.coexistence_temperature_error)  # K
    (1404, 109)
    """
    from quests.descriptor import structure_species

    names = list(phases)
    if len(names) != 2:
        raise InvalidInputError(f"phase-boundary needs exactly two phase names; got {names}")
    if line:
        check_line_pressures({
            name: {state_pressure(a, pressure_key, pressure, f"{name} frame {i}")
                   for i, a in enumerate(frames)}
            for name, frames in phases.items()})
    species = [structure_species(frames) for frames in phases.values()]
    if species[0] != species[1]:
        raise InvalidInputError(f"the phases hold different species ({species[0]} vs "
                                f"{species[1]}): compare phases of one composition")
    states = [phase_states(frames, name, temperature_key=temperature_key,
                           pressure_key=pressure_key, pressure=pressure, energy_key=energy_key,
                           bandwidth=bandwidth, k=k, cutoff=cutoff, n_jobs=n_jobs)
              for name, frames in phases.items()]
    boundaries = phase_boundary(*states)
    n_pressures = len({s.pressure for s in states[0]} | {s.pressure for s in states[1]})
    found, error = None, None
    if n_pressures > 1 and line is not False:
        try:
            found = phase_boundary_line(*states)
        except InvalidInputError as exc:
            if line:
                raise
            error = str(exc)
    return PhaseBoundaryReport(boundaries, found, error, tuple(names))
