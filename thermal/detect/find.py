"""Find hot spots in an imager frame: local background, noise, segmentation and a catalogue.

The method (:func:`find_hotspots`):

1. **Background.** A running median over a ``box`` x ``box`` window
   (:func:`scipy.ndimage.median_filter`) of the frame, with no-data pixels and, in a second
   pass, the pixels of candidate sources replaced by their nearest valid neighbour. A median
   follows a step: it keeps the limb of a sunlit disk next to black sky where a smoothed,
   interpolated mesh (``photutils.background.Background2D``) rounds it off and leaves a ring
   of residuals that a detector would report as spots.
2. **Noise.** Unless ``uncertainty`` is given, the robust scatter (1.4826 x median absolute
   deviation) of the background-subtracted residuals, mapped locally with
   ``photutils.background.Background2D`` (``MADStdBackgroundRMS``, sources masked) so a
   noisier lit disk and the limb get their own level; a frame too small for a mesh uses one
   global value (:func:`astropy.stats.mad_std`). Per pixel, the median background has its
   own uncertainty, ``sqrt(pi / 2) sigma / sqrt(n)`` for ``n`` valid pixels in the window.
3. **Detection.** The residual is convolved with a Gaussian of 1 pixel sigma
   (``photutils.segmentation.make_2dgaussian_kernel``, FWHM 2.355 pixels; the matched
   filter of a point source on a JIRAM-like PSF), and pixels above ``nsigma`` times the noise
   of the convolved image (``sqrt(K**2 * sigma**2)``) that form groups of at least
   ``npixels`` connected pixels are segmented (``photutils.segmentation.detect_sources``);
   touching spots are split (``deblend_sources``, multi-thresholding and watershed).
4. **Measurement.** Each segment is grown by ``grow`` pixels
   (:func:`skimage.segmentation.expand_labels`, without merging neighbours) to take in the
   wings of the PSF, and measured on the background-subtracted radiance with
   ``photutils.segmentation.SourceCatalog`` (centroid, peak, sum).

Photutils: Bradley et al., astropy/photutils, doi:10.5281/zenodo.596036.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from astropy.stats import mad_std
from photutils.background import Background2D, MADStdBackgroundRMS, MedianBackground
from photutils.segmentation import (
    SegmentationImage,
    SourceCatalog,
    deblend_sources,
    detect_sources,
    make_2dgaussian_kernel,
)
from photutils.utils import NoDetectionsWarning
from scipy import ndimage
from skimage.segmentation import expand_labels

from thermal import bands as _bands
from thermal import planck

__all__ = ["find_hotspots"]

RADIANCE_UNITS = "W m-2 sr-1 um-1"
DEFAULT_BOX = 11
"""Default side of the running-median background window [pixels]."""
KERNEL_SIGMA = 1.0
"""Standard deviation [pixels] of the Gaussian detection kernel."""
_MASK_NSIGMA = 3.0  # convolved significance of pixels masked from the second background pass
_CONTRAST = 0.005  # deblend_sources contrast: fraction of a segment's flux a child must hold
_HUGE = 1e30  # multiple of the frame's largest |radiance| standing in for masked pixels
_LIMB = 10.0  # local background range [noise sigma] above which pixels are the limb zone
_STRUCTURE = 0.3  # background-model uncertainty per unit of local range of the background
_BKG_EFFICIENCY = np.sqrt(np.pi / 2.0)  # sigma(median) / sigma(mean) for Gaussian noise
_REFERENCE = "photutils (Bradley et al.), doi:10.5281/zenodo.596036"


def _as_image(image, band):
    """(2-D float array, line coordinate, sample coordinate, band name, radiance units)."""
    line_coord = sample_coord = None
    found_band = None
    units = None
    if isinstance(image, xr.DataArray):
        if image.ndim != 2:
            raise ValueError(
                f"image must be 2-D (line, sample); got a DataArray with dims {image.dims}"
            )
        if set(image.dims) != {"line", "sample"}:
            raise ValueError(f"image dims must be ('line', 'sample'); got {image.dims}")
        image = image.transpose("line", "sample")
        if "line" in image.coords:
            line_coord = np.asarray(image["line"].values, dtype=float)
        if "sample" in image.coords:
            sample_coord = np.asarray(image["sample"].values, dtype=float)
        if "band" in image.coords and image["band"].size == 1:
            found_band = str(image["band"].values.item())
        elif "band" in image.attrs:
            found_band = str(image.attrs["band"])
        units = image.attrs.get("units")
        data = image.values
    else:
        data = image
    try:
        data = np.asarray(data, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("image must be a 2-D array of numbers (radiance)") from None
    if data.ndim != 2:
        raise ValueError(f"image must be 2-D (line, sample); got shape {data.shape}")
    if np.isinf(data).any():
        data = np.where(np.isinf(data), np.nan, data)
    if band is not None:
        found_band = band
    name = ""
    if found_band not in (None, ""):
        try:
            name = _bands.get(found_band).name
        except ValueError:
            if band is not None:
                raise ValueError(
                    f"band must be a name in thermal.bands ({', '.join(_bands.names())}); "
                    f"got {band!r}"
                ) from None
            name = ""  # a DataArray's unknown band label: reported as unknown
    if units not in (None, RADIANCE_UNITS, "W/(m^2*sr*micron)"):
        raise ValueError(f"image must be radiance in [{RADIANCE_UNITS}]; its units are {units!r}")
    n_line, n_sample = data.shape
    if line_coord is None:
        line_coord = np.arange(n_line, dtype=float)
    if sample_coord is None:
        sample_coord = np.arange(n_sample, dtype=float)
    return data, line_coord, sample_coord, name


def _validate(nsigma, saturation, npixels, box, grow):
    try:
        nsigma = float(nsigma)
    except (TypeError, ValueError):
        raise ValueError(f"nsigma must be a number > 0; got {nsigma!r}") from None
    if not (np.isfinite(nsigma) and nsigma > 0):
        raise ValueError(f"nsigma must be finite and > 0; got {nsigma}")
    if saturation is not None:
        try:
            saturation = float(saturation)
        except (TypeError, ValueError):
            raise ValueError(f"saturation must be a number > 0 [{RADIANCE_UNITS}]") from None
        if not (np.isfinite(saturation) and saturation > 0):
            raise ValueError(f"saturation must be finite and > 0 [{RADIANCE_UNITS}]; got {saturation}")
    for name, value, low in (("npixels", npixels, 1), ("box", box, 3), ("grow", grow, 0)):
        if name == "box" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    return nsigma, saturation, int(npixels), None if box is None else int(box), int(grow)


def _uncertainty(uncertainty, shape):
    try:
        sigma = np.asarray(uncertainty, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"uncertainty must be numbers > 0 [{RADIANCE_UNITS}]") from None
    try:
        sigma = np.broadcast_to(sigma, shape)
    except ValueError:
        raise ValueError(
            f"uncertainty must be a scalar or an array of the image's shape {shape}; "
            f"got shape {sigma.shape}"
        ) from None
    if np.any(~(sigma > 0) & ~np.isnan(sigma)) or np.isinf(sigma).any():
        raise ValueError(f"uncertainty must be finite and > 0 [{RADIANCE_UNITS}] (NaN: no data)")
    return sigma


def _filled(data, invalid):
    """``data`` with ``invalid`` pixels replaced by their nearest valid neighbour."""
    if not invalid.any():
        return data
    index = ndimage.distance_transform_edt(invalid, return_distances=False, return_indices=True)
    return data[tuple(index)]


def _noise_map(residual, good, box):
    """Per-pixel robust noise of the residual [radiance] and how it was found."""
    values = residual[good]
    if values.size < 2:
        return np.full(residual.shape, np.nan), "too few valid pixels"
    global_sigma = float(mad_std(values))
    mesh = max(2 * box, 16)
    if min(residual.shape) >= 2 * mesh and good.mean() > 0.2:
        try:
            bkg = Background2D(
                np.where(good, residual, 0.0),
                (mesh, mesh),
                mask=~good,
                exclude_percentile=50.0,
                filter_size=(3, 3),
                bkg_estimator=MedianBackground(),
                bkg_rms_estimator=MADStdBackgroundRMS(),
            )
            rms = np.asarray(bkg.background_rms, dtype=float)
            if np.all(np.isfinite(rms)) and np.all(rms > 0):
                # never below the frame's overall scatter: a mesh on a few quiet pixels must not
                # make the detector over-confident
                rms = np.maximum(rms, 0.5 * global_sigma)
                return rms, (
                    f"local robust scatter (1.4826 MAD) of the background-subtracted radiance, "
                    f"photutils Background2D mesh {mesh} px"
                )
        except ValueError:
            pass  # every mesh box excluded: fall back to one value
    return np.full(residual.shape, global_sigma), (
        "global robust scatter (1.4826 MAD) of the background-subtracted radiance"
    )


def _masked_median(values, invalid, size):
    """Running median of the valid pixels: invalid ones are replaced by alternately huge
    positive and negative values on a checkerboard, so that in each window they cancel in
    pairs and the median is that of the valid pixels (to within the checkerboard's one-rank
    imbalance). Returns (median, number of valid pixels in each window); windows with fewer
    than 3 valid pixels get the plain running median of ``values``."""
    count = ndimage.uniform_filter((~invalid).astype(float), size=size, mode="constant")
    count = np.rint(count * (size[0] * size[1]))
    if not invalid.any():
        return ndimage.median_filter(values, size=size, mode="nearest"), count
    checker = (np.add.outer(np.arange(values.shape[0]), np.arange(values.shape[1])) % 2) * 2 - 1
    huge = _HUGE * max(float(np.max(np.abs(values))), np.finfo(float).tiny)
    median = ndimage.median_filter(np.where(invalid, checker * huge, values), size=size,
                                   mode="nearest")  # fmt: skip
    poor = (count < 3) | (np.abs(median) >= 0.5 * huge)
    if poor.any():
        plain = ndimage.median_filter(values, size=size, mode="nearest")
        median = np.where(poor, plain, median)
    return median, count


def _background(data, finite, box, sources=None):
    """(background, valid pixels per window, structure) of a frame [radiance].

    A masked running median over ``box`` x ``box`` (no-data pixels and ``sources``
    excluded). ``structure`` is the local range (3 x 3 max - min) of the background, large
    where a running median is least sure of it: across Io's limb."""
    filled = _filled(data, ~finite)
    invalid = ~finite if sources is None else (~finite | sources)
    size = (min(box, data.shape[0]), min(box, data.shape[1]))
    background, count = _masked_median(filled, invalid, size)
    structure = ndimage.morphological_gradient(background, size=(3, 3), mode="nearest")
    return background, np.maximum(count, 1.0), structure


