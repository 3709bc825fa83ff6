"""Small dense linear algebra of the fit kernels (n <= 4, float64, no allocation).

Cholesky solves and inverses of Jacobi-scaled symmetric matrices that report a near-singular
matrix instead of dividing by it, the 2 x 2 cases in closed form, and non-negative least squares
by enumerating active sets (the best feasible unconstrained subset solution is the NNLS
optimum).
"""

import math

import numpy as np

from thermal._kernels import SUMS, jit

TINY = 1e-280
COND = 1e-13  # smallest accepted relative Cholesky pivot (normalised matrices)


@jit(fastmath=SUMS)
def _cholesky_factor(mat, n, work):
    """Scale the symmetric ``mat`` (n x n) to a unit diagonal (the factors into ``work``) and
    overwrite its lower triangle with the Cholesky factor. False when a diagonal is not above
    TINY or a normalised pivot not above COND (not safely positive definite)."""
    for i in range(n):
        d = mat[i, i]
        if not d > TINY:
            return False
        work[i] = 1.0 / math.sqrt(d)
    for i in range(n):
        for j in range(n):
            mat[i, j] *= work[i] * work[j]
    for j in range(n):
        s = mat[j, j]
        for p in range(j):
            s -= mat[j, p] * mat[j, p]
        if not s > COND:
            return False
        s = math.sqrt(s)
        mat[j, j] = s
        for i in range(j + 1, n):
            v = mat[i, j]
            for p in range(j):
                v -= mat[i, p] * mat[j, p]
            mat[i, j] = v / s
    return True


@jit(fastmath=SUMS)
def _substitute(mat, rhs, n):
    """Solve L L^T x = rhs in place, L the factor in the lower triangle of ``mat``."""
    for i in range(n):
        v = rhs[i]
        for p in range(i):
            v -= mat[i, p] * rhs[p]
        rhs[i] = v / mat[i, i]
    for i in range(n - 1, -1, -1):
        v = rhs[i]
        for p in range(i + 1, n):
            v -= mat[p, i] * rhs[p]
        rhs[i] = v / mat[i, i]


@jit(fastmath=SUMS)
def cholesky_solve(mat, rhs, n, work):
    """Solve mat x = rhs (n x n, symmetric positive definite) in place, Jacobi-scaled.

    Returns False when the normalised matrix is not safely positive definite. ``rhs`` holds x.
    ``work`` (>= n) receives the scale factors.
    """
    if not _cholesky_factor(mat, n, work):
        return False
    for i in range(n):
        rhs[i] *= work[i]
    _substitute(mat, rhs, n)
    for i in range(n):
        rhs[i] *= work[i]
    return True


@jit(fastmath=SUMS)
def solve_spd(mat, rhs, n, work):
    """:func:`cholesky_solve` with the 2 x 2 case (two free temperatures) in closed form and
    the same acceptance test (Jacobi-scaled pivots above TINY and COND)."""
    if n != 2:
        return cholesky_solve(mat, rhs, n, work)
    d0 = mat[0, 0]
    d1 = mat[1, 1]
    if not (d0 > TINY and d1 > TINY):
        return False
    s0 = 1.0 / math.sqrt(d0)
    s1 = 1.0 / math.sqrt(d1)
    rho = mat[0, 1] * s0 * s1
    piv = 1.0 - rho * rho
    if not piv > COND:
        return False
    r0 = rhs[0] * s0
    r1 = rhs[1] * s1
    x1 = (r1 - rho * r0) / piv
    rhs[0] = (r0 - rho * x1) * s0
    rhs[1] = x1 * s1
    return True


@jit(fastmath=SUMS)
def cholesky_inverse(mat, n, inv, work, col):
    """inv = mat^-1 for a small SPD matrix (mat is destroyed). False if not safely SPD."""
    if not _cholesky_factor(mat, n, work):
        return False
    for e in range(n):
        for i in range(n):
            col[i] = 1.0 if i == e else 0.0
        _substitute(mat, col, n)
        for i in range(n):
            inv[i, e] = col[i] * work[i] * work[e]
    return True


