"""Synthetic imager scenes of Io with hot spots of known truth, for tests and benchmarks.

:func:`synthetic_frame` draws one image [W m-2 sr-1 um-1]: an optional disk of Io (sunlit with
limb darkening, or dark on the night side) against black sky, hot spots as Gaussian point
spread functions integrated exactly over each pixel (with :func:`scipy.special.erf`, so the
injected ``radiance_sum`` is exact), some of them touching (separation 3 PSF sigma), pixels
clipped at a saturation level, and Gaussian noise. :func:`write_jiram_frame` writes such scenes
as a 256-line Juno JIRAM imager RDR (PDS3 label and little-endian float32 data, L half on top,
M half below, as :func:`thermal.io.jiram.read_jiram` reads it); :func:`write_ao_image` writes a
single-band FITS image of Io's disk with a Keck/NIRC2-like header.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy import ndimage
from scipy.special import erf

from thermal import bands as _bands

__all__ = ["synthetic_frame", "write_ao_image", "write_jiram_frame"]

RADIANCE_UNITS = "W m-2 sr-1 um-1"
_TOUCHING = 3.0  # separation of a touching pair [PSF sigma]
_SUPERSAMPLE = 5  # sub-pixels per pixel side when drawing the disk


def _check_positive(name: str, value, *, allow_zero: bool = False) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    ok = value >= 0 if allow_zero else value > 0
    if not (ok and np.isfinite(value)):
        relation = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {relation}; got {value}")
    return value


def _disk_geometry(disk, shape) -> tuple[float, float, float, float, float] | None:
    """(centre line, centre sample, radius [px], radiance at disk centre, limb exponent)."""
    lines, samples = shape
    if disk is None:
        return None
    if isinstance(disk, str):
        if disk not in ("lit", "dark"):
            raise ValueError(f"disk must be 'lit', 'dark', None or a mapping; got {disk!r}")
        disk = {"lit": disk == "lit"}
    if not isinstance(disk, dict):
        raise ValueError(f"disk must be 'lit', 'dark', None or a mapping; got {disk!r}")
    unknown = set(disk) - {"centre", "radius", "radiance", "lit", "limb_darkening"}
    if unknown:
        raise ValueError(f"disk: unknown keys {sorted(unknown)}")
    lit = bool(disk.get("lit", True))
    radius = disk.get("radius", 0.42 * min(lines, samples) if lines < samples else 0.4 * lines)
    centre = disk.get("centre", ((lines - 1) / 2.0, (samples - 1) / 2.0))
    radiance = disk.get("radiance", 0.007 if lit else 5e-6)
    exponent = disk.get("limb_darkening", 0.7 if lit else 0.0)
    radius = _check_positive("disk radius [px]", radius)
    radiance = _check_positive("disk radiance [W m-2 sr-1 um-1]", radiance, allow_zero=True)
    exponent = _check_positive("disk limb_darkening", exponent, allow_zero=True)
    return float(centre[0]), float(centre[1]), radius, radiance, exponent


def _disk_image(geometry, shape) -> np.ndarray:
    """Pixel-averaged disk radiance, I0 mu**k with mu the cosine of the emission angle."""
    c_line, c_sample, radius, radiance, exponent = geometry
    n = _SUPERSAMPLE
    offsets = (np.arange(n) + 0.5) / n - 0.5
    y = (np.arange(shape[0])[:, None] + offsets[None, :]).ravel()
    x = (np.arange(shape[1])[:, None] + offsets[None, :]).ravel()
    rho2 = ((y[:, None] - c_line) ** 2 + (x[None, :] - c_sample) ** 2) / radius**2
    mu = np.sqrt(np.clip(1.0 - rho2, 0.0, None))
    fine = np.where(rho2 < 1.0, radiance * mu**exponent, 0.0)
    return fine.reshape(shape[0], n, shape[1], n).mean(axis=(1, 3))


def _pixel_integrated(centre: float, sigma: float, size: int) -> np.ndarray:
    """Fraction of a unit 1-D Gaussian falling in each pixel (pixel centres at integers)."""
    edges = (np.arange(size + 1) - 0.5 - centre) / (sigma * np.sqrt(2.0))
    return 0.5 * np.diff(erf(edges))


def _random_spots(rng, shape, geometry, n, pairs, snr, psf_sigma, sigma_ref):
    """(line, sample, radiance_sum, pair id) of ``n`` single spots and ``pairs`` touching pairs,
    with SNR log-uniform over ``snr``, on the disk if there is one, 4 sigma from the edges."""
    margin = 4.0 * psf_sigma + 2.0
    area = 4.0 * np.pi * psf_sigma**2  # noise-equivalent area of a Gaussian PSF [px]
    out = []

    def position():
        for _ in range(1000):
            if geometry is not None:
                r = geometry[2] * 0.92 * np.sqrt(rng.uniform())
                phi = rng.uniform(0.0, 2.0 * np.pi)
                p = (geometry[0] + r * np.sin(phi), geometry[1] + r * np.cos(phi))
            else:
                p = (rng.uniform(0, shape[0] - 1), rng.uniform(0, shape[1] - 1))
            inside = margin <= p[0] <= shape[0] - 1 - margin
            inside &= margin <= p[1] <= shape[1] - 1 - margin
            far = all(np.hypot(p[0] - q[0], p[1] - q[1]) > 8.0 * psf_sigma + 4 for q in out)
            if inside and far:
                return p
        raise ValueError("cannot place the spots: the image or disk is too small for them")

    def flux():
        value = np.exp(rng.uniform(np.log(snr[0]), np.log(snr[1])))
        return value * sigma_ref * np.sqrt(area)

    spots = []
    for _ in range(int(n)):
        p = position()
        out.append(p)
        spots.append((p[0], p[1], flux(), -1))
    for k in range(int(pairs)):
        p = position()
        out.append(p)
        angle = rng.uniform(0.0, np.pi)
        half = 0.5 * _TOUCHING * psf_sigma
        dl, ds = half * np.sin(angle), half * np.cos(angle)
        first = flux()
        spots.append((p[0] - dl, p[1] - ds, first, k))
        spots.append((p[0] + dl, p[1] + ds, first * rng.uniform(0.5, 1.0), k))
    return spots


def synthetic_frame(
    shape: tuple[int, int] = (128, 432),
    *,
    spots: int | Sequence[Sequence[float]] = 8,
    pairs: int = 1,
    snr: tuple[float, float] = (10.0, 300.0),
    disk: str | dict | None = "lit",
    psf_sigma: float = 1.0,
    noise: float = 2e-4,
    relative_noise: float = 0.0,
    saturation: float | None = None,
    seed: int = 0,
    band: str = "jiram_m",
    line_offset: int = 0,
) -> tuple[xr.DataArray, xr.Dataset]:
    """A synthetic image of Io with hot spots, and the truth about them.

    Parameters
    ----------
    shape : (int, int), optional
        (lines, samples) of the image [pixels].
    spots : int or sequence of (line, sample, radiance_sum), optional
        An int draws that many isolated spots at random (on the disk if there is one), with
        signal-to-noise ratio log-uniform over ``snr``; a sequence places spots at (line,
        sample) [pixels, 0-based in the image, before ``line_offset``] with the given
        background-free radiance summed over all pixels [W m-2 sr-1 um-1].
    pairs : int, optional
        Number of random touching pairs added when ``spots`` is an int: centres 3 PSF sigma
        apart (the PSFs overlap down to 1/3 of their peaks), the first with a random SNR, the
        second 0.5-1 times as bright.
    snr : (float, float), optional
        Range of the random spots' SNR (``radiance_sum / (noise * sqrt(4 pi psf_sigma**2))``,
        the SNR of an optimal PSF fit on white noise).
    disk : {'lit', 'dark'} or dict or None, optional
        Io's disk against black sky (0 radiance): ``'lit'`` (sunlit, 0.007 W m-2 sr-1 um-1 at
        disk centre, limb darkening mu**0.7), ``'dark'`` (night side, 5e-6, no darkening), a
        dict with any of ``centre`` (line, sample) [pixels], ``radius`` [pixels], ``radiance``
        [W m-2 sr-1 um-1], ``lit`` (bool) and ``limb_darkening`` (exponent k of mu**k), or
        None (no disk: the whole frame is night-side surface at 0 radiance). The default disk
        is centred with a radius of 0.42 of the shorter side, so its limb crosses the frame.
    psf_sigma : float, optional
        Gaussian PSF standard deviation [pixels], > 0; the disk is blurred by it too.
    noise : float, optional
        Additive Gaussian noise, 1 sigma [W m-2 sr-1 um-1], >= 0.
    relative_noise : float, optional
        Extra Gaussian noise proportional to the noise-free radiance (flat field, photon
        noise), >= 0; the total per-pixel sigma is ``hypot(noise, relative_noise * value)``.
    saturation : float, optional
        Saturation level [W m-2 sr-1 um-1], > 0: pixels at or above it are clipped to it.
    seed : int, optional
        Seed of the random generator (positions, SNRs, noise).
    band : str, optional
        Band name from :mod:`thermal.bands`, recorded in the image and truth.
    line_offset : int, optional
        First ``line`` coordinate (128 for the M half of a JIRAM frame).

    Returns
    -------
    image : xarray.DataArray
        Radiance (line, sample) [W m-2 sr-1 um-1] with ``line``/``sample`` coordinates and
        ``band`` attribute.
    truth : xarray.Dataset
        Dim ``hotspot`` in the order injected: ``line``, ``sample`` (true PSF centres in the
        image's coordinates), ``radiance_sum`` (injected radiance inside the image, before
        clipping) [W m-2 sr-1 um-1], ``peak_radiance`` (brightest noise-free pixel of the spot
        alone), ``snr``, ``saturated`` (a pixel of the spot clipped), ``pair`` (touching pair
        id, -1 for isolated spots), and the noise-free ``model`` (line, sample).
    """
    if len(tuple(shape)) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be (lines, samples) >= 1; got {shape!r}")
    shape = (int(shape[0]), int(shape[1]))
    psf_sigma = _check_positive("psf_sigma [px]", psf_sigma)
    noise = _check_positive("noise [W m-2 sr-1 um-1]", noise, allow_zero=True)
    relative_noise = _check_positive("relative_noise", relative_noise, allow_zero=True)
    if saturation is not None:
        saturation = _check_positive("saturation [W m-2 sr-1 um-1]", saturation)
    band = _bands.get(band).name
    rng = np.random.default_rng(seed)
    geometry = _disk_geometry(disk, shape)
    model = np.zeros(shape)
    if geometry is not None:
        model += ndimage.gaussian_filter(_disk_image(geometry, shape), psf_sigma, mode="nearest")
    if isinstance(spots, (int, np.integer)):
        if spots < 0 or pairs < 0:
            raise ValueError(f"spots and pairs must be >= 0; got {spots}, {pairs}")
        if not (0 < snr[0] <= snr[1]):
            raise ValueError(f"snr must be (low, high) with 0 < low <= high; got {snr}")
        sigma_ref = noise if noise > 0 else 1e-4
        table = _random_spots(rng, shape, geometry, spots, pairs, snr, psf_sigma, sigma_ref)
    else:
        table = [(float(s[0]), float(s[1]), float(s[2]), -1) for s in spots]
        for s in table:
            _check_positive("spot radiance_sum [W m-2 sr-1 um-1]", s[2])
    n = len(table)
    truth_sum = np.zeros(n)
    peak = np.zeros(n)
    stamps = []
    for k, (row, col, total, _) in enumerate(table):
        stamp = total * np.outer(
            _pixel_integrated(row, psf_sigma, shape[0]),
            _pixel_integrated(col, psf_sigma, shape[1]),
        )
        stamps.append(stamp)
        truth_sum[k] = stamp.sum()
        peak[k] = stamp.max()
        model += stamp
    sigma = np.hypot(noise, relative_noise * model)
    data = model + sigma * rng.standard_normal(shape)
    saturated = np.zeros(n, bool)
    if saturation is not None:
        clipped = data >= saturation
        data = np.where(clipped, saturation, data)
        for k, stamp in enumerate(stamps):
            saturated[k] = bool(np.any(clipped & (stamp > 0.5 * stamp.max())))
    area = 4.0 * np.pi * psf_sigma**2
    with np.errstate(divide="ignore", invalid="ignore"):
        spot_snr = truth_sum / (noise * np.sqrt(area)) if noise > 0 else np.full(n, np.inf)
    lines = np.arange(shape[0]) + int(line_offset)
    samples = np.arange(shape[1])
    coords = {
        "line": ("line", lines, {"long_name": "image line (0-based)"}),
        "sample": ("sample", samples, {"long_name": "image sample (0-based)"}),
    }
    image = xr.DataArray(
        data,
        dims=("line", "sample"),
        coords=coords,
        name="radiance",
        attrs={
            "units": RADIANCE_UNITS,
            "long_name": "synthetic spectral radiance",
            "band": band,
        },
    )
    positions = np.array([(s[0], s[1]) for s in table]).reshape(n, 2)
    truth = xr.Dataset(
        {
            "line": (
                "hotspot",
                positions[:, 0] + int(line_offset),
                _attrs("1", "true line (0-based pixel index)"),
            ),
            "sample": (
                "hotspot",
                positions[:, 1],
                _attrs("1", "true sample (0-based pixel index)"),
            ),
            "radiance_sum": (
                "hotspot",
                truth_sum,
                _attrs(RADIANCE_UNITS, "injected radiance summed over the image"),
            ),
            "peak_radiance": (
                "hotspot",
                peak,
                _attrs(RADIANCE_UNITS, "brightest noise-free pixel of the spot alone"),
            ),
            "snr": ("hotspot", spot_snr, _attrs("1", "optimal PSF-fit signal-to-noise ratio")),
            "saturated": ("hotspot", saturated, _attrs("1", "a core pixel was clipped")),
            "pair": (
                "hotspot",
                np.array([s[3] for s in table], dtype=int),
                _attrs("1", "touching pair id (-1: isolated)"),
            ),
            "model": (
                ("image_line", "image_sample"),
                model,
                _attrs(RADIANCE_UNITS, "noise-free, unclipped radiance (dims of the image)"),
            ),
        },
        attrs={
            "band": band,
            "psf_sigma": psf_sigma,
            "noise": noise,
            "relative_noise": relative_noise,
            "saturation": np.nan if saturation is None else saturation,
            "seed": int(seed),
            "disk": _describe_disk(geometry, line_offset),
        },
    )
    return image, truth


def _describe_disk(geometry, line_offset) -> str:
    if geometry is None:
        return "none"
    c_line, c_sample, radius, radiance, exponent = geometry
    return (
        f"centre=({c_line + int(line_offset):.2f}, {c_sample:.2f}) radius={radius:.2f} "
        f"radiance={radiance:.4g} limb_darkening={exponent:.2f}"
    )


def _attrs(units: str, long_name: str) -> dict:
    return {"units": units, "long_name": long_name}


def _concat_truth(parts):
    keep = ["line", "sample", "radiance_sum", "peak_radiance", "snr", "saturated", "pair"]
    merged = xr.concat([t[keep] for t in parts], dim="hotspot")
    merged["band"] = (
        "hotspot",
        np.concatenate([[t.attrs["band"]] * t.sizes["hotspot"] for t in parts]).astype(object),
        _attrs("1", "band of the frame half the spot is in"),
    )
    return merged


def write_jiram_frame(
    folder,
    product_id: str = "JIR_IMG_RDR_2017033T114006_V99",
    *,
    l_scene: dict | None = None,
    m_scene: dict | None = None,
    seed: int = 0,
    slant_distance: float = 80_000e3,
    emission_angle: float = 30.0,
    unit: str = "W/(m^2*sr*micron)",
) -> tuple[str, str, xr.Dataset]:
    """Write a synthetic 256-line JIRAM imager RDR of two :func:`synthetic_frame` scenes.

    Parameters
    ----------
    folder : str or path-like
        Output directory (created if needed).
    product_id : str, optional
        File stem and ``PRODUCT_ID``.
    l_scene, m_scene : dict, optional
        Keyword arguments of :func:`synthetic_frame` for the L half (lines 0-127, band
        ``jiram_l``) and the M half (lines 128-255, ``jiram_m``); ``shape``, ``band`` and
        ``line_offset`` are set here. Default: a lit disk with 6 spots and one touching pair.
    seed : int, optional
        Seed of the L half (the M half uses ``seed + 1``) unless the scene gives one.
    slant_distance : float, optional
        Range to the surface [m] (label ``SLANT_DISTANCE`` in km).
    emission_angle : float, optional
        [degree].
    unit : str, optional
        The label ``UNIT`` string.

    Returns
    -------
    (label path, data path, truth)
        ``truth`` as :func:`synthetic_frame`'s, both halves, with ``line`` in frame lines
        (0-255) and a ``band`` per spot.
    """
    from thermal.simulate import write_jiram_image

    os.makedirs(folder, exist_ok=True)
    samples = 432
    images, truths = [], []
    for k, (band, scene) in enumerate((("jiram_l", l_scene), ("jiram_m", m_scene))):
        options = {"spots": 6, "pairs": 1, "seed": seed + k}
        options.update(scene or {})
        options.update(shape=(128, samples), band=band, line_offset=128 * k)
        image, truth = synthetic_frame(**options)
        images.append(image.values)
        truths.append(truth)
    label_path, data_path = write_jiram_image(
        folder, product_id, np.concatenate(images, axis=0), slant_distance=slant_distance,
        emission_angle=emission_angle, unit=unit,
    )  # fmt: skip
    return label_path, data_path, _concat_truth(truths)


_AO_FILTERS = {"Lp": "nirc2_lp", "Ms": "nirc2_ms", "Kc": "nirc2_kc", "PAH": "nirc2_pah"}


def write_ao_image(
    path,
    *,
    filter_name: str = "Lp",
    shape: tuple[int, int] = (256, 256),
    date_obs: str = "2013-08-15T13:45:00.000",
    pixel_scale: float = 0.009942,
    io_diameter: float = 1.2,
    disk_radiance: float = 0.05,
    spots: int | Sequence[Sequence[float]] = 5,
    psf_sigma: float = 2.0,
    noise: float = 5e-4,
    saturation: float | None = None,
    seed: int = 0,
) -> tuple[str, xr.Dataset]:
    """Write a single-band FITS image of Io's sunlit disk with hot spots (Keck/NIRC2-like).

    Parameters
    ----------
    path : str or path-like
        Output FITS file (overwritten).
    filter_name : {'Lp', 'Ms', 'Kc', 'PAH'}, optional
        NIRC2 filter, header ``FILTER``; the band is ``nirc2_lp`` etc.
    shape : (int, int), optional
        Image size [pixels].
    date_obs : str, optional
        ``DATE-OBS`` (UTC, ISO 8601).
    pixel_scale : float, optional
        [arcsec/pixel], header ``PIXSCALE`` (NIRC2 narrow camera: 0.009942).
    io_diameter : float, optional
        Apparent diameter of Io [arcsec] (1.0-1.2 at opposition).
    disk_radiance : float, optional
        Radiance at disk centre [W m-2 sr-1 um-1].
    spots, psf_sigma, noise, saturation, seed
        As :func:`synthetic_frame` (``psf_sigma`` [pixels]).

    Returns
    -------
    (path, truth)
        ``truth`` as :func:`synthetic_frame`'s (``line`` = FITS y - 1, ``sample`` = x - 1).
    """
    from astropy.io import fits

    if filter_name not in _AO_FILTERS:
        raise ValueError(f"filter_name must be one of {sorted(_AO_FILTERS)}; got {filter_name!r}")
    pixel_scale = _check_positive("pixel_scale [arcsec/pixel]", pixel_scale)
    io_diameter = _check_positive("io_diameter [arcsec]", io_diameter)
    radius = 0.5 * io_diameter / pixel_scale
    band = _AO_FILTERS[filter_name]
    disk = {"radius": radius, "radiance": disk_radiance, "limb_darkening": 0.7}
    image, truth = synthetic_frame(
        shape,
        spots=spots,
        pairs=0,
        disk=disk,
        psf_sigma=psf_sigma,
        noise=noise,
        saturation=saturation,
        seed=seed,
        band=band,
    )
    header = fits.Header()
    header["TELESCOP"] = ("Keck II", "synthetic: thermal.detect.scene")
    header["INSTRUME"] = "NIRC2"
    header["CAMNAME"] = "narrow"
    header["TARGNAME"] = "IO"
    header["FILTER"] = (f"{filter_name} + clear", "NIRC2 filter wheels")
    header["DATE-OBS"] = (date_obs, "UTC")
    header["PIXSCALE"] = (pixel_scale, "[arcsec/pixel]")
    header["BUNIT"] = ("W m-2 sr-1 um-1", "spectral radiance")
    header["BAND"] = (band, "thermal.bands name")
    header["PSFSIG"] = (psf_sigma, "[pixel] Gaussian PSF sigma")
    header["COMMENT"] = "thermal synthetic example; not archive data"
    fits.PrimaryHDU(image.values.astype(np.float32), header=header).writeto(path, overwrite=True)
    return os.fspath(path), truth
