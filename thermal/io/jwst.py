"""JWST NIRSpec IFU and MIRI MRS spectral cubes (``*_s3d.fits``, pipeline ``cube_build``).

Extensions are addressed by ``EXTNAME`` (``SCI``, ``ERR``, ``DQ``; their order is not fixed).
``SCI``/``ERR`` are surface brightness in MJy sr-1 (``BUNIT``), converted to spectral radiance
[W m-2 sr-1 um-1] with :func:`thermal.units.surface_brightness_to_radiance`
(1 MJy sr-1 = 2.998e-6 / lambda[um]^2). Spaxels with a non-zero ``DQ`` or non-positive ``ERR``
are set to NaN (counted in ``masked_values``). With ``distance=`` [m] (observer-Io),
``pixel_area`` = ``PIXAR_SR * distance**2`` [m2], the projected spaxel area.

The wavelength of each plane is axis 3 of the ``SCI`` header's FITS WCS, evaluated by
:mod:`astropy.wcs` (wcslib):

- ``CTYPE3 = 'WAVE'``: linear, ``CRVAL3 + CDELT3 * PC3_3 * (p - CRPIX3)`` (or ``CD3_3``);
  ``CRVAL3`` and ``CDELT3`` or ``CD3_3`` are required.
- ``CTYPE3 = 'WAVE-TAB'``: tabulated (FITS WCS paper III), as ``cube_build`` writes cubes
  with a non-linear wavelength grid: ``PS3_0`` names the binary-table extension (``WCS-TABLE``)
  and ``PS3_1`` its column (``wavelength``) holding one wavelength per plane.

Any other ``CTYPE3`` (or none) is an :class:`InputError` naming it, and so is a spectral axis
mixed with the spatial ones (``PC3_1``/``PC3_2``). ``CUNIT3`` (default ``um``) converts the
values to um; wcslib is given the header without ``CUNIT3`` so that it evaluates the axis in
that unit instead of converting to metres and back (which moves values by an ulp).

The file is untrusted (``SECURITY.md``). Before astropy sees it, :func:`fits_structure` walks
its HDUs (from a streaming decompressor for gzip, bzip2, xz and zip files, which astropy opens
transparently): each header must end (``END``) within :data:`MAX_HEADER_BLOCKS` blocks, at
most :data:`MAX_HDUS` HDUs, each HDU's declared data must be in the file, and a compressed
file must not expand past the memory budget (:func:`thermal.io.limits.current_max_memory`;
measured by decompressing with that cap, nothing kept). The cube's declared size is then
compared with the budget before its data are read.

Reference: JWST pipeline ``cube_build`` documentation, https://jwst-pipeline.readthedocs.io.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
import os
import re
import warnings
import zipfile

import numpy as np
import xarray as xr

from thermal.io import limits
from thermal.io.formats import OptionError
from thermal.layout import RADIANCE_STANDARD_NAME, InputError, finalise
from thermal.units import conversion_factor, surface_brightness_to_radiance

__all__ = ["BYTES_PER_VALUE", "MAX_HDUS", "MAX_HEADER_BLOCKS", "fits_structure", "read_s3d"]

SPECTRAL_TYPES = ("WAVE", "WAVE-TAB")
"""The ``CTYPE3`` values read: linear and tabulated vacuum wavelength."""
BLOCK = 2880
"""FITS block size [bytes]."""
MAX_HEADER_BLOCKS = 1000
"""Longest header read [blocks of 36 cards] (s3d headers have a few hundred cards)."""
MAX_HDUS = 1000
"""Most HDUs in a file read (an s3d cube has about 6)."""
BYTES_PER_VALUE = 80
"""Peak memory [bytes] of reading one value of the cube (SCI, ERR and DQ as read and as
float64, the mask, radiance and its uncertainty, the checks of ``finalise``)."""
_CHUNK = 1 << 20
# the signatures astropy recognises (astropy.io.fits.file), and how to stream them
_MAGIC = (
    (b"\x1f\x8b\x08", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"BZ", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x1f\x9d", "LZW"),
)


class _Counted:
    """A stream that counts what it gives and refuses to give more than ``limit`` bytes."""

    def __init__(self, stream, limit: int, path, compression: str):
        self.stream, self.limit, self.path, self.compression = stream, limit, path, compression
        self.count = 0

    def read(self, size: int) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        if self.count > self.limit:
            if self.compression == "plain":  # the file grew while it was read
                raise InputError(self.path, "the file changed while it was read")
            raise InputError(
                self.path,
                f"{self.compression}-compressed FITS expands to more than "
                f"{limits.format_bytes(self.limit)} (max_memory); refused before reading",
            )
        return data

    def skip(self, size: int) -> int:
        """Read and drop up to ``size`` bytes; the number dropped."""
        done = 0
        while done < size:
            data = self.read(min(_CHUNK, size - done))
            if not data:
                break
            done += len(data)
        return done


def _open_stream(path, compression: str):
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "bzip2":
        return bz2.open(path, "rb")
    if compression == "xz":
        return lzma.open(path, "rb")
    if compression == "zip":
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
        if len(names) != 1:
            archive.close()
            raise InputError(path, f"a zip file with {len(names)} members (one FITS file needed)")
        return archive.open(names[0])
    raise InputError(path, f"{compression}-compressed FITS is not read; decompress it first")


_STRUCTURAL = re.compile(r"^(NAXIS\d*|BITPIX|PCOUNT|GCOUNT|GROUPS|ZNAXIS\d*|ZBITPIX|ZCMPTYPE)$")
"""Header keywords that decide the size of an HDU's data."""


