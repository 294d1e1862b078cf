"""Where does a trajectory leave its training data? Per-atom dH against a reference.

``UncertaintyEstimator(reference).fit()`` describes the reference once (and,
for large references, builds a nearest-neighbour index); then
``.differential_entropy(atoms)`` gives dH of every atom of new structures,
``.run(frames)`` follows a whole trajectory in bounded memory
(``TrajectoryUncertainty``), and ``.monitor(atoms)`` is an observer for a
running ASE simulation. ``calibrate`` measures how well dH ranks per-atom
model errors (the calibration of the QUESTS paper).

dH > threshold (default 0) marks an environment as novel: the reference has
no environment within about a bandwidth of it. An atom of a species that no
reference atom has is novel whatever its neighbours: its dH is +inf (the
descriptor does not see the centre atom's species, so its kernel sum would
otherwise pretend to cover it), and a ``QuestsWarning`` names the species.
"""

import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from quests._defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K, descriptor_length
from quests._errors import InvalidInputError, InvalidStructureError, QuestsWarning
from quests._validation import CUTOFF, N_JOBS, NEIGHBORS, SCALAR_BANDWIDTH, Either, \
    Interval, Options, check_descriptors, check_estimator_params
from quests._text import align_table
from quests.analysis import BatchedFrameAnalysis, frame_label
from quests.kde import AUTO_EXACT_REFERENCE, BACKENDS, DEFAULT_BACKEND, \
    DEFAULT_BANDWIDTH_GRID, DEFAULT_KDE_NEIGHBORS, NeighborIndex, auto_method

__all__ = [
    "AUTO_EXACT_REFERENCE",
    "ExtrapolationError",
    "UncertaintyEstimator",
    "TrajectoryUncertainty",
    "UncertaintyMonitor",
    "EntropyCalculator",
    "Calibration",
    "calibrate",
    "atom_errors",
    "unseen_species",
    "Comparison",
    "compare_datasets",
    "frame_summary",
    "frame_fields",
    "reference_estimator",
    "bandwidth_lines",
]


class ExtrapolationError(RuntimeError):
    """Raised by an ``UncertaintyMonitor`` with ``action='raise'`` on a novel step.

    Examples
    --------
    A monitor trained on a cold Cu crystal stops at a strongly distorted one:

    >>> from quests.data import rattled_crystal
    >>> train = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(4)]
    >>> estimator = UncertaintyEstimator(train).fit()
    >>> hot = rattled_crystal("Cu", size=2, stdev=0.2, seed=5)
    >>> UncertaintyMonitor(estimator, hot, action="raise")()
    Traceback (most recent call last):
    ...
    quests.uncertainty.ExtrapolationError: call 0: max dH 118.853 > 0.0 (100.0% of atoms novel)
    """


def _settings(estimator):
    return {"k": estimator.k, "cutoff": estimator.cutoff, "species": estimator.species_}


