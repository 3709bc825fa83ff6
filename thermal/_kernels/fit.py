"""The batched multi-temperature fit kernel (float64, no Python objects).

Model of one spectrum (``m`` channels, ``c`` blackbody components, optional background):

    y_k = sum_j a_j * eps_j * Bbar_k(T_j) + b * S_k

where ``Bbar_k(T)`` is the channel basis (a spectral channel is one quadrature node of weight 1,
a band channel is its quadrature nodes and weights), ``a_j >= 0`` the areas (or area fractions)
and ``S_k`` a fixed background shape with amplitude ``b >= 0``.

Method (variable projection, Golub & Pereyra 1973, doi:10.1137/0710036):

1. For given temperatures the areas are an exact non-negative linear least-squares problem with
   at most 4 columns, solved by enumerating active sets (the best feasible unconstrained subset
   solution is the NNLS optimum).
2. Multi-start: every combination of a deterministic log-spaced temperature grid per component
   is scored through a Gram matrix of the grid basis precomputed once per spectrum, so each
   combination costs O(1); the best grid local minima start the search, and for two
   exchangeable components so do the minima along the line through the one-temperature
   optimum.
3. Levenberg-Marquardt over ln T of the free components only, with the full Golub-Pereyra
   Jacobian of the projected residual (Kaufman's cheaper approximation, Kaufman 1975,
   doi:10.1007/BF01932995, zig-zags where a faint component is poorly determined), a secant
   step back along the previous step when its slope changed sign, for two free components a
   structured secant term added to J^T J where the residual's own curvature makes Gauss-Newton
   overshoot (NL2SOL: Dennis, Gay & Welsch 1981, ACM TOMS 7, 348, doi:10.1145/355958.355965),
   steps capped at MAX_STEP in ln T, Nielsen's damping update (1999, IMM-REP-1999-05),
   temperatures clamped to their bounds. A run is abandoned once its quadratic model cannot
   reach the best minimum found, and stops once, no better than it, it is within a grid step
   of it (the same basin). The common case, two free components and no background, has its
   gradient and 2 x 2 solves in closed form.
4. Polish (two exchangeable components): the cold component's cost profile is often flat with
   several shallow minima, one on its lower bound; the line through the best hot temperature
   is scanned again and low minima away from the best cold temperature start new runs. So is
   the line through the best cold temperature: when the best pair found is a faint hot
   component at its bound over a real one, the real one's partner lies on that line.
5. Covariance of the full physical parameter set (T_j, a_j, b) from (J^T W J)^-1 at the optimum,
   with the given 1-sigma uncertainties taken as absolute.

Data are scaled by the spectrum's largest |y| so all numbers are O(1); the caller unscales.
Status codes are listed in ``STATUS`` (also the CF flag meanings).
"""

import math

import numpy as np
from numba import prange as numba_prange

from thermal._kernels import jit, kernel
from thermal._kernels.exp import exp_reduced
from thermal.constants import C1, C2, STEFAN_BOLTZMANN

STATUS = (
    "converged",
    "max_iterations",
    "not_enough_channels",
    "no_data",
    "degenerate",
    "at_bound",
    "invalid_uncertainty",
    "invalid_data",
)
CONVERGED, MAX_ITERATIONS, NOT_ENOUGH, NO_DATA, DEGENERATE, AT_BOUND, BAD_SIGMA, BAD_DATA = range(
    8
)

_TINY = 1e-280
# Reassociation lets LLVM vectorise the many short weighted sums (and contract fuses
# multiply-adds). Not "nnan"/"ninf": NaN marks missing data and failed evaluations here. The
# machine code is the same for every spectrum, so results still do not depend on the batch.
_SUMS = {"reassoc", "contract"}
N_STARTS = 2  # Levenberg-Marquardt runs from the best grid local minima
N_POLISH = 2  # rounds of restarts from the line through the best hot temperature
POLISH_DCHI2 = 0.3  # line minima through the best hot temperature worth a run
POLISH_DCHI2_COLD = 5.0  # through the best cold one (rarely any, but often right)
POLISH_RADIUS = 1.5  # grid steps around the best cold temperature the polish skips
ABANDON_AFTER = 3  # iterations before a run may be abandoned as heading for a worse basin
ABANDON_FACTOR = 100.0  # (30 saved 13 % more evaluations but missed 5 optima in 5000)
CHUNK = 64  # spectra per scratch allocation (and per parallel task)
SAME_BASIN = 0.3  # ln T (a grid step) from the best minimum within which a worse run stops
MAX_STEP = 0.2  # longest step in ln T (0.6 grid steps): longer ones were mostly rejected
_COND = 1e-13  # smallest accepted relative Cholesky pivot (normalised matrices)


@jit(fastmath=_SUMS, allocates=False)
def scaled_spectrum(y, sig, ys, sw):
    """Validate one spectrum and scale it so that its largest |y| is 1.

    NaN in ``y`` marks a missing channel. Writes ys = y / scale and sw = scale / sig on valid
    channels, 0 elsewhere: with sw = 0 on missing channels every weighted sum skips them without
    a branch, and its loop vectorises. Returns (status, n_valid, scale), status -1 when the
    spectrum can be fitted, else BAD_DATA (an infinite value), BAD_SIGMA (zero, negative or
    non-finite uncertainty on a measured channel) or NO_DATA.
    """
    n_valid = 0
    scale = 0.0
    bad_sigma = False
    bad_data = False
    for k in range(y.size):
        ys[k] = 0.0
        sw[k] = 0.0
        v = y[k]
        if math.isnan(v):
            continue
        if not math.isfinite(v):
            bad_data = True
            continue
        if not (sig[k] > 0.0 and math.isfinite(sig[k])):
            bad_sigma = True
            continue
        sw[k] = 1.0  # marks a valid channel until the scale is known
        n_valid += 1
        scale = max(scale, abs(v))
    if bad_data:
        return BAD_DATA, n_valid, scale
    if bad_sigma:
        return BAD_SIGMA, n_valid, scale
    if n_valid == 0:
        return NO_DATA, n_valid, scale
    if scale == 0.0:
        scale = 1.0
    for k in range(y.size):
        if sw[k] > 0.0:
            ys[k] = y[k] / scale
            sw[k] = scale / sig[k]
    return -1, n_valid, scale


@jit(fastmath=_SUMS, allocates=False)
def channel_basis(node_x, node_a, node_ch, n_ch, t, out, dout):
    """Channel basis Bbar_k(t) and t * dBbar_k/dt (the derivative in ln t) for one temperature.

    ``node_x`` = c2 / lambda [K] and ``node_a`` = weight * c1 / lambda^5 per quadrature node
    (precomputed once per batch), so a node costs one exponential and one division.
    """
    inv_t = 1.0 / t
    if node_x.size == n_ch:
        # spectral channels: node k is channel k (Channels keeps nodes in channel order). A
        # branch-free pass that vectorises, exact where every x is in [0.5, 700).
        unsettled = 0
        for k in range(n_ch):
            x = node_x[k] * inv_t
            xc = min(max(x, 0.5), 700.0)
            e = exp_reduced(-xc)
            d = 1.0 / (1.0 - e)
            b = node_a[k] * e * d
            out[k] = b
            dout[k] = b * xc * d
            unsettled += not ((x >= 0.5) & (x < 700.0))
        if unsettled == 0:
            return
    for k in range(n_ch):
        out[k] = 0.0
        dout[k] = 0.0
    for q in range(node_x.size):
        x = node_x[q] * inv_t
        if x < 0.5:
            em = math.expm1(x)
            b = node_a[q] / em
            dbt = b * x * (em + 1.0) / em
        elif x < 700.0:
            e = exp_reduced(-x)
            d = 1.0 / (1.0 - e)
            b = node_a[q] * e * d
            dbt = b * x * d
        else:  # below 1e-300 of the prefactor: nothing a fit can see
            b = 0.0
            dbt = 0.0
        out[node_ch[q]] += b
        dout[node_ch[q]] += dbt


@jit(inline="always", fastmath=_SUMS)
def _columns(node_x, node_a, node_ch, n_ch, n_row, lnt, eps, n_comp, has_bg, bg_shape, cols,
             dcols):  # fmt: skip
    """Model columns (emissivity x channel basis, then the background shape) and their
    derivatives in ln T at the temperatures ``exp(lnt)``. With ``n_row`` > ``n_ch`` row
    ``n_ch`` is the power row: emissivity x sigma T^4 [W m-2] (0 for the background), so that
    a datum there with a large weight constrains the total power (see the profile kernel)."""
    for j in range(n_comp):
        # straight into the rows: a copy through scratch arrays doubled the cost
        channel_basis(node_x, node_a, node_ch, n_ch, math.exp(lnt[j]), cols[j], dcols[j])
        e = eps[j]
        if e != 1.0:
            for k in range(n_ch):
                cols[j, k] *= e
                dcols[j, k] *= e
    if has_bg:
        for k in range(n_ch):
            cols[n_comp, k] = bg_shape[k]
    if n_row > n_ch:
        for j in range(n_comp):
            t = math.exp(lnt[j])
            t2 = t * t
            cols[j, n_ch] = eps[j] * STEFAN_BOLTZMANN * t2 * t2
            dcols[j, n_ch] = 4.0 * cols[j, n_ch]
        if has_bg:
            cols[n_comp, n_ch] = 0.0


@jit(fastmath=_SUMS, allocates=False)
def _cholesky_solve(mat, rhs, n, work):
    """Solve mat x = rhs (n x n, symmetric positive definite) in place, Jacobi-scaled.

    Returns False when the normalised matrix is not safely positive definite. ``rhs`` holds x.
    ``work`` (>= n) receives the scale factors.
    """
    for i in range(n):
        d = mat[i, i]
        if not d > _TINY:
            return False
        work[i] = 1.0 / math.sqrt(d)
    for i in range(n):
        for j in range(n):
            mat[i, j] *= work[i] * work[j]
        rhs[i] *= work[i]
    for j in range(n):
        s = mat[j, j]
        for p in range(j):
            s -= mat[j, p] * mat[j, p]
        if not s > _COND:
            return False
        s = math.sqrt(s)
        mat[j, j] = s
        for i in range(j + 1, n):
            v = mat[i, j]
            for p in range(j):
                v -= mat[i, p] * mat[j, p]
            mat[i, j] = v / s
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
    for i in range(n):
        rhs[i] *= work[i]
    return True


@jit(inline="always", fastmath=_SUMS)
def _solve_spd(mat, rhs, n, work):
    """:func:`_cholesky_solve` with the 2 x 2 case (two free temperatures) in closed form and
    the same acceptance test (Jacobi-scaled pivots above _TINY and _COND)."""
    if n != 2:
        return _cholesky_solve(mat, rhs, n, work)
    d0 = mat[0, 0]
    d1 = mat[1, 1]
    if not (d0 > _TINY and d1 > _TINY):
        return False
    s0 = 1.0 / math.sqrt(d0)
    s1 = 1.0 / math.sqrt(d1)
    rho = mat[0, 1] * s0 * s1
    piv = 1.0 - rho * rho
    if not piv > _COND:
        return False
    r0 = rhs[0] * s0
    r1 = rhs[1] * s1
    x1 = (r1 - rho * r0) / piv
    rhs[0] = (r0 - rho * x1) * s0
    rhs[1] = x1 * s1
    return True


@jit(fastmath=_SUMS, allocates=False)
def _cholesky_inverse(mat, n, inv, work, col):
    """inv = mat^-1 for a small SPD matrix (mat is destroyed). False if not safely SPD."""
    for i in range(n):
        d = mat[i, i]
        if not d > _TINY:
            return False
        work[i] = 1.0 / math.sqrt(d)
    for i in range(n):
        for j in range(n):
            mat[i, j] *= work[i] * work[j]
    for j in range(n):
        s = mat[j, j]
        for p in range(j):
            s -= mat[j, p] * mat[j, p]
        if not s > _COND:
            return False
        s = math.sqrt(s)
        mat[j, j] = s
        for i in range(j + 1, n):
            v = mat[i, j]
            for p in range(j):
                v -= mat[i, p] * mat[j, p]
            mat[i, j] = v / s
    for e in range(n):
        for i in range(n):
            col[i] = 1.0 if i == e else 0.0
        for i in range(n):
            v = col[i]
            for p in range(i):
                v -= mat[i, p] * col[p]
            col[i] = v / mat[i, i]
        for i in range(n - 1, -1, -1):
            v = col[i]
            for p in range(i + 1, n):
                v -= mat[p, i] * col[p]
            col[i] = v / mat[i, i]
        for i in range(n):
            inv[i, e] = col[i] * work[i] * work[e]
    return True


@jit(inline="always", fastmath=_SUMS)
def _nnls2(g00, g01, g11, b0, b1, yy, coef):
    """Closed-form two-column NNLS from normal equations; returns the cost."""
    best = yy
    a0 = 0.0
    a1 = 0.0
    if g00 > _TINY and g11 > _TINY:
        det = g00 * g11 - g01 * g01
        if det > 1e-13 * g00 * g11:
            x0 = (g11 * b0 - g01 * b1) / det
            x1 = (g00 * b1 - g01 * b0) / det
            if x0 > 0.0 and x1 > 0.0:
                c = yy - x0 * b0 - x1 * b1
                if c < best:
                    best, a0, a1 = c, x0, x1
    if g00 > _TINY and b0 > 0.0:
        c = yy - b0 * b0 / g00
        if c < best:
            best, a0, a1 = c, b0 / g00, 0.0
    if g11 > _TINY and b1 > 0.0:
        c = yy - b1 * b1 / g11
        if c < best:
            best, a0, a1 = c, 0.0, b1 / g11
    coef[0] = a0
    coef[1] = a1
    return max(best, 0.0)


@jit(inline="always", fastmath=_SUMS)
def nnls_small(gram, rhs, yy, n, coef, mat, vec, work, idx):
    """Non-negative least squares from normal equations (n <= 4 columns).

    ``gram`` (n x n) and ``rhs`` (n) are A^T W A and A^T W y, ``yy`` = y^T W y. Writes the
    optimal coefficients into ``coef`` and returns the cost y^T W y - coef . rhs (>= 0).
    Columns whose diagonal is ~0 never enter. Two columns (the common case) are solved in
    closed form inline; the call of the general routine cost 9 % of a fit.
    """
    if n == 2:
        return _nnls2(gram[0, 0], gram[0, 1], gram[1, 1], rhs[0], rhs[1], yy, coef)
    return _nnls_active_sets(gram, rhs, yy, n, coef, mat, vec, work, idx)


@jit(fastmath=_SUMS, allocates=False)
def _nnls_active_sets(gram, rhs, yy, n, coef, mat, vec, work, idx):
    """:func:`nnls_small` for any n <= 4 by enumerating active sets (the best feasible
    unconstrained subset solution is the optimum)."""
    best = yy
    for i in range(n):
        coef[i] = 0.0
    if n == 1:
        coef[0] = 0.0
        if gram[0, 0] > _TINY and rhs[0] > 0.0:
            coef[0] = rhs[0] / gram[0, 0]
            return max(yy - coef[0] * rhs[0], 0.0)
        return max(yy, 0.0)
    for subset in range(1, 1 << n):
        k = 0
        ok = True
        for i in range(n):
            if subset & (1 << i):
                if not gram[i, i] > _TINY:
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
        if not _cholesky_solve(mat, vec, k, work):
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


@jit(fastmath=_SUMS, allocates=False)
def _solve_areas(cols, sw, ys, n_lin, n_ch, coef, gram, rhs, mat, vec, work, idx):
    """Weighted NNLS of ys on the columns ``cols[:n_lin]``; returns the explicit cost."""
    # The common case: all products in one pass, the NNLS in closed form. (Only the products
    # in this branch and one nnls_small call for every n_lin: 20.5 -> 22-24 us per fit.)
    if n_lin == 2:
        yy = 0.0
        b0 = 0.0
        b1 = 0.0
        g00 = 0.0
        g01 = 0.0
        g11 = 0.0
        for k in range(n_ch):
            w = sw[k] * sw[k]
            c0 = cols[0, k]
            c1 = cols[1, k]
            wy = w * ys[k]
            yy += wy * ys[k]
            b0 += wy * c0
            b1 += wy * c1
            g00 += w * c0 * c0
            g01 += w * c0 * c1
            g11 += w * c1 * c1
        _nnls2(g00, g01, g11, b0, b1, yy, coef)
        a0 = coef[0]
        a1 = coef[1]
        cost = 0.0
        for k in range(n_ch):
            r = sw[k] * (ys[k] - (a0 * cols[0, k] + a1 * cols[1, k]))
            cost += r * r
        return cost
    yy = 0.0
    for k in range(n_ch):
        v = sw[k] * ys[k]
        yy += v * v
    for i in range(n_lin):
        s = 0.0
        for k in range(n_ch):
            s += sw[k] * sw[k] * cols[i, k] * ys[k]
        rhs[i] = s
        for j in range(i + 1):
            g = 0.0
            for k in range(n_ch):
                g += sw[k] * sw[k] * cols[i, k] * cols[j, k]
            gram[i, j] = g
            gram[j, i] = g
    nnls_small(gram, rhs, yy, n_lin, coef, mat, vec, work, idx)
    cost = 0.0
    for k in range(n_ch):
        m = 0.0
        for i in range(n_lin):
            m += coef[i] * cols[i, k]
        r = sw[k] * (ys[k] - m)
        cost += r * r
    return cost


@jit(fastmath=_SUMS, allocates=False)
def grid_gram(g_cols, sw, ys, n_ch, gram_all, rhs_all, wcol):
    """Weighted Gram matrix and right-hand side of the grid columns for one spectrum; returns
    y^T W y. Every combination of grid columns is then scored in O(1). ``wcol`` (n_ch) is
    scratch."""
    yy = 0.0
    for k in range(n_ch):
        yy += sw[k] * sw[k] * ys[k] * ys[k]
    for a in range(g_cols.shape[0]):
        s = 0.0
        for k in range(n_ch):
            wcol[k] = sw[k] * sw[k] * g_cols[a, k]
            s += wcol[k] * ys[k]
        rhs_all[a] = s
        for b in range(a + 1):
            t = 0.0
            for k in range(n_ch):
                t += wcol[k] * g_cols[b, k]
            gram_all[a, b] = t
            gram_all[b, a] = t
    return yy


@jit(fastmath=_SUMS, allocates=False)
def _line_start(
    node_x, node_a, node_ch, n_ch, eps0, lo, hi, sw, ys, yy, grid, gram_all, rhs_all,
    g_cols, n_grid, out, col, dcol, line, picks, costs, pair,
):  # fmt: skip
    """Start (T_a, T_b) [ln K] on the line through the one-temperature optimum T_a.

    T_a: the best single grid column refined by variable-projection Gauss-Newton in ln T;
    T_b: the grid values whose two-column NNLS with T_a are the two lowest local minima along
    the line with both areas positive. Writes rows of ``out`` (hottest first) and returns how
    many (0-2). ``col``, ``dcol`` (n_ch), ``line`` (n_grid), ``picks``, ``costs`` and ``pair``
    (2) are scratch.
    """
    gb = -1
    for g in range(n_grid):
        line[g] = np.inf
        r = rhs_all[g]
        if r > 0.0 and gram_all[g, g] > _TINY:
            line[g] = yy - r * r / gram_all[g, g]
            if gb < 0 or line[g] < line[gb]:
                gb = g
    if gb < 0:
        return 0
    best = line[gb]
    u = grid[gb]
    if 0 < gb < n_grid - 1 and line[gb - 1] < np.inf and line[gb + 1] < np.inf:
        # the vertex of the parabola through the three grid costs: fewer Gauss-Newton steps
        curv = line[gb - 1] - 2.0 * line[gb] + line[gb + 1]
        if curv > 0.0:
            shift = min(max(0.5 * (line[gb - 1] - line[gb + 1]) / curv, -0.5), 0.5)
            u += shift * (grid[gb + 1] - grid[gb])
    step = 0.0
    u_prev = u
    num_prev = 0.0
    for _it in range(12):
        channel_basis(node_x, node_a, node_ch, n_ch, math.exp(u), col, dcol)
        r = 0.0
        gg = 0.0
        for k in range(n_ch):
            w = sw[k] * sw[k] * eps0 * col[k]
            r += w * ys[k]
            gg += w * eps0 * col[k]
        if not (r > 0.0 and gg > _TINY):
            return 0
        cost = yy - r * r / gg
        if cost > best and step != 0.0:  # overshoot: go back half way
            u -= 0.5 * step
            step *= 0.5
            continue
        best = min(best, cost)
        a = r / gg
        # Kaufman: J = a (d - proj_c d), residual ys - a c (weighted)
        dc = 0.0
        for k in range(n_ch):
            dc += sw[k] * sw[k] * eps0 * col[k] * eps0 * dcol[k]
        num = 0.0
        den = 0.0
        for k in range(n_ch):
            jk = sw[k] * a * eps0 * (dcol[k] - col[k] * dc / gg)
            num += jk * sw[k] * (ys[k] - a * eps0 * col[k])
            den += jk * jk
        if not den > 0.0:
            break
        # num is the exact gradient (r is orthogonal to c): a secant step on it converges
        # superlinearly where Gauss-Newton, with this non-zero residual, crawls
        step = num / den
        if _it > 0 and u != u_prev:
            slope = (num - num_prev) / (u - u_prev)
            if slope < 0.0:
                step = -num / slope
        u_prev = u
        num_prev = num
        step = min(max(step, -0.3), 0.3)
        v = min(max(u + step, lo), hi)
        step = v - u
        if abs(step) < 1e-6:  # a start: the Levenberg-Marquardt runs refine it
            break
        u = v
    n_out = _line_minima(
        node_x, node_a, node_ch, n_ch, eps0, u, sw, ys, yy, gram_all, rhs_all, g_cols, grid,
        n_grid, col, dcol, -np.inf, 0.0, picks, costs, line, pair,
    )  # fmt: skip
    for r in range(n_out):
        out[r, 0] = max(u, grid[picks[r]])
        out[r, 1] = min(u, grid[picks[r]])
    return n_out


@jit(fastmath=_SUMS, allocates=False)
def _line_minima(
    node_x, node_a, node_ch, n_ch, eps0, u, sw, ys, yy, gram_all, rhs_all, g_cols, grid, n_grid,
    col, dcol, avoid, radius, picks, costs, line, coef,
):  # fmt: skip
    """The two lowest local minima of the two-column NNLS cost along the line T_a = exp(u),
    T_b = each grid value, among points with both areas positive and ln T_b farther than
    ``radius`` from ``avoid``: grid indices into ``picks``, costs into ``costs``; returns how
    many (0-2). ``col``, ``dcol`` (n_ch), ``line`` (n_grid) and ``coef`` (2) are scratch."""
    channel_basis(node_x, node_a, node_ch, n_ch, math.exp(u), col, dcol)
    g00 = 0.0
    b0 = 0.0
    for k in range(n_ch):
        dcol[k] = sw[k] * sw[k] * eps0 * col[k]  # the weighted column, reused below
        g00 += dcol[k] * eps0 * col[k]
        b0 += dcol[k] * ys[k]
    for g in range(n_grid):
        line[g] = np.inf
        g01 = 0.0
        for k in range(n_ch):
            g01 += dcol[k] * g_cols[g, k]
        cost = _nnls2(g00, g01, gram_all[g, g], b0, rhs_all[g], yy, coef)
        if coef[0] > 0.0 and coef[1] > 0.0 and abs(grid[g] - avoid) > radius:
            line[g] = cost
    n_out = 0
    first = -1
    for _pass in range(2):
        pick = -1
        for g in range(n_grid):
            v = line[g]
            if not v < np.inf or g == first:
                continue
            if (g > 0 and line[g - 1] < v) or (g < n_grid - 1 and line[g + 1] < v):
                continue
            if pick < 0 or v < line[pick]:
                pick = g
        if pick < 0:
            break
        picks[n_out] = pick
        costs[n_out] = line[pick]
        n_out += 1
        first = pick
    return n_out


@jit(inline="always", fastmath=_SUMS)
def _row_gram(rows, n, out):
    """out[p, q] = rows[p] . rows[q] for p, q < n (J J^T of Jacobian rows)."""
    for p in range(n):
        for q in range(p + 1):
            s = 0.0
            for k in range(rows.shape[1]):
                s += rows[p, k] * rows[q, k]
            out[p, q] = s
            out[q, p] = s


@jit
def grid_columns(grid_basis, exchangeable, bg_shape, has_bg):
    """The multi-start grid's columns shared by a batch (n_cols x n_ch): one set per component
    (one for exchangeable components), then the background shape."""
    n_comp, n_grid, n_ch = grid_basis.shape
    n_sets = 1 if exchangeable else n_comp
    n_cols = n_sets * n_grid + (1 if has_bg else 0)
    g_cols = np.empty((n_cols, n_ch))
    for j in range(n_sets):
        for g in range(n_grid):
            for k in range(n_ch):
                g_cols[j * n_grid + g, k] = grid_basis[j, g, k]
    if has_bg:
        for k in range(n_ch):
            g_cols[n_cols - 1, k] = bg_shape[k]
    return g_cols


@jit
def node_constants(node_lam, node_w):
    """Per-node x = c2 / lambda [K] and weight x c1 / lambda^5 (see :func:`channel_basis`)."""
    node_x = np.empty(node_lam.size)
    node_a = np.empty(node_lam.size)
    for q in range(node_lam.size):
        lam = node_lam[q]
        node_x[q] = C2 / lam
        node_a[q] = node_w[q] * C1 / (lam * lam * lam * lam * lam)
    return node_x, node_a


@kernel
def fit_batch(
    y,
    sig,
    node_lam,
    node_w,
    node_ch,
    eps,
    lnlo,
    lnhi,
    exchangeable,
    bg_shape,
    has_bg,
    grid_lnt,
    grid_basis,
    max_iter,
    temperature,
    area,
    background,
    covariance,
    chi2,
    dof,
    status,
    model,
    nfev,
):
    """Fit every row of ``y`` (n_fits x n_ch) with 1-sigma ``sig``; NaN y marks a missing channel.

    Inputs shared by the batch: the quadrature nodes (``node_lam`` [um], ``node_w``,
    ``node_ch`` channel index), per-component emissivity ``eps``, ln-temperature bounds
    ``lnlo``/``lnhi`` (equal: fixed), ``exchangeable`` (components share bounds and emissivity:
    the grid is ordered and results are sorted hottest first), background shape ``bg_shape``
    (n_ch) used when ``has_bg``, the multi-start grid ``grid_lnt`` (n_comp x n_grid, a fixed
    component repeats its value) and its channel basis ``grid_basis`` (n_comp x n_grid x n_ch,
    emissivity included). Outputs are in the scaled data units of each row times the row's
    scale, i.e. physical: areas in the unit of y per unit of the basis.
    """
    n_fits, n_ch = y.shape
    n_comp = eps.size
    n_grid = grid_lnt.shape[1]
    n_par = covariance.shape[1]
    n_free = 0
    for j in range(n_comp):
        if lnhi[j] > lnlo[j]:
            n_free += 1
    n_lin_max = n_comp + (1 if has_bg else 0)
    # the grid columns, shared by the batch (exchangeable components share one set)
    g_cols = grid_columns(grid_basis, exchangeable, bg_shape, has_bg)
    n_cols = g_cols.shape[0]
    node_x, node_a = node_constants(node_lam, node_w)
    n_combo = 1
    for _j in range(n_comp):
        n_combo *= n_grid
    # chunks of spectra share one set of scratch arrays: ~60 allocations per fit cost 7 %, and
    # passing ~80 arrays from here (with reference counting) to each fit cost 11 %
    n_chunks = (n_fits + CHUNK - 1) // CHUNK
    for c in numba_prange(n_chunks):
        scratch = _fit_scratch(n_ch, n_cols, n_combo, n_par, n_grid)
        _fit_rows(
            c * CHUNK, min(n_fits, (c + 1) * CHUNK), y, sig, node_x, node_a, node_ch, eps, lnlo,
            lnhi, exchangeable, bg_shape, has_bg, grid_lnt, g_cols, max_iter, temperature, area,
            background, covariance, chi2, dof, status, model, nfev, n_ch, n_comp, n_grid, n_par,
            n_free, n_lin_max, n_cols, n_combo, scratch,
        )  # fmt: skip


@jit(allocates=False)
def _fit_rows(
    first, last, y, sig, node_x, node_a, node_ch, eps, lnlo, lnhi, exchangeable, bg_shape,
    has_bg, grid_lnt, g_cols, max_iter, temperature, area, background, covariance, chi2, dof,
    status, model, nfev, n_ch, n_comp, n_grid, n_par, n_free, n_lin_max, n_cols, n_combo,
    scratch,
):  # fmt: skip
    """:func:`_fit_one` for the rows ``first`` to ``last - 1`` of a batch."""
    for i in range(first, last):
        _fit_one(
            i, y, sig, node_x, node_a, node_ch, eps, lnlo, lnhi, exchangeable, bg_shape, has_bg,
            grid_lnt, g_cols, max_iter, temperature, area, background, covariance, chi2, dof,
            status, model, nfev, n_ch, n_comp, n_grid, n_par, n_free, n_lin_max, n_cols, n_combo,
            scratch,
        )  # fmt: skip


@jit(allocates=False)
def free_components(lnlo, lnhi, free):
    """Indices of the components whose temperature is free (upper > lower bound) into
    ``free``; returns how many."""
    nf = 0
    for j in range(lnlo.size):
        if lnhi[j] > lnlo[j]:
            free[nf] = j
            nf += 1
    return nf


@jit
def _workspace(n_ch):
    """Scratch arrays of one Levenberg-Marquardt run (see :func:`_lm_run`)."""
    return (
        np.zeros(3), np.zeros((4, n_ch)), np.zeros((4, n_ch)), np.zeros((4, n_ch)),
        np.zeros((4, n_ch)), np.zeros(4), np.zeros(4), np.zeros((4, 4)), np.zeros(4),
        np.zeros((4, 4)), np.zeros(4), np.zeros(4), np.zeros(4, dtype=np.int64),
        np.zeros(4, dtype=np.int64), np.zeros((3, n_ch)), np.zeros((3, 3)), np.zeros(3),
        np.zeros((4, 4)), np.zeros(4), np.zeros(4), np.zeros(3), np.zeros(n_ch), np.zeros(4),
    )  # fmt: skip


@jit(fastmath=_SUMS, allocates=False)
def _gradient(cols, dcols, coef, sw, ys, n_row, n_lin, free, nf, res, grad, hess, jac, gram,
              lmat, lvec, gvec, work, col_idx):  # fmt: skip
    """The gradient ``grad`` = J^T r and Gauss-Newton matrix ``hess`` = J^T J in ln T of the
    free components (Golub-Pereyra Jacobian J of the projected weighted residual, written into
    ``res``) at the point whose columns, derivatives and areas are given; the other arguments
    are scratch space."""
    n_act = 0
    for p in range(n_lin):
        if coef[p] > 0.0:
            col_idx[n_act] = p
            n_act += 1
    for p in range(n_act):
        for q in range(p + 1):
            g = 0.0
            for k in range(n_row):
                g += sw[k] * sw[k] * cols[col_idx[p], k] * cols[col_idx[q], k]
            gram[p, q] = g
            gram[q, p] = g
    for k in range(n_row):
        m = 0.0
        for p in range(n_lin):
            m += coef[p] * cols[p, k]
        res[k] = sw[k] * (ys[k] - m)
    for f in range(nf):
        j = free[f]
        a = coef[j]
        for k in range(n_row):
            jac[f, k] = sw[k] * a * dcols[j, k]
        if a > 0.0 and n_act > 0:
            pj = 0
            for p in range(n_act):
                if col_idx[p] == j:
                    pj = p
            for p in range(n_act):
                s = 0.0
                for k in range(n_row):
                    s += sw[k] * cols[col_idx[p], k] * jac[f, k]
                lvec[p] = s
                for q in range(n_act):
                    lmat[p, q] = gram[p, q]
            if _cholesky_solve(lmat, lvec, n_act, work):
                # the second term's coefficients G^-1 e_pj (D_j^T r)
                dr = 0.0
                for k in range(n_row):
                    dr += sw[k] * dcols[j, k] * res[k]
                for p in range(n_act):
                    gvec[p] = dr if p == pj else 0.0
                    for q in range(n_act):
                        lmat[p, q] = gram[p, q]
                if not _cholesky_solve(lmat, gvec, n_act, work):
                    for p in range(n_act):
                        gvec[p] = 0.0
                for k in range(n_row):
                    s = 0.0
                    for p in range(n_act):
                        s += cols[col_idx[p], k] * (gvec[p] - lvec[p])
                    jac[f, k] += sw[k] * s
    for f in range(nf):
        s = 0.0
        for k in range(n_row):
            s += jac[f, k] * res[k]
        grad[f] = s  # = -J^T r with J = dr/du, i.e. the descent direction J^T(y - m)
    _row_gram(jac, nf, hess)


@jit(inline="always", fastmath=_SUMS)
def _gradient_two(cols, dcols, coef, sw, ys, n_row, res, grad, hess):
    """The Golub-Pereyra gradient ``grad`` = J^T r and Gauss-Newton matrix ``hess`` = J^T J of
    :func:`_lm_run` for its common case, two free components with positive areas and no
    background, in closed form (one pass for all weighted products, one for J). Writes the
    weighted residual into ``res``; returns False (nothing written to grad, hess) when the
    two columns are too nearly parallel for the general code's Cholesky factorisation."""
    a0 = coef[0]
    a1 = coef[1]
    g00 = 0.0
    g01 = 0.0
    g11 = 0.0
    cd00 = 0.0  # <c_p, d_j> weighted
    cd01 = 0.0
    cd10 = 0.0
    cd11 = 0.0
    de0 = 0.0  # <d_j, y - m> weighted
    de1 = 0.0
    for k in range(n_row):
        w = sw[k] * sw[k]
        c0 = cols[0, k]
        c1 = cols[1, k]
        d0 = dcols[0, k]
        d1 = dcols[1, k]
        e = ys[k] - (a0 * c0 + a1 * c1)
        res[k] = sw[k] * e
        wc0 = w * c0
        wc1 = w * c1
        g00 += wc0 * c0
        g01 += wc0 * c1
        g11 += wc1 * c1
        cd00 += wc0 * d0
        cd01 += wc0 * d1
        cd10 += wc1 * d0
        cd11 += wc1 * d1
        de0 += w * d0 * e
        de1 += w * d1 * e
    if not (g00 > _TINY and g11 > _TINY):
        return False
    det = g00 * g11 - g01 * g01
    if not det > _COND * g00 * g11:
        return False
    i00 = g11 / det
    i01 = -g01 / det
    i11 = g00 / det
    # J_j = sw (a_j d_j + sum_p b_jp c_p) with b_j = G^-1 e_j <d_j, r> - a_j G^-1 A^T d_j
    b00 = de0 * i00 - a0 * (i00 * cd00 + i01 * cd10)
    b01 = de0 * i01 - a0 * (i01 * cd00 + i11 * cd10)
    b10 = de1 * i01 - a1 * (i00 * cd01 + i01 * cd11)
    b11 = de1 * i11 - a1 * (i01 * cd01 + i11 * cd11)
    h00 = 0.0
    h01 = 0.0
    h11 = 0.0
    q0 = 0.0
    q1 = 0.0
    for k in range(n_row):
        c0 = cols[0, k]
        c1 = cols[1, k]
        u0 = sw[k] * (a0 * dcols[0, k] + b00 * c0 + b01 * c1)
        u1 = sw[k] * (a1 * dcols[1, k] + b10 * c0 + b11 * c1)
        h00 += u0 * u0
        h01 += u0 * u1
        h11 += u1 * u1
        q0 += u0 * res[k]
        q1 += u1 * res[k]
    grad[0] = q0
    grad[1] = q1
    hess[0, 0] = h00
    hess[0, 1] = h01
    hess[1, 0] = h01
    hess[1, 1] = h11
    return True


@jit(fastmath=_SUMS, allocates=False)
def _lm_run(prob, ws, lnt, lnlo, lnhi, free, nf, max_iter, best_final, best_lnt):
    """One Levenberg-Marquardt run in ln T of the free components from ``lnt`` (variable
    projection: the areas are the exact NNLS solution at every point).

    ``prob`` = (node_x, node_a, node_ch, n_ch, eps, n_comp, has_bg, bg_shape, sw, ys, n_lin,
    n_row): n_row > n_ch adds the power row of :func:`_columns` (sw, ys of size n_row)
    describes the spectrum; ``ws`` is the workspace tuple of :func:`_workspace`. ``lnt`` ends at
    the run's end point (its columns and areas are somewhere in ``ws``: recompute them). The run is
    abandoned once it heads for a basin clearly worse than ``best_final`` (np.inf: never) and
    stops where, no better than it, it comes within ``SAME_BASIN`` of ``best_lnt``.
    Returns (cost, converged, evaluations).
    """
    node_x, node_a, node_ch, n_ch, eps, n_comp, has_bg, bg_shape, sw, ys, n_lin, n_row = prob
    (trial, cols, dcols, t_cols, t_dcols, t_coef, coef, gram, rhs, mat, vec, work,
     sub_idx, col_idx, jac, hess, grad, lmat, lvec, gvec, prev_d, res, proj) = ws  # fmt: skip
    evaluations = 0
    _columns(node_x, node_a, node_ch, n_ch, n_row, lnt, eps, n_comp, has_bg, bg_shape, cols,
             dcols)  # fmt: skip
    cost = _solve_areas(cols, sw, ys, n_lin, n_row, coef, gram, rhs, mat, vec, work, sub_idx)
    evaluations += 1
    lam = 1e-3  # initial damping
    nu = 2.0
    s00 = 0.0  # the learnt second-order term S (two free components; see below)
    s01 = 0.0
    s11 = 0.0
    has_prev = False
    prev_g0 = 0.0
    abandon = False
    converged = nf == 0
    it = 0
    while not converged and it < max_iter:
        it += 1
        # Golub-Pereyra Jacobian of the projected residual r = sw (ys - model) = P_perp y:
        # -dr/dlnT_j = P_perp D_j a + A G^-1 e_j (D_j^T r), D_j = sw * dcol_j, A the active
        # weighted columns, G = A^T A. Kaufman's approximation drops the second term; that
        # made Gauss-Newton zig-zag for thousands of steps where a faint component is
        # poorly determined. (Both gradients behind one inline dispatcher, like nnls_small,
        # measured 20.6 -> 24.5 us per fit: the closed form stays at the call site.)
        if not (
            n_lin == 2
            and nf == 2
            and coef[0] > 0.0
            and coef[1] > 0.0
            and _gradient_two(cols, dcols, coef, sw, ys, n_row, res, grad, hess)
        ):
            _gradient(cols, dcols, coef, sw, ys, n_row, n_lin, free, nf, res, grad, hess, jac,
                      gram, lmat, lvec, gvec, work, col_idx)  # fmt: skip
        if has_prev:
            # Overshoot check: where the Gauss-Newton model misjudges the curvature (a faint,
            # poorly determined component) the steps zig-zag across the valley. If the slope
            # along the previous step changed sign, go to the secant minimum on that line.
            g1 = 0.0
            for f in range(nf):
                g1 += grad[f] * prev_d[free[f]]
            has_prev = False
            if nf == 2 and n_row > n_lin + nf:
                # Structured secant update (Dennis, Gay & Welsch 1981, doi:10.1145/355958.355965):
                # J^T J lacks the residual's own curvature, which here is large (a faint
                # component: Gauss-Newton steps overshoot by ~2 and zig-zag for ~40
                # evaluations). The slopes at both ends of the last step measure the true
                # curvature along it; a rank-one change makes J^T J + S match it (S never
                # below 0 along the step), and S is kept positive semi-definite (else dropped).
                # Not without degrees of freedom: the residual then vanishes at the optimum and
                # Gauss-Newton needs no help (4 bands, 2T: 100k -> 91k fits/s with it).
                d0 = prev_d[free[0]]
                d1 = prev_d[free[1]]
                dd = d0 * d0 + d1 * d1
                if dd > 0.0:
                    gn = d0 * d0 * hess[0, 0] + 2.0 * d0 * d1 * hess[0, 1] + d1 * d1 * hess[1, 1]
                    has = d0 * d0 * s00 + 2.0 * d0 * d1 * s01 + d1 * d1 * s11
                    u = (max(prev_g0 - g1 - gn, 0.0) - has) / (dd * dd)
                    s00 += u * d0 * d0
                    s01 += u * d0 * d1
                    s11 += u * d1 * d1
                    if not (s00 >= 0.0 and s11 >= 0.0 and s00 * s11 >= s01 * s01):
                        s00 = 0.0
                        s01 = 0.0
                        s11 = 0.0
            if prev_g0 > 0.0 and g1 < 0.0:
                t_line = prev_g0 / (prev_g0 - g1)
                if 0.02 < t_line < 0.98:
                    for j in range(n_comp):
                        trial[j] = min(max(lnt[j] - (1.0 - t_line) * prev_d[j], lnlo[j]), lnhi[j])
                    _columns(node_x, node_a, node_ch, n_ch, n_row, trial, eps, n_comp, has_bg,
                             bg_shape, t_cols, t_dcols)  # fmt: skip
                    new = _solve_areas(
                        t_cols, sw, ys, n_lin, n_row, t_coef, gram, rhs, mat, vec, work,
                        sub_idx,
                    )  # fmt: skip
                    evaluations += 1
                    if new < cost:
                        rel = (cost - new) / max(cost, 1e-300)
                        for j in range(n_comp):
                            lnt[j] = trial[j]
                        # accept the trial point: its areas, columns and derivatives swap in
                        coef, t_coef = t_coef, coef
                        cols, t_cols = t_cols, cols
                        dcols, t_dcols = t_dcols, dcols
                        cost = new
                        if rel < 1e-11:
                            converged = True
                        continue
        if nf == 2:  # the Levenberg-Marquardt model uses J^T J + S
            hess[0, 0] += s00
            hess[0, 1] += s01
            hess[1, 0] += s01
            hess[1, 1] += s11
        improved = False
        while True:
            for f in range(nf):
                proj[f] = grad[f]
                for g2 in range(nf):
                    lmat[f, g2] = hess[f, g2]
                lmat[f, f] = hess[f, f] * (1.0 + lam)
            for f in range(nf):
                jf = free[f]
                pinned = (lnt[jf] <= lnlo[jf] and grad[f] < 0.0) or (
                    lnt[jf] >= lnhi[jf] and grad[f] > 0.0
                )
                if pinned or not hess[f, f] > 0.0:
                    proj[f] = 0.0
                    for g2 in range(nf):
                        lmat[f, g2] = 0.0
                        lmat[g2, f] = 0.0
                    lmat[f, f] = 1.0
            if not _solve_spd(lmat, proj, nf, work):
                lam *= 10.0
                if lam > 1e12:
                    break
                continue
            if it >= ABANDON_AFTER and cost > best_final:
                # the quadratic model's reduction from here: if even ABANDON_FACTOR times
                # it cannot reach the best minimum found, this basin is worse
                pred = 0.0
                for f in range(nf):
                    pred += 2.0 * proj[f] * grad[f]
                    for g2 in range(nf):
                        pred -= proj[f] * hess[f, g2] * proj[g2]
                if nf == 2:  # with J^T J alone, without S: the larger, cautious prediction
                    pred += proj[0] * proj[0] * s00 + 2.0 * proj[0] * proj[1] * s01
                    pred += proj[1] * proj[1] * s11
                if cost - ABANDON_FACTOR * pred > best_final:
                    abandon = True
                    break
            longest = 0.0
            for f in range(nf):
                longest = max(longest, abs(proj[f]))
            shrink = min(1.0, MAX_STEP / max(longest, 1e-300))
            for j in range(n_comp):
                trial[j] = lnt[j]
            moved = 0.0
            for f in range(nf):
                j = free[f]
                v = min(max(lnt[j] + shrink * proj[f], lnlo[j]), lnhi[j])
                moved = max(moved, abs(v - lnt[j]))
                trial[j] = v
            if moved < 1e-12:
                converged = True
                break
            _columns(node_x, node_a, node_ch, n_ch, n_row, trial, eps, n_comp, has_bg, bg_shape,
                     t_cols, t_dcols)  # fmt: skip
            new = _solve_areas(
                t_cols, sw, ys, n_lin, n_row, t_coef, gram, rhs, mat, vec, work, sub_idx
            )
            evaluations += 1
            # gain ratio of the step taken (after the length cap and the bounds)
            pr = 0.0
            for f in range(nf):
                df = trial[free[f]] - lnt[free[f]]
                pr += 2.0 * df * grad[f]
                for g2 in range(nf):
                    pr -= df * hess[f, g2] * (trial[free[g2]] - lnt[free[g2]])
            rho = (cost - new) / pr if pr > 0.0 else 0.0
            if new <= cost:
                rel = (cost - new) / max(cost, 1e-300)
                prev_g0 = 0.0
                for j in range(n_comp):
                    prev_d[j] = trial[j] - lnt[j]
                for f in range(nf):
                    prev_g0 += grad[f] * prev_d[free[f]]
                has_prev = True
                for j in range(n_comp):
                    lnt[j] = trial[j]
                # accept the trial point: its areas, columns and derivatives swap in
                coef, t_coef = t_coef, coef
                cols, t_cols = t_cols, cols
                dcols, t_dcols = t_dcols, dcols
                cost = new
                # damping update of Nielsen (1999, IMM-REP-1999-05): less where the
                # quadratic model predicted the gain well
                d = 2.0 * rho - 1.0
                lam = max(lam * max(1.0 / 3.0, 1.0 - d * d * d), 1e-9)
                nu = 2.0
                improved = True
                if rel < 1e-11 or moved < 1e-9:
                    converged = True
                if cost >= best_final:
                    # no better than the best minimum and next to it: its basin, stop here
                    same = True
                    for f in range(nf):
                        if abs(lnt[free[f]] - best_lnt[free[f]]) > SAME_BASIN:
                            same = False
                    if same:
                        converged = True
                break
            lam *= nu
            nu *= 2.0
            if lam > 1e12:
                break
        if abandon:
            break
        if not improved and not converged:
            converged = True  # no descent possible from here: a (local) minimum
        if it >= 4 and cost > 1.5 * best_final + 10.0:
            break  # heading for a basin far worse than one already found: abandon
    return cost, converged, evaluations


