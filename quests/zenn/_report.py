"""What ``quests zentropy`` and ``quests zenn`` compute from files, as Python functions.

``zentropy_report`` reads configurations (``read_energy_volume``), sums them
by zentropy and takes the equilibrium at one pressure; ``zentropy_training_data``
turns a folder of configurations into the (x, T, F) rows a ZENN learns from;
``zenn_report`` takes the same properties from a trained model; ``temperature_grid``
and ``distribution_grid`` check the grids both are given. Each returns data
(and, for the reports, a ``summary()`` in words) and never prints.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np

from quests._defaults import DEFAULT_DEBYE_SCALING, MAX_GRID_POINTS
from quests._errors import InvalidInputError, QuestsWarning
from quests._text import align_table
from quests.zenn._qha import read_configurations, read_energy_volume
from quests.zenn._zentropy import isobaric_properties, phase_diagram, zentropy_from_dft

__all__ = ["EXPANSION_TOLERANCE", "MAX_GRID_POINTS", "ZentropyReport", "temperature_grid",
           "distribution_grid", "zentropy_report", "zentropy_training_data", "zenn_report",
           "read_training_data"]

#: 1/K; smaller differences of thermal expansion are finite-difference noise, not physics
EXPANSION_TOLERANCE = 5e-7


def temperature_grid(start, stop, step, name="temperatures"):
    """START, START + STEP, ... <= STOP, K: STOP included when it falls on the grid.

    The grid needs finite values, 0 < START < STOP, STEP > 0, at least three
    points (derivatives in T) and at most ``MAX_GRID_POINTS``.

    Examples
    --------
    >>> temperature_grid(100, 300, 100).tolist()
    [100.0, 200.0, 300.0]
    """
    text = f"{start:g}:{stop:g}:{step:g}"
    if not all(np.isfinite([start, stop, step])):
        raise InvalidInputError(f"{name}: START, STOP and STEP must be finite; got {text!r}")
    if not (step > 0 and stop > start and start > 0):
        raise InvalidInputError(f"{name}: need 0 < START < STOP and STEP > 0 (K); got {text!r}")
    count = int(np.floor((stop - start) / step * (1 + 1e-12))) + 1
    if count < 3:
        raise InvalidInputError(f"{name} {text} holds {count} temperature(s); at least 3 "
                                "temperatures are needed (derivatives in T)")
    if count > MAX_GRID_POINTS:
        raise InvalidInputError(f"{name} {text} holds {count} temperatures; at most "
                                f"{MAX_GRID_POINTS} are allowed")
    return float(start) + float(step) * np.arange(count)


def _check_conditions(pressure, n_volumes):
    if not np.isfinite(pressure):
        raise InvalidInputError(f"the pressure must be a finite number of GPa; got {pressure}")
    if n_volumes is not None and not 3 <= n_volumes <= MAX_GRID_POINTS:
        raise InvalidInputError(f"the volume grid must hold between 3 and {MAX_GRID_POINTS} "
                                f"points; got {n_volumes}")


def _spans(t, mask):
    """'a-b K, c-d K' for the runs of True in ``mask`` ('none' if there is none)."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
    runs = [f"{t[start]:g}-{t[stop - 1]:g} K" for start, stop in zip(edges[::2], edges[1::2])]
    return ", ".join(runs) or "none"


