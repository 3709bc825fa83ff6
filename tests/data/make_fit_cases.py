"""Regenerate ``fit_cases_e34e8a2.npz``: every numeric result of ``fit_spectra`` on simulated
spectra for the models the fit kernel treats apart (1T, 2T, 3T; 2T with a reflected-sunlight
background, with a fixed temperature and with unequal bounds, the last two not exchangeable),
with rows the kernel rejects. The stored file was made on commit e34e8a2, the last one before
the fit kernel was split into stages, on a CPU whose name it holds; ``tests/kernels/test_fit.py``
checks that the results have not changed by a bit (to 1e-9 on another CPU).

Run from the repository root: ``python tests/data/make_fit_cases.py`` (rewrites the file).
"""

from pathlib import Path

import numpy as np

from thermal import simulate
from thermal.fit import fit_spectra
from thermal.models import MultiBlackbody

N = 120
OUT = Path(__file__).with_name("fit_cases_e34e8a2.npz")


def models():
    """Name -> model of every case."""
    return {
        "1T": "1T",
        "2T": "2T",
        "3T": "3T",
        "2T_background": MultiBlackbody(2, background=True),
        "2T_fixed": MultiBlackbody(2, fixed={1: 120.0}),
        "2T_bounds": MultiBlackbody(2, bounds={0: (500.0, 2000.0), 1: (150.0, 700.0)}),
    }


def observation():
    """N spectra of 17 channels (2 % noise) from two components, with a spectrum of no data,
    one of one channel and one with an infinite value."""
    rng = np.random.default_rng(11)
    t = np.column_stack([rng.uniform(700, 1500, N), rng.uniform(250, 650, N)])
    a = np.column_stack([10 ** rng.uniform(4.5, 6.5, N), 10 ** rng.uniform(6.5, 8.5, N)])
    obs = simulate.observation(t, a, wavelength=np.linspace(1.5, 5.0, 17), noise=0.02, seed=12)
    values = obs["intensity"].values.copy()
    values[3] = np.nan
    values[10, 1:] = np.nan
    values[11, 0] = np.inf
    return obs.assign(intensity=(obs["intensity"].dims, values, obs["intensity"].attrs))


def cpu() -> str:
    """The CPU numba compiles for: the last bits of the reassociated sums depend on its vector
    width."""
    import llvmlite.binding
    import numba

    return numba.config.CPU_NAME or llvmlite.binding.get_host_cpu_name()


def results() -> dict:
    obs = observation()
    out = {"cpu": np.array(cpu())}
    for name, model in models().items():
        result = fit_spectra(obs, model=model, store="covariance")
        for variable, data in result.data_vars.items():
            if data.dtype.kind in "fiu":
                out[f"{name}|{variable}"] = data.values
    return out


if __name__ == "__main__":
    np.savez_compressed(OUT, **results())
    print(f"wrote {OUT}")
