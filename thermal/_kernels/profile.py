"""Profile-likelihood intervals of fitted temperatures and of the total power (batched).

For one parameter theta (a component's ln T, or the logarithm of the total power) the profile
chi-square chi2_p(v) is the lowest chi-square of the model with theta held at v and every other
parameter refitted. The 1-sigma interval is {v : chi2_p(v) <= chi2_min + 1} (Wilks' theorem;
the method of Venzon & Moolgavkar 1988, doi:10.2307/2347496). Unlike the linearised (Wald)
interval it follows a curved or one-sided valley, such as the cold component of a two-
temperature fit that the data barely see, and stops at the parameter bounds.

How chi2_p(v) is computed (reusing the fit kernel's pieces):

* a temperature: the component is fixed at v (its bounds set to v; for exchangeable components
  the hotter ones are kept >= v and the colder ones <= v, so "the hottest" stays the hottest)
  and the other temperatures are refitted by :func:`thermal._kernels.lm._lm_run`, areas by
  exact non-negative least squares;
* the power P = sum eps_j sigma T_j^4 a_j: one extra data row holds v with a 1-sigma of
  min(sigma_P, 1e-3 v) / 100 (sigma_P the linearised uncertainty), and all temperatures and
  areas are refitted under it. The row holds P to ~1e-4 sigma_P of v, and results do not move
  when its weight is changed tenfold (coverage 0.6541 vs 0.6554 on 3000 spectra). Scaling by
  v as well as by sigma_P matters: where an unseen cold component makes sigma_P huge, a row
  weighted by sigma_P alone lets P leak far from v and the interval balloons.

Each inner fit starts from the solution at the neighbouring profile point (continuation) and
from the unconstrained optimum; for two free components also from the lowest grid minima of
the other one along the line T_fixed = v (see :func:`thermal._kernels.fit._line_minima`), so that a
jump of the free component to another basin is not missed. From the optimum the profile is
walked outwards in steps doubling from the linearised sigma until chi2_p exceeds the level,
and the crossing is found by regula falsi on sqrt(chi2_p - chi2_min) - 1, which is close to
linear in the parameter, to 1e-5 in ln v. An interval that reaches a temperature bound ends
there; a power interval still open 35 e-folds away is reported as 0 or +inf.

Limits: the interval is the one around the optimum up to the first crossing found. A profile
that rises above the level and falls back below it further out (a second basin, seen for
`at_bound` fits) is cut at the first crossing the doubling steps meet. When a profile point
beats the fit's chi-square (the fit missed the global optimum) the intervals are measured
again from that lower minimum. A fit whose power is 0 gets NaN power limits.
"""

import math

import numpy as np
from numba import prange as numba_prange

from thermal._kernels import SUMS, jit, kernel
from thermal._kernels.fit import (
    AT_BOUND,
    CONVERGED,
    MAX_ITERATIONS,
    _line_minima,
    grid_columns,
    grid_gram,
    node_constants,
    scaled_spectrum,
)
from thermal._kernels.lm import _lm_run, _workspace, free_components
from thermal._kernels.planck import pow4
from thermal.constants import STEFAN_BOLTZMANN

LEVEL = 1.0  # chi-square rise of a 1-sigma (68.3 %) interval of one parameter
POWER_WEIGHT = 100.0  # weight of the power row in units of 1 / sigma_P
POWER_PRECISION = 1e-3  # the power row's sigma is at most this fraction of the power
POWER_REACH = 35.0  # e-folds of power walked before an interval is called open
TOLERANCE = 1e-5  # in ln T or ln P
MAX_REFINE = 40
_N_STARTS = 4


@kernel
def profile_batch(
    y, sig, node_lam, node_w, node_ch, eps, lnlo, lnhi, exchangeable, bg_shape, has_bg,
    grid_lnt, grid_basis, max_iter, temperature, area, covariance, chi2, status,
    t_lower, t_upper, p_lower, p_upper,
):  # fmt: skip
    """Profile-likelihood 1-sigma intervals for every row of a batch fitted by ``fit_batch``.

    Inputs are those of :func:`thermal._kernels.fit.fit_batch` and its outputs
    ``temperature`` [K], ``area``, ``covariance``, ``chi2`` and ``status``. Writes the ends of
    each free component's temperature interval (``t_lower``, ``t_upper``, n_fits x n_comp [K];
    a fixed temperature gets its value) and of the power's (``p_lower``, ``p_upper``, in the
    unit of area x W m-2). Rows whose fit has no optimum (bad data, too few channels,
    degenerate) get NaN.
    """
    n_fits, n_ch = y.shape
    g_cols = grid_columns(grid_basis, exchangeable, bg_shape, has_bg)
    node_x, node_a = node_constants(node_lam, node_w)
    for i in numba_prange(n_fits):
        _profile_one(
            i, y, sig, node_x, node_a, node_ch, eps, lnlo, lnhi, exchangeable, bg_shape, has_bg,
            grid_lnt, g_cols, max_iter, temperature, area, covariance, chi2, status, t_lower,
            t_upper, p_lower, p_upper, n_ch,
        )  # fmt: skip


