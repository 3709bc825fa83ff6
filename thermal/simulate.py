"""Synthetic observations with known truth, for ``thermal simulate``, demos and tests.

:func:`observation` makes a Dataset in the observation layout from a multi-temperature
blackbody model, ``I = sum_k A_k B_lambda(T_k)`` (emissivity 1), sampled on a wavelength grid
or through filter bands (:func:`thermal.planck.band_radiance`), with Gaussian relative noise
and its 1-sigma uncertainty; :func:`flow_observation` does the same for lava flows of the Io Flow
Model (:func:`thermal.cooling.flow_intensity`). :func:`jiram_image`, :func:`jiram_spectrometer` and
:func:`s3d_cube` write synthetic files in the archive formats the readers understand (our own
label text following the real JIRAM PDS3 keyword layout; little-endian float32 data).
"""

from __future__ import annotations

import os

import numpy as np
import xarray as xr

from thermal import bands as _bands
from thermal import cooling, planck
from thermal.io.jiram import IFOV
from thermal.layout import RADIANCE_STANDARD_NAME
from thermal.units import surface_footprint_area

__all__ = ["flow_observation", "jiram_image", "jiram_spectrometer", "observation", "s3d_cube"]


def _components(temperature, area):
    t = np.atleast_1d(np.asarray(temperature, dtype=float))
    a = np.atleast_1d(np.asarray(area, dtype=float))
    t, a = np.broadcast_arrays(t, a)
    if t.ndim == 1:
        t, a = t[None, :], a[None, :]
    if np.any(~(t > 0)):
        raise ValueError("temperature must be > 0 [K]")
    if np.any(~(a >= 0)):
        raise ValueError("area must be >= 0 [m2]")
    return t, a


def observation(
    temperature,
    area,
    *,
    wavelength=None,
    bands=None,
    n: int = 1,
    noise: float = 0.02,
    seed: int = 0,
    pixel_area: float | None = None,
) -> xr.Dataset:
    """A synthetic observation of hot spots with known temperatures and areas.

    Parameters
    ----------
    temperature : array_like
        Component temperatures [K], shape (k,) (the same for every spectrum) or (n, k).
    area : array_like
        Component areas [m2], broadcast against ``temperature``.
    wavelength : array_like, optional
        Wavelength grid [um] (spectra). Exactly one of ``wavelength`` and ``bands``.
    bands : sequence of str, optional
        Band names from :mod:`thermal.bands` (photometry).
    n : int, optional
        Number of spectra when ``temperature`` is 1-D.
    noise : float, optional
        Relative 1-sigma Gaussian noise, >= 0; the uncertainty is ``noise * true value``
        (or 1e-3 of the spectrum's maximum when ``noise`` is 0).
    seed : int, optional
        Seed of the noise generator.
    pixel_area : float, optional
        Pixel surface area [m2]; if given the data are ``radiance`` [W m-2 sr-1 um-1]
        (``area / pixel_area`` fills the pixel), else ``intensity`` [W sr-1 um-1].

    Returns
    -------
    xarray.Dataset
        Dims ``(spectrum, wavelength|band)`` with ``intensity`` or ``radiance``, its
        uncertainty, and the truth as ``true_temperature``/``true_area`` (spectrum, component).
    """
    if (wavelength is None) == (bands is None):
        raise ValueError("give exactly one of wavelength [um] and bands")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0 (relative); got {noise}")
    t, a = _components(temperature, area)
    if t.shape[0] == 1:
        if int(n) < 1:
            raise ValueError(f"n must be >= 1; got {n}")
        t, a = np.repeat(t, int(n), axis=0), np.repeat(a, int(n), axis=0)
    order = np.argsort(-t, axis=1)
    t, a = np.take_along_axis(t, order, 1), np.take_along_axis(a, order, 1)
    if wavelength is not None:
        grid = np.asarray(wavelength, dtype=float)
        b = planck.spectral_radiance(grid[None, None, :], t[:, :, None])
        spectral = ("wavelength", grid, {"units": "um", "long_name": "wavelength",
                                         "standard_name": "radiation_wavelength"})  # fmt: skip
        dim = "wavelength"
    else:
        names = [_bands.get(name).name for name in bands]
        b = np.stack([planck.band_radiance(name, t) for name in names], axis=-1)
        spectral = ("band", np.array(names, dtype=object))
        dim = "band"
    truth = np.sum(a[:, :, None] * b, axis=1)
    if pixel_area is not None:
        if not pixel_area > 0:
            raise ValueError(f"pixel_area must be > 0 [m2]; got {pixel_area}")
        truth = truth / pixel_area
        kind, units = "radiance", "W m-2 sr-1 um-1"
        standard = {"standard_name": RADIANCE_STANDARD_NAME}
    else:
        kind, units, standard = "intensity", "W sr-1 um-1", {}
    value, sigma = _noisy(truth, noise, seed)
    k = t.shape[1]
    ds = xr.Dataset(
        {
            kind: (("spectrum", dim), value, {"units": units, **standard}),
            f"{kind}_uncertainty": (("spectrum", dim), sigma, {"units": units}),
            "true_temperature": (("spectrum", "component"), t, {"units": "K"}),
            "true_area": (("spectrum", "component"), a, {"units": "m2"}),
        },
        coords={
            "spectrum": np.arange(t.shape[0]),
            dim: spectral,
            "component": np.arange(k),
        },
        attrs={
            "title": "thermal synthetic observation",
            "source": "thermal.simulate.observation",
            "product_id": "synthetic",
            "keywords": SYNTHETIC_KEYWORDS,
            "processing_level": SYNTHETIC_LEVEL,
            "comment": f"{k}-temperature blackbody sum, relative noise {noise}, seed {seed}",
        },
    )
    if pixel_area is not None:
        ds["pixel_area"] = ((), float(pixel_area), {"units": "m2"})
    return ds


SYNTHETIC_KEYWORDS = "Io, volcanism, hot spots, thermal emission, synthetic data"
SYNTHETIC_LEVEL = "synthetic (thermal.simulate)"
"""ACDD keywords and processing level of the synthetic data this package writes."""


def _noisy(truth, noise, seed):
    """(truth + Gaussian noise, 1-sigma): ``noise`` x truth, or 1e-3 of each spectrum's maximum
    with no noise added when ``noise`` is 0."""
    rng = np.random.default_rng(seed)
    if noise > 0:
        sigma = noise * truth
    else:
        sigma = np.broadcast_to(1e-3 * truth.max(axis=1, keepdims=True), truth.shape).copy()
    return truth + rng.standard_normal(truth.shape) * (sigma if noise > 0 else 0.0), sigma


def flow_observation(
    areal_rate, duration, *, wavelength, material="basalt", noise: float = 0.02, seed: int = 0
) -> xr.Dataset:
    """A synthetic observation of active lava flows with known areal rate and duration.

    Parameters
    ----------
    areal_rate : array_like
        Areal coverage rate R_A of each flow [m2 s-1], >= 0, shape (n,).
    duration : array_like
        Time each flow has been active [s], > 0, broadcast against ``areal_rate``.
    wavelength : array_like
        Wavelength grid [um].
    material : str or thermal.cooling.Material, optional
        Lava (a name in :data:`thermal.cooling.MATERIALS`).
    noise : float, optional
        Relative 1-sigma Gaussian noise, >= 0 (as in :func:`observation`).
    seed : int, optional
        Seed of the noise generator.

    Returns
    -------
    xarray.Dataset
        Dims ``(spectrum, wavelength)`` with ``intensity`` [W sr-1 um-1], its uncertainty, and
        the truth as ``true_areal_rate`` [m2 s-1] and ``true_duration`` [s].

    References
    ----------
    The Io Flow Model of Davies 1996, doi:10.1006/icar.1996.0189 (see
    :func:`thermal.cooling.flow_intensity`).
    """
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0 (relative); got {noise}")
    rate = np.atleast_1d(np.asarray(areal_rate, dtype=float))
    tau = np.atleast_1d(np.asarray(duration, dtype=float))
    same = rate.size == tau.size or 1 in (rate.size, tau.size)
    if rate.ndim != 1 or tau.ndim != 1 or not same:
        raise ValueError(
            f"areal_rate and duration must be scalars or 1-D of one length; got shapes "
            f"{np.shape(areal_rate)} and {np.shape(duration)}"
        )
    rate, tau = np.broadcast_arrays(rate, tau)
    grid = np.atleast_1d(np.asarray(wavelength, dtype=float))
    if grid.ndim != 1:
        raise ValueError(f"wavelength must be 1-D [um]; got shape {grid.shape}")
    truth = np.array(
        [cooling.flow_intensity(grid, r, t, material) for r, t in zip(rate, tau, strict=True)]
    ).reshape(rate.size, grid.size)
    value, sigma = _noisy(truth, noise, seed)
    units = "W sr-1 um-1"
    return xr.Dataset(
        {
            "intensity": (("spectrum", "wavelength"), value, {"units": units}),
            "intensity_uncertainty": (("spectrum", "wavelength"), sigma, {"units": units}),
            "true_areal_rate": ("spectrum", rate, {"units": "m2 s-1"}),
            "true_duration": ("spectrum", tau, {"units": "s"}),
        },
        coords={
            "spectrum": np.arange(rate.size),
            "wavelength": ("wavelength", grid, {"units": "um", "long_name": "wavelength"}),
        },
        attrs={
            "title": "thermal synthetic observation",
            "source": "thermal.simulate.flow_observation",
            "product_id": "synthetic",
            "keywords": SYNTHETIC_KEYWORDS,
            "processing_level": SYNTHETIC_LEVEL,
            "comment": f"Io Flow Model ({material}), relative noise {noise}, seed {seed}",
        },
    )


