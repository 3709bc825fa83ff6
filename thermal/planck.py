"""Planck radiometry: spectral radiance, its derivative and exact inverse, band averages.

All functions accept Python scalars, numpy arrays (broadcast against each other), astropy
Quantities (converted: a wavelength in nm or a temperature in degC gives the same answer as the
same value in um or K; a unit that does not convert raises ValueError naming the argument) and
xarray DataArrays (returned as DataArrays with ``units`` and ``long_name`` attributes; a
DataArray argument's own ``units`` attribute is honoured, e.g. a wavelength in ``"nm"`` or a
temperature in ``"degC"``; dask-backed DataArrays stay lazy). Scalars give numpy float64
scalars.

Conventions: wavelength [um], wavenumber [cm-1], temperature [K], spectral radiance
[W m-2 sr-1 um-1]. Invalid input (wavelength <= 0, temperature <= 0, radiance < 0, or an
infinite value) raises ``ValueError`` naming the argument; NaN gives NaN; values that underflow
return an exact 0 and nothing ever warns.

References
----------
Planck, M. (1901), Ann. Phys. 309:553, doi:10.1002/andp.19013090310. Constants: CODATA 2018
(Tiesinga et al. 2021, Rev. Mod. Phys. 93:025010, doi:10.1103/RevModPhys.93.025010).
"""

from __future__ import annotations

import numpy as np

from thermal import bands as _bands
from thermal._kernels import planck as _k
from thermal.constants import STEFAN_BOLTZMANN
from thermal.units import CANONICAL, conversion_factor, quantity_inputs

__all__ = [
    "band_brightness_temperature",
    "band_radiance",
    "brightness_temperature",
    "exitance",
    "photon_radiance",
    "radiance_derivative",
    "spectral_radiance",
    "spectral_radiance_wavenumber",
]

_RANGES = {
    "wavelength": "finite and > 0 [um]",
    "wavenumber": "finite and > 0 [cm-1]",
    "temperature": "finite and > 0 [K]",
    "radiance": "finite and >= 0 [W m-2 sr-1 um-1]",
}


def _is_dataarray(value) -> bool:
    return type(value).__name__ == "DataArray" and hasattr(value, "dims")


def _canonical(value, quantity: str):
    """A DataArray in its canonical unit (honouring its ``units`` attribute)."""
    units = value.attrs.get("units")
    if units is None or quantity not in CANONICAL:
        return value
    factor = conversion_factor(units, CANONICAL[quantity])
    return value if factor == 1.0 else value * factor


def _raise_invalid(name: str, values: np.ndarray, valid) -> None:
    bad = values[~valid(values) & ~np.isnan(values)]
    example = float(bad.flat[0])
    raise ValueError(
        f"{name} must be {_RANGES[name]}; got {bad.size} invalid value(s), e.g. {example!r}"
    )


def _elementwise_numpy(code: int, a, b, names: tuple[str, str]) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    shape = np.broadcast_shapes(a.shape, b.shape)
    flat_a = np.ascontiguousarray(np.broadcast_to(a, shape)).ravel()
    flat_b = np.ascontiguousarray(np.broadcast_to(b, shape)).ravel()
    out = np.empty(flat_a.size)
    unsettled = flat_a.size
    if code != _k.T_BRIGHTNESS:
        unsettled = _k.elementwise_fast(code, flat_a, flat_b, out, size=flat_a.size)
    if unsettled:
        bad_a, bad_b = _k.elementwise(
            code, flat_a, flat_b, out, code != _k.T_BRIGHTNESS, size=flat_a.size
        )
        if bad_a:
            _raise_invalid(names[0], flat_a, lambda v: (v > 0) & np.isfinite(v))
        if bad_b:
            lower = (lambda v: v >= 0) if code == _k.T_BRIGHTNESS else (lambda v: v > 0)
            _raise_invalid(names[1], flat_b, lambda v: lower(v) & np.isfinite(v))
    out = out.reshape(shape)
    return out[()] if out.ndim == 0 else out