class UncertaintyEstimator:
    """Per-atom differential entropy of structures against a reference set.

    Parameters
    ----------
    reference : structures, descriptor array or NeighborIndex, optional
        The training data: ``ase.Atoms`` (or a list of them), an array of
        descriptors of shape (n_environments, n_features) computed with the
        settings below, or a fitted ``NeighborIndex``. May instead be given
        to ``fit``.
    k, cutoff, species : descriptor settings (see ``compute_descriptors``)
    bandwidth : float or 'auto', default=0.015
        Kernel bandwidth h, 1/Å. 'auto': chosen from the reference alone by
        leave-one-structure-out likelihood (``quests.kde.select_bandwidth``;
        single environments are held out where the reference's structures
        are not known, as for plain descriptor arrays without ``offsets``).
    method : {'auto', 'exact', 'approx'}, default='auto'
        'exact' sums over every reference environment; 'approx' over the
        ``n_neighbors`` candidates of a nearest-neighbour index (an upper
        bound on dH, reported with its error bound); 'auto' is exact up to
        ``AUTO_EXACT_REFERENCE`` reference environments.
    n_neighbors : int, default=64
    backend : {'hnsw', 'pynndescent', 'brute'}, default='hnsw'
    threshold : float, default=0.0
        dH above which an environment counts as novel, nats.
    n_jobs : int or None, default=None
    verbose : bool, default=False

    Attributes
    ----------
    descriptors_ : ndarray of shape (n_reference, n_features)
    n_reference_ : int
    species_ : None or list of int
    reference_species_ : list of int or None
        Atomic numbers of the reference atoms; atoms of any other species get
        dH = +inf. None where the reference does not record them (descriptors
        given without ``numbers``, an index saved before they were stored):
        then no atom is recognised as of an unseen species.
    method_ : {'exact', 'approx'}
    index_ : NeighborIndex or None (None for the exact method)
    bandwidth_ : float
        The bandwidth the queries use, 1/Å (``bandwidth``, or the one chosen).
    bandwidth_selection_ : dict or None
        With bandwidth='auto': the rule, the candidates and their scores.

    Examples
    --------
    >>> from quests.data import rattled_crystal
    >>> train = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(4)]
    >>> estimator = UncertaintyEstimator(train).fit()
    >>> dh = estimator.differential_entropy(rattled_crystal("Cu", size=2, stdev=0.3, seed=9))
    >>> dh.shape, bool(dh.max() > 0)
    ((32,), True)
    """

    _parameter_constraints = {
        "k": NEIGHBORS,
        "cutoff": CUTOFF,
        "bandwidth": Either(SCALAR_BANDWIDTH, Options("auto")),
        "method": Options("auto", "exact", "approx"),
        "n_neighbors": Interval(numbers.Integral, 1, None),
        "backend": Options(*BACKENDS),
        "threshold": Interval(numbers.Real),
        "n_jobs": N_JOBS,
    }

    def __init__(self, reference=None, *, k=DEFAULT_K, cutoff=DEFAULT_CUTOFF, species=None,
                 bandwidth=DEFAULT_BANDWIDTH, method="auto", n_neighbors=DEFAULT_KDE_NEIGHBORS,
                 backend=DEFAULT_BACKEND, threshold=0.0, n_jobs=None, verbose=False):
        self.reference = reference
        self.k = k
        self.cutoff = cutoff
        self.species = species
        self.bandwidth = bandwidth
        self.method = method
        self.n_neighbors = n_neighbors
        self.backend = backend
        self.threshold = threshold
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- fitting -----------------------------------------------------------
    def _check_params(self):
        check_estimator_params(self)

    def fit(self, reference=None, numbers=None, offsets=None):
        """Describe the reference (and index it for the approximate method); returns self.

        ``numbers`` (n_reference,): atomic numbers of the centre atoms of a
        reference given as descriptors (``quests descriptors`` files store
        them), so that atoms of species the reference lacks are recognised.
        ``offsets`` (n_structures + 1,): start row of each reference structure
        in such descriptors, for bandwidth='auto'.
        """
        self._check_params()
        reference = self.reference if reference is None else reference
        if reference is None:
            raise InvalidInputError("UncertaintyEstimator needs a reference: structures, "
                                    "descriptors or a NeighborIndex")
        if isinstance(reference, NeighborIndex):
            reference._check_fitted()
            self._adopt_settings({**reference.metadata_.get("descriptor", {}),
                                  "reference_species":
                                  reference.metadata_.get("reference_species")})
            self.reference_species_ = reference.metadata_.get("reference_species")
            return self._set_reference(reference.descriptors_, reference,
                                       reference.metadata_.get("reference_offsets"))
        if isinstance(reference, np.ndarray) and reference.ndim == 2:
            self.species_ = self._species_list(None)
            descriptors = check_descriptors(reference, "reference descriptors")
            self.reference_species_ = _present_species(numbers, descriptors.shape[0])
            return self._set_reference(descriptors, None, offsets)
        from quests.descriptor import compute_descriptors, resolve_species, structure_offsets, \
            structure_species
        from quests.structures import as_frames

        frames = as_frames(reference, "reference structure")
        self.reference_species_ = structure_species(frames)
        # "all": the reference's species; a list is kept sorted, as an index records it
        self.species_ = (resolve_species("all", frames) if self.species == "all"
                         else self._species_list(None))
        descriptors = compute_descriptors(frames, self.k, self.cutoff, species=self.species_,
                                          n_jobs=self.n_jobs, verbose=self.verbose)
        return self._set_reference(descriptors, None,
                                   structure_offsets([len(f.numbers) for f in frames]))

    def _species_list(self, default):
        if self.species is None:
            return default
        if isinstance(self.species, str):
            raise InvalidInputError("species='all' needs reference structures, not descriptors")
        return sorted(int(z) for z in self.species)

    def _adopt_settings(self, stored):
        """Take k, cutoff, species from an index; fail where the user asked for others."""
        for key in ("species", "reference_species"):
            value = stored.get(key)
            if value is not None and not (isinstance(value, list) and all(
                    isinstance(z, int) and 1 <= z <= 118 for z in value)):
                raise InvalidInputError(f"the reference index records {key}={value!r}, not a "
                                        "list of atomic numbers")
        for key in ("k", "cutoff"):
            if key in stored and stored[key] != getattr(self, key):
                raise InvalidInputError(
                    f"the reference index holds descriptors with {key}={stored[key]}, "
                    f"not {getattr(self, key)}: use the same descriptor settings"
                )
        self.species_ = stored.get("species", self._species_list(None))
        if self.species not in (None, "all") and self._species_list(None) != self.species_:
            raise InvalidInputError(f"the reference index holds descriptors with species="
                                    f"{self.species_}, not {self.species}")

    def _set_reference(self, descriptors, index, offsets=None):
        self.descriptors_ = descriptors
        self.n_reference_ = descriptors.shape[0]
        self.reference_offsets_ = None if offsets is None else np.asarray(offsets, np.int64)
        expected = descriptor_length(self.k, len(self.species_ or []))
        if descriptors.shape[1] != expected:
            raise InvalidInputError(
                f"reference descriptors have {descriptors.shape[1]} features, but k={self.k} "
                f"and species={self.species_} give {expected}: use the same descriptor settings"
            )
        if self.method == "auto":
            self.method_ = auto_method(self.n_reference_)  # queries stream in
        else:
            self.method_ = self.method
        if self.n_neighbors >= self.n_reference_:
            self.method_ = "exact"  # the candidates would be the whole reference
        if index is None and self.method_ == "approx":
            index = NeighborIndex(self.backend, n_jobs=self.n_jobs).fit(
                descriptors, metadata={"descriptor": _settings(self)})
        self.index_ = index
        self._choose_bandwidth(index)
        return self

    def _choose_bandwidth(self, index):
        """bandwidth_: the given one, or (for 'auto') the one chosen from the reference, kept
        in a saved index so a cache chooses it once."""
        from quests.kde import resolve_bandwidth

        stored = index.metadata_.get("bandwidth_selection") if index is not None else None
        h, self.bandwidth_selection_ = resolve_bandwidth(
            self.bandwidth, self.descriptors_, self.reference_offsets_, chosen=stored,
            n_jobs=self.n_jobs)
        self.bandwidth_ = float(h)

    def _check_fitted(self):
        if not hasattr(self, "descriptors_"):
            raise AttributeError("this UncertaintyEstimator is not fitted yet: call fit() first")

    # -- queries -------------------------------------------------------------
    def descriptors(self, structures):
        """Descriptors of ``structures`` with the reference's settings, (n_atoms, n_features)."""
        from quests.descriptor import compute_descriptors

        self._check_fitted()
        return compute_descriptors(structures, self.k, self.cutoff, species=self.species_,
                                   n_jobs=self.n_jobs)

    def differential_entropy_of_descriptors(self, Y, return_bound=False, numbers=None,
                                            bandwidth=None):
        """dH (nats) of descriptor rows Y of shape (n, n_features) against the reference.

        ``numbers`` (n,): atomic numbers of the rows' centre atoms; rows of a
        species outside ``reference_species_`` get dH = +inf (bound 0) and a
        ``QuestsWarning``. ``bandwidth``: other bandwidths than ``bandwidth_``
        (a 1-D array adds a trailing axis, as in ``quests.kde``).
        """
        from quests.kde import differential_entropy

        self._check_fitted()
        reference = self.index_ if self.method_ == "approx" else self.descriptors_
        bandwidth = self.bandwidth_ if bandwidth is None else bandwidth
        dh, bound = differential_entropy(Y, reference, bandwidth, method=self.method_,
                                         n_neighbors=self.n_neighbors, return_bound=True,
                                         n_jobs=self.n_jobs)
        if numbers is not None:
            unseen = unseen_species(numbers, self.reference_species_, warn=True)
            dh[unseen], bound[unseen] = np.inf, 0.0
        return (dh, bound) if return_bound else dh

    def differential_entropy(self, structures, return_bound=False):
        """Per-atom dH of one or more structures, shape (n_atoms_total,), nats.

        With ``return_bound`` also the error bound of each value (0 for the
        exact method; see ``quests.kde.differential_entropy``). Atoms of a
        species the reference lacks get +inf.
        """
        from quests.structures import as_frames

        frames = as_frames(structures)
        numbers = np.concatenate([f.numbers for f in frames]) if frames else None
        return self.differential_entropy_of_descriptors(self.descriptors(frames),
                                                        return_bound, numbers)

    def unseen_atoms(self, numbers):
        """Mask of the atoms (atomic ``numbers``, shape (n,)) of species no reference atom
        has; all False where the reference species are unknown."""
        self._check_fitted()
        return unseen_species(numbers, self.reference_species_)

    def run(self, frames, *, errors=None, keep_atoms=True, writers=(), start=None, stop=None,
            step=None, verbose=None):
        """Follow a trajectory: a ``TrajectoryUncertainty`` run over ``frames``."""
        analysis = TrajectoryUncertainty(self, errors=errors, keep_atoms=keep_atoms,
                                         writers=writers, verbose=self.verbose)
        return analysis.run(frames, start=start, stop=stop, step=step, verbose=verbose)

    def monitor(self, atoms, threshold=None, action="record", keep_flagged=True):
        """An observer for ASE dynamics: ``dyn.attach(estimator.monitor(atoms), interval=10)``."""
        self._check_fitted()
        return UncertaintyMonitor(self, atoms, threshold=threshold, action=action,
                                  keep_flagged=keep_flagged)

    # -- persistence -----------------------------------------------------------
    def save(self, path, overwrite=False, metadata=None):
        """Write the reference (descriptors, index, settings) to ``path`` atomically.

        ``metadata``: extra JSON-able entries stored with it (the CLI records
        the reference files, to refuse a stale cache).
        """
        self._check_fitted()
        index = self.index_ or NeighborIndex("brute").fit(self.descriptors_)
        index.metadata_ = {
            **(metadata or {}), "descriptor": _settings(self), "method": self.method_,
            "reference_species": self.reference_species_,
            "query": {"bandwidth": self.bandwidth, "n_neighbors": self.n_neighbors,
                      "threshold": self.threshold},
            "reference_offsets": (None if self.reference_offsets_ is None
                                  else self.reference_offsets_.tolist()),
            "bandwidth_selection": self.bandwidth_selection_,
        }
        return index.save(path, overwrite=overwrite)

    @classmethod
    def load(cls, path, **params):
        """An estimator fitted from a file written by ``save`` (or ``NeighborIndex.save``).

        ``params`` set the query settings (bandwidth, threshold, n_neighbors,
        n_jobs); k, cutoff and species come from the file, and may be given
        only if they agree with it.
        """
        from quests.kde import read_index

        index = read_index(path)
        params = {key: value for key, value in params.items() if value is not None}
        stored = {**index.metadata_.get("descriptor", {}), **index.metadata_.get("query", {}),
                  "method": index.metadata_.get("method", "auto")}
        for key in ("k", "cutoff", "bandwidth", "n_neighbors", "threshold", "method"):
            if key in stored:
                params.setdefault(key, stored[key])
        # queries go to the stored index whatever its backend (a 'brute' one,
        # saved by an exact estimator, gives the exact m nearest)
        params["backend"] = index.backend
        return cls(index, **params).fit()


