"""Nucleation: clusters of solid-like atoms, the largest cluster in time, and a CNT fit."""

import numbers
from dataclasses import dataclass

import numpy as np

from quests._errors import InvalidInputError
from quests._units import BOLTZMANN_EV
from quests._validation import Interval, check_estimator_params
from quests.analysis import frame_label
from quests.thermo._fit import weighted_linear_fit
from quests.thermo._phases import PhaseAnalysis, first_shell_pairs

__all__ = ["solid_clusters", "cluster_size_distribution", "fit_cnt", "CNTFit",
           "NucleationAnalysis", "onset_frame"]


def solid_clusters(structure, solid, shell=1.207, shell_pairs=None):
    """Clusters of solid-like atoms connected through first-shell neighbours.

    Parameters
    ----------
    structure : ase.Atoms or Frame
        Periodic images are followed, so a cluster may wrap across the cell.
    solid : array-like of bool, shape (n_atoms,)
        Which atoms are solid-like.
    shell : float, default=1.207
        Two solid-like atoms are bonded when closer than ``shell`` times the
        median nearest-neighbour distance of the structure.
    shell_pairs : (i, j) int arrays, optional
        ``first_shell_pairs(structure, shell)`` if already computed.

    Returns
    -------
    cluster : ndarray of int64, shape (n_atoms,)
        Cluster index of each atom (0 = largest), -1 for atoms not solid-like.
    sizes : ndarray of int64, shape (n_clusters,)
        Atoms per cluster, largest first.

    Examples
    --------
    >>> import numpy as np
    >>> from ase.build import bulk
    >>> atoms = bulk("Cu", "fcc", a=3.61, cubic=True) * (3, 3, 3)  # 108 atoms
    >>> distances = atoms.get_distances(0, range(len(atoms)), mic=True)
    >>> solid = distances < 3.0  # atom 0 and its 12 neighbours, across the cell faces
    >>> solid[np.argmax(distances)] = True  # and one atom far from them
    >>> cluster, sizes = solid_clusters(atoms, solid)
    >>> sizes.tolist(), int((cluster == -1).sum())
    ([13, 1], 94)
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    solid = np.asarray(solid, dtype=bool)
    n = len(structure.positions)
    if solid.shape != (n,):
        raise InvalidInputError(f"solid must have one flag per atom ({n}); got shape "
                                f"{solid.shape}")
    cluster = np.full(n, -1, dtype=np.int64)
    members = np.flatnonzero(solid)
    if members.size == 0:
        return cluster, np.zeros(0, dtype=np.int64)
    i, j = first_shell_pairs(structure, shell) if shell_pairs is None else shell_pairs
    keep = solid[i] & solid[j]
    local = np.full(n, -1, dtype=np.int64)
    local[members] = np.arange(members.size)
    graph = coo_matrix((np.ones(int(keep.sum())), (local[i[keep]], local[j[keep]])),
                       shape=(members.size, members.size))
    _, component = connected_components(graph, directed=False)
    sizes = np.bincount(component)
    # renumber largest first (ties by first member, so the order is reproducible)
    order = np.lexsort((np.arange(sizes.size), -sizes))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    cluster[members] = rank[component]
    return cluster, sizes[order].astype(np.int64)


def cluster_size_distribution(cluster_sizes, n_atoms):
    """P(n): clusters of size n per atom, pooled over frames.

    Parameters
    ----------
    cluster_sizes : sequence of int arrays, one per frame
    n_atoms : int or sequence of int
        Atoms in each frame (or one number for all).

    Returns
    -------
    sizes : ndarray of int64, the cluster sizes n seen
    probability : ndarray, P(n) = clusters of size n / atoms, over all frames
    counts : ndarray of int64, clusters of size n (over all frames)

    Examples
    --------
    >>> # two frames of 10 atoms: clusters of 3, 1 and 1 atoms, then one of 1 atom
    >>> sizes, probability, counts = cluster_size_distribution([[3, 1, 1], [1]], 10)
    >>> sizes.tolist(), counts.tolist(), probability.tolist()
    ([1, 3], [3, 1], [0.15, 0.05])
    """
    frames = [np.asarray(s, dtype=np.int64) for s in cluster_sizes]
    if not frames:
        raise InvalidInputError("no frames to build a cluster-size distribution from")
    atoms = np.broadcast_to(np.asarray(n_atoms, dtype=float), (len(frames),)).sum()
    pooled = np.concatenate(frames)
    if pooled.size == 0:
        return (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64))
    sizes, counts = np.unique(pooled, return_counts=True)
    return sizes, counts / atoms, counts


@dataclass(frozen=True)
class CNTFit:
    """Classical nucleation theory fit of -kT ln P(n) = -n dmu + sigma n^(2/3) + c.

    Energies in eV when a temperature was given, else in units of kT.

    Attributes
    ----------
    temperature : float or None, K
    dmu, dmu_error : float
        Chemical potential difference liquid - solid per atom (> 0 drives growth).
    sigma, sigma_error : float
        Surface term per atom^(2/3).
    c, c_error : float
    n_critical, n_critical_error : float
        n* = (2 sigma / (3 dmu))^3.
    barrier, barrier_error : float
        dG* = 4 sigma^3 / (27 dmu^2).
    covariance : ndarray of shape (3, 3)
        Of (dmu, sigma, c).
    sizes, free_energy, free_energy_error : ndarray
        The fitted points n, -kT ln P(n) and its standard error.
    chi2_dof : float
        Reduced chi^2 of the fit (about 1 when counts are Poisson).

    Examples
    --------
    >>> import numpy as np
    >>> n = np.arange(1, 26)
    >>> counts = 1e9 * np.exp(0.3 * n - 1.5 * n ** (2 / 3))  # dmu = 0.3, sigma = 1.5 kT
    >>> fit = fit_cnt(n, counts, 1e9)  # no temperature: energies in kT
    >>> fit.to_dict()["units"], round(fit.n_critical, 2), round(fit.barrier, 3)
    ('kT', 37.04, 5.556)
    >>> round(float(fit.free_energy_of(fit.n_critical) - fit.c), 3)  # dG(n*): the barrier
    5.556
    """

    temperature: object
    dmu: float
    dmu_error: float
    sigma: float
    sigma_error: float
    c: float
    c_error: float
    n_critical: float
    n_critical_error: float
    barrier: float
    barrier_error: float
    covariance: np.ndarray
    sizes: np.ndarray
    free_energy: np.ndarray
    free_energy_error: np.ndarray
    chi2_dof: float

    def free_energy_of(self, n):
        """The fitted dG(n) = -n dmu + sigma n^(2/3) + c."""
        n = np.asarray(n, dtype=float)
        return -n * self.dmu + self.sigma * n ** (2.0 / 3.0) + self.c

    def to_dict(self):
        return {name: getattr(self, name) for name in
                ("temperature", "dmu", "dmu_error", "sigma", "sigma_error", "c", "c_error",
                 "n_critical", "n_critical_error", "barrier", "barrier_error", "chi2_dof")} | {
            "units": "eV" if self.temperature is not None else "kT",
            "points": {"n": self.sizes, "free_energy": self.free_energy,
                       "free_energy_error": self.free_energy_error}}


def fit_cnt(sizes, counts, n_atoms_total, temperature=None, *, min_count=5, max_size=None):
    """Fit classical nucleation theory to a cluster-size distribution.

    -kT ln P(n) = -n dmu + sigma n^(2/3) + c is linear in (dmu, sigma, c):
    a weighted least-squares fit, each point weighted by its Poisson error
    (the standard error of ln P(n) is 1 / sqrt(count)). Uncertainties are the
    fit's, widened by the reduced chi^2 when it exceeds 1 (counts pooled over
    correlated MD frames scatter more than Poisson); n* and the barrier carry
    them by linear propagation.

    Parameters
    ----------
    sizes : array-like of int
        Cluster sizes n.
    counts : array-like of int
        Clusters of each size, pooled over the frames.
    n_atoms_total : float
        Atoms over the same frames (P(n) = count / n_atoms_total).
    temperature : float, optional
        K; energies in eV with it, in kT without it.
    min_count : int, default=5
        Sizes seen fewer times are left out (their ln P is too noisy).
    max_size : int, optional
        Largest n fitted (e.g. below a growing post-critical cluster).

    Returns
    -------
    CNTFit

    Examples
    --------
    >>> import numpy as np
    >>> from quests.thermo import BOLTZMANN_EV
    >>> kt = BOLTZMANN_EV * 800.0  # eV
    >>> n = np.arange(1, 26)
    >>> g = -0.3 * kt * n + 1.5 * kt * n ** (2 / 3)  # dmu = 0.3 kT, sigma = 1.5 kT
    >>> counts = np.random.default_rng(0).poisson(2e5 * np.exp(-g / kt))  # 200000 atoms
    >>> fit = fit_cnt(n, counts, 2e5, temperature=800.0)
    >>> round(fit.dmu / kt, 2), round(fit.sigma / kt, 2), fit.sizes.size  # sizes seen >= 5 times
    (0.3, 1.49, 25)
    >>> round(fit.n_critical), round(fit.barrier, 2)  # atoms, eV
    (37, 0.38)
    """
    sizes = np.asarray(sizes, dtype=float)
    counts = np.asarray(counts, dtype=float)
    if sizes.shape != counts.shape or sizes.ndim != 1:
        raise InvalidInputError("sizes and counts must be 1-D arrays of the same length")
    if temperature is not None and not (isinstance(temperature, numbers.Real)
                                        and temperature > 0):
        raise InvalidInputError(f"temperature must be > 0 K; got {temperature!r}")
    if not n_atoms_total > 0:
        raise InvalidInputError("n_atoms_total must be > 0")
    keep = (counts >= max(min_count, 1)) & (sizes >= 1)
    if max_size is not None:
        keep &= sizes <= max_size
    if keep.sum() < 4:
        raise InvalidInputError(
            f"the cluster-size distribution has {int(keep.sum())} sizes seen at least "
            f"{min_count} times; a CNT fit of 3 parameters needs at least 4 (use more frames)")
    n, count = sizes[keep], counts[keep]
    kt = BOLTZMANN_EV * temperature if temperature is not None else 1.0
    y = -kt * np.log(count / n_atoms_total)
    y_error = kt / np.sqrt(count)
    design = np.stack([-n, n ** (2.0 / 3.0), np.ones_like(n)], axis=1)
    params, covariance, chi2_dof = weighted_linear_fit(design, y, y_error)
    dmu, sigma, c = params
    errors = np.sqrt(np.diag(covariance))
    with np.errstate(divide="ignore", invalid="ignore"):
        n_critical = (2.0 * sigma / (3.0 * dmu)) ** 3
        barrier = 4.0 * sigma ** 3 / (27.0 * dmu ** 2)
        # gradients with respect to (dmu, sigma, c)
        grad_n = np.array([-3.0 * n_critical / dmu, 3.0 * n_critical / sigma, 0.0])
        grad_b = np.array([-2.0 * barrier / dmu, 3.0 * barrier / sigma, 0.0])
        n_error = float(np.sqrt(grad_n @ covariance @ grad_n))
        b_error = float(np.sqrt(grad_b @ covariance @ grad_b))
    return CNTFit(temperature=temperature, dmu=float(dmu), dmu_error=float(errors[0]),
                  sigma=float(sigma), sigma_error=float(errors[1]), c=float(c),
                  c_error=float(errors[2]), n_critical=float(n_critical),
                  n_critical_error=n_error, barrier=float(barrier), barrier_error=b_error,
                  covariance=covariance, sizes=n.astype(np.int64), free_energy=y,
                  free_energy_error=y_error, chi2_dof=chi2_dof)


def onset_frame(n_max, size):
    """First frame from which the largest cluster stays at or above ``size`` atoms (or None).

    Examples
    --------
    >>> onset_frame([0, 1, 60, 10, 55, 70, 90], 50)  # the 60-atom cluster of frame 2 dissolves
    4
    >>> onset_frame([3, 8, 12], 50) is None
    True
    """
    n_max = np.asarray(n_max)
    below = np.flatnonzero(n_max < size)
    if below.size == 0:
        return 0 if n_max.size else None
    last = int(below[-1])
    return last + 1 if last + 1 < n_max.size else None


class NucleationAnalysis(PhaseAnalysis):
    """Phase labels, solid-like clusters and the largest cluster of every frame.

    Solid-like atoms are those labelled ``solid`` by the classifier; they are
    clustered through first-shell neighbours (``solid_clusters``). After the
    run: n_max(t), the onset of growth (first frame from which n_max stays >=
    ``onset_size``), the cluster-size distribution P(n) of the frames before
    the onset, and, when it has enough sizes, a CNT fit at ``temperature``.

    Parameters
    ----------
    classifier : PhaseClassifier (fitted)
    solid : str, optional
        Name of the solid phase (default: 'solid' if a phase has that name,
        else the first); the one used is ``solid_`` after a run.
    onset_size : int, default=50
    temperature : float, optional
        K, for the CNT fit in eV (else read from the frames' info, else kT units).
    min_count : int, default=5
        Passed to ``fit_cnt``.
    keep_atoms, writers : as in PhaseAnalysis (writers also get ``cluster``:
        ``writer(row, atoms, labels, dh, cluster)``)

    Results
    -------
    Those of PhaseAnalysis, plus: n_max, n_solid (ndarray per frame),
    cluster_sizes (list of arrays per frame), onset (frame number or None),
    distribution (sizes, P(n), counts over the frames before the onset),
    temperature (K, of the CNT fit, or None), cnt (CNTFit or None) and
    cnt_error (why there is no fit), clusters (per-atom cluster indices per
    frame, with keep_atoms).

    Examples
    --------
    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> from quests.thermo import PhaseClassifier
    >>> files = trajectory_files()
    >>> references = {"solid": ase.io.read(files["cu_solid_ref"], ":2"),
    ...               "liquid": ase.io.read(files["cu_liquid_ref"], ":2")}
    >>> clf = PhaseClassifier(references, k=12, cutoff=5.0).fit()
    >>> frames = ase.io.read(files["cu_quench"], "4:16:2")  # a melt at 800 K, 4 ps apart
    >>> res = NucleationAnalysis(clf, onset_size=50).run(frames).results
    >>> res.n_max.tolist(), res.onset  # largest solid cluster per frame; growth from frame 3
    ([18, 4, 36, 103, 114, 254], 3)
    >>> res.temperature, res.cnt is None  # too few frames for a CNT fit
    (800.0, True)
    """

    _parameter_constraints = {
        "onset_size": Interval(numbers.Integral, 1, None),
        "temperature": Interval(numbers.Real, 0, None, closed="neither", allow_none=True),
        "min_count": Interval(numbers.Integral, 1, None),
    }

    def __init__(self, classifier, *, solid=None, onset_size=50, temperature=None,
                 min_count=5, keep_atoms=False, writers=(), verbose=False):
        super().__init__(classifier, keep_atoms=keep_atoms, writers=(), verbose=verbose)
        self.solid = solid
        self.onset_size = onset_size
        self.temperature = temperature
        self.min_count = min_count
        self.cluster_writers = list(writers)

    def summary(self, source=None):
        """What ``quests nucleation`` prints: n_max(t), the onset and the CNT fit (frames
        named without the file ``source``, TRAJ[@SLICE], if given)."""
        res = self.results
        onset = ("none" if res.onset is None else
                 f"frame {res.onset} ({frame_label(res.rows[res.onset]['frame'], source)})")
        lines = [f"{source or 'trajectory'}: {len(res.rows)} frames: largest {self.solid_} "
                 f"cluster from {res.n_max[0]} to {res.n_max[-1]} atoms (max {res.n_max.max()} "
                 f"of {res.rows[0]['n_atoms']}); onset (n_max >= {self.onset_size} from then "
                 f"on): {onset}"]
        fit = res.cnt
        if fit is None:
            return "\n".join(lines + [f"no CNT fit: {res.cnt_error}"])
        units = "eV" if fit.temperature is not None else "kT"
        at = f" at T = {fit.temperature:.1f} K" if fit.temperature is not None else ""
        return "\n".join(lines + [
            f"CNT fit{at} over {fit.sizes.size} cluster sizes: dmu = {fit.dmu:.4g} +- "
            f"{fit.dmu_error:.2g} {units}, sigma = {fit.sigma:.4g} +- {fit.sigma_error:.2g} "
            f"{units}, n* = {fit.n_critical:.1f} +- {fit.n_critical_error:.1f}, barrier = "
            f"{fit.barrier:.4g} +- {fit.barrier_error:.2g} {units} (chi2/dof "
            f"{fit.chi2_dof:.2f})"])

    def _prepare(self):
        # checked when the run starts, before any frame is read
        check_estimator_params(self)
        phases = self.classifier.phases_
        if self.solid is None:
            self.solid_ = "solid" if "solid" in phases else phases[0]
        elif self.solid in phases:
            self.solid_ = self.solid
        else:
            raise InvalidInputError(f"no reference phase named {self.solid!r} (phases: "
                                    f"{phases})")
        super()._prepare()
        self._solid_index = phases.index(self.solid_)
        self.results.cluster_sizes = []
        self.results.clusters = []

    _needs_shell = True

    def _frame_done(self, number, row, structure, labels, dh, shell_pairs):
        cluster, sizes = solid_clusters(structure, labels == self._solid_index,
                                        self.classifier.shell, shell_pairs)
        row["n_solid"] = int((labels == self._solid_index).sum())
        row["n_max"] = int(sizes[0]) if sizes.size else 0
        row["n_clusters"] = int(sizes.size)
        self.results.cluster_sizes.append(sizes)
        if self.keep_atoms:
            self.results.clusters.append(cluster)
        for writer in self.cluster_writers:
            writer(row, structure, labels, dh, cluster)

    def _conclude(self):
        done = super()._conclude()
        rows = self.results.rows
        self.results.n_max = np.array([r["n_max"] for r in rows], dtype=np.int64)
        self.results.n_solid = np.array([r["n_solid"] for r in rows], dtype=np.int64)
        onset = onset_frame(self.results.n_max, self.onset_size)
        self.results.onset = onset
        before = slice(0, onset if onset is not None else len(rows))
        n_atoms = [r["n_atoms"] for r in rows[before]]
        temperatures = [r["temperature"] for r in rows[before] if r["temperature"] is not None]
        temperature = self.temperature
        if temperature is None and temperatures:
            temperature = float(np.mean(temperatures))
        self.results.temperature = temperature
        self.results.cnt = None
        self.results.cnt_error = None
        if not n_atoms:
            self.results.distribution = None
            self.results.cnt_error = "no frames before the onset of growth"
            return done
        sizes, probability, counts = cluster_size_distribution(
            self.results.cluster_sizes[before], n_atoms)
        self.results.distribution = {"n": sizes, "P": probability, "counts": counts}
        try:
            self.results.cnt = fit_cnt(sizes, counts, float(np.sum(n_atoms)), temperature,
                                       min_count=self.min_count)
        except InvalidInputError as exc:
            self.results.cnt_error = str(exc)
        return done
