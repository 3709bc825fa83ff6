"""Find hot spots in an imager frame: local background, noise, segmentation and a catalogue.

The method (:func:`find_hotspots`):

1. **Background.** A running median over a ``box`` x ``box`` window
   (:func:`scipy.ndimage.median_filter`), no-data pixels and, in a second pass, the pixels
   of candidate sources (3 sigma) left out of each window. A median is exact on a linear
   gradient and follows a step, so it keeps the limb of a sunlit disk next to black sky,
   where a smoothed, interpolated mesh (``photutils.background.Background2D``) rounds the
   limb off and leaves a ring of residuals a detector reports as spots. It errs where the
   background curves (up to a few per cent of the disk's radiance, at the limb): that model
   error, 1.5 x the largest absolute Laplacian of the background within 2 pixels, is added
   to the noise of the detection image, so the limb of a disk hundreds of sigma bright gives
   no detections, at the price of sensitivity within a few pixels of it.
2. **Noise.** Unless ``uncertainty`` is given, the robust scatter (1.4826 x median absolute
   deviation) of the background-subtracted radiance, mapped with
   ``photutils.background.Background2D`` (``MADStdBackgroundRMS``, sources masked) so that a
   noisier lit disk gets its own level; a frame too small for that mesh uses one global
   value (:func:`astropy.stats.mad_std`).
3. **Detection.** The residual is convolved with a Gaussian of the expected PSF's sigma
   (``psf_sigma``, 1 pixel by default: JIRAM-like; ``make_2dgaussian_kernel``, the matched
   filter of a point source; the windows and the annulus below scale with it). Pixels above
   ``nsigma`` times the noise of the convolved image (``sqrt(K**2 * sigma**2)`` plus the model
   error) in groups of at least ``npixels`` connected pixels are segmented
   (``photutils.segmentation.detect_sources``); touching spots are split on the unsmoothed
   residual (``deblend_sources``, multi-thresholding and watershed; a spot must show its own
   peak, so a faint companion within about 3 PSF sigma of a bright one can stay merged).
4. **Measurement.** Each segment is grown by ``grow`` pixels
   (:func:`skimage.segmentation.expand_labels`, without merging neighbours) to take in the
   PSF's wings, the rim kept within 4 PSF sigma of the spot's peak. Its background is a surface
   fitted to a 5-pixel annulus (for a 1-pixel PSF sigma) around it (other spots excluded,
   3-sigma clipped): a plane, or a quadratic where the running-median background curves enough
   to matter (a sunlit disk, where the ring a masked median sees around a spot sits low). The
   sum, peak and uncertainty follow from it: pixel noise, the fitted surface's covariance, and
   near the limb the detection's model error. A deblended piece under ``nsigma`` that touches
   another spot is merged into it (no spot is reported that is not a detection on its own).
   Blends deblending cannot split (3 PSF sigma apart, the second half as bright: one peak) are
   split by a fit of two Gaussian PSFs where the second is ``nsigma`` significant, the
   chi-square is what noise gives and both pieces measure ``nsigma`` on their own
   (:func:`_split_blends`). The position is the radiance-weighted centroid of the spot's pixels
   less the local surface, iterated within a Gaussian window the size of the PSF (as
   SExtractor's XWIN: the matched filter's peak, near the Cramer-Rao bound for a point source);
   that of the two-PSF fit for a split pair.

Photutils: Bradley et al., astropy/photutils, doi:10.5281/zenodo.596036.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from astropy.stats import mad_std, sigma_clip
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
from scipy.optimize import least_squares
from scipy.special import erf
from skimage.restoration import inpaint_biharmonic
from skimage.segmentation import expand_labels

from thermal import bands as _bands
from thermal import planck

__all__ = ["find_hotspots"]

RADIANCE_UNITS = "W m-2 sr-1 um-1"
DEFAULT_BOX = 9
"""Default side of the running-median background window [pixels]."""
KERNEL_SIGMA = 1.0
"""Standard deviation [pixels] of the Gaussian detection kernel."""
_MASK_NSIGMA = 3.0  # convolved significance of pixels masked from the second background pass
_DEBLEND_NPIXELS = 1  # a deblended child may be one pixel above a saddle (touching PSFs)
_CONTRAST = 0.02  # deblend_sources contrast: fraction of a segment's flux a child must hold
_HUGE = 1e30  # multiple of the frame's largest |radiance| standing in for masked pixels
_NOISE_STRUCTURE = 3.0  # multiple of the frame's median structure taken as noise
_STRUCTURE = 1.5  # background-model uncertainty [radiance] per |Laplacian| [radiance px-2]
_CURVATURE_SIGMA = 0.5  # plane bias [sigma of the curvature terms' noise] to fit curvature
_ROUND = 1.3  # largest elongation (major / minor axis) of a spot measuring the PSF
_PSF_SNR = 30.0  # convolved-image SNR of the spots whose width gives the PSF's
_CENTROID_ITERATIONS = 30  # most iterations of the windowed centroid (it settles in ~5-10)
_RING = 5  # width [px] of the annulus around a spot where its background is fitted
_BKG_EFFICIENCY = np.sqrt(np.pi / 2.0)  # sigma(median) / sigma(mean) for Gaussian noise
_REFERENCE = "photutils (Bradley et al.), doi:10.5281/zenodo.596036"


def _as_image(image, band):
    """(2-D float array, line coordinate, sample coordinate, band name)."""
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
            raise ValueError(
                f"saturation must be finite and > 0 [{RADIANCE_UNITS}]; got {saturation}"
            )
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
    """Per-pixel robust noise of the residual [radiance] and how it was found; never 0
    (noise-free data get 1e-12 of the largest absolute residual, or 1e-150)."""
    values = residual[good]
    floor = max(1e-12 * float(np.max(np.abs(residual), initial=0.0)), 1e-150)
    if values.size < 3:
        return np.full(residual.shape, floor), "too few valid pixels: a negligible floor"
    global_sigma = float(mad_std(values))
    if not global_sigma > floor:
        return np.full(residual.shape, floor), "noise-free data: a negligible floor"
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


def _masked_median(values, invalid, size, plain=None):
    """Running median of the valid pixels, and the number of valid pixels per window.

    Where a window holds invalid pixels, they are set once to a huge positive and once to a
    huge negative value: the two running medians are then two quantiles of the window's
    valid pixels placed symmetrically about their median, and their mean is that median for
    symmetric noise. Only the neighbourhoods of invalid pixels are recomputed so; elsewhere
    the plain running median ``plain`` (of ``values``) is the answer. Where half or more of
    a window's pixels are invalid (inside a large masked spot) the median is interpolated
    from the well-sampled windows around (:func:`skimage.restoration.inpaint_biharmonic`,
    exact on a gradient)."""
    count = ndimage.uniform_filter((~invalid).astype(float), size=size, mode="constant")
    count = np.rint(count * (size[0] * size[1]))
    if plain is None:
        plain = ndimage.median_filter(values, size=size, mode="mirror")
    if not invalid.any():
        return plain, count
    reach = (size[0] // 2 + 1, size[1] // 2 + 1)
    near = (
        ndimage.maximum_filter(invalid.view(np.uint8), size=(2 * reach[0] + 1, 2 * reach[1] + 1))
        > 0
    )
    huge = _HUGE * max(float(np.max(np.abs(values))), np.finfo(float).tiny)
    median = plain.copy()
    poor = np.zeros(values.shape, bool)
    regions, _ = ndimage.label(near)
    for box in ndimage.find_objects(regions):
        outer = tuple(
            slice(max(b.start - r, 0), min(b.stop + r, n))
            for b, r, n in zip(box, reach, values.shape, strict=True)
        )
        inner = tuple(
            slice(b.start - o.start, b.stop - o.start) for b, o in zip(box, outer, strict=True)
        )
        cut, bad = values[outer], invalid[outer]
        upper = ndimage.median_filter(np.where(bad, huge, cut), size=size, mode="mirror")
        lower = ndimage.median_filter(np.where(bad, -huge, cut), size=size, mode="mirror")
        here = near[box]
        median[box] = np.where(here, 0.5 * (upper + lower)[inner], median[box])
        unsure = (np.abs(upper) >= 0.5 * huge) | (np.abs(lower) >= 0.5 * huge)
        poor[box] |= here & unsure[inner]
    if poor.all():
        median = plain
    elif poor.any():
        median = inpaint_biharmonic(median, poor)
    return median, count


def _background(data, finite, box, sources=None, plain=None):
    """(background, valid pixels per window, structure, plain median) of a frame [radiance].

    A masked running median over ``box`` x ``box`` (no-data pixels and ``sources``
    excluded). A running median is exact on a linear gradient and errs where the background
    curves: ``structure`` is the largest absolute Laplacian (1-pixel Gaussian derivatives)
    of the background within 2 pixels, large across Io's limb and nil on a smooth disk."""
    filled = _filled(data, ~finite)
    invalid = ~finite if sources is None else (~finite | sources)
    size = (min(box, data.shape[0]), min(box, data.shape[1]))
    if plain is None:
        plain = ndimage.median_filter(filled, size=size, mode="mirror")
    background, count = _masked_median(filled, invalid, size, plain)
    curvature = np.abs(ndimage.gaussian_laplace(background, 1.0, mode="nearest"))
    # the error of a running median on a curved background grows with the window's area
    scale = size[0] * size[1] / DEFAULT_BOX**2
    structure = scale * ndimage.maximum_filter(curvature, size=5, mode="nearest")
    # a window with half its pixels masked took a well-sampled neighbour's median
    return background, np.maximum(count, 0.5 * size[0] * size[1]), structure, plain