@jit
def _fit_scratch(n_ch, n_cols, n_combo, n_par, n_grid):
    """Scratch arrays of :func:`_fit_one`, allocated (zeroed) once per chunk of spectra; every
    fit writes what it reads (tests/fit: results do not depend on the batch)."""
    n_start = N_STARTS + 2 + 4 * N_POLISH
    return (
        np.zeros(n_ch), np.zeros(n_ch), np.zeros((n_cols, n_cols)), np.zeros(n_cols),
        np.zeros((4, 4)), np.zeros(4), np.zeros(4), np.zeros((4, 4)), np.zeros(4), np.zeros(4),
        np.zeros(4, dtype=np.int64), np.zeros(4, dtype=np.int64), np.zeros(3, dtype=np.int64),
        np.zeros(n_combo), np.zeros(n_combo, dtype=np.bool_), np.zeros(n_ch), np.zeros(n_ch),
        np.zeros(N_STARTS, dtype=np.int64), np.zeros(N_STARTS), np.zeros((n_start, 3)),
        np.zeros(n_start), np.zeros(3), np.zeros(3, dtype=np.int64), np.zeros(3),
        np.zeros(2, dtype=np.int64), np.zeros(2), np.zeros(n_par, dtype=np.int64),
        np.zeros((n_par, n_ch)), np.zeros((n_par, n_par)), np.zeros((n_par, n_par)),
        np.zeros(n_par), np.zeros(n_par), np.zeros(n_grid), np.zeros(2), np.zeros(n_ch),
        _workspace(n_ch),
    )  # fmt: skip