def _present_species(numbers, n_rows):
    """Sorted atomic numbers in ``numbers`` (one per reference row), or None if not given."""
    if numbers is None:
        return None
    numbers = np.asarray(numbers)
    if numbers.shape != (n_rows,) or not np.issubdtype(numbers.dtype, np.integer):
        raise InvalidInputError(f"numbers must be {n_rows} integers, one per reference row; "
                                f"got shape {numbers.shape} of {numbers.dtype}")
    return sorted(int(z) for z in np.unique(numbers))


def unseen_species(numbers, reference_species, warn=False):
    """Mask of the atoms of species that no reference atom has.

    Parameters
    ----------
    numbers : array-like of int, shape (n_atoms,)
        Atomic numbers of the atoms judged.
    reference_species : sequence of int or None
        Atomic numbers present in the reference; None (unknown) marks nothing.
    warn : bool, default=False
        Issue a ``QuestsWarning`` naming the species and atom counts when any
        atom is marked.

    Returns
    -------
    ndarray of bool, shape (n_atoms,). Such atoms are novel whatever their
    neighbours: the descriptor does not hold the centre atom's species.

    Examples
    --------
    >>> unseen_species([29, 28, 29], [29]).tolist()
    [False, True, False]
    """
    numbers = np.asarray(numbers)
    if reference_species is None:
        return np.zeros(numbers.shape, dtype=bool)
    mask = ~np.isin(numbers, list(reference_species))
    if warn and mask.any():
        warnings.warn(unseen_species_message(numbers[mask]), QuestsWarning, stacklevel=2)
    return mask


def unseen_species_message(numbers):
    """One line naming the species (and atom counts) of atoms no reference atom shares."""
    from ase.data import chemical_symbols

    values, counts = np.unique(np.asarray(numbers), return_counts=True)
    names = ", ".join(f"{count} {chemical_symbols[z] if 0 < z < len(chemical_symbols) else z}"
                      for z, count in zip(values, counts))
    return (f"atoms of species the reference lacks ({names}) are counted novel with "
            "dH = inf")


def _reference_files(specs):
    """Reference files as an index records them: spec (with its @SLICE), resolved path,
    size and modification time."""
    import os
    from pathlib import Path

    from quests.io import split_index

    prints = []
    for spec in specs:
        path = split_index(spec)[0]
        stat = os.stat(path) if os.path.exists(path) else None
        prints.append({"spec": str(spec), "path": str(Path(path).resolve()),
                       "size": stat.st_size if stat else None,
                       "mtime_ns": stat.st_mtime_ns if stat else None})
    return prints


def _reference_offsets(data):
    """Start row of each structure of the combined reference datasets (None if unknown)."""
    from quests.descriptor import structure_offsets

    counts = [data.counts.get(name) for name in data]
    if not counts or any(c is None for c in counts):
        return None
    return structure_offsets(np.concatenate(counts))


def _say_unknown_species(estimator):
    if estimator.reference_species_ is None:
        warnings.warn("the reference does not record its atoms' species (descriptors without "
                      "numbers, or an older index): atoms of a species it lacks cannot be "
                      "recognised", QuestsWarning)


