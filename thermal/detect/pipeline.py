"""From an observation to its hot spots: detection, physical units, one-band power, spectra.

:func:`detect_hotspots` takes any observation Dataset that holds an image
(:func:`thermal.io.open_observation`):

* **One-band images** (a JIRAM imager frame: ``radiance (line, sample, band)`` with one band
  per pixel): each band's part of the frame is searched (:func:`thermal.detect.find_hotspots`),
  each spot gets its viewing geometry (:func:`thermal.geometry.spot_geometry`; from per-pixel
  backplanes or SPICE when given, else the label's one-per-frame values) and, from its
  spectral radiant flux, the range of power over a stated temperature interval
  (:func:`thermal.detect.power.power_range`): one band gives no temperature.
* **Cubes** (``radiance (y, x, wavelength)``, e.g. a JWST s3d cube, or ``(line, sample,
  wavelength)``): spots are found on the image averaged over wavelength, and each spot's
  background-subtracted spectrum over its pixels (:func:`spot_spectra`) is one spectrum of an
  observation Dataset (dim ``hotspot``) that :func:`thermal.fit.fit_spectra` takes as it is
  (``fit=True`` fits it at once).

Data that are already per hot spot (photometry tables, NIMS-like spectra) or a slit (the JIRAM
spectrometer) hold no image: :class:`~thermal.layout.InputError` says so.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import xarray as xr
from scipy import ndimage

from thermal import units
from thermal.detect.power import DEFAULT_TEMPERATURE_RANGE, power_range
from thermal.layout import InputError, image_kind
from thermal.plausibility import MAX_EMISSION_ANGLE
from thermal.status import Status

__all__ = ["describe", "detect_hotspots", "detection_table", "image_kind", "spot_spectra"]

_RING = 2
"""Width [px] of the ring around a spot whose median spectrum is the spot's background."""


def _as_image(data: xr.DataArray) -> xr.DataArray:
    """``data`` with dims renamed to (line, sample)."""
    if "y" in data.dims:
        data = data.rename({"y": "line", "x": "sample"})
    return data.transpose("line", "sample")


def _frame_source(observation: xr.Dataset) -> str:
    return str(observation.attrs.get("source", observation.attrs.get("product_id", "input")))