# ---------------------------------------------------------------------------------------------
# JIRAM PDS3 products. Label text is ours, following the keyword layout of real RDR labels
# (docs/formats.md, JIRAM): OBJECT = FILE holds RECORD_BYTES, UNIT and the data pointer.

_IFOV = IFOV  # JIRAM


def _pds_line(key: str, value: str, indent: int = 0) -> str:
    return f"{' ' * indent}{key:<32}= {value}".ljust(78) + "\r\n"


def _write_label(path, lines):
    with open(path, "w", encoding="ascii", newline="") as handle:
        handle.write("".join(lines) + "END\r\n")


def _jiram_header(product_id, kind, start_time, mode, target="IO"):
    return [
        _pds_line("PDS_VERSION_ID", "PDS3"),
        _pds_line("LABEL_REVISION_NOTE", '"thermal synthetic example; not archive data"'),
        _pds_line("DATA_SET_ID", '"JNO-J-JIRAM-3-RDR-V1.0"'),
        _pds_line("PRODUCT_ID", f'"{product_id}"'),
        _pds_line("PRODUCT_TYPE", "RDR"),
        _pds_line("PROCESSING_LEVEL_ID", "3"),
        _pds_line("PRODUCT_VERSION_ID", '"01"'),
        _pds_line("STANDARD_DATA_PRODUCT_ID", f'"{kind}"'),
        _pds_line("SOFTWARE_VERSION_ID", '("THERMAL_SIMULATE", "PDS_RDR_v9")'),
        _pds_line("INSTRUMENT_HOST_NAME", '"JUNO"'),
        _pds_line("INSTRUMENT_ID", '"JIRAM"'),
        _pds_line("INSTRUMENT_MODE_ID", f'"{mode}"'),
        _pds_line("TARGET_NAME", f'"{target}"'),
        _pds_line("START_TIME", start_time),
        _pds_line("STOP_TIME", start_time),
        _pds_line("SPACECRAFT_CLOCK_START_COUNT", '"1/539307798:00786"'),
        _pds_line("ORBIT_NUMBER", "4"),
        _pds_line("SPICE_FILE_NAME", '{"juno_v12.tf", "juno_jiram_v02.ti"}'),
    ]


def _band_group(name, slant_km, emission, lat, lon_west):
    return [
        _pds_line("GROUP", name),
        _pds_line("SLANT_DISTANCE", f"{slant_km:.3f} <km>", 2),
        _pds_line("EMISSION_ANGLE", f"{emission:.4f} <degree>", 2),
        _pds_line("CENTER_LATITUDE", f"{lat:.4f} <degree>", 2),
        _pds_line("CENTER_LONGITUDE", f"{lon_west:.4f} <degree>", 2),
        _pds_line("PIXEL_SCALE", f"{slant_km * _IFOV:.4f} <km/pixel>", 2),
        _pds_line("END_GROUP", name),
    ]


def jiram_image(
    folder,
    product_id: str = "JIR_IMG_RDR_2017033T114006_V99",
    *,
    spots=((60, 100, 900.0, 2.0e6), (190, 300, 600.0, 8.0e6)),
    slant_distance: float = 80_000e3,
    emission_angle: float = 30.0,
    background: float = 0.004,
    noise: float = 0.05,
    seed: int = 1,
    unit: str = "W/(m^2*sr*micron)",
) -> tuple[str, str]:
    """Write a synthetic 256-line JIRAM imager RDR (L top half, M bottom half) with hot spots.

    Parameters
    ----------
    folder : str or path-like
        Output directory (created if needed).
    product_id : str, optional
        File stem and ``PRODUCT_ID``.
    spots : sequence of (line, sample, T [K], area [m2])
        Hot spots filling part of one pixel; lines < 128 are seen in L, the others in M.
    slant_distance : float, optional
        Range to the surface [m] (label ``SLANT_DISTANCE`` in km).
    emission_angle : float, optional
        [degree].
    background : float, optional
        Background radiance [W m-2 sr-1 um-1] with relative Gaussian ``noise``.
    unit : str, optional
        The label ``UNIT`` string.

    Returns
    -------
    (label path, data path)
    """
    os.makedirs(folder, exist_ok=True)
    lines, samples = 256, 432
    pixel_area = surface_footprint_area(slant_distance, _IFOV, emission_angle, 90.0)
    rng = np.random.default_rng(seed)
    image = background * (1.0 + noise * rng.standard_normal((lines, samples)))
    for row, col, temperature, area in spots:
        _check_pixel("spots", (row, col), (lines, samples))
        band = "jiram_l" if row < 128 else "jiram_m"
        image[row, col] += area / pixel_area * float(planck.band_radiance(band, temperature))
    return write_jiram_image(
        folder, product_id, image, slant_distance=slant_distance,
        emission_angle=emission_angle, unit=unit,
    )  # fmt: skip


def write_jiram_image(
    folder,
    product_id: str,
    image,
    *,
    slant_distance: float = 80_000e3,
    emission_angle: float = 30.0,
    unit: str = "W/(m^2*sr*micron)",
    mode: str = "SCI_I1_NEXP1",
    start_time: str = "2017-02-02T11:40:06.123",
) -> tuple[str, str]:
    """Write ``image`` as a JIRAM imager RDR: little-endian float32 data and its PDS3 label.

    Parameters
    ----------
    folder : str or path-like
        Output directory (it must exist).
    product_id : str
        File stem and ``PRODUCT_ID``.
    image : array_like
        (lines, samples) radiance [W m-2 sr-1 um-1 in the label's ``unit``]; 256 lines hold L
        then M, 128 lines one band (``mode`` ``SCI_I2`` M, ``SCI_I3`` L).
    slant_distance : float, optional
        Range to the surface [m] (label ``SLANT_DISTANCE`` in km).
    emission_angle : float, optional
        [degree].
    unit, mode, start_time : str, optional
        Label ``UNIT``, ``INSTRUMENT_MODE_ID`` and ``START_TIME``.

    Returns
    -------
    (label path, data path)
    """
    image = np.asarray(image, dtype=float)
    lines, samples = image.shape
    data_name = f"{product_id}.IMG"
    data_path = os.path.join(folder, data_name)
    image.astype("<f4").tofile(data_path)
    label = _jiram_header(product_id, "IMAGE", start_time, mode)
    label += [
        _pds_line("OBJECT", "FILE"),
        _pds_line("^IMAGE", f'"{data_name}"', 2),
        _pds_line("RECORD_TYPE", "FIXED_LENGTH", 2),
        _pds_line("RECORD_BYTES", str(samples * 4), 2),
        _pds_line("FILE_RECORDS", str(lines), 2),
        _pds_line("FRAME_TYPE", '"FULL"', 2),
        _pds_line("DATA_QUALITY_ID", "1", 2),
        _pds_line("UNIT", f'"{unit}"', 2),
        _pds_line("OBJECT", "IMAGE", 2),
        _pds_line("LINES", str(lines), 4),
        _pds_line("LINE_SAMPLES", str(samples), 4),
        _pds_line("SAMPLE_TYPE", "IEEE_REAL", 4),
        _pds_line("SAMPLE_BITS", "32", 4),
        _pds_line("END_OBJECT", "IMAGE", 2),
        _pds_line("END_OBJECT", "FILE"),
        _pds_line("OBJECT", "HISTORY"),
        _pds_line("CALIBRATION_SOURCE_ID", '"JIR_IMG_M_RESPONSIVITY_V02.DAT"', 2),
        _pds_line("SOURCE_PRODUCT_ID", f'"{product_id.replace("RDR", "EDR")}"', 2),
        _pds_line("END_OBJECT", "HISTORY"),
    ]
    slant_km = slant_distance / 1e3
    label += _band_group("L_BAND_PARAMETERS", slant_km, emission_angle, 10.0, 300.0)
    label += _band_group("M_BAND_PARAMETERS", slant_km, emission_angle, 10.5, 300.5)
    label_path = os.path.join(folder, f"{product_id}.LBL")
    _write_label(label_path, label)
    return label_path, data_path


