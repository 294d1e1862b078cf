"""Phases per atom: each environment labelled by the reference phase that explains it best."""

import numbers

import numpy as np

from quests._defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K
from quests._errors import InvalidInputError
from quests._validation import CUTOFF, N_JOBS, NEIGHBORS, Interval, check_descriptors, \
    check_estimator_params
from quests._text import align_table
from quests.analysis import BatchedFrameAnalysis, frame_label
from quests.thermo._frames import TEMPERATURE_KEYS, TIME_KEYS, frame_value
from quests.thermo._trajectory import BandwidthRule

__all__ = ["PhaseClassifier", "PhaseAnalysis", "UNKNOWN"]

#: label of an environment that no reference phase covers
UNKNOWN = -1


class PhaseClassifier:
    """Label environments by the reference phase in which they are most probable.

    For an environment y and the environments X_p of each reference phase p,
    the kernel density of y in p is sum_j K(y, x_j) / N_p, so its log is
    -dH(y | X_p) - ln N_p. y gets the phase of the highest density (with
    references of equal size: of the lowest dH), or ``UNKNOWN`` (-1) when
    dH(y | X_p) > ``threshold`` for every p: no reference covers y.

    Parameters
    ----------
    references : dict name -> structures or descriptor array (n, n_features)
        At least two phases, e.g. ``{"solid": crystal_frames, "liquid": melt_frames}``,
        ideally at the temperature and pressure of the frames to classify.
    bandwidth : float or 'volume', default=0.015
        Kernel bandwidth (1/Å); 'volume': h(V) of each classified frame.
    threshold : float or None, default=None
        dH (nats) above which an environment is novel to a phase; None
        never labels anything unknown.
    average_neighbors : bool, default=True
        Average each atom's log densities over itself and its first shell of
        neighbours (atoms closer than ``shell`` times the median
        nearest-neighbour distance) before choosing: single-frame thermal
        noise then rarely flips an atom inside a homogeneous region, as
        neighbour-averaged order parameters do.
    shell : float, default=1.207
        First-shell radius in units of the nearest-neighbour distance
        ((1 + sqrt 2) / 2: midway between the fcc first and second shells).
    k, cutoff, species, n_jobs : descriptor settings

    Attributes
    ----------
    phases_ : list of str
    descriptors_ : dict name -> ndarray
    reference_species_ : list of int
        Atomic numbers in the reference structures (empty for descriptor arrays).
    rule_ : BandwidthRule

    Examples
    --------
    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> files = trajectory_files()
    >>> solid = ase.io.read(files["cu_solid_ref"], ":2")  # fcc Cu at 800 K
    >>> liquid = ase.io.read(files["cu_liquid_ref"], ":2")  # undercooled liquid at 800 K
    >>> clf = PhaseClassifier({"solid": solid, "liquid": liquid}, k=12, cutoff=5.0).fit()
    >>> clf.phases_, clf.reference_species_
    (['solid', 'liquid'], [29])
    >>> crystallised = ase.io.read(files["cu_quench"], -1)  # end of a quench to 800 K
    >>> labels, dh = clf.classify(crystallised)
    >>> labels.shape, dh.shape, round(float((labels == 0).mean()), 2)  # solid fraction
    ((500,), (500, 2), 0.91)
    """

    _parameter_constraints = {
        "k": NEIGHBORS,
        "cutoff": CUTOFF,
        "threshold": Interval(numbers.Real, allow_none=True),
        "shell": Interval(numbers.Real, 1.0, 2.0),
        "n_jobs": N_JOBS,
    }

    def __init__(self, references=None, *, bandwidth=DEFAULT_BANDWIDTH, threshold=None,
                 average_neighbors=True, shell=1.207, k=DEFAULT_K, cutoff=DEFAULT_CUTOFF,
                 species=None, n_jobs=None, verbose=False):
        self.references = references
        self.bandwidth = bandwidth
        self.threshold = threshold
        self.average_neighbors = average_neighbors
        self.shell = shell
        self.k = k
        self.cutoff = cutoff
        self.species = species
        self.n_jobs = n_jobs
        self.verbose = verbose

    def fit(self, references=None):
        """Describe the reference phases; returns self."""
        from quests.descriptor import describe_groups, structure_species

        check_estimator_params(self)
        self.rule_ = BandwidthRule(self.bandwidth)
        references = self.references if references is None else references
        if not isinstance(references, dict) or len(references) < 2:
            raise InvalidInputError("give at least two reference phases as a dict name -> "
                                    "structures, e.g. {'solid': ..., 'liquid': ...}")
        names = [str(name) for name in references]
        if len(set(names)) != len(names) or "unknown" in names:
            raise InvalidInputError(f"phase names must be distinct and not 'unknown'; got {names}")
        for name, group in references.items():
            if group is None or (not isinstance(group, np.ndarray) and len(group) == 0):
                raise InvalidInputError(f"reference phase {name!r} holds no structures")
        groups = list(references.values())
        xs, _, species = describe_groups(groups, self.k, self.cutoff, species=self.species,
                                         names=[f"reference phase {n!r}" for n in names],
                                         n_jobs=self.n_jobs, verbose=self.verbose)
        widths = {x.shape[1] for x in xs}
        if len(widths) != 1:
            raise InvalidInputError("the reference phases hold descriptors of different "
                                    "lengths: compute them with the same settings")
        self.species_ = species
        self.reference_species_ = sorted({z for group in groups
                                          if not isinstance(group, np.ndarray)
                                          for z in structure_species(group)})
        self.phases_ = names
        self.descriptors_ = dict(zip(names, xs))
        return self

    def _check_fitted(self):
        if not hasattr(self, "descriptors_"):
            raise AttributeError("this PhaseClassifier is not fitted yet: call fit() first")

    def check_species(self, structure, label="structure"):
        """Fail if ``structure`` holds a species that no reference phase holds."""
        from quests.structures import check_known_species

        check_known_species(structure.numbers, self.reference_species_, label,
                            "any reference phase")

    def descriptors(self, structures):
        """Descriptors of structures with the references' settings."""
        from quests.descriptor import compute_descriptors

        self._check_fitted()
        return compute_descriptors(structures, self.k, self.cutoff, species=self.species_,
                                   n_jobs=self.n_jobs)

    def differential_entropies(self, X, bandwidth):
        """dH of each row of X against each phase, shape (n, n_phases), nats."""
        from quests.kde import differential_entropy

        self._check_fitted()
        X = check_descriptors(X, "X", min_rows=0)
        return np.stack([differential_entropy(X, ref, bandwidth, n_jobs=self.n_jobs)
                         for ref in self.descriptors_.values()], axis=1) \
            if X.shape[0] else np.zeros((0, len(self.phases_)))

    def _label(self, dh, neighbors=None):
        """Phase index per row from dH (n, n_phases); ``neighbors`` (i, j) pairs average."""
        sizes = np.array([x.shape[0] for x in self.descriptors_.values()], dtype=float)
        log_density = -dh - np.log(sizes)
        if neighbors is not None:
            i, j = neighbors
            n = dh.shape[0]
            total = log_density.copy()
            np.add.at(total, i, log_density[j])
            count = 1.0 + np.bincount(i, minlength=n)
            log_density = total / count[:, None]
        labels = np.argmax(log_density, axis=1).astype(np.int64)
        if self.threshold is not None:
            labels[dh.min(axis=1) > self.threshold] = UNKNOWN
        return labels

    def frame_fields(self, row, labels, dh, cluster=None):
        """What an extxyz frame of labelled atoms carries (for OVITO): ``info``, the phase
        fractions (and n_max), and per-atom ``arrays`` phase, phase_id, dH_NAME per phase
        (and cluster). Returns (info, arrays) for ``quests.io.write_frame``."""
        names = np.array(list(self.phases_) + ["unknown"])
        arrays = {"phase": names[labels], "phase_id": labels,
                  **{f"dH_{name}": dh[:, p] for p, name in enumerate(self.phases_)}}
        if cluster is not None:
            arrays["cluster"] = cluster
        info = {f"fraction_{n}": row[n] for n in names}
        if "n_max" in row:
            info["n_max"] = row["n_max"]
        return info, arrays

    def first_shell(self, structure):
        """(i, j) index pairs of atoms within the first shell of each other."""
        return first_shell_pairs(structure, self.shell)

    def classify_descriptors(self, X, bandwidth=None, structure=None, shell_pairs=None):
        """Labels (n,) int (-1 unknown) and dH (n, n_phases) of descriptor rows.

        ``bandwidth`` defaults to the classifier's fixed one; ``structure`` (the
        rows' one structure) is needed for neighbour averaging and for h(V);
        ``shell_pairs`` are its ``first_shell`` pairs if already at hand.
        """
        if bandwidth is None:
            if self.rule_.from_volume:
                if structure is None:
                    raise InvalidInputError("bandwidth='volume' needs the structure (or a "
                                            "bandwidth)")
                bandwidth = self.rule_(structure, "structure")[0]
            else:
                bandwidth = float(self.bandwidth)
        dh = self.differential_entropies(X, bandwidth)
        neighbors = None
        if self.average_neighbors and structure is not None:
            neighbors = self.first_shell(structure) if shell_pairs is None else shell_pairs
        return self._label(dh, neighbors), dh

    def classify(self, structure):
        """Labels and dH of every atom of one structure (see ``classify_descriptors``)."""
        return self.classify_descriptors(self.descriptors(structure), structure=structure)

    def run(self, frames, *, keep_atoms=True, writers=(), start=None, stop=None, step=None,
            verbose=None):
        """A ``PhaseAnalysis`` over frames."""
        return PhaseAnalysis(self, keep_atoms=keep_atoms, writers=writers,
                             verbose=self.verbose).run(frames, start=start, stop=stop,
                                                       step=step, verbose=verbose)