@jit(fastmath=SUMS)
def _profile_one(
    i, y, sig, node_x, node_a, node_ch, eps, lnlo, lnhi, exchangeable, bg_shape, has_bg,
    grid_lnt, g_cols, max_iter, temperature, area, covariance, chi2, status, t_lower, t_upper,
    p_lower, p_upper, n_ch,
):  # fmt: skip
    n_comp = eps.size
    for j in range(n_comp):
        t_lower[i, j] = np.nan
        t_upper[i, j] = np.nan
    p_lower[i] = np.nan
    p_upper[i] = np.nan
    st = status[i]
    if not (st == CONVERGED or st == AT_BOUND or st == MAX_ITERATIONS):
        return
    chi_min = chi2[i]
    if not math.isfinite(chi_min):
        return
    n_row = n_ch + 1  # the last row is the power row, weight 0 unless the power is profiled
    ys = np.zeros(n_row)
    sw = np.zeros(n_row)
    bad, _n_valid, scale = scaled_spectrum(y[i], sig[i], ys[:n_ch], sw[:n_ch])
    if bad >= 0:
        return
    n_lin = n_comp + (1 if has_bg else 0)
    prob = (node_x, node_a, node_ch, n_ch, eps, n_comp, has_bg, bg_shape, sw, ys, n_lin, n_row)
    ws = _workspace(n_row)
    lnt_hat = np.empty(n_comp)
    for j in range(n_comp):
        lnt_hat[j] = math.log(temperature[i, j])
    # the line starts of two free components
    n_grid = grid_lnt.shape[1]
    use_line = n_comp == 2 and lnhi[0] > lnlo[0] and lnhi[1] > lnlo[1]
    gram_all = np.empty((g_cols.shape[0], g_cols.shape[0]))
    rhs_all = np.empty(g_cols.shape[0])
    yy = grid_gram(g_cols, sw, ys, n_ch, gram_all, rhs_all, np.empty(n_ch)) if use_line else 0.0
    line = (gram_all, rhs_all, g_cols, grid_lnt, n_grid, yy, use_line)
    # scratch of the walks (by index): 0 starts, 1 continuation, 2 found, 3-4 bounds, 5-6 a line
    # column and its derivative, 7 lowest chi2 seen, 8-9 line costs and areas, 10 power
    # gradient, 11 ln T, 12-13 line picks and costs, 14 free components
    scratch = (np.empty((_N_STARTS, n_comp)), np.empty(n_comp), np.empty(n_comp),
               np.empty(n_comp), np.empty(n_comp), np.empty(n_ch), np.empty(n_ch),
               np.empty(1), np.empty(n_grid), np.empty(2), np.empty(2 * n_comp + 1),
               np.empty(n_comp), np.empty(2, dtype=np.int64), np.empty(2),
               np.empty(3, dtype=np.int64))  # fmt: skip
    for _attempt in range(2):
        seen = _intervals(
            i, chi_min, temperature, area, covariance, lnt_hat, scale, prob, ws, lnlo, lnhi,
            exchangeable, line, scratch, max_iter, t_lower, t_upper, p_lower, p_upper,
        )  # fmt: skip
        if not seen < chi_min - 1e-6 * max(chi_min, 1.0):
            break
        chi_min = seen  # the profile found a lower minimum than the fit: measure from it


