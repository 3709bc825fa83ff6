"""Adaptive-optics images of Io's disk: one band per FITS image (Keck NIRC2, Gemini NIRI).

:func:`read_ao_image` reads one image into an :class:`xarray.DataArray` of flux density per
pixel [Jy] over dims (``line``, ``sample``): FITS ``NAXIS2`` is ``line``, ``NAXIS1`` is
``sample``, both 0-based array indices with pixel centres at integers (photutils' ``y`` and
``x``). Such an image is not an observation that ``thermal fit`` fits pixel by pixel: the hot
spots are measured with aperture photometry (:func:`thermal.detect.photometry.aperture_photometry`)
and the photometry table that :func:`thermal.detect.photometry.photometry_table` writes is
fitted (as de Kleer & de Pater 2016, Icarus 280, 378, doi:10.1016/j.icarus.2016.06.019, did
with Keck and Gemini images). The format registry therefore knows these files (format ``ao``,
see :func:`sniff_ao_image`) only to refuse them in ``thermal fit`` with a message that says so
(:func:`refuse_fit`).

Header keywords (the image HDU's header first, then the primary header):

- **band**: ``FILTER`` (NIRC2 writes ``'Lp + clear'``; parts joined by ``+`` are split),
  ``FWINAME``/``FWONAME`` (NIRC2 filter wheels), ``FILTER1``-``FILTER3`` (Gemini NIRI, e.g.
  ``'Lprime_G0207'``; the ``_G0nnn`` suffix is dropped). Empty positions (``clear``, ``open``,
  ``blank``, pupil masks ``PK...``/``pupil...``) are ignored; every other name must map to the
  same band of :mod:`thermal.bands` through :data:`NIRC2_FILTERS` (``INSTRUME`` NIRC2, or no
  ``INSTRUME``) or :data:`NIRI_FILTERS` (``INSTRUME`` NIRI). No filter or an unknown one is an
  :class:`~thermal.layout.InputError` unless ``band=`` names the band (which then wins).
- **time**: ``DATE-OBS`` with a time part, or ``DATE-OBS`` (a date) plus ``UTC``, ``EXPSTART``,
  ``TIME-OBS`` or ``UT`` (the first present), or ``MJD-OBS``; NaT when there is none.
- **pixel scale** [arcsec]: ``pixel_scale=``, else ``PIXSCALE`` [arcsec] (Gemini), else the
  FITS WCS (``CD1_1``/``CD1_2`` or ``CDELT1``, in degrees), else the NIRC2 camera ``CAMNAME``
  (:data:`NIRC2_PIXEL_SCALES`: narrow 0.009942); NaN when unknown (only surface-brightness
  units need it).
- **units**: ``BUNIT``. A flux density per pixel (``Jy/pixel``, ``mJy pix-1``, ``Jy``: an
  image's values are per pixel) is read as is; a surface brightness (``mJy/arcsec2``,
  ``MJy/sr``) is multiplied by the pixel's solid angle (needs the pixel scale); a flux or
  radiance per wavelength (``W m-2 um-1`` per pixel, ``W m-2 sr-1 um-1``) is converted to a
  flux density at the band centre (F_nu = F_lambda lambda^2 / c, as
  :func:`thermal.io.tables.read_csv` converts back). Raw detector
  units (``DN``, ``ADU``, ``counts``, ``electrons``, per second or not) or no ``BUNIT`` (raw
  NIRC2 frames have none) need ``calibration=`` [Jy per data unit], e.g. from a standard star;
  without it they are an :class:`~thermal.layout.InputError`.
- **distance** [m] (observer-Io, needed for intensities): ``distance=``, else ``DELTA``
  [au] (the JPL Horizons name) when present; NaN when unknown.

The file is untrusted (``SECURITY.md``): its HDU structure is walked first with
:func:`thermal.io.jwst.fits_structure` (headers that end, declared data inside the file, a
compressed file that does not expand past the memory budget), and the image's declared size
times :data:`BYTES_PER_VALUE` is compared with the budget
(:func:`thermal.io.limits.current_max_memory`) before its data are read. Every failure is one
:class:`~thermal.layout.InputError` line naming the file; astropy's warnings about
non-standard headers are kept in the ``fits_warnings`` attribute instead of being raised.
"""