def detect_hotspots(
    observation: xr.Dataset,
    *,
    nsigma: float = 5.0,
    saturation: float | None = None,
    geometry: xr.Dataset | None = None,
    label_geometry: dict | None = None,
    ifov: float | None = None,
    max_emission_angle: float = MAX_EMISSION_ANGLE,
    temperature_range=DEFAULT_TEMPERATURE_RANGE,
    fit: bool = False,
    model: str = "auto",
) -> xr.Dataset:
    """Hot spots of an observation that holds an image: positions, radiance, geometry, power.

    Parameters
    ----------
    observation : xarray.Dataset
        An observation (:func:`thermal.io.open_observation`) with ``radiance`` over (``line``,
        ``sample``) or (``y``, ``x``), and ``band`` (one band per pixel) or ``wavelength``.
    nsigma : float, optional
        Detection threshold in units of the noise (> 0). Default 5.
    saturation : float, optional
        Radiance [W m-2 sr-1 um-1] at and above which a pixel is saturated.
    geometry : xarray.Dataset, optional
        Per-pixel geometry over (``line``, ``sample``) (:mod:`thermal.geometry`: backplanes or
        SPICE); it wins over ``label_geometry``.
    label_geometry : dict, optional
        One-per-frame geometry per band, ``{band: {"range": [m], "emission_angle": [degree],
        "latitude": [degrees_north], "longitude_west": [degrees_west]}}``
        (:func:`thermal.io.jiram.frame_geometry`).
    ifov : float, optional
        Instantaneous field of view of a pixel [rad], needed with geometry (JIRAM: 237.767e-6).
    max_emission_angle : float, optional
        Spots seen beyond it [degree] get ``limb`` and no flux or power. Default 80.
    temperature_range : (float, float), optional
        [K] over which the power of one-band spots is bounded. Default (300, 1400).
    fit : bool, optional
        Cubes only: fit each spot's spectrum (:func:`thermal.fit.fit_spectra` with ``model``)
        and add the result's variables.
    model : str, optional
        The model of ``fit``. Default ``"auto"``.

    Returns
    -------
    xarray.Dataset
        Dim ``hotspot``: the variables of :func:`thermal.detect.find_hotspots` (``line``,
        ``sample``, ``radiance_sum`` ...), with geometry ``latitude``, ``longitude``,
        ``longitude_west``, ``emission_angle``, ``range``, ``intensity`` [W sr-1 um-1],
        ``spectral_flux`` [W um-1], ``limb``; for one-band spots ``power_lower`` and
        ``power_upper`` [W]; for cubes with ``fit`` the fit's variables. Attributes
        ``geometry_source`` and ``power_temperature_range``.

    Raises
    ------
    InputError
        The observation holds no image.
    ValueError
        An argument out of range.
    """
    from thermal.detect.find import find_hotspots
    from thermal.geometry import check_ifov
    from thermal.models import get_model
    from thermal.models.base import check_interval

    if not isinstance(observation, xr.Dataset):
        raise ValueError(
            "observation must be an xarray.Dataset (thermal.io.open_observation); got "
            f"{type(observation).__name__}"
        )
    try:
        angle = float(max_emission_angle)
    except (TypeError, ValueError):
        angle = math.nan
    if not 0.0 < angle <= 90.0:
        raise ValueError(
            f"max_emission_angle must be in (0, 90] degrees; got {max_emission_angle!r}"
        )
    max_emission_angle = angle
    temperature_range = check_interval(temperature_range)
    if ifov is not None:
        ifov = check_ifov(ifov)
    if fit:
        get_model(model)  # an unknown name is refused before the search, not after
    kind = image_kind(observation)
    source = _frame_source(observation)
    if not kind:
        raise InputError(
            source,
            "holds no image to search for hot spots (a table, per-spot spectra or a slit); "
            "fit it with thermal fit",
        )
    radiance = observation["radiance"]
    if kind == "bands":
        parts = []
        for band in radiance["band"].values:
            image = _as_image(radiance.sel(band=band))
            rows = np.isfinite(image).any("sample")
            if not bool(rows.any()):
                continue
            image = image.isel(line=np.flatnonzero(rows.values))
            spots = find_hotspots(image, nsigma=nsigma, saturation=saturation, band=str(band))
            parts.append(_without_segment(spots))
        if not parts:
            image = _as_image(radiance.isel(band=0))
            spots = _without_segment(find_hotspots(image, nsigma=nsigma, saturation=saturation))
        else:
            spots = xr.concat(parts, "hotspot", combine_attrs="drop_conflicts")
        spots = spots.assign_coords(hotspot=np.arange(spots.sizes["hotspot"]))
    else:
        image = _as_image(radiance.mean("wavelength", skipna=True))
        image.attrs["units"] = radiance.attrs.get("units", "W m-2 sr-1 um-1")
        sigma = _mean_uncertainty(observation)
        spots = find_hotspots(image, nsigma=nsigma, saturation=saturation, uncertainty=sigma)
    spots = _with_geometry(spots, observation, geometry, label_geometry, ifov, max_emission_angle)
    if kind == "bands" and spots.sizes["hotspot"]:
        spots = _with_power(spots, temperature_range)
        spots = _with_band_pairs(spots)
    if kind == "cube":
        spectra = spot_spectra(observation, spots)
        spots = _without_segment(spots)
        for name in ("spectrum", "spectrum_uncertainty"):
            spots[name] = spectra[name]
        if fit and spots.sizes["hotspot"]:
            spots = _with_fit(spots, spectra, model)
    spots.attrs["power_temperature_range"] = (
        f"{float(temperature_range[0]):g} {float(temperature_range[1]):g} K"
    )
    spots.attrs["source"] = source
    if ifov is not None:
        spots.attrs["ifov"] = float(ifov)
    if "comment" in radiance.attrs and "radiance_sum" in spots:  # how the input was read
        spots["radiance_sum"].attrs["comment"] = f"input radiance: {radiance.attrs['comment']}"
    spots.attrs.update(describe(spots))
    return spots


