"""Regenerate the synthetic example files in ``data/examples/`` (see ``data/README.md``).

Run from the repository root: ``python data/make_examples.py``. Deterministic (fixed seeds).
The Keck table's published rows are typed in by hand in ``keck_2013-08.csv`` and not touched.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from thermal import simulate
from thermal.io import write_results

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")


def nims_like(path: str) -> None:
    """NIMS-like night-side spectra: 12 hot spots x 120 wavelengths (1-5.2 um), 2T truth."""
    rng = np.random.default_rng(42)
    n = 12
    hot = rng.uniform(700.0, 1400.0, n)
    warm = rng.uniform(350.0, 550.0, n)
    hot_area = 10 ** rng.uniform(5.0, 6.5, n)  # 0.1-3 km2
    warm_area = 10 ** rng.uniform(7.0, 8.3, n)  # 10-200 km2
    ds = simulate.observation(
        np.column_stack([hot, warm]),
        np.column_stack([hot_area, warm_area]),
        wavelength=np.linspace(1.0, 5.2, 120),
        noise=0.03,
        seed=7,
    )
    ds = ds.rename(spectrum="hotspot").assign_coords(
        hotspot=[f"synthetic-{i:02d}" for i in range(n)]
    )
    # store in the catalogue unit, to exercise unit handling: GW um-1 sr-1
    for name in ("intensity", "intensity_uncertainty"):
        ds[name] = ds[name] / 1e9
        ds[name].attrs["units"] = "GW um-1 sr-1"
    ds.attrs.update(
        title="Synthetic NIMS-like hot-spot spectra (thermal example data)",
        summary="Two-temperature blackbody spectra with 3 % noise on a NIMS-like 1-5.2 um grid; "
        "the truth is in true_temperature [K] and true_area [m2].",
        product_id="nims_like_synthetic",
        source="data/make_examples.py (thermal.simulate.observation, seed 7)",
    )
    write_results(ds, path, history="python data/make_examples.py")


def main() -> None:
    os.makedirs(HERE, exist_ok=True)
    nims_like(os.path.join(HERE, "nims_like_spectra.nc"))
    simulate.jiram_image(HERE, "JIR_IMG_RDR_2017033T114006_V99")
    simulate.jiram_spectrometer(HERE, "JIR_SPE_RDR_2017033T114007_V99")
    simulate.s3d_cube(os.path.join(HERE, "jwst_nirspec_synthetic_s3d.fits"))


if __name__ == "__main__":
    main()
