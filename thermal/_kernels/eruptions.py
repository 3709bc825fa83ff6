"""Kernels that integrate emission over the age distribution of a cooling lava surface.

A cooling curve is tabulated at ages a_0 = 0 < a_1 < ... (log-spaced from a_1). For a set of
wavelengths, :func:`cumulative_table` integrates B_lambda(T_s(a)) over age once (trapezoid in
ln a, in a on the first interval: the curve is smooth in ln a, so 40 nodes per decade keep the
error near 1e-4); :func:`window_integral` then gives the integral over any age window from the
table in O(n_wavelengths).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from thermal._kernels import jit, kernel
from thermal._kernels.fit import (
    AT_BOUND,
    CONVERGED,
    DEGENERATE,
    NOT_ENOUGH,
    scaled_spectrum,
)
from thermal._kernels.planck import b_lambda, pow4
from thermal.constants import STEFAN_BOLTZMANN


@jit
def _locate(ages, a):
    """Index k with ages[k] <= a < ages[k + 1] (clamped to the table)."""
    n = ages.size
    if a >= ages[n - 1]:
        return n - 2
    lo = 0
    hi = n - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ages[mid] <= a:
            lo = mid
        else:
            hi = mid
    return lo


@jit
def _weights(x0, x1):
    """Trapezoid weights of f(x0), f(x1) for int f da over [x0, x1] (in ln a unless x0 = 0)."""
    if x0 == 0.0:
        return 0.5 * x1, 0.5 * x1
    h = 0.5 * math.log(x1 / x0)
    return h * x0, h * x1


@jit
def _temperature(ages, temps, k, a):
    if k == 0:
        w = a / ages[1]
    else:
        w = math.log(a / ages[k]) / math.log(ages[k + 1] / ages[k])
    return (1.0 - w) * temps[k] + w * temps[k + 1]


@kernel(inputs=("lam", "ages", "temps"), floats=("t_bg",))
def cumulative_table(lam, ages, temps, t_bg, bnode, cum, energy):
    """B at every (wavelength, node) into ``bnode``, int_0^{a_k} B da into ``cum`` [W m-2
    sr-1 um-1 s] and int_0^{a_k} sigma (T^4 - t_bg^4) da into ``energy`` [J m-2]."""
    n = ages.size
    sbg = STEFAN_BOLTZMANN * pow4(t_bg)
    for i in range(lam.size):
        for k in range(n):
            bnode[i, k] = b_lambda(lam[i], temps[k])
        cum[i, 0] = 0.0
        for k in range(n - 1):
            w0, w1 = _weights(ages[k], ages[k + 1])
            cum[i, k + 1] = cum[i, k] + w0 * bnode[i, k] + w1 * bnode[i, k + 1]
    energy[0] = 0.0
    for k in range(n - 1):
        w0, w1 = _weights(ages[k], ages[k + 1])
        e0 = STEFAN_BOLTZMANN * pow4(temps[k]) - sbg
        e1 = STEFAN_BOLTZMANN * pow4(temps[k + 1]) - sbg
        energy[k + 1] = energy[k] + w0 * e0 + w1 * e1


@jit
def _partial(lam_i, ages, temps, bnode_i, cum_i, k, a):
    """int_0^a B da for one wavelength row of the table."""
    if a <= ages[k]:
        return cum_i[k]
    w0, w1 = _weights(ages[k], a)
    return cum_i[k] + w0 * bnode_i[k] + w1 * b_lambda(lam_i, _temperature(ages, temps, k, a))


@kernel(inputs=("lam", "ages", "temps", "bnode", "cum", "energy"), floats=("t_bg", "a0", "a1"))
def window_integral(lam, ages, temps, t_bg, bnode, cum, energy, a0, a1, out):
    """int_{a0}^{a1} B_lambda(T_s(a)) da per wavelength into ``out``; returns the energy
    integral int sigma (T^4 - t_bg^4) da over the same window."""
    k0 = _locate(ages, a0)
    k1 = _locate(ages, a1)
    for i in range(lam.size):
        out[i] = _partial(lam[i], ages, temps, bnode[i], cum[i], k1, a1) - _partial(
            lam[i], ages, temps, bnode[i], cum[i], k0, a0
        )
    sbg = STEFAN_BOLTZMANN * pow4(t_bg)
    result = 0.0
    for k, a, sign in ((k1, a1, 1.0), (k0, a0, -1.0)):
        value = energy[k]
        if a > ages[k]:
            w0, w1 = _weights(ages[k], a)
            t = _temperature(ages, temps, k, a)
            value += w0 * (STEFAN_BOLTZMANN * pow4(temps[k]) - sbg) + w1 * (
                STEFAN_BOLTZMANN * pow4(t) - sbg
            )
        result += sign * value
    return result


# --- inversion: areal rate (linear) and duration (searched) of an active flow ---------------

# status codes: those of the fit kernel (thermal._kernels.fit.STATUS)


@jit
def _flow_basis(node_lam, node_w, node_ch, n_ch, ages, temps, bnode, cum, tau, col, dcol):
    """Channel basis int_0^tau Bbar da and its derivative Bbar(T_s(tau)) for one duration."""
    k = _locate(ages, tau)
    t = _temperature(ages, temps, k, tau) if tau > ages[k] else temps[k]
    for c in range(n_ch):
        col[c] = 0.0
        dcol[c] = 0.0
    for q in range(node_lam.size):
        b = b_lambda(node_lam[q], t)
        value = cum[q, k]
        if tau > ages[k]:
            w0, w1 = _weights(ages[k], tau)
            value += w0 * bnode[q, k] + w1 * b
        col[node_ch[q]] += node_w[q] * value
        dcol[node_ch[q]] += node_w[q] * b


@jit
def _flow_cost(col, ys, sw, n_ch, yy):
    """(cost, rate) of the best non-negative areal rate for the column ``col`` (sw = 0 on
    missing channels)."""
    g = 0.0
    r = 0.0
    for c in range(n_ch):
        w = sw[c] * sw[c] * col[c]
        g += w * col[c]
        r += w * ys[c]
    if r <= 0.0 or g <= 0.0:
        return yy, 0.0
    return yy - r * r / g, r / g


class FlowTable(NamedTuple):
    """A cooling curve's age table over the quadrature nodes of a batch's channels (see
    :func:`flow_table`; emissivity folded in by the caller)."""

    node_lam: np.ndarray  # node wavelength [um]
    node_w: np.ndarray  # node weight
    node_ch: np.ndarray  # node channel (int64)
    ages: np.ndarray  # tabulated ages [s]
    temps: np.ndarray  # surface temperature at each age [K]
    bnode: np.ndarray  # (n_nodes, n_ages) of cumulative_table
    cum: np.ndarray
    energy: np.ndarray
    t_bg: float  # background temperature [K]


class FlowFits(NamedTuple):
    """Per-spectrum results of :func:`fit_flow_batch`."""

    rate: np.ndarray  # areal rate R_A
    tau: np.ndarray  # duration [s]
    cov: np.ndarray  # (n, 2, 2) of (R_A, tau)
    chi2: np.ndarray
    dof: np.ndarray  # int64
    status: np.ndarray  # int8
    model: np.ndarray  # (n, n_ch)
    power: np.ndarray  # R_A int_0^tau sigma (T^4 - T_bg^4) da
    power_var: np.ndarray


def flow_table(node_lam, node_w, node_ch, ages, temps, bnode, cum, energy, t_bg) -> FlowTable:
    """A :class:`FlowTable` with read-only arrays (one signature for every call)."""
    arrays = []
    for a, dtype in ((node_lam, np.float64), (node_w, np.float64), (node_ch, np.int64),
                     (ages, np.float64), (temps, np.float64), (bnode, np.float64),
                     (cum, np.float64), (energy, np.float64)):  # fmt: skip
        v = np.ascontiguousarray(a, dtype=dtype).view()
        v.flags.writeable = False
        arrays.append(v)
    return FlowTable(*arrays, float(t_bg))


class FlowScratch(NamedTuple):
    """Scratch of :func:`fit_flow_batch` (n_ch each)."""

    ys: np.ndarray  # scaled data
    sw: np.ndarray  # weights
    col: np.ndarray  # a duration's column
    dcol: np.ndarray  # and its derivative


def _flow_scratch(y, sig, table, lo, hi, grid, out):
    n_ch = y.shape[1]
    return FlowScratch(*(np.zeros(n_ch) for _ in range(4)))


@kernel(rows="y", inputs=("y", "sig", "grid"), floats=("lo", "hi"), scratch=_flow_scratch)
def fit_flow_batch(
    first, last, y, sig, table: FlowTable, lo, hi, grid, out: FlowFits, s: FlowScratch
):
    """Fit I = R_A * int_0^tau Bbar(T_s(a)) da to the rows ``first`` to ``last - 1`` of ``y``
    (``table``: a :class:`FlowTable`): R_A >= 0 exactly for every trial duration (variable
    projection), ln tau on ``grid`` (within [lo, hi] [s]) then golden-section refinement;
    covariance of (R_A, tau) from the weighted Jacobian; power = R_A int_0^tau sigma
    (T^4 - T_bg^4) da. Results go to ``out`` (:class:`FlowFits`).

    From Python: ``fit_flow_batch(y, sig, table, lo, hi, grid, out, size=work)``; ``s`` is
    scratch (:func:`_flow_scratch`)."""
    for i in range(first, last):
        _fit_flow_one(i, y, sig, table, lo, hi, grid, out, s)


@jit
def _fit_flow_one(i, y, sig, table: FlowTable, lo, hi, grid, out: FlowFits, s: FlowScratch):
    node_lam, node_w, node_ch, ages, temps, bnode, cum, energy, t_bg = table
    rate, tau, cov, chi2, dof, status, model, power, power_var = out
    n_ch = y.shape[1]
    nan = np.nan
    rate[i] = nan
    tau[i] = nan
    chi2[i] = nan
    power[i] = nan
    power_var[i] = nan
    dof[i] = 0
    for p in range(2):
        for q in range(2):
            cov[i, p, q] = nan
    for c in range(n_ch):
        model[i, c] = nan
    ys, sw, col, dcol = s
    bad, n_valid, scale = scaled_spectrum(y[i], sig[i], ys, sw)
    if bad >= 0:
        status[i] = bad
        return
    if n_valid < 2:
        status[i] = NOT_ENOUGH
        return
    yy = 0.0
    for c in range(n_ch):
        yy += sw[c] * sw[c] * ys[c] * ys[c]
    best = np.inf
    g_best = 0
    for g in range(grid.size):
        _flow_basis(node_lam, node_w, node_ch, n_ch, ages, temps, bnode, cum, grid[g], col, dcol)
        cost, _ = _flow_cost(col, ys, sw, n_ch, yy)
        if cost < best:
            best = cost
            g_best = g
    # golden section in ln tau between the neighbours of the best grid point
    a = math.log(grid[max(g_best - 1, 0)])
    b = math.log(grid[min(g_best + 1, grid.size - 1)])
    gr = 0.5 * (math.sqrt(5.0) - 1.0)
    x1 = b - gr * (b - a)
    x2 = a + gr * (b - a)
    _flow_basis(node_lam, node_w, node_ch, n_ch, ages, temps, bnode, cum, math.exp(x1), col, dcol)
    f1, _ = _flow_cost(col, ys, sw, n_ch, yy)
    _flow_basis(node_lam, node_w, node_ch, n_ch, ages, temps, bnode, cum, math.exp(x2), col, dcol)
    f2, _ = _flow_cost(col, ys, sw, n_ch, yy)
    for _it in range(80):
        if b - a < 1e-10:
            break
        if f1 < f2:
            b = x2
            x2 = x1
            f2 = f1
            x1 = b - gr * (b - a)
            _flow_basis(node_lam, node_w, node_ch, n_ch, ages, temps, bnode, cum, math.exp(x1),
                        col, dcol)  # fmt: skip
            f1, _ = _flow_cost(col, ys, sw, n_ch, yy)
        else:
            a = x1
            x1 = x2
            f1 = f2
            x2 = a + gr * (b - a)
            _flow_basis(node_lam, node_w, node_ch, n_ch, ages, temps, bnode, cum, math.exp(x2),
                        col, dcol)  # fmt: skip
            f2, _ = _flow_cost(col, ys, sw, n_ch, yy)
    t_fit = math.exp(0.5 * (a + b))
    _flow_basis(node_lam, node_w, node_ch, n_ch, ages, temps, bnode, cum, t_fit, col, dcol)
    cost, r = _flow_cost(col, ys, sw, n_ch, yy)
    rate[i] = r * scale
    tau[i] = t_fit
    chi2[i] = cost
    dof[i] = n_valid - 2
    for c in range(n_ch):
        model[i, c] = r * col[c] * scale
    # energy radiated per unit areal rate, and its derivative in tau
    k = _locate(ages, t_fit)
    e_tau = energy[k]
    t_s = temps[k]
    if t_fit > ages[k]:
        t_s = _temperature(ages, temps, k, t_fit)
        w0, w1 = _weights(ages[k], t_fit)
        sbg = STEFAN_BOLTZMANN * pow4(t_bg)
        e_tau += w0 * (STEFAN_BOLTZMANN * pow4(temps[k]) - sbg) + w1 * (
            STEFAN_BOLTZMANN * pow4(t_s) - sbg
        )
    de = STEFAN_BOLTZMANN * (pow4(t_s) - pow4(t_bg))
    power[i] = rate[i] * e_tau
    # covariance of (R_A, tau): J columns d model / d R_A = col, d model / d tau = R dcol
    h00 = 0.0
    h01 = 0.0
    h11 = 0.0
    for c in range(n_ch):
        j0 = sw[c] * col[c]
        j1 = sw[c] * r * dcol[c]
        h00 += j0 * j0
        h01 += j0 * j1
        h11 += j1 * j1
    det = h00 * h11 - h01 * h01
    at_bound = r <= 0.0 or t_fit <= lo * (1 + 1e-6) or t_fit >= hi * (1 - 1e-6)
    if not (det > 1e-12 * h00 * h11) or r <= 0.0:
        status[i] = AT_BOUND if at_bound else DEGENERATE
        return
    c00 = h11 / det * scale * scale
    c01 = -h01 / det * scale
    c11 = h00 / det
    cov[i, 0, 0] = c00
    cov[i, 0, 1] = c01
    cov[i, 1, 0] = c01
    cov[i, 1, 1] = c11
    g0 = e_tau
    g1 = rate[i] * de
    power_var[i] = g0 * g0 * c00 + 2.0 * g0 * g1 * c01 + g1 * g1 * c11
    status[i] = AT_BOUND if at_bound else CONVERGED
