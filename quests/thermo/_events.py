"""Abrupt changes in a per-frame signal (H(t), dH(t)): a windowed two-line jump test.

At every boundary between frames t-1 and t, a straight line is fitted to the
``window`` frames before and another to the ``window`` frames after; the
jump is the difference of the two lines where they meet (at t - 1/2). Smooth
drifts (heating, a slow density change) are followed by the lines and give
no jump; a phase change that reshapes the distribution of environments in a
few frames does. The jump is divided by its standard error, from the frame
noise sigma at that boundary: the scatter of the two windows about their
lines, but never less than the noise of the whole signal (estimated robustly
from its second differences, so a few jumps do not inflate it). Noise is
rarely uniform along MD (a liquid's H fluctuates more than a crystal's, or
less once it saturates near ln N), hence the local estimate. An event is a
boundary whose |score| >= ``threshold`` and is the largest within ``window``
frames.
"""

from dataclasses import dataclass

import numpy as np

from quests._errors import InvalidInputError

__all__ = ["Event", "jump_scores", "detect_events", "signal_noise"]

#: 1 / Phi^-1(3/4): turns a median absolute deviation into a Gaussian sigma
_MAD_TO_SIGMA = 1.482602218505602


@dataclass(frozen=True)
class Event:
    """One detected change.

    Attributes
    ----------
    frame : int
        First frame after the change (the change lies between frame - 1 and frame).
    jump : float
        Size of the step in the signal (after minus before), the signal's units.
    score : float
        jump / its standard error.
    signal : str
        Name of the signal it was found in.

    Examples
    --------
    >>> event = Event(frame=57, jump=0.23, score=5.1, signal="H")
    >>> event.frame, event.to_dict()
    (57, {'frame': 57, 'jump': 0.23, 'score': 5.1, 'signal': 'H'})
    """

    frame: int
    jump: float
    score: float
    signal: str = "signal"

    def to_dict(self):
        return {"frame": self.frame, "jump": self.jump, "score": self.score,
                "signal": self.signal}


def signal_noise(values):
    """Frame-to-frame noise sigma of a signal: 1.4826 MAD(second differences) / sqrt(6).

    For white noise on a smooth trend the second difference has variance
    6 sigma^2; the median makes a handful of steps irrelevant.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.linspace(0.0, 5.0, 500) + rng.normal(0.0, 0.1, 500)  # a trend, noise of 0.1
    >>> x[250:] += 3.0  # a step does not inflate the estimate
    >>> round(signal_noise(x), 2)
    0.1
    """
    x = np.asarray(values, dtype=float)
    if x.size < 3:
        return 0.0
    d2 = x[2:] - 2.0 * x[1:-1] + x[:-2]
    return float(_MAD_TO_SIGMA * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6.0))


def _line_prediction_variance(window):
    # variance (in units of sigma^2) of an OLS line through frames 0..w-1,
    # read at the boundary half a frame past its last point
    positions = np.arange(window, dtype=float)
    mean = positions.mean()
    sxx = ((positions - mean) ** 2).sum()
    return 1.0 / window + (window - 0.5 - mean) ** 2 / sxx


def jump_scores(values, window=5, noise=None):
    """Jump and score at every boundary between consecutive frames.

    Parameters
    ----------
    values : array-like of shape (n_frames,)
    window : int, default=5
        Frames on each side fitted by a line (>= 2).
    noise : float, optional
        Frame noise sigma, the same at every boundary; by default the local
        scatter about the two lines, floored by ``signal_noise`` of the whole
        signal.

    Returns
    -------
    jumps, scores : ndarray of shape (n_frames,)
        Entry t is the step between frames t-1 and t; NaN where fewer than
        ``window`` frames lie on either side.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.r_[np.linspace(0, 1, 20), np.linspace(3, 4, 20)]
    >>> jumps, _ = jump_scores(x, window=4, noise=0.01)
    >>> int(np.nanargmax(jumps)), round(float(np.nanmax(jumps)), 6)
    (20, 1.947368)
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise InvalidInputError(f"the signal must be one value per frame; got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InvalidInputError("the signal holds NaN or infinite values")
    window = int(window)
    if window < 2:
        raise InvalidInputError(f"the event window must be >= 2 frames; got {window}")
    n = x.size
    jumps = np.full(n, np.nan)
    scores = np.full(n, np.nan)
    if n < 2 * window:
        return jumps, scores
    floor = signal_noise(x) if noise is None else float(noise)
    # a noiseless signal: any step is infinitely significant, a flat one is not
    floor = max(floor, 1e-12 * (1.0 + float(np.abs(x).max())))
    positions = np.arange(window, dtype=float)
    centred = positions - positions.mean()
    sxx = (centred ** 2).sum()
    # both lines read at the boundary: w - 1/2 past the left window's start,
    # -1/2 before the right window's start
    at_left = window - 0.5 - positions.mean()
    at_right = -0.5 - positions.mean()
    windows = np.lib.stride_tricks.sliding_window_view(x, window)  # (n - w + 1, w)
    means = windows.mean(axis=1)
    slopes = (windows * centred).sum(axis=1) / sxx
    t = np.arange(window, n - window + 1)
    left = means[t - window] + slopes[t - window] * at_left
    right = means[t] + slopes[t] * at_right
    jumps[t] = right - left
    if noise is None and window > 2:
        # residual sum of squares about each window's line, pooled over both sides
        rss = np.maximum(((windows - means[:, None]) ** 2).sum(axis=1) - slopes ** 2 * sxx, 0.0)
        local = np.sqrt((rss[t - window] + rss[t]) / (2 * window - 4))
        sigma = np.maximum(local, floor)
    else:
        sigma = floor
    scores[t] = jumps[t] / (sigma * np.sqrt(2.0 * _line_prediction_variance(window)))
    return jumps, scores


def detect_events(values, window=5, threshold=5.0, noise=None, signal="signal"):
    """Frames where a per-frame signal changes abruptly.

    A boundary is significant where |score| >= ``threshold`` (see
    ``jump_scores``); events are the significant boundaries that are the
    largest |score| within ``window`` frames of themselves.

    Returns
    -------
    list of Event, in frame order

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.linspace(0.5, 0.8, 60) + rng.normal(0.0, 0.01, 60)  # a slow drift, no event
    >>> x[40:] += 0.3  # a jump between frames 39 and 40
    >>> [(e.frame, round(e.jump, 1), e.signal) for e in detect_events(x, signal="H")]
    [(40, 0.3, 'H')]
    """
    if not threshold > 0:
        raise InvalidInputError(f"the event threshold must be > 0; got {threshold}")
    jumps, scores = jump_scores(values, window, noise)
    magnitude = np.abs(np.nan_to_num(scores))
    # non-maximum suppression: the strongest boundary wins its neighbourhood, so the
    # lobes of opposite sign that a step leaves in windows straddling it are not events
    accepted = []
    for t in np.argsort(-magnitude, kind="stable"):
        if magnitude[t] < threshold:
            break
        if all(abs(int(t) - a) >= window for a in accepted):
            accepted.append(int(t))
    return [Event(frame=t, jump=float(jumps[t]), score=float(scores[t]), signal=signal)
            for t in sorted(accepted)]