from __future__ import annotations

import math
import os
import re
import warnings

import numpy as np
import xarray as xr

from thermal import bands as _bands
from thermal.io import limits
from thermal.io.formats import OptionError, check_file, reading
from thermal.layout import InputError
from thermal.units import ASTRONOMICAL_UNIT, conversion_factor, intensity_to_flux_density

__all__ = [
    "BYTES_PER_VALUE",
    "NIRC2_FILTERS",
    "NIRC2_PIXEL_SCALES",
    "NIRI_FILTERS",
    "TELESCOPE_DIAMETERS",
    "read_ao_image",
    "refuse_fit",
    "sniff_ao_image",
]

BYTES_PER_VALUE = 40
"""Peak memory [bytes] of reading one pixel (the value as stored and as float64, the mask,
the calibrated image and a photometry copy)."""

NIRC2_FILTERS = {
    "j": "nirc2_j",
    "h": "nirc2_h",
    "k": "nirc2_k",
    "kp": "nirc2_kp",
    "ks": "nirc2_ks",
    "kcont": "nirc2_kc",
    "kc": "nirc2_kc",
    "h2oice": "nirc2_h2o",
    "h2o": "nirc2_h2o",
    "pah": "nirc2_pah",
    "lp": "nirc2_lp",
    "bralphacont": "nirc2_bracont",
    "bralpha": "nirc2_bra",
    "ms": "nirc2_ms",
}
"""NIRC2 filter names (lower case, letters and digits only) -> :mod:`thermal.bands` name."""

NIRI_FILTERS = {
    "lprime": "mko_lp",
    "mprime": "mko_mp",
}
"""Gemini NIRI filter names (without the ``_G0nnn`` part) -> :mod:`thermal.bands` name; other
NIRI filters have no bundled band (give ``band=``)."""

NIRC2_PIXEL_SCALES = {"narrow": 0.009942, "medium": 0.019829, "wide": 0.039686}
"""NIRC2 plate scale [arcsec pixel-1] by ``CAMNAME``: narrow as the Keck NIRC2 pages give it,
medium and wide as the KAI reduction pipeline uses them. Distortion solutions of other epochs
differ by a few 0.1 %: give ``pixel_scale=`` or a header ``PIXSCALE`` for a better one."""

TELESCOPE_DIAMETERS = {"NIRC2": 10.0, "NIRI": 8.1}
"""Primary mirror diameter [m] by instrument, for the diffraction-limited PSF estimate
``psf_fwhm`` = 1.03 lambda / D."""

_FILTER_KEYWORDS = ("FILTER", "FWINAME", "FWONAME", "FILTER1", "FILTER2", "FILTER3")
_EMPTY_FILTERS = {"", "clear", "open", "block", "blank", "home", "none", "unknown", "dark"}
_TIME_KEYWORDS = ("UTC", "EXPSTART", "TIME-OBS", "UT")
_RAW_UNITS = {
    "dn",
    "adu",
    "count",
    "counts",
    "ct",
    "cts",
    "electron",
    "electrons",
    "e",
    "e-",
    "photon",
    "photons",
}
_CALIBRATED_UNITS = (
    ("Jy", False, False),
    ("Jy sr-1", True, False),
    ("W m-2 um-1", False, True),
    ("W m-2 sr-1 um-1", True, True),
)
_PER_PIXEL = re.compile(r"^(?:pix|pixel|pixels|px)$", re.IGNORECASE)
_PER_ARCSEC2 = re.compile(
    r"^(?:arcsec\s*(?:\*\*|\^)?\s*2|\(\s*arcsec\s*\)\s*(?:\*\*|\^)?\s*2|sq\.?\s*arcsec|arcsec2)$",
    re.IGNORECASE,
)
_ARCSEC_IN_SR = (math.pi / (180.0 * 3600.0)) ** 2  # one arcsec2 in sr


# ---------------------------------------------------------------------------------------------
# The registry's view: a content sniffer and a refusing reader


