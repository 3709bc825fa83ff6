"""The batched multi-temperature fit kernel (float64, no Python objects).

Model of one spectrum (``m`` channels, ``c`` blackbody components, optional background):

    y_k = sum_j a_j * eps_j * Bbar_k(T_j) + b * S_k

where ``Bbar_k(T)`` is the channel basis (a spectral channel is one quadrature node of weight 1,
a band channel is its quadrature nodes and weights), ``a_j >= 0`` the areas (or area fractions)
and ``S_k`` a fixed background shape with amplitude ``b >= 0``.

Method (variable projection, Golub & Pereyra 1973, doi:10.1137/0710036):

1. For given temperatures the areas are an exact non-negative linear least-squares problem with
   at most 4 columns, solved by enumerating active sets (the best feasible unconstrained subset
   solution is the NNLS optimum; :mod:`thermal._kernels.linalg`).
2. Multi-start: every combination of a deterministic log-spaced temperature grid per component
   is scored through a Gram matrix of the grid basis precomputed once per spectrum, so each
   combination costs O(1); the best grid local minima start the search, and for two
   exchangeable components so do the minima along the line through the one-temperature
   optimum.
3. Levenberg-Marquardt over ln T of the free components only, with the full Golub-Pereyra
   Jacobian, a secant correction of J^T J and runs abandoned or stopped once they head for a
   worse basin or the best one (:mod:`thermal._kernels.lm`).
4. Polish (two exchangeable components): the cold component's cost profile is often flat with
   several shallow minima, one on its lower bound; the line through the best hot temperature
   is scanned again and low minima away from the best cold temperature start new runs. So is
   the line through the best cold temperature: when the best pair found is a faint hot
   component at its bound over a real one, the real one's partner lies on that line.
5. Covariance of the full physical parameter set (T_j, a_j, b) from (J^T W J)^-1 at the optimum,
   with the given 1-sigma uncertainties taken as absolute.

Data are scaled by the spectrum's largest |y| so all numbers are O(1); the caller unscales.
Status codes are those of :class:`thermal.status.Status`.
"""

import math

import numpy as np
from numba import prange as numba_prange

from thermal._kernels import SUMS, jit, kernel
from thermal._kernels.linalg import TINY, _cholesky_inverse, _nnls2, _row_gram, nnls_small
from thermal._kernels.lm import _lm_run, _workspace, channel_basis, evaluate, free_components
from thermal.constants import C1, C2
from thermal.status import Status

STATUS = tuple(s.meaning for s in Status)
CONVERGED = int(Status.CONVERGED)
MAX_ITERATIONS = int(Status.MAX_ITERATIONS)
NOT_ENOUGH = int(Status.NOT_ENOUGH_CHANNELS)
NO_DATA = int(Status.NO_DATA)
DEGENERATE = int(Status.DEGENERATE)
AT_BOUND = int(Status.AT_BOUND)
BAD_SIGMA = int(Status.INVALID_UNCERTAINTY)
BAD_DATA = int(Status.INVALID_DATA)

N_STARTS = 2  # Levenberg-Marquardt runs from the best grid local minima
N_POLISH = 2  # rounds of restarts from the line through the best hot temperature
POLISH_DCHI2 = 0.3  # line minima through the best hot temperature worth a run
POLISH_DCHI2_COLD = 5.0  # through the best cold one (rarely any, but often right)
POLISH_RADIUS = 1.5  # grid steps around the best cold temperature the polish skips
CHUNK = 64  # spectra per scratch allocation (and per parallel task)


@jit(fastmath=SUMS, allocates=False)
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


@jit(fastmath=SUMS, allocates=False)
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


@jit(fastmath=SUMS, allocates=False)
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
        if r > 0.0 and gram_all[g, g] > TINY:
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
        if not (r > 0.0 and gg > TINY):
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


@jit(fastmath=SUMS, allocates=False)
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
    """Per-node x = c2 / lambda [K] and weight x c1 / lambda^5 (see
    :func:`thermal._kernels.lm.channel_basis`)."""
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


@jit(fastmath=SUMS, allocates=False)
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
    cost = evaluate(prob, lnt, cols, dcols, coef, gram, rhs, mat, vec, work, sub_idx)

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
