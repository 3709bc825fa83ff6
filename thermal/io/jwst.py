"""JWST NIRSpec IFU and MIRI MRS spectral cubes (``*_s3d.fits``, pipeline ``cube_build``).

Extensions are addressed by ``EXTNAME`` (``SCI``, ``ERR``, ``DQ``; their order is not fixed).
``SCI``/``ERR`` are surface brightness in MJy sr-1 (``BUNIT``), converted to spectral radiance
[W m-2 sr-1 um-1] with :func:`thermal.units.surface_brightness_to_radiance`
(1 MJy sr-1 = 2.998e-6 / lambda[um]^2). Spaxels with a non-zero ``DQ`` or non-positive ``ERR``
are set to NaN (counted in ``masked_values``). With ``distance=`` [m] (observer-Io),
``pixel_area`` = ``PIXAR_SR * distance**2`` [m2], the projected spaxel area.

The wavelength of each plane is axis 3 of the ``SCI`` header's FITS WCS, evaluated by
:mod:`astropy.wcs` (wcslib):

- ``CTYPE3 = 'WAVE'``: linear, ``CRVAL3 + CDELT3 * PC3_3 * (p - CRPIX3)`` (or ``CD3_3``);
  ``CRVAL3`` and ``CDELT3`` or ``CD3_3`` are required.
- ``CTYPE3 = 'WAVE-TAB'``: tabulated (FITS WCS paper III), as ``cube_build`` writes cubes
  with a non-linear wavelength grid: ``PS3_0`` names the binary-table extension (``WCS-TABLE``)
  and ``PS3_1`` its column (``wavelength``) holding one wavelength per plane.

Any other ``CTYPE3`` (or none) is an :class:`InputError` naming it, and so is a spectral axis
mixed with the spatial ones (``PC3_1``/``PC3_2``). ``CUNIT3`` (default ``um``) converts the
values to um; wcslib is given the header without ``CUNIT3`` so that it evaluates the axis in
that unit instead of converting to metres and back (which moves values by an ulp).

Reference: JWST pipeline ``cube_build`` documentation, https://jwst-pipeline.readthedocs.io.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import xarray as xr

from thermal.layout import InputError, finalise
from thermal.units import conversion_factor, surface_brightness_to_radiance

__all__ = ["read_s3d"]

SPECTRAL_TYPES = ("WAVE", "WAVE-TAB")
"""The ``CTYPE3`` values read: linear and tabulated vacuum wavelength."""


def _hdu(hdul, name):
    for hdu in hdul:
        if str(hdu.header.get("EXTNAME", "")).upper() == name:
            return hdu
    return None


def _wavelengths(path, hdul, header, n: int) -> np.ndarray:
    """Wavelengths [um] of the ``n`` planes of a cube whose ``SCI`` header is ``header``."""
    ctype = str(header.get("CTYPE3", "")).strip()
    if ctype.upper() not in SPECTRAL_TYPES:
        found = f"CTYPE3 {ctype!r}" if ctype else "no CTYPE3"
        raise InputError(
            path,
            f"{found} in the SCI header: the wavelength axis must be 'WAVE' (linear) or "
            "'WAVE-TAB' (tabulated)",
        )
    if ctype.upper() == "WAVE" and (
        "CRVAL3" not in header or ("CDELT3" not in header and "CD3_3" not in header)
    ):
        raise InputError(path, "no linear wavelength WCS on axis 3 (CRVAL3, CDELT3/CD3_3)")
    unit = str(header.get("CUNIT3", "um")).strip() or "um"
    try:
        factor = conversion_factor(unit, "um")
    except ValueError as error:
        raise InputError(path, f"CUNIT3 {unit!r} is not a length") from error
    from astropy.wcs import WCS, FITSFixedWarning

    # wcslib would convert a spectral axis to metres (and the values by one ulp on the way
    # back); without CUNIT3 it works in the header's own unit, converted here with `factor`
    own_unit = header.copy()
    own_unit.remove("CUNIT3", ignore_missing=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(own_unit, fobj=hdul)
            if wcs.naxis != 3 or wcs.wcs.spec != 2:
                raise ValueError("axis 3 is not a spectral axis")
            coupling = wcs.wcs.get_pc()[2, :2]
            if np.any(coupling != 0):
                raise InputError(
                    path,
                    f"the wavelength axis is mixed with the spatial ones (PC3_1, PC3_2 = "
                    f"{coupling[0]:g}, {coupling[1]:g}); not supported",
                )
            world = wcs.sub([3]).all_pix2world(np.arange(n, dtype=float), 0)[0]
    except InputError:
        raise
    except Exception as error:  # astropy/wcslib raise many types for a bad WCS or table
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(path, f"cannot evaluate the {ctype} wavelength axis: {detail}") from (
            error
        )
    world = np.asarray(world, dtype=float)
    if world.shape != (n,) or not np.all(np.isfinite(world)):
        bad = int(np.count_nonzero(~np.isfinite(world)))
        raise InputError(path, f"the {ctype} axis gives no wavelength for {bad} of {n} planes")
    return world * factor if factor != 1.0 else world


def read_s3d(path, *, distance: float | None = None) -> xr.Dataset:
    """Read a JWST ``s3d`` cube into the observation layout.

    Parameters
    ----------
    path : str or path-like
        FITS file with ``SCI`` (and optionally ``ERR``, ``DQ``) image extensions of shape
        (wavelength, y, x).
    distance : float, optional
        Observer-target distance [m]; gives ``pixel_area`` [m2] from ``PIXAR_SR``.

    Returns
    -------
    xarray.Dataset
        ``radiance (y, x, wavelength)`` [W m-2 sr-1 um-1], ``radiance_uncertainty``.
    """
    try:
        from astropy.io import fits
    except ImportError as error:  # pragma: no cover - astropy is in the io extra
        raise InputError(path, "reading FITS needs astropy (pip install thermal[io])") from error
    try:
        hdul = fits.open(path, memmap=False)
    except Exception as error:  # astropy raises OSError/TypeError/ValueError on bad files
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(path, f"not a readable FITS file: {detail}") from error
    with hdul:
        sci = _hdu(hdul, "SCI")
        if sci is None or sci.data is None or sci.data.ndim != 3:
            raise InputError(path, "no 3-D SCI extension (not an s3d cube)")
        header = sci.header
        data = np.asarray(sci.data, dtype=float)
        err = _hdu(hdul, "ERR")
        sigma = None if err is None or err.data is None else np.asarray(err.data, dtype=float)
        dq = _hdu(hdul, "DQ")
        flags = None if dq is None or dq.data is None else np.asarray(dq.data)
        wavelength = _wavelengths(path, hdul, header, data.shape[0])
        primary = hdul[0].header
        attrs = {
            "product_id": str(primary.get("FILENAME", os.path.basename(str(path)))),
            "instrument": f"JWST {primary.get('INSTRUME', '')}".strip(),
            "platform": "JWST",
        }
        for key in ("PROGRAM", "OBSERVTN", "TARGNAME", "DATE-OBS", "FILTER", "GRATING", "CHANNEL"):
            if key in primary:
                attrs[f"jwst_{key.lower().replace('-', '_')}"] = str(primary[key])

    unit = str(header.get("BUNIT", "MJy/sr")).strip()
    try:
        to_mjy_sr = conversion_factor(unit, "MJy sr-1")
    except ValueError as error:
        raise InputError(path, f"BUNIT {unit!r} is not a surface brightness per frequency") from (
            error
        )

    bad = ~np.isfinite(data)
    if flags is not None:
        bad |= flags != 0
    if sigma is not None:
        bad |= ~(sigma > 0)
    data[bad] = np.nan
    lam = wavelength[:, None, None]
    radiance = surface_brightness_to_radiance(data * to_mjy_sr, lam)
    dims = ("wavelength", "y", "x")
    common = {
        "units": "W m-2 sr-1 um-1",
        "original_units": unit,
        "comment": "converted from surface brightness per frequency: L = 1e-20 c F / lambda^2",
    }
    variables = {
        "radiance": (
            dims,
            radiance,
            {**common, "standard_name": "toa_outgoing_radiance_per_unit_wavelength"},
        )
    }
    if sigma is not None:
        sigma = np.where(bad, np.nan, sigma)
        variables["radiance_uncertainty"] = (
            dims,
            surface_brightness_to_radiance(sigma * to_mjy_sr, lam),
            dict(common),
        )
    ds = xr.Dataset(
        variables,
        coords={
            "wavelength": ("wavelength", wavelength, {"units": "um"}),
            "y": ("y", np.arange(data.shape[1]), {"long_name": "cube row (0-based)"}),
            "x": ("x", np.arange(data.shape[2]), {"long_name": "cube column (0-based)"}),
        },
        attrs=attrs,
    )
    ds.attrs["masked_values"] = int(bad.sum())
    pixar = header.get("PIXAR_SR")
    if distance is not None:
        if not distance > 0:
            raise ValueError(f"distance must be > 0 [m]; got {distance}")
        if pixar is None:
            raise InputError(path, "distance given but the SCI header has no PIXAR_SR")
        ds["pixel_area"] = (
            (),
            float(pixar) * distance**2,
            {"units": "m2", "long_name": "projected spaxel area at the target"},
        )
    return finalise(ds, path, source_format="jwst-s3d")