def _head_cards(head: bytes) -> tuple[dict[str, str], bool]:
    """(keyword -> value text, quotes and comment removed, of the cards in ``head`` up to
    END; whether END was seen)."""
    cards: dict[str, str] = {}
    for start in range(0, len(head) - 79, 80):
        card = head[start : start + 80].decode("latin-1")
        keyword = card[:8].strip().upper()
        if keyword == "END":
            return cards, True
        if card[8:10] == "= " and keyword not in cards:
            value = card[10:]
            if value.lstrip().startswith("'"):
                value = value.lstrip()[1:].split("'", 1)[0]
            else:
                value = value.split("/", 1)[0]
            cards[keyword] = value.strip()
    return cards, False


def sniff_ao_image(head: bytes) -> bool:
    """True for the first bytes of a FITS file that hold an AO image.

    That is a primary HDU with ``NAXIS = 2`` and a filter keyword (``FILTER``, ``FWINAME``,
    ``FWONAME``, ``FILTER1``-``FILTER3``) or ``INSTRUME`` NIRC2 or NIRI among the cards shown,
    or a header that goes on past them (NIRC2 headers have a few hundred cards, and the filter
    may come after the first 4096 bytes the registry shows); or, Gemini's multi-extension
    files, a primary ``NAXIS = 0`` with ``INSTRUME`` NIRI or NIRC2. A JWST ``s3d`` cube
    (primary ``NAXIS = 0``, the cube in an extension) is never claimed, nor a bare 2-D array
    with a short header.
    """
    if not head.startswith(b"SIMPLE  ="):
        return False
    cards, ended = _head_cards(head)
    naxis = cards.get("NAXIS")
    instrument = cards.get("INSTRUME", "").strip().upper() in ("NIRI", "NIRC2")
    if naxis == "2":
        return instrument or not ended or any(k in cards for k in _FILTER_KEYWORDS)
    return naxis == "0" and instrument


def refuse_fit(path, **options):
    """The registry's reader for AO images: always an :class:`~thermal.layout.InputError`.

    An image of Io's disk is not a set of spectra that ``thermal fit`` can fit pixel by
    pixel: its hot spots are first measured with aperture photometry (``thermal detect``,
    :mod:`thermal.detect.photometry`), and the photometry table written then is fitted.

    Raises
    ------
    InputError
        Always, naming the file.
    """
    raise InputError(
        path,
        "an adaptive-optics image (one band per FITS image), not a spectrum or photometry "
        "table: run `thermal detect` (aperture photometry of its hot spots, "
        "thermal.detect.photometry) and fit the photometry table it writes",
    )


# ---------------------------------------------------------------------------------------------
# Header helpers


def _lookup(headers, keyword):
    """The first value of ``keyword`` in ``headers`` (image header first), or None."""
    for header in headers:
        if keyword in header:
            value = header[keyword]
            if value is not None and not (isinstance(value, str) and not value.strip()):
                return value
    return None


def _number(path, headers, keyword) -> float | None:
    value = _lookup(headers, keyword)
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError(path, f"{keyword} = {value} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(
            path, f"{keyword} = {limits.one_line(repr(value), 40)} is not a number"
        ) from None
    if not math.isfinite(number):
        raise InputError(path, f"{keyword} = {number} is not finite")
    return number


def _filter_key(name: str) -> str:
    text = name.strip().lower()
    text = re.sub(r"_g\d{4}.*$", "", text)  # Gemini's filter ids: Lprime_G0207
    return re.sub(r"[^a-z0-9]", "", text)


def _header_filters(headers) -> list[str]:
    """The filter names in the header (in keyword order, duplicates and empties dropped)."""
    names: list[str] = []
    for keyword in _FILTER_KEYWORDS:
        value = _lookup(headers, keyword)
        if value is None:
            continue
        for part in str(value).split("+"):
            part = limits.one_line(part, 60).strip()
            key = _filter_key(part)
            if key in _EMPTY_FILTERS or key.startswith(("pk", "pupil")):
                continue
            if key not in (_filter_key(n) for n in names):
                names.append(part)
    return names