_CONTENTS = (
    ("radiance_sum", "background-subtracted radiance sums"),
    ("flux_density", "aperture flux densities"),
    ("latitude", "positions on Io"),
    ("intensity", "spectral intensities"),
    ("spectral_flux", "spectral radiant fluxes"),
    ("power_lower", "power ranges"),
    ("spectrum", "spot spectra"),
    ("temperature", "fitted temperatures"),
)


def describe(spots: xr.Dataset) -> dict:
    """ACDD ``summary``, ``keywords``, ``processing_level`` and ``comment`` of a table of hot
    spots, saying what it holds (they describe fits by default: :mod:`thermal.io.results`)."""
    held = [words for name, words in _CONTENTS if name in spots.variables]
    return {
        "summary": "Hot spots found by thermal detect, one row per spot: pixel positions"
        + "".join(f", {words}" for words in held)
        + ".",
        "keywords": "Io, volcanism, hot spots, thermal emission, detection, photometry",
        "processing_level": "derived (hot-spot detection and photometry)",
        "comment": "CF has no standard names for spectral intensity (W sr-1 um-1), spectral "
        "radiant flux (W um-1) or power; those variables carry long_name and units.",
    }


def _mean_uncertainty(observation: xr.Dataset):
    """The 1-sigma uncertainty of a cube's wavelength-averaged image, from the product's own
    per-channel uncertainties (JWST ERR); None when it has none or they are assumed by the
    reader (then the noise comes from the image's scatter)."""
    sigma = observation.get("radiance_uncertainty")
    if sigma is None or str(sigma.attrs.get("long_name", "")).startswith("assumed"):
        return None
    radiance = observation["radiance"]
    valid = np.isfinite(radiance) & np.isfinite(sigma) & (sigma > 0)
    count = valid.sum("wavelength")
    total = (sigma.where(valid) ** 2).sum("wavelength")
    mean = np.sqrt(total) / count.where(count > 0)
    values = _as_image(mean).values  # NaN: no data there
    return values if np.any(np.isfinite(values)) else None


def _without_segment(spots: xr.Dataset) -> xr.Dataset:
    """``spots`` without the label image and its pixel coordinates."""
    out = spots.drop_vars("segment", errors="ignore")
    return out.drop_vars([c for c in out.coords if "hotspot" not in out[c].dims])


def _label_geometry_image(spots, label_geometry) -> xr.Dataset | None:
    """Per-spot geometry from one-per-frame values (each band's own)."""
    n = spots.sizes["hotspot"]
    bands = spots["band"].values if "band" in spots else np.array([""] * n)
    out = {
        k: np.full(n, np.nan) for k in ("latitude", "longitude_west", "emission_angle", "range")
    }
    for i, band in enumerate(bands):
        values = label_geometry.get(str(band)) or {}
        for key in out:
            value = values.get(key)
            if value is not None:
                out[key][i] = float(value)
    if not np.isfinite(out["range"]).any():
        return None
    return out


def _with_geometry(spots, observation, geometry, label_geometry, ifov, max_emission_angle):
    """Add geometry, intensity and spectral flux where the geometry is known."""
    if geometry is not None:
        from thermal.geometry import spot_geometry

        if ifov is None:
            raise ValueError("ifov [rad] is needed with geometry")
        return spot_geometry(spots, geometry, ifov=ifov, max_emission_angle=max_emission_angle)
    if label_geometry and spots.sizes["hotspot"]:
        values = _label_geometry_image(spots, label_geometry)
        if values is not None:
            if ifov is None:
                raise ValueError("ifov [rad] is needed with label_geometry")
            return _label_spot_geometry(spots, values, ifov, max_emission_angle)
    spots = spots.copy()
    spots.attrs["geometry_source"] = "none"
    return spots