@dataclass(frozen=True)
class ZentropyReport:
    """Equilibrium properties at one pressure from a zentropy sum or a ZENN.

    Attributes
    ----------
    properties : IsobaricProperties
    diagram : PhaseDiagram
    names : list of str, one per configuration (the columns p_NAME of ``rows``)
    configurations : list of EnergyVolume (empty for a ZENN)
    multiplicities : list of float
    eos : list of BM4, one per configuration (empty for a ZENN)
    alone : IsobaricProperties or None
        The first configuration by itself (None if it has no equilibrium in range).
    label : str, 'zentropy' or 'ZENN'

    Examples
    --------
    Made by ``zentropy_report`` (or ``zenn_report``). Fe3Pt: a ferromagnetic (FM, g = 2)
    and a smaller spin-flip (SF, g = 12) configuration of a 12-atom cell:

    >>> from quests.zenn import BM4, EnergyVolume
    >>> v = np.linspace(139.0, 172.0, 12)
    >>> def configuration(coefficients, label):  # E(V) on a BM4 curve
    ...     e = BM4(np.array(coefficients), np.nan, np.nan, np.nan, np.nan, 0.0).energy(v)
    ...     return EnergyVolume(v, e, n_atoms=12, mass=90.65, label=label)
    >>> fm = configuration([132.04568, -14049.6831, 245394.098, -802171.920], "FM")
    >>> sf = configuration([57.8562911, -8004.42428, 85760.8652, 557048.189], "SF")
    >>> report = zentropy_report([fm, sf], [2, 12], temperature_grid(50, 1000, 50))
    >>> report.names, report.label, len(report.rows())
    (['FM', 'SF'], 'zentropy', 20)
    >>> row = report.rows()[8]
    >>> {key: round(float(row[key]), 2) for key in ("T_K", "V_A3", "B_GPa", "p_FM", "p_SF")}
    {'T_K': 450.0, 'V_A3': 158.08, 'B_GPa': 142.65, 'p_FM': 0.69, 'p_SF': 0.31}
    >>> {key: round(value, 2) for key, value in report.critical_point().items()}
    {'T_K': 200.0, 'V_A3': 149.85, 'P_GPa': 6.8}
    >>> len(report.coexistence()), int(report.negative_expansion().sum())
    (3, 0)
    >>> print(report.eos_table())
    configuration   g  V0 (Å^3)   E0 (eV)  B0 (GPa)    B'  rms (meV)
    FM              2   156.433  -93.5287     175.5  3.66       0.00
    SF             12   153.771  -93.3617     161.9  4.27       0.00
    """

    properties: object
    diagram: object
    names: list
    configurations: list = field(default_factory=list)
    multiplicities: list = field(default_factory=list)
    eos: list = field(default_factory=list)
    alone: object = None
    label: str = "zentropy"

    def rows(self):
        """One dict per temperature: T_K, V_A3, alpha_V_per_K, alpha_L_per_K, B_GPa, G_eV,
        S_eV_per_K, Cp_eV_per_K, p_NAME per configuration and ``equilibrium`` (False
        where the minimum of G lies on the edge of the volume range; those values are NaN).
        """
        iso = self.properties
        probabilities = (iso.probabilities if iso.probabilities is not None
                         else np.full((len(self.names), iso.temperatures.size), np.nan))
        return [{"T_K": tk, "V_A3": v, "alpha_V_per_K": a, "alpha_L_per_K": a / 3, "B_GPa": b,
                 "G_eV": gg, "S_eV_per_K": s, "Cp_eV_per_K": cp,
                 **{f"p_{n}": p for n, p in zip(self.names, probabilities[:, i])},
                 "equilibrium": not edge}
                for i, (tk, edge, v, a, b, gg, s, cp) in enumerate(zip(
                    iso.temperatures, iso.on_edge, iso.volume, iso.volumetric_expansion,
                    iso.bulk_modulus, iso.gibbs_energy, iso.entropy, iso.heat_capacity))]

    def critical_point(self):
        """{'T_K', 'V_A3', 'P_GPa'} where the spinodal closes, or None."""
        critical = self.diagram.critical_point
        return (None if critical is None else
                {"T_K": critical[0], "V_A3": critical[1], "P_GPa": critical[2]})

    def coexistence(self):
        """Rows of the coexistence line where two volumes coexist (GPa, Å^3)."""
        d = self.diagram
        return [{"T_K": tk, "P_coexistence_GPa": p, "V_low_A3": va, "V_high_A3": vb,
                 "P_spinodal_low_GPa": sa, "P_spinodal_high_GPa": sb}
                for tk, p, (va, vb), (sa, sb) in zip(
                    d.temperatures, d.coexistence_pressure, d.coexistence_volumes,
                    d.spinodal_pressures)
                if np.isfinite(p)]

    def negative_expansion(self):
        """(n_T,) bool: thermal expansion below -``EXPANSION_TOLERANCE``."""
        return self.properties.volumetric_expansion < -EXPANSION_TOLERANCE

    def eos_table(self):
        """The configurations with g and their BM4 fit, as aligned text."""
        table = [(d.label, f"{m:g}", f"{e.volume0:.3f}", f"{e.energy0:.4f}",
                  f"{e.bulk_modulus0:.1f}", f"{e.bulk_modulus_derivative0:.2f}",
                  f"{e.rms * 1e3:.2f}")
                 for d, m, e in zip(self.configurations, self.multiplicities, self.eos)]
        return align_table(("configuration", "g", "V0 (Å^3)", "E0 (eV)", "B0 (GPa)", "B'",
                            "rms (meV)"), table)

    def summary(self):
        """What ``quests zentropy`` (or ``zenn predict``) prints."""
        iso = self.properties
        t = iso.temperatures
        ok = np.flatnonzero(~iso.on_edge)
        span = (f"V from {iso.volume[ok[0]]:.4g} to {iso.volume[ok[-1]]:.4g} Å^3 over "
                f"{t[ok[0]]:g}-{t[ok[-1]]:g} K")
        if self.configurations:
            lines = [self.eos_table(), "", f"at P = {iso.pressure:g} GPa: {span}"]
            if self.alone is not None:
                below = (iso.volumetric_expansion
                         < self.alone.volumetric_expansion - EXPANSION_TOLERANCE)
                lines.append(f"expansion below {self.names[0]} alone: {_spans(t, below)}")
            lines.append(f"negative expansion: {_spans(t, self.negative_expansion())}")
        else:
            lines = [f"at P = {iso.pressure:g} GPa: {span}; negative expansion: "
                     f"{_spans(t, self.negative_expansion())}"]
        critical = self.diagram.critical_point
        lines.append("critical point (spinodal closes): " + (
            f"T = {critical[0]:.1f} K, V = {critical[1]:.2f} Å^3, P = {critical[2]:.2f} GPa"
            if critical else "none in range"))
        rows = self.coexistence()
        if rows:
            lines.append(f"coexistence of two volumes: P = {rows[0]['P_coexistence_GPa']:.2f} "
                         f"GPa at {rows[0]['T_K']:g} K to {rows[-1]['P_coexistence_GPa']:.2f} "
                         f"GPa at {rows[-1]['T_K']:g} K")
        return "\n".join(lines)

    def to_dict(self):
        """EOS fits (for a zentropy sum), critical point, coexistence line and rows."""
        out = {}
        if self.configurations:
            out["eos"] = [{"configuration": d.label, "multiplicity": m, "V0": e.volume0,
                           "E0": e.energy0, "B0_GPa": e.bulk_modulus0,
                           "B_prime": e.bulk_modulus_derivative0, "rms_eV": e.rms}
                          for d, m, e in zip(self.configurations, self.multiplicities,
                                             self.eos)]
        return {**out, "critical_point": self.critical_point(),
                "coexistence": self.coexistence(), "rows": self.rows()}


