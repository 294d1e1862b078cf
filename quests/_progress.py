"""Progress bars on stderr, shown only for work that lasts more than a moment."""

import sys

__all__ = ["progress_bar"]

#: seconds before a bar appears: quick calls print nothing
DELAY_S = 1.0


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
    """A tqdm bar on stderr if ``verbose``, else an object that ignores updates."""
    if not verbose:
        return _Silent()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, delay=DELAY_S,
                leave=False, dynamic_ncols=True)