def _band(path, headers, instrument: str, band: str | None) -> tuple[str, str]:
    """(band name, filter names as in the header)."""
    names = _header_filters(headers)
    shown = " + ".join(names)
    if band is not None:
        return band, shown
    if not names:
        raise InputError(
            path,
            "no filter in the header (FILTER, FWINAME/FWONAME, FILTER1-3): give band= "
            "(a name from `thermal bands`)",
        )
    table = NIRI_FILTERS if "NIRI" in instrument else NIRC2_FILTERS
    if instrument and "NIRI" not in instrument and "NIRC2" not in instrument:
        raise InputError(
            path,
            f"filter {shown!r} of instrument {instrument!r}: only NIRC2 and NIRI filter names "
            "are known; give band= (a name from `thermal bands`)",
        )
    found = set()
    for name in names:
        mapped = table.get(_filter_key(name))
        if mapped is None:
            raise InputError(
                path,
                f"unknown filter {name!r} (header {shown!r}): give band= (a name from "
                "`thermal bands`)",
            )
        found.add(mapped)
    if len(found) > 1:
        raise InputError(
            path, f"the header names several filters ({shown}) of different bands; give band="
        )
    return found.pop(), shown


def _time(path, headers) -> np.datetime64:
    date = _lookup(headers, "DATE-OBS")
    text = None
    if date is not None:
        text = limits.one_line(str(date), 40).strip()
        if "T" not in text:
            for keyword in _TIME_KEYWORDS:
                clock = _lookup(headers, keyword)
                if clock is not None:
                    text = f"{text}T{limits.one_line(str(clock), 30).strip()}"
                    break
    if text is not None:
        try:
            with warnings.catch_warnings():  # numpy's warning about "+00:00" offsets
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", UserWarning)
                value = np.datetime64(text.rstrip("Z"))  # converted to UTC
        except ValueError:
            raise InputError(
                path, f"DATE-OBS (and time) {text!r} is not an ISO 8601 date and time"
            ) from None
        day = value.astype("datetime64[D]")
        if not np.datetime64("1678-01-01") < day < np.datetime64("2262-01-01"):
            # numpy would wrap it silently to another date in nanoseconds
            raise InputError(path, f"DATE-OBS {text!r} is out of range (1678-2261)")
        return value.astype("datetime64[ns]")
    mjd = _number(path, headers, "MJD-OBS")
    if mjd is not None:
        if not 0 < mjd < 100000:
            raise InputError(path, f"MJD-OBS = {mjd} is out of range")
        nanoseconds = np.int64(round(mjd * 86400e9))
        return np.datetime64("1858-11-17T00:00:00", "ns") + np.timedelta64(nanoseconds, "ns")
    return np.datetime64("NaT", "ns")


def _pixel_scale(path, headers, instrument: str) -> tuple[float, str]:
    """(pixel scale [arcsec], where it comes from), NaN if unknown."""
    scale = _number(path, headers, "PIXSCALE")
    if scale is not None:
        if not scale > 0:
            raise InputError(path, f"PIXSCALE = {scale} must be > 0 [arcsec]")
        return scale, "PIXSCALE"
    cd11, cd12 = _number(path, headers, "CD1_1"), _number(path, headers, "CD1_2")
    if cd11 is not None or cd12 is not None:
        scale = math.hypot(cd11 or 0.0, cd12 or 0.0) * 3600.0
        if scale > 0:
            return scale, "CD1_1, CD1_2"
    cdelt = _number(path, headers, "CDELT1")
    if cdelt is not None and cdelt != 0:
        unit = str(_lookup(headers, "CUNIT1") or "deg").strip().lower()
        if unit in ("deg", "degree", "degrees"):
            return abs(cdelt) * 3600.0, "CDELT1"
    camera = str(_lookup(headers, "CAMNAME") or "").strip().lower()
    if ("NIRC2" in instrument or not instrument) and camera in NIRC2_PIXEL_SCALES:
        return NIRC2_PIXEL_SCALES[camera], f"NIRC2 {camera} camera"
    return math.nan, "unknown"