def reference_estimator(reference, index_path=None, *, format=None, k=None, cutoff=None,
                        species=None, bandwidth=DEFAULT_BANDWIDTH, method="auto",
                        n_neighbors=DEFAULT_KDE_NEIGHBORS, backend=DEFAULT_BACKEND,
                        threshold=0.0, n_jobs=None, verbose=False):
    """An ``UncertaintyEstimator`` fitted on reference files, through an index cache.

    With ``index_path`` the fitted estimator is read from that file if it
    exists, else fitted on ``reference`` and written there. The cache records
    everything that changes the index: the descriptor settings (checked by
    ``UncertaintyEstimator.load``), each reference spec with its @SLICE, the
    files' size and modification time, and ``format``. A cache that disagrees
    with the request is refused, never reused.

    Parameters
    ----------
    reference : list of FILE[@SLICE]
        Structure files or descriptor files (``quests.io.read_datasets``).
    index_path : path or None
    k, cutoff, species : descriptor settings; None takes them from the index or
        the descriptor files (else the defaults)
    bandwidth, method, n_neighbors, backend, threshold, n_jobs, verbose : as in
        ``UncertaintyEstimator``

    Returns
    -------
    estimator : UncertaintyEstimator
    wrote_index : bool, True if this call wrote ``index_path``

    Examples
    --------
    Fitted on the embedded 300 K Cu MD, every atom of a Cu melt is novel:

    >>> import ase.io
    >>> from quests.data import demo_files
    >>> files = demo_files()
    >>> estimator, wrote_index = reference_estimator([files["cu_300K"]])
    >>> estimator.n_reference_, estimator.method_, wrote_index
    (2160, 'exact', False)
    >>> melt = ase.io.read(files["cu_melt"], index=0)
    >>> bool((estimator.differential_entropy(melt) > 0).all())
    True
    """
    from pathlib import Path

    from quests._errors import OutputError
    from quests.io import read_datasets

    reference = list(reference or [])
    query = {"bandwidth": bandwidth, "threshold": threshold, "n_neighbors": n_neighbors,
             "n_jobs": n_jobs}
    if index_path is not None and Path(index_path).exists():
        fixed = {key: value for key, value in (("k", k), ("cutoff", cutoff))
                 if value is not None}
        if method != "auto":
            fixed["method"] = method
        estimator = UncertaintyEstimator.load(index_path, **fixed, **query, species=species)
        stored = estimator.index_.metadata_.get("reference_files")
        if reference and stored is not None and [s["spec"] for s in stored] != reference:
            raise InvalidInputError(f"index {index_path} was built from "
                                    f"{[s['spec'] for s in stored]}, not {reference}: remove "
                                    "it to rebuild")
        if reference and stored is not None and stored != _reference_files(reference):
            raise InvalidInputError(f"index {index_path} is older than its reference files "
                                    "(they changed since): remove it to rebuild")
        stored_format = estimator.index_.metadata_.get("reference_format", format)
        if reference and stored_format != format:
            raise InvalidInputError(f"index {index_path} was built reading --format "
                                    f"{stored_format}, not {format}: remove it to rebuild")
        _say_unknown_species(estimator)
        return estimator, False
    if not reference:
        raise InvalidInputError("give the training data with --reference FILE (or an existing "
                                "--index FILE)")
    # a reference file is sliced by its own FILE@SLICE only (recorded in the cache)
    data = read_datasets(reference, None, format, k=k, cutoff=cutoff, species=species,
                         verbose=verbose)
    settings = data.settings
    estimator = UncertaintyEstimator(
        data.combined("--reference files"), k=settings["k"], cutoff=settings["cutoff"],
        species=settings["species"], method=method, backend=backend, verbose=verbose,
        **query).fit(numbers=data.row_numbers(), offsets=_reference_offsets(data))
    _say_unknown_species(estimator)
    if index_path is None:
        return estimator, False
    try:
        estimator.save(index_path, metadata={"reference_files": _reference_files(reference),
                                             "reference_format": format})
    except OutputError:
        if not Path(index_path).exists():
            raise
        # absent when this call began: another run built the same cache meanwhile; keep
        # its file, use our own index
        warnings.warn(f"index {index_path} was written by another run while this one "
                      "built the same; that file is kept", QuestsWarning)
        return estimator, False
    return estimator, True


@dataclass
class Comparison:
    """A test set and a reference described in one descriptor space.

    Made by ``compare_datasets``. ``unseen`` marks the test atoms of species
    the reference lacks (all False where a file does not record its atoms'
    species): their dH is +inf, and they are never covered.

    Attributes
    ----------
    test : ndarray (n_test, n_features)
    reference : ndarray (n_reference, n_features)
    structures : list of ase.Atoms or None, the test structures (None for a
        descriptor file)
    settings : dict, k, cutoff and species of the descriptors
    unseen : ndarray (n_test,) bool
    reference_offsets : ndarray (n_structures + 1,) or None, start row of each
        reference structure (for bandwidth='auto')
    bandwidth_selection : dict or None, what bandwidth='auto' chose

    Examples
    --------
    How much of the 900 K Cu MD the 300 K run covers:

    >>> import numpy as np
    >>> from quests.data import demo_files
    >>> files = demo_files()
    >>> comparison = compare_datasets(files["cu_900K"], files["cu_300K"])
    >>> comparison.test.shape, comparison.reference.shape
    ((2160, 63), (2160, 63))
    >>> round(float(comparison.overlap()), 3)  # fraction of 900 K atoms with dH <= 0
    0.633
    >>> dh, bound = comparison.differential_entropy()
    >>> round(float(np.median(dh)), 2), float(bound.max())
    (-1.14, 0.0)
    """

    test: np.ndarray
    reference: np.ndarray
    structures: object
    settings: dict
    unseen: np.ndarray
    reference_offsets: np.ndarray = None
    bandwidth_selection: dict = None

    def resolve_bandwidth(self, bandwidth):
        """``bandwidth`` itself, or for 'auto' the one chosen from the reference alone
        (``quests.kde.select_bandwidth``, once; recorded in ``bandwidth_selection``)."""
        from quests.kde import resolve_bandwidth

        h, selection = resolve_bandwidth(bandwidth, self.reference, self.reference_offsets,
                                         chosen=self.bandwidth_selection)
        self.bandwidth_selection = selection or self.bandwidth_selection
        return h

    def differential_entropy(self, bandwidth=DEFAULT_BANDWIDTH, **kwargs):
        """dH of every test environment against the reference, and its bound (as
        ``quests.kde.differential_entropy(..., return_bound=True)``; ``kwargs`` go
        there); +inf (bound 0) for atoms of unseen species. ``bandwidth`` may be 'auto'."""
        from quests.kde import differential_entropy

        bandwidth = self.resolve_bandwidth(bandwidth)
        values, bound = differential_entropy(self.test, self.reference, bandwidth,
                                             return_bound=True, **kwargs)
        values[self.unseen], bound[self.unseen] = np.inf, 0.0
        return values, bound

    def overlap(self, bandwidth=DEFAULT_BANDWIDTH, threshold=0.0, **kwargs):
        """Fraction of the test environments with dH <= ``threshold`` (as
        ``quests.kde.overlap``); atoms of unseen species count as not covered. A float,
        or an array per bandwidth; ``bandwidth`` may be 'auto'."""
        from quests.kde import overlap

        bandwidth = self.resolve_bandwidth(bandwidth)
        if self.unseen.all():
            return 0.0 if np.ndim(bandwidth) == 0 else np.zeros(np.size(bandwidth))
        return overlap(self.test[~self.unseen], self.reference, bandwidth, threshold,
                       **kwargs) * (~self.unseen).mean()