def _detection(residual0, sigma, finite, kernel, structure):
    """(convolved residual, its noise): white pixel noise plus the background model's
    uncertainty where the background curves (fully correlated over the kernel)."""
    weights = np.where(finite, sigma, 0.0) ** 2
    convolved = ndimage.convolve(residual0, kernel, mode="constant")
    model = _STRUCTURE * structure  # already the largest within the kernel's reach
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
    grow: int | None = None,
    psf_sigma: float | None = None,
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
        Side of the running-median background window [pixels], >= 3 (default 9 for a 1-pixel
        PSF sigma, scaled with ``psf_sigma``, at most the image size). It must be well over
        twice a spot's diameter and small enough to follow the background.
    deblend : bool, optional
        Split touching spots (``photutils.segmentation.deblend_sources``).
    grow : int, optional
        Pixels [>= 0] by which each detected segment is grown to collect the wings of the
        point spread function before it is measured (default ``round(2 max(psf_sigma, 1))``:
        2 keeps > 99 % of a 1-pixel-sigma Gaussian spot detected at SNR 10); the rim is kept only
        within 4 PSF sigma + 0.5 pixel of the spot's peak (the PSF sigma measured on the
        frame's bright spots), where it would otherwise only add noise around bright spots.
    psf_sigma : float, optional
        The expected point spread function's Gaussian sigma [pixels], 0.3-50 (default 1, the
        JIRAM imager's; an adaptive-optics image's is its FWHM / 2.355, a few pixels). It
        sets the detection kernel, the defaults of ``box`` and ``grow`` and the width of the
        annulus a spot's background is fitted to (none of them below their 1-pixel values),
        and, where the frame has no bright isolated spot to measure the PSF on, the window
        of the centroids and the PSF of the two-PSF fit that splits blends.

    Returns
    -------
    xarray.Dataset
        Dim ``hotspot`` (by decreasing ``radiance_sum``) with: ``line``, ``sample``
        (windowed radiance-weighted centroid of the background-subtracted radiance, in the
        image's coordinates [pixels]); ``npix``; ``peak_radiance`` (brightest
        background-subtracted pixel); ``radiance_sum`` (background-subtracted radiance summed
        over the spot's pixels) and ``radiance_sum_uncertainty`` (noise of each pixel plus the
        covariance of the fitted background surface); ``background`` (mean local background
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

    Detection runs on a running-median background with sources masked, the noise (unless
    given) being the robust scatter of the residuals mapped with
    ``photutils.background.Background2D``, plus a model error where the background curves
    (the limb); ``photutils.segmentation`` (``detect_sources``, ``deblend_sources``,
    ``SourceCatalog``) segments the residual convolved with a Gaussian of ``psf_sigma``. Each
    spot is then measured against a plane or quadratic background fitted to an annulus
    around it (module docstring, :mod:`thermal.detect.find`). Sensitivity drops within a
    few pixels of a bright limb. Touching spots are split when each shows its own peak, and
    an isolated spot that two PSFs fit (one peak: 3 PSF sigma apart, a companion half as
    bright) by a two-PSF fit. An all-NaN frame or a frame
    without spots gives a Dataset with ``hotspot`` of size 0 and every variable present.

    References
    ----------
    Bradley, L. et al., photutils, an Astropy package for detection and photometry of
    astronomical sources, doi:10.5281/zenodo.596036.
    """
    data, line_coord, sample_coord, band_name = _as_image(image, band)
    expected = KERNEL_SIGMA if psf_sigma is None else psf_sigma
    if isinstance(expected, bool) or not isinstance(expected, (int, float, np.number)):
        raise ValueError(f"psf_sigma must be a number of pixels in [0.3, 50]; got {psf_sigma!r}")
    expected = float(expected)
    if not 0.3 <= expected <= 50:  # a narrower kernel cannot light ``npixels`` pixels
        raise ValueError(f"psf_sigma must be a number of pixels in [0.3, 50]; got {psf_sigma!r}")
    scale = max(expected / KERNEL_SIGMA, 1.0)
    if box is None:
        box = 2 * round(DEFAULT_BOX * scale / 2) + 1  # odd, 9 for a 1-pixel PSF sigma
    if grow is None:
        grow = round(2 * scale)
    ring = round(_RING * scale)
    nsigma, saturation, npixels, box, grow = _validate(nsigma, saturation, npixels, box, grow)
    if not isinstance(deblend, (bool, np.bool_)):
        raise ValueError(f"deblend must be True or False; got {deblend!r}")
    sigma_given = None if uncertainty is None else _uncertainty(uncertainty, data.shape)
    finite = np.isfinite(data)
    if sigma_given is not None:
        finite &= np.isfinite(sigma_given)
    attrs = {
        "title": "hot spots found by thermal.detect.find_hotspots",
        "method": (
            f"running-median background ({box} px window, sources masked) plus a model "
            "error where it curves; detection on the residual convolved with a "
            f"{expected:g}-px-sigma Gaussian with photutils.segmentation detect_sources"
            + (" and deblend_sources" if deblend else "")
            + f"; segments grown by {grow} px (skimage expand_labels); sums over each "
            f"segment against a plane or quadratic background fitted to a {ring}-px annulus; "
            "; isolated blends split by a two-PSF fit; positions iterated PSF-windowed "
            f"centroids on the locally background-subtracted pixels. {_REFERENCE}"
        ),
        "nsigma": nsigma,
        "npixels": npixels,
        "box": box,
        "grow": grow,
        "expected_psf_sigma": expected,
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
        return _dataset(_empty_columns(), None, line_coord, sample_coord, band_name, attrs)

    kernel_size = 2 * int(np.ceil(2.0 * expected)) + 1  # 5 for a 1-pixel sigma
    fwhm = 2.0 * np.sqrt(2.0 * np.log(2.0)) * expected
    kernel = make_2dgaussian_kernel(fwhm, size=kernel_size).array
    # pass 1: background with no-data pixels filled, candidate sources to mask
    background, _, structure, plain = _background(data, finite, box)
    residual0 = np.where(finite, data - background, 0.0)
    sigma, noise_method = (
        _noise_map(residual0, finite, box) if sigma_given is None else (sigma_given, "")
    )
    convolved, conv_noise = _detection(residual0, np.nan_to_num(sigma), finite, kernel, structure)
    sources = ndimage.binary_dilation(convolved > _MASK_NSIGMA * conv_noise, iterations=1)
    # pass 2: sources masked from the background
    background, count, structure, _ = _background(data, finite, box, sources, plain)
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
        return _dataset(_empty_columns(), None, line_coord, sample_coord, band_name, attrs)
    detected = segm
    if deblend:
        segm = _deblend(residual0, detected, 0.0)
    # measured on the deblended pieces, so that a touching pair does not count as one wide spot
    psf_sigma = _psf_sigma(segm.data, residual0, convolved, conv_noise, data, saturation, grow)
    attrs["psf_sigma"] = psf_sigma
    if deblend and psf_sigma > 1.25:  # (False for NaN)
        # a PSF broader than the 1-pixel-sigma one deblending is tuned to shows noise peaks
        # on its flanks: deblend again on the residual smoothed to about 1 pixel sigma
        segm = _deblend(residual0, detected, np.sqrt(psf_sigma**2 - 1.0))
    labels = expand_labels(segm.data, distance=grow) if grow else segm.data.copy()
    if grow:
        if np.isfinite(psf_sigma):  # unknown without isolated bright spots: no trim
            labels = _trim(labels, segm.data, convolved, psf_sigma)
    labels[~finite] = 0
    present = np.unique(labels[labels > 0])
    if present.size == 0:
        return _dataset(_empty_columns(), None, line_coord, sample_coord, band_name, attrs)
    index = np.unique(labels[labels > 0])
    curvature = np.abs(ndimage.gaussian_laplace(background, 2.0, mode="nearest"))
    # for the sums, the structure less the level the background's own noise gives it (most
    # of a frame is smooth); the detection keeps it all, to stay clear of the limb
    floor = _NOISE_STRUCTURE * np.median(structure[finite])
    model = np.maximum(structure - floor, 0.0)
    measure = (data, finite, labels, index, good_sigma, background, count, curvature, model, ring)
    photometry = _local_photometry(*measure)
    if deblend:
        labels, merged = _merge_weak(labels, index, photometry[0], photometry[1], nsigma)
        if merged:
            index = np.unique(labels[labels > 0])
            photometry = _local_photometry(data, finite, labels, index, *measure[4:])
    fitted = {}
    # without bright isolated spots to measure it, the PSF the detection kernel assumes
    blend_sigma = psf_sigma if np.isfinite(psf_sigma) else expected
    if deblend:
        labels, fitted = _split_blends(
            labels, index, photometry[4], good_sigma, data, saturation, blend_sigma, nsigma
        )
        if fitted:
            split_index = np.unique(labels[labels > 0])
            split = _local_photometry(data, finite, labels, split_index, *measure[4:])
            labels, fitted = _keep_significant_splits(
                labels, split_index, split[0] / split[1], fitted, nsigma
            )
            index = np.unique(labels[labels > 0])
            photometry = (
                split
                if index.size == split_index.size
                else _local_photometry(data, finite, labels, index, *measure[4:])
            )
    flux, flux_sigma, mean_background, peak, pieces = photometry
    catalog = SourceCatalog(
        residual0, SegmentationImage(labels), convolved_data=convolved, mask=~finite
    )
    npix = np.asarray(ndimage.sum_labels(finite, labels, index), dtype=int)
    # windowed centroid (SExtractor XWIN_IMAGE-like: iterated within a Gaussian window),
    # about twice as precise as the segment's plain moment on faint spots
    x = np.asarray(catalog.x_centroid_win, dtype=float)
    y = np.asarray(catalog.y_centroid_win, dtype=float)
    # spots with no positive radiance have no centroid: use the brightest pixel
    bad = ~np.isfinite(x) | ~np.isfinite(y)
    if bad.any():
        x[bad] = np.asarray(catalog.max_value_xindex, dtype=float)[bad]
        y[bad] = np.asarray(catalog.max_value_yindex, dtype=float)[bad]
    x, y = _windowed_centroids(pieces, x, y, blend_sigma)
    x, y = _edge_positions(pieces, x, y, good_sigma, data.shape, blend_sigma)
    for k, label in enumerate(index.tolist()):
        if label in fitted:  # a blend split by the two-PSF fit: its positions
            x[k], y[k] = fitted[label]
    raw_max = np.asarray(ndimage.maximum(np.where(finite, data, -np.inf), labels, index))
    saturated = raw_max >= saturation if saturation is not None else np.zeros(index.size, bool)
    order = np.argsort(-flux, kind="stable")
    columns = {
        "line": _to_coordinate(y, line_coord)[order],
        "sample": _to_coordinate(x, sample_coord)[order],
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


def _design(dy, dx, terms):
    columns = [np.ones_like(dy), dy, dx, dy * dy, dy * dx, dx * dx][:terms]
    return np.stack(columns, axis=-1)


def _local_photometry(
    data, finite, labels, index, sigma, background, count, curvature, structure, ring=_RING
):
    """Per spot: (background-subtracted sum, its 1-sigma uncertainty, mean background per
    pixel, brightest background-subtracted pixel) [radiance].

    The background under a spot is a surface fitted by least squares to the valid pixels
    within ``ring`` pixels of the spot that belong to no spot, 3-sigma outliers clipped
    (:func:`astropy.stats.sigma_clip`): a plane, or a quadratic where the running-median
    background's Laplacian ``curvature`` biases a plane more than half the noise the
    curvature terms add (a plane's value inside a ring, like a masked median's, sits below
    the centre of a sunlit dome by a quarter of the Laplacian times the ring's mean squared
    radius); a constant for a thin annulus. The variance of the sum is the pixels' noise,
    the surface's, ``s**2 g^T (A^T A)^-1 g`` (``g`` the summed design rows of the spot's
    pixels, ``s`` the larger of the noise and the annulus' residual scatter), and the model
    error ``_STRUCTURE * structure`` summed over the spot (the limb). An annulus of fewer than
    4 pixels falls back on the running-median background."""
    n = index.size
    flux, flux_sigma = np.zeros(n), np.zeros(n)
    mean_background, peak = np.zeros(n), np.zeros(n)
    pieces = []
    # not the masked candidates: excluding the pixels where noise crossed a threshold would
    # leave the annulus its negative fluctuations only (a background biased low)
    excluded = (labels > 0) | ~finite
    boxes = ndimage.find_objects(labels)
    margin = ring + 1
    for k, label in enumerate(index):
        rows, cols = boxes[label - 1]
        rows = slice(max(rows.start - margin, 0), min(rows.stop + margin, data.shape[0]))
        cols = slice(max(cols.start - margin, 0), min(cols.stop + margin, data.shape[1]))
        inside = labels[rows, cols] == label
        annulus = ndimage.binary_dilation(inside, iterations=ring) & ~excluded[rows, cols]
        values = data[rows, cols]
        yy, xx = np.indices(inside.shape, dtype=float)
        cy, cx = yy[inside].mean(), xx[inside].mean()
        pixel_sigma = sigma[rows, cols][inside]
        size = int(annulus.sum())
        if size < 4:
            b_in = background[rows, cols][inside]
            b_sigma = _BKG_EFFICIENCY * pixel_sigma / np.sqrt(count[rows, cols][inside])
            b_var = np.sum(b_sigma) ** 2
        else:
            terms = 6 if size >= 15 else 3 if size >= 8 else 1
            a = _design(yy[annulus] - cy, xx[annulus] - cx, terms)
            z = values[annulus]
            noise = float(np.median(sigma[rows, cols][annulus]))
            coef = np.linalg.lstsq(a, z, rcond=None)[0]
            keep = ~sigma_clip(z - a @ coef, sigma=3.0, maxiters=3).mask
            if keep.sum() >= terms + 1:
                a, z = a[keep], z[keep]
            coef = np.linalg.lstsq(a, z, rcond=None)[0]
            if terms == 6:
                # a plane's value inside a ring is off by a quarter of the Laplacian times
                # the ring's mean squared radius: keep the curvature terms (which add noise)
                # only where the running-median background's curvature makes that bias
                # matter against the noise they add
                a_in = _design(yy[inside] - cy, xx[inside] - cx, 6)
                g = a_in.sum(axis=0)
                radius2 = np.mean((yy[annulus] - cy) ** 2 + (xx[annulus] - cx) ** 2)
                bias = 0.25 * float(np.median(curvature[rows, cols][inside])) * radius2
                extra = noise**2 * float(g @ np.linalg.pinv(a.T @ a) @ g)
                extra -= noise**2 * float(g[:3] @ np.linalg.pinv(a[:, :3].T @ a[:, :3]) @ g[:3])
                if (bias * inside.sum()) ** 2 < (_CURVATURE_SIGMA**2) * max(extra, 0.0):
                    terms, a = 3, a[:, :3]
                    coef = np.linalg.lstsq(a, z, rcond=None)[0]
            a_in = _design(yy[inside] - cy, xx[inside] - cx, terms)
            b_in = a_in @ coef
            scatter = np.sqrt(np.sum((z - a @ coef) ** 2) / max(z.size - terms, 1))
            s = max(noise, float(scatter))
            g = a_in.sum(axis=0)
            b_var = s**2 * float(g @ np.linalg.pinv(a.T @ a) @ g)
        # near the limb no smooth surface describes the background: the detection's model
        # error there, common to the spot's pixels, is part of the sum's uncertainty
        b_var += float(np.sum(_STRUCTURE * structure[rows, cols][inside])) ** 2
        excess = values[inside] - b_in
        flux[k] = excess.sum()
        flux_sigma[k] = np.sqrt(np.sum(pixel_sigma**2) + b_var)
        mean_background[k] = b_in.mean()
        peak[k] = excess.max()
        ys, xs = np.nonzero(inside)
        pieces.append((ys + rows.start, xs + cols.start, excess))
    return flux, flux_sigma, mean_background, peak, pieces


def _windowed_centroids(pieces, x, y, psf_sigma):
    """Each spot's position refined by the iterated Gaussian-weighted centroid of its
    pixels less the local background surface (:func:`_local_photometry`): with the window's
    sigma that of the pixelated PSF, ``sqrt(psf_sigma**2 + 1/12)``, its fixed point is the
    matched filter's peak, the maximum-likelihood position of a Gaussian point source on
    white noise (SExtractor's XWIN_IMAGE, Bertin & Arnouts 1996, doi:10.1051/aas:1996164).
    The running-median background leaves gradients under spots on a sunlit disk that pull
    ``SourceCatalog``'s windowed centroid (on that residual, with a window from the
    half-light radius) by up to a pixel. ``x``, ``y`` (0-based pixel columns and rows) are
    the starting points and are kept where the iteration does not settle inside the spot."""
    x, y = x.copy(), y.copy()
    if not np.isfinite(psf_sigma):
        return x, y
    scale = 2.0 * (psf_sigma**2 + 1.0 / 12.0)
    for k, (ys, xs, values) in enumerate(pieces):
        if not (np.isfinite(x[k]) and np.isfinite(y[k])):
            continue
        cx, cy = x[k], y[k]
        for _ in range(_CENTROID_ITERATIONS):
            weight = values * np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / scale)
            total = weight.sum()
            if not total > 0:
                break
            nx, ny = float(weight @ xs) / total, float(weight @ ys) / total
            moved = np.hypot(nx - cx, ny - cy)
            cx, cy = nx, ny
            if moved < 1e-4:
                break
        inside = xs.min() <= cx <= xs.max() and ys.min() <= cy <= ys.max()
        if total > 0 and inside:
            x[k], y[k] = cx, cy
    return x, y


def _pixel_profile(centres, position, scale):
    """A unit Gaussian integrated over the pixels at ``centres`` (one axis) around
    ``position`` with ``scale`` = sigma sqrt(2), and its derivative by ``position``."""
    upper = (centres + 0.5 - position) / scale
    lower = (centres - 0.5 - position) / scale
    value = 0.5 * (erf(upper) - erf(lower))
    slope = -(np.exp(-(upper**2)) - np.exp(-(lower**2))) / (scale * np.sqrt(np.pi))
    return value, slope


def _psf(ys, xs, x0, y0, scale):
    """A pixel-integrated Gaussian PSF of unit sum centred on (``x0``, ``y0``)."""
    return _pixel_profile(xs, x0, scale)[0] * _pixel_profile(ys, y0, scale)[0]


def _fit_psfs(ys, xs, values, weights, start, scale):
    """Weighted least-squares fit of ``len(start) // 3`` pixel-integrated Gaussian PSFs
    (x, y, sum each; ``scale`` = sigma sqrt(2)) to a spot's pixels, with the analytic
    Jacobian: (parameters, chi-square)."""

    def parts(p):
        for i in range(0, p.size, 3):
            px, dpx = _pixel_profile(xs, p[i], scale)
            py, dpy = _pixel_profile(ys, p[i + 1], scale)
            yield i, px, dpx, py, dpy

    def residuals(p):
        model = np.zeros_like(values)
        for i, px, _, py, _ in parts(p):
            model += p[i + 2] * px * py
        return (values - model) * weights

    def jacobian(p):
        jac = np.empty((values.size, p.size))
        for i, px, dpx, py, dpy in parts(p):
            jac[:, i] = -weights * p[i + 2] * dpx * py
            jac[:, i + 1] = -weights * p[i + 2] * px * dpy
            jac[:, i + 2] = -weights * px * py
        return jac

    fit = least_squares(
        residuals, np.asarray(start, dtype=float), jac=jacobian, method="lm", max_nfev=200
    )
    return fit.x, float(np.sum(fit.fun**2))


def _to_coordinate(index, coordinate):
    """Fractional array indices in the image's coordinate (e.g. lines 128-255 of the M half):
    affine for an evenly spaced coordinate (a spot on the edge may be centred beyond the last
    pixel centre), interpolated otherwise."""
    coordinate = np.asarray(coordinate, dtype=float)
    if coordinate.size < 2:
        return index + (coordinate[0] if coordinate.size else 0.0)
    step = np.diff(coordinate)
    if np.allclose(step, step[0]):
        return coordinate[0] + index * step[0]
    return np.interp(index, np.arange(coordinate.size), coordinate)


def _edge_positions(pieces, x, y, sigma, shape, psf_sigma):
    """Positions of the spots on the frame's edge from a one-PSF fit: part of their PSF lies
    off the frame, which pulls a centroid of what is left inwards (by up to a pixel at
    1-pixel PSF sigma); the fit models the pixels seen. Kept where the fit stays within a
    pixel of the spot's pixels."""
    x, y = x.copy(), y.copy()
    scale = np.sqrt(2.0) * psf_sigma
    for k, (ys, xs, values) in enumerate(pieces):
        on_edge = ys.min() == 0 or xs.min() == 0
        on_edge |= ys.max() == shape[0] - 1 or xs.max() == shape[1] - 1
        if not on_edge or values.size < 4 or not (np.isfinite(x[k]) and np.isfinite(y[k])):
            continue
        weights = 1.0 / np.maximum(sigma[ys, xs], np.finfo(float).tiny)
        (fx, fy, total), _ = _fit_psfs(ys, xs, values, weights, (x[k], y[k], values.sum()), scale)
        near = xs.min() - 1 <= fx <= xs.max() + 1 and ys.min() - 1 <= fy <= ys.max() + 1
        if total > 0 and near:
            x[k], y[k] = fx, fy
    return x, y


def _touches_another(labels, ys, xs, label) -> bool:
    """Whether a pixel of spot ``label`` (at ``ys``, ``xs``) has a 4-neighbour in another."""
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        ok = (ny >= 0) & (ny < labels.shape[0]) & (nx >= 0) & (nx < labels.shape[1])
        neighbours = labels[ny[ok], nx[ok]]
        if np.any((neighbours > 0) & (neighbours != label)):
            return True
    return False


def _split_blends(labels, index, pieces, sigma, data, saturation, psf_sigma, nsigma):
    """Split spots that are two PSFs closer than deblending can tell apart.

    Each unsaturated spot with at least ``2 nsigma`` that touches no other spot (a piece deblending
    split off holds its neighbour's core in its pixels) is fitted with one pixel-integrated
    Gaussian PSF of the frame's ``psf_sigma`` (position and sum free, on its pixels less the local
    background surface), then with two, the second started at the largest residual. Two are kept
    when the second is ``nsigma`` significant (chi-square lower by ``nsigma**2``), the two-PSF chi-
    square is what noise gives (within 3 sigma of its degrees of freedom, so a PSF that is not
    Gaussian does not split a bright spot), both sums are positive, the centres at least a pixel
    apart and inside the spot's bounding box. Pixels go to the PSF that puts more radiance on them.
    Two PSFs 3 sigma apart, the second half as bright, show one peak (deblending by peaks cannot
    split them; a fit can). Returns the labels and {label: fitted (x, y)} of the split spots' two
    pieces."""
    fitted = {}
    scale = np.sqrt(2.0) * psf_sigma
    new_label = int(labels.max()) + 1
    labels = labels.copy()
    for k, label in enumerate(index.tolist()):
        ys, xs, values = pieces[k]
        if _touches_another(labels, ys, xs, label):
            continue  # a piece deblending split off: its pixels hold a neighbour's core
        dof = values.size - 6
        if dof < 4:
            continue
        if saturation is not None and np.nanmax(data[ys, xs]) >= saturation:
            continue
        weights = 1.0 / np.maximum(sigma[ys, xs], np.finfo(float).tiny)
        total = float(values.sum())
        if total <= 0 or total * np.sqrt(np.mean(weights**2) / values.size) < 2 * nsigma:
            continue
        positive = np.maximum(values, 0.0)
        x0 = float(positive @ xs) / positive.sum()
        y0 = float(positive @ ys) / positive.sum()
        one, chi1 = _fit_psfs(ys, xs, values, weights, (x0, y0, total), scale)
        rest = values - one[2] * _psf(ys, xs, one[0], one[1], scale)
        j = int(np.argmax(rest))
        second = max(float(rest[j]), 0.0) * 2.0 * np.pi * psf_sigma**2  # sum under that peak
        start = (one[0], one[1], 0.8 * one[2], xs[j], ys[j], second)
        two, chi2 = _fit_psfs(ys, xs, values, weights, start, scale)
        if not (chi1 - chi2 >= nsigma**2 and chi2 <= dof + 3.0 * np.sqrt(2.0 * dof)):
            continue
        (xa, ya, fa), (xb, yb, fb) = two[:3], two[3:]
        inside = all(
            xs.min() <= px <= xs.max() and ys.min() <= py <= ys.max()
            for px, py in ((xa, ya), (xb, yb))
        )
        if not (fa > 0 and fb > 0 and inside and np.hypot(xa - xb, ya - yb) >= 1.0):
            continue
        second = fb * _psf(ys, xs, xb, yb, scale) > fa * _psf(ys, xs, xa, ya, scale)
        labels[ys[second], xs[second]] = new_label
        fitted[label] = (xa, ya)
        fitted[new_label] = (xb, yb)
        new_label += 1
    return labels, fitted


def _keep_significant_splits(labels, index, snr, fitted, nsigma):
    """Undo the splits of :func:`_split_blends` whose either piece's measured sum is under
    ``nsigma`` (near the limb, where the background model's error counts, a second PSF can fit
    structure that is no spot). ``fitted`` maps each piece to its partner's order: pieces come
    in (first, second) pairs of insertion. Returns (labels, the fitted positions kept)."""
    significance = dict(zip(index.tolist(), snr.tolist(), strict=True))
    pieces = list(fitted)
    kept = {}
    for first, second in zip(pieces[0::2], pieces[1::2], strict=True):
        if min(significance.get(first, 0.0), significance.get(second, 0.0)) >= nsigma:
            kept[first], kept[second] = fitted[first], fitted[second]
        else:
            labels = np.where(labels == second, first, labels)
    return labels, kept


def _deblend(residual, segm, smoothing):
    """``photutils.segmentation.deblend_sources`` of the (smoothed) residual: touching PSFs
    keep their own peaks there, which the detection kernel would blur into one."""
    smooth = ndimage.gaussian_filter(residual, smoothing) if smoothing else residual
    return deblend_sources(
        smooth,
        segm,
        _DEBLEND_NPIXELS,
        n_levels=32,
        contrast=_CONTRAST,
        mode="linear",
        progress_bar=False,
    )


def _psf_sigma(segment, residual, convolved, conv_noise, data, saturation, grow) -> float:
    """The point spread function's sigma [pixels], from the bright unsaturated spots: for a
    Gaussian, the sum over the spot is ``2 pi sigma**2`` times the peak pixel, less the
    pixel's own width (``sigma**2 + 1/12`` is what a pixel grid sees; exact to 1 % for a
    centred spot, up to 13 % high for one on a pixel corner at 1 pixel sigma). The median
    over the isolated round spots, summed over their segments grown by ``grow`` + 1 pixels; NaN
    when there are none. Extended (resolved) spots make it larger, as they should the
    aperture."""
    index = np.unique(segment[segment > 0])
    if index.size == 0:
        return np.nan
    peaks = np.asarray(ndimage.maximum(convolved / conv_noise, segment, index))
    raw_max = ndimage.maximum(np.where(np.isfinite(data), data, -np.inf), segment, index)
    bright = peaks >= _PSF_SNR
    if saturation is not None:
        bright &= np.asarray(raw_max) < saturation
    # isolated ones: the pieces of a deblended pair share their flux unevenly
    for k in np.flatnonzero(bright):
        piece = segment == index[k]
        bright[k] = not np.any(segment[ndimage.binary_dilation(piece) & ~piece])
    if not bright.any():
        return np.nan
    chosen = expand_labels(np.where(np.isin(segment, index[bright]), segment, 0), grow + 1)
    catalog = SourceCatalog(residual, SegmentationImage(chosen))
    # and round: a touching pair deblending left whole is elongated
    labels = catalog.labels[np.asarray(catalog.elongation.value) < _ROUND]
    if labels.size == 0:
        return np.nan
    total = np.asarray(ndimage.sum_labels(residual, chosen, labels))
    top = np.asarray(ndimage.maximum(residual, chosen, labels))
    ratio = total[top > 0] / (2.0 * np.pi * top[top > 0])
    if ratio.size == 0:
        return np.nan
    return float(np.sqrt(np.clip(np.median(ratio) - 1.0 / 12.0, 0.09, 100.0)))


def _trim(grown, segment, convolved, psf_sigma):
    """Grown segments trimmed to the detected isophote plus the pixels within
    ``4 psf_sigma + 0.5`` of the spot's peak: the grown rim collects the wings of faint
    spots, whose isophote is small, and would only add noise around bright ones, whose
    isophote already holds them."""
    index = np.unique(segment[segment > 0])
    radius = 4.0 * psf_sigma + 0.5
    peak_positions = ndimage.maximum_position(convolved, segment, index)
    marks = np.ones(segment.shape, bool)
    for position in peak_positions:
        marks[position] = False
    near = ndimage.distance_transform_edt(marks) <= radius
    return np.where((segment > 0) | near, grown, 0)


def _merge_weak(labels, index, flux, flux_sigma, nsigma):
    """Merge each deblended piece measured below ``nsigma`` into the brightest spot it
    touches: deblending on the unsmoothed residual splits touching PSFs, and now and then a
    noise bump on a bright spot's flank; a piece that is no detection on its own is part of
    its neighbour. Returns (labels, whether any merged)."""
    snr = flux / flux_sigma
    weak = index[snr < nsigma]
    if weak.size == 0:
        return labels, False
    brightness = dict(zip(index.tolist(), flux.tolist(), strict=True))
    labels = labels.copy()
    merged = False
    for label in weak.tolist():
        piece = labels == label
        if not piece.any():
            continue
        around = np.unique(labels[ndimage.binary_dilation(piece) & ~piece])
        around = [n for n in around.tolist() if n not in (0, label)]
        if around:
            labels[piece] = max(around, key=lambda n: brightness.get(n, -np.inf))
            merged = True
    return labels, merged


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
    "line": ("1", "line of the radiance-weighted centroid (0-based image pixel index)"),
    "sample": ("1", "sample of the radiance-weighted centroid (0-based image pixel index)"),
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
    """The hot-spot Dataset; ``segment`` None for no spots (an all-zero label image)."""
    n = columns["line"].size
    if segment is None:
        segment = np.zeros((line_coord.size, sample_coord.size), np.int32)
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
            "standard_name": "brightness_temperature",
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
        "image_line": (
            "image_line",
            line_coord,
            {"units": "1", "long_name": "image line (0-based pixel index)"},
        ),
        "image_sample": (
            "image_sample",
            sample_coord,
            {"units": "1", "long_name": "image sample (0-based pixel index)"},
        ),
    }
    return xr.Dataset(variables, coords=coords, attrs=attrs)
