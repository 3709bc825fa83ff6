"""netCDF files already in the observation layout (NIMS-like spectra, ``thermal simulate``).

The file is untrusted (``SECURITY.md``): before xarray opens it (which loads index coordinates
at once), the shapes of the root group's variables are read with netCDF4 alone and their
values counted; a file whose declared data would not fit the memory budget
(:func:`thermal.io.limits.current_max_memory`) is refused. A compressed variable can declare
far more than the file holds (a 40 kB file declaring 1e10 bytes), so the declaration, not the
file size, is what counts.
"""

from __future__ import annotations

import math
import os

import xarray as xr

from thermal.io import limits
from thermal.layout import InputError, finalise

__all__ = ["BYTES_PER_VALUE", "read_dataset", "read_netcdf"]

BYTES_PER_VALUE = 32
"""Peak memory [bytes] of reading one declared value (the loaded variable, its float64
copy and the unit conversion of ``finalise``)."""


def _declared(path) -> tuple[int, str]:
    """(number of values, the largest variable as ``"name (a x b)"``) that the root group of
    the file declares, read from the metadata only."""
    import netCDF4

    total, largest, largest_size = 0, "", -1
    with netCDF4.Dataset(path, "r") as nc:
        for name, variable in nc.variables.items():
            shape = tuple(int(n) for n in variable.shape)
            size = math.prod(shape)
            total += size
            if size > largest_size:
                largest_size = size
                largest = f"{name} ({' x '.join(map(str, shape)) or 'scalar'})"
    return total, largest


def read_dataset(path) -> xr.Dataset:
    """Load a netCDF file fully into memory and close it.

    Parameters
    ----------
    path : str or path-like
        A netCDF-3 or netCDF-4 file.

    Raises
    ------
    InputError
        If the file is not a readable netCDF file (empty, truncated or corrupt), or declares
        more data than the memory budget allows.
    """
    try:
        values, largest = _declared(path)
        limits.check_memory(
            path,
            values * BYTES_PER_VALUE,
            f"the file's variables ({values:,} values declared; largest {largest})",
        )
        with xr.open_dataset(path, engine="netcdf4", decode_timedelta=False) as ds:
            return ds.load()
    except InputError:
        raise
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