def _label_spot_geometry(spots, values, ifov, max_emission_angle):
    """intensity and spectral flux from the frame's one range and emission angle.

    The label gives the latitude and longitude of the frame's centre only, not of each spot:
    they are kept as ``frame_latitude`` and ``frame_longitude_west`` and the spots get no
    ``latitude``/``longitude`` (so they are never matched to a named hot spot by the frame's
    centre).
    """
    out = spots.copy()
    e = values["emission_angle"]
    r = values["range"]
    limb = ~(np.isfinite(e) & (e <= max_emission_angle))
    footprint = units.footprint_area(r, ifov)
    intensity = spots["radiance_sum"].values * footprint
    sigma_i = spots["radiance_sum_uncertainty"].values * footprint
    with np.errstate(invalid="ignore"):
        cos_e = np.where(limb, np.nan, np.cos(np.radians(np.where(limb, 0.0, e))))
    dims = ("hotspot",)
    label = "of the frame centre (label; not the spot's)"
    out["frame_latitude"] = (
        dims, values["latitude"], {"units": "degrees_north", "long_name": f"latitude {label}"}
    )  # fmt: skip
    out["frame_longitude_west"] = (
        dims, values["longitude_west"],
        {"units": "degrees_west", "long_name": f"west longitude {label}"},
    )  # fmt: skip
    out["emission_angle"] = (
        dims, e, {"units": "degree", "long_name": "emission angle (label, one per frame)"}
    )  # fmt: skip
    out["range"] = (
        dims, r, {"units": "m", "long_name": "distance from the spacecraft (label, one per frame)"}
    )  # fmt: skip
    out["intensity"] = (
        dims, intensity,
        {"units": "W sr-1 um-1", "long_name": "spectral radiant intensity, radiance_sum x "
         "(range x IFOV)^2"},
    )  # fmt: skip
    out["intensity_uncertainty"] = (dims, sigma_i, {"units": "W sr-1 um-1"})
    out["spectral_flux"] = (
        dims, np.pi * intensity / cos_e,
        {"units": "W um-1", "long_name": "spectral radiant flux, pi x intensity / cos(e)"},
    )  # fmt: skip
    out["spectral_flux_uncertainty"] = (dims, np.pi * sigma_i / cos_e, {"units": "W um-1"})
    out["limb"] = (
        dims, limb,
        {"long_name": f"emission angle above {max_emission_angle:g} degrees or unknown: "
         "no flux or power"},
    )  # fmt: skip
    out.attrs["geometry_source"] = "label"
    return out


def _with_power(spots, temperature_range):
    """power_lower and power_upper of one-band spots (NaN where the flux is unknown)."""
    if "spectral_flux" not in spots:
        return spots
    out = spots.copy()
    flux = spots["spectral_flux"].values
    n = flux.size
    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    t_low = np.full(n, np.nan)
    t_high = np.full(n, np.nan)
    for band in np.unique(spots["band"].values):
        if not band:
            continue
        rows = spots["band"].values == band
        got = power_range(flux[rows], str(band), temperature_range)
        lower[rows] = got["power_lower"]
        upper[rows] = got["power_upper"]
        t_low[rows] = got["temperature_at_power_lower"]
        t_high[rows] = got["temperature_at_power_upper"]
    lo, hi = (float(t) for t in temperature_range)
    note = (
        f"single-temperature source anywhere in {lo:g}-{hi:g} K: "
        "P = F sigma T^4 / (pi B_band(T)); a lower limit where the spot is saturated"
    )
    dims = ("hotspot",)
    out["power_lower"] = (dims, lower, {"units": "W", "long_name": "least power", "comment": note})
    out["power_upper"] = (
        dims,
        upper,
        {"units": "W", "long_name": "greatest power", "comment": note},
    )
    out["temperature_at_power_lower"] = (dims, t_low, {"units": "K"})
    out["temperature_at_power_upper"] = (dims, t_high, {"units": "K"})
    return out


_PAIR_OUTPUTS = ("temperature", "area", "power")


