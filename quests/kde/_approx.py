"""Approximate kernel density estimates, each with a measure of its own error.

Two approximations, for two different questions:

Per-atom dH(y | X): truncated sums.
    Only the nearest reference points decide whether y is novel, so the
    kernel sum is taken over the m candidates a ``NeighborIndex`` returns.
    A sum over a subset of positive terms is smaller, so the truncated dH is
    an upper bound on the exact one. If the candidates are the m nearest,
    every omitted term is at most K(d_m) (d_m: distance to the m-th), so
    dH_exact >= dH_m - ln(1 + (N - m) K(d_m) / S_m): the reported ``bound``.

Dataset H and D: a sampled outer mean.
    Truncation cannot give dataset entropies: crystalline environments have
    thousands of near-duplicates within h, and cutting their sums to m terms
    overestimates H by most of a nat even at m = 200. Instead
    H = ln N - mean_i ln p_i is estimated over a uniform random sample of i
    (without replacement), each p_i summed exactly over all N points. The
    estimate is unbiased, its standard error is reported (with the finite-
    population correction, so it reaches 0 when the sample is all of X), and
    sampling stops once the error is below a tolerance.
"""

import numpy as np

from quests._progress import progress_bar
from quests.kde import _exact

__all__ = ["truncated_log_sums", "sampled_statistics"]

#: rows per sampling batch; the first batch also sets the variance estimate
SAMPLE_BATCH = 2048


def truncated_log_sums(sq_distances, n_samples, scale_h):
    """ln of kernel sums over candidate neighbours, and the bound on what the rest add.

    Parameters
    ----------
    sq_distances : ndarray of shape (n_queries, m)
        Squared distances to the candidates, ascending; inf for missing ones.
    n_samples : int
        N, the size of the reference the candidates come from.
    scale_h : ndarray of shape (n_h,)
        1 / (2 h^2) for each bandwidth.

    Returns
    -------
    log_sums, bounds : ndarrays of shape (n_queries, n_h)
        ln sum_{j in candidates} exp(-d_j^2 scale), and
        ln(1 + (N - m_found) exp(-d_m^2 scale) / sum): the most the omitted
        terms can add to the log-sum if the candidates are the nearest.
    """
    finite = np.isfinite(sq_distances)
    n_found = finite.sum(axis=1)
    d2 = np.where(finite, sq_distances, 0.0)
    args = d2[:, :, None] * scale_h[None, None, :]  # (n, m, n_h)
    first = args[:, 0, :]
    shifted = np.where(finite[:, :, None], np.exp(first[:, None, :] - args), 0.0)
    log_sums = np.log(shifted.sum(axis=1)) - first
    last = np.take_along_axis(d2, np.maximum(n_found - 1, 0)[:, None], 1)[:, 0]
    rest = (n_samples - n_found).astype(np.float64)
    with np.errstate(divide="ignore"):
        log_rest = np.log(rest)[:, None] - last[:, None] * scale_h[None, :] - log_sums
    bounds = np.where(rest[:, None] > 0, np.logaddexp(0.0, log_rest), 0.0)
    return log_sums, bounds


def sampled_statistics(sums, tolerance, seed, verbose):
    """Estimate H and D of ``sums.X_`` (a ``KernelSums``) by sampling the outer mean; see
    the module docstring. Returns (entropy, entropy_error,
    diversity, diversity_error, n_sampled), each of the first four an array
    of shape (n_h,).
    """
    X = sums.X_
    n = X.shape[0]
    order = np.random.default_rng(seed).permutation(n)
    logs = []
    n_sampled = 0
    with progress_bar(n, "sampled entropy", verbose, unit="env") as bar:
        while n_sampled < n:
            take = order[n_sampled:n_sampled + SAMPLE_BATCH]
            batch = _exact._cross_log_sums(np.ascontiguousarray(X[take]), X, sums.scale_,
                                           sums.tile_size, sums.n_jobs, False)
            logs.append(np.clip(batch, 0.0, np.log(n)))  # 1 <= p_i <= N
            n_sampled += take.size
            bar.update(take.size)
            estimate = _estimate(np.concatenate(logs), n)
            if max(estimate[1].max(), estimate[3].max()) <= tolerance:
                break
    return (*estimate, n_sampled)


def _estimate(log_p, n):
    """H, its standard error, D, its standard error from ln p_i of a uniform sample."""
    n_s = log_p.shape[0]
    fpc = max(0.0, 1.0 - n_s / n)  # without replacement: 0 when the sample is everything
    entropy = np.log(n) - log_p.mean(axis=0)
    inv_p = np.exp(-log_p)
    mean_inv = inv_p.mean(axis=0)
    diversity = np.log(n) + np.log(mean_inv)
    if n_s < 2:
        inf = np.full_like(entropy, np.inf if fpc > 0 else 0.0)
        return entropy, inf, diversity, inf
    entropy_error = np.sqrt(log_p.var(axis=0, ddof=1) / n_s * fpc)
    diversity_error = np.sqrt(inv_p.var(axis=0, ddof=1) / n_s * fpc) / mean_inv
    return entropy + 0.0, entropy_error, diversity, diversity_error