def _detection(residual0, sigma, finite, kernel, structure):
    """(convolved residual, its noise): white pixel noise plus the background model's
    uncertainty at structure (fully correlated over the kernel)."""
    weights = np.where(finite, sigma, 0.0) ** 2
    convolved = ndimage.convolve(residual0, kernel, mode="constant")
    model = ndimage.convolve(_STRUCTURE * structure, kernel, mode="constant")
    noise = np.sqrt(ndimage.convolve(weights, kernel**2, mode="constant") + model**2)
    return convolved, noise


def find_hotspots(
    image,
    *,
    nsigma: float = 5.0,
    uncertainty=None,
    saturation: float | None = None,
    band: str | None = None,
    npixels: int = 3,
    box: int | None = None,
    deblend: bool = True,
    grow: int = 2,
) -> xr.Dataset:
    """Detect and measure hot spots (compact sources) in one imager frame.

    Parameters
    ----------
    image : array_like or xarray.DataArray
        Spectral radiance [W m-2 sr-1 um-1], 2-D (line, sample); NaN (or inf) is no data.
        A DataArray must have dims ``line`` and ``sample``; its coordinates, if any, are those
        the centroids are reported in (e.g. lines 128-255 for the M half of a JIRAM frame),
        and a ``band`` coordinate or attribute names the band.
    nsigma : float, optional
        Detection threshold, > 0: a pixel of the kernel-convolved residual is significant when
        it exceeds ``nsigma`` times that image's noise.
    uncertainty : float or array_like, optional
        1-sigma noise per pixel [W m-2 sr-1 um-1], > 0, scalar or of the image's shape.
        Default: estimated from the data (see Notes).
    saturation : float, optional
        Saturation level [W m-2 sr-1 um-1], > 0; a spot with any pixel at or above it is
        flagged ``saturated`` and its ``radiance_sum`` is a lower limit.
    band : str, optional
        Band name in :mod:`thermal.bands` (overrides the DataArray's); needed for
        ``brightness_temperature``.
    npixels : int, optional
        Minimum number of connected significant pixels of a spot, >= 1.
    box : int, optional
        Side of the running-median background window [pixels], >= 3 (default 11, at most
        the image size). It must be well over twice a spot's diameter and small enough to
        follow the background.
    deblend : bool, optional
        Split touching spots (``photutils.segmentation.deblend_sources``).
    grow : int, optional
        Pixels [>= 0] by which each detected segment is grown to collect the wings of the
        point spread function before it is measured (2 keeps > 99 % of a 1-pixel-sigma
        Gaussian spot detected at SNR 10).

    Returns
    -------
    xarray.Dataset
        Dim ``hotspot`` (by decreasing ``radiance_sum``) with: ``line``, ``sample``
        (radiance-weighted centroid of the background-subtracted radiance, in the image's
        coordinates [pixels]); ``npix``; ``peak_radiance`` (brightest background-subtracted
        pixel); ``radiance_sum`` (background-subtracted radiance summed over the spot's
        pixels) and ``radiance_sum_uncertainty`` (noise of each pixel plus the uncertainty of
        the background, fully correlated over the spot); ``background`` (mean local background
        per pixel); ``snr`` (``radiance_sum / radiance_sum_uncertainty``); ``saturated``;
        ``band``; ``brightness_temperature`` [K] of ``peak_radiance``. ``segment``
        (image_line, image_sample) int32 labels each spot's pixels (0: none, k + 1: hotspot k)
        on coordinates ``image_line``/``image_sample`` equal to the image's line/sample
        coordinates (xarray cannot hold a per-spot variable and a dimension both called
        ``line``). Attributes record the method, threshold and noise.

    Raises
    ------
    ValueError
        For a non-2-D image, an image in other units, or an argument out of range (the
        message names it).

    Notes
    -----
    The brightness temperature is that of the background-subtracted peak pixel, i.e. of the
    spot's excess radiance as if it filled the pixel: a lower limit on the temperature of a
    sub-pixel hot spot, independent of the sunlit or thermal background (NaN when the band is
    unknown or the excess is not positive).

    The background is a running median with sources masked; the noise, unless given, is the
    robust scatter of the residuals mapped with ``photutils.background.Background2D``.
    Detection uses ``photutils.segmentation`` (``detect_sources``, ``deblend_sources``,
    ``SourceCatalog``) on the residual convolved with a 1-pixel-sigma Gaussian. An all-NaN
    frame or a frame without spots gives a Dataset with ``hotspot`` of size 0 and every
    variable present.

    References
    ----------
    Bradley, L. et al., photutils, an Astropy package for detection and photometry of
    astronomical sources, doi:10.5281/zenodo.596036.
    """
    data, line_coord, sample_coord, band_name = _as_image(image, band)
    nsigma, saturation, npixels, box, grow = _validate(nsigma, saturation, npixels, box, grow)
    if not isinstance(deblend, (bool, np.bool_)):
        raise ValueError(f"deblend must be True or False; got {deblend!r}")
    box = DEFAULT_BOX if box is None else box
    sigma_given = None if uncertainty is None else _uncertainty(uncertainty, data.shape)
    finite = np.isfinite(data)
    if sigma_given is not None:
        finite &= np.isfinite(sigma_given)
    attrs = {
        "title": "hot spots found by thermal.detect.find_hotspots",
        "method": (
            f"running-median background ({box} px window, sources masked); detection on the "
            f"residual convolved with a {KERNEL_SIGMA:g}-px-sigma Gaussian with "
            "photutils.segmentation detect_sources"
            + (" and deblend_sources" if deblend else "")
            + f"; segments grown by {grow} px (skimage expand_labels); SourceCatalog "
            f"measurements. {_REFERENCE}"
        ),
        "nsigma": nsigma,
        "npixels": npixels,
        "box": box,
        "grow": grow,
        "deblend": int(bool(deblend)),
        "band": band_name,
        "saturation": np.nan if saturation is None else saturation,
        "saturation_comment": (
            "a spot with a pixel at or above the saturation level is flagged saturated; its "
            "radiance_sum and peak_radiance are then lower limits"
        ),
        "brightness_temperature_comment": (
            "of the background-subtracted peak pixel (the excess as if it filled the pixel)"
        ),
        "references": _REFERENCE,
    }
    if not finite.any():
        attrs.update(noise=np.nan, noise_method="no valid pixels")
        return _dataset(_empty_columns(), np.zeros(data.shape, np.int32), line_coord,
                        sample_coord, band_name, attrs)  # fmt: skip

    kernel = make_2dgaussian_kernel(
        2.0 * np.sqrt(2.0 * np.log(2.0)) * KERNEL_SIGMA, size=5
    ).array
    # pass 1: background with no-data pixels filled, candidate sources to mask
    background, _, structure = _background(data, finite, box)
    residual0 = np.where(finite, data - background, 0.0)
    sigma, noise_method = (
        _noise_map(residual0, finite, box) if sigma_given is None else (sigma_given, "")
    )
    convolved, conv_noise = _detection(
        residual0, np.nan_to_num(sigma), finite, kernel, structure
    )
    # compact candidates only: across the limb the residual is structure, not sources, and
    # masking it would leave the median there without the pixels that define the limb
    limb = structure > _LIMB * np.nan_to_num(sigma)
    sources = ndimage.binary_dilation(
        (convolved > _MASK_NSIGMA * conv_noise) & ~limb, iterations=grow + 1
    ) & ~limb
    # pass 2: sources masked from the background
    background, count, structure = _background(data, finite, box, sources)
    residual0 = np.where(finite, data - background, 0.0)
    if sigma_given is None:
        sigma, noise_method = _noise_map(residual0, finite & ~sources, box)
    else:
        sigma = np.where(finite, sigma_given, np.nan)
        noise_method = "per-pixel uncertainty given"
    attrs.update(noise=float(np.nanmedian(sigma)), noise_method=noise_method)
    attrs["noise_units"] = RADIANCE_UNITS
    good_sigma = np.where(finite, np.nan_to_num(sigma), 0.0)
    convolved, conv_noise = _detection(residual0, good_sigma, finite, kernel, structure)
    threshold = nsigma * conv_noise
    threshold[~finite] = np.inf
    with warnings.catch_warnings():
        # "No sources were found" is an answer here (an empty catalogue), not a problem
        warnings.simplefilter("ignore", NoDetectionsWarning)
        segm = detect_sources(convolved, threshold, npixels, mask=~finite)
    if segm is None:
        return _dataset(_empty_columns(), np.zeros(data.shape, np.int32), line_coord,
                        sample_coord, band_name, attrs)  # fmt: skip
    if deblend and segm.n_labels > 0:
        segm = deblend_sources(
            residual0,
            segm,
            npixels,
            n_levels=32,
            contrast=_CONTRAST,
            mode="linear",
            progress_bar=False,
        )
    labels = expand_labels(segm.data, distance=grow) if grow else segm.data.copy()
    labels[~finite] = 0
    present = np.unique(labels[labels > 0])
    if present.size == 0:
        return _dataset(_empty_columns(), np.zeros(data.shape, np.int32), line_coord,
                        sample_coord, band_name, attrs)  # fmt: skip
    catalog = SourceCatalog(
        residual0, SegmentationImage(labels), convolved_data=convolved, mask=~finite
    )
    index = catalog.labels
    npix = np.asarray(ndimage.sum_labels(finite, labels, index), dtype=int)
    flux = np.asarray(catalog.segment_flux, dtype=float)
    peak = np.asarray(catalog.max_value, dtype=float)
    x = np.asarray(catalog.x_centroid, dtype=float)
    y = np.asarray(catalog.y_centroid, dtype=float)
    # spots with no positive radiance have no centroid: use the brightest pixel
    bad = ~np.isfinite(x) | ~np.isfinite(y)
    if bad.any():
        x[bad] = np.asarray(catalog.max_value_xindex, dtype=float)[bad]
        y[bad] = np.asarray(catalog.max_value_yindex, dtype=float)[bad]
    background_sigma = _BKG_EFFICIENCY * good_sigma / np.sqrt(count)
    variance = ndimage.sum_labels(good_sigma**2, labels, index)
    correlated = ndimage.sum_labels(background_sigma, labels, index)
    flux_sigma = np.sqrt(np.asarray(variance) + np.asarray(correlated) ** 2)
    mean_background = np.asarray(ndimage.mean(background, labels, index), dtype=float)
    raw_max = np.asarray(ndimage.maximum(np.where(finite, data, -np.inf), labels, index))
    saturated = (
        raw_max >= saturation if saturation is not None else np.zeros(index.size, bool)
    )
    order = np.argsort(-flux, kind="stable")
    columns = {
        "line": np.interp(y, np.arange(line_coord.size), line_coord)[order],
        "sample": np.interp(x, np.arange(sample_coord.size), sample_coord)[order],
        "npix": npix[order],
        "peak_radiance": peak[order],
        "radiance_sum": flux[order],
        "radiance_sum_uncertainty": flux_sigma[order],
        "background": mean_background[order],
        "snr": (flux / flux_sigma)[order],
        "saturated": saturated[order],
    }
    relabel = np.zeros(labels.max() + 1, dtype=np.int32)
    relabel[index[order]] = np.arange(1, index.size + 1, dtype=np.int32)
    return _dataset(columns, relabel[labels], line_coord, sample_coord, band_name, attrs)


