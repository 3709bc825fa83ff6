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
  and the other temperatures are refitted by :func:`thermal._kernels.lm.lm_run`, areas by
  exact non-negative least squares;
* the power P = sum eps_j sigma T_j^4 a_j: one extra data row holds v with a 1-sigma of
  min(sigma_P, 1e-3 v) / 100 (sigma_P the linearised uncertainty), and all temperatures and
  areas are refitted under it. The row holds P to ~1e-4 sigma_P of v, and results do not move
  when its weight is changed tenfold (coverage 0.6541 vs 0.6554 on 3000 spectra). Scaling by
  v as well as by sigma_P matters: where an unseen cold component makes sigma_P huge, a row
  weighted by sigma_P alone lets P leak far from v and the interval balloons.

Each inner fit starts from the solution at the neighbouring profile point (continuation) and
from the unconstrained optimum; for two free components also from the lowest grid minima of
the other one along the line T_fixed = v (see :func:`thermal._kernels.fit.line_minima`), so that a
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
from typing import NamedTuple

import numpy as np

from thermal._kernels import SUMS, jit, kernel
from thermal._kernels.fit import (
    AT_BOUND,
    CONVERGED,
    MAX_ITERATIONS,
    NOT_ENOUGH,
    Fits,
    Lines,
    Problem,
    grid_gram,
    line_minima,
    line_scratch,
    scaled_spectrum,
)
from thermal._kernels.fit import example as fit_example
from thermal._kernels.lm import Spectrum, Workspace, free_components, lm_run, workspace
from thermal._kernels.planck import pow4
from thermal.constants import STEFAN_BOLTZMANN

LEVEL = 1.0  # chi-square rise of a 1-sigma (68.3 %) interval of one parameter
POWER_WEIGHT = 100.0  # weight of the power row in units of 1 / sigma_P
POWER_PRECISION = 1e-3  # the power row's sigma is at most this fraction of the power
POWER_REACH = 35.0  # e-folds of power walked before an interval is called open
TOLERANCE = 1e-5  # in ln T or ln P
MAX_REFINE = 40
_N_STARTS = 4
TEMPERATURE = 0  # what a walk profiles: the ln T of one component
POWER = 1  # or the log of the total power


class Intervals(NamedTuple):
    """Per-spectrum results of :func:`profile_batch`."""

    t_lower: np.ndarray  # (n_fits, n_comp) [K]
    t_upper: np.ndarray
    p_lower: np.ndarray  # (n_fits) in the unit of area x W m-2
    p_upper: np.ndarray


class Walk(NamedTuple):
    """One spectrum whose profiles are walked, and the walks' scratch."""

    problem: Problem
    sp: Spectrum  # the spectrum with its power row (weight 0 unless the power is profiled)
    ws: Workspace
    lines: Lines  # the grid Gram and line scratch (the line starts of two free components)
    yy: float
    use_line: bool
    lnt_hat: np.ndarray  # (n_comp) the optimum [ln K]
    starts: np.ndarray  # (_N_STARTS, n_comp)
    cont: np.ndarray  # (n_comp) continuation: the solution at the previous profile point
    found: np.ndarray  # (n_comp) the best solution at this point
    lo: np.ndarray  # (n_comp) bounds with the profiled component held
    hi: np.ndarray
    seen: np.ndarray  # (1) lowest chi-square met
    grad: np.ndarray  # (n_par) gradient of the power
    lnt: np.ndarray  # (n_comp)
    free: np.ndarray  # (3) int64


class Scratch(NamedTuple):
    """Scratch arrays of :func:`profile_batch`, one set per chunk of rows (see :func:`scratch`)."""

    ys: np.ndarray  # (n_ch + 1) scaled data and the power row
    sw: np.ndarray  # (n_ch + 1) weights
    ws: Workspace
    lines: Lines
    lnt_hat: np.ndarray  # (n_comp)
    starts: np.ndarray  # the scratch of Walk
    cont: np.ndarray
    found: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    seen: np.ndarray
    grad: np.ndarray
    lnt: np.ndarray
    free: np.ndarray


def scratch(y, sig, p, fits, out) -> Scratch:
    """The :class:`Scratch` of :func:`profile_batch` (numpy)."""
    n_ch = y.shape[1]
    n_comp = p.grid_lnt.shape[0]
    z = np.zeros
    return Scratch(
        z(n_ch + 1), z(n_ch + 1), workspace(n_ch + 1), line_scratch(p, n_ch), z(n_comp),
        z((_N_STARTS, n_comp)), z(n_comp), z(n_comp), z(n_comp), z(n_comp), z(1),
        z(2 * n_comp + 1), z(n_comp), z(3, np.int64),
    )  # fmt: skip


def intervals(n_fits: int, n_comp: int) -> Intervals:
    """The :class:`Intervals` of ``n_fits`` spectra (numpy, uninitialised)."""
    e = np.empty
    return Intervals(e((n_fits, n_comp)), e((n_fits, n_comp)), e(n_fits), e(n_fits))


