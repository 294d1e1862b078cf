"""Thread-count control that always restores the previous setting."""

import contextlib
import os

__all__ = ["limit_threads", "available_cores"]


def available_cores():
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def limit_threads(n_jobs=None):
    """Run the block with ``n_jobs`` numba and BLAS threads.

    ``None`` keeps the defaults (all cores); a negative value counts back from
    the number of cores (-1 means all). The previous numba setting is
    restored on exit, even when the block raises.
    """
    if n_jobs is None:
        yield
        return
    import numba
    from threadpoolctl import threadpool_limits

    n_cores = available_cores()
    n = n_jobs if n_jobs > 0 else max(1, n_cores + 1 + n_jobs)
    n = max(1, min(n, numba.config.NUMBA_NUM_THREADS))
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        numba.set_num_threads(previous)
