"""Phase boundaries from information entropy: dG(T, P) = dU + P dV - kB T dH, and dG = 0.

Each phase at each state point (T, P) is a set of MD frames carrying their
potential energy and cell. Per atom: U (eV), V (Å^3) and the entropy H (nats)
of all its environments at the volume bandwidth h(V) (``volume_bandwidth``),
which makes information entropies of phases of different density comparable
with thermodynamic ones (S ~ kB H). The coexistence temperature at a pressure
is the root of a weighted straight-line fit of dG(T) (``phase_boundary``);
over several pressures, U, V and H of each phase are fitted as smooth
(quadratic) surfaces over (T, P) and the line T(P) is where dG vanishes
(``phase_boundary_line``), as in the QUESTS paper's solid-solid diagrams.
"""

from dataclasses import dataclass, field

import numpy as np

from quests._defaults import DEFAULT_CUTOFF, DEFAULT_K
from quests._errors import InvalidInputError
from quests._units import BOLTZMANN_EV, GPA_PER_EV_PER_A3
from quests.thermo._frames import PRESSURE_KEYS, TEMPERATURE_KEYS, frame_value, \
    potential_energy, volume_bandwidth, volume_per_atom
from quests.thermo._fit import weighted_linear_fit

__all__ = ["PhaseState", "PhaseBoundary", "BoundaryLine", "StateSurface", "phase_state",
           "phase_states", "state_pressure", "phase_boundary", "phase_boundary_line",
           "fit_state_surface", "check_line_pressures", "gibbs_difference",
           "coexistence_temperature", "EV_PER_A3_PER_GPA"]

#: 1 GPa in eV/Å^3
EV_PER_A3_PER_GPA = 1.0 / GPA_PER_EV_PER_A3
#: at most this many groups of frames are left out in turn for the jackknife error of H
JACKKNIFE_GROUPS = 10


@dataclass(frozen=True)
class PhaseState:
    """One phase at one state point, per atom.

    Attributes
    ----------
    phase : str
    temperature : float, K
    pressure : float, GPa
    n_frames, n_environments : int
    energy, energy_error : float, eV/atom (mean potential energy, standard error over frames)
    volume, volume_error : float, Å^3/atom
    bandwidth : float, 1/Å, h(V) at the mean volume
    entropy, entropy_error : float, nats/atom (jackknife over frames)

    Examples
    --------
    >>> s = PhaseState("solid", temperature=1200.0, pressure=0.0, n_frames=8,
    ...                n_environments=2048, energy=-3.36, energy_error=0.002, volume=12.6,
    ...                volume_error=0.02, bandwidth=0.058, entropy=0.52, entropy_error=0.01)
    >>> s.phase, s.temperature, s.entropy
    ('solid', 1200.0, 0.52)
    >>> PhaseState(**s.to_dict()) == s
    True
    """

    phase: str
    temperature: float
    pressure: float
    n_frames: int
    n_environments: int
    energy: float
    energy_error: float
    volume: float
    volume_error: float
    bandwidth: float
    entropy: float
    entropy_error: float

    def to_dict(self):
        return dict(self.__dict__)


def _standard_error(values):
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else 0.0


def phase_state(frames, phase="phase", temperature=None, pressure=0.0, *, energy_key=None,
                bandwidth="volume", k=DEFAULT_K, cutoff=DEFAULT_CUTOFF, species=None,
                n_jobs=None, labels=None):
    """U, V and H per atom of one phase at one state point.

    H is the entropy of all environments of all frames pooled. It depends a
    little on how many there are (on the 256-atom Cu liquid at h(V) it falls
    by 0.015 nats from 10 to 20 frames, within its error), so compare phases
    sampled with about as many environments.

    Parameters
    ----------
    frames : list of ase.Atoms
        Periodic frames of the phase at (T, P), each with its potential energy
        (``quests.thermo.potential_energy``; ``energy_key`` names it).
    temperature : float, optional
        K; default: the mean of the frames' thermostat temperature.
    pressure : float, default=0
        GPa.
    bandwidth : 'volume' or float
        'volume' (default): h(V) at the mean volume per atom.

    Returns
    -------
    PhaseState

    Examples
    --------
    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> frames = ase.io.read(trajectory_files()["cu_coexist_phases"], ":4")  # solid at 1100 K
    >>> s = phase_state(frames, "solid", k=8, cutoff=4.0)
    >>> s.temperature, s.n_frames, s.n_environments
    (1100.0, 4, 1024)
    >>> round(s.energy, 3), round(s.volume, 2), round(s.bandwidth, 4)  # eV, Å^3, 1/Å
    (-3.383, 12.53, 0.0582)
    >>> round(s.entropy, 2), round(s.entropy_error, 2)  # nats/atom
    (0.44, 0.02)
    """
    from quests.descriptor import compute_descriptors
    from quests.kde import dataset_entropy, entropy

    frames = list(frames)
    if len(frames) < 2:
        raise InvalidInputError(f"phase {phase!r} at T = {temperature} K has {len(frames)} "
                                "frame(s); at least 2 are needed for error bars")
    labels = labels or [f"{phase} frame {i}" for i in range(len(frames))]
    energies = np.array([potential_energy(a, energy_key, lab) / len(a)
                         for a, lab in zip(frames, labels)])
    volumes = np.array([volume_per_atom(a, lab) for a, lab in zip(frames, labels)])
    if temperature is None:
        temperature = float(np.mean([frame_value(a, None, TEMPERATURE_KEYS, "temperature", lab)
                                     for a, lab in zip(frames, labels)]))
    if not temperature > 0:
        raise InvalidInputError(f"phase {phase!r}: temperature must be > 0 K; got {temperature}")
    h = volume_bandwidth(volumes.mean()) if bandwidth == "volume" else float(bandwidth)
    x = compute_descriptors(frames, k, cutoff, species=species, n_jobs=n_jobs)
    sizes = np.array([len(a) for a in frames])
    whole = dataset_entropy(x, h, n_jobs=n_jobs)
    # delete-a-group jackknife over consecutive frames (frames, not atoms, are
    # the independent samples of MD); above AUTO_EXACT_ENVIRONMENTS the values
    # are sampled, whose own error adds in quadrature
    n_groups = min(JACKKNIFE_GROUPS, len(frames))
    groups = np.array_split(np.arange(len(frames)), n_groups)
    frame_of_row = np.repeat(np.arange(len(frames)), sizes)
    partial = np.array([entropy(x[~np.isin(frame_of_row, g)], h, n_jobs=n_jobs)
                        for g in groups])
    jackknife = (n_groups - 1) / n_groups * ((partial - partial.mean()) ** 2).sum()
    entropy_error = float(np.sqrt(jackknife + whole.entropy_error ** 2))
    value = whole.entropy
    return PhaseState(phase=str(phase), temperature=float(temperature), pressure=float(pressure),
                      n_frames=len(frames), n_environments=int(x.shape[0]),
                      energy=float(energies.mean()), energy_error=_standard_error(energies),
                      volume=float(volumes.mean()), volume_error=_standard_error(volumes),
                      bandwidth=float(h), entropy=float(value), entropy_error=entropy_error)


def state_pressure(atoms, pressure_key=None, pressure=0.0, label="frame"):
    """The pressure (GPa) of the state point a frame belongs to, as ``phase_states`` groups it.

    ``info[pressure_key]`` rounded to 1e-6 GPa, or ``pressure`` for every
    frame when no key is given.

    Examples
    --------
    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> atoms = ase.io.read(trajectory_files()["zr_phases"], 40)  # hcp Zr at 2 GPa
    >>> state_pressure(atoms, "pressure_GPa")
    2.0
    >>> state_pressure(atoms, pressure=1.5)  # no key: every frame at the pressure given
    1.5
    """
    if pressure_key is None:
        return round(float(pressure), 6)
    return round(frame_value(atoms, pressure_key, PRESSURE_KEYS, "pressure", label), 6)


def phase_states(frames, phase="phase", *, temperature_key=None, pressure_key=None,
                 pressure=0.0, resolution=1.0, labels=None, **kwargs):
    """``phase_state`` of every state point in a set of frames of one phase.

    Frames are grouped by their temperature (``temperature_key`` in info, by
    default the first of ``TEMPERATURE_KEYS``: use the thermostat target, not
    the instantaneous temperature) rounded to ``resolution`` K, and by
    pressure (``pressure_key``, GPa) if given, else all at ``pressure``.

    Returns
    -------
    list of PhaseState, ordered by (pressure, temperature)

    Examples
    --------
    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> frames = ase.io.read(trajectory_files()["cu_coexist_phases"], ":16")  # 1100, 1200 K
    >>> states = phase_states(frames, "solid", k=8, cutoff=4.0)
    >>> [(s.temperature, s.n_frames) for s in states]
    [(1100.0, 8), (1200.0, 8)]
    >>> states[1].entropy > states[0].entropy  # the hotter crystal is more diverse
    True
    """
    frames = list(frames)
    if not frames:
        raise InvalidInputError(f"phase {phase!r} holds no frames")
    if not resolution > 0:
        raise InvalidInputError(f"the temperature resolution must be > 0 K; got {resolution}")
    labels = labels or [f"{phase} frame {i}" for i in range(len(frames))]
    groups = {}
    for atoms, label in zip(frames, labels):
        t = frame_value(atoms, temperature_key, TEMPERATURE_KEYS, "temperature", label)
        key = (state_pressure(atoms, pressure_key, pressure, label),
               round(t / resolution) * resolution)
        groups.setdefault(key, ([], []))
        groups[key][0].append(atoms)
        groups[key][1].append(label)
    lonely = [t for (p, t), (members, _) in groups.items() if len(members) < 2]
    if lonely and len(lonely) == len(groups):
        raise InvalidInputError(
            f"phase {phase!r}: every temperature group holds one frame: the temperature key "
            "varies frame to frame (an instantaneous temperature?); group by the thermostat "
            "target (temperature_key)")
    return [phase_state(members, phase, t, p, labels=names, **kwargs)
            for (p, t), (members, names) in sorted(groups.items())]