def _split_unit(text: str) -> tuple[str, str]:
    """(the rest, per-area part: 'pixel', 'arcsec2' or '') of a BUNIT string: a trailing
    ``/pixel``, ``pix-1``, ``/arcsec2`` or ``arcsec-2`` is split off (thermal.units does not
    know pixels or arcseconds); ``sr`` stays in the rest."""
    text = text.strip()
    match = re.fullmatch(r"(.+?)\s*/\s*([^/]+)", text)
    if match:
        rest, denominator = match.group(1), match.group(2).strip()
        if _PER_PIXEL.match(denominator):
            return rest, "pixel"
        if _PER_ARCSEC2.match(denominator):
            return rest, "arcsec2"
    match = re.fullmatch(r"(.+?)\s+(?:pix|pixel|px)\s*(?:\*\*|\^)?\s*-1", text, re.IGNORECASE)
    if match:
        return match.group(1), "pixel"
    match = re.fullmatch(r"(.+?)\s+arcsec\s*(?:\*\*|\^)?\s*-2", text, re.IGNORECASE)
    if match:
        return match.group(1), "arcsec2"
    return text, ""


def _is_raw(numerator: str) -> bool:
    """True for detector units (DN, ADU, counts, electrons), optionally per second or coadd."""
    parts = re.split(r"\s*/\s*|\s+", numerator.strip().lower())
    head, rest = parts[0], parts[1:]
    return head in _RAW_UNITS and all(
        p in ("s", "sec", "second", "s-1", "coadd", "coadds", "frame") for p in rest
    )


def _to_jy_per_pixel(path, bunit, scale: float, calibration, centre: float):
    """(factor from the data to Jy per pixel, how; ``centre`` [um] the band centre)."""
    if bunit is None or _is_raw(_split_unit(str(bunit))[0]):
        shown = "no BUNIT" if bunit is None else f"BUNIT {bunit!r}"
        if calibration is None:
            raise InputError(
                path,
                f"{shown}: uncalibrated detector units; give calibration= [Jy per data "
                "unit], e.g. from a standard star",
            )
        return calibration, f"{shown} times calibration {calibration:g} Jy per data unit"
    if calibration is not None:
        raise OptionError(
            f"calibration= given but the image is already in {bunit!r} (BUNIT); leave it out"
        )
    rest, area = _split_unit(str(bunit))
    found = None
    # (unit the rest converts to, is it per steradian, is it per wavelength)
    for target, per_sr, per_um in _CALIBRATED_UNITS:
        try:
            found = (conversion_factor(rest, target), per_sr, per_um)
        except ValueError:
            continue
        break
    if found is None:
        raise InputError(
            path,
            f"BUNIT {bunit!r} is not a flux density per pixel (Jy/pixel), a surface brightness "
            "(mJy/arcsec2, MJy/sr, W m-2 sr-1 um-1) or detector counts (with calibration=)",
        )
    factor, per_sr, per_um = found
    how = f"BUNIT {bunit!r}"
    if per_um:  # F_lambda [W m-2 um-1] -> F_nu [Jy] at the band centre
        factor *= float(intensity_to_flux_density(1.0, centre, 1.0))
        how += f" converted at the band centre {centre:g} um"
    if per_sr and area:
        raise InputError(path, f"BUNIT {bunit!r}: per steradian and per {area}")
    if not (per_sr or area == "arcsec2"):
        return factor, how + " (per pixel)"
    if not math.isfinite(scale):
        raise InputError(
            path,
            f"BUNIT {bunit!r} is a surface brightness but the pixel scale is unknown (no "
            "PIXSCALE, WCS or CAMNAME); give pixel_scale= [arcsec]",
        )
    solid = scale * scale * (_ARCSEC_IN_SR if per_sr else 1.0)
    unit = "sr" if per_sr else "arcsec2"
    return factor * solid, how + f" times the pixel's {solid:.6g} {unit}"


def _plain(header, skipped: list[str]) -> dict:
    """The header as a dict (first value of each keyword); cards astropy cannot parse (an
    unquoted string, a bad number) are left out and their keywords added to ``skipped``."""
    values: dict = {}
    for card in header.cards:
        try:
            keyword, value = card.keyword.upper(), card.value
        except Exception:  # astropy's VerifyError and ValueError for malformed cards
            skipped.append(limits.one_line(str(card.image[:8]).strip(), 8))
            continue
        if keyword not in values and keyword not in ("", "COMMENT", "HISTORY"):
            values[keyword] = value
    return values


