"""Numba kernels: small, compiled once (``cache=True``), each tested against a numpy twin.

``cache_is_cold`` says whether the first call will compile (about 10-15 s on a
fresh install) rather than load the kernels from numba's cache. A caller that
wants to say so (the command line) registers ``notify_before_compiling``; the
modules that run kernels call ``before_kernels()`` first, so the notice comes
only when a kernel is about to run, after the inputs were read and checked.
"""

__all__ = ["cache_is_cold", "notify_before_compiling", "before_kernels"]

_pending_notice = None


def notify_before_compiling(callback):
    """Call ``callback()`` once, just before the first kernel runs, if that run will
    compile them (``cache_is_cold``); None withdraws it."""
    global _pending_notice
    _pending_notice = callback


def before_kernels():
    """Give the registered notice, once, if the kernels are about to be compiled."""
    global _pending_notice
    callback, _pending_notice = _pending_notice, None
    if callback is not None and cache_is_cold():
        callback()


def cache_is_cold():
    """True when the compiled kernels every descriptor and entropy run needs are not in
    numba's cache (the first call compiles them), False when they are, None when numba
    does not say (a layout of its cache this check does not know)."""
    import os

    from quests._kernels import descriptor, kde

    try:
        # numba keeps, per cached function, an index file beside the compiled code; its
        # path is not public API, hence the guard
        paths = [kernel._cache._cache_file._index_path
                 for kernel in (descriptor.batch_descriptors, kde.tile_sums)]
    except AttributeError:
        return None
    return not all(os.path.exists(path) for path in paths)