def gibbs_difference(du, dv, dh, temperature, pressure):
    """dG = dU + P dV - kB T dH per atom (eV): dU eV, dV Å^3, dH nats, T K, P GPa.

    Examples
    --------
    >>> # liquid - solid: dU = 0.12 eV, dV = 0.6 Å^3, dH = 1.05 nats per atom
    >>> round(gibbs_difference(0.12, 0.6, 1.05, 1300.0, 0.0), 4)  # T dS nearly cancels dU
    0.0024
    >>> round(gibbs_difference(0.12, 0.6, 1.05, 1300.0, 2.0), 4)  # + P dV at 2 GPa
    0.0099
    """
    return du + pressure * EV_PER_A3_PER_GPA * dv - BOLTZMANN_EV * temperature * dh


def coexistence_temperature(temperatures, dG, dG_error):
    """Root of a weighted straight-line fit of dG(T): (T0, its standard error, (a, b), cov).

    dG = a + b T, weighted by 1 / dG_error^2 (``dG_error=None``: equal
    weights, errors from the scatter, which needs three or more points);
    T0 = -a / b, its error propagated from the fit covariance (widened by
    the reduced chi^2 when it exceeds 1: see ``weighted_linear_fit``).

    Examples
    --------
    >>> t0, err, fit, _ = coexistence_temperature([1000, 1200], [0.02, -0.02], [0.01, 0.01])
    >>> round(t0, 6), round(err, 1)
    (1100.0, 35.4)
    """
    t = np.asarray(temperatures, dtype=float)
    g = np.asarray(dG, dtype=float)
    e = None if dG_error is None else np.asarray(dG_error, dtype=float)
    if t.ndim != 1 or t.shape != g.shape or (e is not None and t.shape != e.shape):
        raise InvalidInputError("temperatures, dG and dG_error must be 1-D of one length")
    if t.size < 2 or np.unique(t).size < 2:
        raise InvalidInputError("a coexistence temperature needs dG at two or more "
                                "temperatures")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(g))):
        raise InvalidInputError("temperatures and dG must be finite")
    (a, b), covariance, _ = weighted_linear_fit(np.stack([np.ones_like(t), t], axis=1), g, e)
    if b == 0:
        raise InvalidInputError("dG does not change with temperature: no crossing")
    t0 = -a / b
    grad = np.array([-1.0 / b, a / b ** 2])
    return float(t0), float(np.sqrt(grad @ covariance @ grad)), (float(a), float(b)), covariance


