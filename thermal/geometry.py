"""Viewing geometry of hot spots: per-pixel backplanes, and the position, intensity and
hemispheric flux of each spot.

A *geometry* is an :class:`xarray.Dataset` over dims (``line``, ``sample``) with

- ``latitude`` [degrees_north], planetocentric;
- ``longitude`` [degrees_east], planetocentric, in [0, 360);
- ``emission_angle`` [degree], between the surface normal and the direction to the observer;
- ``range`` [m], from the spacecraft to the surface point;

NaN off the disk, and the attribute ``geometry_source``, one of :data:`GEOMETRY_SOURCES`. It
comes from one of three places:

- :func:`from_backplanes`: arrays or a netCDF file computed elsewhere (ISIS, a published
  pipeline), west longitudes and ranges in km converted;
- :func:`from_spice`: SPICE kernels, one ray per pixel intersected with the target's
  ellipsoid (analytically in numpy by default; ``spiceypy.sincpt`` per pixel on request), then
  :func:`correct_limb` to shift the computed disk onto the limb seen in the image (the
  spacecraft pointing is good to a few pixels only);
- :func:`from_label`: the one value per frame (or per half frame) of a JIRAM label,
  broadcast over the frame.

:func:`spot_geometry` then gives each hot spot found in the frame its latitude, longitude,
emission angle and range, its spectral intensity ``I = sum(L) (range * IFOV)**2``
[W sr-1 um-1] and its hemispheric spectral radiant flux ``pi I / cos(e)`` [W um-1] (the
NIMS/JIRAM convention of Davies et al. 2012, doi:10.1029/2011GL049999), refused beyond the limb
guard (:data:`thermal.plausibility.MAX_EMISSION_ANGLE`, 80 degrees).

Kernels named by a meta-kernel are untrusted (``SECURITY.md``): they must resolve inside the
meta-kernel's folder (or ``kernel_root``), like the files a JIRAM label names
(:func:`thermal.io.jiram.data_file`). SPICE keeps global state and is not thread-safe: every
SPICE call here runs under one module lock, and the kernels a call loaded are unloaded before
it returns, on errors too.

References: Acton (1996), "Ancillary data services of NASA's Navigation and Ancillary
Information Facility", Planet. Space Sci. 44, 65-70, doi:10.1016/0032-0633(95)00107-7 (SPICE);
Adriani et al. (2017), Space Sci. Rev. 213, 393-446, doi:10.1007/s11214-014-0094-y (JIRAM).
"""

from __future__ import annotations

import datetime
import math
import os
import re
import threading
from collections.abc import Mapping

import numpy as np
import xarray as xr

from thermal import units
from thermal.io.jiram import IFOV
from thermal.layout import InputError
from thermal.plausibility import MAX_EMISSION_ANGLE

__all__ = [
    "ABERRATION_CORRECTIONS",
    "GEOMETRY_SOURCES",
    "JIRAM_IFOV",
    "correct_limb",
    "from_backplanes",
    "from_label",
    "from_spice",
    "kernel_files",
    "spot_geometry",
]

GEOMETRY_SOURCES = ("backplanes", "spice", "label")
"""Values of the ``geometry_source`` attribute."""
ABERRATION_CORRECTIONS = ("NONE", "LT", "LT+S", "CN", "CN+S")
"""Aberration corrections :func:`from_spice` accepts (reception case, SPICE spelling)."""
JIRAM_IFOV = IFOV
"""JIRAM instantaneous field of view [rad] (:data:`thermal.io.jiram.IFOV`), for convenience."""

SPEED_OF_LIGHT_KM = 299792.458
"""Speed of light [km s-1] (SPICE works in km and s)."""
META_KERNEL_MAX_BYTES = 1024 * 1024
"""Largest meta-kernel read [bytes]."""
_META_DEPTH = 4
_SPICE_LOCK = threading.RLock()

_ATTRS = {
    "latitude": {
        "units": "degrees_north",
        "standard_name": "latitude",
        "long_name": "planetocentric latitude",
    },
    "longitude": {
        "units": "degrees_east",
        "standard_name": "longitude",
        "long_name": "planetocentric east longitude (0-360)",
    },
    "emission_angle": {
        "units": "degree",
        "standard_name": "sensor_zenith_angle",
        "long_name": "emission angle",
    },
    "range": {"units": "m", "long_name": "distance from the spacecraft to the surface point"},
}
_VARIABLES = ("latitude", "longitude", "emission_angle", "range")
_FILL_BELOW = -1000.0  # published backplanes write -1024 off the disk


def _one_line(text, limit: int = 300) -> str:
    cleaned = " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3].rstrip() + "..."


# --------------------------------------------------------------------------- the Dataset


def _dataset(latitude, longitude, emission, distance, source, lines, samples, attrs=None):
    """The geometry Dataset; a pixel is on the disk when its emission angle and range are
    finite (and its latitude and longitude, when any pixel has them), else every variable of
    it is NaN."""
    lat = np.array(latitude, dtype=float)
    lon = np.array(longitude, dtype=float)
    e = np.array(emission, dtype=float)
    r = np.array(distance, dtype=float)
    on = np.isfinite(e) & np.isfinite(r)
    for position in (lat, lon):
        if np.isfinite(position).any():
            on &= np.isfinite(position)
    values = {}
    for name, v in zip(_VARIABLES, (lat, lon, e, r), strict=True):
        v = np.where(on, v, np.nan)
        if name == "longitude":
            with np.errstate(invalid="ignore"):
                v = np.mod(v, 360.0)
                v = np.where(v >= 360.0, 0.0, v)
        values[name] = (("line", "sample"), v, dict(_ATTRS[name]))
    ds = xr.Dataset(
        values,
        coords={
            "line": ("line", np.asarray(lines), {"long_name": "image line (0-based)"}),
            "sample": ("sample", np.asarray(samples), {"long_name": "image sample (0-based)"}),
        },
    )
    ds.attrs.update(attrs or {})
    ds.attrs["geometry_source"] = source
    return ds


def _check_shape(shape, name="shape"):
    try:
        lines, samples = (int(n) for n in shape)
        ok = (lines, samples) == tuple(shape)
    except (TypeError, ValueError):
        ok = False
    if not ok or lines <= 0 or samples <= 0:
        raise ValueError(f"{name} must be (lines, samples), two integers >= 1; got {shape!r}")
    return lines, samples


def check_ifov(ifov) -> float:
    """``ifov`` [rad] (a number or Quantity) in (0, 0.1), or a ValueError naming it."""
    try:
        value = float(units.to_unit(ifov, "rad", "ifov"))
    except TypeError:
        value = math.nan
    if not (math.isfinite(value) and 0.0 < value < 0.1):
        raise ValueError(f"ifov must be in (0, 0.1) [rad]; got {ifov!r}")
    return value


# --------------------------------------------------------------------------- backplanes

_EAST = ("degrees_east", "degree_east", "degrees_e", "degree_e", "degreese", "degreee")
_WEST = ("degrees_west", "degree_west", "degrees_w", "degree_w", "degreesw", "degreew")


def from_backplanes(source, *, shape=None) -> xr.Dataset:
    """Geometry from per-pixel backplanes computed elsewhere.

    Parameters
    ----------
    source : mapping, xarray.Dataset, str or path-like
        A dict (or Dataset) of 2-D arrays, or a netCDF file, with ``latitude``
        [degrees_north], ``longitude``, ``emission_angle`` [degree] and ``range``. In a file
        (or a DataArray with attributes) ``longitude`` must carry ``units`` ``degrees_east``
        or ``degrees_west`` (west longitudes are converted) and ``range`` a length unit
        (``m``, ``km``); plain arrays in a dict are taken in the canonical units, east
        longitude, or west when given as ``longitude_west`` instead of ``longitude``.
        Variables with dims (``line``, ``sample``) are used in that order, others as (line,
        sample) in their own order. Values <= -1000 (the -1024 fill of published backplanes)
        and non-finite values mark pixels off the disk.
    shape : tuple of int, optional
        Expected (lines, samples) of the frame; checked when given.

    Returns
    -------
    xarray.Dataset
        The geometry (module notes), ``geometry_source = "backplanes"``; a pixel with any of
        the four values missing is NaN in all of them.

    Raises
    ------
    ValueError
        For a dict or Dataset with a missing variable, variables of different shapes (or not
        ``shape``), ambiguous units or values out of range (latitude outside [-90, 90],
        emission angle outside [0, 90], range <= 0); the message names ``source``.
    thermal.layout.InputError
        The same problems in a file, and files that cannot be read.
    """
    if shape is not None:
        shape = _check_shape(shape)
    path = None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        try:
            with xr.open_dataset(path) as opened:
                data = opened.load()
        except FileNotFoundError:
            raise InputError(path, "backplane file not found") from None
        except Exception as error:
            raise InputError(
                path, f"cannot read backplanes as netCDF: {_one_line(error, 160)}"
            ) from None
    elif isinstance(source, (Mapping, xr.Dataset)):
        data = source
    else:
        raise ValueError(
            f"source must be a dict of arrays, a Dataset or a netCDF path; got {type(source)}"
        )

    def fail(problem):
        if path is not None:
            raise InputError(path, problem)
        raise ValueError(f"source: {problem}")

    arrays = {}
    line_coord = sample_coord = None
    names = {
        "latitude": ("latitude",),
        "longitude": ("longitude", "longitude_west"),
        "emission_angle": ("emission_angle",),
        "range": ("range",),
    }
    for name, candidates in names.items():
        key = next((k for k in candidates if k in data), None)
        if key is None:
            fail(f"no variable {name!r} (backplanes need {', '.join(names)})")
        value = data[key]
        units_attr = None
        if hasattr(value, "dims") and hasattr(value, "attrs"):
            units_attr = value.attrs.get("units")
            if value.ndim == 2 and set(value.dims) == {"line", "sample"}:
                value = value.transpose("line", "sample")
            if line_coord is None and value.ndim == 2:
                line_coord = _coordinate(value, value.dims[0])
                sample_coord = _coordinate(value, value.dims[1])
        try:
            array = np.array(value, dtype=float)
        except (TypeError, ValueError) as error:
            fail(f"{key} is not numeric: {_one_line(error, 80)}")
        if array.ndim != 2:
            fail(f"{key} must be 2-D (line, sample); got shape {array.shape}")
        array = np.where(array <= _FILL_BELOW, np.nan, array)
        factor, west = _backplane_units(name, key, units_attr, path is not None, fail)
        array = array * factor
        if west:
            array = units.west_to_east(array)
        arrays[name] = array
    shapes = {k: v.shape for k, v in arrays.items()}
    if len(set(shapes.values())) != 1:
        fail(f"backplanes differ in shape: {shapes}")
    found = arrays["latitude"].shape
    if shape is not None and found != shape:
        fail(f"backplanes have shape {found}, the frame {shape}")
    with np.errstate(invalid="ignore"):
        for name, low, high in (("latitude", -90.0, 90.0), ("emission_angle", 0.0, 90.0)):
            bad = (arrays[name] < low) | (arrays[name] > high)
            if bad.any():
                fail(f"{name} must be in [{low:g}, {high:g}] [degree]; got {arrays[name][bad][0]}")
        bad = arrays["range"] <= 0
        if bad.any():
            fail(f"range must be > 0 [m]; got {arrays['range'][bad][0]}")
    lines = line_coord if line_coord is not None and line_coord.size == found[0] else None
    samples = sample_coord if sample_coord is not None and sample_coord.size == found[1] else None
    return _dataset(
        arrays["latitude"],
        arrays["longitude"],
        arrays["emission_angle"],
        arrays["range"],
        "backplanes",
        np.arange(found[0]) if lines is None else lines,
        np.arange(found[1]) if samples is None else samples,
        {"geometry_file": os.path.basename(path)} if path else None,
    )


def _coordinate(value, dim):
    coords = getattr(value, "coords", {})
    if dim in coords and coords[dim].ndim == 1:
        try:
            return np.asarray(coords[dim].values, dtype=float)
        except (TypeError, ValueError):
            return None
    return None


def _backplane_units(name, key, given, strict, fail):
    """(factor to the canonical unit, west?) of one backplane variable."""
    if key == "longitude_west":
        if given not in (None, "") and str(given).lower().replace(" ", "_") in _EAST:
            fail("longitude_west has units degrees_east")
        return 1.0, True
    text = None if given in (None, "") else str(given).strip()
    if name == "longitude":
        lowered = text.lower().replace(" ", "_") if text else None
        if lowered in _EAST:
            return 1.0, False
        if lowered in _WEST:
            return 1.0, True
        if text is None and not strict:
            return 1.0, False
        fail(
            f"longitude has units {text!r}: give units 'degrees_east' or 'degrees_west' "
            "(Io catalogues and some backplanes use west longitude)"
        )
    if name == "range":
        if text is None:
            if strict:
                fail("range has no units attribute: give 'm' or 'km'")
            return 1.0, False
        try:
            return units.conversion_factor(text, "m"), False
        except ValueError:
            fail(f"range has units {text!r}, not a length (m, km)")
    if text is None:
        return 1.0, False
    target = "degree"
    try:
        return units.conversion_factor(text, target), False
    except ValueError:
        fail(f"{name} has units {text!r}, not an angle (degree)")
    return 1.0, False  # pragma: no cover - fail raises


# --------------------------------------------------------------------------- label


def from_label(
    observation=None,
    band=None,
    *,
    range=None,
    emission_angle=None,
    latitude=None,
    longitude_west=None,
    shape=None,
    ifov=JIRAM_IFOV,
) -> xr.Dataset:
    """Geometry from a label's one value per frame, broadcast over the frame.

    A JIRAM label gives, per band, the slant distance, emission angle and centre latitude and
    (west) longitude of the frame's centre pixel (``L_BAND_PARAMETERS``/``M_BAND_PARAMETERS``).
    The same numbers stand for every pixel: good for the range of a small frame (the disk is
    small against the range), crude for the emission angle and position of a spot away from
    the centre. Prefer SPICE (:func:`from_spice`) or backplanes where there are any.

    Parameters
    ----------
    observation : xarray.Dataset, optional
        An observation from :func:`thermal.io.jiram.read_jiram`: its ``line``/``sample``
        coordinates set the frame, its per-line ``emission_angle`` [degree] and ``range`` [m]
        are used when present, else the range comes from its per-line ``pixel_area`` [m2] as
        ``sqrt(pixel_area cos e) / ifov`` (the inverse of the reader's footprint); per-line
        ``latitude`` [degrees_north] and ``longitude`` [degrees_east] are used when present.
        Arguments given explicitly win.
    band : str, optional
        With ``observation``: only the lines of this band (e.g. ``"jiram_m"``: lines whose
        radiance in that band is not all NaN) get geometry, the others are NaN.
    range : float or array_like, optional
        Slant distance [m], > 0: a scalar, or one value per line.
    emission_angle : float or array_like, optional
        Emission angle [degree], in [0, 90]: a scalar or one value per line.
    latitude : float, optional
        Latitude of the frame centre [degrees_north]; NaN over the frame when not given.
    longitude_west : float, optional
        West longitude of the frame centre [degrees_west], as in the label; stored east.
    shape : tuple of int, optional
        (lines, samples); required without ``observation``.
    ifov : float, optional
        Pixel field of view [rad] (default JIRAM's 237.767e-6) to undo the footprint.

    Returns
    -------
    xarray.Dataset
        The geometry with ``geometry_source = "label"`` and ``range_source`` saying where the
        range came from.

    Raises
    ------
    ValueError
        Without a range or emission angle, or with values out of range.
    """
    ifov = check_ifov(ifov)
    range_source = "argument"
    if observation is not None:
        if not isinstance(observation, xr.Dataset) or not {"line", "sample"} <= set(
            observation.dims
        ):
            raise ValueError("observation must be an imager Dataset with dims (line, sample)")
        if shape is not None and _check_shape(shape) != (
            observation.sizes["line"],
            observation.sizes["sample"],
        ):
            raise ValueError(f"shape {shape!r} differs from the observation's frame")
        lines = observation["line"].values
        samples = observation["sample"].values
        nl = lines.size

        def per_line(name):
            if name not in observation:
                return None
            value = observation[name]
            if value.ndim == 0:
                return np.full(nl, float(value))
            if value.dims == ("line",):
                return np.asarray(value.values, dtype=float)
            return None

        if emission_angle is None:
            emission_angle = per_line("emission_angle")
        if range is None:
            range = per_line("range")
            range_source = "observation range"
            if range is None and "pixel_area" in observation and emission_angle is not None:
                area = per_line("pixel_area")
                e = np.broadcast_to(np.asarray(emission_angle, dtype=float), (nl,))
                with np.errstate(invalid="ignore"):
                    range = np.sqrt(area * np.cos(np.deg2rad(e))) / ifov
                # the inverse of units.surface_footprint_area
                range_source = "observation pixel_area: sqrt(pixel_area cos e) / ifov"
        lat_line = per_line("latitude") if latitude is None else None
        lon_line = per_line("longitude") if longitude_west is None else None
        rows = np.ones(nl, dtype=bool)
        if band is not None:
            if "band" not in observation.dims or band not in list(observation["band"].values):
                raise ValueError(f"band {band!r} is not a band of the observation")
            radiance = observation["radiance"].sel(band=band).transpose("line", "sample")
            rows = np.isfinite(radiance.values).any(axis=1)
    else:
        if shape is None:
            raise ValueError("shape (lines, samples) is required without an observation")
        nl, ns = _check_shape(shape)
        lines, samples = np.arange(nl), np.arange(ns)
        lat_line = lon_line = None
        rows = np.ones(nl, dtype=bool)
    if range is None or emission_angle is None:
        raise ValueError(
            "range [m] and emission_angle [degree] are required (from the label's "
            "SLANT_DISTANCE and EMISSION_ANGLE)"
        )
    ns = samples.size

    def column(value, name, low, high, strict_low=False):
        unit = "m" if name == "range" else "degree"
        v = np.asarray(units.to_unit(value, unit, name), dtype=float)
        if v.ndim == 0:
            v = np.full(nl, float(v))
        if v.shape != (nl,):
            raise ValueError(
                f"{name} must be a scalar or one value per line ({nl}); got {v.shape}"
            )
        with np.errstate(invalid="ignore"):
            bad = (v <= low if strict_low else v < low) | (v > high)
        if bad.any():
            bound = f"> {low:g}" if strict_low else f"in [{low:g}, {high:g}]"
            raise ValueError(f"{name} must be {bound} [{_ATTRS[name]['units']}]; got {v[bad][0]}")
        return np.where(rows, v, np.nan)

    e = column(emission_angle, "emission_angle", 0.0, 90.0)
    r = column(range, "range", 0.0, np.inf, strict_low=True)
    if latitude is not None:
        lat = column(latitude, "latitude", -90.0, 90.0)
    elif lat_line is not None:
        lat = np.where(rows, lat_line, np.nan)
    else:
        lat = np.full(nl, np.nan)
    if longitude_west is not None:
        lon = column(units.west_to_east(float(longitude_west)), "longitude", 0.0, 360.0)
    elif lon_line is not None:
        lon = np.where(rows, lon_line, np.nan)
    else:
        lon = np.full(nl, np.nan)
    grid = [np.repeat(v[:, None], ns, axis=1) for v in (lat, lon, e, r)]
    ds = _dataset(*grid, "label", lines, samples, {"range_source": range_source})
    if band is not None:
        ds.attrs["band"] = str(band)
    return ds


