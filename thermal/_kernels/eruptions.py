"""Kernels that integrate emission over the age distribution of a cooling lava surface.

A cooling curve is tabulated at ages a_0 = 0 < a_1 < ... (log-spaced from a_1). For a set of
wavelengths, :func:`cumulative_table` integrates B_lambda(T_s(a)) over age once (trapezoid in
ln a, in a on the first interval: the curve is smooth in ln a, so 40 nodes per decade keep the
error near 1e-4); :func:`window_integral` then gives the integral over any age window from the
table in O(n_wavelengths).
"""

from __future__ import annotations

import math

from thermal._kernels import jit
from thermal._kernels.planck import b_lambda
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


@jit
def cumulative_table(lam, ages, temps, t_bg, bnode, cum, energy):
    """B at every (wavelength, node) into ``bnode``, int_0^{a_k} B da into ``cum`` [W m-2
    sr-1 um-1 s] and int_0^{a_k} sigma (T^4 - t_bg^4) da into ``energy`` [J m-2]."""
    n = ages.size
    sbg = STEFAN_BOLTZMANN * t_bg**4
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
        e0 = STEFAN_BOLTZMANN * temps[k] ** 4 - sbg
        e1 = STEFAN_BOLTZMANN * temps[k + 1] ** 4 - sbg
        energy[k + 1] = energy[k] + w0 * e0 + w1 * e1


@jit
def _partial(lam_i, ages, temps, bnode_i, cum_i, k, a):
    """int_0^a B da for one wavelength row of the table."""
    if a <= ages[k]:
        return cum_i[k]
    w0, w1 = _weights(ages[k], a)
    return cum_i[k] + w0 * bnode_i[k] + w1 * b_lambda(lam_i, _temperature(ages, temps, k, a))


@jit
def window_integral(lam, ages, temps, t_bg, bnode, cum, energy, a0, a1, out):
    """int_{a0}^{a1} B_lambda(T_s(a)) da per wavelength into ``out``; returns the energy
    integral int sigma (T^4 - t_bg^4) da over the same window."""
    k0 = _locate(ages, a0)
    k1 = _locate(ages, a1)
    for i in range(lam.size):
        out[i] = _partial(lam[i], ages, temps, bnode[i], cum[i], k1, a1) - _partial(
            lam[i], ages, temps, bnode[i], cum[i], k0, a0
        )
    sbg = STEFAN_BOLTZMANN * t_bg**4
    result = 0.0
    for k, a, sign in ((k1, a1, 1.0), (k0, a0, -1.0)):
        value = energy[k]
        if a > ages[k]:
            w0, w1 = _weights(ages[k], a)
            t = _temperature(ages, temps, k, a)
            value += w0 * (STEFAN_BOLTZMANN * temps[k] ** 4 - sbg) + w1 * (
                STEFAN_BOLTZMANN * t**4 - sbg
            )
        result += sign * value
    return result