def _with_band_pairs(spots: xr.Dataset) -> xr.Dataset:
    """One-temperature fits of spots seen in both bands of a frame.

    Where per-pixel geometry places a spot of one band within the matching tolerance
    (:func:`thermal.catalogue.tolerance_for` of the pixel scale) of a spot of the other band,
    the two spectral fluxes (pi x intensity / cos(e), so that the area is the surface's) are
    fitted with one blackbody by the fit engine, and both rows get ``partner`` (the other
    row's index), ``temperature_1t``, ``area_1t``, ``power_1t`` with their uncertainties, and
    ``status_1t``. Rows without a partner get ``partner = -1``, NaN and ``status_1t`` no_data.
    """
    n = spots.sizes["hotspot"]
    needed = ("latitude", "longitude", "spectral_flux", "range", "band")
    if any(name not in spots for name in needed) or len(set(spots["band"].values)) < 2:
        return spots
    from thermal.catalogue import great_circle_distance, tolerance_for
    from thermal.fit import fit_spectra

    bands = spots["band"].values.astype(str)
    lat = spots["latitude"].values
    lon = spots["longitude"].values
    flux = spots["spectral_flux"].values
    scale = spots["range"].values * float(spots.attrs.get("ifov", np.nan))
    first, second = sorted(set(bands))[:2]
    partner = np.full(n, -1)
    pairs = []
    for i in np.flatnonzero((bands == first) & np.isfinite(lat) & np.isfinite(flux)):
        candidates = np.flatnonzero(
            (bands == second) & np.isfinite(lat) & np.isfinite(flux) & (partner < 0)
        )
        if candidates.size == 0:
            continue
        distance = great_circle_distance(lat[i], lon[i], lat[candidates], lon[candidates])
        k = int(np.argmin(distance))
        if distance[k] <= float(np.nanmax([tolerance_for(scale[i]), 0.0])):
            j = int(candidates[k])
            partner[i], partner[j] = j, i
            pairs.append((i, j))
    out = spots.copy()
    out["partner"] = ("hotspot", partner, {"long_name": "index of the same spot in the other "
                                           "band of the frame (-1: none)"})  # fmt: skip
    if not pairs:
        return out
    rows = np.array(pairs)
    sigma = spots["spectral_flux_uncertainty"].values
    values = np.stack([flux[rows[:, 0]], flux[rows[:, 1]]], axis=1) / np.pi
    errors = np.stack([sigma[rows[:, 0]], sigma[rows[:, 1]]], axis=1) / np.pi
    unit = {"units": "W sr-1 um-1"}
    observation = xr.Dataset(
        {"intensity": (("pair", "band"), values, unit),
         "intensity_uncertainty": (("pair", "band"), errors, unit)},
        coords={"band": [first, second]},
    )  # fmt: skip
    result = fit_spectra(observation, model="1T")
    for name in _PAIR_OUTPUTS:
        for suffix in ("", "_uncertainty"):
            if name + suffix not in result:
                continue
            fitted = result[name + suffix].values.reshape(len(pairs), -1)[:, 0]
            column = np.full(n, np.nan)
            column[rows[:, 0]] = fitted
            column[rows[:, 1]] = fitted
            attrs = dict(result[name + suffix].attrs)
            attrs["comment"] = f"one-temperature fit of the spot's {first} and {second} fluxes"
            out[f"{name}_1t{suffix}"] = ("hotspot", column, attrs)
    # a spot without a partner has no data for the fit: no_data, a code of the status flags
    status = np.full(n, Status.NO_DATA, dtype=result["status"].dtype)
    status[rows[:, 0]] = result["status"].values
    status[rows[:, 1]] = result["status"].values
    attrs = dict(result["status"].attrs)
    attrs["comment"] = (
        "no_data where the spot has no partner in the other band; " + attrs.get("comment", "")
    ).strip()
    out["status_1t"] = ("hotspot", status, attrs)
    return out


