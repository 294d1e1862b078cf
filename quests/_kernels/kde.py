"""Numba kernels for Gaussian kernel sums over one tile of a distance matrix.

The caller (``quests.kde._exact``) computes the Gram block ``G = A @ B.T``
with BLAS; these kernels turn each row of it into squared distances
``|a|^2 + |b|^2 - 2 a.b`` and accumulate ``exp(-d^2 / (2 h^2))``.

On real descriptor data most pairs lie within a few bandwidths of each
other (81 % of the pairs of Cu MD environments at h = 0.015), so skipping
underflowing terms saves little: the cost is the exponential itself.
``exp_neg`` therefore evaluates it with straight-line arithmetic that the
compiler turns into SIMD code (Cody-Waite range reduction, a degree-13
polynomial, and 2^n assembled from the bits of a float), accurate to about
one ulp, where a libm call costs ~10 ns per element.

Every loop here is written so that LLVM can vectorise it: no calls, no
data-dependent branches; rare cases (near-duplicate pairs whose Gram-based
distance cancels) are fixed in a separate scalar pass. No ``reassoc`` flag
where the rounding trick lives (it would fold ``(t + M) - M``); reductions
sit in their own small functions that allow it.
"""

import numba as nb
import numpy as np

#: fastmath flags for the arithmetic kernels: FMA contraction only
SAFE_MATH = {"contract", "nsz"}
#: fastmath flags for plain reductions (sums), which need reassociation to vectorise
REDUCE_MATH = {"contract", "nsz", "reassoc"}

#: |a|^2 + |b|^2 - 2 a.b loses about log10(1/REFINE) digits when d^2 is this
#: small relative to the norms; such pairs (near-duplicates) are recomputed
#: exactly from the rows, so identical environments give d^2 = 0 exactly.
REFINE = 1e-4

#: exp(-700) ~ 1e-304 is the smallest value computed; larger arguments give 0
#: (a term below 1e-304 cannot change a sum that contains its maximum term).
MAX_ARG = 700.0

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# adding 1.5 * 2^52 rounds a float of magnitude < 2^51 to an integer, which
# then sits in the low bits of the sum's representation
_ROUND = 6755399441055744.0
_ROUND_BITS = 0x4338000000000000
_EXP_BIAS = 1023


@nb.njit(cache=True, nogil=True, fastmath=SAFE_MATH)
def exp_neg(arg_b, out_b, work_b):
    """out_b[i] = exp(-arg_b[i]) for arg >= 0 (0 beyond ``MAX_ARG``), ~1 ulp.

    ``work_b`` is scratch of the same length. Negative arguments are treated
    as 0 (they only arise from rounding of squared distances).
    """
    n = arg_b.shape[0]
    for i in range(n):
        y = -min(max(arg_b[i], 0.0), MAX_ARG)
        t = y * _LOG2E + _ROUND
        work_b[i] = t
        nf = t - _ROUND  # round(y / ln 2)
        r = (y - nf * _LN2_HI) - nf * _LN2_LO  # |r| <= ln(2) / 2
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        out_b[i] = p
    bits_b = work_b.view(np.int64)
    for i in range(n):
        bits_b[i] = (bits_b[i] - _ROUND_BITS + _EXP_BIAS) << 52  # the float 2^n
    for i in range(n):
        value = out_b[i] * work_b[i]
        out_b[i] = value if arg_b[i] <= MAX_ARG else 0.0


@nb.njit(cache=True, fastmath=REDUCE_MATH)
def _sum(v_b):
    total = 0.0
    for i in range(v_b.shape[0]):
        total += v_b[i]
    return total


@nb.njit(cache=True, fastmath=REDUCE_MATH)
def _min(v_b):
    best = np.inf
    for i in range(v_b.shape[0]):
        best = min(best, v_b[i])
    return best


@nb.njit(cache=True, fastmath=SAFE_MATH)
def _squared_distance(a_d, b_d):
    total = 0.0
    for c in range(a_d.shape[0]):
        diff = a_d[c] - b_d[c]
        total += diff * diff
    return total