def _declared_shape(path, hdu) -> tuple[int, ...]:
    header = hdu.header
    try:
        naxis = int(header.get("NAXIS", 0))
        shape = tuple(int(header.get(f"NAXIS{i}", 0)) for i in range(naxis, 0, -1))
    except (TypeError, ValueError) as error:
        raise InputError(path, f"bad NAXIS cards ({limits.reason(error)})") from error
    return shape


def _image_hdu(path, hdul, which):
    """The image HDU: ``which`` (index or EXTNAME), else the primary when it has data, else
    an extension named SCI, else the first image extension with data."""
    from astropy.io.fits import CompImageHDU, ImageHDU, PrimaryHDU

    images = (PrimaryHDU, ImageHDU, CompImageHDU)
    if which is not None:
        if isinstance(which, int):
            if not 0 <= which < len(hdul):
                raise InputError(path, f"no HDU {which} (the file has {len(hdul)})")
            hdu = hdul[which]
        else:
            hdu = next(
                (h for h in hdul if str(h.header.get("EXTNAME", "")).upper() == which.upper()),
                None,
            )
            if hdu is None:
                raise InputError(path, f"no extension named {which!r}")
        if not isinstance(hdu, images):
            raise InputError(path, f"HDU {which!r} is not an image")
        return hdu
    candidates = [h for h in hdul if isinstance(h, images) and _declared_shape(path, h)]
    named = [h for h in candidates if str(h.header.get("EXTNAME", "")).upper() == "SCI"]
    if candidates and candidates[0] is hdul[0]:
        return hdul[0]
    if named:
        return named[0]
    if candidates:
        return candidates[0]
    raise InputError(path, "no image data in any HDU")


def _check_options(band, distance, calibration, pixel_scale, hdu):
    if band is not None:
        if not isinstance(band, str) or band.lower() not in set(_bands.names()):
            raise OptionError(f"band must be one of {', '.join(_bands.names())}; got {band!r}")
        band = band.lower()
    checked = []
    for name, value in (
        ("distance", distance),
        ("calibration", calibration),
        ("pixel_scale", pixel_scale),
    ):
        if value is not None:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise OptionError(f"{name} must be a number > 0; got {value!r}") from None
            if not (value > 0 and math.isfinite(value)):
                raise OptionError(f"{name} must be finite and > 0; got {value}")
        checked.append(value)
    if hdu is not None and (isinstance(hdu, bool) or not isinstance(hdu, (int, str))):
        raise OptionError(f"hdu must be an HDU index or an EXTNAME; got {hdu!r}")
    return (band, *checked, hdu)


# ---------------------------------------------------------------------------------------------
# The reader


