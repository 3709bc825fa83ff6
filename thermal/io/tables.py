"""Photometry tables: CSV (``docs/formats.md``) and AAS machine-readable tables (MRT).

One row per observation of a hot spot, one column per band (named after the band in
:mod:`thermal.bands`, or for MRT a short name such as ``Lp`` as in de Kleer et al. 2019,
AJ 158:29, doi:10.3847/1538-3881/ab2380, Table 5), and its 1-sigma uncertainty
(``<band>_uncertainty``, or ``e_<column>`` in MRT). Intensities are GW um-1 sr-1 unless the
table says otherwise (a ``# units: Jy`` comment line in CSV, column units in MRT); flux
densities in Jy need the ``distance`` column [m] and are converted at the band centre.
Longitudes are degrees west in the tables and degrees east in the Dataset (the west value is
kept as ``longitude_west``).

Tables are untrusted (``SECURITY.md``): a table is read whole, so its size times
:data:`BYTES_PER_BYTE` must fit the memory budget (:func:`thermal.io.limits.current_max_memory`);
text that is not UTF-8 and CSV syntax errors are :class:`~thermal.layout.InputError` naming the
place.
"""

from __future__ import annotations

import csv
import math
import os
import re

import numpy as np
import xarray as xr

from thermal import bands as _bands
from thermal.io import limits
from thermal.layout import InputError, finalise
from thermal.units import conversion_factor, flux_density_to_intensity, west_to_east

__all__ = ["BYTES_PER_BYTE", "column_mapping", "read_csv", "read_mrt"]

DEFAULT_UNITS = "GW um-1 sr-1"
BYTES_PER_BYTE = 80
"""Peak memory [bytes] of reading one byte of a table (a Python object per cell: measured
24-64 for CSV, ~17 for MRT)."""
_METADATA = (
    "hotspot",
    "time",
    "latitude",
    "longitude_west",
    "distance",
    "emission_angle",
    "note",
)
# MRT column names used by de Kleer et al. (2019) Table 5 and Davies et al. (2024) Table A1
_MRT_ALIASES = {
    "name": "hotspot",
    "lat": "latitude",
    "lonw": "longitude_west",
    "longw": "longitude_west",
    "long": "longitude_west",
    "kc": "nirc2_kc",
    "h2o": "nirc2_h2o",
    "pah": "nirc2_pah",
    "lp": "nirc2_lp",
    "bralphacont": "nirc2_bracont",
    "bralpha": "nirc2_bra",
    "ms": "nirc2_ms",
}
_MRT_DATE = ("year", "mon", "day")
_META_LINE = re.compile(r"^#\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*)$")


def _check_size(path, kind: str) -> None:
    size = os.path.getsize(path)
    limits.check_memory(path, size * BYTES_PER_BYTE, f"the {kind} ({limits.format_bytes(size)})")


def _float(text: str, path, where: str) -> float:
    text = text.strip()
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        shown = limits.one_line(repr(text), 60)
        raise InputError(path, f"{where}: {shown} is not a number") from None


