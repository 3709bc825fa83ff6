"""The observation and result layouts: names, dimensions, units and attributes, defined once.

Observation layout (what readers produce and fits consume; ``docs/layout.md``): checks and unit
normalisation shared by readers.

Every reader builds a Dataset and hands it to :func:`finalise`, which converts the spectral
coordinate, data, uncertainties and geometry to canonical units (keeping the original unit
strings in ``original_units`` attributes) and rejects what cannot be fitted with an
:class:`InputError` whose message is one line naming the file and the problem.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import xarray as xr

from thermal import bands as _bands
from thermal.units import CANONICAL, conversion_factor

__all__ = [
    "RADIANCE_STANDARD_NAME",
    "STORE_CHOICES",
    "InputError",
    "Output",
    "build_result",
    "check_store",
    "finalise",
    "image_kind",
    "output",
    "spectral_dim_and_kind",
]

DATA_VARIABLES = ("intensity", "radiance")
_GEOMETRY_UNITS = {
    "pixel_area": CANONICAL["area"],
    "distance": CANONICAL["distance"],
    "emission_angle": CANONICAL["angle"],
}
_EXAMPLE_UNITS = {
    "intensity": " or 'GW um-1 sr-1'",
    "intensity_uncertainty": " or 'GW um-1 sr-1'",
    "radiance": " or 'W/(m^2*sr*micron)'",
    "pixel_area": " or 'km2'",
    "distance": " or 'km'",
    "emission_angle": "",
}

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

    def __reduce__(self):  # pickled between dask processes
        return (type(self), (self.path, self.problem))


RADIANCE_STANDARD_NAME = "toa_outgoing_radiance_per_unit_wavelength"
"""The CF standard name of spectral radiance as a spacecraft sees it (CF has none for
spectral intensity [W sr-1 um-1])."""


def _units_of(variable: xr.DataArray) -> str | None:
    units = variable.attrs.get("units", variable.encoding.get("units"))
    return None if units in (None, "") else str(units)


def _to_unit(ds: xr.Dataset, name: str, target: str, path) -> None:
    """Convert ``ds[name]`` in place to ``target``, recording the original unit string."""
    variable = ds[name]
    units = _units_of(variable)
    attrs = dict(variable.attrs)
    if units is None:
        raise InputError(
            path,
            f"variable {name!r} has no units attribute; give it one in the file (e.g. "
            f"units = {target!r}{_EXAMPLE_UNITS.get(name, '')})",
        )
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


def check_wavelengths(values, error=ValueError) -> np.ndarray:
    """The wavelength coordinate [um] of an observation, checked: one-dimensional, non-empty,
    finite, > 0 and strictly increasing; otherwise ``error(message)`` is raised. The one check
    of it, for files (``finalise``) and for Datasets and arrays given to the fits."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise error("wavelength must be a non-empty 1-D coordinate")
    if not np.all(np.isfinite(values)):
        raise error("wavelength coordinate has non-finite values")
    if np.any(values <= 0):
        raise error("wavelength must be > 0 [um]")
    steps = np.diff(values)
    if np.any(steps == 0):
        i = int(np.flatnonzero(steps == 0)[0])
        raise error(f"duplicate wavelength {values[i]:.6g} um")
    if np.any(steps < 0):
        i = int(np.flatnonzero(steps < 0)[0])
        raise error(
            f"wavelengths are not increasing ({values[i]:.6g} um before {values[i + 1]:.6g} um)"
        )
    return values


def _check_wavelength(ds: xr.Dataset, path) -> xr.Dataset:
    coord = ds["wavelength"]
    values = np.asarray(coord.values, dtype=float)
    units = _units_of(coord)
    attrs = {k: v for k, v in coord.attrs.items() if k not in ("units", "_FillValue")}
    # a coordinate of the wrong shape or with non-finite values is named as such, units or not
    if units is None and values.ndim == 1 and values.size and np.all(np.isfinite(values)):
        raise InputError(
            path,
            f"wavelength coordinate has no units attribute (values up to {values.max():.6g}); "
            "give it one in the file (e.g. units = 'um' or 'nm')",
        )
    if units is not None:
        try:
            factor = conversion_factor(units, "um")
        except ValueError as error:
            raise InputError(path, f"wavelength units {units!r} are not a length") from error
        attrs["original_units"] = units
        values = values * factor
    values = check_wavelengths(values, lambda problem: InputError(path, problem))
    attrs.update(units="um", standard_name="radiation_wavelength", long_name="wavelength")
    return ds.assign_coords(wavelength=("wavelength", values, attrs))


