"""The observation and result layouts: names, dimensions, units and attributes, defined once.

Observation layout (what readers produce and fits consume; ``docs/layout.md``): checks and unit
normalisation shared by readers.

Every reader builds a Dataset and hands it to :func:`finalise`, which converts the spectral
coordinate, data, uncertainties and geometry to canonical units (keeping the original unit
strings in ``original_units`` attributes) and rejects what cannot be fitted with an
:class:`InputError` whose message is one line naming the file and the problem.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from thermal import bands as _bands
from thermal.units import CANONICAL, conversion_factor

__all__ = ["InputError", "finalise"]

DATA_VARIABLES = ("intensity", "radiance")
_GEOMETRY_UNITS = {
    "pixel_area": CANONICAL["area"],
    "distance": CANONICAL["distance"],
    "emission_angle": CANONICAL["angle"],
}
# A wavelength coordinate without units is taken as um only inside this range [um]; values
# above it look like nm (JIRAM: 2006.76-5018.69) and are rejected rather than guessed.
_UNITLESS_WAVELENGTH_MAX = 100.0

_LONG_NAMES = {
    "intensity": "spectral intensity",
    "radiance": "spectral radiance",
    "intensity_uncertainty": "1-sigma uncertainty of spectral intensity",
    "radiance_uncertainty": "1-sigma uncertainty of spectral radiance",
}


class InputError(ValueError):
    """An input file that cannot be read or fitted; ``str()`` is ``"<file>: <problem>"``."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _units_of(variable: xr.DataArray) -> str | None:
    units = variable.attrs.get("units", variable.encoding.get("units"))
    return None if units in (None, "") else str(units)


def _to_unit(ds: xr.Dataset, name: str, target: str, path) -> None:
    """Convert ``ds[name]`` in place to ``target``, recording the original unit string."""
    variable = ds[name]
    units = _units_of(variable)
    attrs = dict(variable.attrs)
    if units is None:
        attrs["units"] = target
        ds[name] = variable.copy(data=np.asarray(variable.values, dtype=float))
        ds[name].attrs = attrs
        return
    try:
        factor = conversion_factor(units, target)
    except ValueError as error:
        raise InputError(path, f"{name}: units {units!r} are not convertible to {target!r}") from (
            error
        )
    attrs.setdefault("original_units", units)
    attrs["units"] = target
    values = np.asarray(variable.values, dtype=float)
    ds[name] = variable.copy(data=values * factor if factor != 1.0 else values)
    ds[name].attrs = attrs