def compare_datasets(test, reference, index=None, format=None, *, k=None, cutoff=None,
                     species=None, n_jobs=None, verbose=False):
    """Descriptors of the files TEST and REF with one set of settings: a ``Comparison``.

    Either may be a structure file or a descriptor file (``quests.io.read_datasets``,
    whose settings the other then takes); ``species='all'`` covers the species of
    both. An atom of TEST of a species REF lacks is marked ``unseen`` (a
    ``QuestsWarning`` names them); a file that does not record its atoms'
    species is said, since such atoms then go unrecognised.

    Examples
    --------
    The embedded Cu melt against the 300 K crystal MD: no melt atom is covered.

    >>> from quests.data import demo_files
    >>> files = demo_files()
    >>> comparison = compare_datasets(files["cu_melt"], files["cu_300K"])
    >>> comparison.settings, int(comparison.unseen.sum())
    ({'k': 32, 'cutoff': 5.0, 'species': None}, 0)
    >>> float(comparison.overlap())
    0.0
    """
    from quests.descriptor import compute_descriptors, resolve_species, structure_offsets
    from quests.io import read_datasets

    data = read_datasets([test, reference], index, format, k=k, cutoff=cutoff,
                         species=species, verbose=verbose)
    settings = dict(data.settings)
    (test_name, test_data), (ref_name, ref_data) = data.items()
    if settings["species"] == "all":
        settings["species"] = resolve_species(
            "all", [s for d in (test_data, ref_data) if not isinstance(d, np.ndarray) for s in d])
    arrays = [d if isinstance(d, np.ndarray) else
              compute_descriptors(d, settings["k"], settings["cutoff"],
                                  species=settings["species"], n_jobs=n_jobs, verbose=verbose)
              for d in (test_data, ref_data)]
    atoms = [data.numbers(name) if isinstance(d, np.ndarray) else
             np.concatenate([s.numbers for s in d])
             for name, d in ((test_name, test_data), (ref_name, ref_data))]
    for spec, numbers_of in ((reference, atoms[1]), (test, atoms[0])):
        if numbers_of is None:
            warnings.warn(f"{spec} does not record its atoms' species: atoms of a species "
                          f"{reference} lacks cannot be recognised", QuestsWarning)
    unseen = (np.zeros(arrays[0].shape[0], dtype=bool) if atoms[0] is None or atoms[1] is None
              else unseen_species(atoms[0], np.unique(atoms[1]), warn=True))
    counts = data.counts.get(ref_name)
    if counts is None and not isinstance(ref_data, np.ndarray):
        counts = [len(s) for s in ref_data]
    return Comparison(arrays[0], arrays[1], None if isinstance(test_data, np.ndarray)
                      else test_data, settings, unseen,
                      None if counts is None else structure_offsets(counts))


def bandwidth_lines(selection):
    """[] for a bandwidth given (``selection`` None); for one chosen by bandwidth='auto'
    (``selection``: an estimator's ``bandwidth_selection_``, a Comparison's
    ``bandwidth_selection``) the line that says which.

    Examples
    --------
    >>> from quests.data import rattled_crystal
    >>> train = [rattled_crystal("Cu", size=2, stdev=0.05, seed=s) for s in range(3)]
    >>> bandwidth_lines(UncertaintyEstimator(train, bandwidth=0.02).fit().bandwidth_selection_)
    []
    >>> estimator = UncertaintyEstimator(train, bandwidth="auto").fit()
    >>> bandwidth_lines(estimator.bandwidth_selection_)[0][:30]
    'bandwidth h = 0.0... 1/Å chosen'
    """
    if selection is None:
        return []
    return [f"bandwidth h = {selection['bandwidth']:.4g} 1/Å chosen from the reference by "
            f"{selection['rule']} ({selection['n_queries']} held-out environments)"]


def frame_fields(row, dh, bound):
    """What an extxyz frame of a judged trajectory carries: ``info`` (dH_max, dH_mean,
    novel_fraction from its ``frame_summary`` row) and per-atom ``arrays`` (dH, and
    dH_bound where dH is approximate). Returns (info, arrays) for ``quests.io.write_frame``.

    Examples
    --------
    >>> import numpy as np
    >>> dh, bound = np.array([-3.0, -1.0, 2.0, 6.0]), np.zeros(4)  # exact dH: no bound
    >>> info, arrays = frame_fields(frame_summary("frame 0", dh, bound), dh, bound)
    >>> info, sorted(arrays)
    ({'dH_max': 6.0, 'dH_mean': 1.0, 'novel_fraction': 0.5}, ['dH'])
    >>> bound = np.array([0.0, 0.1, 0.0, 0.2])  # approximate dH: its bound is kept
    >>> sorted(frame_fields(frame_summary("frame 1", dh, bound), dh, bound)[1])
    ['dH', 'dH_bound']
    """
    return ({"dH_max": row["max_dH"], "dH_mean": row["mean_dH"],
             "novel_fraction": row["novel_fraction"]},
            {"dH": dh, **({"dH_bound": bound} if row["max_bound"] > 0 else {})})


def frame_summary(label, dh, bound, threshold=0.0):
    """One frame's row of a trajectory table: frame (its label), n_atoms, max_dH, mean_dH,
    novel_fraction (dH > threshold), max_bound and flagged (max dH > threshold).

    ``dh`` and ``bound`` are the frame's per-atom dH and its bound, shape (n_atoms,).

    Examples
    --------
    >>> import numpy as np
    >>> frame_summary("f0", np.array([-1.0, 2.0]), np.zeros(2))["novel_fraction"]
    0.5
    """
    return {
        "frame": label,
        "n_atoms": int(dh.shape[0]),
        "max_dH": float(dh.max()),
        "mean_dH": float(dh.mean()),
        "novel_fraction": float((dh > threshold).mean()),
        "max_bound": float(bound.max()),
        "flagged": bool(dh.max() > threshold),
    }