def example() -> tuple:
    """Arguments of :func:`profile_batch` with the argument types of every call (see
    :func:`thermal._kernels.fit.example`)."""
    y, sig, p, fits = fit_example()
    for values in fits:
        values[...] = 0
    fits.status[:] = NOT_ENOUGH  # no optimum: the row is skipped, the kernel compiled all the same
    return y, sig, p, fits, intervals(1, 2)


@kernel(rows="y", inputs=("y", "sig"), scratch=scratch, example=example, fastmath=SUMS)
def profile_batch(first, last, y, sig, p: Problem, fits: Fits, out: Intervals, s: Scratch):
    """Profile-likelihood 1-sigma intervals for the rows ``first`` to ``last - 1`` of a batch
    fitted by :func:`thermal._kernels.fit.fit_batch`.

    Inputs are those of ``fit_batch`` and its results ``fits``
    (:class:`~thermal._kernels.fit.Fits`: temperature [K], area, covariance, chi2 and status
    are read). Writes into ``out``
    (:class:`Intervals`) the ends of each free component's temperature interval (a fixed
    temperature gets its value) and of the power's. Rows whose fit has no optimum (bad data,
    too few channels, degenerate) get NaN. ``s`` is the :class:`Scratch`.

    From Python: ``profile_batch(y, sig, p, fits, out, size=work)``.
    """
    n_ch = y.shape[1]
    n_comp = p.grid_lnt.shape[0]
    t_lower, t_upper, p_lower, p_upper = out
    temperature, area, covariance = fits.temperature, fits.area, fits.covariance
    lnlo, lnhi, eps = p.lnlo, p.lnhi, p.eps
    # the walks' mode as int64 variables, not literals: one compilation of _walk
    temperature_mode, power_mode, none = np.int64(TEMPERATURE), np.int64(POWER), np.int64(0)
    for i in range(first, last):
        for j in range(n_comp):
            t_lower[i, j] = np.nan
            t_upper[i, j] = np.nan
        p_lower[i] = np.nan
        p_upper[i] = np.nan
        st = fits.status[i]
        if not (st == CONVERGED or st == AT_BOUND or st == MAX_ITERATIONS):
            continue
        chi_min = fits.chi2[i]
        if not math.isfinite(chi_min):
            continue
        n_row = n_ch + 1  # the last row is the power row, weight 0 unless the power is profiled
        ys, sw = s.ys, s.sw
        ys[n_ch] = 0.0
        sw[n_ch] = 0.0
        bad, _n_valid, scale = scaled_spectrum(y[i], sig[i], ys[:n_ch], sw[:n_ch])
        if bad >= 0:
            continue
        n_lin = n_comp + (1 if p.has_bg else 0)
        sp = Spectrum(p.node_x, p.node_a, p.node_ch, n_ch, p.eps, n_comp, p.has_bg, p.bg_shape, sw,
                      ys, n_lin, n_row)  # fmt: skip
        lnt_hat = s.lnt_hat
        for j in range(n_comp):
            lnt_hat[j] = math.log(fits.temperature[i, j])
        # the line starts of two free components
        use_line = n_comp == 2 and p.lnhi[0] > p.lnlo[0] and p.lnhi[1] > p.lnlo[1]
        yy = 0.0
        if use_line:
            yy = grid_gram(p.g_cols, sw, ys, n_ch, s.lines.gram_all, s.lines.rhs_all, s.lines.col)
        walk = Walk(
            p, sp, s.ws, s.lines, yy, use_line, lnt_hat, s.starts, s.cont, s.found, s.lo, s.hi,
            s.seen, s.grad, s.lnt, s.free,
        )  # fmt: skip
        for _attempt in range(2):
            # every interval at the level chi_min + 1: walks down and up from each free
            # temperature, then from the power, through one call of _walk
            level = chi_min + LEVEL
            walk.seen[0] = np.inf
            u0 = step = sd_p = 0.0
            for k in range(2 * n_comp + 2):
                h = k // 2
                down = k % 2 == 0
                if h < n_comp:  # ---- temperatures
                    if not lnhi[h] > lnlo[h]:
                        t_lower[i, h] = temperature[i, h]
                        t_upper[i, h] = temperature[i, h]
                        continue
                    u0 = lnt_hat[h]
                    sd = math.sqrt(covariance[i, h, h]) / temperature[i, h]
                    step = min(max(sd, 1e-4), 0.1) if math.isfinite(sd) and sd > 0.0 else 0.01
                    mode, comp, sd_p = temperature_mode, np.int64(h), 0.0
                    reach = u0 - lnlo[h] if down else lnhi[h] - u0
                else:  # ---- power, in scaled units: P_s = sum eps sigma T^4 a / scale
                    if down:
                        p_hat = 0.0
                        for j in range(n_comp):
                            t = temperature[i, j]
                            p_hat += eps[j] * STEFAN_BOLTZMANN * pow4(t) * area[i, j] / scale
                        if not p_hat > 0.0:
                            break  # no power: no interval of it
                        var = 0.0  # g^T C g of the linearised power uncertainty, 0 x NaN = 0
                        n_par = covariance.shape[1]
                        grad = walk.grad
                        for r in range(n_par):
                            grad[r] = 0.0
                        for j in range(n_comp):
                            t = temperature[i, j]
                            grad[j] = 4.0 * eps[j] * STEFAN_BOLTZMANN * (t * (t * t)) * area[i, j]
                            grad[n_comp + j] = eps[j] * STEFAN_BOLTZMANN * pow4(t)
                        for r in range(n_par):
                            for q in range(n_par):
                                if grad[r] != 0.0 and grad[q] != 0.0:
                                    var += grad[r] * grad[q] * covariance[i, r, q]
                        sd_p = math.sqrt(var) / scale if var > 0.0 else np.nan
                        if not (math.isfinite(sd_p) and sd_p > 0.0):
                            sd_p = 0.01 * p_hat
                        u0 = math.log(p_hat)
                        step = min(max(sd_p / p_hat, 1e-4), 0.1)
                    mode, comp, reach = power_mode, none, POWER_REACH
                off = _walk(
                    walk, mode, comp, u0, -1.0 if down else 1.0, step, sd_p, reach, chi_min, level
                )
                if h < n_comp:
                    if down:
                        t_lower[i, h] = max(math.exp(u0 - off), math.exp(lnlo[h]))
                    else:
                        t_upper[i, h] = min(math.exp(u0 + off), math.exp(lnhi[h]))
                elif down:
                    p_lower[i] = 0.0 if off >= POWER_REACH else math.exp(u0 - off) * scale
                else:
                    p_upper[i] = np.inf if off >= POWER_REACH else math.exp(u0 + off) * scale
            sw[n_ch] = 0.0
            seen = walk.seen[0]  # the lowest profile chi-square met on the way
            if not seen < chi_min - 1e-6 * max(chi_min, 1.0):
                break
            chi_min = seen  # the profile found a lower minimum than the fit: measure from it