def _check_wavelength(ds: xr.Dataset, path) -> xr.Dataset:
    coord = ds["wavelength"]
    values = np.asarray(coord.values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise InputError(path, "wavelength must be a non-empty 1-D coordinate")
    if not np.all(np.isfinite(values)):
        raise InputError(path, "wavelength coordinate has non-finite values")
    units = _units_of(coord)
    attrs = {k: v for k, v in coord.attrs.items() if k not in ("units", "_FillValue")}
    if units is None:
        if values.max() > _UNITLESS_WAVELENGTH_MAX:
            raise InputError(
                path,
                f"wavelength coordinate has no units attribute and values up to "
                f"{values.max():.6g} (nm?); give it units (e.g. 'nm' or 'um')",
            )
        attrs["original_units"] = "(none; taken as um)"
    else:
        try:
            factor = conversion_factor(units, "um")
        except ValueError as error:
            raise InputError(path, f"wavelength units {units!r} are not a length") from error
        attrs["original_units"] = units
        values = values * factor
    if np.any(values <= 0):
        raise InputError(path, "wavelength must be > 0 [um]")
    steps = np.diff(values)
    if np.any(steps == 0):
        i = int(np.flatnonzero(steps == 0)[0])
        raise InputError(path, f"duplicate wavelength {values[i]:.6g} um")
    if np.any(steps < 0):
        i = int(np.flatnonzero(steps < 0)[0])
        raise InputError(
            path,
            f"wavelengths are not increasing ({values[i]:.6g} um before {values[i + 1]:.6g} um)",
        )
    attrs.update(units="um", standard_name="radiation_wavelength", long_name="wavelength")
    return ds.assign_coords(wavelength=("wavelength", values, attrs))


def _check_band(ds: xr.Dataset, path) -> xr.Dataset:
    names = [str(n) for n in np.asarray(ds["band"].values).ravel()]
    if not names:
        raise InputError(path, "band coordinate is empty")
    known = set(_bands.names())
    for name in names:
        if name.lower() not in known:
            raise InputError(
                path, f"unknown band name {name!r}; known bands: {', '.join(_bands.names())}"
            )
    if len(set(names)) != len(names):
        raise InputError(path, "duplicate band names")
    centres = [_bands.get(n).centre for n in names]
    attrs = {"long_name": "filter band name (see `thermal bands`)"}
    ds = ds.assign_coords(band=("band", np.array([n.lower() for n in names], dtype=object), attrs))
    return ds.assign_coords(
        band_centre=(
            "band",
            np.array(centres),
            {
                "units": "um",
                "standard_name": "sensor_band_central_radiation_wavelength",
                "long_name": "band centre wavelength",
            },
        )
    )


def finalise(ds: xr.Dataset, path, *, source_format: str) -> xr.Dataset:
    """Check ``ds`` against the observation layout and convert it to canonical units.

    Parameters
    ----------
    ds : xarray.Dataset
        A reader's Dataset: dim ``wavelength`` (with coordinate) or ``band``, and a variable
        ``intensity`` or ``radiance`` with optional ``*_uncertainty`` and geometry.
    path : str or path-like
        The input file, named in error messages and in the ``source`` attribute.
    source_format : str
        Short format name recorded as ``thermal_input_format``.

    Returns
    -------
    xarray.Dataset
        Wavelength [um], intensity [W sr-1 um-1] or radiance [W m-2 sr-1 um-1], uncertainties
        in the same units, ``pixel_area`` [m2], ``distance`` [m], ``emission_angle`` [degree],
        with the spectral dimension last.

    Raises
    ------
    InputError
        For a layout or value problem that makes the file unfittable.
    """
    spectral = [d for d in ("wavelength", "band") if d in ds.dims]
    if len(spectral) != 1:
        raise InputError(
            path, "expected exactly one spectral dimension, 'wavelength' (um) or 'band'"
        )
    (spectral,) = spectral
    present = [v for v in DATA_VARIABLES if v in ds.data_vars]
    if len(present) != 1:
        raise InputError(path, "expected one data variable, 'intensity' or 'radiance'")
    (kind,) = present
    if spectral not in ds[kind].dims:
        raise InputError(path, f"{kind} has no {spectral!r} dimension")
    if spectral == "wavelength":
        if "wavelength" not in ds.coords:
            raise InputError(path, "wavelength dimension has no coordinate values")
        ds = _check_wavelength(ds, path)
    else:
        if "band" not in ds.coords:
            raise InputError(path, "band dimension has no coordinate (band names)")
        ds = _check_band(ds, path)

    canonical = CANONICAL[kind]
    _to_unit(ds, kind, canonical, path)
    sigma = f"{kind}_uncertainty"
    if sigma in ds.data_vars:
        if _units_of(ds[sigma]) is None and _units_of(ds[kind]) is not None:
            ds[sigma].attrs["units"] = ds[kind].attrs.get("original_units", canonical)
        _to_unit(ds, sigma, canonical, path)
        values = ds[sigma].values
        bad = np.isfinite(values) & (values <= 0)
        if np.any(bad):
            raise InputError(
                path,
                f"{sigma} has {int(bad.sum())} value(s) <= 0 (first {values[bad][0]:.6g}); "
                "1-sigma uncertainties must be > 0",
            )
    data = ds[kind].values
    if not np.any(np.isfinite(data)):
        raise InputError(path, f"no finite {kind} values: every spectrum is NaN")
    for name, unit in _GEOMETRY_UNITS.items():
        if name in ds.variables:
            _to_unit(ds, name, unit, path)
    for name in (kind, sigma):
        if name in ds.data_vars:
            ds[name].attrs.setdefault("long_name", _LONG_NAMES[name])
    ds = ds.transpose(..., spectral)
    ds.attrs.setdefault("source", str(path))
    ds.attrs["thermal_input_format"] = source_format
    return ds
