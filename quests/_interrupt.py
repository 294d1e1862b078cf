"""A termination request that C code cannot swallow.

A signal handler's exception is raised in whatever the main thread runs at
that moment; C code that tries one conversion and clears the error to try
another (numpy's scalar formatting, for one) can clear it too, and the run
then goes on as if nothing happened (seen: SIGTERM during an extxyz write,
about one run in ten). So the request is also recorded here, and checked
where it matters: before an output is committed (``quests.io``) and between
frames of a trajectory analysis (``quests.analysis``).
"""

import contextlib
import signal
import threading

__all__ = ["Terminated", "request", "check", "clear", "stop_on_signals"]

_requested = None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every temporary output is removed on the way."""


def _exception(terminate):
    return Terminated() if terminate else KeyboardInterrupt()


def request(terminate=True):
    """Record a request to stop (from a signal handler) and raise it: ``Terminated`` for
    SIGTERM, ``KeyboardInterrupt`` for SIGINT."""
    global _requested
    _requested = bool(terminate)
    raise _exception(terminate)


def check():
    """Raise the requested stop again, if one was requested."""
    if _requested is not None:
        raise _exception(_requested)


def clear():
    global _requested
    _requested = None


@contextlib.contextmanager
def stop_on_signals():
    """Within the block SIGTERM unwinds the work as SIGINT does (so every temporary output
    is removed on the way), and both are recorded as well as raised (``request``), so that
    C code which clears the exception cannot make the work go on and commit its outputs.
    Outside the main thread (where no handler can be set) it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        request(terminate=signum == signal.SIGTERM)

    clear()
    previous = {signum: signal.signal(signum, handler)
                for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        clear()
        for signum, before in previous.items():
            # None: installed from C and not restorable from Python; the default is closest
            signal.signal(signum, signal.SIG_DFL if before is None else before)
