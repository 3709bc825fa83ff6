"""Aperture photometry of hot spots in adaptive-optics images of Io, and the photometry table.

The method of de Kleer & de Pater (2016, Icarus 280, 378, doi:10.1016/j.icarus.2016.06.019)
for Keck NIRC2 and Gemini NIRI images, built on photutils (Bradley et al.,
doi:10.5281/zenodo.596036):

1. :func:`aperture_photometry` sums each hot spot's flux density [Jy] in a circular aperture
   (exact pixel overlap, :class:`photutils.aperture.CircularAperture`) around its position,
   minus the background estimated from a circular annulus around it
   (:class:`photutils.aperture.CircularAnnulus`), i.e. the local brightness of the lit or dark
   disk under the spot, with neighbouring spots and bad pixels clipped (astropy
   :class:`~astropy.stats.SigmaClip`):

   - ``background="median"`` (default): the sigma-clipped median of the annulus pixels
     (:class:`photutils.aperture.ApertureStats`). The 1-sigma uncertainty is

         sigma_F^2 = A sigma_b^2 + (pi / 2) A^2 sigma_b^2 / N_b

     with A the aperture area [pixel], sigma_b the clipped standard deviation of the annulus
     pixels (noise and disk structure), N_b their number (pi / 2: the variance of a median).
     Exact for a background that is flat or a plane; on the curved, limb-darkened sunlit disk
     the annulus lies farther out than the aperture and the median underestimates the
     background under the spot: the flux is biased high by about
     ``A * I0 * k / (2 R^2) * (<rho^2>_annulus - <rho^2>_aperture)`` (disk centre brightness
     I0 per pixel, limb-darkening exponent k, disk radius R [pixel]), in the tests 1-4 % for
     spots of 0.4-2 Jy at 2-5 um on a disk of 4e-4 Jy per pixel.
   - ``background="disk"``: the lit disk's azimuthal median profile about its centre
     (``reference``) is removed first, then the annulus median as above. For faint spots on a
     lit disk, where an annulus of 1.3-2 aperture radii reaches over the limb: synthetic NIRC2
     frames with spots of 0.001-0.02 Jy gave 3-25 times the injected flux with the median,
     0.85-1.23 times with the disk removed (`thermal detect` uses it). The disk model's own
     error is not in the uncertainty.
   - ``background="radial"``: a least-squares fit of the annulus pixels with a constant, a
     gradient and a term in rho^2 (rho the distance from the spot; residuals sigma-clipped and
     the fit repeated), evaluated as its mean over the aperture: follows the disk's curvature
     to second order (in the tests within 2 % on the sunlit disk) at the cost of a larger
     background uncertainty (the fit's covariance replaces the median's term). Not for spots
     within ~2 FWHM of the limb, where no low-order surface fits the disk's edge.

   A per-pixel ``error`` map, summed over the aperture, replaces the term ``A sigma_b^2`` (and
   so carries the source's photon noise); a relative calibration uncertainty
   (``calibration_uncertainty``, default 0) is added in quadrature. The intensity
   [W sr-1 um-1] is the flux density at the band centre times the distance squared
   (:func:`thermal.units.flux_density_to_intensity`).
2. :func:`photometry_table` merges the bands of each night (one photometry Dataset per band),
   matching spots across bands by position, and writes the CSV photometry table that
   :func:`thermal.io.tables.read_csv` reads and ``thermal fit`` fits.

Apertures and the aperture correction: the default radius is 1.5 times the PSF FWHM (the
image's ``psf_fwhm`` attribute, the diffraction limit, or ``fwhm=``), which holds 99.8 % of a
Gaussian PSF; without a FWHM it is :data:`DEFAULT_RADIUS`. The default annulus is (4/3, 2)
times the radius, i.e. (2, 3) FWHM. A real AO PSF has a halo (its Strehl ratio is well below
1) that puts a part of the flux outside any small aperture: measure that fraction on a
star or an isolated spot (the ratio of its flux in a large aperture to that in the one used)
and give its inverse as ``aperture_correction`` (default 1: none). A spot within ~2 FWHM of
the limb has part of its annulus off the disk, which biases a lit disk's background low; such
spots are best measured on the dark side or with a disk model subtracted first. A Gaussian
PSF's flux beyond 1.5 FWHM (0.2 %) is not corrected by default either.
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from thermal import bands as _bands
from thermal.units import conversion_factor, east_to_west, flux_density_to_intensity

__all__ = [
    "DEFAULT_RADIUS",
    "DEFAULT_TOLERANCE",
    "aperture_photometry",
    "photometry_table",
]

DEFAULT_RADIUS = 5.0
"""Aperture radius [pixel] when neither ``radius`` nor a PSF FWHM is known."""
DEFAULT_TOLERANCE = 3.0
"""Largest distance [pixel] at which spots of two bands of a night are the same spot."""
MIN_ANNULUS_PIXELS = 10
"""Fewest unmasked annulus pixels for a background; fewer give NaN photometry."""
REFERENCES = (
    "photutils (Bradley et al.), doi:10.5281/zenodo.596036; de Kleer & de Pater (2016), "
    "Icarus 280, 378, doi:10.1016/j.icarus.2016.06.019"
)
_INTENSITY = "W sr-1 um-1"


# ---------------------------------------------------------------------------------------------
# Arguments


def pixel_point(name: str, value) -> tuple[float, float]:
    """``value`` as a point (line, sample) [pixels] of an image: two finite numbers, else
    ValueError naming ``name``."""
    point = ()
    if not isinstance(value, str | bytes | Mapping):
        try:
            point = tuple(float(v) for v in np.asarray(value, dtype=float).reshape(-1))
            point = point if np.ndim(value) == 1 else ()
        except (TypeError, ValueError):
            point = ()
    if len(point) != 2 or not all(math.isfinite(v) for v in point):
        raise ValueError(
            f"{name} must be (line, sample): two finite numbers [pixels]; got {value!r}"
        )
    return point


def _positive(name: str, value, *, allow_zero: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    ok = number >= 0 if allow_zero else number > 0
    if not (ok and math.isfinite(number)):
        relation = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {relation}; got {value!r}")
    return number


def _image(image, band):
    """(data [Jy per pixel], band, DataArray or None)."""
    if isinstance(image, (str, os.PathLike)):
        from thermal.io.ao import read_ao_image

        image = read_ao_image(image, band=band)
    if isinstance(image, xr.DataArray):
        if set(image.dims) != {"line", "sample"}:
            raise ValueError(f"image must have dims ('line', 'sample'); got {image.dims}")
        units = image.attrs.get("units")
        factor = 1.0
        if units not in (None, ""):
            try:
                factor = conversion_factor(str(units), "Jy")
            except ValueError:
                raise ValueError(
                    f"image units {units!r} are not a flux density per pixel (Jy)"
                ) from None
        data = np.asarray(image.transpose("line", "sample").values, dtype=float) * factor
        own = str(image.coords["band"].values) if "band" in image.coords else None
        if band is not None and own is not None and band != own:
            raise ValueError(f"band={band!r} but the image is of band {own!r}")
        return data, band or own, image
    data = np.asarray(image, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"image must be 2-D (line, sample); got shape {data.shape}")
    return data, band, None


def _positions(positions):
    """(line, sample, names or None, extra per-spot coordinates)."""
    extra = {}
    names = None
    if isinstance(positions, (xr.Dataset, Mapping)):
        if "line" not in positions or "sample" not in positions:
            raise ValueError("positions must have 'line' and 'sample'")
        line = np.atleast_1d(np.asarray(positions["line"], dtype=float))
        sample = np.atleast_1d(np.asarray(positions["sample"], dtype=float))
        for key in ("latitude", "longitude", "emission_angle"):
            if key in positions:
                extra[key] = np.atleast_1d(np.asarray(positions[key], dtype=float))
        for key in ("name", "hotspot"):
            if key in positions:
                values = np.atleast_1d(np.asarray(positions[key]))
                if values.dtype.kind in "OUS":
                    names = [str(v) for v in values]
                    break
    else:
        array = np.asarray(positions, dtype=float)
        if array.ndim == 1 and array.shape == (2,):
            array = array[:, None]
        if array.ndim != 2 or array.shape[0] != 2:
            raise ValueError(
                "positions must be (line, sample): two arrays (or two numbers), or a Dataset "
                f"with 'line' and 'sample'; got shape {array.shape}"
            )
        line, sample = array
    if line.shape != sample.shape or line.ndim != 1:
        raise ValueError("positions: line and sample must be 1-D and of one length")
    if not (np.all(np.isfinite(line)) and np.all(np.isfinite(sample))):
        raise ValueError("positions must be finite")
    for key, value in extra.items():
        if value.shape != line.shape:
            raise ValueError(f"positions: {key} has another length than line")
    if names is not None and len(names) != line.size:
        raise ValueError("positions: names have another length than line")
    return line, sample, names, extra


# ---------------------------------------------------------------------------------------------
# Photometry


def aperture_photometry(
    image,
    positions,
    *,
    radius: float | None = None,
    annulus: tuple[float, float] | None = None,
    fwhm: float | None = None,
    error=None,
    sigma_clip: float = 3.0,
    background: str = "median",
    aperture_correction: float = 1.0,
    calibration_uncertainty: float = 0.0,
    band: str | None = None,
    distance: float | None = None,
    reference: tuple[float, float] | None = None,
    names: Sequence[str] | None = None,
) -> xr.Dataset:
    """Aperture photometry of hot spots in one AO image (one band).

    Parameters
    ----------
    image : xarray.DataArray, numpy.ndarray or path
        Flux density per pixel [Jy] over (``line``, ``sample``), as
        :func:`thermal.io.ao.read_ao_image` returns it (a path is read with it); its ``band``,
        ``time``, ``distance`` and ``psf_fwhm`` are used. A plain 2-D array is taken as Jy
        per pixel and needs ``band=``.
    positions : xarray.Dataset, mapping or array_like
        Hot-spot centres in 0-based pixel coordinates (pixel centres at integers): a Dataset
        or mapping with ``line`` and ``sample`` over one dimension (the detection core's
        output; its ``name`` or string ``hotspot``, ``latitude``, ``longitude`` [degrees east]
        and ``emission_angle`` are carried along), or ``(line, sample)``: two arrays (or two
        numbers for one spot). photutils' (x, y) is (sample, line).
    radius : float, optional
        Aperture radius [pixel]; default 1.5 ``fwhm`` or :data:`DEFAULT_RADIUS`.
    annulus : (float, float), optional
        Inner and outer radius [pixel] of the background annulus, ``radius <= r_in < r_out``;
        default ``(4/3, 2) * radius``.
    fwhm : float, optional
        PSF FWHM [pixel] for the default radius (default: the image's ``psf_fwhm``).
    error : array_like, optional
        1-sigma uncertainty of each pixel [Jy], the image's shape (see the module notes).
    sigma_clip : float, optional
        Clipping threshold [standard deviations] of the annulus pixels (astropy
        ``SigmaClip``, median centre, 10 iterations at most; default 3).
    background : {"median", "radial", "disk"}, optional
        How the annulus gives the background under the spot: the sigma-clipped median
        (default; flat or planar backgrounds, the dark disk), a clipped fit that follows the
        curvature of the sunlit disk, or the median after the lit disk's profile is removed
        (:func:`thermal.detect.disk.disk_profile` about ``reference``, the disk centre; faint
        spots on a lit disk; see the module notes).
    aperture_correction : float, optional
        Factor (> 0) applied to flux densities and uncertainties: total over aperture flux of
        the PSF (default 1; see the module notes).
    calibration_uncertainty : float, optional
        Relative 1-sigma uncertainty of the flux calibration (>= 0), added in quadrature.
    band : str, optional
        Band name (:mod:`thermal.bands`); default the image's ``band``.
    distance : float, optional
        Observer-Io distance [m]; default the image's ``distance``. Without one the
        intensities are NaN.
    reference : (float, float), optional
        A reference point (line, sample) [pixel] of this image, e.g. the centre of Io's disk:
        :func:`photometry_table` matches spots of several images by their positions relative
        to it.
    names : sequence of str, optional
        Hot-spot names (default: the positions' names, else the index).

    Returns
    -------
    xarray.Dataset
        Over dim ``hotspot`` (names, or 0, 1, ...): ``flux_density`` and
        ``flux_density_uncertainty`` [Jy], ``intensity`` and ``intensity_uncertainty``
        [W sr-1 um-1], ``snr``, ``background`` and ``background_std`` [Jy per pixel],
        ``aperture_area`` [pixel] (unmasked, on the image), ``annulus_pixels`` (unmasked
        pixels), ``edge`` (aperture or annulus not wholly on the image); coordinates
        ``line``, ``sample``, scalar ``band``, ``time``, ``distance`` [m] and those carried
        from ``positions``; attributes with the radii [pixel], the aperture correction, the
        reference point and the method's references. A spot whose annulus has fewer than
        :data:`MIN_ANNULUS_PIXELS` usable pixels or whose aperture has none gets NaN. No
        positions give the table without rows.

    Raises
    ------
    ValueError
        Bad arguments: an image that is not 2-D or not in Jy, positions that are not finite
        or lie off the image, radii that are not positive or out of order, an unknown or
        missing band, a bad ``error`` shape.
    """
    data, band, array = _image(image, band)
    if band is None:
        raise ValueError("band is unknown: give band= (a name from thermal.bands)")
    if band not in set(_bands.names()):
        raise ValueError(f"band must be one of {', '.join(_bands.names())}; got {band!r}")
    line, sample, own_names, extra = _positions(positions)
    if line.size == 0:  # no spots (a frame without any): the same table, without rows
        if names is not None and len(names):
            raise ValueError(f"names: {len(names)} names for 0 spots")
        options = {"radius": radius, "annulus": annulus, "fwhm": fwhm, "error": error,
                   "sigma_clip": sigma_clip, "background": background,
                   "aperture_correction": aperture_correction,
                   "calibration_uncertainty": calibration_uncertainty, "band": band,
                   "distance": distance, "reference": reference}  # fmt: skip
        one = aperture_photometry(image, ([0.0], [0.0]), **options)
        return one.isel(hotspot=slice(0, 0))
    lines, samples = data.shape
    off = (line < -0.5) | (line > lines - 0.5) | (sample < -0.5) | (sample > samples - 0.5)
    if np.any(off):
        i = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"positions: spot {i} at (line {line[i]:g}, sample {sample[i]:g}) is off the "
            f"{lines} x {samples} image"
        )
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != line.size:
            raise ValueError(f"names: {len(names)} names for {line.size} spots")
    else:
        names = own_names

    if fwhm is None and array is not None:
        fwhm = array.attrs.get("psf_fwhm")
    if fwhm is not None:
        fwhm = float(fwhm)
        if math.isfinite(fwhm) and not fwhm > 0:
            raise ValueError(f"fwhm must be > 0 [pixel]; got {fwhm}")
    if radius is None:
        radius = 1.5 * fwhm if fwhm is not None and math.isfinite(fwhm) else DEFAULT_RADIUS
    radius = _positive("radius", radius)
    if annulus is None:
        annulus = (4.0 / 3.0 * radius, 2.0 * radius)
    try:
        r_in, r_out = (float(r) for r in annulus)
    except (TypeError, ValueError):
        raise ValueError(f"annulus must be (r_in, r_out) [pixel]; got {annulus!r}") from None
    if not (math.isfinite(r_in) and math.isfinite(r_out) and radius <= r_in < r_out):
        raise ValueError(
            f"annulus must satisfy radius <= r_in < r_out; got radius {radius:g}, annulus "
            f"{annulus!r}"
        )
    sigma_clip = _positive("sigma_clip", sigma_clip)
    correction = _positive("aperture_correction", aperture_correction)
    kappa = _positive("calibration_uncertainty", calibration_uncertainty, allow_zero=True)
    if distance is None and array is not None and "distance" in array.coords:
        distance = float(array.coords["distance"].values)
    if distance is not None and math.isfinite(float(distance)):
        distance = _positive("distance", distance)
    else:
        distance = math.nan
    if error is not None:
        error = np.asarray(error, dtype=float)
        if error.shape != data.shape:
            raise ValueError(f"error must have the image's shape {data.shape}; got {error.shape}")
    if reference is not None:
        reference = pixel_point("reference", reference)

    if background not in ("median", "radial", "disk"):
        raise ValueError(f"background must be 'median', 'radial' or 'disk'; got {background!r}")
    annulus_method = background
    if background == "disk":  # the lit disk's profile off, then the annulus median
        from thermal.detect.disk import disk_profile

        disk = disk_profile(data, centre=reference)
        if disk is not None:
            data = data - disk["model"]
        annulus_method = "median"
    measured = _measure(data, line, sample, radius, r_in, r_out, error, sigma_clip, annulus_method)
    flux = measured["flux"] * correction
    sigma = measured["sigma"] * correction
    sigma = np.sqrt(sigma**2 + (kappa * flux) ** 2)
    centre = _bands.get(band).centre
    if math.isfinite(distance):
        intensity = flux_density_to_intensity(flux, centre, distance)
        intensity_sigma = flux_density_to_intensity(sigma, centre, distance)
    else:
        intensity = np.full_like(flux, np.nan)
        intensity_sigma = np.full_like(flux, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(sigma > 0, flux / sigma, np.nan)

    n = line.size
    hotspot = np.array(names, dtype=object) if names is not None else np.arange(n)
    coords = {
        "hotspot": ("hotspot", hotspot, {"long_name": "hot spot"}),
        "line": ("hotspot", line, {"long_name": "aperture centre line (0-based)"}),
        "sample": ("hotspot", sample, {"long_name": "aperture centre sample (0-based)"}),
        "band": ((), band, {"long_name": "filter band (thermal.bands)"}),
        "distance": ((), distance, {"units": "m", "long_name": "observer-target distance"}),
    }
    if array is not None and "time" in array.coords:
        coords["time"] = ((), array.coords["time"].values, {"standard_name": "time"})
    units = {"latitude": "degrees_north", "longitude": "degrees_east", "emission_angle": "degree"}
    for key, value in extra.items():
        coords[key] = ("hotspot", value, {"units": units[key]})
    jy = {"units": "Jy"}
    variables = {
        "flux_density": ("hotspot", flux, {**jy, "long_name": "flux density of the hot spot"}),
        "flux_density_uncertainty": (
            "hotspot",
            sigma,
            {**jy, "long_name": "1-sigma uncertainty of the flux density"},
        ),
        "intensity": (
            "hotspot",
            intensity,
            {"units": _INTENSITY, "long_name": "spectral intensity at the band centre"},
        ),
        "intensity_uncertainty": (
            "hotspot",
            intensity_sigma,
            {"units": _INTENSITY, "long_name": "1-sigma uncertainty of spectral intensity"},
        ),
        "snr": ("hotspot", snr, {"units": "1", "long_name": "signal-to-noise ratio"}),
        "background": (
            "hotspot",
            measured["background"],
            {**jy, "long_name": "background per pixel under the spot (from the annulus)"},
        ),
        "background_std": (
            "hotspot",
            measured["background_std"],
            {**jy, "long_name": "clipped standard deviation of the annulus pixels (residuals)"},
        ),
        "aperture_area": (
            "hotspot",
            measured["area"],
            {"units": "1", "long_name": "unmasked aperture area on the image [pixels]"},
        ),
        "annulus_pixels": (
            "hotspot",
            measured["annulus_pixels"],
            {"units": "1", "long_name": "unmasked annulus pixels"},
        ),
        "edge": (
            "hotspot",
            measured["edge"],
            {"long_name": "aperture or annulus partly off the image"},
        ),
    }
    attrs = {
        "aperture_radius": radius,
        "annulus_inner_radius": r_in,
        "annulus_outer_radius": r_out,
        "aperture_correction": correction,
        "calibration_uncertainty": kappa,
        "sigma_clip": sigma_clip,
        "background_method": background,
        "psf_fwhm": math.nan if fwhm is None else fwhm,
        "method": "circular aperture (exact overlap, photutils ApertureStats), background "
        + {
            "median": "the sigma-clipped median of an annulus",
            "radial": "a clipped fit of the annulus (constant, gradient, rho^2) over the aperture",
            "disk": "the sigma-clipped median of an annulus, after the lit disk's azimuthal "
            "median profile (thermal.detect.disk.disk_profile) is removed",
        }[background],
        "references": REFERENCES,
    }
    if array is not None:
        for key in ("product_id", "source", "instrument", "filter"):
            if key in array.attrs:
                attrs[f"image_{key}"] = array.attrs[key]
    if reference is not None:
        attrs["reference_line"], attrs["reference_sample"] = reference
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def _radial(data, mask, annulus, xy, radius, clip) -> tuple[np.ndarray, ...]:
    """Per spot: the background averaged over the aperture from a fit of the annulus pixels
    b = a + g_x dx + g_y dy + c rho^2 (rho the distance from the spot; clipped residuals
    refitted up to 5 times), its variance, the residual standard deviation and the pixels."""
    masks = annulus.to_mask(method="center")
    masks = masks if isinstance(masks, list) else [masks]
    n = len(masks)
    level, variance, std, pixels = (np.full(n, np.nan) for _ in range(4))
    for k, aperture_mask in enumerate(masks):
        large, small = aperture_mask.get_overlap_slices(data.shape)
        if large is None:
            continue
        inside = (aperture_mask.data[small] > 0) & ~mask[large]
        lines, samples = np.mgrid[large[0], large[1]]
        values = data[large][inside]
        dx, dy = samples[inside] - xy[k, 0], lines[inside] - xy[k, 1]
        design = np.column_stack([np.ones_like(dx), dx, dy, dx * dx + dy * dy])
        keep = np.ones(values.size, dtype=bool)
        if values.size < MIN_ANNULUS_PIXELS:
            pixels[k] = values.size
            continue
        for _ in range(5):
            coefficients = np.linalg.lstsq(design[keep], values[keep], rcond=None)[0]
            residual = values - design @ coefficients
            kept = ~np.ma.getmaskarray(clip(residual, masked=True))
            if np.array_equal(kept, keep) or kept.sum() < MIN_ANNULUS_PIXELS:
                break
            keep = kept
        count = int(keep.sum())
        pixels[k] = count
        s2 = float(np.sum(residual[keep] ** 2)) / max(count - 4, 1)
        normal = design[keep].T @ design[keep]
        try:
            covariance = s2 * np.linalg.inv(normal)
        except np.linalg.LinAlgError:
            continue
        mean = np.array([1.0, 0.0, 0.0, radius * radius / 2.0])  # aperture mean of the terms
        level[k] = mean @ coefficients
        variance[k] = mean @ covariance @ mean
        std[k] = math.sqrt(s2)
    return level, variance, std, pixels


def _measure(data, line, sample, radius, r_in, r_out, error, sigma_clip, method) -> dict:
    """photutils photometry of every spot: flux [Jy], its sigma (before corrections), ..."""
    from astropy.stats import SigmaClip
    from astropy.utils.exceptions import AstropyUserWarning
    from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture

    xy = np.column_stack([sample, line])
    mask = ~np.isfinite(data)
    if error is not None:
        mask |= ~np.isfinite(error)
    annulus = CircularAnnulus(xy, r_in=r_in, r_out=r_out)
    clip = SigmaClip(sigma=sigma_clip, maxiters=10, cenfunc="median")
    with warnings.catch_warnings():
        # all-masked annuli and NaN pixels: handled below (NaN results), not warnings
        warnings.simplefilter("ignore", AstropyUserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        if method == "radial":
            background, level_variance, background_std, pixels = _radial(
                data, mask, annulus, xy, radius, clip
            )
        else:
            background_stats = ApertureStats(data, annulus, mask=mask, sigma_clip=clip)
            background = np.atleast_1d(np.asarray(background_stats.median, dtype=float))
            background_std = np.atleast_1d(np.asarray(background_stats.std, dtype=float))
            pixels = np.atleast_1d(
                np.asarray(background_stats.center_aper_area.value, dtype=float)
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                level_variance = (math.pi / 2.0) * background_std**2 / pixels
        usable = np.isfinite(background) & (np.nan_to_num(pixels) >= MIN_ANNULUS_PIXELS)
        local = np.where(usable, background, 0.0)
        stats = ApertureStats(
            data,
            CircularAperture(xy, r=radius),
            mask=mask,
            error=error,
            local_bkg=local,
            sum_method="exact",
        )
        flux = np.atleast_1d(np.asarray(stats.sum, dtype=float))
        area = np.atleast_1d(np.asarray(stats.sum_aper_area.value, dtype=float))
        summed_error = (
            np.atleast_1d(np.asarray(stats.sum_err, dtype=float)) if error is not None else None
        )
    area = np.nan_to_num(area)
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = area**2 * level_variance
        variance = variance + (
            summed_error**2 if summed_error is not None else area * background_std**2
        )
    bad = ~usable | ~(area > 0)
    flux = np.where(bad, np.nan, flux)
    sigma = np.where(bad, np.nan, np.sqrt(variance))
    lines, samples = data.shape
    edge = (
        (line - r_out < -0.5)
        | (line + r_out > lines - 0.5)
        | (sample - r_out < -0.5)
        | (sample + r_out > samples - 0.5)
    )
    return {
        "flux": flux,
        "sigma": sigma,
        "background": np.where(usable, background, np.nan),
        "background_std": np.where(usable, background_std, np.nan),
        "area": area,
        "annulus_pixels": np.nan_to_num(pixels).astype(int),
        "edge": edge,
    }


# ---------------------------------------------------------------------------------------------
# Photometry table


def _nights(nights) -> list[list[xr.Dataset]]:
    if isinstance(nights, xr.Dataset):
        return [[nights]]
    nights = list(nights)
    if not nights:
        raise ValueError("nights: no photometry given")
    if all(isinstance(n, xr.Dataset) for n in nights):
        return [nights]
    grouped = []
    for k, night in enumerate(nights):
        night = [night] if isinstance(night, xr.Dataset) else list(night)
        if not night or not all(isinstance(d, xr.Dataset) for d in night):
            raise ValueError(
                f"nights[{k}] must be a photometry Dataset or a list of them (one per band)"
            )
        grouped.append(night)
    return grouped


def _relative(ds: xr.Dataset, shift) -> np.ndarray:
    """Spot positions (N, 2) relative to the Dataset's reference point, plus ``shift``."""
    points = np.column_stack([ds["line"].values, ds["sample"].values]).astype(float)
    if "reference_line" in ds.attrs and "reference_sample" in ds.attrs:
        points -= [float(ds.attrs["reference_line"]), float(ds.attrs["reference_sample"])]
    if shift is not None:
        points += shift
    return points


def _estimate_shift(reference: np.ndarray, points: np.ndarray, tolerance: float, band: str):
    """Translation that brings ``points`` onto ``reference``: the pair difference matched by
    most other pairs within ``tolerance`` (a vote), refined by the mean residual."""
    best = None
    for candidate in (reference[:, None, :] - points[None, :, :]).reshape(-1, 2):
        moved = points + candidate
        distance = np.linalg.norm(reference[:, None, :] - moved[None, :, :], axis=2)
        hits = distance <= tolerance
        count = int(min(hits.any(axis=0).sum(), hits.any(axis=1).sum()))
        residual = float(distance[hits].sum())
        if best is None or (count, -residual) > (best[0], -best[1]):
            best = (count, residual, candidate)
    if best is None or best[0] < 2:
        raise ValueError(
            f"cannot estimate the offset of band {band} from fewer than two spots in common "
            "with the reference band: give shifts= or reference points"
        )
    candidate = best[2]
    moved = points + candidate
    distance = np.linalg.norm(reference[:, None, :] - moved[None, :, :], axis=2)
    i, j = np.nonzero(distance <= tolerance)
    return candidate + np.mean(reference[i] - moved[j], axis=0)


def _match(night: list[xr.Dataset], tolerance: float, shifts) -> list[dict]:
    """Rows of one night: {'position': (2,), 'members': {band: index}}."""
    from scipy.optimize import linear_sum_assignment

    bands = [str(ds["band"].values) for ds in night]
    if len(set(bands)) != len(bands):
        raise ValueError(f"one night has two photometry Datasets of one band: {bands}")
    referenced = ["reference_line" in ds.attrs for ds in night]
    if any(referenced) and not all(referenced):
        raise ValueError(
            "reference points are given for some bands of a night but not for others: give "
            "aperture_photometry(reference=) for every image of the night, or for none"
        )
    order = sorted(range(len(night)), key=lambda k: -night[k].sizes["hotspot"])
    first = order[0]
    given = shifts if isinstance(shifts, Mapping) else {}
    points = {
        k: _relative(night[k], None if bands[k] not in given else np.asarray(given[bands[k]]))
        for k in order
    }
    if isinstance(shifts, str):
        for k in order[1:]:
            points[k] = points[k] + _estimate_shift(points[first], points[k], tolerance, bands[k])
    rows = [
        {"position": p.copy(), "members": {bands[first]: i}} for i, p in enumerate(points[first])
    ]
    for k in order[1:]:
        here = points[k]
        if rows and len(here):
            existing = np.array([row["position"] for row in rows])
            distance = np.linalg.norm(existing[:, None, :] - here[None, :, :], axis=2)
            cost = np.where(distance <= tolerance, distance, 1e6)
            r, c = linear_sum_assignment(cost)
            pairs = [(i, j) for i, j in zip(r, c, strict=True) if distance[i, j] <= tolerance]
        else:
            pairs = []
        for i, j in pairs:
            rows[i]["members"][bands[k]] = j
            count = len(rows[i]["members"])
            rows[i]["position"] += (here[j] - rows[i]["position"]) / count
        matched = {j for _, j in pairs}
        rows.extend(
            {"position": here[j].copy(), "members": {bands[k]: j}}
            for j in range(len(here))
            if j not in matched
        )
    return rows


def _format(value: float) -> str:
    return "" if not math.isfinite(value) else f"{value:.7g}"


def photometry_table(
    nights,
    path,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    shifts=None,
    units: str = "Jy",
    distance: float | None = None,
) -> str:
    """Merge the per-band photometry of each night and write the CSV photometry table.

    Parameters
    ----------
    nights : sequence
        A list of nights, each a list of :func:`aperture_photometry` Datasets (one per band);
        a flat list of Datasets (or one Dataset) is one night.
    path : str or path-like
        CSV file to write (its folder must exist); written to a temporary file in that folder
        and renamed, so a reader never sees a partial table.
    tolerance : float, optional
        Largest distance [pixel] between the positions of one spot in two bands (default
        :data:`DEFAULT_TOLERANCE`), compared relative to each Dataset's reference point (its
        ``reference`` of :func:`aperture_photometry`, e.g. the disk centre) when it has one.
        Spots are paired one to one by least total distance (Hungarian assignment); a spot
        with no partner starts a row of its own.
    shifts : mapping or "auto", optional
        Offsets (line, sample) [pixel] added to the positions of a band (``{"nirc2_ms":
        (1.5, -3.0)}``) to bring them onto the others' frame, or ``"auto"``: per night,
        estimate each band's translation to the band with the most spots from the spots
        themselves (the offset shared by the most pairs; needs two spots in common).
    units : str, optional
        ``"Jy"`` (default: the flux densities, with the ``distance`` column [m]) or an
        intensity unit such as ``"GW um-1 sr-1"`` (intensities at the band centres).
    distance : float, optional
        Observer-Io distance [m] for every row (default each Dataset's own ``distance``).

    Returns
    -------
    str
        The path written. Columns ``hotspot`` (names, else ``"spot <k>"`` per night),
        ``time`` (mean time of the bands, ISO 8601), ``distance`` [m], ``latitude`` and
        ``longitude_west`` when the photometry has them, ``<band>`` and
        ``<band>_uncertainty`` for each band (ordered by wavelength; empty where a spot was not
        measured) and ``note``; a ``# units:`` line. :func:`thermal.io.tables.read_csv` reads
        it and ``thermal fit`` fits it.

    Raises
    ------
    ValueError
        No photometry, two Datasets of one band in a night, an unknown unit, no distance for
        flux densities or intensities, a shift that cannot be estimated.
    OSError
        The folder does not exist or is not writable (no file is left behind).
    """
    groups = _nights(nights)
    tolerance = _positive("tolerance", tolerance)
    if not (shifts is None or shifts == "auto" or isinstance(shifts, Mapping)):
        raise ValueError("shifts must be None, 'auto' or a mapping band -> (line, sample)")
    if isinstance(shifts, Mapping):
        for key, value in shifts.items():
            if np.shape(value) != (2,) or not np.all(np.isfinite(np.asarray(value, float))):
                raise ValueError(f"shifts[{key!r}] must be (line, sample) [pixel]; got {value!r}")
    try:
        to_jy = conversion_factor(units, "Jy")
        kind = "flux_density"
    except ValueError:
        try:
            to_units = conversion_factor(_INTENSITY, units)
        except ValueError:
            raise ValueError(
                f"units must be a flux density (Jy) or an intensity (GW um-1 sr-1); got {units!r}"
            ) from None
        kind = "intensity"
    if distance is not None:
        distance = _positive("distance", distance)

    all_bands: set[str] = set()
    rows = []
    has_geometry = False
    for night in groups:
        all_bands.update(str(ds["band"].values) for ds in night)
        has_geometry |= any("latitude" in ds.coords for ds in night)
        for number, row in enumerate(_match(night, tolerance, shifts), start=1):
            rows.append((night, number, row))
    bands = sorted(all_bands, key=lambda b: _bands.get(b).centre)

    records = []
    for night, number, row in rows:
        by_band = {str(ds["band"].values): ds for ds in night}
        name = None
        times, distances, lat, lon, notes = [], [], math.nan, math.nan, []
        values = {}
        for band, index in row["members"].items():
            ds = by_band[band]
            spot = ds.isel(hotspot=index)
            label = spot["hotspot"].values.item()
            if name is None and isinstance(label, str):
                name = label
            if "time" in ds.coords and not np.isnat(ds["time"].values):
                times.append(ds["time"].values.astype("datetime64[ns]").astype(np.int64))
            d = distance if distance is not None else float(ds["distance"].values)
            distances.append(d)
            if not math.isfinite(lat) and "latitude" in spot.coords:
                lat = float(spot["latitude"].values)
            if not math.isfinite(lon) and "longitude" in spot.coords:
                lon = float(spot["longitude"].values)
            if bool(spot["edge"].values):
                notes.append(f"{band} aperture or annulus off the image")
            if kind == "flux_density":
                value = float(spot["flux_density"].values) / to_jy
                sigma = float(spot["flux_density_uncertainty"].values) / to_jy
            else:
                if not math.isfinite(d):
                    raise ValueError(
                        f"no distance for band {band}: give distance= here or to read_ao_image"
                    )
                centre = _bands.get(band).centre
                value = flux_density_to_intensity(float(spot["flux_density"].values), centre, d)
                sigma = flux_density_to_intensity(
                    float(spot["flux_density_uncertainty"].values), centre, d
                )
                value, sigma = value * to_units, sigma * to_units
            if math.isfinite(value) and math.isfinite(sigma):
                values[band] = (value, sigma)
        finite = [d for d in distances if math.isfinite(d)]
        row_distance = float(np.mean(finite)) if finite else math.nan
        if kind == "flux_density" and values and not math.isfinite(row_distance):
            raise ValueError(
                "flux densities need the distance: give distance= here or to read_ao_image"
            )
        when = ""
        if times:
            mean = np.datetime64(int(np.mean(times)), "ns")
            when = str(mean.astype("datetime64[s]"))
        records.append(
            {
                "hotspot": name if name is not None else f"spot {number}",
                "time": when,
                "distance": _format(row_distance),
                "latitude": _format(lat),
                "longitude_west": _format(float(east_to_west(lon)) if math.isfinite(lon) else lon),
                **{
                    column: _format(values[band][k]) if band in values else ""
                    for band in bands
                    for k, column in enumerate((band, f"{band}_uncertainty"))
                },
                "note": "; ".join(["AO aperture photometry", *notes]),
            }
        )

    header = ["hotspot", "time", "distance"]
    if has_geometry:
        header += ["latitude", "longitude_west"]
    header += [c for band in bands for c in (band, f"{band}_uncertainty")] + ["note"]
    text = io.StringIO()
    text.write(
        "# Hot-spot photometry of adaptive-optics images (thermal.detect.photometry): circular\n"
        "# apertures, background the sigma-clipped median of an annulus around each spot, as in\n"
        "# de Kleer & de Pater 2016 (doi:10.1016/j.icarus.2016.06.019), with photutils\n"
        "# (doi:10.5281/zenodo.596036). Uncertainties are 1 sigma.\n"
        f"# units: {units}\n"
    )
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    for record in records:
        writer.writerow([record[c] for c in header])
    from thermal.io.results import write_text_atomically

    return write_text_atomically(path, text.getvalue())
