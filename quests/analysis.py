"""One object runs over the frames of a trajectory and keeps the results.

Modelled on MDAnalysis's ``AnalysisBase``: subclasses implement
``_prepare`` (before the first frame), ``_single_frame`` (each frame) and
``_conclude`` (after the last; normalisation happens only there). ``run``
returns ``self``; results live in ``self.results``. ``irun`` is the same loop
as a generator of finished frame numbers, and ``attach(callback, interval)``
calls observers every ``interval`` finished frames, as ASE's dynamics do.
"""

import itertools
import logging
from typing import Any, NamedTuple

import numpy as np

from quests import _interrupt
from quests._progress import progress_bar

__all__ = ["Results", "FrameAnalysis", "BatchedFrameAnalysis", "BufferedFrame", "CHUNK_ATOMS",
           "frame_label"]

#: atoms described (and queried) together when an analysis streams a trajectory
CHUNK_ATOMS = 16_384

logger = logging.getLogger("quests.analysis")


def frame_label(label, source=None):
    """'frame 3' for the label 'PATH frame 3' of a frame of the file ``source``
    (TRAJ[@SLICE]): a summary names the file once, not in every row.

    Examples
    --------
    >>> frame_label("md.xyz frame 3", "md.xyz@0:10")
    'frame 3'
    """
    if source is None:
        return label
    from quests.io import split_index

    prefix = f"{split_index(source)[0]} "
    return label[len(prefix):] if label.startswith(prefix) else label


class Results(dict):
    """A dict whose keys are also attributes (``results.max_dh``).

    Examples
    --------
    >>> results = Results(n_frames=3)
    >>> results.max_dh = 1.25
    >>> results.max_dh, results["n_frames"], sorted(results)
    (1.25, 3, ['max_dh', 'n_frames'])
    >>> results.entropy
    Traceback (most recent call last):
    ...
    AttributeError: no result named 'entropy' (run the analysis first)
    """

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no result named {name!r} (run the analysis first)") from None

    def __setattr__(self, name, value):
        self[name] = value


class FrameAnalysis:
    """Base class of analyses over frames.

    Frames are ``ase.Atoms`` (or anything ``quests.structures.as_frame``
    takes), or ``(label, structure)`` pairs such as those of
    ``quests.io.iter_structures``, given as any iterable: a list, or a lazy
    reader for trajectories that do not fit in memory.

    ``_single_frame(number, label, structure)`` may hold frames back and
    process them in batches: it returns the numbers of the frames it
    finished (or None when it finished this one); ``_conclude`` returns those
    it finishes last.

    Examples
    --------
    Count the atoms of each frame of a few rattled fcc Cu supercells:

    >>> from quests.data import rattled_crystal
    >>> class AtomCount(FrameAnalysis):
    ...     def _prepare(self):
    ...         self.results.n_atoms = {}
    ...     def _single_frame(self, number, label, structure):
    ...         self.results.n_atoms[label] = len(structure)
    ...     def _conclude(self):
    ...         self.results.total = sum(self.results.n_atoms.values())
    >>> frames = [rattled_crystal(size=(n, 1, 1), seed=n) for n in (1, 2, 3)]
    >>> analysis = AtomCount().run(frames)
    >>> analysis.results.n_atoms, analysis.results.total
    ({'frame 0': 4, 'frame 1': 8, 'frame 2': 12}, 24)

    ``(label, structure)`` pairs keep their labels; ``irun`` yields the
    finished frames one by one, and observers run every ``interval`` frames:

    >>> pairs = [(f"md.xyz frame {i}", atoms) for i, atoms in enumerate(frames)]
    >>> seen = []
    >>> analysis = AtomCount().attach(lambda: seen.append("tick"), interval=2)
    >>> for number in analysis.irun(pairs):
    ...     print(number, seen)
    0 []
    1 ['tick']
    2 ['tick']
    >>> analysis.results.n_atoms
    {'md.xyz frame 0': 4, 'md.xyz frame 1': 8, 'md.xyz frame 2': 12}
    """

    def __init__(self, verbose=False):
        self._verbose = verbose
        self._observers = []
        self.results = Results()

    def attach(self, callback, interval=1, *args, **kwargs):
        """Call ``callback(*args, **kwargs)`` after every ``interval`` finished frames."""
        self._observers.append((callback, max(1, int(interval)), args, kwargs))
        return self

    def _prepare(self):
        pass

    def _single_frame(self, number, label, structure):
        raise NotImplementedError

    def _conclude(self):
        return ()

    def _finished(self, numbers, count):
        for number in numbers:
            count += 1
            for callback, interval, args, kwargs in self._observers:
                if count % interval == 0:
                    callback(*args, **kwargs)
            yield number

    def irun(self, frames, *, start=None, stop=None, step=None, verbose=None):
        """Generator over the numbers of finished frames; see ``run``."""
        verbose = self._verbose if verbose is None else verbose
        try:
            total = len(frames)
            total = len(range(total)[slice(start, stop, step)])
        except TypeError:
            total = None
        selected = itertools.islice(frames, start, stop, step)
        self.results = Results()
        self._prepare()
        count = 0
        with progress_bar(total, type(self).__name__, verbose, unit="frame") as bar:
            for number, item in enumerate(selected):
                _interrupt.check()  # a termination request stops between frames
                if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                    label, structure = item
                else:
                    label, structure = f"frame {number}", item
                done = self._single_frame(number, label, structure)
                done = (number,) if done is None else tuple(done)
                bar.update(len(done))
                for finished in self._finished(done, count):
                    count += 1
                    yield finished
            done = tuple(self._conclude() or ())
            bar.update(len(done))
            for finished in self._finished(done, count):
                count += 1
                yield finished
        logger.info("%s: %d frames", type(self).__name__, count)

    def run(self, frames, *, start=None, stop=None, step=None, verbose=None):
        """Analyse ``frames[start:stop:step]`` and return ``self`` (results in ``.results``)."""
        for _ in self.irun(frames, start=start, stop=stop, step=step, verbose=verbose):
            pass
        return self