class TrajectoryUncertainty(BatchedFrameAnalysis):
    """Per-atom dH of every frame of a trajectory against a fitted estimator.

    Frames are described and queried in batches of about ``quests.analysis.CHUNK_ATOMS``
    atoms, so memory stays bounded however long the trajectory; per-atom
    values are kept only if ``keep_atoms``.

    Parameters
    ----------
    estimator : UncertaintyEstimator (fitted)
    errors : str or None
        Per-atom model error to collect for ``calibrate`` (see ``atom_errors``).
    keep_atoms : bool, default=True
        Keep per-atom dH (and errors) in ``results.dh``.
    writers : sequence of callables
        Each called as ``writer(row, atoms, dh, bound)`` for every frame, in
        order, as soon as it is finished (to stream outputs).

    Results
    -------
    rows : list of dict, one per frame: frame (label), n_atoms, max_dH,
        mean_dH, novel_fraction, max_bound, flagged (max dH > threshold)
    max_dh, mean_dh, novel_fraction : ndarray of shape (n_frames,)
    flagged : ndarray of int, numbers of the flagged frames
    dh, errors : lists of per-frame arrays (if keep_atoms / errors)
    unseen_species : dict of int -> int, atoms of each species the reference
        lacks (their dH is +inf; one ``QuestsWarning`` says so at the end)

    Examples
    --------
    Frames rattled ever more strongly leave a cold-crystal reference:

    >>> from quests.data import rattled_crystal
    >>> train = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(4)]
    >>> estimator = UncertaintyEstimator(train).fit()
    >>> frames = [rattled_crystal("Cu", size=2, stdev=s, seed=9) for s in (0.02, 0.05, 0.1, 0.2)]
    >>> analysis = TrajectoryUncertainty(estimator).run(frames)
    >>> analysis.results.novel_fraction.tolist(), analysis.results.flagged.tolist()
    ([0.0, 0.15625, 0.96875, 1.0], [1, 2, 3])
    >>> analysis.results.rows[3]["frame"], analysis.results.n_atoms
    ('frame 3', 128)
    """

    def __init__(self, estimator, *, errors=None, keep_atoms=True, writers=(), verbose=False):
        super().__init__(verbose=verbose)
        estimator._check_fitted()
        self.estimator = estimator
        self.errors = errors
        self.keep_atoms = keep_atoms
        self.writers = list(writers)

    def summary(self, source=None, top=10):
        """What ``quests uncertainty`` prints: the novel fraction, the flagged frames and
        the ``top`` most novel frames (named without the file ``source`` if given)."""
        res = self.results
        rows, n_atoms = res.rows, res.n_atoms
        novel = sum(r["novel_fraction"] * r["n_atoms"] for r in rows) / max(n_atoms, 1)
        lines = [f"{source or 'trajectory'}: {len(rows)} frames, {n_atoms} atoms, method "
                 f"{self.estimator.method_}: {novel:.2%} of atoms novel, "
                 f"{len(res.flagged)} frames flagged"] + bandwidth_lines(
                     self.estimator.bandwidth_selection_)
        order = sorted(range(len(rows)), key=lambda i: -rows[i]["max_dH"])[:top]
        if order:
            table = [(frame_label(rows[i]["frame"], source), str(rows[i]["n_atoms"]),
                      f"{rows[i]['max_dH']:.3f}", f"{rows[i]['mean_dH']:.3f}",
                      f"{rows[i]['novel_fraction']:.2%}") for i in order]
            lines += ["", f"most novel frames (top {len(order)}):",
                      align_table(("frame", "atoms", "max dH", "mean dH", "novel"), table)]
        return "\n".join(lines)

    def to_dict(self, calibration=None):
        """Settings, reference species, unseen species (and ``calibration``) as a plain dict;
        the per-frame table is ``results.rows``."""
        estimator = self.estimator
        out = {"parameters": {"k": estimator.k, "cutoff": estimator.cutoff,
                              "species": estimator.species_, "bandwidth": estimator.bandwidth_,
                              "method": estimator.method_, "n_neighbors": estimator.n_neighbors,
                              "threshold": estimator.threshold},
               "reference_species": estimator.reference_species_,
               "unseen_species": {str(z): c for z, c in self.results.unseen_species.items()}}
        if self.results.unseen_species:
            out["note"] = ("atoms of a species the reference lacks have dH = +inf (null in "
                           "JSON, inf in CSV and extxyz); they count as novel")
        if estimator.bandwidth_selection_ is not None:
            out["bandwidth_selection"] = estimator.bandwidth_selection_
        if calibration is not None:
            out["calibration"] = calibration.to_dict()
        return out

    def calibrate(self, **kwargs):
        """``calibrate`` dH against the collected per-atom errors (``errors=``), over the
        atoms of species the reference has (dH = inf has no place on the dH axis).

        Returns (Calibration, dh, errors, n_left_out): the atoms used and how many
        were left out.
        """
        if not self.errors:
            raise InvalidInputError("the run collected no per-atom errors (errors=)")
        dh, errors = np.concatenate(self.results.dh), np.concatenate(self.results.errors)
        finite = np.isfinite(dh)
        dh, errors, n_left_out = dh[finite], errors[finite], int((~finite).sum())
        if dh.size < 3 and n_left_out:
            raise InvalidInputError(
                f"--errors: {n_left_out} of {n_left_out + dh.size} atoms are of species the "
                "reference lacks (dH = inf); too few are left to calibrate")
        return calibrate(dh, errors, **kwargs), dh, errors, n_left_out

    def bandwidth_scan(self):
        """Which bandwidth ranks the collected errors best: Spearman's rank correlation of
        dH with the per-atom errors at each of ``quests.kde.DEFAULT_BANDWIDTH_GRID``.

        Returns a dict: candidates, spearman (one per candidate), best_bandwidth,
        best_spearman (None where the errors are constant), and the used bandwidth's own
        spearman (``used_spearman``).
        """
        if not self.errors:
            raise InvalidInputError("the run collected no per-atom errors (errors=)")
        scan, errors = np.concatenate(self.results.dh_scan), np.concatenate(self.results.errors)
        dh = np.concatenate(self.results.dh)
        finite = np.isfinite(dh)  # the atoms calibrate uses: of species the reference has
        rho = [_rank_correlation(column[finite], errors[finite]) for column in scan.T]
        # constant errors rank nothing: no bandwidth is best
        best = int(np.argmax(rho)) if np.ptp(errors[finite]) > 0 else None
        return {"candidates": list(DEFAULT_BANDWIDTH_GRID), "spearman": rho,
                "best_bandwidth": None if best is None else DEFAULT_BANDWIDTH_GRID[best],
                "best_spearman": None if best is None else rho[best],
                "used_bandwidth": self.estimator.bandwidth_,
                "used_spearman": _rank_correlation(dh[finite], errors[finite])}

    def _prepare(self):
        super()._prepare()
        self.results.rows = []
        self.results.dh = []
        self.results.errors = []
        self.results.dh_scan = []
        self._unseen = []

    def _frame_extra(self, label, structure, frame):
        return atom_errors(structure, self.errors, label) if self.errors else None

    def _describe(self, frames):
        return self.estimator.descriptors(frames)

    def _begin_batch(self, items, x, offsets):
        numbers = np.concatenate([item.frame.numbers for item in items])
        with warnings.catch_warnings():
            # counted here and said once by _conclude, not once per batch
            warnings.simplefilter("ignore", QuestsWarning)
            dh, bound = self.estimator.differential_entropy_of_descriptors(
                x, return_bound=True, numbers=numbers)
        self._unseen.append(numbers[self.estimator.unseen_atoms(numbers)])
        if self.errors:
            # dH at every candidate bandwidth, to say which ranks the errors best
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", QuestsWarning)
                scan = self.estimator.differential_entropy_of_descriptors(
                    x, numbers=numbers, bandwidth=np.asarray(DEFAULT_BANDWIDTH_GRID))
            return dh, bound, scan
        return dh, bound

    def _finish_frame(self, item, x, rows, state):
        dh, bound = state[0][rows], state[1][rows]
        row = frame_summary(item.label, dh, bound, self.estimator.threshold)
        self.results.rows.append(row)
        if self.keep_atoms:
            self.results.dh.append(dh.copy())
        if item.extra is not None:
            self.results.errors.append(item.extra)
            self.results.dh_scan.append(state[2][rows])
        for writer in self.writers:
            writer(row, item.structure, dh, bound)

    def _conclude(self):
        done = super()._conclude()
        rows = self.results.rows
        self.results.max_dh = np.array([r["max_dH"] for r in rows])
        self.results.mean_dh = np.array([r["mean_dH"] for r in rows])
        self.results.novel_fraction = np.array([r["novel_fraction"] for r in rows])
        self.results.flagged = np.flatnonzero([r["flagged"] for r in rows])
        self.results.n_atoms = int(sum(r["n_atoms"] for r in rows))
        unseen = np.concatenate(self._unseen) if self._unseen else np.zeros(0, dtype=int)
        self.results.unseen_species = {int(z): int(c) for z, c in
                                       zip(*np.unique(unseen, return_counts=True))}
        if unseen.size:
            warnings.warn(unseen_species_message(unseen), QuestsWarning, stacklevel=2)
        return done


