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

from quests._progress import progress_bar

__all__ = ["Results", "FrameAnalysis"]

logger = logging.getLogger("quests.analysis")


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