class BufferedFrame(NamedTuple):
    """A frame waiting in a batch: its number, label, the structure as given, its
    ``quests.structures.Frame`` and what the analysis noted about it.

    Examples
    --------
    >>> from quests.data import rattled_crystal
    >>> from quests.structures import as_frame
    >>> atoms = rattled_crystal()
    >>> item = BufferedFrame(0, "frame 0", atoms, as_frame(atoms, "frame 0"), extra=None)
    >>> item.label, item.frame.positions.shape, item.structure.get_chemical_formula()
    ('frame 0', (32, 3), 'Cu32')
    """

    number: int
    label: str
    structure: Any
    frame: Any
    extra: Any


class BatchedFrameAnalysis(FrameAnalysis):
    """Frames described together in batches of about ``CHUNK_ATOMS`` atoms.

    Describing one frame at a time wastes the descriptor's threads on small
    cells; describing a whole trajectory does not fit in memory. Frames are
    validated as they arrive (a NaN or empty frame fails by name), held until
    the batch holds ``chunk_atoms`` atoms, described in one call, and then
    finished one by one, in order. Subclasses implement ``_describe(frames)``
    and ``_finish_frame(item, x, rows, state)``, and may implement
    ``_frame_extra`` (checks and per-frame values noted on arrival),
    ``_batch_ready`` (hold the batch back) and ``_begin_batch`` (work on the
    whole batch's descriptors, whose result is passed on as ``state``).
    Subclasses that override ``_prepare`` or ``_conclude`` call the parent's.

    Examples
    --------
    Count the atoms (descriptor rows) of each frame, described in batches of
    at least 10 atoms:

    >>> from quests.data import rattled_crystal
    >>> from quests.descriptor import compute_descriptors
    >>> class AtomCount(BatchedFrameAnalysis):
    ...     chunk_atoms = 10
    ...     def _prepare(self):
    ...         super()._prepare()
    ...         self.results.n_atoms, self.results.batches = {}, []
    ...     def _describe(self, frames):
    ...         return compute_descriptors(frames, k=8, cutoff=4.0)
    ...     def _begin_batch(self, items, x, offsets):
    ...         self.results.batches.append([item.number for item in items])
    ...     def _finish_frame(self, item, x, rows, state):
    ...         self.results.n_atoms[item.label] = x.shape[0]
    >>> frames = [rattled_crystal(size=(n, 1, 1), seed=n) for n in (1, 2, 3)]
    >>> analysis = AtomCount().run(frames)
    >>> analysis.results.n_atoms
    {'frame 0': 4, 'frame 1': 8, 'frame 2': 12}
    >>> analysis.results.batches  # frames 0 and 1 together reach 10 atoms
    [[0, 1], [2]]
    """

    chunk_atoms = CHUNK_ATOMS

    def _prepare(self):
        self._buffer = []
        self._buffered_atoms = 0

    def _frame_extra(self, label, structure, frame):
        return None

    def _batch_ready(self):
        return True

    def _describe(self, frames):
        raise NotImplementedError

    def _begin_batch(self, items, x, offsets):
        return None

    def _finish_frame(self, item, x, rows, state):
        raise NotImplementedError

    def _single_frame(self, number, label, structure):
        from quests.structures import as_frame

        frame = as_frame(structure, label)
        extra = self._frame_extra(label, structure, frame)
        self._buffer.append(BufferedFrame(number, label, structure, frame, extra))
        self._buffered_atoms += frame.positions.shape[0]
        if self._buffered_atoms >= self.chunk_atoms and self._batch_ready():
            return self._flush()
        return ()

    def _flush(self):
        if not self._buffer:
            return ()
        items = self._buffer
        x = self._describe([item.frame for item in items])
        offsets = np.concatenate([[0], np.cumsum([item.frame.positions.shape[0]
                                                  for item in items])])
        state = self._begin_batch(items, x, offsets)
        for i, item in enumerate(items):
            rows = slice(int(offsets[i]), int(offsets[i + 1]))
            self._finish_frame(item, x[rows], rows, state)
        self._buffer = []
        self._buffered_atoms = 0
        return [item.number for item in items]

    def _conclude(self):
        return self._flush()
