"""Two-temperature fits/s: thermal's batch engine against scipy and xarray on the same data.

For 4, 17 and 300 channels over 1-5.2 um (the issue's population: T_hot 700-1600 K, T_cold
250-600 K, areas 1e4-1e10 m2, 2 % noise) this prints fits/s of ``thermal.fit.fit_arrays`` on
1e5 spectra (``--quick``: 1e4), of ``scipy.optimize.least_squares`` and ``curve_fit`` (one
start from a fixed first guess, as scripts do) and ``xarray.DataArray.curvefit`` on a subset
(it takes one ``sigma`` for all spectra: the first one's, so its weights are approximate),
the fraction of fits whose cost is no higher than an independent multi-start reference
(``tests/fit/reference.py``: dense grid + bounded least_squares), and the peak memory of 1e6
spectra x 17 channels.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np
import xarray as xr
from scipy.optimize import OptimizeWarning, curve_fit, least_squares

from benchmarks._common import peak_memory, print_table
from thermal.constants import C1, C2
from thermal.fit.engine import Channels, fit_arrays

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests.fit.reference import reference_cost, two_temperature_population

P0 = (1000.0, 400.0, 1.0, 1.0)  # first guess: T [K] and areas in units of the data scale


def population(n: int, channels: int, seed: int = 0):
    return two_temperature_population(n, channels, seed)[:3]


def _planck_numpy(lam, t):
    """B_lambda [W m-2 sr-1 um-1] the way scripts write it (no validation, NaN/inf allowed)."""
    with np.errstate(all="ignore"):
        return C1 / lam**5 / np.expm1(C2 / (lam * t))


def _two_bb(lam, t1, t2, a1, a2):
    return a1 * _planck_numpy(lam, t1) + a2 * _planck_numpy(lam, t2)


def _scaled(y, s):
    scale = np.max(np.abs(y)) / 1e3  # areas of order one for a 1000 K first guess
    return y / scale, s / scale, scale


def _chi2(lam, y, s, p):
    return float(np.sum(((y - _two_bb(lam, *p)) / s) ** 2))


def scipy_least_squares(lam, y, sigma):
    out = np.empty(len(y))
    for i in range(len(y)):
        ys, ss, _ = _scaled(y[i], sigma[i])
        sol = least_squares(
            lambda p, ys=ys, ss=ss: (ys - _two_bb(lam, *p)) / ss,
            P0,
            bounds=([100, 100, 0, 0], [3000, 3000, np.inf, np.inf]),
        )
        out[i] = 2.0 * sol.cost
    return out


def scipy_curve_fit(lam, y, sigma):
    out = np.empty(len(y))
    for i in range(len(y)):
        ys, ss, _ = _scaled(y[i], sigma[i])
        try:
            p, _ = curve_fit(_two_bb, lam, ys, P0, sigma=ss, absolute_sigma=True, maxfev=2000)
            out[i] = _chi2(lam, ys, ss, p)
        except RuntimeError:
            out[i] = np.inf
    return out


def xarray_curvefit(lam, y, sigma):
    scale = np.max(np.abs(y), axis=1, keepdims=True) / 1e3
    da = xr.DataArray(y / scale, dims=("spectrum", "wavelength"), coords={"wavelength": lam})
    fit = da.curvefit(
        "wavelength", _two_bb, p0=dict(zip(("t1", "t2", "a1", "a2"), P0, strict=True)),
        errors="ignore", kwargs={"sigma": sigma[0] / scale[0], "maxfev": 2000},
    )  # fmt: skip
    p = fit.curvefit_coefficients.values
    ys, ss = y / scale, sigma / scale
    return np.array([_chi2(lam, ys[i], ss[i], p[i]) for i in range(len(y))])


def _reached(cost, ref):
    return float(np.mean(cost <= ref * (1 + 1e-6) + 1e-9))


def main(quick: bool = False) -> None:
    n_fast = 10_000 if quick else 100_000
    n_slow = 20 if quick else 200
    n_ref = 100 if quick else 2000
    rows = []
    ratios = []
    for channels in (4, 17, 300):
        lam, y, sigma = population(n_fast, channels)
        ch = Channels.from_wavelength(lam)
        fit_arrays(y[:2000], sigma[:2000], ch)  # compile / load the cache
        elapsed = []
        for _ in range(2):  # the faster of two runs, as timeit does: this VM's speed wanders
            start = time.perf_counter()
            out = fit_arrays(y, sigma, ch)
            elapsed.append(time.perf_counter() - start)
        rate = n_fast / min(elapsed)
        n_r = min(n_ref, n_fast) if channels == 17 else min(n_ref // 10, n_fast)
        ref = reference_cost(lam, y[:n_r], sigma[:n_r])
        rows.append((channels, "thermal (batch engine)", n_fast, rate, 1.0,
                     _reached(out[4][:n_r], ref)))  # fmt: skip
        sub = slice(0, n_slow)
        ref_sub = ref[:n_slow] if n_r >= n_slow else reference_cost(lam, y[sub], sigma[sub])
        for name, function in (
            ("scipy least_squares", scipy_least_squares),
            ("scipy curve_fit", scipy_curve_fit),
            ("xarray curvefit", xarray_curvefit),
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", (OptimizeWarning, RuntimeWarning))
                start = time.perf_counter()
                cost = function(lam, y[sub], sigma[sub])
                r = n_slow / (time.perf_counter() - start)
            rows.append((channels, name, n_slow, r, rate / r, _reached(cost, ref_sub)))
            if name == "xarray curvefit":
                ratios.append((channels, rate / r))
    print_table(
        "2T fits: fits/s, speed-up of thermal, fraction reaching the reference optimum",
        ("channels", "fitter", "spectra", "fits/s", "thermal / this", "at optimum"),
        rows,
    )
    if not quick:
        lam, y, sigma = population(1_000_000, 17, seed=1)
        ch = Channels.from_wavelength(lam)
        start = time.perf_counter()
        _, peak = peak_memory(lambda: fit_arrays(y, sigma, ch))
        elapsed = time.perf_counter() - start
        data_mb = (y.nbytes + sigma.nbytes) / 1e6
        print_table(
            "1e6 spectra x 17 channels, 2T",
            ("input [MB]", "peak extra memory [MB]", "fits/s (traced)"),
            [(data_mb, peak, 1e6 / elapsed)],
        )


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