# --------------------------------------------------------------------------- kernels

_TOKEN = re.compile(r"'(?:[^']|'')*'|\+=|=|\(|\)|,|[^\s=(),']+")
_DATA = re.compile(r"\\begin(data|text)")


def _meta_assignments(text: str) -> dict[str, list[str]]:
    """String values of the assignments in a text kernel's data blocks."""
    values: dict[str, list[str]] = {}
    parts = _DATA.split(text)
    # parts: [before, 'data'|'text', block, 'data'|'text', block, ...]
    for kind, block in zip(parts[1::2], parts[2::2], strict=False):
        if kind != "data":
            continue
        tokens = _TOKEN.findall(block)
        name, collecting, depth = None, False, 0
        for i, token in enumerate(tokens):
            if token in ("=", "+=") and i > 0:
                name = tokens[i - 1]
                if token == "=":
                    values[name] = []
                else:
                    values.setdefault(name, [])
                collecting, depth = True, 0
                continue
            if not collecting:
                continue
            if token == "(":
                depth += 1
            elif token == ")":
                depth -= 1
                if depth <= 0:
                    collecting = False
            elif token.startswith("'"):
                values[name].append(token[1:-1].replace("''", "'"))
                if depth == 0:
                    collecting = False
            elif token != "," and depth == 0:
                collecting = False
    return values


def _joined(strings: list[str]) -> list[str]:
    """SPICE string continuation: a value ending in '+' continues in the next one."""
    out, pending = [], ""
    for s in strings:
        if s.endswith("+"):
            pending += s[:-1]
        else:
            out.append(pending + s)
            pending = ""
    if pending:
        out.append(pending)
    return out


def _meta_kernel(path) -> dict[str, list[str]] | None:
    """The assignments of a meta-kernel (a text kernel assigning ``KERNELS_TO_LOAD``, which
    SPICE's ``furnsh`` would follow), or None for any other kernel."""
    try:
        return _read_meta_kernel(path)
    except OSError as error:
        raise InputError(path, f"cannot read kernel: {error.strerror or error}") from None


def _read_meta_kernel(path):
    with open(path, "rb") as handle:
        head = handle.read(8)
        if head.startswith((b"DAF/", b"DAS/", b"NAIF/DAF")):
            return None  # binary kernels (SPK, CK, binary PCK, DSK)
        found, size, tail = False, len(head), head
        while chunk := handle.read(1 << 20):
            size += len(chunk)
            if b"\x00" in chunk[:4096] and size <= (1 << 20) + 8:
                return None
            found = found or b"KERNELS_TO_LOAD" in tail[-16:] + chunk
            tail = chunk
    if not found:
        return None
    if size > META_KERNEL_MAX_BYTES:
        raise InputError(
            path,
            f"a text kernel of {size} bytes with KERNELS_TO_LOAD (meta-kernels are read up to "
            f"{META_KERNEL_MAX_BYTES} bytes); refused",
        )
    with open(path, encoding="latin-1") as handle:
        values = _meta_assignments(handle.read())
    return values if "KERNELS_TO_LOAD" in values else None


def _inside(path, root) -> bool:
    real = os.path.realpath(path)
    real_root = os.path.realpath(root)
    return real != real_root and os.path.commonpath([real, real_root]) == real_root


def _meta_kernel_files(path, values, root, depth) -> list[str]:
    if depth > _META_DEPTH:
        raise InputError(path, f"meta-kernels nested more than {_META_DEPTH} deep; refused")
    names = _joined(values.get("KERNELS_TO_LOAD", []))
    symbols = _joined(values.get("PATH_SYMBOLS", []))
    paths = _joined(values.get("PATH_VALUES", []))
    if len(symbols) != len(paths):
        raise InputError(
            path, f"{len(symbols)} PATH_SYMBOLS but {len(paths)} PATH_VALUES in the meta-kernel"
        )
    table = sorted(zip(symbols, paths, strict=True), key=lambda sv: -len(sv[0]))
    folder = os.path.dirname(os.path.abspath(path))
    files = []
    for name in names:
        resolved = name
        for symbol, value in table:
            resolved = resolved.replace(f"${symbol}", value)
        shown = _one_line(repr(name), 120)
        if "$" in resolved:
            raise InputError(path, f"kernel {shown} uses an undefined path symbol")
        if not resolved or "\x00" in resolved:
            raise InputError(path, f"kernel {shown} is an empty name or has a NUL character")
        candidate = resolved if os.path.isabs(resolved) else os.path.join(folder, resolved)
        if not _inside(candidate, root):
            raise InputError(
                path,
                f"the meta-kernel names kernel {shown}, which resolves outside "
                f"{'kernel_root' if root != folder else 'its folder'} ('..', an absolute path "
                "or a symbolic link leaving it); refused",
            )
        if not os.path.isfile(candidate):
            raise InputError(path, f"kernel {shown} named by the meta-kernel not found")
        nested = _meta_kernel(candidate)
        if nested is not None:
            files.extend(_meta_kernel_files(candidate, nested, root, depth + 1))
        else:
            files.append(candidate)
    if not files:
        raise InputError(path, "the meta-kernel names no kernels (KERNELS_TO_LOAD)")
    return files


def kernel_files(kernels, *, kernel_root=None) -> list[str]:
    """The kernel files :func:`from_spice` loads, in loading order.

    Parameters
    ----------
    kernels : str, path-like or sequence of them
        Kernel files and meta-kernels (any text kernel with ``KERNELS_TO_LOAD``). A
        meta-kernel is read here, not by SPICE: its ``KERNELS_TO_LOAD`` (with ``PATH_SYMBOLS``
        and ``PATH_VALUES`` substituted and ``+`` continuations joined) are taken relative to
        the meta-kernel's folder (SPICE itself would take them relative to the working
        directory) and must resolve, symbolic links followed, inside that folder or inside
        ``kernel_root``.
    kernel_root : str or path-like, optional
        The folder a meta-kernel's kernels must stay in (default: the meta-kernel's own
        folder), e.g. the root of a NAIF kernel tree whose ``mk/`` meta-kernels name
        ``'..'``.

    Kernel files named directly (not through a meta-kernel) are the caller's choice and are
    loaded as given.

    Returns
    -------
    list of str
        Paths of the files to load, meta-kernels expanded.

    Raises
    ------
    thermal.layout.InputError
        For a missing file, or a meta-kernel naming a kernel outside its folder (absolute,
        ``..``, link) or a missing one, or an undefined path symbol.
    ValueError
        For no kernels at all.
    """
    if isinstance(kernels, (str, os.PathLike)):
        kernels = [kernels]
    try:
        given = [os.fspath(k) for k in kernels]
    except TypeError:
        raise ValueError(
            f"kernels must be a path or a sequence of paths; got {type(kernels)}"
        ) from None
    if not given:
        raise ValueError("kernels must name at least one kernel or meta-kernel")
    files = []
    for path in given:
        if not os.path.isfile(path):
            raise InputError(path, "kernel file not found")
        values = _meta_kernel(path)
        if values is not None:
            root = os.fspath(kernel_root) if kernel_root is not None else None
            root = os.path.dirname(os.path.abspath(path)) if root is None else root
            files.extend(_meta_kernel_files(path, values, root, 1))
        else:
            files.append(path)
    return files


def _spice_problem(error) -> str:
    short = getattr(error, "short", "") or ""
    long = getattr(error, "long", "") or ""
    text = f"{short} {long}".strip() or str(error)
    return _one_line(text if text.startswith("SPICE") else f"SPICE: {text}", 300)


# --------------------------------------------------------------------------- SPICE


def _check_time(time):
    """An ephemeris time [s] (float) or a UTC string for ``str2et``."""
    if isinstance(time, (bool, np.bool_)):
        raise ValueError(f"time must be an ephemeris time [s] or a UTC string; got {time!r}")
    if isinstance(time, (int, float, np.integer, np.floating)):
        if not math.isfinite(float(time)):
            raise ValueError(f"time must be finite [s past J2000 TDB]; got {time!r}")
        return float(time)
    if isinstance(time, np.datetime64):
        time = np.datetime_as_string(time, unit="us")
    elif isinstance(time, datetime.datetime):
        if time.tzinfo is not None:
            time = time.astimezone(datetime.UTC).replace(tzinfo=None)
        time = time.isoformat()
    if not isinstance(time, str) or not time.strip():
        raise ValueError(f"time must be an ephemeris time [s] or a UTC string; got {time!r}")
    return time


def _ephemeris_time(sp, time):
    return time if isinstance(time, float) else sp.str2et(time)


def _pixel_directions(shape, ifov, boresight, boresight_pixel, offset, flip_samples):
    """Look directions (N, 3) in the instrument frame, z = 1 plane (gnomonic)."""
    nl, ns = shape
    l0, s0 = boresight_pixel
    dl, ds = offset
    line = np.arange(nl, dtype=float)[:, None] - dl - l0
    sample = np.arange(ns, dtype=float)[None, :] - ds - s0
    if flip_samples:
        sample = -sample
    b = np.asarray(boresight, dtype=float)
    b = b / b[2]
    x = b[0] - line * ifov + 0.0 * sample
    y = b[1] + sample * ifov + 0.0 * line
    return np.stack([x.ravel(), y.ravel(), np.ones(x.size)], axis=-1)


