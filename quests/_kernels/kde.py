"""Numba kernels for Gaussian kernel sums over one tile of a distance matrix.

The caller (``quests.kde._exact``) computes the Gram block ``G = A @ B.T``
with BLAS; these kernels turn it into squared distances
``|a|^2 + |b|^2 - 2 a.b`` and accumulate ``exp(-d^2 / (2 h^2))`` for each
bandwidth h. Arguments of the exponential above ``EXP_CUTOFF`` are skipped:
``exp(-46) < 1.1e-20``, so skipping changes a self sum (always >= 1) or a
max-shifted log-sum-exp (always >= 1 before the log) by at most
``n * 1.1e-20`` relative, below float64 resolution for any feasible n, and
it avoids the exponential, the dominant cost, for dissimilar pairs.

Kernels hold ``log``/``exp`` and so use fastmath without ``nnan``/``ninf``.
"""

import numba as nb
import numpy as np

EXP_CUTOFF = 46.0

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

# rows per parallel work item; each item keeps private column sums
_ROW_CHUNK = 128

#: |a|^2 + |b|^2 - 2 a.b loses about log10(1/REFINE) digits when d^2 is this
#: small relative to the norms; such pairs (near-duplicates) are recomputed
#: exactly from the rows, so identical environments give d^2 = 0 exactly.
REFINE = 1e-4


@nb.njit(cache=True, fastmath=FASTMATH)
def _squared_distance(a_d, b_d):
    total = 0.0
    for c in range(a_d.shape[0]):
        diff = a_d[c] - b_d[c]
        total += diff * diff
    return total


@nb.njit(cache=True, fastmath=FASTMATH)
def _tile_d2(gram_ab, sqnorm_a, sqnorm_b, A, B, a, b):
    """Squared distance of rows a, b from the Gram block, refined when it cancels."""
    norms = sqnorm_a[a] + sqnorm_b[b]
    d2 = norms - 2.0 * gram_ab[a, b]
    if d2 < REFINE * norms:
        d2 = _squared_distance(A[a], B[b])
    return d2


@nb.njit(parallel=True, cache=True, fastmath=FASTMATH)
def tile_sums(gram_ab, sqnorm_a, sqnorm_b, A, B, scale_h, row_ah, col_bh, with_columns):
    """Add kernel sums of one tile to running row (and column) sums.

    Parameters
    ----------
    gram_ab : (na, nb) float64, A @ B.T
    sqnorm_a, sqnorm_b : (na,), (nb,) squared row norms of A and B
    A, B : (na, d), (nb, d) the rows themselves (to refine near-duplicates)
    scale_h : (n_h,) 1 / (2 h^2), sorted ascending (largest bandwidth first)
    row_ah : (na, n_h) accumulates sum over b of K(a, b)
    col_bh : (nb, n_h) accumulates sum over a of K(a, b) if ``with_columns``
    """
    na, nb_ = gram_ab.shape
    n_h = scale_h.shape[0]
    cut = EXP_CUTOFF / scale_h[0]  # squared distance beyond which all terms vanish
    n_chunks = (na + _ROW_CHUNK - 1) // _ROW_CHUNK
    n_col_chunks = n_chunks if with_columns else 0
    col_part = np.zeros((n_col_chunks, nb_, n_h))
    for chunk in nb.prange(n_chunks):
        acc_h = np.zeros(n_h)
        for a in range(chunk * _ROW_CHUNK, min(na, (chunk + 1) * _ROW_CHUNK)):
            for h in range(n_h):
                acc_h[h] = 0.0
            for b in range(nb_):
                d2 = sqnorm_a[a] + sqnorm_b[b] - 2.0 * gram_ab[a, b]
                if d2 < cut:
                    d2 = _tile_d2(gram_ab, sqnorm_a, sqnorm_b, A, B, a, b)
                    for h in range(n_h):
                        arg = d2 * scale_h[h]
                        if arg < EXP_CUTOFF:
                            v = np.exp(-arg)
                            acc_h[h] += v
                            if with_columns:
                                col_part[chunk, b, h] += v
            for h in range(n_h):
                row_ah[a, h] += acc_h[h]
    if with_columns:
        for chunk in range(n_col_chunks):
            for b in range(nb_):
                for h in range(n_h):
                    col_bh[b, h] += col_part[chunk, b, h]


@nb.njit(parallel=True, cache=True, fastmath=FASTMATH)
def tile_logsumexp(gram_ab, sqnorm_a, sqnorm_b, A, B, scale_h, min_arg_ah, shifted_sum_ah):
    """Streaming log-sum-exp of kernel values, one tile at a time.

    For each row a and bandwidth h, the running state is ``m = min_b arg_ab``
    (``arg = d^2 / (2 h^2)``) and ``s = sum_b exp(-(arg_ab - m))`` so that
    ``ln sum_b K(a, b) = ln s - m`` stays finite however far a is from B.
    Initialise ``min_arg_ah`` to +inf and ``shifted_sum_ah`` to 0.
    """
    na, nb_ = gram_ab.shape
    n_h = scale_h.shape[0]
    for a in nb.prange(na):
        d2min = np.inf
        b_min = 0
        for b in range(nb_):
            d2 = sqnorm_a[a] + sqnorm_b[b] - 2.0 * gram_ab[a, b]
            if d2 < d2min:
                d2min = d2
                b_min = b
        d2min = _tile_d2(gram_ab, sqnorm_a, sqnorm_b, A, B, a, b_min)
        for h in range(n_h):
            tile_min = d2min * scale_h[h]
            old_min = min_arg_ah[a, h]
            if tile_min < old_min:
                if shifted_sum_ah[a, h] > 0.0:
                    shifted_sum_ah[a, h] *= np.exp(tile_min - old_min)
                min_arg_ah[a, h] = tile_min
        # squared distance beyond which no bandwidth's term contributes
        # (the refined d2 can only be larger than a negative Gram estimate)
        cut = np.inf
        for h in range(n_h):
            c = (min_arg_ah[a, h] + EXP_CUTOFF) / scale_h[h]
            if h == 0 or c > cut:
                cut = c
        for b in range(nb_):
            d2 = sqnorm_a[a] + sqnorm_b[b] - 2.0 * gram_ab[a, b]
            if d2 < cut:
                d2 = _tile_d2(gram_ab, sqnorm_a, sqnorm_b, A, B, a, b)
                for h in range(n_h):
                    arg = d2 * scale_h[h] - min_arg_ah[a, h]
                    if arg < EXP_CUTOFF:
                        shifted_sum_ah[a, h] += np.exp(-arg)