@dataclass(frozen=True)
class PhaseBoundary:
    """dG = G_b - G_a per atom along temperature at one pressure, and where it vanishes.

    Attributes
    ----------
    phases : (str, str), (a, b)
    pressure : float, GPa
    temperatures : ndarray, K, where both phases were sampled
    dU, dV, dH : ndarray, per atom (eV, Å^3, nats), b - a
    dG, dG_error : ndarray, eV/atom
    coexistence_temperature, coexistence_temperature_error : float, K
    fit : (a, b) of dG = a + b T
    extrapolated : bool
        The root lies outside the sampled temperatures.
    temperature_estimates : ndarray, K
        (dU + P dV) / (kB dH) at each sampled temperature: where dG would
        vanish if dU, dV and dH kept the values measured there (a check on
        the fit when the root is extrapolated far).
    states : list of PhaseState (both phases)

    Examples
    --------
    >>> def states(phase, energy, volume, entropy):
    ...     return [PhaseState(phase, t, 0.0, 8, 2048, energy + 3e-4 * t, 1e-3, volume, 0.01,
    ...                        0.06, entropy, 0.01) for t in (1200.0, 1300.0, 1400.0)]
    >>> (b,) = phase_boundary(states("solid", -3.8, 12.0, 1.0),
    ...                       states("liquid", -3.68, 12.6, 2.05))
    >>> b.phases, b.pressure, b.temperatures.tolist()
    (('solid', 'liquid'), 0.0, [1200.0, 1300.0, 1400.0])
    >>> (b.dG * 1e3).round(1).tolist()  # meV/atom: the liquid wins above the crossing
    [11.4, 2.4, -6.7]
    >>> round(b.coexistence_temperature), b.extrapolated
    (1326, False)
    """

    phases: tuple
    pressure: float
    temperatures: np.ndarray
    dU: np.ndarray
    dV: np.ndarray
    dH: np.ndarray
    dG: np.ndarray
    dG_error: np.ndarray
    coexistence_temperature: float
    coexistence_temperature_error: float
    fit: tuple
    extrapolated: bool
    temperature_estimates: np.ndarray = None
    states: list = field(default_factory=list)

    def to_dict(self):
        out = {name: getattr(self, name) for name in (
            "phases", "pressure", "temperatures", "dU", "dV", "dH", "dG", "dG_error",
            "coexistence_temperature", "coexistence_temperature_error", "fit", "extrapolated",
            "temperature_estimates")}
        out["states"] = [s.to_dict() for s in self.states]
        return out


def phase_boundary(states_a, states_b):
    """Coexistence of two phases from their ``PhaseState`` lists, one result per pressure.

    dG(T, P) = dU + P dV - kB T dH with d = b - a, at every (T, P) sampled
    for both phases; the error adds those of U, V and H in quadrature.

    Returns
    -------
    list of PhaseBoundary, by pressure

    Examples
    --------
    >>> def states(phase, energy, volume, entropy, pressure=0.0):
    ...     return [PhaseState(phase, t, pressure, 8, 2048, energy + 3e-4 * t, 1e-3, volume,
    ...                        0.01, 0.06, entropy, 0.01) for t in (1200.0, 1300.0, 1400.0)]
    >>> # liquid - solid: dU = 0.12 eV, dV = 0.6 Å^3, dH = 1.05 nats per atom
    >>> solid = states("solid", -3.8, 12.0, 1.0) + states("solid", -3.8, 12.0, 1.0, 1.0)
    >>> liquid = states("liquid", -3.68, 12.6, 2.05) + states("liquid", -3.68, 12.6, 2.05, 1.0)
    >>> [(b.pressure, round(b.coexistence_temperature, 1))
    ...  for b in phase_boundary(solid, liquid)]  # T = (dU + P dV) / (kB dH)
    [(0.0, 1326.2), (1.0, 1367.6)]
    """
    states_a, states_b = list(states_a), list(states_b)
    if not states_a or not states_b:
        raise InvalidInputError("each phase needs at least one state point")
    name_a, name_b = states_a[0].phase, states_b[0].phase
    by_point = {(s.pressure, s.temperature): s for s in states_a}
    results = []
    for pressure in sorted({s.pressure for s in states_b}):
        pairs = [(by_point[(pressure, s.temperature)], s) for s in
                 sorted(states_b, key=lambda s: s.temperature)
                 if s.pressure == pressure and (pressure, s.temperature) in by_point]
        if len(pairs) < 2:
            continue
        t = np.array([a.temperature for a, _ in pairs])
        p = pressure * EV_PER_A3_PER_GPA
        du = np.array([b.energy - a.energy for a, b in pairs])
        dv = np.array([b.volume - a.volume for a, b in pairs])
        dh = np.array([b.entropy - a.entropy for a, b in pairs])
        kt = BOLTZMANN_EV * t
        dg = gibbs_difference(du, dv, dh, t, pressure)
        error = np.sqrt(np.array([a.energy_error ** 2 + b.energy_error ** 2
                                  + p ** 2 * (a.volume_error ** 2 + b.volume_error ** 2)
                                  for a, b in pairs])
                        + kt ** 2 * np.array([a.entropy_error ** 2 + b.entropy_error ** 2
                                              for a, b in pairs]))
        t0, t0_error, fit, _ = coexistence_temperature(t, dg, error)
        results.append(PhaseBoundary(
            phases=(name_a, name_b), pressure=float(pressure), temperatures=t, dU=du, dV=dv,
            dH=dh, dG=dg, dG_error=error, coexistence_temperature=t0,
            coexistence_temperature_error=t0_error, fit=fit,
            extrapolated=bool(t0 < t.min() or t0 > t.max()),
            temperature_estimates=(du + p * dv) / (BOLTZMANN_EV * dh),
            states=[s for pair in pairs for s in pair]))
    if not results:
        raise InvalidInputError(f"phases {name_a!r} and {name_b!r} share fewer than two "
                                "(temperature, pressure) points: sample both at the same ones")
    return results