@nb.njit(cache=True, fastmath=SAFE_MATH)
def row_distances(gram_b, sqnorm_a, sqnorm_b, a_d, B, d2_b):
    """Squared distances of one row a to all rows of B, into ``d2_b``.

    Pairs where the Gram formula cancels (d^2 < REFINE * (|a|^2 + |b|^2))
    are recomputed exactly from the rows.
    """
    n = d2_b.shape[0]
    n_refine = 0
    for b in range(n):
        norms = sqnorm_a + sqnorm_b[b]
        d2 = norms - 2.0 * gram_b[b]
        d2_b[b] = d2
        n_refine += d2 < REFINE * norms
    if n_refine > 0:
        for b in range(n):
            if d2_b[b] < REFINE * (sqnorm_a + sqnorm_b[b]):
                d2_b[b] = _squared_distance(a_d, B[b])


@nb.njit(cache=True, nogil=True, fastmath=SAFE_MATH)
def tile_sums(gram_ab, sqnorm_a, sqnorm_b, A, B, scale_h, row_ah, col_bh, with_columns):
    """Add the kernel sums of one tile to running row (and column) sums.

    Parameters
    ----------
    gram_ab : (na, nb) float64, A @ B.T
    sqnorm_a, sqnorm_b : (na,), (nb,) squared row norms of A and B
    A, B : (na, d), (nb, d) the rows themselves (to refine near-duplicates)
    scale_h : (n_h,) 1 / (2 h^2)
    row_ah : (na, n_h) accumulates sum over b of K(a, b)
    col_bh : (nb, n_h) accumulates sum over a of K(a, b) if ``with_columns``
    """
    na, nb_ = gram_ab.shape
    n_h = scale_h.shape[0]
    d2_b = np.empty(nb_)
    arg_b = np.empty(nb_)
    v_b = np.empty(nb_)
    work_b = np.empty(nb_)
    col_hb = np.zeros((n_h if with_columns else 0, nb_))  # contiguous along b
    for a in range(na):
        row_distances(gram_ab[a], sqnorm_a[a], sqnorm_b, A[a], B, d2_b)
        for h in range(n_h):
            scale = scale_h[h]
            for b in range(nb_):
                arg_b[b] = d2_b[b] * scale
            exp_neg(arg_b, v_b, work_b)
            row_ah[a, h] += _sum(v_b)
            if with_columns:
                col_b = col_hb[h]
                for b in range(nb_):
                    col_b[b] += v_b[b]
    if with_columns:
        for h in range(n_h):
            for b in range(nb_):
                col_bh[b, h] += col_hb[h, b]


@nb.njit(cache=True, nogil=True, fastmath=SAFE_MATH)
def tile_logsumexp(gram_ab, sqnorm_a, sqnorm_b, A, B, scale_h, min_arg_ah, shifted_sum_ah):
    """Streaming log-sum-exp of kernel values, one tile at a time.

    For each row a and bandwidth h, the running state is ``m = min_b arg_ab``
    (``arg = d^2 / (2 h^2)``) and ``s = sum_b exp(-(arg_ab - m))`` so that
    ``ln sum_b K(a, b) = ln s - m`` stays finite however far a is from B.
    Initialise ``min_arg_ah`` to +inf and ``shifted_sum_ah`` to 0; states
    built from disjoint parts of B merge with ``merge_logsumexp``.
    """
    na, nb_ = gram_ab.shape
    n_h = scale_h.shape[0]
    d2_b = np.empty(nb_)
    arg_b = np.empty(nb_)
    v_b = np.empty(nb_)
    work_b = np.empty(nb_)
    for a in range(na):
        row_distances(gram_ab[a], sqnorm_a[a], sqnorm_b, A[a], B, d2_b)
        d2min = max(_min(d2_b), 0.0)
        for h in range(n_h):
            scale = scale_h[h]
            tile_min = d2min * scale
            old_min = min_arg_ah[a, h]
            if tile_min < old_min:
                if shifted_sum_ah[a, h] > 0.0:
                    shifted_sum_ah[a, h] *= np.exp(tile_min - old_min)
                min_arg_ah[a, h] = tile_min
            shift = min_arg_ah[a, h]
            for b in range(nb_):
                arg_b[b] = d2_b[b] * scale - shift
            exp_neg(arg_b, v_b, work_b)
            shifted_sum_ah[a, h] += _sum(v_b)