def zentropy_report(configurations, multiplicities, temperatures, pressure=0.0, *,
                    n_volumes=400, scaling=DEFAULT_DEBYE_SCALING, x=2.0 / 3.0, n_atoms=None,
                    mass=None):
    """Read configurations, sum them by zentropy and take the equilibrium at ``pressure``.

    Parameters
    ----------
    configurations : list of paths (or ``EnergyVolume``)
        Each a folder of per-volume VASP runs, an extxyz or a CSV of E(V)
        (``read_energy_volume``; ``n_atoms`` and ``mass`` for a CSV).
    multiplicities : list of float, g_k
    temperatures : array of shape (n_T,), K (``temperature_grid``)
    pressure : float, GPa
    n_volumes : int, volumes over the range every configuration covers
    scaling, x : the Debye-Grüneisen model's parameters (``zentropy_from_dft``)

    Returns
    -------
    ZentropyReport

    Examples
    --------
    Fe3Pt, a ferromagnetic (g = 2) and a spin-flip (g = 12) configuration of a 12-atom
    cell, each a CSV of E(V) (folders of VASP runs read the same way):

    >>> import os, shutil, tempfile
    >>> from quests.zenn import BM4
    >>> folder = tempfile.mkdtemp()
    >>> v = np.linspace(139.0, 172.0, 12)
    >>> for name, coefficients in (("fm", [132.04568, -14049.6831, 245394.098, -802171.920]),
    ...                            ("sf", [57.8562911, -8004.42428, 85760.8652, 557048.189])):
    ...     e = BM4(np.array(coefficients), np.nan, np.nan, np.nan, np.nan, 0.0).energy(v)
    ...     np.savetxt(os.path.join(folder, name + ".csv"), np.column_stack([v, e]),
    ...                delimiter=",", header="volume,energy", comments="")
    >>> paths = [os.path.join(folder, name) for name in ("fm.csv", "sf.csv")]
    >>> report = zentropy_report(paths, [2, 12], temperature_grid(50, 1000, 50),
    ...                          n_atoms=12, mass=90.65)
    >>> print(report.summary())
    configuration   g  V0 (Å^3)   E0 (eV)  B0 (GPa)    B'  rms (meV)
    fm.csv          2   156.433  -93.5287     175.5  3.66       0.00
    sf.csv         12   153.771  -93.3617     161.9  4.27       0.00
    <BLANKLINE>
    at P = 0 GPa: V from 157 to 160.4 Å^3 over 50-1000 K
    expansion below fm.csv alone: 200-700 K
    negative expansion: none
    critical point (spinodal closes): T = 200.0 K, V = 149.85 Å^3, P = 6.80 GPa
    coexistence of two volumes: P = 8.43 GPa at 50 K to 7.27 GPa at 150 K
    >>> shutil.rmtree(folder)
    """
    _check_conditions(pressure, n_volumes)
    data = [c if hasattr(c, "energies") else read_energy_volume(c, n_atoms=n_atoms, mass=mass)
            for c in configurations]
    g = [float(m) for m in multiplicities]
    t = np.asarray(temperatures, dtype=float)
    z, free_energies, eos = zentropy_from_dft(data, g, t, n_volumes=n_volumes,
                                              scaling=scaling, x=x)
    iso = isobaric_properties(t, z.volumes, z.free_energy, pressure, z.probabilities)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QuestsWarning)  # the sum's rows are what count
            alone = isobaric_properties(t, z.volumes, free_energies[0], pressure)
    except InvalidInputError:
        alone = None  # the first configuration alone has no equilibrium in range
    return ZentropyReport(iso, phase_diagram(t, z.volumes, z.free_energy),
                          [d.label for d in data], data, g, eos, alone)