class UncertaintyMonitor:
    """ASE-style observer that computes dH of a running simulation's atoms.

    Attach it to any ASE dynamics: ``dyn.attach(monitor, interval=10)``.
    Each call records the step's max/mean dH and novel fraction in
    ``records``; a step whose max dH exceeds the threshold is flagged: a
    copy of the atoms (with a per-atom ``dH`` array) goes to ``flagged``,
    and with ``action='raise'`` an ``ExtrapolationError`` stops the run.

    Examples
    --------
    Two steps of EMT molecular dynamics of a Cu cell like the training data:

    >>> from ase import units
    >>> from ase.calculators.emt import EMT
    >>> from ase.md.verlet import VelocityVerlet
    >>> from quests.data import rattled_crystal
    >>> train = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(4)]
    >>> estimator = UncertaintyEstimator(train).fit()
    >>> atoms = rattled_crystal("Cu", size=2, stdev=0.02, seed=5)
    >>> atoms.calc = EMT()
    >>> dyn = VelocityVerlet(atoms, timestep=5 * units.fs)
    >>> monitor = UncertaintyMonitor(estimator, atoms)
    >>> dyn.attach(monitor, interval=1)
    >>> dyn.run(2)
    True
    >>> [row["flagged"] for row in monitor.records], len(monitor.flagged)
    ([False, False, False], 0)
    >>> round(monitor.records[-1]["max_dH"], 1)  # nats, below the threshold 0
    -4.4
    """

    def __init__(self, estimator, atoms, threshold=None, action="record", keep_flagged=True):
        if action not in ("record", "raise"):
            raise InvalidInputError(f"action must be 'record' or 'raise'; got {action!r}")
        self.estimator = estimator
        self.atoms = atoms
        self.threshold = estimator.threshold if threshold is None else threshold
        self.action = action
        self.keep_flagged = keep_flagged
        self.records = []
        self.flagged = []

    def __call__(self):
        return self.check(self.atoms)[0]

    def check(self, atoms):
        """Judge ``atoms`` now: record its row, keep it if novel, raise if asked.

        Returns (row, dh): the ``frame_summary`` row and the per-atom dH, nats.
        """
        dh = self.estimator.differential_entropy(atoms)
        row = frame_summary(f"call {len(self.records)}", dh, np.zeros_like(dh), self.threshold)
        self.records.append(row)
        if row["max_dH"] > self.threshold:
            if self.keep_flagged:
                snapshot = atoms.copy()  # (ase copies no calculator)
                snapshot.arrays["dH"] = dh
                self.flagged.append(snapshot)
            if self.action == "raise":
                raise ExtrapolationError(
                    f"{row['frame']}: max dH {row['max_dH']:.3f} > {self.threshold} "
                    f"({row['novel_fraction']:.1%} of atoms novel)")
        return row, dh


class EntropyCalculator(Calculator):
    """Any ASE calculator, with the per-atom dH of every configuration it computes.

    Wraps ``calculator``: each new configuration is computed by it as usual,
    and its per-atom differential entropy against the estimator's reference
    is added to the results (``atoms.calc.results["dH"]``, or
    ``atoms.calc.get_property("dH")``, shape (n_atoms,), nats). Every
    configuration is recorded and judged as by an ``UncertaintyMonitor``:
    ``records`` holds one row per configuration, ``flagged`` the novel ones
    (with a per-atom ``dH`` array), and ``action='raise'`` stops the
    simulation with an ``ExtrapolationError`` at the first novel one, before
    its forces are used.

    Parameters
    ----------
    calculator : ase.calculators.calculator.Calculator
    estimator : UncertaintyEstimator, fitted
    threshold : float or None
        dH above which an atom is novel, nats; None: the estimator's.
    action : {'record', 'raise'}
    keep_flagged : bool

    Examples
    --------
    EMT Cu with dH: a structure like the training data, then a compressed one.

    >>> from ase.calculators.emt import EMT
    >>> from quests.data import rattled_crystal
    >>> train = [rattled_crystal("Cu", size=2, stdev=0.02, seed=s) for s in range(4)]
    >>> calc = EntropyCalculator(EMT(), UncertaintyEstimator(train).fit())
    >>> atoms = rattled_crystal("Cu", size=2, stdev=0.02, seed=5)
    >>> atoms.calc = calc
    >>> forces = atoms.get_forces()  # EMT's forces, unchanged
    >>> calc.results["dH"].shape, bool(calc.results["dH"].max() < 0)
    ((32,), True)
    >>> atoms.set_cell(atoms.cell * 0.9, scale_atoms=True)
    >>> energy = atoms.get_potential_energy()
    >>> len(calc.records), len(calc.flagged)  # the compressed cell is novel
    (2, 1)
    """

    def __init__(self, calculator, estimator, threshold=None, action="record",
                 keep_flagged=True):
        super().__init__()
        estimator._check_fitted()
        self.calculator = calculator
        self.estimator = estimator
        self.monitor = UncertaintyMonitor(estimator, None, threshold, action, keep_flagged)
        self.implemented_properties = list(calculator.implemented_properties) + ["dH"]

    @property
    def records(self):
        return self.monitor.records

    @property
    def flagged(self):
        return self.monitor.flagged

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        # judged first: with action='raise' a novel configuration is never used
        _, dh = self.monitor.check(self.atoms)
        for name in properties:
            if name != "dH":
                self.calculator.get_property(name, self.atoms)
        # all the wrapped calculator computed (energy and forces come together)
        self.results = {**self.calculator.results, "dH": dh}


def atom_errors(atoms, key, label="structure"):
    """Per-atom model error of one structure, shape (n_atoms,).

    ``key`` names a per-atom array of the frame (``atoms.arrays`` or the
    calculator's results, e.g. an extxyz column ``force_error``): its norm
    over the last axis if it is a vector. ``"A:B"`` gives |A - B| per atom,
    e.g. ``"forces:ref_forces"`` (model against reference forces).

    Examples
    --------
    A model that predicts zero forces, against EMT forces as the reference:

    >>> import numpy as np
    >>> from ase.calculators.emt import EMT
    >>> from quests.data import rattled_crystal
    >>> atoms = rattled_crystal("Cu", size=1, stdev=0.1)
    >>> atoms.calc = EMT()
    >>> atoms.arrays["model_forces"] = np.zeros((len(atoms), 3))
    >>> _ = atoms.get_forces()  # the reference, in atoms.calc.results
    >>> atom_errors(atoms, "model_forces:forces").round(3).tolist()  # eV/Å
    [0.812, 0.828, 1.811, 1.346]
    """
    names = key.split(":")
    if len(names) > 2 or not all(names):
        raise InvalidInputError(f"errors key must be NAME or NAME:REFERENCE; got {key!r}")
    values = [_per_atom_array(atoms, name, label) for name in names]
    value = values[0] - values[1] if len(values) == 2 else values[0]
    if value.ndim == 2:
        value = np.linalg.norm(value, axis=1)
    if not np.all(np.isfinite(value)):
        raise InvalidStructureError(f"{label}: errors {key!r} contain NaN or inf")
    return np.asarray(value, dtype=np.float64)