# -- the boundary line T(P) from smooth surfaces U, V, H (T, P) of each phase ------------------

#: the line's root is sought within this fraction of the sampled temperature span beyond it
WINDOW = 0.25
#: the quantities of a PhaseState fitted as surfaces over (T, P), with their error attributes
SURFACE_QUANTITIES = (("energy", "energy_error"), ("volume", "volume_error"),
                      ("entropy", "entropy_error"))


@dataclass(frozen=True)
class StateSurface:
    """A smooth surface y(T, P) fitted to one quantity of one phase's state points.

    y = sum_j c_j m_j(t, p) over the monomials ``powers`` (t^i p^j) of the
    scaled variables t = (T - T_center) / T_scale, p = (P - P_center) / P_scale;
    full quadratic with three or more temperatures and pressures, fewer terms
    where the state points cannot support them. ``covariance`` is that of a
    weighted least-squares fit with the states' standard errors, widened by
    the reduced chi^2 when it exceeds 1.

    Attributes
    ----------
    phase, quantity : str
    powers : tuple of (i, j)
    coefficients : ndarray (m,)
    covariance : ndarray (m, m)
    reduced_chi2 : float
    center, scale : (float, float), (K, GPa)

    Examples
    --------
    >>> states = [PhaseState("hcp", t, p, 4, 1728, -6.4, 1e-3, 23.0 + 1e-3 * t - 0.1 * p,
    ...                      0.01, 0.03, 1.0, 0.01)
    ...           for t in (1200.0, 1300.0, 1400.0) for p in (0.0, 2.0, 4.0)]
    >>> surface = fit_state_surface(states, "volume")
    >>> surface.phase, surface.quantity, len(surface.powers)  # a full quadratic in (T, P)
    ('hcp', 'volume', 6)
    >>> round(float(surface(1350.0, 1.0)), 4)  # Å^3/atom: 23 + 1.35 - 0.1
    24.25
    >>> round(float(surface.variance(1350.0, 1.0)) ** 0.5, 4)  # its standard error
    0.0062
    """

    phase: str
    quantity: str
    powers: tuple
    coefficients: np.ndarray
    covariance: np.ndarray
    reduced_chi2: float
    center: tuple
    scale: tuple

    def design(self, temperature, pressure):
        """Monomials of (T, P): shape (*broadcast shape, m)."""
        return _monomials(temperature, pressure, self.powers, self.center, self.scale)

    def __call__(self, temperature, pressure):
        """Value at (T K, P GPa), broadcast over both."""
        return self.design(temperature, pressure) @ self.coefficients

    def variance(self, temperature, pressure):
        """Variance of the fitted value at (T, P) from the coefficient covariance."""
        d = self.design(temperature, pressure)
        return np.einsum("...i,ij,...j->...", d, self.covariance, d)

    def to_dict(self):
        return {"phase": self.phase, "quantity": self.quantity,
                "powers": [list(p) for p in self.powers],
                "coefficients": self.coefficients, "covariance": self.covariance,
                "reduced_chi2": self.reduced_chi2, "center": list(self.center),
                "scale": list(self.scale)}


def _monomials(temperature, pressure, powers, center, scale):
    """t^i p^j of the scaled t = (T - center[0]) / scale[0], p likewise: (..., len(powers))."""
    t = (np.asarray(temperature, dtype=float) - center[0]) / scale[0]
    p = (np.asarray(pressure, dtype=float) - center[1]) / scale[1]
    t, p = np.broadcast_arrays(t, p)
    return np.stack([t ** i * p ** j for i, j in powers], axis=-1)


def _surface_powers(n_temperatures, n_pressures, n_points):
    """Monomials t^i p^j a set of state points supports: quadratic at most, fewer than points."""
    degree_t, degree_p = min(2, n_temperatures - 1), min(2, n_pressures - 1)
    powers = [(i, j) for i in range(degree_t + 1) for j in range(degree_p + 1) if i + j <= 2]
    # drop the cross term first, then the curvatures, while the fit would have no freedom left
    for extra in ((1, 1), (0, 2), (2, 0)):
        if len(powers) < n_points:
            break
        if extra in powers:
            powers.remove(extra)
    return tuple(sorted(powers, key=lambda ij: (ij[0] + ij[1], ij)))