def read_ao_image(
    path,
    *,
    band: str | None = None,
    distance: float | None = None,
    calibration: float | None = None,
    pixel_scale: float | None = None,
    hdu: int | str | None = None,
    timeout: float | None = limits.DEFAULT_TIMEOUT,
    max_memory: float | None = None,
) -> xr.DataArray:
    """Read one adaptive-optics image of Io (Keck NIRC2, Gemini NIRI; one band per file).

    Parameters
    ----------
    path : str or path-like
        FITS file (plain or gzip/bzip2/xz/zip compressed): the image is the primary HDU when
        it has data, else the extension named ``SCI``, else the first image extension.
    band : str, optional
        Band name of :mod:`thermal.bands` (``"nirc2_lp"``); overrides the header's filter and
        is required when the header has none or one that is not known.
    distance : float, optional
        Observer-Io distance [m] (overrides a header ``DELTA`` [au]); needed for intensities.
    calibration : float, optional
        Flux density [Jy] of one data unit in one pixel, for an image in detector units
        (``DN``, ``ADU``, counts or electrons, per second or not, or no ``BUNIT``). Refused for
        an image already in Jy.
    pixel_scale : float, optional
        Pixel scale [arcsec] (overrides the header's ``PIXSCALE``, WCS or NIRC2 ``CAMNAME``).
    hdu : int or str, optional
        The image HDU by index or ``EXTNAME`` instead of the default choice.
    timeout : float or None, optional
        Deadline [s] of the read (default 60; :func:`thermal.io.limits.deadline`), a
        :class:`~thermal.io.limits.ReadTimeout` when it passes; None: no deadline.
    max_memory : float, optional
        Memory budget [bytes] of the read (default: the budget in force,
        :func:`thermal.io.limits.memory_budget`).

    Returns
    -------
    xarray.DataArray
        ``flux_density (line, sample)`` [Jy] per pixel, float64, NaN where the file has no
        finite value. Coordinates: ``line``, ``sample`` (0-based), scalars ``band`` (name),
        ``time`` (datetime64, NaT when the header has none), ``distance`` [m] and
        ``pixel_scale`` [arcsec] (NaN when unknown). Attributes: ``units`` (``"Jy"``),
        ``original_units`` (``BUNIT``), ``calibration`` (how the values were converted),
        ``filter`` (the header's filter names), ``instrument``, ``psf_fwhm`` [pixel] (the
        diffraction limit 1.03 lambda / D at the band centre for NIRC2 and NIRI with a known
        pixel scale, else NaN; an AO PSF is somewhat wider), ``pixel_scale_source``,
        ``masked_values``, ``product_id``, ``source`` and ``fits_warnings`` (astropy's
        warnings about the header, when there were any).

    Raises
    ------
    InputError
        A file that is not a readable FITS image (truncated, not FITS, no image, 3-D data, a
        declared size beyond the memory budget), no or an unknown filter without ``band=``,
        detector units without ``calibration=``, a unit that is not a flux density, a bad
        header value (``DATE-OBS``, ``PIXSCALE``...). One line naming the file.
    OptionError
        A bad option (a ``ValueError``): an unknown band, a distance, calibration or pixel
        scale that is not a finite number > 0, ``calibration=`` for a calibrated image, a
        timeout or memory budget that is not > 0.
    """
    band, distance, calibration, pixel_scale, hdu = _check_options(
        band, distance, calibration, pixel_scale, hdu
    )
    path_text = os.fspath(path)
    try:
        watch = limits.deadline(timeout, path_text)
        if max_memory is not None:
            limits.checked_budget(max_memory)
        budget = limits.memory_budget(max_memory)
    except ValueError as error:
        raise OptionError(str(error)) from None
    try:
        with budget, reading(path_text), watch:
            check_file(path_text)
            return _read(path_text, band, distance, calibration, pixel_scale, hdu)
    except limits.Expired as expired:  # a deadline that passed as its block ended
        raise limits.expired_error(expired) from expired