def _per_atom_array(atoms, name, label):
    n = len(atoms)
    value = atoms.arrays.get(name) if hasattr(atoms, "arrays") else None
    calc = getattr(atoms, "calc", None)
    if value is None and calc is not None and name in getattr(calc, "results", {}):
        value = calc.results[name]
    if value is None:
        raise InvalidStructureError(f"{label} has no per-atom array {name!r}")
    value = np.asarray(value, dtype=np.float64)
    if value.shape[0] != n or value.ndim > 2:
        raise InvalidStructureError(
            f"{label}: {name!r} has shape {value.shape}, not per-atom ({n},) or ({n}, 3)")
    return value


@dataclass(frozen=True)
class Calibration:
    """How dH ranks per-atom model errors.

    Attributes
    ----------
    n_atoms : int
        Atoms used (errors > 0; ``n_excluded`` with error 0 are left out of
        the logarithmic fit but kept in the rank correlation).
    spearman : float
        Rank correlation of dH with the error.
    bin_edges : ndarray of shape (n_bins + 1,)
        dH bins holding equal numbers of atoms, nats.
    bin_counts : ndarray of shape (n_bins,)
    quantiles : tuple of float
    bin_quantiles : ndarray of shape (n_bins, n_quantiles)
        Error quantiles in each dH bin (units of the errors).
    fits : dict of float -> (float, float)
        Quantile -> (intercept, slope) of log10(error) = a + b dH, from
        linear quantile regression.
    n_excluded : int

    Examples
    --------
    Errors that grow tenfold every 5 nats of dH, with scatter:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> dh = rng.uniform(-5, 5, 500)
    >>> errors = 10 ** (0.2 * dh - 1 + 0.1 * rng.normal(size=dh.size))
    >>> cal = calibrate(dh, errors, n_bins=5)
    >>> cal.n_atoms, cal.bin_counts.tolist(), round(cal.spearman, 2)
    (500, [100, 100, 100, 100, 100], 0.99)
    >>> cal.predict([-5.0, 0.0, 5.0]).round(2).tolist()  # median error at each dH
    [0.01, 0.1, 0.97]
    >>> print(cal.summary("force error").splitlines()[0])
    calibration against 'force error': Spearman 0.987 over 500 atoms
    """

    n_atoms: int
    spearman: float
    bin_edges: np.ndarray
    bin_counts: np.ndarray
    quantiles: tuple
    bin_quantiles: np.ndarray
    fits: dict
    n_excluded: int

    def predict(self, dh, quantile=0.5):
        """Error at ``quantile`` predicted from dH by the fitted line."""
        a, b = self.fits[quantile]
        return 10.0 ** (a + b * np.asarray(dh, dtype=np.float64))

    def summary(self, errors="errors"):
        """The rank correlation and the fitted lines, in words (``errors`` names them)."""
        fits = ", ".join(f"q{q:g}: log10 err = {a:.3f} + {b:.4f} dH"
                         for q, (a, b) in self.fits.items())
        return (f"calibration against {errors!r}: Spearman {self.spearman:.3f} over "
                f"{self.n_atoms + self.n_excluded} atoms\n{fits}")

    def to_dict(self):
        return {
            "n_atoms": self.n_atoms, "spearman": self.spearman,
            "bin_edges": self.bin_edges, "bin_counts": self.bin_counts,
            "quantiles": list(self.quantiles), "bin_quantiles": self.bin_quantiles,
            "fits": [{"quantile": q, "intercept": a, "slope": b}
                     for q, (a, b) in self.fits.items()],
            "n_excluded": self.n_excluded,
        }


def _rank_correlation(a, b):
    """Spearman's rank correlation of ``a`` and ``b``; 0 where either is constant (no
    ranking to measure)."""
    from scipy.stats import spearmanr

    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def calibrate(dh, errors, *, n_bins=10, quantiles=(0.05, 0.5, 0.95), max_fit_points=20_000,
              seed=0):
    """Calibrate dH against per-atom model errors.

    Parameters
    ----------
    dh : array-like of shape (n_atoms,)
        Differential entropies, nats.
    errors : array-like of shape (n_atoms,)
        Non-negative per-atom errors (e.g. force error norms, eV/Å).
    n_bins : int, default=10
        Equal-count bins of dH for the error quantiles.
    quantiles : sequence of float in (0, 1)
    max_fit_points : int, default=20000
        The quantile regression uses a seeded random subset of this size.
    seed : int, default=0

    Returns
    -------
    Calibration

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> dh = rng.uniform(-5, 5, 4000)
    >>> errors = 10 ** (0.2 * dh - 1 + 0.1 * rng.normal(size=dh.size))
    >>> cal = calibrate(dh, errors)
    >>> round(cal.fits[0.5][1], 1), cal.spearman > 0.9
    (0.2, True)
    """
    from sklearn.linear_model import QuantileRegressor

    dh = np.asarray(dh, dtype=np.float64).ravel()
    errors = np.asarray(errors, dtype=np.float64).ravel()
    if dh.shape != errors.shape:
        raise InvalidInputError(f"dH has {dh.size} values but errors have {errors.size}")
    if dh.size < 3:
        raise InvalidInputError(f"calibration needs at least 3 atoms; got {dh.size}")
    if not (np.all(np.isfinite(dh)) and np.all(np.isfinite(errors))):
        raise InvalidInputError("dH and errors must be finite")
    if np.any(errors < 0):
        raise InvalidInputError("errors must be >= 0 (use a norm or an absolute error)")
    if not all(0 < q < 1 for q in quantiles):
        raise InvalidInputError(f"quantiles must lie in (0, 1); got {quantiles}")
    if not isinstance(n_bins, numbers.Integral) or n_bins < 1:
        raise InvalidInputError(f"n_bins must be an int >= 1; got {n_bins!r}")
    positive = errors > 0
    if positive.sum() < 3:
        raise InvalidInputError("calibration needs at least 3 atoms with a non-zero error")
    rho = _rank_correlation(dh, errors)
    edges = np.unique(np.quantile(dh, np.linspace(0.0, 1.0, n_bins + 1)))
    if edges.size < 2:
        edges = np.array([dh.min(), dh.max()])
    which = np.clip(np.searchsorted(edges, dh, side="right") - 1, 0, edges.size - 2)
    counts = np.bincount(which, minlength=edges.size - 1)
    per_bin = np.full((edges.size - 1, len(quantiles)), np.nan)
    for b in range(edges.size - 1):
        if counts[b]:
            per_bin[b] = np.quantile(errors[which == b], quantiles)
    x, y = dh[positive], np.log10(errors[positive])
    if x.size > max_fit_points:
        keep = np.random.default_rng(seed).choice(x.size, max_fit_points, replace=False)
        x, y = x[keep], y[keep]
    fits = {}
    for q in quantiles:
        model = QuantileRegressor(quantile=q, alpha=0.0, solver="highs").fit(x[:, None], y)
        fits[float(q)] = (float(model.intercept_), float(model.coef_[0]))
    return Calibration(
        n_atoms=int(positive.sum()), spearman=rho, bin_edges=edges, bin_counts=counts,
        quantiles=tuple(float(q) for q in quantiles), bin_quantiles=per_bin, fits=fits,
        n_excluded=int((~positive).sum()),
    )