@jit(fastmath=_SUMS, allocates=False)
def _fit_one(
    i, y, sig, node_x, node_a, node_ch, eps, lnlo, lnhi, exchangeable, bg_shape, has_bg,
    grid_lnt, g_cols, max_iter, temperature, area, background, covariance, chi2, dof,
    status, model, nfev, n_ch, n_comp, n_grid, n_par, n_free, n_lin_max, n_cols, n_combo, scratch,
):  # fmt: skip
    (ys, sw, gram_all, rhs_all, gram, rhs, coef, mat, vec, work, col_idx, sub_idx, combo,
     combo_cost, combo_full, tmp_a, tmp_b, starts, start_cost, start_lnt, start_hint, lnt, free,
     best_lnt, picks, costs, inc, jp, h, inv, w2, c2, line, pair, wcol, ws) = scratch  # fmt: skip
    nan = np.nan
    for j in range(n_comp):
        temperature[i, j] = nan
        area[i, j] = nan
    background[i] = nan
    for p in range(n_par):
        for q in range(n_par):
            covariance[i, p, q] = nan
    chi2[i] = nan
    dof[i] = 0
    nfev[i] = 0
    for k in range(n_ch):
        model[i, k] = nan

    # ---- validate and scale
    bad, n_valid, scale = scaled_spectrum(y[i], sig[i], ys, sw)
    if bad >= 0:
        status[i] = bad
        return
    n_params = n_free + n_lin_max
    if n_valid < n_params:
        status[i] = NOT_ENOUGH
        return

    # ---- multi-start on the grid: Gram of all grid columns, O(1) per combination
    yy = grid_gram(g_cols, sw, ys, n_ch, gram_all, rhs_all, wcol)
    if n_comp == 2 and not has_bg:
        # the common case: every pair in closed form straight from the grid Gram
        combo_cost[:] = np.inf
        combo_full[:] = False
        o1 = 0 if exchangeable else n_grid  # the second component's grid columns
        n0 = n_grid if lnhi[0] > lnlo[0] else 1
        n1 = n_grid if lnhi[1] > lnlo[1] else 1
        for g1 in range(n1):
            b = o1 + g1
            for g0 in range(g1 + 1 if exchangeable else 0, n0):
                c = g0 + g1 * n_grid
                combo_cost[c] = _nnls2(
                    gram_all[g0, g0], gram_all[g0, b], gram_all[b, b], rhs_all[g0], rhs_all[b],
                    yy, coef,
                )  # fmt: skip
                combo_full[c] = coef[0] > 0.0 and coef[1] > 0.0
    else:
        combo[:] = 0
        for c in range(n_combo):
            combo_cost[c] = np.inf
            combo_full[c] = False
            if c > 0:  # next combination (component 0 fastest), without integer divisions
                j = 0
                combo[0] += 1
                while combo[j] == n_grid:
                    combo[j] = 0
                    j += 1
                    combo[j] += 1
            skip = False
            for j in range(n_comp):
                if not lnhi[j] > lnlo[j] and combo[j] > 0:
                    skip = True
                if exchangeable and j > 0 and combo[j] >= combo[j - 1]:
                    skip = True
            if skip:
                continue
            for j in range(n_comp):
                col_idx[j] = (0 if exchangeable else j) * n_grid + combo[j]
            if has_bg:
                col_idx[n_comp] = n_cols - 1
            for p in range(n_lin_max):
                rhs[p] = rhs_all[col_idx[p]]
                for q in range(n_lin_max):
                    gram[p, q] = gram_all[col_idx[p], col_idx[q]]
            combo_cost[c] = nnls_small(gram, rhs, yy, n_lin_max, coef, mat, vec, work, sub_idx)
            full = True
            for j in range(n_comp):
                if not coef[j] > 0.0:
                    full = False
            combo_full[c] = full
    # starts: the lowest local minima of the grid (over +-1 steps along each axis)
    starts[:] = -1
    start_cost[:] = np.inf
    for c in range(n_combo):
        v = combo_cost[c]
        if not (combo_full[c] and v < start_cost[N_STARTS - 1]):
            continue
        stride = 1
        local = True
        for _j in range(n_comp):
            g = (c // stride) % n_grid
            if g > 0 and combo_cost[c - stride] < v:
                local = False
            if g < n_grid - 1 and combo_cost[c + stride] < v:
                local = False
            stride *= n_grid
        if not local:
            continue
        pos = N_STARTS - 1
        while pos > 0 and start_cost[pos - 1] > v:
            start_cost[pos] = start_cost[pos - 1]
            starts[pos] = starts[pos - 1]
            pos -= 1
        start_cost[pos] = v
        starts[pos] = c

    if starts[0] < 0:  # no combination uses every component: start from the best one
        starts[0] = np.argmin(combo_cost)
    n_start = 0
    if n_comp == 2 and exchangeable and lnhi[0] > lnlo[0]:
        # A bright component makes a valley in (T_0, T_1) far narrower than the grid step:
        # start on the line through the one-temperature optimum (refined by Gauss-Newton)
        # at the best grid value of the other component.
        n_start = _line_start(
            node_x, node_a, node_ch, n_ch, eps[0], lnlo[0], lnhi[0], sw, ys, yy,
            grid_lnt[0], gram_all, rhs_all, g_cols, n_grid, start_lnt, tmp_a, tmp_b, line, picks,
            costs, pair,
        )  # fmt: skip
    start_hint[:] = -np.inf  # grid cost of a grid start
    for s_i in range(N_STARTS):
        if starts[s_i] < 0:
            break
        r = starts[s_i]
        for j in range(n_comp):
            start_lnt[n_start, j] = grid_lnt[j, r % n_grid]
            r //= n_grid
        start_hint[n_start] = start_cost[s_i]
        n_start += 1
    step = (grid_lnt[0, n_grid - 1] - grid_lnt[0, 0]) / max(n_grid - 1, 1)

    # ---- Levenberg-Marquardt in ln T of the free components (variable projection)
    cols, dcols = ws[1], ws[2]
    nf = free_components(lnlo, lnhi, free)
    n_lin = n_lin_max
    n_row = n_ch
    prob = (node_x, node_a, node_ch, n_ch, eps, n_comp, has_bg, bg_shape, sw, ys, n_lin, n_row)
    best_final = np.inf
    best_converged = False
    evaluations = 0
    polish = n_comp == 2 and exchangeable and nf == 2
    n_polish = 0
    polish_from = np.inf  # best cost when the last polish round was set up
    best_lnt[:] = np.inf  # (scratch: nothing from the previous spectrum may match it)
    s_i = -1
    while True:
        s_i += 1
        if s_i == n_start:
            # Polish: the cold component's cost profile is often flat with local minima (one at
            # its lower bound); scan the lines through the best hot and the best cold
            # temperature (the latter finds the hot partner of a cold one when the best pair is
            # a faint hot component at its bound) and run again from their other low minima (up
            # to N_POLISH rounds, while they improve).
            if not (polish and n_polish < N_POLISH and best_final < polish_from):
                break
            n_polish += 1
            polish_from = best_final
            hot = 0 if best_lnt[0] >= best_lnt[1] else 1
            for anchor in range(2):
                other = 1 - anchor
                n_line = _line_minima(
                    node_x, node_a, node_ch, n_ch, eps[0], best_lnt[anchor], sw, ys, yy,
                    gram_all, rhs_all, g_cols, grid_lnt[0], n_grid, tmp_a, tmp_b,
                    best_lnt[other], POLISH_RADIUS * step, picks, costs, line, pair,
                )  # fmt: skip
                for r in range(n_line):
                    partner = grid_lnt[0, picks[r]]
                    if costs[r] < best_final + (
                        POLISH_DCHI2 if anchor == hot else POLISH_DCHI2_COLD
                    ):
                        start_lnt[n_start, 0] = max(best_lnt[anchor], partner)
                        start_lnt[n_start, 1] = min(best_lnt[anchor], partner)
                        start_hint[n_start] = -np.inf
                        n_start += 1
            if s_i == n_start:
                break
        if start_hint[s_i] > 1.2 * best_final + 5.0:
            continue  # a grid basin clearly worse than a minimum already found
        if best_final < np.inf:
            near = True  # within a grid step of the best minimum: the same basin
            for j in range(n_comp):
                if abs(start_lnt[s_i, j] - best_lnt[j]) > step:
                    near = False
            if near:
                continue
        for j in range(n_comp):
            lnt[j] = start_lnt[s_i, j]
        cost, converged, n_ev = _lm_run(
            prob, ws, lnt, lnlo, lnhi, free, nf, max_iter, best_final, best_lnt
        )
        evaluations += n_ev
        if cost < best_final:
            best_final = cost
            best_converged = converged
            for j in range(n_comp):
                best_lnt[j] = lnt[j]
    # recompute the best solution's columns, areas and derivatives
    converged = best_converged
    for j in range(n_comp):
        lnt[j] = best_lnt[j]
    _columns(node_x, node_a, node_ch, n_ch, n_row, lnt, eps, n_comp, has_bg, bg_shape, cols, dcols)
    cost = _solve_areas(cols, sw, ys, n_lin, n_ch, coef, gram, rhs, mat, vec, work, sub_idx)

    # ---- order components hottest first when they are exchangeable
    if exchangeable:
        for a in range(n_comp):
            for b in range(n_comp - 1 - a):
                if lnt[b] < lnt[b + 1]:
                    lnt[b], lnt[b + 1] = lnt[b + 1], lnt[b]
                    coef[b], coef[b + 1] = coef[b + 1], coef[b]
                    for k in range(n_ch):
                        cols[b, k], cols[b + 1, k] = cols[b + 1, k], cols[b, k]
                        dcols[b, k], dcols[b + 1, k] = dcols[b + 1, k], dcols[b, k]

    # ---- results in physical units
    at_bound = False
    for j in range(n_comp):
        temperature[i, j] = math.exp(lnt[j])
        area[i, j] = coef[j] * scale
        if lnhi[j] > lnlo[j]:
            if coef[j] <= 0.0 or lnt[j] <= lnlo[j] + 1e-9 or lnt[j] >= lnhi[j] - 1e-9:
                at_bound = True
    if has_bg:
        background[i] = coef[n_comp] * scale
        if coef[n_comp] <= 0.0:
            at_bound = True
    chi2[i] = cost
    dof[i] = n_valid - n_params
    nfev[i] = evaluations
    for k in range(n_ch):
        m = 0.0
        for p in range(n_lin):
            m += coef[p] * cols[p, k]
        model[i, k] = m * scale

    # ---- covariance of (T_0..T_c-1, a_0..a_c-1[, b]) from the weighted Jacobian
    # parameter p is included when it is free (a temperature with a_j > 0, any area)
    n_inc = 0
    for j in range(n_comp):
        if lnhi[j] > lnlo[j] and coef[j] > 0.0:
            inc[n_inc] = j
            n_inc += 1
    for p in range(n_comp, n_par):
        inc[n_inc] = p
        n_inc += 1
    for p in range(n_inc):
        q = inc[p]
        for k in range(n_ch):
            if q < n_comp:  # d model / d T_q  (scaled model units per K)
                jp[p, k] = sw[k] * coef[q] * dcols[q, k] / math.exp(lnt[q])
            elif q < 2 * n_comp:
                jp[p, k] = sw[k] * cols[q - n_comp, k]
            else:
                jp[p, k] = sw[k] * bg_shape[k]
    _row_gram(jp, n_inc, h)
    ok = _cholesky_inverse(h, n_inc, inv, w2, c2)
    if ok:
        for p in range(n_inc):
            fp = 1.0 if inc[p] < n_comp else scale
            for q in range(n_inc):
                fq = 1.0 if inc[q] < n_comp else scale
                covariance[i, inc[p], inc[q]] = inv[p, q] * fp * fq
        # a fixed temperature has exactly zero variance
        for j in range(n_comp):
            if not lnhi[j] > lnlo[j]:
                for q in range(n_par):
                    covariance[i, j, q] = 0.0
                    covariance[i, q, j] = 0.0
    if not converged:
        status[i] = MAX_ITERATIONS
    elif not ok:
        status[i] = DEGENERATE
    elif at_bound:
        status[i] = AT_BOUND
    else:
        status[i] = CONVERGED