def zentropy_training_data(folder, multiplicities=None, temperatures=None, n_volumes=80, *,
                           scaling=DEFAULT_DEBYE_SCALING, x=2.0 / 3.0, n_atoms=None,
                           mass=None):
    """The rows (x = V, T, F) of the zentropy F(V, T) of a folder of configurations.

    Parameters
    ----------
    folder : path, read by ``read_configurations``
    multiplicities : dict name -> g, optional (default 1 each)
    temperatures : array (n_T,), K; default 10, 20, ..., 1200
    n_volumes : int, over the range every configuration covers

    Returns
    -------
    x, t, f : ndarrays of shape (n_T * n_V,), Å^3, K, eV
    report : ZentropyReport of the configurations (its ``eos_table`` lists them)
    zentropy : Zentropy, the sum on its (T, V) grid

    Examples
    --------
    A folder of two Fe3Pt configurations of a 12-atom cell, one CSV of E(V) each; the
    rows run over volumes within each temperature:

    >>> import os, shutil, tempfile
    >>> from quests.zenn import BM4
    >>> folder = tempfile.mkdtemp()
    >>> v = np.linspace(139.0, 172.0, 12)
    >>> for name, coefficients in (("fm", [132.04568, -14049.6831, 245394.098, -802171.920]),
    ...                            ("sf", [57.8562911, -8004.42428, 85760.8652, 557048.189])):
    ...     e = BM4(np.array(coefficients), np.nan, np.nan, np.nan, np.nan, 0.0).energy(v)
    ...     np.savetxt(os.path.join(folder, name + ".csv"), np.column_stack([v, e]),
    ...                delimiter=",", header="volume,energy", comments="")
    >>> x, t, f, report, z = zentropy_training_data(
    ...     folder, {"fm": 2, "sf": 12}, temperature_grid(100, 1000, 100), n_volumes=40,
    ...     n_atoms=12, mass=90.65)
    >>> x.shape, t.shape, f.shape, report.names, report.multiplicities
    ((400,), (400,), (400,), ['fm', 'sf'], [2.0, 12.0])
    >>> t[:3].tolist(), x[:2].round(2).tolist()
    ([100.0, 100.0, 100.0], [139.0, 139.85])
    >>> bool(np.array_equal(f, z.free_energy.ravel()))
    True
    >>> shutil.rmtree(folder)
    """
    data = read_configurations(folder, n_atoms=n_atoms, mass=mass)
    names = [d.label for d in data]
    given = dict(multiplicities or {})
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise InvalidInputError(f"the multiplicities name {', '.join(unknown)}, which {folder} "
                                f"does not hold (it holds {', '.join(names)})")
    g = [float(given.get(name, 1.0)) for name in names]
    t = temperature_grid(10, 1200, 10) if temperatures is None else np.asarray(temperatures)
    _check_conditions(0.0, n_volumes)
    z, _, eos = zentropy_from_dft(data, g, t, n_volumes=n_volumes, scaling=scaling, x=x)
    report = ZentropyReport(None, None, names, data, g, eos)
    return (np.tile(z.volumes, t.size), np.repeat(t, z.volumes.size), z.free_energy.ravel(),
            report, z)


