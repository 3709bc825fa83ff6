"""What a fit costs beyond the kernel: fit_spectra's fixed cost per call, its memory on a large
batch, and the size of a default result file.

- Fixed cost: one spectrum of 3 bands, 1T, many calls (the kernel's own share is ~10 us).
  Goal: <= 1 ms per call.
- Memory: peak Python-allocated memory (numpy buffers included, tracemalloc) of
  ``fit_spectra`` on 1e6 spectra x 17 wavelengths (2T), above its input. Goal: <= 600 MB.
- Result size: that result written by ``thermal.io.write_results`` as ``thermal fit`` writes
  it by default (parameters, uncertainties, fit statistics, status). Goal: <= 250 MB.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np
import xarray as xr

from benchmarks._common import peak_memory, print_table
from thermal import planck, simulate
from thermal.fit import fit_spectra
from thermal.io import write_results


def _large(n: int) -> xr.Dataset:
    rng = np.random.default_rng(0)
    lam = np.linspace(1.5, 5.0, 17)
    hot = 1e6 * planck.spectral_radiance(lam, rng.uniform(800, 1400, n)[:, None])
    cold = 1e8 * planck.spectral_radiance(lam, rng.uniform(300, 600, n)[:, None])
    y = (hot + cold) * (1 + 0.02 * rng.standard_normal((n, lam.size)))
    return xr.Dataset(
        {
            "intensity": (("spectrum", "wavelength"), y, {"units": "W sr-1 um-1"}),
            "intensity_uncertainty": (("spectrum", "wavelength"), 0.02 * np.abs(y)),
        },
        coords={"wavelength": ("wavelength", lam, {"units": "um"})},
    )


def main(quick: bool = False) -> None:
    small = simulate.observation([1100.0], [1e6], bands=["nirc2_kc", "nirc2_lp", "nirc2_ms"])
    fit_spectra(small, model="1T")
    calls = 200 if quick else 2000
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls // 5):
            fit_spectra(small, model="1T")
        best = min(best, (time.perf_counter() - start) / (calls // 5))

    n = 100_000 if quick else 1_000_000
    obs = _large(n)
    fit_spectra(obs.isel(spectrum=slice(0, 100)), model="2T")
    start = time.perf_counter()
    result, peak = peak_memory(lambda: fit_spectra(obs, model="2T"))
    elapsed = time.perf_counter() - start
    with tempfile.TemporaryDirectory(prefix="thermal-bench-size-") as folder:
        path = os.path.join(folder, "result.fit.nc")
        write_results(result, path)
        size = os.path.getsize(path) / 1e6
    scale = 1_000_000 / n
    rows = [
        ("fit_spectra fixed cost per call [ms]", best * 1e3, 1.0, best * 1e3 <= 1.0),
        (f"fit_spectra peak memory, {n:.0e} x 17 [MB]", peak, 600 / scale, peak <= 600 / scale),
        (f"default result file, {n:.0e} x 17 [MB]", size, 250 / scale, size <= 250 / scale),
        ("2T fits/s in that call (tracemalloc on)", n / elapsed, "-", "-"),
    ]
    print_table(
        "fit_spectra overhead, memory and result size", ("figure", "value", "goal", "met"), rows
    )


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