def _card_value(card: str) -> str | None:
    if card[8:10] != "= ":
        return None
    return card[10:].split("/", 1)[0].strip()


def _header(path, stream, number: int) -> dict | None:
    """The structural keywords of the next header (first occurrence of each), or None at the
    end of the file or at bytes that are not an extension (astropy stops there too)."""
    cards: dict[str, str] = {}
    for index in range(MAX_HEADER_BLOCKS):
        block = stream.read(BLOCK)
        if index == 0:
            expected = b"SIMPLE  =" if number == 0 else b"XTENSION="
            if not block.startswith(expected):
                if number == 0:
                    raise InputError(path, "not a FITS file (no SIMPLE card at the start)")
                return None
        if len(block) < BLOCK:
            raise InputError(path, f"HDU {number}: the header is truncated (no END card)")
        text = block.decode("latin-1")
        for start in range(0, BLOCK, 80):
            card = text[start : start + 80]
            keyword = card[:8].strip().upper()
            if keyword == "END":
                return cards
            value = _card_value(card)
            if value is None:
                continue
            if keyword in cards:
                if _STRUCTURAL.match(keyword) and cards[keyword] != value:
                    # astropy would take the last card, these checks the first: refuse both
                    raise InputError(
                        path, f"HDU {number}: {keyword} is given twice with different values"
                    )
                continue
            cards[keyword] = value
    raise InputError(
        path,
        f"HDU {number}: no END card in the first {MAX_HEADER_BLOCKS} header blocks "
        f"({MAX_HEADER_BLOCKS * 36:,} cards); refused",
    )


def _integer_card(path, cards: dict, keyword: str, number: int, default=None) -> int:
    text = cards.get(keyword)
    if text is None:
        if default is None:
            raise InputError(path, f"HDU {number}: no {keyword} card")
        return default
    try:
        value = int(text)
    except ValueError:
        raise InputError(
            path, f"HDU {number}: {keyword} = {limits.one_line(text, 40)} is not an integer"
        ) from None
    return value