@jit(fastmath=SUMS, allocates=False)
def _intervals(
    i, chi_min, temperature, area, covariance, lnt_hat, scale, prob, ws, lnlo, lnhi, exchangeable,
    line, scratch, max_iter, t_lower, t_upper, p_lower, p_upper,
):  # fmt: skip
    """Every interval of row ``i`` at the level ``chi_min`` + 1; returns the lowest profile
    chi-square met on the way."""
    n_ch, eps, n_comp, sw = prob[3], prob[4], prob[5], prob[8]
    level = chi_min + LEVEL
    scratch[7][0] = np.inf

    # ---- temperatures
    for h in range(n_comp):
        if not lnhi[h] > lnlo[h]:
            t_lower[i, h] = temperature[i, h]
            t_upper[i, h] = temperature[i, h]
            continue
        u0 = lnt_hat[h]
        sd = math.sqrt(covariance[i, h, h]) / temperature[i, h]
        step = min(max(sd, 1e-4), 0.1) if math.isfinite(sd) and sd > 0.0 else 0.01
        down = _walk(0, h, u0, -1.0, step, 0.0, u0 - lnlo[h], chi_min, level, prob, ws, lnlo,
                     lnhi, exchangeable, lnt_hat, line, scratch, max_iter)  # fmt: skip
        up = _walk(0, h, u0, 1.0, step, 0.0, lnhi[h] - u0, chi_min, level, prob, ws, lnlo, lnhi,
                   exchangeable, lnt_hat, line, scratch, max_iter)  # fmt: skip
        t_lower[i, h] = max(math.exp(u0 - down), math.exp(lnlo[h]))
        t_upper[i, h] = min(math.exp(u0 + up), math.exp(lnhi[h]))

    # ---- power, in scaled units: P_s = sum eps sigma T^4 a / scale
    p_hat = 0.0
    for j in range(n_comp):
        t = temperature[i, j]
        p_hat += eps[j] * STEFAN_BOLTZMANN * pow4(t) * area[i, j] / scale
    if not p_hat > 0.0:
        return scratch[7][0]
    var = 0.0  # g^T C g of the linearised power uncertainty, 0 x NaN = 0
    n_par = covariance.shape[1]
    grad = scratch[10]
    for p in range(n_par):
        grad[p] = 0.0
    for j in range(n_comp):
        t = temperature[i, j]
        grad[j] = 4.0 * eps[j] * STEFAN_BOLTZMANN * (t * (t * t)) * area[i, j]
        grad[n_comp + j] = eps[j] * STEFAN_BOLTZMANN * pow4(t)
    for p in range(n_par):
        for q in range(n_par):
            if grad[p] != 0.0 and grad[q] != 0.0:
                var += grad[p] * grad[q] * covariance[i, p, q]
    sd_p = math.sqrt(var) / scale if var > 0.0 else np.nan
    if not (math.isfinite(sd_p) and sd_p > 0.0):
        sd_p = 0.01 * p_hat
    u0 = math.log(p_hat)
    step = min(max(sd_p / p_hat, 1e-4), 0.1)
    down = _walk(1, 0, u0, -1.0, step, sd_p, POWER_REACH, chi_min, level, prob, ws, lnlo, lnhi,
                 exchangeable, lnt_hat, line, scratch, max_iter)  # fmt: skip
    up = _walk(1, 0, u0, 1.0, step, sd_p, POWER_REACH, chi_min, level, prob, ws, lnlo, lnhi,
               exchangeable, lnt_hat, line, scratch, max_iter)  # fmt: skip
    p_lower[i] = 0.0 if down >= POWER_REACH else math.exp(u0 - down) * scale
    p_upper[i] = np.inf if up >= POWER_REACH else math.exp(u0 + up) * scale
    sw[n_ch] = 0.0
    return scratch[7][0]


