"""Entropy along a trajectory: H(t), mean dH(t) against a reference, and events."""

import numbers

import numpy as np

from quests._defaults import DEFAULT_BANDWIDTH, DEFAULT_CUTOFF, DEFAULT_K
from quests._errors import InvalidInputError
from quests._validation import CUTOFF, N_JOBS, NEIGHBORS, Interval, check_estimator_params
from quests._text import align_table
from quests.analysis import BatchedFrameAnalysis, frame_label
from quests.thermo._events import Event, detect_events, jump_scores
from quests.thermo._frames import TEMPERATURE_KEYS, TIME_KEYS, frame_value, \
    volume_bandwidth, volume_per_atom

__all__ = ["TrajectoryEntropy", "BandwidthRule", "merge_events"]


class BandwidthRule:
    """A fixed bandwidth (float, 1/Å) or ``"volume"``: h(V) of each frame's volume per atom.

    Examples
    --------
    >>> from ase.build import bulk
    >>> atoms = bulk("Cu", "fcc", a=3.61, cubic=True)
    >>> h, volume = BandwidthRule("volume")(atoms, "fcc Cu")
    >>> round(h, 4), round(volume, 2)  # 1/Å, Å^3/atom
    (0.062, 11.76)
    >>> BandwidthRule(0.015)(atoms, "fcc Cu")[0]
    0.015
    >>> BandwidthRule("h(V)")
    Traceback (most recent call last):
    ...
    quests._errors.InvalidInputError: bandwidth must be a number or 'volume'; got 'h(V)'
    """

    def __init__(self, bandwidth):
        if isinstance(bandwidth, str):
            if bandwidth != "volume":
                raise InvalidInputError(f"bandwidth must be a number or 'volume'; got "
                                        f"{bandwidth!r}")
        elif not (isinstance(bandwidth, numbers.Real) and np.isfinite(bandwidth)
                  and bandwidth > 0):
            raise InvalidInputError(f"bandwidth must be > 0 or 'volume'; got {bandwidth!r}")
        self.bandwidth = bandwidth

    @property
    def from_volume(self):
        return isinstance(self.bandwidth, str)

    def __call__(self, atoms, label):
        """(h, volume per atom or None) for one frame."""
        periodic = bool(np.all(atoms.pbc))
        volume = volume_per_atom(atoms, label) if periodic or self.from_volume else None
        h = volume_bandwidth(volume) if self.from_volume else float(self.bandwidth)
        return h, volume


def merge_events(event_lists, window):
    """One list of events from several signals.

    An event of one signal and an event of another less than ``window``
    frames apart are the same change: they merge into the more significant,
    named by both signals. Events of the same signal never merge (the
    detector already keeps them at least ``window`` frames apart).

    Examples
    --------
    >>> a = [Event(10, 1.0, 6.0, "H"), Event(15, 1.0, 7.0, "H")]
    >>> b = [Event(11, 2.0, 9.0, "dH")]
    >>> [(e.frame, e.signal) for e in merge_events([a, b], 5)]
    [(11, 'H+dH'), (15, 'H')]
    """
    events = sorted((e for events in event_lists for e in events), key=lambda e: e.frame)
    groups = []  # [first frame, best event, signals]
    for event in events:
        group = groups[-1] if groups else None
        if (group is not None and event.frame - group[0] < window
                and event.signal not in group[2]):
            group[2].append(event.signal)
            if abs(event.score) > abs(group[1].score):
                group[1] = event
            continue
        groups.append([event.frame, event, [event.signal]])
    return [Event(best.frame, best.jump, best.score, "+".join(signals))
            for _, best, signals in groups]