def jiram_spectrometer(
    folder,
    product_id: str = "JIR_SPE_RDR_2017033T114007_V99",
    *,
    spots=((40, ((1100.0, 0.3e6), (500.0, 6.0e6))), (200, ((800.0, 1.0e6), (400.0, 20.0e6)))),
    slant_distance: float = 80_000e3,
    emission_angle: float = 30.0,
    background: float = 0.002,
    noise: float = 0.02,
    seed: int = 2,
    rows: int = 256,
) -> tuple[str, str]:
    """Write a synthetic JIRAM spectrometer RDR (``rows`` slit pixels x 336 channels).

    Other parameters are as :func:`jiram_image`. Radiance noise is relative, ``noise`` of the
    value plus ``noise * background``.

    Parameters
    ----------
    spots : sequence of (pixel, ((T [K], area [m2]), ...))
        Multi-temperature hot spots in single slit pixels.
    rows : int, optional
        Slit pixels (256 in the nominal mode).

    Returns
    -------
    (label path, data path)
    """
    from thermal.io.jiram import spectrometer_wavelengths

    os.makedirs(folder, exist_ok=True)
    lam = spectrometer_wavelengths()
    columns = lam.size
    pixel_area = surface_footprint_area(slant_distance, _IFOV, emission_angle, 90.0)
    rng = np.random.default_rng(seed)
    truth = np.full((rows, columns), background)
    for pixel, components in spots:
        for temperature, area in components:
            truth[pixel] += area / pixel_area * planck.spectral_radiance(lam, temperature)
    data = truth * (1.0 + noise * rng.standard_normal(truth.shape))
    data_name = f"{product_id}.DAT"
    data_path = os.path.join(folder, data_name)
    data.astype("<f4").tofile(data_path)
    label = _jiram_header(product_id, "SPECTRAL", "2017-02-02T11:40:07.456", "SCI_S1_NEXP1")
    label += [
        _pds_line("OBJECT", "FILE"),
        _pds_line("^TABLE", f'"{data_name}"', 2),
        _pds_line("RECORD_TYPE", "FIXED_LENGTH", 2),
        _pds_line("RECORD_BYTES", str(columns * 4), 2),
        _pds_line("FILE_RECORDS", str(rows), 2),
        _pds_line("DATA_QUALITY_ID", "1", 2),
        _pds_line("UNIT", '"W/(m^2*sr*micron)"', 2),
        _pds_line("OBJECT", "TABLE", 2),
        _pds_line("INTERCHANGE_FORMAT", "BINARY", 4),
        _pds_line("ROWS", str(rows), 4),
        _pds_line("COLUMNS", str(columns), 4),
        _pds_line("ROW_BYTES", str(columns * 4), 4),
        _pds_line("OBJECT", "COLUMN", 4),
        _pds_line("NAME", "BAND", 6),
        _pds_line("DATA_TYPE", "IEEE_REAL", 6),
        _pds_line("START_BYTE", "1", 6),
        _pds_line("BYTES", str(columns * 4), 6),
        _pds_line("ITEMS", str(columns), 6),
        _pds_line("ITEM_BYTES", "4", 6),
        _pds_line("DESCRIPTION", '"spectral range 2-5um"', 6),
        _pds_line("END_OBJECT", "COLUMN", 4),
        _pds_line("END_OBJECT", "TABLE", 2),
        _pds_line("END_OBJECT", "FILE"),
    ]
    label += _band_group(
        "SPECTROMETER_PARAMETERS", slant_distance / 1e3, emission_angle, -20.0, 120.0
    )
    label_path = os.path.join(folder, f"{product_id}.LBL")
    _write_label(label_path, label)
    return label_path, data_path