def check_band_names(names, error=ValueError) -> list[str]:
    """The band coordinate of an observation, lower-cased and checked: non-empty, every name
    known to :mod:`thermal.bands`, none repeated; otherwise ``error(message)`` is raised. The
    one check of it, for files (``finalise``) and for Datasets given to the fits."""
    names = [str(n) for n in np.asarray(names).ravel()]
    if not names:
        raise error("band coordinate is empty")
    known = set(_bands.names())
    for name in names:
        if name.lower() not in known:
            raise error(f"unknown band name {name!r}; known bands: {', '.join(_bands.names())}")
    names = [n.lower() for n in names]
    if len(set(names)) != len(names):
        raise error("duplicate band names")
    return names


def _check_band(ds: xr.Dataset, path) -> xr.Dataset:
    names = check_band_names(ds["band"].values, lambda problem: InputError(path, problem))
    centres = [_bands.get(n).centre for n in names]
    attrs = {"long_name": "filter band name (see `thermal bands`)"}
    ds = ds.assign_coords(band=("band", np.array(names, dtype=object), attrs))
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


def spectral_dim_and_kind(ds: xr.Dataset, error=ValueError) -> tuple[str, str]:
    """The spectral dim (``wavelength`` or ``band``) and data kind (``intensity`` or
    ``radiance``) of an observation; anything else raises ``error(message)``."""
    dims = [d for d in ("wavelength", "band") if d in ds.dims]
    if len(dims) != 1:
        raise error(
            "observation must have exactly one spectral dimension, 'wavelength' (um) or "
            f"'band'; found {dims or 'none'}"
        )
    kinds = [k for k in DATA_VARIABLES if k in ds.data_vars]
    if len(kinds) != 1:
        raise error(
            "observation must hold exactly one data variable, 'intensity' or 'radiance' "
            f"([W sr-1 um-1] or [W m-2 sr-1 um-1]); found {kinds or 'neither'}"
        )
    return dims[0], kinds[0]


IMAGE_DIMS = (("line", "sample"), ("y", "x"))
"""The pairs of dims that make an observation an image."""


def image_kind(observation: xr.Dataset) -> str:
    """``"bands"`` (an image with one band per pixel), ``"cube"`` (an image with a spectrum
    per pixel) or ``""`` (no image)."""
    data = observation.get("radiance")
    if data is None:
        return ""
    dims = set(data.dims)
    if not any(set(pair) <= dims for pair in IMAGE_DIMS):
        return ""
    if "band" in dims:
        return "bands"
    if "wavelength" in dims:
        return "cube"
    return ""


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
    spectral, kind = spectral_dim_and_kind(ds, lambda problem: InputError(path, problem))
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
        # a zero, negative or non-finite uncertainty flags its spectrum (invalid_uncertainty)
    data = ds[kind].values
    if not np.any(np.isfinite(data)):
        raise InputError(path, f"no finite {kind} values: every value is NaN or infinite")
    for name, unit in _GEOMETRY_UNITS.items():
        if name in ds.variables:
            _to_unit(ds, name, unit, path)
    for name in (kind, sigma):
        if name in ds.data_vars:
            ds[name].attrs.setdefault("long_name", _LONG_NAMES[name])
    if kind == "radiance":
        ds[kind].attrs.setdefault("standard_name", RADIANCE_STANDARD_NAME)
    ds = ds.transpose(..., spectral)
    ds.attrs.setdefault("source", str(path))
    ds.attrs["thermal_input_format"] = source_format
    return ds


# ---------------------------------------------------------------------------------------------
# Result layout (what fits produce): every model's outputs are declared as Output rows and
# assembled into a Dataset by build_result, the one place result Datasets are made.

CANONICAL_DATA_UNITS = {"intensity": CANONICAL["intensity"], "radiance": CANONICAL["radiance"]}

STORE_CHOICES = ("model", "covariance", "input")
"""What a result may hold beyond parameters, uncertainties, fit statistics and status."""


class Output(NamedTuple):
    """One result variable: its name, the dims after the batch dims, dtype and attributes."""

    name: str
    dims: tuple
    dtype: type
    attrs: dict


def output(name, dims=(), *, long_name, units, content="modelResult", dtype=float, **extra):
    """An :class:`Output` with CF/ACDD attributes (``long_name``, ``units``,
    ``coverage_content_type``)."""
    attrs = {"long_name": long_name, "units": units, "coverage_content_type": content, **extra}
    return Output(name, tuple(dims), dtype, attrs)


def uncertainty(of: Output, units=None) -> Output:
    """The 1-sigma uncertainty output of ``of`` (same dims and units)."""
    return output(
        f"{of.name}_uncertainty",
        of.dims,
        long_name=f"1-sigma uncertainty of {of.name}",
        units=of.attrs["units"] if units is None else units,
        content="qualityInformation",
    )