def _data_bytes(path, cards: dict, number: int) -> int:
    """Bytes of data an HDU's header declares (FITS standard 4.4.1.1, 7.1.3)."""
    bitpix = _integer_card(path, cards, "BITPIX", number)
    if bitpix not in (8, 16, 32, 64, -32, -64):
        raise InputError(path, f"HDU {number}: BITPIX = {bitpix} (not a FITS data type)")
    naxis = _integer_card(path, cards, "NAXIS", number)
    if not 0 <= naxis <= 999:
        raise InputError(path, f"HDU {number}: NAXIS = {naxis} (0 to 999)")
    if naxis == 0:
        return 0
    axes = [_integer_card(path, cards, f"NAXIS{i}", number) for i in range(1, naxis + 1)]
    if any(n < 0 for n in axes):
        raise InputError(path, f"HDU {number}: a negative NAXISn")
    if axes[0] == 0 and naxis > 1 and cards.get("GROUPS", "").upper() == "T":
        axes = axes[1:]  # random groups
    pcount = _integer_card(path, cards, "PCOUNT", number, default=0)
    gcount = _integer_card(path, cards, "GCOUNT", number, default=1)
    if pcount < 0 or gcount < 0:
        raise InputError(path, f"HDU {number}: a negative PCOUNT or GCOUNT")
    return abs(bitpix) // 8 * gcount * (pcount + math.prod(axes))


def fits_structure(path) -> list[tuple[str, int]]:
    """Walk the HDUs of a (possibly compressed) FITS file without astropy, with limits.

    Parameters
    ----------
    path : str or path-like
        A FITS file, plain or gzip, bzip2, xz or zip compressed.

    Returns
    -------
    list of (str, int)
        ``(EXTNAME or "", declared data bytes)`` of each HDU.

    Raises
    ------
    InputError
        Not FITS; a header without ``END`` within :data:`MAX_HEADER_BLOCKS` blocks; more than
        :data:`MAX_HDUS` HDUs; declared data beyond the end of the file; a compressed file
        that expands past the memory budget (decompression stops there) or an LZW one.
    """
    path = os.fspath(path)
    with open(path, "rb") as handle:
        magic = handle.read(8)
    compression = next((name for sig, name in _MAGIC if magic.startswith(sig)), None)
    budget = limits.current_max_memory()
    if compression is None:
        size = os.path.getsize(path)
        with open(path, "rb") as raw:
            return _walk(path, _Counted(raw, size, path, "plain"), size)
    with _open_stream(path, compression) as raw:
        stream = _Counted(raw, budget, path, compression)
        hdus = _walk(path, stream, None)
        stream.skip(budget + 1)  # the whole stream must fit the budget, trailing bytes too
        return hdus


