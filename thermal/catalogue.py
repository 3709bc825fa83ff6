"""Named Io hot spots, and one identity per hot spot across frames, orbits and runs.

The shipped table ``thermal/data/io_hotspots.csv`` lists the 343 thermal sources of Davies et
al. (2024), Planet. Sci. J. 5:121, doi:10.3847/PSJ/ad4346, Table A1 (CC BY 4.0): Galileo-era
hot spots compiled by Veeder et al. (2015), Keck/Gemini detections and new Juno JIRAM
detections, with latitude [degrees north] and west longitude [degrees west] as published; its
provenance is in ``thermal/data/io_hotspots.md``. Sources without a name carry their published
designation (``P197``, ``PV93``, ``JRM111``).

Detections (one row per hot spot per frame and band, along a dimension ``detection``) get a
``hotspot_id``:

- a detection within the matching tolerance of a catalogued spot gets its name as id
  (``"Loki Patera"``);
- detections of one spot in several frames or orbits (within the tolerance of each other)
  share one id; a spot on no catalogued position gets a new id ``"TH-0001"``, ``"TH-0002"``...;
- ids of an earlier catalogue passed as ``previous`` are kept (a re-run gives the same ids);
- rows without a position get the empty id ``""`` and stay in the table.

Distances are great-circle distances on a sphere of Io's mean radius
(:data:`thermal.constants.IO_RADIUS`) in [km]. The matching tolerance follows the pixel
footprint: :func:`tolerance_for` gives ``max(3 pixels, 50 km)``. Three pixels cover a centroid
error of a pixel plus the few-pixel pointing error of spacecraft images; the 50 km floor is
~1.6 degrees on Io. It exceeds the position updates between Veeder et al. (2015) and Davies et
al. (2024) (<= 16 km), is close to the median offset (42 km) between the whole-degree positions
of Mura et al. (2024, Front. Astron. Space Sci. 11:1369472) Table 2 and Davies et al. (2024)
for the same named spots (90 % within 96 km), and is below the 5th percentile (74 km) of the
distance between neighbouring catalogued spots (median 203 km), so it rarely reaches two of
them. Extended features (a patera 200 km across, a flow field) are catalogued as one point:
a detection on their far side may need a larger ``tolerance``.

Identity is single-linkage clustering (Kruskal order: the closest pairs first) over the pairs
of detections, catalogued spots and rows of ``previous`` within tolerance (found with a
:class:`scipy.spatial.cKDTree` on unit vectors), with two constraints: a cluster holds at most
one published name or earlier id, and two detections of one frame (same ``source``, ``time``
and ``band``) are distinct spots, never one.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
from importlib import resources

import numpy as np
import xarray as xr
from scipy.spatial import cKDTree

from thermal.constants import IO_RADIUS

__all__ = [
    "ID_PREFIX",
    "TOLERANCE_FLOOR",
    "TOLERANCE_PIXELS",
    "assign_ids",
    "great_circle_distance",
    "light_curve",
    "match_named",
    "named_hotspots",
    "read_catalogue_csv",
    "tolerance_for",
    "write_catalogue_csv",
]

TOLERANCE_FLOOR = 50.0
"""Smallest matching tolerance [km] (see the module notes)."""
TOLERANCE_PIXELS = 3.0
"""Matching tolerance in pixel footprints [1] (see the module notes)."""
ID_PREFIX = "TH-"
"""Prefix of the ids of hot spots on no catalogued position (``TH-0001``...)."""

_RADIUS_KM = IO_RADIUS / 1e3
_DATA = "data/io_hotspots.csv"
_STRING_COLUMNS = ("hotspot_id", "name", "source", "band")
_FIRST_COLUMNS = (
    "hotspot_id",
    "name",
    "time",
    "source",
    "band",
    "latitude",
    "longitude",
    "longitude_west",
)
_NUMERIC_COLUMNS = ("latitude", "longitude", "longitude_west", "pixel_scale")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?$")
_ATTRS = {
    "latitude": {"units": "degrees_north", "standard_name": "latitude", "long_name": "latitude"},
    "longitude": {
        "units": "degrees_east",
        "standard_name": "longitude",
        "long_name": "longitude (east)",
    },
    "longitude_west": {"units": "degree", "long_name": "west longitude"},
    "hotspot_id": {
        "long_name": "hot spot id: the published name, or TH-nnnn for an uncatalogued spot",
        "cf_role": "timeseries_id",
    },
    "name": {"long_name": "published name of the matched hot spot"},
    "pixel_scale": {"units": "m", "long_name": "pixel footprint on the surface"},
    "time": {"standard_name": "time", "long_name": "time of observation (UTC)"},
}
_COLUMNS = {  # the detections' own columns: (units as thermal detect writes them, long name)
    "line": ("1", "line of the spot (0-based pixel index)"),
    "sample": ("1", "sample of the spot (0-based pixel index)"),
    "npix": ("1", "number of pixels of the spot"),
    "snr": ("1", "signal-to-noise ratio"),
    "radiance_sum": ("W m-2 sr-1 um-1", "radiance summed over the spot"),
    "radiance_sum_uncertainty": ("W m-2 sr-1 um-1", "1-sigma uncertainty of radiance_sum"),
    "brightness_temperature": ("K", "peak band brightness temperature"),
    "emission_angle": ("degree", "emission angle"),
    "range": ("m", "observer-spot distance"),
    "intensity": ("W sr-1 um-1", "spectral intensity"),
    "spectral_flux": ("W um-1", "hemispheric spectral radiant flux"),
    "spectral_flux_uncertainty": ("W um-1", "1-sigma uncertainty of spectral_flux"),
    "power_lower": ("W", "smallest power over the temperature range"),
    "power_upper": ("W", "largest power over the temperature range"),
    "frame_latitude": ("degrees_north", "latitude of the frame centre"),
    "frame_longitude_west": ("degrees_west", "west longitude of the frame"),
    "temperature_1t": ("K", "one-temperature fit of the two bands"),
    "temperature_1t_uncertainty": ("K", "1-sigma of temperature_1t"),
    "area_1t": ("m2", "area of the one-temperature fit"),
    "area_1t_uncertainty": ("m2", "1-sigma of area_1t"),
    "power_1t": ("W", "power of the one-temperature fit"),
    "power_1t_uncertainty": ("W", "1-sigma of power_1t"),
}
_ATTRS.update({name: {"units": u, "long_name": ln} for name, (u, ln) in _COLUMNS.items()})


# ---------------------------------------------------------------------------------- geometry


def _unit_vectors(latitude, longitude):
    lat = np.radians(latitude)
    lon = np.radians(longitude)
    cos_lat = np.cos(lat)
    return np.stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)], axis=-1)


def _chord_to_km(chord):
    return 2.0 * np.arcsin(np.clip(np.asarray(chord, dtype=float) / 2.0, 0.0, 1.0)) * _RADIUS_KM


def _km_to_chord(distance):
    angle = np.minimum(np.asarray(distance, dtype=float) / _RADIUS_KM, np.pi)
    return 2.0 * np.sin(angle / 2.0)


def _check_latitude(value, argument: str) -> np.ndarray:
    value = np.asarray(value, dtype=float)
    bad = ~np.isnan(value) & ~((value >= -90.0) & (value <= 90.0))
    if np.any(bad):
        raise ValueError(f"{argument} must be in [-90, 90] [degrees_north]")
    return value


def _check_longitude(value, argument: str) -> np.ndarray:
    value = np.asarray(value, dtype=float)
    if np.any(np.isinf(value)):
        raise ValueError(f"{argument} must be finite [degrees_east] (any value, taken mod 360)")
    return value


def _wrap(longitude) -> np.ndarray:
    """Longitude in [0, 360) (``np.mod`` can round a tiny negative value up to 360)."""
    wrapped = np.mod(np.asarray(longitude, dtype=float), 360.0)
    return np.where(wrapped >= 360.0, 0.0, wrapped)


def great_circle_distance(latitude1, longitude1, latitude2, longitude2, *, radius=_RADIUS_KM):
    """Great-circle distance between two points on Io (or another sphere).

    Uses ``atan2(|u x v|, u . v)`` on unit vectors, accurate at every separation (the
    haversine formula loses precision near antipodes, the spherical law of cosines near 0).

    Parameters
    ----------
    latitude1, longitude1 : array_like
        First point: latitude [degrees_north] in [-90, 90], longitude [degrees_east] (any
        finite value; east or west, as long as both points use the same convention).
    latitude2, longitude2 : array_like
        Second point, as the first; all four broadcast together.
    radius : float, optional
        Radius of the sphere [km]; default Io's mean radius,
        :data:`thermal.constants.IO_RADIUS` / 1000 = 1821.6 km.

    Returns
    -------
    numpy.ndarray or float
        Distance [km]; NaN where a coordinate is NaN.

    Raises
    ------
    ValueError
        If a latitude is outside [-90, 90], a longitude is infinite or ``radius`` is not > 0.
    """
    lat1 = _check_latitude(latitude1, "latitude1")
    lat2 = _check_latitude(latitude2, "latitude2")
    lon1 = _check_longitude(longitude1, "longitude1")
    lon2 = _check_longitude(longitude2, "longitude2")
    radius = float(radius)
    if not (radius > 0.0 and np.isfinite(radius)):
        raise ValueError("radius must be > 0 and finite [km]")
    lat1, lon1, lat2, lon2 = np.broadcast_arrays(lat1, lon1, lat2, lon2)
    u = _unit_vectors(lat1, lon1)
    v = _unit_vectors(lat2, lon2)
    cross = np.linalg.norm(np.cross(u, v), axis=-1)
    dot = np.sum(u * v, axis=-1)
    distance = radius * np.arctan2(cross, dot)
    return float(distance) if distance.ndim == 0 else distance


def tolerance_for(pixel_scale_m):
    """Matching tolerance for a pixel footprint: ``max(3 pixels, 50 km)`` [km].

    Parameters
    ----------
    pixel_scale_m : array_like
        Pixel footprint on Io's surface [m], >= 0; NaN (unknown) gives the floor.

    Returns
    -------
    numpy.ndarray or float
        Tolerance [km]: ``max(TOLERANCE_PIXELS * pixel_scale_m / 1000, TOLERANCE_FLOOR)``.

    Raises
    ------
    ValueError
        If a pixel scale is negative or infinite.
    """
    scale = np.asarray(pixel_scale_m, dtype=float)
    if np.any(np.isinf(scale) | (scale < 0.0)):
        raise ValueError("pixel_scale_m must be >= 0 and finite [m] (NaN: unknown)")
    tolerance = np.fmax(TOLERANCE_PIXELS * scale / 1e3, TOLERANCE_FLOOR)
    return float(tolerance) if tolerance.ndim == 0 else tolerance


def _check_tolerance(tolerance, argument: str = "tolerance") -> np.ndarray:
    value = np.asarray(tolerance, dtype=float)
    if np.any(~(value >= 0.0) | np.isinf(value)):
        raise ValueError(f"{argument} must be >= 0 and finite [km]")
    return value


# ------------------------------------------------------------------------------ named table


@functools.cache
def _named_table() -> xr.Dataset:
    text = resources.files("thermal").joinpath(_DATA).read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    columns = {key: [row[key] for row in rows] for key in rows[0]}
    names = np.array(columns.pop("name"), dtype=object)
    latitude = np.array(columns.pop("latitude"), dtype=float)
    west = np.array(columns.pop("longitude_west"), dtype=float)
    data = {
        "latitude": ("name", latitude, _ATTRS["latitude"]),
        "longitude_west": (
            "name",
            west,
            {"units": "degree", "long_name": "west longitude (as published)"},
        ),
        "longitude": (
            "name",
            _wrap(360.0 - west),
            {**_ATTRS["longitude"], "long_name": "longitude (east, from the west longitude)"},
        ),
    }
    long_names = {
        "reference": "publication the position is taken from",
        "doi": "DOI of the reference",
        "source": "place in the reference",
        "detection": "origin of the detection, as the reference gives it",
        "name_published": "name or designation as printed in the reference",
        "note": "note",
    }
    for key, values in columns.items():
        data[key] = (
            "name",
            np.array(values, dtype=object),
            {"long_name": long_names.get(key, key)},
        )
    ds = xr.Dataset(data, coords={"name": ("name", names, {"long_name": "hot spot name"})})
    ds.attrs = {
        "title": "Named Io hot spots",
        "references": (
            "Davies et al. 2024, Planet. Sci. J. 5:121, doi:10.3847/PSJ/ad4346, Table A1"
        ),
        "license": "CC BY 4.0 (the source table)",
        "comment": "provenance: thermal/data/io_hotspots.md",
    }
    return ds


@functools.cache
def _named_tree():
    ds = _named_table()
    vectors = _unit_vectors(ds["latitude"].values, ds["longitude"].values)
    return cKDTree(vectors), ds["name"].values


def named_hotspots() -> xr.Dataset:
    """The catalogue of named Io hot spots shipped with `thermal` (read once, cached).

    Returns
    -------
    xarray.Dataset
        Dimension ``name`` (343 published names or designations, unique), variables
        ``latitude`` [degrees_north], ``longitude_west`` [degrees west, as published],
        ``longitude`` [degrees_east, in [0, 360)], ``reference``, ``doi``, ``source`` (the row
        in the reference), ``detection``, ``name_published`` and ``note``. A copy: changing it
        does not change the cache.
    """
    return _named_table().copy(deep=True)


def match_named(latitude, longitude_east, tolerance=TOLERANCE_FLOOR):
    """The catalogued hot spot nearest to each position, if within ``tolerance``.

    Parameters
    ----------
    latitude : array_like
        Latitude [degrees_north] in [-90, 90]; NaN for no position.
    longitude_east : array_like
        Longitude [degrees_east], any finite value (taken mod 360); NaN for no position.
    tolerance : array_like, optional
        Largest great-circle distance [km] to the catalogued position, >= 0; broadcasts with
        the positions (one per detection, e.g. from :func:`tolerance_for`). Default
        :data:`TOLERANCE_FLOOR` (50 km).

    Returns
    -------
    names : numpy.ndarray of str
        The name of the nearest catalogued spot, ``""`` where it is beyond ``tolerance`` or
        the position is NaN.
    distances : numpy.ndarray of float
        Great-circle distance [km] to the nearest catalogued spot (given also where it is
        beyond ``tolerance``); NaN where the position is NaN.

    Raises
    ------
    ValueError
        If a latitude is outside [-90, 90], a longitude infinite or a tolerance negative,
        infinite or NaN.
    """
    lat = _check_latitude(latitude, "latitude")
    lon = _check_longitude(longitude_east, "longitude_east")
    tol = _check_tolerance(tolerance)
    lat, lon, tol = np.broadcast_arrays(lat, lon, tol)
    tree, names = _named_tree()
    valid = np.isfinite(lat) & np.isfinite(lon)
    distances = np.full(lat.shape, np.nan)
    matched = np.full(lat.shape, "", dtype=object)
    if np.any(valid):
        chord, index = tree.query(_unit_vectors(lat[valid], lon[valid]))
        km = _chord_to_km(chord)
        distances[valid] = km
        matched[valid] = np.where(km <= tol[valid], names[index], "")
    return matched.astype(str), distances


# ----------------------------------------------------------------------------- identities


class _Components:
    """Union-find with the two merge constraints of :func:`assign_ids`."""

    def __init__(self, fixed: list, frames: list):
        self.parent = list(range(len(fixed)))
        self.fixed = fixed  # published name or earlier id of the component, or None
        self.frames = frames  # frame keys of its detections (sets), or None

    def find(self, node: int) -> int:
        parent = self.parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        fa, fb = self.fixed[ra], self.fixed[rb]
        if fa is not None and fb is not None and fa != fb:
            return
        sa, sb = self.frames[ra], self.frames[rb]
        if sa and sb:
            if len(sa) < len(sb):
                sa, sb = sb, sa
            if not sa.isdisjoint(sb):
                return
            sa |= sb
        merged = sa or sb
        self.parent[rb] = ra
        self.fixed[ra] = fa if fa is not None else fb
        self.frames[ra] = merged
        self.frames[rb] = None


def _positions(ds: xr.Dataset, argument: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(ds, xr.Dataset):
        raise ValueError(f"{argument} must be an xarray.Dataset with a dimension 'detection'")
    if "detection" not in ds.dims:
        raise ValueError(f"{argument} must have a dimension 'detection'")
    for key in ("latitude", "longitude"):
        if key not in ds.variables or ds[key].dims != ("detection",):
            raise ValueError(
                f"{argument} needs a variable {key!r} along 'detection' "
                f"(latitude [degrees_north], longitude [degrees_east])"
            )
    lat = _check_latitude(ds["latitude"].values, f"{argument}.latitude")
    lon = _check_longitude(ds["longitude"].values, f"{argument}.longitude")
    return lat, lon


def _tolerances(ds: xr.Dataset, tolerance, n: int, argument: str) -> np.ndarray:
    if tolerance is not None:
        value = _check_tolerance(tolerance)
        if value.size not in (1, n) or value.ndim > 1:
            raise ValueError(f"tolerance must be one value or one per row of {argument} [km]")
        return np.broadcast_to(value.reshape(-1), (n,)).astype(float)
    if "pixel_scale" in ds.variables and ds["pixel_scale"].dims == ("detection",):
        scale = np.asarray(ds["pixel_scale"].values, dtype=float)
        if np.any(np.isinf(scale) | (scale < 0.0)):
            raise ValueError(f"{argument}.pixel_scale must be >= 0 and finite [m] (NaN: unknown)")
        return np.asarray(tolerance_for(scale), dtype=float).reshape(n)
    return np.full(n, TOLERANCE_FLOOR)


def _column(ds: xr.Dataset, key: str, n: int):
    if key in ds.variables and ds[key].dims == ("detection",):
        return ds[key].values
    return None


def _frame_keys(ds: xr.Dataset, n: int) -> list:
    """One key per detection naming its frame (source, time, band), None when unknown."""
    source, time, band = (_column(ds, key, n) for key in ("source", "time", "band"))
    if source is None and time is None:
        return [None] * n
    keys = []
    for i in range(n):
        parts = []
        if source is not None:
            parts.append(str(source[i]) if source[i] is not None else "")
        if time is not None:
            value = time[i]
            if isinstance(value, np.datetime64) and np.isnat(value):
                keys.append(None)
                continue
            parts.append(str(value))
        if band is not None:
            parts.append(str(band[i]))
        keys.append(tuple(parts) if any(parts) else None)
    return keys


def _sort_key_times(ds: xr.Dataset, n: int) -> np.ndarray:
    time = _column(ds, "time", n)
    if time is None or not np.issubdtype(np.asarray(time).dtype, np.datetime64):
        return np.full(n, np.inf)
    values = np.asarray(time).astype("datetime64[ns]")
    out = values.astype(np.int64).astype(float)
    out[np.isnat(values)] = np.inf
    return out


def _edges(tree_a, tolerance_a, tree_b, tolerance_b, limit):
    """Pairs (i in a, j in b) within max(tolerance_a[i], tolerance_b[j]) [km], distances [km]."""
    pairs = tree_a.sparse_distance_matrix(tree_b, _km_to_chord(limit), output_type="ndarray")
    i = pairs["i"].astype(np.intp)
    j = pairs["j"].astype(np.intp)
    distance = _chord_to_km(pairs["v"])
    keep = distance <= np.maximum(tolerance_a[i], tolerance_b[j])
    return i[keep], j[keep], distance[keep]


def _next_number(ids) -> int:
    pattern = re.compile(rf"^{re.escape(ID_PREFIX)}(\d+)$")
    numbers = [int(m.group(1)) for m in map(pattern.match, map(str, ids)) if m]
    return max(numbers, default=0) + 1


def assign_ids(detections: xr.Dataset, previous: xr.Dataset | None = None, *, tolerance=None):
    """Give every detection a hot-spot id, the same for one spot over frames, orbits and runs.

    Parameters
    ----------
    detections : xarray.Dataset
        One row per detected spot per frame and band along the dimension ``detection``, with
        ``latitude`` [degrees_north] and ``longitude`` [degrees_east] (NaN: no position) and
        optionally ``time`` (datetime64, UTC), ``source`` (the file or product), ``band`` and
        ``pixel_scale`` (the footprint [m]; NaN: unknown). Other variables are carried along.
    previous : xarray.Dataset, optional
        An earlier catalogue (a result of this function, or :func:`read_catalogue_csv`):
        a detection within tolerance of one of its rows takes that row's ``hotspot_id`` (and
        ``name``), so ids stay stable across runs; new ``TH-`` numbers continue after its
        highest one.
    tolerance : array_like, optional
        Matching tolerance [km] >= 0, one for all or one per detection (``previous`` rows get
        the largest given). Default: :func:`tolerance_for` of each row's ``pixel_scale``
        (:data:`TOLERANCE_FLOOR` where it is missing). Two rows are linked when their distance
        is at most the larger of their tolerances; a detection and a catalogued spot when it
        is at most the detection's.

    Returns
    -------
    xarray.Dataset
        A copy of ``detections`` with ``hotspot_id`` (the catalogued name, an earlier id or a
        new ``TH-nnnn``; ``""`` for rows without a position), ``name`` (the published name, or
        ``""``) and ``longitude_west`` [degrees west].

    Raises
    ------
    ValueError
        If ``detections`` (or ``previous``) is not a Dataset with ``latitude`` and
        ``longitude`` along ``detection``, a latitude is outside [-90, 90], a longitude is
        infinite, or a tolerance or pixel scale is negative or infinite.

    Notes
    -----
    Single-linkage clustering, closest pairs first, of the detections with each other, with
    the catalogued spots and with the rows of ``previous``; a cluster never joins two
    published names or earlier ids, nor two detections of one frame (the same ``source``,
    ``time`` and ``band``: the detector saw two spots there). A cluster with a published name
    or an earlier id takes it; the others are numbered in order of their first detection.
    A frame is known by the variables it has of ``source``, ``time`` and ``band``; without
    ``source`` and ``time`` the frame constraint is off. The cost grows with the number of
    pairs within tolerance: ~1.5 s for 30,000 detections of 343 spots, scattered by ~10 km.
    """
    lat, lon = _positions(detections, "detections")
    n = lat.size
    tol = _tolerances(detections, tolerance, n, "detections")
    valid = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))

    named_ds = _named_table()
    named_tree, named_names = _named_tree()
    k = named_names.size

    prev_ids: np.ndarray = np.array([], dtype=object)
    prev_names: dict[str, str] = {}
    prev_vectors = np.empty((0, 3))
    prev_tol = np.empty(0)
    if previous is not None:
        plat, plon = _positions(previous, "previous")
        if "hotspot_id" not in previous.variables:
            raise ValueError("previous needs a variable 'hotspot_id' along 'detection'")
        ids = np.asarray(previous["hotspot_id"].values, dtype=object)
        names = _column(previous, "name", ids.size)
        given = None if tolerance is None else float(np.max(_check_tolerance(tolerance)))
        ptol = _tolerances(previous, given, ids.size, "previous")
        keep = np.isfinite(plat) & np.isfinite(plon) & np.array([bool(s) for s in ids], dtype=bool)
        prev_ids = ids[keep]
        prev_vectors = _unit_vectors(plat[keep], plon[keep])
        prev_tol = ptol[keep]
        for index in np.flatnonzero(ids != ""):
            label = str(ids[index])
            if names is not None and names[index] and label not in prev_names:
                prev_names[label] = str(names[index])
    m = prev_ids.size

    hotspot_id = np.full(n, "", dtype=object)
    if valid.size:
        vectors = _unit_vectors(lat[valid], lon[valid])
        vtol = tol[valid]
        limit = float(max(vtol.max(), prev_tol.max(initial=0.0)))
        tree = cKDTree(vectors)
        # nodes: detections 0..v-1, catalogued spots v..v+k-1, previous rows v+k..v+k+m-1
        v = valid.size
        edges = []
        pairs = tree.query_pairs(_km_to_chord(limit), output_type="ndarray")
        if pairs.size:
            a, b = pairs[:, 0], pairs[:, 1]
            d = _chord_to_km(np.linalg.norm(vectors[a] - vectors[b], axis=1))
            keep = d <= np.maximum(vtol[a], vtol[b])
            edges.append((a[keep], b[keep], d[keep], np.full(keep.sum(), 2)))
        a, j, d = _edges(tree, vtol, named_tree, np.zeros(k), limit)
        edges.append((a, v + j, d, np.zeros(a.size, dtype=int)))
        if m:
            a, j, d = _edges(tree, vtol, cKDTree(prev_vectors), prev_tol, limit)
            edges.append((a, v + k + j, d, np.ones(a.size, dtype=int)))
        a, b, d, kind = (np.concatenate(parts) for parts in zip(*edges, strict=True))
        # closest first; at equal distance a catalogued spot, then an earlier id, then a pair
        order = np.lexsort((b, a, kind, d))

        fixed = [None] * v + list(named_names) + [str(s) for s in prev_ids]
        frames = [{key} if key is not None else None for key in _frame_keys(detections, n)]
        components = _Components(fixed, [frames[i] for i in valid] + [None] * (k + m))
        for u, w in zip(a[order].tolist(), b[order].tolist(), strict=True):
            components.union(u, w)

        roots = np.array([components.find(i) for i in range(v)])
        labels = np.array([components.fixed[r] for r in roots], dtype=object)
        new = np.flatnonzero([label is None for label in labels])
        if new.size:
            times = _sort_key_times(detections, n)[valid]
            first: dict[int, tuple[float, int]] = {}
            for i in new:
                key = (times[i], int(valid[i]))
                first[roots[i]] = min(first.get(roots[i], key), key)
            number = _next_number(prev_ids)
            for offset, root in enumerate(sorted(first, key=first.__getitem__)):
                labels[roots == root] = f"{ID_PREFIX}{number + offset:04d}"
        hotspot_id[valid] = labels

    catalogued = set(named_ds["name"].values.tolist())
    name = np.array(
        [s if s in catalogued else prev_names.get(s, "") for s in hotspot_id], dtype=object
    )
    out = detections.copy()
    out["hotspot_id"] = ("detection", hotspot_id.astype(str), _ATTRS["hotspot_id"])
    out["name"] = ("detection", name.astype(str), _ATTRS["name"])
    if "longitude_west" not in out.variables:
        west = np.where(np.isnan(lon), np.nan, _wrap(360.0 - _wrap(lon)))
        out["longitude_west"] = ("detection", west, _ATTRS["longitude_west"])
    return out


def light_curve(catalogue: xr.Dataset, hotspot_id: str) -> xr.Dataset:
    """The detections of one hot spot, sorted by time.

    Parameters
    ----------
    catalogue : xarray.Dataset
        A catalogue with ``hotspot_id`` along ``detection`` (:func:`assign_ids`,
        :func:`read_catalogue_csv`).
    hotspot_id : str
        The id (a published name such as ``"Loki Patera"``, or ``"TH-0001"``).

    Returns
    -------
    xarray.Dataset
        The rows with that id along ``detection``, in order of ``time`` (rows without a time
        last; the original order where there is no ``time``).

    Raises
    ------
    ValueError
        If ``catalogue`` has no ``hotspot_id``, or no row has ``hotspot_id``.
    """
    if not isinstance(catalogue, xr.Dataset) or "hotspot_id" not in catalogue.variables:
        raise ValueError("catalogue must be a Dataset with 'hotspot_id' along 'detection'")
    if not isinstance(hotspot_id, str) or not hotspot_id:
        raise ValueError("hotspot_id must be a non-empty string, an id in the catalogue")
    rows = np.flatnonzero(np.asarray(catalogue["hotspot_id"].values, dtype=object) == hotspot_id)
    if rows.size == 0:
        raise ValueError(f"hotspot_id {hotspot_id!r} is not in the catalogue")
    times = _sort_key_times(catalogue, catalogue.sizes["detection"])[rows]
    return catalogue.isel(detection=rows[np.argsort(times, kind="stable")])


# ---------------------------------------------------------------------------------- CSV files


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, np.datetime64):  # milliseconds, as detections give them, or finer
        if np.isnat(value):
            return ""
        exact = value.astype("datetime64[ms]") == value
        return str(np.datetime_as_string(value, "ms" if exact else "auto"))
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value)


def write_catalogue_csv(path, detections: xr.Dataset) -> str:
    """Write a catalogue as CSV, atomically (temporary file, flushed, renamed into place).

    Parameters
    ----------
    path : str or path-like
        Output file; its directory must exist. An existing file is replaced only when the new
        one is complete.
    detections : xarray.Dataset
        The result of :func:`assign_ids`: every variable along ``detection`` becomes a column,
        ``hotspot_id``, ``name``, ``time``, ``source``, ``band``, ``latitude``, ``longitude``
        [degrees_east] and ``longitude_west`` [degrees west] first (``longitude_west`` is
        added when missing). Times are ISO 8601, UTC, without a zone suffix; floats are
        written exactly (shortest round-trip form); NaN and NaT are empty cells. Scalar
        variables and the ``detection`` index are not written.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    ValueError
        If ``detections`` has no ``hotspot_id`` or a variable with more than one value per
        detection.
    OSError
        If the directory does not exist or is not writable; no file is left behind.
    """
    from thermal.io.results import write_text_atomically

    _, lon = _positions(detections, "detections")
    if "hotspot_id" not in detections.variables:
        raise ValueError("detections needs 'hotspot_id' (run thermal.catalogue.assign_ids)")
    ds = detections
    if "longitude_west" not in ds.variables:
        west = np.where(np.isnan(lon), np.nan, _wrap(360.0 - _wrap(lon)))
        ds = ds.assign(longitude_west=("detection", west))
    columns = []
    for key in list(ds.coords) + list(ds.data_vars):
        variable = ds[key]
        if key == "detection" or variable.ndim == 0:
            continue
        if variable.dims != ("detection",):
            raise ValueError(
                f"detections: variable {key!r} has dimensions {variable.dims}; a catalogue "
                "CSV holds one value per detection"
            )
        if key not in columns:
            columns.append(str(key))
    columns = [c for c in _FIRST_COLUMNS if c in columns] + [
        c for c in columns if c not in _FIRST_COLUMNS
    ]
    values = [ds[c].values for c in columns]

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    for i in range(ds.sizes["detection"]):
        writer.writerow([_cell(column[i]) for column in values])
    return write_text_atomically(path, text.getvalue())


def _parse_column(key: str, cells: list[str]) -> np.ndarray:
    present = [c for c in cells if c != ""]
    if key in _STRING_COLUMNS:
        return np.array(cells, dtype=str)
    if key == "time" or (present and all(_ISO_TIME.match(c) for c in present)):
        # UTC: a trailing "Z" is dropped (numpy's times have no zone)
        times = [c.removesuffix("Z") if c else "NaT" for c in cells]
        return np.array(times, dtype="datetime64[ns]")
    if key in _NUMERIC_COLUMNS or not present:  # an empty column: numbers not known
        return np.array([float(c) if c else np.nan for c in cells], dtype=float)
    if present and all(c in ("true", "false") for c in present) and len(present) == len(cells):
        return np.array([c == "true" for c in cells])
    if present and len(present) == len(cells):
        try:
            return np.array([int(c) for c in cells], dtype=np.int64)
        except ValueError:
            pass
    if present:
        try:
            return np.array([float(c) if c else np.nan for c in cells], dtype=float)
        except ValueError:
            pass
    return np.array(cells, dtype=str)


def read_catalogue_csv(path) -> xr.Dataset:
    """Read a catalogue written by :func:`write_catalogue_csv`.

    Parameters
    ----------
    path : str or path-like
        The CSV file.

    Returns
    -------
    xarray.Dataset
        One row per detection along ``detection``: ``hotspot_id``, ``name``, ``source`` and
        ``band`` as strings, ``time`` as datetime64[ns] (NaT where empty), ``latitude``
        [degrees_north], ``longitude`` [degrees_east], ``longitude_west`` [degrees west] and
        ``pixel_scale`` [m] as floats (NaN where empty); other columns as integers, floats,
        booleans or strings, whichever holds every cell.

    Raises
    ------
    ValueError
        If the file has no header or lacks ``hotspot_id``, ``latitude`` or ``longitude``, or
        a row has a different number of cells than the header.
    """
    path = os.fspath(path)
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    if not rows:
        raise ValueError(f"{path}: empty file, no header")
    header, body = rows[0], rows[1:]
    missing = [key for key in ("hotspot_id", "latitude", "longitude") if key not in header]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(
                f"{path}: line {number} has {len(row)} cells, the header {len(header)}"
            )
    data = {}
    for index, key in enumerate(header):
        column = _parse_column(key, [row[index] for row in body])
        data[key] = ("detection", column, dict(_ATTRS.get(key, {})))
    ds = xr.Dataset(data)
    _check_latitude(ds["latitude"].values, f"{path}: latitude")
    return ds