@nb.njit(cache=True, nogil=True)
def merge_logsumexp(min_arg_ah, shifted_sum_ah, other_min_ah, other_sum_ah):
    """Fold another log-sum-exp state (same rows) into the first, in place."""
    na, n_h = min_arg_ah.shape
    for a in range(na):
        for h in range(n_h):
            m1 = min_arg_ah[a, h]
            m2 = other_min_ah[a, h]
            if m2 == np.inf:
                continue
            if m1 == np.inf:
                min_arg_ah[a, h] = m2
                shifted_sum_ah[a, h] = other_sum_ah[a, h]
            elif m2 < m1:
                shifted_sum_ah[a, h] = shifted_sum_ah[a, h] * np.exp(m2 - m1) + other_sum_ah[a, h]
                min_arg_ah[a, h] = m2
            else:
                shifted_sum_ah[a, h] += other_sum_ah[a, h] * np.exp(m1 - m2)


@nb.njit(cache=True, nogil=True, fastmath=SAFE_MATH)
def gathered_sq_distances(Y, X, index_qm, out_qm):
    """out_qm[q, j] = |Y[q] - X[index_qm[q, j]]|^2 from the difference (exact to rounding).

    Negative indices (no neighbour found) give +inf. Used to re-measure in
    float64 the candidates an approximate (float32) index returns.
    """
    n_q, n_m = index_qm.shape
    for q in range(n_q):
        for j in range(n_m):
            i = index_qm[q, j]
            if i < 0:
                out_qm[q, j] = np.inf
            else:
                out_qm[q, j] = _squared_distance(Y[q], X[i])


@nb.njit(cache=True, nogil=True, fastmath=SAFE_MATH)
def tile_group_sums(gram_ab, sqnorm_a, sqnorm_b, A, B, scale, group_b, out_ag):
    """out_ag[a, group_b[b]] += exp(-scale |a - b|^2) over one tile (one bandwidth).

    ``group_b`` (nb,) int: the column of ``out_ag`` each row of B adds to
    (its structure), so a row of ``out_ag`` is a's kernel sum per structure.
    """
    na, nb_ = gram_ab.shape
    d2_b = np.empty(nb_)
    v_b = np.empty(nb_)
    work_b = np.empty(nb_)
    for a in range(na):
        row_distances(gram_ab[a], sqnorm_a[a], sqnorm_b, A[a], B, d2_b)
        for b in range(nb_):
            d2_b[b] *= scale
        exp_neg(d2_b, v_b, work_b)
        out_a = out_ag[a]
        for b in range(nb_):
            out_a[group_b[b]] += v_b[b]


@nb.njit(cache=True, nogil=True)
def update_coverage_gains(indptr, indices, data, rows, before, after, weight, gains):
    """Move each candidate's coverage gain from ``before`` to ``after`` on ``rows``.

    A probe r with kernel sum L against the kept set (in units of the cover
    level, so L >= 1 is covered) adds ``weight[r] * (min(1, L + g) - min(1, L))``
    to the gain of each candidate whose kernel sum at r is g (row r of the
    CSR matrix ``indptr, indices, data``). For each r in ``rows`` the
    contribution at ``before[r]`` is taken out and the one at ``after[r]``
    put in.
    """
    for r in rows:
        lo = before[r]
        hi = after[r]
        c_lo = min(1.0, lo)
        c_hi = min(1.0, hi)
        w = weight[r]
        for k in range(indptr[r], indptr[r + 1]):
            g = data[k]
            gains[indices[k]] += w * ((min(1.0, hi + g) - c_hi) - (min(1.0, lo + g) - c_lo))