def spot_spectra(observation: xr.Dataset, spots: xr.Dataset) -> xr.Dataset:
    """Each spot's background-subtracted spectrum over its pixels, as an observation.

    Parameters
    ----------
    observation : xarray.Dataset
        A cube: ``radiance`` over (``line``, ``sample``) or (``y``, ``x``) and ``wavelength``
        [W m-2 sr-1 um-1], optional ``radiance_uncertainty`` and ``pixel_area`` [m2].
    spots : xarray.Dataset
        :func:`thermal.detect.find_hotspots` of the cube's image, with its ``segment``.

    Returns
    -------
    xarray.Dataset
        Dims (``hotspot``, ``wavelength``): ``radiance``, the background-subtracted radiance
        averaged over the spot's pixels, so that ``pixel_area`` (hotspot) is the spot's
        aperture (its pixels' area, where known) and a fitted area is a fraction of it;
        ``radiance_uncertainty``; ``spectrum`` (the sum over the pixels) and its uncertainty.
        The background of a spot is the median spectrum of the pixels within 2 pixels of
        it that belong to no spot.
    """
    cube = observation["radiance"]
    if "y" in cube.dims:
        cube = cube.rename({"y": "line", "x": "sample"})
    cube = cube.transpose("line", "sample", "wavelength")
    values = cube.values
    sigma = observation.get("radiance_uncertainty")
    if sigma is not None:
        sigma = sigma.rename({"y": "line", "x": "sample"}) if "y" in sigma.dims else sigma
        sigma = sigma.transpose("line", "sample", "wavelength").values
    segment = spots["segment"].values
    n = spots.sizes["hotspot"]
    nw = values.shape[2]
    total = np.full((n, nw), np.nan)
    total_sigma = np.full((n, nw), np.nan)
    npix = np.zeros(n)
    taken = segment > 0
    for k in range(n):
        inside = segment == k + 1
        ring = ndimage.binary_dilation(inside, iterations=_RING) & ~taken
        background = np.zeros(nw)
        background_sigma = np.zeros(nw)
        ring &= np.isfinite(values).any(axis=2)
        if ring.any():
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN wavelengths
                background = np.nanmedian(values[ring], axis=0)
                mad = np.nanmedian(np.abs(values[ring] - background), axis=0)
            background = np.where(np.isfinite(background), background, 0.0)
            background_sigma = np.where(
                np.isfinite(mad), 1.4826 * 1.2533 * mad / np.sqrt(ring.sum()), 0.0
            )
        pixels = values[inside] - background
        npix[k] = inside.sum()
        total[k] = np.nansum(pixels, axis=0)
        own = np.nansum(sigma[inside] ** 2, axis=0) if sigma is not None else 0.0
        total_sigma[k] = np.sqrt(own + (npix[k] * background_sigma) ** 2)
    units = cube.attrs.get("units", "W m-2 sr-1 um-1")
    dims = ("hotspot", "wavelength")
    ds = xr.Dataset(
        {
            "radiance": (
                dims,
                total / np.maximum(npix, 1)[:, None],
                {
                    "units": units,
                    "long_name": "background-subtracted radiance, mean over the spot",
                },
            ),
            "radiance_uncertainty": (
                dims,
                total_sigma / np.maximum(npix, 1)[:, None],
                {"units": units},
            ),
            "spectrum": (
                dims,
                total,
                {
                    "units": units,
                    "long_name": "background-subtracted radiance summed over the spot's pixels",
                },
            ),
            "spectrum_uncertainty": (dims, total_sigma, {"units": units}),
        },
        coords={"wavelength": cube["wavelength"], "hotspot": np.arange(n)},
        attrs=dict(observation.attrs),
    )
    area = observation.get("pixel_area")
    if area is not None and area.ndim == 0:
        ds["pixel_area"] = (
            "hotspot",
            float(area) * npix,
            {"units": "m2", "long_name": "area of the spot's pixels"},
        )
    return ds