def _aberrate(p, v_by_c, sign):
    """Rotate directions ``p`` (N, 3) towards ``sign * v_by_c`` by asin|u x v/c| (SPICE
    STELAB; sign -1 undoes it, STLABX)."""
    v = sign * np.asarray(v_by_c, dtype=float)
    u = p / np.linalg.norm(p, axis=-1, keepdims=True)
    h = np.cross(u, v)
    sin_phi = np.linalg.norm(h, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(sin_phi > 0, h / sin_phi, 0.0)
    phi = np.arcsin(np.clip(sin_phi, 0.0, 1.0))
    return p * np.cos(phi) + np.cross(k, p) * np.sin(phi)


def _ellipsoid_intercept(origin, direction, radii):
    """Nearest intersection (N, 3) of rays ``origin + t direction`` (t > 0) with the
    ellipsoid of ``radii``; NaN for rays that miss."""
    o = origin / radii
    d = direction / radii
    a = np.einsum("...i,...i", d, d)
    b = np.einsum("...i,...i", o, d)
    c = np.einsum("...i,...i", o, o) - 1.0
    disc = b * b - a * c
    with np.errstate(invalid="ignore"):
        root = np.sqrt(disc)
        # numerically stable smaller root: c / (-b + sqrt(disc)) (c > 0 outside, b < 0)
        t = c / (-b + root)
        hit = (disc >= 0) & (b < 0) & (c > 0) & (t > 0)
    t = np.where(hit, t, np.nan)
    return origin + t[..., None] * direction


def _emission_angle(point, toward_observer, radii):
    normal = point / (radii * radii)
    cos_e = np.einsum("...i,...i", normal, toward_observer) / (
        np.linalg.norm(normal, axis=-1) * np.linalg.norm(toward_observer, axis=-1)
    )
    return np.rad2deg(np.arccos(np.clip(cos_e, -1.0, 1.0)))


def _analytic(sp, et, directions, frame, observer, target, target_frame, abcorr, radii):
    """lat, lon, emission [degree], range [km] per direction: the ray-ellipsoid intersection
    done in numpy; SPICE only for states and rotations."""
    light_time = abcorr != "NONE"
    stellar = abcorr.endswith("+S")
    iterations = 1 if not light_time else (2 if abcorr.startswith("LT") else 5)
    observer_id = sp.bods2c(observer)
    target_id = sp.bods2c(target)
    observer_state = np.asarray(sp.spkssb(observer_id, et, "J2000"))
    lt0 = 0.0
    if light_time:
        _, lt0 = sp.spkpos(target, et, "J2000", abcorr.split("+")[0], observer)
    target_state = np.asarray(sp.spkssb(target_id, et - lt0, "J2000"))
    transform = np.asarray(sp.sxform("J2000", target_frame, et - lt0))
    rotation, rotation_rate = transform[:3, :3], transform[3:, :3]
    instrument = np.asarray(sp.pxform(frame, "J2000", et))
    apparent = directions @ instrument.T
    apparent /= np.linalg.norm(apparent, axis=-1, keepdims=True)
    geometric = apparent
    if stellar:
        # the exact inverse of stellar aberration (as sincpt): STLABX, then two Newton steps
        v_by_c = observer_state[3:] / SPEED_OF_LIGHT_KM
        geometric = _aberrate(apparent, v_by_c, -1.0)
        for _ in range(2):
            geometric = geometric + (apparent - _aberrate(geometric, v_by_c, 1.0))
            geometric /= np.linalg.norm(geometric, axis=-1, keepdims=True)
    n = directions.shape[0]
    dt = np.zeros((n, 1))

    def rotate(vectors):
        # R(et - lt0 - dt) v, linearised in dt (a few ms): R v - dt (dR/dt) v
        return vectors @ rotation.T - dt * (vectors @ rotation_rate.T)

    for _ in range(iterations):
        centre = (target_state[:3] - observer_state[:3]) - dt * target_state[3:]
        origin = rotate(-centre)
        ray = rotate(geometric)
        point = _ellipsoid_intercept(origin, ray, radii)
        distance = np.linalg.norm(point - origin, axis=-1)
        if light_time:
            dt = np.where(np.isfinite(distance), distance / SPEED_OF_LIGHT_KM - lt0, 0.0)[:, None]
    toward_observer = -rotate(apparent)
    emission = _emission_angle(point, toward_observer, radii)
    lat = np.rad2deg(np.arctan2(point[:, 2], np.hypot(point[:, 0], point[:, 1])))
    lon = np.rad2deg(np.arctan2(point[:, 1], point[:, 0]))
    return lat, lon, emission, distance


def _sincpt(sp, et, directions, frame, observer, target, target_frame, abcorr, radii):
    """The same per direction with spiceypy.sincpt and ilumin (slow: a reference)."""
    n = directions.shape[0]
    out = np.full((4, n), np.nan)
    for k in range(n):
        with sp.no_found_check():
            spoint, _trgepc, srfvec, found = sp.sincpt(
                "ELLIPSOID", target, et, target_frame, abcorr, observer, frame, directions[k]
            )
        if not found:
            continue
        normal = sp.surfnm(radii[0], radii[1], radii[2], spoint)
        emission = sp.vsep(normal, -np.asarray(srfvec))  # as ilumin, without the Sun
        _, lon, lat = sp.reclat(spoint)
        out[:, k] = (np.rad2deg(lat), np.rad2deg(lon), np.rad2deg(emission), sp.vnorm(srfvec))
    return out


def from_spice(
    kernels,
    time,
    *,
    shape,
    ifov,
    frame,
    observer="JUNO",
    target="IO",
    target_frame=None,
    boresight=None,
    boresight_pixel=None,
    line_offset=0,
    offset=(0.0, 0.0),
    flip_samples=False,
    aberration_correction="LT+S",
    method="analytic",
    kernel_root=None,
) -> xr.Dataset:
    """Per-pixel geometry of a frame from SPICE kernels.

    Each pixel's look direction in the instrument ``frame`` is intersected with the target's
    reference ellipsoid (``BODY<id>_RADII``) in its body-fixed frame; the intercept gives the
    planetocentric latitude and east longitude (SPICE ``reclat``), the emission angle (between
    the outward ellipsoid normal and the direction back to the observer, as SPICE ``ilumin``)
    and the range.

    **Pixel convention.** Pixel centres sit at integer (line, sample). The direction of pixel
    (line, sample) in the instrument frame is ``(x, y, 1)`` with
    ``x = bx - (line - line_offset - dline - l0) * ifov`` and
    ``y = by + s * (sample - dsample - s0) * ifov`` (``s = -1`` with ``flip_samples``), where
    ``(bx, by, 1)`` is the boresight scaled to z = 1 (+Z by default, as in the JIRAM IK),
    ``(l0, s0)`` the boresight pixel and ``(dline, dsample)`` the ``offset``: lines run
    towards -X and samples towards +Y of the instrument frame, as in the published JIRAM
    backplane scripts (and the IK's FOV corners); pixels are uniform in the focal (z = 1)
    plane.

    **Aberration.** With ``"LT+S"`` (default) or ``"CN+S"`` the target is taken at the epoch
    the light left each intercept (light time iterated per pixel: 2 passes for LT, 5 for CN,
    the target's motion and rotation linearised over the few ms between the centre's and the
    point's light time) and the look direction is the *apparent* one: stellar aberration of
    the observer's velocity relative to the solar-system barycentre is undone before the
    intersection, as SPICE ``sincpt`` does. The emission angle uses the apparent direction,
    like ``ilumin``.

    Parameters
    ----------
    kernels : str, path-like or sequence of them
        Kernels and meta-kernels, loaded for this call and unloaded before it returns (see
        :func:`kernel_files` for how meta-kernels are confined). They must provide the
        observer and target ephemerides (SPK), the target's radii and orientation (PCK), the
        instrument frame (FK and CK, or a fixed TK frame) and, for a UTC ``time``, an LSK.
    time : float, str, numpy.datetime64 or datetime.datetime
        Observation epoch: ephemeris time [s past J2000 TDB] as a number, or UTC.
    shape : tuple of int
        (lines, samples) of the frame (JIRAM imager half: (128, 432)).
    ifov : float
        Pixel angular size [rad], > 0 (JIRAM: 237.767e-6).
    frame : str
        Instrument frame name (JIRAM: ``JUNO_JIRAM_I_LBAND``/``JUNO_JIRAM_I_MBAND``).
    observer, target : str, optional
        SPICE names or ids (default ``"JUNO"``, ``"IO"``).
    target_frame : str, optional
        Body-fixed frame of the target (default ``"IAU_<target>"``).
    boresight : array_like of 3 float or "ik", optional
        Boresight in the instrument frame (default +Z); the boresight pixel looks along it.
        ``"ik"``: the ``INS<id>_BORESIGHT`` of the instrument named like ``frame`` (JIRAM:
        ``JUNO_JIRAM_I_MBAND``, -61412), from the loaded IK (``spiceypy.getfov``).
    boresight_pixel : tuple of float, optional
        (line, sample), in detector pixels from 0, the boresight falls on (default the
        centre, ((lines - 1) / 2, (samples - 1) / 2)).
    line_offset : int, optional
        Frame line of the first computed line: the output ``line`` coordinate is
        ``line_offset + arange(lines)`` (128 for the M half of a 256-line JIRAM frame).
    offset : tuple of float, optional
        Pointing correction (dline, dsample) [pixel]: the disk moves by this much, e.g. the
        ``limb_offset`` found by :func:`correct_limb`.
    flip_samples : bool, optional
        Samples run towards -Y (images mirrored left-right relative to the frame).
    aberration_correction : {"LT+S", "CN+S", "LT", "CN", "NONE"}, optional
        SPICE aberration correction (reception), default ``"LT+S"``.
    method : {"analytic", "sincpt"}, optional
        ``"analytic"`` (default): one vectorised numpy ray-ellipsoid intersection per pixel,
        SPICE only for states and rotations (a 128 x 432 frame in ~0.07 s); ``"sincpt"``: one
        ``spiceypy.sincpt`` call per pixel, the emission angle from the ellipsoid normal as
        ``ilumin`` computes it (~2.5 s a frame: a reference). The two agree to 4e-6 degree
        (grazing pixels) and 1e-9 in range with LT+S on a moving, rotating target.
    kernel_root : str or path-like, optional
        Folder the kernels of a meta-kernel must stay in (default: the meta-kernel's folder).

    Returns
    -------
    xarray.Dataset
        The geometry (module notes), ``geometry_source = "spice"``, with attributes
        ``spice_frame``, ``spice_target``, ``spice_observer``, ``aberration_correction``,
        ``ephemeris_time`` [s], ``ifov`` [rad], ``boresight_pixel`` and ``pointing_offset``.

    Raises
    ------
    ValueError
        For invalid arguments (named, with their allowed range).
    thermal.layout.InputError
        For missing kernels, kernels a meta-kernel may not name, and any SPICE failure (wrong
        or insufficient kernels: the SPICE message in one line).
    """
    nl, ns = _check_shape(shape)
    ifov = check_ifov(ifov)
    abcorr = str(aberration_correction).upper().replace(" ", "")
    if abcorr not in ABERRATION_CORRECTIONS:
        raise ValueError(
            f"aberration_correction must be one of {ABERRATION_CORRECTIONS}; "
            f"got {aberration_correction!r}"
        )
    if method not in ("analytic", "sincpt"):
        raise ValueError(f"method must be 'analytic' or 'sincpt'; got {method!r}")
    if not isinstance(frame, str) or not frame.strip():
        raise ValueError(f"frame must be a SPICE frame name; got {frame!r}")
    if boresight_pixel is None:
        boresight_pixel = ((nl - 1) / 2.0, (ns - 1) / 2.0)
    boresight_pixel = _pair(boresight_pixel, "boresight_pixel")
    offset = _pair(offset, "offset")
    from_ik = isinstance(boresight, str)
    if from_ik and boresight.lower() != "ik":
        raise ValueError(f"boresight must be 'ik', 3 numbers or None; got {boresight!r}")
    if not from_ik:
        boresight = _boresight((0.0, 0.0, 1.0) if boresight is None else boresight)
    if isinstance(line_offset, bool) or int(line_offset) != line_offset:
        raise ValueError(f"line_offset must be an integer; got {line_offset!r}")
    target_frame = f"IAU_{str(target).upper()}" if target_frame is None else str(target_frame)
    time = _check_time(time)
    if not isinstance(kernels, (str, os.PathLike)):
        try:
            kernels = list(kernels)
        except TypeError:
            raise ValueError(f"kernels must be a path or paths; got {type(kernels)}") from None
    files = kernel_files(kernels, kernel_root=kernel_root)
    where = os.fspath(kernels if isinstance(kernels, (str, os.PathLike)) else kernels[0])
    try:
        import spiceypy as sp
        from spiceypy.utils.exceptions import SpiceyError
    except ImportError:
        raise ImportError("from_spice needs spiceypy (pip install 'io-thermal[spice]')") from None

    with _SPICE_LOCK:
        loaded = []
        try:
            for path in files:
                try:
                    sp.furnsh(path)
                except SpiceyError as error:
                    raise InputError(path, _spice_problem(error)) from None
                loaded.append(path)
            try:
                et = _ephemeris_time(sp, time)
                if from_ik:
                    boresight = _ik_boresight(sp, frame, where)
                directions = _pixel_directions(
                    (nl, ns), ifov, boresight, boresight_pixel, offset, bool(flip_samples)
                )
                target_id = sp.bods2c(str(target))
                radii = np.asarray(sp.bodvcd(target_id, "RADII", 3)[1], dtype=float)
                compute = _analytic if method == "analytic" else _sincpt
                lat, lon, emission, distance = compute(
                    sp,
                    et,
                    directions,
                    frame,
                    str(observer),
                    str(target),
                    target_frame,
                    abcorr,
                    radii,
                )
            except SpiceyError as error:
                raise InputError(where, _spice_problem(error)) from None
        finally:
            for path in reversed(loaded):
                try:
                    sp.unload(path)
                except SpiceyError:  # pragma: no cover - unloading what was loaded
                    pass
    grid = [np.reshape(v, (nl, ns)) for v in (lat, lon, emission, np.asarray(distance) * 1e3)]
    return _dataset(
        *grid,
        "spice",
        int(line_offset) + np.arange(nl),
        np.arange(ns),
        {
            "spice_frame": frame,
            "spice_target": str(target),
            "spice_target_frame": target_frame,
            "spice_observer": str(observer),
            "aberration_correction": abcorr,
            "ephemeris_time": float(et),
            "ifov": ifov,
            "boresight_pixel": np.array(boresight_pixel, dtype=float),
            "boresight": np.array(boresight, dtype=float),
            "pointing_offset": np.array(offset, dtype=float),
            "spice_method": method,
        },
    )


def _boresight(value):
    b = np.asarray(value, dtype=float)
    if b.shape != (3,) or not np.all(np.isfinite(b)) or not b[2] > 0:
        raise ValueError(f"boresight must be 3 finite numbers with z > 0; got {value!r}")
    return b


def _ik_boresight(sp, frame, where):
    """The boresight of the instrument named like ``frame`` (its IK ``INS<id>_BORESIGHT``),
    which must be given in ``frame``."""
    found, code = _instrument_code(sp, frame)
    if not found:
        raise InputError(
            where, f"no instrument named {frame!r} in the kernels (for the IK boresight)"
        )
    _, fov_frame, bsight, _, _ = sp.getfov(code, 4)
    if fov_frame.strip().upper() != frame.strip().upper():
        raise InputError(
            where, f"the IK gives the boresight of {frame!r} in frame {fov_frame!r}, not {frame!r}"
        )
    try:
        return _boresight(bsight)
    except ValueError as error:
        raise InputError(where, f"IK boresight of {frame!r}: {error}") from None


def _instrument_code(sp, name):
    with sp.no_found_check():
        code, found = sp.bodn2c(name)
    return found, code


def _pair(value, name):
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be two finite numbers (line, sample); got {value!r}"
        ) from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ValueError(f"{name} must be two finite numbers (line, sample); got {value!r}")
    return a, b


