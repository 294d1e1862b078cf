"""Where exact kernel sums and descriptor batches run: here, or on a dask cluster.

``current()`` is None (this process, threads) unless ``quests.distributed.dask_engine``
has set an engine for the duration of a ``with`` block, in this thread's context only:
threads that the block did not start, and dask worker threads running our tasks, see
None, so a task never sends its work back to the cluster. This module imports nothing
of dask, so the plain path never loads it.
"""

import contextvars

#: None, or an object with ``self_sums``, ``cross_log_sums``, ``describe``, ...
_ENGINE = contextvars.ContextVar("quests_engine", default=None)


def current():
    """The active engine, or None."""
    return _ENGINE.get()


def activate(engine):
    """Make ``engine`` current; returns the token for ``deactivate``."""
    return _ENGINE.set(engine)


def deactivate(token):
    _ENGINE.reset(token)


class here:
    """``with here():`` runs in this process whatever engine is current (dask tasks use it,
    so that work sent to a worker is never sent on again)."""

    def __enter__(self):
        self._token = _ENGINE.set(None)

    def __exit__(self, *exc):
        _ENGINE.reset(self._token)