def _with_fit(spots, spectra, model):
    from thermal.fit import fit_spectra

    observation = spectra.drop_vars(["spectrum", "spectrum_uncertainty"])
    result = fit_spectra(observation, model=model)
    out = spots.copy()
    for name, variable in result.data_vars.items():
        if "hotspot" in variable.dims and name not in out:
            out[name] = (
                variable.assign_coords(hotspot=out["hotspot"])
                if "hotspot" in variable.coords
                else variable
            )
    for name, coord in result.coords.items():
        if name not in out.coords and "hotspot" not in coord.dims:
            out = out.assign_coords({name: coord})
    out.attrs.update({k: v for k, v in result.attrs.items() if k.startswith("thermal_")})
    out.attrs["fit_model"] = model
    return out


_TABLE = (
    "band", "line", "sample", "npix", "snr", "saturated", "limb", "radiance_sum",
    "radiance_sum_uncertainty", "brightness_temperature", "emission_angle", "range",
    "latitude", "longitude", "intensity", "spectral_flux", "spectral_flux_uncertainty",
    "power_lower", "power_upper", "frame_latitude", "frame_longitude_west",
    "temperature_1t", "temperature_1t_uncertainty", "area_1t", "area_1t_uncertainty",
    "power_1t", "power_1t_uncertainty",
)  # fmt: skip
"""The variables of a hot-spot Dataset that go into the catalogue, where present (the
one-temperature fit of a spot seen in both bands only where it converged)."""


def detection_table(frames, ifov: float | None = None) -> xr.Dataset:
    """Every hot spot of several frames as one table (dim ``detection``) for the catalogue.

    Parameters
    ----------
    frames : sequence of xarray.Dataset
        Results of :func:`detect_hotspots`, each with attributes ``source`` and
        ``time_coverage_start`` (ISO time) where known.
    ifov : float, optional
        [rad]: with ``range``, the pixel scale [m] that sets each detection's matching
        tolerance (:func:`thermal.catalogue.tolerance_for`); else the frames' attribute
        ``ifov``.

    Returns
    -------
    xarray.Dataset
        Dim ``detection``: ``source``, ``time``, ``pixel_scale`` [m] and the variables of
        :data:`_TABLE` that any frame has (NaN or False where a frame lacks them).
    """
    columns: dict[str, list] = {"source": [], "time": [], "pixel_scale": []}
    for name in _TABLE:
        columns[name] = []
    for frame in frames:
        n = frame.sizes.get("hotspot", 0)
        columns["source"] += [str(frame.attrs.get("source", ""))] * n
        # UTC, as numpy's zone-less times: without the file's "Z"
        columns["time"] += [str(frame.attrs.get("time_coverage_start", "")).removesuffix("Z")] * n
        scale_ifov = ifov if ifov is not None else frame.attrs.get("ifov")
        if "range" in frame.variables and scale_ifov:
            columns["pixel_scale"] += list(frame["range"].values * float(scale_ifov))
        else:
            columns["pixel_scale"] += [np.nan] * n
        converged_1t = (
            np.asarray(frame["status_1t"].values) == Status.CONVERGED
            if "status_1t" in frame.variables
            else np.zeros(n, dtype=bool)
        )
        for name in _TABLE:
            if name in frame.variables and frame[name].ndim <= 1:
                values = np.broadcast_to(frame[name].values, (n,))
                if name.endswith(("_1t", "_1t_uncertainty")):
                    values = np.where(converged_1t, values, np.nan)
                columns[name] += list(values)
            elif name in ("saturated", "limb"):
                columns[name] += [False] * n
            elif name == "band":
                columns[name] += [""] * n
            else:
                columns[name] += [np.nan] * n
    unit_of = {}
    for frame in frames:
        for name in _TABLE:
            if name in frame and "units" in frame[name].attrs:
                unit_of.setdefault(name, frame[name].attrs["units"])
    data = {}
    for name, values in columns.items():
        if name in ("source", "time", "band"):
            array = np.array(values, dtype=object).astype(str)
        elif name in ("saturated", "limb"):
            array = np.array(values, dtype=bool)
        else:
            array = np.array(values, dtype=float)
        attrs = {"units": unit_of[name]} if name in unit_of else {}
        if name == "pixel_scale":
            attrs = {"units": "m", "long_name": "pixel footprint at the spot (range x IFOV)"}
        data[name] = ("detection", array, attrs)
    return xr.Dataset(data)