def fit_state_surface(states, quantity="energy"):
    """Fit one quantity of one phase's ``PhaseState`` list as a smooth surface over (T, P).

    Parameters
    ----------
    states : list of PhaseState
        One phase at several (T, P); at least three state points.
    quantity : 'energy', 'volume' or 'entropy'

    Returns
    -------
    StateSurface

    Examples
    --------
    >>> s = [PhaseState("a", t, p, 2, 2, 0.0, 0.0, 10 + 1e-3 * t - 0.1 * p, 0.01, 0.05, 1.0,
    ...                 0.1) for t in (800, 900, 1000) for p in (0, 1, 2)]
    >>> round(float(fit_state_surface(s, "volume")(950, 1.5)), 6)
    10.8
    """
    states = list(states)
    errors = dict(SURFACE_QUANTITIES)
    if quantity not in errors:
        raise InvalidInputError(f"quantity must be one of {sorted(errors)}; got {quantity!r}")
    if len(states) < 3:
        raise InvalidInputError(f"phase {states[0].phase if states else '?'!r} has "
                                f"{len(states)} state point(s); a surface over (T, P) needs "
                                "at least three")
    t = np.array([s.temperature for s in states])
    p = np.array([s.pressure for s in states])
    y = np.array([getattr(s, quantity) for s in states])
    sigma = np.array([getattr(s, errors[quantity]) for s in states])
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise InvalidInputError(f"phase {states[0].phase!r}: the {quantity} of a state point "
                                "is not finite")
    if len(set(zip(t, p))) < len(states):
        raise InvalidInputError(f"phase {states[0].phase!r} has two state points at one "
                                "(T, P)")
    # a state whose error is 0 (one frame per value) would take infinite weight
    floor = max(np.median(sigma[sigma > 0]) if np.any(sigma > 0) else 1.0, 1e-300) * 1e-3
    sigma = np.where(np.isfinite(sigma) & (sigma > 0), sigma, floor)
    powers = _surface_powers(np.unique(t).size, np.unique(p).size, len(states))
    center = (float(t.mean()), float(p.mean()))
    scale = (float(np.ptp(t)) or 1.0, float(np.ptp(p)) or 1.0)
    coefficients, covariance, chi2 = weighted_linear_fit(
        _monomials(t, p, powers, center, scale), y, sigma)
    return StateSurface(states[0].phase, quantity, powers, coefficients, covariance,
                        float(chi2), center, scale)


@dataclass(frozen=True)
class BoundaryLine:
    """The coexistence line T(P) of two phases from their fitted (T, P) surfaces.

    dG(T, P) = dU + P dV - kB T dH per atom (d = b - a) from the surfaces
    U, V, H of each phase; the line is dG = 0 at each pressure of
    ``pressures``. Its error: sigma(dG) from the surfaces' covariances
    (phases independent; U, V and H of one phase taken as independent too,
    although they come from the same frames) over |d dG / dT| = |dS|.

    Attributes
    ----------
    phases : (str, str)
    pressures : ndarray (n,), GPa
    temperatures, temperature_errors : ndarray (n,), K (NaN where dG has no root
        within the window: the temperatures sampled by both phases widened by a
        quarter of their span on each side, ``WINDOW``)
    entropy_jump : ndarray (n,), kB per atom: -d dG/dT / kB at the line (dS = S_b - S_a)
    extrapolated : ndarray (n,) of bool: the point lies outside the sampled temperatures
        or pressures of either phase
    surfaces : dict phase -> dict quantity -> StateSurface
    states : list of PhaseState (both phases)
    state_dG, state_dG_fit : ndarray, eV/atom: dG at the state points sampled by
        both phases, measured and from the surfaces (a check on the fits)

    Examples
    --------
    >>> def states(phase, energy, volume, entropy):
    ...     return [PhaseState(phase, t, p, 4, 1728, energy, 1e-3, volume - 0.1 * p, 0.01,
    ...                        0.03, entropy, 0.01)
    ...             for t in (1200.0, 1300.0, 1400.0) for p in (0.0, 2.0, 4.0)]
    >>> line = phase_boundary_line(states("hcp", -6.4, 23.0, 2.0),
    ...                            states("bcc", -6.344, 23.1, 2.5), pressures=[0, 2, 4])
    >>> line.phases, line.temperatures.round().tolist()
    (('hcp', 'bcc'), [1300.0, 1329.0, 1358.0])
    >>> line.entropy_jump.round(3).tolist()  # dS = S_bcc - S_hcp, kB/atom
    [0.5, 0.5, 0.5]
    >>> dg, error = line.dG(1400.0, 2.0)  # eV/atom: bcc is stable above the line
    >>> round(float(dg), 4)
    -0.0031
    """

    phases: tuple
    pressures: np.ndarray
    temperatures: np.ndarray
    temperature_errors: np.ndarray
    entropy_jump: np.ndarray
    extrapolated: np.ndarray
    surfaces: dict
    states: list = field(default_factory=list)
    state_points: np.ndarray = None
    state_dG: np.ndarray = None
    state_dG_fit: np.ndarray = None

    def dG(self, temperature, pressure):
        """dG (eV/atom) and its standard error at (T K, P GPa), from the surfaces."""
        return _surface_dG(self.surfaces, self.phases, temperature, pressure)

    def to_dict(self):
        return {"phases": list(self.phases), "pressures": self.pressures,
                "temperatures": self.temperatures,
                "temperature_errors": self.temperature_errors,
                "entropy_jump": self.entropy_jump, "extrapolated": self.extrapolated,
                "surfaces": {ph: {q: s.to_dict() for q, s in by_q.items()}
                             for ph, by_q in self.surfaces.items()},
                "state_points": self.state_points, "state_dG": self.state_dG,
                "state_dG_fit": self.state_dG_fit}


