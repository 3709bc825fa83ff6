"""Kernels of crust growth and surface cooling: Stefan's lambda, the quasi-steady radiative
surface balance, and an implicit 1-D enthalpy conduction solver with a radiative surface.

Scalar numba functions over float64; nothing here knows about materials or xarray.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from thermal._kernels import jit, kernel
from thermal._kernels.planck import pow4
from thermal.constants import STEFAN_BOLTZMANN

_SQRT_PI = math.sqrt(math.pi)


class StefanLava(NamedTuple):
    """What the Stefan crust model needs of a lava (SI units)."""

    tm: float  # eruption temperature [K]
    tbg: float  # background temperature [K]
    eps: float  # emissivity
    hconv: float  # convective coefficient [W m-2 K-1]
    tair: float  # air temperature [K]
    k: float  # conductivity [W m-1 K-1]
    kappa: float  # diffusivity [m2 s-1]
    cp: float  # heat capacity [J kg-1 K-1]
    latent: float  # latent heat [J kg-1]


class ConductionLava(NamedTuple):
    """What the enthalpy conduction model needs of a lava (SI units)."""

    rho_cp: float  # volumetric heat capacity [J m-3 K-1]
    rho_l: float  # volumetric latent heat [J m-3]
    sol: float  # solidus [K]
    liq: float  # liquidus [K]
    k: float  # conductivity [W m-1 K-1]
    eps: float  # emissivity
    tbg: float  # background temperature [K]
    hconv: float  # convective coefficient [W m-2 K-1]
    tair: float  # air temperature [K]


def stefan_lava(*values) -> StefanLava:
    """A :class:`StefanLava` of floats (one signature whatever numbers are given)."""
    return StefanLava(*(float(v) for v in values))


def conduction_lava(*values) -> ConductionLava:
    """A :class:`ConductionLava` of floats."""
    return ConductionLava(*(float(v) for v in values))


@jit
def stefan_lambda(st):
    """lambda solving lambda exp(lambda^2) erf(lambda) = St / sqrt(pi), St >= 0.

    Safeguarded Newton on a bracket; |residual| <= 1e-15 relative. St = inf gives inf.
    """
    if st == 0.0:
        return 0.0
    if not st < np.inf:
        return np.inf
    target = st / _SQRT_PI
    lo = 0.0
    hi = 1.0
    while hi * math.exp(hi * hi) * math.erf(hi) < target:
        lo = hi
        hi *= 2.0
    lam = math.sqrt(st / 2.0) if st < 0.5 else 0.5 * (lo + hi)
    if not lo < lam < hi:
        lam = 0.5 * (lo + hi)
    for _ in range(200):
        e = math.exp(lam * lam)
        erf = math.erf(lam)
        f = lam * e * erf - target
        if f > 0.0:
            hi = lam
        else:
            lo = lam
        df = e * erf * (1.0 + 2.0 * lam * lam) + 2.0 * lam / _SQRT_PI
        step = f / df
        new = lam - step
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - lam) <= 1e-16 * max(lam, 1e-300):
            lam = new
            break
        lam = new
        if hi - lo <= 1e-16 * hi:
            break
    return lam


@jit
def _stefan_flux_gap(ts, age, lava: StefanLava):
    """Surface loss minus conductive supply [W m-2] at surface temperature ts."""
    tm, tbg, eps, hconv, tair, k, kappa, cp, latent = lava
    st = cp * (tm - ts) / latent
    lam = stefan_lambda(st)
    loss = eps * STEFAN_BOLTZMANN * (pow4(ts) - pow4(tbg)) + hconv * (ts - tair)
    if lam == 0.0:
        return loss
    return loss - k * (tm - ts) / (math.erf(lam) * math.sqrt(math.pi * kappa * age))


@jit
def stefan_surface(age, lava: StefanLava):
    """(T_s [K], crust thickness [m]) of the Stefan crust with a radiative top at ``age`` [s]
    (``lava``: a :class:`StefanLava`).

    Solves eps sigma (T_s^4 - T_bg^4) + h (T_s - T_air) = k (T_m - T_s) / (erf(lambda)
    sqrt(pi kappa t)) with lambda at St = c_p (T_m - T_s) / L (the quasi-steady closure) by
    bisection with regula-falsi steps; h = 2 lambda sqrt(kappa t).
    """
    tm, tbg, kappa, cp, latent = lava.tm, lava.tbg, lava.kappa, lava.cp, lava.latent
    if math.isnan(age):
        return np.nan, np.nan
    if age == 0.0:
        return tm, 0.0
    lo = tbg
    hi = tm
    f_lo = _stefan_flux_gap(lo, age, lava)
    f_hi = _stefan_flux_gap(hi, age, lava)
    if f_lo >= 0.0:
        ts = lo
    else:
        side = 0
        ts = 0.5 * (lo + hi)
        for _ in range(300):
            ts = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
            if not lo < ts < hi:
                ts = 0.5 * (lo + hi)
            f = _stefan_flux_gap(ts, age, lava)
            if f > 0.0:
                hi = ts
                f_hi = f
                if side == 1:
                    f_lo *= 0.5
                side = 1
            else:
                lo = ts
                f_lo = f
                if side == -1:
                    f_hi *= 0.5
                side = -1
            if hi - lo <= 1e-14 * hi:
                break
        ts = 0.5 * (lo + hi)
    lam = stefan_lambda(cp * (tm - ts) / latent)
    return ts, 2.0 * lam * math.sqrt(kappa * age)


@kernel(inputs=("ages",))
def stefan_curve(ages, lava: StefanLava, t_out, h_out):
    """:func:`stefan_surface` at every age [s] into ``t_out`` [K] and ``h_out`` [m]."""
    for i in range(ages.size):
        t_out[i], h_out[i] = stefan_surface(ages[i], lava)


@jit
def _enthalpy(t, rho_cp, rho_l, sol, liq):
    if t <= sol:
        return rho_cp * t
    if t >= liq:
        return rho_cp * t + rho_l
    return rho_cp * t + rho_l * (t - sol) / (liq - sol)


@kernel(inputs=("z", "t_init", "ages"), floats=("t_fixed", "flow_depth"))
def conduction_curve(
    z, t_init, ages, lava: ConductionLava, t_fixed, flow_depth, t_surface, h_crust, t_max_flow
):
    """Implicit (backward Euler) 1-D enthalpy conduction with a radiative top.

    Nodes ``z`` [m] (z[0] = 0 at the surface, increasing), initial temperatures ``t_init``
    [K]; ``lava`` (a :class:`ConductionLava`): volumetric heat capacity ``rho_cp``
    [J m-3 K-1] and latent heat ``rho_l`` [J m-3] released linearly between ``sol`` and
    ``liq`` [K]; conductivity ``k``. The top loses
    eps sigma (T^4 - T_bg^4) + h (T - T_air) (or is held at ``t_fixed`` when that is finite);
    the bottom node keeps its initial temperature. Steps from 0 through every ``ages`` [s]
    (increasing, ages[0] > 0) with Newton iterations on the chord (Voller) linearisation of
    the enthalpy. Writes the surface temperature, the crust (solid-equivalent thickness of the
    top layer) and the hottest temperature above ``flow_depth`` at each age.
    """
    rho_cp, rho_l, sol, liq, k, eps, tbg, hconv, tair = lava
    n = z.size
    vol = np.empty(n)
    cond = np.empty(n - 1)
    for i in range(n - 1):
        cond[i] = k / (z[i + 1] - z[i])
    vol[0] = 0.5 * (z[1] - z[0])
    for i in range(1, n - 1):
        vol[i] = 0.5 * (z[i + 1] - z[i - 1])
    vol[n - 1] = 0.5 * (z[n - 1] - z[n - 2])
    t = t_init.copy()
    if t_fixed == t_fixed:
        t[0] = t_fixed
    h_old = np.empty(n)
    a = np.empty(n)
    b = np.empty(n)
    c = np.empty(n)
    d = np.empty(n)
    cp_eff = np.empty(n)
    t_new = np.empty(n)
    t_prev = 0.0
    for step in range(ages.size):
        dt = ages[step] - t_prev
        t_prev = ages[step]
        for i in range(n):
            h_old[i] = _enthalpy(t[i], rho_cp, rho_l, sol, liq)
        t_old0 = t.copy()
        for _it in range(100):
            for i in range(n):
                diff = t[i] - t_old0[i]
                if abs(diff) > 1e-9:
                    cp_eff[i] = (_enthalpy(t[i], rho_cp, rho_l, sol, liq) - h_old[i]) / diff
                else:
                    cp_eff[i] = rho_cp + (rho_l / (liq - sol) if sol < t[i] < liq else 0.0)
                if cp_eff[i] < rho_cp:
                    cp_eff[i] = rho_cp
            # residual-based Newton: J dT = -R, tridiagonal
            for i in range(n):
                cap = vol[i] / dt
                r = vol[i] * (_enthalpy(t[i], rho_cp, rho_l, sol, liq) - h_old[i]) / dt
                diag = cap * cp_eff[i]
                lower = 0.0
                upper = 0.0
                if i > 0:
                    r += cond[i - 1] * (t[i] - t[i - 1])
                    diag += cond[i - 1]
                    lower = -cond[i - 1]
                if i < n - 1:
                    r += cond[i] * (t[i] - t[i + 1])
                    diag += cond[i]
                    upper = -cond[i]
                if i == 0:
                    t0 = t[0]
                    r += eps * STEFAN_BOLTZMANN * (pow4(t0) - pow4(tbg)) + hconv * (t0 - tair)
                    diag += 4.0 * eps * STEFAN_BOLTZMANN * (t0 * (t0 * t0)) + hconv
                a[i] = lower
                b[i] = diag
                c[i] = upper
                d[i] = -r
            if t_fixed == t_fixed:
                a[0] = 0.0
                b[0] = 1.0
                c[0] = 0.0
                d[0] = 0.0
            a[n - 1] = 0.0
            b[n - 1] = 1.0
            d[n - 1] = 0.0
            # Thomas algorithm
            for i in range(1, n):
                w = a[i] / b[i - 1]
                b[i] -= w * c[i - 1]
                d[i] -= w * d[i - 1]
            t_new[n - 1] = d[n - 1] / b[n - 1]
            for i in range(n - 2, -1, -1):
                t_new[i] = (d[i] - c[i] * t_new[i + 1]) / b[i]
            change = 0.0
            for i in range(n):
                dx = t_new[i]
                if dx < -0.5 * t[i]:  # keep temperatures positive
                    dx = -0.5 * t[i]
                t[i] += dx
                change = max(change, abs(dx))
            if change < 1e-9:
                break
        t_surface[step] = t[0]
        # crust: the solid top layer down to the first node holding melt, plus that node's
        # solid fraction (for a narrow melting interval this is the latent-heat bookkeeping of
        # the enthalpy method, so the front does not staircase with the grid)
        depth = 0.0
        molten = False
        hottest = 0.0
        for i in range(n):
            if z[i] > flow_depth:
                break
            hottest = max(hottest, t[i])
            if not molten:
                f = (t[i] - sol) / (liq - sol)
                if f > 0.0:
                    molten = True
                    depth += vol[i] * (1.0 - min(f, 1.0))
                else:
                    depth += vol[i]
        if not molten:
            depth = flow_depth if flow_depth < np.inf else np.nan
        h_crust[step] = depth
        t_max_flow[step] = hottest