def _read(path, band, distance, calibration, pixel_scale, which) -> xr.DataArray:
    try:
        from astropy.io import fits
        from astropy.utils.exceptions import AstropyWarning
    except ImportError as error:  # pragma: no cover - astropy is in the io extra
        raise InputError(path, "reading FITS needs astropy (pip install thermal[io])") from error
    from thermal.io.jwst import fits_structure

    fits_structure(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AstropyWarning)
        try:
            hdul = fits.open(path, memmap=False)
        except Exception as error:  # astropy, gzip, zlib, lzma, zipfile raise many types
            raise InputError(path, f"not a readable FITS file: {limits.reason(error)}") from (
                error
            )
        with hdul:
            image = _image_hdu(path, hdul, which)
            shape = _declared_shape(path, image)
            try:  # what astropy will read: with repeated NAXISn cards, the last ones
                actual = tuple(int(n) for n in image.shape)
            except Exception as error:  # astropy raises several types for bad axis cards
                raise InputError(path, f"bad NAXIS cards ({limits.reason(error)})") from error
            if actual != shape:
                raise InputError(
                    path,
                    f"conflicting NAXISn cards (the image is {' x '.join(map(str, shape))} by "
                    f"the first ones, {' x '.join(map(str, actual))} by the last); refused",
                )
            if len(shape) < 2 or any(n <= 0 for n in shape):
                raise InputError(path, "the image HDU has no 2-D data")
            if len(shape) > 2 and math.prod(shape[:-2]) != 1:
                raise InputError(
                    path,
                    f"{len(shape)}-D data ({' x '.join(map(str, shape))}): one 2-D image per "
                    "file is read (split the cube into frames)",
                )
            limits.check_memory(
                path,
                math.prod(shape) * BYTES_PER_VALUE,
                f"the image ({shape[-2]} x {shape[-1]} pixels)",
            )
            headers = [image.header] if image is hdul[0] else [image.header, hdul[0].header]
            skipped: list[str] = []
            headers = [_plain(h, skipped) for h in headers]  # no more astropy parsing after
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                # signalling NaNs, BSCALE overflows: non-finite pixels, masked below
                warnings.simplefilter("ignore", RuntimeWarning)
                data = image.data
                if data is None or data.ndim < 2:
                    raise InputError(path, "the image HDU has no 2-D data")
                data = np.array(data, dtype=float).reshape(shape[-2:])
            product_id = str(
                _lookup(headers, "FILENAME")
                or _lookup(headers, "DATAFILE")
                or os.path.basename(path)
            )
    fits_warnings = [f"unparsable card {key!r} ignored" for key in skipped]
    for warning in caught:
        if issubclass(warning.category, AstropyWarning):
            fits_warnings.append(limits.one_line(warning.message, 200))
        else:  # not astropy's header complaints: let them reach the caller's filters
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )

    instrument = limits.one_line(str(_lookup(headers, "INSTRUME") or ""), 40).strip().upper()
    band, filters = _band(path, headers, instrument, band)
    time = _time(path, headers)
    if pixel_scale is not None:
        scale, scale_source = pixel_scale, "pixel_scale option"
    else:
        scale, scale_source = _pixel_scale(path, headers, instrument)
    bunit = _lookup(headers, "BUNIT")
    bunit = None if bunit is None else limits.one_line(str(bunit), 60).strip()
    centre = _bands.get(band).centre  # [um]
    factor, how = _to_jy_per_pixel(path, bunit, scale, calibration, centre)
    if distance is None:
        delta = _number(path, headers, "DELTA")
        if delta is not None:
            if not delta > 0:
                raise InputError(path, f"DELTA = {delta} must be > 0 [au]")
            distance = delta * ASTRONOMICAL_UNIT

    with np.errstate(over="ignore", invalid="ignore"):
        data *= factor
    bad = ~np.isfinite(data)
    data[bad] = np.nan
    fwhm = math.nan
    diameter = next((d for name, d in TELESCOPE_DIAMETERS.items() if name in instrument), None)
    if diameter is not None and math.isfinite(scale):
        fwhm = 1.03 * centre * 1e-6 / diameter * (180.0 / math.pi * 3600.0) / scale
    attrs = {
        "units": "Jy",
        "long_name": "flux density per pixel",
        "original_units": bunit if bunit is not None else "none (detector units)",
        "calibration": how,
        "filter": filters,
        "instrument": instrument,
        "psf_fwhm": fwhm,
        "pixel_scale_source": scale_source,
        "masked_values": int(bad.sum()),
        "product_id": limits.one_line(product_id, 200),
        "source": path,
    }
    if fits_warnings:
        attrs["fits_warnings"] = "; ".join(fits_warnings[:10])
    lines, samples = data.shape
    return xr.DataArray(
        data,
        dims=("line", "sample"),
        coords={
            "line": ("line", np.arange(lines), {"long_name": "image line (FITS NAXIS2, 0-based)"}),
            "sample": (
                "sample",
                np.arange(samples),
                {"long_name": "image sample (FITS NAXIS1, 0-based)"},
            ),
            "band": ((), band, {"long_name": "filter band (thermal.bands)"}),
            "time": ((), time, {"standard_name": "time", "long_name": "time of observation"}),
            "distance": (
                (),
                math.nan if distance is None else float(distance),
                {"units": "m", "long_name": "observer-target distance"},
            ),
            "pixel_scale": ((), float(scale), {"units": "arcsec", "long_name": "pixel scale"}),
        },
        name="flux_density",
        attrs=attrs,
    )