def first_shell_pairs(structure, shell=1.207):
    """Directed pairs (i, j) with |r_ij| < shell x the median nearest-neighbour distance.

    Periodic images are followed (``quests.neighbors.neighbor_pairs``), so shells
    wrap across the cell. ``structure``: anything ``quests.structures.as_frame``
    takes. Returns two int arrays, sorted by i, then j.

    Examples
    --------
    >>> import numpy as np
    >>> from ase.build import bulk
    >>> i, j = first_shell_pairs(bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2))
    >>> len(i), set(np.bincount(i).tolist())  # 32 atoms with 12 first neighbours each
    (384, {12})
    """
    from quests.neighbors import neighbor_pairs

    return neighbor_pairs(structure, shell * nearest_neighbor_distance(structure))


def nearest_neighbor_distance(structure):
    """Median distance of atoms to their nearest neighbour, Å (one structure)."""
    from quests.neighbors import nearest_neighbors

    nl = nearest_neighbors(structure, k=1, cutoff=DEFAULT_CUTOFF)
    found = nl.distances[:, 0][np.isfinite(nl.distances[:, 0])]
    if found.size == 0:
        raise InvalidInputError(f"no atom has a neighbour within {DEFAULT_CUTOFF} Å")
    return float(np.median(found))


class PhaseAnalysis(BatchedFrameAnalysis):
    """Phase labels of every atom of every frame, and per-frame phase fractions.

    Frames are described in batches of about ``quests.analysis.CHUNK_ATOMS``
    atoms.

    Parameters
    ----------
    classifier : PhaseClassifier (fitted)
    keep_atoms : bool, default=True
        Keep per-atom labels in ``results.labels``.
    writers : sequence of callables
        ``writer(row, atoms, labels, dh)`` for every finished frame, in order.

    Results
    -------
    rows : list of dict: frame, n_atoms, time, temperature, then the fraction
        of each phase and of ``unknown``
    fractions : ndarray of shape (n_frames, n_phases + 1), last column unknown
    phases : list of str, the phase names (column order)
    labels : list of int arrays (if keep_atoms)

    Examples
    --------
    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> files = trajectory_files()
    >>> references = {"solid": ase.io.read(files["cu_solid_ref"], ":2"),
    ...               "liquid": ase.io.read(files["cu_liquid_ref"], ":2")}
    >>> clf = PhaseClassifier(references, k=12, cutoff=5.0).fit()
    >>> frames = ase.io.read(files["cu_quench"], "::26")  # a melt crystallising at 800 K
    >>> res = PhaseAnalysis(clf).run(frames).results
    >>> res.phases, res.fractions.shape  # columns: solid, liquid, unknown
    (['solid', 'liquid'], (3, 3))
    >>> [(r["time"], round(r["solid"], 2)) for r in res.rows]  # ps, solid fraction
    [(1.0, 0.02), (53.0, 0.9), (105.0, 0.91)]
    """

    def __init__(self, classifier, *, keep_atoms=True, writers=(), verbose=False):
        super().__init__(verbose=verbose)
        classifier._check_fitted()
        self.classifier = classifier
        self.keep_atoms = keep_atoms
        self.writers = list(writers)

    def summary(self, source=None):
        """What ``quests phases`` prints: mean phase fractions, then the fractions of
        about 20 frames (named without the file ``source``, TRAJ[@SLICE], if given)."""
        res = self.results
        names = list(res.phases) + ["unknown"]
        mean = res.fractions.mean(axis=0)
        head = ", ".join(f"{n} {m:.1%}" for n, m in zip(names, mean) if n != "unknown" or m > 0)
        shown = [n for n, c in zip(names, res.fractions.T) if n != "unknown" or c.any()]
        table = [(frame_label(r["frame"], source), *(f"{r[n]:.3f}" for n in shown))
                 for r in res.rows[::max(1, len(res.rows) // 20)]]
        return (f"{source or 'trajectory'}: {len(res.rows)} frames, "
                f"{sum(r['n_atoms'] for r in res.rows)} atoms; mean fractions: {head}\n"
                + align_table(("frame", *shown), table))

    def _prepare(self):
        super()._prepare()
        self.results.phases = list(self.classifier.phases_)
        self.results.rows = []
        self.results.labels = []

    def _frame_extra(self, label, structure, frame):
        self.classifier.check_species(frame, label)
        return self.classifier.rule_(structure, label)[0]  # h of this frame

    def _describe(self, frames):
        return self.classifier.descriptors(frames)

    #: whether ``_frame_done`` needs the first-shell pairs (computed once per frame)
    _needs_shell = False

    def _finish_frame(self, item, x, rows, state):
        classifier = self.classifier
        pairs = classifier.first_shell(item.structure) \
            if (self._needs_shell or classifier.average_neighbors) else None
        labels, dh = classifier.classify_descriptors(x, item.extra, item.structure, pairs)
        row = {"frame": item.label, "n_atoms": int(labels.size),
               "time": frame_value(item.structure, None, TIME_KEYS, required=False),
               "temperature": frame_value(item.structure, None, TEMPERATURE_KEYS,
                                          required=False)}
        counts = np.bincount(labels + 1, minlength=len(classifier.phases_) + 1)
        for p, name in enumerate(classifier.phases_):
            row[name] = float(counts[p + 1] / labels.size)
        row["unknown"] = float(counts[0] / labels.size)
        self.results.rows.append(row)
        if self.keep_atoms:
            self.results.labels.append(labels)
        self._frame_done(item.number, row, item.structure, labels, dh, pairs)
        for writer in self.writers:
            writer(row, item.structure, labels, dh)

    def _frame_done(self, number, row, structure, labels, dh, shell_pairs):
        """Hook for subclasses: called once per classified frame."""

    def _conclude(self):
        done = super()._conclude()
        columns = self.results.phases + ["unknown"]
        self.results.fractions = np.array([[r[c] for c in columns] for r in self.results.rows],
                                          dtype=float).reshape(-1, len(columns))
        return done
