"""Parallel execution: numba kernels marked ``nogil`` on a pool of Python threads.

Why threads and not numba's ``prange``: each ``parallel=True`` kernel adds
2-5 s of compilation on first use (the cold `quests entropy` budget is
15 s), and numba's OpenMP pool and the BLAS pool spin against each other
when tiles alternate between them. Serial ``nogil`` kernels on a thread
pool compile fast, share one pool with BLAS (held at one thread per
worker), and give each worker private accumulators.
"""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

__all__ = ["available_cores", "resolve_jobs", "parallel_map", "blas_threads"]


def available_cores():
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def resolve_jobs(n_jobs=None):
    """Number of worker threads: None means all cores, -1 all, -2 all but one."""
    cores = available_cores()
    if n_jobs is None:
        return cores
    if n_jobs == 0:
        from quests._errors import InvalidInputError

        raise InvalidInputError("n_jobs=0 would run no thread: give a positive count, or "
                                "-1 (all cores), -2 (all but one), ...")
    if n_jobs > 0:
        return n_jobs
    return max(1, cores + 1 + n_jobs)


def parallel_map(func, tasks, n_jobs=None, on_done=None):
    """Call ``func(task)`` for every task on ``n_jobs`` threads; results in task order.

    ``func`` should spend its time in nogil numba kernels or numpy. ``on_done``
    is called in the calling thread with each task's result as it finishes
    (for progress bars). Exceptions propagate.
    """
    tasks = list(tasks)
    workers = min(resolve_jobs(n_jobs), len(tasks))
    if workers <= 1:
        results = []
        for task in tasks:
            results.append(func(task))
            if on_done is not None:
                on_done(results[-1])
        return results
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="quests") as pool:
        futures = [pool.submit(func, task) for task in tasks]
        if on_done is not None:
            from concurrent.futures import as_completed

            for future in as_completed(futures):
                on_done(future.result())
        return [f.result() for f in futures]


@contextlib.contextmanager
def blas_threads(n):
    """Hold BLAS at ``n`` threads inside the block (restored on exit)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield
