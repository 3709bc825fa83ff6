"""Fits of plain arrays and a readable report of one fitted spectrum, for research code.

:func:`fit` takes numpy arrays (..., channel) and returns the same result Dataset as
:func:`thermal.fit.fit_spectra`; :func:`report` turns one spectrum of any result into text, in
the manner of lmfit's ``fit_report``.
"""

from __future__ import annotations

import numbers

import numpy as np
import xarray as xr

from thermal import bands as _bands
from thermal.status import Status, check_result
from thermal.units import CANONICAL, is_quantity, to_unit

__all__ = ["fit", "report"]


def fit(
    wavelength_or_bands,
    data,
    uncertainty,
    model="auto",
    *,
    kind: str = "intensity",
    unit: str | None = None,
    pixel_area=None,
    emission_angle=None,
    **options,
) -> xr.Dataset:
    """Fit spectra held in numpy arrays.

    Parameters
    ----------
    wavelength_or_bands : array_like of float or Quantity, or sequence of str or Band
        Wavelengths [um] of the channels, in any order (the result holds them increasing; an
        astropy Quantity of any length, frequency or wavenumber is converted), or band names
        of :mod:`thermal.bands` (or :class:`~thermal.bands.Band` objects, registered by their
        names for this session; a name known with another response raises ValueError) for
        photometry.
    data, uncertainty : array_like or Quantity
        Spectra and their 1-sigma uncertainties, shape (..., n_channels), broadcast together;
        NaN marks a missing channel. Quantities are converted to the unit of ``kind`` (or to
        ``unit``).
    model : str or model object, optional
        As in :func:`thermal.fit.fit_spectra` (``"auto"``, ``"1T"``, ``"2T"``, ``"3T"``,
        ``"flow"`` or a :mod:`thermal.models` object).
    kind : {"intensity", "radiance"}, optional
        What ``data`` is: spectral intensity [W sr-1 um-1] (default) or spectral radiance
        [W m-2 sr-1 um-1].
    unit : str, optional
        The unit of ``data`` and ``uncertainty`` when not the canonical one of ``kind`` (e.g.
        ``"GW um-1 sr-1"``).
    pixel_area : float or array_like, optional
        Pixel area [m2] per spectrum (radiance only): areas are then in m2, not fractions.
    emission_angle : float or array_like, optional
        Emission angle [degree] per spectrum, for the limb guard.
    **options
        Passed to :func:`thermal.fit.fit_spectra` (``max_iterations``, ``intervals``,
        ``store``, ``max_emission_angle``, ``temperature_range``).

    Returns
    -------
    xarray.Dataset
        The result layout over the batch dims ``spectrum`` (1-D batch) or ``axis_0``,
        ``axis_1``, ... (more dims), as :func:`thermal.fit.fit_spectra` returns it.

    Raises
    ------
    ValueError
        For inconsistent shapes, an unknown band or unit, or an invalid option.

    Examples
    --------
    >>> import numpy as np
    >>> from thermal import planck
    >>> lam = np.linspace(1.0, 5.0, 12)
    >>> y = 1e6 * planck.spectral_radiance(lam, 900.0)
    >>> res = fit(lam, y, 0.01 * y, model="1T")
    >>> round(float(res.temperature[0]))
    900
    """
    from thermal.fit.engine import fit_spectra

    if kind not in ("intensity", "radiance"):
        raise ValueError(f"kind must be 'intensity' or 'radiance'; got {kind!r}")
    canonical = CANONICAL[kind]
    if is_quantity(data) or is_quantity(uncertainty):
        target = canonical if unit is None else unit
        data = to_unit(data, target, "data")
        uncertainty = to_unit(uncertainty, target, "uncertainty")
    wavelength_or_bands = to_unit(wavelength_or_bands, "um", "wavelength_or_bands")
    pixel_area = to_unit(pixel_area, "m2", "pixel_area")
    emission_angle = to_unit(emission_angle, "degree", "emission_angle")
    channels = list(wavelength_or_bands) if not np.isscalar(wavelength_or_bands) else []
    is_bands = bool(channels) and all(isinstance(c, str | _bands.Band) for c in channels)
    data = np.asarray(data, dtype=float)
    uncertainty = np.asarray(uncertainty, dtype=float)
    try:
        data, uncertainty = np.broadcast_arrays(data, uncertainty)
    except ValueError:
        raise ValueError(
            f"data {data.shape} and uncertainty {uncertainty.shape} do not broadcast"
        ) from None
    if data.ndim == 0 or data.shape[-1] != len(channels):
        raise ValueError(
            f"data must have the channels last: {len(channels)} channels, got shape {data.shape}"
        )
    batch = data.shape[:-1]
    dims = ("spectrum",) if len(batch) == 1 else tuple(f"axis_{k}" for k in range(len(batch)))
    spectral = "band" if is_bands else "wavelength"
    if is_bands:
        names = []
        for channel in channels:
            band = channel if isinstance(channel, _bands.Band) else _bands.get(channel)
            if isinstance(channel, _bands.Band):
                if band.name.lower() not in _bands.names():
                    _bands.register(band)
                elif not _same_band(_bands.get(band.name), band):
                    raise ValueError(
                        f"wavelength_or_bands: a band named {band.name!r} with another response "
                        "is known already; give yours another name"
                    )
            names.append(band.name.lower())
        coord = np.array(names, dtype=object)
    else:
        coord = np.asarray(channels, dtype=float)
        # channels in increasing wavelength (a frequency or wavenumber axis comes reversed)
        order = np.argsort(coord, kind="stable")
        if np.any(order != np.arange(coord.size)):
            coord, data, uncertainty = coord[order], data[..., order], uncertainty[..., order]
    attrs = {"units": unit} if unit else {}
    ds = xr.Dataset(
        {
            kind: ((*dims, spectral), data, dict(attrs)),
            f"{kind}_uncertainty": ((*dims, spectral), uncertainty, dict(attrs)),
        },
        coords={spectral: coord},
    )
    if is_bands is False:
        ds[spectral].attrs["units"] = "um"
    for name, value, unit_ in (
        ("pixel_area", pixel_area, "m2"),
        ("emission_angle", emission_angle, "degree"),
    ):
        if value is not None:
            value = np.broadcast_to(np.asarray(value, dtype=float), batch)
            ds[name] = (dims, value, {"units": unit_})
    return fit_spectra(ds, model=model, **options)


def report(result: xr.Dataset, index=0) -> str:
    """A readable report of one spectrum of a fit result.

    Parameters
    ----------
    result : xarray.Dataset
        A result of :func:`thermal.fit.fit_spectra` or :func:`fit`.
    index : int or dict, optional
        The spectrum: a flat index over the batch dims (C order), or a dict of dim -> index.

    Returns
    -------
    str
        Model, status and its message, each component's temperature [K] and area [m2] with
        1-sigma uncertainties, power [W] with its uncertainty (and profile interval when
        present), chi2/dof and the information criteria, and the automatic choice's evidence
        or upper limit where present.
    """
    check_result(result)
    batch = list(result["status"].dims)
    shape = [result.sizes[d] for d in batch]
    if isinstance(index, dict):
        point = dict(index)
        for dim, i in point.items():
            size = result.sizes.get(dim) if dim in batch else None
            if size is None or not isinstance(i, numbers.Integral) or not -size <= i < size:
                raise ValueError(
                    f"index: {dim}={i!r} is not an index of a batch dim "
                    f"({', '.join(f'{d} < {n}' for d, n in zip(batch, shape, strict=True))})"
                )
    else:
        total = int(np.prod(shape)) if shape else 1
        if (
            isinstance(index, bool)
            or not isinstance(index, numbers.Integral)
            or not -total <= index < total
        ):
            raise ValueError(f"index must be an integer in [0, {total}) or a dict; got {index!r}")
        point = dict(zip(batch, np.unravel_index(int(index) % total, shape), strict=True))
    one = result.isel(point)
    where = ", ".join(f"{d}={int(i)}" for d, i in point.items()) or "the only spectrum"
    labels = [
        f"{name}={_label(one[name].values)}"
        for name in one.coords
        if one[name].ndim == 0 and name not in point and name not in ("component", "param")
    ]
    lines = [f"[[Spectrum]] {where}" + (f" ({', '.join(labels)})" if labels else "")]
    status = Status(int(one["status"]))
    lines.append(f"    model:   {result.attrs.get('thermal_model_description', '?')}")
    if "model" in one and one["model"].ndim == 0:
        chosen = int(one["model"])
        lines.append(f"    chosen:  {'no source' if chosen == 0 else f'{chosen}T'}")
    lines.append(f"    status:  {status.meaning} ({int(status)}): {status.message}")
    lines.append("[[Parameters]]")
    area = "area_fraction" if "area_fraction" in one else "area"
    if "temperature" in one:
        for k in range(one.sizes.get("component", 1)):
            t, a = one["temperature"], one[area]
            if "component" in one.dims:
                t, a = t.isel(component=k), a.isel(component=k)
            if not np.isfinite(float(t)):
                continue
            lines.append(
                f"    T_{k} = {_pm(t, one.get('temperature_uncertainty'), k)} K   "
                f"{area}_{k} = {_pm(a, one.get(f'{area}_uncertainty'), k)} "
                f"{one[area].attrs.get('units', '')}"
            )
    lines += [
        f"    {name} = {_pm(one[name], one.get(f'{name}_uncertainty'))} "
        f"{one[name].attrs.get('units', '')}"
        for name in ("areal_rate", "duration", "effusion_rate", "eruption_temperature")
        if name in one
    ]
    if "power" in one:
        text = f"    power = {_pm(one['power'], one.get('power_uncertainty'))}"
        text += f" {one['power'].attrs.get('units', '')}"
        if "power_lower" in one:
            text += f" (profile 68% interval {float(one.power_lower):.4g}-"
            text += f"{float(one.power_upper):.4g})"
        lines.append(text)
    if "power_upper_limit" in one and np.isfinite(float(one["power_upper_limit"])):
        lines.append(
            f"    power_upper_limit = {float(one['power_upper_limit']):.4g} "
            f"{one['power_upper_limit'].attrs.get('units', '')} "
            f"({one['power_upper_limit'].attrs.get('long_name', '')})"
        )
    lines.append("[[Fit statistics]]")
    chi2, dof = float(one["chi2"]), int(one["dof"])
    reduced = f"{chi2 / dof:.4g}" if dof > 0 else "-"
    lines.append(f"    chi2 = {chi2:.4g}, dof = {dof}, chi2/dof = {reduced}")
    stats = [f"{name} = {float(one[name]):.4g}" for name in ("aic", "bic") if name in one]
    if "evidence" in one:
        stats.append(f"delta BIC against the next simpler model = {float(one['evidence']):.4g}")
    if stats:
        lines.append("    " + ", ".join(stats))
    return "\n".join(lines)


def _pm(value, sd, k=None) -> str:
    value = float(value)
    if sd is None:
        return f"{value:.5g}"
    sd = float(sd.isel(component=k) if k is not None and "component" in sd.dims else sd)
    return f"{value:.5g} +- {sd:.2g}" if np.isfinite(sd) else f"{value:.5g} (uncertainty n/a)"


def _label(value) -> str:
    if np.issubdtype(value.dtype, np.datetime64):
        return "NaT" if np.isnat(value) else str(np.datetime_as_string(value, unit="s"))
    return str(value.item())


def _same_band(a, b) -> bool:
    """Whether two bands have the same response (the same band under one name)."""
    return (
        np.array_equal(a.wavelength, b.wavelength)
        and np.array_equal(a.response, b.response)
        and a.centre == b.centre
        and a.width == b.width
    )