def _build(path, n, columns, units, extra_attrs, *, source_format) -> xr.Dataset:
    """Assemble the observation Dataset from parsed columns (name -> numpy array)."""
    band_names = [c for c in columns if c not in _METADATA and not c.endswith("_uncertainty")]
    for column in columns:
        if column.endswith("_uncertainty") and column[: -len("_uncertainty")] not in columns:
            raise InputError(path, f"column {column!r} has no matching band column")
    known = set(_bands.names())
    for name in band_names:
        if name.lower() not in known:
            raise InputError(
                path,
                f"unknown band name {name!r} in the column names; known bands: "
                f"{', '.join(_bands.names())}",
            )
    if not band_names:
        raise InputError(path, "no band columns (name them after `thermal bands`)")
    value = np.column_stack([columns[b] for b in band_names]).astype(float)
    with_sigma = [b for b in band_names if f"{b}_uncertainty" in columns]
    sigma = None
    if with_sigma:
        if len(with_sigma) != len(band_names):
            missing = sorted(set(band_names) - set(with_sigma))
            raise InputError(path, f"no uncertainty column for band(s) {', '.join(missing)}")
        sigma = np.column_stack([columns[f"{b}_uncertainty"] for b in band_names]).astype(float)
        orphan = np.isfinite(value) & ~np.isfinite(sigma)
        if np.any(orphan):
            row, col = np.argwhere(orphan)[0]
            raise InputError(
                path, f"row {row + 1}: {band_names[col]} has a value but no uncertainty"
            )

    obs = np.arange(n)
    coords = {"obs": ("obs", obs, {"long_name": "table row (0-based)"})}
    if "hotspot" in columns:
        coords["hotspot"] = ("obs", columns["hotspot"].astype(object), {"long_name": "hot spot"})
    if "note" in columns:
        coords["note"] = ("obs", columns["note"].astype(object), {"long_name": "note"})
    if "time" in columns:
        coords["time"] = ("obs", columns["time"], {"standard_name": "time", "long_name": "time"})
    for name, limit in (("latitude", 90.0), ("longitude_west", np.inf)):
        if name in columns:  # NaN: unknown; beyond the limit (or infinite): not a place
            values = columns[name].astype(float)
            wrong = ~np.isnan(values) & ~(np.isfinite(values) & (np.abs(values) <= limit))
            if np.any(wrong):
                row = int(np.flatnonzero(wrong)[0])
                bound = "in [-90, 90] degrees" if name == "latitude" else "finite [degree]"
                raise InputError(
                    path, f"row {row + 1}: {name} must be {bound}; got {values[row]:g}"
                )
    if "latitude" in columns:
        coords["latitude"] = (
            "obs",
            columns["latitude"].astype(float),
            {"units": "degrees_north", "standard_name": "latitude", "long_name": "latitude"},
        )
    if "longitude_west" in columns:
        west = columns["longitude_west"].astype(float)
        coords["longitude"] = (
            "obs",
            west_to_east(west),
            {
                "units": "degrees_east",
                "standard_name": "longitude",
                "long_name": "longitude (east, converted from the table's west longitude)",
            },
        )
        coords["longitude_west"] = (
            "obs",
            west,
            {"units": "degree", "long_name": "west longitude (as in the table)"},
        )
    for name, unit, long_name in (
        ("distance", "m", "observer-target distance"),
        ("emission_angle", "degree", "emission angle"),
    ):
        if name in columns:
            attrs = {"units": unit, "long_name": long_name}
            if name == "emission_angle":
                attrs["standard_name"] = "sensor_zenith_angle"
            coords[name] = ("obs", columns[name].astype(float), attrs)

    if conversion_factor_or_none(units, "Jy") is not None:
        if "distance" not in columns:
            raise InputError(path, f"flux densities in {units!r} need a 'distance' column [m]")
        distance = columns["distance"].astype(float)[:, None]
        if np.any(~(distance > 0) & np.isfinite(value).any(axis=1, keepdims=True)):
            raise InputError(path, "distance must be > 0 [m] on every row with data")
        centre = np.array([_bands.get(b).centre for b in band_names])
        jy = conversion_factor(units, "Jy")
        value = flux_density_to_intensity(value * jy, centre, distance)
        if sigma is not None:
            sigma = flux_density_to_intensity(sigma * jy, centre, distance)
        data_units = "W sr-1 um-1"
        conversion = (
            f"flux density [{units}] converted to intensity at the band centre: "
            "I = c F_nu / lambda^2 * distance^2"
        )
    else:
        data_units = units
        conversion = None

    attrs = {"units": data_units, "original_units": units}
    if conversion:
        attrs["comment"] = conversion
    data_vars = {"intensity": (("obs", "band"), value, attrs)}
    if sigma is not None:
        data_vars["intensity_uncertainty"] = (("obs", "band"), sigma, dict(attrs))
    coords["band"] = ("band", np.array(band_names, dtype=object))
    ds = xr.Dataset(data_vars, coords=coords, attrs=extra_attrs)
    return finalise(ds, path, source_format=source_format)


def conversion_factor_or_none(unit: str, to_unit: str) -> float | None:
    """``conversion_factor(unit, to_unit)``, or None when the units measure different things."""
    try:
        return conversion_factor(unit, to_unit)
    except ValueError:
        return None