def _empty_columns() -> dict:
    empty = np.zeros(0)
    return {
        "line": empty,
        "sample": empty,
        "npix": np.zeros(0, int),
        "peak_radiance": empty,
        "radiance_sum": empty,
        "radiance_sum_uncertainty": empty,
        "background": empty,
        "snr": empty,
        "saturated": np.zeros(0, bool),
    }


def _brightness_temperature(band_name, peak):
    out = np.full(peak.shape, np.nan)
    if band_name and peak.size:
        positive = np.isfinite(peak) & (peak > 0)
        if positive.any():
            out[positive] = planck.band_brightness_temperature(band_name, peak[positive])
    return out


_VARIABLES = {
    "line": ("pixel", "line of the radiance-weighted centroid (image coordinates)"),
    "sample": ("pixel", "sample of the radiance-weighted centroid (image coordinates)"),
    "npix": ("1", "number of valid pixels of the spot"),
    "peak_radiance": (RADIANCE_UNITS, "brightest background-subtracted pixel of the spot"),
    "radiance_sum": (RADIANCE_UNITS, "background-subtracted radiance summed over the spot"),
    "radiance_sum_uncertainty": (
        RADIANCE_UNITS,
        "1-sigma uncertainty of radiance_sum (pixel noise and background uncertainty)",
    ),
    "background": (RADIANCE_UNITS, "mean local background radiance per pixel at the spot"),
    "snr": ("1", "signal-to-noise ratio of radiance_sum"),
    "saturated": ("1", "a pixel of the spot is at or above the saturation level"),
}


