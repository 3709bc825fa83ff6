"""Io's sunlit disk in an image: its centre, radius and radial profile.

A disk-resolved image of Io in reflected sunlight (an adaptive-optics frame at K or L') is a
bright, limb-darkened disk a few hundred times its noise, blurred by the PSF at the limb.
A running median a few PSFs wide, the background :func:`thermal.detect.find_hotspots` uses,
errs there by more than a faint spot's signal, so spots near the limb go unseen. Near
opposition the disk is close to symmetric about its centre: its azimuthal median profile,
robust to the few per cent of pixels hot spots cover, describes it to the noise, limb and
PSF blur included, and removing it first leaves the detector a flat residual (the whole-image
form of the "radial" annulus background of :func:`thermal.detect.photometry.aperture_photometry`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from astropy.stats import mad_std
from scipy import ndimage

from thermal.detect.photometry import pixel_point

__all__ = ["disk_profile", "find_disk_hotspots"]

_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))

_CONTRAST = 20.0  # [sigma] above the sky: pixels on the lit disk
_MIN_PIXELS = 100  # fewest pixels of a lit disk (and of an image to look for one in)
_SPOT_WINDOW = 15  # [pixels] running median whose excess marks spots (PSF sigma up to ~3)
_BIN_PIXELS = 60  # fewest pixels of a bin of the profile (its median is then good to ~4 %)
_BIN_WIDTH = 0.5  # [pixels] width of the profile's bins where they hold enough pixels


def disk_profile(image, *, centre: tuple[float, float] | None = None) -> dict | None:
    """The lit disk of ``image`` as a radially symmetric model.

    Parameters
    ----------
    image : array_like, shape (lines, samples)
        The image [any unit, e.g. Jy per pixel or W m-2 sr-1 um-1]; NaN for no data.
    centre : (float, float), optional
        Disk centre (line, sample) [pixels, 0-based]. By default the centroid of the largest
        connected region above half the lit disk's level (the 90th centile of the pixels
        20 sigma above the sky).

    Returns
    -------
    dict or None
        ``model`` (array like ``image``: the azimuthal median in rings about the centre, the
        pixels of spots left out, interpolated), ``centre`` (line, sample) [pixels],
        ``radius`` [pixels] (of a disk with the area of the region 10 sigma above the sky,
        PSF blur included) and ``sky`` (the 5th centile of the image); None when the image
        shows no disk 20 times brighter than its noise (a night-side frame), or, without a
        given ``centre``, when the lit disk touches the frame's edge (its centroid would not
        be the disk's centre, and a profile about a wrong centre leaves false spots).
    """
    data = np.asarray(image, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"image must be 2-D (lines, samples); got shape {data.shape}")
    if centre is not None:
        centre = pixel_point("centre", centre)
    finite = np.isfinite(data)
    if finite.sum() < _MIN_PIXELS:
        return None
    values = data[finite]
    noise = float(mad_std(np.diff(values))) / np.sqrt(2.0)  # pixel-to-pixel: the disk cancels
    sky = float(np.percentile(values, 5))
    bright = values[values - sky > _CONTRAST * noise]
    if not noise > 0 or bright.size < _MIN_PIXELS:
        return None
    level = float(np.percentile(bright, 90)) - sky  # hot spots are a few per cent of it
    largest = _largest_region(finite & (data - sky > 0.5 * level))
    if centre is None:
        edge = np.zeros(data.shape, bool)
        edge[[0, -1], :] = edge[:, [0, -1]] = True
        if np.any(largest & edge):
            return None
        centre = tuple(float(v) for v in ndimage.center_of_mass(largest))
    radius = float(np.sqrt(_largest_region(finite & (data - sky > 10.0 * noise)).sum() / np.pi))
    lines, samples = np.indices(data.shape, dtype=float)
    r = np.hypot(lines - centre[0], samples - centre[1])
    edges = _edges(float(r[finite].max()))
    ring = np.digitize(r, edges) - 1
    middle = 0.5 * (edges[:-1] + edges[1:])
    # the rings' medians without the spots' pixels (near the centre a ring is small and a spot
    # would move its median): those standing 3 sigma above a running median, then above
    # the first profile
    # (the running median only over the lit disk, where the rings are small: 15 x 15 over a
    # whole 1024 x 1024 frame takes ~3 s)
    filled = np.where(finite, data, sky)
    spots = np.zeros(data.shape, bool)
    rows, cols = ndimage.find_objects(largest.astype(np.int8))[0]
    box = (
        slice(max(rows.start - _SPOT_WINDOW, 0), rows.stop + _SPOT_WINDOW),
        slice(max(cols.start - _SPOT_WINDOW, 0), cols.stop + _SPOT_WINDOW),
    )
    local = ndimage.median_filter(filled[box], size=_SPOT_WINDOW, mode="nearest")
    spots[box] = ndimage.binary_dilation(filled[box] - local > 3.0 * noise, iterations=2)
    model = _ring_medians(data, finite & ~spots, ring, r, middle)
    spots |= ndimage.binary_dilation(filled - model > 3.0 * noise, iterations=2)
    model = _ring_medians(data, finite & ~spots, ring, r, middle, fallback=model)
    return {"model": model, "centre": centre, "radius": radius, "sky": sky}


def _largest_region(mask: np.ndarray) -> np.ndarray:
    regions, count = ndimage.label(mask)
    if count == 0:
        return np.zeros(mask.shape, bool)
    sizes = ndimage.sum_labels(mask, regions, np.arange(1, count + 1))
    return regions == (1 + int(np.argmax(sizes)))


def _ring_medians(data, use, ring, r, middle, fallback=None) -> np.ndarray:
    """The median of the ``use`` pixels of each ring, interpolated in radius ``r``; where no
    ring has pixels left, ``fallback``."""
    index = np.arange(middle.size)
    labels = np.where(use, ring, -1)
    count = ndimage.sum_labels(use, labels, index)
    median = np.asarray(ndimage.median(data, labels, index), dtype=float)
    ok = (count > 0) & np.isfinite(median)
    if not ok.any():
        return fallback if fallback is not None else np.zeros(data.shape)
    return np.interp(r, middle[ok], median[ok])


def _edges(r_max: float) -> np.ndarray:
    """Ring edges [pixels]: equal-area rings of ``_BIN_PIXELS`` pixels near the centre,
    ``_BIN_WIDTH`` wide from where such rings are wider than that."""
    switch = _BIN_PIXELS / (2.0 * np.pi * _BIN_WIDTH)  # radius where a ring holds enough
    inner = np.sqrt(np.arange(0.0, np.pi * switch**2, _BIN_PIXELS) / np.pi)
    outer = np.arange(inner[-1] + _BIN_WIDTH, r_max + 2 * _BIN_WIDTH, _BIN_WIDTH)
    return np.concatenate([inner, outer])


def find_disk_hotspots(image, *, nsigma: float = 5.0, psf_fwhm: float | None = None, **options):
    """Hot spots on a disk-resolved image of Io (adaptive optics): the lit disk's radial
    profile (:func:`disk_profile`) removed, then :func:`thermal.detect.find_hotspots` with
    the detection kernel and windows scaled to the PSF.

    Parameters
    ----------
    image : array_like or xarray.DataArray, shape (lines, samples)
        The image [e.g. Jy per pixel]; a DataArray (dims ``line``, ``sample`` in either
        order) keeps its coordinates, ``band`` and units, and its ``psf_fwhm`` attribute (as
        :func:`thermal.io.ao.read_ao_image` sets it) is used when ``psf_fwhm`` is not given.
    nsigma : float, optional
        Detection threshold [sigma], > 0.
    psf_fwhm : float, optional
        The PSF's full width at half maximum [pixels], 0.71-117 (a Gaussian sigma of
        0.3-50; default: the image's ``psf_fwhm``; NaN or no value: unknown, a
        1-pixel-sigma PSF).
    **options
        Further :func:`thermal.detect.find_hotspots` options (``saturation``, ``box``, ...).

    Returns
    -------
    xarray.Dataset
        As :func:`thermal.detect.find_hotspots` (sums and backgrounds relative to the disk
        model), with attributes ``disk_centre_line``, ``disk_centre_sample`` and
        ``disk_radius`` [pixels] (NaN when no lit disk clear of the frame's edge is seen: the
        image is then searched as it is) and ``disk_model`` (what was done).
    """
    from thermal.detect.find import find_hotspots

    if "psf_sigma" in options:
        raise ValueError("give the PSF as psf_fwhm [pixels], not psf_sigma")
    if psf_fwhm is None:
        psf_fwhm = getattr(image, "attrs", {}).get("psf_fwhm")
        if not isinstance(psf_fwhm, (int, float, np.number)):
            psf_fwhm = None  # no usable attribute: unknown
    psf_sigma = None
    if psf_fwhm is not None:
        try:
            fwhm = float(psf_fwhm)
        except (TypeError, ValueError):
            raise ValueError(f"psf_fwhm must be a number of pixels; got {psf_fwhm!r}") from None
        if not np.isnan(fwhm):  # NaN: unknown (as read_ao_image records it)
            psf_sigma = fwhm / _FWHM_PER_SIGMA
            if not 0.3 <= psf_sigma <= 50:
                raise ValueError(f"psf_fwhm must be 0.71-117 pixels; got {psf_fwhm!r}")
    if isinstance(image, xr.DataArray):
        if set(image.dims) == {"line", "sample"}:
            image = image.transpose("line", "sample")
        disk = disk_profile(image.values)
        searched = image if disk is None else image.copy(data=image.values - disk["model"])
    else:
        data = np.asarray(image, dtype=float)
        disk = disk_profile(data)
        searched = data if disk is None else data - disk["model"]
    found = find_hotspots(searched, nsigma=nsigma, psf_sigma=psf_sigma, **options)
    centre = disk["centre"] if disk is not None else (np.nan, np.nan)
    found.attrs.update(
        disk_centre_line=float(centre[0]),
        disk_centre_sample=float(centre[1]),
        disk_radius=float(disk["radius"]) if disk is not None else np.nan,
        disk_model="azimuthal median profile about the lit disk's centre, removed before detection"
        if disk is not None
        else "none (no lit disk clear of the frame's edge seen)",
    )
    return found