def _surface_dG(surfaces, phases, temperature, pressure):
    a, b = (surfaces[name] for name in phases)
    t, p = np.broadcast_arrays(np.asarray(temperature, dtype=float),
                               np.asarray(pressure, dtype=float))
    p_ev, kt = p * EV_PER_A3_PER_GPA, BOLTZMANN_EV * t
    dg = gibbs_difference(*(b[q](t, p) - a[q](t, p) for q, _ in SURFACE_QUANTITIES), t, p)
    variance = sum(s["energy"].variance(t, p) + p_ev ** 2 * s["volume"].variance(t, p)
                   + kt ** 2 * s["entropy"].variance(t, p) for s in (a, b))
    return dg, np.sqrt(variance)


def _root_in_window(function, low, high, middle, n_grid=400):
    """The root of function(T) in [low, high] nearest ``middle`` (NaN if none)."""
    from scipy.optimize import brentq

    grid = np.linspace(low, high, n_grid)
    values = function(grid)
    crossings = np.nonzero(np.sign(values[:-1]) * np.sign(values[1:]) <= 0)[0]
    if not crossings.size:
        return np.nan
    roots = [grid[i] if values[i] == 0 else brentq(lambda t: float(function(t)), grid[i],
                                                   grid[i + 1]) for i in crossings]
    return float(min(roots, key=lambda r: abs(r - middle)))