def _dispatch(numpy_function, args, quantities, units: str, long_name: str):
    """Run ``numpy_function`` on plain arrays, or through xarray for DataArray arguments."""
    if not any(_is_dataarray(a) for a in args):
        return numpy_function(*args)
    import xarray as xr

    args = [
        _canonical(a, q) if _is_dataarray(a) else a for a, q in zip(args, quantities, strict=True)
    ]
    result = xr.apply_ufunc(numpy_function, *args, dask="parallelized", output_dtypes=[np.float64])
    result.attrs = {"units": units, "long_name": long_name}
    return result


def _forward(code, first, temperature, first_name, units, long_name):
    names = (first_name, "temperature")
    return _dispatch(
        lambda a, t: _elementwise_numpy(code, a, t, names),
        (first, temperature),
        names,
        units,
        long_name,
    )


@quantity_inputs(wavelength="um", temperature="K")
def spectral_radiance(wavelength, temperature):
    """Blackbody spectral radiance per unit wavelength, B_lambda(T).

    Parameters
    ----------
    wavelength : array_like or DataArray
        Wavelength [um], > 0.
    temperature : array_like or DataArray
        Temperature [K], > 0.

    Returns
    -------
    ndarray, float or DataArray
        Spectral radiance [W m-2 sr-1 um-1]; an exact 0 where the value underflows float64.

    Examples
    --------
    >>> float(spectral_radiance(3.776, 1000.0))  # doctest: +ELLIPSIS
    3513.1...
    """
    return _forward(
        _k.B_LAMBDA,
        wavelength,
        temperature,
        "wavelength",
        CANONICAL["radiance"],
        "blackbody spectral radiance",
    )


@quantity_inputs(wavenumber="cm-1", temperature="K")
def spectral_radiance_wavenumber(wavenumber, temperature):
    """Blackbody spectral radiance per unit wavenumber, B_nu~(T).

    Parameters
    ----------
    wavenumber : array_like or DataArray
        Wavenumber [cm-1], > 0.
    temperature : array_like or DataArray
        Temperature [K], > 0.

    Returns
    -------
    ndarray, float or DataArray
        Spectral radiance [W m-2 sr-1 (cm-1)-1].
    """
    return _forward(
        _k.B_WAVENUMBER,
        wavenumber,
        temperature,
        "wavenumber",
        "W m-2 sr-1 (cm-1)-1",
        "blackbody spectral radiance per wavenumber",
    )


@quantity_inputs(wavelength="um", temperature="K")
def photon_radiance(wavelength, temperature):
    """Blackbody photon spectral radiance, B_lambda lambda / (h c).

    Parameters
    ----------
    wavelength : array_like or DataArray
        Wavelength [um], > 0.
    temperature : array_like or DataArray
        Temperature [K], > 0.

    Returns
    -------
    ndarray, float or DataArray
        Photon radiance [photons s-1 m-2 sr-1 um-1].
    """
    return _forward(
        _k.PHOTON,
        wavelength,
        temperature,
        "wavelength",
        "s-1 m-2 sr-1 um-1",
        "blackbody photon spectral radiance",
    )


@quantity_inputs(wavelength="um", temperature="K")
def radiance_derivative(wavelength, temperature):
    """Temperature derivative of the spectral radiance, dB_lambda/dT.

    Parameters
    ----------
    wavelength : array_like or DataArray
        Wavelength [um], > 0.
    temperature : array_like or DataArray
        Temperature [K], > 0.

    Returns
    -------
    ndarray, float or DataArray
        dB_lambda/dT = B_lambda (x / T) / (1 - exp(-x)), x = c2 / (lambda T)
        [W m-2 sr-1 um-1 K-1].
    """
    return _forward(
        _k.DB_DT,
        wavelength,
        temperature,
        "wavelength",
        "W m-2 sr-1 um-1 K-1",
        "temperature derivative of spectral radiance",
    )


