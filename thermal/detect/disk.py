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
from astropy.stats import mad_std
from scipy import ndimage

__all__ = ["disk_profile", "find_disk_hotspots"]

_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))

_CONTRAST = 20.0  # disk level (99th centile) over the noise below which there is no lit disk
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
        connected region above half the image's 99th centile.

    Returns
    -------
    dict or None
        ``model`` (array like ``image``: the azimuthal median in rings about the centre,
        interpolated; 0 beyond the last ring with data), ``centre`` (line, sample) [pixels],
        ``radius`` [pixels] (of a disk with the area of the region 10 sigma above the sky,
        PSF blur included); None when the image shows
        no disk 20 times brighter than its noise (a night-side frame).
    """
    data = np.asarray(image, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"image must be 2-D (lines, samples); got shape {data.shape}")
    finite = np.isfinite(data)
    if finite.sum() < 100:
        return None
    values = data[finite]
    noise = float(mad_std(np.diff(values))) / np.sqrt(2.0)  # pixel-to-pixel: the disk cancels
    level = float(np.percentile(values, 99))
    if not (noise > 0 and level > _CONTRAST * noise):
        return None
    lit = finite & (data > 0.5 * level)
    regions, count = ndimage.label(lit)
    if count == 0:
        return None
    sizes = ndimage.sum_labels(lit, regions, np.arange(1, count + 1))
    largest = regions == (1 + int(np.argmax(sizes)))
    # the radius from where the disk stands 10 sigma above the sky (half the level would
    # cut a limb-darkened disk short)
    edge, edges_count = ndimage.label(finite & (data > 10.0 * noise))
    sizes = ndimage.sum_labels(edge > 0, edge, np.arange(1, edges_count + 1))
    radius = float(np.sqrt(sizes.max() / np.pi))
    if centre is None:
        centre = tuple(float(v) for v in ndimage.center_of_mass(largest))
    elif len(centre) != 2 or not all(np.isfinite(centre)):
        raise ValueError(f"centre must be (line, sample) [pixels]; got {centre!r}")
    lines, samples = np.indices(data.shape, dtype=float)
    r = np.hypot(lines - centre[0], samples - centre[1])
    edges = _edges(float(r[finite].max()))
    ring = np.digitize(r, edges) - 1
    index = np.arange(edges.size - 1)
    count = ndimage.sum_labels(finite, np.where(finite, ring, -1), index)
    median = np.asarray(ndimage.median(data, np.where(finite, ring, -1), index), dtype=float)
    middle = 0.5 * (edges[:-1] + edges[1:])
    ok = (count > 0) & np.isfinite(median)
    model = np.interp(r, middle[ok], median[ok], right=0.0)
    return {"model": model, "centre": centre, "radius": radius}


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
        The image [e.g. Jy per pixel]; a DataArray's ``psf_fwhm`` attribute (as
        :func:`thermal.io.ao.read_ao_image` sets it) is used when ``psf_fwhm`` is not given.
    nsigma : float, optional
        Detection threshold [sigma], > 0.
    psf_fwhm : float, optional
        The PSF's full width at half maximum [pixels] (default: the image's ``psf_fwhm``, or
        a 1-pixel-sigma PSF when unknown).
    **options
        Further :func:`thermal.detect.find_hotspots` options (``saturation``, ``box``, ...).

    Returns
    -------
    xarray.Dataset
        As :func:`thermal.detect.find_hotspots` (sums and backgrounds relative to the disk
        model), with attributes ``disk_centre_line``, ``disk_centre_sample`` and
        ``disk_radius`` [pixels] (NaN when no lit disk is seen: the image is searched as it
        is).
    """
    from thermal.detect.find import find_hotspots

    if psf_fwhm is None:
        psf_fwhm = getattr(image, "attrs", {}).get("psf_fwhm")
    psf_sigma = None
    if psf_fwhm is not None and np.isfinite(psf_fwhm):
        if not psf_fwhm > 0:
            raise ValueError(f"psf_fwhm must be > 0 [pixels]; got {psf_fwhm!r}")
        psf_sigma = float(psf_fwhm) / _FWHM_PER_SIGMA
    data = np.asarray(image, dtype=float)
    disk = disk_profile(data)
    if disk is not None:
        data = data - disk["model"]
    found = find_hotspots(data, nsigma=nsigma, psf_sigma=psf_sigma, **options)
    centre = disk["centre"] if disk is not None else (np.nan, np.nan)
    found.attrs.update(
        disk_centre_line=float(centre[0]),
        disk_centre_sample=float(centre[1]),
        disk_radius=float(disk["radius"]) if disk is not None else np.nan,
        disk_model="azimuthal median profile about the lit disk's centre, removed before detection"
        if disk is not None
        else "no lit disk seen",
    )
    return found