def phase_boundary_line(states_a, states_b, pressures=None):
    """The coexistence line T(P) of two phases from their ``PhaseState`` lists.

    Per phase, U, V and H (at h(V)) are fitted as smooth surfaces over the
    sampled (T, P) (``fit_state_surface``); dG(T, P) = dU + P dV - kB T dH,
    and the line is dG = 0 at each pressure. Both phases must be sampled at
    the same two or more pressures, each phase at three or more state points.

    Parameters
    ----------
    states_a, states_b : list of PhaseState
    pressures : array-like, GPa, optional
        Where to evaluate the line (default: 41 points across the sampled
        pressures).

    Returns
    -------
    BoundaryLine

    Examples
    --------
    >>> def states(phase, energy, volume, entropy):
    ...     return [PhaseState(phase, t, p, 4, 1728, energy, 1e-3, volume - 0.1 * p, 0.01,
    ...                        0.03, entropy, 0.01)
    ...             for t in (1200.0, 1300.0, 1400.0) for p in (0.0, 2.0, 4.0)]
    >>> # bcc - hcp: dU = 56 meV, dV = 0.1 Å^3, dH = 0.5 nats per atom
    >>> line = phase_boundary_line(states("hcp", -6.4, 23.0, 2.0),
    ...                            states("bcc", -6.344, 23.1, 2.5))
    >>> line.pressures.size, bool(line.extrapolated.any())
    (41, False)
    >>> slope = float(line.temperatures[-1] - line.temperatures[0]) / 4.0
    >>> round(line.temperatures[0]), round(slope, 1)  # K, K/GPa: dV / dS (Clausius-Clapeyron)
    (1300, 14.5)
    """
    states_a, states_b = list(states_a), list(states_b)
    if not states_a or not states_b:
        raise InvalidInputError("each phase needs state points")
    names = (states_a[0].phase, states_b[0].phase)
    if names[0] == names[1]:
        raise InvalidInputError(f"the two phases have one name ({names[0]!r})")
    check_line_pressures({names[0]: {s.pressure for s in states_a},
                          names[1]: {s.pressure for s in states_b}})
    sampled = sorted({s.pressure for s in states_a})
    surfaces = {name: {q: fit_state_surface(states, q) for q, _ in SURFACE_QUANTITIES}
                for name, states in zip(names, (states_a, states_b))}
    t_low = max(min(s.temperature for s in states_a), min(s.temperature for s in states_b))
    t_high = min(max(s.temperature for s in states_a), max(s.temperature for s in states_b))
    span = max(t_high - t_low, 1.0)
    p_low, p_high = sampled[0], sampled[-1]
    if pressures is None:
        pressures = np.linspace(p_low, p_high, 41)
    pressures = np.atleast_1d(np.asarray(pressures, dtype=float))
    if not np.all(np.isfinite(pressures)):
        raise InvalidInputError("the pressures of the line must be finite")
    temperatures, errors, jumps = [], [], []
    for p in pressures:
        # quadratic surfaces are not to be trusted far from the data: look for the
        # root within a quarter of the sampled span beyond it
        root = _root_in_window(lambda t: _surface_dG(surfaces, names, t, p)[0],
                               max(t_low - WINDOW * span, 1.0), t_high + WINDOW * span,
                               0.5 * (t_low + t_high))
        if np.isnan(root):
            temperatures.append(np.nan)
            errors.append(np.nan)
            jumps.append(np.nan)
            continue
        dt = 1e-3 * span
        slope = (_surface_dG(surfaces, names, root + dt, p)[0]
                 - _surface_dG(surfaces, names, root - dt, p)[0]) / (2 * dt)
        sigma = _surface_dG(surfaces, names, root, p)[1]
        temperatures.append(root)
        errors.append(float(sigma / abs(slope)) if slope != 0 else np.inf)
        jumps.append(float(-slope / BOLTZMANN_EV))
    temperatures = np.array(temperatures)
    extrapolated = ~((temperatures >= t_low) & (temperatures <= t_high)
                     & (pressures >= p_low) & (pressures <= p_high))
    by_point = {(s.temperature, s.pressure): s for s in states_a}
    shared = [(by_point[(s.temperature, s.pressure)], s) for s in states_b
              if (s.temperature, s.pressure) in by_point]
    points = np.array([(b.temperature, b.pressure) for _, b in shared]).reshape(-1, 2)
    measured = np.array([gibbs_difference(b.energy - a.energy, b.volume - a.volume,
                                          b.entropy - a.entropy, b.temperature, b.pressure)
                         for a, b in shared])
    fitted = _surface_dG(surfaces, names, points[:, 0], points[:, 1])[0] if shared else \
        np.zeros(0)
    return BoundaryLine(phases=names, pressures=pressures, temperatures=temperatures,
                        temperature_errors=np.array(errors), entropy_jump=np.array(jumps),
                        extrapolated=extrapolated, surfaces=surfaces,
                        states=states_a + states_b, state_points=points,
                        state_dG=measured, state_dG_fit=fitted)


def check_line_pressures(pressures):
    """Fail unless two phases were sampled at the same two or more pressures.

    pressures : dict phase name -> set of pressures (GPa). Cheap: the CLI
    calls it before computing any entropy.

    Examples
    --------
    >>> check_line_pressures({"hcp": {0.0, 2.0, 4.0}, "bcc": {0.0, 2.0, 4.0}})  # passes
    >>> check_line_pressures({"hcp": {0.0, 2.0}, "bcc": {0.0}})
    Traceback (most recent call last):
    ...
    quests._errors.InvalidInputError: phase 'bcc' has no state point at P = 2 GPa, where ...
    """
    names = list(pressures)
    if len(names) != 2:
        raise InvalidInputError(f"a boundary line needs two phases; got {names}")
    sets = [set(pressures[n]) for n in names]
    for name, mine, other in ((names[0], sets[0], sets[1]), (names[1], sets[1], sets[0])):
        missing = sorted(other - mine)
        if missing:
            raise InvalidInputError(f"phase {name!r} has no state point at P = "
                                    f"{', '.join(f'{p:g}' for p in missing)} GPa, where the "
                                    "other phase was sampled: sample both at the same "
                                    "pressures")
    if len(sets[0]) < 2:
        raise InvalidInputError(f"a boundary line T(P) needs state points at two or more "
                                f"pressures; all are at P = {min(sets[0]):g} GPa (the "
                                "crossing at one pressure needs no line)")