@quantity_inputs(wavelength="um", radiance="W m-2 sr-1 um-1")
def brightness_temperature(wavelength, radiance):
    """Brightness temperature: the exact inverse of :func:`spectral_radiance`.

    Parameters
    ----------
    wavelength : array_like or DataArray
        Wavelength [um], > 0.
    radiance : array_like or DataArray
        Spectral radiance [W m-2 sr-1 um-1], >= 0 (mask noisy negative values first).

    Returns
    -------
    ndarray, float or DataArray
        T = c2 / (lambda ln(1 + c1 / (lambda^5 L))) [K]; 0 K for zero radiance.
    """
    names = ("wavelength", "radiance")
    return _dispatch(
        lambda a, r: _elementwise_numpy(_k.T_BRIGHTNESS, a, r, names),
        (wavelength, radiance),
        names,
        "K",
        "brightness temperature",
    )


def _band_numpy(band, values, inverse: bool, name: str):
    values = np.asarray(values, dtype=np.float64)
    flat = np.ascontiguousarray(values).ravel()
    out = np.empty(flat.size)
    bad = _k.band_loop(
        band.nodes, band.weights, band.centre, inverse, flat, out, size=flat.size * band.nodes.size
    )
    if bad:
        lower = (lambda v: v >= 0) if inverse else (lambda v: v > 0)
        _raise_invalid(name, flat, lambda v: lower(v) & np.isfinite(v))
    out = out.reshape(values.shape)
    return out[()] if out.ndim == 0 else out


@quantity_inputs(temperature="K")
def band_radiance(band, temperature):
    """Band-averaged blackbody radiance: the response-weighted mean of B_lambda over a band.

    Parameters
    ----------
    band : str or thermal.bands.Band
        A band name from :func:`thermal.bands.names` or a :class:`~thermal.bands.Band`.
    temperature : array_like or DataArray
        Temperature [K], > 0.

    Returns
    -------
    ndarray, float or DataArray
        Mean spectral radiance over the band [W m-2 sr-1 um-1]: integral(R B) / integral(R).
        At low temperature it differs strongly from B at the band centre (NIRC2 Lp at 200 K:
        1.24 times B(3.776 um)), which is why photometry fits integrate over the band.
    """
    band = _bands.get(band)
    return _dispatch(
        lambda t: _band_numpy(band, t, False, "temperature"),
        (temperature,),
        ("temperature",),
        CANONICAL["radiance"],
        f"blackbody radiance averaged over band {band.name}",
    )


@quantity_inputs(radiance="W m-2 sr-1 um-1")
def band_brightness_temperature(band, radiance):
    """Band brightness temperature: the inverse of :func:`band_radiance`.

    Parameters
    ----------
    band : str or thermal.bands.Band
        A band name or :class:`~thermal.bands.Band`.
    radiance : array_like or DataArray
        Band-averaged spectral radiance [W m-2 sr-1 um-1], >= 0.

    Returns
    -------
    ndarray, float or DataArray
        Temperature [K] whose band-averaged blackbody radiance equals ``radiance``, solved by
        bracketed Newton iteration to 1e-14 relative; 0 K for zero radiance.
    """
    band = _bands.get(band)
    return _dispatch(
        lambda r: _band_numpy(band, r, True, "radiance"),
        (radiance,),
        ("radiance",),
        "K",
        f"brightness temperature in band {band.name}",
    )


def _exitance_numpy(temperature):
    t = np.asarray(temperature, dtype=np.float64)
    valid = (t > 0) & np.isfinite(t)
    if not np.all(valid | np.isnan(t)):
        _raise_invalid("temperature", t.ravel(), lambda v: (v > 0) & np.isfinite(v))
    out = STEFAN_BOLTZMANN * t**4
    return out[()] if np.ndim(out) == 0 else out


@quantity_inputs(temperature="K")
def exitance(temperature):
    """Blackbody radiant exitance, sigma T^4 (the power per unit area into a hemisphere).

    Parameters
    ----------
    temperature : array_like or DataArray
        Temperature [K], > 0.

    Returns
    -------
    ndarray, float or DataArray
        Exitance [W m-2]; pi times the wavelength integral of :func:`spectral_radiance`.
    """
    return _dispatch(
        _exitance_numpy, (temperature,), ("temperature",), "W m-2", "blackbody radiant exitance"
    )