def _walk(path, stream: _Counted, size: int | None) -> list[tuple[str, int]]:
    hdus = []
    while True:
        number = len(hdus)
        cards = _header(path, stream, number)
        if cards is None:
            return hdus
        if number >= MAX_HDUS:
            raise InputError(path, f"more than {MAX_HDUS} HDUs; refused")
        declared = _data_bytes(path, cards, number)
        name = cards.get("EXTNAME", "").strip("' ").upper()
        hdus.append((name, declared))
        padded = -(-declared // BLOCK) * BLOCK
        if size is not None:  # a plain file: seek over the data
            end = stream.count + declared
            if end > size:
                raise InputError(
                    path,
                    f"HDU {number}{f' ({name})' if name else ''} declares "
                    f"{limits.format_bytes(declared)} of data but the file ends "
                    f"{limits.format_bytes(size - stream.count)} after its header "
                    "(truncated or corrupt)",
                )
            stream.stream.seek(min(stream.count + padded, size))
            stream.count = min(stream.count + padded, size)
            if stream.count >= size:
                return hdus
        else:
            dropped = stream.skip(padded)
            if dropped < declared:
                raise InputError(
                    path,
                    f"HDU {number}{f' ({name})' if name else ''} declares "
                    f"{limits.format_bytes(declared)} of data but the decompressed file "
                    "ends before (truncated or corrupt)",
                )
            if dropped < padded:
                return hdus


def _declared_shape(path, hdu) -> tuple[int, ...] | None:
    """The data shape (NAXISn..NAXIS1, as numpy orders it) an image HDU's header declares,
    without reading its data; None without the HDU or data."""
    if hdu is None:
        return None
    header = hdu.header
    try:
        naxis = int(header.get("NAXIS", 0))
        shape = tuple(int(header.get(f"NAXIS{i}", 0)) for i in range(naxis, 0, -1))
    except (TypeError, ValueError) as error:
        raise InputError(path, f"{hdu.name}: bad NAXIS cards ({limits.reason(error)})") from error
    if not shape or any(n <= 0 for n in shape):
        return None
    return shape


def _hdu(hdul, name):
    for hdu in hdul:
        if str(hdu.header.get("EXTNAME", "")).upper() == name:
            return hdu
    return None


def _wavelengths(path, hdul, header, n: int) -> np.ndarray:
    """Wavelengths [um] of the ``n`` planes of a cube whose ``SCI`` header is ``header``."""
    ctype = str(header.get("CTYPE3", "")).strip()
    if ctype.upper() not in SPECTRAL_TYPES:
        found = f"CTYPE3 {ctype!r}" if ctype else "no CTYPE3"
        raise InputError(
            path,
            f"{found} in the SCI header: the wavelength axis must be 'WAVE' (linear) or "
            "'WAVE-TAB' (tabulated)",
        )
    if ctype.upper() == "WAVE" and (
        "CRVAL3" not in header or ("CDELT3" not in header and "CD3_3" not in header)
    ):
        raise InputError(path, "no linear wavelength WCS on axis 3 (CRVAL3, CDELT3/CD3_3)")
    unit = str(header.get("CUNIT3", "um")).strip() or "um"
    try:
        factor = conversion_factor(unit, "um")
    except ValueError as error:
        raise InputError(path, f"CUNIT3 {unit!r} is not a length") from error
    from astropy.wcs import WCS, FITSFixedWarning

    # wcslib would convert a spectral axis to metres (and the values by one ulp on the way
    # back); without CUNIT3 it works in the header's own unit, converted here with `factor`
    own_unit = header.copy()
    own_unit.remove("CUNIT3", ignore_missing=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(own_unit, fobj=hdul)
            if wcs.naxis != 3 or wcs.wcs.spec != 2:
                raise ValueError("axis 3 is not a spectral axis")
            coupling = wcs.wcs.get_pc()[2, :2]
            if np.any(coupling != 0):
                raise InputError(
                    path,
                    f"the wavelength axis is mixed with the spatial ones (PC3_1, PC3_2 = "
                    f"{coupling[0]:g}, {coupling[1]:g}); not supported",
                )
            world = wcs.sub([3]).all_pix2world(np.arange(n, dtype=float), 0)[0]
    except InputError:
        raise
    except Exception as error:  # astropy/wcslib raise many types for a bad WCS or table
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(path, f"cannot evaluate the {ctype} wavelength axis: {detail}") from (
            error
        )
    world = np.asarray(world, dtype=float)
    if world.shape != (n,) or not np.all(np.isfinite(world)):
        bad = int(np.count_nonzero(~np.isfinite(world)))
        raise InputError(path, f"the {ctype} axis gives no wavelength for {bad} of {n} planes")
    return world * factor if factor != 1.0 else world


def read_s3d(path, *, distance: float | None = None) -> xr.Dataset:
    """Read a JWST ``s3d`` cube into the observation layout.

    Parameters
    ----------
    path : str or path-like
        FITS file with ``SCI`` (and optionally ``ERR``, ``DQ``) image extensions of shape
        (wavelength, y, x).
    distance : float, optional
        Observer-target distance [m]; gives ``pixel_area`` [m2] from ``PIXAR_SR``.

    Returns
    -------
    xarray.Dataset
        ``radiance (y, x, wavelength)`` [W m-2 sr-1 um-1], ``radiance_uncertainty``.

    Raises
    ------
    InputError
        Not a readable FITS file or s3d cube, a structure or size beyond the limits of
        :func:`fits_structure`, a cube larger than the memory budget, an unknown wavelength
        axis or unit.
    """
    if distance is not None and not distance > 0:
        raise OptionError(f"distance must be > 0 [m]; got {distance}")
    try:
        from astropy.io import fits
    except ImportError as error:  # pragma: no cover - astropy is in the io extra
        raise InputError(path, "reading FITS needs astropy (pip install thermal[io])") from error
    try:
        fits_structure(path)
        hdul = fits.open(path, memmap=False)
    except InputError:
        raise
    except Exception as error:  # astropy, gzip, zlib, lzma, zipfile raise many types
        raise InputError(path, f"not a readable FITS file: {limits.reason(error)}") from error
    with hdul:
        sci = _hdu(hdul, "SCI")
        shape = _declared_shape(path, sci)
        if shape is None or len(shape) != 3:
            raise InputError(path, "no 3-D SCI extension (not an s3d cube)")
        limits.check_memory(
            path,
            math.prod(shape) * BYTES_PER_VALUE,
            f"the SCI cube ({' x '.join(map(str, shape))} values)",
        )
        if sci.data is None or sci.data.ndim != 3:
            raise InputError(path, "no 3-D SCI extension (not an s3d cube)")
        header = sci.header
        data = np.asarray(sci.data, dtype=float)
        err = _hdu(hdul, "ERR")
        for extension in (err, _hdu(hdul, "DQ")):
            other = _declared_shape(path, extension)
            if other is not None and math.prod(other) > math.prod(shape):
                raise InputError(
                    path,
                    f"{extension.name} extension ({' x '.join(map(str, other))}) is larger "
                    "than the SCI cube",
                )
        sigma = None if err is None or err.data is None else np.asarray(err.data, dtype=float)
        dq = _hdu(hdul, "DQ")
        flags = None if dq is None or dq.data is None else np.asarray(dq.data)
        wavelength = _wavelengths(path, hdul, header, data.shape[0])
        primary = hdul[0].header
        attrs = {
            "product_id": str(primary.get("FILENAME", os.path.basename(str(path)))),
            "instrument": f"JWST {primary.get('INSTRUME', '')}".strip(),
            "platform": "JWST",
        }
        for key in ("PROGRAM", "OBSERVTN", "TARGNAME", "DATE-OBS", "FILTER", "GRATING", "CHANNEL"):
            if key in primary:
                attrs[f"jwst_{key.lower().replace('-', '_')}"] = str(primary[key])

    unit = str(header.get("BUNIT", "MJy/sr")).strip()
    try:
        to_mjy_sr = conversion_factor(unit, "MJy sr-1")
    except ValueError as error:
        raise InputError(path, f"BUNIT {unit!r} is not a surface brightness per frequency") from (
            error
        )

    bad = ~np.isfinite(data)
    if flags is not None:
        bad |= flags != 0
    if sigma is not None:
        bad |= ~(sigma > 0)
    data[bad] = np.nan
    lam = wavelength[:, None, None]
    radiance = surface_brightness_to_radiance(data * to_mjy_sr, lam)
    dims = ("wavelength", "y", "x")
    common = {
        "units": "W m-2 sr-1 um-1",
        "original_units": unit,
        "comment": "converted from surface brightness per frequency: L = 1e-20 c F / lambda^2",
    }
    variables = {
        "radiance": (
            dims,
            radiance,
            {**common, "standard_name": RADIANCE_STANDARD_NAME},
        )
    }
    if sigma is not None:
        sigma = np.where(bad, np.nan, sigma)
        variables["radiance_uncertainty"] = (
            dims,
            surface_brightness_to_radiance(sigma * to_mjy_sr, lam),
            dict(common),
        )
    ds = xr.Dataset(
        variables,
        coords={
            "wavelength": ("wavelength", wavelength, {"units": "um"}),
            "y": ("y", np.arange(data.shape[1]), {"long_name": "cube row (0-based)"}),
            "x": ("x", np.arange(data.shape[2]), {"long_name": "cube column (0-based)"}),
        },
        attrs=attrs,
    )
    ds.attrs["masked_values"] = int(bad.sum())
    pixar = header.get("PIXAR_SR")
    if distance is not None:
        if pixar is None:
            raise InputError(path, "distance given but the SCI header has no PIXAR_SR")
        ds["pixel_area"] = (
            (),
            float(pixar) * distance**2,
            {"units": "m2", "long_name": "projected spaxel area at the target"},
        )
    return finalise(ds, path, source_format="jwst-s3d")
