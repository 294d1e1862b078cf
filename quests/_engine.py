"""Where exact kernel sums and descriptor batches run: here, or on a dask cluster.

``ENGINE`` is None (this process, threads) unless ``quests.distributed.dask_engine``
has set it for the duration of a ``with`` block. This module imports nothing of
dask, so the plain path never loads it.
"""

#: None, or an object with ``self_sums``, ``cross_log_sums`` and ``describe``
ENGINE = None