@jit(fastmath=SUMS, allocates=False)
def _walk(mode, h, u0, d, step, sd_p, reach, chi_min, level, prob, ws, lnlo, lnhi, exchangeable,
          lnt_hat, line, scratch, max_iter):  # fmt: skip
    """Distance from ``u0`` in direction ``d`` (+-1) at which the profile crosses ``level``;
    ``reach`` when it stays below up to there. ``mode`` 0 profiles ln T of component ``h``,
    mode 1 the log power."""
    cont = scratch[1]
    found = scratch[2]
    for j in range(lnt_hat.size):
        cont[j] = lnt_hat[j]
    if not reach > 0.0:
        return 0.0
    off_in = 0.0
    q_in = -1.0  # sqrt(chi2_p - chi2_min) - 1 at the optimum
    off_out = 0.0
    q_out = 0.0
    off = step
    while True:
        off = min(off, reach)
        c = _profile_at(mode, h, u0 + d * off, sd_p, prob, ws, lnlo, lnhi, exchangeable, cont,
                        lnt_hat, line, scratch, max_iter, found)  # fmt: skip
        if c > level:
            off_out = off
            q_out = math.sqrt(c - chi_min) - 1.0
            break
        off_in = off
        q_in = math.sqrt(max(c - chi_min, 0.0)) - 1.0
        for j in range(lnt_hat.size):
            cont[j] = found[j]
        if off >= reach:
            return reach
        off *= 2.0
    # regula falsi (Illinois) on q, nearly linear in the parameter near the crossing
    side = 0
    for _it in range(MAX_REFINE):
        if off_out - off_in < TOLERANCE:
            break
        t = q_in / (q_in - q_out)
        t = min(max(t, 0.02), 0.98)
        m = off_in + t * (off_out - off_in)
        c = _profile_at(mode, h, u0 + d * m, sd_p, prob, ws, lnlo, lnhi, exchangeable, cont,
                        lnt_hat, line, scratch, max_iter, found)  # fmt: skip
        q = math.sqrt(max(c - chi_min, 0.0)) - 1.0
        if abs(q) < 1e-6:
            return m
        if q <= 0.0:
            off_in = m
            q_in = q
            for j in range(lnt_hat.size):
                cont[j] = found[j]
            if side == -1:
                q_out *= 0.5
            side = -1
        else:
            off_out = m
            q_out = q
            if side == 1:
                q_in *= 0.5
            side = 1
    t = q_in / (q_in - q_out)
    return off_in + min(max(t, 0.0), 1.0) * (off_out - off_in)


@jit(fastmath=SUMS, allocates=False)
def _profile_at(mode, h, u, sd_p, prob, ws, lnlo, lnhi, exchangeable, cont, lnt_hat, line, scratch,
                max_iter, found):  # fmt: skip
    """chi2_p at ``u`` (ln T of component ``h`` in mode 0, log power in mode 1): the best of
    Levenberg-Marquardt runs from ``cont``, the optimum ``lnt_hat`` and the line minima.
    Writes the best temperatures [ln K] into ``found``."""
    node_x, node_a, node_ch, n_ch, eps, n_comp = prob[:6]
    sw, ys = prob[8], prob[9]
    gram_all, rhs_all, g_cols, grid_lnt, n_grid, yy, use_line = line
    starts, lo, hi, lnt = scratch[0], scratch[3], scratch[4], scratch[11]
    for j in range(n_comp):
        lo[j] = lnlo[j]
        hi[j] = lnhi[j]
    if mode == 0:
        lo[h] = u
        hi[h] = u
        if exchangeable:
            for j in range(n_comp):
                if j < h:
                    lo[j] = max(lo[j], u)
                elif j > h:
                    hi[j] = min(hi[j], u)
    else:
        ys[n_ch] = math.exp(u)
        sw[n_ch] = POWER_WEIGHT / min(sd_p, POWER_PRECISION * ys[n_ch])
    n_start = 0
    for j in range(n_comp):
        starts[0, j] = cont[j]
        starts[1, j] = lnt_hat[j]
    n_start = 2
    if mode == 0 and use_line:
        picks, costs = scratch[12], scratch[13]
        other = 1 - h
        o = 0 if exchangeable else other * n_grid  # the other component's grid columns
        n_line = _line_minima(
            node_x, node_a, node_ch, n_ch, eps[h], u, sw, ys, yy,
            gram_all[o : o + n_grid, o : o + n_grid], rhs_all[o : o + n_grid],
            g_cols[o : o + n_grid], grid_lnt[other], n_grid, scratch[5], scratch[6], -np.inf,
            0.0, picks, costs, scratch[8], scratch[9],
        )  # fmt: skip
        for r in range(n_line):
            starts[n_start, h] = u
            starts[n_start, other] = grid_lnt[other, picks[r]]
            n_start += 1
    free = scratch[14]
    nf = free_components(lo, hi, free)
    best = np.inf
    for s in range(n_start):
        same = False
        for r in range(s):
            d = 0.0
            for j in range(n_comp):
                d = max(d, abs(min(max(starts[s, j], lo[j]), hi[j]) - starts[r, j]))
            if d < 1e-9:
                same = True
        if same:
            continue
        for j in range(n_comp):
            lnt[j] = min(max(starts[s, j], lo[j]), hi[j])
            starts[s, j] = lnt[j]
        cost, _conv, _nev = _lm_run(prob, ws, lnt, lo, hi, free, nf, max_iter, best, found)
        if cost < best:
            best = cost
            for j in range(n_comp):
                found[j] = lnt[j]
    scratch[7][0] = min(scratch[7][0], best)
    return best
