"""Phase boundaries from information entropy: dG(T, P) = dU + P dV - kB T dH, and dG = 0.

Each phase at each state point (T, P) is a set of MD frames carrying their
potential energy and cell. Per atom: U (eV), V (Å^3) and the entropy H (nats)
of all its environments at the volume bandwidth h(V) (``volume_bandwidth``),
which makes information entropies of phases of different density comparable
with thermodynamic ones (S ~ kB H). The coexistence temperature at a pressure
is the root of a weighted straight-line fit of dG(T).
"""

from dataclasses import dataclass, field

import numpy as np

from quests._defaults import DEFAULT_CUTOFF, DEFAULT_K
from quests._errors import InvalidInputError
from quests._units import BOLTZMANN_EV, GPA_PER_EV_PER_A3
from quests.thermo._frames import PRESSURE_KEYS, TEMPERATURE_KEYS, frame_value, \
    potential_energy, volume_bandwidth, volume_per_atom
from quests.thermo._fit import weighted_linear_fit

__all__ = ["PhaseState", "PhaseBoundary", "phase_state", "phase_states", "phase_boundary",
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
        p = frame_value(atoms, pressure_key, PRESSURE_KEYS, "pressure", label) \
            if pressure_key is not None else float(pressure)
        key = (round(p, 6), round(t / resolution) * resolution)
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
        dg = du + p * dv - kt * dh
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
