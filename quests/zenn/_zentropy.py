"""Zentropy: the free energy of several configurations and what follows from it.

F(V, T) = -kB T ln sum_k g_k exp(-F_k(V, T) / (kB T)), p_k = g_k exp(-F_k / kB T) / Z,
S = sum_k p_k S_k - kB sum_k p_k ln(p_k / g_k) with S_k = -dF_k/dT, on a (T, V) grid;
then P = -dF/dV, B = V d2F/dV2, Cv = T dS/dT, and at fixed pressure V(T) minimising
F + PV, thermal expansion, G, Cp, spinodals (d2F/dV2 = 0) and the critical point.

Units: eV and Å^3 per cell, K, GPa; entropies in eV/K per cell.
"""

import warnings
from dataclasses import dataclass

import numpy as np

from quests._defaults import DEFAULT_DEBYE_SCALING
from quests._errors import InvalidInputError, QuestsWarning
from quests._units import BOLTZMANN_EV, GPA_PER_EV_PER_A3
from quests.zenn._qha import helmholtz_energy

__all__ = ["Zentropy", "zentropy", "IsobaricProperties", "isobaric_properties", "spinodal",
           "critical_point", "PhaseDiagram", "phase_diagram", "zentropy_from_dft"]


@dataclass(frozen=True)
class Zentropy:
    """The zentropy sum on a grid.

    Attributes
    ----------
    temperatures : (n_T,), volumes : (n_V,)
    free_energy : (n_T, n_V), eV
    probabilities : (K, n_T, n_V)
    entropy, configurational_entropy : (n_T, n_V), eV/K
        Total S and its configurational part -kB sum p ln(p / g).
    pressure : (n_T, n_V), GPa
    bulk_modulus : (n_T, n_V), GPa
    heat_capacity : (n_T, n_V), eV/K (constant volume)

    Examples
    --------
    Made by ``zentropy``. Two configurations (g = 1 and 3) whose F_k cross at V = 11:

    >>> t, v = np.array([300.0, 600.0, 900.0]), np.linspace(10.0, 12.0, 21)
    >>> f_k = np.stack([np.tile(0.5 * (v - c) ** 2, (t.size, 1)) for c in (11.2, 10.8)])
    >>> z = zentropy(t, v, f_k, [1.0, 3.0])
    >>> z.free_energy.shape, z.probabilities.shape
    ((3, 21), (2, 3, 21))

    There p_k = g_k / 4 and the configurational entropy is kB ln 4 at every T:

    >>> z.probabilities[:, 0, 10].round(6).tolist()
    [0.25, 0.75]
    >>> bool(np.allclose(z.configurational_entropy[:, 10], BOLTZMANN_EV * np.log(4)))
    True
    """

    temperatures: np.ndarray
    volumes: np.ndarray
    free_energy: np.ndarray
    probabilities: np.ndarray
    entropy: np.ndarray
    configurational_entropy: np.ndarray
    pressure: np.ndarray
    bulk_modulus: np.ndarray
    heat_capacity: np.ndarray


def _derivative(values, grid, axis=-1):
    """Second-order finite differences, also at the edges of the grid."""
    return np.gradient(values, grid, axis=axis, edge_order=2)


def _derivative_where_finite(values, grid):
    """``_derivative`` of a 1-D array over each run of finite values on its own, so the
    NaN rows (no equilibrium in range) do not spread into their neighbours; a run of one
    value has no derivative (NaN), a run of two a first-order one."""
    values = np.asarray(values, dtype=float)
    out = np.full(values.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(values))
    for run in np.split(finite, np.flatnonzero(np.diff(finite) > 1) + 1):
        if run.size >= 2:
            out[run] = np.gradient(values[run], grid[run], edge_order=2 if run.size > 2 else 1)
    return out


def _second_derivative(values, grid, axis=-1):
    return _derivative(_derivative(values, grid, axis), grid, axis)