@jit(fastmath=SUMS)
def nnls2(g00, g01, g11, b0, b1, yy, coef):
    """Closed-form two-column NNLS from normal equations; returns the cost."""
    best = yy
    a0 = 0.0
    a1 = 0.0
    if g00 > TINY and g11 > TINY:
        det = g00 * g11 - g01 * g01
        if det > 1e-13 * g00 * g11:
            x0 = (g11 * b0 - g01 * b1) / det
            x1 = (g00 * b1 - g01 * b0) / det
            if x0 > 0.0 and x1 > 0.0:
                c = yy - x0 * b0 - x1 * b1
                if c < best:
                    best, a0, a1 = c, x0, x1
    if g00 > TINY and b0 > 0.0:
        c = yy - b0 * b0 / g00
        if c < best:
            best, a0, a1 = c, b0 / g00, 0.0
    if g11 > TINY and b1 > 0.0:
        c = yy - b1 * b1 / g11
        if c < best:
            best, a0, a1 = c, 0.0, b1 / g11
    coef[0] = a0
    coef[1] = a1
    return max(best, 0.0)


@jit(fastmath=SUMS)
def nnls_small(gram, rhs, yy, n, coef, mat, vec, work, idx):
    """Non-negative least squares from normal equations (n <= 4 columns).

    ``gram`` (n x n) and ``rhs`` (n) are A^T W A and A^T W y, ``yy`` = y^T W y. Writes the
    optimal coefficients into ``coef`` and returns the cost y^T W y - coef . rhs (>= 0).
    Columns whose diagonal is ~0 never enter. Two columns (the common case) are solved in
    closed form inline; the call of the general routine cost 9 % of a fit.
    """
    if n == 2:
        return nnls2(gram[0, 0], gram[0, 1], gram[1, 1], rhs[0], rhs[1], yy, coef)
    return _nnls_active_sets(gram, rhs, yy, n, coef, mat, vec, work, idx)


@jit(fastmath=SUMS)
def _nnls_active_sets(gram, rhs, yy, n, coef, mat, vec, work, idx):
    """:func:`nnls_small` for any n <= 4 by enumerating active sets (the best feasible
    unconstrained subset solution is the optimum)."""
    best = yy
    for i in range(n):
        coef[i] = 0.0
    if n == 1:
        coef[0] = 0.0
        if gram[0, 0] > TINY and rhs[0] > 0.0:
            coef[0] = rhs[0] / gram[0, 0]
            return max(yy - coef[0] * rhs[0], 0.0)
        return max(yy, 0.0)
    for subset in range(1, 1 << n):
        k = np.int64(0)  # not a literal: a callee would compile once more for it
        ok = True
        for i in range(n):
            if subset & (1 << i):
                if not gram[i, i] > TINY:
                    ok = False
                    break
                idx[k] = i
                k += 1
        if not ok:
            continue
        for p in range(k):
            vec[p] = rhs[idx[p]]
            for q in range(k):
                mat[p, q] = gram[idx[p], idx[q]]
        if not cholesky_solve(mat, vec, k, work):
            continue
        feasible = True
        for p in range(k):
            if not vec[p] > 0.0:
                feasible = False
                break
        if not feasible:
            continue
        cost = yy
        for p in range(k):
            cost -= vec[p] * rhs[idx[p]]
        if cost < best:
            best = cost
            for i in range(n):
                coef[i] = 0.0
            for p in range(k):
                coef[idx[p]] = vec[p]
    return max(best, 0.0)


@jit(fastmath=SUMS)
def row_gram(rows, n, out):
    """out[p, q] = rows[p] . rows[q] for p, q < n (J J^T of Jacobian rows)."""
    for p in range(n):
        for q in range(p + 1):
            s = 0.0
            for k in range(rows.shape[1]):
                s += rows[p, k] * rows[q, k]
            out[p, q] = s
            out[q, p] = s