# --------------------------------------------------------------------------- limb


def _image_array(image, geometry):
    if hasattr(image, "dims"):
        if set(image.dims) != {"line", "sample"}:
            raise ValueError(f"image must have dims (line, sample); got {image.dims}")
        image = image.transpose("line", "sample")
    array = np.array(image, dtype=float)
    shape = (geometry.sizes["line"], geometry.sizes["sample"])
    if array.shape != shape:
        raise ValueError(f"image has shape {array.shape}, the geometry {shape}")
    return array


def _shifted(array, dl, ds, fill=np.nan):
    """``out[l, s] = array[l - dl, s - ds]``, ``fill`` where that is outside."""
    out = np.full_like(array, fill)
    nl, ns = array.shape
    if abs(dl) >= nl or abs(ds) >= ns:
        return out
    src_l = slice(max(0, -dl), nl - max(0, dl))
    dst_l = slice(max(0, dl), nl - max(0, -dl))
    src_s = slice(max(0, -ds), ns - max(0, ds))
    dst_s = slice(max(0, ds), ns - max(0, -ds))
    out[dst_l, dst_s] = array[src_l, src_s]
    return out


def correct_limb(
    image, geometry, *, max_shift=10, min_contrast=3.0, min_lit_fraction=0.1
) -> xr.Dataset:
    """Shift a computed disk onto the limb seen in the image (pointing correction).

    The spacecraft pointing is known to a few pixels only, so published JIRAM processing moves
    the computed backplanes until the computed limb lies on the limb in the image. Here the
    gradient magnitude of the computed disk mask (pixels with a finite latitude) is
    correlated with the gradient magnitude of the image (clipped at its 99.5th percentile so
    that hot spots do not pull), over every integer shift (dline, dsample) with
    ``|dline|, |dsample| <= max_shift`` (ties go to the smallest shift); the best shift is
    kept when the disk is lit: at least ``min_lit_fraction`` of the pixels inside the shifted
    disk exceed the sky (the median outside it) by more than ``min_contrast`` times the sky's
    robust scatter (1.4826 MAD). Otherwise (a night-side frame whose disk shows only hot
    spots, no visible limb, the disk filling the frame) the offset is zero and
    ``limb_correction`` says why. Lit crescents work; a night-side disk crowded with hot
    spots covering more than ``min_lit_fraction`` of it would be taken for a lit one.

    Parameters
    ----------
    image : array_like or xarray.DataArray
        One band of the frame (line, sample) [any radiance unit], NaN allowed.
    geometry : xarray.Dataset
        Per-pixel geometry of the same frame (:func:`from_spice` or :func:`from_backplanes`).
    max_shift : int, optional
        Largest shift tried in each direction [pixel], 0-100 (default 10).
    min_contrast : float, optional
        How far above the sky a pixel counts as lit, in units of the sky's robust scatter
        (default 3).
    min_lit_fraction : float, optional
        Fraction of the disk's pixels that must be lit for a visible limb, in (0, 1]
        (default 0.1).

    Returns
    -------
    xarray.Dataset
        The geometry moved by the offset (``new[l, s] = old[l - dline, s - dsample]``, NaN
        where nothing was computed), with attributes ``limb_offset`` = (dline, dsample)
        [pixel, integers], ``limb_correction`` (what was done, or why nothing) and
        ``limb_score``; after a fit also ``limb_offset_subpixel`` [pixel], the peak of the
        correlation refined by a parabola through its neighbours (within 0.2 pixel of true
        offsets in tests). For SPICE geometry, recomputing with ``from_spice(...,
        offset=pointing_offset + limb_offset_subpixel)`` gives the sub-pixel correction and
        fills the pixels shifted in from outside the frame.

    Raises
    ------
    ValueError
        For a shape mismatch, a geometry without per-pixel latitudes, or arguments out of
        range.
    """
    if isinstance(max_shift, bool) or int(max_shift) != max_shift or not 0 <= max_shift <= 100:
        raise ValueError(f"max_shift must be an integer in [0, 100] [pixel]; got {max_shift!r}")
    max_shift = int(max_shift)
    if not (np.isfinite(min_contrast) and min_contrast > 0):
        raise ValueError(f"min_contrast must be > 0; got {min_contrast!r}")
    if not (np.isfinite(min_lit_fraction) and 0 < min_lit_fraction <= 1):
        raise ValueError(f"min_lit_fraction must be in (0, 1]; got {min_lit_fraction!r}")
    if not isinstance(geometry, xr.Dataset) or "latitude" not in geometry:
        raise ValueError("geometry must be a geometry Dataset with latitude (line, sample)")
    img = _image_array(image, geometry)
    disk = np.isfinite(geometry["latitude"].transpose("line", "sample").values)

    def result(dl, ds, why, score=math.nan):
        out = geometry.copy(deep=True)
        if dl or ds:
            for name in out.data_vars:
                if out[name].dims == ("line", "sample"):
                    out[name].values[...] = _shifted(out[name].values, dl, ds)
                elif set(out[name].dims) == {"line", "sample"}:
                    v = out[name].transpose("line", "sample").values
                    out[name] = out[name].copy(data=_shifted(v, dl, ds).T)
        out.attrs["limb_offset"] = np.array([dl, ds], dtype=np.int64)
        out.attrs["limb_correction"] = why
        out.attrs["limb_score"] = float(score)
        return out

    if not disk.any():
        if (
            geometry.get("emission_angle") is not None
            and np.isfinite(geometry["emission_angle"].values).any()
        ):
            raise ValueError(
                "geometry has no per-pixel latitude (label geometry?): the limb fit needs "
                "per-pixel geometry (from_spice or from_backplanes)"
            )
        return result(0, 0, "no disk in the computed geometry: zero offset")
    if disk.all():
        return result(0, 0, "the computed disk fills the frame (no limb): zero offset")
    finite = np.isfinite(img)
    if finite.sum() < 16:
        return result(0, 0, "image has no data: zero offset")
    fill = np.nanmedian(img)
    clean = np.where(finite, img, fill)
    clean = np.minimum(clean, np.percentile(clean, 99.5))
    g_image = np.hypot(*np.gradient(clean))
    g_model = np.hypot(*np.gradient(disk.astype(float)))
    best, best_score = (0, 0), -np.inf
    scores = {}
    for dl in range(-max_shift, max_shift + 1):
        for ds in range(-max_shift, max_shift + 1):
            model = _shifted(g_model, dl, ds, fill=0.0)
            weight = model.sum()
            if weight <= 0:
                continue
            score = float((model * g_image).sum() / weight)
            scores[(dl, ds)] = score
            # ties go to the smallest shift
            closer = dl * dl + ds * ds < best[0] ** 2 + best[1] ** 2
            if score > best_score or (score == best_score and closer):
                best, best_score = (dl, ds), score
    dl, ds = best
    shifted_disk = _shifted(disk.astype(float), dl, ds, fill=0.0) > 0.5
    inside, outside = img[shifted_disk & finite], img[~shifted_disk & finite]
    if inside.size < 4 or outside.size < 4:
        return result(0, 0, "too few pixels inside or outside the disk: zero offset")
    sky = np.median(outside)
    scatter = 1.4826 * np.median(np.abs(outside - sky))
    # a lit disk (a crescent too), not a few hot spots on a dark one
    lit = float(np.mean(inside > sky + min_contrast * scatter))
    if not lit >= min_lit_fraction:
        return result(
            0,
            0,
            f"no visible limb ({lit:.1%} of the disk brighter than the sky + {min_contrast:g} "
            f"x its scatter {scatter:.3g}, < {min_lit_fraction:g}; a night-side frame?): zero "
            "offset",
        )
    edge = (
        " (at the edge of the search range: raise max_shift)"
        if max(abs(dl), abs(ds)) == max_shift and max_shift > 0
        else ""
    )
    fine = [dl + _vertex(scores, best, (1, 0)), ds + _vertex(scores, best, (0, 1))]
    out = result(
        dl,
        ds,
        f"limb fit: computed disk moved by ({dl}, {ds}) pixels, gradient correlation over "
        f"shifts up to {max_shift}, {lit:.0%} of the disk lit{edge}",
        best_score,
    )
    out.attrs["limb_offset_subpixel"] = np.array(fine, dtype=float)
    return out