def read_csv(
    path, *, unit: str | None = None, distance: float | None = None, columns=None
) -> xr.Dataset:
    """Read a CSV photometry table (layout in ``docs/formats.md``, "Ground-based photometry").

    Parameters
    ----------
    path : str or path-like
        CSV file. Leading ``# key: value`` comment lines are metadata; ``# units: <unit>``
        sets the intensity unit (default GW um-1 sr-1; ``Jy`` needs ``distance`` [m]).
    unit : str, optional
        The unit of the band columns, overriding the table's ``# units:`` line (an intensity
        such as ``W sr-1 um-1`` or ``GW um-1 sr-1``, or a flux density such as ``Jy``/``mJy``).
    distance : float, optional
        Observer-target distance [m] for flux densities, on rows without a ``distance`` cell
        (or in a table without the column).
    columns : dict or str, optional
        Column names of the file mapped to the layout's names (band names of
        :mod:`thermal.bands`, ``<band>_uncertainty``, ``hotspot``, ``time``, ``latitude``,
        ``longitude_west``, ``distance``, ``emission_angle``, ``note``), e.g.
        ``{"Lp": "nirc2_lp", "Lp_err": "nirc2_lp_uncertainty"}`` or the same as
        ``"Lp=nirc2_lp,Lp_err=nirc2_lp_uncertainty"``.

    Returns
    -------
    xarray.Dataset
        Dims ``(obs, band)``; ``intensity`` [W sr-1 um-1] and ``intensity_uncertainty``;
        coordinates ``hotspot``, ``time``, ``latitude`` [degrees_north], ``longitude``
        [degrees_east], ``longitude_west`` [degree], ``distance`` [m], ``emission_angle``
        [degree] where the table has them.

    Raises
    ------
    InputError
        Unknown columns (band names), unparseable cells, missing uncertainties.
    """
    mapping = column_mapping(columns)
    if unit is not None:
        check_unit(unit, "unit")
    if distance is not None and not (np.isfinite(distance) and distance > 0):
        raise ValueError(f"distance must be finite and > 0 [m]; got {distance}")
    _check_size(path, "CSV table")
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            lines = handle.read().splitlines()
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise InputError(
            path,
            f"not UTF-8 text: byte 0x{error.object[error.start]:02x} on line {line} (offset "
            f"{error.start}); save the table as UTF-8",
        ) from error
    meta: dict[str, str] = {}
    comments = []
    body = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            match = _META_LINE.match(stripped)
            if match:
                meta[match.group(1).lower()] = match.group(2).strip()
            else:
                comments.append(stripped.lstrip("#").strip())
        elif stripped:
            body.append(line)
    if not body:
        raise InputError(path, "no header row and no data rows")
    reader = csv.reader(body)
    try:
        names = [h.strip() for h in next(reader)]
        absent = [name for name in mapping if name not in names]
        if absent:
            raise InputError(
                path,
                f"columns maps {', '.join(map(repr, absent))}, which the table does not have "
                f"(its columns: {', '.join(names)})",
            )
        header = [mapping.get(name, name) for name in names]
        if len(set(header)) != len(header):
            raise InputError(path, "duplicate column names")
        rows = list(reader)
    except csv.Error as error:
        raise InputError(
            path, f"CSV syntax on table line {reader.line_num}: {limits.one_line(error)}"
        ) from error
    if not rows:
        raise InputError(path, "no data rows")
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise InputError(
                path, f"row {i + 1} has {len(row)} cells, the header has {len(header)}"
            )
    columns: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        cells = [row[j].strip() for row in rows]
        if name in ("hotspot", "note"):
            columns[name] = np.array(cells, dtype=object)
        elif name == "time":
            try:
                columns[name] = np.array(
                    [np.datetime64(c.rstrip("Z") or "NaT", "ns") for c in cells]
                )
            except ValueError:
                raise InputError(path, "time: cells must be ISO 8601 (2013-08-15T12:00)") from None
        else:
            key = name.lower()
            columns[key] = np.array(
                [_float(c, path, f"row {i + 1}, column {name!r}") for i, c in enumerate(cells)]
            )
    units = unit if unit is not None else meta.get("units", DEFAULT_UNITS)
    if conversion_factor_or_none(units, "W sr-1 um-1") is None and (
        conversion_factor_or_none(units, "Jy") is None
    ):
        raise InputError(path, f"units {units!r} are neither an intensity nor a flux density")
    if distance is not None:
        given = columns.get("distance", np.full(len(rows), np.nan))
        columns["distance"] = np.where(np.isfinite(given), given, float(distance))
    attrs = {f"table_{k}": v for k, v in meta.items() if k != "units"}
    if unit is not None:
        attrs["table_units_given"] = f"{unit} (read_csv unit=, overriding the table)"
    if comments:
        attrs["table_comments"] = "\n".join(comments)
    attrs["product_id"] = os.path.splitext(os.path.basename(path))[0]
    return _build(path, len(rows), columns, units, attrs, source_format="csv")


def check_unit(unit: str, argument: str) -> None:
    """Raise ValueError naming ``argument`` unless ``unit`` is an intensity or a flux density."""
    if conversion_factor_or_none(unit, "W sr-1 um-1") is None and (
        conversion_factor_or_none(unit, "Jy") is None
    ):
        raise ValueError(
            f"{argument} {unit!r} is neither an intensity (e.g. GW um-1 sr-1) nor a flux "
            "density (e.g. Jy)"
        )