def _dataset(columns, segment, line_coord, sample_coord, band_name, attrs) -> xr.Dataset:
    n = columns["line"].size
    variables = {
        name: ("hotspot", np.asarray(columns[name]), {"units": u, "long_name": ln})
        for name, (u, ln) in _VARIABLES.items()
    }
    variables["saturated"][2]["comment"] = "when true, radiance_sum is a lower limit"
    variables["band"] = (
        "hotspot",
        np.array([band_name] * n, dtype=object),
        {"units": "1", "long_name": "filter band name (thermal.bands; empty if unknown)"},
    )
    variables["brightness_temperature"] = (
        "hotspot",
        _brightness_temperature(band_name, np.asarray(columns["peak_radiance"])),
        {
            "units": "K",
            "long_name": "band brightness temperature of the background-subtracted peak pixel",
        },
    )
    variables["segment"] = (
        ("image_line", "image_sample"),
        segment.astype(np.int32),
        {
            "units": "1",
            "long_name": "hot-spot label of each pixel (0: none; k + 1: hotspot k)",
        },
    )
    coords = {
        "hotspot": ("hotspot", np.arange(n), {"units": "1", "long_name": "hot-spot index"}),
        "image_line": ("image_line", line_coord, {"units": "pixel", "long_name": "image line"}),
        "image_sample": (
            "image_sample",
            sample_coord,
            {"units": "pixel", "long_name": "image sample"},
        ),
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)
