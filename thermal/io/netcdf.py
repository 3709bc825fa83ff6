"""netCDF files already in the observation layout (NIMS-like spectra, ``thermal simulate``)."""

from __future__ import annotations

import os

import xarray as xr

from thermal.layout import InputError, finalise

__all__ = ["read_dataset", "read_netcdf"]


def read_dataset(path) -> xr.Dataset:
    """Load a netCDF file fully into memory and close it.

    Parameters
    ----------
    path : str or path-like
        A netCDF-3 or netCDF-4 file.

    Raises
    ------
    InputError
        If the file is not a readable netCDF file (empty, truncated or corrupt).
    """
    try:
        with xr.open_dataset(path, engine="netcdf4", decode_timedelta=False) as ds:
            return ds.load()
    except (OSError, ValueError, RuntimeError, KeyError, IndexError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        size = os.path.getsize(path)
        raise InputError(
            path, f"not a readable netCDF file ({size} bytes; truncated or corrupt?): {detail}"
        ) from error


def read_netcdf(path) -> xr.Dataset:
    """Read an observation stored as netCDF in the observation layout.

    Parameters
    ----------
    path : str or path-like
        netCDF file with dim ``wavelength`` (coordinate with a ``units`` attribute; values
        without units are accepted as um only when <= 100) or ``band`` (names from
        :mod:`thermal.bands`), and ``intensity`` or ``radiance`` with optional uncertainties.

    Returns
    -------
    xarray.Dataset
        The observation in canonical units (see :func:`thermal.io.open_observation`).
    """
    ds = read_dataset(path)
    ds.attrs.setdefault("product_id", os.path.splitext(os.path.basename(path))[0])
    return finalise(ds, path, source_format="netcdf")