def statistics_outputs(params, spectral_dim, kind, store) -> list[Output]:
    """Outputs every fit has: covariance (on request), chi2, dof, aic, bic, status, nfev,
    and the best-fit model spectrum (on request)."""
    from thermal.status import flag_attributes

    quality = "qualityInformation"
    outputs = []
    if "covariance" in store:
        outputs.append(
            output(
                "covariance", ("param", "param_j"), units="1", content=quality,
                long_name="covariance of the fitted parameters",
                comment="entry (p, q) has the unit of parameter p times that of q (see the "
                "param coordinate); NaN rows: parameter not constrained (status)",
            )
        )  # fmt: skip
    flags = flag_attributes()
    outputs += [
        output("chi2", long_name="chi-square of the fit (sum of squared normalised residuals)",
               units="1", content=quality),
        output("dof", long_name="degrees of freedom (valid channels minus fitted parameters)",
               units="1", content=quality, dtype=np.int64),
        output("aic", long_name="Akaike information criterion, chi2 + 2 k", units="1",
               content=quality),
        output("bic", long_name="Bayesian information criterion, chi2 + k ln n", units="1",
               content=quality),
        Output("status", (), np.int8, flags),
        output("nfev", long_name="number of model evaluations", units="1",
               content="auxiliaryInformation", dtype=np.int64),
    ]  # fmt: skip
    if "model" in store:
        outputs.append(
            output(f"model_{kind}", (spectral_dim,), long_name=f"best-fit model {kind}",
                   units=CANONICAL_DATA_UNITS[kind])
        )  # fmt: skip
    return outputs


def check_store(store) -> frozenset:
    """``store`` as a set of names from :data:`STORE_CHOICES` (a comma-separated string or a
    sequence); raises ValueError naming the unknown ones."""
    if store is None:
        return frozenset()
    if isinstance(store, str):
        store = [s for s in (part.strip() for part in store.split(",")) if s]
    store = frozenset(store)
    unknown = sorted(store - set(STORE_CHOICES))
    if unknown:
        raise ValueError(
            f"store must name some of {', '.join(STORE_CHOICES)}; got {', '.join(unknown)}"
        )
    return store


def build_result(variables, outputs, *, coords, attrs, components=0, params=()) -> xr.Dataset:
    """The result Dataset from ``variables`` (name -> (dims, values), numpy or dask) and the
    :class:`Output` rows that give each one's attributes, in that order.

    ``coords`` (name -> coordinate DataArray, or anything ``xarray.Coordinates`` takes) are the
    observation's coordinates kept in the result (none on the spectral dim); ``components`` > 0
    adds the ``component`` coordinate and ``params`` the ``param`` and ``param_j`` coordinates
    (parameter names). These are made once per model shape and copied into each result (built
    per call they were a third of a small fit's cost).
    """
    data = {}
    for out in outputs:
        if out.name not in variables:
            continue
        dims, values = variables[out.name]
        data[out.name] = xr.Variable(dims, values, dict(out.attrs))
    model = _model_coordinates(int(components), tuple(params))
    arrays = {name: c for name, c in coords.items() if isinstance(c, xr.DataArray)}
    others = {name: c for name, c in coords.items() if name not in arrays}
    extra = xr.Coordinates(others) if others else None
    kept = {name: c.variable for name, c in arrays.items()}
    indexes = {}
    for c in arrays.values():
        indexes.update({k: i for k, i in c.xindexes.items() if k in kept})
    if extra is not None:
        kept.update(extra.variables)
        indexes.update(extra.xindexes)
    # this result's own copies: attributes and indexes are not shared with other results
    own = {name: v.copy(deep=False) for name, v in model.variables.items()}
    own_indexes = {name: i.copy(deep=True) for name, i in model.xindexes.items()}
    merged = xr.Coordinates({**kept, **own}, indexes={**indexes, **own_indexes})
    return xr.Dataset(data, coords=merged, attrs=attrs)


@functools.lru_cache(maxsize=32)
def _model_coordinates(components: int, params: tuple) -> xr.Coordinates:
    coords = {}
    if components:
        coords["component"] = (
            "component", np.arange(components),
            {"long_name": "component index, hottest first when exchangeable", "units": "1"},
        )  # fmt: skip
    if params:
        coords["param"] = ("param", list(params), {"long_name": "fitted parameter"})
        coords["param_j"] = (
            "param_j", list(params), {"long_name": "fitted parameter (second covariance index)"}
        )  # fmt: skip
    return xr.Coordinates(coords)