class TrajectoryEntropy(BatchedFrameAnalysis):
    """Entropy of each frame's environments, its dH against a reference, and events.

    For every frame: H and D of its environments (nats), and the mean and
    max dH of its environments against a reference: either given, or the
    first ``reference_frames`` frames of the trajectory itself (so dH(t)
    says how far frame t has moved from where the run started; each of
    those frames is measured against the others, its own environments left
    out and their kernel sum scaled to the whole window, so the window is not
    biased low). A reference of more than
    ``quests.kde.AUTO_EXACT_REFERENCE`` environments is searched
    through a nearest-neighbour index: dH is then the approximate upper bound
    of ``quests.kde.differential_entropy``. Events are
    frames where H(t) or dH(t) changes abruptly (``detect_events``: a jump
    between straight-line fits over ``event_window`` frames on either side,
    at least ``event_threshold`` standard errors).

    Frames are described in batches of about ``quests.analysis.CHUNK_ATOMS``
    atoms and only per-frame numbers are kept (per-atom dH only with
    ``keep_atoms``), so memory is bounded however long the trajectory.

    Frames are ``ase.Atoms`` (or anything ``quests.structures.as_frame``
    takes; time and temperature are read from ``Atoms.info`` where present).

    Parameters
    ----------
    reference : structures or ndarray of shape (n, n_features), optional
        Reference environments for dH; default: the first frames.
    bandwidth : float or 'volume', default=0.015
        Kernel bandwidth (1/Å) or ``'volume'``: h(V) of each frame's volume
        per atom (``volume_bandwidth``), for comparisons across densities and
        temperatures. dH of a frame uses that frame's bandwidth.
    reference_frames : int, default=5
        Frames at the start that form the reference when none is given (>= 2).
    k, cutoff, species : descriptor settings (as in ``compute_descriptors``)
        ``species='all'``: the species of the reference (or of the reference
        window). Whatever ``species``, a frame holding a species that the
        reference structures do not hold is an error.
    event_window : int, default=5
    event_threshold : float, default=5.0
        Minimum |jump| / standard error of an event.
    keep_atoms : bool, default=False
        Keep per-atom dH of every frame in ``results.dh``.
    writers : sequence of callables
        ``writer(row, atoms, dh)`` for every finished frame, in order.

    Results
    -------
    rows : list of dict per frame: frame, n_atoms, volume_per_atom,
        bandwidth, entropy, diversity, mean_dH, max_dH, time, temperature
        (the last two from ``info`` where present, else None)
    entropy, diversity, mean_dh, max_dh, bandwidth : ndarray of shape (n_frames,)
    scores : dict signal -> ndarray of shape (n_frames,), jump scores
    events : list of Event
    n_reference : int, reference environments

    Examples
    --------
    >>> import ase.io
    >>> from quests.data import trajectory_files
    >>> frames = ase.io.read(trajectory_files()["cu_melting"], "45:70")  # Cu heated to melt
    >>> run = TrajectoryEntropy(bandwidth="volume", k=12, cutoff=5.0).run(frames)
    >>> res = run.results
    >>> res.entropy.shape, res.n_reference  # H per frame; the first 5 frames as reference
    ((25,), 1280)
    >>> [(45 + e.frame, e.signal, round(res.rows[e.frame]["temperature"])) for e in res.events]
    [(57, 'dH', 1642)]
    """

    _parameter_constraints = {
        "reference_frames": Interval(numbers.Integral, 2, None),
        "k": NEIGHBORS,
        "cutoff": CUTOFF,
        "event_window": Interval(numbers.Integral, 2, None),
        "event_threshold": Interval(numbers.Real, 0, None, closed="neither"),
        "n_jobs": N_JOBS,
    }

    def __init__(self, reference=None, *, bandwidth=DEFAULT_BANDWIDTH, reference_frames=5,
                 k=DEFAULT_K, cutoff=DEFAULT_CUTOFF, species=None, event_window=5,
                 event_threshold=5.0, keep_atoms=False, writers=(), n_jobs=None,
                 verbose=False):
        super().__init__(verbose=verbose)
        self.reference = reference
        self.bandwidth = bandwidth
        self.reference_frames = reference_frames
        self.k = k
        self.cutoff = cutoff
        self.species = species
        self.event_window = event_window
        self.event_threshold = event_threshold
        self.keep_atoms = keep_atoms
        self.writers = list(writers)
        self.n_jobs = n_jobs

    def _describe(self, frames):
        from quests.descriptor import compute_descriptors, resolve_species, structure_species

        if self.known_species_ is None and self.reference is None:
            # the reference window's species, whatever the batch size
            self.known_species_ = structure_species(frames[:self.reference_frames])
            if self.species_ == "all":
                self.species_ = resolve_species("all", frames[:self.reference_frames])
        return compute_descriptors(frames, self.k, self.cutoff, species=self.species_,
                                   n_jobs=self.n_jobs)

    def _prepare(self):
        from quests.descriptor import resolve_species, structure_species
        from quests.structures import as_frames

        check_estimator_params(self)
        self.rule_ = BandwidthRule(self.bandwidth)
        self.species_ = self.species
        self.known_species_ = None  # atomic numbers of the reference, once known
        super()._prepare()
        self._reference_x = None
        self._window_rows = None
        self.results.rows = []
        self.results.dh = []
        if self.reference is None:
            return
        if isinstance(self.reference, np.ndarray) and self.reference.ndim == 2:
            from quests._validation import check_descriptors

            if self.species == "all":
                raise InvalidInputError("species='all' needs reference structures, not "
                                        "descriptors")
            x = check_descriptors(self.reference, "reference descriptors")
        else:
            frames = as_frames(self.reference, "reference structure")
            self.known_species_ = structure_species(frames)
            if self.species == "all":
                self.species_ = resolve_species("all", frames)
            x = self._describe(frames)
        self._set_reference(x)

    def _set_reference(self, x):
        from quests.kde import NeighborIndex, auto_method

        self.results.n_reference = int(x.shape[0])
        self._reference_array = x
        # one index for the whole run where exact sums would be slow
        self._reference_x = x if auto_method(x.shape[0]) == "exact" else \
            NeighborIndex(n_jobs=self.n_jobs).fit(x)

    def _frame_extra(self, label, structure, frame):
        return self.rule_(structure, label)  # (h, volume per atom)

    def _batch_ready(self):
        # the first batch must hold the reference window
        return self._reference_x is not None or len(self._buffer) >= self.reference_frames

    def _begin_batch(self, items, x, offsets):
        if self._reference_x is None:
            if len(items) < self.reference_frames:
                raise InvalidInputError(
                    f"the trajectory has {len(items)} frames but the reference window "
                    f"needs {self.reference_frames}: lower reference_frames or give a reference")
            self._set_reference(x[:offsets[self.reference_frames]].copy())
            self._window_rows = [slice(int(offsets[i]), int(offsets[i + 1]))
                                 for i in range(self.reference_frames)]

    def _finish_frame(self, item, x, rows, state):
        from quests.kde import dataset_entropy, differential_entropy

        if self.known_species_ is not None:  # known by now (None for descriptor arrays)
            from quests.structures import check_known_species

            check_known_species(item.frame.numbers, self.known_species_, item.label,
                                "the reference")
        h, volume = item.extra
        stats = dataset_entropy(x, h, n_jobs=self.n_jobs)
        if self._window_rows is not None and item.number < len(self._window_rows):
            # a frame of the reference window against the other frames of the window,
            # their kernel sum scaled up to the whole window's size (the density the
            # later frames are measured in)
            others = np.delete(self._reference_array,
                               np.r_[self._window_rows[item.number]], axis=0)
            dh = differential_entropy(x, others, h, method="exact", n_jobs=self.n_jobs) \
                - np.log(self._reference_array.shape[0] / others.shape[0])
        else:
            dh = differential_entropy(x, self._reference_x, h, n_jobs=self.n_jobs)
        row = {
            "frame": item.label,
            "n_atoms": int(x.shape[0]),
            "volume_per_atom": volume,
            "bandwidth": h,
            "entropy": stats.entropy,
            "diversity": stats.diversity,
            "mean_dH": float(dh.mean()),
            "max_dH": float(dh.max()),
            "time": frame_value(item.structure, None, TIME_KEYS, required=False),
            "temperature": frame_value(item.structure, None, TEMPERATURE_KEYS, required=False),
        }
        self.results.rows.append(row)
        if self.keep_atoms:
            self.results.dh.append(dh)
        for writer in self.writers:
            writer(row, item.structure, dh)

    @staticmethod
    def frame_fields(row, dh):
        """What an extxyz frame carries: ``info`` quests_H, quests_dH_mean,
        quests_bandwidth, and the per-atom ``arrays`` dH. Returns (info, arrays)."""
        return ({"quests_H": row["entropy"], "quests_dH_mean": row["mean_dH"],
                 "quests_bandwidth": row["bandwidth"]}, {"dH": dh})

    def summary(self, source=None):
        """What ``quests trajectory`` prints: the ranges of H and mean dH, and the events
        (frames named without the file ``source``, TRAJ[@SLICE], if given)."""
        res = self.results
        lines = [f"{source or 'trajectory'}: {len(res.rows)} frames, reference of "
                 f"{res.n_reference} environments: H from {res.entropy.min():.3f} to "
                 f"{res.entropy.max():.3f} nats, mean dH from {res.mean_dh.min():.3f} to "
                 f"{res.mean_dh.max():.3f}"]
        if not res.events:
            return "\n".join(lines + [f"no events (no jump of H or dH of "
                                      f"{self.event_threshold:g} standard errors)"])
        table = [(str(e.frame), frame_label(res.rows[e.frame]["frame"], source), e.signal,
                  f"{e.jump:+.3f}", f"{e.score:+.1f}") for e in res.events]
        return "\n".join(lines + ["", f"events (|jump| >= {self.event_threshold:g} standard "
                                      f"errors, window {self.event_window}):",
                                  align_table(("#", "frame", "signal", "jump", "score"), table)])

    def _conclude(self):
        done = super()._conclude()
        rows = self.results.rows
        for name, key in (("entropy", "entropy"), ("diversity", "diversity"),
                          ("mean_dh", "mean_dH"), ("max_dh", "max_dH"),
                          ("bandwidth", "bandwidth")):
            self.results[name] = np.array([r[key] for r in rows], dtype=float)
        signals = {"H": self.results.entropy, "dH": self.results.mean_dh}
        self.results.scores = {}
        found = []
        for name, values in signals.items():
            self.results.scores[name] = jump_scores(values, self.event_window)[1] \
                if values.size else values
            if values.size >= 2 * self.event_window:
                found.append(detect_events(values, self.event_window, self.event_threshold,
                                           signal=name))
        self.results.events = merge_events(found, self.event_window)
        return done
