"""Per-configuration Helmholtz energies from DFT E(V): a BM4 equation of state plus a
Debye-Grüneisen vibrational free energy (Moruzzi, Janak and Schwarz, PRB 37, 790, 1988).

Units: volumes in Å^3 and energies in eV, both per cell (the cell of the input data);
temperatures in K; bulk moduli in GPa.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quests._defaults import DEFAULT_DEBYE_SCALING
from quests._errors import InvalidInputError
from quests.io import ReadError, read_columns, read_oszicar_energy, read_structures
from quests._units import BOLTZMANN_EV, GPA_PER_EV_PER_A3

__all__ = ["EnergyVolume", "BM4", "read_energy_volume", "fit_bm4", "debye_function",
           "debye_temperature", "debye_free_energy", "helmholtz_energy"]

#: K: theta0 = s * DEBYE_CONSTANT * v^(1/6) * (B0 / M)^(1/2) with v the volume per atom
#: (Å^3), B0 in GPa and M in amu (the form of DFTTK and the zentropy recipe).
#: Moruzzi, Janak and Schwarz's 41.63 K * (r0 B0 / M)^(1/2), r0 in bohr and B0 in kbar,
#: already holds their s = 0.617: with r0 = (3 v / 4 pi)^(1/3) / 0.529177 and
#: 1 GPa = 10 kbar it is 41.63 * (10 (3 / 4 pi)^(1/3) / 0.529177)^(1/2) = 142.54 K
#: * v^(1/6) (B0 / M)^(1/2), and 0.617 * 231.04 = 142.55 (tests/test_zentropy.py checks it).
DEBYE_CONSTANT = 231.04


@dataclass(frozen=True)
class EnergyVolume:
    """Static energies of one configuration at several volumes.

    Attributes
    ----------
    volumes : ndarray (n,), Å^3 per cell, strictly increasing
    energies : ndarray (n,), eV per cell
    n_atoms : int, atoms per cell
    mass : float, mean atomic mass of the cell, amu
    label : str

    Examples
    --------
    Usually made by ``read_energy_volume``; here 12 volumes of a 12-atom Fe3Pt cell on
    the BM4 curve of its ferromagnetic state:

    >>> coefficients = np.array([132.04568, -14049.6831, 245394.098, -802171.920])
    >>> v = np.linspace(139.0, 172.0, 12)
    >>> e = BM4(coefficients, np.nan, np.nan, np.nan, np.nan, 0.0).energy(v)
    >>> data = EnergyVolume(v, e, n_atoms=12, mass=90.65, label="FM")
    >>> data.volumes.size, float(data.volumes[data.energies.argmin()])
    (12, 157.0)
    >>> round(fit_bm4(data.volumes, data.energies).volume0, 2)
    156.43
    """

    volumes: np.ndarray
    energies: np.ndarray
    n_atoms: int
    mass: float
    label: str = "configuration"


def _checked(volumes, energies, n_atoms, mass, label):
    v = np.asarray(volumes, dtype=float)
    e = np.asarray(energies, dtype=float)
    if v.ndim != 1 or v.shape != e.shape:
        raise InvalidInputError(f"{label}: volumes and energies must be 1-D of one length")
    if v.size < 5:
        raise InvalidInputError(f"{label} holds {v.size} (volume, energy) points; the BM4 fit "
                                "of E(V) needs at least 5")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(e))):
        raise InvalidInputError(f"{label}: volumes and energies must be finite (NaN energy?)")
    if np.any(v <= 0):
        raise InvalidInputError(f"{label}: volumes must be > 0")
    order = np.argsort(v)
    v, e = v[order], e[order]
    if np.any(np.diff(v) <= 0):
        raise InvalidInputError(f"{label}: two energies at the same volume")
    if not (n_atoms >= 1 and mass > 0):
        raise InvalidInputError(f"{label}: n_atoms must be >= 1 and the mass > 0")
    return EnergyVolume(v, e, int(n_atoms), float(mass), label)


def read_energy_volume(path, *, n_atoms=None, mass=None, label=None):
    """Energies and volumes of one configuration, from a folder, extxyz or CSV.

    - a folder of per-volume folders, each with a VASP ``OSZICAR*`` (last
      ``F=``) and ``CONTCAR*`` (the structure, hence volume, atoms and mass);
    - a structure file ase.io reads whose frames carry energies;
    - a ``.csv`` with columns ``volume`` and ``energy`` (per cell; give
      ``n_atoms`` and ``mass`` for the Debye model).

    Returns
    -------
    EnergyVolume

    Examples
    --------
    A CSV of E(V) for a 12-atom cell (a folder of VASP runs reads the same way, and
    gives ``n_atoms`` and ``mass`` itself):

    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "fm.csv")
    >>> v = np.linspace(139.0, 172.0, 12)
    >>> e = BM4(np.array([132.04568, -14049.6831, 245394.098, -802171.920]),
    ...         np.nan, np.nan, np.nan, np.nan, 0.0).energy(v)
    >>> np.savetxt(path, np.column_stack([v, e]), delimiter=",", header="volume,energy",
    ...            comments="")
    >>> data = read_energy_volume(path, n_atoms=12, mass=90.65)
    >>> data.label, data.volumes.size, data.n_atoms, round(float(data.energies.min()), 4)
    ('fm.csv', 12, 12, -93.5275)
    >>> shutil.rmtree(folder)
    """
    path = Path(path)
    if not path.exists():
        raise ReadError(f"file not found: {path}")
    try:
        return _read_energy_volume(path, n_atoms, mass, label or path.name)
    except (InvalidInputError, ReadError):
        raise
    except Exception as exc:  # noqa: BLE001 - ase raises many types for a bad file
        raise InvalidInputError(f"{path}: cannot be read ({type(exc).__name__}: {exc})") \
            from None


def _read_energy_volume(path, n_atoms, mass, label):
    if path.is_dir():
        volumes, energies, atoms = [], [], None
        for sub in sorted(p for p in path.iterdir() if p.is_dir()):
            oszicar = sorted(sub.glob("OSZICAR*"))
            contcar = sorted(sub.glob("CONTCAR*")) or sorted(sub.glob("POSCAR*"))
            if not oszicar or not contcar:
                # a volume left out silently would change the fit without a word
                missing = " and ".join(name for name, found in
                                       (("OSZICAR", oszicar), ("CONTCAR or POSCAR", contcar))
                                       if not found)
                raise InvalidInputError(f"{sub} has no {missing}: every volume folder of a "
                                        "configuration needs both (complete or remove it)")
            atoms = read_structures(str(contcar[0]), format="vasp")[-1]
            volumes.append(atoms.get_volume())
            energies.append(read_oszicar_energy(oszicar[0]))
        if atoms is None:
            raise InvalidInputError(f"{path}: no sub-folder holds an OSZICAR and a CONTCAR")
        return _checked(volumes, energies, n_atoms or len(atoms),
                        mass or float(atoms.get_masses().mean()), label)
    if path.suffix.lower() == ".csv":
        if n_atoms is None or mass is None:
            raise InvalidInputError(f"{path}: a CSV of E(V) needs n_atoms and mass "
                                    "(--n-atoms and --mass on the command line)")
        columns = read_columns(path, ("volume", "energy"))
        return _checked(columns["volume"], columns["energy"], n_atoms, mass, label)
    frames = read_structures(str(path))
    energies = []
    for i, atoms in enumerate(frames):
        try:
            energies.append(atoms.get_potential_energy())
        except Exception:  # noqa: BLE001 - ase raises several types for a missing energy
            raise InvalidInputError(f"{path} frame {i} carries no energy") from None
    return _checked([a.get_volume() for a in frames], energies, n_atoms or len(frames[0]),
                    mass or float(frames[0].get_masses().mean()), label)


#: files in a folder of configurations that hold one configuration's E(V) each
CONFIGURATION_SUFFIXES = (".xyz", ".extxyz", ".csv")


def read_configurations(path, *, n_atoms=None, mass=None):
    """Every configuration in a folder: one ``EnergyVolume`` per entry, by name.

    The entries are sub-folders of per-volume VASP runs and ``.xyz``, ``.extxyz``
    or ``.csv`` files, each read by ``read_energy_volume`` and labelled by its
    name (extension dropped); hidden entries and other files are skipped.

    Examples
    --------
    Two configurations of a 12-atom cell, one CSV of E(V) each:

    >>> import os, shutil, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> v = np.linspace(139.0, 172.0, 12)
    >>> for name, coefficients in (("fm", [132.04568, -14049.6831, 245394.098, -802171.920]),
    ...                            ("sf", [57.8562911, -8004.42428, 85760.8652, 557048.189])):
    ...     e = BM4(np.array(coefficients), np.nan, np.nan, np.nan, np.nan, 0.0).energy(v)
    ...     np.savetxt(os.path.join(folder, name + ".csv"), np.column_stack([v, e]),
    ...                delimiter=",", header="volume,energy", comments="")
    >>> configurations = read_configurations(folder, n_atoms=12, mass=90.65)
    >>> [(d.label, d.volumes.size) for d in configurations]
    [('fm', 12), ('sf', 12)]
    >>> [round(fit_bm4(d.volumes, d.energies).volume0, 2) for d in configurations]
    [156.43, 153.77]
    >>> shutil.rmtree(folder)
    """
    path = Path(path)
    if not path.is_dir():
        raise InvalidInputError(f"{path} is not a folder of configurations")
    entries = sorted(p for p in path.iterdir() if not p.name.startswith(".")
                     and (p.is_dir() or p.suffix.lower() in CONFIGURATION_SUFFIXES))
    if any(sorted(e.glob("OSZICAR*")) for e in entries if e.is_dir()):
        raise InvalidInputError(f"{path} holds per-volume runs of one configuration; give the "
                                "folder that holds the configuration folders")
    if not entries:
        raise InvalidInputError(f"{path} holds no configuration (sub-folders of VASP runs, "
                                f"or {', '.join(CONFIGURATION_SUFFIXES)} files)")
    labels = [e.stem if e.is_file() else e.name for e in entries]
    repeated = sorted({name for name in labels if labels.count(name) > 1})
    if repeated:
        raise InvalidInputError(f"{path}: several entries are named {', '.join(repeated)}; "
                                "give each configuration one entry")
    return [read_energy_volume(entry, n_atoms=n_atoms, mass=mass, label=label)
            for entry, label in zip(entries, labels)]


@dataclass(frozen=True)
class BM4:
    """Fourth-order Birch-Murnaghan E(V) = a + b V^(-2/3) + c V^(-4/3) + d V^(-2).

    Attributes
    ----------
    coefficients : ndarray (4,), (a, b, c, d), eV and Å
    volume0 : float, Å^3, the minimum
    energy0 : float, eV
    bulk_modulus0 : float, GPa
    bulk_modulus_derivative0 : float, B' at the minimum
    rms : float, eV, residual of the fit

    Examples
    --------
    Usually made by ``fit_bm4``; the ferromagnetic Fe3Pt cell (12 atoms):

    >>> coefficients = np.array([132.04568, -14049.6831, 245394.098, -802171.920])
    >>> v = np.linspace(139.0, 172.0, 12)
    >>> curve = BM4(coefficients, np.nan, np.nan, np.nan, np.nan, 0.0)  # E(V) alone
    >>> eos = fit_bm4(v, curve.energy(v))
    >>> round(eos.volume0, 2), round(eos.energy0, 4), round(eos.bulk_modulus0, 1)
    (156.43, -93.5287, 175.5)
    >>> round(float(eos.pressure(150.0)), 2), round(float(eos.bulk_modulus(eos.volume0)), 1)
    (7.96, 175.5)
    """

    coefficients: np.ndarray
    volume0: float
    energy0: float
    bulk_modulus0: float
    bulk_modulus_derivative0: float
    rms: float

    def energy(self, volume, derivative=0):
        """E(V) (eV) or its ``derivative``-th volume derivative (eV/Å^(3n)), n = 0..3."""
        v = np.asarray(volume, dtype=float)
        a, b, c, d = self.coefficients
        # E = sum_k coef_k V^(p_k); each derivative multiplies by p and lowers the power
        total = 0.0
        for coef, power in ((a, 0.0), (b, -2 / 3), (c, -4 / 3), (d, -2.0)):
            factor, p = coef, power
            for _ in range(derivative):
                factor, p = factor * p, p - 1.0
            total = total + factor * v ** p
        return total

    def pressure(self, volume):
        """P = -dE/dV, GPa."""
        return -self.energy(volume, 1) * GPA_PER_EV_PER_A3

    def bulk_modulus(self, volume):
        """B = V d2E/dV2, GPa."""
        v = np.asarray(volume, dtype=float)
        return v * self.energy(v, 2) * GPA_PER_EV_PER_A3


def fit_bm4(volumes, energies, label="configuration"):
    """Least-squares BM4 fit of E(V) (linear in its four coefficients).

    Needs at least 5 volumes (one more than the parameters) and a minimum
    inside the fitted range.

    Examples
    --------
    The BM4 curve of ferromagnetic Fe3Pt (12-atom cell) with 1 meV of noise:

    >>> curve = BM4(np.array([132.04568, -14049.6831, 245394.098, -802171.920]),
    ...             np.nan, np.nan, np.nan, np.nan, 0.0)
    >>> v = np.linspace(139.0, 172.0, 12)
    >>> noise = np.random.default_rng(0).normal(0.0, 1e-3, v.size)
    >>> eos = fit_bm4(v, curve.energy(v) + noise)
    >>> round(eos.volume0, 1), round(eos.bulk_modulus0), round(eos.bulk_modulus_derivative0, 1)
    (156.4, 175, 3.7)
    >>> round(eos.rms * 1e3, 2)  # meV
    0.64
    """
    v = np.asarray(volumes, dtype=float)
    e = np.asarray(energies, dtype=float)
    if v.size < 5:
        raise InvalidInputError(f"{label}: a BM4 fit needs at least 5 volumes; got {v.size}")
    design = np.stack([np.ones_like(v), v ** (-2 / 3), v ** (-4 / 3), v ** -2.0], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, e, rcond=None)
    rms = float(np.sqrt(np.mean((design @ coefficients - e) ** 2)))
    probe = BM4(coefficients, np.nan, np.nan, np.nan, np.nan, rms)
    # the minimum: dE/dV = 0 is a cubic in x = V^(-2/3)
    _, b, c, d = coefficients
    roots = np.roots([-2 * d, -4 / 3 * c, -2 / 3 * b])  # times V^-1: b' x + c' x^2 + d' x^3
    candidates = [r.real ** -1.5 for r in roots if abs(r.imag) < 1e-12 and r.real > 0]
    candidates = [x for x in candidates if v.min() * 0.8 <= x <= v.max() * 1.2
                  and probe.energy(x, 2) > 0]
    if not candidates:
        raise InvalidInputError(f"{label}: E(V) has no minimum near the fitted volumes "
                                f"({v.min():g}-{v.max():g} Å^3)")
    v0 = float(min(candidates, key=lambda x: probe.energy(x)))
    b0 = float(probe.bulk_modulus(v0))
    # B' = dB/dP = -(V/B) dB/dV, with dB/dV = E'' + V E'''
    db_dv = (probe.energy(v0, 2) + v0 * probe.energy(v0, 3)) * GPA_PER_EV_PER_A3
    return BM4(coefficients, v0, float(probe.energy(v0)), b0, float(-v0 / b0 * db_dv), rms)


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(64)


def debye_function(x):
    """Third-order Debye function D3(x) = 3/x^3 int_0^x t^3 / (e^t - 1) dt (any shape).

    Examples
    --------
    >>> round(float(debye_function(1e-8)), 6), round(float(debye_function(100.0)), 8)
    (1.0, 1.948e-05)
    """
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    small = x < 50.0
    xs = x[small][..., None]
    t = 0.5 * xs * (_GL_NODES + 1.0)  # Gauss-Legendre on [0, x]
    integrand = np.where(t > 0, t ** 3 / np.expm1(np.maximum(t, 1e-300)), 0.0)
    out[small] = 3.0 / xs[..., 0] ** 3 * 0.5 * xs[..., 0] * (integrand * _GL_WEIGHTS).sum(-1)
    # beyond x = 50 the integral is pi^4/15 to double precision
    out[~small] = np.pi ** 4 / 5.0 / x[~small] ** 3
    return out


def debye_temperature(volume, eos, n_atoms, mass, scaling=DEFAULT_DEBYE_SCALING, x=2.0 / 3.0):
    """Moruzzi-Janak-Schwarz Debye temperature (K) at ``volume`` (Å^3 per cell).

    Theta(V) = s 231.04 v0^(1/6) (B0 / M)^(1/2) (V0 / V)^gamma, gamma = (1 + B') / 2 - x,
    with v0 = V0 / ``n_atoms`` the volume per atom (Å^3) at the BM4 minimum V0, B0 (GPa)
    and B' from ``eos``, and M = ``mass`` the mean atomic mass (amu).

    Parameters
    ----------
    volume : float or array (n_V,), Å^3 per cell
    eos : BM4, the fit of E(V) per cell
    n_atoms : int, atoms per cell
    mass : float, mean atomic mass, amu
    scaling : float, s; 0.617 is Moruzzi-Janak-Schwarz (their 41.63 K constant, r0 in
        bohr and B0 in kbar, is s = 0.617 times 231.04 in these units: do not scale it again)
    x : float, 2/3 gives the Slater Grüneisen parameter

    Returns
    -------
    ndarray of ``volume``'s shape, K

    Examples
    --------
    A 12-atom cell of 156 Å^3 (13 Å^3 per atom), B0 = 175 GPa, B' = 3.7, M = 90.65 amu:

    >>> eos = BM4(np.zeros(4), 156.0, 0.0, 175.0, 3.7, 0.0)
    >>> round(float(debye_temperature(156.0, eos, 12, 90.65)), 1)
    303.7
    >>> np.round(debye_temperature([150.0, 156.0], eos, 12, 90.65), 1)  # gamma = 1.683
    array([324.4, 303.7])
    """
    v_atom = eos.volume0 / n_atoms
    theta0 = scaling * DEBYE_CONSTANT * v_atom ** (1.0 / 6.0) \
        * np.sqrt(eos.bulk_modulus0 / mass)
    gamma = (1.0 + eos.bulk_modulus_derivative0) / 2.0 - x
    if not gamma > 0:
        raise InvalidInputError(
            f"the Grüneisen parameter (1 + B')/2 - x = {gamma:.3g} (B' = "
            f"{eos.bulk_modulus_derivative0:.3g}, x = {x:g}) is not positive: the Debye "
            "temperature would fall under compression (x is 2/3 for Slater, 1 for "
            "Dugdale-MacDonald)")
    return theta0 * (eos.volume0 / np.asarray(volume, dtype=float)) ** gamma


def debye_free_energy(volume, temperature, eos, n_atoms, mass, scaling=DEFAULT_DEBYE_SCALING,
                      x=2.0 / 3.0):
    """Vibrational Helmholtz energy of the Debye model, eV per cell, shape (n_T, n_V).

    F_vib = N [9/8 kB Theta + kB T (3 ln(1 - exp(-Theta/T)) - D3(Theta/T))], with
    Theta(V) from ``debye_temperature`` (same ``eos``, ``n_atoms``, ``mass``, ``scaling``,
    ``x``); ``volume`` (n_V,) in Å^3 per cell, ``temperature`` (n_T,) in K.

    Examples
    --------
    A 12-atom cell (B0 = 175 GPa, B' = 3.7, M = 90.65 amu) at two volumes: at 0 K the
    zero-point energy, larger in the compressed cell; -T S_vib takes over when hot.

    >>> eos = BM4(np.zeros(4), 156.0, 0.0, 175.0, 3.7, 0.0)
    >>> f = debye_free_energy([150.0, 156.0], [0.0, 300.0, 1000.0], eos, 12, 90.65)
    >>> f.shape
    (3, 2)
    >>> np.round(f, 3)
    array([[ 0.377,  0.353],
           [-0.21 , -0.275],
           [-4.518, -4.724]])
    """
    theta = debye_temperature(volume, eos, n_atoms, mass, scaling, x)[None, :]
    t = np.asarray(temperature, dtype=float)[:, None]
    zero_point = 9.0 / 8.0 * BOLTZMANN_EV * theta
    # at T = 0 only the zero-point term remains (y = theta/T is capped where T = 0,
    # and the thermal term there is multiplied by T = 0)
    y = theta / np.where(t > 0, t, theta.max() / 1e3)
    thermal = BOLTZMANN_EV * t * (3.0 * np.log1p(-np.exp(-y)) - debye_function(y))
    return n_atoms * (zero_point + thermal)


def helmholtz_energy(data, volumes, temperatures, scaling=DEFAULT_DEBYE_SCALING, x=2.0 / 3.0):
    """F(V, T) = E_BM4(V) + F_Debye(V, T) of one configuration on a grid, eV per cell.

    Parameters
    ----------
    data : EnergyVolume
    volumes : array (n_V,), Å^3 per cell
    temperatures : array (n_T,), K
    scaling, x : the Debye temperature's s (0.617: Moruzzi-Janak-Schwarz) and Grüneisen x
        (see ``debye_temperature``)

    Returns
    -------
    F : ndarray (n_T, n_V)
    eos : BM4

    Examples
    --------
    Ferromagnetic Fe3Pt (12-atom cell): the volume of lowest F grows with T.

    >>> v = np.linspace(139.0, 172.0, 12)
    >>> e = BM4(np.array([132.04568, -14049.6831, 245394.098, -802171.920]),
    ...         np.nan, np.nan, np.nan, np.nan, 0.0).energy(v)
    >>> data = EnergyVolume(v, e, n_atoms=12, mass=90.65, label="FM")
    >>> volumes = np.linspace(150.0, 165.0, 151)
    >>> f, eos = helmholtz_energy(data, volumes, [10.0, 500.0, 1000.0])
    >>> f.shape, round(eos.volume0, 2)
    ((3, 151), 156.43)
    >>> volumes[f.argmin(axis=1)].round(1).tolist()
    [157.0, 158.9, 161.4]
    """
    eos = fit_bm4(data.volumes, data.energies, data.label)
    volumes = np.asarray(volumes, dtype=float)
    vibrational = debye_free_energy(volumes, temperatures, eos, data.n_atoms, data.mass,
                                    scaling, x)
    f = eos.energy(volumes)[None, :] + vibrational
    return f, eos
