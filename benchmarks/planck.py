"""Planck throughput on (wavelength, temperature) pairs against plain numpy, astropy's
BlackBody and the practical limit: a numba loop doing one libm ``exp`` per value."""

from __future__ import annotations

import math
import os

import numba
import numpy as np

from benchmarks._common import best_time, print_table
from thermal import planck
from thermal.constants import C1, C2


@numba.njit(error_model="numpy")
def _exp_limit_serial(x, out):
    for i in range(x.size):
        out[i] = math.exp(x[i])


@numba.njit(error_model="numpy", parallel=True)
def _exp_limit_parallel(x, out):
    for i in numba.prange(x.size):
        out[i] = math.exp(x[i])


def _numpy_planck(lam, t):
    with np.errstate(over="ignore"):
        return C1 / lam**5 / np.expm1(C2 / (lam * t))


def _astropy_planck():
    try:
        from astropy import units as u
        from astropy.modeling.models import BlackBody
    except ImportError:
        return None

    def run(lam, t):
        bb = BlackBody(temperature=t * u.K, scale=1.0 * u.W / (u.m**2 * u.sr * u.um))
        return bb(lam * u.um)

    return run


def main(quick: bool = False) -> None:
    n = 400_000 if quick else 4_000_000
    rng = np.random.default_rng(0)
    lam = rng.uniform(1.0, 5.2, n)
    t = rng.uniform(90.0, 1800.0, n)
    x = -C2 / (lam * t)
    out = np.empty(n)
    repeat = 3 if quick else 15  # best of 15: a 2-vCPU VM has bursts of steal time

    reference = _numpy_planck(lam, t)
    ours = planck.spectral_radiance(lam, t)
    max_rel = float(np.max(np.abs(ours / reference - 1)))

    timings = {}
    timings["numpy"] = best_time(lambda: _numpy_planck(lam, t), repeat)
    astropy = _astropy_planck()
    if astropy is not None:
        m = n // 10
        astropy(lam[:10], t[:10])
        timings["astropy"] = best_time(lambda: astropy(lam[:m], t[:m]), 3) * (n / m)
    _exp_limit_serial(x, out)
    _exp_limit_parallel(x, out)
    timings["limit_serial"] = best_time(lambda: _exp_limit_serial(x, out), repeat)
    timings["limit_parallel"] = best_time(lambda: _exp_limit_parallel(x, out), repeat)
    timings["thermal"] = best_time(lambda: planck.spectral_radiance(lam, t), repeat)
    os.environ["THERMAL_PARALLEL"] = "0"
    try:
        planck.spectral_radiance(lam, t)
        timings["thermal_serial"] = best_time(lambda: planck.spectral_radiance(lam, t), repeat)
    finally:
        del os.environ["THERMAL_PARALLEL"]

    def rate(key):
        return n / timings[key] / 1e6

    labels = {
        "thermal": f"thermal.planck.spectral_radiance ({numba.get_num_threads()} threads)",
        "thermal_serial": "thermal.planck.spectral_radiance (THERMAL_PARALLEL=0)",
        "numpy": "plain numpy c1/l^5/expm1(x)",
        "astropy": "astropy BlackBody with units (on n/10, scaled)",
        "limit_parallel": "limit: numba prange loop, one libm exp per value",
        "limit_serial": "limit: numba loop, one libm exp per value (1 thread)",
    }
    order = ("thermal", "thermal_serial", "numpy", "astropy", "limit_parallel", "limit_serial")
    rows = [(labels[key], rate(key), timings[key] * 1e3) for key in order if key in timings]
    print_table(
        f"Planck throughput, {n:.0e} (wavelength, temperature) pairs "
        f"(1-5.2 um, 90-1800 K); max rel. diff. to numpy {max_rel:.1e}",
        ("implementation", "M pairs/s", "ms"),
        rows,
    )
    ratios = [
        ("thermal / plain numpy", rate("thermal") / rate("numpy"), ">= 10"),
        (
            "thermal / exp limit (parallel vs parallel)",
            rate("thermal") / rate("limit_parallel"),
            ">= 0.5",
        ),
        (
            "thermal serial / exp limit serial",
            rate("thermal_serial") / rate("limit_serial"),
            ">= 0.5",
        ),
    ]
    if "astropy" in timings:
        ratios.insert(1, ("thermal / astropy BlackBody", rate("thermal") / rate("astropy"), ""))
    print_table("Planck ratios (same run)", ("ratio", "value", "goal"), ratios)


if __name__ == "__main__":
    main()
