"""Weighted linear least squares with honest parameter errors (CNT fits, dG(T) lines)."""

import numpy as np

from quests._errors import InvalidInputError

__all__ = ["weighted_linear_fit"]


def weighted_linear_fit(design, y, sigma=None):
    """Fit y ~ design @ p; return (p, covariance, reduced chi^2).

    Parameters
    ----------
    design : ndarray of shape (n, m)
    y : ndarray of shape (n,)
    sigma : ndarray of shape (n,), optional
        Standard errors of y. With them the covariance is that of the
        weighted fit, widened by the reduced chi^2 when it exceeds 1 (scatter
        beyond the stated errors, e.g. correlated MD samples, widens the
        parameters' errors; it never narrows them). Without them the points
        are weighted equally and the covariance comes from their scatter,
        which needs more points than parameters.

    Examples
    --------
    >>> x = np.array([0.0, 1.0, 2.0])
    >>> p, cov, chi2 = weighted_linear_fit(np.stack([np.ones(3), x], 1), 1 + 2 * x, np.ones(3))
    >>> p.round(12).tolist(), round(chi2, 12)
    ([1.0, 2.0], 0.0)
    """
    design = np.asarray(design, dtype=float)
    y = np.asarray(y, dtype=float)
    n, m = design.shape
    dof = n - m
    if sigma is None:
        if dof < 1:
            raise InvalidInputError(f"{n} points without error bars cannot give the errors of "
                                    f"{m} parameters: give errors or more points")
        weights = np.ones(n)
    else:
        sigma = np.asarray(sigma, dtype=float)
        if not np.all(np.isfinite(sigma)) or np.any(sigma <= 0):
            raise InvalidInputError("every point needs a finite error bar > 0")
        weights = 1.0 / sigma
    a = design * weights[:, None]
    b = y * weights
    params, *_ = np.linalg.lstsq(a, b, rcond=None)
    covariance = np.linalg.inv(a.T @ a)
    chi2 = float(((b - a @ params) ** 2).sum() / dof) if dof > 0 else 0.0
    covariance = covariance * (chi2 if sigma is None else max(chi2, 1.0))
    return params, covariance, chi2