def _check_grid(temperatures, volumes, free_energies, multiplicities):
    t = np.asarray(temperatures, dtype=float)
    v = np.asarray(volumes, dtype=float)
    f = np.asarray(free_energies, dtype=float)
    g = np.asarray(multiplicities, dtype=float)
    if t.ndim != 1 or v.ndim != 1:
        raise InvalidInputError("temperatures and volumes must be 1-D grids")
    if f.ndim == 2:
        f = f[None]
    if f.ndim != 3 or f.shape[1:] != (t.size, v.size):
        raise InvalidInputError(f"free energies must have shape (K, {t.size}, {v.size}) for "
                                f"{t.size} temperatures and {v.size} volumes; got {f.shape}")
    if g.shape != (f.shape[0],):
        raise InvalidInputError(f"{f.shape[0]} configurations need {f.shape[0]} "
                                f"multiplicities; got {g.shape}")
    if not np.all(np.isfinite(g)) or np.any(g <= 0):
        raise InvalidInputError(f"multiplicities must be > 0; got {g.tolist()}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v)) and np.all(np.isfinite(f))):
        raise InvalidInputError("temperatures, volumes and free energies must be finite")
    if np.any(t <= 0):
        raise InvalidInputError("temperatures must be > 0 K")
    if np.any(np.diff(t) <= 0) or np.any(np.diff(v) <= 0):
        raise InvalidInputError("temperatures and volumes must be strictly increasing")
    return t, v, f, g


def zentropy(temperatures, volumes, free_energies, multiplicities):
    """Combine per-configuration free energies F_k(V, T) by the zentropy formula.

    Parameters
    ----------
    temperatures : array (n_T,), K, strictly increasing, > 0
    volumes : array (n_V,), Å^3, strictly increasing
    free_energies : array (K, n_T, n_V), eV (or (n_T, n_V) for one configuration)
    multiplicities : array (K,), g_k > 0

    Returns
    -------
    Zentropy

    Examples
    --------
    Two configurations with equal F and g = 1: F = F_1 - kB T ln 2.

    >>> t, v = np.array([100.0, 200.0, 300.0]), np.array([10.0, 11.0, 12.0])
    >>> f = np.zeros((2, 3, 3))
    >>> z = zentropy(t, v, f, [1, 1])
    >>> np.allclose(z.free_energy, -BOLTZMANN_EV * t[:, None] * np.log(2))
    True
    """
    t, v, f, g = _check_grid(temperatures, volumes, free_energies, multiplicities)
    kt = BOLTZMANN_EV * t[None, :, None]
    # log-sum-exp: stable however far apart the F_k lie
    exponent = np.log(g)[:, None, None] - f / kt
    top = exponent.max(axis=0)
    weights = np.exp(exponent - top)
    total = weights.sum(axis=0)
    free_energy = -kt[0] * (top + np.log(total))
    p = weights / total
    s_k = -_derivative(f, t, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mixing = np.where(p > 0, p * np.log(p / g[:, None, None]), 0.0).sum(axis=0)
    s_conf = -BOLTZMANN_EV * mixing
    entropy = (p * s_k).sum(axis=0) + s_conf
    return Zentropy(
        temperatures=t, volumes=v, free_energy=free_energy, probabilities=p, entropy=entropy,
        configurational_entropy=s_conf,
        pressure=-_derivative(free_energy, v, axis=1) * GPA_PER_EV_PER_A3,
        bulk_modulus=v * _second_derivative(free_energy, v, axis=1) * GPA_PER_EV_PER_A3,
        heat_capacity=t[:, None] * _derivative(entropy, t, axis=0))


@dataclass(frozen=True)
class IsobaricProperties:
    """Equilibrium along temperature at one pressure.

    Attributes
    ----------
    pressure : float, GPa
    temperatures : (n_T,), K
    volume : (n_T,), Å^3, minimising G(V) = F + PV (refined between grid points)
    gibbs_energy : (n_T,), eV
    volumetric_expansion, linear_expansion : (n_T,), 1/K
    bulk_modulus : (n_T,), GPa (isothermal, at V(T))
    entropy : (n_T,), eV/K, -dG/dT
    heat_capacity : (n_T,), eV/K, Cp = T dS/dT
    probabilities : (K, n_T) or None, p_k at V(T)
    on_edge : (n_T,) bool, the minimum lies at the edge of the volume grid: no
        equilibrium inside the range the data cover. Those rows hold NaN (their
        neighbours' derivatives too), never an extrapolated volume.

    Examples
    --------
    Made by ``isobaric_properties``. A cell of B = 175 GPa whose minimum moves by
    0.005 Å^3/K:

    >>> t, v = np.linspace(100.0, 500.0, 5), np.linspace(150.0, 170.0, 201)
    >>> f = 0.5 * 0.007 * (v - 156.0 - 5e-3 * t[:, None]) ** 2
    >>> iso = isobaric_properties(t, v, f)
    >>> iso.volume.round(3).tolist()
    [156.5, 157.0, 157.5, 158.0, 158.5]
    >>> (iso.volumetric_expansion * 1e6).round(1).tolist()  # 0.005 / V, in 1e-6/K
    [31.9, 31.8, 31.7, 31.6, 31.5]
    >>> iso.bulk_modulus.round(1).tolist()  # GPa, V d2F/dV2 at V(T)
    [175.5, 176.1, 176.6, 177.2, 177.8]
    >>> bool(iso.on_edge.any()), iso.probabilities  # every minimum inside; no p_k given
    (False, None)
    """

    pressure: float
    temperatures: np.ndarray
    volume: np.ndarray
    gibbs_energy: np.ndarray
    volumetric_expansion: np.ndarray
    linear_expansion: np.ndarray
    bulk_modulus: np.ndarray
    entropy: np.ndarray
    heat_capacity: np.ndarray
    probabilities: object
    on_edge: np.ndarray


def isobaric_properties(temperatures, volumes, free_energy, pressure=0.0, probabilities=None):
    """V(T), G(T), thermal expansion, B_T and Cp at ``pressure`` (GPa) from F(V, T).

    The minimum of G = F + PV on each temperature row is refined by a
    parabola through the grid minimum and its neighbours. Where the minimum
    lies on the edge of the volume grid the equilibrium is outside the range
    the data cover: that row is NaN and ``on_edge`` (a ``QuestsWarning`` says
    how many); if every row is, the pressure is refused.

    Examples
    --------
    Invar-like Fe3Pt: a ferromagnetic (FM, g = 2) and a smaller spin-flip (SF, g = 12)
    configuration of a 12-atom cell, from their BM4 curves:

    >>> from quests.zenn import BM4, EnergyVolume
    >>> v = np.linspace(139.0, 172.0, 12)
    >>> def configuration(coefficients, label):  # E(V) on a BM4 curve, 12-atom cell
    ...     e = BM4(np.array(coefficients), np.nan, np.nan, np.nan, np.nan, 0.0).energy(v)
    ...     return EnergyVolume(v, e, n_atoms=12, mass=90.65, label=label)
    >>> fm = configuration([132.04568, -14049.6831, 245394.098, -802171.920], "FM")
    >>> sf = configuration([57.8562911, -8004.42428, 85760.8652, 557048.189], "SF")
    >>> t = np.arange(50.0, 1001.0, 50.0)
    >>> z, f_k, _ = zentropy_from_dft([fm, sf], [2, 12], t)
    >>> iso = isobaric_properties(t, z.volumes, z.free_energy, 0.0, z.probabilities)
    >>> alone = isobaric_properties(t, z.volumes, f_k[0])  # FM by itself

    At 450 K the SF configurations fill in as the cell grows, and cancel most of the
    thermal expansion (in 1e-6/K) of FM alone:

    >>> float(t[8]), round(float(iso.volume[8]), 2), iso.probabilities[:, 8].round(2).tolist()
    (450.0, 158.08, [0.69, 0.31])
    >>> [round(float(p.volumetric_expansion[8]) * 1e6, 1) for p in (iso, alone)]
    [3.3, 30.1]
    """
    t = np.asarray(temperatures, dtype=float)
    v = np.asarray(volumes, dtype=float)
    f = np.asarray(free_energy, dtype=float)
    if f.shape != (t.size, v.size):
        raise InvalidInputError(f"free_energy must have shape ({t.size}, {v.size})")
    if v.size < 3:
        raise InvalidInputError("a volume grid of at least 3 points is needed")
    g = f + pressure / GPA_PER_EV_PER_A3 * v[None, :]
    i = np.argmin(g, axis=1)
    on_edge = (i == 0) | (i == v.size - 1)
    if on_edge.all():
        raise InvalidInputError(
            f"at P = {pressure:g} GPa the minimum of G = F + PV lies on the edge of the volume "
            f"range ({v[0]:.4g}-{v[-1]:.4g} Å^3) at every temperature: the equilibrium is "
            "outside what the E(V) data cover (a pressure or temperature out of range?)")
    j = np.clip(i, 1, v.size - 2)
    rows = np.arange(t.size)
    x0, x1, x2 = v[j - 1], v[j], v[j + 1]
    y0, y1, y2 = g[rows, j - 1], g[rows, j], g[rows, j + 1]
    # vertex of the parabola through three points
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 ** 2 * (y0 - y1) + x1 ** 2 * (y2 - y0) + x0 ** 2 * (y1 - y2)) / denom
    c = (x1 * x2 * (x1 - x2) * y0 + x2 * x0 * (x2 - x0) * y1 + x0 * x1 * (x0 - x1) * y2) / denom
    volume = np.where(a > 0, -b / (2 * a), x1)
    gibbs = np.where(a > 0, c - b ** 2 / (4 * a), y1)
    # an edge minimum is no equilibrium: the parabola would extrapolate past the data
    # (V = -423 Å^3 at 1000 GPa), so those rows are NaN rather than a number
    volume[on_edge], gibbs[on_edge] = np.nan, np.nan
    if on_edge.any():
        warnings.warn(f"at {int(on_edge.sum())} of {t.size} temperatures the minimum of G "
                      f"at P = {pressure:g} GPa lies on the edge of the volume range: no "
                      "equilibrium there (those rows are empty)", QuestsWarning, stacklevel=2)
    d2 = _second_derivative(f, v)
    bulk = np.array([np.interp(vol, v, row) if np.isfinite(vol) else np.nan
                     for vol, row in zip(volume, d2)]) * volume * GPA_PER_EV_PER_A3
    alpha = _derivative_where_finite(volume, t) / volume
    entropy = -_derivative_where_finite(gibbs, t)
    probs = None
    if probabilities is not None:
        probs = np.array([[np.interp(vol, v, pk[n]) if np.isfinite(vol) else np.nan
                           for n, vol in enumerate(volume)]
                          for pk in np.asarray(probabilities)])
    return IsobaricProperties(
        pressure=float(pressure), temperatures=t, volume=volume, gibbs_energy=gibbs,
        volumetric_expansion=alpha, linear_expansion=alpha / 3.0, bulk_modulus=bulk,
        entropy=entropy, heat_capacity=t * _derivative_where_finite(entropy, t),
        probabilities=probs,
        on_edge=on_edge)


def spinodal(temperatures, volumes, free_energy):
    """Volumes where d2F/dV2 changes sign, per temperature: a list of arrays (Å^3).

    ``free_energy`` has shape (n_T, n_V); the crossings are linearly interpolated.

    Examples
    --------
    A Landau double well, F = a (T - Tc) u^2 + b u^4 with u = V - 11 and Tc = 600 K: the
    spinodal lies at u = +-(a (Tc - T) / 6 b)^(1/2) below Tc, and nowhere above.

    >>> a, b = 1e-3, 0.5
    >>> t, v = np.linspace(300.0, 900.0, 13), np.linspace(9.0, 13.0, 401)
    >>> f = a * (t[:, None] - 600.0) * (v - 11.0) ** 2 + b * (v - 11.0) ** 4
    >>> points = spinodal(t, v, f)
    >>> float(t[2]), points[2].round(3).tolist()
    (400.0, [10.742, 11.258])
    >>> [p.size for p in points]
    [2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0]
    """
    v = np.asarray(volumes, dtype=float)
    return _crossings(v, _second_derivative(np.asarray(free_energy, dtype=float), v))


def _crossings(v, d2):
    """Volumes where each row of d2 (n_T, n_V) changes sign, linearly interpolated."""
    out = []
    for row in d2:
        k = np.flatnonzero(np.sign(row[:-1]) * np.sign(row[1:]) < 0)
        out.append(v[k] - row[k] * (v[k + 1] - v[k]) / (row[k + 1] - row[k]))
    return out


def critical_point(temperatures, volumes, free_energy):
    """Where the spinodal closes: (T_c, V_c) or None if F(V) is convex at every T or at none.

    T_c lies between the last temperature with a concave region and the first
    without one (linearly interpolated in the width of the concave region);
    V_c is the middle of the last concave region.

    Examples
    --------
    A Landau double well with Tc = 600 K at V = 11 Å^3:

    >>> t, v = np.linspace(300.0, 900.0, 13), np.linspace(9.0, 13.0, 401)
    >>> f = 1e-3 * (t[:, None] - 600.0) * (v - 11.0) ** 2 + 0.5 * (v - 11.0) ** 4
    >>> t_c, v_c = critical_point(t, v, f)
    >>> round(t_c, 1), round(v_c, 3)
    (600.0, 11.0)
    >>> print(critical_point(t[t > 600.0], v, f[t > 600.0]))  # convex at every T
    None
    """
    t = np.asarray(temperatures, dtype=float)
    return _critical_from(t, spinodal(t, volumes, free_energy))


def _critical_from(t, points):
    """``critical_point`` from the spinodal volumes ``points`` of each temperature."""
    concave = np.array([p.size >= 2 for p in points])
    if concave.all() or not concave.any():
        return None
    last = int(np.flatnonzero(concave)[-1])
    if last + 1 >= t.size:
        return None
    width = points[last][-1] - points[last][0]
    previous = points[last - 1] if last > 0 and concave[last - 1] else None
    if previous is not None:
        width_before = previous[-1] - previous[0]
        slope = (width - width_before) / (t[last] - t[last - 1])
        t_c = t[last] - width / slope if slope < 0 else t[last]
        t_c = float(min(max(t_c, t[last]), t[last + 1]))
    else:
        t_c = float(0.5 * (t[last] + t[last + 1]))
    return t_c, float(0.5 * (points[last][0] + points[last][-1]))


@dataclass(frozen=True)
class PhaseDiagram:
    """Where F(V) is not convex, per temperature: the P-T diagram of a volume transition.

    Attributes
    ----------
    temperatures : (n_T,), K
    coexistence_pressure : (n_T,), GPa, the common tangent's -dF/dV (NaN where F(V)
        is convex, above the critical point, or where the tangent leaves the grid)
    coexistence_volumes : (n_T, 2), Å^3, the two volumes that coexist
    spinodal_pressures : (n_T, 2), GPa, -dF/dV at the two ends of the concave region
        (the limits of metastability of the two phases)
    critical_point : (T_c, V_c, P_c) in K, Å^3, GPa, or None

    Examples
    --------
    Made by ``phase_diagram``; a Landau double well with Tc = 600 K:

    >>> t, v = np.linspace(300.0, 900.0, 13), np.linspace(9.0, 13.0, 401)
    >>> f = 1e-3 * (t[:, None] - 600.0) * (v - 11.0) ** 2 + 0.5 * (v - 11.0) ** 4
    >>> diagram = phase_diagram(t, v, f)
    >>> diagram.coexistence_volumes.shape, diagram.spinodal_pressures.shape
    ((13, 2), (13, 2))
    >>> t[np.isfinite(diagram.coexistence_pressure)].tolist()  # two volumes coexist below Tc
    [300.0, 350.0, 400.0, 450.0, 500.0, 550.0]
    >>> t_c, v_c, p_c = diagram.critical_point
    >>> round(t_c, 1), round(v_c, 3), abs(round(p_c, 3))  # a symmetric well: P_c = 0
    (600.0, 11.0, 0.0)
    """

    temperatures: np.ndarray
    coexistence_pressure: np.ndarray
    coexistence_volumes: np.ndarray
    spinodal_pressures: np.ndarray
    critical_point: object


def _common_tangent(v, f, inside):
    """The edge of the lower convex hull of (v, f) that spans ``inside``: (i, j) or None.

    A concave stretch of F(V) lies above the hull; the hull edge across it is the
    common tangent (Maxwell's construction on the grid).
    """
    hull = []
    for k in range(v.size):  # Andrew's monotone chain, lower half
        while len(hull) >= 2 and ((v[hull[-1]] - v[hull[-2]]) * (f[k] - f[hull[-2]])
                                  - (f[hull[-1]] - f[hull[-2]]) * (v[k] - v[hull[-2]])) <= 0:
            hull.pop()
        hull.append(k)
    for i, j in zip(hull[:-1], hull[1:]):
        if v[i] <= inside <= v[j] and j > i + 1:
            return i, j
    return None


def phase_diagram(temperatures, volumes, free_energy):
    """Coexistence line, spinodals and critical point of F(V, T) on a grid (eV, Å^3, K).

    Below the critical point F(V) has a concave region; its ends are the
    spinodals (pressures -dF/dV there), and the common tangent across it gives
    the pressure at which the two volumes coexist (equal G = F + PV). Above
    T_c all of them are NaN; so is the coexistence where a tangent point lies
    beyond the volume grid.

    Examples
    --------
    A Landau double well, F = a (T - Tc) u^2 + b u^4 - p0 V with u = V - 11, tilted by
    p0 = 0.02 eV/Å^3 (3.2 GPa): the two volumes coexist at P = p0, at 11 -+ (a (Tc -
    T) / 2 b)^(1/2).

    >>> a, b, p0 = 1e-3, 0.5, 0.02
    >>> t, v = np.linspace(300.0, 900.0, 13), np.linspace(9.0, 13.0, 401)
    >>> f = a * (t[:, None] - 600.0) * (v - 11.0) ** 2 + b * (v - 11.0) ** 4 - p0 * v
    >>> diagram = phase_diagram(t, v, f)
    >>> float(t[2]), round(float(diagram.coexistence_pressure[2]), 3)
    (400.0, 3.204)
    >>> diagram.coexistence_volumes[2].round(2).tolist()
    [10.55, 11.45]
    >>> diagram.spinodal_pressures[2].round(2).tolist()  # limits of metastability, GPa
    [-7.81, 14.22]
    >>> [round(x, 2) for x in diagram.critical_point]  # T_c, V_c, P_c
    [600.0, 11.0, 3.2]
    """
    t = np.asarray(temperatures, dtype=float)
    v = np.asarray(volumes, dtype=float)
    f = np.asarray(free_energy, dtype=float)
    if f.shape != (t.size, v.size):
        raise InvalidInputError(f"free_energy must have shape ({t.size}, {v.size})")
    if v.size < 3 or np.any(np.diff(v) <= 0) or np.any(np.diff(t) <= 0):
        raise InvalidInputError("phase_diagram needs increasing temperatures and at least 3 "
                                "increasing volumes")
    dfdv = _derivative(f, v)
    d2 = _derivative(dfdv, v)
    coexistence = np.full(t.size, np.nan)
    volumes_out = np.full((t.size, 2), np.nan)
    spinodal_p = np.full((t.size, 2), np.nan)
    points = _crossings(v, d2)
    for n, ends in enumerate(points):
        # the widest stretch between consecutive crossings that is concave in its middle
        pairs = [(a, b) for a, b in zip(ends[:-1], ends[1:])
                 if np.interp(0.5 * (a + b), v, d2[n]) < 0]
        if not pairs:
            continue
        low, high = max(pairs, key=lambda pair: pair[1] - pair[0])
        spinodal_p[n] = [-np.interp(e, v, dfdv[n]) * GPA_PER_EV_PER_A3 for e in (low, high)]
        edge = _common_tangent(v, f[n], 0.5 * (low + high))
        # a tangent point on the grid's edge is not a coexisting volume: it lies outside
        if edge is not None and edge[0] > 0 and edge[1] < v.size - 1:
            i, j = edge
            coexistence[n] = -(f[n, j] - f[n, i]) / (v[j] - v[i]) * GPA_PER_EV_PER_A3
            volumes_out[n] = v[i], v[j]
    critical = _critical_from(t, points)
    if critical is not None:
        row = min(np.searchsorted(t, critical[0]), t.size - 1)
        critical = (*critical, float(-np.interp(critical[1], v, dfdv[row]) * GPA_PER_EV_PER_A3))
    return PhaseDiagram(temperatures=t, coexistence_pressure=coexistence,
                        coexistence_volumes=volumes_out, spinodal_pressures=spinodal_p,
                        critical_point=critical)


def zentropy_from_dft(data, multiplicities, temperatures, volumes=None, *, n_volumes=400,
                      scaling=DEFAULT_DEBYE_SCALING, x=2.0 / 3.0):
    """Zentropy of configurations given by their DFT E(V): BM4 + Debye-Grüneisen F_k, combined.

    Parameters
    ----------
    data : list of EnergyVolume (``read_energy_volume``), one per configuration
    multiplicities : list of g_k
    temperatures : array (n_T,), K
    volumes : array (n_V,), Å^3 per cell, optional
        Default: ``n_volumes`` points over the volumes every configuration covers.
    scaling, x : the Debye temperature's s (0.617: Moruzzi-Janak-Schwarz, in
        theta0 = s 231.04 v^(1/6) (B0/M)^(1/2)) and Grüneisen x (``debye_temperature``)

    Returns
    -------
    result : Zentropy
    free_energies : ndarray (K, n_T, n_V), the F_k
    eos : list of BM4

    Examples
    --------
    Fe3Pt: a ferromagnetic (FM, g = 2) and a smaller spin-flip (SF, g = 12) configuration
    of a 12-atom cell, from their BM4 curves (``read_energy_volume`` reads real ones):

    >>> from quests.zenn import BM4, EnergyVolume
    >>> v = np.linspace(139.0, 172.0, 12)
    >>> def configuration(coefficients, label):  # E(V) on a BM4 curve, 12-atom cell
    ...     e = BM4(np.array(coefficients), np.nan, np.nan, np.nan, np.nan, 0.0).energy(v)
    ...     return EnergyVolume(v, e, n_atoms=12, mass=90.65, label=label)
    >>> fm = configuration([132.04568, -14049.6831, 245394.098, -802171.920], "FM")
    >>> sf = configuration([57.8562911, -8004.42428, 85760.8652, 557048.189], "SF")
    >>> t = np.arange(50.0, 1001.0, 50.0)
    >>> z, f_k, eos = zentropy_from_dft([fm, sf], [2, 12], t)
    >>> z.free_energy.shape, f_k.shape, [round(e.volume0, 2) for e in eos]
    ((20, 400), (2, 20, 400), [156.43, 153.77])

    At 156 Å^3 the SF configurations gain weight as T rises (100, 500, 1000 K):

    >>> i = np.searchsorted(z.volumes, 156.0)
    >>> z.probabilities[1, [1, 9, 19], i].round(2).tolist()
    [0.0, 0.59, 0.92]
    """
    if not data:
        raise InvalidInputError("no configurations given")
    if len({d.n_atoms for d in data}) != 1:
        raise InvalidInputError("the configurations hold cells of different sizes: give "
                                "energies per cell of the same cell")
    if volumes is None:
        low = max(d.volumes.min() for d in data)
        high = min(d.volumes.max() for d in data)
        if not high > low:
            raise InvalidInputError("the configurations share no volume range")
        volumes = np.linspace(low, high, n_volumes)
    pairs = [helmholtz_energy(d, volumes, temperatures, scaling, x) for d in data]
    free_energies = np.array([f for f, _ in pairs])
    return (zentropy(temperatures, volumes, free_energies, multiplicities), free_energies,
            [eos for _, eos in pairs])