def column_mapping(columns) -> dict[str, str]:
    """``{file column: layout name}`` from a dict or a ``"a=b,c=d"`` string (ValueError
    naming the bad item otherwise)."""
    if columns is None:
        return {}
    if isinstance(columns, str):
        pairs = [item.split("=") for item in columns.split(",") if item.strip()]
        if any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
            raise ValueError(
                f"columns must be FILE=NAME pairs separated by commas; got {columns!r}"
            )
        columns = {a.strip(): b.strip() for a, b in pairs}
    if not isinstance(columns, dict):
        raise ValueError(f"columns must be a dict or 'FILE=NAME,...'; got {columns!r}")
    targets = list(columns.values())
    if len(set(targets)) != len(targets):
        raise ValueError(f"columns maps two file columns to one name: {columns!r}")
    return {str(k): str(v) for k, v in columns.items()}


def read_mrt(path) -> xr.Dataset:
    """Read an AAS machine-readable table (CDS/MRT format) of photometry with astropy.

    Parameters
    ----------
    path : str or path-like
        MRT file (``Title:``/``Byte-by-byte Description`` header). Columns are mapped by name:
        ``Name`` -> hotspot, ``Lat`` -> latitude, ``LonW`` -> west longitude, ``Year``/``Mon``/
        ``Day`` -> time, ``Kc``/``H2O``/``PAH``/``Lp``/``BrAlphaCont``/``BrAlpha``/``Ms`` ->
        NIRC2 bands (or any name from :mod:`thermal.bands`), ``e_<col>`` -> uncertainty.
        Band units come from the column units (GW um-1 sr-1 if none).

    Returns
    -------
    xarray.Dataset
        As :func:`read_csv`.
    """
    try:
        from astropy.io import ascii as astropy_ascii
    except ImportError as error:  # pragma: no cover - astropy is in the io extra
        raise InputError(path, "reading MRT tables needs astropy (pip install thermal[io])") from (
            error
        )
    _check_size(path, "MRT table")
    try:
        table = astropy_ascii.read(path, format="mrt")
    except Exception as error:  # astropy raises many types for malformed tables
        raise InputError(path, f"not a readable MRT table: {limits.reason(error)}") from error
    n = len(table)
    if n == 0:
        raise InputError(path, "no data rows")
    columns: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    ignored = []
    lower = {c.lower(): c for c in table.colnames}

    def values(column):
        data = table[column]
        if hasattr(data, "mask"):
            return np.ma.filled(data.astype(float), np.nan)
        return np.asarray(data, dtype=float)

    for low, original in lower.items():
        if low.startswith("e_") or low in _MRT_DATE:
            continue
        name = _MRT_ALIASES.get(low, low)
        if name == "hotspot":
            columns[name] = np.array([str(v) for v in table[original]], dtype=object)
        elif name in _METADATA:
            columns[name] = values(original)
        elif name in set(_bands.names()):
            columns[name] = values(original)
            unit = table[original].unit
            units[name] = DEFAULT_UNITS if unit is None else unit.to_string()
            err = lower.get(f"e_{low}")
            if err is not None:
                columns[f"{name}_uncertainty"] = values(err)
        elif table[original].unit is not None and (
            conversion_factor_or_none(table[original].unit.to_string(), "W sr-1 um-1") is not None
        ):
            raise InputError(
                path,
                f"unknown band name {original!r} (a column with intensity units); known "
                f"bands: {', '.join(_bands.names())}",
            )
        else:
            ignored.append(original)
    if all(d in lower for d in _MRT_DATE):
        year, mon, day = (np.asarray(table[lower[d]]) for d in _MRT_DATE)
        columns["time"] = np.array(
            [
                np.datetime64(f"{int(y):04d}-{int(m):02d}-{int(d):02d}", "ns")
                for y, m, d in zip(year, mon, day, strict=True)
            ]
        )
    distinct = set(units.values())
    if len(distinct) > 1:
        raise InputError(path, f"band columns have different units: {sorted(distinct)}")
    unit = distinct.pop() if distinct else DEFAULT_UNITS
    attrs = {"product_id": os.path.splitext(os.path.basename(path))[0]}
    if ignored:
        attrs["ignored_columns"] = ", ".join(ignored)
    return _build(path, n, columns, unit, attrs, source_format="mrt")
