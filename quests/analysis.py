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
    """A dict whose keys are also attributes (``results.max_dh``)."""

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
    ``quests.structures.Frame`` and what the analysis noted about it."""

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
