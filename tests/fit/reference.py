"""Independent reference optimum for two-temperature fits (used by tests and benchmarks).

The cost of a 2T fit is ``sum(((y - A1 B(T1) - A2 B(T2)) / sigma)^2)`` with areas >= 0. This
reference shares no code with the compiled engine: for each spectrum it scans a dense
log-temperature grid (``n_grid`` x ``n_grid`` pairs, both orders) with the exact two-column
non-negative least squares in numpy, then polishes the best ``n_starts`` grid points with
``scipy.optimize.least_squares`` (trust region reflective, bounds, all four parameters) and keeps
the lowest cost found anywhere. It is slow (tens of fits per second) and meant for a few
thousand spectra.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from thermal import planck


def _grid_costs(bw, yw):
    """Cost of the best non-negative (a1, a2) for every pair of grid columns."""
    g = bw @ bw.T
    r = bw @ yw
    yy = yw @ yw
    d = np.diag(g)
    # single columns
    one = np.where(r > 0, yy - r**2 / d, yy)
    best = np.minimum(one[:, None], one[None, :])
    det = d[:, None] * d[None, :] - g**2
    with np.errstate(divide="ignore", invalid="ignore"):
        a1 = (d[None, :] * r[:, None] - g * r[None, :]) / det
        a2 = (d[:, None] * r[None, :] - g * r[:, None]) / det
        two = yy - a1 * r[:, None] - a2 * r[None, :]
    ok = (a1 > 0) & (a2 > 0) & (det > 1e-12 * d[:, None] * d[None, :])
    return np.where(ok & (two < best), two, best)


def reference_cost(wavelength, y, sigma, lower=100.0, upper=3000.0, n_grid=160, n_starts=4):
    """Lowest 2T cost found by a dense grid plus bounded scipy polishing, per spectrum.

    Parameters
    ----------
    wavelength : ndarray
        Channel wavelengths [um], shape (n_ch,).
    y, sigma : ndarray
        Data and 1-sigma uncertainties, shape (n, n_ch), any one unit.
    lower, upper : float
        Temperature bounds [K].

    Returns
    -------
    ndarray
        Reference chi-square per spectrum, shape (n,).
    """
    lam = np.asarray(wavelength, float)
    grid_t = np.geomspace(lower, upper, n_grid)
    basis = planck.spectral_radiance(lam[None, :], grid_t[:, None])
    out = np.empty(len(y))
    for i, (yi, si) in enumerate(zip(y, sigma, strict=True)):
        scale = np.max(np.abs(yi))
        ys, ss = yi / scale, si / scale
        bw = basis / ss
        yw = ys / ss
        costs = _grid_costs(bw, yw)
        best = float(costs.min())
        order = np.argsort(costs, axis=None)[: 4 * n_starts]
        seen = 0
        for flat in order:
            a, b = np.unravel_index(flat, costs.shape)
            if a < b:
                continue
            seen += 1
            if seen > n_starts:
                break
            t1, t2 = grid_t[a], grid_t[b]
            g = np.array([basis[a], basis[b]]).T / ss[:, None]
            amps = np.clip(np.linalg.lstsq(g, yw, rcond=None)[0], 1e-12, None)

            def resid(p, ys=ys, ss=ss):
                model = p[2] * planck.spectral_radiance(lam, p[0]) + p[3] * (
                    planck.spectral_radiance(lam, p[1])
                )
                return (ys - model) / ss

            x0 = np.array([t1, t2, *amps])
            lo = np.array([lower, lower, 0.0, 0.0])
            hi = np.array([upper, upper, np.inf, np.inf])
            x0 = np.clip(x0, lo + 1e-9 * (hi - lo), np.where(np.isinf(hi), x0, hi - 1e-9))
            sol = least_squares(
                resid,
                x0,
                bounds=(lo, hi),
                method="trf",
                x_scale="jac",
                xtol=1e-14,
                ftol=1e-14,
                gtol=1e-14,
                max_nfev=2000,
            )
            best = min(best, 2.0 * float(sol.cost))
        out[i] = best
    return out


# A fit reaches the optimum when its chi-square is no higher than the reference's, up to
# rounding: chi2 <= chi2_ref (1 + REACH_RTOL) + REACH_ATOL.
REACH_RTOL = 1e-6
REACH_ATOL = 1e-9


def reaches_optimum(chi2, reference):
    """Whether each chi-square is no higher than its reference optimum (up to rounding)."""
    chi2, reference = np.asarray(chi2, float), np.asarray(reference, float)
    return chi2 <= reference * (1 + REACH_RTOL) + REACH_ATOL


def two_temperature_population(n, channels=17, seed=0):
    """The issue's synthetic 2T population: ``channels`` wavelengths over 1-5.2 um, T_hot
    700-1600 K, T_cold 250-600 K, areas 1e4-1e10 m2, 2 % Gaussian noise.

    Returns
    -------
    tuple
        wavelength [um] (channels,), data and 1-sigma [W sr-1 um-1] (n, channels), and the
        truth (T_hot, T_cold, A_hot, A_cold).
    """
    rng = np.random.default_rng(seed)
    lam = np.linspace(1.0, 5.2, channels)
    th, tc = rng.uniform(700, 1600, n), rng.uniform(250, 600, n)
    ah, ac = 10 ** rng.uniform(4, 10, n), 10 ** rng.uniform(4, 10, n)
    truth = ah[:, None] * planck.spectral_radiance(lam, th[:, None]) + ac[
        :, None
    ] * planck.spectral_radiance(lam, tc[:, None])
    sigma = 0.02 * truth
    return lam, truth + sigma * rng.standard_normal(truth.shape), sigma, (th, tc, ah, ac)
