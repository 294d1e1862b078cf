"""Where work runs: in this process, or on the cluster of an engine. The one dispatch point.

Every piece of work that may leave this process goes through ``run`` (and nothing
else in quests looks at the active engine except through ``active``). With no
engine, ``run(operation, *args, local=f)`` is just ``f(*args)``. Inside
``quests.distributed.dask_engine`` it is ``engine.<operation>(*args, local=f,
...)``: the engine cuts the work into tasks, and each task calls ``f`` (or the
other functions passed with it) on its share. The engine is handed the functions
to run, so it never imports the modules that call it: the import graph shows
what runs where.

An engine has these methods (``quests.distributed.DaskEngine`` is the one we ship):

==================  ========================================================
``self_sums``       kernel sums of X over X (``local``: one block; ``pair``: two)
``cross_log_sums``  ln kernel sums of Y over X (``local``: one pair of blocks)
``query``           nearest-neighbour candidates from an index (``local``: one
                    block of queries)
``partitioned_query``  candidates among a descriptor store, one index per block
``describe``        descriptors of many frames (``local``: one chunk of frames)
``store_blocks``    a descriptor store, each block computed and written by a task
``column_mean``, ``store_rows``  reads of a descriptor store held by the workers
==================  ========================================================

The engine is set for the duration of a ``with`` block, in this thread's context
only: threads that the block did not start, and dask worker threads running our
tasks, see none, so a task never sends its work back to the cluster. This module
imports nothing of dask, so the plain path never loads it.
"""

import contextvars

_ENGINE = contextvars.ContextVar("quests_engine", default=None)


def active():
    """True inside an engine's ``with`` block (in this thread's context)."""
    return _ENGINE.get() is not None


def run(operation, *args, local, when=True, **functions):
    """``local(*args)`` here, or the active engine's ``operation`` on its cluster.

    ``when`` (default True) says whether the work is worth sending at all (a
    single frame, an empty reference); ``functions`` are further functions the
    engine's tasks need besides ``local``, given to the engine only.
    """
    engine = _ENGINE.get()
    if engine is None or not when:
        return local(*args)
    return getattr(engine, operation)(*args, local=local, **functions)


def activate(engine):
    """Make ``engine`` current; returns the token for ``deactivate``."""
    return _ENGINE.set(engine)


def deactivate(token):
    _ENGINE.reset(token)


def engine_call(operation, *args, **functions):
    """The active engine's ``operation`` for work that has no local twin (a descriptor
    store that only the workers read); the caller has checked ``active()``."""
    return getattr(_ENGINE.get(), operation)(*args, **functions)


class here:
    """``with here():`` runs in this process whatever engine is current (dask tasks use it,
    so that work sent to a worker is never sent on again)."""

    def __enter__(self):
        self._token = _ENGINE.set(None)

    def __exit__(self, *exc):
        _ENGINE.reset(self._token)