def distribution_grid(x, t, p):
    """Boltzmann probabilities P(x | T) given as rows (x, T, P), on their full grid.

    Returns (xs (n_x,), ts (n_T,), P (n_T, n_x)); refuses rows that do not fill
    the grid exactly once.

    Examples
    --------
    Two states at two temperatures, the rows in any order:

    >>> xs, ts, p = distribution_grid([2.0, 1.0, 1.0, 2.0], [600.0, 300.0, 600.0, 300.0],
    ...                               [0.4, 0.7, 0.6, 0.3])
    >>> xs.tolist(), ts.tolist(), p.tolist()
    ([1.0, 2.0], [300.0, 600.0], [[0.7, 0.3], [0.6, 0.4]])
    >>> distribution_grid([1.0, 1.0, 2.0], [300.0, 600.0, 300.0], [0.7, 0.6, 0.3])
    Traceback (most recent call last):
    ...
    quests._errors.InvalidInputError: P is needed on a full grid of x and T (2 x 2 values, 3 rows)
    """
    xs, ts = np.unique(x), np.unique(t)
    if xs.size * ts.size != np.size(x):
        raise InvalidInputError(f"P is needed on a full grid of x and T ({xs.size} x "
                                f"{ts.size} values, {np.size(x)} rows)")
    grid = np.full((ts.size, xs.size), np.nan)
    grid[np.searchsorted(ts, t), np.searchsorted(xs, x)] = p
    if np.isnan(grid).any():
        raise InvalidInputError("some (x, T) pairs repeat, others are missing")
    return xs, ts, grid


