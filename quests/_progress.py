"""Progress bars on stderr, shown only for work that lasts more than a moment."""

import sys

__all__ = ["progress_bar"]

#: seconds before a bar appears: quick calls print nothing
DELAY_S = 1.0


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Silent:
    def update(self, n=1):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def progress_bar(total, desc, verbose, unit="it"):
    """A tqdm bar on stderr if ``verbose`` and stderr is a terminal.

    Otherwise an object that ignores updates: redirected output (logs, CI)
    gets no carriage-return debris.
    """
    if not verbose or not _is_terminal(sys.stderr):
        return _Silent()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, delay=DELAY_S,
                leave=False, dynamic_ncols=True)