def _vertex(scores, best, axis):
    """Sub-pixel shift of the score's peak along ``axis``: the vertex of the parabola through
    the best score and its two neighbours, within +-0.5 pixel (0 at the search edge)."""
    before = scores.get((best[0] - axis[0], best[1] - axis[1]))
    after = scores.get((best[0] + axis[0], best[1] + axis[1]))
    if before is None or after is None:
        return 0.0
    curvature = before - 2.0 * scores[best] + after
    if not curvature < 0:
        return 0.0
    return float(np.clip(0.5 * (before - after) / curvature, -0.5, 0.5))


# --------------------------------------------------------------------------- spots


def _frame_index(values, coord):
    """Fractional index of ``values`` along a monotonic coordinate; NaN outside."""
    coord = np.asarray(coord, dtype=float)
    index = np.arange(coord.size, dtype=float)
    if coord.size == 1:
        return np.where(np.abs(values - coord[0]) <= 0.5, 0.0, np.nan)
    if coord[0] > coord[-1]:
        coord, index = coord[::-1], index[::-1]
    out = np.interp(values, coord, index)
    step = abs(coord[1] - coord[0])
    outside = (values < coord[0] - 0.5 * step) | (values > coord[-1] + 0.5 * step)
    return np.where(outside | ~np.isfinite(values), np.nan, np.clip(out, 0, coord.size - 1))


def _sample_geometry(geometry, line, sample):
    """Bilinear values of the four geometry variables at fractional (line, sample) where all
    four neighbouring pixels are on the disk, else the nearest pixel's."""
    g = {n: geometry[n].transpose("line", "sample").values for n in _VARIABLES}
    nl, ns = g["range"].shape
    li = _frame_index(line, geometry["line"].values)
    si = _frame_index(sample, geometry["sample"].values)
    inside = np.isfinite(li) & np.isfinite(si)
    li0 = np.where(inside, li, 0.0)
    si0 = np.where(inside, si, 0.0)
    l0 = np.clip(np.floor(li0).astype(int), 0, max(nl - 2, 0))
    s0 = np.clip(np.floor(si0).astype(int), 0, max(ns - 2, 0))
    l1, s1 = np.minimum(l0 + 1, nl - 1), np.minimum(s0 + 1, ns - 1)
    wl, ws = np.clip(li0 - l0, 0, 1), np.clip(si0 - s0, 0, 1)
    weights = ((1 - wl) * (1 - ws), (1 - wl) * ws, wl * (1 - ws), wl * ws)
    corners = ((l0, s0), (l0, s1), (l1, s0), (l1, s1))
    on = np.isfinite(g["range"]) & np.isfinite(g["emission_angle"])
    all_on = np.all([on[c] for c in corners], axis=0) & inside
    nearest = (np.rint(li0).astype(int), np.rint(si0).astype(int))
    out = {}
    for name in ("latitude", "emission_angle", "range"):
        bilinear = sum(w * g[name][c] for w, c in zip(weights, corners, strict=True))
        out[name] = np.where(all_on, bilinear, g[name][nearest])
    lon = np.deg2rad(g["longitude"])
    x = sum(w * np.cos(lon[c]) for w, c in zip(weights, corners, strict=True))
    y = sum(w * np.sin(lon[c]) for w, c in zip(weights, corners, strict=True))
    out["longitude"] = np.where(
        all_on, np.mod(np.rad2deg(np.arctan2(y, x)), 360.0), g["longitude"][nearest]
    )
    for name in out:
        out[name] = np.where(inside, out[name], np.nan)
    return out