def read_training_data(path, distributions=False):
    """What a ZENN learns from, read from a CSV (with a header) or JSON of lists.

    Columns x, T and F (free energies, rows in any order) or, with
    ``distributions``, x, T and P (Boltzmann probabilities on a full x-by-T grid).

    Returns (x, t, f) of shape (n,) each, or (xs (n_x,), ts (n_T,), P (n_T, n_x)).

    Examples
    --------
    >>> import json, os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "f.csv")
    >>> v, temps = np.meshgrid([10.0, 11.0, 12.0], [300.0, 600.0])
    >>> np.savetxt(path, np.column_stack([v.ravel(), temps.ravel(), 0.5 * (v.ravel() - 11) ** 2]),
    ...            delimiter=",", header="x,T,F", comments="")
    >>> x, t, f = read_training_data(path)
    >>> x.tolist(), f.tolist()
    ([10.0, 11.0, 12.0, 10.0, 11.0, 12.0], [0.5, 0.0, 0.5, 0.5, 0.0, 0.5])
    >>> t.tolist()
    [300.0, 300.0, 300.0, 600.0, 600.0, 600.0]

    Boltzmann probabilities of two states, as JSON lists:

    >>> path = os.path.join(folder, "p.json")
    >>> with open(path, "w") as handle:
    ...     json.dump({"x": [1, 2, 1, 2], "T": [300, 300, 600, 600],
    ...                "P": [0.7, 0.3, 0.6, 0.4]}, handle)
    >>> xs, ts, p = read_training_data(path, distributions=True)
    >>> xs.tolist(), ts.tolist(), p.tolist()
    ([1.0, 2.0], [300.0, 600.0], [[0.7, 0.3], [0.6, 0.4]])
    >>> shutil.rmtree(folder)
    """
    from quests.io import read_columns

    if not distributions:
        cols = read_columns(path, ("x", "T", "F"))
        return cols["x"], cols["T"], cols["F"]
    cols = read_columns(path, ("x", "T", "P"))
    try:
        return distribution_grid(cols["x"], cols["T"], cols["P"])
    except InvalidInputError as error:
        raise InvalidInputError(f"{path}: --distributions: {error}") from None


def zenn_report(model, pressure=0.0, temperatures=None, n_volumes=400):
    """V(T), thermal expansion, B, G, Cp and p_k(T) at ``pressure`` from a trained ZENN.

    x is taken as the volume (Å^3, one feature) and F in eV: the properties
    come from the model's F on a (T, V) grid over its training range (default
    temperatures: that range in 100 steps), by the same functions as
    ``zentropy_report``.

    Examples
    --------
    A small ZENN, briefly trained on the zentropy F(V, T) of two configurations (g = 1
    and 3; the second smaller, 40 meV higher, with an entropy of 2 kB):

    >>> from quests.zenn import ZENN, zentropy
    >>> from quests._units import BOLTZMANN_EV
    >>> t, v = np.linspace(100.0, 1000.0, 6), np.linspace(10.0, 12.0, 7)
    >>> f_k = np.stack([0.5 * (v - 11.2) ** 2 + 0 * t[:, None],
    ...                 0.5 * (v - 10.6) ** 2 + 0.04 - 2 * BOLTZMANN_EV * t[:, None]])
    >>> f = zentropy(t, v, f_k, [1.0, 3.0]).free_energy
    >>> model = ZENN(2, multiplicities=[1.0, 3.0], hidden=(8,), seed=0).fit(
    ...     np.tile(v, t.size), np.repeat(t, v.size), f.ravel(), epochs=100, lbfgs_steps=40)
    >>> report = zenn_report(model, n_volumes=101)
    >>> report.label, report.names, len(report.rows())
    ('ZENN', ['0', '1'], 101)

    The volume moves from the first configuration's (11.2) at 100 K to the second's
    (10.6) at 1000 K, as for the exact zentropy sum:

    >>> report.properties.volume[[0, -1]].round(1).tolist()
    [11.2, 10.6]
    """
    _check_conditions(pressure, n_volumes)
    spec = model.spec_
    if spec["n_features"] != 1:
        raise InvalidInputError("predict needs a model of one input feature (the volume)")
    t = (np.linspace(spec["t_min"], spec["t_max"], 101) if temperatures is None
         else np.asarray(temperatures, dtype=float))
    v = np.linspace(spec["x_min"][0], spec["x_max"][0], n_volumes)
    grid, p = model.free_energy_grid(t, v)
    iso = isobaric_properties(t, v, grid, pressure, p)
    return ZentropyReport(iso, phase_diagram(t, v, grid),
                          [str(k) for k in range(spec["n_configurations"])], label="ZENN")