@jit(fastmath=SUMS)
def _walk(walk: Walk, mode, h, u0, d, step, sd_p, reach, chi_min, level):
    """Distance from ``u0`` in direction ``d`` (+-1) at which the profile crosses ``level``;
    ``reach`` when it stays below up to there. ``mode`` TEMPERATURE profiles ln T of component
    ``h``, POWER the log power (``sd_p``: its linearised sigma)."""
    cont, found, lnt_hat = walk.cont, walk.found, walk.lnt_hat
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
        c = _profile_at(walk, mode, h, u0 + d * off, sd_p)
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
        c = _profile_at(walk, mode, h, u0 + d * m, sd_p)
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


@jit(fastmath=SUMS)
def _profile_at(walk: Walk, mode, h, u, sd_p):
    """chi2_p at ``u`` (ln T of component ``h`` for TEMPERATURE, log power for POWER): the best
    of Levenberg-Marquardt runs from ``walk.cont``, the optimum and the line minima. Writes
    the best temperatures [ln K] into ``walk.found``."""
    problem, sp, lines = walk.problem, walk.sp, walk.lines
    lnlo, lnhi, exchangeable, grid_lnt = (
        problem.lnlo, problem.lnhi, problem.exchangeable, problem.grid_lnt
    )  # fmt: skip
    n_ch, eps, n_comp, sw, ys = sp.n_ch, sp.eps, sp.n_comp, sp.sw, sp.ys
    starts, lo, hi, lnt = walk.starts, walk.lo, walk.hi, walk.lnt
    cont, found = walk.cont, walk.found
    n_grid = grid_lnt.shape[1]
    for j in range(n_comp):
        lo[j] = lnlo[j]
        hi[j] = lnhi[j]
    if mode == TEMPERATURE:
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
        starts[1, j] = walk.lnt_hat[j]
    n_start = 2
    if mode == TEMPERATURE and walk.use_line:
        other = 1 - h
        o = np.int64(0 if exchangeable else other * n_grid)  # its grid columns (an int64)
        n_line = line_minima(sp, lines, eps[h], u, walk.yy, grid_lnt[other], o, -np.inf, 0.0)
        for r in range(n_line):
            starts[n_start, h] = u
            starts[n_start, other] = grid_lnt[other, lines.picks[r]]
            n_start += 1
    free = walk.free
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
        cost, _conv, _nev = lm_run(
            sp, walk.ws, lnt, lo, hi, free, nf, walk.problem.max_iter, best, found
        )
        if cost < best:
            best = cost
            for j in range(n_comp):
                found[j] = lnt[j]
    walk.seen[0] = min(walk.seen[0], best)
    return best