def spot_geometry(spots, geometry, *, ifov, max_emission_angle=MAX_EMISSION_ANGLE) -> xr.Dataset:
    """Position, intensity and hemispheric flux of hot spots from a frame's geometry.

    Parameters
    ----------
    spots : xarray.Dataset
        Dim ``hotspot`` with ``line`` and ``sample`` (the spot's centroid in the frame's
        coordinates, fractional) and ``radiance_sum`` [W m-2 sr-1 um-1] (the radiance summed
        over the spot's pixels; other dims, e.g. ``band``, broadcast), optionally
        ``radiance_sum_uncertainty`` (e.g. from :func:`thermal.detect.find_hotspots`).
    geometry : xarray.Dataset
        The frame's geometry (:func:`from_spice`, :func:`from_backplanes`,
        :func:`from_label`), with ``line``/``sample`` coordinates matching the spots'.
    ifov : float
        Pixel angular size [rad], > 0 (JIRAM: 237.767e-6).
    max_emission_angle : float, optional
        Limb guard [degree] in (0, 90) (default 80): beyond it (or off the disk) a spot gets
        ``limb = True`` and no ``spectral_flux``.

    Returns
    -------
    xarray.Dataset
        A copy of ``spots`` with ``latitude`` [degrees_north], ``longitude`` [degrees_east],
        ``longitude_west`` [degrees_west], ``emission_angle`` [degree], ``range`` [m],
        ``intensity`` = ``radiance_sum (range ifov)**2`` [W sr-1 um-1] (the radiance of each
        pixel times its projected footprint; defined at any emission angle),
        ``spectral_flux`` = ``pi intensity / cos(e)`` [W um-1] (Lambertian hemispheric flux,
        Davies et al. 2012, doi:10.1029/2011GL049999; NaN for ``limb`` spots), the
        ``*_uncertainty`` of both when ``radiance_sum_uncertainty`` is given (radiance
        uncertainty only: the geometry's is not included), ``limb`` (bool) and the attributes
        ``geometry_source``, ``ifov`` and ``max_emission_angle``.

    Notes
    -----
    The geometry is interpolated bilinearly at the centroid (longitude through its cosine and
    sine) where the four pixels around it are on the disk, else the nearest pixel's values
    are used (NaN off the disk or outside the frame): near the limb no value is mixed with
    sky. The flux uses :func:`thermal.units.intensity_to_flux`, never dividing by cos(e)
    beyond the limb guard.

    Raises
    ------
    ValueError
        For missing variables, mismatched coordinates or arguments out of range.
    """
    ifov = check_ifov(ifov)
    limit = float(max_emission_angle)
    if not 0.0 < limit < 90.0:
        raise ValueError(f"max_emission_angle must be in (0, 90) [degree]; got {limit!r}")
    if not isinstance(spots, xr.Dataset) or "hotspot" not in spots.dims:
        raise ValueError("spots must be a Dataset with dim 'hotspot'")
    missing = [n for n in ("line", "sample", "radiance_sum") if n not in spots.variables]
    if missing:
        raise ValueError(f"spots lack {', '.join(missing)}")
    if not isinstance(geometry, xr.Dataset) or any(n not in geometry for n in _VARIABLES):
        raise ValueError(f"geometry must be a Dataset with {', '.join(_VARIABLES)}")
    if not {"line", "sample"} <= set(geometry.coords):
        raise ValueError("geometry needs line and sample coordinates")
    line = np.asarray(spots["line"].values, dtype=float)
    sample = np.asarray(spots["sample"].values, dtype=float)
    if spots["line"].dims != ("hotspot",) or spots["sample"].dims != ("hotspot",):
        raise ValueError("spots line and sample must have dims (hotspot,)")
    values = _sample_geometry(geometry, line, sample)
    with np.errstate(invalid="ignore"):
        limb = ~(values["emission_angle"] <= limit)
    out = spots.copy()
    for name in _VARIABLES:
        out[name] = ("hotspot", values[name], dict(_ATTRS[name]))
    out["longitude_west"] = (
        "hotspot",
        units.east_to_west(values["longitude"]),
        {"units": "degrees_west", "long_name": "planetocentric west longitude (0-360)"},
    )
    out["limb"] = (
        "hotspot",
        limb,
        {
            "long_name": f"beyond the limb guard (emission angle > {limit:g} degree) or off "
            "the disk"
        },
    )
    distance = out["range"]
    footprint = units.footprint_area(distance, ifov)
    guarded_angle = out["emission_angle"].where(~out["limb"], 0.0)
    for suffix in ("", "_uncertainty"):
        name = f"radiance_sum{suffix}"
        if name not in spots:
            continue
        radiance = units.to_unit(spots[name], "W m-2 sr-1 um-1", name)
        intensity = radiance * footprint
        intensity.attrs = {
            "units": "W sr-1 um-1",
            "long_name": "spectral intensity towards the observer"
            + (" (1-sigma uncertainty)" if suffix else ""),
            "comment": "radiance_sum x (range x ifov)^2",
        }
        angle = guarded_angle.broadcast_like(intensity).transpose(*intensity.dims)
        flux = units.intensity_to_flux(intensity.where(~out["limb"]).values, angle.values, limit)
        out[f"intensity{suffix}"] = intensity
        out[f"spectral_flux{suffix}"] = intensity.copy(
            data=np.asarray(flux, dtype=float)
        ).assign_attrs(
            {
                "units": "W um-1",
                "long_name": "hemispheric spectral radiant flux (Lambertian, pi I / cos e)"
                + (" (1-sigma uncertainty)" if suffix else ""),
                "comment": "NaN beyond the limb guard or off the disk (doi:10.1029/2011GL049999)",
            }
        )
    out.attrs["geometry_source"] = geometry.attrs.get("geometry_source", "unknown")
    out.attrs["ifov"] = ifov
    out.attrs["max_emission_angle"] = limit
    return out


_JIRAM_FRAMES = {"jiram_l": "JUNO_JIRAM_I_LBAND", "jiram_m": "JUNO_JIRAM_I_MBAND"}
"""SPICE frames of the two imager filters (Juno frame kernel; NAIF ids -61411, -61412)."""


def jiram_spice_geometry(
    observation: xr.Dataset,
    kernels,
    *,
    correct: bool = True,
    max_shift: int = 10,
    kernel_root=None,
) -> xr.Dataset:
    """Per-pixel geometry of a JIRAM imager frame from SPICE, each filter's part apart, with
    the limb correction of published JIRAM processing.

    Parameters
    ----------
    observation : xarray.Dataset
        The frame (:func:`thermal.io.jiram.read_jiram`): ``radiance (line, sample, band)`` and
        the attributes ``jiram_start_time`` and ``jiram_stop_time`` (UTC; the midpoint is used).
    kernels : str, path-like or sequence
        A meta-kernel (the files it names must lie in its folder, or in ``kernel_root``) or
        kernel files; they must cover Juno, Io, the JIRAM frames and a leapseconds kernel.
    correct : bool, optional
        Shift each part's computed disk onto the limb seen in it (:func:`correct_limb`;
        nothing moves on a frame without a visible limb). Default True.
    max_shift : int, optional
        Largest correction [pixels] tried. Default 10.
    kernel_root : str, optional
        A folder that kernels named by the meta-kernel may also lie in.

    Returns
    -------
    xarray.Dataset
        Over the frame's (``line``, ``sample``): ``latitude``, ``longitude`` [degrees_east],
        ``emission_angle`` [degree], ``range`` [m]; ``geometry_source = "spice"`` and, per
        filter, the limb offsets found (``limb_offset_jiram_l``, ``limb_offset_jiram_m``).

    Raises
    ------
    InputError
        No time in the product, or SPICE could not compute the geometry (missing kernels).
    """
    start = observation.attrs.get("jiram_start_time")
    stop = observation.attrs.get("jiram_stop_time", start)
    source = str(observation.attrs.get("source", "observation"))
    if not start:
        raise InputError(source, "no START_TIME in the label: SPICE geometry needs the time")
    try:
        first = np.datetime64(str(start).replace(" ", "T").split("+")[0].rstrip("Z"), "ns")
        last = np.datetime64(str(stop).replace(" ", "T").split("+")[0].rstrip("Z"), "ns")
    except ValueError:
        raise InputError(source, f"START_TIME {start!r} is not an ISO time") from None
    middle = first + (last - first) / 2
    radiance = observation["radiance"]
    parts = []
    attrs = {}
    for band in radiance["band"].values:
        image = radiance.sel(band=band).transpose("line", "sample")
        rows = np.flatnonzero(np.isfinite(image.values).any(axis=1))
        if rows.size == 0:
            continue
        image = image.isel(line=slice(int(rows[0]), int(rows[-1]) + 1))
        geometry = from_spice(
            kernels,
            middle,
            shape=image.shape,
            ifov=IFOV,
            frame=_JIRAM_FRAMES[str(band)],
            line_offset=int(image["line"].values[0]),
            kernel_root=kernel_root,
        )
        if correct:
            geometry = correct_limb(image, geometry, max_shift=max_shift)
            attrs[f"limb_offset_{band}"] = str(geometry.attrs.get("limb_offset", ""))
        parts.append(geometry)
    if not parts:
        raise InputError(source, "an empty frame: no geometry to compute")
    out = xr.concat(parts, "line", combine_attrs="drop_conflicts")
    out.attrs.update(attrs)
    out.attrs["geometry_source"] = "spice"
    return out
