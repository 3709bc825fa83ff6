"""Shared fixtures for the reader and writer tests: small synthetic observation files."""

from __future__ import annotations

import numpy as np
import pytest

from thermal import simulate


@pytest.fixture
def spectra():
    """A 3-spectrum, 40-wavelength observation (1-5 um) with known 2T truth, intensity."""
    return simulate.observation(
        [1100.0, 450.0], [1e6, 50e6], wavelength=np.linspace(1.0, 5.0, 40), n=3, seed=1
    )


@pytest.fixture
def write():
    """Write a Dataset with plain xarray (no thermal writer involved); returns the path."""

    def _write(ds, path):
        ds.to_netcdf(path, engine="netcdf4")
        return str(path)

    return _write
