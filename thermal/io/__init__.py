"""Readers into the observation layout and the CF/ACDD results writer.

- :func:`open_observation` reads any supported file into the observation layout of
  ``../shared/spec.md`` (canonical units, original unit strings kept as ``original_units``,
  product ids in ``product_id``): netCDF in the layout, CSV and AAS MRT photometry tables,
  Juno JIRAM PDS3 RDR products (imager and spectrometer), JWST ``s3d`` FITS cubes.
- :func:`write_results` writes a fit result (or any Dataset) as CF-1.11/ACDD-1.3 netCDF4,
  atomically.

Problems with an input raise :class:`InputError` (a ``ValueError``) whose message is one line,
``"<file>: <problem>"``.
"""

from __future__ import annotations

import os

from thermal.layout import InputError
from thermal.io.results import write_results

__all__ = ["InputError", "detect_format", "open_observation", "write_results"]

_DATA_SUFFIXES = (".img", ".dat", ".qub")


def detect_format(path) -> str:
    """Name of the reader for ``path``: netcdf, csv, mrt, jiram or fits.

    Detection looks at the first bytes (netCDF/HDF5 and FITS signatures, ``PDS_VERSION_ID``,
    MRT ``Title:``/``Byte-by-byte`` headers) and then at the extension.

    Raises
    ------
    InputError
        Missing path, directory, empty file, or an unrecognised format.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise InputError(path, "is a directory, not an observation file")
    if not os.path.exists(path):
        raise InputError(path, "no such file")
    size = os.path.getsize(path)
    if size == 0:
        raise InputError(path, "empty file (0 bytes)")
    with open(path, "rb") as handle:
        head = handle.read(4096)
    suffix = os.path.splitext(path)[1].lower()
    if head.startswith((b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")):
        return "netcdf"
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    text = head.decode("latin-1").lstrip("\ufeff")
    if text.lstrip().startswith("PDS_VERSION_ID") or suffix == ".lbl":
        return "jiram"
    if suffix in _DATA_SUFFIXES:
        label = _sibling_label(path)
        if label is not None:
            return "jiram"
        raise InputError(path, "PDS data file without a label (.LBL) beside it")
    if suffix in (".nc", ".nc4", ".cdf", ".h5"):
        return "netcdf"  # let the netCDF reader report what is wrong with it
    if suffix in (".fits", ".fit", ".fts"):
        return "fits"
    if text.startswith("Title:") or "Byte-by-byte Description" in text:
        return "mrt"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    raise InputError(path, f"unrecognised file format (extension {suffix or 'none'!r})")


def _sibling_label(path) -> str | None:
    stem = os.path.splitext(os.path.basename(path))[0].lower()
    folder = os.path.dirname(os.path.abspath(path))
    for name in os.listdir(folder):
        base, ext = os.path.splitext(name)
        if base.lower() == stem and ext.lower() == ".lbl":
            return os.path.join(folder, name)
    return None


def label_for(path) -> str:
    """The PDS3 label of a JIRAM data file (itself if ``path`` is a label)."""
    if os.path.splitext(os.fspath(path))[1].lower() in _DATA_SUFFIXES:
        label = _sibling_label(path)
        if label is not None:
            return label
    return os.fspath(path)


def open_observation(path, **options):
    """Read an observation file into the observation layout.

    Parameters
    ----------
    path : str or path-like
        netCDF (``.nc``), CSV or MRT photometry table, JIRAM PDS3 label (``.LBL``; a data file
        ``.IMG``/``.DAT`` is opened through the label beside it), JWST ``s3d`` FITS.
    **options
        Passed to the format's reader: JIRAM ``wavelengths`` [um], ``band_integrated``,
        ``distance`` [m]; JWST ``distance`` [m]. ``format=`` forces a reader.

    Returns
    -------
    xarray.Dataset
        Spectral dim ``wavelength`` [um] or ``band``; ``intensity`` [W sr-1 um-1] or
        ``radiance`` [W m-2 sr-1 um-1] with ``*_uncertainty``; optional ``pixel_area`` [m2],
        ``emission_angle`` [degree], ``distance`` [m], ``latitude``, ``longitude`` [degrees
        east]; attributes ``source``, ``product_id``, ``thermal_input_format``.

    Raises
    ------
    InputError
        With a one-line ``"<file>: <problem>"`` message.
    """
    fmt = options.pop("format", None) or detect_format(path)
    if fmt == "netcdf":
        from thermal.io.netcdf import read_netcdf

        reader, path = read_netcdf, os.fspath(path)
    elif fmt == "csv":
        from thermal.io.tables import read_csv

        reader = read_csv
    elif fmt == "mrt":
        from thermal.io.tables import read_mrt

        reader = read_mrt
    elif fmt == "jiram":
        from thermal.io.jiram import read_jiram

        reader, path = read_jiram, label_for(path)
    elif fmt == "fits":
        from thermal.io.jwst import read_s3d

        reader = read_s3d
    else:
        raise ValueError(f"format must be netcdf, csv, mrt, jiram or fits; got {fmt!r}")
    try:
        return reader(path, **options)
    except TypeError as error:
        if "unexpected keyword" in str(error):
            raise ValueError(f"{fmt} reader: {error}") from error
        raise