def s3d_cube(
    path,
    *,
    shape=(40, 5, 6),
    start: float = 2.9,
    step: float = 0.05,
    hot=((2, 3, 1000.0, 2e-4),),
    background: float = 5.0,
    noise: float = 0.02,
    seed: int = 3,
) -> str:
    """Write a tiny synthetic JWST ``s3d`` cube (SCI/ERR/DQ in MJy sr-1, linear WAVE axis).

    Parameters
    ----------
    path : str or path-like
        Output FITS file.
    shape : (n_wavelength, ny, nx)
    start, step : float
        First wavelength and step [um].
    hot : sequence of (y, x, T [K], filling fraction)
        Spaxels with a blackbody filling part of the spaxel.
    background : float
        Background surface brightness [MJy sr-1].
    """
    from astropy.io import fits

    from thermal.units import surface_brightness_to_radiance

    n = shape[0]
    lam = start + step * np.arange(n)
    rng = np.random.default_rng(seed)
    per_mjy = surface_brightness_to_radiance(1.0, lam)  # W m-2 sr-1 um-1 per MJy sr-1
    sci = np.full(shape, background)
    for y, x, temperature, fraction in hot:
        _check_pixel("hot", (y, x), shape[1:])
        sci[:, y, x] += fraction * planck.spectral_radiance(lam, temperature) / per_mjy
    err = (noise if noise > 0 else 0.01) * sci
    sci = sci + noise * sci * rng.standard_normal(shape)
    dq = np.zeros(shape, dtype=np.uint32)
    dq[0, 0, 0] = 1
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = "JWST"
    primary.header["INSTRUME"] = "NIRSPEC"
    primary.header["FILENAME"] = os.path.basename(os.fspath(path))
    primary.header["TARGNAME"] = "IO"
    hdus = [primary]
    for name, data in (("SCI", sci), ("ERR", err), ("DQ", dq)):
        hdu = fits.ImageHDU(data.astype(np.float32 if name != "DQ" else np.uint32), name=name)
        if name in ("SCI", "ERR"):
            hdu.header["BUNIT"] = "MJy/sr"
        hdu.header["CTYPE3"] = "WAVE"
        hdu.header["CUNIT3"] = "um"
        hdu.header["CRVAL3"] = start
        hdu.header["CDELT3"] = step
        hdu.header["CRPIX3"] = 1.0
        hdu.header["PIXAR_SR"] = 2.35e-13
        hdus.append(hdu)
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return os.fspath(path)


def _check_pixel(name: str, index, shape) -> None:
    """A spot's pixel (integers inside ``shape``), or a ValueError naming ``name``."""
    if not all(
        isinstance(i, int | np.integer) and 0 <= i < n for i, n in zip(index, shape, strict=True)
    ):
        raise ValueError(
            f"{name}: pixel {tuple(index)} is not inside the image "
            f"({' x '.join(map(str, shape))}, integer indices from 0)"
        )
