"""Cooling models: flow spectra and flow-model fits per second.

Rows: one Io Flow Model spectrum at 300 wavelengths for 1000 durations (after the cooling
curve and the wavelength table are cached) against the same integral by
``scipy.integrate.quad`` over the surface-temperature law; cooling-curve computation times;
``FlowModel`` fits/s on 17-channel spectra against ``scipy.optimize.least_squares``.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from scipy.integrate import IntegrationWarning, quad
from scipy.optimize import least_squares

from benchmarks._common import print_table
from thermal import planck, simulate
from thermal.cooling import FlowModel, crust
from thermal.cooling import eruptions as e
from thermal.fit import fit_spectra


def _spectra(quick):
    lam = np.linspace(1.0, 5.0, 300)
    durations = np.geomspace(60.0, 3e7, 100 if quick else 1000)
    e.flow_intensity(lam, 1.0, 1e5)  # cache the curve and the wavelength table
    start = time.perf_counter()
    for d in durations:
        e.flow_intensity(lam, 1.0, d)
    per = (time.perf_counter() - start) / durations.size
    n_quad = 3 if quick else 10
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntegrationWarning)
        for lam_i in lam[:n_quad]:

            def integrand(a, x=lam_i):
                return float(planck.spectral_radiance(x, crust.surface_temperature(a)))

            quad(integrand, 0, 1e5, limit=200)
    per_quad = (time.perf_counter() - start) / n_quad * lam.size
    return [("flow spectrum, 300 wavelengths (cached curve)", per * 1e3, per_quad / per)], per_quad


def _curves():
    rows = []
    for model, kwargs in (("stefan", {}), ("conduction", {}), ("conduction", {"thickness": 10.0})):
        crust._curve.cache_clear()
        start = time.perf_counter()
        crust.cooling_curve("basalt", model, **kwargs)
        label = f"cooling curve {model}" + (" 10 m flow" if kwargs else "")
        rows.append((label, (time.perf_counter() - start) * 1e3, "-"))
    return rows


def _fits(quick):
    rng = np.random.default_rng(0)
    n = 2000 if quick else 20000
    lam = np.linspace(1.0, 5.2, 17)
    rate, tau = 10 ** rng.uniform(1, 4, n), 10 ** rng.uniform(3, 7, n)
    obs = simulate.flow_observation(rate, tau, wavelength=lam, seed=1)  # not the draws' seed
    y, sigma = obs.intensity.values, obs.intensity_uncertainty.values
    fit_spectra(obs.isel(spectrum=slice(0, 200)), model=FlowModel())  # compile both targets
    start = time.perf_counter()
    fit_spectra(obs, model=FlowModel())
    rate_thermal = n / (time.perf_counter() - start)
    m = 30 if quick else 100
    start = time.perf_counter()
    for i in range(m):
        scale = y[i].max()

        def resid(p, i=i, scale=scale):
            return (e.flow_intensity(lam, p[0] * scale, 10 ** p[1]) - y[i]) / sigma[i]

        least_squares(resid, [1e-3, 5.0], bounds=([0, 1.0], [np.inf, 9.0]))
    rate_scipy = m / (time.perf_counter() - start)
    return [
        ("FlowModel fits/s (17 channels)", rate_thermal, rate_thermal / rate_scipy),
        ("scipy least_squares over flow_intensity, fits/s", rate_scipy, 1.0),
    ]


def main(quick: bool = False) -> None:
    rows, _ = _spectra(quick)
    rows += _curves()
    print_table(
        "Cooling models: time [ms] and speed-up over scipy.integrate.quad",
        ("what", "ms", "quad / thermal"),
        rows,
    )
    print_table("Flow-model fits", ("fitter", "fits/s", "ratio"), _fits(quick))


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
